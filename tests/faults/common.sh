# Shared by the fault tests (sourced after ../cli/lib.sh, which has make_cohort, with $out,
# $wb and $weights set). No fault is injected unless a test asks for one.
unset WB_FAULT_WRITE WB_FAULT_TRACE WB_FAULT_ALLOC

# reference_run [RUN ARGS...]: the cohort (make_cohort) and its clean run in $out/runs, with
# any extra arguments; the run directory in $ref. Prefix variables (WB_FAULT_TRACE=1
# reference_run) reach the run.
reference_run() {
  make_cohort
  expect_exit 0 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260101T000000Z "$@"
  ref=$(cat "$out/stdout")
}
# The files of a run that the same config, data, seed and threads make byte-identical.
deterministic_files="config.yaml environment.json manifest.csv excluded.csv folds.csv curves.csv predictions.csv metrics.json metrics.csv"

# point REGEX TRACE: the number of the first "fault point N: op path" line of TRACE matching REGEX.
point() {
  { grep -m1 -E "fault point [0-9]+: $1" "$2" || true; } | sed -E 's/.*fault point ([0-9]+):.*/\1/'
}

# no_temp DIR: no temporary file of an atomic write is left below DIR.
no_temp() {
  checks=$((checks + 1))
  local left
  left=$(find "$1" -name '*.tmp*' | awk 'NR <= 5')
  if [ -n "$left" ]; then fails=$((fails + 1)); echo "FAIL: temporary files left ($2): $left" >&2; fi
}

# complete DIR REF WHAT: every file below DIR (temporary files aside) is whole — JSON parses, every CSV line has the
# header's field count and the file ends in a newline — and those of $deterministic_files that
# REF also has are byte-identical to REF's.
complete() {
  local dir=$1 ref=$2 what=$3 f rel
  while IFS= read -r f; do
    rel=${f#"$dir"/}
    checks=$((checks + 1))
    case "$f" in
      *.json) "$json_check" "$f" || { fails=$((fails + 1)); echo "FAIL: $what: $rel is not whole JSON" >&2; continue; } ;;
      *.csv)
        local whole=1
        [ -s "$f" ] && [ "$(tail -c1 "$f" | od -An -tx1 | tr -d ' ')" = 0a ] || whole=0
        awk -F, 'NR == 1 {n = NF} NF != n {bad = 1} END {exit bad}' "$f" || whole=0
        [ $whole = 1 ] || { fails=$((fails + 1)); echo "FAIL: $what: $rel is not a whole CSV" >&2; continue; } ;;
    esac
    case " $deterministic_files " in *" $rel "*) ;; *) continue ;; esac
    if [ -f "$ref/$rel" ] && ! cmp -s "$f" "$ref/$rel"; then
      fails=$((fails + 1)); echo "FAIL: $what: $rel differs from the clean run's" >&2
    fi
  done < <(find "$dir" -type f ! -name '*.tmp.*' | sort)
}

# snapshot DIR...: one line per file below the DIRs: checksum and path.
snapshot() { find "$@" -type f -print0 | sort -z | xargs -0 sha256sum; }
