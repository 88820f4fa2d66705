/* cache.c — the preprocessed cache of cache.h. */
#include "experiments/data/cache.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io_fs.h"
#include "io/io_itk.h"
#include "io/io_sha256.h"
#include "base/wb_tensor.h"
#include "io/io_fs.h"
#include "base/wb_log.h"

#define MARKER "WORKBENCH_CACHE"
#define MARKER_TEXT "workbench preprocessed cache (format 1): safe to delete; see docs/preprocess.md\n"
static const char entry_magic[8] = {'W', 'B', 'P', 'R', 'E', '\r', '\n', 0x1a};

/* Fixed-size header of an entry, all integers little-endian. */
enum {
    H_MAGIC = 0,       /* 8 bytes */
    H_FORMAT = 8,      /* u32 */
    H_PREVER = 12,     /* u32 */
    H_KEY = 16,        /* 32 bytes: SHA-256 of the input file */
    H_PARAMS = 48,     /* 32 bytes: SHA-256 of the parameter text */
    H_ROWS = 80,       /* u32 */
    H_COLS = 84,       /* u32 */
    H_NFEAT = 88,      /* u32 */
    H_FLIPPED = 92,    /* u32 */
    H_CROP = 96,       /* 4 x i32 */
    H_THRESH = 112,    /* f32 */
    H_SOURCE = 116,    /* 16 bytes, NUL-padded */
    H_SIZE = 132
};
/* then features (f64 x nfeat), image (f32 x rows*cols), mask (u8 x rows*cols), SHA-256 of
 * everything before it (32 bytes). */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static int has_marker(const char *dir)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, MARKER);
    return access(p, F_OK) == 0;
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    struct dirent *e;
    int empty = 1;
    while ((e = readdir(d)) != NULL)
        /* "WORKBENCH_CACHE.tmp.<pid>": another process is creating the marker right now */
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") &&
            strncmp(e->d_name, MARKER, strlen(MARKER)) != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

static int write_small_file(const char *path, const char *text, wb_error *err)
{
    io_atomic_file af;
    if (io_atomic_open(&af, path, err))
        return -1;
    if (fputs(text, af.f) < 0) {
        io_atomic_abort(&af);
        return wb_err(err, WB_E_WRITE, path, "cannot write: %s", strerror(errno));
    }
    return io_atomic_commit(&af, err);
}

int exp_cache_open(exp_cache *c, const char *dir, const exp_pre_params *params, wb_error *err)
{
    memset(c, 0, sizeof *c);
    if (exp_pre_params_check(params, err))
        return -1;
    if (strlen(dir) >= sizeof c->dir - 200)
        return wb_err(err, WB_E_USAGE, dir, "cache directory path too long");
    /* Emptiness before the marker: a concurrent opener writes the marker before anything else,
     * so once the directory holds more than marker files the marker is there (checking the
     * marker first races: it may appear, with the set directory, between the two checks). */
    if (is_dir(dir) && !dir_is_empty(dir) && !has_marker(dir))
        return wb_err(err, WB_E_USAGE, dir, "exists and is not a workbench cache (no %s file): "
                      "choose an empty or new directory", MARKER);
    snprintf(c->dir, sizeof c->dir, "%s", dir);
    c->params = *params;
    exp_pre_params_hash(params, c->params_hash);
    char hex[65];
    io_sha256_hex(c->params_hash, hex);
    snprintf(c->set_dir, sizeof c->set_dir, "%s/%.16s", dir, hex);
    /* The marker first: a concurrent opener then never sees a non-empty unmarked directory. */
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, MARKER);
    if (io_fs_mkdirs(dir, err) || (access(p, F_OK) != 0 && write_small_file(p, MARKER_TEXT, err)))
        return -1;
    if (io_fs_mkdirs(c->set_dir, err))
        return -1;
    snprintf(p, sizeof p, "%s/params.txt", c->set_dir);
    if (access(p, F_OK) != 0) {
        char text[2048];
        exp_pre_params_text(params, text, sizeof text);
        if (write_small_file(p, text, err))
            return -1;
    }
    return 0;
}

void exp_cache_entry_path(const exp_cache *c, const uint8_t key[32], char *buf, size_t n)
{
    char hex[65];
    io_sha256_hex(key, hex);
    snprintf(buf, n, "%s/%.2s/%s.wbpre", c->set_dir, hex, hex);
}

static int damaged(int *status, char *why, size_t why_n, const char *fmt, const char *detail)
{
    *status = EXP_CACHE_DAMAGED;
    if (why)
        snprintf(why, why_n, fmt, detail);
    return 0;
}

/* The checksum proves an entry whole, not that whoever wrote it was this program: an entry
 * forged with a valid checksum must not carry values the pipeline never produces (a crop box
 * whose width overflows int, a NaN pixel that would become every score). NULL when they are
 * as exp_pre_run makes them, else why not. */
static const char *entry_values_bad(const exp_pre_result *r)
{
    static const char *const sources[] = {"laterality", "mass", "none", "patch"};
    const int *b = r->crop_box;
    /* the crop lies in an input image; no reader accepts a side above 65535 */
    if (b[0] < 0 || b[1] < 0 || b[0] >= b[2] || b[1] >= b[3] || b[2] > 65535 || b[3] > 65535)
        return "crop box out of range";
    if (r->flipped != 0 && r->flipped != 1)
        return "flip flag neither 0 nor 1";
    if (!isfinite(r->threshold))
        return "mask threshold not finite";
    int known = 0;
    for (size_t i = 0; i < sizeof sources / sizeof *sources; i++)
        known |= strcmp(r->chest_wall_source, sources[i]) == 0;
    if (!known)
        return "unknown chest-wall source";
    for (int k = 0; k < EXP_PRE_N_FEATURES; k++)
        if (!isfinite(r->features[k]))
            return "a radiomic feature not finite";
    const size_t np = (size_t)r->rows * (size_t)r->cols;
    for (size_t i = 0; i < np; i++)
        if (!isfinite(r->image[i]) || r->mask[i] > 1)
            return "a pixel not finite or a mask value other than 0 and 1";
    return NULL;
}

int exp_cache_load(exp_cache *c, const uint8_t key[32], exp_pre_result *out, int *status,
                   char *why, size_t why_n, wb_error *err)
{
    memset(out, 0, sizeof *out);
    *status = EXP_CACHE_MISS;
    if (why && why_n)
        why[0] = '\0';
    char path[4400];
    exp_cache_entry_path(c, key, path, sizeof path);
    if (access(path, F_OK) != 0)
        return 0;
    unsigned char *b = NULL;
    size_t n = 0;
    wb_error e;
    /* The largest legal entry: 4096 x 4096 output. */
    const size_t max = H_SIZE + 8 * EXP_PRE_N_FEATURES + (size_t)4096 * 4096 * 5 + 32;
    if (io_file_read_all(path, max, &b, &n, &e) != 0) {
        if (e.code == WB_E_NOMEM)
            return wb_err(err, WB_E_NOMEM, path, "out of memory reading a cache entry");
        return damaged(status, why, why_n, "unreadable: %s", e.msg);
    }
    int rc = 0;
    uint8_t sum[32];
    if (n < H_SIZE + 32) {
        damaged(status, why, why_n, "%s", "truncated (shorter than its header)");
        goto done;
    }
    if (memcmp(b + H_MAGIC, entry_magic, 8) != 0) {
        damaged(status, why, why_n, "%s", "not a cache entry (bad magic)");
        goto done;
    }
    io_sha256_buf(b, n - 32, sum);
    if (memcmp(sum, b + n - 32, 32) != 0) {
        damaged(status, why, why_n, "%s", "checksum mismatch (damaged or truncated)");
        goto done;
    }
    uint32_t rows = get_u32(b + H_ROWS), cols = get_u32(b + H_COLS);
    if (get_u32(b + H_FORMAT) != EXP_CACHE_FORMAT || get_u32(b + H_PREVER) != EXP_PRE_VERSION ||
        memcmp(b + H_KEY, key, 32) || memcmp(b + H_PARAMS, c->params_hash, 32) ||
        get_u32(b + H_NFEAT) != EXP_PRE_N_FEATURES || (int)rows != c->params.out_rows ||
        (int)cols != c->params.out_cols) {
        damaged(status, why, why_n, "%s", "written for another input, version or parameters");
        goto done;
    }
    size_t np = (size_t)rows * cols;
    if (n != H_SIZE + 8 * (size_t)EXP_PRE_N_FEATURES + 5 * np + 32) {
        damaged(status, why, why_n, "%s", "wrong size for its header");
        goto done;
    }
    out->image = malloc(np * sizeof *out->image);
    out->mask = malloc(np);
    if (!out->image || !out->mask) {
        exp_pre_result_free(out);
        rc = wb_err(err, WB_E_NOMEM, path, "out of memory reading a cache entry");
        goto done;
    }
    out->rows = (int)rows;
    out->cols = (int)cols;
    out->flipped = (int)get_u32(b + H_FLIPPED);
    for (int i = 0; i < 4; i++)
        out->crop_box[i] = (int)get_u32(b + H_CROP + 4 * i);
    uint32_t t = get_u32(b + H_THRESH);
    memcpy(&out->threshold, &t, 4);
    memcpy(out->chest_wall_source, b + H_SOURCE, 15);
    out->chest_wall_source[15] = '\0';
    const uint8_t *p = b + H_SIZE;
    for (int k = 0; k < EXP_PRE_N_FEATURES; k++, p += 8) {
        uint64_t u = get_u64(p);
        memcpy(&out->features[k], &u, 8);
    }
    for (size_t i = 0; i < np; i++, p += 4) {
        uint32_t u = get_u32(p);
        memcpy(&out->image[i], &u, 4);
    }
    memcpy(out->mask, p, np);
    const char *bad = entry_values_bad(out);
    if (bad) {
        exp_pre_result_free(out);
        damaged(status, why, why_n, "%s", bad);
        goto done;
    }
    *status = EXP_CACHE_HIT;
done:
    free(b);
    return rc;
}

int exp_cache_store(exp_cache *c, const uint8_t key[32], const exp_pre_result *r,
                    wb_error *err)
{
    char path[4400], dir[4400];
    exp_cache_entry_path(c, key, path, sizeof path);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = '\0';
    if (io_fs_mkdirs(dir, err))
        return -1;
    size_t np = (size_t)r->rows * (size_t)r->cols;
    size_t n = H_SIZE + 8 * (size_t)EXP_PRE_N_FEATURES + 5 * np + 32;
    uint8_t *b = calloc(n, 1);
    if (!b)
        return wb_err(err, WB_E_NOMEM, path, "out of memory writing a cache entry");
    memcpy(b + H_MAGIC, entry_magic, 8);
    put_u32(b + H_FORMAT, EXP_CACHE_FORMAT);
    put_u32(b + H_PREVER, EXP_PRE_VERSION);
    memcpy(b + H_KEY, key, 32);
    memcpy(b + H_PARAMS, c->params_hash, 32);
    put_u32(b + H_ROWS, (uint32_t)r->rows);
    put_u32(b + H_COLS, (uint32_t)r->cols);
    put_u32(b + H_NFEAT, EXP_PRE_N_FEATURES);
    put_u32(b + H_FLIPPED, (uint32_t)r->flipped);
    for (int i = 0; i < 4; i++)
        put_u32(b + H_CROP + 4 * i, (uint32_t)r->crop_box[i]);
    uint32_t t;
    memcpy(&t, &r->threshold, 4);
    put_u32(b + H_THRESH, t);
    memcpy(b + H_SOURCE, r->chest_wall_source, strnlen(r->chest_wall_source, 15));
    uint8_t *p = b + H_SIZE;
    for (int k = 0; k < EXP_PRE_N_FEATURES; k++, p += 8) {
        uint64_t u;
        memcpy(&u, &r->features[k], 8);
        put_u64(p, u);
    }
    for (size_t i = 0; i < np; i++, p += 4) {
        uint32_t u;
        memcpy(&u, &r->image[i], 4);
        put_u32(p, u);
    }
    memcpy(p, r->mask, np);
    p += np;
    io_sha256_buf(b, n - 32, p);
    io_atomic_file af;
    int rc = io_atomic_open(&af, path, err);
    if (rc == 0) {
        if (fwrite(b, 1, n, af.f) != n) {
            io_atomic_abort(&af);
            rc = wb_err(err, WB_E_WRITE, path, "cannot write: %s", strerror(errno));
        } else {
            rc = io_atomic_commit(&af, err);
        }
    }
    free(b);
    return rc;
}

int exp_cache_file(exp_cache *c, const char *path, exp_pre_result *out, int *status,
                   wb_error *err)
{
    memset(out, 0, sizeof *out);
    uint8_t key[32];
    if (io_sha256_file(path, key, err))
        return -1;
    int st;
    char why[1200];
    if (exp_cache_load(c, key, out, &st, why, sizeof why, err))
        return -1;
    if (status)
        *status = st;
    if (st == EXP_CACHE_HIT) {
        c->hits++;
        return 0;
    }
    if (st == EXP_CACHE_DAMAGED) {
        char ep[4400];
        exp_cache_entry_path(c, key, ep, sizeof ep);
        wb_warn("cache entry %s (for %s): %s; recomputing it", ep, path, why);
        c->repaired++;
    } else {
        c->misses++;
    }
    if (exp_pre_file(path, &c->params, out, err))
        return -1;
    wb_error e;
    if (exp_cache_store(c, key, out, &e)) {
        char buf[2400];
        wb_warn("cannot store a cache entry: %s", wb_error_format(&e, buf, sizeof buf));
    }
    return 0;
}

/* ---- info and clear ---- */

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && !strcmp(s + a - b, suffix);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

typedef enum { K_ENTRY, K_PARAMS, K_TEMP, K_MARKER, K_OTHER } file_kind;

static file_kind classify(const char *path)
{
    const char *b = base_name(path);
    if (strstr(b, ".tmp."))
        return K_TEMP;
    if (ends_with(b, ".wbpre"))
        return K_ENTRY;
    if (!strcmp(b, "params.txt"))
        return K_PARAMS;
    if (!strcmp(b, MARKER))
        return K_MARKER;
    return K_OTHER;
}

static int check_cache_dir(const char *dir, wb_error *err)
{
    if (!is_dir(dir))
        return wb_err(err, WB_E_USAGE, dir, "no such cache directory");
    if (!has_marker(dir))
        return wb_err(err, WB_E_USAGE, dir, "not a workbench cache (no %s file): nothing done",
                      MARKER);
    return 0;
}

int exp_cache_info(const char *dir, exp_cache_stats *st, wb_error *err)
{
    memset(st, 0, sizeof *st);
    if (check_cache_dir(dir, err))
        return -1;
    io_path_list l;
    io_path_list_init(&l);
    if (io_fs_collect(dir, &l, err)) {
        io_path_list_free(&l);
        return -1;
    }
    for (size_t i = 0; i < l.n; i++) {
        struct stat s;
        switch (classify(l.paths[i])) {
        case K_ENTRY:
            st->entries++;
            if (stat(l.paths[i], &s) == 0)
                st->entry_bytes += (size_t)s.st_size;
            break;
        case K_PARAMS:
            st->param_sets++;
            break;
        case K_TEMP:
            st->temp_files++;
            break;
        case K_MARKER:
            break;
        case K_OTHER:
            st->other_files++;
            break;
        }
    }
    io_path_list_free(&l);
    return 0;
}

/* Removes empty directories below dir (depth first), then dir itself if empty. */
static void prune_dirs(const char *dir, int depth)
{
    if (depth > 8)
        return;
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    char p[4400];
    io_path_list subs;
    io_path_list_init(&subs);
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (is_dir(p) && io_path_list_add(&subs, p, NULL) != 0)
            break;
    }
    closedir(d);
    for (size_t i = 0; i < subs.n; i++)
        prune_dirs(subs.paths[i], depth + 1);
    io_path_list_free(&subs);
    rmdir(dir); /* fails harmlessly when not empty */
}

int exp_cache_clear(const char *dir, size_t *removed, size_t *kept, wb_error *err)
{
    *removed = 0;
    *kept = 0;
    if (check_cache_dir(dir, err))
        return -1;
    io_path_list l;
    io_path_list_init(&l);
    if (io_fs_collect(dir, &l, err)) {
        io_path_list_free(&l);
        return -1;
    }
    char marker[4200];
    snprintf(marker, sizeof marker, "%s/%s", dir, MARKER);
    int rc = 0;
    for (size_t i = 0; i < l.n; i++) {
        file_kind k = classify(l.paths[i]);
        if (k == K_OTHER) {
            ++*kept;
            continue;
        }
        if (k == K_MARKER)
            continue; /* last, so that an interrupted clear can be run again */
        if (unlink(l.paths[i]) != 0 && errno != ENOENT) {
            rc = wb_err(err, WB_E_WRITE, l.paths[i], "cannot remove: %s", strerror(errno));
            break;
        }
        ++*removed;
    }
    io_path_list_free(&l);
    if (rc == 0 && *kept == 0) {
        if (unlink(marker) == 0)
            ++*removed;
        prune_dirs(dir, 0);
    }
    return rc;
}
