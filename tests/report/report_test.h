/* report_test.h — helpers shared by the report tests (test_report.c, test_report_mc.c): the
 * files of a run directory, reading and writing them, a fresh copy of a fixture run, and
 * values read from metrics.json and timing.csv independently of the report code. */
#ifndef REPORT_TEST_H
#define REPORT_TEST_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_csv.h"
#include "io/io_json.h"
#include "base/wb_tensor.h"
#include "io/io_fs.h"
#include "experiments/report/report.h"
#include "io/io_sbuf.h"
#include "wb_test.h"

/* The files a run directory holds before its reports are written. */
static const char *const FILES[] = {"config.yaml", "curves.csv", "environment.json", "excluded.csv",
                                    "metrics.csv", "metrics.json", "predictions.csv", "timing.csv"};
enum { N_FILES = sizeof FILES / sizeof FILES[0] };

/* dir/name's contents, NUL-terminated (its length in *n when n is given); NULL when it cannot
 * be read. The caller frees. */
static inline char *slurp(const char *dir, const char *name, size_t *n)
{
    char path[4200];
    int w = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (w < 0 || (size_t)w >= sizeof path) return NULL;
    unsigned char *t = NULL;
    size_t k = 0;
    wb_error e;
    if (io_file_read_all(path, 64 << 20, &t, &k, &e) != 0) return NULL;
    char *z = realloc(t, k + 1);
    if (!z) {
        free(t);
        return NULL;
    }
    z[k] = '\0';
    if (n) *n = k;
    return z;
}

/* Writes n bytes of text to dir/name (a message on stderr when it cannot). */
static inline void put(const char *dir, const char *name, const char *text, size_t n)
{
    sbuf b = {0};
    sb_printf(&b, "%.*s", (int)n, text);
    wb_error e;
    if (sb_write(&b, dir, name, &e) != 0) fprintf(stderr, "cannot write %s/%s: %s\n", dir, name, e.msg);
    sb_free(&b);
}

/* A fresh copy of the fixture run's FILES in dst. */
static inline void copy_run(const char *fix, const char *dst)
{
    mkdir(dst, 0777);
    for (int i = 0; i < N_FILES; i++) {
        size_t n = 0;
        char *t = slurp(fix, FILES[i], &n);
        if (t) put(dst, FILES[i], t, n);
        free(t);
    }
}

/* The number member k of object o, NaN when o has none. */
static inline double num(const io_json_doc *d, const io_json_node *o, const char *k)
{
    const io_json_node *n = o ? io_json_get(d, o, k) : NULL;
    return n && n->type == IO_JSON_NUMBER ? n->num : NAN;
}

/* Sum of timing.csv seconds of variant in repeat (every repeat when repeat < 0); NaN when
 * timing.csv cannot be read. */
static inline double seconds(const char *dir, const char *variant, int repeat)
{
    char path[4400];
    snprintf(path, sizeof path, "%s/timing.csv", dir);
    io_csv c;
    wb_error e;
    double s = 0;
    if (io_csv_read(path, &c, &e) != 0) return NAN;
    for (size_t i = 0; i < c.n_rows; i++)
        if ((repeat < 0 || atoi(io_csv_cell(&c, i, 0)) == repeat) && !strcmp(io_csv_cell(&c, i, 2), variant))
            s += atof(io_csv_cell(&c, i, 3));
    io_csv_free(&c);
    return s;
}

/* The start of a report test's main: argv is FIXTURE_RUN_DIR WORK_DIR; copies the fixture run
 * to WORK_DIR/run (its path in dir, of dir_n bytes) and writes its reports (a failed check when
 * it cannot). 0, or 2 after a usage message. */
static inline int report_test_start(int argc, char **argv, char *dir, size_t dir_n)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s FIXTURE_RUN_DIR WORK_DIR\n", argv[0]);
        return 2;
    }
    mkdir(argv[2], 0777);
    snprintf(dir, dir_n, "%s/run", argv[2]);
    copy_run(argv[1], dir);
    wb_error e;
    CHECK(exp_report_write(dir, &e) == 0, "report: %s: %s", e.file, e.msg);
    return 0;
}

/* Writes dir's reports again and checks that each of the n files outs[] has the same bytes. */
static inline void check_regenerated(const char *dir, const char *const *outs, int n)
{
    char *first[8];
    size_t n1[8];
    if (n > 8) n = 8;
    for (int i = 0; i < n; i++) first[i] = slurp(dir, outs[i], &n1[i]);
    wb_error e;
    CHECK(exp_report_write(dir, &e) == 0, "second report");
    for (int i = 0; i < n; i++) {
        size_t n2;
        char *again = slurp(dir, outs[i], &n2);
        CHECK(first[i] && again && n1[i] == n2 && !memcmp(first[i], again, n2), "%s differs when regenerated", outs[i]);
        free(first[i]);
        free(again);
    }
}

#endif
