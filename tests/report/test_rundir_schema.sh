#!/bin/bash
# The run directory's schema (experiments/report/rundir.h): a report of a run directory whose
# metrics.json lacks a key the report relies on fails naming the file and the key's full path,
# instead of printing "n/a"; a metric out of its range (an AUC of 7.5, a negative count) is refused
# likewise. usage: test_rundir_schema.sh WORKBENCH FIXTURE_RUN WORKDIR
set -u
wb=$1 fixture=$2 work=$3
fails=0 checks=0
check() { checks=$((checks + 1)); if ! eval "$1"; then echo "FAIL: $2"; fails=$((fails + 1)); fi; }
rm -rf "$work" && mkdir -p "$work"

# the fixture as committed: reports fine
cp -r "$fixture" "$work/ok"
"$wb" report "$work/ok" >/dev/null 2>"$work/ok.err"
check '[ $? -eq 0 ]' "the fixture reports: $(cat "$work/ok.err")"

# one metric missing at the breast level of the first variant's first repeat
cp -r "$fixture" "$work/missing"
sed -i '0,/"breast": {/{s/\("breast": {[^}]*\)"average_precision": [^,]*, /\1/}' "$work/missing/metrics.json"
check '! cmp -s "$fixture/metrics.json" "$work/missing/metrics.json"' "the key was removed"
"$wb" report "$work/missing" >/dev/null 2>"$work/missing.err"
rc=$?
check '[ $rc -eq 3 ]' "missing key: exit 3, got $rc"
check 'grep -q "missing/metrics.json" "$work/missing.err"' "the message names the file: $(cat "$work/missing.err")"
check 'grep -q "variants\[0\]\.repeats\[0\]\.breast\.average_precision" "$work/missing.err"' \
    "the message names the key: $(cat "$work/missing.err")"

# refused NAME PATTERN FILE CMD...: the fixture copied to NAME, FILE in it rewritten by
# CMD (reading the fixture's FILE on stdin), then report must exit 3 with PATTERN in its message
refused() {
  local name=$1 pattern=$2 file=$3; shift 3
  cp -r "$fixture" "$work/$name"
  "$@" <"$fixture/$file" >"$work/$name/$file"
  "$wb" report "$work/$name" >/dev/null 2>"$work/$name.err"
  local rc=$?
  check '[ $rc -eq 3 ] && grep -q "$pattern" "$work/$name.err"' "$name: exit $rc, expected 3 with /$pattern/: $(cat "$work/$name.err")"
}

# a wrong type and another schema version
refused type 'variants\[0\]\.trainable_params: has the wrong type' metrics.json \
  sed '0,/"trainable_params": [0-9]*/s//"trainable_params": "many"/'
refused version 'schema_version: expected 1, found 2' metrics.json sed 's/"schema_version": 1/"schema_version": 2/'

# the CSVs: a fold that overflows an int (UBSan: signed overflow in the fold plot's jitter;
# otherwise a wrapped fold), a score that is not a number (read as 0 by atof)
refused csvfold 'csvfold/metrics.csv:2:2: fold: expected a whole number from 0 to 1000000 or pooled, got .999999999999.' \
  metrics.csv awk -F, 'BEGIN{OFS=","} NR==2{$2="999999999999"} {print}'
refused csvscore 'csvscore/predictions.csv:3:9: score: expected a number or null, got .abc.' \
  predictions.csv awk -F, 'BEGIN{OFS=","} NR==3{$9="abc"} {print}'

# values out of their metric's range: refused naming the key (metrics.json) or line:col
# (metrics.csv), never drawn or tabled
refused auc75 'auc75/metrics.json: variants\[0\]\.repeats\[0\]\.image\.auc: 7.5 (at byte [0-9]*) is out of range: expected a value from 0 to 1' \
  metrics.json sed '0,/"auc": [0-9.]*/s//"auc": 7.5/'
refused negn 'negn/metrics.json: variants\[0\]\.repeats\[0\]\.image\.n: -63 (at byte [0-9]*) is out of range: expected a whole number from 0 to inf' \
  metrics.json sed '0,/"n": 63/s//"n": -63/'
refused npos 'npos/metrics.json: variants\[0\]\.repeats\[0\]\.image\.n_positive: 64 (at byte [0-9]*) is more than n, 63' \
  metrics.json sed '0,/"n_positive": 24/s//"n_positive": 64/'
refused delta 'delta/metrics.json: variants\[[0-9]\]\.repeats\[0\]\.image\.vs_reference\.delta_auc: -1.5 .*expected a value from -1 to 1' \
  metrics.json sed '0,/"delta_auc": [-0-9.e]*/s//"delta_auc": -1.5/'
refused csvsens 'csvsens/metrics.csv:6:6: value: sensitivity 1.25 is out of range: expected a value from 0 to 1' \
  metrics.csv awk -F, 'BEGIN{OFS=","} NR==6{$6="1.25"} {print}'
refused csvci 'csvci/metrics.csv:2:7: ci_low: auc -0.1 is out of range' \
  metrics.csv awk -F, 'BEGIN{OFS=","} NR==2{$7="-0.1"} {print}'
refused csvcount 'csvcount/metrics.csv:[0-9]*:6: value: n 2.5 is out of range: expected a whole number from 0 to inf' \
  metrics.csv awk -F, 'BEGIN{OFS=","} $5=="n" && !done{$6="2.5"; done=1} {print}'

echo "test_rundir_schema.sh: $checks checks, $fails failed"
[ $fails -eq 0 ]
