#!/usr/bin/env bash
# workbench validate: every config in configs/ validates (against a small synthetic dataset),
# and each kind of bad config gets exit 2 and its file:line:col: key: message.
# Args: WORKBENCH CONFIGS_DIR OUT_DIR
set -euo pipefail
shopt -s lastpipe  # case_ at the end of a pipeline runs in this shell, so its checks count
wb=$1 configs=$2 out=$3
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"

"$wb" -q synth --out "$out/data" --patients 3 --seed 1 --size 128x160
for c in "$configs"/*.yaml; do
  expect_exit 0 "$wb" validate "$c" --set data.dicom_dir="$out/data" --set data.labels="$out/data/labels.csv"
  expect_grep ': ok: ' "$out/stdout"
  # the resolved config is itself a valid config
  expect_exit 0 "$wb" validate "$c" --print --set data.dicom_dir="$out/data" --set data.labels="$out/data/labels.csv"
  cp "$out/stdout" "$out/resolved.yaml"
  expect_exit 0 "$wb" validate "$out/resolved.yaml"
done

good() {
  cat <<YAML
name: t
data:
  dicom_dir: data
  labels: data/labels.csv
backbone:
  arch: resnet20
variants:
  - name: baseline
    type: baseline
  - name: last
    type: backbone
    unfreeze: [layer3]
YAML
}
# case NAME EXPECTED-REGEX, config on stdin; written next to the data so relative paths resolve
case_() {
  mkdir -p "$out/data"; cat >"$out/$1.yaml"
  expect_exit 2 "$wb" validate "$out/$1.yaml"
  expect_grep "$2" "$out/stderr"
}
good >"$out/good.yaml"
expect_exit 0 "$wb" validate "$out/good.yaml"
expect_exit 0 "$wb" validate "$out/good.yaml" --print
expect_grep '^  folds: 5$' "$out/stdout"
expect_grep 'labels: ".*/data/labels.csv"' "$out/stdout"
expect_exit 0 "$wb" validate "$out/good.yaml" --set cv.folds=3 --print
expect_grep '^  folds: 3$' "$out/stdout"
expect_grep '^# --set cv.folds=3$' "$out/stdout"
# relative paths resolve against the config's directory, from any working directory
(cd / && expect_exit 0 "$wb" validate "$out/good.yaml")

good | sed 's/^name: t/name: t\ncv:\n  folds: ten/' | case_ folds 'folds.yaml:3:10: cv.folds: expected an integer from 2 to 20, got .ten.'
good | sed 's/^name: t/name: t\ncv:\n  fodls: 3/' | case_ typo "typo.yaml:3:3: cv.fodls: unknown key; did you mean 'folds'\?"
good | sed 's/^name: t/name: t\ntrian:\n  epochs: 3/' | case_ section "section.yaml:2:1: trian: unknown key; did you mean 'train'\?"
good | sed 's/unfreeze: \[layer3\]/unfreeze: [layer4]/' | case_ stage "stage.yaml:12:15: variants\[1\].unfreeze: resnet20 has no stage 'layer4' \(stages: stem, layer1, layer2, layer3, head\)"
good | sed 's/labels: data\/labels.csv/labels: data\/nope.csv/' | case_ missing "missing.yaml:4:11: data.labels: 'data/nope.csv' \(resolved to .*nope.csv\): No such file or directory"
good | sed 's/^name: t/name: t\nseed: 1\nseed: 2/' | case_ dup "dup.yaml:3:1: seed: duplicate key \(first at line 2\)"
good | sed '/^name: t/d' | case_ noname "noname.yaml: name: required key is missing"
good | sed 's/    type: baseline/    type: baseline\n    unfreeze: all/' | case_ wrongtype "wrongtype.yaml:10:15: variants\[0\].unfreeze: applies only to variants of type backbone"
good | sed 's/- name: last/- name: baseline/' | case_ samename "samename.yaml:10:11: variants\[1\].name: name 'baseline' is used by variants\[0\] too"
good | sed 's/^name: t/name: t\nmetrics:\n  reference: nothere/' | case_ ref "ref.yaml:3:14: metrics.reference: no variant is named 'nothere'"
good | sed 's/^name: t/name: t\ntrain:\n  nesterov: yes/' | case_ bool "bool.yaml:3:13: train.nesterov: expected true or false, got 'yes'"
good | sed 's/  arch: resnet20/  arch: resnet21/' | case_ arch "arch.yaml:6:9: backbone.arch: expected one of resnet18\|.*, got 'resnet21'"
printf 'name: [unclosed\n' | case_ syntax "syntax.yaml:2:1: YAML syntax: "
printf -- '- a\n- b\n' | case_ notmap "notmap.yaml:1:1: expected a mapping of sections"
: >"$out/empty.yaml"; expect_exit 2 "$wb" validate "$out/empty.yaml"; expect_grep 'empty.yaml: the config is empty' "$out/stderr"
expect_exit 2 "$wb" validate "$out/none.yaml"; expect_grep 'none.yaml: cannot open config' "$out/stderr"
# an alias bomb is refused, not expanded
{ echo 'name: t'; echo 'x0: &a0 [1,1,1,1,1,1,1,1,1,1]'; for i in $(seq 1 9); do echo "x$i: &a$i [*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1)),*a$((i-1))]"; done; } | case_ bomb "bomb.yaml:2:1: x0: unknown key"
expect_exit 2 "$wb" validate "$out/good.yaml" --set cv.fold=3
expect_grep "\-\-set: cv.fold: unknown key; did you mean 'cv.folds'\?" "$out/stderr"
expect_exit 2 "$wb" validate "$out/good.yaml" --set cv.folds=1
expect_grep '\-\-set: cv.folds: expected an integer from 2 to 20, got .1.' "$out/stderr"
# data.classes: multi-class labels
cls() { good | sed "s/  labels: data\/labels.csv/  labels: data\/labels.csv\n$1/"; }
cls '  classes: [malignant]' | case_ cls1 "cls1.yaml:5:12: data.classes: needs at least 2 label values \(got only 'malignant'\)"
cls '  classes: [normal, benign, normal]' | case_ clsdup "clsdup.yaml:5:29: data.classes: 'normal' is listed twice"
cls '  classes: [normal, malignant]\n  positive: malignant' | case_ clspos "clspos.yaml:6:13: data.positive: not used with data.classes"
cls '  classes: normal' | case_ clsscalar "clsscalar.yaml:5:12: data.classes: expected a list of label values such as \[normal, benign, malignant\], got 'normal'"
cls '  classes: [normal, "BI RADS 4"]' | case_ clsname "clsname.yaml:5:21: data.classes: expected label values of 1 to 64 letters, digits, '_', '.' or '-', got 'BI RADS 4'"
cls '  classes: [[a, b], c]' | case_ clsnest "clsnest.yaml:5:13: data.classes: list items must be single values"
expect_exit 2 "$wb" validate "$out/good.yaml" --set 'data.classes=[normal]'
expect_grep '\-\-set: data.classes: needs at least 2 label values' "$out/stderr"
expect_exit 2 "$wb" validate "$out/good.yaml" --set 'data.classes=[a,b]' --set data.positive=b
expect_grep 'data.positive: not used with data.classes' "$out/stderr"
# the resolved config has classes (and no positive) only when they are set; it validates again
cls '  classes: [normal, benign, malignant]' >"$out/cls.yaml"
expect_exit 0 "$wb" validate "$out/cls.yaml" --print
expect_grep '^  classes: \[normal, benign, malignant\]$' "$out/stdout"
expect_no_grep 'positive:' "$out/stdout"
cp "$out/stdout" "$out/cls-resolved.yaml"
expect_exit 0 "$wb" validate "$out/cls-resolved.yaml"
expect_exit 0 "$wb" validate "$out/good.yaml" --print
expect_no_grep 'classes:' "$out/stdout"
expect_grep '^  positive: "malignant"$' "$out/stdout"
expect_exit 0 "$wb" validate "$out/cls.yaml" --set 'data.classes=[]' --print
expect_no_grep 'classes:' "$out/stdout"
# issue 15: deep nesting is refused at the level past the cap (64), whatever the file's size:
# 200,000 flow levels (400 kB) used to take minutes in libyaml's scanner
deep_yaml() { local d=$1 o=$2; { printf 'name: t\nreport:\n  title: '; head -c "$d" /dev/zero | tr '\0' '['; head -c "$d" /dev/zero | tr '\0' ']'; echo; } >"$o"; }
deep_yaml 200000 "$out/deep.yaml"
expect_exit 2 "$wb" validate "$out/deep.yaml"
expect_grep '^workbench: error: .*deep.yaml:3:72: mappings and lists nested more than 64 levels deep$' "$out/stderr"
deep_yaml 62 "$out/deep64.yaml"   # 64 levels with the two mappings: read, refused for its type only
expect_exit 2 "$wb" validate "$out/deep64.yaml"
expect_grep 'deep64.yaml:3:10: report.title: expected a string' "$out/stderr"
# ... and in a run's config.yaml read back by report / runs compare (exp_flat)
# a second YAML document is refused, not ignored (even when it is not YAML at all)
{ good; printf -- '---\nfoo: [\n'; } | case_ multidoc 'multidoc.yaml:13:1: a second YAML document'
{ good; printf -- '---\n'; } | case_ multidoc2 'multidoc2.yaml:13:1: a second YAML document'
{ printf -- '---\n'; good; printf -- '...\n'; } >"$out/onedoc.yaml"; expect_exit 0 "$wb" validate "$out/onedoc.yaml"
# a NUL escape in a quoted value ("\0", "\x00") cut the text there: name "a\0/../x" was 'a'
good | sed 's/^name: t/name: "t\\0..\/..\/x"/' | case_ nulname 'nulname.yaml:1:7: a NUL character \(\\0\) in a value or key: refused'
good | sed 's#^  labels: data/labels.csv#  labels: "data/labels.csv\\x00.bak"#' | case_ nulpath 'nulpath.yaml:4:11: a NUL character'
# metrics.levels without one of the levels used to be ignored: refused
good | sed 's/^name: t/name: t\nmetrics:\n  levels: [breast]/' | case_ levels "levels.yaml:3:11: metrics.levels: only \[image, breast\] is supported"
good | sed 's/^name: t/name: t\nmetrics:\n  levels: [breast, image]/' >"$out/levels2.yaml"; expect_exit 0 "$wb" validate "$out/levels2.yaml"
expect_exit 2 "$wb" validate "$out/good.yaml" --set 'metrics.levels=[image]'
expect_grep '^workbench: error: --set: metrics.levels: only \[image, breast\] is supported' "$out/stderr"
# a stage named twice in lr_scale would keep one factor silently
good | sed 's/    unfreeze: \[layer3\]/    unfreeze: [layer3]\n    lr_scale: {layer3: 0.1, layer3: 1}/' | case_ stagedup "stagedup.yaml:13:29: variants\[1\].lr_scale: stage 'layer3' is listed twice \(first at line 13\)"
# --set of a section or a mapping: its own message, not "did you mean" the same name
expect_exit 2 "$wb" validate "$out/good.yaml" --set data=1
expect_grep '^workbench: error: --set: data: is a section, not a single value: --set one of its keys' "$out/stderr"
expect_no_grep 'did you mean' "$out/stderr"
expect_exit 2 "$wb" validate "$out/good.yaml" --set train.augment=1
expect_grep '\-\-set: train.augment: is a section' "$out/stderr"
expect_exit 2 "$wb" validate "$out/good.yaml" --set variants=1
expect_grep '\-\-set: variants: is the list of variants, not a single value: --set variants\[I\].KEY=VALUE' "$out/stderr"
expect_exit 2 "$wb" validate "$out/good.yaml" --set 'variants[1].lr_scale=1'
expect_grep '\-\-set: variants\[1\].lr_scale: is a mapping \(stage: factor\), which --set cannot give' "$out/stderr"
expect_exit 2 "$wb" validate "$out/good.yaml" --set dat=1
expect_grep "\-\-set: dat: unknown key; did you mean 'data'\?" "$out/stderr"
# sweep: unfreeze expands into <name>_0 .. <name>_K over the backbone's stages; errors at file:line:col
sweep() { good | sed "s/    unfreeze: \[layer3\]/    sweep: unfreeze$1/;s/- name: last/- name: depth/"; }
sweep '' >"$out/sweep.yaml"
expect_exit 0 "$wb" validate "$out/sweep.yaml"
expect_grep ': ok: 6 variant\(s\)' "$out/stdout"
expect_exit 0 "$wb" validate "$out/sweep.yaml" --print
cp "$out/stdout" "$out/sweep-resolved.yaml"
for k in 0 1 2 3 4; do expect_grep "^  - name: depth_$k$" "$out/sweep-resolved.yaml"; done
expect_grep '^    unfreeze: \[layer2, layer3\]$' "$out/sweep-resolved.yaml"
expect_eq "$(grep -c '^    sweep_group: depth$' "$out/sweep-resolved.yaml")" 5 "sweep_group on every expanded variant"
expect_eq "$(grep -c '^    unfreeze: none$' "$out/sweep-resolved.yaml")" 1 "depth_0 is the probe"
expect_eq "$(grep -c '^    unfreeze: all$' "$out/sweep-resolved.yaml")" 1 "depth_4 trains everything"
expect_exit 0 "$wb" validate "$out/sweep-resolved.yaml"
expect_grep ': ok: 6 variant\(s\)' "$out/stdout"
sweep '\n    sweep_stages: [layer3, layer4]' | case_ sweepstage "sweepstage.yaml:13:19: variants\[1\].sweep_stages: resnet20 has no stage 'layer4' \(stages: stem, layer1, layer2, layer3, head\)"
sweep '\n    sweep_stages: [head]' | case_ sweephead "sweephead.yaml:13:19: variants\[1\].sweep_stages: the head always trains"
sweep '\n    unfreeze: all' | case_ sweepunfreeze "sweepunfreeze.yaml:13:15: variants\[1\].unfreeze: not used with sweep: unfreeze"
good | sed 's/    unfreeze: \[layer3\]/    sweep_stages: [layer3]/' | case_ sweepnosweep "sweepnosweep.yaml:12:19: variants\[1\].sweep_stages: applies only with sweep: unfreeze"
sweep '' | sed 's/- name: baseline/- name: depth_2/' | case_ sweepname "sweepname.yaml:10:11: variants\[3\].name: name 'depth_2' is used by variants\[0\] too"
expect_exit 2 "$wb" validate "$out/sweep.yaml" --set 'variants[1].sweep_stages=[layer9]'
expect_grep "^workbench: error: --set: variants\[1\].sweep_stages: resnet20 has no stage 'layer9'" "$out/stderr"
# probe_C: a list of distinct numbers (a single number is a list of one)
good | sed 's/    unfreeze: \[layer3\]/    unfreeze: none\n    probe_C: [0.1, 0.1]/' | case_ probedup "probedup.yaml:13:20: variants\[1\].probe_C: '0.1' is listed twice"
good | sed 's/    unfreeze: \[layer3\]/    unfreeze: none\n    probe_C: [0.1, -1]/' | case_ probeneg "probeneg.yaml:13:20: variants\[1\].probe_C: expected numbers from 1e-08 to 1e\+08, got '-1'"
good | sed 's/    unfreeze: \[layer3\]/    unfreeze: none\n    probe_C: []/' | case_ probeempty "probeempty.yaml:13:14: variants\[1\].probe_C: needs at least one value"
expect_exit 0 "$wb" validate "$out/good.yaml" --set 'variants[1].probe_C=[1,10]' --print
expect_grep '^    probe_C: \[1, 10\]$' "$out/stdout"
expect_exit 0 "$wb" validate --schema
expect_grep '^cv.folds	integer	5	2..20	' "$out/stdout"
# every key of the schema is documented in docs/config.md
docs="$(dirname "$0")/../../docs/config.md"
for k in $(tail -n +2 "$out/stdout" | cut -f1); do
  leaf=${k##*.}
  checks=$((checks + 1))
  grep -qF "\`$leaf\`" "$docs" || { fails=$((fails + 1)); echo "FAIL: $k is not in docs/config.md" >&2; }
done
finish
