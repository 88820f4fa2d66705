/* nn_conv_direct.c — direct 3x3 convolutions (stride 1 and 2, groups 1) for the layers where
 * im2col + GEMM is slow: few channels on large images (CIFAR ResNets at 96-256 pixels), where
 * the GEMM has M = 16..64 rows and im2col copies every input nine times. Also the depthwise
 * 3x3 kernels and the 1x1 stride-1 forward and input gradient (MobileNet's pointwise convs,
 * nn_conv_pw_*).
 *
 * Layout. The input of a chunk of images is copied once into a zero-padded buffer: per
 * (image, channel) a plane of hp = (oh-1)*s + 3 rows; each row holds the s column phases of
 * the padded row one after the other (stride 2: even columns, then odd ones), each phase
 * owv + 2/s floats long (owv = ow rounded up to 16), so that tap (ki, kj) of output pixel
 * (oy, ox) is row oy*s + ki, float coloff[kj] + ox: contiguous vector loads for both
 * strides, no bounds test in the inner loops.
 *
 * Kernels (nn_conv_direct_tmpl.h, once per instruction set): forward = a register tile of
 * output channels x pixels of one output row, input channel by channel; input gradient
 * (stride 1) = the forward kernel on the padded dy with the kernel flipped and transposed,
 * added to dx; weight gradient = per (input channel, output channels) the 9 taps as vector
 * accumulators over pixels. AVX-512 and AVX2+FMA paths are compiled with per-function
 * target attributes (GCC: #pragma GCC target; clang: #pragma clang attribute) and chosen at
 * run time (__builtin_cpu_supports); the portable path is C with fmaf. All paths and all thread counts give the same bits (see the template).
 *
 * Scratch: the caller's conv scratch (nn_conv2d_col_size_base floats, what the GEMM path would
 * use for im2col); the forward and input gradient first pack their weights there per block
 * of output channels (fwd_pack: one broadcast pointer per tile), then images are processed
 * in chunks that fit the rest.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nets/nn_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NN_X86 1
#else
#define NN_X86 0
#endif

typedef struct dconv {
    int n, ic, oc, oh, ow, s;   /* images of the chunk; channels of xp (ic) and of y / dy (oc) */
    size_t plane, wrow;
    int coloff[3];
    const float *xp, *w, *b, *dy;
    float *y, *dw;
    int accumulate;             /* forward: y += conv (bias ignored) instead of y = conv + b */
    int setz;                   /* with accumulate: y = 0 + conv, y not read */
    const float *post_a, *post_b; /* forward: then y = y * a[o] + b[o] (eval-mode BN) */
    int relu;                   /* and then the activation (NN_ACT_*) */
    int r0, r1;                 /* weight gradient: output rows of this block */
    float *lanes;               /* weight gradient: 16 lane sums per (oc, ic, tap) */
    int flat;                   /* forward, stride 1: the flat layout (layout_flat) */
} dconv;

/* A 1x1 stride-1 convolution (nn_conv_pw_*): x [n][ic][plane] -> y [n][oc][plane], the weight
 * of output o, input c at w[o * wso + c * wsc] (forward: [oc][ic]; input gradient: the
 * forward's weights transposed in place) */
typedef struct pwconv {
    int n, ic, oc;
    size_t plane;                 /* pixels of a channel's plane (h * w) */
    size_t wso, wsc;
    int accumulate;               /* y += conv (b, post_a NULL) instead of y = conv + b */
    const float *x, *w, *b;
    const float *post_a, *post_b; /* then y = y * a[o] + b[o] (eval-mode BN) */
    int act;                      /* and then the activation (NN_ACT_*) */
    float *y;
} pwconv;

/* one vector of a pwconv tile: n pixels from x / y, then up to hi - n from the next image */
typedef struct pwvec {
    const float *x, *xb;
    float *y, *yb;
    int n, hi;
} pwvec;

/* nn_conv_pw's chunks of tiles: input columns of about this many bytes, at most this many */
#define PW_CHUNK_BYTES (128 * 1024)
#define PW_CHUNK_MAX 64
/* ... and a chunk's tiles that span two images, packed (pw_items): floats on the stack */
#define PW_PACK_FLOATS (PW_CHUNK_BYTES / sizeof(float))

typedef struct dlayout {
    int owv, wph, hp;
    size_t wrow, plane;
    int coloff[3];
    int flat;
} dlayout;

/* Floats after the last plane of a flat layout that its last tile may read (and drop). */
#define FLAT_TAIL 64

static void layout_of(int oh, int ow, int s, dlayout *L)
{
    L->owv = (ow + 15) & ~15;
    L->wph = L->owv + 2 / s;
    L->wrow = (size_t)s * L->wph;
    L->hp = (oh - 1) * s + 3;
    L->plane = (size_t)L->hp * L->wrow;
    for (int kj = 0; kj < 3; kj++)
        L->coloff[kj] = (kj % s) * L->wph + kj / s;
    L->flat = 0;
}

/* The flat layout of a stride-1 forward (or input gradient) on maps at least 8 wide: rows
 * of ow + 2 floats, not rounded up to 16, so that the kernel can run over the flat positions
 * q = oy * (ow + 2) + ox of a plane, up to three rows in one vector, and drop the two columns
 * ox >= ow of every row: on narrow maps (CIFAR ResNets' 8-36 pixel wide layers) the
 * vectors are 80-95% full instead of 50-75%. Each output is the same chain of fused
 * multiply-adds as in the row layout (the same bits). The last tile reads up to FLAT_TAIL
 * floats past the last plane. */
static int flat_ok(int s, int ow)
{
    return s == 1 && ow >= 8 && ow % 16 != 0; /* multiples of 16 fill the row vectors */
}

static void layout_flat(int oh, int ow, dlayout *L)
{
    L->owv = ow;
    L->wph = ow + 2;
    L->wrow = (size_t)L->wph;
    L->hp = oh + 2;
    L->plane = (size_t)L->hp * L->wrow;
    for (int kj = 0; kj < 3; kj++)
        L->coloff[kj] = kj;
    L->flat = 1;
}

static void layout_pick(int oh, int ow, int s, dlayout *L)
{
    if (flat_ok(s, ow))
        layout_flat(oh, ow, L);
    else
        layout_of(oh, ow, s, L);
}

/* ------------------------------------------------------------------ instruction sets */

#define SFX(name) name##_c
#define VEC float
#define VL 1
#define VZERO() 0.0f
#define VSET1(s) (s)
#define VLOAD(p) (*(p))
#define VADD(a, b) ((a) + (b))
#define VMUL(a, b) ((a) * (b))
#define VRELU(v) ((v) > 0.0f ? (v) : 0.0f)
#define VMIN6(v) ((v) < 6.0f ? (v) : 6.0f)
#define VFMA(a, b, c) fmaf((a), (b), (c))
#define VSTORE(p, v) (*(p) = (v))
#define VLOADN(p, n) ((n) > 0 ? *(p) : 0.0f)
#define VSTOREN(p, v, n) (*(p) = (v))
#define VKEEP(v) ((void)0)
#define VLOADR(old, p, lo, hi) ((void)(old), (void)(lo), (void)(hi), *(p))
#define VSTORER(p, v, lo, hi) ((void)(lo), (void)(hi), *(p) = (v))
#define VLOADS VLOADR
#define VSTORES VSTORER
#define FWD_OCB 4
#define FWD_NV 4
#define FWD_CASES FT(4, 1) FT(4, 2) FT(4, 3) FT(4, 4) FT(2, 1) FT(2, 2) FT(2, 3) FT(2, 4) \
    FT(1, 1) FT(1, 2) FT(1, 3) FT(1, 4)
#define DW_OCB 1
#define DW_KIB 1
#define DW_CASES DT(1, 1)
#include "nets/nn_conv_direct_tmpl.h" /* which #undefs its parameters */

#if NN_X86
NN_TARGET_PUSH("avx2,fma")
static inline __m256i avx2_mask(int n)
{
    n = n < 0 ? 0 : n > 8 ? 8 : n;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
/* lanes lo <= l < hi */
static inline __m256i avx2_range(int lo, int hi)
{
    const __m256i l = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_andnot_si256(_mm256_cmpgt_epi32(_mm256_set1_epi32(lo), l),
                               _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), l));
}
#define SFX(name) name##_avx2
#define VEC __m256
#define VL 8
#define VZERO() _mm256_setzero_ps()
#define VSET1(s) _mm256_set1_ps(s)
#define VLOAD(p) _mm256_loadu_ps(p)
#define VADD(a, b) _mm256_add_ps((a), (b))
#define VMUL(a, b) _mm256_mul_ps((a), (b))
#define VRELU(v) _mm256_max_ps((v), _mm256_setzero_ps()) /* NaN, -0: the second, +0 */
#define VMIN6(v) _mm256_min_ps((v), _mm256_set1_ps(6.0f))
#define VFMA(a, b, c) _mm256_fmadd_ps((a), (b), (c))
#define VSTORE(p, v) _mm256_storeu_ps((p), (v))
#define VLOADN(p, n) _mm256_maskload_ps((p), avx2_mask(n))
#define VSTOREN(p, v, n) _mm256_maskstore_ps((p), avx2_mask(n), (v))
#define VKEEP(v) __asm__("" : "+x"(v))
/* lo > 0 only on a second row, at least ow >= 8 = VL floats into the plane: p - lo is in it */
static inline __m256 avx2_loadr(__m256 old, const float *p, int lo, int hi)
{
    const __m256i m = avx2_range(lo, hi);
    return _mm256_blendv_ps(old, _mm256_maskload_ps(p - lo, m), _mm256_castsi256_ps(m));
}
#define VLOADR(old, p, lo, hi) avx2_loadr((old), (p), (lo), (hi))
#define VSTORER(p, v, lo, hi) _mm256_maskstore_ps((p) - (lo), avx2_range((lo), (hi)), (v))
#define VLOADS VLOADR
#define VSTORES VSTORER
#define FWD_OCB 4
#define FWD_NV 3
#define FWD_CASES FT(4, 1) FT(4, 2) FT(4, 3) FT(2, 1) FT(2, 2) FT(2, 3) FT(1, 1) FT(1, 2) \
    FT(1, 3)
#define DW_OCB 2
#define DW_KIB 1
#define DW_CASES DT(2, 1) DT(1, 1)
#include "nets/nn_conv_direct_tmpl.h" /* which #undefs its parameters */
NN_TARGET_POP()

NN_TARGET_PUSH("avx512f,fma")
static inline __mmask16 avx512_mask(int n)
{
    n = n < 0 ? 0 : n > 16 ? 16 : n;
    return (__mmask16)((1u << n) - 1u);
}
static inline __mmask16 avx512_range(int lo, int hi)
{
    lo = lo < 0 ? 0 : lo > 16 ? 16 : lo;
    hi = hi < lo ? lo : hi > 16 ? 16 : hi;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}
#define SFX(name) name##_avx512
#define VEC __m512
#define VL 16
#define VZERO() _mm512_setzero_ps()
#define VSET1(s) _mm512_set1_ps(s)
#define VLOAD(p) _mm512_loadu_ps(p)
#define VADD(a, b) _mm512_add_ps((a), (b))
#define VMUL(a, b) _mm512_mul_ps((a), (b))
#define VRELU(v) _mm512_max_ps((v), _mm512_setzero_ps()) /* NaN, -0: the second, +0 */
#define VMIN6(v) _mm512_min_ps((v), _mm512_set1_ps(6.0f))
#define VFMA(a, b, c) _mm512_fmadd_ps((a), (b), (c))
#define VSTORE(p, v) _mm512_storeu_ps((p), (v))
#define VLOADN(p, n) _mm512_maskz_loadu_ps(avx512_mask(n), (p))
#define VSTOREN(p, v, n) _mm512_mask_storeu_ps((p), avx512_mask(n), (v))
#define VKEEP(v) __asm__("" : "+v"(v))
/* lanes lo..hi-1 from / to p[0 .. hi-lo): expand-load and compress (nothing before p touched) */
static inline __m512 avx512_loadr(__m512 old, const float *p, int lo, int hi)
{
    const __mmask16 m = avx512_range(lo, hi);
    return lo == 0 ? _mm512_mask_loadu_ps(old, m, p) : _mm512_mask_expandloadu_ps(old, m, p);
}
static inline void avx512_storer(float *p, __m512 v, int lo, int hi)
{
    if (lo == 0)
        _mm512_mask_storeu_ps(p, avx512_range(0, hi), v);
    else
        _mm512_mask_storeu_ps(p, avx512_range(0, hi - lo),
                              _mm512_maskz_compress_ps(avx512_range(lo, hi), v));
}
#define VLOADR(old, p, lo, hi) avx512_loadr((old), (p), (lo), (hi))
#define VSTORER(p, v, lo, hi) avx512_storer((p), (v), (lo), (hi))
#define VLOADS(old, p, lo, hi) _mm512_mask_loadu_ps((old), avx512_range((lo), (hi)), (p) - (lo))
#define VSTORES(p, v, lo, hi) _mm512_mask_storeu_ps((p) - (lo), avx512_range((lo), (hi)), (v))
#define FWD_OCB 8
#define FWD_NV 3
#define FWD_CASES FT(8, 1) FT(8, 2) FT(8, 3) FT(4, 1) FT(4, 2) FT(4, 3) FT(2, 1) FT(2, 2) \
    FT(2, 3) FT(1, 1) FT(1, 2) FT(1, 3)
#define DW_OCB 3
#define DW_KIB 3
#define DW_CASES DT(3, 3) DT(2, 3) DT(1, 3)
#include "nets/nn_conv_direct_tmpl.h" /* which #undefs its parameters */
NN_TARGET_POP()
#endif

/* ------------------------------------------------------------------ choice */

static atomic_int g_algo = -1; /* nn_conv_algo, -1: not read from WB_NN_CONV yet */
static atomic_int g_isa = -1;  /* nn_isa, -1: not chosen yet */
static atomic_long g_counts[3];

static nn_isa isa_best(void)
{
#if NN_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma"))
        return NN_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return NN_ISA_AVX2;
#endif
    return NN_ISA_C;
}

const char *nn_isa_name(nn_isa isa)
{
    return isa == NN_ISA_AVX512 ? "avx512" : isa == NN_ISA_AVX2 ? "avx2" : "c";
}

nn_isa nn_conv_set_isa(nn_isa isa)
{
    nn_isa best = isa_best();
    if ((int)isa > (int)best)
        isa = best;
    atomic_store(&g_isa, (int)isa);
    return isa;
}

nn_isa nn_conv_isa(void)
{
    int v = atomic_load(&g_isa);
    if (v >= 0)
        return (nn_isa)v;
    nn_isa isa = isa_best();
    const char *e = getenv("WB_NN_ISA");
    if (e && strcmp(e, "c") == 0)
        isa = NN_ISA_C;
    else if (e && strcmp(e, "avx2") == 0 && isa > NN_ISA_AVX2)
        isa = NN_ISA_AVX2;
    atomic_store(&g_isa, (int)isa);
    return isa;
}

void nn_conv_set_algo(nn_conv_algo a)
{
    atomic_store(&g_algo, (int)a);
}

nn_conv_algo nn_conv_algo_get(void)
{
    int v = atomic_load(&g_algo);
    if (v >= 0)
        return (nn_conv_algo)v;
    nn_conv_algo a = NN_CONV_AUTO;
    const char *e = getenv("WB_NN_CONV");
    if (e && strcmp(e, "gemm") == 0)
        a = NN_CONV_GEMM;
    else if (e && strcmp(e, "direct") == 0)
        a = NN_CONV_DIRECT;
    atomic_store(&g_algo, (int)a);
    return a;
}

void nn_conv_direct_counts(long counts[3], int reset)
{
    for (int i = 0; i < 3; i++)
        counts[i] = reset ? atomic_exchange(&g_counts[i], 0) : atomic_load(&g_counts[i]);
}

/* The largest FWD_OCB of the instruction sets: the packed weights' room in the scratch is
 * reserved for it whatever set runs, so that the chunks (and the rule) do not depend on it. */
#define FWD_OCB_MAX 8

/* Floats of the forward kernel's packed weights for `no` output channels of `ni` inputs,
 * rounded up to 16 so that what follows stays aligned as the scratch is. */
static size_t fwd_pack_size(int no, int ni)
{
    const size_t nob = (size_t)(no + FWD_OCB_MAX - 1) / FWD_OCB_MAX;
    return (nob * FWD_OCB_MAX * (size_t)ni * 9 + 15) & ~(size_t)15;
}

/* The weight gradient of maps under 16 columns (dwo_*, below): its scratch per image */
static int dwo_shape(const nn_conv_geom *g);
static size_t dwo_per_image(const nn_conv_geom *g);

/* Floats of scratch one image of a pass needs (packed weights, one image's padded planes):
 * fixed + per of chunk_images. */
static size_t pass_need(const nn_conv_geom *g, int pass, size_t *fixed_out, size_t *per_out);

/* What the direct kernels may use: the GEMM path's scratch, and at least one image of each
 * pass the shape allows (nn_conv_direct_min_scratch), so that whether a layer runs direct
 * depends on its shape, never on the batch (a batch of 1 has a smaller im2col). */
size_t nn_conv_direct_avail(const nn_conv_geom *g)
{
    const size_t a = nn_conv2d_col_size_base(g), m = nn_conv_direct_min_scratch(g);
    return a > m ? a : m;
}

size_t nn_conv_direct_min_scratch(const nn_conv_geom *g)
{
    if (g->groups != 1 || g->kh != 3 || g->kw != 3 || g->sh != g->sw || (g->sh != 1 && g->sh != 2) ||
        g->ph < 0 || g->ph > 2 || g->pw < 0 || g->pw > 2 || g->oh < 1 || g->ow < 1 || g->n < 1)
        return 0;
    size_t m = nn_conv_wino_min_scratch(g), f, p;
    for (int pass = NN_PASS_FWD; pass <= NN_PASS_DW; pass++) {
        if (pass == NN_PASS_DX && g->sh != 1)
            continue;
        const size_t need = pass_need(g, pass, &f, &p);
        m = need > m ? need : m;
    }
    return m;
}

static size_t pass_need(const nn_conv_geom *g, int pass, size_t *fixed_out, size_t *per_out)
{
    dlayout L;
    size_t per, fixed = 0;
    if (pass == NN_PASS_DX) {
        layout_pick(g->h, g->w, 1, &L);
        per = (size_t)g->oc * L.plane;
        fixed = fwd_pack_size(g->ic, g->oc);
    } else if (pass == NN_PASS_FWD) {
        layout_pick(g->oh, g->ow, g->sh, &L);
        per = (size_t)g->ic * L.plane;
        fixed = fwd_pack_size(g->oc, g->ic);
    } else if (dwo_shape(g)) {
        L.flat = 0;
        per = dwo_per_image(g);
        fixed = 16; /* dy's transposed copy starts on a 64-byte boundary */
    } else {
        layout_of(g->oh, g->ow, g->sh, &L);
        per = (size_t)g->ic * L.plane;
    }
    if (L.flat)
        fixed += FLAT_TAIL;
    *fixed_out = fixed;
    *per_out = per;
    return fixed + per;
}

/* Images of a chunk that fit the scratch (0: not even one). */
static int chunk_images(const nn_conv_geom *g, int pass)
{
    const size_t avail = nn_conv_direct_avail(g);
    size_t fixed, per;
    if (avail < pass_need(g, pass, &fixed, &per))
        return 0;
    size_t c = (avail - fixed) / per;
    return c > (size_t)g->n ? g->n : (int)c;
}

int nn_conv_direct_use(const nn_conv_geom *g, int pass)
{
    if (g->groups != 1 || g->kh != 3 || g->kw != 3 || g->sh != g->sw ||
        (g->sh != 1 && g->sh != 2) || g->ph < 0 || g->ph > 2 || g->pw < 0 || g->pw > 2 ||
        g->oh < 1 || g->ow < 1 || g->n < 1)
        return 0;
    if (pass == NN_PASS_DX && g->sh != 1)
        return 0; /* stride-2 input gradient: GEMM + col2im */
    const nn_conv_algo a = nn_conv_algo_get();
    if (a == NN_CONV_GEMM)
        return 0;
    if (chunk_images(g, pass) < 1)
        return 0;
    if (a == NN_CONV_DIRECT)
        return 1;
    /* The measured rule (bench_nets --conv, batch 16, see docs/performance.md, "Direct 3x3
     * convolutions"): the direct kernels win where the GEMM has few rows (few channels) and
     * im2col is large (many pixels); from 128 channels, or on 8-pixel-wide maps with 64,
     * OpenBLAS wins. The weight gradient kernel is the weakest of the three. */
    const int c = g->ic > g->oc ? g->ic : g->oc;
    switch (pass) {
    case NN_PASS_FWD: /* the flat layout: 64 -> 64 at 8x8 0.3 against 0.5-0.6 ms (2 threads);
                       * 128 -> 128 stride 1 from 8 columns: 1.2-1.3x gemm_inv_t's speed, at 7x7
                       * 0.67x (docs/performance.md, "Eighth pass") */
        return c <= 32 || (c <= 64 && (g->ow >= 16 || flat_ok(g->sh, g->ow))) ||
               (c <= 128 && g->sh == 1 && g->ow >= 8);
    case NN_PASS_DX:
        return c <= 32 || (c <= 128 && g->ow >= 16) || (c <= 64 && flat_ok(1, g->w));
    default:
        /* 2 threads, batch 16: the lanes run over 16-pixel chunks of a row, so it loses to
         * the GEMM where rows are not a multiple of 16 wide (from 32 channels) and on
         * stride 2 below 64 output columns (32 -> 64 at 48x36: 3.4 against 1.7 ms) */
        if (dwo_shape(g)) /* lanes over output channels: 64 -> 64 at 8x8 184-195 against
                           * 126 GFLOP/s, 128 -> 128 at 12x9 200-236 against 179-193; from
                           * 256 channels and at stride 2 a tie or GEMM's (docs/performance.md,
                           * "Eleventh pass"); not measured with under 16 output channels (lanes
                           * of zeros) nor from 400 pixels (Winograd's dW may take those) */
            return g->sh == 1 && c <= 128 && g->oc >= 16 && (long)g->h * g->w < 400;
        return g->ic <= 32 && g->oc <= 64 && g->ow >= 16 &&
               ((g->ic <= 16 && g->sh == 1) || g->ow % 16 == 0) && (g->sh == 1 || g->ow >= 64);
    }
}

/* ------------------------------------------------------------------ jobs */

typedef struct pad_job {
    const float *x;   /* first image of the chunk */
    int c, h, w, ph, pw, s, planes;
    dlayout L;
    float *xp;
} pad_job;

#if NN_X86
NN_TARGET_PUSH("avx512f")
/* lanes l with 0 <= start + l < n */
static inline __mmask16 range16(int start, int n)
{
    int lo = start < 0 ? -start : 0, hi = n - start;
    hi = hi > 16 ? 16 : hi;
    if (hi <= lo)
        return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* A stride-2 padded row: q[i] = xr[2i - pw], q[wph + i] = xr[2i + 1 - pw] (0 outside
 * [0, w)), 32 inputs at a time (the scalar loop took 4% of MobileNet 0.25's forward: its
 * conv1 reads a 225 x 225 plane) */
static void pad_row_s2_avx512(const float *xr, int w, int pw, int wph, float *q)
{
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    for (int i = 0; i < wph; i += 16) {
        const int b = 2 * i - pw;
        const __m512 lo = _mm512_maskz_loadu_ps(range16(b, w), xr + b);
        const __m512 hi = _mm512_maskz_loadu_ps(range16(b + 16, w), xr + b + 16);
        const __mmask16 m = range16(i, wph);
        _mm512_mask_storeu_ps(q + i, m, _mm512_permutex2var_ps(lo, even, hi));
        _mm512_mask_storeu_ps(q + wph + i, m, _mm512_permutex2var_ps(lo, odd, hi));
    }
}
NN_TARGET_POP()
#endif

static void pad_slice(void *vp, int ith, int nth)
{
    const pad_job *j = vp;
    const dlayout *L = &j->L;
    size_t p0, p1;
    nn_par_range((size_t)j->planes, ith, nth, 1, &p0, &p1);
    const int avx512 = NN_X86 && nn_conv_isa() == NN_ISA_AVX512;
    for (size_t p = p0; p < p1; p++) {
        const float *xc = j->x + p * (size_t)j->h * j->w;
        float *o = j->xp + p * L->plane;
        for (int r = 0; r < L->hp; r++) {
            float *orow = o + (size_t)r * L->wrow;
            const int iy = r - j->ph;
            if (iy < 0 || iy >= j->h) {
                memset(orow, 0, sizeof(float) * L->wrow);
                continue;
            }
            const float *xr = xc + (size_t)iy * j->w;
            if (j->s == 1) {
                /* padded column pc holds ix = pc - pw; all of [0, w) fits (wrow >= w + 2 pw) */
                memset(orow, 0, sizeof(float) * (size_t)j->pw);
                memcpy(orow + j->pw, xr, sizeof(float) * (size_t)j->w);
                memset(orow + j->pw + j->w, 0, sizeof(float) * (L->wrow - j->pw - j->w));
            } else {
#if NN_X86
                if (avx512 && j->s == 2) {
                    pad_row_s2_avx512(xr, j->w, j->pw, L->wph, orow);
                    continue;
                }
#endif
                (void)avx512;
                for (int ph = 0; ph < j->s; ph++) {
                    float *q = orow + (size_t)ph * L->wph;
                    for (int i = 0; i < L->wph; i++) {
                        const int ix = i * j->s + ph - j->pw;
                        q[i] = ix >= 0 && ix < j->w ? xr[ix] : 0.0f;
                    }
                }
            }
        }
    }
}

static void pad_run(const float *x, int planes, int c, int h, int w, int ph, int pw, int s,
                    const dlayout *L, float *xp)
{
    pad_job j = {x, c, h, w, ph, pw, s, planes, *L, xp};
    nn_par_run(pad_slice, &j);
}

/* a kernel over items i0 .. i1-1 of its job (a dconv or a pwconv) */
typedef void (*items_fn)(const void *p, size_t i0, size_t i1);

typedef struct items_job {
    const void *p;
    items_fn fn;
    size_t n;
} items_job;

static void items_slice(void *vp, int ith, int nth)
{
    const items_job *j = vp;
    size_t i0, i1;
    nn_par_range(j->n, ith, nth, 1, &i0, &i1);
    if (i1 > i0)
        j->fn(j->p, i0, i1);
}

/* the kernel, its channel block and its flat tile (FWD_OCB, FWD_NV * VL) */
static items_fn fwd_fn(int *ocb, int *tile)
{
    switch (nn_conv_isa()) {
#if NN_X86
    case NN_ISA_AVX512:
        *ocb = 8;
        *tile = 3 * 16;
        return fwd_items_avx512;
    case NN_ISA_AVX2:
        *ocb = 4;
        *tile = 3 * 8;
        return fwd_items_avx2;
#endif
    default:
        *ocb = 4;
        *tile = 4;
        return fwd_items_c;
    }
}

static items_fn dw_fn(int *ocb)
{
    switch (nn_conv_isa()) {
#if NN_X86
    case NN_ISA_AVX512:
        *ocb = 3;
        return dw_items_avx512;
    case NN_ISA_AVX2:
        *ocb = 2;
        return dw_items_avx2;
#endif
    default:
        *ocb = 1;
        return dw_items_c;
    }
}

/* The forward kernel's weights: wp[((ob * ni + c) * 9 + k) * ocb + j] = weight of output
 * channel o = ob * ocb + j (0 for o >= no), input channel c, tap k; from OIHW wt (flip = 0:
 * wt[o][c][k]) or, for the input gradient's transposed conv, from wt[c][o][8 - k] (flip = 1).
 * The same values in the same FMA order as reading wt itself: the same bits. */
static void fwd_pack(const float *wt, int no, int ni, int ocb, int flip, float *wp)
{
    const int nob = (no + ocb - 1) / ocb;
    for (int ob = 0; ob < nob; ob++)
        for (int c = 0; c < ni; c++)
            for (int k = 0; k < 9; k++) {
                float *d = wp + (((size_t)ob * ni + c) * 9 + k) * ocb;
                for (int j = 0; j < ocb; j++) {
                    const int o = ob * ocb + j;
                    d[j] = o >= no  ? 0.0f
                           : !flip ? wt[((size_t)o * ni + c) * 9 + k]
                                   : wt[((size_t)c * no + o) * 9 + (8 - k)];
                }
            }
}

/* the forward kernel over p (xp padded, n images), items (image, channel block, row) */
static void fwd_run(dconv *p, items_fn fn, int ocb, int T)
{
    size_t per = (size_t)p->oh; /* rows, or flat tiles */
    if (p->flat)
        per = (size_t)(((p->oh - 1) * (int)p->wrow + p->ow + T - 1) / T);
    items_job j = {p, fn, (size_t)p->n * ((p->oc + ocb - 1) / ocb) * per};
    nn_par_run(items_slice, &j);
}

/* ------------------------------------------------------------------ passes */

void nn_conv_direct_forward_post(const nn_conv_geom *g, const float *x, const float *wt,
                                 const float *b, const float *post_a, const float *post_b,
                                 int relu, float *y, float *scratch)
{
    atomic_fetch_add(&g_counts[NN_PASS_FWD], 1);
    if (nn_conv_wino_use(g, NN_PASS_FWD)) {
        nn_conv_wino_forward_post(g, x, wt, b, post_a, post_b, relu, y, scratch,
                                  nn_conv_direct_avail(g));
        return;
    }
    dlayout L;
    layout_pick(g->oh, g->ow, g->sh, &L);
    const int chunk = chunk_images(g, NN_PASS_FWD);
    int ocb, T;
    items_fn fn = fwd_fn(&ocb, &T); /* read once: the packing and the kernel agree */
    float *wp = scratch, *xp = scratch + fwd_pack_size(g->oc, g->ic);
    fwd_pack(wt, g->oc, g->ic, ocb, 0, wp);
    for (int n0 = 0; n0 < g->n; n0 += chunk) {
        const int nb = g->n - n0 < chunk ? g->n - n0 : chunk;
        pad_run(x + (size_t)n0 * g->ic * g->h * g->w, nb * g->ic, g->ic, g->h, g->w, g->ph,
                g->pw, g->sh, &L, xp);
        if (L.flat)
            memset(xp + (size_t)nb * g->ic * L.plane, 0, sizeof(float) * FLAT_TAIL);
        dconv p = {.n = nb, .ic = g->ic, .oc = g->oc, .oh = g->oh, .ow = g->ow, .s = g->sh,
                   .plane = L.plane, .wrow = L.wrow, .xp = xp, .w = wp, .b = b,
                   .y = y + (size_t)n0 * g->oc * g->oh * g->ow, .post_a = post_a,
                   .post_b = post_b, .relu = relu, .flat = L.flat};
        memcpy(p.coloff, L.coloff, sizeof p.coloff);
        fwd_run(&p, fn, ocb, T);
    }
}

void nn_conv_direct_dx(const nn_conv_geom *g, const float *wt, const float *dy, float *dx,
                       float *scratch)
{
    nn_conv_direct_dx_set(g, wt, dy, dx, 0, scratch);
}

void nn_conv_direct_dx_set(const nn_conv_geom *g, const float *wt, const float *dy, float *dx,
                           int set, float *scratch)
{
    atomic_fetch_add(&g_counts[NN_PASS_DX], 1);
    if (nn_conv_wino_use(g, NN_PASS_DX)) {
        nn_conv_wino_dx_set(g, wt, dy, dx, set, scratch, nn_conv_direct_avail(g));
        return;
    }
    /* dx = conv(dy padded by 2 - p, W'), W'[i][o][ki][kj] = W[o][i][2-ki][2-kj], stride 1 */
    float *wf = scratch;
    const size_t ws = fwd_pack_size(g->ic, g->oc);
    int ocb, T;
    items_fn fn = fwd_fn(&ocb, &T); /* read once: the packing and the kernel agree */
    fwd_pack(wt, g->ic, g->oc, ocb, 1, wf);
    dlayout L;
    layout_pick(g->h, g->w, 1, &L);
    const int chunk = chunk_images(g, NN_PASS_DX);
    float *dyp = scratch + ws;
    for (int n0 = 0; n0 < g->n; n0 += chunk) {
        const int nb = g->n - n0 < chunk ? g->n - n0 : chunk;
        pad_run(dy + (size_t)n0 * g->oc * g->oh * g->ow, nb * g->oc, g->oc, g->oh, g->ow,
                2 - g->ph, 2 - g->pw, 1, &L, dyp);
        if (L.flat)
            memset(dyp + (size_t)nb * g->oc * L.plane, 0, sizeof(float) * FLAT_TAIL);
        dconv p = {.n = nb, .ic = g->oc, .oc = g->ic, .oh = g->h, .ow = g->w, .s = 1,
                   .plane = L.plane, .wrow = L.wrow, .xp = dyp, .w = wf, .accumulate = 1,
                   .setz = set, .y = dx + (size_t)n0 * g->ic * g->h * g->w, .flat = L.flat};
        memcpy(p.coloff, L.coloff, sizeof p.coloff);
        fwd_run(&p, fn, ocb, T);
    }
}

/* ------------------------------------------------------------------ 1x1 convolutions */

/* The pointwise convolutions of MobileNet (1x1, stride 1, no padding, groups 1): a GEMM of
 * M = output channels, K = input channels, N = pixels, where OpenBLAS packs both operands and
 * the engine reorders the images around it on small maps; with few input channels (K = 8..128)
 * the packing and the reorder cost as much as the multiplies. Here a register tile of output
 * channels x vectors of pixels reads the images' planes and the weights where they are (no
 * scratch) and applies the bias, eval-mode BN and activation in its store. Each output is one
 * chain of fused multiply-adds over the input channels in order: every instruction set, tile,
 * batch and thread count gives the same bits (not always the GEMM's). */

static int pw_shape(const nn_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
           g->groups == 1 && g->oh == g->h && g->ow == g->w && g->n >= 1 && g->ic >= 1 &&
           g->oc >= 1 && g->h >= 1 && g->w >= 1;
}

/* k: the channels the pass sums over, m: the channels it writes */
static int pw_rule(const nn_conv_geom *g, int k, int m, int dx)
{
    if (!pw_shape(g))
        return 0;
    const nn_conv_algo a = nn_conv_algo_get();
    if (a == NN_CONV_GEMM)
        return 0;
    if (a == NN_CONV_DIRECT)
        return 1;
    if (nn_conv_isa() == NN_ISA_C)
        return 0; /* the portable path is the GEMM's */
    /* bench_nets --conv IC,OC,H,W,1,1, batch 16, 2 threads (docs/performance.md, "Thirteenth
     * pass"). Forward: 1.1-2.4x GEMM's speed from 28 x 28 down to 14 x 14 up to 512 channels
     * in; on 6 x 6 and 7 x 7 planes 1.05-1.6x up to 256, slower from 512 (its weights no longer
     * stay in cache between tiles); on planes of 2048 pixels and more (memory-bound) a win
     * with up to 64 channels in (32 -> 64 at 112 x 112 4.7 against 6.3 ms), a tie or a loss
     * from 128 (ResNet-50's 256 -> 64 at 128 x 128: 62 against 43 ms). The input gradient
     * loses there unless both sides have at most 64 channels, and from 512 on 14 x 14. Under
     * 16 pixels (each image's plane starts a vector): not measured, GEMM. With the tiles that
     * span two images packed (pw_items; docs/performance.md, "Fifteenth pass"), 16-99 pixels
     * take up to 512 channels both ways (7 x 7, batch 16, 2 threads: 512 -> 512 forward 1.22
     * against GEMM's 1.53 ms, dx 1.45 against 1.61; 1024 channels do not fit the packing and
     * lose, 8.1 against 5.8 ms), an input gradient only into at most 512 (ResNet-50's 2048 ->
     * 512 at 7 x 7: 9.8 against 6.0 ms). */
    const long plane = (long)g->h * g->w;
    if (plane < 16)
        return 0;
    if (plane >= 2048)
        return k <= 64 && (!dx || m <= 64);
    if (plane < 100)
        return k <= 512 && (!dx || m <= 512);
    return k <= (dx ? 256 : 512);
}

int nn_conv_pw_use(const nn_conv_geom *g)
{
    return pw_rule(g, g->ic, g->oc, 0);
}

/* the input gradient sums over the output channels into the input's */
int nn_conv_pw_use_dx(const nn_conv_geom *g)
{
    return pw_rule(g, g->oc, g->ic, 1);
}

static void pw_run(const pwconv *p)
{
    items_fn fn;
    int vl, nv;
    switch (nn_conv_isa()) {
#if NN_X86
    case NN_ISA_AVX512:
        fn = pw_items_avx512;
        vl = 16;
        nv = 3;
        break;
    case NN_ISA_AVX2:
        fn = pw_items_avx2;
        vl = 8;
        nv = 3;
        break;
#endif
    default:
        fn = pw_items_c;
        vl = 1;
        nv = 4;
        break;
    }
    /* the tiles pw_items counts (its `total` vectors, FWD_NV = nv a tile) */
    const size_t n = (size_t)p->n;
    const size_t vecs = p->plane >= (size_t)vl ? (n * p->plane + vl - 1) / (size_t)vl
                                               : n * ((p->plane + vl - 1) / (size_t)vl);
    items_job j = {p, fn, (vecs + (size_t)nv - 1) / (size_t)nv};
    nn_par_run(items_slice, &j);
}

void nn_conv_pw_forward_post(const nn_conv_geom *g, const float *x, const float *wt,
                             const float *b, const float *post_a, const float *post_b, int act,
                             float *y)
{
    pwconv p = {.n = g->n, .ic = g->ic, .oc = g->oc, .plane = (size_t)g->h * g->w,
                .wso = (size_t)g->ic, .wsc = 1, .x = x, .w = wt, .b = b, .post_a = post_a,
                .post_b = post_b, .act = act, .y = y};
    pw_run(&p);
}

void nn_conv_pw_dx_set(const nn_conv_geom *g, const float *wt, const float *dy, float *dx,
                       int set)
{
    /* dx [n][ic][plane] (+)= W^T dy: a 1x1 conv from oc channels to ic, weight (i, o) at
     * wt[o * ic + i] */
    pwconv p = {.n = g->n, .ic = g->oc, .oc = g->ic, .plane = (size_t)g->h * g->w, .wso = 1,
                .wsc = (size_t)g->ic, .accumulate = !set, .x = dy, .w = wt, .y = dx};
    pw_run(&p);
}

/* ------------------------------------------------------------------ dW of small maps */

/* The weight gradient of maps under 16 columns (CIFAR ResNets' 8x8 layers at 32x32, ResNet-18's
 * 12x9 .. 3x3): the kernel above puts 16 pixels of a row in its lanes and wastes most of them
 * there, and the im2col + GEMM runs at a third of the peak (M = output channels, K = 9 * input
 * channels, N = a few pixels per image). Here the lanes run over 16 output channels instead:
 * dy is transposed pixel-major (dyt[n][pixel][ocp], ocp = oc rounded up to 16, zeros after oc),
 * the input is copied into zero-padded planes (xq[n][c][hq][wq], hq = (oh-1)*s + 3), and per
 * pixel one vector load of dy feeds 9 * DWO_CB fused multiply-adds, each with its input value
 * broadcast from memory. Each weight's gradient is one chain over (image, row, column) from 0,
 * added to dw at the end of each chunk of images: every instruction set (16 or 8 lanes, or the
 * C loop), tile and thread count gives the same bits. Items are (16 output channels, DWO_CB
 * input channels): no two threads write one weight. */
#define DWO_CB 3

static int dwo_shape(const nn_conv_geom *g)
{
    return g->ow < 16;
}

static void dwo_dims(const nn_conv_geom *g, int *hq, int *wq, int *ocp)
{
    *hq = (g->oh - 1) * g->sh + 3;
    *wq = (g->ow - 1) * g->sw + 3;
    *ocp = (g->oc + 15) & ~15;
}

static size_t dwo_per_image(const nn_conv_geom *g)
{
    int hq, wq, ocp;
    dwo_dims(g, &hq, &wq, &ocp);
    return (size_t)g->ic * hq * wq + (size_t)g->oh * g->ow * ocp;
}

typedef struct dwo_job {
    int n, ic, oc, h, w, ph, pw, oh, ow, s, hq, wq, ocp;
    const float *x, *dy; /* the chunk's first image */
    float *xq, *dyt, *dw;
} dwo_job;

/* the padded input planes (one per (image, channel)), then dy transposed (one per image) */
static void dwo_prep_slice(void *vp, int ith, int nth)
{
    const dwo_job *j = vp;
    const size_t nxp = (size_t)j->n * j->ic, ohw = (size_t)j->oh * j->ow;
    const size_t plane = (size_t)j->hq * j->wq;
    size_t p0, p1;
    nn_par_range(nxp + (size_t)j->n, ith, nth, 1, &p0, &p1);
    for (size_t p = p0; p < p1; p++) {
        if (p < nxp) {
            const float *xc = j->x + p * (size_t)j->h * j->w;
            float *o = j->xq + p * plane;
            for (int r = 0; r < j->hq; r++) {
                const int iy = r - j->ph;
                for (int q = 0; q < j->wq; q++) {
                    const int ix = q - j->pw;
                    o[(size_t)r * j->wq + q] = iy >= 0 && iy < j->h && ix >= 0 && ix < j->w
                                                   ? xc[(size_t)iy * j->w + ix]
                                                   : 0.0f;
                }
            }
            continue;
        }
        const size_t n = p - nxp;
        const float *d = j->dy + n * (size_t)j->oc * ohw;
        float *t = j->dyt + n * ohw * (size_t)j->ocp;
        for (size_t q = 0; q < ohw; q++) {
            for (int o = 0; o < j->oc; o++)
                t[q * j->ocp + o] = d[(size_t)o * ohw + q];
            for (int o = j->oc; o < j->ocp; o++)
                t[q * j->ocp + o] = 0.0f;
        }
    }
}

/* dw += the chains of output channels o0 .. o0+no-1 (no <= 16), input channels c0 .. c0+nc-1 */
static void dwo_add(const dwo_job *j, int o0, int no, int c0, int nc, const float *acc)
{
    for (int c = 0; c < nc; c++)
        for (int k = 0; k < 9; k++)
            for (int l = 0; l < no; l++)
                j->dw[((size_t)(o0 + l) * j->ic + c0 + c) * 9 + k] += acc[(c * 9 + k) * 16 + l];
}

/* the portable loop: the same chain per weight as the vector paths */
static void dwo_item_c(const dwo_job *j, int ob, int c0, int nc)
{
    float acc[DWO_CB * 9 * 16] = {0};
    const size_t plane = (size_t)j->hq * j->wq, ohw = (size_t)j->oh * j->ow;
    for (int n = 0; n < j->n; n++)
        for (int oy = 0; oy < j->oh; oy++)
            for (int ox = 0; ox < j->ow; ox++) {
                const float *d = j->dyt + ((size_t)n * ohw + (size_t)oy * j->ow + ox) * j->ocp + ob * 16;
                const float *xb = j->xq + ((size_t)n * j->ic + c0) * plane +
                                  (size_t)oy * j->s * j->wq + (size_t)ox * j->s;
                for (int c = 0; c < nc; c++)
                    for (int ki = 0; ki < 3; ki++)
                        for (int kj = 0; kj < 3; kj++) {
                            const float xv = xb[c * plane + (size_t)ki * j->wq + kj];
                            float *a = acc + (c * 9 + ki * 3 + kj) * 16;
                            for (int l = 0; l < 16; l++)
                                a[l] = fmaf(d[l], xv, a[l]);
                        }
            }
    const int no = j->oc - ob * 16 < 16 ? j->oc - ob * 16 : 16;
    dwo_add(j, ob * 16, no, c0, nc, acc);
}

#if NN_X86
NN_TARGET_PUSH("avx512f,fma")
/* NC input channels at once: 9 * NC accumulators of 16 output channels */
static inline __attribute__((always_inline)) void dwo_tile_avx512(const dwo_job *j, int ob, int c0,
                                                                  const int NC)
{
    __m512 acc[DWO_CB][9];
    for (int c = 0; c < NC; c++)
        for (int k = 0; k < 9; k++)
            acc[c][k] = _mm512_setzero_ps();
    const size_t plane = (size_t)j->hq * j->wq, ohw = (size_t)j->oh * j->ow;
    for (int n = 0; n < j->n; n++)
        for (int oy = 0; oy < j->oh; oy++) {
            const float *d = j->dyt + ((size_t)n * ohw + (size_t)oy * j->ow) * j->ocp + ob * 16;
            const float *xb = j->xq + ((size_t)n * j->ic + c0) * plane + (size_t)oy * j->s * j->wq;
            for (int ox = 0; ox < j->ow; ox++) {
                const __m512 dv = _mm512_loadu_ps(d + (size_t)ox * j->ocp);
                const float *xp = xb + (size_t)ox * j->s;
                _Pragma("GCC unroll 3") for (int c = 0; c < NC; c++)
                    _Pragma("GCC unroll 3") for (int ki = 0; ki < 3; ki++)
                        _Pragma("GCC unroll 3") for (int kj = 0; kj < 3; kj++)
                            acc[c][ki * 3 + kj] = _mm512_fmadd_ps(
                                dv, _mm512_set1_ps(xp[c * plane + (size_t)ki * j->wq + kj]),
                                acc[c][ki * 3 + kj]);
            }
        }
    float t[DWO_CB * 9 * 16];
    for (int c = 0; c < NC; c++)
        for (int k = 0; k < 9; k++)
            _mm512_storeu_ps(t + (c * 9 + k) * 16, acc[c][k]);
    const int no = j->oc - ob * 16 < 16 ? j->oc - ob * 16 : 16;
    dwo_add(j, ob * 16, no, c0, NC, t);
}

static void dwo_item_avx512(const dwo_job *j, int ob, int c0, int nc)
{
    if (nc == 3)
        dwo_tile_avx512(j, ob, c0, 3);
    else if (nc == 2)
        dwo_tile_avx512(j, ob, c0, 2);
    else
        dwo_tile_avx512(j, ob, c0, 1);
}
NN_TARGET_POP()

NN_TARGET_PUSH("avx2,fma")
/* 16 registers: one input channel, 8 output channels (half) at a time; 9 accumulators */
static void dwo_item_avx2(const dwo_job *j, int ob, int c0, int nc)
{
    const size_t plane = (size_t)j->hq * j->wq, ohw = (size_t)j->oh * j->ow;
    float t[DWO_CB * 9 * 16];
    for (int c = 0; c < nc; c++)
        for (int half = 0; half < 2; half++) {
            __m256 acc[9];
            for (int k = 0; k < 9; k++)
                acc[k] = _mm256_setzero_ps();
            for (int n = 0; n < j->n; n++)
                for (int oy = 0; oy < j->oh; oy++) {
                    const float *d = j->dyt + ((size_t)n * ohw + (size_t)oy * j->ow) * j->ocp +
                                     ob * 16 + half * 8;
                    const float *xb = j->xq + ((size_t)n * j->ic + c0 + c) * plane +
                                      (size_t)oy * j->s * j->wq;
                    for (int ox = 0; ox < j->ow; ox++) {
                        const __m256 dv = _mm256_loadu_ps(d + (size_t)ox * j->ocp);
                        const float *xp = xb + (size_t)ox * j->s;
                        _Pragma("GCC unroll 3") for (int ki = 0; ki < 3; ki++)
                            _Pragma("GCC unroll 3") for (int kj = 0; kj < 3; kj++)
                                acc[ki * 3 + kj] = _mm256_fmadd_ps(
                                    dv, _mm256_set1_ps(xp[(size_t)ki * j->wq + kj]), acc[ki * 3 + kj]);
                    }
                }
            for (int k = 0; k < 9; k++)
                _mm256_storeu_ps(t + (c * 9 + k) * 16 + half * 8, acc[k]);
        }
    const int no = j->oc - ob * 16 < 16 ? j->oc - ob * 16 : 16;
    dwo_add(j, ob * 16, no, c0, nc, t);
}
NN_TARGET_POP()
#endif

typedef void (*dwo_item_fn)(const dwo_job *j, int ob, int c0, int nc);

typedef struct dwo_items_job {
    const dwo_job *j;
    dwo_item_fn fn;
} dwo_items_job;

/* items (output block, input block), output block major; halves of the list per thread */
static void dwo_items_slice(void *vp, int ith, int nth)
{
    const dwo_items_job *ij = vp;
    const dwo_job *j = ij->j;
    const int ncb = (j->ic + DWO_CB - 1) / DWO_CB, nob = j->ocp / 16;
    size_t i0, i1;
    nn_par_range((size_t)nob * ncb, ith, nth, 1, &i0, &i1);
    for (size_t it = i0; it < i1; it++) {
        const int ob = (int)(it / (size_t)ncb), c0 = (int)(it % (size_t)ncb) * DWO_CB;
        ij->fn(j, ob, c0, j->ic - c0 < DWO_CB ? j->ic - c0 : DWO_CB);
    }
}

static void dwo_run(const nn_conv_geom *g, const float *x, const float *dy, float *dw,
                    float *scratch)
{
    int hq, wq, ocp;
    dwo_dims(g, &hq, &wq, &ocp);
    const int chunk = chunk_images(g, NN_PASS_DW);
    dwo_item_fn fn = dwo_item_c;
#if NN_X86
    if (nn_conv_isa() == NN_ISA_AVX512)
        fn = dwo_item_avx512;
    else if (nn_conv_isa() == NN_ISA_AVX2)
        fn = dwo_item_avx2;
#endif
    const size_t ohw = (size_t)g->oh * g->ow;
    for (int n0 = 0; n0 < g->n; n0 += chunk) {
        const int nb = g->n - n0 < chunk ? g->n - n0 : chunk;
        dwo_job j = {.n = nb, .ic = g->ic, .oc = g->oc, .h = g->h, .w = g->w, .ph = g->ph,
                     .pw = g->pw, .oh = g->oh, .ow = g->ow, .s = g->sh, .hq = hq, .wq = wq,
                     .ocp = ocp, .x = x + (size_t)n0 * g->ic * g->h * g->w,
                     .dy = dy + (size_t)n0 * g->oc * ohw, .xq = scratch,
                     .dyt = scratch + (((size_t)nb * g->ic * hq * wq + 15) & ~(size_t)15),
                     .dw = dw};
        nn_par_run(dwo_prep_slice, &j);
        dwo_items_job ij = {&j, fn};
        nn_par_run(dwo_items_slice, &ij);
    }
}

/* dw += each weight's 16 lanes added in order; the lanes zeroed */
static void dw_lanes_flush(float *lanes, size_t nw, float *dw)
{
    for (size_t k = 0; k < nw; k++) {
        float *t = lanes + k * 16;
        float s = t[0];
        for (int q = 1; q < 16; q++)
            s += t[q];
        dw[k] += s;
        memset(t, 0, sizeof(float) * 16);
    }
}

void nn_conv_direct_dw(const nn_conv_geom *g, const float *x, const float *dy, float *dw,
                       float *scratch)
{
    atomic_fetch_add(&g_counts[NN_PASS_DW], 1);
    if (dwo_shape(g)) {
        dwo_run(g, x, dy, dw, scratch);
        return;
    }
    dlayout L;
    layout_of(g->oh, g->ow, g->sh, &L);
    /* The lane sums start at 0 per chunk of `chunk` images and are added to dw at its end,
     * whatever the blocking below: the same bits either way. */
    const int chunk = chunk_images(g, NN_PASS_DW);
    int ocb;
    items_fn fn = dw_fn(&ocb);
    const size_t nw = (size_t)g->ic * g->oc * 9, nl = nw * 16, per = (size_t)g->ic * L.plane;
    const size_t avail = nn_conv_direct_avail(g), ohw = (size_t)g->oh * g->ow;
    /* Large maps: output rows in blocks whose padded input and dy (about 512 KB) stay in cache
     * while every (channel, output block) item reads them, the 16 lane sums per (oc, ic, tap)
     * carried in the scratch from block to block; the padded input after them. Otherwise
     * (the lanes do not fit, or the maps are small) each item runs over whole images. */
    const size_t per_row = (size_t)g->ic * g->sh * L.wrow + (size_t)g->oc * g->ow;
    int rows = (int)(131072 / (per_row ? per_row : 1));
    rows = rows < 1 ? 1 : rows > g->oh ? g->oh : rows;
    const int blocked = rows < g->oh && avail >= nl + per;
    float *lanes = blocked ? scratch : NULL;
    float *xp = blocked ? scratch + nl : scratch;
    /* images per padding: blocked, one (its padded planes stay in L2 for its row blocks;
     * the lanes are flushed every `chunk` images whatever this is: the same bits) */
    const int pchunk = blocked ? 1 : chunk;
    if (blocked)
        memset(lanes, 0, sizeof(float) * nl);
    for (int n0 = 0; n0 < g->n; n0 += pchunk) {
        const int nb = g->n - n0 < pchunk ? g->n - n0 : pchunk;
        pad_run(x + (size_t)n0 * g->ic * g->h * g->w, nb * g->ic, g->ic, g->h, g->w, g->ph,
                g->pw, g->sh, &L, xp);
        if (!blocked) {
            dconv p = {.n = nb, .ic = g->ic, .oc = g->oc, .oh = g->oh, .ow = g->ow, .s = g->sh,
                       .plane = L.plane, .wrow = L.wrow, .xp = xp,
                       .dy = dy + (size_t)n0 * g->oc * ohw, .dw = dw, .r0 = 0, .r1 = g->oh};
            memcpy(p.coloff, L.coloff, sizeof p.coloff);
            items_job j = {&p, fn, (size_t)g->ic * ((g->oc + ocb - 1) / ocb)};
            nn_par_run(items_slice, &j);
            continue;
        }
        for (int im = 0; im < nb; im++) {
            for (int r0 = 0; r0 < g->oh; r0 += rows) {
                dconv p = {.n = 1, .ic = g->ic, .oc = g->oc, .oh = g->oh, .ow = g->ow,
                           .s = g->sh, .plane = L.plane, .wrow = L.wrow,
                           .xp = xp + (size_t)im * per,
                           .dy = dy + (size_t)(n0 + im) * g->oc * ohw, .dw = dw, .r0 = r0,
                           .r1 = r0 + rows < g->oh ? r0 + rows : g->oh, .lanes = lanes};
                memcpy(p.coloff, L.coloff, sizeof p.coloff);
                items_job j = {&p, fn, (size_t)g->ic * ((g->oc + ocb - 1) / ocb)};
                nn_par_run(items_slice, &j);
            }
            const int done = n0 + im + 1;
            if (done % chunk == 0 || done == g->n)
                dw_lanes_flush(lanes, nw, dw);
        }
    }
}

/* ------------------------------------------------------------------ depthwise 3x3 */

/* Depthwise convs (groups = channels, one 3x3 filter per channel), stride 1 or 2, padding
 * 0..2. Forward: per (image, channel) plane; each output is 0 + the in-range taps' products
 * (float multiply, then add) in (row, column) order, + bias, then the optional eval-mode BN
 * and activation: the bits of the plain loop (an out-of-range tap adds a product of 0, which
 * leaves a sum that is never -0 unchanged). AVX-512: 16 output pixels of a row per vector,
 * masked loads at the borders, stride 2 by an even-lane permute of two loads.
 *
 * Backward, per channel (a channel's kernel gradient sums over the images): input gradient =
 * each dx element plus its taps' dy * w in the order the plain scatter loop adds them (rows,
 * then columns, descending), masked adds at the borders (stride 2: the taps of one parity,
 * their dy expand-loaded): the bits of that loop, which the C path runs. Kernel gradient: 16
 * lanes (output pixel ox mod 16 of each row), each lane over image, row, 16-pixel chunk, then
 * the lanes summed 0..15 in order and added to dW; the C path computes the same lanes. */

typedef struct dwc_job {
    const nn_conv_geom *g;
    const float *x, *wt, *b, *dy, *post_a, *post_b;
    int act, set_dx; /* set_dx: dx = 0 + its taps, not read (the bits of a zeroed dx) */
    float *y, *dx, *dw;
} dwc_job;

static inline float dw_post(const dwc_job *j, int c, float v)
{
    if (j->post_a) {
        v = v * j->post_a[c] + j->post_b[c];
        if (j->act)
            v = v > 0.0f ? v : 0.0f;
        if (j->act == NN_ACT_RELU6)
            v = v < 6.0f ? v : 6.0f;
    }
    return v;
}

static void dwf_plane_c(const dwc_job *j, size_t p)
{
    const nn_conv_geom *g = j->g;
    const int c = (int)(p % (size_t)g->ic);
    const float *xc = j->x + p * g->h * g->w;
    const float *k = j->wt + (size_t)c * 9;
    float *yc = j->y + p * g->oh * g->ow;
    const float bias = j->b ? j->b[c] : 0.0f;
    for (int oy = 0; oy < g->oh; oy++)
        for (int ox = 0; ox < g->ow; ox++) {
            float s = 0.0f;
            for (int ki = 0; ki < 3; ki++) {
                int iy = oy * g->sh - g->ph + ki;
                if (iy < 0 || iy >= g->h)
                    continue;
                for (int kj = 0; kj < 3; kj++) {
                    int ix = ox * g->sw - g->pw + kj;
                    if (ix >= 0 && ix < g->w)
                        s += xc[(size_t)iy * g->w + ix] * k[ki * 3 + kj];
                }
            }
            yc[(size_t)oy * g->ow + ox] = dw_post(j, c, s + bias);
        }
}

/* the plain scatter loop (stride 2 on every instruction set), channel c */
static void dwb_channel_plain(const dwc_job *j, int c)
{
    const nn_conv_geom *g = j->g;
    for (int n = 0; n < g->n; n++) {
        const float *xc = j->x ? j->x + ((size_t)n * g->ic + c) * g->h * g->w : NULL;
        float *dxc = j->dx ? j->dx + ((size_t)n * g->ic + c) * g->h * g->w : NULL;
        const float *k = j->wt + (size_t)c * 9;
        float *dk = j->dw ? j->dw + (size_t)c * 9 : NULL;
        const float *dyc = j->dy + ((size_t)n * g->oc + c) * g->oh * g->ow;
        if (dxc && j->set_dx)
            memset(dxc, 0, sizeof(float) * g->h * g->w);
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                float d = dyc[(size_t)oy * g->ow + ox];
                for (int ki = 0; ki < 3; ki++) {
                    int iy = oy * g->sh - g->ph + ki;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    for (int kj = 0; kj < 3; kj++) {
                        int ix = ox * g->sw - g->pw + kj;
                        if (ix < 0 || ix >= g->w)
                            continue;
                        size_t xi = (size_t)iy * g->w + ix;
                        if (dxc)
                            dxc[xi] += d * k[ki * 3 + kj];
                        if (dk)
                            dk[ki * 3 + kj] += d * xc[xi];
                    }
                }
            }
    }
}

#define DWK_LANES 16

/* C: dx by the plain scatter loop (the bits of the per-element order the AVX-512 path
 * follows), dW in 16 lanes */
static void dwb_channel_c(const dwc_job *j, int c)
{
    const nn_conv_geom *g = j->g;
    if (j->dx) {
        dwc_job jx = *j;
        jx.dw = NULL;
        dwb_channel_plain(&jx, c);
    }
    if (!j->dw)
        return;
    float lanes[9][DWK_LANES];
    memset(lanes, 0, sizeof lanes);
    for (int n = 0; n < g->n; n++) {
        const float *xc = j->x + ((size_t)n * g->ic + c) * g->h * g->w;
        const float *dyc = j->dy + ((size_t)n * g->oc + c) * g->oh * g->ow;
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                const float d = dyc[(size_t)oy * g->ow + ox];
                for (int t = 0; t < 9; t++) {
                    const int iy = oy * g->sh - g->ph + t / 3, ix = ox * g->sw - g->pw + t % 3;
                    if (iy >= 0 && iy < g->h && ix >= 0 && ix < g->w)
                        lanes[t][ox % DWK_LANES] += d * xc[(size_t)iy * g->w + ix];
                }
            }
    }
    for (int t = 0; t < 9; t++) {
        float s = lanes[t][0];
        for (int q = 1; q < DWK_LANES; q++)
            s += lanes[t][q];
        j->dw[(size_t)c * 9 + t] += s;
    }
}

#if NN_X86
NN_TARGET_PUSH("avx512f,fma")

/* + bias, then the eval-mode BN and activation (dw_post), on 16 outputs */
static inline __m512 dwf_post16(const dwc_job *j, __m512 acc, __m512 bias, __m512 pa, __m512 pb)
{
    if (j->b)
        acc = _mm512_add_ps(acc, bias);
    if (j->post_a) {
        acc = _mm512_add_ps(_mm512_mul_ps(acc, pa), pb);
        if (j->act)
            acc = _mm512_max_ps(acc, _mm512_setzero_ps());
        if (j->act == NN_ACT_RELU6)
            acc = _mm512_min_ps(acc, _mm512_set1_ps(6.0f));
    }
    return acc;
}

/* Channel c's nine taps, and its bias and post-op (eval-mode BN) factors, as vectors */
static inline void dwf_consts(const dwc_job *j, int c, __m512 kv[9], __m512 *pa, __m512 *pb, __m512 *bias)
{
    for (int t = 0; t < 9; t++)
        kv[t] = _mm512_set1_ps(j->wt[(size_t)c * 9 + t]);
    const int post = j->post_a != NULL;
    *pa = _mm512_set1_ps(post ? j->post_a[c] : 0.0f);
    *pb = _mm512_set1_ps(post ? j->post_b[c] : 0.0f);
    *bias = _mm512_set1_ps(j->b ? j->b[c] : 0.0f);
}

/* A strip of 16 output columns from x0: its lanes (out), and per kernel column kj the input
 * offset of lane 0 and the lanes whose input is inside the row (stride 2: of the two loads
 * whose even lanes the strip takes) */
typedef struct dwf_cols {
    __mmask16 out, ma[3], mb[3];
    int off[3];
} dwf_cols;

static void dwf_cols_of(const nn_conv_geom *g, int x0, dwf_cols *k)
{
    const int s = g->sh, nvalid = g->ow - x0 < 16 ? g->ow - x0 : 16;
    k->out = (__mmask16)((1u << nvalid) - 1u);
    for (int kj = 0; kj < 3; kj++) {
        k->off[kj] = x0 * s - g->pw + kj;
        k->ma[kj] = s == 1 ? range16(k->off[kj], g->w) & k->out : range16(k->off[kj], g->w);
        k->mb[kj] = s == 1 ? 0 : range16(k->off[kj] + 16, g->w);
    }
}

/* Strip st's masks: precomputed in cols (n of them), else computed into *wide */
static inline const dwf_cols *dwf_strip(const nn_conv_geom *g, const dwf_cols *cols, int n, int st,
                                        dwf_cols *wide)
{
    if (st < n)
        return &cols[st];
    dwf_cols_of(g, st * 16, wide);
    return wide;
}

/* acc + the products of one input row's three taps (columns split: e0, o1, e2), in order */
static inline __m512 dwf_taps3(__m512 acc, __m512 e0, __m512 o1, __m512 e2, const __m512 *k)
{
    acc = _mm512_add_ps(acc, _mm512_mul_ps(e0, k[0]));
    acc = _mm512_add_ps(acc, _mm512_mul_ps(o1, k[1]));
    return _mm512_add_ps(acc, _mm512_mul_ps(e2, k[2]));
}

static void dwf_plane_avx512(const dwc_job *jp, size_t p)
{
    const nn_conv_geom gl = *jp->g, *g = &gl; /* local copies, as in dwf_plane_band_avx512 */
    const dwc_job jl = *jp, *j = &jl;
    const int c = (int)(p % (size_t)g->ic), s = g->sh, w = g->w;
    const float *xc = j->x + p * g->h * g->w;
    float *yc = j->y + p * g->oh * g->ow;
    __m512 kv[9], pa, pb, bias;
    dwf_consts(j, c, kv, &pa, &pb, &bias);
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    /* Rows in order (the planes read and written in address order: walking a strip of 16
     * columns down the rows, as before, made the 112- and 56-wide planes of MobileNet's first
     * blocks 10-25% slower), each in strips of 16 output columns whose taps' column masks
     * depend on the strip only: computed once per plane. Rows outside the input skipped. */
    enum { STRIPS = 64 }; /* up to 1024 columns; wider maps compute a strip's masks per row */
    const int nst = (g->ow + 15) / 16;
    dwf_cols cols[STRIPS];
    for (int st = 0; st < nst && st < STRIPS; st++)
        dwf_cols_of(g, st * 16, &cols[st]);
    if (s == 2) {
        /* two output rows at a time: their chains of adds side by side, and the input row they
         * share (the second's first, the first's last) split into columns once; each output
         * still adds its taps in (row, column) order */
        for (int oy = 0; oy < g->oh; oy += 2) {
            const int two = oy + 1 < g->oh;
            for (int st = 0; st < nst; st++) {
                const int x0 = st * 16;
                dwf_cols wide;
                const dwf_cols *k = dwf_strip(g, cols, STRIPS, st, &wide);
                __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
                for (int r = 0; r < (two ? 5 : 3); r++) {
                    const int iy = oy * 2 - g->ph + r;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    const float *row = xc + (size_t)iy * w;
                    /* the even and odd columns of 32 from off[0] are taps 0 and 1, the even
                     * ones of 32 from off[2] tap 2: four loads and three permutes for the
                     * three taps (a load pair and a permute per tap took a third more; lanes
                     * past ow are computed and not stored) */
                    const __m512 a = _mm512_maskz_loadu_ps(k->ma[0], row + k->off[0]);
                    const __m512 b = _mm512_maskz_loadu_ps(k->mb[0], row + k->off[0] + 16);
                    const __m512 a2 = _mm512_maskz_loadu_ps(k->ma[2], row + k->off[2]);
                    const __m512 b2 = _mm512_maskz_loadu_ps(k->mb[2], row + k->off[2] + 16);
                    const __m512 e0 = _mm512_permutex2var_ps(a, even, b);
                    const __m512 o1 = _mm512_permutex2var_ps(a, odd, b);
                    const __m512 e2 = _mm512_permutex2var_ps(a2, even, b2);
                    if (r < 3)
                        acc0 = dwf_taps3(acc0, e0, o1, e2, kv + r * 3);
                    if (r >= 2)
                        acc1 = dwf_taps3(acc1, e0, o1, e2, kv + (r - 2) * 3);
                }
                _mm512_mask_storeu_ps(yc + (size_t)oy * g->ow + x0, k->out, dwf_post16(j, acc0, bias, pa, pb));
                if (two)
                    _mm512_mask_storeu_ps(yc + (size_t)(oy + 1) * g->ow + x0, k->out,
                                          dwf_post16(j, acc1, bias, pa, pb));
            }
        }
        return;
    }
    for (int oy = 0; oy < g->oh; oy++)
        for (int st = 0; st < nst; st++) {
            const int x0 = st * 16;
            dwf_cols wide;
            const dwf_cols *k = dwf_strip(g, cols, STRIPS, st, &wide);
            __m512 acc = _mm512_setzero_ps();
            for (int ki = 0; ki < 3; ki++) {
                const int iy = oy * s - g->ph + ki;
                if (iy < 0 || iy >= g->h)
                    continue;
                const float *row = xc + (size_t)iy * w;
                for (int kj = 0; kj < 3; kj++)
                    acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_maskz_loadu_ps(k->ma[kj], row + k->off[kj]),
                                                           kv[ki * 3 + kj]));
            }
            _mm512_mask_storeu_ps(yc + (size_t)oy * g->ow + x0, k->out, dwf_post16(j, acc, bias, pa, pb));
        }
}

/* Stride 1, padding 1 (the output plane is the input's shape) on a small plane whose width
 * is not a multiple of 16: the plane taken flat, 16 consecutive output pixels per vector
 * across rows (a 6 x 6 plane: 3 vectors instead of 6 two-thirds empty ones). A tap's 16
 * inputs are then contiguous too (flat index + (ki - 1) * w + kj - 1); lanes whose column
 * falls off the row (mL: the left tap of column 0, mR: the right tap of column w - 1) or whose
 * index falls off the plane load 0, whose product leaves the sum as the row path's skipped
 * tap does. The same taps in the same order: the same bits. */
enum { DWF_FLAT_MAX = 1024 }; /* plane pixels (64 vectors) */

static int dwf_flat_use(const nn_conv_geom *g)
{
    return g->sh == 1 && g->ph == 1 && g->pw == 1 && g->oh == g->h && g->ow == g->w &&
           g->w % 16 != 0 && (size_t)g->h * g->w <= DWF_FLAT_MAX;
}

static void dwf_plane_flat_avx512(const dwc_job *jp, size_t p, const __mmask16 (*mt)[9])
{
    const nn_conv_geom gl = *jp->g, *g = &gl; /* local copies, as in dwf_plane_band_avx512 */
    const dwc_job jl = *jp, *j = &jl;
    const int c = (int)(p % (size_t)g->ic), w = g->w, hw = g->h * g->w;
    const float *xc = j->x + p * (size_t)hw;
    float *yc = j->y + p * (size_t)hw;
    __m512 kv[9], pa, pb, bias;
    dwf_consts(j, c, kv, &pa, &pb, &bias);
    int v = 0, o = 0;
    /* four vectors at a time, the taps unrolled and each mask loaded straight into a mask
     * register (GCC 12 otherwise computed every tap's offset and moved its mask through a
     * general register): one plane 14 x 14 of 128 took 0.017 ms, now 0.013-0.014 (1 thread,
     * batch 1), 16 images of them on 2 threads 0.135 -> 0.107 ms */
    for (; o + 48 < hw; v += 4, o += 64) { /* vectors v .. v + 3 all hold pixels */
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        const float *x0 = xc + o - w - 1;
        const __mmask16 *m0 = mt[v], *m1 = mt[v + 1], *m2 = mt[v + 2], *m3 = mt[v + 3];
#pragma GCC unroll 9
        for (int t = 0; t < 9; t++) {
            const float *xq = x0 + (t / 3) * w + t % 3;
            const __m512 k = kv[t];
            a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_maskz_loadu_ps(_load_mask16((__mmask16 *)&m0[t]), xq), k));
            a1 = _mm512_add_ps(a1, _mm512_mul_ps(_mm512_maskz_loadu_ps(_load_mask16((__mmask16 *)&m1[t]), xq + 16), k));
            a2 = _mm512_add_ps(a2, _mm512_mul_ps(_mm512_maskz_loadu_ps(_load_mask16((__mmask16 *)&m2[t]), xq + 32), k));
            a3 = _mm512_add_ps(a3, _mm512_mul_ps(_mm512_maskz_loadu_ps(_load_mask16((__mmask16 *)&m3[t]), xq + 48), k));
        }
        _mm512_mask_storeu_ps(yc + o, range16(o, hw), dwf_post16(j, a0, bias, pa, pb));
        _mm512_mask_storeu_ps(yc + o + 16, range16(o + 16, hw), dwf_post16(j, a1, bias, pa, pb));
        _mm512_mask_storeu_ps(yc + o + 32, range16(o + 32, hw), dwf_post16(j, a2, bias, pa, pb));
        _mm512_mask_storeu_ps(yc + o + 48, range16(o + 48, hw), dwf_post16(j, a3, bias, pa, pb));
    }
    for (; o < hw; v++, o += 16) {
        const __mmask16 out_m = range16(o, hw);
        __m512 acc = _mm512_setzero_ps();
        for (int ki = 0; ki < 3; ki++)
            for (int kj = 0; kj < 3; kj++) {
                const int off = o + (ki - 1) * w + kj - 1;
                acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_maskz_loadu_ps(mt[v][ki * 3 + kj], xc + off),
                                                       kv[ki * 3 + kj]));
            }
        _mm512_mask_storeu_ps(yc + o, out_m, dwf_post16(j, acc, bias, pa, pb));
    }
}

/* Stride 1 on planes at least DWF_BAND_MIN_OW wide (MobileNet's 112- and 56-wide ones): the
 * plane in bands of output rows. A band's input rows are first copied into a buffer on the
 * thread's stack with their zero padding written out (rows above and below the input, columns
 * left and right of it), rows WP = max(ow + 2, pw + w) floats apart, so that every tap is a
 * plain load: no masks, no skipped rows, and eight vectors' chains of products in flight at
 * once. The vectors run over the band's flat positions q = oy * WP + ox, whose tap (ki, kj)
 * is at q + ki * WP + kj; a vector may end one row and start the next, and the columns
 * ox >= ow are computed and not stored. A padding zero adds a product of 0 to a sum that is
 * never -0 (it starts at +0), which leaves it as the plain loop's skipped tap does: the same
 * bits. Against the row kernel above (bench_nets --threads 1 --batch 16 --conv
 * C,C,H,H,1,3,dw): 8 x 112 x 112 1.41 -> 0.87 ms, 32 x 56 x 56 1.63 -> 1.11 ms; from 28
 * wide down it was slower (0.52 -> 0.54 ms at 64 x 28 x 28; 0.28 -> 0.35 ms at 128 x 14 x 14,
 * where a plane is a few vectors and the copy costs more than the masks save), and so was
 * the same scheme at stride 2 (even and odd columns apart) from 56 wide down. */
enum {
    DWF_BAND_MIN_OW = 32,
    DWF_BUF = 2048, /* floats of a band: 8 KB, in L1 (64 KB bands were 20% slower at 112 wide) */
    DWF_TAIL = 48   /* floats past a band's rows that its last vectors read */
};

/* A band's row pitch: the output row and its two padding columns, at least the input row
 * after its left padding */
static int dwf_band_wp(const nn_conv_geom *g)
{
    return g->ow + 2 > g->pw + g->w ? g->ow + 2 : g->pw + g->w;
}

static int dwf_band_use(const nn_conv_geom *g)
{
    return g->sh == 1 && g->ow >= DWF_BAND_MIN_OW && 3 * dwf_band_wp(g) + DWF_TAIL <= DWF_BUF;
}

/* input row iy of the plane xc into dst as padded columns 0..width-1 (column pc holds input
 * column pc - pw, 0 outside the input; width - pw - w <= 16), in whole vectors: up to 16
 * floats past width are written too (the next row, or the band's tail, written after it) */
static void dwf_pad_row(const nn_conv_geom *g, const float *xc, int iy, float *dst, int width)
{
    const __m512 z = _mm512_setzero_ps();
    if (iy < 0 || iy >= g->h) {
        for (int x0 = 0; x0 < width; x0 += 16)
            _mm512_storeu_ps(dst + x0, z);
        return;
    }
    const float *row = xc + (size_t)iy * g->w;
    const int w = g->w;
    float *d = dst + g->pw;
    _mm512_storeu_ps(dst, z); /* the left padding */
    int x = 0;
    for (; x + 16 <= w; x += 16)
        _mm512_storeu_ps(d + x, _mm512_loadu_ps(row + x));
    if (x < w) {
        _mm512_storeu_ps(d + x, _mm512_maskz_loadu_ps((__mmask16)((1u << (w - x)) - 1u), row + x));
        x += 16;
    }
    if (g->pw + x < width)
        _mm512_storeu_ps(d + x, z); /* the right padding */
}

/* Eight vectors from b: aU = 0 + the nine taps' products (from b + 16 U + off[t]) in tap
 * order. Written out, not as arrays over U: GCC 12 at -O2 kept such arrays in memory. */
#define DWF_TAPS8(b)                                                                            \
    do {                                                                                        \
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = _mm512_setzero_ps();                            \
        _Pragma("GCC unroll 9") for (int t = 0; t < 9; t++) {                                   \
            const __m512 k_ = kv[t];                                                            \
            const float *p_ = (b) + (t / 3) * wp + t % 3;                                       \
            a0 = _mm512_add_ps(a0, _mm512_mul_ps(_mm512_loadu_ps(p_), k_));                     \
            a1 = _mm512_add_ps(a1, _mm512_mul_ps(_mm512_loadu_ps(p_ + 16), k_));                \
            a2 = _mm512_add_ps(a2, _mm512_mul_ps(_mm512_loadu_ps(p_ + 32), k_));                \
            a3 = _mm512_add_ps(a3, _mm512_mul_ps(_mm512_loadu_ps(p_ + 48), k_));                \
            a4 = _mm512_add_ps(a4, _mm512_mul_ps(_mm512_loadu_ps(p_ + 64), k_));                \
            a5 = _mm512_add_ps(a5, _mm512_mul_ps(_mm512_loadu_ps(p_ + 80), k_));                \
            a6 = _mm512_add_ps(a6, _mm512_mul_ps(_mm512_loadu_ps(p_ + 96), k_));                \
            a7 = _mm512_add_ps(a7, _mm512_mul_ps(_mm512_loadu_ps(p_ + 112), k_));               \
        }                                                                                       \
    } while (0)

/* The 16 outputs from column c of the band's row r (flat position r * wp + c) into their rows
 * of y (the band's first output row oy0, nr rows): one store when they are all in row r's
 * first ow columns, else a masked store per row the vector touches; then (r, c) moves on 16 */
static inline void dwf_band_store(const nn_conv_geom *g, float *yc, int oy0, int nr, int wp,
                                  int *rp, int *cp, __m512 v)
{
    int r = *rp, c = *cp;
    if (c + 16 <= g->ow) {
        _mm512_storeu_ps(yc + (size_t)(oy0 + r) * g->ow + c, v);
    } else {
        for (int l = 0; l < 16 && r < nr; l += wp - c, r++, c = 0) {
            const int nvalid = g->ow - c;
            if (nvalid > 0) {
                const int m = nvalid < 16 - l ? nvalid : 16 - l;
                const __mmask16 mask = (__mmask16)(((1u << m) - 1u) << l);
                _mm512_mask_storeu_ps(yc + (size_t)(oy0 + r) * g->ow + c - l, mask, v);
            }
        }
    }
    for (*cp += 16; *cp >= wp; *cp -= wp)
        (*rp)++;
}

static void dwf_plane_band_avx512(const dwc_job *jp, size_t p, float *buf)
{
    /* local copies: GCC then keeps the fields the stores read (bias, BN, activation, ow) in
     * registers, where through the pointers it reloaded them after every store */
    const nn_conv_geom gl = *jp->g, *g = &gl;
    const dwc_job jl = *jp, *j = &jl;
    const int c = (int)(p % (size_t)g->ic);
    const float *xc = j->x + p * g->h * g->w;
    float *yc = j->y + p * g->oh * g->ow;
    __m512 kv[9], pa, pb, bias;
    dwf_consts(j, c, kv, &pa, &pb, &bias);
    const int wp = dwf_band_wp(g);
    const int R = (DWF_BUF - DWF_TAIL) / wp - 2; /* output rows per band (dwf_band_use: >= 1) */
    int off[9];
    for (int t = 0; t < 9; t++)
        off[t] = (t / 3) * wp + t % 3;
    for (int oy0 = 0; oy0 < g->oh; oy0 += R) {
        const int nr = g->oh - oy0 < R ? g->oh - oy0 : R, nq = nr * wp;
        for (int pr = 0; pr < nr + 2; pr++)
            dwf_pad_row(g, xc, oy0 + pr - g->ph, buf + (size_t)pr * wp, wp);
        for (int t = 0; t < DWF_TAIL; t += 16)
            _mm512_storeu_ps(buf + (size_t)(nr + 2) * wp + t, _mm512_setzero_ps());
        int q = 0, r = 0, c0 = 0; /* the flat position q = r * wp + c0 */
        for (; q + 16 * 7 < nq; q += 16 * 8) {
            __m512 a0, a1, a2, a3, a4, a5, a6, a7;
            DWF_TAPS8(buf + q);
            dwf_band_store(g, yc, oy0, nr, wp, &r, &c0, dwf_post16(j, a0, bias, pa, pb));
            dwf_band_store(g, yc, oy0, nr, wp, &r, &c0, dwf_post16(j, a1, bias, pa, pb));
            dwf_band_store(g, yc, oy0, nr, wp, &r, &c0, dwf_post16(j, a2, bias, pa, pb));
            dwf_band_store(g, yc, oy0, nr, wp, &r, &c0, dwf_post16(j, a3, bias, pa, pb));
            dwf_band_store(g, yc, oy0, nr, wp, &r, &c0, dwf_post16(j, a4, bias, pa, pb));
            dwf_band_store(g, yc, oy0, nr, wp, &r, &c0, dwf_post16(j, a5, bias, pa, pb));
            dwf_band_store(g, yc, oy0, nr, wp, &r, &c0, dwf_post16(j, a6, bias, pa, pb));
            dwf_band_store(g, yc, oy0, nr, wp, &r, &c0, dwf_post16(j, a7, bias, pa, pb));
        }
        for (; q < nq; q += 16) {
            __m512 acc = _mm512_setzero_ps();
            for (int t = 0; t < 9; t++)
                acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_loadu_ps(buf + q + off[t]), kv[t]));
            dwf_band_store(g, yc, oy0, nr, wp, &r, &c0, dwf_post16(j, acc, bias, pa, pb));
        }
    }
}
#undef DWF_TAPS8

/* stride-2 lanes l (0..15) of output pixels x0 + l whose input column off + 2l is in [0, w) */
static inline __mmask16 range16_s2(int off, int w, int x0, int ow)
{
    int lo = off < 0 ? (-off + 1) / 2 : 0, hi = w - off > 0 ? (w - off + 1) / 2 : 0;
    hi = hi > 16 ? 16 : hi;
    hi = hi > ow - x0 ? ow - x0 : hi;
    if (hi <= lo)
        return 0;
    return (__mmask16)(((1u << hi) - 1u) & ~((1u << lo) - 1u));
}

/* dx: a strip of 16 input columns from x0: its lanes (in), and per kernel column kj the lanes
 * some output's tap kj reads (stride 2: those of one parity, whose dy are consecutive) and
 * the dy offset of the first */
typedef struct dwb_cols {
    __mmask16 in, mk[3];
    int dof[3];
} dwb_cols;

static void dwb_cols_of(const nn_conv_geom *g, int x0, dwb_cols *k)
{
    static const __mmask16 par[2] = {(__mmask16)0x5555, (__mmask16)0xAAAA};
    k->in = range16(x0, g->w);
    for (int kj = 0; kj < 3; kj++) {
        const int o0 = x0 + g->pw - kj; /* ox * s of lane 0 */
        if (g->sh == 1) {
            k->mk[kj] = range16(o0, g->ow) & k->in;
            k->dof[kj] = o0;
        } else {
            /* lanes with o0 + l even, 0 <= (o0 + l) / 2 < ow */
            k->mk[kj] = par[o0 & 1] & range16(o0, 2 * g->ow) & k->in;
            k->dof[kj] = k->mk[kj] ? (o0 + __builtin_ctz((unsigned)k->mk[kj])) / 2 : 0;
        }
    }
}

static void dwb_channel_avx512(const dwc_job *j, int c)
{
    const nn_conv_geom *g = j->g;
    const int w = g->w, ow = g->ow, s = g->sh;
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    enum { STRIPS = 64 }; /* up to 1024 columns; wider maps compute a strip's masks per row */
    const int nst = (w + 15) / 16;
    dwb_cols cols[STRIPS];
    for (int st = 0; st < nst && st < STRIPS; st++)
        dwb_cols_of(g, st * 16, &cols[st]);
    __m512 kv[9], acc[9];
    for (int t = 0; t < 9; t++) {
        kv[t] = _mm512_set1_ps(j->wt[(size_t)c * 9 + t]);
        acc[t] = _mm512_setzero_ps();
    }
    for (int n = 0; n < g->n; n++) {
        const float *xc = j->x ? j->x + ((size_t)n * g->ic + c) * g->h * g->w : NULL;
        const float *dyc = j->dy + ((size_t)n * g->oc + c) * g->oh * g->ow;
        if (j->dx) {
            float *dxc = j->dx + ((size_t)n * g->ic + c) * g->h * g->w;
            /* rows in order, each in strips of 16 input columns (as the forward); the masks
             * and dy offsets of a strip's taps depend on the strip only (each dx element still
             * adds its taps in the same order) */
            for (int iy = 0; iy < g->h; iy++)
                for (int st = 0; st < nst; st++) {
                    const int x0 = st * 16;
                    dwb_cols wide;
                    if (st >= STRIPS)
                        dwb_cols_of(g, x0, &wide);
                    const dwb_cols *k = st < STRIPS ? &cols[st] : &wide;
                    float *dr = dxc + (size_t)iy * w + x0;
                    __m512 v = j->set_dx ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(k->in, dr);
                    for (int ki = 2; ki >= 0; ki--) {
                        const int oy2 = iy + g->ph - ki; /* oy * s */
                        if (oy2 < 0 || oy2 % s || oy2 / s >= g->oh)
                            continue;
                        const float *row = dyc + (size_t)(oy2 / s) * ow;
                        for (int kj = 2; kj >= 0; kj--) {
                            const __mmask16 m = k->mk[kj];
                            __m512 d;
                            if (s == 1) {
                                d = _mm512_maskz_loadu_ps(m, row + k->dof[kj]);
                            } else {
                                if (!m)
                                    continue;
                                d = _mm512_maskz_expandloadu_ps(m, row + k->dof[kj]);
                            }
                            v = _mm512_mask_add_ps(v, m, v, _mm512_mul_ps(d, kv[ki * 3 + kj]));
                        }
                    }
                    _mm512_mask_storeu_ps(dr, k->in, v);
                }
        }
        if (j->dw)
            for (int oy = 0; oy < g->oh; oy++)
                for (int x0 = 0; x0 < ow; x0 += 16) {
                    const __mmask16 om = range16(x0, ow);
                    const __m512 d = _mm512_maskz_loadu_ps(om, dyc + (size_t)oy * ow + x0);
                    /* the taps' masks depend on the column only: once for the three rows */
                    __mmask16 mk[3], ma[3], mb[3];
                    for (int kj = 0; kj < 3; kj++) {
                        const int i0 = x0 * s - g->pw + kj;
                        mk[kj] = s == 1 ? range16(i0, w) & om : range16_s2(i0, w, x0, ow);
                        ma[kj] = range16(i0, w);
                        mb[kj] = range16(i0 + 16, w);
                    }
                    for (int ki = 0; ki < 3; ki++) {
                        const int iy = oy * s - g->ph + ki;
                        if (iy < 0 || iy >= g->h)
                            continue;
                        const float *row = xc + (size_t)iy * w;
                        for (int kj = 0; kj < 3; kj++) {
                            const int i0 = x0 * s - g->pw + kj;
                            const __mmask16 m = mk[kj];
                            __m512 xv;
                            if (s == 1) {
                                xv = _mm512_maskz_loadu_ps(m, row + i0);
                            } else {
                                const __m512 a = _mm512_maskz_loadu_ps(ma[kj], row + i0);
                                const __m512 b2 = _mm512_maskz_loadu_ps(mb[kj], row + i0 + 16);
                                xv = _mm512_permutex2var_ps(a, even, b2);
                            }
                            acc[ki * 3 + kj] = _mm512_mask_add_ps(acc[ki * 3 + kj], m, acc[ki * 3 + kj],
                                                                  _mm512_mul_ps(d, xv));
                        }
                    }
                }
    }
    if (j->dw)
        for (int t = 0; t < 9; t++) {
            float l[16];
            _mm512_storeu_ps(l, acc[t]);
            float sum = l[0];
            for (int q = 1; q < 16; q++)
                sum += l[q];
            j->dw[(size_t)c * 9 + t] += sum;
        }
}
NN_TARGET_POP()
#endif

int nn_conv_dw_use(const nn_conv_geom *g)
{
    return g->groups > 1 && g->groups == g->ic && g->groups == g->oc && g->kh == 3 &&
           g->kw == 3 && g->sh == g->sw && (g->sh == 1 || g->sh == 2) && g->ph >= 0 &&
           g->ph <= 2 && g->pw >= 0 && g->pw <= 2 && g->oh >= 1 && g->ow >= 1;
}

static void dwf_slice(void *vp, int ith, int nth)
{
    const dwc_job *j = vp;
    size_t p0, p1;
    nn_par_range((size_t)j->g->n * j->g->ic, ith, nth, 1, &p0, &p1);
    const int avx512 = NN_X86 && nn_conv_isa() == NN_ISA_AVX512;
#if NN_X86
    if (avx512 && dwf_flat_use(j->g)) {
        /* the masks of each tap of each vector of the flat plane, the same for every plane:
         * lane l is column (o + l) % w, and loads 0 where the tap falls off the plane, off the
         * row's left (kj 0 of column 0) or right (kj 2 of column w - 1) */
        __mmask16 mt[DWF_FLAT_MAX / 16][9];
        const int w = j->g->w, hw = j->g->h * j->g->w;
        for (int v = 0; v * 16 < hw; v++) {
            unsigned l = 0xFFFFu, r = 0xFFFFu;
            for (int q = 0; q < 16; q++) {
                const int col = (v * 16 + q) % w;
                if (col == 0) l &= ~(1u << q);
                if (col == w - 1) r &= ~(1u << q);
            }
            const int o = v * 16;
            for (int ki = 0; ki < 3; ki++)
                for (int kj = 0; kj < 3; kj++)
                    mt[v][ki * 3 + kj] = range16(o + (ki - 1) * w + kj - 1, hw) & range16(o, hw) &
                                         (kj == 0 ? (__mmask16)l : kj == 2 ? (__mmask16)r : (__mmask16)0xFFFF);
        }
        for (size_t p = p0; p < p1; p++)
            dwf_plane_flat_avx512(j, p, (const __mmask16(*)[9])mt);
        return;
    }
#endif
#if NN_X86
    if (avx512 && dwf_band_use(j->g) && p0 < p1) {
        _Alignas(64) float buf[DWF_BUF];
        for (size_t p = p0; p < p1; p++)
            dwf_plane_band_avx512(j, p, buf);
        return;
    }
#endif
    for (size_t p = p0; p < p1; p++) {
#if NN_X86
        if (avx512) {
            dwf_plane_avx512(j, p);
            continue;
        }
#endif
        (void)avx512;
        dwf_plane_c(j, p);
    }
}

static void dwb_slice(void *vp, int ith, int nth)
{
    const dwc_job *j = vp;
    size_t c0, c1;
    nn_par_range((size_t)j->g->ic, ith, nth, 1, &c0, &c1);
    const int avx512 = NN_X86 && nn_conv_isa() == NN_ISA_AVX512;
    for (size_t c = c0; c < c1; c++) {
#if NN_X86
        if (avx512) {
            dwb_channel_avx512(j, (int)c);
            continue;
        }
#endif
        (void)avx512;
        dwb_channel_c(j, (int)c);
    }
}

void nn_conv_dw_forward_post(const nn_conv_geom *g, const float *x, const float *wt,
                             const float *b, const float *post_a, const float *post_b, int act,
                             float *y)
{
    dwc_job j = {.g = g, .x = x, .wt = wt, .b = b, .post_a = post_a, .post_b = post_b,
                 .act = act, .y = y};
    nn_par_run(dwf_slice, &j);
}

void nn_conv_dw_backward(const nn_conv_geom *g, const float *x, const float *wt, const float *dy,
                         float *dx, int set_dx, float *dw)
{
    if (!dx && !dw)
        return;
    dwc_job j = {.g = g, .x = x, .wt = wt, .dy = dy, .dx = dx, .dw = dw, .set_dx = set_dx};
    nn_par_run(dwb_slice, &j);
}
