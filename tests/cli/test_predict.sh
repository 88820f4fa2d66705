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
#   - the reference baseline (issue 17 §3): the run keeps each fold's fitted baseline with
#     train.save_weights; the bundle carries them byte for byte (reference/f<F>.json) with their
#     thresholds; predict scores the cohort with them too: the bundle applied to the training
#     cohort gives, for every image, exactly the run's out-of-fold baseline score in the column
#     of the fold that held it out (the network's too, bit for bit)
#   - metrics recomputed from predictions.csv with awk: AUC, Brier, ECE of both ensembles and
#     the paired DeLong test between them (the awk versions first reproduce scikit-learn and a
#     numpy DeLong on a committed fixture, tests/cli/data/external_fixture.*, made by
#     make_external_fixture.py), sensitivity and specificity from the decision columns
#   - report.html / report.md: titled "External validation of <run> on <cohort>", the strict
#     CSP, no script, well-formed XML, the model card saying it is an external test set, and
#     the same bytes from a second predict
#   - the registry: the predict is recorded (kind external_validation) and linked to the run;
#     runs list / show / compare show the link and internal CV against external side by side
#   - an unlabeled cohort (no label column): the same scores, no metrics, said on stderr
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
# the run starts from a copy of the pretrained weights, which is taken away before a predict
# below: the bundle carries its own copy
mkdir -p "$out/w" && cp "$weights/resnet20-12fca82f.th" "$out/w/"
write_config "$out/t.yaml" name src dir train weights "$out/w/resnet20-12fca82f.th" backbone "in_channels: 1" \
  train "save_weights: true" cv "folds: 3"
expect_exit 0 "$wb" -q run "$out/t.yaml" --out "$out/runs"
run=$(ls -d "$out"/runs/src-*)
b=$out/bundle
expect_exit 0 "$wb" bundle "$run" --variant probe --out "$b"
expect_grep 'bundle: variant probe \(resnet20\) of src-.*: the 3 fold networks of repeat 0.*; reference baseline: its 3 fitted fold baselines' "$out/stderr"
for f in 0 1 2; do
  expect_exit 0 cmp "$run/models/r0_f${f}_probe.safetensors" "$b/models/f$f.safetensors"
done
expect_eq "$(awk -F, 'NR > 1 && $1 == 0 && $3 == "probe" { t[$2] = $10 } END { for (f = 0; f < 3; f++) print f "," t[f] }' "$run/predictions.csv")" \
  "$(tail -n +2 "$b/thresholds.csv")" "thresholds.csv holds predictions.csv's fold thresholds"
sums=$(grep -o '"path": "[^"]*", "sha256": "[0-9a-f]*"' "$b/manifest.json" | sed -E 's/"path": "([^"]*)", "sha256": "([0-9a-f]*)"/\2  \1/')
expect_eq "$(printf '%s\n' "$sums" | wc -l)" 10 "manifest lists 3 networks, config.yaml, thresholds.csv, 3 baselines, their thresholds, the pretrained weights"
expect_grep '"pretrained": "pretrained/resnet20-12fca82f.th"' "$b/manifest.json"
expect_exit 0 cmp "$weights/resnet20-12fca82f.th" "$b/pretrained/resnet20-12fca82f.th"
for f in 0 1 2; do
  expect_exit 0 cmp "$run/models/r0_f${f}_baseline.baseline.json" "$b/reference/f$f.json"
done
expect_grep '"format": "workbench-baseline-1"' "$b/reference/f0.json"
expect_grep '"features": \["fo_' "$b/reference/f0.json"
expect_eq "$(awk -F, 'NR > 1 && $1 == 0 && $3 == "baseline" { t[$2] = $10 } END { for (f = 0; f < 3; f++) print f "," t[f] }' "$run/predictions.csv")" \
  "$(tail -n +2 "$b/reference/thresholds.csv")" "reference/thresholds.csv holds the baseline's fold thresholds"
expect_grep '"reference": \{"variant": "baseline", "type": "baseline", "folds": 3' "$b/manifest.json"
expect_exit 0 bash -c "cd '$b' && sha256sum -c --quiet <<<'$sums'"
expect_grep '"input_convention": "unit: \[0, 1\] \(no pretrained weights\)"|"input_convention": ".*"' "$b/manifest.json"
expect_grep "\"source_run\": \"$(basename "$run")\"" "$b/manifest.json"
expect_eq "$(ls "$out" | grep -c 'bundle.tmp' || true)" 0 "no temporary bundle directory left"

# predict on the second cohort
# (another seed: another manufacturer mix)
checks=$((checks + 1))
if [ "$(cut -d, -f13 "$out/train/labels.csv" | sort | uniq -c)" = "$(cut -d, -f13 "$out/ext/labels.csv" | sort | uniq -c)" ]; then
  fails=$((fails + 1)); echo "FAIL: the two cohorts have the same manufacturer mix" >&2
fi
expect_exit 0 "$wb" predict "$b" "$out/ext/labels.csv" --out "$out/p" --registry "$out/runs/registry.sqlite"
expect_grep 'predict: 40 image\(s\) \([0-9]+ positive, 0 excluded\), probe of src-.*, mean of 3 folds; AUC .*; reference baseline AUC 0\.[0-9]+, paired DeLong dAUC [-+]0\.[0-9]+, p [0-9.e-]+$' "$out/stderr"
expect_grep 'recorded as run 2 in the registry, linked to its source run src-' "$out/stderr"
# `workbench report` re-renders an external validation's report: the same bytes
rm -rf "$out/p_rerender"; cp -r "$out/p" "$out/p_rerender"; rm -f "$out/p_rerender"/report.*
expect_exit 0 "$wb" report "$out/p_rerender"
for f in report.html report.md; do
  cmp -s "$out/p/$f" "$out/p_rerender/$f" || { fails=$((fails + 1)); echo "FAIL: report re-rendered $f differs" >&2; }
done
p=$out/p/predictions.csv
expect_eq "$(head -1 "$p")" "file,sop_instance_uid,patient,laterality,view,label,score,score_f0,score_f1,score_f2,threshold,decision,reference_score,reference_score_f0,reference_score_f1,reference_score_f2,reference_threshold,reference_decision" "predictions.csv header"
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
jv() { # KEY N: the N-th value of "KEY": in metrics.json (1: the network's, 2: the reference's)
  grep -o "\"$1\": [-0-9.e]*" "$m" | sed -n "${2}p" | awk '{ printf "%.15f", $2 }'
}
expect_eq "$(jv auc 1)" "$auc" "metrics.json's AUC = predictions.csv's"
expect_eq "$(jv auc 2)" "$(mw_auc "$p" 6 13)" "the reference's AUC = predictions.csv's reference_score's"
sens=$(awk -F, 'NR > 1 && $6 == 1 { n++; k += $12 } END { printf "%.15f", k / n }' "$p")
spec=$(awk -F, 'NR > 1 && $6 == 0 { n++; k += 1 - $12 } END { printf "%.15f", k / n }' "$p")
expect_eq "$(jv sensitivity 1)" "$sens" "sensitivity at the threshold"
expect_eq "$(jv specificity 1)" "$spec" "specificity at the threshold"
expect_eq "$(jv sensitivity 2)" "$(awk -F, 'NR > 1 && $6 == 1 { n++; k += $18 } END { printf "%.15f", k / n }' "$p")" "the reference's sensitivity"
expect_eq "$(jv specificity 2)" "$(awk -F, 'NR > 1 && $6 == 0 { n++; k += 1 - $18 } END { printf "%.15f", k / n }' "$p")" "the reference's specificity"
thr_ref=$(awk -F, 'NR > 1 { s += $2; n++ } END { printf "%.12f", s / n }' "$b/reference/thresholds.csv")
expect_eq "$(awk -F, -v t="$thr_ref" 'NR > 1 { d = $17 - t; if (d < 0) d = -d; r = ($14 + $15 + $16) / 3 - $13; if (r < 0) r = -r
    if (d > 1e-12 || r > 1e-12 || $18 != ($13 >= $17 ? 1 : 0)) bad++ } END { print bad + 0 }' "$p")" 0 \
  "reference: the mean of the fold baselines, the mean of their thresholds, decision score >= threshold"
# Brier, ECE (10 equal-width bins) and the paired DeLong test (structural components, ties
# half), in awk: first against scikit-learn / numpy on the fixture, then against metrics.json
stats_match_fixture "$fixdir"
st=$(stats "$p" 6 7 13)
sv() { awk -v k="$1" '$1 == k { print $2 }' <<<"$st"; }
close "metrics.json auc" "$(jv auc 1)" "$(sv auc)"
close "metrics.json reference auc" "$(jv auc 2)" "$(sv reference_auc)"
close "metrics.json brier" "$(jv brier 1)" "$(sv brier)"
close "metrics.json reference brier" "$(jv brier 2)" "$(sv reference_brier)"
close "metrics.json ece" "$(jv ece 1)" "$(sv ece)"
close "metrics.json reference ece" "$(jv ece 2)" "$(sv reference_ece)"
close "vs_reference delta_auc" "$(jv delta_auc 1)" "$(sv delta_auc)"
close "vs_reference delong_z" "$(jv delong_z 1)" "$(sv delong_z)"
expect_grep '"vs_reference": \{"delta_auc": [-0-9.e]+, "delta_ci_low": [-0-9.e]+, "delta_ci_high": [-0-9.e]+, "delong_z": [-0-9.e]+, "delong_p": [0-9.e-]+\}' "$m"
expect_grep '"labeled": true' "$m"
# the bundle applied to the training cohort: each image's fold columns hold the run's
# out-of-fold scores of the fold that held it out (the baseline and the probe bit for bit)
expect_exit 0 "$wb" predict "$b" "$out/train/labels.csv" --out "$out/ptrain" --registry none
expect_eq "$(awk -F, 'NR == FNR { if (FNR > 1 && $1 == 0) { s[$3, $4] = $9; f[$4] = $2 } next }
    FNR > 1 { n++; k = f[$2]; if (k == "" || s["baseline", $2] != $(14 + k)) bb++
              if (s["probe", $2] != $(8 + k)) bp++ }
    END { print n, bb + 0, bp + 0 }' "$run/predictions.csv" "$out/ptrain/predictions.csv")" "64 0 0" \
  "training cohort: reference_score_f<k> = the run's baseline score, score_f<k> = the run's probe score (both bit for bit)"
# the report
r=$out/p/report.html
expect_grep "<title>External validation of $(basename "$run") on $out/ext/labels.csv - workbench report</title>" "$r"
expect_grep "<h1>External validation of $(basename "$run") on $out/ext/labels.csv</h1>" "$r"
expect_grep '<meta http-equiv="Content-Security-Policy" content="default-src .none.; style-src .unsafe-inline."/>' "$r"
expect_no_grep '<script|<img|<link|<iframe|<object|(src|href)=|url\(|@import' "$r"
expect_grep 'this IS an external test set' "$r"
expect_grep "<th scope=\"row\">baseline \(radiomics baseline, mean of 3 folds\)</th><td>$(jv auc 2 | awk '{ printf "%.3f", $1 }') \[" "$r"
expect_grep "<th scope=\"row\">probe \(resnet20, mean of 3 folds\)</th><td>$(jv auc 1 | awk '{ printf "%.3f", $1 }') \[" "$r"
expect_grep '<svg' "$r"
expect_exit 0 xmllint --noout "$r"
expect_grep "^# External validation of $(basename "$run") on " "$out/p/report.md"
expect_grep '^\| probe \(resnet20, mean of 3 folds\) \| 0\.[0-9]{3} \[' "$out/p/report.md"
expect_exit 0 "$wb" predict "$b" "$out/ext/labels.csv" --out "$out/p_again" --registry none
for f in report.html report.md metrics.json predictions.csv; do
  expect_exit 0 cmp "$out/p/$f" "$out/p_again/$f"
done
# the registry: the predict, linked to its run; compare: internal CV against external
expect_exit 0 "$wb" runs list --out "$out/runs"
expect_grep "^2 +finished .* bundle +p +probe 0\.[0-9]{3}, baseline 0\.[0-9]{3}  \[external validation of 1 on $out/ext/labels.csv\]$" "$out/stdout"
expect_grep "^1 +finished .* src +$(basename "$run") +baseline 0\.[0-9]{3}, probe 0\.[0-9]{3}$" "$out/stdout"
expect_exit 0 "$wb" runs show 2 --out "$out/runs"
expect_grep '^kind +external validation \(workbench predict\)$' "$out/stdout"
expect_grep "^source run +1 \($(basename "$run")\)$" "$out/stdout"
expect_grep "^manifest SHA-256 +$(sha256sum "$p" | cut -c1-64)$" "$out/stdout"
expect_exit 0 "$wb" runs show 1 --out "$out/runs"
expect_grep "^external +2 p \(finished\) on $out/ext/labels.csv$" "$out/stdout"
for ids in "1 2" "1" "2"; do
  expect_exit 0 "$wb" runs compare $ids --out "$out/runs"
  expect_grep '^ +1 internal CV +2 external +$' "$out/stdout"
  expect_grep "^probe +AUC \[95% CI\] +0\.[0-9]{3} \[0\.[0-9]{3}, [01]\.[0-9]{3}\] +$(jv auc 1 | awk '{ printf "%.3f", $1 }') \[$(jv auc_ci_low 1 | awk '{ printf "%.3f", $1 }'), $(jv auc_ci_high 1 | awk '{ printf "%.3f", $1 }')\] *$" "$out/stdout"
  expect_grep '^probe +n +64 +40 *$' "$out/stdout"
  expect_grep "^probe +p DeLong +0\.[0-9]{3} +$(jv delong_p 1 | awk '{ printf "%.3f", $1 }') *$" "$out/stdout"
  expect_grep '^baseline +Brier +0\.[0-9]{3} +0\.[0-9]{3} *$' "$out/stdout"
done
# an unlabeled cohort: the label column removed; the same scores, no metrics
mkdir -p "$out/unl" && cut -d, -f1-5,7- "$out/ext/labels.csv" >"$out/unl/labels.csv"
for d in "$out"/ext/P*; do ln -s "$d" "$out/unl/$(basename "$d")"; done
expect_exit 0 "$wb" predict "$b" "$out/unl/labels.csv" --out "$out/pu" --registry "$out/runs/registry.sqlite"
expect_grep "unl/labels.csv has no label column 'label': an unlabeled cohort; writing scores and decisions only, no metrics" "$out/stderr"
expect_grep 'predict: 40 image\(s\) \(unlabeled, 0 excluded\)' "$out/stderr"
expect_eq "$(cut -d, -f6 "$out/pu/predictions.csv" | sort -u | paste -sd' ')" " label" "an empty label column"
expect_eq "$(cut -d, -f7- "$out/pu/predictions.csv")" "$(cut -d, -f7- "$p")" "the same scores and decisions as with labels"
expect_grep '"labeled": false' "$out/pu/metrics.json"
expect_grep '"metrics": null' "$out/pu/metrics.json"
expect_grep '"vs_reference": null' "$out/pu/metrics.json"
expect_grep 'No metrics: the cohort has no labels. The network ensemble decided [0-9]+ of 40 images positive' "$out/pu/report.md"
expect_exit 0 xmllint --noout "$out/pu/report.html"
expect_exit 0 "$wb" runs list --out "$out/runs"
expect_grep "^3 +finished .* pu +- +\[external validation of 1 on $out/unl/labels.csv\]$" "$out/stdout"
expect_grep "\"title\": \"External validation of $(basename "$run") \(variant probe" "$m"
expect_grep '"auc_ci_low": [0-9.]+' "$m"
# the cohort as a config's data section: the same rows
# (a complete config, as `workbench run` takes it: here the training config pointed at the
# second cohort, with other preprocessing that predict must ignore)
sed -e 's/^name: src/name: ext/' -e 's#train/#ext/#; s#dicom_dir: train#dicom_dir: ext#' -e 's/height: 32/height: 64/' \
  "$out/t.yaml" >"$out/ext.yaml"
expect_exit 0 "$wb" predict "$b" "$out/ext.yaml" --out "$out/p2"
expect_exit 0 cmp "$p" "$out/p2/predictions.csv"
# the bundle on its own: the pretrained weights the run started from are gone, its copy serves
mv "$out/w" "$out/w.away"
expect_exit 0 "$wb" predict "$b" "$out/ext/labels.csv" --out "$out/p_moved" --registry none
expect_exit 0 cmp "$p" "$out/p_moved/predictions.csv"
# ... named by a relative path (the copy's path was joined to BUNDLE_DIR twice: exit 2)
expect_exit 0 sh -c 'cd "$(dirname "$1")" && "$0" predict "$(basename "$1")" "$2" --out "$3" --registry none' "$wb" "$b" "$out/ext/labels.csv" "$out/p_rel"
expect_exit 0 cmp "$p" "$out/p_rel/predictions.csv"
mv "$out/w.away" "$out/w"
# validate checks a config as a run; an unlabeled cohort's config says where it can go instead
sed -e 's#ext/#unl/#; s#dicom_dir: ext#dicom_dir: unl#' "$out/ext.yaml" >"$out/unl.yaml"
expect_exit 3 "$wb" validate "$out/unl.yaml"
expect_grep "unl/labels.csv:1: no column 'label' .*; a run needs the label column \(data.label_column\), while an unlabeled cohort can be scored as it is: workbench predict BUNDLE CONFIG" "$out/stderr"
expect_exit 0 "$wb" predict "$b" "$out/unl.yaml" --out "$out/pu2"
expect_exit 0 cmp "$out/pu/predictions.csv" "$out/pu2/predictions.csv"

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
# a registry that is not an SQLite file stops predict before --out is made
head -c 4096 /dev/urandom >"$out/garbage.sqlite"
expect_exit 3 "$wb" predict "$b" "$out/ext/labels.csv" --out "$out/bad0" --registry "$out/garbage.sqlite"
expect_grep 'garbage.sqlite: the run registry cannot be written \(file is not a database\); predict was not started' "$out/stderr"
expect_exit 1 test -e "$out/bad0"
# the threshold is thresholds.csv's: a manifest whose threshold was edited (it has no hash of
# its own) is refused, naming the key, as is one whose reference threshold was
cp -r "$b" "$out/thredit" && sed -i -E 's/^(  "threshold": )[-0-9.e]+/\10.5/' "$out/thredit/manifest.json"
expect_exit 1 cmp -s "$b/manifest.json" "$out/thredit/manifest.json"
expect_exit 3 "$wb" predict "$out/thredit" "$out/ext/labels.csv" --out "$out/bad4"
expect_grep 'thredit/manifest.json: threshold: 0.5, but the mean of thresholds.csv.s fold thresholds is 0\.[0-9]+: the manifest was edited; refusing' "$out/stderr"
expect_exit 1 test -e "$out/bad4"
cp -r "$b" "$out/refedit" && sed -i -E 's/("type": "baseline", "folds": 3, "ensemble": "mean", "threshold": )[-0-9.e]+/\10.25/' "$out/refedit/manifest.json"
expect_exit 1 cmp -s "$b/manifest.json" "$out/refedit/manifest.json"
expect_exit 3 "$wb" predict "$out/refedit" "$out/ext/labels.csv" --out "$out/bad5"
expect_grep 'refedit/manifest.json: reference.threshold: 0.25, but the mean of reference/thresholds.csv.s' "$out/stderr"
# an input size that is not an integer in range (a cast of 1e300 to long is undefined
# behaviour; the ASan build's float-cast-overflow check would abort on it)
for v in 1e300 -4 2.5; do
  cp -r "$b" "$out/insize" && sed -i -E "s/(\"input_height\": )[0-9]+/\1$v/" "$out/insize/manifest.json"
  expect_exit 1 cmp -s "$b/manifest.json" "$out/insize/manifest.json"
  expect_exit 3 "$wb" predict "$out/insize" "$out/ext/labels.csv" --out "$out/bad7"
  expect_grep 'insize/manifest.json: not a bundle manifest of format .*input_width as integers 1\.\.65536' "$out/stderr"
  expect_exit 1 test -e "$out/bad7"
  rm -rf "$out/insize"
done
# thresholds.csv changed and its SHA-256 in the manifest updated to match: still refused
cp -r "$b" "$out/csvedit" && sed -i -E '2s/,.*/,0.999/' "$out/csvedit/thresholds.csv"
sed -i "s/$(sha256sum "$b/thresholds.csv" | cut -c1-64)/$(sha256sum "$out/csvedit/thresholds.csv" | cut -c1-64)/" "$out/csvedit/manifest.json"
expect_exit 3 "$wb" predict "$out/csvedit" "$out/ext/labels.csv" --out "$out/bad6"
expect_grep 'csvedit/manifest.json: threshold: .*the manifest was edited' "$out/stderr"
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
# a run made before runs kept their fitted baselines: a bundle without the reference (a warning)
cp -r "$run" "$out/oldrun" && rm "$out"/oldrun/models/*.baseline.json
expect_exit 0 "$wb" bundle "$out/oldrun" --out "$out/b5"
expect_grep 'r0_f0_baseline.baseline.json: No such file or directory; the bundle will not carry the reference baseline baseline' "$out/stderr"
# predictions.csv is read once, a row at a time: a damaged file gives the whole-file read's first
# error in its order: the file's own (a ragged last row) before a bad threshold above it; the
# network variant's bad row before the reference baseline's, even below it; then the
# reference's (its row number)
rm -rf "$out/thrbad" && cp -r "$run" "$out/thrbad"
pl=$(awk -F, '$1 == 0 && $3 == "probe" { n = NR } END { print n }' "$run/predictions.csv")
bl=$(awk -F, '$1 == 0 && $3 == "baseline" { print NR; exit }' "$run/predictions.csv")
awk -F, 'BEGIN{OFS=","} NR == '"$pl"' {$10="abc"} {print}' "$run/predictions.csv" >"$out/thrbad/predictions.csv"
echo "$(tail -1 "$run/predictions.csv"),extra" >>"$out/thrbad/predictions.csv"
expect_exit 3 "$wb" bundle "$out/thrbad" --out "$out/b6"
expect_grep "thrbad/predictions.csv:$(( $(wc -l <"$run/predictions.csv") + 1 )): row has 11 field\(s\), the header has 10" "$out/stderr"
awk -F, 'BEGIN{OFS=","} NR == '"$bl"' {$10="x"} NR == '"$pl"' {$2="9"} {print}' "$run/predictions.csv" >"$out/thrbad/predictions.csv"
expect_exit 3 "$wb" bundle "$out/thrbad" --out "$out/b6"
expect_grep "thrbad/predictions.csv: row $pl: fold '9', threshold '[0-9.]+': expected a fold 0 to 2 and a number" "$out/stderr"
awk -F, 'BEGIN{OFS=","} NR == '"$bl"' {$10="x"} {print}' "$run/predictions.csv" >"$out/thrbad/predictions.csv"
expect_exit 3 "$wb" bundle "$out/thrbad" --out "$out/b6"
expect_grep "thrbad/predictions.csv: row $bl: fold '[0-2]', threshold 'x': expected a fold 0 to 2 and a number" "$out/stderr"
expect_exit 1 test -e "$out/b6"
expect_grep '"reference": null' "$out/b5/manifest.json"
expect_exit 0 "$wb" predict "$out/b5" "$out/ext/labels.csv" --out "$out/p5" --registry none
expect_eq "$(head -1 "$out/p5/predictions.csv")" "file,sop_instance_uid,patient,laterality,view,label,score,score_f0,score_f1,score_f2,threshold,decision" "no reference columns"
expect_eq "$(cut -d, -f1-12 "$p")" "$(cat "$out/p5/predictions.csv")" "the same network columns"
expect_grep '"reference": null' "$out/p5/metrics.json"
# a bundle whose reference file is gone, or whose manifest no longer lists it
cp -r "$b" "$out/noref" && rm "$out/noref/reference/f2.json"
expect_exit 3 "$wb" predict "$out/noref" "$out/ext/labels.csv" --out "$out/bad6" --registry none
expect_grep 'noref/reference/f2.json: a file of the bundle.s manifest is missing' "$out/stderr"
cp -r "$b" "$out/unlisted" && sed -i '/reference\/f1.json/d' "$out/unlisted/manifest.json"
expect_exit 3 "$wb" predict "$out/unlisted" "$out/ext/labels.csv" --out "$out/bad7" --registry none
expect_grep 'unlisted/manifest.json: files: reference/f1.json is not listed' "$out/stderr"
mkdir -p "$out/junk" && printf 'not an image' >"$out/junk/x.dcm"
printf 'file,patient_id,label\nx.dcm,P1,malignant\n' >"$out/junk/labels.csv"
expect_exit 3 "$wb" predict "$b" "$out/junk/labels.csv" --out "$out/bad4"
expect_grep 'junk/labels.csv: no usable image \(1 excluded\)' "$out/stderr"
expect_exit 2 "$wb" predict "$b" --out "$out/bad5"
finish
