#!/usr/bin/env bash
# A run in steps (prepare, units, finish) on this machine, the faults of issue 18 with them,
# and the scripts of workbench slurm without Slurm (docs/cluster.md):
#   - --jobs 2, --jobs 1 and a plain run: the same results, byte for byte;
#   - prepare + units in another order, from another directory + finish: the same results;
#   - the finish step before the units have ended: refused, naming the missing units, the
#     registry says failed with them; once they are there the finish makes the same results;
#   - a unit killed while writing its part (WB_FAULT_KILL: exactly then): the finish names it,
#     `workbench slurm --resume` would submit it alone, the unit run again repairs the run;
#   - one unit run by 4 processes at once: one whole part with the bytes a lone run writes;
#   - a part of another config: refused by the finish step, naming it;
#   - 8 processes of 8 different units filling one empty preprocessing cache at once: the
#     cache ends as a single process fills it, and the results are a plain run's;
#   - workbench slurm: the script (absolute paths, the array and its limit, sh -n), --submit
#     without sbatch (exit 2, naming sbatch and slurm-client), --resume of a finished run.
# Compared files: metrics.json predictions.csv metrics.csv curves.csv folds.csv manifest.csv
# (run.log, timing.csv and the parts' "seconds" lines hold wall times).
# Args: WORKBENCH WEIGHTS_DIR OUT_DIR
set -euo pipefail
wb=$1 weights=$2 out=$3
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd -P)
wb=$(cd "$(dirname "$wb")" && pwd -P)/$(basename "$wb")
. "$(dirname "$0")/../cli/lib.sh"
unset WB_FAULT_WRITE WB_FAULT_TRACE WB_FAULT_ALLOC WB_FAULT_KILL

# the cohort of cli.run (16 patients, 2 folds, baseline + frozen + layer3 fine-tuned: 6
# units), one engine thread per unit
make_cohort
sed 's/^threads: 2$/threads: 1/' "$out/t.yaml" >"$out/c.yaml"
runs=$out/runs
expect_exit 0 "$wb" -q run "$out/c.yaml" --out "$runs" --timestamp 20260101T000000Z
ref=$(cat "$out/stdout")
compared="metrics.json predictions.csv metrics.csv curves.csv folds.csv manifest.csv"
same_as() { # DIR REF WHAT
  local f
  for f in $compared; do
    checks=$((checks + 1))
    cmp -s "$2/$f" "$1/$f" || { fails=$((fails + 1)); echo "FAIL: $3: $f differs from the one-process run's" >&2; }
  done
}
# a part without its wall time
part_bytes() { grep -v '^seconds ' "$1"; }
status_of() { # RUN_DIR: the registry's status line and error line
  "$wb" runs show "$(basename "$1")" --out "$runs" | grep -E '^(status|error) '
}

# --jobs 2, --jobs 1: worker processes, each unit's log in logs/
for j in 2 1; do
  expect_exit 0 "$wb" -q run "$out/c.yaml" --out "$runs" --timestamp 2026011${j}T000000Z --jobs "$j"
  d=$(cat "$out/stdout")
  same_as "$d" "$ref" "--jobs $j"
  expect_eq "$(ls "$d/logs" | tr '\n' ' ')" "unit-0.log unit-1.log unit-2.log unit-3.log unit-4.log unit-5.log " "unit logs of --jobs $j"
done

# prepare (from another directory, with --run-dir: the key, cache and registry are the
# parent's), the finish step too early, the units in reverse order, finish
mkdir -p "$out/elsewhere"
d=$runs/steps
cd "$out/elsewhere"
expect_exit 0 "$wb" -q run ../c.yaml --prepare --run-dir "$d"
cd "$out"
expect_eq "$(cat "$out/stdout")" "$d" "prepared run directory"
checks=$((checks + 1))
[ ! -e "$out/elsewhere/runs" ] || { fails=$((fails + 1)); echo "FAIL: prepare --run-dir made runs/ in the working directory" >&2; }
expect_eq "$("$wb" run "$out/c.yaml" --plan | wc -l)" 6 "units in the plan"
expect_exit 0 "$wb" -q run --unit 0 "$d"
expect_exit 2 "$wb" -q run --finish "$d"
expect_grep "$d: 5 of 6 units not finished: 1 \(repeat 0 fold 0 frozen\), 2 \(repeat 0 fold 0 last\), 3 \(repeat 0 fold 1 baseline\), 4 \(repeat 0 fold 1 frozen\), 5 \(repeat 0 fold 1 last\)" "$out/stderr"
checks=$((checks + 1))
[ ! -e "$d/metrics.json" ] || { fails=$((fails + 1)); echo "FAIL: a refused finish wrote metrics.json" >&2; }
status_of "$d" >"$out/status"
expect_grep '^status +failed$' "$out/status"
expect_grep '^error .*5 of 6 units not finished: 1 \(repeat 0 fold 0 frozen\)' "$out/status"
expect_exit 0 "$wb" -q run --unit 5,4 "$d"
expect_exit 0 "$wb" -q run --unit 1-3 "$d"
expect_exit 0 "$wb" -q run --finish "$d"
same_as "$d" "$ref" "prepare + units in reverse order + finish"
status_of "$d" >"$out/status"
expect_grep '^status +finished$' "$out/status"
# a finished run: --resume has no unit to submit, only the finish and clean-up
expect_exit 0 "$wb" slurm --resume "$d"
expect_grep '0 of 6 units to re-submit' "$out/stderr"
expect_no_grep '--array' "$(cat "$out/stdout")"

# a unit killed while its part is being written: the output operation numbers of unit 2
expect_exit 0 "$wb" -q run "$out/c.yaml" --prepare --run-dir "$runs/trace"
expect_exit 0 env WB_FAULT_TRACE=1 "$wb" -q run --unit 2 "$runs/trace"
n=$({ grep -m1 -E 'fault point [0-9]+: write .*/parts/r0_f0_v2\.txt' "$out/stderr" || true; } | sed -E 's/.*fault point ([0-9]+):.*/\1/')
d=$runs/killed
expect_exit 0 "$wb" -q run "$out/c.yaml" --prepare --run-dir "$d"
expect_eq "${n:+found}" found "the fault point of unit 2's part write"
expect_exit 137 env WB_FAULT_KILL="$n" "$wb" -q run --unit 2 "$d"
checks=$((checks + 1))
[ ! -e "$d/parts/r0_f0_v2.txt" ] || { fails=$((fails + 1)); echo "FAIL: a unit killed mid-write left its part" >&2; }
echo "  unit 2 killed writing its part: $(ls "$d/parts" | tr '\n' ' ')"
expect_exit 0 "$wb" -q run --unit 0,1,3-5 "$d"
expect_exit 2 "$wb" -q run --finish "$d"
expect_grep "$d: 1 of 6 units not finished: 2 \(repeat 0 fold 0 last\)" "$out/stderr"
status_of "$d" >"$out/status"
expect_grep '^error .*1 of 6 units not finished: 2 \(repeat 0 fold 0 last\)' "$out/status"
# what a re-submit would send: unit 2 alone
expect_exit 0 "$wb" slurm --resume "$d" --array-limit 4 --timestamp 20260101T000000Z
expect_grep '1 of 6 units to re-submit' "$out/stderr"
expect_grep '--array=2%4 ' "$(cat "$out/stdout")"
expect_exit 0 "$wb" -q run --unit 2 "$d"
expect_exit 0 "$wb" -q run --finish "$d"
same_as "$d" "$ref" "after the killed unit ran again"
status_of "$d" >"$out/status"
expect_grep '^status +finished$' "$out/status"

# one unit run by 4 processes at once
d=$runs/twice
expect_exit 0 "$wb" -q run "$out/c.yaml" --prepare --run-dir "$d"
pids=""
for i in 1 2 3 4; do
  "$wb" -q run --unit 4 "$d" >"$out/twice.$i.out" 2>&1 &
  pids="$pids $!"
done
for p in $pids; do
  st=0
  wait "$p" || st=$?
  expect_eq "$st" 0 "exit status of a process of unit 4 run 4 times at once"
done
expect_eq "$(ls "$d/parts" | tr '\n' ' ')" "r0_f1_v1.txt " "parts after unit 4 ran 4 times at once"
expect_eq "$(part_bytes "$d/parts/r0_f1_v1.txt" | sha256sum)" "$(part_bytes "$ref/parts/r0_f1_v1.txt" | sha256sum)" \
  "the part of unit 4 run 4 times at once, against the one-process run's"
expect_exit 0 "$wb" -q run --unit 0-3,5 "$d"
expect_exit 0 "$wb" -q run --finish "$d"
same_as "$d" "$ref" "unit 4 run 4 times at once"

# a part of another config (another seed: other folds, another run id)
d=$runs/foreign
expect_exit 0 "$wb" -q run "$out/c.yaml" --prepare --run-dir "$runs/other" --set seed=4
expect_exit 0 "$wb" -q run --unit 0 "$runs/other"
expect_exit 0 "$wb" -q run "$out/c.yaml" --prepare --run-dir "$d"
expect_exit 0 "$wb" -q run --unit 1-5 "$d"
cp "$runs/other/parts/r0_f0_v0.txt" "$d/parts/"
expect_exit 3 "$wb" -q run --finish "$d"
expect_grep "$d: 1 unit part in parts/ was not made by this run \(another config, manifest or version, or damaged\): 0 \(repeat 0 fold 0 baseline\)" "$out/stderr"
checks=$((checks + 1))
[ ! -e "$d/metrics.json" ] || { fails=$((fails + 1)); echo "FAIL: finish with a foreign part wrote metrics.json" >&2; }
# the unit run again replaces it
expect_exit 0 "$wb" -q run --unit 0 "$d"
expect_exit 0 "$wb" -q run --finish "$d"
same_as "$d" "$ref" "after the foreign part was replaced"
# a damaged part of this run: a score that is NaN (fscanf reads it; it moved the threshold)
rm "$d/metrics.json"
awk 'p { print "nan"; p = 0; next } /^val / { p = 1 } { print }' "$d/parts/r0_f0_v0.txt" >"$d/parts/nan.tmp"
mv "$d/parts/nan.tmp" "$d/parts/r0_f0_v0.txt"
expect_exit 3 "$wb" -q run --finish "$d"
expect_grep "$d: 1 unit part in parts/ was not made by this run \(another config, manifest or version, or damaged\): 0 \(repeat 0 fold 0 baseline\)" "$out/stderr"
expect_exit 0 "$wb" -q run --unit 0 "$d"
expect_exit 0 "$wb" -q run --finish "$d"
same_as "$d" "$ref" "after the damaged part was replaced"

# 8 processes of 8 different units (2 repeats: 12 units) filling one empty cache at once
expect_exit 0 "$wb" -q run "$out/c.yaml" --out "$runs" --timestamp 20260104T000000Z --set cv.repeats=2
ref2=$(cat "$out/stdout")
d=$runs/eight
expect_exit 0 "$wb" -q run "$out/c.yaml" --prepare --run-dir "$d" --set cv.repeats=2 --set preprocess.cache_dir="$out/cache8"
expect_exit 0 "$wb" -q cache clear "$out/cache8"
expect_eq "$(find "$out/cache8" -name '*.wbpre' 2>/dev/null | wc -l)" 0 "cache entries after clear"
pids=""
for u in 0 1 2 3 4 5 6 7; do
  "$wb" run --unit "$u" "$d" >"$out/eight.$u.out" 2>&1 &
  pids="$pids $!"
done
for p in $pids; do
  st=0
  wait "$p" || st=$?
  expect_eq "$st" 0 "exit status of one of 8 concurrent units"
done
echo "  8 units at once on an empty cache; images each found in the cache:" \
  "$(sed -n 's/.*data: \([0-9]*\) of [0-9]* images from the cache.*/\1/p' "$out"/eight.*.out | tr '\n' ' ')"
sums() { (cd "$1" && find . -type f ! -name '*.tmp.*' | sort | xargs sha256sum); }
expect_eq "$(sums "$out/cache8")" "$(sums "$runs/cache")" "the cache 8 units filled at once, against the one a single process filled"
expect_eq "$(find "$out/cache8" -name '*.tmp.*' | wc -l)" 0 "temporary files left in the cache"
expect_exit 0 "$wb" -q run --unit 8-11 "$d"
expect_exit 0 "$wb" -q run --finish "$d"
same_as "$d" "$ref2" "8 units at once on one cache"

# workbench slurm without Slurm: the script
expect_exit 0 "$wb" slurm "$out/c.yaml" --out "$runs" --array-limit 3 --partition short --time 1:00:00 --mem 2G --timestamp 20260105T000000Z
script=$(cat "$out/stdout")
expect_eq "$(dirname "$script")" "$runs" "the script's directory"
sdir=$(sed -n 's/^workbench: run directory \(.*\); submit with: sh .*/\1/p' "$out/stderr")
expect_eq "$sdir" "$runs/$(basename "$script" .slurm.sh)" "the run directory named by the script"
case $(basename "$sdir") in small-20260105T000000Z-????????) ;; *) fails=$((fails + 1)); echo "FAIL: run directory name $sdir" >&2 ;; esac
checks=$((checks + 1))
[ ! -e "$sdir" ] || { fails=$((fails + 1)); echo "FAIL: workbench slurm made the run directory (the prepare job does)" >&2; }
expect_exit 0 sh -n "$script"
expect_grep "--array=0-5%3 --dependency=afterok:\\\$prepare --kill-on-invalid-dep=yes" "$script"
expect_grep "--partition=short --time=1:00:00 --mem=2G .*--cpus-per-task=1 " "$script"
expect_grep "^    --wrap='$(cd "$(dirname "$wb")" && pwd -P)/$(basename "$wb") run $out/c.yaml --prepare --run-dir $sdir && mkdir -p $sdir/logs'\\)" "$script"
expect_grep "--dependency=afterany:\\\$units:\\\$finish" "$script"
expect_exit 2 env PATH=/nonexistent "$wb" slurm "$out/c.yaml" --out "$runs" --submit
expect_grep 'sbatch is not on PATH; submitting needs the Slurm client commands \(Debian/Ubuntu package slurm-client\)' "$out/stderr"
expect_exit 2 "$wb" slurm --resume "$out/elsewhere"
expect_grep "not a prepared run directory \(no config.yaml\)" "$out/stderr"
finish
