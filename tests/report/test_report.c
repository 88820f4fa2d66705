/* test_report.c — workbench report on a committed run directory (tests/report/data/
 * fixture-run, made by a real `workbench run` with 2 repeats and one excluded file): every
 * table cell of report.md and report.html equals metrics.json's value as exp_report_fmt
 * prints it (read here with our JSON parser, independently of the report code), the
 * summary counts, escaping, no external references, byte-identical regeneration, and clear
 * errors for missing or damaged run files.
 * Args: FIXTURE_RUN_DIR WORK_DIR */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_csv.h"
#include "io/io_json.h"
#include "base/wb_tensor.h"
#include "experiments/report/report.h"
#include "io/io_sbuf.h"
#include "report_test.h"
#include "wb_test.h"

static void cell3(char *out, size_t n, const io_json_doc *d, const io_json_node *o, const char *v, const char *lo,
                  const char *hi, exp_fmt_kind k)
{
    char a[24], b[24], c[24];
    exp_report_fmt(a, sizeof a, num(d, o, v), k);
    exp_report_fmt(b, sizeof b, num(d, o, lo), k);
    exp_report_fmt(c, sizeof c, num(d, o, hi), k);
    snprintf(out, n, "%s [%s, %s]", a, b, c);
}

/* The section of text between two markers (or to the end). */
static char *section(const char *text, const char *from, const char *to)
{
    const char *a = strstr(text, from);
    if (!a) return strdup("");
    const char *b = to ? strstr(a + strlen(from), to) : NULL;
    size_t n = b ? (size_t)(b - a) : strlen(a);
    char *s = malloc(n + 1);
    memcpy(s, a, n);
    s[n] = '\0';
    return s;
}

static void check_tables(const char *dir)
{
    char *mj = slurp(dir, "metrics.json", NULL), *md = slurp(dir, "report.md", NULL), *html = slurp(dir, "report.html", NULL),
         *tex = slurp(dir, "table.tex", NULL);
    CHECK(mj && md && html && tex, "report files missing in %s", dir);
    if (!mj || !md || !html || !tex) return;
    io_json_doc d;
    size_t at;
    const char *why;
    CHECK(io_json_parse(mj, strlen(mj), NULL, &d, &at, &why) == 0, "metrics.json parses");
    const io_json_node *root = &d.nodes[0], *vars = io_json_get(&d, root, "variants");
    const char *ref = io_json_get(&d, root, "reference")->str;
    const char *levels[2] = {"image", "breast"};
    char *md_sec[2] = {section(md, "## Comparison, image level", "## Comparison, breast level"),
                       section(md, "## Comparison, breast level", "## Model card")};
    char *html_sec[2] = {section(html, "<table class=\"cmp\"><caption>Image level", "</table>"),
                         section(html, "<table class=\"cmp\"><caption>Breast level", "</table>")};
    int rows = 0;
    for (int32_t v = vars->first; v >= 0; v = d.nodes[v].next) {
        const io_json_node *vn = &d.nodes[v], *reps = io_json_get(&d, vn, "repeats");
        const char *name = io_json_get(&d, vn, "name")->str;
        for (int32_t r = reps->first; r >= 0; r = d.nodes[r].next) {
            int rep = (int)num(&d, &d.nodes[r], "repeat");
            for (int l = 0; l < 2; l++) {
                const io_json_node *m = io_json_get(&d, &d.nodes[r], levels[l]), *vs = io_json_get(&d, m, "vs_reference");
                char c[14][96];
                if (reps->count > 1) snprintf(c[0], 96, "%s (repeat %d)", name, rep + 1);
                else snprintf(c[0], 96, "%s", name);
                exp_report_fmt(c[1], 96, num(&d, vn, "trainable_params"), EXP_FMT_COUNT);
                cell3(c[2], 96, &d, m, "auc", "auc_ci_low", "auc_ci_high", EXP_FMT_METRIC);
                if (!strcmp(name, ref)) {
                    CHECK(vs == NULL, "the reference has no vs_reference");
                    snprintf(c[3], 96, "reference");
                    snprintf(c[4], 96, "-");
                    snprintf(c[5], 96, "-");
                } else {
                    cell3(c[3], 96, &d, vs, "delta_auc", "delta_ci_low", "delta_ci_high", EXP_FMT_DELTA);
                    exp_report_fmt(c[4], 96, num(&d, vs, "delong_p"), EXP_FMT_P);
                    exp_report_fmt(c[5], 96, num(&d, vs, "ttest_p"), EXP_FMT_P);
                }
                const char *keys[] = {"average_precision", "sensitivity", "specificity", "sensitivity_at_specificity",
                                      "f1", "brier", "ece"};
                for (int k = 0; k < 7; k++) exp_report_fmt(c[6 + k], 96, num(&d, m, keys[k]), EXP_FMT_METRIC);
                exp_report_fmt(c[13], 96, seconds(dir, name, rep), EXP_FMT_SECONDS);
                sbuf want_md = {0}, want_html = {0};
                sb_printf(&want_md, "\n|");
                for (int k = 0; k < 14; k++) sb_printf(&want_md, " %s |", c[k]);
                sb_printf(&want_md, "\n");
                sb_printf(&want_html, "<th scope=\"row\">");
                sb_xml(&want_html, c[0]);
                sb_printf(&want_html, "</th>");
                for (int k = 1; k < 14; k++) {
                    sb_printf(&want_html, "<td>");
                    sb_xml(&want_html, c[k]);
                    sb_printf(&want_html, "</td>");
                }
                sb_printf(&want_html, "</tr>");
                CHECK(strstr(md_sec[l], want_md.s) != NULL, "report.md %s table lacks the row%s", levels[l], want_md.s);
                CHECK(strstr(html_sec[l], want_html.s) != NULL, "report.html %s table lacks the row %s", levels[l], want_html.s);
                CHECK(strstr(tex, c[2]) != NULL, "table.tex lacks the AUC cell '%s'", c[2]);
                sb_free(&want_md);
                sb_free(&want_html);
                rows++;
            }
        }
    }
    CHECK_EQ_INT(rows, 3 * 2 * 2, "table rows checked (3 variants x 2 repeats x 2 levels)");
    /* after each variant's repeats, a row of mean ± sample SD over them (here from the two AUCs:
     * mean (a + b) / 2, SD |a - b| / sqrt(2)) */
    for (int32_t v = vars->first; v >= 0; v = d.nodes[v].next) {
        const io_json_node *vn = &d.nodes[v], *reps = io_json_get(&d, vn, "repeats");
        const char *name = io_json_get(&d, vn, "name")->str;
        for (int l = 0; l < 2; l++) {
            double a = num(&d, io_json_get(&d, &d.nodes[reps->first], levels[l]), "auc");
            double b = num(&d, io_json_get(&d, &d.nodes[d.nodes[reps->first].next], levels[l]), "auc");
            char mean[24], sd[24], params[24], want[256];
            exp_report_fmt(mean, sizeof mean, (a + b) / 2, EXP_FMT_METRIC);
            exp_report_fmt(sd, sizeof sd, fabs(a - b) / sqrt(2.0), EXP_FMT_METRIC);
            exp_report_fmt(params, sizeof params, num(&d, vn, "trainable_params"), EXP_FMT_COUNT);
            snprintf(want, sizeof want, "\n| %s (mean \xc2\xb1 SD of 2 repeats) | %s | %s \xc2\xb1 %s | %s", name, params, mean,
                     sd, strcmp(name, ref) ? "" : "reference |");
            CHECK(strstr(md_sec[l], want) != NULL, "report.md %s table lacks the repeats' row %s", levels[l], want);
            snprintf(want, sizeof want, "%s (mean $\\pm$ SD of 2 repeats) & %s & %s $\\pm$ %s &", name, params, mean, sd);
            CHECK(strstr(tex, want) != NULL, "table.tex lacks the repeats' row %s", want);
        }
    }
    /* the summary's counts */
    const io_json_node *data = io_json_get(&d, root, "data");
    char line[256];
    snprintf(line, sizeof line, "%.0f images of %.0f patients; %.0f positive images", num(&d, data, "images"),
             num(&d, data, "patients"), num(&d, data, "positive_images"));
    CHECK_CONTAINS(md, line, "report.md summary");
    CHECK_CONTAINS(html, line, "report.html summary");
    snprintf(line, sizeof line, "%.0f files excluded", num(&d, data, "excluded"));
    CHECK_CONTAINS(html, line, "excluded count");
    CHECK_CONTAINS(html, "P0002/R_MLO.dcm</td>", "the excluded file is listed");
    CHECK_CONTAINS(html, "truncated or corrupt DICOM file", "with its reason");
    /* escaping: the title has & and < > */
    CHECK_CONTAINS(html, "<h1>Report fixture: 2 repeats &amp; one excluded file &lt;b&gt;</h1>", "HTML title escaped");
    CHECK_CONTAINS(tex, "\\caption{Report fixture: 2 repeats \\& one excluded file $<$b$>$:", "TeX title escaped");
    CHECK_CONTAINS(tex, "\\toprule", "booktabs");
    /* self-contained: no scripts, no fetched resources */
    CHECK(strstr(html, "<script") == NULL, "no script");
    CHECK(strstr(html, " src=") == NULL && strstr(html, "href=") == NULL && strstr(html, "url(") == NULL,
          "no external resources");
    CHECK_CONTAINS(html, "default-src 'none'", "a CSP that forbids fetching");
    int svgs = 0;
    for (const char *p = html; (p = strstr(p, "<svg ")); p++) svgs++;
    CHECK_EQ_INT(svgs, 6, "plots: ROC, PR, reliability, fold AUC, training loss, validation AUC");
    CHECK_CONTAINS(html, "Intended use:", "model card");
    CHECK_CONTAINS(html, "weights_sha256", "environment");
    io_json_free(&d);
    for (int l = 0; l < 2; l++) free(md_sec[l]), free(html_sec[l]);
    free(mj), free(md), free(html), free(tex);
}

static void check_fmt(void)
{
    char b[32];
    exp_report_fmt(b, sizeof b, 0.71249, EXP_FMT_METRIC);
    CHECK_STR(b, "0.712", "metric");
    exp_report_fmt(b, sizeof b, 0.0004, EXP_FMT_P);
    CHECK_STR(b, "<0.001", "small p");
    exp_report_fmt(b, sizeof b, 0.0421, EXP_FMT_P);
    CHECK_STR(b, "0.042", "p");
    exp_report_fmt(b, sizeof b, -0.01234, EXP_FMT_DELTA);
    CHECK_STR(b, "-0.012", "negative delta");
    exp_report_fmt(b, sizeof b, 0.0301, EXP_FMT_DELTA);
    CHECK_STR(b, "+0.030", "positive delta");
    exp_report_fmt(b, sizeof b, -0.0001, EXP_FMT_DELTA);
    CHECK_STR(b, "+0.000", "a delta that rounds to zero has no minus");
    exp_report_fmt(b, sizeof b, NAN, EXP_FMT_METRIC);
    CHECK_STR(b, "n/a", "undefined");
    exp_report_fmt(b, sizeof b, 75.4, EXP_FMT_SECONDS);
    CHECK_STR(b, "1 min 15 s", "minutes");
    exp_report_fmt(b, sizeof b, 3725, EXP_FMT_SECONDS);
    CHECK_STR(b, "1 h 02 min", "hours");
    exp_report_fmt(b, sizeof b, 203650, EXP_FMT_COUNT);
    CHECK_STR(b, "203650", "count");
}

static void check_errors(const char *fix, const char *work)
{
    char dir[4200];
    wb_error e;
    /* no metrics.json */
    snprintf(dir, sizeof dir, "%s/no-metrics", work);
    copy_run(fix, dir);
    char p[4300];
    snprintf(p, sizeof p, "%s/metrics.json", dir);
    remove(p);
    CHECK(exp_report_write(dir, &e) != 0, "missing metrics.json fails");
    CHECK_CONTAINS(e.file, "no-metrics/metrics.json", "names the file");
    CHECK_EQ_INT(wb_exit_code(e.code), 3, "exit code");
    /* truncated metrics.json */
    snprintf(dir, sizeof dir, "%s/cut", work);
    copy_run(fix, dir);
    size_t n;
    char *t = slurp(dir, "metrics.json", &n);
    put(dir, "metrics.json", t, n / 2);
    free(t);
    CHECK(exp_report_write(dir, &e) != 0, "truncated metrics.json fails");
    CHECK_CONTAINS(e.file, "cut/metrics.json", "names the file");
    CHECK_CONTAINS(e.msg, "at byte", "says where");
    /* another schema version */
    snprintf(dir, sizeof dir, "%s/schema", work);
    copy_run(fix, dir);
    t = slurp(dir, "metrics.json", &n);
    char *sv = strstr(t, "\"schema_version\": 1");
    if (sv) sv[strlen("\"schema_version\": ")] = '7';
    put(dir, "metrics.json", t, n);
    free(t);
    CHECK(exp_report_write(dir, &e) != 0, "schema_version 7 fails");
    CHECK_CONTAINS(e.msg, "schema_version", "says why");
    /* predictions.csv without its score column */
    snprintf(dir, sizeof dir, "%s/nocol", work);
    copy_run(fix, dir);
    t = slurp(dir, "predictions.csv", &n);
    char *sc = strstr(t, ",score,");
    if (sc) memcpy(sc, ",sc0re,", 7);
    put(dir, "predictions.csv", t, n);
    free(t);
    CHECK(exp_report_write(dir, &e) != 0, "a missing column fails");
    CHECK_CONTAINS(e.file, "nocol/predictions.csv", "names the file");
    CHECK_CONTAINS(e.msg, "no column 'score'", "names the column");
    snprintf(p, sizeof p, "%s/report.html", dir);
    struct stat st;
    CHECK(stat(p, &st) != 0, "no report.html is left half-written");
    /* no such directory */
    CHECK(exp_report_write("/nonexistent/run", &e) != 0, "missing run directory fails");
    CHECK_CONTAINS(e.file, "/nonexistent/run/metrics.json", "names the file");
}

/* Replaces every occurrence of from by to in dir/name. */
static void replace_in(const char *dir, const char *name, const char *from, const char *to)
{
    size_t n;
    char *t = slurp(dir, name, &n);
    if (!t) return;
    sbuf b = {0};
    const char *p = t, *q;
    while ((q = strstr(p, from))) {
        sb_printf(&b, "%.*s%s", (int)(q - p), p, to);
        p = q + strlen(from);
    }
    sb_printf(&b, "%s", p);
    put(dir, name, b.s, b.n);
    sb_free(&b);
    free(t);
}

static size_t count_of(const char *hay, const char *needle)
{
    size_t k = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++) k++;
    return k;
}

/* Inputs found by review: each once made the report hang, lose a variant, or write text that
 * is not XML. */
static void check_hostile(const char *fix, const char *work)
{
    char dir[4200];
    wb_error e;
    /* the longest name the config allows (64) is in every plot's legend */
    const char *longname = "vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";
    snprintf(dir, sizeof dir, "%s/longname", work);
    copy_run(fix, dir);
    for (int i = 0; i < N_FILES; i++) replace_in(dir, FILES[i], "frozen", longname);
    CHECK(exp_report_write(dir, &e) == 0, "long name: %s", e.msg);
    char *html = slurp(dir, "report.html", NULL), want[128];
    snprintf(want, sizeof want, ">%s</text>", longname);
    CHECK(html && count_of(html, want) >= 3, "the 64-character name is in the ROC, PR and reliability legends");
    free(html);
    /* a diverged loss (1e17) and an infinite epoch: the report still ends */
    snprintf(dir, sizeof dir, "%s/diverged", work);
    copy_run(fix, dir);
    const char *curves = "repeat,fold,variant,epoch,train_loss,val_auc,lr,best\n"
                         "0,0,frozen,1,1e17,0.5,0.01,0\n0,0,frozen,2,2e17,0.6,0.01,1\n0,0,frozen,inf,nan,inf,0.01,0\n";
    put(dir, "curves.csv", curves, strlen(curves));
    CHECK(exp_report_write(dir, &e) == 0, "diverged curves: %s", e.msg);
    /* bytes that are not UTF-8 (a Latin-1 file name in excluded.csv) become U+FFFD */
    snprintf(dir, sizeof dir, "%s/latin1", work);
    copy_run(fix, dir);
    const char *ex = "file,reason\nP0002/M\xfcller.dcm,cannot read\n";
    put(dir, "excluded.csv", ex, strlen(ex));
    CHECK(exp_report_write(dir, &e) == 0, "latin-1: %s", e.msg);
    html = slurp(dir, "report.html", NULL);
    CHECK(html && strstr(html, "P0002/M&#xFFFD;ller.dcm") != NULL, "invalid UTF-8 replaced");
    /* the same directory with a trailing slash gives the same bytes */
    char slash[4300];
    snprintf(slash, sizeof slash, "%s/", dir);
    CHECK(exp_report_write(slash, &e) == 0, "trailing slash");
    char *again = slurp(dir, "report.html", NULL);
    CHECK(html && again && !strcmp(html, again), "DIR/ and DIR give the same report.html");
    free(html);
    free(again);
    /* YAML aliases that expand exponentially in config.yaml: refused, quickly */
    snprintf(dir, sizeof dir, "%s/bomb", work);
    copy_run(fix, dir);
    sbuf y = {0};
    sb_printf(&y, "x0: &x0 {a: 1, b: 2}\n");
    for (int i = 1; i <= 30; i++) sb_printf(&y, "x%d: &x%d {a: *x%d, b: *x%d}\n", i, i, i - 1, i - 1);
    put(dir, "config.yaml", y.s, y.n);
    sb_free(&y);
    CHECK(exp_report_write(dir, &e) != 0, "an alias bomb is refused");
    CHECK_CONTAINS(e.msg, "aliases", "says why");
}

int main(int argc, char **argv)
{
    char dir[4200];
    if (report_test_start(argc, argv, dir, sizeof dir) != 0) return 2;
    const char *fix = argv[1], *work = argv[2];
    check_tables(dir);
    /* regenerating gives the same bytes */
    static const char *const outs[] = {"report.html", "report.md", "table.tex"};
    check_regenerated(dir, outs, 3);
    check_fmt();
    check_errors(fix, work);
    check_hostile(fix, work);
    return wb_test_finish("report");
}
