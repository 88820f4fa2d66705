/* report.c — report.html, report.md and table.tex from a run directory. See report.h. */
#include "experiments/report/report.h"
#include "experiments/report/rundir.h"

#include <sys/stat.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_csv.h"
#include "io/io_json.h"
#include "base/wb_tensor.h"
#include "io/io_fs.h"
#include "io/io_sbuf.h"
#include "experiments/report/report_patch.h"
#include "experiments/report/report_gallery.h"
#include "experiments/report/svg.h"
#include "experiments/config/config.h"
#include "experiments/config/yamlflat.h"

enum { CELL = 96 };

/* ---- number formatting (the one place; tests compare through it) ---- */

void exp_report_fmt(char *buf, size_t n, double v, exp_fmt_kind kind)
{
    if (!isfinite(v)) {
        snprintf(buf, n, "n/a");
        return;
    }
    switch (kind) {
    case EXP_FMT_METRIC: snprintf(buf, n, "%.3f", v); break;
    case EXP_FMT_DELTA: snprintf(buf, n, "%+.3f", fabs(v) < 0.0005 ? 0.0 : v); break;
    case EXP_FMT_P:
        if (v < 0.001) snprintf(buf, n, "<0.001");
        else snprintf(buf, n, "%.3f", v);
        break;
    case EXP_FMT_COUNT: snprintf(buf, n, "%.0f", v); break;
    case EXP_FMT_SECONDS:
        if (v < 60) snprintf(buf, n, "%.1f s", v);
        else if (v < 3600) snprintf(buf, n, "%d min %02d s", (int)(v / 60), (int)fmod(v, 60));
        else snprintf(buf, n, "%d h %02d min", (int)(v / 3600), (int)fmod(v / 60, 60));
        break;
    }
}

/* ---- the run's files ---- */

static int wants_fmt(const exp_flat *cfg, const char *fmt);
static const char *jstr(const io_json_doc *d, const io_json_node *obj, const char *key);

/* ---- the scores of the plots (repeat 0, image level, out-of-fold predictions) ---- */

typedef struct ys {
    double s;
    int y;
} ys;

static int cmp_ys_desc(const void *a, const void *b)
{
    double x = ((const ys *)a)->s, y = ((const ys *)b)->s;
    return (x < y) - (x > y);
}

typedef struct series {
    const char *name; /* in metrics.json's doc, which outlives the series */
    ys *v;
    size_t n, cap;
} series;

static void series_free(series *s, size_t n)
{
    for (size_t i = 0; i < n; i++) free(s[i].v);
    free(s);
}

typedef struct run_files {
    const char *dir;
    io_json_doc m, e;          /* metrics.json, environment.json */
    const io_json_node *variants, *env;
    const io_json_node *classes; /* multi-class runs: metrics.json's "classes" (NULL for binary) */
    int K;                     /* number of classes when classes is set */
    io_csv mcsv, curves, timing, excluded;
    /* predictions.csv is read once, a row at a time (pred_scan), never held: what the report
     * needs of it is the first malformed cell of each checked column (reported in
     * run_files_check's turn, as when the file was read whole) and, for report.html of a
     * binary run, repeat 0's scores and labels per variant (the ROC, PR and reliability plots) */
    exp_pred_check pred_check;
    series *se;        /* nv series, sorted by score (highest first); NULL when not collected */
    size_t nv;
    wb_error se_err;   /* load_series' error (a missing column) when se_failed */
    int se_failed;
    int have_curves, have_timing, have_excluded, have_env;
    int patch;                 /* a patch run (data.task: patch): its items are patches */
    exp_flat cfg;              /* config.yaml */
    char cfg_path[4200];
    char *cfg_text;
    size_t cfg_n;
} run_files;

static int load_json(const char *dir, const char *name, io_json_doc *doc, wb_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (io_json_load(path, EXP_RD_JSON_MAX, doc, err) != 0) return -1;
    if (doc->nodes[0].type != IO_JSON_OBJECT) return wb_err(err, WB_E_DATA, path, "expected a JSON object");
    return 0;
}

/* Reads dir/name as CSV; a missing optional file gives *have = 0. */
static int load_csv(const char *dir, const char *name, io_csv *csv, int *have, wb_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    struct stat st; /* a probe that cannot block on a FIFO; io_csv_read opens regular files only */
    if (have && stat(path, &st) != 0) {
        *have = 0;
        return 0;
    }
    if (io_csv_read(path, csv, err) != 0) return -1;
    if (have) *have = 1;
    return 0;
}

/* What a run-file column holds; check_cells refuses anything else at its line and column. */
enum { CELL_INT, CELL_INT_OR_POOLED, CELL_NUM_OR_NULL, CELL_NUM_NULL_OR_EMPTY };
typedef struct {
    const char *col;
    int kind;
} cell_spec;

/* 1 if t is what a column of this kind holds. */
static int cell_ok(int kind, const char *t)
{
    char *end;
    if (kind == CELL_INT || kind == CELL_INT_OR_POOLED) {
        errno = 0;
        const long v = strtol(t, &end, 10);
        return (t[0] && !*end && !errno && v >= 0 && v <= 1000000) || (kind == CELL_INT_OR_POOLED && !strcmp(t, EXP_RD_POOLED));
    }
    const double v = strtod(t, &end);
    return (t[0] && !*end && isfinite(v)) || !strcmp(t, "null") || (kind == CELL_NUM_NULL_OR_EMPTY && !t[0]);
}

/* The error of a cell that is not what its column holds, at its line and column. */
static int cell_fail(wb_error *err, const char *path, int line, long c, const cell_spec *spec, const char *t)
{
    return wb_err_at(err, WB_E_DATA, path, line, (int)c + 1, spec->col, "expected %s, got '%s' (an edited or damaged run directory?)",
                     spec->kind == CELL_INT ? "a whole number from 0 to 1000000"
                     : spec->kind == CELL_INT_OR_POOLED ? "a whole number from 0 to 1000000 or pooled"
                                                        : "a number or null",
                     t);
}

/* The run wrote these files; an edited or damaged one is an error naming the cell, not zeros
 * from atof/atoi (or a fold number that overflows an int). Columns absent from the file are
 * left to the code that needs them. The first column of spec with a bad cell is reported, at
 * its first bad row (pred_scan finds the same one a row at a time). curves.csv is not checked:
 * its values are only plotted, and the plots already skip what is not finite (a diverged loss). */
static int check_cells(const char *path, const io_csv *csv, const cell_spec *spec, size_t n, wb_error *err)
{
    for (size_t k = 0; k < n; k++) {
        wb_error ignore;
        const long c = io_csv_column(csv, spec[k].col, &ignore);
        if (c < 0) continue;
        for (size_t r = 0; r < csv->n_rows; r++) {
            const char *t = io_csv_cell(csv, r, c);
            if (!cell_ok(spec[k].kind, t)) return cell_fail(err, path, csv->lines[r], c, &spec[k], t);
        }
    }
    return 0;
}

static const cell_spec pred_cells[] = {{EXP_RD_COL_REPEAT, CELL_INT}, {EXP_RD_COL_FOLD, CELL_INT},
                                       {EXP_RD_COL_SCORE, CELL_NUM_OR_NULL}, {EXP_RD_COL_THRESHOLD, CELL_NUM_OR_NULL}};

enum { NCHECK = sizeof pred_cells / sizeof *pred_cells };

void exp_pred_check_init(exp_pred_check *k, const io_csv *head)
{
    memset(k, 0, sizeof *k);
    for (size_t j = 0; j < NCHECK; j++) {
        wb_error ignore;
        k->col[j] = io_csv_column(head, pred_cells[j].col, &ignore);
    }
}

void exp_pred_check_row(exp_pred_check *k, const io_csv_stream *s)
{
    for (size_t j = 0; j < NCHECK; j++) {
        if (k->col[j] < 0 || k->nbad[j]) continue;
        const char *t = io_csv_stream_cell(s, k->col[j]);
        if (!cell_ok(pred_cells[j].kind, t)) {
            cell_fail(&k->bad[j], s->head.path, s->line, k->col[j], &pred_cells[j], t);
            k->nbad[j] = 1;
        }
    }
}

int exp_pred_check_result(const exp_pred_check *k, wb_error *err)
{
    for (size_t j = 0; j < NCHECK; j++)
        if (k->nbad[j]) {
            *err = k->bad[j];
            return -1;
        }
    return 0;
}

/* metrics.csv's value, ci_low and ci_high cells (numbers or null by check_cells) in the range
 * of the row's metric (exp_rd_metric_range), at the cell's line:column. */
static int check_metric_ranges(const char *path, const io_csv *csv, wb_error *err)
{
    static const char *const cols[] = {EXP_RD_COL_VALUE, "ci_low", "ci_high"};
    wb_error ignore;
    const long cm = io_csv_column(csv, EXP_RD_COL_METRIC, &ignore);
    if (cm < 0) return 0;
    for (size_t k = 0; k < sizeof cols / sizeof *cols; k++) {
        const long c = io_csv_column(csv, cols[k], &ignore);
        if (c < 0) continue;
        for (size_t r = 0; r < csv->n_rows; r++) {
            const char *name = io_csv_cell(csv, r, cm), *t = io_csv_cell(csv, r, c);
            double lo, hi;
            int whole;
            if (!t[0] || !strcmp(t, "null") || !exp_rd_metric_range(name, &lo, &hi, &whole)) continue;
            const double v = strtod(t, NULL);
            if (!(v >= lo && v <= hi) || (whole && v != floor(v)))
                return wb_err_at(err, WB_E_DATA, path, csv->lines[r], (int)c + 1, cols[k],
                                 "%s %s is out of range: expected %s from %g to %g (an edited or damaged run "
                                 "directory?)", name, t, whole ? "a whole number" : "a value", lo, hi);
        }
    }
    return 0;
}

static int run_files_check(const char *dir, const run_files *rf, wb_error *err)
{
    char path[3][4200];
    snprintf(path[0], sizeof path[0], "%s/" EXP_RD_PREDICTIONS, dir);
    snprintf(path[1], sizeof path[1], "%s/" EXP_RD_METRICS_CSV, dir);
    snprintf(path[2], sizeof path[2], "%s/" EXP_RD_TIMING, dir);
    static const cell_spec met[] = {{EXP_RD_COL_REPEAT, CELL_INT}, {EXP_RD_COL_FOLD, CELL_INT_OR_POOLED},
                                    {EXP_RD_COL_VALUE, CELL_NUM_OR_NULL}, {"ci_low", CELL_NUM_NULL_OR_EMPTY},
                                    {"ci_high", CELL_NUM_NULL_OR_EMPTY}};
    static const cell_spec tim[] = {{EXP_RD_COL_REPEAT, CELL_INT}, {EXP_RD_COL_SECONDS, CELL_NUM_OR_NULL}};
    if (exp_pred_check_result(&rf->pred_check, err) != 0) return -1;
    return check_cells(path[1], &rf->mcsv, met, sizeof met / sizeof *met, err) ||
                   check_metric_ranges(path[1], &rf->mcsv, err) ||
                   (rf->have_timing && check_cells(path[2], &rf->timing, tim, sizeof tim / sizeof *tim, err))
               ? -1
               : 0;
}

static void run_files_free(run_files *rf)
{
    io_json_free(&rf->m);
    io_json_free(&rf->e);
    free(rf->cfg_text);
    if (rf->se) series_free(rf->se, rf->nv);
    io_csv_free(&rf->mcsv);
    io_csv_free(&rf->curves);
    io_csv_free(&rf->timing);
    io_csv_free(&rf->excluded);
    exp_flat_free(&rf->cfg);
}

/* Column indexes of a CSV, all required. */
static int columns(const io_csv *csv, const char *const *names, long *idx, size_t n, wb_error *err)
{
    for (size_t i = 0; i < n; i++)
        if ((idx[i] = io_csv_column(csv, names[i], err)) < 0) return -1;
    return 0;
}

/* Appends (score, label) to series sj. */
static int series_push(series *sj, double sc, int y)
{
    if (sj->n == sj->cap) {
        size_t cap = sj->cap ? 2 * sj->cap : 256;
        ys *p = realloc(sj->v, cap * sizeof *p);
        if (!p) return -1;
        sj->v = p;
        sj->cap = cap;
    }
    sj->v[sj->n].s = sc;
    sj->v[sj->n].y = y;
    sj->n++;
    return 0;
}

/* Reads predictions.csv once, a row at a time (io_csv_stream: io_csv_read's errors, which are
 * reported at once), and keeps what the report needs of it: the first bad cell of each
 * checked column (pred_bad, reported by run_files_check) and, when plots is set, the series of
 * the plots (repeat 0's finite scores and labels of each variant of metrics.json; rows of
 * other variants are skipped). Memory: a chunk of the file, one row, and 16 bytes per plotted
 * prediction. */
static int pred_scan(run_files *rf, int plots, wb_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" EXP_RD_PREDICTIONS, rf->dir);
    io_csv_stream st;
    if (io_csv_stream_open(path, &st, err) != 0) return -1;
    long c[4] = {-1, -1, -1, -1};
    exp_pred_check_init(&rf->pred_check, &st.head);
    if (plots) {
        const io_json_doc *d = &rf->m;
        rf->nv = rf->variants->count;
        if (!(rf->se = calloc(rf->nv ? rf->nv : 1, sizeof *rf->se))) {
            io_csv_stream_close(&st);
            return wb_err(err, WB_E_NOMEM, rf->dir, "out of memory");
        }
        size_t k = 0;
        for (int32_t v = rf->variants->first; v >= 0; v = d->nodes[v].next, k++)
            rf->se[k].name = jstr(d, &d->nodes[v], EXP_RD_K_NAME);
        static const char *const names[] = {EXP_RD_COL_REPEAT, EXP_RD_COL_VARIANT, EXP_RD_COL_LABEL, EXP_RD_COL_SCORE};
        rf->se_failed = columns(&st.head, names, c, 4, &rf->se_err) != 0;
        if (rf->se_failed) plots = 0;
    }
    int r;
    while ((r = io_csv_stream_next(&st, err)) == 1) {
        exp_pred_check_row(&rf->pred_check, &st);
        if (!plots || strcmp(io_csv_stream_cell(&st, c[0]), "0")) continue;
        const char *vn = io_csv_stream_cell(&st, c[1]), *t = io_csv_stream_cell(&st, c[3]);
        double sc = atof(t);
        if (!strcmp(t, "null") || !isfinite(sc)) continue;
        for (size_t j = 0; j < rf->nv; j++) {
            if (strcmp(rf->se[j].name, vn)) continue;
            if (series_push(&rf->se[j], sc, atoi(io_csv_stream_cell(&st, c[2])) > 0) != 0) {
                io_csv_stream_close(&st);
                return wb_err(err, WB_E_NOMEM, rf->dir, "out of memory");
            }
            break;
        }
    }
    io_csv_stream_close(&st);
    if (r < 0) return -1;
    for (size_t j = 0; plots && j < rf->nv; j++)
        if (rf->se[j].n) qsort(rf->se[j].v, rf->se[j].n, sizeof *rf->se[j].v, cmp_ys_desc);
    return 0;
}

static int run_files_load(const char *dir, run_files *rf, wb_error *err)
{
    memset(rf, 0, sizeof *rf);
    rf->dir = dir;
    if (load_json(dir, EXP_RD_METRICS_JSON, &rf->m, err) != 0) return -1;
    const io_json_node *root = &rf->m.nodes[0];
    char mpath[4200];
    snprintf(mpath, sizeof mpath, "%s/" EXP_RD_METRICS_JSON, dir);
    if (exp_rundir_check_metrics(&rf->m, mpath, err) != 0) return -1;
    rf->variants = io_json_get(&rf->m, root, EXP_RD_K_VARIANTS);
    rf->classes = io_json_get(&rf->m, root, EXP_RD_K_CLASSES);
    if (rf->classes) {
        if (rf->classes->type != IO_JSON_ARRAY || rf->classes->count < 3 || rf->classes->count > 64)
            return wb_err(err, WB_E_DATA, mpath, "classes: expected an array of 3 to 64 class names");
        for (int32_t c = rf->classes->first; c >= 0; c = rf->m.nodes[c].next)
            if (rf->m.nodes[c].type != IO_JSON_STRING) return wb_err(err, WB_E_DATA, mpath, "classes: expected strings");
        rf->K = (int)rf->classes->count;
    }
    rf->patch = exp_report_is_patch(&rf->m);
    snprintf(rf->cfg_path, sizeof rf->cfg_path, "%s/" EXP_RD_CONFIG, dir);
    if (io_file_read_all(rf->cfg_path, 16 << 20, (unsigned char **)&rf->cfg_text, &rf->cfg_n, err) != 0 ||
        exp_flat_parse(rf->cfg_text, rf->cfg_n, rf->cfg_path, &rf->cfg, err) != 0)
        return -1;
    char epath[4200];
    snprintf(epath, sizeof epath, "%s/" EXP_RD_ENVIRONMENT, dir);
    struct stat est;
    if (stat(epath, &est) == 0) {
        if (load_json(dir, EXP_RD_ENVIRONMENT, &rf->e, err) != 0) return -1;
        rf->env = &rf->e.nodes[0];
        rf->have_env = 1;
    }
    /* the plots' scores only for report.html of a binary run */
    return pred_scan(rf, !rf->classes && wants_fmt(&rf->cfg, "html"), err) || load_csv(dir, EXP_RD_METRICS_CSV, &rf->mcsv, NULL, err) ||
                   load_csv(dir, EXP_RD_CURVES, &rf->curves, &rf->have_curves, err) ||
                   load_csv(dir, EXP_RD_TIMING, &rf->timing, &rf->have_timing, err) ||
                   load_csv(dir, EXP_RD_EXCLUDED, &rf->excluded, &rf->have_excluded, err) ||
                   run_files_check(dir, rf, err)
               ? -1
               : 0;
}

static double jnum(const io_json_doc *d, const io_json_node *obj, const char *key)
{
    const io_json_node *n = obj ? io_json_get(d, obj, key) : NULL;
    return n && n->type == IO_JSON_NUMBER ? n->num : NAN;
}

static const char *jstr(const io_json_doc *d, const io_json_node *obj, const char *key)
{
    const io_json_node *n = obj ? io_json_get(d, obj, key) : NULL;
    return n && n->type == IO_JSON_STRING ? n->str : "";
}

static const char *cfg(const run_files *rf, const char *key)
{
    const char *v = exp_flat_get(&rf->cfg, key);
    return v ? v : "";
}

/* 1 when the run used a fixed train/test split (cv.split_column) instead of cross-validation:
 * its metrics are of the split's test rows, not pooled out-of-fold predictions. */
static int fixed_split(const run_files *rf)
{
    const io_json_doc *d = &rf->m;
    const io_json_node *cvn = io_json_get(d, &d->nodes[0], EXP_RD_K_CV);
    return cvn && io_json_get(d, cvn, "fixed_split") != NULL;
}

/* What the pooled metrics are of, for captions: "the pooled out-of-fold predictions", or
 * "the predictions on the test rows of the fixed split". */
static const char *pooled_what(const run_files *rf)
{
    return fixed_split(rf) ? "the predictions on the test rows of the fixed split" : "the pooled out-of-fold predictions";
}

/* ---- the comparison table: cells once, rendered as HTML, Markdown and LaTeX ---- */

enum { C_VARIANT, C_PARAMS, C_AUC, C_DELTA, C_PDL, C_PT, C_AP, C_SENS, C_SPEC, C_SAS, C_F1, C_BRIER, C_ECE, C_TIME,
       C_ACC, C_BACC, C_F1M, C_LOGLOSS, NCOL };

/* The columns shown, in order: binary runs, and multi-class runs (macro AUC, no DeLong, no
 * threshold metrics; the predicted class is the most probable one). */
static const int bin_cols[] = {C_VARIANT, C_PARAMS, C_AUC, C_DELTA, C_PDL, C_PT, C_AP, C_SENS, C_SPEC, C_SAS, C_F1,
                               C_BRIER, C_ECE, C_TIME};
static const int mc_cols[] = {C_VARIANT, C_PARAMS, C_AUC, C_DELTA, C_PT, C_ACC, C_BACC, C_F1M, C_LOGLOSS, C_TIME};

static const int *show_cols(const struct run_files *rf, int *n)
{
    *n = rf->classes ? (int)(sizeof mc_cols / sizeof mc_cols[0]) : (int)(sizeof bin_cols / sizeof bin_cols[0]);
    return rf->classes ? mc_cols : bin_cols;
}

typedef struct table {
    size_t rows;
    char (*cell)[NCOL][CELL];
    int *is_ref;
} table;

static void ci_cell(char *out, double v, double lo, double hi, exp_fmt_kind k)
{
    char a[24], b[24], c[24];
    exp_report_fmt(a, sizeof a, v, k);
    exp_report_fmt(b, sizeof b, lo, k);
    exp_report_fmt(c, sizeof c, hi, k);
    if (!isfinite(v)) snprintf(out, CELL, "n/a");
    else snprintf(out, CELL, "%s [%s, %s]", a, b, c);
}

/* The "repeat" of a repeat object in metrics.json; 0 when missing or out of range. */
static long json_repeat(const io_json_doc *d, const io_json_node *rn)
{
    double rep_num = jnum(d, rn, EXP_RD_K_REPEAT);
    return isfinite(rep_num) && fabs(rep_num) < 1e6 ? (long)rep_num : 0;
}

/* A table row's label: the variant's name, and its repeat (counted from 1) when the run has
 * more than one. */
static void row_label(char *out, size_t n, const char *name, long repeat, int many_repeats)
{
    if (many_repeats) snprintf(out, n, "%s (repeat %ld)", name, repeat + 1);
    else snprintf(out, n, "%s", name);
}

/* Seconds spent on variant (in repeat r) over its folds, from timing.csv; NAN if unknown. */
static double variant_seconds(const run_files *rf, const char *variant, long repeat)
{
    if (!rf->have_timing) return NAN;
    static const char *const names[] = {EXP_RD_COL_REPEAT, EXP_RD_COL_VARIANT, EXP_RD_COL_SECONDS};
    long c[3];
    wb_error e;
    if (columns(&rf->timing, names, c, 3, &e) != 0) return NAN;
    double s = 0;
    int any = 0;
    for (size_t i = 0; i < rf->timing.n_rows; i++)
        if (atol(io_csv_cell(&rf->timing, i, c[0])) == repeat && !strcmp(io_csv_cell(&rf->timing, i, c[1]), variant)) {
            s += atof(io_csv_cell(&rf->timing, i, c[2]));
            any = 1;
        }
    return any ? s : NAN;
}

/* The table's cells that are one metric each, with its metrics.json key. */
static const struct {
    int col;
    const char *key;
} plain_cols[] = {{C_AP, EXP_RD_M_AP}, {C_SENS, EXP_RD_M_SENSITIVITY}, {C_SPEC, EXP_RD_M_SPECIFICITY},
                  {C_SAS, EXP_RD_M_SENS_AT_SPEC}, {C_F1, EXP_RD_M_F1}, {C_BRIER, EXP_RD_M_BRIER}, {C_ECE, EXP_RD_M_ECE},
                  {C_ACC, EXP_RD_M_ACCURACY}, {C_BACC, EXP_RD_M_BALANCED_ACCURACY}, {C_F1M, EXP_RD_M_F1_MACRO},
                  {C_LOGLOSS, EXP_RD_M_LOG_LOSS}};

/* "mean ± SD" over the repeats of key in each repeat's level object (or in its vs_reference
 * object when vs), the SD with n - 1; "n/a" when no repeat has a finite value. */
static void repeats_cell(char *out, const io_json_doc *d, const io_json_node *reps, const char *level, int vs,
                         const char *key, exp_fmt_kind k)
{
    double sum = 0, sq = 0;
    int n = 0;
    for (int32_t r = reps->first; r >= 0; r = d->nodes[r].next) {
        const io_json_node *m = io_json_get(d, &d->nodes[r], level);
        if (m && vs) m = io_json_get(d, m, EXP_RD_K_VS_REFERENCE);
        const double x = m && m->type == IO_JSON_OBJECT ? jnum(d, m, key) : NAN;
        if (isfinite(x)) sum += x, sq += x * x, n++;
    }
    if (n == 0) {
        snprintf(out, CELL, "n/a");
        return;
    }
    const double mean = sum / n, var = n > 1 ? (sq - n * mean * mean) / (n - 1) : 0;
    char a[24], b[24];
    exp_report_fmt(a, sizeof a, mean, k);
    exp_report_fmt(b, sizeof b, var > 0 ? sqrt(var) : 0, EXP_FMT_METRIC);
    snprintf(out, CELL, "%s \xc2\xb1 %s", a, b);
}

/* The row after a variant's repeats: each metric's mean ± SD over them (no p-values: the
 * repeats are not independent samples of one test). */
static void repeats_row(const run_files *rf, const char *level, const io_json_node *vn, const io_json_node *reps,
                        int is_ref, table *t)
{
    const io_json_doc *d = &rf->m;
    char(*c)[CELL] = t->cell[t->rows];
    t->is_ref[t->rows] = is_ref;
    snprintf(c[C_VARIANT], CELL, "%s (mean \xc2\xb1 SD of %zu repeats)", jstr(d, vn, EXP_RD_K_NAME), (size_t)reps->count);
    exp_report_fmt(c[C_PARAMS], CELL, jnum(d, vn, EXP_RD_K_TRAINABLE_PARAMS), EXP_FMT_COUNT);
    repeats_cell(c[C_AUC], d, reps, level, 0, EXP_RD_M_AUC, EXP_FMT_METRIC);
    if (is_ref) snprintf(c[C_DELTA], CELL, "reference");
    else repeats_cell(c[C_DELTA], d, reps, level, 1, EXP_RD_K_DELTA_AUC, EXP_FMT_DELTA);
    snprintf(c[C_PDL], CELL, "-");
    snprintf(c[C_PT], CELL, "-");
    for (size_t k = 0; k < sizeof plain_cols / sizeof plain_cols[0]; k++)
        repeats_cell(c[plain_cols[k].col], d, reps, level, 0, plain_cols[k].key, EXP_FMT_METRIC);
    snprintf(c[C_TIME], CELL, "-");
    t->rows++;
}

static int table_build(const run_files *rf, const char *level, table *t)
{
    const io_json_doc *d = &rf->m;
    const char *ref = jstr(d, &d->nodes[0], EXP_RD_K_REFERENCE);
    size_t rows = 0;
    for (int32_t v = rf->variants->first; v >= 0; v = d->nodes[v].next) {
        const io_json_node *reps = io_json_get(d, &d->nodes[v], EXP_RD_K_REPEATS);
        rows += reps && reps->type == IO_JSON_ARRAY ? reps->count + (reps->count > 1) : 0; /* + mean ± SD */
    }
    t->rows = 0;
    t->cell = calloc(rows ? rows : 1, sizeof *t->cell);
    t->is_ref = calloc(rows ? rows : 1, sizeof *t->is_ref);
    if (!t->cell || !t->is_ref) return -1;
    for (int32_t v = rf->variants->first; v >= 0; v = d->nodes[v].next) {
        const io_json_node *vn = &d->nodes[v], *reps = io_json_get(d, vn, EXP_RD_K_REPEATS);
        if (!reps || reps->type != IO_JSON_ARRAY) continue;
        const char *name = jstr(d, vn, EXP_RD_K_NAME);
        for (int32_t r = reps->first; r >= 0; r = d->nodes[r].next) {
            const io_json_node *rn = &d->nodes[r], *m = io_json_get(d, rn, level);
            if (m && m->type != IO_JSON_OBJECT) m = NULL;
            const io_json_node *vs = m ? io_json_get(d, m, EXP_RD_K_VS_REFERENCE) : NULL;
            char(*c)[CELL] = t->cell[t->rows];
            long repeat = json_repeat(d, rn);
            int is_ref = !strcmp(name, ref);
            t->is_ref[t->rows] = is_ref;
            row_label(c[C_VARIANT], CELL, name, repeat, reps->count > 1);
            exp_report_fmt(c[C_PARAMS], CELL, jnum(d, vn, EXP_RD_K_TRAINABLE_PARAMS), EXP_FMT_COUNT);
            if (rf->classes) exp_report_fmt(c[C_AUC], CELL, jnum(d, m, EXP_RD_M_AUC), EXP_FMT_METRIC);
            else ci_cell(c[C_AUC], jnum(d, m, EXP_RD_M_AUC), jnum(d, m, EXP_RD_M_AUC_CI_LOW), jnum(d, m, EXP_RD_M_AUC_CI_HIGH), EXP_FMT_METRIC);
            if (is_ref) {
                snprintf(c[C_DELTA], CELL, "reference");
                snprintf(c[C_PDL], CELL, "-");
                snprintf(c[C_PT], CELL, "-");
            } else if (rf->classes) {
                exp_report_fmt(c[C_DELTA], CELL, jnum(d, vs, EXP_RD_K_DELTA_AUC), EXP_FMT_DELTA);
                exp_report_fmt(c[C_PT], CELL, jnum(d, vs, EXP_RD_K_TTEST_P), EXP_FMT_P);
            } else {
                ci_cell(c[C_DELTA], jnum(d, vs, EXP_RD_K_DELTA_AUC), jnum(d, vs, EXP_RD_K_DELTA_CI_LOW), jnum(d, vs, EXP_RD_K_DELTA_CI_HIGH),
                        EXP_FMT_DELTA);
                exp_report_fmt(c[C_PDL], CELL, jnum(d, vs, EXP_RD_K_DELONG_P), EXP_FMT_P);
                exp_report_fmt(c[C_PT], CELL, jnum(d, vs, EXP_RD_K_TTEST_P), EXP_FMT_P);
            }
            for (size_t k = 0; k < sizeof plain_cols / sizeof plain_cols[0]; k++)
                exp_report_fmt(c[plain_cols[k].col], CELL, jnum(d, m, plain_cols[k].key), EXP_FMT_METRIC);
            exp_report_fmt(c[C_TIME], CELL, variant_seconds(rf, name, repeat), EXP_FMT_SECONDS);
            t->rows++;
        }
        if (reps->count > 1) repeats_row(rf, level, vn, reps, !strcmp(name, ref), t);
    }
    return 0;
}

static void table_free(table *t)
{
    free(t->cell);
    free(t->is_ref);
}

static void col_names(const run_files *rf, const char *names[NCOL], char *sas, size_t sas_n)
{
    snprintf(sas, sas_n, "Sens. at spec. %s", cfg(rf, "metrics.specificity"));
    const char *n[NCOL] = {"Variant", "Trainable params", "AUC [95% CI]", "\xce\x94" "AUC vs reference [95% CI]",
                           "p (DeLong)", "p (corrected t)", "Average precision", "Sensitivity", "Specificity", sas,
                           "F1", "Brier", "ECE", "Wall time", "Accuracy", "Balanced accuracy", "Macro F1", "Log loss"};
    memcpy(names, n, sizeof n);
    if (rf->classes) {
        names[C_AUC] = "Macro AUC (one-vs-rest)";
        names[C_DELTA] = "\xce\x94" "macro AUC vs reference";
    }
}

static void table_html(sbuf *b, const run_files *rf, const table *t, const char *caption)
{
    const char *names[NCOL];
    char sas[64];
    col_names(rf, names, sas, sizeof sas);
    sb_printf(b, "<table class=\"cmp\"><caption>");
    sb_xml(b, caption);
    sb_printf(b, "</caption>\n<thead><tr>");
    int ncols;
    const int *cols = show_cols(rf, &ncols);
    for (int k = 0; k < ncols; k++) {
        sb_printf(b, "<th scope=\"col\">");
        sb_xml(b, names[cols[k]]);
        sb_printf(b, "</th>");
    }
    sb_printf(b, "</tr></thead>\n<tbody>\n");
    for (size_t r = 0; r < t->rows; r++) {
        sb_printf(b, "<tr%s>", t->is_ref[r] ? " class=\"ref\"" : "");
        for (int k = 0; k < ncols; k++) {
            int c = cols[k];
            sb_printf(b, c == C_VARIANT ? "<th scope=\"row\">" : "<td>");
            sb_xml(b, t->cell[r][c]);
            sb_printf(b, c == C_VARIANT ? "</th>" : "</td>");
        }
        sb_printf(b, "</tr>\n");
    }
    sb_printf(b, "</tbody></table>\n");
}

/* Markdown: pipes in cells escaped. */
static void md_cell(sbuf *b, const char *s)
{
    sb_printf(b, " ");
    for (; *s; s++) sb_printf(b, *s == '|' ? "\\|" : "%c", *s);
    sb_printf(b, " |");
}

static void table_md(sbuf *b, const run_files *rf, const table *t)
{
    const char *names[NCOL];
    char sas[64];
    col_names(rf, names, sas, sizeof sas);
    int ncols;
    const int *cols = show_cols(rf, &ncols);
    sb_printf(b, "|");
    for (int k = 0; k < ncols; k++) md_cell(b, names[cols[k]]);
    sb_printf(b, "\n|");
    for (int k = 0; k < ncols; k++) sb_printf(b, cols[k] == C_VARIANT ? "---|" : "--:|");
    sb_printf(b, "\n");
    for (size_t r = 0; r < t->rows; r++) {
        sb_printf(b, "|");
        for (int k = 0; k < ncols; k++) md_cell(b, t->cell[r][cols[k]]);
        sb_printf(b, "\n");
    }
}

static void tex_text(sbuf *b, const char *s)
{
    const char *start = s;
    for (; *s; s++) {
        if (*s == '-' && s[1] >= '0' && s[1] <= '9' && (s == start || s[-1] == ' ' || s[-1] == '[')) { /* a minus sign */
            sb_printf(b, "$-$");
            continue;
        }
        switch (*s) {
        case '_': case '%': case '&': case '#': case '$': case '{': case '}': sb_printf(b, "\\%c", *s); break;
        case '<': sb_printf(b, "$<$"); break;
        case '>': sb_printf(b, "$>$"); break;
        case '~': sb_printf(b, "\\textasciitilde{}"); break;
        case '^': sb_printf(b, "\\textasciicircum{}"); break;
        case '\\': sb_printf(b, "\\textbackslash{}"); break;
        case '\xc2':
            if (s[1] == '\xb1') { /* ± */
                sb_printf(b, "$\\pm$");
                s++;
                break;
            }
            sb_printf(b, "%c", *s);
            break;
        default: sb_printf(b, "%c", *s);
        }
    }
}

static const int tex_bin_cols[] = {C_VARIANT, C_PARAMS, C_AUC, C_DELTA, C_PDL, C_PT, C_SENS, C_SPEC, C_BRIER, C_ECE};
static const int tex_mc_cols[] = {C_VARIANT, C_PARAMS, C_AUC, C_DELTA, C_PT, C_ACC, C_BACC, C_F1M, C_LOGLOSS};
enum { TEX_BIN_NCOL = sizeof tex_bin_cols / sizeof tex_bin_cols[0], TEX_MC_NCOL = sizeof tex_mc_cols / sizeof tex_mc_cols[0] };

static void table_tex_rows(sbuf *b, const table *t, const int *tex_cols, int tex_ncol)
{
    for (size_t r = 0; r < t->rows; r++) {
        for (int k = 0; k < tex_ncol; k++) {
            if (k) sb_printf(b, " & ");
            tex_text(b, t->cell[r][tex_cols[k]]);
        }
        sb_printf(b, " \\\\\n");
    }
}

static void figure_open(sbuf *b, const char *caption_id)
{
    sb_printf(b, "<figure class=\"fig\" id=\"%s\">", caption_id);
}

static void figure_close(sbuf *b, const char *caption)
{
    sb_printf(b, "<figcaption>");
    sb_xml(b, caption);
    sb_printf(b, "</figcaption></figure>\n");
}

/* ---- unfreezing depth: the variants of a sweep group against their trainable stages ---- */

enum { MAX_GROUPS = 16, MAX_DEPTH = 64 };

/* The distinct "sweep_group" values of metrics.json's variants, in order of appearance. */
static size_t sweep_groups(const run_files *rf, const char **g)
{
    const io_json_doc *d = &rf->m;
    size_t n = 0;
    for (int32_t v = rf->variants->first; v >= 0; v = d->nodes[v].next) {
        const char *s = jstr(d, &d->nodes[v], EXP_RD_K_SWEEP_GROUP);
        if (!s[0]) continue;
        size_t k = 0;
        while (k < n && strcmp(g[k], s)) k++;
        if (k == n && n < MAX_GROUPS) g[n++] = s;
    }
    return n;
}

/* The variants of group g, sorted by their trainable stages (stable). */
static size_t sweep_members(const run_files *rf, const char *g, const io_json_node **out)
{
    const io_json_doc *d = &rf->m;
    size_t n = 0;
    for (int32_t v = rf->variants->first; v >= 0 && n < MAX_DEPTH; v = d->nodes[v].next)
        if (!strcmp(jstr(d, &d->nodes[v], EXP_RD_K_SWEEP_GROUP), g)) out[n++] = &d->nodes[v];
    for (size_t i = 1; i < n; i++) /* insertion sort: a handful of variants */
        for (size_t j = i; j > 0 && jnum(d, out[j - 1], EXP_RD_K_TRAINABLE_STAGES) > jnum(d, out[j], EXP_RD_K_TRAINABLE_STAGES); j--) {
            const io_json_node *t = out[j];
            out[j] = out[j - 1];
            out[j - 1] = t;
        }
    return n;
}

/* A level's metrics object of a variant's first repeat (NULL if missing). */
static const io_json_node *first_repeat_level(const io_json_doc *d, const io_json_node *vn, const char *level)
{
    const io_json_node *reps = io_json_get(d, vn, EXP_RD_K_REPEATS);
    const io_json_node *r0 = reps && reps->type == IO_JSON_ARRAY && reps->first >= 0 ? &d->nodes[reps->first] : NULL;
    const io_json_node *m = r0 ? io_json_get(d, r0, level) : NULL;
    return m && m->type == IO_JSON_OBJECT ? m : NULL;
}

/* The variant the depth plot draws as a horizontal line: the first of type baseline, else the
 * reference; NULL if neither is outside the group. */
static const io_json_node *depth_baseline(const run_files *rf, const char *g)
{
    const io_json_doc *d = &rf->m;
    const char *ref = jstr(d, &d->nodes[0], EXP_RD_K_REFERENCE);
    const io_json_node *refn = NULL;
    for (int32_t v = rf->variants->first; v >= 0; v = d->nodes[v].next) {
        const io_json_node *vn = &d->nodes[v];
        if (!strcmp(jstr(d, vn, EXP_RD_K_SWEEP_GROUP), g)) continue;
        if (!strcmp(jstr(d, vn, EXP_RD_K_TYPE), "baseline")) return vn;
        if (!strcmp(jstr(d, vn, EXP_RD_K_NAME), ref)) refn = vn;
    }
    return refn;
}

/* 130, 4.7k, 270k, 11.2M */
static void fmt_params(char *out, size_t n, double v)
{
    if (!isfinite(v)) snprintf(out, n, "n/a");
    else if (v < 1000) snprintf(out, n, "%.0f", v);
    else if (v < 1e6) snprintf(out, n, v < 1e4 ? "%.1fk" : "%.0fk", v / 1e3);
    else snprintf(out, n, "%.1fM", v / 1e6);
}

/* Pooled AUC (binary: with its DeLong CI; multi-class: macro AUC) of repeat 1, image level,
 * against the number of trainable backbone stages; the baseline as a dashed line. */
static void plot_depth(sbuf *b, const run_files *rf, const char *g)
{
    const io_json_doc *d = &rf->m;
    const io_json_node *mem[MAX_DEPTH];
    size_t n = sweep_members(rf, g, mem);
    if (!n) return;
    const io_json_node *base = depth_baseline(rf, g), *bm = base ? first_repeat_level(d, base, EXP_RD_LEVEL_IMAGE) : NULL;
    double x[MAX_DEPTH], y[MAX_DEPTH], lo = 0.5, hi = 0.5, xmax = 1;
    for (size_t i = 0; i < n; i++) {
        const io_json_node *m = first_repeat_level(d, mem[i], EXP_RD_LEVEL_IMAGE);
        x[i] = jnum(d, mem[i], EXP_RD_K_TRAINABLE_STAGES);
        y[i] = jnum(d, m, EXP_RD_M_AUC);
        double a = rf->classes ? y[i] : jnum(d, m, EXP_RD_M_AUC_CI_LOW), c = rf->classes ? y[i] : jnum(d, m, EXP_RD_M_AUC_CI_HIGH);
        if (isfinite(a)) lo = fmin(lo, a);
        if (isfinite(c)) hi = fmax(hi, c);
        if (isfinite(y[i])) lo = fmin(lo, y[i]), hi = fmax(hi, y[i]);
        if (isfinite(x[i]) && x[i] < 1e6) xmax = fmax(xmax, x[i]);
    }
    double bauc = jnum(d, bm, EXP_RD_M_AUC);
    if (isfinite(bauc)) lo = fmin(lo, bauc), hi = fmax(hi, bauc);
    char title[160], id[160];
    snprintf(title, sizeof title, "Unfreezing depth: %s", g);
    snprintf(id, sizeof id, "depth-");
    for (size_t k = 0; g[k] && k + 7 < sizeof id; k++) id[6 + k] = (char)((g[k] >= 'a' && g[k] <= 'z') || (g[k] >= '0' && g[k] <= '9') ? g[k] : '-'), id[7 + k] = '\0';
    svg_plot p = {.w = 400, .h = 320, .x0 = -0.5, .x1 = xmax + 0.5, .x_integer = 1, .title = title,
                  .xlabel = "trainable backbone stages (labels: trainable parameters)",
                  .ylabel = fixed_split(rf) ? (rf->classes ? "macro AUC (test rows, image level)" : "ROC AUC (test rows, image level)")
                            : rf->classes     ? "macro AUC (pooled, image level)"
                                              : "ROC AUC (pooled, image level)"};
    svg_nice_range(lo, hi, &p.y0, &p.y1);
    if (p.y1 > 1) p.y1 = 1;
    figure_open(b, id);
    svg_begin(b, &p);
    const char *names[2], *colors[2];
    size_t nl = 0;
    if (isfinite(bauc)) {
        double bx[2] = {p.x0, p.x1}, by[2] = {bauc, bauc};
        svg_line(b, &p, bx, by, 2, "#999999", 1.5, "5 3");
        names[nl] = jstr(d, base, EXP_RD_K_NAME), colors[nl++] = "#999999";
    }
    svg_line(b, &p, x, y, n, svg_color(2), 2, NULL);
    names[nl] = g, colors[nl++] = svg_color(2);
    for (size_t i = 0; i < n; i++) {
        const io_json_node *m = first_repeat_level(d, mem[i], EXP_RD_LEVEL_IMAGE);
        char tip[256], cnt[32];
        fmt_params(cnt, sizeof cnt, jnum(d, mem[i], EXP_RD_K_TRAINABLE_PARAMS));
        if (!rf->classes) svg_vbar(b, &p, x[i], jnum(d, m, EXP_RD_M_AUC_CI_LOW), jnum(d, m, EXP_RD_M_AUC_CI_HIGH), svg_color(2));
        snprintf(tip, sizeof tip, "%s: %.0f trainable stage(s), %s trainable parameters, AUC %.3f", jstr(d, mem[i], EXP_RD_K_NAME),
                 x[i], cnt, y[i]);
        svg_dot(b, &p, x[i], y[i], 4, svg_color(2), tip);
        svg_text(b, &p, x[i], p.y0, -6, cnt);
    }
    svg_legend(b, &p, names, colors, nl, SVG_BOTTOM_RIGHT);
    svg_end(b);
    char cap[640];
    snprintf(cap, sizeof cap, "%s of %s (image level, repeat 1) of the variants of sweep %s "
                              "against the number of backbone stages they train (0: the linear probe on frozen features); "
                              "labels: trainable parameters%s%s%s.",
             rf->classes ? "Macro AUC (one-vs-rest; no confidence interval for multi-class labels)" : "ROC AUC with its DeLong 95% CI",
             pooled_what(rf), g, isfinite(bauc) ? "; dashed: " : "", isfinite(bauc) ? jstr(d, base, EXP_RD_K_NAME) : "", isfinite(bauc) ? "" : "");
    figure_close(b, cap);
}

/* One sweep group's rows (every repeat), image level: variant, trainable stages, trainable
 * parameters, AUC [CI], ΔAUC vs the reference [CI], p. fmt 0: HTML, 1: Markdown, 2: LaTeX rows. */
static void depth_table(sbuf *b, const run_files *rf, const char *g, int fmt)
{
    const io_json_doc *d = &rf->m;
    const char *ref = jstr(d, &d->nodes[0], EXP_RD_K_REFERENCE);
    const io_json_node *mem[MAX_DEPTH];
    size_t n = sweep_members(rf, g, mem);
    const char *head[6] = {"Variant", "Trainable stages", "Trainable params", rf->classes ? "Macro AUC" : "AUC [95% CI]",
                           rf->classes ? "\xce\x94" "macro AUC vs reference" : "\xce\x94" "AUC vs reference [95% CI]",
                           rf->classes ? "p (corrected t)" : "p (DeLong)"};
    if (fmt == 0) {
        sb_printf(b, "<table class=\"cmp\"><caption>");
        char cap[256];
        snprintf(cap, sizeof cap, "Unfreezing depth, sweep %s (image level; reference: %s).", g, ref);
        sb_xml(b, cap);
        sb_printf(b, "</caption>\n<thead><tr>");
        for (int k = 0; k < 6; k++) {
            sb_printf(b, "<th scope=\"col\">");
            sb_xml(b, head[k]);
            sb_printf(b, "</th>");
        }
        sb_printf(b, "</tr></thead>\n<tbody>\n");
    } else if (fmt == 1) {
        sb_printf(b, "|");
        for (int k = 0; k < 6; k++) md_cell(b, head[k]);
        sb_printf(b, "\n|---|--:|--:|--:|--:|--:|\n");
    }
    for (size_t i = 0; i < n; i++) {
        const io_json_node *reps = io_json_get(d, mem[i], EXP_RD_K_REPEATS);
        if (!reps || reps->type != IO_JSON_ARRAY) continue;
        const char *name = jstr(d, mem[i], EXP_RD_K_NAME);
        for (int32_t r = reps->first; r >= 0; r = d->nodes[r].next) {
            const io_json_node *m = io_json_get(d, &d->nodes[r], EXP_RD_LEVEL_IMAGE);
            if (m && m->type != IO_JSON_OBJECT) m = NULL;
            const io_json_node *vs = m ? io_json_get(d, m, EXP_RD_K_VS_REFERENCE) : NULL;
            char c[6][CELL];
            row_label(c[0], CELL, name, json_repeat(d, &d->nodes[r]), reps->count > 1);
            exp_report_fmt(c[1], CELL, jnum(d, mem[i], EXP_RD_K_TRAINABLE_STAGES), EXP_FMT_COUNT);
            exp_report_fmt(c[2], CELL, jnum(d, mem[i], EXP_RD_K_TRAINABLE_PARAMS), EXP_FMT_COUNT);
            if (rf->classes) exp_report_fmt(c[3], CELL, jnum(d, m, EXP_RD_M_AUC), EXP_FMT_METRIC);
            else ci_cell(c[3], jnum(d, m, EXP_RD_M_AUC), jnum(d, m, EXP_RD_M_AUC_CI_LOW), jnum(d, m, EXP_RD_M_AUC_CI_HIGH), EXP_FMT_METRIC);
            if (!strcmp(name, ref)) {
                snprintf(c[4], CELL, "reference");
                snprintf(c[5], CELL, "-");
            } else if (rf->classes) {
                exp_report_fmt(c[4], CELL, jnum(d, vs, EXP_RD_K_DELTA_AUC), EXP_FMT_DELTA);
                exp_report_fmt(c[5], CELL, jnum(d, vs, EXP_RD_K_TTEST_P), EXP_FMT_P);
            } else {
                ci_cell(c[4], jnum(d, vs, EXP_RD_K_DELTA_AUC), jnum(d, vs, EXP_RD_K_DELTA_CI_LOW), jnum(d, vs, EXP_RD_K_DELTA_CI_HIGH), EXP_FMT_DELTA);
                exp_report_fmt(c[5], CELL, jnum(d, vs, EXP_RD_K_DELONG_P), EXP_FMT_P);
            }
            if (fmt == 0) sb_printf(b, "<tr>");
            else if (fmt == 1) sb_printf(b, "|");
            for (int k = 0; k < 6; k++) {
                if (fmt == 0) {
                    sb_printf(b, k ? "<td>" : "<th scope=\"row\">");
                    sb_xml(b, c[k]);
                    sb_printf(b, k ? "</td>" : "</th>");
                } else if (fmt == 1) {
                    md_cell(b, c[k]);
                } else {
                    if (k) sb_printf(b, " & ");
                    tex_text(b, c[k]);
                }
            }
            sb_printf(b, fmt == 0 ? "</tr>\n" : fmt == 1 ? "\n" : " \\\\\n");
        }
    }
    if (fmt == 0) sb_printf(b, "</tbody></table>\n");
}

/* ---- plots (repeat 0, image level, out-of-fold predictions) ---- */

/* The series of the plots, read by pred_scan (rf owns them): one per variant (in metrics.json's
 * order), repeat 0, sorted by score, highest first. A missing column is an error only here, when
 * report.html asks for the plots. */
static int load_series(const run_files *rf, series **out, size_t *n_out, wb_error *err)
{
    if (rf->se_failed) {
        *err = rf->se_err;
        return -1;
    }
    *out = rf->se;
    *n_out = rf->nv;
    return 0;
}

/* ROC (kind 0: x = FPR, y = TPR) or PR (kind 1: x = recall, y = precision) points at every
 * distinct threshold of a sorted series. x and y hold n + 1 entries; returns the count. */
static size_t curve_points(const series *s, int kind, double *x, double *y)
{
    double P = 0, N = 0, tp = 0, fp = 0;
    for (size_t i = 0; i < s->n; i++) {
        P += s->v[i].y;
        N += !s->v[i].y;
    }
    size_t k = 0;
    if (kind == 0) x[k] = 0, y[k++] = 0;
    for (size_t i = 0; i < s->n; i++) {
        tp += s->v[i].y;
        fp += !s->v[i].y;
        if (i + 1 < s->n && s->v[i + 1].s == s->v[i].s) continue;
        if (kind == 0) {
            x[k] = N > 0 ? fp / N : NAN;
            y[k++] = P > 0 ? tp / P : NAN;
        } else {
            x[k] = P > 0 ? tp / P : NAN;
            y[k++] = tp / (tp + fp);
        }
    }
    return k;
}

static void plot_roc_pr(sbuf *b, const run_files *rf, const series *s, size_t nv, int kind)
{
    svg_plot p = {.w = 400, .h = 340, .x0 = 0, .x1 = 1, .y0 = 0, .y1 = 1};
    p.title = kind ? "Precision-recall" : "ROC";
    p.xlabel = kind ? "recall (sensitivity)" : "1 - specificity";
    p.ylabel = kind ? "precision" : "sensitivity";
    figure_open(b, kind ? "pr" : "roc");
    svg_begin(b, &p);
    if (kind == 0) {
        double d[2] = {0, 1};
        svg_line(b, &p, d, d, 2, "#999999", 1, "4 3");
    } else if (nv && s[0].n) {
        double P = 0;
        for (size_t i = 0; i < s[0].n; i++) P += s[0].v[i].y;
        double px[2] = {0, 1}, py[2] = {P / (double)s[0].n, P / (double)s[0].n};
        svg_line(b, &p, px, py, 2, "#999999", 1, "4 3"); /* prevalence: a random classifier */
    }
    const char *names[16], *colors[16];
    size_t nl = 0;
    for (size_t v = 0; v < nv; v++) {
        if (!s[v].n) continue;
        double *x = malloc((s[v].n + 2) * sizeof *x), *y = malloc((s[v].n + 2) * sizeof *y);
        if (x && y) svg_line(b, &p, x, y, curve_points(&s[v], kind, x, y), svg_color(v), 2, NULL);
        free(x);
        free(y);
        if (nl < 16) names[nl] = s[v].name, colors[nl++] = svg_color(v);
    }
    svg_legend(b, &p, names, colors, nl, kind ? SVG_TOP_RIGHT : SVG_BOTTOM_RIGHT);
    svg_end(b);
    char cap[256];
    snprintf(cap, sizeof cap, "%s curves of %s (image level, repeat 1); dashed: %s.", kind ? "Precision-recall" : "ROC",
             pooled_what(rf), kind ? "the prevalence" : "chance");
    figure_close(b, cap);
}

void exp_reliability_add(exp_reliability *r, double score, int label)
{
    int k = (int)(score * EXP_RELIABILITY_BINS);
    k = k < 0 ? 0 : k >= EXP_RELIABILITY_BINS ? EXP_RELIABILITY_BINS - 1 : k;
    r->sum[k] += score;
    r->pos[k] += label;
    r->cnt[k] += 1;
}

svg_plot exp_reliability_begin(sbuf *b)
{
    svg_plot p = {.w = 400, .h = 340, .x0 = 0, .x1 = 1, .y0 = 0, .y1 = 1, .title = "Reliability",
                  .xlabel = "mean predicted probability", .ylabel = "observed fraction positive"};
    svg_begin(b, &p);
    double d[2] = {0, 1};
    svg_line(b, &p, d, d, 2, "#999999", 1, "4 3");
    return p;
}

void exp_reliability_draw(sbuf *b, const svg_plot *p, const exp_reliability *r, const char *name, const char *colour)
{
    double x[EXP_RELIABILITY_BINS], y[EXP_RELIABILITY_BINS];
    size_t m = 0;
    for (int k = 0; k < EXP_RELIABILITY_BINS; k++)
        if (r->cnt[k] > 0) x[m] = r->sum[k] / r->cnt[k], y[m++] = r->pos[k] / r->cnt[k];
    svg_line(b, p, x, y, m, colour, 1.5, NULL);
    for (size_t k = 0, j = 0; k < EXP_RELIABILITY_BINS; k++) {
        if (!(r->cnt[k] > 0)) continue;
        char tip[160];
        snprintf(tip, sizeof tip, "%s: %.0f images, mean score %.3f, %.3f positive", name, r->cnt[k], x[j], y[j]);
        svg_dot(b, p, x[j], y[j], 3, colour, tip);
        j++;
    }
}

static void plot_reliability(sbuf *b, const series *s, size_t nv)
{
    figure_open(b, "reliability");
    svg_plot p = exp_reliability_begin(b);
    const char *names[16], *colors[16];
    size_t nl = 0;
    for (size_t v = 0; v < nv; v++) {
        if (!s[v].n) continue;
        exp_reliability r = {0};
        for (size_t i = 0; i < s[v].n; i++) exp_reliability_add(&r, s[v].v[i].s, s[v].v[i].y);
        exp_reliability_draw(b, &p, &r, s[v].name, svg_color(v));
        if (nl < 16) names[nl] = s[v].name, colors[nl++] = svg_color(v);
    }
    svg_legend(b, &p, names, colors, nl, SVG_TOP_LEFT);
    svg_end(b);
    figure_close(b, "Reliability diagram: images in 10 equal-width bins of the predicted probability (image level, "
                    "repeat 1); dashed: perfect calibration.");
}

/* Per-fold AUCs (image level, every repeat) as dots, the pooled AUC as a bar. */
static int plot_strip(sbuf *b, const run_files *rf, const series *s, size_t nv, wb_error *err)
{
    static const char *const names[] = {EXP_RD_COL_REPEAT, EXP_RD_COL_FOLD,   EXP_RD_COL_VARIANT,
                                        EXP_RD_COL_LEVEL,  EXP_RD_COL_METRIC, EXP_RD_COL_VALUE};
    long c[6];
    if (columns(&rf->mcsv, names, c, 6, err) != 0) return -1;
    const char **cats = calloc(nv ? nv : 1, sizeof *cats);
    if (!cats) return wb_err(err, WB_E_NOMEM, rf->dir, "out of memory");
    for (size_t v = 0; v < nv; v++) cats[v] = s[v].name;
    double lo = 1, hi = 0;
    for (size_t i = 0; i < rf->mcsv.n_rows; i++) {
        if (strcmp(io_csv_cell(&rf->mcsv, i, c[3]), EXP_RD_LEVEL_IMAGE) || strcmp(io_csv_cell(&rf->mcsv, i, c[4]), EXP_RD_M_AUC) ||
            !strcmp(io_csv_cell(&rf->mcsv, i, c[1]), EXP_RD_POOLED) || !strcmp(io_csv_cell(&rf->mcsv, i, c[5]), "null"))
            continue;
        double a = atof(io_csv_cell(&rf->mcsv, i, c[5]));
        lo = a < lo ? a : lo;
        hi = a > hi ? a : hi;
    }
    if (hi < lo) lo = 0, hi = 1;
    svg_plot p = {.w = 120 + 90 * (int)nv, .h = 320, .x0 = -0.6, .x1 = (double)nv - 0.4, .title = "AUC per fold",
                  .ylabel = rf->classes ? "macro AUC (test fold)" : "ROC AUC (test fold)", .xcats = cats, .n_xcats = nv};
    svg_nice_range(lo < 0.5 ? lo : 0.5, hi, &p.y0, &p.y1);
    if (p.y1 > 1) p.y1 = 1;
    figure_open(b, "folds");
    svg_begin(b, &p);
    double half[2] = {-0.6, (double)nv - 0.4}, h[2] = {0.5, 0.5};
    if (p.y0 <= 0.5) svg_line(b, &p, half, h, 2, "#999999", 1, "4 3");
    const io_json_doc *d = &rf->m;
    size_t v = 0;
    for (int32_t vn = rf->variants->first; vn >= 0; vn = d->nodes[vn].next, v++) {
        const io_json_node *reps = io_json_get(d, &d->nodes[vn], EXP_RD_K_REPEATS);
        const io_json_node *r0 = reps && reps->type == IO_JSON_ARRAY && reps->first >= 0 ? &d->nodes[reps->first] : NULL;
        const io_json_node *im = r0 ? io_json_get(d, r0, EXP_RD_LEVEL_IMAGE) : NULL;
        svg_hbar(b, &p, (double)v, jnum(d, im, EXP_RD_M_AUC), 0.3, svg_color(v));
    }
    for (size_t i = 0; i < rf->mcsv.n_rows; i++) {
        if (strcmp(io_csv_cell(&rf->mcsv, i, c[3]), EXP_RD_LEVEL_IMAGE) || strcmp(io_csv_cell(&rf->mcsv, i, c[4]), EXP_RD_M_AUC) ||
            !strcmp(io_csv_cell(&rf->mcsv, i, c[1]), EXP_RD_POOLED) || !strcmp(io_csv_cell(&rf->mcsv, i, c[5]), "null"))
            continue;
        for (size_t j = 0; j < nv; j++) {
            if (strcmp(io_csv_cell(&rf->mcsv, i, c[2]), s[j].name)) continue;
            int fold = atoi(io_csv_cell(&rf->mcsv, i, c[1])), rep = atoi(io_csv_cell(&rf->mcsv, i, c[0]));
            double jitter = ((fold * 7 + rep * 3) % 9 - 4) * 0.045;
            char tip[160];
            snprintf(tip, sizeof tip, "%s, repeat %d, fold %d: AUC %s", s[j].name, rep + 1, fold + 1,
                     io_csv_cell(&rf->mcsv, i, c[5]));
            svg_dot(b, &p, (double)j + jitter, atof(io_csv_cell(&rf->mcsv, i, c[5])), 3.5, svg_color(j), tip);
        }
    }
    svg_end(b);
    free(cats);
    if (fixed_split(rf))
        figure_close(b, rf->classes ? "One-vs-rest macro AUC on the test rows of the fixed split (one split, no folds: the dot "
                                      "and the bar are the same predictions), image level; dashed: chance."
                                    : "ROC AUC on the test rows of the fixed split (one split, no folds: the dot and the bar "
                                      "are the same predictions), image level; dashed: chance.");
    else
        figure_close(b, rf->classes ? "One-vs-rest macro AUC of each test fold (dots; all repeats) and of the pooled out-of-fold "
                                      "predictions (bar), image level; dashed: chance."
                                    : "ROC AUC of each test fold (dots; all repeats) and of the pooled out-of-fold predictions "
                                      "(bar), image level; dashed: chance.");
    return 0;
}

/* Training loss and validation AUC by epoch: one line per (repeat, fold), coloured by variant. */
static int plot_learning(sbuf *b, const run_files *rf, const series *s, size_t nv, wb_error *err)
{
    if (!rf->have_curves || rf->curves.n_rows == 0) return 0;
    static const char *const names[] = {EXP_RD_COL_REPEAT, EXP_RD_COL_FOLD,       EXP_RD_COL_VARIANT,
                                        EXP_RD_COL_EPOCH,  EXP_RD_COL_TRAIN_LOSS, EXP_RD_COL_VAL_AUC};
    long c[6];
    if (columns(&rf->curves, names, c, 6, err) != 0) return -1;
    const io_csv *cv = &rf->curves;
    size_t n = cv->n_rows;
    double *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    if (!x || !y) {
        free(x);
        free(y);
        return wb_err(err, WB_E_NOMEM, rf->dir, "out of memory");
    }
    for (int which = 0; which < 2; which++) {
        double lo = INFINITY, hi = -INFINITY, emax = 1;
        for (size_t i = 0; i < n; i++) {
            const char *t = io_csv_cell(cv, i, c[4 + which]);
            double e = atof(io_csv_cell(cv, i, c[3]));
            if (isfinite(e) && e < 1e6) emax = e > emax ? e : emax;
            if (!strcmp(t, "null")) continue;
            double a = atof(t);
            if (!isfinite(a)) continue;
            lo = a < lo ? a : lo;
            hi = a > hi ? a : hi;
        }
        svg_plot p = {.w = 400, .h = 320, .x0 = 1, .x1 = emax > 1 ? emax : 2, .xlabel = "epoch", .x_integer = 1,
                      .title = which ? "Validation AUC" : "Training loss",
                      .ylabel = which ? "ROC AUC (inner validation)" : "cross-entropy"};
        svg_nice_range(which && lo > 0.5 ? 0.5 : lo, hi, &p.y0, &p.y1);
        if (which && p.y1 > 1) p.y1 = 1;
        figure_open(b, which ? "val-auc" : "train-loss");
        svg_begin(b, &p);
        const char *lnames[16], *lcolors[16];
        size_t nl = 0;
        for (size_t i = 0; i < n;) {
            size_t j = i, m = 0;
            const char *vn = io_csv_cell(cv, i, c[2]);
            while (j < n && !strcmp(io_csv_cell(cv, j, c[2]), vn) &&
                   !strcmp(io_csv_cell(cv, j, c[1]), io_csv_cell(cv, i, c[1])) &&
                   !strcmp(io_csv_cell(cv, j, c[0]), io_csv_cell(cv, i, c[0]))) {
                const char *t = io_csv_cell(cv, j, c[4 + which]);
                x[m] = atof(io_csv_cell(cv, j, c[3]));
                y[m++] = strcmp(t, "null") ? atof(t) : NAN;
                j++;
            }
            size_t v = 0;
            while (v < nv && strcmp(s[v].name, vn)) v++;
            svg_line(b, &p, x, y, m, svg_color(v), 1.3, NULL);
            int seen = 0;
            for (size_t k = 0; k < nl; k++) seen |= !strcmp(lnames[k], vn);
            if (!seen && nl < 16 && v < nv) lnames[nl] = s[v].name, lcolors[nl++] = svg_color(v);
            i = j;
        }
        if (!which) svg_legend(b, &p, lnames, lcolors, nl, SVG_TOP_RIGHT);
        svg_end(b);
        figure_close(b, which ? "Validation AUC by epoch, one line per fold (the inner validation patients of the "
                                "training folds: it chose the epoch kept)."
                              : "Training loss by epoch, one line per fold and variant.");
    }
    free(x);
    free(y);
    return 0;
}

/* ---- summary text shared by HTML and Markdown ---- */

typedef struct summary {
    char title[256], data[1400], backbone[1024], cv[1024], ref[128];
    const char *cv_label;  /* "Cross-validation", or "Fixed split" (cv.split_column) */
    const char *pooled;    /* "Pooled out-of-fold predictions", or those of the fixed split's test rows */
    const char *limits;    /* the first words of the limitations */
    double images, patients, pos, excluded;
} summary;

static void summarize(const run_files *rf, summary *s)
{
    const io_json_doc *d = &rf->m;
    const io_json_node *root = &d->nodes[0], *data = io_json_get(d, root, EXP_RD_K_DATA), *cvn = io_json_get(d, root, EXP_RD_K_CV);
    const char *t = cfg(rf, "report.title");
    snprintf(s->title, sizeof s->title, "%s", t[0] ? t : jstr(d, root, EXP_RD_K_NAME));
    s->images = jnum(d, data, EXP_RD_K_IMAGES);
    s->patients = jnum(d, data, EXP_RD_K_PATIENTS);
    s->pos = jnum(d, data, EXP_RD_K_POSITIVE_IMAGES);
    s->excluded = jnum(d, data, EXP_RD_K_EXCLUDED);
    if (rf->classes) {
        /* multi-class: images per class; the smallest class stands in for "positives" in the
         * limitations' note on wide intervals */
        const io_json_node *ci = io_json_get(d, data, EXP_RD_K_CLASS_IMAGES);
        char per[300] = "";
        s->pos = INFINITY;
        for (int32_t c = rf->classes->first; c >= 0; c = d->nodes[c].next) {
            double k = jnum(d, ci, d->nodes[c].str);
            size_t l = strlen(per);
            snprintf(per + l, sizeof per - l, "%s%s %.0f", l ? ", " : "", d->nodes[c].str, k);
            if (!(k >= s->pos)) s->pos = k;
        }
        snprintf(s->data, sizeof s->data, "%.0f images of %.0f patients; %d classes of %s (%s); %.0f files excluded",
                 s->images, s->patients, rf->K, cfg(rf, "data.label_column"), per, s->excluded);
    } else {
        /* the positive value: data.positive, or the second of two data.classes */
        char pos[128];
        snprintf(pos, sizeof pos, "%s", cfg(rf, "data.positive"));
        const char *cl = cfg(rf, "data.classes"), *comma = strrchr(cl, ',');
        if (!pos[0] && comma) {
            while (*++comma == ' ') {}
            snprintf(pos, sizeof pos, "%.*s", (int)strcspn(comma, "]"), comma);
        }
        if (rf->patch)
            snprintf(s->data, sizeof s->data,
                     "patch level: %.0f patches (%.0f lesion-centred, %.0f background) from %.0f images of %.0f patients; "
                     "%.0f positive patches (%s = %s); %.0f files or boxes excluded",
                     s->images, jnum(d, data, EXP_RD_K_LESION_PATCHES), jnum(d, data, EXP_RD_K_BACKGROUND_PATCHES),
                     jnum(d, data, EXP_RD_K_SOURCE_IMAGES), s->patients, s->pos, cfg(rf, "data.label_column"), pos, s->excluded);
        else
            snprintf(s->data, sizeof s->data,
                     "%.0f images of %.0f patients; %.0f positive images (%s = %s; prevalence %.1f%%); %.0f files excluded",
                     s->images, s->patients, s->pos, cfg(rf, "data.label_column"), pos,
                     s->images > 0 ? 100 * s->pos / s->images : 0, s->excluded);
    }
    /* PNG, JPEG and PGM inputs carry no DICOM header: say so (absent in older runs) */
    double non_dicom = jnum(d, data, EXP_RD_K_NON_DICOM);
    if (non_dicom > 0) {
        const io_json_node *fm = io_json_get(d, data, EXP_RD_K_FORMATS);
        char per[160] = "";
        for (int32_t c = fm && fm->type == IO_JSON_OBJECT ? fm->first : -1; c >= 0; c = d->nodes[c].next) {
            const io_json_node *k = &d->nodes[c];
            if (!k->key || !strcmp(k->key, "dicom") || k->type != IO_JSON_NUMBER) continue;
            size_t l = strlen(per);
            snprintf(per + l, sizeof per - l, "%s%.0f %s", l ? ", " : "", k->num, k->key);
        }
        size_t l = strlen(s->data);
        snprintf(s->data + l, sizeof s->data - l,
                 "; %.0f of the images are not DICOM (%s): no DICOM metadata was available for them, so laterality and "
                 "view come from the labels CSV only (laterality inferred from the image where the CSV leaves it empty)",
                 non_dicom, per);
    }
    const char *sha = rf->have_env ? jstr(&rf->e, rf->env, "weights_sha256") : "";
    const char *w = cfg(rf, "backbone.weights"), *base = strrchr(w, '/');
    /* the input normalisation applied: preprocess.normalize, auto resolved for the weights */
    char norm[256];
    exp_normalize_resolve(cfg(rf, "preprocess.normalize"), cfg(rf, "backbone.arch"), w, NULL, NULL, norm, sizeof norm);
    snprintf(s->backbone, sizeof s->backbone,
             "%s, %s input channel(s), pretrained weights %s (SHA-256 %s); input normalisation %s (preprocess.normalize: %s)",
             cfg(rf, "backbone.arch"), cfg(rf, "backbone.in_channels"), base ? base + 1 : w, sha[0] ? sha : "not recorded",
             norm, cfg(rf, "preprocess.normalize"));
    snprintf(s->cv, sizeof s->cv,
             "%.0f-fold stratified group k-fold by patient, %.0f repeat(s), seed %.0f; inside each training fold %.0f%% of "
             "the patients form the validation set for early stopping (patience %s) and the decision threshold (%s); "
             "breast level = %s of the views of one breast",
             jnum(d, cvn, EXP_RD_K_FOLDS), jnum(d, cvn, EXP_RD_K_REPEATS), jnum(d, cvn, EXP_RD_K_SEED), 100 * atof(cfg(rf, "train.val_fraction")),
             cfg(rf, "train.patience"), cfg(rf, "metrics.threshold"), cfg(rf, "metrics.breast_aggregate"));
    if (rf->classes)
        snprintf(s->cv, sizeof s->cv,
                 "%.0f-fold stratified group k-fold by patient, %.0f repeat(s), seed %.0f; inside each training fold %.0f%% of "
                 "the patients form the validation set for early stopping on the one-vs-rest macro AUC (patience %s); the "
                 "predicted class is the most probable one; breast level = %s of the views' class probabilities",
                 jnum(d, cvn, EXP_RD_K_FOLDS), jnum(d, cvn, EXP_RD_K_REPEATS), jnum(d, cvn, EXP_RD_K_SEED),
                 100 * atof(cfg(rf, "train.val_fraction")), cfg(rf, "train.patience"), cfg(rf, "metrics.breast_aggregate"));
    s->cv_label = "Cross-validation";
    s->pooled = "Pooled out-of-fold predictions";
    s->limits = "internal cross-validation on one data source, no external test set; models are refitted per fold, so "
                "the numbers describe the training procedure, not one deployable model";
    const io_json_node *fx = io_json_get(d, cvn, "fixed_split");
    if (fx) { /* cv.split_column: one train/test split, evaluated once */
        const int patches = io_json_get(d, fx, "train_patches") != NULL;
        const char *unit = patches ? "patches" : "images";
        char vals[2][160] = {"", ""};
        for (int side = 0; side < 2; side++) {
            const io_json_node *vl = io_json_get(d, fx, side ? "test_values" : "train_values");
            for (int32_t c = vl && vl->type == IO_JSON_ARRAY ? vl->first : -1; c >= 0; c = d->nodes[c].next) {
                size_t l = strlen(vals[side]);
                snprintf(vals[side] + l, sizeof vals[side] - l, "%s%s", l ? "/" : "", d->nodes[c].str ? d->nodes[c].str : "");
            }
        }
        const double reps = jnum(d, cvn, "repeats");
        char refit[200] = "";
        if (reps > 1)
            snprintf(refit, sizeof refit, "; fitted %.0f times on the same split (a repeat draws its own validation "
                     "patients and training seed; one table row per repeat)", reps);
        snprintf(s->cv, sizeof s->cv,
                 "fixed train/test split from the labels column %s instead of cross-validation: %.0f %s of %.0f patients "
                 "(%s) to train on, %.0f %s of %.0f patients (%s) tested %s, no patient on both sides; inside the "
                 "training rows %.0f%% of the patients (seed %.0f) form the validation set for early stopping (patience %s)%s%s%s%s; "
                 "breast level = %s of the views of one breast",
                 jstr(d, fx, "column"), jnum(d, fx, patches ? "train_patches" : "train_images"), unit,
                 jnum(d, fx, "train_patients"), vals[0], jnum(d, fx, patches ? "test_patches" : "test_images"), unit,
                 jnum(d, fx, "test_patients"), vals[1], reps > 1 ? "by each fit" : "once",
                 100 * atof(cfg(rf, "train.val_fraction")), jnum(d, cvn, EXP_RD_K_SEED),
                 cfg(rf, "train.patience"), rf->classes ? "" : " and the decision threshold (",
                 rf->classes ? "" : cfg(rf, "metrics.threshold"), rf->classes ? "" : ")", refit, cfg(rf, "metrics.breast_aggregate"));
        s->cv_label = "Fixed split";
        s->pooled = "Predictions on the test rows of the fixed split";
        s->limits = reps > 1 ? "one fixed train/test split of one data source: the repeats differ only in the validation "
                               "patients and the training seed, so their spread is the variation of training, not of the "
                               "split (no folds to average over; no t-test across folds)"
                             : "one fixed train/test split of one data source, fitted once, so the numbers carry the variation of "
                               "that one split (no folds to average over; no t-test across folds)";
    }
    /* data.filter and the split's left-out rows */
    const io_json_node *rs = io_json_get(d, data, "row_selection");
    if (rs) {
        size_t l = strlen(s->data);
        snprintf(s->data + l, sizeof s->data - l, "; %.0f of the labels' %.0f rows kept", jnum(d, rs, "kept_rows"),
                 jnum(d, rs, "labels_rows"));
        const io_json_node *fl = io_json_get(d, rs, "filter_left_out");
        for (int32_t c = fl && fl->type == IO_JSON_OBJECT ? fl->first : -1; c >= 0; c = d->nodes[c].next) {
            l = strlen(s->data);
            snprintf(s->data + l, sizeof s->data - l, "%s%.0f on %s", c == fl->first ? " (data.filter left out " : ", ",
                     d->nodes[c].num, d->nodes[c].key ? d->nodes[c].key : "");
        }
        double other = jnum(d, rs, "split_other_left_out"), ov = jnum(d, rs, "split_overlap_left_out");
        l = strlen(s->data);
        if (other > 0)
            snprintf(s->data + l, sizeof s->data - l, "%s%.0f with another split value", fl && fl->first >= 0 ? ", " : " (", other);
        l = strlen(s->data);
        if (ov > 0)
            snprintf(s->data + l, sizeof s->data - l, "%s%.0f training rows of patients also in test (cv.split_overlap: "
                     "drop_train)", (fl && fl->first >= 0) || other > 0 ? ", " : " (", ov);
        l = strlen(s->data);
        if ((fl && fl->first >= 0) || other > 0 || ov > 0) snprintf(s->data + l, sizeof s->data - l, ")");
    }
    snprintf(s->ref, sizeof s->ref, "%s", jstr(d, root, EXP_RD_K_REFERENCE));
}

/* What each variant trains, from the resolved config. */
static void variant_line(const run_files *rf, size_t v, char *out, size_t n)
{
    char k[96];
    snprintf(k, sizeof k, "variants[%zu].type", v);
    if (!strcmp(cfg(rf, k), "baseline")) {
        char kf[96], kc[96];
        snprintf(kf, sizeof kf, "variants[%zu].features", v);
        snprintf(kc, sizeof kc, "variants[%zu].C", v);
        snprintf(out, n, "radiomic features %s, standardised on the training images; L2 logistic regression, C = %s",
                 cfg(rf, kf), cfg(rf, kc));
        return;
    }
    char ku[96], kb[96], kl[96], kp[96], kh[96];
    snprintf(ku, sizeof ku, "variants[%zu].unfreeze", v);
    snprintf(kb, sizeof kb, "variants[%zu].bn", v);
    snprintf(kl, sizeof kl, "variants[%zu].lr_scale", v);
    snprintf(kp, sizeof kp, "variants[%zu].probe_C", v);
    snprintf(kh, sizeof kh, "variants[%zu].head_init", v);
    const char *u = cfg(rf, ku), *lr = cfg(rf, kl), *grid = cfg(rf, kp);
    /* runs before the linear probe (no probe_C in their config) trained a new head by SGD */
    if (!strcmp(u, "none") && grid[0]) {
        snprintf(out, n, "backbone frozen; linear probe: L2 logistic regression on the pooled features (standardised on "
                         "the training images), fitted to convergence, C from %s chosen by validation log loss", grid);
        return;
    }
    snprintf(out, n, "%s%s%s, %s; batch norm %s%s%s; %s, lr %s, %s epochs (best by validation AUC)",
             !strcmp(u, "none") ? "backbone frozen" : !strcmp(u, "all") ? "whole backbone fine-tuned" : "fine-tuned stages",
             !strcmp(u, "none") || !strcmp(u, "all") ? "" : " ", !strcmp(u, "none") || !strcmp(u, "all") ? "" : u,
             !strcmp(cfg(rf, kh), "probe") ? "head started from the linear probe (C by validation log loss)" : "new head",
             cfg(rf, kb), strcmp(lr, "{}") && lr[0] ? ", lr scales " : "",
             strcmp(lr, "{}") ? lr : "", cfg(rf, "train.optimizer"), cfg(rf, "train.lr"), cfg(rf, "train.epochs"));
}

static void model_card_md(sbuf *b, const summary *s, const run_files *rf)
{
    sb_printf(b, "## Model card\n\n");
    sb_printf(b, "- **Intended use:** research only: comparing transfer-learning strategies on retrospective data. "
                 "Not a medical device; not for screening, diagnosis or any decision about a patient.\n");
    sb_printf(b, "- **Data:** %s. Images from `%s`, labels from `%s`.\n", s->data, cfg(rf, "data.dicom_dir"),
              cfg(rf, "data.labels"));
    if (rf->classes)
        sb_printf(b, "- **Evaluation:** %s. Metrics on %c%s; macro AUC = mean of the one-vs-rest "
                     "AUCs; differences against `%s` by the corrected resampled t-test on the fold macro AUCs (DeLong's "
                     "test is for binary labels).\n",
                  s->cv, s->pooled[0] + 'a' - 'A', s->pooled + 1, s->ref);
    else
        sb_printf(b, "- **Evaluation:** %s. Metrics on %c%s; AUC confidence intervals by "
                     "DeLong; differences against `%s` by the paired DeLong test and the corrected resampled t-test.\n",
                  s->cv, s->pooled[0] + 'a' - 'A', s->pooled + 1, s->ref);
    sb_printf(b, "- **Limitations:** %s; "
                 "%s were chosen on small validation splits", s->limits, rf->classes ? "the epochs kept" : "thresholds");
    if (s->pos < 100)
        sb_printf(b, rf->classes ? "; with %.0f images in the smallest class the estimates are uncertain"
                                 : "; with %.0f positive images the confidence intervals are wide",
                  s->pos);
    sb_printf(b, "; p-values are not corrected for comparing several variants.\n\n");
}

/* ---- multi-class: one-vs-rest AUC of each class ---- */

/* Rows: variants (and repeats); columns: classes; cells: metrics.json's auc_ovr_<class> at the
 * level. html != 0: an HTML table with caption, else a Markdown table. */
static void per_class_table(sbuf *b, const run_files *rf, const char *level, int html, const char *caption)
{
    const io_json_doc *d = &rf->m;
    const char *ref = jstr(d, &d->nodes[0], EXP_RD_K_REFERENCE);
    if (html) {
        sb_printf(b, "<table class=\"cmp\"><caption>");
        sb_xml(b, caption);
        sb_printf(b, "</caption>\n<thead><tr><th scope=\"col\">Variant</th>");
    } else {
        sb_printf(b, "| Variant |");
    }
    for (int32_t c = rf->classes->first; c >= 0; c = d->nodes[c].next) {
        char h[128];
        snprintf(h, sizeof h, "AUC %s vs rest", d->nodes[c].str);
        if (html) {
            sb_printf(b, "<th scope=\"col\">");
            sb_xml(b, h);
            sb_printf(b, "</th>");
        } else {
            md_cell(b, h);
        }
    }
    if (html) {
        sb_printf(b, "</tr></thead>\n<tbody>\n");
    } else {
        sb_printf(b, "\n|---|");
        for (int k = 0; k < rf->K; k++) sb_printf(b, "--:|");
        sb_printf(b, "\n");
    }
    for (int32_t v = rf->variants->first; v >= 0; v = d->nodes[v].next) {
        const io_json_node *vn = &d->nodes[v], *reps = io_json_get(d, vn, EXP_RD_K_REPEATS);
        if (!reps || reps->type != IO_JSON_ARRAY) continue;
        const char *name = jstr(d, vn, EXP_RD_K_NAME);
        for (int32_t r = reps->first; r >= 0; r = d->nodes[r].next) {
            const io_json_node *rn = &d->nodes[r], *m = io_json_get(d, rn, level);
            if (m && m->type != IO_JSON_OBJECT) m = NULL;
            char label[CELL];
            row_label(label, sizeof label, name, json_repeat(d, rn), reps->count > 1);
            if (html) {
                sb_printf(b, "<tr%s><th scope=\"row\">", !strcmp(name, ref) ? " class=\"ref\"" : "");
                sb_xml(b, label);
                sb_printf(b, "</th>");
            } else {
                sb_printf(b, "|");
                md_cell(b, label);
            }
            for (int32_t c = rf->classes->first; c >= 0; c = d->nodes[c].next) {
                char key[128], cell[CELL];
                snprintf(key, sizeof key, "auc_ovr_%s", d->nodes[c].str);
                exp_report_fmt(cell, sizeof cell, jnum(d, m, key), EXP_FMT_METRIC);
                if (html) {
                    sb_printf(b, "<td>");
                    sb_xml(b, cell);
                    sb_printf(b, "</td>");
                } else {
                    md_cell(b, cell);
                }
            }
            sb_printf(b, html ? "</tr>\n" : "\n");
        }
    }
    if (html) sb_printf(b, "</tbody></table>\n");
}

/* ---- the files ---- */

static int write_md(const run_files *rf, const summary *s, const table *ti, const table *tb, wb_error *err)
{
    sbuf b = {0};
    const char *dn = strrchr(rf->dir, '/');
    sb_printf(&b, "# %s\n\nRun `%s`", s->title, dn ? dn + 1 : rf->dir);
    if (rf->have_env)
        sb_printf(&b, " · workbench %s (git %s)", jstr(&rf->e, rf->env, "workbench"), jstr(&rf->e, rf->env, "git_revision"));
    sb_printf(&b, "\n\n## Data and scheme\n\n- **Data:** %s\n- **Backbone:** %s\n- **%s:** %s\n", s->data,
              s->backbone, s->cv_label, s->cv);
    sb_printf(&b, "- **Variants:**\n");
    const io_json_doc *d = &rf->m;
    size_t v = 0;
    for (int32_t vn = rf->variants->first; vn >= 0; vn = d->nodes[vn].next, v++) {
        char line[600];
        variant_line(rf, v, line, sizeof line);
        sb_printf(&b, "  - `%s`: %s\n", jstr(d, &d->nodes[vn], EXP_RD_K_NAME), line);
    }
    if (rf->classes)
        sb_printf(&b, "\n## Comparison, image level\n\nReference: `%s`. %s of %d classes; "
                      "macro AUC = mean of the one-vs-rest AUCs; accuracy, balanced accuracy and macro F1 of the most "
                      "probable class.\n\n", s->ref, s->pooled, rf->K);
    else
        sb_printf(&b, "\n## Comparison, %s level\n\nReference: `%s`. %s; sensitivity, "
                      "specificity and F1 at each fold's validation-chosen threshold.\n\n", rf->patch ? "patch" : "image", s->ref,
                  s->pooled);
    table_md(&b, rf, ti);
    sb_printf(&b, rf->patch ? "\n## Comparison, breast level (the patches of one breast aggregated)\n\n"
                            : "\n## Comparison, breast level\n\n");
    table_md(&b, rf, tb);
    sb_printf(&b, "\n");
    if (rf->patch) exp_report_patch_md(&b, &rf->m, rf->dir);
    if (exp_report_gallery_has(rf->dir) && exp_report_gallery_md(&b, rf->dir, err) != 0) {
        sb_free(&b);
        return -1;
    }
    if (rf->classes) {
        sb_printf(&b, "## One-vs-rest AUC per class, image level\n\n");
        per_class_table(&b, rf, EXP_RD_LEVEL_IMAGE, 0, NULL);
        sb_printf(&b, "\n## One-vs-rest AUC per class, breast level\n\n");
        per_class_table(&b, rf, EXP_RD_LEVEL_BREAST, 0, NULL);
        sb_printf(&b, "\n");
    }
    const char *groups[MAX_GROUPS];
    size_t ng = sweep_groups(rf, groups);
    for (size_t g = 0; g < ng; g++) {
        sb_printf(&b, "## Unfreezing depth: %s, image level\n\nThe variants of sweep `%s` by the number of backbone stages "
                      "they train (0: the linear probe on frozen features). Reference: `%s`.\n\n", groups[g], groups[g], s->ref);
        depth_table(&b, rf, groups[g], 1);
        sb_printf(&b, "\n");
    }
    model_card_md(&b, s, rf);
    int rc = sb_write(&b, rf->dir, "report.md", err);
    sb_free(&b);
    return rc;
}

static int write_tex(const run_files *rf, const summary *s, const table *ti, const table *tb, wb_error *err)
{
    sbuf b = {0};
    const char *names[NCOL];
    char sas[64];
    col_names(rf, names, sas, sizeof sas);
    sb_printf(&b, "%% Made by `workbench report` from metrics.json; needs \\usepackage{booktabs}.\n");
    sb_printf(&b, "\\begin{table}[tbp]\n\\centering\n\\small\n\\caption{");
    tex_text(&b, s->title);
    const int fixed = fixed_split(rf);
    if (fixed) { /* the metrics are of the test rows only */
        const io_json_node *fx = io_json_get(&rf->m, io_json_get(&rf->m, &rf->m.nodes[0], EXP_RD_K_CV), "fixed_split");
        const int patches = io_json_get(&rf->m, fx, "train_patches") != NULL;
        sb_printf(&b, ": results on the test rows of the fixed split (column ");
        tex_text(&b, jstr(&rf->m, fx, "column"));
        sb_printf(&b, "; tested on %.0f %s of %.0f patients, trained on %.0f %s of %.0f patients). $\\Delta$AUC against ",
                  jnum(&rf->m, fx, patches ? "test_patches" : "test_images"), patches ? "patches" : "images",
                  jnum(&rf->m, fx, "test_patients"), jnum(&rf->m, fx, patches ? "train_patches" : "train_images"),
                  patches ? "patches" : "images", jnum(&rf->m, fx, "train_patients"));
    } else {
        sb_printf(&b, ": pooled out-of-fold results (%.0f images, %.0f patients). $\\Delta$AUC against ", s->images, s->patients);
    }
    tex_text(&b, s->ref);
    if (rf->classes)
        sb_printf(&b, fixed ? " (one-vs-rest macro AUC over %d classes); no $p$: one split, no folds for the $t$-test.}\n\\label{tab:"
                            : " (one-vs-rest macro AUC over %d classes); $p$: corrected resampled $t$-test on the fold macro AUCs.}\n\\label{tab:",
                  rf->K);
    else
        sb_printf(&b, fixed ? " with 95\\%% CI; $p$: paired DeLong test (one split, no folds for the $t$-test).}\n\\label{tab:"
                            : " with 95\\%% CI; $p$: paired DeLong test and corrected resampled $t$-test.}\n\\label{tab:");
    for (const char *p = s->title; *p; p++) sb_printf(&b, "%c", (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '-');
    const int *tex_cols = rf->classes ? tex_mc_cols : tex_bin_cols;
    const int TEX_NCOL = rf->classes ? TEX_MC_NCOL : TEX_BIN_NCOL;
    sb_printf(&b, "}\n\\begin{tabular}{l");
    for (int k = 1; k < TEX_NCOL; k++) sb_printf(&b, "r");
    sb_printf(&b, "}\n\\toprule\n");
    for (int k = 0; k < TEX_NCOL; k++) {
        sb_printf(&b, "%s", k ? " & " : "");
        if (tex_cols[k] == C_DELTA) sb_printf(&b, rf->classes ? "$\\Delta$macro AUC" : "$\\Delta$AUC [95\\%% CI]");
        else if (tex_cols[k] == C_PDL) sb_printf(&b, "$p$ (DeLong)");
        else if (tex_cols[k] == C_PT) sb_printf(&b, "$p$ ($t$)");
        else tex_text(&b, names[tex_cols[k]]);
    }
    sb_printf(&b, " \\\\\n\\midrule\n\\multicolumn{%d}{l}{\\emph{Image level}} \\\\\n", TEX_NCOL);
    table_tex_rows(&b, ti, tex_cols, TEX_NCOL);
    sb_printf(&b, "\\midrule\n\\multicolumn{%d}{l}{\\emph{Breast level}} \\\\\n", TEX_NCOL);
    table_tex_rows(&b, tb, tex_cols, TEX_NCOL);
    sb_printf(&b, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
    const char *groups[MAX_GROUPS];
    size_t ng = sweep_groups(rf, groups);
    for (size_t g = 0; g < ng; g++) {
        sb_printf(&b, "\n\\begin{table}[tbp]\n\\centering\n\\small\n\\caption{");
        tex_text(&b, s->title);
        sb_printf(&b, ": unfreezing depth, sweep ");
        tex_text(&b, groups[g]);
        sb_printf(&b, fixed ? " (test rows of the fixed split, image level; 0 trainable stages: the linear probe). $\\Delta$ against "
                            : " (pooled out-of-fold, image level; 0 trainable stages: the linear probe). $\\Delta$ against ");
        tex_text(&b, s->ref);
        sb_printf(&b, ".}\n\\label{tab:");
        for (const char *p = s->title; *p; p++) sb_printf(&b, "%c", (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '-');
        sb_printf(&b, "-depth-");
        for (const char *p = groups[g]; *p; p++) sb_printf(&b, "%c", (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ? *p : '-');
        sb_printf(&b, "}\n\\begin{tabular}{lrrrrr}\n\\toprule\nVariant & Trainable stages & Trainable params & %s & %s & %s \\\\\n"
                      "\\midrule\n",
                  rf->classes ? "Macro AUC" : "AUC [95\\%% CI]", rf->classes ? "$\\Delta$macro AUC" : "$\\Delta$AUC [95\\%% CI]",
                  rf->classes ? "$p$ ($t$)" : "$p$ (DeLong)");
        depth_table(&b, rf, groups[g], 2);
        sb_printf(&b, "\\bottomrule\n\\end{tabular}\n\\end{table}\n");
    }
    int rc = sb_write(&b, rf->dir, "table.tex", err);
    sb_free(&b);
    return rc;
}

static const char *const CSS =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;color:#1a1a1a;max-width:1320px;"
    "margin:1.5em auto;padding:0 1em;line-height:1.45}"
    "h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}"
    ".sub{color:#555;margin-top:0}dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.25em 1em}dl.kv dt{font-weight:600}"
    "dl.kv dd{margin:0}table{border-collapse:collapse;font-size:.8em;margin:.6em 0}caption{text-align:left;font-weight:600;padding:.3em 0}"
    "th,td{padding:.28em .4em;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}"
    "thead th{border-bottom:2px solid #333;vertical-align:bottom;white-space:normal}tbody th{text-align:left}"
    "tr.ref{background:#f3f3f3}.figs{display:flex;flex-wrap:wrap;gap:1em}figure{margin:0;max-width:420px}"
    "figcaption{font-size:.82em;color:#444}svg.plot{background:#fff}svg .frame{fill:none;stroke:#333;stroke-width:1}"
    "svg .grid{stroke:#e5e5e5;stroke-width:1}svg .tk{font-size:10px;fill:#333}svg .al{font-size:11px;fill:#222}"
    "svg .pt{font-size:12px;font-weight:600;fill:#111}svg .lg{font-size:10.5px;fill:#222}"
    "pre{background:#f7f7f7;border:1px solid #ddd;padding:.6em;font-size:.8em;overflow-x:auto}"
    ".card li{margin:.25em 0}.wide{overflow-x:auto}"
    "@media print{body{max-width:none;margin:0}.wide{overflow:visible}figure,table{break-inside:avoid}"
    "h2{break-after:avoid}pre{white-space:pre-wrap}}@page{size:A4 landscape;margin:12mm}";

const char *exp_report_css(void) { return CSS; }

void exp_report_excluded_html(sbuf *b, const io_csv *excluded)
{
    if (!excluded->n_rows) return;
    sb_printf(b, "<details><summary>%zu excluded file(s) and why</summary>\n<table><thead><tr><th>file</th><th>reason</th>"
                 "</tr></thead><tbody>\n", excluded->n_rows);
    for (size_t i = 0; i < excluded->n_rows; i++) {
        sb_printf(b, "<tr><td style=\"text-align:left\">");
        sb_xml(b, io_csv_cell(excluded, i, 0));
        sb_printf(b, "</td><td style=\"text-align:left;white-space:normal\">");
        sb_xml(b, excluded->n_cols > 1 ? io_csv_cell(excluded, i, 1) : "");
        sb_printf(b, "</td></tr>\n");
    }
    sb_printf(b, "</tbody></table></details>\n");
}

static void kv(sbuf *b, const char *k, const char *v)
{
    sb_printf(b, "<dt>");
    sb_xml(b, k);
    sb_printf(b, "</dt><dd>");
    sb_xml(b, v);
    sb_printf(b, "</dd>\n");
}

static int write_html(const run_files *rf, const summary *s, const table *ti, const table *tb, wb_error *err)
{
    sbuf b = {0};
    const char *dn = strrchr(rf->dir, '/');
    dn = dn ? dn + 1 : rf->dir;
    sb_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\" xmlns=\"http://www.w3.org/1999/xhtml\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'%s\"/>\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>",
              /* a patch run's contact sheet and the case gallery are embedded as data: URIs; nothing
               * else is loaded */
              (rf->patch && exp_report_patch_has_sheet(rf->dir)) || exp_report_gallery_has(rf->dir) ? "; img-src data:" : "");
    sb_xml(&b, s->title);
    sb_printf(&b, " - workbench report</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", CSS);
    sb_xml(&b, s->title);
    sb_printf(&b, "</h1>\n<p class=\"sub\">Run <code>");
    sb_xml(&b, dn);
    sb_printf(&b, "</code>");
    if (rf->have_env) {
        sb_printf(&b, " · workbench ");
        sb_xml(&b, jstr(&rf->e, rf->env, "workbench"));
        sb_printf(&b, " (git ");
        sb_xml(&b, jstr(&rf->e, rf->env, "git_revision"));
        sb_printf(&b, ")");
    }
    sb_printf(&b, " · research use only</p>\n");

    sb_printf(&b, "<h2>Data and scheme</h2>\n<dl class=\"kv\">\n");
    kv(&b, "Data", s->data);
    kv(&b, "Backbone", s->backbone);
    kv(&b, s->cv_label, s->cv);
    kv(&b, "Reference", s->ref);
    const io_json_doc *d = &rf->m;
    size_t v = 0;
    for (int32_t vn = rf->variants->first; vn >= 0; vn = d->nodes[vn].next, v++) {
        char line[600], k[96];
        variant_line(rf, v, line, sizeof line);
        snprintf(k, sizeof k, "Variant %s", jstr(d, &d->nodes[vn], EXP_RD_K_NAME));
        kv(&b, k, line);
    }
    sb_printf(&b, "</dl>\n");
    if (rf->have_excluded) exp_report_excluded_html(&b, &rf->excluded);

    sb_printf(&b, "<h2>Comparison</h2>\n<div class=\"wide\">\n");
    char cap[512];
    if (rf->classes)
        snprintf(cap, sizeof cap, "Image level (reference: %s). Macro AUC = mean of the one-vs-rest AUCs; accuracy, "
                                  "balanced accuracy and macro F1 of the most probable class.", s->ref);
    else
        snprintf(cap, sizeof cap, "%s level (reference: %s). Sensitivity, specificity and F1 at each fold's "
                                  "validation-chosen threshold.", rf->patch ? "Patch" : "Image", s->ref);
    table_html(&b, rf, ti, cap);
    table_html(&b, rf, tb, rf->patch ? "Breast level (the patches of one breast aggregated)."
                                     : "Breast level (the views of one breast aggregated).");
    if (rf->classes) {
        per_class_table(&b, rf, EXP_RD_LEVEL_IMAGE, 1, "One-vs-rest AUC of each class, image level.");
        per_class_table(&b, rf, EXP_RD_LEVEL_BREAST, 1, "One-vs-rest AUC of each class, breast level.");
    }
    sb_printf(&b, "</div>\n");
    const char *groups[MAX_GROUPS];
    size_t ng = sweep_groups(rf, groups);
    if (ng) {
        sb_printf(&b, "<h2>Unfreezing depth</h2>\n<div class=\"wide\">\n");
        for (size_t g = 0; g < ng; g++) depth_table(&b, rf, groups[g], 0);
        sb_printf(&b, "</div>\n<div class=\"figs\">\n");
        for (size_t g = 0; g < ng; g++) plot_depth(&b, rf, groups[g]);
        sb_printf(&b, "</div>\n");
    }
    series *se = NULL;
    size_t nv = 0;
    int rc = -1;
    if (rf->patch && exp_report_patch_html(&b, &rf->m, rf->dir, err) != 0) goto out;
    if (exp_report_gallery_has(rf->dir) && exp_report_gallery_html(&b, rf->dir, err) != 0) goto out;
    sb_printf(&b, "<h2>Curves</h2>\n<div class=\"figs\">\n");
    if (rf->classes) {
        /* multi-class: the variants' names only (for the per-fold and learning-curve plots) */
        nv = rf->variants->count;
        if (!(se = calloc(nv ? nv : 1, sizeof *se))) {
            wb_err(err, WB_E_NOMEM, rf->dir, "out of memory");
            goto out;
        }
        size_t k = 0;
        for (int32_t vv = rf->variants->first; vv >= 0; vv = d->nodes[vv].next, k++) se[k].name = jstr(d, &d->nodes[vv], EXP_RD_K_NAME);
        sb_printf(&b, "<p class=\"sub\">ROC, precision-recall and reliability plots are drawn for binary labels only; "
                      "the one-vs-rest AUC of each class is in the tables above.</p>\n");
    } else {
        if (load_series(rf, &se, &nv, err) != 0) goto out;
        plot_roc_pr(&b, rf, se, nv, 0);
        plot_roc_pr(&b, rf, se, nv, 1);
        plot_reliability(&b, se, nv);
    }
    if (plot_strip(&b, rf, se, nv, err) != 0) goto out;
    sb_printf(&b, "</div>\n<h2>Learning curves</h2>\n<div class=\"figs\">\n");
    if (!rf->have_curves || rf->curves.n_rows == 0)
        sb_printf(&b, "<p class=\"sub\">No variant was trained by epochs: a frozen backbone's linear probe is fitted to "
                      "convergence (its validation log loss over the C grid is in probe.csv).</p>\n");
    if (plot_learning(&b, rf, se, nv, err) != 0) goto out;
    sb_printf(&b, "</div>\n");

    sb_printf(&b, "<h2>Model card</h2>\n<ul class=\"card\">\n<li><strong>Intended use:</strong> research only: comparing "
                  "transfer-learning strategies on retrospective data. Not a medical device; not for screening, diagnosis "
                  "or any decision about a patient.</li>\n<li><strong>Data:</strong> ");
    sb_xml(&b, s->data);
    sb_printf(&b, ". Images from <code>");
    sb_xml(&b, cfg(rf, "data.dicom_dir"));
    sb_printf(&b, "</code>.</li>\n<li><strong>Evaluation:</strong> ");
    sb_xml(&b, s->cv);
    if (rf->classes) {
        sb_printf(&b, ". Macro AUC = mean of the one-vs-rest AUCs; differences against ");
        sb_xml(&b, s->ref);
        sb_printf(&b, " by the corrected resampled t-test on the fold macro AUCs (DeLong's test is for binary labels).");
    } else {
        sb_printf(&b, ". AUC confidence intervals by DeLong; differences against ");
        sb_xml(&b, s->ref);
        sb_printf(&b, " by the paired DeLong test and the corrected resampled t-test.");
    }
    sb_printf(&b, "</li>\n<li><strong>Limitations:</strong> ");
    sb_xml(&b, s->limits);
    sb_printf(&b, "; %s were chosen on small validation splits", rf->classes ? "the epochs kept" : "thresholds");
    if (s->pos < 100)
        sb_printf(&b, rf->classes ? "; with %.0f images in the smallest class the estimates are uncertain"
                                  : "; with %.0f positive images the confidence intervals are wide",
                  s->pos);
    sb_printf(&b, "; p-values are not corrected for comparing several variants.</li>\n</ul>\n");

    sb_printf(&b, "<h2>Resolved config</h2>\n<pre>");
    sb_printf(&b, "%s", ""); /* keep the order of the file, escaped */
    {
        char *t = malloc(rf->cfg_n + 1);
        if (t) {
            memcpy(t, rf->cfg_text, rf->cfg_n);
            t[rf->cfg_n] = '\0';
            sb_xml(&b, t);
            free(t);
        } else {
            b.oom = 1;
        }
    }
    sb_printf(&b, "</pre>\n<h2>Environment</h2>\n<dl class=\"kv\">\n");
    if (rf->have_env)
        for (int32_t c = rf->env->first; c >= 0; c = rf->e.nodes[c].next) {
            const io_json_node *n = &rf->e.nodes[c];
            char val[512];
            if (n->type == IO_JSON_STRING) snprintf(val, sizeof val, "%s", n->str);
            else if (n->type == IO_JSON_NUMBER) snprintf(val, sizeof val, "%.17g", n->num);
            else snprintf(val, sizeof val, "(%s)", n->type == IO_JSON_NULL ? "null" : "structured");
            kv(&b, n->key, val);
        }
    sb_printf(&b, "</dl>\n<p class=\"sub\">Made by <code>workbench report</code> from the run directory's files; every "
                  "number in the tables is metrics.json's.</p>\n</body>\n</html>\n");
    rc = sb_write(&b, rf->dir, "report.html", err);
out:
    if (se && se != rf->se) series_free(se, nv); /* the multi-class names; rf owns the series */
    sb_free(&b);
    return rc;
}

static int wants_fmt(const exp_flat *cfg, const char *fmt)
{
    const char *f = exp_flat_get(cfg, "report.formats");
    if (!f) return 1;
    size_t n = strlen(fmt);
    for (const char *p = f; (p = strstr(p, fmt)); p += n)
        if ((p == f || p[-1] == '[' || p[-1] == ' ' || p[-1] == ',') && (p[n] == ']' || p[n] == ',' || p[n] == '\0'))
            return 1;
    return 0;
}

static int wants(const run_files *rf, const char *fmt) { return wants_fmt(&rf->cfg, fmt); }

/* The report files and the formats that ask for them, in the order they are announced. */
static const char *const report_files[][2] = {{"html", "report.html"}, {"md", "report.md"}, {"tex", "table.tex"}};

int exp_report_names(const char *run_dir, char *buf, size_t n, wb_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" EXP_RD_CONFIG, run_dir);
    exp_flat cfg;
    if (n) buf[0] = '\0';
    if (exp_flat_read(path, &cfg, err) != 0) return -1;
    for (size_t i = 0; i < sizeof report_files / sizeof report_files[0]; i++) {
        size_t l = strlen(buf);
        if (wants_fmt(&cfg, report_files[i][0]) && l < n)
            snprintf(buf + l, n - l, "%s%s", l ? ", " : "", report_files[i][1]);
    }
    exp_flat_free(&cfg);
    return 0;
}

int exp_report_write(const char *run_dir_in, wb_error *err)
{
    /* "runs/x/" and "runs/x" are the same run and give the same files */
    char run_dir[4096];
    snprintf(run_dir, sizeof run_dir, "%s", run_dir_in);
    for (size_t k = strlen(run_dir); k > 1 && run_dir[k - 1] == '/'; k--) run_dir[k - 1] = '\0';
    run_files rf;
    table ti = {0}, tb = {0};
    int rc = -1;
    if (run_files_load(run_dir, &rf, err) != 0) goto out;
    if (table_build(&rf, EXP_RD_LEVEL_IMAGE, &ti) != 0 || table_build(&rf, EXP_RD_LEVEL_BREAST, &tb) != 0) {
        wb_err(err, WB_E_NOMEM, run_dir, "out of memory");
        goto out;
    }
    summary s;
    summarize(&rf, &s);
    if (wants(&rf, "md") && write_md(&rf, &s, &ti, &tb, err) != 0) goto out;
    if (wants(&rf, "tex") && write_tex(&rf, &s, &ti, &tb, err) != 0) goto out;
    if (wants(&rf, "html") && write_html(&rf, &s, &ti, &tb, err) != 0) goto out;
    rc = 0;
out:
    table_free(&ti);
    table_free(&tb);
    run_files_free(&rf);
    return rc;
}
