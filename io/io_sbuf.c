/* sbuf.c — see sbuf.h. */
#include "io/io_sbuf.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_fs.h"
#include "io/io_json.h"

void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) return;
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = b->cap ? b->cap : 4096;
        while (cap <= b->n + (size_t)k) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

void sb_num(sbuf *b, double v)
{
    if (isfinite(v)) sb_printf(b, "%.17g", v);
    else sb_printf(b, "null");
}

static void sb_sink(void *ctx, const char *bytes, size_t n) { sb_printf(ctx, "%.*s", (int)n, bytes); }

void sb_jstr(sbuf *b, const char *s)
{
    /* io/io_json.c writes every JSON string of the workbench; this style: \u00XX for all
     * control bytes, DEL raw */
    io_json_write_string(s, 0, sb_sink, b);
}

void sb_csv(sbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        sb_printf(b, "%s", s);
        return;
    }
    sb_printf(b, "\"");
    for (; *s; s++) sb_printf(b, *s == '"' ? "\"\"" : "%c", *s);
    sb_printf(b, "\"");
}

/* Length of the valid UTF-8 sequence at s that XML allows (no surrogates, overlongs,
 * U+FFFE/U+FFFF), or 0. */
static int utf8_len(const unsigned char *s)
{
    unsigned c = s[0], cp;
    int n;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) n = 2, cp = c & 0x1F;
    else if (c >= 0xE0 && c <= 0xEF) n = 3, cp = c & 0x0F;
    else if (c >= 0xF0 && c <= 0xF4) n = 4, cp = c & 0x07;
    else return 0;
    for (int i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF)) || (cp >= 0xD800 && cp <= 0xDFFF) ||
        cp == 0xFFFE || cp == 0xFFFF)
        return 0;
    return n;
}

void sb_xml(sbuf *b, const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s >= 0x80) {
            /* well-formed output from any bytes: a broken sequence becomes U+FFFD */
            int n = utf8_len((const unsigned char *)s);
            if (n) sb_printf(b, "%.*s", n, s), s += n - 1;
            else sb_printf(b, "&#xFFFD;");
            continue;
        }
        switch (*s) {
        case '&': sb_printf(b, "&amp;"); break;
        case '<': sb_printf(b, "&lt;"); break;
        case '>': sb_printf(b, "&gt;"); break;
        case '"': sb_printf(b, "&quot;"); break;
        case '\'': sb_printf(b, "&#39;"); break;
        default:
            /* control characters other than tab and line breaks are not allowed in XML */
            if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r') sb_printf(b, "?");
            else sb_printf(b, "%c", *s);
        }
    }
}

int sb_write(const sbuf *b, const char *dir, const char *name, wb_error *err)
{
    char path[4200];
    if (dir) snprintf(path, sizeof path, "%s/%s", dir, name);
    else snprintf(path, sizeof path, "%s", name);
    if (b->oom) return wb_err(err, WB_E_NOMEM, path, "out of memory");
    io_atomic_file af;
    if (io_atomic_open(&af, path, err) != 0) return -1;
    if (b->n && fwrite(b->s, 1, b->n, af.f) != b->n) {
        int e = errno;
        io_atomic_abort(&af);
        return wb_err(err, WB_E_WRITE, path, "write failed: %s", strerror(e ? e : EIO));
    }
    return io_atomic_commit(&af, err);
}

int sb_drain(sbuf *b, FILE *f, const char *path, wb_error *err)
{
    if (b->oom) return wb_err(err, WB_E_NOMEM, path, "out of memory");
    if (b->n && fwrite(b->s, 1, b->n, f) != b->n) {
        int e = errno;
        return wb_err(err, WB_E_WRITE, path, "write failed: %s", strerror(e ? e : EIO));
    }
    b->n = 0;
    if (b->s) b->s[0] = '\0';
    return 0;
}

void sb_free(sbuf *b)
{
    free(b->s);
    b->s = NULL;
    b->n = b->cap = 0;
    b->oom = 0;
}
