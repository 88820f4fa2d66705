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

# make_cohort [classes] (needs $wb, $weights, $out) makes $out/data (16 synthetic patients) and
# $out/t.yaml, the small 3-variant, 2-fold run that cli.run and the fault tests share. With
# "classes": the multi-class cohort of cli.multiclass instead, $out/data (24 patients: normal,
# benign, malignant) and $out/mc.yaml (data.classes, 3 folds), the cohort and config of
# tests/report/data/fixture-run-mc.
make_cohort() {
  [ -f "$weights/resnet20-12fca82f.th" ] || { echo "missing $weights/resnet20-12fca82f.th (the CIFAR ResNet-20 of akamaster/pytorch_resnet_cifar10, kept in ../shared/weights)" >&2; exit 1; }
  local yaml=t.yaml name=small classes="" folds=2 patients=16 rates=(--prevalence 0.5)
  if [ "${1:-}" = classes ]; then
    yaml=mc.yaml name=mc folds=3 patients=24 rates=(--prevalence 0.35 --benign-rate 0.35)
    classes="classes: [normal, benign, malignant]"
  fi
  "$wb" -q synth --out "$out/data" --patients "$patients" --seed 5 --size 160x200 "${rates[@]}"
  write_config "$out/$yaml" name "$name" size 40x32 data "$classes" variants "baseline frozen last:[layer3]" \
    train "epochs: 2; batch_size: 8" cv "folds: $folds"
}


# write_config FILE [KEY VALUE]... writes the run config every CLI test starts from, in this
# order (tests check file:line:col against it): name (t), seed (3), threads (2); data:
# dicom_dir (dir, "data"), labels (DIR/labels.csv), then the lines of `data`; preprocess: height
# and width (size HxW, 32x32), then `preprocess`; backbone: arch (resnet20), weights
# ($weights/resnet20-12fca82f.th), then `backbone`; variants: from the names in `variants`
# ("baseline probe:none": baseline is the baseline, NAME a backbone variant, NAME:U one with
# unfreeze U); train: `train` (left out when empty); cv: `cv` ("folds: 2"); then `tail`.
# Block values are YAML lines separated by ';', each indented under its section (a line's own
# leading spaces after the ';' and one blank nest it further); a value with newlines is written
# as it is, indented by the caller:
#   write_config "$out/s.yaml" name fixed labels data/split.csv variants "baseline frozen" \
#     data "filter: {view: [CC]}" train "epochs: 2; batch_size: 8" cv "split_column: split"
write_config() {
  local file=$1; shift
  local name=t seed=3 threads=2 dir=data labels="" data="" size=32x32 preprocess="" arch=resnet20
  local weights_file="$weights/resnet20-12fca82f.th" backbone="" variants="baseline probe:none"
  local train="" cv="folds: 2" tail=""
  while [ $# -gt 0 ]; do
    case $1 in
      name|seed|threads|dir|labels|data|size|preprocess|arch|backbone|variants|train|cv|tail)
        printf -v "$1" '%s' "$2" ;;
      weights) weights_file=$2 ;;
      *) echo "write_config: unknown key '$1'" >&2; exit 1 ;;
    esac
    shift 2
  done
  block() { # block INDENT 'a: 1; b: 2' prints each ';'-separated line under INDENT
    [ -z "$2" ] && return 0
    case $2 in *$'\n'*) printf '%s\n' "$2"; return 0 ;; esac
    local line; local IFS=';'
    for line in $2; do printf '%s%s\n' "$1" "${line# }"; done
  }
  {
    printf 'name: %s\nseed: %s\nthreads: %s\ndata:\n  dicom_dir: %s\n  labels: %s\n' \
      "$name" "$seed" "$threads" "$dir" "${labels:-$dir/labels.csv}"
    block "  " "$data"
    printf 'preprocess:\n  height: %s\n  width: %s\n' "${size%x*}" "${size#*x}"
    block "  " "$preprocess"
    printf 'backbone:\n  arch: %s\n  weights: %s\n' "$arch" "$weights_file"
    block "  " "$backbone"
    echo "variants:"
    local v
    for v in $variants; do
      if [ "$v" = baseline ]; then printf '  - name: baseline\n    type: baseline\n'
      else
        printf '  - name: %s\n    type: backbone\n' "${v%%:*}"
        [ "$v" = "${v#*:}" ] || printf '    unfreeze: %s\n' "${v#*:}"
      fi
    done
    [ -z "$train" ] || { echo "train:"; block "  " "$train"; }
    echo "cv:"; block "  " "$cv"
    block "" "$tail"
  } >"$file"
}

# stats FILE LABEL_COL SCORE_COL REF_COL [DECISION_COL REF_DECISION_COL]: a binary cohort's
# metrics recomputed from a predictions CSV by awk, one "name value" line each: AUC, Brier and
# ECE of the scores and of the reference's, the paired DeLong test (delta, variance, z), and
# with the decision columns (0/1) sensitivity and specificity of both
stats() {
  awk -F, -v lc="$2" -v sc="$3" -v rc="$4" -v dc="${5:-0}" -v rd="${6:-0}" 'NR > 1 { n++; y[n] = $lc; a[n] = $sc + 0; b[n] = $rc + 0; da[n] = dc ? $dc : 0; db[n] = rd ? $rd : 0 }
    function ece(s,   i, k, e, c, ss, sy) {
      for (k = 0; k < 10; k++) { c[k] = 0; ss[k] = 0; sy[k] = 0 }
      for (i = 1; i <= n; i++) { k = int(s[i] * 10); if (k > 9) k = 9; c[k]++; ss[k] += s[i]; sy[k] += y[i] }
      e = 0; for (k = 0; k < 10; k++) if (c[k]) { d = ss[k] / c[k] - sy[k] / c[k]; e += c[k] / n * (d < 0 ? -d : d) }
      return e }
    function psi(u, v) { return u > v ? 1 : u == v ? 0.5 : 0 }
    END {
      for (i = 1; i <= n; i++) if (y[i] == 1) P[++m] = i; else N[++q] = i
      for (i = 1; i <= m; i++) for (j = 1; j <= q; j++) {
        pa = psi(a[P[i]], a[N[j]]); pb = psi(b[P[i]], b[N[j]])
        va[i] += pa / q; vb[i] += pb / q; wa[j] += pa / m; wb[j] += pb / m }
      for (i = 1; i <= m; i++) { auca += va[i] / m; aucb += vb[i] / m; sa += da[P[i]] / m; sb += db[P[i]] / m }
      for (j = 1; j <= q; j++) { pa_ += (1 - da[N[j]]) / q; pb_ += (1 - db[N[j]]) / q }
      for (i = 1; i <= n; i++) { ba += (a[i] - y[i]) ^ 2 / n; bb += (b[i] - y[i]) ^ 2 / n }
      for (i = 1; i <= m; i++) { d = (va[i] - auca) - (vb[i] - aucb); s10 += d * d / (m - 1) }
      for (j = 1; j <= q; j++) { d = (wa[j] - auca) - (wb[j] - aucb); s01 += d * d / (q - 1) }
      var = s10 / m + s01 / q
      printf "auc %.17g\nreference_auc %.17g\nbrier %.17g\nreference_brier %.17g\n", auca, aucb, ba, bb
      printf "ece %.17g\nreference_ece %.17g\ndelta_auc %.17g\ndelta_var %.17g\ndelong_z %.17g\n", ece(a), ece(b), auca - aucb, var, (auca - aucb) / sqrt(var)
      printf "sensitivity %.17g\nspecificity %.17g\nreference_sensitivity %.17g\nreference_specificity %.17g\nn %d\nn_positive %d\n", sa, pa_, sb, pb_, n, m }' "$1"
}
close() { # NAME GOT EXPECTED: equal to 1e-12 (relative to max(1, |expected|))
  checks=$((checks + 1))
  if ! awk -v g="$2" -v e="$3" 'BEGIN { d = g - e; if (d < 0) d = -d; s = e < 0 ? -e : e; exit !(g != "" && d <= 1e-12 * (s > 1 ? s : 1)) }'; then
    fails=$((fails + 1)); echo "FAIL: $1: got '$2', expected '$3'" >&2
  fi
}
# stats_match_fixture DIR: stats reproduces DIR/external_fixture.txt (scikit-learn, numpy's
# DeLong; tests/cli/make_external_fixture.py) from DIR/external_fixture.csv, to 1e-12
stats_match_fixture() {
  local fx k
  fx=$(stats "$1/external_fixture.csv" 1 2 3)
  for k in auc reference_auc brier reference_brier ece reference_ece delta_auc delta_var delong_z; do
    close "awk $k = the fixture's (scikit-learn, numpy DeLong)" "$(awk -v k=$k '$1 == k { print $2 }' <<<"$fx")" \
      "$(awk -v k=$k '$1 == k { print $2 }' "$1/external_fixture.txt")"
  done
}
