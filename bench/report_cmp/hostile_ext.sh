#!/bin/bash
# report_cmp/hostile_ext.sh SRC_LABELED SRC_UNLABELED OUT: edited copies of external validations'
# directories (predictions.csv damaged), for compare.sh.
set -eu
src=$1 srcu=$2 out=$3
rm -rf "$out"; mkdir -p "$out"
mk() { rm -rf "$out/$1"; cp -r "${2:-$src}" "$out/$1"; echo "$out/$1/predictions.csv"; }
c() { awk -F, -v h="$1" 'NR==1{for(i=1;i<=NF;i++) if($i==h) print i}' "$src/predictions.csv"; }
L=$(c label) S=$(c score) R=$(c reference_score) D=$(c decision)
p=$(mk ref_bad_then_score_bad); awk -F, -v OFS=, -v r=$R -v s=$S 'NR==3{$r="x"} NR==9{$s="nan"} 1' "$src/predictions.csv" > "$p"
p=$(mk ref_bad_only); awk -F, -v OFS=, -v r=$R 'NR==5{$r=""} 1' "$src/predictions.csv" > "$p"
p=$(mk label_bad); awk -F, -v OFS=, -v l=$L 'NR==6{$l="2"} 1' "$src/predictions.csv" > "$p"
p=$(mk blank_then_bad); awk -F, -v OFS=, -v s=$S 'NR==3{print ""} NR==6{$s="abc"} 1' "$src/predictions.csv" > "$p"
p=$(mk no_ref_col); sed '1s/,reference_score,/,refscore,/' "$src/predictions.csv" > "$p"
p=$(mk no_label_col); sed '1s/,label,/,lab,/' "$src/predictions.csv" > "$p"
p=$(mk header_only); head -1 "$src/predictions.csv" > "$p"
p=$(mk ragged); awk 'NR==12{print $0 ",x"; next} 1' "$src/predictions.csv" > "$p"
p=$(mk unterminated); cat "$src/predictions.csv" > "$p"; printf '"a\n' >> "$p"
p=$(mk crlf_bom); { printf '\xef\xbb\xbf'; sed 's/$/\r/' "$src/predictions.csv"; } > "$p"
p=$(mk missing); rm "$p"
p=$(mk u_decisions "$srcu"); awk -F, -v OFS=, -v d=$D 'NR%3==0{$d="1"} 1' "$srcu/predictions.csv" > "$p"
p=$(mk u_no_decision "$srcu"); sed '1s/,decision,/,dec,/' "$srcu/predictions.csv" > "$p"
p=$(mk u_header_only "$srcu"); head -1 "$srcu/predictions.csv" > "$p"
p=$(mk u_dup "$srcu"); sed '1s/,view,/,patient,/' "$srcu/predictions.csv" > "$p"
ls "$out" >/dev/null
