/* nn_mobilenet.c — MobileNet v1 as Keras builds it (keras.applications.mobilenet, 2.x):
 * layer names conv1, conv1_bn, conv_dw_<i>, conv_dw_<i>_bn, conv_pw_<i>, conv_pw_<i>_bn,
 * conv_preds; weights named "<layer>/<weight>:0" as in the .h5; kernels HWIO (depthwise
 * [kh, kw, c, 1]) in the file, OIHW here. BN eps 1e-3, Keras momentum 0.99 (= 0.01 here).
 * conv1 uses TF "same" padding (stride 2: the extra row/column at the bottom/right), the
 * stride-2 depthwise layers an explicit ZeroPadding2D(((0, 1), (0, 1))) and "valid". */
#include <stdio.h>
#include <string.h>

#include "nets/nn_internal.h"

#define MB_EPS 1e-3f
#define MB_MOM 0.01f

static int bn_keras(nn_net *net, int x, const char *layer, int c, wb_error *err)
{
    char n[4][NN_NAME_MAX];
    static const char *const w[4] = {"gamma", "beta", "moving_mean", "moving_variance"};
    for (int i = 0; i < 4; i++)
        if (snprintf(n[i], sizeof n[i], "%s/%s:0", layer, w[i]) >= (int)sizeof n[i])
            return wb_err(err, WB_E_INTERNAL, NULL, "layer name '%s' is too long", layer);
    const char *const names[4] = {n[0], n[1], n[2], n[3]};
    return nn_add_bn(net, x, layer, c, MB_EPS, MB_MOM, names, err);
}

static int conv_keras(nn_net *net, int x, const char *layer, int ic, int oc, int k, int s, int p,
                      int depthwise, wb_error *err)
{
    char wn[NN_NAME_MAX];
    if (snprintf(wn, sizeof wn, "%s/%s:0", layer, depthwise ? "depthwise_kernel" : "kernel") >=
        (int)sizeof wn)
        return wb_err(err, WB_E_INTERNAL, NULL, "layer name '%s' is too long", layer);
    int id = nn_add_conv(net, x, layer, ic, oc, k, s, p, depthwise ? ic : 1, 0, wn, NULL, err);
    if (id >= 0)
        net->tensors[net->nodes[id].t[0]].layout = depthwise ? NN_LAYOUT_HWCM : NN_LAYOUT_HWIO;
    return id;
}

nn_net *nn_net_create_mobilenet_v1(const nn_net_opts *opts, wb_error *err)
{
    nn_net_opts def = nn_net_opts_default();
    if (!opts)
        opts = &def;
    const float a = opts->width;
    if (!(a == 0.25f || a == 0.5f || a == 0.75f || a == 1.0f)) {
        wb_err(err, WB_E_USAGE, NULL, "mobilenet_v1: width must be 0.25, 0.5, 0.75 or 1, got %g",
               (double)a);
        return NULL;
    }
    if (!(opts->dropout >= 0.0f && opts->dropout < 1.0f)) {
        wb_err(err, WB_E_USAGE, NULL, "mobilenet_v1: dropout must be in [0, 1), got %g",
               (double)opts->dropout);
        return NULL;
    }
    nn_net *net = nn_net_alloc("mobilenet_v1", opts, err);
    if (!net)
        return NULL;
    static const int pw[13] = {64, 128, 128, 256, 256, 512, 512, 512, 512, 512, 512, 1024, 1024};
    static const int st[13] = {1, 2, 1, 2, 1, 2, 1, 1, 1, 1, 1, 2, 1};
    int x, c = (int)(32 * a);
    char name[NN_NAME_MAX];
    if (nn_net_begin_stage(net, "stem", err) != 0)
        goto fail;
    /* conv1: Conv2D(3, strides=2, padding="same"): TF pads (total / 2, total - total / 2) */
    if ((x = nn_add_simple(net, NN_OP_PAD, 0, "conv1_same_pad", err)) < 0)
        goto fail;
    net->nodes[x].kh = net->nodes[x].kw = 3;
    net->nodes[x].sh = net->nodes[x].sw = 2;
    if ((x = conv_keras(net, x, "conv1", opts->in_channels, c, 3, 2, 0, 0, err)) < 0)
        goto fail;
    net->tensors[net->nodes[x].t[0]].is_first_conv = 1;
    if ((x = bn_keras(net, x, "conv1_bn", c, err)) < 0 ||
        (x = nn_add_simple(net, NN_OP_RELU6, x, "conv1_relu", err)) < 0)
        goto fail;
    nn_net_end_stage(net);
    for (int b = 1; b <= 13; b++) {
        snprintf(name, sizeof name, "block%d", b);
        if (nn_net_begin_stage(net, name, err) != 0)
            goto fail;
        int s = st[b - 1], oc = (int)(pw[b - 1] * a);
        snprintf(name, sizeof name, "conv_dw_%d", b);
        if ((x = conv_keras(net, x, name, c, c, 3, s, s == 1 ? 1 : 0, 1, err)) < 0)
            goto fail;
        /* stride 2: Keras's ZeroPadding2D(((0, 1), (0, 1))) then "valid", as the conv's own
         * bottom row and right column of zeros (the depthwise kernels test every tap against
         * the input, so no padded copy of the map is made; the same bits) */
        if (s == 2)
            net->nodes[x].pb = net->nodes[x].pr = 1;
        snprintf(name, sizeof name, "conv_dw_%d_bn", b);
        if ((x = bn_keras(net, x, name, c, err)) < 0)
            goto fail;
        snprintf(name, sizeof name, "conv_dw_%d_relu", b);
        if ((x = nn_add_simple(net, NN_OP_RELU6, x, name, err)) < 0)
            goto fail;
        snprintf(name, sizeof name, "conv_pw_%d", b);
        if ((x = conv_keras(net, x, name, c, oc, 1, 1, 0, 0, err)) < 0)
            goto fail;
        snprintf(name, sizeof name, "conv_pw_%d_bn", b);
        if ((x = bn_keras(net, x, name, oc, err)) < 0)
            goto fail;
        snprintf(name, sizeof name, "conv_pw_%d_relu", b);
        if ((x = nn_add_simple(net, NN_OP_RELU6, x, name, err)) < 0)
            goto fail;
        c = oc;
        nn_net_end_stage(net);
    }
    if (nn_net_begin_stage(net, "head", err) != 0 ||
        (x = nn_add_simple(net, NN_OP_GAP, x, "global_average_pooling2d", err)) < 0)
        goto fail;
    net->feature_node = x;
    if ((x = nn_add_simple(net, NN_OP_DROPOUT, x, "dropout", err)) < 0)
        goto fail;
    net->nodes[x].p = opts->dropout;
    if ((x = nn_add_conv(net, x, "conv_preds", c, opts->num_classes, 1, 1, 0, 1, 1,
                         "conv_preds/kernel:0", "conv_preds/bias:0", err)) < 0)
        goto fail;
    net->tensors[net->nodes[x].t[0]].layout = NN_LAYOUT_HWIO;
    net->tensors[net->nodes[x].t[0]].is_head = 1;
    net->tensors[net->nodes[x].t[1]].is_head = 1;
    nn_net_end_stage(net);
    if (nn_net_finish(net, err) != 0)
        goto fail;
    return net;
fail:
    nn_net_free(net);
    return NULL;
}
