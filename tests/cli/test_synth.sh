#!/usr/bin/env bash
# workbench synth: byte-identical output for the same arguments, a complete labels.csv, the
# variety the issue asks for, readable by inspect, and no PatientName in what inspect prints.
# Args: WORKBENCH OUT_DIR
set -euo pipefail
wb=$1 out=$2
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"

args=(--patients 12 --seed 11 --size 256x320)
expect_exit 0 "$wb" synth --out "$out/a" "${args[@]}"
expect_exit 0 "$wb" synth --out "$out/b" "${args[@]}"
checks=$((checks + 1))
if ! diff -r "$out/a" "$out/b" >"$out/diff.txt"; then fails=$((fails + 1)); echo "FAIL: same seed, different files" >&2; head "$out/diff.txt" >&2; fi
expect_exit 0 "$wb" synth --out "$out/c" --patients 12 --seed 12 --size 256x320
checks=$((checks + 1))
if cmp -s "$out/a/labels.csv" "$out/c/labels.csv"; then fails=$((fails + 1)); echo "FAIL: another seed gave the same labels" >&2; fi

csv=$out/a/labels.csv
expect_eq "$(head -1 "$csv")" "file,sop_instance_uid,patient_id,laterality,view,label,lesion_type,bbox_x,bbox_y,bbox_w,bbox_h,density,manufacturer,transfer_syntax" "labels header"
expect_eq "$(tail -n +2 "$csv" | wc -l)" 48 "one row per image"
expect_eq "$(find "$out/a" -name '*.dcm' | wc -l)" 48 "4 views per patient"
for v in L,CC L,MLO R,CC R,MLO; do expect_eq "$(grep -c ",$v," "$csv")" 12 "rows for $v"; done
expect_grep ',malignant,(spiculated_mass|clustered_calcifications),[0-9]+,[0-9]+,[0-9]+,[0-9]+,' "$csv"
expect_grep ',benign,(circumscribed_mass|scattered_calcifications),' "$csv"
expect_grep ',normal,,,,,,' "$csv"
# a lesion is in both views of its breast: per (patient, side), CC and MLO share the label
checks=$((checks + 1))
if [ -n "$(tail -n +2 "$csv" | awk -F, '{k=$3","$4; if (k in l && l[k]!=$6","$7) print k; l[k]=$6","$7}')" ]; then
  fails=$((fails + 1)); echo "FAIL: CC and MLO of one breast disagree" >&2
fi

expect_exit 0 "$wb" inspect "$out/a"
j=$out/stdout
cp "$j" "$out/inspect.jsonl"
j=$out/inspect.jsonl
expect_eq "$(grep -c '"ok":true' "$j")" 48 "every synthetic file reads"
expect_grep '"photometric_interpretation":"MONOCHROME1"' "$j"
expect_grep '"photometric_interpretation":"MONOCHROME2"' "$j"
expect_grep '"bits_stored":12' "$j"
expect_grep '"bits_stored":14' "$j"
expect_grep '"transfer_syntax_uid":"1.2.840.10008.1.2.4.70"' "$j"
expect_grep '"transfer_syntax_uid":"1.2.840.10008.1.2.4.80"' "$j"
expect_grep '"sop_class_uid":"1.2.840.10008.5.1.4.1.1.1.2"' "$j"
expect_grep '"presentation_intent_type":"FOR PRESENTATION"' "$j"
expect_grep '"view_position":"MLO"' "$j"
expect_no_grep 'SYNTHETIC\^' "$j"
# the UIDs in the files are the ones labels.csv lists
checks=$((checks + 1))
if [ "$(grep -o '"sop_instance_uid":"[^"]*"' "$j" | cut -d'"' -f4 | sort)" != "$(tail -n +2 "$csv" | cut -d, -f2 | sort)" ]; then
  fails=$((fails + 1)); echo "FAIL: SOP Instance UIDs differ between files and labels.csv" >&2
fi
# one study per patient
expect_eq "$(grep -o '"study_instance_uid":"[^"]*"' "$j" | sort -u | wc -l)" 12 "studies"

# --transfer-syntax: the same cohort as JPEG 2000 lossless and as explicit VR little endian
# reads the same (pixel statistics and all metadata but the syntax); bad names are usage errors
small=(--patients 2 --seed 11 --size 128x160)
expect_exit 0 "$wb" synth --out "$out/j2k" "${small[@]}" --transfer-syntax j2k
expect_exit 0 "$wb" synth --out "$out/le" "${small[@]}" --transfer-syntax explicit_le
expect_eq "$(tail -n +2 "$out/j2k/labels.csv" | cut -d, -f14 | sort -u)" "j2k" "labels say j2k"
expect_exit 0 "$wb" inspect "$out/j2k"
expect_eq "$(grep -c '"transfer_syntax_uid":"1.2.840.10008.1.2.4.90"' "$out/stdout")" 8 "j2k files"
sed -e 's/"path":"[^"]*"//' -e 's/"transfer_syntax_[a-z]*":"[^"]*"//g' "$out/stdout" >"$out/j2k.txt"
expect_exit 0 "$wb" inspect "$out/le"
sed -e 's/"path":"[^"]*"//' -e 's/"transfer_syntax_[a-z]*":"[^"]*"//g' "$out/stdout" >"$out/le.txt"
checks=$((checks + 1))
if ! cmp -s "$out/j2k.txt" "$out/le.txt"; then fails=$((fails + 1)); echo "FAIL: j2k and explicit_le cohorts read differently" >&2; diff "$out/j2k.txt" "$out/le.txt" | head -4 >&2; fi
expect_grep '"pixel_mean":' "$out/j2k.txt"
expect_exit 0 "$wb" synth --out "$out/mixed" "${small[@]}" --transfer-syntax explicit_le,j2k,rle
expect_grep ',j2k$' "$out/mixed/labels.csv"
expect_exit 2 "$wb" synth --out "$out/bad" "${small[@]}" --transfer-syntax explicit_le,jpeg2000
expect_grep "'jpeg2000' is not one of" "$out/stderr"
finish
