/* probe.c — see probe.h. */
#include "experiments/model/probe.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/eval/metrics.h"

void exp_probe_cfg_default(exp_probe_cfg *c)
{
    memset(c, 0, sizeof *c);
    for (int e = -4; e <= 2; e++) {
        c->C[c->n_C++] = pow(10.0, e);
        if (e < 2) c->C[c->n_C++] = 3.0 * pow(10.0, e);
    }
    c->n_classes = 2;
}

void exp_probe_init(exp_probe *p)
{
    if (!p) return;
    memset(p, 0, sizeof *p);
    exp_scaler_init(&p->sc);
    exp_logreg_init(&p->bin);
    exp_logreg_mn_init(&p->mn);
}

void exp_probe_free(exp_probe *p)
{
    if (!p) return;
    exp_scaler_free(&p->sc);
    exp_logreg_free(&p->bin);
    exp_logreg_mn_free(&p->mn);
    exp_probe_init(p);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Mean -log p(true class) of n rows (P: K == 2 the positive-class probability, else n x K),
 * each class weighted equally when balanced. */
static double val_log_loss(const double *P, const int *y, size_t n, int K, int balanced)
{
    size_t cnt[EXP_LOGREG_MAX_CLASSES] = {0};
    for (size_t i = 0; i < n; i++) cnt[y[i]]++;
    double sum = 0, wsum = 0;
    for (size_t i = 0; i < n; i++) {
        double p = K == 2 ? (y[i] ? P[i] : 1.0 - P[i]) : P[i * (size_t)K + y[i]];
        p = fmin(fmax(p, 1e-15), 1.0 - 1e-15);
        double w = balanced ? 1.0 / (double)cnt[y[i]] : 1.0;
        sum -= w * log(p);
        wsum += w;
    }
    return wsum > 0 ? sum / wsum : NAN;
}

/* Rows the validation and prediction paths standardise at a time (their standardised copy is
 * this many rows, not the whole matrix); every row is computed alone, so the chunking does not
 * change a bit. */
#define PROBE_CHUNK 512

/* Probabilities of the raw rows R under the scaler sc and model bin/mn (K classes) into out,
 * standardising PROBE_CHUNK rows at a time into Z [PROBE_CHUNK, d] (rows not in memory are
 * read into Z and standardised there). */
static int predict_chunked(const exp_scaler *sc, const exp_logreg *bin, const exp_logreg_mn *mn, int K, const exp_rows *R,
                           double *Z, double *out, wb_error *err)
{
    const size_t n = R->n, d = R->d, S = K > 2 ? (size_t)K : 1;
    if (!R->X && !R->read && n > 0) return wb_err(err, WB_E_USAGE, NULL, "scaler: no data");
    for (size_t s = 0; s < n; s += PROBE_CHUNK) {
        size_t m = n - s < PROBE_CHUNK ? n - s : PROBE_CHUNK;
        const double *X = R->X ? R->X + s * d : R->read(R->ctx, s, m, Z, err);
        if (!X || exp_scaler_transform(sc, X, m, d, s, Z, err) != 0 ||
            (K > 2 ? exp_logreg_mn_predict_proba(mn, Z, m, d, out + s * S, err)
                   : exp_logreg_predict_proba(bin, Z, m, d, out + s * S, err)) != 0)
            return -1;
    }
    return 0;
}

/* The training rows standardised as they are read (a matrix not in memory): raw rows from
 * raw, then (x - mean) / scale in place, the values exp_scaler_transform gives once. */
typedef struct std_rows {
    const exp_rows *raw;
    const exp_scaler *sc;
} std_rows;

static const double *std_read(void *ctx, size_t s, size_t m, double *buf, wb_error *err)
{
    const std_rows *t = ctx;
    const double *X = t->raw->read(t->raw->ctx, s, m, buf, err);
    if (!X || exp_scaler_transform(t->sc, X, m, t->raw->d, s, buf, err) != 0) return NULL;
    return buf;
}

/* exp_probe_fit, _fit_inplace and _fit_rows: Xown is Rtr->X when the caller gave its rows up
 * (they are standardised in place); with Rtr in memory and Xown NULL a standardised copy is
 * made; with Rtr not in memory its rows are read and standardised at every pass. */
static int probe_fit(exp_probe *p, const exp_rows *Rtr, double *Xown, const int *ytr, const exp_rows *Rva,
                     const int *yva, const exp_probe_cfg *c, wb_error *err)
{
    if (!p) return wb_err(err, WB_E_USAGE, NULL, "probe: no output");
    exp_probe_free(p);
    const size_t ntr = Rtr->n, nva = Rva ? Rva->n : 0, d = Rtr->d;
    if (c->n_C == 0 || c->n_C > EXP_PROBE_MAX_C)
        return wb_err(err, WB_E_USAGE, NULL, "probe: %zu values of C, expected 1 to %d", c->n_C, EXP_PROBE_MAX_C);
    const int K = c->n_classes > 2 ? c->n_classes : 2;
    if (K > EXP_LOGREG_MAX_CLASSES) return wb_err(err, WB_E_USAGE, NULL, "probe: %d classes, at most %d", K, EXP_LOGREG_MAX_CLASSES);
    for (size_t i = 0; i < nva; i++)
        if (yva[i] < 0 || yva[i] >= K)
            return wb_err(err, WB_E_DATA, NULL, "probe: validation label %d at index %zu, expected 0 .. %d", yva[i], i, K - 1);
    if (nva && Rva->d != d)
        return wb_err(err, WB_E_DATA, NULL, "probe: %zu training features, %zu validation features", d, Rva->d);
    p->d = d;
    p->K = K;
    p->n_C = c->n_C;
    memcpy(p->C, c->C, c->n_C * sizeof *p->C);
    qsort(p->C, p->n_C, sizeof *p->C, cmp_dbl);
    for (size_t k = 0; k < p->n_C; k++) p->val_loss[k] = p->val_auc[k] = NAN;
    const size_t S = K > 2 ? (size_t)K : 1, nv = nva < PROBE_CHUNK ? nva : PROBE_CHUNK;
    if (d == 0 || ntr > SIZE_MAX / sizeof(double) / d || nva > SIZE_MAX / sizeof(double) / S)
        return wb_err(err, WB_E_NOMEM, NULL, "probe: %zu x %zu features is too large", ntr, d);
    /* the training rows standardised: in the caller's matrix, a copy, or as they are read;
     * the validation rows a chunk at a time */
    const int stream = !Rtr->X;
    double *Zcopy = Xown || stream ? NULL : malloc((ntr ? ntr : 1) * d * sizeof *Zcopy), *Z = Xown ? Xown : Zcopy;
    double *Zv = malloc((nv ? nv : 1) * d * sizeof *Zv);
    double *Pv = malloc((nva ? nva : 1) * S * sizeof *Pv);
    exp_logreg tb;
    exp_logreg_mn tm;
    exp_logreg_init(&tb);
    exp_logreg_mn_init(&tm);
    int rc = -1, kept = -1;
    wb_error last;
    memset(&last, 0, sizeof last);
    if ((!stream && !Z) || !Zv || !Pv) {
        wb_err(err, WB_E_NOMEM, NULL, "probe: out of memory for %zu x %zu features", ntr, d);
        goto done;
    }
    /* (in place: each element is read before it is written, so Z aliasing Xtr is the same) */
    if (exp_scaler_fit_rows(&p->sc, Rtr, err) || (!stream && exp_scaler_transform(&p->sc, Rtr->X, ntr, d, 0, Z, err)))
        goto done;
    std_rows sr = {Rtr, &p->sc};
    exp_rows Rz = exp_rows_of(Z, ntr, d);
    if (stream) Rz.read = std_read, Rz.ctx = &sr;
    /* without validation rows: only the grid value nearest to C = 1 */
    size_t only = 0;
    for (size_t k = 1; k < p->n_C; k++)
        if (fabs(log(p->C[k])) < fabs(log(p->C[only]))) only = k;
    exp_logreg_options lo;
    exp_logreg_options_default(&lo);
    lo.class_weight = c->balanced ? EXP_LOGREG_CW_BALANCED : EXP_LOGREG_CW_NONE;
    double best = INFINITY;
    for (size_t k = 0; k < p->n_C; k++) {
        if (!nva && k != only) continue;
        lo.C = p->C[k];
        wb_error e2;
        int frc = K > 2 ? exp_logreg_mn_fit_rows(&tm, &Rz, ytr, NULL, K, &lo, &e2)
                        : exp_logreg_fit_rows(&tb, &Rz, ytr, NULL, &lo, &e2);
        if (frc != 0) {
            if (e2.code != WB_E_FAILED) { /* bad data, not this C's convergence */
                *err = e2;
                goto done;
            }
            last = e2;
            continue;
        }
        double loss = -INFINITY;
        if (nva) {
            if (predict_chunked(&p->sc, &tb, &tm, K, Rva, Zv, Pv, err) != 0) goto done;
            loss = p->val_loss[k] = val_log_loss(Pv, yva, nva, K, c->balanced);
            double auc;
            if ((K > 2 ? exp_metrics_auc_ovr(yva, Pv, NULL, nva, K, &auc, NULL, &e2)
                       : exp_metrics_auc(yva, Pv, NULL, nva, &auc, &e2)) == 0)
                p->val_auc[k] = auc;
        }
        if (kept < 0 || loss < best) { /* ascending C: a tie keeps the smaller one */
            best = loss;
            kept = (int)k;
            exp_logreg tsb = p->bin;
            p->bin = tb;
            tb = tsb;
            exp_logreg_mn tsm = p->mn;
            p->mn = tm;
            tm = tsm;
        }
    }
    if (kept < 0) {
        wb_err(err, WB_E_FAILED, NULL, "probe: the logistic regression failed at every C of the grid (last: %s)", last.msg);
        goto done;
    }
    p->chosen = kept;
    rc = 0;
done:
    exp_logreg_free(&tb);
    exp_logreg_mn_free(&tm);
    free(Zcopy);
    free(Zv);
    free(Pv);
    if (rc) exp_probe_free(p);
    return rc;
}

int exp_probe_fit(exp_probe *p, const double *Xtr, const int *ytr, size_t ntr, const double *Xva, const int *yva,
                  size_t nva, size_t d, const exp_probe_cfg *c, wb_error *err)
{
    exp_rows tr = exp_rows_of(Xtr, ntr, d), va = exp_rows_of(Xva, nva, d);
    return probe_fit(p, &tr, NULL, ytr, &va, yva, c, err);
}

int exp_probe_fit_inplace(exp_probe *p, double *Xtr, const int *ytr, size_t ntr, const double *Xva, const int *yva,
                          size_t nva, size_t d, const exp_probe_cfg *c, wb_error *err)
{
    exp_rows tr = exp_rows_of(Xtr, ntr, d), va = exp_rows_of(Xva, nva, d);
    return probe_fit(p, &tr, Xtr, ytr, &va, yva, c, err);
}

int exp_probe_fit_rows(exp_probe *p, const exp_rows *Xtr, const int *ytr, const exp_rows *Xva, const int *yva,
                       const exp_probe_cfg *c, wb_error *err)
{
    return probe_fit(p, Xtr, NULL, ytr, Xva, yva, c, err);
}

int exp_probe_predict(const exp_probe *p, const double *X, size_t n, size_t d, double *out, wb_error *err)
{
    exp_rows R = exp_rows_of(X, n, d);
    return exp_probe_predict_rows(p, &R, out, err);
}

int exp_probe_predict_rows(const exp_probe *p, const exp_rows *X, double *out, wb_error *err)
{
    const size_t n = X->n, d = X->d;
    if (!p || !p->sc.mean) return wb_err(err, WB_E_USAGE, NULL, "probe: not fitted");
    if (n == 0) return 0;
    if (d != p->sc.d) return wb_err(err, WB_E_DATA, NULL, "scaler: fitted on %zu features, given %zu", p->sc.d, d);
    double *Z = malloc((n < PROBE_CHUNK ? n : PROBE_CHUNK) * d * sizeof *Z);
    if (!Z) return wb_err(err, WB_E_NOMEM, NULL, "probe: out of memory");
    int rc = predict_chunked(&p->sc, &p->bin, &p->mn, p->K, X, Z, out, err);
    free(Z);
    return rc;
}

void exp_probe_head(const exp_probe *p, double *W, double *b)
{
    const size_t d = p->d;
    const int K = p->K;
    for (int c = 0; c < K; c++) {
        /* binary: one decision f, split as logits (-f/2, f/2) */
        const double *w = K > 2 ? p->mn.coef + (size_t)c * d : p->bin.coef;
        double sign = K > 2 ? 1.0 : (c ? 0.5 : -0.5), bias = K > 2 ? p->mn.intercept[c] : p->bin.intercept;
        double *row = W + (size_t)c * d;
        for (size_t j = 0; j < d; j++) {
            row[j] = sign * w[j] / p->sc.scale[j];
            bias -= w[j] * p->sc.mean[j] / p->sc.scale[j];
        }
        b[c] = sign * bias;
    }
}
