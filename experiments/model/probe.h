/* probe.h — the linear probe: L2 logistic regression on frozen backbone features, fitted to
 * convergence (the Newton solver of logreg.h), its strength C chosen on validation rows.
 *
 *     // given: const double *Xtr, *Xva, *Xte; const int *ytr, *yva; size_t ntr, nva, nte, d; double *prob, *W, *b;
 *     exp_probe_cfg pc;  exp_probe_cfg_default(&pc);        // C grid 1e-4 .. 1e2, binary
 *     exp_probe p;  exp_probe_init(&p);
 *     if (exp_probe_fit(&p, Xtr, ytr, ntr, Xva, yva, nva, d, &pc, &err) != 0) ...;
 *     exp_probe_predict(&p, Xte, nte, d, prob, &err);        // raw features in, probabilities out
 *     exp_probe_head(&p, W, b);                               // the same model as a linear layer
 *     exp_probe_free(&p);
 *
 * Features are raw (unstandardised) rows, n x d, double, row-major. The probe standardises
 * them with the mean and population standard deviation of the training rows (exp_scaler),
 * fits scikit-learn's LogisticRegression(penalty='l2', C) objective on the training rows for
 * every C of the grid, and keeps the fit whose validation log loss is lowest: the mean of
 * -log p(true class) over the validation rows (probabilities clipped to [1e-15, 1 - 1e-15]
 * as sklearn.metrics.log_loss does), each class weighted equally when the class weighting is
 * balanced (weights 1 / n_c of the validation rows), else each row equally. Ties go to the
 * smaller C (the stronger penalty). The kept model is trained on the training rows only, so
 * its validation predictions are not fitted to the validation rows (C was chosen on them, as
 * early stopping chooses an epoch). Without validation rows the grid value nearest to 1 (in
 * log scale) is fitted and kept. A C at which Newton's method does not converge is recorded
 * as failed (NaN) and skipped; the fit fails only if every C does.
 */
#ifndef EXP_PROBE_H
#define EXP_PROBE_H

#include <stddef.h>

#include "base/wb_error.h"
#include "experiments/model/logreg.h"

enum { EXP_PROBE_MAX_C = 32 };

typedef struct exp_probe_cfg {
    double C[EXP_PROBE_MAX_C]; /* the grid, any order, each > 0 */
    size_t n_C;
    int balanced;  /* class weights n / (K n_c) in the fit (scikit-learn's 'balanced') */
    int n_classes; /* 2: binary logistic regression; > 2: multinomial */
} exp_probe_cfg;

/* 13 values 1e-4, 3e-4, 1e-3, ..., 3e1, 1e2; not balanced; 2 classes. */
void exp_probe_cfg_default(exp_probe_cfg *c);

/* A fitted probe. Caller-owned: _init, _fit fills it (freeing what it held), _free. */
typedef struct exp_probe {
    size_t d;
    int K;                        /* classes (2: binary model) */
    exp_scaler sc;                /* the training rows' statistics */
    exp_logreg bin;               /* K == 2 */
    exp_logreg_mn mn;             /* K > 2 */
    size_t n_C;                   /* the grid, ascending */
    double C[EXP_PROBE_MAX_C];
    double val_loss[EXP_PROBE_MAX_C]; /* NaN: not fitted (failed, or no validation rows) */
    double val_auc[EXP_PROBE_MAX_C];  /* K > 2: one-vs-rest macro AUC; NaN when undefined */
    int chosen;                   /* index into C of the kept fit */
} exp_probe;

void exp_probe_init(exp_probe *p);
void exp_probe_free(exp_probe *p); /* NULL is a no-op; leaves p initialised */

/* Fits on the training rows Xtr [ntr, d] with labels ytr (0 .. K-1), chooses C on the
 * validation rows Xva [nva, d] (nva may be 0). Errors as exp_logreg_fit (a class missing from
 * the training rows is WB_E_DATA); WB_E_USAGE for an empty or oversized grid. On failure *p
 * is left initialised. */
int exp_probe_fit(exp_probe *p, const double *Xtr, const int *ytr, size_t ntr, const double *Xva, const int *yva,
                  size_t nva, size_t d, const exp_probe_cfg *c, wb_error *err);

/* exp_probe_fit without a standardised copy of the training rows: Xtr [ntr, d] is
 * standardised in place (on return it holds the standardised rows, whatever the outcome once
 * the scaler is fitted; the caller's raw values are gone), which saves ntr x d doubles. The
 * same model to the bit. */
int exp_probe_fit_inplace(exp_probe *p, double *Xtr, const int *ytr, size_t ntr, const double *Xva, const int *yva,
                          size_t nva, size_t d, const exp_probe_cfg *c, wb_error *err);

/* exp_probe_fit on raw rows read a chunk at a time (exp_rows, logreg.h: e.g. from a file),
 * so that no n x d matrix is held: the training rows are read (and standardised again, the
 * same values as standardised once) at every pass of the scaler and of each Newton iteration
 * and line-search step, in the same order, so the model, losses and AUCs are the same bits
 * as exp_probe_fit's on the same rows in memory. Xva may be NULL (no validation rows). The
 * cost: the solver's passes read ntr x d values each time instead of once. */
int exp_probe_fit_rows(exp_probe *p, const exp_rows *Xtr, const int *ytr, const exp_rows *Xva, const int *yva,
                       const exp_probe_cfg *c, wb_error *err);

/* Probabilities of raw rows X [n, d]: K == 2: out[i] = P(y = 1); K > 2: out[i*K + c].
 * Memory: X is standardised 512 rows at a time (the validation rows in exp_probe_fit too). */
int exp_probe_predict(const exp_probe *p, const double *X, size_t n, size_t d, double *out, wb_error *err);

/* exp_probe_predict on rows read a chunk at a time. */
int exp_probe_predict_rows(const exp_probe *p, const exp_rows *X, double *out, wb_error *err);

/* The kept model as a linear layer on raw features: logits = W x + b, W [Kout, d] row-major,
 * b [Kout], Kout = max(K, 2), with softmax(logits) equal to exp_probe_predict's probabilities.
 * The standardisation folds in (w / scale, b - sum w mean / scale); a binary model with
 * decision f becomes logits (-f/2, +f/2). */
void exp_probe_head(const exp_probe *p, double *W, double *b);

#endif
