/* json_check.c — exits 0 if every file named on the command line is one complete JSON value
 * (RFC 8259, whitespace around it allowed), 1 otherwise, naming the file and the byte offset.
 * The fault tests use it to show that no JSON output is ever half-written (no Python there);
 * strings must be valid UTF-8 (inspect's output of 8-bit DICOM text, cli.hostile). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t n, i;
    int depth;
} parser;

static void ws(parser *p)
{
    while (p->i < p->n && strchr(" \t\r\n", p->s[p->i]) && p->s[p->i])
        p->i++;
}

static int lit(parser *p, const char *w)
{
    size_t k = strlen(w);
    if (p->n - p->i < k || memcmp(p->s + p->i, w, k) != 0)
        return -1;
    p->i += k;
    return 0;
}

static int digits(parser *p)
{
    size_t b = p->i;
    while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
        p->i++;
    return p->i > b ? 0 : -1;
}

static int number(parser *p)
{
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i < p->n && p->s[p->i] == '0')
        p->i++;
    else if (digits(p) != 0)
        return -1;
    if (p->i < p->n && p->s[p->i] == '.') {
        p->i++;
        if (digits(p) != 0)
            return -1;
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        if (digits(p) != 0)
            return -1;
    }
    return 0;
}

/* Length of the valid UTF-8 sequence at s (n bytes left; RFC 8259 text is UTF-8), 0 if none. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0], cp;
    size_t k;
    if (c >= 0xc2 && c <= 0xdf) k = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef) k = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4) k = 4, cp = c & 0x07;
    else return 0;
    if (n < k) return 0;
    for (size_t j = 1; j < k; j++) {
        if ((s[j] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (s[j] & 0x3f);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return k;
}

static int string(parser *p)
{
    if (p->i >= p->n || p->s[p->i] != '"')
        return -1;
    for (p->i++; p->i < p->n; p->i++) {
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"') {
            p->i++;
            return 0;
        }
        if (c < 0x20)
            return -1;
        if (c >= 0x80) { /* a string must be valid UTF-8 */
            size_t k = utf8_len((const unsigned char *)p->s + p->i, p->n - p->i);
            if (!k)
                return -1;
            p->i += k - 1;
            continue;
        }
        if (c == '\\') {
            if (++p->i >= p->n)
                return -1;
            c = (unsigned char)p->s[p->i];
            if (c == 'u') {
                for (int k = 0; k < 4; k++)
                    if (++p->i >= p->n || !strchr("0123456789abcdefABCDEF", p->s[p->i]) || !p->s[p->i])
                        return -1;
            } else if (!strchr("\"\\/bfnrt", c) || !c) {
                return -1;
            }
        }
    }
    return -1;
}

static int value(parser *p)
{
    if (++p->depth > 256)
        return -1;
    ws(p);
    if (p->i >= p->n)
        return -1;
    int rc = 0;
    char c = p->s[p->i];
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        p->i++;
        ws(p);
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
        } else {
            for (;;) {
                if (c == '{') {
                    ws(p);
                    if (string(p) != 0)
                        return -1;
                    ws(p);
                    if (p->i >= p->n || p->s[p->i++] != ':')
                        return -1;
                }
                if (value(p) != 0)
                    return -1;
                ws(p);
                if (p->i >= p->n)
                    return -1;
                if (p->s[p->i] == ',') {
                    p->i++;
                    continue;
                }
                if (p->s[p->i++] != close)
                    return -1;
                break;
            }
        }
    } else if (c == '"') {
        rc = string(p);
    } else if (c == 't') {
        rc = lit(p, "true");
    } else if (c == 'f') {
        rc = lit(p, "false");
    } else if (c == 'n') {
        rc = lit(p, "null");
    } else {
        rc = number(p);
    }
    p->depth--;
    return rc;
}

int main(int argc, char **argv)
{
    int bad = 0;
    for (int a = 1; a < argc; a++) {
        FILE *f = fopen(argv[a], "rb");
        if (!f) {
            fprintf(stderr, "%s: cannot open\n", argv[a]);
            bad = 1;
            continue;
        }
        char *buf = NULL;
        size_t n = 0, cap = 0, k;
        char chunk[65536];
        while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) {
            if (n + k > cap) {
                cap = (n + k) * 2;
                char *nb = realloc(buf, cap);
                if (!nb) {
                    fprintf(stderr, "out of memory\n");
                    return 2;
                }
                buf = nb;
            }
            memcpy(buf + n, chunk, k);
            n += k;
        }
        fclose(f);
        parser p = {buf ? buf : "", n, 0, 0};
        int rc = value(&p);
        ws(&p);
        if (rc != 0 || p.i != n) {
            fprintf(stderr, "%s: not one complete JSON value (stops at byte %zu of %zu)\n", argv[a], p.i, n);
            bad = 1;
        }
        free(buf);
    }
    return bad;
}
