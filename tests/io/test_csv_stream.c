/* The streaming CSV reader (io_csv_stream) against the whole-file reader (io_csv_read): the
 * same header, rows, lines and cells for every file io_csv_read accepts, the same error text
 * and code for every file it refuses (io_csv_read_rows too, keeping all rows or every other one); at chunk sizes from 4 bytes (so that a chunk ends inside
 * a quoted field, between a CR and its LF, inside a "" escape, a BOM or a UTF-8 sequence, at
 * every position of the small inputs) to the default 64 KiB.
 *
 *     test_csv_stream TMPDIR [FIXTURE.csv ...]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_csv.h"
#include "wb_test.h"

static const char *g_tmp;
static const size_t g_chunks[] = {4, 5, 6, 7, 8, 9, 11, 16, 64 << 10};

static const char *write_tmp(const char *name, const char *text, size_t n)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "wb");
    if (!f) return path;
    fwrite(text, 1, n, f);
    fclose(f);
    return path;
}

/* io_csv_read_rows' keep: the rows 2, 4, 6... (odd index from 0) */
static int keep_odd(void *ctx, const io_csv_stream *s, wb_error *err)
{
    (void)ctx;
    (void)err;
    return s->n_rows % 2 == 0;
}

/* path read both ways at every chunk size, and by io_csv_read_rows; returns io_csv_read's status. */
static int same(const char *path)
{
    io_csv c;
    wb_error e1, e2;
    wb_error_clear(&e1);
    const int rc = io_csv_read(path, &c, &e1);
    char m1[2400], m2[2400];
    wb_error_format(&e1, m1, sizeof m1);
    for (size_t k = 0; k < sizeof g_chunks / sizeof *g_chunks; k++) {
        const size_t chunk = g_chunks[k];
        if (chunk < 64 << 10 && c.n_rows > 5000) continue; /* the large fixtures at the default size */
        io_csv_stream s;
        wb_error_clear(&e2);
        int r = io_csv_stream_open_chunk(path, chunk, &s, &e2);
        size_t row = 0;
        int bad = 0;
        if (r == 0) {
            if (rc == 0) {
                CHECK(s.head.n_cols == c.n_cols && s.head.header_line == c.header_line, "%s [%zu]: header shape", path, chunk);
                for (size_t j = 0; j < c.n_cols && j < s.head.n_cols; j++)
                    CHECK_STR(s.head.header[j], c.header[j], path);
            }
            while ((r = io_csv_stream_next(&s, &e2)) == 1) {
                if (rc != 0) continue;
                if (row >= c.n_rows || s.line != c.lines[row]) {
                    bad++;
                } else {
                    for (size_t j = 0; j < c.n_cols; j++)
                        if (strcmp(io_csv_stream_cell(&s, (long)j), io_csv_cell(&c, row, (long)j))) bad++;
                    if (io_csv_stream_cell(&s, (long)c.n_cols) != NULL || io_csv_stream_cell(&s, -1) != NULL) bad++;
                }
                row++;
            }
        }
        if (rc == 0) {
            CHECK(r == 0, "%s [chunk %zu]: io_csv_read accepts it, the stream says %s", path, chunk, e2.msg);
            CHECK(bad == 0 && row == c.n_rows && s.n_rows == c.n_rows, "%s [chunk %zu]: %d row(s) differ, %zu of %zu rows",
                  path, chunk, bad, row, c.n_rows);
        } else {
            wb_error_format(&e2, m2, sizeof m2);
            CHECK(r == -1, "%s [chunk %zu]: io_csv_read refuses it (%s), the stream accepts it", path, chunk, m1);
            if (r == -1) {
                CHECK_STR(m2, m1, path);
                CHECK_EQ_INT(e2.code, e1.code, path);
            }
        }
        io_csv_stream_close(&s);
    }
    /* io_csv_read_rows: every row (keep NULL), then every other one, as io_csv_read has them */
    for (int odd = 0; odd < 2; odd++) {
        io_csv k;
        wb_error_clear(&e2);
        const int r = io_csv_read_rows(path, odd ? keep_odd : NULL, NULL, &k, &e2);
        if (rc != 0) {
            wb_error_format(&e2, m2, sizeof m2);
            CHECK(r == -1, "%s: io_csv_read refuses it (%s), io_csv_read_rows accepts it", path, m1);
            if (r == -1) CHECK_STR(m2, m1, path);
            continue;
        }
        CHECK(r == 0, "%s: io_csv_read accepts it, io_csv_read_rows says %s", path, e2.msg);
        if (r != 0) continue;
        CHECK(k.n_cols == c.n_cols && k.header_line == c.header_line && !strcmp(k.path, c.path), "%s: header shape", path);
        for (size_t j = 0; j < c.n_cols && j < k.n_cols; j++) CHECK_STR(k.header[j], c.header[j], path);
        size_t kr = 0;
        int bad = 0;
        for (size_t row = odd; row < c.n_rows; row += 1 + (size_t)odd, kr++) {
            if (kr >= k.n_rows || k.lines[kr] != c.lines[row]) {
                bad++;
                continue;
            }
            for (size_t j = 0; j < c.n_cols; j++) bad += strcmp(io_csv_cell(&k, kr, (long)j), io_csv_cell(&c, row, (long)j)) != 0;
        }
        CHECK(bad == 0 && kr == k.n_rows, "%s: io_csv_read_rows (%s): %d row(s) differ, %zu of %zu rows", path,
              odd ? "every other row" : "all rows", bad, k.n_rows, kr);
        io_csv_free(&k);
    }
    io_csv_free(&c);
    return rc;
}

static int same_text(const char *name, const char *text, size_t n) { return same(write_tmp(name, text, n)); }
#define SAME(name, lit) same_text(name, lit, sizeof lit - 1)

int main(int argc, char **argv)
{
    if (argc < 2) return 2;
    g_tmp = argv[1];
    /* the committed CSV fixtures of the tests and the fuzz corpus */
    for (int a = 2; a < argc; a++) same(argv[a]);

    /* accepted: the chunk's end falls, at some chunk size, inside each of these */
    CHECK(SAME("good.csv", "\xEF\xBB\xBF" "file,label,note\r\n"
                           "a.dcm,malignant,\"has, comma\"\r\n"
                           "\r\n"
                           "b.dcm,normal,\"say \"\"hi\"\"\nover two lines\"\n"
                           "c.dcm,benign,") == 0, "good.csv");
    CHECK(SAME("utf8.csv", "name,city\r\nJos\xC3\xA9,M\xC3\xBCnchen\r\n\"\xE2\x82\xAC, \xF0\x9F\x98\x80\",\xE6\x97\xA5\xE6\x9C\xAC\r\n") == 0,
          "utf8.csv");
    CHECK(SAME("crlf.csv", "a,b\r\n\r\n\r\n1,\"\r\n\"\r\n2,x\ry\r\n3,z\r") == 0, "crlf.csv (a lone CR in a field, CR at the end)");
    CHECK(SAME("quoted.csv", "a,b\n\"\"\"\",\"\"\n\"x\"\"\"\"y\",\"\"\"\"\"\"\n") == 0, "quoted.csv");
    CHECK(SAME("cr_after_quote.csv", "a\n\"x\"\ry\n") == 0, "a CR after a closing quote ends the row");
    CHECK(SAME("header_only.csv", "a,b,c\n") == 0, "header only");
    CHECK(SAME("blank_first.csv", "\n\r\n\na,b\n1,2\n") == 0, "blank lines before the header");
    CHECK(SAME("bom_only_header.csv", "\xEF\xBB\xBFx") == 0, "a BOM and a one-byte header");
    CHECK(SAME("bom_partial.csv", "\xEF\xBBx,y\n1,2\n") == 0, "two bytes of a BOM are data");

    /* refused: the same message from both (test_csv's hostile cases and more) */
    CHECK(SAME("fields.csv", "a,b\n1,2\n1,2,3\n") != 0, "ragged");
    CHECK(SAME("fields_late.csv", "a,b\n1,2\n1,2\n1,2\n1,2\n1,2\n1\n") != 0, "ragged late");
    CHECK(SAME("quote.csv", "a,b\n1,\"open\n") != 0, "unterminated");
    CHECK(SAME("after.csv", "a,b\n\"x\"y,2\n") != 0, "after a quote");
    CHECK(SAME("inner.csv", "a,b\nx\"y,2\n") != 0, "inner quote");
    CHECK(SAME("empty.csv", "") != 0, "empty");
    CHECK(SAME("blank_only.csv", "\n\r\n\n") != 0, "only blank lines");
    CHECK(SAME("dup.csv", "a,a\n1,2\n") != 0, "duplicate column");
    CHECK(SAME("dup_then_bad.csv", "a,a\n1,2\n1,\"x\n") != 0, "a duplicate column and a later error: the later error");
    CHECK(same_text("nul.csv", "a,b\nx\0y,2\n", 10) != 0, "NUL");
    CHECK(same_text("nulq.csv", "a,b\n1,\"x\ny\0z\"\n", 14) != 0, "NUL in a quoted field");
    CHECK(same_text("nulh.csv", "a\0,b\n1,2\n", 9) != 0, "NUL in the header");
    CHECK(same_text("nulbom.csv", "\xEF\xBB\xBF" "a\0,b\n1,2\n", 12) != 0, "NUL after a BOM");
    CHECK(SAME("quote_after_crlf.csv", "a,b\r\n1,\"x\"\"\r\ny\"z\r\n") != 0, "after a closing quote, second line");
    {
        /* more than 4096 columns, and a field longer than 1 MiB (quoted and not) */
        size_t n = 3 * 4100 + 8;
        char *t = malloc(n);
        size_t k = 0;
        for (int i = 0; i < 4097; i++) k += (size_t)snprintf(t + k, n - k, "%s%d", i ? "," : "", i % 10);
        t[k++] = '\n';
        CHECK(same_text("cols.csv", t, k) != 0, "4097 columns");
        free(t);
        n = 40 + ((size_t)1 << 20);
        t = malloc(n);
        int h = snprintf(t, n, "file,label,note\na.dcm,x,");
        memset(t + h, 'a', n - (size_t)h);
        CHECK(same_text("long.csv", t, n) != 0, "long field");
        t[h] = '"';
        CHECK(same_text("longq.csv", t, n) != 0, "long quoted field");
        free(t);
    }
    {
        /* special files, and a missing one: refused at open with io_csv_read's message */
        io_csv c;
        io_csv_stream s;
        wb_error e1, e2;
        char m1[2400], m2[2400];
        const char *const special[] = {"/nonexistent/x.csv", "/dev/zero", "/dev/null"};
        for (size_t i = 0; i < 3; i++) {
            CHECK(io_csv_read(special[i], &c, &e1) != 0, "%s", special[i]);
            CHECK(io_csv_stream_open(special[i], &s, &e2) != 0, "%s", special[i]);
            CHECK_STR(wb_error_format(&e2, m2, sizeof m2), wb_error_format(&e1, m1, sizeof m1), special[i]);
            CHECK(s.st == NULL && s.head.header == NULL, "%s: nothing left open", special[i]);
            io_csv_stream_close(&s);
        }
    }
    {
        /* a larger file across many chunks: 20,000 rows at chunk 7, cells checked by value */
        size_t cap = 20000 * 40 + 64, k = 0;
        char *t = malloc(cap);
        k += (size_t)snprintf(t + k, cap - k, "repeat,id,score\r\n");
        for (int i = 0; i < 20000; i++)
            k += (size_t)snprintf(t + k, cap - k, i % 7 ? "%d,img%05d,0.%06d\r\n" : "%d,\"img,%05d\",\"0.%06d\"\n", i % 3, i, i * 37 % 1000000);
        const char *p = write_tmp("many.csv", t, k);
        free(t);
        io_csv_stream s;
        wb_error e;
        CHECK(io_csv_stream_open_chunk(p, 7, &s, &e) == 0, "many.csv: %s", e.msg);
        long ci = io_csv_column(&s.head, "id", &e), cs = io_csv_column(&s.head, "score", &e);
        CHECK(io_csv_column(&s.head, "label", &e) == -1, "no such column");
        CHECK_CONTAINS(e.msg, "no column 'label' (the header has: repeat, id, score)", "column message on the stream's header");
        int r, bad = 0;
        while ((r = io_csv_stream_next(&s, &e)) == 1) {
            char want[32];
            int i = (int)s.n_rows - 1;
            snprintf(want, sizeof want, i % 7 ? "img%05d" : "img,%05d", i);
            bad += strcmp(io_csv_stream_cell(&s, ci), want) != 0;
            snprintf(want, sizeof want, "0.%06d", i * 37 % 1000000);
            bad += strcmp(io_csv_stream_cell(&s, cs), want) != 0;
            bad += s.line != i + 2;
        }
        CHECK(r == 0 && s.n_rows == 20000 && bad == 0, "many.csv: r %d, %zu rows, %d bad", r, s.n_rows, bad);
        CHECK(io_csv_stream_next(&s, &e) == 0, "the end again");
        io_csv_stream_close(&s);
        same(p);
    }
    io_csv_stream_close(NULL);
    return wb_test_finish("test_csv_stream");
}
