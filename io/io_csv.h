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
 *
 * The same file a row at a time (io_csv_stream), for files read once from top to bottom
 * (a run's predictions.csv): memory is a 64 KiB chunk of the file, the header and the longest
 * row, whatever the number of rows.
 *
 *     io_csv_stream s;
 *     if (io_csv_stream_open("predictions.csv", &s, &err) != 0) ...;
 *     long col = io_csv_column(&s.head, "score", &err);     // the header as an io_csv
 *     int r;
 *     while ((r = io_csv_stream_next(&s, &err)) == 1) printf("%d %s\n", s.line, io_csv_stream_cell(&s, col));
 *     io_csv_stream_close(&s);
 *     if (r < 0) ...;                                        // the error io_csv_read gives
 *
 * Both readers run the one parser, so a file io_csv_read refuses makes the stream fail with
 * the same error (and the rows before it are those io_csv_read would have given); a file it
 * accepts gives the same rows, lines and cells. Errors a whole-file read finds only at the end
 * (a header naming a column twice) come at the end of the stream. One difference: a file that
 * shrinks after it is opened is "read N of M bytes" for io_csv_read at once, for the stream
 * when it reaches the missing bytes (a malformed row before them is reported first).
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

typedef struct io_csv_stream {
    io_csv head;  /* path, header, n_cols, header_line (n_rows 0): for io_csv_column; owned */
    size_t n_rows; /* rows returned so far */
    int line;      /* the source line of the current row */
    struct io_csv_stream_state *st; /* private */
} io_csv_stream;

/* Opens path (a regular file, at most 256 MiB, as io_csv_read) and reads its header. On
 * failure s is zeroed (io_csv_stream_close is still fine). io_csv_stream_close frees it. */
int io_csv_stream_open(const char *path, io_csv_stream *s, wb_error *err);
/* The same with a chunk of the given size in bytes (at least 4): for tests of rows, quotes,
 * CRLF and UTF-8 sequences that cross a chunk's end. */
int io_csv_stream_open_chunk(const char *path, size_t chunk, io_csv_stream *s, wb_error *err);
/* The next row: 1 (io_csv_stream_cell and s->line give it), 0 at the end of a file that
 * io_csv_read would accept, -1 with err set (then, and after 0, call it no more). */
int io_csv_stream_next(io_csv_stream *s, wb_error *err);
/* The current row's cell (valid until the next call), NULL for a column out of range. */
const char *io_csv_stream_cell(const io_csv_stream *s, long col);
void io_csv_stream_close(io_csv_stream *s); /* NULL and a zeroed struct are fine */

/* path read a row at a time (io_csv_stream, io_csv_read's errors) into an io_csv that holds
 * only the rows keep accepts (all of them when keep is NULL), with their source lines and the
 * file's header and header_line, so io_csv_column and io_csv_cell work as on the whole file.
 * keep gives 1 (keep the row), 0 (skip it) or -1 (stop: the error is err). Memory: the kept
 * rows and a chunk of the file. For a cohort-sized file of which a command needs a few rows
 * (explain: the rows of the images it explains). */
typedef int (*io_csv_keep_fn)(void *ctx, const io_csv_stream *s, wb_error *err);
int io_csv_read_rows(const char *path, io_csv_keep_fn keep, void *ctx, io_csv *out, wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
