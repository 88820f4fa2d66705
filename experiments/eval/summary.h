/* summary.h — the metrics of one set of out-of-fold predictions, as a run reports them:
 * breast-level aggregation of image scores, the binary metric table (AUC with its DeLong CI,
 * average precision, thresholded counts, calibration), the multi-class table, the decision
 * threshold chosen on validation data. Built on metrics.h; no I/O.
 *
 *     // given: const int *yval, *ytest; const double *sval, *stest; size_t nval, ntest;
 *     double m[EXP_M_COUNT];
 *     double t = exp_summary_threshold(yval, sval, nval, "youden", 0.9);
 *     exp_summary_binary(ytest, stest, ntest, t, 0.9, m);      // m[EXP_M_AUC], m[EXP_M_F1], ...
 *     printf("AUC %g, F1 %g\n", m[EXP_M_AUC], m[EXP_M_F1]);
 *
 *     // given: const exp_dataset *ds; const size_t *idx; const double *scores; size_t n;
 *     // given: int *by; double *bs; size_t *order;
 *     size_t nb = exp_summary_breasts(ds, idx, scores, n, 1, 0, by, bs, order); // mean of views
 */
#ifndef EXP_SUMMARY_H
#define EXP_SUMMARY_H

#include <stddef.h>

#include "experiments/config/config.h"
#include "experiments/data/dataset.h"

/* The binary metric table, in metrics.csv order; the run directory's schema names entry q
 * (experiments/report/rundir.h: exp_rd_metric_names[q]). */
enum { EXP_M_AUC, EXP_M_AUC_LO, EXP_M_AUC_HI, EXP_M_AP, EXP_M_ACC, EXP_M_BACC, EXP_M_SENS, EXP_M_SPEC, EXP_M_SENS_AT_SPEC, EXP_M_F1, EXP_M_BRIER, EXP_M_ECE, EXP_M_THRESH, EXP_M_N, EXP_M_NPOS, EXP_M_COUNT };

/* y, score, n; thr: the decision threshold (chosen on validation data); spec: the target
 * specificity of sensitivity_at_specificity. Entries undefined on these data are NaN. */
void exp_summary_binary(const int *y, const double *score, size_t n, double thr, double spec, double m[EXP_M_COUNT]);

/* A threshold from validation data: how "specificity" (the threshold reaching spec) or
 * Youden's J otherwise; 0.5 when the validation set lacks a class. */
double exp_summary_threshold(const int *y, const double *s, size_t n, const char *how, double spec);

/* The multi-class table: auc (one-vs-rest macro), per-class one-vs-rest AUCs, accuracy,
 * balanced_accuracy, f1_macro, log_loss (argmax decides the class; pred gets it, n entries),
 * n, per-class counts (the fixed entries named by rundir.h's exp_rd_mc_fixed_names). NaN where
 * undefined. */
enum { EXP_MC_AUC = 0, EXP_MC_ACC = 1, EXP_MC_BACC = 2, EXP_MC_F1 = 3, EXP_MC_LOGLOSS = 4, EXP_MC_N = 5, EXP_MC_FIXED = 6 };
typedef struct exp_mc_metrics {
    double v[EXP_MC_FIXED];
    double auc_c[EXP_CONFIG_MAX_CLASSES];
    double n_c[EXP_CONFIG_MAX_CLASSES];
} exp_mc_metrics;
void exp_summary_multiclass(const int *y, const double *P, size_t n, int K, int *pred, exp_mc_metrics *m);

/* AUC of one fold's test scores, NaN where undefined: S scores per item, 1 for binary (AUC),
 * K for multi-class (one-vs-rest macro AUC). */
double exp_summary_auc(const int *y, const double *s, size_t n, size_t S, int K);

/* Aggregates image scores to breasts (patient + laterality): P holds K scores per image (row j
 * for item idx[j]; K = 1 for binary, one probability per class for multi-class), bP gets nb
 * rows of K, the mean or (use_max) the per-score max of the views; a breast's label is the
 * largest label of its views. by, bP and order are caller-allocated (n, n x K, n entries);
 * returns nb, the breasts in the order of patient id and laterality. Not reentrant (qsort
 * without a context argument). */
size_t exp_summary_breasts(const exp_dataset *ds, const size_t *idx, const double *P, size_t n, int K, int use_max,
                           int *by, double *bP, size_t *order);

#endif
