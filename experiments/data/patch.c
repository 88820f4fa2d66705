/* patch.c — lesion, background and sliding-window patches (data.task: patch). See patch.h. */
#include "experiments/data/patch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "experiments/data/cache.h"
#include "experiments/data/dataset.h"
#include "io/io_csv.h"
#include "io/io_dicom.h"
#include "io/io_image.h"
#include "io/io_itk.h"
#include "io/io_sha256.h"
#include "nets/nn.h"
#include "base/wb_log.h"
#include "base/wb_rng.h"

void exp_patch_integral(const uint8_t *mask, int rows, int cols, uint32_t *ii)
{
    const size_t w = (size_t)cols + 1;
    memset(ii, 0, w * sizeof *ii);
    for (int r = 0; r < rows; r++) {
        uint32_t run = 0;
        ii[(size_t)(r + 1) * w] = 0;
        for (int c = 0; c < cols; c++) {
            run += mask[(size_t)r * (size_t)cols + (size_t)c] != 0;
            ii[(size_t)(r + 1) * w + (size_t)c + 1] = ii[(size_t)r * w + (size_t)c + 1] + run;
        }
    }
}

double exp_patch_tissue(const uint32_t *ii, int cols, int r0, int c0, int side)
{
    const size_t w = (size_t)cols + 1;
    const size_t r1 = (size_t)r0 + (size_t)side, c1 = (size_t)c0 + (size_t)side;
    uint64_t s = (uint64_t)ii[r1 * w + c1] + ii[(size_t)r0 * w + (size_t)c0] - ii[(size_t)r0 * w + c1] -
                 ii[r1 * w + (size_t)c0];
    return (double)s / ((double)side * (double)side);
}

int exp_patch_grid(int n, int s, int st, int *pos)
{
    if (s > n || s < 1 || st < 1) return 0;
    int k = 0, last = -1;
    for (int p = 0; p <= n - s; p += st) {
        if (pos) pos[k] = p;
        last = p;
        k++;
    }
    if (last != n - s) {
        if (pos) pos[k] = n - s;
        k++;
    }
    return k;
}

int exp_patch_make(const float *img, const exp_pre_frame *fr, const exp_pre_params *p, int r0, int c0, int side,
                   exp_pre_result *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    if (side < 1 || r0 < 0 || c0 < 0 || r0 + side > fr->rows || c0 + side > fr->cols)
        return wb_err(err, WB_E_INTERNAL, NULL, "patch (%d, %d) of side %d is not inside the %dx%d image", r0, c0, side,
                      fr->rows, fr->cols);
    const int R = p->out_rows, C = p->out_cols;
    const size_t ss = (size_t)side * (size_t)side, on = (size_t)R * (size_t)C;
    float *sq = malloc(ss * sizeof *sq), *oimg = malloc(on * sizeof *oimg);
    uint8_t *sm = malloc(ss), *om = malloc(on), *fm = NULL;
    int rc = -1;
    if (!sq || !oimg || !sm || !om) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory for a patch of side %d", side);
        goto done;
    }
    /* window, clamp (NaN to 0), background to 0, mirrored as the whole image would be */
    const int pct = p->window == EXP_PRE_WINDOW_PERCENTILE;
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            const size_t at = (size_t)(r0 + y) * (size_t)fr->cols + (size_t)(c0 + x);
            float v = img[at];
            if (pct) v = (v - fr->lo) / fr->span;
            v = v > 0 ? (v < 1 ? v : 1) : 0;
            const uint8_t m = fr->mask[at];
            if (p->mask_background && !m) v = 0;
            const int dx = fr->flipped ? side - 1 - x : x;
            sq[(size_t)y * (size_t)side + (size_t)dx] = v;
            sm[(size_t)y * (size_t)side + (size_t)dx] = m;
        }
    if (exp_pre_resize(sq, side, side, oimg, R, C, p->antialias, err)) goto done;
    size_t area = 0;
    int mr0 = R, mc0 = C, mr1 = -1, mc1 = -1;
    for (int y = 0; y < R; y++)
        for (int x = 0; x < C; x++) { /* the mask at each output pixel's centre */
            int sy = (int)((y + 0.5) * side / R), sx = (int)((x + 0.5) * side / C);
            sy = sy < side ? sy : side - 1;
            sx = sx < side ? sx : side - 1;
            uint8_t m = sm[(size_t)sy * (size_t)side + (size_t)sx];
            om[(size_t)y * (size_t)C + (size_t)x] = m;
            if (m) {
                area++;
                mr0 = y < mr0 ? y : mr0;
                mr1 = y > mr1 ? y : mr1;
                mc0 = x < mc0 ? x : mc0;
                mc1 = x > mc1 ? x : mc1;
            }
        }
    if (p->clahe && io_itk_clahe(oimg, R, C, p->clahe_radius, p->clahe_alpha, p->clahe_beta, err)) goto done;
    for (size_t i = 0; i < on; i++) {
        float v = oimg[i];
        oimg[i] = v > 0 ? (v < 1 ? v : 1) : 0;
    }
    /* features inside the patch's part of the breast; a patch without breast pixels (a box
     * outside the mask) uses all of its pixels */
    const uint8_t *feat_mask = om;
    if (area == 0) {
        if (!(fm = malloc(on))) {
            wb_err(err, WB_E_NOMEM, NULL, "out of memory for a patch");
            goto done;
        }
        memset(fm, 1, on);
        feat_mask = fm;
    }
    double tf = wb_now();
    if (exp_pre_features(oimg, feat_mask, R, C, p, out->features, err)) goto done;
    out->feature_seconds = wb_now() - tf;
    out->features[EXP_PRE_F_SHAPE_AREA_FRACTION] = (double)area / (double)on;
    out->features[EXP_PRE_F_SHAPE_EXTENT] =
        area ? (double)area / ((double)(mr1 - mr0 + 1) * (double)(mc1 - mc0 + 1)) : 0;
    if (p->scale == EXP_PRE_SCALE_ZSCORE) {
        double mu = out->features[EXP_PRE_F_FO_MEAN], sd = out->features[EXP_PRE_F_FO_STD];
        if (!(sd > 1e-12)) sd = 1;
        for (size_t i = 0; i < on; i++) oimg[i] = (float)((oimg[i] - mu) / sd);
    } else if (p->scale == EXP_PRE_SCALE_IMAGENET) {
        for (size_t i = 0; i < on; i++) oimg[i] = (oimg[i] - 0.449f) / 0.226f;
    }
    out->rows = R;
    out->cols = C;
    out->image = oimg;
    out->mask = om;
    out->flipped = fr->flipped;
    snprintf(out->chest_wall_source, sizeof out->chest_wall_source, "patch");
    out->crop_box[0] = r0;
    out->crop_box[1] = c0;
    out->crop_box[2] = r0 + side;
    out->crop_box[3] = c0 + side;
    out->threshold = fr->threshold;
    oimg = NULL;
    om = NULL;
    rc = 0;
done:
    free(sq);
    free(sm);
    free(oimg);
    free(om);
    free(fm);
    if (rc) memset(out, 0, sizeof *out);
    return rc;
}

void exp_patch_set_free(exp_patch_set *ps)
{
    if (!ps) return;
    for (size_t i = 0; i < ps->n_images; i++) {
        free(ps->images[i].file);
        free(ps->images[i].group);
    }
    free(ps->images);
    free(ps->items);
    memset(ps, 0, sizeof *ps);
}

/* ---- loading ---- */

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void copy(char *dst, size_t n, const char *src)
{
    size_t l = src ? strlen(src) : 0;
    if (l >= n) l = n - 1;
    if (l) memcpy(dst, src, l);
    dst[l] = '\0';
}

/* Growing arrays of the load: patch items (dataset items + their images and features) and
 * windows (images and features only), appended to the dataset at the end. */
typedef struct grow {
    exp_item *items;
    exp_strpool strings; /* the items' strings */
    exp_patch_item *pitems, *witems;
    size_t *pslot, *wslot; /* each patch's and window's slot in the pixel store */
    double *feat, *wfeat;
    size_t n, cap, nw, wcap;
    exp_excluded *excl;
    size_t n_excl, excl_cap;
    exp_patch_image *images;
    size_t n_images, images_cap;
} grow;

/* The pixels of patches and windows in the order they are cut (a slot each): in memory while
 * they fit in data.memory_mb, then all of them in an unlinked spill file (exp_spill_open), as
 * whole-image runs keep theirs. The dataset reads them through ds->slot. */
typedef struct px_store {
    float *mem;          /* cap slots, NULL once spilled */
    size_t cap, n, px;   /* slots allocated and used; floats per slot */
    size_t budget;       /* data.memory_mb in bytes */
    int fd;              /* the spill file, -1 while in memory */
    const char *dir;     /* where the spill file goes (the cache directory, or NULL) */
} px_store;

/* A write to the spill file failed (errno e): WB_E_WRITE naming where the file is. */
static int spill_failed(const px_store *st, int e, wb_error *err)
{
    const char *t = getenv("TMPDIR");
    return wb_err(err, WB_E_WRITE, st->dir ? st->dir : t && t[0] ? t : "/tmp",
                  "cannot write the patches beyond data.memory_mb to the spill file in this directory "
                  "(or in $TMPDIR, else /tmp, when it could not be made here): %s",
                  strerror(e));
}

/* Stores v (st->px floats) in the next slot, *slot its number. 0 or -1 (err set). */
static int store_put(px_store *st, const float *v, size_t *slot, wb_error *err)
{
    const size_t bytes = st->px * sizeof *v;
    if (st->fd < 0 && (st->n + 1 > st->budget / bytes)) { /* over the budget: everything to disk */
        if (exp_spill_open(st->dir, &st->fd, err) != 0) return -1;
        int e = st->n ? exp_spill_io(st->fd, 1, st->mem, st->n * bytes, 0) : 0;
        if (e) return spill_failed(st, e, err);
        free(st->mem);
        st->mem = NULL;
        st->cap = 0;
        wb_log(WB_LOG_INFO, "data: the patches and windows take more than data.memory_mb (%zu MB): they are kept on disk",
               st->budget >> 20);
    }
    if (st->fd >= 0) {
        int e = exp_spill_io(st->fd, 1, (void *)v, bytes, (uint64_t)st->n * bytes);
        if (e) return spill_failed(st, e, err);
    } else if (st->n == st->cap) {
        size_t c = st->cap ? st->cap * 2 : 64, most = st->budget / bytes;
        if (c > most) c = most;
        float *q = realloc(st->mem, c * bytes);
        if (!q) return wb_err(err, WB_E_NOMEM, NULL, "out of memory for %zu patches and windows", st->n + 1);
        st->mem = q;
        st->cap = c;
    }
    if (st->fd < 0) memcpy(st->mem + st->n * st->px, v, bytes);
    *slot = st->n++;
    return 0;
}

static int grow_to(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static void grow_free(grow *g)
{
    exp_strpool_free(&g->strings);
    for (size_t i = 0; i < g->n_excl; i++) {
        free(g->excl[i].file);
        free(g->excl[i].reason);
        free(g->excl[i].path);
        free(g->excl[i].group);
    }
    for (size_t i = 0; i < g->n_images; i++) {
        free(g->images[i].file);
        free(g->images[i].group);
    }
    free(g->items);
    free(g->pitems);
    free(g->witems);
    free(g->pslot);
    free(g->wslot);
    free(g->feat);
    free(g->wfeat);
    free(g->excl);
    free(g->images);
    memset(g, 0, sizeof *g);
}

/* Lists image im as excluded with the reason; outputs show it as exp_dataset_out_file does
 * (the patient id pseudonymised), so the record carries the image's patient and CSV line. */
static int exclude(grow *g, const exp_patch_image *im, const char *reason, wb_error *err)
{
    size_t cap = g->excl_cap;
    if (grow_to((void **)&g->excl, &cap, g->n_excl + 1, sizeof *g->excl) != 0)
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    g->excl_cap = cap;
    exp_excluded *x = &g->excl[g->n_excl];
    memset(x, 0, sizeof *x);
    x->file = dup_str(im->file);
    x->reason = dup_str(reason);
    x->path = dup_str(im->file);
    x->group = dup_str(im->group ? im->group : "");
    memcpy(x->pseudonym, im->pseudonym, sizeof x->pseudonym);
    x->csv_line = im->csv_line;
    if (!x->file || !x->reason || !x->path || !x->group) {
        free(x->file);
        free(x->reason);
        free(x->path);
        free(x->group);
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    }
    g->n_excl++;
    wb_warn("excluded %s: %s", im->file, reason);
    return 0;
}

/* The box columns of data.patch.box. */
typedef struct box_cols {
    int centre;        /* cx, cy, r instead of x, y, w, h */
    int y_bottom;      /* y counts up from the last row */
    long c[4];         /* x, y, w, h or cx, cy, r, -1 */
} box_cols;

static int box_columns(const exp_config *cfg, const io_csv *csv, box_cols *bc, wb_error *err)
{
    const exp_settings_box *b = &exp_config_get(cfg)->data.patch.box;
    bc->y_bottom = b->y_bottom;
    bc->centre = b->centre;
    const char *const names[2][4] = {{b->x, b->y, b->w, b->h}, {b->cx, b->cy, b->r, NULL}};
    for (int k = 0; k < 4; k++) {
        bc->c[k] = -1;
        const char *col = names[bc->centre][k];
        if (k == 3 && bc->centre) continue;
        bc->c[k] = io_csv_column(csv, col, err);
        if (bc->c[k] < 0) return -1;
    }
    return 0;
}

/* first[r] = the first row of csv whose column c names the same file as row r. 0 or -1 (out of
 * memory). O(n log n): a cohort of 100,000 patch rows is not a scan per row. */
static int first_rows(const io_csv *csv, long c, size_t *first)
{
    exp_named_row *fr = malloc((csv->n_rows ? csv->n_rows : 1) * sizeof *fr);
    if (!fr) return -1;
    for (size_t r = 0; r < csv->n_rows; r++) fr[r] = (exp_named_row){io_csv_cell(csv, r, c), r};
    qsort(fr, csv->n_rows, sizeof *fr, exp_named_row_cmp);
    for (size_t i = 0; i < csv->n_rows; i++)
        first[fr[i].row] = i > 0 && !strcmp(fr[i - 1].name, fr[i].name) ? first[fr[i - 1].row] : fr[i].row;
    free(fr);
    return 0;
}

static int parse_num(const char *s, double *v)
{
    char *end;
    double d = strtod(s, &end);
    if (end == s || *end || !isfinite(d)) return 0;
    *v = d;
    return 1;
}

/* Row r's box as centre (cy, cx) and extent (bh, bw) in stored-image pixels. 0: no box (all
 * cells empty); 1: a box; -1: malformed (why says how). */
static int row_box(const io_csv *csv, size_t r, const box_cols *bc, int rows, double *cy, double *cx, double *bh,
                   double *bw, char *why, size_t why_n)
{
    const int nf = bc->centre ? 3 : 4;
    int empty = 0;
    double v[4] = {0};
    for (int k = 0; k < nf; k++) empty += io_csv_cell(csv, r, bc->c[k])[0] == '\0';
    if (empty == nf) return 0;
    for (int k = 0; k < nf; k++) {
        const char *cell = io_csv_cell(csv, r, bc->c[k]);
        if (!parse_num(cell, &v[k])) {
            snprintf(why, why_n, "box column '%s': expected a number, got '%.60s'", csv->header[bc->c[k]], cell);
            return -1;
        }
    }
    if (bc->centre) {
        if (v[2] <= 0) {
            snprintf(why, why_n, "box radius %g: expected a positive number", v[2]);
            return -1;
        }
        *cx = v[0];
        *cy = bc->y_bottom ? rows - v[1] : v[1];
        *bh = *bw = 2 * v[2];
    } else {
        if (v[2] <= 0 || v[3] <= 0) {
            snprintf(why, why_n, "box size %gx%g: expected a positive width and height", v[2], v[3]);
            return -1;
        }
        *cx = v[0] + v[2] / 2;
        *cy = bc->y_bottom ? rows - (v[1] + v[3] / 2) : v[1] + v[3] / 2;
        *bw = v[2];
        *bh = v[3];
    }
    return 1;
}

/* Decodes path (DICOM, or PNG/JPEG/PGM through io_image_read) to 0..1 pixels with the laterality, view, SOP UID and
 * pixel spacing it carries (for the item fields the CSV did not give). */
static int decode(const char *path, io_voi_mode voi, float **px, int *rows, int *cols, exp_patch_image *im,
                  double *spacing, wb_error *err)
{
    *px = NULL;
    *spacing = 0;
    io_dicom_options o;
    io_dicom_options_default(&o);
    o.voi = voi;
    io_dicom_image img;
    io_image_format fmt;
    if (io_image_read(path, &o, &img, &fmt, err) != 0) return -1;
    im->format = fmt;
    if (!im->sop_uid[0]) copy(im->sop_uid, sizeof im->sop_uid, img.meta.sop_uid);
    if (!im->laterality[0]) copy(im->laterality, sizeof im->laterality, img.meta.laterality);
    if (!im->view[0]) copy(im->view, sizeof im->view, img.meta.view_position);
    if (img.meta.has_pixel_spacing) *spacing = 0.5 * (img.meta.pixel_spacing[0] + img.meta.pixel_spacing[1]);
    size_t n = (size_t)img.rows * img.cols;
    if (voi == IO_VOI_IGNORE) {
        double lo = img.range_lo, span = img.range_hi > img.range_lo ? img.range_hi - img.range_lo : 1;
        for (size_t i = 0; i < n; i++) img.pixels[i] = (float)((img.pixels[i] - lo) / span);
    }
    *px = img.pixels;
    *rows = img.rows;
    *cols = img.cols;
    img.pixels = NULL;
    io_dicom_image_free(&img);
    return 0;
}

int exp_patch_source(const exp_config *cfg, const char *path, const char *laterality, float **img, int *rows, int *cols,
                     exp_pre_frame *fr, wb_error *err)
{
    *img = NULL;
    *rows = *cols = 0;
    memset(fr, 0, sizeof *fr);
    exp_patch_image im;
    memset(&im, 0, sizeof im);
    if (laterality) copy(im.laterality, sizeof im.laterality, laterality);
    exp_pre_params p;
    exp_dataset_pre_params(cfg, &p);
    const io_voi_mode voi = exp_config_get(cfg)->preprocess.voi == EXP_VOI_IGNORE ? IO_VOI_IGNORE : IO_VOI_APPLY;
    double spacing;
    if (exp_pre_params_check(&p, err) != 0 || decode(path, voi, img, rows, cols, &im, &spacing, err) != 0) return -1;
    if (exp_pre_frame_run(*img, *rows, *cols, im.laterality, &p, fr, err) != 0) {
        if (!err->file[0]) copy(err->file, sizeof err->file, path);
        free(*img);
        *img = NULL;
        return -1;
    }
    return 0;
}

/* The load's shared state. */
typedef struct loader {
    const exp_config *cfg;
    exp_pre_params p;
    io_voi_mode voi;
    exp_cache cache;
    int use_cache;
    size_t px, hits;
    grow g;
    px_store st;
    const char *labels;
    int fail_fast;
    int time_features;
    double feature_seconds;
} loader;

/* Adds a patch item (lesion or background) for image im at (r0, c0, side), through the cache. */
static int add_patch(loader *L, const float *img, const exp_pre_frame *fr, const uint8_t digest[32], size_t image,
                     const exp_patch_image *im, int kind, int label, int csv_line, int k, int r0,
                     int c0, int side, wb_error *err)
{
    grow *g = &L->g;
    size_t cap = g->cap, c2 = g->cap, c3 = g->cap, c4 = g->cap;
    if (grow_to((void **)&g->items, &cap, g->n + 1, sizeof *g->items) ||
        grow_to((void **)&g->pitems, &c2, g->n + 1, sizeof *g->pitems) ||
        grow_to((void **)&g->pslot, &c3, g->n + 1, sizeof *g->pslot) ||
        grow_to((void **)&g->feat, &c4, g->n + 1, EXP_PRE_N_FEATURES * sizeof *g->feat))
        return wb_err(err, WB_E_NOMEM, L->labels, "out of memory for %zu patches", g->n + 1);
    /* all four grew alike from the same capacity */
    g->cap = cap;
    exp_pre_result res;
    int status = EXP_CACHE_MISS;
    uint8_t ckey[IO_SHA256_SIZE];
    if (L->use_cache) { /* key: the file's bytes, the VOI mode and the square */
        char t[96];
        int tn = snprintf(t, sizeof t, "voi=%s patch r0=%d c0=%d side=%d", L->voi == IO_VOI_IGNORE ? "ignore" : "apply",
                          r0, c0, side);
        io_sha256 hc;
        io_sha256_init(&hc);
        io_sha256_update(&hc, digest, IO_SHA256_SIZE);
        io_sha256_update(&hc, t, (size_t)tn);
        io_sha256_final(&hc, ckey);
        char why[256];
        wb_error e;
        if (exp_cache_load(&L->cache, ckey, &res, &status, why, sizeof why, &e) != 0) status = EXP_CACHE_MISS;
        else if (status == EXP_CACHE_DAMAGED) wb_warn("cache entry for a patch of %s is damaged (%s): recomputed", im->file, why);
    }
    if (status == EXP_CACHE_HIT) {
        L->hits++;
    } else {
        if (exp_patch_make(img, fr, &L->p, r0, c0, side, &res, err) != 0) return -1;
        wb_error se;
        if (L->use_cache && exp_cache_store(&L->cache, ckey, &res, &se) != 0)
            wb_warn("cannot store a patch of %s in the cache: %s", im->file, se.msg);
    }
    if (L->time_features) L->feature_seconds += res.feature_seconds;
    exp_item *it = &g->items[g->n];
    memset(it, 0, sizeof *it);
    char uid[EXP_ITEM_UID_MAX + 1];
    snprintf(uid, sizeof uid, "%.64s/%c%d", im->sop_uid[0] ? im->sop_uid : im->file, kind == EXP_PATCH_LESION ? 'L' : 'B',
             k + 1);
    if (!(it->file = exp_strpool_add(&g->strings, im->file, SIZE_MAX)) ||
        !(it->group = exp_strpool_add(&g->strings, im->group, SIZE_MAX)) ||
        !(it->sop_uid = exp_strpool_add(&g->strings, uid, SIZE_MAX)) ||
        !(it->laterality = exp_strpool_add(&g->strings, im->laterality, EXP_ITEM_LATERALITY_MAX)) ||
        !(it->view = exp_strpool_add(&g->strings, im->view, EXP_ITEM_VIEW_MAX))) {
        exp_pre_result_free(&res);
        return wb_err(err, WB_E_NOMEM, L->labels, "out of memory");
    }
    memcpy(it->pseudonym, im->pseudonym, sizeof it->pseudonym);
    it->format = (uint8_t)im->format; /* the file it was cut from */
    memcpy(it->sha256, digest, sizeof it->sha256);
    it->label = label;
    it->csv_line = csv_line;
    it->split = im->split;
    exp_patch_item *pi = &g->pitems[g->n];
    pi->kind = kind;
    pi->image = image;
    pi->r0 = r0;
    pi->c0 = c0;
    pi->side = side;
    pi->grid = -1;
    memcpy(g->feat + g->n * EXP_PRE_N_FEATURES, res.features, sizeof res.features);
    const int rc = store_put(&L->st, res.image, &g->pslot[g->n], err);
    exp_pre_result_free(&res);
    if (rc) return -1;
    g->n++;
    return 0;
}

/* Windows made at once (their results held together: WIN_BATCH x ~46 KB at 96 x 96). */
#define WIN_BATCH 64

/* A batch of windows, made on the engine's thread pool: window i of [lo, hi) into res[i];
 * each piece stops at its first failure (its index in fail[ith], its error in err[ith]). */
typedef struct win_job {
    const loader *L;
    const float *img;
    const exp_pre_frame *fr;
    int side;
    const int *wy, *wx;
    exp_pre_result *res;
    size_t fail[EXP_PRE_MAX_THREADS];
    wb_error err[EXP_PRE_MAX_THREADS];
} win_job;

static void win_make(void *vc, int ith, size_t lo, size_t hi)
{
    win_job *j = vc;
    for (size_t i = lo; i < hi; i++)
        if (exp_patch_make(j->img, j->fr, &j->L->p, j->wy[i], j->wx[i], j->side, &j->res[i], &j->err[ith]) != 0) {
            j->fail[ith] = i;
            return;
        }
}

/* The sliding windows of image im (index image): every grid square with enough tissue, made in
 * batches of WIN_BATCH over the threads of preprocessing (exp_pre_threads; a window's result
 * does not depend on the thread that made it) and appended in grid order. */
static int add_windows(loader *L, const float *img, const exp_pre_frame *fr, const uint32_t *ii, size_t image,
                       exp_patch_image *im, double min_tissue, wb_error *err)
{
    grow *g = &L->g;
    const int s = im->side;
    int ny = exp_patch_grid(fr->rows, s, im->stride, NULL), nx = exp_patch_grid(fr->cols, s, im->stride, NULL);
    int *py = malloc((size_t)(ny ? ny : 1) * sizeof *py), *pxs = malloc((size_t)(nx ? nx : 1) * sizeof *pxs);
    int *wy = malloc(WIN_BATCH * sizeof *wy), *wx = malloc(WIN_BATCH * sizeof *wx), *wg = malloc(WIN_BATCH * sizeof *wg);
    win_job *j = calloc(1, sizeof *j);
    exp_pre_result *res = calloc(WIN_BATCH, sizeof *res);
    if (!py || !pxs || !wy || !wx || !wg || !j || !res) {
        free(py), free(pxs), free(wy), free(wx), free(wg), free(j), free(res);
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    }
    exp_patch_grid(fr->rows, s, im->stride, py);
    exp_patch_grid(fr->cols, s, im->stride, pxs);
    im->grid_rows = ny;
    im->grid_cols = nx;
    im->w0 = g->nw; /* relative to the windows for now; made a dataset index at the end */
    im->nw = 0;
    int rc = 0;
    long cell = 0;
    const long cells = (long)ny * nx;
    while (rc == 0 && cell < cells) {
        /* the next batch of squares with enough tissue, in grid order */
        size_t m = 0;
        for (; cell < cells && m < WIN_BATCH; cell++) {
            const int a = (int)(cell / nx), b = (int)(cell % nx);
            if (exp_patch_tissue(ii, fr->cols, py[a], pxs[b], s) < min_tissue) continue;
            wy[m] = py[a];
            wx[m] = pxs[b];
            wg[m] = (int)cell;
            m++;
        }
        if (!m) break;
        memset(res, 0, m * sizeof *res); /* a window a failed piece did not make frees nothing */
        *j = (win_job){.L = L, .img = img, .fr = fr, .side = s, .wy = wy, .wx = wx, .res = res};
        for (int t = 0; t < EXP_PRE_MAX_THREADS; t++) j->fail[t] = SIZE_MAX;
        nn_par_for(m, exp_pre_threads(), win_make, j);
        size_t fail = SIZE_MAX;
        int ft = -1;
        for (int t = 0; t < EXP_PRE_MAX_THREADS; t++)
            if (j->fail[t] < fail) {
                fail = j->fail[t];
                ft = t;
            }
        for (size_t i = 0; i < m; i++) {
            if (rc == 0 && i == fail) {
                *err = j->err[ft];
                rc = -1;
            }
            size_t c1 = g->wcap, c2 = g->wcap, c3 = g->wcap;
            if (rc == 0 && (grow_to((void **)&g->witems, &c1, g->nw + 1, sizeof *g->witems) ||
                            grow_to((void **)&g->wslot, &c2, g->nw + 1, sizeof *g->wslot) ||
                            grow_to((void **)&g->wfeat, &c3, g->nw + 1, EXP_PRE_N_FEATURES * sizeof *g->wfeat)))
                rc = wb_err(err, WB_E_NOMEM, L->labels, "out of memory for %zu windows", g->nw + 1);
            if (rc == 0) {
                g->wcap = c1;
                exp_patch_item *w = &g->witems[g->nw];
                w->kind = EXP_PATCH_WINDOW;
                w->image = image;
                w->r0 = wy[i];
                w->c0 = wx[i];
                w->side = s;
                w->grid = wg[i];
                memcpy(g->wfeat + g->nw * EXP_PRE_N_FEATURES, res[i].features, sizeof res[i].features);
                rc = store_put(&L->st, res[i].image, &g->wslot[g->nw], err);
                if (rc == 0) {
                    g->nw++;
                    im->nw++;
                }
            }
            exp_pre_result_free(&res[i]); /* zeroed when it was not made */
        }
    }
    free(py), free(pxs), free(wy), free(wx), free(wg), free(j), free(res);
    return rc;
}

/* A square of side s centred at (cy, cx), moved inside the image. */
static void place(double cy, double cx, int s, int rows, int cols, int *r0, int *c0)
{
    long r = lround(cy - s / 2.0), c = lround(cx - s / 2.0);
    r = r < 0 ? 0 : r > rows - s ? rows - s : r;
    c = c < 0 ? 0 : c > cols - s ? cols - s : c;
    *r0 = (int)r;
    *c0 = (int)c;
}

/* Everything of one image (its CSV rows rows[0..nr)): decode, frame, lesion or background
 * patches, windows. A problem with the data goes to *why (the image or the row is left out
 * under skip); -1 only for errors that stop the load (err set). */
static int load_image(loader *L, const io_csv *csv, const box_cols *bc, const size_t *rws, size_t nr, const char *path,
                      size_t image, uint64_t seed, wb_error *err)
{
    const exp_config *cfg = L->cfg;
    exp_patch_image *im = &L->g.images[image];
    const exp_settings_data *sd = &exp_config_get(cfg)->data;
    const exp_settings_patch *sp = &sd->patch;
    const double size = sp->size, jit = sp->jitter;
    const double stride = sp->stride, margin = sp->box_margin;
    const double min_tissue = sp->min_tissue;
    const int n_bg = sp->background;
    const int mm = sp->unit == EXP_PATCH_UNIT_MM;
    const int windows = sp->whole_image;
    float *img = NULL;
    uint32_t *ii = NULL;
    exp_pre_frame fr;
    memset(&fr, 0, sizeof fr);
    wb_error e;
    wb_error_clear(&e);
    uint8_t digest[IO_SHA256_SIZE];
    char msg[2400];
    int rows = 0, cols = 0, rc = 0;
    double spacing = 0;
    if (io_sha256_file(path, digest, &e) != 0 || decode(path, L->voi, &img, &rows, &cols, im, &spacing, &e) != 0 ||
        exp_pre_frame_run(img, rows, cols, im->laterality, &L->p, &fr, &e) != 0) {
        if (e.code == WB_E_NOMEM) {
            *err = e;
            rc = -1;
            goto done;
        }
        if (!e.file[0]) copy(e.file, sizeof e.file, path);
        wb_error_format(&e, msg, sizeof msg);
        goto bad_image;
    }
    im->rows = rows;
    im->cols = cols;
    /* the file's own spacing wins; the labels' pixel_spacing_mm fills in where the file has none
     * (PGM, most PNG/JPEG; what `import mini-mias` writes) */
    if (!(spacing > 0)) spacing = im->csv_spacing_mm;
    else if (im->csv_spacing_mm > 0 && fabs(im->csv_spacing_mm - spacing) > 0.01 * spacing)
        wb_warn("%s:%d: pixel_spacing_mm %g differs from the %g mm of %s; the file's is used", L->labels,
               im->csv_line, im->csv_spacing_mm, spacing, path);
    im->spacing_mm = spacing;
    if (mm && !(spacing > 0)) {
        snprintf(msg, sizeof msg,
                 "%s: no pixel spacing in the file and no pixel_spacing_mm in the labels, so data.patch.unit: mm "
                 "cannot size its patches (use px)",
                 path);
        goto bad_image;
    }
    {
        const double f = mm ? 1.0 / spacing : 1.0;
        im->side = (int)lround(size * f);
        im->stride = stride > 0 ? (int)lround(stride * f) : im->side / 2;
        if (im->stride < 1) im->stride = 1;
        if (im->side < 1) im->side = 1;
    }
    if (im->side > rows || im->side > cols) {
        const char *cf;
        int line, col;
        exp_config_where(cfg, "data.patch.size", &cf, &line, &col);
        rc = wb_err_at(err, WB_E_CONFIG, cf, line, col, "data.patch.size",
                       "a patch of %d pixels%s is larger than the %dx%d image %s: give a smaller size", im->side,
                       mm ? " (from mm through the pixel spacing)" : "", cols, rows, path);
        goto done;
    }
    if (!(ii = malloc(((size_t)rows + 1) * ((size_t)cols + 1) * sizeof *ii))) {
        rc = wb_err(err, WB_E_NOMEM, L->labels, "out of memory for a %dx%d image", rows, cols);
        goto done;
    }
    exp_patch_integral(fr.mask, rows, cols, ii);
    wb_rng rng;
    const uint64_t iseed = wb_rng_derive(wb_rng_derive(seed, 0x9a7c4ull), (uint64_t)digest[0] << 56 | (uint64_t)digest[1] << 48 |
                                         (uint64_t)digest[2] << 40 | (uint64_t)digest[3] << 32 | (uint64_t)digest[4] << 24 |
                                         (uint64_t)digest[5] << 16 | (uint64_t)digest[6] << 8 | digest[7]);
    int n_boxes = 0;
    for (size_t k = 0; k < nr; k++) {
        size_t r = rws[k];
        double cy, cx, bh, bw;
        char why[300];
        int hb = row_box(csv, r, bc, rows, &cy, &cx, &bh, &bw, why, sizeof why);
        if (hb == 0) continue;
        n_boxes++;
        if (hb > 0 && (cx < 0 || cy < 0 || cx >= cols || cy >= rows)) {
            snprintf(why, sizeof why, "the box centre (x %g, y %g) is outside the %dx%d image", cx, cy, cols, rows);
            hb = -1;
        }
        if (hb < 0) {
            if (L->fail_fast) {
                rc = wb_err_at(err, WB_E_DATA, L->labels, csv->lines[r], 0, NULL, "%s: %s (data.on_error is fail)", im->file, why);
                goto done;
            }
            char reason[1400];
            snprintf(reason, sizeof reason, "%s:%d: %s", L->labels, csv->lines[r], why);
            if (exclude(&L->g, im, reason, err) != 0) {
                rc = -1;
                goto done;
            }
            continue;
        }
        const int label = !strcmp(io_csv_cell(csv, r, io_csv_column(csv, sd->label_column, &e)), sd->positive);
        double L_side = bh > bw ? bh : bw;
        int s = im->side;
        if (L_side > s) { /* the whole box plus its margin, resampled to the input */
            s = (int)ceil(L_side * (1 + 2 * margin));
            if (s > rows) s = rows;
            if (s > cols) s = cols;
        }
        wb_rng_seed(&rng, wb_rng_derive(iseed, (uint64_t)k));
        const double j = mm ? jit / spacing : jit;
        double dy = j > 0 ? j * (2 * wb_rng_uniform(&rng) - 1) : 0, dx = j > 0 ? j * (2 * wb_rng_uniform(&rng) - 1) : 0;
        int r0, c0;
        place(cy + dy, cx + dx, s, rows, cols, &r0, &c0);
        if (add_patch(L, img, &fr, digest, image, im, EXP_PATCH_LESION, label, csv->lines[r], n_boxes - 1, r0, c0, s, err) != 0) {
            rc = -1;
            goto done;
        }
        im->n_patches++;
    }
    if (n_boxes == 0 && im->label) {
        /* a positive image without a box: no lesion patch, but a whole image to score */
        wb_log(WB_LOG_INFO, "%s:%d: %s is positive but has no lesion box: whole-image scoring only", L->labels,
               im->csv_line, im->file);
    } else if (n_boxes == 0 && n_bg > 0) {
        /* background: squares with enough tissue, drawn without repetition */
        const int s = im->side;
        size_t cand = 0;
        for (int r0 = 0; r0 <= rows - s; r0++)
            for (int c0 = 0; c0 <= cols - s; c0++) cand += exp_patch_tissue(ii, cols, r0, c0, s) >= min_tissue;
        if (cand == 0) {
            snprintf(msg, sizeof msg, "%s:%d: no breast tissue to sample a background patch from: no %dx%d square is at "
                     "least %g%% inside the breast mask (%zu pixels)", L->labels, im->csv_line, s, s, 100 * min_tissue, fr.area);
            if (L->fail_fast) {
                rc = wb_err(err, WB_E_DATA, L->labels, "%s (data.on_error is fail)", msg);
                goto done;
            }
            if (exclude(&L->g, im, msg, err) != 0) rc = -1;
            goto windows;
        }
        size_t taken[1000];
        int nt = 0;
        wb_rng_seed(&rng, wb_rng_derive(iseed, 0xb6ull));
        for (int t = 0; t < n_bg && (size_t)nt < cand; t++) {
            size_t want;
            int fresh;
            do { /* distinct draws; cand > nt so this ends */
                want = (size_t)wb_rng_below(&rng, cand);
                fresh = 1;
                for (int q = 0; q < nt; q++) fresh &= taken[q] != want;
            } while (!fresh);
            taken[nt++] = want;
            size_t at = 0;
            int r0 = -1, c0 = -1;
            for (int a = 0; a <= rows - s && r0 < 0; a++)
                for (int b = 0; b <= cols - s; b++)
                    if (exp_patch_tissue(ii, cols, a, b, s) >= min_tissue && at++ == want) {
                        r0 = a;
                        c0 = b;
                        break;
                    }
            if (add_patch(L, img, &fr, digest, image, im, EXP_PATCH_BACKGROUND, 0, im->csv_line, t, r0, c0, s, err) != 0) {
                rc = -1;
                goto done;
            }
            im->n_patches++;
        }
    }
windows:
    if (windows) {
        double t0 = wb_now();
        if (add_windows(L, img, &fr, ii, image, im, min_tissue, err) != 0) rc = -1;
        L->g.images[image].w0 = im->w0;
        (void)t0;
    }
    goto done;
bad_image:
    if (L->fail_fast) {
        rc = wb_err_at(err, WB_E_FAILED, L->labels, im->csv_line, 0, NULL, "%s (data.on_error is fail)", msg);
    } else {
        rc = exclude(&L->g, im, msg, err);
        im->rows = 0; /* not usable for whole-image scoring either */
    }
done:
    free(img);
    free(ii);
    exp_pre_frame_free(&fr);
    return rc;
}

int exp_patch_load(const exp_config *cfg, const uint8_t key[32], const char *cache_dir, int progress,
                   struct exp_dataset *ds, wb_error *err)
{
    memset(ds, 0, sizeof *ds);
    loader L;
    memset(&L, 0, sizeof L);
    L.cfg = cfg;
    const exp_settings *s = exp_config_get(cfg);
    L.labels = s->data.labels;
    const char *dir = s->data.dicom_dir;
    const char *positive = s->data.positive;
    L.fail_fast = s->data.on_error == EXP_ON_ERROR_FAIL;
    for (size_t v = 0; v < s->n_variants; v++) L.time_features |= s->variants[v].type == EXP_VARIANT_BASELINE;
    io_csv csv;
    if (io_csv_read_rows(L.labels, NULL, NULL, &csv, err) != 0) return -1; /* the file a chunk at a time, its rows kept */
    long c_file = io_csv_column(&csv, s->data.file_column, err);
    long c_label = c_file < 0 ? -1 : io_csv_column(&csv, s->data.label_column, err);
    long c_group = c_label < 0 ? -1 : io_csv_column(&csv, s->data.group_column, err);
    box_cols bc;
    if (c_group < 0 || box_columns(cfg, &csv, &bc, err) != 0) {
        io_csv_free(&csv);
        return -1;
    }
    wb_error ignore;
    long c_sop = io_csv_column(&csv, "sop_instance_uid", &ignore);
    long c_lat = io_csv_column(&csv, "laterality", &ignore);
    long c_view = io_csv_column(&csv, "view", &ignore);
    long c_spacing = io_csv_column(&csv, "pixel_spacing_mm", &ignore);
    if (csv.n_rows == 0) {
        io_csv_free(&csv);
        return wb_err(err, WB_E_DATA, L.labels, "no rows after the header");
    }
    /* data.filter and cv.split_column: the rows left out are gone from csv (every box of an
     * image has its patient, so a split keeps an image's rows on one side) */
    exp_rows_report rows;
    unsigned char *test_row = NULL;
    if (exp_rows_select(cfg, &csv, &rows, &test_row, err) != 0) {
        io_csv_free(&csv);
        return -1;
    }
    if (progress && (rows.n_filters || rows.split)) {
        char what[512];
        exp_rows_describe(cfg, &rows, what, sizeof what);
        wb_log(WB_LOG_INFO, "data: %s", what);
    }
    exp_dataset_pre_params(cfg, &L.p);
    exp_pre_set_threads(s->threads);
    if (exp_pre_params_check(&L.p, err) != 0) {
        io_csv_free(&csv);
        free(test_row);
        return -1;
    }
    L.voi = s->preprocess.voi == EXP_VOI_IGNORE ? IO_VOI_IGNORE : IO_VOI_APPLY;
    L.px = (size_t)L.p.out_rows * (size_t)L.p.out_cols;
    L.st.px = L.px;
    L.st.fd = -1;
    L.st.dir = cache_dir && cache_dir[0] ? cache_dir : NULL;
    {
        const double mb = (double)s->data.memory_mb * 1048576.0;
        L.st.budget = mb >= (double)SIZE_MAX ? SIZE_MAX : (size_t)mb;
    }
    L.use_cache = cache_dir && cache_dir[0];
    if (L.use_cache && exp_cache_open(&L.cache, cache_dir, &L.p, err) != 0) {
        io_csv_free(&csv);
        free(test_row);
        return -1;
    }
    const uint64_t seed = s->seed;
    /* images: the distinct files in the order they first appear; their rows */
    size_t *img_of = malloc(csv.n_rows * sizeof *img_of), *rws = malloc(csv.n_rows * sizeof *rws);
    size_t *first = malloc(csv.n_rows * sizeof *first), *row0 = NULL;
    L.g.images = calloc(csv.n_rows, sizeof *L.g.images);
    int rc = 0;
    if (!img_of || !rws || !first || !L.g.images) {
        rc = wb_err(err, WB_E_NOMEM, L.labels, "out of memory");
        goto done;
    }
    L.g.images_cap = csv.n_rows;
    /* first[r]: the first row naming row r's file (sorted once, not a scan per row) */
    if (first_rows(&csv, c_file, first) != 0) {
        rc = wb_err(err, WB_E_NOMEM, L.labels, "out of memory");
        goto done;
    }
    for (size_t r = 0; r < csv.n_rows && rc == 0; r++) {
        const char *file = io_csv_cell(&csv, r, c_file), *group = io_csv_cell(&csv, r, c_group);
        if (!file[0] || !group[0]) {
            rc = wb_err_at(err, WB_E_DATA, L.labels, csv.lines[r], 0, NULL, "empty %s", !file[0] ? "file name" : "group (patient) id");
            break;
        }
        const size_t k = first[r] < r ? img_of[first[r]] : L.g.n_images;
        img_of[r] = k;
        const int pos = !strcmp(io_csv_cell(&csv, r, c_label), positive);
        /* every row's pixel_spacing_mm cell is checked; an image takes its first non-empty one */
        double spacing_mm = 0;
        if (c_spacing >= 0 && io_csv_cell(&csv, r, c_spacing)[0]) {
            const char *cell = io_csv_cell(&csv, r, c_spacing);
            if (!parse_num(cell, &spacing_mm) || !(spacing_mm > 0) || spacing_mm > 100) {
                rc = wb_err_at(err, WB_E_DATA, L.labels, csv.lines[r], (int)c_spacing + 1, "pixel_spacing_mm",
                               "expected a pixel spacing in mm (0 < value <= 100), got '%.60s'", cell);
                break;
            }
        }
        if (k < L.g.n_images) { /* another box of the same image */
            if (!(L.g.images[k].csv_spacing_mm > 0)) {
                L.g.images[k].csv_spacing_mm = spacing_mm;
            } else if (spacing_mm > 0 && spacing_mm != L.g.images[k].csv_spacing_mm) {
                rc = wb_err_at(err, WB_E_DATA, L.labels, csv.lines[r], (int)c_spacing + 1, "pixel_spacing_mm",
                               "%s has pixel_spacing_mm %g here and %g on an earlier row of it (its first row: line %d); one image "
                               "has one spacing", file, spacing_mm, L.g.images[k].csv_spacing_mm, L.g.images[k].csv_line);
                break;
            }
            if (strcmp(L.g.images[k].group, group)) {
                rc = wb_err_at(err, WB_E_DATA, L.labels, csv.lines[r], 0, NULL,
                               "%s is listed with two patients ('%s' here, another at line %d)", file, s->data.group_column,
                               L.g.images[k].csv_line);
                break;
            }
            L.g.images[k].label |= pos;
            continue;
        }
        exp_patch_image *im = &L.g.images[L.g.n_images++];
        im->file = dup_str(file);
        im->group = dup_str(group);
        if (!im->file || !im->group) {
            rc = wb_err(err, WB_E_NOMEM, L.labels, "out of memory");
            break;
        }
        im->label = pos;
        im->csv_line = csv.lines[r];
        im->split = test_row ? test_row[r] : 0;
        if (c_sop >= 0) copy(im->sop_uid, sizeof im->sop_uid, io_csv_cell(&csv, r, c_sop));
        if (c_lat >= 0) copy(im->laterality, sizeof im->laterality, io_csv_cell(&csv, r, c_lat));
        if (c_view >= 0) copy(im->view, sizeof im->view, io_csv_cell(&csv, r, c_view));
        im->csv_spacing_mm = spacing_mm;
        exp_pseudonym(key, group, im->pseudonym);
    }
    /* rws[row0[k] .. row0[k + 1]): image k's rows in file order */
    if (rc == 0 && !(row0 = calloc(L.g.n_images + 1, sizeof *row0))) rc = wb_err(err, WB_E_NOMEM, L.labels, "out of memory");
    if (rc == 0) {
        for (size_t r = 0; r < csv.n_rows; r++) row0[img_of[r] + 1]++;
        for (size_t k = 0; k < L.g.n_images; k++) row0[k + 1] += row0[k];
        memset(first, 0, L.g.n_images * sizeof *first); /* now each image's fill count */
        for (size_t r = 0; r < csv.n_rows; r++) rws[row0[img_of[r]] + first[img_of[r]]++] = r;
    }
    const double t0 = wb_now();
    for (size_t k = 0; k < L.g.n_images && rc == 0; k++) {
        const size_t nr = row0[k + 1] - row0[k];
        const char *file = L.g.images[k].file;
        size_t need = strlen(dir) + strlen(file) + 2;
        char *path = malloc(need);
        if (!path) {
            rc = wb_err(err, WB_E_NOMEM, L.labels, "out of memory");
            break;
        }
        if (file[0] == '/') snprintf(path, need, "%s", file);
        else snprintf(path, need, "%s/%s", dir, file);
        rc = load_image(&L, &csv, &bc, rws + row0[k], nr, path, k, seed, err);
        free(path);
        if (progress) wb_progress("data: images read, patches and windows made", k + 1, L.g.n_images, t0);
    }
    if (rc) goto done;
    if (L.use_cache && progress)
        wb_log(WB_LOG_INFO, "data: %zu of %zu patches from the cache in %s", L.hits, L.g.n, cache_dir);
    /* the dataset: patches, then the windows past ds->n */
    {
        grow *g = &L.g;
        const size_t nt = g->n + g->nw;
        ds->patch = calloc(1, sizeof *ds->patch);
        exp_patch_item *pit = malloc((nt ? nt : 1) * sizeof *pit);
        size_t *slot = malloc((nt ? nt : 1) * sizeof *slot);
        double *ft = malloc((nt ? nt : 1) * EXP_PRE_N_FEATURES * sizeof *ft);
        if (!ds->patch || !pit || !slot || !ft) {
            free(pit);
            free(slot);
            free(ft);
            rc = wb_err(err, WB_E_NOMEM, L.labels, "out of memory for %zu patches and windows", nt);
            goto done;
        }
        if (g->n) {
            memcpy(pit, g->pitems, g->n * sizeof *pit);
            memcpy(slot, g->pslot, g->n * sizeof *slot);
            memcpy(ft, g->feat, g->n * EXP_PRE_N_FEATURES * sizeof *ft);
        }
        if (g->nw) {
            memcpy(pit + g->n, g->witems, g->nw * sizeof *pit);
            memcpy(slot + g->n, g->wslot, g->nw * sizeof *slot);
            memcpy(ft + g->n * EXP_PRE_N_FEATURES, g->wfeat, g->nw * EXP_PRE_N_FEATURES * sizeof *ft);
        }
        for (size_t k = 0; k < g->n_images; k++) g->images[k].w0 += g->n;
        exp_patch_set *ps = ds->patch;
        ps->items = pit;
        ps->n_windows = g->nw;
        ps->images = g->images;
        ps->n_images = g->n_images;
        for (size_t i = 0; i < g->n; i++) {
            ps->n_lesion += pit[i].kind == EXP_PATCH_LESION;
            ps->n_background += pit[i].kind == EXP_PATCH_BACKGROUND;
        }
        ds->items = g->items;
        ds->n = g->n;
        ds->strings = g->strings;
        g->strings.last = NULL;
        ds->images = L.st.mem; /* NULL when spilled */
        ds->slot = slot;
        ds->spilled = L.st.fd >= 0;
        ds->spill_fd = L.st.fd;
        /* data.memory_mb also bounds the fine-tuned variants' cached frozen prefixes, as in
         * whole-image runs (the same bits as recomputing them: an image's output does not
         * depend on its batch, tests/nets/test_batch_bits.c) */
        ds->memory_budget = L.st.budget;
        L.st.mem = NULL;
        L.st.fd = -1;
        ds->features = ft;
        ds->rows = L.p.out_rows;
        ds->cols = L.p.out_cols;
        ds->n_features = EXP_PRE_N_FEATURES;
        ds->excluded = g->excl;
        ds->n_excluded = g->n_excl;
        ds->n_classes = 2;
        ds->feature_seconds = L.feature_seconds;
        for (size_t i = 0; i < g->n; i++) {
            ds->n_positive += g->items[i].label == 1;
            ds->class_n[g->items[i].label]++;
        }
        g->items = NULL;
        g->n = 0;
        g->images = NULL;
        g->n_images = 0;
        g->excl = NULL;
        g->n_excl = 0;
    }
    ds->selected = rows;
    if (ds->n == 0) rc = wb_err(err, WB_E_DATA, L.labels, "no usable patch (%zu excluded)", ds->n_excluded);
    else if (ds->n_positive == 0 || ds->n_positive == ds->n)
        rc = wb_err(err, WB_E_DATA, L.labels, "all %zu patches are %s: both classes are needed (data.positive is '%s')", ds->n,
                    ds->n_positive ? "positive" : "negative", positive);
done:
    grow_free(&L.g);
    free(L.st.mem);
    if (L.st.fd >= 0) close(L.st.fd);
    free(img_of);
    free(rws);
    free(first);
    free(row0);
    free(test_row);
    io_csv_free(&csv);
    if (rc) exp_dataset_free(ds);
    return rc;
}
