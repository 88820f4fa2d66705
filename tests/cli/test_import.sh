#!/usr/bin/env bash
# workbench import on small annotation files with each dataset's exact header rows (made-up
# values, tests/cli/data/import/): the labels CSV each format gives, the options, and errors
# that name the file, line and column. The image files the rows point to are made here
# (empty: import only checks that they exist). Args: WORKBENCH FIXTURE_DIR OUT_DIR
set -euo pipefail
wb=$1 fx=$2 out=$3
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"
H='file,sop_instance_uid,patient_id,laterality,view,label,lesion_type,bbox_x,bbox_y,bbox_w,bbox_h,density,pixel_spacing_mm,split,source_label,n_findings,extra_boxes'
row() { sed -n "$(($1 + 1))p" "$2"; }

# ---- CBIS-DDSM: the TCIA download's folders, one file at the sheet's own path, the Kaggle JPEG copy
s=$out/cbis; mkdir -p "$s/csv"
cp "$fx/cbis/"*.csv "$s/csv/"
t() { mkdir -p "$(dirname "$s/$1")"; : >"$s/$1"; }
# real files where the ROI masks are read (tests/cli/data/import/cbis_roi/make_fixtures.py): the
# crop and the mask share the ROI folder, mask second; the MLO film's mask is of another size;
# the JPEG copy's mask is blurred by its compression
roi=$fx/cbis_roi
c() { mkdir -p "$(dirname "$s/$2")"; cp "$roi/$1" "$s/$2"; }
c film.dcm "CBIS-DDSM/Mass-Training_P_00001_LEFT_CC/07-20-2016-DDSM-74994/1.000000-full mammogram images-24515/1-1.dcm"
c crop.dcm "CBIS-DDSM/Mass-Training_P_00001_LEFT_CC_1/07-21-2016-DDSM-30278/1.000000-ROI mask images-39457/1-1.dcm"
c mask.dcm "CBIS-DDSM/Mass-Training_P_00001_LEFT_CC_1/07-21-2016-DDSM-30278/1.000000-ROI mask images-39457/1-2.dcm"
c film.dcm "CBIS-DDSM/Mass-Training_P_00001_LEFT_MLO/07-20-2016-DDSM-90988/1.000000-full mammogram images-80834/1-1.dcm"
c mask_small.dcm "CBIS-DDSM/Mass-Training_P_00001_LEFT_MLO_1/07-21-2016-DDSM-30279/1.000000-ROI mask images-39458/1-1.dcm"
c crop.jpg "jpeg/1.3.6.1.4.1.9590.100.1.2.2014/1-1.jpg"
c mask.jpg "jpeg/1.3.6.1.4.1.9590.100.1.2.2014/2-1.jpg"
t "Mass-Training_P_00004_RIGHT_MLO/1.3.6.1.4.1.9590.100.1.2.1021/1.3.6.1.4.1.9590.100.1.2.1022/000000.dcm"
t "CBIS-DDSM/Mass-Test_P_00017_RIGHT_CC/10-04-2016-DDSM-29383/1.000000-full mammogram images-22301/1-1.dcm"
t "jpeg/1.3.6.1.4.1.9590.100.1.2.2012/1-263.jpg"
t "CBIS-DDSM/Calc-Test_P_00038_LEFT_MLO/08-29-2017-DDSM-96628/1.000000-full mammogram images-24031/1-1.dcm"
expect_exit 0 "$wb" import cbis-ddsm "$s" --out "$out/cbis.csv"
expect_eq "$(row 0 "$out/cbis.csv")" "$H" "header"
expect_eq "$(tail -n +2 "$out/cbis.csv" | wc -l)" 6 "cbis: one row per film found"
expect_eq "$(row 1 "$out/cbis.csv")" "CBIS-DDSM/Mass-Training_P_00001_LEFT_CC/07-20-2016-DDSM-74994/1.000000-full mammogram images-24515/1-1.dcm,,P_00001,L,CC,malignant,mass+calcification,5,10,12,10,c,,train,MALIGNANT+BENIGN,2," "cbis: the mass and calc sheets' film is one row, malignant if any finding is; the box from the mass's ROI mask (the calc's mask is not there)"
expect_eq "$(row 3 "$out/cbis.csv")" "Mass-Training_P_00004_RIGHT_MLO/1.3.6.1.4.1.9590.100.1.2.1021/1.3.6.1.4.1.9590.100.1.2.1022/000000.dcm,,P_00004,R,MLO,malignant,mass,,,,,a,,train,BENIGN+MALIGNANT,2," "cbis: two findings on one film"
expect_eq "$(row 4 "$out/cbis.csv")" "CBIS-DDSM/Mass-Test_P_00017_RIGHT_CC/10-04-2016-DDSM-29383/1.000000-full mammogram images-22301/1-1.dcm,,P_00017,R,CC,malignant,mass,,,,,d,,test,MALIGNANT,1," "cbis: test split"
expect_eq "$(row 5 "$out/cbis.csv")" "jpeg/1.3.6.1.4.1.9590.100.1.2.2012/1-263.jpg,,P_00005,R,CC,malignant,calcification,5,10,12,10,c,,train,MALIGNANT,1," "cbis: the JPEG copy, path with a trailing newline; the box from its blurred JPEG mask"
expect_grep 'Mass-Test_P_00016_LEFT_CC/.*not found; the row is left out' "$out/stderr"
expect_grep '6 images of 5 patients .* \(normal 0, benign 1, malignant 5; 2 with a box\) from 9 annotation rows; 1 not found, 0 filtered out' "$out/stderr"
expect_grep 'ROI masks: 2 boxes read, 6 masks not under SOURCE, 1 not the film.s size' "$out/stderr"
expect_grep 'mass_case_description_train_set.csv:3: the ROI mask CBIS-DDSM/Mass-Training_P_00001_LEFT_MLO_1/.*/1-1.dcm is not the size of the film .* \(40x48\): no box from it' "$out/stderr"
expect_eq "$(row 2 "$out/cbis.csv" | cut -d, -f8-11)" ",,," "cbis: no box from a mask of another size"
expect_exit 0 "$wb" import cbis-ddsm "$s" --out "$out/cbis_nobox.csv" --no-roi-boxes
expect_eq "$(tail -n +2 "$out/cbis_nobox.csv" | cut -d, -f8-11 | sort -u)" ",,," "cbis: --no-roi-boxes reads no mask"
# an ROI mask file that cannot be read: the sheet's line and column, and the file
: >"$s/jpeg/1.3.6.1.4.1.9590.100.1.2.2014/3-1.jpg"
expect_exit 3 "$wb" import cbis-ddsm "$s" --out "$out/bad.csv"
expect_grep 'calc_case_description_train_set.csv:4:14: ROI mask file path: .*/jpeg/1.3.6.1.4.1.9590.100.1.2.2014/3-1.jpg: ' "$out/stderr"
expect_eq "$(test -e "$out/bad.csv" && echo written || echo absent)" absent "no labels CSV after the error"
rm "$s/jpeg/1.3.6.1.4.1.9590.100.1.2.2014/3-1.jpg"
# BENIGN_WITHOUT_CALLBACK as the user chooses; --keep-missing; --views
expect_exit 0 "$wb" import cbis-ddsm "$s" --out "$out/cbis2.csv" --keep-missing --benign-without-callback normal --views CC
expect_eq "$(tail -n +2 "$out/cbis2.csv" | cut -d, -f3-6 | paste -sd' ')" "P_00001,L,CC,malignant P_00016,L,CC,normal P_00017,R,CC,malignant P_00005,R,CC,malignant" "cbis: BWC normal, CC only, missing kept"
expect_exit 0 "$wb" import cbis-ddsm "$s" --out "$out/cbis3.csv" --keep-missing
expect_grep '^Mass-Test_P_00016_LEFT_CC/[^,]*,,P_00016,L,CC,benign,mass,,,,,b,,test,BENIGN_WITHOUT_CALLBACK,1,$' "$out/cbis3.csv"
# errors name the sheet, line and column
sed 's/^P_00004,1,RIGHT,MLO,2/P_00004,1,RIGTH,MLO,2/' "$fx/cbis/mass_case_description_train_set.csv" >"$s/csv/mass_case_description_train_set.csv"
expect_exit 3 "$wb" import cbis-ddsm "$s" --out "$out/bad.csv"
expect_grep 'mass_case_description_train_set.csv:5:3: left or right breast: expected LEFT or RIGHT, got .RIGTH.' "$out/stderr"
sed 's/,MALIGNANT,4,Mass-Training_P_00001_LEFT_MLO/,MALIGN,4,Mass-Training_P_00001_LEFT_MLO/' "$fx/cbis/mass_case_description_train_set.csv" >"$s/csv/mass_case_description_train_set.csv"
expect_exit 3 "$wb" import cbis-ddsm "$s" --out "$out/bad.csv"
expect_grep 'mass_case_description_train_set.csv:3:10: pathology: expected MALIGNANT, BENIGN or BENIGN_WITHOUT_CALLBACK, got .MALIGN.' "$out/stderr"
sed '1s/left or right breast/side/' "$fx/cbis/mass_case_description_train_set.csv" >"$s/csv/mass_case_description_train_set.csv"
expect_exit 3 "$wb" import cbis-ddsm "$s" --out "$out/bad.csv"
expect_grep "mass_case_description_train_set.csv:1: no column 'left or right breast'" "$out/stderr"
checks=$((checks + 1)); [ ! -e "$out/bad.csv" ] || { fails=$((fails + 1)); echo "FAIL: bad.csv written after an error" >&2; }
expect_exit 3 "$wb" import cbis-ddsm "$fx/rsna" --out "$out/bad.csv"
expect_grep 'none of the CBIS-DDSM case-description sheets' "$out/stderr"

# ---- VinDr-Mammo
s=$out/vindr; mkdir -p "$s"; cp "$fx/vindr/"*.csv "$s/"
tail -n +2 "$s/breast-level_annotations.csv" | while IFS=, read -r st se im rest; do mkdir -p "$s/images/$st"; : >"$s/images/$st/$im.dicom"; done
expect_exit 0 "$wb" import vindr "$s" --out "$out/vindr.csv"
expect_eq "$(tail -n +2 "$out/vindr.csv" | wc -l)" 8 "vindr rows"
expect_eq "$(row 1 "$out/vindr.csv")" "images/a1f0c2d3e4b5a6978d0e1f2a3b4c5d6e/c0ffee00112233445566778899aabb01.dicom,,a1f0c2d3e4b5a6978d0e1f2a3b4c5d6e,L,CC,normal,,,,,,c,,training,BI-RADS 1,0," "vindr: BI-RADS 1, no finding"
expect_eq "$(row 3 "$out/vindr.csv" | cut -d, -f6)" "benign" "vindr: BI-RADS 2 is benign"
expect_eq "$(row 5 "$out/vindr.csv")" "images/f9e8d7c6b5a4938271605f4e3d2c1b0a/d00d00112233445566778899aabbcc01.dicom,,f9e8d7c6b5a4938271605f4e3d2c1b0a,L,CC,malignant,mass,1520,981,193,209,b,,test,BI-RADS 4,1," "vindr: box from xmin..ymax, rounded"
expect_eq "$(row 6 "$out/vindr.csv")" "images/f9e8d7c6b5a4938271605f4e3d2c1b0a/d00d00112233445566778899aabbcc02.dicom,,f9e8d7c6b5a4938271605f4e3d2c1b0a,L,MLO,malignant,mass+suspicious_calcification,1402,1633,208,218,b,,test,BI-RADS 4,2,900 700 60 70" "vindr: the higher BI-RADS finding's box first, the other in extra_boxes"
expect_exit 0 "$wb" import vindr "$s" --out "$out/vindr3.csv" --birads-min 3
expect_eq "$(tail -n +2 "$out/vindr3.csv" | cut -d, -f6 | paste -sd' ')" "normal normal benign benign malignant malignant malignant malignant" "vindr: --birads-min 3"
sed '4s/BI-RADS 2,DENSITY C/BI-RADS 7,DENSITY C/' "$fx/vindr/breast-level_annotations.csv" >"$s/breast-level_annotations.csv"
expect_exit 3 "$wb" import vindr "$s" --out "$out/bad.csv"
expect_grep 'breast-level_annotations.csv:4:8: breast_birads: expected BI-RADS 1 to 5, got .BI-RADS 7.' "$out/stderr"
cp "$fx/vindr/breast-level_annotations.csv" "$s/"
sed '6s/,1520.25,/,15x0,/' "$fx/vindr/finding_annotations.csv" >"$s/finding_annotations.csv"
expect_exit 3 "$wb" import vindr "$s" --out "$out/bad.csv"
expect_grep 'finding_annotations.csv:6:12: xmin: expected a pixel coordinate, got .15x0.' "$out/stderr"

# ---- RSNA 2023
s=$out/rsna; mkdir -p "$s"; cp "$fx/rsna/train.csv" "$s/"
tail -n +2 "$s/train.csv" | while IFS=, read -r site pid iid rest; do mkdir -p "$s/train_images/$pid"; : >"$s/train_images/$pid/$iid.dcm"; done
expect_exit 0 "$wb" import rsna "$s" --out "$out/rsna.csv"
expect_eq "$(tail -n +2 "$out/rsna.csv" | wc -l)" 9 "rsna rows"
expect_eq "$(row 5 "$out/rsna.csv")" "train_images/10011/220375232.dcm,,10011,L,CC,benign,,,,,,b,,train,cancer=0 biopsy=1 invasive=0 BIRADS=0 site=1,1," "rsna: biopsied, no cancer: benign"
expect_eq "$(tail -n +2 "$out/rsna.csv" | cut -d, -f6 | paste -sd' ')" "normal normal normal normal benign benign malignant malignant malignant" "rsna labels"
expect_exit 0 "$wb" import rsna "$s" --out "$out/rsna2.csv" --sites 1 --views CC,MLO
expect_eq "$(tail -n +2 "$out/rsna2.csv" | cut -d, -f1 | paste -sd' ')" "train_images/10011/220375232.dcm train_images/10011/270344397.dcm train_images/10011/541722628.dcm train_images/10011/1031443799.dcm" "rsna: --sites 1 --views CC,MLO"
expect_grep '4 images of 1 patients .* 5 filtered out' "$out/stderr"
sed '3s/,0,0,0,,0,,29,/,2,0,0,,0,,29,/' "$fx/rsna/train.csv" >"$s/train.csv"
expect_exit 3 "$wb" import rsna "$s" --out "$out/bad.csv"
expect_grep 'train.csv:3:7: cancer: expected 0 or 1, got .2.' "$out/stderr"

# ---- mini-MIAS (annotations only; the real films are in cli.import_mias)
s=$out/mias; mkdir -p "$s"; cp "$fx/mias/Info.txt" "$s/"
for n in 001 002 003 004; do : >"$s/mdb$n.pgm"; done
expect_exit 0 "$wb" import mini-mias "$s" --out "$out/mias.csv"
expect_eq "$(row 1 "$out/mias.csv")" "mdb001.pgm,,mias001,R,MLO,benign,circumscribed_mass,338,402,394,394,fatty-glandular,0.2,,CIRC+B,1," "mias: box from centre/radius, bottom-left origin"
expect_eq "$(row 2 "$out/mias.csv")" "mdb002.pgm,,mias001,L,MLO,normal,,,,,,fatty-glandular,0.2,,NORM,0," "mias: even number is the left film of the same woman"
expect_eq "$(row 3 "$out/mias.csv")" "mdb003.pgm,,mias002,R,MLO,malignant,calcification,280,804,40,40,dense-glandular,0.2,,CALC+M,2," "mias: a line without centre and one with"
for b in tissue:3:8:'background tissue: expected F, G or D' severity:1:15:'severity: expected B or M after class CIRC' y:1:21:'y: expected a whole number of pixels'; do
  IFS=: read -r name line col msg <<<"$b"
  cp "$fx/mias/Info.bad-$name.txt" "$s/Info.txt"
  expect_exit 3 "$wb" import mini-mias "$s" --out "$out/bad.csv"
  expect_grep "Info.txt:$line:$col: $msg" "$out/stderr"
done

# ---- INbreast: INbreast.csv (semicolons, CRLF, padded ACR) + AllDICOMs/<File Name>_<patient>_MG_<side>_<view>_ANON.dcm
s=$out/inbreast; mkdir -p "$s/AllDICOMs"; cp "$fx/inbreast/INbreast.csv" "$s/"; cp -r "$fx/inbreast/AllXML" "$s/"
for f in 22678622_6b1f64a2a0e0fd3a_MG_R_CC_ANON 22678646_6b1f64a2a0e0fd3a_MG_R_ML_ANON 22678670_6b1f64a2a0e0fd3a_MG_L_CC_ANON \
         22678694_6b1f64a2a0e0fd3a_MG_L_ML_ANON 20586908_6c613a14b80a8591_MG_R_CC_ANON; do : >"$s/AllDICOMs/$f.dcm"; done
expect_exit 0 "$wb" import inbreast "$s" --out "$out/inbreast.csv"
expect_eq "$(tail -n +2 "$out/inbreast.csv" | cut -d, -f1-6,12,15 | paste -sd' ')" "AllDICOMs/22678622_6b1f64a2a0e0fd3a_MG_R_CC_ANON.dcm,,6b1f64a2a0e0fd3a,R,CC,normal,d,Bi-Rads 1 AllDICOMs/22678646_6b1f64a2a0e0fd3a_MG_R_ML_ANON.dcm,,6b1f64a2a0e0fd3a,R,MLO,normal,d,Bi-Rads 1 AllDICOMs/22678670_6b1f64a2a0e0fd3a_MG_L_CC_ANON.dcm,,6b1f64a2a0e0fd3a,L,CC,malignant,,Bi-Rads 4c AllDICOMs/22678694_6b1f64a2a0e0fd3a_MG_L_ML_ANON.dcm,,6b1f64a2a0e0fd3a,L,MLO,malignant,,Bi-Rads 5 AllDICOMs/20586908_6c613a14b80a8591_MG_R_CC_ANON.dcm,,6c613a14b80a8591,R,CC,benign,b,Bi-Rads 2" "inbreast rows: the patient from the file name, 4c is 4"
expect_grep '5 images of 2 patients .* 1 not found' "$out/stderr"
# the XML outlines: a mass (the box), calcification ROIs as one box (extra), the pectoral muscle
# left out; a spiculated region starting left of the image (clamped to column 0)
expect_eq "$(row 3 "$out/inbreast.csv" | cut -d, -f7-11,16,17)" "mass+calcification,1500,1990,81,91,2,1200 1700 35 15" "inbreast: boxes from AllXML/22678670.xml"
expect_eq "$(row 4 "$out/inbreast.csv" | cut -d, -f7-11,16,17)" "spiculated_region,0,300,41,51,1," "inbreast: boxes from AllXML/22678694.xml"
expect_eq "$(row 1 "$out/inbreast.csv" | cut -d, -f7-11,16)" ",,,,,0" "inbreast: no XML, no box"
expect_grep '\(normal 2, benign 1, malignant 2; 2 with a box\)' "$out/stderr"
# a damaged outline: the XML file, its line and column
sed 's/(1560.000000, 1990.100000)/(1560.000000, x)/' "$fx/inbreast/AllXML/22678670.xml" >"$s/AllXML/22678670.xml"
expect_exit 3 "$wb" import inbreast "$s" --out "$out/bad.csv"
expect_grep 'AllXML/22678670.xml:46:[0-9]+: Point_px: expected "\(x, y\)" \(two numbers\), got .\(1560.000000, x\).' "$out/stderr"
# a coordinate no image has (fuzz_import found it): it became bbox_x -2147483648 (a double
# cast to int, undefined behaviour); now an error at the point, and no labels CSV
sed 's/(1560.000000, 1990.100000)/(15101000000, 1990.100000)/' "$fx/inbreast/AllXML/22678670.xml" >"$s/AllXML/22678670.xml"
expect_exit 3 "$wb" import inbreast "$s" --out "$out/bad.csv"
expect_grep 'AllXML/22678670.xml:46:[0-9]+: Point_px: .\(15101000000, 1990.100000\). is not a pixel position: each coordinate must lie within -1000000 to 1000000 pixels' "$out/stderr"
checks=$((checks + 1)); [ ! -e "$out/bad.csv" ] || { fails=$((fails + 1)); echo "FAIL: bad.csv written after an error" >&2; }
printf '<?xml version="1.0"?>\n<!DOCTYPE plist [<!ENTITY a "aaaaaaaaaa">]>\n<plist><dict/></plist>\n' >"$s/AllXML/22678670.xml"
expect_exit 3 "$wb" import inbreast "$s" --out "$out/bad.csv"
expect_grep 'AllXML/22678670.xml:2:[0-9]+: .*not accepted' "$out/stderr"
head -c 700 "$fx/inbreast/AllXML/22678670.xml" >"$s/AllXML/22678670.xml"
expect_exit 3 "$wb" import inbreast "$s" --out "$out/bad.csv"
expect_grep 'AllXML/22678670.xml:[0-9]+:[0-9]+: not well-formed XML' "$out/stderr"
cp "$fx/inbreast/AllXML/22678670.xml" "$s/AllXML/"
expect_exit 0 "$wb" import inbreast "$s" --out "$out/inbreast5.csv" --birads-min 5
expect_eq "$(tail -n +2 "$out/inbreast5.csv" | cut -d, -f6 | paste -sd' ')" "normal normal benign malignant benign" "inbreast: --birads-min 5"
sed '4s/;4c/;4x/' "$fx/inbreast/INbreast.csv" >"$s/INbreast.csv"
expect_exit 3 "$wb" import inbreast "$s" --out "$out/bad.csv"
expect_grep 'INbreast.csv:4:8: Bi-Rads: expected 1 to 6 \(4a, 4b, 4c too\), got .4x.' "$out/stderr"
sed '1s/;Bi-Rads/;BIRADS/' "$fx/inbreast/INbreast.csv" >"$s/INbreast.csv"
expect_exit 3 "$wb" import inbreast "$s" --out "$out/bad.csv"
expect_grep "INbreast.csv:1:8: expected the INbreast header" "$out/stderr"

# ---- CMMD: one clinical row per breast; the images' own laterality (DICOM) decides their breast
s=$out/cmmd; mkdir -p "$s"; cp "$fx/cmmd/CMMD_clinicaldata_revision.csv" "$s/"
"$wb" --quiet synth --out "$out/cmmd_synth" --patients 4 --seed 3 --size 64x80 --transfer-syntax explicit_le >/dev/null
n=0
for id in D1-0001 D1-0002 D2-0001 D2-0002; do
  n=$((n + 1)); d="$s/CMMD/$id/07-18-2010-NA-NA-7918$n/1.000000-NA-7051$n"; mkdir -p "$d"
  k=0; for v in L_CC L_MLO R_CC R_MLO; do k=$((k + 1)); cp "$out/cmmd_synth/P000$n/$v.dcm" "$d/1-$k.dcm"; done
done
expect_exit 0 "$wb" import cmmd "$s" --out "$out/cmmd.csv"
expect_eq "$(tail -n +2 "$out/cmmd.csv" | cut -d, -f3-7,15,16 | paste -sd' ')" "D1-0001,R,CC,benign,calcification,Benign,1 D1-0001,R,MLO,benign,calcification,Benign,1 D1-0002,L,CC,benign,calcification,Benign,1 D1-0002,L,MLO,benign,calcification,Benign,1 D2-0001,L,CC,malignant,mass+calcification,Malignant Luminal B,1 D2-0001,L,MLO,malignant,mass+calcification,Malignant Luminal B,1 D2-0001,R,CC,malignant,mass,Malignant Luminal A,1 D2-0001,R,MLO,malignant,mass,Malignant Luminal A,1 D2-0002,R,CC,malignant,mass,Malignant HER2-enriched,1 D2-0002,R,MLO,malignant,mass,Malignant HER2-enriched,1" "cmmd: each image labelled by its breast's row (laterality from the DICOM)"
expect_eq "$(sed -n 2p "$out/cmmd.csv" | cut -d, -f1,2)" "CMMD/D1-0001/07-18-2010-NA-NA-79181/1.000000-NA-70511/1-3.dcm,$(cut -d, -f2 "$out/cmmd_synth/labels.csv" | sed -n 4p)" "cmmd: file and SOP UID"
expect_grep '10 images of 4 patients' "$out/stderr"
expect_grep '6 image\(s\) of breasts the clinical table does not list left out' "$out/stderr"
expect_exit 0 "$wb" import cmmd "$s" --out "$out/cmmd_all.csv" --other-breast normal --views CC
expect_eq "$(tail -n +2 "$out/cmmd_all.csv" | cut -d, -f3-6,15 | paste -sd' ')" "D1-0001,L,CC,normal,not in the clinical table D1-0001,R,CC,benign,Benign D1-0002,L,CC,benign,Benign D1-0002,R,CC,normal,not in the clinical table D2-0001,L,CC,malignant,Malignant Luminal B D2-0001,R,CC,malignant,Malignant Luminal A D2-0002,L,CC,normal,not in the clinical table D2-0002,R,CC,malignant,Malignant HER2-enriched" "cmmd: --other-breast normal, --views CC"
sed '3s/,L,40,/,X,40,/' "$fx/cmmd/CMMD_clinicaldata_revision.csv" >"$s/CMMD_clinicaldata_revision.csv"
expect_exit 3 "$wb" import cmmd "$s" --out "$out/bad.csv"
expect_grep 'CMMD_clinicaldata_revision.csv:3:2: LeftRight: expected L or R, got .X.' "$out/stderr"
sed '5s/,Malignant,/,Malign,/' "$fx/cmmd/CMMD_clinicaldata_revision.csv" >"$s/CMMD_clinicaldata_revision.csv"
expect_exit 3 "$wb" import cmmd "$s" --out "$out/bad.csv"
expect_grep 'CMMD_clinicaldata_revision.csv:5:6: classification: expected Benign or Malignant' "$out/stderr"
sed '5s/,R,57,2,/,L,57,2,/' "$fx/cmmd/CMMD_clinicaldata_revision.csv" >"$s/CMMD_clinicaldata_revision.csv"
expect_exit 3 "$wb" import cmmd "$s" --out "$out/bad.csv"
expect_grep 'CMMD_clinicaldata_revision.csv:5:1: ID1: breast D2-0001 L is listed twice' "$out/stderr"
# the table as TCIA ships it: the .xlsx (tests/io/make_xlsx_fixtures.py wrote it from the CSV
# above with openpyxl) gives the same rows
rm "$s/CMMD_clinicaldata_revision.csv"; cp "$fx/cmmd/CMMD_clinicaldata_revision.xlsx" "$s/"
expect_exit 0 "$wb" import cmmd "$s" --out "$out/cmmd_xlsx.csv"
expect_exit 0 cmp "$out/cmmd.csv" "$out/cmmd_xlsx.csv"
head -c 3000 "$fx/cmmd/CMMD_clinicaldata_revision.xlsx" >"$s/CMMD_clinicaldata_revision.xlsx"
expect_exit 3 "$wb" import cmmd "$s" --out "$out/bad.csv"
expect_grep 'CMMD_clinicaldata_revision.xlsx: not an .xlsx workbook \(no ZIP end-of-directory record\)' "$out/stderr"
rm "$s/CMMD_clinicaldata_revision.xlsx"
expect_exit 3 "$wb" import cmmd "$s" --out "$out/bad.csv"
expect_grep 'no CMMD_clinicaldata_revision.xlsx \(or .csv\) under this directory' "$out/stderr"

# ---- EMBED: image rows (metadata) joined to finding rows (clinical) by exam and side; the images
# at the tail of anon_dicom_path (the curators' absolute path) under SOURCE
s=$out/embed; mkdir -p "$s/tables"; cp "$fx/embed/"*.csv "$s/tables/"
for p in $(tail -n +2 "$fx/embed/EMBED_OpenData_metadata_reduced.csv" | cut -d, -f3 | grep -v '1052.dcm$'); do
  f=$s/${p#/mnt/NAS2/mammo/anon_dicom/}; mkdir -p "$(dirname "$f")"; : >"$f"
done
expect_exit 0 "$wb" import embed "$s" --out "$out/embed.csv"
expect_eq "$(tail -n +2 "$out/embed.csv" | cut -d, -f3-12,15,16 | paste -sd' ')" "10000101,L,CC,malignant,mass,20,10,40,30,c,path_severity=0 asses=S,1 10000101,L,MLO,malignant,mass,,,,,c,path_severity=0 asses=S,1 10000101,R,CC,normal,,,,,,c,asses=N,0 10000101,R,MLO,normal,,,,,,c,asses=N,0 10000102,L,CC,normal,,,,,,b,asses=B,0 10000102,R,MLO,normal,,,,,,b,asses=B,0 10000104,R,CC,benign,calcification,5,5,20,10,a,path_severity=4 asses=S,1 10000105,L,MLO,malignant,,,,,,b,asses=K,0" \
  "embed: cancer pathology of the side -> malignant, other pathology -> benign, BI-RADS 1/2 only -> normal, BI-RADS 6 -> malignant; ROI [ymin, xmin, ymax, xmax] -> x y w h"
expect_eq "$(sed -n 2p "$out/embed.csv" | cut -d, -f1)" "cohort_1/10000101/20000001/1.2.826.0.1.3680043.8.498.1011.dcm" "embed: the path's tail found under SOURCE"
expect_eq "$(sed -n 8p "$out/embed.csv" | cut -d, -f17)" "30 30 10 20" "embed: the second ROI in extra_boxes"
expect_grep '8 images of 4 patients .* 1 not found, 2 filtered out' "$out/stderr"
expect_grep '2 image\(s\) left out as unresolved: BI-RADS 0 or 3-5 without a linked pathology' "$out/stderr"
expect_grep '1 image\(s\) left out: .*EMBED_OpenData_clinical_reduced.csv has no row of their exam for their side' "$out/stderr"
# --follow-up (descriptor section IX): an exam without its own pathology takes a later exam's
# result, same patient and side, within the window: a recall (A) followed 23 days later by
# cancer -> malignant, a recall followed by a benign biopsy -> benign, a normal screening (B)
# followed by cancer 285 days later -> malignant at 365 days, still normal at 180
expect_exit 0 "$wb" import embed "$s" --out "$out/embed_fu.csv" --follow-up 365
expect_eq "$(diff <(tail -n +2 "$out/embed.csv" | cut -d, -f3-6,15) <(tail -n +2 "$out/embed_fu.csv" | cut -d, -f3-6,15) | grep '^[<>]' | paste -sd' ')" \
  "< 10000102,L,CC,normal,asses=B > 10000102,L,CC,malignant,asses=B follow-up path_severity=1 at +285 d > 10000103,R,CC,malignant,asses=A follow-up path_severity=0 at +23 d > 10000106,L,CC,benign,asses=A follow-up path_severity=4 at +20 d" \
  "embed --follow-up 365: three images credited with a later exam's pathology"
expect_grep '--follow-up 365: 3 image\(s\) labelled by a later exam.s pathology within 365 days \(2 malignant, 1 benign\)' "$out/stderr"
expect_exit 0 "$wb" import embed "$s" --out "$out/embed_fu.csv" --follow-up 180
expect_eq "$(grep -c 'follow-up' "$out/embed_fu.csv"),$(grep '/1.2.826.0.1.3680043.8.498.1021.dcm,' "$out/embed_fu.csv" | cut -d, -f6)" "2,normal" \
  "embed --follow-up 180: the cancer 285 days later is outside the window"
expect_exit 2 "$wb" import rsna "$s" --out "$out/bad.csv" --follow-up 365
expect_grep 'import: --follow-up applies to embed only' "$out/stderr"
sed '3s/,2017-03-02,/,March 2017,/' "$fx/embed/EMBED_OpenData_clinical_reduced.csv" >"$s/tables/EMBED_OpenData_clinical_reduced.csv"
expect_exit 3 "$wb" import embed "$s" --out "$out/bad.csv" --follow-up 365
expect_grep 'EMBED_OpenData_clinical_reduced.csv:3:3: study_date_anon: expected a date such as 2017-03-02 \(needed by --follow-up\), got .March 2017.' "$out/stderr"
expect_exit 0 "$wb" import embed "$s" --out "$out/embed_nofu.csv"
cp "$fx/embed/EMBED_OpenData_clinical_reduced.csv" "$s/tables/"
expect_exit 0 "$wb" import embed "$s" --out "$out/embed2.csv" --image-types 2D,C-view --views CC
expect_eq "$(tail -n +2 "$out/embed2.csv" | cut -d, -f1 | sed 's|.*498\.||' | paste -sd' ')" "1011.dcm 1013.dcm 1015.dcm 1021.dcm 1041.dcm" \
  "embed: --views CC, --image-types 2D,C-view keeps the C-view (1015), not the spot view (1016)"
sed '2s/,L,IR,/,X,IR,/' "$fx/embed/EMBED_OpenData_clinical_reduced.csv" >"$s/tables/EMBED_OpenData_clinical_reduced.csv"
expect_exit 3 "$wb" import embed "$s" --out "$out/bad.csv"
expect_grep 'EMBED_OpenData_clinical_reduced.csv:2:8: side: expected L, R, B or empty, got .X.' "$out/stderr"
cp "$fx/embed/EMBED_OpenData_clinical_reduced.csv" "$s/tables/"
sed '2s/"\[\[10, 20, 40, 60\]\]"/"[[10, 20, 5, 60]]"/' "$fx/embed/EMBED_OpenData_metadata_reduced.csv" >"$s/tables/EMBED_OpenData_metadata_reduced.csv"
expect_exit 3 "$wb" import embed "$s" --out "$out/bad.csv"
expect_grep 'EMBED_OpenData_metadata_reduced.csv:2:12: ROI_coords: expected a list of \[ymin, xmin, ymax, xmax\] boxes' "$out/stderr"
rm "$s/tables/EMBED_OpenData_clinical_reduced.csv"
expect_exit 3 "$wb" import embed "$s" --out "$out/bad.csv"
expect_grep 'no EMBED_OpenData_clinical.csv under this directory' "$out/stderr"
expect_exit 2 "$wb" import rsna "$s" --out "$out/x.csv" --image-types 2D

# ---- paths in the annotations that leave SOURCE ("../"): refused at their line and column, and
# never looked up (each of these names a file that exists outside SOURCE: it was imported)
mkdir -p "$out/outside/x"; : >"$out/outside/x/secret.dicom"; : >"$out/outside/x/secret.dcm"
s=$out/vindr; cp "$fx/vindr/"*.csv "$s/"
sed -i '2s#^a1f0c2d3e4b5a6978d0e1f2a3b4c5d6e,b2a1c3d4e5f6a7b8c9d0e1f2a3b4c5d6,c0ffee00112233445566778899aabb01,#../../outside/x,b2a1c3d4e5f6a7b8c9d0e1f2a3b4c5d6,secret,#' "$s/breast-level_annotations.csv"
expect_exit 3 "$wb" import vindr "$s" --out "$out/bad.csv"
expect_grep "breast-level_annotations.csv:2:1: study_id: expected an id \(a file or folder name under images/\), got '../../outside/x'" "$out/stderr"
s=$out/cbis
awk -F, 'BEGIN{OFS=","} NR==2 {$12="../outside/x/secret.dcm"} {print}' "$fx/cbis/mass_case_description_train_set.csv" >"$s/csv/mass_case_description_train_set.csv"
expect_exit 3 "$wb" import cbis-ddsm "$s" --out "$out/bad.csv"
expect_grep "mass_case_description_train_set.csv:2:12: image file path: '../outside/x/secret.dcm' is absolute or has a '..' component: the sheet's paths must stay under" "$out/stderr"
awk -F, 'BEGIN{OFS=","} NR==2 {$14="/etc/passwd"} {print}' "$fx/cbis/mass_case_description_train_set.csv" >"$s/csv/mass_case_description_train_set.csv"
expect_exit 3 "$wb" import cbis-ddsm "$s" --out "$out/bad.csv"
expect_grep "mass_case_description_train_set.csv:2:14: ROI mask file path: '/etc/passwd' is absolute" "$out/stderr"
cp "$fx/cbis/mass_case_description_train_set.csv" "$s/csv/"
s=$out/embed; cp "$fx/embed/"*.csv "$s/tables/"
sed -i '2s#,/mnt/NAS2/mammo/anon_dicom/cohort_1/10000101/20000001/1.2.826.0.1.3680043.8.498.1011.dcm,#,/mnt/../../../outside/x/secret.dcm,#' "$s/tables/EMBED_OpenData_metadata_reduced.csv"
expect_exit 3 "$wb" import embed "$s" --out "$out/bad.csv" --keep-missing
expect_grep "EMBED_OpenData_metadata_reduced.csv:2:3: anon_dicom_path: '/mnt/../../../outside/x/secret.dcm' has a '..' component" "$out/stderr"
checks=$((checks + 1)); [ ! -e "$out/bad.csv" ] || { fails=$((fails + 1)); echo "FAIL: bad.csv written after a path that leaves SOURCE" >&2; }

# ---- usage
expect_exit 2 "$wb" import nope "$s" --out "$out/x.csv"
expect_grep "unknown format 'nope'" "$out/stderr"
expect_exit 2 "$wb" import mini-mias "$s"
expect_grep 'out FILE is required' "$out/stderr"
expect_exit 2 "$wb" import vindr "$s" --out "$out/x.csv" --birads-min 7
expect_exit 2 "$wb" import vindr "$s" --out "$out/x.csv" --sites 1
expect_exit 3 "$wb" import mini-mias "$out/nowhere" --out "$out/x.csv"
expect_grep 'nowhere: not a directory' "$out/stderr"
finish
