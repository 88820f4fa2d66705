/* test_multiclass.c — multi-class labels against scikit-learn 1.2 (fixtures made by
 * make_fixtures.py):
 * - argmax, accuracy, balanced accuracy, macro F1, log loss, one-vs-rest AUCs on synthetic
 *   probabilities (fixtures/multiclass.txt), including a class never true but predicted, a
 *   probability of exactly 0 and rows that do not sum to 1;
 * - the multinomial logistic regression's coefficients, intercepts and probabilities against
 *   LogisticRegression(multi_class='multinomial') (warm-started to its optimum, and one fit);
 * - every per-fold and pooled number of the committed multi-class run
 *   (tests/report/data/fixture-run-mc/metrics.csv), image and breast level, against the same
 *   metrics that scikit-learn computes from that run's predictions.csv (fixtures/run_mc.txt);
 * - the error paths.
 *
 * Usage: test_exp_multiclass FIXTURE_DIR RUN_DIR
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../wb_test.h"
#include "fixture.h"
#include "io/io_csv.h"
#include "experiments/model/logreg.h"
#include "experiments/eval/metrics.h"

#define TOL 1e-12

static void check_metrics(const fx_case *c, const int *y, const double *p, size_t n, int K)
{
    const char *cn = c->name;
    wb_error err = {0};
    int *pred = malloc(n * sizeof *pred);
    CHECK(exp_metrics_argmax(p, n, K, pred, &err) == 0, "%s: argmax: %s", cn, err.msg);
    const fx_entry *ep = fx_get(c, "pred");
    for (size_t i = 0; i < n; i++) CHECK_EQ_INT(pred[i], (int)ep->v[i], "argmax");
    double v;
    CHECK(exp_metrics_mc_accuracy(y, pred, n, K, &v, &err) == 0, "%s: %s", cn, err.msg);
    CHECK_CLOSE(v, fx_get(c, "accuracy")->v[0], TOL, "%s: accuracy", cn);
    CHECK(exp_metrics_mc_balanced_accuracy(y, pred, n, K, &v, &err) == 0, "%s: %s", cn, err.msg);
    CHECK_CLOSE(v, fx_get(c, "balanced_accuracy")->v[0], TOL, "%s: balanced accuracy", cn);
    CHECK(exp_metrics_mc_f1_macro(y, pred, n, K, &v, &err) == 0, "%s: %s", cn, err.msg);
    CHECK_CLOSE(v, fx_get(c, "f1_macro")->v[0], TOL, "%s: macro F1", cn);
    CHECK(exp_metrics_log_loss(y, p, n, K, &v, &err) == 0, "%s: %s", cn, err.msg);
    CHECK_CLOSE(v, fx_get(c, "log_loss")->v[0], TOL * fmax(1, v), "%s: log loss", cn);
    const fx_entry *ma = fx_get(c, "macro_auc");
    double per[64];
    if (ma) {
        CHECK(exp_metrics_auc_ovr(y, p, NULL, n, K, &v, per, &err) == 0, "%s: %s", cn, err.msg);
        CHECK_CLOSE(v, ma->v[0], TOL, "%s: macro AUC", cn);
        for (int k = 0; k < K; k++) CHECK_CLOSE(per[k], fx_get(c, "per_class_auc")->v[k], TOL, "%s: AUC class %d", cn, k);
    } else {
        CHECK(exp_metrics_auc_ovr(y, p, NULL, n, K, &v, per, &err) == -1, "%s: a missing class must fail", cn);
    }
    free(pred);
}

static void test_metrics(const fx_file *F)
{
    static const char *names[] = {"mc_k3", "mc_k5", "mc_missing"};
    for (int k = 0; k < 3; k++) {
        const fx_case *c = fx_case_get(F, names[k]);
        int K = (int)fx_get(c, "K")->v[0];
        int *y = fx_ints(fx_get(c, "y"));
        check_metrics(c, y, fx_get(c, "p")->v, fx_get(c, "y")->n, K);
        free(y);
    }
}

static void test_logreg(const fx_file *F)
{
    const fx_case *c = fx_case_get(F, "logreg_mn");
    size_t n = (size_t)fx_get(c, "shape")->v[0], d = (size_t)fx_get(c, "shape")->v[1];
    int K = (int)fx_get(c, "shape")->v[2];
    const double *Z = fx_get(c, "Z")->v;
    int *y = fx_ints(fx_get(c, "y"));
    double P[20 * 8];
    int fits = 0;
    for (size_t e = 0; e < c->n; e++) {
        if (strcmp(c->e[e].key, "fit")) continue;
        fits++;
        double C = c->e[e].v[0];
        exp_logreg_options o;
        exp_logreg_options_default(&o);
        o.C = C;
        o.class_weight = c->e[e].v[1] > 0 ? EXP_LOGREG_CW_BALANCED : EXP_LOGREG_CW_NONE;
        exp_logreg_mn m;
        exp_logreg_mn_init(&m);
        wb_error err = {0};
        CHECK(exp_logreg_mn_fit(&m, Z, y, NULL, n, d, K, &o, &err) == 0, "fit C=%g: %s", C, err.msg);
        if (!m.coef) continue;
        /* entries after "fit": coef, intercept, proba, coef_ws, intercept_ws, proba_ws */
        const fx_entry *coef = &c->e[e + 1], *icpt = &c->e[e + 2], *proba = &c->e[e + 3];
        const fx_entry *coef_ws = &c->e[e + 4], *icpt_ws = &c->e[e + 5], *proba_ws = &c->e[e + 6];
        CHECK(exp_logreg_mn_predict_proba(&m, Z, 20, d, P, &err) == 0, "%s", err.msg);
        double isum = 0;
        for (int k = 0; k < K; k++) {
            isum += m.intercept[k];
            CHECK_CLOSE(m.intercept[k], icpt_ws->v[k], 1e-7, "C=%g intercept[%d] (warm-started sklearn)", C, k);
            CHECK_CLOSE(m.intercept[k], icpt->v[k], 1e-4, "C=%g intercept[%d] (one sklearn fit)", C, k);
            for (size_t j = 0; j < d; j++) {
                CHECK_CLOSE(m.coef[k * d + j], coef_ws->v[k * d + j], 1e-7, "C=%g coef[%d][%zu] (warm-started)", C, k, j);
                CHECK_CLOSE(m.coef[k * d + j], coef->v[k * d + j], 1e-4, "C=%g coef[%d][%zu] (one fit)", C, k, j);
            }
        }
        CHECK_CLOSE(isum, 0, 1e-12, "C=%g: intercepts sum to 0", C);
        for (size_t i = 0; i < 20 * (size_t)K; i++) {
            CHECK_CLOSE(P[i], proba_ws->v[i], 1e-8, "C=%g proba[%zu] (warm-started)", C, i);
            CHECK_CLOSE(P[i], proba->v[i], 1e-4, "C=%g proba[%zu] (one fit)", C, i);
        }
        exp_logreg_mn_free(&m);
    }
    CHECK_EQ_INT(fits, 3, "multinomial fits in the fixture");
    /* errors: a class without samples, a label out of range, too many classes */
    exp_logreg_mn m;
    exp_logreg_mn_init(&m);
    wb_error err = {0};
    CHECK(exp_logreg_mn_fit(&m, Z, y, NULL, n, d, K + 1, NULL, &err) == -1, "a missing class must fail");
    CHECK_CONTAINS(err.msg, "has no sample", "missing class message");
    y[3] = K;
    CHECK(exp_logreg_mn_fit(&m, Z, y, NULL, n, d, K, NULL, &err) == -1, "a label out of range must fail");
    CHECK_CONTAINS(err.msg, "expected 0 ..", "label message");
    CHECK(exp_logreg_mn_fit(&m, Z, y, NULL, n, d, 1000, NULL, &err) == -1, "1000 classes must fail");
    CHECK(m.coef == NULL, "no model after failures");
    free(y);
}

/* Every number of the committed run's metrics.csv that scikit-learn has a value for. */
static void test_run(const fx_file *F, const char *run_dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
    io_csv csv;
    wb_error err = {0};
    if (io_csv_read(path, &csv, &err) != 0) {
        CHECK(0, "%s: %s", path, err.msg);
        return;
    }
    static const char *const classes[] = {"normal", "benign", "malignant"};
    static const char *const plain[] = {"accuracy", "balanced_accuracy", "f1_macro", "log_loss", "n"};
    size_t checked = 0;
    for (size_t i = 0; i < F->n; i++) {
        const fx_case *c = &F->c[i];
        char variant[64], level[16], fold[16];
        if (sscanf(c->name, "%63[^/]/%15[^/]/%15s", variant, level, fold) != 3) continue;
        for (size_t r = 0; r < csv.n_rows; r++) {
            if (strcmp(io_csv_cell(&csv, r, 0), "0") || strcmp(io_csv_cell(&csv, r, 1), fold) ||
                strcmp(io_csv_cell(&csv, r, 2), variant) || strcmp(io_csv_cell(&csv, r, 3), level))
                continue;
            const char *metric = io_csv_cell(&csv, r, 4), *val = io_csv_cell(&csv, r, 5);
            const fx_entry *want = NULL;
            size_t k = 0;
            for (size_t q = 0; q < 5; q++)
                if (!strcmp(metric, plain[q])) want = fx_get(c, plain[q]);
            if (!strcmp(metric, "auc")) want = fx_get(c, "macro_auc");
            for (size_t q = 0; q < 3; q++) {
                char nm[64];
                snprintf(nm, sizeof nm, "auc_ovr_%s", classes[q]);
                if (!strcmp(metric, nm)) want = fx_get(c, "per_class_auc"), k = q;
            }
            if (!strncmp(metric, "n_class_", 8)) continue;
            if (!want) {
                /* sklearn has no value (a class missing from the fold): the run says null */
                CHECK_STR(val, "null", c->name);
                continue;
            }
            double got = strtod(val, NULL);
            CHECK_CLOSE(got, want->v[k], 1e-12 * fmax(1, fabs(got)), "%s: %s", c->name, metric);
            checked++;
        }
    }
    /* 3 variants x 2 levels x (pooled + 3 folds) x (auc + 3 per class + 5) */
    CHECK(checked >= 3 * 2 * 4 * 6, "numbers checked against scikit-learn: %zu", checked);
    io_csv_free(&csv);
}

static void test_errors(void)
{
    int y[3] = {0, 1, 2}, pred[3] = {0, 1, 3};
    double p[6] = {0.5, 0.5, NAN, 0.2, 0.3, 0.7}, v;
    wb_error err = {0};
    CHECK(exp_metrics_mc_accuracy(y, pred, 3, 3, &v, &err) == -1, "prediction out of range");
    CHECK_CONTAINS(err.msg, "outside", "range message");
    CHECK(exp_metrics_mc_f1_macro(y, pred, 0, 3, &v, &err) == -1, "no samples");
    CHECK(exp_metrics_mc_balanced_accuracy(y, pred, 3, 1, &v, &err) == -1, "one class");
    CHECK(exp_metrics_argmax(p, 3, 2, pred, &err) == -1, "NaN score");
    CHECK_CONTAINS(err.msg, "non-finite", "NaN message");
    double q[4] = {0.5, 1.5, 0.2, 0.8};
    int y2[2] = {0, 1};
    CHECK(exp_metrics_log_loss(y2, q, 2, 2, &v, &err) == -1, "a score above 1");
    CHECK_CONTAINS(err.msg, "not a probability", "probability message");
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s FIXTURE_DIR RUN_DIR\n", argv[0]);
        return 2;
    }
    fx_file F = fx_load(argv[1], "multiclass.txt");
    test_metrics(&F);
    test_logreg(&F);
    fx_free(&F);
    fx_file R = fx_load(argv[1], "run_mc.txt");
    test_run(&R, argv[2]);
    fx_free(&R);
    test_errors();
    return wb_test_finish("exp_multiclass");
}
