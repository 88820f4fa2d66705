/* test_real.c — the published CIFAR-10 ResNet-20 (akamaster, resnet20-12fca82f.th) read
 * through io_pth_read, bound by name (the "module." prefix stripped), against PyTorch's
 * logits on the four images make_fixtures.py made (resnet20_real.*; float64 reference).
 *
 *     test_nets_real <fixtures dir> <weights dir>
 */
#include <string.h>

#include "io_pth.h"
#include "nn.h"
#include "test_util.h"

static float *read_records(const char *dir, float **x, float **logits)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/resnet20_real.bin", dir);
    FILE *f = fopen(path, "rb");
    /* records: meta 5, x 4*3*32*32, logits_eval 4*10 (see resnet20_real.txt) */
    size_t n = 5 + 4 * 3 * 32 * 32 + 40;
    float *blob = malloc(sizeof(float) * n);
    if (!f || fread(blob, sizeof(float), n, f) != n) {
        if (f)
            fclose(f);
        free(blob);
        return NULL;
    }
    fclose(f);
    *x = blob + 5;
    *logits = blob + 5 + 4 * 3 * 32 * 32;
    return blob;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s <fixtures dir> <weights dir>\n", argv[0]);
        return 2;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/resnet20-12fca82f.th", argv[2]);
    wb_error err = {0};
    io_tensor_list w;
    io_tensor_list_init(&w);
    CHECK(io_pth_read(path, &w, &err) == 0, "%s", err.msg);
    nn_net_opts o = nn_net_opts_default();
    o.num_classes = 10;
    nn_net *net = nn_net_create("resnet20", &o, &err);
    nn_bind_report rep;
    nn_bind_report_init(&rep);
    CHECK(nn_net_bind(net, &w, NULL, &rep, &err) == 0, "bind: %s", err.msg);
    CHECK(rep.n_missing == 0 && rep.n_unexpected == 0 && rep.n_misshaped == 0,
          "report: %zu missing, %zu unexpected, %zu mis-shaped", rep.n_missing,
          rep.n_unexpected, rep.n_misshaped);
    printf("bound %zu tensors from %s\n", rep.n_bound, path);
    nn_bind_report_free(&rep);

    float *x, *ref, out[40];
    float *blob = read_records(argv[1], &x, &ref);
    CHECK(blob != NULL, "cannot read resnet20_real.bin");
    if (blob) {
        CHECK(nn_net_forward(net, x, 4, 32, 32, 0, out, &err) == 0, "%s", err.msg);
        double d = 0, m = 0;
        for (int i = 0; i < 40; i++) {
            d = fmax(d, fabs(out[i] - ref[i]));
            m = fmax(m, fabs(ref[i]));
        }
        CHECK_LE(d / m, 1e-4, "logits of the published ResNet-20");
        for (int i = 0; i < 4; i++) {
            int a = 0, b = 0;
            for (int j = 1; j < 10; j++) {
                if (out[i * 10 + j] > out[i * 10 + a])
                    a = j;
                if (ref[i * 10 + j] > ref[i * 10 + b])
                    b = j;
            }
            CHECK(a == b, "image %d: class %d vs PyTorch %d", i, a, b);
        }
        printf("published resnet20: logits rel err %.2e\n", d / m);
    }

    /* a mis-shaped head is skipped (new class count) but strict binding still names what
     * is wrong elsewhere */
    nn_net_opts o2 = o;
    o2.num_classes = 2;
    nn_net *net2 = nn_net_create("resnet20", &o2, &err);
    nn_bind_report_init(&rep);
    CHECK(nn_net_bind(net2, &w, NULL, &rep, &err) == 0, "new head: %s", err.msg);
    CHECK(rep.n_skipped == 2, "skipped %zu head tensors", rep.n_skipped);
    nn_bind_report_free(&rep);
    nn_net *net56 = nn_net_create("resnet56", &o, &err);
    nn_bind_report_init(&rep);
    CHECK(nn_net_bind(net56, &w, NULL, &rep, &err) == -1, "resnet20 weights into resnet56");
    CHECK(strstr(err.msg, "missing tensor 'layer1.3.conv1.weight'") != NULL, "message: %s",
          err.msg);
    /* resnet56 has 9 blocks per stage, resnet20 3: 3 stages x 6 blocks x 10 tensors */
    CHECK(rep.n_missing == 180, "%zu missing", rep.n_missing);
    printf("resnet56 <- resnet20 weights: %s\n", err.msg);
    nn_bind_report_free(&rep);
    nn_net_free(net56);
    nn_net_free(net2);
    free(blob);
    nn_net_free(net);
    io_tensor_list_free(&w);
    TEST_END();
}
