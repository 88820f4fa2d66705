#!/bin/sh
# bench/jobs.sh — one 4-variant run as one process, as --jobs 1 and as --jobs 2 (worker
# processes), wall times side by side, the three results compared byte for byte, and the wall
# time to expect on a bigger machine from the units' measured costs.
#
#   bench/jobs.sh [--build DIR] [--work DIR] [--patients N] [--size S] [--epochs E]
#                 [--folds K] [--cores C] [--workbench BIN]
#
# Defaults: build/, WORK = BUILD/bench-jobs, 24 patients (96 images) of `workbench synth
# --size 256x320 --seed 7`, ResNet-20 (the CIFAR weights of ../shared/weights) at S = 64,
# E = 2 epochs, K = 5 folds, threads 1 per unit; variants baseline, frozen (linear probe),
# last (layer3), full (all); C = 64 cores for the projection.
#
# The projection: the units' seconds from timing.csv, each plus the per-process overhead
# measured here ((wall of --jobs 1 - wall of the plain run) / units: a worker loads the data
# again from the cache), scheduled longest first on C workers (as --jobs and a Slurm array
# with enough nodes do); plus the plain run's time outside its units (prepare + finish).
# Pessimistic: a baseline or frozen unit's seconds in timing.csv include its share of the
# per-image features (radiomic / backbone), which the plain run computes once while the data
# loads; so those seconds are counted in the units and again in "prepare + finish" (floored
# at 0 when they exceed it).
# Not a test: nothing asserts on time.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build="$root/build"
work=""
patients=24
size=64
epochs=2
folds=5
cores=64
workbench=""
. "$here/lib.sh"
bench_options "usage: $0 [--build DIR] [--work DIR] [--patients N] [--size S] [--epochs E] [--folds K] [--cores C] [--workbench BIN]" \
    "build work patients size epochs folds cores workbench" "$@"
bench_setup jobs.sh
wb=$workbench
work=${work:-$build/bench-jobs}
mkdir -p "$work"
work=$(cd "$work" && pwd)
[ -d "$work/data" ] || "$wb" synth --out "$work/data" --patients "$patients" --seed 7 --size 256x320 >/dev/null 2>&1
cat > "$work/jobs.yaml" <<YAML
name: bench_jobs
seed: 3
threads: 1
data:
  dicom_dir: $work/data
  labels: $work/data/labels.csv
preprocess:
  height: $size
  width: $size
backbone:
  arch: resnet20
  weights: $weights
  in_channels: 1
variants:
  - {name: baseline, type: baseline}
  - {name: frozen, type: backbone, unfreeze: none}
  - {name: last, type: backbone, unfreeze: [layer3]}
  - {name: full, type: backbone, unfreeze: all}
train:
  epochs: $epochs
  batch_size: 16
cv:
  folds: $folds
metrics:
  reference: baseline
YAML
now() { date +%s.%N; }
runs="$work/runs"
rm -rf "$runs"
# the cache filled once (not timed), so that every side reads the same preprocessed images
"$wb" run "$work/jobs.yaml" --out "$runs" --registry none --prepare >/dev/null 2>&1
t0=$(now); d1=$("$wb" run "$work/jobs.yaml" --out "$runs" --registry none 2>/dev/null); t1=$(now)
dj1=$("$wb" run "$work/jobs.yaml" --out "$runs" --registry none --jobs 1 2>/dev/null); t2=$(now)
dj2=$("$wb" run "$work/jobs.yaml" --out "$runs" --registry none --jobs 2 2>/dev/null); t3=$(now)
same=yes
for f in metrics.json predictions.csv curves.csv probe.csv; do
    cmp -s "$d1/$f" "$dj1/$f" && cmp -s "$d1/$f" "$dj2/$f" || same="NO ($f differs)"
done
units=$(($(wc -l < "$d1/timing.csv") - 1))
echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg); $units units, threads 1 each"
echo "# OpenBLAS: $(sed -n 's/.*"openblas": "\(.*\)",/\1/p' "$d1/environment.json")"
echo
echo "| run | wall s | vs one process |"
echo "|---|---:|---:|"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" 'BEGIN {
    p = b - a; j1 = c - b; j2 = d - c
    printf "| one process | %.1f | 1.00 |\n| --jobs 1 | %.1f | %.2f |\n| --jobs 2 | %.1f | %.2f |\n", p, j1, p / j1, j2, p / j2 }'
echo
echo "identical metrics.json, predictions.csv, curves.csv, probe.csv: $same"
# projection from the units' costs
tail -n +2 "$d1/timing.csv" | cut -d, -f4 | sort -rn | awk -v a="$t0" -v b="$t1" -v c="$t2" -v n="$units" -v C="$cores" '
    { s[NR] = $1; sum += $1 }
    END {
        plain = b - a; j1 = c - b
        over = (j1 - plain) / n; if (over < 0) over = 0
        fixed = plain - sum; if (fixed < 0) fixed = 0
        for (w = 1; w <= C; w++) load[w] = 0
        for (i = 1; i <= n; i++) {          # longest first onto the least loaded worker
            m = 1; for (w = 2; w <= C; w++) if (load[w] < load[m]) m = w
            load[m] += s[i] + over
        }
        mk = 0; for (w = 1; w <= C; w++) if (load[w] > mk) mk = load[w]
        printf "\nunits: %.1f s in all, the longest %.1f s; per-process overhead %.1f s; prepare + finish %.1f s\n", sum, s[1], over, fixed
        printf "expected on %d cores (one unit per core): %.1f s = %.1fx the one-process run (bounded by the longest unit)\n", C, fixed + mk, plain / (fixed + mk)
    }'
