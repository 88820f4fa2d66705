#!/bin/bash
# The run directory's schema (experiments/report/rundir.h): a report of a run directory whose
# metrics.json lacks a key the report relies on fails naming the file and the key's full path,
# instead of printing "n/a". usage: test_rundir_schema.sh WORKBENCH FIXTURE_RUN WORKDIR
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

# a wrong type and another schema version
cp -r "$fixture" "$work/type"
sed -i '0,/"trainable_params": [0-9]*/s//"trainable_params": "many"/' "$work/type/metrics.json"
"$wb" report "$work/type" >/dev/null 2>"$work/type.err"
rc=$?
check '[ $rc -eq 3 ] && grep -q "variants\[0\]\.trainable_params: has the wrong type" "$work/type.err"' \
    "wrong type named: $(cat "$work/type.err")"
cp -r "$fixture" "$work/version"
sed -i 's/"schema_version": 1/"schema_version": 2/' "$work/version/metrics.json"
"$wb" report "$work/version" >/dev/null 2>"$work/version.err"
rc=$?
check '[ $rc -eq 3 ] && grep -q "schema_version: expected 1, found 2" "$work/version.err"' \
    "schema version named: $(cat "$work/version.err")"

# the CSVs: a fold that overflows an int (UBSan: signed overflow in the fold plot's jitter;
# otherwise a wrapped fold), a score that is not a number (read as 0 by atof)
cp -r "$fixture" "$work/csvfold"
awk -F, 'BEGIN{OFS=","} NR==2{$2="999999999999"} {print}' "$fixture/metrics.csv" >"$work/csvfold/metrics.csv"
"$wb" report "$work/csvfold" >/dev/null 2>"$work/csvfold.err"
rc=$?
check '[ $rc -eq 3 ] && grep -q "csvfold/metrics.csv:2:2: fold: expected a whole number from 0 to 1000000 or pooled, got .999999999999." "$work/csvfold.err"' \
    "metrics.csv fold named: $(cat "$work/csvfold.err")"
cp -r "$fixture" "$work/csvscore"
awk -F, 'BEGIN{OFS=","} NR==3{$9="abc"} {print}' "$fixture/predictions.csv" >"$work/csvscore/predictions.csv"
"$wb" report "$work/csvscore" >/dev/null 2>"$work/csvscore.err"
rc=$?
check '[ $rc -eq 3 ] && grep -q "csvscore/predictions.csv:3:9: score: expected a number or null, got .abc." "$work/csvscore.err"' \
    "predictions.csv score named: $(cat "$work/csvscore.err")"

echo "test_rundir_schema.sh: $checks checks, $fails failed"
[ $fails -eq 0 ]
