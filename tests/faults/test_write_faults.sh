#!/usr/bin/env bash
# Write failures injected (WB_FAULT_WRITE, io/io_fs.h) at chosen points of `workbench synth`
# and `workbench run`: exit 4 with an error naming the file, no temporary file left, every file
# that exists whole (JSON parses, CSVs have all their fields, byte-identical to a clean run's),
# a finished run directory and the shared cache untouched, and `run --resume` finishing a run
# that a failed write stopped. Args: WORKBENCH WEIGHTS_DIR OUT_DIR JSON_CHECK
set -euo pipefail
wb=$1 weights=$2 out=$3 json_check=$4
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/common.sh"

# ---- synth: every output operation of a 3-patient cohort fails in turn
WB_FAULT_TRACE=1 "$wb" -q synth --out "$out/s_ref" --patients 3 --seed 5 --size 160x200 2>"$out/s_trace"
n_ops=$(grep -c 'fault point' "$out/s_trace")
expect_eq "$n_ops" 44 "synth output operations (mkdir x4, 12 DICOM files create/fsync/rename, labels.csv create/write/fsync/rename)"
for n in $(seq 1 "$n_ops") 5+; do
  s="$out/s_${n%+}${n//[0-9]/}"; s=${s/+/_on}
  path=$(grep -E "fault point ${n%+}: " "$out/s_trace" | sed -E 's/.*: [a-z]+ //; s/\.tmp\.[0-9]+(@[A-Za-z0-9._-]+)?$//' | sed "s#^$out/s_ref#$s#")
  expect_exit 4 env WB_FAULT_WRITE=$n "$wb" -q synth --out "$s" --patients 3 --seed 5 --size 160x200
  expect_grep "^workbench: error: $path: .*No space left on device$" "$out/stderr"
  no_temp "$out" "synth, operation $n failing"
  [ ! -d "$s" ] || complete "$s" "$out/s_ref" "synth, operation $n failing"
done
# a finished cohort written again with labels.csv's rename failing (its directories exist, so
# that is operation 36 + 4): nothing in it changes (the same seed rewrites the same DICOM bytes)
before=$(snapshot "$out/s_ref")
expect_exit 4 env WB_FAULT_WRITE=40 "$wb" -q synth --out "$out/s_ref" --patients 3 --seed 5 --size 160x200
expect_grep "s_ref/labels.csv: cannot move into place: No space left on device" "$out/stderr"
expect_eq "$(snapshot "$out/s_ref")" "$before" "finished cohort after a failed rewrite"

# ---- run
# A: the clean reference, made with an empty runs directory (its trace numbers the key and cache writes)
WB_FAULT_TRACE=1 reference_run
cp "$out/stderr" "$out/trace_cold"
# B: the same with the cache and key in place — the numbering every faulted run below sees
expect_exit 0 env WB_FAULT_TRACE=1 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260101T000001Z
cp "$out/stderr" "$out/trace"
before=$(snapshot "$ref" "$out/runs/cache" "$out/runs/.pseudonym-key")
k=10
for spec in 'create .*/config\.yaml' 'mkdir .*/parts' 'fsync .*/manifest\.csv' 'write .*/parts/r0_f0_v1\.txt' \
            'rename .*/parts/r0_f1_v2\.txt' 'fsync .*/predictions\.csv' 'write .*/metrics\.json' 'rename .*/run\.log'; do
  k=$((k + 1))
  n=$(point "$spec" "$out/trace")
  checks=$((checks + 1)); [ -n "$n" ] || { fails=$((fails + 1)); echo "FAIL: no '$spec' in the trace" >&2; continue; }
  file=$(grep -E "fault point $n: " "$out/trace" | sed -E 's/.*\/(small-[^/]*\/)?//; s/\.tmp\.[0-9]+(@[A-Za-z0-9._-]+)?$//')
  ts=202601${k}T000000Z
  expect_exit 4 env WB_FAULT_WRITE=$n "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp $ts
  expect_grep "^workbench: error: $out/runs/small-$ts-[0-9a-f]{8}(/parts)?/$file: .*No space left on device$" "$out/stderr"
  no_temp "$out/runs" "run, '$spec' failing"
  dir=$(ls -d "$out/runs/small-$ts-"* 2>/dev/null | head -1 || true)
  [ -z "$dir" ] || complete "$dir" "$ref" "run, '$spec' failing"
  expect_eq "$(snapshot "$ref" "$out/runs/cache" "$out/runs/.pseudonym-key")" "$before" "finished run, cache and key after '$spec' failed"
  # a run stopped by a failed write, resumed: the files of an uninterrupted run
  case "$spec" in *r0_f1_v2*|*metrics\\.json*)
    expect_exit 0 "$wb" run --resume "$dir"
    for f in $deterministic_files run.log; do
      checks=$((checks + 1)); [ -s "$dir/$f" ] || { fails=$((fails + 1)); echo "FAIL: resumed run has no $f" >&2; }
    done
    complete "$dir" "$ref" "run resumed after '$spec' failed" ;;
  esac
done
# the disk stays full from the first part on
n=$(point 'create .*/parts/r0_f0_v0' "$out/trace")
expect_exit 4 env WB_FAULT_WRITE=$n+ "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260130T000000Z
expect_grep 'parts/r0_f0_v0.txt: cannot create: No space left on device' "$out/stderr"
no_temp "$out/runs" "run, disk full from the first part"

# a new runs directory: the pseudonym key's write fails (no key left behind)
n=$(point 'write .*/\.pseudonym-key' "$out/trace_cold")
expect_exit 4 env WB_FAULT_WRITE=$n "$wb" run "$out/t.yaml" --out "$out/runs2" --timestamp 20260101T000000Z
expect_grep "runs2/.pseudonym-key: write failed: No space left on device" "$out/stderr"
checks=$((checks + 1)); [ ! -e "$out/runs2/.pseudonym-key" ] || { fails=$((fails + 1)); echo "FAIL: a pseudonym key was left after its write failed" >&2; }
no_temp "$out/runs2" "run, the pseudonym key's write failing"
# a new cache: a cache entry's write fails — a warning, the run goes on with the same results
expect_exit 0 env WB_FAULT_TRACE=1 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260102T000000Z --set preprocess.cache_dir="$out/cache_c"
n=$(point 'create .*/cache_c/[0-9a-f]{16}/[0-9a-f]{2}/' "$out/stderr")
expect_exit 0 env WB_FAULT_WRITE=$n "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260103T000000Z --set preprocess.cache_dir="$out/cache_d"
expect_grep 'cannot store .* in the cache: .*No space left on device' "$out/stderr"
no_temp "$out/cache_d" "run, a cache entry's write failing"
expect_eq "$(find "$out/cache_d" -type f | wc -l)" "$(( $(find "$out/cache_c" -type f | wc -l) - 1 ))" "cache entries (one not stored)"
run_d=$(cat "$out/stdout")
for f in metrics.json predictions.csv metrics.csv curves.csv; do
  checks=$((checks + 1)); cmp -s "$ref/$f" "$run_d/$f" || { fails=$((fails + 1)); echo "FAIL: $f differs after a cache write failed" >&2; }
done
finish
