/* nn_ops.c — the layer kernels, float32 NCHW. Gradients accumulate into dx/dw/db. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <string.h>

#include "nn_internal.h"

/* ------------------------------------------------------------------ conv2d */

static int conv_is_gemm(const nn_conv_geom *g)
{
    return g->kh == 1 && g->kw == 1 && g->sh == 1 && g->sw == 1 && g->ph == 0 && g->pw == 0 &&
           g->groups == 1;
}

static int conv_is_depthwise(const nn_conv_geom *g)
{
    return g->groups > 1 && g->groups == g->ic && g->groups == g->oc;
}

size_t nn_conv2d_col_size(const nn_conv_geom *g)
{
    if (conv_is_gemm(g) || conv_is_depthwise(g))
        return 0;
    return (size_t)g->ic * g->kh * g->kw * g->oh * g->ow;
}

/* col [IC*KH*KW, OH*OW] from one image x [IC, H, W] */
static void im2col(const nn_conv_geom *g, const float *x, float *col)
{
    const int ohw = g->oh * g->ow;
    for (int c = 0; c < g->ic; c++)
        for (int ki = 0; ki < g->kh; ki++)
            for (int kj = 0; kj < g->kw; kj++) {
                float *row = col + ((size_t)(c * g->kh + ki) * g->kw + kj) * ohw;
                const float *xc = x + (size_t)c * g->h * g->w;
                for (int oy = 0; oy < g->oh; oy++) {
                    int iy = oy * g->sh - g->ph + ki;
                    float *r = row + (size_t)oy * g->ow;
                    if (iy < 0 || iy >= g->h) {
                        memset(r, 0, sizeof(float) * (size_t)g->ow);
                        continue;
                    }
                    const float *xr = xc + (size_t)iy * g->w;
                    for (int ox = 0; ox < g->ow; ox++) {
                        int ix = ox * g->sw - g->pw + kj;
                        r[ox] = (ix >= 0 && ix < g->w) ? xr[ix] : 0.0f;
                    }
                }
            }
}

/* dx [IC, H, W] += col2im(dcol [IC*KH*KW, OH*OW]) */
static void col2im_add(const nn_conv_geom *g, const float *dcol, float *dx)
{
    const int ohw = g->oh * g->ow;
    for (int c = 0; c < g->ic; c++)
        for (int ki = 0; ki < g->kh; ki++)
            for (int kj = 0; kj < g->kw; kj++) {
                const float *row = dcol + ((size_t)(c * g->kh + ki) * g->kw + kj) * ohw;
                float *xc = dx + (size_t)c * g->h * g->w;
                for (int oy = 0; oy < g->oh; oy++) {
                    int iy = oy * g->sh - g->ph + ki;
                    if (iy < 0 || iy >= g->h)
                        continue;
                    const float *r = row + (size_t)oy * g->ow;
                    float *xr = xc + (size_t)iy * g->w;
                    for (int ox = 0; ox < g->ow; ox++) {
                        int ix = ox * g->sw - g->pw + kj;
                        if (ix >= 0 && ix < g->w)
                            xr[ix] += r[ox];
                    }
                }
            }
}

static void depthwise_forward(const nn_conv_geom *g, const float *x, const float *wt,
                              const float *b, float *y)
{
    for (int n = 0; n < g->n; n++)
        for (int c = 0; c < g->ic; c++) {
            const float *xc = x + ((size_t)n * g->ic + c) * g->h * g->w;
            const float *k = wt + (size_t)c * g->kh * g->kw;
            float *yc = y + ((size_t)n * g->oc + c) * g->oh * g->ow;
            float bias = b ? b[c] : 0.0f;
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

static void depthwise_backward(const nn_conv_geom *g, const float *x, const float *wt,
                               const float *dy, float *dx, float *dw)
{
    for (int n = 0; n < g->n; n++)
        for (int c = 0; c < g->ic; c++) {
            const float *xc = x ? x + ((size_t)n * g->ic + c) * g->h * g->w : NULL;
            float *dxc = dx ? dx + ((size_t)n * g->ic + c) * g->h * g->w : NULL;
            const float *k = wt + (size_t)c * g->kh * g->kw;
            float *dk = dw ? dw + (size_t)c * g->kh * g->kw : NULL;
            const float *dyc = dy + ((size_t)n * g->oc + c) * g->oh * g->ow;
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

void nn_conv2d_forward(const nn_conv_geom *g, const float *x, const float *wt, const float *b,
                       float *y, float *col)
{
    if (conv_is_depthwise(g)) {
        depthwise_forward(g, x, wt, b, y);
        return;
    }
    const int G = g->groups, ocg = g->oc / G, icg = g->ic / G;
    const int K = icg * g->kh * g->kw, ohw = g->oh * g->ow;
    for (int n = 0; n < g->n; n++) {
        const float *xn = x + (size_t)n * g->ic * g->h * g->w;
        float *yn = y + (size_t)n * g->oc * ohw;
        const float *cn = xn; /* 1x1 stride 1: the image is already [IC, H*W] */
        if (!conv_is_gemm(g)) {
            im2col(g, xn, col); /* [IC*KH*KW, OH*OW] */
            cn = col;
        }
        for (int gi = 0; gi < G; gi++) {
            /* [OCg, OH*OW] = [OCg, ICg*KH*KW] x [ICg*KH*KW, OH*OW] */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, ocg, ohw, K, 1.0f,
                        wt + (size_t)gi * ocg * K, K, cn + (size_t)gi * K * ohw, ohw, 0.0f,
                        yn + (size_t)gi * ocg * ohw, ohw);
        }
        if (b)
            for (int o = 0; o < g->oc; o++) {
                float *yo = yn + (size_t)o * ohw;
                for (int i = 0; i < ohw; i++)
                    yo[i] += b[o];
            }
    }
}

void nn_conv2d_backward(const nn_conv_geom *g, const float *x, const float *wt,
                        const float *dy, float *dx, float *dw, float *db, float *col,
                        float *dcol)
{
    const int ohw = g->oh * g->ow;
    if (db)
        for (int n = 0; n < g->n; n++)
            for (int o = 0; o < g->oc; o++) {
                const float *d = dy + ((size_t)n * g->oc + o) * ohw;
                double s = 0.0;
                for (int i = 0; i < ohw; i++)
                    s += d[i];
                db[o] += (float)s;
            }
    if (conv_is_depthwise(g)) {
        depthwise_backward(g, x, wt, dy, dx, dw);
        return;
    }
    const int G = g->groups, ocg = g->oc / G, icg = g->ic / G;
    const int K = icg * g->kh * g->kw;
    const int gemm = conv_is_gemm(g);
    for (int n = 0; n < g->n; n++) {
        const float *dyn = dy + (size_t)n * g->oc * ohw;
        if (dw) {
            const float *xn = x + (size_t)n * g->ic * g->h * g->w;
            const float *cn = xn;
            if (!gemm) {
                im2col(g, xn, col); /* [IC*KH*KW, OH*OW] */
                cn = col;
            }
            for (int gi = 0; gi < G; gi++)
                /* dW_g [OCg, ICg*KH*KW] += dy_g [OCg, OH*OW] x col_g^T [OH*OW, ICg*KH*KW] */
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ocg, K, ohw, 1.0f,
                            dyn + (size_t)gi * ocg * ohw, ohw, cn + (size_t)gi * K * ohw, ohw,
                            1.0f, dw + (size_t)gi * ocg * K, K);
        }
        if (dx) {
            float *dxn = dx + (size_t)n * g->ic * g->h * g->w;
            /* 1x1 stride 1: accumulate straight into dx [IC, H*W] */
            float *dc = gemm ? dxn : dcol;
            for (int gi = 0; gi < G; gi++)
                /* dcol_g [ICg*KH*KW, OH*OW] = W_g^T [ICg*KH*KW, OCg] x dy_g [OCg, OH*OW] */
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, ohw, ocg, 1.0f,
                            wt + (size_t)gi * ocg * K, K, dyn + (size_t)gi * ocg * ohw, ohw,
                            gemm ? 1.0f : 0.0f, dc + (size_t)gi * K * ohw, ohw);
            if (!gemm)
                col2im_add(g, dcol, dxn);
        }
    }
}

/* ------------------------------------------------------------------ batch norm */

void nn_bn_forward_train(int n, int c, int hw, const float *x, const float *gamma,
                         const float *beta, float eps, float momentum, float *rmean,
                         float *rvar, float *y, float *save_mean, float *save_invstd)
{
    const double m = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double s = 0.0;
        for (int i = 0; i < n; i++) {
            const float *xc = x + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++)
                s += xc[j];
        }
        double mean = s / m, ss = 0.0;
        for (int i = 0; i < n; i++) {
            const float *xc = x + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) {
                double d = xc[j] - mean;
                ss += d * d;
            }
        }
        double var = ss / m;
        double invstd = 1.0 / sqrt(var + eps);
        save_mean[ch] = (float)mean;
        save_invstd[ch] = (float)invstd;
        if (rmean && rvar) {
            double unbiased = m > 1 ? ss / (m - 1) : var;
            rmean[ch] = (float)((1.0 - momentum) * rmean[ch] + momentum * mean);
            rvar[ch] = (float)((1.0 - momentum) * rvar[ch] + momentum * unbiased);
        }
        float a = (float)(gamma[ch] * invstd), b = (float)(beta[ch] - gamma[ch] * invstd * mean);
        for (int i = 0; i < n; i++) {
            const float *xc = x + ((size_t)i * c + ch) * hw;
            float *yc = y + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++)
                yc[j] = xc[j] * a + b;
        }
    }
}

void nn_bn_forward_eval(int n, int c, int hw, const float *x, const float *gamma,
                        const float *beta, float eps, const float *rmean, const float *rvar,
                        float *y)
{
    for (int ch = 0; ch < c; ch++) {
        double invstd = 1.0 / sqrt((double)rvar[ch] + eps);
        float a = (float)(gamma[ch] * invstd);
        float b = (float)(beta[ch] - gamma[ch] * invstd * rmean[ch]);
        for (int i = 0; i < n; i++) {
            const float *xc = x + ((size_t)i * c + ch) * hw;
            float *yc = y + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++)
                yc[j] = xc[j] * a + b;
        }
    }
}

void nn_bn_backward(int n, int c, int hw, int batch_stats, const float *x,
                    const float *gamma, const float *mean, const float *invstd,
                    const float *dy, float *dx, float *dgamma, float *dbeta)
{
    const double m = (double)n * hw;
    const int need_x = batch_stats || dgamma;
    for (int ch = 0; ch < c; ch++) {
        double sdy = 0.0, sdyx = 0.0;
        const double mu = mean[ch], is = invstd[ch];
        for (int i = 0; i < n; i++) {
            const float *dyc = dy + ((size_t)i * c + ch) * hw;
            if (need_x) {
                const float *xc = x + ((size_t)i * c + ch) * hw;
                for (int j = 0; j < hw; j++) {
                    sdy += dyc[j];
                    sdyx += dyc[j] * ((xc[j] - mu) * is);
                }
            } else {
                for (int j = 0; j < hw; j++)
                    sdy += dyc[j];
            }
        }
        if (dgamma)
            dgamma[ch] += (float)sdyx;
        if (dbeta)
            dbeta[ch] += (float)sdy;
        if (!dx)
            continue;
        const double k = gamma[ch] * is;
        if (!batch_stats) { /* statistics are constants: dx = gamma * invstd * dy */
            for (int i = 0; i < n; i++) {
                const float *dyc = dy + ((size_t)i * c + ch) * hw;
                float *dxc = dx + ((size_t)i * c + ch) * hw;
                for (int j = 0; j < hw; j++)
                    dxc[j] += (float)(k * dyc[j]);
            }
            continue;
        }
        /* dx = gamma*invstd/m * (m*dy - sum(dy) - xhat*sum(dy*xhat)) */
        const double a = sdy / m, b = sdyx / m;
        for (int i = 0; i < n; i++) {
            const float *xc = x + ((size_t)i * c + ch) * hw;
            const float *dyc = dy + ((size_t)i * c + ch) * hw;
            float *dxc = dx + ((size_t)i * c + ch) * hw;
            for (int j = 0; j < hw; j++) {
                double xh = (xc[j] - mu) * is;
                dxc[j] += (float)(k * (dyc[j] - a - xh * b));
            }
        }
    }
}

/* ------------------------------------------------------------------ activations */

void nn_relu_forward(size_t n, const float *x, float *y, float cap)
{
    if (cap > 0.0f) {
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] > 0.0f ? (x[i] < cap ? x[i] : cap) : 0.0f;
    } else {
        for (size_t i = 0; i < n; i++)
            y[i] = x[i] > 0.0f ? x[i] : 0.0f;
    }
}

/* From the output: relu passes where y > 0; relu6 where 0 < y < 6 (PyTorch's hardtanh). */
void nn_relu_backward(size_t n, const float *y, const float *dy, float *dx, float cap)
{
    if (cap > 0.0f) {
        for (size_t i = 0; i < n; i++)
            if (y[i] > 0.0f && y[i] < cap)
                dx[i] += dy[i];
    } else {
        for (size_t i = 0; i < n; i++)
            if (y[i] > 0.0f)
                dx[i] += dy[i];
    }
}

/* ------------------------------------------------------------------ pooling */

/* Index (in the channel plane) of the window's maximum; -1 if the window is all padding.
 * Ties go to the first, as in PyTorch. */
static long pool_argmax(const nn_conv_geom *g, const float *xc, int oy, int ox)
{
    long best = -1;
    float bv = -FLT_MAX;
    for (int ki = 0; ki < g->kh; ki++) {
        int iy = oy * g->sh - g->ph + ki;
        if (iy < 0 || iy >= g->h)
            continue;
        for (int kj = 0; kj < g->kw; kj++) {
            int ix = ox * g->sw - g->pw + kj;
            if (ix < 0 || ix >= g->w)
                continue;
            long idx = (long)iy * g->w + ix;
            float v = xc[idx];
            if (best < 0 || v > bv || isnan(v)) {
                best = idx;
                bv = v;
            }
        }
    }
    return best;
}

void nn_maxpool_forward(const nn_conv_geom *g, const float *x, float *y)
{
    for (int p = 0; p < g->n * g->ic; p++) {
        const float *xc = x + (size_t)p * g->h * g->w;
        float *yc = y + (size_t)p * g->oh * g->ow;
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                long i = pool_argmax(g, xc, oy, ox);
                yc[oy * g->ow + ox] = i >= 0 ? xc[i] : 0.0f;
            }
    }
}

void nn_maxpool_backward(const nn_conv_geom *g, const float *x, const float *dy, float *dx)
{
    for (int p = 0; p < g->n * g->ic; p++) {
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
    /* y [N, OUT] = x [N, IN] x W^T [IN, OUT] */
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, wt, in, 0.0f,
                y, out);
    if (b)
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++)
                y[(size_t)i * out + o] += b[o];
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

void nn_add_forward(size_t n, const float *a, const float *b, float *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = a[i] + b[i];
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
void nn_shortcut_a_forward(int n, int c, int h, int w, int s, int cb, int ca, const float *x,
                           float *y)
{
    const int oh = (h + s - 1) / s, ow = (w + s - 1) / s, oc = cb + c + ca;
    memset(y, 0, sizeof(float) * (size_t)n * oc * oh * ow);
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            const float *xc = x + ((size_t)i * c + ch) * h * w;
            float *yc = y + ((size_t)i * oc + cb + ch) * oh * ow;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    yc[(size_t)oy * ow + ox] = xc[(size_t)oy * s * w + (size_t)ox * s];
        }
}

void nn_shortcut_a_backward(int n, int c, int h, int w, int s, int cb, int ca,
                            const float *dy, float *dx)
{
    const int oh = (h + s - 1) / s, ow = (w + s - 1) / s, oc = cb + c + ca;
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            float *dxc = dx + ((size_t)i * c + ch) * h * w;
            const float *dyc = dy + ((size_t)i * oc + cb + ch) * oh * ow;
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    dxc[(size_t)oy * s * w + (size_t)ox * s] += dyc[(size_t)oy * ow + ox];
        }
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

/* ------------------------------------------------------------------ threads */

int nn_set_threads(int n)
{
    if (n < 1)
        n = 1;
    openblas_set_num_threads(n);
    return openblas_get_num_threads();
}

int nn_get_threads(void)
{
    return openblas_get_num_threads();
}
