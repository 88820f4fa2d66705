/* train.h — fine-tuning a backbone variant on one training fold, with early stopping on an
 * inner validation split, and scoring held-out images.
 *
 *     // given: const exp_config *cfg; size_t v; const exp_dataset *ds; exp_split split; const wb_tensor_list *weights;
 *     exp_train_cfg tc; exp_train_cfg_from_config(cfg, v, &tc, &err);   // variant v of the config
 *     exp_train_result tr;
 *     exp_train_backbone(ds, &split, &tc, weights, NULL, NULL, &tr, &err); // tr.test_scores[i], tr.curve
 *     exp_train_result_free(&tr);
 *
 * Deterministic: the same data, config, seed and thread count give the same scores bit for
 * bit (batches come from a seeded shuffle; the engine reduces in a fixed order).
 */
#ifndef EXP_TRAIN_H
#define EXP_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/config/config.h"
#include "experiments/data/dataset.h"
#include "experiments/model/probe.h"
#include "base/wb_tensor.h"
#include "nets/nn.h"
#include "base/wb_error.h"

/* The pretrained backbone's pooled features of every dataset item (inference mode,
 * unaugmented), computed once on first use in a fixed order (items 0..n-1 in batches) and
 * shared by every fold and variant of a run: the linear probe's input. Valid only for one
 * dataset, architecture, input channel count and set of pretrained weights; not used without
 * pretrained weights (a random backbone differs per fold). Beyond exp_train_cfg's
 * features_max_bytes (data.memory_mb) the features go to an unlinked spill file next to the
 * preprocessed cache instead of memory, and the probe reads its rows from there a chunk at a
 * time (exp_probe_fit_rows: the same bits). Caller-owned: zero it, then exp_feature_cache_free. */
typedef struct exp_feature_cache {
    size_t n;  /* items; 0 until first use */
    size_t dim;
    float *f;  /* [n, dim]: the network's float features (half the memory of doubles; the
                * probe reads them as doubles, the same values); NULL when spilled */
    int spilled; /* 1: the features are in fd, an unlinked file of n x dim floats */
    int fd;
    struct exp_probe_memo *memo; /* the last probe fitted on these features, with its head: a
                                  * fine-tuned variant whose head starts from the probe of the
                                  * same training and validation items and probe settings takes
                                  * it instead of fitting it again (the same bits; train.c) */
} exp_feature_cache;

void exp_feature_cache_free(exp_feature_cache *c);

/* The frozen prefixes (the output of the stages before the first that trains) of a run's
 * items, shared by its folds and by the variants with the same first trainable stage: the
 * prefix of an image is a function of the image, its flip and the pretrained weights alone,
 * so a fold reads the rows an earlier fold computed (the same bits: an image's output does not
 * depend on its batch). Rows per item: the unaugmented image (validation and test; training
 * without flips), and with flips the training draws' two warps (flip 0 and 1), each computed
 * the first time a fold asks for it. Used only with pretrained weights and when all rows fit
 * exp_train_cfg's prefix_max_bytes; otherwise each call keeps its own (as without this).
 * Caller-owned: zero it, then exp_prefix_cache_free (also when the key changes). */
typedef struct exp_prefix_cache {
    const void *ds, *weights; /* the key: dataset, weights, first trainable stage, rows per */
    int stage, kinds;         /* item, floats per row */
    size_t n, len;            /* items; floats per row */
    float *data;              /* [n x kinds, len] */
    unsigned char *have;      /* [n x kinds]: computed */
    unsigned long long used;  /* when a call last took it (slots: the least recent goes first) */
} exp_prefix_cache;

void exp_prefix_cache_free(exp_prefix_cache *c);

/* The global gradient-norm clip of a fine-tuned variant whose head starts from the probe,
 * when train.grad_clip is 0 (off). */
#define EXP_PROBE_HEAD_CLIP 1.0f

typedef struct exp_train_cfg {
    const char *arch;
    int in_channels;
    nn_net_opts net;        /* the backbone's options from the config (exp_backbone_opts); the
                             * weights add what they decide (nn_net_opts_from_weights) */
    char unfreeze[256];     /* "none", "all" or "layer2,layer3" */
    nn_bn_policy bn;
    int bn_affine;
    float stage_lr_scale[16]; /* by stage index; 0 = 1 */
    int epochs, batch_size, patience;
    nn_opt_kind optimizer;
    float lr, momentum, weight_decay, grad_clip;
    int nesterov;
    nn_sched_kind schedule;
    int step_epochs, warmup_epochs;
    float step_gamma;
    int balanced;           /* class weights n / (K n_c) */
    int n_classes;          /* K of the new head: 2 (binary) or the length of data.classes */
    int aug_flip;
    float aug_rotate_deg, aug_scale, aug_intensity;
    uint64_t seed;
    int save_weights;       /* export the kept epoch's weights into the result */
    int head_init_probe;    /* fine-tuned variants: start the head from the linear probe (else random) */
    exp_probe_cfg probe;    /* the probe's C grid, class weighting and class count */
    exp_feature_cache *features; /* shared frozen features (NULL: computed per call) */
    exp_prefix_cache *prefixes;  /* shared frozen prefixes (NULL: per call): n_prefixes slots,
                                  * one store per key (a sweep's variants that train from
                                  * different stages each keep theirs); together within
                                  * prefix_max_bytes, the least recently used freed first.
                                  * Zeroed by exp_train_cfg_from_config. */
    size_t n_prefixes;           /* slots in prefixes (0 is taken as 1) */
    char trunk_stages[1024];     /* the run's trunk: the unfreeze specs of its fine-tuned variants
                                  * that cache their frozen prefix, ';'-separated ("" none). With
                                  * shared prefixes, the rows at the earliest first trainable
                                  * stage among them (the trunk, when it fits prefix_max_bytes)
                                  * are made once per image and run: the linear probe's features
                                  * are made through it, and a variant that trains later makes
                                  * its own store's rows from the trunk's (when both fit), or
                                  * takes each batch on from the trunk's rows (when only the
                                  * trunk fits). The same bits. Zeroed by
                                  * exp_train_cfg_from_config. */
    int no_prefix_cache;    /* 1: recompute the frozen prefix at every step (the path continuous
                             * augmentation takes; tests compare it with the cache). Zeroed by
                             * exp_train_cfg_from_config. */
    size_t prefix_max_bytes; /* 0: no limit; else the cached frozen prefixes (training images
                              * x variants, validation and test) may take at most this much,
                              * and beyond it are recomputed each step (data.memory_mb, set by
                              * the run from exp_dataset.memory_budget). Zeroed likewise. */
    int infer_batch;        /* 0: inference passes (scoring, the feature and prefix caches) run
                             * in batches of nn_net_infer_batch (capped by batch_size); else in
                             * batches of min(this, batch_size) (tests compare). The bits do not
                             * depend on it. Zeroed by exp_train_cfg_from_config. */
    size_t features_max_bytes; /* 0: no limit; else the frozen-feature cache (items x width
                                * floats) beyond it is spilled to disk, and the probe's
                                * training, validation and test rows (as doubles) beyond it are
                                * read a chunk at a time instead of held (data.memory_mb, set
                                * by the run). Zeroed likewise. */
} exp_train_cfg;

/* The train section plus variant v's keys. Stage names are checked by the config already. */
int exp_train_cfg_from_config(const exp_config *cfg, size_t v, exp_train_cfg *tc, wb_error *err);

/* Does this variant fine-tune part of the backbone from a cached frozen prefix (some stage
 * trains, the augmentation is finite)? Its unfreeze spec then joins a run's trunk_stages. */
int exp_train_cfg_caches_prefix(const exp_train_cfg *tc);

/* Says once per variant what train.augment does to it: a warning when the variant is the
 * linear probe (unfreeze none: augmentation does not apply), an info line when continuous
 * augmentation (rotation, scaling, intensity) makes the frozen prefix be recomputed at every
 * step. Flips alone need no message: they are cached (exp_train_backbone). */
void exp_train_cfg_warn(const exp_train_cfg *tc, const char *variant);

/* Which dataset items train, validate (early stopping, threshold) and are scored. */
typedef struct exp_split {
    const size_t *train, *val, *test;
    size_t n_train, n_val, n_test;
} exp_split;

typedef struct exp_epoch_log {
    double train_loss; /* mean weighted cross-entropy over the epoch's batches */
    double val_auc;    /* NaN when the validation set lacks a class; K > 2: one-vs-rest macro AUC */
    double lr;
} exp_epoch_log;

/* The linear probe of a fold: the C grid with each value's validation log loss and AUC, and
 * the C kept (unfreeze none: the model; fine-tuned variants with head_init probe: the start). */
typedef struct exp_probe_log {
    size_t n_C; /* 0: no probe was fitted */
    double C[EXP_PROBE_MAX_C], val_loss[EXP_PROBE_MAX_C], val_auc[EXP_PROBE_MAX_C];
    int chosen;
} exp_probe_log;

typedef struct exp_train_result {
    double *val_scores;   /* n_val probabilities of the positive class (best epoch);
                           * K > 2: n_val x K class probabilities (softmax), row-major */
    double *test_scores;  /* n_test (x K) */
    exp_epoch_log *curve; /* one per epoch run (none for unfreeze none: the probe is fitted, not trained) */
    int n_epochs, best_epoch;
    size_t trainable_params;
    int trainable_stages;   /* backbone stages (the head not counted) with trainable parameters */
    exp_probe_log probe;
    int probe_reused;       /* 1: the head started from a probe fitted earlier on the same
                             * features, items and settings (exp_feature_cache's memo) */
    size_t prefix_images;   /* images the frozen prefix was run on by training and scoring
                             * (as a prefix or inside a whole forward; the probe's pooled
                             * features not counted); 0 when stage 0 trains or unfreeze none */
    int prefix_over_budget; /* the prefix cache would have exceeded tc->prefix_max_bytes:
                             * the prefix was recomputed at every step */
    wb_tensor_list weights; /* tc->save_weights: every parameter and buffer of the kept epoch,
                             * under the home framework's names (empty otherwise) */
} exp_train_result;

/* Trains from the pretrained weights (NULL: seeded random init) and scores val and test.
 * unfreeze "none": the linear probe (probe.h) on the frozen backbone's pooled features of the
 * unaugmented images, fitted to convergence with C chosen on the validation items; its
 * probabilities are the scores (double precision) and it is loaded into the network's head.
 * Other variants with head_init_probe: the same probe on the training and validation items'
 * features at the start, loaded into the head, then fine-tuning as configured.
 * progress (may be NULL) is called after each epoch. */
int exp_train_backbone(const exp_dataset *ds, const exp_split *split, const exp_train_cfg *tc,
                       const wb_tensor_list *weights,
                       void (*progress)(void *ctx, int epoch, const exp_epoch_log *log), void *ctx,
                       exp_train_result *out, wb_error *err);
void exp_train_result_free(exp_train_result *r);

#endif
