/* baseline.c — radiomic features + logistic regression on one fold. See baseline.h. */
#include "experiments/model/baseline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_fs.h"
#include "io/io_json.h"
#include "io/io_sbuf.h"

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
    return exp_baseline_fit_predict_keep(ds, train, n_train, val, n_val, test, n_test, bc, val_scores, test_scores, NULL,
                                         err);
}

int exp_baseline_fit_predict_keep(const exp_dataset *ds, const size_t *train, size_t n_train, const size_t *val,
                                  size_t n_val, const size_t *test, size_t n_test, const exp_baseline_cfg *bc,
                                  double *val_scores, double *test_scores, exp_baseline_model *keep, wb_error *err)
{
    const size_t d = (size_t)bc->n_features;
    if (d == 0) return wb_err(err, WB_E_CONFIG, NULL, "the baseline has no features");
    size_t nmax = n_train > n_val ? n_train : n_val;
    nmax = nmax > n_test ? nmax : n_test;
    /* X is standardised in place (each element read before it is written): no second copy */
    double *X = malloc((nmax ? nmax : 1) * d * sizeof *X), *Z = X;
    int *y = malloc((n_train ? n_train : 1) * sizeof *y);
    exp_scaler sc;
    exp_logreg m;
    exp_logreg_mn mm;
    const int K = bc->n_classes;
    exp_scaler_init(&sc);
    exp_logreg_init(&m);
    exp_logreg_mn_init(&mm);
    int rc = -1;
    if (!X || !y) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    /* standardise with the training images' statistics only */
    gather(ds, bc, train, n_train, X);
    for (size_t i = 0; i < n_train; i++) y[i] = ds->items[train[i]].label;
    if (exp_scaler_fit(&sc, X, n_train, d, err) || exp_scaler_transform(&sc, X, n_train, d, 0, Z, err)) goto done;
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
        if (exp_scaler_transform(&sc, X, ns[s], d, 0, Z, err) ||
            (K > 2 ? exp_logreg_mn_predict_proba(&mm, Z, ns[s], d, outs[s], err)
                   : exp_logreg_predict_proba(&m, Z, ns[s], d, outs[s], err)))
            goto done;
    }
    rc = 0;
    if (keep && K == 2) {
        /* hand the fitted statistics and coefficients over */
        exp_baseline_model_free(keep);
        keep->bc = *bc;
        keep->sc = sc;
        keep->lr = m;
        exp_scaler_init(&sc);
        exp_logreg_init(&m);
    }
done:
    if (rc && keep) exp_baseline_model_free(keep);
    exp_scaler_free(&sc);
    exp_logreg_free(&m);
    exp_logreg_mn_free(&mm);
    free(X);
    free(y);
    return rc;
}

/* ---- the fitted model as a file ---- */

void exp_baseline_model_init(exp_baseline_model *m)
{
    memset(&m->bc, 0, sizeof m->bc);
    exp_scaler_init(&m->sc);
    exp_logreg_init(&m->lr);
}

void exp_baseline_model_free(exp_baseline_model *m)
{
    if (!m) return;
    exp_scaler_free(&m->sc);
    exp_logreg_free(&m->lr);
    exp_baseline_model_init(m);
}

int exp_baseline_model_predict(const exp_baseline_model *m, const exp_dataset *ds, const size_t *idx, size_t n,
                               double *out, wb_error *err)
{
    const size_t d = (size_t)m->bc.n_features;
    if (d == 0 || m->sc.d != d || m->lr.d != d) return wb_err(err, WB_E_INTERNAL, NULL, "the baseline model is not fitted");
    if (n == 0) return 0;
    double *X = malloc(n * d * sizeof *X);
    if (!X) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    gather(ds, &m->bc, idx, n, X);
    int rc = exp_scaler_transform(&m->sc, X, n, d, 0, X, err) || exp_logreg_predict_proba(&m->lr, X, n, d, out, err) ? -1 : 0;
    free(X);
    return rc;
}

static void num_array(sbuf *b, const char *key, const double *v, size_t n)
{
    sb_printf(b, ",\n  \"%s\": [", key);
    for (size_t i = 0; i < n; i++) {
        sb_printf(b, "%s", i ? ", " : "");
        sb_num(b, v[i]);
    }
    sb_printf(b, "]");
}

int exp_baseline_model_write(const exp_baseline_model *m, const char *dir, const char *name, const char *variant,
                             wb_error *err)
{
    const size_t d = (size_t)m->bc.n_features;
    sbuf b = {0};
    sb_printf(&b, "{\n  \"format\": \"%s\",\n  \"variant\": ", EXP_BASELINE_FORMAT);
    sb_jstr(&b, variant);
    sb_printf(&b, ",\n  \"features\": [");
    size_t c = 0;
    for (int k = 0; k < EXP_PRE_N_FEATURES; k++)
        if (m->bc.use[k]) {
            sb_printf(&b, "%s", c++ ? ", " : "");
            sb_jstr(&b, exp_pre_feature_name(k));
        }
    sb_printf(&b, "]");
    num_array(&b, "mean", m->sc.mean, d);
    num_array(&b, "scale", m->sc.scale, d);
    num_array(&b, "coef", m->lr.coef, d);
    sb_printf(&b, ",\n  \"intercept\": ");
    sb_num(&b, m->lr.intercept);
    sb_printf(&b, ",\n  \"C\": ");
    sb_num(&b, m->bc.C);
    sb_printf(&b, ",\n  \"class_weight\": \"%s\"\n}\n", m->bc.balanced ? "balanced" : "none");
    int rc = sb_write(&b, dir, name, err);
    sb_free(&b);
    return rc;
}

/* The d finite numbers of array key into out (malloc'd). */
static int read_array(const io_json_doc *doc, const char *path, const char *key, size_t d, double **out, wb_error *err)
{
    const io_json_node *a = io_json_get(doc, &doc->nodes[0], key);
    if (!a || a->type != IO_JSON_ARRAY || a->count != d)
        return wb_err(err, WB_E_DATA, path, "%s: expected an array of %zu numbers (one per feature)", key, d);
    if (!(*out = malloc(d * sizeof **out))) return wb_err(err, WB_E_NOMEM, path, "out of memory");
    size_t i = 0;
    for (int32_t c = a->first; c >= 0; c = doc->nodes[c].next, i++) {
        const io_json_node *e = &doc->nodes[c];
        if (e->type != IO_JSON_NUMBER || !isfinite(e->num))
            return wb_err(err, WB_E_DATA, path, "%s[%zu]: expected a finite number", key, i);
        (*out)[i] = e->num;
    }
    return 0;
}

int exp_baseline_model_read(const char *path, exp_baseline_model *m, wb_error *err)
{
    exp_baseline_model_free(m);
    io_json_doc doc;
    if (io_json_load(path, 1 << 20, &doc, err) != 0) return -1;
    int rc = -1;
    const io_json_node *root = &doc.nodes[0], *fmt = io_json_get(&doc, root, "format"),
                       *feats = io_json_get(&doc, root, "features"), *ic = io_json_get(&doc, root, "intercept");
    if (root->type != IO_JSON_OBJECT || !fmt || fmt->type != IO_JSON_STRING || strcmp(fmt->str, EXP_BASELINE_FORMAT)) {
        wb_err(err, WB_E_DATA, path, "not a baseline model of format %s", EXP_BASELINE_FORMAT);
        goto done;
    }
    if (!feats || feats->type != IO_JSON_ARRAY || feats->count == 0 || feats->count > EXP_PRE_N_FEATURES) {
        wb_err(err, WB_E_DATA, path, "features: expected an array of 1 to %d feature names", EXP_PRE_N_FEATURES);
        goto done;
    }
    /* the columns must come in the dataset's feature order (as gather takes them) */
    int last = -1;
    for (int32_t c = feats->first; c >= 0; c = doc.nodes[c].next) {
        const io_json_node *e = &doc.nodes[c];
        int k = -1;
        for (int q = 0; e->type == IO_JSON_STRING && q < EXP_PRE_N_FEATURES && k < 0; q++)
            if (!strcmp(e->str, exp_pre_feature_name(q))) k = q;
        if (k < 0 || k <= last) {
            wb_err(err, WB_E_DATA, path, "features: '%s' is not a radiomic feature of this workbench (or out of order)",
                   e->type == IO_JSON_STRING ? e->str : "(not a string)");
            goto done;
        }
        m->bc.use[k] = 1;
        last = k;
    }
    const size_t d = feats->count;
    m->bc.n_features = (int)d;
    m->bc.n_classes = 2;
    if (!ic || ic->type != IO_JSON_NUMBER || !isfinite(ic->num)) {
        wb_err(err, WB_E_DATA, path, "intercept: expected a finite number");
        goto done;
    }
    m->sc.d = m->lr.d = d;
    m->lr.intercept = ic->num;
    if (read_array(&doc, path, "mean", d, &m->sc.mean, err) || read_array(&doc, path, "scale", d, &m->sc.scale, err) ||
        read_array(&doc, path, "coef", d, &m->lr.coef, err))
        goto done;
    for (size_t i = 0; i < d; i++)
        if (!(m->sc.scale[i] > 0)) {
            wb_err(err, WB_E_DATA, path, "scale[%zu]: expected a positive number", i);
            goto done;
        }
    const io_json_node *C = io_json_get(&doc, root, "C");
    m->bc.C = C && C->type == IO_JSON_NUMBER ? C->num : NAN;
    const io_json_node *cw = io_json_get(&doc, root, "class_weight");
    m->bc.balanced = cw && cw->type == IO_JSON_STRING && !strcmp(cw->str, "balanced");
    rc = 0;
done:
    if (rc) exp_baseline_model_free(m);
    io_json_free(&doc);
    return rc;
}

void exp_baseline_model_name(int r, int f, const char *variant, char *buf, size_t n)
{
    snprintf(buf, n, "r%d_f%d_%s.baseline.json", r, f, variant);
}
