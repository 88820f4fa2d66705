/* nn_optim.c — SGD and AdamW as PyTorch defines them, clipping, schedules. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nets/nn_internal.h"

typedef struct {
    nn_tensor *t;
    float *m, *v; /* SGD: m = momentum buffer; AdamW: first and second moments */
    float lr_scale;
} opt_slot;

struct nn_opt {
    nn_opt_cfg cfg;
    nn_net *net;
    opt_slot *slots;
    size_t n;
    long step;
};

nn_opt_cfg nn_opt_cfg_default(nn_opt_kind kind)
{
    nn_opt_cfg c;
    memset(&c, 0, sizeof c);
    c.kind = kind;
    if (kind == NN_OPT_SGD) {
        c.lr = 0.01f;
        c.momentum = 0.9f;
    } else {
        c.lr = 1e-3f;
        c.beta1 = 0.9f;
        c.beta2 = 0.999f;
        c.eps = 1e-8f;
        c.weight_decay = 0.01f;
    }
    return c;
}

void nn_opt_free(nn_opt *opt)
{
    if (!opt)
        return;
    for (size_t i = 0; i < opt->n; i++) {
        free(opt->slots[i].m);
        free(opt->slots[i].v);
    }
    free(opt->slots);
    free(opt);
}

nn_opt *nn_opt_create(nn_net *net, const nn_opt_cfg *cfg, wb_error *err)
{
    if (cfg->kind != NN_OPT_SGD && cfg->kind != NN_OPT_ADAMW) {
        wb_err(err, WB_E_USAGE, NULL, "unknown optimizer %d", (int)cfg->kind);
        return NULL;
    }
    if (!(cfg->lr >= 0) || !(cfg->momentum >= 0 && cfg->momentum < 1) ||
        (cfg->nesterov && (cfg->momentum <= 0 || cfg->dampening != 0)) ||
        !(cfg->weight_decay >= 0)) {
        wb_err(err, WB_E_USAGE, NULL,
               "optimizer: lr %g, momentum %g, dampening %g, nesterov %d, weight_decay %g are "
               "not valid (nesterov needs momentum > 0 and dampening 0)",
               cfg->lr, cfg->momentum, cfg->dampening, cfg->nesterov, cfg->weight_decay);
        return NULL;
    }
    if (cfg->kind == NN_OPT_ADAMW && !(cfg->beta1 >= 0 && cfg->beta1 < 1 && cfg->beta2 >= 0 &&
                                       cfg->beta2 < 1 && cfg->eps > 0)) {
        wb_err(err, WB_E_USAGE, NULL, "AdamW: betas (%g, %g) must be in [0, 1), eps %g > 0",
               cfg->beta1, cfg->beta2, cfg->eps);
        return NULL;
    }
    nn_opt *o = nn_calloc(1, sizeof *o);
    if (!o)
        goto nomem;
    o->cfg = *cfg;
    o->net = net;
    size_t n = 0;
    for (size_t i = 0; i < net->n_tensors; i++)
        n += net->tensors[i].trainable;
    o->slots = nn_calloc(n ? n : 1, sizeof *o->slots);
    if (!o->slots)
        goto nomem;
    for (size_t i = 0; i < net->n_tensors; i++) {
        nn_tensor *t = &net->tensors[i];
        if (!t->trainable)
            continue;
        opt_slot *s = &o->slots[o->n++];
        s->t = t;
        float sc = t->stage >= 0 && t->stage < 16 ? cfg->stage_lr_scale[t->stage] : 0.0f;
        s->lr_scale = sc > 0 ? sc : 1.0f;
        int need_m = cfg->kind == NN_OPT_ADAMW || cfg->momentum > 0;
        if (need_m && !(s->m = nn_calloc(t->numel, sizeof(float))))
            goto nomem;
        if (cfg->kind == NN_OPT_ADAMW && !(s->v = nn_calloc(t->numel, sizeof(float))))
            goto nomem;
    }
    return o;
nomem:
    nn_opt_free(o);
    wb_err(err, WB_E_NOMEM, NULL, "out of memory for the optimizer state");
    return NULL;
}

typedef struct sgd_job {
    const nn_opt_cfg *c;
    nn_tensor *t;
    opt_slot *s;
    float a, clip;
    long step;
} sgd_job;

static void sgd_slice(void *vp, int ith, int nth)
{
    const sgd_job *j = vp;
    const nn_opt_cfg *c = j->c;
    nn_tensor *t = j->t;
    opt_slot *s = j->s;
    size_t k0, k1;
    nn_par_range(t->numel, ith, nth, 16, &k0, &k1);
    for (size_t k = k0; k < k1; k++) {
        float g = t->grad[k] * j->clip + c->weight_decay * t->data[k];
        if (c->momentum > 0) {
            float b = j->step == 1 ? g : c->momentum * s->m[k] + (1 - c->dampening) * g;
            s->m[k] = b;
            g = c->nesterov ? g + c->momentum * b : b;
        }
        t->data[k] -= j->a * g;
    }
}

/* the sum of the squared gradients of elements [lo, hi) of the slots' tensors, end to end */
typedef struct sumsq_job {
    const nn_opt *opt;
    double part[NN_MAX_THREADS];
} sumsq_job;

static void sumsq_piece(void *vp, int ith, size_t lo, size_t hi)
{
    sumsq_job *j = vp;
    double l[8] = {0};
    size_t base = 0;
    for (size_t i = 0; i < j->opt->n && base < hi; i++) {
        const nn_tensor *t = j->opt->slots[i].t;
        const size_t k0 = lo > base ? lo - base : 0, k1 = hi - base < t->numel ? hi - base : t->numel;
        base += t->numel;
        if (k0 >= k1)
            continue;
        const float *g = t->grad;
        size_t k = k0;
        for (; k + 8 <= k1; k += 8)
            for (int q = 0; q < 8; q++)
                l[q] += (double)g[k + q] * g[k + q];
        for (; k < k1; k++)
            l[0] += (double)g[k] * g[k];
    }
    double s = 0;
    for (int q = 0; q < 8; q++)
        s += l[q];
    j->part[ith] = s;
}

int nn_opt_step(nn_opt *opt, float lr, double *grad_norm, wb_error *err)
{
    const nn_opt_cfg *c = &opt->cfg;
    if (lr < 0)
        lr = c->lr;
    for (size_t i = 0; i < opt->n; i++)
        if (!opt->slots[i].t->trainable || !opt->slots[i].t->grad)
            return wb_err(err, WB_E_INTERNAL, NULL,
                          "optimizer: %s was frozen after the optimizer was created",
                          opt->slots[i].t->name);
    double ss = 0;
    if (c->clip_norm > 0 || grad_norm) { /* the norm's value matters: one chain, in order */
        for (size_t i = 0; i < opt->n; i++) {
            const nn_tensor *t = opt->slots[i].t;
            for (size_t k = 0; k < t->numel; k++)
                ss += (double)t->grad[k] * t->grad[k];
        }
    } else { /* only whether it is finite (every gradient is): any order, on the engine's
              * threads (one thread over ResNet-18's 11M gradients was 2% of its step) */
        sumsq_job j = {opt, {0}};
        size_t total = 0;
        for (size_t i = 0; i < opt->n; i++)
            total += opt->slots[i].t->numel;
        nn_par_for(total, total >= 65536 ? 0 : 1, sumsq_piece, &j);
        for (int q = 0; q < NN_MAX_THREADS; q++)
            ss += j.part[q];
    }
    double norm = sqrt(ss);
    if (grad_norm)
        *grad_norm = norm;
    if (!isfinite(norm))
        return wb_err(err, WB_E_FAILED, NULL, "optimizer: the gradient norm is %g", norm);
    float clip = 1.0f;
    if (c->clip_norm > 0 && norm > c->clip_norm) /* torch.nn.utils.clip_grad_norm_ */
        clip = (float)(c->clip_norm / (norm + 1e-6));
    opt->step++;
    const double bc1 = 1.0 - pow(c->beta1, (double)opt->step);
    const double bc2 = 1.0 - pow(c->beta2, (double)opt->step);
    for (size_t i = 0; i < opt->n; i++) {
        opt_slot *s = &opt->slots[i];
        nn_tensor *t = s->t;
        const float a = lr * s->lr_scale;
        if (c->kind == NN_OPT_SGD) {
            /* element-wise: split over the engine's threads, the same bits on any count */
            sgd_job j = {c, t, s, a, clip, opt->step};
            if (t->numel >= 65536)
                nn_par_run(sgd_slice, &j);
            else
                sgd_slice(&j, 0, 1);
        } else {
            const float wd = 1.0f - a * c->weight_decay;
            const double step = a / bc1;
            for (size_t k = 0; k < t->numel; k++) {
                float g = t->grad[k] * clip;
                t->data[k] *= wd;
                s->m[k] = c->beta1 * s->m[k] + (1 - c->beta1) * g;
                s->v[k] = c->beta2 * s->v[k] + (1 - c->beta2) * g * g;
                double den = sqrt(s->v[k] / bc2) + c->eps;
                t->data[k] -= (float)(step * s->m[k] / den);
            }
        }
    }
    return 0;
}

float nn_sched_lr(const nn_sched *s, int t)
{
    if (t < 0)
        t = 0;
    if (s->warmup > 0 && t < s->warmup) {
        /* LinearLR(start_factor=warmup_start, total_iters=warmup) */
        float f0 = s->warmup_start > 0 ? s->warmup_start : 0.0f;
        return s->lr * (f0 + (1.0f - f0) * (float)t / (float)s->warmup);
    }
    int u = t - (s->warmup > 0 ? s->warmup : 0);
    switch (s->kind) {
    case NN_SCHED_COSINE: {
        int span = s->total - (s->warmup > 0 ? s->warmup : 0);
        if (span <= 0 || u >= span)
            return s->lr_min;
        return (float)(s->lr_min +
                       0.5 * (s->lr - s->lr_min) * (1.0 + cos(3.141592653589793 * u / span)));
    }
    case NN_SCHED_STEP:
        if (s->step_size <= 0)
            return s->lr;
        return (float)(s->lr * pow(s->gamma, (double)(u / s->step_size)));
    case NN_SCHED_CONSTANT:
        break;
    }
    return s->lr;
}
