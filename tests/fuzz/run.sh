#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time on a copy of its corpus (the committed tree
# is never written). Exit 1 if any target crashed, leaked, hit UB or timed out; the crashing
# inputs are listed, and printed in hex when small (copy them to
# tests/fuzz/regressions/<target>/ to keep them).
#   tests/fuzz/run.sh [SECONDS] [TARGET...]    default 30 s each, every target
# Environment: BUILD (default build-fuzz, made by ./setup.sh --fuzz); OUT (default
# $TMPDIR/wb-fuzz-crashes) receives the crashing inputs and logs; KEEP=1 keeps the work
# directory (the grown corpora).
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
secs=${1:-30}
[ $# -gt 0 ] && shift
case $secs in
  ''|*[!0-9]*) echo "fuzz: SECONDS must be a whole number, got '$secs'" >&2; exit 2 ;;
esac
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(dicom config safetensors pth npy csv image roi xlsx import bundle)
build=$(cd "${BUILD:-build-fuzz}" 2>/dev/null && pwd) || {
  echo "fuzz: no ${BUILD:-build-fuzz}/ (./setup.sh --fuzz makes it)" >&2; exit 2; }
src=$root/tests/fuzz
work=$(mktemp -d "${TMPDIR:-/tmp}/wb-fuzz-run.XXXXXX")
# The targets write each input to a scratch file: on tmpfs when there is one.
scratch=$work
[ -w /dev/shm ] && scratch=$(mktemp -d /dev/shm/wb-fuzz.XXXXXX)
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$work" "$scratch"' EXIT
# Crashes are copied out before the work directory goes.
out=${OUT:-${TMPDIR:-/tmp}/wb-fuzz-crashes}

run_one() {
  local t=$1 bin="$build/tests/fuzz/fuzz_$1" d="$work/$1"
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin missing (./setup.sh --fuzz builds it)" >&2
    return 2
  fi
  mkdir -p "$d/corpus" "$d/artifacts"
  cp "$src/corpus/$t/"* "$d/corpus/" 2>/dev/null
  [ -d "$src/regressions/$t" ] && cp "$src/regressions/$t/"* "$d/corpus/" 2>/dev/null
  local dict=()
  [ -f "$src/dict/$t.dict" ] && dict=(-dict="$src/dict/$t.dict")
  local start=$SECONDS
  (cd "$d" && TMPDIR="$scratch" "$bin" "${dict[@]}" -max_total_time="$secs" \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$d/artifacts/" \
      corpus >"$d/log" 2>&1)
  local rc=$?
  local stats
  stats=$(grep -E '^stat::number_of_executed_units' "$d/log" | awk '{print $2}')
  if [ $rc -ne 0 ] || [ -n "$(ls -A "$d/artifacts")" ]; then
    rm -rf "$out/$t" && mkdir -p "$out/$t"
    cp "$d/artifacts/"* "$out/$t/" 2>/dev/null
    cp "$d/log" "$out/$t/log"
    echo "fuzz: $t FAILED (exit $rc) after $((SECONDS - start)) s; inputs and log in $out/$t/:" >&2
    ls "$out/$t" | sed 's/^/    /' >&2
    grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|.*runtime error)' "$d/log" | sed 's/^/    /' >&2
    # the inputs themselves, when small: a CI log is then enough to reproduce a finding
    local f
    for f in "$d/artifacts/"*; do
      [ -f "$f" ] && [ "$(wc -c <"$f")" -le 4096 ] || continue
      echo "    $(basename "$f") ($(wc -c <"$f") bytes, hex; xxd -r -p turns it back):" >&2
      od -An -v -tx1 "$f" | tr -d ' \n' | fold -w 64 | sed 's/^/      /' >&2
      echo >&2
    done
    return 1
  fi
  echo "fuzz: $t ok, ${stats:-?} runs in $((SECONDS - start)) s, corpus $(ls "$d/corpus" | wc -l) inputs"
}

fail=0
for t in "${targets[@]}"; do
  run_one "$t" || fail=1
done
[ $fail -eq 0 ] || echo "fuzz: failures; reproduce with $build/tests/fuzz/fuzz_<target> <input>" >&2
exit $fail
