/* report.h — `workbench report RUN_DIR`: readable reports of a finished run.
 *
 *     if (exp_report_write("runs/demo-20261127T101500Z-3a75fcf6", &err) != 0) ...;
 *
 * Reads only the run directory's own files (metrics.json, predictions.csv, metrics.csv,
 * curves.csv, timing.csv, excluded.csv, environment.json, config.yaml) and writes, as the
 * config's report.formats ask: report.html (one self-contained page: inline SVG and CSS, no
 * scripts, nothing fetched), report.md (the same tables in Markdown) and table.tex (a
 * booktabs table of the comparison). Every number in them is metrics.json's, formatted by
 * exp_report_fmt; the same run directory always gives the same files. docs/reports.md
 * describes them.
 */
#ifndef EXP_REPORT_H
#define EXP_REPORT_H

#include <stddef.h>

#include "base/wb_error.h"
#include "experiments/report/svg.h"
#include "io/io_csv.h"
#include "io/io_sbuf.h"

typedef enum {
    EXP_FMT_METRIC,  /* 0.712 */
    EXP_FMT_DELTA,   /* +0.012 / -0.034 */
    EXP_FMT_P,       /* 0.042, <0.001 */
    EXP_FMT_COUNT,   /* 203650 */
    EXP_FMT_SECONDS  /* 12.3 s, 4 min 05 s, 1 h 02 min */
} exp_fmt_kind;

/* How the reports print a number; "n/a" when it is not finite. */
void exp_report_fmt(char *buf, size_t n, double v, exp_fmt_kind kind);

/* Writes the reports into run_dir. Errors: WB_E_IO / WB_E_DATA naming the run file that is
 * missing or malformed, WB_E_WRITE. */
int exp_report_write(const char *run_dir, wb_error *err);

/* Checks a run's predictions.csv a row at a time, as it is streamed (io_csv_stream): repeat and
 * fold whole numbers 0..1000000, score and threshold numbers or null. An edited or damaged file
 * is an error at PATH:line:col naming the column, not zeros from atof; the error is the first
 * bad cell of the first bad column (in that order), whatever the rows' order. Columns the file
 * lacks are left to the code that needs them. Shared by report, explain --gallery and bundle.
 *
 *     // given: io_csv_stream s;
 *     exp_pred_check k;
 *     exp_pred_check_init(&k, &s.head);
 *     int r;
 *     while ((r = io_csv_stream_next(&s, &err)) == 1) exp_pred_check_row(&k, &s);
 *     if (r < 0 || exp_pred_check_result(&k, &err) != 0) ...;
 */
typedef struct exp_pred_check {
    long col[4];
    int nbad[4];
    wb_error bad[4];
} exp_pred_check;
void exp_pred_check_init(exp_pred_check *k, const io_csv *head);
void exp_pred_check_row(exp_pred_check *k, const io_csv_stream *s);
int exp_pred_check_result(const exp_pred_check *k, wb_error *err);

/* The report files run_dir's config (report.formats) asks for, as "report.html, report.md,
 * table.tex" into buf[n] ("" when it asks for none; metrics.csv is always written). Errors:
 * config.yaml missing or malformed. */
int exp_report_names(const char *run_dir, char *buf, size_t n, wb_error *err);

/* The stylesheet of report.html (one string; the external validation's report uses it too). */
const char *exp_report_css(void);

/* The collapsed "excluded file(s) and why" table of report.html (file, reason: the rows of an
 * excluded.csv), appended to b; nothing when it has no rows. Used by both reports. */
void exp_report_excluded_html(sbuf *b, const io_csv *excluded);

/* The reliability diagram of both reports: scores in EXP_RELIABILITY_BINS equal-width bins of
 * the predicted probability, each curve drawn with one dot per non-empty bin (a tooltip with
 * the count, mean score and fraction positive).
 *
 *     // given: sbuf *b; const double *score; const int *label; size_t n, k;
 *     // given: const char *const *names; const char *const *colours;
 *     exp_reliability r = {0};
 *     for (size_t i = 0; i < n; i++) exp_reliability_add(&r, score[i], label[i]);
 *     svg_plot p = exp_reliability_begin(b);      // frame and the dashed diagonal
 *     exp_reliability_draw(b, &p, &r, "probe", svg_color(0));
 *     svg_legend(b, &p, names, colours, k, SVG_TOP_LEFT);
 *     svg_end(b);
 */
enum { EXP_RELIABILITY_BINS = 10 };
typedef struct exp_reliability {
    double sum[EXP_RELIABILITY_BINS], pos[EXP_RELIABILITY_BINS], cnt[EXP_RELIABILITY_BINS];
} exp_reliability;
void exp_reliability_add(exp_reliability *r, double score, int label);
svg_plot exp_reliability_begin(sbuf *b);
void exp_reliability_draw(sbuf *b, const svg_plot *p, const exp_reliability *r, const char *name, const char *colour);

/* The report of an external validation (`workbench predict`): reads dir/metrics.json (kind
 * external_validation), dir/predictions.csv and dir/excluded.csv (when present) and writes
 * dir/report.html (self-contained, the same CSP and style as a run's) and dir/report.md:
 * "External validation of <run> on <cohort>", the model and cohort, the metric table of the
 * network ensemble and the reference baseline with CIs and the paired DeLong test, ROC and
 * reliability curves, and the model card of an external test. An unlabeled cohort's report
 * says there are no metrics and counts the decisions. The same files always give the same
 * bytes. Errors: WB_E_IO / WB_E_DATA naming the missing or malformed file, WB_E_WRITE. */
int exp_report_external_write(const char *dir, wb_error *err);

/* 1 if dir/metrics.json is an external validation's (kind external_validation, written by
 * `workbench predict`), 0 if it is a run's, -1 (err set) if it cannot be read. */
int exp_report_is_external(const char *dir, wb_error *err);

#endif
