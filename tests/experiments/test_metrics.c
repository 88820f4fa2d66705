/* test_metrics.c — experiments/metrics against scikit-learn / NumPy / SciPy values from
 * make_fixtures.py (fixtures/metrics.txt, fixtures/ttest.txt), a published DeLong-era example
 * (Hanley & McNeil 1982), and the error paths.
 *
 * Usage: test_exp_metrics FIXTURE_DIR
 */
#include <math.h>
#include <stdlib.h>

#include "../wb_test.h"
#include "fixture.h"
#include "experiments/eval/metrics.h"

#define TOL 1e-12 /* sums of up to a few hundred terms in a different order */

#define CHECK_REL(a, b, rel, ...) CHECK_CLOSE((a), (b), (rel) * fmax(1.0, fabs((double)(b))), __VA_ARGS__)

static void check_array(const double *got, size_t ngot, const fx_entry *want, size_t offset,
                        double tol, const char *what, const char *cname)
{
    CHECK_EQ_INT(ngot, want->n + offset, what);
    if (ngot != want->n + offset)
        return;
    for (size_t i = 0; i < want->n; i++)
        CHECK_CLOSE(got[i + offset], want->v[i], tol, "%s: %s[%zu]", cname, what, i + offset);
}

static void test_binary_case(const fx_case *c)
{
    const fx_entry *ey = fx_get(c, "y"), *es = fx_get(c, "s"), *ew = fx_get(c, "w");
    size_t n = ey->n;
    int *y = fx_ints(ey);
    const double *s = es->v, *w = ew ? ew->v : NULL;
    const char *cn = c->name;
    wb_error err = {0};
    double v;

    CHECK(exp_metrics_auc(y, s, w, n, &v, &err) == 0, "%s: auc: %s", cn, err.msg);
    CHECK_CLOSE(v, fx_get(c, "auc")->v[0], TOL, "%s: auc", cn);
    CHECK(exp_metrics_average_precision(y, s, w, n, &v, &err) == 0, "%s: ap: %s", cn, err.msg);
    CHECK_CLOSE(v, fx_get(c, "ap")->v[0], TOL, "%s: average precision", cn);
    if (fx_get(c, "brier")) {
        CHECK(exp_metrics_brier(y, s, w, n, &v, &err) == 0, "%s: brier: %s", cn, err.msg);
        CHECK_CLOSE(v, fx_get(c, "brier")->v[0], TOL, "%s: brier", cn);
        CHECK(exp_metrics_ece(y, s, w, n, 10, &v, &err) == 0, "%s: ece: %s", cn, err.msg);
        CHECK_CLOSE(v, fx_get(c, "ece10")->v[0], TOL, "%s: ece10", cn);
        CHECK(exp_metrics_ece(y, s, w, n, 5, &v, &err) == 0, "%s: ece: %s", cn, err.msg);
        CHECK_CLOSE(v, fx_get(c, "ece5")->v[0], TOL, "%s: ece5", cn);
    }

    /* curves */
    exp_curve cv;
    exp_curve_init(&cv);
    for (int drop = 0; drop <= 1; drop++) {
        const char *tag = drop ? "roc_drop" : "roc";
        char k[64];
        snprintf(k, sizeof k, "%s_fpr", tag);
        const fx_entry *fpr = fx_get(c, k);
        if (!fpr)
            continue;
        snprintf(k, sizeof k, "%s_tpr", tag);
        const fx_entry *tpr = fx_get(c, k);
        snprintf(k, sizeof k, "%s_thr", tag);
        const fx_entry *thr = fx_get(c, k);
        CHECK(exp_metrics_roc_curve(y, s, w, n, drop, &cv, &err) == 0, "%s: roc: %s", cn,
              err.msg);
        check_array(cv.x, cv.npoints, fpr, 0, TOL, drop ? "roc_drop fpr" : "roc fpr", cn);
        check_array(cv.y, cv.npoints, tpr, 0, TOL, drop ? "roc_drop tpr" : "roc tpr", cn);
        check_array(cv.thr, cv.npoints, thr, 1, 0.0, drop ? "roc_drop thr" : "roc thr", cn);
        CHECK(cv.npoints > 0 && isinf(cv.thr[0]) && cv.thr[0] > 0, "%s: roc thr[0] = +inf", cn);
    }
    CHECK(exp_metrics_pr_curve(y, s, w, n, &cv, &err) == 0, "%s: pr: %s", cn, err.msg);
    check_array(cv.y, cv.npoints, fx_get(c, "pr_precision"), 0, TOL, "pr precision", cn);
    check_array(cv.x, cv.npoints, fx_get(c, "pr_recall"), 0, TOL, "pr recall", cn);
    check_array(cv.thr, cv.npoints - 1, fx_get(c, "pr_thr"), 0, 0.0, "pr thr", cn);
    exp_curve_free(&cv);
    exp_curve_free(&cv); /* twice is harmless */
    exp_curve_free(NULL);

    /* at thresholds: acc, bacc, sens, spec, precision, f1 */
    const fx_entry *ts = fx_get(c, "thresholds"), *at = fx_get(c, "at_threshold");
    for (size_t j = 0; j < ts->n; j++) {
        exp_confusion cm;
        CHECK(exp_metrics_confusion(y, s, w, n, ts->v[j], &cm, &err) == 0, "%s: %s", cn,
              err.msg);
        const double *r = at->v + 6 * j;
        CHECK_CLOSE(exp_confusion_accuracy(&cm), r[0], TOL, "%s: accuracy at %g", cn, ts->v[j]);
        CHECK_CLOSE(exp_confusion_balanced_accuracy(&cm), r[1], TOL, "%s: bacc at %g", cn,
                    ts->v[j]);
        CHECK_CLOSE(exp_confusion_sensitivity(&cm), r[2], TOL, "%s: sens at %g", cn, ts->v[j]);
        CHECK_CLOSE(exp_confusion_specificity(&cm), r[3], TOL, "%s: spec at %g", cn, ts->v[j]);
        CHECK_CLOSE(exp_confusion_precision(&cm), r[4], TOL, "%s: precision at %g", cn,
                    ts->v[j]);
        CHECK_CLOSE(exp_confusion_f1(&cm), r[5], TOL, "%s: f1 at %g", cn, ts->v[j]);
    }

    /* threshold choice and sensitivity at specificity (thresholds are scores: exact) */
    double t;
    CHECK(exp_metrics_threshold_youden(y, s, w, n, &t, &err) == 0, "%s: %s", cn, err.msg);
    CHECK(t == fx_get(c, "youden")->v[0], "%s: youden threshold %.17g, expected %.17g", cn, t,
          fx_get(c, "youden")->v[0]);
    static const double targets[] = {0.8, 0.9, 0.95};
    for (int k = 0; k < 3; k++) {
        char key[64];
        double tg = targets[k], want;
        snprintf(key, sizeof key, "thr_sens_%g", tg);
        want = fx_get(c, key)->v[0];
        CHECK(exp_metrics_threshold_for_sensitivity(y, s, w, n, tg, &t, &err) == 0, "%s", err.msg);
        CHECK(t == want, "%s: %s = %.17g, expected %.17g", cn, key, t, want);
        snprintf(key, sizeof key, "thr_spec_%g", tg);
        want = fx_get(c, key)->v[0];
        CHECK(exp_metrics_threshold_for_specificity(y, s, w, n, tg, &t, &err) == 0, "%s", err.msg);
        CHECK(t == want, "%s: %s = %.17g, expected %.17g", cn, key, t, want);
        snprintf(key, sizeof key, "sens_at_spec_%g", tg);
        const fx_entry *e = fx_get(c, key);
        double sens;
        CHECK(exp_metrics_sens_at_spec(y, s, w, n, tg, &sens, &t, &err) == 0, "%s", err.msg);
        CHECK_CLOSE(sens, e->v[0], TOL, "%s: %s", cn, key);
        CHECK(t == e->v[1], "%s: %s threshold %.17g, expected %.17g", cn, key, t, e->v[1]);
    }

    /* DeLong against the O(mn) structural components */
    const fx_entry *dl = fx_get(c, "delong");
    if (dl) {
        exp_delong d;
        CHECK(exp_metrics_delong(y, s, n, &d, &err) == 0, "%s: delong: %s", cn, err.msg);
        CHECK_CLOSE(d.auc, dl->v[0], TOL, "%s: delong auc", cn);
        CHECK_CLOSE(d.var, dl->v[1], 1e-9 * dl->v[1] + 1e-16, "%s: delong var", cn);
        double se = sqrt(dl->v[1]);
        CHECK_CLOSE(d.ci_lo, fmax(0.0, dl->v[0] - 1.959963984540054 * se), 1e-10, "%s: ci lo",
                    cn);
        CHECK_CLOSE(d.ci_hi, fmin(1.0, dl->v[0] + 1.959963984540054 * se), 1e-10, "%s: ci hi",
                    cn);
    }
    const fx_entry *dp = fx_get(c, "delong_paired");
    if (dp) {
        exp_delong_paired p;
        CHECK(exp_metrics_delong_paired(y, s, fx_get(c, "s2")->v, n, &p, &err) == 0,
              "%s: paired: %s", cn, err.msg);
        CHECK_CLOSE(p.auc_a, dp->v[0], TOL, "%s: paired auc a", cn);
        CHECK_CLOSE(p.auc_b, dp->v[1], TOL, "%s: paired auc b", cn);
        CHECK_CLOSE(p.var_a, dp->v[2], 1e-9 * dp->v[2], "%s: paired var a", cn);
        CHECK_CLOSE(p.var_b, dp->v[3], 1e-9 * dp->v[3], "%s: paired var b", cn);
        CHECK_CLOSE(p.cov, dp->v[4], 1e-9 * fabs(dp->v[4]), "%s: paired cov", cn);
        CHECK_CLOSE(p.z, dp->v[5], 1e-8, "%s: paired z", cn);
        CHECK_CLOSE(p.p, dp->v[6], 1e-9, "%s: paired p", cn);
        CHECK(p.diff_ci_lo < p.diff && p.diff < p.diff_ci_hi, "%s: diff CI", cn);
    }
    free(y);
}

static void test_ovr(const fx_file *F)
{
    static const char *names[] = {"ovr_k3", "ovr_k4"};
    for (int k = 0; k < 2; k++) {
        const fx_case *c = fx_case_get(F, names[k]);
        int K = (int)fx_get(c, "K")->v[0];
        const fx_entry *ey = fx_get(c, "y");
        int *y = fx_ints(ey);
        const double *p = fx_get(c, "p")->v, *w = fx_get(c, "w")->v;
        double macro, per[8];
        wb_error err = {0};
        CHECK(exp_metrics_auc_ovr(y, p, NULL, ey->n, K, &macro, per, &err) == 0, "%s", err.msg);
        CHECK_CLOSE(macro, fx_get(c, "macro")->v[0], TOL, "%s: macro", names[k]);
        for (int j = 0; j < K; j++)
            CHECK_CLOSE(per[j], fx_get(c, "per_class")->v[j], TOL, "%s: class %d", names[k], j);
        CHECK(exp_metrics_auc_ovr(y, p, w, ey->n, K, &macro, NULL, &err) == 0, "%s", err.msg);
        CHECK_CLOSE(macro, fx_get(c, "macro_weighted")->v[0], TOL, "%s: weighted", names[k]);
        /* a class without samples */
        for (size_t i = 0; i < ey->n; i++)
            if (y[i] == K - 1)
                y[i] = 0;
        CHECK(exp_metrics_auc_ovr(y, p, NULL, ey->n, K, &macro, NULL, &err) == -1,
              "missing class must fail");
        CHECK_CONTAINS(err.msg, "has no samples", "missing class message");
        y[0] = K;
        CHECK(exp_metrics_auc_ovr(y, p, NULL, ey->n, K, &macro, NULL, &err) == -1,
              "label out of range must fail");
        CHECK_CONTAINS(err.msg, "outside", "label range message");
        free(y);
    }
}

/* Hanley & McNeil (1982), Table 1: published W = 0.893, SE(W) = 0.032 (their exponential
 * approximation; DeLong's nonparametric SE on the same data is close but not identical). */
static void test_published(const fx_file *F)
{
    const fx_case *c = fx_case_get(F, "hanley_mcneil_1982");
    int *y = fx_ints(fx_get(c, "y"));
    size_t n = fx_get(c, "y")->n;
    exp_delong d;
    wb_error err = {0};
    CHECK_EQ_INT(n, 109, "Hanley & McNeil: 109 patients");
    CHECK(exp_metrics_delong(y, fx_get(c, "s")->v, n, &d, &err) == 0, "%s", err.msg);
    CHECK_CLOSE(d.auc, 0.893, 0.0005, "Hanley & McNeil published AUC");
    CHECK_CLOSE(sqrt(d.var), 0.032, 0.002, "Hanley & McNeil published SE (approximately)");
    CHECK_EQ_INT(d.n_pos, 51, "abnormal");
    CHECK_EQ_INT(d.n_neg, 58, "normal");
    free(y);
}

static void test_errors(void)
{
    wb_error err = {0};
    double v, t;
    const int y1[] = {1, 1, 1, 1}, y0[] = {0, 0, 0, 0}, yb[] = {0, 1, 2, 1};
    const double s[] = {0.1, 0.4, 0.35, 0.8};
    exp_curve cv;
    exp_curve_init(&cv);

    CHECK(exp_metrics_auc(y1, s, NULL, 4, &v, &err) == -1, "all positive auc");
    CHECK_CONTAINS(err.msg, "only one class", "auc one-class message");
    CHECK_CONTAINS(err.msg, "no negatives", "auc one-class message");
    CHECK(err.code == WB_E_DATA, "code");
    CHECK(exp_metrics_auc(y0, s, NULL, 4, &v, &err) == -1, "all negative auc");
    CHECK_CONTAINS(err.msg, "no positives", "auc one-class message");
    CHECK(exp_metrics_roc_curve(y0, s, NULL, 4, 1, &cv, &err) == -1, "roc one class");
    CHECK(cv.npoints == 0 && cv.x == NULL, "failed roc leaves an empty curve");
    CHECK(exp_metrics_average_precision(y0, s, NULL, 4, &v, &err) == -1, "ap no positives");
    CHECK_CONTAINS(err.msg, "no positive", "ap message");
    CHECK(exp_metrics_average_precision(y1, s, NULL, 4, &v, &err) == 0 && v == 1.0,
          "ap all positive is 1");
    CHECK(exp_metrics_pr_curve(y0, s, NULL, 4, &cv, &err) == -1, "pr no positives");
    CHECK(exp_metrics_threshold_youden(y1, s, NULL, 4, &t, &err) == -1, "youden one class");
    CHECK(exp_metrics_sens_at_spec(y0, s, NULL, 4, 0.9, &v, &t, &err) == -1, "sens@spec");
    CHECK(exp_metrics_sens_at_spec(yb, s, NULL, 4, 1.5, &v, &t, &err) == -1, "target range");
    exp_delong d;
    CHECK(exp_metrics_delong(y1, s, 4, &d, &err) == -1, "delong one class");
    const int ysp[] = {0, 0, 1, 0};
    CHECK(exp_metrics_delong(ysp, s, 4, &d, &err) == -1, "delong single positive");
    CHECK_CONTAINS(err.msg, "at least 2 positives", "delong message");
    CHECK(exp_metrics_auc(ysp, s, NULL, 4, &v, &err) == 0, "auc single positive works");
    CHECK_CLOSE(v, 1.0 / 3.0, 1e-15, "auc single positive: 0.35 beats 0.1 only");

    CHECK(exp_metrics_auc(yb, s, NULL, 4, &v, &err) == -1, "label 2");
    CHECK_CONTAINS(err.msg, "label 2 at index 2", "label message");
    const double snan[] = {0.1, NAN, 0.3, 0.4};
    const int yok[] = {0, 1, 0, 1};
    CHECK(exp_metrics_auc(yok, snan, NULL, 4, &v, &err) == -1, "NaN score");
    CHECK_CONTAINS(err.msg, "index 1 is not finite", "nan message");
    const double wneg[] = {1, 1, -1, 1};
    CHECK(exp_metrics_auc(yok, s, wneg, 4, &v, &err) == -1, "negative weight");
    CHECK_CONTAINS(err.msg, "weight at index 2", "weight message");
    CHECK(exp_metrics_auc(yok, s, NULL, 0, &v, &err) == -1, "no samples");
    const double wzero_pos[] = {1, 0, 1, 0};
    CHECK(exp_metrics_auc(yok, s, wzero_pos, 4, &v, &err) == -1, "positives of weight 0");
    const double sbig[] = {0.1, 1.5, 0.3, 0.4};
    CHECK(exp_metrics_brier(yok, sbig, NULL, 4, &v, &err) == -1, "brier needs probabilities");
    CHECK_CONTAINS(err.msg, "[0, 1]", "brier message");
    CHECK(exp_metrics_ece(yok, s, NULL, 4, 0, &v, &err) == -1, "ece bins");
    CHECK(exp_metrics_ece(yok, s, NULL, 4, 10, &v, &err) == 0, "ece ok");
    /* score 1.0 lands in the last bin, 0.0 in the first */
    const double s01[] = {0.0, 1.0};
    const int y01[] = {0, 1};
    CHECK(exp_metrics_ece(y01, s01, NULL, 2, 10, &v, &err) == 0 && v == 0.0, "ece edges");
    exp_confusion cm;
    CHECK(exp_metrics_confusion(yok, s, NULL, 4, NAN, &cm, &err) == -1, "NaN threshold");
    /* threshold semantics: score >= t is positive */
    CHECK(exp_metrics_confusion(yok, s, NULL, 4, 0.4, &cm, &err) == 0, "confusion");
    CHECK(cm.tp == 2 && cm.fp == 0 && cm.fn == 0 && cm.tn == 2, "0.4 >= 0.4 is positive");
    /* one class: balanced accuracy averages the classes present, like sklearn */
    CHECK(exp_metrics_confusion(y1, s, NULL, 4, 0.3, &cm, &err) == 0, "confusion");
    CHECK_CLOSE(exp_confusion_balanced_accuracy(&cm), 0.75, 0, "bacc one class");
    CHECK_CLOSE(exp_confusion_specificity(&cm), 0.0, 0, "spec without negatives is 0");

    /* paired DeLong: identical scores */
    exp_delong_paired p;
    const int y6[] = {0, 1, 0, 1, 1, 0};
    const double s6[] = {0.2, 0.7, 0.4, 0.3, 0.9, 0.1};
    CHECK(exp_metrics_delong_paired(y6, s6, s6, 6, &p, &err) == 0, "%s", err.msg);
    CHECK(p.z == 0.0 && p.p == 1.0 && p.diff == 0.0, "identical scores: z 0, p 1");
    /* a monotone transform has the same ranks: same AUC, p = 1 */
    double s6b[6];
    for (int i = 0; i < 6; i++)
        s6b[i] = exp(3 * s6[i]);
    CHECK(exp_metrics_delong_paired(y6, s6, s6b, 6, &p, &err) == 0 && p.p == 1.0,
          "monotone transform");
    CHECK(exp_metrics_delong_paired(y6, s6, snan, 4, &p, &err) == -1, "NaN second score");
    exp_curve_free(&cv);
}

static void test_t(const fx_file *F)
{
    const fx_entry *g = fx_get(fx_case_get(F, "t_cdf"), "grid");
    for (size_t i = 0; i + 3 < g->n; i += 4) {
        double t = g->v[i], df = g->v[i + 1], cdf = g->v[i + 2], p2 = g->v[i + 3];
        double got = exp_metrics_t_cdf(t, df);
        /* relative accuracy in the smaller tail, which is what p-values need */
        double tail = t <= 0 ? got : 1.0 - got, want_tail = t <= 0 ? cdf : 1.0 - cdf;
        double tol = (df >= 1000 ? 1e-9 : 1e-11) * fabs(want_tail) + 1e-300;
        if (t > 0)
            tol += 2e-16; /* 1 - cdf loses what cdf's rounding loses */
        CHECK_CLOSE(tail, want_tail, tol, "t cdf tail t=%g df=%g", t, df);
        CHECK_CLOSE(got, cdf, df >= 1000 ? 1e-10 : 1e-13, "t cdf t=%g df=%g", t, df);
        (void)p2;
    }
    CHECK(isnan(exp_metrics_t_cdf(1.0, 0.0)), "df 0 is NaN");
    CHECK(isnan(exp_metrics_t_cdf(NAN, 3.0)), "NaN t");
    CHECK_CLOSE(exp_metrics_t_cdf(INFINITY, 3.0), 1.0, 0, "t = inf");
    CHECK_CLOSE(exp_metrics_t_cdf(-INFINITY, 3.0), 0.0, 0, "t = -inf");
    CHECK_CLOSE(exp_metrics_t_cdf(1.0, INFINITY), exp_metrics_normal_cdf(1.0), 0, "df inf");
    const fx_entry *b = fx_get(fx_case_get(F, "betainc"), "grid");
    for (size_t i = 0; i + 3 < b->n; i += 4)
        CHECK_CLOSE(exp_metrics_betainc(b->v[i], b->v[i + 1], b->v[i + 2]), b->v[i + 3],
                    1e-12 * b->v[i + 3] + 1e-300, "betainc(%g, %g, %g)", b->v[i], b->v[i + 1],
                    b->v[i + 2]);
    CHECK(isnan(exp_metrics_betainc(-1, 1, 0.5)) && isnan(exp_metrics_betainc(1, 1, 1.5)),
          "betainc domain");

    static const char *names[] = {"ttest_k10", "ttest_k15"};
    for (int k = 0; k < 2; k++) {
        const fx_case *c = fx_case_get(F, names[k]);
        const fx_entry *a = fx_get(c, "a"), *bb = fx_get(c, "b"), *sz = fx_get(c, "sizes");
        const double *r = fx_get(c, "result")->v;
        exp_ttest tt;
        wb_error err = {0};
        CHECK(exp_metrics_ttest_corrected(a->v, bb->v, a->n, sz->v[0], sz->v[1], &tt, &err) == 0,
              "%s", err.msg);
        CHECK_CLOSE(tt.mean_diff, r[0], 1e-15, "%s mean", names[k]);
        CHECK_CLOSE(tt.var_diff, r[1], 1e-12 * r[1], "%s var", names[k]);
        CHECK_CLOSE(tt.t, r[2], 1e-10, "%s t", names[k]);
        CHECK_CLOSE(tt.p, r[3], 1e-10 * r[3], "%s p (relative)", names[k]);
        CHECK_CLOSE(tt.df, r[4], 0, "%s df", names[k]);
    }
    wb_error err = {0};
    exp_ttest tt;
    const double a3[] = {0.8, 0.7, 0.9}, b3[] = {0.7, 0.6, 0.8};
    CHECK(exp_metrics_ttest_corrected(a3, b3, 1, 10, 5, &tt, &err) == -1, "k = 1");
    CHECK_CONTAINS(err.msg, "at least 2 folds", "k message");
    CHECK(exp_metrics_ttest_corrected(a3, a3, 3, 10, 5, &tt, &err) == 0 && tt.p == 1.0,
          "equal methods: p = 1");
    const double b3c[] = {0.75, 0.65, 0.85};
    CHECK(exp_metrics_ttest_corrected(a3, b3c, 3, 10, 5, &tt, &err) == -1 ||
              tt.var_diff > 0, "constant non-zero difference is an error (or rounding noise)");
    CHECK(exp_metrics_ttest_corrected(a3, b3, 3, 0, 5, &tt, &err) == -1, "n_train 0");
    /* the correction only widens the test: plain paired t would give a smaller p */
    const double a5[] = {0.81, 0.79, 0.84, 0.80, 0.83}, b5[] = {0.78, 0.79, 0.80, 0.76, 0.80};
    CHECK(exp_metrics_ttest_corrected(a5, b5, 5, 400, 100, &tt, &err) == 0, "%s", err.msg);
    exp_ttest plain;
    CHECK(exp_metrics_ttest_corrected(a5, b5, 5, 1e300, 1e-300, &plain, &err) == 0, "plain");
    CHECK(tt.p > plain.p, "corrected p %g > uncorrected %g", tt.p, plain.p);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
        return 2;
    }
    fx_file F = fx_load(argv[1], "metrics.txt");
    int nbin = 0;
    for (size_t i = 0; i < F.n; i++)
        if (fx_get(&F.c[i], "s")) {
            test_binary_case(&F.c[i]);
            nbin++;
        }
    CHECK(nbin >= 10, "binary cases found: %d", nbin);
    test_ovr(&F);
    test_published(&F);
    fx_free(&F);
    test_errors();
    fx_file T = fx_load(argv[1], "ttest.txt");
    test_t(&T);
    fx_free(&T);
    return wb_test_finish("exp_metrics");
}
