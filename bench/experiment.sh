#!/bin/sh
# bench/experiment.sh — a whole experiment through `workbench run` and through the same
# experiment written in plain PyTorch + scikit-learn (bench/experiment_torch.py), in one
# invocation, on one synthetic cohort: wall time per variant and the ratio.
#
#   bench/experiment.sh [--build DIR] [--work DIR] [--patients N] [--size S] [--epochs E]
#                       [--folds K] [--threads T] [--flip 0|1] [--variants LIST]
#                       [--workbench BIN]
#
# Defaults: build/, WORK = BUILD/bench-experiment, 30 patients (120 images) of
# `workbench synth --size 256x320 --seed 7`, S = 128 (ResNet-20 input S x S), E = 2 epochs,
# K = 5 folds, T = 2 threads, flips on (train.augment.flip), LIST =
# "frozen:none,last:layer3,full:all" (name:unfreeze; the pretrained CIFAR ResNet-20 of
# ../shared/weights), --workbench BIN to time another build's binary on the same cohort.
#
# Steps: synth (once per WORK), write WORK/experiment.yaml, `workbench preprocess` into
# WORK/cache (not timed: both sides then read the same preprocessed pixels from that cache),
# `workbench run` (per-variant seconds from the run's timing.csv, summed over folds), then
# experiment_torch.py on the run's manifest, folds and the same cache, same threads. Prints
# a Markdown table (variant, ours s, PyTorch s, PyTorch/ours, pooled AUC of each) and the BLAS
# kernels each side ran (ours: environment.json's OpenBLAS config; PyTorch: the core its
# OpenBLAS chose, and its convolution backend). The AUCs differ: the inner validation split and
# the random draws are each side's own. Not a test: nothing asserts on time.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build="$root/build"
work=""
patients=30
size=128
epochs=2
folds=5
threads=2
flip=1
variants="frozen:none,last:layer3,full:all"
workbench=""
py=/usr/bin/python3
. "$here/lib.sh"
bench_options "usage: $0 [--build DIR] [--work DIR] [--patients N] [--size S] [--epochs E] [--folds K] [--threads T] [--flip 0|1] [--variants LIST] [--workbench BIN]" \
    "build work patients size epochs folds threads flip variants workbench" "$@"
[ -n "$work" ] || work="$build/bench-experiment"
bench_setup experiment.sh
mkdir -p "$work"
work=$(cd "$work" && pwd) # absolute: the config's paths are read relative to its own directory
cohort="$work/cohort-$patients"
[ -f "$cohort/labels.csv" ] || "$workbench" --quiet synth --out "$cohort" --patients "$patients" --seed 7 --size 256x320 >/dev/null
aug=false
[ "$flip" = 1 ] && aug=true
cfg="$work/experiment.yaml"
{
    cat <<EOF
name: bench_experiment
seed: 7
threads: $threads
data:
  dicom_dir: $cohort
  labels: $cohort/labels.csv
  label_column: label
  positive: malignant
  group_column: patient_id
preprocess:
  height: $size
  width: $size
  keep_aspect: false
  cache_dir: $work/cache
backbone:
  arch: resnet20
  weights: $weights
  in_channels: 1
variants:
EOF
    bench_variants_yaml "$variants"
    cat <<EOF
train:
  epochs: $epochs
  batch_size: 16
  lr: 0.01
  augment:
    flip: $aug
cv:
  folds: $folds
EOF
} > "$cfg"

bench_threads "$threads"
"$workbench" --quiet preprocess "$cfg" >/dev/null
t0=$(date +%s.%N)
rundir=$("$workbench" --quiet run "$cfg" --out "$work/runs" --registry none)
t1=$(date +%s.%N)
torch_out="$work/torch.tsv"
"$py" "$here/experiment_torch.py" "$rundir" "$work/cache" "$weights" "$variants" --threads "$threads" \
    --epochs "$epochs" --batch 16 --lr 0.01 --flip "$flip" --size "$size" > "$torch_out"
t2=$(date +%s.%N)
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg); run: $rundir" >&2
"$py" - "$rundir" "$torch_out" "$t0" "$t1" "$t2" "$patients" "$size" "$epochs" "$folds" "$threads" "$flip" <<'EOF'
import csv, json, os, sys
from sklearn.metrics import roc_auc_score
run, tout, t0, t1, t2 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:6])
patients, size, epochs, folds, threads, flip = sys.argv[6:12]
ours = {}
for r in csv.DictReader(open(os.path.join(run, "timing.csv"))):
    ours[r["variant"]] = ours.get(r["variant"], 0.0) + float(r["seconds"])
pred = {}
for r in csv.DictReader(open(os.path.join(run, "predictions.csv"))):
    if r["repeat"] == "0":
        pred.setdefault(r["variant"], ([], []))
        pred[r["variant"]][0].append(int(r["label"]))
        pred[r["variant"]][1].append(float(r["score"]))
env = json.load(open(os.path.join(run, "environment.json")))
lines = open(tout).read().splitlines()
blas = [l for l in lines if l.startswith("#")]
rows = [l.split("\t") for l in lines if l and not l.startswith("#")]
n = sum(1 for _ in open(os.path.join(run, "manifest.csv"))) - 1
print("%s patients (%d images), ResNet-20 at %sx%s, %s epochs, %s folds, %s threads, flips %s"
      % (patients, n, size, size, epochs, folds, threads, "on" if flip == "1" else "off"))
print()
print("| variant | workbench s | PyTorch + sklearn s | PyTorch / workbench | AUC workbench | AUC PyTorch |")
print("|---|---:|---:|---:|---:|---:|")
for name, secs, auc in rows:
    o = ours.get(name, float("nan"))
    y, s = pred.get(name, ([], []))
    a = roc_auc_score(y, s) if y and 0 < sum(y) < len(y) else float("nan")
    print("| %s | %.1f | %.1f | %.2f | %.3f | %s |" % (name, o, float(secs), float(secs) / o, a, auc))
print("| whole (process wall time) | %.1f | %.1f | %.2f | | |" % (t1 - t0, t2 - t1, (t2 - t1) / (t1 - t0)))
print()
print("# ours: workbench %s (%s), OpenBLAS: %s" % (env.get("workbench"), env.get("git_revision"), env.get("openblas")))
for l in blas:
    print(l.replace("# blas:", "# PyTorch:"))
EOF
