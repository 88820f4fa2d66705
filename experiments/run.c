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
#include "experiments/eval/summary.h"
#include "experiments/model/train.h"
#include "experiments/report/registry.h"
#include "experiments/report/report.h"
#include "experiments/report/rundir.h"
#include "io/io_sbuf.h"
#include "base/wb_log.h"

/* `git describe --always --dirty` of the source tree when the binary was built (generated:
 * experiments/git_revision.cmake) */
extern const char wb_git_revision[];

/* ---- breast-level aggregation ---- */

/* The data object's image formats: ", \"non_dicom_images\": K, \"formats\": {\"dicom\": N, ...}"
 * (formats in a fixed order, those with no image left out). Non-DICOM images (PNG, JPEG, PGM)
 * had no DICOM metadata: the report says so. */
static void json_formats(sbuf *b, const exp_dataset *ds)
{
    static const io_image_format fmts[] = {IO_IMAGE_DICOM, IO_IMAGE_PNG, IO_IMAGE_JPEG, IO_IMAGE_PGM};
    static const char *const names[] = {"dicom", "png", "jpeg", "pgm"};
    size_t cnt[4] = {0}, other = 0;
    for (size_t i = 0; i < ds->n; i++) {
        size_t k = 0;
        while (k < 4 && ds->items[i].format != fmts[k]) k++;
        if (k < 4) cnt[k]++;
        else other++;
    }
    sb_printf(b, ", \"" EXP_RD_K_NON_DICOM "\": %zu, \"" EXP_RD_K_FORMATS "\": {", ds->n - cnt[0]);
    int first = 1;
    for (size_t k = 0; k < 4; k++)
        if (cnt[k]) {
            sb_printf(b, "%s\"%s\": %zu", first ? "" : ", ", names[k], cnt[k]);
            first = 0;
        }
    if (other) sb_printf(b, "%s\"unknown\": %zu", first ? "" : ", ", other);
    sb_printf(b, "}");
}

/* Variant v of the config (after sweep expansion). */
static const exp_settings_variant *run_variant(const exp_config *cfg, size_t v)
{
    return &exp_config_get(cfg)->variants[v];
}

/* Writes m as JSON members ("auc": ..., ...) and as metrics.csv rows. */
static void mc_emit(sbuf *json, sbuf *csv, int repeat, const char *fold, const char *variant, const char *level,
                    const exp_mc_metrics *m, const exp_config *cfg, int K)
{
    for (int q = 0; q <= EXP_MC_N + K * 2; q++) {
        char name[128];
        double v;
        if (q == 0) {
            snprintf(name, sizeof name, "%s", exp_rd_mc_fixed_names[EXP_MC_AUC]);
            v = m->v[EXP_MC_AUC];
        } else if (q <= K) {
            snprintf(name, sizeof name, EXP_RD_M_AUC_OVR_PREFIX "%s", exp_config_get(cfg)->data.classes[q - 1]);
            v = m->auc_c[q - 1];
        } else if (q < K + EXP_MC_FIXED) {
            snprintf(name, sizeof name, "%s", exp_rd_mc_fixed_names[q - K]);
            v = m->v[q - K];
        } else {
            snprintf(name, sizeof name, EXP_RD_M_N_CLASS_PREFIX "%s", exp_config_get(cfg)->data.classes[q - K - EXP_MC_FIXED]);
            v = m->n_c[q - K - EXP_MC_FIXED];
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

/* One metrics.csv row (the AUC carries its DeLong CI; the CI bounds get no rows of their own). */
static void csv_metric(sbuf *b, int repeat, const char *fold, const char *variant, const char *level, int q,
                       const double m[EXP_M_COUNT])
{
    if (q == EXP_M_AUC_LO || q == EXP_M_AUC_HI) return;
    sb_printf(b, "%d,%s,%s,%s,%s,", repeat, fold, variant, level, exp_rd_metric_names[q]);
    sb_num(b, m[q]);
    sb_printf(b, ",");
    if (q == EXP_M_AUC) {
        sb_num(b, m[EXP_M_AUC_LO]);
        sb_printf(b, ",");
        sb_num(b, m[EXP_M_AUC_HI]);
    } else {
        sb_printf(b, ",");
    }
    sb_printf(b, "\n");
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

static int part_write(const char *dir, const char *run_id, int r, int f, size_t v, const part_facts *pf,
                      const double *sval, size_t nva, const double *stest, size_t nte, size_t S, const char *probe,
                      size_t probe_n, const char *curve, size_t curve_n, wb_error *err)
{
    sbuf b = {0};
    sb_printf(&b, "workbench part 4\nrun %s\ntrainable %.0f\nstages %d\nchosen_C %.17g\nseconds %.3f\nval %zu\n", run_id,
              pf->trainable, pf->stages, pf->chosen_c, pf->seconds, nva);
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

/* Reads a part written by part_write: 0 when it is this run's (run_id: the hash of its
 * config.yaml, manifest.csv and folds.csv) and matches the fold's sizes; PART_ABSENT when there
 * is no such file; PART_FOREIGN when it was made by another run, another format or is damaged
 * (a resumed run computes it again; the finish step refuses it). The probe and curve rows are
 * appended to probe and curves. */
enum { PART_ABSENT = -1, PART_FOREIGN = -2 };
static int part_read(const char *path, const char *run_id, size_t nva, size_t nte, size_t S, part_facts *pf,
                     double *sval, double *stest, sbuf *probe, sbuf *curves)
{
    FILE *f = io_fs_fopen_input(path, 0, NULL, NULL); /* regular files only */
    if (!f) return access(path, F_OK) == 0 ? PART_FOREIGN : PART_ABSENT;
    char line[1024], want[128];
    size_t a = 0, b = 0, np = 0;
    snprintf(want, sizeof want, "run %s\n", run_id);
    int ok = fgets(line, sizeof line, f) && !strcmp(line, "workbench part 4\n") && fgets(line, sizeof line, f) &&
             !strcmp(line, want) &&
             fscanf(f, "trainable %lf\nstages %d\nchosen_C %lf\nseconds %lf\nval %zu\n", &pf->trainable, &pf->stages,
                    &pf->chosen_c, &pf->seconds, &a) == 5 &&
             a == nva;
    /* a unit that diverges fails and writes no part, so every score of a part is finite: a NaN
     * or infinity (fscanf reads both) is a damaged part, not a score that moves the threshold */
    for (size_t j = 0; ok && j < nva * S; j++) ok = fscanf(f, "%lf\n", &sval[j]) == 1 && isfinite(sval[j]);
    ok = ok && fscanf(f, "test %zu\n", &b) == 1 && b == nte;
    for (size_t j = 0; ok && j < nte * S; j++) ok = fscanf(f, "%lf\n", &stest[j]) == 1 && isfinite(stest[j]);
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
    return ok ? 0 : PART_FOREIGN;
}

/* ---- metrics.json pieces shared by binary and multi-class runs ---- */

/* Index into fold_auc: [variant][repeat][fold][level], level 0 image, 1 breast. */
static size_t fold_auc_at(size_t v, int r, int f, int level, int repeats, int folds)
{
    return ((v * (size_t)repeats + (size_t)r) * (size_t)folds + (size_t)f) * 2 + (size_t)level;
}

/* Opens metrics.json ({"schema_version", "name"); the caller goes on with ",\n  \"..."). */
static void json_metrics_open(sbuf *b, const exp_config *cfg)
{
    sb_printf(b, "{\n  \"" EXP_RD_K_SCHEMA_VERSION "\": %d,\n  \"" EXP_RD_K_NAME "\": ", EXP_RD_SCHEMA_VERSION);
    sb_jstr(b, exp_config_get(cfg)->name);
}

/* The "row_selection" member of metrics.json's data object (nothing without data.filter or
 * cv.split_column): the labels' rows, those kept, and those each filter left out. */
static void json_row_selection(sbuf *b, const exp_config *cfg, const exp_dataset *ds)
{
    const exp_rows_report *rr = &ds->selected;
    if (!rr->n_filters && !rr->split) return;
    const exp_settings_data *d = &exp_config_get(cfg)->data;
    sb_printf(b, ", \"row_selection\": {\"labels_rows\": %zu, \"kept_rows\": %zu, \"filter_left_out\": {", rr->rows,
              rr->kept);
    for (size_t k = 0; k < rr->n_filters && k < d->n_filters; k++) {
        sb_printf(b, "%s", k ? ", " : "");
        sb_jstr(b, d->filters[k].column);
        sb_printf(b, ": %zu", rr->dropped[k]);
    }
    sb_printf(b, "}");
    if (rr->split)
        sb_printf(b, ", \"split_other_left_out\": %zu, \"split_overlap_left_out\": %zu", rr->split_other,
                  rr->overlap_dropped);
    sb_printf(b, "}");
}

/* Items with a prediction in repeat r into idx (every item in cross-validation; the test items
 * of a fixed split); returns their number. */
static size_t tested_items(const exp_cv_folds *cv, int r, size_t n, size_t *idx)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (cv->fold[(size_t)r * n + i] >= 0) idx[k++] = i;
    return k;
}

/* The "cv" and "reference" members of metrics.json, and the start of its "variants" array. A
 * fixed split (cv.split_column) says so: "fixed_split" with the column, the values of each side,
 * the images and patients on each side. */
static void json_cv_reference(sbuf *b, const exp_config *cfg, const exp_cv_folds *cv, const exp_dataset *ds)
{
    const exp_settings_cv *sc = &exp_config_get(cfg)->cv;
    sb_printf(b, "  \"cv\": {\"folds\": %d, \"repeats\": %d, \"seed\": %llu", cv->folds, cv->repeats,
              (unsigned long long)cv->seed);
    if (cv->fixed) {
        size_t img[2] = {0, 0}, pat[2] = {0, 0};
        unsigned char *seen = calloc(cv->n_groups ? cv->n_groups : 1, 1);
        for (size_t i = 0; i < cv->n; i++) {
            const int t = cv->fold[i] >= 0;
            img[t]++;
            if (seen && !seen[cv->group[i]]) {
                seen[cv->group[i]] = 1;
                pat[t]++;
            }
        }
        free(seen);
        sb_printf(b, ", \"fixed_split\": {\"column\": ");
        sb_jstr(b, sc->split_column);
        for (int side = 0; side < 2; side++) {
            sb_printf(b, side ? ", \"test_values\": [" : ", \"train_values\": [");
            const char *const *v = side ? sc->split_test : sc->split_train;
            size_t nv = side ? sc->n_split_test : sc->n_split_train;
            for (size_t k = 0; k < nv; k++) {
                sb_printf(b, "%s", k ? ", " : "");
                sb_jstr(b, v[k]);
            }
            sb_printf(b, "]");
        }
        sb_printf(b, ", \"train_%s\": %zu, \"train_patients\": %zu, \"test_%s\": %zu, \"test_patients\": %zu, "
                     "\"overlap\": \"%s\", \"overlap_patients\": %zu}",
                  ds->patch ? "patches" : "images", img[0], pat[0], ds->patch ? "patches" : "images", img[1], pat[1],
                  sc->split_overlap == EXP_SPLIT_OVERLAP_DROP_TRAIN ? "drop_train" : "refuse",
                  ds->selected.overlap_patients);
    }
    sb_printf(b, "},\n  \"reference\": ");
    sb_jstr(b, exp_config_get(cfg)->metrics.reference);
    sb_printf(b, ",\n  \"" EXP_RD_K_VARIANTS "\": [\n");
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
    const exp_settings_variant *vs = run_variant(cfg, v);
    const char *vname = vs->name;
    sb_printf(b, "    {\"" EXP_RD_K_NAME "\": ");
    sb_jstr(b, vname);
    sb_printf(b, ", \"" EXP_RD_K_TYPE "\": ");
    sb_jstr(b, exp_variant_type_name(vs->type));
    sb_printf(b, ", \"" EXP_RD_K_TRAINABLE_PARAMS "\": %.0f", vf->trainable[v]);
    if (vf->stages[v] >= 0) {
        sb_printf(b, ", \"" EXP_RD_K_TRAINABLE_STAGES "\": %d", vf->stages[v]);
        const char *g = vs->sweep_group;
        if (g[0]) {
            sb_printf(b, ", \"" EXP_RD_K_SWEEP_GROUP "\": ");
            sb_jstr(b, g);
        }
        int any = 0;
        for (size_t i = 0; i < (size_t)vf->repeats * (size_t)vf->folds; i++) any |= !isnan(vf->chosen_c[i * vf->nv + v]);
        size_t ng = vs->n_probe_C;
        if (any && ng <= EXP_CONFIG_MAX_NUMBERS) {
            double grid[EXP_CONFIG_MAX_NUMBERS];
            for (size_t i = 0; i < ng; i++) grid[i] = vs->probe_C[i];
            qsort(grid, ng, sizeof *grid, cmp_double);
            sb_printf(b, ",\n     \"" EXP_RD_K_PROBE "\": {\"" EXP_RD_K_C_GRID "\": [");
            for (size_t i = 0; i < ng; i++) {
                sb_printf(b, "%s", i ? ", " : "");
                sb_num(b, grid[i]);
            }
            sb_printf(b, "], \"" EXP_RD_K_CHOSEN_C "\": [");
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
    sb_printf(b, ",\n     \"" EXP_RD_K_REPEATS "\": [\n");
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
        sb_printf(b, ", \"" EXP_RD_K_TTEST_MEAN_DIFF "\": ");
        sb_num(b, tt.mean_diff);
        sb_printf(b, ", \"" EXP_RD_K_TTEST_T "\": ");
        sb_num(b, tt.t);
        sb_printf(b, ", \"" EXP_RD_K_TTEST_P "\": ");
        sb_num(b, tt.p);
    }
}

/* ---- the run ---- */

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
    sb_jstr(b, wb_git_revision);
    sb_printf(b, ",\n  \"dcmtk\": ");
    sb_jstr(b, io_dicom_dcmtk_version());
    sb_printf(b, ",\n  \"openblas\": ");
    sb_jstr(b, openblas_get_config());
    sb_printf(b, ",\n  \"libyaml\": ");
    sb_jstr(b, yaml_get_version_string());
    sb_printf(b, ",\n  \"cpu\": ");
    sb_jstr(b, cpu);
    sb_printf(b, ",\n  \"cores_online\": %ld,\n  \"threads\": %ld,\n  \"seed\": %ld,\n  \"weights\": ",
              sysconf(_SC_NPROCESSORS_ONLN), (long)exp_config_get(cfg)->threads, (long)exp_config_get(cfg)->seed);
    sb_jstr(b, exp_config_get(cfg)->backbone.weights);
    sb_printf(b, ",\n  \"weights_sha256\": ");
    sb_jstr(b, weights_sha);
    sb_printf(b, "\n}\n");
}

/* ---- the run, in steps: open, prepare, units, merge, outputs (docs/architecture.md) ---- */

/* One run's state, shared by the steps. */
typedef struct run_ctx {
    const exp_run_options *o;
    exp_config *cfg;
    char *dir;
    size_t dir_n;
    const char *runs_dir;
    char runs_buf[4200];
    int writes_setup;  /* this step writes config.yaml .. folds.csv (not units, not finish) */
    wb_tensor_list weights;
    char wsha[65];
    exp_registry *reg;
    long long reg_id;
    int made_dir;      /* this step created c->dir (holding only config.yaml until registered) */
    int registered;    /* reg_id names this run's row (started or found) */
    exp_dataset ds;
    exp_cv_folds cv;
    exp_wi *wi;        /* a patch run's whole-image scoring (NULL otherwise) */
    io_sha256 run_hash;
    char run_id[65];   /* SHA-256 of config.yaml, manifest.csv, folds.csv: whose parts are whose */
    int K, mc;
    size_t S, n, nwin, nv, n_groups;
    int folds, repeats;
    uint64_t seed;
    size_t *group;
    /* one fold's split and scratch */
    int *role, *ybuf, *by;
    size_t *idx;       /* n + nwin: the fold's train, validation and test lists, one after the other */
    size_t *tr, *va, *te, *order, ntr, nva, nte, nte_x;
    double *sval, *stest, *bs;
    /* the merged results */
    double *score;     /* binary: out-of-fold positive-class probabilities [repeat][variant][item] */
    double *thr, *bthr; /* binary: each unit's threshold from its validation data, image and breast
                         * level [exp_run_unit_index] (every test item of the unit has it) */
    double *mcp;       /* multi-class: out-of-fold probabilities [repeat][variant][item][class] */
    double *trainable, *fold_auc, *secs, *chosen_c;
    int *stages;
    double n_train_sum, n_test_sum;
    sbuf curves, probe_rows;
    exp_feature_cache feature_cache; /* the pretrained backbone's features, shared by the probes */
    exp_prefix_cache prefix_cache[4]; /* its frozen prefixes, shared by the folds and the variants
                                       * (a store per stage: the run's trunk, and a sweep's
                                       * variants' own stores made from it) */
    char trunk_stages[1024]; /* the fine-tuned variants' unfreeze specs (exp_train_cfg.trunk_stages) */
    prog_ctx pc;
    double t_start;
} run_ctx;

/* Writes b as dir/name in the steps that lay out the run (and adds it to the run id); the unit
 * and finish steps instead check that the file on disk has these bytes: the data or the
 * program changed since prepare otherwise. */
static int setup_file(run_ctx *c, sbuf *b, const char *name, wb_error *err)
{
    io_sha256_update(&c->run_hash, name, strlen(name) + 1);
    io_sha256_update(&c->run_hash, b->s ? b->s : "", b->n);
    int rc = 0;
    if (c->writes_setup) {
        rc = sb_write(b, c->dir, name, err);
    } else {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", c->dir, name);
        unsigned char *disk = NULL;
        size_t dn = 0;
        if (io_file_read_all(path, (size_t)1 << 31, &disk, &dn, err) != 0) {
            rc = -1;
        } else if (dn != b->n || (dn && memcmp(disk, b->s, dn))) {
            rc = wb_err(err, WB_E_DATA, path, "differs from what the data give now: the images, the labels or the "
                        "workbench changed since the run was prepared; prepare a new run");
        }
        free(disk);
    }
    sb_free(b);
    return rc;
}

static void run_dir_name(const exp_config *cfg, const char *runs_dir, const char *stamp, const char *resolved,
                         size_t resolved_n, char *out, size_t n)
{
    uint8_t h[32];
    io_sha256_buf(resolved, resolved_n, h);
    snprintf(out, n, "%s/%s-%s-%02x%02x%02x%02x", runs_dir, exp_config_get(cfg)->name, stamp, h[0], h[1], h[2], h[3]);
}

int exp_run_dir_name(const exp_config *cfg, const char *runs_dir, const char *stamp, char *out, size_t n, wb_error *err)
{
    char *resolved = NULL;
    size_t resolved_n = 0;
    FILE *mf = open_memstream(&resolved, &resolved_n);
    if (!mf) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    exp_config_write_resolved(cfg, mf);
    fclose(mf);
    run_dir_name(cfg, runs_dir, stamp, resolved, resolved_n, out, n);
    free(resolved);
    return 0;
}

/* Opens the run registry (RUNS_DIR/registry.sqlite or --registry) into c->reg, unless this step
 * does not write it (units, --registry none). A registry that cannot be written (not an SQLite
 * file, read-only, a newer schema) is refused here, before the run directory is made, so a
 * run that could not be recorded leaves nothing behind. */
static int run_registry_open(run_ctx *c, wb_error *err)
{
    const exp_run_options *o = c->o;
    if (c->reg || o->step == EXP_RUN_UNITS || (o->registry && !strcmp(o->registry, "none"))) return 0;
    char rpath[4400];
    if (o->registry) snprintf(rpath, sizeof rpath, "%s", o->registry);
    else snprintf(rpath, sizeof rpath, "%s/registry.sqlite", c->runs_dir);
    return exp_registry_open_first(rpath, "the run", &c->reg, err);
}

/* Step 1, open: the config (a prepared or resumed run's own config.yaml), the weights (a
 * missing or damaged file stops the run before it has a directory), the registry (likewise),
 * the run directory. */
static int run_open(run_ctx *c, wb_error *err)
{
    const exp_run_options *o = c->o;
    const char *existing = o->resume_dir ? o->resume_dir : (o->step == EXP_RUN_UNITS || o->step == EXP_RUN_FINISH) ? o->run_dir : NULL;
    c->runs_dir = o->runs_dir ? o->runs_dir : "runs";
    c->writes_setup = o->step == EXP_RUN_ALL || o->step == EXP_RUN_PREPARE;
    /* a given run directory's parent holds the pseudonym key, the cache and the registry, as
     * for the unit and finish steps that find them from the directory alone */
    const char *named = existing ? existing : o->step == EXP_RUN_PREPARE ? o->run_dir : NULL;
    if (named) {
        snprintf(c->runs_buf, sizeof c->runs_buf, "%s", named);
        char *slash = strrchr(c->runs_buf, '/');
        if (slash && slash != c->runs_buf) *slash = '\0';
        else snprintf(c->runs_buf, sizeof c->runs_buf, slash ? "/" : ".");
        c->runs_dir = c->runs_buf;
    }
    if (existing) {
        char cpath[4200];
        snprintf(cpath, sizeof cpath, "%s/" EXP_RD_CONFIG, existing);
        if (access(cpath, F_OK) != 0)
            return wb_err(err, WB_E_USAGE, existing, o->resume_dir ? "nothing to resume: the run was stopped before "
                          "its config.yaml was written; run the config again" : "not a prepared run directory (no "
                          "config.yaml): make one with workbench run CONFIG --prepare");
        if (exp_config_load(cpath, NULL, 0, &c->cfg, err) != 0) return -1;
    } else if (exp_config_load(o->config, o->sets, o->n_sets, &c->cfg, err) != 0) {
        return -1;
    }
    exp_config *cfg = c->cfg;
    nn_set_threads(o->threads > 0 ? o->threads : exp_config_get(cfg)->threads);
    c->nv = exp_config_get(cfg)->n_variants;
    int any_backbone = 0;
    for (size_t v = 0; v < c->nv; v++) any_backbone |= run_variant(cfg, v)->type == EXP_VARIANT_BACKBONE;
    const char *wpath = exp_config_get(cfg)->backbone.weights;
    if (wpath[0] && any_backbone) {
        uint8_t wd[32];
        if (io_sha256_file(wpath, wd, err) != 0 || io_weights_read(wpath, &c->weights, err) != 0) return -1;
        /* and they fit the backbone (as workbench validate checks): refused before any work */
        if (exp_backbone_check(cfg, &c->weights, err) != 0) return -1;
        io_sha256_hex(wd, c->wsha);
    }
    if (existing) {
        snprintf(c->dir, c->dir_n, "%s", existing);
        return 0;
    }
    /* a registry elsewhere (--registry DB) is opened before RUNS_DIR is made, so a refused one
     * leaves no empty runs directory behind; the default one lives in RUNS_DIR */
    if (o->registry && run_registry_open(c, err) != 0) return -1;
    if (io_fs_mkdirs(c->runs_dir, err) != 0 || run_registry_open(c, err) != 0) return -1;
    /* run directory: <name>-<UTC time>-<hash of the resolved config>, or the one asked for */
    sbuf b = {0};
    char *resolved = NULL;
    size_t resolved_n = 0;
    FILE *mf = open_memstream(&resolved, &resolved_n);
    if (!mf) return wb_err(err, WB_E_NOMEM, o->config, "out of memory");
    exp_config_write_resolved(cfg, mf);
    fclose(mf);
    b.s = resolved;
    b.n = resolved_n;
    b.cap = resolved_n + 1;
    if (o->run_dir) {
        snprintf(c->dir, c->dir_n, "%s", o->run_dir);
        if (io_fs_fault_point("mkdir", c->dir) != 0 || mkdir(c->dir, 0777) != 0) {
            sb_free(&b);
            return wb_err(err, WB_E_WRITE, c->dir, "cannot create the run directory: %s%s", strerror(errno),
                          errno == EEXIST ? " (a run directory is made once: choose a new name)" : "");
        }
    } else {
        char stamp[32], base[4200];
        exp_run_stamp(o->timestamp, stamp);
        run_dir_name(cfg, c->runs_dir, stamp, resolved, resolved_n, base, sizeof base);
        /* claimed with mkdir, so two runs of one config in the same second get -2, -3, ... */
        for (int k = 1;; k++) {
            char sfx[16] = "";
            if (k > 1) snprintf(sfx, sizeof sfx, "-%d", k);
            snprintf(c->dir, c->dir_n, "%s%s", base, sfx);
            int fault = io_fs_fault_point("mkdir", c->dir) != 0;
            if (!fault && mkdir(c->dir, 0777) == 0) break;
            if (fault || errno != EEXIST || k == 1000) {
                sb_free(&b);
                return wb_err(err, WB_E_WRITE, c->dir, "cannot create the run directory: %s", strerror(errno));
            }
        }
    }
    c->made_dir = 1;
    int rc = sb_write(&b, c->dir, EXP_RD_CONFIG, err);
    sb_free(&b);
    return rc;
}

/* A run directory this step made whose run did not get into the registry: removed (it holds
 * config.yaml at most), so that no directory is left that no run owns. */
static void run_unmake_dir(run_ctx *c)
{
    if (!c->made_dir) return;
    char p[4400];
    snprintf(p, sizeof p, "%s/" EXP_RD_CONFIG, c->dir);
    unlink(p);
    if (rmdir(c->dir) != 0) wb_warn("%s: the run directory of the run that was not started stays: %s", c->dir, strerror(errno));
}

/* The registry: the run is "running" from here (a prepared run: without a process of its own,
 * until its finish step); units never write it (SQLite over NFS is not safe). */
static int run_register(run_ctx *c, wb_error *err)
{
    const exp_run_options *o = c->o;
    if (o->step == EXP_RUN_UNITS || (o->registry && !strcmp(o->registry, "none"))) return 0;
    char cpath[4400], chex[65];
    if (run_registry_open(c, err) != 0) return -1;
    if (o->step == EXP_RUN_FINISH) {
        if (exp_registry_find(c->reg, c->dir, &c->reg_id, err) != 0) return -1;
        c->registered = 1;
        return 0;
    }
    snprintf(cpath, sizeof cpath, "%s/" EXP_RD_CONFIG, c->dir);
    unsigned char *ctext = NULL;
    size_t cn = 0;
    uint8_t ch[32];
    if (io_file_read_all(cpath, 16 << 20, &ctext, &cn, err) != 0) return -1;
    io_sha256_buf(ctext, cn, ch);
    io_sha256_hex(ch, chex);
    char *ctz = realloc(ctext, cn + 1);
    if (ctz) ctz[cn] = '\0';
    exp_registry_run rr = {c->dir, exp_config_get(c->cfg)->name, chex, c->wsha, wb_git_revision, ctz ? ctz : "",
                           o->step == EXP_RUN_PREPARE && !o->keep_registry_pid, NULL, NULL, NULL};
    int rc = exp_registry_start(c->reg, &rr, &c->reg_id, err);
    free(ctz ? ctz : (char *)ctext);
    c->registered = rc == 0;
    return rc;
}

/* The manifest (manifest.csv) and the excluded files (excluded.csv). */
static int run_manifest(run_ctx *c, wb_error *err)
{
    const exp_dataset *ds = &c->ds;
    sbuf b = {0};
    sb_printf(&b, EXP_RD_MANIFEST_COLUMNS "\n");
    for (size_t i = 0; i < ds->n; i++) {
        const exp_item *it = &ds->items[i];
        /* never the raw path: directories are often named by patient id (data.output_paths) */
        char *shown = exp_dataset_out_file(ds, it->file, it->group, it->pseudonym);
        if (!shown) {
            sb_free(&b);
            return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        }
        sb_csv(&b, shown);
        free(shown);
        char sha[65];
        exp_item_sha256_hex(it, sha);
        const char *fmt = io_image_format_name((io_image_format)it->format);
        if (c->mc)
            sb_printf(&b, ",%s,%s,%s,%s,%s,%s,%s\n", it->sop_uid, sha, exp_config_get(c->cfg)->data.classes[it->label],
                      it->pseudonym, it->laterality, it->view, fmt);
        else
            sb_printf(&b, ",%s,%s,%d,%s,%s,%s,%s\n", it->sop_uid, sha, it->label, it->pseudonym, it->laterality, it->view,
                      fmt);
    }
    if (setup_file(c, &b, EXP_RD_MANIFEST, err) != 0) return -1;
    sb_printf(&b, EXP_RD_EXCLUDED_COLUMNS "\n");
    for (size_t i = 0; i < ds->n_excluded; i++) {
        const exp_excluded *x = &ds->excluded[i];
        char *shown = exp_dataset_out_file(ds, x->file, x->group, x->pseudonym);
        char *why = exp_dataset_out_text(ds, x->reason, x->file, x->path, x->csv_line, x->group, x->pseudonym);
        if (!shown || !why) {
            free(shown);
            free(why);
            sb_free(&b);
            return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        }
        if (ds->paths == EXP_PATHS_NONE) sb_printf(&b, "line %d", x->csv_line); /* of the labels CSV */
        else sb_csv(&b, shown);
        sb_printf(&b, ",");
        sb_csv(&b, why);
        sb_printf(&b, "\n");
        free(shown);
        free(why);
    }
    return setup_file(c, &b, EXP_RD_EXCLUDED, err);
}

/* The buffers of the fold loop and of the merged results. */
static int run_alloc(run_ctx *c, wb_error *err)
{
    const size_t n = c->n, nv = c->nv, S = c->S, rfv = nv * (size_t)c->repeats * (size_t)c->folds;
    c->group = malloc(n * sizeof *c->group);
    c->ybuf = malloc(n * sizeof *c->ybuf);
    c->role = malloc(n * sizeof *c->role);
    c->idx = malloc((n + c->nwin) * sizeof *c->idx);
    c->order = malloc(n * sizeof *c->order);
    c->sval = malloc(n * S * sizeof *c->sval);
    c->stest = malloc((n + c->nwin) * S * sizeof *c->stest);
    c->by = malloc(n * sizeof *c->by);
    c->bs = malloc(n * S * sizeof *c->bs);
    if (c->mc) {
        c->mcp = calloc(n * (size_t)c->repeats * nv * S, sizeof *c->mcp);
        if (!c->mcp) return wb_err(err, WB_E_NOMEM, c->o->config, "out of memory");
    }
    if (!c->mc) {
        c->score = calloc(n * (size_t)c->repeats * nv, sizeof *c->score);
        c->thr = calloc(rfv, sizeof *c->thr);
        c->bthr = calloc(rfv, sizeof *c->bthr);
        if (!c->score || !c->thr || !c->bthr) return wb_err(err, WB_E_NOMEM, c->o->config, "out of memory");
    }
    c->trainable = calloc(nv, sizeof *c->trainable);
    c->stages = malloc(nv * sizeof *c->stages);
    c->chosen_c = malloc(rfv * sizeof *c->chosen_c);
    c->fold_auc = calloc(rfv * 2, sizeof *c->fold_auc);
    c->secs = calloc(rfv, sizeof *c->secs);
    if (!c->group || !c->ybuf || !c->role || !c->idx || !c->order || !c->sval || !c->stest ||
        !c->by || !c->bs || !c->trainable || !c->fold_auc || !c->secs || !c->stages || !c->chosen_c)
        return wb_err(err, WB_E_NOMEM, c->o->config, "out of memory");
    for (size_t v = 0; v < nv; v++) c->stages[v] = -1;
    for (size_t i = 0; i < rfv; i++) c->chosen_c[i] = NAN;
    return 0;
}

/* The fold of a fixed split (cv.split_column): the items of the test rows form fold 0, the
 * others are trained (and validated) on only. Each side needs an image of every class (the
 * metrics and the threshold need both); a patient on both sides was stopped when the rows were
 * read (exp_rows_select) and is checked again here on the items. */
static int run_fixed_split(run_ctx *c, wb_error *err)
{
    const exp_settings *st = exp_config_get(c->cfg);
    const size_t n = c->n;
    const int K = c->K;
    size_t cnt[2][EXP_CONFIG_MAX_CLASSES] = {{0}};
    unsigned char *is_test = malloc(n ? n : 1);
    if (!is_test) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        is_test[i] = (unsigned char)(c->ds.items[i].split != 0);
        if (c->ds.items[i].label >= 0 && c->ds.items[i].label < EXP_CONFIG_MAX_CLASSES) cnt[is_test[i]][c->ds.items[i].label]++;
    }
    for (int side = 1; side >= 0; side--)
        for (int k = 0; k < K; k++)
            if (cnt[side][k] == 0) {
                free(is_test);
                const char *what = c->mc || st->data.n_classes ? st->data.classes[k] : k ? "positive" : "negative";
                return wb_err(err, WB_E_DATA, st->data.labels, "cv.split_column '%s': the %s rows have no usable %s "
                              "of class '%s'%s; each side of a fixed split needs every class", st->cv.split_column,
                              side ? "test" : "training", c->ds.patch ? "patch" : "image", what,
                              c->mc || st->data.n_classes ? "" : " (data.positive)");
            }
    int rc = exp_cv_fixed(c->group, c->ybuf, is_test, n, c->repeats, c->seed, &c->cv, err) != 0 ||
             exp_cv_check(&c->cv, c->group, n, err) != 0 ? -1 : 0;
    free(is_test);
    if (rc != 0) {
        snprintf(err->file, sizeof err->file, "%s", st->data.labels);
        snprintf(err->key, sizeof err->key, "cv.split_column");
        return -1;
    }
    if (c->o->progress) {
        size_t tot[2] = {0, 0};
        for (int side = 0; side < 2; side++)
            for (int k = 0; k < K; k++) tot[side] += cnt[side][k];
        wb_log(WB_LOG_INFO, "fixed split (cv.split_column %s): %zu %s to train on (%.0f%% of their patients validate), "
               "%zu to test once", st->cv.split_column, tot[0], c->ds.patch ? "patches" : "images",
               100 * st->train.val_fraction, tot[1]);
    }
    return 0;
}

/* Step 2, prepare: environment.json, the data (filling the preprocessing cache), the manifest,
 * the folds (stratified by the patient's label, grouped by patient) and folds.csv. The unit
 * and finish steps do the same from the run's config.yaml and check the files instead of
 * writing them. */
static int run_prepare(run_ctx *c, wb_error *err)
{
    const exp_run_options *o = c->o;
    exp_config *cfg = c->cfg;
    sbuf b = {0};
    char parts[4300];
    snprintf(parts, sizeof parts, "%s/" EXP_RD_PARTS, c->dir);
    if (o->resume_dir) { /* temporary files of the killed process */
        io_fs_remove_stale_tmp(c->dir, NULL);
        io_fs_remove_stale_tmp(parts, NULL);
    }
    if (io_fs_mkdirs(parts, err) != 0) return -1;
    uint8_t key[32];
    if (exp_pseudonym_key(c->runs_dir, key, err) != 0) return -1;
    if (c->writes_setup || o->resume_dir) {
        env_json(&b, cfg, o, c->wsha);
        int rc = sb_write(&b, c->dir, EXP_RD_ENVIRONMENT, err);
        sb_free(&b);
        if (rc != 0) return -1;
    }
    c->t_start = wb_now();
    char cache_dir[4400];
    exp_dataset_cache_dir(cfg, c->runs_dir, cache_dir, sizeof cache_dir);
    if (exp_dataset_load(cfg, key, cache_dir, o->progress, &c->ds, err) != 0) return -1;
    /* multi-class (more than two classes in data.classes): S scores per item */
    c->K = c->ds.n_classes;
    c->mc = c->K > 2;
    c->S = c->mc ? (size_t)c->K : 1;
    c->n = c->ds.n;
    c->nwin = c->ds.patch ? c->ds.patch->n_windows : 0; /* windows live past n */
    c->folds = exp_config_get(cfg)->cv.folds;
    c->repeats = exp_config_get(cfg)->cv.repeats;
    c->seed = exp_config_get(cfg)->seed;
    io_sha256_init(&c->run_hash);
    {
        char cpath[4400];
        snprintf(cpath, sizeof cpath, "%s/" EXP_RD_CONFIG, c->dir);
        unsigned char *ctext = NULL;
        size_t cn = 0;
        if (io_file_read_all(cpath, 16 << 20, &ctext, &cn, err) != 0) return -1;
        io_sha256_update(&c->run_hash, ctext, cn);
        free(ctext);
    }
    if (run_manifest(c, err) != 0 || run_alloc(c, err) != 0) return -1;
    const size_t n = c->n;
    const char **ids = malloc((n ? n : 1) * sizeof *ids);
    if (!ids) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    for (size_t i = 0; i < n; i++) {
        ids[i] = c->ds.items[i].group;
        c->ybuf[i] = c->ds.items[i].label;
    }
    int rc = exp_cv_groups_from_strings(ids, n, c->group, &c->n_groups, err);
    free(ids);
    if (rc != 0) return -1;
    if (!exp_config_get(cfg)->cv.stratify) /* one stratum: folds balanced by size only */
        for (size_t i = 0; i < n; i++) c->ybuf[i] = 0;
    if (exp_wi_init(&c->wi, &c->ds, cfg, c->repeats, c->nv, err) != 0) return -1;
    if (exp_config_get(cfg)->cv.split_column[0]) {
        /* a fixed split: one fold of the same machinery, its test items given by the labels */
        if (run_fixed_split(c, err) != 0) return -1;
    } else if (exp_cv_split(c->group, c->ybuf, n, c->folds, c->repeats, c->seed, &c->cv, err) != 0 ||
               exp_cv_check(&c->cv, c->group, n, err) != 0) {
        snprintf(err->file, sizeof err->file, "%s", o->config ? o->config : "config.yaml");
        snprintf(err->key, sizeof err->key, "cv.folds");
        return -1;
    }
    sb_printf(&b, EXP_RD_FOLDS_COLUMNS "\n");
    for (int r = 0; r < c->repeats; r++)
        for (size_t i = 0; i < n; i++)
            sb_printf(&b, "%d,%d,%s,%s\n", r, c->cv.fold[(size_t)r * n + i], c->ds.items[i].sop_uid,
                      c->ds.items[i].pseudonym);
    if (setup_file(c, &b, EXP_RD_FOLDS, err) != 0) return -1;
    uint8_t h[32];
    io_sha256_final(&c->run_hash, h);
    io_sha256_hex(h, c->run_id);
    if (c->writes_setup &&
        (exp_wi_write_patches(&c->ds, &c->cv, c->dir, err) != 0 || exp_wi_write_contact(&c->ds, c->dir, err) != 0))
        return -1;
    const int epochs = exp_config_get(cfg)->train.epochs;
    c->pc = (prog_ctx){0, c->repeats, 0, c->folds, epochs, NULL, wb_now(), 0, 0};
    for (size_t v = 0; v < c->nv; v++)
        c->pc.total_units += (double)c->repeats * c->folds * (run_variant(cfg, v)->type == EXP_VARIANT_BACKBONE ? epochs : 1);
    /* the run's trunk: every fine-tuned variant that caches its frozen prefix (finite
     * augmentation) names its stages, the earliest first one is where the store is kept */
    c->trunk_stages[0] = 0;
    for (size_t v = 0; v < c->nv; v++) {
        exp_train_cfg tv;
        if (run_variant(cfg, v)->type != EXP_VARIANT_BACKBONE) continue;
        if (exp_train_cfg_from_config(cfg, v, &tv, err) != 0) return -1;
        if (exp_train_cfg_caches_prefix(&tv)) {
            const size_t l = strlen(c->trunk_stages);
            if (l + strlen(tv.unfreeze) + 2 > sizeof c->trunk_stages) { /* (more than the config allows) */
                c->trunk_stages[0] = 0;
                break;
            }
            snprintf(c->trunk_stages + l, sizeof c->trunk_stages - l, "%s%s", l ? ";" : "", tv.unfreeze);
        }
    }
    return 0;
}

/* Step 3, folds: the roles of repeat r, fold f, and the train, validation and test lists
 * (test followed by the windows a patch run scores on the fold's held-out images). */
static int run_fold(run_ctx *c, int r, int f, wb_error *err)
{
    const double val_fraction = exp_config_get(c->cfg)->train.val_fraction;
    if (exp_cv_roles(&c->cv, r, f, val_fraction, c->role, err) != 0 || exp_cv_check_roles(c->role, c->group, c->n, err) != 0)
        return -1;
    c->ntr = c->nva = c->nte = 0;
    for (size_t i = 0; i < c->n; i++) {
        c->ntr += c->role[i] == EXP_CV_TRAIN;
        c->nva += c->role[i] == EXP_CV_VAL;
    }
    /* the test list last: the windows follow it (n + nwin in all) */
    c->tr = c->idx;
    c->va = c->idx + c->ntr;
    c->te = c->idx + c->ntr + c->nva;
    c->ntr = c->nva = 0;
    for (size_t i = 0; i < c->n; i++) {
        if (c->role[i] == EXP_CV_TRAIN) c->tr[c->ntr++] = i;
        else if (c->role[i] == EXP_CV_VAL) c->va[c->nva++] = i;
        else c->te[c->nte++] = i;
    }
    c->nte_x = c->nte + exp_wi_fold_windows(c->wi, c->role, c->te + c->nte);
    return 0;
}

/* The fitted baseline of repeat r, fold f as models/r<r>_f<f>_<variant>.baseline.json. */
static int save_baseline(const char *dir, int r, int f, const char *vname, const exp_baseline_model *bm, wb_error *err)
{
    char mdir[4400], name[256];
    snprintf(mdir, sizeof mdir, "%s/models", dir);
    exp_baseline_model_name(r, f, vname, name, sizeof name);
    return io_fs_mkdirs(mdir, err) != 0 || exp_baseline_model_write(bm, mdir, name, vname, err) != 0 ? -1 : 0;
}

/* Trains (or fits) variant v on the current fold into sval/stest; its probe and curve rows go
 * to probe_rows and curves. */
static int run_fit(run_ctx *c, int r, int f, size_t v, part_facts *pf, wb_error *err)
{
    exp_config *cfg = c->cfg;
    const char *vname = run_variant(cfg, v)->name;
    const size_t rfv = ((size_t)r * (size_t)c->folds + (size_t)f) * c->nv + v;
    if (run_variant(cfg, v)->type == EXP_VARIANT_BASELINE) {
        exp_baseline_cfg bc;
        exp_baseline_cfg_from_config(cfg, v, &bc);
        /* with train.save_weights the fitted model is kept too (models/, for bundles) */
        exp_baseline_model bm;
        exp_baseline_model_init(&bm);
        const int keep = exp_config_get(cfg)->train.save_weights && bc.n_classes == 2;
        if (exp_baseline_fit_predict_keep(&c->ds, c->tr, c->ntr, c->va, c->nva, c->te, c->nte_x, &bc, c->sval, c->stest,
                                          keep ? &bm : NULL, err) != 0 ||
            (keep && save_baseline(c->dir, r, f, vname, &bm, err) != 0)) {
            exp_baseline_model_free(&bm);
            return -1;
        }
        exp_baseline_model_free(&bm);
        pf->trainable = (double)bc.n_features + 1;
        c->pc.done_units += 1;
        wb_log(WB_LOG_INFO, "repeat %d/%d fold %d/%d %s: logistic regression on %d features done", r + 1, c->repeats,
               f + 1, c->folds, vname, bc.n_features);
        return 0;
    }
    exp_train_cfg tc;
    if (exp_train_cfg_from_config(cfg, v, &tc, err) != 0) return -1;
    if (r == 0 && f == 0) exp_train_cfg_warn(&tc, vname);
    tc.features = &c->feature_cache;
    tc.prefixes = c->prefix_cache;
    tc.n_prefixes = sizeof c->prefix_cache / sizeof *c->prefix_cache;
    snprintf(tc.trunk_stages, sizeof tc.trunk_stages, "%s", c->trunk_stages);
    tc.prefix_max_bytes = c->ds.memory_budget ? c->ds.memory_budget : 1; /* 0 MB: no prefix fits (0 would be no limit) */
    /* the frozen features' budget from the config itself (the same as ds.memory_budget);
     * 0 MB: none fit */
    const double fmb = (double)exp_config_get(cfg)->data.memory_mb * 1048576.0;
    tc.features_max_bytes = fmb >= (double)SIZE_MAX ? SIZE_MAX : fmb >= 1.0 ? (size_t)fmb : 1;
    tc.seed = wb_rng_derive(wb_rng_derive(c->seed, (uint64_t)r), (uint64_t)f);
    exp_split sp = {c->tr, c->va, c->te, c->ntr, c->nva, c->nte_x};
    exp_train_result res;
    if (exp_train_backbone(&c->ds, &sp, &tc, c->weights.n ? &c->weights : NULL, c->o->progress ? on_epoch : NULL,
                           &c->pc, &res, err) != 0)
        return -1;
    if (res.prefix_over_budget && r == 0 && f == 0)
        wb_log(WB_LOG_INFO, "%s: the cached frozen prefixes would take more than data.memory_mb: recomputed at every step", vname);
    c->pc.done_units += c->pc.epochs - res.n_epochs; /* early stop: those epochs are not coming */
    memcpy(c->sval, res.val_scores, c->nva * c->S * sizeof *c->sval);
    memcpy(c->stest, res.test_scores, c->nte_x * c->S * sizeof *c->stest);
    pf->trainable = (double)res.trainable_params;
    pf->stages = res.trainable_stages;
    if (res.probe.n_C) {
        const exp_probe_log *pl = &res.probe;
        pf->chosen_c = pl->C[pl->chosen];
        for (size_t q = 0; q < pl->n_C; q++) {
            sb_printf(&c->probe_rows, "%d,%d,%s,", r, f, vname);
            sb_num(&c->probe_rows, pl->C[q]);
            sb_printf(&c->probe_rows, ",");
            sb_num(&c->probe_rows, pl->val_loss[q]);
            sb_printf(&c->probe_rows, ",");
            sb_num(&c->probe_rows, pl->val_auc[q]);
            sb_printf(&c->probe_rows, ",%d\n", (int)q == pl->chosen);
        }
        wb_log(WB_LOG_INFO, "repeat %d/%d fold %d/%d %s: linear probe on %s features, C = %g chosen by validation log loss",
               r + 1, c->repeats, f + 1, c->folds, vname, res.n_epochs ? "the starting" : "frozen", pf->chosen_c);
    }
    int rc = 0;
    if (tc.save_weights) {
        /* the fold's network as safetensors under the home framework's names */
        char mdir[4400], mpath[4600], meta_fold[48];
        snprintf(mdir, sizeof mdir, "%s/models", c->dir);
        snprintf(mpath, sizeof mpath, "%s/r%d_f%d_%s.safetensors", mdir, r, f, vname);
        snprintf(meta_fold, sizeof meta_fold, "repeat %d fold %d", r, f);
        const char *meta[] = {"workbench_arch", tc.arch, "workbench_variant", vname, "workbench_fold", meta_fold,
                              "workbench_weights_sha256", c->wsha};
        rc = io_fs_mkdirs(mdir, err) != 0 || io_safetensors_write(mpath, &res.weights, meta, 4, err) != 0 ? -1 : 0;
    }
    for (int e = 0; rc == 0 && e < res.n_epochs; e++) {
        sb_printf(&c->curves, "%d,%d,%s,%d,", r, f, vname, e + 1);
        sb_num(&c->curves, res.curve[e].train_loss);
        sb_printf(&c->curves, ",");
        sb_num(&c->curves, res.curve[e].val_auc);
        sb_printf(&c->curves, ",");
        sb_num(&c->curves, res.curve[e].lr);
        sb_printf(&c->curves, ",%d\n", e == res.best_epoch);
    }
    exp_train_result_free(&res);
    (void)rfv;
    return rc;
}

size_t exp_run_unit_index(int r, int f, size_t v, int folds, size_t nv)
{
    return ((size_t)r * (size_t)folds + (size_t)f) * nv + v;
}

/* Step 4, a unit: repeat r, fold f, variant v, computed and written to parts/ (atomically);
 * a part this run already has (a resumed run, a unit run again) is kept. The fold must be
 * current (run_fold). */
static int run_unit(run_ctx *c, int r, int f, size_t v, wb_error *err)
{
    char ppath[4400];
    part_path(c->dir, r, f, v, ppath, sizeof ppath);
    const char *vname = run_variant(c->cfg, v)->name;
    const int is_base = run_variant(c->cfg, v)->type == EXP_VARIANT_BASELINE;
    c->pc.repeat = r;
    c->pc.fold = f;
    c->pc.variant = vname;
    part_facts pf = {0, 0, NAN, -1};
    sbuf scratch_p = {0}, scratch_c = {0};
    if (c->o->step != EXP_RUN_ALL || c->o->resume_dir) {
        int pr = part_read(ppath, c->run_id, c->nva, c->nte_x, c->S, &pf, c->sval, c->stest, &scratch_p, &scratch_c);
        sb_free(&scratch_p);
        sb_free(&scratch_c);
        if (pr == 0) {
            c->pc.done_units += is_base ? 1 : c->pc.epochs;
            wb_log(WB_LOG_INFO, "repeat %d/%d fold %d/%d %s: finished before, read from %s", r + 1, c->repeats, f + 1,
                   c->folds, vname, ppath);
            return 0;
        }
    }
    double t_part = wb_now();
    size_t curve_mark = c->curves.n, probe_mark = c->probe_rows.n;
    if (run_fit(c, r, f, v, &pf, err) != 0) return -1;
    /* a baseline's time includes its radiomic features (all of the fold's images, computed
     * once while the data loaded), as a frozen variant's includes its backbone features */
    pf.seconds = wb_now() - t_part + (is_base ? c->ds.feature_seconds : 0);
    int rc = part_write(c->dir, c->run_id, r, f, v, &pf, c->sval, c->nva, c->stest, c->nte_x, c->S,
                        c->probe_rows.s ? c->probe_rows.s + probe_mark : "", c->probe_rows.n - probe_mark,
                        c->curves.s ? c->curves.s + curve_mark : "", c->curves.n - curve_mark, err);
    c->curves.n = curve_mark; /* the merge step reads them back from the part */
    c->probe_rows.n = probe_mark;
    return rc;
}

/* The units to do: all of them, or the listed ones (checked against the plan). */
static int run_units(run_ctx *c, wb_error *err)
{
    const size_t total = (size_t)c->repeats * (size_t)c->folds * c->nv;
    for (size_t k = 0; k < c->o->n_units; k++)
        if (c->o->units[k] >= total)
            return wb_err(err, WB_E_USAGE, c->dir, "unit %zu does not exist: this run has units 0..%zu (workbench run "
                          "CONFIG --plan lists them)", c->o->units[k], total - 1);
    for (int r = 0; r < c->repeats; r++)
        for (int f = 0; f < c->folds; f++) {
            int fold_ready = 0;
            for (size_t v = 0; v < c->nv; v++) {
                size_t u = exp_run_unit_index(r, f, v, c->folds, c->nv);
                int wanted = c->o->step != EXP_RUN_UNITS;
                for (size_t k = 0; !wanted && k < c->o->n_units; k++) wanted = c->o->units[k] == u;
                if (!wanted) continue;
                if (!fold_ready && run_fold(c, r, f, err) != 0) return -1;
                fold_ready = 1;
                if (run_unit(c, r, f, v, err) != 0) return -1;
            }
        }
    return 0;
}

/* Step 5, merge: every part back (all must be there and be this run's), the thresholds chosen
 * on validation data, the per-fold AUCs of the corrected t-test. */
static int run_merge(run_ctx *c, wb_error *err)
{
    exp_config *cfg = c->cfg;
    const size_t n = c->n, nv = c->nv, S = c->S;
    const exp_settings_metrics *sm = &exp_config_get(cfg)->metrics;
    const double spec = sm->specificity;
    const char *thr_how = exp_threshold_name(sm->threshold);
    const int agg_max = sm->breast_aggregate == EXP_AGGREGATE_MAX;
    sbuf missing = {0}, foreign = {0};
    size_t n_missing = 0, n_foreign = 0;
    sb_printf(&c->curves, EXP_RD_CURVES_COLUMNS "\n");
    sb_printf(&c->probe_rows, EXP_RD_PROBE_COLUMNS "\n");
    c->n_train_sum = c->n_test_sum = 0;
    for (int r = 0; r < c->repeats; r++)
        for (int f = 0; f < c->folds; f++) {
            if (run_fold(c, r, f, err) != 0) goto fail;
            const size_t nva = c->nva, nte = c->nte, nte_x = c->nte_x;
            const size_t *va = c->va, *te = c->te;
            c->n_train_sum += (double)(c->ntr + nva);
            c->n_test_sum += (double)nte;
            for (size_t v = 0; v < nv; v++) {
                const size_t u = exp_run_unit_index(r, f, v, c->folds, nv);
                char ppath[4400];
                part_path(c->dir, r, f, v, ppath, sizeof ppath);
                part_facts pf = {0, 0, NAN, -1};
                int pr = part_read(ppath, c->run_id, nva, nte_x, S, &pf, c->sval, c->stest, &c->probe_rows, &c->curves);
                if (pr != 0) {
                    sbuf *l = pr == PART_ABSENT ? &missing : &foreign;
                    size_t *cnt = pr == PART_ABSENT ? &n_missing : &n_foreign;
                    if (*cnt < 20) sb_printf(l, "%s%zu (repeat %d fold %d %s)", *cnt ? ", " : "", u, r, f, run_variant(cfg, v)->name);
                    else if (*cnt == 20) sb_printf(l, ", ...");
                    (*cnt)++;
                    continue;
                }
                c->trainable[v] = pf.trainable;
                c->stages[v] = pf.stages;
                c->chosen_c[u] = pf.chosen_c;
                c->secs[u] = pf.seconds;
                if (c->mc) {
                    /* no thresholds: the predicted class is the most probable one */
                    for (size_t j = 0; j < nte; j++)
                        memcpy(&c->mcp[(((size_t)r * nv + v) * n + te[j]) * S], &c->stest[j * S], S * sizeof *c->stest);
                } else {
                    /* thresholds on validation data only, image and breast level */
                    int *yv = c->by; /* scratch: labels of val items */
                    for (size_t j = 0; j < nva; j++) yv[j] = c->ds.items[va[j]].label;
                    c->thr[u] = exp_summary_threshold(yv, c->sval, nva, thr_how, spec);
                    size_t nbv = exp_summary_breasts(&c->ds, va, c->sval, nva, 1, agg_max, c->by, c->bs, c->order);
                    c->bthr[u] = exp_summary_threshold(c->by, c->bs, nbv, thr_how, spec);
                    for (size_t j = 0; j < nte; j++) c->score[((size_t)r * nv + v) * n + te[j]] = c->stest[j];
                }
                exp_wi_fold_scores(c->wi, r, f, v, c->role, te + nte, c->stest + nte, nte_x - nte);
                /* per-fold AUCs (macro AUCs for multi-class) for the corrected t-test */
                for (size_t j = 0; j < nte; j++) c->ybuf[j] = c->ds.items[te[j]].label;
                c->fold_auc[fold_auc_at(v, r, f, 0, c->repeats, c->folds)] = exp_summary_auc(c->ybuf, c->stest, nte, S, c->K);
                size_t nbt = exp_summary_breasts(&c->ds, te, c->stest, nte, (int)S, agg_max, c->by, c->bs, c->order);
                c->fold_auc[fold_auc_at(v, r, f, 1, c->repeats, c->folds)] = exp_summary_auc(c->by, c->bs, nbt, S, c->K);
            }
        }
    if (n_foreign) {
        wb_err(err, WB_E_DATA, c->dir, "%zu unit part%s in parts/ %s not made by this run (another config, manifest or "
               "version, or damaged): %s; remove %s and run %s again", n_foreign, n_foreign > 1 ? "s" : "",
               n_foreign > 1 ? "were" : "was", foreign.s, n_foreign > 1 ? "them" : "it", n_foreign > 1 ? "those units" : "that unit");
        goto fail;
    }
    if (n_missing) {
        wb_err(err, WB_E_USAGE, c->dir, "%zu of %zu units not finished: %s; run them (workbench run --unit K %s) "
               "before the finish step", n_missing, (size_t)c->repeats * c->folds * nv, missing.s, c->dir);
        goto fail;
    }
    sb_free(&missing);
    sb_free(&foreign);
    return 0;
fail:
    sb_free(&missing);
    sb_free(&foreign);
    return -1;
}

/* ---- the results: predictions.csv, metrics.json, metrics.csv (docs/runs.md) ----
 *
 * One writer whatever the number of classes: a binary run has one score per item (S = 1) and
 * the binary metric table with thresholds chosen on validation data; a multi-class run has K
 * probabilities per item and the multi-class table (the most probable class decides). Names
 * come from the run directory's schema (experiments/report/rundir.h). */

#define JK(k) "\"" k "\": " /* a metrics.json member's key */

/* The scratch of the results writer: labels, indices and n x S score buffers. */
typedef struct res_buf {
    int *y, *by, *pred;
    size_t *idx, *order;
    int *cy;
    double *s, *rs, *fs, *bs, *rbs, *cs, *cr; /* cy, cs, cr: the items with a prediction, compacted */
} res_buf;

static void res_buf_free(res_buf *rb)
{
    free(rb->y), free(rb->by), free(rb->pred), free(rb->idx), free(rb->order);
    free(rb->s), free(rb->rs), free(rb->fs), free(rb->bs), free(rb->rbs);
    free(rb->cy), free(rb->cs), free(rb->cr);
}

static int res_buf_alloc(res_buf *rb, size_t n, size_t S)
{
    memset(rb, 0, sizeof *rb);
    rb->y = malloc(n * sizeof *rb->y), rb->by = malloc(n * sizeof *rb->by), rb->pred = malloc(n * sizeof *rb->pred);
    rb->idx = malloc(n * sizeof *rb->idx), rb->order = malloc(n * sizeof *rb->order);
    rb->s = malloc(n * S * sizeof *rb->s), rb->rs = malloc(n * S * sizeof *rb->rs);
    rb->fs = malloc(n * S * sizeof *rb->fs), rb->bs = malloc(n * S * sizeof *rb->bs);
    rb->rbs = malloc(n * S * sizeof *rb->rbs);
    rb->cy = malloc(n * sizeof *rb->cy);
    rb->cs = malloc(n * S * sizeof *rb->cs), rb->cr = malloc(n * S * sizeof *rb->cr);
    return rb->y && rb->by && rb->pred && rb->idx && rb->order && rb->s && rb->rs && rb->fs && rb->bs && rb->rbs &&
                   rb->cy && rb->cs && rb->cr
               ? 0
               : -1;
}

/* The out-of-fold scores of variant v in repeat r into s (n x S). */
static void res_scores(const run_ctx *c, int r, size_t v, double *s)
{
    const size_t n = c->n, at = ((size_t)r * c->nv + v) * n;
    if (c->mc) memcpy(s, c->mcp + at * c->S, n * c->S * sizeof *s);
    else
        memcpy(s, c->score + at, n * sizeof *s);
}

/* predictions.csv: the out-of-fold scores of every repeat and variant, patients pseudonymised;
 * a binary run's fold threshold, a multi-class run's most probable class. */
static int res_predictions(run_ctx *c, res_buf *rb, wb_error *err)
{
    const exp_settings *st = exp_config_get(c->cfg);
    const size_t n = c->n, nv = c->nv, S = c->S;
    /* written as the rows are formatted, a megabyte at a time (100,000 images and two
     * variants are ~20 MB of rows), atomically: complete or not there */
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", c->dir, EXP_RD_PREDICTIONS);
    io_atomic_file af;
    if (io_atomic_open(&af, path, err) != 0) return -1;
    sbuf b = {0};
    sb_printf(&b, EXP_RD_PRED_ITEM_COLUMNS);
    if (c->mc)
        for (int k = 0; k < c->K; k++) sb_printf(&b, "," EXP_RD_COL_SCORE_PREFIX "%s", st->data.classes[k]);
    sb_printf(&b, c->mc ? "," EXP_RD_COL_PREDICTED "\n" : "," EXP_RD_COL_SCORE "," EXP_RD_COL_THRESHOLD "\n");
    for (int r = 0; r < c->repeats; r++)
        for (size_t v = 0; v < nv; v++) {
            const char *vname = run_variant(c->cfg, v)->name;
            res_scores(c, r, v, rb->s);
            wb_error e2;
            if (c->mc && exp_metrics_argmax(rb->s, n, c->K, rb->pred, &e2) != 0) {
                sb_free(&b);
                io_atomic_abort(&af);
                return wb_err(err, WB_E_INTERNAL, NULL, "%s: %s", vname, e2.msg);
            }
            for (size_t i = 0; i < n; i++) {
                if (b.n >= ((size_t)1 << 20) && sb_drain(&b, af.f, path, err) != 0) {
                    sb_free(&b);
                    io_atomic_abort(&af);
                    return -1;
                }
                const exp_item *it = &c->ds.items[i];
                if (c->cv.fold[(size_t)r * n + i] < 0) continue; /* a fixed split's training item: no prediction */
                sb_printf(&b, "%d,%d,%s,%s,%s,%s,%s,", r, c->cv.fold[(size_t)r * n + i], vname, it->sop_uid,
                          it->pseudonym, it->laterality, it->view);
                if (c->mc) sb_printf(&b, "%s", st->data.classes[it->label]);
                else sb_printf(&b, "%d", it->label);
                for (size_t k = 0; k < S; k++) {
                    sb_printf(&b, ",");
                    sb_num(&b, rb->s[i * S + k]);
                }
                if (c->mc) {
                    sb_printf(&b, ",%s\n", st->data.classes[rb->pred[i]]);
                } else {
                    sb_printf(&b, ",");
                    sb_num(&b, c->thr[exp_run_unit_index(r, c->cv.fold[(size_t)r * n + i], v, c->folds, nv)]);
                    sb_printf(&b, "\n");
                }
            }
        }
    int rc = sb_drain(&b, af.f, path, err);
    sb_free(&b);
    if (rc != 0) {
        io_atomic_abort(&af);
        return -1;
    }
    return io_atomic_commit(&af, err);
}

/* metrics.json from its opening to the start of "variants": the name, a multi-class run's
 * classes, the data (images, patients, images per class or positive images, excluded, formats,
 * a patch run's patches), the folds and the reference. */
static void res_json_head(const run_ctx *c, sbuf *b)
{
    const exp_settings *st = exp_config_get(c->cfg);
    json_metrics_open(b, c->cfg);
    if (c->mc) {
        sb_printf(b, ",\n  " JK(EXP_RD_K_CLASSES) "[");
        for (int k = 0; k < c->K; k++) {
            sb_printf(b, "%s", k ? ", " : "");
            sb_jstr(b, st->data.classes[k]);
        }
        sb_printf(b, "]");
    }
    sb_printf(b, ",\n  " JK(EXP_RD_K_DATA) "{" JK(EXP_RD_K_IMAGES) "%zu, " JK(EXP_RD_K_PATIENTS) "%zu", c->n, c->n_groups);
    if (c->mc) {
        sb_printf(b, ", " JK(EXP_RD_K_CLASS_IMAGES) "{");
        for (int k = 0; k < c->K; k++) {
            sb_printf(b, "%s", k ? ", " : "");
            sb_jstr(b, st->data.classes[k]);
            sb_printf(b, ": %zu", c->ds.class_n[k]);
        }
        sb_printf(b, "}");
    } else {
        size_t n_pos = 0;
        for (size_t i = 0; i < c->n; i++) n_pos += (size_t)c->ds.items[i].label;
        sb_printf(b, ", " JK(EXP_RD_K_POSITIVE_IMAGES) "%zu", n_pos);
    }
    sb_printf(b, ", " JK(EXP_RD_K_EXCLUDED) "%zu", c->ds.n_excluded);
    json_formats(b, &c->ds);
    if (c->ds.patch) /* a patch run (binary only): its items are patches */
        sb_printf(b, ", " JK(EXP_RD_K_TASK) "\"patch\", " JK(EXP_RD_K_LESION_PATCHES) "%zu, " JK(EXP_RD_K_BACKGROUND_PATCHES)
                  "%zu, " JK(EXP_RD_K_SOURCE_IMAGES) "%zu", c->ds.patch->n_lesion, c->ds.patch->n_background,
                  c->ds.patch->n_images);
    json_row_selection(b, c->cfg, &c->ds);
    sb_printf(b, "},\n");
    json_cv_reference(b, c->cfg, &c->cv, &c->ds);
}

/* One level (0 image, 1 breast) of variant v in repeat r, scores s and the reference's rs:
 * each fold's metrics as metrics.csv rows, then the pooled out-of-fold metrics as the level's
 * metrics.json object and rows, then the comparison with the reference. A binary run's pooled
 * thresholded metrics count each fold's test items at that fold's validation threshold. */
static void res_level(run_ctx *c, res_buf *rb, sbuf *b, sbuf *mcsv, int r, size_t v, int level, const double *s,
                      const double *rs)
{
    const exp_settings *st = exp_config_get(c->cfg);
    const size_t n = c->n, nv = c->nv, S = c->S, ref_v = st->metrics.reference_index;
    const int agg_max = st->metrics.breast_aggregate == EXP_AGGREGATE_MAX, K = c->K;
    const double spec = st->metrics.specificity;
    const char *vname = run_variant(c->cfg, v)->name, *lname = level ? EXP_RD_LEVEL_BREAST : EXP_RD_LEVEL_IMAGE;
    double m[EXP_M_COUNT], tp = 0, fp = 0, tn = 0, fn = 0;
    exp_mc_metrics mm;
    for (int f = 0; f < c->folds; f++) {
        size_t nf = 0;
        for (size_t i = 0; i < n; i++)
            if (c->cv.fold[(size_t)r * n + i] == f) rb->idx[nf++] = i;
        if (!nf) continue;
        for (size_t j = 0; j < nf; j++) {
            memcpy(rb->fs + j * S, s + rb->idx[j] * S, S * sizeof *s);
            rb->by[j] = rb->y[rb->idx[j]];
        }
        size_t nn = nf;
        const double *pp = rb->fs;
        if (level) {
            nn = exp_summary_breasts(&c->ds, rb->idx, rb->fs, nf, (int)S, agg_max, rb->by, rb->bs, rb->order);
            pp = rb->bs;
        }
        char fold_s[16];
        snprintf(fold_s, sizeof fold_s, "%d", f);
        if (c->mc) {
            exp_summary_multiclass(rb->by, pp, nn, K, rb->pred, &mm);
            mc_emit(NULL, mcsv, r, fold_s, vname, lname, &mm, c->cfg, K);
            continue;
        }
        const size_t u = exp_run_unit_index(r, f, v, c->folds, nv);
        const double t = level ? c->bthr[u] : c->thr[u];
        exp_summary_binary(rb->by, pp, nn, t, spec, m);
        for (size_t j = 0; j < nn; j++) {
            int pos = pp[j] >= t;
            tp += pos && rb->by[j];
            fp += pos && !rb->by[j];
            tn += !pos && !rb->by[j];
            fn += !pos && rb->by[j];
        }
        for (int q = 0; q < EXP_M_COUNT; q++) csv_metric(mcsv, r, fold_s, vname, lname, q, m);
    }
    /* pooled out of fold: over the items with a prediction (all in cross-validation, a fixed
     * split's test items) */
    const size_t nt = tested_items(&c->cv, r, n, rb->idx);
    for (size_t j = 0; j < nt; j++) {
        memcpy(rb->cs + j * S, s + rb->idx[j] * S, S * sizeof *s);
        memcpy(rb->cr + j * S, rs + rb->idx[j] * S, S * sizeof *rs);
        rb->cy[j] = rb->y[rb->idx[j]];
    }
    size_t ne = nt;
    const int *yy = rb->cy;
    const double *ss = rb->cs, *sr = rb->cr;
    if (level) {
        ne = exp_summary_breasts(&c->ds, rb->idx, rb->cs, nt, (int)S, agg_max, rb->by, rb->bs, rb->order);
        exp_summary_breasts(&c->ds, rb->idx, rb->cr, nt, (int)S, agg_max, rb->by, rb->rbs, rb->order);
        yy = rb->by;
        ss = rb->bs;
        sr = rb->rbs;
    }
    sb_printf(b, ",\n       \"%s\": {", lname);
    if (c->mc) {
        exp_summary_multiclass(yy, ss, ne, K, rb->pred, &mm);
        mc_emit(b, mcsv, r, EXP_RD_POOLED, vname, lname, &mm, c->cfg, K);
    } else {
        exp_summary_binary(yy, ss, ne, 0.5, spec, m);
        exp_confusion cf = {tp, fp, tn, fn};
        m[EXP_M_ACC] = exp_confusion_accuracy(&cf);
        m[EXP_M_BACC] = exp_confusion_balanced_accuracy(&cf);
        m[EXP_M_SENS] = exp_confusion_sensitivity(&cf);
        m[EXP_M_SPEC] = exp_confusion_specificity(&cf);
        m[EXP_M_F1] = exp_confusion_f1(&cf);
        m[EXP_M_THRESH] = NAN; /* one per fold, in predictions.csv */
        for (int q = 0; q < EXP_M_COUNT; q++) {
            if (q == EXP_M_THRESH) continue;
            sb_printf(b, "%s\"%s\": ", q ? ", " : "", exp_rd_metric_names[q]);
            sb_num(b, m[q]);
            csv_metric(mcsv, r, EXP_RD_POOLED, vname, lname, q, m);
        }
    }
    if (v != ref_v) {
        /* binary: paired DeLong on the pooled scores; multi-class: the macro AUC's difference
         * (DeLong's test is for binary labels); both: the corrected resampled t-test on the
         * fold AUCs */
        sb_printf(b, ",\n         " JK(EXP_RD_K_VS_REFERENCE) "{");
        if (c->mc) {
            exp_mc_metrics mr;
            exp_summary_multiclass(yy, sr, ne, K, rb->pred, &mr);
            sb_printf(b, JK(EXP_RD_K_DELTA_AUC));
            sb_num(b, mm.v[EXP_MC_AUC] - mr.v[EXP_MC_AUC]);
        } else {
            exp_delong_paired dp;
            wb_error e2;
            if (exp_metrics_delong_paired(yy, ss, sr, ne, &dp, &e2) == 0) {
                sb_printf(b, JK(EXP_RD_K_DELTA_AUC));
                sb_num(b, dp.diff);
                sb_printf(b, ", " JK(EXP_RD_K_DELTA_CI_LOW));
                sb_num(b, dp.diff_ci_lo);
                sb_printf(b, ", " JK(EXP_RD_K_DELTA_CI_HIGH));
                sb_num(b, dp.diff_ci_hi);
                sb_printf(b, ", " JK(EXP_RD_K_DELONG_Z));
                sb_num(b, dp.z);
                sb_printf(b, ", " JK(EXP_RD_K_DELONG_P));
                sb_num(b, dp.p);
            } else {
                sb_printf(b, JK(EXP_RD_K_DELTA_AUC) "null");
            }
        }
        json_ttest(b, c->fold_auc, v, ref_v, r, level, c->repeats, c->folds, c->n_train_sum / (c->repeats * c->folds),
                   c->n_test_sum / (c->repeats * c->folds));
        sb_printf(b, "}");
    }
    sb_printf(b, "}");
}

/* predictions.csv, metrics.json and metrics.csv: per variant and repeat, the pooled
 * out-of-fold metrics at image and breast level, per fold, and against the reference variant;
 * a patch run's whole-image scoring (run_patch.c) closes metrics.json. */
static int run_results(run_ctx *c, wb_error *err)
{
    const size_t n = c->n, nv = c->nv, ref_v = exp_config_get(c->cfg)->metrics.reference_index;
    const variant_facts vf = {c->trainable, c->stages, c->chosen_c, nv, c->repeats, c->folds};
    res_buf rb;
    sbuf b = {0}, mcsv = {0};
    int rc = -1;
    if (res_buf_alloc(&rb, n, c->S) != 0) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    if (res_predictions(c, &rb, err) != 0) goto done;
    for (size_t i = 0; i < n; i++) rb.y[i] = c->ds.items[i].label;
    sb_printf(&mcsv, EXP_RD_METRICS_CSV_COLUMNS "\n");
    res_json_head(c, &b);
    for (size_t v = 0; v < nv; v++) {
        json_variant_open(&b, c->cfg, v, &vf);
        for (int r = 0; r < c->repeats; r++) {
            res_scores(c, r, v, rb.s);
            res_scores(c, r, ref_v, rb.rs);
            sb_printf(&b, "      {" JK(EXP_RD_K_REPEAT) "%d", r);
            for (int level = 0; level < 2; level++) res_level(c, &rb, &b, &mcsv, r, v, level, rb.s, rb.rs);
            sb_printf(&b, "}%s\n", r + 1 < c->repeats ? "," : "");
        }
        sb_printf(&b, "     ]}%s\n", v + 1 < nv ? "," : "");
    }
    sb_printf(&b, "  ]");
    if (exp_wi_write(c->wi, c->cfg, c->dir, &b, err) != 0) goto done;
    sb_printf(&b, "\n}\n");
    if (sb_write(&b, c->dir, EXP_RD_METRICS_JSON, err) != 0 || sb_write(&mcsv, c->dir, EXP_RD_METRICS_CSV, err) != 0)
        goto done;
    rc = 0;
done:
    sb_free(&b);
    sb_free(&mcsv);
    res_buf_free(&rb);
    return rc;
}

/* Step 6, outputs: curves.csv, probe.csv, timing.csv, the results, run.log, the reports. */
static int run_outputs(run_ctx *c, wb_error *err)
{
    exp_config *cfg = c->cfg;
    if (sb_write(&c->curves, c->dir, EXP_RD_CURVES, err) != 0 || sb_write(&c->probe_rows, c->dir, EXP_RD_PROBE, err) != 0)
        return -1;
    /* timing.csv: wall seconds of each (repeat, fold, variant); kept apart from the metrics,
     * which must not depend on the machine's speed */
    sbuf b = {0};
    sb_printf(&b, EXP_RD_TIMING_COLUMNS "\n");
    for (int r = 0; r < c->repeats; r++)
        for (int f = 0; f < c->folds; f++)
            for (size_t v = 0; v < c->nv; v++)
                sb_printf(&b, "%d,%d,%s,%.3f\n", r, f, run_variant(cfg, v)->name,
                          c->secs[exp_run_unit_index(r, f, v, c->folds, c->nv)]);
    int rc = sb_write(&b, c->dir, EXP_RD_TIMING, err);
    sb_free(&b);
    if (rc != 0) return -1;
    if (run_results(c, err) != 0) return -1;
    sb_printf(&b, "run %s\nconfig %s\nimages %zu (excluded %zu), patients %zu\n", c->dir,
              c->o->config ? c->o->config : "config.yaml", c->n, c->ds.n_excluded, c->n_groups);
    if (c->ds.selected.n_filters || c->ds.selected.split) {
        char what[512];
        exp_rows_describe(cfg, &c->ds.selected, what, sizeof what);
        sb_printf(&b, "rows: %s\n", what);
    }
    sb_printf(&b, "wall time %.1f s\n", wb_now() - c->t_start);
    rc = sb_write(&b, c->dir, EXP_RD_LOG, err);
    sb_free(&b);
    if (rc != 0) return -1;
    return exp_report_write(c->dir, err);
}

/* The registry gets the run's outcome (a registry that cannot take it is reported, the run
 * files stay); everything is freed. */
static void run_close(run_ctx *c, int rc, wb_error *err)
{
    if (c->reg) {
        char msg[sizeof err->file + sizeof err->msg + 4];
        if (rc != 0) snprintf(msg, sizeof msg, "%s%s%s", err->file[0] ? err->file : "", err->file[0] ? ": " : "", err->msg);
        wb_error e2;
        wb_error_clear(&e2);
        /* a prepared run stays "running" until its finish step; a failed prepare is failed */
        if (c->registered && (c->o->step != EXP_RUN_PREPARE || rc != 0) &&
            exp_registry_finish(c->reg, c->reg_id, c->dir, rc == 0 ? NULL : msg, &e2) != 0)
            wb_warn("the run registry was not updated: %s: %s", e2.file, e2.msg);
        exp_registry_close(c->reg);
    }
    free(c->curves.s);
    free(c->probe_rows.s);
    free(c->stages);
    free(c->chosen_c);
    exp_feature_cache_free(&c->feature_cache);
    for (size_t i = 0; i < sizeof c->prefix_cache / sizeof *c->prefix_cache; i++) exp_prefix_cache_free(&c->prefix_cache[i]);
    free(c->score);
    free(c->thr);
    free(c->bthr);
    free(c->role);
    free(c->ybuf);
    free(c->by);
    free(c->group);
    free(c->idx);
    free(c->order);
    free(c->sval);
    free(c->stest);
    free(c->bs);
    free(c->trainable);
    free(c->fold_auc);
    free(c->secs);
    free(c->mcp);
    exp_cv_folds_free(&c->cv);
    exp_wi_free(c->wi);
    wb_tensor_list_free(&c->weights);
    exp_dataset_free(&c->ds);
    exp_config_free(c->cfg);
    nn_arena_spare_free(); /* the last fold's activation memory, kept for a next network */
}

void exp_run_stamp(const char *fixed, char out[32])
{
    if (fixed) {
        snprintf(out, 32, "%s", fixed);
        return;
    }
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(out, 32, "%Y%m%dT%H%M%SZ", &tmv);
}

int exp_run(const exp_run_options *o, char *dir, size_t dir_n, wb_error *err)
{
    if ((o->step == EXP_RUN_UNITS || o->step == EXP_RUN_FINISH) && !o->run_dir)
        return wb_err(err, WB_E_USAGE, NULL, "the unit and finish steps need the prepared run directory");
    run_ctx c;
    memset(&c, 0, sizeof c);
    c.o = o;
    c.dir = dir;
    c.dir_n = dir_n;
    wb_tensor_list_init(&c.weights);
    exp_cv_folds_init(&c.cv);
    int rc = -1;
    if (run_open(&c, err) != 0) goto done;
    if (run_register(&c, err) != 0) {
        run_unmake_dir(&c);
        goto done;
    }
    if (run_prepare(&c, err) != 0) goto done;
    if (o->step != EXP_RUN_PREPARE && o->step != EXP_RUN_FINISH && run_units(&c, err) != 0) goto done;
    if ((o->step == EXP_RUN_ALL || o->step == EXP_RUN_FINISH) && (run_merge(&c, err) != 0 || run_outputs(&c, err) != 0))
        goto done;
    rc = 0;
done:
    run_close(&c, rc, err);
    return rc;
}

/* Calls each(unit, r, f, v, cost, ctx) for every unit of cfg in index order; cost is the
 * relative estimate exp_run_plan prints. */
static void plan_units(const exp_config *cfg, void (*each)(size_t, int, int, size_t, double, void *), void *ctx)
{
    const exp_settings *st = exp_config_get(cfg);
    const int folds = st->cv.folds, repeats = st->cv.repeats;
    const int epochs = st->train.epochs;
    const size_t nv = st->n_variants;
    for (int r = 0; r < repeats; r++)
        for (int f = 0; f < folds; f++)
            for (size_t v = 0; v < nv; v++) {
                /* a baseline 1; a linear probe on frozen features 2 (features, then the fit);
                 * a trained variant 1 + its epochs */
                const exp_settings_variant *vs = run_variant(cfg, v);
                double cost = vs->type != EXP_VARIANT_BACKBONE       ? 1
                              : vs->unfreeze == EXP_UNFREEZE_NONE ? 2
                                                                  : 1 + (double)epochs;
                each(exp_run_unit_index(r, f, v, folds, nv), r, f, v, cost, ctx);
            }
}

static int plan_config(const exp_run_options *o, exp_config **cfg, wb_error *err)
{
    if (o->run_dir) {
        char cpath[4200];
        snprintf(cpath, sizeof cpath, "%s/" EXP_RD_CONFIG, o->run_dir);
        return exp_config_load(cpath, NULL, 0, cfg, err);
    }
    return exp_config_load(o->config, o->sets, o->n_sets, cfg, err);
}

typedef struct plan_print {
    const exp_config *cfg;
    FILE *out;
} plan_print;

static void plan_print_one(size_t u, int r, int f, size_t v, double cost, void *ctx)
{
    plan_print *p = ctx;
    sbuf b = {0};
    sb_printf(&b, "{\"unit\": %zu, \"repeat\": %d, \"fold\": %d, \"variant\": ", u, r, f);
    sb_jstr(&b, run_variant(p->cfg, v)->name);
    sb_printf(&b, ", \"type\": ");
    sb_jstr(&b, exp_variant_type_name(run_variant(p->cfg, v)->type));
    sb_printf(&b, ", \"cost\": %g}\n", cost);
    fwrite(b.s, 1, b.n, p->out);
    sb_free(&b);
}

int exp_run_plan(const exp_run_options *o, FILE *out, wb_error *err)
{
    exp_config *cfg = NULL;
    if (plan_config(o, &cfg, err) != 0) return -1;
    plan_print p = {cfg, out};
    plan_units(cfg, plan_print_one, &p);
    exp_config_free(cfg);
    return 0;
}

typedef struct plan_pending {
    const char *dir;
    exp_run_unit *units;
    size_t n;
} plan_pending;

static void plan_pending_one(size_t u, int r, int f, size_t v, double cost, void *ctx)
{
    plan_pending *p = ctx;
    char path[4400];
    part_path(p->dir, r, f, v, path, sizeof path);
    if (access(path, F_OK) != 0) p->units[p->n++] = (exp_run_unit){u, r, f, v, cost};
}

int exp_run_pending(const char *run_dir, exp_run_unit **units, size_t *n, wb_error *err)
{
    exp_run_options o = {0};
    o.run_dir = run_dir;
    exp_config *cfg = NULL;
    *units = NULL;
    *n = 0;
    if (plan_config(&o, &cfg, err) != 0) return -1;
    const exp_settings *st = exp_config_get(cfg);
    size_t total = (size_t)st->cv.folds * (size_t)st->cv.repeats * st->n_variants;
    plan_pending p = {run_dir, malloc((total ? total : 1) * sizeof *p.units), 0};
    if (!p.units) {
        exp_config_free(cfg);
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    }
    plan_units(cfg, plan_pending_one, &p);
    exp_config_free(cfg);
    *units = p.units;
    *n = p.n;
    return 0;
}
