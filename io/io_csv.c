#include "io/io_csv.h"
#include "io/io_fs.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CSV_MAX_BYTES ((size_t)256 << 20)
#define CSV_MAX_COLS 4096
#define CSV_MAX_FIELD ((size_t)1 << 20)

void io_csv_free(io_csv *csv)
{
    if (!csv) return;
    free(csv->path);
    free(csv->header);
    free(csv->cells);
    free(csv->lines);
    free(csv->buf);
    memset(csv, 0, sizeof *csv);
}

/* A growing array of field offsets (into buf) for the whole file: offsets, not pointers, so
 * that buf can shrink to what it holds once the file is read (and 4 bytes a cell, not 8: the
 * 256 MiB cap keeps every offset below 2^32). */
typedef struct fields {
    uint32_t *v;
    size_t n, cap;
} fields;

/* A NUL byte would cut the cell short when it is read as a C string: refused at its line and
 * column (counted from the last line break, also inside a quoted field). */
static int nul_byte(const char *src, size_t i, int line, const char *path, wb_error *err)
{
    size_t c = i;
    while (c > 0 && src[c - 1] != '\n') c--;
    return wb_err_at(err, WB_E_DATA, path, line, (int)(i - c + 1), NULL,
                     "NUL byte in a field (is this a text CSV file?)");
}

static int push_field(fields *f, size_t off)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 256;
        uint32_t *v = realloc(f->v, cap * sizeof *v);
        if (!v) return -1;
        f->v = v;
        f->cap = cap;
    }
    f->v[f->n++] = (uint32_t)off;
    return 0;
}

int io_csv_read(const char *path, io_csv *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    FILE *fp = io_fs_fopen_input(path, 0, NULL, err); /* regular files only: no FIFO hang */
    if (!fp) return -1;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return wb_err(err, WB_E_IO, path, "not a regular file");
    }
    if ((size_t)st.st_size > CSV_MAX_BYTES) {
        fclose(fp);
        return wb_err(err, WB_E_DATA, path, "file too large (%lld bytes; the limit is 256 MiB)", (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    char *src = malloc(size + 1);
    if (!src) {
        fclose(fp);
        return wb_err(err, WB_E_NOMEM, path, "out of memory");
    }
    size_t got = fread(src, 1, size, fp);
    fclose(fp);
    if (got != size) {
        free(src);
        return wb_err(err, WB_E_IO, path, "read %zu of %zu bytes", got, size);
    }
    src[size] = '\0';
    int rc = io_csv_parse(src, size, path, out, err);
    free(src);
    return rc;
}

int io_csv_parse(const char *src, size_t size, const char *path, io_csv *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    if (size > CSV_MAX_BYTES)
        return wb_err(err, WB_E_DATA, path, "too large (%zu bytes; the limit is 256 MiB)", size);
    /* Fields are unescaped into buf; each ends with a NUL, so buf needs at most size + fields. */
    char *buf = malloc(2 * size + 2);
    fields f = {0};
    int *lines = NULL;
    size_t n_lines_cap = 0, n_rows_total = 0, n_cols = 0;
    int rc = -1;
    if (!buf) {
        wb_err(err, WB_E_NOMEM, path, "out of memory");
        goto done;
    }
    size_t i = 0, o = 0;
    int line = 1;
    if (size >= 3 && (unsigned char)src[0] == 0xEF && (unsigned char)src[1] == 0xBB && (unsigned char)src[2] == 0xBF) i = 3;
    while (i < size) {
        /* one record */
        int rec_line = line;
        size_t col = 0, line_start = i;
        if (src[i] == '\n' || (src[i] == '\r' && i + 1 < size && src[i + 1] == '\n')) { /* blank line */
            i += src[i] == '\r' ? 2 : 1;
            line++;
            continue;
        }
        for (;;) {
            const size_t start = o;
            size_t flen = 0;
            if (i < size && src[i] == '"') {
                size_t qcol = i - line_start + 1;
                int qline = line;
                i++;
                for (;;) {
                    if (i >= size) {
                        wb_err_at(err, WB_E_DATA, path, qline, (int)qcol, NULL, "unterminated quoted field");
                        goto done;
                    }
                    if (src[i] == '"') {
                        if (i + 1 < size && src[i + 1] == '"') {
                            buf[o++] = '"';
                            i += 2;
                        } else {
                            i++;
                            break;
                        }
                    } else {
                        if (src[i] == '\0') {
                            nul_byte(src, i, line, path, err);
                            goto done;
                        }
                        if (src[i] == '\n') line++;
                        buf[o++] = src[i++];
                    }
                    if (++flen > CSV_MAX_FIELD) {
                        wb_err_at(err, WB_E_DATA, path, qline, (int)qcol, NULL, "field longer than 1 MiB");
                        goto done;
                    }
                }
                if (i < size && src[i] != ',' && src[i] != '\n' && src[i] != '\r') {
                    wb_err_at(err, WB_E_DATA, path, line, (int)(i - line_start + 1), NULL,
                              "unexpected character after a closing quote");
                    goto done;
                }
            } else {
                const size_t fcol = i - line_start + 1; /* where this field starts */
                while (i < size && src[i] != ',' && src[i] != '\n' && !(src[i] == '\r' && (i + 1 >= size || src[i + 1] == '\n'))) {
                    if (src[i] == '"') {
                        wb_err_at(err, WB_E_DATA, path, line, (int)(i - line_start + 1), NULL,
                                  "quote inside an unquoted field (quote the whole field and double the quote)");
                        goto done;
                    }
                    if (src[i] == '\0') {
                        nul_byte(src, i, line, path, err);
                        goto done;
                    }
                    buf[o++] = src[i++];
                    if (++flen > CSV_MAX_FIELD) {
                        wb_err_at(err, WB_E_DATA, path, line, (int)fcol, NULL, "field longer than 1 MiB");
                        goto done;
                    }
                }
            }
            buf[o++] = '\0';
            if (push_field(&f, start) != 0) {
                wb_err(err, WB_E_NOMEM, path, "out of memory");
                goto done;
            }
            col++;
            if (col > CSV_MAX_COLS) {
                wb_err_at(err, WB_E_DATA, path, rec_line, 0, NULL, "more than 4096 columns");
                goto done;
            }
            if (i < size && src[i] == ',') {
                i++;
                continue;
            }
            break;
        }
        if (i < size && src[i] == '\r') i++;
        if (i < size && src[i] == '\n') i++;
        line++;
        if (n_rows_total == 0) {
            n_cols = col;
        } else if (col != n_cols) {
            wb_err_at(err, WB_E_DATA, path, rec_line, 0, NULL, "row has %zu field(s), the header has %zu", col, n_cols);
            goto done;
        }
        if (n_rows_total == n_lines_cap) {
            n_lines_cap = n_lines_cap ? n_lines_cap * 2 : 256;
            int *l = realloc(lines, n_lines_cap * sizeof *l);
            if (!l) {
                wb_err(err, WB_E_NOMEM, path, "out of memory");
                goto done;
            }
            lines = l;
        }
        lines[n_rows_total++] = rec_line;
    }
    if (n_rows_total == 0) {
        wb_err(err, WB_E_DATA, path, "empty file: expected a header row");
        goto done;
    }
    /* buf, the cells and the lines shrink to what they hold (a shrinking realloc that fails
     * leaves the block as it was) */
    {
        char *b = realloc(buf, o ? o : 1);
        if (b) buf = b;
    }
    out->path = malloc(strlen(path) + 1);
    out->header = malloc(n_cols * sizeof *out->header);
    if (!out->path || !out->header) {
        wb_err(err, WB_E_NOMEM, path, "out of memory");
        goto done;
    }
    strcpy(out->path, path);
    for (size_t c = 0; c < n_cols; c++) out->header[c] = buf + f.v[c];
    memmove(f.v, f.v + n_cols, (f.n - n_cols) * sizeof *f.v);
    {
        uint32_t *v = realloc(f.v, (f.n - n_cols + 1) * sizeof *v);
        if (v) f.v = v;
    }
    out->cells = f.v;
    f.v = NULL;
    out->header_line = lines[0];
    memmove(lines, lines + 1, (n_rows_total - 1) * sizeof *lines);
    {
        int *l = realloc(lines, (n_rows_total - 1 + 1) * sizeof *l);
        if (l) lines = l;
    }
    out->lines = lines;
    lines = NULL;
    out->n_cols = n_cols;
    out->n_rows = n_rows_total - 1;
    out->buf = buf;
    buf = NULL;
    for (size_t a = 0; a < n_cols; a++)
        for (size_t b = 0; b < a; b++)
            if (!strcmp(out->header[a], out->header[b])) {
                wb_err_at(err, WB_E_DATA, path, out->header_line, 0, NULL, "column '%s' appears twice in the header", out->header[a]);
                goto done;
            }
    rc = 0;
done:
    free(buf);
    free(f.v);
    free(lines);
    if (rc) io_csv_free(out);
    return rc;
}

long io_csv_column(const io_csv *csv, const char *name, wb_error *err)
{
    for (size_t c = 0; c < csv->n_cols; c++)
        if (!strcmp(csv->header[c], name)) return (long)c;
    char list[1024] = "";
    for (size_t c = 0; c < csv->n_cols; c++) {
        size_t l = strlen(list);
        if (l + 4 >= sizeof list) break;
        snprintf(list + l, sizeof list - l, "%s%s", c ? ", " : "", csv->header[c]);
    }
    wb_err_at(err, WB_E_DATA, csv->path, csv->header_line ? csv->header_line : 1, 0, NULL, "no column '%s' (the header has: %s)", name, list);
    return -1;
}

const char *io_csv_cell(const io_csv *csv, size_t row, long col)
{
    if (row >= csv->n_rows || col < 0 || (size_t)col >= csv->n_cols) return NULL;
    return csv->buf + csv->cells[row * csv->n_cols + (size_t)col];
}
