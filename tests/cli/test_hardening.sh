#!/usr/bin/env bash
# Issue 15 findings on a tiny baseline-only cohort (8 patients; no network is trained):
# the same image twice in labels.csv (leak), two runs creating the pseudonym key at once,
# patient ids in directory names (privacy), a read-only registry, the reports announced.
# Args: WORKBENCH OUT_DIR
set -euo pipefail
shopt -s lastpipe
wb=$1 out=$2
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"
cd "$out"
"$wb" -q synth --out data --patients 8 --seed 2 --size 160x200 --prevalence 0.4
cat >t.yaml <<YAML
name: tiny
seed: 3
data:
  dicom_dir: data
  labels: data/labels.csv
preprocess:
  height: 40
  width: 32
variants:
  - name: baseline
    type: baseline
cv:
  folds: 2
YAML
hdr=$(head -1 data/labels.csv)
row() { sed -n "$(($1 + 1))p" data/labels.csv; }      # data row N (1-based)
# variant LABELS_NAME: a config reading data/LABELS_NAME
variant() { sed "s#labels: data/labels.csv#labels: data/$1#" t.yaml >"${1%.csv}.yaml"; }
field() { echo "$1" | cut -d, -f"$2"; }
other_patient=$(field "$(row 32)" 3)
# 1. the same file under another patient: refused, naming both lines
{ cat data/labels.csv; row 1 | awk -F, -v p="$other_patient" 'BEGIN{OFS=","} {$2="2.25.99"; $3=p; print}'; } >data/dup_patient.csv
variant dup_patient.csv
expect_exit 3 "$wb" run dup_patient.yaml --out runs --registry none
expect_grep 'dup_patient.csv:34: .*_CC.dcm names the same file as line 2 \(.*\) under another patient \(the image would be in two folds\)' stderr
# ... also when the path is spelt differently
{ cat data/labels.csv; row 1 | awk -F, -v p="$other_patient" 'BEGIN{OFS=","} {$1="./" $1; $2="2.25.99"; $3=p; print}'; } >data/dup_spelling.csv
variant dup_spelling.csv
expect_exit 3 "$wb" run dup_spelling.yaml --out runs --registry none
expect_grep 'dup_spelling.csv:34: .* names the same file as line 2' stderr
# 2. a copy of the file (same content) under another patient
f1=$(field "$(row 1)" 1); cp "data/$f1" data/copy.dcm
{ cat data/labels.csv; row 1 | awk -F, -v p="$other_patient" 'BEGIN{OFS=","} {$1="copy.dcm"; $2="2.25.99"; $3=p; print}'; } >data/dup_copy.csv
variant dup_copy.csv
expect_exit 3 "$wb" run dup_copy.yaml --out runs --registry none
expect_grep 'dup_copy.csv:34: copy.dcm has the same content \(SHA-256\) as line 2 .* under another patient' stderr
# 3. the same SOP Instance UID on two files of two patients
sop1=$(field "$(row 1)" 2)
{ echo "$hdr"; tail -n +2 data/labels.csv | awk -F, -v s="$sop1" 'BEGIN{OFS=","} NR==32 {$2=s} {print}'; } >data/dup_sop.csv
variant dup_sop.csv
expect_exit 3 "$wb" run dup_sop.yaml --out runs --registry none
expect_grep "dup_sop.csv:33: .* has the same SOP Instance UID as line 2 \(.*, $sop1\) under another patient" stderr
# 4. the same file with another label (same patient)
{ cat data/labels.csv; row 1 | awk -F, 'BEGIN{OFS=","} {$6=($6=="malignant")?"normal":"malignant"; print}'; } >data/dup_label.csv
variant dup_label.csv
expect_exit 3 "$wb" run dup_label.yaml --out runs --registry none
expect_grep 'dup_label.csv:34: .* names the same file as line 2 .* with another label' stderr
# 5. an identical row: one warning, one row, and no image in two folds
{ cat data/labels.csv; row 5; } >data/dup_same.csv
variant dup_same.csv
expect_exit 0 "$wb" run dup_same.yaml --out runs --registry none
run=$(cat stdout)
expect_eq "$(grep -c 'dup_same.csv:34: .* names the same file as line 6 with the same patient and label: the row is used once' stderr)" 1 "one warning"
expect_eq "$(tail -n +2 "$run/manifest.csv" | wc -l)" 32 "manifest rows"
expect_eq "$(tail -n +2 "$run/folds.csv" | cut -d, -f1,3 | sort | uniq -d | wc -l)" 0 "no SOP UID twice in one repeat of folds.csv"
expect_eq "$(tail -n +2 "$run/manifest.csv" | cut -d, -f3 | sort | uniq -d | wc -l)" 0 "no content hash twice in the manifest"

# 6. two runs at once in a fresh runs directory: one pseudonym key, the same pseudonyms
"$wb" -q run t.yaml --out fresh --registry none --timestamp 20260101T000000Z >a.out 2>a.err & pa=$!
"$wb" -q run t.yaml --out fresh --registry none --timestamp 20260101T000000Z >b.out 2>b.err & pb=$!
wait "$pa"; ra=$?; wait "$pb"; rb=$?
expect_eq "$ra,$rb" "0,0" "both concurrent runs finish"
expect_eq "$(ls -A fresh | grep -c pseudonym)" 1 "one key file, no temporary left"
checks=$((checks + 1))
cmp -s "$(cat a.out)/manifest.csv" "$(cat b.out)/manifest.csv" || { fails=$((fails + 1)); echo "FAIL: the two runs pseudonymised patients differently" >&2; }

# 7. privacy: directories and file names carrying the PatientID (exported archives)
mkdir -p byid
{ echo "$hdr"; tail -n +2 data/labels.csv | while IFS=, read -r f rest; do
    pid=$(echo "$rest" | cut -d, -f2); lc=$(echo "$pid" | tr 'A-Z' 'a-z')
    mkdir -p "byid/$pid"; cp "data/$f" "byid/$pid/${lc}_$(basename "$f")"
    echo "$pid/${lc}_$(basename "$f"),$rest"
  done; } >byid/labels.csv
bad=$(sed -n 2p byid/labels.csv | cut -d, -f1); head -c 300 "byid/$bad" >byid/cut && mv byid/cut "byid/$bad"
sed 's#dicom_dir: data#dicom_dir: byid#; s#labels: data/labels.csv#labels: byid/labels.csv#' t.yaml >byid.yaml
ids=$(tail -n +2 byid/labels.csv | cut -d, -f3 | sort -u | paste -sd'|')
expect_exit 0 "$wb" run byid.yaml --out runs
run=$(cat stdout)
expect_eq "$(tail -n +2 "$run/excluded.csv" | wc -l)" 1 "the cut file is excluded"
expect_grep '^[0-9a-f]{16}/[0-9a-f]{16}_L_CC.dcm,[0-9a-f]{16}/[0-9a-f]{16}_L_CC.dcm: truncated or corrupt' "$run/excluded.csv"
expect_grep '^[0-9a-f]{16}/[0-9a-f]{16}_[LR]_(CC|MLO).dcm,2.25' "$run/manifest.csv"
checks=$((checks + 1))
if grep -rilE "$ids" "$run" runs/registry.sqlite* >/dev/null; then
  fails=$((fails + 1)); echo "FAIL: a patient id is in the run directory or the registry:" >&2; grep -rilE "$ids" "$run" runs/registry.sqlite* >&2
fi
# ... also in the error a failed run leaves in the registry
expect_exit 1 "$wb" run byid.yaml --out runs --set data.on_error=fail
checks=$((checks + 1))
if grep -aqiE "$ids" runs/registry.sqlite*; then fails=$((fails + 1)); echo "FAIL: a patient id is in the registry's error" >&2; fi
expect_exit 0 "$wb" runs list --out runs --status failed
# data.output_paths: none: no paths at all
expect_exit 0 "$wb" run byid.yaml --out runs --set data.output_paths=none
run=$(cat stdout)
expect_grep '^,2\.25\.' "$run/manifest.csv"
expect_grep '^line 2,\(the file of line 2\): truncated or corrupt' "$run/excluded.csv"

# 8. the registry is readable where it cannot be written: a read-only bind mount
cp runs/registry.sqlite ro.sqlite; mkdir -p ro; mv ro.sqlite ro/registry.sqlite
if unshare -rm true 2>/dev/null; then
  expect_exit 0 unshare -rm sh -c 'mount --bind ro ro && mount -o remount,bind,ro ro && "$0" runs list --out ro && "$0" runs show 1 --out ro' "$wb"
  expect_grep '^1 +finished' stdout
  expect_eq "$(ls ro)" "registry.sqlite" "nothing created beside the registry"
else
  echo "note: unshare -rm is not available: the read-only mount case is skipped (report.registry covers another user's directory)" >&2
fi

# 9. the end of a run names the reports report.formats asked for
expect_exit 0 "$wb" run t.yaml --out runs --registry none --set 'report.formats=[md]'
expect_grep '^workbench: run finished: .* \(report.md, metrics.json, predictions.csv\)$' stderr
run=$(cat stdout)
checks=$((checks + 1)); [ ! -e "$run/report.html" ] || { fails=$((fails + 1)); echo "FAIL: report.html written" >&2; }
expect_exit 0 "$wb" report "$run"
expect_eq "$(cat stdout)" "$run/report.md" "report prints the report it wrote"
# cv.stratify: false is used (folds balanced by size only)
expect_exit 0 "$wb" run t.yaml --out runs --registry none --set cv.stratify=false
finish
