/* baseline.c — radiomic features + logistic regression on one fold. See baseline.h. */
#include "experiments/model/baseline.h"

#include <stdlib.h>
#include <string.h>

#include "experiments/model/logreg.h"

void exp_baseline_cfg_from_config(const exp_config *cfg, size_t v, exp_baseline_cfg *bc)
{
    memset(bc, 0, sizeof *bc);
    const exp_settings *s = exp_config_get(cfg);
    const exp_settings_variant *vs = &s->variants[v];
    for (int f = 0; f < EXP_PRE_N_FEATURES; f++) {
        const char *name = exp_pre_feature_name(f);
        /* feature names start with their group: fo_, glcm_, shape_ */
        if (((vs->features & EXP_FEATURES_FIRST_ORDER) && !strncmp(name, "fo_", 3)) ||
            ((vs->features & EXP_FEATURES_GLCM) && !strncmp(name, "glcm_", 5)) ||
            ((vs->features & EXP_FEATURES_SHAPE) && !strncmp(name, "shape_", 6)))
            bc->use[f] = 1;
    }
    for (int f = 0; f < EXP_PRE_N_FEATURES; f++) bc->n_features += bc->use[f];
    bc->C = vs->C;
    bc->balanced = s->train.class_weight == EXP_CLASS_WEIGHT_BALANCED;
    size_t K = s->data.n_classes;
    bc->n_classes = K > 2 ? (int)K : 2;
}

/* The used features of items idx[0..n) as rows of X [n, d]. */
static void gather(const exp_dataset *ds, const exp_baseline_cfg *bc, const size_t *idx, size_t n, double *X)
{
    for (size_t i = 0; i < n; i++) {
        const double *f = ds->features + idx[i] * (size_t)ds->n_features;
        size_t c = 0;
        for (int k = 0; k < ds->n_features; k++)
            if (bc->use[k]) X[i * (size_t)bc->n_features + c++] = f[k];
    }
}

int exp_baseline_fit_predict(const exp_dataset *ds, const size_t *train, size_t n_train, const size_t *val,
                             size_t n_val, const size_t *test, size_t n_test, const exp_baseline_cfg *bc,
                             double *val_scores, double *test_scores, wb_error *err)
{
    const size_t d = (size_t)bc->n_features;
    if (d == 0) return wb_err(err, WB_E_CONFIG, NULL, "the baseline has no features");
    size_t nmax = n_train > n_val ? n_train : n_val;
    nmax = nmax > n_test ? nmax : n_test;
    double *X = malloc((nmax ? nmax : 1) * d * sizeof *X), *Z = malloc((nmax ? nmax : 1) * d * sizeof *Z);
    int *y = malloc((n_train ? n_train : 1) * sizeof *y);
    exp_scaler sc;
    exp_logreg m;
    exp_logreg_mn mm;
    const int K = bc->n_classes;
    exp_scaler_init(&sc);
    exp_logreg_init(&m);
    exp_logreg_mn_init(&mm);
    int rc = -1;
    if (!X || !Z || !y) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    /* standardise with the training images' statistics only */
    gather(ds, bc, train, n_train, X);
    for (size_t i = 0; i < n_train; i++) y[i] = ds->items[train[i]].label;
    if (exp_scaler_fit(&sc, X, n_train, d, err) || exp_scaler_transform(&sc, X, n_train, d, Z, err)) goto done;
    exp_logreg_options lo;
    exp_logreg_options_default(&lo);
    lo.C = bc->C;
    lo.class_weight = bc->balanced ? EXP_LOGREG_CW_BALANCED : EXP_LOGREG_CW_NONE;
    if (K > 2 ? exp_logreg_mn_fit(&mm, Z, y, NULL, n_train, d, K, &lo, err) : exp_logreg_fit(&m, Z, y, NULL, n_train, d, &lo, err))
        goto done;
    const size_t *sets[2] = {val, test};
    size_t ns[2] = {n_val, n_test};
    double *outs[2] = {val_scores, test_scores};
    for (int s = 0; s < 2; s++) {
        if (!ns[s]) continue;
        gather(ds, bc, sets[s], ns[s], X);
        if (exp_scaler_transform(&sc, X, ns[s], d, Z, err) ||
            (K > 2 ? exp_logreg_mn_predict_proba(&mm, Z, ns[s], d, outs[s], err)
                   : exp_logreg_predict_proba(&m, Z, ns[s], d, outs[s], err)))
            goto done;
    }
    rc = 0;
done:
    exp_scaler_free(&sc);
    exp_logreg_free(&m);
    exp_logreg_mn_free(&mm);
    free(X);
    free(Z);
    free(y);
    return rc;
}
