/* test_cv.c — experiments/cv: the generator against reference outputs, group mapping,
 * stratified group k-fold (grouping, balance, determinism, repeats), the inner validation split
 * and the leak checks, and the error paths. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../wb_test.h"
#include "experiments/eval/cv.h"

static void test_rng(void)
{
    /* xoshiro256** from state {1,2,3,4}, and splitmix64 from 0: the reference implementations'
     * first outputs (prng.di.unimi.it) */
    wb_rng r = {{1, 2, 3, 4}};
    CHECK(wb_rng_next(&r) == 11520u, "xoshiro256** output 1");
    CHECK(wb_rng_next(&r) == 0u, "xoshiro256** output 2");
    CHECK(wb_rng_next(&r) == 1509978240u, "xoshiro256** output 3");
    wb_rng_seed(&r, 0);
    CHECK(r.s[0] == 0xe220a8397b1dcdafULL && r.s[1] == 0x6e789e6aa1b965f4ULL,
          "splitmix64 seeding");

    wb_rng_seed(&r, 42);
    int hist[10] = {0};
    double mean = 0.0;
    for (int i = 0; i < 100000; i++) {
        uint64_t k = wb_rng_below(&r, 10);
        CHECK(k < 10, "below(10) = %llu", (unsigned long long)k);
        if (k < 10)
            hist[k]++;
        double u = wb_rng_uniform(&r);
        CHECK(u >= 0.0 && u < 1.0, "uniform %g", u);
        mean += u;
    }
    double chi2 = 0.0;
    for (int k = 0; k < 10; k++)
        chi2 += (hist[k] - 10000.0) * (hist[k] - 10000.0) / 10000.0;
    CHECK(chi2 < 30.0, "below(10) chi-square %g with 9 df (p < 0.0005 to fail)", chi2);
    CHECK_CLOSE(mean / 100000, 0.5, 0.005, "uniform mean");
    CHECK(wb_rng_below(&r, 0) == 0 && wb_rng_below(&r, 1) == 0, "below(0), below(1)");
    CHECK(wb_rng_derive(7, 0) != wb_rng_derive(7, 1) &&
              wb_rng_derive(7, 0) != wb_rng_derive(8, 0) &&
              wb_rng_derive(7, 3) == wb_rng_derive(7, 3),
          "derived seeds");
}

static void test_groups(void)
{
    wb_error err = {0};
    const char *ids[] = {"P2", "P1", "P2", "P3", "P1", "P10"};
    size_t g[6], ng;
    CHECK(exp_cv_groups_from_strings(ids, 6, g, &ng, &err) == 0, "%s", err.msg);
    CHECK(ng == 4 && g[0] == 0 && g[1] == 1 && g[2] == 0 && g[3] == 2 && g[4] == 1 && g[5] == 3,
          "first-appearance numbering");
    const int64_t iids[] = {900, -5, 900, 12, 12};
    CHECK(exp_cv_groups_from_ints(iids, 5, g, &ng, &err) == 0, "%s", err.msg);
    CHECK(ng == 3 && g[0] == 0 && g[1] == 1 && g[2] == 0 && g[3] == 2 && g[4] == 2, "ints");
    const char *bad[] = {"P1", "", "P2"};
    CHECK(exp_cv_groups_from_strings(bad, 3, g, &ng, &err) == -1, "empty id");
    CHECK_CONTAINS(err.msg, "item 1 has no patient id", "empty id message");
    CHECK(exp_cv_groups_from_strings(NULL, 0, NULL, &ng, &err) == 0, "no items");
}

/* A cohort: P patients with a random number of images (min_img..max_img), a fraction `prev` of
 * patients positive with 1..n of their images positive (a lesion is seen in some views). */
typedef struct cohort {
    size_t n, P;
    size_t *group;
    int *label;
} cohort;

static cohort make_cohort(size_t P, int min_img, int max_img, double prev, uint64_t seed)
{
    cohort c = {0, P, NULL, NULL};
    wb_rng r;
    wb_rng_seed(&r, seed);
    size_t cap = P * (size_t)max_img;
    c.group = malloc(cap * sizeof *c.group);
    c.label = malloc(cap * sizeof *c.label);
    size_t npos = (size_t)floor(prev * (double)P + 0.5);
    for (size_t p = 0; p < P; p++) {
        int k = min_img + (int)wb_rng_below(&r, (uint64_t)(max_img - min_img + 1));
        int positive = p % (P / npos) == 0 && p / (P / npos) < npos;
        int npos_img = positive ? 1 + (int)wb_rng_below(&r, (uint64_t)k) : 0;
        for (int j = 0; j < k; j++) {
            c.group[c.n] = p;
            c.label[c.n] = j < npos_img;
            c.n++;
        }
    }
    return c;
}

static void cohort_free(cohort *c)
{
    free(c->group);
    free(c->label);
}

/* Fold balance: image- and patient-level positive rates against the overall rate, and fold sizes
 * against n/folds. The stated tolerances (checked on 20 seeds of a 120-patient cohort with
 * 1..7 images each, 25% positive, and a 200-patient 10-fold cohort): patient-level rate exact
 * when the positive patients divide evenly into the folds, image-level rate within 0.025,
 * fold size within 10% (5 folds) / 6% (10 folds). */
static void check_balance(const cohort *c, const exp_cv_folds *f, double tol_img,
                          double tol_pat, double tol_size, const char *what)
{
    size_t npos_img = 0, npos_pat = 0;
    int *gl = calloc(c->P, sizeof *gl);
    for (size_t i = 0; i < c->n; i++) {
        npos_img += (size_t)c->label[i];
        if (c->label[i])
            gl[c->group[i]] = 1;
    }
    for (size_t p = 0; p < c->P; p++)
        npos_pat += (size_t)gl[p];
    double rate_img = (double)npos_img / (double)c->n, rate_pat = (double)npos_pat / (double)c->P;
    double worst_img = 0, worst_pat = 0, worst_size = 0;
    for (int r = 0; r < f->repeats; r++) {
        for (int k = 0; k < f->folds; k++) {
            size_t ni = 0, pi = 0, np = 0, pp = 0;
            int *seen = calloc(c->P, sizeof *seen);
            for (size_t i = 0; i < c->n; i++) {
                if (f->fold[(size_t)r * c->n + i] != k)
                    continue;
                ni++;
                pi += (size_t)c->label[i];
                if (!seen[c->group[i]]) {
                    seen[c->group[i]] = 1;
                    np++;
                    pp += (size_t)gl[c->group[i]];
                }
            }
            free(seen);
            double di = fabs((double)pi / (double)ni - rate_img);
            double dp = fabs((double)pp / (double)np - rate_pat);
            double ds = fabs((double)ni / ((double)c->n / f->folds) - 1.0);
            worst_img = fmax(worst_img, di);
            worst_pat = fmax(worst_pat, dp);
            worst_size = fmax(worst_size, ds);
        }
    }
    CHECK(worst_img <= tol_img, "%s: image-level positive rate off by %.4f (tolerance %.3f)",
          what, worst_img, tol_img);
    CHECK(worst_pat <= tol_pat, "%s: patient-level positive rate off by %.4f (tolerance %.3f)",
          what, worst_pat, tol_pat);
    CHECK(worst_size <= tol_size, "%s: fold size off by %.1f%% (tolerance %.0f%%)", what,
          100 * worst_size, 100 * tol_size);
    printf("%s: worst deviation: image rate %.4f, patient rate %.4f, size %.1f%%\n", what,
           worst_img, worst_pat, 100 * worst_size);
    free(gl);
}

static void test_split(void)
{
    wb_error err = {0};
    exp_cv_folds f, f2;
    exp_cv_folds_init(&f);
    exp_cv_folds_init(&f2);

    /* 120 patients x 4 images, 25% positive (2 of 4 views positive): exact balance */
    cohort c = make_cohort(120, 4, 4, 0.25, 1);
    CHECK(exp_cv_split(c.group, c.label, c.n, 5, 3, 7, &f, &err) == 0, "%s", err.msg);
    CHECK(exp_cv_check(&f, c.group, c.n, &err) == 0, "check: %s", err.msg);
    CHECK(f.n_groups == 120 && f.folds == 5 && f.repeats == 3, "shape");
    check_balance(&c, &f, 0.01, 1e-12, 1e-12, "120x4, 25% positive");

    /* determinism, repeats and seeds */
    CHECK(exp_cv_split(c.group, c.label, c.n, 5, 1, 7, &f2, &err) == 0, "%s", err.msg);
    CHECK(memcmp(f.fold, f2.fold, c.n * sizeof *f.fold) == 0,
          "repeat 0 does not depend on the number of repeats");
    CHECK(memcmp(f.fold, f.fold + c.n, c.n * sizeof *f.fold) != 0, "repeats differ");
    CHECK(exp_cv_split(c.group, c.label, c.n, 5, 3, 7, &f2, &err) == 0, "%s", err.msg);
    CHECK(memcmp(f.fold, f2.fold, 3 * c.n * sizeof *f.fold) == 0, "same seed, same folds");
    CHECK(exp_cv_split(c.group, c.label, c.n, 5, 3, 8, &f2, &err) == 0, "%s", err.msg);
    CHECK(memcmp(f.fold, f2.fold, c.n * sizeof *f.fold) != 0, "another seed, other folds");
    /* folds are pinned: a change of algorithm must be deliberate (it changes every run) */
    unsigned long long h = 1469598103934665603ULL;
    for (size_t i = 0; i < 3 * c.n; i++)
        h = (h ^ (unsigned long long)f.fold[i]) * 1099511628211ULL;
    printf("fold hash (seed 7): %016llx\n", h);

    /* leak check: move one image of a patient to another fold */
    int saved = f.fold[5];
    f.fold[5] = (saved + 1) % 5;
    CHECK(exp_cv_check(&f, c.group, c.n, &err) == -1, "leak detected");
    CHECK_CONTAINS(err.msg, "leak: patient group 1", "leak message");
    f.fold[5] = 9;
    CHECK(exp_cv_check(&f, c.group, c.n, &err) == -1, "fold out of range");
    CHECK_CONTAINS(err.msg, "outside 0 .. 4", "range message");
    f.fold[5] = saved;
    CHECK(exp_cv_check(&f, c.group, c.n - 1, &err) == -1, "size mismatch");
    for (size_t i = 0; i < c.n; i++) /* empty fold 4 in repeat 1 */
        if (f.fold[c.n + i] == 4)
            f.fold[c.n + i] = 3;
    CHECK(exp_cv_check(&f, c.group, c.n, &err) == -1, "empty fold");
    CHECK_CONTAINS(err.msg, "fold 4 of repeat 1 is empty", "empty fold message");
    cohort_free(&c);

    /* variable images per patient (1..7), positive images 1..k: realistic imbalance */
    for (uint64_t seed = 1; seed <= 20; seed++) {
        c = make_cohort(120, 1, 7, 0.25, 100 + seed);
        CHECK(exp_cv_split(c.group, c.label, c.n, 5, 2, seed, &f, &err) == 0, "%s", err.msg);
        CHECK(exp_cv_check(&f, c.group, c.n, &err) == 0, "check: %s", err.msg);
        char what[64];
        snprintf(what, sizeof what, "120 x 1..7, seed %d", (int)seed);
        check_balance(&c, &f, 0.025, 1e-12, 0.10, what);
        cohort_free(&c);
    }
    /* 10 folds on a smaller cohort */
    c = make_cohort(200, 2, 5, 0.1, 5);
    CHECK(exp_cv_split(c.group, c.label, c.n, 10, 1, 3, &f, &err) == 0, "%s", err.msg);
    CHECK(exp_cv_check(&f, c.group, c.n, &err) == 0, "check: %s", err.msg);
    check_balance(&c, &f, 0.025, 1e-12, 0.06, "200 x 2..5, 10% positive, 10 folds");
    cohort_free(&c);

    /* multi-class labels: strata 0..2, each class spread over every fold */
    c = make_cohort(90, 2, 4, 0.3, 9);
    for (size_t i = 0; i < c.n; i++)
        if (c.group[i] % 3 == 1)
            c.label[i] = 2;
    CHECK(exp_cv_split(c.group, c.label, c.n, 3, 1, 3, &f, &err) == 0, "%s", err.msg);
    CHECK(exp_cv_check(&f, c.group, c.n, &err) == 0, "multiclass check: %s", err.msg);
    cohort_free(&c);

    /* errors */
    const size_t g4[] = {0, 0, 1, 1, 2, 2, 3, 3};
    const int l4[] = {0, 1, 0, 0, 1, 0, 0, 0};
    CHECK(exp_cv_split(g4, l4, 8, 3, 1, 1, &f, &err) == -1, "too few positive patients");
    CHECK_CONTAINS(err.msg, "only 2 patients have label", "stratum message");
    CHECK_CONTAINS(err.msg, "use at most 2 folds", "stratum advice");
    /* one positive patient: fewer folds cannot help (it used to advise "at most 2 folds" for 2) */
    const int l1[] = {0, 1, 0, 0, 0, 0, 0, 0};
    CHECK(exp_cv_split(g4, l1, 8, 2, 1, 1, &f, &err) == -1, "one positive patient");
    CHECK_CONTAINS(err.msg, "only 1 patient has label 1, so a test fold would have none even with 2 folds", "one-patient message");
    CHECK(f.fold == NULL, "failed split leaves the output empty");
    CHECK(exp_cv_split(g4, l4, 8, 5, 1, 1, &f, &err) == -1, "fewer patients than folds");
    CHECK_CONTAINS(err.msg, "4 patients cannot fill 5 folds", "groups message");
    CHECK(exp_cv_split(g4, l4, 8, 1, 1, 1, &f, &err) == -1 && err.code == WB_E_USAGE, "1 fold");
    CHECK(exp_cv_split(g4, l4, 8, 2, 0, 1, &f, &err) == -1, "0 repeats");
    const int lneg[] = {0, 1, 0, 0, 1, 0, -1, 0};
    CHECK(exp_cv_split(g4, lneg, 8, 2, 1, 1, &f, &err) == -1, "negative label");
    const size_t gsparse[] = {0, 0, 1, 1, 2, 2, 3, 30};
    CHECK(exp_cv_split(gsparse, l4, 8, 2, 1, 1, &f, &err) == -1, "non-dense group");
    CHECK_CONTAINS(err.msg, "dense", "dense message");
    const size_t ghole[] = {0, 0, 1, 1, 2, 2, 4, 4};
    CHECK(exp_cv_split(ghole, l4, 8, 2, 1, 1, &f, &err) == -1, "group index with no items");
    CHECK(exp_cv_split(g4, l4, 8, 2, 1, 1, &f, &err) == 0, "2 folds fit: %s", err.msg);
    exp_cv_folds_free(&f);
    exp_cv_folds_free(&f2);
    exp_cv_folds_free(NULL);
}

static void test_roles(void)
{
    wb_error err = {0};
    exp_cv_folds f;
    exp_cv_folds_init(&f);
    cohort c = make_cohort(120, 4, 4, 0.25, 1);
    CHECK(exp_cv_split(c.group, c.label, c.n, 5, 2, 11, &f, &err) == 0, "%s", err.msg);
    int *role = malloc(c.n * sizeof *role), *role2 = malloc(c.n * sizeof *role2);
    for (int r = 0; r < 2; r++)
        for (int k = 0; k < 5; k++) {
            CHECK(exp_cv_roles(&f, r, k, 0.2, role, &err) == 0, "%s", err.msg);
            CHECK(exp_cv_check_roles(role, c.group, c.n, &err) == 0, "roles: %s", err.msg);
            size_t cnt[3] = {0, 0, 0}, vpos = 0;
            for (size_t i = 0; i < c.n; i++) {
                cnt[role[i]]++;
                CHECK((role[i] == EXP_CV_TEST) == (f.fold[(size_t)r * c.n + i] == k),
                      "test role is the test fold");
                if (role[i] == EXP_CV_VAL && f.group_label[c.group[i]] == 1)
                    vpos++;
            }
            /* 96 training patients: 24 positive, 72 negative -> 5 + 14 validation patients */
            CHECK_EQ_INT(cnt[EXP_CV_VAL], 4 * (5 + 14), "validation images");
            CHECK_EQ_INT(cnt[EXP_CV_TEST], 96, "test images");
            CHECK_EQ_INT(vpos, 4 * 5, "images of positive validation patients");
        }
    CHECK(exp_cv_roles(&f, 1, 2, 0.2, role, &err) == 0, "%s", err.msg);
    CHECK(exp_cv_roles(&f, 1, 2, 0.2, role2, &err) == 0, "%s", err.msg);
    CHECK(memcmp(role, role2, c.n * sizeof *role) == 0, "roles are deterministic");
    CHECK(exp_cv_roles(&f, 1, 3, 0.2, role2, &err) == 0, "%s", err.msg);
    CHECK(memcmp(role, role2, c.n * sizeof *role) != 0, "other fold, other roles");
    CHECK(exp_cv_roles(&f, 0, 0, 0.0, role, &err) == 0, "%s", err.msg);
    size_t nval = 0;
    for (size_t i = 0; i < c.n; i++)
        nval += role[i] == EXP_CV_VAL;
    CHECK(nval == 0, "fraction 0: no validation");
    CHECK(exp_cv_roles(&f, 2, 0, 0.2, role, &err) == -1, "repeat out of range");
    CHECK(exp_cv_roles(&f, 0, 5, 0.2, role, &err) == -1, "fold out of range");
    CHECK(exp_cv_roles(&f, 0, 0, 0.95, role, &err) == -1, "fraction out of range");

    /* a leak between roles: one image of a training patient marked test */
    CHECK(exp_cv_roles(&f, 0, 0, 0.2, role, &err) == 0, "%s", err.msg);
    size_t i0 = 0;
    while (role[i0] != EXP_CV_TRAIN || role[i0 + 1] != EXP_CV_TRAIN)
        i0++;
    role[i0 + 1] = EXP_CV_TEST;
    CHECK(exp_cv_check_roles(role, c.group, c.n, &err) == -1, "role leak detected");
    CHECK_CONTAINS(err.msg, "is in train", "role leak message");
    CHECK_CONTAINS(err.msg, "and in test", "role leak message");
    role[i0 + 1] = 7;
    CHECK(exp_cv_check_roles(role, c.group, c.n, &err) == -1, "bad role value");
    free(role);
    free(role2);
    cohort_free(&c);
    exp_cv_folds_free(&f);
}

/* Three classes, as a screening cohort has them: every patient has normal images, some also a
 * benign or a malignant breast (2 views each). The stratum is the patient's rarest class, so
 * each fold gets the same number of malignant, benign and normal-only patients (within one),
 * every test fold has every class, and the split is deterministic and leak-free. */
static void test_multiclass(void)
{
    enum { P = 90, FOLDS = 5 };
    size_t group[P * 4];
    int label[P * 4], kind[P];
    size_t n = 0;
    wb_rng r;
    wb_rng_seed(&r, 99);
    for (size_t p = 0; p < P; p++) {
        /* 0 normal only (60%), 1 benign (25%), 2 malignant (15%) */
        double u = wb_rng_uniform(&r);
        kind[p] = u < 0.15 ? 2 : u < 0.40 ? 1 : 0;
        for (int j = 0; j < 4; j++) {
            group[n] = p;
            label[n++] = j < 2 ? kind[p] : 0; /* views of the other breast are normal */
        }
    }
    exp_cv_folds f, g;
    exp_cv_folds_init(&f);
    exp_cv_folds_init(&g);
    wb_error err = {0};
    CHECK(exp_cv_split(group, label, n, FOLDS, 3, 11, &f, &err) == 0, "3-class split: %s", err.msg);
    CHECK(exp_cv_check(&f, group, n, &err) == 0, "3-class leak check: %s", err.msg);
    for (size_t p = 0; p < P; p++) CHECK_EQ_INT(f.group_label[p], kind[p], "stratum = the patient's rarest class");
    for (int rep = 0; rep < 3; rep++) {
        size_t cnt[FOLDS][3] = {{0}}, tot[3] = {0};
        int seen[FOLDS][3] = {{0}};
        for (size_t i = 0; i < n; i++) seen[f.fold[(size_t)rep * n + i]][label[i]] = 1;
        for (size_t p = 0; p < P; p++) {
            cnt[f.fold[(size_t)rep * n + p * 4]][kind[p]]++;
            tot[kind[p]]++;
        }
        for (int k = 0; k < FOLDS; k++)
            for (int c = 0; c < 3; c++) {
                CHECK(cnt[k][c] * FOLDS + FOLDS >= tot[c] && cnt[k][c] * FOLDS <= tot[c] + FOLDS,
                      "repeat %d fold %d class %d: %zu of %zu patients", rep, k, c, cnt[k][c], tot[c]);
                CHECK(seen[k][c], "repeat %d fold %d has class %d", rep, k, c);
            }
    }
    CHECK(exp_cv_split(group, label, n, FOLDS, 3, 11, &g, &err) == 0, "again: %s", err.msg);
    CHECK(!memcmp(f.fold, g.fold, 3 * n * sizeof *f.fold), "the same seed gives the same folds");
    /* a class on fewer patients than folds is refused */
    for (size_t i = 0; i < n; i++)
        if (label[i] == 2 && group[i] > 10) label[i] = 1;
    CHECK(exp_cv_split(group, label, n, FOLDS, 1, 11, &g, &err) == -1, "too few patients of class 2");
    CHECK_CONTAINS(err.msg, "label 2,", "message names the class");
    exp_cv_folds_free(&f);
    exp_cv_folds_free(&g);
}

/* A fixed split (cv.split_column) is one fold of the same machinery: its test fold is the
 * given test items, training items are in no fold, the inner validation split takes
 * round(0.2 * training patients per stratum) patients, and a patient on both sides is refused. */
static void test_fixed(void)
{
    wb_error err = {0};
    exp_cv_folds f;
    exp_cv_folds_init(&f);
    cohort c = make_cohort(120, 4, 4, 0.25, 1);
    unsigned char *is_test = malloc(c.n);
    /* the last 30 patients (120 images) are the test set */
    for (size_t i = 0; i < c.n; i++) is_test[i] = c.group[i] >= 90;
    CHECK(exp_cv_fixed(c.group, c.label, is_test, c.n, 1, 11, &f, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(f.folds, 1, "one fold");
    CHECK_EQ_INT(f.repeats, 1, "one repeat");
    CHECK_EQ_INT(f.fixed, 1, "fixed");
    CHECK(exp_cv_check(&f, c.group, c.n, &err) == 0, "check: %s", err.msg);
    size_t pos_train_groups = 0, train_groups = 0;
    for (size_t g = 0; g < 90; g++) {
        train_groups++;
        pos_train_groups += f.group_label[g] == 1;
    }
    int *role = malloc(c.n * sizeof *role);
    CHECK(exp_cv_roles(&f, 0, 0, 0.2, role, &err) == 0, "%s", err.msg);
    CHECK(exp_cv_check_roles(role, c.group, c.n, &err) == 0, "roles: %s", err.msg);
    size_t cnt[3] = {0, 0, 0};
    for (size_t i = 0; i < c.n; i++) {
        cnt[role[i]]++;
        CHECK((role[i] == EXP_CV_TEST) == (is_test[i] != 0), "test role is the given test side (item %zu)", i);
        CHECK(f.fold[i] == (is_test[i] ? 0 : EXP_CV_NEVER), "fold of item %zu", i);
    }
    CHECK_EQ_INT(cnt[EXP_CV_TEST], 120, "test images");
    /* the 90 training patients: every 4th positive (0, 4, ..., 88: 23), 67 negative; validation
     * round(0.2 x 23) + round(0.2 x 67) = 5 + 13 patients of 4 images */
    CHECK_EQ_INT(train_groups, 90, "training patients");
    CHECK_EQ_INT(pos_train_groups, 23, "positive training patients (strata)");
    CHECK_EQ_INT(cnt[EXP_CV_VAL], 4 * 18, "validation images");
    CHECK_EQ_INT(cnt[EXP_CV_TRAIN], 360 - 4 * 18, "training images");
    /* the same seed, the same validation patients */
    int *role2 = malloc(c.n * sizeof *role2);
    CHECK(exp_cv_roles(&f, 0, 0, 0.2, role2, &err) == 0, "%s", err.msg);
    CHECK(memcmp(role, role2, c.n * sizeof *role) == 0, "roles are deterministic");
    /* three repeats: the same sides in each, and another inner validation split per repeat */
    exp_cv_folds r3;
    exp_cv_folds_init(&r3);
    CHECK(exp_cv_fixed(c.group, c.label, is_test, c.n, 3, 11, &r3, &err) == 0, "%s", err.msg);
    CHECK_EQ_INT(r3.repeats, 3, "three repeats");
    CHECK(exp_cv_check(&r3, c.group, c.n, &err) == 0, "check: %s", err.msg);
    int *role3 = malloc(c.n * sizeof *role3);
    int differs = 0;
    for (int r = 0; r < 3; r++) {
        CHECK(memcmp(r3.fold + (size_t)r * c.n, f.fold, c.n * sizeof *f.fold) == 0, "repeat %d: the same sides", r);
        CHECK(exp_cv_roles(&r3, r, 0, 0.2, role3, &err) == 0, "%s", err.msg);
        size_t nval = 0;
        for (size_t i = 0; i < c.n; i++) {
            CHECK((role3[i] == EXP_CV_TEST) == (is_test[i] != 0), "repeat %d: test role is the given side (item %zu)", r, i);
            nval += role3[i] == EXP_CV_VAL;
        }
        CHECK_EQ_INT(nval, 4 * 18, "repeat's validation images");
        if (r == 0) CHECK(memcmp(role3, role, c.n * sizeof *role) == 0, "repeat 0 as the single-repeat split");
        else differs += memcmp(role3, role, c.n * sizeof *role) != 0;
    }
    CHECK_EQ_INT(differs, 2, "repeats 1 and 2 validate on other patients than repeat 0");
    CHECK(exp_cv_fixed(c.group, c.label, is_test, c.n, 0, 11, &r3, &err) == -1, "0 repeats refused");
    free(role3);
    exp_cv_folds_free(&r3);
    /* a leak: the fold of one training image changed to the test fold */
    size_t i0 = 0;
    while (is_test[i0]) i0++;
    f.fold[i0] = 0;
    CHECK(exp_cv_check(&f, c.group, c.n, &err) == -1, "a patient on both sides is found by the check");
    CHECK_CONTAINS(err.msg, "fixed split", "message says fixed split");
    /* a patient with images on both sides is refused */
    is_test[i0] = 1;
    CHECK(exp_cv_fixed(c.group, c.label, is_test, c.n, 1, 11, &f, &err) == -1, "overlap refused");
    CHECK_CONTAINS(err.msg, "in train", "message names train");
    CHECK_CONTAINS(err.msg, "in test", "message names test");
    /* one side empty */
    memset(is_test, 0, c.n);
    CHECK(exp_cv_fixed(c.group, c.label, is_test, c.n, 1, 11, &f, &err) == -1, "no test items refused");
    CHECK_CONTAINS(err.msg, "both sides", "message");
    free(is_test);
    free(role);
    free(role2);
    exp_cv_folds_free(&f);
    cohort_free(&c);
}

int main(void)
{
    test_rng();
    test_fixed();
    test_groups();
    test_split();
    test_roles();
    test_multiclass();
    return wb_test_finish("exp_cv");
}
