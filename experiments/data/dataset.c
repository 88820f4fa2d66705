/* dataset.c — labels CSV + DICOM -> preprocessed images and features. See dataset.h. */
#include "experiments/data/dataset.h"
#include "io/io_fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "experiments/data/cache.h"
#include "experiments/data/patch.h"
#include "io/io_csv.h"
#include "io/io_dicom.h"
#include "io/io_fs.h"
#include "io/io_image.h"
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

/* Reads the 64 hex digits of the key file at path: 0, 1 (no such file) or -1 (err set). */
static int read_key(const char *path, uint8_t key[32], wb_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        if (errno == ENOENT) return 1;
        return wb_err(err, WB_E_IO, path, "cannot read the pseudonym key: %s", strerror(errno));
    }
    char hex[65] = {0};
    size_t got = fread(hex, 1, 64, f);
    fclose(f);
    for (int i = 0; got == 64 && i < 32; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1) got = 0;
        key[i] = (uint8_t)v;
    }
    if (got != 64) return wb_err(err, WB_E_DATA, path, "damaged pseudonym key (expected 64 hex digits); "
                                 "remove it to start a new one (pseudonyms will change)");
    return 0;
}

int exp_pseudonym_key(const char *runs_dir, uint8_t key[32], wb_error *err)
{
    char path[4400], mine[4500];
    snprintf(path, sizeof path, "%s/.pseudonym-key", runs_dir);
    int rc = read_key(path, key, err);
    if (rc <= 0) return rc;
    /* None yet: a new key, complete in a file of this process (mode 0600 before a byte of the
     * key is written), then published with link(2), which fails if the name exists. Of several
     * runs starting together exactly one link succeeds, and every one of them then reads that
     * file, so one patient never gets two pseudonyms. */
    int fd = open("/dev/urandom", O_RDONLY);
    if (fd < 0 || read(fd, key, 32) != 32) {
        if (fd >= 0) close(fd);
        return wb_err(err, WB_E_INTERNAL, "/dev/urandom", "cannot read random bytes for the pseudonym key");
    }
    close(fd);
    snprintf(mine, sizeof mine, "%s/.pseudonym-key.new.%ld", runs_dir, (long)getpid());
    io_atomic_file af;
    int failed = io_atomic_open(&af, mine, err) != 0;
    if (!failed && io_atomic_chmod(&af, 0600, err) != 0) {
        io_atomic_abort(&af);
        failed = 1;
    }
    if (!failed) {
        for (int i = 0; i < 32; i++) fprintf(af.f, "%02x", key[i]);
        fprintf(af.f, "\n");
        failed = io_atomic_commit(&af, err) != 0;
    }
    if (failed) { /* the message names the key, not the name it was written under */
        snprintf(err->file, sizeof err->file, "%.*s", (int)sizeof err->file - 1, path);
        return -1;
    }
    int linked = link(mine, path) == 0 ? 0 : errno;
    unlink(mine);
    if (linked && linked != EEXIST)
        return wb_err(err, WB_E_WRITE, path, "cannot create the pseudonym key: %s", strerror(linked));
    memset(key, 0, 32);
    rc = read_key(path, key, err);
    return rc == 1 ? wb_err(err, WB_E_WRITE, path, "the pseudonym key vanished while it was being created") : rc;
}

void exp_dataset_pre_params(const exp_config *cfg, exp_pre_params *p)
{
    const exp_settings_preprocess *pp = &exp_config_get(cfg)->preprocess;
    exp_pre_params_default(p);
    p->out_rows = pp->height;
    p->out_cols = pp->width;
    p->keep_aspect = pp->keep_aspect;
    p->crop_margin = pp->margin;
    p->flip = pp->flip ? EXP_PRE_FLIP_AUTO : EXP_PRE_FLIP_NONE;
    p->window = pp->intensity == EXP_INTENSITY_PERCENTILE ? EXP_PRE_WINDOW_PERCENTILE : EXP_PRE_WINDOW_VOI;
    p->p_lo = pp->percentile_low;
    p->p_hi = pp->percentile_high;
    p->clahe = pp->clahe;
    /* auto: [0, 1] here; the weights' convention is applied inside the network's conv1 */
    p->scale = pp->normalize == EXP_NORMALIZE_UNIT || pp->normalize == EXP_NORMALIZE_AUTO ? EXP_PRE_SCALE_UNIT
               : pp->normalize == EXP_NORMALIZE_ZSCORE                                  ? EXP_PRE_SCALE_ZSCORE
                                                                                          : EXP_PRE_SCALE_IMAGENET;
}

void exp_dataset_cache_dir(const exp_config *cfg, const char *runs_dir, char *buf, size_t n)
{
    const char *cd = exp_config_get(cfg)->preprocess.cache_dir;
    if (cd[0]) snprintf(buf, n, "%s", cd);
    else snprintf(buf, n, "%s/cache", runs_dir);
}

void exp_dataset_free(exp_dataset *ds)
{
    if (!ds) return;
    exp_strpool_free(&ds->strings);
    for (size_t i = 0; i < ds->n_excluded; i++) {
        free(ds->excluded[i].file);
        free(ds->excluded[i].reason);
        free(ds->excluded[i].path);
        free(ds->excluded[i].group);
    }
    free(ds->dicom_dir);
    free(ds->spill_dir);
    free(ds->items);
    free(ds->excluded);
    free(ds->images);
    free(ds->slot);
    if (ds->spilled) close(ds->spill_fd);
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

/* ---- the items' strings ---- */

struct exp_strpool_block {
    struct exp_strpool_block *prev;
    size_t used, cap;
    char data[];
};

enum { STRPOOL_BLOCK = 65536 };

const char *exp_strpool_add(exp_strpool *p, const char *s, size_t max)
{
    size_t l = strlen(s);
    if (l > max) l = max;
    struct exp_strpool_block *b = p->last;
    if (!b || b->cap - b->used < l + 1) {
        size_t cap = l + 1 > STRPOOL_BLOCK ? l + 1 : STRPOOL_BLOCK;
        if (!(b = malloc(sizeof *b + cap))) return NULL;
        b->prev = p->last;
        b->used = 0;
        b->cap = cap;
        p->last = b;
    }
    char *d = b->data + b->used;
    memcpy(d, s, l);
    d[l] = '\0';
    b->used += l + 1;
    return d;
}

void exp_strpool_free(exp_strpool *p)
{
    for (struct exp_strpool_block *b = p->last, *prev; b; b = prev) {
        prev = b->prev;
        free(b);
    }
    p->last = NULL;
}

void exp_item_sha256_hex(const exp_item *it, char out[65])
{
    io_sha256_hex(it->sha256, out);
}

/* file resolved against dir (an absolute file as it is), malloc'd; NULL when out of memory. */
static char *resolve(const char *dir, const char *file)
{
    size_t need = strlen(dir) + strlen(file) + 2;
    char *path = malloc(need);
    if (!path) return NULL;
    if (file[0] == '/') snprintf(path, need, "%s", file);
    else snprintf(path, need, "%s/%s", dir, file);
    return path;
}

char *exp_dataset_item_path(const exp_dataset *ds, const exp_item *it)
{
    return resolve(ds->dicom_dir, it->file);
}

/* text with every occurrence of needle (ASCII case ignored) replaced by repl; malloc'd, NULL
 * when out of memory. An empty needle replaces nothing. */
static char *replace_ci(const char *text, const char *needle, const char *repl)
{
    size_t nl = strlen(needle), rl = strlen(repl), tl = strlen(text), hits = 0;
    for (size_t i = 0; nl && i + nl <= tl; i++)
        if (!strncasecmp(text + i, needle, nl)) hits++, i += nl - 1;
    char *out = malloc(tl + hits * rl + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < tl;) {
        if (nl && i + nl <= tl && !strncasecmp(text + i, needle, nl)) {
            memcpy(o, repl, rl);
            o += rl;
            i += nl;
        } else {
            *o++ = text[i++];
        }
    }
    *o = '\0';
    return out;
}

char *exp_dataset_out_file(const exp_dataset *ds, const char *file, const char *group, const char *pseudonym)
{
    if (ds->paths == EXP_PATHS_NONE) return dup_str("");
    /* relative to data.dicom_dir when it lies under it */
    size_t dl = strlen(ds->dicom_dir);
    if (file[0] == '/' && dl && !strncmp(file, ds->dicom_dir, dl) && file[dl] == '/') file += dl + 1;
    return replace_ci(file, group, pseudonym);
}

char *exp_dataset_out_text(const exp_dataset *ds, const char *text, const char *file, const char *path, int line,
                           const char *group, const char *pseudonym)
{
    char where[64], *shown = NULL, *a = NULL, *b = NULL, *c = NULL;
    snprintf(where, sizeof where, "(the file of line %d)", line);
    shown = ds->paths == EXP_PATHS_NONE ? dup_str(where) : exp_dataset_out_file(ds, file, group, pseudonym);
    if (shown && (a = replace_ci(text, path, shown)) && (b = replace_ci(a, file, shown))) c = replace_ci(b, group, pseudonym);
    free(shown);
    free(a);
    free(b);
    return c;
}

/* err's message with the row's file and patient id as exp_dataset_out_text shows them (an
 * error ends up in the run registry); left as it is when out of memory. */
static void err_out_text(const exp_dataset *ds, wb_error *err, const exp_item *it)
{
    char *path = exp_dataset_item_path(ds, it);
    char *t = path ? exp_dataset_out_text(ds, err->msg, it->file, path, it->csv_line, it->group, it->pseudonym) : NULL;
    if (t) snprintf(err->msg, sizeof err->msg, "%s", t);
    free(t);
    free(path);
}

/* Decodes one file (DICOM, or PNG/JPEG/PGM for film data: io_image_read) into values 0..1 as
 * preprocessing takes them: the VOI result, or under preprocess.voi ignore the modality values
 * scaled over the modality range. */
static int decode_one(const char *path, io_voi_mode voi, io_dicom_image *img, io_image_format *fmt, wb_error *err)
{
    io_dicom_options o;
    io_dicom_options_default(&o);
    o.voi = voi;
    if (io_image_read(path, &o, img, fmt, err) != 0) return -1;
    size_t n = (size_t)img->rows * img->cols;
    if (voi == IO_VOI_IGNORE) { /* modality values -> 0..1 over the modality range */
        double lo = img->range_lo, span = img->range_hi > img->range_lo ? img->range_hi - img->range_lo : 1;
        for (size_t i = 0; i < n; i++) img->pixels[i] = (float)((img->pixels[i] - lo) / span);
    }
    return 0;
}

/* A string of the item: s cut to max bytes in ds->strings ("" costs nothing). 0, or -1 when out of memory. */
static int item_str(exp_dataset *ds, const char **dst, const char *s, size_t max)
{
    *dst = s[0] ? exp_strpool_add(&ds->strings, s, max) : "";
    return *dst ? 0 : -1;
}

/* What the CSV left empty of the item's SOP UID, laterality and view, from the DICOM header m.
 * 0, or -1 when out of memory. */
static int item_fill_meta(exp_dataset *ds, exp_item *it, const io_dicom_meta *m)
{
    if (!it->sop_uid[0] && item_str(ds, &it->sop_uid, m->sop_uid, EXP_ITEM_UID_MAX) != 0) return -1;
    if (!it->laterality[0] && item_str(ds, &it->laterality, m->laterality, EXP_ITEM_LATERALITY_MAX) != 0) return -1;
    if (!it->view[0] && item_str(ds, &it->view, m->view_position, EXP_ITEM_VIEW_MAX) != 0) return -1;
    return 0;
}

/* Decodes one file and preprocesses it.
 * The CSV's laterality/view/SOP UID win; a DICOM header fills what the CSV leaves empty. */
static int load_one(exp_dataset *ds, const char *path, const exp_pre_params *p, io_voi_mode voi, exp_item *it,
                    exp_pre_result *r, wb_error *err)
{
    io_dicom_image img;
    io_image_format fmt;
    if (decode_one(path, voi, &img, &fmt, err) != 0) return -1;
    it->format = (uint8_t)fmt;
    if (item_fill_meta(ds, it, &img.meta) != 0) {
        io_dicom_image_free(&img);
        return wb_err(err, WB_E_NOMEM, path, "out of memory");
    }
    int rc = exp_pre_run(img.pixels, img.rows, img.cols, it->laterality, p, r, err);
    if (rc && !err->file[0]) copy(err->file, sizeof err->file, path);
    io_dicom_image_free(&img);
    return rc;
}

int exp_dataset_preprocess_file(const exp_config *cfg, const char *path, const char *laterality, io_dicom_image *img,
                                exp_pre_result *r, wb_error *err)
{
    memset(r, 0, sizeof *r);
    exp_pre_params p;
    exp_dataset_pre_params(cfg, &p);
    if (exp_pre_params_check(&p, err) != 0) return -1;
    const io_voi_mode voi = exp_config_get(cfg)->preprocess.voi == EXP_VOI_IGNORE ? IO_VOI_IGNORE : IO_VOI_APPLY;
    if (decode_one(path, voi, img, NULL, err) != 0) return -1;
    const char *lat = laterality && laterality[0] ? laterality : img->meta.laterality;
    if (exp_pre_run(img->pixels, img->rows, img->cols, lat, &p, r, err) != 0) {
        if (!err->file[0]) copy(err->file, sizeof err->file, path);
        io_dicom_image_free(img);
        return -1;
    }
    return 0;
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
 * of memory. ds->excluded grows as rows are excluded (most cohorts exclude few). */
static int exclude_file(exp_dataset *ds, const exp_item *it, const char *reason, const char *labels, wb_error *err)
{
    if ((ds->n_excluded & (ds->n_excluded - 1)) == 0) { /* 0, 1, 2, 4, ...: double the room */
        size_t cap = ds->n_excluded ? 2 * ds->n_excluded : 1;
        exp_excluded *g = realloc(ds->excluded, cap * sizeof *g);
        if (!g) return wb_err(err, WB_E_NOMEM, labels, "out of memory");
        ds->excluded = g;
    }
    exp_excluded *x = &ds->excluded[ds->n_excluded];
    memset(x, 0, sizeof *x);
    x->file = dup_str(it->file);
    x->reason = dup_str(reason);
    x->path = exp_dataset_item_path(ds, it);
    x->group = dup_str(it->group);
    if (!x->file || !x->reason || !x->path || !x->group) {
        free(x->file);
        free(x->reason);
        free(x->path);
        free(x->group);
        return wb_err(err, WB_E_NOMEM, labels, "out of memory");
    }
    memcpy(x->pseudonym, it->pseudonym, sizeof x->pseudonym);
    x->csv_line = it->csv_line;
    ds->n_excluded++;
    wb_warn("excluded %s: %s", it->file, reason);
    return 0;
}

/* Clears the item of a row that is not kept for the next row (its strings stay in the pool until the dataset is freed). */
static void item_drop(exp_item *it)
{
    memset(it, 0, sizeof *it);
}

/* ---- images beyond data.memory_mb: an unlinked spill file ---- */

/* The limits the config sets on a load (one place for these config reads). */
typedef struct load_limits {
    size_t memory_bytes; /* data.memory_mb */
} load_limits;

static void load_limits_read(const exp_config *cfg, load_limits *l)
{
    double mb = (double)exp_config_get(cfg)->data.memory_mb;
    l->memory_bytes = mb * 1048576.0 >= (double)SIZE_MAX ? SIZE_MAX : (size_t)(mb * 1048576.0);
}

int exp_spill_open(const char *cache_dir, int *fd, wb_error *err)
{
    const char *t = getenv("TMPDIR");
    const char *tmp = t && t[0] ? t : "/tmp";
    char path[4400];
    int f = -1, e = 0;
    for (int k = cache_dir && cache_dir[0] ? 0 : 1; k < 2 && f < 0; k++) {
        snprintf(path, sizeof path, "%s/.wb-spill.XXXXXX", k == 0 ? cache_dir : tmp);
        if ((f = mkstemp(path)) < 0) e = errno;
    }
    if (f < 0)
        return wb_err(err, WB_E_WRITE, path, "cannot create the file the images beyond data.memory_mb go to: %s",
                      strerror(e));
    unlink(path);
    *fd = f;
    return 0;
}

int exp_spill_io(int fd, int wr, void *buf, size_t n, uint64_t off)
{
    char *p = buf;
    while (n > 0) {
        ssize_t k = wr ? pwrite(fd, p, n, off) : pread(fd, p, n, off);
        if (k < 0 && errno == EINTR) continue;
        if (k < 0) return errno ? errno : EIO;
        if (k == 0) return wr ? ENOSPC : EIO;
        p += k;
        n -= (size_t)k;
        off += k;
    }
    return 0;
}

const float *exp_dataset_image(const exp_dataset *ds, size_t i, float *buf, wb_error *err)
{
    const size_t px = (size_t)ds->rows * (size_t)ds->cols;
    if (ds->slot) i = ds->slot[i];
    if (ds->images) return ds->images + i * px;
    if (!ds->spilled) {
        wb_err(err, WB_E_INTERNAL, NULL, "the dataset was loaded without its images");
        return NULL;
    }
    int e = exp_spill_io(ds->spill_fd, 0, buf, px * sizeof *buf, (uint64_t)(i * px * sizeof *buf));
    if (e) {
        wb_err(err, WB_E_IO, NULL, "cannot read image %zu back from the spill file (data.memory_mb): %s", i, strerror(e));
        return NULL;
    }
    return buf;
}

/* ---- validate: the labels CSV alone ---- */

static int cmp_str_ptr(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The data keys exp_dataset_check_labels reads (one place for these config reads). */
typedef struct labels_cfg {
    const char *labels, *positive, *file_col, *label_col, *group_col;
    const char *classes[EXP_CONFIG_MAX_CLASSES];
    size_t n_cls; /* 0: binary */
    int fail_fast;
} labels_cfg;

static void labels_cfg_read(const exp_config *cfg, labels_cfg *c)
{
    const exp_settings_data *d = &exp_config_get(cfg)->data;
    c->labels = d->labels;
    c->positive = d->positive;
    c->file_col = d->file_column;
    c->label_col = d->label_column;
    c->group_col = d->group_column;
    c->n_cls = d->n_classes;
    if (c->n_cls > EXP_CONFIG_MAX_CLASSES) c->n_cls = EXP_CONFIG_MAX_CLASSES; /* the schema caps it */
    for (size_t k = 0; k < c->n_cls; k++) c->classes[k] = d->classes[k];
    c->fail_fast = d->on_error == EXP_ON_ERROR_FAIL;
}

int exp_dataset_check_labels(const exp_config *cfg, exp_labels_summary *s, wb_error *err)
{
    memset(s, 0, sizeof *s);
    labels_cfg lc;
    labels_cfg_read(cfg, &lc);
    const char *labels = lc.labels, *positive = lc.positive;
    const size_t n_cls = lc.n_cls;
    const int fail_fast = lc.fail_fast;
    io_csv csv;
    if (io_csv_read_rows(labels, NULL, NULL, &csv, err) != 0) return -1; /* the file a chunk at a time, its rows kept */
    long c_file = io_csv_column(&csv, lc.file_col, err);
    long c_label = c_file < 0 ? -1 : io_csv_column(&csv, lc.label_col, err);
    long c_group = c_label < 0 ? -1 : io_csv_column(&csv, lc.group_col, err);
    if (err && c_file >= 0 && c_label < 0) { /* a run needs labels; scoring an unlabeled cohort does not */
        size_t l = strlen(err->msg);
        snprintf(err->msg + l, sizeof err->msg - l, "; a run needs the label column (data.label_column), while an unlabeled "
                 "cohort can be scored as it is: workbench predict BUNDLE CONFIG");
    }
    if (c_group < 0) {
        io_csv_free(&csv);
        return -1;
    }
    if (csv.n_rows == 0) {
        io_csv_free(&csv);
        return wb_err(err, WB_E_DATA, labels, "no rows after the header");
    }
    /* the rows a run would use (data.filter, cv.split_column): columns checked, counts kept */
    if (exp_rows_select(cfg, &csv, &s->selected, NULL, err) != 0) {
        io_csv_free(&csv);
        return -1;
    }
    const char **g = malloc(csv.n_rows * sizeof *g);
    if (!g) {
        io_csv_free(&csv);
        return wb_err(err, WB_E_NOMEM, labels, "out of memory for %zu rows", csv.n_rows);
    }
    int rc = 0;
    s->n_classes = n_cls ? (int)n_cls : 2;
    for (size_t r = 0; r < csv.n_rows && rc == 0; r++) {
        const char *file = io_csv_cell(&csv, r, c_file), *lv = io_csv_cell(&csv, r, c_label);
        g[r] = io_csv_cell(&csv, r, c_group);
        if (!file[0] || !g[r][0]) {
            rc = wb_err_at(err, WB_E_DATA, labels, csv.lines[r], 0, NULL, "empty %s", !file[0] ? "file name" : "group (patient) id");
            break;
        }
        if (n_cls == 0) {
            s->class_n[!strcmp(lv, positive)]++;
            continue;
        }
        size_t k = 0;
        while (k < n_cls && strcmp(lv, lc.classes[k])) k++;
        if (k < n_cls) {
            s->class_n[k]++;
        } else if (fail_fast) {
            rc = wb_err_at(err, WB_E_DATA, labels, csv.lines[r], 0, NULL,
                           "%s '%.200s' is not one of data.classes (data.on_error is fail)", lc.label_col, lv);
        } else {
            s->unknown_label++;
        }
    }
    if (rc == 0) {
        s->rows = csv.n_rows;
        qsort(g, csv.n_rows, sizeof *g, cmp_str_ptr);
        for (size_t r = 0; r < csv.n_rows; r++) s->patients += r == 0 || strcmp(g[r - 1], g[r]) != 0;
    }
    free(g);
    io_csv_free(&csv);
    return rc;
}

/* ---- the same image listed twice ---- */


/* exp_named_row_cmp for rows named by their SHA-256 (32 bytes, not a string). */
static int sha_row_cmp(const void *a, const void *b)
{
    const exp_named_row *x = a, *y = b;
    int c = memcmp(x->name, y->name, IO_SHA256_SIZE);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* Rows that name one image, by the file (its path, symbolic links and "./" resolved), its
 * content (SHA-256) or its SOP Instance UID: when they agree on everything else (patient,
 * label, laterality, view) the later ones are dropped with a warning; otherwise the image
 * would be in two folds or carry two labels, which is an error (WB_E_DATA) naming both lines.
 * Sorting makes it O(n log n). */
static int check_duplicates(exp_dataset *ds, const char *labels, wb_error *err)
{
    const size_t n = ds->n;
    if (n < 2) return 0;
    exp_named_row *k = malloc(n * sizeof *k);
    char **real = calloc(n, sizeof *real);
    unsigned char *drop = calloc(n, 1);
    float *tmp = NULL; /* one image moved in the spill file */
    int rc = 0;
    if (!k || !real || !drop) {
        rc = wb_err(err, WB_E_NOMEM, labels, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n && rc == 0; i++) { /* the resolved path, else the path as the load opened it */
        char *path = exp_dataset_item_path(ds, &ds->items[i]);
        if (!path) {
            rc = wb_err(err, WB_E_NOMEM, labels, "out of memory");
            break;
        }
        if (!(real[i] = realpath(path, NULL))) real[i] = path;
        else free(path);
    }
    static const char *const what[3] = {"names the same file as", "has the same content (SHA-256) as",
                                        "has the same SOP Instance UID as"};
    for (int kind = 0; kind < 3 && rc == 0; kind++) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            const exp_item *it = &ds->items[i];
            const char *key = kind == 0 ? real[i] : kind == 1 ? (const char *)it->sha256 : it->sop_uid;
            if (kind == 1 || key[0]) k[m++] = (exp_named_row){key, i};
        }
        qsort(k, m, sizeof *k, kind == 1 ? sha_row_cmp : exp_named_row_cmp);
        for (size_t a = 0; a < m && rc == 0;) {
            size_t b = a + 1;
            for (; b < m && (kind == 1 ? !memcmp(k[a].name, k[b].name, IO_SHA256_SIZE) : !strcmp(k[a].name, k[b].name)); b++) {
                const exp_item *x = &ds->items[k[a].row], *y = &ds->items[k[b].row];
                const char *diff = strcmp(x->group, y->group) ? "under another patient (the image would be in two folds)"
                                   : x->label != y->label      ? "with another label"
                                   : strcmp(x->laterality, y->laterality) || strcmp(x->view, y->view)
                                       ? "with another laterality or view"
                                       : NULL;
                if (diff) {
                    rc = wb_err_at(err, WB_E_DATA, labels, y->csv_line, 0, NULL,
                                   "%.400s %s line %d (%.400s%s%s) %s: list each image once", y->file, what[kind],
                                   x->csv_line, x->file, kind == 2 ? ", " : "", kind == 2 ? x->sop_uid : "", diff);
                    err_out_text(ds, err, y);
                    err_out_text(ds, err, x);
                    break;
                }
                if (!drop[k[b].row])
                    wb_warn("%s:%d: %s %s line %d with the same patient and label: the row is used once", labels,
                            y->csv_line, y->file, what[kind], x->csv_line);
                drop[k[b].row] = 1;
            }
            a = b;
        }
    }
    const size_t px = (size_t)ds->rows * (size_t)ds->cols, nf = (size_t)ds->n_features;
    if (rc == 0 && ds->spilled && !(tmp = malloc(px * sizeof *tmp))) rc = wb_err(err, WB_E_NOMEM, labels, "out of memory");
    if (rc == 0) { /* keep the first row of each image, in order */
        size_t w = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            exp_item *it = &ds->items[i];
            if (drop[i]) {
                ds->n_positive -= it->label == 1;
                ds->class_n[it->label]--;
                item_drop(it);
                continue;
            }
            if (w != i) {
                ds->items[w] = *it;
                memset(it, 0, sizeof *it);
                if (ds->images) memmove(ds->images + w * px, ds->images + i * px, px * sizeof *ds->images);
                int e = 0;
                if (ds->spilled && ((e = exp_spill_io(ds->spill_fd, 0, tmp, px * sizeof *tmp, (uint64_t)(i * px * sizeof *tmp))) ||
                                    (e = exp_spill_io(ds->spill_fd, 1, tmp, px * sizeof *tmp, (uint64_t)(w * px * sizeof *tmp)))))
                    rc = wb_err(err, WB_E_IO, labels, "cannot move an image in the spill file (data.memory_mb): %s", strerror(e));
                if (ds->features) memmove(ds->features + w * nf, ds->features + i * nf, nf * sizeof *ds->features);
            }
            w++;
        }
        ds->n = w;
    }
out:
    free(tmp);
    for (size_t i = 0; real && i < n; i++) free(real[i]);
    free(real);
    free(k);
    free(drop);
    return rc;
}

int exp_dataset_load(const exp_config *cfg, const uint8_t key[32], const char *cache_dir, int progress,
                     exp_dataset *ds, wb_error *err)
{
    return exp_dataset_load_ex(cfg, key, cache_dir, progress, 0, ds, err);
}

int exp_dataset_load_ex(const exp_config *cfg, const uint8_t key[32], const char *cache_dir, int progress, int flags,
                        exp_dataset *ds, wb_error *err)
{
    exp_dataset_load_options o = {0};
    o.progress = progress;
    o.flags = flags;
    return exp_dataset_load_opts(cfg, key, cache_dir, &o, ds, err);
}

int exp_dataset_load_opts(const exp_config *cfg, const uint8_t key[32], const char *cache_dir,
                          const exp_dataset_load_options *opts, exp_dataset *ds, wb_error *err)
{
    static const exp_dataset_load_options no_opts = {0};
    if (!opts) opts = &no_opts;
    const int progress = opts->progress, flags = opts->flags;
    memset(ds, 0, sizeof *ds);
    const int no_labels = (flags & EXP_DATASET_NO_LABELS) != 0;
    const exp_settings *s = exp_config_get(cfg);
    const exp_settings_data *sd = &s->data;
    if (sd->task == EXP_TASK_PATCH) {
        if (exp_patch_load(cfg, key, cache_dir, progress, ds, err) != 0) return -1;
        /* how outputs show a file (data.output_paths), as for whole images */
        ds->paths = sd->output_paths == EXP_OUTPUT_PATHS_NONE ? EXP_PATHS_NONE : EXP_PATHS_PSEUDONYMISED;
        if (!(ds->dicom_dir = dup_str(sd->dicom_dir))) {
            exp_dataset_free(ds);
            return wb_err(err, WB_E_NOMEM, sd->labels, "out of memory");
        }
        return 0;
    }
    const char *labels = sd->labels;
    const char *dir = sd->dicom_dir;
    const char *positive = sd->positive;
    const size_t n_cls = sd->n_classes; /* 0: binary */
    int time_features = 0; /* a baseline's wall time includes its features */
    for (size_t v = 0; v < s->n_variants; v++) time_features |= s->variants[v].type == EXP_VARIANT_BASELINE;
    const int fail_fast = sd->on_error == EXP_ON_ERROR_FAIL;
    io_csv csv;
    if (io_csv_read_rows(labels, NULL, NULL, &csv, err) != 0) return -1; /* the file a chunk at a time, its rows kept */
    long c_file = io_csv_column(&csv, sd->file_column, err);
    long c_label = c_file < 0 ? -1 : no_labels ? c_file : io_csv_column(&csv, sd->label_column, err);
    long c_group = c_label < 0 ? -1 : io_csv_column(&csv, sd->group_column, err);
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
    /* data.filter and cv.split_column: the rows left out are gone from csv */
    unsigned char *test_row = NULL;
    if (!(flags & EXP_DATASET_ALL_ROWS)) {
        if (exp_rows_select(cfg, &csv, &ds->selected, &test_row, err) != 0) {
            io_csv_free(&csv);
            return -1;
        }
        if (progress && (ds->selected.n_filters || ds->selected.split)) {
            char what[512];
            exp_rows_describe(cfg, &ds->selected, what, sizeof what);
            wb_log(WB_LOG_INFO, "data: %s", what);
        }
    }

    exp_pre_params p;
    exp_dataset_pre_params(cfg, &p);
    /* the config's threads split each image's full-size loops (the output does not depend
     * on the count: tests/preprocess checks 1, 2 and 3) */
    exp_pre_set_threads(s->threads);
    if (exp_pre_params_check(&p, err) != 0) {
        io_csv_free(&csv);
    free(test_row);
        return -1;
    }
    const io_voi_mode voi = s->preprocess.voi == EXP_VOI_IGNORE ? IO_VOI_IGNORE : IO_VOI_APPLY;
    const size_t px = (size_t)p.out_rows * p.out_cols;
    exp_cache cache;
    size_t n_hits = 0;
    const int use_cache = cache_dir && cache_dir[0];
    if (use_cache && exp_cache_open(&cache, cache_dir, &p, err) != 0) {
        io_csv_free(&csv);
    free(test_row);
        return -1;
    }
    ds->rows = p.out_rows;
    ds->cols = p.out_cols;
    ds->paths = sd->output_paths == EXP_OUTPUT_PATHS_NONE ? EXP_PATHS_NONE : EXP_PATHS_PSEUDONYMISED;
    ds->dicom_dir = dup_str(dir);
    ds->spill_dir = use_cache ? dup_str(cache_dir) : NULL;
    ds->n_features = EXP_PRE_N_FEATURES;
    load_limits lim;
    load_limits_read(cfg, &lim);
    /* the images stay in memory while they fit in data.memory_mb, else go to a spill file */
    const int spill = !opts->no_images && (px > SIZE_MAX / sizeof(float) / csv.n_rows ||
                                           csv.n_rows * px * sizeof(float) > lim.memory_bytes);
    ds->memory_budget = lim.memory_bytes;
    ds->items = calloc(csv.n_rows, sizeof *ds->items);
    if (!opts->no_images && !spill) ds->images = malloc(csv.n_rows * px * sizeof *ds->images);
    /* without images (workbench preprocess) nothing reads the features either */
    if (!opts->no_images) ds->features = malloc(csv.n_rows * EXP_PRE_N_FEATURES * sizeof *ds->features);
    if (spill && exp_spill_open(use_cache ? cache_dir : NULL, &ds->spill_fd, err) != 0) {
        io_csv_free(&csv);
    free(test_row);
        exp_dataset_free(ds);
        return -1;
    }
    ds->spilled = spill;
    if (spill && progress)
        wb_log(WB_LOG_INFO, "data: %zu images of %dx%d take more than data.memory_mb (%zu MB): they are kept on disk",
               csv.n_rows, p.out_rows, p.out_cols, lim.memory_bytes >> 20);
    if (!ds->items || (!opts->no_images && !spill && !ds->images) || (!opts->no_images && !ds->features) || !ds->dicom_dir ||
        (use_cache && !ds->spill_dir)) {
        io_csv_free(&csv);
    free(test_row);
        exp_dataset_free(ds);
        return wb_err(err, WB_E_NOMEM, labels, "out of memory for %zu images of %dx%d", csv.n_rows, p.out_rows, p.out_cols);
    }
    int rc = 0;
    size_t n_new = 0; /* images computed, not read from the cache */
    const double t0 = wb_now();
    char *path = NULL; /* the row's file resolved against dicom_dir */
    for (size_t r = 0; r < csv.n_rows && rc == 0; r++) {
        free(path);
        path = NULL;
        if (opts->max_new && n_new >= opts->max_new) {
            ds->stopped = 1;
            break;
        }
        exp_item *it = &ds->items[ds->n];
        memset(it, 0, sizeof *it);
        const char *file = io_csv_cell(&csv, r, c_file);
        const char *group = io_csv_cell(&csv, r, c_group);
        it->csv_line = csv.lines[r];
        it->split = test_row ? test_row[r] : 0;
        if (!file[0] || !group[0]) {
            rc = wb_err_at(err, WB_E_DATA, labels, csv.lines[r], 0, NULL, "empty %s", !file[0] ? "file name" : "group (patient) id");
            break;
        }
        /* the CSV's SOP UID, laterality and view win; a DICOM header fills what they leave empty */
        if (item_str(ds, &it->file, file, SIZE_MAX) || item_str(ds, &it->group, group, SIZE_MAX) ||
            item_str(ds, &it->sop_uid, c_sop >= 0 ? io_csv_cell(&csv, r, c_sop) : "", EXP_ITEM_UID_MAX) ||
            item_str(ds, &it->laterality, c_lat >= 0 ? io_csv_cell(&csv, r, c_lat) : "", EXP_ITEM_LATERALITY_MAX) ||
            item_str(ds, &it->view, c_view >= 0 ? io_csv_cell(&csv, r, c_view) : "", EXP_ITEM_VIEW_MAX) ||
            !(path = resolve(dir, file))) {
            item_drop(it);
            rc = wb_err(err, WB_E_NOMEM, labels, "out of memory");
            break;
        }
        exp_pseudonym(key, group, it->pseudonym);
        const char *lv = io_csv_cell(&csv, r, c_label);
        int bad_label = 0;
        if (no_labels) {
            it->label = 0;
        } else if (n_cls == 0) {
            it->label = !strcmp(lv, positive);
        } else {
            it->label = -1;
            for (size_t k = 0; k < n_cls && it->label < 0; k++)
                if (!strcmp(lv, sd->classes[k])) it->label = (int)k;
            bad_label = it->label < 0;
        }
        if (bad_label) {
            /* checked before the image is decoded: a row with an unknown label is never used */
            char msg[1024], list[600] = "";
            for (size_t k = 0; k < n_cls; k++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", k ? ", " : "", sd->classes[k]);
            }
            snprintf(msg, sizeof msg, "%s '%.200s' is not one of data.classes [%s]", sd->label_column,
                     lv, list);
            if (fail_fast) {
                rc = wb_err_at(err, WB_E_DATA, labels, csv.lines[r], 0, NULL, "%s (data.on_error is fail)", msg);
            } else {
                char reason[1400];
                snprintf(reason, sizeof reason, "%s:%d: %s", labels, csv.lines[r], msg);
                rc = exclude_file(ds, it, reason, labels, err);
            }
            item_drop(it);
            if (progress) wb_progress("data: images read and preprocessed", r + 1, csv.n_rows, t0);
            continue;
        }
        wb_error e;
        wb_error_clear(&e);
        uint8_t digest[IO_SHA256_SIZE];
        exp_pre_result res;
        memset(&res, 0, sizeof res);
        int status_hit = 0;
        int bad = io_sha256_file(path, digest, &e);
        if (!bad) {
            memcpy(it->sha256, digest, sizeof it->sha256);
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
                io_image_format fmt = IO_IMAGE_DICOM;
                if (io_image_sniff(path, &fmt, &e) != 0) fmt = IO_IMAGE_DICOM;
                it->format = (uint8_t)fmt;
                if (fmt == IO_IMAGE_DICOM && (!it->sop_uid[0] || !it->laterality[0] || !it->view[0])) { /* header only */
                    io_dicom_meta m;
                    if (io_dicom_read_meta(path, &m, &e) == 0 && item_fill_meta(ds, it, &m) != 0) {
                        bad = 1;
                        wb_err(&e, WB_E_NOMEM, path, "out of memory");
                    }
                }
            } else {
                n_new++;
                bad = load_one(ds, path, &p, voi, it, &res, &e);
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
                err_out_text(ds, err, it);
            } else {
                rc = exclude_file(ds, it, msg, labels, err);
            }
            item_drop(it);
            if (progress) wb_progress("data: images read and preprocessed", r + 1, csv.n_rows, t0);
            continue;
        }
        if (time_features) ds->feature_seconds += feature_time(&res, &p, status_hit);
        if (ds->images) {
            memcpy(ds->images + ds->n * px, res.image, px * sizeof *ds->images);
        } else if (spill) {
            int se = exp_spill_io(ds->spill_fd, 1, res.image, px * sizeof *res.image, (uint64_t)(ds->n * px * sizeof *res.image));
            if (se) {
                exp_pre_result_free(&res);
                item_drop(it);
                rc = wb_err(err, WB_E_WRITE, cache_dir && cache_dir[0] ? cache_dir : NULL,
                            "cannot write the images beyond data.memory_mb to disk: %s", strerror(se));
                break;
            }
        }
        if (ds->features) memcpy(ds->features + ds->n * EXP_PRE_N_FEATURES, res.features, sizeof res.features);
        exp_pre_result_free(&res);
        ds->n_positive += it->label == 1;
        ds->class_n[it->label]++;
        ds->n++;
        if (progress) wb_progress("data: images read and preprocessed", r + 1, csv.n_rows, t0);
    }
    free(path);
    io_csv_free(&csv);
    free(test_row);
    ds->n_cached = n_hits;
    ds->n_computed = n_new;
    if (rc == 0 && !ds->stopped) rc = check_duplicates(ds, labels, err);
    if (use_cache && progress)
        wb_log(WB_LOG_INFO, "data: %zu of %zu images from the cache in %s", n_hits, ds->n + ds->n_excluded, cache_dir);
    if (rc == 0 && ds->stopped) {
        if (progress) wb_log(WB_LOG_INFO, "data: stopped after %zu images computed (the limit asked for)", n_new);
        return 0;
    }
    if (rc == 0 && ds->n == 0) rc = wb_err(err, WB_E_DATA, labels, "no usable image (%zu excluded)", ds->n_excluded);
    ds->n_classes = n_cls ? (int)n_cls : 2;
    for (size_t k = 0; rc == 0 && n_cls && k < n_cls; k++)
        if (ds->class_n[k] == 0)
            rc = wb_err(err, WB_E_DATA, labels, "no usable image of class '%s' (data.classes[%zu]); every listed class needs images",
                        sd->classes[k], k);
    if (rc == 0 && !n_cls && !no_labels && (ds->n_positive == 0 || ds->n_positive == ds->n))
        rc = wb_err(err, WB_E_DATA, labels, "all %zu usable images are %s: both classes are needed (data.positive is '%s')",
                    ds->n, ds->n_positive ? "positive" : "negative", positive);
    if (rc) exp_dataset_free(ds);
    return rc;
}
