/* test_grey.c — grey images through the converted first convolution, for each pretrained
 * family: a 1-channel network bound with the family's input normalisation folded into conv1
 * (nn_net_opts.in_norm: conv1 <- sum_c W_c / s_c, plus the offset -sum_c W_c m_c / s_c
 * convolved with the image's extent) against the RGB network on the grey image replicated
 * into three channels and normalised per channel, zero-padded after normalisation
 * (fixtures/grey_*, float64 PyTorch, made by make_grey_fixtures.py). The stem's output
 * (border included) and the logits agree to 1e-5 relative (max |a - b| / max |b|). Also: the
 * 3-channel network with in_norm on the replicated grey image; MobileNet's [-1, 1] by plain
 * summation of conv1 on 2g - 1 (exact, one value for every channel); an exported network
 * with its input offset binds back to the same logits, in_norm recognised from the list; and
 * the border matters (a constant bias in place of the offset map misses the stem fixture).
 *
 *     test_nets_grey <fixtures dir> <weights dir>
 */
#include <string.h>

#include "base/wb_tensor.h"
#include "io/io_weights.h"
#include "nets/nn_internal.h"
#include "test_util.h"
#include "fixtures.h"

#define TOL 1e-5

static const char *g_fix, *g_weights;

static double rel_max(const float *a, const float *b, size_t n)
{
    double d = 0, m = 0;
    for (size_t i = 0; i < n; i++) {
        d = fmax(d, fabs((double)a[i] - b[i]));
        m = fmax(m, fabs((double)b[i]));
    }
    return d / (m > 0 ? m : 1e-30);
}

/* Every stage after the stem and before the head trains: the frozen prefix is the stem. */
static void stem_prefix(nn_net *net)
{
    char spec[512] = "";
    for (int s = 1; s + 1 < nn_net_num_stages(net); s++) {
        size_t l = strlen(spec);
        snprintf(spec + l, sizeof spec - l, "%s%s", s > 1 ? "," : "", nn_net_stage_name(net, s));
    }
    wb_error err = {0};
    CHECK(nn_net_unfreeze(net, spec, NN_BN_FROZEN, 1, &err) == 0, "%s", err.msg);
}

/* The network's stem output and logits on x [n, c, h, w] against the fixture. */
static void compare(const char *what, nn_net *net, const fixture *f, const float *x, int n, int h, int w)
{
    wb_error err = {0};
    const rec *stem = find(f, "stem"), *logits = find(f, "logits");
    int s[4];
    stem_prefix(net);
    CHECK(nn_net_prefix_shape(net, n, h, w, s, &err) == 0, "%s", err.msg);
    size_t ns = (size_t)s[0] * s[1] * s[2] * s[3];
    CHECK(ns == stem->n, "%s: stem has %zu values, fixture %zu", what, ns, stem->n);
    size_t k = (size_t)nn_net_num_classes(net);
    CHECK((size_t)n * k == logits->n, "%s: %zu logits, fixture %zu", what, (size_t)n * k, logits->n);
    if (ns != stem->n || (size_t)n * k != logits->n)
        return;
    float *out = malloc(sizeof(float) * ns), *lg = malloc(sizeof(float) * n * k);
    CHECK(nn_net_forward_prefix(net, x, n, h, w, out, &err) == 0, "%s", err.msg);
    double es = rel_max(out, stem->v, ns);
    CHECK(nn_net_forward(net, x, n, h, w, 0, lg, &err) == 0, "%s", err.msg);
    double el = rel_max(lg, logits->v, (size_t)n * k);
    CHECK_LE(es, TOL, "%s: stem", what);
    CHECK_LE(el, TOL, "%s: logits", what);
    printf("%-34s stem %.2e  logits %.2e\n", what, es, el);
    free(out);
    free(lg);
}

/* The network of arch with in_channels and the family's normalisation, bound from list. */
static nn_net *make(const char *arch, const wb_tensor_list *list, int in_channels, int in_norm)
{
    wb_error err = {0};
    nn_net_opts o = nn_net_opts_default();
    o.in_channels = in_channels;
    o.in_norm = in_norm;
    CHECK(nn_arch_input_norm(arch, o.in_mean, o.in_std) != NULL, "%s: a family", arch);
    CHECK(nn_net_opts_from_weights(arch, list, &o, &err) == 0, "%s", err.msg);
    nn_net *net = nn_net_create(arch, &o, &err);
    CHECK(net != NULL, "%s: %s", arch, err.msg);
    if (!net)
        return NULL;
    nn_bind_report rep;
    nn_bind_report_init(&rep);
    CHECK(nn_net_bind(net, list, NULL, &rep, &err) == 0, "%s bind: %s", arch, err.msg);
    CHECK(rep.n_skipped == 0, "%s: the head binds (classes from the file)", arch);
    nn_bind_report_free(&rep);
    return net;
}

static void run_family(const char *name, const char *arch, const wb_tensor_list *list, int keras)
{
    fixture f;
    if (fixture_load(g_fix, name, &f) != 0) {
        CHECK(0, "fixture %s/%s missing", g_fix, name);
        return;
    }
    const rec *meta = find(&f, "meta"), *x1 = find(&f, "x1");
    const int n = (int)meta->v[0], h = (int)meta->v[1], w = (int)meta->v[2];
    const size_t px = (size_t)n * h * w;
    char what[96];

    /* 1 channel, normalisation folded into conv1 */
    nn_net *net = make(arch, list, 1, 1);
    snprintf(what, sizeof what, "%s 1 channel, in_norm", arch);
    if (net)
        compare(what, net, &f, x1->v, n, h, w);

    /* the border: conv1's offset as one constant per channel (the interior's value, as a
     * folded bias would give) misses the fixture at the border; the map does not */
    if (net) {
        nn_node *nd = &net->nodes[net->in_node];
        wb_error err = {0};
        float *lg = malloc(sizeof(float) * n * nn_net_num_classes(net));
        stem_prefix(net);
        CHECK(nn_net_forward(net, x1->v, n, h, w, 0, lg, &err) == 0, "%s", err.msg);
        /* replace the map by its value at the centre */
        for (int o = 0; o < nd->c; o++) {
            float *m = net->in_map + (size_t)o * nd->h * nd->w;
            float centre = m[(nd->h / 2) * nd->w + nd->w / 2];
            for (int p = 0; p < nd->h * nd->w; p++)
                m[p] = centre;
        }
        int s[4];
        nn_net_prefix_shape(net, n, h, w, s, &err);
        float *st = malloc(sizeof(float) * (size_t)s[0] * s[1] * s[2] * s[3]);
        nn_net_forward_prefix(net, x1->v, n, h, w, st, &err);
        double e = rel_max(st, find(&f, "stem")->v, (size_t)s[0] * s[1] * s[2] * s[3]);
        CHECK(e > 100 * TOL, "%s: a constant offset should miss the border (err %g)", arch, e);
        printf("%-34s stem %.2e  (constant offset: the border ring differs)\n", arch, e);
        free(st);
        free(lg);
        net->in_map_ok = 0;
    }

    /* export (conv1 folded + its input_offset) and bind back: in_norm comes from the list */
    if (net) {
        wb_tensor_list ex;
        wb_tensor_list_init(&ex);
        wb_error err = {0};
        CHECK(nn_net_export(net, &ex, &err) == 0, "%s", err.msg);
        nn_net_opts o = nn_net_opts_default();
        o.in_channels = 1;
        CHECK(nn_net_opts_from_weights(arch, &ex, &o, &err) == 0 && o.in_norm == 1,
              "%s: in_norm from an exported list", arch);
        nn_net *back = nn_net_create(arch, &o, &err);
        CHECK(back && nn_net_bind(back, &ex, NULL, NULL, &err) == 0, "%s: rebind: %s", arch, err.msg);
        if (back) {
            size_t k = (size_t)nn_net_num_classes(net);
            float *a = malloc(sizeof(float) * n * k), *b = malloc(sizeof(float) * n * k);
            nn_net_forward(net, x1->v, n, h, w, 0, a, &err);
            nn_net_forward(back, x1->v, n, h, w, 0, b, &err);
            CHECK(memcmp(a, b, sizeof(float) * n * k) == 0, "%s: exported and rebound: same logits", arch);
            free(a);
            free(b);
        }
        nn_net_free(back);
        wb_tensor_list_free(&ex);
    }
    nn_net_free(net);

    /* 3 channels (grey replicated), normalisation folded into each channel of conv1 */
    float *x3 = malloc(sizeof(float) * px * 3);
    for (int b = 0; b < n; b++)
        for (int c = 0; c < 3; c++)
            memcpy(x3 + ((size_t)b * 3 + c) * h * w, x1->v + (size_t)b * h * w, sizeof(float) * h * w);
    net = make(arch, list, 3, 1);
    snprintf(what, sizeof what, "%s 3 channels, in_norm", arch);
    if (net)
        compare(what, net, &f, x3, n, h, w);
    nn_net_free(net);
    free(x3);

    /* Keras [-1, 1]: the same for every channel, so 2g - 1 through plain summation is exact */
    if (keras) {
        float *xk = malloc(sizeof(float) * px);
        for (size_t i = 0; i < px; i++)
            xk[i] = 2.0f * x1->v[i] - 1.0f;
        net = make(arch, list, 1, 0);
        snprintf(what, sizeof what, "%s 1 channel, 2g-1, plain sum", arch);
        if (net)
            compare(what, net, &f, xk, n, h, w);
        nn_net_free(net);
        free(xk);
    }
    fixture_free(&f);
}

/* What the weights decide, and the errors of the input normalisation. */
static void test_errors(void)
{
    wb_error err = {0};
    wb_tensor_list l;
    wb_tensor_list_init(&l);
    const int64_t k12[4] = {3, 3, 3, 12}, k16[4] = {3, 3, 3, 16}, head[4] = {1, 1, 256, 7};
    wb_tensor_list_add(&l, "model_weights/conv1/conv1/kernel:0", 4, k12, NULL, &err);
    nn_net_opts o = nn_net_opts_default();
    CHECK(nn_net_opts_from_weights("mobilenet_v1", &l, &o, &err) == -1 && err.code == WB_E_DATA &&
              strstr(err.msg, "conv1/kernel:0 has 12 filters"),
          "width 12/32 refused, the tensor named: %s", err.msg);
    wb_tensor_list_free(&l);
    wb_tensor_list_init(&l);
    wb_tensor_list_add(&l, "conv1/kernel:0", 4, k16, NULL, &err);
    wb_tensor_list_add(&l, "conv_preds/kernel:0", 4, head, NULL, &err);
    o = nn_net_opts_default();
    CHECK(nn_net_opts_from_weights("mobilenet_v1", &l, &o, &err) == 0 && o.width == 0.5f &&
              o.num_classes == 7 && o.in_norm == 0,
          "width 0.5, 7 classes from the file (got %g, %d)", (double)o.width, o.num_classes);
    wb_tensor_list_free(&l);
    CHECK(nn_net_opts_from_weights("vgg16", &l, &o, &err) == -1 && err.code == WB_E_USAGE, "unknown arch");
    CHECK(nn_arch_input_norm("vgg16", NULL, NULL) == NULL, "no family for vgg16");
    float m[3], sd[3];
    CHECK(!strcmp(nn_arch_input_norm("resnet56", m, sd), "imagenet") && m[1] == 0.456f && sd[2] == 0.225f,
          "resnet56: ImageNet mean/std");
    CHECK(!strcmp(nn_arch_input_norm("mobilenet_v1", m, sd), "keras") && m[0] == 0.5f && sd[0] == 0.5f,
          "mobilenet_v1: [-1, 1]");

    /* a bad std is refused; a conv1 without 3 RGB channels cannot be folded */
    o = nn_net_opts_default();
    o.in_norm = 1;
    o.in_channels = 1;
    o.num_classes = 10;
    o.in_std[1] = 0.0f;
    nn_net *net = nn_net_create("resnet20", &o, &err);
    CHECK(net == NULL && err.code == WB_E_USAGE && strstr(err.msg, "positive standard deviations"),
          "std 0 refused: %s", err.msg);
    nn_arch_input_norm("resnet20", o.in_mean, o.in_std);
    net = nn_net_create("resnet20", &o, &err);
    CHECK(net != NULL, "%s", err.msg);
    if (net) {
        CHECK(nn_net_tensor_find(net, "conv1.input_offset") >= 0, "conv1.input_offset exists");
        nn_net_opts p = nn_net_opts_default();
        p.in_channels = 1;
        p.num_classes = 10;
        nn_net *one = nn_net_create("resnet20", &p, &err); /* a 1-channel conv1 to export */
        CHECK(nn_net_num_params(net, -1, 0) == nn_net_num_params(one, -1, 0) &&
                  nn_net_num_tensors(net) == nn_net_num_tensors(one) + 1,
              "the offset is a buffer, not a parameter");
        wb_tensor_list_init(&l);
        nn_net_export(one, &l, &err);
        nn_net_free(one);
        nn_bind_report rep;
        nn_bind_report_init(&rep);
        CHECK(nn_net_bind(net, &l, NULL, &rep, &err) == -1 && err.code == WB_E_DATA &&
                  strstr(err.msg, "conv1.weight: file [16,1,3,3] vs network [16,1,3,3] (the input "
                                  "normalisation folds 3 RGB input channels)"),
              "a 1-channel conv1 is not folded: %s", err.msg);
        nn_bind_report_free(&rep);
        wb_tensor_list_free(&l);
    }
    nn_net_free(net);
}

static int read_shared(const char *file, wb_tensor_list *l)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_weights, file);
    wb_error err = {0};
    if (io_weights_read(path, l, &err) != 0) {
        fprintf(stderr, "%s: %s (the shared pretrained weights: see %s/README.md for where to get them)\n",
                path, err.msg, g_weights);
        CHECK(0, "shared weights %s", file);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_nets_grey FIXTURES_DIR WEIGHTS_DIR\n");
        return 2;
    }
    g_fix = argv[1];
    g_weights = argv[2];
    nn_set_threads(1);
    test_errors();
    wb_tensor_list l;

    wb_tensor_list_init(&l);
    if (read_shared("resnet20-12fca82f.th", &l) == 0)
        run_family("grey_resnet20", "resnet20", &l, 0);
    wb_tensor_list_free(&l);

    /* torchvision ResNet-18: weights generated as make_fixtures.py generates them */
    wb_tensor_list_init(&l);
    {
        wb_error err = {0};
        nn_net_opts o = nn_net_opts_default();
        o.num_classes = 5;
        nn_net *gen = nn_net_create("resnet18", &o, &err);
        CHECK(gen && gen_weights(gen, &l) == 0, "resnet18 weights: %s", err.msg);
        nn_net_free(gen);
        run_family("grey_resnet18", "resnet18", &l, 0);
    }
    wb_tensor_list_free(&l);

    wb_tensor_list_init(&l);
    if (read_shared("mobilenet_v1_0.25_224.h5", &l) == 0)
        run_family("grey_mobilenet", "mobilenet_v1", &l, 1);
    wb_tensor_list_free(&l);

    if (g_failures)
        fprintf(stderr, "%d check(s) failed\n", g_failures);
    return g_failures ? 1 : 0;
}
