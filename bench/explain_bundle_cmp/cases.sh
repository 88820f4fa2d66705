#!/bin/bash
# bench/explain_bundle_cmp/cases.sh FIX OUT > CASES: the cases compare.sh runs, from copies of
# the cli tests' directories in FIX (cli.explain's explain/, cli.predict's predict/,
# cli.predict_patch's predict_patch/, their config.yaml paths pointing into FIX): explain on
# files, the gallery, bundle and predict on the runs as made, and on copies whose
# predictions.csv, labels CSV or patches.csv is damaged (OUT holds the copies). predict reads
# FIX/predict/bundle-fix: make it first (`workbench bundle FIX/predict/runs/src-* --variant probe
# --out FIX/predict/bundle-fix`), since the bundle the test made holds the unedited config.yaml.
set -eu
fix=$(realpath "$1") out=$2
rm -rf "$out"; mkdir -p "$out"; out=$(realpath "$out")
E=$(ls -d "$fix"/explain/runs/known-*) P=$(ls -d "$fix"/predict/runs/src-*) PP=$(ls -d "$fix"/predict_patch/runs/psrc-*)
ed=$fix/explain/data pd=$fix/predict_patch/train
# explain's files: the first 6 malignant and 2 benign rows of the labels; the patch run's: lesion and background files
ef=$(awk -F, 'NR > 1 && $6 == "malignant" && m++ < 6 { print "'"$ed"'/" $1 } NR > 1 && $6 != "malignant" && b++ < 2 { print "'"$ed"'/" $1 }' "$ed/labels.csv" | tr '\n' ' ')
pf=$(awk -F, 'NR > 1 && n++ < 6 { print "'"$pd"'/" $1 }' "$pd/labels.csv" | tr '\n' ' ')
# as made
echo "e_gallery1|$E|explain run --gallery 1"
echo "e_gallery3|$E|explain run --gallery 3"
echo "e_files|$E|explain run --fold 0 $ef --out ex --sanity --occlusion 16,8"
echo "e_files_f2|$E|explain run --variant probe --fold 2 $ef --out ex --stage layer2"
echo "e_bundle|$E|bundle run --out b"
echo "p_bundle|$P|bundle run --variant probe --out b"
echo "p_predict|$P|predict $fix/predict/bundle-fix $fix/predict/ext/labels.csv --out p --registry none"
echo "p_predict_unl|$P|predict $fix/predict/bundle-fix $fix/predict/unl/labels.csv --out p --registry none"
echo "pp_gallery2|$PP|explain run --gallery 2"
echo "pp_files|$PP|explain run --fold 1 $pf --out ex --occlusion 8 --sanity"
echo "pp_bundle|$PP|bundle run --variant probe --out b"
# damaged predictions.csv: the gallery and bundle of each run
mk() { rm -rf "$out/$1"; cp -r "$2" "$out/$1"; echo "$out/$1/predictions.csv"; }
damage() { # NAME SRC: the damaged copies of SRC's predictions.csv, then their cases
  local n=$1 s=$2 p
  p=$(mk "$n-score_then_repeat" "$s"); awk -F, -v OFS=, 'NR==3{$9="abc"} NR==10{$1="x"} 1' "$s/predictions.csv" > "$p"
  p=$(mk "$n-threshold_inf" "$s"); awk -F, -v OFS=, 'NR==7{$10="1e400"} 1' "$s/predictions.csv" > "$p"
  p=$(mk "$n-fold_then_score" "$s"); awk -F, -v OFS=, 'NR==4{$2="-1"} NR==5{$9="nan"} NR==6{$1="9999999"} 1' "$s/predictions.csv" > "$p"
  p=$(mk "$n-fold_wraps" "$s"); awk -F, -v OFS=, 'NR==4{$2="999999999999"} 1' "$s/predictions.csv" > "$p"
  p=$(mk "$n-fold_out_of_range" "$s"); awk -F, -v OFS=, '$1==0 && $3=="probe" && !d++ {$2="7"} 1' "$s/predictions.csv" > "$p"
  p=$(mk "$n-probe_thr_text" "$s"); awk -F, -v OFS=, '$1==0 && $3=="probe" && !d++ {$10="abc"} 1' "$s/predictions.csv" > "$p"
  p=$(mk "$n-baseline_thr_empty" "$s"); awk -F, -v OFS=, '$1==0 && $3=="baseline" && d++==2 {$10=""} 1' "$s/predictions.csv" > "$p"
  p=$(mk "$n-no_probe_fold1" "$s"); awk -F, '!($1==0 && $2==1 && $3=="probe")' "$s/predictions.csv" > "$p"
  p=$(mk "$n-no_baseline_fold2" "$s"); awk -F, '!($1==0 && $2==2 && $3=="baseline")' "$s/predictions.csv" > "$p"
  p=$(mk "$n-nulls" "$s"); awk -F, -v OFS=, 'NR%5==0{$9="null"} NR%7==0{$10="null"} 1' "$s/predictions.csv" > "$p"
  p=$(mk "$n-ragged" "$s"); awk 'NR==20{print $0 ",extra"; next} 1' "$s/predictions.csv" > "$p"
  p=$(mk "$n-ragged_and_badcell" "$s"); awk -F, -v OFS=, 'NR==3{$9="abc"} 1' "$s/predictions.csv" | awk 'NR==30{print $0 ",extra"; next} 1' > "$p"
  p=$(mk "$n-unterminated" "$s"); cat "$s/predictions.csv" > "$p"; printf '0,1,"probe\n' >> "$p"
  p=$(mk "$n-truncated" "$s"); head -c $(( $(wc -c < "$s/predictions.csv") / 2 )) "$s/predictions.csv" > "$p"
  p=$(mk "$n-dup_header" "$s"); sed '1s/,laterality,/,view,/' "$s/predictions.csv" > "$p"
  p=$(mk "$n-dup_header_badcell" "$s"); sed '1s/,laterality,/,view,/' "$s/predictions.csv" | awk -F, -v OFS=, 'NR==3{$9="abc"} 1' > "$p"
  p=$(mk "$n-no_threshold" "$s"); sed '1s/,threshold$/,thr/' "$s/predictions.csv" > "$p"
  p=$(mk "$n-no_label_badcell" "$s"); sed '1s/,label,/,lbl,/' "$s/predictions.csv" | awk -F, -v OFS=, 'NR==3{$9="abc"} 1' > "$p"
  p=$(mk "$n-no_variant_ragged" "$s"); sed '1s/,variant,/,var,/' "$s/predictions.csv" | awk 'NR==9{print $0 ",extra"; next} 1' > "$p"
  p=$(mk "$n-no_repeat_badfold" "$s"); sed '1s/^repeat,/rep,/' "$s/predictions.csv" | awk -F, -v OFS=, 'NR==9{$2="1.5"} 1' > "$p"
  p=$(mk "$n-nul" "$s"); cat "$s/predictions.csv" > "$p"; printf '0,1,pro\0be,x,y,L,CC,1,0.5,0.5\n' >> "$p"
  p=$(mk "$n-empty" "$s"); : > "$p"
  p=$(mk "$n-header_only" "$s"); head -1 "$s/predictions.csv" > "$p"
  p=$(mk "$n-blank_lines" "$s"); { head -1 "$s/predictions.csv"; printf '\n\n'; tail -n +2 "$s/predictions.csv"; printf '\r\n'; } > "$p"
  p=$(mk "$n-bom_crlf_quoted" "$s"); { printf '\xef\xbb\xbf'; awk -F, -v OFS=, '{ if (NR>1) $3="\"" $3 "\""; printf "%s\r\n", $0 }' "$s/predictions.csv"; } > "$p"
  p=$(mk "$n-long_field" "$s"); { cat "$s/predictions.csv"; printf '0,1,'; head -c 1100000 /dev/zero | tr '\0' a; printf ',x\n'; } > "$p"
  p=$(mk "$n-missing" "$s"); rm "$p"
  p=$(mk "$n-dir" "$s"); rm "$p"; mkdir "$p"
  for c in "$out/$n"-*; do
    echo "$(basename "$c")-gallery|$c|explain run --gallery 2"
    echo "$(basename "$c")-bundle|$c|bundle run --variant probe --out b"
  done
}
damage e "$E"
damage pp "$PP"
damage p "$P"
# damaged labels CSV: the run's config pointed at a damaged copy (explain on files, the gallery)
lab() { # NAME SRC_RUN LABELS: a copy of the run whose config's data.labels is a copy to damage
  rm -rf "$out/$1"; cp -r "$2" "$out/$1"; cp "$3" "$out/$1.labels.csv"
  sed -i "s#^\(  labels: \).*#\1\"$out/$1.labels.csv\"#" "$out/$1/config.yaml"
  echo "$out/$1.labels.csv"
}
top=$(awk -F, 'NR > 1 && $3 == "probe" && $8 == 1 && $9 >= $10 { print $9, $4 }' "$E/predictions.csv" | sort -gr | head -1 | cut -d' ' -f2)
l=$(lab L-unterminated "$E" "$ed/labels.csv"); printf '"P9999/x.dcm,1\n' >> "$l"
l=$(lab L-truncated "$E" "$ed/labels.csv"); head -c $(( $(wc -c < "$ed/labels.csv") / 2 )) "$ed/labels.csv" > "$l.t"; mv "$l.t" "$l"
l=$(lab L-no_file_column "$E" "$ed/labels.csv"); sed -i '1s/^file,/fname,/' "$l"
l=$(lab L-no_sop_column "$E" "$ed/labels.csv"); sed -i '1s/,sop_instance_uid,/,sop,/' "$l"
l=$(lab L-sop_blank "$E" "$ed/labels.csv"); awk -F, -v OFS=, 'NR > 1 && NR % 2 { $2 = "" } 1' "$ed/labels.csv" > "$l"
l=$(lab L-top_removed "$E" "$ed/labels.csv"); grep -v "$top" "$ed/labels.csv" > "$l"
l=$(lab L-top_file_moved "$E" "$ed/labels.csv"); awk -F, -v OFS=, -v t="$top" '$2 == t { $1 = "nowhere/" $1 } 1' "$ed/labels.csv" > "$l"
l=$(lab L-dup_rows "$E" "$ed/labels.csv"); awk -F, -v OFS=, 'NR > 1 && NR % 3 == 0 { print; $6 = "benign"; $8 = 1; $9 = 2 } 1' "$ed/labels.csv" > "$l"
l=$(lab L-dup_header "$E" "$ed/labels.csv"); sed -i '1s/,view,/,laterality,/' "$l"
l=$(lab L-empty "$E" "$ed/labels.csv"); : > "$l"
l=$(lab L-missing "$E" "$ed/labels.csv"); rm "$l"
for c in "$out"/L-*; do
  [ -d "$c" ] || continue
  echo "$(basename "$c")-gallery|$c|explain run --gallery 2"
  echo "$(basename "$c")-gallery1|$c|explain run --gallery 1"
  echo "$(basename "$c")-files|$c|explain run --fold 1 $ef --out ex"
done
# the predict cohort's labels CSV damaged (bundle.c's cohort_labeled reads it first)
for k in unterminated truncated dup_header empty no_label; do
  l=$out/ext-$k.csv
  case $k in
  unterminated) { cat "$fix/predict/ext/labels.csv"; printf '"P9999/x.dcm,1\n'; } > "$l" ;;
  truncated) head -c $(( $(wc -c < "$fix/predict/ext/labels.csv") / 2 )) "$fix/predict/ext/labels.csv" > "$l" ;;
  dup_header) sed '1s/,view,/,laterality,/' "$fix/predict/ext/labels.csv" > "$l" ;;
  empty) : > "$l" ;;
  no_label) sed '1s/,label,/,lbl,/' "$fix/predict/ext/labels.csv" > "$l" ;;
  esac
  echo "X-$k-predict|$P|predict $fix/predict/bundle-fix $l --out p --registry none"
done
# the patch run's labels and patches.csv damaged
toppatch=$(awk -F, 'NR > 1 && $3 == "probe" && $8 == 1 && $9 >= $10 { print $9, $4 }' "$PP/predictions.csv" | sort -gr | head -1 | cut -d' ' -f2)
mkp() { rm -rf "$out/$1"; cp -r "$PP" "$out/$1"; echo "$out/$1/patches.csv"; }
p=$(mkp Q-top_patch_removed); grep -v "^$toppatch," "$PP/patches.csv" > "$p"
p=$(mkp Q-truncated); head -c $(( $(wc -c < "$PP/patches.csv") / 2 )) "$PP/patches.csv" > "$p"
p=$(mkp Q-no_side); sed -i '1s/,side,/,sid,/' "$p"
p=$(mkp Q-unterminated); printf '"x/L1,P0001/L_CC.dcm\n' >> "$p"
p=$(mkp Q-bad_square); awk -F, -v OFS=, 'NR == 2 || NR == 5 { $9 = 9999 } 1' "$PP/patches.csv" > "$p.t"; mv "$p.t" "$p"
p=$(mkp Q-blank_lines); { head -1 "$PP/patches.csv"; printf '\n\n'; tail -n +2 "$PP/patches.csv" | awk 'NR == 3 { print "" } 1'; } > "$p.t"; mv "$p.t" "$p"
p=$(mkp Q-blank_bad_square); { head -1 "$PP/patches.csv"; printf '\n'; tail -n +2 "$PP/patches.csv" | awk -F, -v OFS=, 'NR == 2 { print "" } NR == 1 || NR == 4 { $9 = 9999 } 1'; } > "$p.t"; mv "$p.t" "$p"
p=$(mkp Q-empty); : > "$p"
p=$(mkp Q-missing); rm "$p"
l=$(lab Q-labels_no_sop "$PP" "$pd/labels.csv"); sed -i '1s/,sop_instance_uid,/,sop,/' "$l"
l=$(lab Q-labels_top_removed "$PP" "$pd/labels.csv"); grep -v "${toppatch%/*}" "$pd/labels.csv" > "$l"
for c in "$out"/Q-*; do
  [ -d "$c" ] || continue
  echo "$(basename "$c")-gallery|$c|explain run --gallery 2"
  echo "$(basename "$c")-files|$c|explain run --fold 1 $pf --out ex"
  echo "$(basename "$c")-files_bad|$c|explain run --fold 0 $(awk -F, 'NR == 2 || NR == 5 { print "'"$pd"'/" $2 }' "$PP/patches.csv" | tr '\n' ' ') --out ex"
done
