#!/usr/bin/env bash
# workbench bundle + predict of a patch run (data.task: patch; issue 17 for the demo's kind of
# run): a 3-fold patch run (disk lesions, ResNet-20 probe, radiomics reference,
# train.save_weights), its bundle, applied to a second cohort (another seed, size, transfer
# syntaxes and manufacturer mix, fainter lesions). Checks:
#   - the bundle: the fold networks and baselines byte-equal to the run's, manifest.json's task
#     "patch" and patch settings (size, jitter, box columns, background sampling, seed), and
#     `sha256sum -c` of its files
#   - predictions.csv: one row per patch (a lesion patch per box row, 2 background patches per
#     negative image without a box), every square inside its image and of the bundle's size (or
#     larger for a larger box); the score is the mean of score_f<F> (1e-12), the threshold the
#     mean of thresholds.csv, decision score >= threshold; the same for the reference
#   - "cut exactly as the run did": applied to the training cohort, every patch has the run's
#     patch id and square (patches.csv), and the fold column of the fold that held it out holds
#     the run's out-of-fold score (the baseline bit for bit, the network too)
#   - metrics.json (patch level) against predictions.csv: AUC (Mann-Whitney), Brier, ECE of
#     both ensembles and the paired DeLong test recomputed with awk, whose functions first
#     reproduce scikit-learn / numpy on the committed fixture (tests/cli/data/external_fixture.*);
#     sensitivity and specificity from the decision columns
#   - report.md / report.html: patch level, the cohort's patch counts, well-formed XML
#   - refused: a flipped byte in a fold network (3), a cohort config cutting other patches (2,
#     naming data.patch.size at its line), an unlabeled cohort (2), a manifest whose patch
#     settings disagree with its config (3, by hash first)
# Usage: test_predict_patch.sh WORKBENCH WEIGHTS_DIR FIXTURE_DIR OUT_DIR
set -euo pipefail
wb=$1 weights=$2 fixdir=$3 out=$4
source "$(dirname "$0")/lib.sh"
[ -f "$weights/resnet20-12fca82f.th" ] || { echo "missing $weights/resnet20-12fca82f.th (see ../shared/weights/README.md)" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out"
"$wb" -q synth --out "$out/train" --patients 16 --seed 11 --size 160x200 --difficulty 0 --lesion disk --prevalence 0.5 --benign-rate 0.3
"$wb" -q synth --out "$out/ext" --patients 8 --seed 29 --size 144x176 --difficulty 0.8 --lesion disk --prevalence 0.5 \
  --benign-rate 0.4 --transfer-syntax rle,jpeg_ls
write_config "$out/p.yaml" name psrc dir train preprocess "keep_aspect: false" backbone "in_channels: 1" \
  data "task: patch; patch:;   box: {x: bbox_x, y: bbox_y, w: bbox_w, h: bbox_h};   size: 80;   jitter: 16;   background: 2;   stride: 40" \
  train "save_weights: true" cv "folds: 3" tail "metrics:;   reference: baseline"
expect_exit 0 "$wb" -q run "$out/p.yaml" --out "$out/runs" --registry none
run=$(ls -d "$out"/runs/psrc-*)
b=$out/bundle
expect_exit 0 "$wb" bundle "$run" --variant probe --out "$b"
expect_grep 'bundle: variant probe \(resnet20\) of psrc-.*: the 3 fold patch networks of repeat 0.*; reference baseline: its 3 fitted fold baselines' "$out/stderr"
for f in 0 1 2; do
  expect_exit 0 cmp "$run/models/r0_f${f}_probe.safetensors" "$b/models/f$f.safetensors"
  expect_exit 0 cmp "$run/models/r0_f${f}_baseline.baseline.json" "$b/reference/f$f.json"
done
expect_grep '"task": "patch",' "$b/manifest.json"
expect_grep '"unit": "patch",' "$b/manifest.json"
expect_grep '"patch": \{"unit": "px", "size": 80, "jitter": 16, "box_margin": 0.10000000000000001, "background": 2, "min_tissue": 0.5, "stride": 40, "box": "x=bbox_x,y=bbox_y,w=bbox_w,h=bbox_h,y_origin=top", "seed": 3, ' "$b/manifest.json"
expect_grep '"negatives": "background patches: ' "$b/manifest.json"
sums=$(grep -o '"path": "[^"]*", "sha256": "[0-9a-f]*"' "$b/manifest.json" | sed -E 's/"path": "([^"]*)", "sha256": "([0-9a-f]*)"/\2  \1/')
expect_eq "$(printf '%s\n' "$sums" | wc -l)" 10 "manifest lists 3 networks, config.yaml, thresholds.csv, 3 baselines, their thresholds, the pretrained weights"
expect_exit 0 bash -c "cd '$b' && sha256sum -c --quiet <<<'$sums'"

# --- predict on the second cohort ---
checks=$((checks + 1))
if [ "$(cut -d, -f13 "$out/train/labels.csv" | sort | uniq -c)" = "$(cut -d, -f13 "$out/ext/labels.csv" | sort | uniq -c)" ]; then
  fails=$((fails + 1)); echo "FAIL: the two cohorts have the same manufacturer mix" >&2
fi
expect_exit 0 "$wb" predict "$b" "$out/ext/labels.csv" --out "$out/p" --registry none
p=$out/p/predictions.csv
boxes=$(awk -F, 'NR > 1 && $8 != ""' "$out/ext/labels.csv" | wc -l)
negimg=$(awk -F, 'NR > 1 && $8 == "" && $6 != "malignant"' "$out/ext/labels.csv" | wc -l)
npos=$(awk -F, 'NR > 1 && $8 != "" && $6 == "malignant"' "$out/ext/labels.csv" | wc -l)
expect_grep "predict: $((boxes + 2 * negimg)) patch\(es\) \($npos positive; $boxes lesion, $((2 * negimg)) background\) from [0-9]+ image\(s\), 0 excluded, probe of psrc-.*, mean of 3 folds; AUC 0\.[0-9]+ .*; reference baseline AUC 0\.[0-9]+, paired DeLong dAUC [-+]0\.[0-9]+, p [0-9.e-]+$" "$out/stderr"
expect_eq "$(head -1 "$p")" "file,patch,patient,laterality,view,kind,row,col,side,label,score,score_f0,score_f1,score_f2,threshold,decision,reference_score,reference_score_f0,reference_score_f1,reference_score_f2,reference_threshold,reference_decision" "predictions.csv header"
expect_eq "$(grep -c ',lesion,' "$p")" "$boxes" "one lesion patch per box row"
expect_eq "$(grep -c ',background,' "$p")" "$((2 * negimg))" "two background patches per negative image without a box"
expect_eq "$(awk -F, 'NR > 1 && ($6 == "background") != ($2 ~ /\/B[0-9]+$/)' "$p" | wc -l)" 0 "patch ids: /L<k> lesion, /B<k> background"
expect_eq "$(awk -F, 'NR > 1 && ($7 < 0 || $8 < 0 || $7 + $9 > 176 || $8 + $9 > 144 || $9 < 80 || ($6 == "background" && $9 != 80))' "$p" | wc -l)" 0 \
  "squares inside the 144x176 images, of side 80 (larger only around a larger box)"
expect_eq "$(awk -F, 'NR > 1 && $6 == "background" && $10 != 0' "$p" | wc -l)" 0 "background patches are negatives"
expect_eq "$(awk -F, 'NR > 1 { d = $11 - ($12 + $13 + $14) / 3; r = $17 - ($18 + $19 + $20) / 3; if (d < 0) d = -d; if (r < 0) r = -r
    if (d > 1e-12 || r > 1e-12) bad++ } END { print bad + 0 }' "$p")" 0 "the ensemble scores are the means of the fold scores"
expect_eq "$(awk -F, 'NR > 1 && $12 == $13 && $13 == $14' "$p" | wc -l)" 0 "the folds' networks differ"
thr=$(awk -F, 'NR > 1 { s += $2; n++ } END { printf "%.12f", s / n }' "$b/thresholds.csv")
rthr=$(awk -F, 'NR > 1 { s += $2; n++ } END { printf "%.12f", s / n }' "$b/reference/thresholds.csv")
expect_eq "$(awk -F, -v t="$thr" -v rt="$rthr" 'NR > 1 { d = $15 - t; e = $21 - rt; if (d < 0) d = -d; if (e < 0) e = -e
    if (d > 1e-12 || e > 1e-12 || $16 != ($11 >= $15 ? 1 : 0) || $22 != ($17 >= $21 ? 1 : 0)) bad++ } END { print bad + 0 }' "$p")" 0 \
  "thresholds: the means of the folds'; decisions: score >= threshold"
expect_eq "$(cut -d, -f1,3 "$p" | grep -c 'SYN' || true)" 0 "no patient ID, pseudonyms only"

# metrics.json (patch level) recomputed from predictions.csv; the awk first against the fixture
m=$out/p/metrics.json
jv() { grep -o "\"$1\": [-0-9.e]*" "$m" | sed -n "${2}p" | awk '{ printf "%.17g", $2 }'; }
stats_match_fixture "$fixdir"
st=$(stats "$p" 10 11 17 16 22)
sv() { awk -v k="$1" '$1 == k { print $2 }' <<<"$st"; }
echo "patch-level external AUC: network $(sv auc), reference $(sv reference_auc)"
checks=$((checks + 1))
awk -v a="$(sv auc)" 'BEGIN { exit !(a > 0.5 && a < 1) }' || { fails=$((fails + 1)); echo "FAIL: the external AUC $(sv auc) is not in (0.5, 1): a test that cannot tell" >&2; }
for k in auc brier ece sensitivity specificity; do
  close "metrics.json $k" "$(jv $k 1)" "$(sv $k)"
  close "metrics.json reference $k" "$(jv $k 2)" "$(sv reference_$k)"
done
close "metrics.json n" "$(jv n 1)" "$(sv n)"
close "metrics.json n_positive" "$(jv n_positive 1)" "$(sv n_positive)"
close "vs_reference delta_auc" "$(jv delta_auc 1)" "$(sv delta_auc)"
close "vs_reference delong_z" "$(jv delong_z 1)" "$(sv delong_z)"
expect_grep '"task": "patch",' "$m"
expect_grep "\"n_patches\": $((boxes + 2 * negimg))," "$m"
expect_grep "\"title\": \"External validation of $(basename "$run") \(variant probe, the mean of 3 fold networks; unit: lesion and background patches\)" "$m"
expect_grep '^Patch level, the external cohort' "$out/p/report.md"
expect_grep "patches \($npos positive; $boxes lesion patches around the labels' boxes, $((2 * negimg)) background patches" "$out/p/report.md"
expect_exit 0 xmllint --noout "$out/p/report.html"

# --- the bundle applied to the training cohort: the run's patches and out-of-fold scores ---
expect_exit 0 "$wb" predict "$b" "$out/train/labels.csv" --out "$out/ptrain" --registry none
expect_eq "$(awk -F, 'NR > 1 { print $2, $7, $8, $9 }' "$out/ptrain/predictions.csv" | sort)" \
  "$(awk -F, 'NR > 1 { print $1, $7, $8, $9 }' "$run/patches.csv" | sort)" "the same patch ids and squares as the run's patches.csv"
expect_eq "$(awk -F, 'NR == FNR { if (FNR > 1 && $1 == 0) { s[$3, $4] = $9; f[$4] = $2 } next }
    FNR > 1 { n++; k = f[$2]; if (k == "" || s["baseline", $2] != $(18 + k)) bb++
              if (s["probe", $2] != $(12 + k)) bp++ }
    END { print n, bb + 0, bp + 0 }' "$run/predictions.csv" "$out/ptrain/predictions.csv")" "$(($(wc -l <"$run/patches.csv") - 1)) 0 0" \
  "training cohort: reference_score_f<k> = the run's baseline score (bits), score_f<k> = the run's probe score (bits)"

# --- refusals ---
cp -r "$b" "$out/tampered"
printf '\x01' | dd of="$out/tampered/models/f2.safetensors" bs=1 seek=300 conv=notrunc status=none
expect_exit 3 "$wb" predict "$out/tampered" "$out/ext/labels.csv" --out "$out/bad1" --registry none
expect_grep 'tampered/models/f2.safetensors: SHA-256 [0-9a-f]{64} differs from the manifest' "$out/stderr"
expect_exit 1 test -e "$out/bad1/predictions.csv"
# the manifest's patch settings edited (its own hash is not listed; the config's is): refused
cp -r "$b" "$out/edited" && sed -i 's/"size": 80,/"size": 96,/' "$out/edited/manifest.json"
expect_exit 3 "$wb" predict "$out/edited" "$out/ext/labels.csv" --out "$out/bad2" --registry none
expect_grep "edited/config.yaml: the bundle's config does not agree with its manifest's patch settings \(data.patch.size\)" "$out/stderr"
# a cohort config that would cut other patches
sed -e 's/^name: psrc/name: ext/' -e 's#train/#ext/#; s#dicom_dir: train#dicom_dir: ext#' -e 's/size: 80/size: 96/' "$out/p.yaml" >"$out/ext96.yaml"
expect_exit 2 "$wb" predict "$b" "$out/ext96.yaml" --out "$out/bad3" --registry none
expect_grep 'ext96.yaml:10:11: data.patch.size: predict: the cohort config cuts patches unlike the bundle \(bundle: unit px, size 80, .*; cohort: unit px, size 96' "$out/stderr"
# the same cohort config with the bundle's patch settings: the same rows as the labels CSV
sed -e 's/^name: psrc/name: ext/' -e 's#train/#ext/#; s#dicom_dir: train#dicom_dir: ext#' "$out/p.yaml" >"$out/ext.yaml"
expect_exit 0 "$wb" predict "$b" "$out/ext.yaml" --out "$out/p2" --registry none
expect_exit 0 cmp "$p" "$out/p2/predictions.csv"
# an unlabeled cohort: refused (background patches need the negatives)
mkdir -p "$out/unl" && cut -d, -f1-5,7- "$out/ext/labels.csv" >"$out/unl/labels.csv"
for d in "$out"/ext/P*; do ln -s "$d" "$out/unl/$(basename "$d")"; done
expect_exit 2 "$wb" predict "$b" "$out/unl/labels.csv" --out "$out/bad4" --registry none
expect_grep "unl/labels.csv: predict: no label column 'label': a patch bundle needs a labelled cohort" "$out/stderr"
finish
