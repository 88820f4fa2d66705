/* saliency.c — Grad-CAM and occlusion sensitivity. See saliency.h. */
#include "experiments/model/saliency.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int exp_saliency_stage(const nn_net *net, const char *name, wb_error *err)
{
    const int ns = nn_net_num_stages(net);
    if (!name || !name[0])
        return ns - 2;
    int s = nn_net_stage_find(net, name);
    if (s >= 0 && s < ns - 1)
        return s;
    char all[256] = "";
    for (int k = 0; k < ns - 1; k++) {
        strncat(all, nn_net_stage_name(net, k), sizeof all - strlen(all) - 1);
        if (k + 2 < ns)
            strncat(all, ", ", sizeof all - strlen(all) - 1);
    }
    wb_err(err, WB_E_USAGE, NULL, "%s has no stage '%s' to take a map at (stages: %s)", nn_net_arch(net), name,
           all);
    return -1;
}

/* One axis of PyTorch's align_corners=False bilinear: i0, i1 and the weight of i1. */
static void axis(int i, int in, int out, int *i0, int *i1, float *l1)
{
    const float scale = (float)in / (float)out;
    float src = ((float)i + 0.5f) * scale - 0.5f;
    if (src < 0)
        src = 0;
    int a = (int)src;
    *i0 = a;
    *i1 = a + 1 < in ? a + 1 : in - 1;
    *l1 = src - (float)a;
}

void exp_upsample_bilinear(const float *src, int sh, int sw, float *dst, int dh, int dw)
{
    for (int y = 0; y < dh; y++) {
        int y0, y1;
        float ly;
        axis(y, sh, dh, &y0, &y1, &ly);
        for (int x = 0; x < dw; x++) {
            int x0, x1;
            float lx;
            axis(x, sw, dw, &x0, &x1, &lx);
            const float *r0 = src + (size_t)y0 * sw, *r1 = src + (size_t)y1 * sw;
            dst[(size_t)y * dw + x] = (1 - ly) * ((1 - lx) * r0[x0] + lx * r0[x1]) +
                                      ly * ((1 - lx) * r1[x0] + lx * r1[x1]);
        }
    }
}

int exp_gradcam(nn_net *net, const float *x, int h, int w, int stage, int cls, float *map,
                double *score, int grid[2], wb_error *err)
{
    const int K = nn_net_num_classes(net);
    if (cls < 0 || cls >= K)
        return wb_err(err, WB_E_USAGE, NULL, "Grad-CAM: class %d of a %d-class head", cls, K);
    int s[4];
    if (nn_net_stage_shape(net, stage, 1, h, w, s, err) != 0)
        return -1;
    const size_t hw = (size_t)s[2] * s[3], m = (size_t)s[1] * hw;
    float *A = malloc(m * sizeof *A), *G = malloc(m * sizeof *G), *cam = malloc(hw * sizeof *cam);
    float *dl = calloc((size_t)K, sizeof *dl), *logits = malloc((size_t)K * sizeof *logits);
    int rc = -1;
    if (!A || !G || !cam || !dl || !logits) {
        wb_err(err, WB_E_NOMEM, NULL, "Grad-CAM: out of memory for a %dx%dx%d stage output", s[1], s[2], s[3]);
        goto done;
    }
    dl[cls] = 1.0f;
    if (nn_net_stage_grad(net, x, 1, h, w, stage, dl, A, G, err) != 0)
        goto done;
    if (score) {
        if (nn_net_forward(net, x, 1, h, w, 0, logits, err) != 0)
            goto done;
        *score = logits[cls];
    }
    /* double sums in a fixed order: the same bits at any thread count */
    double *acc = calloc(hw, sizeof *acc);
    if (!acc) {
        wb_err(err, WB_E_NOMEM, NULL, "Grad-CAM: out of memory");
        goto done;
    }
    for (int c = 0; c < s[1]; c++) {
        const float *g = G + (size_t)c * hw, *a = A + (size_t)c * hw;
        double alpha = 0;
        for (size_t k = 0; k < hw; k++)
            alpha += g[k];
        alpha /= (double)hw;
        for (size_t k = 0; k < hw; k++)
            acc[k] += alpha * a[k];
    }
    for (size_t k = 0; k < hw; k++)
        cam[k] = acc[k] > 0 ? (float)acc[k] : 0.0f;
    free(acc);
    exp_upsample_bilinear(cam, s[2], s[3], map, h, w);
    if (grid) {
        grid[0] = s[2];
        grid[1] = s[3];
    }
    rc = 0;
done:
    free(A);
    free(G);
    free(cam);
    free(dl);
    free(logits);
    return rc;
}

/* softmax probability of class cls from K logits */
static double prob_of(const float *z, int K, int cls)
{
    double mx = -INFINITY, s = 0;
    for (int k = 0; k < K; k++)
        mx = fmax(mx, z[k]);
    for (int k = 0; k < K; k++)
        s += exp(z[k] - mx);
    return exp(z[cls] - mx) / s;
}

/* Positions of a patch along an axis of n: 0, stride, ..., and n - patch last. */
static int positions(int n, int patch, int stride, int *pos)
{
    int k = 0;
    for (int p = 0; p + patch <= n; p += stride)
        pos[k++] = p;
    if (k == 0 || pos[k - 1] != n - patch)
        pos[k++] = n - patch;
    return k;
}

#define OCC_BATCH 8

int exp_occlusion(nn_net *net, const float *x, int h, int w, int patch, int stride, float fill,
                  int cls, float *map, double *prob, wb_error *err)
{
    const int K = nn_net_num_classes(net), C = nn_net_in_channels(net);
    if (cls < 0 || cls >= K)
        return wb_err(err, WB_E_USAGE, NULL, "occlusion: class %d of a %d-class head", cls, K);
    if (patch < 1 || patch > (h < w ? h : w) || stride < 1 || stride > patch)
        return wb_err(err, WB_E_USAGE, NULL, "occlusion: patch %d and stride %d for a %dx%d image (patch 1 to %d, "
                      "stride 1 to the patch)", patch, stride, h, w, h < w ? h : w);
    const size_t px = (size_t)h * w, img = (size_t)C * px;
    int *py = malloc(((size_t)h + 1) * sizeof *py), *pxs = malloc(((size_t)w + 1) * sizeof *pxs);
    float *xb = malloc(OCC_BATCH * img * sizeof *xb), *z = malloc(OCC_BATCH * (size_t)K * sizeof *z);
    double *sum = calloc(px, sizeof *sum);
    int *cnt = calloc(px, sizeof *cnt);
    int rc = -1;
    if (!py || !pxs || !xb || !z || !sum || !cnt) {
        wb_err(err, WB_E_NOMEM, NULL, "occlusion: out of memory");
        goto done;
    }
    if (nn_net_forward(net, x, 1, h, w, 0, z, err) != 0)
        goto done;
    const double p0 = prob_of(z, K, cls);
    if (prob)
        *prob = p0;
    const int ny = positions(h, patch, stride, py), nx = positions(w, patch, stride, pxs);
    const int total = ny * nx;
    for (int s0 = 0; s0 < total; s0 += OCC_BATCH) {
        int b = total - s0 < OCC_BATCH ? total - s0 : OCC_BATCH;
        for (int i = 0; i < b; i++) {
            float *d = xb + (size_t)i * img;
            memcpy(d, x, img * sizeof *d);
            int y0 = py[(s0 + i) / nx], x0 = pxs[(s0 + i) % nx];
            for (int c = 0; c < C; c++)
                for (int y = y0; y < y0 + patch; y++)
                    for (int xx = x0; xx < x0 + patch; xx++)
                        d[(size_t)c * px + (size_t)y * w + xx] = fill;
        }
        if (nn_net_forward(net, xb, b, h, w, 0, z, err) != 0)
            goto done;
        for (int i = 0; i < b; i++) {
            double drop = p0 - prob_of(z + (size_t)i * K, K, cls);
            int y0 = py[(s0 + i) / nx], x0 = pxs[(s0 + i) % nx];
            for (int y = y0; y < y0 + patch; y++)
                for (int xx = x0; xx < x0 + patch; xx++) {
                    sum[(size_t)y * w + xx] += drop;
                    cnt[(size_t)y * w + xx]++;
                }
        }
    }
    for (size_t k = 0; k < px; k++)
        map[k] = cnt[k] ? (float)(sum[k] / cnt[k]) : 0.0f;
    rc = 0;
done:
    free(py);
    free(pxs);
    free(xb);
    free(z);
    free(sum);
    free(cnt);
    return rc;
}

typedef struct {
    float v;
    size_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    return x->v < y->v ? -1 : x->v > y->v ? 1 : (x->i > y->i) - (x->i < y->i);
}

static int ranks(const float *v, size_t n, double *r)
{
    ranked *t = malloc((n ? n : 1) * sizeof *t);
    if (!t)
        return -1;
    for (size_t i = 0; i < n; i++)
        t[i] = (ranked){v[i], i};
    qsort(t, n, sizeof *t, cmp_ranked);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && t[j + 1].v == t[i].v)
            j++;
        double mean = (double)(i + j) / 2.0 + 1.0;
        for (size_t k = i; k <= j; k++)
            r[t[k].i] = mean;
        i = j + 1;
    }
    free(t);
    return 0;
}

double exp_saliency_spearman(const float *a, const float *b, size_t n)
{
    double *ra = malloc((n ? n : 1) * sizeof *ra), *rb = malloc((n ? n : 1) * sizeof *rb);
    double out = NAN;
    if (ra && rb && n > 1 && ranks(a, n, ra) == 0 && ranks(b, n, rb) == 0) {
        double ma = 0, mb = 0, sab = 0, saa = 0, sbb = 0;
        for (size_t i = 0; i < n; i++) {
            ma += ra[i];
            mb += rb[i];
        }
        ma /= (double)n;
        mb /= (double)n;
        for (size_t i = 0; i < n; i++) {
            sab += (ra[i] - ma) * (rb[i] - mb);
            saa += (ra[i] - ma) * (ra[i] - ma);
            sbb += (rb[i] - mb) * (rb[i] - mb);
        }
        if (saa > 0 && sbb > 0)
            out = sab / sqrt(saa * sbb);
    }
    free(ra);
    free(rb);
    return out;
}
