#!/usr/bin/env bash
# Output that cannot be written, for real: an output path whose parent is a regular file, a
# read-only file system, and a small tmpfs that fills up during `workbench run` (root can
# ignore permissions, so chmod would prove nothing). Each time: exit 4 with an error naming the
# path and the system's reason, no temporary file left, every file that exists whole, and a
# finished run on the same file system untouched. Mounting needs root (CAP_SYS_ADMIN): without
# it only the first part runs and the test reports a skip (77).
# Args: WORKBENCH WEIGHTS_DIR OUT_DIR JSON_CHECK
set -euo pipefail
wb=$1 weights=$2 out=$3 json_check=$4
mnt="$out/mnt"
cleanup() { if mountpoint -q "$mnt" 2>/dev/null; then umount "$mnt" || umount -l "$mnt" || true; fi; }
trap cleanup EXIT
cleanup
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/common.sh"

# the reference run: cache outside the runs directory, so the small file system below holds
# only what a run writes into its own directory
cache="$out/cache"
reference_run --set preprocess.cache_dir="$cache"

# ---- the output's parent is a regular file
: >"$out/afile"
expect_exit 4 "$wb" run "$out/t.yaml" --out "$out/afile/runs" --set preprocess.cache_dir="$cache"
expect_grep "^workbench: error: $out/afile: exists and is not a directory$" "$out/stderr"
expect_exit 4 "$wb" -q synth --out "$out/afile/cohort" --patients 2 --seed 1 --size 160x200
expect_grep "^workbench: error: $out/afile: exists and is not a directory$" "$out/stderr"
expect_eq "$(stat -c %s "$out/afile")" 0 "the file in the way is left alone"

mkdir -p "$mnt"
if ! mount -t tmpfs -o size=4m,mode=0755 tmpfs "$mnt" 2>"$out/mount.err"; then
  echo "SKIP: cannot mount a tmpfs here ($(cat "$out/mount.err")): read-only and disk-full checks not run"
  finish >/dev/null || { finish; exit 1; }
  echo "$(basename "$0"): $checks checks passed before the skip"
  exit 77
fi

# ---- a read-only file system holding a finished run
mkdir "$mnt/runs"
# The run registry (SQLite, RUNS_DIR/registry.sqlite) is not written through io_fs; it is kept
# off the small file system so that what is tested here is the run directory's own files.
ln -s "$out/registry.sqlite" "$mnt/runs/registry.sqlite"
cp -a "$ref" "$mnt/runs/"
cp -a "$out/runs/.pseudonym-key" "$mnt/runs/"
fin="$mnt/runs/$(basename "$ref")"
rm "$fin/run.log" "$fin/metrics.json" # as if killed before the end: --resume has to write
mount -o remount,ro "$mnt"
before=$(snapshot "$mnt")
expect_exit 4 "$wb" run "$out/t.yaml" --out "$mnt/runs" --set preprocess.cache_dir="$cache"
expect_grep "^workbench: error: $mnt/runs/small-[0-9TZ]+-[0-9a-f]{8}: cannot create the run directory: Read-only file system$" "$out/stderr"
expect_exit 4 "$wb" run --resume "$fin"
expect_grep "^workbench: error: $fin/[a-z.]+: cannot create: Read-only file system$" "$out/stderr"
expect_exit 4 "$wb" -q synth --out "$mnt/cohort" --patients 2 --seed 1 --size 160x200
expect_grep "^workbench: error: $mnt/cohort: cannot create directory: Read-only file system$" "$out/stderr"
expect_eq "$(snapshot "$mnt")" "$before" "read-only file system after three refused writes"

# ---- a tmpfs that fills up: the finished run plus a little room, a new run into it
mount -o remount,rw "$mnt"
cp -a "$ref/run.log" "$ref/metrics.json" "$fin/"
before=$(snapshot "$fin")
used_kb=$(df -k --output=used "$mnt" | tail -1 | tr -d ' ')
i=0
for room_kb in 8 40 72; do
  i=$((i + 1))
  mount -o remount,size=$((used_kb + room_kb))k "$mnt"
  expect_exit 4 "$wb" run "$out/t.yaml" --out "$mnt/runs" --timestamp 2026010${i}T120000Z --set preprocess.cache_dir="$cache"
  # (sbuf.c's sb_write says "write failed" without the reason when fwrite itself fails; the
  # reason is required once it passes errno on)
  expect_grep "^workbench: error: $mnt/runs/small-2026010${i}T120000Z-[0-9a-f]{8}/[a-z_0-9/.]+: (write failed|cannot create)(: No space left on device)?$" "$out/stderr"
  sed -n 's/^workbench: error: //p' "$out/stderr" | sed "s#$mnt/##; s/^/  disk full with ${room_kb} kB free: /"
  no_temp "$mnt" "disk full with $room_kb kB free"
  dir=$(ls -d "$mnt/runs/small-2026010${i}T120000Z-"* 2>/dev/null | head -1 || true)
  [ -z "$dir" ] || complete "$dir" "$ref" "disk full with $room_kb kB free"
  expect_eq "$(snapshot "$fin")" "$before" "finished run after the disk filled up ($room_kb kB free)"
  rm -rf "$dir"
done
finish
