/* config.h — the experiment config: a YAML file read with libyaml against a strict schema,
 * then read once into typed structs (exp_settings) that the rest of the program uses.
 *
 *     exp_config *cfg = NULL;
 *     const char *sets[] = {"cv.folds=3"};                    // --set overrides, may be none
 *     if (exp_config_load("configs/demo.yaml", sets, 1, &cfg, &err) != 0) {
 *         wb_error_print(&err, stderr);  // configs/demo.yaml:14:9: cv.folds: expected an
 *         return wb_exit_code(err.code); //   integer from 2 to 20, got 'ten'
 *     }
 *     const exp_settings *s = exp_config_get(cfg);
 *     int folds = s->cv.folds;                                // 5 if the file has no cv.folds
 *     const char *labels = s->data.labels;                    // absolute or config-relative
 *     for (size_t v = 0; v < s->n_variants; v++)              // sweeps already expanded
 *         if (s->variants[v].type == EXP_VARIANT_BACKBONE && s->variants[v].unfreeze == EXP_UNFREEZE_LIST)
 *             printf("%s trains %zu stage(s)\n", s->variants[v].name, s->variants[v].n_unfreeze_stages);
 *     exp_config_free(cfg);
 *
 * Every key has a type, a range or a set of values, and a default (docs/config.md lists
 * them; `workbench validate --schema` prints the table the code uses). Unknown keys, wrong
 * types, values out of range, duplicate keys, missing files and stage names the backbone
 * does not have are errors at file:line:col with the key path, and the nearest valid key is
 * suggested for a misspelt one. Relative paths resolve against the config file's directory.
 * Key paths as strings exist only inside config.c (the schema, --set, the resolved config,
 * exp_config_where); everything else reads the fields of exp_settings, so a misspelt name is a
 * compile error, not a silent 0.
 */
#ifndef EXP_CONFIG_H
#define EXP_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/wb_error.h"

typedef struct exp_config exp_config;

/* Loads and validates path, applying "key.path=value" overrides (recorded in the resolved
 * config). On success *out is a config the caller frees with exp_config_free; on failure
 * *out is NULL and err says where and why (code WB_E_CONFIG, also when it cannot be opened). */
int exp_config_load(const char *path, const char *const *sets, size_t n_sets, exp_config **out,
                    wb_error *err);
void exp_config_free(exp_config *cfg);

/* ---- the typed view: every value, read once when the config is loaded ----
 * Enum values follow the order of the schema's values (exp_config_load checks that they agree).
 * Strings and arrays are owned by the exp_config and live until exp_config_free. */

enum { EXP_CONFIG_MAX_CLASSES = 64, EXP_CONFIG_MAX_NUMBERS = 32 /* values of a list of numbers (probe_C) */,
       EXP_CONFIG_MAX_FILTERS = 32 /* columns of data.filter */, EXP_CONFIG_MAX_FILTER_VALUES = 1000 };

typedef enum { EXP_OUTPUT_PATHS_PSEUDONYMISED, EXP_OUTPUT_PATHS_NONE } exp_output_paths;
typedef enum { EXP_ON_ERROR_SKIP, EXP_ON_ERROR_FAIL } exp_on_error;
typedef enum { EXP_TASK_IMAGE, EXP_TASK_PATCH } exp_task;
typedef enum { EXP_PATCH_UNIT_PX, EXP_PATCH_UNIT_MM } exp_patch_unit;
typedef enum { EXP_VOI_APPLY, EXP_VOI_IGNORE } exp_voi;
typedef enum { EXP_INTENSITY_VOI, EXP_INTENSITY_PERCENTILE } exp_intensity;
typedef enum { EXP_NORMALIZE_AUTO, EXP_NORMALIZE_UNIT, EXP_NORMALIZE_ZSCORE, EXP_NORMALIZE_IMAGENET } exp_normalize;
typedef enum { EXP_VARIANT_BASELINE, EXP_VARIANT_BACKBONE } exp_variant_type;
typedef enum { EXP_UNFREEZE_NONE, EXP_UNFREEZE_ALL, EXP_UNFREEZE_LIST } exp_unfreeze;
typedef enum { EXP_BN_FROZEN, EXP_BN_TRAIN } exp_bn;
typedef enum { EXP_HEAD_INIT_PROBE, EXP_HEAD_INIT_RANDOM } exp_head_init;
typedef enum { EXP_OPTIMIZER_SGD, EXP_OPTIMIZER_ADAMW } exp_optimizer;
typedef enum { EXP_SCHEDULE_CONSTANT, EXP_SCHEDULE_COSINE, EXP_SCHEDULE_STEP } exp_schedule;
typedef enum { EXP_CLASS_WEIGHT_NONE, EXP_CLASS_WEIGHT_BALANCED } exp_class_weight;
typedef enum { EXP_AGGREGATE_MEAN, EXP_AGGREGATE_MAX } exp_aggregate;
typedef enum { EXP_THRESHOLD_YOUDEN, EXP_THRESHOLD_SPECIFICITY } exp_threshold;
typedef enum { EXP_SPLIT_OVERLAP_REFUSE, EXP_SPLIT_OVERLAP_DROP_TRAIN } exp_split_overlap;
/* subsets of a fixed list, as bits */
enum { EXP_FEATURES_FIRST_ORDER = 1, EXP_FEATURES_GLCM = 2, EXP_FEATURES_SHAPE = 4 };
enum { EXP_LEVEL_IMAGE = 1, EXP_LEVEL_BREAST = 2 };
enum { EXP_REPORT_HTML = 1, EXP_REPORT_MD = 2, EXP_REPORT_CSV = 4, EXP_REPORT_TEX = 8 };

/* data.patch.box: the CSV columns of a lesion box, in one of its two forms (NULL: not given). */
typedef struct exp_settings_box {
    int centre;                /* 1: cx, cy, r (centre and radius); 0: x, y, w, h (corner and size) */
    const char *x, *y, *w, *h; /* corner form */
    const char *cx, *cy, *r;   /* centre form */
    int y_bottom;              /* y_origin: bottom (y counts up from the last row) */
} exp_settings_box;

typedef struct exp_settings_patch { /* data.patch (data.task: patch) */
    exp_settings_box box;
    exp_patch_unit unit;
    double size, jitter, box_margin, min_tissue, stride;
    int background;  /* background patches per image without a box */
    int whole_image; /* score held-out whole images with a sliding window */
} exp_settings_patch;

/* One column of data.filter: a row is kept when its cell is one of values (compared as text). */
typedef struct exp_settings_filter {
    const char *column;
    const char *const *values;
    size_t n_values;
    int line, col;             /* where the config file names the column (for errors found in the CSV) */
} exp_settings_filter;

typedef struct exp_settings_data {
    const char *dicom_dir, *labels; /* resolved paths */
    const char *file_column, *label_column, *group_column;
    const char *positive;           /* binary labels (n_classes 0) */
    const char *const *classes;     /* multi-class: the label values in class order */
    size_t n_classes;               /* 0: binary labels; otherwise >= 2 */
    exp_output_paths output_paths;
    exp_on_error on_error;
    long memory_mb;                 /* budget of the preprocessed images (and cached prefixes) */
    exp_task task;
    exp_settings_patch patch;
    const exp_settings_filter *filters; /* data.filter, in the file's order (all must match) */
    size_t n_filters;
} exp_settings_data;

typedef struct exp_settings_preprocess {
    int height, width, margin;
    int keep_aspect, flip, clahe;
    exp_voi voi;
    exp_intensity intensity;
    double percentile_low, percentile_high;
    exp_normalize normalize;
    const char *cache_dir; /* "" : RUNS_DIR/cache */
} exp_settings_preprocess;

typedef struct exp_settings_backbone {
    const char *arch;
    const char *weights; /* resolved path; "" : random initialisation */
    int in_channels;
} exp_settings_backbone;

typedef struct exp_stage_scale { /* one entry of variants[].lr_scale */
    const char *stage;
    double scale;
} exp_stage_scale;

/* One variant after sweep expansion. Keys of the other type keep their zero value. */
typedef struct exp_settings_variant {
    const char *name;
    exp_variant_type type;
    /* baseline */
    unsigned features; /* EXP_FEATURES_* */
    double C;
    /* backbone */
    exp_unfreeze unfreeze;
    const char *const *unfreeze_stages; /* EXP_UNFREEZE_LIST: the listed stages (may be none) */
    size_t n_unfreeze_stages;
    exp_bn bn;
    int bn_affine;
    const exp_stage_scale *lr_scale;
    size_t n_lr_scale;
    exp_head_init head_init;
    const double *probe_C; /* the probe's grid of C, in the config's order */
    size_t n_probe_C;
    const char *sweep_group; /* "" : none */
} exp_settings_variant;

typedef struct exp_settings_augment {
    int flip;
    double rotate_deg, scale, intensity;
} exp_settings_augment;

typedef struct exp_settings_train {
    int epochs, batch_size;
    exp_optimizer optimizer;
    double lr, momentum, weight_decay;
    int nesterov;
    exp_schedule schedule;
    int step_epochs, warmup_epochs;
    double step_gamma, grad_clip;
    exp_class_weight class_weight;
    exp_settings_augment augment;
    double val_fraction;
    int patience, save_weights;
} exp_settings_train;

typedef struct exp_settings_cv {
    int folds, repeats, stratify;   /* with split_column: 1 fold (the fixed split), 1 repeat */
    const char *split_column;       /* "" : cross-validation; else the labels column of a fixed split */
    const char *const *split_train, *const *split_test; /* the values of the two sides */
    size_t n_split_train, n_split_test;
    exp_split_overlap split_overlap;
} exp_settings_cv;

typedef struct exp_settings_metrics {
    unsigned levels; /* EXP_LEVEL_*: always both */
    exp_aggregate breast_aggregate;
    double specificity;
    exp_threshold threshold;
    const char *reference;  /* a variant's name (the first variant's when the file names none) */
    size_t reference_index; /* its index in variants */
} exp_settings_metrics;

typedef struct exp_settings_report {
    unsigned formats;  /* EXP_REPORT_* */
    const char *title; /* "" : the experiment name */
} exp_settings_report;

typedef struct exp_settings {
    const char *name;
    uint64_t seed;
    int threads;
    exp_settings_data data;
    exp_settings_preprocess preprocess;
    exp_settings_backbone backbone;
    const exp_settings_variant *variants;
    size_t n_variants;
    exp_settings_train train;
    exp_settings_cv cv;
    exp_settings_metrics metrics;
    exp_settings_report report;
} exp_settings;

/* The typed view of a loaded config (never NULL; owned by cfg). */
const exp_settings *exp_config_get(const exp_config *cfg);

/* The config's word for an enum value ("backbone", "youden", ...), as the file writes it. */
const char *exp_variant_type_name(exp_variant_type t);
const char *exp_normalize_name(exp_normalize n);
const char *exp_threshold_name(exp_threshold t);
const char *exp_output_paths_name(exp_output_paths p);
const char *exp_on_error_name(exp_on_error e);

/* Where key (a schema key path such as "data.patch.size") was set, for errors found after
 * loading: *file the config's path (or "--set"), *line and *col its position (0 for a
 * default). Returns 1 when the file or --set gave it. */
int exp_config_where(const exp_config *cfg, const char *key, const char **file, int *line, int *col);

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
