/* test_probe.c — experiments/model/probe: the linear probe against scikit-learn
 * (fixtures/probe.txt, made by make_fixtures.py): per C of the grid the validation log loss, the
 * C chosen, the test probabilities at that C (StandardScaler + LogisticRegression newton-cg,
 * binary, binary balanced, multinomial balanced) to 1e-6, the same model as a linear layer on
 * raw features (exp_probe_head), the fallback without validation rows, and the error paths.
 *
 * Usage: test_exp_probe FIXTURE_DIR
 */
#include <math.h>
#include <stdlib.h>

#include "../wb_test.h"
#include "fixture.h"
#include "experiments/model/probe.h"

#define PROB_TOL 1e-6 /* the brief's tolerance; the fits agree far closer (printed) */

static void test_case(const fx_case *c)
{
    const char *cn = c->name;
    const double *sh = fx_get(c, "shape")->v;
    size_t ntr = (size_t)sh[0], nva = (size_t)sh[1], nte = (size_t)sh[2], d = (size_t)sh[3];
    int K = (int)sh[4], bal = (int)sh[5];
    const fx_entry *grid = fx_get(c, "grid");
    int *ytr = fx_ints(fx_get(c, "ytr")), *yva = fx_ints(fx_get(c, "yva"));
    const double *Xtr = fx_get(c, "Xtr")->v, *Xva = fx_get(c, "Xva")->v, *Xte = fx_get(c, "Xte")->v;
    const double *loss = fx_get(c, "val_loss")->v, *proba = fx_get(c, "proba")->v;
    exp_probe_cfg pc;
    exp_probe_cfg_default(&pc);
    CHECK_EQ_INT(pc.n_C, grid->n, "default grid size");
    /* the grid in descending order: the probe sorts it */
    for (size_t k = 0; k < grid->n; k++) {
        CHECK_CLOSE(pc.C[k], grid->v[k], 1e-15 * grid->v[k], "%s: default grid[%zu]", cn, k);
        pc.C[k] = grid->v[grid->n - 1 - k];
    }
    pc.balanced = bal;
    pc.n_classes = K;
    exp_probe p;
    exp_probe_init(&p);
    wb_error err = {0};
    CHECK(exp_probe_fit(&p, Xtr, ytr, ntr, Xva, yva, nva, d, &pc, &err) == 0, "%s: %s", cn, err.msg);
    for (size_t k = 0; k < grid->n; k++) {
        CHECK_CLOSE(p.C[k], grid->v[k], 0, "%s: sorted grid[%zu]", cn, k);
        CHECK_CLOSE(p.val_loss[k], loss[k], 1e-8, "%s: validation log loss at C = %g", cn, grid->v[k]);
        CHECK(p.val_auc[k] >= 0 && p.val_auc[k] <= 1, "%s: validation AUC %g at C = %g", cn, p.val_auc[k], grid->v[k]);
    }
    CHECK_EQ_INT(p.chosen, (int)fx_get(c, "chosen")->v[0], "chosen C");
    const size_t S = K > 2 ? (size_t)K : 1;
    double *P = malloc(nte * S * sizeof *P), *Wh = malloc((size_t)(K > 2 ? K : 2) * d * sizeof *Wh), b[8];
    CHECK(exp_probe_predict(&p, Xte, nte, d, P, &err) == 0, "%s: %s", cn, err.msg);
    double worst = 0, worst_head = 0;
    for (size_t i = 0; i < nte * S; i++) {
        CHECK_CLOSE(P[i], proba[i], PROB_TOL, "%s: test probability %zu", cn, i);
        worst = fmax(worst, fabs(P[i] - proba[i]));
    }
    /* the linear layer on raw features gives the same probabilities through a softmax */
    exp_probe_head(&p, Wh, b);
    const int Ko = K > 2 ? K : 2;
    for (size_t i = 0; i < nte; i++) {
        double z[8], zmax = -INFINITY, sum = 0;
        for (int k = 0; k < Ko; k++) {
            z[k] = b[k];
            for (size_t j = 0; j < d; j++) z[k] += Wh[(size_t)k * d + j] * Xte[i * d + j];
            zmax = fmax(zmax, z[k]);
        }
        for (int k = 0; k < Ko; k++) sum += exp(z[k] - zmax);
        for (int k = (K > 2 ? 0 : 1); k < Ko; k++) {
            double q = exp(z[k] - zmax) / sum, ref = proba[i * S + (K > 2 ? (size_t)k : 0)];
            CHECK_CLOSE(q, ref, PROB_TOL, "%s: head probability of row %zu class %d", cn, i, k);
            worst_head = fmax(worst_head, fabs(q - ref));
        }
    }
    printf("%s: chosen C = %g, max |p - sklearn| = %.2e, through the raw-feature head %.2e\n", cn, p.C[p.chosen], worst,
           worst_head);

    /* no validation rows: the grid value nearest to C = 1 is fitted and kept, no losses */
    CHECK(exp_probe_fit(&p, Xtr, ytr, ntr, NULL, NULL, 0, d, &pc, &err) == 0, "%s (no validation): %s", cn, err.msg);
    CHECK_CLOSE(p.C[p.chosen], 1.0, 0, "%s: C without validation rows", cn);
    for (size_t k = 0; k < p.n_C; k++) CHECK(isnan(p.val_loss[k]), "%s: loss at C = %g without validation", cn, p.C[k]);
    exp_probe_free(&p);
    free(P);
    free(Wh);
    free(ytr);
    free(yva);
}

static void test_errors(void)
{
    double X[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    int y1[4] = {1, 1, 1, 1}, y2[4] = {0, 1, 0, 1}, ybad[2] = {0, 5};
    exp_probe_cfg pc;
    exp_probe_cfg_default(&pc);
    exp_probe p;
    exp_probe_init(&p);
    wb_error err = {0};
    CHECK(exp_probe_fit(&p, X, y1, 4, NULL, NULL, 0, 2, &pc, &err) != 0, "one class accepted");
    CHECK_EQ_INT(err.code, WB_E_DATA, "one class: code");
    CHECK_CONTAINS(err.msg, "both classes", "one class: message");
    CHECK(p.sc.mean == NULL && p.bin.coef == NULL, "one class: probe left empty");
    CHECK(exp_probe_fit(&p, X, y2, 4, X, ybad, 2, 2, &pc, &err) != 0, "bad validation label accepted");
    CHECK_EQ_INT(err.code, WB_E_DATA, "bad validation label: code");
    pc.n_C = 0;
    CHECK(exp_probe_fit(&p, X, y2, 4, NULL, NULL, 0, 2, &pc, &err) != 0, "empty grid accepted");
    CHECK_EQ_INT(err.code, WB_E_USAGE, "empty grid: code");
    double P[4];
    CHECK(exp_probe_predict(&p, X, 4, 2, P, &err) != 0, "unfitted probe predicted");
    exp_probe_free(&p);
    exp_probe_free(NULL);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FIXTURE_DIR\n", argv[0]);
        return 2;
    }
    fx_file F = fx_load(argv[1], "probe.txt");
    CHECK(F.n == 3, "fixture cases: %zu", F.n);
    for (size_t i = 0; i < F.n; i++) test_case(&F.c[i]);
    fx_free(&F);
    test_errors();
    return wb_test_finish("exp_probe");
}
