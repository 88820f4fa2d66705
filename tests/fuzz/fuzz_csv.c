/* fuzz_csv.c — io_csv_read on arbitrary bytes (through a scratch file), then the column
 * lookup (with its nearest-name suggestion) and every cell; then io_csv_stream on the same
 * file at a 5-byte chunk, and io_csv_read_rows keeping every row, which must give the same rows
 * or the same error (abort otherwise). */
#include <stdlib.h>

#include "fuzz_common.h"
#include "io/io_csv.h"

static void stream_same(const char *path, int rc, const io_csv *csv, const wb_error *e1)
{
    io_csv_stream s;
    wb_error e2;
    int r = io_csv_stream_open_chunk(path, 5, &s, &e2);
    size_t row = 0;
    if (r == 0) {
        if (rc == 0 && (s.head.n_cols != csv->n_cols || s.head.header_line != csv->header_line)) abort();
        while ((r = io_csv_stream_next(&s, &e2)) == 1) {
            if (rc != 0) continue;
            if (row >= csv->n_rows || s.line != csv->lines[row]) abort();
            for (size_t c = 0; c < csv->n_cols; c++)
                if (strcmp(io_csv_stream_cell(&s, (long)c), io_csv_cell(csv, row, (long)c))) abort();
            row++;
        }
    }
    io_csv_stream_close(&s);
    if (rc == 0 && (r != 0 || row != csv->n_rows)) abort();
    if (rc != 0 && (r != -1 || e2.code != e1->code || e2.line != e1->line || e2.col != e1->col ||
                    strcmp(e2.msg, e1->msg) || strcmp(e2.file, e1->file)))
        abort();
    /* io_csv_read_rows keeping every row: the same rows, lines and cells, or the same error */
    io_csv k;
    wb_error e3;
    r = io_csv_read_rows(path, NULL, NULL, &k, &e3);
    if (r != rc || (rc != 0 && (e3.code != e1->code || e3.line != e1->line || e3.col != e1->col || strcmp(e3.msg, e1->msg))))
        abort();
    if (rc == 0) {
        if (k.n_rows != csv->n_rows || k.n_cols != csv->n_cols || k.header_line != csv->header_line) abort();
        for (size_t c = 0; c < csv->n_cols; c++)
            if (strcmp(k.header[c], csv->header[c])) abort();
        for (size_t row2 = 0; row2 < csv->n_rows; row2++) {
            if (k.lines[row2] != csv->lines[row2]) abort();
            for (size_t c = 0; c < csv->n_cols; c++)
                if (strcmp(io_csv_cell(&k, row2, (long)c), io_csv_cell(csv, row2, (long)c))) abort();
        }
        io_csv_free(&k);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("labels.csv", data, size);
    if (!path) return 0;
    io_csv csv;
    wb_error err;
    int rc = io_csv_read(path, &csv, &err);
    wb_error e1 = err;
    if (rc == 0) {
        long col = io_csv_column(&csv, "label", &err);
        volatile size_t len = 0;
        for (size_t c = 0; c < csv.n_cols; c++) len += strlen(csv.header[c]);
        for (size_t r = 0; r < csv.n_rows; r++) {
            if (col >= 0) len += strlen(io_csv_cell(&csv, r, col));
            for (size_t c = 0; c < csv.n_cols; c++) len += strlen(io_csv_cell(&csv, r, (long)c));
        }
        (void)len;
    }
    stream_same(path, rc, &csv, &e1);
    if (rc == 0) io_csv_free(&csv);
    return 0;
}
