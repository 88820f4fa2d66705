/* dataset.c — labels CSV + DICOM -> preprocessed images and features. See dataset.h. */
#include "experiments/data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/data/cache.h"
#include "experiments/data/patch.h"
#include "io/io_csv.h"
#include "io/io_dicom.h"
#include "io/io_sha256.h"
#include "base/wb_log.h"

void exp_pseudonym(const uint8_t key[32], const char *msg, char out[17])
{
    /* HMAC-SHA256 (RFC 2104) with a 32-byte key padded to the 64-byte block. */
    uint8_t k[64] = {0}, ipad[64], opad[64], inner[IO_SHA256_SIZE], mac[IO_SHA256_SIZE];
    memcpy(k, key, 32);
    for (int i = 0; i < 64; i++) {
        ipad[i] = k[i] ^ 0x36;
        opad[i] = k[i] ^ 0x5c;
    }
    io_sha256 h;
    io_sha256_init(&h);
    io_sha256_update(&h, ipad, 64);
    io_sha256_update(&h, msg, strlen(msg));
    io_sha256_final(&h, inner);
    io_sha256_init(&h);
    io_sha256_update(&h, opad, 64);
    io_sha256_update(&h, inner, sizeof inner);
    io_sha256_final(&h, mac);
    for (int i = 0; i < 8; i++) snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

void exp_dataset_pre_params(const exp_config *cfg, exp_pre_params *p)
{
    exp_pre_params_default(p);
    p->out_rows = (int)exp_config_int(cfg, "preprocess.height");
    p->out_cols = (int)exp_config_int(cfg, "preprocess.width");
    p->keep_aspect = exp_config_bool(cfg, "preprocess.keep_aspect");
    p->crop_margin = (int)exp_config_int(cfg, "preprocess.margin");
    p->flip = exp_config_bool(cfg, "preprocess.flip") ? EXP_PRE_FLIP_AUTO : EXP_PRE_FLIP_NONE;
    const char *w = exp_config_str(cfg, "preprocess.intensity");
    p->window = w && !strcmp(w, "percentile") ? EXP_PRE_WINDOW_PERCENTILE : EXP_PRE_WINDOW_VOI;
    p->p_lo = exp_config_double(cfg, "preprocess.percentile_low");
    p->p_hi = exp_config_double(cfg, "preprocess.percentile_high");
    p->clahe = exp_config_bool(cfg, "preprocess.clahe");
    const char *s = exp_config_str(cfg, "preprocess.normalize");
    p->scale = !s || !strcmp(s, "unit") ? EXP_PRE_SCALE_UNIT
               : !strcmp(s, "zscore")   ? EXP_PRE_SCALE_ZSCORE
                                        : EXP_PRE_SCALE_IMAGENET;
}

void exp_dataset_cache_dir(const exp_config *cfg, const char *runs_dir, char *buf, size_t n)
{
    const char *cd = exp_config_str(cfg, "preprocess.cache_dir");
    if (cd && cd[0]) snprintf(buf, n, "%s", cd);
    else snprintf(buf, n, "%s/cache", runs_dir);
}

void exp_dataset_free(exp_dataset *ds)
{
    if (!ds) return;
    for (size_t i = 0; i < ds->n; i++) {
        free(ds->items[i].file);
        free(ds->items[i].path);
        free(ds->items[i].group);
    }
    for (size_t i = 0; i < ds->n_excluded; i++) {
        free(ds->excluded[i].file);
        free(ds->excluded[i].reason);
    }
    free(ds->items);
    free(ds->excluded);
    free(ds->images);
    free(ds->features);
    exp_patch_set_free(ds->patch);
    free(ds->patch);
    memset(ds, 0, sizeof *ds);
}

static char *dup_str(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

/* Copies src into dst[n], cut to fit. */
static void copy(char *dst, size_t n, const char *src)
{
    size_t l = src ? strlen(src) : 0;
    if (l >= n) l = n - 1;
    if (l) memcpy(dst, src, l);
    dst[l] = '\0';
}

/* Decodes one file (DICOM, or PGM for film data) and preprocesses it. */
static int load_one(const char *path, const exp_pre_params *p, io_voi_mode voi, exp_item *it,
                    exp_pre_result *r, wb_error *err)
{
    FILE *f = fopen(path, "rb");
    char magic[2] = {0, 0};
    if (f) {
        if (fread(magic, 1, 2, f) != 2) magic[0] = 0;
        fclose(f);
    }
    if (magic[0] == 'P' && magic[1] == '5') return exp_pre_file(path, p, r, err);
    io_dicom_options o;
    io_dicom_options_default(&o);
    o.voi = voi;
    io_dicom_image img;
    if (io_dicom_read(path, &o, &img, err) != 0) return -1;
    if (!it->sop_uid[0]) copy(it->sop_uid, sizeof it->sop_uid, img.meta.sop_uid);
    if (!it->laterality[0]) copy(it->laterality, sizeof it->laterality, img.meta.laterality);
    if (!it->view[0]) copy(it->view, sizeof it->view, img.meta.view_position);
    size_t n = (size_t)img.rows * img.cols;
    if (voi == IO_VOI_IGNORE) { /* modality values -> 0..1 over the modality range */
        double lo = img.range_lo, span = img.range_hi > img.range_lo ? img.range_hi - img.range_lo : 1;
        for (size_t i = 0; i < n; i++) img.pixels[i] = (float)((img.pixels[i] - lo) / span);
    }
    int rc = exp_pre_run(img.pixels, img.rows, img.cols, it->laterality, p, r, err);
    if (rc && !err->file[0]) copy(err->file, sizeof err->file, path);
    io_dicom_image_free(&img);
    return rc;
}

/* The wall time of the radiomic features of one preprocessed image: measured by exp_pre_run,
 * or, for an entry read from the cache, by computing them again on the cached image brought
 * back to the 0..1 values they were computed on (the result is not used). */
static double feature_time(const exp_pre_result *r, const exp_pre_params *p, int from_cache)
{
    if (!from_cache) return r->feature_seconds;
    size_t n = (size_t)r->rows * (size_t)r->cols;
    float *img = malloc(n * sizeof *img);
    if (!img) return 0;
    double mu = r->features[EXP_PRE_F_FO_MEAN], sd = r->features[EXP_PRE_F_FO_STD];
    if (!(sd > 1e-12)) sd = 1;
    for (size_t i = 0; i < n; i++)
        img[i] = p->scale == EXP_PRE_SCALE_ZSCORE     ? (float)(r->image[i] * sd + mu)
                 : p->scale == EXP_PRE_SCALE_IMAGENET ? r->image[i] * 0.226f + 0.449f
                                                      : r->image[i];
    double f[EXP_PRE_N_FEATURES], t0 = wb_now();
    wb_error e;
    exp_pre_features(img, r->mask, r->rows, r->cols, p, f, &e);
    double t = wb_now() - t0;
    free(img);
    return t;
}

/* Lists file as excluded for reason, with a warning; -1 (err set, labels named) only when out
 * of memory. ds->excluded has room for every row. */
static int exclude_file(exp_dataset *ds, const char *file, const char *reason, const char *labels, wb_error *err)
{
    exp_excluded *x = &ds->excluded[ds->n_excluded];
    x->file = dup_str(file);
    x->reason = dup_str(reason);
    if (!x->file || !x->reason) {
        free(x->file);
        free(x->reason);
        return wb_err(err, WB_E_NOMEM, labels, "out of memory");
    }
    ds->n_excluded++;
    wb_warn("excluded %s: %s", file, reason);
    return 0;
}

/* Frees what a row that is not kept holds and clears its item for the next row. */
static void item_drop(exp_item *it)
{
    free(it->file);
    free(it->group);
    free(it->path);
    memset(it, 0, sizeof *it);
}

int exp_dataset_load(const exp_config *cfg, const uint8_t key[32], const char *cache_dir, int progress,
                     exp_dataset *ds, wb_error *err)
{
    memset(ds, 0, sizeof *ds);
    if (!strcmp(exp_config_str(cfg, "data.task"), "patch")) return exp_patch_load(cfg, key, cache_dir, progress, ds, err);
    const char *labels = exp_config_str(cfg, "data.labels");
    const char *dir = exp_config_str(cfg, "data.dicom_dir");
    const char *positive = exp_config_str(cfg, "data.positive");
    const size_t n_cls = exp_config_num_classes(cfg); /* 0: binary */
    int time_features = 0; /* a baseline's wall time includes its features */
    for (size_t v = 0; v < exp_config_num_variants(cfg); v++) {
        char k[64];
        snprintf(k, sizeof k, "variants[%zu].type", v);
        time_features |= !strcmp(exp_config_str(cfg, k), "baseline");
    }
    const int fail_fast = !strcmp(exp_config_str(cfg, "data.on_error"), "fail");
    io_csv csv;
    if (io_csv_read(labels, &csv, err) != 0) return -1;
    long c_file = io_csv_column(&csv, exp_config_str(cfg, "data.file_column"), err);
    long c_label = c_file < 0 ? -1 : io_csv_column(&csv, exp_config_str(cfg, "data.label_column"), err);
    long c_group = c_label < 0 ? -1 : io_csv_column(&csv, exp_config_str(cfg, "data.group_column"), err);
    if (c_group < 0) {
        io_csv_free(&csv);
        return -1;
    }
    wb_error ignore;
    long c_sop = io_csv_column(&csv, "sop_instance_uid", &ignore);
    long c_lat = io_csv_column(&csv, "laterality", &ignore);
    long c_view = io_csv_column(&csv, "view", &ignore);
    if (csv.n_rows == 0) {
        io_csv_free(&csv);
        return wb_err(err, WB_E_DATA, labels, "no rows after the header");
    }

    exp_pre_params p;
    exp_dataset_pre_params(cfg, &p);
    /* the config's threads split each image's full-size loops (the output does not depend
     * on the count: tests/preprocess checks 1, 2 and 3) */
    exp_pre_set_threads((int)exp_config_int(cfg, "threads"));
    if (exp_pre_params_check(&p, err) != 0) {
        io_csv_free(&csv);
        return -1;
    }
    const io_voi_mode voi = !strcmp(exp_config_str(cfg, "preprocess.voi"), "ignore") ? IO_VOI_IGNORE : IO_VOI_APPLY;
    const size_t px = (size_t)p.out_rows * p.out_cols;
    exp_cache cache;
    size_t n_hits = 0;
    const int use_cache = cache_dir && cache_dir[0];
    if (use_cache && exp_cache_open(&cache, cache_dir, &p, err) != 0) {
        io_csv_free(&csv);
        return -1;
    }
    ds->rows = p.out_rows;
    ds->cols = p.out_cols;
    ds->n_features = EXP_PRE_N_FEATURES;
    ds->items = calloc(csv.n_rows, sizeof *ds->items);
    ds->excluded = calloc(csv.n_rows, sizeof *ds->excluded);
    ds->images = malloc(csv.n_rows * px * sizeof *ds->images);
    ds->features = malloc(csv.n_rows * EXP_PRE_N_FEATURES * sizeof *ds->features);
    if (!ds->items || !ds->excluded || !ds->images || !ds->features) {
        io_csv_free(&csv);
        exp_dataset_free(ds);
        return wb_err(err, WB_E_NOMEM, labels, "out of memory for %zu images of %dx%d", csv.n_rows, p.out_rows, p.out_cols);
    }
    int rc = 0;
    const double t0 = wb_now();
    for (size_t r = 0; r < csv.n_rows && rc == 0; r++) {
        exp_item *it = &ds->items[ds->n];
        memset(it, 0, sizeof *it);
        const char *file = io_csv_cell(&csv, r, c_file);
        const char *group = io_csv_cell(&csv, r, c_group);
        it->csv_line = csv.lines[r];
        if (!file[0] || !group[0]) {
            rc = wb_err_at(err, WB_E_DATA, labels, csv.lines[r], 0, NULL, "empty %s", !file[0] ? "file name" : "group (patient) id");
            break;
        }
        size_t need = strlen(dir) + strlen(file) + 2;
        it->file = dup_str(file);
        it->group = dup_str(group);
        it->path = malloc(need);
        if (!it->file || !it->group || !it->path) {
            item_drop(it);
            rc = wb_err(err, WB_E_NOMEM, labels, "out of memory");
            break;
        }
        if (file[0] == '/') snprintf(it->path, need, "%s", file);
        else snprintf(it->path, need, "%s/%s", dir, file);
        const char *lv = io_csv_cell(&csv, r, c_label);
        int bad_label = 0;
        if (n_cls == 0) {
            it->label = !strcmp(lv, positive);
        } else {
            it->label = -1;
            for (size_t k = 0; k < n_cls && it->label < 0; k++)
                if (!strcmp(lv, exp_config_list_item(cfg, "data.classes", k))) it->label = (int)k;
            bad_label = it->label < 0;
        }
        if (bad_label) {
            /* checked before the image is decoded: a row with an unknown label is never used */
            char msg[1024], list[600] = "";
            for (size_t k = 0; k < n_cls; k++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", k ? ", " : "", exp_config_list_item(cfg, "data.classes", k));
            }
            snprintf(msg, sizeof msg, "%s '%.200s' is not one of data.classes [%s]", exp_config_str(cfg, "data.label_column"),
                     lv, list);
            if (fail_fast) {
                rc = wb_err_at(err, WB_E_DATA, labels, csv.lines[r], 0, NULL, "%s (data.on_error is fail)", msg);
            } else {
                char reason[1400];
                snprintf(reason, sizeof reason, "%s:%d: %s", labels, csv.lines[r], msg);
                rc = exclude_file(ds, file, reason, labels, err);
            }
            item_drop(it);
            if (progress) wb_progress("data: images read and preprocessed", r + 1, csv.n_rows, t0);
            continue;
        }
        if (c_sop >= 0) copy(it->sop_uid, sizeof it->sop_uid, io_csv_cell(&csv, r, c_sop));
        if (c_lat >= 0) copy(it->laterality, sizeof it->laterality, io_csv_cell(&csv, r, c_lat));
        if (c_view >= 0) copy(it->view, sizeof it->view, io_csv_cell(&csv, r, c_view));
        exp_pseudonym(key, group, it->pseudonym);

        wb_error e;
        wb_error_clear(&e);
        uint8_t digest[IO_SHA256_SIZE];
        exp_pre_result res;
        memset(&res, 0, sizeof res);
        int status_hit = 0;
        int bad = io_sha256_file(it->path, digest, &e);
        if (!bad) {
            io_sha256_hex(digest, it->sha256);
            int status = EXP_CACHE_MISS;
            uint8_t ckey[IO_SHA256_SIZE];
            if (use_cache) { /* key: the file's bytes, and the VOI mode (not in exp_pre_params) */
                io_sha256 hc;
                io_sha256_init(&hc);
                io_sha256_update(&hc, digest, sizeof digest);
                io_sha256_update(&hc, voi == IO_VOI_IGNORE ? "voi=ignore" : "voi=apply", voi == IO_VOI_IGNORE ? 10 : 9);
                io_sha256_final(&hc, ckey);
                char why[256];
                if (exp_cache_load(&cache, ckey, &res, &status, why, sizeof why, &e) != 0) status = EXP_CACHE_MISS;
                else if (status == EXP_CACHE_DAMAGED) wb_warn("cache entry for %s is damaged (%s): recomputed", file, why);
            }
            if (status == EXP_CACHE_HIT) {
                n_hits++;
                status_hit = 1;
                if (!it->sop_uid[0] || !it->laterality[0] || !it->view[0]) { /* header only */
                    io_dicom_meta m;
                    if (io_dicom_read_meta(it->path, &m, &e) == 0) {
                        if (!it->sop_uid[0]) copy(it->sop_uid, sizeof it->sop_uid, m.sop_uid);
                        if (!it->laterality[0]) copy(it->laterality, sizeof it->laterality, m.laterality);
                        if (!it->view[0]) copy(it->view, sizeof it->view, m.view_position);
                    }
                }
            } else {
                bad = load_one(it->path, &p, voi, it, &res, &e);
                wb_error se;
                if (!bad && use_cache && exp_cache_store(&cache, ckey, &res, &se) != 0)
                    wb_warn("cannot store %s in the cache: %s", file, se.msg);
            }
        }
        if (bad) {
            char msg[2400];
            wb_error_format(&e, msg, sizeof msg);
            if (fail_fast || e.code == WB_E_NOMEM) {
                rc = wb_err_at(err, e.code == WB_E_NOMEM ? WB_E_NOMEM : WB_E_FAILED, labels, csv.lines[r], 0, NULL,
                               "%s (data.on_error is fail)", msg);
            } else {
                rc = exclude_file(ds, file, msg, labels, err);
            }
            item_drop(it);
            if (progress) wb_progress("data: images read and preprocessed", r + 1, csv.n_rows, t0);
            continue;
        }
        if (time_features) ds->feature_seconds += feature_time(&res, &p, status_hit);
        memcpy(ds->images + ds->n * px, res.image, px * sizeof *ds->images);
        memcpy(ds->features + ds->n * EXP_PRE_N_FEATURES, res.features, sizeof res.features);
        exp_pre_result_free(&res);
        ds->n_positive += it->label == 1;
        ds->class_n[it->label]++;
        ds->n++;
        if (progress) wb_progress("data: images read and preprocessed", r + 1, csv.n_rows, t0);
    }
    io_csv_free(&csv);
    if (use_cache && progress)
        wb_log(WB_LOG_INFO, "data: %zu of %zu images from the cache in %s", n_hits, ds->n + ds->n_excluded, cache_dir);
    if (rc == 0 && ds->n == 0) rc = wb_err(err, WB_E_DATA, labels, "no usable image (%zu excluded)", ds->n_excluded);
    ds->n_classes = n_cls ? (int)n_cls : 2;
    for (size_t k = 0; rc == 0 && n_cls && k < n_cls; k++)
        if (ds->class_n[k] == 0)
            rc = wb_err(err, WB_E_DATA, labels, "no usable image of class '%s' (data.classes[%zu]); every listed class needs images",
                        exp_config_list_item(cfg, "data.classes", k), k);
    if (rc == 0 && !n_cls && (ds->n_positive == 0 || ds->n_positive == ds->n))
        rc = wb_err(err, WB_E_DATA, labels, "all %zu usable images are %s: both classes are needed (data.positive is '%s')",
                    ds->n, ds->n_positive ? "positive" : "negative", positive);
    if (rc) exp_dataset_free(ds);
    return rc;
}
