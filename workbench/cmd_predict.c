/* workbench predict — a model bundle applied to another cohort (external validation). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "experiments/bundle.h"
#include "workbench/cli.h"

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    const char *bundle = NULL, *data = NULL, *out = NULL, *registry = NULL, *v;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--out", &v, &bad, &err)) {
            if (bad) goto usage;
            out = v;
        } else if (cli_opt(argc, argv, &i, "--registry", &v, &bad, &err)) {
            if (bad) goto usage;
            registry = v;
        } else if (argv[i][0] == '-') {
            wb_err(&err, WB_E_USAGE, NULL, "predict: unknown option '%s'", argv[i]);
            goto usage;
        } else if (!bundle) {
            bundle = argv[i];
        } else if (!data) {
            data = argv[i];
        } else {
            wb_err(&err, WB_E_USAGE, NULL, "predict: unexpected argument '%s'", argv[i]);
            goto usage;
        }
    }
    if (!bundle || !data) {
        wb_err(&err, WB_E_USAGE, NULL, "predict: give a bundle directory and a labels CSV or config");
        goto usage;
    }
    if (!out) {
        wb_err(&err, WB_E_USAGE, NULL, "predict: no output directory (--out DIR)");
        goto usage;
    }
    exp_predict_summary s;
    if (exp_predict_run(bundle, data, out, registry, &s, &err) != 0) return cli_fail(&err);
    if (s.b.patch)
        fprintf(stderr, "workbench: predict: %zu patch(es) (%zu positive; %zu lesion, %zu background) from %zu image(s), "
                "%zu excluded, %s of %s, mean of %d folds", s.n, s.n_positive, s.n_lesion, s.n_background, s.n_images,
                s.n_excluded, s.b.variant, s.b.source_run, s.b.folds);
    else if (s.labeled)
        fprintf(stderr, "workbench: predict: %zu image(s) (%zu positive, %zu excluded), %s of %s, mean of %d folds",
                s.n, s.n_positive, s.n_excluded, s.b.variant, s.b.source_run, s.b.folds);
    else
        fprintf(stderr, "workbench: predict: %zu image(s) (unlabeled, %zu excluded), %s of %s, mean of %d folds", s.n,
                s.n_excluded, s.b.variant, s.b.source_run, s.b.folds);
    if (isfinite(s.auc)) fprintf(stderr, "; AUC %.4f (%.4f to %.4f)", s.auc, s.auc_lo, s.auc_hi);
    if (isfinite(s.ref_auc)) fprintf(stderr, "; reference %s AUC %.4f", s.b.reference, s.ref_auc);
    if (isfinite(s.delong_p)) fprintf(stderr, ", paired DeLong dAUC %+.4f, p %.4g", s.delta_auc, s.delong_p);
    fprintf(stderr, "\n");
    if (s.registry_id >= 0)
        fprintf(stderr, "workbench: predict: recorded as run %lld in the registry%s%s\n", s.registry_id,
                s.linked ? ", linked to its source run " : " (its source run is not in this registry: not linked) ",
                s.linked ? s.b.source_run : "");
    printf("%s/predictions.csv\n", out);
    return WB_EXIT_OK;
usage:
    fprintf(stderr, "(see workbench predict --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_predict = {
    "predict", run, "a model bundle applied to another cohort (external validation)",
    "usage: workbench predict BUNDLE_DIR LABELS.csv|CONFIG.yaml --out DIR [--registry DB|none]\n"
    "\n"
    "Checks every file of BUNDLE_DIR against the SHA-256 of its manifest.json (a changed or\n"
    "missing file is refused, named), preprocesses each image of the cohort as the bundle's\n"
    "config says and scores it with every fold network; the score is the mean of the folds'\n"
    "probabilities, the decision score >= the mean of the folds' thresholds. The cohort: a\n"
    "labels CSV (its directory holds the images; the bundle's data.file_column, label_column,\n"
    "positive and group_column apply) or a config whose data section is used. Writes into DIR:\n"
    "  predictions.csv  file (as a run shows it), sop_instance_uid, patient (pseudonym),\n"
    "                   laterality, view, label, score, score_f<F> per fold, threshold, decision;\n"
    "                   with the run's reference baseline in the bundle also reference_score,\n"
    "                   reference_score_f<F>, reference_threshold, reference_decision\n"
    "  metrics.json     the run's binary metrics (AUC with DeLong CI, average precision,\n"
    "                   sensitivity, specificity, F1 at the threshold, ...) of the network\n"
    "                   ensemble and of the reference, and the paired DeLong test between them,\n"
    "                   titled as an external validation of the source run\n"
    "  report.html, report.md  the external validation's report\n"
    "  excluded.csv     images that could not be used, with the reason (when there are any)\n"
    "\n"
    "A patch bundle (of a data.task: patch run) scores patches cut from the cohort's images as\n"
    "the run cut its own (lesion patches around the labels' boxes, seeded background patches\n"
    "from negative images): one row per patch (patch id, kind, row, col, side), patch-level\n"
    "metrics; it needs a labelled cohort with the bundle's box columns.\n"
    "A labels CSV without the label column is an unlabeled cohort: scores and decisions only,\n"
    "metrics.json says labeled: false (metrics null). The predict is recorded in the registry\n"
    "of the directory holding DIR (DIR/../registry.sqlite; --registry DB for another, none for\n"
    "none) as an external validation linked to the run that made the bundle.\n"
    "\n"
    "Prints DIR/predictions.csv. Exit codes: 0 ok, 2 usage, 3 a missing or changed bundle file,\n"
    "no usable image, an input the networks do not take, 4 cannot write. docs/predict.md\n"};
