/* rundir.c — the run directory's schema check. See rundir.h. */
#include "experiments/report/rundir.h"

#include <math.h>
#include <stdio.h>
#include <string.h>


const char *const exp_rd_metric_names[EXP_M_COUNT] = {
    EXP_RD_M_AUC,         EXP_RD_M_AUC_CI_LOW, EXP_RD_M_AUC_CI_HIGH,    EXP_RD_M_AP,      EXP_RD_M_ACCURACY,
    EXP_RD_M_BALANCED_ACCURACY, EXP_RD_M_SENSITIVITY, EXP_RD_M_SPECIFICITY, EXP_RD_M_SENS_AT_SPEC, EXP_RD_M_F1,
    EXP_RD_M_BRIER,       EXP_RD_M_ECE,        EXP_RD_M_THRESHOLD,      EXP_RD_M_N,       EXP_RD_M_N_POSITIVE};
_Static_assert(EXP_M_COUNT == 15, "exp_rd_metric_names: one name per EXP_M_* entry");

const char *const exp_rd_mc_fixed_names[EXP_MC_FIXED] = {EXP_RD_M_AUC, EXP_RD_M_ACCURACY, EXP_RD_M_BALANCED_ACCURACY,
                                                         EXP_RD_M_F1_MACRO, EXP_RD_M_LOG_LOSS, EXP_RD_M_N};
_Static_assert(EXP_MC_FIXED == 6, "exp_rd_mc_fixed_names: one name per EXP_MC_* entry");

int exp_rd_metric_range(const char *name, double *lo, double *hi, int *whole)
{
    static const char *const unit[] = {EXP_RD_M_AUC, EXP_RD_M_AUC_CI_LOW, EXP_RD_M_AUC_CI_HIGH, EXP_RD_M_AP,
                                       EXP_RD_M_ACCURACY, EXP_RD_M_BALANCED_ACCURACY, EXP_RD_M_SENSITIVITY,
                                       EXP_RD_M_SPECIFICITY, EXP_RD_M_SENS_AT_SPEC, EXP_RD_M_F1, EXP_RD_M_BRIER,
                                       EXP_RD_M_ECE, EXP_RD_M_F1_MACRO, EXP_RD_K_DELONG_P, EXP_RD_K_TTEST_P};
    *whole = 0;
    *lo = 0;
    *hi = 1;
    for (size_t k = 0; k < sizeof unit / sizeof *unit; k++)
        if (!strcmp(name, unit[k])) return 1;
    if (!strncmp(name, EXP_RD_M_AUC_OVR_PREFIX, strlen(EXP_RD_M_AUC_OVR_PREFIX))) return 1;
    *lo = -1; /* ΔAUC's CI is not clipped (a difference near 1 with a wide interval passes it) */
    if (!strcmp(name, EXP_RD_K_DELTA_AUC)) return 1;
    *lo = 0;
    *hi = INFINITY;
    if (!strcmp(name, EXP_RD_M_LOG_LOSS)) return 1;
    *whole = 1;
    return !strcmp(name, EXP_RD_M_N) || !strcmp(name, EXP_RD_M_N_POSITIVE) ||
           !strncmp(name, EXP_RD_M_N_CLASS_PREFIX, strlen(EXP_RD_M_N_CLASS_PREFIX));
}

/* Every number under a metric's name in the subtree at node i (whose key path is where[0..len))
 * in its range, and an object's n_positive at most its n. */
static int check_ranges(const io_json_doc *d, int32_t i, char *where, size_t len, size_t cap, const char *path,
                        wb_error *err)
{
    const io_json_node *o = &d->nodes[i];
    if (o->type != IO_JSON_OBJECT && o->type != IO_JSON_ARRAY) return 0;
    const io_json_node *n = NULL, *npos = NULL;
    size_t idx = 0;
    for (int32_t c = o->first; c >= 0; c = d->nodes[c].next, idx++) {
        const io_json_node *m = &d->nodes[c];
        int k;
        if (o->type == IO_JSON_OBJECT) k = snprintf(where + len, cap - len, "%s%s", len ? "." : "", m->key);
        else k = snprintf(where + len, cap - len, "[%zu]", idx);
        const size_t sub = k < 0 ? len : len + (size_t)k < cap ? len + (size_t)k : cap - 1;
        double lo, hi;
        int whole;
        if (m->type == IO_JSON_NUMBER && o->type == IO_JSON_OBJECT && exp_rd_metric_range(m->key, &lo, &hi, &whole)) {
            if (!(m->num >= lo && m->num <= hi) || (whole && m->num != floor(m->num))) {
                wb_err(err, WB_E_DATA, path, "%.17g (at byte %zu) is out of range: expected %s from %g to %g (an "
                       "edited or damaged run directory?)", m->num, m->offset, whole ? "a whole number" : "a value",
                       lo, hi);
                snprintf(err->key, sizeof err->key, "%s", where);
                return -1;
            }
            if (!strcmp(m->key, EXP_RD_M_N)) n = m;
            if (!strcmp(m->key, EXP_RD_M_N_POSITIVE)) npos = m;
        }
        if (check_ranges(d, c, where, sub, cap, path, err) != 0) return -1;
        where[len] = '\0';
    }
    if (n && npos && npos->num > n->num) {
        wb_err(err, WB_E_DATA, path, "%.17g (at byte %zu) is more than n, %.17g (an edited or damaged run directory?)",
               npos->num, npos->offset, n->num);
        snprintf(err->key, sizeof err->key, "%s%s" EXP_RD_M_N_POSITIVE, where, len ? "." : "");
        return -1;
    }
    return 0;
}

/* member key of obj with one of the types in the mask (1 << IO_JSON_*); err names key. */
static const io_json_node *need(const io_json_doc *d, const io_json_node *obj, const char *where, const char *key,
                                unsigned types, const char *path, wb_error *err)
{
    const io_json_node *n = io_json_get(d, obj, key);
    char full[200];
    snprintf(full, sizeof full, "%s%s%s", where, where[0] ? "." : "", key);
    if (!n || !((1u << n->type) & types)) {
        wb_err(err, WB_E_DATA, path, "%s (a run directory of another workbench version, or an edited file?)",
               n ? "has the wrong type" : "missing");
        snprintf(err->key, sizeof err->key, "%s", full);
        return NULL;
    }
    return n;
}

#define T_NUM (1u << IO_JSON_NUMBER)
#define T_NUMNULL ((1u << IO_JSON_NUMBER) | (1u << IO_JSON_NULL))
#define T_STR (1u << IO_JSON_STRING)
#define T_ARR (1u << IO_JSON_ARRAY)
#define T_OBJ (1u << IO_JSON_OBJECT)

int exp_rundir_check_metrics(const io_json_doc *d, const char *path, wb_error *err)
{
    if (!d->n || d->nodes[0].type != IO_JSON_OBJECT)
        return wb_err(err, WB_E_DATA, path, "expected a JSON object");
    const io_json_node *root = &d->nodes[0], *sv, *data, *cv, *vars;
    if (!(sv = need(d, root, "", EXP_RD_K_SCHEMA_VERSION, T_NUM, path, err))) return -1;
    if (sv->num != EXP_RD_SCHEMA_VERSION)
        return wb_err(err, WB_E_DATA, path, "schema_version: expected %d, found %g (a run of another workbench "
                      "version?)", EXP_RD_SCHEMA_VERSION, sv->num);
    if (!need(d, root, "", EXP_RD_K_NAME, T_STR, path, err) || !(data = need(d, root, "", EXP_RD_K_DATA, T_OBJ, path, err)) ||
        !need(d, data, EXP_RD_K_DATA, EXP_RD_K_IMAGES, T_NUM, path, err) || !need(d, data, EXP_RD_K_DATA, EXP_RD_K_PATIENTS, T_NUM, path, err) ||
        !(cv = need(d, root, "", EXP_RD_K_CV, T_OBJ, path, err)) || !need(d, cv, EXP_RD_K_CV, EXP_RD_K_FOLDS, T_NUM, path, err) ||
        !need(d, cv, EXP_RD_K_CV, EXP_RD_K_REPEATS, T_NUM, path, err) || !need(d, root, "", EXP_RD_K_REFERENCE, T_STR, path, err) ||
        !(vars = need(d, root, "", EXP_RD_K_VARIANTS, T_ARR, path, err)))
        return -1;
    const int mc = io_json_get(d, root, EXP_RD_K_CLASSES) != NULL;
    int vi = 0;
    for (int32_t v = vars->first; v >= 0; v = d->nodes[v].next, vi++) {
        char where[96];
        snprintf(where, sizeof where, EXP_RD_K_VARIANTS "[%d]", vi);
        const io_json_node *vn = &d->nodes[v], *reps;
        if (vn->type != IO_JSON_OBJECT) {
            wb_err(err, WB_E_DATA, path, "expected an object");
            snprintf(err->key, sizeof err->key, "%s", where);
            return -1;
        }
        if (!need(d, vn, where, EXP_RD_K_NAME, T_STR, path, err) || !need(d, vn, where, EXP_RD_K_TYPE, T_STR, path, err) ||
            !need(d, vn, where, EXP_RD_K_TRAINABLE_PARAMS, T_NUM, path, err) ||
            !(reps = need(d, vn, where, EXP_RD_K_REPEATS, T_ARR, path, err)))
            return -1;
        int ri = 0;
        for (int32_t r = reps->first; r >= 0; r = d->nodes[r].next, ri++) {
            char rw[128];
            snprintf(rw, sizeof rw, "%s." EXP_RD_K_REPEATS "[%d]", where, ri);
            const io_json_node *rn = &d->nodes[r];
            if (rn->type != IO_JSON_OBJECT || !need(d, rn, rw, EXP_RD_K_REPEAT, T_NUM, path, err)) {
                if (rn->type != IO_JSON_OBJECT) {
                    wb_err(err, WB_E_DATA, path, "expected an object");
                    snprintf(err->key, sizeof err->key, "%s", rw);
                }
                return -1;
            }
            for (int level = 0; level < 2; level++) {
                const char *lname = level ? EXP_RD_LEVEL_BREAST : EXP_RD_LEVEL_IMAGE;
                const io_json_node *m = need(d, rn, rw, lname, T_OBJ, path, err);
                if (!m) return -1;
                char lw[160];
                snprintf(lw, sizeof lw, "%s.%s", rw, lname);
                if (mc) {
                    for (int q = 0; q < EXP_MC_FIXED; q++)
                        if (!need(d, m, lw, exp_rd_mc_fixed_names[q], T_NUMNULL, path, err)) return -1;
                } else {
                    for (int q = 0; q < EXP_M_COUNT; q++)
                        if (q != EXP_M_THRESH && !need(d, m, lw, exp_rd_metric_names[q], T_NUMNULL, path, err)) return -1;
                }
            }
        }
    }
    char where[sizeof err->key];
    where[0] = '\0';
    return check_ranges(d, 0, where, 0, sizeof where, path, err);
}
