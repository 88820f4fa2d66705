/* workbench run — run an experiment from a config. */
#include <stdio.h>
#include <string.h>

#include "workbench/cli.h"
#include "experiments/report/report.h"
#include "experiments/run.h"

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    exp_run_options o = {0};
    o.runs_dir = "runs";
    o.progress = 1;
    o.version = WB_VERSION;
    const char *sets[64], *v;
    int bad = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--out", &v, &bad, &err)) {
            if (bad) goto usage;
            o.runs_dir = v;
        } else if (cli_opt_set(argc, argv, &i, sets, &o.n_sets, sizeof sets / sizeof sets[0], &bad, &err)) {
            if (bad) goto usage;
        } else if (cli_opt(argc, argv, &i, "--resume", &v, &bad, &err)) {
            if (bad) goto usage;
            o.resume_dir = v;
        } else if (cli_opt(argc, argv, &i, "--registry", &v, &bad, &err)) {
            if (bad) goto usage;
            o.registry = v;
        } else if (cli_opt(argc, argv, &i, "--timestamp", &v, &bad, &err)) {
            if (bad) goto usage;
            o.timestamp = v;
        } else if (argv[i][0] == '-' || o.config) {
            wb_err(&err, WB_E_USAGE, NULL, "run: unexpected argument '%s'", argv[i]);
            goto usage;
        } else {
            o.config = argv[i];
        }
    }
    if (o.resume_dir && (o.config || o.n_sets)) {
        wb_err(&err, WB_E_USAGE, NULL, "run --resume RUN_DIR takes no config and no --set: it continues the run "
               "with the config.yaml it recorded");
        goto usage;
    }
    if (!o.config && !o.resume_dir) {
        wb_err(&err, WB_E_USAGE, NULL, "run: no config file given");
        goto usage;
    }
    o.sets = sets;
    char dir[4096];
    if (exp_run(&o, dir, sizeof dir, &err) != 0) return cli_fail(&err);
    /* name the reports report.formats asked for, not a fixed list */
    char reports[128];
    wb_error e2;
    if (exp_report_names(dir, reports, sizeof reports, &e2) != 0) reports[0] = '\0';
    fprintf(stderr, "workbench: run finished: %s (%s%smetrics.json, predictions.csv)\n", dir, reports, reports[0] ? ", " : "");
    printf("%s\n", dir);
    return WB_EXIT_OK;
usage:
    fprintf(stderr, "(see workbench run --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_run = {
    "run", run, "run an experiment: cross-validated baseline vs frozen vs fine-tuned backbones",
    "usage: workbench run CONFIG [--out RUNS_DIR] [--set key.path=value]... [--registry DB]\n"
    "                           [--timestamp T]\n"
    "       workbench run --resume RUN_DIR [--registry DB]\n"
    "\n"
    "Reads CONFIG (see docs/config.md), decodes and preprocesses the images, splits the\n"
    "patients into stratified folds, trains and scores every variant on every fold, and\n"
    "writes RUNS_DIR/<name>-<UTC time>-<config hash>/ (default RUNS_DIR: runs): config.yaml,\n"
    "environment.json, manifest.csv, excluded.csv, folds.csv, curves.csv, predictions.csv,\n"
    "metrics.json, metrics.csv, timing.csv, run.log, and the reports report.html, report.md,\n"
    "table.tex (docs/runs.md, docs/reports.md). Prints the run directory on stdout;\n"
    "progress (fold, variant, epoch, loss, ETA) on stderr.\n"
    "\n"
    "  --set k=v       override a config key (recorded in config.yaml)\n"
    "  --registry DB   record the run in the SQLite registry DB (default RUNS_DIR/registry.sqlite;\n"
    "                  'none': not at all); see workbench runs\n"
    "  --timestamp T   use T (YYYYmmddTHHMMSSZ) instead of the current time in the name\n"
    "  --resume DIR    continue an interrupted run: every finished fold x variant (DIR/parts/)\n"
    "                  is reused; the files come out as an uninterrupted run's would\n"
    "\n"
    "Exit status: 0 done, 1 a file failed under data.on_error: fail, 2 bad config,\n"
    "3 bad data, 4 cannot write the run directory.\n"};
