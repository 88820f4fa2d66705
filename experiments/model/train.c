/* train.c — one backbone variant on one fold. See train.h. */
#include "experiments/model/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include "experiments/data/patch.h"
#include "experiments/eval/metrics.h"
#include "experiments/model/backbone.h"
#include "base/wb_log.h"

int exp_train_cfg_from_config(const exp_config *cfg, size_t v, exp_train_cfg *tc, wb_error *err)
{
    memset(tc, 0, sizeof *tc);
    const exp_settings *s = exp_config_get(cfg);
    const exp_settings_variant *vs = &s->variants[v];
    const exp_settings_train *t = &s->train;
    tc->arch = s->backbone.arch;
    tc->in_channels = s->backbone.in_channels;
    exp_backbone_opts(cfg, &tc->net);
    if (vs->unfreeze != EXP_UNFREEZE_LIST || vs->n_unfreeze_stages == 0) {
        snprintf(tc->unfreeze, sizeof tc->unfreeze, "%s", vs->unfreeze == EXP_UNFREEZE_ALL ? "all" : "none");
    } else {
        for (size_t i = 0; i < vs->n_unfreeze_stages; i++) {
            size_t l = strlen(tc->unfreeze);
            snprintf(tc->unfreeze + l, sizeof tc->unfreeze - l, "%s%s", i ? "," : "", vs->unfreeze_stages[i]);
        }
    }
    tc->bn = vs->bn == EXP_BN_TRAIN ? NN_BN_TRAIN : NN_BN_FROZEN;
    tc->bn_affine = vs->bn_affine;
    tc->epochs = t->epochs;
    tc->batch_size = t->batch_size;
    tc->patience = t->patience;
    tc->save_weights = t->save_weights;
    tc->optimizer = t->optimizer == EXP_OPTIMIZER_ADAMW ? NN_OPT_ADAMW : NN_OPT_SGD;
    tc->lr = (float)t->lr;
    tc->momentum = (float)t->momentum;
    tc->nesterov = t->nesterov;
    tc->weight_decay = (float)t->weight_decay;
    tc->grad_clip = (float)t->grad_clip;
    tc->schedule = t->schedule == EXP_SCHEDULE_COSINE ? NN_SCHED_COSINE
                   : t->schedule == EXP_SCHEDULE_STEP ? NN_SCHED_STEP
                                                      : NN_SCHED_CONSTANT;
    tc->step_epochs = t->step_epochs;
    tc->step_gamma = (float)t->step_gamma;
    tc->warmup_epochs = t->warmup_epochs;
    tc->balanced = t->class_weight == EXP_CLASS_WEIGHT_BALANCED;
    size_t K = s->data.n_classes;
    tc->n_classes = K > 2 ? (int)K : 2;
    tc->aug_flip = t->augment.flip;
    tc->aug_rotate_deg = (float)t->augment.rotate_deg;
    tc->aug_scale = (float)t->augment.scale;
    tc->aug_intensity = (float)t->augment.intensity;
    tc->seed = s->seed;
    tc->head_init_probe = vs->head_init == EXP_HEAD_INIT_PROBE;
    exp_probe_cfg_default(&tc->probe);
    if (vs->n_probe_C) {
        tc->probe.n_C = 0;
        for (size_t i = 0; i < vs->n_probe_C && i < EXP_PROBE_MAX_C; i++) tc->probe.C[tc->probe.n_C++] = vs->probe_C[i];
    }
    tc->probe.balanced = tc->balanced;
    tc->probe.n_classes = tc->n_classes;
    /* per-stage learning-rate scales: resolved to stage indices through the network */
    if (vs->n_lr_scale) {
        nn_net_opts o = nn_net_opts_default();
        o.num_classes = 2;
        o.in_channels = tc->in_channels;
        nn_net *net = nn_net_create(tc->arch, &o, err);
        if (!net) return -1;
        for (size_t i = 0; i < vs->n_lr_scale; i++) {
            int si = nn_net_stage_find(net, vs->lr_scale[i].stage);
            if (si >= 0 && si < 16) tc->stage_lr_scale[si] = (float)vs->lr_scale[i].scale;
        }
        nn_net_free(net);
    }
    return 0;
}

/* Does the spec leave the whole backbone frozen ("none", or only the head listed)? */
static int unfreeze_is_none(const char *spec)
{
    if (!strcmp(spec, "none")) return 1;
    for (const char *p = spec; *p;) {
        size_t l = strcspn(p, ",");
        if (l != 4 || strncmp(p, "head", 4)) return 0;
        p += l + (p[l] == ',');
    }
    return 1;
}

void exp_train_cfg_warn(const exp_train_cfg *tc, const char *variant)
{
    const int cont = tc->aug_rotate_deg > 0 || tc->aug_scale > 0 || tc->aug_intensity > 0;
    if (!cont && !tc->aug_flip) return;
    if (unfreeze_is_none(tc->unfreeze))
        wb_warn("variant %s (unfreeze: none): train.augment does not apply to the linear probe, which is fitted on the "
                "unaugmented images' features; augmenting a frozen backbone would only cost time", variant);
    else if (cont && strcmp(tc->unfreeze, "all"))
        wb_log(WB_LOG_INFO, "variant %s: train.augment rotate_deg/scale/intensity change every image at every step, so the "
               "frozen stages before the first of '%s' (if any) are recomputed at every step (flips alone are cached)", variant, tc->unfreeze);
}

void exp_train_result_free(exp_train_result *r)
{
    if (!r) return;
    free(r->val_scores);
    free(r->test_scores);
    free(r->curve);
    wb_tensor_list_free(&r->weights);
    memset(r, 0, sizeof *r);
}

/* One training image's augmentation: the draws, always in this order and this number (the
 * flip's only when flips are on), so that a run's random sequence does not depend on which
 * images are read from a cache. */
typedef struct aug_draw {
    int flip;
    double ang, sc, gain, bias;
} aug_draw;

static aug_draw aug_sample(const exp_train_cfg *tc, nn_rng *rng)
{
    aug_draw d;
    d.flip = tc->aug_flip && nn_rng_uniform(rng) < 0.5f;
    d.ang = tc->aug_rotate_deg * (2.0 * nn_rng_uniform(rng) - 1.0) * M_PI / 180.0;
    d.sc = 1.0 + tc->aug_scale * (2.0 * nn_rng_uniform(rng) - 1.0);
    d.gain = 1.0 + tc->aug_intensity * (2.0 * nn_rng_uniform(rng) - 1.0);
    d.bias = tc->aug_intensity * (2.0 * nn_rng_uniform(rng) - 1.0);
    return d;
}

/* Does the augmentation change anything but the flip? (Then it cannot be cached.) */
static int aug_continuous(const exp_train_cfg *tc)
{
    return tc->aug_rotate_deg > 0 || tc->aug_scale > 0 || tc->aug_intensity > 0;
}

int exp_train_cfg_caches_prefix(const exp_train_cfg *tc)
{
    return !unfreeze_is_none(tc->unfreeze) && strcmp(tc->unfreeze, "all") && !aug_continuous(tc);
}

/* src [H, W] warped by d into dst [H, W]: rotation and scaling about the centre, the flip
 * (rows reversed), then gain and bias. With only a flip drawn (angle and bias 0 or -0, scale
 * and gain 1) every output is a source pixel exactly (a zero comes out as +0). */
static void aug_warp(const float *src, float *dst, int H, int W, const aug_draw *d)
{
    double ca = cos(d->ang) / d->sc, sa = sin(d->ang) / d->sc, cy = (H - 1) / 2.0, cx = (W - 1) / 2.0;
    for (int y = 0; y < H; y++) {
        for (int xx = 0; xx < W; xx++) {
            /* inverse map: output pixel -> source position (bilinear, zero outside) */
            double dy = y - cy, dx = xx - cx;
            double sy = cy + ca * dy - sa * dx, sx = cx + sa * dy + ca * dx;
            if (d->flip) sy = (H - 1) - sy;
            int y0 = (int)floor(sy), x0 = (int)floor(sx);
            double fy = sy - y0, fx = sx - x0, v = 0;
            for (int a = 0; a < 2; a++)
                for (int c = 0; c < 2; c++) {
                    int yy = y0 + a, xc = x0 + c;
                    if (yy < 0 || yy >= H || xc < 0 || xc >= W) continue;
                    v += (a ? fy : 1 - fy) * (c ? fx : 1 - fx) * src[(size_t)yy * W + xc];
                }
            dst[(size_t)y * W + xx] = (float)(v * d->gain + d->bias);
        }
    }
}

/* Copies dataset images idx[0..n) into x [n, C, H, W], replicating grey into C channels:
 * as they are (rng and fixed NULL), augmented by draws from rng, or warped by the one fixed
 * draw (a cached augmentation variant). Images spilled to disk (data.memory_mb) are read back
 * here, one batch at a time; -1 (err set) when that fails. */
static int gather(const exp_dataset *ds, const size_t *idx, size_t n, int C, const exp_train_cfg *tc,
                  nn_rng *rng, const aug_draw *fixed, float *x, wb_error *err)
{
    const int H = ds->rows, W = ds->cols;
    const size_t px = (size_t)H * W;
    float *tmp = NULL; /* an image read back from the spill file */
    if (!ds->images && !(tmp = malloc(px * sizeof *tmp))) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    for (size_t b = 0; b < n; b++) {
        const float *src = exp_dataset_image(ds, idx[b], tmp, err);
        if (!src) {
            free(tmp);
            return -1;
        }
        float *dst = x + b * C * px;
        if (rng) {
            aug_draw d = aug_sample(tc, rng);
            aug_warp(src, dst, H, W, &d);
        } else if (fixed) {
            aug_warp(src, dst, H, W, fixed);
        } else {
            memcpy(dst, src, px * sizeof *dst);
        }
        for (int c = 1; c < C; c++) memcpy(dst + c * px, dst, px * sizeof *dst);
    }
    free(tmp);
    return 0;
}

/* Copies of every trainable parameter and BN buffer, to restore the best epoch. */
typedef struct snapshot {
    float **data;
    size_t n;
} snapshot;

static int snapshot_take(nn_net *net, snapshot *s)
{
    size_t n = nn_net_num_tensors(net);
    if (!s->data) {
        s->data = calloc(n, sizeof *s->data);
        if (!s->data) return -1;
        s->n = n;
    }
    for (size_t i = 0; i < n; i++) {
        nn_param_view p;
        nn_net_tensor(net, i, &p);
        if (!p.trainable && !p.is_buffer) continue;
        if (!s->data[i] && !(s->data[i] = malloc(p.numel * sizeof(float)))) return -1;
        memcpy(s->data[i], p.data, p.numel * sizeof(float));
    }
    return 0;
}

static void snapshot_restore(nn_net *net, const snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) {
        nn_param_view p;
        nn_net_tensor(net, i, &p);
        if (s->data[i]) memcpy(p.data, s->data[i], p.numel * sizeof(float));
    }
}

static void snapshot_free(snapshot *s)
{
    for (size_t i = 0; i < s->n; i++) free(s->data[i]);
    free(s->data);
}

/* Probabilities of b images from their logits [b, K] (K == 2: P(class 1) = 1 / (1 + exp(z0 -
 * z1)), one per image; K > 2: the softmax, K per image), in double: what predict computes
 * from the same logits (exp_foldnet_prob, foldnet.c). */
static void probs_of_logits(const float *logits, int b, int K, double *out)
{
    for (int i = 0; i < b; i++) {
        if (K == 2) {
            double z0 = logits[2 * i], z1 = logits[2 * i + 1];
            out[i] = 1.0 / (1.0 + exp(z0 - z1));
            continue;
        }
        const float *z = logits + (size_t)i * K;
        double *p = out + (size_t)i * K, zmax = -INFINITY, sum = 0;
        for (int c = 0; c < K; c++) zmax = fmax(zmax, (double)z[c]);
        for (int c = 0; c < K; c++) sum += p[c] = exp((double)z[c] - zmax);
        for (int c = 0; c < K; c++) p[c] /= sum;
    }
}

/* The run's trunk (exp_train_cfg.trunk_stages) in use: the shared store's rows are the input
 * of stage `stage` (len floats each), and a batch of them is taken on through the frozen
 * stages [stage, to) (to: the network's first trainable stage) in buf, B x len floats. */
typedef struct trunk_use {
    int stage, to;
    size_t len;
    float *buf;
} trunk_use;

/* The trunk's stage for this network: the earliest first trainable stage (above 0) of the
 * specs in tc->trunk_stages; -1 if none. */
static int trunk_stage(nn_net *net, const exp_train_cfg *tc)
{
    int t = -1;
    for (const char *p = tc->trunk_stages; *p;) {
        const size_t l = strcspn(p, ";");
        int first = -1; /* this spec's first stage */
        for (size_t a = 0; a < l;) {
            const size_t m = strcspn(p + a, ",;");
            char name[128];
            snprintf(name, sizeof name, "%.*s", (int)(m < sizeof name ? m : sizeof name - 1), p + a);
            const int si = !strcmp(name, "all") ? 0 : nn_net_stage_find(net, name);
            if (si >= 0 && (first < 0 || si < first)) first = si;
            a += m + (p[a + m] == ',');
        }
        if (first > 0 && (t < 0 || first < t)) t = first;
        p += l + (p[l] == ';');
    }
    return t;
}

/* Store rows of m images in xbuf: their frozen prefix, or (tr) the trunk */
static int store_rows(nn_net *net, const trunk_use *tr, const float *xbuf, int m, int H, int W, float *dst,
                      wb_error *err)
{
    return tr ? nn_net_forward_stages(net, xbuf, 0, tr->stage, m, H, W, dst, err)
              : nn_net_forward_prefix(net, xbuf, m, H, W, dst, err);
}

/* The b store rows gathered at (tr ? tr->buf : xbuf) as the prefix rows the trainable part
 * reads, in xbuf: taken on from the trunk, or already there */
static int rows_on(nn_net *net, const trunk_use *tr, int b, int H, int W, float *xbuf, wb_error *err)
{
    return tr ? nn_net_forward_stages(net, tr->buf, tr->stage, tr->to, b, H, W, xbuf, err) : 0;
}

/* The rows trow[] of the run's trunk store (its stage) of m items, gathered into buf (m x
 * len floats): the rows no variant has made yet first, from the items' pixels (under the draw
 * d, or none; counted in *from_pixels). m <= 256 and at most what buf holds. */
static int trunk_rows(nn_net *net, const exp_dataset *ds, const exp_train_cfg *tc, exp_prefix_cache *trunk,
                      const size_t *items, const size_t *trow, int m, const aug_draw *d, float *xbuf, float *buf,
                      size_t *from_pixels, wb_error *err)
{
    const size_t len = trunk->len;
    size_t mi[256], mr[256];
    int nm = 0;
    for (int j = 0; j < m; j++)
        if (!trunk->have[trow[j]]) mi[nm] = items[j], mr[nm++] = trow[j];
    if (nm) {
        if (gather(ds, mi, (size_t)nm, tc->in_channels, tc, NULL, d, xbuf, err) != 0 ||
            nn_net_forward_stages(net, xbuf, 0, trunk->stage, nm, ds->rows, ds->cols, buf, err) != 0)
            return -1;
        for (int j = 0; j < nm; j++) {
            memcpy(trunk->data + mr[j] * len, buf + (size_t)j * len, len * sizeof *buf);
            trunk->have[mr[j]] = 1;
        }
        if (from_pixels) *from_pixels += (size_t)nm;
    }
    for (int j = 0; j < m; j++) memcpy(buf + (size_t)j * len, trunk->data + trow[j] * len, len * sizeof *buf);
    return 0;
}

/* The prefix rows (at tu->to) of m items into dst, taken on from their trunk rows trow[] */
static int rows_from_trunk(nn_net *net, const exp_dataset *ds, const exp_train_cfg *tc, exp_prefix_cache *trunk,
                           const trunk_use *tu, const size_t *items, const size_t *trow, int m, const aug_draw *d,
                           float *xbuf, float *dst, size_t *from_pixels, wb_error *err)
{
    return trunk_rows(net, ds, tc, trunk, items, trow, m, d, xbuf, tu->buf, from_pixels, err) ||
           nn_net_forward_stages(net, tu->buf, tu->stage, tu->to, m, ds->rows, ds->cols, dst, err);
}

/* Positive-class probabilities of items idx[0..n) in inference mode (K > 2: the K softmax
 * probabilities of each, row-major), from the prefix cache (prefix != NULL, rows of
 * prefix_len floats indexed like idx) or from the images. logits is scratch of B x K. */
static int score(nn_net *net, const exp_dataset *ds, const size_t *idx, size_t n, int C, int B, int K,
                 const float *prefix, size_t prefix_len, size_t kinds, const trunk_use *tr, float *xbuf, float *logits,
                 double *out, size_t *n_full, wb_error *err)
{
    float *rows = tr ? tr->buf : xbuf; /* prefix_len: the store's row length (tr: the trunk's) */
    for (size_t s = 0; s < n; s += (size_t)B) {
        int b = (int)(n - s < (size_t)B ? n - s : (size_t)B);
        int rc;
        if (prefix) {
            /* kinds 0: the set's rows in order; else the shared store's unaugmented row of each item */
            for (int i = 0; i < b; i++)
                memcpy(rows + (size_t)i * prefix_len, prefix + (kinds ? idx[s + i] * kinds : s + i) * prefix_len,
                       prefix_len * sizeof *rows);
            rc = rows_on(net, tr, b, ds->rows, ds->cols, xbuf, err) ||
                 nn_net_forward_from_prefix(net, xbuf, b, ds->rows, ds->cols, 0, logits, err);
        } else {
            rc = gather(ds, idx + s, (size_t)b, C, NULL, NULL, NULL, xbuf, err) ||
                 nn_net_forward(net, xbuf, b, ds->rows, ds->cols, 0, logits, err);
            *n_full += (size_t)b;
        }
        if (rc) return -1;
        probs_of_logits(logits, b, K, out + s * (K == 2 ? 1 : (size_t)K));
    }
    return 0;
}

/* The last probe fitted on a feature cache: its inputs (the items, the probe settings) and
 * what a fine-tuned variant takes from it (the head, the log). The fit is a function of these
 * inputs alone (the cached features are fixed), so a variant with the same ones gets the same
 * bits without fitting again: the sweeps' variants of one fold all start from one probe. */
typedef struct exp_probe_memo {
    size_t n_train, n_val, F;
    int K;
    exp_probe_cfg cfg;
    size_t *idx;  /* the training items, then the validation items */
    double *W;    /* K x F */
    double bias[EXP_CONFIG_MAX_CLASSES];
    exp_probe_log log;
} exp_probe_memo;

static void probe_memo_free(exp_probe_memo *m)
{
    if (!m) return;
    free(m->idx);
    free(m->W);
    free(m);
}

static int probe_memo_match(const exp_probe_memo *m, const exp_split *sp, size_t F, int K, const exp_probe_cfg *c)
{
    return m && m->n_train == sp->n_train && m->n_val == sp->n_val && m->F == F && m->K == K &&
           m->cfg.n_C == c->n_C && m->cfg.balanced == c->balanced && m->cfg.n_classes == c->n_classes &&
           !memcmp(m->cfg.C, c->C, c->n_C * sizeof *c->C) && !memcmp(m->idx, sp->train, sp->n_train * sizeof *sp->train) &&
           !memcmp(m->idx + sp->n_train, sp->val, sp->n_val * sizeof *sp->val);
}

/* Keeps the probe just fitted in fc's memo (replacing the last one). Out of memory: no memo. */
static void probe_memo_keep(exp_feature_cache *fc, const exp_split *sp, size_t F, int K, const exp_probe_cfg *c,
                            const double *W, const double *bias, const exp_probe_log *lg)
{
    probe_memo_free(fc->memo);
    fc->memo = NULL;
    exp_probe_memo *m = calloc(1, sizeof *m);
    if (!m || !(m->idx = malloc((sp->n_train + sp->n_val + 1) * sizeof *m->idx)) || !(m->W = malloc((size_t)K * F * sizeof *m->W))) {
        probe_memo_free(m);
        return;
    }
    m->n_train = sp->n_train;
    m->n_val = sp->n_val;
    m->F = F;
    m->K = K;
    m->cfg = *c;
    memcpy(m->idx, sp->train, sp->n_train * sizeof *sp->train);
    memcpy(m->idx + sp->n_train, sp->val, sp->n_val * sizeof *sp->val);
    memcpy(m->W, W, (size_t)K * F * sizeof *W);
    memcpy(m->bias, bias, (size_t)K * sizeof *bias);
    m->log = *lg;
    fc->memo = m;
}

static double prefix_bytes(const exp_prefix_cache *c)
{
    return c->data ? (double)c->n * c->kinds * (double)c->len * sizeof(float) : 0;
}

/* The slot of tc->prefixes for this key: the one that holds it, else an empty one (or the
 * least recently used, freed). Other stores are freed, least recent first, until all of them
 * and this one (bytes) fit tc->prefix_max_bytes. A slot returned empty is for the caller to
 * fill under the key. */
static exp_prefix_cache *prefix_slot(const exp_train_cfg *tc, const exp_dataset *ds, const wb_tensor_list *weights,
                                     int stage, int kinds, size_t n_items, size_t len, double bytes)
{
    const size_t n = tc->n_prefixes ? tc->n_prefixes : 1;
    exp_prefix_cache *slot = NULL;
    unsigned long long now = 0;
    for (size_t i = 0; i < n; i++) {
        exp_prefix_cache *c = &tc->prefixes[i];
        now = c->used > now ? c->used : now;
        if (c->data && c->ds == (const void *)ds && c->weights == (const void *)weights && c->stage == stage &&
            c->kinds == kinds && c->n == n_items && c->len == len)
            slot = c;
    }
    if (!slot) {
        for (size_t i = 0; i < n && !slot; i++)
            if (!tc->prefixes[i].data) slot = &tc->prefixes[i];
        if (!slot) { /* none empty: the least recently used */
            slot = &tc->prefixes[0];
            for (size_t i = 1; i < n; i++)
                if (tc->prefixes[i].used < slot->used) slot = &tc->prefixes[i];
        }
        exp_prefix_cache_free(slot);
    }
    slot->used = now + 1;
    for (;;) { /* the others and this one within the budget */
        double total = slot->data ? 0 : bytes;
        exp_prefix_cache *lru = NULL;
        for (size_t i = 0; i < n; i++) {
            exp_prefix_cache *c = &tc->prefixes[i];
            total += prefix_bytes(c);
            if (c != slot && c->data && (!lru || c->used < lru->used)) lru = c;
        }
        if (!tc->prefix_max_bytes || total <= (double)tc->prefix_max_bytes || !lru)
            break;
        exp_prefix_cache_free(lru);
    }
    return slot;
}

/* The run's store under this key (prefix_slot), allocated empty when new; NULL when it would
 * not fit tc->prefix_max_bytes, and NULL with *oom set (and err) when out of memory. */
static exp_prefix_cache *store_take(const exp_train_cfg *tc, const exp_dataset *ds, const wb_tensor_list *weights,
                                    int stage, int kinds, size_t n_items, size_t len, int *oom, wb_error *err)
{
    *oom = 0;
    const double bytes = (double)n_items * kinds * (double)len * sizeof(float);
    if (tc->prefix_max_bytes && bytes > (double)tc->prefix_max_bytes) return NULL;
    exp_prefix_cache *c = prefix_slot(tc, ds, weights, stage, kinds, n_items, len, bytes);
    if (c->data) return c;
    const size_t rows = n_items * (size_t)kinds;
    if (rows > SIZE_MAX / sizeof(float) / len || !(c->data = malloc(rows * len * sizeof(float))) ||
        !(c->have = calloc(rows ? rows : 1, 1))) {
        exp_prefix_cache_free(c);
        *oom = 1;
        wb_err(err, WB_E_NOMEM, NULL, "out of memory for the cached prefix (%zu rows of %zu floats)", rows, len);
        return NULL;
    }
    c->ds = ds;
    c->weights = weights;
    c->stage = stage;
    c->kinds = kinds;
    c->n = n_items;
    c->len = len;
    return c;
}

void exp_prefix_cache_free(exp_prefix_cache *c)
{
    if (!c) return;
    free(c->data);
    free(c->have);
    memset(c, 0, sizeof *c);
}

void exp_feature_cache_free(exp_feature_cache *c)
{
    if (!c) return;
    probe_memo_free(c->memo);
    free(c->f);
    if (c->spilled) close(c->fd);
    memset(c, 0, sizeof *c);
}

/* The features of b items all[] through the run's trunk store st (their unaugmented rows,
 * made from pixels where no variant has made them yet). tbuf: B x st->len floats. */
static int trunk_features(nn_net *net, const exp_dataset *ds, exp_prefix_cache *st, const size_t *all, int b,
                          const exp_train_cfg *tc, float *xbuf, float *tbuf, float *out, wb_error *err)
{
    size_t trow[256];
    for (int i = 0; i < b; i++) trow[i] = all[i] * (size_t)st->kinds;
    return trunk_rows(net, ds, tc, st, all, trow, b, NULL, xbuf, tbuf, NULL, err) ||
           nn_net_features_from_stage(net, tbuf, st->stage, b, ds->rows, ds->cols, out, err);
}

/* Fills the frozen-feature cache fc with every item's features (items 0..nall-1 in order, B
 * at a time; xbuf holds B input images, fbuf B x F floats): in memory, or beyond
 * tc->features_max_bytes in a spill file, written a batch at a time; through the run's trunk
 * (tc->trunk_stages) when there is one and it fits. */
static int feature_cache_fill(nn_net *net, const exp_dataset *ds, exp_feature_cache *fc, size_t nall, size_t F, int C,
                              int B, const exp_train_cfg *tc, const wb_tensor_list *weights, float *xbuf, float *fbuf,
                              wb_error *err)
{
    const int spill = tc->features_max_bytes && (F > SIZE_MAX / sizeof(float) / (nall ? nall : 1) ||
                                                 nall * F * sizeof(float) > tc->features_max_bytes);
    /* through the run's trunk when there is one and it fits: the fine-tuned variants then find
     * every item's rows there */
    exp_prefix_cache *st = NULL;
    float *tbuf = NULL;
    const int t = tc->prefixes && weights ? trunk_stage(net, tc) : -1;
    if (t > 0 && t < nn_net_num_stages(net) - 1) {
        int ts[4], oom;
        if (nn_net_stage_shape(net, t - 1, 1, ds->rows, ds->cols, ts, err) != 0) return -1;
        const size_t tlen = (size_t)ts[1] * ts[2] * ts[3];
        st = store_take(tc, ds, weights, t, tc->aug_flip ? 3 : 1, nall, tlen, &oom, err);
        if (oom) return -1;
        if (st && !(tbuf = malloc((size_t)B * tlen * sizeof *tbuf)))
            return wb_err(err, WB_E_NOMEM, NULL, "out of memory for the trunk's rows");
    }
    float *f = spill ? NULL : malloc((nall ? nall : 1) * F * sizeof *f);
    int fd = -1;
    if (!spill && !f) {
        free(tbuf);
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory for the features of %zu images", nall);
    }
    if (spill && exp_spill_open(ds->spill_dir, &fd, err) != 0) {
        free(tbuf);
        return -1;
    }
    for (size_t s = 0; s < nall; s += (size_t)B) { /* every item, in order, a batch at a time */
        size_t all[256];
        int b = (int)(nall - s < (size_t)B ? nall - s : (size_t)B), e = 0;
        for (int i = 0; i < b; i++) all[i] = s + (size_t)i;
        float *dst = spill ? fbuf : f + s * F;
        if ((st ? trunk_features(net, ds, st, all, b, tc, xbuf, tbuf, dst, err)
                : gather(ds, all, (size_t)b, C, tc, NULL, NULL, xbuf, err) != 0 ||
                      nn_net_features(net, xbuf, b, ds->rows, ds->cols, dst, err) != 0) ||
            (spill && (e = exp_spill_io(fd, 1, fbuf, (size_t)b * F * sizeof *fbuf, (uint64_t)(s * F * sizeof *fbuf))) != 0)) {
            if (e) wb_err(err, WB_E_IO, NULL, "cannot write the frozen features beyond data.memory_mb to disk: %s", strerror(e));
            free(f);
            free(tbuf);
            if (spill) close(fd);
            return -1;
        }
    }
    free(tbuf);
    if (spill)
        wb_log(WB_LOG_INFO, "the frozen features of %zu images (%zu each) take more than data.memory_mb (%zu MB): they are kept on disk",
               nall, F, tc->features_max_bytes >> 20);
    fc->f = f;
    fc->spilled = spill;
    fc->fd = fd;
    fc->n = nall;
    fc->dim = F;
    return 0;
}

/* The cache rows idx[s..s+m) of a probe's rows, as doubles, read from the cache in memory or
 * from its spill file; ascending indices close together are read in one pread of up to
 * FEAT_SPAN rows into tmp. */
#define FEAT_SPAN 512
typedef struct feat_rows {
    const exp_feature_cache *fc;
    const size_t *idx;
    float *tmp; /* FEAT_SPAN x dim floats (spilled cache) */
} feat_rows;

static const double *feat_read(void *ctx, size_t s, size_t m, double *buf, wb_error *err)
{
    const feat_rows *t = ctx;
    const exp_feature_cache *fc = t->fc;
    const size_t F = fc->dim, *idx = t->idx + s;
    for (size_t a = 0; a < m;) {
        if (!fc->spilled) {
            for (size_t j = 0; j < F; j++) buf[a * F + j] = fc->f[idx[a] * F + j];
            a++;
            continue;
        }
        size_t b = a + 1; /* rows a..b-1 lie in items idx[a] .. idx[a] + FEAT_SPAN - 1, ascending */
        while (b < m && idx[b] > idx[b - 1] && idx[b] - idx[a] < FEAT_SPAN) b++;
        size_t span = idx[b - 1] - idx[a] + 1;
        int e = exp_spill_io(fc->fd, 0, t->tmp, span * F * sizeof *t->tmp, (uint64_t)(idx[a] * F * sizeof *t->tmp));
        if (e) {
            wb_err(err, WB_E_IO, NULL, "cannot read the frozen features back from the spill file (data.memory_mb): %s", strerror(e));
            return NULL;
        }
        for (size_t r = a; r < b; r++)
            for (size_t j = 0; j < F; j++) buf[r * F + j] = t->tmp[(idx[r] - idx[a]) * F + j];
        a = b;
    }
    return buf;
}

/* Pooled backbone features (inference mode) of items idx[0..n) as rows of out [n, F]; xbuf
 * holds B input images, fbuf B x F floats. With a cache (tc->features, pretrained weights),
 * from it, filling it first with every item's features. */
static int pooled_features(nn_net *net, const exp_dataset *ds, const size_t *idx, size_t n, int C, int B,
                           const exp_train_cfg *tc, const wb_tensor_list *weights, float *xbuf, float *fbuf, double *out,
                           wb_error *err)
{
    const size_t F = (size_t)nn_net_feature_dim(net);
    exp_feature_cache *fc = weights ? tc->features : NULL;
    /* a patch run's sliding windows follow its ds->n patches in the images (patch.h) */
    const size_t nall = ds->n + (ds->patch ? ds->patch->n_windows : 0);
    if (fc && !fc->f && !fc->spilled && feature_cache_fill(net, ds, fc, nall, F, C, B, tc, weights, xbuf, fbuf, err) != 0)
        return -1;
    if (fc) {
        if (fc->n != nall || fc->dim != F) return wb_err(err, WB_E_INTERNAL, NULL, "the feature cache is for another dataset");
        float *tmp = fc->spilled ? malloc(FEAT_SPAN * F * sizeof *tmp) : NULL;
        if (fc->spilled && !tmp) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        feat_rows fr = {fc, idx, tmp};
        int rc = 0;
        for (size_t s = 0; s < n && rc == 0; s += FEAT_SPAN)
            if (!feat_read(&fr, s, n - s < FEAT_SPAN ? n - s : FEAT_SPAN, out + s * F, err)) rc = -1;
        free(tmp);
        return rc;
    }
    for (size_t s = 0; s < n; s += (size_t)B) {
        int b = (int)(n - s < (size_t)B ? n - s : (size_t)B);
        if (gather(ds, idx + s, (size_t)b, C, tc, NULL, NULL, xbuf, err) != 0 ||
            nn_net_features(net, xbuf, b, ds->rows, ds->cols, fbuf, err) != 0)
            return -1;
        for (size_t i = 0; i < (size_t)b * F; i++) out[s * F + i] = fbuf[i];
    }
    return 0;
}

/* The head's weight [K, F] (a linear layer, or a 1x1 convolution stored OIHW) and bias [K]. */
static int head_tensors(nn_net *net, int K, size_t F, nn_param_view *w, nn_param_view *b, wb_error *err)
{
    int hs = nn_net_stage_find(net, "head"), have_w = 0, have_b = 0;
    for (size_t i = 0; hs >= 0 && i < nn_net_num_tensors(net); i++) {
        nn_param_view p;
        nn_net_tensor(net, i, &p);
        if (p.stage != hs || p.is_buffer) continue;
        if (p.ndim >= 2 && p.numel == (size_t)K * F) *w = p, have_w = 1;
        else if (p.ndim == 1 && p.numel == (size_t)K) *b = p, have_b = 1;
    }
    if (!have_w || !have_b)
        return wb_err(err, WB_E_INTERNAL, NULL, "%s: no linear head of %d x %zu found for the probe", nn_net_arch(net), K, F);
    return 0;
}

/* Probabilities (probs_of_logits) of pooled feature rows R (raw, as the feature cache holds
 * them) through the network's head: EXP_ROWS_CHUNK rows at a time, fbuf holding that many
 * rows of floats (the rows are floats held as doubles: exact). */
static int head_scores(nn_net *net, const exp_dataset *ds, const exp_rows *R, int K, float *fbuf, double *out,
                       wb_error *err)
{
    const size_t F = R->d;
    double *buf = R->X ? NULL : malloc((size_t)EXP_ROWS_CHUNK * F * sizeof *buf);
    float *logits = malloc((size_t)EXP_ROWS_CHUNK * K * sizeof *logits);
    int rc = (!R->X && !buf) || !logits ? wb_err(err, WB_E_NOMEM, NULL, "out of memory") : 0;
    for (size_t s = 0; rc == 0 && s < R->n; s += EXP_ROWS_CHUNK) {
        const size_t m = R->n - s < EXP_ROWS_CHUNK ? R->n - s : EXP_ROWS_CHUNK;
        const double *x = R->X ? R->X + s * F : R->read(R->ctx, s, m, buf, err);
        if (!x) {
            rc = -1;
            break;
        }
        for (size_t i = 0; i < m * F; i++) fbuf[i] = (float)x[i];
        rc = nn_net_forward_from_features(net, fbuf, (int)m, ds->rows, ds->cols, logits, err);
        if (rc == 0) probs_of_logits(logits, (int)m, K, out + s * (K == 2 ? 1 : (size_t)K));
    }
    free(buf);
    free(logits);
    return rc;
}

/* Fits the linear probe on the training items' frozen features (C chosen on the validation
 * items) and loads it into the network's head. frozen (unfreeze none): the probe is the model,
 * and its probabilities of the validation and test items go into out's scores. With the
 * feature cache spilled, or its rows as doubles (training plus validation or test) beyond
 * tc->features_max_bytes, the rows are read from the cache a chunk at a time
 * (exp_probe_fit_rows), not copied: the same bits. Features are computed B images at a time
 * (the inference batch; xbuf holds B images). */
static int probe_into_head(nn_net *net, const exp_dataset *ds, const exp_split *sp, const exp_train_cfg *tc, int frozen,
                           const wb_tensor_list *weights, int B, float *xbuf, exp_train_result *out, wb_error *err)
{
    const int C = tc->in_channels, K = tc->n_classes >= 2 ? tc->n_classes : 2;
    /* X holds the validation rows, then (frozen) the test rows: Xtr is standardised in place
     * by the probe, X is read raw */
    const size_t F = (size_t)nn_net_feature_dim(net);
    const size_t nx = frozen && sp->n_test > sp->n_val ? sp->n_test : sp->n_val;
    exp_feature_cache *fc = weights ? tc->features : NULL;
    const size_t nall = ds->n + (ds->patch ? ds->patch->n_windows : 0);
    /* fbuf: a batch of features, or (frozen) a chunk of rows for head_scores */
    float *fbuf = malloc((size_t)(frozen && B < EXP_ROWS_CHUNK ? EXP_ROWS_CHUNK : B) * F * sizeof *fbuf), *tmp = NULL;
    double *Xtr = NULL, *X = NULL, *W = malloc((size_t)K * F * sizeof *W), bias[EXP_CONFIG_MAX_CLASSES];
    int *ytr = malloc((sp->n_train ? sp->n_train : 1) * sizeof *ytr), *yva = malloc((sp->n_val ? sp->n_val : 1) * sizeof *yva);
    exp_probe pr;
    exp_probe_init(&pr);
    int rc = -1, stream = 0;
    if (!fbuf || !W || !ytr || !yva) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory for the probe's features");
        goto done;
    }
    nn_param_view hw = {0}, hb = {0};
    if (!frozen && fc && probe_memo_match(fc->memo, sp, F, K, &tc->probe)) { /* fitted already */
        if (head_tensors(net, K, F, &hw, &hb, err) != 0) goto done;
        for (size_t i = 0; i < (size_t)K * F; i++) hw.data[i] = (float)fc->memo->W[i];
        for (int c = 0; c < K; c++) hb.data[c] = (float)fc->memo->bias[c];
        out->probe = fc->memo->log;
        out->probe_reused = 1;
        rc = 0;
        goto done;
    }
    if (fc && !fc->f && !fc->spilled && feature_cache_fill(net, ds, fc, nall, F, C, B, tc, weights, xbuf, fbuf, err) != 0) goto done;
    if (fc && (fc->n != nall || fc->dim != F)) {
        wb_err(err, WB_E_INTERNAL, NULL, "the feature cache is for another dataset");
        goto done;
    }
    const double rows_bytes = (double)(sp->n_train + nx) * (double)F * sizeof(double);
    stream = fc && (fc->spilled || (tc->features_max_bytes && rows_bytes > (double)tc->features_max_bytes));
    if (stream ? fc->spilled && !(tmp = malloc(FEAT_SPAN * F * sizeof *tmp))
               : !(Xtr = malloc((sp->n_train ? sp->n_train : 1) * F * sizeof *Xtr)) || !(X = malloc((nx ? nx : 1) * F * sizeof *X))) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory for the probe's features");
        goto done;
    }
    for (size_t i = 0; i < sp->n_train; i++) ytr[i] = ds->items[sp->train[i]].label;
    for (size_t i = 0; i < sp->n_val; i++) yva[i] = ds->items[sp->val[i]].label;
    feat_rows ftr = {fc, sp->train, tmp}, fva = {fc, sp->val, tmp}, fte = {fc, sp->test, tmp};
    exp_rows Rtr = {sp->n_train, F, NULL, feat_read, &ftr}, Rva = {sp->n_val, F, NULL, feat_read, &fva};
    exp_rows Rte = {sp->n_test, F, NULL, feat_read, &fte};
    if (stream ? exp_probe_fit_rows(&pr, &Rtr, ytr, &Rva, yva, &tc->probe, err) != 0
               : pooled_features(net, ds, sp->train, sp->n_train, C, B, tc, weights, xbuf, fbuf, Xtr, err) != 0 ||
                     pooled_features(net, ds, sp->val, sp->n_val, C, B, tc, weights, xbuf, fbuf, X, err) != 0 ||
                     exp_probe_fit_inplace(&pr, Xtr, ytr, sp->n_train, X, yva, sp->n_val, F, &tc->probe, err) != 0)
        goto done;
    free(Xtr); /* the training rows are no longer needed */
    Xtr = NULL;
    exp_probe_log *lg = &out->probe;
    lg->n_C = pr.n_C;
    memcpy(lg->C, pr.C, sizeof lg->C);
    memcpy(lg->val_loss, pr.val_loss, sizeof lg->val_loss);
    memcpy(lg->val_auc, pr.val_auc, sizeof lg->val_auc);
    lg->chosen = pr.chosen;
    if (head_tensors(net, K, F, &hw, &hb, err) != 0) goto done;
    exp_probe_head(&pr, W, bias);
    for (size_t i = 0; i < (size_t)K * F; i++) hw.data[i] = (float)W[i];
    for (int c = 0; c < K; c++) hb.data[c] = (float)bias[c];
    if (fc) probe_memo_keep(fc, sp, F, K, &tc->probe, W, bias, lg);
    /* frozen: the scores are the network's with the probe as its head (float weights), as
     * the saved network and predict compute them, not the double model's: the same bits */
    if (frozen && stream) {
        if (head_scores(net, ds, &Rva, K, fbuf, out->val_scores, err) != 0 ||
            head_scores(net, ds, &Rte, K, fbuf, out->test_scores, err) != 0)
            goto done;
    } else if (frozen) {
        exp_rows va = exp_rows_of(X, sp->n_val, F), te = exp_rows_of(X, sp->n_test, F);
        if (head_scores(net, ds, &va, K, fbuf, out->val_scores, err) != 0 ||
            pooled_features(net, ds, sp->test, sp->n_test, C, B, tc, weights, xbuf, fbuf, X, err) != 0 ||
            head_scores(net, ds, &te, K, fbuf, out->test_scores, err) != 0)
            goto done;
    }
    rc = 0;
done:
    exp_probe_free(&pr);
    free(fbuf);
    free(tmp);
    free(Xtr);
    free(X);
    free(W);
    free(ytr);
    free(yva);
    return rc;
}

int exp_train_backbone(const exp_dataset *ds, const exp_split *sp, const exp_train_cfg *tc,
                       const wb_tensor_list *weights,
                       void (*progress)(void *ctx, int epoch, const exp_epoch_log *log), void *ctx,
                       exp_train_result *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    wb_tensor_list_init(&out->weights);
    const int C = tc->in_channels, H = ds->rows, W = ds->cols;
    const int B = tc->batch_size;
    const size_t px = (size_t)H * W;
    if (B < 1 || B > 256) return wb_err(err, WB_E_USAGE, NULL, "batch size %d: expected 1 to 256", B);
    nn_net_opts o = tc->net;
    if (weights && nn_net_opts_from_weights(tc->arch, weights, &o, err) != 0) return -1;
    o.in_channels = C;
    const int K = tc->n_classes >= 2 ? tc->n_classes : 2;
    o.num_classes = K;
    o.seed = tc->seed;
    nn_net *net = nn_net_create(tc->arch, &o, err);
    if (!net) return -1;
    nn_opt *opt = NULL;
    float *xbuf = NULL, *dlogits = NULL, *logits = NULL, *pre_train = NULL, *pre_val = NULL, *pre_test = NULL;
    float *pre_tmp = NULL;
    exp_prefix_cache *shared = NULL; /* the run's prefixes, when this call uses them */
    trunk_use tru = {0, 0, 0, NULL}, *tr = NULL; /* the run's trunk, when the store holds it */
    unsigned char *have = NULL; /* which training prefixes pre_train holds */
    int *labels = NULL, *yval = NULL;
    size_t *order = NULL;
    snapshot snap = {0};
    size_t n_scored = 0; /* images scored through the whole network */
    int rc = -1;
    if (weights) {
        nn_bind_opts bo = nn_bind_opts_default();
        if (nn_net_bind(net, weights, &bo, NULL, err) != 0) goto done;
    }
    if (nn_net_unfreeze(net, tc->unfreeze, tc->bn, tc->bn_affine, err) != 0) goto done;
    out->trainable_params = nn_net_num_params(net, -1, 1);
    for (int st = 0; st < nn_net_num_stages(net); st++)
        if (strcmp(nn_net_stage_name(net, st), "head") && nn_net_num_params(net, st, 1) > 0) out->trainable_stages++;
    /* nothing of the backbone trains: the linear probe is the model */
    const int frozen = out->trainable_stages == 0;
    /* Inference (scoring, the feature and prefix caches) runs in batches of Bi through the
     * whole network or its prefix, of Bp from a cached prefix: sizes chosen by the network and
     * the input shape (nn_net_infer_batch), at most B so that the training buffers hold them.
     * An image's output does not depend on its batch: the same bits as batches of B. */
    int Bi = tc->infer_batch > 0 ? tc->infer_batch : nn_net_infer_batch(net, H, W, 0, B, err);
    int Bp = tc->infer_batch > 0 ? tc->infer_batch : nn_net_infer_batch(net, H, W, 1, B, err);
    if (Bi < 0 || Bp < 0) goto done;
    Bi = Bi < B ? Bi : B;
    Bp = Bp < B ? Bp : B;

    /* A frozen prefix is computed once per image and augmentation variant when the
     * augmentation is a finite set (none, or flips: the image and its flipped copy); each step
     * then reads the variant the same draws as the uncached path ask for. Continuous
     * augmentation (rotation, scaling, intensity) recomputes it every step. */
    const int augment = tc->aug_flip || aug_continuous(tc);
    const int has_prefix = nn_net_first_trainable_stage(net) > 0;
    int use_prefix = !frozen && !aug_continuous(tc) && has_prefix && !tc->no_prefix_cache;
    int ps[4] = {0, C, H, W};
    if (use_prefix && nn_net_prefix_shape(net, 1, H, W, ps, err) != 0) goto done;
    if (use_prefix && tc->prefix_max_bytes) {
        /* the cache holds every training image's prefix (twice with flips), the validation's
         * and the test's: beyond the budget the prefix is recomputed at every step instead
         * (the same bits, tests/experiments/test_train_cache.c) */
        const double rows = (double)sp->n_train * (tc->aug_flip ? 2 : 1) + (double)sp->n_val + (double)sp->n_test;
        const double bytes = rows * (double)ps[1] * ps[2] * ps[3] * sizeof(float);
        if (bytes > (double)tc->prefix_max_bytes) {
            use_prefix = 0;
            out->prefix_over_budget = 1;
        }
    }
    const int n_var = use_prefix && tc->aug_flip ? 2 : 1; /* cached variants of each training image */
    const size_t prefix_len = use_prefix ? (size_t)ps[1] * ps[2] * ps[3] : 0;
    /* the run's shared store when it may hold every item's rows: the unaugmented image, and
     * with flips the two warps of the training draws (the warp of an identity draw need not
     * be the unaugmented pixels' bits) */
    const int kinds = tc->aug_flip ? 3 : 1;
    /* items: a patch run's sliding windows follow its patches (test items past ds->n) */
    const size_t n_items = ds->n + (ds->patch ? ds->patch->n_windows : 0);
    /* the shared store's rows: this variant's prefix, or the run's trunk when it is earlier
     * and fits the budget (tr: rows of row_len floats at the trunk's stage, each batch taken on
     * to this variant's first trainable stage) */
    size_t row_len = prefix_len;
    int store_stage = nn_net_first_trainable_stage(net);
    exp_prefix_cache *trunk = NULL; /* the trunk the own store's rows are made from (below) */
    if (use_prefix && tc->prefixes && weights) {
        const int t = trunk_stage(net, tc);
        int ts[4];
        if (t > 0 && t < store_stage) {
            if (nn_net_stage_shape(net, t - 1, 1, H, W, ts, err) != 0) goto done;
            const size_t tlen = (size_t)ts[1] * ts[2] * ts[3];
            const double tbytes = (double)n_items * kinds * (double)tlen * sizeof(float);
            const double own = (double)n_items * kinds * (double)prefix_len * sizeof(float);
            if (!tc->prefix_max_bytes || tbytes <= (double)tc->prefix_max_bytes) {
                tru = (trunk_use){t, store_stage, tlen, NULL};
                if (!(tru.buf = malloc((size_t)B * tlen * sizeof *tru.buf))) {
                    wb_err(err, WB_E_NOMEM, NULL, "out of memory for the trunk's rows");
                    goto done;
                }
                int oom;
                if (!tc->prefix_max_bytes || tbytes + own <= (double)tc->prefix_max_bytes) {
                    /* both fit: this variant's own store, its rows made from the trunk's
                     * (the steps then read them as without a trunk) */
                    trunk = store_take(tc, ds, weights, t, kinds, n_items, tlen, &oom, err);
                    if (oom) goto done;
                } else {
                    /* only the trunk: each batch taken on from its rows */
                    tr = &tru;
                    row_len = tlen;
                    store_stage = t;
                }
            }
        }
    }
    if (use_prefix && tc->prefixes && weights) {
        int oom;
        shared = store_take(tc, ds, weights, store_stage, kinds, n_items, row_len, &oom, err);
        if (oom) goto done;
    }
    const size_t skinds = shared ? (size_t)kinds : 0; /* score(): rows by item */
    const size_t in_len = (size_t)C * px;
    xbuf = malloc((size_t)B * (in_len > prefix_len ? in_len : prefix_len) * sizeof *xbuf);
    dlogits = malloc((size_t)B * (size_t)K * sizeof *dlogits);
    logits = malloc((size_t)B * (size_t)K * sizeof *logits);
    labels = malloc((size_t)B * sizeof *labels);
    order = malloc((sp->n_train ? sp->n_train : 1) * sizeof *order);
    yval = malloc((sp->n_val ? sp->n_val : 1) * sizeof *yval);
    const size_t S = K > 2 ? (size_t)K : 1; /* scores per item */
    out->val_scores = calloc((sp->n_val ? sp->n_val : 1) * S, sizeof *out->val_scores);
    out->test_scores = calloc((sp->n_test ? sp->n_test : 1) * S, sizeof *out->test_scores);
    if (!frozen) out->curve = calloc((size_t)tc->epochs, sizeof *out->curve);
    if (!xbuf || !dlogits || !logits || !labels || !order || !yval || !out->val_scores || !out->test_scores ||
        (!frozen && !out->curve)) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory for training");
        goto done;
    }
    /* linear probing, then (not frozen) fine-tuning from the probe's head (Kumar et al. 2022) */
    if ((frozen || tc->head_init_probe) && probe_into_head(net, ds, sp, tc, frozen, weights, Bi, xbuf, out, err) != 0) goto done;
    if (frozen) {
        if (tc->save_weights && nn_net_export(net, &out->weights, err) != 0) goto done;
        rc = 0;
        goto done;
    }
    nn_opt_cfg oc = nn_opt_cfg_default(tc->optimizer);
    oc.lr = tc->lr;
    if (tc->optimizer == NN_OPT_SGD) {
        oc.momentum = tc->momentum;
        oc.nesterov = tc->nesterov;
    } else {
        oc.beta1 = tc->momentum;
    }
    oc.weight_decay = tc->weight_decay;
    /* a head started from the probe can carry large weights (w / sigma on features of small
     * spread): its first steps are clipped unless the config sets a clip */
    oc.clip_norm = tc->grad_clip > 0 ? tc->grad_clip : tc->head_init_probe ? EXP_PROBE_HEAD_CLIP : 0;
    memcpy(oc.stage_lr_scale, tc->stage_lr_scale, sizeof oc.stage_lr_scale);
    if (!(opt = nn_opt_create(net, &oc, err))) goto done;
    if (use_prefix) {
        /* validation and test images: once, in split order. Training images: rows
         * [i * n_var + v] for image i (in split order) and variant v, each computed the first
         * time a step's draw asks for it (have[]), so that no more prefixes are computed than
         * the uncached path would (epochs x images) nor than images x variants. Variant v is
         * the warp of the draw {flip v, no rotation, scale 1, gain 1, bias 0}: the very pixels
         * the uncached path builds for that draw. */
        const size_t *sets[2] = {sp->val, sp->test};
        size_t ns[2] = {sp->n_val, sp->n_test};
        float **dst[2] = {&pre_val, &pre_test};
        size_t rows = (sp->n_train ? sp->n_train : 1) * (size_t)n_var;
        if (!(pre_tmp = malloc((size_t)B * row_len * sizeof *pre_tmp)) ||
            (!shared && (rows > SIZE_MAX / sizeof(float) / prefix_len ||
                         !(pre_train = malloc(rows * prefix_len * sizeof(float))) || !(have = calloc(rows, 1))))) {
            wb_err(err, WB_E_NOMEM, NULL, "out of memory for the cached prefix (%zu images of %zu floats)", rows, prefix_len);
            goto done;
        }
        for (int k = 0; shared && k < 2; k++) {
            /* the set's items whose unaugmented row no fold has computed yet, Bi at a time */
            size_t miss[256];
            int nm = 0;
            for (size_t i = 0; i <= ns[k]; i++) {
                if (i < ns[k] && !shared->have[sets[k][i] * (size_t)kinds]) {
                    size_t it = sets[k][i], j;
                    for (j = 0; j < (size_t)nm && miss[j] != it; j++) {}
                    if (j == (size_t)nm) miss[nm++] = it; /* an item listed twice: computed once */
                }
                if (nm == Bi || (i == ns[k] && nm)) {
                    if (trunk) {
                        size_t trow[256];
                        for (int j = 0; j < nm; j++) trow[j] = miss[j] * (size_t)kinds;
                        if (rows_from_trunk(net, ds, tc, trunk, &tru, miss, trow, nm, NULL, xbuf, pre_tmp,
                                            &out->prefix_images, err) != 0)
                            goto done;
                    } else {
                        if (gather(ds, miss, (size_t)nm, C, tc, NULL, NULL, xbuf, err) != 0 ||
                            store_rows(net, tr, xbuf, nm, H, W, pre_tmp, err) != 0)
                            goto done;
                        out->prefix_images += (size_t)nm;
                    }
                    for (int j = 0; j < nm; j++) {
                        memcpy(shared->data + miss[j] * (size_t)kinds * row_len, pre_tmp + (size_t)j * row_len,
                               row_len * sizeof *pre_tmp);
                        shared->have[miss[j] * (size_t)kinds] = 1;
                    }
                    nm = 0;
                }
            }
            *dst[k] = shared->data; /* score() reads row idx * kinds */
        }
        for (int k = 0; !shared && k < 2; k++) {
            if (!(*dst[k] = malloc((ns[k] ? ns[k] : 1) * prefix_len * sizeof(float)))) {
                wb_err(err, WB_E_NOMEM, NULL, "out of memory for the cached prefix");
                goto done;
            }
            for (size_t s = 0; s < ns[k]; s += (size_t)Bi) {
                int b = (int)(ns[k] - s < (size_t)Bi ? ns[k] - s : (size_t)Bi);
                if (gather(ds, sets[k] + s, (size_t)b, C, tc, NULL, NULL, xbuf, err) != 0 ||
                    nn_net_forward_prefix(net, xbuf, b, H, W, *dst[k] + s * prefix_len, err) != 0)
                    goto done;
                out->prefix_images += (size_t)b;
            }
        }
    }
    float class_w[EXP_CONFIG_MAX_CLASSES];
    for (int c = 0; c < K; c++) class_w[c] = 1;
    if (tc->balanced) {
        /* n / (K n_c) over the training images; left at 1 if a class has none */
        size_t cnt[EXP_CONFIG_MAX_CLASSES] = {0};
        for (size_t i = 0; i < sp->n_train; i++) cnt[ds->items[sp->train[i]].label]++;
        int all = 1;
        for (int c = 0; c < K; c++) all &= cnt[c] > 0;
        for (int c = 0; all && c < K; c++) class_w[c] = (float)((double)sp->n_train / ((double)K * (double)cnt[c]));
    }
    for (size_t i = 0; i < sp->n_val; i++) yval[i] = ds->items[sp->val[i]].label;
    const int spe = (int)((sp->n_train + (size_t)B - 1) / (size_t)B);
    const int Bs = use_prefix ? Bp : Bi; /* scoring: from the cached prefix, or whole images */
    nn_sched sched = {.kind = tc->schedule, .lr = tc->lr, .lr_min = 0, .warmup = tc->warmup_epochs * spe,
                      .warmup_start = 0.1f, .total = tc->epochs * spe, .step_size = tc->step_epochs * spe,
                      .gamma = tc->step_gamma};
    nn_rng rng;
    nn_rng_seed(&rng, tc->seed ^ 0x7A11ull);
    double best = -1;
    int since_best = 0, step = 0;
    for (size_t i = 0; i < sp->n_train; i++) order[i] = i;
    for (int ep = 0; ep < tc->epochs; ep++) {
        for (size_t i = sp->n_train; i > 1; i--) { /* Fisher-Yates, seeded */
            size_t j = (size_t)(nn_rng_u64(&rng) % i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        double loss_sum = 0, w_sum = 0;
        float lr = 0;
        for (size_t s = 0; s < sp->n_train; s += (size_t)B) {
            int b = (int)(sp->n_train - s < (size_t)B ? sp->n_train - s : (size_t)B);
            size_t idx[256];
            for (int i = 0; i < b; i++) {
                idx[i] = sp->train[order[s + i]];
                labels[i] = ds->items[idx[i]].label;
            }
            int r2;
            if (use_prefix) {
                /* the uncached path's draws for these images, in its order; then the prefixes
                 * not cached yet, as one batch per variant */
                size_t row[256];
                for (int i = 0; i < b; i++) row[i] = order[s + i] * n_var + (augment ? aug_sample(tc, &rng).flip : 0);
                /* the shared store's rows: item x kinds + (flips: 1 + flip; else 0, the
                 * unaugmented row, which is what the uncached path then reads) */
                float *ptr = shared ? shared->data : pre_train;
                unsigned char *phave = shared ? shared->have : have;
                size_t srow[256];
                for (int i = 0; i < b; i++)
                    srow[i] = shared ? sp->train[order[s + i]] * (size_t)kinds + (tc->aug_flip ? 1 + row[i] % n_var : 0) : row[i];
                for (int v = 0; v < n_var; v++) {
                    size_t miss[256], mrow[256];
                    int nm = 0;
                    for (int i = 0; i < b; i++)
                        if (row[i] % n_var == (size_t)v && !phave[srow[i]]) mrow[nm] = srow[i], miss[nm++] = order[s + i]; /* a batch holds each image once */
                    if (!nm) continue;
                    size_t mi[256];
                    for (int j = 0; j < nm; j++) mi[j] = sp->train[miss[j]];
                    aug_draw d = {v, 0, 1, 1, 0};
                    for (int j0 = 0; j0 < nm; j0 += Bi) { /* Bi at a time, as inference */
                        const int m = nm - j0 < Bi ? nm - j0 : Bi;
                        if (trunk) {
                            size_t trow[256];
                            for (int j = 0; j < m; j++) trow[j] = mrow[j0 + j]; /* the same row of the trunk */
                            if (rows_from_trunk(net, ds, tc, trunk, &tru, mi + j0, trow, m, tc->aug_flip ? &d : NULL,
                                                xbuf, pre_tmp + (size_t)j0 * row_len, &out->prefix_images, err) != 0)
                                goto done;
                            continue;
                        }
                        if (gather(ds, mi + j0, (size_t)m, C, tc, NULL, tc->aug_flip ? &d : NULL, xbuf, err) != 0 ||
                            store_rows(net, tr, xbuf, m, H, W, pre_tmp + (size_t)j0 * row_len, err) != 0)
                            goto done;
                        out->prefix_images += (size_t)m;
                    }
                    for (int j = 0; j < nm; j++) {
                        memcpy(ptr + mrow[j] * row_len, pre_tmp + (size_t)j * row_len, row_len * sizeof *pre_tmp);
                        phave[mrow[j]] = 1;
                    }
                }
                float *rows = tr ? tr->buf : xbuf;
                for (int i = 0; i < b; i++)
                    memcpy(rows + (size_t)i * row_len, ptr + srow[i] * row_len, row_len * sizeof *rows);
                r2 = rows_on(net, tr, b, H, W, xbuf, err) || nn_net_forward_from_prefix(net, xbuf, b, H, W, 1, logits, err);
            } else {
                r2 = gather(ds, idx, (size_t)b, C, tc, augment ? &rng : NULL, NULL, xbuf, err) ||
                     nn_net_forward(net, xbuf, b, H, W, 1, logits, err);
                if (has_prefix) out->prefix_images += (size_t)b;
            }
            double loss;
            if (r2 || nn_loss_softmax_ce(logits, labels, class_w, b, K, &loss, dlogits, err) ||
                nn_net_backward(net, dlogits, err))
                goto done;
            lr = nn_sched_lr(&sched, step++);

            if (nn_opt_step(opt, lr, NULL, err) != 0) {
                if (err->code == WB_E_FAILED) /* a non-finite gradient: the step size, not the data */
                    wb_err(err, WB_E_FAILED, NULL, "training diverged at epoch %d, step %d (batch loss %g): lower train.lr "
                           "or set train.grad_clip%s", ep + 1, step, loss,
                           tc->head_init_probe ? " (lower than the probe head's default of 1); a head started from the "
                                                 "linear probe can have large weights on features of small spread (or use "
                                                 "head_init: random)" : " (e.g. 1)");
                goto done;
            }
            double wb = 0;
            for (int i = 0; i < b; i++) wb += class_w[labels[i]];
            loss_sum += loss * wb;
            w_sum += wb;
        }
        exp_epoch_log *lg = &out->curve[ep];
        lg->train_loss = w_sum > 0 ? loss_sum / w_sum : NAN;
        lg->lr = lr;
        lg->val_auc = NAN;
        if (sp->n_val) {
            if (score(net, ds, sp->val, sp->n_val, C, Bs, K, pre_val, row_len, skinds, tr, xbuf, logits, out->val_scores, &n_scored, err)) goto done;
            double auc;
            wb_error e2;
            if ((K > 2 ? exp_metrics_auc_ovr(yval, out->val_scores, NULL, sp->n_val, K, &auc, NULL, &e2)
                       : exp_metrics_auc(yval, out->val_scores, NULL, sp->n_val, &auc, &e2)) == 0)
                lg->val_auc = auc;
        }
        out->n_epochs = ep + 1;
        if (progress) progress(ctx, ep, lg);
        /* early stopping on validation AUC; without a usable one, the last epoch is kept */
        double crit = isnan(lg->val_auc) ? -1 : lg->val_auc;
        if (crit > best || best < 0) {
            best = crit;
            out->best_epoch = ep;
            since_best = 0;
            if (tc->patience > 0 && snapshot_take(net, &snap) != 0) {
                wb_err(err, WB_E_NOMEM, NULL, "out of memory");
                goto done;
            }
        } else if (tc->patience > 0 && ++since_best >= tc->patience) {
            break;
        }
    }
    /* the kept epoch's weights: the last epoch's are the network's already (restoring them
     * would copy the same values), and its validation scores are out->val_scores already:
     * scoring them again would give the same bits */
    const int kept_last = !(tc->patience > 0 && snap.data) || out->best_epoch == out->n_epochs - 1;
    if (!kept_last) snapshot_restore(net, &snap);
    else out->best_epoch = out->n_epochs - 1;
    if (sp->n_val && !(kept_last && out->n_epochs > 0) && score(net, ds, sp->val, sp->n_val, C, Bs, K, pre_val, row_len, skinds, tr, xbuf, logits, out->val_scores, &n_scored, err)) goto done;
    if (score(net, ds, sp->test, sp->n_test, C, Bs, K, pre_test, row_len, skinds, tr, xbuf, logits, out->test_scores, &n_scored, err)) goto done;
    if (tc->save_weights && nn_net_export(net, &out->weights, err) != 0) goto done;
    if (has_prefix) out->prefix_images += n_scored;
    rc = 0;
done:
    snapshot_free(&snap);
    nn_opt_free(opt);
    nn_net_free(net);
    free(xbuf);
    free(dlogits);
    free(logits);
    free(labels);
    free(order);
    free(yval);
    free(pre_train);
    free(pre_tmp);
    free(tru.buf);
    free(have);
    if (!shared) {
        free(pre_val);
        free(pre_test);
    }
    if (rc) exp_train_result_free(out);
    return rc;
}
