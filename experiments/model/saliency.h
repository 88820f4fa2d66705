/* saliency.h — where a network looked: Grad-CAM (Selvaraju et al. 2017) at a chosen stage and
 * occlusion sensitivity (Zeiler & Fergus 2014), on one preprocessed image.
 *
 *     // given: nn_net *net; const float *x; int h, w; float *map2;
 *     int st = exp_saliency_stage(net, NULL, &err);          // the last stage before the head
 *     float *map = malloc(h * w * sizeof *map);              // the input's size
 *     double score;
 *     exp_gradcam(net, x, h, w, st, 1, map, &score, NULL, &err); // class 1's logit
 *     exp_occlusion(net, x, h, w, 16, 8, 0.0f, 1, map2, NULL, &err);
 *
 * x is one image [in_channels, h, w] as the network takes it. Maps are h x w, row-major,
 * caller-owned. Both are deterministic (a fixed thread count gives the same bits).
 */
#ifndef EXP_SALIENCY_H
#define EXP_SALIENCY_H

#include "base/wb_error.h"
#include "nets/nn.h"

/* The stage a map is taken at: name (e.g. "layer3") or, NULL or "", the last stage before the
 * head (ResNets: layer4, CIFAR ResNets: layer3, MobileNet v1: block13). -1 with WB_E_USAGE
 * naming the network's stages when the name is not one of them, or is the head. */
int exp_saliency_stage(const nn_net *net, const char *name, wb_error *err);

/* Bilinear resampling of src [sh, sw] to dst [dh, dw] as PyTorch's
 * F.interpolate(mode="bilinear", align_corners=False) computes it: source coordinate
 * (i + 0.5) * sh / dh - 0.5, clamped at 0, the neighbour past the edge clamped to it. */
void exp_upsample_bilinear(const float *src, int sh, int sw, float *dst, int dh, int dw);

/* Grad-CAM for class cls: A = the stage's output [c, h', w'] (inference mode), g = d logit_cls
 * / dA, alpha_c = the mean of g over h' x w', cam = ReLU(sum_c alpha_c A_c), upsampled to h x w
 * into map (exp_upsample_bilinear). Not normalised (a map of zeros means no positive evidence
 * at that stage). score (may be NULL) receives the logit; grid (may be NULL) gets h', w'. */
int exp_gradcam(nn_net *net, const float *x, int h, int w, int stage, int cls, float *map,
                double *score, int grid[2], wb_error *err);

/* Occlusion sensitivity for class cls: a patch x patch square of every channel set to fill,
 * moved by stride over the image (the last row and column of positions flush with the edge);
 * map[p] = the mean over the squares covering p of (softmax probability of cls on the image -
 * on the occluded image). Positive: hiding p lowers the class's probability. prob (may be
 * NULL) receives the image's probability. patch 1..min(h, w), stride 1..patch. */
int exp_occlusion(nn_net *net, const float *x, int h, int w, int patch, int stride, float fill,
                  int cls, float *map, double *prob, wb_error *err);

/* Spearman's rank correlation of two maps of n values (ties get their mean rank); NaN when
 * either is constant. For the randomisation check (Adebayo et al. 2018). */
double exp_saliency_spearman(const float *a, const float *b, size_t n);

#endif
