#!/usr/bin/env bash
# A known answer (issue 13): in a cohort where every malignant breast holds a bright disk
# (workbench synth --lesion disk --difficulty 0), the linear probe on frozen pretrained
# features must find it (pooled image AUC above 0.95), and the same images with the patients'
# labels permuted must not (the AUC's 95% DeLong CI contains 0.5). A probe that is undertrained
# or mis-wired fails the first check; a leak between folds or a label mix-up fails the second.
# Usage: test_known_answer.sh WORKBENCH WEIGHTS_DIR OUT_DIR
set -euo pipefail
wb=$1 weights=$2 out=$3
source "$(dirname "$0")/lib.sh"
[ -f "$weights/resnet20-12fca82f.th" ] || { echo "missing $weights/resnet20-12fca82f.th (the CIFAR ResNet-20 of akamaster/pytorch_resnet_cifar10, kept in ../shared/weights; see its README.md)" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out"
"$wb" -q synth --out "$out/data" --patients 24 --seed 11 --size 160x200 --difficulty 0 \
  --lesion disk --prevalence 0.5 --benign-rate 0
# the twin: each patient takes the labels of the next patient in a fixed shuffled order
# (a permutation of whole patients, so groups stay intact and the prevalence is the same)
mkdir -p "$out/perm"
awk -F, -v OFS=, '
  NR == FNR { if (FNR > 1) { key = $3 FS $4; if (!(key in first)) { first[key] = $6; keys[n++] = key } } next }
  FNR == 1 { # a fixed permutation of the breasts (patient, side): a rotation of a shuffled order
             srand(5); for (i = n - 1; i > 0; i--) { j = int(rand() * (i + 1)); t = keys[i]; keys[i] = keys[j]; keys[j] = t }
             for (i = 0; i < n; i++) newlab[keys[i]] = first[keys[(i + 1) % n]]
             print; next }
  { key = $3 FS $4; $6 = newlab[key]; if ($6 == "normal") { $7 = ""; $8 = ""; $9 = ""; $10 = ""; $11 = "" } print }' \
  "$out/data/labels.csv" "$out/data/labels.csv" >"$out/perm/labels.csv"
for name in known perm; do
  labels=data/labels.csv
  [ $name = perm ] && labels=perm/labels.csv
  write_config "$out/$name.yaml" name "$name" labels "$labels" size 64x64 backbone "in_channels: 1" \
    cv "folds: 4" tail "metrics:;   reference: baseline"
  expect_exit 0 "$wb" -q run "$out/$name.yaml" --out "$out/runs" --registry none
done
pooled() { # RUN_PREFIX VARIANT -> "auc ci_low ci_high" (pooled, image level)
  awk -F, -v v="$2" '$2 == "pooled" && $3 == v && $4 == "image" && $5 == "auc" { print $6, $7, $8 }' "$out"/runs/"$1"-*/metrics.csv
}
read -r auc lo hi <<<"$(pooled known probe)"
echo "known answer: probe pooled image AUC $auc [$lo, $hi]; baseline $(pooled known baseline)"
expect_eq "$(awk -v a="$auc" 'BEGIN { print (a > 0.95) ? "yes" : "no" }')" yes "probe AUC above 0.95 where a bright disk marks every malignant breast (got $auc)"
read -r auc lo hi <<<"$(pooled perm probe)"
echo "permuted labels: probe pooled image AUC $auc [$lo, $hi]"
expect_eq "$(awk -v l="$lo" -v h="$hi" 'BEGIN { print (l < 0.5 && h > 0.5) ? "yes" : "no" }')" yes "permuted labels: the AUC's CI contains 0.5 (got $auc [$lo, $hi])"
finish
