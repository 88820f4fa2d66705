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
#define CSV_CHUNK ((size_t)64 << 10)

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

/* ---- the parser's input: a window over the bytes ----
 * io_csv_parse's window is the whole text; a stream's is a chunk of the file, refilled when the
 * parser looks past its end (it looks at most 3 bytes ahead: the BOM). Positions in messages
 * are absolute (base + i), so both give the same line:column for the same bytes. */
typedef struct csv_in {
    const char *s;   /* s[0..n) are the bytes at offsets base .. base + n */
    size_t n, i;     /* i: the next byte to read, in s */
    size_t base;
    int more;        /* 1: the file has bytes beyond the window */
    const char *path;
    int line;        /* the line of the next byte (1-based) */
    size_t nl_end;   /* offset just after the last line break read (0 before the first) */
    /* a stream's file */
    FILE *fp;
    char *chunk;
    size_t cap;      /* chunk's size */
    size_t size;     /* the file's size at open (fstat); no more is read */
    size_t got;      /* bytes read so far */
    int short_read;  /* the file ended (or failed) before size bytes */
} csv_in;

static void csv_refill(csv_in *in, size_t need)
{
    memmove(in->chunk, in->s + in->i, in->n - in->i);
    in->base += in->i;
    in->n -= in->i;
    in->i = 0;
    in->s = in->chunk;
    while (in->n < need && in->more) {
        size_t want = in->cap - in->n, left = in->size - in->got;
        if (want > left) want = left;
        size_t k = want ? fread(in->chunk + in->n, 1, want, in->fp) : 0;
        in->n += k;
        in->got += k;
        if (in->got == in->size) in->more = 0;
        else if (k == 0) in->more = 0, in->short_read = 1;
    }
}

/* The byte k places ahead (0..255), or -1 past the end of the input. */
static inline int csv_at(csv_in *in, size_t k)
{
    if (in->i + k >= in->n) {
        if (!in->more) return -1;
        csv_refill(in, k + 1);
        if (in->i + k >= in->n) return -1;
    }
    return (unsigned char)in->s[in->i + k];
}

static inline size_t csv_pos(const csv_in *in) { return in->base + in->i; }

/* Reads one byte (there is one: the caller has looked at it). */
static inline int csv_take(csv_in *in)
{
    int c = (unsigned char)in->s[in->i++];
    if (c == '\n') in->nl_end = in->base + in->i;
    return c;
}

/* ---- the parser's output: the unescaped text of the fields, each NUL-terminated, and their
 * offsets in it. io_csv_parse sizes buf for the whole text at once (never grows); a stream
 * keeps one record and grows buf to the longest. Offsets, not pointers, so that buf can move;
 * 4 bytes each: the 256 MiB cap keeps every offset below 2^32. */
typedef struct csv_out {
    char *buf;
    size_t o, cap;
    uint32_t *v; /* field offsets */
    size_t n, vcap;
} csv_out;

static int csv_put(csv_out *out, char c)
{
    if (out->o == out->cap) {
        size_t cap = out->cap ? 2 * out->cap : 256;
        char *b = realloc(out->buf, cap);
        if (!b) return -1;
        out->buf = b;
        out->cap = cap;
    }
    out->buf[out->o++] = c;
    return 0;
}

static int push_field(csv_out *f, size_t off)
{
    if (f->n == f->vcap) {
        size_t cap = f->vcap ? f->vcap * 2 : 256;
        uint32_t *v = realloc(f->v, cap * sizeof *v);
        if (!v) return -1;
        f->v = v;
        f->vcap = cap;
    }
    f->v[f->n++] = (uint32_t)off;
    return 0;
}

/* The fast path of both field loops: copies the bytes from the window's next one up to (not
 * including) the first that needs a look (a quote, a line break, NUL; in an unquoted field also
 * a comma and a CR) or the window's end; at most
 * CSV_MAX_FIELD + 1 - *flen of them, so that the byte over the cap is still the first seen.
 * None of them is a line break: positions and lines are unchanged. Returns -1 out of memory. */
static int csv_span(csv_in *in, csv_out *out, int quoted, size_t *flen)
{
    const char *p = in->s + in->i, *end = in->s + in->n;
    size_t max = CSV_MAX_FIELD + 1 - *flen, k = 0;
    while (p + k < end && k < max) {
        const char c = p[k];
        if (c == '"' || c == '\n' || c == '\0' || (!quoted && (c == ',' || c == '\r'))) break;
        k++;
    }
    if (!k) return 0;
    if (out->cap - out->o < k) {
        size_t cap = out->cap ? out->cap : 256;
        while (cap - out->o < k) cap *= 2;
        char *b = realloc(out->buf, cap);
        if (!b) return -1;
        out->buf = b;
        out->cap = cap;
    }
    memcpy(out->buf + out->o, p, k);
    out->o += k;
    in->i += k;
    *flen += k;
    return 0;
}

/* A NUL byte would cut the cell short when it is read as a C string: refused at its line and
 * column (counted from the last line break, also inside a quoted field). */
static int nul_byte(const csv_in *in, wb_error *err)
{
    return wb_err_at(err, WB_E_DATA, in->path, in->line, (int)(csv_pos(in) - in->nl_end + 1), NULL,
                     "NUL byte in a field (is this a text CSV file?)");
}

/* Skips a UTF-8 byte-order mark at the start of the input. */
static void csv_bom(csv_in *in)
{
    if (csv_at(in, 0) == 0xEF && csv_at(in, 1) == 0xBB && csv_at(in, 2) == 0xBF) in->i += 3;
}

/* The next record (blank lines skipped): its fields appended to out, its line in *rec_line,
 * its field count in *n_fields. want: the header's field count (0 for the header itself: no
 * check). Returns 1 with a record, 0 at the end of the input, -1 with err set. The one parser
 * of both io_csv_parse and io_csv_stream. */
static int csv_record(csv_in *in, csv_out *out, size_t want, int *rec_line, size_t *n_fields, wb_error *err)
{
    const char *path = in->path;
    int c;
    for (;;) { /* blank lines */
        c = csv_at(in, 0);
        if (c == '\n') {
            csv_take(in);
            in->line++;
        } else if (c == '\r' && csv_at(in, 1) == '\n') {
            csv_take(in);
            csv_take(in);
            in->line++;
        } else {
            break;
        }
    }
    if (c < 0) return 0;
    *rec_line = in->line;
    size_t col = 0;
    const size_t line_start = csv_pos(in);
    for (;;) {
        const size_t start = out->o;
        size_t flen = 0;
        if (csv_at(in, 0) == '"') {
            size_t qcol = csv_pos(in) - line_start + 1;
            int qline = in->line;
            csv_take(in);
            for (;;) {
                if (csv_span(in, out, 1, &flen)) goto nomem;
                if (flen > CSV_MAX_FIELD)
                    return wb_err_at(err, WB_E_DATA, path, qline, (int)qcol, NULL, "field longer than 1 MiB");
                c = csv_at(in, 0);
                if (c < 0) return wb_err_at(err, WB_E_DATA, path, qline, (int)qcol, NULL, "unterminated quoted field");
                if (c == '"') {
                    if (csv_at(in, 1) == '"') {
                        if (csv_put(out, '"')) goto nomem;
                        csv_take(in);
                        csv_take(in);
                    } else {
                        csv_take(in);
                        break;
                    }
                } else {
                    if (c == 0) return nul_byte(in, err);
                    if (c == '\n') in->line++;
                    if (csv_put(out, (char)csv_take(in))) goto nomem;
                }
                if (++flen > CSV_MAX_FIELD)
                    return wb_err_at(err, WB_E_DATA, path, qline, (int)qcol, NULL, "field longer than 1 MiB");
            }
            c = csv_at(in, 0);
            if (c >= 0 && c != ',' && c != '\n' && c != '\r')
                return wb_err_at(err, WB_E_DATA, path, in->line, (int)(csv_pos(in) - line_start + 1), NULL,
                                 "unexpected character after a closing quote");
        } else {
            const size_t fcol = csv_pos(in) - line_start + 1; /* where this field starts */
            for (;;) {
                if (csv_span(in, out, 0, &flen)) goto nomem;
                if (flen > CSV_MAX_FIELD)
                    return wb_err_at(err, WB_E_DATA, path, in->line, (int)fcol, NULL, "field longer than 1 MiB");
                c = csv_at(in, 0);
                if (c < 0 || c == ',' || c == '\n') break;
                if (c == '\r') {
                    int d = csv_at(in, 1);
                    if (d < 0 || d == '\n') break;
                }
                if (c == '"')
                    return wb_err_at(err, WB_E_DATA, path, in->line, (int)(csv_pos(in) - line_start + 1), NULL,
                                     "quote inside an unquoted field (quote the whole field and double the quote)");
                if (c == 0) return nul_byte(in, err);
                if (csv_put(out, (char)csv_take(in))) goto nomem;
                if (++flen > CSV_MAX_FIELD)
                    return wb_err_at(err, WB_E_DATA, path, in->line, (int)fcol, NULL, "field longer than 1 MiB");
            }
        }
        if (csv_put(out, '\0') || push_field(out, start) != 0) goto nomem;
        col++;
        if (col > CSV_MAX_COLS) return wb_err_at(err, WB_E_DATA, path, *rec_line, 0, NULL, "more than 4096 columns");
        if (csv_at(in, 0) == ',') {
            csv_take(in);
            continue;
        }
        break;
    }
    if (csv_at(in, 0) == '\r') csv_take(in);
    if (csv_at(in, 0) == '\n') csv_take(in);
    in->line++;
    if (want && col != want)
        return wb_err_at(err, WB_E_DATA, path, *rec_line, 0, NULL, "row has %zu field(s), the header has %zu", col, want);
    *n_fields = col;
    return 1;
nomem:
    return wb_err(err, WB_E_NOMEM, path, "out of memory");
}

/* The header's names again (a's first duplicate), checked once every row is read: the same
 * order of errors as a whole-file read. */
static int csv_check_header(const io_csv *h, wb_error *err)
{
    for (size_t a = 0; a < h->n_cols; a++)
        for (size_t b = 0; b < a; b++)
            if (!strcmp(h->header[a], h->header[b]))
                return wb_err_at(err, WB_E_DATA, h->path, h->header_line, 0, NULL, "column '%s' appears twice in the header",
                                 h->header[a]);
    return 0;
}

/* Opens path for reading as io_csv_read does: a regular file of at most 256 MiB. */
static FILE *csv_open(const char *path, size_t *size, wb_error *err)
{
    FILE *fp = io_fs_fopen_input(path, 0, NULL, err); /* regular files only: no FIFO hang */
    if (!fp) return NULL;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        wb_err(err, WB_E_IO, path, "not a regular file");
        return NULL;
    }
    if ((size_t)st.st_size > CSV_MAX_BYTES) {
        fclose(fp);
        wb_err(err, WB_E_DATA, path, "file too large (%lld bytes; the limit is 256 MiB)", (long long)st.st_size);
        return NULL;
    }
    *size = (size_t)st.st_size;
    return fp;
}

int io_csv_read(const char *path, io_csv *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    size_t size;
    FILE *fp = csv_open(path, &size, err);
    if (!fp) return -1;
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
    csv_in in = {.s = src, .n = size, .path = path, .line = 1};
    /* Fields are unescaped into buf; each ends with a NUL, so buf needs at most size + fields
     * (csv_put never grows it). */
    csv_out f = {.buf = malloc(2 * size + 2), .cap = 2 * size + 2};
    int *lines = NULL;
    size_t n_lines_cap = 0, n_rows_total = 0, n_cols = 0;
    int rc = -1;
    if (!f.buf) {
        wb_err(err, WB_E_NOMEM, path, "out of memory");
        goto done;
    }
    csv_bom(&in);
    for (;;) {
        int rec_line;
        size_t col;
        int r = csv_record(&in, &f, n_cols, &rec_line, &col, err);
        if (r < 0) goto done;
        if (r == 0) break;
        if (n_rows_total == 0) n_cols = col;
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
        char *b = realloc(f.buf, f.o ? f.o : 1);
        if (b) f.buf = b;
    }
    out->path = malloc(strlen(path) + 1);
    out->header = malloc(n_cols * sizeof *out->header);
    if (!out->path || !out->header) {
        wb_err(err, WB_E_NOMEM, path, "out of memory");
        goto done;
    }
    strcpy(out->path, path);
    for (size_t c = 0; c < n_cols; c++) out->header[c] = f.buf + f.v[c];
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
    out->buf = f.buf;
    f.buf = NULL;
    if (csv_check_header(out, err) != 0) goto done;
    rc = 0;
done:
    free(f.buf);
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

/* ---- the stream ---- */

struct io_csv_stream_state {
    csv_in in;
    csv_out row;  /* the current row's fields */
    int done;     /* the end was reached (or an error returned): next returns what it did */
    int rc_done;
};

/* A short read (the file shrank or failed after fstat) is io_csv_read's error, whatever the
 * parser made of the bytes it got. */
static int csv_stream_short(const io_csv_stream *s, wb_error *err)
{
    const csv_in *in = &s->st->in;
    return wb_err(err, WB_E_IO, in->path, "read %zu of %zu bytes", in->got, in->size);
}

int io_csv_stream_open_chunk(const char *path, size_t chunk, io_csv_stream *s, wb_error *err)
{
    memset(s, 0, sizeof *s);
    if (chunk < 4) chunk = 4; /* the parser looks 3 bytes ahead (a BOM) */
    size_t size;
    FILE *fp = csv_open(path, &size, err);
    if (!fp) return -1;
    struct io_csv_stream_state *st = calloc(1, sizeof *st);
    char *buf = st ? malloc(chunk) : NULL;
    char *p = malloc(strlen(path) + 1);
    if (!st || !buf || !p) {
        fclose(fp);
        free(st);
        free(buf);
        free(p);
        return wb_err(err, WB_E_NOMEM, path, "out of memory");
    }
    strcpy(p, path);
    s->st = st;
    s->head.path = p;
    st->in = (csv_in){.s = buf, .path = p, .line = 1, .fp = fp, .chunk = buf, .cap = chunk, .size = size,
                      .more = size > 0};
    csv_bom(&st->in);
    /* the header: its names kept in head.buf, the row buffer is then the rows' */
    int hl;
    size_t nc;
    int r = csv_record(&st->in, &st->row, 0, &hl, &nc, err);
    if (st->in.short_read) r = csv_stream_short(s, err);
    else if (r == 0) r = wb_err(err, WB_E_DATA, path, "empty file: expected a header row");
    if (r < 0) {
        io_csv_stream_close(s);
        return -1;
    }
    s->head.header = malloc(nc * sizeof *s->head.header);
    if (!s->head.header) {
        io_csv_stream_close(s);
        return wb_err(err, WB_E_NOMEM, path, "out of memory");
    }
    s->head.buf = st->row.buf;
    for (size_t c = 0; c < nc; c++) s->head.header[c] = s->head.buf + st->row.v[c];
    st->row.buf = NULL;
    st->row.o = st->row.cap = 0;
    s->head.n_cols = nc;
    s->head.header_line = hl;
    return 0;
}

int io_csv_stream_open(const char *path, io_csv_stream *s, wb_error *err)
{
    return io_csv_stream_open_chunk(path, CSV_CHUNK, s, err);
}

int io_csv_stream_next(io_csv_stream *s, wb_error *err)
{
    struct io_csv_stream_state *st = s->st;
    if (!st || st->done) return -1 + (st && st->rc_done == 0); /* after the end: 0 again */
    st->row.o = 0;
    st->row.n = 0;
    size_t nc;
    int r = csv_record(&st->in, &st->row, s->head.n_cols, &s->line, &nc, err);
    if (st->in.short_read && r <= 0) r = csv_stream_short(s, err);
    if (r == 0 && csv_check_header(&s->head, err) != 0) r = -1;
    if (r == 1) {
        s->n_rows++;
        return 1;
    }
    st->done = 1;
    st->rc_done = r;
    return r;
}

const char *io_csv_stream_cell(const io_csv_stream *s, long col)
{
    if (!s->st || s->st->done || !s->n_rows || col < 0 || (size_t)col >= s->head.n_cols) return NULL;
    return s->st->row.buf + s->st->row.v[col];
}

void io_csv_stream_close(io_csv_stream *s)
{
    if (!s) return;
    if (s->st) {
        if (s->st->in.fp) fclose(s->st->in.fp);
        free(s->st->in.chunk);
        free(s->st->row.buf);
        free(s->st->row.v);
        free(s->st);
    }
    io_csv_free(&s->head);
    memset(s, 0, sizeof *s);
}

/* ---- a file's rows, some of them kept ---- */

/* Appends s and its NUL to out->buf. */
static int csv_put_str(csv_out *out, const char *s)
{
    const size_t n = strlen(s) + 1;
    if (out->o + n > out->cap) {
        size_t cap = out->cap ? out->cap : 256;
        while (out->o + n > cap) cap *= 2;
        char *b = realloc(out->buf, cap);
        if (!b) return -1;
        out->buf = b;
        out->cap = cap;
    }
    memcpy(out->buf + out->o, s, n);
    out->o += n;
    return 0;
}

int io_csv_read_rows(const char *path, io_csv_keep_fn keep, void *ctx, io_csv *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    io_csv_stream s;
    if (io_csv_stream_open(path, &s, err) != 0) return -1;
    const size_t nc = s.head.n_cols;
    csv_out f = {0}; /* the header's names, then the kept rows' cells (offsets in f.v) */
    int *lines = NULL, r = 0, rc = -1;
    size_t nr = 0, lcap = 0;
    for (size_t c = 0; c < nc && r == 0; c++) r = csv_put_str(&f, s.head.header[c]);
    if (r != 0) goto nomem;
    while ((r = io_csv_stream_next(&s, err)) == 1) {
        const int k = keep ? keep(ctx, &s, err) : 1;
        if (k < 0) goto done;
        if (!k) continue;
        if (nr == lcap) {
            lcap = lcap ? 2 * lcap : 64;
            int *l = realloc(lines, lcap * sizeof *l);
            if (!l) goto nomem;
            lines = l;
        }
        for (size_t c = 0; c < nc; c++) {
            const size_t off = f.o;
            if (csv_put_str(&f, io_csv_stream_cell(&s, (long)c)) != 0 || push_field(&f, off) != 0) goto nomem;
        }
        lines[nr++] = s.line;
    }
    if (r < 0) goto done;
    out->path = malloc(strlen(path) + 1);
    out->header = malloc((nc ? nc : 1) * sizeof *out->header);
    if (!out->path || !out->header) goto nomem;
    strcpy(out->path, path);
    for (size_t c = 0, o = 0; c < nc; c++) {
        out->header[c] = f.buf + o;
        o += strlen(out->header[c]) + 1;
    }
    out->n_cols = nc;
    out->header_line = s.head.header_line;
    out->buf = f.buf;
    out->cells = f.v;
    out->lines = lines;
    out->n_rows = nr;
    f.buf = NULL;
    f.v = NULL;
    lines = NULL;
    rc = 0;
    goto done;
nomem:
    wb_err(err, WB_E_NOMEM, path, "out of memory");
done:
    io_csv_stream_close(&s);
    free(f.buf);
    free(f.v);
    free(lines);
    if (rc) io_csv_free(out);
    return rc;
}
