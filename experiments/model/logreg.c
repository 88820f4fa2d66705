/* logreg.c — see logreg.h. */
#include "experiments/model/logreg.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* ------------------------------------------------------------------------------ scaler */

void exp_scaler_init(exp_scaler *s)
{
    if (s)
        memset(s, 0, sizeof *s);
}

void exp_scaler_free(exp_scaler *s)
{
    if (!s)
        return;
    free(s->mean);
    free(s->scale);
    memset(s, 0, sizeof *s);
}

exp_rows exp_rows_of(const double *X, size_t n, size_t d)
{
    exp_rows r = {n, d, X, NULL, NULL};
    return r;
}

/* Rows [s, s + m) of R: where they are in memory, or read into buf. */
static const double *rows_at(const exp_rows *R, size_t s, size_t m, double *buf, wb_error *err)
{
    if (R->X)
        return R->X + s * R->d;
    return R->read(R->ctx, s, m, buf, err);
}

/* check_matrix's checks of the shape alone (the values are checked a chunk at a time). */
static int check_shape(const exp_rows *R, const char *who, wb_error *err)
{
    if (!R->X && !R->read && R->n > 0)
        return wb_err(err, WB_E_USAGE, NULL, "%s: no data", who);
    if (R->d == 0)
        return wb_err(err, WB_E_USAGE, NULL, "%s: no features", who);
    if (R->n > SIZE_MAX / sizeof(double) / R->d)
        return wb_err(err, WB_E_NOMEM, NULL, "%s: %zu x %zu is too large", who, R->n, R->d);
    return 0;
}

/* check_matrix's check of the values of m rows X starting at row s of the matrix. */
static int check_finite_rows(const double *X, size_t s, size_t m, size_t d, const char *who, wb_error *err)
{
    for (size_t i = 0; i < m; i++)
        for (size_t j = 0; j < d; j++)
            if (!isfinite(X[i * d + j]))
                return wb_err(err, WB_E_DATA, NULL,
                              "%s: feature %zu of row %zu is not finite", who, j, s + i);
    return 0;
}

/* X's shape and values; row0: the index of X's first row in the caller's whole matrix (the
 * message counts from it). */
static int check_matrix(const double *X, size_t n, size_t d, size_t row0, const char *who, wb_error *err)
{
    const exp_rows R = exp_rows_of(X, n, d);
    if (check_shape(&R, who, err) != 0)
        return -1;
    return check_finite_rows(X, row0, n, d, who, err);
}

/* The whole of check_matrix on R: its shape, then every value, a chunk at a time. */
static int check_rows(const exp_rows *R, const char *who, wb_error *err)
{
    if (check_shape(R, who, err) != 0)
        return -1;
    double *buf = R->X ? NULL : malloc(EXP_ROWS_CHUNK * R->d * sizeof *buf);
    if (!R->X && !buf)
        return wb_err(err, WB_E_NOMEM, NULL, "%s: out of memory for %zu features", who, R->d);
    int rc = 0;
    for (size_t s = 0; s < R->n && rc == 0; s += EXP_ROWS_CHUNK) {
        size_t m = R->n - s < EXP_ROWS_CHUNK ? R->n - s : EXP_ROWS_CHUNK;
        const double *X = rows_at(R, s, m, buf, err);
        if (!X || check_finite_rows(X, s, m, R->d, who, err) != 0)
            rc = -1;
    }
    free(buf);
    return rc;
}

int exp_scaler_fit(exp_scaler *s, const double *X, size_t n, size_t d, wb_error *err)
{
    exp_rows R = exp_rows_of(X, n, d);
    return exp_scaler_fit_rows(s, &R, err);
}

int exp_scaler_fit_rows(exp_scaler *s, const exp_rows *R, wb_error *err)
{
    if (!s)
        return wb_err(err, WB_E_USAGE, NULL, "scaler: no output");
    exp_scaler_free(s);
    const size_t n = R->n, d = R->d;
    if (n == 0)
        return wb_err(err, WB_E_DATA, NULL, "scaler: no training rows");
    if (check_shape(R, "scaler", err) != 0)
        return -1;
    s->mean = calloc(d, sizeof *s->mean);
    s->scale = calloc(d, sizeof *s->scale);
    double *ss = calloc(d, sizeof *ss), *corr = calloc(d, sizeof *corr);
    double *buf = R->X ? NULL : malloc(EXP_ROWS_CHUNK * d * sizeof *buf);
    int rc = -1;
    if (!s->mean || !s->scale || !ss || !corr || (!R->X && !buf)) {
        wb_err(err, WB_E_NOMEM, NULL, "scaler: out of memory for %zu features", d);
        goto done;
    }
    s->d = d;
    /* every value is checked before it is summed (a chunk at a time) */
    for (size_t c = 0; c < n; c += EXP_ROWS_CHUNK) {
        size_t m = n - c < EXP_ROWS_CHUNK ? n - c : EXP_ROWS_CHUNK;
        const double *X = rows_at(R, c, m, buf, err);
        if (!X || check_finite_rows(X, c, m, d, "scaler", err) != 0)
            goto done;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < d; j++)
                s->mean[j] += X[i * d + j];
    }
    for (size_t j = 0; j < d; j++)
        s->mean[j] /= (double)n;
    /* two passes: the variance of centred values, with the compensation term of
     * Chan, Golub & LeVeque for the rounding in the mean (each feature's sums over the rows
     * in order, as one column at a time would add them) */
    for (size_t c = 0; c < n; c += EXP_ROWS_CHUNK) {
        size_t m = n - c < EXP_ROWS_CHUNK ? n - c : EXP_ROWS_CHUNK;
        const double *X = rows_at(R, c, m, buf, err);
        if (!X)
            goto done;
        for (size_t i = 0; i < m; i++)
            for (size_t j = 0; j < d; j++) {
                double e = X[i * d + j] - s->mean[j];
                ss[j] += e * e;
                corr[j] += e;
            }
    }
    for (size_t j = 0; j < d; j++) {
        double var = (ss[j] - corr[j] * corr[j] / (double)n) / (double)n;
        if (var < 0.0)
            var = 0.0;
        double nn = (double)n, m = s->mean[j];
        int constant = var <= nn * DBL_EPSILON * var + (nn * m * DBL_EPSILON) * (nn * m * DBL_EPSILON);
        s->scale[j] = constant ? 1.0 : sqrt(var);
    }
    rc = 0;
done:
    free(ss);
    free(corr);
    free(buf);
    if (rc)
        exp_scaler_free(s);
    return rc;
}

int exp_scaler_transform(const exp_scaler *s, const double *X, size_t n, size_t d, size_t row0, double *out,
                         wb_error *err)
{
    if (!s || !s->mean)
        return wb_err(err, WB_E_USAGE, NULL, "scaler: not fitted");
    if (d != s->d)
        return wb_err(err, WB_E_DATA, NULL, "scaler: fitted on %zu features, given %zu", s->d,
                      d);
    if (!out && n > 0)
        return wb_err(err, WB_E_USAGE, NULL, "scaler: no output");
    if (check_matrix(X, n, d, row0, "scaler", err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < d; j++)
            out[i * d + j] = (X[i * d + j] - s->mean[j]) / s->scale[j];
    return 0;
}

/* ------------------------------------------------------------------- logistic regression */

void exp_logreg_options_default(exp_logreg_options *o)
{
    o->C = 1.0;
    o->class_weight = EXP_LOGREG_CW_NONE;
    o->max_iter = 100;
    o->tol = 1e-12;
}

void exp_logreg_init(exp_logreg *m)
{
    if (m)
        memset(m, 0, sizeof *m);
}

void exp_logreg_free(exp_logreg *m)
{
    if (!m)
        return;
    free(m->coef);
    memset(m, 0, sizeof *m);
}

/* log(1 + exp(-t)) without overflow or loss for large |t| */
static double log1pexp_neg(double t)
{
    return t > 0.0 ? log1p(exp(-t)) : -t + log1p(exp(t));
}

static double sigmoid(double t)
{
    if (t >= 0.0)
        return 1.0 / (1.0 + exp(-t));
    double e = exp(t);
    return e / (1.0 + e);
}

/* theta = [coef(d), intercept] */
static double margin(const double *x, const double *theta, size_t d)
{
    double z = theta[d];
    for (size_t j = 0; j < d; j++)
        z += x[j] * theta[j];
    return z;
}

/* The gradient g and the Hessian's lower triangle H (k = d + 1 columns) of the binary
 * problem, plus the terms of nb <= HESS_BLOCK samples (rows X [nb, d], labels y, weights s):
 * every element gets its samples' terms added one after another in sample order, as a loop
 * over the samples one at a time adds them (the same bits), but H, 250 KB at 256 features,
 * is read and written once per block instead of once per sample, two elements at a time. */
#define HESS_BLOCK 4 /* (hess_row_add's unrolled loop takes 4) */

/* row[b] += hx[j] * x[j][b] for b < n, the nb samples j added in order to each element */
static void hess_row_add(double *row, size_t n, const double *hx, const double *const *x, size_t nb)
{
    size_t b = 0;
#if defined(__SSE2__)
    if (nb == 4) {
        const __m128d h0 = _mm_set1_pd(hx[0]), h1 = _mm_set1_pd(hx[1]), h2 = _mm_set1_pd(hx[2]),
                      h3 = _mm_set1_pd(hx[3]);
        const double *x0 = x[0], *x1 = x[1], *x2 = x[2], *x3 = x[3];
        for (; b + 2 <= n; b += 2) {
            __m128d v = _mm_loadu_pd(row + b);
            v = _mm_add_pd(v, _mm_mul_pd(h0, _mm_loadu_pd(x0 + b)));
            v = _mm_add_pd(v, _mm_mul_pd(h1, _mm_loadu_pd(x1 + b)));
            v = _mm_add_pd(v, _mm_mul_pd(h2, _mm_loadu_pd(x2 + b)));
            v = _mm_add_pd(v, _mm_mul_pd(h3, _mm_loadu_pd(x3 + b)));
            _mm_storeu_pd(row + b, v);
        }
    }
    for (; b + 2 <= n; b += 2) {
        __m128d v = _mm_loadu_pd(row + b);
        for (size_t j = 0; j < nb; j++)
            v = _mm_add_pd(v, _mm_mul_pd(_mm_set1_pd(hx[j]), _mm_loadu_pd(x[j] + b)));
        _mm_storeu_pd(row + b, v);
    }
#endif
    for (; b < n; b++)
        for (size_t j = 0; j < nb; j++)
            row[b] += hx[j] * x[j][b];
}

static void hess_block(const double *X, size_t nb, const int *y, const double *s, double C,
                       const double *theta, size_t d, double *g, double *H)
{
    const size_t k = d + 1;
    double r[HESS_BLOCK], h[HESS_BLOCK], hx[HESS_BLOCK];
    const double *x[HESS_BLOCK];
    for (size_t j = 0; j < nb; j++) {
        x[j] = X + j * d;
        const double pi = sigmoid(margin(x[j], theta, d));
        r[j] = C * s[j] * (pi - y[j]);
        h[j] = C * s[j] * pi * (1.0 - pi);
    }
    for (size_t a = 0; a < d; a++) {
        double *row = H + a * k;
        for (size_t j = 0; j < nb; j++) {
            g[a] += r[j] * x[j][a];
            hx[j] = h[j] * x[j][a];
        }
        hess_row_add(row, a + 1, hx, x, nb);
        for (size_t j = 0; j < nb; j++)
            H[d * k + a] += hx[j];
    }
    for (size_t j = 0; j < nb; j++) {
        g[d] += r[j];
        H[d * k + d] += h[j];
    }
}

/* In-place Cholesky of the k x k matrix A (lower triangle used); 0 on success. */
static int cholesky(double *A, size_t k)
{
    for (size_t j = 0; j < k; j++) {
        double dsum = A[j * k + j];
        for (size_t q = 0; q < j; q++)
            dsum -= A[j * k + q] * A[j * k + q];
        if (!(dsum > 0.0))
            return -1;
        double l = sqrt(dsum);
        A[j * k + j] = l;
        for (size_t i = j + 1; i < k; i++) {
            double v = A[i * k + j];
            for (size_t q = 0; q < j; q++)
                v -= A[i * k + q] * A[j * k + q];
            A[i * k + j] = v / l;
        }
    }
    return 0;
}

/* Solves L L^T x = b in place in b. */
static void chol_solve(const double *L, size_t k, double *b)
{
    for (size_t i = 0; i < k; i++) {
        double v = b[i];
        for (size_t q = 0; q < i; q++)
            v -= L[i * k + q] * b[q];
        b[i] = v / L[i * k + i];
    }
    for (size_t i = k; i-- > 0;) {
        double v = b[i];
        for (size_t q = i + 1; q < k; q++)
            v -= L[q * k + i] * b[q];
        b[i] = v / L[i * k + i];
    }
}

static int check_options(const exp_logreg_options *o, wb_error *err)
{
    if (!(o->C > 0.0) || isinf(o->C))
        return wb_err(err, WB_E_USAGE, NULL, "logistic regression: C is %g, expected > 0", o->C);
    if (o->max_iter < 1 || !(o->tol > 0.0))
        return wb_err(err, WB_E_USAGE, NULL,
                      "logistic regression: max_iter %d and tol %g must be positive",
                      o->max_iter, o->tol);
    return 0;
}

/* The arrays of a Newton fit with n samples and P parameters: s (n, the sample weights),
 * theta (P, zeros), g, step, trial (P) and H (P x P). */
typedef struct fit_scratch {
    double *s, *theta, *g, *step, *trial, *H;
    double *buf; /* EXP_ROWS_CHUNK rows read from a matrix not in memory */
} fit_scratch;

static void fit_scratch_free(fit_scratch *w)
{
    free(w->s);
    free(w->theta);
    free(w->g);
    free(w->step);
    free(w->trial);
    free(w->H);
    free(w->buf);
}

/* 0, or -1 with err set (d, the feature count, named) and nothing left allocated. */
static int fit_scratch_alloc(fit_scratch *w, const exp_rows *R, size_t P, wb_error *err)
{
    const size_t n = R->n, d = R->d;
    w->s = malloc(n * sizeof *w->s);
    w->theta = calloc(P, sizeof *w->theta);
    w->g = malloc(P * sizeof *w->g);
    w->step = malloc(P * sizeof *w->step);
    w->trial = malloc(P * sizeof *w->trial);
    w->H = malloc(P * P * sizeof *w->H);
    w->buf = R->X ? NULL : malloc(EXP_ROWS_CHUNK * d * sizeof *w->buf);
    if (!w->s || !w->theta || !w->g || !w->step || !w->trial || !w->H || (!R->X && !w->buf)) {
        fit_scratch_free(w);
        return wb_err(err, WB_E_NOMEM, NULL, "logistic regression: out of memory for %zu features", d);
    }
    return 0;
}

/* What the Newton iterations of a fit need to evaluate its objective at a trial theta. */
typedef struct fit_problem {
    const exp_rows *X;
    double *buf;     /* scratch of EXP_ROWS_CHUNK rows (X not in memory) */
    const int *y;
    const double *s; /* sample weights times class weights */
    size_t n, d;
    int K;           /* classes (multinomial) */
    double C;
    double *z, *p;   /* scratch of K (multinomial) */
    /* the objective at theta into *f; -1 with err set when the rows cannot be read */
    int (*objective)(const struct fit_problem *fp, const double *theta, double *f, wb_error *err);
} fit_problem;

/* One damped Newton step on the P parameters theta: factors the Hessian H (lower triangle,
 * in place), solves for the step against the gradient g and backtracks (Armijo). Near the
 * optimum the predicted decrease -slope falls below what the objective's rounding can
 * resolve; there the full Newton step is taken without a test (the quadratic model is exact
 * enough), so convergence stays quadratic instead of stalling on noise. On success theta and
 * *f are the accepted point and its objective; step and trial are scratch of P. it and gmax
 * (the iteration and the gradient's max norm) go into the messages. */
static int newton_step(const fit_problem *fp, double *H, const double *g, size_t P, int it, double gmax,
                       double *theta, double *f, double *step, double *trial, wb_error *err)
{
    if (cholesky(H, P) != 0)
        return wb_err(err, WB_E_FAILED, NULL,
                      "logistic regression: the Hessian is not positive definite (iteration %d)", it);
    for (size_t j = 0; j < P; j++)
        step[j] = -g[j];
    chol_solve(H, P, step);
    double slope = 0.0;
    for (size_t j = 0; j < P; j++)
        slope += g[j] * step[j];
    double t = 1.0, ft = *f;
    int accepted = 0;
    if (-slope <= 1e-13 * (1.0 + fabs(*f))) {
        for (size_t j = 0; j < P; j++)
            trial[j] = theta[j] + step[j];
        if (fp->objective(fp, trial, &ft, err) != 0)
            return -1;
        accepted = 1;
    }
    for (int ls = 0; ls < 60 && !accepted; ls++) {
        for (size_t j = 0; j < P; j++)
            trial[j] = theta[j] + t * step[j];
        if (fp->objective(fp, trial, &ft, err) != 0)
            return -1;
        if (ft <= *f + 1e-4 * t * slope) {
            accepted = 1;
            break;
        }
        t *= 0.5;
    }
    if (!accepted)
        return wb_err(err, WB_E_FAILED, NULL, "logistic regression: the line search failed with gradient %g", gmax);
    memcpy(theta, trial, P * sizeof *theta);
    *f = ft;
    return 0;
}

static int bin_objective(const fit_problem *fp, const double *theta, double *f, wb_error *err)
{
    const size_t n = fp->n, d = fp->d;
    double reg = 0.0, loss = 0.0;
    for (size_t j = 0; j < d; j++)
        reg += theta[j] * theta[j];
    for (size_t c = 0; c < n; c += EXP_ROWS_CHUNK) {
        size_t m = n - c < EXP_ROWS_CHUNK ? n - c : EXP_ROWS_CHUNK;
        const double *X = rows_at(fp->X, c, m, fp->buf, err);
        if (!X)
            return -1;
        for (size_t i = 0; i < m; i++) {
            double z = margin(X + i * d, theta, d);
            loss += fp->s[c + i] * log1pexp_neg(fp->y[c + i] ? z : -z);
        }
    }
    *f = 0.5 * reg + fp->C * loss;
    return 0;
}

int exp_logreg_fit(exp_logreg *m, const double *X, const int *y, const double *w, size_t n,
                   size_t d, const exp_logreg_options *o, wb_error *err)
{
    exp_rows R = exp_rows_of(X, n, d);
    return exp_logreg_fit_rows(m, &R, y, w, o, err);
}

int exp_logreg_fit_rows(exp_logreg *m, const exp_rows *R, const int *y, const double *w,
                        const exp_logreg_options *o, wb_error *err)
{
    const size_t n = R->n, d = R->d;
    exp_logreg_options def;
    if (!o) {
        exp_logreg_options_default(&def);
        o = &def;
    }
    if (!m)
        return wb_err(err, WB_E_USAGE, NULL, "logistic regression: no output");
    exp_logreg_free(m);
    if (check_options(o, err) != 0)
        return -1;
    if (d > EXP_LOGREG_MAX_FEATURES)
        return wb_err(err, WB_E_USAGE, NULL,
                      "logistic regression: %zu features, at most %d are supported", d,
                      EXP_LOGREG_MAX_FEATURES);
    if (n == 0 || !y)
        return wb_err(err, WB_E_DATA, NULL, "logistic regression: no training samples");
    if (check_rows(R, "logistic regression", err) != 0)
        return -1;
    size_t cnt[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (y[i] != 0 && y[i] != 1)
            return wb_err(err, WB_E_DATA, NULL,
                          "logistic regression: label %d at index %zu, expected 0 or 1", y[i],
                          i);
        if (w && (!isfinite(w[i]) || w[i] < 0.0))
            return wb_err(err, WB_E_DATA, NULL,
                          "logistic regression: weight at index %zu is negative or not finite",
                          i);
        cnt[y[i]]++;
    }
    if (cnt[0] == 0 || cnt[1] == 0)
        return wb_err(err, WB_E_DATA, NULL,
                      "logistic regression needs both classes in the training data, got only "
                      "%s",
                      cnt[0] ? "negatives" : "positives");

    size_t k = d + 1;
    fit_scratch ws;
    if (fit_scratch_alloc(&ws, R, k, err) != 0)
        return -1;
    double *s = ws.s, *theta = ws.theta, *g = ws.g, *step = ws.step, *trial = ws.trial, *H = ws.H;
    int rc = -1;
    double cw[2] = {1.0, 1.0}, sw[2] = {0.0, 0.0};
    if (o->class_weight == EXP_LOGREG_CW_BALANCED) {
        cw[0] = (double)n / (2.0 * (double)cnt[0]);
        cw[1] = (double)n / (2.0 * (double)cnt[1]);
    }
    for (size_t i = 0; i < n; i++) {
        s[i] = (w ? w[i] : 1.0) * cw[y[i]];
        sw[y[i]] += s[i];
    }
    if (!(sw[0] > 0.0) || !(sw[1] > 0.0)) {
        wb_err(err, WB_E_DATA, NULL,
               "logistic regression: the %s have zero total weight", sw[0] > 0 ? "positives"
                                                                              : "negatives");
        goto done;
    }
    const double C = o->C, gtol = o->tol * (1.0 + C * (sw[0] + sw[1]));
    /* start from the prior log-odds: the optimum's intercept for coef = 0 */
    theta[d] = log(sw[1] / sw[0]);
    const fit_problem fp = {R, ws.buf, y, s, n, d, 0, C, NULL, NULL, bin_objective};
    double f, gmax = INFINITY;
    if (fp.objective(&fp, theta, &f, err) != 0)
        goto done;
    int it;
    for (it = 0; it < o->max_iter; it++) {
        /* gradient and Hessian (lower triangle) */
        for (size_t j = 0; j < d; j++)
            g[j] = theta[j];
        g[d] = 0.0;
        memset(H, 0, k * k * sizeof *H);
        for (size_t j = 0; j < d; j++)
            H[j * k + j] = 1.0;
        for (size_t c = 0; c < n; c += EXP_ROWS_CHUNK) {
            size_t mc = n - c < EXP_ROWS_CHUNK ? n - c : EXP_ROWS_CHUNK;
            const double *X = rows_at(R, c, mc, ws.buf, err);
            if (!X)
                goto done;
            for (size_t i0 = c; i0 < c + mc; i0 += HESS_BLOCK)
                hess_block(X + (i0 - c) * d, c + mc - i0 < HESS_BLOCK ? c + mc - i0 : HESS_BLOCK, y + i0, s + i0, C,
                           theta, d, g, H);
        }
        gmax = 0.0;
        for (size_t j = 0; j < k; j++)
            gmax = fmax(gmax, fabs(g[j]));
        if (gmax <= gtol)
            break;
        if (!(H[d * k + d] > 0.0))
            H[d * k + d] = DBL_MIN; /* saturated probabilities: keep the system solvable */
        if (newton_step(&fp, H, g, k, it, gmax, theta, &f, step, trial, err) != 0)
            goto done;
    }
    if (it == o->max_iter) {
        wb_err(err, WB_E_FAILED, NULL,
               "logistic regression did not converge in %d Newton iterations (gradient %g)",
               o->max_iter, gmax);
        goto done;
    }
    m->coef = malloc(d * sizeof *m->coef);
    if (!m->coef) {
        wb_err(err, WB_E_NOMEM, NULL, "logistic regression: out of memory");
        goto done;
    }
    memcpy(m->coef, theta, d * sizeof *m->coef);
    m->intercept = theta[d];
    m->d = d;
    m->iterations = it;
    m->grad_norm = gmax;
    rc = 0;
done:
    fit_scratch_free(&ws);
    return rc;
}

/* The checks before predicting with a model of fitted coefficients coef (NULL: not fitted) on
 * fitted_d features: X [n, d] finite with d == fitted_d, and somewhere to write. */
static int check_predict(const double *coef, size_t fitted_d, const double *X, size_t n, size_t d,
                         const double *out, wb_error *err)
{
    if (!coef)
        return wb_err(err, WB_E_USAGE, NULL, "logistic regression: the model is not fitted");
    if (d != fitted_d)
        return wb_err(err, WB_E_DATA, NULL,
                      "logistic regression: fitted on %zu features, given %zu", fitted_d, d);
    if (!out && n > 0)
        return wb_err(err, WB_E_USAGE, NULL, "logistic regression: no output");
    return check_matrix(X, n, d, 0, "logistic regression", err) != 0 ? -1 : 0;
}

int exp_logreg_decision(const exp_logreg *m, const double *X, size_t n, size_t d, double *out,
                        wb_error *err)
{
    if (check_predict(m ? m->coef : NULL, m ? m->d : 0, X, n, d, out, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        double z = m->intercept;
        for (size_t j = 0; j < d; j++)
            z += X[i * d + j] * m->coef[j];
        out[i] = z;
    }
    return 0;
}

int exp_logreg_predict_proba(const exp_logreg *m, const double *X, size_t n, size_t d,
                             double *p, wb_error *err)
{
    if (exp_logreg_decision(m, X, n, d, p, err) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        p[i] = sigmoid(p[i]);
    return 0;
}

/* ------------------------------------------------------- multinomial logistic regression */

void exp_logreg_mn_init(exp_logreg_mn *m)
{
    if (m)
        memset(m, 0, sizeof *m);
}

void exp_logreg_mn_free(exp_logreg_mn *m)
{
    if (!m)
        return;
    free(m->coef);
    free(m->intercept);
    memset(m, 0, sizeof *m);
}

/* Softmax of the K scores of row x under theta ([K][d+1], intercept last) into p; returns
 * log-sum-exp of the scores. z is scratch of K. */
static double mn_softmax(const double *x, const double *theta, size_t d, int K, double *z, double *p)
{
    size_t k = d + 1;
    double zmax = -INFINITY;
    for (int c = 0; c < K; c++) {
        z[c] = margin(x, theta + (size_t)c * k, d);
        zmax = fmax(zmax, z[c]);
    }
    double sum = 0.0;
    for (int c = 0; c < K; c++) {
        p[c] = exp(z[c] - zmax);
        sum += p[c];
    }
    for (int c = 0; c < K; c++)
        p[c] /= sum;
    return zmax + log(sum);
}

/* The multinomial problem's gradient g and Hessian lower triangle H (P = K (d + 1) columns;
 * parameter (c, a) at c (d + 1) + a, a = d the intercept) plus the terms of nb <= HESS_BLOCK
 * samples, each element's added in sample order (the bits of one sample at a time), the
 * Hessian's rows read and written once per block. z is scratch of K. */
static void mn_hess_block(const double *X, size_t nb, const int *y, const double *s, double C,
                          const double *theta, size_t d, int K, double *z, double *g, double *H)
{
    const size_t k = d + 1, P = (size_t)K * k;
    double p[HESS_BLOCK][EXP_LOGREG_MAX_CLASSES], r[HESS_BLOCK], h[HESS_BLOCK], ha[HESS_BLOCK];
    const double *x[HESS_BLOCK];
    for (size_t j = 0; j < nb; j++) {
        x[j] = X + j * d;
        mn_softmax(x[j], theta, d, K, z, p[j]);
    }
    for (int c = 0; c < K; c++) {
        for (size_t j = 0; j < nb; j++)
            r[j] = C * s[j] * (p[j][c] - (y[j] == c));
        for (size_t a = 0; a < d; a++)
            for (size_t j = 0; j < nb; j++)
                g[(size_t)c * k + a] += r[j] * x[j][a];
        for (size_t j = 0; j < nb; j++)
            g[(size_t)c * k + d] += r[j];
        for (int c2 = 0; c2 <= c; c2++) {
            for (size_t j = 0; j < nb; j++)
                h[j] = C * s[j] * ((c == c2 ? p[j][c] : 0.0) - p[j][c] * p[j][c2]);
            for (size_t a = 0; a < k; a++) {
                for (size_t j = 0; j < nb; j++)
                    ha[j] = h[j] * (a < d ? x[j][a] : 1.0);
                double *row = H + ((size_t)c * k + a) * P + (size_t)c2 * k;
                const size_t bmax = c2 == c ? a : d; /* lower triangle only */
                hess_row_add(row, bmax < d ? bmax + 1 : d, ha, x, nb);
                if (bmax == d) /* the intercept's column: x = 1 */
                    for (size_t j = 0; j < nb; j++)
                        row[d] += ha[j] * 1.0;
            }
        }
    }
}

/* The objective plus MN_SHIFT * (sum of intercepts)^2: the data term and the penalty do not
 * change when every intercept moves by the same amount, so the extra term only picks the
 * optimum whose intercepts sum to 0 (where it is 0), the one scikit-learn's lbfgs, started
 * from zeros, reaches; it also makes the Hessian positive definite. */
#define MN_SHIFT 1.0

static int mn_fit_objective(const fit_problem *fp, const double *theta, double *f, wb_error *err)
{
    const size_t n = fp->n, d = fp->d, k = d + 1;
    const int K = fp->K, *y = fp->y;
    const double *s = fp->s;
    double *z = fp->z, *p = fp->p;
    double reg = 0.0, loss = 0.0, bsum = 0.0;
    for (int c = 0; c < K; c++) {
        for (size_t j = 0; j < d; j++)
            reg += theta[(size_t)c * k + j] * theta[(size_t)c * k + j];
        bsum += theta[(size_t)c * k + d];
    }
    for (size_t c = 0; c < n; c += EXP_ROWS_CHUNK) {
        size_t mc = n - c < EXP_ROWS_CHUNK ? n - c : EXP_ROWS_CHUNK;
        const double *X = rows_at(fp->X, c, mc, fp->buf, err);
        if (!X)
            return -1;
        for (size_t i = c; i < c + mc; i++) {
            double lse = mn_softmax(X + (i - c) * d, theta, d, K, z, p);
            loss += s[i] * (lse - z[y[i]]);
        }
    }
    *f = 0.5 * reg + fp->C * loss + MN_SHIFT * bsum * bsum;
    return 0;
}

int exp_logreg_mn_fit(exp_logreg_mn *m, const double *X, const int *y, const double *w, size_t n,
                      size_t d, int K, const exp_logreg_options *o, wb_error *err)
{
    exp_rows R = exp_rows_of(X, n, d);
    return exp_logreg_mn_fit_rows(m, &R, y, w, K, o, err);
}

int exp_logreg_mn_fit_rows(exp_logreg_mn *m, const exp_rows *R, const int *y, const double *w, int K,
                           const exp_logreg_options *o, wb_error *err)
{
    const size_t n = R->n, d = R->d;
    exp_logreg_options def;
    if (!o) {
        exp_logreg_options_default(&def);
        o = &def;
    }
    if (!m)
        return wb_err(err, WB_E_USAGE, NULL, "logistic regression: no output");
    exp_logreg_mn_free(m);
    if (check_options(o, err) != 0)
        return -1;
    if (K < 2 || K > EXP_LOGREG_MAX_CLASSES)
        return wb_err(err, WB_E_USAGE, NULL, "logistic regression: %d classes, expected 2 .. %d", K,
                      EXP_LOGREG_MAX_CLASSES);
    if (d == 0 || (d + 1) * (size_t)K > EXP_LOGREG_MN_MAX_PARAMS)
        return wb_err(err, WB_E_USAGE, NULL,
                      "logistic regression: %zu features x %d classes, at most %d parameters are supported",
                      d, K, EXP_LOGREG_MN_MAX_PARAMS);
    if (n == 0 || !y)
        return wb_err(err, WB_E_DATA, NULL, "logistic regression: no training samples");
    if (check_rows(R, "logistic regression", err) != 0)
        return -1;
    size_t cnt[EXP_LOGREG_MAX_CLASSES] = {0};
    for (size_t i = 0; i < n; i++) {
        if (y[i] < 0 || y[i] >= K)
            return wb_err(err, WB_E_DATA, NULL, "logistic regression: label %d at index %zu, expected 0 .. %d",
                          y[i], i, K - 1);
        if (w && (!isfinite(w[i]) || w[i] < 0.0))
            return wb_err(err, WB_E_DATA, NULL,
                          "logistic regression: weight at index %zu is negative or not finite", i);
        cnt[y[i]]++;
    }
    for (int c = 0; c < K; c++)
        if (cnt[c] == 0)
            return wb_err(err, WB_E_DATA, NULL,
                          "logistic regression needs every class in the training data; class %d has no sample", c);

    const size_t k = d + 1, P = (size_t)K * k;
    fit_scratch ws;
    if (fit_scratch_alloc(&ws, R, P, err) != 0)
        return -1;
    double *s = ws.s, *theta = ws.theta, *g = ws.g, *step = ws.step, *trial = ws.trial, *H = ws.H;
    double z[EXP_LOGREG_MAX_CLASSES], p[EXP_LOGREG_MAX_CLASSES], sw[EXP_LOGREG_MAX_CLASSES] = {0};
    int rc = -1;
    double swsum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double cw = o->class_weight == EXP_LOGREG_CW_BALANCED ? (double)n / ((double)K * (double)cnt[y[i]]) : 1.0;
        s[i] = (w ? w[i] : 1.0) * cw;
        sw[y[i]] += s[i];
        swsum += s[i];
    }
    for (int c = 0; c < K; c++)
        if (!(sw[c] > 0.0)) {
            wb_err(err, WB_E_DATA, NULL, "logistic regression: class %d has zero total weight", c);
            goto done;
        }
    const double C = o->C, gtol = o->tol * (1.0 + C * swsum);
    /* start from the class priors (log shares, centred): the optimum for coef = 0 */
    double lmean = 0.0;
    for (int c = 0; c < K; c++)
        lmean += log(sw[c]) / K;
    for (int c = 0; c < K; c++)
        theta[(size_t)c * k + d] = log(sw[c]) - lmean;
    const fit_problem fp = {R, ws.buf, y, s, n, d, K, C, z, p, mn_fit_objective};
    double f, gmax = INFINITY;
    if (fp.objective(&fp, theta, &f, err) != 0)
        goto done;
    int it;
    for (it = 0; it < o->max_iter; it++) {
        /* gradient and Hessian (lower triangle); parameter (c, a) is at c * k + a */
        double bsum = 0.0;
        for (int c = 0; c < K; c++) {
            for (size_t a = 0; a < d; a++)
                g[(size_t)c * k + a] = theta[(size_t)c * k + a];
            g[(size_t)c * k + d] = 0.0;
            bsum += theta[(size_t)c * k + d];
        }
        memset(H, 0, P * P * sizeof *H);
        const double *X = NULL; /* the chunk of rows i is in */
        for (int c = 0; c < K; c++) {
            for (size_t a = 0; a < d; a++)
                H[((size_t)c * k + a) * P + (size_t)c * k + a] = 1.0;
            g[(size_t)c * k + d] += 2.0 * MN_SHIFT * bsum;
            for (int c2 = 0; c2 <= c; c2++)
                H[((size_t)c * k + d) * P + (size_t)c2 * k + d] += 2.0 * MN_SHIFT;
        }
        for (size_t c0 = 0; c0 < n; c0 += EXP_ROWS_CHUNK) {
            const size_t mc = n - c0 < EXP_ROWS_CHUNK ? n - c0 : EXP_ROWS_CHUNK;
            if (!(X = rows_at(R, c0, mc, ws.buf, err)))
                goto done;
            for (size_t i0 = c0; i0 < c0 + mc; i0 += HESS_BLOCK)
                mn_hess_block(X + (i0 - c0) * d, c0 + mc - i0 < HESS_BLOCK ? c0 + mc - i0 : HESS_BLOCK, y + i0,
                              s + i0, C, theta, d, K, z, g, H);
        }
        gmax = 0.0;
        for (size_t j = 0; j < P; j++)
            gmax = fmax(gmax, fabs(g[j]));
        if (gmax <= gtol)
            break;
        if (newton_step(&fp, H, g, P, it, gmax, theta, &f, step, trial, err) != 0)
            goto done;
    }
    if (it == o->max_iter) {
        wb_err(err, WB_E_FAILED, NULL,
               "logistic regression did not converge in %d Newton iterations (gradient %g)", o->max_iter, gmax);
        goto done;
    }
    m->coef = malloc((size_t)K * d * sizeof *m->coef);
    m->intercept = malloc((size_t)K * sizeof *m->intercept);
    if (!m->coef || !m->intercept) {
        exp_logreg_mn_free(m);
        wb_err(err, WB_E_NOMEM, NULL, "logistic regression: out of memory");
        goto done;
    }
    for (int c = 0; c < K; c++) {
        memcpy(m->coef + (size_t)c * d, theta + (size_t)c * k, d * sizeof *m->coef);
        m->intercept[c] = theta[(size_t)c * k + d];
    }
    m->d = d;
    m->K = K;
    m->iterations = it;
    m->grad_norm = gmax;
    rc = 0;
done:
    fit_scratch_free(&ws);
    return rc;
}

int exp_logreg_mn_predict_proba(const exp_logreg_mn *m, const double *X, size_t n, size_t d, double *P,
                                wb_error *err)
{
    if (check_predict(m ? m->coef : NULL, m ? m->d : 0, X, n, d, P, err) != 0)
        return -1;
    const int K = m->K;
    for (size_t i = 0; i < n; i++) {
        double *row = P + i * (size_t)K, zmax = -INFINITY, sum = 0.0;
        for (int c = 0; c < K; c++) {
            double zc = m->intercept[c];
            for (size_t j = 0; j < d; j++)
                zc += X[i * d + j] * m->coef[(size_t)c * d + j];
            row[c] = zc;
            zmax = fmax(zmax, zc);
        }
        for (int c = 0; c < K; c++) {
            row[c] = exp(row[c] - zmax);
            sum += row[c];
        }
        for (int c = 0; c < K; c++)
            row[c] /= sum;
    }
    return 0;
}
