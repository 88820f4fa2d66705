/* test_batch_bits.c — an image's network output does not depend on the batch it is in: the
 * logits of inference (eval-mode BN) and the frozen prefix's output at the boundaries the
 * experiments' unfreeze sweeps use are the same bits for a batch of 32 images and for the
 * same images run alone, in threes and in sixteens (any batch composition), on 1 and 2
 * threads, for the architectures the experiments ship: MobileNet v1 at widths 0.25 and 1.0
 * (96x96 and 224x224), the CIFAR ResNet-20 (32x32, 64x64, 96x72, 128x128) and ResNet-18
 * (96x72).
 * Experiments compute a frozen prefix once, in other batch sizes than the training step's
 * (experiments/model/train.c), and score images in whatever batches are left: both must give
 * what a plain forward gives.
 *
 * When a case differs, the output of every stage is compared too and the first stage that
 * differs is named (the place to look). Usage: test_nets_batch_bits [ARCH[@WIDTH]:HxW ...]
 * (default: every case above; under ASan one per architecture, on 2 threads). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nets/nn.h"
#include "test_util.h"

enum { NB = 32, K = 2 };

typedef struct tcase {
    const char *arch;
    float width;
    int c, h, w;
    const char *sweep[3]; /* first trained stages of the sweep: prefixes end before them */
    int asan;             /* run under ASan too (one case per architecture and GEMM path) */
} tcase;

static const tcase cases[] = {
    {"mobilenet_v1", 0.25f, 1, 96, 96, {"block11", "block12", "block13"}, 1},
    {"mobilenet_v1", 0.25f, 3, 224, 224, {"block11", "block12", "block13"}, 0},
    {"mobilenet_v1", 1.0f, 1, 96, 96, {"block11", "block12", "block13"}, 0},
    {"mobilenet_v1", 1.0f, 3, 224, 224, {"block12", "block13", NULL}, 0},
    {"resnet20", 1.0f, 1, 32, 32, {"layer2", "layer3", NULL}, 1},
    {"resnet20", 1.0f, 1, 64, 64, {"layer2", "layer3", NULL}, 0},
    {"resnet20", 1.0f, 1, 96, 72, {"layer2", "layer3", NULL}, 0},
    {"resnet20", 1.0f, 1, 128, 128, {"layer3", NULL, NULL}, 0},
    {"resnet18", 1.0f, 1, 96, 72, {"layer3", "layer4", NULL}, 1},
};

static const int sizes[] = {1, 3, 16};

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

static void run_case(const tcase *tc, int threads)
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
    snprintf(label, sizeof label, "%s@%g %dx%dx%d, %d thread%s", tc->arch, (double)tc->width, tc->c,
             tc->h, tc->w, threads, threads > 1 ? "s" : "");
    const int before = g_failures;
    compare(net, tc, x, 0, label);
    for (int p = 0; p < 3 && tc->sweep[p]; p++)
        compare(net, tc, x, p + 1, label);
    printf("%s: %s\n", label, g_failures == before ? "same bits" : "DIFFERENT");
    free(x);
    nn_net_free(net);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
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
            run_case(tc, 2);
            continue;
        }
#endif
        for (int t = 1; t <= 2; t++)
            run_case(tc, t);
    }
    if (g_failures) {
        fprintf(stderr, "%d failure(s)\n", g_failures);
        return 1;
    }
    printf("ok\n");
    return 0;
}
