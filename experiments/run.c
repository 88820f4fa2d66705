/* run.c — the experiment loop: data, folds, variants, metrics, run directory. See run.h. */
#include "experiments/run.h"

#include <cblas.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

#include "experiments/config/config.h"
#include "experiments/eval/cv.h"
#include "experiments/data/dataset.h"
#include "experiments/data/patch.h"
#include "experiments/run_patch.h"
#include "io/io_dicom.h"
#include "io/io_fs.h"
#include "io/io_safetensors.h"
#include "io/io_sha256.h"
#include "io/io_weights.h"
#include "experiments/model/backbone.h"
#include "experiments/model/baseline.h"
#include "experiments/eval/metrics.h"
#include "experiments/model/train.h"
#include "experiments/report/registry.h"
#include "experiments/report/report.h"
#include "io/io_sbuf.h"
#include "base/wb_log.h"

#ifndef WB_GIT_REVISION
#define WB_GIT_REVISION "unknown"
#endif

/* ---- breast-level aggregation ---- */

/* qsort has no context argument: the dataset and item list of the current sort. */
static const exp_dataset *g_sort_ds;
static const size_t *g_sort_idx;

/* The data object's image formats: ", \"non_dicom_images\": K, \"formats\": {\"dicom\": N, ...}"
 * (formats in a fixed order, those with no image left out). Non-DICOM images (PNG, JPEG, PGM)
 * had no DICOM metadata: the report says so. */
static void json_formats(sbuf *b, const exp_dataset *ds)
{
    static const char *const names[] = {"dicom", "png", "jpeg", "pgm"};
    size_t cnt[4] = {0}, other = 0;
    for (size_t i = 0; i < ds->n; i++) {
        size_t k = 0;
        while (k < 4 && strcmp(ds->items[i].format, names[k])) k++;
        if (k < 4) cnt[k]++;
        else other++;
    }
    sb_printf(b, ", \"non_dicom_images\": %zu, \"formats\": {", ds->n - cnt[0]);
    int first = 1;
    for (size_t k = 0; k < 4; k++)
        if (cnt[k]) {
            sb_printf(b, "%s\"%s\": %zu", first ? "" : ", ", names[k], cnt[k]);
            first = 0;
        }
    if (other) sb_printf(b, "%s\"unknown\": %zu", first ? "" : ", ", other);
    sb_printf(b, "}");
}

/* Orders positions j (into g_sort_idx) by patient id, laterality, then item. The raw id, not
 * the pseudonym: pseudonyms depend on the runs directory's key, and so would the order of the
 * breast-level sums and their last bits. The order itself is never written out. */
static int cmp_breast(const void *a, const void *b)
{
    size_t ia = g_sort_idx[*(const size_t *)a], ib = g_sort_idx[*(const size_t *)b];
    const exp_item *x = &g_sort_ds->items[ia], *y = &g_sort_ds->items[ib];
    int c = strcmp(x->group, y->group);
    if (!c) c = strcmp(x->laterality, y->laterality);
    if (!c) c = (ia > ib) - (ia < ib);
    return c;
}

/* Aggregates image scores to breasts (patient + laterality): P holds K scores per image (row j
 * for item idx[j]; K = 1 for binary, one probability per class for multi-class), bP gets nb
 * rows of K, the mean or the per-score max of the views; a breast's label is the largest label
 * of its views. by, bP and order are caller-allocated (n, n x K, n entries); returns nb, the
 * breasts in the order of patient id and laterality. */
static size_t to_breasts(const exp_dataset *ds, const size_t *idx, const double *P, size_t n, int K, int use_max,
                         int *by, double *bP, size_t *order)
{
    for (size_t j = 0; j < n; j++) order[j] = j;
    g_sort_ds = ds;
    g_sort_idx = idx;
    qsort(order, n, sizeof *order, cmp_breast);
    size_t nb = 0;
    for (size_t j = 0; j < n;) {
        const exp_item *first = &ds->items[idx[order[j]]];
        int y = 0;
        double *row = bP + nb * (size_t)K;
        for (int c = 0; c < K; c++) row[c] = use_max ? -INFINITY : 0;
        size_t k = j;
        for (; k < n; k++) {
            const exp_item *it = &ds->items[idx[order[k]]];
            if (strcmp(it->group, first->group) || strcmp(it->laterality, first->laterality)) break;
            const double *v = P + order[k] * (size_t)K;
            for (int c = 0; c < K; c++) row[c] = use_max ? (v[c] > row[c] ? v[c] : row[c]) : row[c] + v[c];
            y = it->label > y ? it->label : y;
        }
        if (!use_max)
            for (int c = 0; c < K; c++) row[c] /= (double)(k - j);
        by[nb++] = y;
        j = k;
    }
    return nb;
}

/* The multi-class metrics of one set of predictions (y, P n x K), in output order:
 * auc (one-vs-rest macro), auc_ovr_<class> per class, accuracy, balanced_accuracy, f1_macro,
 * log_loss (argmax decides the predicted class), n, n_class_<class>. NaN where undefined. */
enum { MC_AUC = 0, MC_ACC = 1, MC_BACC = 2, MC_F1 = 3, MC_LOGLOSS = 4, MC_N = 5, MC_FIXED = 6 };
static const char *const mc_fixed_names[MC_FIXED] = {"auc", "accuracy", "balanced_accuracy", "f1_macro", "log_loss", "n"};
typedef struct mc_metrics {
    double v[MC_FIXED];
    double auc_c[EXP_CONFIG_MAX_CLASSES];
    double n_c[EXP_CONFIG_MAX_CLASSES];
} mc_metrics;

static void mc_compute(const int *y, const double *P, size_t n, int K, int *pred, mc_metrics *m)
{
    wb_error e;
    for (int i = 0; i < MC_FIXED; i++) m->v[i] = NAN;
    for (int c = 0; c < K; c++) {
        m->auc_c[c] = NAN;
        m->n_c[c] = 0;
    }
    m->v[MC_N] = (double)n;
    for (size_t i = 0; i < n; i++) m->n_c[y[i]] += 1;
    if (!n) return;
    exp_metrics_auc_ovr(y, P, NULL, n, K, &m->v[MC_AUC], NULL, &e);
    int *yc = malloc(n * sizeof *yc);
    double *sc = malloc(n * sizeof *sc);
    for (int c = 0; yc && sc && c < K; c++) {
        for (size_t i = 0; i < n; i++) {
            yc[i] = y[i] == c;
            sc[i] = P[i * (size_t)K + (size_t)c];
        }
        if (exp_metrics_auc(yc, sc, NULL, n, &m->auc_c[c], &e) != 0) m->auc_c[c] = NAN;
    }
    free(yc);
    free(sc);
    if (exp_metrics_argmax(P, n, K, pred, &e) == 0) {
        exp_metrics_mc_accuracy(y, pred, n, K, &m->v[MC_ACC], &e);
        exp_metrics_mc_balanced_accuracy(y, pred, n, K, &m->v[MC_BACC], &e);
        exp_metrics_mc_f1_macro(y, pred, n, K, &m->v[MC_F1], &e);
    }
    exp_metrics_log_loss(y, P, n, K, &m->v[MC_LOGLOSS], &e);
}

/* Writes m as JSON members ("auc": ..., ...) and as metrics.csv rows. */
static void mc_emit(sbuf *json, sbuf *csv, int repeat, const char *fold, const char *variant, const char *level,
                    const mc_metrics *m, const exp_config *cfg, int K)
{
    for (int q = 0; q <= MC_N + K * 2; q++) {
        char name[128];
        double v;
        if (q == 0) {
            snprintf(name, sizeof name, "auc");
            v = m->v[MC_AUC];
        } else if (q <= K) {
            snprintf(name, sizeof name, "auc_ovr_%s", exp_config_list_item(cfg, "data.classes", (size_t)q - 1));
            v = m->auc_c[q - 1];
        } else if (q < K + MC_FIXED) {
            snprintf(name, sizeof name, "%s", mc_fixed_names[q - K]);
            v = m->v[q - K];
        } else {
            snprintf(name, sizeof name, "n_class_%s", exp_config_list_item(cfg, "data.classes", (size_t)(q - K - MC_FIXED)));
            v = m->n_c[q - K - MC_FIXED];
        }
        if (json) {
            sb_printf(json, "%s", q ? ", " : "");
            sb_jstr(json, name); /* a class name from the config: escaped like every JSON string */
            sb_printf(json, ": ");
            sb_num(json, v);
        }
        sb_printf(csv, "%d,%s,%s,%s,%s,", repeat, fold, variant, level, name);
        sb_num(csv, v);
        sb_printf(csv, ",,\n");
    }
}

/* ---- metrics of one set of predictions ---- */

enum { M_AUC, M_AUC_LO, M_AUC_HI, M_AP, M_ACC, M_BACC, M_SENS, M_SPEC, M_SENS_AT_SPEC, M_F1, M_BRIER, M_ECE, M_THRESH, M_N, M_NPOS, M_COUNT };
static const char *const metric_names[M_COUNT] = {"auc", "auc_ci_low", "auc_ci_high", "average_precision", "accuracy",
                                                  "balanced_accuracy", "sensitivity", "specificity",
                                                  "sensitivity_at_specificity", "f1", "brier", "ece", "threshold", "n", "n_positive"};

/* y, score, n; thr: the decision threshold (chosen on validation data). */
static void compute(const int *y, const double *score, size_t n, double thr, double spec, double m[M_COUNT])
{
    wb_error e;
    for (int i = 0; i < M_COUNT; i++) m[i] = NAN;
    size_t npos = 0;
    for (size_t i = 0; i < n; i++) npos += (size_t)y[i];
    m[M_N] = (double)n;
    m[M_NPOS] = (double)npos;
    m[M_THRESH] = thr;
    exp_delong d;
    if (exp_metrics_delong(y, score, n, &d, &e) == 0) {
        m[M_AUC] = d.auc;
        m[M_AUC_LO] = d.ci_lo;
        m[M_AUC_HI] = d.ci_hi;
    }
    exp_metrics_average_precision(y, score, NULL, n, &m[M_AP], &e);
    exp_metrics_brier(y, score, NULL, n, &m[M_BRIER], &e);
    exp_metrics_ece(y, score, NULL, n, 10, &m[M_ECE], &e);
    exp_metrics_sens_at_spec(y, score, NULL, n, spec, &m[M_SENS_AT_SPEC], NULL, &e);
    exp_confusion c;
    if (exp_metrics_confusion(y, score, NULL, n, thr, &c, &e) == 0) {
        m[M_ACC] = exp_confusion_accuracy(&c);
        m[M_BACC] = exp_confusion_balanced_accuracy(&c);
        m[M_SENS] = exp_confusion_sensitivity(&c);
        m[M_SPEC] = exp_confusion_specificity(&c);
        m[M_F1] = exp_confusion_f1(&c);
    }
}

/* One metrics.csv row (the AUC carries its DeLong CI; the CI bounds get no rows of their own). */
static void csv_metric(sbuf *b, int repeat, const char *fold, const char *variant, const char *level, int q,
                       const double m[M_COUNT])
{
    if (q == M_AUC_LO || q == M_AUC_HI) return;
    sb_printf(b, "%d,%s,%s,%s,%s,", repeat, fold, variant, level, metric_names[q]);
    sb_num(b, m[q]);
    sb_printf(b, ",");
    if (q == M_AUC) {
        sb_num(b, m[M_AUC_LO]);
        sb_printf(b, ",");
        sb_num(b, m[M_AUC_HI]);
    } else {
        sb_printf(b, ",");
    }
    sb_printf(b, "\n");
}

/* A threshold from validation data (Youden's J, or the target specificity); 0.5 when the
 * validation set lacks a class. */
static double choose_threshold(const int *y, const double *s, size_t n, const char *how, double spec)
{
    wb_error e;
    double t = 0.5;
    if (!strcmp(how, "specificity")) {
        if (exp_metrics_threshold_for_specificity(y, s, NULL, n, spec, &t, &e) != 0) t = 0.5;
    } else if (exp_metrics_threshold_youden(y, s, NULL, n, &t, &e) != 0) {
        t = 0.5;
    }
    return t;
}

/* ---- finished (repeat, fold, variant) parts, for --resume ---- */

/* parts/r<R>_f<F>_v<V>.txt: the variant's validation and test scores on that fold, its
 * trainable-parameter and trainable-stage counts, the probe's C, its probe.csv rows and its
 * learning-curve rows, written when it finishes. */
static void part_path(const char *dir, int r, int f, size_t v, char *buf, size_t n)
{
    snprintf(buf, n, "%s/parts/r%d_f%d_v%zu.txt", dir, r, f, v);
}

/* S scores per item (1 for binary, K for multi-class), one item per line. */
static void part_scores(sbuf *b, const double *s, size_t n, size_t S)
{
    for (size_t j = 0; j < n; j++)
        for (size_t c = 0; c < S; c++) sb_printf(b, "%.17g%c", s[j * S + c], c + 1 < S ? ' ' : '\n');
}

/* One part's facts besides its scores. */
typedef struct part_facts {
    double trainable, seconds, chosen_c; /* chosen_c: NaN without a probe */
    int stages;
} part_facts;

/* Lines in s[0..n). */
static size_t count_lines(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) k += s[i] == '\n';
    return k;
}

static int part_write(const char *dir, int r, int f, size_t v, const part_facts *pf, const double *sval, size_t nva,
                      const double *stest, size_t nte, size_t S, const char *probe, size_t probe_n, const char *curve,
                      size_t curve_n, wb_error *err)
{
    sbuf b = {0};
    sb_printf(&b, "workbench part 3\ntrainable %.0f\nstages %d\nchosen_C %.17g\nseconds %.3f\nval %zu\n", pf->trainable,
              pf->stages, pf->chosen_c, pf->seconds, nva);
    part_scores(&b, sval, nva, S);
    sb_printf(&b, "test %zu\n", nte);
    part_scores(&b, stest, nte, S);
    sb_printf(&b, "probe %zu\n%.*s", count_lines(probe, probe_n), (int)probe_n, probe);
    sb_printf(&b, "curve\n%.*s", (int)curve_n, curve);
    char name[64];
    snprintf(name, sizeof name, "parts/r%d_f%d_v%zu.txt", r, f, v);
    int rc = sb_write(&b, dir, name, err);
    free(b.s);
    return rc;
}

/* Reads a part written by part_write; 0 when it matches the fold's sizes, -1 otherwise (the
 * part is then recomputed; a part of an older format is recomputed too). The probe and curve
 * rows are appended to probe and curves. */
static int part_read(const char *path, size_t nva, size_t nte, size_t S, part_facts *pf, double *sval, double *stest,
                     sbuf *probe, sbuf *curves)
{
    FILE *f = io_fs_fopen_input(path, 0, NULL, NULL); /* regular files only */
    if (!f) return -1;
    char line[1024];
    size_t a = 0, b = 0, np = 0;
    int ok = fgets(line, sizeof line, f) && !strcmp(line, "workbench part 3\n") &&
             fscanf(f, "trainable %lf\nstages %d\nchosen_C %lf\nseconds %lf\nval %zu\n", &pf->trainable, &pf->stages,
                    &pf->chosen_c, &pf->seconds, &a) == 5 &&
             a == nva;
    for (size_t j = 0; ok && j < nva * S; j++) ok = fscanf(f, "%lf\n", &sval[j]) == 1;
    ok = ok && fscanf(f, "test %zu\n", &b) == 1 && b == nte;
    for (size_t j = 0; ok && j < nte * S; j++) ok = fscanf(f, "%lf\n", &stest[j]) == 1;
    ok = ok && fscanf(f, "probe %zu\n", &np) == 1 && np <= 1000;
    size_t pmark = probe->n, mark = curves->n;
    for (size_t j = 0; ok && j < np; j++) {
        ok = fgets(line, sizeof line, f) != NULL;
        if (ok) sb_printf(probe, "%s", line);
    }
    ok = ok && fgets(line, sizeof line, f) && !strcmp(line, "curve\n");
    while (ok && fgets(line, sizeof line, f)) sb_printf(curves, "%s", line);
    fclose(f);
    if (!ok) curves->n = mark, probe->n = pmark;
    return ok ? 0 : -1;
}

/* ---- metrics.json pieces shared by binary and multi-class runs ---- */

/* Index into fold_auc: [variant][repeat][fold][level], level 0 image, 1 breast. */
static size_t fold_auc_at(size_t v, int r, int f, int level, int repeats, int folds)
{
    return ((v * (size_t)repeats + (size_t)r) * (size_t)folds + (size_t)f) * 2 + (size_t)level;
}

/* AUC of one fold's test scores, NaN where undefined: S scores per item, 1 for binary (AUC),
 * K for multi-class (one-vs-rest macro AUC). */
static double fold_auc_of(const int *y, const double *s, size_t n, size_t S, int K)
{
    wb_error e;
    double a = NAN;
    if (S == 1 ? exp_metrics_auc(y, s, NULL, n, &a, &e) != 0 : exp_metrics_auc_ovr(y, s, NULL, n, K, &a, NULL, &e) != 0)
        a = NAN;
    return a;
}

/* The index of metrics.reference among the variants (0 when no variant has that name). */
static size_t reference_variant(const exp_config *cfg, size_t nv)
{
    const char *ref = exp_config_str(cfg, "metrics.reference");
    size_t ref_v = 0;
    for (size_t v = 0; v < nv; v++) {
        char k[64];
        snprintf(k, sizeof k, "variants[%zu].name", v);
        if (!strcmp(exp_config_str(cfg, k), ref)) ref_v = v;
    }
    return ref_v;
}

/* Opens metrics.json ({"schema_version", "name"); the caller goes on with ",\n  \"..."). */
static void json_metrics_open(sbuf *b, const exp_config *cfg)
{
    sb_printf(b, "{\n  \"schema_version\": 1,\n  \"name\": ");
    sb_jstr(b, exp_config_str(cfg, "name"));
}

/* The "cv" and "reference" members of metrics.json, and the start of its "variants" array. */
static void json_cv_reference(sbuf *b, const exp_config *cfg, int folds, int repeats, uint64_t seed)
{
    sb_printf(b, "  \"cv\": {\"folds\": %d, \"repeats\": %d, \"seed\": %llu},\n  \"reference\": ", folds, repeats,
              (unsigned long long)seed);
    sb_jstr(b, exp_config_str(cfg, "metrics.reference"));
    sb_printf(b, ",\n  \"variants\": [\n");
}

/* What metrics.json says of each variant besides its metrics. */
typedef struct variant_facts {
    double *trainable; /* [variant] trainable parameters */
    int *stages;       /* [variant] backbone stages with trainable parameters; -1: the baseline */
    double *chosen_c;  /* [repeat][fold][variant] the linear probe's C; NaN: no probe */
    size_t nv;
    int repeats, folds;
} variant_facts;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Opens variant v's object in metrics.json (name, type, trainable parameters; backbone
 * variants: trainable stages, the sweep group, the probe's C grid and the C chosen in each
 * repeat and fold; then "repeats": [); returns its name (owned by cfg). */
static const char *json_variant_open(sbuf *b, const exp_config *cfg, size_t v, const variant_facts *vf)
{
    char k[64];
    snprintf(k, sizeof k, "variants[%zu].name", v);
    const char *vname = exp_config_str(cfg, k);
    snprintf(k, sizeof k, "variants[%zu].type", v);
    sb_printf(b, "    {\"name\": ");
    sb_jstr(b, vname);
    sb_printf(b, ", \"type\": ");
    sb_jstr(b, exp_config_str(cfg, k));
    sb_printf(b, ", \"trainable_params\": %.0f", vf->trainable[v]);
    if (vf->stages[v] >= 0) {
        sb_printf(b, ", \"trainable_stages\": %d", vf->stages[v]);
        snprintf(k, sizeof k, "variants[%zu].sweep_group", v);
        const char *g = exp_config_str(cfg, k);
        if (g && g[0]) {
            sb_printf(b, ", \"sweep_group\": ");
            sb_jstr(b, g);
        }
        int any = 0;
        for (size_t i = 0; i < (size_t)vf->repeats * (size_t)vf->folds; i++) any |= !isnan(vf->chosen_c[i * vf->nv + v]);
        snprintf(k, sizeof k, "variants[%zu].probe_C", v);
        size_t ng = exp_config_list_len(cfg, k);
        if (any && ng <= EXP_CONFIG_MAX_NUMBERS) {
            double grid[EXP_CONFIG_MAX_NUMBERS];
            for (size_t i = 0; i < ng; i++) grid[i] = strtod(exp_config_list_item(cfg, k, i), NULL);
            qsort(grid, ng, sizeof *grid, cmp_double);
            sb_printf(b, ",\n     \"probe\": {\"C_grid\": [");
            for (size_t i = 0; i < ng; i++) {
                sb_printf(b, "%s", i ? ", " : "");
                sb_num(b, grid[i]);
            }
            sb_printf(b, "], \"chosen_C\": [");
            for (int r = 0; r < vf->repeats; r++) {
                sb_printf(b, "%s[", r ? ", " : "");
                for (int f = 0; f < vf->folds; f++) {
                    sb_printf(b, "%s", f ? ", " : "");
                    sb_num(b, vf->chosen_c[((size_t)r * (size_t)vf->folds + (size_t)f) * vf->nv + v]);
                }
                sb_printf(b, "]");
            }
            sb_printf(b, "]}");
        }
    }
    sb_printf(b, ",\n     \"repeats\": [\n");
    return vname;
}

/* The corrected resampled t-test of variant v against ref_v on the fold AUCs of repeat r at
 * one level, as vs_reference members (nothing when the test is undefined). n_train, n_test:
 * the mean training and test set sizes. */
static void json_ttest(sbuf *b, const double *fold_auc, size_t v, size_t ref_v, int r, int level, int repeats,
                       int folds, double n_train, double n_test)
{
    double fa[EXP_CV_MAX_FOLDS], fb[EXP_CV_MAX_FOLDS];
    for (int f = 0; f < folds; f++) {
        fa[f] = fold_auc[fold_auc_at(v, r, f, level, repeats, folds)];
        fb[f] = fold_auc[fold_auc_at(ref_v, r, f, level, repeats, folds)];
    }
    exp_ttest tt;
    wb_error e;
    if (exp_metrics_ttest_corrected(fa, fb, (size_t)folds, n_train, n_test, &tt, &e) == 0) {
        sb_printf(b, ", \"ttest_mean_diff\": ");
        sb_num(b, tt.mean_diff);
        sb_printf(b, ", \"ttest_t\": ");
        sb_num(b, tt.t);
        sb_printf(b, ", \"ttest_p\": ");
        sb_num(b, tt.p);
    }
}

/* ---- multi-class results: predictions.csv, metrics.json, metrics.csv ---- */

/* P: [repeat][variant][item][class] out-of-fold probabilities; fold_auc as in exp_run (macro
 * AUC per variant, repeat, fold and level). */
static int mc_write_results(const exp_config *cfg, const exp_dataset *ds, const exp_cv_folds *cv, const char *dir,
                            int K, int repeats, int folds, size_t nv, uint64_t seed, const double *P, int *pred,
                            const double *fold_auc, const variant_facts *vf, size_t n_groups, double n_train,
                            double n_test, int agg_max, wb_error *err)
{
    const size_t n = ds->n, Kz = (size_t)K;
    sbuf b = {0}, mcsv = {0};
    int rc = -1;
    int *y = malloc(n * sizeof *y), *by = malloc(n * sizeof *by);
    size_t *idx = malloc(n * sizeof *idx), *order = malloc(n * sizeof *order);
    double *fp = malloc(n * Kz * sizeof *fp), *bp = malloc(n * Kz * sizeof *bp);
    double *refb = malloc(n * Kz * sizeof *refb);
    if (!y || !by || !idx || !order || !fp || !bp || !refb) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
#define CLASS(c) exp_config_list_item(cfg, "data.classes", (size_t)(c))
    /* predictions.csv: one probability column per class, then the most probable class */
    sb_printf(&b, "repeat,fold,variant,sop_instance_uid,patient,laterality,view,label");
    for (int c = 0; c < K; c++) sb_printf(&b, ",score_%s", CLASS(c));
    sb_printf(&b, ",predicted\n");
    for (int r = 0; r < repeats; r++)
        for (size_t v = 0; v < nv; v++) {
            char k[64];
            snprintf(k, sizeof k, "variants[%zu].name", v);
            const char *vname = exp_config_str(cfg, k);
            const double *Pv = P + ((size_t)r * nv + v) * n * Kz;
            wb_error e2;
            if (exp_metrics_argmax(Pv, n, K, pred, &e2) != 0) {
                wb_err(err, WB_E_INTERNAL, NULL, "%s: %s", vname, e2.msg);
                goto done;
            }
            for (size_t i = 0; i < n; i++) {
                const exp_item *it = &ds->items[i];
                sb_printf(&b, "%d,%d,%s,%s,%s,%s,%s,%s", r, cv->fold[(size_t)r * n + i], vname, it->sop_uid,
                          it->pseudonym, it->laterality, it->view, CLASS(it->label));
                for (int c = 0; c < K; c++) {
                    sb_printf(&b, ",");
                    sb_num(&b, Pv[i * Kz + (size_t)c]);
                }
                sb_printf(&b, ",%s\n", CLASS(pred[i]));
            }
        }
    if (sb_write(&b, dir, "predictions.csv", err) != 0) goto done;
    sb_free(&b);

    const size_t ref_v = reference_variant(cfg, nv);
    for (size_t i = 0; i < n; i++) {
        y[i] = ds->items[i].label;
        idx[i] = i;
    }
    sb_printf(&mcsv, "repeat,fold,variant,level,metric,value,ci_low,ci_high\n");
    json_metrics_open(&b, cfg);
    sb_printf(&b, ",\n  \"classes\": [");
    for (int c = 0; c < K; c++) {
        sb_printf(&b, "%s", c ? ", " : "");
        sb_jstr(&b, CLASS(c));
    }
    sb_printf(&b, "],\n  \"data\": {\"images\": %zu, \"patients\": %zu, \"class_images\": {", n, n_groups);
    for (int c = 0; c < K; c++) {
        sb_printf(&b, "%s", c ? ", " : "");
        sb_jstr(&b, CLASS(c));
        sb_printf(&b, ": %zu", ds->class_n[c]);
    }
    sb_printf(&b, "}, \"excluded\": %zu", ds->n_excluded);
    json_formats(&b, ds);
    sb_printf(&b, "},\n");
    json_cv_reference(&b, cfg, folds, repeats, seed);
    for (size_t v = 0; v < nv; v++) {
        const char *vname = json_variant_open(&b, cfg, v, vf);
        for (int r = 0; r < repeats; r++) {
            const double *Pv = P + ((size_t)r * nv + v) * n * Kz, *Pr = P + ((size_t)r * nv + ref_v) * n * Kz;
            sb_printf(&b, "      {\"repeat\": %d", r);
            for (int level = 0; level < 2; level++) {
                const char *lname = level ? "breast" : "image";
                /* per fold */
                for (int f = 0; f < folds; f++) {
                    size_t nf = 0;
                    for (size_t i = 0; i < n; i++)
                        if (cv->fold[(size_t)r * n + i] == f) idx[nf++] = i;
                    if (!nf) continue;
                    for (size_t j = 0; j < nf; j++) {
                        memcpy(fp + j * Kz, Pv + idx[j] * Kz, Kz * sizeof *fp);
                        by[j] = y[idx[j]];
                    }
                    size_t nn = nf;
                    const double *pp = fp;
                    if (level) {
                        nn = to_breasts(ds, idx, fp, nf, K, agg_max, by, bp, order);
                        pp = bp;
                    }
                    mc_metrics fm;
                    mc_compute(by, pp, nn, K, pred, &fm);
                    char fold_s[16];
                    snprintf(fold_s, sizeof fold_s, "%d", f);
                    mc_emit(NULL, &mcsv, r, fold_s, vname, lname, &fm, cfg, K);
                }
                for (size_t i = 0; i < n; i++) idx[i] = i;
                /* pooled out of fold */
                size_t ne = n;
                const int *yy = y;
                const double *pp = Pv, *pr = Pr;
                if (level) {
                    ne = to_breasts(ds, idx, Pv, n, K, agg_max, by, bp, order);
                    to_breasts(ds, idx, Pr, n, K, agg_max, by, refb, order);
                    yy = by;
                    pp = bp;
                    pr = refb;
                }
                mc_metrics m;
                mc_compute(yy, pp, ne, K, pred, &m);
                sb_printf(&b, ",\n       \"%s\": {", lname);
                mc_emit(&b, &mcsv, r, "pooled", vname, lname, &m, cfg, K);
                if (v != ref_v) {
                    /* macro AUC against the reference: the pooled difference, and the corrected
                     * resampled t-test on the fold macro AUCs (DeLong's test is for binary labels) */
                    mc_metrics mr;
                    mc_compute(yy, pr, ne, K, pred, &mr);
                    sb_printf(&b, ",\n         \"vs_reference\": {\"delta_auc\": ");
                    sb_num(&b, m.v[MC_AUC] - mr.v[MC_AUC]);
                    json_ttest(&b, fold_auc, v, ref_v, r, level, repeats, folds, n_train, n_test);
                    sb_printf(&b, "}");
                }
                sb_printf(&b, "}");
            }
            sb_printf(&b, "}%s\n", r + 1 < repeats ? "," : "");
        }
        sb_printf(&b, "     ]}%s\n", v + 1 < nv ? "," : "");
    }
    sb_printf(&b, "  ]\n}\n");
#undef CLASS
    if (sb_write(&b, dir, "metrics.json", err) != 0 || sb_write(&mcsv, dir, "metrics.csv", err) != 0) goto done;
    rc = 0;
done:
    free(b.s);
    free(mcsv.s);
    free(y);
    free(by);
    free(idx);
    free(order);
    free(fp);
    free(bp);
    free(refb);
    return rc;
}

/* ---- the run ---- */

typedef struct pred {
    double score;   /* positive-class probability, out of fold */
    double thr;     /* the fold's validation threshold (image level) */
    double bthr;    /* breast level */
} pred;

typedef struct prog_ctx {
    int repeat, repeats, fold, folds, epochs;
    const char *variant;
    double t0;
    double done_units, total_units;
} prog_ctx;

static void on_epoch(void *ctxp, int epoch, const exp_epoch_log *lg)
{
    prog_ctx *p = ctxp;
    p->done_units += 1;
    double el = wb_now() - p->t0, eta = p->done_units > 0 ? el / p->done_units * (p->total_units - p->done_units) : 0;
    wb_log(WB_LOG_INFO, "repeat %d/%d fold %d/%d %s: epoch %d/%d loss %.4f val AUC %.3f lr %.3g (elapsed %.0fs, ETA %.0fs)",
           p->repeat + 1, p->repeats, p->fold + 1, p->folds, p->variant, epoch + 1, p->epochs, lg->train_loss, lg->val_auc,
           lg->lr, el, eta > 0 ? eta : 0);
}

static void env_json(sbuf *b, const exp_config *cfg, const exp_run_options *o, const char *weights_sha)
{
    char cpu[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "model name", 10)) {
            char *c = strchr(line, ':');
            if (c) {
                c += 2;
                c[strcspn(c, "\n")] = '\0';
                snprintf(cpu, sizeof cpu, "%s", c);
            }
            break;
        }
    if (f) fclose(f);
    sb_printf(b, "{\n  \"workbench\": ");
    sb_jstr(b, o->version ? o->version : "unknown");
    sb_printf(b, ",\n  \"git_revision\": ");
    sb_jstr(b, WB_GIT_REVISION);
    sb_printf(b, ",\n  \"dcmtk\": ");
    sb_jstr(b, io_dicom_dcmtk_version());
    sb_printf(b, ",\n  \"openblas\": ");
    sb_jstr(b, openblas_get_config());
    sb_printf(b, ",\n  \"libyaml\": ");
    sb_jstr(b, yaml_get_version_string());
    sb_printf(b, ",\n  \"cpu\": ");
    sb_jstr(b, cpu);
    sb_printf(b, ",\n  \"cores_online\": %ld,\n  \"threads\": %ld,\n  \"seed\": %ld,\n  \"weights\": ",
              sysconf(_SC_NPROCESSORS_ONLN), exp_config_int(cfg, "threads"), exp_config_int(cfg, "seed"));
    sb_jstr(b, exp_config_str(cfg, "backbone.weights"));
    sb_printf(b, ",\n  \"weights_sha256\": ");
    sb_jstr(b, weights_sha);
    sb_printf(b, "\n}\n");
}

int exp_run(const exp_run_options *o, char *dir, size_t dir_n, wb_error *err)
{
    exp_config *cfg = NULL;
    /* A resumed run reads its own resolved config and keeps its directory. */
    char resume_cfg[4200], resume_runs[4200];
    const char *runs_dir = o->runs_dir ? o->runs_dir : "runs";
    if (o->resume_dir) {
        snprintf(resume_cfg, sizeof resume_cfg, "%s/config.yaml", o->resume_dir);
        snprintf(resume_runs, sizeof resume_runs, "%s", o->resume_dir);
        char *slash = strrchr(resume_runs, '/');
        if (slash && slash != resume_runs) *slash = '\0';
        else snprintf(resume_runs, sizeof resume_runs, ".");
        runs_dir = resume_runs;
        if (access(resume_cfg, F_OK) != 0)
            return wb_err(err, WB_E_USAGE, o->resume_dir, "nothing to resume: the run was stopped before its "
                          "config.yaml was written; run the config again");
        if (exp_config_load(resume_cfg, NULL, 0, &cfg, err) != 0) return -1;
    } else if (exp_config_load(o->config, o->sets, o->n_sets, &cfg, err) != 0) {
        return -1;
    }
    exp_dataset ds;
    memset(&ds, 0, sizeof ds);
    wb_tensor_list weights;
    wb_tensor_list_init(&weights);
    exp_cv_folds cv;
    exp_cv_folds_init(&cv);
    sbuf b = {0};
    pred *preds = NULL;
    int *role = NULL, *ybuf = NULL, *by = NULL;
    size_t *group = NULL, *tr = NULL, *va = NULL, *te = NULL, *order = NULL;
    double *sval = NULL, *stest = NULL, *bs = NULL, *trainable = NULL, *fold_auc = NULL, *secs = NULL, *chosen_c = NULL;
    int *stages = NULL;
    double *mcp = NULL; /* multi-class: out-of-fold probabilities [repeat][variant][item][class] */
    int *mcpred = NULL;
    const char **ids = NULL;
    sbuf curves = {0}, log = {0}, probe_rows = {0};
    exp_feature_cache feature_cache = {0}; /* the pretrained backbone's features, shared by the probes */
    int rc = -1;
    exp_registry *reg = NULL;
    long long reg_id = 0;
    exp_wi *wi = NULL; /* a patch run's whole-image scoring (NULL otherwise) */
    char wsha[65] = "";
    nn_set_threads((int)exp_config_int(cfg, "threads"));

    /* the weights first: a missing or damaged file stops the run before it has a directory */
    const char *wpath = exp_config_str(cfg, "backbone.weights");
    size_t nv = exp_config_num_variants(cfg);
    int any_backbone = 0;
    for (size_t v = 0; v < nv; v++) {
        char k[64];
        snprintf(k, sizeof k, "variants[%zu].type", v);
        any_backbone |= !strcmp(exp_config_str(cfg, k), "backbone");
    }
    if (wpath && wpath[0] && any_backbone) {
        uint8_t wd[32];
        if (io_sha256_file(wpath, wd, err) != 0 || io_weights_read(wpath, &weights, err) != 0) goto done;
        /* and they fit the backbone (as workbench validate checks): refused before any work */
        if (exp_backbone_check(cfg, &weights, err) != 0) goto done;
        io_sha256_hex(wd, wsha);
    }

    /* run directory: <name>-<UTC time>-<hash of the resolved config> */
    if (io_fs_mkdirs(runs_dir, err) != 0) goto done;
    char *resolved = NULL;
    if (o->resume_dir) {
        snprintf(dir, dir_n, "%s", o->resume_dir);
        goto have_dir;
    }
    size_t resolved_n = 0;
    FILE *mf = open_memstream(&resolved, &resolved_n);
    if (!mf) {
        wb_err(err, WB_E_NOMEM, o->config, "out of memory");
        goto done;
    }
    exp_config_write_resolved(cfg, mf);
    fclose(mf);
    uint8_t h[32];
    io_sha256_buf(resolved, resolved_n, h);
    char stamp[32];
    if (o->timestamp) {
        snprintf(stamp, sizeof stamp, "%s", o->timestamp);
    } else {
        time_t t = time(NULL);
        struct tm tmv;
        gmtime_r(&t, &tmv);
        strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tmv);
    }
    /* claimed with mkdir, so two runs of one config in the same second get -2, -3, ... */
    for (int k = 1;; k++) {
        char sfx[16] = "";
        if (k > 1) snprintf(sfx, sizeof sfx, "-%d", k);
        snprintf(dir, dir_n, "%s/%s-%s-%02x%02x%02x%02x%s", runs_dir, exp_config_str(cfg, "name"), stamp, h[0], h[1],
                 h[2], h[3], sfx);
        if (io_fs_fault_point("mkdir", dir) != 0) {
            free(resolved);
            wb_err(err, WB_E_WRITE, dir, "cannot create the run directory: %s", strerror(errno));
            goto done;
        }
        if (mkdir(dir, 0777) == 0) break;
        if (errno != EEXIST || k == 1000) {
            free(resolved);
            wb_err(err, WB_E_WRITE, dir, "cannot create the run directory: %s", strerror(errno));
            goto done;
        }
    }
    b.s = resolved;
    b.n = resolved_n;
    b.cap = resolved_n + 1;
    resolved = NULL;
    if (sb_write(&b, dir, "config.yaml", err) != 0) goto done;
    sb_free(&b);
have_dir:;
    if (o->resume_dir) {
        /* temporary files of the killed process */
        char pd[4300];
        snprintf(pd, sizeof pd, "%s/parts", dir);
        io_fs_remove_stale_tmp(dir, NULL);
        io_fs_remove_stale_tmp(pd, NULL);
    }
    /* the registry: this run is "running" from here; failures below mark it failed */
    if (!o->registry || strcmp(o->registry, "none")) {
        char rpath[4400], cpath[4400], chex[65];
        if (o->registry) snprintf(rpath, sizeof rpath, "%s", o->registry);
        else snprintf(rpath, sizeof rpath, "%s/registry.sqlite", runs_dir);
        snprintf(cpath, sizeof cpath, "%s/config.yaml", dir);
        unsigned char *ctext = NULL;
        size_t cn = 0;
        uint8_t ch[32];
        if (io_file_read_all(cpath, 16 << 20, &ctext, &cn, err) != 0) goto done;
        io_sha256_buf(ctext, cn, ch);
        io_sha256_hex(ch, chex);
        char *ctz = realloc(ctext, cn + 1);
        if (ctz) ctz[cn] = '\0';
        exp_registry_run rr = {dir, exp_config_str(cfg, "name"), chex, wsha, WB_GIT_REVISION, ctz ? ctz : ""};
        int rrc = exp_registry_open(rpath, &reg, err) != 0 || exp_registry_start(reg, &rr, &reg_id, err) != 0;
        free(ctz ? ctz : (char *)ctext);
        if (rrc) goto done;
    }
    char parts[4300];
    snprintf(parts, sizeof parts, "%s/parts", dir);
    if (io_fs_mkdirs(parts, err) != 0) goto done;

    uint8_t key[32];
    if (exp_pseudonym_key(runs_dir, key, err) != 0) goto done;
    env_json(&b, cfg, o, wsha);
    if (sb_write(&b, dir, "environment.json", err) != 0) goto done;
    free(b.s);
    memset(&b, 0, sizeof b);

    /* data */
    double t_start = wb_now();
    char cache_dir[4400];
    exp_dataset_cache_dir(cfg, runs_dir, cache_dir, sizeof cache_dir);
    if (exp_dataset_load(cfg, key, cache_dir, o->progress, &ds, err) != 0) goto done;
    /* multi-class (more than two classes in data.classes): S scores per item */
    const int K = ds.n_classes, mc = K > 2;
    const size_t S = mc ? (size_t)K : 1;
    sb_printf(&b, "file,sop_instance_uid,sha256,label,patient,laterality,view,format\n");
    for (size_t i = 0; i < ds.n; i++) {
        const exp_item *it = &ds.items[i];
        /* never the raw path: directories are often named by patient id (data.output_paths) */
        char *shown = exp_dataset_out_file(&ds, it->file, it->group, it->pseudonym);
        if (!shown) {
            wb_err(err, WB_E_NOMEM, NULL, "out of memory");
            goto done;
        }
        sb_csv(&b, shown);
        free(shown);
        if (mc)
            sb_printf(&b, ",%s,%s,%s,%s,%s,%s,%s\n", it->sop_uid, it->sha256, exp_config_list_item(cfg, "data.classes", (size_t)it->label),
                      it->pseudonym, it->laterality, it->view, it->format);
        else
            sb_printf(&b, ",%s,%s,%d,%s,%s,%s,%s\n", it->sop_uid, it->sha256, it->label, it->pseudonym, it->laterality, it->view,
                      it->format);
    }
    if (sb_write(&b, dir, "manifest.csv", err) != 0) goto done;
    free(b.s);
    memset(&b, 0, sizeof b);
    sb_printf(&b, "file,reason\n");
    for (size_t i = 0; i < ds.n_excluded; i++) {
        const exp_excluded *x = &ds.excluded[i];
        char *shown = exp_dataset_out_file(&ds, x->file, x->group, x->pseudonym);
        char *why = exp_dataset_out_text(&ds, x->reason, x->file, x->path, x->csv_line, x->group, x->pseudonym);
        if (!shown || !why) {
            free(shown);
            free(why);
            wb_err(err, WB_E_NOMEM, NULL, "out of memory");
            goto done;
        }
        if (ds.paths == EXP_PATHS_NONE) sb_printf(&b, "line %d", x->csv_line); /* of the labels CSV */
        else sb_csv(&b, shown);
        sb_printf(&b, ",");
        sb_csv(&b, why);
        sb_printf(&b, "\n");
        free(shown);
        free(why);
    }
    if (sb_write(&b, dir, "excluded.csv", err) != 0) goto done;
    free(b.s);
    memset(&b, 0, sizeof b);

    /* folds: stratified by the patient's label, grouped by patient */
    const size_t n = ds.n, nwin = ds.patch ? ds.patch->n_windows : 0; /* windows live past n */
    const int folds = (int)exp_config_int(cfg, "cv.folds"), repeats = (int)exp_config_int(cfg, "cv.repeats");
    const uint64_t seed = (uint64_t)exp_config_int(cfg, "seed");
    group = malloc(n * sizeof *group);
    ids = malloc(n * sizeof *ids);
    ybuf = malloc(n * sizeof *ybuf);
    role = malloc(n * sizeof *role);
    tr = malloc(n * sizeof *tr);
    va = malloc(n * sizeof *va);
    te = malloc((n + nwin) * sizeof *te);
    order = malloc(n * sizeof *order);
    sval = malloc(n * S * sizeof *sval);
    stest = malloc((n + nwin) * S * sizeof *stest);
    by = malloc(n * sizeof *by);
    bs = malloc(n * S * sizeof *bs);
    if (mc) {
        mcp = calloc(n * (size_t)repeats * nv * S, sizeof *mcp);
        mcpred = malloc(n * sizeof *mcpred);
        if (!mcp || !mcpred) {
            wb_err(err, WB_E_NOMEM, o->config, "out of memory");
            goto done;
        }
    }
    preds = calloc(n * (size_t)repeats * nv, sizeof *preds);
    trainable = calloc(nv, sizeof *trainable);
    stages = malloc(nv * sizeof *stages);
    chosen_c = malloc(nv * (size_t)repeats * (size_t)folds * sizeof *chosen_c);
    fold_auc = calloc(nv * (size_t)repeats * (size_t)folds * 2, sizeof *fold_auc);
    secs = calloc(nv * (size_t)repeats * (size_t)folds, sizeof *secs);
    if (!group || !ids || !ybuf || !role || !tr || !va || !te || !order || !sval || !stest || !by || !bs || !preds ||
        !trainable || !fold_auc || !secs || !stages || !chosen_c) {
        wb_err(err, WB_E_NOMEM, o->config, "out of memory");
        goto done;
    }
    for (size_t v = 0; v < nv; v++) stages[v] = -1;
    for (size_t i = 0; i < nv * (size_t)repeats * (size_t)folds; i++) chosen_c[i] = NAN;
    const variant_facts vfacts = {trainable, stages, chosen_c, nv, repeats, folds};
    size_t n_groups;
    for (size_t i = 0; i < n; i++) {
        ids[i] = ds.items[i].group;
        ybuf[i] = ds.items[i].label;
    }
    if (exp_cv_groups_from_strings(ids, n, group, &n_groups, err) != 0) goto done;
    if (!exp_config_bool(cfg, "cv.stratify")) /* one stratum: folds balanced by size only */
        for (size_t i = 0; i < n; i++) ybuf[i] = 0;
    if (exp_wi_init(&wi, &ds, cfg, repeats, nv, err) != 0) goto done;
    if (exp_cv_split(group, ybuf, n, folds, repeats, seed, &cv, err) != 0 || exp_cv_check(&cv, group, n, err) != 0) {
        snprintf(err->file, sizeof err->file, "%s", o->config);
        snprintf(err->key, sizeof err->key, "cv.folds");
        goto done;
    }
    sb_printf(&b, "repeat,fold,sop_instance_uid,patient\n");
    for (int r = 0; r < repeats; r++)
        for (size_t i = 0; i < n; i++)
            sb_printf(&b, "%d,%d,%s,%s\n", r, cv.fold[(size_t)r * n + i], ds.items[i].sop_uid, ds.items[i].pseudonym);
    if (sb_write(&b, dir, "folds.csv", err) != 0) goto done;
    if (exp_wi_write_patches(&ds, &cv, dir, err) != 0 || exp_wi_write_contact(&ds, dir, err) != 0) goto done;
    free(b.s);
    memset(&b, 0, sizeof b);

    const double val_fraction = exp_config_double(cfg, "train.val_fraction");
    const double spec = exp_config_double(cfg, "metrics.specificity");
    const char *thr_how = exp_config_str(cfg, "metrics.threshold");
    const int agg_max = !strcmp(exp_config_str(cfg, "metrics.breast_aggregate"), "max");
    const int epochs = (int)exp_config_int(cfg, "train.epochs");
    prog_ctx pc = {0, repeats, 0, folds, epochs, NULL, wb_now(), 0, 0};
    for (size_t v = 0; v < nv; v++) {
        char k[64];
        snprintf(k, sizeof k, "variants[%zu].type", v);
        pc.total_units += (double)repeats * folds * (!strcmp(exp_config_str(cfg, k), "backbone") ? epochs : 1);
    }
    sb_printf(&curves, "repeat,fold,variant,epoch,train_loss,val_auc,lr,best\n");
    sb_printf(&probe_rows, "repeat,fold,variant,C,val_log_loss,val_auc,chosen\n");
    double n_train_sum = 0, n_test_sum = 0;
    for (int r = 0; r < repeats; r++) {
        for (int f = 0; f < folds; f++) {
            if (exp_cv_roles(&cv, r, f, val_fraction, role, err) != 0 || exp_cv_check_roles(role, group, n, err) != 0) goto done;
            size_t ntr = 0, nva = 0, nte = 0;
            for (size_t i = 0; i < n; i++) {
                if (role[i] == EXP_CV_TRAIN) tr[ntr++] = i;
                else if (role[i] == EXP_CV_VAL) va[nva++] = i;
                else te[nte++] = i;
            }
            /* a patch run also scores the windows of the fold's held-out and validation images */
            const size_t nte_x = nte + exp_wi_fold_windows(wi, role, te + nte);
            n_train_sum += (double)(ntr + nva);
            n_test_sum += (double)nte;
            for (size_t v = 0; v < nv; v++) {
                char k[64];
                snprintf(k, sizeof k, "variants[%zu].name", v);
                const char *vname = exp_config_str(cfg, k);
                snprintf(k, sizeof k, "variants[%zu].type", v);
                const int is_base = !strcmp(exp_config_str(cfg, k), "baseline");
                pc.repeat = r;
                pc.fold = f;
                pc.variant = vname;
                char ppath[4400];
                part_path(dir, r, f, v, ppath, sizeof ppath);
                size_t curve_mark = curves.n, probe_mark = probe_rows.n;
                const size_t rfv = ((size_t)r * (size_t)folds + (size_t)f) * nv + v;
                double *sec = &secs[rfv], t_part = wb_now();
                int reused = 0;
                part_facts pf = {0, 0, NAN, -1};
                if (o->resume_dir && part_read(ppath, nva, nte_x, S, &pf, sval, stest, &probe_rows, &curves) == 0) {
                    reused = 1;
                    trainable[v] = pf.trainable;
                    stages[v] = pf.stages;
                    chosen_c[rfv] = pf.chosen_c;
                    *sec = pf.seconds;
                    pc.done_units += is_base ? 1 : epochs;
                    wb_log(WB_LOG_INFO, "repeat %d/%d fold %d/%d %s: finished before, read from %s", r + 1, repeats,
                           f + 1, folds, vname, ppath);
                } else if (is_base) {
                    char ck[64];
                    snprintf(ck, sizeof ck, "variants[%zu].C", v);
                    exp_baseline_cfg bc;
                    exp_baseline_cfg_from_config(cfg, v, &bc);
                    if (exp_baseline_fit_predict(&ds, tr, ntr, va, nva, te, nte_x, &bc, sval, stest, err) != 0) goto done;
                    trainable[v] = (double)bc.n_features + 1;
                    pc.done_units += 1;
                    wb_log(WB_LOG_INFO, "repeat %d/%d fold %d/%d %s: logistic regression on %d features done",
                           r + 1, repeats, f + 1, folds, vname, bc.n_features);
                } else {
                    exp_train_cfg tc;
                    if (exp_train_cfg_from_config(cfg, v, &tc, err) != 0) goto done;
                    tc.features = &feature_cache;
                    tc.seed = wb_rng_derive(wb_rng_derive(seed, (uint64_t)r), (uint64_t)f);
                    exp_split sp = {tr, va, te, ntr, nva, nte_x};
                    exp_train_result res;
                    if (exp_train_backbone(&ds, &sp, &tc, weights.n ? &weights : NULL, o->progress ? on_epoch : NULL, &pc, &res, err) != 0)
                        goto done;
                    pc.done_units += epochs - res.n_epochs; /* early stop: those epochs are not coming */
                    memcpy(sval, res.val_scores, nva * S * sizeof *sval);
                    memcpy(stest, res.test_scores, nte_x * S * sizeof *stest);
                    trainable[v] = (double)res.trainable_params;
                    stages[v] = res.trainable_stages;
                    if (res.probe.n_C) {
                        const exp_probe_log *pl = &res.probe;
                        chosen_c[rfv] = pl->C[pl->chosen];
                        for (size_t q = 0; q < pl->n_C; q++) {
                            sb_printf(&probe_rows, "%d,%d,%s,", r, f, vname);
                            sb_num(&probe_rows, pl->C[q]);
                            sb_printf(&probe_rows, ",");
                            sb_num(&probe_rows, pl->val_loss[q]);
                            sb_printf(&probe_rows, ",");
                            sb_num(&probe_rows, pl->val_auc[q]);
                            sb_printf(&probe_rows, ",%d\n", (int)q == pl->chosen);
                        }
                        wb_log(WB_LOG_INFO, "repeat %d/%d fold %d/%d %s: linear probe on %s features, C = %g chosen by validation log loss",
                               r + 1, repeats, f + 1, folds, vname, res.n_epochs ? "the starting" : "frozen", chosen_c[rfv]);
                    }
                    if (tc.save_weights) {
                        /* the fold's network as safetensors under the home framework's names */
                        char mdir[4400], mpath[4600], meta_fold[48];
                        snprintf(mdir, sizeof mdir, "%s/models", dir);
                        snprintf(mpath, sizeof mpath, "%s/r%d_f%d_%s.safetensors", mdir, r, f, vname);
                        snprintf(meta_fold, sizeof meta_fold, "repeat %d fold %d", r, f);
                        const char *meta[] = {"workbench_arch", tc.arch, "workbench_variant", vname, "workbench_fold",
                                              meta_fold, "workbench_weights_sha256", wsha};
                        if (io_fs_mkdirs(mdir, err) != 0 || io_safetensors_write(mpath, &res.weights, meta, 4, err) != 0) {
                            exp_train_result_free(&res);
                            goto done;
                        }
                    }
                    for (int e = 0; e < res.n_epochs; e++) {
                        sb_printf(&curves, "%d,%d,%s,%d,", r, f, vname, e + 1);
                        sb_num(&curves, res.curve[e].train_loss);
                        sb_printf(&curves, ",");
                        sb_num(&curves, res.curve[e].val_auc);
                        sb_printf(&curves, ",");
                        sb_num(&curves, res.curve[e].lr);
                        sb_printf(&curves, ",%d\n", e == res.best_epoch);
                    }
                    exp_train_result_free(&res);
                }
                /* a baseline's time includes its radiomic features (all of the fold's images,
                 * computed once while the data loaded), as a frozen variant's includes its
                 * backbone features */
                if (!reused) *sec = wb_now() - t_part + (is_base ? ds.feature_seconds : 0);
                pf = (part_facts){trainable[v], *sec, chosen_c[rfv], stages[v]};
                if (part_write(dir, r, f, v, &pf, sval, nva, stest, nte_x, S, probe_rows.s ? probe_rows.s + probe_mark : "",
                               probe_rows.n - probe_mark, curves.s ? curves.s + curve_mark : "", curves.n - curve_mark,
                               err) != 0)
                    goto done;
                if (mc) {
                    /* no thresholds: the predicted class is the most probable one */
                    for (size_t j = 0; j < nte; j++)
                        memcpy(&mcp[(((size_t)r * nv + v) * n + te[j]) * S], &stest[j * S], S * sizeof *stest);
                } else {
                    /* thresholds on validation data only, image and breast level */
                    int *yv = by; /* scratch: labels of val items */
                    for (size_t j = 0; j < nva; j++) yv[j] = ds.items[va[j]].label;
                    double thr = choose_threshold(yv, sval, nva, thr_how, spec);
                    size_t nbv = to_breasts(&ds, va, sval, nva, 1, agg_max, by, bs, order);
                    double bthr = choose_threshold(by, bs, nbv, thr_how, spec);
                    for (size_t j = 0; j < nte; j++) {
                        pred *p = &preds[((size_t)r * nv + v) * n + te[j]];
                        p->score = stest[j];
                        p->thr = thr;
                        p->bthr = bthr;
                    }
                }
                exp_wi_fold_scores(wi, r, f, v, role, te + nte, stest + nte, nte_x - nte);
                /* per-fold AUCs (macro AUCs for multi-class) for the corrected t-test */
                for (size_t j = 0; j < nte; j++) ybuf[j] = ds.items[te[j]].label;
                fold_auc[fold_auc_at(v, r, f, 0, repeats, folds)] = fold_auc_of(ybuf, stest, nte, S, K);
                size_t nbt = to_breasts(&ds, te, stest, nte, (int)S, agg_max, by, bs, order);
                fold_auc[fold_auc_at(v, r, f, 1, repeats, folds)] = fold_auc_of(by, bs, nbt, S, K);
            }
        }
    }
    if (sb_write(&curves, dir, "curves.csv", err) != 0 || sb_write(&probe_rows, dir, "probe.csv", err) != 0) goto done;

    /* timing.csv: wall seconds of each (repeat, fold, variant); kept apart from the metrics,
     * which must not depend on the machine's speed */
    sb_printf(&b, "repeat,fold,variant,seconds\n");
    for (int r = 0; r < repeats; r++)
        for (int f = 0; f < folds; f++)
            for (size_t v = 0; v < nv; v++) {
                char k[64];
                snprintf(k, sizeof k, "variants[%zu].name", v);
                sb_printf(&b, "%d,%d,%s,%.3f\n", r, f, exp_config_str(cfg, k),
                          secs[((size_t)r * (size_t)folds + (size_t)f) * nv + v]);
            }
    if (sb_write(&b, dir, "timing.csv", err) != 0) goto done;
    sb_free(&b);

    if (mc) {
        if (mc_write_results(cfg, &ds, &cv, dir, K, repeats, folds, nv, seed, mcp, mcpred, fold_auc, &vfacts,
                             n_groups, n_train_sum / (repeats * folds), n_test_sum / (repeats * folds), agg_max, err) != 0)
            goto done;
        goto write_log;
    }
    /* predictions.csv: out-of-fold scores, patients pseudonymised */
    sb_printf(&b, "repeat,fold,variant,sop_instance_uid,patient,laterality,view,label,score,threshold\n");
    for (int r = 0; r < repeats; r++)
        for (size_t v = 0; v < nv; v++) {
            char k[64];
            snprintf(k, sizeof k, "variants[%zu].name", v);
            const char *vname = exp_config_str(cfg, k);
            for (size_t i = 0; i < n; i++) {
                const pred *p = &preds[((size_t)r * nv + v) * n + i];
                const exp_item *it = &ds.items[i];
                sb_printf(&b, "%d,%d,%s,%s,%s,%s,%s,%d,", r, cv.fold[(size_t)r * n + i], vname, it->sop_uid, it->pseudonym,
                          it->laterality, it->view, it->label);
                sb_num(&b, p->score);
                sb_printf(&b, ",");
                sb_num(&b, p->thr);
                sb_printf(&b, "\n");
            }
        }
    if (sb_write(&b, dir, "predictions.csv", err) != 0) goto done;
    free(b.s);
    memset(&b, 0, sizeof b);

    /* metrics: pooled out-of-fold per repeat, image and breast level; per fold; vs reference */
    const size_t ref_v = reference_variant(cfg, nv);
    size_t n_pos = 0;
    for (size_t i = 0; i < n; i++) n_pos += (size_t)ds.items[i].label;
    sbuf mcsv = {0};
    sb_printf(&mcsv, "repeat,fold,variant,level,metric,value,ci_low,ci_high\n");
    json_metrics_open(&b, cfg);
    sb_printf(&b, ",\n  \"data\": {\"images\": %zu, \"patients\": %zu, \"positive_images\": %zu, \"excluded\": %zu", n,
              n_groups, n_pos, ds.n_excluded);
    json_formats(&b, &ds);
    if (ds.patch) /* a patch run: its items are patches */
        sb_printf(&b, ", \"task\": \"patch\", \"lesion_patches\": %zu, \"background_patches\": %zu, \"source_images\": %zu",
                  ds.patch->n_lesion, ds.patch->n_background, ds.patch->n_images);
    sb_printf(&b, "},\n");
    json_cv_reference(&b, cfg, folds, repeats, seed);
    double *ref_scores = malloc(n * sizeof *ref_scores), *scores = malloc(n * sizeof *scores);
    double *ref_b = malloc(n * sizeof *ref_b);
    int *yall = malloc(n * sizeof *yall), *ball = malloc(n * sizeof *ball);
    size_t *all = malloc(n * sizeof *all);
    if (!ref_scores || !scores || !ref_b || !yall || !ball || !all) {
        free(ref_scores), free(scores), free(ref_b), free(yall), free(ball), free(all), free(mcsv.s);
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        all[i] = i;
        yall[i] = ds.items[i].label;
    }
    for (size_t v = 0; v < nv; v++) {
        const char *vname = json_variant_open(&b, cfg, v, &vfacts);
        for (int r = 0; r < repeats; r++) {
            for (size_t i = 0; i < n; i++) {
                scores[i] = preds[((size_t)r * nv + v) * n + i].score;
                ref_scores[i] = preds[((size_t)r * nv + ref_v) * n + i].score;
            }
            sb_printf(&b, "      {\"repeat\": %d", r);
            for (int level = 0; level < 2; level++) {
                const char *lname = level ? "breast" : "image";
                double m[M_COUNT];
                /* pooled confusion: each fold's own validation threshold on its test images */
                double thr_sum_tp = 0, tp = 0, fp = 0, tn = 0, fn = 0;
                (void)thr_sum_tp;
                size_t ne = n;
                const int *yy = yall;
                const double *ss = scores, *rs = ref_scores;
                if (level == 1) {
                    ne = to_breasts(&ds, all, scores, n, 1, agg_max, ball, bs, order);
                    to_breasts(&ds, all, ref_scores, n, 1, agg_max, ball, ref_b, order);
                    yy = ball;
                    ss = bs;
                    rs = ref_b;
                }
                compute(yy, ss, ne, 0.5, spec, m);
                for (int f = 0; f < folds; f++) {
                    size_t nf = 0;
                    for (size_t i = 0; i < n; i++)
                        if (cv.fold[(size_t)r * n + i] == f) te[nf++] = i;
                    if (!nf) continue;
                    const pred *p0 = &preds[((size_t)r * nv + v) * n + te[0]];
                    double t = level ? p0->bthr : p0->thr;
                    for (size_t j = 0; j < nf; j++) stest[j] = preds[((size_t)r * nv + v) * n + te[j]].score;
                    size_t nn = nf;
                    const int *fy;
                    const double *fs = stest;
                    if (level == 1) {
                        nn = to_breasts(&ds, te, stest, nf, 1, agg_max, by, sval, order);
                        fy = by;
                        fs = sval;
                    } else {
                        for (size_t j = 0; j < nf; j++) by[j] = ds.items[te[j]].label;
                        fy = by;
                    }
                    double fm[M_COUNT];
                    compute(fy, fs, nn, t, spec, fm);
                    for (size_t j = 0; j < nn; j++) {
                        int pos = fs[j] >= t;
                        tp += pos && fy[j];
                        fp += pos && !fy[j];
                        tn += !pos && !fy[j];
                        fn += !pos && fy[j];
                    }
                    char fold_s[16];
                    snprintf(fold_s, sizeof fold_s, "%d", f);
                    for (int q = 0; q < M_COUNT; q++) csv_metric(&mcsv, r, fold_s, vname, lname, q, fm);
                }
                exp_confusion c = {tp, fp, tn, fn};
                m[M_ACC] = exp_confusion_accuracy(&c);
                m[M_BACC] = exp_confusion_balanced_accuracy(&c);
                m[M_SENS] = exp_confusion_sensitivity(&c);
                m[M_SPEC] = exp_confusion_specificity(&c);
                m[M_F1] = exp_confusion_f1(&c);
                m[M_THRESH] = NAN; /* one per fold, in predictions.csv */
                sb_printf(&b, ",\n       \"%s\": {", lname);
                for (int q = 0; q < M_COUNT; q++) {
                    if (q == M_THRESH) continue;
                    sb_printf(&b, "%s\"%s\": ", q ? ", " : "", metric_names[q]);
                    sb_num(&b, m[q]);
                    csv_metric(&mcsv, r, "pooled", vname, lname, q, m);
                }
                /* against the reference: paired DeLong on pooled scores, corrected t-test on fold AUCs */
                if (v != ref_v) {
                    exp_delong_paired dp;
                    wb_error e2;
                    sb_printf(&b, ",\n         \"vs_reference\": {");
                    if (exp_metrics_delong_paired(yy, ss, rs, ne, &dp, &e2) == 0) {
                        sb_printf(&b, "\"delta_auc\": ");
                        sb_num(&b, dp.diff);
                        sb_printf(&b, ", \"delta_ci_low\": ");
                        sb_num(&b, dp.diff_ci_lo);
                        sb_printf(&b, ", \"delta_ci_high\": ");
                        sb_num(&b, dp.diff_ci_hi);
                        sb_printf(&b, ", \"delong_z\": ");
                        sb_num(&b, dp.z);
                        sb_printf(&b, ", \"delong_p\": ");
                        sb_num(&b, dp.p);
                    } else {
                        sb_printf(&b, "\"delta_auc\": null");
                    }
                    json_ttest(&b, fold_auc, v, ref_v, r, level, repeats, folds, n_train_sum / (repeats * folds),
                               n_test_sum / (repeats * folds));
                    sb_printf(&b, "}");
                }
                sb_printf(&b, "}");
            }
            sb_printf(&b, "}%s\n", r + 1 < repeats ? "," : "");
        }
        sb_printf(&b, "     ]}%s\n", v + 1 < nv ? "," : "");
    }
    sb_printf(&b, "  ]");
    if (exp_wi_write(wi, cfg, dir, &b, err) != 0) {
        free(ref_scores), free(scores), free(ref_b), free(yall), free(ball), free(all), free(mcsv.s);
        goto done;
    }
    sb_printf(&b, "\n}\n");
    free(ref_scores), free(scores), free(ref_b), free(yall), free(ball), free(all);
    if (sb_write(&b, dir, "metrics.json", err) != 0 || sb_write(&mcsv, dir, "metrics.csv", err) != 0) {
        free(mcsv.s);
        goto done;
    }
    free(mcsv.s);
write_log:
    sb_printf(&log, "run %s\nconfig %s\nimages %zu (excluded %zu), patients %zu\nwall time %.1f s\n", dir, o->config, n,
              ds.n_excluded, n_groups, wb_now() - t_start);
    if (sb_write(&log, dir, "run.log", err) != 0) goto done;
    if (exp_report_write(dir, err) != 0) goto done;
    rc = 0;
done:
    if (reg) {
        /* the run's outcome; a registry that cannot take it is reported, the run files stay */
        char msg[sizeof err->file + sizeof err->msg + 4];
        if (rc != 0) snprintf(msg, sizeof msg, "%s%s%s", err->file[0] ? err->file : "", err->file[0] ? ": " : "", err->msg);
        wb_error e2;
        wb_error_clear(&e2);
        if (exp_registry_finish(reg, reg_id, dir, rc == 0 ? NULL : msg, &e2) != 0) {
            wb_warn("the run registry was not updated: %s: %s", e2.file, e2.msg);
        }
        exp_registry_close(reg);
    }
    free(b.s);
    free(curves.s);
    free(probe_rows.s);
    free(log.s);
    free(stages);
    free(chosen_c);
    exp_feature_cache_free(&feature_cache);
    free(preds);
    free(role);
    free(ybuf);
    free(by);
    free(group);
    free(tr);
    free(va);
    free(te);
    free(order);
    free(sval);
    free(stest);
    free(bs);
    free(trainable);
    free(fold_auc);
    free(secs);
    free(mcp);
    free(mcpred);
    free(ids);
    exp_cv_folds_free(&cv);
    exp_wi_free(wi);
    wb_tensor_list_free(&weights);
    exp_dataset_free(&ds);
    exp_config_free(cfg);
    return rc;
}
