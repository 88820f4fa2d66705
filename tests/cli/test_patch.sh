#!/usr/bin/env bash
# cli.patch: data.task: patch end to end on a small synthetic cohort — config errors at
# file:line:col (exit 2), lesion and background patches (edges, large boxes, boxes outside the
# image, centre-and-radius boxes with repeated rows), whole-image scores as the maximum of each
# image's heat map, and the same bits on a second run and on two threads.
# Usage: test_patch.sh WORKBENCH WEIGHTS_DIR OUT_DIR
set -euo pipefail
wb=$1 weights=$2 out=$3
rm -rf "$out" && mkdir -p "$out"
. "$(dirname "$0")/lib.sh"
[ -f "$weights/resnet20-12fca82f.th" ] || { echo "missing $weights/resnet20-12fca82f.th" >&2; exit 1; }

"$wb" -q synth --out "$out/data" --patients 12 --seed 4 --size 160x200 --prevalence 0.5 --benign-rate 0.5
# config: $1 file, $2 extra data lines (indented 2), $3 patch lines (indented 4), $4 labels
config() {
  local data="  on_error: skip"$'\n'"$2"
  [ -z "$3" ] || data+=$'\n'"  patch:"$'\n'"$3"
  write_config "$out/$1" name patch threads 1 labels "${4:-data/labels.csv}" data "$data" \
    preprocess "keep_aspect: false" backbone "in_channels: 1" variants "baseline frozen:none" \
    train "epochs: 2; batch_size: 16"
}
BOX='    box: {x: bbox_x, y: bbox_y, w: bbox_w, h: bbox_h}'

# --- config errors: exit 2 with file:line:col ---
config nobox.yaml "  task: patch" ""
expect_exit 2 "$wb" validate "$out/nobox.yaml"
expect_grep 'nobox.yaml:8:9: data.task: task: patch needs data.patch.box' "$out/stderr"
config imagetask.yaml "" "$BOX"
expect_exit 2 "$wb" validate "$out/imagetask.yaml"
expect_grep 'imagetask.yaml:10:10: data.patch.box: applies only with data.task: patch' "$out/stderr"
config partial.yaml "  task: patch" '    box: {x: bbox_x, y: bbox_y, h: bbox_h}'
expect_exit 2 "$wb" validate "$out/partial.yaml"
expect_grep 'partial.yaml:10:10: data.patch.box: a corner box needs all of x, y, w and h \(missing w\)' "$out/stderr"
config mixed.yaml "  task: patch" '    box: {x: bbox_x, y: bbox_y, w: bbox_w, h: bbox_h, r: bbox_w}'
expect_exit 2 "$wb" validate "$out/mixed.yaml"
expect_grep 'mixed.yaml:10:10: data.patch.box: give either x, y, w, h' "$out/stderr"
config field.yaml "  task: patch" '    box: {x: bbox_x, y: bbox_y, w: bbox_w, hh: bbox_h}'
expect_exit 2 "$wb" validate "$out/field.yaml"
expect_grep "field.yaml:10:44: data.patch.box: unknown box field 'hh'" "$out/stderr"
config origin.yaml "  task: patch" '    box: {cx: bbox_x, cy: bbox_y, r: bbox_w, y_origin: left}'
expect_exit 2 "$wb" validate "$out/origin.yaml"
expect_grep "origin.yaml:10:[0-9]+: data.patch.box: y_origin: expected top or bottom, got 'left'" "$out/stderr"
config size0.yaml "  task: patch" "$BOX
    size: 0"
expect_exit 2 "$wb" validate "$out/size0.yaml"
expect_grep 'size0.yaml:11:11: data.patch.size: expected a number from 1 to 4096' "$out/stderr"
config multi.yaml "  task: patch
  classes: [normal, benign, malignant]" "$BOX"
expect_exit 2 "$wb" validate "$out/multi.yaml"
expect_grep 'multi.yaml:9:12: data.classes: data.task: patch takes binary labels' "$out/stderr"
# a patch larger than the stored images (160x200): a config error at data.patch.size
config big.yaml "  task: patch" "$BOX
    size: 170"
expect_exit 2 "$wb" -q run "$out/big.yaml" --out "$out/runs-big"
expect_grep 'big.yaml:11:11: data.patch.size: a patch of 170 pixels is larger than the 160x200 image' "$out/stderr"

# --- a patch run ---
config p.yaml "  task: patch" "$BOX
    size: 32
    jitter: 2
    background: 2
    stride: 16"
expect_exit 0 "$wb" -q run "$out/p.yaml" --out "$out/runs" --timestamp T
run=$(ls -d "$out"/runs/patch-T-????????)
for f in patches.csv predictions_image.csv heatmaps.csv metrics.json report.html report.md; do
  expect_eq "$([ -s "$run/$f" ] && echo yes)" yes "$f written"
done
expect_grep '"task": "patch"' "$run/metrics.json"
# patches carry the format of the file they were cut from (DICOM here: no "not DICOM" note)
expect_grep '"non_dicom_images": 0, "formats": \{"dicom": ' "$run/metrics.json"
expect_grep '"whole_image": \{"images": 48, "scored": 48' "$run/metrics.json"
expect_grep 'patch level' "$run/report.md"
expect_grep 'Whole images' "$run/report.md"
# one lesion patch per box row, two background patches per image without a box
boxes=$(awk -F, 'NR > 1 && $8 != ""' "$out/data/labels.csv" | wc -l)
normal=$(awk -F, 'NR > 1 && $8 == ""' "$out/data/labels.csv" | wc -l)
expect_eq "$(grep -c ',lesion,' "$run/patches.csv")" "$boxes" "lesion patches"
expect_eq "$(grep -c ',background,' "$run/patches.csv")" "$((2 * normal))" "background patches"
# every square inside its image; lesion squares of side 32 unless the box is larger
expect_eq "$(awk -F, 'NR > 1 && ($7 < 0 || $8 < 0 || $7 + $9 > $10 || $8 + $9 > $11)' "$run/patches.csv" | wc -l)" 0 "squares inside"
# each image's score is the maximum of its heat map (first repeat, every variant)
bad=$(awk -F, 'FNR == 1 { next } FILENAME ~ /heatmaps/ { k = $1 "|" $2; if (!(k in m) || $9 + 0 > m[k]) m[k] = $9 + 0; next }
               { k = $3 "|" $4; n++; if (!(k in m) || m[k] != $9 + 0) bad++ } END { print n + 0, bad + 0 }' \
       "$run/heatmaps.csv" "$run/predictions_image.csv")
expect_eq "$bad" "96 0" "image scores = heat-map maxima (images x variants, mismatches)"
# the same bits again (the same runs directory: the same pseudonym key; the report names its
# run), with every patch and window read back from the spill file (data.memory_mb: 0)
expect_exit 0 "$wb" run "$out/p.yaml" --out "$out/runs" --timestamp T --set data.memory_mb=0
run2=$(cat "$out/stdout")
expect_grep 'data: the patches and windows take more than data.memory_mb \(0 MB\): they are kept on disk' "$out/stderr"
expect_eq "$(ls -a "$out/runs/cache" | grep -c wb-spill || true)" 0 "the spill file is unlinked"
for f in predictions.csv predictions_image.csv heatmaps.csv patches.csv patches.png folds.csv metrics.csv; do
  checks=$((checks + 1))
  cmp -s "$run/$f" "$run2/$f" || { fails=$((fails + 1)); echo "FAIL: $f differs between two runs" >&2; }
done
# two threads (the windows made in batches over both): the same bits as one
expect_exit 0 "$wb" -q run "$out/p.yaml" --out "$out/runs" --timestamp T2 --set threads=2
run3=$(ls -d "$out"/runs/patch-T2-????????)
for f in predictions.csv predictions_image.csv heatmaps.csv patches.csv patches.png folds.csv metrics.csv; do
  checks=$((checks + 1))
  cmp -s "$run/$f" "$run3/$f" || { fails=$((fails + 1)); echo "FAIL: $f differs between 1 and 2 threads" >&2; }
done
# the report (with its embedded contact sheet) comes out the same when made again from the files
cp "$run/report.html" "$out/report1.html"
expect_exit 0 "$wb" -q report "$run"
expect_eq "$(cmp "$out/report1.html" "$run/report.html" && echo same)" same "report.html made again"
expect_grep "img-src data:" "$run/report.html"
expect_grep '<img alt="example patches" src="data:image/png;base64,iVBORw0KGgo' "$run/report.html"

# --- edge cases from an edited labels file ---
lab="$out/data/edge.csv"
awk -F, -v OFS=, 'NR == 1 { print; next }
  $8 != "" && !done1 { $8 = 0; $9 = 0; $10 = 10; $11 = 10; done1 = 1; print; next }      # top-left corner
  $8 != "" && !done2 { $8 = 150; $9 = 190; $10 = 10; $11 = 10; done2 = 1; print; next }  # bottom-right corner
  $8 != "" && !done3 { $8 = 40; $9 = 50; $10 = 60; $11 = 40; done3 = 1; print; next }   # larger than the patch
  $8 != "" && !done4 { $8 = 5000; done4 = 1; print; next }                               # outside
  { print }' "$out/data/labels.csv" >"$lab"
outline=$(awk -F, '$8 == 5000 { print NR }' "$lab")
config edge.yaml "  task: patch" "$BOX
    size: 32
    stride: 16
    whole_image: false" data/edge.csv
expect_exit 0 "$wb" -q run "$out/edge.yaml" --out "$out/runs-edge" --timestamp T
erun=$(ls -d "$out"/runs-edge/patch-T-*)
expect_eq "$(awk -F, '$3 == "lesion" && $7 == 0 && $8 == 0 && $9 == 32' "$erun/patches.csv" | wc -l | tr -d ' ')" 1 "corner box: shifted inside"
expect_eq "$(awk -F, '$3 == "lesion" && $7 == 168 && $8 == 128 && $9 == 32' "$erun/patches.csv" | wc -l | tr -d ' ')" 1 "far corner box: shifted inside"
# 60 x 40 box: a square of 60 * 1.2 = 72 around its centre (70, 70): row 34, col 34
expect_eq "$(awk -F, '$3 == "lesion" && $7 == 34 && $8 == 34 && $9 == 72' "$erun/patches.csv" | wc -l | tr -d ' ')" 1 "large box: grown square"
expect_grep "edge.csv:$outline: the box centre \(x 50[0-9.]+, y [0-9.]+\) is outside the 160x200 image" "$erun/excluded.csv"
expect_no_grep 'whole_image' "$erun/metrics.json"
# under on_error: fail the same box stops the run: exit 3 naming the file and line
expect_exit 3 "$wb" -q run "$out/edge.yaml" --out "$out/runs-edge2" --set data.on_error=fail
expect_grep "edge.csv:$outline: .*the box centre \(x 50[0-9.]+, y" "$out/stderr"
# no tissue to sample a background square from
config tissue.yaml "  task: patch" "$BOX
    size: 150
    min_tissue: 1"
expect_exit 3 "$wb" -q run "$out/tissue.yaml" --out "$out/runs-tissue" --set data.on_error=fail
expect_grep 'no breast tissue to sample a background patch from: no 150x150 square is at least 100% inside the breast' "$out/stderr"

# --- centre-and-radius boxes counted from the bottom row, two rows for one image ---
mias="$out/data/mias.csv"
awk -F, -v OFS=, 'NR == 1 { print "file,patient_id,label,x,y,radius"; next }
  { if ($8 == "") { print $1, $3, $6, "", "", ""; next }
    cx = $8 + $10 / 2; cy = 200 - ($9 + $11 / 2); r = ($10 > $11 ? $10 : $11) / 2
    print $1, $3, $6, cx, cy, r
    if (!twice) { print $1, $3, $6, cx, (cy > 100 ? cy - 20 : cy + 20), 5; twice = 1 } }' "$out/data/labels.csv" >"$mias"
config mias.yaml "  task: patch" "    box: {cx: x, cy: y, r: radius, y_origin: bottom}
    size: 32
    whole_image: false" data/mias.csv
expect_exit 0 "$wb" -q run "$out/mias.yaml" --out "$out/runs-mias" --timestamp T
mrun=$(ls -d "$out"/runs-mias/patch-T-*)
expect_eq "$(grep -c ',lesion,' "$mrun/patches.csv")" "$((boxes + 1))" "one lesion patch per row, repeated file rows included"
expect_eq "$(grep -c '/L2,' "$mrun/patches.csv")" 1 "the repeated image's second box"
# the same squares as the corner boxes of the edge run (jitter 0) on the boxes it left as they were
edited=$(awk -F, 'NR > 1 && ($8 == 0 || $8 == 150 || $8 == 5000 || ($8 == 40 && $10 == 60)) { print $1 }' "$lab" | tr '\n' ' ')
expect_eq "$(awk -F, -v edited="$edited" 'BEGIN { n = split(edited, e, " "); for (i = 1; i <= n; i++) skip[e[i]] = 1 }
  FNR == 1 { next }
  FILENAME ~ /runs-mias/ { if ($3 == "lesion" && $1 ~ /L1$/ && !($2 in skip)) m[$1] = $7 "," $8 "," $9; next }
  $3 == "lesion" { c[$1] = $7 "," $8 "," $9 }
  END { for (k in m) { n2++; if (m[k] != c[k]) bad++ } if (n2 > 0 && bad == 0) print "same"; else print "differ", bad + 0, n2 + 0 }' \
  "$mrun/patches.csv" "$erun/patches.csv")" same "centre-and-radius boxes give the corner boxes' squares"
finish
