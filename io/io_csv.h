/* io_csv.h — a strict CSV reader (RFC 4180: quoted fields, "" escapes, CRLF or LF) for
 * labels and manifests.
 *
 *     io_csv csv;
 *     if (io_csv_read("labels.csv", &csv, &err) != 0) ...    // "labels.csv:7:12: unterminated quote"
 *     long col = io_csv_column(&csv, "label", &err);        // -1: "labels.csv:1: no column 'label'"
 *     for (size_t r = 0; r < csv.n_rows; r++) puts(io_csv_cell(&csv, r, col));
 *     io_csv_free(&csv);
 *
 * The first row is the header. Every row must have as many fields as the header; blank
 * lines are skipped; a UTF-8 byte-order mark is skipped. Caps: 256 MiB per file, 4096
 * columns, 1 MiB per field. Errors name the file, the line and the column (1-based).
 * Memory: the text of the cells once (NUL-terminated) and 4 bytes per cell; the file itself
 * (io_csv_read) only while it is parsed.
 */
#ifndef IO_CSV_H
#define IO_CSV_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct io_csv {
    char *path;          /* owned copy, for messages */
    char **header;       /* n_cols names */
    size_t n_cols;
    uint32_t *cells;     /* n_rows * n_cols offsets into buf, row-major (io_csv_cell); owned */
    int *lines;          /* source line of each row */
    int header_line;     /* the header's line (1 unless blank lines come first) */
    size_t n_rows;
    char *buf;           /* storage of all strings */
} io_csv;

int io_csv_read(const char *path, io_csv *out, wb_error *err);
/* The same from text in memory (src[0..size), NUL bytes inside are an error); path names it in
 * messages. io_xlsx_read turns a worksheet into such text, one line per sheet row. */
int io_csv_parse(const char *src, size_t size, const char *path, io_csv *out, wb_error *err);
void io_csv_free(io_csv *csv); /* NULL and a zeroed struct are fine */
/* Index of the column called name, or -1 with an error that lists the columns and
 * suggests the nearest. */
long io_csv_column(const io_csv *csv, const char *name, wb_error *err);
const char *io_csv_cell(const io_csv *csv, size_t row, long col);

#ifdef __cplusplus
}
#endif
#endif
