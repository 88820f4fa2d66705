/* preprocess.c — the preprocessing pipeline of preprocess.h. The full-resolution steps (triangle
 * threshold, mask components and holes on runs, window/crop/flip, anti-aliased resampling) are
 * C, with rows split over the engine's thread pool (nn_par_for; at most exp_pre_set_threads); Otsu's threshold, CLAHE and the GLCM
 * features are ITK's through io_itk.h. docs/preprocess.md says why. */
#include "experiments/data/preprocess.h"
#include "io/io_fs.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_dicom.h"
#include "io/io_image.h"
#include "io/io_itk.h"
#include "io/io_sha256.h"
#include "nets/nn.h"
#include "base/wb_log.h"

static const char *const feature_names[EXP_PRE_N_FEATURES] = {
    "fo_mean",          "fo_std",          "fo_skewness",
    "fo_kurtosis",      "fo_entropy",      "fo_p10",
    "fo_p25",           "fo_p50",          "fo_p75",
    "fo_p90",           "glcm_energy",     "glcm_entropy",
    "glcm_correlation", "glcm_idm",        "glcm_inertia",
    "glcm_cluster_shade", "glcm_cluster_prominence", "glcm_haralick_correlation",
    "shape_area_fraction", "shape_extent"};

const char *exp_pre_feature_name(int k)
{
    return k >= 0 && k < EXP_PRE_N_FEATURES ? feature_names[k] : NULL;
}

void exp_pre_params_default(exp_pre_params *p)
{
    memset(p, 0, sizeof *p);
    p->out_rows = 512;
    p->out_cols = 512;
    p->keep_aspect = 1;
    p->antialias = 1;
    p->mask_threshold = EXP_PRE_MASK_TRIANGLE;
    p->otsu_bins = 256;
    p->fully_connected = 1;
    p->fill_holes = 1;
    p->mask_background = 1;
    p->crop = 1;
    p->crop_margin = 8;
    p->flip = EXP_PRE_FLIP_AUTO;
    p->window = EXP_PRE_WINDOW_VOI;
    p->p_lo = 0.5;
    p->p_hi = 99.5;
    p->clahe = 0;
    p->clahe_radius = 16;
    p->clahe_alpha = 0.3;
    p->clahe_beta = 0.3;
    p->scale = EXP_PRE_SCALE_UNIT;
    p->fo_bins = 64;
    p->glcm_levels = 64;
}

#define RANGE_I(field, lo, hi)                                                                     \
    if (p->field < (lo) || p->field > (hi))                                                        \
        return wb_err_at(err, WB_E_CONFIG, NULL, 0, 0, "preprocess." #field,                       \
                         "expected an integer from %d to %d, got %d", (lo), (hi), p->field);
#define RANGE_D(field, lo, hi)                                                                     \
    if (!(p->field >= (lo) && p->field <= (hi)))                                                   \
        return wb_err_at(err, WB_E_CONFIG, NULL, 0, 0, "preprocess." #field,                       \
                         "expected a number from %g to %g, got %g", (double)(lo), (double)(hi),    \
                         p->field);

int exp_pre_params_check(const exp_pre_params *p, wb_error *err)
{
    RANGE_I(out_rows, 8, 4096)
    RANGE_I(out_cols, 8, 4096)
    RANGE_I(keep_aspect, 0, 1)
    RANGE_I(antialias, 0, 1)
    RANGE_I(mask_threshold, 0, 1)
    RANGE_I(otsu_bins, 2, 65536)
    RANGE_I(fully_connected, 0, 1)
    RANGE_I(fill_holes, 0, 1)
    RANGE_I(mask_background, 0, 1)
    RANGE_I(crop, 0, 1)
    RANGE_I(crop_margin, 0, 4096)
    RANGE_I(flip, 0, 3)
    RANGE_I(window, 0, 1)
    RANGE_D(p_lo, 0, 100)
    RANGE_D(p_hi, 0, 100)
    if (p->p_lo >= p->p_hi)
        return wb_err_at(err, WB_E_CONFIG, NULL, 0, 0, "preprocess.p_lo",
                         "must be below p_hi (%g), got %g", p->p_hi, p->p_lo);
    RANGE_I(clahe, 0, 1)
    RANGE_I(clahe_radius, 1, 1024)
    RANGE_D(clahe_alpha, 0, 1)
    RANGE_D(clahe_beta, 0, 1)
    RANGE_I(scale, 0, 2)
    RANGE_I(fo_bins, 2, 65536)
    RANGE_I(glcm_levels, 2, 1024)
    return 0;
}

int exp_pre_params_text(const exp_pre_params *p, char *buf, size_t n)
{
    /* %.17g round-trips doubles: equal texts <=> equal parameters. */
    return snprintf(buf, n,
                    "preprocess_version=%d\nout_rows=%d\nout_cols=%d\nkeep_aspect=%d\n"
                    "antialias=%d\nmask_threshold=%d\notsu_bins=%d\nfully_connected=%d\nfill_holes=%d\n"
                    "mask_background=%d\ncrop=%d\ncrop_margin=%d\nflip=%d\nwindow=%d\n"
                    "p_lo=%.17g\np_hi=%.17g\nclahe=%d\nclahe_radius=%d\nclahe_alpha=%.17g\n"
                    "clahe_beta=%.17g\nscale=%d\nfo_bins=%d\nglcm_levels=%d\n",
                    EXP_PRE_VERSION, p->out_rows, p->out_cols, p->keep_aspect, p->antialias,
                    (int)p->mask_threshold, p->otsu_bins, p->fully_connected, p->fill_holes, p->mask_background, p->crop,
                    p->crop_margin, (int)p->flip, (int)p->window, p->p_lo, p->p_hi, p->clahe,
                    p->clahe_radius, p->clahe_alpha, p->clahe_beta, (int)p->scale, p->fo_bins,
                    p->glcm_levels);
}

void exp_pre_params_hash(const exp_pre_params *p, uint8_t out[32])
{
    char buf[2048];
    int len = exp_pre_params_text(p, buf, sizeof buf);
    io_sha256_buf(buf, (size_t)len < sizeof buf ? (size_t)len : sizeof buf - 1, out);
}

void exp_pre_result_free(exp_pre_result *r)
{
    if (!r)
        return;
    free(r->image);
    free(r->mask);
    memset(r, 0, sizeof *r);
}

/* ---- first-order features ---- */

/* Sorts v ascending: LSD radix sort (3 passes of 11 bits) over keys whose unsigned order is the
 * floats' order (sign flipped for positives, all bits for negatives). -1 without memory. */
static int sort_floats(float *v, size_t m)
{
    uint32_t *a = malloc(m * sizeof *a), *b = malloc(m * sizeof *b);
    size_t *cnt = malloc(2048 * sizeof *cnt);
    if (!a || !b || !cnt) {
        free(a);
        free(b);
        free(cnt);
        return -1;
    }
    for (size_t i = 0; i < m; i++) {
        uint32_t u;
        memcpy(&u, &v[i], sizeof u);
        a[i] = u & 0x80000000u ? ~u : u | 0x80000000u;
    }
    for (int shift = 0; shift < 32; shift += 11) {
        memset(cnt, 0, 2048 * sizeof *cnt);
        for (size_t i = 0; i < m; i++)
            cnt[(a[i] >> shift) & 2047]++;
        size_t sum = 0;
        for (int k = 0; k < 2048; k++) {
            size_t c = cnt[k];
            cnt[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < m; i++)
            b[cnt[(a[i] >> shift) & 2047]++] = a[i];
        uint32_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < m; i++) {
        uint32_t u = a[i] & 0x80000000u ? a[i] & 0x7fffffffu : ~a[i];
        memcpy(&v[i], &u, sizeof u);
    }
    free(a);
    free(b);
    free(cnt);
    return 0;
}

/* NumPy's default ("linear") percentile of sorted v[0..n-1]. */
static double percentile_sorted(const float *v, size_t n, double q)
{
    double pos = q / 100.0 * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    if (i + 1 >= n)
        return v[n - 1];
    double f = pos - (double)i;
    return (double)v[i] + f * ((double)v[i + 1] - (double)v[i]);
}

int exp_pre_first_order(const float *img, const uint8_t *mask, size_t n, int bins,
                        double out[EXP_PRE_N_FIRST_ORDER], wb_error *err)
{
    if (bins < 2 || bins > 65536)
        return wb_err(err, WB_E_USAGE, NULL, "first-order features: bins must be 2..65536");
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        m += mask[i] != 0;
    if (m == 0)
        return wb_err(err, WB_E_DATA, NULL, "first-order features: the mask is empty");
    float *v = malloc(m * sizeof *v);
    double *hist = calloc((size_t)bins, sizeof *hist);
    if (!v || !hist) {
        free(v);
        free(hist);
        return wb_err(err, WB_E_NOMEM, NULL, "first-order features: out of memory");
    }
    double sum = 0;
    for (size_t i = 0, k = 0; i < n; i++)
        if (mask[i]) {
            v[k++] = img[i];
            sum += img[i];
        }
    double mean = sum / (double)m, m2 = 0, m3 = 0, m4 = 0;
    for (size_t k = 0; k < m; k++) {
        double d = (double)v[k] - mean, d2 = d * d;
        m2 += d2;
        m3 += d2 * d;
        m4 += d2 * d2;
        double c = v[k] < 0 ? 0 : v[k] > 1 ? 1 : v[k];
        int b = (int)floor(c * bins);
        hist[b < bins ? b : bins - 1] += 1;
    }
    m2 /= (double)m;
    m3 /= (double)m;
    m4 /= (double)m;
    double ent = 0;
    for (int b = 0; b < bins; b++)
        if (hist[b] > 0) {
            double pr = hist[b] / (double)m;
            ent -= pr * log2(pr);
        }
    if (sort_floats(v, m)) {
        free(v);
        free(hist);
        return wb_err(err, WB_E_NOMEM, NULL, "first-order features: out of memory");
    }
    out[0] = mean;
    out[1] = sqrt(m2);
    out[2] = m2 > 0 ? m3 / pow(m2, 1.5) : 0;
    out[3] = m2 > 0 ? m4 / (m2 * m2) : 0;
    out[4] = ent;
    static const double q[5] = {10, 25, 50, 75, 90};
    for (int k = 0; k < 5; k++)
        out[5 + k] = percentile_sorted(v, m, q[k]);
    free(v);
    free(hist);
    return 0;
}

/* ---- threads ---- */

/* The most threads the hot loops of one exp_pre_run split their rows over (process-wide,
 * default 1); the threads are the engine's (nn_set_threads), so fewer run when its pool is
 * smaller. Every output value is computed by the same code whatever the split, so the result does not
 * depend on it (tests/preprocess checks 1 against 2 threads byte for byte). */
static int g_threads = 1;

void exp_pre_set_threads(int n)
{
    g_threads = n < 1 ? 1 : n > EXP_PRE_MAX_THREADS ? EXP_PRE_MAX_THREADS : n;
}

int exp_pre_threads(void)
{
    return g_threads;
}

/* Runs fn over [0, n) in at most nth contiguous pieces on the engine's thread pool (nets/:
 * nn_par_for, also capped by nn_set_threads), piece ith on thread ith, piece 0 on the caller.
 * Fewer pieces than nth may run (a smaller pool, fewer rows than threads): every caller sizes
 * its per-piece slots for nth and starts them empty. */
static void par_for(int nth, size_t n, nn_par_for_fn fn, void *ctx)
{
    nn_par_for(n, nth, fn, ctx);
}

/* ---- triangle threshold ---- */

typedef struct {
    const float *img;
    float lo[EXP_PRE_MAX_THREADS], hi[EXP_PRE_MAX_THREADS];
    float mn;
    double w, inv_w;
    int bins;
    size_t *hist; /* [nth][bins] */
} tri_ctx;

static void tri_range(void *vc, int ith, size_t a, size_t b)
{
    tri_ctx *c = vc;
    float lo = INFINITY, hi = -INFINITY;
    for (size_t i = a; i < b; i++) {
        float v = c->img[i];
        if (v == v) { /* NaN never counts */
            lo = v < lo ? v : lo;
            hi = v > hi ? v : hi;
        }
    }
    c->lo[ith] = lo;
    c->hi[ith] = hi;
}

static void tri_hist(void *vc, int ith, size_t a, size_t b)
{
    tri_ctx *c = vc;
    size_t *h = c->hist + (size_t)ith * (size_t)c->bins, last = (size_t)c->bins - 1;
    for (size_t i = a; i < b; i++) {
        float v = c->img[i];
        if (v == v) {
            size_t k = (size_t)((double)(v - c->mn) * c->inv_w);
            h[k < last ? k : last]++;
        }
    }
}

/* Zack's triangle threshold, the same computation as io_itk_triangle_threshold (tested equal)
 * with the histogram counted over nth threads. */
static int triangle_threshold(const float *img, size_t n, int bins, int nth, float *thr,
                              wb_error *err)
{
    if (bins < 2)
        return wb_err(err, WB_E_CONFIG, NULL, "threshold bins %d: expected at least 2", bins);
    tri_ctx c = {.img = img, .bins = bins};
    for (int t = 0; t < EXP_PRE_MAX_THREADS; t++) {
        c.lo[t] = INFINITY;
        c.hi[t] = -INFINITY;
    }
    par_for(nth, n, tri_range, &c);
    float lo = INFINITY, hi = -INFINITY;
    for (int t = 0; t < nth; t++) {
        lo = c.lo[t] < lo ? c.lo[t] : lo;
        hi = c.hi[t] > hi ? c.hi[t] : hi;
    }
    if (!(hi > lo)) { /* constant (or all NaN): nothing is above */
        *thr = hi == hi ? hi : 0.0f;
        return 0;
    }
    c.hist = calloc((size_t)nth * (size_t)bins, sizeof *c.hist);
    double *h = malloc((size_t)bins * sizeof *h);
    if (!c.hist || !h) {
        free(c.hist);
        free(h);
        return wb_err(err, WB_E_NOMEM, NULL, "triangle threshold: out of memory");
    }
    c.mn = lo;
    c.w = ((double)hi - lo) / bins;
    c.inv_w = bins / ((double)hi - lo);
    par_for(nth, n, tri_hist, &c);
    for (int k = 0; k < bins; k++) {
        size_t s = 0;
        for (int t = 0; t < nth; t++)
            s += c.hist[(size_t)t * (size_t)bins + (size_t)k];
        h[k] = (double)s;
    }
    free(c.hist);
    int peak = 0;
    for (int k = 1; k < bins; k++)
        if (h[k] > h[peak])
            peak = k;
    int first = 0, last = bins - 1;
    while (h[first] == 0)
        first++;
    while (h[last] == 0)
        last--;
    int end = (last - peak) >= (peak - first) ? last : first;
    int best = peak;
    double best_d = 0, dx = end - peak, dy = -h[peak];
    int k0 = peak < end ? peak : end, k1 = peak < end ? end : peak;
    for (int k = k0; k <= k1; k++) {
        double d = dx * (h[k] - h[peak]) - dy * (k - peak);
        d = end > peak ? -d : d;
        if (d > best_d) {
            best_d = d;
            best = k;
        }
    }
    free(h);
    *thr = (float)(lo + (best + 1) * c.w);
    return 0;
}

/* ---- connected components on runs ----
 *
 * A run is a horizontal stretch [c0, c1) of foreground pixels in one row. Two runs in
 * consecutive rows touch when their columns overlap (4-connectivity) or overlap or meet at a
 * corner (8-connectivity). Union-find over runs keeps the smallest run index as the root, so a
 * component's root is its first run in raster order — the order in which ITK's
 * ConnectedComponentImageFilter numbers components, which RelabelComponentImageFilter keeps
 * for components of equal size. */

typedef struct {
    int32_t row, c0, c1;
} pre_run;

typedef struct {
    pre_run *r;
    size_t n, cap;
} run_vec;

static int run_push(run_vec *v, int32_t row, int32_t c0, int32_t c1)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? 2 * v->cap : 1024;
        pre_run *r = realloc(v->r, cap * sizeof *r);
        if (!r)
            return -1;
        v->r = r;
        v->cap = cap;
    }
    v->r[v->n++] = (pre_run){row, c0, c1};
    return 0;
}

typedef struct {
    const float *img;    /* either img > thr ... */
    float thr;
    const uint8_t *mask; /* ... or mask == want */
    uint8_t want;
    int cols;
    run_vec part[EXP_PRE_MAX_THREADS];
    int failed[EXP_PRE_MAX_THREADS];
} runs_ctx;

static void runs_rows(void *vc, int ith, size_t a, size_t b)
{
    runs_ctx *c = vc;
    run_vec *v = &c->part[ith];
    for (size_t r = a; r < b; r++) {
        int col = 0;
        if (c->img) {
            const float *p = c->img + r * (size_t)c->cols;
            while (col < c->cols) {
                while (col < c->cols && !(p[col] > c->thr))
                    col++;
                int s = col;
                while (col < c->cols && p[col] > c->thr)
                    col++;
                if (col > s && run_push(v, (int32_t)r, s, col))
                    c->failed[ith] = 1;
            }
        } else {
            const uint8_t *p = c->mask + r * (size_t)c->cols;
            while (col < c->cols) {
                while (col < c->cols && (p[col] != 0) != c->want)
                    col++;
                int s = col;
                while (col < c->cols && (p[col] != 0) == c->want)
                    col++;
                if (col > s && run_push(v, (int32_t)r, s, col))
                    c->failed[ith] = 1;
            }
        }
    }
}

/* The runs of img > thr (img non-NULL) or of (mask != 0) == want, in raster order. */
static int runs_extract(const float *img, float thr, const uint8_t *mask, int want, int rows,
                        int cols, int nth, run_vec *out, wb_error *err)
{
    runs_ctx c = {.img = img, .thr = thr, .mask = mask, .want = (uint8_t)(want != 0),
                  .cols = cols};
    memset(out, 0, sizeof *out);
    par_for(nth, (size_t)rows, runs_rows, &c);
    size_t total = 0;
    int failed = 0;
    for (int t = 0; t < EXP_PRE_MAX_THREADS; t++) {
        total += c.part[t].n;
        failed |= c.failed[t];
    }
    if (!failed && total > 0 && !(out->r = malloc(total * sizeof *out->r)))
        failed = 1;
    for (int t = 0; t < EXP_PRE_MAX_THREADS; t++) {
        if (!failed && c.part[t].n)
            memcpy(out->r + out->n, c.part[t].r, c.part[t].n * sizeof *out->r);
        out->n += c.part[t].n;
        free(c.part[t].r);
    }
    if (failed) {
        free(out->r);
        memset(out, 0, sizeof *out);
        return wb_err(err, WB_E_NOMEM, NULL, "connected components: out of memory");
    }
    out->cap = out->n;
    return 0;
}

static uint32_t uf_find(uint32_t *p, uint32_t x)
{
    while (p[x] != x) {
        p[x] = p[p[x]];
        x = p[x];
    }
    return x;
}

static void uf_union(uint32_t *p, uint32_t a, uint32_t b)
{
    a = uf_find(p, a);
    b = uf_find(p, b);
    if (a < b)
        p[b] = a;
    else if (b < a)
        p[a] = b;
}

/* Labels the runs (raster order): on return root[i] is the smallest run index of run i's
 * component. */
static void runs_label(const pre_run *r, size_t n, int conn8, uint32_t *root)
{
    for (size_t i = 0; i < n; i++)
        root[i] = (uint32_t)i;
    const int32_t slack = conn8 ? 1 : 0;
    size_t prev = 0, cur = 0; /* first run of the previous row, of the current row */
    while (cur < n) {
        size_t next = cur;
        while (next < n && r[next].row == r[cur].row)
            next++;
        if (cur > 0 && r[cur - 1].row == r[cur].row - 1) {
            size_t i = prev, j = cur;
            while (i < cur && j < next) {
                if (r[i].c0 < r[j].c1 + slack && r[j].c0 < r[i].c1 + slack)
                    uf_union(root, (uint32_t)i, (uint32_t)j);
                if (r[i].c1 < r[j].c1)
                    i++;
                else
                    j++;
            }
        }
        prev = cur;
        cur = next;
    }
    for (size_t i = 0; i < n; i++)
        root[i] = uf_find(root, (uint32_t)i);
}

/* The largest component of runs r (ties: the first in raster order); -1 when there are none.
 * *area gets its pixel count. */
static long runs_largest(const pre_run *r, size_t n, const uint32_t *root, uint64_t *size,
                         size_t *area)
{
    for (size_t i = 0; i < n; i++)
        size[i] = 0;
    for (size_t i = 0; i < n; i++)
        size[root[i]] += (uint64_t)(r[i].c1 - r[i].c0);
    long best = -1;
    for (size_t i = 0; i < n; i++)
        if (root[i] == i && (best < 0 || size[i] > size[best]))
            best = (long)i;
    *area = best < 0 ? 0 : (size_t)size[best];
    return best;
}

/* Fills the holes of mask (rows x cols) in place: background components (4-connected, or
 * 8-connected when fully_connected) that do not touch the mask's border. */
static int fill_holes_runs(uint8_t *mask, int rows, int cols, int fully_connected, int nth,
                           wb_error *err)
{
    run_vec v;
    if (runs_extract(NULL, 0, mask, 0, rows, cols, nth, &v, err))
        return -1;
    uint32_t *root = malloc((v.n ? v.n : 1) * sizeof *root);
    uint8_t *open = calloc(v.n ? v.n : 1, 1);
    if (!root || !open) {
        free(v.r);
        free(root);
        free(open);
        return wb_err(err, WB_E_NOMEM, NULL, "fill holes: out of memory");
    }
    runs_label(v.r, v.n, fully_connected, root);
    for (size_t i = 0; i < v.n; i++)
        if (v.r[i].row == 0 || v.r[i].row == rows - 1 || v.r[i].c0 == 0 || v.r[i].c1 == cols)
            open[root[i]] = 1;
    for (size_t i = 0; i < v.n; i++)
        if (!open[root[i]])
            memset(mask + (size_t)v.r[i].row * (size_t)cols + (size_t)v.r[i].c0, 1,
                   (size_t)(v.r[i].c1 - v.r[i].c0));
    free(v.r);
    free(root);
    free(open);
    return 0;
}

int exp_pre_largest_component(uint8_t *mask, int rows, int cols, int fully_connected,
                              size_t *area, wb_error *err)
{
    if (rows <= 0 || cols <= 0 || (size_t)rows * (size_t)cols > IO_ITK_MAX_PIXELS)
        return wb_err(err, WB_E_USAGE, NULL, "largest component: image size %dx%d out of range",
                      rows, cols);
    run_vec v;
    if (runs_extract(NULL, 0, mask, 1, rows, cols, g_threads, &v, err))
        return -1;
    uint32_t *root = malloc((v.n ? v.n : 1) * sizeof *root);
    uint64_t *size = malloc((v.n ? v.n : 1) * sizeof *size);
    if (!root || !size) {
        free(v.r);
        free(root);
        free(size);
        return wb_err(err, WB_E_NOMEM, NULL, "largest component: out of memory");
    }
    runs_label(v.r, v.n, fully_connected, root);
    size_t a = 0;
    long best = runs_largest(v.r, v.n, root, size, &a);
    memset(mask, 0, (size_t)rows * (size_t)cols);
    for (size_t i = 0; i < v.n; i++)
        if ((long)root[i] == best)
            memset(mask + (size_t)v.r[i].row * (size_t)cols + (size_t)v.r[i].c0, 1,
                   (size_t)(v.r[i].c1 - v.r[i].c0));
    if (area)
        *area = a;
    free(v.r);
    free(root);
    free(size);
    return 0;
}

int exp_pre_fill_holes(uint8_t *mask, int rows, int cols, int fully_connected, wb_error *err)
{
    if (rows <= 0 || cols <= 0 || (size_t)rows * (size_t)cols > IO_ITK_MAX_PIXELS)
        return wb_err(err, WB_E_USAGE, NULL, "fill holes: image size %dx%d out of range", rows,
                      cols);
    return fill_holes_runs(mask, rows, cols, fully_connected, g_threads, err);
}

/* ---- window, crop, flip: computed a row at a time as the resampling reads it ---- */

typedef struct {
    const float *img;
    int cols;
    const uint8_t *bmask; /* the breast mask over its bounding box */
    int br0, bc0, bh, bw;
    int r0, c0, cc;       /* the crop box's corner and width */
    int percentile, background, flip;
    float lo, span;
} crop_ctx;

/* Row r of the crop: window, clamp (NaN to 0), background to 0, mirrored when flip. */
static void crop_row(const crop_ctx *c, int r, float *d)
{
    const int cc = c->cc, off = c->bc0 - c->c0; /* the box's first column in the crop */
    const int y = r + c->r0, my = y - c->br0;
    const float *p = c->img + (size_t)y * (size_t)c->cols + c->c0;
    const uint8_t *mk = my >= 0 && my < c->bh ? c->bmask + (size_t)my * (size_t)c->bw - off : NULL;
    /* outside the box the mask is 0 */
    const int in0 = mk ? (off > 0 ? off : 0) : cc, in1 = mk ? (off + c->bw < cc ? off + c->bw : cc) : cc;
    const float lo = c->lo, span = c->span;
    const int pct = c->percentile, bg = c->background;
#define WB_PRE_WIN(v) (pct ? ((v) - lo) / span : (v))
    for (int x = 0; x < in0; x++) {
        float v = WB_PRE_WIN(p[x]);
        d[x] = bg ? 0.0f : v > 0 ? (v < 1 ? v : 1) : 0; /* also maps NaN to 0 */
    }
    for (int x = in0; x < in1; x++) {
        float v = WB_PRE_WIN(p[x]);
        v = v > 0 ? (v < 1 ? v : 1) : 0;
        d[x] = bg && !mk[x] ? 0.0f : v;
    }
    for (int x = in1; x < cc; x++) {
        float v = WB_PRE_WIN(p[x]);
        d[x] = bg ? 0.0f : v > 0 ? (v < 1 ? v : 1) : 0;
    }
#undef WB_PRE_WIN
    if (c->flip)
        for (int l = 0, h = cc - 1; l < h; l++, h--) {
            float t = d[l];
            d[l] = d[h];
            d[h] = t;
        }
}

/* The crop's mask at (r, x), flip included. */
static uint8_t crop_mask_at(const crop_ctx *c, int r, int x)
{
    const int my = r + c->r0 - c->br0, mx = (c->flip ? c->cc - 1 - x : x) + c->c0 - c->bc0;
    return my >= 0 && my < c->bh && mx >= 0 && mx < c->bw
               ? c->bmask[(size_t)my * (size_t)c->bw + (size_t)mx]
               : 0;
}

/* ---- resampling ---- */

/* Linear interpolation taps along one axis: output pixel i reads input i0 and i1 with weight
 * f on i1. Positions as ITK's ResampleImageFilter computes them (origin + i * spacing), and
 * clamped at the edges as its LinearInterpolateImageFunction does. */
typedef struct {
    int i0, i1;
    double f;
} lin_tap;

static void axis_taps(int n_in, int n_out, lin_tap *t)
{
    const double s = (double)n_in / n_out, org = 0.5 * s - 0.5;
    for (int i = 0; i < n_out; i++) {
        double x = org + i * s;
        long b = (long)floor(x);
        b = b < 0 ? 0 : b > n_in - 1 ? n_in - 1 : b;
        double d = x - (double)b;
        t[i].i0 = (int)b;
        if (d > 0 && b + 1 <= n_in - 1) {
            t[i].i1 = (int)b + 1;
            t[i].f = d;
        } else {
            t[i].i1 = (int)b;
            t[i].f = 0;
        }
    }
}

/* scipy.ndimage's sampled Gaussian (truncate 4): weights for offsets -r..r, summing to 1. */
static int gauss_kernel(double sigma, double **w)
{
    int r = (int)(4.0 * sigma + 0.5);
    double *k = malloc((size_t)(2 * r + 1) * sizeof *k), s = 0;
    if (!k)
        return -1;
    for (int i = -r; i <= r; i++)
        s += k[i + r] = exp(-0.5 / (sigma * sigma) * (double)i * (double)i);
    for (int i = 0; i <= 2 * r; i++)
        k[i] /= s;
    *w = k;
    return r;
}

typedef struct {
    const float *src;           /* the input, or NULL and ... */
    const crop_ctx *crop;       /* ... its rows made by crop_row on demand */
    int rows, cols;
    int ring_rows;              /* rows each thread keeps of the crop (2 ry + 1) */
    float *ring[EXP_PRE_MAX_THREADS];
    int *tag[EXP_PRE_MAX_THREADS]; /* the crop row each ring row holds, -1 for none */
    const int *row_of, *col_of; /* the input rows / columns the interpolation reads */
    int ncol;
    const double *wy, *wx;      /* NULL: no smoothing along that axis */
    int ry, rx;
    float *g;                   /* [slot][ncol]: smoothed input at the needed points */
    double *acc[EXP_PRE_MAX_THREADS];
    float *pad[EXP_PRE_MAX_THREADS];
} smooth_ctx;

/* Row y of the input. A thread reads rows in increasing order, each window of 2 ry + 1
 * consecutive rows at a time, so a ring of that many rows computes each crop row once. */
static const float *input_row(smooth_ctx *c, int ith, int y)
{
    if (c->src)
        return c->src + (size_t)y * (size_t)c->cols;
    const int k = y % c->ring_rows;
    float *row = c->ring[ith] + (size_t)k * (size_t)c->cols;
    if (c->tag[ith][k] != y) {
        crop_row(c->crop, y, row);
        c->tag[ith][k] = y;
    }
    return row;
}

/* Smooths only the input points the interpolation reads: the needed rows along y (every
 * column), then the needed columns of those rows along x. Edges repeat the edge pixel
 * (scipy's mode 'nearest', ITK's zero-flux Neumann). */
static void smooth_rows(void *vc, int ith, size_t a, size_t b)
{
    smooth_ctx *c = vc;
    const int cols = c->cols, rx = c->rx;
    double *acc = c->acc[ith];
    float *pad = c->pad[ith];
    for (size_t s = a; s < b; s++) {
        const int y = c->row_of[s];
        float *row = pad + rx;
        if (c->wy) {
            for (int x = 0; x < cols; x++)
                acc[x] = 0;
            /* four taps per sweep over the row: a quarter of the accumulator traffic */
            int k = -c->ry;
            for (; k + 3 <= c->ry; k += 4) {
                const float *p[4];
                double w[4];
                for (int t = 0; t < 4; t++) {
                    int yy = y + k + t;
                    yy = yy < 0 ? 0 : yy >= c->rows ? c->rows - 1 : yy;
                    p[t] = input_row(c, ith, yy);
                    w[t] = c->wy[k + t + c->ry];
                }
                for (int x = 0; x < cols; x++)
                    acc[x] += (w[0] * p[0][x] + w[1] * p[1][x]) + (w[2] * p[2][x] + w[3] * p[3][x]);
            }
            for (; k <= c->ry; k++) {
                int yy = y + k;
                yy = yy < 0 ? 0 : yy >= c->rows ? c->rows - 1 : yy;
                const float *p = input_row(c, ith, yy);
                const double w = c->wy[k + c->ry];
                for (int x = 0; x < cols; x++)
                    acc[x] += w * p[x];
            }
            for (int x = 0; x < cols; x++)
                row[x] = (float)acc[x];
        } else {
            memcpy(row, input_row(c, ith, y), (size_t)cols * sizeof *row);
        }
        float *g = c->g + s * (size_t)c->ncol;
        if (c->wx) {
            for (int k = 1; k <= rx; k++) {
                pad[rx - k] = row[0];
                row[cols - 1 + k] = row[cols - 1];
            }
            for (int j = 0; j < c->ncol; j++) {
                const float *p = pad + c->col_of[j]; /* = row + col - rx */
                double v = 0;
                for (int k = 0; k <= 2 * rx; k++)
                    v += c->wx[k] * p[k];
                g[j] = (float)v;
            }
        } else {
            for (int j = 0; j < c->ncol; j++)
                g[j] = row[c->col_of[j]];
        }
    }
}

typedef struct {
    const float *g;
    int ncol;
    const lin_tap *ty, *tx;
    const int *slot_r, *slot_c;
    float *dst;
    int ocols;
} interp_ctx;

static void interp_rows(void *vc, int ith, size_t a, size_t b)
{
    (void)ith;
    interp_ctx *c = vc;
    for (size_t i = a; i < b; i++) {
        const float *g0 = c->g + (size_t)c->slot_r[c->ty[i].i0] * (size_t)c->ncol;
        const float *g1 = c->g + (size_t)c->slot_r[c->ty[i].i1] * (size_t)c->ncol;
        const double fy = c->ty[i].f;
        float *d = c->dst + i * (size_t)c->ocols;
        for (int j = 0; j < c->ocols; j++) {
            const int x0 = c->slot_c[c->tx[j].i0], x1 = c->slot_c[c->tx[j].i1];
            const double fx = c->tx[j].f;
            /* ITK's order of operations: along x, then along y, in double */
            double v0 = (double)g0[x0] + ((double)g0[x1] - (double)g0[x0]) * fx;
            double v1 = (double)g1[x0] + ((double)g1[x1] - (double)g1[x0]) * fx;
            d[j] = (float)(v0 + (v1 - v0) * fy);
        }
    }
}

static int resize_impl(const float *src, const crop_ctx *crop, int rows, int cols, float *dst,
                       int out_rows, int out_cols, int antialias, wb_error *err)
{
    if (rows <= 0 || cols <= 0 || rows > IO_ITK_MAX_DIM || cols > IO_ITK_MAX_DIM ||
        (size_t)rows * (size_t)cols > IO_ITK_MAX_PIXELS || out_rows <= 0 || out_cols <= 0 ||
        out_rows > IO_ITK_MAX_DIM || out_cols > IO_ITK_MAX_DIM)
        return wb_err(err, WB_E_USAGE, NULL, "resize: %dx%d to %dx%d out of range", rows, cols,
                      out_rows, out_cols);
    const int nth = g_threads;
    lin_tap *ty = malloc((size_t)out_rows * sizeof *ty), *tx = malloc((size_t)out_cols * sizeof *tx);
    int *slot_r = malloc((size_t)rows * sizeof *slot_r), *slot_c = malloc((size_t)cols * sizeof *slot_c);
    int *row_of = malloc((size_t)rows * sizeof *row_of), *col_of = malloc((size_t)cols * sizeof *col_of);
    double *wy = NULL, *wx = NULL;
    smooth_ctx sc = {.src = src, .crop = crop, .rows = rows, .cols = cols, .row_of = row_of,
                     .col_of = col_of};
    int rc = -1;
    if (!ty || !tx || !slot_r || !slot_c || !row_of || !col_of)
        goto nomem;
    axis_taps(rows, out_rows, ty);
    axis_taps(cols, out_cols, tx);
    for (int i = 0; i < rows; i++)
        slot_r[i] = -1;
    for (int i = 0; i < cols; i++)
        slot_c[i] = -1;
    for (int i = 0; i < out_rows; i++)
        slot_r[ty[i].i0] = slot_r[ty[i].i1] = 0;
    for (int i = 0; i < out_cols; i++)
        slot_c[tx[i].i0] = slot_c[tx[i].i1] = 0;
    int nrow = 0, ncol = 0;
    for (int i = 0; i < rows; i++)
        if (slot_r[i] == 0) {
            row_of[nrow] = i;
            slot_r[i] = nrow++;
        }
    for (int i = 0; i < cols; i++)
        if (slot_c[i] == 0) {
            col_of[ncol] = i;
            slot_c[i] = ncol++;
        }
    /* scikit-image's anti_aliasing: sigma = (s - 1) / 2 input pixels along an axis shrunk by
     * s > 1 */
    const double sy = (double)rows / out_rows, sx = (double)cols / out_cols;
    if (antialias && sy > 1) {
        if ((sc.ry = gauss_kernel((sy - 1) / 2, &wy)) < 0)
            goto nomem;
    }
    if (antialias && sx > 1) {
        if ((sc.rx = gauss_kernel((sx - 1) / 2, &wx)) < 0)
            goto nomem;
    }
    sc.wy = wy;
    sc.wx = wx;
    sc.ncol = ncol;
    sc.g = malloc((size_t)nrow * (size_t)ncol * sizeof *sc.g);
    if (!sc.g)
        goto nomem;
    for (int t = 0; t < nth; t++) {
        sc.acc[t] = malloc((size_t)cols * sizeof *sc.acc[t]);
        sc.pad[t] = malloc(((size_t)cols + 2 * (size_t)sc.rx) * sizeof *sc.pad[t]);
        if (!sc.acc[t] || !sc.pad[t])
            goto nomem;
        if (crop) {
            sc.ring_rows = 2 * sc.ry + 1;
            sc.ring[t] = malloc((size_t)sc.ring_rows * (size_t)cols * sizeof *sc.ring[t]);
            sc.tag[t] = malloc((size_t)sc.ring_rows * sizeof *sc.tag[t]);
            if (!sc.ring[t] || !sc.tag[t])
                goto nomem;
            for (int k = 0; k < sc.ring_rows; k++)
                sc.tag[t][k] = -1;
        }
    }
    par_for(nth, (size_t)nrow, smooth_rows, &sc);
    interp_ctx ic = {sc.g, ncol, ty, tx, slot_r, slot_c, dst, out_cols};
    par_for(nth, (size_t)out_rows, interp_rows, &ic);
    rc = 0;
    goto done;
nomem:
    wb_err(err, WB_E_NOMEM, NULL, "resize: out of memory");
done:
    for (int t = 0; t < EXP_PRE_MAX_THREADS; t++) {
        free(sc.acc[t]);
        free(sc.pad[t]);
        free(sc.ring[t]);
        free(sc.tag[t]);
    }
    free(sc.g);
    free(wy);
    free(wx);
    free(ty);
    free(tx);
    free(slot_r);
    free(slot_c);
    free(row_of);
    free(col_of);
    return rc;
}

int exp_pre_resize(const float *src, int rows, int cols, float *dst, int out_rows,
                   int out_cols, int antialias, wb_error *err)
{
    return resize_impl(src, NULL, rows, cols, dst, out_rows, out_cols, antialias, err);
}

/* The crop's mask resampled like the image without smoothing, thresholded at 0.5. */
static void resize_mask(const crop_ctx *c, int rows, int cols, uint8_t *dst, int out_rows,
                        int out_cols, int dst_stride, lin_tap *ty, lin_tap *tx)
{
    axis_taps(rows, out_rows, ty);
    axis_taps(cols, out_cols, tx);
    for (int i = 0; i < out_rows; i++) {
        const int y0 = ty[i].i0, y1 = ty[i].i1;
        for (int j = 0; j < out_cols; j++) {
            const int x0 = tx[j].i0, x1 = tx[j].i1;
            const double m00 = crop_mask_at(c, y0, x0), m01 = crop_mask_at(c, y0, x1);
            const double m10 = crop_mask_at(c, y1, x0), m11 = crop_mask_at(c, y1, x1);
            double v0 = m00 + (m01 - m00) * tx[j].f;
            double v1 = m10 + (m11 - m10) * tx[j].f;
            dst[(size_t)i * (size_t)dst_stride + (size_t)j] = (float)(v0 + (v1 - v0) * ty[i].f) >= 0.5f;
        }
    }
}

/* ---- the pipeline ---- */

/* Step 1 of exp_pre_run (and of exp_pre_frame_run): the threshold, the largest component
 * (on runs, never a full-size label image), its bounding box box = {r0, c0, r1, c1} and its
 * mask *bmask inside that box (malloc'd, (r1-r0) x (c1-c0), holes filled), and its area. */
static int breast_mask(const float *img, int rows, int cols, const exp_pre_params *p, int nth,
                       float *thr_out, int box[4], uint8_t **bmask_out, size_t *area_out,
                       wb_error *err)
{
    const size_t n = (size_t)rows * (size_t)cols;
    run_vec runs = {0};
    uint32_t *root = NULL;
    uint64_t *csize = NULL;
    uint8_t *bmask = NULL;
    int rc = -1;
    *bmask_out = NULL;
    float thr;
    if (p->mask_threshold == EXP_PRE_MASK_OTSU
            ? io_itk_otsu_threshold(img, rows, cols, p->otsu_bins, &thr, err)
            : triangle_threshold(img, n, p->otsu_bins, nth, &thr, err))
        goto done;
    if (runs_extract(img, thr, NULL, 0, rows, cols, nth, &runs, err))
        goto done;
    root = malloc((runs.n ? runs.n : 1) * sizeof *root);
    csize = malloc((runs.n ? runs.n : 1) * sizeof *csize);
    if (!root || !csize)
        goto nomem;
    runs_label(runs.r, runs.n, p->fully_connected, root);
    size_t area = 0;
    long best = runs_largest(runs.r, runs.n, root, csize, &area);
    if (best < 0) {
        wb_err(err, WB_E_DATA, NULL, "no breast found: nothing above the mask threshold %g "
               "(a blank image?)", (double)thr);
        goto done;
    }
    box[0] = rows;
    box[1] = cols;
    box[2] = -1;
    box[3] = -1;
    for (size_t i = 0; i < runs.n; i++)
        if (root[i] == (uint32_t)best) {
            const pre_run *q = &runs.r[i];
            box[0] = q->row < box[0] ? q->row : box[0];
            box[2] = q->row + 1 > box[2] ? q->row + 1 : box[2];
            box[1] = q->c0 < box[1] ? q->c0 : box[1];
            box[3] = q->c1 > box[3] ? q->c1 : box[3];
        }
    const int bh = box[2] - box[0], bw = box[3] - box[1];
    bmask = calloc((size_t)bh * (size_t)bw, 1);
    if (!bmask)
        goto nomem;
    for (size_t i = 0; i < runs.n; i++)
        if (root[i] == (uint32_t)best) {
            const pre_run *q = &runs.r[i];
            memset(bmask + (size_t)(q->row - box[0]) * (size_t)bw + (size_t)(q->c0 - box[1]), 1,
                   (size_t)(q->c1 - q->c0));
        }
    free(runs.r);
    runs.r = NULL;
    free(root);
    root = NULL;
    free(csize);
    csize = NULL;
    /* Every background pixel outside the bounding box reaches the image border through
     * background, and so does every one on the box's edge: the holes of the whole mask are
     * exactly those of the box's mask, its own edge taken as the border. */
    if (p->fill_holes && fill_holes_runs(bmask, bh, bw, p->fully_connected, nth, err))
        goto done;
    area = 0;
    for (size_t i = 0; i < (size_t)bh * (size_t)bw; i++)
        area += bmask[i];
    *thr_out = thr;
    *area_out = area;
    *bmask_out = bmask;
    bmask = NULL;
    rc = 0;
    goto done;
nomem:
    wb_err(err, WB_E_NOMEM, NULL, "preprocess: out of memory for a %dx%d image", rows, cols);
done:
    free(runs.r);
    free(root);
    free(csize);
    free(bmask);
    return rc;
}

/* Percentiles lo/hi of img inside the box's mask (box rows r0.., columns c0.., mask bh x bw)
 * from a 65536-bin histogram over the masked range: exact to 1/65536 of that range, without
 * sorting millions of pixels. */
static int mask_percentiles(const float *img, int cols, const uint8_t *mask, int r0, int c0,
                            int bh, int bw, double plo, double phi, float *lo, float *hi,
                            wb_error *err)
{
    enum { NB = 65536 };
    float mn = INFINITY, mx = -INFINITY;
    size_t m = 0;
    for (int r = 0; r < bh; r++) {
        const float *p = img + (size_t)(r0 + r) * (size_t)cols + c0;
        const uint8_t *k = mask + (size_t)r * (size_t)bw;
        for (int c = 0; c < bw; c++)
            if (k[c]) {
                mn = p[c] < mn ? p[c] : mn;
                mx = p[c] > mx ? p[c] : mx;
                m++;
            }
    }
    if (m == 0 || !(mx > mn)) {
        *lo = mn;
        *hi = mx;
        return 0;
    }
    size_t *h = calloc(NB, sizeof *h);
    if (!h)
        return wb_err(err, WB_E_NOMEM, NULL, "percentile window: out of memory");
    double scale = NB / ((double)mx - mn);
    for (int r = 0; r < bh; r++) {
        const float *p = img + (size_t)(r0 + r) * (size_t)cols + c0;
        const uint8_t *k = mask + (size_t)r * (size_t)bw;
        for (int c = 0; c < bw; c++)
            if (k[c]) {
                long b = (long)(((double)p[c] - mn) * scale);
                h[b < NB ? b : NB - 1]++;
            }
    }
    double want[2] = {plo / 100.0 * (double)m, phi / 100.0 * (double)m};
    float res[2] = {mn, mx};
    for (int k = 0; k < 2; k++) {
        size_t acc = 0;
        for (long b = 0; b < NB; b++) {
            acc += h[b];
            if ((double)acc >= want[k]) {
                res[k] = (float)(mn + (b + 0.5) / scale);
                break;
            }
        }
    }
    free(h);
    *lo = res[0];
    *hi = res[1];
    return 0;
}

int exp_pre_features(const float *img, const uint8_t *mask, int rows, int cols, const exp_pre_params *p,
                     double features[EXP_PRE_N_FEATURES], wb_error *err)
{
    if (exp_pre_first_order(img, mask, (size_t)rows * (size_t)cols, p->fo_bins, features, err))
        return -1;
    double g[IO_ITK_GLCM_COUNT];
    if (io_itk_glcm_features(img, mask, rows, cols, p->glcm_levels, g, NULL, err))
        return -1;
    for (int k = 0; k < IO_ITK_GLCM_COUNT; k++)
        features[EXP_PRE_F_GLCM_ENERGY + k] = g[k];
    return 0;
}

void exp_pre_placement(const exp_pre_params *p, const int crop_box[4], int *top, int *rows, int *cols)
{
    const int cr = crop_box[2] - crop_box[0], cc = crop_box[3] - crop_box[1];
    int rr = p->out_rows, rc = p->out_cols, t = 0;
    if (p->keep_aspect) {
        double s = fmax((double)cr / p->out_rows, (double)cc / p->out_cols);
        rr = (int)lround(cr / s);
        rc = (int)lround(cc / s);
        rr = rr < 1 ? 1 : rr > p->out_rows ? p->out_rows : rr;
        rc = rc < 1 ? 1 : rc > p->out_cols ? p->out_cols : rc;
        t = (p->out_rows - rr) / 2;
    }
    *top = t;
    *rows = rr;
    *cols = rc;
}

int exp_pre_canvas_to_input(const exp_pre_params *p, const exp_pre_result *r, double y, double x, double *row,
                            double *col)
{
    int top, rr, rc;
    exp_pre_placement(p, r->crop_box, &top, &rr, &rc);
    const int cr = r->crop_box[2] - r->crop_box[0], cc = r->crop_box[3] - r->crop_box[1];
    const double by = y - top, bx = x;
    const double cy = (by + 0.5) * cr / rr - 0.5;
    double cx = (bx + 0.5) * cc / rc - 0.5;
    if (r->flipped)
        cx = cc - 1 - cx;
    *row = r->crop_box[0] + cy;
    *col = r->crop_box[1] + cx;
    return by >= -0.5 && by <= rr - 0.5 && bx >= -0.5 && bx <= rc - 0.5 ? 0 : -1;
}

void exp_pre_unmap(const exp_pre_params *p, const exp_pre_result *r, const float *map, int rows, int cols, int dh,
                   int dw, float outside, float *out)
{
    int top, rr, rc;
    exp_pre_placement(p, r->crop_box, &top, &rr, &rc);
    const int cr = r->crop_box[2] - r->crop_box[0], cc = r->crop_box[3] - r->crop_box[1];
    const int W = r->cols;
    for (int i = 0; i < dh; i++) {
        const double row = (i + 0.5) * rows / dh - 0.5, cy = row - r->crop_box[0];
        for (int j = 0; j < dw; j++) {
            const double col = (j + 0.5) * cols / dw - 0.5;
            double cx = col - r->crop_box[1];
            float *o = out + (size_t)i * dw + j;
            if (cy < -0.5 || cy > cr - 0.5 || cx < -0.5 || cx > cc - 0.5) { /* cropped away */
                *o = outside;
                continue;
            }
            if (r->flipped)
                cx = cc - 1 - cx;
            /* the forward resampling's centres inverted: crop c -> block (c + 0.5) * n / m - 0.5 */
            double by = (cy + 0.5) * rr / cr - 0.5, bx = (cx + 0.5) * rc / cc - 0.5;
            by = by < 0 ? 0 : by > rr - 1 ? rr - 1 : by;
            bx = bx < 0 ? 0 : bx > rc - 1 ? rc - 1 : bx;
            int y0 = (int)by, x0 = (int)bx;
            int y1 = y0 + 1 < rr ? y0 + 1 : y0, x1 = x0 + 1 < rc ? x0 + 1 : x0;
            double fy = by - y0, fx = bx - x0;
            const float *m0 = map + (size_t)(top + y0) * W, *m1 = map + (size_t)(top + y1) * W;
            *o = (float)((1 - fy) * ((1 - fx) * m0[x0] + fx * m0[x1]) + fy * ((1 - fx) * m1[x0] + fx * m1[x1]));
        }
    }
}

int exp_pre_run(const float *img, int rows, int cols, const char *laterality,
                const exp_pre_params *p, exp_pre_result *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    if (exp_pre_params_check(p, err))
        return -1;
    if (rows <= 0 || cols <= 0 || rows > IO_ITK_MAX_DIM || cols > IO_ITK_MAX_DIM ||
        (size_t)rows * (size_t)cols > IO_ITK_MAX_PIXELS)
        return wb_err(err, WB_E_DATA, NULL, "image size %dx%d out of range", rows, cols);
    const int nth = g_threads;
    const size_t n = (size_t)rows * (size_t)cols;
    const size_t on = (size_t)p->out_rows * (size_t)p->out_cols;
    uint8_t *bmask = NULL;
    float *small = NULL;
    lin_tap *ty = NULL, *tx = NULL;
    float *oimg = calloc(on, sizeof *oimg);
    uint8_t *omask = calloc(on, 1);
    int rc = -1;
    if (!oimg || !omask)
        goto nomem;

    /* 1. mask: threshold, the largest component, holes filled inside its bounding box */
    float thr;
    int box[4];
    size_t area;
    if (breast_mask(img, rows, cols, p, nth, &thr, box, &bmask, &area, err))
        goto done;
    const int bh = box[2] - box[0], bw = box[3] - box[1];

    /* 2. shape */
    out->features[EXP_PRE_F_SHAPE_AREA_FRACTION] = (double)area / (double)n;
    out->features[EXP_PRE_F_SHAPE_EXTENT] = (double)area / ((double)bh * (double)bw);

    /* 4. crop box (3. the window is applied while cropping) */
    int b[4] = {0, 0, rows, cols};
    if (p->crop) {
        b[0] = box[0] - p->crop_margin > 0 ? box[0] - p->crop_margin : 0;
        b[1] = box[1] - p->crop_margin > 0 ? box[1] - p->crop_margin : 0;
        b[2] = box[2] + p->crop_margin < rows ? box[2] + p->crop_margin : rows;
        b[3] = box[3] + p->crop_margin < cols ? box[3] + p->crop_margin : cols;
    }
    memcpy(out->crop_box, b, sizeof b);
    const int cr = b[2] - b[0], cc = b[3] - b[1];

    /* 5. flip decision: the column centroid of the mask in the crop */
    int lat_l = laterality && (laterality[0] == 'L' || laterality[0] == 'l') && !laterality[1];
    int lat_r = laterality && (laterality[0] == 'R' || laterality[0] == 'r') && !laterality[1];
    int right = 0;
    strcpy(out->chest_wall_source, "none");
    if ((p->flip == EXP_PRE_FLIP_AUTO || p->flip == EXP_PRE_FLIP_TAG) && (lat_l || lat_r)) {
        right = lat_r;
        strcpy(out->chest_wall_source, "laterality");
    } else if (p->flip == EXP_PRE_FLIP_AUTO || p->flip == EXP_PRE_FLIP_MASS) {
        uint64_t sc = 0; /* exact: the same sum the crop's mask gives */
        for (int r = 0; r < bh; r++)
            for (int c = 0; c < bw; c++)
                if (bmask[(size_t)r * (size_t)bw + (size_t)c])
                    sc += (uint64_t)(c + box[1] - b[1]);
        right = area > 0 && (double)sc / (double)area > (cc - 1) / 2.0;
        strcpy(out->chest_wall_source, "mass");
    }
    out->flipped = right;

    /* 3.-5. window, crop, flip: made row by row as the resampling reads them */
    crop_ctx cx = {.img = img, .cols = cols, .bmask = bmask, .br0 = box[0], .bc0 = box[1],
                   .bh = bh, .bw = bw, .r0 = b[0], .c0 = b[1], .cc = cc,
                   .percentile = p->window == EXP_PRE_WINDOW_PERCENTILE,
                   .background = p->mask_background, .flip = right, .lo = 0, .span = 1};
    if (cx.percentile) {
        float lo = 0, hi = 1;
        if (mask_percentiles(img, cols, bmask, box[0], box[1], bh, bw, p->p_lo, p->p_hi, &lo,
                             &hi, err))
            goto done;
        cx.lo = lo;
        cx.span = hi > lo ? hi - lo : 1;
    }

    /* 6. resample into the output canvas */
    int rr, rc2, top;
    exp_pre_placement(p, b, &top, &rr, &rc2);
    small = malloc((size_t)rr * (size_t)rc2 * sizeof *small);
    ty = malloc((size_t)rr * sizeof *ty);
    tx = malloc((size_t)rc2 * sizeof *tx);
    if (!small || !ty || !tx)
        goto nomem;
    if (resize_impl(NULL, &cx, cr, cc, small, rr, rc2, p->antialias, err))
        goto done;
    for (int r = 0; r < rr; r++)
        memcpy(oimg + (size_t)(r + top) * p->out_cols, small + (size_t)r * rc2,
               (size_t)rc2 * sizeof *oimg);
    resize_mask(&cx, cr, cc, omask + (size_t)top * p->out_cols, rr, rc2, p->out_cols, ty, tx);
    size_t oarea = 0;
    for (size_t i = 0; i < on; i++)
        oarea += omask[i];
    if (oarea == 0) { /* a sliver of a breast vanished in the resampling */
        wb_err(err, WB_E_DATA, NULL, "no breast left after resampling to %dx%d (mask of %zu "
               "pixels)", p->out_rows, p->out_cols, area);
        goto done;
    }

    /* 7. CLAHE */
    if (p->clahe &&
        io_itk_clahe(oimg, p->out_rows, p->out_cols, p->clahe_radius, p->clahe_alpha,
                     p->clahe_beta, err))
        goto done;
    for (size_t i = 0; i < on; i++) {
        float v = oimg[i];
        oimg[i] = v > 0 ? (v < 1 ? v : 1) : 0;
    }

    /* 8. features */
    double tf = wb_now();
    if (exp_pre_features(oimg, omask, p->out_rows, p->out_cols, p, out->features, err))
        goto done;
    out->feature_seconds = wb_now() - tf;

    /* 9. scaling */
    if (p->scale == EXP_PRE_SCALE_ZSCORE) {
        double mu = out->features[EXP_PRE_F_FO_MEAN], sd = out->features[EXP_PRE_F_FO_STD];
        if (!(sd > 1e-12))
            sd = 1;
        for (size_t i = 0; i < on; i++)
            oimg[i] = (float)((oimg[i] - mu) / sd);
    } else if (p->scale == EXP_PRE_SCALE_IMAGENET) {
        for (size_t i = 0; i < on; i++)
            oimg[i] = (oimg[i] - 0.449f) / 0.226f;
    }
    out->rows = p->out_rows;
    out->cols = p->out_cols;
    out->image = oimg;
    out->mask = omask;
    out->threshold = thr;
    oimg = NULL;
    omask = NULL;
    rc = 0;
    goto done;
nomem:
    wb_err(err, WB_E_NOMEM, NULL, "preprocess: out of memory for a %dx%d image", rows, cols);
done:
    free(bmask);
    free(small);
    free(ty);
    free(tx);
    free(oimg);
    free(omask);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ---- inputs ---- */

int exp_pre_file(const char *path, const exp_pre_params *p, exp_pre_result *out,
                 wb_error *err)
{
    memset(out, 0, sizeof *out);
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    io_dicom_image img;
    if (io_image_read(path, &opt, &img, NULL, err))
        return -1;
    /* non-DICOM files have no laterality: "" lets the breast's mass decide */
    int rc = exp_pre_run(img.pixels, img.rows, img.cols, img.meta.laterality, p, out, err);
    io_dicom_image_free(&img);
    if (rc && err && !err->file[0])
        snprintf(err->file, sizeof err->file, "%s", path);
    return rc;
}

/* ---- the frame: steps 1, 3 and 5 at the input's own resolution (for patches) ---- */

void exp_pre_frame_free(exp_pre_frame *f)
{
    if (!f)
        return;
    free(f->mask);
    memset(f, 0, sizeof *f);
}

int exp_pre_frame_run(const float *img, int rows, int cols, const char *laterality,
                      const exp_pre_params *p, exp_pre_frame *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    if (exp_pre_params_check(p, err))
        return -1;
    if (rows <= 0 || cols <= 0 || rows > IO_ITK_MAX_DIM || cols > IO_ITK_MAX_DIM ||
        (size_t)rows * (size_t)cols > IO_ITK_MAX_PIXELS)
        return wb_err(err, WB_E_DATA, NULL, "image size %dx%d out of range", rows, cols);
    const int nth = g_threads;
    const size_t n = (size_t)rows * (size_t)cols;
    uint8_t *bmask = NULL, *mask = calloc(n, 1);
    int rc = -1;
    if (!mask)
        goto nomem;
    /* step 1 exactly as exp_pre_run takes it */
    float thr;
    int box[4];
    size_t area;
    if (breast_mask(img, rows, cols, p, nth, &thr, box, &bmask, &area, err))
        goto done;
    const int bh = box[2] - box[0], bw = box[3] - box[1];
    for (int r = 0; r < bh; r++)
        memcpy(mask + (size_t)(r + box[0]) * (size_t)cols + (size_t)box[1], bmask + (size_t)r * (size_t)bw,
               (size_t)bw);
    /* step 3: the window */
    out->lo = 0;
    out->span = 1;
    if (p->window == EXP_PRE_WINDOW_PERCENTILE) {
        float lo = 0, hi = 1;
        if (mask_percentiles(img, cols, bmask, box[0], box[1], bh, bw, p->p_lo, p->p_hi, &lo, &hi,
                             err))
            goto done;
        out->lo = lo;
        out->span = hi > lo ? hi - lo : 1;
    }
    /* step 5: the flip decision, on the crop box of step 4 */
    int b[4] = {0, 0, rows, cols};
    if (p->crop) {
        b[1] = box[1] - p->crop_margin > 0 ? box[1] - p->crop_margin : 0;
        b[3] = box[3] + p->crop_margin < cols ? box[3] + p->crop_margin : cols;
    }
    const int cc = b[3] - b[1];
    int lat_l = laterality && (laterality[0] == 'L' || laterality[0] == 'l') && !laterality[1];
    int lat_r = laterality && (laterality[0] == 'R' || laterality[0] == 'r') && !laterality[1];
    int right = 0;
    if ((p->flip == EXP_PRE_FLIP_AUTO || p->flip == EXP_PRE_FLIP_TAG) && (lat_l || lat_r)) {
        right = lat_r;
    } else if (p->flip == EXP_PRE_FLIP_AUTO || p->flip == EXP_PRE_FLIP_MASS) {
        uint64_t sc = 0;
        for (int r = 0; r < bh; r++)
            for (int c = 0; c < bw; c++)
                if (bmask[(size_t)r * (size_t)bw + (size_t)c])
                    sc += (uint64_t)(c + box[1] - b[1]);
        right = area > 0 && (double)sc / (double)area > (cc - 1) / 2.0;
    }
    out->rows = rows;
    out->cols = cols;
    out->mask = mask;
    out->area = area;
    memcpy(out->box, box, sizeof box);
    out->flipped = right;
    out->threshold = thr;
    mask = NULL;
    rc = 0;
    goto done;
nomem:
    wb_err(err, WB_E_NOMEM, NULL, "preprocess: out of memory for a %dx%d image", rows, cols);
done:
    free(bmask);
    free(mask);
    return rc;
}
