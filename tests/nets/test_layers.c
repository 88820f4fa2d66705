/* test_layers.c — every op: forward against a naive double-precision reference (NMSE),
 * backward against central differences of L = sum(r * y) for a fixed random r. */
#include <float.h>
#include <string.h>

#include "nets/nn_internal.h"
#include "test_util.h"

typedef struct lt lt;
struct lt {
    const char *name;
    int nin;
    float *in[3];
    size_t len[3];
    float *grad[3];
    float *y, *r;
    double *yref;
    size_t ny;
    void (*fwd)(lt *);
    void (*ref)(lt *);
    void (*bwd)(lt *);
    nn_conv_geom g;
    int n, c, h, w, hw, cap, batch_stats, pad[4], s, cb, ca;
    float eps, mom, p;
    float *aux, *col, *dcol;
    float *rm, *rv;
    uint64_t seed;
};

static nn_rng g_rng;

static float *rnd(size_t n, float lo, float hi)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        p[i] = lo + (hi - lo) * nn_rng_uniform(&g_rng);
    return p;
}

/* Distinct values spaced by 4/n (a shuffled ramp, none at 0): no maxpool ties and no
 * relu kinks within the finite-difference step. */
static float *rnd_sep(size_t n)
{
    float *p = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        p[i] = -2.0f + 4.0f * ((float)i + 0.5f) / (float)n;
    for (size_t i = n; i > 1; i--) {
        size_t j = nn_rng_u64(&g_rng) % i;
        float t = p[i - 1];
        p[i - 1] = p[j];
        p[j] = t;
    }
    return p;
}

static double loss_of(const lt *t)
{
    double s = 0;
    for (size_t i = 0; i < t->ny; i++)
        s += (double)t->r[i] * t->y[i];
    return s;
}

static void check_op(lt *t, double fd_eps, double tol)
{
    t->r = rnd(t->ny, -1, 1);
    t->yref = malloc(sizeof(double) * t->ny);
    t->fwd(t);
    t->ref(t);
    double e = nmse_fd(t->y, t->yref, t->ny);
    CHECK_LE(e, 1e-11, "%s forward NMSE", t->name);
    for (int k = 0; k < t->nin; k++)
        t->grad[k] = calloc(t->len[k], sizeof(float));
    t->fwd(t); /* the state backward needs (masks, saved statistics) */
    t->bwd(t);
    double worst = 0;
    for (int k = 0; k < t->nin; k++) {
        for (size_t i = 0; i < t->len[k]; i++) {
            float x0 = t->in[k][i];
            t->in[k][i] = x0 + (float)fd_eps;
            double dp = (double)t->in[k][i] - x0;
            t->fwd(t);
            double lp = loss_of(t);
            t->in[k][i] = x0 - (float)fd_eps;
            double dm = x0 - (double)t->in[k][i];
            t->fwd(t);
            double lm = loss_of(t);
            t->in[k][i] = x0;
            double num = (lp - lm) / (dp + dm), ana = t->grad[k][i];
            double err = fabs(num - ana) / (1.0 + fabs(ana));
            if (err > worst)
                worst = err;
            if (err > tol) {
                CHECK(0, "%s d/d%s[%zu]: numeric %.6g analytic %.6g", t->name,
                      k == 0 ? "x" : k == 1 ? "w" : "b", i, num, ana);
                break;
            }
        }
    }
    printf("%-28s fwd NMSE %.2e  bwd worst rel err %.2e\n", t->name, e, worst);
    for (int k = 0; k < t->nin; k++) {
        free(t->in[k]);
        free(t->grad[k]);
    }
    free(t->y);
    free(t->r);
    free(t->yref);
    free(t->col);
    free(t->dcol);
    free(t->aux);
    free(t->rm);
    free(t->rv);
}

/* ------------------------------------------------------------------ conv */

static void conv_fwd(lt *t)
{
    nn_conv2d_forward(&t->g, t->in[0], t->in[1], t->nin > 2 ? t->in[2] : NULL, t->y, t->col);
}

static void conv_ref(lt *t)
{
    const nn_conv_geom *g = &t->g;
    int icg = g->ic / g->groups, ocg = g->oc / g->groups;
    for (int n = 0; n < g->n; n++)
        for (int o = 0; o < g->oc; o++)
            for (int oy = 0; oy < g->oh; oy++)
                for (int ox = 0; ox < g->ow; ox++) {
                    double s = t->nin > 2 ? t->in[2][o] : 0.0;
                    int gi = o / ocg;
                    for (int c = 0; c < icg; c++)
                        for (int ki = 0; ki < g->kh; ki++)
                            for (int kj = 0; kj < g->kw; kj++) {
                                int iy = oy * g->sh - g->ph + ki, ix = ox * g->sw - g->pw + kj;
                                if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                    continue;
                                s += (double)t->in[0][(((size_t)n * g->ic + gi * icg + c) * g->h +
                                                       iy) * g->w + ix] *
                                     t->in[1][(((size_t)o * icg + c) * g->kh + ki) * g->kw + kj];
                            }
                    t->yref[(((size_t)n * g->oc + o) * g->oh + oy) * g->ow + ox] = s;
                }
}

static void conv_bwd(lt *t)
{
    nn_conv2d_backward(&t->g, t->in[0], t->in[1], t->r, t->grad[0], t->grad[1],
                       t->nin > 2 ? t->grad[2] : NULL, t->col, t->dcol);
}

/* extra: zero rows below and columns right of the input beyond p (MobileNet's stride-2
 * depthwise convs: padding (0, 1)) */
static void test_conv_x(const char *name, int n, int ic, int h, int w, int oc, int kh, int kw,
                        int s, int p, int groups, int bias, int extra)
{
    lt t = {0};
    t.name = name;
    nn_conv_geom *g = &t.g;
    *g = (nn_conv_geom){n, ic, h, w, oc, kh, kw, s, s, p, p, groups, 0, 0, 0};
    g->oh = (h + 2 * p + extra - kh) / s + 1;
    g->ow = (w + 2 * p + extra - kw) / s + 1;
    t.nin = bias ? 3 : 2;
    t.len[0] = (size_t)n * ic * h * w;
    t.len[1] = (size_t)oc * (ic / groups) * kh * kw;
    t.len[2] = (size_t)oc;
    for (int k = 0; k < t.nin; k++)
        t.in[k] = rnd(t.len[k], -1, 1);
    t.ny = (size_t)n * oc * g->oh * g->ow;
    t.y = malloc(sizeof(float) * t.ny);
    size_t cs = nn_conv2d_col_size(g);
    t.col = malloc(sizeof(float) * (cs ? cs : 1));
    t.dcol = malloc(sizeof(float) * (cs ? cs : 1));
    t.fwd = conv_fwd;
    t.ref = conv_ref;
    t.bwd = conv_bwd;
    check_op(&t, 1e-2, 2e-3);
}

static void test_conv(const char *name, int n, int ic, int h, int w, int oc, int kh, int kw,
                      int s, int p, int groups, int bias)
{
    test_conv_x(name, n, ic, h, w, oc, kh, kw, s, p, groups, bias, 0);
}

/* nn_conv2d_forward_post (conv + bias, then an eval-mode BN and the activation, in the conv's
 * pass) against the conv and nn_bn_relu_forward_eval run apart: the same bits, on every GEMM
 * path (maps under 1024 pixels transposed or padded, maps of 1024 or more in column blocks,
 * 1x1 and im2col, grouped); the conv itself against the double reference; groups 1: the same
 * bits on 1 and 2 threads. */
static void test_conv_post(const char *name, int n, int ic, int h, int w, int oc, int k, int p,
                           int groups, int act)
{
    lt t = {0};
    t.name = name;
    nn_conv_geom *g = &t.g;
    *g = (nn_conv_geom){n, ic, h, w, oc, k, k, 1, 1, p, p, groups, 0, 0, 0};
    g->oh = h + 2 * p - k + 1;
    g->ow = w + 2 * p - k + 1;
    t.nin = 3;
    t.len[0] = (size_t)n * ic * h * w;
    t.len[1] = (size_t)oc * (ic / groups) * k * k;
    t.len[2] = (size_t)oc;
    for (int i = 0; i < 3; i++)
        t.in[i] = rnd(t.len[i], -1, 1);
    const size_t ny = (size_t)n * oc * g->oh * g->ow, cs = nn_conv2d_col_size(g);
    t.ny = ny;
    t.y = malloc(sizeof(float) * ny);
    t.yref = malloc(sizeof(double) * ny);
    t.col = malloc(sizeof(float) * (cs ? cs : 1));
    const float eps = 1e-3f;
    float *gm = rnd((size_t)oc, 0.5f, 1.5f), *bt = rnd((size_t)oc, -1, 1);
    float *rm = rnd((size_t)oc, -1, 1), *rv = rnd((size_t)oc, 0.1f, 2);
    float *pa = malloc(sizeof(float) * 2 * (size_t)oc), *pb = pa + oc;
    for (int c = 0; c < oc; c++) { /* as nn_net folds them */
        double invstd = 1.0 / sqrt((double)rv[c] + eps);
        pa[c] = (float)(gm[c] * invstd);
        pb[c] = (float)(bt[c] - gm[c] * invstd * rm[c]);
    }
    float *apart = malloc(sizeof(float) * ny), *fused = malloc(sizeof(float) * ny);
    float *fused1 = malloc(sizeof(float) * ny);
    /* the GEMM paths (1x1 stride-1 convs would take nn_conv_pw, which test_conv_direct checks) */
    nn_conv_set_algo(NN_CONV_GEMM);
    nn_set_threads(2);
    conv_fwd(&t);
    conv_ref(&t);
    const double e = nmse_fd(t.y, t.yref, ny);
    CHECK_LE(e, 1e-11, "%s: conv forward NMSE", name);
    nn_bn_relu_forward_eval(n, oc, g->oh * g->ow, t.y, gm, bt, eps, rm, rv, apart, act);
    nn_conv2d_forward_post(g, t.in[0], t.in[1], t.in[2], pa, pb, act, fused, t.col);
    nn_set_threads(1);
    nn_conv2d_forward_post(g, t.in[0], t.in[1], t.in[2], pa, pb, act, fused1, t.col);
    const int same = memcmp(apart, fused, sizeof(float) * ny) == 0;
    const int same1 = groups > 1 || memcmp(fused, fused1, sizeof(float) * ny) == 0;
    CHECK(same, "%s: conv + BN in one pass differs from the two passes", name);
    CHECK(same1, "%s: conv + BN in one pass, 1 and 2 threads differ", name);
    nn_conv_set_algo(NN_CONV_AUTO);
    printf("%-36s fwd NMSE %.2e, with BN in its pass: %s\n", name, e,
           same && same1 ? "the same bits as apart" : "DIFFERENT");
    for (int i = 0; i < 3; i++)
        free(t.in[i]);
    free(t.y), free(t.yref), free(t.col), free(gm), free(bt), free(rm), free(rv), free(pa);
    free(apart), free(fused), free(fused1);
}

/* ------------------------------------------------------------------ batch norm */

static void bn_fwd(lt *t)
{
    if (t->batch_stats)
        nn_bn_forward_train(t->n, t->c, t->hw, t->in[0], t->in[1], t->in[2], t->eps, t->mom, NULL,
                            NULL, t->y, t->aux, t->aux + t->c);
    else {
        nn_bn_forward_eval(t->n, t->c, t->hw, t->in[0], t->in[1], t->in[2], t->eps, t->rm, t->rv,
                           t->y);
        for (int c = 0; c < t->c; c++) {
            t->aux[c] = t->rm[c];
            t->aux[t->c + c] = (float)(1.0 / sqrt((double)t->rv[c] + t->eps));
        }
    }
}

static void bn_ref(lt *t)
{
    for (int c = 0; c < t->c; c++) {
        double mean, var;
        if (t->batch_stats) {
            double s = 0, ss = 0, m = (double)t->n * t->hw;
            for (int i = 0; i < t->n; i++)
                for (int j = 0; j < t->hw; j++)
                    s += t->in[0][((size_t)i * t->c + c) * t->hw + j];
            mean = s / m;
            for (int i = 0; i < t->n; i++)
                for (int j = 0; j < t->hw; j++) {
                    double d = t->in[0][((size_t)i * t->c + c) * t->hw + j] - mean;
                    ss += d * d;
                }
            var = ss / m;
        } else {
            mean = t->rm[c];
            var = t->rv[c];
        }
        for (int i = 0; i < t->n; i++)
            for (int j = 0; j < t->hw; j++) {
                size_t k = ((size_t)i * t->c + c) * t->hw + j;
                t->yref[k] = (t->in[0][k] - mean) / sqrt(var + t->eps) * t->in[1][c] + t->in[2][c];
            }
    }
}

static void bn_bwd(lt *t)
{
    nn_bn_backward(t->n, t->c, t->hw, t->batch_stats, t->in[0], t->in[1], t->aux, t->aux + t->c,
                   t->r, t->grad[0], t->grad[1], t->grad[2]);
}

static void test_bn(const char *name, int batch_stats)
{
    lt t = {0};
    t.name = name;
    t.n = 3, t.c = 4, t.hw = 5 * 6, t.eps = 1e-5f, t.mom = 0.1f, t.batch_stats = batch_stats;
    t.nin = 3;
    t.len[0] = (size_t)t.n * t.c * t.hw;
    t.len[1] = t.len[2] = (size_t)t.c;
    t.in[0] = rnd(t.len[0], -2, 3);
    t.in[1] = rnd(t.len[1], 0.5f, 1.5f);
    t.in[2] = rnd(t.len[2], -0.5f, 0.5f);
    t.rm = rnd(t.c, -0.5f, 0.5f);
    t.rv = rnd(t.c, 0.5f, 2.0f);
    t.aux = malloc(sizeof(float) * 2 * t.c);
    t.ny = t.len[0];
    t.y = malloc(sizeof(float) * t.ny);
    t.fwd = bn_fwd;
    t.ref = bn_ref;
    t.bwd = bn_bwd;
    if (batch_stats) { /* running statistics: PyTorch momentum, unbiased variance */
        float rm[4], rv[4], y0[4 * 3 * 30], sm[4], si[4];
        memcpy(rm, t.rm, sizeof rm);
        memcpy(rv, t.rv, sizeof rv);
        nn_bn_forward_train(t.n, t.c, t.hw, t.in[0], t.in[1], t.in[2], t.eps, t.mom, rm, rv, y0,
                            sm, si);
        for (int c = 0; c < t.c; c++) {
            double s = 0, ss = 0, m = (double)t.n * t.hw;
            for (int i = 0; i < t.n; i++)
                for (int j = 0; j < t.hw; j++)
                    s += t.in[0][((size_t)i * t.c + c) * t.hw + j];
            double mean = s / m;
            for (int i = 0; i < t.n; i++)
                for (int j = 0; j < t.hw; j++) {
                    double d = t.in[0][((size_t)i * t.c + c) * t.hw + j] - mean;
                    ss += d * d;
                }
            double erm = 0.9 * t.rm[c] + 0.1 * mean, erv = 0.9 * t.rv[c] + 0.1 * ss / (m - 1);
            CHECK_LE(fabs(rm[c] - erm), 1e-6, "bn running_mean[%d]", c);
            CHECK_LE(fabs(rv[c] - erv) / erv, 1e-6, "bn running_var[%d]", c);
        }
    }
    check_op(&t, 1e-2, 3e-3);
}

/* ------------------------------------------------------------------ pointwise */

static void relu_fwd(lt *t) { nn_relu_forward(t->ny, t->in[0], t->y, (float)t->cap); }
static void relu_ref(lt *t)
{
    for (size_t i = 0; i < t->ny; i++) {
        double v = t->in[0][i] > 0 ? t->in[0][i] : 0;
        t->yref[i] = t->cap > 0 && v > t->cap ? t->cap : v;
    }
}
static void relu_bwd(lt *t) { nn_relu_backward(t->ny, t->y, t->r, t->grad[0], (float)t->cap); }

static void test_relu(const char *name, int cap)
{
    lt t = {0};
    t.name = name;
    t.cap = cap;
    t.nin = 1;
    t.ny = t.len[0] = 300;
    t.in[0] = rnd_sep(t.len[0]);
    for (size_t i = 0; i < t.ny; i++)
        t.in[0][i] *= 4.0f; /* reach past 6 for relu6 */
    for (size_t i = 0; i < t.ny; i++)
        if (fabsf(t.in[0][i] - 6.0f) < 0.05f)
            t.in[0][i] = 6.5f;
    t.y = malloc(sizeof(float) * t.ny);
    t.fwd = relu_fwd;
    t.ref = relu_ref;
    t.bwd = relu_bwd;
    check_op(&t, 1e-3, 2e-3);
}

/* ------------------------------------------------------------------ pooling */

static void maxpool_fwd(lt *t) { nn_maxpool_forward(&t->g, t->in[0], t->y); }
static void maxpool_bwd(lt *t) { nn_maxpool_backward(&t->g, t->in[0], t->r, t->grad[0]); }
static void avgpool_fwd(lt *t) { nn_avgpool_forward(&t->g, t->in[0], t->y); }
static void avgpool_bwd(lt *t) { nn_avgpool_backward(&t->g, t->r, t->grad[0]); }

static void pool_ref(lt *t)
{
    const nn_conv_geom *g = &t->g;
    for (int p = 0; p < g->n * g->ic; p++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                double mx = -DBL_MAX, s = 0;
                for (int ki = 0; ki < g->kh; ki++)
                    for (int kj = 0; kj < g->kw; kj++) {
                        int iy = oy * g->sh - g->ph + ki, ix = ox * g->sw - g->pw + kj;
                        if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                            continue;
                        double v = t->in[0][((size_t)p * g->h + iy) * g->w + ix];
                        s += v;
                        if (v > mx)
                            mx = v;
                    }
                t->yref[((size_t)p * g->oh + oy) * g->ow + ox] =
                    t->cap ? mx : s / (g->kh * g->kw);
            }
}

static void test_pool(const char *name, int is_max, int k, int s, int p)
{
    lt t = {0};
    t.name = name;
    t.cap = is_max;
    t.g = (nn_conv_geom){2, 3, 9, 8, 3, k, k, s, s, p, p, 1, 0, 0, 0};
    t.g.oh = (9 + 2 * p - k) / s + 1;
    t.g.ow = (8 + 2 * p - k) / s + 1;
    t.nin = 1;
    t.len[0] = 2 * 3 * 9 * 8;
    t.in[0] = rnd_sep(t.len[0]);
    t.ny = (size_t)2 * 3 * t.g.oh * t.g.ow;
    t.y = malloc(sizeof(float) * t.ny);
    t.fwd = is_max ? maxpool_fwd : avgpool_fwd;
    t.bwd = is_max ? maxpool_bwd : avgpool_bwd;
    t.ref = pool_ref;
    check_op(&t, 1e-3, 2e-3);
}

static void gap_fwd(lt *t) { nn_gap_forward(t->n, t->c, t->hw, t->in[0], t->y); }
static void gap_bwd(lt *t) { nn_gap_backward(t->n, t->c, t->hw, t->r, t->grad[0]); }
static void gap_ref(lt *t)
{
    for (int p = 0; p < t->n * t->c; p++) {
        double s = 0;
        for (int j = 0; j < t->hw; j++)
            s += t->in[0][(size_t)p * t->hw + j];
        t->yref[p] = s / t->hw;
    }
}

static void test_gap(void)
{
    lt t = {0};
    t.name = "gap 2x5x7x3";
    t.n = 2, t.c = 5, t.hw = 21, t.nin = 1;
    t.len[0] = (size_t)2 * 5 * 21;
    t.in[0] = rnd(t.len[0], -1, 1);
    t.ny = 10;
    t.y = malloc(sizeof(float) * t.ny);
    t.fwd = gap_fwd;
    t.ref = gap_ref;
    t.bwd = gap_bwd;
    check_op(&t, 1e-2, 2e-3);
}

/* ------------------------------------------------------------------ linear */

static void linear_fwd(lt *t) { nn_linear_forward(t->n, t->c, t->h, t->in[0], t->in[1], t->in[2], t->y); }
static void linear_bwd(lt *t)
{
    nn_linear_backward(t->n, t->c, t->h, t->in[0], t->in[1], t->r, t->grad[0], t->grad[1],
                       t->grad[2]);
}
static void linear_ref(lt *t)
{
    for (int i = 0; i < t->n; i++)
        for (int o = 0; o < t->h; o++) {
            double s = t->in[2][o];
            for (int k = 0; k < t->c; k++)
                s += (double)t->in[0][(size_t)i * t->c + k] * t->in[1][(size_t)o * t->c + k];
            t->yref[(size_t)i * t->h + o] = s;
        }
}

static void test_linear(void)
{
    lt t = {0};
    t.name = "linear 3x17->5";
    t.n = 3, t.c = 17, t.h = 5, t.nin = 3;
    t.len[0] = 3 * 17, t.len[1] = 5 * 17, t.len[2] = 5;
    for (int k = 0; k < 3; k++)
        t.in[k] = rnd(t.len[k], -1, 1);
    t.ny = 15;
    t.y = malloc(sizeof(float) * t.ny);
    t.fwd = linear_fwd;
    t.ref = linear_ref;
    t.bwd = linear_bwd;
    check_op(&t, 1e-2, 2e-3);
}

/* ------------------------------------------------------------------ dropout, add, pad */

static void dropout_fwd(lt *t)
{
    nn_rng r;
    nn_rng_seed(&r, t->seed); /* the same mask every call */
    nn_dropout_forward(t->ny, t->in[0], t->p, &r, t->aux, t->y);
}
static void dropout_ref(lt *t)
{
    for (size_t i = 0; i < t->ny; i++)
        t->yref[i] = (double)t->in[0][i] * t->aux[i];
}
static void dropout_bwd(lt *t) { nn_dropout_backward(t->ny, t->aux, t->r, t->grad[0]); }

static void test_dropout(void)
{
    lt t = {0};
    t.name = "dropout p=0.3";
    t.p = 0.3f, t.seed = 99, t.nin = 1;
    t.ny = t.len[0] = 4000;
    t.in[0] = rnd(t.len[0], -1, 1);
    t.y = malloc(sizeof(float) * t.ny);
    t.aux = malloc(sizeof(float) * t.ny);
    t.fwd = dropout_fwd;
    t.ref = dropout_ref;
    t.bwd = dropout_bwd;
    dropout_fwd(&t);
    size_t zeros = 0;
    for (size_t i = 0; i < t.ny; i++) {
        if (t.aux[i] == 0.0f)
            zeros++;
        else
            CHECK(fabsf(t.aux[i] - 1.0f / 0.7f) < 1e-6f, "dropout scale %g", t.aux[i]);
    }
    CHECK_LE(fabs((double)zeros / t.ny - 0.3), 0.03, "dropout rate");
    check_op(&t, 1e-2, 2e-3);
}

static void add_fwd(lt *t) { nn_add_forward(t->ny, t->in[0], t->in[1], t->y); }
static void add_ref(lt *t)
{
    for (size_t i = 0; i < t->ny; i++)
        t->yref[i] = (double)t->in[0][i] + t->in[1][i];
}
static void add_bwd(lt *t)
{
    for (size_t i = 0; i < t->ny; i++) { /* what the graph does for NN_OP_ADD */
        t->grad[0][i] += t->r[i];
        t->grad[1][i] += t->r[i];
    }
}

static void test_add(void)
{
    lt t = {0};
    t.name = "residual add";
    t.nin = 2;
    t.ny = t.len[0] = t.len[1] = 200;
    t.in[0] = rnd(200, -1, 1);
    t.in[1] = rnd(200, -1, 1);
    t.y = malloc(sizeof(float) * t.ny);
    t.fwd = add_fwd;
    t.ref = add_ref;
    t.bwd = add_bwd;
    check_op(&t, 1e-2, 2e-3);
}

static void pad_fwd(lt *t)
{
    nn_pad_forward(t->n, t->c, t->h, t->w, t->pad[0], t->pad[1], t->pad[2], t->pad[3], t->in[0],
                   t->y);
}
static void pad_bwd(lt *t)
{
    nn_pad_backward(t->n, t->c, t->h, t->w, t->pad[0], t->pad[1], t->pad[2], t->pad[3], t->r,
                    t->grad[0]);
}
static void pad_ref(lt *t)
{
    int oh = t->h + t->pad[0] + t->pad[1], ow = t->w + t->pad[2] + t->pad[3];
    for (int p = 0; p < t->n * t->c; p++)
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++) {
                int y = i - t->pad[0], x = j - t->pad[2];
                t->yref[((size_t)p * oh + i) * ow + j] =
                    (y >= 0 && y < t->h && x >= 0 && x < t->w)
                        ? t->in[0][((size_t)p * t->h + y) * t->w + x]
                        : 0.0;
            }
}

static void test_pad(void)
{
    lt t = {0};
    t.name = "pad (0,1,0,1) and (2,0,1,3)";
    t.n = 2, t.c = 3, t.h = 5, t.w = 4, t.nin = 1;
    t.pad[0] = 2, t.pad[1] = 0, t.pad[2] = 1, t.pad[3] = 3;
    t.len[0] = 2 * 3 * 5 * 4;
    t.in[0] = rnd(t.len[0], -1, 1);
    t.ny = (size_t)2 * 3 * 7 * 8;
    t.y = malloc(sizeof(float) * t.ny);
    t.fwd = pad_fwd;
    t.ref = pad_ref;
    t.bwd = pad_bwd;
    check_op(&t, 1e-2, 2e-3);
    /* Keras ZeroPadding2D(((0, 1), (0, 1))): the extra row/column at the bottom/right */
    float x[4] = {1, 2, 3, 4}, y[9];
    nn_pad_forward(1, 1, 2, 2, 0, 1, 0, 1, x, y);
    const float e[9] = {1, 2, 0, 3, 4, 0, 0, 0, 0};
    CHECK(memcmp(y, e, sizeof e) == 0, "pad (0,1),(0,1) puts zeros at bottom/right");
}

static void sc_fwd(lt *t)
{
    nn_shortcut_a_forward(t->n, t->c, t->h, t->w, t->s, t->cb, t->ca, t->in[0], t->y);
}
static void sc_bwd(lt *t)
{
    nn_shortcut_a_backward_set(t->n, t->c, t->h, t->w, t->s, t->cb, t->ca, t->r, t->grad[0], 0);
}
static void sc_ref(lt *t)
{
    int oh = (t->h + 1) / 2, ow = (t->w + 1) / 2, oc = t->c + t->cb + t->ca;
    for (int n = 0; n < t->n; n++)
        for (int c = 0; c < oc; c++)
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    int ic = c - t->cb;
                    t->yref[(((size_t)n * oc + c) * oh + i) * ow + j] =
                        ic >= 0 && ic < t->c
                            ? t->in[0][(((size_t)n * t->c + ic) * t->h + 2 * i) * t->w + 2 * j]
                            : 0.0;
                }
}

static void test_shortcut(void)
{
    lt t = {0};
    t.name = "shortcut A 16->32, 7x6";
    t.n = 2, t.c = 16, t.h = 7, t.w = 6, t.s = 2, t.cb = 8, t.ca = 8, t.nin = 1;
    t.len[0] = (size_t)2 * 16 * 7 * 6;
    t.in[0] = rnd(t.len[0], -1, 1);
    t.ny = (size_t)2 * 32 * 4 * 3;
    t.y = malloc(sizeof(float) * t.ny);
    t.fwd = sc_fwd;
    t.ref = sc_ref;
    t.bwd = sc_bwd;
    check_op(&t, 1e-2, 2e-3);
    /* the backward that overwrites dx (never reading it) gives the bits of adding into zeros,
     * on 1 and 2 threads */
    enum { NX = 2 * 16 * 7 * 6, NY = 2 * 32 * 4 * 3 };
    float *dy = rnd(NY, -1, 1), *add = calloc(NX, sizeof(float)), *set = malloc(sizeof(float) * NX);
    nn_shortcut_a_backward_set(2, 16, 7, 6, 2, 8, 8, dy, add, 0);
    int same = 1;
    for (int th = 1; th <= 2; th++) {
        nn_set_threads(th);
        memset(set, 0xff, sizeof(float) * NX); /* NaN */
        nn_shortcut_a_backward_set(2, 16, 7, 6, 2, 8, 8, dy, set, 1);
        same = same && memcmp(add, set, sizeof(float) * NX) == 0;
    }
    nn_set_threads(1);
    CHECK(same, "shortcut A: the overwriting backward differs from adding into zeros");
    free(dy), free(add), free(set);
}

/* ------------------------------------------------------------------ loss */

static void test_loss(void)
{
    enum { N = 5, K = 4 };
    float *z = rnd(N * K, -3, 3), d[N * K];
    int lab[N] = {0, 3, 1, 1, 2};
    float cw[K] = {0.5f, 2.0f, 1.0f, 3.0f};
    double loss, ref = 0, wsum = 0;
    wb_error err = {0};
    CHECK(nn_loss_softmax_ce(z, lab, cw, N, K, &loss, d, &err) == 0, "%s", err.msg);
    for (int i = 0; i < N; i++) {
        double mx = -1e30, se = 0;
        for (int j = 0; j < K; j++)
            mx = fmax(mx, z[i * K + j]);
        for (int j = 0; j < K; j++)
            se += exp(z[i * K + j] - mx);
        ref += cw[lab[i]] * -(z[i * K + lab[i]] - mx - log(se));
        wsum += cw[lab[i]];
    }
    ref /= wsum; /* PyTorch: sum w_yi * l_i / sum w_yi */
    CHECK_LE(fabs(loss - ref) / ref, 1e-12, "weighted CE loss %g vs %g", loss, ref);
    double worst = 0;
    for (int i = 0; i < N * K; i++) {
        float z0 = z[i];
        double lp, lm;
        z[i] = z0 + 1e-2f;
        double dp = (double)z[i] - z0;
        nn_loss_softmax_ce(z, lab, cw, N, K, &lp, NULL, &err);
        z[i] = z0 - 1e-2f;
        double dm = z0 - (double)z[i];
        nn_loss_softmax_ce(z, lab, cw, N, K, &lm, NULL, &err);
        z[i] = z0;
        double e = fabs((lp - lm) / (dp + dm) - d[i]);
        worst = fmax(worst, e);
    }
    CHECK_LE(worst, 1e-4, "weighted CE gradient");
    printf("%-28s loss rel err %.2e  bwd worst abs err %.2e\n", "softmax CE (class weights)",
           fabs(loss - ref) / ref, worst);
    int bad[N] = {0, 4, 1, 1, 2};
    CHECK(nn_loss_softmax_ce(z, bad, NULL, N, K, &loss, d, &err) == -1 &&
              strstr(err.msg, "label 4 of sample 1") != NULL,
          "bad label message: %s", err.msg);
    free(z);
}

/* The 3x3 stride-2 maxpool's interior windows (maxpool_plane_3s2) against the generic loop,
 * bit for bit, on planes of odd and even sizes with ties, +0 and -0, infinities and NaNs. */
static void test_maxpool_3s2(void)
{
    static const int hw[][2] = {{1, 1}, {2, 2}, {3, 3}, {4, 5}, {5, 4}, {7, 9}, {48, 36}, {13, 13}};
    int fails = 0;
    for (size_t c = 0; c < sizeof hw / sizeof *hw; c++) {
        const int n = 2, ch = 3, h = hw[c][0], w = hw[c][1];
        nn_conv_geom g = {n, ch, h, w, ch, 3, 3, 2, 2, 1, 1, 1, 0, 0, 0};
        g.oh = (h + 2 - 3) / 2 + 1;
        g.ow = (w + 2 - 3) / 2 + 1;
        const size_t nx = (size_t)n * ch * h * w, ny = (size_t)n * ch * g.oh * g.ow;
        float *x = malloc(sizeof(float) * nx), *a = malloc(sizeof(float) * ny),
              *b = malloc(sizeof(float) * ny);
        for (int round = 0; round < 4; round++) {
            for (size_t i = 0; i < nx; i++) {
                const float u = nn_rng_uniform(&g_rng);
                /* few distinct values (ties), zeros of both signs; from round 1 infinities,
                 * from round 2 NaNs of two payloads */
                float v = (float)((int)(u * 5) - 2);
                if (v == 0.0f && nn_rng_uniform(&g_rng) < 0.5f)
                    v = -0.0f;
                const float r = nn_rng_uniform(&g_rng);
                if (round >= 1 && r < 0.05f)
                    v = r < 0.025f ? INFINITY : -INFINITY;
                if (round >= 2 && r > 0.95f)
                    v = r > 0.975f ? NAN : -NAN;
                if (round == 3 && r > 0.5f && r < 0.6f)
                    v = -0.0f;
                x[i] = v;
            }
            nn_maxpool_set_generic(1);
            nn_maxpool_forward(&g, x, a);
            nn_maxpool_set_generic(0);
            nn_maxpool_forward(&g, x, b);
            if (memcmp(a, b, sizeof(float) * ny) != 0) {
                size_t k = 0;
                while (memcmp(a + k, b + k, sizeof(float)) == 0)
                    k++;
                fprintf(stderr, "maxpool 3x3 s2 %dx%d round %d: output %zu is %g, the generic "
                                "loop's %g\n", h, w, round, k, (double)b[k], (double)a[k]);
                fails++;
            }
        }
        free(x), free(a), free(b);
    }
    CHECK(fails == 0, "maxpool 3x3 stride 2: %d case(s) differ from the generic loop", fails);
    printf("maxpool 3x3 s2 fast path: %s\n", fails ? "DIFFERENT" : "same bits as the generic loop");
}

int main(void)
{
    nn_rng_seed(&g_rng, 12345);
    nn_set_threads(1);
    test_conv("conv 3x3 s1 p1", 2, 3, 7, 6, 4, 3, 3, 1, 1, 1, 0);
    test_conv("conv 3x3 s2 p1 +bias", 2, 3, 7, 8, 5, 3, 3, 2, 1, 1, 1);
    test_conv("conv 7x7 s2 p3", 1, 2, 11, 9, 3, 7, 7, 2, 3, 1, 0);
    test_conv("conv 1x1 s1 (GEMM)", 2, 6, 5, 4, 7, 1, 1, 1, 0, 1, 1);
    test_conv("conv 1x1 s2 (downsample)", 2, 4, 7, 7, 6, 1, 1, 2, 0, 1, 0);
    test_conv("conv 3x3 groups=2", 2, 4, 6, 5, 6, 3, 3, 1, 1, 2, 1);
    test_conv("conv 3x2 s(2) p0", 2, 3, 8, 7, 2, 3, 2, 2, 0, 1, 0);
    test_conv("depthwise 3x3 s1 p1", 2, 5, 6, 7, 5, 3, 3, 1, 1, 5, 0);
    test_conv("depthwise 3x3 s2 p0", 2, 4, 9, 8, 4, 3, 3, 2, 0, 4, 1);
    test_conv_x("depthwise 3x3 s2 p(0,1)", 2, 4, 8, 9, 4, 3, 3, 2, 0, 4, 1, 1);
    test_conv_x("depthwise 3x3 s2 p(1,2)", 2, 3, 7, 6, 3, 3, 3, 2, 1, 3, 0, 1);
    test_conv_post("post 1x1 14x14 (transposed GEMM)", 3, 24, 14, 14, 32, 1, 0, 1, NN_ACT_RELU6);
    test_conv_post("post 5x5 9x7 (padded GEMM)", 3, 5, 9, 7, 6, 5, 2, 1, NN_ACT_RELU);
    test_conv_post("post 1x1 8x8 (one image alone)", 1, 16, 8, 8, 20, 1, 0, 1, NN_ACT_RELU);
    test_conv_post("post 1x1 40x37 (column blocks)", 2, 160, 40, 37, 48, 1, 0, 1, NN_ACT_NONE);
    test_conv_post("post 1x1 32x32 K 400 (column blocks)", 2, 400, 32, 32, 32, 1, 0, 1,
                   NN_ACT_RELU6);
    test_conv_post("post 5x5 36x30 (im2col, blocks)", 2, 12, 36, 30, 20, 5, 2, 1, NN_ACT_RELU);
    test_conv_post("post 3x3 groups=2 34x32", 2, 8, 34, 32, 6, 3, 1, 2, NN_ACT_RELU6);
    nn_set_threads(1);
    test_bn("batchnorm train", 1);
    test_bn("batchnorm eval/frozen", 0);
    test_relu("relu", 0);
    test_relu("relu6", 6);
    test_pool("maxpool 3x3 s2 p1", 1, 3, 2, 1);
    test_pool("maxpool 2x2 s2 p0", 1, 2, 2, 0);
    test_pool("avgpool 3x3 s2 p1", 0, 3, 2, 1);
    test_maxpool_3s2();
    test_gap();
    test_linear();
    test_dropout();
    test_add();
    test_pad();
    test_shortcut();
    test_loss();
    TEST_END();
}
