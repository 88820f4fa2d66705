/* The CSV reader: quoting, CRLF, BOM, blank lines, and every error with its line:column. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_csv.h"
#include "wb_test.h"

static const char *g_tmp;

static const char *write_tmp(const char *name, const char *text, size_t n)
{
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s", g_tmp, name);
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, n, f);
    fclose(f);
    return path;
}

static void bad_n(const char *name, const char *text, size_t n, const char *want)
{
    const char *p = write_tmp(name, text, n);
    io_csv c;
    wb_error err;
    wb_error_clear(&err);
    CHECK(io_csv_read(p, &c, &err) != 0, "%s: accepted", name);
    char msg[2400];
    wb_error_format(&err, msg, sizeof msg);
    CHECK_CONTAINS(msg, want, name);
    CHECK_CONTAINS(msg, name, "names the file");
    CHECK(c.cells == NULL && c.n_rows == 0, "%s: output left behind", name);
}

static void bad(const char *name, const char *text, const char *want) { bad_n(name, text, strlen(text), want); }

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    g_tmp = argv[1];
    const char good[] = "\xEF\xBB\xBF" "file,label,note\r\n"
                        "a.dcm,malignant,\"has, comma\"\r\n"
                        "\r\n"
                        "b.dcm,normal,\"say \"\"hi\"\"\nover two lines\"\n"
                        "c.dcm,benign,";
    const char *p = write_tmp("good.csv", good, sizeof good - 1);
    io_csv c;
    wb_error err;
    int rc = io_csv_read(p, &c, &err);
    CHECK(rc == 0, "good.csv: %s", err.msg);
    if (rc == 0) {
        CHECK_EQ_INT(c.n_cols, 3, "columns");
        CHECK_EQ_INT(c.n_rows, 3, "rows");
        CHECK_STR(c.header[0], "file", "BOM skipped");
        long lc = io_csv_column(&c, "label", &err), nc = io_csv_column(&c, "note", &err);
        CHECK_EQ_INT(lc, 1, "label column");
        CHECK_STR(io_csv_cell(&c, 0, nc), "has, comma", "quoted comma");
        CHECK_STR(io_csv_cell(&c, 1, nc), "say \"hi\"\nover two lines", "escaped quotes and newline");
        CHECK_STR(io_csv_cell(&c, 2, nc), "", "empty last field");
        CHECK_STR(io_csv_cell(&c, 2, lc), "benign", "last row without newline");
        CHECK_EQ_INT(c.lines[0], 2, "line of row 1");
        CHECK_EQ_INT(c.lines[1], 4, "line of row 2 (blank line skipped)");
        CHECK_EQ_INT(c.lines[2], 6, "line of row 3 (after a two-line field)");
        CHECK(io_csv_cell(&c, 3, 0) == NULL && io_csv_cell(&c, 0, 7) == NULL, "out of range cells");
        CHECK_EQ_INT(io_csv_column(&c, "lable", &err), -1, "missing column");
        CHECK_CONTAINS(err.msg, "no column 'lable' (the header has: file, label, note)", "column message");
        io_csv_free(&c);
    }
    bad("fields.csv", "a,b\n1,2\n1,2,3\n", "fields.csv:3: row has 3 field(s), the header has 2");
    bad("quote.csv", "a,b\n1,\"open\n", "quote.csv:2:3: unterminated quoted field");
    bad("after.csv", "a,b\n\"x\"y,2\n", "after.csv:2:4: unexpected character after a closing quote");
    bad("inner.csv", "a,b\nx\"y,2\n", "inner.csv:2:2: quote inside an unquoted field");
    bad("empty.csv", "", "empty.csv: empty file");
    bad("dup.csv", "a,a\n1,2\n", "dup.csv:1: column 'a' appears twice");
    /* a NUL byte used to end the cell silently ("x\0y" read as "x"): refused where it is */
    bad_n("nul.csv", "a,b\nx\0y,2\n", 10, "nul.csv:2:2: NUL byte in a field");
    bad_n("nulq.csv", "a,b\n1,\"x\ny\0z\"\n", 14, "nulq.csv:3:2: NUL byte in a field");
    bad_n("nulh.csv", "a\0,b\n1,2\n", 9, "nulh.csv:1:2: NUL byte in a field");
    io_csv none;
    CHECK(io_csv_read("/nonexistent/x.csv", &none, &err) != 0 && err.code == WB_E_IO, "missing file");
    {
        /* issue 15: an over-long field is reported where it starts (it said column 1) */
        size_t n = 40 + ((size_t)1 << 20);
        char *t = malloc(n + 1);
        CHECK(t != NULL, "malloc");
        if (t) {
            int k = snprintf(t, n + 1, "file,label,note\na.dcm,x,");
            memset(t + k, 'a', n - (size_t)k);
            t[n] = '\0';
            bad("long.csv", t, "long.csv:2:9: field longer than 1 MiB");
            free(t);
        }
        /* special files: refused at once, never read (a FIFO would block, /dev/zero never end) */
        char fifo[1024];
        snprintf(fifo, sizeof fifo, "%s/fifo.csv", g_tmp);
        remove(fifo);
        CHECK(mkfifo(fifo, 0600) == 0, "mkfifo %s", fifo);
        CHECK(io_csv_read(fifo, &none, &err) != 0 && err.code == WB_E_IO, "FIFO accepted");
        CHECK_CONTAINS(err.msg, "is a FIFO (named pipe), not a regular file", "FIFO");
        CHECK(io_csv_read("/dev/zero", &none, &err) != 0 && err.code == WB_E_IO, "/dev/zero");
        CHECK_CONTAINS(err.msg, "is a character device, not a regular file", "/dev/zero");
    }
    io_csv_free(NULL);
    return wb_test_finish("test_csv");
}
