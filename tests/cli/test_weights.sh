#!/usr/bin/env bash
# Every shipped weight file in ../shared/weights works in a run with its own conventions:
# resnet20 and resnet56 (akamaster CIFAR, ImageNet mean/std) and MobileNet v1 0.25 (Keras,
# [-1, 1], width inferred from the file). Each is validated (the weights read and bound) and
# run for one epoch on a tiny synthetic cohort (8 patients, 32x32, 2 folds) with
# preprocess.normalize left at auto; the resolved config and the report name the convention.
# Weights that do not fit are refused by validate with the tensor named; a missing weight file
# is named with where to get it. Args: WORKBENCH WEIGHTS_DIR OUT_DIR
set -euo pipefail
wb=$1 weights=$2 out=$3
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"
need() {
  [ -f "$weights/$1" ] && return 0
  echo "missing $weights/$1: the shared pretrained weights ($2) belong in $weights; $weights/README.md says where to get each file" >&2
  exit 1
}
need resnet20-12fca82f.th "akamaster/pytorch_resnet_cifar10, pretrained_models/"
need resnet56-4bfd9763.th "akamaster/pytorch_resnet_cifar10, pretrained_models/"
need mobilenet_v1_0.25_224.h5 "Keras applications' MobileNet v1 0.25 224, as redistributed in the STM32 model zoo"
"$wb" -q synth --out "$out/data" --patients 8 --seed 4 --size 64x80 --prevalence 0.5
# config ARCH FILE [STAGE]: frozen backbone + the last stage fine-tuned, one epoch
config() {
  write_config "$out/$1.yaml" name "w-$1" seed 1 arch "$1" weights "$weights/$2" variants "frozen last:[$3]" \
    train "epochs: 1; batch_size: 8"
}
config resnet20 resnet20-12fca82f.th layer3
config resnet56 resnet56-4bfd9763.th layer3
config mobilenet_v1 mobilenet_v1_0.25_224.h5 block13
for a in resnet20 resnet56 mobilenet_v1; do
  case $a in mobilenet_v1) conv=keras; pat='keras: \[-1, 1\] \(2x - 1 of \[0, 1\]';; *) conv=imagenet; pat='imagenet: per-channel mean \(0.485, 0.456, 0.406\), std \(0.229, 0.224, 0.225\)';; esac
  expect_exit 0 "$wb" validate "$out/$a.yaml"
  expect_grep "ok: 2 variant\(s\), 2-fold CV x 1 repeat\(s\), backbone $a" "$out/stdout"
  expect_exit 0 "$wb" validate --print "$out/$a.yaml"
  expect_grep "^  normalize: auto  # $pat" "$out/stdout"
  expect_exit 0 "$wb" run "$out/$a.yaml" --out "$out/runs" --timestamp 20260101T000000Z
  run=$(cat "$out/stdout")
  expect_grep "fold 2/2 last: epoch 1/1 loss [0-9.]+" "$out/stderr"
  expect_eq "$(tail -n +2 "$run/predictions.csv" | wc -l)" $((32 * 2)) "$a: one prediction per image and variant"
  expect_grep "^  normalize: auto  # $pat" "$run/config.yaml"
  expect_grep "input normalisation $pat.* \(preprocess.normalize: auto\)" "$run/report.md"
  expect_grep '"name": "last", "type": "backbone", "trainable_params": [0-9]+' "$run/metrics.json"
done
# the MobileNet's width comes from the file: a bound network of width 0.25
expect_exit 0 "$wb" net info --arch mobilenet_v1 --weights "$weights/mobilenet_v1_0.25_224.h5" --input-size 32x32
expect_grep '^arch mobilenet_v1, 3 input channel\(s\), 1000 classes, feature dim 256$' "$out/stdout"
# weights that do not fit the architecture: refused at validate, the tensor named (exit 3)
expect_exit 3 "$wb" validate "$out/resnet20.yaml" --set "backbone.weights=$weights/resnet56-4bfd9763.th"
expect_grep "resnet56-4bfd9763.th: backbone.weights: resnet20: unexpected tensor 'layer1.3.conv1.weight'" "$out/stderr"
expect_exit 3 "$wb" validate "$out/mobilenet_v1.yaml" --set "backbone.weights=$weights/resnet20-12fca82f.th"
expect_grep "resnet20-12fca82f.th: backbone.weights: mobilenet_v1: unexpected tensor 'conv1.weight'" "$out/stderr"
# and run refuses them the same way, before it makes a run directory
expect_exit 3 "$wb" run "$out/resnet20.yaml" --out "$out/runs2" --set "backbone.weights=$weights/resnet56-4bfd9763.th"
expect_grep "unexpected tensor 'layer1.3.conv1.weight'" "$out/stderr"
checks=$((checks + 1)); [ -z "$(ls "$out/runs2" 2>/dev/null | grep -v '^cache$\|^registry')" ] || { fails=$((fails + 1)); echo "FAIL: a refused run left a run directory" >&2; }
# a missing weight file: which file, and where to get it
expect_exit 2 "$wb" validate "$out/resnet20.yaml" --set "backbone.weights=$weights/resnet110-1d1ed7c2.th"
expect_grep "backbone.weights: .*resnet110-1d1ed7c2.th.*No such file or directory; .*README.md says where to get each weight file" "$out/stderr"
# the conventions that configs name stay as they were: no convention in conv1
expect_exit 0 "$wb" validate --print "$out/mobilenet_v1.yaml" --set preprocess.normalize=imagenet
expect_grep '^  normalize: imagenet$' "$out/stdout"
finish
