#!/bin/sh
# make_data.sh [DIR] - full-size synthetic mammograms for the preprocessing benchmark:
# 2 patients x 4 views, 3328x4096, with our own generator (run from the repository root after
# building). Some files are JPEG lossless / JPEG-LS; run.sh benchmarks the uncompressed ones
# only (labels.csv's transfer_syntax column), since pydicom cannot decode those without plugins.
set -eu
DIR=${1:-bench/preprocess/data}
./build/workbench/workbench synth --out "$DIR" --patients 2 --seed 1 --size 3328x4096
