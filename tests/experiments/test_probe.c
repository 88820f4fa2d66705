/* test_probe.c — experiments/model/probe: the linear probe against scikit-learn
 * (fixtures/probe.txt, made by make_fixtures.py): per C of the grid the validation log loss, the
 * C chosen, the test probabilities at that C (StandardScaler + LogisticRegression newton-cg,
 * binary, binary balanced, multinomial balanced) to 1e-6, the same model as a linear layer on
 * raw features (exp_probe_head), the fallback without validation rows, and the error paths.
 *
 * Usage: test_exp_probe FIXTURE_DIR
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

    /* in place: the same model, losses and probabilities to the bit; Xtr's copy standardised */
    {
        double *Xc = malloc(ntr * d * sizeof *Xc), *P2 = malloc(nte * S * sizeof *P2);
        memcpy(Xc, Xtr, ntr * d * sizeof *Xc);
        exp_probe q;
        exp_probe_init(&q);
        CHECK(exp_probe_fit_inplace(&q, Xc, ytr, ntr, Xva, yva, nva, d, &pc, &err) == 0, "%s (in place): %s", cn, err.msg);
        CHECK(q.chosen == p.chosen, "%s: in place: chosen C %d, expected %d", cn, q.chosen, p.chosen);
        for (size_t k = 0; k < q.n_C; k++)
            CHECK(memcmp(&q.val_loss[k], &p.val_loss[k], sizeof(double)) == 0, "%s: in place: loss %zu differs", cn, k);
        CHECK(exp_probe_predict(&q, Xte, nte, d, P2, &err) == 0, "%s: %s", cn, err.msg);
        CHECK(memcmp(P, P2, nte * S * sizeof *P) == 0, "%s: in place: test probabilities differ", cn);
        double z0 = (Xtr[0] - q.sc.mean[0]) / q.sc.scale[0];
        CHECK(memcmp(&Xc[0], &z0, sizeof z0) == 0, "%s: in place: Xtr[0] is %g, expected the standardised %g", cn, Xc[0], z0);
        exp_probe_free(&q);
        free(Xc);
        free(P2);
    }

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

/* n rows of d columns, column j uniform on [-w/2, w/2) + slope * j (an LCG from seed), and
 * their labels from the alternating sum s: binary s > c, three classes cut at lo and hi. */
static void make_rows(double *X, int *y2, int *y3, size_t n, size_t d, uint32_t seed, double w, double slope, double c,
                      double lo, double hi)
{
    uint32_t st = seed;
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < d; j++) {
            st = st * 1664525u + 1013904223u;
            X[i * d + j] = (double)(st >> 8) / (double)(1u << 24) * w - w / 2 + slope * (double)j;
            s += X[i * d + j] * (j % 2 ? 1 : -1);
        }
        y2[i] = s > c;
        y3[i] = s < lo ? 0 : s < hi ? 1 : 2;
    }
}

/* More rows than the probe standardises at a time (512): exp_probe_predict equals the
 * whole-matrix scaler + logistic regression to the bit, binary and multinomial, and a
 * non-finite value past the first chunk is reported at its row. */
static void test_chunks(void)
{
    const size_t n = 1300, d = 5;
    double *X = malloc(n * d * sizeof *X), *Z = malloc(n * d * sizeof *Z), *P = malloc(n * 3 * sizeof *P),
           *R = malloc(n * 3 * sizeof *R);
    int *y2 = malloc(n * sizeof *y2), *y3 = malloc(n * sizeof *y3);
    make_rows(X, y2, y3, n, d, 12345, 4.0, 1.0, -2.0, -3.0, -1.0);
    exp_probe_cfg pc;
    exp_probe_cfg_default(&pc);
    pc.n_C = 3;
    wb_error err = {0};
    for (int K = 2; K <= 3; K++) {
        pc.n_classes = K;
        exp_probe p;
        exp_probe_init(&p);
        /* 700 training rows, 600 validation rows: the validation loss crosses a chunk too */
        CHECK(exp_probe_fit(&p, X, K > 2 ? y3 : y2, 700, X + 700 * d, (K > 2 ? y3 : y2) + 700, 600, d, &pc, &err) == 0,
              "chunks K=%d: %s", K, err.msg);
        CHECK(exp_probe_predict(&p, X, n, d, P, &err) == 0, "chunks K=%d: %s", K, err.msg);
        CHECK(exp_scaler_transform(&p.sc, X, n, d, 0, Z, &err) == 0, "chunks: %s", err.msg);
        CHECK((K > 2 ? exp_logreg_mn_predict_proba(&p.mn, Z, n, d, R, &err) : exp_logreg_predict_proba(&p.bin, Z, n, d, R, &err)) == 0,
              "chunks: %s", err.msg);
        CHECK(memcmp(P, R, n * (K > 2 ? 3 : 1) * sizeof *P) == 0, "chunks K=%d: probabilities differ from the whole matrix", K);
        X[1000 * d + 2] = NAN;
        CHECK(exp_probe_predict(&p, X, n, d, P, &err) != 0, "chunks: NaN accepted");
        CHECK_EQ_INT(err.code, WB_E_DATA, "chunks: NaN code");
        CHECK_CONTAINS(err.msg, "feature 2 of row 1000 is not finite", "chunks: NaN message");
        X[1000 * d + 2] = 0.5;
        /* a validation row past the first chunk: named by its index among the validation rows */
        const double keep = X[(700 + 550) * d + 1];
        X[(700 + 550) * d + 1] = INFINITY;
        exp_probe q;
        exp_probe_init(&q);
        CHECK(exp_probe_fit(&q, X, K > 2 ? y3 : y2, 700, X + 700 * d, (K > 2 ? y3 : y2) + 700, 600, d, &pc, &err) != 0,
              "chunks: an infinite validation feature accepted");
        CHECK_EQ_INT(err.code, WB_E_DATA, "chunks: validation Inf code");
        CHECK_CONTAINS(err.msg, "scaler: feature 1 of row 550 is not finite", "chunks: validation Inf message");
        X[(700 + 550) * d + 1] = keep;
        exp_probe_free(&q);
        exp_probe_free(&p);
    }
    free(X);
    free(Z);
    free(P);
    free(R);
    free(y2);
    free(y3);
}

/* A matrix read through exp_rows' reader (as the run reads a spilled feature cache): rows
 * copied from X; counts the reads and fails (WB_E_IO) at read number fail_at (0: never). */
typedef struct rows_src {
    const double *X;
    size_t d, reads, fail_at;
} rows_src;

static const double *src_read(void *ctx, size_t s, size_t m, double *buf, wb_error *err)
{
    rows_src *t = ctx;
    if (++t->reads == t->fail_at) {
        wb_err(err, WB_E_IO, NULL, "test: read %zu refused", t->reads);
        return NULL;
    }
    memcpy(buf, t->X + s * t->d, m * t->d * sizeof *buf);
    return buf;
}

/* exp_probe_fit_rows / exp_probe_predict_rows on rows that are not in memory: the same model,
 * grid losses and AUCs and probabilities to the bit as exp_probe_fit_inplace on the matrix,
 * binary and multinomial, more rows than a chunk; the rows are read many times (every pass);
 * a reader's failure and a non-finite streamed value are errors that leave the probe empty. */
static void test_rows(void)
{
    const size_t n = 1300, ntr = 700, nva = 600, d = 5;
    double *X = malloc(n * d * sizeof *X), *Xc = malloc(ntr * d * sizeof *Xc), *P = malloc(n * 3 * sizeof *P),
           *R = malloc(n * 3 * sizeof *R);
    int *y2 = malloc(n * sizeof *y2), *y3 = malloc(n * sizeof *y3);
    make_rows(X, y2, y3, n, d, 777, 3.0, 0.3, -0.5, -1.5, 0.0);
    exp_probe_cfg pc;
    exp_probe_cfg_default(&pc);
    pc.n_C = 4;
    wb_error err = {0};
    for (int K = 2; K <= 3; K++) {
        const int *y = K > 2 ? y3 : y2;
        const size_t S = K > 2 ? 3 : 1;
        pc.n_classes = K;
        exp_probe a, b;
        exp_probe_init(&a);
        exp_probe_init(&b);
        memcpy(Xc, X, ntr * d * sizeof *Xc);
        CHECK(exp_probe_fit_inplace(&a, Xc, y, ntr, X + ntr * d, y + ntr, nva, d, &pc, &err) == 0, "rows K=%d: %s", K, err.msg);
        rows_src ts = {X, d, 0, 0}, vs = {X + ntr * d, d, 0, 0};
        exp_rows tr = {ntr, d, NULL, src_read, &ts}, va = {nva, d, NULL, src_read, &vs};
        CHECK(exp_probe_fit_rows(&b, &tr, y, &va, y + ntr, &pc, &err) == 0, "rows K=%d (read): %s", K, err.msg);
        CHECK(ts.reads > 4 * ((ntr + EXP_ROWS_CHUNK - 1) / EXP_ROWS_CHUNK), "rows K=%d: the training rows were read %zu times", K, ts.reads);
        CHECK(b.chosen == a.chosen, "rows K=%d: chosen %d, in memory %d", K, b.chosen, a.chosen);
        CHECK(memcmp(a.sc.mean, b.sc.mean, d * sizeof(double)) == 0 && memcmp(a.sc.scale, b.sc.scale, d * sizeof(double)) == 0,
              "rows K=%d: the scaler differs", K);
        CHECK(memcmp(a.val_loss, b.val_loss, sizeof a.val_loss) == 0 && memcmp(a.val_auc, b.val_auc, sizeof a.val_auc) == 0,
              "rows K=%d: the grid's losses differ", K);
        if (K > 2)
            CHECK(memcmp(a.mn.coef, b.mn.coef, K * d * sizeof(double)) == 0 && memcmp(a.mn.intercept, b.mn.intercept, K * sizeof(double)) == 0,
                  "rows K=3: the model differs");
        else
            CHECK(memcmp(a.bin.coef, b.bin.coef, d * sizeof(double)) == 0 && memcmp(&a.bin.intercept, &b.bin.intercept, sizeof(double)) == 0,
                  "rows K=2: the model differs");
        rows_src ps = {X, d, 0, 0};
        exp_rows all = {n, d, NULL, src_read, &ps};
        CHECK(exp_probe_predict(&a, X, n, d, P, &err) == 0 && exp_probe_predict_rows(&b, &all, R, &err) == 0, "rows: %s", err.msg);
        CHECK(memcmp(P, R, n * S * sizeof *P) == 0, "rows K=%d: probabilities differ", K);
        /* a read that fails part-way through the fit: its error, the probe left empty */
        rows_src fs = {X, d, 0, 9};
        exp_rows ftr = {ntr, d, NULL, src_read, &fs};
        CHECK(exp_probe_fit_rows(&b, &ftr, y, &va, y + ntr, &pc, &err) != 0, "rows K=%d: a failed read accepted", K);
        CHECK_EQ_INT(err.code, WB_E_IO, "rows: failed read code");
        CHECK_CONTAINS(err.msg, "read 9 refused", "rows: failed read message");
        CHECK(b.sc.mean == NULL && b.bin.coef == NULL && b.mn.coef == NULL, "rows: probe left empty after a failed read");
        exp_probe_free(&a);
        exp_probe_free(&b);
    }
    /* a non-finite value in a streamed training row, past the first chunk, named at its row */
    X[600 * d + 3] = INFINITY;
    rows_src ts = {X, d, 0, 0};
    exp_rows tr = {ntr, d, NULL, src_read, &ts};
    exp_probe p;
    exp_probe_init(&p);
    pc.n_classes = 2;
    CHECK(exp_probe_fit_rows(&p, &tr, y2, NULL, NULL, &pc, &err) != 0, "rows: infinity accepted");
    CHECK_EQ_INT(err.code, WB_E_DATA, "rows: infinity code");
    CHECK_CONTAINS(err.msg, "feature 3 of row 600 is not finite", "rows: infinity message");
    exp_probe_free(&p);
    free(X);
    free(Xc);
    free(P);
    free(R);
    free(y2);
    free(y3);
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
    test_chunks();
    test_rows();
    fx_free(&F);
    test_errors();
    return wb_test_finish("exp_probe");
}
