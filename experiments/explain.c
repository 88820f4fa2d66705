/* explain.c — `workbench explain`. See explain.h and docs/explain.md. */
#include "experiments/explain.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/wb_log.h"
#include "base/wb_tensor.h"
#include "experiments/config/config.h"
#include "experiments/data/dataset.h"
#include "experiments/data/patch.h"
#include "experiments/model/foldnet.h"
#include "experiments/model/saliency.h"
#include "experiments/report/report.h"
#include "experiments/report/rundir.h"
#include "io/io_dicom.h"
#include "io/io_csv.h"
#include "io/io_fs.h"
#include "io/io_png.h"
#include "io/io_sbuf.h"
#include "io/io_weights.h"
#include "nets/nn.h"

void exp_explain_opts_default(exp_explain_opts *o)
{
    memset(o, 0, sizeof *o);
    o->cls = -1;
    o->max_size = 1024;
}

/* ---- drawing: a jet colour map, a 3x5 digit font, rectangles ---- */

static void jet(double v, uint8_t rgb[3])
{
    static const double stop[6] = {0, 0.125, 0.375, 0.625, 0.875, 1};
    static const double col[6][3] = {{0, 0, 143}, {0, 0, 255}, {0, 255, 255}, {255, 255, 0}, {255, 0, 0}, {128, 0, 0}};
    v = v < 0 ? 0 : v > 1 ? 1 : v;
    int k = 0;
    while (k < 4 && v > stop[k + 1]) k++;
    double t = (v - stop[k]) / (stop[k + 1] - stop[k]);
    for (int c = 0; c < 3; c++) rgb[c] = (uint8_t)lround(col[k][c] + t * (col[k + 1][c] - col[k][c]));
}

typedef struct canvas {
    uint8_t *px;
    int w, h;
} canvas;

static void put(canvas *c, int x, int y, const uint8_t rgb[3])
{
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->px + ((size_t)y * c->w + x) * 3, rgb, 3);
}

static void rect(canvas *c, int x0, int y0, int x1, int y1, int t, const uint8_t rgb[3])
{
    for (int k = 0; k < t; k++) {
        for (int x = x0 - k; x <= x1 + k; x++) {
            put(c, x, y0 - k, rgb);
            put(c, x, y1 + k, rgb);
        }
        for (int y = y0 - k; y <= y1 + k; y++) {
            put(c, x0 - k, y, rgb);
            put(c, x1 + k, y, rgb);
        }
    }
}

/* 3x5 glyphs, one row per 3 bits (MSB left): 0-9 . - e + */
static const char *const GLYPH_CHARS = "0123456789.-e+";
static const uint8_t GLYPHS[14][5] = {
    {7, 5, 5, 5, 7}, {2, 6, 2, 2, 7}, {7, 1, 7, 4, 7}, {7, 1, 7, 1, 7}, {5, 5, 7, 1, 1}, {7, 4, 7, 1, 7},
    {7, 4, 7, 5, 7}, {7, 1, 1, 1, 1}, {7, 5, 7, 5, 7}, {7, 5, 7, 1, 7}, {0, 0, 0, 0, 2}, {0, 0, 7, 0, 0},
    {7, 5, 7, 4, 7}, {0, 2, 7, 2, 0}};

static void text(canvas *c, int x, int y, int scale, const char *s, const uint8_t rgb[3])
{
    for (; *s; s++, x += 4 * scale) {
        const char *p = strchr(GLYPH_CHARS, *s);
        if (!p) continue;
        const uint8_t *g = GLYPHS[p - GLYPH_CHARS];
        for (int r = 0; r < 5; r++)
            for (int b = 0; b < 3; b++)
                if (g[r] >> (2 - b) & 1)
                    for (int dy = 0; dy < scale; dy++)
                        for (int dx = 0; dx < scale; dx++) put(c, x + b * scale + dx, y + r * scale + dy, rgb);
    }
}

/* The overlay: grey (dh x dw, 0..1) with heat (dh x dw, 0..1, < 0: not seen by the network) in
 * colour, and a colour bar panel on the right labelled 0 and top_label. */
static int render(const char *path, const float *grey, const float *heat, int dh, int dw, const char *top_label,
                  const double (*boxes)[4], int nbox, const double square[4], const double peak[2], wb_error *err)
{
    const int scale = dh >= 400 ? 2 : 1, panel = 24 + 4 * scale * 7;
    canvas c = {NULL, dw + panel, dh};
    c.px = malloc((size_t)c.w * c.h * 3);
    if (!c.px) return wb_err(err, WB_E_NOMEM, path, "out of memory for a %dx%d overlay", c.w, c.h);
    for (int y = 0; y < dh; y++)
        for (int x = 0; x < c.w; x++) {
            uint8_t *o = c.px + ((size_t)y * c.w + x) * 3;
            if (x >= dw) { /* panel background */
                o[0] = o[1] = o[2] = 32;
                continue;
            }
            float g = grey[(size_t)y * dw + x], v = heat[(size_t)y * dw + x];
            g = g < 0 ? 0 : g > 1 ? 1 : g;
            uint8_t rgb[3];
            double a = v > 0 ? 0.6 * v : 0; /* zero evidence: the mammogram alone */
            jet(v, rgb);
            for (int k = 0; k < 3; k++) o[k] = (uint8_t)lround((1 - a) * 255.0 * g + a * rgb[k]);
        }
    /* colour bar: 1 at the top, 0 at the bottom */
    const int bx = dw + 6, bw = 8 * scale, y0 = 6 * scale + 6, y1 = dh - 6 * scale - 6;
    for (int y = y0; y <= y1 && y1 > y0; y++) {
        uint8_t rgb[3];
        jet((double)(y1 - y) / (y1 - y0), rgb);
        for (int x = bx; x < bx + bw; x++) put(&c, x, y, rgb);
    }
    static const uint8_t white[3] = {255, 255, 255}, green[3] = {0, 230, 0}, yellow[3] = {255, 220, 0};
    text(&c, bx, 2, scale, top_label, white);
    text(&c, bx, dh - 5 * scale - 2, scale, "0", white);
    if (square) /* a patch run: the square the network saw */
        rect(&c, (int)lround(square[0]), (int)lround(square[1]), (int)lround(square[2]), (int)lround(square[3]), 1, yellow);
    for (int k = 0; k < nbox; k++)
        rect(&c, (int)lround(boxes[k][0]), (int)lround(boxes[k][1]), (int)lround(boxes[k][2]), (int)lround(boxes[k][3]),
             scale + 1, green);
    if (peak) {
        int px = (int)lround(peak[1]), py = (int)lround(peak[0]), r = 4 * scale;
        for (int k = -r; k <= r; k++) {
            put(&c, px + k, py, white);
            put(&c, px, py + k, white);
        }
    }
    int rc = io_png_write(path, c.px, c.w, c.h, 3, err);
    free(c.px);
    return rc;
}

/* Area-average of img (rows x cols) onto dh x dw. */
static void shrink(const float *img, int rows, int cols, float *out, int dh, int dw)
{
    for (int i = 0; i < dh; i++) {
        int r0 = (int)((long long)i * rows / dh), r1 = (int)((long long)(i + 1) * rows / dh);
        if (r1 <= r0) r1 = r0 + 1;
        for (int j = 0; j < dw; j++) {
            int c0 = (int)((long long)j * cols / dw), c1 = (int)((long long)(j + 1) * cols / dw);
            if (c1 <= c0) c1 = c0 + 1;
            double s = 0;
            for (int r = r0; r < r1; r++)
                for (int k = c0; k < c1; k++) s += img[(size_t)r * cols + k];
            out[(size_t)i * dw + j] = (float)(s / ((double)(r1 - r0) * (c1 - c0)));
        }
    }
}

/* ---- the run ---- */

/* The labels' row of one file: matched by the resolved path. */
typedef struct label_row {
    char label[64], laterality[8];
    int has_box;
    double box[4]; /* x, y, w, h in input pixels */
} label_row;

typedef struct labels {
    io_csv csv;
    char **real; /* resolved path of each row, NULL when it does not resolve */
    long c_file, c_label, c_lat, c_bx, c_by, c_bw, c_bh, c_sop, c_lesion;
    int ok;
} labels;

static void labels_free(labels *l)
{
    for (size_t i = 0; l->ok && i < l->csv.n_rows; i++) free(l->real[i]);
    free(l->real);
    io_csv_free(&l->csv);
    memset(l, 0, sizeof *l);
}

/* The resolved path of a labels file cell (NULL when it does not resolve): malloc'd. */
static char *row_real(const char *dir, const char *f)
{
    char p[PATH_MAX + 8];
    if (f[0] == '/') snprintf(p, sizeof p, "%s", f);
    else snprintf(p, sizeof p, "%s/%s", dir ? dir : ".", f);
    return realpath(p, NULL);
}

/* A sorted set of strings (not owned), for the rows a pass keeps. */
typedef struct strset {
    const char **s;
    size_t n;
} strset;

static int cmp_str(const void *a, const void *b) { return strcmp(*(const char *const *)a, *(const char *const *)b); }

static void strset_sort(strset *k) { qsort(k->s, k->n, sizeof *k->s, cmp_str); }

static int strset_has(const strset *k, const char *x)
{
    return x && k && k->n && bsearch(&x, k->s, k->n, sizeof *k->s, cmp_str) != NULL;
}

/* Which labels rows labels_load keeps (the file is a cohort's: read a row at a time, the rows
 * of the images explain needs kept): rows whose file resolves to one of reals, whose
 * sop_instance_uid cell is one of sops, whose file cell is one of cells, and with hdr, rows with
 * an empty (or no) sop_instance_uid cell whose DICOM header's SOP Instance UID is one of sops. */
typedef struct labels_want {
    const strset *reals, *sops, *cells;
    int hdr;
    const char *dir;
    const char *file_column;
    long c_file, c_sop;
    int looked; /* c_file and c_sop looked up */
} labels_want;

static int labels_keep(void *ctx, const io_csv_stream *s, wb_error *err)
{
    (void)err;
    labels_want *w = ctx;
    wb_error ignore;
    if (!w->looked) {
        w->c_file = io_csv_column(&s->head, w->file_column, &ignore);
        w->c_sop = io_csv_column(&s->head, "sop_instance_uid", &ignore);
        w->looked = 1;
    }
    if (w->c_file < 0) return 0; /* labels_load gives up on such a file */
    const char *f = io_csv_stream_cell(s, w->c_file), *sop = w->c_sop >= 0 ? io_csv_stream_cell(s, w->c_sop) : "";
    if (strset_has(w->sops, sop) || strset_has(w->cells, f)) return 1;
    if (!w->reals && !w->hdr) return 0;
    char *real = row_real(w->dir, f);
    int keep = real && strset_has(w->reals, real);
    if (real && !keep && w->hdr && !sop[0]) {
        io_dicom_meta m;
        wb_error e;
        keep = io_dicom_read_meta(real, &m, &e) == 0 && strset_has(w->sops, m.sop_uid);
    }
    free(real);
    return keep;
}

/* Reads data.labels, keeping the rows want asks for (in the file's order); a labels file that
 * cannot be read only costs the boxes (a warning). */
static void labels_load(const exp_config *cfg, labels *l, labels_want *want)
{
    memset(l, 0, sizeof *l);
    wb_error e = {0}, ignore;
    const exp_settings_data *sd = &exp_config_get(cfg)->data;
    const char *path = sd->labels, *dir = sd->dicom_dir;
    want->dir = dir;
    want->file_column = sd->file_column;
    want->looked = 0;
    if (io_csv_read_rows(path, labels_keep, want, &l->csv, &e) != 0) {
        wb_warn("explain: %s: %s (no labels or lesion boxes shown)", path, e.msg);
        return;
    }
    long c_file = io_csv_column(&l->csv, sd->file_column, &ignore);
    l->c_label = io_csv_column(&l->csv, sd->label_column, &ignore);
    l->c_lat = io_csv_column(&l->csv, "laterality", &ignore);
    l->c_bx = io_csv_column(&l->csv, "bbox_x", &ignore);
    l->c_by = io_csv_column(&l->csv, "bbox_y", &ignore);
    l->c_bw = io_csv_column(&l->csv, "bbox_w", &ignore);
    l->c_bh = io_csv_column(&l->csv, "bbox_h", &ignore);
    l->c_sop = io_csv_column(&l->csv, "sop_instance_uid", &ignore);
    l->c_lesion = io_csv_column(&l->csv, "lesion_type", &ignore);
    l->c_file = c_file;
    l->real = calloc(l->csv.n_rows ? l->csv.n_rows : 1, sizeof *l->real);
    if (c_file < 0 || !l->real) {
        free(l->real);
        l->real = NULL;
        io_csv_free(&l->csv);
        return;
    }
    l->ok = 1;
    for (size_t r = 0; r < l->csv.n_rows; r++) l->real[r] = row_real(dir, io_csv_cell(&l->csv, r, c_file));
}

static int num_cell(const labels *l, size_t r, long c, double *v)
{
    if (c < 0) return 0;
    const char *s = io_csv_cell(&l->csv, r, c);
    char *end;
    if (!s || !s[0]) return 0;
    *v = strtod(s, &end);
    return *end == '\0' && isfinite(*v);
}

static int labels_find(const labels *l, const char *file, label_row *out)
{
    memset(out, 0, sizeof *out);
    if (!l->ok) return 0;
    char *rp = realpath(file, NULL);
    if (!rp) return 0;
    int found = 0;
    for (size_t r = 0; r < l->csv.n_rows && !found; r++) {
        if (!l->real[r] || strcmp(l->real[r], rp)) continue;
        found = 1;
        if (l->c_label >= 0) snprintf(out->label, sizeof out->label, "%s", io_csv_cell(&l->csv, r, l->c_label));
        if (l->c_lat >= 0) snprintf(out->laterality, sizeof out->laterality, "%s", io_csv_cell(&l->csv, r, l->c_lat));
        out->has_box = num_cell(l, r, l->c_bx, &out->box[0]) && num_cell(l, r, l->c_by, &out->box[1]) &&
                       num_cell(l, r, l->c_bw, &out->box[2]) && num_cell(l, r, l->c_bh, &out->box[3]) &&
                       out->box[2] > 0 && out->box[3] > 0;
    }
    free(rp);
    return found;
}

/* An output name from the file's last two path components: "P0001/L_CC.dcm" -> "P0001_L_CC". */
static void stem_of(const char *file, char *out, size_t n)
{
    const char *end = file + strlen(file), *a = end;
    while (a > file && a[-1] == '/') a--, end--;
    int slashes = 0;
    while (a > file && !(a[-1] == '/' && ++slashes == 2)) a--;
    size_t k = 0;
    for (const char *p = a; p < end && k + 1 < n; p++)
        out[k++] = (*p == '/') ? '_' : ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
                                        *p == '-' || *p == '_' || *p == '.') ? *p : '_';
    out[k] = '\0';
    char *dot = strrchr(out, '.');
    if (dot && dot != out && !strchr(dot, '_')) *dot = '\0';
    if (!out[0]) snprintf(out, n, "image");
}

/* The output name stem of files[fi]: its file name without the extension, prefixed with its
 * position (1-based) when an earlier file has the same stem. */
static void out_stem(const char *const *files, size_t fi, char stem[256])
{
    stem_of(files[fi], stem, 256);
    for (size_t j = 0; j < fi; j++) {
        char other[256];
        stem_of(files[j], other, sizeof other);
        if (!strcmp(other, stem)) {
            char t[256];
            snprintf(t, sizeof t, "%zu_%.200s", fi + 1, stem);
            memcpy(stem, t, 256);
            return;
        }
    }
}

/* Canvas argmax, mapped back to the input; in_box: 1 inside the labels' box, 0 outside, -1 no box. */
static void peak_of(const float *map, const exp_pre_params *p, const exp_pre_result *r, const label_row *lr,
                    double at[2], int *in_box)
{
    size_t am = 0;
    for (size_t i = 0; i < (size_t)r->rows * r->cols; i++)
        if (map[i] > map[am]) am = i;
    exp_pre_canvas_to_input(p, r, (double)(am / (size_t)r->cols), (double)(am % (size_t)r->cols), &at[0], &at[1]);
    *in_box = -1;
    if (lr->has_box) {
        double y = floor(at[0] + 0.5), x = floor(at[1] + 0.5);
        *in_box = x >= lr->box[0] && x < lr->box[0] + lr->box[2] && y >= lr->box[1] && y < lr->box[1] + lr->box[3];
    }
}

static void csv_num(sbuf *b, double v, int fmt_int)
{
    if (!isfinite(v)) sb_printf(b, ",");
    else if (fmt_int) sb_printf(b, ",%.0f", v);
    else {
        sb_printf(b, ",");
        sb_num(b, v);
    }
}

static int overlay(const char *dir, const char *name, const float *map, const exp_pre_params *p, const exp_pre_result *r,
                   const io_dicom_image *img, const float *grey, int dh, int dw, const label_row *lr, const double peak[2],
                   wb_error *err)
{
    const size_t cn = (size_t)r->rows * r->cols;
    float mx = 0;
    for (size_t i = 0; i < cn; i++) mx = map[i] > mx ? map[i] : mx;
    float *norm = malloc(cn * sizeof *norm), *heat = malloc((size_t)dh * dw * sizeof *heat);
    if (!norm || !heat) {
        free(norm);
        free(heat);
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory for a map");
    }
    for (size_t i = 0; i < cn; i++) norm[i] = mx > 0 ? (map[i] > 0 ? map[i] / mx : 0) : 0;
    exp_pre_unmap(p, r, norm, img->rows, img->cols, dh, dw, -1.0f, heat);
    char label[32], path[PATH_MAX + 64];
    snprintf(label, sizeof label, "%.3g", (double)mx);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    const double sy = (double)dh / img->rows, sx = (double)dw / img->cols;
    double box[4], pk[2] = {(peak[0] + 0.5) * sy - 0.5, (peak[1] + 0.5) * sx - 0.5};
    if (lr->has_box) {
        box[0] = lr->box[0] * sx;
        box[1] = lr->box[1] * sy;
        box[2] = (lr->box[0] + lr->box[2]) * sx - 1;
        box[3] = (lr->box[1] + lr->box[3]) * sy - 1;
    }
    int rc = render(path, grey, heat, dh, dw, label, (const double(*)[4])box, lr->has_box ? 1 : 0, NULL, pk, err);
    free(norm);
    free(heat);
    return rc;
}

/* ---- patch runs: the run's own patches of a file, explained one by one ---- */

enum { MAX_BOXES = 64 };

/* The lesion boxes of the labels rows of the file resolved to real (data.patch.box's columns,
 * either form), as x0, y0, w, h in stored pixels (rows: the image's, for y_origin: bottom). */
static int patch_boxes(const labels *l, const exp_config *cfg, const char *real, int rows, double (*box)[4])
{
    const exp_settings_box *bc = &exp_config_get(cfg)->data.patch.box;
    wb_error ignore;
    const char *names[4] = {bc->centre ? bc->cx : bc->x, bc->centre ? bc->cy : bc->y, bc->centre ? bc->r : bc->w,
                            bc->centre ? bc->r : bc->h};
    long c[4];
    for (int k = 0; k < 4; k++)
        if (!names[k] || (c[k] = io_csv_column(&l->csv, names[k], &ignore)) < 0) return 0;
    int n = 0;
    for (size_t r = 0; l->ok && r < l->csv.n_rows && n < MAX_BOXES; r++) {
        if (!l->real[r] || strcmp(l->real[r], real)) continue;
        double v[4];
        if (!num_cell(l, r, c[0], &v[0]) || !num_cell(l, r, c[1], &v[1]) || !num_cell(l, r, c[2], &v[2]) ||
            !num_cell(l, r, c[3], &v[3]) || v[2] <= 0 || v[3] <= 0)
            continue;
        if (bc->centre) { /* centre and radius */
            const double cy = bc->y_bottom ? rows - v[1] : v[1];
            box[n][0] = v[0] - v[2];
            box[n][1] = cy - v[2];
            box[n][2] = box[n][3] = 2 * v[2];
        } else {
            box[n][0] = v[0];
            box[n][1] = bc->y_bottom ? rows - (v[1] + v[3]) : v[1];
            box[n][2] = v[2];
            box[n][3] = v[3];
        }
        n++;
    }
    return n;
}

/* The patch ids' prefix of a file: its SOP Instance UID (the labels' column, else the DICOM
 * header), else the labels' file cell (as the patch run names its patches). */
static void patch_prefixes(const labels *l, const char *real, char sop[80], char cell[1024])
{
    sop[0] = cell[0] = '\0';
    for (size_t r = 0; l->ok && r < l->csv.n_rows; r++) {
        if (!l->real[r] || strcmp(l->real[r], real)) continue;
        if (l->c_sop >= 0) snprintf(sop, 80, "%.64s", io_csv_cell(&l->csv, r, l->c_sop));
        snprintf(cell, 1024, "%.64s", io_csv_cell(&l->csv, r, l->c_file));
        break;
    }
    if (!sop[0]) {
        io_dicom_meta m;
        wb_error e;
        if (io_dicom_read_meta(real, &m, &e) == 0) snprintf(sop, 80, "%.64s", m.sop_uid);
    }
}

static int has_prefix(const char *id, const char *pre)
{
    size_t n = strlen(pre);
    return n && !strncmp(id, pre, n) && id[n] == '/';
}

/* A canvas position (cy, cx) of a patch (R x Cc, cut at r0, c0, side, mirrored when flipped)
 * in stored-image pixels. */
static void patch_to_stored(double cy, double cx, int R, int Cc, int r0, int c0, int side, int flipped, double at[2])
{
    double u = (cy + 0.5) * side / R - 0.5, v = (cx + 0.5) * side / Cc - 0.5;
    if (flipped) v = side - 1 - v;
    at[0] = r0 + u;
    at[1] = c0 + v;
}

typedef struct patch_ctx {
    nn_net *net, *rnd;
    int stage, C, cls;
    int occ_patch, occ_stride;
    const exp_pre_params *pp;
    float *x, *map, *rmap, *omap;
} patch_ctx;

typedef struct patch_out {
    double prob, logit, rs, peak[2], opeak[2];
    int cls, in_box, oin_box;
} patch_out;

/* The map's argmax in stored pixels, and whether it lies in one of the boxes (-1: none). */
static void patch_peak(const float *map, int R, int Cc, int r0, int c0, int side, int flipped, const double (*box)[4],
                       int nbox, double at[2], size_t *am_out, int *in_box)
{
    size_t am = 0;
    for (size_t i = 0; i < (size_t)R * Cc; i++)
        if (map[i] > map[am]) am = i;
    patch_to_stored((double)(am / (size_t)Cc), (double)(am % (size_t)Cc), R, Cc, r0, c0, side, flipped, at);
    *am_out = am;
    *in_box = nbox ? 0 : -1;
    const double y = floor(at[0] + 0.5), x = floor(at[1] + 0.5);
    for (int k = 0; k < nbox; k++)
        if (x >= box[k][0] && x < box[k][0] + box[k][2] && y >= box[k][1] && y < box[k][1] + box[k][3]) *in_box = 1;
}

/* The two views of one patch's map: patch_png (the patch as the network saw it, enlarged to at
 * least 128 pixels, the boxes' parts in it) and full_png (the stored image shown at most
 * max_size, the map inside the patch's square, the square in yellow, the boxes in green); the
 * white cross marks the map's peak. Either name may be NULL. */
static int patch_views(const char *dir, const char *patch_png, const char *full_png, const float *map, const float *pimg,
                       int R, int Cc, const float *img, int rows, int cols, int flipped, int r0, int c0, int side,
                       const double (*box)[4], int nbox, size_t am, const double peak[2], int max_size, wb_error *err)
{
    const size_t cn = (size_t)R * Cc;
    float mx = 0;
    for (size_t i = 0; i < cn; i++) mx = map[i] > mx ? map[i] : mx;
    char label[32], path[PATH_MAX + 64];
    snprintf(label, sizeof label, "%.3g", (double)mx);
    float *norm = malloc(cn * sizeof *norm);
    if (!norm) return wb_err(err, WB_E_NOMEM, NULL, "out of memory for a map");
    for (size_t i = 0; i < cn; i++) norm[i] = mx > 0 && map[i] > 0 ? map[i] / mx : 0;
    double b[MAX_BOXES][4];
    int rc = 0;
    if (patch_png) {
        const int big = R > Cc ? R : Cc, k = big >= 128 ? 1 : (128 + big - 1) / big, dh = R * k, dw = Cc * k;
        float *g = malloc((size_t)dh * dw * sizeof *g), *h = malloc((size_t)dh * dw * sizeof *h);
        if (!g || !h) rc = wb_err(err, WB_E_NOMEM, NULL, "out of memory for a patch view");
        for (int i = 0; rc == 0 && i < dh; i++)
            for (int j = 0; j < dw; j++) {
                g[(size_t)i * dw + j] = pimg[(size_t)(i / k) * Cc + j / k];
                h[(size_t)i * dw + j] = norm[(size_t)(i / k) * Cc + j / k];
            }
        for (int q = 0; q < nbox; q++) { /* the box in the patch's (possibly mirrored) canvas */
            double u0 = box[q][0] - c0, u1 = box[q][0] + box[q][2] - c0;
            if (flipped) {
                double t = side - u1;
                u1 = side - u0;
                u0 = t;
            }
            b[q][0] = u0 * Cc / side * k;
            b[q][1] = (box[q][1] - r0) * R / side * k;
            b[q][2] = u1 * Cc / side * k - 1;
            b[q][3] = (box[q][1] + box[q][3] - r0) * R / side * k - 1;
        }
        double pk[2] = {(double)(am / (size_t)Cc) * k + k / 2, (double)(am % (size_t)Cc) * k + k / 2};
        snprintf(path, sizeof path, "%s/%s", dir, patch_png);
        if (rc == 0) rc = render(path, g, h, dh, dw, label, (const double(*)[4])b, nbox, NULL, pk, err);
        free(g);
        free(h);
    }
    if (rc == 0 && full_png) {
        int dh = rows, dw = cols;
        if (dh > max_size || dw > max_size) {
            double f = (double)(dh > dw ? dh : dw) / max_size;
            dh = (int)lround(dh / f) > 0 ? (int)lround(dh / f) : 1;
            dw = (int)lround(dw / f) > 0 ? (int)lround(dw / f) : 1;
        }
        float *g = malloc((size_t)dh * dw * sizeof *g), *h = malloc((size_t)dh * dw * sizeof *h);
        if (!g || !h) rc = wb_err(err, WB_E_NOMEM, NULL, "out of memory for an overlay");
        const double sy = (double)dh / rows, sx = (double)dw / cols;
        if (rc == 0) {
            shrink(img, rows, cols, g, dh, dw);
            for (int i = 0; i < dh; i++)
                for (int j = 0; j < dw; j++) {
                    const int y = (int)floor((i + 0.5) / sy), x = (int)floor((j + 0.5) / sx);
                    float v = -1.0f; /* outside the square: not seen by the network */
                    if (y >= r0 && y < r0 + side && x >= c0 && x < c0 + side) {
                        int u = y - r0, w = x - c0;
                        if (flipped) w = side - 1 - w;
                        int cy = (int)((u + 0.5) * R / side), cx = (int)((w + 0.5) * Cc / side);
                        cy = cy < R ? cy : R - 1;
                        cx = cx < Cc ? cx : Cc - 1;
                        v = norm[(size_t)cy * Cc + cx];
                    }
                    h[(size_t)i * dw + j] = v;
                }
            for (int q = 0; q < nbox; q++) {
                b[q][0] = box[q][0] * sx;
                b[q][1] = box[q][1] * sy;
                b[q][2] = (box[q][0] + box[q][2]) * sx - 1;
                b[q][3] = (box[q][1] + box[q][3]) * sy - 1;
            }
            const double sq[4] = {c0 * sx, r0 * sy, (c0 + side) * sx - 1, (r0 + side) * sy - 1};
            const double pk[2] = {(peak[0] + 0.5) * sy - 0.5, (peak[1] + 0.5) * sx - 0.5};
            snprintf(path, sizeof path, "%s/%s", dir, full_png);
            rc = render(path, g, h, dh, dw, label, (const double(*)[4])b, nbox, sq, pk, err);
        }
        free(g);
        free(h);
    }
    free(norm);
    return rc;
}

/* One patch (r0, c0, side) of the decoded img under fr: cut as the run cut it, scored, its
 * Grad-CAM (and the sanity map, occlusion) and views. names: [0] Grad-CAM patch view, [1]
 * Grad-CAM full view, [2] and [3] the occlusion's (NULL: not written). */
static int patch_explain(const patch_ctx *pc, const float *img, int rows, int cols, const exp_pre_frame *fr, int r0,
                         int c0, int side, const double (*box)[4], int nbox, int max_size, const char *dir,
                         const char *const names[4], patch_out *po, wb_error *err)
{
    memset(po, 0, sizeof *po);
    po->rs = po->logit = NAN;
    po->opeak[0] = po->opeak[1] = NAN;
    po->oin_box = -1;
    exp_pre_result pr;
    if (exp_patch_make(img, fr, pc->pp, r0, c0, side, &pr, err) != 0) return -1;
    const int R = pr.rows, Cc = pr.cols;
    const size_t px = (size_t)R * Cc;
    for (int c = 0; c < pc->C; c++) memcpy(pc->x + (size_t)c * px, pr.image, px * sizeof *pc->x);
    po->cls = pc->cls;
    int rc = exp_foldnet_prob(pc->net, pc->x, R, Cc, pc->cls, &po->prob, &po->cls, err) != 0 ||
                     exp_gradcam(pc->net, pc->x, R, Cc, pc->stage, po->cls, pc->map, &po->logit, NULL, err) != 0
                 ? -1
                 : 0;
    if (rc == 0 && pc->rnd) {
        rc = exp_gradcam(pc->rnd, pc->x, R, Cc, pc->stage, po->cls, pc->rmap, NULL, NULL, err);
        if (rc == 0) po->rs = exp_saliency_spearman(pc->map, pc->rmap, px);
    }
    size_t am = 0;
    if (rc == 0) {
        patch_peak(pc->map, R, Cc, r0, c0, side, fr->flipped, box, nbox, po->peak, &am, &po->in_box);
        rc = patch_views(dir, names[0], names[1], pc->map, pr.image, R, Cc, img, rows, cols, fr->flipped, r0, c0, side, box,
                         nbox, am, po->peak, max_size, err);
    }
    if (rc == 0 && pc->occ_patch > 0) {
        rc = exp_occlusion(pc->net, pc->x, R, Cc, pc->occ_patch, pc->occ_stride > 0 ? pc->occ_stride : pc->occ_patch, 0.0f,
                           po->cls, pc->omap, NULL, err);
        if (rc == 0) {
            patch_peak(pc->omap, R, Cc, r0, c0, side, fr->flipped, box, nbox, po->opeak, &am, &po->oin_box);
            rc = patch_views(dir, names[2], names[3], pc->omap, pr.image, R, Cc, img, rows, cols, fr->flipped, r0, c0,
                             side, box, nbox, am, po->opeak, max_size, err);
        }
    }
    exp_pre_result_free(&pr);
    return rc;
}

/* The run's patches.csv (the rows keep asks for, in the file's order), and its columns. */
typedef struct patch_table {
    io_csv csv;
    long c_id, c_kind, c_label, c_fold, c_row, c_col, c_side;
} patch_table;

static int patch_table_read(const char *run_dir, io_csv_keep_fn keep, void *ctx, patch_table *t, wb_error *err)
{
    char p[PATH_MAX + 32];
    snprintf(p, sizeof p, "%s/patches.csv", run_dir);
    if (io_csv_read_rows(p, keep, ctx, &t->csv, err) != 0) return -1;
    const char *names[7] = {"patch", "kind", "label", "fold", "row", "col", "side"};
    long *cols[7] = {&t->c_id, &t->c_kind, &t->c_label, &t->c_fold, &t->c_row, &t->c_col, &t->c_side};
    for (int k = 0; k < 7; k++)
        if ((*cols[k] = io_csv_column(&t->csv, names[k], err)) < 0) {
            io_csv_free(&t->csv);
            return -1;
        }
    return 0;
}

/* Whether patches.csv row r's square is usable in a rows x cols image: (r0, c0, side) into out. */
static int patch_square(const patch_table *t, size_t r, int rows, int cols, int sq[3])
{
    sq[0] = atoi(io_csv_cell(&t->csv, r, t->c_row));
    sq[1] = atoi(io_csv_cell(&t->csv, r, t->c_col));
    sq[2] = atoi(io_csv_cell(&t->csv, r, t->c_side));
    return sq[2] >= 1 && sq[0] >= 0 && sq[1] >= 0 && sq[0] + sq[2] <= rows && sq[1] + sq[2] <= cols;
}

/* explain on a patch run: every patch the run cut from each file (patches.csv), explained by
 * the chosen fold's network. */
/* The end of an explain run: explain.csv written, then the images that failed (each already
 * printed) as one error naming the first. */
static int explain_finish(const sbuf *csv, const exp_explain_opts *o, const exp_explain_summary *sum,
                          const wb_error *first_bad, wb_error *err)
{
    if (sb_write(csv, o->out_dir, "explain.csv", err) != 0) return -1;
    if (sum->n_failed)
        return wb_err(err, WB_E_FAILED, first_bad->file, "%zu of %zu images could not be explained (the first: %s)",
                      sum->n_failed, o->n_files, first_bad->msg);
    return 0;
}

/* The patches.csv rows explain_patches keeps: those of the files explained (their ids start
 * with a file's SOP UID or labels cell), and each one's row number in the file. */
typedef struct patch_want {
    const char (*sop)[80];
    const char (*cell)[1024];
    size_t n;
    long c_id;
    size_t *row, nrow, cap;
} patch_want;

static int patch_keep(void *ctx, const io_csv_stream *s, wb_error *err)
{
    patch_want *w = ctx;
    wb_error ignore;
    if (w->c_id == -2) w->c_id = io_csv_column(&s->head, "patch", &ignore);
    if (w->c_id < 0) return 0; /* patch_table_read names the missing column */
    const char *id = io_csv_stream_cell(s, w->c_id);
    size_t k = 0;
    while (k < w->n && !has_prefix(id, w->sop[k]) && !has_prefix(id, w->cell[k])) k++;
    if (k == w->n) return 0;
    if (w->nrow == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 64, *p = realloc(w->row, cap * sizeof *p);
        if (!p) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        w->row = p;
        w->cap = cap;
    }
    w->row[w->nrow++] = s->n_rows - 1;
    return 1;
}

static int explain_patches(const exp_explain_opts *o, const exp_config *cfg, const patch_ctx *pc, const labels *lab,
                           const char *vname, exp_explain_summary *sum, sbuf *csv, wb_error *err)
{
    /* the patch ids' prefixes of each file first: patches.csv (a cohort's) is then read a row at
     * a time, keeping the rows of these files */
    char(*sops)[80] = calloc(o->n_files, sizeof *sops);
    char(*cells)[1024] = calloc(o->n_files, sizeof *cells);
    patch_want want = {NULL, NULL, o->n_files, -2, NULL, 0, 0};
    patch_table t;
    memset(&t, 0, sizeof t);
    int rc = -1;
    if (!sops || !cells) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (size_t fi = 0; fi < o->n_files; fi++) {
        char *real = realpath(o->files[fi], NULL);
        if (real) patch_prefixes(lab, real, sops[fi], cells[fi]);
        free(real);
    }
    want.sop = (const char(*)[80])sops;
    want.cell = (const char(*)[1024])cells;
    if (patch_table_read(o->run_dir, patch_keep, &want, &t, err) != 0) goto done;
    sb_printf(csv, "file,patch,kind,label,variant,repeat,fold,patch_fold,stage,class,probability,logit,row,col,side,"
                   "peak_row,peak_col,peak_in_box,occlusion_peak_row,occlusion_peak_col,occlusion_peak_in_box,"
                   "random_spearman,png,patch_png\n");
    wb_error first_bad = {0};
    for (size_t fi = 0; fi < o->n_files; fi++) {
        const char *file = o->files[fi];
        wb_error fe = {0};
        int engine_failed = 0;
        char *real = realpath(file, NULL);
        char sop[80], cell[1024];
        float *img = NULL;
        int rows = 0, cols = 0;
        exp_pre_frame fr;
        memset(&fr, 0, sizeof fr);
        label_row lr;
        labels_find(lab, file, &lr);
        size_t n_here = 0;
        if (!real) {
            wb_err(&fe, WB_E_IO, file, "cannot open: %s", strerror(errno));
        } else if (memcpy(sop, sops[fi], sizeof sop), memcpy(cell, cells[fi], sizeof cell),
                   exp_patch_source(cfg, real, lr.laterality, &img, &rows, &cols, &fr, &fe) == 0) {
            double box[MAX_BOXES][4];
            const int nbox = patch_boxes(lab, cfg, real, rows, box);
            char stem[256];
            out_stem(o->files, fi, stem);
            for (size_t r = 0; r < t.csv.n_rows; r++) {
                const char *id = io_csv_cell(&t.csv, r, t.c_id);
                if (!has_prefix(id, sop) && !has_prefix(id, cell)) continue;
                int sq[3];
                if (!patch_square(&t, r, rows, cols, sq)) {
                    wb_err(&fe, WB_E_DATA, file, "patches.csv row %zu: the square of %s does not fit the %dx%d image",
                           want.row[r] + 2, id, cols, rows);
                    break;
                }
                const char *tag = strrchr(id, '/') + 1; /* L1, B2 */
                char n0[400], n1[400], n2[400], n3[400];
                snprintf(n0, sizeof n0, "%s_%s_gradcam_patch.png", stem, tag);
                snprintf(n1, sizeof n1, "%s_%s_gradcam.png", stem, tag);
                snprintf(n2, sizeof n2, "%s_%s_occlusion_patch.png", stem, tag);
                snprintf(n3, sizeof n3, "%s_%s_occlusion.png", stem, tag);
                const char *names[4] = {n0, n1, n2, n3};
                patch_out po;
                const int lesion = !strcmp(io_csv_cell(&t.csv, r, t.c_kind), "lesion");
                /* a lesion patch's peak is checked against the file's boxes; a background patch has none */
                if (patch_explain(pc, img, rows, cols, &fr, sq[0], sq[1], sq[2], (const double(*)[4])box,
                                  lesion ? nbox : 0, o->max_size, o->out_dir, names, &po, err) != 0) {
                    engine_failed = 1; /* the engine or the output failed: not the file's fault */
                    break;
                }
                n_here++;
                if (lesion && nbox) {
                    sum->n_box++;
                    sum->n_peak_in_box += po.in_box == 1;
                }
                sb_csv(csv, file);
                sb_printf(csv, ",");
                sb_csv(csv, id);
                sb_printf(csv, ",%s,%s,", io_csv_cell(&t.csv, r, t.c_kind), io_csv_cell(&t.csv, r, t.c_label));
                sb_csv(csv, vname);
                sb_printf(csv, ",%d,%d,%s,%s,%d", o->repeat, o->fold, io_csv_cell(&t.csv, r, t.c_fold), sum->stage, po.cls);
                csv_num(csv, po.prob, 0);
                csv_num(csv, po.logit, 0);
                sb_printf(csv, ",%d,%d,%d", sq[0], sq[1], sq[2]);
                csv_num(csv, po.peak[0], 0);
                csv_num(csv, po.peak[1], 0);
                csv_num(csv, po.in_box >= 0 ? po.in_box : NAN, 1);
                csv_num(csv, po.opeak[0], 0);
                csv_num(csv, po.opeak[1], 0);
                csv_num(csv, po.oin_box >= 0 ? po.oin_box : NAN, 1);
                csv_num(csv, po.rs, 0);
                sb_printf(csv, ",");
                sb_csv(csv, n1);
                sb_printf(csv, ",");
                sb_csv(csv, n0);
                sb_printf(csv, "\n");
            }
            if (!fe.code && n_here == 0)
                wb_err(&fe, WB_E_DATA, file, "the run cut no patch from this file (patches.csv has no patch %s/...): "
                       "a file of the run's labels with a box, or a negative image without one", sop[0] ? sop : cell);
        }
        free(real);
        free(img);
        exp_pre_frame_free(&fr);
        if (engine_failed) goto done;
        if (fe.code) {
            if (!fe.file[0]) snprintf(fe.file, sizeof fe.file, "%s", file);
            wb_error_print(&fe, stderr);
            if (!sum->n_failed++) first_bad = fe;
            continue;
        }
        sum->n_done++;
        sum->n_patches += n_here;
    }
    rc = explain_finish(csv, o, sum, &first_bad, err);
done:
    io_csv_free(&t.csv);
    free(want.row);
    free(sops);
    free(cells);
    return rc;
}

int exp_explain_run(const exp_explain_opts *o, exp_explain_summary *sum, wb_error *err)
{
    memset(sum, 0, sizeof *sum);
    struct stat st;
    char cpath[PATH_MAX + 32];
    if (!o->run_dir || stat(o->run_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return wb_err(err, WB_E_IO, o->run_dir, "not a run directory: %s", o->run_dir && stat(o->run_dir, &st) != 0 ? strerror(errno) : "not a directory");
    snprintf(cpath, sizeof cpath, "%s/" EXP_RD_CONFIG, o->run_dir);
    if (stat(cpath, &st) != 0)
        return wb_err(err, WB_E_IO, cpath, "not a run directory (no resolved config.yaml): %s", strerror(errno));
    if (!o->out_dir || !o->out_dir[0]) return wb_err(err, WB_E_USAGE, NULL, "explain: no output directory (--out DIR)");
    if (o->n_files == 0) return wb_err(err, WB_E_USAGE, NULL, "explain: no image files given");
    if (o->max_size < 64 || o->max_size > 16384)
        return wb_err(err, WB_E_USAGE, NULL, "explain: --max-size %d: expected 64 to 16384", o->max_size);
    exp_config *cfg = NULL;
    if (exp_config_load(cpath, NULL, 0, &cfg, err) != 0) return -1;
    nn_net *net = NULL, *rnd = NULL;
    wb_tensor_list w;
    wb_tensor_list_init(&w);
    labels lab;
    memset(&lab, 0, sizeof lab);
    sbuf csv = {0};
    float *x = NULL, *map = NULL, *rmap = NULL, *omap = NULL;
    int rc = -1;
    const exp_settings *conf = exp_config_get(cfg);
    const char *vname = NULL;
    if (exp_foldnet_variant(cfg, cpath, o->variant, "explain", &vname, err) != 0) goto done;
    snprintf(sum->variant, sizeof sum->variant, "%s", vname);
    const long folds = conf->cv.folds, repeats = conf->cv.repeats;
    if (o->fold < 0 || o->fold >= folds || o->repeat < 0 || o->repeat >= (repeats > 0 ? repeats : 1)) {
        wb_err(err, WB_E_USAGE, cpath, "fold %d of repeat %d: the run has folds 0 to %ld and repeats 0 to %ld", o->fold,
               o->repeat, folds - 1, (repeats > 0 ? repeats : 1) - 1);
        goto done;
    }
    /* the fold's saved network */
    exp_foldnet_path(o->run_dir, o->repeat, o->fold, vname, sum->weights, sizeof sum->weights);
    if (stat(sum->weights, &st) != 0) {
        wb_err(err, WB_E_IO, sum->weights, "no saved network for variant %s, repeat %d, fold %d: %s; the run keeps its fold "
               "networks only with train.save_weights: true (run it again with --set train.save_weights=true)", vname,
               o->repeat, o->fold, strerror(errno));
        goto done;
    }
    if (io_weights_read(sum->weights, &w, err) != 0) goto done;
    nn_set_threads(conf->threads);
    exp_pre_set_threads(conf->threads);
    if (!(net = exp_foldnet_load(cfg, &w, sum->weights, 0, 1, err))) goto done;
    int stage = exp_saliency_stage(net, o->stage, err);
    if (stage < 0) goto done;
    snprintf(sum->stage, sizeof sum->stage, "%s", nn_net_stage_name(net, stage));
    if (o->sanity && !(rnd = exp_foldnet_load(cfg, &w, sum->weights, 0x5A17CE11ull, 0, err))) goto done;
    const int K = nn_net_num_classes(net), C = nn_net_in_channels(net);
    if (o->cls >= K) {
        wb_err(err, WB_E_USAGE, NULL, "explain: class %d of a %d-class network", o->cls, K);
        goto done;
    }
    exp_pre_params pp;
    exp_dataset_pre_params(cfg, &pp);
    if (io_fs_mkdirs(o->out_dir, err) != 0) goto done;
    {
        /* the labels rows of the files explained (the file is a cohort's: read a row at a time) */
        char **fr = calloc(o->n_files, sizeof *fr);
        strset reals = {(const char **)fr, 0};
        for (size_t fi = 0; fr && fi < o->n_files; fi++)
            if ((fr[reals.n] = realpath(o->files[fi], NULL)) != NULL) reals.n++;
        strset_sort(&reals);
        labels_want want = {.reals = &reals};
        labels_load(cfg, &lab, &want);
        for (size_t k = 0; fr && k < reals.n; k++) free(fr[k]);
        free(fr);
    }
    const size_t px = (size_t)pp.out_rows * pp.out_cols;
    x = malloc((size_t)C * px * sizeof *x);
    map = malloc(px * sizeof *map);
    rmap = malloc(px * sizeof *rmap);
    omap = malloc(px * sizeof *omap);
    if (!x || !map || !rmap || !omap) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    if (conf->data.task == EXP_TASK_PATCH) { /* the run's own patches of each file */
        sum->patch = 1;
        const patch_ctx pc = {net, rnd, stage, C, o->cls, o->occ_patch, o->occ_stride, &pp, x, map, rmap, omap};
        rc = explain_patches(o, cfg, &pc, &lab, vname, sum, &csv, err);
        goto done;
    }
    sb_printf(&csv, "file,label,variant,repeat,fold,stage,class,probability,logit,peak_row,peak_col,bbox_x,bbox_y,bbox_w,"
                    "bbox_h,peak_in_box,occlusion_peak_row,occlusion_peak_col,occlusion_peak_in_box,random_spearman,png\n");
    wb_error first_bad = {0};
    for (size_t fi = 0; fi < o->n_files; fi++) {
        const char *file = o->files[fi];
        label_row lr;
        labels_find(&lab, file, &lr);
        io_dicom_image img;
        exp_pre_result r;
        wb_error fe = {0};
        if (exp_dataset_preprocess_file(cfg, file, lr.laterality, &img, &r, &fe) != 0) {
            if (!fe.file[0]) snprintf(fe.file, sizeof fe.file, "%s", file);
            wb_error_print(&fe, stderr);
            if (!sum->n_failed++) first_bad = fe;
            continue;
        }
        for (int c = 0; c < C; c++) memcpy(x + (size_t)c * px, r.image, px * sizeof *x);
        int cls = o->cls;
        double logit = NAN, prob = NAN, rs = NAN;
        int bad = exp_foldnet_prob(net, x, r.rows, r.cols, o->cls, &prob, &cls, err) != 0;
        bad = bad || exp_gradcam(net, x, r.rows, r.cols, stage, cls, map, &logit, NULL, err) != 0;
        if (!bad && rnd) {
            bad = exp_gradcam(rnd, x, r.rows, r.cols, stage, cls, rmap, NULL, NULL, err) != 0;
            if (!bad) rs = exp_saliency_spearman(map, rmap, px);
        }
        if (!bad && o->occ_patch > 0)
            bad = exp_occlusion(net, x, r.rows, r.cols, o->occ_patch, o->occ_stride > 0 ? o->occ_stride : o->occ_patch,
                                0.0f, cls, omap, NULL, err) != 0;
        char stem[256], name[300];
        out_stem(o->files, fi, stem);
        double peak[2] = {NAN, NAN}, opeak[2] = {NAN, NAN};
        int in_box = -1, oin_box = -1;
        int dh = img.rows, dw = img.cols;
        if (dh > o->max_size || dw > o->max_size) {
            double f = (double)(dh > dw ? dh : dw) / o->max_size;
            dh = (int)lround(dh / f);
            dw = (int)lround(dw / f);
            dh = dh < 1 ? 1 : dh;
            dw = dw < 1 ? 1 : dw;
        }
        float *grey = bad ? NULL : malloc((size_t)dh * dw * sizeof *grey);
        if (!bad && !grey) bad = wb_err(err, WB_E_NOMEM, NULL, "out of memory") != 0;
        if (!bad) {
            shrink(img.pixels, img.rows, img.cols, grey, dh, dw);
            peak_of(map, &pp, &r, &lr, peak, &in_box);
            snprintf(name, sizeof name, "%s_gradcam.png", stem);
            bad = overlay(o->out_dir, name, map, &pp, &r, &img, grey, dh, dw, &lr, peak, err) != 0;
        }
        if (!bad && o->occ_patch > 0) {
            peak_of(omap, &pp, &r, &lr, opeak, &oin_box);
            char oname[320];
            snprintf(oname, sizeof oname, "%s_occlusion.png", stem);
            bad = overlay(o->out_dir, oname, omap, &pp, &r, &img, grey, dh, dw, &lr, opeak, err) != 0;
        }
        free(grey);
        io_dicom_image_free(&img);
        exp_pre_result_free(&r);
        if (bad) goto done; /* the engine or the output failed: not the file's fault */
        sum->n_done++;
        if (lr.has_box) {
            sum->n_box++;
            sum->n_peak_in_box += in_box == 1;
        }
        sb_csv(&csv, file);
        sb_printf(&csv, ",");
        sb_csv(&csv, lr.label);
        sb_printf(&csv, ",");
        sb_csv(&csv, vname);
        sb_printf(&csv, ",%d,%d,%s,%d", o->repeat, o->fold, sum->stage, cls);
        csv_num(&csv, prob, 0);
        csv_num(&csv, logit, 0);
        csv_num(&csv, peak[0], 0);
        csv_num(&csv, peak[1], 0);
        for (int j = 0; j < 4; j++) csv_num(&csv, lr.has_box ? lr.box[j] : NAN, 1);
        csv_num(&csv, in_box >= 0 ? in_box : NAN, 1);
        csv_num(&csv, opeak[0], 0);
        csv_num(&csv, opeak[1], 0);
        csv_num(&csv, oin_box >= 0 ? oin_box : NAN, 1);
        csv_num(&csv, rs, 0);
        sb_printf(&csv, ",");
        sb_csv(&csv, name);
        sb_printf(&csv, "\n");
    }
    rc = explain_finish(&csv, o, sum, &first_bad, err);
done:
    sb_free(&csv);
    labels_free(&lab);
    free(x);
    free(map);
    free(rmap);
    free(omap);
    nn_net_free(net);
    nn_net_free(rnd);
    wb_tensor_list_free(&w);
    exp_config_free(cfg);
    return rc;
}

/* ---- the case gallery ---- */

/* A case: a predictions.csv row of a variant that is a true positive, false positive or false
 * negative, and what the gallery needs of it. */
typedef struct gcase {
    size_t row; /* predictions.csv row: the last tie-break, the order a stable sort of the rows kept */
    double score;
    char *sop, *patient, *score_t, *thr_t; /* the row's cells */
    int rep, fold;
    char key[96]; /* its image's key in the labels: the SOP UID (a patch's: before the last '/') */
} gcase;

static int cmp_desc(const void *a, const void *b)
{
    const gcase *x = a, *y = b;
    const int c = x->score > y->score ? -1 : x->score < y->score ? 1 : strcmp(x->sop, y->sop);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

static int cmp_asc(const void *a, const void *b)
{
    const gcase *x = a, *y = b;
    const int c = x->score < y->score ? -1 : x->score > y->score ? 1 : strcmp(x->sop, y->sop);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* One variant's cases of one kind (0 tp, 1 fp, 2 fn), best first (highest score; fn: lowest):
 * the first keep of the total the file has. */
typedef struct glist {
    const char *vname;
    int kind;
    gcase *c; /* m of them, room for 2 keep */
    size_t m, keep, total;
} glist;

static void gcase_free(gcase *g)
{
    free(g->sop);
    free(g->patient);
    free(g->score_t);
    free(g->thr_t);
}

static void glist_clear(glist *l)
{
    for (size_t i = 0; i < l->m; i++) gcase_free(&l->c[i]);
    l->m = l->total = 0;
}

/* Sorted, the first keep kept. */
static void glist_trim(glist *l)
{
    if (l->m) qsort(l->c, l->m, sizeof *l->c, l->kind == 2 ? cmp_asc : cmp_desc);
    const size_t m = l->m;
    l->m = l->keep < m ? l->keep : m;
    for (size_t i = l->m; i < m; i++) gcase_free(&l->c[i]);
}

/* The columns gallery_scan reads, in the order their absence is reported. */
enum { G_REP, G_FOLD, G_VAR, G_SOP, G_PAT, G_LAB, G_SCORE, G_THR, G_NCOL };

static int glist_push(glist *l, const io_csv_stream *s, const long *c, double sc, int patch)
{
    if (l->m == 2 * l->keep) glist_trim(l);
    if (!l->c && !(l->c = calloc(2 * l->keep, sizeof *l->c))) return -1;
    gcase *g = &l->c[l->m];
    g->row = s->n_rows - 1;
    g->score = sc;
    g->sop = strdup(io_csv_stream_cell(s, c[G_SOP]));
    g->patient = strdup(io_csv_stream_cell(s, c[G_PAT]));
    g->score_t = strdup(io_csv_stream_cell(s, c[G_SCORE]));
    g->thr_t = strdup(io_csv_stream_cell(s, c[G_THR]));
    g->rep = atoi(io_csv_stream_cell(s, c[G_REP]));
    g->fold = atoi(io_csv_stream_cell(s, c[G_FOLD]));
    l->m++;
    l->total++;
    if (!g->sop || !g->patient || !g->score_t || !g->thr_t) return -1;
    snprintf(g->key, sizeof g->key, "%s", g->sop);
    char *slash = patch ? strrchr(g->key, '/') : NULL;
    if (slash) *slash = '\0';
    return 0;
}

/* Reads predictions.csv once, a row at a time: checks it (chk; NULL on a later read) and keeps
 * the best cases of the lists ls[0..nl) (only: the one list to fill, -1 all). The errors of a
 * whole-file read, in its order: the file's, a missing column, then a bad cell. */
static int gallery_scan(const char *ppath, int patch, glist *ls, size_t nl, long only, exp_pred_check *chk, wb_error *err)
{
    io_csv_stream s;
    if (io_csv_stream_open(ppath, &s, err) != 0) return -1;
    static const char *const names[G_NCOL] = {EXP_RD_COL_REPEAT, EXP_RD_COL_FOLD,  EXP_RD_COL_VARIANT, EXP_RD_COL_SOP_UID,
                                              EXP_RD_COL_PATIENT, EXP_RD_COL_LABEL, EXP_RD_COL_SCORE,   EXP_RD_COL_THRESHOLD};
    long c[G_NCOL];
    wb_error col_err;
    int cols_ok = 1, r;
    for (int k = 0; k < G_NCOL && cols_ok; k++) cols_ok = (c[k] = io_csv_column(&s.head, names[k], &col_err)) >= 0;
    if (chk) exp_pred_check_init(chk, &s.head);
    while ((r = io_csv_stream_next(&s, err)) == 1) {
        if (chk) exp_pred_check_row(chk, &s);
        const char *sc_t = cols_ok ? io_csv_stream_cell(&s, c[G_SCORE]) : NULL;
        const char *th_t = cols_ok ? io_csv_stream_cell(&s, c[G_THR]) : NULL;
        if (!cols_ok || !strcmp(sc_t, "null") || !strcmp(th_t, "null")) continue; /* no score (the run could not compute one) */
        const int pos = !strcmp(io_csv_stream_cell(&s, c[G_LAB]), "1");
        const double sc = strtod(sc_t, NULL), th = strtod(th_t, NULL);
        const int above = sc >= th, kind = pos && above ? 0 : !pos && above ? 1 : pos && !above ? 2 : -1;
        for (size_t i = 0; kind >= 0 && i < nl; i++) {
            if ((only >= 0 && (size_t)only != i) || ls[i].kind != kind || strcmp(ls[i].vname, io_csv_stream_cell(&s, c[G_VAR])))
                continue;
            if (glist_push(&ls[i], &s, c, sc, patch) != 0) {
                io_csv_stream_close(&s);
                return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
            }
        }
    }
    io_csv_stream_close(&s);
    if (r < 0) return -1;
    if (!cols_ok) {
        *err = col_err;
        return -1;
    }
    /* the run wrote these; an edited or damaged file is named at its line, not read as zeros
     * (atoi, strtod) that pick other cases or a fold that wraps */
    if (chk && exp_pred_check_result(chk, err) != 0) return -1;
    for (size_t i = 0; i < nl; i++)
        if (only < 0 || (size_t)only == i) glist_trim(&ls[i]);
    return 0;
}

/* The rows of a CSV whose column col holds one of set. */
typedef struct cell_want {
    const char *col;
    const strset *set;
    long c;
    int looked;
} cell_want;

static int cell_keep(void *ctx, const io_csv_stream *s, wb_error *err)
{
    (void)err;
    cell_want *w = ctx;
    wb_error ignore;
    if (!w->looked) w->c = io_csv_column(&s->head, w->col, &ignore), w->looked = 1;
    return w->c >= 0 && strset_has(w->set, io_csv_stream_cell(s, w->c));
}

/* The keys (field: 0 the labels key, 1 the SOP UID or patch id) of every case kept, as a set. */
static int gallery_set(const glist *ls, size_t nl, int field, strset *k)
{
    size_t n = 0;
    for (size_t i = 0; i < nl; i++) n += ls[i].m;
    k->s = malloc((n ? n : 1) * sizeof *k->s);
    k->n = 0;
    if (!k->s) return -1;
    for (size_t i = 0; i < nl; i++)
        for (size_t j = 0; j < ls[i].m; j++) k->s[k->n++] = field ? ls[i].c[j].sop : ls[i].c[j].key;
    strset_sort(k);
    return 0;
}

static void hdr_sop_free(char ***hdr_sop, const labels *l)
{
    for (size_t r = 0; *hdr_sop && r < l->csv.n_rows; r++) free((*hdr_sop)[r]);
    free(*hdr_sop);
    *hdr_sop = NULL;
}

/* The labels rows and patches.csv rows the kept cases need (the files are a cohort's: each is
 * read a row at a time). The labels first keep the rows of the cases' keys (the CSV's
 * sop_instance_uid, else the DICOM header's, a patch run's file cell), then also every row of
 * the files these resolve to (labels_find and patch_boxes match by the file); patches.csv the
 * rows of the patch ids. lab->ok 0: the labels could not be read (a warning). */
static int gallery_rows(const exp_config *cfg, const char *run_dir, const glist *ls, size_t nl, int patch, labels *lab,
                        char ***hdr_sop, patch_table *pt, wb_error *err)
{
    hdr_sop_free(hdr_sop, lab);
    labels_free(lab);
    if (patch) io_csv_free(&pt->csv);
    strset keys = {0}, ids = {0}, reals = {0};
    labels first;
    memset(&first, 0, sizeof first);
    int rc = -1;
    if (gallery_set(ls, nl, 0, &keys) != 0 || gallery_set(ls, nl, 1, &ids) != 0) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    labels_want wa = {.sops = &keys, .cells = patch ? &keys : NULL, .hdr = 1};
    labels_load(cfg, &first, &wa);
    if (!first.ok) {
        rc = 0;
        goto done;
    }
    if (!(reals.s = malloc((first.csv.n_rows ? first.csv.n_rows : 1) * sizeof *reals.s))) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (size_t r = 0; r < first.csv.n_rows; r++)
        if (first.real[r]) reals.s[reals.n++] = first.real[r];
    strset_sort(&reals);
    labels_want wb = {.sops = &keys, .cells = patch ? &keys : NULL, .reals = &reals};
    labels_load(cfg, lab, &wb);
    cell_want cw = {"patch", &ids, -1, 0};
    rc = patch && lab->ok ? patch_table_read(run_dir, cell_keep, &cw, pt, err) : 0;
done:
    labels_free(&first);
    free(keys.s);
    free(ids.s);
    free(reals.s);
    return rc;
}

/* The labels row of a SOP Instance UID: the CSV's column, else the DICOM header (read once). */
static long labels_row_of_sop(labels *l, char ***hdr_sop, const char *sop)
{
    if (!l->ok) return -1;
    for (size_t r = 0; r < l->csv.n_rows; r++)
        if (l->c_sop >= 0 && !strcmp(io_csv_cell(&l->csv, r, l->c_sop), sop)) return (long)r;
    if (!*hdr_sop && !(*hdr_sop = calloc(l->csv.n_rows ? l->csv.n_rows : 1, sizeof **hdr_sop))) return -1;
    for (size_t r = 0; r < l->csv.n_rows; r++) {
        if (l->c_sop >= 0 && io_csv_cell(&l->csv, r, l->c_sop)[0]) continue; /* the CSV's value counts */
        if (!(*hdr_sop)[r] && l->real[r]) {
            io_dicom_meta m;
            wb_error e;
            (*hdr_sop)[r] = strdup(io_dicom_read_meta(l->real[r], &m, &e) == 0 ? m.sop_uid : "");
        }
        if ((*hdr_sop)[r] && !strcmp((*hdr_sop)[r], sop)) return (long)r;
    }
    return -1;
}

static void safe_name(const char *s, char *out, size_t n)
{
    size_t k = 0;
    for (; *s && k + 1 < n; s++)
        out[k++] = ((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-') ? *s : '_';
    out[k] = '\0';
}

int exp_explain_gallery(const char *run_dir, int n, const char *stage_name, int max_size, size_t *shown, wb_error *err)
{
    *shown = 0;
    struct stat st;
    char cpath[PATH_MAX + 32], gdir[PATH_MAX + 32], ppath[PATH_MAX + 32];
    if (n < 1 || n > 50) return wb_err(err, WB_E_USAGE, NULL, "explain --gallery %d: expected 1 to 50 cases of each kind", n);
    if (max_size < 64 || max_size > 16384) return wb_err(err, WB_E_USAGE, NULL, "explain: --max-size %d: expected 64 to 16384", max_size);
    if (!run_dir || stat(run_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return wb_err(err, WB_E_IO, run_dir, "not a run directory: %s", run_dir && stat(run_dir, &st) != 0 ? strerror(errno) : "not a directory");
    snprintf(cpath, sizeof cpath, "%s/" EXP_RD_CONFIG, run_dir);
    if (stat(cpath, &st) != 0) return wb_err(err, WB_E_IO, cpath, "not a run directory (no resolved config.yaml): %s", strerror(errno));
    exp_config *cfg = NULL;
    if (exp_config_load(cpath, NULL, 0, &cfg, err) != 0) return -1;
    labels lab;
    memset(&lab, 0, sizeof lab);
    char **hdr_sop = NULL;
    glist *ls = NULL;
    size_t nl = 0;
    patch_table pt;
    memset(&pt, 0, sizeof pt);
    sbuf csv = {0};
    float *x = NULL, *map = NULL;
    wb_tensor_list w;
    wb_tensor_list_init(&w);
    nn_net *net = NULL;
    int rc = -1;
    const exp_settings *conf = exp_config_get(cfg);
    if (conf->data.n_classes > 2) {
        wb_err(err, WB_E_USAGE, run_dir, "the gallery is for binary runs (true/false positives); this run has data.classes");
        goto done;
    }
    if (!conf->train.save_weights) {
        wb_err(err, WB_E_IO, cpath, "the run kept no fold networks (train.save_weights is false): run it again with --set "
               "train.save_weights=true for a gallery");
        goto done;
    }
    const int patch = conf->data.task == EXP_TASK_PATCH; /* cases are patches (patches.csv) */
    if (patch) { /* patches.csv checked first (read to its end, no row kept); its rows come with the cases' */
        strset none = {NULL, 0};
        cell_want cw = {"patch", &none, -1, 0};
        if (patch_table_read(run_dir, cell_keep, &cw, &pt, err) != 0) goto done;
    }
    /* predictions.csv is read a row at a time (a cohort's): each variant's best n cases of each
     * kind are kept, more if some are left out below */
    if (!(ls = calloc(3 * conf->n_variants + 1, sizeof *ls))) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (size_t v = 0; v < conf->n_variants; v++)
        for (int kind = 0; kind < 3 && conf->variants[v].type != EXP_VARIANT_BASELINE; kind++)
            ls[nl++] = (glist){conf->variants[v].name, kind, NULL, 0, (size_t)n, 0};
    snprintf(ppath, sizeof ppath, "%s/" EXP_RD_PREDICTIONS, run_dir);
    exp_pred_check chk;
    if (gallery_scan(ppath, patch, ls, nl, -1, &chk, err) != 0 ||
        gallery_rows(cfg, run_dir, ls, nl, patch, &lab, &hdr_sop, &pt, err) != 0)
        goto done;
    if (!lab.ok) {
        wb_err(err, WB_E_IO, conf->data.labels, "the labels CSV is needed to find the gallery's files");
        goto done;
    }
    snprintf(gdir, sizeof gdir, "%s/gallery", run_dir);
    if (io_fs_mkdirs(gdir, err) != 0) goto done;
    nn_set_threads(conf->threads);
    exp_pre_set_threads(conf->threads);
    exp_pre_params pp;
    exp_dataset_pre_params(cfg, &pp);
    const size_t px = (size_t)pp.out_rows * pp.out_cols;
    const int C = conf->backbone.in_channels;
    x = malloc((size_t)C * px * sizeof *x);
    map = malloc(px * sizeof *map);
    if (!x || !map) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    sb_printf(&csv, "variant,kind,rank,repeat,fold,patient,score,threshold,lesion_type,stage,png\n");
    for (size_t li = 0; li < nl; li++) {
        glist *l = &ls[li];
        const char *vname = l->vname;
        const int kind = l->kind;
        static const char *const kinds[3] = {"tp", "fp", "fn"};
        {
            int rank = 0;
            for (size_t i = 0; rank < n; i++) {
                if (i == l->m) { /* all kept cases seen: the next ones, if the file has more */
                    if (l->total <= l->m) break;
                    glist_clear(l);
                    free(l->c);
                    l->c = NULL;
                    l->keep *= 2;
                    if (gallery_scan(ppath, patch, ls, nl, (long)li, NULL, err) != 0 ||
                        gallery_rows(cfg, run_dir, ls, nl, patch, &lab, &hdr_sop, &pt, err) != 0)
                        goto done;
                    if (i >= l->m) break;
                }
                const gcase *g = &l->c[i];
                const char *key = g->key;
                size_t prow = 0;
                if (patch) { /* a patch: its image's SOP UID (or labels file) before the last '/' */
                    while (prow < pt.csv.n_rows && strcmp(io_csv_cell(&pt.csv, prow, pt.c_id), g->sop)) prow++;
                    if (prow == pt.csv.n_rows) {
                        wb_warn("gallery: patch %s is not in patches.csv: left out", g->sop);
                        continue;
                    }
                }
                long lr_i = labels_row_of_sop(&lab, &hdr_sop, key);
                for (size_t q = 0; patch && lr_i < 0 && q < lab.csv.n_rows; q++)
                    if (!strcmp(io_csv_cell(&lab.csv, q, lab.c_file), key)) lr_i = (long)q;
                if (lr_i < 0 || !lab.real[lr_i]) {
                    wb_warn("gallery: no file in the labels CSV for SOP Instance UID %s: left out", g->sop);
                    continue;
                }
                const int rep = g->rep, fold = g->fold;
                char wpath[PATH_MAX + 64];
                exp_foldnet_path(run_dir, rep, fold, vname, wpath, sizeof wpath);
                wb_tensor_list_free(&w);
                wb_tensor_list_init(&w);
                nn_net_free(net);
                net = NULL;
                if (stat(wpath, &st) != 0) {
                    wb_err(err, WB_E_IO, wpath, "no saved network for variant %s, repeat %d, fold %d: %s", vname, rep, fold,
                           strerror(errno));
                    goto done;
                }
                if (io_weights_read(wpath, &w, err) != 0 || !(net = exp_foldnet_load(cfg, &w, wpath, 0, 1, err))) goto done;
                int stage = exp_saliency_stage(net, stage_name, err);
                if (stage < 0) goto done;
                label_row lr;
                labels_find(&lab, lab.real[lr_i], &lr);
                char vsafe0[64], pname[160];
                safe_name(vname, vsafe0, sizeof vsafe0);
                snprintf(pname, sizeof pname, "%s_%s_%d.png", vsafe0, kinds[kind], rank + 1);
                if (patch) { /* the patch as the network saw it, its Grad-CAM and the boxes' parts */
                    float *pimg = NULL;
                    int prows = 0, pcols = 0, sq[3];
                    exp_pre_frame fr;
                    if (exp_patch_source(cfg, lab.real[lr_i], lr.laterality, &pimg, &prows, &pcols, &fr, err) != 0) goto done;
                    double box[MAX_BOXES][4];
                    const int lesion = !strcmp(io_csv_cell(&pt.csv, prow, pt.c_kind), "lesion");
                    const int nbox = lesion ? patch_boxes(&lab, cfg, lab.real[lr_i], prows, box) : 0;
                    const patch_ctx pc = {net, NULL, stage, C, 1, 0, 0, &pp, x, map, NULL, NULL};
                    const char *names[4] = {pname, NULL, NULL, NULL};
                    patch_out po;
                    int bad = !patch_square(&pt, prow, prows, pcols, sq)
                                  ? wb_err(err, WB_E_DATA, ppath, "patch %s: its square does not fit its %dx%d image",
                                           g->sop, pcols, prows) != 0
                                  : patch_explain(&pc, pimg, prows, pcols, &fr, sq[0], sq[1], sq[2],
                                                  (const double(*)[4])box, nbox, max_size, gdir, names, &po, err) != 0;
                    free(pimg);
                    exp_pre_frame_free(&fr);
                    if (bad) goto done;
                    rank++;
                    sb_csv(&csv, vname);
                    sb_printf(&csv, ",%s,%d,%d,%d,", kinds[kind], rank, rep, fold);
                    sb_csv(&csv, g->patient);
                    sb_printf(&csv, ",%s,%s,", g->score_t, g->thr_t);
                    sb_csv(&csv, lesion && lab.c_lesion >= 0 ? io_csv_cell(&lab.csv, (size_t)lr_i, lab.c_lesion) : "background");
                    sb_printf(&csv, ",%s,%s\n", nn_net_stage_name(net, stage), pname);
                    ++*shown;
                    continue;
                }
                io_dicom_image img;
                exp_pre_result pr;
                if (exp_dataset_preprocess_file(cfg, lab.real[lr_i], lr.laterality, &img, &pr, err) != 0) goto done;
                for (int c = 0; c < C; c++) memcpy(x + (size_t)c * px, pr.image, px * sizeof *x);
                int dh = img.rows, dw = img.cols;
                if (dh > max_size || dw > max_size) {
                    double f = (double)(dh > dw ? dh : dw) / max_size;
                    dh = (int)lround(dh / f) > 0 ? (int)lround(dh / f) : 1;
                    dw = (int)lround(dw / f) > 0 ? (int)lround(dw / f) : 1;
                }
                float *grey = malloc((size_t)dh * dw * sizeof *grey);
                double peak[2];
                int in_box;
                char vsafe[64], name[160];
                safe_name(vname, vsafe, sizeof vsafe);
                snprintf(name, sizeof name, "%s_%s_%d.png", vsafe, kinds[kind], rank + 1);
                int bad = !grey ? wb_err(err, WB_E_NOMEM, NULL, "out of memory") != 0
                                : exp_gradcam(net, x, pr.rows, pr.cols, stage, 1, map, NULL, NULL, err) != 0;
                if (!bad) {
                    shrink(img.pixels, img.rows, img.cols, grey, dh, dw);
                    peak_of(map, &pp, &pr, &lr, peak, &in_box);
                    bad = overlay(gdir, name, map, &pp, &pr, &img, grey, dh, dw, &lr, peak, err) != 0;
                }
                free(grey);
                io_dicom_image_free(&img);
                exp_pre_result_free(&pr);
                if (bad) goto done;
                rank++;
                sb_csv(&csv, vname);
                sb_printf(&csv, ",%s,%d,%d,%d,", kinds[kind], rank, rep, fold);
                sb_csv(&csv, g->patient);
                sb_printf(&csv, ",%s,%s,", g->score_t, g->thr_t);
                sb_csv(&csv, lab.c_lesion >= 0 ? io_csv_cell(&lab.csv, (size_t)lr_i, lab.c_lesion) : "");
                sb_printf(&csv, ",%s,%s\n", nn_net_stage_name(net, stage), name);
                ++*shown;
            }
        }
    }
    if (sb_write(&csv, gdir, "gallery.csv", err) != 0 || exp_report_write(run_dir, err) != 0) goto done;
    rc = 0;
done:
    io_csv_free(&pt.csv);
    hdr_sop_free(&hdr_sop, &lab);
    for (size_t i = 0; i < nl; i++) {
        glist_clear(&ls[i]);
        free(ls[i].c);
    }
    free(ls);
    free(x);
    free(map);
    sb_free(&csv);
    nn_net_free(net);
    wb_tensor_list_free(&w);
    labels_free(&lab);
    exp_config_free(cfg);
    return rc;
}
