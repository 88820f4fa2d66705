/* nn_ops.c — the layer kernels, float32 NCHW. Gradients accumulate into dx/dw/db. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "nets/nn_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NN_OPS_X86 1
#else
#define NN_OPS_X86 0
#endif

/* Element-wise kernels are split into ranges of whole cache lines. */
typedef struct ew_job {
    size_t n;
    const float *a, *b;
    float *y;
    float cap;
} ew_job;

/* ------------------------------------------------------------------ parallel GEMM */

/* C [M, N] = op(A) op(B) + beta C, row-major, sliced over the engine's threads: by columns
 * when N >= M, else by rows; each slice is one single-threaded cblas_sgemm. */
typedef struct gemm_job {
    CBLAS_TRANSPOSE ta, tb;
    int M, N, K, lda, ldb, ldc;
    const float *A, *B;
    float beta;
    float *C;
} gemm_job;

static void gemm_slice(void *vp, int ith, int nth)
{
    const gemm_job *j = vp;
    size_t b, e;
    if (j->N >= j->M) {
        nn_par_range((size_t)j->N, ith, nth, 16, &b, &e);
        if (e <= b)
            return;
        const float *B = j->tb == CblasNoTrans ? j->B + b : j->B + b * (size_t)j->ldb;
        cblas_sgemm(CblasRowMajor, j->ta, j->tb, j->M, (int)(e - b), j->K, 1.0f, j->A, j->lda, B,
                    j->ldb, j->beta, j->C + b, j->ldc);
    } else {
        nn_par_range((size_t)j->M, ith, nth, 16, &b, &e);
        if (e <= b)
            return;
        const float *A = j->ta == CblasNoTrans ? j->A + b * (size_t)j->lda : j->A + b;
        cblas_sgemm(CblasRowMajor, j->ta, j->tb, (int)(e - b), j->N, j->K, 1.0f, A, j->lda, j->B,
                    j->ldb, j->beta, j->C + b * (size_t)j->ldc, j->ldc);
    }
}

static void gemm_par(CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, int M, int N, int K,
                     const float *A, int lda, const float *B, int ldb, float beta, float *C,
                     int ldc)
{
    gemm_job j = {ta, tb, M, N, K, lda, ldb, ldc, A, B, beta, C};
    if (M <= 0 || N <= 0)
        return;
    nn_par_run(gemm_slice, &j);
}

/* C [M, N] = A [M, K] B [K, N], row-major, every element the same bits whatever else shares
 * the call, provided N, ldc and the column offset of each caller's block are multiples of
 * 16 (and M's slices are too: nn_par_range below aligns them).
 *
 * OpenBLAS 0.3.21 (Debian's DYNAMIC_ARCH build, SkylakeX kernels here) chooses by shape
 * between three sgemm paths that order a sum differently (measured by calling it on the
 * same columns in calls of other widths): a "small matrix" kernel when M*N*K <= 100^3, whose
 * tails of 1-8 columns round differently from full 16-column tiles and which sums K in one
 * chain where the blocked kernel adds K blocks of at most ~448 into C one after the other;
 * a row-major-only "direct" kernel below ~7M multiply-adds (beta 0, alpha 1) with its own
 * K order; and the blocked kernel. A batched conv's GEMM has N = images x pixels, so the
 * choice, hence an image's bits, depended on the batch. Here: column-major calls (C^T = B^T
 * A^T, what a row-major call becomes inside OpenBLAS, minus the direct path), K in chunks of
 * NN_GEMM_KC added into C by the callee (beta 1), so both remaining paths run each element as
 * the same chains, and whole 16-column tiles only. tests/nets/test_batch_bits.c checks the
 * networks' outputs for batches of 1, 3, 16 and 32. */
#define NN_GEMM_KC 384

static void gemm_inv_call(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                          float *C, int ldc)
{
    for (int k0 = 0; k0 < K; k0 += NN_GEMM_KC) {
        const int kc = K - k0 < NN_GEMM_KC ? K - k0 : NN_GEMM_KC;
        cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, N, M, kc, 1.0f,
                    B + (size_t)k0 * ldb, ldb, A + k0, lda, k0 ? 1.0f : 0.0f, C, ldc);
    }
}

static void gemm_inv_slice(void *vp, int ith, int nth)
{
    const gemm_job *j = vp;
    size_t b, e;
    if (j->N >= j->M) {
        nn_par_range((size_t)j->N, ith, nth, 16, &b, &e);
        if (e > b)
            gemm_inv_call(j->M, (int)(e - b), j->K, j->A, j->lda, j->B + b, j->ldb, j->C + b,
                          j->ldc);
    } else {
        nn_par_range((size_t)j->M, ith, nth, 16, &b, &e);
        if (e > b)
            gemm_inv_call((int)(e - b), j->N, j->K, j->A + b * (size_t)j->lda, j->lda, j->B,
                          j->ldb, j->C + b * (size_t)j->ldc, j->ldc);
    }
}

/* C [M, N] = A [M, K] B [K, N], row-major, over the engine's threads (see gemm_inv_call). */
static void gemm_inv(int M, int N, int K, const float *A, int lda, const float *B, int ldb,
                     float *C, int ldc)
{
    gemm_job j = {CblasNoTrans, CblasNoTrans, M, N, K, lda, ldb, ldc, A, B, 0.0f, C};
    if (M <= 0 || N <= 0)
        return;
    nn_par_run(gemm_inv_slice, &j);
}

/* Ct [N, M] = (A [M, K] B [K, N])^T, A and B row-major, M a multiple of 16: every element the
 * same bits whatever N, the element's column and the thread slices, with no padding.
 *
 * One column-major call per K chunk of NN_GEMM_KC (beta 1 after the first), both operands
 * transposed: C (M x N, ldc = M) = op(A) op(B) with A's rows on OpenBLAS's M dimension. In
 * 0.3.21 a transposed-transposed call never takes the small-matrix kernel (its permit
 * function refuses TT) nor the direct one (row-major NN only): it is always the blocked
 * driver and sgemm_kernel_16x4_skylakex_3.c. That kernel runs M in tiles of 16 rows (also
 * 8, 4, 2, 1, never used here: M and its slices are multiples of 16) by N in tiles of 24, 20,
 * 16, 12, 8, 4, 2 or 1 columns; each tile keeps one accumulator lane per element, zeroed, then
 * one vfmadd231ps per k in order, and stores alpha * acc + C with one more FMA. So an element
 * is fma(chain over the call's k of A * B, 1, C) whichever N tile it falls in, and the driver's
 * own K blocks depend on K only. That is also what gemm_inv computes per element (the same
 * products, commutative, and the same chunks): this path gives gemm_inv's bits, without the
 * columns gemm_inv pads each image to. Threads slice N (any boundary) or M (16 rows). */
typedef struct gemm_t_job {
    int M, N, K;
    const float *A, *B;
    float *C;
} gemm_t_job;

static void gemm_inv_t_slice(void *vp, int ith, int nth)
{
    const gemm_t_job *j = vp;
    size_t m0 = 0, m1 = (size_t)j->M, n0 = 0, n1 = (size_t)j->N;
    if (j->N >= j->M) /* slice the larger dimension */
        nn_par_range((size_t)j->N, ith, nth, 16, &n0, &n1);
    else
        nn_par_range((size_t)j->M, ith, nth, 16, &m0, &m1);
    if (m1 <= m0 || n1 <= n0)
        return;
    for (int k0 = 0; k0 < j->K; k0 += NN_GEMM_KC) {
        const int kc = j->K - k0 < NN_GEMM_KC ? j->K - k0 : NN_GEMM_KC;
        cblas_sgemm(CblasColMajor, CblasTrans, CblasTrans, (int)(m1 - m0), (int)(n1 - n0), kc,
                    1.0f, j->A + m0 * (size_t)j->K + k0, j->K, j->B + (size_t)k0 * j->N + n0,
                    j->N, k0 ? 1.0f : 0.0f, j->C + n0 * (size_t)j->M + m0, j->M);
    }
}

static void gemm_inv_t(int M, int N, int K, const float *A, const float *B, float *C)
{
    gemm_t_job j = {M, N, K, A, B, C};
    if (M <= 0 || N <= 0)
        return;
    nn_par_run(gemm_inv_t_slice, &j);
}

/* ------------------------------------------------------------------ conv2d */

/* GEMM columns to aim for: late layers have few pixels per image (7x7 at 224), so several
 * images share one im2col matrix and one GEMM. */
#define NN_CONV_COLS 1024

static int conv_is_gemm(const nn_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
           g->groups == 1;
}

static int conv_is_depthwise(const nn_conv_geom *g)
{
    return g->groups > 1 && g->groups == g->ic && g->groups == g->oc;
}

int nn_conv2d_batch_wanted(const nn_conv_geom *g)
{
    if (g->groups > 1)
        return 1;
    int ohw = g->oh * g->ow > 0 ? g->oh * g->ow : 1;
    int b = (NN_CONV_COLS + ohw - 1) / ohw;
    return b < 1 ? 1 : b > g->n ? g->n : b;
}

/* Images per GEMM: g->batch if set (the plan's choice), else as many as wanted. */
static int conv_batch(const nn_conv_geom *g)
{
    if (g->groups > 1)
        return 1;
    int b = g->batch > 0 ? g->batch : nn_conv2d_batch_wanted(g);
    return b > g->n ? g->n : b;
}

size_t nn_conv2d_col_size_base(const nn_conv_geom *g)
{
    if (conv_is_depthwise(g))
        return 0;
    const size_t ohw = (size_t)g->oh * g->ow, kk = (size_t)g->ic * g->kh * g->kw;
    const int b = conv_batch(g);
    if (b == 1)
        return conv_is_gemm(g) ? 0 : kk * ohw;
    /* im2col [K, B*OHW], backward needs a second one for dy [OC, B*OHW] while the first holds
     * col, then dcol */
    return (kk > (size_t)g->oc ? kk : (size_t)g->oc) * ohw * (size_t)b;
}

/* Columns of one image in the forward GEMM: its OH*OW pixels, rounded up to a multiple of 16
 * where images are batched (maps under NN_CONV_COLS pixels), so that every image's columns
 * start and end on OpenBLAS's 16-column tiles whatever the batch (conv_gemm_inv). */
static int conv_fwd_t(const nn_conv_geom *g);

static size_t conv_fwd_stride(const nn_conv_geom *g)
{
    const size_t ohw = (size_t)g->oh * g->ow;
    return ohw < NN_CONV_COLS && !conv_fwd_t(g) ? (ohw + 15) & ~(size_t)15 : ohw;
}

/* The forward of a batched-map conv (conv_fwd_stride above the pixels, or more than one image
 * per GEMM) needs im2col [K, B*S] and the GEMM output [OC, B*S] side by side. */
static int conv_fwd_padded(const nn_conv_geom *g)
{
    return (size_t)g->oh * g->ow < NN_CONV_COLS;
}

/* ... of which those that gemm_inv would pad (pixels not a multiple of 16) and that have a
 * multiple of 16 output channels (groups 1) take gemm_inv_t: no padding, the output
 * transposed ([pixels, OC]) and reordered by scatter_t_slice. The same bits either way; where
 * gemm_inv pads nothing it is as fast or faster (a 1x1 conv's image alone needs neither
 * im2col nor reordering there: MobileNet's 28x28 pointwise convs, 5.0 against 6.2 ms). */
static int conv_fwd_t(const nn_conv_geom *g)
{
    return conv_fwd_padded(g) && (g->oh * g->ow) % 16 != 0 && g->groups == 1 &&
           g->oc % 16 == 0;
}

size_t nn_conv2d_col_size(const nn_conv_geom *g)
{
    size_t base = nn_conv2d_col_size_base(g);
    const size_t dmin = nn_conv_direct_min_scratch(g);
    base = dmin > base ? dmin : base;
    if (conv_is_depthwise(g) || g->groups > 1 || !conv_fwd_padded(g))
        return base;
    const size_t kk = (size_t)g->ic * g->kh * g->kw;
    const size_t fwd = (kk + (size_t)g->oc) * conv_fwd_stride(g) * (size_t)conv_batch(g);
    return fwd > base ? fwd : base;
}

typedef struct conv_job {
    const nn_conv_geom *g;
    const float *x, *b;
    float *y, *col, *out;
    int n0, nb;
    const float *dy;
    float *dx, *db;
    size_t S; /* columns per image in col / out (0: OH*OW; the forward pads, conv_fwd_stride) */
    /* the forward's post-op (NULL pa: none): each output v (bias added) becomes v * pa[oc] +
     * pb[oc], then the activation act (NN_ACT_*): eval-mode BN's arithmetic, bn_apply_row */
    const float *pa, *pb;
    int act;
    const float *wt; /* conv_blocks_slice: the weights [OC, K] */
} conv_job;

static void bn_apply_row(const float *x, float *y, size_t n, float a, float b, int act);

/* The post-op on channel o's row of n outputs (in place) */
static inline void post_row(const conv_job *j, size_t o, float *row, size_t n)
{
    if (j->pa)
        bn_apply_row(row, row, n, j->pa[o], j->pb[o], j->act);
}

/* Fills col rows [r0, r1) of images n0 .. n0+nb-1: col [IC*KH*KW, nb*OH*OW] */
static void im2col_rows(const nn_conv_geom *g, const float *x, int n0, int nb, size_t S,
                        float *col, size_t r0, size_t r1)
{
    const size_t ohw = (size_t)g->oh * g->ow, cols = S * (size_t)nb;
    for (size_t r = r0; r < r1; r++) {
        const int c = (int)(r / ((size_t)g->kh * g->kw)), kk = (int)(r % ((size_t)g->kh * g->kw));
        const int ki = kk / g->kw, kj = kk % g->kw;
        /* output columns whose input column ix = ox*sw - pw + kj is inside the image */
        int lo = 0, hi = g->ow;
        while (lo < g->ow && lo * g->sw - g->pw + kj < 0)
            lo++;
        while (hi > lo && (hi - 1) * g->sw - g->pw + kj >= g->w)
            hi--;
        for (int j = 0; j < nb; j++) {
            const float *xc = x + ((size_t)(n0 + j) * g->ic + c) * g->h * g->w;
            float *row = col + r * cols + (size_t)j * S;
            if (S > ohw)
                memset(row + ohw, 0, sizeof(float) * (S - ohw));
            for (int oy = 0; oy < g->oh; oy++) {
                const int iy = oy * g->sh - g->ph + ki;
                float *o = row + (size_t)oy * g->ow;
                if (iy < 0 || iy >= g->h) {
                    memset(o, 0, sizeof(float) * (size_t)g->ow);
                    continue;
                }
                const float *xr = xc + (size_t)iy * g->w;
                const int off = kj - g->pw; /* ix = ox * sw + off */
                for (int ox = 0; ox < lo; ox++)
                    o[ox] = 0.0f;
                if (g->sw == 1 && hi - lo > 16)
                    memcpy(o + lo, xr + lo + off, sizeof(float) * (size_t)(hi - lo));
                else if (g->sw == 1) /* narrow maps (3, 5, 9 columns): no call per row */
                    for (int ox = lo; ox < hi; ox++)
                        o[ox] = xr[ox + off];
                else
                    for (int ox = lo; ox < hi; ox++)
                        o[ox] = xr[ox * g->sw + off];
                for (int ox = hi; ox < g->ow; ox++)
                    o[ox] = 0.0f;
            }
        }
    }
}

static void im2col_slice(void *vp, int ith, int nth)
{
    const conv_job *j = vp;
    size_t r0, r1;
    nn_par_range((size_t)j->g->ic * j->g->kh * j->g->kw, ith, nth, 1, &r0, &r1);
    const size_t S = j->S ? j->S : (size_t)j->g->oh * j->g->ow;
    im2col_rows(j->g, j->x, j->n0, j->nb, S, j->col, r0, r1);
}

/* dx [images n0.., IC, H, W] += col2im(dcol [IC*KH*KW, nb*OH*OW]), channels [c0, c1) */
static void col2im_slice(void *vp, int ith, int nth)
{
    const conv_job *j = vp;
    const nn_conv_geom *g = j->g;
    const size_t ohw = (size_t)g->oh * g->ow, cols = ohw * (size_t)j->nb;
    size_t c0, c1;
    nn_par_range((size_t)g->ic, ith, nth, 1, &c0, &c1);
    for (size_t c = c0; c < c1; c++)
        for (int ki = 0; ki < g->kh; ki++)
            for (int kj = 0; kj < g->kw; kj++) {
                const float *row = j->col + ((c * g->kh + ki) * g->kw + kj) * cols;
                /* output columns whose input column is inside the image, as in im2col */
                int lo = 0, hi = g->ow;
                while (lo < g->ow && lo * g->sw - g->pw + kj < 0)
                    lo++;
                while (hi > lo && (hi - 1) * g->sw - g->pw + kj >= g->w)
                    hi--;
                for (int im = 0; im < j->nb; im++) {
                    float *xc = j->dx + ((size_t)(j->n0 + im) * g->ic + c) * g->h * g->w;
                    const float *ri = row + (size_t)im * ohw;
                    for (int oy = 0; oy < g->oh; oy++) {
                        int iy = oy * g->sh - g->ph + ki;
                        if (iy < 0 || iy >= g->h)
                            continue;
                        const float *r = ri + (size_t)oy * g->ow;
                        float *xr = xc + (size_t)iy * g->w;
                        const int off = kj - g->pw; /* ix = ox * sw + off */
                        if (g->sw == 1)
                            for (int ox = lo; ox < hi; ox++)
                                xr[ox + off] += r[ox];
                        else
                            for (int ox = lo; ox < hi; ox++)
                                xr[ox * g->sw + off] += r[ox];
                    }
                }
            }
}

static void copy_slice(void *vp, int ith, int nth)
{
    const ew_job *j = vp;
    size_t i0, i1;
    nn_par_range(j->n, ith, nth, 16, &i0, &i1);
    if (i1 > i0)
        memcpy(j->y + i0, j->a + i0, sizeof(float) * (i1 - i0));
}

/* y [images n0.., OC, OHW] = out [OC, nb*S] (+ b), channels sliced */
static void scatter_slice(void *vp, int ith, int nth)
{
    const conv_job *j = vp;
    const nn_conv_geom *g = j->g;
    const size_t ohw = (size_t)g->oh * g->ow, S = j->S ? j->S : ohw, cols = S * (size_t)j->nb;
    size_t o0, o1;
    nn_par_range((size_t)g->oc, ith, nth, 1, &o0, &o1);
    for (int im = 0; im < j->nb; im++)
        for (size_t o = o0; o < o1; o++) {
            float *yo = j->y + ((size_t)(j->n0 + im) * g->oc + o) * ohw;
            const float *src = j->out ? j->out + o * cols + (size_t)im * S : yo;
            const float bias = j->b ? j->b[o] : 0.0f;
            if (j->b)
                for (size_t i = 0; i < ohw; i++)
                    yo[i] = src[i] + bias;
            else if (src != yo)
                memcpy(yo, src, sizeof(float) * ohw);
            post_row(j, o, yo, ohw);
        }
}

/* y [images n0.., OC, OHW] = out [nb*OHW, OC] (+ b), images and channel blocks sliced */
static void scatter_t_slice(void *vp, int ith, int nth)
{
    const conv_job *j = vp;
    const nn_conv_geom *g = j->g;
    const size_t ohw = (size_t)g->oh * g->ow, oc = (size_t)g->oc, ob = 16;
    const size_t items = (size_t)j->nb * ((oc + ob - 1) / ob);
    size_t i0, i1;
    nn_par_range(items, ith, nth, 1, &i0, &i1);
    for (size_t it = i0; it < i1; it++) {
        const size_t im = it / ((oc + ob - 1) / ob), o0 = it % ((oc + ob - 1) / ob) * ob;
        const size_t o1 = o0 + ob < oc ? o0 + ob : oc;
        const float *src = j->out + im * ohw * oc;
        float *yi = j->y + (size_t)(j->n0 + (int)im) * oc * ohw;
        for (size_t p0 = 0; p0 < ohw; p0 += 64) { /* 64 source lines, reused by 16 channels */
            const size_t p1 = p0 + 64 < ohw ? p0 + 64 : ohw;
            for (size_t o = o0; o < o1; o++) {
                const float bias = j->b ? j->b[o] : 0.0f;
                float *yo = yi + o * ohw;
                for (size_t p = p0; p < p1; p++)
                    yo[p] = src[p * oc + o] + bias;
                post_row(j, o, yo + p0, p1 - p0);
            }
        }
    }
}

/* out [OC, nb*OHW] = dy of images n0.. (gather), channels sliced */
static void gather_dy_slice(void *vp, int ith, int nth)
{
    const conv_job *j = vp;
    const nn_conv_geom *g = j->g;
    const size_t ohw = (size_t)g->oh * g->ow, cols = ohw * (size_t)j->nb;
    size_t o0, o1;
    nn_par_range((size_t)g->oc, ith, nth, 1, &o0, &o1);
    for (int im = 0; im < j->nb; im++)
        for (size_t o = o0; o < o1; o++)
            memcpy(j->out + o * cols + (size_t)im * ohw,
                   j->dy + ((size_t)(j->n0 + im) * g->oc + o) * ohw, sizeof(float) * ohw);
}

/* 1x1 stride 1: dx [images n0.., IC, HW] += dcol [IC, nb*HW], channels sliced */
static void scatter_add_slice(void *vp, int ith, int nth)
{
    const conv_job *j = vp;
    const nn_conv_geom *g = j->g;
    const size_t hw = (size_t)g->h * g->w, cols = hw * (size_t)j->nb;
    size_t c0, c1;
    nn_par_range((size_t)g->ic, ith, nth, 1, &c0, &c1);
    for (int im = 0; im < j->nb; im++)
        for (size_t c = c0; c < c1; c++) {
            float *d = j->dx + ((size_t)(j->n0 + im) * g->ic + c) * hw;
            const float *s = j->col + c * cols + (size_t)im * hw;
            for (size_t i = 0; i < hw; i++)
                d[i] += s[i];
        }
}

/* db [OC] += sum of dy over images and pixels, channels sliced */
static void conv_db_slice(void *vp, int ith, int nth)
{
    const conv_job *j = vp;
    const nn_conv_geom *g = j->g;
    const size_t ohw = (size_t)g->oh * g->ow;
    size_t o0, o1;
    nn_par_range((size_t)g->oc, ith, nth, 1, &o0, &o1);
    for (size_t o = o0; o < o1; o++) {
        double s = 0.0;
        for (int n = 0; n < g->n; n++) {
            const float *d = j->dy + ((size_t)n * g->oc + o) * ohw;
            for (size_t i = 0; i < ohw; i++)
                s += d[i];
        }
        j->db[o] += (float)s;
    }
}

typedef struct dw_job {
    const nn_conv_geom *g;
    const float *x, *wt, *b, *dy;
    float *y, *dx, *dw;
} dw_job;

/* depthwise forward, (image, channel) planes sliced */
static void depthwise_forward_slice(void *vp, int ith, int nth)
{
    const dw_job *j = vp;
    const nn_conv_geom *g = j->g;
    size_t p0, p1;
    nn_par_range((size_t)g->n * g->ic, ith, nth, 1, &p0, &p1);
    for (size_t p = p0; p < p1; p++) {
        const int c = (int)(p % (size_t)g->ic);
        const float *xc = j->x + p * g->h * g->w;
        const float *k = j->wt + (size_t)c * g->kh * g->kw;
        float *yc = j->y + p * g->oh * g->ow;
        float bias = j->b ? j->b[c] : 0.0f;
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float s = 0.0f;
                for (int ki = 0; ki < g->kh; ki++) {
                    int iy = oy * g->sh - g->ph + ki;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    for (int kj = 0; kj < g->kw; kj++) {
                        int ix = ox * g->sw - g->pw + kj;
                        if (ix >= 0 && ix < g->w)
                            s += xc[(size_t)iy * g->w + ix] * k[ki * g->kw + kj];
                    }
                }
                yc[(size_t)oy * g->ow + ox] = s + bias;
            }
    }
}

/* depthwise backward, channels sliced (each channel's kernel gradient sums over images) */
static void depthwise_backward_slice(void *vp, int ith, int nth)
{
    const dw_job *j = vp;
    const nn_conv_geom *g = j->g;
    size_t c0, c1;
    nn_par_range((size_t)g->ic, ith, nth, 1, &c0, &c1);
    for (int n = 0; n < g->n; n++)
        for (size_t c = c0; c < c1; c++) {
            const float *xc = j->x ? j->x + ((size_t)n * g->ic + c) * g->h * g->w : NULL;
            float *dxc = j->dx ? j->dx + ((size_t)n * g->ic + c) * g->h * g->w : NULL;
            const float *k = j->wt + c * g->kh * g->kw;
            float *dk = j->dw ? j->dw + c * g->kh * g->kw : NULL;
            const float *dyc = j->dy + ((size_t)n * g->oc + c) * g->oh * g->ow;
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    float d = dyc[(size_t)oy * g->ow + ox];
                    for (int ki = 0; ki < g->kh; ki++) {
                        int iy = oy * g->sh - g->ph + ki;
                        if (iy < 0 || iy >= g->h)
                            continue;
                        for (int kj = 0; kj < g->kw; kj++) {
                            int ix = ox * g->sw - g->pw + kj;
                            if (ix < 0 || ix >= g->w)
                                continue;
                            size_t xi = (size_t)iy * g->w + ix;
                            if (dxc)
                                dxc[xi] += d * k[ki * g->kw + kj];
                            if (dk)
                                dk[ki * g->kw + kj] += d * xc[xi];
                        }
                    }
                }
        }
}

/* Columns per GEMM block of a map of NN_CONV_COLS pixels or more: the image in equal blocks,
 * a multiple of 16 (whole OpenBLAS tiles), whose input block [K, cols] and output block
 * [OC, cols] take about 1 MB, so that the bias and the post-op run on the block while it is
 * in cache; at least 4 blocks, so that the threads share an image that runs alone (im2col).
 * It depends on the shape only: every image's blocks, hence its bits, are the same whatever
 * the thread count. */
static size_t conv_cols_block(const nn_conv_geom *g)
{
    const size_t kk = (size_t)g->ic / g->groups * g->kh * g->kw, ohw = (size_t)g->oh * g->ow;
    size_t want = (size_t)262144 / (kk + (size_t)g->oc);
    want = want < 256 ? 256 : want;
    size_t nblk = (ohw + want - 1) / want;
    nblk = nblk < 4 ? 4 : nblk;
    const size_t c = (ohw + nblk - 1) / nblk;
    return (c + 15) & ~(size_t)15;
}

/* y [images n0.., OC, OHW] = wt [OC, K] x B (+ b, then the post-op), in blocks of j->S columns
 * of each image: B = the images' own planes (1x1 stride 1, j->col NULL) or col [K, OHW] (one
 * image); items (image, block), sliced */
static void conv_blocks_slice(void *vp, int ith, int nth)
{
    const conv_job *j = vp;
    const nn_conv_geom *g = j->g;
    const size_t ohw = (size_t)g->oh * g->ow, kk = (size_t)g->ic * g->kh * g->kw, W = j->S;
    const size_t nblk = (ohw + W - 1) / W;
    size_t i0, i1;
    nn_par_range((size_t)j->nb * nblk, ith, nth, 1, &i0, &i1);
    for (size_t it = i0; it < i1; it++) {
        const size_t im = it / nblk, c0 = it % nblk * W, w = ohw - c0 < W ? ohw - c0 : W;
        const float *B = (j->col ? j->col : j->x + (j->n0 + im) * kk * ohw) + c0;
        float *C = j->y + (j->n0 + im) * (size_t)g->oc * ohw + c0;
        gemm_inv_call(g->oc, (int)w, (int)kk, j->wt, (int)kk, B, (int)ohw, C, (int)ohw);
        for (size_t o = 0; o < (size_t)g->oc; o++) {
            float *row = C + o * ohw;
            if (j->b) {
                const float bias = j->b[o];
                for (size_t i = 0; i < w; i++)
                    row[i] += bias;
            }
            post_row(j, o, row, w);
        }
    }
}

/* the post-op on every output plane, in place */
static void post_slice(void *vp, int ith, int nth)
{
    const conv_job *j = vp;
    const size_t ohw = (size_t)j->g->oh * j->g->ow, oc = (size_t)j->g->oc;
    size_t p0, p1;
    nn_par_range((size_t)j->g->n * oc, ith, nth, 1, &p0, &p1);
    for (size_t p = p0; p < p1; p++)
        post_row(j, p % oc, j->y + p * ohw, ohw);
}

void nn_conv2d_forward(const nn_conv_geom *g, const float *x, const float *wt, const float *b,
                       float *y, float *col)
{
    nn_conv2d_forward_post(g, x, wt, b, NULL, NULL, NN_ACT_NONE, y, col);
}

void nn_conv2d_forward_post(const nn_conv_geom *g, const float *x, const float *wt,
                            const float *b, const float *post_a, const float *post_b, int act,
                            float *y, float *col)
{
    if (nn_conv_direct_use(g, NN_PASS_FWD)) {
        nn_conv_direct_forward_post(g, x, wt, b, post_a, post_b, act, y, col);
        return;
    }
    if (nn_conv_dw_use(g)) {
        nn_conv_dw_forward_post(g, x, wt, b, post_a, post_b, act, y);
        return;
    }
    if (nn_conv_pw_use(g)) {
        nn_conv_pw_forward_post(g, x, wt, b, post_a, post_b, act, y);
        return;
    }
    conv_job pj = {.g = g, .y = y, .nb = g->n, .pa = post_a, .pb = post_b, .act = act};
    if (conv_is_depthwise(g)) {
        dw_job d = {g, x, wt, b, NULL, y, NULL, NULL};
        nn_par_run(depthwise_forward_slice, &d);
        if (post_a)
            nn_par_run(post_slice, &pj);
        return;
    }
    const int G = g->groups, ocg = g->oc / G, icg = g->ic / G;
    const int K = icg * g->kh * g->kw, ohw = g->oh * g->ow, B = conv_batch(g);
    const int gemm = conv_is_gemm(g);
    if (conv_fwd_t(g)) {
        /* maps under NN_CONV_COLS pixels, OC a multiple of 16: im2col [K, nb*OHW] unpadded,
         * gemm_inv_t into col's second part as [nb*OHW, OC], then reordered into y */
        for (int n0 = 0; n0 < g->n; n0 += B) {
            const int nb = g->n - n0 < B ? g->n - n0 : B, cols = nb * ohw;
            conv_job j = {.g = g, .x = x, .b = b, .y = y, .col = col, .n0 = n0, .nb = nb,
                          .S = (size_t)ohw, .pa = post_a, .pb = post_b, .act = act};
            const float *cn = x + (size_t)n0 * g->ic * g->h * g->w;
            if (!gemm || nb > 1) {
                nn_par_run(im2col_slice, &j); /* [IC*KH*KW, nb*OHW] */
                cn = col;
            }
            j.out = col + (size_t)K * cols;
            gemm_inv_t(g->oc, cols, K, wt, cn, j.out);
            nn_par_run(scatter_t_slice, &j);
        }
        return;
    }
    if (G == 1 && conv_fwd_padded(g)) {
        /* maps under NN_CONV_COLS pixels, images batched: each image's columns padded to 16
         * (S) and a batch-invariant GEMM (gemm_inv), into col's second part, then reordered */
        const size_t S = conv_fwd_stride(g);
        for (int n0 = 0; n0 < g->n; n0 += B) {
            const int nb = g->n - n0 < B ? g->n - n0 : B, cols = nb * (int)S;
            conv_job j = {.g = g, .x = x, .b = b, .y = y, .col = col, .n0 = n0, .nb = nb,
                          .S = S, .pa = post_a, .pb = post_b, .act = act};
            const int alone = nb == 1 && S == (size_t)ohw; /* neither batched nor padded */
            const float *cn = x + (size_t)n0 * g->ic * g->h * g->w;
            if (!gemm || !alone) {
                nn_par_run(im2col_slice, &j); /* [IC*KH*KW, nb*S] */
                cn = col;
            }
            float *out = alone ? y + (size_t)n0 * g->oc * ohw : col + (size_t)K * cols;
            gemm_inv(g->oc, cols, K, wt, K, cn, cols, out, cols);
            if (!alone)
                j.out = out;
            if (!alone || b || post_a)
                nn_par_run(scatter_slice, &j);
        }
        return;
    }
    if (G == 1 && B == 1) {
        /* maps of NN_CONV_COLS pixels or more, one image per GEMM: blocks of columns, each
         * with its bias and post-op while in cache (conv_cols_block); a 1x1 stride-1 conv
         * reads the images' planes, every image in one job */
        conv_job j = {.g = g, .x = x, .b = b, .y = y, .col = gemm ? NULL : col,
                      .nb = gemm ? g->n : 1, .S = conv_cols_block(g), .pa = post_a,
                      .pb = post_b, .act = act, .wt = wt};
        if (gemm) {
            nn_par_run(conv_blocks_slice, &j);
            return;
        }
        for (int n0 = 0; n0 < g->n; n0++) {
            conv_job c = {.g = g, .x = x, .col = col, .n0 = n0, .nb = 1};
            nn_par_run(im2col_slice, &c); /* [IC*KH*KW, OHW] */
            j.n0 = n0;
            nn_par_run(conv_blocks_slice, &j);
        }
        return;
    }
    for (int n0 = 0; n0 < g->n; n0 += B) {
        const int nb = g->n - n0 < B ? g->n - n0 : B, cols = nb * ohw;
        conv_job j = {.g = g, .x = x, .b = b, .y = y, .col = col, .n0 = n0, .nb = nb,
                      .pa = post_a, .pb = post_b, .act = act};
        const float *cn = x + (size_t)n0 * g->ic * g->h * g->w; /* 1x1 stride 1, one image */
        if (!gemm || nb > 1) {
            nn_par_run(im2col_slice, &j); /* [IC*KH*KW, nb*OH*OW] */
            cn = col;
        }
        /* straight into y's images as [OC, nb*OH*OW]; reordered below when nb > 1 */
        float *out = y + (size_t)n0 * g->oc * ohw;
        for (int gi = 0; gi < G; gi++)
            /* [OCg, nb*OH*OW] = [OCg, ICg*KH*KW] x [ICg*KH*KW, nb*OH*OW] */
            gemm_par(CblasNoTrans, CblasNoTrans, ocg, cols, K, wt + (size_t)gi * ocg * K, K,
                     cn + (size_t)gi * K * cols, cols, 0.0f, out + (size_t)gi * ocg * cols,
                     cols);
        if (nb > 1) { /* col is free again: [OC, nb*OHW] -> col -> [nb, OC, OHW] */
            ew_job cp = {(size_t)g->oc * cols, out, NULL, col, 0.0f};
            nn_par_run(copy_slice, &cp);
            j.out = col;
        }
        if (nb > 1 || b || post_a)
            nn_par_run(scatter_slice, &j);
    }
}

static void zero_slice(void *vp, int ith, int nth)
{
    const ew_job *j = vp;
    size_t i0, i1;
    nn_par_range(j->n, ith, nth, 16, &i0, &i1);
    if (i1 > i0)
        memset(j->y + i0, 0, sizeof(float) * (i1 - i0));
}

void nn_conv2d_backward(const nn_conv_geom *g, const float *x, const float *wt,
                        const float *dy, float *dx, float *dw, float *db, float *col,
                        float *dcol)
{
    nn_conv2d_backward_set(g, x, wt, dy, dx, 0, dw, db, col, dcol);
}

void nn_conv2d_backward_set(const nn_conv_geom *g, const float *x, const float *wt,
                            const float *dy, float *dx, int set_dx, float *dw, float *db,
                            float *col, float *dcol)
{
    const int ohw = g->oh * g->ow;
    /* the kernels that overwrite dx themselves: the depthwise, direct 3x3 and 1x1 ones */
    const int pw_dx = dx && nn_conv_pw_use_dx(g);
    const int sets = nn_conv_dw_use(g) || pw_dx ||
                     (nn_conv_direct_use(g, NN_PASS_DX) && !conv_is_depthwise(g));
    if (dx && set_dx && !sets) {
        ew_job z = {(size_t)g->n * g->ic * g->h * g->w, NULL, NULL, dx, 0.0f};
        nn_par_run(zero_slice, &z);
        set_dx = 0;
    }
    if (db) {
        conv_job j = {.g = g, .nb = g->n, .dy = dy, .db = db};
        nn_par_run(conv_db_slice, &j);
    }
    if (nn_conv_dw_use(g)) {
        nn_conv_dw_backward(g, x, wt, dy, dx, set_dx, dw);
        return;
    }
    if (conv_is_depthwise(g)) {
        dw_job d = {g, x, wt, NULL, dy, NULL, dx, dw};
        nn_par_run(depthwise_backward_slice, &d);
        return;
    }
    /* the direct kernels first: they leave col and dcol free for the GEMM passes */
    if (dw && nn_conv_wino_use(g, NN_PASS_DW)) {
        nn_conv_wino_dw(g, x, dy, dw, col, nn_conv_direct_avail(g));
        dw = NULL;
    }
    if (dw && nn_conv_direct_use(g, NN_PASS_DW)) {
        nn_conv_direct_dw(g, x, dy, dw, col);
        dw = NULL;
    }
    if (dx && nn_conv_direct_use(g, NN_PASS_DX)) {
        nn_conv_direct_dx_set(g, wt, dy, dx, set_dx, dcol);
        dx = NULL;
    }
    if (pw_dx) {
        nn_conv_pw_dx_set(g, wt, dy, dx, set_dx);
        dx = NULL;
    }
    if (!dw && !dx)
        return;
    const int G = g->groups, ocg = g->oc / G, icg = g->ic / G;
    const int K = icg * g->kh * g->kw, B = conv_batch(g);
    const int gemm = conv_is_gemm(g);
    for (int n0 = 0; n0 < g->n; n0 += B) {
        const int nb = g->n - n0 < B ? g->n - n0 : B, cols = nb * ohw;
        conv_job j = {.g = g, .x = x, .col = col, .n0 = n0, .nb = nb, .dy = dy, .dx = dx};
        const float *dyn = dy + (size_t)n0 * g->oc * ohw;
        if (nb > 1) { /* dy of the images side by side in dcol: [OC, nb*OH*OW] */
            j.out = dcol;
            nn_par_run(gather_dy_slice, &j);
            dyn = dcol;
        }
        if (dw) {
            const float *cn = x + (size_t)n0 * g->ic * g->h * g->w;
            if (!gemm || nb > 1) {
                nn_par_run(im2col_slice, &j); /* [IC*KH*KW, nb*OH*OW] */
                cn = col;
            }
            for (int gi = 0; gi < G; gi++)
                /* dW_g [OCg, ICg*KH*KW] += dy_g [OCg, nb*OH*OW] x col_g^T */
                gemm_par(CblasNoTrans, CblasTrans, ocg, K, cols, dyn + (size_t)gi * ocg * cols, cols,
                         cn + (size_t)gi * K * cols, cols, 1.0f, dw + (size_t)gi * ocg * K,
                         K);
        }
        if (dx) {
            /* one 1x1 stride-1 image: accumulate straight into dx [IC, H*W] */
            const int direct = gemm && nb == 1;
            float *dc = direct ? dx + (size_t)n0 * g->ic * g->h * g->w : col; /* col is free */
            for (int gi = 0; gi < G; gi++)
                /* dcol_g [ICg*KH*KW, nb*OH*OW] = W_g^T [ICg*KH*KW, OCg] x dy_g [OCg, ..] */
                gemm_par(CblasTrans, CblasNoTrans, K, cols, ocg, wt + (size_t)gi * ocg * K, K,
                         dyn + (size_t)gi * ocg * cols, cols, direct ? 1.0f : 0.0f,
                         dc + (size_t)gi * K * cols, cols);
            if (!direct)
                nn_par_run(gemm ? scatter_add_slice : col2im_slice, &j);
        }
    }
}

/* ------------------------------------------------------------------ batch norm */

/* Every BN kernel is split over channels: a channel's statistics are summed by one thread in
 * a fixed order, so results do not depend on the thread count.
 *
 * Channel sums in double are 8 partial sums (element k of a plane goes to lane k mod 8, the
 * lanes carried across the planes, then added in lane order): eight independent chains
 * instead of one long one, the same order whatever the thread count. The per-plane loops come
 * in a portable C version and an AVX-512 one (8 double lanes = one register, float work 8 or
 * 16 wide), chosen by nn_conv_isa() (WB_NN_ISA=c forces C): the same operations on every lane
 * in the same order (multiply, then add; no fused multiply-add), so the same bits. */
#define BN_LANES 8

typedef struct bn_job {
    int n, c, hw, batch_stats, relu;
    const float *x, *gamma, *beta, *rmean_c, *rvar_c, *mean, *invstd, *dy, *act_y;
    float eps, momentum;
    int set_dx;
    float *rmean, *rvar, *y, *save_mean, *save_invstd, *dx, *dgamma, *dbeta;
} bn_job;

static double lanes_total(const double *l)
{
    double t = l[0];
    for (int q = 1; q < BN_LANES; q++)
        t += l[q];
    return t;
}

/* The activation's backward as run apart: into a zeroed buffer, 0 + (passes ? dy : 0). */
static inline float act_grad(float y, float dy, int act)
{
    const int pass = act == NN_ACT_RELU6 ? (y > 0.0f && y < 6.0f) : y > 0.0f;
    return 0.0f + (pass ? dy : 0.0f);
}

/* ---- portable C */

/* l[k mod 8] += x[k] */
static void bn_sum_c(const float *x, int hw, double *l)
{
    const int hw8 = hw - hw % BN_LANES;
    for (int k = 0; k < hw8; k += BN_LANES)
        for (int q = 0; q < BN_LANES; q++)
            l[q] += x[k + q];
    for (int k = hw8; k < hw; k++)
        l[k - hw8] += x[k];
}

/* l[k mod 8] += (x[k] - mean)^2 */
static void bn_sumsq_c(const float *x, int hw, double mean, double *l)
{
    const int hw8 = hw - hw % BN_LANES;
    for (int k = 0; k < hw8; k += BN_LANES)
        for (int q = 0; q < BN_LANES; q++) {
            double d = x[k + q] - mean;
            l[q] += d * d;
        }
    for (int k = hw8; k < hw; k++) {
        double d = x[k] - mean;
        l[k - hw8] += d * d;
    }
}

/* y = x * a + b, then the activation (the same float values as BN and it run apart) */
static void bn_apply_c(const float *x, float *y, int hw, float a, float b, int act)
{
    if (act == NN_ACT_RELU6)
        for (int k = 0; k < hw; k++) {
            float v = x[k] * a + b;
            y[k] = v > 0.0f ? (v < 6.0f ? v : 6.0f) : 0.0f;
        }
    else if (act)
        for (int k = 0; k < hw; k++) {
            float v = x[k] * a + b;
            y[k] = v > 0.0f ? v : 0.0f;
        }
    else
        for (int k = 0; k < hw; k++)
            y[k] = x[k] * a + b;
}

/* the gradient the BN sees at element k: dy, or the activation's backward of it */
#define BN_DY(k) (ay ? act_grad(ay[k], dy[k], act) : dy[k])

/* sl[k mod 8] += dy[k]; sxl[k mod 8] += dy[k] * ((x[k] - mu) * is) if x */
static void bn_bsum_c(const float *x, const float *dy, const float *ay, int act, int hw,
                      double mu, double is, double *sl, double *sxl)
{
    const int hw8 = hw - hw % BN_LANES;
    if (x) {
        for (int k = 0; k < hw8; k += BN_LANES)
            for (int q = 0; q < BN_LANES; q++) {
                const float d = BN_DY(k + q);
                sl[q] += d;
                sxl[q] += d * ((x[k + q] - mu) * is);
            }
        for (int k = hw8; k < hw; k++) {
            const float d = BN_DY(k);
            sl[k - hw8] += d;
            sxl[k - hw8] += d * ((x[k] - mu) * is);
        }
    } else {
        for (int k = 0; k < hw8; k += BN_LANES)
            for (int q = 0; q < BN_LANES; q++)
                sl[q] += BN_DY(k + q);
        for (int k = hw8; k < hw; k++)
            sl[k - hw8] += BN_DY(k);
    }
}

/* dx (+)= (float)(k * (dy - a - xh * b)), xh = (x - mu) * is (batch statistics; x != NULL),
 * or (float)(k * dy) (constant statistics; x == NULL). set: dx = 0 + that. */
static void bn_bdx_c(const float *x, const float *dy, const float *ay, int act, float *dx,
                     int set, int hw, double mu, double is, double k, double a, double b)
{
    for (int e = 0; e < hw; e++) {
        const float d = BN_DY(e);
        float v;
        if (x) {
            double xh = (x[e] - mu) * is;
            v = (float)(k * (d - a - xh * b));
        } else {
            v = (float)(k * d);
        }
        dx[e] = (set ? 0.0f : dx[e]) + v;
    }
}
#undef BN_DY

#if NN_OPS_X86
NN_TARGET_PUSH("avx512f,avx2,fma")

/* the first n (0..8) lanes */
static inline __m256i m8(int n)
{
    n = n < 0 ? 0 : n > 8 ? 8 : n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

static inline __mmask16 m16(int n)
{
    n = n < 0 ? 0 : n > 16 ? 16 : n;
    return (__mmask16)((1u << n) - 1u);
}

static void bn_sum_avx512(const float *x, int hw, double *l)
{
    __m512d acc = _mm512_loadu_pd(l);
    int k = 0;
    for (; k + 8 <= hw; k += 8)
        acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_loadu_ps(x + k)));
    if (k < hw) /* lanes 0 .. hw-k-1 only, as the C tail */
        acc = _mm512_mask_add_pd(acc, (__mmask8)((1u << (hw - k)) - 1u), acc,
                                 _mm512_cvtps_pd(_mm256_maskload_ps(x + k, m8(hw - k))));
    _mm512_storeu_pd(l, acc);
}

static void bn_sumsq_avx512(const float *x, int hw, double mean, double *l)
{
    __m512d acc = _mm512_loadu_pd(l);
    const __m512d mu = _mm512_set1_pd(mean);
    int k = 0;
    for (; k + 8 <= hw; k += 8) {
        __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(x + k)), mu);
        acc = _mm512_add_pd(acc, _mm512_mul_pd(d, d));
    }
    if (k < hw) {
        __m512d d = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_maskload_ps(x + k, m8(hw - k))), mu);
        acc = _mm512_mask_add_pd(acc, (__mmask8)((1u << (hw - k)) - 1u), acc, _mm512_mul_pd(d, d));
    }
    _mm512_storeu_pd(l, acc);
}

static inline __m512 act512(__m512 v, int act)
{
    if (act) /* max(v, 0): NaN and -0 give the second operand, +0, as v > 0 ? v : 0 */
        v = _mm512_max_ps(v, _mm512_setzero_ps());
    if (act == NN_ACT_RELU6) /* min(v, 6): v < 6 ? v : 6 */
        v = _mm512_min_ps(v, _mm512_set1_ps(6.0f));
    return v;
}

static void bn_apply_avx512(const float *x, float *y, int hw, float a, float b, int act)
{
    const __m512 va = _mm512_set1_ps(a), vb = _mm512_set1_ps(b);
    int k = 0;
    for (; k + 16 <= hw; k += 16)
        _mm512_storeu_ps(y + k,
                         act512(_mm512_add_ps(_mm512_mul_ps(_mm512_loadu_ps(x + k), va), vb), act));
    if (k < hw) {
        const __mmask16 m = m16(hw - k);
        _mm512_mask_storeu_ps(
            y + k, m, act512(_mm512_add_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + k), va), vb), act));
    }
}

/* 8 gradients as the BN sees them (n valid; the others 0) */
static inline __m256 bn_dy8(const float *dy, const float *ay, int act, int n)
{
    const __m256i m = m8(n);
    __m256 d = n >= 8 ? _mm256_loadu_ps(dy) : _mm256_maskload_ps(dy, m);
    if (!ay)
        return d;
    const __m256 y = n >= 8 ? _mm256_loadu_ps(ay) : _mm256_maskload_ps(ay, m);
    __m256 pass = _mm256_cmp_ps(y, _mm256_setzero_ps(), _CMP_GT_OQ);
    if (act == NN_ACT_RELU6)
        pass = _mm256_and_ps(pass, _mm256_cmp_ps(y, _mm256_set1_ps(6.0f), _CMP_LT_OQ));
    return _mm256_add_ps(_mm256_setzero_ps(), _mm256_and_ps(pass, d));
}

static void bn_bsum_avx512(const float *x, const float *dy, const float *ay, int act, int hw,
                           double mu, double is, double *sl, double *sxl)
{
    __m512d s = _mm512_loadu_pd(sl), sx = _mm512_loadu_pd(sxl);
    const __m512d vmu = _mm512_set1_pd(mu), vis = _mm512_set1_pd(is);
    for (int k = 0; k < hw; k += 8) {
        const int n = hw - k;
        const __mmask8 m = n >= 8 ? (__mmask8)0xFF : (__mmask8)((1u << n) - 1u);
        const __m512d d = _mm512_cvtps_pd(bn_dy8(dy + k, ay ? ay + k : NULL, act, n));
        s = _mm512_mask_add_pd(s, m, s, d);
        if (x) {
            const __m256 xf = n >= 8 ? _mm256_loadu_ps(x + k) : _mm256_maskload_ps(x + k, m8(n));
            const __m512d xh = _mm512_mul_pd(_mm512_sub_pd(_mm512_cvtps_pd(xf), vmu), vis);
            sx = _mm512_mask_add_pd(sx, m, sx, _mm512_mul_pd(d, xh));
        }
    }
    _mm512_storeu_pd(sl, s);
    _mm512_storeu_pd(sxl, sx);
}

static void bn_bdx_avx512(const float *x, const float *dy, const float *ay, int act, float *dx,
                          int set, int hw, double mu, double is, double kk, double a, double b)
{
    const __m512d vmu = _mm512_set1_pd(mu), vis = _mm512_set1_pd(is), vk = _mm512_set1_pd(kk),
                  va = _mm512_set1_pd(a), vb = _mm512_set1_pd(b);
    for (int e = 0; e < hw; e += 8) {
        const int n = hw - e;
        const __m256i m = m8(n);
        const __m512d d = _mm512_cvtps_pd(bn_dy8(dy + e, ay ? ay + e : NULL, act, n));
        __m512d t;
        if (x) {
            const __m256 xf = n >= 8 ? _mm256_loadu_ps(x + e) : _mm256_maskload_ps(x + e, m);
            const __m512d xh = _mm512_mul_pd(_mm512_sub_pd(_mm512_cvtps_pd(xf), vmu), vis);
            t = _mm512_mul_pd(vk, _mm512_sub_pd(_mm512_sub_pd(d, va), _mm512_mul_pd(xh, vb)));
        } else {
            t = _mm512_mul_pd(vk, d);
        }
        const __m256 v = _mm512_cvtpd_ps(t);
        __m256 old = set ? _mm256_setzero_ps()
                         : n >= 8 ? _mm256_loadu_ps(dx + e) : _mm256_maskload_ps(dx + e, m);
        const __m256 r = _mm256_add_ps(old, v);
        if (n >= 8)
            _mm256_storeu_ps(dx + e, r);
        else
            _mm256_maskstore_ps(dx + e, m, r);
    }
}

NN_TARGET_POP()
#endif

/* the kernels of the instruction set in effect */
typedef struct bn_kern {
    void (*sum)(const float *, int, double *);
    void (*sumsq)(const float *, int, double, double *);
    void (*apply)(const float *, float *, int, float, float, int);
    void (*bsum)(const float *, const float *, const float *, int, int, double, double, double *,
                 double *);
    void (*bdx)(const float *, const float *, const float *, int, float *, int, int, double,
                double, double, double, double);
} bn_kern;

static bn_kern bn_kernels(void)
{
#if NN_OPS_X86
    if (nn_conv_isa() == NN_ISA_AVX512)
        return (bn_kern){bn_sum_avx512, bn_sumsq_avx512, bn_apply_avx512, bn_bsum_avx512,
                         bn_bdx_avx512};
#endif
    return (bn_kern){bn_sum_c, bn_sumsq_c, bn_apply_c, bn_bsum_c, bn_bdx_c};
}

/* y = x * a + b, then the activation: what the eval-mode BN computes per element */
static void bn_apply_row(const float *x, float *y, size_t n, float a, float b, int act)
{
    bn_kernels().apply(x, y, (int)n, a, b, act);
}

static void bn_train_slice(void *vp, int ith, int nth)
{
    const bn_job *j = vp;
    const int n = j->n, c = j->c, hw = j->hw;
    const double m = (double)n * hw;
    const bn_kern K = bn_kernels();
    size_t c0, c1;
    nn_par_range((size_t)c, ith, nth, 1, &c0, &c1);
    for (int ch = (int)c0; ch < (int)c1; ch++) {
        double sl[BN_LANES] = {0}, ssl[BN_LANES] = {0};
        for (int i = 0; i < n; i++)
            K.sum(j->x + ((size_t)i * c + ch) * hw, hw, sl);
        double mean = lanes_total(sl) / m;
        for (int i = 0; i < n; i++)
            K.sumsq(j->x + ((size_t)i * c + ch) * hw, hw, mean, ssl);
        const double ss = lanes_total(ssl);
        double var = ss / m;
        double invstd = 1.0 / sqrt(var + j->eps);
        j->save_mean[ch] = (float)mean;
        j->save_invstd[ch] = (float)invstd;
        if (j->rmean && j->rvar) {
            double unbiased = m > 1 ? ss / (m - 1) : var;
            j->rmean[ch] = (float)((1.0 - j->momentum) * j->rmean[ch] + j->momentum * mean);
            j->rvar[ch] = (float)((1.0 - j->momentum) * j->rvar[ch] + j->momentum * unbiased);
        }
        float a = (float)(j->gamma[ch] * invstd);
        float b = (float)(j->beta[ch] - j->gamma[ch] * invstd * mean);
        for (int i = 0; i < n; i++)
            K.apply(j->x + ((size_t)i * c + ch) * hw, j->y + ((size_t)i * c + ch) * hw, hw, a, b,
                    j->relu);
    }
}

void nn_bn_relu_forward_train(int n, int c, int hw, const float *x, const float *gamma,
                              const float *beta, float eps, float momentum, float *rmean,
                              float *rvar, float *y, float *save_mean, float *save_invstd,
                              int relu)
{
    bn_job j = {.n = n, .c = c, .hw = hw, .x = x, .gamma = gamma, .beta = beta, .eps = eps,
                .momentum = momentum, .rmean = rmean, .rvar = rvar, .y = y,
                .save_mean = save_mean, .save_invstd = save_invstd, .relu = relu};
    nn_par_run(bn_train_slice, &j);
}

void nn_bn_forward_train(int n, int c, int hw, const float *x, const float *gamma,
                         const float *beta, float eps, float momentum, float *rmean,
                         float *rvar, float *y, float *save_mean, float *save_invstd)
{
    nn_bn_relu_forward_train(n, c, hw, x, gamma, beta, eps, momentum, rmean, rvar, y,
                             save_mean, save_invstd, 0);
}

static void bn_eval_slice(void *vp, int ith, int nth)
{
    const bn_job *j = vp;
    const int c = j->c, hw = j->hw;
    const bn_kern K = bn_kernels();
    size_t p0, p1; /* (image, channel) planes */
    nn_par_range((size_t)j->n * c, ith, nth, 1, &p0, &p1);
    for (size_t p = p0; p < p1; p++) {
        const int ch = (int)(p % (size_t)c);
        double invstd = 1.0 / sqrt((double)j->rvar_c[ch] + j->eps);
        float a = (float)(j->gamma[ch] * invstd);
        float b = (float)(j->beta[ch] - j->gamma[ch] * invstd * j->rmean_c[ch]);
        K.apply(j->x + p * hw, j->y + p * hw, hw, a, b, j->relu);
    }
}

void nn_bn_relu_forward_eval(int n, int c, int hw, const float *x, const float *gamma,
                             const float *beta, float eps, const float *rmean, const float *rvar,
                             float *y, int relu)
{
    bn_job j = {.n = n, .c = c, .hw = hw, .x = x, .gamma = gamma, .beta = beta, .eps = eps,
                .rmean_c = rmean, .rvar_c = rvar, .y = y, .relu = relu};
    nn_par_run(bn_eval_slice, &j);
}

void nn_bn_forward_eval(int n, int c, int hw, const float *x, const float *gamma,
                        const float *beta, float eps, const float *rmean, const float *rvar,
                        float *y)
{
    nn_bn_relu_forward_eval(n, c, hw, x, gamma, beta, eps, rmean, rvar, y, 0);
}

static void bn_backward_slice(void *vp, int ith, int nth)
{
    const bn_job *j = vp;
    const int n = j->n, c = j->c, hw = j->hw;
    const double m = (double)n * hw;
    const int need_x = j->batch_stats || j->dgamma;
    const bn_kern K = bn_kernels();
    size_t c0, c1;
    nn_par_range((size_t)c, ith, nth, 1, &c0, &c1);
    for (int ch = (int)c0; ch < (int)c1; ch++) {
        double sl[BN_LANES] = {0}, sxl[BN_LANES] = {0};
        const double mu = j->mean[ch], is = j->invstd[ch];
        if (j->dgamma || j->dbeta || (j->dx && j->batch_stats))
            for (int i = 0; i < n; i++) {
                const size_t o = ((size_t)i * c + ch) * hw;
                K.bsum(need_x ? j->x + o : NULL, j->dy + o, j->act_y ? j->act_y + o : NULL,
                       j->relu, hw, mu, is, sl, sxl);
            }
        const double sdy = lanes_total(sl), sdyx = lanes_total(sxl);
        if (j->dgamma)
            j->dgamma[ch] += (float)sdyx;
        if (j->dbeta)
            j->dbeta[ch] += (float)sdy;
        if (!j->dx)
            continue;
        /* batch statistics: dx = gamma*invstd/m * (m*dy - sum(dy) - xhat*sum(dy*xhat));
         * constants: dx = gamma * invstd * dy */
        const double k = j->gamma[ch] * is, a = sdy / m, b = sdyx / m;
        for (int i = 0; i < n; i++) {
            const size_t o = ((size_t)i * c + ch) * hw;
            K.bdx(j->batch_stats ? j->x + o : NULL, j->dy + o, j->act_y ? j->act_y + o : NULL,
                  j->relu, j->dx + o, j->set_dx, hw, mu, is, k, a, b);
        }
    }
}

void nn_bn_act_backward(int n, int c, int hw, int batch_stats, const float *x,
                        const float *gamma, const float *mean, const float *invstd,
                        const float *act_y, int act, const float *dy, float *dx, int set_dx,
                        float *dgamma, float *dbeta)
{
    bn_job j = {.n = n, .c = c, .hw = hw, .batch_stats = batch_stats, .x = x, .gamma = gamma,
                .mean = mean, .invstd = invstd, .dy = dy, .dx = dx, .dgamma = dgamma,
                .dbeta = dbeta, .act_y = act ? act_y : NULL, .relu = act, .set_dx = set_dx};
    nn_par_run(bn_backward_slice, &j);
}

void nn_bn_backward(int n, int c, int hw, int batch_stats, const float *x,
                    const float *gamma, const float *mean, const float *invstd,
                    const float *dy, float *dx, float *dgamma, float *dbeta)
{
    nn_bn_act_backward(n, c, hw, batch_stats, x, gamma, mean, invstd, NULL, 0, dy, dx, 0, dgamma,
                       dbeta);
}

/* ------------------------------------------------------------------ element-wise kernels */

/* Ranges [i0, i1) of the element-wise kernels, C and AVX-512 (the same float operations per
 * element, so the same bits), chosen by nn_conv_isa(). */
typedef enum { EW_ADD, EW_ACC, EW_ADD_RELU, EW_RELU_BWD, EW_RELU6_BWD, EW_ADD_RELU_BWD } ew_kind;

static void ew_c(ew_kind kind, size_t i0, size_t i1, const float *a, const float *b, float *y,
                 float *y1, int set0, int set1)
{
    switch (kind) {
    case EW_ADD:
        for (size_t i = i0; i < i1; i++)
            y[i] = a[i] + b[i];
        break;
    case EW_ACC:
        for (size_t i = i0; i < i1; i++)
            y[i] += a[i];
        break;
    case EW_ADD_RELU:
        for (size_t i = i0; i < i1; i++) {
            const float v = a[i] + b[i];
            y[i] = v > 0.0f ? v : 0.0f;
        }
        break;
    case EW_RELU_BWD: /* a = y, b = dy, y = dx */
        for (size_t i = i0; i < i1; i++)
            y[i] += a[i] > 0.0f ? b[i] : 0.0f;
        break;
    case EW_RELU6_BWD:
        for (size_t i = i0; i < i1; i++)
            y[i] += (a[i] > 0.0f && a[i] < 6.0f) ? b[i] : 0.0f;
        break;
    case EW_ADD_RELU_BWD: /* a = y, b = dy; y = dx0, y1 = dx1 (either NULL) */
        for (size_t i = i0; i < i1; i++) {
            const float g = 0.0f + (a[i] > 0.0f ? b[i] : 0.0f);
            if (y)
                y[i] = (set0 ? 0.0f : y[i]) + g;
            if (y1)
                y1[i] = (set1 ? 0.0f : y1[i]) + g;
        }
        break;
    }
}

#if NN_OPS_X86
NN_TARGET_PUSH("avx512f,avx2,fma")
static void ew_avx512(ew_kind kind, size_t i0, size_t i1, const float *a, const float *b,
                      float *y, float *y1, int set0, int set1)
{
    const __m512 z = _mm512_setzero_ps(), six = _mm512_set1_ps(6.0f);
    for (size_t i = i0; i < i1; i += 16) {
        const __mmask16 m = i1 - i >= 16 ? (__mmask16)0xFFFF : m16((int)(i1 - i));
        const __m512 va = _mm512_maskz_loadu_ps(m, a + i);
        __m512 vb, r;
        switch (kind) {
        case EW_ADD:
            r = _mm512_add_ps(va, _mm512_maskz_loadu_ps(m, b + i));
            _mm512_mask_storeu_ps(y + i, m, r);
            break;
        case EW_ACC:
            r = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), va);
            _mm512_mask_storeu_ps(y + i, m, r);
            break;
        case EW_ADD_RELU:
            r = _mm512_max_ps(_mm512_add_ps(va, _mm512_maskz_loadu_ps(m, b + i)), z);
            _mm512_mask_storeu_ps(y + i, m, r);
            break;
        case EW_RELU_BWD:
        case EW_RELU6_BWD: {
            __mmask16 p = _mm512_cmp_ps_mask(va, z, _CMP_GT_OQ);
            if (kind == EW_RELU6_BWD)
                p &= _mm512_cmp_ps_mask(va, six, _CMP_LT_OQ);
            vb = _mm512_maskz_mov_ps(p, _mm512_maskz_loadu_ps(m, b + i));
            r = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + i), vb);
            _mm512_mask_storeu_ps(y + i, m, r);
            break;
        }
        case EW_ADD_RELU_BWD: {
            const __mmask16 p = _mm512_cmp_ps_mask(va, z, _CMP_GT_OQ);
            const __m512 g = _mm512_add_ps(z, _mm512_maskz_mov_ps(p, _mm512_maskz_loadu_ps(m, b + i)));
            if (y)
                _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(set0 ? z : _mm512_maskz_loadu_ps(m, y + i), g));
            if (y1)
                _mm512_mask_storeu_ps(y1 + i, m, _mm512_add_ps(set1 ? z : _mm512_maskz_loadu_ps(m, y1 + i), g));
            break;
        }
        }
    }
}
NN_TARGET_POP()
#endif

typedef struct ewk_job {
    ew_kind kind;
    size_t n;
    const float *a, *b;
    float *y, *y1;
    int set0, set1;
} ewk_job;

static void ewk_slice(void *vp, int ith, int nth)
{
    const ewk_job *j = vp;
    size_t i0, i1;
    nn_par_range(j->n, ith, nth, 16, &i0, &i1);
    if (i1 <= i0)
        return;
#if NN_OPS_X86
    if (nn_conv_isa() == NN_ISA_AVX512) {
        ew_avx512(j->kind, i0, i1, j->a, j->b, j->y, j->y1, j->set0, j->set1);
        return;
    }
#endif
    ew_c(j->kind, i0, i1, j->a, j->b, j->y, j->y1, j->set0, j->set1);
}

static void ewk_run(ew_kind kind, size_t n, const float *a, const float *b, float *y, float *y1,
                    int set0, int set1)
{
    ewk_job j = {kind, n, a, b, y, y1, set0, set1};
    nn_par_run(ewk_slice, &j);
}

/* ------------------------------------------------------------------ activations */

static void relu_fwd_slice(void *vp, int ith, int nth)
{
    const ew_job *j = vp;
    size_t i0, i1;
    nn_par_range(j->n, ith, nth, 16, &i0, &i1);
    const float *x = j->a;
    float *y = j->y;
    if (j->cap > 0.0f) {
        for (size_t i = i0; i < i1; i++)
            y[i] = x[i] > 0.0f ? (x[i] < j->cap ? x[i] : j->cap) : 0.0f;
    } else {
        for (size_t i = i0; i < i1; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}

void nn_relu_forward(size_t n, const float *x, float *y, float cap)
{
    ew_job j = {n, x, NULL, y, cap};
    nn_par_run(relu_fwd_slice, &j);
}

/* From the output: relu passes where y > 0; relu6 where 0 < y < 6 (PyTorch's hardtanh). */
void nn_relu_backward(size_t n, const float *y, const float *dy, float *dx, float cap)
{
    ewk_run(cap > 0.0f ? EW_RELU6_BWD : EW_RELU_BWD, n, y, dy, dx, NULL, 0, 0);
}

/* ------------------------------------------------------------------ pooling */

/* Index (in the channel plane) of the window's maximum; -1 if the window is all padding.
 * Ties go to the first, as in PyTorch. */
static long pool_argmax(const nn_conv_geom *g, const float *xc, int oy, int ox)
{
    long best = -1;
    float bv = -FLT_MAX;
    /* the window clipped to the image once, then visited in the same order */
    const int y0 = oy * g->sh - g->ph, x0 = ox * g->sw - g->pw;
    const int ki0 = y0 < 0 ? -y0 : 0, ki1 = g->h - y0 < g->kh ? g->h - y0 : g->kh;
    const int kj0 = x0 < 0 ? -x0 : 0, kj1 = g->w - x0 < g->kw ? g->w - x0 : g->kw;
    for (int ki = ki0; ki < ki1; ki++) {
        const long row = (long)(y0 + ki) * g->w + x0;
        for (int kj = kj0; kj < kj1; kj++) {
            float v = xc[row + kj];
            if (best < 0 || v > bv || isnan(v)) {
                best = row + kj;
                bv = v;
            }
        }
    }
    return best;
}

/* The value pool_argmax points at, without the index: the last NaN of the window if there is
 * one, else its maximum; 0 if the window is all padding. */
static inline float pool_max(const nn_conv_geom *g, const float *xc, int oy, int ox)
{
    const int y0 = oy * g->sh - g->ph, x0 = ox * g->sw - g->pw;
    const int ki0 = y0 < 0 ? -y0 : 0, ki1 = g->h - y0 < g->kh ? g->h - y0 : g->kh;
    const int kj0 = x0 < 0 ? -x0 : 0, kj1 = g->w - x0 < g->kw ? g->w - x0 : g->kw;
    if (ki0 >= ki1 || kj0 >= kj1)
        return 0.0f;
    float m = xc[(long)(y0 + ki0) * g->w + x0 + kj0], nanv = 0.0f;
    int has_nan = 0;
    for (int ki = ki0; ki < ki1; ki++) {
        const float *r = xc + (long)(y0 + ki) * g->w + x0;
        for (int kj = kj0; kj < kj1; kj++) {
            float v = r[kj];
            m = v > m ? v : m;
            if (isnan(v)) {
                nanv = v;
                has_nan = 1;
            }
        }
    }
    return has_nan ? nanv : m;
}

/* Pooling kernels are split over (image, channel) planes. */
typedef struct pool_job {
    const nn_conv_geom *g;
    const float *x, *dy;
    float *y, *dx;
} pool_job;

/* Tests: nn_maxpool_set_generic(1) runs every window through pool_max. */
static int maxpool_generic;
void nn_maxpool_set_generic(int on)
{
    maxpool_generic = on;
}

#define MAX_STEP(m, v) ((v) > (m) ? (v) : (m))

/* 3x3 windows, stride 2, padding 1 (ResNet's stem): the windows that lie inside the plane
 * without a test per element. Each output is pool_max's: the window's values in the same
 * order, each kept only if greater (the first maximum, the first of +0 and -0); a window whose
 * sum is NaN (a NaN in it, or infinities of both signs) goes to pool_max (its last NaN). */
static void maxpool_plane_3s2(const nn_conv_geom *g, const float *xc, float *yc)
{
    const int w = g->w, ow = g->ow;
    int oy1 = (g->h - 2) / 2 + 1, ox1 = (w - 2) / 2 + 1; /* interior: [1, oy1) x [1, ox1) */
    oy1 = oy1 < g->oh ? oy1 : g->oh;
    ox1 = ox1 < ow ? ox1 : ow;
    for (int oy = 0; oy < g->oh; oy++) {
        float *yr = yc + (size_t)oy * ow;
        if (oy < 1 || oy >= oy1 || ox1 <= 1) {
            for (int ox = 0; ox < ow; ox++)
                yr[ox] = pool_max(g, xc, oy, ox);
            continue;
        }
        yr[0] = pool_max(g, xc, oy, 0);
        const float *r0 = xc + (size_t)(2 * oy - 1) * w, *r1 = r0 + w, *r2 = r1 + w;
        for (int ox = 1; ox < ox1; ox++) {
            const int c = 2 * ox - 1;
            float m = r0[c];
            m = MAX_STEP(m, r0[c + 1]);
            m = MAX_STEP(m, r0[c + 2]);
            m = MAX_STEP(m, r1[c]);
            m = MAX_STEP(m, r1[c + 1]);
            m = MAX_STEP(m, r1[c + 2]);
            m = MAX_STEP(m, r2[c]);
            m = MAX_STEP(m, r2[c + 1]);
            m = MAX_STEP(m, r2[c + 2]);
            const float sum = ((r0[c] + r0[c + 1]) + (r0[c + 2] + r1[c])) +
                              ((r1[c + 1] + r1[c + 2]) + (r2[c] + r2[c + 1])) + r2[c + 2];
            yr[ox] = sum == sum ? m : pool_max(g, xc, oy, ox);
        }
        for (int ox = ox1; ox < ow; ox++)
            yr[ox] = pool_max(g, xc, oy, ox);
    }
}

static void maxpool_fwd_slice(void *vp, int ith, int nth)
{
    const pool_job *j = vp;
    const nn_conv_geom *g = j->g;
    const float *x = j->x;
    float *y = j->y;
    size_t p0, p1;
    nn_par_range((size_t)g->n * g->ic, ith, nth, 1, &p0, &p1);
    const int s3 = g->kh == 3 && g->kw == 3 && g->sh == 2 && g->sw == 2 && g->ph == 1 &&
                   g->pw == 1 && !maxpool_generic;
    for (size_t p = p0; p < p1; p++) {
        const float *xc = x + (size_t)p * g->h * g->w;
        float *yc = y + (size_t)p * g->oh * g->ow;
        if (s3) {
            maxpool_plane_3s2(g, xc, yc);
            continue;
        }
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++)
                yc[oy * g->ow + ox] = pool_max(g, xc, oy, ox);
    }
}

void nn_maxpool_forward(const nn_conv_geom *g, const float *x, float *y)
{
    pool_job j = {g, x, NULL, y, NULL};
    nn_par_run(maxpool_fwd_slice, &j);
}

static void maxpool_bwd_slice(void *vp, int ith, int nth)
{
    const pool_job *j = vp;
    const nn_conv_geom *g = j->g;
    const float *x = j->x, *dy = j->dy;
    float *dx = j->dx;
    size_t p0, p1;
    nn_par_range((size_t)g->n * g->ic, ith, nth, 1, &p0, &p1);
    for (size_t p = p0; p < p1; p++) {
        const float *xc = x + (size_t)p * g->h * g->w;
        float *dxc = dx + (size_t)p * g->h * g->w;
        const float *dyc = dy + (size_t)p * g->oh * g->ow;
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                long i = pool_argmax(g, xc, oy, ox);
                if (i >= 0)
                    dxc[i] += dyc[oy * g->ow + ox];
            }
    }
}

void nn_maxpool_backward(const nn_conv_geom *g, const float *x, const float *dy, float *dx)
{
    pool_job j = {g, x, dy, NULL, dx};
    nn_par_run(maxpool_bwd_slice, &j);
}

void nn_avgpool_forward(const nn_conv_geom *g, const float *x, float *y)
{
    const float inv = 1.0f / (float)(g->kh * g->kw); /* count_include_pad */
    for (int p = 0; p < g->n * g->ic; p++) {
        const float *xc = x + (size_t)p * g->h * g->w;
        float *yc = y + (size_t)p * g->oh * g->ow;
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float s = 0.0f;
                for (int ki = 0; ki < g->kh; ki++) {
                    int iy = oy * g->sh - g->ph + ki;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    for (int kj = 0; kj < g->kw; kj++) {
                        int ix = ox * g->sw - g->pw + kj;
                        if (ix >= 0 && ix < g->w)
                            s += xc[(size_t)iy * g->w + ix];
                    }
                }
                yc[oy * g->ow + ox] = s * inv;
            }
    }
}

void nn_avgpool_backward(const nn_conv_geom *g, const float *dy, float *dx)
{
    const float inv = 1.0f / (float)(g->kh * g->kw);
    for (int p = 0; p < g->n * g->ic; p++) {
        float *dxc = dx + (size_t)p * g->h * g->w;
        const float *dyc = dy + (size_t)p * g->oh * g->ow;
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float d = dyc[oy * g->ow + ox] * inv;
                for (int ki = 0; ki < g->kh; ki++) {
                    int iy = oy * g->sh - g->ph + ki;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    for (int kj = 0; kj < g->kw; kj++) {
                        int ix = ox * g->sw - g->pw + kj;
                        if (ix >= 0 && ix < g->w)
                            dxc[(size_t)iy * g->w + ix] += d;
                    }
                }
            }
    }
}

void nn_gap_forward(int n, int c, int hw, const float *x, float *y)
{
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float *xc = x + p * hw;
        double s = 0.0;
        for (int j = 0; j < hw; j++)
            s += xc[j];
        y[p] = (float)(s / hw);
    }
}

void nn_gap_backward(int n, int c, int hw, const float *dy, float *dx)
{
    for (size_t p = 0; p < (size_t)n * c; p++) {
        float d = dy[p] / (float)hw;
        float *dxc = dx + p * hw;
        for (int j = 0; j < hw; j++)
            dxc[j] += d;
    }
}

/* ------------------------------------------------------------------ linear */

void nn_linear_forward(int n, int in, int out, const float *x, const float *wt, const float *b,
                       float *y)
{
    /* y [N, OUT] = x [N, IN] x W^T [IN, OUT], one image at a time: a GEMM over the batch
     * rounds an image's row differently by batch size (see gemm_inv_call). Products of two
     * floats are exact in double, so the 4 lanes (element k to lane k mod 4, added in lane
     * order) give the same bits with or without fused multiply-adds. */
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * in;
        for (int o = 0; o < out; o++) {
            const float *wo = wt + (size_t)o * in;
            double l[4] = {0.0, 0.0, 0.0, 0.0};
            int k = 0;
            for (; k + 4 <= in; k += 4)
                for (int q = 0; q < 4; q++)
                    l[q] += (double)xi[k + q] * (double)wo[k + q];
            for (int q = 0; k < in; k++, q++)
                l[q] += (double)xi[k] * (double)wo[k];
            const float s = (float)((l[0] + l[1]) + (l[2] + l[3]));
            y[(size_t)i * out + o] = b ? s + b[o] : s;
        }
    }
}

void nn_linear_backward(int n, int in, int out, const float *x, const float *wt,
                        const float *dy, float *dx, float *dw, float *db)
{
    if (dw) /* dW [OUT, IN] += dy^T [OUT, N] x x [N, IN] */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, out, x, in,
                    1.0f, dw, in);
    if (dx) /* dx [N, IN] += dy [N, OUT] x W [OUT, IN] */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out, wt, in,
                    1.0f, dx, in);
    if (db)
        for (int o = 0; o < out; o++) {
            double s = 0.0;
            for (int i = 0; i < n; i++)
                s += dy[(size_t)i * out + o];
            db[o] += (float)s;
        }
}

/* ------------------------------------------------------------------ dropout, add, pad */

void nn_dropout_forward(size_t n, const float *x, float p, nn_rng *rng, float *mask, float *y)
{
    const float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    for (size_t i = 0; i < n; i++) {
        mask[i] = nn_rng_uniform(rng) < p ? 0.0f : keep;
        y[i] = x[i] * mask[i];
    }
}

void nn_dropout_backward(size_t n, const float *mask, const float *dy, float *dx)
{
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i] * mask[i];
}

void nn_add_relu_forward(size_t n, const float *a, const float *b, float *y)
{
    ewk_run(EW_ADD_RELU, n, a, b, y, NULL, 0, 0);
}

void nn_add_forward(size_t n, const float *a, const float *b, float *y)
{
    ewk_run(EW_ADD, n, a, b, y, NULL, 0, 0);
}

void nn_add_acc(size_t n, const float *dy, float *dx)
{
    ewk_run(EW_ACC, n, dy, NULL, dx, NULL, 0, 0);
}

void nn_add_relu_backward(size_t n, const float *y, const float *dy, float *dx0, int set0,
                          float *dx1, int set1)
{
    ewk_run(EW_ADD_RELU_BWD, n, y, dy, dx0, dx1, set0, set1);
}

void nn_pad_forward(int n, int c, int h, int w, int pt, int pb, int pl, int pr,
                    const float *x, float *y)
{
    const int oh = h + pt + pb, ow = w + pl + pr;
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const float *xc = x + p * h * w;
        float *yc = y + p * oh * ow;
        memset(yc, 0, sizeof(float) * (size_t)oh * ow);
        for (int i = 0; i < h; i++)
            memcpy(yc + (size_t)(i + pt) * ow + pl, xc + (size_t)i * w, sizeof(float) * (size_t)w);
    }
}

void nn_pad_backward(int n, int c, int h, int w, int pt, int pb, int pl, int pr,
                     const float *dy, float *dx)
{
    const int oh = h + pt + pb, ow = w + pl + pr;
    for (size_t p = 0; p < (size_t)n * c; p++) {
        float *dxc = dx + p * h * w;
        const float *dyc = dy + p * oh * ow;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < w; j++)
                dxc[(size_t)i * w + j] += dyc[(size_t)(i + pt) * ow + pl + j];
    }
}

/* y [n, cb+c+ca, ceil(h/s), ceil(w/s)] = x[:, :, ::s, ::s] with zero channels around */
/* Option-A shortcut: y = x subsampled by s, zero channels before (cb) and after (ca). Planes
 * of images sliced over the engine's threads. */
typedef struct sca_job {
    int n, c, h, w, s, cb, ca, set;
    const float *x; /* forward: x; backward: dy */
    float *y;       /* forward: y; backward: dx */
} sca_job;

static void sca_forward_slice(void *vp, int ith, int nth)
{
    const sca_job *j = vp;
    const int oh = (j->h + j->s - 1) / j->s, ow = (j->w + j->s - 1) / j->s;
    const int oc = j->cb + j->c + j->ca;
    size_t p0, p1; /* output planes (image, channel) */
    nn_par_range((size_t)j->n * oc, ith, nth, 1, &p0, &p1);
    for (size_t p = p0; p < p1; p++) {
        const int i = (int)(p / (size_t)oc), ch = (int)(p % (size_t)oc) - j->cb;
        float *yc = j->y + p * oh * ow;
        if (ch < 0 || ch >= j->c) {
            memset(yc, 0, sizeof(float) * (size_t)oh * ow);
            continue;
        }
        const float *xc = j->x + ((size_t)i * j->c + ch) * j->h * j->w;
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                yc[(size_t)oy * ow + ox] = xc[(size_t)oy * j->s * j->w + (size_t)ox * j->s];
    }
}

void nn_shortcut_a_forward(int n, int c, int h, int w, int s, int cb, int ca, const float *x,
                           float *y)
{
    sca_job j = {n, c, h, w, s, cb, ca, 0, x, y};
    nn_par_run(sca_forward_slice, &j);
}

static void sca_backward_slice(void *vp, int ith, int nth)
{
    const sca_job *j = vp;
    const int oh = (j->h + j->s - 1) / j->s, ow = (j->w + j->s - 1) / j->s;
    const int oc = j->cb + j->c + j->ca;
    size_t p0, p1; /* input planes (image, channel) */
    nn_par_range((size_t)j->n * j->c, ith, nth, 1, &p0, &p1);
    for (size_t p = p0; p < p1; p++) {
        const int i = (int)(p / (size_t)j->c), ch = (int)(p % (size_t)j->c);
        float *dxc = j->y + p * j->h * j->w;
        const float *dyc = j->x + ((size_t)i * oc + j->cb + ch) * oh * ow;
        if (j->set) /* the bits of adding into a zeroed dx */
            memset(dxc, 0, sizeof(float) * (size_t)j->h * j->w);
        for (int oy = 0; oy < oh; oy++)
            for (int ox = 0; ox < ow; ox++)
                dxc[(size_t)oy * j->s * j->w + (size_t)ox * j->s] += dyc[(size_t)oy * ow + ox];
    }
}

void nn_shortcut_a_backward_set(int n, int c, int h, int w, int s, int cb, int ca,
                                const float *dy, float *dx, int set)
{
    sca_job j = {n, c, h, w, s, cb, ca, set, dy, dx};
    nn_par_run(sca_backward_slice, &j);
}

/* ------------------------------------------------------------------ loss */

int nn_loss_softmax_ce(const float *logits, const int *labels, const float *class_w, int n,
                       int k, double *loss, float *dlogits, wb_error *err)
{
    if (n < 1 || k < 1)
        return wb_err(err, WB_E_USAGE, NULL, "softmax cross-entropy: empty batch (n=%d, k=%d)",
                      n, k);
    double wsum = 0.0, total = 0.0;
    for (int i = 0; i < n; i++) {
        if (labels[i] < 0 || labels[i] >= k)
            return wb_err(err, WB_E_DATA, NULL, "label %d of sample %d is not in [0, %d)",
                          labels[i], i, k);
        wsum += class_w ? class_w[labels[i]] : 1.0;
    }
    if (!(wsum > 0.0))
        return wb_err(err, WB_E_DATA, NULL, "the class weights of the batch sum to %g", wsum);
    for (int i = 0; i < n; i++) {
        const float *z = logits + (size_t)i * k;
        double mx = z[0];
        for (int j = 1; j < k; j++)
            if (z[j] > mx)
                mx = z[j];
        double se = 0.0;
        for (int j = 0; j < k; j++)
            se += exp(z[j] - mx);
        double lse = mx + log(se);
        double wi = class_w ? class_w[labels[i]] : 1.0;
        total += wi * (lse - z[labels[i]]);
        if (dlogits) {
            float *d = dlogits + (size_t)i * k;
            for (int j = 0; j < k; j++) {
                double p = exp(z[j] - lse);
                d[j] = (float)(wi / wsum * (p - (j == labels[i] ? 1.0 : 0.0)));
            }
        }
    }
    if (loss)
        *loss = total / wsum;
    return 0;
}

/* ------------------------------------------------------------------ RNG */

void nn_rng_seed(nn_rng *r, uint64_t seed)
{
    r->s = seed;
}

uint64_t nn_rng_u64(nn_rng *r)
{
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float nn_rng_uniform(nn_rng *r)
{
    return (float)(nn_rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

double nn_rng_normal(nn_rng *r)
{
    double u1 = ((double)(nn_rng_u64(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(nn_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
