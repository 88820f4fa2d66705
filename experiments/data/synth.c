/* synth.c — synthetic screening mammograms. See synth.h for what is written.
 *
 * The image model works in a canonical orientation (chest wall at column 0, nipple to the
 * right) with brightness b in [0,1] (0 = air, 1 = densest), then mirrors right breasts, maps
 * b to the vendor's stored values and writes DICOM through io_dicom_write.
 *
 *   b = air                              outside the breast
 *   b = t * (fat + gland * g + lesion) + skin   inside, t = thickness fall-off at the edge
 *   g = sigmoid(k * (texture + density bias + envelope))   texture ~ 1/f^3 power spectrum
 *
 * Everything random comes from per-(patient, breast, view) streams of one seeded generator,
 * so files do not depend on the order they are made in.
 */
#include "experiments/data/synth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/wb_rng.h"
#include "io/io_dicom.h"
#include "io/io_fs.h"
#include "base/wb_log.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

void exp_synth_options_default(exp_synth_options *o)
{
    memset(o, 0, sizeof *o);
    o->patients = 120;
    o->seed = 7;
    o->prevalence = 0.25;
    o->benign_rate = 0.2;
    o->width = 512;
    o->height = 640;
    o->difficulty = 0.5;
}

/* labels.csv names of io_dicom_ts values */
static const char *const TS_NAMES[IO_DICOM_TS_COUNT_] = {"explicit_le", "jpeg_lossless", "jpeg_ls",
                                                         "rle", "j2k"};

int exp_synth_parse_ts(const char *list, exp_synth_options *o, wb_error *err)
{
    o->n_ts = 0;
    if (!strcmp(list, "mix")) return 0;
    const char *p = list;
    for (;;) {
        size_t k = strcspn(p, ",");
        int found = -1;
        for (int t = 0; t < IO_DICOM_TS_COUNT_; t++)
            if (strlen(TS_NAMES[t]) == k && !strncmp(p, TS_NAMES[t], k)) found = t;
        if (found < 0 || o->n_ts >= (int)(sizeof o->ts / sizeof o->ts[0]))
            return wb_err(err, WB_E_USAGE, NULL,
                          "--transfer-syntax: '%.*s' is not one of mix, explicit_le, jpeg_lossless, "
                          "jpeg_ls, rle, j2k (a comma-separated list)", (int)k, p);
        o->ts[o->n_ts++] = found;
        if (!p[k]) return 0;
        p += k + 1;
    }
}

/* ---- random numbers: the experiments' seeded xoshiro256** (cv.h) ---- */

typedef wb_rng rng;

/* A stream for (a, b, c): independent, reproducible seeds for every patient and view. */
static uint64_t hash3(uint64_t a, uint64_t b, uint64_t c)
{
    return wb_rng_derive(wb_rng_derive(a, b), c);
}

static void rng_init(rng *r, uint64_t seed) { wb_rng_seed(r, seed); }
static uint64_t rng_next(rng *r) { return wb_rng_next(r); }
static double rng_unif(rng *r) { return wb_rng_uniform(r); }
static double rng_range(rng *r, double lo, double hi) { return lo + (hi - lo) * rng_unif(r); }

static double rng_normal(rng *r)
{
    double u1 = rng_unif(r), u2 = rng_unif(r);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

/* ---- FFT for the power-law texture ---- */

static void fft1(double *re, double *im, int n, int stride, int inverse)
{
    for (int i = 1, j = 0; i < n; i++) { /* bit reversal */
        int bit = n >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double t = re[i * stride];
            re[i * stride] = re[j * stride];
            re[j * stride] = t;
            t = im[i * stride];
            im[i * stride] = im[j * stride];
            im[j * stride] = t;
        }
    }
    for (int len = 2; len <= n; len <<= 1) {
        double ang = 2 * M_PI / len * (inverse ? 1 : -1);
        double wr = cos(ang), wi = sin(ang);
        for (int i = 0; i < n; i += len) {
            double cr = 1, ci = 0;
            for (int k = 0; k < len / 2; k++) {
                int a = (i + k) * stride, b = (i + k + len / 2) * stride;
                double xr = re[b] * cr - im[b] * ci, xi = re[b] * ci + im[b] * cr;
                re[b] = re[a] - xr;
                im[b] = im[a] - xi;
                re[a] += xr;
                im[a] += xi;
                double t = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = t;
            }
        }
    }
}

/* In-place transpose of an n x n matrix. */
static void transpose(double *a, int n)
{
    for (int y = 0; y < n; y++)
        for (int x = y + 1; x < n; x++) {
            double t = a[(size_t)y * n + x];
            a[(size_t)y * n + x] = a[(size_t)x * n + y];
            a[(size_t)x * n + y] = t;
        }
}

/* 2-D FFT of an n x n complex array: rows, then columns as rows of the transpose (strided
 * column passes are several times slower at these sizes). */
static void fft2(double *re, double *im, int n, int inverse)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int y = 0; y < n; y++)
            fft1(re + (size_t)y * n, im + (size_t)y * n, n, 1, inverse);
        transpose(re, n);
        transpose(im, n);
    }
}

/* n x n field with power spectrum ~ 1/f^beta, zero mean, unit variance. */
static int powerlaw_field(int n, double beta, rng *r, double *out)
{
    double *re = calloc((size_t)n * n, sizeof *re), *im = calloc((size_t)n * n, sizeof *im);
    if (!re || !im) {
        free(re);
        free(im);
        return -1;
    }
    for (size_t i = 0; i < (size_t)n * n; i++)
        re[i] = rng_normal(r);
    fft2(re, im, n, 0);
    for (int y = 0; y < n; y++) {
        int fy = y <= n / 2 ? y : n - y;
        for (int x = 0; x < n; x++) {
            int fx = x <= n / 2 ? x : n - x;
            double f = sqrt((double)fx * fx + (double)fy * fy);
            double a = f < 1 ? 0 : pow(f, -beta / 2); /* amplitude ~ f^(-beta/2) */
            re[(size_t)y * n + x] *= a;
            im[(size_t)y * n + x] *= a;
        }
    }
    fft2(re, im, n, 1);
    double s = 0, s2 = 0;
    size_t nn = (size_t)n * n;
    for (size_t i = 0; i < nn; i++) {
        s += re[i];
        s2 += re[i] * re[i];
    }
    double mean = s / nn, sd = sqrt(s2 / nn - mean * mean);
    for (size_t i = 0; i < nn; i++)
        out[i] = (re[i] - mean) / (sd > 0 ? sd : 1);
    free(re);
    free(im);
    return 0;
}

/* ---- the cohort ---- */

typedef enum { LES_NONE = 0, LES_MASS_OVAL, LES_CALC_SCATTERED, LES_MASS_SPICULATED, LES_CALC_CLUSTER, LES_DISK } lesion_kind;
static const char *const lesion_names[] = {"", "circumscribed_mass", "scattered_calcifications",
                                           "spiculated_mass", "clustered_calcifications", "disk"};
static const char *const label_names[] = {"normal", "benign", "malignant"};

typedef struct vendor {
    const char *manufacturer, *model;
    int mono1, bits, n_windows, sigmoid;
    double spacing;
} vendor;

static const vendor vendors[] = {
    {"Synthetic Imaging Alpha", "SIA Mammo 3000", 0, 12, 1, 0, 0.1},
    {"Synthetic Imaging Beta", "SIB Senograph S", 1, 14, 2, 0, 0.07},
    {"Synthetic Imaging Gamma", "SIG Selenia X", 0, 14, 1, 1, 0.085},
};
#define N_VENDORS (sizeof vendors / sizeof vendors[0])

typedef struct breast {
    int label;          /* 0 normal, 1 benign, 2 malignant */
    lesion_kind lesion;
    double u, w;        /* lesion position: fraction of depth from chest wall, of half-height */
    double size;        /* lesion radius in pixels (mass) or cluster radius (calcs) */
    uint64_t lesion_seed;
} breast;

typedef struct patient {
    int index;
    char id[32];        /* PatientID: "SYN" + 8 hex digits from the seed, like a hospital number */
    char dir[16];       /* directory name: P0001, ... (not the PatientID, so paths carry no id) */
    int density;        /* 0..3 = BI-RADS a..d */
    int age;
    const vendor *v;
    breast b[2];        /* 0 = L, 1 = R */
    uint64_t seed;
} patient;

static void plan_patient(const exp_synth_options *o, int i, patient *p)
{
    rng r;
    rng_init(&r, hash3(o->seed, 0x50A71E27ull, (uint64_t)i));
    memset(p, 0, sizeof *p);
    p->index = i;
    snprintf(p->dir, sizeof p->dir, "P%04d", i + 1);
    snprintf(p->id, sizeof p->id, "SYN%08llX", (unsigned long long)(hash3(o->seed, 0x1D5ull, (uint64_t)i) >> 32));
    p->seed = hash3(o->seed, 0xB1A5ull, (uint64_t)i);
    static const double density_cdf[] = {0.1, 0.5, 0.9, 1.0};
    double u = rng_unif(&r);
    while (p->density < 3 && u > density_cdf[p->density])
        p->density++;
    p->age = 40 + (int)(rng_unif(&r) * 35);
    p->v = &vendors[rng_next(&r) % N_VENDORS];
    double d = rng_unif(&r);
    int side = (int)(rng_next(&r) & 1);
    if (d < o->prevalence)
        p->b[side].label = 2;
    else if (d < o->prevalence + o->benign_rate)
        p->b[side].label = 1;
    for (int s = 0; s < 2; s++) {
        breast *b = &p->b[s];
        b->lesion_seed = rng_next(&r);
        b->u = rng_range(&r, 0.3, 0.75);
        b->w = rng_range(&r, -0.5, 0.5);
        double scale = o->width / 512.0;
        if (b->label == 1) {
            b->lesion = rng_unif(&r) < 0.5 ? LES_MASS_OVAL : LES_CALC_SCATTERED;
            b->size = (b->lesion == LES_MASS_OVAL ? rng_range(&r, 14, 26) : rng_range(&r, 30, 50)) * scale;
        } else if (b->label == 2 && o->disk) {
            (void)rng_unif(&r); /* the same draws as a realistic lesion */
            b->lesion = LES_DISK;
            b->size = rng_range(&r, 40, 60) * scale;
        } else if (b->label == 2) {
            b->lesion = rng_unif(&r) < 0.6 ? LES_MASS_SPICULATED : LES_CALC_CLUSTER;
            b->size = (b->lesion == LES_MASS_SPICULATED ? rng_range(&r, 14, 26) : rng_range(&r, 8, 14)) * scale;
        } else {
            (void)rng_unif(&r); /* keep the stream the same length for every label */
        }
    }
}

typedef struct view_geom {
    double depth, yc, halfh; /* breast ellipse: x in [0, depth], centred at yc */
    int mlo;
    double pect_w, pect_h;   /* pectoral triangle on MLO */
} view_geom;

static double sq(double x) { return x * x; }

static double smoothstep(double e0, double e1, double x)
{
    double t = (x - e0) / (e1 - e0);
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    return t * t * (3 - 2 * t);
}

/* Adds a lesion at (cx, cy) to b (canonical orientation); returns its bounding box. */
static void draw_lesion(double *img, const double *thick, int W, int H, const breast *bk, double cx,
                        double cy, double contrast, rng *r, int box[4])
{
    int x0 = W, y0 = H, x1 = -1, y1 = -1;
#define MARK(X, Y)                                                                                 \
    do {                                                                                           \
        if ((X) < x0) x0 = (X);                                                                    \
        if ((X) > x1) x1 = (X);                                                                    \
        if ((Y) < y0) y0 = (Y);                                                                    \
        if ((Y) > y1) y1 = (Y);                                                                    \
    } while (0)
    const double R = bk->size;
    if (bk->lesion == LES_DISK) { /* a uniform bright disk with a 1-pixel soft edge */
        for (int y = (int)(cy - R - 2); y <= (int)(cy + R + 2); y++) {
            if (y < 0 || y >= H) continue;
            for (int x = (int)(cx - R - 2); x <= (int)(cx + R + 2); x++) {
                if (x < 0 || x >= W) continue;
                size_t i = (size_t)y * W + x;
                double v = 1.0 - smoothstep(-1.0, 1.0, sqrt(sq(x - cx) + sq(y - cy)) - R);
                if (thick[i] <= 0 || v <= 0.02) continue;
                img[i] += contrast * v * thick[i];
                MARK(x, y);
            }
        }
    } else if (bk->lesion == LES_MASS_OVAL || bk->lesion == LES_MASS_SPICULATED) {
        const int spic = bk->lesion == LES_MASS_SPICULATED;
        double ax = R * rng_range(r, 0.9, 1.3), ay = R * rng_range(r, 0.7, 1.0);
        double th = rng_range(r, 0, M_PI);
        double harm_a[8] = {0}, harm_p[8] = {0};
        for (int k = 2; k < 8; k++) {
            harm_a[k] = spic ? rng_range(r, 0.03, 0.12) : 0.0;
            harm_p[k] = rng_range(r, 0, 2 * M_PI);
        }
        int nsp = spic ? 8 + (int)(rng_unif(r) * 10) : 0;
        double sp_ang[20], sp_len[20];
        for (int k = 0; k < nsp; k++) {
            sp_ang[k] = rng_range(r, 0, 2 * M_PI);
            sp_len[k] = R * rng_range(r, 1.6, 2.8);
        }
        double ext = spic ? 3.0 * R : 1.5 * R;
        double edge = spic ? 2.0 : 1.2; /* edge blur in pixels: ill-defined vs circumscribed */
        for (int y = (int)(cy - ext); y <= (int)(cy + ext); y++) {
            if (y < 0 || y >= H) continue;
            for (int x = (int)(cx - ext); x <= (int)(cx + ext); x++) {
                if (x < 0 || x >= W) continue;
                size_t i = (size_t)y * W + x;
                if (thick[i] <= 0) continue;
                double dx = x - cx, dy = y - cy;
                double rx = dx * cos(th) + dy * sin(th), ry = -dx * sin(th) + dy * cos(th);
                double phi = atan2(ry / ay, rx / ax);
                double rr = sqrt((rx / ax) * (rx / ax) + (ry / ay) * (ry / ay));
                double mod = 1;
                for (int k = 2; k < 8; k++) mod += harm_a[k] * cos(k * phi + harm_p[k]);
                double dist = (rr - mod) * R; /* signed distance to the border, pixels */
                double v = 1.0 - smoothstep(-edge, edge, dist);
                v *= 0.75 + 0.25 * sqrt(fmax(0, 1 - rr * rr)); /* denser centre */
                double sp = 0;
                for (int k = 0; k < nsp; k++) {
                    double ca = cos(sp_ang[k]), sa = sin(sp_ang[k]);
                    double along = dx * ca + dy * sa, across = fabs(-dx * sa + dy * ca);
                    if (along < 0 || along > sp_len[k]) continue;
                    double wdt = 1.3 * (1 - along / sp_len[k]) + 0.4;
                    double s = exp(-(across * across) / (wdt * wdt)) * (1 - along / sp_len[k]);
                    sp = fmax(sp, 0.6 * s);
                }
                double add = fmax(v, sp);
                if (add > 0.02) {
                    img[i] += contrast * add * thick[i];
                    MARK(x, y);
                }
            }
        }
    } else {
        const int cluster = bk->lesion == LES_CALC_CLUSTER;
        int n = cluster ? 6 + (int)(rng_unif(r) * 10) : 3 + (int)(rng_unif(r) * 6);
        for (int k = 0; k < n; k++) {
            double a = rng_range(r, 0, 2 * M_PI), d = R * sqrt(rng_unif(r));
            double px = cx + d * cos(a), py = cy + d * sin(a);
            /* pleomorphic: small, elongated, varied; benign: larger, round */
            double sx = cluster ? rng_range(r, 0.6, 1.6) : rng_range(r, 1.4, 2.4);
            double sy = cluster ? sx * rng_range(r, 0.4, 1.0) : sx * rng_range(r, 0.85, 1.0);
            double ang = rng_range(r, 0, M_PI);
            double amp = contrast * (cluster ? rng_range(r, 1.2, 2.0) : rng_range(r, 1.4, 2.0));
            for (int y = (int)(py - 4 * sx); y <= (int)(py + 4 * sx) + 1; y++) {
                if (y < 0 || y >= H) continue;
                for (int x = (int)(px - 4 * sx); x <= (int)(px + 4 * sx) + 1; x++) {
                    if (x < 0 || x >= W) continue;
                    size_t i = (size_t)y * W + x;
                    if (thick[i] <= 0) continue;
                    double dx = x - px, dy = y - py;
                    double rx = dx * cos(ang) + dy * sin(ang), ry = -dx * sin(ang) + dy * cos(ang);
                    double q = (rx * rx) / (sx * sx) + (ry * ry) / (sy * sy);
                    double v = exp(-q);
                    if (v > 0.05) {
                        img[i] += amp * v * thick[i];
                        MARK(x, y);
                    }
                }
            }
        }
    }
    if (x1 < 0) { /* lesion fell outside the breast: an empty box */
        x0 = y0 = 0;
        x1 = y1 = -1;
    }
    box[0] = x0;
    box[1] = y0;
    box[2] = x1 - x0 + 1;
    box[3] = y1 - y0 + 1;
#undef MARK
}

/* Renders one view in the canonical orientation into b (W*H). box gets the lesion box. */
static int render_view(const exp_synth_options *o, const patient *p, int side, int mlo, double *b,
                       int box[4])
{
    const int W = o->width, H = o->height;
    const breast *bk = &p->b[side];
    rng r;
    rng_init(&r, hash3(p->seed, (uint64_t)side, (uint64_t)mlo + 11));
    /* Breast geometry; the same breast is a little larger on MLO. */
    rng rb;
    rng_init(&rb, hash3(p->seed, (uint64_t)side, 99));
    double size = rng_range(&rb, 0.8, 1.0);
    view_geom g;
    g.mlo = mlo;
    g.depth = W * (mlo ? 0.78 : 0.72) * size;
    g.halfh = H * (mlo ? 0.47 : 0.42) * (0.9 + 0.1 * size);
    g.yc = mlo ? H * 0.47 : H * 0.5;
    g.pect_w = mlo ? W * rng_range(&r, 0.22, 0.36) : 0;
    g.pect_h = mlo ? H * rng_range(&r, 0.38, 0.6) : 0;
    double wob_a[4], wob_c[4], wob_s[4];
    for (int k = 0; k < 4; k++) {
        wob_a[k] = rng_range(&r, 0, 0.025);
        double ph = rng_range(&r, 0, 2 * M_PI);
        wob_c[k] = cos(ph);
        wob_s[k] = sin(ph);
    }

    /* Texture at half resolution (the spectrum is dominated by low frequencies), upsampled. */
    int n = 1;
    while (n < (W > H ? W : H) / 2 + 1) n <<= 1;
    double *tex = malloc((size_t)n * n * sizeof *tex);
    double *thick = calloc((size_t)W * H, sizeof *thick);
    if (!tex || !thick) {
        free(tex);
        free(thick);
        return -1;
    }
    if (powerlaw_field(n, 3.0, &r, tex) != 0) {
        free(tex);
        free(thick);
        return -1;
    }
    static const double density_bias[] = {-1.3, -0.6, 0.0, 0.6};
    const double bias = density_bias[p->density];
    const double air = 0.03, fat = 0.30, gland_c = 0.36;
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            size_t i = (size_t)y * W + x;
            double ny = (y - g.yc) / g.halfh;
            /* outline wobble: sum of a_k cos((k+2) phi + p_k), by rotating (cos phi, sin phi) */
            double r0 = sqrt(sq((double)x / g.depth) + ny * ny);
            double c1 = r0 > 0 ? (x / g.depth) / r0 : 1, s1 = r0 > 0 ? ny / r0 : 0;
            double ck = c1 * c1 - s1 * s1, sk = 2 * s1 * c1; /* k = 2 */
            double wob = 1;
            for (int k = 0; k < 4; k++) {
                wob += wob_a[k] * (ck * wob_c[k] - sk * wob_s[k]);
                double t = ck * c1 - sk * s1;
                sk = sk * c1 + ck * s1;
                ck = t;
            }
            double nx = x / (g.depth * wob);
            double rho = sqrt(nx * nx + ny * ny);
            double val = air;
            if (rho < 1.0) {
                double t = sqrt(1 - smoothstep(0.75, 1.0, rho) * 0.85); /* thinner at the edge */
                t *= 1 - smoothstep(0.97, 1.0, rho);
                thick[i] = t;
                /* bilinear sample of the half-resolution texture */
                double tx = x * 0.5, ty = y * 0.5;
                int ix = (int)tx, iy = (int)ty;
                double fx = tx - ix, fy = ty - iy;
                int ix1 = ix + 1 < n ? ix + 1 : ix, iy1 = iy + 1 < n ? iy + 1 : iy;
                double tv = (1 - fy) * ((1 - fx) * tex[(size_t)iy * n + ix] + fx * tex[(size_t)iy * n + ix1]) +
                            fy * ((1 - fx) * tex[(size_t)iy1 * n + ix] + fx * tex[(size_t)iy1 * n + ix1]);
                double env = exp(-sq((nx - 0.45) / 0.4) - sq(ny / 0.65));
                double gl = 1 / (1 + exp(-2.2 * (tv + bias + 1.6 * env - 0.9)));
                val = t * (fat + gland_c * gl) + air * (1 - t);
                double skin = exp(-sq((rho - 0.985) * g.depth / 1.6));
                val += 0.06 * skin;
            }
            if (mlo) { /* pectoral muscle: the upper chest-wall corner */
                double e = x / g.pect_w + y / g.pect_h;
                e += 0.06 * sin(M_PI * y / g.pect_h); /* slightly convex edge */
                if (e < 1.0) {
                    double m = 1 - smoothstep(0.97, 1.0, e);
                    val = val * (1 - m) + m * (0.72 + 0.03 * tex[(size_t)(y / 2) * n + x / 2]);
                    thick[i] = 0; /* no lesion inside the muscle */
                }
            }
            b[i] = val;
        }
    }
    box[0] = box[1] = box[2] = box[3] = 0;
    if (bk->label) {
        /* The same breast position in both views: depth from the chest wall is kept, the
         * vertical position maps through each view's projection. */
        double wv = mlo ? 0.8 * bk->w + 0.15 : bk->w;
        double cx = bk->u * g.depth, cy = g.yc + wv * g.halfh * 0.8;
        rng rl;
        rng_init(&rl, bk->lesion_seed + (uint64_t)mlo);
        const double conspicuity = 1.0 - 0.8 * o->difficulty; /* 0.5 -> 0.6 */
        const double contrast = (bk->lesion == LES_DISK ? 0.4
                                 : bk->lesion == LES_MASS_OVAL || bk->lesion == LES_MASS_SPICULATED ? 0.22 : 0.15) * conspicuity;
        draw_lesion(b, thick, W, H, bk, cx, cy, contrast, &rl, box);
    }
    /* quantum noise, a little stronger in the thin edge */
    for (size_t i = 0; i < (size_t)W * H; i++)
        b[i] += 0.006 * rng_normal(&r);
    free(tex);
    free(thick);
    return 0;
}

static void make_uid(char *buf, size_t n, uint64_t seed, const char *kind, uint64_t a, uint64_t b)
{
    uint64_t k = 0;
    for (const char *c = kind; *c; c++) k = k * 131 + (unsigned char)*c;
    uint64_t h = hash3(seed ^ 0x2A25ull, k, hash3(a, b, 0x51D));
    if (h == 0) h = 1;
    snprintf(buf, n, "2.25.%llu", (unsigned long long)h);
}

static int write_view(const exp_synth_options *o, const patient *p, int side, int mlo, double *b,
                      const int box[4], const char *study_uid, const char *series_uid,
                      const char *path, char *sop_uid, size_t sop_n, const char **ts_name,
                      wb_error *err)
{
    const int W = o->width, H = o->height;
    const vendor *v = p->v;
    const int maxv = (1 << v->bits) - 1;
    uint16_t *px = malloc((size_t)W * H * sizeof *px);
    if (!px) return wb_err(err, WB_E_NOMEM, path, "out of memory");
    for (int y = 0; y < H; y++) {
        for (int x = 0; x < W; x++) {
            int cx = side == 1 ? W - 1 - x : x; /* right breasts: chest wall on the right */
            double val = b[(size_t)y * W + cx];
            val = val < 0 ? 0 : val > 1 ? 1 : val;
            long s = lround(val * maxv);
            if (v->mono1) s = maxv - s;
            px[(size_t)y * W + x] = (uint16_t)s;
        }
    }
    rng r;
    rng_init(&r, hash3(p->seed, (uint64_t)side, (uint64_t)mlo + 77));
    double u = rng_unif(&r);
    io_dicom_ts ts = u < 0.7 ? IO_DICOM_TS_EXPLICIT_LE : u < 0.85 ? IO_DICOM_TS_JPEG_LOSSLESS_SV1 : IO_DICOM_TS_JPEGLS_LOSSLESS;
    if (o->n_ts > 0) {
        int k = (int)(u * o->n_ts);
        ts = (io_dicom_ts)o->ts[k < o->n_ts ? k : o->n_ts - 1];
    }
    *ts_name = TS_NAMES[ts];

    make_uid(sop_uid, sop_n, o->seed, "sop", (uint64_t)p->index, (uint64_t)(side * 2 + mlo));
    char a[64][160];
    int na = 0;
#define ATTR(...) snprintf(a[na++], sizeof a[0], __VA_ARGS__)
    const char lat = side ? 'R' : 'L';
    ATTR("(0008,0008)=ORIGINAL\\PRIMARY");
    ATTR("(0008,0016)=1.2.840.10008.5.1.4.1.1.1.2");
    ATTR("(0008,0018)=%s", sop_uid);
    int day = 1 + p->index % 28;
    ATTR("(0008,0020)=202601%02d", day);
    ATTR("(0008,0023)=202601%02d", day);
    ATTR("(0008,0030)=0900%02d", p->index % 60);
    ATTR("(0008,0033)=0901%02d", p->index % 60);
    ATTR("(0008,0050)=A%06d", p->index + 1);
    ATTR("(0008,0060)=MG");
    ATTR("(0008,0068)=FOR PRESENTATION");
    ATTR("(0008,0070)=%s", v->manufacturer);
    ATTR("(0008,0090)");
    ATTR("(0008,1090)=%s", v->model);
    ATTR("(0008,2218)[0].(0008,0100)=76752008");
    ATTR("(0008,2218)[0].(0008,0102)=SCT");
    ATTR("(0008,2218)[0].(0008,0104)=Breast");
    ATTR("(0010,0010)=SYNTHETIC^PATIENT%04d", p->index + 1);
    ATTR("(0010,0020)=%s", p->id);
    ATTR("(0010,0030)");
    ATTR("(0010,0040)=F");
    ATTR("(0010,1010)=%03dY", p->age);
    ATTR("(0018,0015)=BREAST");
    ATTR("(0018,1164)=%.3f\\%.3f", v->spacing, v->spacing);
    ATTR("(0018,1508)=MAMMOGRAPHIC");
    ATTR("(0018,5101)=%s", mlo ? "MLO" : "CC");
    ATTR("(0018,7004)=DIRECT");
    ATTR("(0020,000D)=%s", study_uid);
    ATTR("(0020,000E)=%s", series_uid);
    ATTR("(0020,0010)=%d", p->index + 1);
    ATTR("(0020,0011)=1");
    ATTR("(0020,0013)=%d", 1 + side * 2 + mlo);
    /* Patient Orientation: row direction, then column direction (PS3.3 C.8.11.7.1) */
    ATTR("(0020,0020)=%s\\%s", side ? "P" : "A", mlo ? (side ? "FL" : "FR") : (side ? "L" : "R"));
    ATTR("(0020,0062)=%c", lat);
    ATTR("(0028,0004)=%s", v->mono1 ? "MONOCHROME1" : "MONOCHROME2");
    ATTR("(0028,0301)=NO");
    ATTR("(0028,1040)=LOG");
    ATTR("(0028,1041)=%d", v->mono1 ? 1 : -1);
    /* VOI window over the breast's range: brightness ~0.25..0.8 */
    double c1 = 0.52 * maxv, w1 = 0.62 * maxv;
    if (v->n_windows == 2) {
        ATTR("(0028,1050)=%.0f\\%.0f", c1, 0.55 * maxv);
        ATTR("(0028,1051)=%.0f\\%.0f", w1, 0.45 * maxv);
        ATTR("(0028,1055)=STANDARD\\HARDER");
    } else {
        ATTR("(0028,1050)=%.0f", c1);
        ATTR("(0028,1051)=%.0f", w1);
    }
    if (v->sigmoid) ATTR("(0028,1056)=SIGMOID");
    ATTR("(0028,1052)=0");
    ATTR("(0028,1053)=1");
    ATTR("(0028,1054)=US");
    ATTR("(0028,2110)=00");
    ATTR("(2050,0020)=%s", v->mono1 ? "INVERSE" : "IDENTITY");
    ATTR("(0040,0555)");
    ATTR("(0040,0318)=BREAST");
    ATTR("(0054,0220)[0].(0008,0100)=%s", mlo ? "399368009" : "399162004");
    ATTR("(0054,0220)[0].(0008,0102)=SCT");
    ATTR("(0054,0220)[0].(0008,0104)=%s", mlo ? "medio-lateral oblique" : "cranio-caudal");
    ATTR("(0054,0220)[0].(0054,0222)");
    ATTR("(0028,1300)=NO");
#undef ATTR
    (void)box;
    const char *ptrs[64];
    for (int i = 0; i < na; i++) ptrs[i] = a[i];
    int rc = io_dicom_write(path, ptrs, (size_t)na, px, H, W, v->bits, ts, err);
    free(px);
    return rc;
}

int exp_synth_run(const exp_synth_options *o, wb_error *err)
{
    if (io_fs_mkdirs(o->out_dir, err) != 0) return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/labels.csv", o->out_dir);
    /* Collect the CSV in memory and write it last, atomically. */
    size_t cap = 1 << 16, len = 0;
    char *csv = malloc(cap);
    double *b = malloc((size_t)o->width * o->height * sizeof *b);
    if (!csv || !b) {
        free(csv);
        free(b);
        return wb_err(err, WB_E_NOMEM, o->out_dir, "out of memory");
    }
    len += (size_t)snprintf(csv, cap,
                            "file,sop_instance_uid,patient_id,laterality,view,label,lesion_type,"
                            "bbox_x,bbox_y,bbox_w,bbox_h,density,manufacturer,transfer_syntax\n");
    int rc = 0;
    for (int i = 0; i < o->patients && rc == 0; i++) {
        patient p;
        plan_patient(o, i, &p);
        char study_uid[64], series_uid[64], dir[3800];
        make_uid(study_uid, sizeof study_uid, o->seed, "study", (uint64_t)i, 0);
        make_uid(series_uid, sizeof series_uid, o->seed, "series", (uint64_t)i, 0);
        snprintf(dir, sizeof dir, "%s/%s", o->out_dir, p.dir);
        if ((rc = io_fs_mkdirs(dir, err)) != 0) break;
        for (int side = 0; side < 2 && rc == 0; side++) {
            for (int mlo = 0; mlo < 2 && rc == 0; mlo++) {
                int box[4];
                if (render_view(o, &p, side, mlo, b, box) != 0) {
                    rc = wb_err(err, WB_E_NOMEM, o->out_dir, "out of memory");
                    break;
                }
                char name[32], sop[64];
                snprintf(name, sizeof name, "%c_%s.dcm", side ? 'R' : 'L', mlo ? "MLO" : "CC");
                snprintf(path, sizeof path, "%s/%s", dir, name);
                const char *ts_name = "";
                if ((rc = write_view(o, &p, side, mlo, b, box, study_uid, series_uid, path, sop,
                                     sizeof sop, &ts_name, err)) != 0)
                    break;
                const breast *bk = &p.b[side];
                /* the box is in canonical orientation: mirror it for right breasts */
                int bx = box[0];
                if (side == 1 && box[2] > 0) bx = o->width - (box[0] + box[2]);
                char line[1024];
                int k;
                if (bk->label)
                    k = snprintf(line, sizeof line, "%s/%s,%s,%s,%c,%s,%s,%s,%d,%d,%d,%d,%c,%s,%s\n",
                                 p.dir, name, sop, p.id, side ? 'R' : 'L', mlo ? "MLO" : "CC",
                                 label_names[bk->label], lesion_names[bk->lesion], bx, box[1],
                                 box[2], box[3], 'a' + p.density, p.v->manufacturer, ts_name);
                else
                    k = snprintf(line, sizeof line, "%s/%s,%s,%s,%c,%s,normal,,,,,,%c,%s,%s\n", p.dir,
                                 name, sop, p.id, side ? 'R' : 'L', mlo ? "MLO" : "CC",
                                 'a' + p.density, p.v->manufacturer, ts_name);
                if (len + (size_t)k + 1 > cap) {
                    char *nc = realloc(csv, cap * 2);
                    if (!nc) {
                        rc = wb_err(err, WB_E_NOMEM, o->out_dir, "out of memory");
                        break;
                    }
                    csv = nc;
                    cap *= 2;
                }
                memcpy(csv + len, line, (size_t)k + 1);
                len += (size_t)k;
            }
        }
        if (o->progress && ((i + 1) % 10 == 0 || i + 1 == o->patients))
            wb_log(WB_LOG_INFO, "synth: %d/%d patients", i + 1, o->patients);
    }
    if (rc == 0) {
        snprintf(path, sizeof path, "%s/labels.csv", o->out_dir);
        io_atomic_file af;
        if ((rc = io_atomic_open(&af, path, err)) == 0) {
            fwrite(csv, 1, len, af.f);
            rc = io_atomic_commit(&af, err);
        }
    }
    free(csv);
    free(b);
    return rc;
}
