#!/usr/bin/env bash
# workbench run end to end on a small synthetic cohort: the run directory's files, byte-for-byte
# reproducibility at a fixed thread count, pseudonymised patients, and the exit codes of bad
# configs and bad data. Args: WORKBENCH WEIGHTS_DIR OUT_DIR
set -euo pipefail
wb=$1 weights=$2 out=$3
rm -rf "$out"; mkdir -p "$out"
. "$(dirname "$0")/lib.sh"
make_cohort
# preprocess fills the cache that run then reads
expect_exit 0 "$wb" preprocess "$out/t.yaml" --out "$out/runs"
expect_grep '^64 images preprocessed into .*/runs/cache in [0-9.]+ s; 0 excluded; 0 from the cache, 64 computed$' "$out/stdout"
expect_grep 'data: images read and preprocessed 64/64' "$out/stderr"
expect_exit 0 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260101T000000Z
expect_grep 'data: 64 of 64 images from the cache' "$out/stderr"
run=$(cat "$out/stdout")
expect_eq "$run" "$out/runs/small-20260101T000000Z-$(basename "$run" | sed 's/.*-//')" "run directory name"
for f in config.yaml environment.json manifest.csv excluded.csv folds.csv curves.csv predictions.csv metrics.json metrics.csv timing.csv run.log report.html report.md table.tex; do
  checks=$((checks + 1)); [ -s "$run/$f" ] || { fails=$((fails + 1)); echo "FAIL: $f missing or empty" >&2; }
done
expect_grep 'repeat 1/1 fold 2/2 last: epoch 2/2 loss [0-9.]+ val AUC' "$out/stderr"
# the revision the binary was built from (at build time, not when CMake was configured)
src=$(cd "$(dirname "$0")/../.." && pwd)
if rev=$(git -C "$src" describe --always --dirty 2>/dev/null); then
  expect_grep "^  \"git_revision\": \"$rev\",\$" "$run/environment.json"
fi
expect_eq "$(tail -n +2 "$run/predictions.csv" | wc -l)" $((64 * 3)) "one prediction per image and variant"
expect_eq "$(tail -n +2 "$run/manifest.csv" | wc -l)" 64 "manifest rows"
expect_grep '"data": \{"images": 64, "patients": 16, "positive_images": [0-9]+, "excluded": 0, "non_dicom_images": 0, "formats": \{"dicom": 64\}\}' "$run/metrics.json"
expect_grep '"name": "last", "type": "backbone", "trainable_params": 203650' "$run/metrics.json"
expect_grep '"vs_reference": \{"delta_auc": ' "$run/metrics.json"
expect_grep '^0,pooled,frozen,breast,auc,[0-9.]+,[0-9.]+,[0-9.]+$' "$run/metrics.csv"
# no raw patient ids or names anywhere in the run directory
ids=$(tail -n +2 "$out/data/labels.csv" | cut -d, -f3 | sort -u | paste -sd'|')
expect_eq "$(echo "$ids" | tr '|' '\n' | wc -l)" 16 "patient ids in labels.csv"
checks=$((checks + 1))
if find "$run" -type f -exec cat {} + | grep -qE "$ids|SYNTHETIC"; then fails=$((fails + 1)); echo "FAIL: a patient id or name is in the run directory" >&2; fi
checks=$((checks + 1))
if grep -aqE "$ids|SYNTHETIC" "$out/runs/registry.sqlite"*; then fails=$((fails + 1)); echo "FAIL: a patient id or name is in the registry" >&2; fi
# the reports: regenerating them from the finished run gives the same files
for f in report.html report.md table.tex; do cp "$run/$f" "$out/$f.first"; done
expect_exit 0 "$wb" report "$run"
expect_eq "$(cat "$out/stdout")" "$run/report.html" "report prints the page"
for f in report.html report.md table.tex; do
  checks=$((checks + 1)); cmp -s "$run/$f" "$out/$f.first" || { fails=$((fails + 1)); echo "FAIL: regenerated $f differs" >&2; }
done
expect_grep '^\| last \| 203650 \| 0\.[0-9]{3} \[0\.[0-9]{3}, [01]\.[0-9]{3}\] \| [-+]0\.[0-9]{3} \[' "$run/report.md"
expect_exit 3 "$wb" report "$out/nope"
expect_grep "nope/metrics.json: cannot open" "$out/stderr"
# the registry has the run, finished, with its pooled metrics
expect_exit 0 "$wb" runs list --out "$out/runs"
expect_grep "^1 +finished +[0-9T:-]+Z .* small +$(basename "$run") +baseline 0\.[0-9]{3}, frozen 0\.[0-9]{3}, last 0\.[0-9]{3}$" "$out/stdout"
expect_exit 0 "$wb" runs show "$(basename "$run")" --out "$out/runs"
expect_grep "^status +finished$" "$out/stdout"
expect_grep "^last +1 +image +203650 +0\.[0-9]{3} " "$out/stdout"
# every patient's images share one fold
checks=$((checks + 1))
if [ -n "$(tail -n +2 "$run/folds.csv" | awk -F, '{k=$4; if (k in f && f[k]!=$2) print k; f[k]=$2}')" ]; then
  fails=$((fails + 1)); echo "FAIL: a patient is in two folds" >&2
fi
# the same config, data, seed and threads: byte-identical metrics and predictions
expect_exit 0 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260101T000001Z
run2=$(cat "$out/stdout")
expect_grep 'data: 64 of 64 images from the cache in .*/runs/cache' "$out/stderr"
for f in metrics.json predictions.csv metrics.csv curves.csv folds.csv; do
  checks=$((checks + 1)); cmp -s "$run/$f" "$run2/$f" || { fails=$((fails + 1)); echo "FAIL: $f differs between two runs" >&2; }
done
# another runs directory (its own pseudonym key, its own cache): the same metrics, bit for bit
expect_exit 0 "$wb" run "$out/t.yaml" --out "$out/runs_other" --registry none --timestamp 20260101T000001Z
run_other=$(cat "$out/stdout")
for f in metrics.json metrics.csv curves.csv; do
  checks=$((checks + 1)); cmp -s "$run/$f" "$run_other/$f" || { fails=$((fails + 1)); echo "FAIL: $f differs in another runs directory" >&2; }
done
# the same config in the same second: a new directory with -2
expect_exit 0 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260101T000001Z
expect_eq "$(cat "$out/stdout")" "$run2-2" "second run in the same second"
# kill a run in the middle (after some parts, at several points), resume it: the same files.
# The kill is exact: the process sends itself SIGKILL just before it creates the part after
# the first kill_after (WB_FAULT_KILL, numbered from a traced run of the same config in the
# same runs directory). Polling for parts and killing from outside raced a fast machine: the
# whole run could finish between two polls.
expect_exit 0 env WB_FAULT_TRACE=1 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260109T000000Z
grep 'fault point' "$out/stderr" >"$out/trace" || true
for kill_after in 2 4; do
  kill_n=$(grep -E 'fault point [0-9]+: create .*/parts/r0_' "$out/trace" | sed -n "$((kill_after + 1))p" |
    sed -E 's/.*fault point ([0-9]+):.*/\1/')
  expect_eq "${kill_n:+found}" found "the fault point of part $((kill_after + 1)) in the trace"
  expect_exit 137 env WB_FAULT_KILL="${kill_n:-0}" "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 2026010${kill_after}T000000Z
  killed=$(ls -d "$out/runs/small-2026010${kill_after}T000000Z-"* 2>/dev/null | head -1 || true)
  checks=$((checks + 1)); [ ! -f "$killed/metrics.json" ] || { fails=$((fails + 1)); echo "FAIL: the run finished before the kill" >&2; }
  expect_eq "$( (ls "$killed/parts" 2>/dev/null || true) | grep -c '\.txt$' || true)" "$kill_after" "parts left by the kill"
  # the killed run's process is gone: the registry lists it as failed
  expect_exit 0 "$wb" runs list --out "$out/runs" --status failed
  expect_grep " failed .* $(basename "$killed") " "$out/stdout"
  expect_exit 0 "$wb" run --resume "$killed"
  expect_eq "$(cat "$out/stdout")" "$killed" "resumed run directory"
  expect_grep 'finished before, read from' "$out/stderr"
  for f in metrics.json predictions.csv metrics.csv curves.csv folds.csv manifest.csv; do
    checks=$((checks + 1)); cmp -s "$run/$f" "$killed/$f" || { fails=$((fails + 1)); echo "FAIL: resumed $f differs from the uninterrupted run's (kill after $kill_after parts)" >&2; }
  done
  expect_exit 0 "$wb" runs show "$(basename "$killed")" --out "$out/runs"
  expect_grep "^status +finished$" "$out/stdout"
done
expect_exit 2 "$wb" run "$out/t.yaml" --resume "$run"
expect_grep 'takes no config and no --set' "$out/stderr"
# a --set is recorded and changes the run's hash
expect_exit 0 "$wb" run "$out/t.yaml" --out "$out/runs" --timestamp 20260101T000000Z --set variants[2].unfreeze=none --set train.epochs=1 --set train.save_weights=true
run3=$(cat "$out/stdout")
# train.save_weights: each fold's network as safetensors that bind strictly to the architecture
expect_eq "$(ls "$run3/models" | paste -sd' ')" "r0_f0_baseline.baseline.json r0_f0_frozen.safetensors r0_f0_last.safetensors r0_f1_baseline.baseline.json r0_f1_frozen.safetensors r0_f1_last.safetensors" "saved models (and fitted baselines)"
expect_exit 0 "$wb" net info --arch resnet20 --weights "$run3/models/r0_f1_last.safetensors" --in-channels 1 --classes 2
# 97 of the network + conv1.input_offset (normalize: auto folds ImageNet's mean/std into conv1)
expect_grep 'bound 98 tensors from .*r0_f1_last.safetensors' "$out/stderr"
expect_grep '^# --set train.epochs=1$' "$run3/config.yaml"
checks=$((checks + 1)); [ "$run3" != "$run" ] || { fails=$((fails + 1)); echo "FAIL: --set kept the same run directory" >&2; }
# compare: metrics side by side, and exactly the keys that differ
expect_exit 0 "$wb" runs compare "$(basename "$run")" "$(basename "$run3")" --out "$out/runs"
expect_grep "^frozen +image +AUC +0\.[0-9]{3} +0\.[0-9]{3}$" "$out/stdout"
expect_eq "$(sed -n '/^config differences:/,$p' "$out/stdout" | grep '^  [a-z]' | tr -d ' ' | paste -sd,)" "variants[2].unfreeze,train.epochs,train.save_weights" "config differences"
expect_exit 2 "$wb" runs show 999 --out "$out/runs"
expect_grep "no run '999' in the registry" "$out/stderr"
expect_exit 3 "$wb" runs list --out "$out/nowhere"
expect_grep "nowhere/registry.sqlite: no run registry here" "$out/stderr"

# bad config: exit 2, nothing run
expect_exit 2 "$wb" run "$out/t.yaml" --out "$out/runs" --set cv.folds=1
expect_exit 2 "$wb" run "$out/nope.yaml"
# bad data: a broken file is excluded (skip) or fails the run (exit 1)
mkdir -p "$out/data2"; cp -r "$out/data/"* "$out/data2/"
head -c 300 "$out/data/P0001/L_CC.dcm" >"$out/data2/P0001/L_CC.dcm"
sed 's#data/labels.csv#data2/labels.csv#; s#dicom_dir: data#dicom_dir: data2#; /^  - name: frozen/,$d' "$out/t.yaml" >"$out/t2.yaml"
printf 'cv:\n  folds: 2\n' >>"$out/t2.yaml"
expect_exit 0 "$wb" run "$out/t2.yaml" --out "$out/runs"
run4=$(cat "$out/stdout")
expect_grep '^P0001/L_CC.dcm,.*P0001/L_CC.dcm: truncated or corrupt' "$run4/excluded.csv"
expect_grep '"excluded": 1' "$run4/metrics.json"
expect_exit 1 "$wb" run "$out/t2.yaml" --out "$out/runs" --set data.on_error=fail
expect_grep 'labels.csv:2: .*L_CC.dcm: truncated or corrupt .*\(data.on_error is fail\)' "$out/stderr"
failed_run=$(ls -td "$out/runs"/small-* | head -1)
expect_exit 0 "$wb" runs show "$(basename "$failed_run")" --out "$out/runs"
expect_grep "^status +failed$" "$out/stdout"
expect_grep "^error +.*L_CC.dcm: truncated or corrupt" "$out/stdout"
# a labels file without the label column: exit 3 naming the file and the columns
sed 's/^file,sop_instance_uid,patient_id,laterality,view,label,/file,sop_instance_uid,patient_id,laterality,view,diagnosis,/' "$out/data/labels.csv" >"$out/data2/labels.csv"
expect_exit 3 "$wb" run "$out/t2.yaml" --out "$out/runs"
expect_grep "labels.csv:1: no column 'label' \(the header has: file, sop_instance_uid" "$out/stderr"
finish
