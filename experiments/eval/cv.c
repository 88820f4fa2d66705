/* cv.c — see cv.h. */
#include "experiments/eval/cv.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Fisher-Yates shuffle of a[0..n). */
static void shuffle(size_t *a, size_t n, wb_rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)wb_rng_below(r, i);
        size_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ---------------------------------------------------------------------------- sorting */

/* A stable merge sort of a[0..n) by cmp(ctx, x, y) < 0; tmp has n entries. (C11 qsort is not
 * stable and takes no context.) */
typedef int (*cmp_fn)(const void *ctx, size_t x, size_t y);

static void merge_sort(size_t *a, size_t *tmp, size_t n, cmp_fn cmp, const void *ctx)
{
    if (n < 2)
        return;
    size_t h = n / 2;
    merge_sort(a, tmp, h, cmp, ctx);
    merge_sort(a + h, tmp, n - h, cmp, ctx);
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n)
        tmp[k++] = cmp(ctx, a[j], a[i]) < 0 ? a[j++] : a[i++];
    while (i < h)
        tmp[k++] = a[i++];
    while (j < n)
        tmp[k++] = a[j++];
    memcpy(a, tmp, n * sizeof *a);
}

static int sort_indices(size_t *a, size_t n, cmp_fn cmp, const void *ctx, wb_error *err)
{
    size_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!tmp)
        return wb_err(err, WB_E_NOMEM, NULL, "cv: out of memory sorting %zu items", n);
    merge_sort(a, tmp, n, cmp, ctx);
    free(tmp);
    return 0;
}

/* ------------------------------------------------------------------------------- groups */

static int cmp_str(const void *ctx, size_t x, size_t y)
{
    const char *const *ids = ctx;
    return strcmp(ids[x], ids[y]);
}

static int cmp_i64(const void *ctx, size_t x, size_t y)
{
    const int64_t *ids = ctx;
    return (ids[x] > ids[y]) - (ids[x] < ids[y]);
}

/* Dense group numbers in order of first appearance, from a sort by id. */
static int densify(size_t n, cmp_fn cmp, const void *ctx, size_t *group, size_t *n_groups,
                   wb_error *err)
{
    *n_groups = 0;
    if (n == 0)
        return 0;
    if (n > SIZE_MAX / sizeof(size_t) / 2)
        return wb_err(err, WB_E_NOMEM, NULL, "cv: %zu items is too many", n);
    size_t *o = malloc(n * sizeof *o), *map = malloc(n * sizeof *map);
    if (!o || !map) {
        free(o);
        free(map);
        return wb_err(err, WB_E_NOMEM, NULL, "cv: out of memory for %zu group ids", n);
    }
    for (size_t i = 0; i < n; i++)
        o[i] = i;
    if (sort_indices(o, n, cmp, ctx, err) != 0) {
        free(o);
        free(map);
        return -1;
    }
    /* run number of each item (runs of equal ids), then renumber runs by first appearance */
    size_t run = 0;
    for (size_t k = 0; k < n; k++) {
        if (k > 0 && cmp(ctx, o[k - 1], o[k]) != 0)
            run++;
        group[o[k]] = run;
    }
    for (size_t r = 0; r <= run; r++)
        map[r] = SIZE_MAX;
    size_t next = 0;
    for (size_t i = 0; i < n; i++) {
        if (map[group[i]] == SIZE_MAX)
            map[group[i]] = next++;
        group[i] = map[group[i]];
    }
    *n_groups = next;
    free(o);
    free(map);
    return 0;
}

int exp_cv_groups_from_strings(const char *const *ids, size_t n, size_t *group, size_t *n_groups,
                               wb_error *err)
{
    if ((!ids || !group || !n_groups) && n > 0)
        return wb_err(err, WB_E_USAGE, NULL, "cv: NULL argument");
    for (size_t i = 0; i < n; i++)
        if (!ids[i] || !ids[i][0])
            return wb_err(err, WB_E_DATA, NULL,
                          "cv: item %zu has no patient id (the group of every image is needed "
                          "so that no patient is in two folds)",
                          i);
    return densify(n, cmp_str, ids, group, n_groups, err);
}

int exp_cv_groups_from_ints(const int64_t *ids, size_t n, size_t *group, size_t *n_groups,
                            wb_error *err)
{
    if ((!ids || !group || !n_groups) && n > 0)
        return wb_err(err, WB_E_USAGE, NULL, "cv: NULL argument");
    return densify(n, cmp_i64, ids, group, n_groups, err);
}

/* ------------------------------------------------------------------------------- splits */

void exp_cv_folds_init(exp_cv_folds *f)
{
    if (f)
        memset(f, 0, sizeof *f);
}

void exp_cv_folds_free(exp_cv_folds *f)
{
    if (!f)
        return;
    free(f->fold);
    free(f->group);
    free(f->group_label);
    memset(f, 0, sizeof *f);
}

/* Per-group data used while assigning. */
typedef struct grp_info {
    const int *label;    /* stratum per group */
    const size_t *size;  /* items per group */
    const size_t *match; /* items of the group whose label is the group's stratum */
} grp_info;

/* stratum ascending, then matching items descending, then size descending */
static int cmp_stratum_size(const void *ctx, size_t x, size_t y)
{
    const grp_info *g = ctx;
    if (g->label[x] != g->label[y])
        return (g->label[x] > g->label[y]) - (g->label[x] < g->label[y]);
    if (g->match[x] != g->match[y])
        return (g->match[x] < g->match[y]) - (g->match[x] > g->match[y]);
    return (g->size[x] < g->size[y]) - (g->size[x] > g->size[y]);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* More than two label values: a group's stratum is the label, among its items' labels, that
 * the fewest groups have (ties: the larger label), so every rare class is spread over the
 * folds. glabel[g] (already the max label) is overwritten for every group with items. */
static int rarest_strata(const size_t *group, const int *label, size_t n, int S, int *glabel, wb_error *err)
{
    uint64_t *pair = malloc(n * sizeof *pair);
    size_t *have = calloc((size_t)S, sizeof *have);
    if (!pair || !have) {
        free(pair);
        free(have);
        return wb_err(err, WB_E_NOMEM, NULL, "cv: out of memory for %zu items", n);
    }
    for (size_t i = 0; i < n; i++)
        pair[i] = (uint64_t)group[i] * (uint64_t)S + (uint64_t)label[i];
    qsort(pair, n, sizeof *pair, cmp_u64);
    size_t u = 0; /* distinct (group, label) pairs */
    for (size_t i = 0; i < n; i++)
        if (i == 0 || pair[i] != pair[u - 1])
            pair[u++] = pair[i];
    for (size_t i = 0; i < u; i++)
        have[pair[i] % (uint64_t)S]++;
    for (size_t i = 0; i < u; i++) {
        size_t g = (size_t)(pair[i] / (uint64_t)S);
        int c = (int)(pair[i] % (uint64_t)S);
        int first = i == 0 || pair[i - 1] / (uint64_t)S != g;
        if (first || have[c] < have[glabel[g]] || (have[c] == have[glabel[g]] && c > glabel[g]))
            glabel[g] = c;
    }
    free(pair);
    free(have);
    return 0;
}

int exp_cv_split(const size_t *group, const int *label, size_t n, int folds, int repeats,
                 uint64_t seed, exp_cv_folds *out, wb_error *err)
{
    if (!out)
        return wb_err(err, WB_E_USAGE, NULL, "cv: no output");
    exp_cv_folds_free(out);
    if (folds < 2 || folds > EXP_CV_MAX_FOLDS)
        return wb_err(err, WB_E_USAGE, NULL, "cv: %d folds, expected 2 .. %d", folds,
                      EXP_CV_MAX_FOLDS);
    if (repeats < 1 || repeats > EXP_CV_MAX_REPEATS)
        return wb_err(err, WB_E_USAGE, NULL, "cv: %d repeats, expected 1 .. %d", repeats,
                      EXP_CV_MAX_REPEATS);
    if (n == 0 || !group || !label)
        return wb_err(err, WB_E_DATA, NULL, "cv: no items to split");
    if (n > SIZE_MAX / sizeof(int) / (size_t)repeats || n > SIZE_MAX / sizeof(size_t) / 4)
        return wb_err(err, WB_E_NOMEM, NULL, "cv: %zu items is too many", n);

    /* groups, their sizes and strata */
    size_t G = 0;
    int max_label = 0;
    for (size_t i = 0; i < n; i++) {
        if (group[i] >= n)
            return wb_err(err, WB_E_DATA, NULL,
                          "cv: group index %zu of item %zu is not a dense index below %zu (use "
                          "exp_cv_groups_from_strings)",
                          group[i], i, n);
        if (label[i] < 0 || label[i] >= EXP_CV_MAX_CLASSES)
            return wb_err(err, WB_E_DATA, NULL, "cv: label %d of item %zu is outside 0 .. %d",
                          label[i], i, EXP_CV_MAX_CLASSES - 1);
        if (group[i] + 1 > G)
            G = group[i] + 1;
        if (label[i] > max_label)
            max_label = label[i];
    }
    int S = max_label + 1;
    size_t *gsize = calloc(G, sizeof *gsize), *order = malloc(G * sizeof *order);
    size_t *gmatch = calloc(G, sizeof *gmatch);
    int *glabel = malloc(G * sizeof *glabel), *fperm = malloc((size_t)folds * sizeof *fperm);
    size_t *strat_groups = calloc((size_t)S, sizeof *strat_groups);
    /* per fold and stratum: groups, matching items; then per fold: items */
    size_t *cnt = calloc((size_t)folds * (2 * (size_t)S + 1), sizeof *cnt);
    int *gfold = malloc(G * sizeof *gfold);
    out->fold = malloc((size_t)repeats * n * sizeof *out->fold);
    out->group = malloc(n * sizeof *out->group);
    int rc = -1;
    if (!gsize || !gmatch || !order || !glabel || !fperm || !strat_groups || !cnt || !gfold || !out->fold ||
        !out->group) {
        wb_err(err, WB_E_NOMEM, NULL, "cv: out of memory for %zu items", n);
        goto done;
    }
    for (size_t g = 0; g < G; g++)
        glabel[g] = -1;
    for (size_t i = 0; i < n; i++) {
        gsize[group[i]]++;
        if (label[i] > glabel[group[i]])
            glabel[group[i]] = label[i];
    }
    if (max_label > 1 && rarest_strata(group, label, n, S, glabel, err) != 0)
        goto done;
    for (size_t g = 0; g < G; g++) {
        if (gsize[g] == 0) {
            wb_err(err, WB_E_DATA, NULL,
                   "cv: group index %zu has no items (group indices must be dense 0 .. G-1)", g);
            goto done;
        }
        strat_groups[glabel[g]]++;
    }
    for (size_t i = 0; i < n; i++)
        gmatch[group[i]] += label[i] == glabel[group[i]];
    if (G < (size_t)folds) {
        wb_err(err, WB_E_DATA, NULL, "cv: %zu patients cannot fill %d folds", G, folds);
        goto done;
    }
    for (int c = 0; c < S; c++)
        if (strat_groups[c] > 0 && strat_groups[c] < (size_t)folds) {
            /* the advice must be something the user can do: fewer folds only helps down to 2 */
            if (strat_groups[c] >= 2)
                wb_err(err, WB_E_DATA, NULL,
                       "cv: only %zu patients have label %d, fewer than the %d folds, so some test "
                       "folds would have none; use at most %zu folds",
                       strat_groups[c], c, folds, strat_groups[c]);
            else
                wb_err(err, WB_E_DATA, NULL,
                       "cv: only 1 patient has label %d, so a test fold would have none even with 2 folds; "
                       "stratified cross-validation needs at least 2 patients of each label",
                       c);
            goto done;
        }

    grp_info gi = {glabel, gsize, gmatch};
    size_t stride = 2 * (size_t)S + 1; /* cnt row of a fold: [2c] groups, [2c+1] matching
                                          items of stratum c, [2S] items */
    for (int r = 0; r < repeats; r++) {
        wb_rng rng;
        wb_rng_seed(&rng, wb_rng_derive(seed, (uint64_t)r));
        for (size_t g = 0; g < G; g++)
            order[g] = g;
        shuffle(order, G, &rng);
        if (sort_indices(order, G, cmp_stratum_size, &gi, err) != 0)
            goto done;
        for (int k = 0; k < folds; k++)
            fperm[k] = k;
        for (int k = folds; k > 1; k--) {
            int j = (int)wb_rng_below(&rng, (uint64_t)k), t = fperm[k - 1];
            fperm[k - 1] = fperm[j];
            fperm[j] = t;
        }
        memset(cnt, 0, (size_t)folds * stride * sizeof *cnt);
        for (size_t q = 0; q < G; q++) {
            size_t g = order[q], c2 = 2 * (size_t)glabel[g], it = 2 * (size_t)S;
            int best = fperm[0];
            for (int kk = 1; kk < folds; kk++) {
                const size_t *a = cnt + (size_t)fperm[kk] * stride;
                const size_t *b = cnt + (size_t)best * stride;
                int better = a[c2] != b[c2]         ? a[c2] < b[c2]
                             : a[c2 + 1] != b[c2 + 1] ? a[c2 + 1] < b[c2 + 1]
                                                      : a[it] < b[it];
                if (better)
                    best = fperm[kk];
            }
            size_t *a = cnt + (size_t)best * stride;
            a[c2] += 1;
            a[c2 + 1] += gmatch[g];
            a[it] += gsize[g];
            gfold[g] = best;
        }
        for (size_t i = 0; i < n; i++)
            out->fold[(size_t)r * n + i] = gfold[group[i]];
    }
    memcpy(out->group, group, n * sizeof *group);
    out->group_label = glabel;
    glabel = NULL;
    out->n = n;
    out->n_groups = G;
    out->folds = folds;
    out->repeats = repeats;
    out->seed = seed;
    rc = 0;
done:
    free(gsize);
    free(gmatch);
    free(order);
    free(glabel);
    free(fperm);
    free(strat_groups);
    free(cnt);
    free(gfold);
    if (rc != 0)
        exp_cv_folds_free(out);
    return rc;
}

int exp_cv_fixed(const size_t *group, const int *label, const unsigned char *is_test, size_t n, int repeats, uint64_t seed,
                 exp_cv_folds *out, wb_error *err)
{
    if (!out) return wb_err(err, WB_E_USAGE, NULL, "cv: no output");
    exp_cv_folds_free(out);
    if (repeats < 1 || repeats > EXP_CV_MAX_REPEATS)
        return wb_err(err, WB_E_USAGE, NULL, "cv: repeats must be 1..%d, got %d", EXP_CV_MAX_REPEATS, repeats);
    if (n == 0 || !group || !label || !is_test) return wb_err(err, WB_E_DATA, NULL, "cv: no items to split");
    if (n > SIZE_MAX / sizeof(size_t) / 4 / (size_t)repeats) return wb_err(err, WB_E_NOMEM, NULL, "cv: %zu items is too many", n);
    size_t G = 0, n_test = 0;
    int max_label = 0;
    for (size_t i = 0; i < n; i++) {
        if (group[i] >= n)
            return wb_err(err, WB_E_DATA, NULL, "cv: group index %zu of item %zu is not a dense index below %zu", group[i],
                          i, n);
        if (label[i] < 0 || label[i] >= EXP_CV_MAX_CLASSES)
            return wb_err(err, WB_E_DATA, NULL, "cv: label %d of item %zu is outside 0 .. %d", label[i], i,
                          EXP_CV_MAX_CLASSES - 1);
        if (group[i] + 1 > G) G = group[i] + 1;
        if (label[i] > max_label) max_label = label[i];
        n_test += is_test[i] != 0;
    }
    if (n_test == 0 || n_test == n)
        return wb_err(err, WB_E_DATA, NULL, "cv: a fixed split needs items on both sides (%zu test of %zu)", n_test, n);
    int *glabel = malloc(G * sizeof *glabel), *side = malloc(G * sizeof *side);
    size_t *first = malloc(G * sizeof *first);
    out->fold = malloc((size_t)repeats * n * sizeof *out->fold);
    out->group = malloc(n * sizeof *out->group);
    int rc = -1;
    if (!glabel || !side || !first || !out->fold || !out->group) {
        wb_err(err, WB_E_NOMEM, NULL, "cv: out of memory for %zu items", n);
        goto done;
    }
    for (size_t g = 0; g < G; g++) glabel[g] = -1, side[g] = -1;
    for (size_t i = 0; i < n; i++) {
        size_t g = group[i];
        int t = is_test[i] != 0;
        if (side[g] < 0) {
            side[g] = t;
            first[g] = i;
        } else if (side[g] != t) {
            wb_err(err, WB_E_DATA, NULL, "cv: patient group %zu is in %s (item %zu) and in %s (item %zu) of the fixed "
                   "split", g, side[g] ? "test" : "train", first[g], t ? "test" : "train", i);
            goto done;
        }
        if (label[i] > glabel[g]) glabel[g] = label[i];
        out->fold[i] = t ? 0 : EXP_CV_NEVER;
    }
    for (size_t g = 0; g < G; g++)
        if (side[g] < 0) {
            wb_err(err, WB_E_DATA, NULL, "cv: group index %zu has no items (group indices must be dense 0 .. G-1)", g);
            goto done;
        }
    if (max_label > 1 && rarest_strata(group, label, n, max_label + 1, glabel, err) != 0) goto done;
    for (int r = 1; r < repeats; r++) memcpy(out->fold + (size_t)r * n, out->fold, n * sizeof *out->fold);
    memcpy(out->group, group, n * sizeof *group);
    out->group_label = glabel;
    glabel = NULL;
    out->n = n;
    out->n_groups = G;
    out->folds = 1;
    out->repeats = repeats;
    out->seed = seed;
    out->fixed = 1;
    rc = 0;
done:
    free(glabel);
    free(side);
    free(first);
    if (rc != 0) exp_cv_folds_free(out);
    return rc;
}

/* ------------------------------------------------------------------------- inner split */

int exp_cv_roles(const exp_cv_folds *f, int repeat, int fold, double val_fraction, int *role,
                 wb_error *err)
{
    if (!f || !role || !f->fold)
        return wb_err(err, WB_E_USAGE, NULL, "cv roles: no split or no output");
    if (repeat < 0 || repeat >= f->repeats || fold < 0 || fold >= f->folds)
        return wb_err(err, WB_E_USAGE, NULL,
                      "cv roles: repeat %d fold %d outside the split's %d repeats x %d folds",
                      repeat, fold, f->repeats, f->folds);
    if (!(val_fraction >= 0.0 && val_fraction <= 0.9))
        return wb_err(err, WB_E_USAGE, NULL,
                      "cv roles: validation fraction %g, expected 0 .. 0.9", val_fraction);
    size_t n = f->n, G = f->n_groups;
    const int *fo = f->fold + (size_t)repeat * n;
    int S = 0;
    for (size_t g = 0; g < G; g++)
        if (f->group_label[g] + 1 > S)
            S = f->group_label[g] + 1;
    int *gtest = calloc(G, sizeof *gtest), *gval = calloc(G, sizeof *gval);
    size_t *list = malloc(G * sizeof *list);
    int rc = -1;
    if (!gtest || !gval || !list) {
        wb_err(err, WB_E_NOMEM, NULL, "cv roles: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (fo[i] == fold)
            gtest[f->group[i]] = 1;
    if (val_fraction > 0.0) {
        wb_rng rng;
        wb_rng_seed(&rng, wb_rng_derive(wb_rng_derive(wb_rng_derive(f->seed,
                                                                        (uint64_t)repeat),
                                                         (uint64_t)fold),
                                          0x7661));
        for (int c = 0; c < S; c++) {
            size_t m = 0;
            for (size_t g = 0; g < G; g++)
                if (!gtest[g] && f->group_label[g] == c)
                    list[m++] = g;
            if (m < 2)
                continue;
            shuffle(list, m, &rng);
            size_t take = (size_t)floor(val_fraction * (double)m + 0.5);
            if (take < 1)
                take = 1;
            if (take > m - 1)
                take = m - 1;
            for (size_t q = 0; q < take; q++)
                gval[list[q]] = 1;
        }
    }
    for (size_t i = 0; i < n; i++) {
        size_t g = f->group[i];
        role[i] = gtest[g] ? EXP_CV_TEST : gval[g] ? EXP_CV_VAL : EXP_CV_TRAIN;
    }
    rc = 0;
done:
    free(gtest);
    free(gval);
    free(list);
    return rc;
}

/* ------------------------------------------------------------------------------- checks */

int exp_cv_check(const exp_cv_folds *f, const size_t *group, size_t n, wb_error *err)
{
    if (!f || !f->fold || !group)
        return wb_err(err, WB_E_USAGE, NULL, "cv check: no split or no groups");
    if (n != f->n)
        return wb_err(err, WB_E_DATA, NULL, "cv check: the split has %zu items, the data %zu",
                      f->n, n);
    for (size_t i = 0; i < n; i++)
        if (group[i] >= n)
            return wb_err(err, WB_E_DATA, NULL,
                          "cv check: group index %zu of item %zu is not below %zu", group[i], i,
                          n);
    int *gf = malloc(n * sizeof *gf);
    size_t *first = malloc(n * sizeof *first), *fsize = malloc((size_t)f->folds * sizeof *fsize);
    int rc = -1;
    if (!gf || !first || !fsize) {
        wb_err(err, WB_E_NOMEM, NULL, "cv check: out of memory");
        goto done;
    }
    for (int r = 0; r < f->repeats; r++) {
        const int *fo = f->fold + (size_t)r * n;
        for (size_t g = 0; g < n; g++)
            gf[g] = INT_MIN;
        memset(fsize, 0, (size_t)f->folds * sizeof *fsize);
        for (size_t i = 0; i < n; i++) {
            if (f->fixed && fo[i] == EXP_CV_NEVER) {
                /* a training item of a fixed split: in no test fold, but grouped like the others */
            } else if (fo[i] < 0 || fo[i] >= f->folds) {
                wb_err(err, WB_E_DATA, NULL,
                       "cv check: item %zu is in fold %d of repeat %d, outside 0 .. %d", i,
                       fo[i], r, f->folds - 1);
                goto done;
            }
            if (fo[i] >= 0)
                fsize[fo[i]]++;
            size_t g = group[i];
            if (gf[g] == INT_MIN) {
                gf[g] = fo[i];
                first[g] = i;
            } else if (gf[g] != fo[i]) {
                if (f->fixed)
                    wb_err(err, WB_E_DATA, NULL,
                           "cv check: leak: patient group %zu is in %s (item %zu) and %s (item %zu) of the "
                           "fixed split",
                           g, gf[g] == 0 ? "test" : "train", first[g], fo[i] == 0 ? "test" : "train", i);
                else
                    wb_err(err, WB_E_DATA, NULL,
                           "cv check: leak: patient group %zu is in fold %d (item %zu) and fold %d "
                           "(item %zu) of repeat %d",
                           g, gf[g], first[g], fo[i], i, r);
                goto done;
            }
        }
        for (int k = 0; k < f->folds; k++)
            if (fsize[k] == 0) {
                wb_err(err, WB_E_DATA, NULL, "cv check: fold %d of repeat %d is empty", k, r);
                goto done;
            }
    }
    rc = 0;
done:
    free(gf);
    free(first);
    free(fsize);
    return rc;
}

int exp_cv_check_roles(const int *role, const size_t *group, size_t n, wb_error *err)
{
    static const char *names[] = {"train", "validation", "test"};
    if ((!role || !group) && n > 0)
        return wb_err(err, WB_E_USAGE, NULL, "cv check: NULL argument");
    for (size_t i = 0; i < n; i++) {
        if (group[i] >= n)
            return wb_err(err, WB_E_DATA, NULL,
                          "cv check: group index %zu of item %zu is not below %zu", group[i], i,
                          n);
        if (role[i] != EXP_CV_TRAIN && role[i] != EXP_CV_VAL && role[i] != EXP_CV_TEST)
            return wb_err(err, WB_E_DATA, NULL, "cv check: item %zu has role %d", i, role[i]);
    }
    int *gr = malloc((n ? n : 1) * sizeof *gr);
    size_t *first = malloc((n ? n : 1) * sizeof *first);
    if (!gr || !first) {
        free(gr);
        free(first);
        return wb_err(err, WB_E_NOMEM, NULL, "cv check: out of memory");
    }
    for (size_t g = 0; g < n; g++)
        gr[g] = -1;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t g = group[i];
        if (gr[g] < 0) {
            gr[g] = role[i];
            first[g] = i;
        } else if (gr[g] != role[i]) {
            rc = wb_err(err, WB_E_DATA, NULL,
                        "cv check: leak: patient group %zu is in %s (item %zu) and in %s "
                        "(item %zu)",
                        g, names[gr[g]], first[g], names[role[i]], i);
        }
    }
    free(gr);
    free(first);
    return rc;
}
