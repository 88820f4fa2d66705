/* yamlflat.h — a YAML document as flat "key.path = value" pairs, for reading a run's
 * resolved config.yaml (report titles, the backbone) and for comparing two runs' configs.
 *
 *     exp_flat fl;
 *     if (exp_flat_read("runs/x/config.yaml", &fl, &err) != 0) ...;
 *     const char *arch = exp_flat_get(&fl, "backbone.arch");     // NULL when absent
 *     exp_flat_free(&fl);
 *
 * Mapping keys join with '.', sequence items get "[i]"; a sequence of scalars is one value
 * "[a, b]" and an empty mapping "{}". Pairs keep the document's order.
 */
#ifndef EXP_YAMLFLAT_H
#define EXP_YAMLFLAT_H

#include <stddef.h>

#include "base/wb_error.h"

typedef struct exp_flat {
    char **keys, **values; /* owned */
    size_t n, cap;
} exp_flat;

/* Checks YAML text before it is loaded into a document: valid syntax, exactly one document
 * (a second one after '---' is refused, not ignored) and at most max_depth nested mappings and
 * lists. Errors (code, e.g. WB_E_CONFIG) name `name`, the line and the column. Linear in n: it
 * stops at the first level too deep, so libyaml's scanner, whose work per token grows with the
 * nesting depth, never sees the rest of a deeply nested file. */
enum { EXP_YAML_MAX_DEPTH = 64 };
int exp_yaml_check(const char *text, size_t n, const char *name, int max_depth, int code, wb_error *err);

/* Reads and flattens a YAML file (at most 16 MiB); errors name the file, line and column. */
int exp_flat_read(const char *path, exp_flat *out, wb_error *err);
/* The same for text in memory; name is used in messages. */
int exp_flat_parse(const char *text, size_t n, const char *name, exp_flat *out, wb_error *err);
const char *exp_flat_get(const exp_flat *fl, const char *key);
void exp_flat_free(exp_flat *fl);

#endif
