/* io_xlsx.c — the first worksheet of an .xlsx workbook as CSV text, parsed by io_csv_parse.
 * The ZIP container is read from memory (central directory, then each member's local header),
 * members inflated with zlib; the XML parts (workbook, its relationships, shared strings, the
 * sheet) are read with expat. */
#include "io/io_xlsx.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "io/io_fs.h"
#include "io/io_xml.h"

enum { MAX_COLS = 4096, MAX_ROWS = 1048576, MAX_CELL = 1 << 20, MAX_STRINGS = 10000000 };

/* ---- ZIP ---- */

static uint32_t rd16(const unsigned char *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8; }
static uint32_t rd32(const unsigned char *p) { return rd16(p) | rd16(p + 2) << 16; }

typedef struct zentry {
    uint32_t method, flags, crc, csize, usize, local;
} zentry;

/* Finds member want in the central directory: 1 found (*e filled), 0 not there, -1 err. */
static int zip_find(const unsigned char *b, size_t n, const char *want, zentry *e, const char *name, wb_error *err)
{
    if (n < 22) return wb_err(err, WB_E_DATA, name, "not an .xlsx workbook (too short for a ZIP file)");
    size_t eocd = n - 22, stop = n - 22 > 65535 ? n - 22 - 65535 : 0;
    for (;; eocd--) {
        if (rd32(b + eocd) == 0x06054b50u) break;
        if (eocd == stop) return wb_err(err, WB_E_DATA, name, "not an .xlsx workbook (no ZIP end-of-directory record)");
    }
    const uint32_t count = rd16(b + eocd + 10), size = rd32(b + eocd + 12), off = rd32(b + eocd + 16);
    if (count == 0xffffu || size == 0xffffffffu || off == 0xffffffffu)
        return wb_err(err, WB_E_DATA, name, "a ZIP64 archive (not supported: an .xlsx this large is not a label table)");
    if ((size_t)off > eocd || (size_t)size > eocd - off)
        return wb_err(err, WB_E_DATA, name, "damaged ZIP: the central directory lies outside the file");
    const size_t end = (size_t)off + size, want_len = strlen(want);
    size_t p = off;
    for (uint32_t i = 0; i < count; i++) {
        if (end - p < 46 || rd32(b + p) != 0x02014b50u)
            return wb_err(err, WB_E_DATA, name, "damaged ZIP: central directory entry %u at byte %zu", i, p);
        const size_t nlen = rd16(b + p + 28), xlen = rd16(b + p + 30), clen = rd16(b + p + 32);
        if (end - p - 46 < nlen + xlen + clen) return wb_err(err, WB_E_DATA, name, "damaged ZIP: entry %u runs past the directory", i);
        if (nlen == want_len && !memcmp(b + p + 46, want, nlen)) {
            e->flags = rd16(b + p + 8);
            e->method = rd16(b + p + 10);
            e->crc = rd32(b + p + 16);
            e->csize = rd32(b + p + 20);
            e->usize = rd32(b + p + 24);
            e->local = rd32(b + p + 42);
            return 1;
        }
        p += 46 + nlen + xlen + clen;
    }
    return 0;
}

/* The member's bytes, inflated and checked, NUL-terminated into *out (*len without the NUL). */
static int zip_extract(const unsigned char *b, size_t n, const char *member, const zentry *e, char **out, size_t *len,
                       const char *name, wb_error *err)
{
    *out = NULL;
    if (e->flags & 1u) return wb_err(err, WB_E_DATA, name, "%s is encrypted (save the workbook without a password)", member);
    if (e->method != 0 && e->method != 8)
        return wb_err(err, WB_E_DATA, name, "%s: ZIP compression method %u (only stored and deflated are read)", member, e->method);
    if (e->usize > IO_XLSX_MAX_PART)
        return wb_err(err, WB_E_DATA, name, "%s inflates to %u bytes (the limit is %zu)", member, e->usize, IO_XLSX_MAX_PART);
    const size_t lh = e->local;
    if (lh > n || n - lh < 30 || rd32(b + lh) != 0x04034b50u)
        return wb_err(err, WB_E_DATA, name, "damaged ZIP: no local header for %s", member);
    const size_t data = lh + 30 + rd16(b + lh + 26) + rd16(b + lh + 28);
    if (data > n || n - data < e->csize) return wb_err(err, WB_E_DATA, name, "damaged ZIP: %s runs past the end of the file", member);
    char *o = malloc((size_t)e->usize + 1);
    if (!o) return wb_err(err, WB_E_NOMEM, name, "out of memory");
    if (e->method == 0) {
        if (e->csize != e->usize) {
            free(o);
            return wb_err(err, WB_E_DATA, name, "damaged ZIP: stored member %s has two sizes", member);
        }
        memcpy(o, b + data, e->usize);
    } else {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (inflateInit2(&z, -MAX_WBITS) != Z_OK) {
            free(o);
            return wb_err(err, WB_E_NOMEM, name, "out of memory (zlib)");
        }
        z.next_in = (Bytef *)(b + data);
        z.avail_in = e->csize;
        z.next_out = (Bytef *)o;
        z.avail_out = e->usize + 1; /* one byte more: a stream longer than declared shows */
        int zr = inflate(&z, Z_FINISH);
        const uLong got = z.total_out;
        inflateEnd(&z);
        if (zr != Z_STREAM_END || got != e->usize) {
            free(o);
            return wb_err(err, WB_E_DATA, name, "damaged ZIP: %s does not inflate to its declared %u bytes", member, e->usize);
        }
    }
    if (crc32(0L, (const Bytef *)o, e->usize) != e->crc) {
        free(o);
        return wb_err(err, WB_E_DATA, name, "damaged ZIP: %s fails its CRC-32", member);
    }
    o[e->usize] = '\0';
    *out = o;
    *len = e->usize;
    return 0;
}

static int zip_part(const unsigned char *b, size_t n, const char *member, int required, char **out, size_t *len,
                    const char *name, wb_error *err)
{
    zentry e;
    int f = zip_find(b, n, member, &e, name, err);
    if (f < 0) return -1;
    if (!f) {
        *out = NULL;
        *len = 0;
        return required ? wb_err(err, WB_E_DATA, name, "not an .xlsx workbook (no %s inside)", member) : 0;
    }
    return zip_extract(b, n, member, &e, out, len, name, err);
}

/* ---- XML ---- */

enum { P_WORKBOOK, P_RELS, P_STRINGS, P_SHEET };

typedef struct text {
    char *s;
    size_t n, cap;
} text;

static int text_add(text *t, const char *s, size_t n)
{
    if (t->n + n + 1 > t->cap) {
        size_t c = t->cap ? t->cap : 64;
        while (c < t->n + n + 1) c *= 2;
        char *g = realloc(t->s, c);
        if (!g) return -1;
        t->s = g, t->cap = c;
    }
    memcpy(t->s + t->n, s, n);
    t->n += n;
    t->s[t->n] = '\0';
    return 0;
}

typedef struct xstate {
    io_xml x;        /* first: the handlers' user data */
    char where[600]; /* "book.xlsx[xl/worksheets/sheet1.xml]" */
    wb_error *err;
    int kind;
    /* workbook and relationships */
    char rid[256], target[512];
    int have_sheet;
    /* shared strings */
    char **str;
    size_t n_str, cap_str;
    int in_si, in_rph;
    /* the sheet */
    text out;          /* the CSV text */
    text *cells;       /* the current row, by column (cap_cells allocated) */
    size_t n_cells, cap_cells; /* columns used in the current row */
    long row, last_row, col;
    size_t n_cols;     /* the header's width; 0 until the header row */
    char ctype[16];
    int in_row, in_c, in_v, in_is;
    /* text being collected (<t> of a string, <v> or <is><t> of a cell) */
    text cur;
    int collect;
} xstate;

static void xfail(xstate *s, const char *fmt, const char *what)
{
    io_xml_fail(&s->x, NULL, fmt, what);
}

static const char *local(const char *el)
{
    const char *b = strrchr(el, '|');
    return b ? b + 1 : el;
}

static const char *attr(const XML_Char **a, const char *name)
{
    for (; a && a[0]; a += 2)
        if (!strcmp(local(a[0]), name)) return a[1];
    return NULL;
}

/* "BC12" -> column 54 (0-based) and row 12; -1 when it is not a cell reference. */
static int cell_ref(const char *r, long *col, long *row)
{
    long c = 0, k = 0;
    for (; *r >= 'A' && *r <= 'Z' && k < 3; r++, k++) c = c * 26 + (*r - 'A' + 1);
    if (!k || c > 16384) return -1;
    char *end;
    long rw = strtol(r, &end, 10);
    if (end == r || *end || rw < 1 || rw > MAX_ROWS) return -1;
    *col = c - 1, *row = rw;
    return 0;
}

static void row_flush(xstate *s)
{
    size_t used = 0;
    for (size_t c = 0; c < s->n_cells; c++)
        if (s->cells[c].n) used = c + 1;
    if (used && !s->n_cols) s->n_cols = used; /* the first row with a value is the header */
    if (used > s->n_cols) {
        char what[160];
        snprintf(what, sizeof what, "row %ld has a value in column %zu, right of the header's last column %zu", s->row, used,
                 s->n_cols);
        xfail(s, "%s", what);
        return;
    }
    int bad = 0;
    for (size_t c = 0; used && c < s->n_cols && !bad; c++) {
        const text *t = c < s->n_cells ? &s->cells[c] : NULL;
        const char *v = t && t->n ? t->s : "";
        const int q = strpbrk(v, ",\"") != NULL;
        bad |= c && text_add(&s->out, ",", 1);
        bad |= q && text_add(&s->out, "\"", 1);
        for (const char *x = v; *x && !bad; x++) bad |= text_add(&s->out, *x == '"' ? "\"\"" : x, *x == '"' ? 2 : 1);
        bad |= q && text_add(&s->out, "\"", 1);
    }
    if (bad || text_add(&s->out, "\n", 1) || s->out.n > ((size_t)256 << 20)) xfail(s, "%s", "the sheet is too large");
    for (size_t c = 0; c < s->n_cells; c++) s->cells[c].n = 0;
    s->n_cells = 0;
}

static void XMLCALL on_start(void *ud, const XML_Char *el, const XML_Char **a)
{
    xstate *s = ud;
    if (s->x.failed) return;
    const char *e = local(el);
    if (s->kind == P_WORKBOOK) {
        if (!strcmp(e, "sheet") && !s->have_sheet) {
            const char *id = attr(a, "id");
            if (!id) xfail(s, "%s", "a <sheet> without r:id");
            else snprintf(s->rid, sizeof s->rid, "%s", id), s->have_sheet = 1;
        }
    } else if (s->kind == P_RELS) {
        const char *id = attr(a, "Id"), *t = attr(a, "Target");
        if (!strcmp(e, "Relationship") && id && t && !strcmp(id, s->rid)) snprintf(s->target, sizeof s->target, "%s", t);
    } else if (s->kind == P_STRINGS) {
        if (!strcmp(e, "si")) s->in_si = 1, s->cur.n = 0;
        else if (!strcmp(e, "rPh")) s->in_rph = 1;
        else if (!strcmp(e, "t") && s->in_si && !s->in_rph) s->collect = 1;
    } else {
        if (!strcmp(e, "row")) {
            if (s->in_row) { xfail(s, "%s", "a <row> inside a <row>"); return; }
            s->in_row = 1;
            const char *r = attr(a, "r");
            long rw = s->last_row + 1;
            char *end;
            if (r && ((rw = strtol(r, &end, 10)) < 1 || *end || rw > MAX_ROWS)) { xfail(s, "row number '%s'", r); return; }
            if (rw <= s->last_row) { xfail(s, "row %s is out of order", r); return; }
            for (long k = s->last_row + 1; k < rw; k++) /* absent rows: blank lines, so line N is row N */
                if (text_add(&s->out, "\n", 1)) { xfail(s, "%s", "out of memory"); return; }
            s->row = rw;
            s->col = -1;
            s->n_cells = 0;
        } else if (!strcmp(e, "c")) {
            if (!s->in_row || s->in_c) { xfail(s, "%s", "a <c> cell outside a <row>, or inside another cell"); return; }
            s->in_c = 1;
            const char *r = attr(a, "r"), *t = attr(a, "t");
            long c = s->col + 1, rw = s->row;
            if (r && (cell_ref(r, &c, &rw) || rw != s->row)) { xfail(s, "cell reference '%s'", r); return; }
            if (c <= s->col || c >= MAX_COLS) { xfail(s, "cell '%s' out of order or beyond 4096 columns", r ? r : "?"); return; }
            s->col = c;
            snprintf(s->ctype, sizeof s->ctype, "%s", t ? t : "n");
            if ((size_t)c >= s->cap_cells) {
                text *g = realloc(s->cells, ((size_t)c + 1) * sizeof *g);
                if (!g) { xfail(s, "%s", "out of memory"); return; }
                for (size_t k = s->cap_cells; k <= (size_t)c; k++) g[k] = (text){0};
                s->cells = g;
                s->cap_cells = (size_t)c + 1;
            }
            /* columns skipped in this row keep n = 0 (empty): row_flush empties every used one */
            if ((size_t)c >= s->n_cells) s->n_cells = (size_t)c + 1;
            s->cur.n = 0;
        } else if (!strcmp(e, "v") && s->in_c) {
            s->in_v = 1, s->collect = 1, s->cur.n = 0;
        } else if (!strcmp(e, "is") && s->in_c) {
            s->in_is = 1, s->cur.n = 0;
        } else if (!strcmp(e, "rPh")) {
            s->in_rph = 1;
        } else if (!strcmp(e, "t") && s->in_is && !s->in_rph) {
            s->collect = 1;
        }
    }
}

static void XMLCALL on_text(void *ud, const XML_Char *t, int len)
{
    xstate *s = ud;
    if (s->x.failed || !s->collect) return;
    if (s->cur.n + (size_t)len > MAX_CELL) { xfail(s, "%s", "a cell longer than 1 MiB"); return; }
    if (text_add(&s->cur, t, (size_t)len)) xfail(s, "%s", "out of memory");
}

/* The cell's text into s->cells[s->col]: line breaks as spaces. */
static void cell_set(xstate *s, const char *v, size_t n)
{
    text *c = &s->cells[s->col];
    c->n = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i] == '\n' || v[i] == '\r' ? ' ' : v[i];
        if (text_add(c, &ch, 1)) { xfail(s, "%s", "out of memory"); return; }
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *el)
{
    xstate *s = ud;
    if (s->x.failed) return;
    const char *e = local(el);
    if (s->kind == P_STRINGS) {
        if (!strcmp(e, "t")) s->collect = 0;
        else if (!strcmp(e, "rPh")) s->in_rph = 0;
        else if (!strcmp(e, "si")) {
            if (s->n_str == s->cap_str) {
                size_t c = s->cap_str ? s->cap_str * 2 : 256;
                char **g = c <= MAX_STRINGS ? realloc(s->str, c * sizeof *g) : NULL;
                if (!g) { xfail(s, "%s", "too many shared strings"); return; }
                s->str = g, s->cap_str = c;
            }
            char *d = malloc(s->cur.n + 1);
            if (!d) { xfail(s, "%s", "out of memory"); return; }
            memcpy(d, s->cur.n ? s->cur.s : "", s->cur.n);
            d[s->cur.n] = '\0';
            s->str[s->n_str++] = d;
            s->in_si = 0;
            s->cur.n = 0;
        }
    } else if (s->kind == P_SHEET) {
        if (!strcmp(e, "v") && s->in_v) {
            s->in_v = 0, s->collect = 0;
            const char *v = s->cur.n ? s->cur.s : "";
            if (!strcmp(s->ctype, "s")) {
                char *end;
                long k = strtol(v, &end, 10);
                if (end == v || *end || k < 0 || (size_t)k >= s->n_str) { xfail(s, "shared string index '%s'", v); return; }
                cell_set(s, s->str[k], strlen(s->str[k]));
            } else if (!strcmp(s->ctype, "b")) {
                cell_set(s, !strcmp(v, "1") ? "TRUE" : "FALSE", !strcmp(v, "1") ? 4 : 5);
            } else if (strcmp(s->ctype, "inlineStr")) {
                cell_set(s, v, s->cur.n);
            }
        } else if (!strcmp(e, "t")) {
            s->collect = 0;
        } else if (!strcmp(e, "rPh")) {
            s->in_rph = 0;
        } else if (!strcmp(e, "is") && s->in_is) {
            s->in_is = 0;
            cell_set(s, s->cur.n ? s->cur.s : "", s->cur.n);
        } else if (!strcmp(e, "c")) {
            s->in_c = 0;
        } else if (!strcmp(e, "row")) {
            s->in_row = 0;
            row_flush(s);
            s->last_row = s->row;
        }
    }
}

static int xml_run(xstate *s, int kind, const char *name, const char *part, const char *buf, size_t n)
{
    s->kind = kind;
    s->collect = 0;
    if (snprintf(s->where, sizeof s->where, "%s[%s]", name, part) >= (int)sizeof s->where)
        memcpy(s->where + sizeof s->where - 4, "...", 4); /* a long path: its part cut, said so */
    return io_xml_parse(&s->x, buf, n, s->where, 1, on_start, on_end, on_text, s->err);
}

int io_xlsx_parse(const unsigned char *b, size_t n, const char *name, io_csv *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    if (n > IO_XLSX_MAX_BYTES) return wb_err(err, WB_E_DATA, name, "larger than %zu bytes", IO_XLSX_MAX_BYTES);
    xstate *s = calloc(1, sizeof *s);
    if (!s) return wb_err(err, WB_E_NOMEM, name, "out of memory");
    s->err = err;
    char *part = NULL;
    size_t len = 0;
    int rc = zip_part(b, n, "xl/workbook.xml", 1, &part, &len, name, err);
    if (rc == 0) rc = xml_run(s, P_WORKBOOK, name, "xl/workbook.xml", part, len);
    if (rc == 0 && !s->have_sheet) rc = wb_err(err, WB_E_DATA, name, "the workbook has no sheet");
    free(part), part = NULL;
    if (rc == 0) rc = zip_part(b, n, "xl/_rels/workbook.xml.rels", 1, &part, &len, name, err);
    if (rc == 0) rc = xml_run(s, P_RELS, name, "xl/_rels/workbook.xml.rels", part, len);
    free(part), part = NULL;
    char sheet[600];
    if (rc == 0 && !s->target[0]) rc = wb_err(err, WB_E_DATA, name, "the first sheet (%s) has no relationship target", s->rid);
    if (rc == 0) {
        if (s->target[0] == '/') snprintf(sheet, sizeof sheet, "%s", s->target + 1);
        else snprintf(sheet, sizeof sheet, "xl/%s", s->target);
    }
    if (rc == 0) rc = zip_part(b, n, "xl/sharedStrings.xml", 0, &part, &len, name, err);
    if (rc == 0 && part) rc = xml_run(s, P_STRINGS, name, "xl/sharedStrings.xml", part, len);
    free(part), part = NULL;
    if (rc == 0) rc = zip_part(b, n, sheet, 1, &part, &len, name, err);
    if (rc == 0) rc = xml_run(s, P_SHEET, name, sheet, part, len);
    free(part);
    if (rc == 0 && !s->n_cols) rc = wb_err(err, WB_E_DATA, name, "the first sheet (%s) is empty", sheet);
    if (rc == 0) rc = io_csv_parse(s->out.s, s->out.n, name, out, err);
    for (size_t i = 0; i < s->n_str; i++) free(s->str[i]);
    free(s->str);
    for (size_t c = 0; c < s->cap_cells; c++) free(s->cells[c].s);
    free(s->cells);
    free(s->out.s);
    free(s->cur.s);
    free(s);
    return rc;
}

int io_xlsx_read(const char *path, io_csv *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t n = 0;
    if (io_file_read_all(path, IO_XLSX_MAX_BYTES, &buf, &n, err) != 0) return -1;
    int rc = io_xlsx_parse(buf, n, path, out, err);
    free(buf);
    return rc;
}
