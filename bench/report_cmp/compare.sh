#!/bin/bash
# bench/report_cmp/compare.sh BASE_WORKBENCH NEW_WORKBENCH OUT RUNDIR...: `workbench report` by
# two binaries on copies of each run (or external validation) directory; every file of the two
# copies, stdout, stderr and the exit code compared. Prints one line per directory and
# "K of N identical". hostile.sh and hostile_ext.sh make damaged copies to feed it.
set -u
base=$(realpath "$1") new=$(realpath "$2") out=$3; shift 3
n=0 same=0
for r in "$@"; do
  n=$((n+1)); k=$(printf '%03d' $n)
  rm -rf "$out/$k"; mkdir -p "$out/$k/b" "$out/$k/n"
  cp -r "$r" "$out/$k/b/run"; cp -r "$r" "$out/$k/n/run"
  (cd "$out/$k/b" && "$base" report run > stdout 2> stderr; echo $? > rc)
  (cd "$out/$k/n" && "$new" report run > stdout 2> stderr; echo $? > rc)
  diff -r "$out/$k/b" "$out/$k/n" | grep -v ' is a fifo while file .* is a fifo$' > "$out/$k/diff"
  if [ ! -s "$out/$k/diff" ]; then
    same=$((same+1)); echo "same rc=$(cat $out/$k/n/rc) files=$(ls $out/$k/n/run | wc -l) $(head -c 160 $out/$k/n/stderr | tr '\n' ' ') $r"
  else
    echo "DIFF $r"; head -5 "$out/$k/diff"
  fi
done
echo "$same of $n identical"
