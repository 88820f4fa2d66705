#!/bin/sh
# bench/run.sh — the engine against PyTorch CPU and the sgemm peak, same thread count, same run.
#
#   bench/run.sh [--quick] [--threads N] [--build DIR] [--configs "resnet18:3x224 ..."]
#                [--issue16]
#                [--coretype NAME] [--rt]
#
# --rt runs both sides (ours and PyTorch, one after the other as always) under the real-time
# FIFO scheduler (chrt -f 50, needs root), so that other processes on a shared machine cannot
# take their cores mid-step; they still share caches and memory bandwidth. The kernel's RT
# throttling (sched_rt_runtime_us, 95% by default) keeps the machine responsive.
#
# --coretype sets OPENBLAS_CORETYPE for our process only; "auto" removes it, so that OpenBLAS
# detects the CPU itself. Without the option the environment is left as it is: check the
# core name in the output (a shell with OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU halves
# the sgemm speed). PyTorch does its convolutions in oneDNN, not OpenBLAS.
#
# Configs are ARCH[@WIDTH]:C x H [x W] (resnet20:1x128, resnet18:1x96x72,
# mobilenet_v1@0.25:1x224). --issue16 adds the shapes the experiments run (CIFAR ResNet-20/56
# at 32, 96x72, 128, 256; MobileNet v1 0.25 and 1.0 at 224; ResNet-18 at 96x72, one channel).
# For each config runs bench_nets (ours) and then bench_torch.py (PyTorch, Debian's
# /usr/bin/python3), one process each, so max RSS is per config; prints the Markdown table of
# docs/performance.md and keeps the raw rows in $BUILD/bench-results.tsv. Not a test.
# bench_nets comes from the build dir ($BUILD/bench/bench_nets when the top level has
# add_subdirectory(bench)); otherwise it is compiled here against $BUILD's libraries.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build="$root/build-bench"
threads=$(nproc)
quick=""
configs="resnet18:3x224 resnet50:3x224 resnet18:1x512 resnet50:1x512"
py=/usr/bin/python3
coretype=""
rt=""
while [ $# -gt 0 ]; do
    case "$1" in
    --quick) quick=--quick ;;
    --threads) threads=$2; shift ;;
    --build) build=$2; shift ;;
    --configs) configs=$2; shift ;;
    --coretype) coretype=$2; shift ;;
    --rt) rt="chrt -f 50" ;;
    --issue16) configs="resnet20:1x32 resnet20:1x96x72 resnet20:1x128 resnet20:1x256 resnet56:1x32 resnet56:1x96x72 resnet56:1x128 resnet56:1x256 mobilenet_v1@0.25:1x224 mobilenet_v1@1.0:1x224 resnet18:1x96x72" ;;
    *) echo "usage: $0 [--quick] [--threads N] [--build DIR] [--configs LIST] [--issue16] [--coretype NAME] [--rt]" >&2; exit 2 ;;
    esac
    shift
done

bin="$build/bench/bench_nets"
if [ ! -x "$bin" ]; then
    for lib in nets/libwb_nets.a base/libwb_base.a; do
        [ -f "$build/$lib" ] || { echo "run.sh: $build/$lib missing: build wb_nets first" >&2; exit 2; }
    done
    bin="$build/bench_nets"
    # includes are repo-root-relative ("nets/nn.h"); bench_nets needs nets/ and base/ only
    cc -std=c11 -O2 -D_XOPEN_SOURCE=700 -D_DEFAULT_SOURCE -Wall -Wextra \
        -I"$root" $(pkg-config --cflags openblas) \
        "$here/bench_nets.c" "$build/nets/libwb_nets.a" "$build/base/libwb_base.a" \
        $(pkg-config --libs openblas) -lpthread -lm -o "$bin"
fi

export OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads
out="$build/bench-results.tsv"
: > "$out"
echo "# threads $threads; $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
ours() {
    case "$coretype" in
    "") $rt "$bin" "$@" ;;
    auto) $rt env -u OPENBLAS_CORETYPE "$bin" "$@" ;;
    *) OPENBLAS_CORETYPE=$coretype $rt "$bin" "$@" ;;
    esac
}
echo "# OpenBLAS core type: ${coretype:-${OPENBLAS_CORETYPE:-detected}}${rt:+; both sides under $rt}" >&2
ours --threads "$threads" --peak $quick >> "$out"
# the load average (1 min) before each side of each config goes into the table
load1() { cut -d' ' -f1 /proc/loadavg; }
for c in $configs; do
    model=${c%%:*}
    echo "# $c: ours (load $(load1))" >&2
    printf 'load\t%s\tours\t%s\n' "$c" "$(load1)" >> "$out"
    ours --threads "$threads" --config "$c" $quick >> "$out"
    echo "# $c: PyTorch (load $(load1))" >&2
    printf 'load\t%s\ttorch\t%s\n' "$c" "$(load1)" >> "$out"
    $rt "$py" "$here/bench_torch.py" --threads "$threads" --config "$c" $quick >> "$out"
done
"$py" "$here/table.py" "$out"
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
