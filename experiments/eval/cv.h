/* cv.h — patient-grouped, stratified k-fold cross-validation, repeats, an inner grouped
 * validation split, and a leak check
 * (their random numbers come from base/wb_rng.h).
 *
 *     // given: size_t n; const char *const *patient_ids; const int *label; uint64_t seed;
 *     size_t *group = malloc(n * sizeof *group), n_groups;
 *     exp_cv_groups_from_strings(patient_ids, n, group, &n_groups, &err);  // dense 0..G-1
 *     exp_cv_folds cv;
 *     exp_cv_folds_init(&cv);
 *     if (exp_cv_split(group, label, n, 5, 2, seed, &cv, &err) != 0) ...; // 5 folds x 2 repeats
 *     int *role = malloc(n * sizeof *role);
 *     exp_cv_roles(&cv, 0, 3, 0.2, role, &err);  // repeat 0, test fold 3, 20% of train as val
 *     // role[i] is EXP_CV_TRAIN, EXP_CV_VAL or EXP_CV_TEST
 *     exp_cv_check_roles(role, group, n, &err);  // refuses a patient in two roles
 *     exp_cv_folds_free(&cv);
 *
 * Items are images; groups are patients. No group is ever split across folds, or across the
 * train / validation / test roles. A group's stratum is the largest label of its items
 * (binary: a patient is positive if any image is); with more than two label values (some
 * label > 1), the label of its items that the fewest groups have (ties: the larger label),
 * so that each rare class is spread evenly over the folds. Everything is a pure function of the inputs
 * and the seed, through our own xoshiro256** generator (never rand()), so the same data and
 * seed give the same folds on every machine. docs/metrics.md describes the algorithm.
 */
#ifndef EXP_CV_H
#define EXP_CV_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"
#include "base/wb_rng.h"

/* ------------------------------------------------------------------------------- groups */

/* Maps per-item group ids (patient ids) to dense indices 0 .. n_groups-1, numbered in order of
 * first appearance. group[] has n entries, caller-allocated. Fails (WB_E_DATA) on a NULL or
 * empty string id, naming the item. */
int exp_cv_groups_from_strings(const char *const *ids, size_t n, size_t *group, size_t *n_groups,
                               wb_error *err);
int exp_cv_groups_from_ints(const int64_t *ids, size_t n, size_t *group, size_t *n_groups,
                            wb_error *err);

/* ------------------------------------------------------------------------------- splits */

enum { EXP_CV_MAX_FOLDS = 100, EXP_CV_MAX_REPEATS = 1000, EXP_CV_MAX_CLASSES = 1000 };

/* A repeated k-fold split of n items. Caller-owned: exp_cv_folds_init, then exp_cv_split fills
 * it (freeing what it held), exp_cv_folds_free releases it. */
typedef struct exp_cv_folds {
    size_t n;          /* items */
    size_t n_groups;
    int folds, repeats;
    uint64_t seed;
    int *fold;          /* [repeats * n]: test fold of item i in repeat r is fold[r * n + i] */
    size_t *group;      /* [n]: copy of the dense group index of each item */
    int *group_label;   /* [n_groups]: the stratum of each group (max label of its items) */
    int fixed;          /* a fixed split (exp_cv_fixed): fold 0 is the test set, and items of
                         * fold EXP_CV_NEVER are only ever trained (or validated) on */
} exp_cv_folds;

void exp_cv_folds_init(exp_cv_folds *f);
void exp_cv_folds_free(exp_cv_folds *f); /* NULL is a no-op; leaves f initialised */

/* Stratified group k-fold, repeated. group[i] in 0..G-1 (dense, see exp_cv_groups_from_*),
 * label[i] >= 0 (0/1 for binary). For each repeat r, with the stream wb_rng_derive(seed, r):
 * the groups are shuffled, then stably sorted by stratum, by the number of their items whose
 * label equals the stratum (largest first), and by size (largest first); each group goes to the
 * fold with the fewest groups of its stratum, ties broken by fewest such matching items, then
 * fewest items, then a per-repeat random order of the folds. So the groups of each stratum are
 * spread evenly (fold counts differ by at most one), and positive images and fold sizes are
 * balanced as far as whole patients allow.
 * Fails (WB_E_DATA) when a stratum present has fewer groups than folds (a test fold would miss
 * that class: use fewer folds), on a negative label, or a group index >= n. folds 2..100,
 * repeats 1..1000 (WB_E_USAGE otherwise). */
int exp_cv_split(const size_t *group, const int *label, size_t n, int folds, int repeats,
                 uint64_t seed, exp_cv_folds *out, wb_error *err);

/* A fixed train/test split (an official test set, cv.split_column) as one fold of the same
 * machinery: folds 1, fold[r * n + i] 0 for the items with is_test[i] and EXP_CV_NEVER for
 * the others in every one of the repeats (1..1000: the same sides each time; what a repeat
 * changes is the inner validation split and the training seed, both derived from the repeat),
 * group_label the strata as exp_cv_split makes them, so exp_cv_roles gives the training items'
 * inner validation split exactly as in a cross-validation fold. Fails (WB_E_DATA) when a group
 * has items on both sides (naming the items), or a side is empty. */
enum { EXP_CV_NEVER = -1 };
int exp_cv_fixed(const size_t *group, const int *label, const unsigned char *is_test, size_t n, int repeats, uint64_t seed,
                 exp_cv_folds *out, wb_error *err);

/* Item roles for one (repeat, test fold). */
enum { EXP_CV_TRAIN = 0, EXP_CV_VAL = 1, EXP_CV_TEST = 2 };

/* Fills role[0..n) for repeat r and test fold k: EXP_CV_TEST for the items of fold k; of the
 * remaining groups, about val_fraction per stratum (round(val_fraction * groups in stratum),
 * at least 1 if val_fraction > 0 and the stratum has 2 or more groups there, never all of them)
 * become EXP_CV_VAL, chosen with the stream derive(derive(derive(seed, r), k), 0x7661)
 * (a shuffle per stratum); the rest EXP_CV_TRAIN. val_fraction in [0, 0.9]; 0 gives no
 * validation items. role is caller-allocated with f->n entries. */
int exp_cv_roles(const exp_cv_folds *f, int repeat, int fold, double val_fraction, int *role,
                 wb_error *err);

/* Refuses (WB_E_DATA, naming the group, items and folds) a split in which a group's items are
 * in two folds of one repeat (for a fixed split: in train and test), a fold value outside
 * 0..folds-1 (a fixed split: also EXP_CV_NEVER), or an empty fold. group[] is the
 * caller's own group index per item (so a split loaded from disk is checked against the data,
 * not against its own copy); n must equal f->n. */
int exp_cv_check(const exp_cv_folds *f, const size_t *group, size_t n, wb_error *err);

/* Refuses (WB_E_DATA) roles in which one group has items in two roles (train/val/test), or a
 * role value that is not one of the three. */
int exp_cv_check_roles(const int *role, const size_t *group, size_t n, wb_error *err);

#endif
