/* summary.c — the metric tables of one set of predictions. See summary.h. */
#include "experiments/eval/summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/eval/metrics.h"

/* qsort has no context argument: the dataset and item list of the current sort. */
static const exp_dataset *g_sort_ds;
static const size_t *g_sort_idx;
/* Orders positions j (into g_sort_idx) by patient id, laterality, then item. The raw id, not
 * the pseudonym: pseudonyms depend on the runs directory's key, and so would the order of the
 * breast-level sums and their last bits. The order itself is never written out. */
static int cmp_breast(const void *a, const void *b)
{
    size_t ia = g_sort_idx[*(const size_t *)a], ib = g_sort_idx[*(const size_t *)b];
    const exp_item *x = &g_sort_ds->items[ia], *y = &g_sort_ds->items[ib];
    int c = strcmp(x->group, y->group);
    if (!c) c = strcmp(x->laterality, y->laterality);
    if (!c) c = (ia > ib) - (ia < ib);
    return c;
}

/* Aggregates image scores to breasts (patient + laterality): P holds K scores per image (row j
 * for item idx[j]; K = 1 for binary, one probability per class for multi-class), bP gets nb
 * rows of K, the mean or the per-score max of the views; a breast's label is the largest label
 * of its views. by, bP and order are caller-allocated (n, n x K, n entries); returns nb, the
 * breasts in the order of patient id and laterality. */
size_t exp_summary_breasts(const exp_dataset *ds, const size_t *idx, const double *P, size_t n, int K, int use_max,
                         int *by, double *bP, size_t *order)
{
    for (size_t j = 0; j < n; j++) order[j] = j;
    g_sort_ds = ds;
    g_sort_idx = idx;
    qsort(order, n, sizeof *order, cmp_breast);
    size_t nb = 0;
    for (size_t j = 0; j < n;) {
        const exp_item *first = &ds->items[idx[order[j]]];
        int y = 0;
        double *row = bP + nb * (size_t)K;
        for (int c = 0; c < K; c++) row[c] = use_max ? -INFINITY : 0;
        size_t k = j;
        for (; k < n; k++) {
            const exp_item *it = &ds->items[idx[order[k]]];
            if (strcmp(it->group, first->group) || strcmp(it->laterality, first->laterality)) break;
            const double *v = P + order[k] * (size_t)K;
            for (int c = 0; c < K; c++) row[c] = use_max ? (v[c] > row[c] ? v[c] : row[c]) : row[c] + v[c];
            y = it->label > y ? it->label : y;
        }
        if (!use_max)
            for (int c = 0; c < K; c++) row[c] /= (double)(k - j);
        by[nb++] = y;
        j = k;
    }
    return nb;
}
/* The multi-class metrics of one set of predictions (y, P n x K), in output order:
 * auc (one-vs-rest macro), auc_ovr_<class> per class, accuracy, balanced_accuracy, f1_macro,
 * log_loss (argmax decides the predicted class), n, n_class_<class>. NaN where undefined. */

void exp_summary_multiclass(const int *y, const double *P, size_t n, int K, int *pred, exp_mc_metrics *m)
{
    wb_error e;
    for (int i = 0; i < EXP_MC_FIXED; i++) m->v[i] = NAN;
    for (int c = 0; c < K; c++) {
        m->auc_c[c] = NAN;
        m->n_c[c] = 0;
    }
    m->v[EXP_MC_N] = (double)n;
    for (size_t i = 0; i < n; i++) m->n_c[y[i]] += 1;
    if (!n) return;
    exp_metrics_auc_ovr(y, P, NULL, n, K, &m->v[EXP_MC_AUC], NULL, &e);
    int *yc = malloc(n * sizeof *yc);
    double *sc = malloc(n * sizeof *sc);
    for (int c = 0; yc && sc && c < K; c++) {
        for (size_t i = 0; i < n; i++) {
            yc[i] = y[i] == c;
            sc[i] = P[i * (size_t)K + (size_t)c];
        }
        if (exp_metrics_auc(yc, sc, NULL, n, &m->auc_c[c], &e) != 0) m->auc_c[c] = NAN;
    }
    free(yc);
    free(sc);
    if (exp_metrics_argmax(P, n, K, pred, &e) == 0) {
        exp_metrics_mc_accuracy(y, pred, n, K, &m->v[EXP_MC_ACC], &e);
        exp_metrics_mc_balanced_accuracy(y, pred, n, K, &m->v[EXP_MC_BACC], &e);
        exp_metrics_mc_f1_macro(y, pred, n, K, &m->v[EXP_MC_F1], &e);
    }
    exp_metrics_log_loss(y, P, n, K, &m->v[EXP_MC_LOGLOSS], &e);
}

/* y, score, n; thr: the decision threshold (chosen on validation data). */
void exp_summary_binary(const int *y, const double *score, size_t n, double thr, double spec, double m[EXP_M_COUNT])
{
    wb_error e;
    for (int i = 0; i < EXP_M_COUNT; i++) m[i] = NAN;
    size_t npos = 0;
    for (size_t i = 0; i < n; i++) npos += (size_t)y[i];
    m[EXP_M_N] = (double)n;
    m[EXP_M_NPOS] = (double)npos;
    m[EXP_M_THRESH] = thr;
    exp_delong d;
    if (exp_metrics_delong(y, score, n, &d, &e) == 0) {
        m[EXP_M_AUC] = d.auc;
        m[EXP_M_AUC_LO] = d.ci_lo;
        m[EXP_M_AUC_HI] = d.ci_hi;
    }
    exp_metrics_average_precision(y, score, NULL, n, &m[EXP_M_AP], &e);
    exp_metrics_brier(y, score, NULL, n, &m[EXP_M_BRIER], &e);
    exp_metrics_ece(y, score, NULL, n, 10, &m[EXP_M_ECE], &e);
    exp_metrics_sens_at_spec(y, score, NULL, n, spec, &m[EXP_M_SENS_AT_SPEC], NULL, &e);
    exp_confusion c;
    if (exp_metrics_confusion(y, score, NULL, n, thr, &c, &e) == 0) {
        m[EXP_M_ACC] = exp_confusion_accuracy(&c);
        m[EXP_M_BACC] = exp_confusion_balanced_accuracy(&c);
        m[EXP_M_SENS] = exp_confusion_sensitivity(&c);
        m[EXP_M_SPEC] = exp_confusion_specificity(&c);
        m[EXP_M_F1] = exp_confusion_f1(&c);
    }
}
/* A threshold from validation data (Youden's J, or the target specificity); 0.5 when the
 * validation set lacks a class. */
double exp_summary_threshold(const int *y, const double *s, size_t n, const char *how, double spec)
{
    wb_error e;
    double t = 0.5;
    if (!strcmp(how, "specificity")) {
        if (exp_metrics_threshold_for_specificity(y, s, NULL, n, spec, &t, &e) != 0) t = 0.5;
    } else if (exp_metrics_threshold_youden(y, s, NULL, n, &t, &e) != 0) {
        t = 0.5;
    }
    return t;
}
/* AUC of one fold's test scores, NaN where undefined: S scores per item, 1 for binary (AUC),
 * K for multi-class (one-vs-rest macro AUC). */
double exp_summary_auc(const int *y, const double *s, size_t n, size_t S, int K)
{
    wb_error e;
    double a = NAN;
    if (S == 1 ? exp_metrics_auc(y, s, NULL, n, &a, &e) != 0 : exp_metrics_auc_ovr(y, s, NULL, n, K, &a, NULL, &e) != 0)
        a = NAN;
    return a;
}
