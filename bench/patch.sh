#!/bin/sh
# bench/patch.sh — a lesion-patch experiment (data.task: patch) through `workbench run` and
# through the same work in plain PyTorch + scikit-learn (bench/patch_torch.py), in one
# invocation, on one synthetic cohort: patch training per variant, the sliding-window scoring
# of the held-out whole images, wall times and the ratio.
#
#   bench/patch.sh [--build DIR] [--work DIR] [--patients N] [--size S] [--patch P]
#                  [--stride T] [--epochs E] [--folds K] [--threads N] [--variants LIST]
#                  [--workbench BIN]
#
# Defaults: build/, WORK = BUILD/bench-patch, 30 patients (120 images) of `workbench synth
# --size 256x320 --seed 7 --transfer-syntax explicit_le` (uncompressed, so that pydicom decodes
# every file without plugins), S = 64 (ResNet-20 input S x S), P = 64-pixel lesion patches
# (2 background patches per normal image), stride T = 64 for the windows, E = 2 epochs, K = 5
# folds, 2 threads, LIST = "probe:none,last:layer3,full:all" (name:unfreeze; the pretrained
# CIFAR ResNet-20 of ../shared/weights).
#
# Steps: synth (once per WORK), WORK/patch.yaml, `workbench preprocess` (not timed: both sides
# read the same patch pixels from that cache), `workbench run` (per-variant seconds from
# timing.csv; "load, windows, outputs" is the rest of its wall time: reading the patches from
# the cache, decoding the images and cutting their windows, the reports), then patch_torch.py
# on the run's patches, folds and windows (it cuts the windows itself from pydicom's decode).
# Prints a Markdown table and the BLAS kernels each side ran. The AUCs differ: inner splits,
# random draws and the windows' resampling are each side's own. Not a test: nothing asserts
# on time.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build="$root/build"
work=""
patients=30
size=64
patch=64
stride=64
epochs=2
folds=5
threads=2
variants="probe:none,last:layer3,full:all"
workbench=""
py=/usr/bin/python3
. "$here/lib.sh"
bench_options "usage: $0 [--build DIR] [--work DIR] [--patients N] [--size S] [--patch P] [--stride T] [--epochs E] [--folds K] [--threads N] [--variants LIST] [--workbench BIN]" \
    "build work patients size patch stride epochs folds threads variants workbench" "$@"
[ -n "$work" ] || work="$build/bench-patch"
bench_setup patch.sh
mkdir -p "$work"
work=$(cd "$work" && pwd)
cohort="$work/cohort-$patients"
[ -f "$cohort/labels.csv" ] || "$workbench" --quiet synth --out "$cohort" --patients "$patients" --seed 7 \
    --size 256x320 --transfer-syntax explicit_le >/dev/null
cfg="$work/patch.yaml"
{
    cat <<EOF
name: bench_patch
seed: 7
threads: $threads
data:
  dicom_dir: $cohort
  labels: $cohort/labels.csv
  label_column: label
  positive: malignant
  group_column: patient_id
  task: patch
  patch:
    box: {x: bbox_x, y: bbox_y, w: bbox_w, h: bbox_h}
    size: $patch
    background: 2
    stride: $stride
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
"$py" "$here/patch_torch.py" "$rundir" "$work/cache" "$cohort" "$weights" "$variants" --threads "$threads" \
    --epochs "$epochs" --batch 16 --lr 0.01 --height "$size" --width "$size" > "$torch_out"
t2=$(date +%s.%N)
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg); run: $rundir" >&2
"$py" - "$rundir" "$torch_out" "$t0" "$t1" "$t2" "$patients" "$size" "$patch" "$stride" "$epochs" "$folds" "$threads" <<'EOF'
import csv, json, os, sys
run, tout, t0, t1, t2 = sys.argv[1], sys.argv[2], *map(float, sys.argv[3:6])
patients, size, patch, stride, epochs, folds, threads = sys.argv[6:13]
ours = {}
for r in csv.DictReader(open(os.path.join(run, "timing.csv"))):
    ours[r["variant"]] = ours.get(r["variant"], 0.0) + float(r["seconds"])
m = json.load(open(os.path.join(run, "metrics.json")))
def pooled(results):  # repeat 0's image-level AUC
    return next((r["image"]["auc"] for r in results if r.get("repeat") == 0), float("nan"))
auc_p = {v["name"]: pooled(v["repeats"]) for v in m["variants"]}
auc_i = {v["name"]: pooled(v["results"]) for v in m.get("whole_image", {}).get("variants", [])}
lines = open(tout).read().splitlines()
blas = [l for l in lines if l.startswith("#")]
rows = [l.split("\t") for l in lines if l and not l.startswith("#")]
cut = [r for r in rows if r[0] == "cut"][0]
npatch = sum(1 for _ in open(os.path.join(run, "patches.csv"))) - 1
env = json.load(open(os.path.join(run, "environment.json")))
print("%s patients, %d patches of %s px, %s windows (stride %s), ResNet-20 at %sx%s, %s epochs, %s folds, %s threads"
      % (patients, npatch, patch, cut[2], stride, size, size, epochs, folds, threads))
print()
print("| step | workbench s | PyTorch + sklearn s | PyTorch / workbench | patch AUC ours / peer | image AUC ours / peer |")
print("|---|---:|---:|---:|---:|---:|")
rest = (t1 - t0) - sum(ours.values())
print("| load, windows, outputs (peer: windows cut) | %.1f | %.1f | %.2f | | |" % (rest, float(cut[1]), float(cut[1]) / rest))
for name, secs, wsecs, ap, ai in [r for r in rows if r[0] != "cut"]:
    o = ours.get(name, float("nan"))
    print("| %s (peer: %.1f s of it windows) | %.1f | %.1f | %.2f | %.3f / %s | %.3f / %s |"
          % (name, float(wsecs), o, float(secs), float(secs) / o, auc_p.get(name, float("nan")), ap[:5],
             auc_i.get(name, float("nan")), ai[:5]))
print("| whole (process wall time) | %.1f | %.1f | %.2f | | |" % (t1 - t0, t2 - t1, (t2 - t1) / (t1 - t0)))
print()
print("# ours: workbench %s (%s), OpenBLAS: %s" % (env.get("workbench"), env.get("git_revision"), env.get("openblas")))
for l in blas:
    print(l.replace("# blas:", "# PyTorch:"))
EOF
