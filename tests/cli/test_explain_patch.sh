#!/usr/bin/env bash
# workbench explain on a patch run (data.task: patch), on the run cli.predict_patch made (a
# bright disk in every malignant breast, 80-pixel patches with a jitter of 16 around boxes of
# about 33 pixels, so a box covers about a sixth of its patch). Each fold's network explains
# the patches of its own held-out files (out of fold). Checks:
#   - the patches explained are the run's (patches.csv: every patch of each file, ids and
#     squares), cut again the same way: explain.csv's probability equals the run's out-of-fold
#     score of that patch (predictions.csv) to 1e-6
#   - known answer: the Grad-CAM map's peak (layer2), mapped back to the stored image, lies in
#     the labels' lesion box in at least 75% of the true-positive lesion patches (malignant,
#     probability >= the fold's threshold); the fraction and the chance level (the boxes' share
#     of their patches) are printed
#   - the PNGs: the patch view (the 32x32 input enlarged 4x, + the colour bar panel) and the
#     full view (the stored 160x200 image, + the panel), the same bytes on a second run
#   - background patches of a negative file: explained, no box (peak_in_box empty)
#   - a file the run cut no patch from: exit 1 naming it, the others written
#   - the case gallery of a patch run: TP/FP/FN patches, embedded in report.html, pseudonyms only
# Usage: test_explain_patch.sh WORKBENCH PREDICT_PATCH_DIR OUT_DIR
set -euo pipefail
wb=$1 src=$2 out=$3
source "$(dirname "$0")/lib.sh"
rm -rf "$out" && mkdir -p "$out"
run=$(ls -d "$src"/runs/psrc-* 2>/dev/null | head -1)
[ -n "$run" ] && [ -f "$run/patches.csv" ] || { echo "no patch run in $src/runs (cli.predict_patch makes it)" >&2; exit 1; }
cp -r "$run" "$out/run" && run=$out/run
data=$src/train
# malignant lesion patches of fold f -> their files (patch id prefix = sop_instance_uid of labels.csv)
files_of() { # FOLD KIND(lesion|background) LABEL
  awk -F, -v f="$1" -v k="$2" -v l="$3" -v dir="$data/" 'NR == FNR { if (FNR > 1 && $6 == f && $3 == k && $4 == l) { sub(/\/[LB][0-9]+$/, "", $1); want[$1] = 1 } next }
    FNR > 1 && ($2 in want) { print dir $1 }' "$run/patches.csv" "$data/labels.csv" | sort -u
}
for f in 0 1 2; do
  # shellcheck disable=SC2046
  expect_exit 0 "$wb" explain "$run" --variant probe --fold $f $(files_of $f lesion 1) --out "$out/ex$f" --stage layer2
  expect_grep "explain: [0-9]+ patch\(es\) of [0-9]+ image\(s\), variant probe, repeat 0, fold $f, stage layer2; the map's peak in the lesion box in [0-9]+ of [0-9]+ lesion patches" "$out/stderr"
done
# every patch of the explained files, as patches.csv has them (id, row, col, side)
expect_eq "$(cat "$out"/ex?/explain.csv | awk -F, '$1 != "file" { print $2, $13, $14, $15 }' | sort)" \
  "$(for f in 0 1 2; do files_of $f lesion 1; done | sed "s#^$data/##" | awk -F, 'NR == FNR { want[$1] = 1; next } FNR > 1 && ($1 in want) { print $2 }' - "$data/labels.csv" |
     awk -F, 'NR == FNR { want[$1] = 1; next } FNR > 1 { id = $1; sub(/\/[LB][0-9]+$/, "", id); if (id in want) print $1, $7, $8, $9 }' - "$run/patches.csv" | sort)" \
  "the run's patches of each file (ids and squares)"
# the probability: the run's out-of-fold score; true positives: the peak in the box
res=$(awk -F, 'NR == FNR { if ($3 == "probe") { s[$4] = $9; t[$4] = $10 } next }
  FNR > 1 { n++; d = $11 - s[$2]; if (d < 0) d = -d; if (!($2 in s) || d > 1e-6) bad++
            if ($3 == "lesion" && $4 == 1 && $11 >= t[$2]) { tp++; inb += $18 == 1 } }
  END { printf "%d %d %d %d", n, bad + 0, tp, inb }' "$run/predictions.csv" "$out"/ex?/explain.csv)
read -r n bad tp inb <<<"$res"
expect_eq "$bad" 0 "explain.csv's probability = the run's out-of-fold score of the patch ($n patches)"
chance=$(awk -F, 'NR == FNR { if (FNR > 1 && $8 != "") { a[$2] = $10 * $11 } next }
  FNR > 1 && $3 == "lesion" && $4 == 1 { id = $1; sub(/\/[LB][0-9]+$/, "", id); s += a[id] / ($9 * $9); k++ } END { printf "%.3f", s / k }' \
  "$data/labels.csv" "$run/patches.csv")
echo "known answer: the Grad-CAM peak in the lesion box in $inb of $tp true-positive patches (chance: the box is $chance of its patch)"
checks=$((checks + 1))
awk -v a="$inb" -v b="$tp" 'BEGIN { exit !(b >= 5 && a >= 0.75 * b) }' || { fails=$((fails + 1)); echo "FAIL: peak in the box in $inb of $tp true positives (want >= 75% of at least 5)" >&2; }
# the PNGs: the patch view 32x32 x 4 = 128 (+ the 52-pixel colour bar panel), the full view 160x200 (+ panel)
pp=$(awk -F, 'NR == 2 { print $24 }' "$out/ex0/explain.csv")
fp=$(awk -F, 'NR == 2 { print $23 }' "$out/ex0/explain.csv")
expect_grep 'PNG image data, 180 x 128' <(file "$out/ex0/$pp")
expect_grep 'PNG image data, 212 x 200' <(file "$out/ex0/$fp")
# shellcheck disable=SC2046
expect_exit 0 "$wb" explain "$run" --variant probe --fold 0 $(files_of 0 lesion 1) --out "$out/again" --stage layer2
for f in "$out"/ex0/*; do expect_exit 0 cmp "$f" "$out/again/$(basename "$f")"; done
# background patches of negative files; and a file the run cut nothing from (a positive without a box)
neg=$(files_of 1 background 0 | head -2)
nobox=$(awk -F, -v dir="$data/" 'NR > 1 && $6 == "malignant" && $8 == "" { print dir $1; exit }' "$data/labels.csv")
# shellcheck disable=SC2086
expect_exit 0 "$wb" explain "$run" --fold 1 $neg --out "$out/bg" --occlusion 8 --sanity
expect_eq "$(awk -F, 'NR > 1 && $3 == "background" && $18 == "" && $19 != "" && $22 != ""' "$out/bg/explain.csv" | wc -l | tr -d ' ')" 4 \
  "2 background patches of each of 2 negative files: no box, an occlusion peak and a sanity correlation"
expect_eq "$(ls "$out/bg" | grep -c '_occlusion_patch.png$')" 4 "occlusion patch views"
if [ -n "$nobox" ]; then
  # shellcheck disable=SC2086
  expect_exit 1 "$wb" explain "$run" --fold 1 $neg "$nobox" --out "$out/some"
  expect_grep "$(basename "$nobox"): the run cut no patch from this file" "$out/stderr"
  expect_eq "$(awk 'END { print NR - 1 }' "$out/some/explain.csv")" 4 "the good files' patches written"
fi
# the gallery of the patch run
expect_exit 0 "$wb" explain "$run" --gallery 2
expect_grep 'explain: [0-9]+ case\(s\) in the gallery' "$out/stderr"
g=$run/gallery/gallery.csv
expect_eq "$(head -1 "$g")" "variant,kind,rank,repeat,fold,patient,score,threshold,lesion_type,stage,png" "gallery.csv header"
expect_eq "$(awk -F, 'NR > 1 && $2 == "tp"' "$g" | wc -l | tr -d ' ')" 2 "two true-positive patches"
expect_eq "$(cut -d, -f6 "$g" | grep -c SYN || true)" 0 "pseudonyms only"
for png in $(tail -n +2 "$g" | cut -d, -f11); do expect_grep 'PNG image data, 180 x 128' <(file "$run/gallery/$png"); done
expect_grep 'over the patch as the network saw it' "$run/report.md"
expect_grep '<img alt="[^"]*" src="data:image/png;base64,' "$run/report.html"
expect_exit 0 xmllint --noout "$run/report.html"
finish
