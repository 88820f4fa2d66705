/* test_real.c — the published CIFAR-10 ResNet-20 (akamaster, resnet20-12fca82f.th) read
 * through io_pth_read, bound by name (the "module." prefix stripped), against PyTorch's
 * logits on the four images make_fixtures.py made (resnet20_real.*; float64 reference), and
 * on nine real photographs of CIFAR-10 classes from Debian packages (fixtures/cifar_photos/,
 * 32x32 PPM crops made by make_cifar_photos.py; sources and licences there and in
 * docs/engine-checks.md): logits within 1e-4 of float64 PyTorch, our top-1 equal to
 * PyTorch's on every image, the true class wherever PyTorch has it, at least 7 of 9 right
 * (PyTorch: 7 of 9). Negative control: the same photos without the mean/std normalisation
 * the model was trained with lose accuracy (PyTorch: 4 of 9).
 *
 *     test_nets_real <fixtures dir> <weights dir>
 */
#include <string.h>

#include "io/io_pth.h"
#include "nets/nn.h"
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

#define NPHOTO 9
#define PHOTOS_MIN_CORRECT 7 /* PyTorch gets 7 of the 9 (photos.txt) */

typedef struct {
    char file[128];
    int label, torch_top1;
    double logits[10];
} photo;

/* photos.txt: comment lines, then "file true_class pytorch_top1 logit0..logit9" */
static int read_photos(const char *dir, photo *p, int max)
{
    char path[1024], line[1024];
    snprintf(path, sizeof path, "%s/cifar_photos/photos.txt", dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        if (line[0] == '#')
            continue;
        photo *q = &p[n];
        double *l = q->logits;
        if (sscanf(line, "%127s %d %d %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf", q->file,
                   &q->label, &q->torch_top1, &l[0], &l[1], &l[2], &l[3], &l[4], &l[5], &l[6],
                   &l[7], &l[8], &l[9]) == 13)
            n++;
    }
    fclose(f);
    return n;
}

/* A 32x32 binary PPM (P6, maxval 255) as HWC RGB bytes. */
static int read_ppm(const char *dir, const char *file, unsigned char rgb[32 * 32 * 3])
{
    char path[1024], head[16];
    if (snprintf(path, sizeof path, "%s/cifar_photos/%s", dir, file) >= (int)sizeof path)
        return -1;
    FILE *f = fopen(path, "rb");
    static const char want[] = "P6\n32 32\n255\n";
    size_t hl = sizeof want - 1;
    int ok = f && fread(head, 1, hl, f) == hl && memcmp(head, want, hl) == 0 &&
             fread(rgb, 1, 32 * 32 * 3, f) == 32 * 32 * 3;
    if (f)
        fclose(f);
    return ok ? 0 : -1;
}

static int argmax10(const float *v)
{
    int a = 0;
    for (int j = 1; j < 10; j++)
        if (v[j] > v[a])
            a = j;
    return a;
}

/* NCHW float input from the photos: x/255, then (x - mean)/std per channel unless raw. */
static void photos_to_input(unsigned char (*rgb)[32 * 32 * 3], int n, int normalise, float *x)
{
    static const float mean[3] = {0.485f, 0.456f, 0.406f}, std[3] = {0.229f, 0.224f, 0.225f};
    for (int i = 0; i < n; i++)
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < 32 * 32; p++) {
                float v = rgb[i][p * 3 + c] / 255.0f;
                x[((size_t)i * 3 + c) * 1024 + p] = normalise ? (v - mean[c]) / std[c] : v;
            }
}

/* The published ResNet-20 on real photographs of CIFAR-10 classes. */
static void check_photos(nn_net *net, const char *dir)
{
    static const char *const cls[10] = {"airplane", "automobile", "bird", "cat", "deer",
                                        "dog", "frog", "horse", "ship", "truck"};
    photo p[NPHOTO + 1];
    int n = read_photos(dir, p, NPHOTO + 1);
    CHECK(n == NPHOTO, "cifar_photos/photos.txt: %d photos, expected %d", n, NPHOTO);
    if (n != NPHOTO)
        return;
    static unsigned char rgb[NPHOTO][32 * 32 * 3];
    for (int i = 0; i < n; i++)
        if (read_ppm(dir, p[i].file, rgb[i]) != 0) {
            CHECK(0, "cannot read cifar_photos/%s (32x32 P6)", p[i].file);
            return;
        }
    static float x[NPHOTO * 3 * 32 * 32];
    float out[NPHOTO * 10];
    wb_error err = {0};
    photos_to_input(rgb, n, 1, x);
    CHECK(nn_net_forward(net, x, n, 32, 32, 0, out, &err) == 0, "%s", err.msg);
    double d = 0, m = 0;
    int ours = 0, torch = 0;
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < 10; j++) {
            d = fmax(d, fabs(out[i * 10 + j] - p[i].logits[j]));
            m = fmax(m, fabs(p[i].logits[j]));
        }
        int a = argmax10(&out[i * 10]);
        ours += a == p[i].label;
        torch += p[i].torch_top1 == p[i].label;
        CHECK(a == p[i].torch_top1, "%s: our top-1 %s, PyTorch's %s", p[i].file, cls[a],
              cls[p[i].torch_top1]);
        if (p[i].torch_top1 == p[i].label)
            CHECK(a == p[i].label, "%s: %s, PyTorch gets %s right", p[i].file, cls[a],
                  cls[p[i].label]);
        printf("  %-24s %-10s -> %s\n", p[i].file, cls[p[i].label], cls[a]);
    }
    CHECK_LE(d / m, 1e-4, "photo logits vs float64 PyTorch");
    CHECK(ours >= PHOTOS_MIN_CORRECT, "%d of %d photos right, expected at least %d", ours, n,
          PHOTOS_MIN_CORRECT);
    /* negative control: without the training normalisation the same photos lose accuracy */
    float out_raw[NPHOTO * 10];
    photos_to_input(rgb, n, 0, x);
    CHECK(nn_net_forward(net, x, n, 32, 32, 0, out_raw, &err) == 0, "%s", err.msg);
    int raw = 0;
    for (int i = 0; i < n; i++)
        raw += argmax10(&out_raw[i * 10]) == p[i].label;
    CHECK(raw < ours, "unnormalised input: %d of %d right, normalised %d", raw, n, ours);
    printf("published resnet20 on %d photos: %d right (PyTorch %d), logits rel err %.2e; "
           "unnormalised input: %d right\n",
           n, ours, torch, d / m, raw);
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
    wb_tensor_list w;
    wb_tensor_list_init(&w);
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
    check_photos(net, argv[1]);

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
    wb_tensor_list_free(&w);
    TEST_END();
}
