/* run_patch.c — whole-image scoring of a patch run. See run_patch.h. */
#include "experiments/run_patch.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/data/patch.h"
#include "experiments/eval/cv.h"
#include "experiments/eval/metrics.h"
#include "experiments/report/rundir.h"
#include "io/io_png.h"

struct exp_wi {
    const exp_dataset *ds;
    const exp_patch_set *ps;
    int repeats;
    size_t nv, ni, nb, nw;
    long *item_of;    /* per image: a patch item of its patient (-1: none, never held out) */
    size_t *breast;   /* per image: its breast (patient + laterality) */
    int *blabel;      /* per breast */
    double *score;    /* [r][v][image]: max of the heat map when held out; NAN if never */
    double *thr, *bthr; /* [r][v][image]: the fold's thresholds from its validation images */
    int *fold;        /* [r][image] */
    double *heat;     /* [r][v][window]: the window's score when its image was held out */
    double *tmax;     /* scratch [image] */
    double *bs;       /* scratch [breast] */
    int *by;          /* scratch */
    size_t *cnt;      /* scratch [breast] */
    int agg_max;
    const char *thr_how;
    double spec;
};

void exp_wi_free(exp_wi *w)
{
    if (!w) return;
    free(w->item_of);
    free(w->breast);
    free(w->blabel);
    free(w->score);
    free(w->thr);
    free(w->bthr);
    free(w->fold);
    free(w->heat);
    free(w->tmax);
    free(w->bs);
    free(w->by);
    free(w->cnt);
    free(w);
}

/* A name pair and an index, sorted by (a, b, index). */
typedef struct keyed {
    const char *a, *b;
    size_t i;
} keyed;

static int cmp_keyed(const void *x, const void *y)
{
    const keyed *p = x, *q = y;
    int c = strcmp(p->a, q->a);
    if (!c) c = strcmp(p->b, q->b);
    return c ? c : (p->i > q->i) - (p->i < q->i);
}

/* item_of[k]: the first patch item of image k's patient (-1: none); breast[k]: the first image
 * of its patient and laterality. By sorting: O((n + ni) log) where a scan per image would be
 * quadratic at 100,000 images. 0, or -1 out of memory. */
static int link_images(exp_wi *w, const exp_dataset *ds, const exp_patch_set *ps)
{
    const size_t m = ds->n > w->ni ? ds->n : w->ni;
    keyed *t = malloc((m ? m : 1) * sizeof *t);
    if (!t) return -1;
    for (size_t i = 0; i < ds->n; i++) t[i] = (keyed){ds->items[i].group, "", i};
    qsort(t, ds->n, sizeof *t, cmp_keyed);
    for (size_t k = 0; k < w->ni; k++) { /* the lowest-indexed item of the group: first of its run */
        size_t lo = 0, hi = ds->n;
        while (lo < hi) {
            const size_t mid = lo + (hi - lo) / 2;
            if (strcmp(t[mid].a, ps->images[k].group) < 0) lo = mid + 1;
            else hi = mid;
        }
        w->item_of[k] = lo < ds->n && !strcmp(t[lo].a, ps->images[k].group) ? (long)t[lo].i : -1;
    }
    for (size_t k = 0; k < w->ni; k++) t[k] = (keyed){ps->images[k].group, ps->images[k].laterality, k};
    qsort(t, w->ni, sizeof *t, cmp_keyed);
    for (size_t j = 0; j < w->ni; j++) /* a breast is numbered by its first image */
        w->breast[t[j].i] = j > 0 && !strcmp(t[j - 1].a, t[j].a) && !strcmp(t[j - 1].b, t[j].b) ? w->breast[t[j - 1].i] : t[j].i;
    free(t);
    return 0;
}

int exp_wi_init(exp_wi **out, const exp_dataset *ds, const exp_config *cfg, int repeats, size_t nv, wb_error *err)
{
    *out = NULL;
    const exp_settings *s = exp_config_get(cfg);
    if (!ds->patch || !s->data.patch.whole_image) return 0;
    exp_wi *w = calloc(1, sizeof *w);
    if (!w) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    const exp_patch_set *ps = ds->patch;
    w->ds = ds;
    w->ps = ps;
    w->repeats = repeats;
    w->nv = nv;
    w->ni = ps->n_images;
    w->nw = ps->n_windows;
    const size_t ni = w->ni ? w->ni : 1, rvn = (size_t)repeats * nv * ni;
    w->item_of = malloc(ni * sizeof *w->item_of);
    w->breast = malloc(ni * sizeof *w->breast);
    w->blabel = calloc(ni, sizeof *w->blabel);
    w->score = malloc(rvn * sizeof *w->score);
    w->thr = malloc(rvn * sizeof *w->thr);
    w->bthr = malloc(rvn * sizeof *w->bthr);
    w->fold = malloc((size_t)repeats * ni * sizeof *w->fold);
    w->heat = malloc(((size_t)repeats * nv * w->nw + 1) * sizeof *w->heat);
    w->tmax = malloc(ni * sizeof *w->tmax);
    w->bs = malloc(ni * sizeof *w->bs);
    w->by = malloc(ni * sizeof *w->by);
    w->cnt = malloc(ni * sizeof *w->cnt);
    if (!w->item_of || !w->breast || !w->blabel || !w->score || !w->thr || !w->bthr || !w->fold || !w->heat ||
        !w->tmax || !w->bs || !w->by || !w->cnt) {
        exp_wi_free(w);
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory for whole-image scoring");
    }
    for (size_t i = 0; i < rvn; i++) w->score[i] = w->thr[i] = w->bthr[i] = NAN;
    for (size_t i = 0; i < (size_t)repeats * ni; i++) w->fold[i] = -1;
    for (size_t i = 0; i < (size_t)repeats * nv * w->nw; i++) w->heat[i] = NAN;
    if (link_images(w, ds, ps) != 0) {
        exp_wi_free(w);
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory for whole-image scoring");
    }
    for (size_t k = 0; k < w->ni; k++) w->blabel[w->breast[k]] |= ps->images[k].label;
    w->agg_max = s->metrics.breast_aggregate == EXP_AGGREGATE_MAX;
    w->thr_how = exp_threshold_name(s->metrics.threshold);
    w->spec = s->metrics.specificity;
    *out = w;
    return 0;
}

static int image_role(const exp_wi *w, const int *role, size_t k)
{
    return w->item_of[k] < 0 ? -1 : role[w->item_of[k]];
}

size_t exp_wi_fold_windows(exp_wi *w, const int *role, size_t *out)
{
    if (!w) return 0;
    size_t m = 0;
    for (size_t k = 0; k < w->ni; k++) {
        const exp_patch_image *im = &w->ps->images[k];
        int ro = image_role(w, role, k);
        if (im->rows <= 0 || (ro != EXP_CV_TEST && ro != EXP_CV_VAL)) continue;
        for (size_t j = 0; j < im->nw; j++) out[m++] = im->w0 + j;
    }
    return m;
}

static double pick_threshold(const exp_wi *w, const int *y, const double *s, size_t n)
{
    wb_error e;
    double t = 0.5;
    if (!strcmp(w->thr_how, "specificity")) {
        if (exp_metrics_threshold_for_specificity(y, s, NULL, n, w->spec, &t, &e) != 0) t = 0.5;
    } else if (exp_metrics_threshold_youden(y, s, NULL, n, &t, &e) != 0) {
        t = 0.5;
    }
    return t;
}

/* Breast scores of the images k with sel[k] (scores sc[k]) into bs/by by breast index order;
 * returns the count. */
static size_t to_breasts(exp_wi *w, const int *sel, const double *sc, double *bs, int *by)
{
    size_t nb = 0;
    for (size_t b = 0; b < w->ni; b++) {
        w->bs[b] = w->agg_max ? -INFINITY : 0;
        w->cnt[b] = 0;
    }
    for (size_t k = 0; k < w->ni; k++) {
        if (!sel[k]) continue;
        size_t b = w->breast[k];
        w->bs[b] = w->agg_max ? fmax(w->bs[b], sc[k]) : w->bs[b] + sc[k];
        w->cnt[b]++;
    }
    for (size_t b = 0; b < w->ni; b++)
        if (w->cnt[b]) {
            bs[nb] = w->agg_max ? w->bs[b] : w->bs[b] / (double)w->cnt[b];
            by[nb++] = w->blabel[b];
        }
    return nb;
}

void exp_wi_fold_scores(exp_wi *w, int r, int f, size_t v, const int *role, const size_t *win, const double *s, size_t n)
{
    if (!w) return;
    const size_t ni = w->ni, base = ((size_t)r * w->nv + v) * ni;
    for (size_t k = 0; k < ni; k++) w->tmax[k] = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const exp_patch_item *it = &w->ps->items[win[i]];
        w->tmax[it->image] = fmax(w->tmax[it->image], s[i]);
        if (image_role(w, role, it->image) == EXP_CV_TEST)
            w->heat[((size_t)r * w->nv + v) * w->nw + (win[i] - w->ds->n)] = s[i];
    }
    /* thresholds from the validation images, image and breast level */
    int *sel = malloc(ni * sizeof *sel), *y = malloc(ni * sizeof *y);
    double *sc = malloc(ni * sizeof *sc), *bsc = malloc(ni * sizeof *bsc);
    double thr = 0.5, bthr = 0.5;
    if (sel && y && sc && bsc) {
        size_t m = 0;
        for (size_t k = 0; k < ni; k++) {
            sel[k] = image_role(w, role, k) == EXP_CV_VAL && isfinite(w->tmax[k]);
            if (sel[k]) {
                y[m] = w->ps->images[k].label;
                sc[m++] = w->tmax[k];
            }
        }
        thr = pick_threshold(w, y, sc, m);
        size_t nb = to_breasts(w, sel, w->tmax, bsc, y);
        bthr = pick_threshold(w, y, bsc, nb);
    }
    free(sel);
    free(y);
    free(sc);
    free(bsc);
    for (size_t k = 0; k < ni; k++) {
        if (image_role(w, role, k) != EXP_CV_TEST || !isfinite(w->tmax[k])) continue;
        w->score[base + k] = w->tmax[k];
        w->thr[base + k] = thr;
        w->bthr[base + k] = bthr;
        w->fold[(size_t)r * ni + k] = f;
    }
}

static void json_level(sbuf *b, const char *name, const int *y, const double *s, const double *ref, size_t n,
                       double tp, double fp, double tn, double fn, int with_ref)
{
    wb_error e;
    sb_printf(b, "\"%s\": {", name);
    exp_delong d;
    double ap = NAN;
    if (exp_metrics_delong(y, s, n, &d, &e) != 0) d.auc = d.ci_lo = d.ci_hi = NAN;
    exp_metrics_average_precision(y, s, NULL, n, &ap, &e);
    size_t npos = 0;
    for (size_t i = 0; i < n; i++) npos += (size_t)y[i];
    exp_confusion c = {tp, fp, tn, fn};
    const char *names[] = {EXP_RD_M_AUC,         EXP_RD_M_AUC_CI_LOW,  EXP_RD_M_AUC_CI_HIGH,      EXP_RD_M_AP,
                           EXP_RD_M_SENSITIVITY, EXP_RD_M_SPECIFICITY, EXP_RD_M_BALANCED_ACCURACY};
    double vals[] = {d.auc, d.ci_lo, d.ci_hi, ap, exp_confusion_sensitivity(&c), exp_confusion_specificity(&c),
                     exp_confusion_balanced_accuracy(&c)};
    for (int q = 0; q < 7; q++) {
        sb_printf(b, "%s\"%s\": ", q ? ", " : "", names[q]);
        sb_num(b, vals[q]);
    }
    sb_printf(b, ", \"" EXP_RD_M_N "\": %zu, \"" EXP_RD_M_N_POSITIVE "\": %zu", n, npos);
    if (with_ref) {
        exp_delong_paired dp;
        sb_printf(b, ", \"" EXP_RD_K_VS_REFERENCE "\": {");
        if (exp_metrics_delong_paired(y, s, ref, n, &dp, &e) == 0) {
            sb_printf(b, "\"" EXP_RD_K_DELTA_AUC "\": ");
            sb_num(b, dp.diff);
            sb_printf(b, ", \"" EXP_RD_K_DELONG_P "\": ");
            sb_num(b, dp.p);
        } else {
            sb_printf(b, "\"" EXP_RD_K_DELTA_AUC "\": null");
        }
        sb_printf(b, "}");
    }
    sb_printf(b, "}");
}

int exp_wi_write(exp_wi *w, const exp_config *cfg, const char *dir, sbuf *json, wb_error *err)
{
    if (!w) return 0;
    const exp_patch_set *ps = w->ps;
    const size_t ni = w->ni, nv = w->nv;
    const exp_settings *st = exp_config_get(cfg);
    const size_t ref_v = st->metrics.reference_index;
    sbuf b = {0};
    int rc = -1;
    sb_printf(&b, "repeat,fold,variant,sop_instance_uid,patient,laterality,view,label,score,threshold,windows,max_row,max_col\n");
    for (int r = 0; r < w->repeats; r++)
        for (size_t v = 0; v < nv; v++) {
            const char *vname = st->variants[v].name;
            const size_t base = ((size_t)r * nv + v) * ni;
            for (size_t i = 0; i < ni; i++) {
                const exp_patch_image *im = &ps->images[i];
                if (isnan(w->score[base + i])) continue;
                long best = -1;
                for (size_t j = 0; j < im->nw; j++) {
                    double h = w->heat[((size_t)r * nv + v) * w->nw + (im->w0 + j - w->ds->n)];
                    if (best < 0 || h > w->heat[((size_t)r * nv + v) * w->nw + (size_t)best]) best = (long)(im->w0 + j - w->ds->n);
                }
                const exp_patch_item *bw = &ps->items[w->ds->n + (size_t)best];
                sb_printf(&b, "%d,%d,%s,", r, w->fold[(size_t)r * ni + i], vname);
                sb_csv(&b, im->sop_uid[0] ? im->sop_uid : im->file);
                sb_printf(&b, ",%s,%s,%s,%d,", im->pseudonym, im->laterality, im->view, im->label);
                sb_num(&b, w->score[base + i]);
                sb_printf(&b, ",");
                sb_num(&b, w->thr[base + i]);
                sb_printf(&b, ",%zu,%d,%d\n", im->nw, bw->r0 + bw->side / 2, bw->c0 + bw->side / 2);
            }
        }
    if (sb_write(&b, dir, EXP_RD_PREDICTIONS_IMAGE, err) != 0) goto done;
    sb_free(&b);
    /* the heat maps of the first repeat: one row per scored window */
    sb_printf(&b, "variant,sop_instance_uid,grid_rows,grid_cols,grid,row,col,side,score\n");
    for (size_t v = 0; v < nv; v++) {
        const char *vname = st->variants[v].name;
        for (size_t i = 0; i < ni; i++) {
            const exp_patch_image *im = &ps->images[i];
            if (isnan(w->score[v * ni + i])) continue;
            for (size_t j = 0; j < im->nw; j++) {
                const exp_patch_item *it = &ps->items[im->w0 + j];
                sb_printf(&b, "%s,", vname);
                sb_csv(&b, im->sop_uid[0] ? im->sop_uid : im->file);
                sb_printf(&b, ",%d,%d,%d,%d,%d,%d,", im->grid_rows, im->grid_cols, it->grid, it->r0, it->c0, it->side);
                sb_num(&b, w->heat[v * w->nw + (im->w0 + j - w->ds->n)]);
                sb_printf(&b, "\n");
            }
        }
    }
    if (sb_write(&b, dir, EXP_RD_HEATMAPS, err) != 0) goto done;
    sb_free(&b);

    /* metrics: pooled over the held-out folds, per repeat, image and breast level */
    size_t n_img = 0, n_scored = 0;
    for (size_t i = 0; i < ni; i++) {
        n_img += ps->images[i].rows > 0;
        n_scored += !isnan(w->score[i]);
    }
    int *sel = malloc(ni * sizeof *sel), *y = malloc(ni * sizeof *y), *by = malloc(ni * sizeof *by);
    double *s = malloc(ni * sizeof *s), *rs = malloc(ni * sizeof *rs), *bs = malloc(ni * sizeof *bs),
           *rbs = malloc(ni * sizeof *rbs);
    if (!sel || !y || !by || !s || !rs || !bs || !rbs) {
        free(sel), free(y), free(by), free(s), free(rs), free(bs), free(rbs);
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    sb_printf(json, ",\n  \"" EXP_RD_K_WHOLE_IMAGE "\": {\"" EXP_RD_K_IMAGES "\": %zu, \"scored\": %zu, \"windows\": %zu, \"score\": \"max\", "
                    "\"breast_aggregate\": \"%s\",\n   \"" EXP_RD_K_VARIANTS "\": [\n",
              n_img, n_scored, w->nw, w->agg_max ? "max" : "mean");
    for (size_t v = 0; v < nv; v++) {
        sb_printf(json, "    {\"" EXP_RD_K_NAME "\": ");
        sb_jstr(json, st->variants[v].name);
        sb_printf(json, ", \"results\": [");
        for (int r = 0; r < w->repeats; r++) {
            const size_t base = ((size_t)r * nv + v) * ni, rbase = ((size_t)r * nv + ref_v) * ni;
            size_t n = 0;
            double c[2][4] = {{0}};
            for (size_t i = 0; i < ni; i++) {
                sel[i] = !isnan(w->score[base + i]) && !isnan(w->score[rbase + i]);
                if (!sel[i]) continue;
                y[n] = ps->images[i].label;
                s[n] = w->score[base + i];
                rs[n] = w->score[rbase + i];
                int pos = s[n] >= w->thr[base + i];
                c[0][0] += pos && y[n];
                c[0][1] += pos && !y[n];
                c[0][2] += !pos && !y[n];
                c[0][3] += !pos && y[n];
                n++;
            }
            /* breasts: each fold's own breast threshold on its held-out breasts */
            double *bscore = malloc(ni * sizeof *bscore), *bthr = malloc(ni * sizeof *bthr);
            size_t nb = 0;
            if (bscore && bthr) {
                double *tmp = malloc(ni * sizeof *tmp);
                for (size_t i = 0; tmp && i < ni; i++) tmp[i] = sel[i] ? w->score[base + i] : 0;
                if (tmp) nb = to_breasts(w, sel, tmp, bs, by);
                for (size_t i = 0; tmp && i < ni; i++) tmp[i] = sel[i] ? w->score[rbase + i] : 0;
                if (tmp) to_breasts(w, sel, tmp, rbs, by);
                for (size_t i = 0; tmp && i < ni; i++) tmp[i] = sel[i] ? w->bthr[base + i] : 0;
                /* a breast's images share its patient's fold, so they share its threshold */
                if (tmp) to_breasts(w, sel, tmp, bthr, by);
                free(tmp);
                for (size_t j = 0; j < nb; j++) {
                    int pos = bs[j] >= bthr[j];
                    c[1][0] += pos && by[j];
                    c[1][1] += pos && !by[j];
                    c[1][2] += !pos && !by[j];
                    c[1][3] += !pos && by[j];
                }
            }
            sb_printf(json, "%s\n      {\"" EXP_RD_K_REPEAT "\": %d, ", r ? "," : "", r);
            json_level(json, EXP_RD_LEVEL_IMAGE, y, s, rs, n, c[0][0], c[0][1], c[0][2], c[0][3], v != ref_v);
            sb_printf(json, ", ");
            json_level(json, EXP_RD_LEVEL_BREAST, by, bs, rbs, nb, c[1][0], c[1][1], c[1][2], c[1][3], v != ref_v);
            sb_printf(json, "}");
            free(bscore);
            free(bthr);
        }
        sb_printf(json, "]}%s\n", v + 1 < nv ? "," : "");
    }
    sb_printf(json, "   ]}");
    free(sel), free(y), free(by), free(s), free(rs), free(bs), free(rbs);
    rc = 0;
done:
    sb_free(&b);
    return rc;
}

int exp_wi_write_patches(const exp_dataset *ds, const exp_cv_folds *cv, const char *dir, wb_error *err)
{
    const exp_patch_set *ps = ds->patch;
    if (!ps) return 0;
    static const char *const kinds[] = {"lesion", "background", "window"};
    sbuf b = {0};
    sb_printf(&b, "patch,file,kind,label,patient,fold,row,col,side,image_rows,image_cols\n");
    for (size_t i = 0; i < ds->n; i++) {
        const exp_patch_item *it = &ps->items[i];
        const exp_patch_image *im = &ps->images[it->image];
        sb_csv(&b, ds->items[i].sop_uid);
        sb_printf(&b, ",");
        sb_csv(&b, im->file);
        sb_printf(&b, ",%s,%d,%s,%d,%d,%d,%d,%d,%d\n", kinds[it->kind], ds->items[i].label, im->pseudonym, cv->fold[i],
                  it->r0, it->c0, it->side, im->rows, im->cols);
    }
    int rc = sb_write(&b, dir, EXP_RD_PATCHES, err);
    sb_free(&b);
    return rc;
}

int exp_wi_write_contact(const exp_dataset *ds, const char *dir, wb_error *err)
{
    const exp_patch_set *ps = ds->patch;
    if (!ps) return 0;
    enum { PER_ROW = 8, GAP = 4 };
    /* rows: positive lesion patches, negative lesion patches, background patches (the first
     * PER_ROW of each in dataset order) */
    size_t pick[3][PER_ROW], np[3] = {0, 0, 0};
    for (size_t i = 0; i < ds->n; i++) {
        int row = ps->items[i].kind == EXP_PATCH_BACKGROUND ? 2 : ds->items[i].label ? 0 : 1;
        if (np[row] < PER_ROW) pick[row][np[row]++] = i;
    }
    const int R = ds->rows, C = ds->cols, big = R > C ? R : C;
    const int sc = big >= 64 ? 1 : (64 + big - 1) / big; /* tiles at least 64 pixels */
    const int tw = C * sc, th = R * sc, W = PER_ROW * (tw + GAP) + GAP, H = 3 * (th + GAP) + GAP;
    uint8_t *px = malloc((size_t)W * (size_t)H);
    float *buf = malloc((size_t)R * (size_t)C * sizeof *buf);
    if (!px || !buf) {
        free(px);
        free(buf);
        return wb_err(err, WB_E_NOMEM, dir, "out of memory for the contact sheet");
    }
    memset(px, 255, (size_t)W * (size_t)H);
    for (int row = 0; row < 3; row++)
        for (size_t k = 0; k < np[row]; k++) {
            const float *im = exp_dataset_image(ds, pick[row][k], buf, err); /* buf when spilled */
            if (!im) {
                free(px);
                free(buf);
                return -1;
            }
            float lo = im[0], hi = im[0];
            for (size_t i = 1; i < (size_t)R * (size_t)C; i++) {
                lo = im[i] < lo ? im[i] : lo;
                hi = im[i] > hi ? im[i] : hi;
            }
            const float span = hi > lo ? hi - lo : 1;
            const int x0 = GAP + (int)k * (tw + GAP), y0 = GAP + row * (th + GAP);
            for (int y = 0; y < th; y++)
                for (int x = 0; x < tw; x++) {
                    float v = (im[(size_t)(y / sc) * (size_t)C + (size_t)(x / sc)] - lo) / span;
                    px[(size_t)(y0 + y) * (size_t)W + (size_t)(x0 + x)] = (uint8_t)lrintf(v * 255.0f);
                }
        }
    char path[4400];
    snprintf(path, sizeof path, "%s/patches.png", dir);
    int rc = io_png_write(path, px, W, H, 1, err);
    free(px);
    free(buf);
    return rc;
}
