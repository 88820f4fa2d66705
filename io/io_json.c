/* io_json.c — strict JSON parser (recursive descent with an explicit depth bound). */
#include "io/io_json.h"

#include "io/io_fs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *s;
    size_t n, i;
    io_json_doc *doc;
    size_t pool_used;
    int max_depth;
    size_t max_nodes;
    const char *why;
    size_t at;
} parser;

static int fail(parser *p, size_t at, const char *why)
{
    p->why = why;
    p->at = at;
    return -1;
}

static void skip_ws(parser *p)
{
    while (p->i < p->n) {
        char c = p->s[p->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->i++;
    }
}

static int32_t new_node(parser *p, io_json_type type)
{
    io_json_doc *d = p->doc;
    if (d->n >= p->max_nodes || d->n >= INT32_MAX)
        return fail(p, p->i, "too many JSON values"), -1;
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 64;
        io_json_node *nodes = realloc(d->nodes, cap * sizeof *nodes);
        if (!nodes)
            return fail(p, p->i, "out of memory"), -1;
        d->nodes = nodes;
        d->cap = cap;
    }
    io_json_node *nd = &d->nodes[d->n];
    memset(nd, 0, sizeof *nd);
    nd->type = type;
    nd->first = nd->next = -1;
    nd->offset = p->i;
    return (int32_t)d->n++;
}

int io_json_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        int len;
        uint32_t cp, min;
        if ((c & 0xe0) == 0xc0)
            len = 2, cp = c & 0x1f, min = 0x80;
        else if ((c & 0xf0) == 0xe0)
            len = 3, cp = c & 0x0f, min = 0x800;
        else if ((c & 0xf8) == 0xf0)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return 0;
        if (n - i < (size_t)len)
            return 0;
        for (int k = 1; k < len; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = (cp << 6) | (s[i + k] & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += (size_t)len;
    }
    return 1;
}

static int hex4(parser *p, uint32_t *v)
{
    if (p->n - p->i < 4)
        return fail(p, p->i, "truncated \\u escape");
    uint32_t x = 0;
    for (int k = 0; k < 4; k++) {
        char c = p->s[p->i + (size_t)k];
        x <<= 4;
        if (c >= '0' && c <= '9')
            x |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            x |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            x |= (uint32_t)(c - 'A' + 10);
        else
            return fail(p, p->i + (size_t)k, "bad hex digit in \\u escape");
    }
    p->i += 4;
    *v = x;
    return 0;
}

/* Parses a string at p->i (which is at '"'); decoded bytes go into the pool. */
static int parse_string(parser *p, const char **out, size_t *out_len)
{
    size_t start = p->i;
    p->i++; /* opening quote */
    char *dst = p->doc->pool + p->pool_used;
    size_t k = 0;
    for (;;) {
        if (p->i >= p->n)
            return fail(p, start, "unterminated string");
        unsigned char c = (unsigned char)p->s[p->i];
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(p, p->i, "control character in string");
        if (c != '\\') {
            dst[k++] = (char)c;
            p->i++;
            continue;
        }
        if (p->n - p->i < 2)
            return fail(p, p->i, "truncated escape");
        char e = p->s[p->i + 1];
        p->i += 2;
        switch (e) {
        case '"': dst[k++] = '"'; break;
        case '\\': dst[k++] = '\\'; break;
        case '/': dst[k++] = '/'; break;
        case 'b': dst[k++] = '\b'; break;
        case 'f': dst[k++] = '\f'; break;
        case 'n': dst[k++] = '\n'; break;
        case 'r': dst[k++] = '\r'; break;
        case 't': dst[k++] = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (hex4(p, &cp) != 0)
                return -1;
            if (cp >= 0xdc00 && cp <= 0xdfff)
                return fail(p, p->i - 6, "unpaired low surrogate");
            if (cp >= 0xd800 && cp <= 0xdbff) {
                uint32_t lo;
                if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
                    return fail(p, p->i, "unpaired high surrogate");
                p->i += 2;
                if (hex4(p, &lo) != 0)
                    return -1;
                if (lo < 0xdc00 || lo > 0xdfff)
                    return fail(p, p->i - 6, "bad low surrogate");
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            }
            /* the escape is at least 6 bytes and encodes to at most 4: the pool suffices */
            if (cp < 0x80) {
                dst[k++] = (char)cp;
            } else if (cp < 0x800) {
                dst[k++] = (char)(0xc0 | (cp >> 6));
                dst[k++] = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                dst[k++] = (char)(0xe0 | (cp >> 12));
                dst[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                dst[k++] = (char)(0x80 | (cp & 0x3f));
            } else {
                dst[k++] = (char)(0xf0 | (cp >> 18));
                dst[k++] = (char)(0x80 | ((cp >> 12) & 0x3f));
                dst[k++] = (char)(0x80 | ((cp >> 6) & 0x3f));
                dst[k++] = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default:
            return fail(p, p->i - 2, "bad escape in string");
        }
    }
    p->i++; /* closing quote */
    if (!io_json_utf8_valid(dst, k))
        return fail(p, start, "string is not valid UTF-8");
    dst[k] = '\0';
    p->pool_used += k + 1; /* decoded + NUL <= raw bytes including both quotes */
    *out = dst;
    *out_len = k;
    return 0;
}

static int parse_number(parser *p, int32_t idx)
{
    size_t start = p->i;
    int is_int = 1;
    if (p->i < p->n && p->s[p->i] == '-')
        p->i++;
    if (p->i >= p->n)
        return fail(p, start, "bad number");
    if (p->s[p->i] == '0') {
        p->i++;
    } else if (p->s[p->i] >= '1' && p->s[p->i] <= '9') {
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
    } else {
        return fail(p, start, "bad number");
    }
    if (p->i < p->n && p->s[p->i] == '.') {
        is_int = 0;
        p->i++;
        size_t d = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == d)
            return fail(p, start, "bad number: no digits after '.'");
    }
    if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
        is_int = 0;
        p->i++;
        if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
            p->i++;
        size_t d = p->i;
        while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
            p->i++;
        if (p->i == d)
            return fail(p, start, "bad number: no exponent digits");
    }
    size_t len = p->i - start;
    char buf[64];
    if (len >= sizeof buf)
        return fail(p, start, "number literal too long");
    memcpy(buf, p->s + start, len);
    buf[len] = '\0';
    io_json_node *nd = &p->doc->nodes[idx];
    nd->num = strtod(buf, NULL);
    if (!isfinite(nd->num))
        return fail(p, start, "number out of range");
    if (is_int) {
        int neg = buf[0] == '-';
        uint64_t v = 0;
        int fits = 1;
        for (const char *c = buf + neg; *c; c++) {
            if (v > (UINT64_MAX - 9) / 10) {
                fits = 0;
                break;
            }
            v = v * 10 + (uint64_t)(*c - '0');
        }
        if (fits && (neg ? v <= (uint64_t)INT64_MAX + 1 : v <= (uint64_t)INT64_MAX)) {
            nd->is_int = 1;
            nd->i = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
        }
    }
    return 0;
}

typedef struct {
    const char *key;
    size_t len, offset;
} key_ref;

static int key_cmp(const void *a, const void *b)
{
    const key_ref *x = a, *y = b;
    size_t m = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, m);
    if (c)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Duplicate keys are an error: sort the member names and compare neighbours. */
static int check_dup_keys(parser *p, int32_t obj)
{
    io_json_node *o = &p->doc->nodes[obj];
    if (o->count < 2)
        return 0;
    key_ref *refs = malloc(o->count * sizeof *refs);
    if (!refs)
        return fail(p, o->offset, "out of memory");
    size_t k = 0;
    for (int32_t c = o->first; c >= 0; c = p->doc->nodes[c].next) {
        const io_json_node *m = &p->doc->nodes[c];
        refs[k].key = m->key;
        refs[k].len = m->key_len;
        refs[k].offset = m->offset;
        k++;
    }
    qsort(refs, k, sizeof *refs, key_cmp);
    for (size_t j = 1; j < k; j++) {
        if (key_cmp(&refs[j - 1], &refs[j]) == 0) {
            size_t at = refs[j].offset > refs[j - 1].offset ? refs[j].offset : refs[j - 1].offset;
            free(refs);
            return fail(p, at, "duplicate key in object");
        }
    }
    free(refs);
    return 0;
}

static int parse_value(parser *p, int depth, int32_t *out);

static int parse_container(parser *p, int depth, int32_t idx, int is_obj)
{
    char close = is_obj ? '}' : ']';
    p->i++;
    skip_ws(p);
    if (p->i < p->n && p->s[p->i] == close) {
        p->i++;
        return 0;
    }
    int32_t prev = -1;
    for (;;) {
        skip_ws(p);
        const char *key = NULL;
        size_t key_len = 0;
        if (is_obj) {
            if (p->i >= p->n || p->s[p->i] != '"')
                return fail(p, p->i, "expected a quoted key");
            if (parse_string(p, &key, &key_len) != 0)
                return -1;
            skip_ws(p);
            if (p->i >= p->n || p->s[p->i] != ':')
                return fail(p, p->i, "expected ':'");
            p->i++;
        }
        int32_t child;
        if (parse_value(p, depth + 1, &child) != 0)
            return -1;
        io_json_node *nodes = p->doc->nodes;
        nodes[child].key = key;
        nodes[child].key_len = key_len;
        if (prev < 0)
            nodes[idx].first = child;
        else
            nodes[prev].next = child;
        prev = child;
        nodes[idx].count++;
        skip_ws(p);
        if (p->i < p->n && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->n && p->s[p->i] == close) {
            p->i++;
            break;
        }
        return fail(p, p->i, is_obj ? "expected ',' or '}'" : "expected ',' or ']'");
    }
    return is_obj ? check_dup_keys(p, idx) : 0;
}

static int parse_value(parser *p, int depth, int32_t *out)
{
    if (depth > p->max_depth)
        return fail(p, p->i, "JSON nested too deeply");
    skip_ws(p);
    if (p->i >= p->n)
        return fail(p, p->i, "unexpected end of JSON");
    char c = p->s[p->i];
    int32_t idx;
    switch (c) {
    case '{':
    case '[':
        if ((idx = new_node(p, c == '{' ? IO_JSON_OBJECT : IO_JSON_ARRAY)) < 0)
            return -1;
        *out = idx;
        return parse_container(p, depth, idx, c == '{');
    case '"':
        if ((idx = new_node(p, IO_JSON_STRING)) < 0)
            return -1;
        *out = idx;
        {
            const char *s;
            size_t len;
            if (parse_string(p, &s, &len) != 0)
                return -1;
            p->doc->nodes[idx].str = s;
            p->doc->nodes[idx].str_len = len;
        }
        return 0;
    case 't':
    case 'f':
    case 'n': {
        const char *w = c == 't' ? "true" : c == 'f' ? "false" : "null";
        size_t wl = strlen(w);
        if (p->n - p->i < wl || memcmp(p->s + p->i, w, wl) != 0)
            return fail(p, p->i, "unexpected word");
        if ((idx = new_node(p, c == 't' ? IO_JSON_TRUE : c == 'f' ? IO_JSON_FALSE
                                                                  : IO_JSON_NULL)) < 0)
            return -1;
        p->i += wl;
        *out = idx;
        return 0;
    }
    default:
        if (c == '-' || (c >= '0' && c <= '9')) {
            if ((idx = new_node(p, IO_JSON_NUMBER)) < 0)
                return -1;
            *out = idx;
            return parse_number(p, idx);
        }
        return fail(p, p->i, "unexpected character");
    }
}

int io_json_parse(const char *text, size_t len, const io_json_limits *lim, io_json_doc *doc,
                  size_t *err_at, const char **err_msg)
{
    memset(doc, 0, sizeof *doc);
    *err_at = 0;
    *err_msg = NULL;
    parser p = {0};
    p.s = text;
    p.n = len;
    p.doc = doc;
    p.max_depth = lim && lim->max_depth > 0 ? lim->max_depth : 64;
    p.max_nodes = lim && lim->max_nodes > 0 ? lim->max_nodes : 10000000;
    doc->pool = malloc(len + 1);
    if (!doc->pool) {
        *err_msg = "out of memory";
        return -1;
    }
    int32_t root;
    if (parse_value(&p, 0, &root) != 0)
        goto bad;
    skip_ws(&p);
    if (p.i != p.n) {
        fail(&p, p.i, "trailing characters after the JSON value");
        goto bad;
    }
    return 0;
bad:
    *err_at = p.at;
    *err_msg = p.why ? p.why : "bad JSON";
    io_json_free(doc);
    return -1;
}

int io_json_load(const char *path, size_t max_bytes, io_json_doc *doc, wb_error *err)
{
    memset(doc, 0, sizeof *doc);
    unsigned char *text = NULL;
    size_t n = 0, at = 0;
    const char *why = NULL;
    if (io_file_read_all(path, max_bytes, &text, &n, err) != 0) return -1;
    int rc = io_json_parse((const char *)text, n, NULL, doc, &at, &why);
    free(text);
    if (rc != 0) return wb_err(err, WB_E_DATA, path, "at byte %zu: %s", at, why);
    return 0;
}

void io_json_free(io_json_doc *doc)
{
    if (!doc)
        return;
    free(doc->nodes);
    free(doc->pool);
    memset(doc, 0, sizeof *doc);
}

const io_json_node *io_json_get(const io_json_doc *doc, const io_json_node *obj,
                                const char *key)
{
    if (!obj || obj->type != IO_JSON_OBJECT)
        return NULL;
    size_t kl = strlen(key);
    for (int32_t c = obj->first; c >= 0; c = doc->nodes[c].next)
        if (doc->nodes[c].key_len == kl && memcmp(doc->nodes[c].key, key, kl) == 0)
            return &doc->nodes[c];
    return NULL;
}

/* ---- writing (io_json.h) ---- */

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if there is none. */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        len = 2, cp = c & 0x1f;
    else if (c >= 0xe0 && c <= 0xef)
        len = 3, cp = c & 0x0f;
    else if (c >= 0xf0 && c <= 0xf4)
        len = 4, cp = c & 0x07;
    else
        return 0;
    if (n < len)
        return 0;
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[k] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
        (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return len;
}

void io_json_write_string(const char *str, int flags, io_json_sink put, void *ctx)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str), run = 0; /* s[run..i) is copied as it is */
    put(ctx, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        char esc[8];
        const char *rep = NULL;
        size_t rep_n = 0, adv = 1;
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c, rep = esc, rep_n = 2;
        } else if (c < 0x20 || (c == 0x7f && (flags & IO_JSON_ESC_DEL))) {
            if ((flags & IO_JSON_ESC_SHORT) && (c == '\n' || c == '\r' || c == '\t')) {
                esc[0] = '\\', esc[1] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't';
                rep = esc, rep_n = 2;
            } else {
                static const char hex[] = "0123456789abcdef";
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4], esc[5] = hex[c & 15];
                rep = esc, rep_n = 6;
            }
        } else if (c >= 0x80) {
            adv = utf8_seq_len(s + i, n - i);
            if (!adv)
                rep = "\xEF\xBF\xBD", rep_n = 3, adv = 1; /* U+FFFD */
        }
        if (rep) {
            if (i > run)
                put(ctx, (const char *)s + run, i - run);
            put(ctx, rep, rep_n);
            run = i + adv;
        }
        i += adv;
    }
    if (n > run)
        put(ctx, (const char *)s + run, n - run);
    put(ctx, "\"", 1);
}
