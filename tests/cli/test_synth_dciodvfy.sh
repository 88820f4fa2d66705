#!/usr/bin/env bash
# Every synthetic file passes dicom3tools' dciodvfy with no errors (skipped, exit 77, where
# dciodvfy is not installed). Args: WORKBENCH OUT_DIR
set -euo pipefail
wb=$1 out=$2
command -v dciodvfy >/dev/null || { echo "dciodvfy not installed (Debian package dicom3tools): skipped"; exit 77; }
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"
expect_exit 0 "$wb" synth --out "$out/d" --patients 6 --seed 3 --size 200x256
# and one patient in each other transfer syntax synth writes
expect_exit 0 "$wb" synth --out "$out/e" --patients 1 --seed 3 --size 200x256 --transfer-syntax rle
expect_exit 0 "$wb" synth --out "$out/f" --patients 1 --seed 3 --size 200x256 --transfer-syntax j2k
n=0
for f in "$out"/d/*/*.dcm "$out"/e/*/*.dcm "$out"/f/*/*.dcm; do
  n=$((n + 1))
  dciodvfy "$f" >"$out/v.txt" 2>&1 || true
  expect_grep '^MammographyImageForPresentation' "$out/v.txt"
  expect_no_grep '^Error' "$out/v.txt"
done
expect_eq "$n" 32 "files checked"
finish
