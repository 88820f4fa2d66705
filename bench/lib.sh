# bench/lib.sh — what the experiment benches share (sourced by experiment.sh, patch.sh, jobs.sh).

# bench_options USAGE "NAME..." ARGS...: for each `--NAME VALUE` among ARGS sets the shell
# variable NAME (dashes read as underscores) to VALUE; an option not in the list, or one
# without its value, prints USAGE and exits 2.
bench_options() {
    _usage=$1 _names=" $2 "
    shift 2
    while [ $# -gt 0 ]; do
        case "$1" in --*) ;; *) echo "$_usage" >&2; exit 2 ;; esac
        [ $# -ge 2 ] || { echo "$_usage" >&2; exit 2; }
        _v=$(printf %s "${1#--}" | tr - _)
        case "$_names" in *" $_v "*) eval "$_v=\$2" ;; *) echo "$_usage" >&2; exit 2 ;; esac
        shift 2
    done
}

# bench_setup SCRIPT: checks the workbench binary ($workbench, default $build's) and sets
# $weights to the absolute path of the pretrained CIFAR ResNet-20 in ../shared/weights.
bench_setup() {
    [ -n "$workbench" ] || workbench="$build/workbench/workbench"
    [ -x "$workbench" ] || { echo "$1: $workbench: not built (./setup.sh)" >&2; exit 2; }
    weights="$root/../shared/weights/resnet20-12fca82f.th"
    [ -f "$weights" ] || { echo "$1: $weights: missing (../shared/weights: the CIFAR ResNet-20 of chenyaofo/pytorch-cifar-models; see its README)" >&2; exit 2; }
    weights=$(cd "$(dirname "$weights")" && pwd)/$(basename "$weights")
}

# bench_variants_yaml "name:unfreeze,...": the config's variant lines (unfreeze none, all, or
# a stage list such as layer3, or layer2+layer3 for several).
bench_variants_yaml() {
    echo "$1" | tr ',' '\n' | while IFS=: read -r name unf; do
        case "$unf" in none|all) ;; *) unf="[$(echo "$unf" | sed 's/+/, /g')]" ;; esac
        echo "  - {name: $name, type: backbone, unfreeze: $unf}"
    done
}

# bench_threads N: the same thread count for every BLAS and OpenMP of both sides; prints the
# CPU and the load before the timed part on stderr.
bench_threads() {
    export OMP_NUM_THREADS=$1 OPENBLAS_NUM_THREADS=$1 MKL_NUM_THREADS=$1
    echo "# $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; load before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
}
