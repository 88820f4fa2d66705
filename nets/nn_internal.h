/* nn_internal.h — private to nets/ (and its tests): the graph, the ops and their kernels.
 *
 * A network is a list of nodes in topological order. Node 0 is the input. Each node has at
 * most two inputs (earlier nodes), an op, hyper-parameters, and indices into the tensor
 * table (parameters and BN buffers). Stages are contiguous node ranges; a stage's nodes
 * read only nodes of the same stage and the last node of the previous stage.
 */
#ifndef NN_INTERNAL_H
#define NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "nets/nn.h"

#define NN_NAME_MAX 96
#define NN_MAX_STAGES 16
#define NN_NONE ((size_t)-1)
#define NN_MAX_THREADS 64 /* nn_set_threads caps the count here */

typedef enum {
    NN_OP_INPUT = 0,
    NN_OP_CONV2D,     /* weight OIHW [oc, ic/groups, kh, kw], optional bias [oc] */
    NN_OP_BATCHNORM,  /* weight, bias, running_mean, running_var [c] */
    NN_OP_RELU,
    NN_OP_RELU6,
    NN_OP_MAXPOOL,    /* PyTorch semantics: -inf padding, floor mode */
    NN_OP_AVGPOOL,    /* count_include_pad = True */
    NN_OP_GAP,        /* global average pool -> [n, c, 1, 1] */
    NN_OP_LINEAR,     /* weight [out, in], bias [out]; input flattened */
    NN_OP_DROPOUT,
    NN_OP_ADD,        /* residual add of in[0] and in[1] */
    NN_OP_PAD,        /* zero padding top/bottom/left/right */
    NN_OP_SHORTCUT_A, /* x[:, :, ::s, ::s] with zero channels before/after (CIFAR option A) */
    NN_OP_COUNT
} nn_op;

const char *nn_op_name(nn_op op);

typedef enum {
    NN_T_WEIGHT = 0,  /* conv / linear weight */
    NN_T_BIAS,
    NN_T_BN_WEIGHT,
    NN_T_BN_BIAS,
    NN_T_BN_MEAN,     /* buffer */
    NN_T_BN_VAR,      /* buffer */
    NN_T_INPUT_OFFSET /* buffer: conv1's folded input normalisation (opts.in_norm), slot 2 */
} nn_tensor_kind;

typedef enum {
    NN_LAYOUT_NATIVE = 0, /* as PyTorch: OIHW / [out, in] / [c] */
    NN_LAYOUT_HWIO,       /* Keras Conv2D kernel [kh, kw, in, out] */
    NN_LAYOUT_HWCM        /* Keras DepthwiseConv2D kernel [kh, kw, c, mult] */
} nn_layout;

typedef struct nn_tensor {
    char name[NN_NAME_MAX];
    int ndim;
    int shape[4];
    size_t numel;
    nn_tensor_kind kind;
    nn_layout layout;
    int stage, node;
    int trainable;
    int is_head;          /* belongs to the classification head (may be skipped on binding) */
    int is_first_conv;    /* conv1's weight: summed over input channels for 1-channel nets */
    float *data;
    float *grad;          /* NULL unless trainable */
} nn_tensor;

typedef struct nn_node {
    nn_op op;
    int in[2];            /* input nodes, -1 if none */
    int stage;
    char name[NN_NAME_MAX];
    /* conv / pool geometry */
    int oc, kh, kw, sh, sw, ph, pw, groups;
    /* pad: top, bottom, left, right (kh/sh > 0: TF "same" for a kh x kh stride-sh layer,
     * computed per input size); shortcut A: pt = channels before, pb = after; conv: pb, pr =
     * zero rows below and columns right of the input beyond ph, pw (depthwise 3x3 only) */
    int pt, pb, pl, pr;
    float eps, momentum, p;
    int bn_batch_stats;   /* set by nn_net_unfreeze */
    int t[4];             /* tensor indices: conv/linear w, b; bn w, b, mean, var; -1 none */
    /* per input shape */
    int c, h, w;          /* output shape per sample */
    size_t off_out, off_grad, off_aux; /* arena offsets in floats, NN_NONE if absent */
    size_t off_pout;      /* image-parallel inference (par_plan): offset of its output in a
                             thread's own buffers, in phase par_phase (1, 2; 0: none) */
    int par_phase;
    int par_copy;         /* ... whose output later nodes read: copied into the arena */
    int conv_batch;       /* conv: images per GEMM (forward and backward), chosen by the plan */
    int fuse_relu;        /* BN or residual add whose only consumer is the next node, a ReLU
                             (or, for BN, a ReLU6): one pass forward, and one backward (the
                             ReLU's backward runs inside the BN's / add's) */
    int fuse_act;         /* with fuse_relu: NN_ACT_RELU or NN_ACT_RELU6 */
    int fuse_bn;          /* conv whose only consumer is the next node, a BN in eval mode with
                             no backward: the BN (and its fused ReLU) run in the conv's pass
                             (nn_conv2d_forward_post), straight into their output */
    int set_dx;           /* conv: its backward overwrites its input's gradient (which it
                             would otherwise zero first); off under WB_NN_NOFUSE */
    int dep;              /* output depends on a trainable parameter */
    int keep;             /* the run keeps this node's backward inputs */
    double flops;
} nn_node;

typedef struct nn_stage {
    char name[32];
    int begin, end;       /* node range [begin, end) */
} nn_stage;

struct nn_net {
    char arch[32];
    nn_net_opts opts;
    nn_node *nodes;
    int n_nodes, cap_nodes;
    nn_tensor *tensors;
    size_t n_tensors, cap_tensors;
    nn_stage stages[NN_MAX_STAGES];
    int n_stages;
    int first_train_stage;
    int feature_node;     /* GAP output feeding the head */
    nn_rng drop_rng;
    /* current plan */
    int plan_n, plan_h, plan_w, plan_train, plan_begin, plan_end, planned;
    float *arena;
    size_t arena_cap;     /* floats */
    size_t arena_used;    /* floats */
    size_t off_col, col_size;  /* scratch: im2col and its gradient */
    int fwd_train_done;   /* a training forward ran and backward may follow */
    /* opts.in_norm: conv1's input offset convolved with the input's extent, [oc, oh, ow],
     * for an input of in_map_h x in_map_w (recomputed when the size or the offset changes) */
    int in_node;          /* conv node with the input_offset tensor, -1 if none */
    float *in_map;
    int in_map_h, in_map_w, in_map_ok;
    int run_begin, run_end, run_n;
    int grad_node;        /* nn_net_stage_grad: the node whose output and gradient the plan
                           * keeps to the end (0: none) */
    /* image-parallel inference (par_plan): an inference plan for plan_threads > 1 threads
     * runs n_par phases of nodes [begin, end) in turn, each per thread on its own images,
     * chunk at a time, on buffers (bufs floats, then col of conv scratch) of its own; thread
     * ith's start at off_par + ith * par_room; par_cur: the phase running (1, 2) */
    int plan_threads, n_par, par_cur;
    struct {
        int begin, end, chunk;
        size_t bufs, col;
    } par[2];
    size_t off_par, par_room;
};

/* Runs that took nodes image-parallel (par_plan) since the last reset; reset != 0 resets */
long nn_net_par_runs(int reset);

/* ---- per-function instruction sets: the functions between NN_TARGET_PUSH("avx512f,fma") and
 * NN_TARGET_POP() are compiled for that set (GCC: #pragma GCC target; clang: #pragma clang
 * attribute) and called only when the CPU has it (nn_conv_isa). */
#define NN_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define NN_TARGET_PUSH(t)                                                                  \
    NN_PRAGMA(clang attribute push(__attribute__((target(t))), apply_to = function))
#define NN_TARGET_POP() NN_PRAGMA(clang attribute pop)
#else
#define NN_TARGET_PUSH(t) NN_PRAGMA(GCC push_options) NN_PRAGMA(GCC target(t))
#define NN_TARGET_POP() NN_PRAGMA(GCC pop_options)
#endif

/* ---- allocation (nn_alloc.c): every malloc/calloc/realloc of the engine, so that a test can
 * fail the N-th one. Memory is released with free(). */
void *nn_malloc(size_t n);
void *nn_calloc(size_t n, size_t size);
void *nn_realloc(void *p, size_t n);
/* n bytes for a large buffer that kernels stream through (the activation arena), released
 * with nn_free_large (not free). On Linux the block is a mapping of its own whose whole 2 MB
 * pages are advised MADV_HUGEPAGE, so that with transparent huge pages in `madvise` mode
 * (Debian's default) they are backed by huge pages (fewer TLB misses: training rows +1-5%,
 * docs/performance.md, "Eleventh pass"); WB_NN_NOTHP=1 in the environment skips the advice.
 * Under AddressSanitizer (and off Linux) it is nn_malloc / free, and nn_large_advised() is 0. */
void *nn_malloc_large(size_t n);
void nn_free_large(void *p);
int nn_large_advised(void);
/* Test-only: from now on the n-th engine allocation (counted from 1, n <= 0: none) returns NULL;
 * set from WB_FAULT_ALLOC=n at the first allocation otherwise. nn_fault_alloc_count: how many
 * allocations were counted since (counting runs only while a failure point is set). */
void nn_fault_alloc_set(long n);
long nn_fault_alloc_count(void);

/* ---- graph building (nn_net.c) */
nn_net *nn_net_alloc(const char *arch, const nn_net_opts *opts, wb_error *err);
int nn_net_begin_stage(nn_net *net, const char *name, wb_error *err);
void nn_net_end_stage(nn_net *net);
/* Appends a node; returns its index or -1. name is the module prefix. */
int nn_net_add_node(nn_net *net, nn_op op, int in0, int in1, const char *name, wb_error *err);
/* Adds a tensor "<node name><suffix>" to node's slot; returns its index or -1. */
long nn_net_add_tensor(nn_net *net, int node, int slot, const char *full_name,
                       nn_tensor_kind kind, int ndim, const int *shape, wb_error *err);
/* conv node with weight (and bias if has_bias); names "<name>.weight"/"<name>.bias"
 * unless wname/bname given. */
int nn_add_conv(nn_net *net, int in, const char *name, int ic, int oc, int k, int s, int p,
                int groups, int has_bias, const char *wname, const char *bname, wb_error *err);
int nn_add_bn(nn_net *net, int in, const char *name, int c, float eps, float momentum,
              const char *const names[4], wb_error *err);
int nn_add_simple(nn_net *net, nn_op op, int in, const char *name, wb_error *err);
int nn_net_finish(nn_net *net, wb_error *err);  /* init params, default freezing */
nn_net *nn_net_create_mobilenet_v1(const nn_net_opts *opts, wb_error *err);

/* ---- threads (nn_thread.c). The engine owns the cores: OpenBLAS is single-threaded and
 * parallel kernels split fixed index ranges by ith/nth over nn_get_threads() threads. */
typedef void (*nn_par_fn)(void *ctx, int ith, int nth);
/* Runs fn(ctx, ith, nth) for ith = 0 .. nth-1 (in parallel when the pool is free; the caller
 * runs slice 0) and returns when all are done. */
void nn_par_run(nn_par_fn fn, void *ctx);
/* nn_par_for whose pieces each run alone on their thread: inside fn, nn_get_threads() is 1
 * and every nn_par_run / nn_par_for runs inline (one slice), so each piece runs the engine's
 * kernels single-threaded, side by side with the others (image-parallel inference, nn_net.c).
 * Called from inside such a piece, it runs the pieces one after another. */
void nn_par_for_alone(size_t n, nn_par_for_fn fn, void *ctx);
/* Slice ith of nth of [0, n) in blocks of align elements: [*begin, *end). */
void nn_par_range(size_t n, int ith, int nth, size_t align, size_t *begin, size_t *end);

/* ---- kernels (nn_ops.c). Gradients are accumulated (+=) into dx/dw/db. Kernels run on
 * the engine's threads; results depend on the thread count only through GEMM slicing. */
typedef struct nn_conv_geom {
    int n, ic, h, w, oc, kh, kw, sh, sw, ph, pw, groups, oh, ow;
    int batch; /* images per GEMM (late layers have few pixels); 0: nn_conv2d_batch_wanted */
} nn_conv_geom;

/* Images per GEMM that give it about 1024 columns (1 for grouped convs). */
int nn_conv2d_batch_wanted(const nn_conv_geom *g);

/* Floats of scratch one conv needs (0 when it goes straight to GEMM or depthwise): im2col of
 * a few images side by side and their GEMM output. Backward takes two such buffers. */
size_t nn_conv2d_col_size(const nn_conv_geom *g);
/* What the backward and the direct kernels use of it (their chunks of images, and the plan's
 * choice of images per GEMM, are sized by this); the forward of a conv on a map under 1024
 * pixels may need more (its images padded to 16 columns, col and output side by side). */
size_t nn_conv2d_col_size_base(const nn_conv_geom *g);
/* Floats of scratch the direct 3x3 kernels need for one image of any pass the shape allows
 * (0: not a shape they take). nn_conv2d_col_size is at least this: whether a layer runs
 * direct then depends on its shape only, not on the batch. */
size_t nn_conv_direct_min_scratch(const nn_conv_geom *g);
/* y [n, oc, oh, ow] = conv(x [n, ic, h, w], w [oc, ic/g, kh, kw]) + b; col: scratch. */
void nn_conv2d_forward(const nn_conv_geom *g, const float *x, const float *wt, const float *b,
                       float *y, float *col);
/* The same, each output then v * post_a[oc] + post_b[oc] and the activation act (NN_ACT_*),
 * as nn_conv_direct_forward_post: the bits of the conv and an eval-mode BN (and its ReLU /
 * ReLU6) run apart, in the conv's pass (post_a NULL: none). */
void nn_conv2d_forward_post(const nn_conv_geom *g, const float *x, const float *wt,
                            const float *b, const float *post_a, const float *post_b, int act,
                            float *y, float *col);
/* dx (may be NULL), dw (may be NULL, then x may be NULL), db (may be NULL). */
void nn_conv2d_backward(const nn_conv_geom *g, const float *x, const float *wt,
                        const float *dy, float *dx, float *dw, float *db, float *col,
                        float *dcol);
/* The same; set_dx: dx is overwritten, not accumulated into (the bits of a zeroed dx; the
 * direct kernel stores 0 + its value without reading dx, the others zero it first, in
 * parallel). */
void nn_conv2d_backward_set(const nn_conv_geom *g, const float *x, const float *wt,
                            const float *dy, float *dx, int set_dx, float *dw, float *db,
                            float *col, float *dcol);

/* ---- direct 3x3 convolutions (nn_conv_direct.c): stride 1 and 2, groups 1, padding <= 2,
 * for the layers where im2col + GEMM is slow (few channels, large images). nn_conv2d_forward
 * and nn_conv2d_backward call them per pass when nn_conv_direct_use says so; scratch is the
 * conv's usual scratch (nn_conv2d_col_size floats). Every instruction set and every thread
 * count gives the same bits. */
typedef enum { NN_CONV_AUTO = 0, NN_CONV_GEMM, NN_CONV_DIRECT } nn_conv_algo;
typedef enum { NN_ISA_C = 0, NN_ISA_AVX2, NN_ISA_AVX512 } nn_isa;
enum { NN_PASS_FWD = 0, NN_PASS_DX, NN_PASS_DW };
/* Which algorithm: AUTO (the measured rule), GEMM everywhere, or DIRECT wherever the shape
 * allows. Default from WB_NN_CONV=auto|gemm|direct, read at first use. */
void nn_conv_set_algo(nn_conv_algo a);
nn_conv_algo nn_conv_algo_get(void);
/* Instruction set of the direct kernels: the best the CPU has (cpuid), or lower when asked
 * (WB_NN_ISA=c|avx2, read at first use, or this call, which clamps to what the CPU has and
 * returns the set in effect). */
nn_isa nn_conv_set_isa(nn_isa isa);
nn_isa nn_conv_isa(void);
const char *nn_isa_name(nn_isa isa);
/* 1 if pass (NN_PASS_*) of conv g runs the direct kernel. */
int nn_conv_direct_use(const nn_conv_geom *g, int pass);
/* Calls of each direct pass so far (forward, dx, dw); reset to 0 if reset. */
void nn_conv_direct_counts(long counts[3], int reset);
/* The direct forward (post_a NULL: y = conv + b), each output then v * post_a[oc] + post_b[oc]
 * (float multiply, then add: eval-mode BN's arithmetic) and then the activation relu
 * (NN_ACT_*): the bits of the conv, BN and ReLU / ReLU6 run apart. */
void nn_conv_direct_forward_post(const nn_conv_geom *g, const float *x, const float *wt,
                                 const float *b, const float *post_a, const float *post_b,
                                 int relu, float *y, float *scratch);
/* dx += input gradient (stride 1 only); set: dx = 0 + input gradient, dx not read */
void nn_conv_direct_dx(const nn_conv_geom *g, const float *wt, const float *dy, float *dx,
                       float *scratch);
void nn_conv_direct_dx_set(const nn_conv_geom *g, const float *wt, const float *dy, float *dx,
                           int set, float *scratch);
/* dw += weight gradient */
void nn_conv_direct_dw(const nn_conv_geom *g, const float *x, const float *dy, float *dw,
                       float *scratch);

/* ---- Winograd F(2x2, 3x3) (nn_conv_wino.c) for 3x3 convs of stride 1 and padding 1 with at
 * least 8 channels in and out, where nn_conv_wino_use says so: the forward and the input
 * gradient, called by the direct passes (nn_conv_direct_forward_post, nn_conv_direct_dx_set;
 * their nn_conv_direct_counts include these calls), and the weight gradient, called by
 * nn_conv2d_backward. Every thread count and instruction set gives the same bits (forward and
 * input gradient: also every batch); other bits than the direct kernel's. On by default;
 * WB_NN_WINO=0 (read at first use) or nn_conv_set_wino(0) turns it off; WB_NN_CONV=gemm
 * too. */
void nn_conv_set_wino(int on);
int nn_conv_wino_get(void);
/* 1 if the shape is one it computes; nn_conv_wino_use: and it runs for pass (the rule) */
int nn_conv_wino_shape(const nn_conv_geom *g);
int nn_conv_wino_use(const nn_conv_geom *g, int pass);
/* Calls so far (all three passes); reset to 0 if reset. */
long nn_conv_wino_calls(int reset);
/* Floats of scratch it needs at least for any shape it computes, every pass (0 for others),
 * and for the shapes and passes the rule gives it (0 for others: what the conv's scratch is
 * sized with, whether it is on or off, so that turning it on never finds the scratch short). */
size_t nn_conv_wino_scratch(const nn_conv_geom *g);
size_t nn_conv_wino_min_scratch(const nn_conv_geom *g);
/* avail: floats at scratch */
void nn_conv_wino_forward_post(const nn_conv_geom *g, const float *x, const float *wt,
                               const float *b, const float *post_a, const float *post_b,
                               int act, float *y, float *scratch, size_t avail);
void nn_conv_wino_dx_set(const nn_conv_geom *g, const float *wt, const float *dy, float *dx,
                         int set, float *scratch, size_t avail);
/* dw += weight gradient (nn_conv2d_backward calls it where nn_conv_wino_use(g, NN_PASS_DW)) */
void nn_conv_wino_dw(const nn_conv_geom *g, const float *x, const float *dy, float *dw,
                     float *scratch, size_t avail);
/* Floats of scratch the direct kernels and Winograd may use of a conv's scratch. */
size_t nn_conv_direct_avail(const nn_conv_geom *g);

/* 1x1 stride-1 convs without padding, groups 1 (MobileNet's pointwise convs, ResNet-50's
 * bottleneck convs; nn_conv_pw_use: the shape, and the rule gives it the layer): the forward
 * and input gradient as a register tile over the images' planes, in nn_conv_direct.c, chosen
 * by nn_conv_isa() like the direct kernels; every instruction set, batch and thread count
 * gives the same bits. post_a / post_b / act as nn_conv_direct_forward_post. */
int nn_conv_pw_use(const nn_conv_geom *g);
void nn_conv_pw_forward_post(const nn_conv_geom *g, const float *x, const float *wt,
                             const float *b, const float *post_a, const float *post_b, int act,
                             float *y);
/* The input gradient by the same kernel (the weights read transposed in place): dx += W^T dy,
 * or with set dx = W^T dy (dx not read); nn_conv_pw_use_dx: the rule for this pass. */
int nn_conv_pw_use_dx(const nn_conv_geom *g);
void nn_conv_pw_dx_set(const nn_conv_geom *g, const float *wt, const float *dy, float *dx,
                       int set);

/* Depthwise 3x3 convs (groups = channels), stride 1 or 2, padding 0..2 (nn_conv_dw_use):
 * vectorised kernels in nn_conv_direct.c, chosen by nn_conv_isa() like the direct kernels;
 * every instruction set and thread count gives the same bits. nn_conv2d_forward/backward
 * call them; forward_post adds eval-mode BN and the activation (NN_ACT_*) in the store, as
 * nn_conv_direct_forward_post. Backward: dx and dw (either may be NULL) accumulated into;
 * set_dx: dx overwritten instead (0 + its taps: the bits of a zeroed dx), not read. */
int nn_conv_dw_use(const nn_conv_geom *g);
void nn_conv_dw_forward_post(const nn_conv_geom *g, const float *x, const float *wt,
                             const float *b, const float *post_a, const float *post_b, int act,
                             float *y);
void nn_conv_dw_backward(const nn_conv_geom *g, const float *x, const float *wt, const float *dy,
                         float *dx, int set_dx, float *dw);

/* The activation fused into a BN (or a direct conv's eval-mode BN): none, ReLU, ReLU6. */
enum { NN_ACT_NONE = 0, NN_ACT_RELU = 1, NN_ACT_RELU6 = 2 };

void nn_bn_forward_train(int n, int c, int hw, const float *x, const float *gamma,
                         const float *beta, float eps, float momentum, float *rmean,
                         float *rvar, float *y, float *save_mean, float *save_invstd);
void nn_bn_forward_eval(int n, int c, int hw, const float *x, const float *gamma,
                        const float *beta, float eps, const float *rmean, const float *rvar,
                        float *y);
/* The same, followed by the activation relu (NN_ACT_*) in the same pass (y is then the
 * activation's output; the values are those of the two layers run apart). */
void nn_bn_relu_forward_train(int n, int c, int hw, const float *x, const float *gamma,
                              const float *beta, float eps, float momentum, float *rmean,
                              float *rvar, float *y, float *save_mean, float *save_invstd,
                              int relu);
void nn_bn_relu_forward_eval(int n, int c, int hw, const float *x, const float *gamma,
                             const float *beta, float eps, const float *rmean, const float *rvar,
                             float *y, int relu);
/* batch_stats: 1 = gradient through the batch statistics (mean/invstd saved by the
 * training forward), 0 = eval-mode BN (mean/invstd computed from running stats). */
void nn_bn_backward(int n, int c, int hw, int batch_stats, const float *x,
                    const float *gamma, const float *mean, const float *invstd,
                    const float *dy, float *dx, float *dgamma, float *dbeta);
/* The backward of BN followed by the activation act (NN_ACT_*) whose output is act_y and whose
 * output gradient is dy: the activation's backward (dy where it passes, into a zeroed buffer)
 * and the BN's in one pass, the bits of the two run apart. set_dx: dx is overwritten, not
 * accumulated into (the bits of a zeroed dx). */
void nn_bn_act_backward(int n, int c, int hw, int batch_stats, const float *x,
                        const float *gamma, const float *mean, const float *invstd,
                        const float *act_y, int act, const float *dy, float *dx, int set_dx,
                        float *dgamma, float *dbeta);

void nn_relu_forward(size_t n, const float *x, float *y, float cap); /* cap <= 0: none */
void nn_relu_backward(size_t n, const float *y, const float *dy, float *dx, float cap);

void nn_maxpool_forward(const nn_conv_geom *g, const float *x, float *y);
/* 1: every maxpool window through the generic loop (tests compare the 3x3 stride-2 path). */
void nn_maxpool_set_generic(int on);
void nn_maxpool_backward(const nn_conv_geom *g, const float *x, const float *dy, float *dx);
void nn_avgpool_forward(const nn_conv_geom *g, const float *x, float *y);
void nn_avgpool_backward(const nn_conv_geom *g, const float *dy, float *dx);
void nn_gap_forward(int n, int c, int hw, const float *x, float *y);
void nn_gap_backward(int n, int c, int hw, const float *dy, float *dx);

/* y [n, out] = x [n, in] W^T + b */
void nn_linear_forward(int n, int in, int out, const float *x, const float *wt, const float *b,
                       float *y);
void nn_linear_backward(int n, int in, int out, const float *x, const float *wt,
                        const float *dy, float *dx, float *dw, float *db);

/* mask receives 0 or 1/(1-p); y = x * mask. */
void nn_dropout_forward(size_t n, const float *x, float p, nn_rng *rng, float *mask, float *y);
void nn_dropout_backward(size_t n, const float *mask, const float *dy, float *dx);

void nn_add_forward(size_t n, const float *a, const float *b, float *y);
/* y = max(a + b, 0): a residual add and the ReLU after it in one pass (the same bits). */
void nn_add_relu_forward(size_t n, const float *a, const float *b, float *y);
void nn_add_acc(size_t n, const float *dy, float *dx); /* dx += dy */
/* The backward of y = max(a + b, 0) from y and dy: ReLU's backward and the add's in one pass,
 * into dx0 and dx1 (either may be NULL; set0/set1: overwritten, else accumulated into). The
 * bits of the two backward passes run apart into zeroed buffers. */
void nn_add_relu_backward(size_t n, const float *y, const float *dy, float *dx0, int set0,
                          float *dx1, int set1);

void nn_pad_forward(int n, int c, int h, int w, int pt, int pb, int pl, int pr,
                    const float *x, float *y);
void nn_pad_backward(int n, int c, int h, int w, int pt, int pb, int pl, int pr,
                     const float *dy, float *dx);

void nn_shortcut_a_forward(int n, int c, int h, int w, int s, int cb, int ca, const float *x,
                           float *y);
/* dx += the gradient; set: dx overwritten instead (each plane zeroed, then added into: the
 * same bits) */
void nn_shortcut_a_backward_set(int n, int c, int h, int w, int s, int cb, int ca,
                                const float *dy, float *dx, int set);

#endif
