/* nn.h — the CNN engine: float32 NCHW networks on OpenBLAS, forward and backward,
 * pretrained backbones named as their home framework names them, weight binding,
 * freezing by stage, optimizers and schedules.
 *
 * A fine-tuning step, from weights to an update (error handling shortened):
 *
 *     wb_error err = {0};
 *     nn_net_opts o = nn_net_opts_default();       // 3 input channels, 1000 classes, seed 0
 *     o.in_channels = 1; o.num_classes = 2; o.seed = 7;
 *     nn_net *net = nn_net_create("resnet18", &o, &err);          // NULL + err on failure
 *
 *     wb_tensor_list weights; wb_tensor_list_init(&weights);
 *     io_weights_read("resnet18.pth", &weights, &err);            // io/, not nets/
 *     nn_bind_opts bo = nn_bind_opts_default();    // strict; head skipped if class count differs
 *     nn_bind_report rep; nn_bind_report_init(&rep);
 *     if (nn_net_bind(net, &weights, &bo, &rep, &err) != 0) { ...rep lists missing / mis-shaped... }
 *     nn_bind_report_free(&rep); wb_tensor_list_free(&weights);
 *
 *     nn_net_unfreeze(net, "layer4", NN_BN_FROZEN, 1, &err);      // layer4 + head train
 *     nn_opt_cfg oc = nn_opt_cfg_default(NN_OPT_SGD);  oc.lr = 0.01f; oc.momentum = 0.9f;
 *     nn_opt *opt = nn_opt_create(net, &oc, &err);
 *
 *     // given: const float *x; const int *labels; float *logits, *dlogits; int n, h, w, step;
 *     // given: double loss; nn_sched sched;
 *     // x: [n, 1, h, w] floats, labels: n ints, logits: [n, 2] floats (caller-owned)
 *     nn_net_forward(net, x, n, h, w, 1, logits, &err);            // 1 = training forward
 *     nn_loss_softmax_ce(logits, labels, NULL, n, 2, &loss, dlogits, &err);
 *     nn_net_backward(net, dlogits, &err);                         // fills trainable grads
 *     nn_opt_step(opt, nn_sched_lr(&sched, step), NULL, &err);     // NULL: no grad norm out
 *
 *     nn_opt_free(opt); nn_net_free(net);
 *
 * Conventions: functions that can fail return 0 or -1 and fill a caller-owned wb_error
 * (bad shapes, names and options are errors, never asserts). Arrays passed in are
 * caller-owned and only read unless the comment says otherwise. nets/ does no file I/O.
 *
 * Caching a frozen prefix (computed once per image, or per image and flip when flips are the
 * only augmentation: experiments/model/train.c):
 *
 *     // given: nn_net *net; float *cache;
 *     int s[4]; nn_net_prefix_shape(net, n, h, w, s, &err);        // [n, c, h', w']
 *     nn_net_forward_prefix(net, x, n, h, w, cache, &err);         // inference, no activations
 *     ... each epoch:
 *     nn_net_forward_from_prefix(net, cache, n, h, w, 1, logits, &err);
 *     nn_net_backward(net, dlogits, &err);
 */
#ifndef NN_H
#define NN_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

struct wb_tensor_list; /* io/wb_tensor.h */

typedef struct nn_net nn_net;

/* ---------------------------------------------------------------- threads */

/* Sets the number of threads the engine uses (n < 1 is taken as 1, at most 64). The engine
 * owns them: OpenBLAS is set to one thread and every GEMM and loop is split over the engine's
 * threads, so the two never oversubscribe the cores. Results are bit-identical for the same
 * count and agree across counts to float rounding. Returns the count now in effect. */
int nn_set_threads(int n);
int nn_get_threads(void);

/* A parallel loop on the engine's threads, for code outside the engine too (preprocessing):
 * splits [0, n) into nth = min(max_threads, nn_get_threads(), n) contiguous pieces (at least
 * one; max_threads < 1: no limit of its own), piece ith = [n*ith/nth, n*(ith+1)/nth), and
 * runs fn(ctx, ith, lo, hi) for each, piece 0 on the caller; returns when all are done. The
 * pieces depend only on n and nth, never on timing; when the pool is busy (another caller) or
 * its threads could not be started, the caller runs every piece itself, in order. A loop
 * whose pieces write disjoint outputs (or per-piece partial results combined in piece order)
 * gives the same bits for any thread count. */
typedef void (*nn_par_for_fn)(void *ctx, int ith, size_t lo, size_t hi);
void nn_par_for(size_t n, int max_threads, nn_par_for_fn fn, void *ctx);

/* ---------------------------------------------------------------- networks */

typedef struct nn_net_opts {
    int in_channels;   /* 1 or 3 (3 = as pretrained; 1 sums conv1's weights on binding) */
    int num_classes;   /* K >= 1 of the classification head */
    uint64_t seed;     /* initialisation of every parameter (and dropout masks) */
    float width;       /* MobileNet width multiplier (0.25, 0.5, 0.75, 1.0); ignored otherwise */
    float dropout;     /* MobileNet dropout before conv_preds (Keras default 1e-3) */
    int in_norm;       /* 1: the input is in [0, 1] (grey, or grey replicated into 3 channels)
                          and the network applies the RGB normalisation its pretrained weights
                          expect, x_c -> (x_c - in_mean[c]) / in_std[c], inside conv1 (folded
                          in by nn_net_bind, see there); 0: the input is fed as it is */
    float in_mean[3], in_std[3];
} nn_net_opts;

/* Defaults: in_channels 3, num_classes 1000, seed 0, width 1, dropout 1e-3, no in_norm. */
nn_net_opts nn_net_opts_default(void);

/* The input convention of an architecture's pretrained weights, for an input in [0, 1]:
 * "keras" for mobilenet_v1 (x * 2 - 1, i.e. Keras' x / 127.5 - 1 of 8-bit: mean 0.5, std 0.5
 * for every channel), "imagenet" for the torchvision and akamaster CIFAR ResNets (mean
 * (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225)). Returns the family's name (static) and
 * fills mean/std (either may be NULL); NULL for an unknown architecture. */
const char *nn_arch_input_norm(const char *arch, float mean[3], float std[3]);

/* What the weights decide about the network, read from a weight list (as io_weights_read
 * gives it) once, for every caller: the MobileNet width multiplier (conv1's filters / 32)
 * and the class count of the file's head (0 if the list has no head tensor). Fills
 * o->width (mobilenet_v1 only) and o->num_classes (when the head is found); the other
 * fields are left alone; a list that holds conv1's input_offset (an export of a network with
 * in_norm, see nn_net_bind) also sets in_norm with the architecture's convention. Returns -1
 * (WB_E_DATA, naming the tensor) when a value is not one
 * the architecture supports, e.g. a width other than 0.25, 0.5, 0.75, 1. */
int nn_net_opts_from_weights(const char *arch, const struct wb_tensor_list *list, nn_net_opts *o,
                             wb_error *err);

/* Builds a network by architecture name: "resnet18", "resnet34", "resnet50" (torchvision),
 * "resnet20", "resnet32", "resnet44", "resnet56" (akamaster CIFAR ResNets, option-A
 * shortcuts), "mobilenet_v1" (Keras). Parameters get PyTorch-style initialisation from
 * opts->seed. Returns NULL and fills err on an unknown name or bad options.
 * The caller frees with nn_net_free. */
nn_net *nn_net_create(const char *arch, const nn_net_opts *opts, wb_error *err);

typedef enum { NN_BLOCK_BASIC = 0, NN_BLOCK_BOTTLENECK, NN_BLOCK_CIFAR } nn_block_kind;

/* A ResNet with any block counts (torchvision: 4 stages, BASIC or BOTTLENECK; CIFAR: 3
 * stages). nn_net_create("resnet18") is nn_net_create_resnet(NN_BLOCK_BASIC, {2,2,2,2}).
 * Names follow the home framework exactly. opts NULL: defaults (also for nn_net_create). */
nn_net *nn_net_create_resnet(nn_block_kind kind, const int *blocks, int n_stages,
                             const nn_net_opts *opts, wb_error *err);

/* Frees the network, its parameters and its arena. NULL is a no-op. */
void nn_net_free(nn_net *net);

/* The architecture name the network was created with ("resnet18", ...). */
const char *nn_net_arch(const nn_net *net);
int nn_net_in_channels(const nn_net *net);
int nn_net_num_classes(const nn_net *net);

/* Stages in order, e.g. "stem", "layer1".."layer4", "head". */
int nn_net_num_stages(const nn_net *net);
const char *nn_net_stage_name(const nn_net *net, int stage);
/* Index of a stage by name, -1 if none. */
int nn_net_stage_find(const nn_net *net, const char *name);

/* One named tensor of the network: a parameter (trainable or frozen) or a buffer
 * (BN running_mean / running_var, never trainable). Pointers stay owned by the network
 * and are valid until it is freed. grad is NULL for frozen parameters and buffers. */
typedef struct nn_param_view {
    const char *name;     /* "layer1.0.conv1.weight", "conv_dw_1/depthwise_kernel:0", ... */
    int ndim;
    const int *shape;     /* as the engine stores it: OIHW, [out, in], [C] */
    size_t numel;
    int stage;
    int is_buffer;
    int trainable;
    float *data;
    const float *grad;
} nn_param_view;

size_t nn_net_num_tensors(const nn_net *net);
/* Fills *out for tensor i (0 <= i < nn_net_num_tensors). Returns -1 if i is out of range. */
int nn_net_tensor(const nn_net *net, size_t i, nn_param_view *out);
/* Index of a tensor by name, -1 if none. */
long nn_net_tensor_find(const nn_net *net, const char *name);

/* Number of parameter values (buffers excluded) in a stage (stage -1: all stages);
 * trainable_only counts only those that currently get gradients. */
size_t nn_net_num_params(const nn_net *net, int stage, int trainable_only);

/* Forward FLOPs (2 x multiply-adds) for one image of h x w; 0 and err if the size is out of
 * range. */
double nn_net_flops(const nn_net *net, int h, int w, wb_error *err);

/* FLOPs of one training step (forward, then backward under the current freezing) for one
 * image of h x w: the forward FLOPs plus, for conv and linear layers, the dW GEMM of trainable
 * weights and the dx GEMM where the input needs a gradient, and the backward of the other
 * layers that need one. 0 and err if the size is out of range. */
double nn_net_train_flops(const nn_net *net, int h, int w, wb_error *err);

/* Width of the pooled features (the head's input), e.g. 512 for resnet18. */
int nn_net_feature_dim(const nn_net *net);

/* ---------------------------------------------------------------- freezing */

typedef enum {
    NN_BN_FROZEN = 0, /* running statistics used and never updated (eval-mode BN) */
    NN_BN_TRAIN       /* batch statistics in training forwards, running stats updated */
} nn_bn_policy;

/* Chooses what trains. spec is "all", "none", or a comma-separated list of stage names
 * ("layer3,layer4"). The head always trains ("none" = head only; "head" may be listed).
 * Stages not listed are frozen: no gradients, no optimizer state, inference-mode BN, and
 * in a training forward they form a prefix that keeps no activations. In trained stages BN
 * follows bn; with NN_BN_FROZEN, bn_affine says whether BN's weight and bias still train.
 * Create the optimizer after this call. Unknown stage names are an error (WB_E_USAGE). */
int nn_net_unfreeze(nn_net *net, const char *spec, nn_bn_policy bn, int bn_affine,
                    wb_error *err);

/* Index of the first stage that trains (the frozen prefix is stages [0, this)). */
int nn_net_first_trainable_stage(const nn_net *net);

/* ---------------------------------------------------------------- running */

/* Forward pass of x [n, in_channels, h, w] to logits [n, num_classes] (both caller-owned).
 * train = 0: inference (BN running stats, no dropout, nothing kept).
 * train = 1: training forward (BN per policy, dropout on, activations of the trainable part
 * kept for nn_net_backward). Scratch comes from the network's arena, re-sized only when
 * the input shape or mode changes. */
int nn_net_forward(nn_net *net, const float *x, int n, int h, int w, int train,
                   float *logits, wb_error *err);

/* Pooled features [n, nn_net_feature_dim] (the head's input), inference mode. */
int nn_net_features(nn_net *net, const float *x, int n, int h, int w, float *features,
                    wb_error *err);

/* Logits [n, num_classes] of pooled features [n, nn_net_feature_dim] (as nn_net_features
 * gives them): the head alone, inference mode, the same nodes and bits as the head of an
 * nn_net_forward whose features these are; (h, w) is the original input's size. */
int nn_net_forward_from_features(nn_net *net, const float *features, int n, int h, int w,
                                 float *logits, wb_error *err);

/* Shape of the frozen prefix's output for input [n, in_channels, h, w] (the output of the
 * last frozen stage; the input itself if stage 0 trains). Fills shape[4] (NCHW). */
int nn_net_prefix_shape(nn_net *net, int n, int h, int w, int shape[4], wb_error *err);

/* Runs the frozen prefix in inference mode, keeping no activations, and writes its output
 * (shape from nn_net_prefix_shape) into the caller's out. */
int nn_net_forward_prefix(nn_net *net, const float *x, int n, int h, int w, float *out,
                          wb_error *err);

/* Runs the rest of the network from a cached prefix output; (n, h, w) is the shape of the
 * original input. Same modes as nn_net_forward; nn_net_backward may follow. */
int nn_net_forward_from_prefix(nn_net *net, const float *prefix, int n, int h, int w,
                               int train, float *logits, wb_error *err);

/* Runs stages [from, to) in inference mode, keeping no activations: x is the input of stage
 * `from` (the images [n, in_channels, h, w] when from is 0; else the output of stage from - 1,
 * shape from nn_net_stage_shape), out receives the input of stage `to` (0 <= from <= to <
 * nn_net_num_stages; to = nn_net_first_trainable_stage gives nn_net_forward_prefix's output,
 * with its bits). (h, w) is the images' size. A run's frozen trunk is cached at an early stage
 * and taken on from there to each variant's own first trainable stage. */
int nn_net_forward_stages(nn_net *net, const float *x, int from, int to, int n, int h, int w,
                          float *out, wb_error *err);

/* nn_net_features from the input of stage `from` (as nn_net_forward_stages): the same bits. */
int nn_net_features_from_stage(nn_net *net, const float *x, int from, int n, int h, int w,
                               float *features, wb_error *err);

/* After a training forward: back-propagates dlogits [n, num_classes] and overwrites the
 * gradient of every trainable parameter (nn_param_view.grad). */
int nn_net_backward(nn_net *net, const float *dlogits, wb_error *err);

/* The output shape of stage `stage` (0 .. nn_net_num_stages - 2: a stage before the head) for
 * an input [n, in_channels, h, w], into shape[4] (NCHW). */
int nn_net_stage_shape(nn_net *net, int stage, int n, int h, int w, int shape[4], wb_error *err);

/* For Grad-CAM and other gradient maps: runs x [n, in_channels, h, w] forward in inference
 * mode (BN running statistics, no dropout, whatever the freezing says) and back-propagates
 * dlogits [n, num_classes] to the output of stage `stage` (as nn_net_stage_shape). act
 * receives that output, dact d(sum dlogits * logits)/d(output) (either may be NULL; shape from
 * nn_net_stage_shape, caller-owned). The freezing is left as it was; the gradients of
 * trainable parameters after the stage are overwritten as by nn_net_backward. */
int nn_net_stage_grad(nn_net *net, const float *x, int n, int h, int w, int stage,
                      const float *dlogits, float *act, float *dact, wb_error *err);

/* Bytes of the arena for the last planned shape (activations + scratch). */
size_t nn_net_arena_bytes(const nn_net *net);

/* A freed network's arena (its activation memory) is kept for the next network the process
 * plans, when it is large enough: a run's folds and variants then reuse one block instead of
 * allocating (and the kernel zeroing) fresh pages each time. One block is kept, the larger.
 * The bits do not depend on it. nn_arena_spare_free releases it (a run does when it ends);
 * nn_arena_spare_bytes: its size, 0 when none is kept. */
void nn_arena_spare_free(void);
size_t nn_arena_spare_bytes(void);

/* The batch to run inference in (scoring, features, prefixes) on inputs of h x w: the largest
 * power of two, from 2 up to max, whose largest activation (one node's output, over the nodes
 * the pass runs: the whole network, or with from_prefix those after the frozen prefix) takes
 * at most NN_INFER_BYTES for the batch; max itself when it is 1. Depends on the network, its
 * freezing (from_prefix) and the input shape only, never on threads or load: an image's output
 * does not depend on its batch (tests/nets/test_batch_bits.c), so any batch gives the same
 * bits, and this one keeps each layer's output in a core's L2 as the next layer reads it
 * (docs/performance.md, "Inference in cache-sized batches"). -1 (err set): bad shape. */
#define NN_INFER_BYTES ((size_t)2 << 20)
int nn_net_infer_batch(nn_net *net, int h, int w, int from_prefix, int max, wb_error *err);

/* ---------------------------------------------------------------- loss */

/* Softmax cross-entropy, mean over the batch with PyTorch's weighting:
 * loss = sum_i w[y_i] * -log softmax(z_i)[y_i] / sum_i w[y_i].
 * logits [n, k]; labels n ints in [0, k); class_w k floats or NULL (all 1).
 * dlogits [n, k] (may be NULL) receives dloss/dlogits. Returns -1 on a label out of
 * range or a zero weight sum. */
int nn_loss_softmax_ce(const float *logits, const int *labels, const float *class_w, int n,
                       int k, double *loss, float *dlogits, wb_error *err);

/* ---------------------------------------------------------------- weights */

typedef struct nn_bind_opts {
    int strict;          /* 1: any missing / unexpected / mis-shaped tensor is an error */
    int skip_head;       /* 0: never; 1: skip head tensors if their shape differs (class
                            count changed) and keep the seeded init; 2: always skip */
} nn_bind_opts;

/* Defaults: strict 1, skip_head 1. */
nn_bind_opts nn_bind_opts_default(void);

typedef struct nn_bind_report {
    char **missing;      /* network tensors with no match in the list */
    size_t n_missing;
    char **unexpected;   /* list tensors the network does not have (num_batches_tracked ignored) */
    size_t n_unexpected;
    char **misshaped;    /* "name: file [64,3,7,7] vs net [64,1,7,7]" */
    size_t n_misshaped;
    char **skipped;      /* head tensors left at their init */
    size_t n_skipped;
    size_t n_bound;
} nn_bind_report;

void nn_bind_report_init(nn_bind_report *r);
void nn_bind_report_free(nn_bind_report *r); /* frees the strings; NULL is a no-op */

/* Copies tensors from list into the network by name. A "module." prefix is stripped.
 * 3-channel conv1 weights are summed over input channels for a 1-channel network; Keras
 * HWIO kernels are transposed to OIHW. report (may be NULL) lists what did not match.
 * With opts.in_norm the file's 3-channel conv1 weights W_c are folded: conv1 gets W_c / s_c
 * (1 channel: summed over c) and a buffer "<conv1>.input_offset" ("conv1/input_offset:0" for
 * Keras) gets B = -sum_c W_c m_c / s_c [oc, 1, kh, kw]; the forward adds B convolved with
 * the input's extent (1 inside the image, 0 in the padding), a bias that differs only at
 * the border. The result equals the RGB network fed (x - m_c) / s_c with zero padding,
 * border included, to float rounding. A list that already holds input_offset (an export of
 * such a network) is copied as it is. The offset is a fixed buffer: when conv1 trains, its
 * weights change and the offset stays that of the pretrained weights.
 * Strict: returns -1 (WB_E_DATA) if anything is missing, unexpected or mis-shaped, with
 * the first problem in err; nothing is copied then. */
int nn_net_bind(nn_net *net, const struct wb_tensor_list *list, const nn_bind_opts *opts,
                nn_bind_report *report, wb_error *err);

/* Appends every parameter and buffer to list under the network's names, in the home
 * framework's layout (Keras kernels back to HWIO). list is caller-initialised and owned. */
int nn_net_export(const nn_net *net, struct wb_tensor_list *list, wb_error *err);

/* Appends the gradient of every trainable parameter to list under the parameter's name. */
int nn_net_export_grads(const nn_net *net, struct wb_tensor_list *list, wb_error *err);

/* ---------------------------------------------------------------- optimizers */

typedef enum { NN_OPT_SGD = 0, NN_OPT_ADAMW } nn_opt_kind;

typedef struct nn_opt_cfg {
    nn_opt_kind kind;
    float lr;             /* base learning rate (nn_opt_step may override per step) */
    float momentum;       /* SGD */
    float dampening;      /* SGD (PyTorch's) */
    int nesterov;         /* SGD */
    float weight_decay;   /* SGD: L2 added to the gradient; AdamW: decoupled */
    float beta1, beta2, eps; /* AdamW */
    float clip_norm;      /* > 0: clip the global gradient L2 norm to this (PyTorch style) */
    float stage_lr_scale[16]; /* per stage learning-rate factor (0 = use 1) */
} nn_opt_cfg;

/* SGD: lr 0.01, momentum 0.9, no Nesterov, wd 0; AdamW: lr 1e-3, betas (0.9, 0.999),
 * eps 1e-8, wd 0.01. No clipping, all stage scales 1. */
nn_opt_cfg nn_opt_cfg_default(nn_opt_kind kind);

typedef struct nn_opt nn_opt;

/* An optimizer over the network's trainable parameters at the time of the call (state
 * is allocated for those only). Free with nn_opt_free before the network. */
nn_opt *nn_opt_create(nn_net *net, const nn_opt_cfg *cfg, wb_error *err);
void nn_opt_free(nn_opt *opt);

/* One update with learning rate lr (< 0: the configured one). Returns the gradient norm
 * before clipping in *grad_norm if not NULL. */
int nn_opt_step(nn_opt *opt, float lr, double *grad_norm, wb_error *err);

/* Learning-rate schedule: linear warm-up from lr*warmup_start to lr over warmup steps,
 * then cosine down to lr_min at total steps, or step decay by gamma every step_size. */
typedef enum { NN_SCHED_CONSTANT = 0, NN_SCHED_COSINE, NN_SCHED_STEP } nn_sched_kind;

typedef struct nn_sched {
    nn_sched_kind kind;
    float lr, lr_min;
    int warmup;           /* steps */
    float warmup_start;   /* factor at step 0 (PyTorch LinearLR's start_factor), e.g. 0.1 */
    int total;            /* steps (cosine) */
    int step_size;        /* steps (step) */
    float gamma;          /* step */
} nn_sched;

/* Learning rate at step t (0-based). */
float nn_sched_lr(const nn_sched *s, int t);

/* ---------------------------------------------------------------- RNG */

/* The engine's seeded RNG (splitmix64), exposed so callers can reproduce inits. */
typedef struct nn_rng {
    uint64_t s;
} nn_rng;

void nn_rng_seed(nn_rng *r, uint64_t seed);
uint64_t nn_rng_u64(nn_rng *r);
float nn_rng_uniform(nn_rng *r);   /* [0, 1), 24 random bits */
double nn_rng_normal(nn_rng *r);   /* standard normal */

#ifdef __cplusplus
}
#endif
#endif
