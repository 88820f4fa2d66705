#!/usr/bin/env bash
# workbench run with multi-class labels (data.classes) end to end on a small synthetic cohort
# (24 patients, normal / benign / malignant): the files and their columns, byte-for-byte
# reproducibility, the baseline's numbers against the committed run whose every metric
# experiments.multiclass checks against scikit-learn, the reports, the registry, and the bad
# data that data.classes makes possible. Args: WORKBENCH WEIGHTS_DIR FIXTURE_RUN OUT_DIR
set -euo pipefail
wb=$1 weights=$2 fixture=$3 out=$4
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"
[ -f "$weights/resnet20-12fca82f.th" ] || { echo "missing $weights/resnet20-12fca82f.th" >&2; exit 1; }
# the cohort and config of tests/report/data/fixture-run-mc (made by this command and config)
"$wb" -q synth --out "$out/data" --patients 24 --seed 5 --size 160x200 --prevalence 0.35 --benign-rate 0.35
cat >"$out/mc.yaml" <<YAML
name: mc
seed: 3
threads: 2
data:
  dicom_dir: data
  labels: data/labels.csv
  classes: [normal, benign, malignant]
preprocess:
  height: 40
  width: 32
backbone:
  arch: resnet20
  weights: $weights/resnet20-12fca82f.th
variants:
  - name: baseline
    type: baseline
  - name: frozen
    type: backbone
  - name: last
    type: backbone
    unfreeze: [layer3]
train:
  epochs: 2
  batch_size: 8
cv:
  folds: 3
YAML
expect_exit 0 "$wb" run "$out/mc.yaml" --out "$out/runs" --timestamp 20260101T000000Z
run=$(cat "$out/stdout")
expect_grep 'fold 3/3 last: epoch 2/2 loss [0-9.]+ val AUC [0-9.]+' "$out/stderr"
for f in config.yaml manifest.csv folds.csv curves.csv predictions.csv metrics.json metrics.csv timing.csv report.html report.md table.tex; do
  checks=$((checks + 1)); [ -s "$run/$f" ] || { fails=$((fails + 1)); echo "FAIL: $f missing or empty" >&2; }
done
expect_grep '^  classes: \[normal, benign, malignant\]$' "$run/config.yaml"
expect_no_grep 'positive:' "$run/config.yaml"
# predictions.csv: a probability per class (summing to 1) and the most probable class
expect_eq "$(head -1 "$run/predictions.csv")" "repeat,fold,variant,sop_instance_uid,patient,laterality,view,label,score_normal,score_benign,score_malignant,predicted" "predictions header"
expect_eq "$(tail -n +2 "$run/predictions.csv" | wc -l)" $((96 * 3)) "one prediction per image and variant"
expect_eq "$(tail -n +2 "$run/predictions.csv" | awk -F, '
  NF != 12 || $8 !~ /^(normal|benign|malignant)$/ || $12 !~ /^(normal|benign|malignant)$/ { bad++ }
  { s = $9 + $10 + $11; if (s < 1 - 1e-9 || s > 1 + 1e-9) bad++
    m = $9; p = "normal"; if ($10 > m) { m = $10; p = "benign" } if ($11 > m) p = "malignant"; if (p != $12) bad++ }
  END { print bad + 0 }')" 0 "rows: 12 fields, class names, probabilities summing to 1, predicted = argmax"
expect_eq "$(tail -n +2 "$run/manifest.csv" | cut -d, -f4 | sort -u | paste -sd' ')" "benign malignant normal" "manifest labels are class names"
# metrics.json: the multi-class members, no binary-only ones
expect_grep '^  "classes": \["normal", "benign", "malignant"\],$' "$run/metrics.json"
expect_grep '"data": \{"images": 96, "patients": 24, "class_images": \{"normal": [0-9]+, "benign": [0-9]+, "malignant": [0-9]+\}, "excluded": 0\}' "$run/metrics.json"
expect_grep '"image": \{"auc": [0-9.]+, "auc_ovr_normal": [0-9.]+, "auc_ovr_benign": [0-9.]+, "auc_ovr_malignant": [0-9.]+, "accuracy": [0-9.]+, "balanced_accuracy": [0-9.]+, "f1_macro": [0-9.]+, "log_loss": [0-9.]+, "n": 96, "n_class_normal"' "$run/metrics.json"
expect_grep '"vs_reference": \{"delta_auc": -?[0-9.]+, "ttest_mean_diff": -?[0-9.]+, "ttest_t": -?[0-9.]+, "ttest_p": [0-9.]+\}' "$run/metrics.json"
expect_no_grep 'auc_ci_low|delong|sensitivity|brier' "$run/metrics.json"
expect_grep '^0,pooled,last,breast,auc_ovr_malignant,[0-9.]+,,$' "$run/metrics.csv"
expect_grep '^0,2,baseline,image,log_loss,[0-9.]+,,$' "$run/metrics.csv"
# the baseline (double precision throughout, no BLAS) gives the committed run's numbers, which
# experiments.multiclass checks one by one against scikit-learn on that run's predictions
# (the patient pseudonyms differ: each runs directory has its own key; that also orders the
# breasts, so a breast-level sum may differ in the last bit)
expect_eq "$(grep ',baseline,' "$run/predictions.csv" | cut -d, -f1-4,6- | md5sum)" \
  "$(grep ',baseline,' "$fixture/predictions.csv" | cut -d, -f1-4,6- | md5sum)" "baseline rows of predictions.csv equal the committed run's"
expect_eq "$(join -t'|' <(grep ',baseline,' "$run/metrics.csv" | sed 's/^\(\([^,]*,\)\{4\}[^,]*\),/\1|/' | sort) \
                        <(grep ',baseline,' "$fixture/metrics.csv" | sed 's/^\(\([^,]*,\)\{4\}[^,]*\),/\1|/' | sort) |
  awk -F'|' '{ split($2, a, ","); split($3, b, ","); n++
               if (a[1] == "null" || b[1] == "null") { if (a[1] != b[1]) bad++; next }
               d = a[1] - b[1]; if (d < 0) d = -d; m = b[1] < 0 ? -b[1] : b[1]; if (d > 1e-12 * (m > 1 ? m : 1)) bad++ }
             END { print n + 0, bad + 0 }')" "96 0" "baseline numbers of metrics.csv equal the committed run's (to 1e-12)"
expect_eq "$(head -1 "$run/metrics.csv")" "$(head -1 "$fixture/metrics.csv")" "metrics.csv header"
# the baseline's wall time includes its radiomic features
expect_eq "$(awk -F, '$3 == "baseline" && $4 > 0 { k++ } END { print k + 0 }' "$run/timing.csv")" 3 "baseline seconds > 0 in every fold"
# the reports: per-class table, no binary plots, regenerated byte-identically
expect_grep '^## One-vs-rest AUC per class, breast level$' "$run/report.md"
expect_grep '^\| Variant \| Trainable params \| Macro AUC \(one-vs-rest\) \|' "$run/report.md"
expect_grep 'drawn for binary labels only' "$run/report.html"
expect_no_grep 'id="roc"' "$run/report.html"
for f in report.html report.md table.tex; do cp "$run/$f" "$out/$f.first"; done
expect_exit 0 "$wb" report "$run"
for f in report.html report.md table.tex; do
  checks=$((checks + 1)); cmp -s "$run/$f" "$out/$f.first" || { fails=$((fails + 1)); echo "FAIL: regenerated $f differs" >&2; }
done
# reproducibility: the same config again gives byte-identical results
expect_exit 0 "$wb" run "$out/mc.yaml" --out "$out/runs" --timestamp 20260101T000000Z
run2=$(cat "$out/stdout")
expect_eq "$(basename "$run2")" "$(basename "$run")-2" "second run directory"
for f in metrics.json predictions.csv metrics.csv folds.csv manifest.csv; do
  checks=$((checks + 1)); cmp -s "$run/$f" "$run2/$f" || { fails=$((fails + 1)); echo "FAIL: $f differs between two runs" >&2; }
done
# the registry holds the multi-class numbers; compare shows them side by side
expect_exit 0 "$wb" runs show "$(basename "$run")" --out "$out/runs"
expect_grep '^VARIANT +REPEAT +LEVEL +PARAMS +AUC +dAUC +p t-test +acc +bal. acc +macro F1 +log loss$' "$out/stdout"
expect_grep '^last +1 +breast +203715 +[0-9.]+ +[-+]?[0-9.]+ ' "$out/stdout"
expect_exit 0 "$wb" runs compare "$(basename "$run")" "$(basename "$run2")" --out "$out/runs"
expect_grep '^baseline +image +AUC ' "$out/stdout"
expect_grep '^frozen +breast +macro F1 ' "$out/stdout"
expect_grep 'config differences: none' "$out/stdout"

# bad data: a label outside data.classes is excluded (skip) or stops the run (fail, exit 3)
{ cat "$out/data/labels.csv"; grep ',normal,' "$out/data/labels.csv" | tail -1 | sed 's/,normal,/,atypical,/'; } >"$out/data/bad.csv"
line=$(wc -l <"$out/data/bad.csv")
sed -e 's/labels: data\/labels.csv/labels: data\/bad.csv/' -e '/^  - name: frozen/,$d' "$out/mc.yaml" >"$out/bad.yaml"
expect_exit 0 "$wb" run "$out/bad.yaml" --out "$out/runs"
expect_grep ":$line: label 'atypical' is not one of data.classes \[normal, benign, malignant\]" "$(cat "$out/stdout")/excluded.csv"
expect_grep '"excluded": 1' "$(cat "$out/stdout")/metrics.json"
expect_exit 3 "$wb" run "$out/bad.yaml" --out "$out/runs" --set data.on_error=fail
expect_grep "bad.csv:$line: label 'atypical' is not one of data.classes \[normal, benign, malignant\] \(data.on_error is fail\)" "$out/stderr"
# two classes: a binary run (the second class positive), other label values excluded
expect_exit 0 "$wb" run "$out/bad.yaml" --out "$out/runs" --set 'data.classes=[normal,malignant]'
k2=$(cat "$out/stdout")
expect_eq "$(head -1 "$k2/predictions.csv")" "repeat,fold,variant,sop_instance_uid,patient,laterality,view,label,score,threshold" "two classes: binary predictions"
expect_grep 'positive images \(label = malignant; ' "$k2/report.md"
expect_grep "label 'benign' is not one of data.classes \[normal, malignant\]" "$k2/excluded.csv"
# a listed class without images
expect_exit 3 "$wb" run "$out/mc.yaml" --out "$out/runs" --set 'data.classes=[normal,benign,malignant,atypical]'
expect_grep "labels.csv: no usable image of class 'atypical' \(data.classes\[3\]\)" "$out/stderr"
finish
