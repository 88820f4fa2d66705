/* backbone.c — the config's backbone and its weights. See backbone.h. */
#include "experiments/model/backbone.h"

#include <stdio.h>
#include <string.h>

#include "io/io_weights.h"

void exp_backbone_opts(const exp_config *cfg, nn_net_opts *o)
{
    const exp_settings *s = exp_config_get(cfg);
    *o = nn_net_opts_default();
    o->in_channels = s->backbone.in_channels;
    size_t K = s->data.n_classes;
    o->num_classes = K > 2 ? (int)K : 2;
    o->seed = s->seed;
    char desc[256];
    o->in_norm = exp_normalize_resolve(exp_normalize_name(s->preprocess.normalize), s->backbone.arch,
                                       s->backbone.weights, o->in_mean, o->in_std, desc, sizeof desc);
}

int exp_backbone_check(const exp_config *cfg, const wb_tensor_list *weights, wb_error *err)
{
    const char *arch = exp_config_get(cfg)->backbone.arch, *path = exp_config_get(cfg)->backbone.weights;
    nn_net_opts o;
    exp_backbone_opts(cfg, &o);
    int k = o.num_classes;
    if (nn_net_opts_from_weights(arch, weights, &o, err) != 0) goto fail;
    o.num_classes = k;
    nn_net *net = nn_net_create(arch, &o, err);
    if (!net) goto fail;
    nn_bind_opts bo = nn_bind_opts_default();
    int rc = nn_net_bind(net, weights, &bo, NULL, err);
    nn_net_free(net);
    if (rc == 0) return 0;
fail:
    if (!err->file[0] && path) snprintf(err->file, sizeof err->file, "%s", path);
    if (!err->key[0]) snprintf(err->key, sizeof err->key, "backbone.weights");
    return -1;
}

int exp_backbone_validate(const exp_config *cfg, wb_error *err)
{
    const exp_settings *s = exp_config_get(cfg);
    const char *path = s->backbone.weights;
    int any = 0;
    for (size_t v = 0; v < s->n_variants; v++) any |= s->variants[v].type == EXP_VARIANT_BACKBONE;
    if (!any || !path || !path[0]) return 0;
    wb_tensor_list w;
    wb_tensor_list_init(&w);
    int rc = io_weights_read(path, &w, err);
    if (rc == 0) rc = exp_backbone_check(cfg, &w, err);
    wb_tensor_list_free(&w);
    return rc;
}
