/* io_json.h — a small strict JSON parser (RFC 8259) for file headers such as safetensors'.
 *
 *     // given: const char *text, *path; size_t len, base;
 *     io_json_doc doc;
 *     size_t at; const char *why;
 *     if (io_json_parse(text, len, NULL, &doc, &at, &why) != 0)
 *         return wb_err(&err, WB_E_DATA, path, "at byte %zu: %s", base + at, why);
 *     const io_json_node *root = &doc.nodes[0];
 *     for (int32_t c = root->first; c >= 0; c = doc.nodes[c].next) puts(doc.nodes[c].key);
 *     io_json_free(&doc);
 *
 * Strict: one value with optional surrounding whitespace, no comments, no trailing commas, no
 * duplicate object keys, strings must be valid UTF-8 (escapes decoded, surrogates paired),
 * nesting and node counts bounded. Everything lives in the doc; io_json_free releases it.
 */
#ifndef IO_JSON_H
#define IO_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    IO_JSON_NULL = 0,
    IO_JSON_FALSE,
    IO_JSON_TRUE,
    IO_JSON_NUMBER,
    IO_JSON_STRING,
    IO_JSON_ARRAY,
    IO_JSON_OBJECT
} io_json_type;

typedef struct io_json_node {
    io_json_type type;
    const char *key;   /* member name inside an object (NUL-terminated, in the doc), else NULL */
    size_t key_len;    /* may contain \u0000, so compare with key_len */
    const char *str;   /* IO_JSON_STRING: decoded UTF-8, NUL-terminated */
    size_t str_len;
    double num;        /* IO_JSON_NUMBER */
    int is_int;        /* the literal had no fraction or exponent and fits in int64 */
    int64_t i;         /* its value if is_int */
    size_t count;      /* children of an array or object */
    int32_t first;     /* index of the first child, -1 if none */
    int32_t next;      /* index of the next sibling, -1 if none */
    size_t offset;     /* byte offset of the value in the text */
} io_json_node;

typedef struct io_json_doc {
    io_json_node *nodes; /* nodes[0] is the root */
    size_t n, cap;
    char *pool;          /* decoded strings */
} io_json_doc;

typedef struct io_json_limits {
    int max_depth;       /* default 64 */
    size_t max_nodes;    /* default 10,000,000 */
} io_json_limits;

/* Parses text[0..len). On success fills *doc (free with io_json_free). On failure returns
 * -1, *doc is empty, *err_at is the byte offset of the problem and *err_msg a static
 * description. lim may be NULL for the defaults. */
int io_json_parse(const char *text, size_t len, const io_json_limits *lim, io_json_doc *doc,
                  size_t *err_at, const char **err_msg);

/* Reads the file at path (at most max_bytes) and parses it as one JSON value. On failure
 * returns -1 with *doc empty and err naming the file (and the byte of a syntax error):
 *
 *     io_json_doc doc;
 *     if (io_json_load(path, 1 << 20, &doc, &err) != 0) return -1;
 *
 * Every JSON file the workbench reads back (metrics.json, manifests, baseline models) goes
 * through here. */
int io_json_load(const char *path, size_t max_bytes, io_json_doc *doc, wb_error *err);

/* Frees everything in doc; safe on an empty or failed doc. */
void io_json_free(io_json_doc *doc);

/* The member of object node obj named key (exact bytes), or NULL. */
const io_json_node *io_json_get(const io_json_doc *doc, const io_json_node *obj,
                                const char *key);

/* 1 if s[0..n) is valid UTF-8 (no overlongs, no surrogates), else 0. */
int io_json_utf8_valid(const char *s, size_t n);

/* ---- writing ----
 * The one JSON string writer: every JSON the workbench writes (inspect's lines through
 * workbench/json_out.c, run and report files through sb_jstr in io/io_sbuf.c) escapes
 * its strings here, so that the output is valid JSON (RFC 8259, UTF-8) whatever bytes come in:
 *   - '"' and '\' are escaped, control bytes (< 0x20) become \u00XX (or \n \r \t with
 *     IO_JSON_ESC_SHORT), DEL (0x7F) becomes \u007f with IO_JSON_ESC_DEL and stays raw otherwise;
 *   - valid UTF-8 is copied as it is; every byte that is not part of a valid UTF-8 sequence
 *     (a Latin-1 0xE9 in a file name, a truncated sequence, an overlong form, a surrogate)
 *     becomes U+FFFD.
 * The quotes are written too. put(ctx, bytes, n) receives the output in pieces. */
enum { IO_JSON_ESC_SHORT = 1, IO_JSON_ESC_DEL = 2 };
typedef void (*io_json_sink)(void *ctx, const char *bytes, size_t n);
void io_json_write_string(const char *s, int flags, io_json_sink put, void *ctx);

#ifdef __cplusplus
}
#endif
#endif
