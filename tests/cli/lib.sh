# Shared by the CLI tests: expect_exit CODE CMD... runs CMD and checks its exit status;
# expect_grep PATTERN FILE; finish prints the counts and sets the exit status.
fails=0
checks=0
expect_exit() {
  local want=$1; shift
  checks=$((checks + 1))
  set +e; "$@" >"$out/stdout" 2>"$out/stderr"; local got=$?; set -e
  if [ "$got" -ne "$want" ]; then
    fails=$((fails + 1))
    echo "FAIL: '$*' exited $got, expected $want; stderr:" >&2; cat "$out/stderr" >&2
  fi
}
expect_grep() {
  checks=$((checks + 1))
  if ! grep -qE -- "$1" "$2"; then
    fails=$((fails + 1)); echo "FAIL: /$1/ not in $2:" >&2; head -c 2000 "$2" >&2; echo >&2
  fi
}
expect_no_grep() {
  checks=$((checks + 1))
  if grep -qE -- "$1" "$2"; then
    fails=$((fails + 1)); echo "FAIL: /$1/ found in $2" >&2
  fi
}
expect_eq() {
  checks=$((checks + 1))
  if [ "$1" != "$2" ]; then fails=$((fails + 1)); echo "FAIL: $3: got '$1', expected '$2'" >&2; fi
}
finish() {
  echo "$(basename "$0"): $checks checks, $fails failed"
  [ "$fails" -eq 0 ]
}
