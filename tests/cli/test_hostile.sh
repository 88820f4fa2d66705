#!/usr/bin/env bash
# Hostile inputs through the commands (issue 15): deeply nested DICOM sequences, special files
# (FIFO, /dev/zero) where a file is expected, for `inspect` and as labels.csv entries of `run`
# under data.on_error: skip. Every command must end (each runs under `timeout`), say what is
# wrong with which file, and keep the output of the other files.
# Args: WORKBENCH FIXTURE_DIR WEIGHTS_DIR OUT_DIR JSON_CHECK
set -euo pipefail
wb=$1 data=$2 weights=$3 out=$4 json_check=$5
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"
t() { timeout 60 "$@"; } # a hang fails the check (exit 124) instead of the whole suite

# deep_dicom FILE LEVELS: Modality MG, then LEVELS nested undefined-length sequences (0040,0555)
deep_dicom() {
  {
    head -c 128 /dev/zero; printf 'DICM\x02\x00\x10\x00UI\x14\x001.2.840.10008.1.2.1\x00'
    printf '\x08\x00\x60\x00CS\x02\x00MG'
    local i
    for ((i = 0; i < $2; i++)); do
      printf '\x40\x00\x55\x05SQ\x00\x00\xff\xff\xff\xff\xfe\xff\x00\xe0\xff\xff\xff\xff'
    done
    for ((i = 0; i < $2; i++)); do
      printf '\xfe\xff\x0d\xe0\x00\x00\x00\x00\xfe\xff\xdd\xe0\x00\x00\x00\x00'
    done
  } >"$1"
}

# 1. 20,000 nested sequences crashed DCMTK's recursive parser (SIGSEGV): refused before it
mkdir -p "$out/dir"
deep_dicom "$out/dir/deep.dcm" 20000
cp "$data/u8.dcm" "$out/dir/u8.dcm"
expect_exit 3 t "$wb" inspect "$out/dir"
expect_eq "$(wc -l <"$out/stdout")" 2 "inspect lines (the good file is not lost)"
expect_grep '"path":"[^"]*/dir/deep.dcm","ok":false,"error":"[^"]*deep.dcm: at byte 1[0-9]*: sequences nested more than 64 deep \(0040,0555\)' "$out/stdout"
expect_grep '"path":"[^"]*/dir/u8.dcm","ok":true' "$out/stdout"
expect_grep '^workbench: 1 of 2 input\(s\) could not be read' "$out/stderr"
# one file is "1 of 1" (it said "1 of 2")
expect_exit 3 t "$wb" inspect "$out/dir/deep.dcm"
expect_grep '^workbench: 1 of 1 input\(s\) could not be read' "$out/stderr"

# 2. special files: a FIFO (no writer) and /dev/zero are refused at once
mkfifo "$out/fifo.dcm"
expect_exit 3 t "$wb" inspect "$out/fifo.dcm" /dev/zero "$data/u8.dcm"
expect_grep '"path":"[^"]*fifo.dcm","ok":false,"error":"[^"]*fifo.dcm: is a FIFO \(named pipe\), not a regular file"' "$out/stdout"
expect_grep '"path":"/dev/zero","ok":false,"error":"/dev/zero: is a character device, not a regular file"' "$out/stdout"
expect_grep '"path":"[^"]*u8.dcm","ok":true' "$out/stdout"
expect_grep '^workbench: 2 of 3 input\(s\) could not be read' "$out/stderr"
# a FIFO as the config
expect_exit 2 t "$wb" validate "$out/fifo.dcm"
expect_grep 'fifo.dcm: is a FIFO \(named pipe\), not a regular file' "$out/stderr"

# 3. run, data.on_error: skip: the deep file, a FIFO and /dev/zero as labels.csv entries are
# excluded with their reason; the run finishes
make_cohort
sed '/^  - name: frozen/,$d' "$out/t.yaml" >"$out/b.yaml"
printf 'cv:\n  folds: 2\n' >>"$out/b.yaml"
deep_dicom "$out/data/P0001/L_CC.dcm" 20000
rm "$out/data/P0002/L_CC.dcm"; mkfifo "$out/data/P0002/L_CC.dcm"
rm "$out/data/P0003/L_CC.dcm"; ln -s /dev/zero "$out/data/P0003/L_CC.dcm"
expect_exit 0 t "$wb" run "$out/b.yaml" --out "$out/runs"
run=$(cat "$out/stdout")
expect_grep '^P0001/L_CC.dcm,.*sequences nested more than 64 deep' "$run/excluded.csv"
expect_grep '^P0002/L_CC.dcm,.*is a FIFO \(named pipe\), not a regular file' "$run/excluded.csv"
expect_grep '^P0003/L_CC.dcm,.*is a character device, not a regular file' "$run/excluded.csv"
expect_grep '"excluded": 3' "$run/metrics.json"

# 3b. a registry that cannot be written (not an SQLite file; read-only to the user) stops the
# run before its directory is made: nothing is left in the runs directory but the registry
mkdir -p "$out/runs-garbage"
head -c 4096 /dev/urandom >"$out/runs-garbage/registry.sqlite"
expect_exit 3 t "$wb" run "$out/b.yaml" --out "$out/runs-garbage"
expect_grep 'runs-garbage/registry.sqlite: the run registry cannot be written \(file is not a database\); the run was not started and nothing was written: .*--registry none' "$out/stderr"
expect_eq "$(ls "$out/runs-garbage")" "registry.sqlite" "the runs directory after a garbage registry"
# a registry elsewhere (--registry DB) that is refused leaves no runs directory behind either
expect_exit 3 t "$wb" run "$out/b.yaml" --out "$out/runs-never" --registry "$out/runs-garbage/registry.sqlite"
expect_grep 'the run registry cannot be written \(file is not a database\)' "$out/stderr"
expect_eq "$(test -e "$out/runs-never" && echo made || echo none)" none "the runs directory after a refused --registry"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && id nobody >/dev/null 2>&1; then
  # root is not stopped by file modes: the run is made as nobody, in a runs directory nobody
  # may write, on a registry nobody may not
  mkdir -p "$out/runs-ro"
  cp "$out/runs/registry.sqlite" "$out/runs-ro/registry.sqlite"
  chmod 0444 "$out/runs-ro/registry.sqlite"; chmod 0777 "$out/runs-ro"
  expect_exit 4 t setpriv --reuid=nobody --regid=nogroup --clear-groups "$wb" run "$out/b.yaml" --out "$out/runs-ro"
  expect_grep 'runs-ro/registry.sqlite: the run registry cannot be written \(attempt to write a readonly database.*\); the run was not started' "$out/stderr"
  expect_eq "$(ls "$out/runs-ro" | grep -v '^registry.sqlite' || true)" "" "the runs directory after a read-only registry"
else
  echo "note: not root or no setpriv/nobody: the read-only registry case is skipped" >&2
fi

# 3c. Pixel Data longer than the image: under a frame more is read with a warning naming the
# file and the byte counts; a whole frame more is refused (exit 3); an RLE frame whose segments
# do not fit the header is refused naming the segment
expect_exit 0 t "$wb" inspect "$data/raw_trailing.dcm"
expect_grep '^workbench: warning: .*/raw_trailing.dcm: \(7FE0,0010\) Pixel Data has 884 bytes, 10 more than the 19 x 23 pixels of 16 bits need \(874\): the trailing bytes are ignored$' "$out/stderr"
expect_grep '"ok":true' "$out/stdout"
expect_exit 0 t "$wb" inspect "$data/u8.dcm"
expect_no_grep 'warning' "$out/stderr"
expect_exit 3 t "$wb" inspect "$data/raw_two_frames.dcm"
expect_grep 'raw_two_frames.dcm: \(7FE0,0010\) Pixel Data: 1748 bytes where 19 x 23 pixels of 16 bits need 874: 2 frames' "$out/stdout"
expect_exit 3 t "$wb" inspect "$data/rle_rows_fewer.dcm"
expect_grep 'rle_rows_fewer.dcm: \(7FE0,0010\) Pixel Data: RLE segment 1 decodes to 437 bytes, the header.s 19 x 20 pixels need 380' "$out/stdout"

# 4. text that is not UTF-8 (Latin-1 with and without (0008,0005), Latin-2, Cyrillic ISO_IR 144)
# and a file name with the Latin-1 byte 0xE9: inspect's JSON stays valid UTF-8
mkdir -p "$out/text"
cp "$data"/text_*.dcm "$out/text/"
cp "$data/u8.dcm" "$out/text/caf$(printf '\xe9').dcm"
expect_exit 0 t "$wb" inspect "$out/text"
expect_eq "$(wc -l <"$out/stdout")" 6 "inspect lines of the text files"
cp "$out/stdout" "$out/text.jsonl"
mkdir -p "$out/lines"; split -l 1 "$out/text.jsonl" "$out/lines/l"
expect_exit 0 "$json_check" "$out/lines/"l*
expect_grep '"manufacturer":"Siemens Médical"' "$out/text.jsonl"
expect_grep '"patient_id":"JOS�"' "$out/text.jsonl"
expect_grep '"manufacturer":"Сименс Медицина","manufacturer_model_name":"Маммограф №5"' "$out/text.jsonl"
expect_grep '"patient_id":"ŁÓDŹ-Ž"' "$out/text.jsonl"
expect_grep '"path":"[^"]*/text/caf�.dcm","ok":true' "$out/text.jsonl"

# 5. a file name with a newline and a terminal escape goes to stderr escaped, on one line
evil="$out/evil"$'\n'"name"$'\e'"[31m.yaml"
expect_exit 2 t "$wb" validate "$evil"
expect_eq "$(wc -l <"$out/stderr")" 1 "error lines"
expect_grep 'evil\\nname\\x1b\[31m\.yaml: cannot open config' "$out/stderr"
expect_no_grep $'\e' "$out/stderr"
finish
