#!/bin/sh
# bench/scale.sh — how the pipeline's stages grow with the cohort: wall time, CPU time and
# peak RSS of validate, preprocess, a run (baseline + frozen linear probe) and report, on
# synthetic cohorts of N small images.
#
#   bench/scale.sh [--build DIR] [--work DIR] [--sizes "1000 10000 100000"] [--max N]
#                  [--run-max N] [--size WxH] [--input S] [--set key=value]...
#
# Defaults: build/, WORK = BUILD/bench-scale, N = 1000 10000 100000 (--max N drops the larger
# ones; --run-max N: run and report only up to N, validate and preprocess beyond), `workbench synth --size 64x64 --transfer-syntax explicit_le --seed 1` (N/4 patients,
# 4 views each; a cohort is kept in WORK and reused), input S = 32 (32x32), ResNet-20 (the
# CIFAR weights of ../shared/weights), variants baseline and frozen (unfreeze: none), 1 epoch,
# 3 folds, 2 threads. --set passes config overrides to preprocess and run (e.g.
# --set data.memory_mb=64).
#
# Each stage runs under /usr/bin/time -v (Debian package `time`); peak RSS is the stage's
# maximum resident set size. preprocess starts from an empty cache; run then reads every
# image from that cache. Not a test: nothing asserts on time. Prints a Markdown table and
# keeps the rows in WORK/scale.tsv.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build="$root/build"
work=""
sizes="1000 10000 100000"
max=""
run_max=""
size=64x64
input=32
sets=""
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift ;;
    --work) work=$2; shift ;;
    --sizes) sizes=$2; shift ;;
    --max) max=$2; shift ;;
    --run-max) run_max=$2; shift ;;
    --size) size=$2; shift ;;
    --input) input=$2; shift ;;
    --set) sets="$sets --set $2"; shift ;;
    *) echo "usage: $0 [--build DIR] [--work DIR] [--sizes LIST] [--max N] [--run-max N] [--size WxH] [--input S] [--set k=v]..." >&2; exit 2 ;;
    esac
    shift
done
wb="$build/workbench/workbench"
[ -x "$wb" ] || { echo "scale.sh: $wb missing: build first" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "scale.sh: /usr/bin/time missing (apt-get install time)" >&2; exit 2; }
weights="$root/../shared/weights/resnet20-12fca82f.th"
[ -f "$weights" ] || { echo "scale.sh: $weights missing" >&2; exit 2; }
work=${work:-$build/bench-scale}
mkdir -p "$work"
work=$(cd "$work" && pwd)
tsv="$work/scale.tsv"
printf 'n\tstage\twall_s\tcpu_s\tpeak_rss_mb\n' > "$tsv"

# measure N STAGE CMD...: runs CMD under time -v, appends a row
measure() {
    n=$1 stage=$2
    shift 2
    log="$work/n$n-$stage.time"
    if ! /usr/bin/time -v -o "$log" "$@" > "$work/n$n-$stage.out" 2> "$work/n$n-$stage.err"; then
        echo "scale.sh: $stage at N=$n failed (see $work/n$n-$stage.err)" >&2
        tail -3 "$work/n$n-$stage.err" >&2
        exit 1
    fi
    awk -v n="$n" -v s="$stage" -F': ' '
        /Elapsed \(wall clock\)/ { k = split($2, t, ":"); w = 0; for (i = 1; i <= k; i++) w = w * 60 + t[i] }
        /User time/ { u = $2 } /System time/ { sy = $2 } /Maximum resident/ { r = $2 }
        END { printf "%s\t%s\t%.2f\t%.2f\t%.1f\n", n, s, w, u + sy, r / 1024 }' "$log" >> "$tsv"
}

for n in $sizes; do
    [ -n "$max" ] && [ "$n" -gt "$max" ] && continue
    p=$(( (n + 3) / 4 ))
    d="$work/cohort-$n"
    if [ ! -f "$d/labels.csv" ]; then
        rm -rf "$d"
        measure "$n" synth "$wb" synth --out "$d" --patients "$p" --seed 1 --size "$size" --transfer-syntax explicit_le
    fi
    cat > "$work/scale-$n.yaml" <<YAML
name: scale$n
seed: 1
threads: 2
data:
  dicom_dir: $d
  labels: $d/labels.csv
preprocess:
  height: $input
  width: $input
  cache_dir: $work/cache-$n
backbone:
  arch: resnet20
  weights: $weights
  in_channels: 1
variants:
  - name: baseline
    type: baseline
  - name: frozen
    type: backbone
    unfreeze: none
train:
  epochs: 1
  batch_size: 64
cv:
  folds: 3
metrics:
  reference: baseline
YAML
    rm -rf "$work/cache-$n" "$work/runs-$n"
    measure "$n" validate "$wb" validate "$work/scale-$n.yaml"
    # shellcheck disable=SC2086
    measure "$n" preprocess "$wb" preprocess "$work/scale-$n.yaml" --out "$work/runs-$n" $sets
    [ -n "$run_max" ] && [ "$n" -gt "$run_max" ] && continue
    # shellcheck disable=SC2086
    measure "$n" run "$wb" run "$work/scale-$n.yaml" --out "$work/runs-$n" --registry none --timestamp 20260101T000000Z $sets
    rd=$(cat "$work/n$n-run.out")
    measure "$n" report "$wb" report "$rd"
done

echo "load average before/after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| N | stage | wall s | CPU s | peak RSS MB |"
echo "|---:|---|---:|---:|---:|"
tail -n +2 "$tsv" | awk -F'\t' '{ printf "| %s | %s | %s | %s | %s |\n", $1, $2, $3, $4, $5 }'
