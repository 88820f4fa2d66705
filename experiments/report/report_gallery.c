/* report_gallery.c — the case gallery sections. See report_gallery.h. */
#include "experiments/report/report_gallery.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/io_csv.h"
#include "io/io_fs.h"

void exp_report_base64(sbuf *b, const unsigned char *s, size_t n)
{
    static const char T[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char q[5] = {0};
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0) | (i + 2 < n ? s[i + 2] : 0);
        q[0] = T[v >> 18 & 63];
        q[1] = T[v >> 12 & 63];
        q[2] = i + 1 < n ? T[v >> 6 & 63] : '=';
        q[3] = i + 2 < n ? T[v & 63] : '=';
        sb_printf(b, "%s", q);
    }
}

int exp_report_gallery_has(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/gallery/gallery.csv", dir);
    return access(p, F_OK) == 0;
}

enum { G_VARIANT, G_KIND, G_RANK, G_REPEAT, G_FOLD, G_PATIENT, G_SCORE, G_THRESHOLD, G_LESION, G_STAGE, G_PNG, G_N };
static const char *const G_COLS[G_N] = {"variant", "kind",      "rank",        "repeat", "fold", "patient",
                                        "score",   "threshold", "lesion_type", "stage",  "png"};

typedef struct gallery {
    io_csv csv;
    long col[G_N];
    int patch; /* a patch run's gallery (the run has patches.csv): the cases are patches */
} gallery;

static int gallery_load(const char *dir, gallery *g, wb_error *err)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/patches.csv", dir);
    g->patch = access(p, F_OK) == 0;
    snprintf(p, sizeof p, "%s/gallery/gallery.csv", dir);
    if (io_csv_read(p, &g->csv, err) != 0) return -1;
    for (int k = 0; k < G_N; k++)
        if ((g->col[k] = io_csv_column(&g->csv, G_COLS[k], err)) < 0) {
            io_csv_free(&g->csv);
            return -1;
        }
    for (size_t r = 0; r < g->csv.n_rows; r++) { /* a PNG name is a plain file name inside gallery/ */
        const char *png = io_csv_cell(&g->csv, r, g->col[G_PNG]);
        if (!png[0] || strchr(png, '/') || png[0] == '.') {
            int line = g->csv.lines[r];
            io_csv_free(&g->csv);
            return wb_err_at(err, WB_E_DATA, p, line, 0, "png", "expected a file name inside gallery/, got '%.100s'", png);
        }
    }
    return 0;
}

static const char *kind_title(const char *k)
{
    return !strcmp(k, "tp") ? "most confident true positives"
           : !strcmp(k, "fp") ? "most confident false positives"
           : !strcmp(k, "fn") ? "most confident false negatives (lowest scores of positives)"
                              : k;
}

static const char *cell(const gallery *g, size_t r, int k) { return io_csv_cell(&g->csv, r, g->col[k]); }

static void caption(sbuf *b, const gallery *g, size_t r, int html)
{
    char t[400];
    const char *lt = cell(g, r, G_LESION);
    snprintf(t, sizeof t, "patient %s, repeat %s fold %s, score %.4f (threshold %.4f)%s%s", cell(g, r, G_PATIENT),
             cell(g, r, G_REPEAT), cell(g, r, G_FOLD), strtod(cell(g, r, G_SCORE), NULL),
             strtod(cell(g, r, G_THRESHOLD), NULL), lt[0] ? ", " : "", lt);
    if (html) sb_xml(b, t);
    else sb_printf(b, "%s", t);
}

/* Rows grouped as they come (variant, then kind): calls fn at each group's start. */
static int same_group(const gallery *g, size_t a, size_t b)
{
    return !strcmp(cell(g, a, G_VARIANT), cell(g, b, G_VARIANT)) && !strcmp(cell(g, a, G_KIND), cell(g, b, G_KIND));
}

int exp_report_gallery_md(sbuf *b, const char *dir, wb_error *err)
{
    gallery g;
    if (gallery_load(dir, &g, err) != 0) return -1;
    sb_printf(b, "## Case gallery\n\nGrad-CAM of each case's own out-of-fold network (stage %s), over %s (gallery/; "
                 "`workbench explain --gallery`). Patients by pseudonym.\n\n",
              g.csv.n_rows ? cell(&g, 0, G_STAGE) : "-",
              g.patch ? "the patch as the network saw it (the cases are patches; enlarged)" : "the image as stored");
    for (size_t r = 0; r < g.csv.n_rows; r++) {
        if (r == 0 || !same_group(&g, r, r - 1))
            sb_printf(b, "%s### %s: %s\n\n", r ? "\n" : "", cell(&g, r, G_VARIANT), kind_title(cell(&g, r, G_KIND)));
        sb_printf(b, "- ![%s %s %s](gallery/%s) ", cell(&g, r, G_VARIANT), cell(&g, r, G_KIND), cell(&g, r, G_RANK),
                  cell(&g, r, G_PNG));
        caption(b, &g, r, 0);
        sb_printf(b, "\n");
    }
    sb_printf(b, "\n");
    io_csv_free(&g.csv);
    return 0;
}

int exp_report_gallery_html(sbuf *b, const char *dir, wb_error *err)
{
    gallery g;
    if (gallery_load(dir, &g, err) != 0) return -1;
    sb_printf(b, "<h2>Case gallery</h2>\n<p>Grad-CAM of each case's own out-of-fold network (stage ");
    sb_xml(b, g.csv.n_rows ? cell(&g, 0, G_STAGE) : "-");
    sb_printf(b, ") over %s: colour from 0 to the %s own maximum, the peak as a white cross, the labels' lesion box "
                 "in green. Patients by pseudonym.</p>\n", g.patch ? "the patch as the network saw it (the cases are "
                 "patches; enlarged)" : "the image as stored", g.patch ? "patch's" : "image's");
    int rc = 0;
    for (size_t r = 0; r < g.csv.n_rows && rc == 0; r++) {
        if (r == 0 || !same_group(&g, r, r - 1)) {
            if (r) sb_printf(b, "</div>\n");
            sb_printf(b, "<h3>");
            sb_xml(b, cell(&g, r, G_VARIANT));
            sb_printf(b, ": %s</h3>\n<div class=\"figs\">\n", kind_title(cell(&g, r, G_KIND)));
        }
        char p[4400];
        snprintf(p, sizeof p, "%s/gallery/%s", dir, cell(&g, r, G_PNG));
        unsigned char *png = NULL;
        size_t n = 0;
        if (io_file_read_all(p, 16 << 20, &png, &n, err) != 0) {
            rc = -1;
            break;
        }
        sb_printf(b, "<figure><img alt=\"");
        sb_xml(b, cell(&g, r, G_KIND));
        sb_printf(b, " %s\" src=\"data:image/png;base64,", cell(&g, r, G_RANK));
        exp_report_base64(b, png, n);
        sb_printf(b, "\"/><figcaption>");
        caption(b, &g, r, 1);
        sb_printf(b, "</figcaption></figure>\n");
        free(png);
    }
    if (rc == 0 && g.csv.n_rows) sb_printf(b, "</div>\n");
    io_csv_free(&g.csv);
    return rc;
}
