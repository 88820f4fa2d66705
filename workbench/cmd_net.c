/* workbench net info|forward|grad — inspect a backbone and check it against PyTorch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workbench/cli.h"
#include "io/io_npy.h"
#include "io/io_safetensors.h"
#include "base/wb_tensor.h"
#include "io/io_weights.h"
#include "nets/nn.h"

typedef struct net_args {
    const char *arch, *weights, *input, *labels, *output, *unfreeze, *bn;
    long in_channels, classes, threads, h, w;
    int features;
} net_args;

static int parse(int argc, char **argv, net_args *a, wb_error *err)
{
    memset(a, 0, sizeof *a);
    a->unfreeze = "none";
    a->bn = "frozen";
    a->threads = 1;
    a->h = a->w = 224;
    int bad = 0;
    const char *v;
    for (int i = 2; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--arch", &v, &bad, err)) a->arch = v;
        else if (cli_opt(argc, argv, &i, "--weights", &v, &bad, err)) a->weights = v;
        else if (cli_opt(argc, argv, &i, "--input", &v, &bad, err)) a->input = v;
        else if (cli_opt(argc, argv, &i, "--labels", &v, &bad, err)) a->labels = v;
        else if (cli_opt(argc, argv, &i, "--output", &v, &bad, err)) a->output = v;
        else if (cli_opt(argc, argv, &i, "--unfreeze", &v, &bad, err)) a->unfreeze = v;
        else if (cli_opt(argc, argv, &i, "--bn", &v, &bad, err)) a->bn = v;
        else if (cli_opt(argc, argv, &i, "--in-channels", &v, &bad, err)) {
            if (!bad && cli_parse_int("--in-channels", v, 1, 3, &a->in_channels, err)) return -1;
        } else if (cli_opt(argc, argv, &i, "--classes", &v, &bad, err)) {
            if (!bad && cli_parse_int("--classes", v, 1, 100000, &a->classes, err)) return -1;
        } else if (cli_opt(argc, argv, &i, "--threads", &v, &bad, err)) {
            if (!bad && cli_parse_int("--threads", v, 1, 256, &a->threads, err)) return -1;
        } else if (cli_opt(argc, argv, &i, "--input-size", &v, &bad, err)) {
            int h = 0, w = 0;
            char tail;
            if (!bad && (sscanf(v, "%dx%d%c", &h, &w, &tail) != 2 || h < 1 || w < 1 || h > 8192 || w > 8192))
                return wb_err(err, WB_E_USAGE, NULL, "--input-size: expected HxW, got '%s'", v);
            a->h = h;
            a->w = w;
        } else if (!strcmp(argv[i], "--features")) a->features = 1;
        else return wb_err(err, WB_E_USAGE, NULL, "net %s: unknown argument '%s'", argv[1], argv[i]);
        if (bad) return -1;
    }
    if (!a->arch) return wb_err(err, WB_E_USAGE, NULL, "net %s: --arch is required", argv[1]);
    if (strcmp(a->bn, "frozen") && strcmp(a->bn, "train"))
        return wb_err(err, WB_E_USAGE, NULL, "--bn: expected 'frozen' or 'train', got '%s'", a->bn);
    return 0;
}

/* Creates the network with the given (or the weights') class count and binds the weights. */
static nn_net *make_net(const net_args *a, int in_channels, wb_error *err)
{
    wb_tensor_list w;
    wb_tensor_list_init(&w);
    if (a->weights && io_weights_read(a->weights, &w, err) != 0) return NULL;
    nn_net_opts o = nn_net_opts_default();
    o.in_channels = in_channels;
    /* the MobileNet width and the head's class count (1000 if the file has none) */
    if (a->weights && nn_net_opts_from_weights(a->arch, &w, &o, err) != 0) {
        if (!err->file[0]) snprintf(err->file, sizeof err->file, "%s", a->weights);
        wb_tensor_list_free(&w);
        return NULL;
    }
    if (a->classes) o.num_classes = (int)a->classes;
    nn_net *net = nn_net_create(a->arch, &o, err);
    if (net && a->weights) {
        nn_bind_opts bo = nn_bind_opts_default();
        nn_bind_report rep;
        nn_bind_report_init(&rep);
        if (nn_net_bind(net, &w, &bo, &rep, err) != 0) {
            if (!err->file[0]) snprintf(err->file, sizeof err->file, "%s", a->weights);
            nn_net_free(net);
            net = NULL;
        } else {
            fprintf(stderr, "workbench: net: bound %zu tensors from %s", rep.n_bound, a->weights);
            if (rep.n_skipped) fprintf(stderr, " (%zu head tensors left at their seeded init: class count differs)", rep.n_skipped);
            fputc('\n', stderr);
        }
        nn_bind_report_free(&rep);
    }
    wb_tensor_list_free(&w);
    return net;
}

static int read_input(const char *path, wb_tensor *x, wb_error *err)
{
    if (!path) return wb_err(err, WB_E_USAGE, NULL, "--input X.npy is required");
    if (io_npy_read(path, x, err) != 0) return -1;
    if (x->ndim != 4 || x->shape[0] < 1 || x->shape[1] < 1 || x->shape[1] > 3) {
        wb_tensor_free(x);
        return wb_err(err, WB_E_DATA, path, "expected a float32 NCHW array with 1 to 3 channels");
    }
    return 0;
}

static int cmd_info(const net_args *a, wb_error *err)
{
    nn_net *net = make_net(a, (int)(a->in_channels ? a->in_channels : 3), err);
    if (!net) return -1;
    if (nn_net_unfreeze(net, a->unfreeze, strcmp(a->bn, "train") ? NN_BN_FROZEN : NN_BN_TRAIN, 1, err)) {
        nn_net_free(net);
        return -1;
    }
    double flops = nn_net_flops(net, (int)a->h, (int)a->w, err);
    printf("arch %s, %d input channel(s), %d classes, feature dim %d\n", nn_net_arch(net),
           nn_net_in_channels(net), nn_net_num_classes(net), nn_net_feature_dim(net));
    printf("%-10s %14s %14s\n", "stage", "parameters", "trainable");
    for (int s = 0; s < nn_net_num_stages(net); s++)
        printf("%-10s %14zu %14zu\n", nn_net_stage_name(net, s), nn_net_num_params(net, s, 0),
               nn_net_num_params(net, s, 1));
    printf("%-10s %14zu %14zu   (unfreeze %s, bn %s)\n", "total", nn_net_num_params(net, -1, 0),
           nn_net_num_params(net, -1, 1), a->unfreeze, a->bn);
    if (flops > 0) printf("forward FLOPs at %ldx%ld: %.4g G\n", a->h, a->w, flops / 1e9);
    nn_net_free(net);
    return 0;
}

static int cmd_forward(const net_args *a, wb_error *err)
{
    if (!a->output) return wb_err(err, WB_E_USAGE, NULL, "--output Y.npy is required");
    wb_tensor x;
    if (read_input(a->input, &x, err)) return -1;
    int n = (int)x.shape[0], c = (int)x.shape[1], h = (int)x.shape[2], w = (int)x.shape[3];
    nn_net *net = make_net(a, c, err);
    int rc = -1;
    float *out = NULL;
    if (!net) goto done;
    int k = a->features ? nn_net_feature_dim(net) : nn_net_num_classes(net);
    out = malloc((size_t)n * (size_t)k * sizeof *out);
    if (!out) {
        wb_err(err, WB_E_NOMEM, a->input, "out of memory");
        goto done;
    }
    if ((a->features ? nn_net_features(net, x.data, n, h, w, out, err)
                     : nn_net_forward(net, x.data, n, h, w, 0, out, err)) != 0)
        goto done;
    wb_tensor y = {.name = (char *)"y", .ndim = 2, .shape = {n, k}, .file_dtype = WB_DT_F32, .data = out};
    rc = io_npy_write(a->output, &y, err);
    if (rc == 0) fprintf(stderr, "workbench: net: wrote %s [%d, %d]\n", a->output, n, k);
done:
    free(out);
    nn_net_free(net);
    wb_tensor_free(&x);
    return rc;
}

static int cmd_grad(const net_args *a, wb_error *err)
{
    if (!a->output) return wb_err(err, WB_E_USAGE, NULL, "--output G.safetensors is required");
    if (!a->labels) return wb_err(err, WB_E_USAGE, NULL, "--labels T.npy is required");
    wb_tensor x, t;
    memset(&t, 0, sizeof t);
    if (read_input(a->input, &x, err)) return -1;
    int n = (int)x.shape[0], c = (int)x.shape[1], h = (int)x.shape[2], w = (int)x.shape[3];
    nn_net *net = NULL;
    float *logits = NULL, *dlogits = NULL;
    int *labels = NULL, rc = -1;
    wb_tensor_list g;
    wb_tensor_list_init(&g);
    if (io_npy_read(a->labels, &t, err)) goto done;
    if (wb_tensor_numel(&t) != (size_t)n) {
        wb_err(err, WB_E_DATA, a->labels, "has %zu labels for %d images", wb_tensor_numel(&t), n);
        goto done;
    }
    if (!(net = make_net(a, c, err))) goto done;
    int k = nn_net_num_classes(net);
    labels = malloc((size_t)n * sizeof *labels);
    logits = malloc((size_t)n * k * sizeof *logits);
    dlogits = malloc((size_t)n * k * sizeof *dlogits);
    if (!labels || !logits || !dlogits) {
        wb_err(err, WB_E_NOMEM, a->input, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) labels[i] = (int)t.data[i];
    double loss;
    if (nn_net_unfreeze(net, a->unfreeze, strcmp(a->bn, "train") ? NN_BN_FROZEN : NN_BN_TRAIN, 1, err) ||
        nn_net_forward(net, x.data, n, h, w, 1, logits, err) ||
        nn_loss_softmax_ce(logits, labels, NULL, n, k, &loss, dlogits, err) ||
        nn_net_backward(net, dlogits, err) || nn_net_export_grads(net, &g, err)) {
        if (!err->file[0]) snprintf(err->file, sizeof err->file, "%s", a->labels);
        goto done;
    }
    char loss_s[64];
    snprintf(loss_s, sizeof loss_s, "%.9g", loss);
    const char *meta[] = {"loss", loss_s, "arch", a->arch, "unfreeze", a->unfreeze, "bn", a->bn};
    if ((rc = io_safetensors_write(a->output, &g, meta, 4, err)) == 0)
        printf("loss %.9g\n%zu gradient tensors written to %s\n", loss, g.n, a->output);
done:
    wb_tensor_list_free(&g);
    free(labels);
    free(logits);
    free(dlogits);
    nn_net_free(net);
    wb_tensor_free(&x);
    wb_tensor_free(&t);
    return rc;
}

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    net_args a;
    if (argc < 2 || (strcmp(argv[1], "info") && strcmp(argv[1], "forward") && strcmp(argv[1], "grad"))) {
        wb_err(&err, WB_E_USAGE, NULL, "net: expected info, forward or grad");
        fprintf(stderr, "(see workbench net --help)\n");
        return cli_fail(&err);
    }
    if (parse(argc, argv, &a, &err)) {
        fprintf(stderr, "(see workbench net --help)\n");
        return cli_fail(&err);
    }
    nn_set_threads((int)a.threads);
    int rc = !strcmp(argv[1], "info") ? cmd_info(&a, &err)
             : !strcmp(argv[1], "forward") ? cmd_forward(&a, &err) : cmd_grad(&a, &err);
    return rc ? cli_fail(&err) : WB_EXIT_OK;
}

const wb_command wb_cmd_net = {
    "net", run, "inspect a backbone, run it, check it against PyTorch",
    "usage: workbench net info    --arch A [--weights W] [--in-channels C] [--classes K]\n"
    "                             [--input-size HxW] [--unfreeze S] [--bn frozen|train]\n"
    "       workbench net forward --arch A --weights W --input X.npy --output Y.npy [--features]\n"
    "       workbench net grad    --arch A --weights W --input X.npy --labels T.npy\n"
    "                             --unfreeze S --bn frozen|train --output G.safetensors\n"
    "\n"
    "Architectures: resnet18 resnet34 resnet50 (torchvision), resnet20 resnet32 resnet44\n"
    "resnet56 (CIFAR, option A), mobilenet_v1 (Keras). Weights: torchvision .pth, legacy .th,\n"
    "safetensors, Keras .h5, bound by parameter name (strict: missing, unexpected and\n"
    "mis-shaped tensors are errors; the head is left at its seeded init when --classes\n"
    "differs from the file's). What the file decides is read from it: the MobileNet width\n"
    "(conv1's filters / 32) and the class count of its head (default 1000 without weights).\n"
    "One input channel sums conv1's weights over RGB; the input is fed as given (no\n"
    "normalisation), except for weights a run exported with conv1.input_offset\n"
    "(preprocess.normalize: auto), which take inputs in [0, 1] as the run did.\n"
    "\n"
    "  info      stages, parameters per stage, trainable parameters for --unfreeze, FLOPs\n"
    "  forward   inference; X is float32 NCHW; writes logits [N, K] (or pooled features)\n"
    "  grad      mean cross-entropy of the labels (integers in T.npy); writes the gradient of\n"
    "            every trainable parameter under its framework name, the loss in metadata\n"
    "\n"
    "  --unfreeze S   none (head only), all, or stages: layer3,layer4\n"
    "  --threads N    OpenBLAS threads (default 1)\n"};
