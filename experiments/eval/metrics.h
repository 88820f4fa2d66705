/* metrics.h — binary and one-vs-rest classification metrics, DeLong's AUC variance and test,
 * and the corrected resampled t-test. Pure computation: no I/O, no global state.
 *
 *     // given: const int *y, *yval, *ytest; const double *score, *sval, *stest; size_t n, nval, ntest;
 *     wb_error err = {0};
 *     double auc;
 *     if (exp_metrics_auc(y, score, NULL, n, &auc, &err) != 0)   // y[i] in {0,1}
 *         return -1;                                            // e.g. "only one class"
 *     exp_delong d;
 *     exp_metrics_delong(y, score, n, &d, &err);               // d.auc, d.var, d.ci_lo, d.ci_hi
 *     double t = 0.5;
 *     exp_metrics_threshold_youden(yval, sval, NULL, nval, &t, &err); // chosen on validation
 *     exp_confusion c;
 *     exp_metrics_confusion(ytest, stest, NULL, ntest, t, &c, &err);  // score >= t is positive
 *     double sens = exp_confusion_sensitivity(&c), f1 = exp_confusion_f1(&c);
 *
 * Conventions shared by every function here (docs/metrics.md has the definitions):
 * - y[i] is the label, 0 (negative) or 1 (positive); score[i] a finite real (higher means more
 *   likely positive); w[i] an optional non-negative finite sample weight (NULL: all 1).
 * - A prediction at threshold t is positive when score >= t.
 * - Every function returns 0, or -1 with err filled (WB_E_DATA for unusable input such as a
 *   label outside {0,1}, a NaN score, or a metric undefined because only one class is present;
 *   WB_E_NOMEM; WB_E_USAGE for a bad argument). Nothing aborts and no NaN is returned.
 * - Results match scikit-learn 1.2 on the same inputs (tests/experiments/ checks them).
 */
#ifndef EXP_METRICS_H
#define EXP_METRICS_H

#include <stddef.h>

#include "base/wb_error.h"

/* ------------------------------------------------------------------ threshold-free metrics */

/* Area under the ROC curve, like sklearn.metrics.roc_auc_score(y, score, sample_weight=w):
 * trapezoids between the ROC points at every distinct score, so tied scores count one half.
 * Fails (WB_E_DATA) unless both classes have positive total weight. */
int exp_metrics_auc(const int *y, const double *score, const double *w, size_t n, double *auc,
                    wb_error *err);

/* Average precision, like sklearn.metrics.average_precision_score: sum over the distinct
 * scores (descending) of (R_k - R_{k-1}) * P_k, no interpolation. Fails without positives. */
int exp_metrics_average_precision(const int *y, const double *score, const double *w, size_t n,
                                  double *ap, wb_error *err);

/* Brier score, like sklearn.metrics.brier_score_loss: weighted mean of (score - y)^2.
 * Scores must be probabilities in [0, 1]. */
int exp_metrics_brier(const int *y, const double *score, const double *w, size_t n,
                      double *brier, wb_error *err);

/* Expected calibration error with n_bins equal-width bins on [0, 1] (bin b holds scores in
 * [b/n_bins, (b+1)/n_bins), the last bin also 1.0; index = min(floor(score*n_bins), n_bins-1)):
 * sum over non-empty bins of (W_b / W) * |mean score in b - fraction positive in b|, means and
 * fractions weighted by w. The usual choice is n_bins = 10. Scores must lie in [0, 1]. */
int exp_metrics_ece(const int *y, const double *score, const double *w, size_t n, int n_bins,
                    double *ece, wb_error *err);

/* One-vs-rest macro ROC AUC for K >= 2 classes, like roc_auc_score(y, P,
 * multi_class='ovr', average='macro', sample_weight=w): the mean over classes c of the AUC of
 * (y == c) against score[i*K + c]. y[i] in 0..K-1; score is n x K row-major. Fails if a class
 * has no sample. per_class (may be NULL) receives the K per-class AUCs. (scikit-learn also
 * insists that each row sums to 1; this function does not.) */
int exp_metrics_auc_ovr(const int *y, const double *score, const double *w, size_t n, int K,
                        double *macro_auc, double *per_class, wb_error *err);

/* --------------------------------------------------------------------- multi-class (K >= 2) */

/* The predicted class of each of n rows of P (n x K, row-major): the index of the row's
 * largest value, the first one on ties (numpy.argmax). pred has n entries, caller-allocated.
 * Fails (WB_E_DATA) on a non-finite value. */
int exp_metrics_argmax(const double *P, size_t n, int K, int *pred, wb_error *err);

/* Unweighted multi-class metrics of labels y[i] and predicted classes pred[i], both in 0..K-1:
 * - accuracy: share of pred == y (accuracy_score);
 * - balanced accuracy: mean over the classes present in y of their recall
 *   (balanced_accuracy_score, which ignores classes only predicted);
 * - macro F1: mean over the classes present in y or in pred of 2TP/(2TP+FP+FN)
 *   (f1_score(average='macro'), whose labels are the union of both). */
int exp_metrics_mc_accuracy(const int *y, const int *pred, size_t n, int K, double *acc, wb_error *err);
int exp_metrics_mc_balanced_accuracy(const int *y, const int *pred, size_t n, int K, double *bacc,
                                     wb_error *err);
int exp_metrics_mc_f1_macro(const int *y, const int *pred, size_t n, int K, double *f1, wb_error *err);

/* Multi-class log loss (cross-entropy), like sklearn.metrics.log_loss(y, P, labels=range(K))
 * in scikit-learn 1.2: P clipped to [eps, 1 - eps] with eps = DBL_EPSILON, each row divided
 * by its sum, then the mean of -log P[i, y[i]]. P is n x K; rows need not sum to 1 exactly. */
int exp_metrics_log_loss(const int *y, const double *P, size_t n, int K, double *loss, wb_error *err);

/* ------------------------------------------------------------------------------- curves */

/* A curve of npoints points; x, y, thr each hold npoints values. Caller-owned: zero it with
 * exp_curve_init, release the arrays with exp_curve_free. */
typedef struct exp_curve {
    size_t npoints;
    double *x;   /* ROC: false positive rate;  PR: recall */
    double *y;   /* ROC: true positive rate;   PR: precision */
    double *thr; /* the threshold of each point (score >= thr is positive) */
} exp_curve;

void exp_curve_init(exp_curve *c);
void exp_curve_free(exp_curve *c); /* frees the arrays and re-inits; NULL is a no-op */

/* ROC curve like sklearn.metrics.roc_curve(y, score, sample_weight=w,
 * drop_intermediate=drop_intermediate): the first point is (0, 0) with thr = +INFINITY
 * (scikit-learn 1.2 writes max(score) + 1 there; >= 1.3 writes inf), then one point per
 * distinct score in decreasing order. With drop_intermediate != 0, points collinear with
 * their neighbours are dropped exactly as scikit-learn does (the area is unchanged).
 * Fills *roc (previous contents are freed). Fails unless both classes are present. */
int exp_metrics_roc_curve(const int *y, const double *score, const double *w, size_t n,
                          int drop_intermediate, exp_curve *roc, wb_error *err);

/* Precision-recall curve like sklearn.metrics.precision_recall_curve: one point per distinct
 * score in increasing order of threshold (decreasing recall), then the final point
 * (recall 0, precision 1) with thr = +INFINITY (scikit-learn returns one threshold fewer than
 * points; the extra one here keeps the three arrays the same length). Fails without positives. */
int exp_metrics_pr_curve(const int *y, const double *score, const double *w, size_t n,
                         exp_curve *pr, wb_error *err);

/* ------------------------------------------------------------------------ at a threshold */

/* Weighted confusion counts at threshold t (score >= t is positive). */
typedef struct exp_confusion {
    double tp, fp, tn, fn;
} exp_confusion;

int exp_metrics_confusion(const int *y, const double *score, const double *w, size_t n,
                          double t, exp_confusion *c, wb_error *err);

/* Derived rates. A rate whose denominator is 0 is 0, as scikit-learn's zero_division
 * default gives (accuracy_score, recall_score, f1_score, balanced_accuracy_score).
 * sensitivity = TP/(TP+FN) (recall), specificity = TN/(TN+FP), precision = TP/(TP+FP),
 * accuracy = (TP+TN)/all, balanced accuracy = (sensitivity + specificity)/2 — for a data set
 * with only one class scikit-learn averages over the classes present; so does this —
 * F1 = 2TP/(2TP+FP+FN). */
double exp_confusion_sensitivity(const exp_confusion *c);
double exp_confusion_specificity(const exp_confusion *c);
double exp_confusion_precision(const exp_confusion *c);
double exp_confusion_accuracy(const exp_confusion *c);
double exp_confusion_balanced_accuracy(const exp_confusion *c);
double exp_confusion_f1(const exp_confusion *c);

/* Sensitivity at a fixed specificity: the best achievable operating point, i.e. the largest
 * TPR over the ROC points (thresholds at the distinct scores, and +INFINITY) whose
 * specificity 1 - FPR is >= target_spec - 1e-12. No interpolation between points.
 * *threshold (may be NULL) receives that point's threshold: the largest one reaching the
 * maximal sensitivity. target_spec in [0, 1]. Fails unless both classes are present. */
int exp_metrics_sens_at_spec(const int *y, const double *score, const double *w, size_t n,
                             double target_spec, double *sens, double *threshold,
                             wb_error *err);

/* Threshold choice (on validation data, never the test fold). Candidates are the distinct
 * scores, a candidate t meaning "score >= t is positive".
 * - youden: maximises J = sensitivity + specificity - 1; among equal J the largest t.
 * - for_sensitivity: the largest t whose sensitivity >= target - 1e-12 (the most specific
 *   threshold that still reaches the target sensitivity).
 * - for_specificity: the smallest t whose specificity >= target - 1e-12 (the most sensitive
 *   threshold that keeps the target specificity); +INFINITY if only that one does.
 * Fail unless both classes are present. */
int exp_metrics_threshold_youden(const int *y, const double *score, const double *w, size_t n,
                                 double *threshold, wb_error *err);
int exp_metrics_threshold_for_sensitivity(const int *y, const double *score, const double *w,
                                          size_t n, double target, double *threshold,
                                          wb_error *err);
int exp_metrics_threshold_for_specificity(const int *y, const double *score, const double *w,
                                          size_t n, double target, double *threshold,
                                          wb_error *err);

/* ------------------------------------------------------------------------------ DeLong */

/* One AUC with DeLong's variance (DeLong, DeLong & Clarke-Pearson 1988), computed with the
 * midrank algorithm of Sun & Xu (2014), O(n log n). Unweighted. ci_lo/ci_hi are
 * auc -/+ 1.959963984540054 * sqrt(var), clipped to [0, 1]. Needs >= 2 positives and
 * >= 2 negatives (the variance divides by m-1 and n-1). */
typedef struct exp_delong {
    double auc;
    double var;   /* variance of the AUC estimate */
    double ci_lo; /* 95% confidence interval */
    double ci_hi;
    size_t n_pos, n_neg;
} exp_delong;

int exp_metrics_delong(const int *y, const double *score, size_t n, exp_delong *out,
                       wb_error *err);

/* Paired DeLong test of two correlated AUCs: two scores (a and b) for the same n cases.
 * z = (auc_a - auc_b) / sqrt(var_a + var_b - 2 cov_ab), p two-sided from the normal
 * distribution. When the variance of the difference is 0 (e.g. identical rankings) and the
 * AUCs are equal, z = 0 and p = 1. */
typedef struct exp_delong_paired {
    double auc_a, auc_b;
    double var_a, var_b, cov;
    double diff;  /* auc_a - auc_b */
    double var_diff;
    double diff_ci_lo, diff_ci_hi; /* 95% CI of the difference (not clipped) */
    double z, p;
} exp_delong_paired;

int exp_metrics_delong_paired(const int *y, const double *score_a, const double *score_b,
                              size_t n, exp_delong_paired *out, wb_error *err);

/* ---------------------------------------------------------------- across-fold comparison */

/* Corrected resampled t-test (Nadeau & Bengio 2003; Bouckaert & Frank 2004) comparing two
 * methods over k = folds x repeats train/test splits: d_j = a[j] - b[j] (e.g. per-fold AUCs),
 * t = mean(d) / sqrt((1/k + n_test/n_train) * var(d)) with var's divisor k-1, df = k-1,
 * p two-sided from Student's t. n_train/n_test are the (average) training and test set sizes.
 * Needs k >= 2. If var(d) = 0: t = 0 and p = 1 when mean(d) = 0, otherwise an error. */
typedef struct exp_ttest {
    double mean_diff, var_diff;
    double t, p;
    double df;
} exp_ttest;

int exp_metrics_ttest_corrected(const double *a, const double *b, size_t k, double n_train,
                                double n_test, exp_ttest *out, wb_error *err);

/* Student's t cumulative distribution P(T <= t) with df > 0 degrees of freedom, through the
 * regularised incomplete beta function. Returns NaN for df <= 0 or NaN input. */
double exp_metrics_t_cdf(double t, double df);

/* Regularised incomplete beta I_x(a, b) for a, b > 0 and x in [0, 1] (continued fraction,
 * relative accuracy about 1e-14). NaN outside the domain. */
double exp_metrics_betainc(double a, double b, double x);

/* Standard normal CDF. */
double exp_metrics_normal_cdf(double z);

#endif
