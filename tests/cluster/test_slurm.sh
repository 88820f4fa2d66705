#!/usr/bin/env bash
# A real single-node Slurm cluster (Debian's slurm-wlm and munge, started here as root:
# munged, slurmctld, slurmd on localhost with 2 CPUs, everything in a temporary directory)
# runs a small config submitted with `workbench slurm --submit`:
#   1. the whole run (prepare, a job array of the 6 units, finish, clean-up): metrics.json,
#      predictions.csv, metrics.csv, curves.csv, folds.csv and manifest.csv are byte-identical
#      to a one-process `workbench run` of the same config; the registry says finished;
#   2. a run whose unit 3 is cancelled before it starts: the finish job never runs, the
#      clean-up job records the run as failed naming unit 3; `workbench slurm --resume
#      --submit` submits unit 3 alone, and the run ends finished with the same bytes.
# Where the daemons cannot start (not root, a binary missing, a daemon that fails), the test
# says why and exits 77 (skipped), never passes. The daemons are stopped on exit.
# Args: WORKBENCH WEIGHTS_DIR OUT_DIR
set -euo pipefail
wb=$1 weights=$2 out=$3
. "$(dirname "$0")/../cli/lib.sh"
skip() { echo "SKIP: $*" >&2; exit 77; }

[ "$(id -u)" -eq 0 ] || skip "not root: this test starts slurmctld, slurmd and munged itself (run ctest as root)"
for b in munged munge slurmctld slurmd sbatch squeue scancel scontrol sinfo; do
  command -v "$b" >/dev/null || skip "$b not found on PATH (Debian packages slurm-wlm and munge; ./setup.sh --asan installs them)"
done
rm -rf "$out"
mkdir -p "$out"
# the daemons' files in a short path (a UNIX socket path has at most 107 bytes)
t=$(mktemp -d /tmp/wb-slurm.XXXXXX)
chmod 700 "$t"
mkdir -p "$t/munge" "$t/state" "$t/spool" "$t/log"
export SLURM_CONF=$t/slurm.conf

stop_daemons() {
  local rc=$?
  local ids
  ids=$([ -f "$t/slurmctld.pid" ] && squeue -h -o %i 2>/dev/null || true)
  [ -z "$ids" ] || scancel $ids 2>/dev/null || true
  local p pids=""
  for f in slurmd.pid slurmctld.pid munge/munged.pid; do
    [ -f "$t/$f" ] && p=$(cat "$t/$f") && kill "$p" 2>/dev/null && pids="$pids $p"
  done
  for p in $pids; do # wait for them to go (they are not our children)
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  done
  rm -rf "$t"
  exit $rc
}
trap stop_daemons EXIT
trap 'exit 143' TERM INT

# munge: a fresh key, our own socket
dd if=/dev/urandom of="$t/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$t/munge/munge.key"
munged --force --socket="$t/munge/munge.sock" --key-file="$t/munge/munge.key" --log-file="$t/log/munged.log" \
  --pid-file="$t/munge/munged.pid" --seed-file="$t/munge/munged.seed" ||
  skip "munged did not start: $(tail -n 3 "$t/log/munged.log" 2>/dev/null | tr '\n' ' ')"
munge -S "$t/munge/munge.sock" -n </dev/null | unmunge -S "$t/munge/munge.sock" >/dev/null 2>&1 ||
  skip "munged started but a credential does not round-trip (munge | unmunge failed)"

# ports of our own: another slurmctld (or another run of this test) may hold the default ones
port=$((20000 + RANDOM % 20000))
cat >"$SLURM_CONF" <<EOF
ClusterName=wbtest
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$t/munge/munge.sock
StateSaveLocation=$t/state
SlurmdSpoolDir=$t/spool
SlurmctldPidFile=$t/slurmctld.pid
SlurmdPidFile=$t/slurmd.pid
SlurmctldLogFile=$t/log/slurmctld.log
SlurmdLogFile=$t/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
PlugStackConfig=/dev/null
MinJobAge=600
NodeName=localhost NodeAddr=127.0.0.1 CPUs=2 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
slurmctld -f "$SLURM_CONF" || skip "slurmctld did not start: $(tail -n 3 "$t/log/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
slurmd -f "$SLURM_CONF" -N localhost || skip "slurmd did not start: $(tail -n 3 "$t/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
state=""
for _ in $(seq 1 150); do
  state=$(sinfo -h -n localhost -o %t 2>/dev/null || true)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || skip "the Slurm node did not come up (state '$state' after 30 s): slurmctld: $(tail -n 2 "$t/log/slurmctld.log" 2>/dev/null | tr '\n' ' ') slurmd: $(tail -n 2 "$t/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
echo "slurm: $(sinfo -V) on localhost:$port, munge socket $t/munge/munge.sock"

# wait_jobs WHAT: until the queue is empty (at most 300 s; the jobs are then cancelled)
wait_jobs() {
  local q
  for _ in $(seq 1 1500); do
    q=$(squeue -h -o '%i %j %T %r')
    [ -z "$q" ] && return 0
    sleep 0.2
  done
  fails=$((fails + 1))
  echo "FAIL: $1: jobs still queued after 300 s:" >&2
  echo "$q" >&2
  scancel $(squeue -h -o %i) 2>/dev/null || true
  finish
  exit 1
}

# the cohort (16 patients, 2 folds, baseline + frozen + fine-tuned layer3: 6 units), one
# engine thread per unit so that two units run at once on the 2 CPUs
make_cohort
sed 's/^threads: 2$/threads: 1/' "$out/t.yaml" >"$out/c.yaml"
grep -q '^threads: 1$' "$out/c.yaml" || { echo "FAIL: the config has no threads: line to set" >&2; exit 1; }
expect_exit 0 "$wb" -q run "$out/c.yaml" --out "$out/runs" --timestamp 20260101T000000Z
ref=$(cat "$out/stdout")
compared="metrics.json predictions.csv metrics.csv curves.csv folds.csv manifest.csv"
same_as_ref() {
  local f
  for f in $compared; do
    checks=$((checks + 1))
    cmp -s "$ref/$f" "$1/$f" || { fails=$((fails + 1)); echo "FAIL: $2: $f differs from the one-process run's" >&2; }
  done
}
# job_id KIND: the job id the submission printed ("prepare 12", "units 13", ...)
job_id() { sed -n "s/^$1 \([0-9][0-9]*\)$/\1/p" "$out/stdout"; }

# 1. the whole run as Slurm jobs
expect_exit 0 "$wb" slurm "$out/c.yaml" --out "$out/runs" --cpus 1 --array-limit 2 --timestamp 20260102T000000Z --submit
expect_grep '^prepare [0-9]+$' "$out/stdout"
expect_grep '^cleanup [0-9]+$' "$out/stdout"
# the run directory, fixed before anything ran (workbench slurm names it on stderr)
run_dir() { sed -n 's/^workbench: submitting .* (run directory \(.*\))$/\1/p' "$out/stderr"; }
dir=$(run_dir)
expect_eq "$(dirname "$dir")" "$(cd "$out/runs" && pwd -P)" "the run directory's parent"
echo "submitted $(tr '\n' ' ' <"$out/stdout")for $dir"
wait_jobs "the whole run"
same_as_ref "$dir" "the run as Slurm jobs"
for k in 0 1 2 3 4 5; do
  checks=$((checks + 1))
  [ -s "$dir/logs/unit-$k.log" ] || { fails=$((fails + 1)); echo "FAIL: no log of unit $k in $dir/logs" >&2; }
done
expect_exit 0 "$wb" runs show "$(basename "$dir")" --out "$out/runs"
expect_grep '^status +finished$' "$out/stdout"
# the finish succeeded: the clean-up job found its marker and did nothing
expect_no_grep 'workbench' "$dir.cleanup.log"

# 2. unit 3 cancelled before it starts: the clean-up records the failure; --resume runs unit 3 alone
expect_exit 0 "$wb" slurm "$out/c.yaml" --out "$out/runs" --cpus 1 --array-limit 1 --timestamp 20260103T000000Z --submit
units=$(job_id units)
scancel "${units}_3"
dir=$(run_dir)
echo "submitted $(tr '\n' ' ' <"$out/stdout")for $dir; cancelled unit 3 (${units}_3)"
wait_jobs "the run without unit 3"
checks=$((checks + 1))
[ ! -e "$dir/metrics.json" ] || { fails=$((fails + 1)); echo "FAIL: $dir has metrics.json without unit 3" >&2; }
expect_eq "$(ls "$dir/parts" | grep -c '\.txt$')" 5 "parts of the run without unit 3"
expect_grep '1 of 6 units not finished: 3 \(repeat 0 fold 1 baseline\)' "$dir.cleanup.log"
expect_exit 0 "$wb" runs show "$(basename "$dir")" --out "$out/runs"
expect_grep '^status +failed$' "$out/stdout"
expect_grep '^error .*1 of 6 units not finished: 3 \(repeat 0 fold 1 baseline\)' "$out/stdout"
expect_exit 0 "$wb" slurm --resume "$dir" --cpus 1 --submit
expect_grep '1 of 6 units to re-submit' "$out/stderr"
checks=$((checks + 1))
grep -q -- '--array=3 ' "$out"/runs/"$(basename "$dir")".resume-*.slurm.sh ||
  { fails=$((fails + 1)); echo "FAIL: the resume script does not submit unit 3 alone" >&2; }
echo "re-submitted $(tr '\n' ' ' <"$out/stdout")"
wait_jobs "the resumed run"
same_as_ref "$dir" "the run resumed with unit 3"
expect_exit 0 "$wb" runs show "$(basename "$dir")" --out "$out/runs"
expect_grep '^status +finished$' "$out/stdout"
finish
