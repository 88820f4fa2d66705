/* test_report_sweep.c — workbench report on the committed sweep run (tests/report/data/
 * fixture-run-sweep, made by `workbench run` with a baseline and {name: depth, type: backbone,
 * sweep: unfreeze, sweep_stages: [layer2, layer3]} on a bright-disk cohort; see
 * the header of tests/report/CMakeLists.txt): the "Unfreezing depth" table in report.md, report.html and
 * table.tex has one row per depth_k in order of trainable stages, each cell equal to
 * metrics.json's value as exp_report_fmt prints it (read here independently of the report
 * code); the plot has one point and one CI bar per depth and the baseline's line; the frozen
 * variant is described as the linear probe and has no learning curve; byte-identical
 * regeneration; a run without sweep groups has no depth section. Args: FIXTURE_RUN_DIR WORK_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_json.h"
#include "experiments/report/report.h"
#include "report_test.h"
#include "wb_test.h"

static size_t count(const char *hay, const char *end, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) && (!end || p < end); p++) n++;
    return n;
}

static void check_depth(const char *dir)
{
    char *md = slurp(dir, "report.md", NULL), *html = slurp(dir, "report.html", NULL), *tex = slurp(dir, "table.tex", NULL);
    char *js = slurp(dir, "metrics.json", NULL), *curves = slurp(dir, "curves.csv", NULL);
    CHECK(md && html && tex && js && curves, "report files");
    if (!md || !html || !tex || !js || !curves) return;
    io_json_doc d = {0};
    size_t at;
    const char *why;
    CHECK(io_json_parse(js, strlen(js), NULL, &d, &at, &why) == 0, "metrics.json");
    const io_json_node *vars = io_json_get(&d, &d.nodes[0], "variants");
    const char *mdsec = strstr(md, "## Unfreezing depth: depth, image level");
    const char *hsec = strstr(html, "<h2>Unfreezing depth</h2>");
    CHECK(mdsec && hsec, "depth sections");
    const char *last_md = mdsec, *last_html = hsec, *last_tex = strstr(tex, "unfreezing depth, sweep depth");
    CHECK(last_tex != NULL, "table.tex depth table");
    int rows = 0;
    for (int k = 0; k <= 2; k++) {
        char want[32];
        snprintf(want, sizeof want, "depth_%d", k);
        for (int32_t v = vars->first; v >= 0; v = d.nodes[v].next) {
            const io_json_node *vn = &d.nodes[v];
            if (strcmp(io_json_get(&d, vn, "name")->str, want)) continue;
            CHECK_STR(io_json_get(&d, vn, "sweep_group")->str, "depth", "sweep_group");
            CHECK_EQ_INT((int)num(&d, vn, "trainable_stages"), k, "trainable_stages");
            const io_json_node *m = io_json_get(&d, &d.nodes[io_json_get(&d, vn, "repeats")->first], "image");
            const io_json_node *vs = io_json_get(&d, m, "vs_reference");
            char c[6][96], a[24], b[24], e[24], row[768], hrow[1024], trow[512];
            exp_report_fmt(c[0], 96, num(&d, vn, "trainable_stages"), EXP_FMT_COUNT);
            exp_report_fmt(c[1], 96, num(&d, vn, "trainable_params"), EXP_FMT_COUNT);
            exp_report_fmt(a, 24, num(&d, m, "auc"), EXP_FMT_METRIC);
            exp_report_fmt(b, 24, num(&d, m, "auc_ci_low"), EXP_FMT_METRIC);
            exp_report_fmt(e, 24, num(&d, m, "auc_ci_high"), EXP_FMT_METRIC);
            snprintf(c[2], 96, "%s [%s, %s]", a, b, e);
            exp_report_fmt(a, 24, num(&d, vs, "delta_auc"), EXP_FMT_DELTA);
            exp_report_fmt(b, 24, num(&d, vs, "delta_ci_low"), EXP_FMT_DELTA);
            exp_report_fmt(e, 24, num(&d, vs, "delta_ci_high"), EXP_FMT_DELTA);
            if (isfinite(num(&d, vs, "delta_auc"))) snprintf(c[3], 96, "%s [%s, %s]", a, b, e);
            else snprintf(c[3], 96, "n/a");
            exp_report_fmt(c[4], 96, num(&d, vs, "delong_p"), EXP_FMT_P);
            snprintf(row, sizeof row, "| %s | %s | %s | %s | %s | %s |\n", want, c[0], c[1], c[2], c[3], c[4]);
            const char *at_md = strstr(last_md, row);
            CHECK(at_md != NULL, "report.md depth row (in order): %s", row);
            if (at_md) last_md = at_md;
            snprintf(hrow, sizeof hrow, "<tr><th scope=\"row\">%s</th><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td></tr>",
                     want, c[0], c[1], c[2], c[3], c[4]);
            const char *at_html = strstr(last_html, hrow);
            CHECK(at_html != NULL, "report.html depth row (in order): %s", hrow);
            if (at_html) last_html = at_html;
            snprintf(trow, sizeof trow, "depth\\_%d & %s & %s & ", k, c[0], c[1]);
            const char *at_tex = last_tex ? strstr(last_tex, trow) : NULL;
            CHECK(at_tex != NULL, "table.tex depth row (in order): %s", trow);
            if (at_tex) last_tex = at_tex;
            rows++;
        }
    }
    CHECK_EQ_INT(rows, 3, "depth rows");
    CHECK(!strstr(mdsec, "| baseline | -") && count(mdsec, strstr(mdsec, "## Model card"), "| depth_") == 3,
          "only the sweep's variants in the depth table");
    /* the plot: three points with CI bars, the baseline's dashed line, parameter labels */
    const char *fig = strstr(html, "<figure class=\"fig\" id=\"depth-depth\">"), *fend = fig ? strstr(fig, "</figure>") : NULL;
    CHECK(fig && fend, "depth figure");
    if (fig && fend) {
        CHECK_EQ_INT(count(fig, fend, "<circle"), 3, "points");
        CHECK_EQ_INT(count(fig, fend, "<path d=\"M"), 3, "CI bars");
        CHECK_EQ_INT(count(fig, fend, "stroke-dasharray=\"5 3\""), 1, "baseline line");
        CHECK(strstr(fig, "trainable backbone stages") != NULL, "x label");
    }
    CHECK(strstr(md, "`depth_0`: backbone frozen; linear probe: L2 logistic regression") != NULL, "the probe's line");
    CHECK(strstr(md, "`depth_1`: fine-tuned stages [layer3], head started from the linear probe") != NULL, "LP-FT line");
    CHECK(!strstr(curves, ",depth_0,"), "the probe has no learning curve");
    CHECK(strstr(curves, ",depth_1,") != NULL, "a fine-tuned variant has one");
    io_json_free(&d);
    free(md);
    free(html);
    free(tex);
    free(js);
    free(curves);
}

int main(int argc, char **argv)
{
    char dir[4200];
    if (report_test_start(argc, argv, dir, sizeof dir) != 0) return 2;
    check_depth(dir);
    static const char *const outs[] = {"report.html", "report.md", "table.tex"};
    check_regenerated(dir, outs, 3);
    /* without sweep groups (an older run): no depth section */
    size_t n;
    char *js = slurp(dir, "metrics.json", &n);
    for (char *p = js; p && (p = strstr(p, "\"sweep_group\"")); p++) memcpy(p, "\"sweep_grouP\"", 13);
    if (js) put(dir, "metrics.json", js, n);
    free(js);
    wb_error e;
    CHECK(exp_report_write(dir, &e) == 0, "report without sweep groups: %s", e.msg);
    char *md = slurp(dir, "report.md", NULL), *html = slurp(dir, "report.html", NULL);
    CHECK(md && !strstr(md, "Unfreezing depth") && html && !strstr(html, "Unfreezing depth"), "no depth section");
    free(md);
    free(html);
    return wb_test_finish("report_sweep");
}
