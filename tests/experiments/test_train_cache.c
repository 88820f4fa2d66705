/* test_train_cache.c — experiments/model/train: the frozen prefix cached per augmentation
 * variant. A CIFAR ResNet-20 (seeded random init, 1 x 16 x 16 inputs) with layer3 (or layer2
 * and layer3) training and train.augment.flip on is trained twice on the same synthetic
 * fold: through the cache (the prefix of each training image and of its flipped copy, each
 * step reading the variant its draw asks for) and through the uncached path (the whole
 * network on the augmented batch at every step). Every validation and test score and every
 * epoch's loss and validation AUC must agree bit for bit. The cached run must run the prefix
 * on n_val + n_test images plus each (training image, flip) pair the draws asked for once
 * (at most n_train x 2; counted here by replaying train.c's seeded shuffle and draws), the
 * uncached one on epochs x n_train + epochs x n_val + n_test (the last epoch's validation
 * scores are kept, not computed again). Without augmentation the
 * cache holds one variant (n_train + n_val + n_test); with a rotation (continuous) nothing is
 * cached. The inference passes (scoring, the prefix and feature caches) in batches of 1, 3 and
 * nn_net_infer_batch's give the bits of batches of train.batch_size (tc->infer_batch).
 * Across calls: a fold trained on the spare arena other trainings left (nets/nn_net.c) gives
 * the bits of the fold trained first; folds and variants on one shared prefix store
 * (exp_prefix_cache) give the bits of their own caches and compute only the rows no earlier
 * call did; so do a sweep's variants and the probe's features through the run's trunk (one
 * store at the earliest first trainable stage); a run stopped early gives the bits of the
 * same run cut at its best epoch.
 */
#include <stdlib.h>
#include <string.h>

#include "../wb_test.h"
#include "experiments/model/train.h"

enum { N = 40, H = 16, W = 16, EPOCHS = 3 };

static void make_dataset(exp_dataset *ds, exp_item *items, float *images)
{
    memset(ds, 0, sizeof *ds);
    nn_rng r;
    nn_rng_seed(&r, 1234);
    for (size_t i = 0; i < N; i++) {
        memset(&items[i], 0, sizeof items[i]);
        items[i].label = (int)(i % 3 == 0);
        float *im = images + i * H * W;
        for (int y = 0; y < H; y++)
            for (int x = 0; x < W; x++) {
                /* the positives have a bright blob in the upper half (so flips matter); some
                 * exact zeros of both signs (the warp writes +0 for both) */
                float v = nn_rng_uniform(&r) - 0.5f;
                if (items[i].label && y < H / 2 && x > 4 && x < 10) v += 1.5f;
                if ((x + y + (int)i) % 7 == 0) v = (x & 1) ? -0.0f : 0.0f;
                im[y * W + x] = v;
            }
    }
    ds->items = items;
    ds->n = N;
    ds->rows = H;
    ds->cols = W;
    ds->images = images;
    ds->n_classes = 2;
}

static void base_cfg(exp_train_cfg *tc)
{
    memset(tc, 0, sizeof *tc);
    tc->arch = "resnet20";
    tc->in_channels = 1;
    tc->net = nn_net_opts_default();
    snprintf(tc->unfreeze, sizeof tc->unfreeze, "layer3");
    tc->bn = NN_BN_FROZEN;
    tc->epochs = EPOCHS;
    tc->batch_size = 8;
    tc->optimizer = NN_OPT_SGD;
    tc->lr = 0.05f;
    tc->momentum = 0.9f;
    tc->schedule = NN_SCHED_CONSTANT;
    tc->n_classes = 2;
    tc->aug_flip = 1;
    tc->seed = 99;
    exp_probe_cfg_default(&tc->probe);
    tc->probe.n_classes = 2;
}

/* The distinct (training image, flip) pairs the draws of exp_train_backbone ask for: its
 * seeded Fisher-Yates shuffle per epoch, then per image the flip draw and the four others. */
static size_t replay_pairs(const exp_train_cfg *tc, size_t ntr)
{
    nn_rng rng;
    nn_rng_seed(&rng, tc->seed ^ 0x7A11ull);
    size_t order[64], n = 0;
    unsigned char have[128] = {0};
    for (size_t i = 0; i < ntr; i++) order[i] = i;
    for (int ep = 0; ep < tc->epochs; ep++) {
        for (size_t i = ntr; i > 1; i--) {
            size_t j = (size_t)(nn_rng_u64(&rng) % i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        for (size_t i = 0; i < ntr; i++) {
            int flip = nn_rng_uniform(&rng) < 0.5f;
            for (int k = 0; k < 4; k++) nn_rng_uniform(&rng);
            if (!have[order[i] * 2 + flip]) have[order[i] * 2 + flip] = 1, n++;
        }
    }
    return n;
}

static int same_bits(const void *a, const void *b, size_t n) { return memcmp(a, b, n) == 0; }

static void run_pair(const char *name, const exp_dataset *ds, const exp_split *sp, exp_train_cfg *tc,
                     size_t want_cached, size_t want_uncached)
{
    exp_train_result rc_, ru;
    wb_error e1 = {0}, e2 = {0};
    tc->no_prefix_cache = 0;
    int a = exp_train_backbone(ds, sp, tc, NULL, NULL, NULL, &rc_, &e1);
    tc->no_prefix_cache = 1;
    int b = exp_train_backbone(ds, sp, tc, NULL, NULL, NULL, &ru, &e2);
    CHECK(a == 0, "%s: cached run failed: %s", name, e1.msg);
    CHECK(b == 0, "%s: uncached run failed: %s", name, e2.msg);
    if (a || b) return;
    CHECK_EQ_INT(rc_.n_epochs, EPOCHS, "epochs run (cached)");
    CHECK_EQ_INT(ru.n_epochs, EPOCHS, "epochs run (uncached)");
    CHECK(same_bits(rc_.val_scores, ru.val_scores, sp->n_val * sizeof(double)), "%s: validation scores differ", name);
    CHECK(same_bits(rc_.test_scores, ru.test_scores, sp->n_test * sizeof(double)), "%s: test scores differ", name);
    for (int e = 0; e < EPOCHS; e++) {
        CHECK(same_bits(&rc_.curve[e].train_loss, &ru.curve[e].train_loss, sizeof(double)),
              "%s: epoch %d loss %.17g (cached) vs %.17g", name, e + 1, rc_.curve[e].train_loss, ru.curve[e].train_loss);
        CHECK(same_bits(&rc_.curve[e].val_auc, &ru.curve[e].val_auc, sizeof(double)) ||
                  (isnan(rc_.curve[e].val_auc) && isnan(ru.curve[e].val_auc)),
              "%s: epoch %d val AUC %.17g (cached) vs %.17g", name, e + 1, rc_.curve[e].val_auc, ru.curve[e].val_auc);
    }
    /* the training moved the scores away from a constant (so the comparison means something) */
    double lo = 1, hi = 0;
    for (size_t i = 0; i < sp->n_test; i++) lo = fmin(lo, rc_.test_scores[i]), hi = fmax(hi, rc_.test_scores[i]);
    CHECK(hi - lo > 1e-4, "%s: test scores all about %g", name, lo);
    CHECK_EQ_INT(rc_.prefix_images, want_cached, "prefix images (cached)");
    CHECK_EQ_INT(ru.prefix_images, want_uncached, "prefix images (uncached)");
    printf("%s: prefix run on %zu images cached, %zu uncached; test score[0] %.17g\n", name, rc_.prefix_images,
           ru.prefix_images, rc_.test_scores[0]);
    exp_train_result_free(&rc_);
    exp_train_result_free(&ru);
}

/* The inference passes (scoring, the prefix and feature caches) in batches of 1, 3 and the
 * rule's choice against batches of train.batch_size (tc->infer_batch): every validation and
 * test score, epoch and probe log the same bits. */
/* Weights to start from: one epoch of everything from the seeded init (tc is reset). */
static wb_tensor_list one_epoch_weights(const exp_dataset *ds, const exp_split *sp, exp_train_cfg *tc)
{
    exp_train_result r0;
    wb_error ew = {0};
    base_cfg(tc);
    snprintf(tc->unfreeze, sizeof tc->unfreeze, "all");
    tc->epochs = 1;
    tc->save_weights = 1;
    CHECK(exp_train_backbone(ds, sp, tc, NULL, NULL, NULL, &r0, &ew) == 0, "weights: %s", ew.msg);
    wb_tensor_list w0 = r0.weights;
    wb_tensor_list_init(&r0.weights);
    exp_train_result_free(&r0);
    return w0;
}

static void infer_batches(const char *name, const exp_dataset *ds, const exp_split *sp, exp_train_cfg *tc,
                          const wb_tensor_list *w, exp_feature_cache *fcs)
{
    static const int sizes[4] = {0, 1, 3, 0}; /* [0]: train.batch_size; [3]: 0, the rule */
    exp_train_result r[4];
    for (int k = 0; k < 4; k++) {
        wb_error e = {0};
        tc->infer_batch = k == 0 ? tc->batch_size : sizes[k];
        if (fcs) { /* a fresh feature cache per run: each fills it at its own batch */
            exp_feature_cache_free(fcs);
            tc->features = fcs;
        }
        int rc = exp_train_backbone(ds, sp, tc, w, NULL, NULL, &r[k], &e);
        CHECK(rc == 0, "%s, inference batch %d: %s", name, tc->infer_batch, e.msg);
        if (rc) {
            for (int j = 0; j < k; j++) exp_train_result_free(&r[j]);
            return;
        }
    }
    for (int k = 1; k < 4; k++) {
        const char *what = k == 3 ? "the rule's batch" : k == 1 ? "batch 1" : "batch 3";
        CHECK(same_bits(r[k].val_scores, r[0].val_scores, sp->n_val * sizeof(double)), "%s, %s: validation scores differ", name, what);
        CHECK(same_bits(r[k].test_scores, r[0].test_scores, sp->n_test * sizeof(double)), "%s, %s: test scores differ", name, what);
        CHECK_EQ_INT(r[k].n_epochs, r[0].n_epochs, "epochs");
        for (int e = 0; e < r[0].n_epochs && e < r[k].n_epochs; e++)
            CHECK(same_bits(&r[k].curve[e], &r[0].curve[e], sizeof r[0].curve[e]), "%s, %s: epoch %d differs", name, what, e + 1);
        CHECK(same_bits(&r[k].probe, &r[0].probe, sizeof r[0].probe), "%s, %s: the probe log differs", name, what);
        CHECK_EQ_INT(r[k].prefix_images, r[0].prefix_images, "prefix images");
    }
    double lo = 1, hi = 0;
    for (size_t i = 0; i < sp->n_test; i++) lo = fmin(lo, r[0].test_scores[i]), hi = fmax(hi, r[0].test_scores[i]);
    CHECK(hi - lo > 1e-4, "%s: test scores all about %g", name, lo);
    printf("%s: inference in batches of %d, 1, 3 and the rule's: test score[0] %.17g\n", name, tc->batch_size,
           r[0].test_scores[0]);
    for (int k = 0; k < 4; k++) exp_train_result_free(&r[k]);
    tc->infer_batch = 0;
}

/* Every tensor of two exported weight lists the same bits. */
static int same_weights(const wb_tensor_list *a, const wb_tensor_list *b)
{
    if (a->n != b->n || a->n == 0) return 0;
    for (size_t t = 0; t < a->n; t++) {
        size_t n = 1;
        for (int d = 0; d < a->items[t].ndim; d++) n *= (size_t)a->items[t].shape[d];
        if (strcmp(a->items[t].name, b->items[t].name) || !same_bits(a->items[t].data, b->items[t].data, n * sizeof(float)))
            return 0;
    }
    return 1;
}

/* Two results of one fold: the same scores, epochs, probe log and exported weights, bit for bit. */
static void same_result(const char *name, const exp_split *sp, const exp_train_result *a, const exp_train_result *b)
{
    CHECK(same_bits(a->val_scores, b->val_scores, sp->n_val * sizeof(double)), "%s: validation scores differ", name);
    CHECK(same_bits(a->test_scores, b->test_scores, sp->n_test * sizeof(double)), "%s: test scores differ", name);
    CHECK_EQ_INT(a->best_epoch, b->best_epoch, "best epoch");
    for (int e = 0; e <= a->best_epoch && e < a->n_epochs && e < b->n_epochs; e++)
        CHECK(same_bits(&a->curve[e], &b->curve[e], sizeof a->curve[e]), "%s: epoch %d differs", name, e + 1);
    CHECK(same_bits(&a->probe, &b->probe, sizeof a->probe), "%s: the probe log differs", name);
    CHECK(same_weights(&a->weights, &b->weights), "%s: the exported weights differ", name);
}

/* The spare arena (nets/nn_net.c: a freed network's activation memory is taken by the next):
 * a fold trained after other folds and variants, on the arena they left behind, gives the
 * bits of the same fold trained first on a fresh one (scores, epochs, exported weights). */
static void reuse_case(const char *name, const exp_dataset *ds, const exp_split *sp, const exp_split *other,
                       exp_train_cfg *tc, const wb_tensor_list *w)
{
    exp_train_result alone, mid, reused;
    wb_error e = {0};
    const int save = tc->save_weights;
    char unfreeze[sizeof tc->unfreeze];
    memcpy(unfreeze, tc->unfreeze, sizeof unfreeze);
    tc->save_weights = 1;
    nn_arena_spare_free();
    CHECK(nn_arena_spare_bytes() == 0, "%s: no spare arena after nn_arena_spare_free", name);
    CHECK(exp_train_backbone(ds, sp, tc, w, NULL, NULL, &alone, &e) == 0, "%s, alone: %s", name, e.msg);
    const size_t kept = nn_arena_spare_bytes();
    CHECK(kept > 0, "%s: the freed network's arena is kept", name);
    /* other folds and variants write their activations into it */
    static const char *const others[3] = {"all", "layer3", "layer2,layer3"};
    for (int k = 0; k < 3; k++) {
        snprintf(tc->unfreeze, sizeof tc->unfreeze, "%s", others[k]);
        CHECK(exp_train_backbone(ds, k == 1 ? sp : other, tc, w, NULL, NULL, &mid, &e) == 0, "%s, other %d: %s", name, k, e.msg);
        exp_train_result_free(&mid);
    }
    memcpy(tc->unfreeze, unfreeze, sizeof unfreeze);
    CHECK(nn_arena_spare_bytes() >= kept, "%s: a spare arena of at least %zu bytes (%zu)", name, kept, nn_arena_spare_bytes());
    CHECK(exp_train_backbone(ds, sp, tc, w, NULL, NULL, &reused, &e) == 0, "%s, reused: %s", name, e.msg);
    same_result(name, sp, &alone, &reused);
    printf("%s: %zu-byte spare arena; test score[0] %.17g alone and after other folds\n", name, kept, alone.test_scores[0]);
    exp_train_result_free(&alone);
    exp_train_result_free(&reused);
    tc->save_weights = save;
}

/* The run's shared prefix store (exp_prefix_cache): folds and variants trained one after the
 * other on one store give the bits of each trained with its own per-call cache; a fold whose
 * rows an earlier one computed computes none; a variant with another first trainable stage
 * or without flips starts the store again. */
static void shared_prefix_case(const exp_dataset *ds, const exp_split *sp, const exp_split *other,
                               exp_train_cfg *tc, const wb_tensor_list *w)
{
    exp_prefix_cache store = {0};
    static const struct { const char *unfreeze; int flip, fold; } steps[6] = {
        {"layer3", 1, 0}, {"layer3", 1, 1}, {"layer3", 1, 0}, {"layer2,layer3", 1, 0}, {"layer3", 0, 1}, {"layer3", 0, 0}};
    size_t computed[6] = {0}, own[6] = {0};
    for (int k = 0; k < 6; k++) {
        exp_train_result ref, got;
        wb_error e = {0};
        base_cfg(tc);
        snprintf(tc->unfreeze, sizeof tc->unfreeze, "%s", steps[k].unfreeze);
        tc->aug_flip = steps[k].flip;
        tc->save_weights = 1;
        tc->head_init_probe = k == 1;
        const exp_split *f = steps[k].fold ? other : sp;
        if (exp_train_backbone(ds, f, tc, w, NULL, NULL, &ref, &e) != 0) {
            CHECK(0, "shared prefixes, step %d, own cache: %s", k, e.msg);
            break;
        }
        tc->prefixes = &store;
        if (exp_train_backbone(ds, f, tc, w, NULL, NULL, &got, &e) != 0) {
            CHECK(0, "shared prefixes, step %d, shared: %s", k, e.msg);
            exp_train_result_free(&ref);
            break;
        }
        char name[64];
        snprintf(name, sizeof name, "shared prefixes, step %d", k);
        same_result(name, f, &ref, &got);
        computed[k] = got.prefix_images;
        own[k] = ref.prefix_images;
        exp_train_result_free(&ref);
        exp_train_result_free(&got);
    }
    /* the first fold and each new key compute what their own cache would; the same fold
     * again computes nothing; the other fold only the rows the first did not ask for */
    CHECK(computed[0] == own[0] && computed[3] == own[3] && computed[4] == own[4], "shared prefixes: new keys compute "
          "all their rows (%zu %zu %zu of %zu %zu %zu)", computed[0], computed[3], computed[4], own[0], own[3], own[4]);
    CHECK(computed[1] > 0 && computed[1] < own[1], "shared prefixes: the other fold computes %zu of %zu", computed[1], own[1]);
    CHECK(computed[2] == 0 && computed[5] == 0, "shared prefixes: a fold again computes %zu, %zu", computed[2], computed[5]);
    printf("shared prefixes: computed %zu %zu %zu %zu %zu %zu (own caches %zu %zu %zu %zu %zu %zu)\n", computed[0], computed[1],
           computed[2], computed[3], computed[4], computed[5], own[0], own[1], own[2], own[3], own[4], own[5]);
    exp_prefix_cache_free(&store);
    tc->prefixes = NULL;
}

/* Slots (a run keeps a store per key): a sweep's variants that train from different stages,
 * interleaved as a run does (A, B, A, B), each keep their store, so A and B again compute
 * nothing with two slots and everything with one; within a prefix_max_bytes that holds one
 * store but not both, the one in use is kept and the other freed, so A again computes nothing
 * and B again everything. The bits are those of each one's own cache every time. */
static void prefix_slots_case(const exp_dataset *ds, const exp_split *sp, exp_train_cfg *tc, const wb_tensor_list *w)
{
    static const char *const unfreeze[4] = {"layer3", "layer2,layer3", "layer3", "layer2,layer3"};
    for (int mode = 0; mode < 3; mode++) { /* 0: two slots; 1: one slot; 2: two slots, budget for one */
        exp_prefix_cache store[2] = {{0}};
        size_t computed[4] = {0}, budget = 0;
        for (int k = 0; k < 4; k++) {
            exp_train_result ref, got;
            wb_error e = {0};
            base_cfg(tc);
            snprintf(tc->unfreeze, sizeof tc->unfreeze, "%s", unfreeze[k]);
            tc->aug_flip = 1;
            tc->save_weights = 1;
            if (exp_train_backbone(ds, sp, tc, w, NULL, NULL, &ref, &e) != 0) {
                CHECK(0, "prefix slots %d, step %d, own cache: %s", mode, k, e.msg);
                break;
            }
            tc->prefixes = store;
            tc->n_prefixes = mode == 1 ? 1 : 2;
            tc->prefix_max_bytes = budget;
            if (exp_train_backbone(ds, sp, tc, w, NULL, NULL, &got, &e) != 0) {
                CHECK(0, "prefix slots %d, step %d, shared: %s", mode, k, e.msg);
                exp_train_result_free(&ref);
                break;
            }
            char name[64];
            snprintf(name, sizeof name, "prefix slots %d, step %d", mode, k);
            same_result(name, sp, &ref, &got);
            computed[k] = got.prefix_images;
            exp_train_result_free(&ref);
            exp_train_result_free(&got);
            if (mode == 2 && k == 1) { /* from now on: room for the larger store, not for both */
                size_t b0 = store[0].n * (size_t)store[0].kinds * store[0].len * sizeof(float);
                size_t b1 = store[1].n * (size_t)store[1].kinds * store[1].len * sizeof(float);
                CHECK(b0 && b1, "prefix slots: both stores filled (%zu, %zu bytes)", b0, b1);
                budget = (b0 > b1 ? b0 : b1) + 1;
            }
            if (mode == 2 && k == 2)
                CHECK(store[0].data && !store[1].data, "prefix slots: over the budget, A kept and B freed");
        }
        CHECK(computed[0] > 0 && computed[1] > 0, "prefix slots %d: new keys compute (%zu, %zu)", mode, computed[0], computed[1]);
        const size_t want2 = mode == 1 ? computed[0] : 0, want3 = mode == 0 ? 0 : computed[1];
        CHECK(computed[2] == want2 && computed[3] == want3, "prefix slots %d: A and B again compute %zu, %zu (expected %zu, %zu)",
              mode, computed[2], computed[3], want2, want3);
        printf("prefix slots %d: computed %zu %zu %zu %zu\n", mode, computed[0], computed[1], computed[2], computed[3]);
        for (int i = 0; i < 2; i++) exp_prefix_cache_free(&store[i]);
        tc->prefixes = NULL;
        tc->n_prefixes = 0;
        tc->prefix_max_bytes = 0;
    }
}

/* All slots full and a new key: the least recently used store goes. Two slots, keys A (layer3,
 * flips), B (layer2 and layer3, flips), C (layer3, no flips): A, B, A, C, A; C takes B's slot,
 * so the last A computes nothing (taking slot 0 instead would drop A). */
static void prefix_lru_case(const exp_dataset *ds, const exp_split *sp, exp_train_cfg *tc, const wb_tensor_list *w)
{
    static const struct { const char *unfreeze; int flip; } steps[5] = {
        {"layer3", 1}, {"layer2,layer3", 1}, {"layer3", 1}, {"layer3", 0}, {"layer3", 1}};
    exp_prefix_cache store[2] = {{0}};
    size_t computed[5] = {0};
    for (int k = 0; k < 5; k++) {
        exp_train_result got;
        wb_error e = {0};
        base_cfg(tc);
        snprintf(tc->unfreeze, sizeof tc->unfreeze, "%s", steps[k].unfreeze);
        tc->aug_flip = steps[k].flip;
        tc->prefixes = store;
        tc->n_prefixes = 2;
        if (exp_train_backbone(ds, sp, tc, w, NULL, NULL, &got, &e) != 0) {
            CHECK(0, "prefix LRU, step %d: %s", k, e.msg);
            break;
        }
        computed[k] = got.prefix_images;
        exp_train_result_free(&got);
    }
    CHECK(computed[3] > 0 && computed[4] == 0, "prefix LRU: C computes %zu, A after C %zu (expected 0)", computed[3],
          computed[4]);
    printf("prefix LRU: computed %zu %zu %zu %zu %zu\n", computed[0], computed[1], computed[2], computed[3], computed[4]);
    for (int i = 0; i < 2; i++) exp_prefix_cache_free(&store[i]);
    tc->prefixes = NULL;
    tc->n_prefixes = 0;
}

/* The run's trunk (exp_train_cfg.trunk_stages "layer3;layer2,layer3": kept at layer2): the
 * frozen variant's features made through it, then layer3, layer2 + layer3 (its own stage: the
 * trunk is its store), and layer3 on the other fold; each gives the bits of its own cache (and
 * feature cache). The features fill every item's unflipped row at layer2; the first fine-tuned
 * variant then computes only the flipped training pairs its draws ask for from pixels, the
 * second (same draws) nothing. Without a budget layer3 keeps a store of its own, made from the
 * trunk's rows; with a budget that holds the trunk alone, it takes each batch on from the
 * trunk instead: the same bits and counts either way. */
static void trunk_case(const exp_dataset *ds, const exp_split *sp, const exp_split *other, exp_train_cfg *tc,
                       const wb_tensor_list *w)
{
    size_t trunk_bytes = 0;
    for (int mode = 0; mode < 2; mode++) { /* 0: no budget; 1: room for the trunk alone */
        exp_prefix_cache store[4] = {{0}};
        exp_feature_cache fc_own = {0}, fc_trunk = {0};
        static const struct { const char *unfreeze; int fold; } steps[4] = {
            {"none", 0}, {"layer3", 0}, {"layer2,layer3", 0}, {"layer3", 1}};
        size_t computed[4] = {0};
        for (int k = 0; k < 4; k++) {
            exp_train_result ref, got;
            wb_error e = {0};
            const exp_split *f = steps[k].fold ? other : sp;
            base_cfg(tc);
            snprintf(tc->unfreeze, sizeof tc->unfreeze, "%s", steps[k].unfreeze);
            tc->save_weights = 1;
            tc->prefix_max_bytes = mode ? trunk_bytes + 1 : 0;
            tc->features = &fc_own;
            if (exp_train_backbone(ds, f, tc, w, NULL, NULL, &ref, &e) != 0) {
                CHECK(0, "trunk %d, step %d, own caches: %s", mode, k, e.msg);
                break;
            }
            tc->features = &fc_trunk;
            tc->prefixes = store;
            tc->n_prefixes = 4;
            snprintf(tc->trunk_stages, sizeof tc->trunk_stages, "layer3;layer2,layer3");
            if (exp_train_backbone(ds, f, tc, w, NULL, NULL, &got, &e) != 0) {
                CHECK(0, "trunk %d, step %d: %s", mode, k, e.msg);
                exp_train_result_free(&ref);
                break;
            }
            char name[64];
            snprintf(name, sizeof name, "trunk %d, step %d (%s)", mode, k, steps[k].unfreeze);
            same_result(name, f, &ref, &got);
            computed[k] = got.prefix_images;
            exp_train_result_free(&ref);
            exp_train_result_free(&got);
            if (k == 0) {
                const exp_prefix_cache *t = &store[0];
                size_t rows = 0;
                for (size_t i = 0; t->data && i < t->n; i++) rows += t->have[i * (size_t)t->kinds];
                CHECK(t->data && t->stage == 2 && t->kinds == 3 && rows == N,
                      "trunk %d: the features filled the layer2 store (stage %d, kinds %d, %zu of %d rows)", mode,
                      t->stage, t->kinds, rows, N);
                trunk_bytes = t->n * (size_t)t->kinds * t->len * sizeof(float);
            }
            if (k == 1)
                CHECK(mode ? !store[1].data : store[1].data && store[1].stage == 3,
                      "trunk %d: layer3 %s", mode, mode ? "reads the trunk alone" : "keeps its own store too");
        }
        CHECK_EQ_INT(computed[1], replay_pairs(tc, 24), "trunk: layer3 computes its flipped pairs");
        CHECK_EQ_INT(computed[2], 0, "trunk: layer2 + layer3 computes nothing");
        CHECK(computed[3] > 0, "trunk: the other fold computes its new pairs (%zu)", computed[3]);
        CHECK(store[0].data && store[0].stage == 2, "trunk %d: the trunk kept to the end", mode);
        printf("trunk %d: computed %zu %zu %zu %zu\n", mode, computed[0], computed[1], computed[2], computed[3]);
        for (int i = 0; i < 4; i++) exp_prefix_cache_free(&store[i]);
        exp_feature_cache_free(&fc_own);
        exp_feature_cache_free(&fc_trunk);
        tc->prefixes = NULL;
        tc->n_prefixes = 0;
        tc->features = NULL;
        tc->prefix_max_bytes = 0;
    }
}

/* Early stopping: a run stopped by patience keeps its best epoch (the weights restored, the
 * validation and test scored again); the same run cut at that epoch, with patience (the best
 * is the last: nothing restored, the last epoch's validation scores kept) and without, gives
 * the same bits (constant learning rate: the first epochs are the same). */
static void patience_case(const exp_dataset *ds, const exp_split *sp, exp_train_cfg *tc)
{
    exp_train_result stopped, cut, cut0;
    wb_error e = {0};
    base_cfg(tc);
    snprintf(tc->unfreeze, sizeof tc->unfreeze, "all");
    tc->save_weights = 1;
    tc->epochs = 10;
    tc->patience = 1;
    if (exp_train_backbone(ds, sp, tc, NULL, NULL, NULL, &stopped, &e) != 0) {
        CHECK(0, "patience: %s", e.msg);
        return;
    }
    CHECK(stopped.best_epoch < stopped.n_epochs - 1 && stopped.n_epochs < 10, "stopped early at epoch %d, best %d",
          stopped.n_epochs, stopped.best_epoch + 1);
    tc->epochs = stopped.best_epoch + 1;
    CHECK(exp_train_backbone(ds, sp, tc, NULL, NULL, NULL, &cut, &e) == 0, "cut: %s", e.msg);
    CHECK_EQ_INT(cut.n_epochs, tc->epochs, "epochs (cut)");
    tc->patience = 0;
    CHECK(exp_train_backbone(ds, sp, tc, NULL, NULL, NULL, &cut0, &e) == 0, "cut, no patience: %s", e.msg);
    same_result("early stop, restored vs cut", sp, &stopped, &cut);
    same_result("early stop, cut vs cut without patience", sp, &cut, &cut0);
    printf("early stopping: %d epochs, best %d; test score[0] %.17g\n", stopped.n_epochs, stopped.best_epoch + 1,
           stopped.test_scores[0]);
    exp_train_result_free(&stopped);
    exp_train_result_free(&cut);
    exp_train_result_free(&cut0);
}

int main(void)
{
    static exp_item items[N];
    static float images[N * H * W];
    exp_dataset ds;
    make_dataset(&ds, items, images);
    size_t tr[24], va[8], te[8];
    for (size_t i = 0; i < 24; i++) tr[i] = i;
    for (size_t i = 0; i < 8; i++) va[i] = 24 + i, te[i] = 32 + i;
    exp_split sp = {tr, va, te, 24, 8, 8};
    const size_t uncached = EPOCHS * 24 + EPOCHS * 8 + 8;
    exp_train_cfg tc;

    base_cfg(&tc); /* flips, layer3 trains, random head */
    size_t pairs = replay_pairs(&tc, 24);
    CHECK(pairs > 24 && pairs <= 48, "pairs drawn: %zu", pairs);
    run_pair("flip, layer3", &ds, &sp, &tc, pairs + 8 + 8, uncached);

    base_cfg(&tc); /* flips, layer2 and layer3 train with batch statistics, head from the probe */
    snprintf(tc.unfreeze, sizeof tc.unfreeze, "layer2,layer3");
    tc.bn = NN_BN_TRAIN;
    tc.head_init_probe = 1;
    tc.batch_size = 5; /* 24 = 4 x 5 + 4: a short last batch */
    run_pair("flip, layer2+3, bn train, probe head", &ds, &sp, &tc, pairs + 8 + 8, uncached);

    base_cfg(&tc); /* more epochs than variants: every pair is drawn, each computed once */
    tc.epochs = 8;
    CHECK_EQ_INT(replay_pairs(&tc, 24), 48, "pairs drawn in 8 epochs");
    exp_train_result r8;
    wb_error e8 = {0};
    CHECK(exp_train_backbone(&ds, &sp, &tc, NULL, NULL, NULL, &r8, &e8) == 0, "8 epochs: %s", e8.msg);
    CHECK_EQ_INT(r8.prefix_images, 48 + 8 + 8, "prefix images (8 epochs, cached)");
    exp_train_result_free(&r8);

    base_cfg(&tc); /* no augmentation: one variant */
    tc.aug_flip = 0;
    run_pair("no augmentation", &ds, &sp, &tc, 24 + 8 + 8, uncached);

    base_cfg(&tc); /* a rotation: continuous, nothing cached (both runs take the uncached path) */
    tc.aug_rotate_deg = 10;
    run_pair("flip + rotation", &ds, &sp, &tc, uncached, uncached);

    { /* the probe memo: a fine-tuned variant whose head starts from the probe of the items a
       * probe was just fitted on (the frozen variant's, same fold) takes that probe instead of
       * fitting it again, and ends with the same bits as with its own fit; another split fits */
        exp_train_result rf, ra, rb, rs;
        wb_error ew = {0};
        wb_tensor_list w0 = one_epoch_weights(&ds, &sp, &tc); /* weights to start from */
        exp_feature_cache fc = {0}, fc2 = {0};
        base_cfg(&tc);
        snprintf(tc.unfreeze, sizeof tc.unfreeze, "none");
        tc.features = &fc;
        CHECK(exp_train_backbone(&ds, &sp, &tc, &w0, NULL, NULL, &rf, &ew) == 0, "probe: %s", ew.msg);
        CHECK(fc.memo != NULL && !rf.probe_reused, "the frozen variant fits its probe and keeps it");
        base_cfg(&tc);
        tc.head_init_probe = 1;
        tc.features = &fc;
        CHECK(exp_train_backbone(&ds, &sp, &tc, &w0, NULL, NULL, &ra, &ew) == 0, "memo: %s", ew.msg);
        tc.features = &fc2;
        CHECK(exp_train_backbone(&ds, &sp, &tc, &w0, NULL, NULL, &rb, &ew) == 0, "own fit: %s", ew.msg);
        CHECK_EQ_INT(ra.probe_reused, 1, "the fine-tuned variant took the kept probe");
        CHECK_EQ_INT(rb.probe_reused, 0, "with a fresh feature cache it fits its own");
        CHECK(rf.probe.n_C > 1 && same_bits(&ra.probe, &rb.probe, sizeof ra.probe) && same_bits(&ra.probe, &rf.probe, sizeof ra.probe),
              "the probe log: the same bits kept, fitted again, and the frozen variant's");
        CHECK(same_bits(ra.test_scores, rb.test_scores, sp.n_test * sizeof(double)) &&
                  same_bits(ra.val_scores, rb.val_scores, sp.n_val * sizeof(double)),
              "fine-tuned from the kept probe: the same scores as from its own fit");
        for (int e = 0; e < EPOCHS; e++)
            CHECK(same_bits(&ra.curve[e].train_loss, &rb.curve[e].train_loss, sizeof(double)), "epoch %d loss", e + 1);
        size_t va2[8] = {24, 25, 26, 27, 28, 29, 30, 32}; /* another validation set: fitted anew */
        exp_split sp2 = {tr, va2, te, 24, 8, 8};
        tc.features = &fc;
        CHECK(exp_train_backbone(&ds, &sp2, &tc, &w0, NULL, NULL, &rs, &ew) == 0, "other split: %s", ew.msg);
        CHECK_EQ_INT(rs.probe_reused, 0, "another validation set does not take the kept probe");
        exp_train_result_free(&rf);
        exp_train_result_free(&ra);
        exp_train_result_free(&rb);
        exp_train_result_free(&rs);
        exp_feature_cache_free(&fc);
        exp_feature_cache_free(&fc2);
        wb_tensor_list_free(&w0);
    }

    { /* inference batches: the cached prefix (flips), the uncached path, the probe's features
       * from a feature cache (frozen) and per call (a fine-tuned variant's head, no cache) */
        base_cfg(&tc);
        infer_batches("flip, layer3, cached", &ds, &sp, &tc, NULL, NULL);
        base_cfg(&tc);
        tc.no_prefix_cache = 1;
        infer_batches("flip, layer3, uncached", &ds, &sp, &tc, NULL, NULL);
        base_cfg(&tc);
        tc.aug_flip = 0;
        tc.head_init_probe = 1;
        snprintf(tc.unfreeze, sizeof tc.unfreeze, "layer2,layer3");
        infer_batches("layer2+3, probe head", &ds, &sp, &tc, NULL, NULL);
        wb_tensor_list w0 = one_epoch_weights(&ds, &sp, &tc);
        exp_feature_cache fc = {0};
        base_cfg(&tc);
        snprintf(tc.unfreeze, sizeof tc.unfreeze, "none");
        infer_batches("frozen, feature cache", &ds, &sp, &tc, &w0, &fc);
        exp_feature_cache_free(&fc);
        wb_tensor_list_free(&w0);
    }

    { /* the spare arena across folds and variants; early stopping */
        size_t tr2[24], va2[8], te2[8];
        for (size_t i = 0; i < 24; i++) tr2[i] = 16 + i;
        for (size_t i = 0; i < 8; i++) va2[i] = i, te2[i] = 8 + i;
        exp_split other = {tr2, va2, te2, 24, 8, 8};
        base_cfg(&tc);
        snprintf(tc.unfreeze, sizeof tc.unfreeze, "all");
        reuse_case("reuse, all", &ds, &sp, &other, &tc, NULL);
        base_cfg(&tc);
        reuse_case("reuse, layer3, flips", &ds, &sp, &other, &tc, NULL);
        wb_tensor_list w0 = one_epoch_weights(&ds, &sp, &tc);
        exp_feature_cache fc = {0};
        base_cfg(&tc);
        snprintf(tc.unfreeze, sizeof tc.unfreeze, "none");
        tc.features = &fc;
        reuse_case("reuse, frozen", &ds, &sp, &other, &tc, &w0);
        exp_feature_cache_free(&fc);
        wb_tensor_list_free(&w0);
        w0 = one_epoch_weights(&ds, &sp, &tc);
        shared_prefix_case(&ds, &sp, &other, &tc, &w0);
        prefix_slots_case(&ds, &sp, &tc, &w0);
        prefix_lru_case(&ds, &sp, &tc, &w0);
        trunk_case(&ds, &sp, &other, &tc, &w0);
        wb_tensor_list_free(&w0);
        patience_case(&ds, &sp, &tc);
    }

    /* unfreeze all: no prefix, nothing counted */
    base_cfg(&tc);
    snprintf(tc.unfreeze, sizeof tc.unfreeze, "all");
    exp_train_result r;
    wb_error e = {0};
    CHECK(exp_train_backbone(&ds, &sp, &tc, NULL, NULL, NULL, &r, &e) == 0, "unfreeze all: %s", e.msg);
    CHECK_EQ_INT(r.prefix_images, 0, "prefix images (unfreeze all)");
    exp_train_result_free(&r);
    return wb_test_finish("experiments.train_cache");
}
