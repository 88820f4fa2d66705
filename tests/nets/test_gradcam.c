/* test_gradcam.c — Grad-CAM (experiments/model/saliency.h on nn_net_stage_grad) against
 * PyTorch autograd (make_gradcam_fixtures.py: float64, eval mode) for the CIFAR ResNet-20,
 * torchvision ResNet-18 and Keras MobileNet v1 (width 0.25) at two or three stages each, on
 * odd non-square inputs: the upsampled maps agree to 1e-4 of their largest value, and the
 * gradient at three stages (nn_net_stage_grad) to 1e-4 relative L2, position by position. Also:
 * the map does not depend on the freezing or BN policy (Grad-CAM is an inference-mode
 * quantity), the network's training state is left as it was, occlusion sensitivity equals
 * the probability drops computed one occluded image at a time, the rank correlation's known
 * values, and bad stage names and classes are errors.
 *
 *     test_gradcam FIXTURE_DIR */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/model/saliency.h"
#include "fixtures.h"
#include "wb_test.h"

static nn_net *make_net(const char *arch, int classes, float width, wb_tensor_list *wts)
{
    wb_error err = {0};
    nn_net_opts o = nn_net_opts_default();
    o.num_classes = classes;
    o.width = width;
    nn_net *net = nn_net_create(arch, &o, &err);
    CHECK(net != NULL, "create %s: %s", arch, err.msg);
    if (!net) return NULL;
    wb_tensor_list_init(wts);
    CHECK(gen_weights(net, wts) == 0, "generated weights");
    return net;
}

static void check_net(const char *dir, const char *fx, const char *arch, float width, const char *const *stages,
                      int n_stages)
{
    fixture f;
    if (fixture_load(dir, fx, &f) != 0) {
        CHECK(0, "fixture %s", fx);
        return;
    }
    const rec *meta = find(&f, "meta");
    const int n = (int)meta->v[0], c = (int)meta->v[1], h = (int)meta->v[2], w = (int)meta->v[3];
    const int K = (int)meta->v[4], cls = (int)meta->v[5];
    wb_tensor_list wts;
    nn_net *net = make_net(arch, K, width, &wts);
    if (!net) {
        fixture_free(&f);
        return;
    }
    const size_t img = (size_t)c * h * w;
    float *x = malloc((size_t)n * img * sizeof *x);
    const rec *rx = find(&f, "x");
    if (rx) memcpy(x, rx->v, (size_t)n * img * sizeof *x);
    else gen_values("input", (size_t)n * img, 1.0f, 0.0f, x);
    const rec *lg = find(&f, "logits");
    float *map = malloc((size_t)h * w * sizeof *map);
    wb_error err = {0};
    for (int pass = 0; pass < 2; pass++) {
        /* pass 1: everything trains with batch statistics; the maps must not change */
        if (pass == 1)
            CHECK(nn_net_unfreeze(net, "all", NN_BN_TRAIN, 1, &err) == 0, "unfreeze: %s", err.msg);
        for (int s = 0; s < n_stages; s++) {
            char key[64];
            snprintf(key, sizeof key, "up:%s", stages[s]);
            const rec *up = find(&f, key);
            snprintf(key, sizeof key, "cam:%s", stages[s]);
            const rec *cam = find(&f, key);
            int st = exp_saliency_stage(net, stages[s], &err);
            CHECK(up && cam && st >= 0, "%s %s: records and stage", fx, stages[s]);
            if (!up || !cam || st < 0) continue;
            snprintf(key, sizeof key, "grad:%s", stages[s]);
            const rec *gr = find(&f, key);
            if (gr) { /* the gradient itself, position by position (the maps only average it) */
                int sh[4];
                CHECK(nn_net_stage_shape(net, st, 1, h, w, sh, &err) == 0, "stage shape: %s", err.msg);
                size_t m = (size_t)sh[1] * sh[2] * sh[3];
                CHECK_EQ_INT(m, gr->n, "gradient size");
                float *dl = calloc((size_t)K, sizeof *dl), *dact = malloc(m * sizeof *dact);
                dl[cls] = 1.0f;
                if (m == gr->n && nn_net_stage_grad(net, x, 1, h, w, st, dl, NULL, dact, &err) == 0) {
                    double num = 0, den = 0;
                    for (size_t k = 0; k < m; k++) {
                        num += (dact[k] - gr->v[k]) * (double)(dact[k] - gr->v[k]);
                        den += (double)gr->v[k] * gr->v[k];
                    }
                    double rel = sqrt(num / (den > 0 ? den : 1));
                    CHECK(den > 0 && rel <= 1e-4, "%s %s: d logit / d stage output vs PyTorch: relative L2 %.3g", fx, stages[s], rel);
                    if (pass == 0) printf("%s %s: gradient at the stage, relative L2 vs PyTorch %.2e\n", fx, stages[s], rel);
                } else {
                    CHECK(0, "nn_net_stage_grad: %s", err.msg);
                }
                free(dl);
                free(dact);
            }
            for (int i = 0; i < n; i++) {
                double score = 0;
                int grid[2] = {0, 0};
                int rc = exp_gradcam(net, x + (size_t)i * img, h, w, st, cls, map, &score, grid, &err);
                CHECK(rc == 0, "%s %s: %s", fx, stages[s], err.msg);
                if (rc) continue;
                CHECK_EQ_INT((size_t)grid[0] * grid[1] * n, cam->n, "grid size");
                const float *ref = up->v + (size_t)i * h * w;
                double mx = 0, worst = 0;
                size_t arg_ref = 0, arg = 0;
                for (size_t k = 0; k < (size_t)h * w; k++) {
                    if (ref[k] > ref[arg_ref]) arg_ref = k;
                    if (map[k] > map[arg]) arg = k;
                    mx = fmax(mx, fabs(ref[k]));
                    worst = fmax(worst, fabs(map[k] - ref[k]));
                }
                CHECK(mx > 0, "%s %s image %d: a non-zero reference", fx, stages[s], i);
                CHECK(worst <= 1e-4 * mx, "%s %s image %d (pass %d): max |map - PyTorch| %.3g of max %.3g", fx,
                      stages[s], i, pass, worst, mx);
                /* where the reference peaks: upsampled coarse grids (2x1 at block13) have plateaus
                 * of equal values, so the index of the first maximum is not the point */
                CHECK(ref[arg] == ref[arg_ref], "%s %s image %d: argmax of the map at %zu, where PyTorch's "
                      "map is %.9g, not its maximum %.9g (at %zu)", fx, stages[s], i, arg, ref[arg], ref[arg_ref],
                      arg_ref);
                CHECK_CLOSE(score, lg->v[(size_t)i * K + cls], 1e-4 * fmax(1, fabs(lg->v[(size_t)i * K + cls])),
                            "%s logit of class %d", fx, cls);
                if (pass == 0 && i == 0)
                    printf("%s %s: grid %dx%d, max |map - PyTorch| / max = %.2e\n", fx, stages[s], grid[0], grid[1],
                           worst / mx);
            }
        }
    }
    /* the freezing is untouched: a training step still works and the trainable count is that of "all" */
    CHECK(nn_net_first_trainable_stage(net) == 0, "freezing kept");
    float *logits = malloc((size_t)K * sizeof *logits), *dl = calloc((size_t)K, sizeof *dl);
    CHECK(nn_net_forward(net, x, 1, h, w, 1, logits, &err) == 0 && nn_net_backward(net, dl, &err) == 0,
          "a training step after the maps: %s", err.msg);
    free(logits);
    free(dl);
    /* errors */
    CHECK(exp_saliency_stage(net, "head", &err) < 0 && err.code == WB_E_USAGE, "the head is not a stage for maps");
    CHECK_CONTAINS(err.msg, "stages:", "the message lists the stages");
    CHECK(exp_saliency_stage(net, "layer9", &err) < 0, "unknown stage");
    CHECK(exp_gradcam(net, x, h, w, 0, K, map, NULL, NULL, &err) != 0 && err.code == WB_E_USAGE, "class out of range");
    free(map);
    free(x);
    wb_tensor_list_free(&wts);
    nn_net_free(net);
    fixture_free(&f);
}

/* Occlusion with patch = stride on a size the patches tile: each tile's value is the drop of
 * the class's probability when that tile alone is occluded, computed here image by image. */
static void check_occlusion(void)
{
    wb_tensor_list wts;
    nn_net *net = make_net("resnet20", 2, 1.0f, &wts);
    if (!net) return;
    const int h = 24, w = 16, P = 8, C = 3;
    const size_t img = (size_t)C * h * w;
    float *x = malloc(img * sizeof *x), *xo = malloc(img * sizeof *xo), *map = malloc((size_t)h * w * sizeof *map);
    gen_values("occlusion input", img, 1.0f, 0.0f, x);
    wb_error err = {0};
    double p0 = 0;
    CHECK(exp_occlusion(net, x, h, w, P, P, 0.25f, 1, map, &p0, &err) == 0, "occlusion: %s", err.msg);
    float z[2];
    nn_net_forward(net, x, 1, h, w, 0, z, &err);
    double ref0 = 1.0 / (1.0 + exp((double)z[0] - z[1]));
    CHECK_CLOSE(p0, ref0, 1e-12, "probability of the image");
    double worst = 0;
    for (int ty = 0; ty < h; ty += P)
        for (int tx = 0; tx < w; tx += P) {
            memcpy(xo, x, img * sizeof *x);
            for (int c = 0; c < C; c++)
                for (int y = ty; y < ty + P; y++)
                    for (int xx = tx; xx < tx + P; xx++) xo[(size_t)c * h * w + (size_t)y * w + xx] = 0.25f;
            nn_net_forward(net, xo, 1, h, w, 0, z, &err);
            double drop = ref0 - 1.0 / (1.0 + exp((double)z[0] - z[1]));
            for (int y = ty; y < ty + P; y++)
                for (int xx = tx; xx < tx + P; xx++) worst = fmax(worst, fabs(map[(size_t)y * w + xx] - drop));
        }
    CHECK(worst < 1e-6, "occlusion map vs one image at a time: %.3g", worst);
    /* overlapping squares and a last position flush with the edge: every pixel covered */
    CHECK(exp_occlusion(net, x, h, w, 10, 7, 0.0f, 0, map, NULL, &err) == 0, "occlusion 10/7: %s", err.msg);
    CHECK(exp_occlusion(net, x, h, w, 17, 4, 0.0f, 0, map, NULL, &err) != 0 && err.code == WB_E_USAGE,
          "a patch larger than the image is refused");
    CHECK(exp_occlusion(net, x, h, w, 4, 5, 0.0f, 0, map, NULL, &err) != 0, "a stride past the patch is refused");
    free(x);
    free(xo);
    free(map);
    wb_tensor_list_free(&wts);
    nn_net_free(net);
}

static void check_spearman(void)
{
    float a[6] = {1, 2, 3, 4, 5, 6}, b[6] = {10, 20, 30, 40, 50, 600}, c[6] = {6, 5, 4, 3, 2, 1};
    float d[6] = {1, 1, 2, 2, 3, 3}, e[6] = {2, 2, 2, 2, 2, 2};
    CHECK_CLOSE(exp_saliency_spearman(a, b, 6), 1.0, 1e-12, "monotone");
    CHECK_CLOSE(exp_saliency_spearman(a, c, 6), -1.0, 1e-12, "reversed");
    /* scipy.stats.spearmanr([1..6], [1,1,2,2,3,3]) = 0.9561828874675149 */
    CHECK_CLOSE(exp_saliency_spearman(a, d, 6), 0.9561828874675149, 1e-12, "ties");
    CHECK(isnan(exp_saliency_spearman(a, e, 6)), "constant: NaN");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_gradcam FIXTURE_DIR\n");
        return 2;
    }
    static const char *const r20[] = {"layer3", "layer2", "layer1"}, *const r18[] = {"layer4", "layer3"},
                             *const mb[] = {"block13", "block11"};
    check_net(argv[1], "gradcam_resnet20", "resnet20", 1.0f, r20, 3);
    check_net(argv[1], "gradcam_resnet18", "resnet18", 1.0f, r18, 2);
    check_net(argv[1], "gradcam_mobilenet", "mobilenet_v1", 0.25f, mb, 2);
    check_occlusion();
    check_spearman();
    return wb_test_finish("test_gradcam");
}
