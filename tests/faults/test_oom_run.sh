#!/usr/bin/env bash
# The CNN engine runs out of memory during `workbench run` (WB_FAULT_ALLOC=N, nets/nn_alloc.c):
# at several allocations of the training folds the run stops with exit 4 and "out of memory",
# leaves only whole files and no temporary file, and `run --resume` finishes it with the results
# of an uninterrupted run. Args: WORKBENCH WEIGHTS_DIR OUT_DIR JSON_CHECK
set -euo pipefail
wb=$1 weights=$2 out=$3 json_check=$4
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/common.sh"

reference_run
before=$(snapshot "$ref")
# Before the run directory exists the config check and the weights' binding build the network
# (about 350 engine allocations for ResNet-20); then the frozen probe's feature pass and each
# backbone training build their own (about 900 more in all): these points fall in the first,
# second and last training (measured: 400, 600 and 1000 leave 1, 2 and 5 of the 6 parts).
k=0
for n in 400 600 1000; do
  k=$((k + 1))
  expect_exit 4 env WB_FAULT_ALLOC=$n "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 2026010${k}T120000Z
  expect_grep "^workbench: error: .*out of memory" "$out/stderr"
  no_temp "$out/runs" "engine allocation $n failing"
  dir=$(ls -d "$out/runs/small-2026010${k}T120000Z-"* 2>/dev/null | head -1 || true)
  checks=$((checks + 1)); [ -n "$dir" ] || { fails=$((fails + 1)); echo "FAIL: no run directory (allocation $n)" >&2; continue; }
  complete "$dir" "$ref" "engine allocation $n failing"
  expect_eq "$(snapshot "$ref")" "$before" "finished run after allocation $n failed"
  expect_exit 0 "$wb" run --resume "$dir"
  for f in metrics.json predictions.csv metrics.csv curves.csv; do
    checks=$((checks + 1)); cmp -s "$ref/$f" "$dir/$f" || { fails=$((fails + 1)); echo "FAIL: $f after resuming a run stopped by allocation $n" >&2; }
  done
done
finish
