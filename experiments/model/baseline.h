/* baseline.h — the classical baseline: radiomic features (first-order, GLCM, mask shape) and
 * an L2-regularised logistic regression, standardised with training-fold statistics only. */
#ifndef EXP_BASELINE_H
#define EXP_BASELINE_H

#include <stddef.h>

#include "experiments/config/config.h"
#include "experiments/data/dataset.h"
#include "experiments/model/logreg.h"
#include "base/wb_error.h"

typedef struct exp_baseline_cfg {
    int use[EXP_PRE_N_FEATURES]; /* which features of the dataset are used */
    int n_features;
    double C;                    /* inverse L2 strength, as scikit-learn's C */
    int balanced;                /* class weights n / (K n_c) */
    int n_classes;               /* 2: binary logistic regression; K > 2: multinomial */
} exp_baseline_cfg;

/* Variant v's features and C, and train.class_weight. */
void exp_baseline_cfg_from_config(const exp_config *cfg, size_t v, exp_baseline_cfg *bc);

/* Fits on the training items and writes the positive-class probability of the validation
 * and test items (val_scores[n_val], test_scores[n_test], caller-allocated); with
 * n_classes K > 2, a multinomial (softmax) logistic regression and the K class probabilities
 * of each item (val_scores[n_val * K], test_scores[n_test * K], row-major). */
int exp_baseline_fit_predict(const exp_dataset *ds, const size_t *train, size_t n_train, const size_t *val,
                             size_t n_val, const size_t *test, size_t n_test, const exp_baseline_cfg *bc,
                             double *val_scores, double *test_scores, wb_error *err);

/* ---- a fitted binary baseline as a file (a run's models/ with train.save_weights; bundles) ----
 *
 *     // given: const exp_dataset *ds; const size_t *tr, *va, *te, *idx; size_t ntr, nva, nte, n;
 *     // given: exp_baseline_cfg bc; double *sval, *stest, *p;
 *     exp_baseline_model bm;  exp_baseline_model_init(&bm);
 *     exp_baseline_fit_predict_keep(ds, tr, ntr, va, nva, te, nte, &bc, sval, stest, &bm, &err);
 *     exp_baseline_model_write(&bm, "runs/x/models", "r0_f0_baseline.baseline.json", "baseline", &err);
 *     ...
 *     exp_baseline_model_read("bundle/reference/f0.json", &bm, &err);
 *     exp_baseline_model_predict(&bm, ds, idx, n, p, &err);   // p[n]: positive-class probabilities
 *     exp_baseline_model_free(&bm);
 *
 * The file (JSON, format "workbench-baseline-1"): variant, features (the names, as
 * exp_pre_feature_name gives them, in the model's column order), mean and scale (the training
 * fold's standardisation), coef, intercept, C, class_weight. Numbers as %.17g, so a model read
 * back scores bit for bit as the fitted one. */
#define EXP_BASELINE_FORMAT "workbench-baseline-1"

typedef struct exp_baseline_model {
    exp_baseline_cfg bc; /* use[] and n_features: which dataset features, in order */
    exp_scaler sc;
    exp_logreg lr;
} exp_baseline_model;

void exp_baseline_model_init(exp_baseline_model *m);
void exp_baseline_model_free(exp_baseline_model *m); /* NULL is a no-op; leaves m initialised */

/* exp_baseline_fit_predict, and (binary only; keep may be NULL) the fitted model into keep,
 * which must be initialised; on failure keep is freed. */
int exp_baseline_fit_predict_keep(const exp_dataset *ds, const size_t *train, size_t n_train, const size_t *val,
                                  size_t n_val, const size_t *test, size_t n_test, const exp_baseline_cfg *bc,
                                  double *val_scores, double *test_scores, exp_baseline_model *keep, wb_error *err);

/* The positive-class probability of items idx[0..n) of ds (out[n], caller-allocated). */
int exp_baseline_model_predict(const exp_baseline_model *m, const exp_dataset *ds, const size_t *idx, size_t n,
                               double *out, wb_error *err);

/* Writes the model to dir/name atomically (variant: the run's variant name). WB_E_WRITE. */
int exp_baseline_model_write(const exp_baseline_model *m, const char *dir, const char *name, const char *variant,
                             wb_error *err);
/* Reads a model written by exp_baseline_model_write into m (initialised; freed first).
 * WB_E_IO (cannot read), WB_E_DATA (not such a file, an unknown feature name, lengths that do
 * not agree, a non-finite number: naming the file and the key). */
int exp_baseline_model_read(const char *path, exp_baseline_model *m, wb_error *err);

/* The file name a run keeps the fitted baseline of repeat r, fold f, variant v under, in
 * RUN_DIR/models/: r<r>_f<f>_<v>.baseline.json. */
void exp_baseline_model_name(int r, int f, const char *variant, char *buf, size_t n);

#endif
