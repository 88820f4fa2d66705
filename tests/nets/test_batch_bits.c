/* test_batch_bits.c — an image's network output does not depend on the batch it is in: the
 * logits of inference (eval-mode BN) and the frozen prefix's output at the boundaries the
 * experiments' unfreeze sweeps use are the same bits for a batch of 32 images and for the
 * same images run alone, in threes and in sixteens (any batch composition), on 1 and 2
 * threads, for the architectures the experiments ship: MobileNet v1 at widths 0.25 and 1.0
 * (96x96 and 224x224), the CIFAR ResNet-20 (32x32, 64x64, 96x72, 128x128) and ResNet-18
 * (96x72). On 2 threads the batches of 10 to 32 take MobileNet's first blocks image-parallel
 * (each thread its own images, a few at a time, on its own buffers: nn_net.c, par_plan), and
 * the batches of 1 and 3 do not: each case checks that the rule took them where it should.
 * Then the ASan cases on 2 threads with every node image-parallel in one phase, and in two
 * phases split at the middle node (WB_NN_IMGPAR=all / half: the paths the rule does not take
 * on these shapes, residual blocks read across the phases and the head included).
 * Experiments compute a frozen prefix once, in other batch sizes than the training step's
 * (experiments/model/train.c), and score images in whatever batches are left: both must give
 * what a plain forward gives.
 *
 * When a case differs, the output of every stage is compared too and the first stage that
 * differs is named (the place to look). Usage: test_nets_batch_bits [ARCH[@WIDTH]:HxW ...]
 * (default: every case above; under ASan one per architecture, on 2 threads).
 *
 * Then single convolutions on maps under 1024 pixels (nn_conv2d_forward, the shapes of
 * ResNet-18's layer2-layer4 at 96x72 and a few odd ones; most have 16k output channels and
 * pixels not a multiple of 16, and take gemm_inv_t, which does not pad an image's columns): 17 images in batches of 1, 3, 16
 * and 17, with 1, 3 and 17 images per GEMM, on 1, 2 and 3 threads, each image's output the
 * same bits as the image alone on 1 thread, and within 1e-5 of a double-precision conv.
 * Usage for those alone: test_nets_batch_bits conv. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/nn.h"
#include "nets/nn_internal.h"
#include "test_util.h"

enum { NB = 32, K = 2 };

typedef struct tcase {
    const char *arch;
    float width;
    int c, h, w;
    const char *sweep[3]; /* first trained stages of the sweep: prefixes end before them */
    int asan;             /* run under ASan too (one case per architecture and GEMM path) */
    int par;              /* on 2 threads, batches of 10 and more take its first nodes image-parallel */
} tcase;

static const tcase cases[] = {
    {"mobilenet_v1", 0.25f, 1, 96, 96, {"block11", "block12", "block13"}, 1, 1},
    {"mobilenet_v1", 0.25f, 3, 224, 224, {"block11", "block12", "block13"}, 0, 1},
    {"mobilenet_v1", 1.0f, 1, 96, 96, {"block11", "block12", "block13"}, 0, 1},
    {"mobilenet_v1", 1.0f, 3, 224, 224, {"block12", "block13", NULL}, 0, 1},
    {"resnet20", 1.0f, 1, 32, 32, {"layer2", "layer3", NULL}, 1, 0},
    {"resnet20", 1.0f, 1, 64, 64, {"layer2", "layer3", NULL}, 0, 0},
    {"resnet20", 1.0f, 1, 96, 72, {"layer2", "layer3", NULL}, 0, 0},
    {"resnet20", 1.0f, 1, 128, 128, {"layer3", NULL, NULL}, 0, 0},
    {"resnet18", 1.0f, 1, 96, 72, {"layer3", "layer4", NULL}, 1, 0},
};

static const int sizes[] = {1, 3, 10, 16};

/* Random weights from the seed and BN running statistics that are not the identity, so every
 * BN scales and shifts. */
static nn_net *make(const tcase *tc, wb_error *err)
{
    nn_net_opts o = nn_net_opts_default();
    o.in_channels = tc->c;
    o.num_classes = K;
    o.width = tc->width;
    o.seed = 23;
    nn_net *net = nn_net_create(tc->arch, &o, err);
    if (!net)
        return NULL;
    nn_rng g;
    nn_rng_seed(&g, 29);
    for (size_t i = 0; i < nn_net_num_tensors(net); i++) {
        nn_param_view p;
        nn_net_tensor(net, i, &p);
        if (!p.is_buffer)
            continue;
        const int var = strstr(p.name, "var") != NULL;
        for (size_t k = 0; k < p.numel; k++)
            p.data[k] = var ? 0.5f + nn_rng_uniform(&g) : 0.2f * (2 * nn_rng_uniform(&g) - 1);
    }
    return net;
}

static size_t count_diff(const float *a, const float *b, size_t n, size_t *first)
{
    size_t d = 0;
    *first = n;
    for (size_t i = 0; i < n; i++)
        if (memcmp(a + i, b + i, sizeof(float)) != 0) {
            if (!d)
                *first = i;
            d++;
        }
    return d;
}

/* out [NB, per] = f(x) run in batches of bs (the last one shorter). prefix: the frozen
 * prefix's output (the net's current freezing), else the logits. */
static int run_batches(nn_net *net, const tcase *tc, const float *x, int bs, int prefix,
                       size_t per, float *out, wb_error *err)
{
    const size_t in = (size_t)tc->c * tc->h * tc->w;
    for (int i0 = 0; i0 < NB; i0 += bs) {
        const int n = NB - i0 < bs ? NB - i0 : bs;
        const float *xi = x + (size_t)i0 * in;
        float *o = out + (size_t)i0 * per;
        int rc = prefix ? nn_net_forward_prefix(net, xi, n, tc->h, tc->w, o, err)
                        : nn_net_forward(net, xi, n, tc->h, tc->w, 0, o, err);
        if (rc != 0)
            return -1;
    }
    return 0;
}

/* Per-value size of what the current freezing makes the prefix (0 on error). */
static size_t prefix_per(nn_net *net, const tcase *tc, wb_error *err)
{
    int s[4];
    if (nn_net_prefix_shape(net, 1, tc->h, tc->w, s, err) != 0)
        return 0;
    return (size_t)s[1] * s[2] * s[3];
}

/* The first stage whose output differs between batches of NB and of bs. */
static void locate(nn_net *net, const tcase *tc, const float *x, int bs)
{
    wb_error err = {0};
    const int ns = nn_net_num_stages(net);
    for (int s = 1; s < ns; s++) { /* the prefix ends before stage s: stages [0, s) */
        size_t per = 0;
        float *a = NULL, *b = NULL;
        int ok = nn_net_unfreeze(net, nn_net_stage_name(net, s), NN_BN_FROZEN, 0, &err) == 0 &&
                 (per = prefix_per(net, tc, &err)) > 0 && (a = malloc(sizeof(float) * per * NB)) &&
                 (b = malloc(sizeof(float) * per * NB)) &&
                 run_batches(net, tc, x, NB, 1, per, a, &err) == 0 &&
                 run_batches(net, tc, x, bs, 1, per, b, &err) == 0;
        size_t fd, d = ok ? count_diff(a, b, per * NB, &fd) : 0;
        free(a);
        free(b);
        if (!ok) {
            fprintf(stderr, "  locate: %s\n", err.msg);
            return;
        }
        if (d) {
            fprintf(stderr, "  first stage whose output differs: %s (%zu values, first at %zu)\n",
                    nn_net_stage_name(net, s - 1), d, fd);
            return;
        }
    }
    fprintf(stderr, "  every stage's output is the same: the head differs\n");
}

/* The output (prefix 0: the logits; else the frozen prefix before stage tc->sweep[prefix-1])
 * for a batch of NB, then for batches of each size in `sizes`, compared bit for bit. */
static void compare(nn_net *net, const tcase *tc, const float *x, int prefix, const char *label)
{
    wb_error err = {0};
    const char *first = prefix ? tc->sweep[prefix - 1] : "none";
    size_t per = K;
    int ok = nn_net_unfreeze(net, first, NN_BN_FROZEN, 0, &err) == 0 &&
             (!prefix || (per = prefix_per(net, tc, &err)) > 0);
    float *ref = ok ? malloc(sizeof(float) * per * NB) : NULL;
    float *got = ok ? malloc(sizeof(float) * per * NB) : NULL;
    ok = ok && ref && got && run_batches(net, tc, x, NB, prefix > 0, per, ref, &err) == 0;
    CHECK(ok, "%s: %s", label, err.msg);
    for (size_t s = 0; ok && s < sizeof sizes / sizeof *sizes; s++) {
        const int bs = sizes[s];
        ok = nn_net_unfreeze(net, first, NN_BN_FROZEN, 0, &err) == 0 &&
             run_batches(net, tc, x, bs, prefix > 0, per, got, &err) == 0;
        CHECK(ok, "%s: %s", label, err.msg);
        size_t fd, d = ok ? count_diff(ref, got, per * NB, &fd) : 0;
        if (!prefix) {
            CHECK(d == 0, "%s: logits in batches of %d differ from batch %d in %zu of %d values "
                          "(first: image %zu, %.9g against %.9g)",
                  label, bs, NB, d, NB * K, fd / K, (double)got[d ? fd : 0], (double)ref[d ? fd : 0]);
            if (d)
                locate(net, tc, x, bs);
        } else
            CHECK(d == 0, "%s: the frozen prefix before %s in batches of %d differs from batch %d "
                          "in %zu of %zu values (first: image %zu)",
                  label, first, bs, NB, d, per * NB, fd / per);
    }
    free(ref);
    free(got);
}

/* forced: WB_NN_IMGPAR's test modes ("all", "half") are set, batches of 2 and more on 2
 * threads take nodes image-parallel whatever the rule says */
static void run_case(const tcase *tc, int threads, const char *forced)
{
    wb_error err = {0};
    nn_set_threads(threads);
    nn_net *net = make(tc, &err);
    CHECK(net != NULL, "%s: %s", tc->arch, err.msg);
    if (!net)
        return;
    const size_t in = (size_t)tc->c * tc->h * tc->w;
    float *x = malloc(sizeof(float) * in * NB);
    nn_rng g;
    nn_rng_seed(&g, 31);
    for (size_t i = 0; i < in * NB; i++)
        x[i] = nn_rng_uniform(&g);
    char label[96];
    snprintf(label, sizeof label, "%s@%g %dx%dx%d, %d thread%s%s%s", tc->arch, (double)tc->width,
             tc->c, tc->h, tc->w, threads, threads > 1 ? "s" : "", forced ? ", image-parallel " : "",
             forced ? forced : "");
    const int before = g_failures;
    nn_net_par_runs(1);
    compare(net, tc, x, 0, label);
    for (int p = 0; p < 3 && tc->sweep[p]; p++)
        compare(net, tc, x, p + 1, label);
    /* the image-parallel runs (nets/nn_net.c, par_plan) were compared above: the rule took
     * them where the case says, so the comparison covered them */
    const long par = nn_net_par_runs(1);
    const int want = threads > 1 && (tc->par || forced);
    CHECK((par > 0) == want, "%s: %ld runs image-parallel, expected %s", label, par,
          want ? "some" : "none");
    printf("%s: %s\n", label, g_failures == before ? "same bits" : "DIFFERENT");
    free(x);
    nn_net_free(net);
}

/* ------------------------------------------------------------------ single convolutions */

typedef struct ccase {
    int ic, oc, h, w, k, s; /* k x k kernel, padding k / 2, stride s */
} ccase;

static const ccase ccases[] = {
    {512, 512, 3, 3, 3, 1},  /* ResNet-18 layer4 at 96x72: 9 pixels (16 before, padded) */
    {256, 512, 6, 5, 3, 2},  /* layer4's first conv, 30 -> 9 pixels */
    {256, 512, 6, 5, 1, 2},  /* its 1x1 stride-2 shortcut */
    {256, 256, 6, 5, 3, 1},  /* layer3: 30 pixels */
    {128, 256, 12, 9, 3, 2}, /* layer3's first conv */
    {128, 128, 6, 5, 3, 1},  /* 128 channels on a 5-wide map: GEMM (direct from 8 columns) */
    {64, 128, 5, 7, 1, 1},   /* 1x1 stride 1: one image goes to the GEMM without im2col */
    {48, 32, 7, 7, 3, 1},    /* K = 432: two K chunks; 49 pixels */
    {40, 24, 5, 5, 3, 1},    /* 24 channels: the padded gemm_inv path */
    {64, 128, 8, 8, 3, 2},   /* 16 pixels: gemm_inv, which pads nothing there */
};

enum { CN = 17 };

/* y [n, oc, oh, ow] of images n0.. of x: naive conv in double, to 1e-5 relative */
static double conv_ref_err(const nn_conv_geom *g, const float *x, const float *wt,
                           const float *b, const float *y, int im)
{
    double num = 0, den = 0;
    for (int o = 0; o < g->oc; o++)
        for (int oy = 0; oy < g->oh; oy++)
            for (int ox = 0; ox < g->ow; ox++) {
                double acc = b[o];
                for (int c = 0; c < g->ic; c++)
                    for (int ki = 0; ki < g->kh; ki++)
                        for (int kj = 0; kj < g->kw; kj++) {
                            const int iy = oy * g->sh - g->ph + ki, ix = ox * g->sw - g->pw + kj;
                            if (iy < 0 || iy >= g->h || ix < 0 || ix >= g->w)
                                continue;
                            acc += (double)wt[((size_t)(o * g->ic + c) * g->kh + ki) * g->kw + kj] *
                                   x[(((size_t)im * g->ic + c) * g->h + iy) * g->w + ix];
                        }
                const double d =
                    y[(((size_t)im * g->oc + o) * g->oh + oy) * g->ow + ox] - acc;
                num += d * d;
                den += acc * acc;
            }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* Runs images [0, CN) in batches of bs, per_gemm images per GEMM, into y. */
static int conv_batches(nn_conv_geom g, const float *x, const float *wt, const float *b, int bs,
                        int per_gemm, float *y)
{
    const size_t in = (size_t)g.ic * g.h * g.w, out = (size_t)g.oc * g.oh * g.ow;
    for (int i0 = 0; i0 < CN; i0 += bs) {
        g.n = CN - i0 < bs ? CN - i0 : bs;
        g.batch = per_gemm < g.n ? per_gemm : g.n;
        float *col = malloc(sizeof(float) * (nn_conv2d_col_size(&g) + 1));
        if (!col)
            return -1;
        nn_conv2d_forward(&g, x + i0 * in, wt, b, y + i0 * out, col);
        free(col);
    }
    return 0;
}

static void conv_case(const ccase *cc, const int *threads, int nthreads)
{
    nn_conv_geom g = {CN, cc->ic, cc->h, cc->w, cc->oc, cc->k, cc->k, cc->s, cc->s,
                      cc->k / 2, cc->k / 2, 1, 0, 0, 0};
    g.oh = (g.h + 2 * g.ph - g.kh) / g.sh + 1;
    g.ow = (g.w + 2 * g.pw - g.kw) / g.sw + 1;
    const size_t in = (size_t)g.ic * g.h * g.w, out = (size_t)g.oc * g.oh * g.ow;
    const size_t nw = (size_t)g.oc * g.ic * g.kh * g.kw;
    float *x = malloc(sizeof(float) * in * CN), *wt = malloc(sizeof(float) * nw);
    float *b = malloc(sizeof(float) * g.oc), *ref = malloc(sizeof(float) * out * CN);
    float *got = malloc(sizeof(float) * out * CN);
    CHECK(x && wt && b && ref && got, "out of memory");
    if (!x || !wt || !b || !ref || !got)
        goto done;
    nn_rng r;
    nn_rng_seed(&r, 37);
    for (size_t i = 0; i < in * CN; i++)
        x[i] = 2 * nn_rng_uniform(&r) - 1;
    for (size_t i = 0; i < nw; i++)
        wt[i] = (2 * nn_rng_uniform(&r) - 1) / sqrtf((float)(g.ic * g.kh * g.kw));
    for (int o = 0; o < g.oc; o++)
        b[o] = 0.1f * (2 * nn_rng_uniform(&r) - 1);
    char label[96];
    snprintf(label, sizeof label, "conv %d->%d %dx%d on %dx%d stride %d", g.ic, g.oc, g.kh, g.kw,
             g.h, g.w, g.sh);
    const int before = g_failures;
    nn_set_threads(1);
    CHECK(conv_batches(g, x, wt, b, 1, 1, ref) == 0, "%s: out of memory", label);
    for (int im = 0; im < CN; im += CN - 1) {
        const double e = conv_ref_err(&g, x, wt, b, ref, im);
        CHECK(e <= 1e-5, "%s: image %d alone is %.3g (relative) from a double-precision conv",
              label, im, e);
    }
    static const int bss[] = {1, 3, 16, 17}, pgs[] = {1, 3, CN};
    for (int t = 0; t < nthreads; t++) {
        nn_set_threads(threads[t]);
        for (size_t bi = 0; bi < sizeof bss / sizeof *bss; bi++)
            for (size_t pi = 0; pi < sizeof pgs / sizeof *pgs; pi++) {
                const int bs = bss[bi], pg = pgs[pi];
                if (pg > bs || (bs == 1 && threads[t] == 1))
                    continue;
                memset(got, 0xff, sizeof(float) * out * CN);
                CHECK(conv_batches(g, x, wt, b, bs, pg, got) == 0, "%s: out of memory", label);
                size_t fd, d = count_diff(ref, got, out * CN, &fd);
                CHECK(d == 0, "%s, %d thread(s), batches of %d, %d per GEMM: %zu of %zu values "
                              "differ from each image alone (first: image %zu, %.9g against %.9g)",
                      label, threads[t], bs, pg, d, out * CN, fd / out,
                      (double)got[d ? fd : 0], (double)ref[d ? fd : 0]);
            }
    }
    printf("%s: %s\n", label, g_failures == before ? "same bits" : "DIFFERENT");
done:
    free(x), free(wt), free(b), free(ref), free(got);
}

static void conv_cases(void)
{
#if defined(__SANITIZE_ADDRESS__)
    static const int threads[] = {2};
    conv_case(&ccases[1], threads, 1);
    conv_case(&ccases[6], threads, 1);
#else
    static const int threads[] = {1, 2, 3};
    for (size_t c = 0; c < sizeof ccases / sizeof *ccases; c++)
        conv_case(&ccases[c], threads, 3);
#endif
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const int conv_only = argc == 2 && strcmp(argv[1], "conv") == 0;
    if (argc == 1 || conv_only)
        conv_cases();
    for (size_t c = 0; c < sizeof cases / sizeof *cases && !conv_only; c++) {
        const tcase *tc = &cases[c];
#if defined(__SANITIZE_ADDRESS__)
        /* under ASan (build-asan, -O1: the memory checks; the bits are the normal build's to
         * check) one case per architecture, on 2 threads (all of them took 400 s) */
        if (argc == 1 && !tc->asan)
            continue;
#endif
        if (argc > 1) { /* only the cases named ARCH[@WIDTH]:HxW */
            int want = 0;
            char name[64];
            snprintf(name, sizeof name, "%s@%g:%dx%d", tc->arch, (double)tc->width, tc->h, tc->w);
            for (int a = 1; a < argc; a++) {
                char nw[64];
                snprintf(nw, sizeof nw, "%s:%dx%d", tc->arch, tc->h, tc->w);
                want |= strcmp(argv[a], name) == 0 || (tc->width == 1.0f && strcmp(argv[a], nw) == 0);
            }
            if (!want)
                continue;
        }
#if defined(__SANITIZE_ADDRESS__)
        if (argc == 1) {
            run_case(tc, 2, NULL);
            continue;
        }
#endif
        for (int t = 1; t <= 2; t++)
            run_case(tc, t, NULL);
    }
    /* every node image-parallel in one phase, and in two split at the middle (a ResNet block's
     * input then crosses from the first phase to the second through the arena), on one case
     * per architecture */
    static const char *const modes[] = {"all", "half"};
    for (size_t m = 0; m < 2 && !conv_only && argc == 1; m++) {
        setenv("WB_NN_IMGPAR", modes[m], 1);
        for (size_t c = 0; c < sizeof cases / sizeof *cases; c++)
            if (cases[c].asan)
                run_case(&cases[c], 2, modes[m]);
        unsetenv("WB_NN_IMGPAR");
    }
    if (g_failures) {
        fprintf(stderr, "%d failure(s)\n", g_failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
