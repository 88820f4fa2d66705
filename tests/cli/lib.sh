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
