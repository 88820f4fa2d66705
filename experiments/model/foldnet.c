/* foldnet.c — a run's saved fold networks. See foldnet.h. */
#include "experiments/model/foldnet.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/model/backbone.h"

int exp_foldnet_variant(const exp_config *cfg, const char *cfg_path, const char *want, const char *what,
                        const char **name, wb_error *err)
{
    *name = NULL;
    const exp_settings *s = exp_config_get(cfg);
    char names[512] = "";
    const size_t nv = s->n_variants;
    for (size_t v = 0; v < nv; v++) { /* the backbone variants, for the messages */
        if (s->variants[v].type == EXP_VARIANT_BASELINE) continue;
        size_t l = strlen(names);
        snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", s->variants[v].name);
    }
    const char *found = NULL;
    for (size_t v = 0; v < nv && !found; v++) {
        const char *nm = s->variants[v].name;
        const int is_base = s->variants[v].type == EXP_VARIANT_BASELINE;
        if (want ? strcmp(nm, want) != 0 : is_base) continue;
        if (is_base)
            return wb_err(err, WB_E_USAGE, cfg_path, "variant '%s' is the radiomics baseline, which has no network to %s "
                          "(backbone variants: %s)", nm, what, names[0] ? names : "none");
        found = nm;
    }
    if (!found) {
        if (want) return wb_err(err, WB_E_USAGE, cfg_path, "the run has no variant '%s' (backbone variants: %s)", want, names[0] ? names : "none");
        return wb_err(err, WB_E_USAGE, cfg_path, "the run has no backbone variant (only baselines): nothing to %s", what);
    }
    *name = found;
    return 0;
}

void exp_foldnet_path(const char *run_dir, int repeat, int fold, const char *variant, char *buf, size_t n)
{
    snprintf(buf, n, "%s/models/r%d_f%d_%s.safetensors", run_dir, repeat, fold, variant);
}

nn_net *exp_foldnet_load(const exp_config *cfg, const wb_tensor_list *w, const char *wpath, uint64_t seed, int bind,
                         wb_error *err)
{
    const exp_settings *s = exp_config_get(cfg);
    const char *arch = s->backbone.arch;
    nn_net_opts o;
    exp_backbone_opts(cfg, &o);
    if (nn_net_opts_from_weights(arch, w, &o, err) != 0) {
        if (!err->file[0]) snprintf(err->file, sizeof err->file, "%s", wpath);
        return NULL;
    }
    o.in_channels = s->backbone.in_channels;
    size_t K = s->data.n_classes;
    o.num_classes = K > 2 ? (int)K : 2;
    o.seed = seed;
    o.dropout = 0;
    nn_net *net = nn_net_create(arch, &o, err);
    if (!net) return NULL;
    if (bind) {
        nn_bind_opts bo = nn_bind_opts_default();
        bo.skip_head = 0;
        if (nn_net_bind(net, w, &bo, NULL, err) != 0) {
            snprintf(err->file, sizeof err->file, "%s", wpath);
            nn_net_free(net);
            return NULL;
        }
    }
    /* nothing trains: the maps' backward computes no weight gradients but the head's */
    if (nn_net_unfreeze(net, "none", NN_BN_FROZEN, 0, err) != 0) {
        nn_net_free(net);
        return NULL;
    }
    return net;
}

int exp_foldnet_prob(nn_net *net, const float *x, int rows, int cols, int cls, double *prob, int *cls_out, wb_error *err)
{
    const int K = nn_net_num_classes(net);
    float *logits = malloc((size_t)K * sizeof *logits);
    if (!logits) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    if (nn_net_forward(net, x, 1, rows, cols, 0, logits, err) != 0) {
        free(logits);
        return -1;
    }
    if (cls < 0) {
        cls = 1;
        if (K > 2)
            for (int j = 0; j < K; j++)
                if (logits[j] > logits[cls]) cls = j;
    }
    if (K == 2) { /* the run's formula (experiments/model/train.c, score): the same bits */
        const double z0 = logits[0], z1 = logits[1];
        *prob = cls == 1 ? 1.0 / (1.0 + exp(z0 - z1)) : 1.0 / (1.0 + exp(z1 - z0));
        if (cls_out) *cls_out = cls;
        free(logits);
        return 0;
    }
    double mx = -INFINITY, s = 0;
    for (int j = 0; j < K; j++) mx = fmax(mx, logits[j]);
    for (int j = 0; j < K; j++) s += exp(logits[j] - mx);
    *prob = exp(logits[cls] - mx) / s;
    if (cls_out) *cls_out = cls;
    free(logits);
    return 0;
}
