/* run_jobs.h — a run's units as worker processes on one machine (workbench run --jobs N).
 *
 *     exp_run_options o = {.config = "configs/demo.yaml", .runs_dir = "runs", .progress = 1};
 *     char dir[4096];
 *     if (run_jobs(&o, 4, 1, dir, sizeof dir, &err) != 0) ...;   // 4 processes, 1 thread each
 *
 * Prepares the run in this process, runs every unit without a part as its own process
 * (`workbench run --unit K RUN_DIR`, the longest first, at most jobs at a time, each unit's
 * output in RUN_DIR/logs/unit-K.log), then finishes it here. A failed unit stops new ones
 * from starting; the error names it and its log. The files come out byte-identical to a
 * one-process run with the same threads per unit.
 */
#ifndef WB_RUN_JOBS_H
#define WB_RUN_JOBS_H

#include <stddef.h>

#include "base/wb_error.h"
#include "experiments/run.h"

/* threads_per_job 0: the config's threads. o->resume_dir continues a run. */
int run_jobs(const exp_run_options *o, int jobs, int threads_per_job, char *dir, size_t dir_n, wb_error *err);

/* Parses a unit list "K", "K-L", "K,L-M,..." (at most cap entries, each < 10^7). */
int run_parse_units(const char *spec, size_t *units, size_t cap, size_t *n, wb_error *err);

#endif
