/* registry.h — every run recorded in an SQLite database (default RUNS_DIR/registry.sqlite).
 *
 *     // given: const char *dir;
 *     exp_registry *reg;
 *     if (exp_registry_open("runs/registry.sqlite", &reg, &err) != 0) ...;
 *     long long id;
 *     exp_registry_start(reg, &(exp_registry_run){.dir = dir, .name = "demo"}, &id, &err);
 *     ...                                                   // the run
 *     exp_registry_finish(reg, id, dir, NULL, &err);        // reads dir's metrics.json
 *     // or exp_registry_finish(reg, id, dir, "cannot read labels.csv: ...", &err) -> failed
 *     exp_registry_close(reg);
 *
 * Tables (docs/reports.md): runs (id, run, dir, name, status running|finished|failed, start and
 * end time UTC, config/manifest/weights hashes, git revision, host, pid, error, the resolved
 * config text; schema 2: kind cv|external_validation, source_id, source_run, cohort) and metrics (run id, variant, repeat, level, metric, value: every number of
 * metrics.json's pooled results). WAL journal, every change one transaction, a 30 s busy
 * timeout, so concurrent runs and a killed process leave a consistent database. A run whose
 * process ended without finishing (killed, power cut) stays "running" until the next list or
 * show on its host finds its pid gone and marks it failed.
 */
#ifndef EXP_REGISTRY_H
#define EXP_REGISTRY_H

#include <stdio.h>

#include "base/wb_error.h"

typedef struct exp_registry exp_registry;

typedef struct exp_registry_run {
    const char *dir;          /* the run directory (its last component is the run's unique name) */
    const char *name;         /* the experiment's name from the config */
    const char *config_hash;  /* SHA-256 hex of the resolved config */
    const char *weights_hash; /* SHA-256 hex of the weights file, or "" */
    const char *git_revision;
    const char *config_text;  /* the resolved config (for compare) */
    int detached;             /* no process owns the run until it finishes (a prepared run whose
                               * units run elsewhere): recorded without a pid, never reaped */
    const char *kind;         /* NULL or "cv": a run; "external_validation": a `workbench predict`
                               * (dir: its output directory; name: the bundle's) */
    const char *source_run;   /* external_validation: the directory name of the run that made the
                               * bundle; linked to that run's row (source_id) when the registry has it */
    const char *cohort;       /* external_validation: the cohort (labels CSV or config) as given */
} exp_registry_run;

/* Opens (creating if needed) the database at path; its directory must exist. */
int exp_registry_open(const char *path, exp_registry **out, wb_error *err);
/* exp_registry_open for a command that writes the registry before it writes anything else
 * (run, predict): the same, with what it says on failure told that `what` ("the run") was not
 * started and how to go on (--registry DB, --registry none). */
int exp_registry_open_first(const char *path, const char *what, exp_registry **out, wb_error *err);
/* Opens an existing registry for list/show/compare: nothing is created and no schema is
 * written, so it works on a read-only file system or in another user's runs directory (then
 * read-only, and exp_registry_reap does nothing). Errors: WB_E_IO (cannot read), WB_E_DATA
 * (not a registry). */
int exp_registry_open_read(const char *path, exp_registry **out, wb_error *err);
void exp_registry_close(exp_registry *reg);

/* Records a started run (status running), or a resumed one again; *id is its registry id. */
int exp_registry_start(exp_registry *reg, const exp_registry_run *run, long long *id, wb_error *err);
/* The id of the run in directory dir; WB_E_DATA naming dir when the registry has none. */
int exp_registry_find(exp_registry *reg, const char *dir, long long *id, wb_error *err);
/* Ends run id: with error == NULL as finished, storing the pooled metrics of dir/metrics.json
 * and the SHA-256 of dir/manifest.csv; otherwise as failed with the error text. */
int exp_registry_finish(exp_registry *reg, long long id, const char *dir, const char *error, wb_error *err);

/* The registry id of the run an external validation id was made from (its source_id), 0 when
 * it is not linked (the source run is not in this registry), -1 on a read error. */
long long exp_registry_source(exp_registry *reg, long long id);

/* Marks running runs of this host whose process is gone as failed; returns how many. */
int exp_registry_reap(exp_registry *reg, wb_error *err);

/* `workbench runs list|show|compare`: text to out. name_glob and status may be NULL. An id
 * is the number from list, or a run directory name. compare of one id: a run with all its
 * external validations, or an external validation with its source run; when any compared
 * row is an external validation, compare shows internal CV (pooled out-of-fold, repeat 1)
 * against the external results, metric by metric (AUC with its 95% CI, sensitivity and
 * specificity at the threshold, Brier, ECE, n) instead of the config differences. */
int exp_registry_list(exp_registry *reg, const char *name_glob, const char *status, FILE *out, wb_error *err);
int exp_registry_show(exp_registry *reg, const char *id, FILE *out, wb_error *err);
int exp_registry_compare(exp_registry *reg, const char *const *ids, int n, FILE *out, wb_error *err);

#endif
