#!/bin/bash
# bench/explain_bundle_cmp/compare.sh BASE_WORKBENCH NEW_WORKBENCH OUT < CASES: `workbench explain`,
# `bundle` and `predict` by two binaries, each on its own copy of a run directory; every file of
# the two copies and of the outputs, stdout, stderr and the exit code compared. A CASES line is
# NAME|RUN_DIR|ARGS: ARGS run in a directory holding the copy as `run` (so `run` in ARGS names
# it; outputs go to relative paths). Prints one line per case and "K of N identical".
# cases.sh makes the cases (the cli tests' runs and damaged copies of their files).
set -u
base=$(realpath "$1") new=$(realpath "$2") out=$3
mkdir -p "$out"
n=0 same=0
while IFS='|' read -r name run args; do
  [ -z "$name" ] && continue
  n=$((n+1)); d=$out/$name
  rm -rf "$d"; mkdir -p "$d/b" "$d/n"
  cp -r "$run" "$d/b/run"; cp -r "$run" "$d/n/run"
  # one pseudonym key for both (predict makes one per output's parent directory)
  echo 6b1c2f0e9d8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c > "$d/b/.pseudonym-key"
  cp "$d/b/.pseudonym-key" "$d/n/.pseudonym-key"
  # shellcheck disable=SC2086
  (cd "$d/b" && timeout 600 "$base" $args > stdout 2> stderr < /dev/null; echo $? > rc)
  # shellcheck disable=SC2086
  (cd "$d/n" && timeout 600 "$new" $args > stdout 2> stderr < /dev/null; echo $? > rc)
  diff -r "$d/b" "$d/n" | grep -v ' is a fifo while file .* is a fifo$' > "$d/diff"
  if [ ! -s "$d/diff" ]; then
    same=$((same+1)); echo "same rc=$(cat "$d/n/rc") $name: $(tail -c 200 "$d/n/stderr" | tr '\n' ' ')"
  else
    echo "DIFF $name"; head -5 "$d/diff"
  fi
done
echo "$same of $n identical"
