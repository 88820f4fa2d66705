/* rundir.h — the run directory's schema: its file names, predictions.csv's and metrics.csv's
 * columns, metrics.json's keys, the metric tables, and what metrics.json must hold.
 * experiments/run.c writes these files (one writer whatever the number of classes) and
 * report.c, registry.c and bundle.c (workbench predict) read them by these names. report.c
 * and registry.c check metrics.json with exp_rundir_check_metrics first, so a key a reader relies on that is
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
#include "experiments/eval/summary.h"
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
/* a patch run's (run_patch.c): its patches, the whole images' scores and heat-map maxima */
#define EXP_RD_PATCHES "patches.csv"
#define EXP_RD_PREDICTIONS_IMAGE "predictions_image.csv"
#define EXP_RD_HEATMAPS "heatmaps.csv"

/* metrics.json's "schema_version". */
#define EXP_RD_SCHEMA_VERSION 1

/* The largest JSON file of a run directory a reader accepts (metrics.json, environment.json). */
#define EXP_RD_JSON_MAX (64u << 20)

/* ---- predictions.csv: one row per (repeat, variant, item), out of fold ---- */

/* The columns every run has, in order; then a binary run's score and threshold (the fold's
 * validation-chosen threshold), or a multi-class run's score_<class> per class (in the
 * config's class order) and the predicted (most probable) class. */
#define EXP_RD_PRED_ITEM_COLUMNS "repeat,fold,variant,sop_instance_uid,patient,laterality,view,label"
#define EXP_RD_COL_REPEAT "repeat"
#define EXP_RD_COL_FOLD "fold"
#define EXP_RD_COL_VARIANT "variant"
#define EXP_RD_COL_SOP_UID "sop_instance_uid"
#define EXP_RD_COL_PATIENT "patient"
#define EXP_RD_COL_LATERALITY "laterality"
#define EXP_RD_COL_VIEW "view"
#define EXP_RD_COL_LABEL "label"
#define EXP_RD_COL_SCORE "score"
#define EXP_RD_COL_THRESHOLD "threshold"
#define EXP_RD_COL_SCORE_PREFIX "score_"
#define EXP_RD_COL_PREDICTED "predicted"

/* ---- the other tables' columns ---- */

#define EXP_RD_MANIFEST_COLUMNS "file,sop_instance_uid,sha256,label,patient,laterality,view,format"
#define EXP_RD_EXCLUDED_COLUMNS "file,reason"
#define EXP_RD_FOLDS_COLUMNS "repeat,fold,sop_instance_uid,patient"
#define EXP_RD_CURVES_COLUMNS "repeat,fold,variant,epoch,train_loss,val_auc,lr,best"
#define EXP_RD_PROBE_COLUMNS "repeat,fold,variant,C,val_log_loss,val_auc,chosen"
#define EXP_RD_TIMING_COLUMNS "repeat,fold,variant,seconds"
#define EXP_RD_COL_EPOCH "epoch"
#define EXP_RD_COL_TRAIN_LOSS "train_loss"
#define EXP_RD_COL_VAL_AUC "val_auc"
#define EXP_RD_COL_SECONDS "seconds"

/* ---- metrics.csv: one row per (repeat, fold or "pooled", variant, level, metric) ---- */

#define EXP_RD_METRICS_CSV_COLUMNS "repeat,fold,variant,level,metric,value,ci_low,ci_high"
#define EXP_RD_COL_LEVEL "level"
#define EXP_RD_COL_METRIC "metric"
#define EXP_RD_COL_VALUE "value"
#define EXP_RD_POOLED "pooled"

/* ---- metrics.json's keys ---- */

/* root */
#define EXP_RD_K_SCHEMA_VERSION "schema_version"
#define EXP_RD_K_NAME "name"
#define EXP_RD_K_CLASSES "classes"   /* multi-class runs only: the class names in order */
#define EXP_RD_K_DATA "data"
#define EXP_RD_K_CV "cv"
#define EXP_RD_K_REFERENCE "reference"
#define EXP_RD_K_VARIANTS "variants"
#define EXP_RD_K_WHOLE_IMAGE "whole_image" /* patch runs: the whole-image scoring (run_patch.c) */
/* data */
#define EXP_RD_K_IMAGES "images"
#define EXP_RD_K_PATIENTS "patients"
#define EXP_RD_K_POSITIVE_IMAGES "positive_images" /* binary */
#define EXP_RD_K_CLASS_IMAGES "class_images"       /* multi-class: {class: images} */
#define EXP_RD_K_EXCLUDED "excluded"
#define EXP_RD_K_NON_DICOM "non_dicom_images"
#define EXP_RD_K_FORMATS "formats"
#define EXP_RD_K_TASK "task"
#define EXP_RD_K_LESION_PATCHES "lesion_patches"
#define EXP_RD_K_BACKGROUND_PATCHES "background_patches"
#define EXP_RD_K_SOURCE_IMAGES "source_images"
/* cv */
#define EXP_RD_K_FOLDS "folds"
#define EXP_RD_K_REPEATS "repeats" /* also a variant's array of repeats */
#define EXP_RD_K_SEED "seed"
/* a variant (EXP_RD_K_NAME, then these) */
#define EXP_RD_K_TYPE "type"
#define EXP_RD_K_TRAINABLE_PARAMS "trainable_params"
#define EXP_RD_K_TRAINABLE_STAGES "trainable_stages"
#define EXP_RD_K_SWEEP_GROUP "sweep_group"
#define EXP_RD_K_PROBE "probe"
#define EXP_RD_K_C_GRID "C_grid"
#define EXP_RD_K_CHOSEN_C "chosen_C"
/* a repeat: its number, then one metrics object per level */
#define EXP_RD_K_REPEAT "repeat"
#define EXP_RD_LEVEL_IMAGE "image"
#define EXP_RD_LEVEL_BREAST "breast"
/* in a level's object beside the metrics: the comparison with the reference variant */
#define EXP_RD_K_VS_REFERENCE "vs_reference"
#define EXP_RD_K_DELTA_AUC "delta_auc"
#define EXP_RD_K_DELTA_CI_LOW "delta_ci_low"
#define EXP_RD_K_DELTA_CI_HIGH "delta_ci_high"
#define EXP_RD_K_DELONG_Z "delong_z"
#define EXP_RD_K_DELONG_P "delong_p"
#define EXP_RD_K_TTEST_MEAN_DIFF "ttest_mean_diff"
#define EXP_RD_K_TTEST_T "ttest_t"
#define EXP_RD_K_TTEST_P "ttest_p"

/* ---- the metric tables: a level object's keys and metrics.csv's metric column ---- */

/* The binary table, entry q of eval/summary.h's EXP_M_* (exp_rd_metric_names[q]). A level
 * object holds every entry but the threshold (one per fold, in predictions.csv); metrics.csv
 * gives the AUC's CI bounds in its ci_low / ci_high columns, not as rows. */
#define EXP_RD_M_AUC "auc"
#define EXP_RD_M_AUC_CI_LOW "auc_ci_low"
#define EXP_RD_M_AUC_CI_HIGH "auc_ci_high"
#define EXP_RD_M_AP "average_precision"
#define EXP_RD_M_ACCURACY "accuracy"
#define EXP_RD_M_BALANCED_ACCURACY "balanced_accuracy"
#define EXP_RD_M_SENSITIVITY "sensitivity"
#define EXP_RD_M_SPECIFICITY "specificity"
#define EXP_RD_M_SENS_AT_SPEC "sensitivity_at_specificity"
#define EXP_RD_M_F1 "f1"
#define EXP_RD_M_BRIER "brier"
#define EXP_RD_M_ECE "ece"
#define EXP_RD_M_THRESHOLD "threshold"
#define EXP_RD_M_N "n"
#define EXP_RD_M_N_POSITIVE "n_positive"
extern const char *const exp_rd_metric_names[EXP_M_COUNT];

/* The multi-class table, in output order: auc (one-vs-rest macro), auc_ovr_<class> per class,
 * then the fixed entries EXP_MC_ACC .. EXP_MC_N of eval/summary.h (exp_rd_mc_fixed_names[q];
 * entry EXP_MC_AUC is "auc"), then n_class_<class> per class. */
#define EXP_RD_M_F1_MACRO "f1_macro"
#define EXP_RD_M_LOG_LOSS "log_loss"
#define EXP_RD_M_AUC_OVR_PREFIX "auc_ovr_"
#define EXP_RD_M_N_CLASS_PREFIX "n_class_"
extern const char *const exp_rd_mc_fixed_names[EXP_MC_FIXED];

/* The values metric name can take, for readers of run files: [*lo, *hi], *whole when it is a
 * count. AUCs (and their CIs, clipped), rates, AP, F1, Brier, ECE and p-values lie in [0, 1],
 * ΔAUC in [-1, 1], a log loss in [0, inf), n, n_positive and n_class_<class> are whole numbers
 * from 0. Returns 0 for a name with no range of its own (threshold, ΔAUC's CI, delong_z, the t
 * statistics, names that are not metrics): those need only be finite. */
int exp_rd_metric_range(const char *name, double *lo, double *hi, int *whole);

/* Checks that metrics.json (d, read from path) has every member its readers use: the root's
 * schema_version (EXP_RD_SCHEMA_VERSION), name, data.images, data.patients, cv.folds,
 * cv.repeats, reference and variants; each variant's name, type, trainable_params and repeats;
 * each repeat's number and its "image" (and, for binary runs, "breast") object with every
 * metric of the run's table (exp_rd_metric_names without the threshold for
 * binary runs, exp_rd_mc_fixed_names for multi-class runs, those with "classes"), each a number
 * or null; and that every number anywhere in the file under a metric's name is in that
 * metric's range (exp_rd_metric_range), n_positive at most n. WB_E_DATA naming path and the
 * key's full path otherwise. */
int exp_rundir_check_metrics(const io_json_doc *d, const char *path, wb_error *err);

#endif
