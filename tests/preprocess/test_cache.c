/* test_cache — the preprocessed cache: miss, hit, invalidation on a parameter change,
 * corruption recovery (truncation, a flipped byte, a foreign entry), two processes filling
 * it at once, info and clear. Usage: test_cache WORK_DIR */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "experiments/data/cache.h"
#include "io/io_sha256.h"
#include "base/wb_log.h"
#include "wb_test.h"

static char work[2048];

/* An 8-bit PGM with a half-ellipse breast; `v` varies the content (and so the key). */
static void write_pgm(const char *path, int rows, int cols, int v)
{
    FILE *f = fopen(path, "wb");
    fprintf(f, "P5\n# test\n%d %d\n255\n", cols, rows);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double y = (r - rows / 2.0) / (rows * 0.4), u = c / (cols * 0.6);
            int px = u * u + y * y <= 1 ? 120 + v + (int)(60 * (1 - u)) + (r * 7 + c * 3) % 11 : 3;
            fputc(px, f);
        }
    fclose(f);
}

static int same_result(const exp_pre_result *a, const exp_pre_result *b)
{
    size_t n = (size_t)a->rows * a->cols;
    return a->rows == b->rows && a->cols == b->cols && a->flipped == b->flipped &&
           !memcmp(a->features, b->features, sizeof a->features) &&
           !memcmp(a->image, b->image, n * sizeof *a->image) && !memcmp(a->mask, b->mask, n) &&
           !memcmp(a->crop_box, b->crop_box, sizeof a->crop_box) &&
           !strcmp(a->chest_wall_source, b->chest_wall_source) && a->threshold == b->threshold;
}

static int get(exp_cache *c, const char *path, exp_pre_result *r)
{
    wb_error err;
    int st = -1;
    if (exp_cache_file(c, path, r, &st, &err) != 0) {
        CHECK(0, "exp_cache_file %s: %s", path, err.msg);
        return -1;
    }
    return st;
}

static void entry_path_of(exp_cache *c, const char *file, char *buf, size_t n)
{
    uint8_t key[32];
    wb_error err;
    io_sha256_file(file, key, &err);
    exp_cache_entry_path(c, key, buf, n);
}

static long file_size(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 ? (long)st.st_size : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_cache WORK_DIR\n");
        return 2;
    }
    snprintf(work, sizeof work, "%s/cache_test.%d", argv[1], (int)getpid());
    mkdir(work, 0777);
    char dir[2300], a[2300], b[2300], ep[4400];
    snprintf(dir, sizeof dir, "%s/cache", work);
    snprintf(a, sizeof a, "%s/a.pgm", work);
    snprintf(b, sizeof b, "%s/b.pgm", work);
    write_pgm(a, 120, 90, 0);
    write_pgm(b, 100, 80, 20);
    wb_error err;
    exp_pre_params p;
    exp_pre_params_default(&p);
    p.out_rows = p.out_cols = 48;
    exp_cache c;
    CHECK(exp_cache_open(&c, dir, &p, &err) == 0, "open: %s", err.msg);

    /* miss, then hit with identical content */
    exp_pre_result r0, r1;
    CHECK_EQ_INT(get(&c, a, &r0), EXP_CACHE_MISS, "first read");
    CHECK_EQ_INT(get(&c, a, &r1), EXP_CACHE_HIT, "second read");
    CHECK(same_result(&r0, &r1), "hit returns what was computed");
    exp_pre_result_free(&r1);
    CHECK_EQ_INT(get(&c, b, &r1), EXP_CACHE_MISS, "other file");
    exp_pre_result_free(&r1);

    /* a parameter change is a new key; the old parameters still hit */
    exp_pre_params p2 = p;
    p2.clahe = 1;
    exp_cache c2;
    CHECK(exp_cache_open(&c2, dir, &p2, &err) == 0, "open 2: %s", err.msg);
    CHECK(strcmp(c.set_dir, c2.set_dir) != 0, "different parameter set directory");
    CHECK_EQ_INT(get(&c2, a, &r1), EXP_CACHE_MISS, "changed params: miss");
    exp_pre_result_free(&r1);
    CHECK_EQ_INT(get(&c2, a, &r1), EXP_CACHE_HIT, "changed params: then hit");
    exp_pre_result_free(&r1);
    CHECK_EQ_INT(get(&c, a, &r1), EXP_CACHE_HIT, "old params: still hit");
    exp_pre_result_free(&r1);

    /* corruption: truncation */
    entry_path_of(&c, a, ep, sizeof ep);
    long size = file_size(ep);
    CHECK(size > 48 * 48 * 5, "entry size %ld", size);
    fprintf(stderr, "(the warnings below are expected)\n");
    CHECK(truncate(ep, size / 2) == 0, "truncate");
    CHECK_EQ_INT(get(&c, a, &r1), EXP_CACHE_DAMAGED, "truncated entry detected");
    CHECK(same_result(&r0, &r1), "recomputed result equals the original");
    exp_pre_result_free(&r1);
    CHECK_EQ_INT(file_size(ep), size, "entry rewritten");
    CHECK_EQ_INT(get(&c, a, &r1), EXP_CACHE_HIT, "hit after repair");
    exp_pre_result_free(&r1);
    CHECK(truncate(ep, 10) == 0, "truncate into the header");
    CHECK_EQ_INT(get(&c, a, &r1), EXP_CACHE_DAMAGED, "truncated header detected");
    exp_pre_result_free(&r1);

    /* corruption: one flipped byte, in the pixels and in the checksum itself */
    long where[3] = {size / 2, 100, size - 1};
    for (int k = 0; k < 3; k++) {
        FILE *f = fopen(ep, "r+b");
        fseek(f, where[k], SEEK_SET);
        int ch = fgetc(f);
        fseek(f, where[k], SEEK_SET);
        fputc(ch ^ 0x10, f);
        fclose(f);
        CHECK_EQ_INT(get(&c, a, &r1), EXP_CACHE_DAMAGED, "flipped byte detected");
        CHECK(same_result(&r0, &r1), "recomputed after a flipped byte");
        exp_pre_result_free(&r1);
        CHECK_EQ_INT(get(&c, a, &r1), EXP_CACHE_HIT, "hit after repair");
        exp_pre_result_free(&r1);
    }

    /* an intact entry under another file's name (valid checksum, wrong key) */
    char epb[4400];
    entry_path_of(&c, b, epb, sizeof epb);
    char cmd[9000];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", epb, ep);
    CHECK(system(cmd) == 0, "copy");
    CHECK_EQ_INT(get(&c, a, &r1), EXP_CACHE_DAMAGED, "foreign entry detected");
    CHECK(same_result(&r0, &r1), "recomputed after a foreign entry");
    exp_pre_result_free(&r1);

    /* entries forged with a valid checksum: values exp_pre_run never makes are damage too */
    {
        const uint32_t nan_bits = 0x7fc00000u, big = 0xfffffffbu; /* NaN, -5 */
        const size_t px0 = 132 + 8 * (size_t)EXP_PRE_N_FEATURES; /* docs/preprocess.md's layout */
        const struct { size_t off; uint32_t v; const char *what; } forged[] = {
            {96 + 8, 0, "crop r1 = 0 (not after r0)"},
            {96 + 4, big, "crop c0 negative"},
            {96 + 12, 70000, "crop c1 beyond any image"},
            {92, 2, "flip flag 2"},
            {112, nan_bits, "threshold NaN"},
            {116, 0x6c697665u, "chest-wall source unknown"},
            {132 + 8 * 3 + 4, 0x7ff00000u, "a feature +inf"},
            {px0 + 4 * 100, nan_bits, "a pixel NaN"},
            {px0 + 4 * 48 * 48 + 7, 7, "a mask byte 7"},
        };
        for (size_t k = 0; k < sizeof forged / sizeof *forged; k++) {
            long sz = file_size(ep);
            uint8_t *buf = malloc((size_t)sz);
            FILE *f = fopen(ep, "rb");
            CHECK(buf && f && fread(buf, 1, (size_t)sz, f) == (size_t)sz, "read entry");
            fclose(f);
            if (forged[k].off >= px0 + 4 * 48 * 48) /* the mask: one byte */
                buf[forged[k].off] = (uint8_t)forged[k].v;
            else
                for (int i = 0; i < 4; i++) /* little-endian u32 */
                    buf[forged[k].off + i] = (uint8_t)(forged[k].v >> (8 * i));
            io_sha256_buf(buf, (size_t)sz - 32, buf + sz - 32);
            f = fopen(ep, "wb");
            CHECK(f && fwrite(buf, 1, (size_t)sz, f) == (size_t)sz, "write entry");
            fclose(f);
            free(buf);
            CHECK_EQ_INT(get(&c, a, &r1), EXP_CACHE_DAMAGED, forged[k].what);
            CHECK(same_result(&r0, &r1), "recomputed after a forged entry: %s", forged[k].what);
            exp_pre_result_free(&r1);
            CHECK_EQ_INT(get(&c, a, &r1), EXP_CACHE_HIT, forged[k].what);
            exp_pre_result_free(&r1);
        }
    }

    /* two processes filling a fresh cache at once: no damage, all hits afterwards */
    char dir2[2300];
    snprintf(dir2, sizeof dir2, "%s/cache2", work);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            exp_cache cc;
            wb_error e;
            int bad = exp_cache_open(&cc, dir2, &p, &e) != 0;
            for (int i = 0; i < 6 && !bad; i++) {
                exp_pre_result rr;
                int st;
                bad |= exp_cache_file(&cc, i % 2 ? a : b, &rr, &st, &e) != 0;
                bad |= st == EXP_CACHE_DAMAGED;
                exp_pre_result_free(&rr);
            }
            _exit(bad);
        }
    }
    for (int k = 0; k < 2; k++) {
        int wst = 0;
        waitpid(kids[k], &wst, 0);
        CHECK(WIFEXITED(wst) && WEXITSTATUS(wst) == 0, "child %d", k);
    }
    exp_cache c3;
    CHECK(exp_cache_open(&c3, dir2, &p, &err) == 0, "open 3");
    CHECK_EQ_INT(get(&c3, a, &r1), EXP_CACHE_HIT, "filled by the children");
    CHECK(same_result(&r0, &r1), "children computed the same");
    exp_pre_result_free(&r1);

    /* info and clear */
    exp_cache_stats st;
    CHECK(exp_cache_info(dir, &st, &err) == 0, "info: %s", err.msg);
    CHECK_EQ_INT(st.param_sets, 2, "param sets");
    CHECK_EQ_INT(st.entries, 3, "entries (a, b; a with clahe)");
    CHECK_EQ_INT(st.temp_files, 0, "no temporary files left");
    CHECK(st.entry_bytes > 3 * 48 * 48 * 5, "bytes %zu", st.entry_bytes);
    size_t removed, kept;
    CHECK(exp_cache_clear(dir, &removed, &kept, &err) == 0, "clear: %s", err.msg);
    CHECK_EQ_INT(removed, 3 + 2 + 1, "removed entries, params, marker");
    CHECK_EQ_INT(kept, 0, "kept");
    CHECK(access(dir, F_OK) != 0, "cache directory removed");
    CHECK(exp_cache_info(dir, &st, &err) == -1 && err.code == WB_E_USAGE, "info after clear");

    /* refusing what is not a cache */
    CHECK(exp_cache_clear(work, &removed, &kept, &err) == -1 && err.code == WB_E_USAGE,
          "clear of a non-cache refused");
    CHECK_CONTAINS(err.msg, "not a workbench cache", "message");
    CHECK(access(a, F_OK) == 0, "nothing removed");
    CHECK(exp_cache_open(&c, work, &p, &err) == -1 && err.code == WB_E_USAGE,
          "open on a non-empty non-cache dir refused");

    exp_pre_result_free(&r0);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", work);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", work);
    return wb_test_finish("test_cache");
}
