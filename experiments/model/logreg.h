/* logreg.h — feature standardisation and L2-regularised binary logistic regression (the
 * classical baseline's classifier), solved to tight convergence in double precision.
 *
 *     // given: const double *Xtrain, *Xtest; double *Ztrain, *Ztest, *ptest; const int *ytrain; size_t ntrain, ntest, d;
 *     exp_scaler sc;  exp_scaler_init(&sc);
 *     exp_scaler_fit(&sc, Xtrain, ntrain, d, &err);            // training fold only
 *     exp_scaler_transform(&sc, Xtrain, ntrain, d, 0, Ztrain, &err);
 *     exp_logreg_options o;  exp_logreg_options_default(&o);   // C = 1, no class weights
 *     o.class_weight = EXP_LOGREG_CW_BALANCED;
 *     exp_logreg m;  exp_logreg_init(&m);
 *     if (exp_logreg_fit(&m, Ztrain, ytrain, NULL, ntrain, d, &o, &err) != 0) ...;
 *     exp_scaler_transform(&sc, Xtest, ntest, d, 0, Ztest, &err); // same statistics
 *     exp_logreg_predict_proba(&m, Ztest, ntest, d, ptest, &err);
 *     exp_logreg_free(&m);  exp_scaler_free(&sc);
 *
 * Matrices are row-major, n rows (samples) x d columns (features), double. The model minimises
 *     0.5 * ||coef||^2 + C * sum_i s_i * log(1 + exp(-(2 y_i - 1) * (x_i . coef + intercept)))
 * with s_i = sample weight x class weight: scikit-learn's LogisticRegression(penalty='l2', C)
 * objective, the intercept not penalised. Solved by Newton's method with a backtracking line
 * search and a Cholesky solve of the (d+1) x (d+1) Hessian, so d is capped at
 * EXP_LOGREG_MAX_FEATURES. tests/experiments checks the coefficients against scikit-learn's
 * lbfgs solver (tol 1e-10) to 1e-5.
 */
#ifndef EXP_LOGREG_H
#define EXP_LOGREG_H

#include <stddef.h>

#include "base/wb_error.h"

enum { EXP_LOGREG_MAX_FEATURES = 8192 };

/* -------------------------------------------------------------- rows a chunk at a time */

/* An n x d matrix of doubles (row-major) that the functions below read EXP_ROWS_CHUNK rows at
 * a time, in order: in memory (X), or, with X NULL, through read, which puts rows
 * [s, s + m) into buf (m x d doubles, m the caller's chunk) and returns buf, or NULL with err
 * set. Every sum runs over the rows in the same order either way, so a matrix read from disk
 * gives the same bits as the same matrix in memory. */
enum { EXP_ROWS_CHUNK = 256 };

typedef struct exp_rows {
    size_t n, d;
    const double *X; /* the whole matrix, or NULL: read */
    const double *(*read)(void *ctx, size_t s, size_t m, double *buf, wb_error *err);
    void *ctx;
} exp_rows;

/* The n x d matrix X as exp_rows. */
exp_rows exp_rows_of(const double *X, size_t n, size_t d);

/* ------------------------------------------------------------------------------ scaler */

/* Per-feature mean and scale, like sklearn.preprocessing.StandardScaler: the mean and the
 * population standard deviation (divisor n) of the training rows; a constant feature gets
 * scale 1, "constant" meaning var <= n eps var + (n eps mean)^2 as scikit-learn 1.2 decides
 * it (eps = DBL_EPSILON). Caller-owned:
 * _init, then _fit fills it (freeing what it held), _free releases it. */
typedef struct exp_scaler {
    size_t d;
    double *mean;  /* [d] */
    double *scale; /* [d] */
} exp_scaler;

void exp_scaler_init(exp_scaler *s);
void exp_scaler_free(exp_scaler *s); /* NULL is a no-op; leaves s initialised */

/* Fits on X (n x d). Fails on n == 0, a non-finite value (naming row and column), or d = 0. */
int exp_scaler_fit(exp_scaler *s, const double *X, size_t n, size_t d, wb_error *err);

/* exp_scaler_fit on rows read a chunk at a time (two passes), the same bits. */
int exp_scaler_fit_rows(exp_scaler *s, const exp_rows *X, wb_error *err);
/* out = (X - mean) / scale, n x d; out may be X itself. d must equal the fitted d. A
 * non-finite value is an error naming its feature and row; row0 is the index of X's first row
 * in the caller's whole matrix (a caller that standardises a matrix a chunk at a time passes
 * the chunk's offset, so the message names the row of the whole matrix), else 0. */
int exp_scaler_transform(const exp_scaler *s, const double *X, size_t n, size_t d, size_t row0, double *out,
                         wb_error *err);

/* ------------------------------------------------------------------- logistic regression */

typedef enum {
    EXP_LOGREG_CW_NONE = 0,
    EXP_LOGREG_CW_BALANCED = 1 /* class c weighted n / (2 n_c), n_c counted without weights,
                                  as scikit-learn's class_weight='balanced' */
} exp_logreg_class_weight;

typedef struct exp_logreg_options {
    double C;                             /* inverse regularisation strength, > 0 (default 1) */
    exp_logreg_class_weight class_weight; /* default none */
    int max_iter;                         /* Newton iterations (default 100) */
    double tol; /* stop when max |gradient| <= tol * (1 + C * sum s_i) (default 1e-12) */
} exp_logreg_options;

void exp_logreg_options_default(exp_logreg_options *o);

/* A fitted model. Caller-owned: _init, _fit fills it (freeing what it held), _free. */
typedef struct exp_logreg {
    size_t d;
    double *coef; /* [d] */
    double intercept;
    int iterations;   /* Newton iterations used */
    double grad_norm; /* max |gradient| of the objective at the solution */
} exp_logreg;

void exp_logreg_init(exp_logreg *m);
void exp_logreg_free(exp_logreg *m); /* NULL is a no-op; leaves m initialised */

/* Fits on X (n x d, usually standardised), labels y[i] in {0, 1}, optional sample weights w
 * (NULL: all 1; non-negative, finite). Fails (WB_E_DATA) if a class is missing (or has zero
 * total weight), on non-finite input, a bad label; (WB_E_USAGE) on C <= 0, d = 0 or
 * d > EXP_LOGREG_MAX_FEATURES; (WB_E_FAILED) if Newton's method does not converge. On failure
 * *m is left initialised (empty). */
int exp_logreg_fit(exp_logreg *m, const double *X, const int *y, const double *w, size_t n,
                   size_t d, const exp_logreg_options *o, wb_error *err);

/* exp_logreg_fit on rows read a chunk at a time (every Newton iteration and line-search step
 * reads them all once), the same bits as the matrix in memory. */
int exp_logreg_fit_rows(exp_logreg *m, const exp_rows *X, const int *y, const double *w,
                        const exp_logreg_options *o, wb_error *err);
/* out[i] = x_i . coef + intercept for the n rows of X (n x d). */
int exp_logreg_decision(const exp_logreg *m, const double *X, size_t n, size_t d, double *out,
                        wb_error *err);

/* p[i] = P(y = 1 | x_i) = 1 / (1 + exp(-decision)), computed without overflow. */
int exp_logreg_predict_proba(const exp_logreg *m, const double *X, size_t n, size_t d,
                             double *p, wb_error *err);

/* ----------------------------------------------------- multinomial logistic regression */

enum { EXP_LOGREG_MAX_CLASSES = 64, EXP_LOGREG_MN_MAX_PARAMS = 4096 };

/* A fitted multinomial (softmax) model: P(y = c | x) = softmax_c(x . coef[c] + intercept[c]).
 * Caller-owned: _init, _fit fills it (freeing what it held), _free. */
typedef struct exp_logreg_mn {
    size_t d;
    int K;
    double *coef;      /* [K][d], row-major */
    double *intercept; /* [K], summing to 0 */
    int iterations;
    double grad_norm;
} exp_logreg_mn;

void exp_logreg_mn_init(exp_logreg_mn *m);
void exp_logreg_mn_free(exp_logreg_mn *m); /* NULL is a no-op; leaves m initialised */

/* Fits on X (n x d), labels y[i] in 0..K-1, optional sample weights w, minimising
 *     0.5 * ||coef||_F^2 + C * sum_i s_i * -log softmax(x_i coef^T + intercept)[y_i]
 * (s_i = sample weight x class weight, 'balanced' = n / (K n_c); intercepts not penalised):
 * scikit-learn's LogisticRegression(multi_class='multinomial', penalty='l2', C). The
 * objective does not change when all intercepts move together; the solution returned has
 * intercepts summing to 0, as scikit-learn's lbfgs (started from zeros) returns them. Newton's
 * method on the K (d+1) parameters, so K (d+1) <= EXP_LOGREG_MN_MAX_PARAMS. Fails (WB_E_DATA)
 * if a class has no sample; otherwise as exp_logreg_fit. */
int exp_logreg_mn_fit(exp_logreg_mn *m, const double *X, const int *y, const double *w, size_t n,
                      size_t d, int K, const exp_logreg_options *o, wb_error *err);

/* exp_logreg_mn_fit on rows read a chunk at a time, the same bits. */
int exp_logreg_mn_fit_rows(exp_logreg_mn *m, const exp_rows *X, const int *y, const double *w, int K,
                           const exp_logreg_options *o, wb_error *err);
/* P[i*K + c] = P(y = c | x_i) for the n rows of X (n x d). */
int exp_logreg_mn_predict_proba(const exp_logreg_mn *m, const double *X, size_t n, size_t d, double *P,
                                wb_error *err);

#endif
