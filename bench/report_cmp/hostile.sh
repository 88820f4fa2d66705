#!/bin/bash
# report_cmp/hostile.sh SRC_RUN OUT: edited copies of a run directory (predictions.csv damaged in the ways
# the report must refuse or accept), for compare.sh.
set -eu
src=$1 out=$2
rm -rf "$out"; mkdir -p "$out"
mk() { rm -rf "$out/$1"; cp -r "$src" "$out/$1"; echo "$out/$1/predictions.csv"; }
p=$(mk score_then_repeat); awk -F, -v OFS=, 'NR==3{$9="abc"} NR==10{$1="x"} 1' "$src/predictions.csv" > "$p"
p=$(mk threshold); awk -F, -v OFS=, 'NR==7{$10="1e400"} 1' "$src/predictions.csv" > "$p"
p=$(mk fold_then_score); awk -F, -v OFS=, 'NR==4{$2="-1"} NR==5{$9="nan"} NR==6{$1="9999999"} 1' "$src/predictions.csv" > "$p"
p=$(mk ragged); awk 'NR==20{print $0 ",extra"; next} 1' "$src/predictions.csv" > "$p"
p=$(mk ragged_and_badcell); awk -F, -v OFS=, 'NR==3{$9="abc"} 1' "$src/predictions.csv" | awk 'NR==30{print $0 ",extra"; next} 1' > "$p"
p=$(mk unterminated); cat "$src/predictions.csv" > "$p"; printf '0,1,"baseline\n' >> "$p"
p=$(mk dup_header); sed '1s/,laterality,/,view,/' "$src/predictions.csv" > "$p"
p=$(mk dup_header_badcell); sed '1s/,laterality,/,view,/' "$src/predictions.csv" | awk -F, -v OFS=, 'NR==3{$9="abc"} 1' > "$p"
p=$(mk no_label); sed '1s/,label,/,lbl,/' "$src/predictions.csv" > "$p"
p=$(mk no_score); sed '1s/,score,/,scr,/' "$src/predictions.csv" > "$p"
p=$(mk no_repeat_badfold); sed '1s/^repeat,/rep,/' "$src/predictions.csv" | awk -F, -v OFS=, 'NR==9{$2="1.5"} 1' > "$p"
p=$(mk nul); cat "$src/predictions.csv" > "$p"; printf '0,1,base\0line,x,y,L,CC,1,0.5,0.5\n' >> "$p"
p=$(mk empty); : > "$p"
p=$(mk header_only); head -1 "$src/predictions.csv" > "$p"
p=$(mk blank_lines); head -1 "$src/predictions.csv" > "$p"; printf '\n\n\r\n' >> "$p"
p=$(mk bom_crlf_quoted); { printf '\xef\xbb\xbf'; awk -F, -v OFS=, '{ if (NR>1) $3="\"" $3 "\""; printf "%s\r\n", $0 }' "$src/predictions.csv"; } > "$p"
p=$(mk nulls_and_unknown); awk -F, -v OFS=, 'NR%5==0{$9="null"} NR%7==0{$3="nosuch"} NR%11==0{$1="00"} 1' "$src/predictions.csv" > "$p"
p=$(mk missing); rm "$p"
p=$(mk dir); rm "$p"; mkdir "$p"
p=$(mk fifo); rm "$p"; mkfifo "$p"
p=$(mk badcell_and_metrics_csv_broken); awk -F, -v OFS=, 'NR==3{$9="abc"} 1' "$src/predictions.csv" > "$p"; printf '0,"x\n' >> "$out/badcell_and_metrics_csv_broken/metrics.csv"
p=$(mk badcell_and_metrics_cell); awk -F, -v OFS=, 'NR==3{$9="abc"} 1' "$src/predictions.csv" > "$p"; awk -F, -v OFS=, 'NR==2{$6="zz"} 1' "$src/metrics.csv" > "$out/badcell_and_metrics_cell/m" && mv "$out/badcell_and_metrics_cell/m" "$out/badcell_and_metrics_cell/metrics.csv"
p=$(mk long_field); { cat "$src/predictions.csv"; printf '0,1,'; head -c 1100000 /dev/zero | tr '\0' a; printf ',x\n'; } > "$p"
p=$(mk md_only_no_label); sed '1s/,label,/,lbl,/' "$src/predictions.csv" > "$p"; sed -i 's/^\(\s*formats:\).*/\1 [md]/' "$out/md_only_no_label/config.yaml"
ls "$out"
