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
    classes=$'  classes: [normal, benign, malignant]\n'
  fi
  "$wb" -q synth --out "$out/data" --patients "$patients" --seed 5 --size 160x200 "${rates[@]}"
  cat >"$out/$yaml" <<YAML
name: $name
seed: 3
threads: 2
data:
  dicom_dir: data
  labels: data/labels.csv
${classes}preprocess:
  height: 40
  width: 32
backbone:
  arch: resnet20
  weights: $weights/resnet20-12fca82f.th
variants:
  - name: baseline
    type: baseline
  - name: frozen
    type: backbone
  - name: last
    type: backbone
    unfreeze: [layer3]
train:
  epochs: 2
  batch_size: 8
cv:
  folds: $folds
YAML
}

