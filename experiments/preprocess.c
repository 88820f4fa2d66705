/* preprocess.c — the preprocessing pipeline of preprocess.h: ITK filters through io_itk.h,
 * the rest (windowing, crop, flip decision, scaling, first-order features) in C. */
#include "preprocess.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io_dicom.h"
#include "io_itk.h"
#include "io_sha256.h"

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

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
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
    qsort(v, m, sizeof *v, cmp_float);
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

/* ---- the pipeline ---- */

/* Percentiles lo/hi of img inside mask from a 65536-bin histogram over the masked range:
 * exact to 1/65536 of that range, without sorting millions of pixels. */
static int mask_percentiles(const float *img, const uint8_t *mask, size_t n, double plo,
                            double phi, float *lo, float *hi, wb_error *err)
{
    enum { NB = 65536 };
    float mn = INFINITY, mx = -INFINITY;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (mask[i]) {
            mn = img[i] < mn ? img[i] : mn;
            mx = img[i] > mx ? img[i] : mx;
            m++;
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
    for (size_t i = 0; i < n; i++)
        if (mask[i]) {
            long b = (long)(((double)img[i] - mn) * scale);
            h[b < NB ? b : NB - 1]++;
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

/* 1 if the chest wall is on the right, judged by the mask's column centroid. */
static int mass_on_right(const uint8_t *mask, int rows, int cols)
{
    double sc = 0, cnt = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            if (mask[(size_t)r * cols + c]) {
                sc += c;
                cnt += 1;
            }
    return cnt > 0 && sc / cnt > (cols - 1) / 2.0;
}

static void flip_mask(uint8_t *m, int rows, int cols)
{
    for (int r = 0; r < rows; r++) {
        uint8_t *row = m + (size_t)r * cols;
        for (int a = 0, b = cols - 1; a < b; a++, b--) {
            uint8_t t = row[a];
            row[a] = row[b];
            row[b] = t;
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
    size_t n = (size_t)rows * (size_t)cols;
    const size_t on = (size_t)p->out_rows * (size_t)p->out_cols;
    float *work = malloc(n * sizeof *work), *crop = NULL, *maskf = NULL, *small = NULL;
    uint8_t *mask = malloc(n), *cmask = NULL;
    float *oimg = calloc(on, sizeof *oimg);
    uint8_t *omask = calloc(on, 1);
    int rc = -1;
    if (!work || !mask || !oimg || !omask) {
        wb_err(err, WB_E_NOMEM, NULL, "preprocess: out of memory for a %dx%d image", rows, cols);
        goto done;
    }
    memcpy(work, img, n * sizeof *work);

    /* 1. mask */
    float thr;
    if (p->mask_threshold == EXP_PRE_MASK_OTSU
            ? io_itk_otsu_threshold(work, rows, cols, p->otsu_bins, &thr, err)
            : io_itk_triangle_threshold(work, rows, cols, p->otsu_bins, &thr, err))
        goto done;
    for (size_t i = 0; i < n; i++)
        mask[i] = work[i] > thr;
    size_t area = 0;
    if (io_itk_largest_component(mask, rows, cols, p->fully_connected, &area, err))
        goto done;
    if (area == 0) {
        wb_err(err, WB_E_DATA, NULL, "no breast found: nothing above the mask threshold %g "
               "(a blank image?)", (double)thr);
        goto done;
    }
    if (p->fill_holes && io_itk_fill_holes(mask, rows, cols, p->fully_connected, err))
        goto done;
    int box[4];
    if (io_itk_mask_bbox(mask, rows, cols, box, err))
        goto done;
    area = 0;
    for (size_t i = 0; i < n; i++)
        area += mask[i];

    /* 2. shape */
    out->features[EXP_PRE_F_SHAPE_AREA_FRACTION] = (double)area / (double)n;
    out->features[EXP_PRE_F_SHAPE_EXTENT] =
        (double)area / ((double)(box[2] - box[0]) * (double)(box[3] - box[1]));

    /* 3. window */
    if (p->window == EXP_PRE_WINDOW_PERCENTILE) {
        float lo = 0, hi = 1;
        if (mask_percentiles(work, mask, n, p->p_lo, p->p_hi, &lo, &hi, err))
            goto done;
        float span = hi > lo ? hi - lo : 1;
        for (size_t i = 0; i < n; i++)
            work[i] = (work[i] - lo) / span;
    }
    for (size_t i = 0; i < n; i++) {
        float v = work[i];
        v = v > 0 ? (v < 1 ? v : 1) : 0; /* also maps NaN to 0 */
        work[i] = p->mask_background && !mask[i] ? 0 : v;
    }

    /* 4. crop */
    int b[4] = {0, 0, rows, cols};
    if (p->crop) {
        b[0] = box[0] - p->crop_margin > 0 ? box[0] - p->crop_margin : 0;
        b[1] = box[1] - p->crop_margin > 0 ? box[1] - p->crop_margin : 0;
        b[2] = box[2] + p->crop_margin < rows ? box[2] + p->crop_margin : rows;
        b[3] = box[3] + p->crop_margin < cols ? box[3] + p->crop_margin : cols;
    }
    memcpy(out->crop_box, b, sizeof b);
    int cr = b[2] - b[0], cc = b[3] - b[1];
    size_t cn = (size_t)cr * (size_t)cc;
    crop = malloc(cn * sizeof *crop);
    maskf = malloc(cn * sizeof *maskf);
    cmask = malloc(cn);
    if (!crop || !maskf || !cmask) {
        wb_err(err, WB_E_NOMEM, NULL, "preprocess: out of memory");
        goto done;
    }
    for (int r = 0; r < cr; r++) {
        memcpy(crop + (size_t)r * cc, work + (size_t)(r + b[0]) * cols + b[1], cc * sizeof *crop);
        memcpy(cmask + (size_t)r * cc, mask + (size_t)(r + b[0]) * cols + b[1], (size_t)cc);
    }

    /* 5. flip */
    int lat_l = laterality && (laterality[0] == 'L' || laterality[0] == 'l') && !laterality[1];
    int lat_r = laterality && (laterality[0] == 'R' || laterality[0] == 'r') && !laterality[1];
    int right = 0;
    strcpy(out->chest_wall_source, "none");
    if ((p->flip == EXP_PRE_FLIP_AUTO || p->flip == EXP_PRE_FLIP_TAG) && (lat_l || lat_r)) {
        right = lat_r;
        strcpy(out->chest_wall_source, "laterality");
    } else if (p->flip == EXP_PRE_FLIP_AUTO || p->flip == EXP_PRE_FLIP_MASS) {
        right = mass_on_right(cmask, cr, cc);
        strcpy(out->chest_wall_source, "mass");
    }
    if (right) {
        if (io_itk_flip_horizontal(crop, cr, cc, err))
            goto done;
        flip_mask(cmask, cr, cc);
        out->flipped = 1;
    }
    for (size_t i = 0; i < cn; i++)
        maskf[i] = cmask[i];

    /* 6. resample into the output canvas */
    int rr = p->out_rows, rc2 = p->out_cols, top = 0;
    if (p->keep_aspect) {
        double s = fmax((double)cr / p->out_rows, (double)cc / p->out_cols);
        rr = (int)lround(cr / s);
        rc2 = (int)lround(cc / s);
        rr = rr < 1 ? 1 : rr > p->out_rows ? p->out_rows : rr;
        rc2 = rc2 < 1 ? 1 : rc2 > p->out_cols ? p->out_cols : rc2;
        top = (p->out_rows - rr) / 2;
    }
    small = malloc((size_t)rr * (size_t)rc2 * sizeof *small);
    if (!small) {
        wb_err(err, WB_E_NOMEM, NULL, "preprocess: out of memory");
        goto done;
    }
    if (io_itk_resample(crop, cr, cc, small, rr, rc2, p->antialias, err))
        goto done;
    for (int r = 0; r < rr; r++)
        for (int c = 0; c < rc2; c++)
            oimg[(size_t)(r + top) * p->out_cols + c] = small[(size_t)r * rc2 + c];
    if (io_itk_resample(maskf, cr, cc, small, rr, rc2, 0, err))
        goto done;
    for (int r = 0; r < rr; r++)
        for (int c = 0; c < rc2; c++)
            omask[(size_t)(r + top) * p->out_cols + c] = small[(size_t)r * rc2 + c] >= 0.5f;
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
    if (exp_pre_first_order(oimg, omask, on, p->fo_bins, out->features, err))
        goto done;
    double g[IO_ITK_GLCM_COUNT];
    if (io_itk_glcm_features(oimg, omask, p->out_rows, p->out_cols, p->glcm_levels, g, NULL,
                             err))
        goto done;
    for (int k = 0; k < IO_ITK_GLCM_COUNT; k++)
        out->features[EXP_PRE_F_GLCM_ENERGY + k] = g[k];

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
done:
    free(work);
    free(mask);
    free(crop);
    free(maskf);
    free(cmask);
    free(small);
    free(oimg);
    free(omask);
    if (rc)
        memset(out, 0, sizeof *out);
    return rc;
}

/* ---- inputs ---- */

static int pgm_token(FILE *f, long *v)
{
    int ch;
    for (;;) {
        ch = fgetc(f);
        if (ch == '#')
            while (ch != '\n' && ch != EOF)
                ch = fgetc(f);
        if (ch == EOF)
            return -1;
        if (ch != ' ' && ch != '\t' && ch != '\n' && ch != '\r')
            break;
    }
    long x = 0;
    int digits = 0;
    while (ch >= '0' && ch <= '9') {
        if (x > 1000000)
            return -1;
        x = x * 10 + (ch - '0');
        digits++;
        ch = fgetc(f);
    }
    if (!digits)
        return -1;
    *v = x; /* ch is the single whitespace after the number */
    return 0;
}

int exp_pre_read_pgm(const char *path, float **px, int *rows, int *cols, wb_error *err)
{
    *px = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return wb_err(err, WB_E_IO, path, "cannot open: %s", strerror(errno));
    long w, h, maxv;
    char magic[2];
    if (fread(magic, 1, 2, f) != 2 || magic[0] != 'P' || magic[1] != '5' ||
        pgm_token(f, &w) || pgm_token(f, &h) || pgm_token(f, &maxv)) {
        fclose(f);
        return wb_err(err, WB_E_DATA, path, "not a binary PGM (P5) file");
    }
    if (w < 1 || h < 1 || w > IO_ITK_MAX_DIM || h > IO_ITK_MAX_DIM ||
        (size_t)w * (size_t)h > IO_ITK_MAX_PIXELS || maxv < 1 || maxv > 65535) {
        fclose(f);
        return wb_err(err, WB_E_DATA, path, "PGM header out of range: %ldx%ld, maxval %ld", w, h,
                      maxv);
    }
    size_t n = (size_t)w * (size_t)h, bpp = maxv > 255 ? 2 : 1;
    unsigned char *raw = malloc(n * bpp);
    float *img = malloc(n * sizeof *img);
    if (!raw || !img) {
        free(raw);
        free(img);
        fclose(f);
        return wb_err(err, WB_E_NOMEM, path, "out of memory for a %ldx%ld image", w, h);
    }
    size_t got = fread(raw, bpp, n, f);
    fclose(f);
    if (got != n) {
        free(raw);
        free(img);
        return wb_err(err, WB_E_DATA, path, "truncated PGM: %zu of %zu pixels", got, n);
    }
    for (size_t i = 0; i < n; i++) {
        unsigned v = bpp == 2 ? (unsigned)raw[2 * i] << 8 | raw[2 * i + 1] : raw[i];
        img[i] = (float)((double)(v > (unsigned)maxv ? (unsigned)maxv : v) / (double)maxv);
    }
    free(raw);
    *px = img;
    *rows = (int)h;
    *cols = (int)w;
    return 0;
}

static int starts_with_p5(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    char m[2] = {0, 0};
    size_t k = fread(m, 1, 2, f);
    fclose(f);
    return k == 2 && m[0] == 'P' && m[1] == '5';
}

int exp_pre_file(const char *path, const exp_pre_params *p, exp_pre_result *out,
                 wb_error *err)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (starts_with_p5(path)) {
        float *px;
        int rows, cols;
        if (exp_pre_read_pgm(path, &px, &rows, &cols, err))
            return -1;
        rc = exp_pre_run(px, rows, cols, NULL, p, out, err);
        free(px);
    } else {
        io_dicom_options opt;
        io_dicom_options_default(&opt);
        io_dicom_image img;
        if (io_dicom_read(path, &opt, &img, err))
            return -1;
        rc = exp_pre_run(img.pixels, img.rows, img.cols, img.meta.laterality, p, out, err);
        io_dicom_image_free(&img);
    }
    if (rc && err && !err->file[0])
        snprintf(err->file, sizeof err->file, "%s", path);
    return rc;
}
