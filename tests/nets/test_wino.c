/* test_wino.c — Winograd F(2x2, 3x3) (nets/nn_conv_wino.c): the forward (bias, eval-mode BN
 * and ReLU / ReLU6 in the store) and the input gradient (overwritten and accumulated) of
 * 3x3 stride-1 padding-1 convs against a double-precision conv, on odd maps (the last tile
 * row / column half outside), channel counts that are not multiples of the 8-channel tile,
 * single pixels, rows and columns, and the experiments' shapes; then the same bits for
 * 1, 2 and 3 threads, for an image alone and in a batch, for the C path and the AVX-512
 * path, and with the least scratch it accepts; and which convs take it in a network's
 * passes (nn_conv_wino_use). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/nn.h"
#include "nets/nn_internal.h"
#include "test_util.h"

static nn_rng g_rng;

static float *rnd(size_t n, float scale)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        p[i] = (nn_rng_uniform(&g_rng) * 2.0f - 1.0f) * scale;
    return p;
}

/* The conv's three passes in double precision, each value with the sum of its products'
 * magnitudes (the rounding scale): y = conv(x, w) + b, dx = conv^T(dy, w), dw = sum of dy * x.
 * One loop over every (image, output, pixel, input, tap) product. */
typedef struct ref {
    double *y, *my, *dx, *mx, *dw, *mw;
} ref;

static ref ref_conv(const nn_conv_geom *g, const float *x, const float *w, const float *b,
                    const float *dy)
{
    const size_t nx = (size_t)g->n * g->ic * g->h * g->w, ny = (size_t)g->n * g->oc * g->h * g->w;
    const size_t nw = (size_t)g->oc * g->ic * 9;
    ref r = {calloc(ny, sizeof(double)), calloc(ny, sizeof(double)), calloc(nx, sizeof(double)),
             calloc(nx, sizeof(double)), calloc(nw, sizeof(double)), calloc(nw, sizeof(double))};
    for (int n = 0; n < g->n; n++)
        for (int o = 0; o < g->oc; o++)
            for (int oy = 0; oy < g->h; oy++)
                for (int ox = 0; ox < g->w; ox++) {
                    const size_t ky = (((size_t)n * g->oc + o) * g->h + oy) * g->w + ox;
                    const double d = dy[ky];
                    r.y[ky] = b ? b[o] : 0.0;
                    r.my[ky] = b ? fabs(b[o]) : 0.0;
                    for (int c = 0; c < g->ic; c++)
                        for (int ki = 0; ki < 3; ki++)
                            for (int kj = 0; kj < 3; kj++) {
                                const int iy = oy + ki - 1, ix = ox + kj - 1;
                                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                    continue;
                                const size_t kx = (((size_t)n * g->ic + c) * g->h + iy) * g->w + ix;
                                const size_t kw = (((size_t)o * g->ic + c) * 3 + ki) * 3 + kj;
                                const double py = (double)x[kx] * w[kw], px = d * w[kw], pw = d * x[kx];
                                r.y[ky] += py;
                                r.my[ky] += fabs(py);
                                r.dx[kx] += px;
                                r.mx[kx] += fabs(px);
                                r.dw[kw] += pw;
                                r.mw[kw] += fabs(pw);
                            }
                }
    return r;
}

static void ref_free(ref *r)
{
    free(r->y), free(r->my), free(r->dx), free(r->mx), free(r->dw), free(r->mw);
}

/* max over elements of |got - want| / (mag + 1e-30), want and mag as the reference gives */
static double worst(const float *got, const double *want, const double *mag, size_t n)
{
    double e = 0.0;
    for (size_t i = 0; i < n; i++) {
        const double d = fabs((double)got[i] - want[i]) / (mag[i] + 1e-30);
        if (!(d <= e)) /* NaN counts */
            e = isnan(d) ? INFINITY : d;
    }
    return e;
}

static nn_conv_geom geom(int n, int ic, int oc, int h, int w)
{
    nn_conv_geom g = {n, ic, h, w, oc, 3, 3, 1, 1, 1, 1, 1, h, w, 0};
    return g;
}

/* Floats of scratch a network would give this conv (the arena's col buffer). */
static size_t scratch_of(const nn_conv_geom *g)
{
    const size_t a = nn_conv2d_col_size(g), m = nn_conv_wino_scratch(g);
    return a > m ? a : m;
}

/* scratch that holds NaN: a kernel that reads what it did not write shows */
static float *poisoned(float *scratch, size_t n)
{
    for (size_t i = 0; i < n; i++)
        scratch[i] = NAN;
    return scratch;
}

/* 1e-5 of the products' magnitude: F(2x2, 3x3) adds up at most 16 transformed products per
 * channel, each with a few roundings (the direct kernel is within ~1e-7) */
#define TOL 1e-5

static void check_values(int n, int ic, int oc, int h, int w)
{
    nn_conv_geom g = geom(n, ic, oc, h, w);
    const size_t nx = (size_t)n * ic * h * w, ny = (size_t)n * oc * h * w, nw = (size_t)oc * ic * 9;
    float *x = rnd(nx, 1.0f), *wt = rnd(nw, 0.5f), *b = rnd((size_t)oc, 1.0f), *dy = rnd(ny, 1.0f);
    float *pa = rnd((size_t)oc, 1.5f), *pb = rnd((size_t)oc, 1.0f);
    float *y = malloc(sizeof(float) * ny), *dx = malloc(sizeof(float) * nx);
    float *dx0 = rnd(nx, 1.0f);
    ref r = ref_conv(&g, x, wt, b, dy);
    double *ry = r.y, *my = r.my, *rx = r.dx, *mx = r.mx, *rw = r.dw, *mw = r.mw;
    const size_t avail = scratch_of(&g);
    float *scratch = malloc(sizeof(float) * avail);
    const long calls = nn_conv_wino_calls(0);

    nn_conv_wino_forward_post(&g, x, wt, b, NULL, NULL, NN_ACT_NONE, y, poisoned(scratch, avail), avail);
    CHECK_LE(worst(y, ry, my, ny), TOL, "forward %dx%d->%d %dx%d", n, ic, oc, h, w);

    /* eval-mode BN then ReLU6 in the store: y = min(max(v * a + b, 0), 6), float arithmetic */
    nn_conv_wino_forward_post(&g, x, wt, b, pa, pb, NN_ACT_RELU6, y, poisoned(scratch, avail), avail);
    double e = 0.0;
    for (size_t i = 0; i < ny; i++) {
        const int o = (int)(i / ((size_t)h * w) % (size_t)oc);
        double v = ry[i] * pa[o] + pb[o];
        v = v > 0.0 ? v : 0.0;
        v = v < 6.0 ? v : 6.0;
        const double d = fabs(y[i] - v) / ((my[i] + 1.0) * (fabs(pa[o]) + 1.0));
        e = d > e ? d : e;
    }
    CHECK_LE(e, TOL, "forward + BN + ReLU6 %dx%d->%d %dx%d", n, ic, oc, h, w);

    /* input gradient: overwritten (dx not read: NaN before it must not show), then added to
     * a dx that holds values */
    for (size_t i = 0; i < nx; i++)
        dx[i] = NAN;
    nn_conv_wino_dx_set(&g, wt, dy, dx, 1, poisoned(scratch, avail), avail);
    CHECK_LE(worst(dx, rx, mx, nx), TOL, "dx (set) %dx%d->%d %dx%d", n, ic, oc, h, w);
    memcpy(dx, dx0, sizeof(float) * nx);
    nn_conv_wino_dx_set(&g, wt, dy, dx, 0, poisoned(scratch, avail), avail);
    for (size_t i = 0; i < nx; i++) {
        rx[i] += dx0[i];
        mx[i] += fabs(dx0[i]);
    }
    CHECK_LE(worst(dx, rx, mx, nx), TOL, "dx (accumulated) %dx%d->%d %dx%d", n, ic, oc, h, w);

    /* weight gradient, added to a dw that holds values: with the conv's scratch (all images a
     * chunk, or as many as fit) and with the least (one image a chunk) */
    float *dw = malloc(sizeof(float) * nw), *dw0 = rnd(nw, 1.0f);
    for (size_t i = 0; i < nw; i++) {
        rw[i] += dw0[i];
        mw[i] += fabs(dw0[i]);
    }
    const size_t least = nn_conv_wino_scratch(&g);
    for (int k = 0; k < 2; k++) {
        memcpy(dw, dw0, sizeof(float) * nw);
        nn_conv_wino_dw(&g, x, dy, dw, poisoned(scratch, avail), k ? least : avail);
        CHECK_LE(worst(dw, rw, mw, nw), TOL, "dW (%s scratch) %dx%d->%d %dx%d", k ? "least" : "the conv's",
                 n, ic, oc, h, w);
    }
    CHECK(nn_conv_wino_calls(0) == calls + 6, "6 calls counted, %ld", nn_conv_wino_calls(0) - calls);

    free(x), free(wt), free(b), free(dy), free(pa), free(pb), free(y), free(dx), free(dx0);
    free(scratch), free(dw), free(dw0);
    ref_free(&r);
}

/* forward (with BN + ReLU), dx and (dw not NULL) dW of the batch, into y, dx and dw */
static void run_both(const nn_conv_geom *g, const float *x, const float *wt, const float *b,
                     const float *pa, const float *pb, const float *dy, float *y, float *dx,
                     float *dw, size_t avail)
{
    float *scratch = poisoned(malloc(sizeof(float) * avail), avail);
    nn_conv_wino_forward_post(g, x, wt, b, pa, pb, NN_ACT_RELU, y, scratch, avail);
    nn_conv_wino_dx_set(g, wt, dy, dx, 1, scratch, avail);
    if (dw) {
        memset(dw, 0, sizeof(float) * (size_t)g->oc * g->ic * 9);
        nn_conv_wino_dw(g, x, dy, dw, scratch, avail);
    }
    free(scratch);
}

static int same(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, sizeof(float) * n) == 0;
}

static void check_bits(int n, int ic, int oc, int h, int w)
{
    nn_conv_geom g = geom(n, ic, oc, h, w);
    const size_t per_x = (size_t)ic * h * w, per_y = (size_t)oc * h * w;
    const size_t nx = n * per_x, ny = n * per_y, nw = (size_t)oc * ic * 9;
    float *x = rnd(nx, 1.0f), *wt = rnd(nw, 0.5f), *b = rnd((size_t)oc, 1.0f), *dy = rnd(ny, 1.0f);
    float *pa = rnd((size_t)oc, 1.5f), *pb = rnd((size_t)oc, 1.0f);
    float *y[6], *dx[6], *dw[6];
    for (int k = 0; k < 6; k++)
        y[k] = malloc(sizeof(float) * ny), dx[k] = malloc(sizeof(float) * nx),
        dw[k] = malloc(sizeof(float) * nw);
    const int threads = nn_get_threads();
    const nn_isa isa = nn_conv_isa();

    /* 0: 1 thread; 1, 2: 2 and 3 threads; 3: the least scratch (one block's buffers for
     * WINO_SLOTS pieces, one image at a time) on 3 threads */
    for (int t = 1; t <= 3; t++) {
        nn_set_threads(t);
        run_both(&g, x, wt, b, pa, pb, dy, y[t - 1], dx[t - 1], dw[t - 1], scratch_of(&g));
    }
    /* the least scratch: the weight gradient then sums other chunks (other bits) */
    run_both(&g, x, wt, b, pa, pb, dy, y[3], dx[3], NULL, nn_conv_wino_scratch(&g));
    for (int k = 1; k < 3; k++)
        CHECK(same(dw[k], dw[0], nw), "%dx%d->%d %dx%d: dW on %d threads differs from 1 thread",
              n, ic, oc, h, w, k + 1);
    for (int k = 1; k < 4; k++)
        CHECK(same(y[k], y[0], ny) && same(dx[k], dx[0], nx),
              "%dx%d->%d %dx%d: case %d (2, 3 threads, least scratch) differs from 1 thread", n,
              ic, oc, h, w, k);

    /* 4: each image alone (2 threads) */
    nn_set_threads(2);
    nn_conv_geom g1 = geom(1, ic, oc, h, w);
    for (int i = 0; i < n; i++)
        run_both(&g1, x + i * per_x, wt, b, pa, pb, dy + i * per_y, y[4] + i * per_y,
                 dx[4] + i * per_x, NULL, scratch_of(&g1));
    CHECK(same(y[4], y[0], ny) && same(dx[4], dx[0], nx),
          "%dx%d->%d %dx%d: an image alone differs from it in the batch", n, ic, oc, h, w);

    /* 5: the portable C path */
    nn_conv_set_isa(NN_ISA_C);
    run_both(&g, x, wt, b, pa, pb, dy, y[5], dx[5], dw[5], scratch_of(&g));
    nn_conv_set_isa(isa);
    CHECK(same(dw[5], dw[0], nw), "%dx%d->%d %dx%d: dW of the C path differs from %s", n, ic, oc, h,
          w, nn_isa_name(isa));
    CHECK(same(y[5], y[0], ny) && same(dx[5], dx[0], nx),
          "%dx%d->%d %dx%d: the C path differs from %s", n, ic, oc, h, w, nn_isa_name(isa));
    nn_set_threads(threads);

    free(x), free(wt), free(b), free(dy), free(pa), free(pb);
    for (int k = 0; k < 6; k++)
        free(y[k]), free(dx[k]), free(dw[k]);
}

/* Which convs take it through nn_conv2d_forward / backward (the rule), and that those give
 * the values of the GEMM path. */
static void check_rule(void)
{
    const int avx512 = nn_conv_isa() == NN_ISA_AVX512;
    nn_conv_geom big = geom(2, 64, 64, 24, 18), small = geom(2, 16, 16, 96, 72);
    nn_conv_geom s2 = {2, 64, 12, 24, 18, 3, 3, 2, 2, 1, 1, 1, 12, 9, 0};
    CHECK(nn_conv_wino_use(&big, NN_PASS_FWD) == avx512 && nn_conv_wino_use(&big, NN_PASS_DX) == avx512,
          "64 -> 64 at 24x18 takes it where AVX-512 is in effect");
    CHECK(!nn_conv_wino_use(&small, NN_PASS_FWD), "16 channels keep the direct kernel");
    CHECK(!nn_conv_wino_shape(&s2), "stride 2 is not a Winograd shape");
    nn_conv_set_wino(0);
    CHECK(!nn_conv_wino_use(&big, NN_PASS_FWD), "nn_conv_set_wino(0) turns it off");
    nn_conv_set_wino(1);

    /* through the conv passes: the counter moves where the rule says, and the values agree
     * with the GEMM path's */
    const nn_conv_geom *g = &big;
    const size_t nx = (size_t)g->n * g->ic * g->h * g->w, ny = (size_t)g->n * g->oc * g->h * g->w;
    float *x = rnd(nx, 1.0f), *wt = rnd((size_t)g->oc * g->ic * 9, 0.5f), *dy = rnd(ny, 1.0f);
    float *y = malloc(sizeof(float) * ny), *yg = malloc(sizeof(float) * ny);
    float *dx = calloc(nx, sizeof(float)), *dxg = calloc(nx, sizeof(float));
    const size_t nw = (size_t)g->oc * g->ic * 9;
    float *dw = calloc(nw, sizeof(float)), *dwg = calloc(nw, sizeof(float));
    const size_t cs = nn_conv2d_col_size(g);
    float *col = malloc(sizeof(float) * cs), *dcol = malloc(sizeof(float) * cs);
    const long c0 = nn_conv_wino_calls(0);
    nn_conv2d_forward(g, x, wt, NULL, y, col);
    nn_conv2d_backward(g, x, wt, dy, dx, dw, NULL, col, dcol);
    CHECK(!avx512 || nn_conv_wino_calls(0) - c0 == 3,
          "forward, dx and dW of 64 -> 64 at 24x18 ran it (%ld calls)", nn_conv_wino_calls(0) - c0);
    nn_conv_set_algo(NN_CONV_GEMM);
    const long c1 = nn_conv_wino_calls(0);
    nn_conv2d_forward(g, x, wt, NULL, yg, col);
    nn_conv2d_backward(g, x, wt, dy, dxg, dwg, NULL, col, dcol);
    CHECK(nn_conv_wino_calls(0) == c1, "WB_NN_CONV=gemm: not run");
    nn_conv_set_algo(NN_CONV_AUTO);
    CHECK_LE(rel_l2(y, yg, ny), 1e-6, "forward against the GEMM path");
    CHECK_LE(rel_l2(dx, dxg, nx), 1e-6, "dx against the GEMM path");
    CHECK_LE(rel_l2(dw, dwg, nw), 1e-6, "dW against the GEMM path");
    free(x), free(wt), free(dy), free(y), free(yg), free(dx), free(dxg), free(col), free(dcol);
    free(dw), free(dwg);
}

int main(void)
{
    nn_rng_seed(&g_rng, 2026);
    printf("instruction set in effect: %s\n", nn_isa_name(nn_conv_isa()));
    /* n, ic, oc, h, w */
    check_values(1, 8, 8, 1, 1);    /* one pixel: every tap but the centre is padding */
    check_values(2, 8, 9, 5, 3);    /* odd both ways; 9 = one full tile of channels + 1 */
    check_values(1, 9, 8, 1, 23);   /* one row, tiles of a row past one vector */
    check_values(1, 8, 16, 37, 1);  /* one column */
    check_values(3, 17, 24, 13, 11);
    check_values(2, 33, 40, 7, 34); /* 17 tiles per row: two vectors, the second with one */
    check_values(2, 32, 32, 48, 36); /* ResNet-20 layer2 at 96x72 */
    check_values(1, 64, 64, 24, 18); /* layer3 */
    check_values(1, 64, 70, 9, 9);
    check_values(1, 8, 8, 64, 130);  /* a block holds less than one tile row */
    check_values(5, 8, 9, 32, 32);   /* dW with the least scratch: chunks of 2, 2, 1 images */

    check_bits(3, 17, 24, 13, 11);
    check_bits(5, 32, 32, 19, 21);
    check_bits(2, 64, 64, 24, 18);
    check_bits(2, 8, 8, 66, 98);

    check_rule();
    TEST_END();
}
