/* test_conv_direct.c — the direct 3x3 convolution kernels (nets/nn_conv_direct.c) on odd
 * shapes (channels not a multiple of 8, odd sizes, stride 2, padding 0..2, one input
 * channel, widths below and above one vector):
 *
 *  - forward against a double-precision naive convolution (NMSE <= 1e-10), and against the
 *    im2col + GEMM path (relative L2 <= 1e-5), forward, dx and dW;
 *  - dx and dW against central differences of L = sum(r * y) (y from the direct forward),
 *    relative error <= 2e-3 of the largest gradient, on sampled entries;
 *  - every instruction set the CPU has (C with fmaf, AVX2+FMA, AVX-512) gives the same bits;
 *  - 1, 2 and 3 threads give the same bits;
 *  - the kernels really ran (nn_conv_direct_counts), depthwise and grouped convs never take
 *    them, and under WB_NN_ISA=c (ctest nets.conv_direct_c) the C path is the one in effect;
 *  - the depthwise 3x3 kernels (nn_conv_dw_*): forward, forward with eval-mode BN and
 *    ReLU / ReLU6 in the store, and dx bit-identical to the plain float loops, dW against
 *    double precision, every instruction set and 1-3 threads bit-identical;
 *  - the 1x1 stride-1 kernel (nn_conv_pw_*): forward, with and without eval-mode BN and the
 *    activation in the store, bit-identical to a plain fmaf loop over the input channels on
 *    every instruction set and 1-3 threads, against the GEMM path and double precision, one
 *    image alone bit-identical to its place in the batch; the input gradient (set and added)
 *    bit-identical to a plain fmaf loop over the output channels;
 *  - batch norm with batch statistics (forward + ReLU / ReLU6, backward with the activation's
 *    backward inside): every instruction set gives the C loops' bits; statistics against a
 *    double-precision two-pass reference.
 */
#include <math.h>
#include <string.h>

#include "nets/nn_internal.h"
#include "test_util.h"

static nn_rng g_rng;

static float *rnd(size_t n)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        p[i] = 2.0f * nn_rng_uniform(&g_rng) - 1.0f;
    return p;
}

typedef struct out3 {
    float *y, *dx, *dw, *db;
} out3;

static void out3_free(out3 *o)
{
    free(o->y), free(o->dx), free(o->dw), free(o->db);
}

typedef struct shape {
    int n, ic, oc, h, w, s, p, bias;
} shape;

/* forward (y), then backward of dy = r into zeroed dx, dw, db */
static void run(const nn_conv_geom *g, const float *x, const float *wt, const float *b,
                const float *r, out3 *o)
{
    const size_t nx = (size_t)g->n * g->ic * g->h * g->w, ny = (size_t)g->n * g->oc * g->oh * g->ow;
    const size_t nw = (size_t)g->oc * g->ic * 9, cs = nn_conv2d_col_size(g);
    float *col = malloc(sizeof(float) * cs), *dcol = malloc(sizeof(float) * cs);
    o->y = malloc(sizeof(float) * ny);
    o->dx = calloc(nx, sizeof(float));
    o->dw = calloc(nw, sizeof(float));
    o->db = calloc((size_t)g->oc, sizeof(float));
    nn_conv2d_forward(g, x, wt, b, o->y, col);
    nn_conv2d_backward(g, x, wt, r, o->dx, o->dw, o->db, col, dcol);
    free(col);
    free(dcol);
}

static double loss(const nn_conv_geom *g, const float *x, const float *wt, const float *b,
                   const float *r)
{
    const size_t ny = (size_t)g->n * g->oc * g->oh * g->ow;
    float *y = malloc(sizeof(float) * ny), *col = malloc(sizeof(float) * nn_conv2d_col_size(g));
    nn_conv2d_forward(g, x, wt, b, y, col);
    double s = 0;
    for (size_t i = 0; i < ny; i++)
        s += (double)r[i] * y[i];
    free(y);
    free(col);
    return s;
}

static int same(const float *a, const float *b, size_t n)
{
    return memcmp(a, b, sizeof(float) * n) == 0;
}

static void check_shape(const shape *sh)
{
    nn_conv_geom g = {sh->n, sh->ic, sh->h, sh->w, sh->oc, 3, 3, sh->s, sh->s, sh->p, sh->p, 1,
                      0, 0, 0};
    g.oh = (sh->h + 2 * sh->p - 3) / sh->s + 1;
    g.ow = (sh->w + 2 * sh->p - 3) / sh->s + 1;
    g.batch = nn_conv2d_batch_wanted(&g);
    char name[96];
    snprintf(name, sizeof name, "n%d %d->%d %dx%d s%d p%d%s", sh->n, sh->ic, sh->oc, sh->h,
             sh->w, sh->s, sh->p, sh->bias ? " +b" : "");
    const size_t nx = (size_t)g.n * g.ic * g.h * g.w, ny = (size_t)g.n * g.oc * g.oh * g.ow;
    const size_t nw = (size_t)g.oc * g.ic * 9;
    float *x = rnd(nx), *wt = rnd(nw), *b = sh->bias ? rnd((size_t)g.oc) : NULL, *r = rnd(ny);

    nn_conv_set_algo(NN_CONV_DIRECT);
    /* dx: stride 1 only (the scratch holds at least one image of every pass, so 1 -> 16, whose
     * padded dy is larger than its im2col, takes it too) */
    const int want_dx = nn_conv_direct_use(&g, NN_PASS_DX);
    CHECK(nn_conv_direct_use(&g, NN_PASS_FWD) && nn_conv_direct_use(&g, NN_PASS_DW) &&
              want_dx == (sh->s == 1),
          "%s: direct kernels not chosen when forced", name);

    /* the reference: im2col + GEMM */
    out3 ref = {0};
    nn_conv_set_algo(NN_CONV_GEMM);
    long cnt[3];
    nn_conv_direct_counts(cnt, 1);
    run(&g, x, wt, b, r, &ref);
    nn_conv_direct_counts(cnt, 1);
    CHECK(cnt[0] == 0 && cnt[1] == 0 && cnt[2] == 0, "%s: direct kernel ran under GEMM", name);


    nn_conv_set_algo(NN_CONV_DIRECT);
    out3 first = {0};
    const nn_isa best = nn_conv_set_isa(NN_ISA_AVX512);
    double e_fwd = 0, e_dx = 0, e_dw = 0, e_db = 0, nmse;
    for (int isa = (int)best; isa >= (int)NN_ISA_C; isa--) {
        nn_conv_set_isa((nn_isa)isa);
        for (int threads = 1; threads <= 3; threads++) {
            nn_set_threads(threads);
            out3 d = {0};
            nn_conv_direct_counts(cnt, 1);
            run(&g, x, wt, b, r, &d);
            nn_conv_direct_counts(cnt, 1);
            CHECK(cnt[0] == 1 && cnt[2] == 1 && cnt[1] == want_dx,
                  "%s %s: direct calls fwd %ld dx %ld dw %ld", name, nn_isa_name((nn_isa)isa),
                  cnt[0], cnt[1], cnt[2]);
            if (!first.y) {
                first = d;
                e_fwd = rel_l2(d.y, ref.y, ny);
                e_dx = rel_l2(d.dx, ref.dx, nx);
                e_dw = rel_l2(d.dw, ref.dw, nw);
                e_db = rel_l2(d.db, ref.db, (size_t)g.oc);
                continue;
            }
            CHECK(same(d.y, first.y, ny) && same(d.dx, first.dx, nx) &&
                      same(d.dw, first.dw, nw) && same(d.db, first.db, (size_t)g.oc),
                  "%s: %s on %d thread(s) differs from %s on 1 thread", name,
                  nn_isa_name((nn_isa)isa), threads, nn_isa_name(best));
            out3_free(&d);
        }
    }
    nn_set_threads(1);
    nn_conv_set_isa(best);
    CHECK_LE(e_fwd, 1e-5, "%s: forward, direct vs GEMM", name);
    CHECK_LE(e_dx, 1e-5, "%s: dx, direct vs GEMM", name);
    CHECK_LE(e_dw, 1e-5, "%s: dW, direct vs GEMM", name);
    CHECK_LE(e_db, 1e-6, "%s: db, direct vs GEMM", name);

    /* forward against double precision (NMSE) */
    double num = 0, den = 0;
    for (int n = 0; n < g.n; n++)
        for (int o = 0; o < g.oc; o++)
            for (int oy = 0; oy < g.oh; oy++)
                for (int ox = 0; ox < g.ow; ox++) {
                    double s = b ? b[o] : 0.0;
                    for (int c = 0; c < g.ic; c++)
                        for (int ki = 0; ki < 3; ki++)
                            for (int kj = 0; kj < 3; kj++) {
                                int iy = oy * g.sh - g.ph + ki, ix = ox * g.sw - g.pw + kj;
                                if (iy >= 0 && iy < g.h && ix >= 0 && ix < g.w)
                                    s += (double)x[(((size_t)n * g.ic + c) * g.h + iy) * g.w + ix] *
                                         wt[((size_t)o * g.ic + c) * 9 + ki * 3 + kj];
                            }
                    double d = first.y[(((size_t)n * g.oc + o) * g.oh + oy) * g.ow + ox] - s;
                    num += d * d;
                    den += s * s;
                }
    nmse = num / den;
    CHECK_LE(nmse, 1e-10, "%s: forward NMSE against double precision", name);

    /* central differences of L = sum(r * y) through the direct forward */
    const float eps = 1e-2f;
    double gmax_x = max_abs(first.dx, nx), gmax_w = max_abs(first.dw, nw), e_fd = 0;
    for (int k = 0; k < 24; k++) {
        const int on_w = k & 1;
        float *v = on_w ? wt : x;
        const size_t i = nn_rng_u64(&g_rng) % (on_w ? nw : nx);
        const float v0 = v[i];
        v[i] = v0 + eps;
        double lp = loss(&g, x, wt, b, r);
        v[i] = v0 - eps;
        double lm = loss(&g, x, wt, b, r);
        v[i] = v0;
        const double fd = (lp - lm) / (2.0 * eps), an = on_w ? first.dw[i] : first.dx[i];
        const double e = fabs(fd - an) / fmax(on_w ? gmax_w : gmax_x, 1e-30);
        e_fd = fmax(e_fd, e);
        CHECK_LE(e, 2e-3, "%s: d%s[%zu] %g vs central difference %g", name, on_w ? "W" : "x", i,
                 an, fd);
    }
    printf("%-28s fwd NMSE %.1e; vs GEMM fwd %.1e dx %.1e dW %.1e; vs central diff %.1e; "
           "dx %s; c..%s x 1-3 threads bit-identical\n",
           name, nmse, e_fwd, e_dx, e_dw, e_fd, want_dx ? "direct" : "GEMM", nn_isa_name(best));
    nn_conv_set_algo(NN_CONV_AUTO);
    out3_free(&first);
    out3_free(&ref);
    free(x), free(wt), free(b), free(r);
}


/* ---- depthwise 3x3 (nn_conv_dw_*): forward (with and without eval BN + activation) and
 * input gradient bit-identical to the plain float loops the engine had before; dW against
 * double precision; every instruction set and 1-3 threads bit-identical. */
static float act_f(float v, int act)
{
    if (act)
        v = v > 0.0f ? v : 0.0f;
    if (act == NN_ACT_RELU6)
        v = v < 6.0f ? v : 6.0f;
    return v;
}

/* extra: zero rows below and columns right of the input beyond p (MobileNet's stride-2
 * convs: padding (0, 1)) */
static void check_dw_x(int n, int c, int h, int w, int s, int p, int bias, int act, int extra)
{
    nn_conv_geom g = {n, c, h, w, c, 3, 3, s, s, p, p, c, 0, 0, 1};
    g.oh = (h + 2 * p + extra - 3) / s + 1;
    g.ow = (w + 2 * p + extra - 3) / s + 1;
    char name[96];
    snprintf(name, sizeof name, "depthwise n%d c%d %dx%d s%d p%d%s%s act%d", n, c, h, w, s, p,
             extra ? "+1" : "", bias ? " +b" : "", act);
    CHECK(nn_conv_dw_use(&g), "%s: not taken", name);
    const size_t nx = (size_t)n * c * h * w, ny = (size_t)n * c * g.oh * g.ow, nw = (size_t)c * 9;
    float *x = rnd(nx), *wt = rnd(nw), *b = bias ? rnd((size_t)c) : NULL, *r = rnd(ny);
    float *pa = rnd((size_t)c), *pb = rnd((size_t)c);
    for (int i = 0; i < c; i++)
        pa[i] *= 4.0f, pb[i] *= 4.0f; /* outputs both sides of 0 and of 6 */
    /* the plain float loops */
    float *y0 = malloc(sizeof(float) * ny), *yp0 = malloc(sizeof(float) * ny);
    float *dx0 = rnd(nx), *dw0 = calloc(nw, sizeof(float)), *dxin = malloc(sizeof(float) * nx);
    memcpy(dxin, dx0, sizeof(float) * nx); /* accumulated into: start from random values */
    float *dxz0 = calloc(nx, sizeof(float)); /* and from a zeroed dx */
    double *dwd = calloc(nw, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            const float *xc = x + ((size_t)i * c + ch) * h * w, *k = wt + (size_t)ch * 9;
            const float *dyc = r + ((size_t)i * c + ch) * g.oh * g.ow;
            float *dxc = dx0 + ((size_t)i * c + ch) * h * w;
            float *dzc = dxz0 + ((size_t)i * c + ch) * h * w;
            for (int oy = 0; oy < g.oh; oy++)
                for (int ox = 0; ox < g.ow; ox++) {
                    float acc = 0.0f;
                    const float d = dyc[oy * g.ow + ox];
                    for (int ki = 0; ki < 3; ki++)
                        for (int kj = 0; kj < 3; kj++) {
                            int iy = oy * s - p + ki, ix = ox * s - p + kj;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                                continue;
                            acc += xc[iy * w + ix] * k[ki * 3 + kj];
                            dxc[iy * w + ix] += d * k[ki * 3 + kj];
                            dzc[iy * w + ix] += d * k[ki * 3 + kj];
                            dwd[(size_t)ch * 9 + ki * 3 + kj] += (double)d * xc[iy * w + ix];
                        }
                    const size_t o = ((size_t)i * c + ch) * g.oh * g.ow + oy * g.ow + ox;
                    y0[o] = acc + (b ? b[ch] : 0.0f);
                    yp0[o] = act_f(y0[o] * pa[ch] + pb[ch], act);
                }
        }
    const nn_isa best = nn_conv_set_isa(NN_ISA_AVX512);
    float *dwfirst = NULL;
    for (int isa = (int)best; isa >= (int)NN_ISA_C; isa--) {
        nn_conv_set_isa((nn_isa)isa);
        for (int threads = 1; threads <= 3; threads++) {
            nn_set_threads(threads);
            float *y = malloc(sizeof(float) * ny), *yp = malloc(sizeof(float) * ny);
            float *dx = malloc(sizeof(float) * nx), *dw = calloc(nw, sizeof(float));
            memcpy(dx, dxin, sizeof(float) * nx);
            nn_conv2d_forward(&g, x, wt, b, y, NULL);
            nn_conv_dw_forward_post(&g, x, wt, b, pa, pb, act, yp);
            nn_conv2d_backward(&g, x, wt, r, dx, dw, NULL, NULL, NULL);
            CHECK(same(y, y0, ny), "%s %s %d threads: forward differs from the plain loop", name,
                  nn_isa_name((nn_isa)isa), threads);
            CHECK(same(yp, yp0, ny), "%s %s %d threads: forward + BN + act differs", name,
                  nn_isa_name((nn_isa)isa), threads);
            CHECK(same(dx, dx0, nx), "%s %s %d threads: dx differs from the plain loop", name,
                  nn_isa_name((nn_isa)isa), threads);
            /* dx overwritten (the input's first gradient): never read, the bits of a zeroed dx */
            memset(dx, 0xff, sizeof(float) * nx); /* NaN */
            nn_conv2d_backward_set(&g, x, wt, r, dx, 1, NULL, NULL, NULL, NULL);
            CHECK(same(dx, dxz0, nx), "%s %s %d threads: dx set differs from the plain loop "
                  "on a zeroed dx", name, nn_isa_name((nn_isa)isa), threads);
            if (!dwfirst) {
                dwfirst = dw;
                double num = 0, den = 0;
                for (size_t i = 0; i < nw; i++) {
                    num += (dw[i] - dwd[i]) * (dw[i] - dwd[i]);
                    den += dwd[i] * dwd[i];
                }
                CHECK_LE(sqrt(num / den), 1e-6, "%s: dW against double precision", name);
            } else {
                CHECK(same(dw, dwfirst, nw), "%s %s %d threads: dW differs from %s on 1 thread",
                      name, nn_isa_name((nn_isa)isa), threads, nn_isa_name(best));
                free(dw);
            }
            free(y), free(yp), free(dx);
        }
    }
    nn_set_threads(1);
    nn_conv_set_isa(best);
    printf("%-40s forward, +BN+act, dx (added, set) = plain loops; dW vs double ok; c..%s x 1-3 threads "
           "bit-identical\n", name, nn_isa_name(best));
    free(dwfirst);
    free(x), free(wt), free(b), free(r), free(pa), free(pb), free(y0), free(yp0), free(dx0),
        free(dw0), free(dxin), free(dwd), free(dxz0);
}

static void check_dw(int n, int c, int h, int w, int s, int p, int bias, int act)
{
    check_dw_x(n, c, h, w, s, p, bias, act, 0);
}

/* ---- 1x1 stride-1 convs (nn_conv_pw_*): the forward, with and without bias and eval BN +
 * activation, bit-identical to a plain loop of fmaf over the input channels in order (then
 * + bias, * a + b, the activation), on every instruction set and 1-3 threads; through
 * nn_conv2d_forward_post when forced; against the GEMM path (relative L2) and double precision;
 * an image alone gives its bits in the batch. The input gradient (set and added) bit-identical
 * to a plain fmaf loop over the output channels, directly and through the engine's backward. */
static void check_pw(int n, int ic, int oc, int h, int w, int bias, int act)
{
    nn_conv_geom g = {n, ic, h, w, oc, 1, 1, 1, 1, 0, 0, 1, h, w, 0};
    g.batch = nn_conv2d_batch_wanted(&g);
    char name[96];
    snprintf(name, sizeof name, "1x1 n%d %d->%d %dx%d%s act%d", n, ic, oc, h, w,
             bias ? " +b" : "", act);
    const size_t P = (size_t)h * w, nx = (size_t)n * ic * P, ny = (size_t)n * oc * P;
    const size_t nw = (size_t)oc * ic;
    float *x = rnd(nx), *wt = rnd(nw), *b = bias ? rnd((size_t)oc) : NULL;
    float *pa = rnd((size_t)oc), *pb = rnd((size_t)oc);
    for (int i = 0; i < oc; i++)
        pa[i] *= 4.0f, pb[i] *= 4.0f; /* outputs both sides of 0 and of 6 */
    float *y0 = malloc(sizeof(float) * ny), *yp0 = malloc(sizeof(float) * ny);
    double num = 0, den = 0;
    for (int i = 0; i < n; i++)
        for (int o = 0; o < oc; o++)
            for (size_t q = 0; q < P; q++) {
                float acc = 0.0f;
                double d = b ? b[o] : 0.0;
                for (int c = 0; c < ic; c++) {
                    const float xv = x[((size_t)i * ic + c) * P + q], wv = wt[(size_t)o * ic + c];
                    acc = fmaf(xv, wv, acc);
                    d += (double)xv * wv;
                }
                const size_t k = ((size_t)i * oc + o) * P + q;
                y0[k] = b ? acc + b[o] : acc;
                yp0[k] = act_f(y0[k] * pa[o] + pb[o], act);
                num += (y0[k] - d) * (y0[k] - d);
                den += d * d;
            }
    CHECK_LE(num / den, 1e-10, "%s: NMSE against double precision", name);
    nn_conv_set_algo(NN_CONV_DIRECT);
    CHECK(nn_conv_pw_use(&g), "%s: not taken when forced", name);
    const nn_isa best = nn_conv_set_isa(NN_ISA_AVX512);
    float *y = malloc(sizeof(float) * ny), *yp = malloc(sizeof(float) * ny);
    for (int isa = (int)best; isa >= (int)NN_ISA_C; isa--) {
        nn_conv_set_isa((nn_isa)isa);
        for (int threads = 1; threads <= 3; threads++) {
            nn_set_threads(threads);
            memset(y, 0xff, sizeof(float) * ny); /* NaN: every output written */
            memset(yp, 0xff, sizeof(float) * ny);
            nn_conv_pw_forward_post(&g, x, wt, b, NULL, NULL, NN_ACT_NONE, y);
            nn_conv_pw_forward_post(&g, x, wt, b, pa, pb, act, yp);
            CHECK(same(y, y0, ny), "%s %s %d threads: forward differs from the fmaf loop", name,
                  nn_isa_name((nn_isa)isa), threads);
            CHECK(same(yp, yp0, ny), "%s %s %d threads: forward + BN + act differs", name,
                  nn_isa_name((nn_isa)isa), threads);
        }
    }
    nn_set_threads(2);
    nn_conv_set_isa(best);
    /* the engine's entry point takes it when forced; one image alone: its bits in the batch */
    float *col = malloc(sizeof(float) * (nn_conv2d_col_size(&g) + 1));
    memset(yp, 0xff, sizeof(float) * ny);
    nn_conv2d_forward_post(&g, x, wt, b, pa, pb, act, yp, col);
    CHECK(same(yp, yp0, ny), "%s: nn_conv2d_forward_post (forced) differs", name);
    nn_conv_geom g1 = g;
    g1.n = 1;
    g1.batch = nn_conv2d_batch_wanted(&g1);
    const int last = n - 1;
    nn_conv2d_forward_post(&g1, x + (size_t)last * ic * P, wt, b, pa, pb, act, yp, col);
    CHECK(same(yp, yp0 + (size_t)last * oc * P, (size_t)oc * P),
          "%s: the last image alone differs from its bits in the batch", name);
    /* the GEMM path */
    nn_conv_set_algo(NN_CONV_GEMM);
    CHECK(!nn_conv_pw_use(&g) && !nn_conv_pw_use_dx(&g), "%s: taken under GEMM", name);
    nn_conv2d_forward_post(&g, x, wt, b, NULL, NULL, NN_ACT_NONE, y, col);
    CHECK_LE(rel_l2(y, y0, ny), 1e-5, "%s: against the GEMM path", name);

    /* the input gradient: dx = W^T dy, a chain of fmaf over the output channels in order,
     * added to dx (from random values) or overwriting it (from NaN) */
    float *dy = rnd(ny), *dxin = rnd(nx), *dxa0 = malloc(sizeof(float) * nx);
    float *dxs0 = malloc(sizeof(float) * nx), *dx = malloc(sizeof(float) * nx);
    float *dcol = malloc(sizeof(float) * (nn_conv2d_col_size(&g) + 1));
    for (int i = 0; i < n; i++)
        for (int c = 0; c < ic; c++)
            for (size_t q = 0; q < P; q++) {
                float acc = 0.0f;
                for (int o = 0; o < oc; o++)
                    acc = fmaf(dy[((size_t)i * oc + o) * P + q], wt[(size_t)o * ic + c], acc);
                const size_t k = ((size_t)i * ic + c) * P + q;
                dxs0[k] = acc;
                dxa0[k] = dxin[k] + acc;
            }
    nn_conv2d_backward_set(&g, x, wt, dy, dx, 1, NULL, NULL, col, dcol); /* GEMM, set */
    CHECK_LE(rel_l2(dx, dxs0, nx), 1e-5, "%s: dx against the GEMM path", name);
    nn_conv_set_algo(NN_CONV_DIRECT);
    CHECK(nn_conv_pw_use_dx(&g), "%s: dx not taken when forced", name);
    for (int isa = (int)best; isa >= (int)NN_ISA_C; isa--) {
        nn_conv_set_isa((nn_isa)isa);
        for (int threads = 1; threads <= 3; threads++) {
            nn_set_threads(threads);
            memset(dx, 0xff, sizeof(float) * nx);
            nn_conv_pw_dx_set(&g, wt, dy, dx, 1);
            CHECK(same(dx, dxs0, nx), "%s %s %d threads: dx set differs from the fmaf loop",
                  name, nn_isa_name((nn_isa)isa), threads);
            memcpy(dx, dxin, sizeof(float) * nx);
            nn_conv_pw_dx_set(&g, wt, dy, dx, 0);
            CHECK(same(dx, dxa0, nx), "%s %s %d threads: dx added differs from the fmaf loop",
                  name, nn_isa_name((nn_isa)isa), threads);
        }
    }
    nn_conv_set_isa(best);
    nn_set_threads(2);
    /* through the engine's backward (dx only; set and added) */
    memset(dx, 0xff, sizeof(float) * nx);
    nn_conv2d_backward_set(&g, x, wt, dy, dx, 1, NULL, NULL, col, dcol);
    CHECK(same(dx, dxs0, nx), "%s: nn_conv2d_backward_set (forced, set) differs", name);
    memcpy(dx, dxin, sizeof(float) * nx);
    nn_conv2d_backward(&g, x, wt, dy, dx, NULL, NULL, col, dcol);
    CHECK(same(dx, dxa0, nx), "%s: nn_conv2d_backward (forced, added) differs", name);
    nn_conv_set_algo(NN_CONV_AUTO);
    nn_set_threads(1);
    printf("%-40s fwd = fmaf loop (+BN+act), dx (set, added) = fmaf loop; c..%s x 1-3 threads, "
           "alone/batch bit-identical\n", name, nn_isa_name(best));
    free(x), free(wt), free(b), free(pa), free(pb), free(y0), free(yp0), free(y), free(yp),
        free(col), free(dy), free(dxin), free(dxa0), free(dxs0), free(dx), free(dcol);
}

/* nn_conv2d_backward_set with set_dx on a dx full of NaN: the bits of a zeroed dx accumulated
 * into, direct kernel (flat and row layouts) and GEMM (stride 2) alike */
static void check_set(const shape *sh)
{
    nn_conv_geom g = {sh->n, sh->ic, sh->h, sh->w, sh->oc, 3, 3, sh->s, sh->s, sh->p, sh->p, 1,
                      0, 0, 0};
    g.oh = (sh->h + 2 * sh->p - 3) / sh->s + 1;
    g.ow = (sh->w + 2 * sh->p - 3) / sh->s + 1;
    g.batch = nn_conv2d_batch_wanted(&g);
    const size_t nx = (size_t)g.n * g.ic * g.h * g.w, ny = (size_t)g.n * g.oc * g.oh * g.ow;
    float *x = rnd(nx), *wt = rnd((size_t)g.oc * g.ic * 9), *r = rnd(ny);
    float *dx = malloc(sizeof(float) * nx), *col = malloc(sizeof(float) * nn_conv2d_col_size(&g));
    float *dcol = malloc(sizeof(float) * nn_conv2d_col_size(&g));
    for (size_t i = 0; i < nx; i++)
        dx[i] = NAN;
    out3 ref = {0};
    run(&g, x, wt, NULL, r, &ref);
    nn_conv2d_backward_set(&g, x, wt, r, dx, 1, NULL, NULL, col, dcol);
    CHECK(same(dx, ref.dx, nx), "n%d %d->%d %dx%d s%d: set dx differs from a zeroed dx", sh->n,
          sh->ic, sh->oc, sh->h, sh->w, sh->s);
    out3_free(&ref);
    free(x), free(wt), free(r), free(dx), free(col), free(dcol);
}

/* BN (batch statistics, 8 double lanes per channel) forward with ReLU and backward with the
 * activation's backward inside: every instruction set the CPU has gives the bits of the
 * portable C loops; the statistics agree with a double-precision two-pass reference. */
static void check_bn(int n, int c, int hw, int act)
{
    char name[64];
    snprintf(name, sizeof name, "bn n%d c%d hw%d act%d", n, c, hw, act);
    const size_t nx = (size_t)n * c * hw;
    float *x = rnd(nx), *dy = rnd(nx), *gm = rnd((size_t)c), *bt = rnd((size_t)c);
    for (size_t i = 0; i < nx; i++)
        x[i] = 3.0f * x[i] + 1.5f; /* a mean away from 0 */
    float *y[3], *dx[3], *st[3];
    int have[3] = {0, 0, 0};
    const nn_isa was = nn_conv_isa();
    for (int isa = 0; isa < 3; isa++) {
        y[isa] = malloc(sizeof(float) * nx);
        dx[isa] = malloc(sizeof(float) * nx);
        st[isa] = calloc((size_t)c * 6, sizeof(float)); /* rm rv mean invstd dgamma dbeta */
        if ((int)nn_conv_set_isa((nn_isa)isa) != isa)
            continue;
        have[isa] = 1;
        float *rm = st[isa], *rv = rm + c, *mean = rv + c, *is = mean + c, *dg = is + c,
              *db = dg + c;
        for (int ch = 0; ch < c; ch++)
            rv[ch] = 1.0f;
        nn_bn_relu_forward_train(n, c, hw, x, gm, bt, 1e-5f, 0.1f, rm, rv, y[isa], mean, is,
                                 act);
        nn_bn_act_backward(n, c, hw, 1, x, gm, mean, is, act ? y[isa] : NULL, act, dy, dx[isa],
                           1, dg, db);
    }
    nn_conv_set_isa(was);
    for (int isa = 1; isa < 3; isa++)
        if (have[isa])
            CHECK(same(y[0], y[isa], nx) && same(dx[0], dx[isa], nx) &&
                      same(st[0], st[isa], (size_t)c * 6),
                  "%s: %s differs from C", name, nn_isa_name((nn_isa)isa));
    double emax = 0;
    for (int ch = 0; ch < c; ch++) {
        double m = 0, v = 0;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < hw; k++)
                m += x[((size_t)i * c + ch) * hw + k];
        m /= (double)n * hw;
        for (int i = 0; i < n; i++)
            for (int k = 0; k < hw; k++) {
                double d = x[((size_t)i * c + ch) * hw + k] - m;
                v += d * d;
            }
        v /= (double)n * hw;
        double em = fabs(st[0][2 * c + ch] - m) / (fabs(m) + 1e-3);
        double ei = fabs(st[0][3 * c + ch] - 1.0 / sqrt(v + 1e-5)) * sqrt(v + 1e-5);
        emax = em > emax ? em : emax;
        emax = ei > emax ? ei : emax;
    }
    CHECK_LE(emax, 1e-6, "%s: batch statistics against double precision", name);
    free(x), free(dy), free(gm), free(bt);
    for (int isa = 0; isa < 3; isa++)
        free(y[isa]), free(dx[isa]), free(st[isa]);
}

int main(void)
{
    const char *env = getenv("WB_NN_ISA");
    if (env && strcmp(env, "c") == 0)
        CHECK(nn_conv_isa() == NN_ISA_C, "WB_NN_ISA=c: %s in effect", nn_isa_name(nn_conv_isa()));
    printf("instruction set in effect: %s\n", nn_isa_name(nn_conv_isa()));
    nn_conv_set_wino(0); /* the direct kernels themselves (test_wino checks Winograd) */
    nn_rng_seed(&g_rng, 77);
    static const shape shapes[] = {
        {2, 3, 5, 9, 7, 1, 1, 0},      /* tiny: one vector, most of it masked */
        {2, 13, 11, 17, 23, 2, 1, 1},  /* stride 2, odd everything, bias */
        {1, 7, 9, 20, 33, 1, 0, 0},    /* no padding, width just over two vectors */
        {3, 5, 3, 11, 10, 2, 0, 1},    /* stride 2 without padding */
        {2, 10, 17, 15, 40, 1, 2, 0},  /* padding 2 (output larger than the input) */
        {1, 1, 16, 31, 37, 1, 1, 1},   /* one input channel, as conv1 of a grey network */
        {2, 9, 20, 18, 51, 2, 1, 0},   /* stride 2, width over three vectors */
        {2, 16, 16, 34, 34, 1, 1, 0},  /* a CIFAR ResNet layer */
        {2, 16, 16, 80, 50, 1, 1, 0},  /* large maps: dW in row blocks (lane sums carried) */
        {2, 8, 16, 130, 90, 2, 1, 1},  /* the same, stride 2 */
        {2, 9, 12, 12, 18, 1, 1, 1},   /* flat layout: two rows per vector, bias */
        {2, 6, 10, 7, 36, 1, 0, 0},    /* flat, no padding (34 wide) */
        {1, 5, 7, 6, 15, 1, 2, 0},     /* flat, padding 2 (17 wide) */
        {2, 17, 9, 9, 16, 1, 1, 0},    /* 16 wide: the row layout */
        {2, 16, 16, 24, 18, 1, 1, 1},  /* ResNet-20 layer3 at 96x72 */
        {2, 12, 9, 8, 8, 1, 1, 0},     /* flat, 8 wide: three rows per AVX-512 vector */
        {3, 7, 10, 9, 11, 1, 0, 1},    /* flat, 9 wide, no padding (9 x 9 output) */
        {2, 5, 6, 7, 13, 1, 1, 0},     /* flat, 13 wide */
        {2, 20, 37, 10, 9, 1, 1, 1},   /* dW over output-channel lanes: 3 blocks, the last of 5 */
        {1, 4, 18, 9, 12, 2, 2, 0},    /* the same at stride 2, padding 2 (7 wide) */
        {3, 1, 40, 5, 5, 2, 1, 0},     /* the same in two chunks (dW added per chunk) */
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        check_shape(&shapes[i]);

    /* depthwise kernels: borders, widths below / above one and two vectors, both strides */
    check_dw(2, 5, 9, 7, 1, 1, 0, NN_ACT_NONE);
    check_dw(3, 4, 17, 33, 1, 1, 1, NN_ACT_RELU6);
    check_dw(1, 3, 20, 40, 1, 0, 0, NN_ACT_RELU);
    check_dw(2, 3, 12, 15, 1, 2, 1, NN_ACT_RELU6);
    check_dw(2, 4, 17, 35, 2, 0, 1, NN_ACT_RELU6);
    check_dw(2, 3, 16, 64, 2, 1, 0, NN_ACT_NONE);
    check_dw(1, 2, 9, 70, 2, 2, 0, NN_ACT_RELU);
    /* stride 2 with a zero row below and column right beyond the padding (MobileNet's
     * ZeroPadding2D((0, 1), (0, 1)) as the conv's own), even and odd sizes */
    check_dw_x(2, 4, 16, 16, 2, 0, 0, NN_ACT_RELU6, 1);
    check_dw_x(2, 3, 17, 35, 2, 0, 1, NN_ACT_NONE, 1);
    check_dw_x(1, 3, 12, 9, 2, 1, 0, NN_ACT_RELU, 1);
    /* over 64 strips of 16 columns (their masks computed per row), both strides */
    check_dw(1, 2, 3, 1100, 1, 1, 1, NN_ACT_RELU);
    check_dw_x(2, 2, 4, 2100, 2, 0, 0, NN_ACT_RELU6, 1);
    /* stride-1 planes at least 32 wide in bands of rows (dwf_plane_band_avx512): several
     * bands (40 rows of 102 floats: 17 rows a band), one row a band (the widest taken),
     * padding 2, a row over the last vector of a band */
    check_dw(2, 3, 40, 100, 1, 1, 1, NN_ACT_RELU6);
    check_dw(1, 2, 5, 664, 1, 1, 0, NN_ACT_NONE);
    check_dw(1, 2, 23, 50, 1, 2, 1, NN_ACT_RELU);
    check_dw(2, 2, 37, 45, 1, 1, 0, NN_ACT_RELU);
    /* small stride-1 planes taken flat (16 pixels per vector across rows): MobileNet's 6 x 6
     * and 3 x 3, a single pixel and a single row or column, non-square, the 1024-pixel limit
     * either side (32 x 32 is a multiple of 16 wide: rows; 31 x 33 flat; 33 x 33 rows) */
    check_dw(2, 5, 6, 6, 1, 1, 1, NN_ACT_RELU);
    check_dw(3, 7, 3, 3, 1, 1, 0, NN_ACT_RELU6);
    check_dw(2, 3, 1, 1, 1, 1, 1, NN_ACT_NONE);
    check_dw(2, 3, 1, 11, 1, 1, 0, NN_ACT_RELU);
    check_dw(2, 3, 11, 1, 1, 1, 0, NN_ACT_RELU);
    check_dw(1, 4, 12, 12, 1, 1, 1, NN_ACT_RELU6);
    check_dw(2, 2, 5, 13, 1, 1, 1, NN_ACT_NONE);
    check_dw(1, 2, 31, 33, 1, 1, 0, NN_ACT_RELU);
    check_dw(1, 2, 33, 33, 1, 1, 0, NN_ACT_RELU);

    /* 1x1 convs: a plane under one vector, a single pixel, planes not a multiple of 16
     * (tiles across two images), output channels not a multiple of the tile (70 = 8 * 8 + 4 +
     * 2), 200 input channels, MobileNet's 14 x 14, a large plane in several chunks of tiles */
    check_pw(2, 3, 5, 3, 3, 0, NN_ACT_NONE);
    check_pw(3, 13, 11, 1, 1, 1, NN_ACT_RELU);
    check_pw(5, 17, 9, 7, 7, 1, NN_ACT_RELU6);
    check_pw(1, 32, 24, 20, 33, 0, NN_ACT_RELU6);
    check_pw(2, 5, 70, 6, 6, 1, NN_ACT_RELU);
    check_pw(2, 200, 12, 5, 13, 1, NN_ACT_NONE);
    check_pw(3, 8, 16, 14, 14, 0, NN_ACT_RELU6);
    check_pw(2, 4, 10, 112, 112, 1, NN_ACT_RELU6);

    {
        static const shape set_shapes[] = {
            {2, 9, 12, 12, 18, 1, 1, 0}, {2, 16, 16, 34, 32, 1, 1, 0}, {2, 8, 16, 20, 30, 2, 1, 0},
            {2, 12, 9, 8, 8, 1, 1, 0}};
        for (int k = 0; k < 4; k++)
            check_set(&set_shapes[k]);
    }

    /* BN: planes shorter than 8, a tail of every length class, long planes */
    check_bn(3, 4, 5, NN_ACT_NONE);
    check_bn(2, 5, 37, NN_ACT_RELU);
    check_bn(2, 3, 32 * 9 + 23, NN_ACT_RELU6);
    check_bn(4, 2, 96 * 72, NN_ACT_RELU);
    check_bn(1, 3, 64 + 15, NN_ACT_NONE);

    /* depthwise and grouped convs never take the direct kernels, even when forced */
    nn_conv_set_algo(NN_CONV_DIRECT);
    nn_conv_geom dwg = {2, 8, 16, 16, 8, 3, 3, 1, 1, 1, 1, 8, 16, 16, 0};
    nn_conv_geom grp = {2, 8, 16, 16, 8, 3, 3, 1, 1, 1, 1, 2, 16, 16, 0};
    for (int pass = 0; pass < 3; pass++)
        CHECK(!nn_conv_direct_use(&dwg, pass) && !nn_conv_direct_use(&grp, pass),
              "pass %d: a grouped conv would run the direct kernel", pass);
    nn_conv_set_algo(NN_CONV_AUTO);
    TEST_END();
}
