/* config.h — the experiment config: a YAML file read with libyaml against a strict schema.
 *
 *     exp_config *cfg = NULL;
 *     const char *sets[] = {"cv.folds=3"};                    // --set overrides, may be none
 *     if (exp_config_load("configs/demo.yaml", sets, 1, &cfg, &err) != 0) {
 *         wb_error_print(&err, stderr);  // configs/demo.yaml:14:9: cv.folds: expected an
 *         return wb_exit_code(err.code); //   integer from 2 to 20, got 'ten'
 *     }
 *     long folds = exp_config_int(cfg, "cv.folds");           // 5 if the file has no cv.folds
 *     const char *labels = exp_config_str(cfg, "data.labels"); // absolute or config-relative
 *     exp_config_free(cfg);
 *
 * Every key has a type, a range or a set of values, and a default (docs/config.md lists
 * them; `workbench validate --schema` prints the table the code uses). Unknown keys, wrong
 * types, values out of range, duplicate keys, missing files and stage names the backbone
 * does not have are errors at file:line:col with the key path, and the nearest valid key is
 * suggested for a misspelt one. Relative paths resolve against the config file's directory.
 */
#ifndef EXP_CONFIG_H
#define EXP_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#include "base/wb_error.h"

typedef struct exp_config exp_config;

/* Loads and validates path, applying "key.path=value" overrides (recorded in the resolved
 * config). On success *out is a config the caller frees with exp_config_free; on failure
 * *out is NULL and err says where and why (code WB_E_CONFIG, also when it cannot be opened). */
int exp_config_load(const char *path, const char *const *sets, size_t n_sets, exp_config **out,
                    wb_error *err);
void exp_config_free(exp_config *cfg);

/* Values by key path ("cv.folds", "variants[1].unfreeze"). Every key of the schema has a
 * value (its default when the file has none); asking for a key outside the schema returns
 * NULL / 0. Strings are owned by cfg. */
const char *exp_config_str(const exp_config *cfg, const char *key);
long exp_config_int(const exp_config *cfg, const char *key);
double exp_config_double(const exp_config *cfg, const char *key);
int exp_config_bool(const exp_config *cfg, const char *key);
/* List values (features, unfreeze stages, ...): the number of items, and item i. */
size_t exp_config_list_len(const exp_config *cfg, const char *key);
const char *exp_config_list_item(const exp_config *cfg, const char *key, size_t i);
/* data.classes: the number of label values listed (0 when the key is absent or empty: binary
 * labels, data.positive against the rest; otherwise >= 2, class i is
 * exp_config_list_item(cfg, "data.classes", i)). */
enum { EXP_CONFIG_MAX_CLASSES = 64, EXP_CONFIG_MAX_NUMBERS = 32 /* values of a list of numbers (probe_C) */ };
size_t exp_config_num_classes(const exp_config *cfg);
/* Where key was set, for errors found after loading: *file the config's path (or "--set"),
 * *line and *col its position (0 for a default). Returns 1 when the file or --set gave it. */
int exp_config_where(const exp_config *cfg, const char *key, const char **file, int *line, int *col);
/* Number of entries of the variants list. */
size_t exp_config_num_variants(const exp_config *cfg);

/* What preprocess.normalize resolves to. auto with pretrained weights: the convention of the
 * architecture's weights (nn_arch_input_norm), applied inside the network's first convolution
 * to an image in [0, 1]: returns 1 and fills mean/std (either may be NULL). Otherwise 0: auto
 * without weights is unit; unit, zscore, imagenet are done by preprocessing. desc[n] gets the
 * convention in words (for the resolved config and the report). */
int exp_normalize_resolve(const char *normalize, const char *arch, const char *weights, float mean[3],
                          float std[3], char *desc, size_t n);

/* Writes the resolved config (every key, defaults filled in, paths resolved, overrides
 * applied) as YAML. */
void exp_config_write_resolved(const exp_config *cfg, FILE *f);
/* Writes the schema as a table: key, type, default, allowed values, description. */
void exp_config_write_schema(FILE *f);

#endif
