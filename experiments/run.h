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
#include <stdio.h>

#include "base/wb_error.h"

/* The steps of a run (docs/cluster.md): ALL does everything in one process; PREPARE makes the
 * run directory (config.yaml, environment.json, manifest.csv, excluded.csv, folds.csv, the
 * filled preprocessing cache) and records it as running; UNITS computes the listed units
 * (repeat x fold x variant, numbered as --plan prints them) into parts/, never touching the
 * registry; FINISH merges every part into the results and reports and records the outcome. A
 * run made as PREPARE + every unit (any order, any hosts) + FINISH is byte-identical to ALL. */
enum { EXP_RUN_ALL = 0, EXP_RUN_PREPARE, EXP_RUN_UNITS, EXP_RUN_FINISH };

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
    int step;                      /* EXP_RUN_ALL (0) .. EXP_RUN_FINISH */
    const char *run_dir;           /* PREPARE: the exact directory to make (NULL: named as usual);
                                    * UNITS, FINISH: the prepared run directory */
    const size_t *units;           /* UNITS: the unit indices */
    size_t n_units;
    int threads;                   /* > 0: this many engine threads instead of the config's */
    int keep_registry_pid;         /* PREPARE: this process lives on to finish the run (--jobs) */
} exp_run_options;

/* Runs the experiment; on success dir holds the run directory's path. Errors: WB_E_CONFIG
 * (bad config), WB_E_DATA (bad data), WB_E_FAILED (on_error: fail hit a bad file), WB_E_WRITE. */
int exp_run(const exp_run_options *o, char *dir, size_t dir_n, wb_error *err);

/* Prints the units of o->config (or of the prepared o->run_dir) as JSON lines: {"unit": K,
 * "repeat": R, "fold": F, "variant": V, "type": T, "cost": C}; C is a relative estimate (a
 * baseline 1, a linear probe 2, a trained variant 1 + its epochs). */
int exp_run_plan(const exp_run_options *o, FILE *out, wb_error *err);

/* The units of the prepared run run_dir that have no part file yet, in index order (*units:
 * malloc'd, *n entries; a part of another run still counts as there: the finish step names it). */
typedef struct exp_run_unit {
    size_t unit;
    int repeat, fold;
    size_t variant;
    double cost;
} exp_run_unit;
int exp_run_pending(const char *run_dir, exp_run_unit **units, size_t *n, wb_error *err);

/* Unit K of (repeat r, fold f, variant v): (r * folds + f) * n_variants + v. */
size_t exp_run_unit_index(int r, int f, size_t v, int folds, size_t n_variants);

/* The run directory a run of cfg started at stamp gets: RUNS_DIR/<name>-<stamp>-<the first 4
 * bytes of the resolved config's SHA-256, hex> (a run started in the same second as another
 * of the same config gets -2, -3, ... on top). */
struct exp_config;
int exp_run_dir_name(const struct exp_config *cfg, const char *runs_dir, const char *stamp, char *out, size_t n,
                     wb_error *err);

/* "YYYYmmddTHHMMSSZ": fixed if not NULL, otherwise the current UTC time. */
void exp_run_stamp(const char *fixed, char out[32]);

#endif
