/* bench_nets.c — the engine's side of bench/run.sh: forward and training-step throughput of
 * a backbone at one input shape, and the machine's sgemm peak, on a given thread count.
 *
 *     bench_nets --threads 2 --config resnet18:3x224 [--quick] [--rows fwd1,fwd,head,layer4,all]
 *     bench_nets --threads 2 --config mobilenet_v1@0.25:1x224   (ARCH[@WIDTH]:C x H [x W])
 *     bench_nets --threads 2 --peak
 *     bench_nets --threads 2 --conv IC,OC,H,W,S[,K[,dw]] [--batch B]
 *     bench_nets --threads 2 --config resnet20:1x96x72 --infer [--from STAGE] [--images N]
 *
 * Prints one tab-separated line per row on stdout (the fields of bench_torch.py's ROW_FIELDS:
 * who model input mode batch img_s gflops mem_mb maxrss_mb reps). Rows: fwd1 = inference at
 * batch 1, fwd = inference at --batch, head / layer4 / all = an SGD training step (training
 * forward, cross-entropy, backward, momentum update) with the head only, the last stage and
 * the head, or everything trainable; BN trains in trained stages and is frozen elsewhere, as
 * bench_torch.py sets PyTorch's train()/eval(). GFLOP/s counts 2 x multiply-adds of conv and
 * linear layers (forward, plus dW of trained layers and dx where it is needed). mem_mb is the
 * engine's own memory: arena + parameters and buffers (+ gradients and momentum of what
 * trains); maxrss_mb is the process's peak RSS so far (rows run in order of growing memory).
 * Each row: a warm-up of at least WARM_S (0.3 s), then the best of up to 3 repetitions
 * (stopping after 2 s; --quick: one). Not a test: nothing here asserts on time.
 *
 * --conv times one 3x3 convolution (padding 1, stride S, batch B; or with a sixth field K = 1 a
 * 1x1 stride-1 one, whose direct forward and dx are nn_conv_pw_*; or with a seventh field "dw",
 * IC = OC, a depthwise one, nn_conv_dw_*, which has no GEMM path: both columns time its
 * kernel) through im2col + GEMM and
 * through the direct kernels, each pass apart (forward, dx, dW; best of 5 after a warm-up;
 * all passes first run for WARM_S so that the first one timed is not read cold),
 * and prints "conv IC OC HxW sS pass gemm_ms direct_ms GFLOP/s-direct auto:KERNEL auto_ms
 * GFLOP/s-auto" lines: the data behind nn_conv_direct_use's rule, then what the engine's rules
 * run (KERNEL wino, direct, pw or gemm; "direct" above includes Winograd for fwd and dx, as forcing
 * the direct algorithm keeps it, and excludes it for dW). GFLOP/s count the direct conv's
 * multiply-adds (Winograd's are "effective").
 *
 * --infer times the inference passes of the experiments (experiments/model/train.c) over N
 * images (default 128) in batches of 1, 2, 4, 8, 16, 32 and 64: "feat" the pooled features (the
 * frozen-feature cache), "fwd" the whole network (scoring), and with --from STAGE (the first
 * stage that trains) "pre" the frozen prefix and "post" the rest from the prefix (a fine-tuned
 * variant's cached scoring). Lines "infer MODEL INPUT PASS BATCH img/s" (best of 3 after a
 * warm-up; --quick: one), then "rule MODEL INPUT B P" with nn_net_infer_batch's choice for the
 * whole network (feat, fwd, pre) and from the prefix (post), before the experiments cap it by
 * train.batch_size: the data behind that rule.
 */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "nets/nn.h"
#include "nets/nn_internal.h"

#define WARM_S 0.3 /* seconds of warm-up per row (run_row) and before --conv's passes */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double maxrss_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0; /* KiB on Linux */
}

static float frand(unsigned long long *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (float)((*s >> 40) & 0xFFFFFF) / 16777216.0f * 2.0f - 1.0f;
}

/* Best GFLOP/s of an m = n = k = 2048 sgemm on the current OpenBLAS thread count. */
static double sgemm_peak(int quick)
{
    const int d = 2048;
    float *a = malloc(sizeof(float) * d * d), *b = malloc(sizeof(float) * d * d),
          *c = malloc(sizeof(float) * d * d);
    if (!a || !b || !c) {
        free(a), free(b), free(c);
        return 0.0;
    }
    unsigned long long s = 1;
    for (size_t i = 0; i < (size_t)d * d; i++) {
        a[i] = frand(&s);
        b[i] = frand(&s);
    }
    double best = 1e30;
    for (int r = 0; r < (quick ? 3 : 6); r++) {
        double t0 = now();
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0f, a, d, b, d, 0.0f,
                    c, d);
        double dt = now() - t0;
        if (r > 0 && dt < best)
            best = dt;
    }
    free(a), free(b), free(c);
    return 2.0 * d * d * (double)d / best / 1e9;
}

/* Best of 5 (after one warm-up) of one conv pass, in seconds. */
static double conv_time(const nn_conv_geom *g, int pass, const float *x, const float *w,
                        float *y, float *dy, float *dx, float *dw, float *col, float *dcol)
{
    double best = 1e30;
    for (int r = 0; r < 6; r++) {
        double t0 = now();
        if (pass == 0)
            nn_conv2d_forward(g, x, w, NULL, y, col);
        else
            nn_conv2d_backward(g, x, w, dy, pass == 1 ? dx : NULL, pass == 2 ? dw : NULL, NULL,
                               col, dcol);
        double dt = now() - t0;
        if (r > 0 && dt < best)
            best = dt;
    }
    return best;
}

static int conv_bench(const char *spec, int batch)
{
    int ic, oc, h, w, s, k = 3, used_chars = 0;
    const int got = sscanf(spec, "%d,%d,%d,%d,%d,%d%n", &ic, &oc, &h, &w, &s, &k, &used_chars);
    /* a seventh field "dw": a depthwise 3x3 conv (groups = channels, IC = OC) */
    const int dw_conv = got == 6 && !strcmp(spec + used_chars, ",dw");
    if ((got != 5 && got != 6) || (got == 6 && spec[used_chars] && !dw_conv) || ic < 1 ||
        oc < 1 || h < 3 || w < 3 || s < 1 || s > 2 || (k != 1 && k != 3) ||
        (k == 1 && s != 1) || (dw_conv && (k != 3 || ic != oc)))
        return -1;
    const int pad = k / 2; /* 3x3: padding 1; 1x1 (stride 1): none */
    nn_conv_geom g = {batch, ic, h, w, oc, k, k, s, s, pad, pad, dw_conv ? ic : 1, 0, 0, 0};
    g.oh = (h + 2 * pad - k) / s + 1;
    g.ow = (w + 2 * pad - k) / s + 1;
    g.batch = nn_conv2d_batch_wanted(&g);
    const size_t nx = (size_t)batch * ic * h * w, ny = (size_t)batch * oc * g.oh * g.ow;
    const size_t nw = (size_t)oc * (ic / g.groups) * k * k, cs = nn_conv2d_col_size(&g) + 1;
    float *x = malloc(sizeof(float) * nx), *dx = malloc(sizeof(float) * nx);
    float *y = malloc(sizeof(float) * ny), *dy = malloc(sizeof(float) * ny);
    float *wt = malloc(sizeof(float) * nw), *dw = malloc(sizeof(float) * nw);
    float *col = malloc(sizeof(float) * cs), *dcol = malloc(sizeof(float) * cs);
    int rc = -1;
    if (!x || !dx || !y || !dy || !wt || !dw || !col || !dcol)
        goto out;
    unsigned long long r = 3;
    for (size_t i = 0; i < nx; i++)
        x[i] = frand(&r), dx[i] = 0.0f;
    for (size_t i = 0; i < ny; i++)
        dy[i] = frand(&r);
    for (size_t i = 0; i < nw; i++)
        wt[i] = frand(&r), dw[i] = 0.0f;
    static const char *names[3] = {"fwd", "dx", "dw"};
    const double flops = 2.0 * (double)ny * (ic / g.groups) * k * k;
    /* Warm-up of WARM_S before the first timed pass, as in run_row (OpenBLAS's idle thread
     * spins for the process's first ~0.1 s): without it the first pass timed (the GEMM
     * forward) read up to twice its steady time. */
    for (double t0 = now(); now() - t0 < WARM_S;)
        for (int pass = 0; pass < 3; pass++)
            conv_time(&g, pass, x, wt, y, dy, dx, dw, col, dcol);
    for (int pass = 0; pass < 3; pass++) {
        nn_conv_set_algo(NN_CONV_GEMM);
        double tg = conv_time(&g, pass, x, wt, y, dy, dx, dw, col, dcol);
        nn_conv_set_algo(NN_CONV_DIRECT);
        const int pw = k == 1 && ((pass == NN_PASS_FWD && nn_conv_pw_use(&g)) ||
                                  (pass == NN_PASS_DX && nn_conv_pw_use_dx(&g)));
        int used = dw_conv ? nn_conv_dw_use(&g) : k == 1 ? pw : nn_conv_direct_use(&g, pass);
        double td = used ? conv_time(&g, pass, x, wt, y, dy, dx, dw, col, dcol) : 0.0;
        nn_conv_set_algo(NN_CONV_AUTO);
        /* what the engine runs (the rules): Winograd where nn_conv_wino_use says so (forced
         * DIRECT above keeps dW's Winograd off), else direct or GEMM */
        const char *kind = dw_conv && nn_conv_dw_use(&g)              ? "dw"
                           : nn_conv_wino_use(&g, pass)               ? "wino"
                           : nn_conv_direct_use(&g, pass)             ? "direct"
                           : k == 1 && ((pass == NN_PASS_FWD && nn_conv_pw_use(&g)) ||
                                        (pass == NN_PASS_DX && nn_conv_pw_use_dx(&g)))
                               ? "pw"
                               : "gemm";
        double ta = conv_time(&g, pass, x, wt, y, dy, dx, dw, col, dcol);
        printf("conv\t%d\t%d\t%dx%d\ts%d\t%s\t%.3f\t%s\t%.3f\t%.1f\tauto:%s\t%.3f\t%.1f\n", ic, oc, h, w, s,
               names[pass], 1e3 * tg, used ? "" : "-", used ? 1e3 * td : 0.0,
               used ? flops / td / 1e9 : 0.0, kind, 1e3 * ta, flops / ta / 1e9);
    }
    fflush(stdout);
    rc = 0;
out:
    free(x), free(dx), free(y), free(dy), free(wt), free(dw), free(col), free(dcol);
    return rc;
}

typedef struct row_ctx {
    nn_net *net;
    nn_opt *opt;
    float *x, *logits, *dlogits;
    int *labels;
    int n, h, w, k, train;
} row_ctx;

static int step(row_ctx *c, wb_error *err)
{
    if (nn_net_forward(c->net, c->x, c->n, c->h, c->w, c->train, c->logits, err))
        return -1;
    if (!c->train)
        return 0;
    double loss;
    if (nn_loss_softmax_ce(c->logits, c->labels, NULL, c->n, c->k, &loss, c->dlogits, err) ||
        nn_net_backward(c->net, c->dlogits, err) || nn_opt_step(c->opt, -1.0f, NULL, err))
        return -1;
    return 0;
}

/* Inference of n images in batches of b through one pass (see --infer); seconds. */
static double infer_time(nn_net *net, int pass, const float *x, size_t in_len, const float *pre,
                         size_t pre_len, int n, int b, int h, int w, float *out, wb_error *err)
{
    double t0 = now();
    for (int s = 0; s < n; s += b) {
        const int m = n - s < b ? n - s : b;
        int rc = pass == 0   ? nn_net_features(net, x + (size_t)s * in_len, m, h, w, out, err)
                 : pass == 1 ? nn_net_forward(net, x + (size_t)s * in_len, m, h, w, 0, out, err)
                 : pass == 2 ? nn_net_forward_prefix(net, x + (size_t)s * in_len, m, h, w, out, err)
                             : nn_net_forward_from_prefix(net, pre + (size_t)s * pre_len, m, h, w, 0, out, err);
        if (rc)
            return -1.0;
    }
    return now() - t0;
}

static int infer_bench(const char *arch, float width, const char *model, int in_ch, int h, int w,
                       const char *from, int n, int quick, wb_error *err)
{
    nn_net_opts o = nn_net_opts_default();
    o.in_channels = in_ch;
    o.num_classes = 2;
    o.seed = 1;
    if (width > 0.0f)
        o.width = width;
    nn_net *net = nn_net_create(arch, &o, err);
    if (!net)
        return -1;
    float *x = NULL, *pre = NULL, *out = NULL;
    int rc = -1, ps[4] = {1, 0, 0, 0};
    if (from && (nn_net_unfreeze(net, from, NN_BN_FROZEN, 1, err) || nn_net_prefix_shape(net, 1, h, w, ps, err)))
        goto done;
    const size_t in_len = (size_t)in_ch * h * w, pre_len = (size_t)ps[1] * ps[2] * ps[3];
    const size_t big = in_len > pre_len ? in_len : pre_len;
    x = malloc(sizeof(float) * in_len * (size_t)n);
    pre = from ? malloc(sizeof(float) * (pre_len ? pre_len : 1) * (size_t)n) : NULL;
    out = malloc(sizeof(float) * big * 64);
    if (!x || !out || (from && !pre)) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory for %d images", n);
        goto done;
    }
    unsigned long long s = 7;
    for (size_t i = 0; i < in_len * (size_t)n; i++)
        x[i] = frand(&s);
    static const char *names[4] = {"feat", "fwd", "pre", "post"};
    for (int pass = 0; pass < (from ? 4 : 2); pass++) {
        if (pass == 3) /* the prefixes "post" starts from */
            for (int i = 0; i < n; i += 16)
                if (nn_net_forward_prefix(net, x + (size_t)i * in_len, n - i < 16 ? n - i : 16, h, w,
                                          pre + (size_t)i * pre_len, err))
                    goto done;
        for (int b = 1; b <= 64; b *= 2) {
            double best = 1e30;
            for (int r = 0; r < (quick ? 2 : 4); r++) {
                double t = infer_time(net, pass, x, in_len, pre, pre_len, n, b, h, w, out, err);
                if (t < 0.0)
                    goto done;
                if (r > 0 && t < best)
                    best = t;
            }
            printf("infer\t%s\t%dx%dx%d\t%s\t%d\t%.1f\n", model, in_ch, h, w, names[pass], b, n / best);
            fflush(stdout);
        }
    }
    int rb = nn_net_infer_batch(net, h, w, 0, 256, err), rp = from ? nn_net_infer_batch(net, h, w, 1, 256, err) : 0;
    if (rb < 0 || rp < 0)
        goto done;
    printf("rule\t%s\t%dx%dx%d\t%d\t%d\n", model, in_ch, h, w, rb, rp); /* feat/fwd/pre, post */
    rc = 0;
done:
    nn_net_free(net);
    free(x);
    free(pre);
    free(out);
    return rc;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench_nets --threads N (--peak | --config ARCH[@WIDTH]:CxH[xW]) [--quick] "
                    "[--batch B] [--classes K] [--rows fwd1,fwd,head,layer4,all]\n"
                    "       bench_nets --threads N --conv IC,OC,H,W,S[,K[,dw]] [--batch B]\n"
                    "       bench_nets --threads N --config ARCH[@WIDTH]:CxH[xW] --infer [--from STAGE] [--images N] [--quick]\n");
}

static int run_row(const char *arch, float width, const char *model, int in_ch, int h, int w,
                   const char *row, int batch, int classes, int quick, wb_error *err)
{
    int rc = -1;
    row_ctx c;
    memset(&c, 0, sizeof c);
    nn_net_opts o = nn_net_opts_default();
    o.in_channels = in_ch;
    o.num_classes = classes;
    o.seed = 1;
    if (width > 0.0f)
        o.width = width;
    c.net = nn_net_create(arch, &o, err);
    if (!c.net)
        return -1;
    c.n = strcmp(row, "fwd1") == 0 ? 1 : batch;
    c.h = h;
    c.w = w;
    c.k = classes;
    c.train = strncmp(row, "fwd", 3) != 0;
    const char *spec = strcmp(row, "head") == 0 ? "none" : row;
    if (c.train) {
        const char *last = nn_net_stage_name(c.net, nn_net_num_stages(c.net) - 2);
        if (strcmp(row, "layer4") == 0)
            spec = last; /* the last stage before the head */
        if (nn_net_unfreeze(c.net, spec, NN_BN_TRAIN, 1, err))
            goto out;
    }
    double flops = c.train ? nn_net_train_flops(c.net, c.h, c.w, err)
                           : nn_net_flops(c.net, c.h, c.w, err);
    if (flops <= 0.0)
        goto out;
    size_t nx = (size_t)c.n * in_ch * h * w;
    c.x = malloc(sizeof(float) * nx);
    c.logits = malloc(sizeof(float) * (size_t)c.n * classes);
    c.dlogits = malloc(sizeof(float) * (size_t)c.n * classes);
    c.labels = malloc(sizeof(int) * (size_t)c.n);
    if (!c.x || !c.logits || !c.dlogits || !c.labels) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory for the batch");
        goto out;
    }
    unsigned long long s = 7;
    for (size_t i = 0; i < nx; i++)
        c.x[i] = frand(&s);
    for (int i = 0; i < c.n; i++)
        c.labels[i] = i % classes;
    if (c.train) {
        nn_opt_cfg oc = nn_opt_cfg_default(NN_OPT_SGD);
        oc.lr = 1e-3f;
        oc.momentum = 0.9f;
        c.opt = nn_opt_create(c.net, &oc, err);
        if (!c.opt)
            goto out;
    }
    const double w0 = now();
    if (step(&c, err)) /* warm-up: plans the arena */
        goto out;
    /* and runs for WARM_S: a process's first ~0.1 s runs beside the spin of OpenBLAS's own idle
     * thread (its THREAD_TIMEOUT), which took the second core from the small rows (ResNet-20
     * at 32x32: 2 threads timed as fast as 1); bench_torch.py warms up the same way */
    while (now() - w0 < WARM_S)
        if (step(&c, err))
            goto out;
    const double min_time = quick ? 0.0 : 2.0;
    const int max_reps = quick ? 1 : 3;
    double best = 1e30, total = 0.0;
    int reps = 0;
    while (reps < max_reps && (reps == 0 || total < min_time)) {
        double t0 = now();
        if (step(&c, err))
            goto out;
        double dt = now() - t0;
        total += dt;
        best = dt < best ? dt : best;
        reps++;
    }
    size_t params = nn_net_num_params(c.net, -1, 0), trainable = 0, buffers = 0;
    for (size_t i = 0; i < nn_net_num_tensors(c.net); i++) {
        nn_param_view p;
        nn_net_tensor(c.net, i, &p);
        if (p.is_buffer)
            buffers += p.numel;
    }
    if (c.train)
        trainable = nn_net_num_params(c.net, -1, 1);
    double mem = (double)nn_net_arena_bytes(c.net) +
                 4.0 * (double)(params + buffers + 2 * trainable);
    printf("ours\t%s\t%dx%dx%d\t%s\t%d\t%.3f\t%.2f\t%.0f\t%.0f\t%d\n", model, in_ch, h, w, row, c.n, c.n / best, flops * c.n / best / 1e9, mem / (1 << 20), maxrss_mb(), reps);
    fflush(stdout);
    rc = 0;
out:
    nn_opt_free(c.opt);
    nn_net_free(c.net);
    free(c.x);
    free(c.logits);
    free(c.dlogits);
    free(c.labels);
    return rc;
}

int main(int argc, char **argv)
{
    int threads = 1, quick = 0, peak = 0, batch = 16, classes = 2, infer = 0, images = 128;
    const char *config = NULL, *rows = "fwd1,fwd,head,layer4,all", *conv = NULL, *from = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc)
            threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--config") && i + 1 < argc)
            config = argv[++i];
        else if (!strcmp(argv[i], "--rows") && i + 1 < argc)
            rows = argv[++i];
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--classes") && i + 1 < argc)
            classes = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--conv") && i + 1 < argc)
            conv = argv[++i];
        else if (!strcmp(argv[i], "--infer"))
            infer = 1;
        else if (!strcmp(argv[i], "--from") && i + 1 < argc)
            from = argv[++i];
        else if (!strcmp(argv[i], "--images") && i + 1 < argc)
            images = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--quick"))
            quick = 1;
        else if (!strcmp(argv[i], "--peak"))
            peak = 1;
        else {
            usage();
            return 2;
        }
    }
    if (threads < 1 || batch < 1 || classes < 1 || images < 1 || (!peak && !config && !conv)) {
        usage();
        return 2;
    }
    if (peak) {
        /* OpenBLAS's own threads: the machine's sgemm peak on this many cores */
        openblas_set_num_threads(threads);
        double gf = sgemm_peak(quick);
        printf("peak\tsgemm\t%s\t-\t-\t-\t%.2f\t-\t%.0f\t-\n", openblas_get_corename(), gf,
               maxrss_mb());
        return 0;
    }
    if (conv) {
        nn_set_threads(threads);
        if (conv_bench(conv, batch)) {
            usage();
            return 2;
        }
        return 0;
    }
    /* ARCH[@WIDTH]:C x H [x W], e.g. resnet20:1x128, resnet18:1x96x72, mobilenet_v1@0.25:1x224 */
    char model[32], arch[32];
    int in_ch = 0, h = 0, w = 0;
    float width = 0.0f;
    const char *colon = strchr(config, ':');
    int nf = colon ? sscanf(colon + 1, "%dx%dx%d", &in_ch, &h, &w) : 0;
    if (nf == 2)
        w = h;
    if (!colon || (size_t)(colon - config) >= sizeof model || nf < 2 || in_ch < 1 || h < 1 ||
        w < 1) {
        usage();
        return 2;
    }
    nn_set_threads(threads); /* the engine's threads; OpenBLAS single-threaded inside them */
    memcpy(model, config, (size_t)(colon - config));
    model[colon - config] = '\0';
    memcpy(arch, model, sizeof arch);
    char *at = strchr(arch, '@');
    if (at) {
        *at = '\0';
        width = strtof(at + 1, NULL);
    }
    if (infer) {
        wb_error err;
        memset(&err, 0, sizeof err);
        if (infer_bench(arch, width, model, in_ch, h, w, from, images, quick, &err)) {
            fprintf(stderr, "bench_nets: %s --infer: %s\n", config, err.msg);
            return 1;
        }
        return 0;
    }
    char list[128];
    snprintf(list, sizeof list, "%s", rows);
    for (char *r = strtok(list, ","); r; r = strtok(NULL, ",")) {
        wb_error err;
        memset(&err, 0, sizeof err);
        if (run_row(arch, width, model, in_ch, h, w, r, batch, classes, quick, &err)) {
            fprintf(stderr, "bench_nets: %s %s: %s\n", config, r, err.msg);
            return 1;
        }
    }
    return 0;
}
