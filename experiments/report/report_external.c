/* report_external.c — the report of an external validation (`workbench predict`). See
 * report.h (exp_report_external_write) and docs/predict.md. Every number in the tables is the
 * predict's metrics.json's; the curves are drawn from its predictions.csv, as a run's report
 * draws them from the run's. Nothing here depends on the time or the machine. */
#include "experiments/report/report.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/eval/metrics.h"
#include "experiments/report/rundir.h"
#include "experiments/report/svg.h"
#include "experiments/report/rundir.h"
#include "io/io_csv.h"
#include "io/io_fs.h"
#include "io/io_json.h"
#include "io/io_sbuf.h"

/* The labels and one score column of predictions.csv, in its order. */
typedef struct ext_series {
    int *y;
    double *s;
    size_t n, cap;
} ext_series;

typedef struct ext_files {
    const char *dir;
    io_json_doc m;
    const io_json_node *root, *metrics, *ref, *ref_metrics, *vs;
    io_csv excluded;
    /* predictions.csv is read once, a row at a time (ext_scan), never held: its row count, the
     * positive decisions, and for a labeled cohort's plots the score series (score, and
     * reference_score when there is a reference) or the error that series_load reports */
    size_t pred_rows, pred_decided;
    ext_series ser[2];
    wb_error ser_err[2];
    int ser_bad[2];
    int have_excluded;
    int labeled;
    char title[1200];
    const char *source_run, *variant, *arch, *cohort, *bundle, *ref_name;
    double folds, n_images, n_excluded;
    int patch;               /* a patch bundle's: the unit is the patch (metrics.json's unit) */
    double n_patches, n_lesion, n_background;
} ext_files;

static const char *jstr(const io_json_doc *d, const io_json_node *o, const char *key)
{
    const io_json_node *n = o ? io_json_get(d, o, key) : NULL;
    return n && n->type == IO_JSON_STRING ? n->str : "";
}

static double jnum(const io_json_doc *d, const io_json_node *o, const char *key)
{
    const io_json_node *n = o ? io_json_get(d, o, key) : NULL;
    return n && n->type == IO_JSON_NUMBER ? n->num : NAN;
}

static void ext_free(ext_files *e)
{
    io_json_free(&e->m);
    for (int k = 0; k < 2; k++) {
        free(e->ser[k].y);
        free(e->ser[k].s);
    }
    if (e->have_excluded) io_csv_free(&e->excluded);
}

static int ser_push(ext_series *s, int y, double v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 256;
        int *py = realloc(s->y, cap * sizeof *py);
        if (py) s->y = py;
        double *ps = realloc(s->s, cap * sizeof *ps);
        if (ps) s->s = ps;
        if (!py || !ps) return -1;
        s->cap = cap;
    }
    s->y[s->n] = y;
    s->s[s->n++] = v;
    return 0;
}

/* Reads predictions.csv (path) once, a row at a time (io_csv_stream: io_csv_read's errors, at
 * once): the rows, the positive decisions, and when the cohort has metrics the series of the
 * plots (score; reference_score with a reference), each with the first error series_load finds
 * (a missing column, a row that is not a 0/1 label and a number, named by its row number + 1
 * as before), reported when report.html draws them. Memory: a chunk of the file, one row, and
 * 12 bytes per prediction and series. */
static int ext_scan(ext_files *e, const char *path, wb_error *err)
{
    io_csv_stream st;
    if (io_csv_stream_open(path, &st, err) != 0) return -1;
    wb_error ignore;
    const long cd = io_csv_column(&st.head, "decision", &ignore);
    const size_t ns = !e->metrics ? 0 : e->ref_metrics ? 2 : 1;
    static const char *const column[2] = {"score", "reference_score"};
    long cl[2] = {-1, -1}, cs[2] = {-1, -1};
    for (size_t k = 0; k < ns; k++) {
        cl[k] = io_csv_column(&st.head, EXP_RD_COL_LABEL, &e->ser_err[k]);
        cs[k] = cl[k] < 0 ? -1 : io_csv_column(&st.head, column[k], &e->ser_err[k]);
        e->ser_bad[k] = cs[k] < 0;
    }
    int r;
    while ((r = io_csv_stream_next(&st, err)) == 1) {
        if (cd >= 0) e->pred_decided += !strcmp(io_csv_stream_cell(&st, cd), "1");
        for (size_t k = 0; k < ns; k++) {
            if (e->ser_bad[k]) continue;
            const char *l = io_csv_stream_cell(&st, cl[k]), *sc = io_csv_stream_cell(&st, cs[k]);
            char *end;
            double v = strtod(sc, &end);
            if (!sc[0] || *end || !isfinite(v) || (strcmp(l, "0") && strcmp(l, "1"))) {
                wb_err_at(&e->ser_err[k], WB_E_DATA, st.head.path, (int)(st.n_rows - 1) + 2, 0, NULL,
                          "label '%s', %s '%s': expected 0 or 1 and a number", l, column[k], sc);
                e->ser_bad[k] = 1;
            } else if (ser_push(&e->ser[k], l[0] == '1', v) != 0) {
                io_csv_stream_close(&st);
                return wb_err(err, WB_E_NOMEM, e->dir, "out of memory");
            }
        }
    }
    e->pred_rows = st.n_rows;
    io_csv_stream_close(&st);
    return r < 0 ? -1 : 0;
}

static int ext_load(const char *dir, ext_files *e, wb_error *err)
{
    memset(e, 0, sizeof *e);
    e->dir = dir;
    char path[4200];
    snprintf(path, sizeof path, "%s/" EXP_RD_METRICS_JSON, dir);
    if (io_json_load(path, EXP_RD_JSON_MAX, &e->m, err) != 0) return -1;
    const io_json_doc *d = &e->m;
    e->root = &d->nodes[0];
    const io_json_node *lab = e->root->type == IO_JSON_OBJECT ? io_json_get(d, e->root, "labeled") : NULL;
    e->metrics = e->root->type == IO_JSON_OBJECT ? io_json_get(d, e->root, "metrics") : NULL;
    if (e->root->type != IO_JSON_OBJECT || strcmp(jstr(d, e->root, "kind"), "external_validation") || !lab ||
        (lab->type != IO_JSON_TRUE && lab->type != IO_JSON_FALSE) || !e->metrics ||
        (e->metrics->type != IO_JSON_OBJECT && e->metrics->type != IO_JSON_NULL))
        return wb_err(err, WB_E_DATA, path, "not an external validation's metrics.json (kind external_validation, "
                      "labeled, metrics)");
    e->labeled = lab->type == IO_JSON_TRUE;
    if (e->metrics->type != IO_JSON_OBJECT) e->metrics = NULL;
    e->ref = io_json_get(d, e->root, "reference");
    if (e->ref && e->ref->type != IO_JSON_OBJECT) e->ref = NULL;
    e->ref_metrics = e->ref ? io_json_get(d, e->ref, "metrics") : NULL;
    if (e->ref_metrics && e->ref_metrics->type != IO_JSON_OBJECT) e->ref_metrics = NULL;
    e->vs = io_json_get(d, e->root, EXP_RD_K_VS_REFERENCE);
    if (e->vs && e->vs->type != IO_JSON_OBJECT) e->vs = NULL;
    e->source_run = jstr(d, e->root, "source_run");
    e->variant = jstr(d, e->root, "variant");
    e->arch = jstr(d, e->root, "arch");
    e->cohort = jstr(d, e->root, "cohort");
    e->bundle = jstr(d, e->root, "bundle");
    e->ref_name = e->ref ? jstr(d, e->ref, "variant") : "";
    e->folds = jnum(d, e->root, "folds");
    e->n_images = jnum(d, e->root, "n_images");
    e->n_excluded = jnum(d, e->root, "n_excluded");
    e->patch = !strcmp(jstr(d, e->root, "unit"), "patch");
    e->n_patches = jnum(d, e->root, "n_patches");
    e->n_lesion = jnum(d, e->root, "lesion_patches");
    e->n_background = jnum(d, e->root, "background_patches");
    snprintf(e->title, sizeof e->title, "External validation of %s on %s", e->source_run, e->cohort);
    snprintf(path, sizeof path, "%s/predictions.csv", dir);
    if (ext_scan(e, path, err) != 0) return -1;
    snprintf(path, sizeof path, "%s/excluded.csv", dir);
    FILE *f = fopen(path, "rb");
    if (f) {
        fclose(f);
        if (io_csv_read(path, &e->excluded, err) != 0) return -1;
        e->have_excluded = 1;
    }
    return 0;
}

/* ---- the table: one row per model (the network ensemble, the reference) ---- */

enum { E_MODEL, E_AUC, E_DELTA, E_PDL, E_AP, E_SENS, E_SPEC, E_SAS, E_F1, E_BRIER, E_ECE, E_THR, E_N, E_NCOL };
enum { ECELL = 96 };
static const char *const ECOLS[E_NCOL] = {"model", "AUC [95% CI]", "ΔAUC [95% CI]", "p (DeLong)", "AP", "sensitivity",
                                          "specificity", "sens. at spec.", "F1", "Brier", "ECE", "threshold", "n (positive)"};

static void ci_cell(char *out, double v, double lo, double hi, exp_fmt_kind k)
{
    char a[24], b[24], c[24];
    exp_report_fmt(a, sizeof a, v, k);
    exp_report_fmt(b, sizeof b, lo, k);
    exp_report_fmt(c, sizeof c, hi, k);
    if (!isfinite(v)) snprintf(out, ECELL, "n/a");
    else snprintf(out, ECELL, "%s [%s, %s]", a, b, c);
}

static void row_fill(const ext_files *e, const io_json_node *m, const io_json_node *vs, const char *name,
                     char row[E_NCOL][ECELL])
{
    const io_json_doc *d = &e->m;
    snprintf(row[E_MODEL], ECELL, "%s", name);
    ci_cell(row[E_AUC], jnum(d, m, EXP_RD_M_AUC), jnum(d, m, EXP_RD_M_AUC_CI_LOW), jnum(d, m, EXP_RD_M_AUC_CI_HIGH), EXP_FMT_METRIC);
    if (vs) {
        ci_cell(row[E_DELTA], jnum(d, vs, EXP_RD_K_DELTA_AUC), jnum(d, vs, EXP_RD_K_DELTA_CI_LOW), jnum(d, vs, EXP_RD_K_DELTA_CI_HIGH),
                EXP_FMT_DELTA);
        exp_report_fmt(row[E_PDL], ECELL, jnum(d, vs, EXP_RD_K_DELONG_P), EXP_FMT_P);
    } else {
        snprintf(row[E_DELTA], ECELL, "%s", e->ref ? "(reference)" : "");
        snprintf(row[E_PDL], ECELL, "%s", "");
    }
    static const struct {
        int col;
        const char *key;
        exp_fmt_kind k;
    } plain[] = {{E_AP, EXP_RD_M_AP, EXP_FMT_METRIC}, {E_SENS, EXP_RD_M_SENSITIVITY, EXP_FMT_METRIC},
                 {E_SPEC, EXP_RD_M_SPECIFICITY, EXP_FMT_METRIC},     {E_SAS, EXP_RD_M_SENS_AT_SPEC, EXP_FMT_METRIC},
                 {E_F1, EXP_RD_M_F1, EXP_FMT_METRIC},                {E_BRIER, EXP_RD_M_BRIER, EXP_FMT_METRIC},
                 {E_ECE, EXP_RD_M_ECE, EXP_FMT_METRIC},              {E_THR, EXP_RD_M_THRESHOLD, EXP_FMT_METRIC}};
    for (size_t k = 0; k < sizeof plain / sizeof plain[0]; k++)
        exp_report_fmt(row[plain[k].col], ECELL, jnum(d, m, plain[k].key), plain[k].k);
    char a[24], b[24];
    exp_report_fmt(a, sizeof a, jnum(d, m, EXP_RD_M_N), EXP_FMT_COUNT);
    exp_report_fmt(b, sizeof b, jnum(d, m, EXP_RD_M_N_POSITIVE), EXP_FMT_COUNT);
    snprintf(row[E_N], ECELL, "%s (%s)", a, b);
}

/* rows[0]: the network ensemble; rows[1]: the reference (when there is one). Returns the count. */
static size_t table_rows(const ext_files *e, char rows[2][E_NCOL][ECELL])
{
    char name[300];
    snprintf(name, sizeof name, "%s (%s, mean of %.0f folds)", e->variant, e->arch, e->folds);
    row_fill(e, e->metrics, e->vs, name, rows[0]);
    if (!e->ref_metrics) return 1;
    snprintf(name, sizeof name, "%s (radiomics baseline, mean of %.0f folds)", e->ref_name, e->folds);
    row_fill(e, e->ref_metrics, NULL, name, rows[1]);
    return 2;
}

static const char *table_caption(const ext_files *e, char *buf, size_t n)
{
    snprintf(buf, n, "%s level, the external cohort (%s). Sensitivity, specificity and F1 at the source run's "
                     "thresholds (the mean of its folds' validation-chosen thresholds), not re-tuned on this cohort%s.",
             "Image", e->cohort, e->ref_metrics ? "; ΔAUC and p: the paired DeLong test of the network ensemble against the "
                                         "reference on these images" : "");
    if (e->patch) memcpy(buf, "Patch", 5); /* "Image" and "Patch": the same length */
    return buf;
}

/* ---- the score series of predictions.csv (label, score column) ---- */

static void figure(sbuf *b, const char *id, int open, const char *caption)
{
    if (open) {
        sb_printf(b, "<figure class=\"fig\" id=\"%s\">", id);
        return;
    }
    sb_printf(b, "<figcaption>");
    sb_xml(b, caption);
    sb_printf(b, "</figcaption></figure>\n");
}

static void plot_roc(sbuf *b, const ext_series *s, const char *const *names, size_t ns, int patch)
{
    svg_plot p = {.w = 400, .h = 340, .x0 = 0, .x1 = 1, .y0 = 0, .y1 = 1, .title = "ROC", .xlabel = "1 - specificity",
                  .ylabel = "sensitivity"};
    figure(b, "roc", 1, NULL);
    svg_begin(b, &p);
    double d[2] = {0, 1};
    svg_line(b, &p, d, d, 2, "#999999", 1, "4 3");
    const char *colors[2];
    for (size_t k = 0; k < ns; k++) {
        exp_curve c;
        exp_curve_init(&c);
        wb_error e2;
        if (exp_metrics_roc_curve(s[k].y, s[k].s, NULL, s[k].n, 0, &c, &e2) == 0)
            svg_line(b, &p, c.x, c.y, c.npoints, svg_color(k), 2, NULL);
        exp_curve_free(&c);
        colors[k] = svg_color(k);
    }
    svg_legend(b, &p, names, colors, ns, SVG_BOTTOM_RIGHT);
    svg_end(b);
    figure(b, NULL, 0, patch ? "ROC curves on the external cohort (patch level); dashed: chance." : "ROC curves on the external cohort (image level); dashed: chance.");
}

static void plot_reliability(sbuf *b, const ext_series *s, const char *const *names, size_t ns)
{
    figure(b, "reliability", 1, NULL);
    svg_plot p = exp_reliability_begin(b);
    const char *colors[2];
    for (size_t v = 0; v < ns; v++) {
        exp_reliability r = {0};
        for (size_t i = 0; i < s[v].n; i++) exp_reliability_add(&r, s[v].s[i], s[v].y[i]);
        exp_reliability_draw(b, &p, &r, names[v], svg_color(v));
        colors[v] = svg_color(v);
    }
    svg_legend(b, &p, names, colors, ns, SVG_TOP_LEFT);
    svg_end(b);
    figure(b, NULL, 0, "Reliability diagram on the external cohort: images in 10 equal-width bins of the predicted "
                       "probability; dashed: perfect calibration.");
}

/* ---- shared text ---- */

static void model_line(const ext_files *e, char *out, size_t n)
{
    snprintf(out, n, "variant %s (%s) of run %s: the mean of the probabilities of its %.0f fold networks (repeat 1), "
                     "decision at the mean of their thresholds; bundle %s", e->variant, e->arch, e->source_run, e->folds,
             e->bundle);
}

static void ref_line(const ext_files *e, char *out, size_t n)
{
    if (e->ref) snprintf(out, n, "%s: the run's radiomics baseline (metrics.reference), its %.0f fitted fold models "
                                 "applied the same way (mean of their probabilities, mean of their thresholds)",
                         e->ref_name, e->folds);
    else snprintf(out, n, "none in the bundle (the run's reference is not a radiomics baseline, or the run did not "
                          "keep its fitted baselines)");
}

static void cohort_line(const ext_files *e, char *out, size_t n)
{
    char a[24], b[24];
    exp_report_fmt(a, sizeof a, e->n_images, EXP_FMT_COUNT);
    exp_report_fmt(b, sizeof b, e->n_excluded, EXP_FMT_COUNT);
    if (e->labeled && e->metrics) {
        char p[24];
        exp_report_fmt(p, sizeof p, jnum(&e->m, e->metrics, EXP_RD_M_N_POSITIVE), EXP_FMT_COUNT);
        if (e->patch) {
            char q[24], l[24], g[24];
            exp_report_fmt(q, sizeof q, e->n_patches, EXP_FMT_COUNT);
            exp_report_fmt(l, sizeof l, e->n_lesion, EXP_FMT_COUNT);
            exp_report_fmt(g, sizeof g, e->n_background, EXP_FMT_COUNT);
            snprintf(out, n, "%s: %s patches (%s positive; %s lesion patches around the labels' boxes, %s background "
                             "patches from negative images without a box, cut as the source run cut its own) from %s "
                             "images, %s excluded", e->cohort, q, p, l, g, a, b);
        } else {
            snprintf(out, n, "%s: %s images (%s positive), %s excluded", e->cohort, a, p, b);
        }
    } else {
        snprintf(out, n, "%s: %s images, unlabeled, %s excluded", e->cohort, a, b);
    }
}

static void card_eval(const ext_files *e, char *out, size_t n)
{
    snprintf(out, n, "this IS an external test set: images of another cohort, used neither for training nor for "
                     "choosing thresholds, epochs or variants; the source run's fold networks%s are applied unchanged. "
                     "%s",
             e->ref ? " and fitted baselines" : "",
             e->labeled ? "AUC confidence intervals by DeLong; the network ensemble against the reference by the paired "
                          "DeLong test on these images."
                        : "The cohort has no labels: no metric could be computed.");
}

static void card_limits(const ext_files *e, char *out, size_t n)
{
    double pos = e->metrics ? jnum(&e->m, e->metrics, EXP_RD_M_N_POSITIVE) : NAN;
    char extra[160] = "";
    if (isfinite(pos) && pos < 100) snprintf(extra, sizeof extra, e->patch ? "; with %.0f positive patches the confidence "
                                                                 "intervals are wide, and patches of one image are not "
                                                                 "independent" : "; with %.0f positive images the confidence intervals "
                                                                 "are wide", pos);
    snprintf(out, n, "one external cohort; the thresholds were chosen on the source run's small validation splits and "
                     "are not re-tuned here, so sensitivity and specificity move with this cohort's score distribution%s; "
                     "images the preprocessing could not use are left out (excluded.csv).", extra);
}

/* ---- Markdown ---- */

static void md_cell(sbuf *b, const char *s)
{
    sb_printf(b, " ");
    for (; *s; s++) sb_printf(b, *s == '|' ? "\\|" : "%c", *s);
    sb_printf(b, " |");
}

static int write_md(const ext_files *e, wb_error *err)
{
    sbuf b = {0};
    char line[1600];
    sb_printf(&b, "# %s\n\n%s · research use only\n\n## Model and cohort\n\n", e->title, jstr(&e->m, e->root, "title"));
    model_line(e, line, sizeof line);
    sb_printf(&b, "- **Model:** %s\n", line);
    ref_line(e, line, sizeof line);
    sb_printf(&b, "- **Reference:** %s\n", line);
    cohort_line(e, line, sizeof line);
    sb_printf(&b, "- **Cohort:** %s\n\n## Results\n\n", line);
    if (e->metrics) {
        char rows[2][E_NCOL][ECELL];
        size_t nr = table_rows(e, rows);
        sb_printf(&b, "%s\n\n|", table_caption(e, line, sizeof line));
        for (int k = 0; k < E_NCOL; k++) md_cell(&b, ECOLS[k]);
        sb_printf(&b, "\n|");
        for (int k = 0; k < E_NCOL; k++) sb_printf(&b, k == E_MODEL ? "---|" : "--:|");
        sb_printf(&b, "\n");
        for (size_t r = 0; r < nr; r++) {
            sb_printf(&b, "|");
            for (int k = 0; k < E_NCOL; k++) md_cell(&b, rows[r][k]);
            sb_printf(&b, "\n");
        }
    } else {
        sb_printf(&b, "No metrics: the cohort has no labels. The network ensemble decided %zu of %zu images positive "
                      "(predictions.csv).\n", e->pred_decided, e->pred_rows);
    }
    sb_printf(&b, "\n## Model card\n\n- **Intended use:** research only: measuring how a model trained on one cohort "
                  "transfers to another. Not a medical device; not for screening, diagnosis or any decision about a "
                  "patient.\n");
    card_eval(e, line, sizeof line);
    sb_printf(&b, "- **Evaluation:** %s\n", line);
    card_limits(e, line, sizeof line);
    sb_printf(&b, "- **Limitations:** %s\n", line);
    if (e->have_excluded && e->excluded.n_rows) {
        sb_printf(&b, "\n## Excluded images\n\n| file | reason |\n|---|---|\n");
        for (size_t i = 0; i < e->excluded.n_rows; i++) {
            sb_printf(&b, "|");
            md_cell(&b, io_csv_cell(&e->excluded, i, 0));
            md_cell(&b, e->excluded.n_cols > 1 ? io_csv_cell(&e->excluded, i, 1) : "");
            sb_printf(&b, "\n");
        }
    }
    sb_printf(&b, "\nMade by `workbench predict` from metrics.json and predictions.csv; every number in the table is "
                  "metrics.json's.\n");
    int rc = sb_write(&b, e->dir, "report.md", err);
    sb_free(&b);
    return rc;
}

/* ---- HTML ---- */

static void kv(sbuf *b, const char *k, const char *v)
{
    sb_printf(b, "<dt>");
    sb_xml(b, k);
    sb_printf(b, "</dt><dd>");
    sb_xml(b, v);
    sb_printf(b, "</dd>\n");
}

static int write_html(const ext_files *e, wb_error *err)
{
    sbuf b = {0};
    char line[1600];
    int rc = -1;
    const ext_series *s = e->ser; /* e's, read by ext_scan */
    sb_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\" xmlns=\"http://www.w3.org/1999/xhtml\">\n<head>\n<meta charset=\"utf-8\"/>\n"
                  "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\"/>\n"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\n<title>");
    sb_xml(&b, e->title);
    sb_printf(&b, " - workbench report</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", exp_report_css());
    sb_xml(&b, e->title);
    sb_printf(&b, "</h1>\n<p class=\"sub\">");
    sb_xml(&b, jstr(&e->m, e->root, "title"));
    sb_printf(&b, " · research use only</p>\n<h2>Model and cohort</h2>\n<dl class=\"kv\">\n");
    model_line(e, line, sizeof line);
    kv(&b, "Model", line);
    ref_line(e, line, sizeof line);
    kv(&b, "Reference", line);
    cohort_line(e, line, sizeof line);
    kv(&b, "Cohort", line);
    sb_printf(&b, "</dl>\n");
    if (e->have_excluded) exp_report_excluded_html(&b, &e->excluded);
    sb_printf(&b, "<h2>Results</h2>\n");
    if (e->metrics) {
        char rows[2][E_NCOL][ECELL];
        size_t nr = table_rows(e, rows);
        sb_printf(&b, "<div class=\"wide\">\n<table class=\"cmp\"><caption>");
        sb_xml(&b, table_caption(e, line, sizeof line));
        sb_printf(&b, "</caption>\n<thead><tr>");
        for (int k = 0; k < E_NCOL; k++) {
            sb_printf(&b, "<th scope=\"col\">");
            sb_xml(&b, ECOLS[k]);
            sb_printf(&b, "</th>");
        }
        sb_printf(&b, "</tr></thead>\n<tbody>\n");
        for (size_t r = 0; r < nr; r++) {
            sb_printf(&b, "<tr%s>", r == 1 ? " class=\"ref\"" : "");
            for (int k = 0; k < E_NCOL; k++) {
                sb_printf(&b, k == E_MODEL ? "<th scope=\"row\">" : "<td>");
                sb_xml(&b, rows[r][k]);
                sb_printf(&b, k == E_MODEL ? "</th>" : "</td>");
            }
            sb_printf(&b, "</tr>\n");
        }
        sb_printf(&b, "</tbody></table>\n</div>\n<h2>Curves</h2>\n<div class=\"figs\">\n");
        const char *names[2] = {e->variant, e->ref_name};
        size_t ns = e->ref_metrics ? 2 : 1;
        for (size_t k = 0; k < ns; k++)
            if (e->ser_bad[k]) {
                *err = e->ser_err[k];
                goto out;
            }
        plot_roc(&b, s, names, ns, e->patch);
        plot_reliability(&b, s, names, ns);
        sb_printf(&b, "</div>\n");
    } else {
        sb_printf(&b, "<p class=\"sub\">No metrics: the cohort has no labels. The network ensemble decided %zu of %zu "
                      "images positive (predictions.csv).</p>\n", e->pred_decided, e->pred_rows);
    }
    sb_printf(&b, "<h2>Model card</h2>\n<ul class=\"card\">\n<li><strong>Intended use:</strong> research only: measuring "
                  "how a model trained on one cohort transfers to another. Not a medical device; not for screening, "
                  "diagnosis or any decision about a patient.</li>\n<li><strong>Evaluation:</strong> ");
    card_eval(e, line, sizeof line);
    sb_xml(&b, line);
    sb_printf(&b, "</li>\n<li><strong>Limitations:</strong> ");
    card_limits(e, line, sizeof line);
    sb_xml(&b, line);
    sb_printf(&b, "</li>\n</ul>\n<p class=\"sub\">Made by <code>workbench predict</code> from metrics.json and "
                  "predictions.csv; every number in the table is metrics.json's.</p>\n</body>\n</html>\n");
    rc = sb_write(&b, e->dir, "report.html", err);
out:
    sb_free(&b);
    return rc;
}

int exp_report_external_write(const char *dir, wb_error *err)
{
    ext_files e;
    int rc = ext_load(dir, &e, err) != 0 || write_md(&e, err) != 0 || write_html(&e, err) != 0 ? -1 : 0;
    ext_free(&e);
    return rc;
}

int exp_report_is_external(const char *dir, wb_error *err)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/" EXP_RD_METRICS_JSON, dir);
    io_json_doc d;
    if (io_json_load(path, EXP_RD_JSON_MAX, &d, err) != 0) return -1;
    int ext = d.nodes[0].type == IO_JSON_OBJECT && !strcmp(jstr(&d, &d.nodes[0], "kind"), "external_validation");
    io_json_free(&d);
    return ext;
}
