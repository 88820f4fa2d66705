/* nn_net.c — the graph: building, shapes, the memory plan, forward and backward, freezing. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "nets/nn_internal.h"

_Static_assert(NN_OP_COUNT == 13, "add the new op to op_names, infer_shapes, run_forward, "
                                 "run_backward, needs_input and needs_output");

static const char *const op_names[NN_OP_COUNT] = {
    "input", "conv2d", "batchnorm", "relu", "relu6", "maxpool", "avgpool",
    "gap", "linear", "dropout", "add", "pad", "shortcut_a",
};

const char *nn_op_name(nn_op op)
{
    return (unsigned)op < NN_OP_COUNT ? op_names[op] : "?";
}

static void copy_name(char *dst, size_t n, const char *src)
{
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* ------------------------------------------------------------------ building */

nn_net_opts nn_net_opts_default(void)
{
    nn_net_opts o;
    memset(&o, 0, sizeof o);
    o.in_channels = 3;
    o.num_classes = 1000;
    o.seed = 0;
    o.width = 1.0f;
    o.dropout = 1e-3f;
    for (int c = 0; c < 3; c++)
        o.in_std[c] = 1.0f;
    return o;
}

const char *nn_arch_input_norm(const char *arch, float mean[3], float std[3])
{
    static const float im_mean[3] = {0.485f, 0.456f, 0.406f}, im_std[3] = {0.229f, 0.224f, 0.225f};
    static const float k_mean[3] = {0.5f, 0.5f, 0.5f}, k_std[3] = {0.5f, 0.5f, 0.5f};
    static const char *const resnets[] = {"resnet18", "resnet34", "resnet50", "resnet20",
                                          "resnet32", "resnet44", "resnet56"};
    const float *m = NULL, *sd = NULL;
    const char *family = NULL;
    if (arch && strcmp(arch, "mobilenet_v1") == 0) {
        m = k_mean, sd = k_std, family = "keras";
    } else {
        for (size_t i = 0; arch && i < sizeof resnets / sizeof resnets[0]; i++)
            if (strcmp(arch, resnets[i]) == 0)
                m = im_mean, sd = im_std, family = "imagenet";
    }
    for (int c = 0; family && c < 3; c++) {
        if (mean)
            mean[c] = m[c];
        if (std)
            std[c] = sd[c];
    }
    return family;
}

nn_net *nn_net_alloc(const char *arch, const nn_net_opts *opts, wb_error *err)
{
    if (opts->in_channels < 1 || opts->in_channels > 4096) {
        wb_err(err, WB_E_USAGE, NULL, "%s: in_channels must be from 1 to 4096, got %d", arch,
               opts->in_channels);
        return NULL;
    }
    if (opts->num_classes < 1 || opts->num_classes > 1000000) {
        wb_err(err, WB_E_USAGE, NULL, "%s: num_classes must be from 1 to 1000000, got %d", arch,
               opts->num_classes);
        return NULL;
    }
    for (int c = 0; opts->in_norm && c < 3; c++)
        if (!(opts->in_std[c] > 0.0f && opts->in_std[c] < 1e6f) || !isfinite(opts->in_mean[c])) {
            wb_err(err, WB_E_USAGE, NULL, "%s: input normalisation needs finite means and "
                   "positive standard deviations (channel %d: mean %g, std %g)", arch, c,
                   (double)opts->in_mean[c], (double)opts->in_std[c]);
            return NULL;
        }
    if (opts->in_norm && opts->in_channels != 1 && opts->in_channels != 3) {
        wb_err(err, WB_E_USAGE, NULL, "%s: input normalisation needs 1 or 3 input channels, got %d",
               arch, opts->in_channels);
        return NULL;
    }
    nn_net *net = nn_calloc(1, sizeof *net);
    if (!net) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory creating %s", arch);
        return NULL;
    }
    net->in_node = -1;
    copy_name(net->arch, sizeof net->arch, arch);
    net->opts = *opts;
    net->feature_node = -1;
    nn_rng_seed(&net->drop_rng, opts->seed ^ 0xD50F0D50F0ull);
    if (nn_net_add_node(net, NN_OP_INPUT, -1, -1, "input", err) < 0) {
        nn_net_free(net);
        return NULL;
    }
    net->nodes[0].stage = -1;
    return net;
}

/* The spare arena: a freed network's activation memory, kept for the next network the
 * process plans (a run builds one network per fold and variant, of the same architecture and
 * input shape). Taking it skips the allocation and the kernel's zeroing of fresh pages on
 * first touch; no kernel reads arena memory it has not written (tests/nets/test_net_reuse.c
 * and test_train_cache's reuse case compare with a fresh arena). One slot: the larger of the
 * two kept. */
static pthread_mutex_t g_spare_mu = PTHREAD_MUTEX_INITIALIZER;
static float *g_spare;
static size_t g_spare_cap; /* floats */

/* The spare if it holds at least want floats (its size into *cap); else NULL, and a spare
 * too small for this network is freed (its own arena will be the spare when it is freed). */
static float *spare_take(size_t want, size_t *cap)
{
    float *p = NULL, *drop = NULL;
    pthread_mutex_lock(&g_spare_mu);
    if (g_spare && g_spare_cap >= want) {
        p = g_spare;
        *cap = g_spare_cap;
    } else {
        drop = g_spare;
    }
    g_spare = NULL;
    g_spare_cap = 0;
    pthread_mutex_unlock(&g_spare_mu);
    nn_free_large(drop);
    return p;
}

static void spare_give(float *p, size_t cap)
{
    if (!p)
        return;
    float *drop = p;
    pthread_mutex_lock(&g_spare_mu);
    if (!g_spare || cap > g_spare_cap) {
        drop = g_spare;
        g_spare = p;
        g_spare_cap = cap;
    }
    pthread_mutex_unlock(&g_spare_mu);
    nn_free_large(drop);
}

void nn_arena_spare_free(void)
{
    pthread_mutex_lock(&g_spare_mu);
    float *p = g_spare;
    g_spare = NULL;
    g_spare_cap = 0;
    pthread_mutex_unlock(&g_spare_mu);
    nn_free_large(p);
}

size_t nn_arena_spare_bytes(void)
{
    pthread_mutex_lock(&g_spare_mu);
    size_t n = g_spare ? g_spare_cap * sizeof(float) : 0;
    pthread_mutex_unlock(&g_spare_mu);
    return n;
}

void nn_net_free(nn_net *net)
{
    if (!net)
        return;
    for (size_t i = 0; i < net->n_tensors; i++) {
        free(net->tensors[i].data);
        free(net->tensors[i].grad);
    }
    free(net->tensors);
    free(net->nodes);
    spare_give(net->arena, net->arena_cap);
    free(net->in_map);
    free(net);
}

int nn_net_begin_stage(nn_net *net, const char *name, wb_error *err)
{
    if (net->n_stages >= NN_MAX_STAGES)
        return wb_err(err, WB_E_INTERNAL, NULL, "%s: more than %d stages", net->arch,
                      NN_MAX_STAGES);
    nn_stage *s = &net->stages[net->n_stages];
    copy_name(s->name, sizeof s->name, name);
    s->begin = s->end = net->n_nodes;
    net->n_stages++;
    return 0;
}

void nn_net_end_stage(nn_net *net)
{
    net->stages[net->n_stages - 1].end = net->n_nodes;
}

int nn_net_add_node(nn_net *net, nn_op op, int in0, int in1, const char *name, wb_error *err)
{
    if (net->n_nodes == net->cap_nodes) {
        int cap = net->cap_nodes ? net->cap_nodes * 2 : 64;
        nn_node *p = nn_realloc(net->nodes, sizeof *p * (size_t)cap);
        if (!p)
            return wb_err(err, WB_E_NOMEM, NULL, "out of memory building %s", net->arch);
        net->nodes = p;
        net->cap_nodes = cap;
    }
    nn_node *nd = &net->nodes[net->n_nodes];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    nd->in[0] = in0;
    nd->in[1] = in1;
    nd->stage = net->n_stages - 1;
    copy_name(nd->name, sizeof nd->name, name);
    nd->sh = nd->sw = 1;
    nd->groups = 1;
    for (int i = 0; i < 4; i++)
        nd->t[i] = -1;
    nd->off_out = nd->off_grad = nd->off_aux = NN_NONE;
    return net->n_nodes++;
}

long nn_net_add_tensor(nn_net *net, int node, int slot, const char *full_name,
                       nn_tensor_kind kind, int ndim, const int *shape, wb_error *err)
{
    if (net->n_tensors == net->cap_tensors) {
        size_t cap = net->cap_tensors ? net->cap_tensors * 2 : 64;
        nn_tensor *p = nn_realloc(net->tensors, sizeof *p * cap);
        if (!p)
            return wb_err(err, WB_E_NOMEM, NULL, "out of memory building %s", net->arch);
        net->tensors = p;
        net->cap_tensors = cap;
    }
    nn_tensor *t = &net->tensors[net->n_tensors];
    memset(t, 0, sizeof *t);
    copy_name(t->name, sizeof t->name, full_name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) {
        t->shape[i] = shape[i];
        t->numel *= (size_t)shape[i];
    }
    t->kind = kind;
    t->node = node;
    t->stage = net->nodes[node].stage;
    t->data = nn_calloc(t->numel ? t->numel : 1, sizeof(float));
    if (!t->data)
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory for %s", full_name);
    net->nodes[node].t[slot] = (int)net->n_tensors;
    return (long)net->n_tensors++;
}

int nn_add_conv(nn_net *net, int in, const char *name, int ic, int oc, int k, int s, int p,
                int groups, int has_bias, const char *wname, const char *bname, wb_error *err)
{
    int id = nn_net_add_node(net, NN_OP_CONV2D, in, -1, name, err);
    if (id < 0)
        return -1;
    nn_node *nd = &net->nodes[id];
    nd->oc = oc;
    nd->kh = nd->kw = k;
    nd->sh = nd->sw = s;
    nd->ph = nd->pw = p;
    nd->groups = groups;
    char buf[NN_NAME_MAX + 16];
    int shape[4] = {oc, ic / groups, k, k};
    snprintf(buf, sizeof buf, "%s.weight", name);
    if (nn_net_add_tensor(net, id, 0, wname ? wname : buf, NN_T_WEIGHT, 4, shape, err) < 0)
        return -1;
    if (has_bias) {
        snprintf(buf, sizeof buf, "%s.bias", name);
        if (nn_net_add_tensor(net, id, 1, bname ? bname : buf, NN_T_BIAS, 1, &oc, err) < 0)
            return -1;
    }
    return id;
}

int nn_add_bn(nn_net *net, int in, const char *name, int c, float eps, float momentum,
              const char *const names[4], wb_error *err)
{
    int id = nn_net_add_node(net, NN_OP_BATCHNORM, in, -1, name, err);
    if (id < 0)
        return -1;
    net->nodes[id].eps = eps;
    net->nodes[id].momentum = momentum;
    static const char *const suffix[4] = {"weight", "bias", "running_mean", "running_var"};
    static const nn_tensor_kind kinds[4] = {NN_T_BN_WEIGHT, NN_T_BN_BIAS, NN_T_BN_MEAN,
                                            NN_T_BN_VAR};
    for (int i = 0; i < 4; i++) {
        char buf[NN_NAME_MAX + 16];
        if (names)
            snprintf(buf, sizeof buf, "%s", names[i]);
        else
            snprintf(buf, sizeof buf, "%s.%s", name, suffix[i]);
        if (nn_net_add_tensor(net, id, i, buf, kinds[i], 1, &c, err) < 0)
            return -1;
    }
    return id;
}

int nn_add_simple(nn_net *net, nn_op op, int in, const char *name, wb_error *err)
{
    return nn_net_add_node(net, op, in, -1, name, err);
}

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 0x100000001b3ull;
    }
    return h;
}

/* PyTorch-style initialisation, one RNG stream per tensor (seed ^ hash(name)), so a
 * tensor's init does not depend on what else the network holds. */
static void init_tensor(const nn_net *net, nn_tensor *t)
{
    nn_rng r;
    nn_rng_seed(&r, net->opts.seed ^ fnv1a(t->name));
    switch (t->kind) {
    case NN_T_WEIGHT:
        if (t->is_head || t->ndim == 2) {
            /* nn.Linear / head default: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in)) */
            size_t fan_in = t->numel / (size_t)t->shape[0];
            float b = (float)(1.0 / sqrt((double)fan_in));
            for (size_t i = 0; i < t->numel; i++)
                t->data[i] = (2.0f * nn_rng_uniform(&r) - 1.0f) * b;
        } else {
            /* torchvision ResNet: kaiming_normal_(mode="fan_out", nonlinearity="relu") */
            size_t fan_out = t->numel / (size_t)t->shape[1];
            double sd = sqrt(2.0 / (double)fan_out);
            for (size_t i = 0; i < t->numel; i++)
                t->data[i] = (float)(nn_rng_normal(&r) * sd);
        }
        break;
    case NN_T_BIAS: {
        const nn_tensor *w = &net->tensors[net->nodes[t->node].t[0]];
        size_t fan_in = w->numel / (size_t)w->shape[0];
        float b = (float)(1.0 / sqrt((double)fan_in));
        for (size_t i = 0; i < t->numel; i++)
            t->data[i] = (2.0f * nn_rng_uniform(&r) - 1.0f) * b;
        break;
    }
    case NN_T_BN_WEIGHT:
    case NN_T_BN_VAR:
        for (size_t i = 0; i < t->numel; i++)
            t->data[i] = 1.0f;
        break;
    case NN_T_BN_BIAS:
    case NN_T_BN_MEAN:
    case NN_T_INPUT_OFFSET: /* no offset until weights are folded in (nn_net_bind) */
        memset(t->data, 0, t->numel * sizeof(float));
        break;
    }
}

/* With opts.in_norm: the input_offset buffer beside conv1's weight, in the conv's slot 2,
 * named as the weight ("conv1.weight" -> "conv1.input_offset", "conv1/kernel:0" ->
 * "conv1/input_offset:0"). */
static int add_input_offset(nn_net *net, wb_error *err)
{
    size_t n = net->n_tensors;
    for (size_t i = 0; i < n; i++) {
        const nn_tensor *t = &net->tensors[i];
        if (!t->is_first_conv)
            continue;
        char name[NN_NAME_MAX];
        const char *slash = strrchr(t->name, '/'), *dot = strrchr(t->name, '.');
        int keras = slash != NULL;
        const char *cut = keras ? slash : dot;
        int len = cut ? (int)(cut - t->name) : (int)strlen(t->name);
        if (snprintf(name, sizeof name, "%.*s%s", len, t->name,
                     keras ? "/input_offset:0" : ".input_offset") >= (int)sizeof name)
            return wb_err(err, WB_E_INTERNAL, NULL, "name '%s' is too long", t->name);
        int node = t->node;
        int shape[4] = {t->shape[0], 1, t->shape[2], t->shape[3]};
        if (nn_net_add_tensor(net, node, 2, name, NN_T_INPUT_OFFSET, 4, shape, err) < 0)
            return -1;
        net->in_node = node;
        return 0;
    }
    return wb_err(err, WB_E_INTERNAL, NULL, "%s: no first convolution to normalise the input in",
                  net->arch);
}

int nn_net_finish(nn_net *net, wb_error *err)
{
    if (net->opts.in_norm && add_input_offset(net, err) != 0)
        return -1;
    for (size_t i = 0; i < net->n_tensors; i++)
        init_tensor(net, &net->tensors[i]);
    return nn_net_unfreeze(net, "all", NN_BN_TRAIN, 1, err);
}

/* ------------------------------------------------------------------ queries */

const char *nn_net_arch(const nn_net *net) { return net->arch; }
int nn_net_in_channels(const nn_net *net) { return net->opts.in_channels; }
int nn_net_num_classes(const nn_net *net) { return net->opts.num_classes; }
int nn_net_num_stages(const nn_net *net) { return net->n_stages; }
size_t nn_net_num_tensors(const nn_net *net) { return net->n_tensors; }
int nn_net_first_trainable_stage(const nn_net *net) { return net->first_train_stage; }

const char *nn_net_stage_name(const nn_net *net, int stage)
{
    return stage >= 0 && stage < net->n_stages ? net->stages[stage].name : NULL;
}

int nn_net_stage_find(const nn_net *net, const char *name)
{
    for (int s = 0; s < net->n_stages; s++)
        if (strcmp(net->stages[s].name, name) == 0)
            return s;
    return -1;
}

int nn_net_tensor(const nn_net *net, size_t i, nn_param_view *out)
{
    if (i >= net->n_tensors)
        return -1;
    const nn_tensor *t = &net->tensors[i];
    out->name = t->name;
    out->ndim = t->ndim;
    out->shape = t->shape;
    out->numel = t->numel;
    out->stage = t->stage;
    out->is_buffer = t->kind == NN_T_BN_MEAN || t->kind == NN_T_BN_VAR || t->kind == NN_T_INPUT_OFFSET;
    out->trainable = t->trainable;
    out->data = t->data;
    out->grad = t->grad;
    return 0;
}

long nn_net_tensor_find(const nn_net *net, const char *name)
{
    for (size_t i = 0; i < net->n_tensors; i++)
        if (strcmp(net->tensors[i].name, name) == 0)
            return (long)i;
    return -1;
}

static int is_buffer(const nn_tensor *t)
{
    return t->kind == NN_T_BN_MEAN || t->kind == NN_T_BN_VAR || t->kind == NN_T_INPUT_OFFSET;
}

size_t nn_net_num_params(const nn_net *net, int stage, int trainable_only)
{
    size_t n = 0;
    for (size_t i = 0; i < net->n_tensors; i++) {
        const nn_tensor *t = &net->tensors[i];
        if (is_buffer(t) || (stage >= 0 && t->stage != stage) || (trainable_only && !t->trainable))
            continue;
        n += t->numel;
    }
    return n;
}

int nn_net_feature_dim(const nn_net *net)
{
    if (net->feature_node < 0)
        return 0;
    /* the head's first tensor is [k, features] (linear) or [k, features, 1, 1] (1x1 conv) */
    for (size_t i = 0; i < net->n_tensors; i++)
        if (net->tensors[i].is_head && net->tensors[i].kind == NN_T_WEIGHT)
            return net->tensors[i].shape[1];
    return 0;
}

/* ------------------------------------------------------------------ freezing */

static int will_train(const nn_tensor *t, const int *train, nn_bn_policy bn, int bn_affine)
{
    int tr = train[t->stage] && !is_buffer(t);
    if (tr && bn == NN_BN_FROZEN && !bn_affine &&
        (t->kind == NN_T_BN_WEIGHT || t->kind == NN_T_BN_BIAS))
        tr = 0;
    return tr;
}

int nn_net_unfreeze(nn_net *net, const char *spec, nn_bn_policy bn, int bn_affine,
                    wb_error *err)
{
    int train[NN_MAX_STAGES] = {0};
    if (!spec || strcmp(spec, "none") == 0 || spec[0] == '\0') {
        /* head only */
    } else if (strcmp(spec, "all") == 0) {
        for (int s = 0; s < net->n_stages; s++)
            train[s] = 1;
    } else {
        const char *p = spec;
        while (*p) {
            const char *q = strchr(p, ',');
            size_t len = q ? (size_t)(q - p) : strlen(p);
            while (len && *p == ' ') {
                p++;
                len--;
            }
            while (len && p[len - 1] == ' ')
                len--;
            char name[32];
            if (len == 0 || len >= sizeof name)
                return wb_err(err, WB_E_USAGE, NULL, "unfreeze: bad stage list '%s'", spec);
            memcpy(name, p, len);
            name[len] = '\0';
            int s = nn_net_stage_find(net, name);
            if (s < 0) {
                char all[256] = "";
                for (int k = 0; k < net->n_stages; k++) {
                    strncat(all, net->stages[k].name, sizeof all - strlen(all) - 1);
                    if (k + 1 < net->n_stages)
                        strncat(all, ", ", sizeof all - strlen(all) - 1);
                }
                return wb_err(err, WB_E_USAGE, NULL,
                              "unfreeze: %s has no stage '%s' (stages: %s; or all, none)",
                              net->arch, name, all);
            }
            train[s] = 1;
            if (!q)
                break;
            p = q + 1;
        }
    }
    train[net->n_stages - 1] = 1; /* the head always trains */

    /* Gradients first: out of memory leaves the previous freezing as it was (a tensor has a
     * gradient exactly when it is trainable, so the ones made here are those of frozen ones). */
    for (size_t i = 0; i < net->n_tensors; i++) {
        nn_tensor *t = &net->tensors[i];
        if (!will_train(t, train, bn, bn_affine) || t->grad)
            continue;
        t->grad = nn_calloc(t->numel, sizeof(float));
        if (!t->grad) {
            for (size_t j = 0; j < i; j++)
                if (!net->tensors[j].trainable && net->tensors[j].grad) {
                    free(net->tensors[j].grad);
                    net->tensors[j].grad = NULL;
                }
            return wb_err(err, WB_E_NOMEM, NULL, "out of memory for the gradient of %s",
                          t->name);
        }
    }
    for (size_t i = 0; i < net->n_tensors; i++) {
        nn_tensor *t = &net->tensors[i];
        t->trainable = will_train(t, train, bn, bn_affine);
        if (!t->trainable && t->grad) {
            free(t->grad);
            t->grad = NULL;
        }
    }
    net->first_train_stage = net->n_stages - 1;
    for (int s = net->n_stages - 1; s >= 0; s--)
        if (train[s])
            net->first_train_stage = s;
    for (int i = 0; i < net->n_nodes; i++) {
        nn_node *nd = &net->nodes[i];
        int dep = 0;
        for (int k = 0; k < 4; k++)
            if (nd->t[k] >= 0 && net->tensors[nd->t[k]].trainable)
                dep = 1;
        for (int k = 0; k < 2; k++)
            if (nd->in[k] >= 0 && net->nodes[nd->in[k]].dep)
                dep = 1;
        nd->dep = dep;
        nd->bn_batch_stats = nd->op == NN_OP_BATCHNORM && nd->stage >= 0 && train[nd->stage] &&
                             bn == NN_BN_TRAIN;
    }
    net->planned = 0;
    net->fwd_train_done = 0;
    return 0;
}

/* ------------------------------------------------------------------ shapes */

/* The forward of a conv on small maps may batch images into an im2col of up to this many
 * times the conv's weights (plan). */
#define NN_FWD_COL_W 2

static void geom_of(const nn_net *net, const nn_node *nd, int n, nn_conv_geom *g)
{
    const nn_node *x = &net->nodes[nd->in[0]];
    g->n = n;
    g->ic = x->c;
    g->h = x->h;
    g->w = x->w;
    g->oc = nd->op == NN_OP_CONV2D ? nd->oc : x->c;
    g->kh = nd->kh;
    g->kw = nd->kw;
    g->sh = nd->sh;
    g->sw = nd->sw;
    g->ph = nd->ph;
    g->pw = nd->pw;
    g->groups = nd->op == NN_OP_CONV2D ? nd->groups : 1;
    g->oh = nd->c ? nd->h : 0;
    g->ow = nd->c ? nd->w : 0;
    g->batch = nd->op == NN_OP_CONV2D && nd->conv_batch > 0 ? nd->conv_batch : 1;
}

/* Computes every node's output shape for input [.., in_channels, h, w]. */
static int infer_shapes(nn_net *net, int h, int w, wb_error *err)
{
    for (int i = 0; i < net->n_nodes; i++) {
        nn_node *nd = &net->nodes[i];
        const nn_node *x = nd->in[0] >= 0 ? &net->nodes[nd->in[0]] : NULL;
        switch (nd->op) {
        case NN_OP_INPUT:
            nd->c = net->opts.in_channels;
            nd->h = h;
            nd->w = w;
            nd->flops = 0;
            break;
        case NN_OP_CONV2D:
        case NN_OP_MAXPOOL:
        case NN_OP_AVGPOOL: {
            const int conv = nd->op == NN_OP_CONV2D;
            int ih = x->h + 2 * nd->ph + (conv ? nd->pb : 0);
            int iw = x->w + 2 * nd->pw + (conv ? nd->pr : 0);
            if (ih < nd->kh || iw < nd->kw)
                return wb_err(err, WB_E_USAGE, NULL,
                              "%s: input %dx%d is too small: %s '%s' sees %dx%d (padded), "
                              "needs at least %dx%d",
                              net->arch, h, w, op_names[nd->op], nd->name, ih, iw, nd->kh,
                              nd->kw);
            nd->h = (ih - nd->kh) / nd->sh + 1;
            nd->w = (iw - nd->kw) / nd->sw + 1;
            if (nd->op == NN_OP_CONV2D) {
                const nn_tensor *wt = &net->tensors[nd->t[0]];
                if (wt->shape[1] * nd->groups != x->c)
                    return wb_err(err, WB_E_INTERNAL, NULL, "%s: %s expects %d channels, gets %d",
                                  net->arch, nd->name, wt->shape[1] * nd->groups, x->c);
                nd->c = nd->oc;
                nd->flops = 2.0 * nd->h * nd->w * (double)wt->numel;
                nn_conv_geom g;
                geom_of(net, nd, 1, &g);
                if ((nd->pb || nd->pr) && !nn_conv_dw_use(&g))
                    return wb_err(err, WB_E_INTERNAL, NULL,
                                  "%s: %s pads below or right, which only a depthwise 3x3 "
                                  "conv can",
                                  net->arch, nd->name);
            } else {
                nd->c = x->c;
                nd->flops = (double)nd->h * nd->w * nd->c * nd->kh * nd->kw;
            }
            break;
        }
        case NN_OP_BATCHNORM:
            if (net->tensors[nd->t[0]].numel != (size_t)x->c)
                return wb_err(err, WB_E_INTERNAL, NULL, "%s: %s has %zu channels, gets %d",
                              net->arch, nd->name, net->tensors[nd->t[0]].numel, x->c);
            /* fallthrough */
        case NN_OP_RELU:
        case NN_OP_RELU6:
        case NN_OP_DROPOUT:
            nd->c = x->c;
            nd->h = x->h;
            nd->w = x->w;
            nd->flops = 2.0 * nd->c * nd->h * nd->w;
            break;
        case NN_OP_GAP:
            nd->c = x->c;
            nd->h = nd->w = 1;
            nd->flops = (double)x->c * x->h * x->w;
            break;
        case NN_OP_LINEAR: {
            const nn_tensor *wt = &net->tensors[nd->t[0]];
            if ((size_t)wt->shape[1] != (size_t)x->c * x->h * x->w)
                return wb_err(err, WB_E_USAGE, NULL,
                              "%s: %s expects %d inputs, gets %dx%dx%d (input %dx%d)", net->arch,
                              nd->name, wt->shape[1], x->c, x->h, x->w, h, w);
            nd->c = wt->shape[0];
            nd->h = nd->w = 1;
            nd->flops = 2.0 * (double)wt->numel;
            break;
        }
        case NN_OP_ADD: {
            const nn_node *y = &net->nodes[nd->in[1]];
            if (x->c != y->c || x->h != y->h || x->w != y->w)
                return wb_err(err, WB_E_USAGE, NULL,
                              "%s: %s adds %dx%dx%d and %dx%dx%d (input %dx%d)", net->arch,
                              nd->name, x->c, x->h, x->w, y->c, y->h, y->w, h, w);
            nd->c = x->c;
            nd->h = x->h;
            nd->w = x->w;
            nd->flops = (double)nd->c * nd->h * nd->w;
            break;
        }
        case NN_OP_PAD:
            if (nd->kh > 0) { /* TF "same" for a following k x k stride-s layer */
                int th = ((x->h + nd->sh - 1) / nd->sh - 1) * nd->sh + nd->kh - x->h;
                int tw = ((x->w + nd->sw - 1) / nd->sw - 1) * nd->sw + nd->kw - x->w;
                th = th > 0 ? th : 0;
                tw = tw > 0 ? tw : 0;
                nd->pt = th / 2, nd->pb = th - th / 2, nd->pl = tw / 2, nd->pr = tw - tw / 2;
            }
            nd->c = x->c;
            nd->h = x->h + nd->pt + nd->pb;
            nd->w = x->w + nd->pl + nd->pr;
            nd->flops = 0;
            break;
        case NN_OP_SHORTCUT_A:
            nd->c = x->c + nd->pt + nd->pb;
            nd->h = (x->h + nd->sh - 1) / nd->sh;
            nd->w = (x->w + nd->sw - 1) / nd->sw;
            nd->flops = 0;
            break;
        case NN_OP_COUNT:
            return wb_err(err, WB_E_INTERNAL, NULL, "bad op");
        }
        if ((double)nd->c * nd->h * nd->w > (double)INT_MAX)
            return wb_err(err, WB_E_USAGE, NULL, "%s: input %dx%d is too large", net->arch, h, w);
    }
    return 0;
}

double nn_net_flops(const nn_net *net, int h, int w, wb_error *err)
{
    if (h < 1 || w < 1 || h > 65536 || w > 65536) {
        wb_err(err, WB_E_USAGE, NULL, "input size %dx%d is out of range", h, w);
        return 0.0;
    }
    nn_net *mut = (nn_net *)net; /* shapes are scratch fields; the plan is invalidated */
    if (infer_shapes(mut, h, w, err) != 0)
        return 0.0;
    mut->planned = 0;
    double f = 0.0;
    for (int i = 0; i < net->n_nodes; i++)
        f += net->nodes[i].flops;
    return f;
}

double nn_net_train_flops(const nn_net *net, int h, int w, wb_error *err)
{
    double f = nn_net_flops(net, h, w, err);
    if (f <= 0.0)
        return 0.0;
    for (int i = 0; i < net->n_nodes; i++) {
        const nn_node *nd = &net->nodes[i];
        if (!nd->dep)
            continue;
        int in_dep = nd->in[0] >= 0 && net->nodes[nd->in[0]].dep;
        if (nd->op == NN_OP_CONV2D || nd->op == NN_OP_LINEAR) {
            if (net->tensors[nd->t[0]].trainable)
                f += nd->flops; /* dW */
            if (in_dep)
                f += nd->flops; /* dx */
        } else if (in_dep || nd->op == NN_OP_BATCHNORM) {
            f += nd->flops;
        }
    }
    return f;
}

/* ------------------------------------------------------------------ memory plan */

/* Does node j's backward read its input (in[0])? */
static int needs_input(const nn_net *net, const nn_node *nd)
{
    switch (nd->op) {
    case NN_OP_CONV2D:
    case NN_OP_LINEAR:
        return net->tensors[nd->t[0]].trainable;
    case NN_OP_BATCHNORM:
        return nd->bn_batch_stats || net->tensors[nd->t[0]].trainable;
    case NN_OP_MAXPOOL:
        return 1;
    default:
        return 0;
    }
}

static int needs_output(const nn_node *nd)
{
    return nd->op == NN_OP_RELU || nd->op == NN_OP_RELU6;
}

typedef struct {
    size_t size, off;
    int t0, t1;
    size_t *dst;
} buf_req;

static int cmp_size_desc(const void *a, const void *b)
{
    const buf_req *x = a, *y = b;
    return x->size < y->size ? 1 : x->size > y->size ? -1 : (x->t0 > y->t0) - (x->t0 < y->t0);
}

static int cmp_off(const void *a, const void *b)
{
    const buf_req *const *x = a, *const *y = b;
    return ((*x)->off > (*y)->off) - ((*x)->off < (*y)->off);
}

/* Greedy offset assignment: largest first, each at the lowest offset that does not overlap
 * a placed buffer whose lifetime overlaps. Returns the total floats. */
static size_t place_buffers(buf_req *r, size_t n, buf_req **tmp)
{
    qsort(r, n, sizeof *r, cmp_size_desc);
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        for (size_t j = 0; j < i; j++)
            if (r[j].t0 <= r[i].t1 && r[i].t0 <= r[j].t1)
                tmp[k++] = &r[j];
        qsort(tmp, k, sizeof *tmp, cmp_off);
        size_t off = 0;
        for (size_t j = 0; j < k; j++) {
            if (tmp[j]->off >= off + r[i].size)
                break;
            if (tmp[j]->off + tmp[j]->size > off)
                off = tmp[j]->off + tmp[j]->size;
        }
        r[i].off = off;
        if (off + r[i].size > total)
            total = off + r[i].size;
    }
    return total;
}

static size_t round16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* Channels of a BN run inside the conv before it (its scale and shift live on the stack). */
#define NN_FUSE_BN_MAXC 2048

static int group_end(const nn_net *net, int i);

/* The step from which node i's output buffer is written */
static int born_at(const nn_net *net, int i)
{
    /* a ReLU fused into the BN before it is written while the BN's input is still read: its
     * buffer lives from the BN's step on, so the two never share memory */
    int born = i > 0 && net->nodes[i - 1].fuse_relu ? i - 1 : i;
    /* likewise a BN (or its ReLU) run in the conv before it, from the conv's step on */
    if (born > 0 && net->nodes[born - 1].fuse_bn)
        born--;
    return born;
}

/* par_plan: image-parallel only for nodes that do at most this many FLOPs per float they
 * write. About what a core of this Xeon computes (~170 GFLOP/s) while a float crosses from
 * L3 (~5 G/s): MobileNet 0.25's first blocks (7-12 at 96 and 224 pixels) gain 3-11%,
 * ResNet-20's and ResNet-56's layers at 128 x 128 (96-135), whose direct and Winograd
 * kernels do better on batches, lose 5-9%, ResNet-18's conv1 at 96 x 72 (34) ties. */
#define NN_PAR_FLOPS_PER_FLOAT 32.0

/* Phase net->n_par (par_plan): nodes [b, e) for chunks of s images. The first phase holds the
 * run's input (node b - 1) in its buffers, a later one reads what the phase before it copied
 * out. A thread's buffers are planned as a run of the phase is; an output read after the phase
 * (or the run's, end - 1) is copied out at the chunk's end (par_copy): its last reader comes
 * after the phase, or it is the phase's last node, so nothing has reused its room by then. */
static void par_phase_plan(nn_net *net, int b, int e, int s, int end, const int *lastc,
                           buf_req *req, buf_req **tmp)
{
    const int ph = net->n_par + 1;
    size_t col = 0;
    for (int i = b; i < e; i++)
        if (net->nodes[i].op == NN_OP_CONV2D)
            for (int nb = 1; nb <= s; nb++) { /* the last chunk may be smaller */
                nn_conv_geom g;
                geom_of(net, &net->nodes[i], nb, &g);
                const size_t cs = nn_conv2d_col_size(&g);
                col = cs > col ? cs : col;
            }
    size_t nr = 0;
    for (int i = ph == 1 ? b - 1 : b; i < e; i++) {
        nn_node *nd = &net->nodes[i];
        const int written = !nd->fuse_relu && !nd->fuse_bn;
        nd->par_phase = ph;
        nd->par_copy = written && (lastc[i] >= e || i == end - 1);
        const int t1 = lastc[i] > i ? lastc[i] : i;
        req[nr++] = (buf_req){written ? round16((size_t)s * nd->c * nd->h * nd->w) : 0, 0,
                              born_at(net, i), t1, &nd->off_pout};
    }
    const size_t bufs = place_buffers(req, nr, tmp);
    for (size_t i = 0; i < nr; i++)
        *req[i].dst = req[i].off;
    net->par[ph - 1].begin = b;
    net->par[ph - 1].end = e;
    net->par[ph - 1].chunk = s;
    net->par[ph - 1].bufs = round16(bufs);
    net->par[ph - 1].col = round16(col);
    const size_t room = net->par[ph - 1].bufs + net->par[ph - 1].col;
    net->par_room = room > net->par_room ? room : net->par_room;
    net->n_par = ph;
}

/* Images a thread takes at a time (of n on T threads): the largest power of two whose largest
 * map (big floats an image) takes at most half of NN_INFER_BYTES, about half of a core's L2 */
static int par_chunk_of(int n, int T, size_t big)
{
    int s = 1;
    while (2 * s <= n / T && (size_t)2 * s * big * sizeof(float) <= NN_INFER_BYTES / 2)
        s *= 2;
    return s;
}

/* Image-parallel inference. On the engine's threads an inference step runs each node on the
 * whole batch, every thread a slice of it: maps of MobileNet 0.25 at 224 x 224 take 6-13 MB
 * for 16 images, pass through L3 from one node to the next, and each node ends in a hand-off
 * between the threads. Where the batch's maps are larger than NN_INFER_BYTES but one image's
 * fit in it, each thread instead takes its own images, a few at a time, through the nodes up
 * to the last whose batch map is that large: an image's maps stay in the core's L2 from one
 * node to the next. The rest then runs the same way, several images a chunk, so that the
 * threads meet twice per step instead of at every node (docs/performance.md, "Fifteenth
 * pass"). Decides plan_threads, the phases (n_par, par, par_room) and the nodes' off_pout,
 * par_phase and par_copy for a plan of n images; the fused groups (fuse_bn, fuse_relu) must be
 * set. WB_NN_IMGPAR=0 in the environment turns it off. */
static void par_plan(nn_net *net, int n, int begin, int end, int train, const int *lastc,
                     buf_req *req, buf_req **tmp)
{
    const int T = nn_get_threads();
    net->plan_threads = T;
    net->n_par = 0;
    net->par_room = 0;
    for (int i = 0; i < net->n_nodes; i++)
        net->nodes[i].par_copy = net->nodes[i].par_phase = 0;
    const char *env = getenv("WB_NN_IMGPAR");
    if (train || T < 2 || n < T || (n % T != 0 && n < 4 * T) || (env && strcmp(env, "0") == 0))
        return;
    const nn_node *in = &net->nodes[begin - 1];
    size_t big = (size_t)in->c * in->h * in->w; /* floats: the largest per-image map taken */
    /* tests: "all" takes every node image-parallel in one phase, "half" in two split at the
     * middle node (a ResNet's block input is then read on both sides), whatever the sizes */
    const int all = env && strcmp(env, "all") == 0, half = env && strcmp(env, "half") == 0;
    int k = begin;
    for (int i = begin; i < end;) {
        const int e = group_end(net, i);
        size_t m = 0; /* the group's largest map, its input's included: a group that shrinks
                         a large map runs on the thread that made it (MobileNet 0.25's
                         conv_dw_6 at batch 16, stride 2 from 28 x 28: 0.50 ms from the arena) */
        for (int q = i; q < e; q++) {
            const nn_node *nd = &net->nodes[q];
            for (int r = 0; r < 3; r++) {
                const int at = r < 2 ? nd->in[r] : q;
                if (at < 0)
                    continue;
                const nn_node *x = &net->nodes[at];
                const size_t f = (size_t)x->c * x->h * x->w;
                m = f > m ? f : m;
            }
        }
        if (all || (half && e <= (begin + end) / 2)) {
            k = e;
            big = m > big ? m : big;
        } else if (half || m * sizeof(float) > NN_INFER_BYTES) {
            break; /* one image's map alone leaves L2: no gain in going on image by image */
        } else if ((size_t)n * m * sizeof(float) > NN_INFER_BYTES) {
            k = e;
            big = m > big ? m : big;
        }
        i = e;
    }
    if (k == begin || (!all && !half && big * sizeof(float) > NN_INFER_BYTES))
        return;
    /* only nodes bound by moving their maps: at most NN_PAR_FLOPS_PER_FLOAT FLOPs per float
     * of their outputs (every node's, fused or not) */
    double fl = 0.0, wr = 0.0;
    for (int i = begin; i < k; i++) {
        const nn_node *nd = &net->nodes[i];
        fl += nd->flops;
        wr += (double)nd->c * nd->h * nd->w;
    }
    if (fl > NN_PAR_FLOPS_PER_FLOAT * wr && !all && !half)
        return;
    par_phase_plan(net, begin, k, par_chunk_of(n, T, big), end, lastc, req, tmp);
    if (k == end || all)
        return;
    /* then the rest, each thread its share of the images, a few at a time: the small maps'
     * nodes batch their images (MobileNet's 14 x 14 and 7 x 7 1x1 convs join them into
     * vectors) and no node ends in a hand-off between the threads */
    size_t big2 = 0;
    for (int i = k; i < end; i++) {
        const nn_node *nd = &net->nodes[i];
        const size_t f = (size_t)nd->c * nd->h * nd->w;
        big2 = f > big2 ? f : big2;
    }
    const int s2 = par_chunk_of(n, T, big2);
    if (s2 >= 2)
        par_phase_plan(net, k, end, s2, end, lastc, req, tmp);
}

/* Plans the arena for running nodes [begin, end) on n images of h x w, the input of the
 * run being node begin-1's output. train keeps what backward needs. */
static int plan(nn_net *net, int n, int h, int w, int train, int begin, int end, wb_error *err)
{
    if (net->planned && net->plan_n == n && net->plan_h == h && net->plan_w == w &&
        net->plan_train == train && net->plan_begin == begin && net->plan_end == end &&
        net->plan_threads == nn_get_threads())
        return 0;
    net->planned = 0;
    net->fwd_train_done = 0;
    if (infer_shapes(net, h, w, err) != 0)
        return -1;
    const int N = net->n_nodes;
    const int tend = 2 * N + 1;
    int *lastc = nn_malloc(sizeof(int) * (size_t)N);
    buf_req *req = nn_malloc(sizeof *req * (size_t)N * 3);
    buf_req **tmp = nn_malloc(sizeof *tmp * (size_t)N * 3);
    if (!lastc || !req || !tmp) {
        free(lastc);
        free(req);
        free(tmp);
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory planning %s", net->arch);
    }
    for (int i = 0; i < N; i++) {
        lastc[i] = -1;
        net->nodes[i].off_out = net->nodes[i].off_grad = net->nodes[i].off_aux = NN_NONE;
        net->nodes[i].keep = 0;
    }
    for (int j = begin; j < end; j++)
        for (int k = 0; k < 2; k++)
            if (net->nodes[j].in[k] >= 0 && j > lastc[net->nodes[j].in[k]])
                lastc[net->nodes[j].in[k]] = j;
    /* Convs batch several images into one GEMM (late layers have few pixels per image), but
     * only as far as the im2col scratch stays within what the network's largest
     * single-image im2col needs anyway. The choice depends on the whole network and the
     * input shape, not on the run's range, so that a cached prefix gives the same bits. */
    size_t cap = 0, col = 0;
    for (int i = 1; i < N; i++)
        if (net->nodes[i].op == NN_OP_CONV2D) {
            nn_conv_geom g;
            net->nodes[i].conv_batch = 1;
            geom_of(net, &net->nodes[i], n, &g);
            size_t cs = nn_conv2d_col_size_base(&g);
            cap = cs > cap ? cs : cap;
        }
    for (int i = 1; i < N; i++)
        if (net->nodes[i].op == NN_OP_CONV2D) {
            nn_conv_geom g;
            nn_node *nd = &net->nodes[i];
            geom_of(net, nd, n, &g);
            int b = nn_conv2d_batch_wanted(&g);
            for (; b > 1; b--) {
                g.batch = b;
                if (nn_conv2d_col_size_base(&g) <= cap)
                    break;
            }
            g.batch = b;
            /* The forward on maps under 1024 pixels gives every image the same bits whatever
             * shares its GEMM (nets/nn_ops.c, gemm_inv_t and gemm_inv), so it batches further,
             * with an im2col of up to NN_FWD_COL_W times the conv's weights: each GEMM reads
             * and packs all of them (ResNet-18's layer4 at 96x72: 9.4 MB per conv, once per 6
             * images under the cap above, once per 16 here). The backward batches as far
             * (its GEMMs sum over the images, so its bits follow this count, which depends on
             * the network and the input shape only): with 6 images per GEMM ResNet-18's
             * layer4 dW was a GEMM of K = 54 that read and wrote all 2.4 M weight gradients
             * three times per step; one GEMM of K = 144 made training everything at 96x72
             * 7-10% faster (docs/performance.md, "Eleventh pass"). */
            const size_t wfl = (size_t)g.oc * (g.ic / g.groups) * g.kh * g.kw;
            const size_t fcap = NN_FWD_COL_W * wfl > cap ? NN_FWD_COL_W * wfl : cap;
            int fb = (size_t)g.oh * g.ow < 1024 ? nn_conv2d_batch_wanted(&g) : b;
            for (; fb > b; fb--) {
                g.batch = fb;
                if (nn_conv2d_col_size_base(&g) <= fcap)
                    break;
            }
            nd->conv_batch = g.batch = fb;
            const size_t cs = nn_conv2d_col_size(&g);
            if (i >= begin && i < end && cs > col)
                col = cs;
        }
    /* BN + ReLU / ReLU6 (and residual add + ReLU) in one pass when the activation is the BN's
     * (add's) output's only reader: backward needs neither the BN's output (BN reads its
     * input, the activation its own output) nor the add's. Backward likewise: the
     * activation's backward runs inside the BN's (add's), which reads the activation's
     * output and gradient; the BN's (add's) own gradient gets no buffer. The same bits as
     * two passes; WB_NN_NOFUSE=1 runs them apart (tests/nets/test_threads.c compares). */
    const int fuse = getenv("WB_NN_NOFUSE") == NULL;
    for (int i = 0; i < N; i++) {
        nn_node *nd = &net->nodes[i];
        const nn_op next = i + 1 < N ? net->nodes[i + 1].op : NN_OP_INPUT;
        nd->fuse_relu = fuse && i >= begin && i + 1 < end &&
                        ((nd->op == NN_OP_BATCHNORM && (next == NN_OP_RELU || next == NN_OP_RELU6)) ||
                         (nd->op == NN_OP_ADD && next == NN_OP_RELU)) &&
                        net->nodes[i + 1].in[0] == i && lastc[i] == i + 1 && i != net->grad_node;
        nd->set_dx = fuse && nd->op == NN_OP_CONV2D;
        nd->fuse_act = !nd->fuse_relu ? NN_ACT_NONE
                       : next == NN_OP_RELU6 ? NN_ACT_RELU6 : NN_ACT_RELU;
    }
    /* A conv followed by its only reader, an eval-mode BN that needs no backward (inference,
     * or a frozen stage): the BN (and its fused ReLU / ReLU6) run in the conv's pass
     * (nn_conv2d_forward_post: the direct and depthwise kernels' store, the GEMM paths' reorder
     * or column blocks), the same bits as apart; the conv's own output gets no arena room. */
    for (int i = 0; i < N; i++) {
        nn_node *nd = &net->nodes[i];
        nd->fuse_bn = 0;
        if (!fuse || nd->op != NN_OP_CONV2D || i < begin || i + 1 >= end || i == net->in_node ||
            lastc[i] != i + 1)
            continue;
        const nn_node *bn = &net->nodes[i + 1];
        if (bn->op != NN_OP_BATCHNORM || bn->in[0] != i || (train && bn->dep) ||
            bn->c > NN_FUSE_BN_MAXC)
            continue;
        nd->fuse_bn = 1;
    }
    /* image-parallel phases first: an earlier phase's outputs that a later phase reads from
     * the arena live to that phase's end, since its threads copy their own outputs out into
     * the arena while another thread may still read them */
    par_plan(net, n, begin, end, train, lastc, req, tmp);
#define TB(j) (2 * N - 1 - (j))
    size_t nr = 0;
    for (int i = begin - 1; i < end; i++) {
        nn_node *nd = &net->nodes[i];
        size_t sz = round16((size_t)n * nd->c * nd->h * nd->w);
        int back = train && nd->dep && i >= begin;
        int t1 = i;
        if (lastc[i] > t1)
            t1 = lastc[i];
        for (int p = 1; p < net->n_par; p++)
            if (nd->par_phase && nd->par_phase < p + 1 && lastc[i] >= net->par[p].begin &&
                t1 < net->par[p].end)
                t1 = net->par[p].end;
        if (i == end - 1)
            t1 = tend;
        if (train)
            for (int j = i + 1; j < end; j++) {
                const nn_node *c = &net->nodes[j];
                if ((c->in[0] == i || c->in[1] == i) && c->dep && needs_input(net, c) &&
                    TB(j) > t1)
                    t1 = TB(j);
            }
        if (back && needs_output(nd) && TB(i) > t1)
            t1 = TB(i);
        /* an activation whose backward runs in the BN's (add's) before it: its output and
         * gradient are read at that node's backward step */
        const int fused_into = i > 0 && net->nodes[i - 1].fuse_relu;
        if (back && fused_into && TB(i - 1) > t1)
            t1 = TB(i - 1);
        if (i == net->grad_node && i > 0)
            t1 = tend; /* nn_net_stage_grad reads it after the backward */
        /* the fused BN's (conv's) own output is never written: no room for it */
        req[nr++] = (buf_req){nd->fuse_relu || nd->fuse_bn ? 0 : sz, 0, born_at(net, i), t1,
                              &nd->off_out};
        if (back && !nd->fuse_relu) {
            int t0 = lastc[i] >= 0 ? TB(lastc[i]) : TB(i);
            int t1g = i == net->grad_node && i > 0 ? tend : fused_into ? TB(i - 1) : TB(i);
            req[nr++] = (buf_req){sz, 0, t0, t1g, &nd->off_grad};
        }
        if (i >= begin && nd->op == NN_OP_BATCHNORM && back)
            req[nr++] = (buf_req){round16(2 * (size_t)nd->c), 0, i, TB(i), &nd->off_aux};
        if (i >= begin && nd->op == NN_OP_DROPOUT && train)
            req[nr++] = (buf_req){sz, 0, i, back ? TB(i) : i, &nd->off_aux};
    }
#undef TB
    size_t total = place_buffers(req, nr, tmp);
    for (size_t i = 0; i < nr; i++)
        *req[i].dst = req[i].off;
    net->off_col = total;
    net->col_size = round16(col);
    total += net->col_size * (train ? 2 : 1);
    free(lastc);
    free(req);
    free(tmp);
    net->off_par = total;
    if (net->n_par)
        total += net->par_room * (size_t)net->plan_threads;
    if (total > net->arena_cap) {
        nn_free_large(net->arena);
        size_t got = 0;
        net->arena = spare_take(total ? total : 1, &got);
        if (!net->arena) {
            net->arena = nn_malloc_large(sizeof(float) * (total ? total : 1));
            got = total;
        }
        if (!net->arena) {
            net->arena_cap = 0;
            return wb_err(err, WB_E_NOMEM, NULL,
                          "%s: out of memory for %zu MB of activations (batch %d, %dx%d)",
                          net->arch, total * sizeof(float) >> 20, n, h, w);
        }
        net->arena_cap = got;
    }
    net->arena_used = total;
    net->plan_n = n;
    net->plan_h = h;
    net->plan_w = w;
    net->plan_train = train;
    net->plan_begin = begin;
    net->plan_end = end;
    net->planned = 1;
    return 0;
}

size_t nn_net_arena_bytes(const nn_net *net)
{
    return net->planned ? net->arena_used * sizeof(float) : 0;
}

/* ------------------------------------------------------------------ running */

static float *T(const nn_net *net, int idx)
{
    return idx >= 0 ? net->tensors[idx].data : NULL;
}

static float *G(const nn_net *net, int idx)
{
    return idx >= 0 ? net->tensors[idx].grad : NULL;
}

/* Node k's output: for images n0.. of the planned batch in the arena (images are the
 * outermost dimension), or with a thread's image-parallel buffers (priv, par_piece) there */
static float *out_of(const nn_net *net, int k, int n0, float *priv)
{
    const nn_node *nd = &net->nodes[k];
    if (priv && nd->par_phase == net->par_cur) /* else an earlier phase's, copied out */
        return priv + nd->off_pout;
    return net->arena + nd->off_out + (size_t)n0 * nd->c * nd->h * nd->w;
}

/* The node after node i's group: a conv with the BN it runs (fuse_bn), a BN or add with the
 * ReLU it runs (fuse_relu) */
static int group_end(const nn_net *net, int i)
{
    if (net->nodes[i].fuse_bn)
        i++; /* the BN runs inside the conv (and its ReLU, skipped below) */
    if (net->nodes[i].fuse_relu)
        i++; /* the ReLU runs inside the BN */
    return i + 1;
}

/* Node i's forward on images [n0, n0 + n) of the planned batch, with conv scratch col; priv:
 * on a thread's own buffers instead (par_piece) */
static void run_forward(nn_net *net, int i, int n0, int n, int train, float *col, float *priv)
{
    nn_node *nd = &net->nodes[i];
    float *A = net->arena;
    float *y = out_of(net, i, n0, priv);
    const nn_node *xn = nd->in[0] >= 0 ? &net->nodes[nd->in[0]] : NULL;
    const float *x = xn ? out_of(net, nd->in[0], n0, priv) : NULL;
    const size_t numel = (size_t)n * nd->c * nd->h * nd->w;
    nn_conv_geom g;
    switch (nd->op) {
    case NN_OP_INPUT:
        break;
    case NN_OP_CONV2D:
        geom_of(net, nd, n, &g);
        if (nd->fuse_bn) { /* conv + eval-mode BN (+ ReLU) into the last one's output */
            const nn_node *bn = &net->nodes[i + 1];
            const int relu = bn->fuse_relu, act = relu ? bn->fuse_act : NN_ACT_NONE;
            y = out_of(net, i + 1 + relu, n0, priv);
            const float *gm = T(net, bn->t[0]), *bt = T(net, bn->t[1]);
            const float *rm = T(net, bn->t[2]), *rv = T(net, bn->t[3]);
            float ab[2 * NN_FUSE_BN_MAXC]; /* on the stack: no allocation per forward */
            for (int c = 0; c < bn->c; c++) { /* as nn_bn_relu_forward_eval computes them */
                double invstd = 1.0 / sqrt((double)rv[c] + bn->eps);
                ab[c] = (float)(gm[c] * invstd);
                ab[bn->c + c] = (float)(bt[c] - gm[c] * invstd * rm[c]);
            }
            nn_conv2d_forward_post(&g, x, T(net, nd->t[0]), T(net, nd->t[1]), ab, ab + bn->c, act,
                                   y, col);
            break;
        }
        nn_conv2d_forward(&g, x, T(net, nd->t[0]), T(net, nd->t[1]), y, col);
        if (i == net->in_node) { /* the folded input normalisation: a bias per position */
            const size_t m = (size_t)nd->c * nd->h * nd->w;
            for (int b = 0; b < n; b++)
                nn_add_forward(m, y + (size_t)b * m, net->in_map, y + (size_t)b * m);
        }
        break;
    case NN_OP_BATCHNORM: {
        const int hw = nd->h * nd->w;
        float *aux = nd->off_aux != NN_NONE ? A + nd->off_aux : NULL;
        float *rm = T(net, nd->t[2]), *rv = T(net, nd->t[3]);
        if (nd->fuse_relu) /* straight into the ReLU's output; run() skips the ReLU */
            y = out_of(net, i + 1, n0, priv);
        if (train && nd->bn_batch_stats) {
            nn_bn_relu_forward_train(n, nd->c, hw, x, T(net, nd->t[0]), T(net, nd->t[1]),
                                     nd->eps, nd->momentum, rm, rv, y, aux, aux + nd->c,
                                     nd->fuse_act);
        } else {
            nn_bn_relu_forward_eval(n, nd->c, hw, x, T(net, nd->t[0]), T(net, nd->t[1]), nd->eps,
                                    rm, rv, y, nd->fuse_act);
            if (aux)
                for (int c = 0; c < nd->c; c++) {
                    aux[c] = rm[c];
                    aux[nd->c + c] = (float)(1.0 / sqrt((double)rv[c] + nd->eps));
                }
        }
        break;
    }
    case NN_OP_RELU:
        nn_relu_forward(numel, x, y, 0.0f);
        break;
    case NN_OP_RELU6:
        nn_relu_forward(numel, x, y, 6.0f);
        break;
    case NN_OP_MAXPOOL:
        geom_of(net, nd, n, &g);
        nn_maxpool_forward(&g, x, y);
        break;
    case NN_OP_AVGPOOL:
        geom_of(net, nd, n, &g);
        nn_avgpool_forward(&g, x, y);
        break;
    case NN_OP_GAP:
        nn_gap_forward(n, xn->c, xn->h * xn->w, x, y);
        break;
    case NN_OP_LINEAR:
        nn_linear_forward(n, xn->c * xn->h * xn->w, nd->c, x, T(net, nd->t[0]), T(net, nd->t[1]),
                          y);
        break;
    case NN_OP_DROPOUT:
        if (train && nd->p > 0.0f)
            nn_dropout_forward(numel, x, nd->p, &net->drop_rng, A + nd->off_aux, y);
        else {
            memcpy(y, x, numel * sizeof(float));
            if (train)
                for (size_t k = 0; k < numel; k++)
                    A[nd->off_aux + k] = 1.0f;
        }
        break;
    case NN_OP_ADD:
        if (nd->fuse_relu) /* straight into the ReLU's output; run() skips the ReLU */
            nn_add_relu_forward(numel, x, out_of(net, nd->in[1], n0, priv), out_of(net, i + 1, n0, priv));
        else
            nn_add_forward(numel, x, out_of(net, nd->in[1], n0, priv), y);
        break;
    case NN_OP_PAD:
        nn_pad_forward(n, xn->c, xn->h, xn->w, nd->pt, nd->pb, nd->pl, nd->pr, x, y);
        break;
    case NN_OP_SHORTCUT_A:
        nn_shortcut_a_forward(n, xn->c, xn->h, xn->w, nd->sh, nd->pt, nd->pb, x, y);
        break;
    case NN_OP_COUNT:
        break;
    }
}

/* Backward of node i: dy = its gradient; accumulates into its inputs' gradients (zeroed
 * here by their last consumer, which runs first) and into its trainable tensors' grads. */
static void run_backward(nn_net *net, int i, int n, const int *lastc)
{
    nn_node *nd = &net->nodes[i];
    if (i > 0 && net->nodes[i - 1].fuse_relu)
        return; /* an activation whose backward runs in the BN's (add's) before it */
    float *A = net->arena;
    /* a BN or add with its activation fused: the activation's gradient and output */
    const nn_node *act = nd->fuse_relu ? &net->nodes[i + 1] : NULL;
    const float *dy = A + (act ? act->off_grad : nd->off_grad);
    /* BN, a conv, a fused add and an option-A shortcut overwrite a gradient buffer their
     * backward would zero first */
    const int can_set = nd->op == NN_OP_BATCHNORM || nd->set_dx ||
                        (nd->op == NN_OP_ADD && act) || nd->op == NN_OP_SHORTCUT_A;
    float *dx[2] = {NULL, NULL};
    int set[2] = {0, 0};
    for (int k = 0; k < 2; k++) {
        int j = nd->in[k];
        if (j < 0 || !net->nodes[j].dep || net->nodes[j].off_grad == NN_NONE)
            continue;
        nn_node *xn = &net->nodes[j];
        dx[k] = A + xn->off_grad;
        if (lastc[j] == i) {
            if (can_set && !(k == 1 && nd->in[0] == j))
                set[k] = 1;
            else if (!(k == 1 && nd->in[0] == j && set[0]))
                memset(dx[k], 0, sizeof(float) * (size_t)n * xn->c * xn->h * xn->w);
        }
    }
    const nn_node *xn = nd->in[0] >= 0 ? &net->nodes[nd->in[0]] : NULL;
    const float *x = xn && xn->off_out != NN_NONE ? A + xn->off_out : NULL;
    const size_t numel = (size_t)n * nd->c * nd->h * nd->w;
    nn_conv_geom g;
    switch (nd->op) {
    case NN_OP_INPUT:
        break;
    case NN_OP_CONV2D:
        geom_of(net, nd, n, &g);
        nn_conv2d_backward_set(&g, x, T(net, nd->t[0]), dy, dx[0], set[0], G(net, nd->t[0]),
                               G(net, nd->t[1]), A + net->off_col,
                               A + net->off_col + net->col_size);
        break;
    case NN_OP_BATCHNORM: {
        const float *aux = A + nd->off_aux;
        nn_bn_act_backward(n, nd->c, nd->h * nd->w, nd->bn_batch_stats, x, T(net, nd->t[0]), aux,
                           aux + nd->c, act ? A + act->off_out : NULL, nd->fuse_act, dy, dx[0],
                           set[0], G(net, nd->t[0]), G(net, nd->t[1]));
        break;
    }
    case NN_OP_RELU:
    case NN_OP_RELU6:
        if (dx[0])
            nn_relu_backward(numel, A + nd->off_out, dy, dx[0],
                             nd->op == NN_OP_RELU6 ? 6.0f : 0.0f);
        break;
    case NN_OP_MAXPOOL:
        geom_of(net, nd, n, &g);
        if (dx[0])
            nn_maxpool_backward(&g, x, dy, dx[0]);
        break;
    case NN_OP_AVGPOOL:
        geom_of(net, nd, n, &g);
        if (dx[0])
            nn_avgpool_backward(&g, dy, dx[0]);
        break;
    case NN_OP_GAP:
        if (dx[0])
            nn_gap_backward(n, xn->c, xn->h * xn->w, dy, dx[0]);
        break;
    case NN_OP_LINEAR:
        nn_linear_backward(n, xn->c * xn->h * xn->w, nd->c, x, T(net, nd->t[0]), dy, dx[0],
                           G(net, nd->t[0]), G(net, nd->t[1]));
        break;
    case NN_OP_DROPOUT:
        if (dx[0])
            nn_dropout_backward(numel, A + nd->off_aux, dy, dx[0]);
        break;
    case NN_OP_ADD:
        if (act) {
            nn_add_relu_backward(numel, A + act->off_out, dy, dx[0], set[0], dx[1], set[1]);
            break;
        }
        for (int k = 0; k < 2; k++)
            if (dx[k])
                nn_add_acc(numel, dy, dx[k]);
        break;
    case NN_OP_PAD:
        if (dx[0])
            nn_pad_backward(n, xn->c, xn->h, xn->w, nd->pt, nd->pb, nd->pl, nd->pr, dy, dx[0]);
        break;
    case NN_OP_SHORTCUT_A:
        if (dx[0])
            nn_shortcut_a_backward_set(n, xn->c, xn->h, xn->w, nd->sh, nd->pt, nd->pb, dy, dx[0],
                                       set[0]);
        break;
    case NN_OP_COUNT:
        break;
    }
}

static int check_input(const nn_net *net, int n, int h, int w, wb_error *err)
{
    if (n < 1 || n > 1 << 20 || h < 1 || w < 1 || h > 65536 || w > 65536)
        return wb_err(err, WB_E_USAGE, NULL, "%s: input shape [%d, %d, %d, %d] is out of range",
                      net->arch, n, net->opts.in_channels, h, w);
    return 0;
}

/* opts.in_norm: conv1's input offset B [oc, 1, kh, kw] convolved with the input's extent (1
 * on the h x w image, 0 in every padding before and in conv1), [oc, oh, ow]: what the RGB
 * network's zero-padded, normalised input adds beyond conv1's folded weights. */
static int make_in_map(nn_net *net, int h, int w, wb_error *err)
{
    if (net->in_map_ok && net->in_map_h == h && net->in_map_w == w)
        return 0;
    const nn_node *nd = &net->nodes[net->in_node];
    const float *B = net->tensors[nd->t[2]].data;
    int top = nd->ph, left = nd->pw;
    const nn_node *x = &net->nodes[nd->in[0]];
    while (x->op == NN_OP_PAD) { /* MobileNet: TF "same" padding as its own node */
        top += x->pt;
        left += x->pl;
        x = &net->nodes[x->in[0]];
    }
    const size_t m = (size_t)nd->c * nd->h * nd->w;
    float *map = nn_realloc(net->in_map, sizeof(float) * (m ? m : 1));
    if (!map)
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory for %s's input offset", net->arch);
    net->in_map = map;
    for (int o = 0; o < nd->c; o++)
        for (int oy = 0; oy < nd->h; oy++)
            for (int ox = 0; ox < nd->w; ox++) {
                double s = 0;
                for (int i = 0; i < nd->kh; i++) {
                    int iy = oy * nd->sh - top + i;
                    if (iy < 0 || iy >= h)
                        continue;
                    for (int j = 0; j < nd->kw; j++) {
                        int ix = ox * nd->sw - left + j;
                        if (ix >= 0 && ix < w)
                            s += B[((size_t)o * nd->kh + i) * nd->kw + j];
                    }
                }
                map[((size_t)o * nd->h + oy) * nd->w + ox] = (float)s;
            }
    net->in_map_h = h;
    net->in_map_w = w;
    net->in_map_ok = 1;
    return 0;
}

/* Image-parallel inference, one phase: each thread of the pool takes chunks of the phase's
 * images in turn and runs them alone on its thread (nn_par_for_alone) through the phase's
 * nodes on its own buffers (the nodes' off_pout from its base, then its conv scratch): the
 * run's input copied in (first phase), the outputs that later nodes read (par_copy) copied out
 * into the arena, where a later phase reads them. An image's output does not depend on its batch, so the bits are those of the whole
 * batch. (The arena's own buffers could not be sliced by image: its plan lets a node's buffer
 * reuse a dead one's, and with images at different nodes none is dead.) */
typedef struct par_job {
    nn_net *net;
    const float *src;
    int n, phase, chunks;
    atomic_int next; /* the next chunk no thread has taken */
} par_job;

static atomic_long g_par_runs;

long nn_net_par_runs(int reset)
{
    return reset ? atomic_exchange(&g_par_runs, 0) : atomic_load(&g_par_runs);
}

static void par_piece(void *ctx, int ith, size_t lo, size_t hi)
{
    (void)lo;
    (void)hi;
    par_job *j = ctx;
    nn_net *net = j->net;
    const int b = net->par[j->phase].begin, e = net->par[j->phase].end, s = net->par[j->phase].chunk;
    float *priv = net->arena + net->off_par + (size_t)ith * net->par_room;
    float *col = priv + net->par[j->phase].bufs;
    /* each thread takes the next chunk when it is done with one: a thread slowed by another
     * process leaves its chunks to the other (which thread runs a chunk never changes its bits) */
    for (int c; (c = atomic_fetch_add(&j->next, 1)) < j->chunks;) {
        const int n0 = c * s, nb = j->n - n0 < s ? j->n - n0 : s;
        if (j->phase == 0) { /* the run's input */
            const nn_node *in = &net->nodes[b - 1];
            const size_t per = (size_t)in->c * in->h * in->w;
            memcpy(out_of(net, b - 1, n0, priv), j->src + (size_t)n0 * per, sizeof(float) * nb * per);
        }
        for (int i = b; i < e; i = group_end(net, i))
            run_forward(net, i, n0, nb, 0, col, priv);
        for (int i = b - 1; i < e; i++)
            if (net->nodes[i].par_copy && net->nodes[i].par_phase == j->phase + 1) {
                const nn_node *nd = &net->nodes[i];
                memcpy(out_of(net, i, n0, NULL), out_of(net, i, n0, priv),
                       sizeof(float) * nb * nd->c * nd->h * nd->w);
            }
    }
}

/* Runs nodes [begin, end) with node begin-1's output set from src. */
static int run(nn_net *net, const float *src, int n, int h, int w, int train, int begin, int end,
               wb_error *err)
{
    if (plan(net, n, h, w, train, begin, end, err) != 0)
        return -1;
    if (net->in_node >= begin && net->in_node < end && make_in_map(net, h, w, err) != 0)
        return -1;
    int from = begin;
    if (net->n_par) /* the nodes taken image-parallel (plan, par_plan) */
        atomic_fetch_add(&g_par_runs, 1);
    else {
        const nn_node *in = &net->nodes[begin - 1];
        memcpy(net->arena + in->off_out, src, sizeof(float) * (size_t)n * in->c * in->h * in->w);
    }
    for (int p = 0; p < net->n_par; p++) {
        par_job j = {net, src, n, p, (n + net->par[p].chunk - 1) / net->par[p].chunk, 0};
        net->par_cur = p + 1;
        nn_par_for_alone((size_t)net->plan_threads, par_piece, &j);
        from = net->par[p].end;
    }
    net->par_cur = 0;
    for (int i = from; i < end; i = group_end(net, i))
        run_forward(net, i, 0, n, train && net->nodes[i].dep, net->arena + net->off_col, NULL);
    net->fwd_train_done = train;
    net->run_begin = begin;
    net->run_end = end;
    net->run_n = n;
    return 0;
}

static int head_end(const nn_net *net)
{
    return net->n_nodes;
}

static int prefix_begin(const nn_net *net)
{
    return net->stages[net->first_train_stage].begin;
}

int nn_net_forward(nn_net *net, const float *x, int n, int h, int w, int train, float *logits,
                   wb_error *err)
{
    if (check_input(net, n, h, w, err) != 0 ||
        run(net, x, n, h, w, train ? 1 : 0, 1, head_end(net), err) != 0)
        return -1;
    const nn_node *o = &net->nodes[net->n_nodes - 1];
    memcpy(logits, net->arena + o->off_out, sizeof(float) * (size_t)n * o->c);
    return 0;
}

int nn_net_features(nn_net *net, const float *x, int n, int h, int w, float *features,
                    wb_error *err)
{
    if (net->feature_node < 0)
        return wb_err(err, WB_E_INTERNAL, NULL, "%s has no feature node", net->arch);
    if (check_input(net, n, h, w, err) != 0 ||
        run(net, x, n, h, w, 0, 1, net->feature_node + 1, err) != 0)
        return -1;
    const nn_node *o = &net->nodes[net->feature_node];
    memcpy(features, net->arena + o->off_out, sizeof(float) * (size_t)n * o->c * o->h * o->w);
    return 0;
}

int nn_net_forward_from_features(nn_net *net, const float *features, int n, int h, int w,
                                 float *logits, wb_error *err)
{
    if (net->feature_node < 0)
        return wb_err(err, WB_E_INTERNAL, NULL, "%s has no feature node", net->arch);
    if (check_input(net, n, h, w, err) != 0 ||
        run(net, features, n, h, w, 0, net->feature_node + 1, head_end(net), err) != 0)
        return -1;
    const nn_node *o = &net->nodes[net->n_nodes - 1];
    memcpy(logits, net->arena + o->off_out, sizeof(float) * (size_t)n * o->c);
    return 0;
}

int nn_net_infer_batch(nn_net *net, int h, int w, int from_prefix, int max, wb_error *err)
{
    if (check_input(net, 1, h, w, err) != 0 || infer_shapes(net, h, w, err) != 0)
        return -1;
    net->planned = 0; /* as nn_net_prefix_shape: the next run plans again */
    size_t big = 1;
    for (int i = from_prefix ? prefix_begin(net) - 1 : 0; i < net->n_nodes; i++) {
        const nn_node *nd = &net->nodes[i];
        const size_t m = (size_t)nd->c * nd->h * nd->w * sizeof(float);
        big = m > big ? m : big;
    }
    if (max <= 1)
        return max < 1 ? 1 : max;
    int b = 2;
    while (b * 2 <= max && (size_t)b * 2 * big <= NN_INFER_BYTES)
        b *= 2;
    return b;
}

int nn_net_prefix_shape(nn_net *net, int n, int h, int w, int shape[4], wb_error *err)
{
    if (check_input(net, n, h, w, err) != 0 || infer_shapes(net, h, w, err) != 0)
        return -1;
    net->planned = 0;
    const nn_node *o = &net->nodes[prefix_begin(net) - 1];
    shape[0] = n;
    shape[1] = o->c;
    shape[2] = o->h;
    shape[3] = o->w;
    return 0;
}

int nn_net_forward_prefix(nn_net *net, const float *x, int n, int h, int w, float *out,
                          wb_error *err)
{
    int b = prefix_begin(net);
    if (check_input(net, n, h, w, err) != 0)
        return -1;
    const nn_node *o = &net->nodes[b - 1];
    if (b > 1 && run(net, x, n, h, w, 0, 1, b, err) != 0)
        return -1;
    if (b == 1) {
        if (infer_shapes(net, h, w, err) != 0)
            return -1;
        net->planned = 0;
        memcpy(out, x, sizeof(float) * (size_t)n * o->c * o->h * o->w);
        return 0;
    }
    memcpy(out, net->arena + o->off_out, sizeof(float) * (size_t)n * o->c * o->h * o->w);
    return 0;
}

int nn_net_forward_from_prefix(nn_net *net, const float *prefix, int n, int h, int w,
                               int train, float *logits, wb_error *err)
{
    if (check_input(net, n, h, w, err) != 0 ||
        run(net, prefix, n, h, w, train ? 1 : 0, prefix_begin(net), head_end(net), err) != 0)
        return -1;
    const nn_node *o = &net->nodes[net->n_nodes - 1];
    memcpy(logits, net->arena + o->off_out, sizeof(float) * (size_t)n * o->c);
    return 0;
}

static int check_stages(const nn_net *net, int from, int to, wb_error *err)
{
    if (from < 0 || to < from || to >= net->n_stages)
        return wb_err(err, WB_E_USAGE, NULL, "%s: stages %d to %d: expected 0 <= from <= to < %d", net->arch, from,
                      to, net->n_stages);
    return 0;
}

int nn_net_forward_stages(nn_net *net, const float *x, int from, int to, int n, int h, int w,
                          float *out, wb_error *err)
{
    if (check_stages(net, from, to, err) != 0 || check_input(net, n, h, w, err) != 0)
        return -1;
    const int b = net->stages[from].begin, e = net->stages[to].begin;
    const nn_node *o = &net->nodes[e - 1];
    if (e > b) {
        if (run(net, x, n, h, w, 0, b, e, err) != 0)
            return -1;
        memcpy(out, net->arena + o->off_out, sizeof(float) * (size_t)n * o->c * o->h * o->w);
        return 0;
    }
    if (infer_shapes(net, h, w, err) != 0)
        return -1;
    net->planned = 0;
    memcpy(out, x, sizeof(float) * (size_t)n * o->c * o->h * o->w);
    return 0;
}

int nn_net_features_from_stage(nn_net *net, const float *x, int from, int n, int h, int w,
                               float *features, wb_error *err)
{
    if (net->feature_node < 0)
        return wb_err(err, WB_E_INTERNAL, NULL, "%s has no feature node", net->arch);
    if (check_stages(net, from, from, err) != 0 || check_input(net, n, h, w, err) != 0)
        return -1;
    if (net->stages[from].begin > net->feature_node)
        return wb_err(err, WB_E_USAGE, NULL, "%s: stage %d starts after the features", net->arch, from);
    if (run(net, x, n, h, w, 0, net->stages[from].begin, net->feature_node + 1, err) != 0)
        return -1;
    const nn_node *o = &net->nodes[net->feature_node];
    memcpy(features, net->arena + o->off_out, sizeof(float) * (size_t)n * o->c * o->h * o->w);
    return 0;
}

int nn_net_backward(nn_net *net, const float *dlogits, wb_error *err)
{
    if (!net->fwd_train_done || !net->planned)
        return wb_err(err, WB_E_INTERNAL, NULL,
                      "%s: nn_net_backward needs a training forward first", net->arch);
    const int N = net->n_nodes, n = net->run_n;
    int *lastc = nn_malloc(sizeof(int) * (size_t)N);
    if (!lastc)
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    for (int i = 0; i < N; i++)
        lastc[i] = -1;
    for (int j = net->run_begin; j < net->run_end; j++)
        for (int k = 0; k < 2; k++)
            if (net->nodes[j].in[k] >= 0 && j > lastc[net->nodes[j].in[k]])
                lastc[net->nodes[j].in[k]] = j;
    for (size_t t = 0; t < net->n_tensors; t++)
        if (net->tensors[t].grad)
            memset(net->tensors[t].grad, 0, sizeof(float) * net->tensors[t].numel);
    nn_node *o = &net->nodes[net->run_end - 1];
    memcpy(net->arena + o->off_grad, dlogits, sizeof(float) * (size_t)n * o->c * o->h * o->w);
    for (int i = net->run_end - 1; i >= net->run_begin; i--)
        if (net->nodes[i].dep)
            run_backward(net, i, n, lastc);
    free(lastc);
    net->fwd_train_done = 0;
    return 0;
}

/* ------------------------------------------------------------------ stage gradients */

int nn_net_stage_shape(nn_net *net, int stage, int n, int h, int w, int shape[4], wb_error *err)
{
    if (stage < 0 || stage >= net->n_stages - 1)
        return wb_err(err, WB_E_USAGE, NULL, "%s: stage %d is not a stage before the head (0 to %d)",
                      net->arch, stage, net->n_stages - 2);
    if (check_input(net, n, h, w, err) != 0 || infer_shapes(net, h, w, err) != 0)
        return -1;
    net->planned = 0;
    const nn_node *o = &net->nodes[net->stages[stage].end - 1];
    shape[0] = n;
    shape[1] = o->c;
    shape[2] = o->h;
    shape[3] = o->w;
    return 0;
}

int nn_net_stage_grad(nn_net *net, const float *x, int n, int h, int w, int stage,
                      const float *dlogits, float *act, float *dact, wb_error *err)
{
    int shape[4];
    if (nn_net_stage_shape(net, stage, n, h, w, shape, err) != 0)
        return -1;
    const int N = net->n_nodes, g = net->stages[stage].end - 1;
    int *saved = nn_malloc(sizeof(int) * 2 * (size_t)N);
    float *saved_p = nn_malloc(sizeof(float) * (size_t)N);
    if (!saved || !saved_p) {
        free(saved);
        free(saved_p);
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    }
    /* Inference semantics with what backward needs kept from node g on: every node that reads
     * g (directly or not) gets a gradient, BN uses its running statistics, dropout is off. */
    for (int i = 0; i < N; i++) {
        nn_node *nd = &net->nodes[i];
        saved[i] = nd->dep;
        saved[N + i] = nd->bn_batch_stats;
        saved_p[i] = nd->p;
        nd->bn_batch_stats = 0;
        if (nd->op == NN_OP_DROPOUT)
            nd->p = 0.0f;
        int dep = i == g;
        for (int k = 0; k < 2 && i > g; k++)
            if (nd->in[k] >= 0 && net->nodes[nd->in[k]].dep)
                dep = 1;
        nd->dep = dep;
    }
    net->grad_node = g;
    net->planned = 0;
    int rc = run(net, x, n, h, w, 1, 1, head_end(net), err);
    if (rc == 0)
        rc = nn_net_backward(net, dlogits, err);
    if (rc == 0) {
        const nn_node *o = &net->nodes[g];
        const size_t m = (size_t)n * o->c * o->h * o->w;
        if (act)
            memcpy(act, net->arena + o->off_out, m * sizeof(float));
        if (dact)
            memcpy(dact, net->arena + o->off_grad, m * sizeof(float));
    }
    for (int i = 0; i < N; i++) {
        net->nodes[i].dep = saved[i];
        net->nodes[i].bn_batch_stats = saved[N + i];
        net->nodes[i].p = saved_p[i];
    }
    free(saved);
    free(saved_p);
    net->grad_node = 0;
    net->planned = 0;
    net->fwd_train_done = 0;
    return rc;
}
