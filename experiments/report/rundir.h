/* rundir.h — the run directory's schema: its file names and what metrics.json must hold.
 * experiments/run.c writes these files; report.c and registry.c read them, and both check
 * metrics.json with exp_rundir_check_metrics first, so a key a reader relies on that is
 * missing (a run of another version, a hand-edited file) is an error naming the file and the
 * key, never an "n/a" in a report. docs/runs.md describes every file.
 *
 *     io_json_doc d;   // parsed DIR/metrics.json
 *     if (exp_rundir_check_metrics(&d, "runs/x/metrics.json", &err) != 0)
 *         ...;        // err.file = the path, err.key = e.g. "variants[1].repeats[0].image.auc"
 */
#ifndef EXP_RUNDIR_H
#define EXP_RUNDIR_H

#include "base/wb_error.h"
#include "io/io_json.h"

#define EXP_RD_CONFIG "config.yaml"
#define EXP_RD_ENVIRONMENT "environment.json"
#define EXP_RD_MANIFEST "manifest.csv"
#define EXP_RD_EXCLUDED "excluded.csv"
#define EXP_RD_FOLDS "folds.csv"
#define EXP_RD_PREDICTIONS "predictions.csv"
#define EXP_RD_CURVES "curves.csv"
#define EXP_RD_PROBE "probe.csv"
#define EXP_RD_TIMING "timing.csv"
#define EXP_RD_METRICS_JSON "metrics.json"
#define EXP_RD_METRICS_CSV "metrics.csv"
#define EXP_RD_LOG "run.log"
#define EXP_RD_PARTS "parts"

/* metrics.json's "schema_version". */
#define EXP_RD_SCHEMA_VERSION 1

/* The largest JSON file of a run directory a reader accepts (metrics.json, environment.json). */
#define EXP_RD_JSON_MAX (64u << 20)

/* Checks that metrics.json (d, read from path) has every member its readers use: the root's
 * schema_version (EXP_RD_SCHEMA_VERSION), name, data.images, data.patients, cv.folds,
 * cv.repeats, reference and variants; each variant's name, type, trainable_params and repeats;
 * each repeat's number and its "image" (and, for binary runs, "breast") object with every
 * metric of the run's table (eval/summary.h: exp_metric_names without the threshold for
 * binary runs, exp_mc_fixed_names for multi-class runs, those with "classes"), each a number
 * or null. WB_E_DATA naming path and the key's full path otherwise. */
int exp_rundir_check_metrics(const io_json_doc *d, const char *path, wb_error *err);

#endif
