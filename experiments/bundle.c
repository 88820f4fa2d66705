/* bundle.c — `workbench bundle` and `workbench predict`. See bundle.h and docs/predict.md. */
#include "experiments/bundle.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/wb_tensor.h"
#include "experiments/config/config.h"
#include "experiments/data/dataset.h"
#include "experiments/data/patch.h"
#include "experiments/eval/metrics.h"
#include "experiments/eval/summary.h"
#include "experiments/model/baseline.h"
#include "experiments/model/foldnet.h"
#include "experiments/report/registry.h"
#include "experiments/report/report.h"
#include "experiments/report/rundir.h"
#include "io/io_csv.h"
#include "io/io_fs.h"
#include "io/io_json.h"
#include "io/io_sbuf.h"
#include "io/io_sha256.h"
#include "io/io_weights.h"
#include "base/wb_log.h"
#include "nets/nn.h"

enum { MAX_FOLDS = 64 };
#define MAX_FILE_BYTES ((size_t)4 << 30)

static const char *base_name(const char *path, char *buf, size_t n)
{
    size_t l = strlen(path);
    while (l > 1 && path[l - 1] == '/') l--;
    size_t a = l;
    while (a > 0 && path[a - 1] != '/') a--;
    snprintf(buf, n, "%.*s", (int)(l - a), path + a);
    return buf;
}

/* Copies src to dst (atomically) and gives its SHA-256. */
static int copy_file(const char *src, const char *dst, char hex[65], wb_error *err)
{
    unsigned char *b = NULL;
    size_t n = 0;
    if (io_file_read_all(src, MAX_FILE_BYTES, &b, &n, err) != 0) return -1;
    uint8_t d[IO_SHA256_SIZE];
    io_sha256_buf(b, n, d);
    io_sha256_hex(d, hex);
    io_atomic_file af;
    int rc = io_atomic_open(&af, dst, err);
    if (rc == 0) {
        if (n && fwrite(b, 1, n, af.f) != n) {
            io_atomic_abort(&af);
            rc = wb_err(err, WB_E_WRITE, dst, "cannot write: %s", strerror(errno));
        } else {
            rc = io_atomic_commit(&af, err);
        }
    }
    free(b);
    return rc;
}

static int hash_written(const sbuf *b, char hex[65])
{
    uint8_t d[IO_SHA256_SIZE];
    io_sha256_buf(b->s ? b->s : "", b->n, d);
    io_sha256_hex(d, hex);
    return 0;
}

/* The patch settings of a config as the manifest records them. */
static void patch_from_settings(const exp_settings_patch *sp, exp_bundle_patch *bp)
{
    memset(bp, 0, sizeof *bp);
    snprintf(bp->unit, sizeof bp->unit, "%s", sp->unit == EXP_PATCH_UNIT_MM ? "mm" : "px");
    bp->size = sp->size;
    bp->jitter = sp->jitter;
    bp->box_margin = sp->box_margin;
    bp->min_tissue = sp->min_tissue;
    bp->stride = sp->stride;
    bp->background = sp->background;
    const exp_settings_box *b = &sp->box;
    const char *yo = b->y_bottom ? "bottom" : "top";
    if (b->centre)
        snprintf(bp->box, sizeof bp->box, "cx=%s,cy=%s,r=%s,y_origin=%s", b->cx ? b->cx : "", b->cy ? b->cy : "",
                 b->r ? b->r : "", yo);
    else
        snprintf(bp->box, sizeof bp->box, "x=%s,y=%s,w=%s,h=%s,y_origin=%s", b->x ? b->x : "", b->y ? b->y : "",
                 b->w ? b->w : "", b->h ? b->h : "", yo);
}

/* The first data.patch key whose value differs between a and b, or NULL when they agree (the
 * stride is not compared: predict cuts no sliding windows). */
static const char *patch_differs(const exp_bundle_patch *a, const exp_bundle_patch *b)
{
    if (strcmp(a->unit, b->unit)) return "data.patch.unit";
    if (a->size != b->size) return "data.patch.size";
    if (a->jitter != b->jitter) return "data.patch.jitter";
    if (a->box_margin != b->box_margin) return "data.patch.box_margin";
    if (a->background != b->background) return "data.patch.background";
    if (a->min_tissue != b->min_tissue) return "data.patch.min_tissue";
    if (strcmp(a->box, b->box)) return "data.patch.box";
    return NULL;
}

/* One line for messages: "unit px, size 96, jitter 8, ..." */
static void patch_line(const exp_bundle_patch *p, char *out, size_t n)
{
    snprintf(out, n, "unit %s, size %g, jitter %g, box_margin %g, background %d, min_tissue %g, box %s", p->unit, p->size,
             p->jitter, p->box_margin, p->background, p->min_tissue, p->box);
}

/* Removes a half-made bundle directory (only the files a bundle has). */
static void remove_tmp(const char *tmp, int folds)
{
    char p[PATH_MAX + 256]; /* tmp (PATH_MAX + 96 at most) and the longest name below it */
    for (int f = 0; f < folds; f++) {
        snprintf(p, sizeof p, "%s/models/f%d.safetensors", tmp, f);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/models", tmp);
    rmdir(p);
    for (int f = 0; f < folds; f++) {
        snprintf(p, sizeof p, "%s/reference/f%d.json", tmp, f);
        unlink(p);
    }
    snprintf(p, sizeof p, "%s/reference/thresholds.csv", tmp);
    unlink(p);
    snprintf(p, sizeof p, "%s/reference", tmp);
    rmdir(p);
    snprintf(p, sizeof p, "%s/pretrained", tmp); /* the one copied weights file */
    DIR *d = opendir(p);
    for (struct dirent *e; d && (e = readdir(d)) != NULL;)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
            char q[PATH_MAX + 512];
            snprintf(q, sizeof q, "%s/%s", p, e->d_name);
            unlink(q);
        }
    if (d) closedir(d);
    rmdir(p);
    static const char *const names[] = {"config.yaml", "thresholds.csv", "manifest.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", tmp, names[i]);
        unlink(p);
    }
    rmdir(tmp);
}

/* What fold_thresholds keeps of one variant: each fold's first threshold (text) and the first
 * row that is not a fold and a number. */
typedef struct fold_thr {
    const char *vname;
    char **text; /* [folds], malloc'd */
    wb_error bad;
    int nbad;
} fold_thr;

/* Each fold's threshold of the variants v[0..nv) (repeat 0) from the run's predictions.csv,
 * read once, a row at a time: as text into v[i].text, their sum into sum[i]. The errors, in the
 * order of a whole-file read checked variant by variant: the file's (io_csv_read's), a missing
 * column, then per variant a bad row (at its row number) or a fold without a threshold. */
static int fold_thresholds(const char *ppath, fold_thr *v, int nv, int folds, double *sum, wb_error *err)
{
    io_csv_stream s;
    if (io_csv_stream_open(ppath, &s, err) != 0) return -1;
    wb_error col_err;
    long c_rep = io_csv_column(&s.head, EXP_RD_COL_REPEAT, &col_err);
    long c_fold = c_rep < 0 ? -1 : io_csv_column(&s.head, EXP_RD_COL_FOLD, &col_err);
    long c_var = c_fold < 0 ? -1 : io_csv_column(&s.head, EXP_RD_COL_VARIANT, &col_err);
    long c_thr = c_var < 0 ? -1 : io_csv_column(&s.head, EXP_RD_COL_THRESHOLD, &col_err);
    int r;
    while ((r = io_csv_stream_next(&s, err)) == 1) {
        if (c_thr < 0 || strcmp(io_csv_stream_cell(&s, c_rep), "0")) continue;
        fold_thr *ft = NULL;
        for (int i = 0; i < nv && !ft; i++)
            if (!strcmp(io_csv_stream_cell(&s, c_var), v[i].vname)) ft = &v[i];
        if (!ft || ft->nbad) continue;
        char *end;
        long f = strtol(io_csv_stream_cell(&s, c_fold), &end, 10);
        const char *t = io_csv_stream_cell(&s, c_thr);
        char *tend;
        double tv = strtod(t, &tend);
        if (*end || f < 0 || f >= folds || !t[0] || *tend || !isfinite(tv)) {
            wb_err(&ft->bad, WB_E_DATA, ppath, "row %zu: fold '%s', threshold '%s': expected a fold 0 to %d and a number",
                   s.n_rows + 1, io_csv_stream_cell(&s, c_fold), t, folds - 1);
            ft->nbad = 1;
        } else if (!ft->text[f] && !(ft->text[f] = strdup(t))) {
            wb_err(&ft->bad, WB_E_NOMEM, NULL, "out of memory");
            ft->nbad = 1;
        }
    }
    io_csv_stream_close(&s);
    if (r < 0) return -1;
    if (c_thr < 0) {
        *err = col_err;
        return -1;
    }
    for (int i = 0; i < nv; i++) {
        if (v[i].nbad) {
            *err = v[i].bad;
            return -1;
        }
        sum[i] = 0;
        for (int f = 0; f < folds; f++) {
            if (!v[i].text[f])
                return wb_err(err, WB_E_DATA, ppath, "no prediction of variant %s in repeat 0, fold %d: no threshold for it",
                              v[i].vname, f);
            sum[i] += strtod(v[i].text[f], NULL);
        }
    }
    return 0;
}

/* The run's reference variant (metrics.reference) when it is a radiomics baseline, else NULL:
 * the one config read of the bundle's reference. */
static const char *reference_baseline(const exp_config *cfg)
{
    const exp_settings *cs = exp_config_get(cfg);
    const exp_settings_metrics *m = &cs->metrics;
    if (!m->reference || m->reference_index >= cs->n_variants) return NULL;
    return cs->variants[m->reference_index].type == EXP_VARIANT_BASELINE ? m->reference : NULL;
}

/* Whether the run kept the reference baseline's fitted models of repeat 0 (runs made before
 * they were kept did not): if not, a warning and *ref = NULL (the bundle has no reference). */
static int ref_models(const char *run_dir, const char *vname, int folds, const char **ref)
{
    struct stat st;
    for (int f = 0; f < folds; f++) {
        char name[256], p[PATH_MAX + 300];
        exp_baseline_model_name(0, f, vname, name, sizeof name);
        snprintf(p, sizeof p, "%s/models/%s", run_dir, name);
        if (stat(p, &st) != 0) {
            wb_warn("bundle: %s: %s; the bundle will not carry the reference baseline %s (a run keeps its fitted "
                    "baselines with train.save_weights: true since workbench-bundle-1 bundles carry them)",
                    p, strerror(errno), vname);
            *ref = NULL;
            return 0;
        }
    }
    return 0;
}

int exp_bundle_make(const char *run_dir, const char *variant, const char *out_dir, exp_bundle_info *info, wb_error *err)
{
    memset(info, 0, sizeof *info);
    struct stat st;
    char cpath[PATH_MAX + 32], ppath[PATH_MAX + 32];
    if (!out_dir || !out_dir[0]) return wb_err(err, WB_E_USAGE, NULL, "bundle: no output directory (--out DIR)");
    if (!run_dir || stat(run_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return wb_err(err, WB_E_IO, run_dir, "not a run directory: %s",
                      run_dir && stat(run_dir, &st) != 0 ? strerror(errno) : "not a directory");
    snprintf(cpath, sizeof cpath, "%s/" EXP_RD_CONFIG, run_dir);
    if (stat(cpath, &st) != 0) return wb_err(err, WB_E_IO, cpath, "not a run directory (no resolved config.yaml): %s", strerror(errno));
    if (lstat(out_dir, &st) == 0)
        return wb_err(err, WB_E_USAGE, out_dir, "bundle: the output directory exists already (a bundle is written once; "
                      "choose another --out or remove it)");
    exp_config *cfg = NULL;
    if (exp_config_load(cpath, NULL, 0, &cfg, err) != 0) return -1;
    sbuf thr = {0}, man = {0};
    char tmp[PATH_MAX + 96] = "", dir[PATH_MAX + 160];
    int rc = -1, folds = 0;
    char *thr_text[MAX_FOLDS] = {0}, *ref_thr[MAX_FOLDS] = {0};
    char hex[2 * MAX_FOLDS + 4][65];
    const char *vname = NULL, *ref = reference_baseline(cfg);
    sbuf rthr = {0};
    const exp_settings *cs = exp_config_get(cfg);
    if (cs->data.n_classes > 2) {
        wb_err(err, WB_E_USAGE, run_dir, "bundle: this is a multi-class run (data.classes); bundles hold binary "
               "networks (one decision threshold) only for now");
        goto done;
    }
    if (exp_foldnet_variant(cfg, cpath, variant, "bundle", &vname, err) != 0) goto done;
    if (!cs->train.save_weights) {
        wb_err(err, WB_E_IO, cpath, "the run kept no fold networks (train.save_weights is false): run it again with "
               "--set train.save_weights=true to bundle it");
        goto done;
    }
    folds = cs->cv.folds;
    if (folds < 1 || folds > MAX_FOLDS) {
        wb_err(err, WB_E_CONFIG, cpath, "cv.folds %d: a bundle takes 1 to %d folds", folds, MAX_FOLDS);
        goto done;
    }
    for (int f = 0; f < folds; f++) {
        char wp[PATH_MAX + 64];
        exp_foldnet_path(run_dir, 0, f, vname, wp, sizeof wp);
        if (stat(wp, &st) != 0) {
            wb_err(err, WB_E_IO, wp, "no saved network for variant %s, repeat 0, fold %d: %s; the run keeps its fold "
                   "networks only with train.save_weights: true (run it again with --set train.save_weights=true)",
                   vname, f, strerror(errno));
            goto done;
        }
    }
    /* the folds' thresholds: predictions.csv, repeat 0, this variant (and the reference's) */
    snprintf(ppath, sizeof ppath, "%s/" EXP_RD_PREDICTIONS, run_dir);
    fold_thr ft[2] = {{.vname = vname, .text = thr_text}, {.vname = ref, .text = ref_thr}};
    double sum[2] = {0, 0};
    if (fold_thresholds(ppath, ft, ref ? 2 : 1, folds, sum, err) != 0) goto done;
    const double tsum = sum[0], rsum = sum[1];
    if (ref && ref_models(run_dir, ref, folds, &ref) != 0) goto done;
    /* write into the temporary directory, then rename */
    if (!io_fs_tmp_name(out_dir, tmp, sizeof tmp)) {
        wb_err(err, WB_E_USAGE, out_dir, "path too long");
        goto done;
    }
    snprintf(dir, sizeof dir, "%s/models", tmp);
    if (io_fs_mkdirs(dir, err) != 0) goto done;
    for (int f = 0; f < folds; f++) {
        char wp[PATH_MAX + 64], dst[PATH_MAX + 160];
        exp_foldnet_path(run_dir, 0, f, vname, wp, sizeof wp);
        snprintf(dst, sizeof dst, "%s/models/f%d.safetensors", tmp, f);
        if (copy_file(wp, dst, hex[f], err) != 0) goto done;
    }
    char dst[PATH_MAX + 480];
    snprintf(dst, sizeof dst, "%s/config.yaml", tmp);
    if (copy_file(cpath, dst, hex[folds], err) != 0) goto done;
    /* the pretrained weights the run started from: predict reads this copy, not the path */
    info->pretrained[0] = '\0';
    if (cs->backbone.weights[0]) {
        char wname[256];
        base_name(cs->backbone.weights, wname, sizeof wname);
        snprintf(info->pretrained, sizeof info->pretrained, "pretrained/%s", wname);
        snprintf(dir, sizeof dir, "%s/pretrained", tmp);
        snprintf(dst, sizeof dst, "%s/%s", tmp, info->pretrained);
        if (io_fs_mkdirs(dir, err) != 0 || copy_file(cs->backbone.weights, dst, hex[2 * folds + 3], err) != 0) goto done;
    }
    sb_printf(&thr, "fold,threshold\n");
    for (int f = 0; f < folds; f++) sb_printf(&thr, "%d,%s\n", f, thr_text[f]);
    hash_written(&thr, hex[folds + 1]);
    if (sb_write(&thr, tmp, "thresholds.csv", err) != 0) goto done;
    if (ref) {
        /* the reference baseline: each fold's fitted model (byte for byte) and threshold */
        snprintf(dir, sizeof dir, "%s/reference", tmp);
        if (io_fs_mkdirs(dir, err) != 0) goto done;
        for (int f = 0; f < folds; f++) {
            char name[256], src[PATH_MAX + 300];
            exp_baseline_model_name(0, f, ref, name, sizeof name);
            snprintf(src, sizeof src, "%s/models/%s", run_dir, name);
            snprintf(dst, sizeof dst, "%s/reference/f%d.json", tmp, f);
            if (copy_file(src, dst, hex[folds + 2 + f], err) != 0) goto done;
        }
        sb_printf(&rthr, "fold,threshold\n");
        for (int f = 0; f < folds; f++) sb_printf(&rthr, "%d,%s\n", f, ref_thr[f]);
        hash_written(&rthr, hex[2 * folds + 2]);
        if (sb_write(&rthr, tmp, "reference/thresholds.csv", err) != 0) goto done;
    }
    char conv[512];
    exp_normalize_resolve(exp_normalize_name(cs->preprocess.normalize), cs->backbone.arch, cs->backbone.weights, NULL,
                          NULL, conv, sizeof conv);
    snprintf(info->variant, sizeof info->variant, "%s", vname);
    snprintf(info->arch, sizeof info->arch, "%s", cs->backbone.arch);
    snprintf(info->reference, sizeof info->reference, "%s", ref ? ref : "");
    char rpath[PATH_MAX];
    base_name(realpath(run_dir, rpath) ? rpath : run_dir, info->source_run, sizeof info->source_run);
    info->folds = folds;
    info->threshold = tsum / folds;
    info->ref_threshold = ref ? rsum / folds : NAN;
    sb_printf(&man, "{\n  \"format\": \"%s\",\n  \"source_run\": ", EXP_BUNDLE_FORMAT);
    sb_jstr(&man, info->source_run);
    sb_printf(&man, ",\n  \"variant\": ");
    sb_jstr(&man, vname);
    sb_printf(&man, ",\n  \"arch\": ");
    sb_jstr(&man, info->arch);
    sb_printf(&man, ",\n  \"in_channels\": %d,\n  \"input_height\": %d,\n  \"input_width\": %d,\n  \"input_convention\": ",
              cs->backbone.in_channels, cs->preprocess.height, cs->preprocess.width);
    sb_jstr(&man, conv);
    info->patch = cs->data.task == EXP_TASK_PATCH;
    sb_printf(&man, ",\n  \"task\": \"%s\",\n  \"unit\": \"%s\"", info->patch ? "patch" : "image",
              info->patch ? "patch" : "image");
    if (info->patch) {
        /* how the run cut its patches: predict cuts the cohort's the same way (docs/predict.md) */
        patch_from_settings(&cs->data.patch, &info->pset);
        const exp_bundle_patch *bp = &info->pset;
        sb_printf(&man, ",\n  \"patch\": {\"unit\": \"%s\", \"size\": ", bp->unit);
        sb_num(&man, bp->size);
        sb_printf(&man, ", \"jitter\": ");
        sb_num(&man, bp->jitter);
        sb_printf(&man, ", \"box_margin\": ");
        sb_num(&man, bp->box_margin);
        sb_printf(&man, ", \"background\": %d, \"min_tissue\": ", bp->background);
        sb_num(&man, bp->min_tissue);
        sb_printf(&man, ", \"stride\": ");
        sb_num(&man, bp->stride);
        sb_printf(&man, ", \"box\": ");
        sb_jstr(&man, bp->box);
        sb_printf(&man, ", \"seed\": %llu, \"lesion\": ", (unsigned long long)cs->seed);
        sb_jstr(&man, "one patch per labels row with a box, labelled by the row; centred on the box plus a seeded "
                      "jitter, moved inside the image; a box larger than size gets a square of its longer side times "
                      "1 + 2 box_margin");
        sb_printf(&man, ", \"negatives\": ");
        sb_jstr(&man, "background patches: `background` squares of side size drawn (seeded by seed and the file's "
                      "SHA-256) among those with at least min_tissue of their pixels in the breast mask, from each "
                      "image without a box and with a negative label");
        sb_printf(&man, "}");
    }
    sb_printf(&man, ",\n  \"repeat\": 0,\n  \"folds\": %d,\n  \"ensemble\": \"mean\",\n  \"threshold\": ", folds);
    sb_num(&man, info->threshold);
    sb_printf(&man, ",\n  \"reference\": ");
    if (ref) {
        sb_printf(&man, "{\"variant\": ");
        sb_jstr(&man, ref);
        sb_printf(&man, ", \"type\": \"baseline\", \"folds\": %d, \"ensemble\": \"mean\", \"threshold\": ", folds);
        sb_num(&man, info->ref_threshold);
        sb_printf(&man, "}");
    } else {
        sb_printf(&man, "null");
    }
    sb_printf(&man, ",\n  \"pretrained\": ");
    if (info->pretrained[0]) sb_jstr(&man, info->pretrained);
    else sb_printf(&man, "null");
    sb_printf(&man, ",\n  \"files\": [\n");
    const int nfiles = ref ? 2 * folds + 3 : folds + 2, last = info->pretrained[0] ? 2 * folds + 3 : nfiles - 1;
    for (int f = 0; f <= last; f++) {
        char name[400];
        if (f >= nfiles && f != 2 * folds + 3) continue; /* no reference: the pretrained copy comes next */
        if (f < folds) snprintf(name, sizeof name, "models/f%d.safetensors", f);
        else if (f < folds + 2) snprintf(name, sizeof name, "%s", f == folds ? "config.yaml" : "thresholds.csv");
        else if (f < 2 * folds + 2) snprintf(name, sizeof name, "reference/f%d.json", f - folds - 2);
        else if (f == 2 * folds + 2) snprintf(name, sizeof name, "reference/thresholds.csv");
        else snprintf(name, sizeof name, "%s", info->pretrained);
        sb_printf(&man, "    {\"path\": ");
        sb_jstr(&man, name);
        sb_printf(&man, ", \"sha256\": \"%s\"}%s\n", hex[f], f < last ? "," : "");
    }
    sb_printf(&man, "  ]\n}\n");
    if (sb_write(&man, tmp, "manifest.json", err) != 0) goto done;
    if (io_fs_fault_point("rename", out_dir) != 0 || rename(tmp, out_dir) != 0) {
        wb_err(err, WB_E_WRITE, out_dir, "cannot move the bundle into place: %s", strerror(errno));
        goto done;
    }
    tmp[0] = '\0';
    rc = 0;
done:
    if (tmp[0]) remove_tmp(tmp, folds);
    for (int f = 0; f < MAX_FOLDS; f++) free(thr_text[f]), free(ref_thr[f]);
    sb_free(&thr);
    sb_free(&rthr);
    sb_free(&man);
    exp_config_free(cfg);
    return rc;
}

/* ---- predict ---- */

static int ends_with(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

static const io_json_node *jget(const io_json_doc *d, const io_json_node *o, const char *key, io_json_type t)
{
    const io_json_node *n = io_json_get(d, o, key);
    return n && n->type == t ? n : NULL;
}

/* The folds' thresholds file of a bundle (name: "thresholds.csv" or "reference/thresholds.csv",
 * whose SHA-256 the manifest has checked) is the source of the decision threshold; the
 * manifest's key (threshold or reference.threshold) repeats their mean, as make_bundle
 * computed it (summed in fold order, divided by folds). Both must agree to the bit: a manifest
 * edited by hand (it has no hash of its own) is refused rather than used. */
/* A JSON number written as an integer within lo..hi (a cast of any other double is undefined). */
static int int_in(const io_json_node *x, int64_t lo, int64_t hi)
{
    return x->is_int && x->i >= lo && x->i <= hi;
}

static int thresholds_agree(const char *bdir, const char *name, int folds, double manifest_thr, const char *mpath,
                            const char *key, wb_error *err)
{
    char tpath[PATH_MAX + 64];
    snprintf(tpath, sizeof tpath, "%s/%s", bdir, name);
    io_csv t;
    if (io_csv_read(tpath, &t, err) != 0) return -1;
    int rc = -1;
    long cf = io_csv_column(&t, "fold", err), ct = cf < 0 ? -1 : io_csv_column(&t, "threshold", err);
    if (ct < 0) goto done;
    if (t.n_rows != (size_t)folds) {
        wb_err(err, WB_E_DATA, tpath, "%zu folds' thresholds, the manifest says %d folds: the bundle was changed; "
               "refusing to use the bundle", t.n_rows, folds);
        goto done;
    }
    double sum = 0;
    for (size_t r = 0; r < t.n_rows; r++) {
        const char *f = io_csv_cell(&t, r, cf), *v = io_csv_cell(&t, r, ct);
        char *fe, *ve;
        long fv = strtol(f, &fe, 10);
        double tv = strtod(v, &ve);
        if (!f[0] || *fe || fv != (long)r) {
            wb_err_at(err, WB_E_DATA, tpath, t.lines[r], (int)cf + 1, "fold", "expected fold %zu, got '%s'", r, f);
            goto done;
        }
        if (!v[0] || *ve || !isfinite(tv)) {
            wb_err_at(err, WB_E_DATA, tpath, t.lines[r], (int)ct + 1, "threshold", "expected a number, got '%s'", v);
            goto done;
        }
        sum += tv;
    }
    const double mean = sum / folds;
    if (!(mean == manifest_thr)) {
        wb_err(err, WB_E_DATA, mpath, "%.17g, but the mean of %s's fold thresholds is %.17g: the manifest was "
               "edited; refusing to use the bundle (make it again with workbench bundle)", manifest_thr, name, mean);
        snprintf(err->key, sizeof err->key, "%s", key);
        goto done;
    }
    rc = 0;
done:
    io_csv_free(&t);
    return rc;
}

/* Reads and checks the manifest: every listed file's SHA-256, that the files the bundle uses
 * are listed, and that its thresholds are the thresholds files' (thresholds_agree). */
static int manifest_check(const char *bdir, exp_bundle_info *bi, long *in_ch, long *h, long *w, wb_error *err)
{
    char mpath[PATH_MAX + 32];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", bdir);
    struct stat st;
    if (stat(bdir, &st) != 0 || !S_ISDIR(st.st_mode))
        return wb_err(err, WB_E_IO, bdir, "not a bundle directory: %s", stat(bdir, &st) != 0 ? strerror(errno) : "not a directory");
    io_json_doc d;
    int rc = -1;
    if (io_json_load(mpath, 1 << 20, &d, err) != 0) return -1;
    const io_json_node *root = &d.nodes[0], *fmt = jget(&d, root, "format", IO_JSON_STRING),
                       *src = jget(&d, root, "source_run", IO_JSON_STRING), *var = jget(&d, root, "variant", IO_JSON_STRING),
                       *arch = jget(&d, root, "arch", IO_JSON_STRING), *folds = jget(&d, root, "folds", IO_JSON_NUMBER),
                       *thr = jget(&d, root, "threshold", IO_JSON_NUMBER), *ic = jget(&d, root, "in_channels", IO_JSON_NUMBER),
                       *ih = jget(&d, root, "input_height", IO_JSON_NUMBER), *iw = jget(&d, root, "input_width", IO_JSON_NUMBER),
                       *files = jget(&d, root, "files", IO_JSON_ARRAY);
    if (root->type != IO_JSON_OBJECT || !fmt || strcmp(fmt->str, EXP_BUNDLE_FORMAT) || !src || !var || !arch || !folds ||
        !folds->is_int || folds->i < 1 || folds->i > MAX_FOLDS || !thr || !ic || !ih || !iw || !files ||
        !int_in(ic, 1, 1 << 16) || !int_in(ih, 1, 1 << 16) || !int_in(iw, 1, 1 << 16)) {
        wb_err(err, WB_E_DATA, mpath, "not a bundle manifest of format %s (format, source_run, variant, arch, folds, "
               "threshold, in_channels, input_height, input_width as integers 1..65536, files)", EXP_BUNDLE_FORMAT);
        goto done;
    }
    snprintf(bi->source_run, sizeof bi->source_run, "%s", src->str);
    snprintf(bi->variant, sizeof bi->variant, "%s", var->str);
    snprintf(bi->arch, sizeof bi->arch, "%s", arch->str);
    bi->folds = (int)folds->i;
    bi->threshold = thr->num;
    *in_ch = (long)ic->i;
    *h = (long)ih->i;
    *w = (long)iw->i;
    /* the reference baseline: absent or null in bundles without one */
    const io_json_node *ref = io_json_get(&d, root, "reference");
    bi->ref_threshold = NAN;
    if (ref && ref->type == IO_JSON_OBJECT) {
        const io_json_node *rv = jget(&d, ref, "variant", IO_JSON_STRING), *rt = jget(&d, ref, "threshold", IO_JSON_NUMBER),
                           *rty = jget(&d, ref, "type", IO_JSON_STRING);
        if (!rv || !rv->str[0] || !rt || !rty || strcmp(rty->str, "baseline")) {
            wb_err(err, WB_E_DATA, mpath, "reference: expected {\"variant\", \"type\": \"baseline\", \"threshold\"} or null");
            goto done;
        }
        snprintf(bi->reference, sizeof bi->reference, "%s", rv->str);
        bi->ref_threshold = rt->num;
    } else if (ref && ref->type != IO_JSON_NULL) {
        wb_err(err, WB_E_DATA, mpath, "reference: expected an object or null");
        goto done;
    }
    /* the unit: "image" (also when absent: bundles made before patch bundles) or "patch" */
    const io_json_node *task = io_json_get(&d, root, "task");
    if (task && (task->type != IO_JSON_STRING || (strcmp(task->str, "image") && strcmp(task->str, "patch")))) {
        wb_err(err, WB_E_DATA, mpath, "task: expected \"image\" or \"patch\"");
        goto done;
    }
    bi->patch = task && !strcmp(task->str, "patch");
    if (bi->patch) {
        const io_json_node *po = jget(&d, root, "patch", IO_JSON_OBJECT);
        const io_json_node *pu = po ? jget(&d, po, "unit", IO_JSON_STRING) : NULL, *pb = po ? jget(&d, po, "box", IO_JSON_STRING) : NULL;
        static const char *const nk[6] = {"size", "jitter", "box_margin", "min_tissue", "stride", "background"};
        double nv[6];
        int ok = po && pu && pb && (!strcmp(pu->str, "px") || !strcmp(pu->str, "mm"));
        for (int k = 0; ok && k < 6; k++) {
            const io_json_node *x = jget(&d, po, nk[k], IO_JSON_NUMBER);
            ok = x != NULL && (k < 5 || int_in(x, 0, 1000)); /* background: data.patch.background's range */
            if (ok) nv[k] = x->num;
        }
        if (!ok) {
            wb_err(err, WB_E_DATA, mpath, "patch: a patch bundle needs {\"unit\": \"px\"|\"mm\", \"size\", \"jitter\", "
                   "\"box_margin\", \"background\", \"min_tissue\", \"stride\", \"box\"}");
            goto done;
        }
        exp_bundle_patch *bp = &bi->pset;
        snprintf(bp->unit, sizeof bp->unit, "%s", pu->str);
        snprintf(bp->box, sizeof bp->box, "%s", pb->str);
        bp->size = nv[0];
        bp->jitter = nv[1];
        bp->box_margin = nv[2];
        bp->min_tissue = nv[3];
        bp->stride = nv[4];
        bp->background = (int)nv[5];
    }
    /* the copy of the pretrained weights: absent or null in bundles made before it */
    const io_json_node *pre = io_json_get(&d, root, "pretrained");
    bi->pretrained[0] = '\0';
    if (pre && pre->type == IO_JSON_STRING) {
        if (strncmp(pre->str, "pretrained/", 11) || strchr(pre->str + 11, '/') || io_path_leaves(pre->str) ||
            !pre->str[11] || pre->str_len >= sizeof bi->pretrained) {
            wb_err(err, WB_E_DATA, mpath, "pretrained: expected \"pretrained/<file name>\" or null");
            goto done;
        }
        snprintf(bi->pretrained, sizeof bi->pretrained, "%s", pre->str);
    } else if (pre && pre->type != IO_JSON_NULL) {
        wb_err(err, WB_E_DATA, mpath, "pretrained: expected a path inside the bundle or null");
        goto done;
    }
    int listed[2 * MAX_FOLDS + 4] = {0};
    for (int32_t c = files->first; c >= 0; c = d.nodes[c].next) {
        const io_json_node *e = &d.nodes[c], *p = jget(&d, e, "path", IO_JSON_STRING), *hs = jget(&d, e, "sha256", IO_JSON_STRING);
        if (e->type != IO_JSON_OBJECT || !p || !hs || !p->str[0] || io_path_leaves(p->str)) {
            wb_err(err, WB_E_DATA, mpath, "files: each entry needs a relative path inside the bundle and a sha256");
            goto done;
        }
        char fp[PATH_MAX + 64], hex[65];
        snprintf(fp, sizeof fp, "%s/%s", bdir, p->str);
        if (stat(fp, &st) != 0) {
            wb_err(err, WB_E_IO, fp, "a file of the bundle's manifest is missing: %s", strerror(errno));
            goto done;
        }
        uint8_t dg[IO_SHA256_SIZE];
        if (io_sha256_file(fp, dg, err) != 0) goto done;
        io_sha256_hex(dg, hex);
        if (strcmp(hex, hs->str)) {
            wb_err(err, WB_E_DATA, fp, "SHA-256 %s differs from the manifest's %.64s: the bundle file was changed or "
                   "damaged; refusing to use the bundle", hex, hs->str);
            goto done;
        }
        int f;
        char tail;
        if (sscanf(p->str, "models/f%d.safetensor%c", &f, &tail) == 2 && tail == 's' && f >= 0 && f < bi->folds) listed[f] = 1;
        if (!strcmp(p->str, "config.yaml")) listed[MAX_FOLDS] = 1;
        if (!strcmp(p->str, "thresholds.csv")) listed[MAX_FOLDS + 1] = 1;
        if (sscanf(p->str, "reference/f%d.jso%c", &f, &tail) == 2 && tail == 'n' && f >= 0 && f < bi->folds)
            listed[MAX_FOLDS + 2 + f] = 1;
        if (!strcmp(p->str, "reference/thresholds.csv")) listed[2 * MAX_FOLDS + 2] = 1;
        if (bi->pretrained[0] && !strcmp(p->str, bi->pretrained)) listed[2 * MAX_FOLDS + 3] = 1;
    }
    if (bi->pretrained[0] && !listed[2 * MAX_FOLDS + 3]) {
        wb_err(err, WB_E_DATA, mpath, "files: %s is not listed (the manifest names it as the pretrained weights)", bi->pretrained);
        goto done;
    }
    for (int f = 0; bi->reference[0] && f < bi->folds; f++)
        if (!listed[MAX_FOLDS + 2 + f]) {
            wb_err(err, WB_E_DATA, mpath, "files: reference/f%d.json is not listed (the manifest names a reference)", f);
            goto done;
        }
    if (bi->reference[0] && !listed[2 * MAX_FOLDS + 2]) {
        wb_err(err, WB_E_DATA, mpath, "files: reference/thresholds.csv is not listed (the manifest names a reference)");
        goto done;
    }
    for (int f = 0; f < bi->folds; f++)
        if (!listed[f]) {
            wb_err(err, WB_E_DATA, mpath, "files: models/f%d.safetensors is not listed (the manifest says %d folds)", f, bi->folds);
            goto done;
        }
    if (!listed[MAX_FOLDS] || !listed[MAX_FOLDS + 1]) {
        wb_err(err, WB_E_DATA, mpath, "files: config.yaml and thresholds.csv must be listed");
        goto done;
    }
    if (thresholds_agree(bdir, "thresholds.csv", bi->folds, bi->threshold, mpath, "threshold", err) != 0 ||
        (bi->reference[0] && thresholds_agree(bdir, "reference/thresholds.csv", bi->folds, bi->ref_threshold, mpath,
                                              "reference.threshold", err) != 0))
        goto done;
    rc = 0;
done:
    io_json_free(&d);
    return rc;
}

int exp_bundle_check(const char *bundle_dir, exp_bundle_info *info, long *in_ch, long *in_h, long *in_w, wb_error *err)
{
    memset(info, 0, sizeof *info);
    return manifest_check(bundle_dir, info, in_ch, in_h, in_w, err);
}

/* The --set overrides that point the bundle's config at the new cohort. */
typedef struct data_sets {
    char *v[12];
    size_t n;
} data_sets;

static int add_set(data_sets *s, const char *key, const char *val, wb_error *err)
{
    if (s->n == sizeof s->v / sizeof *s->v) return wb_err(err, WB_E_INTERNAL, NULL, "predict: too many overrides");
    size_t l = strlen(key) + strlen(val) + 2;
    if (!(s->v[s->n] = malloc(l))) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    snprintf(s->v[s->n++], l, "%s=%s", key, val);
    return 0;
}

static int data_overrides(const char *data, const exp_bundle_info *b, data_sets *s, wb_error *err)
{
    char *rp = realpath(data, NULL);
    if (!rp) return wb_err(err, WB_E_IO, data, "cannot open the cohort's labels CSV or config: %s", strerror(errno));
    int rc = -1;
    if (!ends_with(data, ".yaml") && !ends_with(data, ".yml")) {
        char dir[PATH_MAX];
        snprintf(dir, sizeof dir, "%s", rp);
        char *slash = strrchr(dir, '/');
        if (slash == dir) dir[1] = '\0';
        else if (slash) *slash = '\0';
        rc = add_set(s, "data.labels", rp, err) || add_set(s, "data.dicom_dir", dir, err) ? -1 : 0;
        /* a patch bundle scores patches only: no sliding windows over the cohort's images */
        if (rc == 0 && b->patch) rc = add_set(s, "data.patch.whole_image", "false", err);
        free(rp);
        return rc;
    }
    exp_config *dc = NULL;
    if (exp_config_load(rp, NULL, 0, &dc, err) != 0) {
        free(rp);
        return -1;
    }
    const exp_settings_data *d = &exp_config_get(dc)->data;
    if (d->n_classes > 2) {
        wb_err(err, WB_E_USAGE, data, "predict: the cohort's data section is multi-class (data.classes); bundles are "
               "binary models");
        goto out;
    }
    if (d->task == EXP_TASK_PATCH && !b->patch) {
        wb_err(err, WB_E_USAGE, data, "predict: the cohort's data section is a patch task (data.task: patch) but the "
               "bundle holds whole-image networks: give a config with data.task: image, or a labels CSV");
        goto out;
    }
    if (d->task == EXP_TASK_PATCH) {
        /* the patches are cut as the bundle's run cut them: the cohort may restate, not change, that */
        exp_bundle_patch cp;
        patch_from_settings(&d->patch, &cp);
        const char *key = patch_differs(&cp, &b->pset);
        if (key) {
            char lb[400], lc[400];
            patch_line(&b->pset, lb, sizeof lb);
            patch_line(&cp, lc, sizeof lc);
            const char *cf;
            int line, col;
            exp_config_where(dc, key, &cf, &line, &col);
            wb_err_at(err, WB_E_USAGE, cf && cf[0] ? cf : data, line, col, key,
                      "predict: the cohort config cuts patches unlike the bundle (bundle: %s; cohort: %s): a patch "
                      "bundle's networks were trained on its own patch size and sampling; remove data.patch from the "
                      "cohort config or make it match", lb, lc);
            goto out;
        }
    }
    if (!d->labels[0]) {
        wb_err(err, WB_E_CONFIG, data, "predict: the config has no data.labels");
        goto out;
    }
    /* the cohort's data section, as --set overrides of the bundle's config */
    const char *const sets[][2] = {{"data.labels", d->labels},
                                   {"data.dicom_dir", d->dicom_dir},
                                   {"data.file_column", d->file_column},
                                   {"data.label_column", d->label_column},
                                   {"data.positive", d->positive},
                                   {"data.group_column", d->group_column},
                                   {"data.output_paths", exp_output_paths_name(d->output_paths)},
                                   {"data.on_error", exp_on_error_name(d->on_error)}};
    for (size_t k = 0; k < sizeof sets / sizeof *sets; k++)
        if (sets[k][1][0] && add_set(s, sets[k][0], sets[k][1], err) != 0) goto out;
    if (b->patch && add_set(s, "data.patch.whole_image", "false", err) != 0) goto out;
    rc = 0;
out:
    exp_config_free(dc);
    free(rp);
    return rc;
}

static void csv_num(sbuf *b, double v)
{
    if (isfinite(v)) sb_num(b, v);
}

/* Whether the cohort's labels CSV has the label column (an unlabeled cohort has none). The file
 * is read to its end, a row at a time, so that a damaged one is io_csv_read's error. */
static int cohort_labeled(const exp_config *cfg, int *labeled, wb_error *err)
{
    io_csv_stream s;
    const exp_settings_data *d = &exp_config_get(cfg)->data;
    if (io_csv_stream_open(d->labels, &s, err) != 0) return -1;
    wb_error ignore;
    *labeled = io_csv_column(&s.head, d->label_column, &ignore) >= 0;
    int r;
    while ((r = io_csv_stream_next(&s, err)) == 1) {
    }
    io_csv_stream_close(&s);
    return r < 0 ? -1 : 0;
}

/* The fold models of the bundle's reference baseline. */
static int load_reference(const char *bundle_dir, int F, exp_baseline_model *bm, wb_error *err)
{
    for (int f = 0; f < F; f++) {
        char p[PATH_MAX + 64];
        snprintf(p, sizeof p, "%s/reference/f%d.json", bundle_dir, f);
        if (exp_baseline_model_read(p, &bm[f], err) != 0) return -1;
    }
    return 0;
}

/* The metric table as a JSON object's members (indent: spaces before each). */
static void json_metrics(sbuf *b, const double *m, const char *indent)
{
    for (int q = 0; q < EXP_M_COUNT; q++) {
        sb_printf(b, "%s", indent);
        sb_jstr(b, exp_rd_metric_names[q]);
        sb_printf(b, ": ");
        sb_num(b, m[q]);
        sb_printf(b, "%s\n", q + 1 < EXP_M_COUNT ? "," : "");
    }
}

/* One ensemble's columns of predictions.csv for item i: score, the fold scores, threshold,
 * decision. */
static void csv_ensemble(sbuf *b, double score, const double *fs, int F, double thr)
{
    sb_printf(b, ",");
    csv_num(b, score);
    for (int f = 0; f < F; f++) {
        sb_printf(b, ",");
        csv_num(b, fs[f]);
    }
    sb_printf(b, ",");
    csv_num(b, thr);
    sb_printf(b, ",%d", score >= thr);
}

/* The work of predict (everything but the registry): see exp_predict_run. */
static int predict_work(const char *bundle_dir, const char *data, const char *out_dir, long in_ch, long in_h, long in_w,
                        exp_predict_summary *s, wb_error *err)
{
    data_sets sets = {{0}, 0};
    exp_config *cfg = NULL;
    exp_dataset ds;
    memset(&ds, 0, sizeof ds);
    int ds_loaded = 0, rc = -1, labeled = 1;
    const int F = s->b.folds, has_ref = s->b.reference[0] != '\0';
    nn_net *net[MAX_FOLDS] = {0};
    exp_baseline_model bm[MAX_FOLDS];
    for (int f = 0; f < MAX_FOLDS; f++) exp_baseline_model_init(&bm[f]);
    double *score = NULL, *fs = NULL, *rscore = NULL, *rfs = NULL, *col = NULL;
    int *y = NULL;
    size_t *idx = NULL;
    float *x = NULL;
    sbuf pc = {0}, mj = {0}, ex = {0};
    char cpath[PATH_MAX + 32];
    snprintf(cpath, sizeof cpath, "%s/config.yaml", bundle_dir);
    if (data_overrides(data, &s->b, &sets, err) != 0) goto done;
    /* relative to the bundle's config.yaml, which is how the config resolves a relative path (the
     * bundle directory joined in front was joined twice when BUNDLE_DIR was relative) */
    if (s->b.pretrained[0] && add_set(&sets, "backbone.weights", s->b.pretrained, err) != 0) goto done;
    if (exp_config_load(cpath, (const char *const *)sets.v, sets.n, &cfg, err) != 0) goto done;
    const char *vname = NULL;
    if (exp_foldnet_variant(cfg, cpath, s->b.variant, "predict with", &vname, err) != 0) goto done;
    const exp_settings *cs = exp_config_get(cfg);
    if (strcmp(cs->backbone.arch, s->b.arch) || cs->backbone.in_channels != in_ch || cs->preprocess.height != in_h ||
        cs->preprocess.width != in_w) {
        wb_err(err, WB_E_DATA, cpath, "the bundle's config does not agree with its manifest (arch, in_channels, input size)");
        goto done;
    }
    if ((cs->data.task == EXP_TASK_PATCH) != s->b.patch) {
        wb_err(err, WB_E_DATA, cpath, "the bundle's config (data.task: %s) does not agree with its manifest (task %s)",
               cs->data.task == EXP_TASK_PATCH ? "patch" : "image", s->b.patch ? "patch" : "image");
        goto done;
    }
    if (s->b.patch) {
        exp_bundle_patch cp;
        patch_from_settings(&cs->data.patch, &cp);
        const char *key = patch_differs(&cp, &s->b.pset);
        if (key || cp.stride != s->b.pset.stride) {
            wb_err(err, WB_E_DATA, cpath, "the bundle's config does not agree with its manifest's patch settings (%s)",
                   key ? key : "data.patch.stride");
            goto done;
        }
    }
    if (cohort_labeled(cfg, &labeled, err) != 0) goto done;
    s->labeled = labeled;
    if (!labeled && s->b.patch) {
        wb_err(err, WB_E_USAGE, cs->data.labels, "predict: no label column '%s': a patch bundle needs a labelled "
               "cohort (lesion patches take their row's label, and background patches come only from images labelled "
               "negative); an unlabeled cohort can be scored with an image bundle", cs->data.label_column);
        goto done;
    }
    if (!labeled)
        wb_warn("predict: %s has no label column '%s': an unlabeled cohort; writing scores and decisions only, no metrics",
                cs->data.labels, cs->data.label_column);
    nn_set_threads(cs->threads);
    exp_pre_set_threads(cs->threads);
    /* the fold networks, and the reference's fold baselines */
    for (int f = 0; f < F; f++) {
        char wp[PATH_MAX + 64];
        snprintf(wp, sizeof wp, "%s/models/f%d.safetensors", bundle_dir, f);
        wb_tensor_list w;
        wb_tensor_list_init(&w);
        if (io_weights_read(wp, &w, err) != 0) goto done;
        net[f] = exp_foldnet_load(cfg, &w, wp, 0, 1, err);
        wb_tensor_list_free(&w);
        if (!net[f]) goto done;
        if (nn_net_in_channels(net[f]) != in_ch) {
            wb_err(err, WB_E_DATA, wp, "the network takes %d channels; the bundle's input has %ld", nn_net_in_channels(net[f]), in_ch);
            goto done;
        }
    }
    if (has_ref && load_reference(bundle_dir, F, bm, err) != 0) goto done;
    /* the cohort, preprocessed as the bundle's config says */
    char keydir[PATH_MAX + 8];
    snprintf(keydir, sizeof keydir, "%s/..", out_dir);
    uint8_t key[32];
    if (exp_pseudonym_key(keydir, key, err) != 0) goto done;
    if (exp_dataset_load_ex(cfg, key, NULL, 0, (labeled ? 0 : EXP_DATASET_NO_LABELS) | EXP_DATASET_ALL_ROWS, &ds, err) != 0) goto done;
    ds_loaded = 1;
    if (ds.n == 0) {
        wb_err(err, WB_E_DATA, data, "no image of the cohort could be preprocessed to the bundle's input (%ldx%ld, %ld "
               "channel(s))%s%s", in_h, in_w, in_ch, ds.n_excluded ? ": the first: " : "", ds.n_excluded ? ds.excluded[0].reason : "");
        goto done;
    }
    if (ds.rows != in_h || ds.cols != in_w) {
        wb_err(err, WB_E_DATA, data, "the cohort's images were preprocessed to %dx%d; the bundle's networks take %ldx%ld",
               ds.rows, ds.cols, in_h, in_w);
        goto done;
    }
    const size_t px = (size_t)ds.rows * ds.cols;
    x = malloc((size_t)in_ch * px * sizeof *x);
    score = malloc(ds.n * sizeof *score);
    fs = malloc(ds.n * (size_t)F * sizeof *fs);
    rscore = malloc(ds.n * sizeof *rscore);
    rfs = malloc(ds.n * (size_t)F * sizeof *rfs);
    col = malloc(ds.n * sizeof *col);
    idx = malloc(ds.n * sizeof *idx);
    y = malloc(ds.n * sizeof *y);
    if (!x || !score || !fs || !rscore || !rfs || !col || !idx || !y) {
        wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < ds.n; i++) {
        const float *im = exp_dataset_image(&ds, i, x, err); /* x itself when spilled (data.memory_mb) */
        if (!im) goto done;
        for (long c = 0; c < in_ch; c++)
            if (x + (size_t)c * px != im) memcpy(x + (size_t)c * px, im, px * sizeof *x);
        double sum = 0;
        for (int f = 0; f < F; f++) {
            if (exp_foldnet_prob(net[f], x, ds.rows, ds.cols, 1, &fs[i * F + f], NULL, err) != 0) goto done;
            sum += fs[i * F + f];
        }
        score[i] = sum / F;
        y[i] = ds.items[i].label;
        s->n_positive += labeled && y[i] == 1;
        idx[i] = i;
        rscore[i] = 0;
    }
    /* the reference: each fold's baseline on the cohort's radiomic features, then the mean */
    for (int f = 0; has_ref && f < F; f++) {
        if (exp_baseline_model_predict(&bm[f], &ds, idx, ds.n, col, err) != 0) goto done;
        for (size_t i = 0; i < ds.n; i++) rfs[i * F + f] = col[i], rscore[i] += col[i];
    }
    for (size_t i = 0; has_ref && i < ds.n; i++) rscore[i] /= F;
    s->n = ds.n;
    s->n_excluded = ds.n_excluded;
    /* predictions.csv */
    const double thr = s->b.threshold, rthr = s->b.ref_threshold;
    const exp_patch_set *ps = s->b.patch ? ds.patch : NULL;
    if (s->b.patch && !ps) {
        wb_err(err, WB_E_INTERNAL, cpath, "a patch bundle's cohort loaded without patches");
        goto done;
    }
    if (ps) {
        s->n_lesion = ps->n_lesion;
        s->n_background = ps->n_background;
        for (size_t k = 0; k < ps->n_images; k++) s->n_images += ps->images[k].n_patches > 0;
        sb_printf(&pc, "file,patch,patient,laterality,view,kind,row,col,side,label,score");
    } else {
        sb_printf(&pc, "file,sop_instance_uid,patient,laterality,view,label,score");
    }
    for (int f = 0; f < F; f++) sb_printf(&pc, ",score_f%d", f);
    sb_printf(&pc, ",threshold,decision");
    if (has_ref) {
        sb_printf(&pc, ",reference_score");
        for (int f = 0; f < F; f++) sb_printf(&pc, ",reference_score_f%d", f);
        sb_printf(&pc, ",reference_threshold,reference_decision");
    }
    sb_printf(&pc, "\n");
    for (size_t i = 0; i < ds.n; i++) {
        const exp_item *it = &ds.items[i];
        char *shown = exp_dataset_out_file(&ds, it->file, it->group, it->pseudonym);
        if (!shown) {
            wb_err(err, WB_E_NOMEM, NULL, "out of memory");
            goto done;
        }
        sb_csv(&pc, shown);
        free(shown);
        sb_printf(&pc, ",");
        sb_csv(&pc, it->sop_uid);
        sb_printf(&pc, ",%s,", it->pseudonym);
        sb_csv(&pc, it->laterality);
        sb_printf(&pc, ",");
        sb_csv(&pc, it->view);
        if (ps) {
            const exp_patch_item *pi = &ps->items[i];
            sb_printf(&pc, ",%s,%d,%d,%d", pi->kind == EXP_PATCH_LESION ? "lesion" : "background", pi->r0, pi->c0, pi->side);
        }
        if (labeled) sb_printf(&pc, ",%d", it->label);
        else sb_printf(&pc, ",");
        csv_ensemble(&pc, score[i], fs + i * F, F, thr);
        if (has_ref) csv_ensemble(&pc, rscore[i], rfs + i * F, F, rthr);
        sb_printf(&pc, "\n");
    }
    if (sb_write(&pc, out_dir, EXP_RD_PREDICTIONS, err) != 0) goto done;
    if (ds.n_excluded) {
        sb_printf(&ex, "file,reason\n");
        for (size_t i = 0; i < ds.n_excluded; i++) {
            const exp_excluded *e = &ds.excluded[i];
            char *f = exp_dataset_out_file(&ds, e->file, e->group, e->pseudonym);
            char *r = exp_dataset_out_text(&ds, e->reason, e->file, e->path, e->csv_line, e->group, e->pseudonym);
            sb_csv(&ex, f ? f : "");
            sb_printf(&ex, ",");
            sb_csv(&ex, r ? r : "");
            sb_printf(&ex, "\n");
            free(f);
            free(r);
        }
        if (sb_write(&ex, out_dir, "excluded.csv", err) != 0) goto done;
    }
    /* metrics.json: an external validation of the source run */
    double m[EXP_M_COUNT], rm[EXP_M_COUNT];
    if (labeled) {
        exp_summary_binary(y, score, ds.n, thr, cs->metrics.specificity, m);
        s->auc = m[EXP_M_AUC];
        s->auc_lo = m[EXP_M_AUC_LO];
        s->auc_hi = m[EXP_M_AUC_HI];
    }
    char bname[256];
    base_name(bundle_dir, bname, sizeof bname);
    char title[1024];
    snprintf(title, sizeof title, "External validation of %s (variant %s, the mean of %d fold networks%s) on %s",
             s->b.source_run, s->b.variant, F, ps ? "; unit: lesion and background patches" : "", data);
    sb_printf(&mj, "{\n  \"title\": ");
    sb_jstr(&mj, title);
    sb_printf(&mj, ",\n  \"kind\": \"external_validation\",\n  \"source_run\": ");
    sb_jstr(&mj, s->b.source_run);
    sb_printf(&mj, ",\n  \"bundle\": ");
    sb_jstr(&mj, bname);
    sb_printf(&mj, ",\n  \"variant\": ");
    sb_jstr(&mj, s->b.variant);
    sb_printf(&mj, ",\n  \"arch\": ");
    sb_jstr(&mj, s->b.arch);
    sb_printf(&mj, ",\n  \"cohort\": ");
    sb_jstr(&mj, data);
    if (ps)
        sb_printf(&mj, ",\n  \"task\": \"patch\",\n  \"unit\": \"patch\",\n  \"n_patches\": %zu,\n  \"lesion_patches\": %zu,"
                       "\n  \"background_patches\": %zu", ds.n, s->n_lesion, s->n_background);
    sb_printf(&mj, ",\n  \"folds\": %d,\n  \"ensemble\": \"mean\",\n  \"n_images\": %zu,\n  \"n_excluded\": %zu,\n"
                   "  \"labeled\": %s,\n  \"metrics\": ", F, ps ? s->n_images : ds.n, ds.n_excluded, labeled ? "true" : "false");
    if (labeled) {
        sb_printf(&mj, "{\n");
        json_metrics(&mj, m, "    ");
        sb_printf(&mj, "  }");
    } else {
        sb_printf(&mj, "null");
    }
    sb_printf(&mj, ",\n  \"reference\": ");
    if (has_ref) {
        sb_printf(&mj, "{\n    \"variant\": ");
        sb_jstr(&mj, s->b.reference);
        sb_printf(&mj, ",\n    \"type\": \"baseline\",\n    \"ensemble\": \"mean\",\n    \"metrics\": ");
        if (labeled) {
            exp_summary_binary(y, rscore, ds.n, rthr, cs->metrics.specificity, rm);
            s->ref_auc = rm[EXP_M_AUC];
            sb_printf(&mj, "{\n");
            json_metrics(&mj, rm, "      ");
            sb_printf(&mj, "    }");
        } else {
            sb_printf(&mj, "null");
        }
        sb_printf(&mj, "\n  }");
    } else {
        sb_printf(&mj, "null");
    }
    /* the paired DeLong test on these images: the network ensemble against the reference */
    sb_printf(&mj, ",\n  \"" EXP_RD_K_VS_REFERENCE "\": ");
    exp_delong_paired dp;
    wb_error e2;
    if (has_ref && labeled && exp_metrics_delong_paired(y, score, rscore, ds.n, &dp, &e2) == 0) {
        s->delta_auc = dp.diff;
        s->delong_p = dp.p;
        sb_printf(&mj, "{\"" EXP_RD_K_DELTA_AUC "\": ");
        sb_num(&mj, dp.diff);
        sb_printf(&mj, ", \"" EXP_RD_K_DELTA_CI_LOW "\": ");
        sb_num(&mj, dp.diff_ci_lo);
        sb_printf(&mj, ", \"" EXP_RD_K_DELTA_CI_HIGH "\": ");
        sb_num(&mj, dp.diff_ci_hi);
        sb_printf(&mj, ", \"" EXP_RD_K_DELONG_Z "\": ");
        sb_num(&mj, dp.z);
        sb_printf(&mj, ", \"" EXP_RD_K_DELONG_P "\": ");
        sb_num(&mj, dp.p);
        sb_printf(&mj, "}");
    } else {
        sb_printf(&mj, "null");
    }
    sb_printf(&mj, "\n}\n");
    if (sb_write(&mj, out_dir, EXP_RD_METRICS_JSON, err) != 0) goto done;
    if (exp_report_external_write(out_dir, err) != 0) goto done;
    rc = 0;
done:
    for (size_t i = 0; i < sets.n; i++) free(sets.v[i]);
    for (int f = 0; f < MAX_FOLDS; f++) nn_net_free(net[f]), exp_baseline_model_free(&bm[f]);
    if (ds_loaded) exp_dataset_free(&ds);
    free(x);
    free(score);
    free(fs);
    free(rscore);
    free(rfs);
    free(col);
    free(idx);
    free(y);
    sb_free(&pc);
    sb_free(&mj);
    sb_free(&ex);
    exp_config_free(cfg);
    return rc;
}

int exp_predict_run(const char *bundle_dir, const char *data, const char *out_dir, const char *registry,
                    exp_predict_summary *s, wb_error *err)
{
    memset(s, 0, sizeof *s);
    s->auc = s->auc_lo = s->auc_hi = s->ref_auc = s->delta_auc = s->delong_p = NAN;
    s->registry_id = -1;
    if (!out_dir || !out_dir[0]) return wb_err(err, WB_E_USAGE, NULL, "predict: no output directory (--out DIR)");
    if (!data || !data[0]) return wb_err(err, WB_E_USAGE, NULL, "predict: no cohort (a labels CSV or a config)");
    long in_ch = 0, in_h = 0, in_w = 0;
    if (!bundle_dir || manifest_check(bundle_dir, &s->b, &in_ch, &in_h, &in_w, err) != 0) {
        if (!bundle_dir) wb_err(err, WB_E_USAGE, NULL, "predict: no bundle directory");
        return -1;
    }
    struct stat ost;
    const int made_out = stat(out_dir, &ost) != 0;
    if (io_fs_mkdirs(out_dir, err) != 0) return -1;
    /* the registry: the directory holding out_dir's (as a run's is its runs directory's); one
     * that cannot be written stops predict before anything is, and out_dir goes again if new */
    exp_registry *reg = NULL;
    long long id = -1;
    if (!registry || strcmp(registry, "none")) {
        char rpath[PATH_MAX + 32];
        if (registry) snprintf(rpath, sizeof rpath, "%s", registry);
        else snprintf(rpath, sizeof rpath, "%s/../registry.sqlite", out_dir);
        char bname[256];
        exp_registry_run rr = {0};
        rr.dir = out_dir;
        rr.name = base_name(bundle_dir, bname, sizeof bname);
        rr.kind = "external_validation";
        rr.source_run = s->b.source_run;
        rr.cohort = data;
        if (exp_registry_open_first(rpath, "predict", &reg, err) != 0 || exp_registry_start(reg, &rr, &id, err) != 0) {
            exp_registry_close(reg);
            if (made_out) rmdir(out_dir);
            return -1;
        }
        s->registry_id = id;
        s->linked = exp_registry_source(reg, id) > 0;
    }
    int rc = predict_work(bundle_dir, data, out_dir, in_ch, in_h, in_w, s, err);
    if (reg) {
        char msg[sizeof err->file + sizeof err->msg + 4];
        if (rc != 0) snprintf(msg, sizeof msg, "%s%s%s", err->file[0] ? err->file : "", err->file[0] ? ": " : "", err->msg);
        wb_error e2;
        wb_error_clear(&e2);
        if (exp_registry_finish(reg, id, out_dir, rc == 0 ? NULL : msg, &e2) != 0)
            wb_warn("the run registry was not updated: %s: %s", e2.file, e2.msg);
        exp_registry_close(reg);
    }
    return rc;
}
