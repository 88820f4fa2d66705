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
                  const double box[4], const double peak[2], wb_error *err)
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
    static const uint8_t white[3] = {255, 255, 255}, green[3] = {0, 230, 0};
    text(&c, bx, 2, scale, top_label, white);
    text(&c, bx, dh - 5 * scale - 2, scale, "0", white);
    if (box) rect(&c, (int)lround(box[0]), (int)lround(box[1]), (int)lround(box[2]), (int)lround(box[3]), scale + 1, green);
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
    long c_label, c_lat, c_bx, c_by, c_bw, c_bh, c_sop, c_lesion;
    int ok;
} labels;

static void labels_free(labels *l)
{
    for (size_t i = 0; l->ok && i < l->csv.n_rows; i++) free(l->real[i]);
    free(l->real);
    io_csv_free(&l->csv);
    memset(l, 0, sizeof *l);
}

/* Reads data.labels; a labels file that cannot be read only costs the boxes (a warning). */
static void labels_load(const exp_config *cfg, labels *l)
{
    memset(l, 0, sizeof *l);
    wb_error e = {0}, ignore;
    const exp_settings_data *sd = &exp_config_get(cfg)->data;
    const char *path = sd->labels, *dir = sd->dicom_dir;
    if (io_csv_read(path, &l->csv, &e) != 0) {
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
    l->real = calloc(l->csv.n_rows ? l->csv.n_rows : 1, sizeof *l->real);
    if (c_file < 0 || !l->real) {
        free(l->real);
        l->real = NULL;
        io_csv_free(&l->csv);
        return;
    }
    l->ok = 1;
    for (size_t r = 0; r < l->csv.n_rows; r++) {
        const char *f = io_csv_cell(&l->csv, r, c_file);
        char p[PATH_MAX + 8];
        if (f[0] == '/') snprintf(p, sizeof p, "%s", f);
        else snprintf(p, sizeof p, "%s/%s", dir ? dir : ".", f);
        l->real[r] = realpath(p, NULL);
    }
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
    int rc = render(path, grey, heat, dh, dw, label, lr->has_box ? box : NULL, pk, err);
    free(norm);
    free(heat);
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
    if (conf->data.task == EXP_TASK_PATCH) {
        wb_err(err, WB_E_USAGE, o->run_dir, "explain shows whole-image networks; this is a patch run (data.task: patch)");
        goto done;
    }
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
    labels_load(cfg, &lab);
    const size_t px = (size_t)pp.out_rows * pp.out_cols;
    x = malloc((size_t)C * px * sizeof *x);
    map = malloc(px * sizeof *map);
    rmap = malloc(px * sizeof *rmap);
    omap = malloc(px * sizeof *omap);
    if (!x || !map || !rmap || !omap) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
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
        stem_of(file, stem, sizeof stem);
        for (size_t j = 0; j < fi; j++) { /* two files of one name: the later ones get their position */
            char other[256];
            stem_of(o->files[j], other, sizeof other);
            if (!strcmp(other, stem)) {
                char t[256];
                snprintf(t, sizeof t, "%zu_%.200s", fi + 1, stem);
                memcpy(stem, t, sizeof stem);
                break;
            }
        }
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
    if (sb_write(&csv, o->out_dir, "explain.csv", err) != 0) goto done;
    if (sum->n_failed) {
        wb_err(err, WB_E_FAILED, first_bad.file, "%zu of %zu images could not be explained (the first: %s)", sum->n_failed,
               o->n_files, first_bad.msg);
        goto done;
    }
    rc = 0;
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

typedef struct gcase {
    size_t row;   /* predictions.csv row */
    double score;
    const char *sop;
} gcase;

static int cmp_desc(const void *a, const void *b)
{
    const gcase *x = a, *y = b;
    return x->score > y->score ? -1 : x->score < y->score ? 1 : strcmp(x->sop, y->sop);
}

static int cmp_asc(const void *a, const void *b)
{
    const gcase *x = a, *y = b;
    return x->score < y->score ? -1 : x->score > y->score ? 1 : strcmp(x->sop, y->sop);
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
    io_csv pred;
    memset(&pred, 0, sizeof pred);
    labels lab;
    memset(&lab, 0, sizeof lab);
    char **hdr_sop = NULL;
    gcase *cs = NULL;
    sbuf csv = {0};
    float *x = NULL, *map = NULL;
    wb_tensor_list w;
    wb_tensor_list_init(&w);
    nn_net *net = NULL;
    int rc = -1;
    const exp_settings *conf = exp_config_get(cfg);
    if (conf->data.task == EXP_TASK_PATCH) {
        wb_err(err, WB_E_USAGE, run_dir, "the gallery shows whole-image networks; this is a patch run (data.task: patch)");
        goto done;
    }
    if (conf->data.n_classes > 2) {
        wb_err(err, WB_E_USAGE, run_dir, "the gallery is for binary runs (true/false positives); this run has data.classes");
        goto done;
    }
    if (!conf->train.save_weights) {
        wb_err(err, WB_E_IO, cpath, "the run kept no fold networks (train.save_weights is false): run it again with --set "
               "train.save_weights=true for a gallery");
        goto done;
    }
    snprintf(ppath, sizeof ppath, "%s/" EXP_RD_PREDICTIONS, run_dir);
    if (io_csv_read(ppath, &pred, err) != 0) goto done;
    long c_rep = io_csv_column(&pred, EXP_RD_COL_REPEAT, err), c_fold = c_rep < 0 ? -1 : io_csv_column(&pred, EXP_RD_COL_FOLD, err);
    long c_var = c_fold < 0 ? -1 : io_csv_column(&pred, EXP_RD_COL_VARIANT, err);
    long c_sop = c_var < 0 ? -1 : io_csv_column(&pred, EXP_RD_COL_SOP_UID, err);
    long c_pat = c_sop < 0 ? -1 : io_csv_column(&pred, EXP_RD_COL_PATIENT, err);
    long c_lab = c_pat < 0 ? -1 : io_csv_column(&pred, EXP_RD_COL_LABEL, err);
    long c_score = c_lab < 0 ? -1 : io_csv_column(&pred, EXP_RD_COL_SCORE, err);
    long c_thr = c_score < 0 ? -1 : io_csv_column(&pred, EXP_RD_COL_THRESHOLD, err);
    if (c_thr < 0) goto done;
    labels_load(cfg, &lab);
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
    cs = malloc((pred.n_rows ? pred.n_rows : 1) * sizeof *cs);
    if (!x || !map || !cs) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    sb_printf(&csv, "variant,kind,rank,repeat,fold,patient,score,threshold,lesion_type,stage,png\n");
    for (size_t v = 0; v < conf->n_variants; v++) {
        if (conf->variants[v].type == EXP_VARIANT_BASELINE) continue;
        const char *vname = conf->variants[v].name;
        static const char *const kinds[3] = {"tp", "fp", "fn"};
        for (int kind = 0; kind < 3; kind++) {
            size_t m = 0;
            for (size_t r = 0; r < pred.n_rows; r++) {
                if (strcmp(io_csv_cell(&pred, r, c_var), vname)) continue;
                const int pos = !strcmp(io_csv_cell(&pred, r, c_lab), "1");
                const double sc = strtod(io_csv_cell(&pred, r, c_score), NULL), th = strtod(io_csv_cell(&pred, r, c_thr), NULL);
                const int above = sc >= th;
                if ((kind == 0 && pos && above) || (kind == 1 && !pos && above) || (kind == 2 && pos && !above))
                    cs[m++] = (gcase){r, sc, io_csv_cell(&pred, r, c_sop)};
            }
            qsort(cs, m, sizeof *cs, kind == 2 ? cmp_asc : cmp_desc);
            int rank = 0;
            for (size_t i = 0; i < m && rank < n; i++) {
                const size_t r = cs[i].row;
                long lr_i = labels_row_of_sop(&lab, &hdr_sop, cs[i].sop);
                if (lr_i < 0 || !lab.real[lr_i]) {
                    wb_warn("gallery: no file in the labels CSV for SOP Instance UID %s: left out", cs[i].sop);
                    continue;
                }
                const int rep = atoi(io_csv_cell(&pred, r, c_rep)), fold = atoi(io_csv_cell(&pred, r, c_fold));
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
                sb_csv(&csv, io_csv_cell(&pred, r, c_pat));
                sb_printf(&csv, ",%s,%s,", io_csv_cell(&pred, r, c_score), io_csv_cell(&pred, r, c_thr));
                sb_csv(&csv, lab.c_lesion >= 0 ? io_csv_cell(&lab.csv, (size_t)lr_i, lab.c_lesion) : "");
                sb_printf(&csv, ",%s,%s\n", nn_net_stage_name(net, stage), name);
                ++*shown;
            }
        }
    }
    if (sb_write(&csv, gdir, "gallery.csv", err) != 0 || exp_report_write(run_dir, err) != 0) goto done;
    rc = 0;
done:
    for (size_t r = 0; hdr_sop && r < lab.csv.n_rows; r++) free(hdr_sop[r]);
    free(hdr_sop);
    free(cs);
    free(x);
    free(map);
    sb_free(&csv);
    nn_net_free(net);
    wb_tensor_list_free(&w);
    labels_free(&lab);
    io_csv_free(&pred);
    exp_config_free(cfg);
    return rc;
}
