/* report_patch.c — the parts of a report that only a patch run has (data.task: patch): the
 * whole-image results of the sliding window and the contact sheet of example patches. See
 * report_patch.h. */
#include "experiments/report/report_patch.h"
#include "experiments/report/report_gallery.h"
#include "experiments/report/rundir.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io_fs.h"

static int io_fs_exists(const char *p) { return access(p, F_OK) == 0; }

int exp_report_is_patch(const io_json_doc *m)
{
    const io_json_node *data = io_json_get(m, &m->nodes[0], EXP_RD_K_DATA);
    const io_json_node *t = data ? io_json_get(m, data, EXP_RD_K_TASK) : NULL;
    return t && t->type == IO_JSON_STRING && !strcmp(t->str, "patch");
}

static double num(const io_json_doc *d, const io_json_node *o, const char *k)
{
    const io_json_node *n = o ? io_json_get(d, o, k) : NULL;
    return n && n->type == IO_JSON_NUMBER ? n->num : NAN;
}

static void fmt(char *out, size_t n, double v, const char *f)
{
    if (isnan(v)) snprintf(out, n, "–");
    else snprintf(out, n, f, v);
}

/* One row's cells: variant (repeat), AUC [CI], ΔAUC, p, AP, sensitivity, specificity. */
static void cells(const io_json_doc *d, const io_json_node *lv, char c[6][128])
{
    char a[32], lo[32], hi[32];
    fmt(a, sizeof a, num(d, lv, EXP_RD_M_AUC), "%.3f");
    fmt(lo, sizeof lo, num(d, lv, EXP_RD_M_AUC_CI_LOW), "%.3f");
    fmt(hi, sizeof hi, num(d, lv, EXP_RD_M_AUC_CI_HIGH), "%.3f");
    snprintf(c[0], 128, "%s [%s, %s]", a, lo, hi);
    const io_json_node *vr = io_json_get(d, lv, EXP_RD_K_VS_REFERENCE);
    fmt(c[1], 128, num(d, vr, EXP_RD_K_DELTA_AUC), "%+.3f");
    fmt(c[2], 128, num(d, vr, EXP_RD_K_DELONG_P), "%.3g");
    if (!vr) snprintf(c[1], 128, "(reference)"), snprintf(c[2], 128, " ");
    fmt(c[3], 128, num(d, lv, EXP_RD_M_AP), "%.3f");
    fmt(c[4], 128, num(d, lv, EXP_RD_M_SENSITIVITY), "%.3f");
    fmt(c[5], 128, num(d, lv, EXP_RD_M_SPECIFICITY), "%.3f");
}

static const char *const heads[] = {"variant", "AUC [95% CI]", "ΔAUC", "p (DeLong)", "AP", "sensitivity", "specificity"};

static void table(sbuf *b, const io_json_doc *d, const io_json_node *wi, const char *level, int html, const char *caption)
{
    const io_json_node *vs = io_json_get(d, wi, EXP_RD_K_VARIANTS);
    if (!vs || vs->type != IO_JSON_ARRAY) return;
    if (html) {
        sb_printf(b, "<table><caption>");
        sb_xml(b, caption);
        sb_printf(b, "</caption><thead><tr>");
        for (int k = 0; k < 7; k++) {
            sb_printf(b, "<th>");
            sb_xml(b, heads[k]);
            sb_printf(b, "</th>");
        }
        sb_printf(b, "</tr></thead><tbody>\n");
    } else {
        sb_printf(b, "| ");
        for (int k = 0; k < 7; k++) sb_printf(b, "%s |%s", heads[k], k < 6 ? " " : "\n");
        sb_printf(b, "|---|---:|---:|---:|---:|---:|---:|\n");
    }
    for (int32_t v = vs->first; v >= 0; v = d->nodes[v].next) {
        const io_json_node *vn = &d->nodes[v], *name = io_json_get(d, vn, EXP_RD_K_NAME), *res = io_json_get(d, vn, "results");
        if (!res || res->type != IO_JSON_ARRAY) continue;
        for (int32_t r = res->first; r >= 0; r = d->nodes[r].next) {
            const io_json_node *rn = &d->nodes[r], *lv = io_json_get(d, rn, level);
            char c[6][128], label[160];
            cells(d, lv, c);
            if (res->count > 1) snprintf(label, sizeof label, "%s (repeat %.0f)", name ? name->str : "?", num(d, rn, EXP_RD_K_REPEAT));
            else snprintf(label, sizeof label, "%s", name ? name->str : "?");
            if (html) {
                sb_printf(b, "<tr><th>");
                sb_xml(b, label);
                sb_printf(b, "</th>");
                for (int k = 0; k < 6; k++) {
                    sb_printf(b, "<td>");
                    sb_xml(b, c[k]);
                    sb_printf(b, "</td>");
                }
                sb_printf(b, "</tr>\n");
            } else {
                sb_printf(b, "| `%s` | %s | %s | %s | %s | %s | %s |\n", label, c[0], c[1], c[2], c[3], c[4], c[5]);
            }
        }
    }
    if (html) sb_printf(b, "</tbody></table>\n");
}

static void intro(char *out, size_t n, const io_json_doc *d, const io_json_node *wi)
{
    const io_json_node *agg = io_json_get(d, wi, "breast_aggregate");
    snprintf(out, n,
             "Each fold's patch classifier slid over the breast of that fold's held-out images (window = patch size; "
             "windows with enough breast tissue); an image's score is the maximum of its heat map (heatmaps.csv), "
             "thresholds from the fold's validation images. %.0f of %.0f images scored, %.0f windows; breast level = %s "
             "of the views.",
             num(d, wi, "scored"), num(d, wi, EXP_RD_K_IMAGES), num(d, wi, "windows"),
             agg && agg->type == IO_JSON_STRING ? agg->str : "mean");
}

void exp_report_patch_md(sbuf *b, const io_json_doc *m, const char *dir)
{
    const io_json_node *wi = io_json_get(m, &m->nodes[0], EXP_RD_K_WHOLE_IMAGE);
    if (wi) {
        char t[800];
        intro(t, sizeof t, m, wi);
        sb_printf(b, "## Whole images (patch classifier as a sliding window)\n\n%s\n\n### Image level\n\n", t);
        table(b, m, wi, EXP_RD_LEVEL_IMAGE, 0, NULL);
        sb_printf(b, "\n### Breast level\n\n");
        table(b, m, wi, EXP_RD_LEVEL_BREAST, 0, NULL);
        sb_printf(b, "\n");
    }
    char p[4200];
    snprintf(p, sizeof p, "%s/patches.png", dir);
    if (io_fs_exists(p))
        sb_printf(b, "## Example patches\n\n![Rows: positive lesion patches, negative lesion patches, background patches, "
                     "as the network sees them](patches.png)\n\n");
}

int exp_report_patch_has_sheet(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/patches.png", dir);
    return io_fs_exists(p);
}

int exp_report_patch_html(sbuf *b, const io_json_doc *m, const char *dir, wb_error *err)
{
    const io_json_node *wi = io_json_get(m, &m->nodes[0], EXP_RD_K_WHOLE_IMAGE);
    if (wi) {
        char t[800];
        intro(t, sizeof t, m, wi);
        sb_printf(b, "<h2>Whole images</h2>\n<p>");
        sb_xml(b, t);
        sb_printf(b, "</p>\n<div class=\"wide\">\n");
        table(b, m, wi, EXP_RD_LEVEL_IMAGE, 1, "Whole images, image level: the patch classifier as a sliding window, max of the heat map.");
        table(b, m, wi, EXP_RD_LEVEL_BREAST, 1, "Whole images, breast level.");
        sb_printf(b, "</div>\n");
    }
    if (!exp_report_patch_has_sheet(dir)) return 0;
    char p[4200];
    snprintf(p, sizeof p, "%s/patches.png", dir);
    unsigned char *png = NULL;
    size_t n = 0;
    if (io_file_read_all(p, 64 << 20, &png, &n, err) != 0) return -1;
    sb_printf(b, "<h2>Example patches</h2>\n<figure style=\"max-width:none\"><img alt=\"example patches\" src=\"data:image/png;base64,");
    exp_report_base64(b, png, n);
    sb_printf(b, "\"/><figcaption>Rows: positive lesion patches, negative lesion patches, background patches (the first "
                 "eight of each), as the network sees them, each stretched over its own range (patches.png).</figcaption>"
                 "</figure>\n");
    free(png);
    return 0;
}
