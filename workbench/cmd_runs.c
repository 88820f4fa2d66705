/* workbench runs — the run registry: list, show, compare. */
#include <stdio.h>
#include <string.h>

#include "workbench/cli.h"
#include "experiments/report/registry.h"

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    const char *sub = argc > 1 ? argv[1] : NULL, *db = NULL, *out_dir = "runs", *glob = NULL, *status = NULL, *v;
    const char *ids[16];
    int n_ids = 0, bad = 0;
    if (!sub || (strcmp(sub, "list") && strcmp(sub, "show") && strcmp(sub, "compare"))) {
        wb_err(&err, WB_E_USAGE, NULL, "runs: expected list, show or compare%s%s", sub ? ", got " : "", sub ? sub : "");
        goto usage;
    }
    for (int i = 2; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--registry", &v, &bad, &err)) {
            if (bad) goto usage;
            db = v;
        } else if (cli_opt(argc, argv, &i, "--out", &v, &bad, &err)) {
            if (bad) goto usage;
            out_dir = v;
        } else if (!strcmp(sub, "list") && cli_opt(argc, argv, &i, "--name", &v, &bad, &err)) {
            if (bad) goto usage;
            glob = v;
        } else if (!strcmp(sub, "list") && cli_opt(argc, argv, &i, "--status", &v, &bad, &err)) {
            if (bad) goto usage;
            if (strcmp(v, "running") && strcmp(v, "finished") && strcmp(v, "failed")) {
                wb_err(&err, WB_E_USAGE, NULL, "runs list --status: expected running, finished or failed, got '%s'", v);
                goto usage;
            }
            status = v;
        } else if (argv[i][0] == '-' || !strcmp(sub, "list") || n_ids == 16) {
            wb_err(&err, WB_E_USAGE, NULL, "runs %s: unexpected argument '%s'", sub, argv[i]);
            goto usage;
        } else {
            ids[n_ids++] = argv[i];
        }
    }
    if (!strcmp(sub, "show") && n_ids != 1) {
        wb_err(&err, WB_E_USAGE, NULL, "runs show: expected one run id");
        goto usage;
    }
    if (!strcmp(sub, "compare") && n_ids < 1) {
        wb_err(&err, WB_E_USAGE, NULL, "runs compare: expected one or more run ids");
        goto usage;
    }
    char path[4200];
    if (db) snprintf(path, sizeof path, "%s", db);
    else snprintf(path, sizeof path, "%s/registry.sqlite", out_dir);
    FILE *probe = fopen(path, "rb");
    if (!probe) {
        wb_err(&err, WB_E_IO, path, "no run registry here (workbench run creates it; --out RUNS_DIR or --registry DB "
               "names another)");
        return cli_fail(&err);
    }
    fclose(probe);
    exp_registry *reg;
    if (exp_registry_open_read(path, &reg, &err) != 0) return cli_fail(&err);
    int rc;
    if (!strcmp(sub, "list")) rc = exp_registry_list(reg, glob, status, stdout, &err);
    else if (!strcmp(sub, "show")) rc = exp_registry_show(reg, ids[0], stdout, &err);
    else rc = exp_registry_compare(reg, ids, n_ids, stdout, &err);
    exp_registry_close(reg);
    return rc < 0 ? cli_fail(&err) : WB_EXIT_OK;
usage:
    fprintf(stderr, "(see workbench runs --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_runs = {
    "runs", run, "the run registry: list, show and compare recorded runs",
    "usage: workbench runs list [--name GLOB] [--status running|finished|failed]\n"
    "       workbench runs show ID\n"
    "       workbench runs compare ID [ID...]\n"
    "  (each takes --out RUNS_DIR, default runs, or --registry DB)\n"
    "\n"
    "Every `workbench run` is recorded in RUNS_DIR/registry.sqlite (SQLite, WAL): id, name,\n"
    "status, start and end time, config, manifest and weights SHA-256, git revision, and the\n"
    "pooled metrics of every variant; every `workbench predict` too, as an external validation\n"
    "linked to the run that made its bundle. A run whose process ended without finishing is\n"
    "shown as failed. ID is the number from list or a run directory name.\n"
    "  list      one line per run: id, status, start, wall time, name, run, pooled image AUCs\n"
    "  show      a run's record and its pooled metrics per variant, repeat and level\n"
    "  compare   metrics side by side (repeat 1) and the config keys whose values differ; with\n"
    "            an external validation among them (or one ID: a run and all its external\n"
    "            validations, or an external validation and its run), internal CV against\n"
    "            external: AUC [95% CI], sensitivity, specificity, threshold, Brier, ECE, n,\n"
    "            and the paired DeLong test against the reference\n"
    "Exit codes: 0 ok, 2 usage or unknown id, 3 no registry or not readable.\n"};
