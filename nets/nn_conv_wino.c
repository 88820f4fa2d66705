/* nn_conv_wino.c — Winograd F(2x2, 3x3) for the 3x3 convolutions of stride 1 and padding 1
 * (the forward and the input gradient of every such conv of the CIFAR ResNets, where the
 * direct kernel already runs near the sgemm peak: the way left to go faster is fewer
 * multiplies, 16 per 2x2 outputs and input channel instead of 36).
 *
 * Per 2x2 output tile, input channel c and output channel o (Lavin & Gray 2015):
 *   V = B^T d B   (d: the tile's 4x4 padded input of channel c)
 *   U = G g G^T   (g: the 3x3 kernel of (o, c))
 *   M = sum over c of U .* V   (16 dot products over the input channels: 16 small GEMMs)
 *   y = A^T M A   (the 2x2 outputs)
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1], G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1],
 * A^T = [1 1 1 0; 0 1 -1 -1].
 *
 * Layout and blocking. The chunk's images are copied into zero-padded planes of hp = 2*th + 2
 * rows (th x tw tiles, the last row / column of an odd map computed and dropped), each row
 * split into its even and odd padded columns (wino_pad_row_*), so that the 4 columns of 16
 * tiles are 4 plain vector loads. A block is a run of consecutive tile rows of the chunk
 * (crossing images) whose V and M take about WINO_SLOT floats; its tiles are numbered flat (tile row by tile row), V and M hold them
 * [position][channel][tile], so that the GEMMs run over full vectors of tiles whatever the
 * map's width. Each block is one work item: input transform (V, in the item's own buffer),
 * the 16 GEMMs (a register tile of 8 output channels x 3 vectors of tiles, input channel by
 * input channel), the output transform and the store (bias or accumulate, eval-mode BN,
 * activation: the direct kernel's epilogue).
 *
 * Bits. Every value is one fixed sequence of float operations: V and U by the formulas above
 * in the order written, each M element one chain of fused multiply-adds over the input
 * channels in order from 0, y by the formula. No sum crosses tiles, images or items, so the
 * thread count, the blocking and the batch do not change the bits; the AVX-512 path and the
 * portable C path (fmaf) compute the same operations lane by lane. The results differ from the
 * direct kernel's (other arithmetic) by float rounding: F(2x2, 3x3)'s transforms have
 * coefficients 0, +-1 and +-1/2 only.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nets/nn_internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define WINO_X86 1
#else
#define WINO_X86 0
#endif

#define WINO_OCB 8     /* output channels of the GEMM's register tile */
#define WINO_NV 3      /* vectors of 16 tiles of the register tile */
#define WINO_SLOT 98304 /* floats of V and M a block aims at (384 KB: in L2 with the weights) */
#define WINO_SLOTS 2   /* blocks in flight the scratch is sized for (nn_conv_wino_min_scratch) */
#define WINO_TAIL 64   /* floats after the last padded plane the input transform may read */

static atomic_int g_wino = -1; /* 1: used where it applies; -1: not read from WB_NN_WINO yet */
static atomic_long g_wino_calls;

void nn_conv_set_wino(int on)
{
    atomic_store(&g_wino, on ? 1 : 0);
}

int nn_conv_wino_get(void)
{
    int v = atomic_load(&g_wino);
    if (v < 0) {
        const char *e = getenv("WB_NN_WINO");
        v = !(e && strcmp(e, "0") == 0);
        atomic_store(&g_wino, v);
    }
    return v;
}

long nn_conv_wino_calls(int reset)
{
    return reset ? atomic_exchange(&g_wino_calls, 0) : atomic_load(&g_wino_calls);
}

/* The shapes it computes: 3x3, stride 1, padding 1, groups 1 (the input gradient of such a
 * conv is again one), at least 8 input and output channels (fewer: the direct kernel's 9
 * taps per channel cost less than the transforms). */
int nn_conv_wino_shape(const nn_conv_geom *g)
{
    return g->groups == 1 && g->kh == 3 && g->kw == 3 && g->sh == 1 && g->sw == 1 &&
           g->ph == 1 && g->pw == 1 && g->oh == g->h && g->ow == g->w && g->ic >= 8 &&
           g->oc >= 8 && g->n >= 1 && g->h >= 1 && g->w >= 1;
}

/* The measured rule (bench_nets --conv, 2 threads, batch 16, WB_NN_WINO=0 against 1; see
 * docs/performance.md, "Ninth pass"): the direct kernel runs near the sgemm peak, and the
 * transforms' traffic (V and M are four times the maps) costs more than the multiplies saved
 * below 32 channels and on small maps; forward and input gradient alike. AVX-512 only: the C
 * path exists to check its bits. */
static int wino_rule(const nn_conv_geom *g)
{
    if (!nn_conv_wino_shape(g))
        return 0;
    const int c = g->ic < g->oc ? g->ic : g->oc;
    const long px = (long)g->h * g->w;
    return (c >= 64 && px >= 400) || (c >= 32 && px >= 1500);
}

int nn_conv_wino_use(const nn_conv_geom *g, int pass)
{
    (void)pass;
    return nn_conv_wino_get() && nn_conv_isa() == NN_ISA_AVX512 && wino_rule(g);
}

typedef struct wino_geom {
    int ni, no;           /* channels in (of the planes transformed) and out */
    int h, w, th, tw;     /* map (input = output) and tiles */
    size_t wph, wrow, plane; /* padded planes: rows of two column phases of wph floats */
    int rows;             /* tile rows per block */
    size_t ntv;           /* tile slots of V and M per (position, channel): rows*tw + 16, to 16 */
    size_t vps, mos;      /* V's position stride, M's channel stride: one cache line more than
                           * their contents, so that the 16 positions' stores of the input
                           * transform (and the channels' of the GEMM) do not all fall into one
                           * L1 set (strides of 8 KB did: 3x slower) */
    size_t nop;           /* no rounded up to WINO_OCB */
} wino_geom;

static void wino_geom_of(int ni, int no, int h, int w, wino_geom *G)
{
    G->ni = ni;
    G->no = no;
    G->h = h;
    G->w = w;
    G->th = (h + 1) / 2;
    G->tw = (w + 1) / 2;
    G->wph = (size_t)G->tw + 1;
    G->wrow = 2 * G->wph;
    G->plane = ((size_t)2 * G->th + 2) * G->wrow;
    /* tiles per block: V and M about WINO_SLOT floats, at least 16 */
    int tiles = (int)(WINO_SLOT / (16 * ((size_t)ni + (size_t)no)));
    tiles = tiles < 16 ? 16 : tiles;
    G->rows = (tiles + G->tw - 1) / G->tw;
    G->ntv = ((size_t)G->rows * G->tw + 16 + 15) & ~(size_t)15;
    G->vps = (size_t)ni * G->ntv + 16;
    G->mos = 16 * G->ntv + 16;
    G->nop = (size_t)(no + WINO_OCB - 1) / WINO_OCB * WINO_OCB;
}

static size_t wino_u_size(const wino_geom *G)
{
    return (16 * G->nop * (size_t)G->ni + 15) & ~(size_t)15;
}

static size_t wino_slot_size(const wino_geom *G)
{
    return 16 * G->vps + G->nop * G->mos;
}

static size_t wino_need(const wino_geom *G, size_t *fixed, size_t *per, size_t *slot)
{
    *fixed = wino_u_size(G) + WINO_TAIL;
    *per = (size_t)G->ni * G->plane;
    *slot = wino_slot_size(G);
    return *fixed + *per + WINO_SLOTS * *slot;
}

size_t nn_conv_wino_min_scratch(const nn_conv_geom *g)
{
    return wino_rule(g) ? nn_conv_wino_scratch(g) : 0;
}

size_t nn_conv_wino_scratch(const nn_conv_geom *g)
{
    if (!nn_conv_wino_shape(g))
        return 0;
    size_t f, p, s, m = 0;
    wino_geom G;
    wino_geom_of(g->ic, g->oc, g->h, g->w, &G); /* forward */
    m = wino_need(&G, &f, &p, &s);
    wino_geom_of(g->oc, g->ic, g->h, g->w, &G); /* input gradient */
    const size_t d = wino_need(&G, &f, &p, &s);
    return d > m ? d : m;
}

/* U[pos][ob][c][j] = (G g G^T)[pos] of output channel o = ob * 8 + j (0 beyond no) and input
 * channel c; g from OIHW wt[o][c] (flip = 0) or, for the input gradient, wt[c][o] turned
 * by 180 degrees (flip = 1) */
static void wino_weights(const float *wt, const wino_geom *G, int flip, float *U)
{
    const int ni = G->ni, no = G->no, nob = (int)(G->nop / WINO_OCB);
    for (int o = 0; o < (int)G->nop; o++)
        for (int c = 0; c < ni; c++) {
            float k[9], gg[4][3], u[4][4];
            for (int t = 0; t < 9; t++)
                k[t] = o >= no  ? 0.0f
                       : !flip ? wt[((size_t)o * ni + c) * 9 + t]
                               : wt[((size_t)c * no + o) * 9 + (8 - t)];
            for (int j = 0; j < 3; j++) {
                gg[0][j] = k[j];
                gg[1][j] = (k[j] + k[3 + j] + k[6 + j]) * 0.5f;
                gg[2][j] = (k[j] - k[3 + j] + k[6 + j]) * 0.5f;
                gg[3][j] = k[6 + j];
            }
            for (int i = 0; i < 4; i++) {
                u[i][0] = gg[i][0];
                u[i][1] = (gg[i][0] + gg[i][1] + gg[i][2]) * 0.5f;
                u[i][2] = (gg[i][0] - gg[i][1] + gg[i][2]) * 0.5f;
                u[i][3] = gg[i][2];
            }
            const int ob = o / WINO_OCB, j = o % WINO_OCB;
            for (int pos = 0; pos < 16; pos++)
                U[(((size_t)pos * nob + ob) * ni + c) * WINO_OCB + j] = u[pos / 4][pos % 4];
        }
}

typedef struct wino_job {
    const wino_geom *G;
    const float *xp, *U, *b, *post_a, *post_b;
    float *y, *slots;
    int act, accumulate, setz;
    int units;            /* tile rows of the chunk: images * th */
} wino_job;

/* the epilogue of one output value (the direct kernel's, in its order) */
static inline float wino_post_c(const wino_job *j, int o, float r, const float *yo)
{
    if (j->accumulate)
        r = (j->setz ? 0.0f : *yo) + r;
    else if (j->b)
        r = r + j->b[o];
    if (j->post_a) {
        r = r * j->post_a[o] + j->post_b[o];
        if (j->act)
            r = r > 0.0f ? r : 0.0f;
        if (j->act == NN_ACT_RELU6)
            r = r < 6.0f ? r : 6.0f;
    }
    return r;
}

/* ------------------------------------------------------------------ portable C */

static void wino_block_c(const wino_job *j, int u0, int u1, float *V, float *M)
{
    const wino_geom *G = j->G;
    const int ni = G->ni, tw = G->tw, nob = (int)(G->nop / WINO_OCB);
    const size_t ntv = G->ntv, vps = G->vps, mos = G->mos;
    const int nt = (u1 - u0) * tw;
    for (int c = 0; c < ni; c++)
        for (int u = u0; u < u1; u++) {
            const int n = u / G->th, ty = u % G->th;
            const float *row = j->xp + ((size_t)n * ni + c) * G->plane + (size_t)2 * ty * G->wrow;
            for (int tx = 0; tx < tw; tx++) {
                float cc[4][4];
                for (int i = 0; i < 4; i++) {
                    const float *r = row + (size_t)i * G->wrow + tx;
                    const float e = r[0], e1 = r[1], od = r[G->wph], o1 = r[G->wph + 1];
                    cc[i][0] = e - e1;
                    cc[i][1] = od + e1;
                    cc[i][2] = e1 - od;
                    cc[i][3] = od - o1;
                }
                const size_t t = (size_t)(u - u0) * tw + tx;
                for (int q = 0; q < 4; q++) {
                    V[(0 * 4 + q) * vps + (size_t)c * ntv + t] = cc[0][q] - cc[2][q];
                    V[(1 * 4 + q) * vps + (size_t)c * ntv + t] = cc[1][q] + cc[2][q];
                    V[(2 * 4 + q) * vps + (size_t)c * ntv + t] = cc[2][q] - cc[1][q];
                    V[(3 * 4 + q) * vps + (size_t)c * ntv + t] = cc[1][q] - cc[3][q];
                }
            }
        }
    for (int pos = 0; pos < 16; pos++)
        for (int o = 0; o < G->no; o++) {
            const float *w = j->U + (((size_t)pos * nob + o / WINO_OCB) * ni) * WINO_OCB + o % WINO_OCB;
            for (int t = 0; t < nt; t++) {
                float acc = 0.0f;
                for (int c = 0; c < ni; c++)
                    acc = fmaf(V[pos * vps + (size_t)c * ntv + t], w[(size_t)c * WINO_OCB], acc);
                M[o * mos + pos * ntv + t] = acc;
            }
        }
    for (int o = 0; o < G->no; o++)
        for (int u = u0; u < u1; u++) {
            const int n = u / G->th, ty = u % G->th;
            float *yo = j->y + ((size_t)n * G->no + o) * G->h * G->w;
            for (int tx = 0; tx < tw; tx++) {
                const size_t t = (size_t)(u - u0) * tw + tx;
                float m[4][4], s[2][4];
                for (int pos = 0; pos < 16; pos++)
                    m[pos / 4][pos % 4] = M[o * mos + pos * ntv + t];
                for (int q = 0; q < 4; q++) {
                    s[0][q] = m[0][q] + m[1][q] + m[2][q];
                    s[1][q] = m[1][q] - m[2][q] - m[3][q];
                }
                for (int a = 0; a < 2; a++) {
                    const int oy = 2 * ty + a;
                    if (oy >= G->h)
                        break;
                    const float v[2] = {s[a][0] + s[a][1] + s[a][2], s[a][1] - s[a][2] - s[a][3]};
                    for (int bb = 0; bb < 2; bb++) {
                        const int ox = 2 * tx + bb;
                        if (ox >= G->w)
                            break;
                        float *yp = yo + (size_t)oy * G->w + ox;
                        *yp = wino_post_c(j, o, v[bb], yp);
                    }
                }
            }
        }
}

/* ------------------------------------------------------------------ padding */

/* Padded plane of x (h x w): rows r = 0 .. 2*th+1 (input row r - 1, zeros outside), each as
 * two phases of wph floats: the even padded columns 0, 2, .., 2*tw (0, x[1], x[3], ..) and
 * the odd ones 1, 3, .., 2*tw+1 (x[0], x[2], ..), zeros past the map: a tile's four columns
 * are then two plain loads of each phase, the columns tx and tx + 1. */
static void wino_pad_row_c(const float *xr, int w, size_t wph, float *orow)
{
    float *ev = orow, *od = orow + wph;
    ev[0] = 0.0f;
    for (size_t t = 1; t < wph; t++)
        ev[t] = 2 * t - 1 < (size_t)w ? xr[2 * t - 1] : 0.0f;
    for (size_t t = 0; t < wph; t++)
        od[t] = 2 * t < (size_t)w ? xr[2 * t] : 0.0f;
}

/* ------------------------------------------------------------------ AVX-512 */

#if WINO_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,fma")
#endif

static inline __mmask16 wmask(int n)
{
    n = n < 0 ? 0 : n > 16 ? 16 : n;
    return (__mmask16)((1u << n) - 1u);
}

/* the register tile: M[o][pos][t0 ..] for OCB channels from ob * 8, NV vectors of tiles */
static inline __attribute__((always_inline)) void wino_gemm_tile(const float *Vp, const float *Up,
                                                                 float *Mo, size_t ntv, size_t mos, int ni,
                                                                 size_t t0, const int OCB, const int NV)
{
    __m512 acc[WINO_OCB][WINO_NV];
    _Pragma("GCC unroll 8") for (int o = 0; o < OCB; o++)
        _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) acc[o][v] = _mm512_setzero_ps();
    const float *vp = Vp + t0;
    for (int c = 0; c < ni; c++) {
        __m512 x[WINO_NV];
        _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++) x[v] = _mm512_loadu_ps(vp + 16 * v);
        _Pragma("GCC unroll 8") for (int o = 0; o < OCB; o++)
        {
            const __m512 w = _mm512_set1_ps(Up[o]);
            _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++)
                acc[o][v] = _mm512_fmadd_ps(x[v], w, acc[o][v]);
        }
        vp += ntv;
        Up += WINO_OCB;
    }
    _Pragma("GCC unroll 8") for (int o = 0; o < OCB; o++)
        _Pragma("GCC unroll 3") for (int v = 0; v < NV; v++)
            _mm512_storeu_ps(Mo + (size_t)o * mos + t0 + 16 * v, acc[o][v]);
}

static void wino_block_avx512(const wino_job *j, int u0, int u1, float *V, float *M)
{
    const wino_geom *G = j->G;
    const int ni = G->ni, tw = G->tw, nob = (int)(G->nop / WINO_OCB);
    const size_t ntv = G->ntv, vps = G->vps, mos = G->mos, wrow = G->wrow, wph = G->wph;
    const int nt = (u1 - u0) * tw;
    /* input transform: 16 tiles of a tile row per vector; lanes past the row's tw tiles hold
     * values of the next row's columns (finite: the planes and the tail are zero-padded), and
     * the next tile row (or nothing, the last) overwrites them */
    for (int c = 0; c < ni; c++)
        for (int u = u0; u < u1; u++) {
            const int n = u / G->th, ty = u % G->th;
            const float *row = j->xp + ((size_t)n * ni + c) * G->plane + (size_t)2 * ty * wrow;
            float *vt = V + (size_t)c * ntv + (size_t)(u - u0) * tw;
            for (int tx = 0; tx < tw; tx += 16) {
                __m512 cc[4][4];
                _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++)
                {
                    const float *r = row + (size_t)i * wrow + tx;
                    const __m512 e = _mm512_loadu_ps(r), e1 = _mm512_loadu_ps(r + 1);
                    const __m512 o = _mm512_loadu_ps(r + wph), o1 = _mm512_loadu_ps(r + wph + 1);
                    cc[i][0] = _mm512_sub_ps(e, e1);
                    cc[i][1] = _mm512_add_ps(o, e1);
                    cc[i][2] = _mm512_sub_ps(e1, o);
                    cc[i][3] = _mm512_sub_ps(o, o1);
                }
                const size_t ps = vps; /* one position */
                _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++)
                {
                    _mm512_storeu_ps(vt + (0 * 4 + q) * ps + tx, _mm512_sub_ps(cc[0][q], cc[2][q]));
                    _mm512_storeu_ps(vt + (1 * 4 + q) * ps + tx, _mm512_add_ps(cc[1][q], cc[2][q]));
                    _mm512_storeu_ps(vt + (2 * 4 + q) * ps + tx, _mm512_sub_ps(cc[2][q], cc[1][q]));
                    _mm512_storeu_ps(vt + (3 * 4 + q) * ps + tx, _mm512_sub_ps(cc[1][q], cc[3][q]));
                }
            }
        }
    /* the 16 GEMMs: M[o][pos][t] = sum over c of U[pos][o][c] * V[pos][c][t] */
    const int nvt = (nt + 15) / 16;
    for (int pos = 0; pos < 16; pos++) {
        const float *Vp = V + (size_t)pos * vps;
        for (int ob = 0; ob < nob; ob++) {
            const float *Up = j->U + ((size_t)pos * nob + ob) * ni * WINO_OCB;
            float *Mo = M + (size_t)ob * WINO_OCB * mos + (size_t)pos * ntv;
            /* all 8 channels of the last block too: U and M are padded to them */
            int v = 0;
            for (; v + 3 <= nvt; v += 3)
                wino_gemm_tile(Vp, Up, Mo, ntv, mos, ni, (size_t)v * 16, 8, 3);
            if (nvt - v == 2)
                wino_gemm_tile(Vp, Up, Mo, ntv, mos, ni, (size_t)v * 16, 8, 2);
            else if (nvt - v == 1)
                wino_gemm_tile(Vp, Up, Mo, ntv, mos, ni, (size_t)v * 16, 8, 1);
        }
    }
    /* output transform and store: the tiles of one tile row per vector, the two output
     * columns of each tile interleaved */
    const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    for (int o = 0; o < G->no; o++) {
        const float *Mo = M + (size_t)o * mos;
        const __m512 vb = _mm512_set1_ps(j->b ? j->b[o] : 0.0f);
        const __m512 pa = _mm512_set1_ps(j->post_a ? j->post_a[o] : 0.0f);
        const __m512 pb = _mm512_set1_ps(j->post_a ? j->post_b[o] : 0.0f);
        for (int u = u0; u < u1; u++) {
            const int n = u / G->th, ty = u % G->th;
            float *yo = j->y + ((size_t)n * G->no + o) * G->h * G->w;
            for (int tx = 0; tx < tw; tx += 16) {
                const size_t t = (size_t)(u - u0) * tw + tx;
                __m512 m[16], s[2][4];
                _Pragma("GCC unroll 16") for (int pos = 0; pos < 16; pos++)
                    m[pos] = _mm512_loadu_ps(Mo + (size_t)pos * ntv + t);
                _Pragma("GCC unroll 4") for (int q = 0; q < 4; q++)
                {
                    s[0][q] = _mm512_add_ps(_mm512_add_ps(m[q], m[4 + q]), m[8 + q]);
                    s[1][q] = _mm512_sub_ps(_mm512_sub_ps(m[4 + q], m[8 + q]), m[12 + q]);
                }
                const int ncol = G->w - 2 * tx;
                for (int a = 0; a < 2; a++) {
                    const int oy = 2 * ty + a;
                    if (oy >= G->h)
                        break;
                    const __m512 v0 = _mm512_add_ps(_mm512_add_ps(s[a][0], s[a][1]), s[a][2]);
                    const __m512 v1 = _mm512_sub_ps(_mm512_sub_ps(s[a][1], s[a][2]), s[a][3]);
                    __m512 r[2] = {_mm512_permutex2var_ps(v0, lo, v1),
                                   _mm512_permutex2var_ps(v0, hi, v1)};
                    float *yr = yo + (size_t)oy * G->w + 2 * tx;
                    _Pragma("GCC unroll 2") for (int h = 0; h < 2; h++)
                    {
                        const int cnt = ncol - 16 * h;
                        if (cnt <= 0)
                            break;
                        const __mmask16 mk = wmask(cnt);
                        __m512 x = r[h];
                        if (j->accumulate)
                            x = _mm512_add_ps(j->setz ? _mm512_setzero_ps()
                                                      : _mm512_maskz_loadu_ps(mk, yr + 16 * h),
                                              x);
                        else if (j->b)
                            x = _mm512_add_ps(x, vb);
                        if (j->post_a) {
                            x = _mm512_add_ps(_mm512_mul_ps(x, pa), pb);
                            if (j->act)
                                x = _mm512_max_ps(x, _mm512_setzero_ps());
                            if (j->act == NN_ACT_RELU6)
                                x = _mm512_min_ps(x, _mm512_set1_ps(6.0f));
                        }
                        _mm512_mask_storeu_ps(yr + 16 * h, mk, x);
                    }
                }
            }
        }
    }
}

/* the same row: 32 columns per step, split into their even and odd ones */
static void wino_pad_row_avx512(const float *xr, int w, size_t wph, float *orow)
{
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    float *e = orow, *o = orow + wph;
    e[0] = 0.0f;
    for (size_t t = 0; t < wph; t += 16) { /* x[2t ..]: its even columns to o[t], odd to e[1 + t] */
        const int k = 2 * (int)t, n = w - k;
        const __m512 a = _mm512_maskz_loadu_ps(wmask(n), xr + (n > 0 ? k : 0));
        const __m512 b = _mm512_maskz_loadu_ps(wmask(n - 16), xr + (n > 16 ? k + 16 : 0));
        const int left = (int)(wph - t);
        _mm512_mask_storeu_ps(o + t, wmask(left), _mm512_permutex2var_ps(a, ev, b));
        _mm512_mask_storeu_ps(e + 1 + t, wmask(left - 1), _mm512_permutex2var_ps(a, od, b));
    }
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

/* ------------------------------------------------------------------ driver */

typedef struct wino_pad {
    const wino_geom *G;
    const float *x;
    float *xp;
    int avx512;
} wino_pad;

static void wino_pad_piece(void *ctx, int ith, size_t lo, size_t hi)
{
    (void)ith;
    const wino_pad *p = ctx;
    const wino_geom *G = p->G;
    for (size_t pl = lo; pl < hi; pl++) {
        const float *xc = p->x + pl * G->h * G->w;
        float *o = p->xp + pl * G->plane;
        for (int r = 0; r < 2 * G->th + 2; r++) {
            float *orow = o + (size_t)r * G->wrow;
            if (r < 1 || r > G->h) {
                memset(orow, 0, sizeof(float) * G->wrow);
                continue;
            }
#if WINO_X86
            if (p->avx512) {
                wino_pad_row_avx512(xc + (size_t)(r - 1) * G->w, G->w, G->wph, orow);
                continue;
            }
#endif
            wino_pad_row_c(xc + (size_t)(r - 1) * G->w, G->w, G->wph, orow);
        }
    }
}

typedef void (*wino_block_fn)(const wino_job *j, int u0, int u1, float *V, float *M);

typedef struct wino_par {
    const wino_job *j;
    wino_block_fn fn;
} wino_par;

/* piece ith: its run of blocks, in its own V and M */
static void wino_piece(void *ctx, int ith, size_t lo, size_t hi)
{
    const wino_par *w = ctx;
    const wino_job *j = w->j;
    const wino_geom *G = j->G;
    float *V = j->slots + (size_t)ith * wino_slot_size(G);
    float *M = V + 16 * G->vps;
    /* V's lanes past a block's tiles are read by the GEMM (and dropped): finite values, not
     * whatever the arena held */
    memset(V, 0, sizeof(float) * 16 * G->vps);
    for (size_t b = lo; b < hi; b++) {
        const int u0 = (int)b * G->rows;
        const int u1 = u0 + G->rows < j->units ? u0 + G->rows : j->units;
        w->fn(j, u0, u1, V, M);
    }
}

/* y (= or +=) the conv of x (n images of ni planes h x w) with U (wino_weights) */
static void wino_run(const wino_geom *G, int n, const float *x, const float *U, const float *b,
                     const float *post_a, const float *post_b, int act, int accumulate,
                     int setz, float *y, float *scratch, size_t avail)
{
    atomic_fetch_add(&g_wino_calls, 1);
    size_t fixed, per, slot;
    wino_need(G, &fixed, &per, &slot);
    /* buffers for up to nn_get_threads() pieces, the rest for the padded images (at least
     * one image and WINO_SLOTS buffers fit: nn_conv_wino_min_scratch; fewer buffers than
     * threads leave threads idle, never change the bits) */
    size_t slots = (size_t)nn_get_threads();
    while (slots > 1 && fixed + per + slots * slot > avail)
        slots--;
    const size_t room = (avail - fixed - slots * slot) / per;
    const int chunk = room > (size_t)n ? n : (int)room;
    float *slotbuf = scratch + wino_u_size(G); /* U is at scratch */
    float *xp = slotbuf + slots * slot;
    wino_block_fn fn = wino_block_c;
#if WINO_X86
    if (nn_conv_isa() == NN_ISA_AVX512)
        fn = wino_block_avx512;
#endif
    for (int n0 = 0; n0 < n; n0 += chunk) {
        const int nb = n - n0 < chunk ? n - n0 : chunk;
        wino_pad pj = {G, x + (size_t)n0 * G->ni * G->h * G->w, xp,
                       nn_conv_isa() == NN_ISA_AVX512};
        nn_par_for((size_t)nb * G->ni, 0, wino_pad_piece, &pj);
        memset(xp + (size_t)nb * per, 0, sizeof(float) * WINO_TAIL);
        wino_job j = {.G = G, .xp = xp, .U = U, .b = b, .post_a = post_a, .post_b = post_b,
                      .y = y + (size_t)n0 * G->no * G->h * G->w, .slots = slotbuf, .act = act,
                      .accumulate = accumulate, .setz = setz, .units = nb * G->th};
        wino_par w = {&j, fn};
        const size_t blocks = (size_t)(j.units + G->rows - 1) / G->rows;
        nn_par_for(blocks, (int)slots, wino_piece, &w);
    }
}

void nn_conv_wino_forward_post(const nn_conv_geom *g, const float *x, const float *wt,
                               const float *b, const float *post_a, const float *post_b,
                               int act, float *y, float *scratch, size_t avail)
{
    wino_geom G;
    wino_geom_of(g->ic, g->oc, g->h, g->w, &G);
    wino_weights(wt, &G, 0, scratch);
    wino_run(&G, g->n, x, scratch, b, post_a, post_b, act, 0, 0, y, scratch, avail);
}

void nn_conv_wino_dx_set(const nn_conv_geom *g, const float *wt, const float *dy, float *dx,
                         int set, float *scratch, size_t avail)
{
    wino_geom G;
    wino_geom_of(g->oc, g->ic, g->h, g->w, &G);
    wino_weights(wt, &G, 1, scratch);
    wino_run(&G, g->n, dy, scratch, NULL, NULL, NULL, NN_ACT_NONE, 1, set, dx, scratch, avail);
}
