#!/usr/bin/env bash
# workbench explain (issue 17): on the known-answer cohort (a bright disk in every malignant
# breast, workbench synth --lesion disk --difficulty 0), a run with train.save_weights; each
# fold's network explains its own test images (out of fold). Checks:
#   - the Grad-CAM map's peak, mapped back on the image as stored, lies in the labels' lesion
#     box in at least 80% of the true positives (malignant, probability >= the fold's
#     threshold from predictions.csv); the fraction is printed
#   - randomised weights (Adebayo et al. 2018, --sanity): the maps of a re-initialised network
#     do not rank the pixels as the trained one's do (mean Spearman over the true positives
#     below 0.5; printed)
#   - the PNGs are PNGs of the stored image's size (+ the colour bar panel), the same bytes on
#     a second run, and explain.csv's probability equals the run's out-of-fold score
#   - the case gallery (--gallery): gallery.csv, its PNGs embedded in report.html (CSP img-src
#     data:) and linked from report.md, pseudonyms only, the report byte-reproducible
#   - bad inputs: no run directory (3), no saved network (3, naming the file and
#     train.save_weights), unknown variant or the baseline (2), fold or stage out of range (2),
#     an unreadable image among good ones (1, the good ones written)
# Usage: test_explain.sh WORKBENCH WEIGHTS_DIR OUT_DIR
set -euo pipefail
wb=$1 weights=$2 out=$3
source "$(dirname "$0")/lib.sh"
[ -f "$weights/resnet20-12fca82f.th" ] || { echo "missing $weights/resnet20-12fca82f.th (the CIFAR ResNet-20 of akamaster/pytorch_resnet_cifar10, kept in ../shared/weights; see its README.md)" >&2; exit 1; }
rm -rf "$out" && mkdir -p "$out"
"$wb" -q synth --out "$out/data" --patients 24 --seed 11 --size 160x200 --difficulty 0 \
  --lesion disk --prevalence 0.5 --benign-rate 0
write_config "$out/known.yaml" name known size 64x64 backbone "in_channels: 1" train "save_weights: true" \
  cv "folds: 4" tail "metrics:;   reference: baseline"
expect_exit 0 "$wb" -q run "$out/known.yaml" --out "$out/runs" --registry none
run=$(ls -d "$out"/runs/known-*)
# each fold's malignant test images (the ones with a lesion box): folds.csv (sop uid) -> labels.csv (file),
# explained at layer2 (32 x 32 cells of 2 preprocessed pixels) with --sanity, and at the default
# stage (layer3, 16 x 16 cells), whose fraction is printed only: its cells are about 12 image
# pixels, a third of the disk, and its peak often sits on the disk's rim (docs/explain.md)
for f in 0 1 2 3; do
  files=$(awk -F, -v f=$f 'NR == FNR { if (FNR > 1 && $2 == f) want[$3] = 1; next }
                           FNR > 1 && ($2 in want) && $6 == "malignant" { print "'"$out"'/data/" $1 }' "$run/folds.csv" "$out/data/labels.csv")
  # shellcheck disable=SC2086
  expect_exit 0 "$wb" explain "$run" --variant probe --fold $f $files --out "$out/ex$f" --stage layer2 --sanity
  expect_grep "explain: [0-9]+ image\(s\), variant probe, repeat 0, fold $f, stage layer2" "$out/stderr"
  # shellcheck disable=SC2086
  expect_exit 0 "$wb" explain "$run" --fold $f $files --out "$out/last$f"
done
# true positives: at or above the fold's threshold (predictions.csv, variant probe)
tp_rows() { # DIR_PREFIX -> "peak_in_box spearman same|differs" per true positive
  for f in 0 1 2 3; do
    awk -F, -v f=$f -v dir="$out/data/" '
      FILENAME ~ /predictions/ { if ($2 == f && $3 == "probe") { thr = $10; s[$4] = $9 } next }
      FILENAME ~ /labels/ { if (FNR > 1) uid[dir $1] = $2; next }
      FNR > 1 && $2 == "malignant" && $8 + 0 >= thr + 0 {
        d = $8 - s[uid[$1]]; if (d < 0) d = -d
        print $16, ($20 == "" ? "nan" : $20), (d < 1e-6 ? "same" : "differs")
      }' "$run/predictions.csv" "$out/data/labels.csv" "$1$f/explain.csv"
  done
}
tp=$(tp_rows "$out/ex")
n_tp=$(printf '%s\n' "$tp" | grep -c . || true)
in_box=$(printf '%s\n' "$tp" | awk '$1 == 1' | wc -l)
frac=$(awk -v a="$in_box" -v b="$n_tp" 'BEGIN { printf "%.3f", b ? a / b : 0 }')
rho=$(printf '%s\n' "$tp" | awk '{ s += $2; n++ } END { printf "%.3f", n ? s / n : 1 }')
last=$(tp_rows "$out/last" | awk '$1 == 1 { k++ } { n++ } END { printf "%d of %d", k, n }')
echo "known answer: Grad-CAM (layer2) peak in the lesion box in $in_box of $n_tp true positives ($frac); at layer3 in $last; mean Spearman with re-initialised weights $rho"
expect_eq "$(awk -v n="$n_tp" 'BEGIN { print (n >= 10) ? "yes" : "no" }')" yes "at least 10 true positives (got $n_tp)"
expect_eq "$(awk -v f="$frac" 'BEGIN { print (f >= 0.8) ? "yes" : "no" }')" yes "peak in the box in >= 80% of true positives (got $frac)"
expect_eq "$(awk -v r="$rho" 'BEGIN { print (r < 0.5) ? "yes" : "no" }')" yes "re-initialised weights give other maps (mean Spearman $rho)"
expect_eq "$(printf '%s\n' "$tp" | grep -c differs || true)" 0 "explain.csv's probability is the run's out-of-fold score"
# the PNGs: 160 x 200 images drawn at their size, a colour bar panel beside them; the same bytes again
png=$(ls "$out"/last0/*_gradcam.png | head -1)
expect_eq "$(head -c 8 "$png" | od -An -c | tr -d ' \n')" '211PNG\r\n032\n' "PNG signature"
expect_eq "$(od -An -tu1 -j16 -N8 "$png" | awk '{ w = $3 * 256 + $4; print (w > 160 ? "wider" : "no"), $7 * 256 + $8 }')" "wider 200" "width beyond 160 (the panel) and height 200"
first=$(awk -F, 'NR == 2 { print $1 }' "$out/last0/explain.csv")
expect_exit 0 "$wb" explain "$run" --fold 0 "$first" --out "$out/again"
expect_exit 0 cmp "$out/last0/$(basename "$(dirname "$first")")_$(basename "$first" .dcm)_gradcam.png" "$out/again/$(basename "$(dirname "$first")")_$(basename "$first" .dcm)_gradcam.png"
# occlusion on one image: its PNG and its peak
expect_exit 0 "$wb" explain "$run" --fold 0 "$first" --out "$out/occ" --occlusion 16,8
expect_grep '^[^,]*,[^,]*,probe,0,0,layer3,1,[^,]+,[^,]+,[^,]+,[^,]+,[^,]*,[^,]*,[^,]*,[^,]*,[^,]*,[0-9.]+,[0-9.]+,' "$out/occ/explain.csv"
expect_exit 0 test -s "$out/occ/$(basename "$(dirname "$first")")_$(basename "$first" .dcm)_occlusion.png"
# another stage
expect_exit 0 "$wb" explain "$run" --fold 1 "$first" --out "$out/st" --stage layer2
expect_grep ',probe,0,1,layer2,' "$out/st/explain.csv"

cp -r "$run" "$out/noweights" && rm -rf "$out/noweights/models"
# the case gallery (part 2): the run's most confident TP, FP, FN per variant into RUN_DIR/gallery/,
# the reports written again with it
expect_exit 0 "$wb" explain "$run" --gallery 2
expect_grep 'explain: [0-9]+ case\(s\) in the gallery' "$out/stderr"
g=$run/gallery/gallery.csv
expect_eq "$(head -1 "$g")" "variant,kind,rank,repeat,fold,patient,score,threshold,lesion_type,stage,png" "gallery.csv header"
expect_eq "$(awk -F, '$2 == "tp"' "$g" | wc -l)" 2 "two true positives"
expect_eq "$(awk -F, 'NR > 1 && ($2 == "tp" || $2 == "fn") && $9 != "disk"' "$g" | wc -l)" 0 "positives carry their lesion type"
expect_eq "$(awk -F, 'NR > 1 && (($2 == "tp" || $2 == "fp") && $7 + 0 < $8 + 0 || $2 == "fn" && $7 + 0 >= $8 + 0)' "$g" | wc -l)" 0 "kinds agree with score and threshold"
rows=$(awk 'END { print NR - 1 }' "$g")
expect_eq "$(awk -F, 'NR > 1 { print $11 }' "$g" | while read -r p; do [ -s "$run/gallery/$p" ] && echo ok; done | wc -l)" "$rows" "every PNG of gallery.csv exists"
expect_grep '<h2>Case gallery</h2>' "$run/report.html"
expect_eq "$(grep -o 'src="data:image/png;base64,iVBORw0KGgo' "$run/report.html" | wc -l)" "$rows" "each case embedded in report.html"
expect_grep "Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"" "$run/report.html"
expect_eq "$(grep -c '](gallery/probe_[a-z]*_[0-9]*.png)' "$run/report.md")" "$rows" "report.md links each PNG"
expect_eq "$(cat "$g" "$run/report.html" "$run/report.md" | grep -c 'SYN[0-9A-F]' || true)" 0 "no patient ID, pseudonyms only"
cp "$run/report.html" "$out/report1.html"
expect_exit 0 "$wb" report "$run"
expect_exit 0 cmp "$out/report1.html" "$run/report.html"
expect_exit 2 "$wb" explain "$run" --gallery 2 "$first"
expect_exit 3 "$wb" explain "$out/noweights" --gallery 1
expect_grep 'models/r[0-9]_f[0-9]_probe.safetensors' "$out/stderr"
rm -rf "$out/gallery-run" && cp -r "$run" "$out/gallery-run" # for report.browser_gallery
# an edited predictions.csv: a score that is not a number, a fold that wraps an int (atoi), named
# at its line and column (they were read as 0 and picked other cases, or a fold of -727379969)
rm -rf "$out/edited" && cp -r "$run" "$out/edited"
awk -F, 'BEGIN{OFS=","} NR==3{$9="abc"} {print}' "$run/predictions.csv" >"$out/edited/predictions.csv"
expect_exit 3 "$wb" explain "$out/edited" --gallery 1
expect_grep "edited/predictions.csv:3:9: score: expected a number or null, got 'abc'" "$out/stderr"
awk -F, 'BEGIN{OFS=","} NR==4{$2="999999999999"} {print}' "$run/predictions.csv" >"$out/edited/predictions.csv"
expect_exit 3 "$wb" explain "$out/edited" --gallery 1
expect_grep "edited/predictions.csv:4:2: fold: expected a whole number from 0 to 1000000, got '999999999999'" "$out/stderr"
# predictions.csv is read a row at a time (docs/performance.md): a damaged file still gives the
# whole-file read's first error: the file's own (an unterminated quote at its end, a ragged row)
# before a bad cell above it or a missing column; of two bad columns, the first checked (fold
# before score), whatever the rows' order
awk -F, 'BEGIN{OFS=","} NR==3{$9="abc"} {print}' "$run/predictions.csv" >"$out/edited/predictions.csv"
printf '0,1,"probe\n' >>"$out/edited/predictions.csv"
expect_exit 3 "$wb" explain "$out/edited" --gallery 1
expect_grep "edited/predictions.csv:$(( $(wc -l <"$run/predictions.csv") + 1 )):5: unterminated quoted field" "$out/stderr"
sed '1s/,score,/,scr,/' "$run/predictions.csv" | awk 'NR==40{print $0 ",extra"; next} 1' >"$out/edited/predictions.csv"
expect_exit 3 "$wb" explain "$out/edited" --gallery 1
expect_grep "edited/predictions.csv:40: row has 11 field\(s\), the header has 10" "$out/stderr"
sed '1s/,score,/,scr,/' "$run/predictions.csv" >"$out/edited/predictions.csv"
expect_exit 3 "$wb" explain "$out/edited" --gallery 1
expect_grep "edited/predictions.csv:1: no column 'score'" "$out/stderr"
awk -F, 'BEGIN{OFS=","} NR==3{$9="abc"} NR==50{$2="x"} {print}' "$run/predictions.csv" >"$out/edited/predictions.csv"
expect_exit 3 "$wb" explain "$out/edited" --gallery 1
expect_grep "edited/predictions.csv:50:2: fold: expected a whole number" "$out/stderr"
# the best true positive's image missing from the labels CSV: left out (a warning) and the next
# best in its place (the gallery keeps each kind's best n cases as it reads predictions.csv, and
# reads it again for more when some are left out)
rm -rf "$out/lefttop" && cp -r "$run" "$out/lefttop"
tps=$(awk -F, 'NR > 1 && $3 == "probe" && $8 == 1 && $9 + 0 >= $10 + 0 { print $9, $4 }' "$run/predictions.csv" | LC_ALL=C sort -k1,1gr -k2,2)
t1=$(echo "$tps" | sed -n '1s/.* //p') s2=$(echo "$tps" | sed -n '2s/ .*//p')
grep -v ",$t1," "$out/data/labels.csv" >"$out/lefttop/labels.csv"
sed -i "s#^\(  labels: \).*#\1\"$out/lefttop/labels.csv\"#" "$out/lefttop/config.yaml"
expect_exit 0 "$wb" explain "$out/lefttop" --gallery 1
expect_grep "gallery: no file in the labels CSV for SOP Instance UID $t1: left out" "$out/stderr"
expect_eq "$(awk -F, '$1 == "probe" && $2 == "tp" { print $3 "," $7 }' "$out/lefttop/gallery/gallery.csv")" "1,$s2" \
  "the next best true positive in the left-out one's place"

# bad inputs
expect_exit 3 "$wb" explain "$out/no-such-run" "$first" --out "$out/bad"
expect_grep 'no-such-run.*not a run directory' "$out/stderr"
expect_exit 3 "$wb" explain "$out/noweights" "$first" --out "$out/bad"
expect_grep 'models/r0_f0_probe.safetensors.*train.save_weights' "$out/stderr"
expect_exit 2 "$wb" explain "$run" --variant nope "$first" --out "$out/bad"
expect_grep "no variant 'nope' \(backbone variants: probe\)" "$out/stderr"
expect_exit 2 "$wb" explain "$run" --variant baseline "$first" --out "$out/bad"
expect_grep "baseline.*no network" "$out/stderr"
expect_exit 2 "$wb" explain "$run" --fold 4 "$first" --out "$out/bad"
expect_grep 'folds 0 to 3' "$out/stderr"
expect_exit 2 "$wb" explain "$run" --stage head "$first" --out "$out/bad"
expect_grep "no stage 'head'.*stages: stem, layer1, layer2, layer3" "$out/stderr"
expect_exit 2 "$wb" explain "$run" "$first"
expect_grep 'no output directory' "$out/stderr"
# a failed write (WB_FAULT_WRITE, io/io_fs.h): exit 4 naming the PNG, no temporary file left
expect_exit 4 env WB_FAULT_WRITE=3 "$wb" explain "$run" "$first" --out "$out/full"
expect_grep '_gradcam.png: cannot write the PNG: No space left on device' "$out/stderr"
expect_eq "$(find "$out/full" -name '*.tmp.*' | wc -l)" 0 "no temporary file left"
printf 'not an image' >"$out/broken.dcm"
expect_exit 1 "$wb" explain "$run" "$first" "$out/broken.dcm" "$out/missing.dcm" --out "$out/partial"
expect_grep 'broken.dcm' "$out/stderr"
expect_grep '2 of 3 images could not be explained' "$out/stderr"
expect_eq "$(awk 'END { print NR }' "$out/partial/explain.csv")" 2 "the good image's row is written"
finish
