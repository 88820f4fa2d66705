#!/usr/bin/env bash
# The CLI's help, version, exit codes and inspect output. Args: WORKBENCH FIXTURE_DIR OUT_DIR
set -euo pipefail
wb=$1 data=$2 out=$3
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"

expect_exit 0 "$wb" --help
expect_grep '^  inspect ' "$out/stdout"
expect_grep '^  synth ' "$out/stdout"
expect_exit 0 "$wb" --version
for lib in 'DCMTK 3\.' 'ITK 5\.' 'OpenBLAS .*0\.3' 'libyaml 0\.' 'SQLite 3\.'; do expect_grep "^$lib" "$out/stdout"; done
expect_exit 0 "$wb" inspect --help
expect_grep '^usage: workbench inspect' "$out/stdout"
expect_exit 0 "$wb" synth --help
expect_grep '^usage: workbench synth' "$out/stdout"

# bad usage: exit 2 with a message
expect_exit 2 "$wb"
expect_exit 2 "$wb" frobnicate
expect_grep "unknown command 'frobnicate'" "$out/stderr"
expect_exit 2 "$wb" inspect
expect_grep 'no file or directory given' "$out/stderr"
expect_exit 2 "$wb" inspect --voi sometimes "$data/u8.dcm"
expect_grep "expected 'apply' or 'ignore', got 'sometimes'" "$out/stderr"
expect_exit 2 "$wb" synth --patients 10
expect_grep '--out DIR is required' "$out/stderr"
expect_exit 2 "$wb" synth --out "$out/x" --patients ten
expect_grep "--patients: expected an integer from 1 to 100000, got 'ten'" "$out/stderr"
expect_exit 2 "$wb" synth --out "$out/x" --size 10x10
expect_exit 2 "$wb" synth --out "$out/x" --prevalence 0.9 --benign-rate 0.5

# inspect: good files exit 0 with one object each
expect_exit 0 "$wb" inspect "$data/mammo_full.dcm" "$data/mg12_rescale_jpls.dcm"
expect_eq "$(wc -l <"$out/stdout")" 2 "inspect lines"
expect_grep '"path":"[^"]*mammo_full.dcm","ok":true' "$out/stdout"
expect_grep '"patient_id":"MG-000123"' "$out/stdout"
expect_grep '"laterality":"L","laterality_source":"ImageLaterality","view_position":"MLO"' "$out/stdout"
expect_grep '"pixel_spacing_mm":\[0.07,0.07\],"pixel_spacing_source":"PixelSpacing"' "$out/stdout"
expect_grep '"transfer_syntax_uid":"1.2.840.10008.1.2.4.80"' "$out/stdout"
expect_grep '"pixel_min":[-0-9.e]+,"pixel_max":[-0-9.e]+,"pixel_mean":[-0-9.e]+' "$out/stdout"
expect_no_grep 'DOE' "$out/stdout"
# one bad file among good ones: exit 3, the others still print
expect_exit 3 "$wb" inspect "$data/u8.dcm" "$data/frames3.dcm" "$data/u8_rle.dcm"
expect_eq "$(wc -l <"$out/stdout")" 3 "inspect lines with a bad file"
expect_grep '"ok":false,"error":"[^"]*frames3.dcm: \(0028,0008\) Number of Frames: 3 frames' "$out/stdout"
expect_eq "$(grep -c '"ok":true' "$out/stdout")" 2 "good files still printed"
# a missing path and an empty directory
mkdir -p "$out/empty"
expect_exit 3 "$wb" inspect "$out/nope.dcm" "$out/empty"
expect_grep 'nope.dcm: cannot open: No such file or directory' "$out/stdout"
expect_grep 'empty: directory has no files' "$out/stdout"
# --voi ignore gives modality values: mg12_rescale has rescale 0.5/-100 on 12 bits
expect_exit 0 "$wb" inspect --voi ignore "$data/mg12_rescale.dcm"
expect_grep '"voi":"ignore","voi_source":"ignored"' "$out/stdout"
finish
