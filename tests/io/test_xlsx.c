/* io_xlsx: workbooks written by openpyxl and by hand (tests/io/make_xlsx_fixtures.py) give the
 * cells of their first sheet, compared with the CSV the script wrote from the same values; the
 * sheet's row numbers are the table's line numbers; damaged workbooks are refused, naming the
 * file and the part. Args: DATA_DIR (tests/io/data/xlsx) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_fs.h"
#include "io/io_xlsx.h"
#include "wb_test.h"

static const char *g_dir;

static const char *path_of(const char *name)
{
    static char p[2][1024];
    static int k;
    k ^= 1;
    snprintf(p[k], sizeof p[k], "%s/%s", g_dir, name);
    return p[k];
}

/* Every header name and cell of name.xlsx against name.expected.csv. */
static void same_table(const char *name)
{
    char a[256], b[256];
    snprintf(a, sizeof a, "%s.xlsx", name);
    snprintf(b, sizeof b, "%s.expected.csv", name);
    io_csv x, want;
    wb_error err;
    wb_error_clear(&err);
    int rc = io_xlsx_read(path_of(a), &x, &err);
    CHECK(rc == 0, "%s: %s", a, err.msg);
    CHECK(io_csv_read(path_of(b), &want, &err) == 0, "%s: %s", b, err.msg);
    if (rc) {
        io_csv_free(&want);
        return;
    }
    CHECK_EQ_INT((int)x.n_cols, (int)want.n_cols, "columns");
    CHECK_EQ_INT((int)x.n_rows, (int)want.n_rows, "rows");
    for (size_t c = 0; c < x.n_cols && c < want.n_cols; c++) CHECK_STR(x.header[c], want.header[c], "header");
    for (size_t r = 0; r < x.n_rows && r < want.n_rows; r++)
        for (size_t c = 0; c < x.n_cols && c < want.n_cols; c++)
            CHECK_STR(io_csv_cell(&x, r, (long)c), io_csv_cell(&want, r, (long)c), name);
    io_csv_free(&x);
    io_csv_free(&want);
}

static void refused(const unsigned char *buf, size_t n, const char *what, const char *want)
{
    io_csv x;
    wb_error err;
    wb_error_clear(&err);
    CHECK(io_xlsx_parse(buf, n, "t.xlsx", &x, &err) != 0, "%s: accepted", what);
    char msg[2400];
    wb_error_format(&err, msg, sizeof msg);
    CHECK_CONTAINS(msg, want, what);
    CHECK_EQ_INT(err.code, WB_E_DATA, what);
}

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    g_dir = argv[1];
    same_table("openpyxl");
    same_table("edge");

    /* the sheet's row N is the table's line N (edge.xlsx: header on row 2, data rows 3 and 5) */
    io_csv x;
    wb_error err;
    if (io_xlsx_read(path_of("edge.xlsx"), &x, &err) == 0) {
        CHECK_EQ_INT(x.lines[0], 3, "first data row's line");
        CHECK_EQ_INT(x.lines[1], 5, "second data row's line (row 4 absent)");
        CHECK_EQ_INT(x.header_line, 2, "the header's line");
        wb_error_clear(&err);
        CHECK(io_csv_column(&x, "abnormality", &err) < 0, "no such column");
        CHECK_CONTAINS(err.msg, "no column 'abnormality'", "missing column");
        CHECK_EQ_INT(err.line, 2, "a missing column is reported at the header's line");
        io_csv_free(&x);
    }

    unsigned char *buf = NULL;
    size_t n = 0;
    CHECK(io_file_read_all(path_of("edge.xlsx"), 1 << 20, &buf, &n, &err) == 0, "read edge.xlsx");
    if (buf) {
        refused(buf, 10, "too short", "t.xlsx: not an .xlsx workbook (too short for a ZIP file)");
        refused(buf, n - 30, "cut short", "t.xlsx: not an .xlsx workbook (no ZIP end-of-directory record)");
        /* a byte of the stored sheet changed: its CRC-32 fails */
        unsigned char *v = NULL;
        for (size_t i = 0; i + 5 <= n && !v; i++)
            if (!memcmp(buf + i, "value", 5)) v = buf + i;
        CHECK(v != NULL, "the stored sheet's text is in the file");
        if (v) {
            v[0] = 'V';
            refused(buf, n, "changed byte", "t.xlsx: damaged ZIP: xl/worksheets/sheetA.xml fails its CRC-32");
            v[0] = 'v';
        }
        /* the central directory's offset pointed past the file */
        for (size_t i = n - 22;; i--) {
            if (buf[i] == 0x50 && buf[i + 1] == 0x4b && buf[i + 2] == 5 && buf[i + 3] == 6) {
                unsigned char keep = buf[i + 19];
                buf[i + 19] = 0x7f;
                refused(buf, n, "directory outside", "damaged ZIP: the central directory lies outside the file");
                buf[i + 19] = keep;
                break;
            }
            if (i == 0) break;
        }
        free(buf);
    }
    const char *bad[][2] = {
        {"entity.xlsx", "entity.xlsx[xl/sharedStrings.xml]:2:"},
        {"beyond.xlsx", "beyond.xlsx[xl/worksheets/sheet1.xml]:1:"},
        {"badindex.xlsx", "shared string index '7'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wb_error_clear(&err);
        CHECK(io_xlsx_read(path_of(bad[i][0]), &x, &err) != 0, "%s: accepted", bad[i][0]);
        char msg[2400];
        wb_error_format(&err, msg, sizeof msg);
        CHECK_CONTAINS(msg, bad[i][1], bad[i][0]);
    }
    wb_error_clear(&err);
    CHECK(io_xlsx_read(path_of("openpyxl.expected.csv"), &x, &err) != 0, "a CSV is not a workbook");
    return wb_test_finish("io.xlsx");
}
