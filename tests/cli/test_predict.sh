#!/usr/bin/env bash
# workbench bundle + predict (issue 17, part 3): a run on one synthetic cohort (disk lesions,
# train.save_weights, 3 folds, a ResNet-20 probe), its bundle, applied to a second cohort made
# with another seed, another image size and another transfer-syntax mix. Checks:
#   - the bundle: 3 fold networks byte-equal to the run's repeat-0 models, thresholds.csv equal
#     to predictions.csv's per-fold thresholds, manifest.json's SHA-256s of every file
#   - predictions.csv: the score is the mean of the score_f<F> columns (awk), the threshold the
#     mean of thresholds.csv, the decision score >= threshold
#   - metrics.json: its AUC equals the Mann-Whitney AUC recomputed from predictions.csv (awk;
#     the same awk function first reproduces scikit-learn's roc_auc_score on a committed fixture,
#     tests/cli/data/auc_fixture.*, made by make_auc_fixture.py), its sensitivity and
#     specificity the counts of the decision column; titled as an external validation of the run
#   - the same cohort given as a config's data section gives the same predictions.csv
#   - refused: a flipped byte in a bundle file (3, naming it), a missing bundle file (3), the
#     baseline or an unknown variant (2), a run without saved networks (3, train.save_weights),
#     an existing --out (2), a cohort whose images cannot be read at all (3), a failed write (4,
#     nothing left behind)
# Usage: test_predict.sh WORKBENCH WEIGHTS_DIR FIXTURE_DIR OUT_DIR
set -euo pipefail
wb=$1 weights=$2 fixdir=$3 out=$4
source "$(dirname "$0")/lib.sh"
[ -f "$weights/resnet20-12fca82f.th" ] || { echo "missing $weights/resnet20-12fca82f.th (see ../shared/weights/README.md)" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out"
"$wb" -q synth --out "$out/train" --patients 16 --seed 11 --size 96x120 --difficulty 0 --lesion disk --prevalence 0.5 --benign-rate 0
"$wb" -q synth --out "$out/ext" --patients 10 --seed 29 --size 112x128 --difficulty 0 --lesion disk --prevalence 0.5 \
  --benign-rate 0.2 --transfer-syntax rle,jpeg_ls
cat >"$out/t.yaml" <<YAML
name: src
seed: 3
threads: 2
data:
  dicom_dir: train
  labels: train/labels.csv
preprocess:
  height: 32
  width: 32
backbone:
  arch: resnet20
  weights: $weights/resnet20-12fca82f.th
  in_channels: 1
variants:
  - name: baseline
    type: baseline
  - name: probe
    type: backbone
    unfreeze: none
train:
  save_weights: true
cv:
  folds: 3
YAML
expect_exit 0 "$wb" -q run "$out/t.yaml" --out "$out/runs" --registry none
run=$(ls -d "$out"/runs/src-*)
b=$out/bundle
expect_exit 0 "$wb" bundle "$run" --variant probe --out "$b"
expect_grep 'bundle: variant probe \(resnet20\) of src-.*: the 3 fold networks of repeat 0' "$out/stderr"
for f in 0 1 2; do
  expect_exit 0 cmp "$run/models/r0_f${f}_probe.safetensors" "$b/models/f$f.safetensors"
done
expect_eq "$(awk -F, 'NR > 1 && $1 == 0 && $3 == "probe" { t[$2] = $10 } END { for (f = 0; f < 3; f++) print f "," t[f] }' "$run/predictions.csv")" \
  "$(tail -n +2 "$b/thresholds.csv")" "thresholds.csv holds predictions.csv's fold thresholds"
sums=$(grep -o '"path": "[^"]*", "sha256": "[0-9a-f]*"' "$b/manifest.json" | sed -E 's/"path": "([^"]*)", "sha256": "([0-9a-f]*)"/\2  \1/')
expect_eq "$(printf '%s\n' "$sums" | wc -l)" 5 "manifest lists 3 networks, config.yaml, thresholds.csv"
expect_exit 0 bash -c "cd '$b' && sha256sum -c --quiet <<<'$sums'"
expect_grep '"input_convention": "unit: \[0, 1\] \(no pretrained weights\)"|"input_convention": ".*"' "$b/manifest.json"
expect_grep "\"source_run\": \"$(basename "$run")\"" "$b/manifest.json"
expect_eq "$(ls "$out" | grep -c 'bundle.tmp' || true)" 0 "no temporary bundle directory left"

# predict on the second cohort
expect_exit 0 "$wb" predict "$b" "$out/ext/labels.csv" --out "$out/p"
expect_grep 'predict: 40 image\(s\) \([0-9]+ positive, 0 excluded\), probe of src-.*, mean of 3 folds; AUC' "$out/stderr"
p=$out/p/predictions.csv
expect_eq "$(head -1 "$p")" "file,sop_instance_uid,patient,laterality,view,label,score,score_f0,score_f1,score_f2,threshold,decision" "predictions.csv header"
expect_eq "$(awk 'END { print NR - 1 }' "$p")" 40 "one row per image"
expect_eq "$(awk -F, 'NR > 1 { d = $7 - ($8 + $9 + $10) / 3; if (d < 0) d = -d; if (d > 1e-12) bad++ } END { print bad + 0 }' "$p")" 0 \
  "the ensemble score is the mean of the fold scores"
expect_eq "$(awk -F, 'NR > 1 && $8 == $9 && $9 == $10' "$p" | wc -l)" 0 "the folds' networks differ"
thr=$(awk -F, 'NR > 1 { s += $2; n++ } END { printf "%.12f", s / n }' "$b/thresholds.csv")
expect_eq "$(awk -F, -v t="$thr" 'NR > 1 { d = $11 - t; if (d < 0) d = -d; if (d > 1e-12 || $12 != ($7 >= $11 ? 1 : 0)) bad++ } END { print bad + 0 }' "$p")" 0 \
  "threshold: the mean of the folds'; decision: score >= threshold"
expect_eq "$(cut -d, -f1,3 "$p" | grep -c 'SYN' || true)" 0 "no patient ID, pseudonyms only"
# the Mann-Whitney AUC (exact, ties counted half): first against scikit-learn on the fixture
mw_auc() { # FILE LABEL_COL SCORE_COL
  awk -F, -v lc="$2" -v sc="$3" 'NR > 1 { n++; y[n] = $lc; s[n] = $sc + 0 }
    END { for (i = 1; i <= n; i++) if (y[i] == 1) for (j = 1; j <= n; j++) if (y[j] == 0) {
            np++; u += (s[i] > s[j]) ? 1 : (s[i] == s[j]) ? 0.5 : 0 }
          npos = 0; for (i = 1; i <= n; i++) npos += y[i] == 1
          printf "%.15f", u / (npos * (n - npos)) }' "$1"
}
expect_eq "$(mw_auc "$fixdir/auc_fixture.csv" 1 2)" "$(awk '{ printf "%.15f", $1 }' "$fixdir/auc_fixture.txt")" "awk AUC = scikit-learn's on the fixture"
auc=$(mw_auc "$p" 6 7)
echo "external AUC (Mann-Whitney from predictions.csv): $auc"
m=$out/p/metrics.json
expect_eq "$(grep -o '"auc": [-0-9.e]*' "$m" | awk '{ printf "%.15f", $2 }')" "$auc" "metrics.json's AUC = predictions.csv's"
sens=$(awk -F, 'NR > 1 && $6 == 1 { n++; k += $12 } END { printf "%.15f", k / n }' "$p")
spec=$(awk -F, 'NR > 1 && $6 == 0 { n++; k += 1 - $12 } END { printf "%.15f", k / n }' "$p")
expect_eq "$(grep -o '"sensitivity": [-0-9.e]*' "$m" | awk '{ printf "%.15f", $2 }')" "$sens" "sensitivity at the threshold"
expect_eq "$(grep -o '"specificity": [-0-9.e]*' "$m" | awk '{ printf "%.15f", $2 }')" "$spec" "specificity at the threshold"
expect_grep "\"title\": \"External validation of $(basename "$run") \(variant probe" "$m"
expect_grep '"auc_ci_low": [0-9.]+' "$m"
# the cohort as a config's data section: the same rows
# (a complete config, as `workbench run` takes it: here the training config pointed at the
# second cohort, with other preprocessing that predict must ignore)
sed -e 's/^name: src/name: ext/' -e 's#train/#ext/#; s#dicom_dir: train#dicom_dir: ext#' -e 's/height: 32/height: 64/' \
  "$out/t.yaml" >"$out/ext.yaml"
expect_exit 0 "$wb" predict "$b" "$out/ext.yaml" --out "$out/p2"
expect_exit 0 cmp "$p" "$out/p2/predictions.csv"

# refusals
cp -r "$b" "$out/tampered"
printf '\x01' | dd of="$out/tampered/models/f1.safetensors" bs=1 seek=200 conv=notrunc status=none
cmp -s "$b/models/f1.safetensors" "$out/tampered/models/f1.safetensors" && { echo "FAIL: the byte was not changed" >&2; exit 1; }
expect_exit 3 "$wb" predict "$out/tampered" "$out/ext/labels.csv" --out "$out/bad1"
expect_grep 'tampered/models/f1.safetensors: SHA-256 [0-9a-f]{64} differs from the manifest' "$out/stderr"
expect_exit 1 test -e "$out/bad1/predictions.csv"
cp -r "$b" "$out/missing" && rm "$out/missing/thresholds.csv"
expect_exit 3 "$wb" predict "$out/missing" "$out/ext/labels.csv" --out "$out/bad2"
expect_grep 'missing/thresholds.csv: a file of the bundle.s manifest is missing' "$out/stderr"
cp -r "$b" "$out/cfgchanged" && sed -i 's/height: 32/height: 48/' "$out/cfgchanged/config.yaml"
expect_exit 3 "$wb" predict "$out/cfgchanged" "$out/ext/labels.csv" --out "$out/bad3"
expect_grep 'cfgchanged/config.yaml: SHA-256' "$out/stderr"
expect_exit 2 "$wb" bundle "$run" --variant baseline --out "$out/b2"
expect_grep "baseline.*no network to bundle" "$out/stderr"
expect_exit 2 "$wb" bundle "$run" --variant nope --out "$out/b2"
expect_grep "no variant 'nope' \(backbone variants: probe\)" "$out/stderr"
expect_exit 2 "$wb" bundle "$run" --out "$b"
expect_grep 'exists already' "$out/stderr"
cp -r "$run" "$out/noweights" && rm -rf "$out/noweights/models"
expect_exit 3 "$wb" bundle "$out/noweights" --out "$out/b3"
expect_grep 'models/r0_f0_probe.safetensors.*train.save_weights' "$out/stderr"
expect_exit 1 test -e "$out/b3"
# a failed write (WB_FAULT_WRITE, io/io_fs.h: operation 3 is the first network's temporary file):
# exit 4 naming it, neither the bundle nor its temporary directory left
expect_exit 4 env WB_FAULT_WRITE=3 "$wb" bundle "$run" --out "$out/b4"
expect_grep 'b4.tmp.[0-9]+@[A-Za-z0-9._-]+/models/f0.safetensors' "$out/stderr"
expect_eq "$(ls "$out" | grep -c '^b4' || true)" 0 "no bundle and no temporary directory after a failed write"
mkdir -p "$out/junk" && printf 'not an image' >"$out/junk/x.dcm"
printf 'file,patient_id,label\nx.dcm,P1,malignant\n' >"$out/junk/labels.csv"
expect_exit 3 "$wb" predict "$b" "$out/junk/labels.csv" --out "$out/bad4"
expect_grep 'junk/labels.csv: no usable image \(1 excluded\)' "$out/stderr"
expect_exit 2 "$wb" predict "$b" --out "$out/bad5"
finish
