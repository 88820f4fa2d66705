/* test_report_mc.c — workbench report on the committed multi-class run (tests/report/data/
 * fixture-run-mc, made by `workbench run` with data.classes [normal, benign, malignant], the
 * cohort and config of tests/cli/test_multiclass.sh): every row of both comparison tables and
 * of both per-class AUC tables, in report.md and report.html, equals metrics.json's values as
 * exp_report_fmt prints them (read here independently of the report code); no binary-only
 * columns or plots; byte-identical regeneration; a malformed "classes" is an error naming
 * metrics.json. Args: FIXTURE_RUN_DIR WORK_DIR */
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

static const char *const CLASSES[] = {"normal", "benign", "malignant"};

static void check_tables(const char *dir)
{
    char *md = slurp(dir, "report.md", NULL), *html = slurp(dir, "report.html", NULL), *js = slurp(dir, "metrics.json", NULL);
    CHECK(md && html && js, "report files");
    if (!md || !html || !js) return;
    io_json_doc d = {0};
    size_t at;
    const char *why;
    CHECK(io_json_parse(js, strlen(js), NULL, &d, &at, &why) == 0, "metrics.json");
    const io_json_node *vars = io_json_get(&d, &d.nodes[0], "variants");
    int rows = 0;
    for (int32_t v = vars->first; v >= 0; v = d.nodes[v].next) {
        const io_json_node *vn = &d.nodes[v], *rep = &d.nodes[io_json_get(&d, vn, "repeats")->first];
        const char *name = io_json_get(&d, vn, "name")->str;
        for (int level = 0; level < 2; level++) {
            const io_json_node *m = io_json_get(&d, rep, level ? "breast" : "image");
            const io_json_node *vs = io_json_get(&d, m, "vs_reference");
            char c[10][32], row[512], hrow[1024];
            exp_report_fmt(c[0], 32, num(&d, vn, "trainable_params"), EXP_FMT_COUNT);
            exp_report_fmt(c[1], 32, num(&d, m, "auc"), EXP_FMT_METRIC);
            if (vs) {
                exp_report_fmt(c[2], 32, num(&d, vs, "delta_auc"), EXP_FMT_DELTA);
                exp_report_fmt(c[3], 32, num(&d, vs, "ttest_p"), EXP_FMT_P);
            } else {
                snprintf(c[2], 32, "reference");
                snprintf(c[3], 32, "-");
            }
            exp_report_fmt(c[4], 32, num(&d, m, "accuracy"), EXP_FMT_METRIC);
            exp_report_fmt(c[5], 32, num(&d, m, "balanced_accuracy"), EXP_FMT_METRIC);
            exp_report_fmt(c[6], 32, num(&d, m, "f1_macro"), EXP_FMT_METRIC);
            exp_report_fmt(c[7], 32, num(&d, m, "log_loss"), EXP_FMT_METRIC);
            exp_report_fmt(c[8], 32, seconds(dir, name, -1), EXP_FMT_SECONDS);
            snprintf(row, sizeof row, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", name, c[0], c[1], c[2], c[3],
                     c[4], c[5], c[6], c[7], c[8]);
            CHECK(strstr(md, row) != NULL, "report.md row: %s", row);
            snprintf(hrow, sizeof hrow, "<th scope=\"row\">%s</th><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>"
                     "<td>%s</td><td>%s</td><td>%s</td></tr>", name, c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7], c[8]);
            CHECK(strstr(html, hrow) != NULL, "report.html row: %s", hrow);
            /* the per-class table */
            char pr[512] = "", ph[1024] = "";
            snprintf(pr, sizeof pr, "| %s |", name);
            snprintf(ph, sizeof ph, "<th scope=\"row\">%s</th>", name);
            for (int k = 0; k < 3; k++) {
                char key[64], cell[32];
                snprintf(key, sizeof key, "auc_ovr_%s", CLASSES[k]);
                exp_report_fmt(cell, sizeof cell, num(&d, m, key), EXP_FMT_METRIC);
                size_t l = strlen(pr), lh = strlen(ph);
                snprintf(pr + l, sizeof pr - l, " %s |", cell);
                snprintf(ph + lh, sizeof ph - lh, "<td>%s</td>", cell);
            }
            strcat(pr, "\n");
            strcat(ph, "</tr>");
            CHECK(strstr(md, pr) != NULL, "report.md per-class row: %s", pr);
            CHECK(strstr(html, ph) != NULL, "report.html per-class row: %s", ph);
            rows++;
        }
    }
    CHECK_EQ_INT(rows, 6, "rows checked");
    CHECK(strstr(md, "| Variant | Trainable params | Macro AUC (one-vs-rest) |") != NULL, "multi-class header");
    CHECK(strstr(md, "| Variant | AUC normal vs rest | AUC benign vs rest | AUC malignant vs rest |") != NULL, "per-class header");
    CHECK(!strstr(md, "Sensitivity") && !strstr(md, "DeLong)"), "no binary-only columns");
    CHECK(!strstr(html, "id=\"roc\"") && strstr(html, "drawn for binary labels only"), "no ROC plot, and a note");
    CHECK(strstr(md, "3 classes of label (normal ") != NULL, "data line with the classes");
    char *tex = slurp(dir, "table.tex", NULL);
    CHECK(tex && strstr(tex, "$\\Delta$macro AUC") && strstr(tex, "one-vs-rest macro AUC over 3 classes"), "table.tex");
    free(tex);
    io_json_free(&d);
    free(md);
    free(html);
    free(js);
}

int main(int argc, char **argv)
{
    char dir[4200];
    if (report_test_start(argc, argv, dir, sizeof dir) != 0) return 2;
    check_tables(dir);
    static const char *const outs[] = {"report.html"};
    check_regenerated(dir, outs, 1);
    wb_error e;
    size_t n1;
    /* a malformed classes member */
    char *js = slurp(dir, "metrics.json", &n1);
    char *p = js ? strstr(js, "\"classes\": [") : NULL;
    char *q = p ? strchr(p, ']') : NULL;
    if (p && q) {
        /* "classes": [ ... ]  ->  "classes": 7  (padded with spaces) */
        memset(p, ' ', (size_t)(q - p) + 1);
        memcpy(p, "\"classes\": 7", 12);
        sbuf sb = {0};
        sb_printf(&sb, "%s", js);
        sb_write(&sb, dir, "metrics.json", &e);
        sb_free(&sb);
        CHECK(exp_report_write(dir, &e) == -1, "malformed classes must fail");
        CHECK_CONTAINS(e.msg, "classes: expected an array", "message");
        CHECK_CONTAINS(e.file, "metrics.json", "names the file");
    }
    free(js);
    return wb_test_finish("report_mc");
}
