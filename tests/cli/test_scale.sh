#!/usr/bin/env bash
# Scale (issue 14 §3): an interrupted preprocessing pass resumes from its cache (stopped by
# --max-new, deterministically), a run whose images exceed data.memory_mb reads them back
# from a spill file with the same results as one that holds them in memory, and validate
# reads a labels CSV of 100,000 rows. Args: WORKBENCH WEIGHTS_DIR OUT_DIR
set -euo pipefail
wb=$1 weights=$2 out=$3
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"
make_cohort

# a pass stopped after 20 computed images, then resumed: the 20 come from the cache
expect_exit 0 "$wb" preprocess "$out/t.yaml" --out "$out/runs" --max-new 20
expect_grep '^20 images preprocessed into .*/runs/cache in [0-9.]+ s; 0 excluded; 0 from the cache, 20 computed$' "$out/stdout"
expect_grep '^stopped after --max-new 20 computed images: run again' "$out/stdout"
expect_exit 0 "$wb" cache info "$out/runs/cache"
expect_grep '^entries: 20$' "$out/stdout"
# a write cut short leaves a temporary file: not an entry, and not read
set -- "$out"/runs/cache/*/params.txt
printf 'half an entry' >"$(dirname "$1")/leftover.wbpre.tmp.99999"
expect_exit 0 "$wb" preprocess "$out/t.yaml" --out "$out/runs" --max-new 30
expect_grep '^50 images preprocessed into .* 20 from the cache, 30 computed$' "$out/stdout"
expect_exit 0 "$wb" preprocess "$out/t.yaml" --out "$out/runs"
expect_grep '^64 images preprocessed into .*; 0 excluded; 50 from the cache, 14 computed$' "$out/stdout"
expect_no_grep 'stopped after' "$out/stdout"
expect_exit 0 "$wb" cache info "$out/runs/cache"
expect_grep '^entries: 64$' "$out/stdout"
expect_grep '^temporary files: 1 ' "$out/stdout"
expect_exit 0 "$wb" preprocess "$out/t.yaml" --out "$out/runs"
expect_grep '; 64 from the cache, 0 computed$' "$out/stdout"
expect_exit 2 "$wb" preprocess "$out/t.yaml" --out "$out/runs" --max-new 0
expect_grep 'max-new' "$out/stderr"

# the same run with every image in memory and with none (data.memory_mb: 0): the images come
# back from the spill file, the fine-tuned variant recomputes its frozen prefix each step, and
# the frozen features go to a spill file from which the probe reads its rows a chunk at a
# time; the results are the same bytes
expect_exit 0 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260101T000000Z --registry none --set train.epochs=1
mem=$(cat "$out/stdout")
expect_no_grep 'kept on disk' "$out/stderr"
expect_exit 0 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260101T000000Z --registry none --set train.epochs=1 --set data.memory_mb=0
disk=$(cat "$out/stdout")
expect_grep 'data: 64 images of 40x32 take more than data.memory_mb \(0 MB\): they are kept on disk' "$out/stderr"
expect_grep 'last: the cached frozen prefixes would take more than data.memory_mb: recomputed at every step' "$out/stderr"
expect_grep 'the frozen features of 64 images \(64 each\) take more than data.memory_mb \(0 MB\): they are kept on disk' "$out/stderr"
expect_grep '^  memory_mb: 0$' "$disk/config.yaml"
expect_no_grep 'memory_mb' "$mem/config.yaml"
for f in manifest.csv folds.csv predictions.csv probe.csv curves.csv metrics.csv; do
  checks=$((checks + 1))
  cmp -s "$mem/$f" "$disk/$f" || { fails=$((fails + 1)); echo "FAIL: $f differs between data.memory_mb default and 0" >&2; }
done
# the spill file was unlinked as soon as it was made: nothing is left next to the cache
expect_eq "$(find "$out/runs/cache" -name '.wb-spill*' | wc -l)" 0 "spill files left"

# validate reads a labels CSV of 100,000 rows (25,000 patients) without opening an image
awk -F, 'NR == 1 { print; next } { l[NR] = $0 } END {
  for (k = 0; k < 1563; k++) for (i = 2; i <= NR; i++) {
    if (k * (NR - 1) + i - 1 > 100000) break
    n = split(l[i], f, ","); f[1] = "c" k "/" f[1]; f[2] = f[2] "." k; f[3] = f[3] "K" k
    s = f[1]; for (j = 2; j <= n; j++) s = s "," f[j]; print s } }' "$out/data/labels.csv" >"$out/data/big.csv"
expect_eq "$(tail -n +2 "$out/data/big.csv" | wc -l)" 100000 "rows of big.csv"
expect_exit 0 "$wb" validate "$out/t.yaml" --set data.labels="$out/data/big.csv"
pos=$(tail -n +2 "$out/data/big.csv" | cut -d, -f6 | grep -c '^malignant$')
expect_grep "^labels: 100000 rows, 25000 patients, per class $((100000 - pos)) $pos$" "$out/stdout"
# a bad row deep in it is found and named by its line
sed '77777s/,SYN[0-9A-F]*K[0-9]*,/,,/' "$out/data/big.csv" >"$out/data/bad.csv"
expect_exit 3 "$wb" validate "$out/t.yaml" --set data.labels="$out/data/bad.csv"
expect_grep 'bad.csv:77777: empty group \(patient\) id' "$out/stderr"
finish
