/* test_mobilenet.c — Keras MobileNet v1 (width 0.25, ImageNet weights read through io_weights
 * from ../shared/weights/mobilenet_v1_0.25_224.h5) against an independent float64 NumPy
 * forward pass (inputs and logits in fixtures/mobilenet_v1.*, made by make_fixtures.py), on an
 * even-sized and an odd-sized batch (TF "same" padding differs between them). Also: binding
 * HWIO kernels and exporting them back gives the file's tensors bit for bit.
 *
 *     test_nets_mobilenet <fixtures dir> <weights dir>
 */
#include <string.h>

#include "base/wb_tensor.h"
#include "io/io_weights.h"
#include "nets/nn.h"
#include "test_util.h"

typedef struct {
    char name[200];
    size_t n;
    float *v;
} rec;

static rec *load(const char *dir, size_t *nrec, float **blob)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/mobilenet_v1.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    rec *r = NULL;
    size_t n = 0, cap = 0, total = 0;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (n == cap)
            r = realloc(r, sizeof *r * (cap = cap ? 2 * cap : 256));
        if (sscanf(line, "%199s %zu", r[n].name, &r[n].n) == 2)
            total += r[n++].n;
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/mobilenet_v1.bin", dir);
    f = fopen(path, "rb");
    *blob = malloc(sizeof(float) * total);
    if (!f || fread(*blob, sizeof(float), total, f) != total) {
        if (f)
            fclose(f);
        free(r);
        free(*blob);
        return NULL;
    }
    fclose(f);
    size_t off = 0;
    for (size_t i = 0; i < n; i++, off += r[i - 1].n)
        r[i].v = *blob + off;
    *nrec = n;
    return r;
}

static const rec *find(const rec *r, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].name, name) == 0)
            return &r[i];
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    nn_set_threads(1);
    size_t nr = 0;
    float *blob = NULL;
    rec *r = load(argv[1], &nr, &blob);
    CHECK(r != NULL, "cannot read the mobilenet fixture");
    if (!r)
        TEST_END();
    wb_error err = {0};
    wb_tensor_list w;
    wb_tensor_list_init(&w);
    char h5[1024];
    snprintf(h5, sizeof h5, "%s/mobilenet_v1_0.25_224.h5", argv[2]);
    if (io_weights_read(h5, &w, &err) != 0) {
        fprintf(stderr, "%s: %s (the Keras MobileNet v1 0.25 ImageNet weights, kept in "
                        "../shared/weights beside the repository)\n", h5, err.msg);
        CHECK(0, "cannot read %s", h5);
        TEST_END();
    }
    nn_net_opts o = nn_net_opts_default();
    o.width = 0.25f;
    nn_net *net = nn_net_create("mobilenet_v1", &o, &err);
    CHECK(net != NULL, "%s", err.msg);
    nn_bind_report rep;
    nn_bind_report_init(&rep);
    CHECK(nn_net_bind(net, &w, NULL, &rep, &err) == 0, "bind: %s", err.msg);
    CHECK(rep.n_bound == 137 && nn_net_num_tensors(net) == 137, "bound %zu of %zu", rep.n_bound,
          nn_net_num_tensors(net));
    nn_bind_report_free(&rep);
    CHECK(nn_net_num_params(net, -1, 0) == 470072, "params %zu (Keras: 470,072 trainable)",
          nn_net_num_params(net, -1, 0));
    for (int b = 0; b < 2; b++) {
        char key[32];
        snprintf(key, sizeof key, "meta%d", b);
        const float *m = find(r, nr, key)->v;
        int n = (int)m[0], h = (int)m[2], wd = (int)m[3];
        snprintf(key, sizeof key, "x%d", b);
        const float *x = find(r, nr, key)->v;
        snprintf(key, sizeof key, "logits%d", b);
        const float *ref = find(r, nr, key)->v;
        float *out = malloc(sizeof(float) * (size_t)n * 1000);
        CHECK(nn_net_forward(net, x, n, h, wd, 0, out, &err) == 0, "%s", err.msg);
        double d = 0, mx = 0;
        for (int i = 0; i < n * 1000; i++) {
            d = fmax(d, fabs(out[i] - ref[i]));
            mx = fmax(mx, fabs(ref[i]));
        }
        CHECK_LE(d / mx, 1e-4, "mobilenet logits %dx%dx%d", n, h, wd);
        printf("mobilenet_v1 0.25 %dx3x%dx%d: logits rel err %.2e\n", n, h, wd, d / mx);
        free(out);
    }
    /* training forward + backward runs (dropout, depthwise, ReLU6, pad) and exports back */
    {
        const float *x = find(r, nr, "x1")->v;
        float out[1000], dl[1000];
        int lab = 3;
        double loss;
        CHECK(nn_net_forward(net, x, 1, 65, 71, 1, out, &err) == 0, "%s", err.msg);
        nn_loss_softmax_ce(out, &lab, NULL, 1, 1000, &loss, dl, &err);
        CHECK(nn_net_backward(net, dl, &err) == 0, "%s", err.msg);
        wb_tensor_list g;
        wb_tensor_list_init(&g);
        CHECK(nn_net_export_grads(net, &g, &err) == 0, "%s", err.msg);
        const wb_tensor *gk = wb_tensor_list_find(&g, "conv_dw_3/depthwise_kernel:0");
        CHECK(gk && gk->ndim == 4 && gk->shape[0] == 3 && gk->shape[3] == 1,
              "depthwise grad exported HWCM");
        wb_tensor_list_free(&g);
    }
    wb_tensor_list e;
    wb_tensor_list_init(&e);
    nn_net_free(net);
    net = nn_net_create("mobilenet_v1", &o, &err);
    nn_net_bind(net, &w, NULL, NULL, &err);
    CHECK(nn_net_export(net, &e, &err) == 0, "%s", err.msg);
    size_t same = 0;
    for (size_t i = 0; i < e.n; i++) {
        /* export names carry TensorFlow's ":0"; io_h5 names "<layer>/<weight>" without it */
        char key[220];
        snprintf(key, sizeof key, "%s", e.items[i].name);
        char *colon = strrchr(key, ':');
        if (colon)
            *colon = '\0';
        const wb_tensor *t = wb_tensor_list_find(&w, key);
        if (t && wb_tensor_numel(t) == wb_tensor_numel(&e.items[i]) &&
            memcmp(t->data, e.items[i].data, sizeof(float) * wb_tensor_numel(t)) == 0)
            same++;
    }
    CHECK(same == 137, "export gives the file's tensors back: %zu of 137", same);
    wb_tensor_list_free(&e);
    wb_tensor_list_free(&w);
    nn_net_free(net);
    free(r);
    free(blob);
    TEST_END();
}
