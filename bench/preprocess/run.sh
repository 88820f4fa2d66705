#!/bin/sh
# run.sh [DATA_DIR] [REPS] - the preprocessing benchmark of issue 4, from the repository root
# after `cmake --build build`: builds bench_preprocess with cc against the static libraries in
# build/ (link line taken from build/workbench/CMakeFiles/workbench.dir/link.txt), makes the
# data if missing, then times ours (C: DCMTK + ITK; 1 thread, then 2 threads each taking the
# next image) and the pydicom + NumPy + scikit-image pipeline (one thread) on the same
# uncompressed files, and prints images/s and the ratios. BUILD=dir picks another build
# directory (default build). Not a test.
set -eu
DIR=${1:-bench/preprocess/data}
REPS=${2:-3}
B=${BUILD:-build}
OUT=$B/bench_preprocess
[ -f "$DIR/labels.csv" ] || sh bench/preprocess/make_data.sh "$DIR"
LINK=$(sed "s/^.*-o workbench//; s#\.\./#$B/#g; s# libwb_base\.a# $B/workbench/libwb_base.a#" \
       "$B/workbench/CMakeFiles/workbench.dir/link.txt")
# shellcheck disable=SC2086
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Iio -Iexperiments -Iworkbench \
   bench/preprocess/bench_preprocess.c -o "$OUT" $LINK -lstdc++
# uncompressed files only: Explicit/Implicit VR Little Endian
FILES=$(/usr/bin/python3 - "$DIR" <<'PY'
import csv, os, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "labels.csv"))))
print(" ".join(os.path.join(d, r["file"]) for r in rows if r["transfer_syntax"] == "explicit_le"))
PY
)
[ -n "$FILES" ] || { echo "run.sh: no uncompressed files in $DIR" >&2; exit 1; }
echo "# $(lscpu | grep 'Model name' | sed 's/  */ /g'); nproc=$(nproc); $(uptime)"
# shellcheck disable=SC2086
C1=$("$OUT" --reps "$REPS" --threads 1 $FILES)
echo "$C1"
# shellcheck disable=SC2086
C2=$("$OUT" --reps "$REPS" --threads 2 $FILES)
echo "$C2"
# shellcheck disable=SC2086
P=$(/usr/bin/python3 bench/preprocess/bench_preprocess.py --reps "$REPS" $FILES)
echo "$P"
rate() { echo "$1" | sed 's/.*images_per_s=\([0-9.]*\).*/\1/'; }
cpu() { echo "$1" | sed 's/.*cpu_s_per_image=\([0-9.]*\).*/\1/'; }
p=$(rate "$P")
echo "CPU seconds per image: ours $(cpu "$C1"), python $(cpu "$P"), python / ours" \
     "$(echo "$(cpu "$P") $(cpu "$C1")" | awk '{printf "%.2f", $1/$2}')"
for c in "$C1" "$C2"; do
    t=$(echo "$c" | sed 's/.*threads=\([0-9]*\).*/\1/')
    echo "ours ($t thread(s), one image per thread) $(rate "$c") images/s, python $p images/s," \
         "ratio $(echo "$(rate "$c") $p" | awk '{printf "%.2f", $1/$2}') (goal >= 3)"
done
