/* run.h — `workbench run`: one experiment from a config to a run directory.
 *
 *     exp_run_options o = {.config = "configs/demo.yaml", .runs_dir = "runs", .progress = 1};
 *     char dir[4096];
 *     if (exp_run(&o, dir, sizeof dir, &err) != 0) ...;   // exit code from err.code
 *     printf("report in %s\n", dir);
 *
 * The run directory runs/<name>-<UTC time>-<config hash>/ gets config.yaml (resolved),
 * environment.json, manifest.csv, excluded.csv, folds.csv, predictions.csv, curves.csv,
 * metrics.json, metrics.csv, timing.csv, run.log and the reports (report.h); every file is
 * written atomically. The run is recorded in the registry (registry.h) as running, then
 * finished or failed. docs/runs.md
 * describes each file. Each finished (repeat, fold, variant) is kept in parts/ as soon as it
 * is done, so an interrupted run continued with resume_dir computes only what is missing and
 * ends with the same files as an uninterrupted one.
 */
#ifndef EXP_RUN_H
#define EXP_RUN_H

#include <stddef.h>

#include "base/wb_error.h"

typedef struct exp_run_options {
    const char *config;
    const char *runs_dir;          /* default "runs" */
    const char *const *sets;       /* --set key=value overrides */
    size_t n_sets;
    int progress;                  /* progress lines on stderr */
    const char *version;           /* the workbench version, for environment.json */
    const char *timestamp;         /* fixed UTC time "YYYYmmddTHHMMSSZ" (tests), or NULL: now */
    const char *resume_dir;        /* continue this run: its config.yaml, its finished parts */
    const char *registry;          /* the run registry (SQLite): NULL = RUNS_DIR/registry.sqlite,
                                    * "none" = do not record the run */
} exp_run_options;

/* Runs the experiment; on success dir holds the run directory's path. Errors: WB_E_CONFIG
 * (bad config), WB_E_DATA (bad data), WB_E_FAILED (on_error: fail hit a bad file), WB_E_WRITE. */
int exp_run(const exp_run_options *o, char *dir, size_t dir_n, wb_error *err);

#endif
