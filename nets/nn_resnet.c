/* nn_resnet.c — ResNets as torchvision and akamaster/pytorch_resnet_cifar10 build them,
 * with their parameter names. */
#include <stdio.h>
#include <string.h>

#include "nets/nn_internal.h"

#define BN_EPS 1e-5f
#define BN_MOM 0.1f

static int conv_bn(nn_net *net, int in, const char *conv, const char *bn, int ic, int oc, int k,
                   int s, int p, wb_error *err)
{
    int c = nn_add_conv(net, in, conv, ic, oc, k, s, p, 1, 0, NULL, NULL, err);
    if (c < 0)
        return -1;
    return nn_add_bn(net, c, bn, oc, BN_EPS, BN_MOM, NULL, err);
}

/* torchvision BasicBlock / Bottleneck, or the CIFAR BasicBlock with option-A shortcut. */
static int block(nn_net *net, nn_block_kind kind, int in, const char *pre, int inplanes,
                 int planes, int stride, wb_error *err)
{
    char a[NN_NAME_MAX], b[NN_NAME_MAX];
    int x = in, exp = kind == NN_BLOCK_BOTTLENECK ? 4 : 1;
#define NM(buf, suffix) snprintf(buf, sizeof buf, "%s.%s", pre, suffix)
    if (kind == NN_BLOCK_BOTTLENECK) {
        NM(a, "conv1"), NM(b, "bn1");
        if ((x = conv_bn(net, x, a, b, inplanes, planes, 1, 1, 0, err)) < 0)
            return -1;
        NM(a, "relu1");
        if ((x = nn_add_simple(net, NN_OP_RELU, x, a, err)) < 0)
            return -1;
        NM(a, "conv2"), NM(b, "bn2");
        if ((x = conv_bn(net, x, a, b, planes, planes, 3, stride, 1, err)) < 0)
            return -1;
        NM(a, "relu2");
        if ((x = nn_add_simple(net, NN_OP_RELU, x, a, err)) < 0)
            return -1;
        NM(a, "conv3"), NM(b, "bn3");
        if ((x = conv_bn(net, x, a, b, planes, planes * 4, 1, 1, 0, err)) < 0)
            return -1;
    } else {
        NM(a, "conv1"), NM(b, "bn1");
        if ((x = conv_bn(net, x, a, b, inplanes, planes, 3, stride, 1, err)) < 0)
            return -1;
        NM(a, "relu1");
        if ((x = nn_add_simple(net, NN_OP_RELU, x, a, err)) < 0)
            return -1;
        NM(a, "conv2"), NM(b, "bn2");
        if ((x = conv_bn(net, x, a, b, planes, planes, 3, 1, 1, err)) < 0)
            return -1;
    }
    int sc = in;
    if (stride != 1 || inplanes != planes * exp) {
        if (kind == NN_BLOCK_CIFAR) {
            /* F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, planes // 4, planes // 4)) */
            NM(a, "shortcut");
            if ((sc = nn_add_simple(net, NN_OP_SHORTCUT_A, in, a, err)) < 0)
                return -1;
            nn_node *nd = &net->nodes[sc];
            nd->sh = nd->sw = 2;
            nd->pt = nd->pb = planes / 4;
            if (inplanes + 2 * (planes / 4) != planes)
                return wb_err(err, WB_E_USAGE, NULL,
                              "%s: option-A shortcut cannot map %d to %d channels", pre,
                              inplanes, planes);
        } else {
            NM(a, "downsample.0"), NM(b, "downsample.1");
            if ((sc = conv_bn(net, in, a, b, inplanes, planes * exp, 1, stride, 0, err)) < 0)
                return -1;
        }
    }
    NM(a, "add");
    if ((x = nn_net_add_node(net, NN_OP_ADD, x, sc, a, err)) < 0)
        return -1;
    NM(a, "relu");
    return nn_add_simple(net, NN_OP_RELU, x, a, err);
#undef NM
}

static int head(nn_net *net, int x, int features, const char *name, wb_error *err)
{
    if (nn_net_begin_stage(net, "head", err) != 0)
        return -1;
    if ((x = nn_add_simple(net, NN_OP_GAP, x, "avgpool", err)) < 0)
        return -1;
    net->feature_node = x;
    int fc = nn_net_add_node(net, NN_OP_LINEAR, x, -1, name, err);
    if (fc < 0)
        return -1;
    char buf[NN_NAME_MAX];
    int k = net->opts.num_classes, wshape[2] = {k, features};
    snprintf(buf, sizeof buf, "%s.weight", name);
    long w = nn_net_add_tensor(net, fc, 0, buf, NN_T_WEIGHT, 2, wshape, err);
    snprintf(buf, sizeof buf, "%s.bias", name);
    long b = w < 0 ? -1 : nn_net_add_tensor(net, fc, 1, buf, NN_T_BIAS, 1, &k, err);
    if (b < 0)
        return -1;
    net->tensors[w].is_head = net->tensors[b].is_head = 1;
    nn_net_end_stage(net);
    return fc;
}

nn_net *nn_net_create_resnet(nn_block_kind kind, const int *blocks, int n_stages,
                             const nn_net_opts *opts, wb_error *err)
{
    const int cifar = kind == NN_BLOCK_CIFAR;
    nn_net_opts def = nn_net_opts_default();
    if (!opts)
        opts = &def;
    if (!blocks || n_stages != (cifar ? 3 : 4)) {
        wb_err(err, WB_E_USAGE, NULL, "a %s ResNet has %d stages, not %d",
               cifar ? "CIFAR" : "torchvision", cifar ? 3 : 4, n_stages);
        return NULL;
    }
    for (int s = 0; s < n_stages; s++)
        if (blocks[s] < 1 || blocks[s] > 64) {
            wb_err(err, WB_E_USAGE, NULL, "ResNet stage %d: %d blocks (1 to 64)", s + 1,
                   blocks[s]);
            return NULL;
        }
    char arch[32];
    if (cifar)
        snprintf(arch, sizeof arch, "resnet%d", 6 * blocks[0] + 2);
    else
        snprintf(arch, sizeof arch, "resnet_%s", kind == NN_BLOCK_BASIC ? "basic" : "bottleneck");
    nn_net *net = nn_net_alloc(arch, opts, err);
    if (!net)
        return NULL;
    int x = 0, inplanes, exp = kind == NN_BLOCK_BOTTLENECK ? 4 : 1;
    if (nn_net_begin_stage(net, "stem", err) != 0)
        goto fail;
    if (cifar) {
        inplanes = 16;
        if ((x = conv_bn(net, 0, "conv1", "bn1", opts->in_channels, 16, 3, 1, 1, err)) < 0)
            goto fail;
    } else {
        inplanes = 64;
        if ((x = conv_bn(net, 0, "conv1", "bn1", opts->in_channels, 64, 7, 2, 3, err)) < 0)
            goto fail;
    }
    net->tensors[net->nodes[net->nodes[x].in[0]].t[0]].is_first_conv = 1;
    if ((x = nn_add_simple(net, NN_OP_RELU, x, "relu", err)) < 0)
        goto fail;
    if (!cifar) {
        if ((x = nn_add_simple(net, NN_OP_MAXPOOL, x, "maxpool", err)) < 0)
            goto fail;
        nn_node *mp = &net->nodes[x];
        mp->kh = mp->kw = 3;
        mp->sh = mp->sw = 2;
        mp->ph = mp->pw = 1;
    }
    nn_net_end_stage(net);
    for (int s = 0; s < n_stages; s++) {
        char stage[24];
        snprintf(stage, sizeof stage, "layer%d", s + 1);
        if (nn_net_begin_stage(net, stage, err) != 0)
            goto fail;
        int planes = (cifar ? 16 : 64) << s;
        for (int i = 0; i < blocks[s]; i++) {
            char pre[48];
            snprintf(pre, sizeof pre, "%s.%d", stage, i);
            int stride = (i == 0 && s > 0) ? 2 : 1;
            if ((x = block(net, kind, x, pre, inplanes, planes, stride, err)) < 0)
                goto fail;
            inplanes = planes * exp;
        }
        nn_net_end_stage(net);
    }
    if (head(net, x, inplanes, cifar ? "linear" : "fc", err) < 0 || nn_net_finish(net, err) != 0)
        goto fail;
    return net;
fail:
    nn_net_free(net);
    return NULL;
}

nn_net *nn_net_create(const char *arch, const nn_net_opts *opts, wb_error *err)
{
    static const struct {
        const char *name;
        nn_block_kind kind;
        int blocks[4];
    } table[] = {
        {"resnet18", NN_BLOCK_BASIC, {2, 2, 2, 2}},      {"resnet34", NN_BLOCK_BASIC, {3, 4, 6, 3}},
        {"resnet50", NN_BLOCK_BOTTLENECK, {3, 4, 6, 3}}, {"resnet20", NN_BLOCK_CIFAR, {3, 3, 3, 0}},
        {"resnet32", NN_BLOCK_CIFAR, {5, 5, 5, 0}},      {"resnet44", NN_BLOCK_CIFAR, {7, 7, 7, 0}},
        {"resnet56", NN_BLOCK_CIFAR, {9, 9, 9, 0}},
    };
    nn_net_opts def = nn_net_opts_default();
    if (!opts)
        opts = &def;
    if (!arch) {
        wb_err(err, WB_E_USAGE, NULL, "no architecture given");
        return NULL;
    }
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(arch, table[i].name) == 0) {
            nn_net *net = nn_net_create_resnet(table[i].kind, table[i].blocks,
                                               table[i].kind == NN_BLOCK_CIFAR ? 3 : 4, opts, err);
            if (net)
                snprintf(net->arch, sizeof net->arch, "%s", arch);
            return net;
        }
    if (strcmp(arch, "mobilenet_v1") == 0)
        return nn_net_create_mobilenet_v1(opts, err);
    wb_err(err, WB_E_USAGE, NULL,
           "unknown architecture '%s' (resnet18, resnet34, resnet50, resnet20, resnet32, "
           "resnet44, resnet56, mobilenet_v1)",
           arch);
    return NULL;
}
