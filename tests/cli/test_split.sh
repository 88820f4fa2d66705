#!/usr/bin/env bash
# data.filter and cv.split_column (a fixed train/test split) end to end on small synthetic
# cohorts: the rows each filter leaves out (counted here from the CSV itself), the fixed split's
# folds and predictions (test rows only), its metrics recomputed from predictions.csv, test
# labels that never reach training, multi-class and patch runs, the patient-overlap case, the
# config errors at FILE:LINE:COL, and an imported VinDr-Mammo file used as it is.
# Args: WORKBENCH WEIGHTS_DIR IMPORT_FIXTURES OUT_DIR
set -euo pipefail
wb=$1 weights=$2 fx=$3 out=$4
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"
[ -f "$weights/resnet20-12fca82f.th" ] || { echo "missing $weights/resnet20-12fca82f.th" >&2; exit 1; }
cd "$out"

# column number of NAME in the header of FILE
colno() { head -1 "$2" | tr ',' '\n' | grep -nx "$1" | cut -d: -f1; }

# ---- a binary cohort: 24 patients; the first 16 (in file order) train, the last 8 test ----
"$wb" -q synth --out data --patients 24 --seed 5 --size 160x200 --prevalence 0.5
pc=$(colno patient_id data/labels.csv)
awk -F, -v pc="$pc" 'NR == 1 { print $0 ",split"; next }
  { if (!($pc in p)) p[$pc] = ++n; print $0 "," (p[$pc] <= 16 ? "train" : "test") }' data/labels.csv >data/split.csv
mc=$(colno manufacturer data/split.csv) sc=$(colno split data/split.csv) vc=$(colno view data/split.csv)
lc=$(colno label data/split.csv) uc=$(colno sop_instance_uid data/split.csv)
keep='$'$mc' == "Synthetic Imaging Gamma" || $'$mc' == "Synthetic Imaging Alpha"'
kept=$(awk -F, "NR > 1 && ($keep)" data/split.csv | wc -l)
ntr=$(awk -F, "NR > 1 && ($keep) && \$$sc == \"train\"" data/split.csv | wc -l)
nte=$(awk -F, "NR > 1 && ($keep) && \$$sc == \"test\"" data/split.csv | wc -l)
[ "$kept" -gt 0 ] && [ "$kept" -lt 96 ] && [ "$nte" -gt 0 ] || { echo "the synthetic cohort does not exercise the filter" >&2; exit 1; }
write_config s.yaml name fixed labels data/split.csv size 40x32 variants "baseline frozen" \
  data "filter: {view: [CC, MLO], manufacturer: [Synthetic Imaging Gamma, Synthetic Imaging Alpha]}" \
  train "epochs: 2; batch_size: 8" cv "split_column: split"
expect_exit 0 "$wb" validate s.yaml
expect_grep "^s.yaml: ok: 2 variant\(s\), fixed train/test split \(cv.split_column split\)" "$out/stdout"
expect_grep "^rows: data.filter kept $kept of 96 rows \(view: 0 left out, manufacturer: $((96 - kept)) left out\); fixed split \(cv.split_column split\): $ntr train rows, $nte test rows$" "$out/stdout"
expect_grep "^labels: $kept rows, " "$out/stdout"
expect_exit 0 "$wb" validate s.yaml --print
expect_grep '^  filter: \{"view": \["CC", "MLO"\], "manufacturer": \["Synthetic Imaging Gamma", "Synthetic Imaging Alpha"\]\}$' "$out/stdout"
expect_grep '^  split_column: "split"$' "$out/stdout"
expect_no_grep '^  folds:' "$out/stdout"

expect_exit 0 "$wb" run s.yaml --out runs --timestamp 20260101T000000Z
run=$(cat "$out/stdout")
expect_grep "data: data.filter kept $kept of 96 rows" "$out/stderr"
expect_grep "fixed split \(cv.split_column split\): $ntr images to train on \(20% of their patients validate\), $nte to test once" "$out/stderr"
m=$run/metrics.json
expect_grep "\"row_selection\": \{\"labels_rows\": 96, \"kept_rows\": $kept, \"filter_left_out\": \{\"view\": 0, \"manufacturer\": $((96 - kept))\}, \"split_other_left_out\": 0, \"split_overlap_left_out\": 0\}" "$m"
expect_grep "\"cv\": \{\"folds\": 1, \"repeats\": 1, \"seed\": 3, \"fixed_split\": \{\"column\": \"split\", \"train_values\": \[\"train\", \"training\"\], \"test_values\": \[\"test\"\], \"train_images\": $ntr, \"train_patients\": [0-9]+, \"test_images\": $nte, \"test_patients\": [0-9]+, \"overlap\": \"refuse\", \"overlap_patients\": 0\}\}" "$m"
# folds.csv: the training rows in no test fold (-1), the test rows fold 0
expect_eq "$(tail -n +2 "$run/folds.csv" | cut -d, -f2 | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')" "-1:$ntr 0:$nte " "folds.csv sides"
# predictions.csv: the test rows only, each once per variant, fold 0
expect_eq "$(tail -n +2 "$run/predictions.csv" | wc -l)" $((2 * nte)) "predictions: test rows x variants"
expect_eq "$(tail -n +2 "$run/predictions.csv" | cut -d, -f2 | sort -u)" 0 "predictions: fold 0 only"
# ---- the same split fitted twice (cv.repeats: 2): repeat 0 is the single fit, bit for bit;
# repeat 1 tests the same rows with its own validation patients and training seed ----
{ cat s.yaml; echo "  repeats: 2"; } >s2.yaml
expect_exit 0 "$wb" run s2.yaml --out runs --timestamp 20260101T000000Z
run2=$(cat "$out/stdout")
expect_grep '"cv": \{"folds": 1, "repeats": 2, "seed": 3, "fixed_split": \{"column": "split", ' "$run2/metrics.json"
expect_eq "$(grep '^0,' "$run2/predictions.csv" | md5sum)" "$(grep '^0,' "$run/predictions.csv" | md5sum)" "repeat 0 of two = the single fit"
expect_eq "$(grep '^1,' "$run2/predictions.csv" | cut -d, -f2-4 | sort | md5sum)" "$(grep '^0,' "$run/predictions.csv" | cut -d, -f2-4 | sort | md5sum)" \
  "repeat 1: the same fold, variants and test rows"
expect_eq "$(paste -d, <(grep '^0,[0-9]*,frozen,' "$run2/predictions.csv" | cut -d, -f9) <(grep '^1,[0-9]*,frozen,' "$run2/predictions.csv" | cut -d, -f9) | awk -F, '$1 != $2' | wc -l | awk '{ print ($1 > 0) }')" 1 \
  "repeat 1: the probe refitted on other training patients scores differently"
expect_grep "tested by each fit, .*fitted 2 times on the same split \(a repeat draws its own validation patients and training seed" "$run2/report.md"
expect_eq "$(grep ',baseline,' "$run/predictions.csv" | cut -d, -f4 | sort | md5sum)" \
  "$(awk -F, "NR > 1 && ($keep) && \$$sc == \"test\" { print \$$uc }" data/split.csv | sort | md5sum)" "predictions: exactly the test rows' images"
# the metrics, recomputed from predictions.csv on the test rows: AUC (Mann-Whitney, ties 1/2),
# sensitivity and specificity at the row's threshold; pooled and fold 0 are the same rows
for v in baseline frozen; do
  got=$(grep "^0,pooled,$v,image,auc," "$run/metrics.csv" | cut -d, -f6)
  want=$(awk -F, -v v="$v" '$3 == v { n++; y[n] = $8; s[n] = $9 }
    END { for (i = 1; i <= n; i++) if (y[i] == 1) for (j = 1; j <= n; j++) if (y[j] == 0) { p++; a += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0 }
          printf "%.12f", a / p }' "$run/predictions.csv")
  expect_eq "$(printf '%.12f' "$got")" "$want" "$v: pooled image AUC = AUC of predictions.csv's test rows"
  expect_eq "$(grep "^0,0,$v,image,auc," "$run/metrics.csv" | cut -d, -f6)" "$got" "$v: fold 0 AUC = pooled AUC"
  for q in sensitivity specificity; do
    got=$(grep "^0,pooled,$v,image,$q," "$run/metrics.csv" | cut -d, -f6)
    want=$(awk -F, -v v="$v" -v q="$q" '$3 == v { pos = $9 >= $10; if ($8 == 1) { P++; tp += pos } else { N++; tn += !pos } }
      END { printf "%.12f", q == "sensitivity" ? tp / P : tn / N }' "$run/predictions.csv")
    expect_eq "$(printf '%.12f' "$got")" "$want" "$v: $q at the validation threshold, from predictions.csv"
  done
done
expect_grep '^- \*\*Fixed split:\*\* fixed train/test split from the labels column split instead of cross-validation' "$run/report.md"
expect_grep "$kept of the labels' 96 rows kept \(data.filter left out 0 on view, $((96 - kept)) on manufacturer\)" "$run/report.md"
expect_grep 'Predictions on the test rows of the fixed split' "$run/report.md"
expect_grep "^rows: data.filter kept $kept of 96 rows" "$run/run.log"
expect_grep 'Fixed split</dt>' "$run/report.html"
# table.tex and the figures say what was evaluated: the split's test rows, not out-of-fold predictions
expect_grep "^\\\\caption\{fixed: results on the test rows of the fixed split \(column split; tested on $nte images of [0-9]+ patients, trained on $ntr images of [0-9]+ patients\)\. .*paired DeLong test \(one split, no folds for the .t.-test\)" "$run/table.tex"
expect_no_grep 'out-of-fold' "$run/table.tex"
expect_grep 'ROC curves of the predictions on the test rows of the fixed split' "$run/report.html"
expect_no_grep 'out-of-fold' "$run/report.html"
# the test rows' labels never reach training: flipped, the test scores stay the same bits
awk -F, -v lc="$lc" -v sc="$sc" 'BEGIN { OFS = "," } NR > 1 && $sc == "test" { $lc = $lc == "malignant" ? "normal" : "malignant" } { print }' \
  data/split.csv >data/flipped.csv
sed 's#data/split.csv#data/flipped.csv#' s.yaml >flipped.yaml
expect_exit 0 "$wb" run flipped.yaml --out runs --timestamp 20260101T000001Z
flip=$(cat "$out/stdout")
expect_eq "$(cut -d, -f3,4,9,10 "$flip/predictions.csv" | md5sum)" "$(cut -d, -f3,4,9,10 "$run/predictions.csv" | md5sum)" \
  "test scores and thresholds do not depend on the test labels"
checks=$((checks + 1)); cmp -s "$flip/predictions.csv" "$run/predictions.csv" && { fails=$((fails + 1)); echo "FAIL: the flipped labels are not in predictions.csv" >&2; }
# the same config again: the same bits
expect_exit 0 "$wb" run s.yaml --out runs --timestamp 20260101T000000Z
checks=$((checks + 1)); cmp -s "$(cat "$out/stdout")/metrics.json" "$m" || { fails=$((fails + 1)); echo "FAIL: metrics.json differs between two runs" >&2; }

# ---- other split values, and a patient on both sides ----
awk -F, -v sc="$sc" 'BEGIN { OFS = "," } NR == 6 || NR == 7 { $sc = "val" } { print }' data/split.csv >data/other.csv
sed 's#data/split.csv#data/other.csv#; s#^  filter: .*#  filter: {view: [CC, MLO]}#' s.yaml >other.yaml
expect_exit 0 "$wb" validate other.yaml
expect_grep "^rows: data.filter kept 96 of 96 rows \(view: 0 left out\); fixed split \(cv.split_column split\): [0-9]+ train rows, [0-9]+ test rows, 2 rows with another split value left out$" "$out/stdout"
# patient 1's right breast (lines 4, 5) moved to the test side
awk -F, -v sc="$sc" -v pc="$pc" 'BEGIN { OFS = "," } NR == 2 { p = $pc } NR > 1 && $pc == p && NR >= 4 { $sc = "test" } { print }' \
  data/split.csv >data/overlap.csv
expect_eq "$(awk -F, -v sc="$sc" 'NR >= 2 && NR <= 5 { printf "%s ", $sc }' data/overlap.csv)" "train train test test " "overlap fixture"
sed 's#data/split.csv#data/overlap.csv#; s#^  filter: .*#  filter: {view: [CC, MLO]}#' s.yaml >overlap.yaml
expect_exit 3 "$wb" validate overlap.yaml
expect_grep "data/overlap.csv:4: cv.split_column 'split': 1 patient has rows in both train and test \(e.g. line 2, train, and line 4, test, have the same patient_id\)" "$out/stderr"
expect_no_grep "$(awk -F, -v pc="$pc" 'NR == 2 { print $pc }' data/split.csv)" "$out/stderr"
expect_exit 3 "$wb" run overlap.yaml --out runs
expect_grep "cv.split_overlap: drop_train" "$out/stderr"
{ cat overlap.yaml; echo "  split_overlap: drop_train"; } >drop.yaml
expect_exit 0 "$wb" run drop.yaml --out runs --timestamp 20260101T000002Z
drop=$(cat "$out/stdout")
expect_grep '"split_other_left_out": 0, "split_overlap_left_out": 2\}' "$drop/metrics.json"
expect_grep '"overlap": "drop_train", "overlap_patients": 1\}' "$drop/metrics.json"
expect_eq "$(tail -n +2 "$drop/manifest.csv" | wc -l)" 94 "drop_train: the patient's 2 training images left out"
# a side without a class: every patient with a malignant image trains, the others test
awk -F, -v sc="$sc" -v pc="$pc" -v lc="$lc" 'BEGIN { OFS = "," } NR == FNR { if ($lc == "malignant") m[$pc] = 1; next }
  FNR > 1 { $sc = ($pc in m) ? "train" : "test" } { print }' data/split.csv data/split.csv >data/noclass.csv
sed 's#data/split.csv#data/noclass.csv#; s#^  filter: .*#  filter: {view: [CC, MLO]}#' s.yaml >noclass.yaml
expect_exit 3 "$wb" run noclass.yaml --out runs
expect_grep "cv.split_column 'split': the test rows have no usable image of class 'positive' \(data.positive\); each side of a fixed split needs every class" "$out/stderr"
# a filter that keeps nothing
sed 's#^  filter: .*#  filter: {view: [XCC]}#' s.yaml >none.yaml
expect_exit 3 "$wb" validate none.yaml
expect_grep "data/split.csv: no row is left: data.filter kept 0 of 96 rows \(view: 96 left out\)" "$out/stderr"

# ---- config errors at FILE:LINE:COL ----
sed 's#view: \[CC, MLO\]#vieww: [CC]#' s.yaml >e1.yaml
expect_exit 2 "$wb" validate e1.yaml
expect_grep "^workbench: error: e1.yaml:7:12: data.filter: .*data/split.csv: no column 'vieww' \(the header has: file, " "$out/stderr"
expect_exit 2 "$wb" run e1.yaml --out runs
expect_grep "e1.yaml:7:12: data.filter: .*no column 'vieww'" "$out/stderr"
sed 's#split_column: split#split_column: fold#' s.yaml >e2.yaml
expect_exit 2 "$wb" validate e2.yaml
expect_grep "e2.yaml:23:17: cv.split_column: .*no column 'fold'" "$out/stderr"
{ cat s.yaml; echo "  folds: 3"; } >e3.yaml
expect_exit 2 "$wb" validate e3.yaml
expect_grep "e3.yaml:24:10: cv.folds: not used with cv.split_column" "$out/stderr"
{ cat s.yaml; echo "  repeats: 0"; } >e4.yaml
expect_exit 2 "$wb" validate e4.yaml
expect_grep "e4.yaml:24:12: cv.repeats: " "$out/stderr"
sed 's#split_column: split#split_test: [test]#' s.yaml >e5.yaml
expect_exit 2 "$wb" validate e5.yaml
expect_grep "e5.yaml:23:15: cv.split_test: applies only with cv.split_column" "$out/stderr"
{ cat s.yaml; echo "  split_train: [train, test]"; } >e6.yaml
expect_exit 2 "$wb" validate e6.yaml
expect_grep "e6.yaml:24:16: cv.split_train: 'test' is both a train and a test value" "$out/stderr"
sed 's#^  filter: .*#  filter: CC#' s.yaml >e7.yaml
expect_exit 2 "$wb" validate e7.yaml
expect_grep "e7.yaml:7:11: data.filter: expected a mapping such as \{view: \[CC, MLO\], site_id: \[1\]\}, got 'CC'" "$out/stderr"
sed 's#^  filter: .*#  filter: {view: [CC], view: [MLO]}#' s.yaml >e8.yaml
expect_exit 2 "$wb" validate e8.yaml
expect_grep "e8.yaml:7:24: data.filter: column 'view' is listed twice \(first at line 7\)" "$out/stderr"
sed 's#^  filter: .*#  filter: {view: []}#' s.yaml >e9.yaml
expect_exit 2 "$wb" validate e9.yaml
expect_grep "e9.yaml:7:18: data.filter: column 'view': no values" "$out/stderr"
sed 's#^  filter: .*#  filter: {view: [CC, CC]}#' s.yaml >e10.yaml
expect_exit 2 "$wb" validate e10.yaml
expect_grep "e10.yaml:7:23: data.filter: column 'view': 'CC' is listed twice" "$out/stderr"
expect_exit 2 "$wb" validate s.yaml --set data.filter=x
expect_grep "data.filter: is a mapping \(column: \[values\]\), which --set cannot give" "$out/stderr"

# ---- multi-class: a fixed split, metrics of the test rows ----
"$wb" -q synth --out mcdata --patients 30 --seed 5 --size 160x200 --prevalence 0.35 --benign-rate 0.35
awk -F, -v pc="$pc" 'NR == 1 { print $0 ",split"; next }
  { if (!($pc in p)) p[$pc] = ++n; print $0 "," (p[$pc] <= 18 ? "training" : "test") }' mcdata/labels.csv >mcdata/split.csv
mte=$(awk -F, -v sc="$sc" 'NR > 1 && $sc == "test"' mcdata/split.csv | wc -l)
sed 's#data/split.csv#mcdata/split.csv#; s#dicom_dir: data#dicom_dir: mcdata#; s#^  filter: .*#  classes: [normal, benign, malignant]#; s#name: fixed#name: mcfixed#' \
  s.yaml >mc.yaml
expect_exit 0 "$wb" run mc.yaml --out runs --timestamp 20260101T000000Z
mrun=$(cat "$out/stdout")
expect_grep "\"fixed_split\": \{\"column\": \"split\", \"train_values\": \[\"train\", \"training\"\], \"test_values\": \[\"test\"\], \"train_images\": $((120 - mte)), \"train_patients\": 18, \"test_images\": $mte, \"test_patients\": 12" "$mrun/metrics.json"
expect_eq "$(tail -n +2 "$mrun/predictions.csv" | wc -l)" $((2 * mte)) "multi-class predictions: test rows x variants"
expect_grep "results on the test rows of the fixed split \(column split; tested on $mte images of 12 patients.*no .p.: one split, no folds for the .t.-test" "$mrun/table.tex"
for v in baseline frozen; do
  got=$(grep "^0,pooled,$v,image,accuracy," "$mrun/metrics.csv" | cut -d, -f6)
  want=$(awk -F, -v v="$v" '$3 == v { n++; k += $8 == $12 } END { printf "%.12f", k / n }' "$mrun/predictions.csv")
  expect_eq "$(printf '%.12f' "$got")" "$want" "$v: multi-class accuracy = share of test rows predicted right"
done

# ---- patch: a fixed split over lesion and background patches, whole images of the test side ----
write_config p.yaml name pfixed labels data/split.csv variants "baseline frozen" \
  data "task: patch; patch:;   box: {x: bbox_x, y: bbox_y, w: bbox_w, h: bbox_h};   size: 32; filter: {view: [CC]}" \
  train "epochs: 2; batch_size: 8" cv "split_column: split"
pte=$(awk -F, -v sc="$sc" -v vc="$vc" 'NR > 1 && $vc == "CC" && $sc == "test"' data/split.csv | wc -l)
expect_exit 0 "$wb" run p.yaml --out runs --timestamp 20260101T000000Z
prun=$(cat "$out/stdout")
expect_grep '"fixed_split": \{"column": "split", .*"train_patches": [0-9]+, "train_patients": 16, "test_patches": [0-9]+, "test_patients": 8' "$prun/metrics.json"
expect_grep "\"whole_image\": \{\"images\": 48, \"scored\": $pte," "$prun/metrics.json"
expect_eq "$(tail -n +2 "$prun/predictions_image.csv" | cut -d, -f2 | sort -u)" 0 "patch: whole-image scores of the test side only"
expect_eq "$(tail -n +2 "$prun/predictions_image.csv" | wc -l)" $((2 * pte)) "patch: test images x variants"
expect_eq "$(tail -n +2 "$prun/predictions.csv" | cut -d, -f2 | sort -u)" 0 "patch: patch predictions of the test side only"

# ---- an imported VinDr-Mammo file, as it is ----
mkdir -p vindr; cp "$fx/vindr/"*.csv vindr/
expect_exit 0 "$wb" import vindr vindr --out vindr.csv --keep-missing
cat >v.yaml <<YAML
name: vindr
data:
  dicom_dir: vindr
  labels: vindr.csv
  filter: {view: [CC]}
backbone:
  arch: resnet20
variants:
  - name: baseline
    type: baseline
cv:
  split_column: split
YAML
expect_exit 0 "$wb" validate v.yaml
expect_grep "^rows: data.filter kept 4 of 8 rows \(view: 4 left out\); fixed split \(cv.split_column split\): 2 train rows, 2 test rows$" "$out/stdout"
finish
