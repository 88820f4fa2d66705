/* test_net.c — the network API around the numerics: freezing and trainable counts, binding
 * reports and errors, export round trip, the cached prefix, the arena, optimizers against
 * PyTorch's update rules, schedules, clipping, and errors on bad input. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/wb_tensor.h"
#include "nets/nn.h"
#include "nets/nn_internal.h"
#include "test_util.h"

static nn_net *small_net(int classes, int in_channels)
{
    wb_error err = {0};
    nn_net_opts o = nn_net_opts_default();
    o.num_classes = classes;
    o.in_channels = in_channels;
    o.seed = 3;
    nn_net *net = nn_net_create("resnet20", &o, &err);
    CHECK(net != NULL, "%s", err.msg);
    return net;
}

static void test_freezing(void)
{
    wb_error err = {0};
    nn_net *net = small_net(4, 3);
    CHECK(nn_net_num_stages(net) == 5, "stages %d", nn_net_num_stages(net));
    const char *names[5] = {"stem", "layer1", "layer2", "layer3", "head"};
    for (int s = 0; s < 5; s++)
        CHECK(strcmp(nn_net_stage_name(net, s), names[s]) == 0, "stage %d", s);
    size_t all = nn_net_num_params(net, -1, 0);
    CHECK(all == 269722 - 650 + 64 * 4 + 4, "resnet20 with 4 classes: %zu params", all);
    CHECK(nn_net_unfreeze(net, "none", NN_BN_FROZEN, 1, &err) == 0, "%s", err.msg);
    CHECK(nn_net_num_params(net, -1, 1) == 64 * 4 + 4, "head only: %zu",
          nn_net_num_params(net, -1, 1));
    CHECK(nn_net_first_trainable_stage(net) == 4, "first trainable %d",
          nn_net_first_trainable_stage(net));
    CHECK(nn_net_unfreeze(net, "layer3, head", NN_BN_FROZEN, 0, &err) == 0, "%s", err.msg);
    size_t l3 = nn_net_num_params(net, 3, 0), bn_affine = 0;
    for (size_t i = 0; i < nn_net_num_tensors(net); i++) {
        nn_param_view v;
        nn_net_tensor(net, i, &v);
        int is_bn = strstr(v.name, ".bn") != NULL || strncmp(v.name, "bn1", 3) == 0;
        if (v.stage == 3 && is_bn && !v.is_buffer)
            bn_affine += v.numel;
        CHECK((v.grad != NULL) == v.trainable, "%s: grad iff trainable", v.name);
        if (v.stage == 3 && is_bn)
            CHECK(!v.trainable, "%s: BN affine frozen", v.name);
    }
    CHECK(nn_net_num_params(net, -1, 1) == l3 - bn_affine + 64 * 4 + 4, "layer3 w/o BN affine");
    CHECK(nn_net_unfreeze(net, "layer9", NN_BN_TRAIN, 1, &err) == -1 && err.code == WB_E_USAGE &&
              strstr(err.msg, "no stage 'layer9' (stages: stem, layer1, layer2, layer3, head") != NULL,
          "bad stage message: %s", err.msg);
    CHECK(nn_net_unfreeze(net, "all", NN_BN_TRAIN, 1, &err) == 0, "%s", err.msg);
    CHECK(nn_net_num_params(net, -1, 1) == all, "all trainable");
    nn_net_free(net);
}

static void test_prefix_and_arena(void)
{
    wb_error err = {0};
    nn_net *net = small_net(3, 1);
    enum { N = 2, H = 20, W = 28 };
    float x[N * H * W], l1[N * 3], l2[N * 3];
    nn_rng r;
    nn_rng_seed(&r, 1);
    for (int i = 0; i < N * H * W; i++)
        x[i] = 2 * nn_rng_uniform(&r) - 1;
    nn_net_unfreeze(net, "all", NN_BN_TRAIN, 1, &err);
    CHECK(nn_net_forward(net, x, N, H, W, 1, l1, &err) == 0, "%s", err.msg);
    size_t full = nn_net_arena_bytes(net);
    nn_net_unfreeze(net, "layer3", NN_BN_FROZEN, 1, &err);
    CHECK(nn_net_forward(net, x, N, H, W, 1, l1, &err) == 0, "%s", err.msg);
    size_t part = nn_net_arena_bytes(net);
    CHECK(part < full / 2, "frozen prefix keeps no activations: %zu vs %zu bytes", part, full);
    int s[4];
    CHECK(nn_net_prefix_shape(net, N, H, W, s, &err) == 0, "%s", err.msg);
    CHECK(s[0] == N && s[1] == 32 && s[2] == 10 && s[3] == 14, "prefix shape %d %d %d %d", s[0],
          s[1], s[2], s[3]);
    float *cache = malloc(sizeof(float) * (size_t)s[0] * s[1] * s[2] * s[3]);
    CHECK(nn_net_forward_prefix(net, x, N, H, W, cache, &err) == 0, "%s", err.msg);
    CHECK(nn_net_forward_from_prefix(net, cache, N, H, W, 1, l2, &err) == 0, "%s", err.msg);
    CHECK(memcmp(l1, l2, sizeof l1) == 0, "cached prefix gives the same logits");
    float feat[N * 64];
    CHECK(nn_net_features(net, x, N, H, W, feat, &err) == 0, "%s", err.msg);
    CHECK(nn_net_feature_dim(net) == 64, "feature dim %d", nn_net_feature_dim(net));
    { /* stage by stage (a run's trunk): the stem and layer1, then layer2, give the prefix's
       * bits; features from layer2's input and from layer1's give nn_net_features' bits */
        const int l2s = nn_net_stage_find(net, "layer2"), l3s = nn_net_stage_find(net, "layer3");
        int t[4];
        CHECK(l2s > 0 && l3s == l2s + 1, "stages layer2 %d, layer3 %d", l2s, l3s);
        CHECK(nn_net_stage_shape(net, l2s - 1, N, H, W, t, &err) == 0, "%s", err.msg);
        const size_t tl = (size_t)t[0] * t[1] * t[2] * t[3], pl = (size_t)s[0] * s[1] * s[2] * s[3];
        float *trunk = malloc(sizeof(float) * tl), *pre = malloc(sizeof(float) * pl), *same = malloc(sizeof(float) * tl);
        float feat2[N * 64], feat3[N * 64];
        CHECK(nn_net_forward_stages(net, x, 0, l2s, N, H, W, trunk, &err) == 0, "%s", err.msg);
        CHECK(nn_net_forward_stages(net, trunk, l2s, l3s, N, H, W, pre, &err) == 0, "%s", err.msg);
        CHECK(memcmp(pre, cache, sizeof(float) * pl) == 0, "stages 0..layer2, then layer2: the prefix's bits");
        CHECK(nn_net_forward_stages(net, trunk, l2s, l2s, N, H, W, same, &err) == 0 &&
                  memcmp(same, trunk, sizeof(float) * tl) == 0, "no stage: the input as it is");
        CHECK(nn_net_features_from_stage(net, trunk, l2s, N, H, W, feat2, &err) == 0, "%s", err.msg);
        CHECK(nn_net_features_from_stage(net, pre, l3s, N, H, W, feat3, &err) == 0, "%s", err.msg);
        CHECK(memcmp(feat2, feat, sizeof feat) == 0 && memcmp(feat3, feat, sizeof feat) == 0,
              "features from layer2's and layer3's inputs: nn_net_features' bits");
        CHECK(nn_net_forward_stages(net, x, l3s, l2s, N, H, W, pre, &err) == -1 && err.code == WB_E_USAGE,
              "stages backwards: an error");
        CHECK(nn_net_forward_stages(net, x, 0, nn_net_num_stages(net), N, H, W, pre, &err) == -1,
              "a stage past the last: an error");
        CHECK(nn_net_features_from_stage(net, x, nn_net_num_stages(net), N, H, W, feat2, &err) == -1,
              "features from a stage past the last: an error");
        free(trunk), free(pre), free(same);
    }
    CHECK(nn_net_backward(net, l1, &err) == -1, "backward after an inference run is an error");
    /* too small an input is an error, not a crash */
    CHECK(nn_net_forward(net, x, 1, 0, 5, 0, l1, &err) == -1, "empty input");
    nn_net *big = nn_net_create("resnet18", NULL, &err);
    float *l1000 = malloc(sizeof(float) * 1000);
    float x3[3] = {0.5f, -0.5f, 1.0f};
    /* any size the architecture allows: padding lets even 1x1 through, as in PyTorch */
    CHECK(nn_net_forward(big, x3, 1, 1, 1, 0, l1000, &err) == 0, "1x1 into resnet18: %s",
          err.msg);
    free(l1000);
    double fl = nn_net_flops(big, 224, 224, &err);
    CHECK(fl > 3.5e9 && fl < 3.8e9, "resnet18 224x224 forward FLOPs %.3g (1.8 GMACs)", fl);
    printf("resnet18 224x224: %.2f GFLOPs; resnet20 arena: all %.2f MB, layer3 %.2f MB\n",
           fl / 1e9, full / 1e6, part / 1e6);
    nn_net_free(big);
    free(cache);
    nn_net_free(net);
}

static void test_bind_export(void)
{
    wb_error err = {0};
    nn_net *a = small_net(4, 3), *b = small_net(4, 3);
    wb_tensor_list l;
    wb_tensor_list_init(&l);
    CHECK(nn_net_export(a, &l, &err) == 0, "%s", err.msg);
    CHECK(l.n == nn_net_num_tensors(a), "exported %zu", l.n);
    nn_bind_report rep;
    nn_bind_report_init(&rep);
    CHECK(nn_net_bind(b, &l, NULL, &rep, &err) == 0, "%s", err.msg);
    nn_bind_report_free(&rep);
    float x[3 * 16 * 16], la[4], lb[4];
    for (int i = 0; i < 3 * 16 * 16; i++)
        x[i] = (float)((i * 37) % 11) / 11.0f;
    nn_net_forward(a, x, 1, 16, 16, 0, la, &err);
    nn_net_forward(b, x, 1, 16, 16, 0, lb, &err);
    CHECK(memcmp(la, lb, sizeof la) == 0, "export -> bind round trip");

    /* mis-shaped and unexpected tensors; module. prefix; num_batches_tracked ignored */
    wb_tensor_list m;
    wb_tensor_list_init(&m);
    for (size_t i = 0; i < l.n; i++) {
        char name[256];
        snprintf(name, sizeof name, "module.%s", l.items[i].name);
        int64_t shape[8];
        memcpy(shape, l.items[i].shape, sizeof shape);
        if (strcmp(l.items[i].name, "layer2.0.conv1.weight") == 0)
            shape[0] = 31;
        wb_tensor_list_add(&m, name, l.items[i].ndim, shape, NULL, &err);
    }
    int64_t one = 1;
    wb_tensor_list_add(&m, "module.bn1.num_batches_tracked", 0, &one, NULL, &err);
    wb_tensor_list_add(&m, "module.extra.weight", 1, &one, NULL, &err);
    nn_bind_report_init(&rep);
    CHECK(nn_net_bind(b, &m, NULL, &rep, &err) == -1 && err.code == WB_E_DATA, "strict fails");
    CHECK(strstr(err.msg, "unexpected tensor 'extra.weight'") != NULL, "message: %s", err.msg);
    CHECK(rep.n_misshaped == 1 && strstr(rep.misshaped[0],
                                         "layer2.0.conv1.weight: file [31,16,3,3] vs network [32,16,3,3]"),
          "misshaped: %s", rep.n_misshaped ? rep.misshaped[0] : "-");
    CHECK(rep.n_unexpected == 1 && rep.n_missing == 0, "unexpected %zu missing %zu",
          rep.n_unexpected, rep.n_missing);
    nn_net_forward(b, x, 1, 16, 16, 0, lb, &err);
    CHECK(memcmp(la, lb, sizeof la) == 0, "a failed strict bind copies nothing");
    nn_bind_report_free(&rep);
    /* values that cannot be weights: NaN, infinity, a negative running variance; nothing copied */
    static const struct { const char *name; size_t at; float v; const char *want; } bad[] = {
        {"layer1.0.conv1.weight", 5, NAN, "tensor 'layer1.0.conv1.weight' element 5 is NaN: every weight must be finite"},
        {"linear.bias", 2, -INFINITY, "tensor 'linear.bias' element 2 is -inf"},
        {"bn1.running_var", 3, -0.5f, "tensor 'bn1.running_var' element 3 is -0.5: a batch norm's running variance cannot be negative"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        wb_tensor *t = NULL;
        for (size_t i = 0; i < l.n; i++)
            if (strcmp(l.items[i].name, bad[k].name) == 0) t = &l.items[i];
        CHECK(t != NULL && wb_tensor_numel(t) > bad[k].at, "tensor %s", bad[k].name);
        if (!t) continue;
        const float keep = t->data[bad[k].at];
        t->data[bad[k].at] = bad[k].v;
        CHECK(nn_net_bind(b, &l, NULL, NULL, &err) == -1 && err.code == WB_E_DATA, "%s refused", bad[k].name);
        CHECK(strstr(err.msg, bad[k].want) != NULL, "message: %s", err.msg);
        t->data[bad[k].at] = keep;
        nn_net_forward(b, x, 1, 16, 16, 0, lb, &err);
        CHECK(memcmp(la, lb, sizeof la) == 0, "a refused bind (%s) copies nothing", bad[k].name);
    }
    nn_bind_opts lax = {0, 1};
    nn_bind_report_init(&rep);
    CHECK(nn_net_bind(b, &m, &lax, &rep, &err) == 0, "non-strict: %s", err.msg);
    CHECK(rep.n_bound == nn_net_num_tensors(b) - 1, "bound %zu", rep.n_bound);
    nn_bind_report_free(&rep);
    wb_tensor_list_free(&m);
    wb_tensor_list_free(&l);
    nn_net_free(a);
    nn_net_free(b);
}

/* PyTorch's SGD and AdamW on one parameter, in double, for comparison. */
/* save: buf = the trainable weights, end to end; else: how many differ from buf */
static size_t trainable_weights(const nn_net *net, float *buf, int save)
{
    size_t k = 0, differ = 0;
    for (size_t t = 0; t < nn_net_num_tensors(net); t++) {
        nn_param_view v;
        nn_net_tensor(net, t, &v);
        if (v.trainable)
            for (size_t i = 0; i < v.numel; i++, k++) {
                if (save)
                    buf[k] = v.data[i];
                else
                    differ += buf[k] != v.data[i];
            }
    }
    return differ;
}

static void test_optimizers(void)
{
    wb_error err = {0};
    for (int kind = 0; kind < 3; kind++) {
        nn_net *net = small_net(2, 3);
        nn_net_unfreeze(net, "none", NN_BN_FROZEN, 1, &err); /* head: linear.weight, .bias */
        nn_opt_cfg c = nn_opt_cfg_default(kind == 2 ? NN_OPT_ADAMW : NN_OPT_SGD);
        c.lr = 0.1f;
        c.weight_decay = 0.01f;
        c.nesterov = kind == 1;
        c.stage_lr_scale[4] = 0.5f; /* head */
        nn_opt *opt = nn_opt_create(net, &c, &err);
        CHECK(opt != NULL, "%s", err.msg);
        long wi = nn_net_tensor_find(net, "linear.weight");
        nn_param_view v;
        nn_net_tensor(net, (size_t)wi, &v);
        double p[128], m[128] = {0}, s2[128] = {0};
        for (int i = 0; i < 128; i++)
            p[i] = v.data[i];
        for (int step = 1; step <= 3; step++) {
            float *g = (float *)v.grad;
            for (int i = 0; i < 128; i++)
                g[i] = (float)(0.01 * ((i * 7 + step * 3) % 13) - 0.06);
            nn_param_view bv;
            nn_net_tensor(net, (size_t)nn_net_tensor_find(net, "linear.bias"), &bv);
            memset((float *)bv.grad, 0, sizeof(float) * 2);
            CHECK(nn_opt_step(opt, -1, NULL, &err) == 0, "%s", err.msg);
            double lr = 0.1 * 0.5;
            for (int i = 0; i < 128; i++) {
                double gi = g[i];
                if (kind < 2) {
                    gi += 0.01 * p[i];
                    m[i] = step == 1 ? gi : 0.9 * m[i] + gi;
                    p[i] -= lr * (kind == 1 ? gi + 0.9 * m[i] : m[i]);
                } else {
                    p[i] *= 1 - lr * 0.01;
                    m[i] = 0.9 * m[i] + 0.1 * gi;
                    s2[i] = 0.999 * s2[i] + 0.001 * gi * gi;
                    double mh = m[i] / (1 - pow(0.9, step)), vh = s2[i] / (1 - pow(0.999, step));
                    p[i] -= lr * mh / (sqrt(vh) + 1e-8);
                }
            }
        }
        double worst = 0;
        for (int i = 0; i < 128; i++)
            worst = fmax(worst, fabs(v.data[i] - p[i]) / fmax(fabs(p[i]), 1e-3));
        CHECK_LE(worst, 1e-5, "optimizer %d after 3 steps", kind);
        printf("%-13s 3 steps: worst rel err %.2e\n",
               kind == 0 ? "SGD momentum" : kind == 1 ? "SGD Nesterov" : "AdamW", worst);
        nn_opt_free(opt);
        nn_net_free(net);
    }
    /* clipping: the global norm is brought to clip_norm */
    nn_net *net = small_net(2, 3);
    nn_net_unfreeze(net, "none", NN_BN_FROZEN, 1, &err);
    nn_opt_cfg c = nn_opt_cfg_default(NN_OPT_SGD);
    c.momentum = 0;
    c.lr = 1;
    c.clip_norm = 0.5f;
    nn_opt *opt = nn_opt_create(net, &c, &err);
    float before[130], after[130];
    size_t k = 0;
    for (size_t t = 0; t < nn_net_num_tensors(net); t++) {
        nn_param_view v;
        nn_net_tensor(net, t, &v);
        if (!v.trainable)
            continue;
        for (size_t i = 0; i < v.numel; i++) {
            ((float *)v.grad)[i] = 1.0f;
            before[k++] = v.data[i];
        }
    }
    double gn;
    nn_opt_step(opt, -1, &gn, &err);
    CHECK_LE(fabs(gn - sqrt(130.0)), 1e-5, "grad norm %g", gn);
    k = 0;
    double d2 = 0;
    for (size_t t = 0; t < nn_net_num_tensors(net); t++) {
        nn_param_view v;
        nn_net_tensor(net, t, &v);
        if (v.trainable)
            for (size_t i = 0; i < v.numel; i++, k++) {
                after[k] = v.data[i];
                d2 += (double)(after[k] - before[k]) * (after[k] - before[k]);
            }
    }
    CHECK_LE(fabs(sqrt(d2) - 0.5), 1e-5, "clipped step norm %g", sqrt(d2));
    nn_opt_free(opt);
    nn_net_free(net);

    /* a non-finite gradient anywhere (checked on the engine's threads over all 270k
     * gradients end to end) is refused before any weight moves, on 1 and 2 threads */
    const int threads = nn_get_threads();
    for (int nth = 1; nth <= 2; nth++)
        for (int bad = 0; bad < 3; bad++) {
            nn_set_threads(nth);
            net = small_net(2, 3);
            nn_net_unfreeze(net, "all", NN_BN_TRAIN, 1, &err);
            c = nn_opt_cfg_default(NN_OPT_SGD);
            opt = nn_opt_create(net, &c, &err);
            const char *where[3] = {"conv1.weight", "layer3.2.conv2.weight", "linear.bias"};
            size_t sum_before = 0, moved = 0;
            for (size_t t = 0; t < nn_net_num_tensors(net); t++) {
                nn_param_view v;
                nn_net_tensor(net, t, &v);
                if (!v.trainable)
                    continue;
                for (size_t i = 0; i < v.numel; i++)
                    ((float *)v.grad)[i] = 1e-3f;
                if (!strcmp(v.name, where[bad]))
                    ((float *)v.grad)[v.numel / 2] = bad == 1 ? INFINITY : NAN;
                sum_before += v.numel;
            }
            float *copy = malloc(sizeof(float) * sum_before);
            trainable_weights(net, copy, 1);
            CHECK(nn_opt_step(opt, -1, NULL, &err) != 0 && strstr(err.msg, "gradient norm is"),
                  "%d threads: a bad gradient in %s is refused: %s", nth, where[bad], err.msg);
            moved = trainable_weights(net, copy, 0);
            CHECK(sum_before > 65536 && moved == 0, "%d threads: %zu of %zu weights moved", nth, moved,
                  sum_before);
            free(copy);
            nn_opt_free(opt);
            nn_net_free(net);
        }
    nn_set_threads(threads);
}

static void test_schedules(void)
{
    nn_sched s = {NN_SCHED_COSINE, 1.0f, 0.0f, 10, 0.1f, 110, 0, 0};
    CHECK_LE(fabs(nn_sched_lr(&s, 0) - 0.1), 1e-7, "warm-up start");
    CHECK_LE(fabs(nn_sched_lr(&s, 5) - 0.55), 1e-6, "warm-up middle");
    CHECK_LE(fabs(nn_sched_lr(&s, 10) - 1.0), 1e-7, "cosine start");
    CHECK_LE(fabs(nn_sched_lr(&s, 60) - 0.5), 1e-6, "cosine middle");
    CHECK_LE(fabs(nn_sched_lr(&s, 110) - 0.0), 1e-7, "cosine end");
    nn_sched st = {NN_SCHED_STEP, 1.0f, 0.0f, 0, 0.0f, 0, 30, 0.1f};
    CHECK_LE(fabs(nn_sched_lr(&st, 29) - 1.0), 1e-7, "step 29");
    CHECK_LE(fabs(nn_sched_lr(&st, 30) - 0.1), 1e-7, "step 30");
    CHECK_LE(fabs(nn_sched_lr(&st, 65) - 0.01), 1e-8, "step 65");
}

/* nn_net_infer_batch: the largest power of two from 2 whose largest activation (bytes of one
 * node's output) fits NN_INFER_BYTES (2 MiB), capped by max; from the prefix, over the nodes
 * after it. The shapes the experiments run (docs/performance.md measured these choices). */
static void test_infer_batch(void)
{
    static const struct {
        const char *arch;
        float width;
        int h, w;
        const char *from;
        int max, whole, post;
    } cases[] = {
        /* block1's output, 16 x 48 x 48 floats = 144 KiB: 8; block10's 128 x 6 x 6 = 18 KiB: 64 */
        {"mobilenet_v1", 0.25f, 96, 96, "block11", 256, 8, 64},
        {"mobilenet_v1", 0.25f, 96, 96, "block11", 32, 8, 32},
        /* 16 x 96 x 72 = 432 KiB: 4; layer2's 32 x 48 x 36 = 216 KiB: 8 */
        {"resnet20", 0.0f, 96, 72, "layer3", 256, 4, 8},
        /* 16 x 128 x 128 = 1 MiB: exactly 2 fit; 32 x 64 x 64 = 512 KiB: 4 */
        {"resnet20", 0.0f, 128, 128, "layer3", 16, 2, 4},
        /* 16 x 32 x 32 = 64 KiB: 32 */
        {"resnet20", 0.0f, 32, 32, "layer3", 256, 32, 64},
        /* ResNet-18's conv1, 64 x 112 x 112 = 3 MiB: none fits, the floor of 2 */
        {"resnet18", 0.0f, 224, 224, "layer4", 256, 2, 8},
        {"resnet20", 0.0f, 32, 32, "layer3", 1, 1, 1},
        {"resnet20", 0.0f, 32, 32, "layer3", 6, 4, 4},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        wb_error err = {0};
        nn_net_opts o = nn_net_opts_default();
        o.in_channels = 1;
        o.num_classes = 2;
        if (cases[i].width > 0.0f)
            o.width = cases[i].width;
        nn_net *net = nn_net_create(cases[i].arch, &o, &err);
        CHECK(net != NULL && nn_net_unfreeze(net, cases[i].from, NN_BN_FROZEN, 1, &err) == 0, "%s", err.msg);
        if (!net)
            continue;
        int whole = nn_net_infer_batch(net, cases[i].h, cases[i].w, 0, cases[i].max, &err);
        int post = nn_net_infer_batch(net, cases[i].h, cases[i].w, 1, cases[i].max, &err);
        CHECK(whole == cases[i].whole && post == cases[i].post, "%s %dx%d from %s, max %d: %d / %d, expected %d / %d",
              cases[i].arch, cases[i].h, cases[i].w, cases[i].from, cases[i].max, whole, post, cases[i].whole,
              cases[i].post);
        if (i == 0) { /* a bad shape is an error, and the network still runs after the query */
            CHECK(nn_net_infer_batch(net, 0, 96, 0, 8, &err) == -1 && err.code == WB_E_USAGE, "bad shape: %s", err.msg);
            float x[96 * 96] = {0}, z[2];
            CHECK(nn_net_forward(net, x, 1, 96, 96, 0, z, &err) == 0, "%s", err.msg);
        }
        nn_net_free(net);
    }
}

static void test_errors(void)
{
    wb_error err = {0};
    CHECK(nn_net_create("resnet19", NULL, &err) == NULL && strstr(err.msg, "unknown architecture"),
          "%s", err.msg);
    nn_net_opts o = nn_net_opts_default();
    o.num_classes = 0;
    CHECK(nn_net_create("resnet18", &o, &err) == NULL && err.code == WB_E_USAGE, "%s", err.msg);
    int blocks[4] = {1, 1, 1, 1};
    nn_net *n = nn_net_create_resnet(NN_BLOCK_BOTTLENECK, blocks, 4, NULL, &err);
    CHECK(n != NULL && nn_net_num_params(n, -1, 0) == 10064936, /* torchvision ResNet(Bottleneck, [1,1,1,1]) */
          "bottleneck [1,1,1,1] with default options: %zu params", n ? nn_net_num_params(n, -1, 0) : 0);
    nn_net_free(n);
    nn_net_free(NULL);
    nn_opt_free(NULL);
    nn_bind_report_free(NULL);
    CHECK(nn_set_threads(1) == 1, "threads");
}

/* The VmFlags of the mapping that holds addr, from /proc/self/smaps ("" if not found) */
static void vma_flags(const void *addr, char *out, size_t cap)
{
    out[0] = '\0';
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return;
    char line[512];
    int inside = 0;
    const uintptr_t a = (uintptr_t)addr;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' ')) {
            inside = a >= lo && a < hi;
            continue;
        }
        if (inside && strncmp(line, "VmFlags:", 8) == 0) {
            snprintf(out, cap, "%s", line + 8);
            break;
        }
    }
    fclose(f);
}

/* The activation arena's whole 2 MB pages carry MADV_HUGEPAGE (VmFlags "hg"), unless
 * WB_NN_NOTHP is set; a block under two huge pages is left alone, and the advice goes with the
 * block (a mapping of its own). Linux without AddressSanitizer only (nn_large_advised). */
static void test_arena_hugepages(void)
{
#if defined(__linux__)
    char fl[512];
    const size_t huge = (size_t)2 << 20;
    vma_flags(&fl, fl, sizeof fl);
    FILE *thp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!fl[0] || !thp || !nn_large_advised() || getenv("WB_NN_NOTHP")) {
        printf("arena huge pages: not checked (%s)\n",
               !fl[0] ? "no /proc/self/smaps" : !thp ? "no transparent huge pages"
               : !nn_large_advised() ? "AddressSanitizer build: the arena is a malloc block"
                                     : "WB_NN_NOTHP is set");
        if (thp)
            fclose(thp);
        return;
    }
    fclose(thp);
    wb_error err = {0};
    nn_net *net = small_net(3, 1);
    enum { N = 4, H = 96, W = 96 };
    float *x = calloc((size_t)N * H * W, sizeof(float)), l[N * 3];
    nn_net_unfreeze(net, "all", NN_BN_TRAIN, 1, &err);
    CHECK(nn_net_forward(net, x, N, H, W, 1, l, &err) == 0, "%s", err.msg);
    CHECK(net->arena_cap * sizeof(float) >= 4 * huge, "arena %zu bytes", net->arena_cap * sizeof(float));
    const float *in = (const float *)(((uintptr_t)net->arena + huge - 1) & ~(uintptr_t)(huge - 1));
    vma_flags(in, fl, sizeof fl);
    CHECK(strstr(fl, " hg") != NULL, "the arena's huge pages are advised: VmFlags%s", fl);
    nn_net_free(net);
    nn_arena_spare_free();
    /* the advice went with the arena: what malloc maps there now is not advised */
    float *q = malloc(4 * huge);
    vma_flags(q + huge / sizeof(float), fl, sizeof fl);
    CHECK(q && strstr(fl, " hg") == NULL, "a malloc block after the arena: VmFlags%s", fl);
    free(q);
    setenv("WB_NN_NOTHP", "1", 1);
    float *p = nn_malloc_large(4 * huge);
    vma_flags(p + huge / sizeof(float), fl, sizeof fl);
    CHECK(p && strstr(fl, " hg") == NULL, "WB_NN_NOTHP: no advice: VmFlags%s", fl);
    nn_free_large(p);
    unsetenv("WB_NN_NOTHP");
    p = nn_malloc_large(4 * huge);
    vma_flags(p + huge / sizeof(float), fl, sizeof fl);
    CHECK(p && strstr(fl, " hg") != NULL, "nn_malloc_large: VmFlags%s", fl);
    nn_free_large(p);
    /* under two huge pages: no advice, though a whole huge page lies inside the block */
    const size_t n = 2 * huge - 1; /* the block starts 64 bytes into a page */
    char *c = nn_malloc_large(n);
    const char *first = (const char *)(((uintptr_t)c + huge - 1) & ~(uintptr_t)(huge - 1));
    CHECK(c && first + huge <= c + n, "a whole huge page inside %zu bytes", n);
    vma_flags(first, fl, sizeof fl);
    CHECK(strstr(fl, " hg") == NULL, "under two huge pages: no advice: VmFlags%s", fl);
    nn_free_large(c);
    free(x);
#endif
}

int main(void)
{
    nn_set_threads(1);
    test_freezing();
    test_prefix_and_arena();
    test_arena_hugepages();
    test_bind_export();
    test_optimizers();
    test_schedules();
    test_infer_batch();
    test_errors();
    TEST_END();
}
