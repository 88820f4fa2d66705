/* nn_conv_wino.c — Winograd F(2x2, 3x3) for the 3x3 convolutions of stride 1 and padding 1
 * with 32-128 channels (the CIFAR ResNets' layer2 / layer3, ResNet-18's layer1), where the
 * direct kernel already runs the forward and input gradient near the sgemm peak: the way left
 * to go faster is fewer multiplies, 16 per 2x2 outputs and input channel instead of 36. The
 * forward and the input gradient (below), and the weight gradient through the same tiles
 * (its section further down). The rule (nn_conv_wino_use) is measured; the scratch is the
 * conv's.
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
 * (crossing images) whose V and M take about WINO_SLOT floats; its tiles are numbered flat
 * (tile row by tile row), V and M hold them [position][channel][tile], so that the GEMMs run
 * over full vectors of tiles whatever the map's width. Each block is one work item: input transform (V, in the item's own buffer),
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

/* The weight gradient's rule: its GEMM phase reads V and D from L2 (each loaded vector feeds
 * 4 or 6 FMAs) and runs at about half the peak, so it only beats what it replaces where that
 * is slower still: the im2col + GEMM dW up to 64 channels (32 -> 32 at 48x36: 3.3 against
 * 4.1 ms; 64 -> 64 at 24x18: 2.7 against 3.1; 128 -> 128 at 24x18: 9.9 against 8.8), not the
 * direct dW where it runs (32 -> 32 at 64x64: 8.7 against 8.4). */
static int wino_dw_rule(const nn_conv_geom *g)
{
    return wino_rule(g) && g->ic <= 64 && g->oc <= 64;
}

int nn_conv_wino_use(const nn_conv_geom *g, int pass)
{
    if (!nn_conv_wino_get() || nn_conv_algo_get() == NN_CONV_GEMM ||
        nn_conv_isa() != NN_ISA_AVX512 || !wino_rule(g))
        return 0;
    return pass != NN_PASS_DW || (wino_dw_rule(g) && !nn_conv_direct_use(g, NN_PASS_DW));
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

static size_t wino_scratch_of(const nn_conv_geom *g, int with_dw);

size_t nn_conv_wino_min_scratch(const nn_conv_geom *g)
{
    return wino_rule(g) ? wino_scratch_of(g, wino_dw_rule(g)) : 0;
}

size_t nn_conv_wino_scratch(const nn_conv_geom *g)
{
    return wino_scratch_of(g, 1);
}

static size_t wino_dw_need(const wino_geom *G, int nb);

/* Images a weight gradient's chunk should hold: a work item sums its tiles in registers, then
 * adds its 24 lane sums to M once per chunk; below ~500 tiles a chunk those sums cost as much
 * as the multiplies. At most 4 images, and V and D within about 4 MB. */
static int wino_dw_images(const wino_geom *G, int n)
{
    /* V and D per image: 16 positions x channels (+ 10: at most 5 + 3 more, rounded up to the
     * register tile, and slack) x tiles */
    const size_t tiles = (size_t)G->th * G->tw, per = 16 * ((size_t)G->ni + G->no + 10) * tiles;
    int k = (int)((512 + tiles - 1) / tiles);
    k = k > 4 ? 4 : k;
    while (k > 1 && (size_t)k * per > (1u << 20))
        k--;
    return k > n ? n : k;
}

/* forward, input gradient and (with_dw) weight gradient: the most any of them needs */
static size_t wino_scratch_of(const nn_conv_geom *g, int with_dw)
{
    if (!nn_conv_wino_shape(g))
        return 0;
    size_t f, p, s, m = 0;
    wino_geom G;
    wino_geom_of(g->ic, g->oc, g->h, g->w, &G); /* forward */
    m = wino_need(&G, &f, &p, &s);
    wino_geom_of(g->oc, g->ic, g->h, g->w, &G); /* input gradient */
    const size_t d = wino_need(&G, &f, &p, &s);
    m = d > m ? d : m;
    if (!with_dw)
        return m;
    wino_geom_of(g->ic, g->oc, g->h, g->w, &G); /* weight gradient */
    const size_t w = wino_dw_need(&G, wino_dw_images(&G, g->n));
    return w > m ? w : m;
}

typedef struct wino_w_job {
    const float *wt;
    const wino_geom *G;
    int flip;
    float *U;
} wino_w_job;

/* U of output channel blocks [lo, hi): each (block, input channel) writes WINO_OCB
 * consecutive floats per position. Every value is computed alone: any split, the same bits. */
static void wino_weights_piece(void *vp, int ith, size_t lo, size_t hi)
{
    (void)ith;
    const wino_w_job *J = vp;
    const wino_geom *G = J->G;
    const int ni = G->ni, no = G->no, nob = (int)(G->nop / WINO_OCB), flip = J->flip;
    const float *wt = J->wt;
    for (int ob = (int)lo; ob < (int)hi; ob++)
        for (int c = 0; c < ni; c++)
            for (int j = 0; j < WINO_OCB; j++) {
                const int o = ob * WINO_OCB + j;
                float k[9], gg[4][3], u[4][4];
                for (int t = 0; t < 9; t++)
                    k[t] = o >= no  ? 0.0f
                           : !flip ? wt[((size_t)o * ni + c) * 9 + t]
                                   : wt[((size_t)c * no + o) * 9 + (8 - t)];
                for (int q = 0; q < 3; q++) {
                    gg[0][q] = k[q];
                    gg[1][q] = (k[q] + k[3 + q] + k[6 + q]) * 0.5f;
                    gg[2][q] = (k[q] - k[3 + q] + k[6 + q]) * 0.5f;
                    gg[3][q] = k[6 + q];
                }
                for (int i = 0; i < 4; i++) {
                    u[i][0] = gg[i][0];
                    u[i][1] = (gg[i][0] + gg[i][1] + gg[i][2]) * 0.5f;
                    u[i][2] = (gg[i][0] - gg[i][1] + gg[i][2]) * 0.5f;
                    u[i][3] = gg[i][2];
                }
                for (int pos = 0; pos < 16; pos++)
                    J->U[(((size_t)pos * nob + ob) * ni + c) * WINO_OCB + j] = u[pos / 4][pos % 4];
            }
}

/* U[pos][ob][c][j] = (G g G^T)[pos] of output channel o = ob * 8 + j (0 beyond no) and input
 * channel c; g from OIHW wt[o][c] (flip = 0) or, for the input gradient, wt[c][o] turned
 * by 180 degrees (flip = 1). On the engine's threads: at batch 1 it cost as much as the conv
 * itself when it ran on one (ResNet-56 at 96x72, forward b1: 19% of the samples). */
static void wino_weights(const float *wt, const wino_geom *G, int flip, float *U)
{
    wino_w_job J = {wt, G, flip, U};
    nn_par_for(G->nop / WINO_OCB, 0, wino_weights_piece, &J);
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

/* V[pos][c][t] (position stride G->vps, channel stride G->ntv) of tile rows u0 .. u1-1 of
 * the padded planes xp, t = (u - u0) * tw + tx: the input transform, lanes of the tiles only */
static void wino_in_c(const wino_geom *G, const float *xp, int u0, int u1, float *V)
{
    const int ni = G->ni, tw = G->tw;
    const size_t ntv = G->ntv, vps = G->vps;
    for (int c = 0; c < ni; c++)
        for (int u = u0; u < u1; u++) {
            const int n = u / G->th, ty = u % G->th;
            const float *row = xp + ((size_t)n * ni + c) * G->plane + (size_t)2 * ty * G->wrow;
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
}

static void wino_block_c(const wino_job *j, int u0, int u1, float *V, float *M)
{
    const wino_geom *G = j->G;
    const int ni = G->ni, tw = G->tw, nob = (int)(G->nop / WINO_OCB);
    const size_t ntv = G->ntv, vps = G->vps, mos = G->mos;
    const int nt = (u1 - u0) * tw;
    wino_in_c(G, j->xp, u0, u1, V);
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

/* ------------------------------------------------------------------ weight gradient */

/* dW of a conv through the same tiles (the transpose of the forward's computation):
 *   D = A dy A^T (the tile's 2x2 of dy; A = [1 0; 1 1; 1 -1; 0 -1]),  V = B^T d B as above,
 *   M[pos][o][c] = sum over the tiles of every image of D[pos][o] * V[pos][c],
 *   dW[o][c] += G^T M G.
 * The sums over tiles run in 16 lanes (tile t in lane t mod 16, in order), the lanes added
 * as a fixed tree per chunk of images (wino_lanes_sum), the chunks' sums added to M in order:
 * the same bits for any thread count (a work item is one (position, 4 output, 6 input
 * channels) over a chunk's tiles) and instruction set; the chunk (images whose V and D fit the
 * scratch) depends on the shape, the batch and the scratch only. */
#define WINO_DOB 4 /* output channels of the weight gradient's register tile */
#define WINO_DCB 6 /* input channels */

typedef struct wino_dwj {
    wino_geom G;          /* ntv, vps: of this chunk's V */
    const float *xp, *dy; /* padded input, dy of the chunk's first image */
    float *V, *D, *M;
    size_t dps;           /* D's position stride */
    int icp, ocp;         /* channels rounded up to the tile (rows past ic / oc are zero) */
    int units, nvt;       /* tile rows of the chunk; vectors of 16 tiles */
} wino_dwj;

/* the 16 lanes' sum, as a tree: l + (l + 8), then + 4, + 2, + 1 (the AVX-512 path's shuffles) */
static float wino_lanes_sum(const float t[16])
{
    float a[8], b[4], c[2];
    for (int l = 0; l < 8; l++)
        a[l] = t[l] + t[l + 8];
    for (int l = 0; l < 4; l++)
        b[l] = a[l] + a[l + 4];
    for (int l = 0; l < 2; l++)
        c[l] = b[l] + b[l + 2];
    return c[0] + c[1];
}

static void wino_dy_c(const wino_dwj *j, int u0, int u1)
{
    const wino_geom *G = &j->G;
    for (int o = 0; o < G->no; o++)
        for (int u = u0; u < u1; u++) {
            const int n = u / G->th, ty = u % G->th, has1 = 2 * ty + 1 < G->h;
            const float *r0 = j->dy + (((size_t)n * G->no + o) * G->h + 2 * ty) * G->w;
            for (int tx = 0; tx < G->tw; tx++) {
                const int x0 = 2 * tx, hasb = x0 + 1 < G->w;
                const float a = r0[x0], b = hasb ? r0[x0 + 1] : 0.0f;
                const float c = has1 ? r0[G->w + x0] : 0.0f;
                const float d = has1 && hasb ? r0[G->w + x0 + 1] : 0.0f;
                const float rows[4][2] = {{a, b}, {a + c, b + d}, {a - c, b - d}, {0.0f - c, 0.0f - d}};
                float *dp = j->D + (size_t)o * G->ntv + (size_t)u * G->tw + tx;
                for (int i = 0; i < 4; i++) {
                    const float p = rows[i][0], q = rows[i][1];
                    dp[(size_t)(4 * i + 0) * j->dps] = p;
                    dp[(size_t)(4 * i + 1) * j->dps] = p + q;
                    dp[(size_t)(4 * i + 2) * j->dps] = p - q;
                    dp[(size_t)(4 * i + 3) * j->dps] = 0.0f - q;
                }
            }
        }
}

/* M[pos][o0 ..][c0 ..] += the chunk's sums, lane by lane as the AVX-512 path */
static void wino_dwg_c(const wino_dwj *j, int pos, int o0, int c0)
{
    const size_t ntv = j->G.ntv;
    for (int i = 0; i < WINO_DOB; i++)
        for (int k = 0; k < WINO_DCB; k++) {
            const float *dp = j->D + (size_t)pos * j->dps + (size_t)(o0 + i) * ntv;
            const float *vp = j->V + (size_t)pos * j->G.vps + (size_t)(c0 + k) * ntv;
            float lane[16] = {0};
            for (int v = 0; v < j->nvt; v++)
                for (int l = 0; l < 16; l++)
                    lane[l] = fmaf(dp[16 * v + l], vp[16 * v + l], lane[l]);
            float *m = j->M + ((size_t)pos * j->ocp + o0 + i) * j->icp + c0 + k;
            *m = *m + wino_lanes_sum(lane);
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
NN_TARGET_PUSH("avx512f,fma")

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

/* wino_in_c's V: 16 tiles of a tile row per vector, stored masked to the row's tiles (a
 * load past them reads the next row's or the tail's zeros: finite, dropped) */
static void wino_in_avx512(const wino_geom *G, const float *xp, int u0, int u1, float *V)
{
    const int ni = G->ni, tw = G->tw;
    const size_t ntv = G->ntv, vps = G->vps, wrow = G->wrow, wph = G->wph;
    for (int c = 0; c < ni; c++)
        for (int u = u0; u < u1; u++) {
            const int n = u / G->th, ty = u % G->th;
            const float *row = xp + ((size_t)n * ni + c) * G->plane + (size_t)2 * ty * wrow;
            float *vt = V + (size_t)c * ntv + (size_t)(u - u0) * tw;
            for (int tx = 0; tx < tw; tx += 16) {
                const __mmask16 mk = wmask(tw - tx);
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
                    _mm512_mask_storeu_ps(vt + (0 * 4 + q) * ps + tx, mk, _mm512_sub_ps(cc[0][q], cc[2][q]));
                    _mm512_mask_storeu_ps(vt + (1 * 4 + q) * ps + tx, mk, _mm512_add_ps(cc[1][q], cc[2][q]));
                    _mm512_mask_storeu_ps(vt + (2 * 4 + q) * ps + tx, mk, _mm512_sub_ps(cc[2][q], cc[1][q]));
                    _mm512_mask_storeu_ps(vt + (3 * 4 + q) * ps + tx, mk, _mm512_sub_ps(cc[1][q], cc[3][q]));
                }
            }
        }
}

static void wino_block_avx512(const wino_job *j, int u0, int u1, float *V, float *M)
{
    const wino_geom *G = j->G;
    const int ni = G->ni, tw = G->tw, nob = (int)(G->nop / WINO_OCB);
    const size_t ntv = G->ntv, vps = G->vps, mos = G->mos;
    const int nt = (u1 - u0) * tw;
    wino_in_avx512(G, j->xp, u0, u1, V);
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

/* floats r[k .. k+31] of a row of w floats (zeros past w), split: even[i] = r[k + 2i],
 * odd[i] = r[k + 2i + 1] */
static inline void wino_split_avx512(const float *r, int w, int k, __m512 *even, __m512 *odd)
{
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    const int n = w - k;
    const __m512 a = _mm512_maskz_loadu_ps(wmask(n), r + (n > 0 ? k : 0));
    const __m512 b = _mm512_maskz_loadu_ps(wmask(n - 16), r + (n > 16 ? k + 16 : 0));
    *even = _mm512_permutex2var_ps(a, ev, b);
    *odd = _mm512_permutex2var_ps(a, od, b);
}

/* the same row: 32 columns per step, split into their even and odd ones */
static void wino_pad_row_avx512(const float *xr, int w, size_t wph, float *orow)
{
    float *e = orow, *o = orow + wph;
    e[0] = 0.0f;
    for (size_t t = 0; t < wph; t += 16) { /* x[2t ..]: its even columns to o[t], odd to e[1 + t] */
        __m512 xe, xo;
        wino_split_avx512(xr, w, 2 * (int)t, &xe, &xo);
        const int left = (int)(wph - t);
        _mm512_mask_storeu_ps(o + t, wmask(left), xe);
        _mm512_mask_storeu_ps(e + 1 + t, wmask(left - 1), xo);
    }
}

/* wino_dy_c's D: 16 tiles of a tile row per vector (their even and odd columns split from
 * two masked loads), stored masked to the row's tiles */
static void wino_dy_avx512(const wino_dwj *j, int u0, int u1)
{
    const wino_geom *G = &j->G;
    const __m512 z = _mm512_setzero_ps();
    for (int o = 0; o < G->no; o++)
        for (int u = u0; u < u1; u++) {
            const int n = u / G->th, ty = u % G->th, has1 = 2 * ty + 1 < G->h;
            const float *r0 = j->dy + (((size_t)n * G->no + o) * G->h + 2 * ty) * G->w;
            float *dp = j->D + (size_t)o * G->ntv + (size_t)u * G->tw;
            for (int tx = 0; tx < G->tw; tx += 16) {
                __m512 a, b, c = z, d = z;
                wino_split_avx512(r0, G->w, 2 * tx, &a, &b);
                if (has1)
                    wino_split_avx512(r0 + G->w, G->w, 2 * tx, &c, &d);
                const __m512 p[4] = {a, _mm512_add_ps(a, c), _mm512_sub_ps(a, c), _mm512_sub_ps(z, c)};
                const __m512 q[4] = {b, _mm512_add_ps(b, d), _mm512_sub_ps(b, d), _mm512_sub_ps(z, d)};
                const __mmask16 mk = wmask(G->tw - tx);
                _Pragma("GCC unroll 4") for (int i = 0; i < 4; i++)
                {
                    float *di = dp + (size_t)(4 * i) * j->dps + tx;
                    _mm512_mask_storeu_ps(di, mk, p[i]);
                    _mm512_mask_storeu_ps(di + j->dps, mk, _mm512_add_ps(p[i], q[i]));
                    _mm512_mask_storeu_ps(di + 2 * j->dps, mk, _mm512_sub_ps(p[i], q[i]));
                    _mm512_mask_storeu_ps(di + 3 * j->dps, mk, _mm512_sub_ps(z, q[i]));
                }
            }
        }
}

/* wino_dwg_c with the 24 lane sums in registers */
static void wino_dwg_avx512(const wino_dwj *j, int pos, int o0, int c0)
{
    const size_t ntv = j->G.ntv;
    const float *dp = j->D + (size_t)pos * j->dps + (size_t)o0 * ntv;
    const float *vp = j->V + (size_t)pos * j->G.vps + (size_t)c0 * ntv;
    __m512 acc[WINO_DOB][WINO_DCB];
    _Pragma("GCC unroll 4") for (int i = 0; i < WINO_DOB; i++)
        _Pragma("GCC unroll 6") for (int k = 0; k < WINO_DCB; k++) acc[i][k] = _mm512_setzero_ps();
    for (int v = 0; v < j->nvt; v++) {
        __m512 d[WINO_DOB];
        _Pragma("GCC unroll 4") for (int i = 0; i < WINO_DOB; i++)
            d[i] = _mm512_loadu_ps(dp + (size_t)i * ntv + 16 * v);
        _Pragma("GCC unroll 6") for (int k = 0; k < WINO_DCB; k++)
        {
            const __m512 x = _mm512_loadu_ps(vp + (size_t)k * ntv + 16 * v);
            _Pragma("GCC unroll 4") for (int i = 0; i < WINO_DOB; i++)
                acc[i][k] = _mm512_fmadd_ps(d[i], x, acc[i][k]);
        }
    }
    _Pragma("GCC unroll 4") for (int i = 0; i < WINO_DOB; i++)
        _Pragma("GCC unroll 6") for (int k = 0; k < WINO_DCB; k++)
    {
        /* wino_lanes_sum's tree: lanes l and l + 8 (256-bit halves swapped), l + 4 (128-bit
         * blocks), l + 2 (64-bit pairs), l + 1 */
        __m512 a = acc[i][k];
        a = _mm512_add_ps(a, _mm512_shuffle_f32x4(a, a, 0x4E));
        a = _mm512_add_ps(a, _mm512_shuffle_f32x4(a, a, 0xB1));
        a = _mm512_add_ps(a, _mm512_permute_ps(a, 0x4E));
        a = _mm512_add_ps(a, _mm512_permute_ps(a, 0xB1));
        float *m = j->M + ((size_t)pos * j->ocp + o0 + i) * j->icp + c0 + k;
        *m = *m + _mm512_cvtss_f32(a);
    }
}

NN_TARGET_POP()
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

/* The nb images from x into the padded planes at xp, and WINO_TAIL zeros after them. */
static void wino_pad_chunk(const wino_geom *G, const float *x, int nb, float *xp, int avx512)
{
    wino_pad pj = {G, x, xp, avx512};
    nn_par_for((size_t)nb * G->ni, 0, wino_pad_piece, &pj);
    memset(xp + (size_t)nb * G->ni * G->plane, 0, sizeof(float) * WINO_TAIL);
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
    /* V's lanes past a block's tiles (never stored) are read by the GEMM and dropped: finite
     * values (this zero, or an earlier block's), not whatever the arena held */
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
    const int avx512 = WINO_X86 && nn_conv_isa() == NN_ISA_AVX512;
    wino_block_fn fn = wino_block_c;
#if WINO_X86
    if (avx512)
        fn = wino_block_avx512;
#endif
    for (int n0 = 0; n0 < n; n0 += chunk) {
        const int nb = n - n0 < chunk ? n - n0 : chunk;
        wino_pad_chunk(G, x + (size_t)n0 * G->ni * G->h * G->w, nb, xp, avx512);
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

/* ---- weight gradient driver */

static int wino_round(int v, int m)
{
    return (v + m - 1) / m * m;
}

/* Floats the weight gradient needs for nb images a chunk (M, the padded images, V, D). */
static size_t wino_dw_need(const wino_geom *G, int nb)
{
    const size_t icp = (size_t)wino_round(G->ni, WINO_DCB), ocp = (size_t)wino_round(G->no, WINO_DOB);
    const size_t ntv = ((size_t)nb * G->th * G->tw + 15) & ~(size_t)15;
    return ((16 * ocp * icp + 15) & ~(size_t)15) + (size_t)nb * G->ni * G->plane + WINO_TAIL +
           16 * (icp * ntv + 16) + 16 * (ocp * ntv + 16);
}

typedef struct wino_dwpar {
    const wino_dwj *j;
    int avx512;
} wino_dwpar;

/* tile rows lo .. hi-1: V and D */
static void wino_dw_tr_piece(void *ctx, int ith, size_t lo, size_t hi)
{
    (void)ith;
    const wino_dwpar *w = ctx;
    const wino_dwj *j = w->j;
    float *V = j->V + lo * (size_t)j->G.tw; /* wino_in_* number their tiles from u0 */
#if WINO_X86
    if (w->avx512) {
        wino_in_avx512(&j->G, j->xp, (int)lo, (int)hi, V);
        wino_dy_avx512(j, (int)lo, (int)hi);
        return;
    }
#endif
    wino_in_c(&j->G, j->xp, (int)lo, (int)hi, V);
    wino_dy_c(j, (int)lo, (int)hi);
}

/* items lo .. hi-1 of (position, output block, input block) */
static void wino_dw_gemm_piece(void *ctx, int ith, size_t lo, size_t hi)
{
    (void)ith;
    const wino_dwpar *w = ctx;
    const wino_dwj *j = w->j;
    const size_t nob = (size_t)j->ocp / WINO_DOB, ncb = (size_t)j->icp / WINO_DCB;
    for (size_t it = lo; it < hi; it++) {
        const int pos = (int)(it / (nob * ncb)), ob = (int)(it / ncb % nob), cb = (int)(it % ncb);
#if WINO_X86
        if (w->avx512) {
            wino_dwg_avx512(j, pos, ob * WINO_DOB, cb * WINO_DCB);
            continue;
        }
#endif
        wino_dwg_c(j, pos, ob * WINO_DOB, cb * WINO_DCB);
    }
}

void nn_conv_wino_dw(const nn_conv_geom *g, const float *x, const float *dy, float *dw,
                     float *scratch, size_t avail)
{
    atomic_fetch_add(&g_wino_calls, 1);
    wino_dwj j = {.icp = wino_round(g->ic, WINO_DCB), .ocp = wino_round(g->oc, WINO_DOB)};
    wino_geom_of(g->ic, g->oc, g->h, g->w, &j.G);
    const wino_geom *G = &j.G;
    int chunk = g->n;
    while (chunk > 1 && wino_dw_need(G, chunk) > avail)
        chunk--;
    const size_t msize = ((size_t)16 * j.ocp * j.icp + 15) & ~(size_t)15;
    j.M = scratch;
    memset(j.M, 0, sizeof(float) * msize);
    const int avx512 = WINO_X86 && nn_conv_isa() == NN_ISA_AVX512;
    wino_dwpar w = {&j, avx512};
    for (int n0 = 0; n0 < g->n; n0 += chunk) {
        const int nb = g->n - n0 < chunk ? g->n - n0 : chunk;
        float *xp = scratch + msize;
        j.units = nb * G->th;
        const size_t nt = (size_t)j.units * G->tw;
        j.G.ntv = (nt + 15) & ~(size_t)15;
        j.G.vps = (size_t)j.icp * j.G.ntv + 16;
        j.dps = (size_t)j.ocp * j.G.ntv + 16;
        j.nvt = (int)(j.G.ntv / 16);
        j.xp = xp;
        j.dy = dy + (size_t)n0 * g->oc * g->h * g->w;
        j.V = xp + (size_t)nb * g->ic * G->plane + WINO_TAIL;
        j.D = j.V + 16 * j.G.vps;
        wino_pad_chunk(G, x + (size_t)n0 * g->ic * g->h * g->w, nb, xp, avx512);
        /* what the transforms do not store: the lanes past the chunk's tiles and the channels
         * past ic / oc, read by the GEMMs as zeros */
        for (int pos = 0; pos < 16; pos++) {
            for (int c = 0; c < j.icp; c++) {
                float *r = j.V + (size_t)pos * j.G.vps + (size_t)c * j.G.ntv;
                const size_t from = c < g->ic ? nt : 0;
                memset(r + from, 0, sizeof(float) * (j.G.ntv - from));
            }
            for (int o = 0; o < j.ocp; o++) {
                float *r = j.D + (size_t)pos * j.dps + (size_t)o * j.G.ntv;
                const size_t from = o < g->oc ? nt : 0;
                memset(r + from, 0, sizeof(float) * (j.G.ntv - from));
            }
        }
        nn_par_for((size_t)j.units, 0, wino_dw_tr_piece, &w);
        nn_par_for((size_t)16 * (j.ocp / WINO_DOB) * (j.icp / WINO_DCB), 0, wino_dw_gemm_piece, &w);
    }
    /* dW[o][c] += G^T M G */
    for (int o = 0; o < g->oc; o++)
        for (int c = 0; c < g->ic; c++) {
            float m[4][4], t[3][4];
            for (int pos = 0; pos < 16; pos++)
                m[pos / 4][pos % 4] = j.M[((size_t)pos * j.ocp + o) * j.icp + c];
            for (int q = 0; q < 4; q++) {
                t[0][q] = m[0][q] + (m[1][q] + m[2][q]) * 0.5f;
                t[1][q] = (m[1][q] - m[2][q]) * 0.5f;
                t[2][q] = (m[1][q] + m[2][q]) * 0.5f + m[3][q];
            }
            float *d = dw + ((size_t)o * g->ic + c) * 9;
            for (int i = 0; i < 3; i++) {
                d[3 * i + 0] += t[i][0] + (t[i][1] + t[i][2]) * 0.5f;
                d[3 * i + 1] += (t[i][1] - t[i][2]) * 0.5f;
                d[3 * i + 2] += (t[i][1] + t[i][2]) * 0.5f + t[i][3];
            }
        }
}
