/* workbench bundle — one backbone variant of a run as a model bundle (fold networks, config,
 * thresholds, manifest with SHA-256s) for `workbench predict`. */
#include <stdio.h>
#include <string.h>

#include "experiments/bundle.h"
#include "workbench/cli.h"

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    const char *run_dir = NULL, *variant = NULL, *out = NULL, *v;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--variant", &v, &bad, &err)) {
            if (bad) goto usage;
            variant = v;
        } else if (cli_opt(argc, argv, &i, "--out", &v, &bad, &err)) {
            if (bad) goto usage;
            out = v;
        } else if (argv[i][0] == '-') {
            wb_err(&err, WB_E_USAGE, NULL, "bundle: unknown option '%s'", argv[i]);
            goto usage;
        } else if (!run_dir) {
            run_dir = argv[i];
        } else {
            wb_err(&err, WB_E_USAGE, NULL, "bundle: one run directory only (got '%s' too)", argv[i]);
            goto usage;
        }
    }
    if (!run_dir) {
        wb_err(&err, WB_E_USAGE, NULL, "bundle: no run directory given");
        goto usage;
    }
    if (!out) {
        wb_err(&err, WB_E_USAGE, NULL, "bundle: no output directory (--out DIR)");
        goto usage;
    }
    exp_bundle_info bi;
    if (exp_bundle_make(run_dir, variant, out, &bi, &err) != 0) return cli_fail(&err);
    fprintf(stderr, "workbench: bundle: variant %s (%s) of %s: the %d fold %snetworks of repeat 0, mean threshold %.6g",
            bi.variant, bi.arch, bi.source_run, bi.folds, bi.patch ? "patch " : "", bi.threshold);
    if (bi.reference[0]) fprintf(stderr, "; reference %s: its %d fitted fold baselines", bi.reference, bi.folds);
    fprintf(stderr, "\n");
    printf("%s\n", out);
    return WB_EXIT_OK;
usage:
    fprintf(stderr, "(see workbench bundle --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_bundle = {
    "bundle", run, "a run's fold networks of one variant as a model bundle (for predict)",
    "usage: workbench bundle RUN_DIR [--variant V] --out BUNDLE_DIR\n"
    "\n"
    "Writes BUNDLE_DIR (which must not exist; written into BUNDLE_DIR.tmp.<pid>@<host>, then renamed):\n"
    "  models/f<F>.safetensors  the fold networks of variant V of repeat 0 (the run needs\n"
    "                           train.save_weights: true; other repeats are not bundled)\n"
    "  config.yaml              the run's resolved config (preprocessing, network)\n"
    "  thresholds.csv           fold, threshold: each fold's decision threshold from its\n"
    "                           validation images (predictions.csv)\n"
    "  reference/f<F>.json      the run's reference baseline (metrics.reference, when it is a\n"
    "                           radiomics baseline) as fitted on fold F of repeat 0:\n"
    "                           standardisation, logistic-regression coefficients, features\n"
    "  reference/thresholds.csv its fold thresholds\n"
    "  manifest.json            source run, variant, arch, input size and convention, folds,\n"
    "                           the mean threshold, the reference, and every file above with\n"
    "                           its SHA-256\n"
    "\n"
    "  --variant V   a backbone variant of the run (default: the first)\n"
    "\n"
    "Binary runs: whole-image runs, and patch runs (data.task: patch), whose manifest adds\n"
    "task: patch and how the run cut its patches (size, unit, jitter, box columns, background\n"
    "sampling, seed) for predict to cut the cohort's the same way. Multi-class runs are\n"
    "refused. Prints BUNDLE_DIR.\n"
    "Exit codes: 0 ok, 2 usage (unknown or baseline variant, multi-class run, BUNDLE_DIR\n"
    "exists), 3 no run directory or no saved networks, 4 cannot write. docs/predict.md\n"};
