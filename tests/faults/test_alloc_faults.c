/* test_alloc_faults.c — out of memory in the engine: for every allocation a short fine-tuning
 * session makes (build, freeze, optimizer, training forward/backward/step, cached prefix,
 * inference at a new shape, export/bind, unfreeze all), the run is repeated with exactly that
 * allocation failing (nn_fault_alloc_set). Each time the failing call must return -1 with
 * WB_E_NOMEM and a message, leave the network consistent (a gradient exactly for trainable
 * tensors), and the session must then finish when retried from the failed step. Under ASan
 * (build-faults-asan) the same loop also shows that no error path leaks or touches freed
 * memory. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/wb_tensor.h"
#include "nets/nn.h"
#include "nets/nn_internal.h"
#include "wb_test.h"

enum { N = 2, K = 2, HW_MAX = 32 * 32 };

typedef struct session {
    const char *arch, *part; /* network, stage list to fine-tune first */
    nn_opt_kind opt_kind;
    int h, w;
    nn_net *net;
    nn_opt *opt;
    float x[N * HW_MAX], logits[N * K], dlogits[N * K], prefix[N * 64 * HW_MAX];
    int labels[N];
} session;

static void session_free(session *s)
{
    nn_opt_free(s->opt);
    nn_net_free(s->net);
    s->opt = NULL;
    s->net = NULL;
}

static int train_step(session *s, int from_prefix, wb_error *err)
{
    const int H = s->h, W = s->w;
    double loss;
    int rc = from_prefix ? nn_net_forward_from_prefix(s->net, s->prefix, N, H, W, 1, s->logits, err)
                         : nn_net_forward(s->net, s->x, N, H, W, 1, s->logits, err);
    if (rc != 0 || nn_loss_softmax_ce(s->logits, s->labels, NULL, N, K, &loss, s->dlogits, err) != 0 ||
        nn_net_backward(s->net, s->dlogits, err) != 0)
        return -1;
    return nn_opt_step(s->opt, -1.0f, NULL, err);
}

/* Step g of the session; the steps build on each other. */
static int step(session *s, int g, wb_error *err)
{
    const int H = s->h, W = s->w;
    switch (g) {
    case 0: {
        nn_net_opts o = nn_net_opts_default();
        o.in_channels = 1;
        o.num_classes = K;
        o.seed = 5;
        o.width = 0.25f;
        o.dropout = 0.25f;
        if (strcmp(s->arch, "resnet8") == 0) { /* CIFAR ResNet with one block a stage: quick */
            static const int blocks[3] = {1, 1, 1};
            s->net = nn_net_create_resnet(NN_BLOCK_CIFAR, blocks, 3, &o, err);
        } else {
            s->net = nn_net_create(s->arch, &o, err);
        }
        return s->net ? 0 : -1;
    }
    case 1:
        return nn_net_unfreeze(s->net, s->part, NN_BN_FROZEN, 1, err);
    case 2: {
        nn_opt_cfg c = nn_opt_cfg_default(s->opt_kind);
        s->opt = nn_opt_create(s->net, &c, err);
        return s->opt ? 0 : -1;
    }
    case 3:
        return train_step(s, 0, err);
    case 4: {
        int sh[4];
        if (nn_net_prefix_shape(s->net, N, H, W, sh, err) != 0)
            return -1;
        if ((size_t)sh[0] * sh[1] * sh[2] * sh[3] > sizeof s->prefix / sizeof s->prefix[0])
            return wb_err(err, WB_E_INTERNAL, NULL, "test: prefix buffer too small");
        if (nn_net_forward_prefix(s->net, s->x, N, H, W, s->prefix, err) != 0)
            return -1;
        return train_step(s, 1, err);
    }
    case 5: { /* inference at a larger batch and size: new plans and a bigger arena */
        static float x2[3 * 4 * HW_MAX], lg[3 * K], feat[3 * 1024];
        for (size_t i = 0; i < sizeof x2 / sizeof x2[0]; i++)
            x2[i] = (float)(i % 17) / 17.0f;
        if (nn_net_features(s->net, x2, 3, H, W, feat, err) != 0)
            return -1;
        return nn_net_forward(s->net, x2, 3, H + 8, W + 8, 0, lg, err);
    }
    case 6: { /* weights out and back in by name */
        wb_tensor_list l, gl;
        wb_tensor_list_init(&l);
        wb_tensor_list_init(&gl);
        nn_bind_report rep;
        nn_bind_report_init(&rep);
        int rc = nn_net_export(s->net, &l, err);
        if (rc == 0)
            rc = nn_net_bind(s->net, &l, NULL, &rep, err);
        if (rc == 0)
            rc = nn_net_export_grads(s->net, &gl, err);
        nn_bind_report_free(&rep);
        wb_tensor_list_free(&l);
        wb_tensor_list_free(&gl);
        return rc;
    }
    case 7: /* everything trains now: new gradients and optimizer state */
        nn_opt_free(s->opt);
        s->opt = NULL;
        if (nn_net_unfreeze(s->net, "all", NN_BN_TRAIN, 1, err) != 0)
            return -1;
        return step(s, 2, err) != 0 ? -1 : train_step(s, 0, err);
    }
    return 1; /* no more steps */
}

/* A gradient exactly for the trainable tensors (what the optimizer and backward rely on). */
static int consistent(const nn_net *net)
{
    for (size_t i = 0; i < nn_net_num_tensors(net); i++) {
        nn_param_view v;
        nn_net_tensor(net, i, &v);
        if ((v.grad != NULL) != (v.trainable != 0) || !v.data)
            return 0;
    }
    return 1;
}

static void session_init(session *s, const char *arch, const char *part, nn_opt_kind kind)
{
    memset(s, 0, sizeof *s);
    s->h = s->w = strcmp(arch, "mobilenet_v1") == 0 ? 32 : 16; /* mobilenet strides 32 */
    s->arch = arch;
    s->part = part;
    s->opt_kind = kind;
    for (int i = 0; i < N * s->h * s->w; i++)
        s->x[i] = (float)((i * 7919) % 101) / 101.0f - 0.5f;
    for (int i = 0; i < N; i++)
        s->labels[i] = i % K;
}

/* The whole session with allocation k failing (0: none). Returns the step that failed, -1 if
 * none did. */
static int run_session(const char *arch, const char *part, nn_opt_kind kind, long k)
{
    static session s;
    session_init(&s, arch, part, kind);
    wb_error err = {0};
    int failed = -1;
    nn_fault_alloc_set(k ? k : LONG_MAX);
    for (int g = 0;; g++) {
        wb_error_clear(&err);
        int rc = step(&s, g, &err);
        if (rc == 1 || (rc == 0 && failed >= 0 && g == failed))
            break;
        if (rc == 0)
            continue;
        nn_fault_alloc_set(0);
        if (failed >= 0) {
            CHECK(0, "%s, allocation %ld: step %d failed again after the retry: %s", arch, k, g, err.msg);
            break;
        }
        failed = g;
        CHECK(err.code == WB_E_NOMEM && err.msg[0], "%s, allocation %ld failing: step %d: code %d '%s'",
              arch, k, g, (int)err.code, err.msg);
        CHECK(!s.net || consistent(s.net), "%s, allocation %ld: step %d left gradients inconsistent", arch, k, g);
        g--; /* the same step again, now with memory; the steps after it ran in the clean session */
    }
    nn_fault_alloc_set(0);
    session_free(&s);
    return failed;
}

static void sweep(const char *arch, const char *part, nn_opt_kind kind)
{
    CHECK_EQ_INT(run_session(arch, part, kind, 0), -1, "a session without failures");
    nn_fault_alloc_set(LONG_MAX);
    long total;
    {
        /* count the allocations of one clean session */
        static session s;
        session_init(&s, arch, part, kind);
        wb_error err = {0};
        for (int g = 0; step(&s, g, &err) == 0; g++)
            ;
        total = nn_fault_alloc_count();
        nn_fault_alloc_set(0);
        session_free(&s);
    }
    CHECK(total > 50, "%s: only %ld engine allocations counted", arch, total);
    long swallowed = 0;
    for (long k = 1; k <= total; k++)
        if (run_session(arch, part, kind, k) < 0)
            swallowed++;
    CHECK_EQ_INT(swallowed, 0, "allocation failures that no call reported");
    printf("%s: %ld engine allocations, each failed once: every one reported as out of memory\n", arch, total);
}

int main(void)
{
    nn_set_threads(1); /* no allocations in the pool; one thread keeps the 600 sessions quick */
    sweep("resnet8", "layer3", NN_OPT_SGD);
    sweep("mobilenet_v1", "block13", NN_OPT_ADAMW);
    return wb_test_finish("faults.alloc");
}
