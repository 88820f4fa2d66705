/* yamlflat.c — see yamlflat.h. */
#include "experiments/config/yamlflat.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/wb_tensor.h"
#include "io/io_fs.h"
#include "io/io_sbuf.h"

enum { FLAT_MAX_BYTES = 16 << 20, FLAT_MAX_DEPTH = EXP_YAML_MAX_DEPTH, FLAT_KEY_MAX = 1024, FLAT_MAX_ENTRIES = 65536 };

static int add(exp_flat *fl, const char *key, const char *value)
{
    if (fl->n >= FLAT_MAX_ENTRIES) return -2; /* e.g. aliases expanding exponentially */
    if (fl->n == fl->cap) {
        size_t cap = fl->cap ? fl->cap * 2 : 64;
        char **k = realloc(fl->keys, cap * sizeof *k);
        if (!k) return -1;
        fl->keys = k;
        char **v = realloc(fl->values, cap * sizeof *v);
        if (!v) return -1;
        fl->values = v;
        fl->cap = cap;
    }
    char *k = strdup(key), *v = strdup(value);
    if (!k || !v) {
        free(k);
        free(v);
        return -1;
    }
    fl->keys[fl->n] = k;
    fl->values[fl->n] = v;
    fl->n++;
    return 0;
}

static const char *scalar(const yaml_node_t *n)
{
    return (const char *)n->data.scalar.value;
}

/* Flattens node under key (a buffer of FLAT_KEY_MAX bytes holding the path so far).
 * Returns 0, -1 (out of memory) or -2 (too deep / key too long). */
static int walk(exp_flat *fl, yaml_document_t *doc, yaml_node_t *node, char *key, int depth)
{
    size_t klen = strlen(key);
    if (!node) return add(fl, key, "");
    if (depth > FLAT_MAX_DEPTH) return -2;
    if (node->type == YAML_SCALAR_NODE) return add(fl, key, scalar(node));
    if (node->type == YAML_SEQUENCE_NODE) {
        int all_scalar = 1;
        for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++) {
            yaml_node_t *c = yaml_document_get_node(doc, *it);
            all_scalar &= c && c->type == YAML_SCALAR_NODE;
        }
        if (all_scalar) {
            sbuf b = {0};
            sb_printf(&b, "[");
            for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++)
                sb_printf(&b, "%s%s", it == node->data.sequence.items.start ? "" : ", ",
                          scalar(yaml_document_get_node(doc, *it)));
            sb_printf(&b, "]");
            int rc = b.oom ? -1 : add(fl, key, b.s);
            sb_free(&b);
            return rc;
        }
        int i = 0;
        for (yaml_node_item_t *it = node->data.sequence.items.start; it < node->data.sequence.items.top; it++, i++) {
            if (snprintf(key + klen, FLAT_KEY_MAX - klen, "[%d]", i) >= (int)(FLAT_KEY_MAX - klen)) return -2;
            int rc = walk(fl, doc, yaml_document_get_node(doc, *it), key, depth + 1);
            key[klen] = '\0';
            if (rc) return rc;
        }
        return 0;
    }
    /* mapping */
    if (node->data.mapping.pairs.start == node->data.mapping.pairs.top) return add(fl, key, "{}");
    for (yaml_node_pair_t *p = node->data.mapping.pairs.start; p < node->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        const char *name = k && k->type == YAML_SCALAR_NODE ? scalar(k) : "?";
        if (snprintf(key + klen, FLAT_KEY_MAX - klen, "%s%s", klen ? "." : "", name) >= (int)(FLAT_KEY_MAX - klen))
            return -2;
        int rc = walk(fl, doc, yaml_document_get_node(doc, p->value), key, depth + 1);
        key[klen] = '\0';
        if (rc) return rc;
    }
    return 0;
}

int exp_yaml_check(const char *text, size_t n, const char *name, int max_depth, int code, wb_error *err)
{
    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser)) return wb_err(err, WB_E_NOMEM, name, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
    int depth = 0, docs = 0, rc = 0;
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            rc = wb_err_at(err, (wb_code)code, name, (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                           NULL, "YAML syntax: %s%s%s", parser.problem ? parser.problem : "error",
                           parser.context ? " " : "", parser.context ? parser.context : "");
            break;
        }
        const int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        const yaml_event_type_t t = ev.type;
        /* "\0" or "\x00" in a quoted scalar: the text would end there when used as a C string
         * (a name or a path silently cut) */
        const int nul = t == YAML_SCALAR_EVENT && memchr(ev.data.scalar.value, 0, ev.data.scalar.length) != NULL;
        yaml_event_delete(&ev);
        if (nul) {
            rc = wb_err_at(err, (wb_code)code, name, line, col, NULL,
                           "a NUL character (\\0) in a value or key: refused (the text would end there)");
            break;
        }
        if (t == YAML_STREAM_END_EVENT) break;
        if (t == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
            rc = wb_err_at(err, (wb_code)code, name, line, col, NULL,
                           "a second YAML document ('---'): the file must hold exactly one");
            break;
        }
        if (t == YAML_SEQUENCE_START_EVENT || t == YAML_MAPPING_START_EVENT) {
            if (++depth > max_depth) {
                rc = wb_err_at(err, (wb_code)code, name, line, col, NULL,
                               "mappings and lists nested more than %d levels deep", max_depth);
                break;
            }
        } else if (t == YAML_SEQUENCE_END_EVENT || t == YAML_MAPPING_END_EVENT) {
            depth--;
        }
    }
    yaml_parser_delete(&parser);
    return rc;
}

int exp_flat_parse(const char *text, size_t n, const char *name, exp_flat *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    if (exp_yaml_check(text, n, name, FLAT_MAX_DEPTH, WB_E_DATA, err) != 0) return -1;
    yaml_parser_t parser;
    yaml_document_t doc;
    if (!yaml_parser_initialize(&parser)) return wb_err(err, WB_E_NOMEM, name, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, n);
    if (!yaml_parser_load(&parser, &doc)) {
        wb_err(err, WB_E_DATA, name, "%s", parser.problem ? parser.problem : "not YAML");
        err->line = (int)parser.problem_mark.line + 1;
        err->col = (int)parser.problem_mark.column + 1;
        yaml_parser_delete(&parser);
        return -1;
    }
    char key[FLAT_KEY_MAX] = "";
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    int rc = root ? walk(out, &doc, root, key, 0) : 0;
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (rc) {
        exp_flat_free(out);
        return rc == -1 ? wb_err(err, WB_E_NOMEM, name, "out of memory")
                        : wb_err(err, WB_E_DATA, name,
                                 "more than %d values (aliases expanding?), nesting deeper than %d or a key path "
                                 "longer than %d bytes",
                                 FLAT_MAX_ENTRIES, FLAT_MAX_DEPTH, FLAT_KEY_MAX - 1);
    }
    return 0;
}

int exp_flat_read(const char *path, exp_flat *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    unsigned char *text = NULL;
    size_t n = 0;
    if (io_file_read_all(path, FLAT_MAX_BYTES, &text, &n, err) != 0) return -1;
    int rc = exp_flat_parse((const char *)text, n, path, out, err);
    free(text);
    return rc;
}

const char *exp_flat_get(const exp_flat *fl, const char *key)
{
    for (size_t i = 0; i < fl->n; i++)
        if (!strcmp(fl->keys[i], key)) return fl->values[i];
    return NULL;
}

void exp_flat_free(exp_flat *fl)
{
    for (size_t i = 0; i < fl->n; i++) {
        free(fl->keys[i]);
        free(fl->values[i]);
    }
    free(fl->keys);
    free(fl->values);
    memset(fl, 0, sizeof *fl);
}
