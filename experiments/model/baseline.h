/* baseline.h — the classical baseline: radiomic features (first-order, GLCM, mask shape) and
 * an L2-regularised logistic regression, standardised with training-fold statistics only. */
#ifndef EXP_BASELINE_H
#define EXP_BASELINE_H

#include <stddef.h>

#include "experiments/config/config.h"
#include "experiments/data/dataset.h"
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

#endif
