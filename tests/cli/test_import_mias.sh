#!/usr/bin/env bash
# Real film mammograms as downloaded: `workbench import mini-mias` on the 16 mini-MIAS films of
# shared/data (read-only, not copied), then a tiny config over that import validates and runs
# (baseline and a frozen backbone, 2 folds, 40x32 inputs). Skipped (77) when the films are absent.
# Args: WORKBENCH MIAS_DIR WEIGHTS_DIR OUT_DIR
set -euo pipefail
wb=$1 mias=$2 weights=$3 out=$4
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"
for f in Info.txt mdb001.pgm mdb254.pgm; do
  [ -f "$mias/$f" ] || { echo "SKIP: $mias/$f is absent (the mini-MIAS sample of shared/data/mini-mias-sample, from the MIAS MiniMammographic Database)"; exit 77; }
done
[ -f "$weights/resnet20-12fca82f.th" ] || { echo "missing $weights/resnet20-12fca82f.th (the CIFAR ResNet-20 of akamaster/pytorch_resnet_cifar10, kept in ../shared/weights)" >&2; exit 1; }
expect_exit 0 "$wb" import mini-mias "$mias" --out "$out/labels.csv"
expect_eq "$(tail -n +2 "$out/labels.csv" | wc -l)" 16 "one row per film"
expect_grep '16 images of 8 patients .* \(normal 8, benign 3, malignant 5; 8 with a box\) from 18 annotation rows' "$out/stderr"
# mdb249: two calcification clusters on one film (Info.txt lines 249 x2), the first one's box in bbox_*
expect_grep '^mdb249.pgm,,mias125,R,MLO,malignant,calcification,496,468,96,96,dense-glandular,0.2,,CALC\+M,2,511 321 128 128$' "$out/labels.csv"
# inspect on a PGM says what it knows and that there is no DICOM header
expect_exit 0 "$wb" inspect "$mias/mdb001.pgm"
expect_grep '"format":"pgm","dicom_metadata":false,"patient_id":null,.*"laterality":null,.*"rows":1024,"columns":1024,"bits_allocated":8,"bits_stored":8' "$out/stdout"
write_config "$out/mias.yaml" name mias dir "$mias" labels "$out/labels.csv" size 40x32 variants "baseline frozen" \
  data "group_column: patient_id; positive: malignant" train "epochs: 2; batch_size: 8"
expect_exit 0 "$wb" validate "$out/mias.yaml"
expect_exit 0 "$wb" run "$out/mias.yaml" --out "$out/runs" --timestamp 20260101T000000Z
run=$(cat "$out/stdout")
expect_grep '"data": \{"images": 16, "patients": 8, "positive_images": 5, "excluded": 0, "non_dicom_images": 16, "formats": \{"pgm": 16\}\}' "$run/metrics.json"
expect_eq "$(head -1 "$run/manifest.csv")" "file,sop_instance_uid,sha256,label,patient,laterality,view,format" "manifest header"
expect_eq "$(tail -n +2 "$run/manifest.csv" | cut -d, -f6-8 | sort | uniq -c | awk '{print $1, $2}' | paste -sd' ')" "8 L,MLO,pgm 8 R,MLO,pgm" "laterality and view from the labels CSV, format pgm"
expect_grep '16 of the images are not DICOM \(16 pgm\): no DICOM metadata was available for them' "$run/report.md"
expect_grep 'no DICOM metadata was available' "$run/report.html"
expect_grep '^0,pooled,frozen,image,auc,[0-9.]+,' "$run/metrics.csv"
# lesion patches sized in mm: a PGM has no pixel spacing, so the labels' pixel_spacing_mm (0.2,
# written by the import) sizes them: 19.2 mm = 96 px background squares
write_config "$out/mm.yaml" name mm dir "$mias" labels "$out/labels.csv" size 32x32 variants baseline \
  data "  group_column: patient_id
  positive: malignant
  task: patch
  patch:
    box: {x: bbox_x, y: bbox_y, w: bbox_w, h: bbox_h}
    unit: mm
    size: 19.2
    background: 1
    whole_image: false"
expect_exit 0 "$wb" run "$out/mm.yaml" --out "$out/runs" --timestamp 20260101T000000Z
run=$(cat "$out/stdout")
expect_eq "$(grep -c ',background,' "$run/patches.csv")" 8 "one background patch per normal film"
expect_eq "$(grep ',background,' "$run/patches.csv" | cut -d, -f9 | sort -u)" 96 "19.2 mm at the labels' 0.2 mm per pixel"
# a bad spacing cell is an error at its line and column
sed '3s/,0\.2,/,-1,/' "$out/labels.csv" > "$out/bad_spacing.csv"
sed "s#labels: $out/labels.csv#labels: $out/bad_spacing.csv#" "$out/mm.yaml" > "$out/bad_spacing.yaml"
expect_exit 3 "$wb" run "$out/bad_spacing.yaml" --out "$out/runs"
expect_grep "bad_spacing.csv:3:13: pixel_spacing_mm: expected a pixel spacing in mm \(0 < value <= 100\), got '-1'" "$out/stderr"
# every row's cell counts, not only an image's first row: a bad cell on a second box row of
# mdb001 is an error at its line, and an image whose first row has none takes a later row's
awk -F, -v OFS=, 'NR == 2 { print; $13 = "-1"; $8 = 100; print; next } { print }' "$out/labels.csv" > "$out/bad_later.csv"
sed "s#labels: $out/labels.csv#labels: $out/bad_later.csv#" "$out/mm.yaml" > "$out/bad_later.yaml"
expect_exit 3 "$wb" run "$out/bad_later.yaml" --out "$out/runs"
expect_grep "bad_later.csv:3:13: pixel_spacing_mm: expected a pixel spacing in mm \(0 < value <= 100\), got '-1'" "$out/stderr"
awk -F, -v OFS=, 'NR == 2 { $13 = ""; print; $13 = "0.2"; $8 = 100; print; next } { print }' "$out/labels.csv" > "$out/later.csv"
sed "s#labels: $out/labels.csv#labels: $out/later.csv#" "$out/mm.yaml" > "$out/later.yaml"
expect_exit 0 "$wb" run "$out/later.yaml" --out "$out/runs" --timestamp 20260101T000001Z
run=$(cat "$out/stdout")
expect_no_grep 'mdb001' "$run/excluded.csv"
expect_eq "$(grep -c '^[^,]*,mdb001.pgm,lesion,' "$run/patches.csv")" 2 "both boxes of mdb001 cut at the later row's spacing"
# two rows of one image with different spacings contradict each other: an error at the second
awk -F, -v OFS=, 'NR == 2 { print; $13 = "0.1"; $8 = 100; print; next } { print }' "$out/labels.csv" > "$out/two_spacings.csv"
sed "s#labels: $out/labels.csv#labels: $out/two_spacings.csv#" "$out/mm.yaml" > "$out/two_spacings.yaml"
expect_exit 3 "$wb" run "$out/two_spacings.yaml" --out "$out/runs"
expect_grep "two_spacings.csv:3:13: pixel_spacing_mm: mdb001.pgm has pixel_spacing_mm 0.1 here and 0.2 on an earlier row of it \(its first row: line 2\)" "$out/stderr"
finish
