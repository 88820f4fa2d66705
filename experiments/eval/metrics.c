/* metrics.c — see metrics.h. docs/metrics.md has the definitions and references. */
#include "experiments/eval/metrics.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define Z975 1.959963984540054 /* the 0.975 quantile of the standard normal */
#define RATE_EPS 1e-12         /* slack when comparing a rate with a target */

/* ---------------------------------------------------------------------------- checking */

static int check_binary(const int *y, const double *score, const double *w, size_t n,
                        int need_prob, wb_error *err)
{
    if (!y || !score)
        return wb_err(err, WB_E_USAGE, NULL, "metrics: labels and scores must not be NULL");
    if (n == 0)
        return wb_err(err, WB_E_DATA, NULL, "metrics: no samples");
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1)
            return wb_err(err, WB_E_DATA, NULL,
                          "metrics: label %d at index %zu: binary labels must be 0 or 1", y[i], i);
        if (!isfinite(score[i]))
            return wb_err(err, WB_E_DATA, NULL, "metrics: score at index %zu is not finite", i);
        if (need_prob && (score[i] < 0.0 || score[i] > 1.0))
            return wb_err(err, WB_E_DATA, NULL,
                          "metrics: score %g at index %zu: a probability in [0, 1] is needed",
                          score[i], i);
        if (w && (!isfinite(w[i]) || w[i] < 0.0))
            return wb_err(err, WB_E_DATA, NULL,
                          "metrics: weight at index %zu is negative or not finite", i);
    }
    return 0;
}

static void class_totals(const int *y, const double *w, size_t n, double *pos, double *neg)
{
    double p = 0.0, q = 0.0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        if (y[i])
            p += wi;
        else
            q += wi;
    }
    *pos = p;
    *neg = q;
}

static int need_both(double pos, double neg, const char *what, wb_error *err)
{
    if (pos <= 0.0 || neg <= 0.0)
        return wb_err(err, WB_E_DATA, NULL,
                      "%s is undefined: only one class is present (%s); it needs both positive "
                      "and negative samples",
                      what, pos <= 0.0 ? "no positives" : "no negatives");
    return 0;
}

/* ------------------------------------------------------------------ sorted cumulative counts */

/* Cumulative weighted true and false positives at each distinct score, scores descending,
 * like scikit-learn's _binary_clf_curve. Arrays have nd entries. */
typedef struct clf_curve {
    size_t nd;
    double *tps, *fps, *thr;
} clf_curve;

/* Sorts the index permutation a[0..n) by score descending, ties by index (stable, so the order
 * is deterministic). A merge sort rather than qsort, which has no context argument in C11. */
static void merge_sort_desc(size_t *a, size_t *tmp, size_t n, const double *s)
{
    if (n < 16) {
        for (size_t i = 1; i < n; i++) {
            size_t v = a[i], j = i;
            while (j > 0 && (s[a[j - 1]] < s[v] || (s[a[j - 1]] == s[v] && a[j - 1] > v))) {
                a[j] = a[j - 1];
                j--;
            }
            a[j] = v;
        }
        return;
    }
    size_t h = n / 2;
    merge_sort_desc(a, tmp, h, s);
    merge_sort_desc(a + h, tmp, n - h, s);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        size_t x = a[i], y = a[j];
        if (s[x] > s[y] || (s[x] == s[y] && x < y))
            tmp[k++] = a[i++];
        else
            tmp[k++] = a[j++];
    }
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

static int order_desc(const double *s, size_t n, size_t **out, wb_error *err)
{
    *out = NULL;
    if (n > SIZE_MAX / (2 * sizeof(size_t)))
        return wb_err(err, WB_E_NOMEM, NULL, "metrics: %zu samples is too many", n);
    size_t *o = malloc(n * sizeof *o), *tmp = malloc(n * sizeof *tmp);
    if (!o || !tmp) {
        free(o);
        free(tmp);
        return wb_err(err, WB_E_NOMEM, NULL, "metrics: out of memory sorting %zu scores", n);
    }
    for (size_t i = 0; i < n; i++)
        o[i] = i;
    merge_sort_desc(o, tmp, n, s);
    free(tmp);
    *out = o;
    return 0;
}

static void clf_curve_free(clf_curve *c)
{
    free(c->tps);
    free(c->fps);
    free(c->thr);
    memset(c, 0, sizeof *c);
}

static int clf_curve_build(const int *y, const double *s, const double *w, size_t n,
                           clf_curve *c, wb_error *err)
{
    memset(c, 0, sizeof *c);
    size_t *o;
    if (order_desc(s, n, &o, err) != 0)
        return -1;
    c->tps = malloc(n * sizeof *c->tps);
    c->fps = malloc(n * sizeof *c->fps);
    c->thr = malloc(n * sizeof *c->thr);
    if (!c->tps || !c->fps || !c->thr) {
        free(o);
        clf_curve_free(c);
        return wb_err(err, WB_E_NOMEM, NULL, "metrics: out of memory for %zu points", n);
    }
    double tp = 0.0, fp = 0.0;
    size_t k = 0;
    for (size_t r = 0; r < n; r++) {
        size_t i = o[r];
        double wi = w ? w[i] : 1.0;
        if (y[i])
            tp += wi;
        else
            fp += wi;
        if (r + 1 == n || s[o[r + 1]] != s[i]) {
            c->tps[k] = tp;
            c->fps[k] = fp;
            c->thr[k] = s[i];
            k++;
        }
    }
    c->nd = k;
    free(o);
    return 0;
}

/* ------------------------------------------------------------------ threshold-free metrics */

int exp_metrics_auc(const int *y, const double *score, const double *w, size_t n, double *auc,
                    wb_error *err)
{
    if (check_binary(y, score, w, n, 0, err) != 0)
        return -1;
    double pos, neg;
    class_totals(y, w, n, &pos, &neg);
    if (need_both(pos, neg, "ROC AUC", err) != 0)
        return -1;
    clf_curve c;
    if (clf_curve_build(y, score, w, n, &c, err) != 0)
        return -1;
    double area = 0.0, tp0 = 0.0, fp0 = 0.0;
    for (size_t k = 0; k < c.nd; k++) {
        area += (c.fps[k] - fp0) * (c.tps[k] + tp0) * 0.5;
        tp0 = c.tps[k];
        fp0 = c.fps[k];
    }
    /* normalise by the curve's own end point, as scikit-learn divides by tps[-1], fps[-1] */
    *auc = area / (tp0 * fp0);
    clf_curve_free(&c);
    return 0;
}

int exp_metrics_average_precision(const int *y, const double *score, const double *w, size_t n,
                                  double *ap, wb_error *err)
{
    if (check_binary(y, score, w, n, 0, err) != 0)
        return -1;
    double pos, neg;
    class_totals(y, w, n, &pos, &neg);
    if (pos <= 0.0)
        return wb_err(err, WB_E_DATA, NULL,
                      "average precision is undefined: there are no positive samples");
    clf_curve c;
    if (clf_curve_build(y, score, w, n, &c, err) != 0)
        return -1;
    double total = c.tps[c.nd - 1], sum = 0.0, r0 = 0.0;
    for (size_t k = 0; k < c.nd; k++) {
        double ps = c.tps[k] + c.fps[k];
        double prec = ps != 0.0 ? c.tps[k] / ps : 0.0;
        double rec = c.tps[k] / total;
        sum += (rec - r0) * prec;
        r0 = rec;
    }
    *ap = sum;
    clf_curve_free(&c);
    return 0;
}

int exp_metrics_brier(const int *y, const double *score, const double *w, size_t n,
                      double *brier, wb_error *err)
{
    if (check_binary(y, score, w, n, 1, err) != 0)
        return -1;
    double sw = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0, d = score[i] - y[i];
        s += wi * d * d;
        sw += wi;
    }
    if (sw <= 0.0)
        return wb_err(err, WB_E_DATA, NULL, "Brier score: the weights sum to 0");
    *brier = s / sw;
    return 0;
}

int exp_metrics_ece(const int *y, const double *score, const double *w, size_t n, int n_bins,
                    double *ece, wb_error *err)
{
    if (n_bins < 1 || n_bins > 100000)
        return wb_err(err, WB_E_USAGE, NULL, "ECE: n_bins is %d, expected 1 .. 100000", n_bins);
    if (check_binary(y, score, w, n, 1, err) != 0)
        return -1;
    double *acc = calloc((size_t)n_bins * 3, sizeof *acc); /* weight, sum score, sum y */
    if (!acc)
        return wb_err(err, WB_E_NOMEM, NULL, "ECE: out of memory");
    double sw = 0.0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        int b = (int)floor(score[i] * n_bins);
        if (b > n_bins - 1)
            b = n_bins - 1;
        acc[3 * b] += wi;
        acc[3 * b + 1] += wi * score[i];
        acc[3 * b + 2] += wi * y[i];
        sw += wi;
    }
    if (sw <= 0.0) {
        free(acc);
        return wb_err(err, WB_E_DATA, NULL, "ECE: the weights sum to 0");
    }
    double e = 0.0;
    for (int b = 0; b < n_bins; b++) {
        double wb = acc[3 * b];
        if (wb > 0.0)
            e += (wb / sw) * fabs(acc[3 * b + 1] / wb - acc[3 * b + 2] / wb);
    }
    free(acc);
    *ece = e;
    return 0;
}

int exp_metrics_auc_ovr(const int *y, const double *score, const double *w, size_t n, int K,
                        double *macro_auc, double *per_class, wb_error *err)
{
    if (!y || !score)
        return wb_err(err, WB_E_USAGE, NULL, "metrics: labels and scores must not be NULL");
    if (K < 2 || K > 100000)
        return wb_err(err, WB_E_USAGE, NULL, "one-vs-rest AUC: %d classes, expected 2 .. 100000",
                      K);
    if (n == 0)
        return wb_err(err, WB_E_DATA, NULL, "metrics: no samples");
    if (n > SIZE_MAX / sizeof(double) / (size_t)K)
        return wb_err(err, WB_E_NOMEM, NULL, "one-vs-rest AUC: too many samples");
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= K)
            return wb_err(err, WB_E_DATA, NULL,
                          "one-vs-rest AUC: label %d at index %zu is outside 0 .. %d", y[i], i,
                          K - 1);
    int *yc = malloc(n * sizeof *yc);
    double *sc = malloc(n * sizeof *sc);
    if (!yc || !sc) {
        free(yc);
        free(sc);
        return wb_err(err, WB_E_NOMEM, NULL, "one-vs-rest AUC: out of memory");
    }
    double sum = 0.0;
    int rc = 0;
    for (int c = 0; c < K && rc == 0; c++) {
        size_t present = 0;
        for (size_t i = 0; i < n; i++) {
            yc[i] = y[i] == c;
            sc[i] = score[i * (size_t)K + (size_t)c];
            present += (size_t)yc[i];
        }
        if (present == 0) {
            rc = wb_err(err, WB_E_DATA, NULL,
                        "one-vs-rest AUC is undefined: class %d has no samples", c);
            break;
        }
        double a;
        rc = exp_metrics_auc(yc, sc, w, n, &a, err);
        if (rc == 0) {
            sum += a;
            if (per_class)
                per_class[c] = a;
        }
    }
    free(yc);
    free(sc);
    if (rc == 0)
        *macro_auc = sum / K;
    return rc;
}

/* --------------------------------------------------------------------- multi-class (K >= 2) */

static int mc_check(const int *y, const int *pred, size_t n, int K, const char *what, wb_error *err)
{
    if (!y || !pred)
        return wb_err(err, WB_E_USAGE, NULL, "%s: labels and predictions must not be NULL", what);
    if (K < 2 || K > 100000)
        return wb_err(err, WB_E_USAGE, NULL, "%s: %d classes, expected 2 .. 100000", what, K);
    if (n == 0)
        return wb_err(err, WB_E_DATA, NULL, "%s: no samples", what);
    for (size_t i = 0; i < n; i++)
        if (y[i] < 0 || y[i] >= K || pred[i] < 0 || pred[i] >= K)
            return wb_err(err, WB_E_DATA, NULL, "%s: label %d / prediction %d at index %zu is outside 0 .. %d",
                          what, y[i], pred[i], i, K - 1);
    return 0;
}

int exp_metrics_argmax(const double *P, size_t n, int K, int *pred, wb_error *err)
{
    if (!P || !pred || K < 1)
        return wb_err(err, WB_E_USAGE, NULL, "argmax: bad arguments");
    for (size_t i = 0; i < n; i++) {
        const double *row = P + i * (size_t)K;
        int best = 0;
        for (int c = 0; c < K; c++) {
            if (!isfinite(row[c]))
                return wb_err(err, WB_E_DATA, NULL, "argmax: non-finite score at row %zu, class %d", i, c);
            if (row[c] > row[best])
                best = c;
        }
        pred[i] = best;
    }
    return 0;
}

int exp_metrics_mc_accuracy(const int *y, const int *pred, size_t n, int K, double *acc, wb_error *err)
{
    if (mc_check(y, pred, n, K, "accuracy", err) != 0)
        return -1;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += y[i] == pred[i];
    *acc = (double)ok / (double)n;
    return 0;
}

/* Per-class counts: true[c], predicted[c], correct[c]. */
static int mc_counts(const int *y, const int *pred, size_t n, int K, size_t **cnt, wb_error *err)
{
    *cnt = calloc(3 * (size_t)K, sizeof **cnt);
    if (!*cnt)
        return wb_err(err, WB_E_NOMEM, NULL, "metrics: out of memory");
    for (size_t i = 0; i < n; i++) {
        (*cnt)[y[i]]++;
        (*cnt)[(size_t)K + (size_t)pred[i]]++;
        (*cnt)[2 * (size_t)K + (size_t)y[i]] += y[i] == pred[i];
    }
    return 0;
}

int exp_metrics_mc_balanced_accuracy(const int *y, const int *pred, size_t n, int K, double *bacc,
                                     wb_error *err)
{
    size_t *c;
    if (mc_check(y, pred, n, K, "balanced accuracy", err) != 0 || mc_counts(y, pred, n, K, &c, err) != 0)
        return -1;
    double sum = 0;
    int present = 0;
    for (int k = 0; k < K; k++)
        if (c[k]) {
            sum += (double)c[2 * (size_t)K + (size_t)k] / (double)c[k];
            present++;
        }
    free(c);
    *bacc = sum / present; /* n > 0, so some class is present */
    return 0;
}

int exp_metrics_mc_f1_macro(const int *y, const int *pred, size_t n, int K, double *f1, wb_error *err)
{
    size_t *c;
    if (mc_check(y, pred, n, K, "macro F1", err) != 0 || mc_counts(y, pred, n, K, &c, err) != 0)
        return -1;
    double sum = 0;
    int used = 0;
    for (int k = 0; k < K; k++) {
        size_t t = c[k], p = c[(size_t)K + (size_t)k], tp = c[2 * (size_t)K + (size_t)k];
        if (!t && !p)
            continue;
        /* 2TP / (2TP + FP + FN) = 2TP / (true + predicted) */
        sum += 2.0 * (double)tp / (double)(t + p);
        used++;
    }
    free(c);
    *f1 = sum / used;
    return 0;
}

int exp_metrics_log_loss(const int *y, const double *P, size_t n, int K, double *loss, wb_error *err)
{
    if (!y || !P)
        return wb_err(err, WB_E_USAGE, NULL, "log loss: labels and scores must not be NULL");
    if (K < 2 || K > 100000)
        return wb_err(err, WB_E_USAGE, NULL, "log loss: %d classes, expected 2 .. 100000", K);
    if (n == 0)
        return wb_err(err, WB_E_DATA, NULL, "log loss: no samples");
    const double eps = DBL_EPSILON;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= K)
            return wb_err(err, WB_E_DATA, NULL, "log loss: label %d at index %zu is outside 0 .. %d", y[i], i, K - 1);
        const double *row = P + i * (size_t)K;
        double rs = 0, py = 0;
        for (int c = 0; c < K; c++) {
            if (!isfinite(row[c]) || row[c] < 0 || row[c] > 1)
                return wb_err(err, WB_E_DATA, NULL, "log loss: score %g at row %zu, class %d is not a probability",
                              row[c], i, c);
            double v = row[c] < eps ? eps : row[c] > 1 - eps ? 1 - eps : row[c];
            rs += v;
            if (c == y[i])
                py = v;
        }
        sum += -log(py / rs);
    }
    *loss = sum / (double)n;
    return 0;
}

/* ------------------------------------------------------------------------------- curves */

void exp_curve_init(exp_curve *c)
{
    if (c)
        memset(c, 0, sizeof *c);
}

void exp_curve_free(exp_curve *c)
{
    if (!c)
        return;
    free(c->x);
    free(c->y);
    free(c->thr);
    memset(c, 0, sizeof *c);
}

static int curve_alloc(exp_curve *c, size_t np, wb_error *err)
{
    exp_curve_free(c);
    c->x = malloc(np * sizeof *c->x);
    c->y = malloc(np * sizeof *c->y);
    c->thr = malloc(np * sizeof *c->thr);
    if (!c->x || !c->y || !c->thr) {
        exp_curve_free(c);
        return wb_err(err, WB_E_NOMEM, NULL, "metrics: out of memory for a %zu-point curve", np);
    }
    c->npoints = np;
    return 0;
}

int exp_metrics_roc_curve(const int *y, const double *score, const double *w, size_t n,
                          int drop_intermediate, exp_curve *roc, wb_error *err)
{
    if (!roc)
        return wb_err(err, WB_E_USAGE, NULL, "ROC curve: no output curve");
    exp_curve_free(roc);
    if (check_binary(y, score, w, n, 0, err) != 0)
        return -1;
    double pos, neg;
    class_totals(y, w, n, &pos, &neg);
    if (need_both(pos, neg, "the ROC curve", err) != 0)
        return -1;
    clf_curve c;
    if (clf_curve_build(y, score, w, n, &c, err) != 0)
        return -1;
    size_t nd = c.nd, m = 0;
    if (drop_intermediate && nd > 2) {
        /* scikit-learn keeps the first and last point and those where the second difference
         * of fps or tps is non-zero (a corner of the curve). Compacting in place is safe:
         * the write index never passes k-1, the oldest entry still read. */
        double fprev = c.fps[0], tprev = c.tps[0];
        m = 1;
        for (size_t k = 1; k < nd; k++) {
            double f = c.fps[k], t = c.tps[k], th = c.thr[k];
            int corner = k == nd - 1 || (c.fps[k + 1] - f) - (f - fprev) != 0.0 ||
                         (c.tps[k + 1] - t) - (t - tprev) != 0.0;
            fprev = f;
            tprev = t;
            if (corner) {
                c.fps[m] = f;
                c.tps[m] = t;
                c.thr[m] = th;
                m++;
            }
        }
    } else {
        m = nd;
    }
    if (curve_alloc(roc, m + 1, err) != 0) {
        clf_curve_free(&c);
        return -1;
    }
    double P = c.tps[m - 1], N = c.fps[m - 1]; /* the last point is always kept */
    roc->x[0] = 0.0;
    roc->y[0] = 0.0;
    roc->thr[0] = INFINITY;
    for (size_t k = 0; k < m; k++) {
        roc->x[k + 1] = c.fps[k] / N;
        roc->y[k + 1] = c.tps[k] / P;
        roc->thr[k + 1] = c.thr[k];
    }
    clf_curve_free(&c);
    return 0;
}

int exp_metrics_pr_curve(const int *y, const double *score, const double *w, size_t n,
                         exp_curve *pr, wb_error *err)
{
    if (!pr)
        return wb_err(err, WB_E_USAGE, NULL, "PR curve: no output curve");
    exp_curve_free(pr);
    if (check_binary(y, score, w, n, 0, err) != 0)
        return -1;
    double pos, neg;
    class_totals(y, w, n, &pos, &neg);
    if (pos <= 0.0)
        return wb_err(err, WB_E_DATA, NULL,
                      "the precision-recall curve is undefined: there are no positive samples");
    clf_curve c;
    if (clf_curve_build(y, score, w, n, &c, err) != 0)
        return -1;
    size_t nd = c.nd;
    if (curve_alloc(pr, nd + 1, err) != 0) {
        clf_curve_free(&c);
        return -1;
    }
    double total = c.tps[nd - 1];
    for (size_t k = 0; k < nd; k++) {
        size_t j = nd - 1 - k; /* increasing threshold */
        double ps = c.tps[j] + c.fps[j];
        pr->y[k] = ps != 0.0 ? c.tps[j] / ps : 0.0;
        pr->x[k] = c.tps[j] / total;
        pr->thr[k] = c.thr[j];
    }
    pr->x[nd] = 0.0;
    pr->y[nd] = 1.0;
    pr->thr[nd] = INFINITY;
    clf_curve_free(&c);
    return 0;
}

/* ------------------------------------------------------------------------ at a threshold */

int exp_metrics_confusion(const int *y, const double *score, const double *w, size_t n,
                          double t, exp_confusion *c, wb_error *err)
{
    if (!c)
        return wb_err(err, WB_E_USAGE, NULL, "confusion: no output");
    if (isnan(t))
        return wb_err(err, WB_E_USAGE, NULL, "confusion: the threshold is NaN");
    if (check_binary(y, score, w, n, 0, err) != 0)
        return -1;
    exp_confusion r = {0, 0, 0, 0};
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1.0;
        int pred = score[i] >= t;
        if (y[i])
            *(pred ? &r.tp : &r.fn) += wi;
        else
            *(pred ? &r.fp : &r.tn) += wi;
    }
    *c = r;
    return 0;
}

static double ratio0(double a, double b)
{
    return b != 0.0 ? a / b : 0.0;
}

double exp_confusion_sensitivity(const exp_confusion *c)
{
    return ratio0(c->tp, c->tp + c->fn);
}

double exp_confusion_specificity(const exp_confusion *c)
{
    return ratio0(c->tn, c->tn + c->fp);
}

double exp_confusion_precision(const exp_confusion *c)
{
    return ratio0(c->tp, c->tp + c->fp);
}

double exp_confusion_accuracy(const exp_confusion *c)
{
    return ratio0(c->tp + c->tn, c->tp + c->tn + c->fp + c->fn);
}

double exp_confusion_balanced_accuracy(const exp_confusion *c)
{
    int has_pos = c->tp + c->fn > 0.0, has_neg = c->tn + c->fp > 0.0;
    if (has_pos && has_neg)
        return 0.5 * (exp_confusion_sensitivity(c) + exp_confusion_specificity(c));
    if (has_pos)
        return exp_confusion_sensitivity(c);
    if (has_neg)
        return exp_confusion_specificity(c);
    return 0.0;
}

double exp_confusion_f1(const exp_confusion *c)
{
    return ratio0(2.0 * c->tp, 2.0 * c->tp + c->fp + c->fn);
}

/* The ROC points at every distinct score plus the (0,0) point at +INFINITY, as rates. */
static int roc_points(const int *y, const double *score, const double *w, size_t n,
                      const char *what, clf_curve *c, double *P, double *N, wb_error *err)
{
    if (check_binary(y, score, w, n, 0, err) != 0)
        return -1;
    double pos, neg;
    class_totals(y, w, n, &pos, &neg);
    if (need_both(pos, neg, what, err) != 0)
        return -1;
    if (clf_curve_build(y, score, w, n, c, err) != 0)
        return -1;
    *P = c->tps[c->nd - 1];
    *N = c->fps[c->nd - 1];
    return 0;
}

int exp_metrics_sens_at_spec(const int *y, const double *score, const double *w, size_t n,
                             double target_spec, double *sens, double *threshold,
                             wb_error *err)
{
    if (!(target_spec >= 0.0 && target_spec <= 1.0))
        return wb_err(err, WB_E_USAGE, NULL,
                      "sensitivity at specificity: target %g is outside [0, 1]", target_spec);
    clf_curve c;
    double P, N;
    if (roc_points(y, score, w, n, "sensitivity at a fixed specificity", &c, &P, &N, err) != 0)
        return -1;
    /* +INFINITY (nothing positive) always has specificity 1 */
    double best = 0.0, best_t = INFINITY;
    for (size_t k = 0; k < c.nd; k++) {
        double spec = 1.0 - c.fps[k] / N, tpr = c.tps[k] / P;
        if (spec >= target_spec - RATE_EPS && tpr > best) {
            best = tpr;
            best_t = c.thr[k];
        }
    }
    clf_curve_free(&c);
    *sens = best;
    if (threshold)
        *threshold = best_t;
    return 0;
}

int exp_metrics_threshold_youden(const int *y, const double *score, const double *w, size_t n,
                                 double *threshold, wb_error *err)
{
    clf_curve c;
    double P, N;
    if (roc_points(y, score, w, n, "Youden's threshold", &c, &P, &N, err) != 0)
        return -1;
    double best = -INFINITY, best_t = c.thr[0];
    for (size_t k = 0; k < c.nd; k++) {
        double j = c.tps[k] / P - c.fps[k] / N;
        if (j > best) { /* strict: among equal J the first, i.e. the largest threshold */
            best = j;
            best_t = c.thr[k];
        }
    }
    clf_curve_free(&c);
    *threshold = best_t;
    return 0;
}

int exp_metrics_threshold_for_sensitivity(const int *y, const double *score, const double *w,
                                          size_t n, double target, double *threshold,
                                          wb_error *err)
{
    if (!(target >= 0.0 && target <= 1.0))
        return wb_err(err, WB_E_USAGE, NULL, "threshold for sensitivity: target %g is outside "
                      "[0, 1]", target);
    clf_curve c;
    double P, N;
    if (roc_points(y, score, w, n, "a threshold for a target sensitivity", &c, &P, &N, err) != 0)
        return -1;
    /* sensitivity grows as the threshold falls; the last point reaches 1 */
    double t = c.thr[c.nd - 1];
    for (size_t k = 0; k < c.nd; k++)
        if (c.tps[k] / P >= target - RATE_EPS) {
            t = c.thr[k];
            break;
        }
    clf_curve_free(&c);
    *threshold = t;
    return 0;
}

int exp_metrics_threshold_for_specificity(const int *y, const double *score, const double *w,
                                          size_t n, double target, double *threshold,
                                          wb_error *err)
{
    if (!(target >= 0.0 && target <= 1.0))
        return wb_err(err, WB_E_USAGE, NULL, "threshold for specificity: target %g is outside "
                      "[0, 1]", target);
    clf_curve c;
    double P, N;
    if (roc_points(y, score, w, n, "a threshold for a target specificity", &c, &P, &N, err) != 0)
        return -1;
    double t = INFINITY;
    for (size_t k = 0; k < c.nd; k++) {
        if (1.0 - c.fps[k] / N >= target - RATE_EPS)
            t = c.thr[k];
        else
            break; /* specificity only falls from here */
    }
    clf_curve_free(&c);
    *threshold = t;
    return 0;
}

/* ------------------------------------------------------------------------------ DeLong */

/* Midranks (1-based, ties get the mean of their ranks) of v[0..n-1] into r. */
static int midranks(const double *v, size_t n, double *r, wb_error *err)
{
    size_t *o;
    if (order_desc(v, n, &o, err) != 0)
        return -1;
    /* o sorts descending; rank ascending means position from the end */
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        while (j + 1 < n && v[o[j + 1]] == v[o[i]])
            j++;
        /* descending positions i..j are ascending ranks n-j .. n-i (1-based) */
        double mr = 0.5 * ((double)(n - j) + (double)(n - i));
        for (size_t k = i; k <= j; k++)
            r[o[k]] = mr;
        i = j + 1;
    }
    free(o);
    return 0;
}

/* Sun & Xu's structural components for one score vector: v10[m] for the positives, v01[nn] for
 * the negatives, and the AUC. */
static int delong_components(const int *y, const double *s, size_t n, size_t m, size_t nn,
                             double *v10, double *v01, double *auc, wb_error *err)
{
    double *x = malloc(m * sizeof *x), *z = malloc(nn * sizeof *z);
    double *tx = malloc(m * sizeof *tx), *tz = malloc(nn * sizeof *tz);
    double *ta = malloc(n * sizeof *ta);
    int rc = -1;
    if (!x || !z || !tx || !tz || !ta) {
        wb_err(err, WB_E_NOMEM, NULL, "DeLong: out of memory for %zu samples", n);
        goto done;
    }
    size_t a = 0, b = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i])
            x[a++] = s[i];
        else
            z[b++] = s[i];
    }
    if (midranks(x, m, tx, err) != 0 || midranks(z, nn, tz, err) != 0 ||
        midranks(s, n, ta, err) != 0)
        goto done;
    double sum = 0.0;
    a = b = 0;
    for (size_t i = 0; i < n; i++) {
        if (y[i]) {
            v10[a] = (ta[i] - tx[a]) / (double)nn;
            sum += ta[i];
            a++;
        } else {
            v01[b] = 1.0 - (ta[i] - tz[b]) / (double)m;
            b++;
        }
    }
    *auc = (sum - (double)m * ((double)m + 1.0) / 2.0) / ((double)m * (double)nn);
    rc = 0;
done:
    free(x);
    free(z);
    free(tx);
    free(tz);
    free(ta);
    return rc;
}

static double sample_cov(const double *a, const double *b, size_t n)
{
    double ma = 0.0, mb = 0.0, s = 0.0;
    for (size_t i = 0; i < n; i++) {
        ma += a[i];
        mb += b[i];
    }
    ma /= (double)n;
    mb /= (double)n;
    for (size_t i = 0; i < n; i++)
        s += (a[i] - ma) * (b[i] - mb);
    return s / (double)(n - 1);
}

static int delong_counts(const int *y, const double *s, size_t n, size_t *m, size_t *nn,
                         wb_error *err)
{
    if (check_binary(y, s, NULL, n, 0, err) != 0)
        return -1;
    size_t p = 0;
    for (size_t i = 0; i < n; i++)
        p += (size_t)y[i];
    *m = p;
    *nn = n - p;
    if (p < 2 || n - p < 2)
        return wb_err(err, WB_E_DATA, NULL,
                      "DeLong variance needs at least 2 positives and 2 negatives, got %zu "
                      "and %zu",
                      p, n - p);
    return 0;
}

int exp_metrics_delong(const int *y, const double *score, size_t n, exp_delong *out,
                       wb_error *err)
{
    size_t m, nn;
    if (!out)
        return wb_err(err, WB_E_USAGE, NULL, "DeLong: no output");
    if (delong_counts(y, score, n, &m, &nn, err) != 0)
        return -1;
    double *v10 = malloc(m * sizeof *v10), *v01 = malloc(nn * sizeof *v01);
    if (!v10 || !v01) {
        free(v10);
        free(v01);
        return wb_err(err, WB_E_NOMEM, NULL, "DeLong: out of memory");
    }
    double auc;
    if (delong_components(y, score, n, m, nn, v10, v01, &auc, err) != 0) {
        free(v10);
        free(v01);
        return -1;
    }
    double var = sample_cov(v10, v10, m) / (double)m + sample_cov(v01, v01, nn) / (double)nn;
    free(v10);
    free(v01);
    double se = sqrt(var);
    out->auc = auc;
    out->var = var;
    out->ci_lo = fmax(0.0, auc - Z975 * se);
    out->ci_hi = fmin(1.0, auc + Z975 * se);
    out->n_pos = m;
    out->n_neg = nn;
    return 0;
}

int exp_metrics_delong_paired(const int *y, const double *score_a, const double *score_b,
                              size_t n, exp_delong_paired *out, wb_error *err)
{
    size_t m, nn;
    if (!out)
        return wb_err(err, WB_E_USAGE, NULL, "DeLong: no output");
    if (delong_counts(y, score_a, n, &m, &nn, err) != 0 ||
        check_binary(y, score_b, NULL, n, 0, err) != 0)
        return -1;
    double *buf = malloc(2 * (m + nn) * sizeof *buf);
    if (!buf)
        return wb_err(err, WB_E_NOMEM, NULL, "DeLong: out of memory");
    double *v10a = buf, *v01a = buf + m, *v10b = buf + m + nn, *v01b = buf + 2 * m + nn;
    double aa, ab;
    if (delong_components(y, score_a, n, m, nn, v10a, v01a, &aa, err) != 0 ||
        delong_components(y, score_b, n, m, nn, v10b, v01b, &ab, err) != 0) {
        free(buf);
        return -1;
    }
    double va = sample_cov(v10a, v10a, m) / (double)m + sample_cov(v01a, v01a, nn) / (double)nn;
    double vb = sample_cov(v10b, v10b, m) / (double)m + sample_cov(v01b, v01b, nn) / (double)nn;
    double cv = sample_cov(v10a, v10b, m) / (double)m + sample_cov(v01a, v01b, nn) / (double)nn;
    free(buf);
    double d = aa - ab, vd = va + vb - 2.0 * cv;
    out->auc_a = aa;
    out->auc_b = ab;
    out->var_a = va;
    out->var_b = vb;
    out->cov = cv;
    out->diff = d;
    /* rounding can leave a tiny negative variance for (nearly) identical scores */
    if (vd < 0.0 && vd > -1e-15)
        vd = 0.0;
    out->var_diff = vd;
    if (vd <= 0.0) {
        if (fabs(d) > 1e-15)
            return wb_err(err, WB_E_DATA, NULL,
                          "paired DeLong test: the AUCs differ (%g) but the variance of the "
                          "difference is %g",
                          d, vd);
        out->diff_ci_lo = out->diff_ci_hi = d;
        out->z = 0.0;
        out->p = 1.0;
        return 0;
    }
    double se = sqrt(vd);
    out->diff_ci_lo = d - Z975 * se;
    out->diff_ci_hi = d + Z975 * se;
    out->z = d / se;
    out->p = erfc(fabs(out->z) / sqrt(2.0));
    return 0;
}

/* ---------------------------------------------------------------- distributions, t-test */

double exp_metrics_normal_cdf(double z)
{
    return 0.5 * erfc(-z / sqrt(2.0));
}

/* Continued fraction for I_x(a,b) (modified Lentz, as in Numerical Recipes' betacf). */
static double betacf(double a, double b, double x)
{
    const double tiny = 1e-300, eps = 1e-16;
    double qab = a + b, qap = a + 1.0, qam = a - 1.0;
    double c = 1.0, d = 1.0 - qab * x / qap;
    if (fabs(d) < tiny)
        d = tiny;
    d = 1.0 / d;
    double h = d;
    for (int m = 1; m <= 100000; m++) {
        int m2 = 2 * m;
        double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        h *= d * c;
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if (fabs(d) < tiny)
            d = tiny;
        c = 1.0 + aa / c;
        if (fabs(c) < tiny)
            c = tiny;
        d = 1.0 / d;
        double del = d * c;
        h *= del;
        if (fabs(del - 1.0) < eps)
            break;
    }
    return h;
}

/* I_x(a,b) given both x and y = 1 - x, so that callers that know y exactly lose nothing. */
static double betainc_xy(double a, double b, double x, double y)
{
    if (x <= 0.0)
        return 0.0;
    if (y <= 0.0)
        return 1.0;
    double lfront = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log(y);
    if (x < (a + 1.0) / (a + b + 2.0))
        return exp(lfront) * betacf(a, b, x) / a;
    return 1.0 - exp(lfront) * betacf(b, a, y) / b;
}

double exp_metrics_betainc(double a, double b, double x)
{
    if (!(a > 0.0) || !(b > 0.0) || !(x >= 0.0 && x <= 1.0) || isinf(a) || isinf(b))
        return NAN;
    return betainc_xy(a, b, x, 1.0 - x);
}

/* P(|T| >= |t|) for Student's t with df degrees of freedom: I_{df/(df+t^2)}(df/2, 1/2). */
static double t_two_sided(double t, double df)
{
    double t2 = t * t;
    if (isinf(t2))
        return 0.0;
    double x = df / (df + t2), y = t2 / (df + t2);
    return betainc_xy(0.5 * df, 0.5, x, y);
}

double exp_metrics_t_cdf(double t, double df)
{
    if (isnan(t) || !(df > 0.0))
        return NAN;
    if (isinf(df))
        return exp_metrics_normal_cdf(t);
    double tail = 0.5 * t_two_sided(t, df); /* P(T <= -|t|) */
    return t > 0.0 ? 1.0 - tail : tail;
}

int exp_metrics_ttest_corrected(const double *a, const double *b, size_t k, double n_train,
                                double n_test, exp_ttest *out, wb_error *err)
{
    if (!a || !b || !out)
        return wb_err(err, WB_E_USAGE, NULL, "corrected t-test: NULL argument");
    if (k < 2)
        return wb_err(err, WB_E_DATA, NULL,
                      "corrected t-test: needs at least 2 folds, got %zu", k);
    if (!(n_train > 0.0) || !(n_test > 0.0) || isinf(n_train) || isinf(n_test))
        return wb_err(err, WB_E_USAGE, NULL,
                      "corrected t-test: training and test sizes must be positive, got %g and "
                      "%g",
                      n_train, n_test);
    double mean = 0.0;
    for (size_t j = 0; j < k; j++) {
        if (!isfinite(a[j]) || !isfinite(b[j]))
            return wb_err(err, WB_E_DATA, NULL, "corrected t-test: value %zu is not finite", j);
        mean += a[j] - b[j];
    }
    mean /= (double)k;
    double ss = 0.0;
    for (size_t j = 0; j < k; j++) {
        double e = (a[j] - b[j]) - mean;
        ss += e * e;
    }
    double var = ss / (double)(k - 1);
    out->mean_diff = mean;
    out->var_diff = var;
    out->df = (double)(k - 1);
    if (var <= 0.0) {
        if (mean != 0.0)
            return wb_err(err, WB_E_DATA, NULL,
                          "corrected t-test: every fold differs by exactly %g, so the variance "
                          "is 0 and t is undefined",
                          mean);
        out->t = 0.0;
        out->p = 1.0;
        return 0;
    }
    double se = sqrt((1.0 / (double)k + n_test / n_train) * var);
    out->t = mean / se;
    out->p = t_two_sided(out->t, out->df);
    return 0;
}
