#!/usr/bin/env bash
# SIGKILL at many points of `workbench run`, then `run --resume`. The points are exact: the
# process kills itself just before a chosen output operation (WB_FAULT_KILL=N, io/io_fs.h) —
# before config.yaml is in place, while manifest.csv, a part or predictions.csv is being
# written, before a part's rename, before run.log — plus a random operation, a plain kill -9 from outside at a random time, and a kill while a new cache is being
# filled (all random choices printed). Every file of the killed run directory is whole (a kill
# leaves at most temporary files), and --resume ends with metrics.json, predictions.csv,
# metrics.csv, curves.csv, folds.csv and manifest.csv byte-identical to an uninterrupted run's
# (run.log, timing.csv and the parts' "seconds" lines hold wall times and are not compared).
# Args: WORKBENCH WEIGHTS_DIR OUT_DIR JSON_CHECK
set -euo pipefail
wb=$1 weights=$2 out=$3 json_check=$4
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/common.sh"

reference_run
# the numbering of a run's output operations (the cache and key exist from here on)
expect_exit 0 env WB_FAULT_TRACE=1 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260101T000001Z
cp "$out/stderr" "$out/trace"
kill_trace="$out/trace"
n_ops=$(grep -c 'fault point' "$out/trace")
compared="metrics.json predictions.csv metrics.csv curves.csv folds.csv manifest.csv"

# kill_at WHEN TS [SET...]: starts a run, kills it at WHEN ("op:N": just before output operation
# N; "t:SECONDS": kill -9 after that long), checks what is left and resumes it.
kill_at() {
  local when=$1 ts=$2 kill_n=0; shift 2
  case $when in op:*) kill_n=${when#op:} ;; esac
  WB_FAULT_KILL=$kill_n "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp "$ts" "$@" >"$out/k.out" 2>"$out/k.err" &
  local pid=$! dir="" t0 n
  t0=$(date +%s.%N)
  for _ in $(seq 1 1200); do
    dir=$(ls -d "$out/runs/small-$ts-"* 2>/dev/null | head -1 || true)
    case $when in
      t:*) awk -v a="$t0" -v b="$(date +%s.%N)" -v w="${when#t:}" 'BEGIN {exit !(b - a >= w)}' && break ;;
    esac
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.02
  done
  kill -9 "$pid" 2>/dev/null || true
  local st=0
  wait "$pid" 2>/dev/null || st=$?
  case $when in op:*) expect_eq "$st" 137 "exit status of a run killed at $when" ;; esac
  dir=$(ls -d "$out/runs/small-$ts-"* 2>/dev/null | head -1 || true)
  case $when in op:*) when="$when ($(grep -E "fault point ${when#op:}: " "$kill_trace" | sed -E 's/.*: ([a-z]+) .*\/([^/]+)$/\1 \2/; s/\.tmp\.[0-9]+$//'))" ;; esac
  if [ -z "$dir" ]; then
    echo "  kill at $when: before the run directory existed"
    return
  fi
  checks=$((checks + 1))
  if [ -f "$dir/run.log" ]; then echo "  kill at $when: too late, the run had finished"; return; fi
  complete "$dir" "$ref" "killed at $when"
  local parts tmps
  parts=$( (ls "$dir/parts" 2>/dev/null || true) | grep -c '\.txt$' || true)
  tmps=$(find "$dir" -name '*.tmp.*' | wc -l)
  echo "  kill at $when: $(ls "$dir" | grep -vc '^parts$' || true) files, $parts parts, $tmps temporary files left"
  if [ ! -f "$dir/config.yaml" ]; then
    # killed between claiming the directory and writing its config: nothing to resume
    expect_exit 2 "$wb" run --resume "$dir"
    expect_grep "$dir: nothing to resume: the run was stopped before its config.yaml was written" "$out/stderr"
    return
  fi
  expect_exit 0 "$wb" run --resume "$dir"
  expect_eq "$(cat "$out/stdout")" "$dir" "resumed run directory (kill at $when)"
  for f in $compared; do
    checks=$((checks + 1))
    cmp -s "$ref/$f" "$dir/$f" || { fails=$((fails + 1)); echo "FAIL: kill at $when: resumed $f differs from the uninterrupted run's" >&2; }
  done
  complete "$dir" "$ref" "resumed after a kill at $when"
}

k=10
r1=$((1 + RANDOM % n_ops))
random_t=$(awk -v r=$RANDOM 'BEGIN {printf "%.2f", 0.5 + 3 * r / 32768}')
for when in "op:$(point 'rename .*/config\.yaml' "$out/trace")" "op:$(point 'write .*/manifest\.csv' "$out/trace")" \
            "op:$(point 'write .*/parts/r0_f0_v1\.txt' "$out/trace")" "op:$(point 'rename .*/parts/r0_f1_v2\.txt' "$out/trace")" \
            "op:$(point 'write .*/predictions\.csv' "$out/trace")" "op:$(point 'create .*/run\.log' "$out/trace")" \
            op:$r1 t:$random_t; do
  k=$((k + 1))
  kill_at "$when" 202602${k}T000000Z
done
# a new cache being filled when the kill comes: the entries it wrote are those of an
# uninterrupted fill (config.yaml names the other cache: not compared)
deterministic_files=${deterministic_files/config.yaml /}
expect_exit 0 env WB_FAULT_TRACE=1 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260301T000000Z --set preprocess.cache_dir="$out/cache_c"
cp "$out/stderr" "$out/trace_c"
kill_trace="$out/trace_c"
cache_ops=$(grep -c 'fault point [0-9]*: [a-z]* .*/cache_c/[0-9a-f]\{16\}/[0-9a-f][0-9a-f]/' "$out/stderr")
first=$(point 'mkdir .*/cache_c/[0-9a-f]{16}/[0-9a-f]{2}' "$out/stderr")
kill_at op:$((first + RANDOM % cache_ops)) 20260302T000000Z --set preprocess.cache_dir="$out/cache_d"
sums() { (cd "$1" && find . -type f ! -name '*.tmp.*' | sort | xargs sha256sum); }
expect_eq "$(sums "$out/cache_d")" "$(sums "$out/runs/cache")" "cache filled across a kill"
echo "  temporary files left in the cache by the kill: $(find "$out/cache_d" -name '*.tmp.*' | wc -l)"
finish
