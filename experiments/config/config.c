/* config.c — strict, schema-driven experiment config over libyaml. See config.h.
 *
 * The YAML document is walked once; each scalar or list lands in a flat table of entries
 * keyed by its full path ("train.lr", "variants[1].unfreeze") with its line and column.
 * Defaults fill the keys the file does not set; cross-key checks (variant names, stage
 * names against the backbone, the reference variant) run last.
 */
#include "experiments/config/config.h"
#include "io/io_fs.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

#include "experiments/config/yamlflat.h"
#include "nets/nn.h"

typedef enum {
    T_STR = 0, /* any non-empty string */
    T_NAME,    /* [A-Za-z0-9_.-]+, at most 64 characters */
    T_INT,
    T_FLOAT,
    T_BOOL,
    T_ENUM,    /* one of vals */
    T_FILE,    /* path of an existing file, resolved against the config's directory */
    T_DIR,     /* path of an existing directory, likewise */
    T_OUTDIR,  /* a directory path that need not exist yet */
    T_SUBSET,  /* a list of distinct values from vals */
    T_STAGES,  /* none | all | a list of stage names of the backbone */
    T_STAGEMAP, /* a mapping stage name -> number (lr_scale) */
    T_LABELS,  /* a list of distinct names (label values), free values */
    T_NUMBERS, /* a list of distinct numbers in [lo, hi] (a single number is a list of one) */
    T_BOXMAP,  /* a mapping of box fields (vals) -> CSV column names (data.patch.box) */
    T_FILTERMAP /* a mapping of CSV column -> list of values (data.filter) */
} key_type;

static const char *const type_names[] = {"string", "name", "integer", "number", "boolean", "enum",
                                         "file", "directory", "directory", "list", "stages",
                                         "map stage: number", "list of names", "list of numbers",
                                         "map field: column", "map column: [values]"};

typedef struct key_def {
    const char *key; /* "train.lr"; variant keys as "variants[].unfreeze" */
    key_type type;
    const char *def; /* default as text; NULL = required; "" = empty (none) */
    double lo, hi;   /* for T_INT / T_FLOAT (and the values of T_STAGEMAP) */
    const char *vals; /* for T_ENUM / T_SUBSET: "a|b|c" */
    const char *variant_type; /* variant keys only for this type ("baseline"/"backbone"), or NULL */
    const char *doc;
} key_def;

#define ARCHS "resnet18|resnet34|resnet50|resnet20|resnet32|resnet44|resnet56|mobilenet_v1"

static const key_def schema[] = {
    {"name", T_NAME, NULL, 0, 0, NULL, NULL, "experiment name, used in the run directory name"},
    {"seed", T_INT, "0", 0, 2147483647.0, NULL, NULL, "seed of every random choice (folds, init, augmentation)"},
    {"threads", T_INT, "2", 1, 256, NULL, NULL, "threads for OpenBLAS and our loops; part of the reproducibility key"},
    {"data.dicom_dir", T_DIR, NULL, 0, 0, NULL, NULL, "directory the labels' file column is relative to"},
    {"data.labels", T_FILE, NULL, 0, 0, NULL, NULL, "labels CSV, one row per image"},
    {"data.file_column", T_STR, "file", 0, 0, NULL, NULL, "CSV column with the DICOM path"},
    {"data.label_column", T_STR, "label", 0, 0, NULL, NULL, "CSV column with the label"},
    {"data.positive", T_STR, "malignant", 0, 0, NULL, NULL, "label value of the positive class"},
    {"data.classes", T_LABELS, "", 0, 0, NULL, NULL, "multi-class: the label values, in class order (the class index is the position); empty: binary, data.positive against the rest"},
    {"data.group_column", T_STR, "patient_id", 0, 0, NULL, NULL, "CSV column that groups images (patient): no group spans two folds"},
    {"data.filter", T_FILTERMAP, "", 0, 0, NULL, NULL, "keep only the labels CSV's rows whose column has one of the listed values, e.g. {view: [CC, MLO], site_id: [1]} (every listed column must match; values compared as text); the run reports the rows each filter left out"},
    {"data.output_paths", T_ENUM, "pseudonymised", 0, 0, "pseudonymised|none", NULL, "what manifest.csv, excluded.csv and errors show of a file: its path relative to dicom_dir with the patient id replaced by the pseudonym, or none (SOP UID and SHA-256 only)"},
    {"data.on_error", T_ENUM, "skip", 0, 0, "skip|fail", NULL, "unreadable images: skip (listed as excluded) or fail the run (exit 1)"},
    {"data.memory_mb", T_INT, "1024", 0, 16777216, NULL, NULL, "memory for the preprocessed images (and fine-tuned variants' cached frozen prefixes): beyond it images are read from a spill file next to the cache and prefixes are recomputed each step; same results, memory flat in the cohort size"},
    {"data.task", T_ENUM, "image", 0, 0, "image|patch", NULL, "image: whole mammograms; patch: lesion-centred and background patches (data.patch), then the patch classifier slid over whole images"},
    {"data.patch.box", T_BOXMAP, "", 0, 0, "x|y|w|h|cx|cy|r|y_origin", NULL, "lesion box columns: {x: bbox_x, y: bbox_y, w: bbox_w, h: bbox_h} (corner and size) or {cx: X, cy: Y, r: RADIUS} (centre and radius), pixels of the stored image; y_origin: bottom when y counts up from the last row (mini-MIAS)"},
    {"data.patch.unit", T_ENUM, "px", 0, 0, "px|mm", NULL, "unit of size, jitter and stride: stored-image pixels, or mm through the pixel spacing"},
    {"data.patch.size", T_FLOAT, "64", 1, 4096, NULL, NULL, "patch side (a box larger than the patch gets a patch of the box plus box_margin)"},
    {"data.patch.jitter", T_FLOAT, "0", 0, 4096, NULL, NULL, "seeded uniform shift of a lesion patch's centre, up to this much along each axis"},
    {"data.patch.box_margin", T_FLOAT, "0.1", 0, 2, NULL, NULL, "a box larger than the patch: the patch is the box's longer side times 1 + 2 box_margin"},
    {"data.patch.background", T_INT, "2", 0, 1000, NULL, NULL, "background patches sampled from the breast of each image without a box (seeded)"},
    {"data.patch.min_tissue", T_FLOAT, "0.5", 0.01, 1, NULL, NULL, "share of a background patch or scored window inside the breast mask"},
    {"data.patch.stride", T_FLOAT, "0", 0, 4096, NULL, NULL, "sliding-window step over whole images (0: half the patch size)"},
    {"data.patch.whole_image", T_BOOL, "true", 0, 0, NULL, NULL, "score each held-out image with the fold's patch classifier as a sliding window (max over the heat map)"},
    {"preprocess.height", T_INT, "224", 32, 2048, NULL, NULL, "network input height in pixels"},
    {"preprocess.width", T_INT, "224", 32, 2048, NULL, NULL, "network input width in pixels"},
    {"preprocess.keep_aspect", T_BOOL, "true", 0, 0, NULL, NULL, "pad to keep the breast's aspect ratio instead of stretching"},
    {"preprocess.margin", T_INT, "8", 0, 4096, NULL, NULL, "pixels (of the decoded image) added around the breast's bounding box"},
    {"preprocess.flip", T_BOOL, "true", 0, 0, NULL, NULL, "mirror so every breast has its chest wall on the same side"},
    {"preprocess.voi", T_ENUM, "apply", 0, 0, "apply|ignore", NULL, "apply the DICOM VOI LUT (window) or keep modality values"},
    {"preprocess.intensity", T_ENUM, "voi", 0, 0, "voi|percentile", NULL, "intensity range: the VOI result, or percentiles inside the breast"},
    {"preprocess.percentile_low", T_FLOAT, "0.5", 0, 50, NULL, NULL, "lower percentile when intensity is percentile"},
    {"preprocess.percentile_high", T_FLOAT, "99.5", 50, 100, NULL, NULL, "upper percentile when intensity is percentile"},
    {"preprocess.normalize", T_ENUM, "auto", 0, 0, "auto|unit|zscore|imagenet", NULL, "scaling: auto (the convention of the backbone's pretrained weights, applied in conv1; [0,1] without weights), [0,1], z-score inside the breast, or ImageNet mean/std averaged over RGB"},
    {"preprocess.clahe", T_BOOL, "false", 0, 0, NULL, NULL, "adaptive histogram equalisation (ITK)"},
    {"preprocess.cache_dir", T_OUTDIR, "", 0, 0, NULL, NULL, "preprocessed-image cache (created if missing); empty: RUNS_DIR/cache"},
    {"backbone.arch", T_ENUM, "resnet18", 0, 0, ARCHS, NULL, "backbone architecture"},
    {"backbone.weights", T_FILE, "", 0, 0, NULL, NULL, "pretrained weights (.pth, .th, .safetensors, .h5); empty = random initialisation"},
    {"backbone.in_channels", T_INT, "1", 1, 3, NULL, NULL, "1 (conv1 weights summed over RGB) or 3 (grey replicated)"},
    {"variants[].name", T_NAME, NULL, 0, 0, NULL, NULL, "variant name, unique"},
    {"variants[].type", T_ENUM, NULL, 0, 0, "baseline|backbone", NULL, "baseline (radiomic features + logistic regression) or backbone"},
    {"variants[].features", T_SUBSET, "first_order,glcm,shape", 0, 0, "first_order|glcm|shape", "baseline", "feature groups of the baseline"},
    {"variants[].C", T_FLOAT, "1.0", 1e-6, 1e6, NULL, "baseline", "inverse L2 strength of the logistic regression (as scikit-learn's C)"},
    {"variants[].unfreeze", T_STAGES, "none", 0, 0, NULL, "backbone", "stages that train: none (linear head on frozen features), a list, or all"},
    {"variants[].bn", T_ENUM, "frozen", 0, 0, "frozen|train", "backbone", "batch norm in trained stages: running statistics frozen, or updated"},
    {"variants[].bn_affine", T_BOOL, "true", 0, 0, NULL, "backbone", "with bn: frozen, whether BN's scale and shift still train"},
    {"variants[].lr_scale", T_STAGEMAP, "", 0, 1000, NULL, "backbone", "learning-rate factor per stage, e.g. {layer3: 0.1}"},
    {"variants[].head_init", T_ENUM, "probe", 0, 0, "probe|random", "backbone", "fine-tuned variants: the head starts from the linear probe fitted on the fold's frozen features (linear probing, then fine-tuning), or from a seeded random init; unfreeze: none is the probe itself"},
    {"variants[].probe_C", T_NUMBERS, "0.0001,0.0003,0.001,0.003,0.01,0.03,0.1,0.3,1,3,10,30,100", 1e-8, 1e8, NULL, "backbone", "the linear probe's grid of C (inverse L2 strength, as scikit-learn's), chosen by validation log loss"},
    {"variants[].sweep", T_ENUM, "none", 0, 0, "none|unfreeze", "backbone", "unfreeze: the variant expands into <name>_0 .. <name>_K, training the deepest 0 .. K of sweep_stages (0: the frozen probe), on the same folds"},
    {"variants[].sweep_stages", T_STAGES, "all", 0, 0, NULL, "backbone", "with sweep: unfreeze, the backbone stages swept over (all: every stage but the head)"},
    {"variants[].sweep_group", T_NAME, "", 0, 0, NULL, "backbone", "variants of one group are plotted against their number of trainable stages (set by sweep: to the sweep variant's name)"},
    {"train.epochs", T_INT, "10", 1, 1000, NULL, NULL, "maximum epochs per fold"},
    {"train.batch_size", T_INT, "16", 1, 256, NULL, NULL, "images per step"},
    {"train.optimizer", T_ENUM, "sgd", 0, 0, "sgd|adamw", NULL, "optimizer"},
    {"train.lr", T_FLOAT, "0.01", 1e-8, 10, NULL, NULL, "base learning rate"},
    {"train.momentum", T_FLOAT, "0.9", 0, 0.999, NULL, NULL, "SGD momentum (AdamW: beta1)"},
    {"train.nesterov", T_BOOL, "false", 0, 0, NULL, NULL, "Nesterov momentum (SGD)"},
    {"train.weight_decay", T_FLOAT, "0.0001", 0, 1, NULL, NULL, "weight decay (decoupled for AdamW)"},
    {"train.schedule", T_ENUM, "cosine", 0, 0, "constant|cosine|step", NULL, "learning-rate schedule over the epochs"},
    {"train.step_epochs", T_INT, "5", 1, 1000, NULL, NULL, "step schedule: epochs between decays"},
    {"train.step_gamma", T_FLOAT, "0.1", 1e-6, 1, NULL, NULL, "step schedule: decay factor"},
    {"train.warmup_epochs", T_INT, "0", 0, 100, NULL, NULL, "linear warm-up epochs"},
    {"train.grad_clip", T_FLOAT, "0", 0, 1e6, NULL, NULL, "clip the global gradient norm to this (0 = off; a variant whose head starts from the linear probe then clips at 1)"},
    {"train.class_weight", T_ENUM, "balanced", 0, 0, "none|balanced", NULL, "loss weights per class (balanced: n / (k * n_class))"},
    {"train.augment.flip", T_BOOL, "false", 0, 0, NULL, NULL, "random vertical flips (a frozen prefix is cached for each image and its flipped copy)"},
    {"train.augment.rotate_deg", T_FLOAT, "0", 0, 45, NULL, NULL, "random rotation up to this many degrees"},
    {"train.augment.scale", T_FLOAT, "0", 0, 0.5, NULL, NULL, "random scaling up to this fraction"},
    {"train.augment.intensity", T_FLOAT, "0", 0, 0.5, NULL, NULL, "random brightness/contrast jitter up to this fraction"},
    {"train.val_fraction", T_FLOAT, "0.2", 0.05, 0.5, NULL, NULL, "share of each training fold's patients held out for early stopping and the threshold"},
    {"train.patience", T_INT, "3", 0, 1000, NULL, NULL, "early stopping: epochs without validation AUC gain (0 = off)"},
    {"train.save_weights", T_BOOL, "false", 0, 0, NULL, NULL, "save each fold's fine-tuned network (kept epoch) as models/r<R>_f<F>_<variant>.safetensors, and each fold's fitted radiomics baseline (binary runs) as models/r<R>_f<F>_<variant>.baseline.json (standardisation, logistic-regression coefficients, features; what `workbench bundle` carries as the reference)"},
    {"cv.folds", T_INT, "5", 2, 20, NULL, NULL, "folds of the stratified group k-fold"},
    {"cv.repeats", T_INT, "1", 1, 100, NULL, NULL, "repeats of the whole CV with derived seeds"},
    {"cv.split_column", T_STR, "", 0, 0, NULL, NULL, "a fixed train/test split instead of cross-validation: the labels CSV column that holds it (e.g. split, as workbench import writes it); the model is fitted on the train rows (train.val_fraction of their patients held out for early stopping and the threshold) and evaluated once on the test rows; empty: cross-validation"},
    {"cv.split_train", T_LABELS, "train,training", 0, 0, NULL, NULL, "with split_column: the values that mark a training row"},
    {"cv.split_test", T_LABELS, "test", 0, 0, NULL, NULL, "with split_column: the values that mark a test row (rows with any other value are left out and counted)"},
    {"cv.split_overlap", T_ENUM, "refuse", 0, 0, "refuse|drop_train", NULL, "with split_column: a patient with rows on both sides is refused (exit 3, naming two lines), or drop_train: that patient's training rows are left out (counted)"},
    {"cv.stratify", T_BOOL, "true", 0, 0, NULL, NULL, "stratify folds (and each training fold's validation split) by the patient's label; false: balance sizes only, so a fold may miss a class"},
    {"metrics.levels", T_SUBSET, "image,breast", 0, 0, "image|breast", NULL, "levels metrics are computed at: both, always (a list without one of them is refused)"},
    {"metrics.breast_aggregate", T_ENUM, "mean", 0, 0, "mean|max", NULL, "how a breast's view scores combine"},
    {"metrics.specificity", T_FLOAT, "0.9", 0.01, 0.99, NULL, NULL, "report sensitivity at this specificity"},
    {"metrics.threshold", T_ENUM, "youden", 0, 0, "youden|specificity", NULL, "decision threshold chosen on validation data"},
    {"metrics.reference", T_STR, "baseline", 0, 0, NULL, NULL, "variant the others are compared with (ΔAUC, DeLong); default the first if none is named baseline"},
    {"report.formats", T_SUBSET, "html,md,csv,tex", 0, 0, "html|md|csv|tex", NULL, "report files written besides metrics.json (metrics.csv is always written: csv changes nothing)"},
    {"report.title", T_STR, "", 0, 0, NULL, NULL, "report title (default: the experiment name)"},
};
#define N_KEYS (sizeof schema / sizeof schema[0])

/* ---- the entry table ---- */

typedef struct entry {
    char *key;            /* full path, "variants[1].unfreeze" */
    const key_def *def;
    char *text;           /* scalar value (resolved path for files); NULL for lists */
    char **items;         /* list values */
    size_t n_items;
    int line, col;        /* where it was set; 0 for defaults */
    int from_set;         /* set on the command line */
    int *item_pos;        /* T_FILTERMAP: line and column of each item's column name (2 per item) */
} entry;

struct exp_config {
    char *path, *dir;
    entry *e;
    size_t n, cap;
    size_t n_variants;
    char **sets;
    size_t n_sets;
    exp_settings view;               /* the typed view, filled once at the end of exp_config_load */
    exp_settings_variant *variants;  /* view.variants */
};

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);
    if (d) memcpy(d, s, n);
    return d;
}

static void entry_free(entry *e)
{
    free(e->key);
    free(e->text);
    for (size_t i = 0; i < e->n_items; i++) free(e->items[i]);
    free(e->items);
    free(e->item_pos);
}

void exp_config_free(exp_config *cfg)
{
    if (!cfg) return;
    for (size_t v = 0; cfg->variants && v < cfg->view.n_variants; v++) {
        exp_settings_variant *vs = &cfg->variants[v];
        for (size_t j = 0; j < vs->n_lr_scale; j++) free((char *)vs->lr_scale[j].stage); /* allocated by view_fill */
        free((exp_stage_scale *)vs->lr_scale);
        free((double *)vs->probe_C);
    }
    free(cfg->variants);
    for (size_t i = 0; i < cfg->view.data.n_filters; i++) free((const char **)cfg->view.data.filters[i].values);
    free((exp_settings_filter *)cfg->view.data.filters);
    free((const char **)cfg->view.cv.split_train);
    free((const char **)cfg->view.cv.split_test);
    for (size_t i = 0; i < cfg->n; i++) entry_free(&cfg->e[i]);
    for (size_t i = 0; i < cfg->n_sets; i++) free(cfg->sets[i]);
    free(cfg->sets);
    free(cfg->e);
    free(cfg->path);
    free(cfg->dir);
    free(cfg);
}

static entry *find_entry(const exp_config *cfg, const char *key)
{
    for (size_t i = 0; i < cfg->n; i++)
        if (!strcmp(cfg->e[i].key, key)) return &cfg->e[i];
    return NULL;
}

/* The text of a scalar key while loading (before the typed view exists); NULL if absent. */
static const char *key_text(const exp_config *cfg, const char *key)
{
    const entry *e = find_entry(cfg, key);
    return e ? e->text : NULL;
}

static entry *add_entry(exp_config *cfg, const char *key, const key_def *def, wb_error *err)
{
    if (cfg->n == cfg->cap) {
        size_t cap = cfg->cap ? cfg->cap * 2 : 64;
        entry *e = realloc(cfg->e, cap * sizeof *e);
        if (!e) {
            wb_err(err, WB_E_NOMEM, cfg->path, "out of memory");
            return NULL;
        }
        cfg->e = e;
        cfg->cap = cap;
    }
    entry *e = &cfg->e[cfg->n];
    memset(e, 0, sizeof *e);
    e->key = xstrdup(key);
    if (!e->key) {
        wb_err(err, WB_E_NOMEM, cfg->path, "out of memory");
        return NULL;
    }
    e->def = def;
    cfg->n++;
    return e;
}

static int add_item(entry *e, const char *s)
{
    char **it = realloc(e->items, (e->n_items + 1) * sizeof *it);
    if (!it) return -1;
    e->items = it;
    if (!(it[e->n_items] = xstrdup(s))) return -1;
    e->n_items++;
    return 0;
}

/* Schema key of a full path: "variants[3].bn" -> "variants[].bn". */
static void schema_key(const char *path, char *out, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; path[i] && j + 1 < n; i++) {
        out[j++] = path[i];
        if (path[i] == '[') {
            while (path[i + 1] && path[i + 1] != ']') i++;
        }
    }
    out[j] = '\0';
}

static const key_def *lookup(const char *path)
{
    char k[256];
    schema_key(path, k, sizeof k);
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strcmp(schema[i].key, k)) return &schema[i];
    return NULL;
}

/* Is prefix ("train", "train.augment", "variants[]") a section of the schema? */
static int is_section(const char *prefix)
{
    size_t n = strlen(prefix);
    for (size_t i = 0; i < N_KEYS; i++)
        if (!strncmp(schema[i].key, prefix, n) && schema[i].key[n] == '.') return 1;
    return 0;
}

static size_t levenshtein(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63) return 99;
    size_t d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            size_t c = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < c) c = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < c) c = d[i][j - 1] + 1;
            d[i][j] = c;
        }
    return d[la][lb];
}

/* The closest valid key name under prefix for a misspelt one, or NULL. */
static const char *suggest(const char *prefix, const char *name, char *buf, size_t n)
{
    char sk[256];
    schema_key(prefix, sk, sizeof sk);
    size_t pl = strlen(sk), best = 99;
    buf[0] = '\0';
    for (size_t i = 0; i < N_KEYS; i++) {
        const char *k = schema[i].key;
        if (pl) {
            if (strncmp(k, sk, pl) || k[pl] != '.') continue;
            k += pl + 1;
        }
        char part[128];
        size_t m = strcspn(k, ".[");
        if (m >= sizeof part) continue;
        memcpy(part, k, m);
        part[m] = '\0';
        size_t d = levenshtein(name, part);
        if (d < best) {
            best = d;
            snprintf(buf, n, "%s", part);
        }
    }
    size_t len = strlen(name);
    return best <= (len < 5 ? 1u : 3u) ? buf : NULL;
}

/* ---- value checks ---- */

static int in_vals(const char *vals, const char *v)
{
    size_t n = strlen(v);
    for (const char *p = vals; *p;) {
        size_t m = strcspn(p, "|");
        if (m == n && !strncmp(p, v, n)) return 1;
        p += m;
        if (*p == '|') p++;
    }
    return 0;
}

static int parse_long(const char *s, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end) return 0;
    *out = v;
    return 1;
}

static int parse_dbl(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return 0;
    *out = v;
    return 1;
}

typedef struct ctx {
    exp_config *cfg;
    const char *file; /* for messages: the config path, or "--set" */
    wb_error *err;
    yaml_document_t *doc;
    size_t visits;
    const char *const *sets;
    size_t n_sets;
} ctx;

/* Is key overridden by a --set? */
static int overridden(const ctx *c, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < c->n_sets; i++)
        if (!strncmp(c->sets[i], key, n) && c->sets[i][n] == '=') return 1;
    return 0;
}

static int fail_at(ctx *c, int line, int col, const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static int fail_at(ctx *c, int line, int col, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wb_err_v(c->err, WB_E_CONFIG, c->file, line, col, key, fmt, ap);
    va_end(ap);
    return -1;
}

/* Resolves a relative path against the config's directory; returns a malloc'd string. */
static char *resolve_path(const exp_config *cfg, const char *p)
{
    if (p[0] == '/' || !cfg->dir[0]) return xstrdup(p);
    size_t n = strlen(cfg->dir) + strlen(p) + 2;
    char *r = malloc(n);
    if (r) snprintf(r, n, "%s/%s", cfg->dir, p);
    return r;
}

/* Where to get a missing weight file: the README beside it when there is one (the shared
 * weights' README lists each file's source), else what the key accepts. */
static const char *weights_hint(const char *resolved)
{
    static char buf[4300];
    const char *slash = strrchr(resolved, '/');
    struct stat st;
    if (slash) {
        char readme[4200];
        snprintf(readme, sizeof readme, "%.*s/README.md", (int)(slash - resolved), resolved);
        if (stat(readme, &st) == 0) {
            snprintf(buf, sizeof buf, "%s says where to get each weight file", readme);
            return buf;
        }
        snprintf(buf, sizeof buf, "%.*s", (int)(slash - resolved), resolved);
        if (strstr(buf, "shared/weights"))
            return "the shared pretrained weights and where to get them are listed in ../shared/weights/README.md";
    }
    return "give a torchvision .pth, akamaster .th, timm .safetensors or Keras .h5 file, or leave "
           "backbone.weights empty for a random initialisation";
}

static int is_name(const char *v)
{
    size_t n = strlen(v);
    return n > 0 && n <= 64 && strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") == n;
}

/* Adds one label value to a T_LABELS list: a name, not listed before, at most EXP_CONFIG_MAX_CLASSES. */
static int add_label(ctx *c, entry *e, const char *v, int line, int col)
{
    if (!is_name(v))
        return fail_at(c, line, col, e->key, "expected label values of 1 to 64 letters, digits, '_', '.' or '-', got '%s'", v);
    for (size_t j = 0; j < e->n_items; j++)
        if (!strcmp(e->items[j], v)) return fail_at(c, line, col, e->key, "'%s' is listed twice", v);
    if (e->n_items >= EXP_CONFIG_MAX_CLASSES)
        return fail_at(c, line, col, e->key, "at most %d classes", EXP_CONFIG_MAX_CLASSES);
    if (add_item(e, v) != 0) return wb_err(c->err, WB_E_NOMEM, c->file, "out of memory");
    return 0;
}

/* Adds one number to a T_NUMBERS list: in range, not listed before, at most EXP_CONFIG_MAX_NUMBERS. */
static int add_number(ctx *c, entry *e, const char *v, int line, int col)
{
    double x, y;
    if (!parse_dbl(v, &x) || x < e->def->lo || x > e->def->hi)
        return fail_at(c, line, col, e->key, "expected numbers from %g to %g, got '%s'", e->def->lo, e->def->hi, v);
    for (size_t j = 0; j < e->n_items; j++)
        if (parse_dbl(e->items[j], &y) && y == x) return fail_at(c, line, col, e->key, "'%s' is listed twice", v);
    if (e->n_items >= EXP_CONFIG_MAX_NUMBERS)
        return fail_at(c, line, col, e->key, "at most %d values", EXP_CONFIG_MAX_NUMBERS);
    if (add_item(e, v) != 0) return wb_err(c->err, WB_E_NOMEM, c->file, "out of memory");
    return 0;
}

/* Checks a scalar against its definition; stores it (resolved for paths) in e->text. */
static int check_scalar(ctx *c, entry *e, const char *v, int line, int col)
{
    const key_def *d = e->def;
    const char *k = e->key;
    long iv;
    double dv;
    switch (d->type) {
    case T_STR:
        if (!v[0] && d->def && d->def[0]) return fail_at(c, line, col, k, "must not be empty");
        break;
    case T_NAME: {
        if (!is_name(v))
            return fail_at(c, line, col, k, "expected a name of 1 to 64 letters, digits, '_', '.' or '-', got '%s'", v);
        break;
    }
    case T_INT:
        if (!parse_long(v, &iv) || iv < d->lo || iv > d->hi)
            return fail_at(c, line, col, k, "expected an integer from %.0f to %.0f, got '%s'", d->lo, d->hi, v);
        break;
    case T_FLOAT:
        if (!parse_dbl(v, &dv) || dv < d->lo || dv > d->hi)
            return fail_at(c, line, col, k, "expected a number from %g to %g, got '%s'", d->lo, d->hi, v);
        break;
    case T_BOOL:
        if (strcmp(v, "true") && strcmp(v, "false"))
            return fail_at(c, line, col, k, "expected true or false, got '%s'", v);
        break;
    case T_ENUM:
        if (!in_vals(d->vals, v)) return fail_at(c, line, col, k, "expected one of %s, got '%s'", d->vals, v);
        break;
    case T_FILE:
    case T_DIR:
    case T_OUTDIR: {
        if (!v[0]) {
            if (d->def && !d->def[0]) break; /* optional path left empty */
            return fail_at(c, line, col, k, "expected a path, got an empty value");
        }
        char *r = resolve_path(c->cfg, v);
        if (!r) return wb_err(c->err, WB_E_NOMEM, c->file, "out of memory");
        struct stat st;
        int rc = 0;
        if (d->type != T_OUTDIR) {
            if (stat(r, &st) != 0 && !strcmp(k, "backbone.weights"))
                rc = fail_at(c, line, col, k, "'%s' (resolved to %s): %s; %s", v, r, strerror(errno), weights_hint(r));
            else if (stat(r, &st) != 0)
                rc = fail_at(c, line, col, k, "'%s' (resolved to %s): %s", v, r, strerror(errno));
            else if (d->type == T_FILE && !S_ISREG(st.st_mode))
                rc = fail_at(c, line, col, k, "'%s' (resolved to %s) is not a file", v, r);
            else if (d->type == T_DIR && !S_ISDIR(st.st_mode))
                rc = fail_at(c, line, col, k, "'%s' (resolved to %s) is not a directory", v, r);
        }
        if (rc) {
            free(r);
            return -1;
        }
        free(e->text);
        e->text = r;
        return 0;
    }
    default:
        return fail_at(c, line, col, k, "expected a %s, got a single value '%s'", type_names[d->type], v);
    }
    free(e->text);
    e->text = xstrdup(v);
    return e->text ? 0 : wb_err(c->err, WB_E_NOMEM, c->file, "out of memory");
}

static int node_line(const yaml_node_t *n) { return (int)n->start_mark.line + 1; }
static int node_col(const yaml_node_t *n) { return (int)n->start_mark.column + 1; }
static const char *scalar(const yaml_node_t *n) { return (const char *)n->data.scalar.value; }

static yaml_node_t *get_node(ctx *c, int id)
{
    if (++c->visits > 100000) return NULL; /* alias expansion bombs */
    return yaml_document_get_node(c->doc, id);
}

static int walk_value(ctx *c, const char *path, yaml_node_t *n);

static int walk_mapping(ctx *c, const char *prefix, yaml_node_t *n)
{
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = get_node(c, p->key), *vn = get_node(c, p->value);
        if (!kn || !vn) return fail_at(c, node_line(n), node_col(n), prefix, "document too large (aliases?)");
        if (kn->type != YAML_SCALAR_NODE)
            return fail_at(c, node_line(kn), node_col(kn), prefix, "keys must be plain names");
        const char *name = scalar(kn);
        char path[256];
        if (snprintf(path, sizeof path, "%s%s%s", prefix, prefix[0] ? "." : "", name) >= (int)sizeof path)
            return fail_at(c, node_line(kn), node_col(kn), prefix, "key too long");
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *prev = yaml_document_get_node(c->doc, q->key);
            if (prev && prev->type == YAML_SCALAR_NODE && !strcmp(scalar(prev), name))
                return fail_at(c, node_line(kn), node_col(kn), path, "duplicate key (first at line %d)", node_line(prev));
        }
        char sk[256];
        schema_key(path, sk, sizeof sk);
        if (!lookup(path) && !is_section(sk) && strcmp(path, "variants")) {
            char buf[128];
            const char *s = suggest(prefix, name, buf, sizeof buf);
            if (s) return fail_at(c, node_line(kn), node_col(kn), path, "unknown key; did you mean '%s'?", s);
            return fail_at(c, node_line(kn), node_col(kn), path, "unknown key (see docs/config.md)");
        }
        if (walk_value(c, path, vn) != 0) return -1;
    }
    return 0;
}

/* Adds the pair (column, value) to a T_FILTERMAP entry, with where the column is named. */
static int add_filter_item(ctx *c, entry *e, const char *column, const char *value, int line, int col)
{
    int *pos = realloc(e->item_pos, (e->n_items + 2) * 2 * sizeof *pos);
    if (!pos) return wb_err(c->err, WB_E_NOMEM, c->file, "out of memory");
    e->item_pos = pos;
    for (int k = 0; k < 2; k++) {
        pos[(e->n_items + (size_t)k) * 2] = line;
        pos[(e->n_items + (size_t)k) * 2 + 1] = col;
    }
    if (add_item(e, column) != 0 || add_item(e, value) != 0) return wb_err(c->err, WB_E_NOMEM, c->file, "out of memory");
    return 0;
}

/* data.filter: {column: [value, ...], ...} (a single value is a list of one); stored as
 * (column, value) pairs of items, in the file's order. */
static int walk_filter(ctx *c, entry *e, yaml_node_t *n)
{
    const char *path = e->key;
    size_t n_cols = 0;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *kn = get_node(c, p->key), *vn = get_node(c, p->value);
        if (!kn || !vn || kn->type != YAML_SCALAR_NODE)
            return fail_at(c, e->line, e->col, path, "expected column: [values] pairs");
        const char *column = scalar(kn);
        if (!column[0]) return fail_at(c, node_line(kn), node_col(kn), path, "empty column name");
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
            yaml_node_t *prev = yaml_document_get_node(c->doc, q->key);
            if (prev && prev->type == YAML_SCALAR_NODE && !strcmp(scalar(prev), column))
                return fail_at(c, node_line(kn), node_col(kn), path, "column '%s' is listed twice (first at line %d); "
                               "list all its values once", column, node_line(prev));
        }
        if (++n_cols > EXP_CONFIG_MAX_FILTERS)
            return fail_at(c, node_line(kn), node_col(kn), path, "at most %d columns", EXP_CONFIG_MAX_FILTERS);
        const size_t first = e->n_items;
        size_t n_vals = 0;
        yaml_node_item_t one = p->value, *it0 = &one, *it1 = &one + 1;
        if (vn->type == YAML_SEQUENCE_NODE) {
            it0 = vn->data.sequence.items.start;
            it1 = vn->data.sequence.items.top;
        } else if (vn->type != YAML_SCALAR_NODE) {
            return fail_at(c, node_line(vn), node_col(vn), path, "column '%s': expected a value or a list of values", column);
        }
        for (yaml_node_item_t *it = it0; it < it1; it++) {
            yaml_node_t *in = get_node(c, *it);
            if (!in || in->type != YAML_SCALAR_NODE)
                return fail_at(c, in ? node_line(in) : e->line, in ? node_col(in) : e->col, path,
                               "column '%s': list items must be single values", column);
            const char *v = scalar(in);
            for (size_t j = first + 1; j < e->n_items; j += 2)
                if (!strcmp(e->items[j], v))
                    return fail_at(c, node_line(in), node_col(in), path, "column '%s': '%s' is listed twice", column, v);
            if (++n_vals > EXP_CONFIG_MAX_FILTER_VALUES)
                return fail_at(c, node_line(in), node_col(in), path, "column '%s': at most %d values", column,
                               EXP_CONFIG_MAX_FILTER_VALUES);
            if (add_filter_item(c, e, column, v, node_line(kn), node_col(kn)) != 0) return -1;
        }
        if (n_vals == 0)
            return fail_at(c, node_line(vn), node_col(vn), path, "column '%s': no values (a filter with none would leave "
                           "no row)", column);
    }
    return 0;
}

static int walk_value(ctx *c, const char *path, yaml_node_t *n)
{
    const key_def *d = lookup(path);
    char sk[256];
    schema_key(path, sk, sizeof sk);
    if (!d) { /* a section */
        if (!strcmp(path, "variants")) {
            if (n->type != YAML_SEQUENCE_NODE)
                return fail_at(c, node_line(n), node_col(n), path, "expected a list of variants");
            size_t i = 0;
            for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++, i++) {
                yaml_node_t *vn = get_node(c, *it);
                char vp[64];
                snprintf(vp, sizeof vp, "variants[%zu]", i);
                if (!vn || vn->type != YAML_MAPPING_NODE)
                    return fail_at(c, vn ? node_line(vn) : 0, vn ? node_col(vn) : 0, vp, "expected a mapping (name:, type:, ...)");
                if (i >= 64) return fail_at(c, node_line(vn), node_col(vn), vp, "at most 64 variants");
                if (walk_mapping(c, vp, vn) != 0) return -1;
                /* remember where the variant starts, for "missing key" messages */
                char kp[80];
                snprintf(kp, sizeof kp, "%s.@", vp);
                entry *e = add_entry(c->cfg, kp, NULL, c->err);
                if (!e) return -1;
                e->line = node_line(vn);
                e->col = node_col(vn);
            }
            c->cfg->n_variants = i;
            if (i == 0) return fail_at(c, node_line(n), node_col(n), path, "needs at least one variant");
            return 0;
        }
        if (n->type != YAML_MAPPING_NODE)
            return fail_at(c, node_line(n), node_col(n), path, "expected a section (a mapping of keys)");
        return walk_mapping(c, path, n);
    }
    if (d->variant_type) {
        /* the variant's type decides which keys apply: checked after the walk */
    }
    entry *e = add_entry(c->cfg, path, d, c->err);
    if (!e) return -1;
    e->line = node_line(n);
    e->col = node_col(n);
    if (n->type == YAML_SCALAR_NODE) {
        const char *v = scalar(n);
        if (d->type == T_STAGES) {
            if (strcmp(v, "none") && strcmp(v, "all"))
                return fail_at(c, e->line, e->col, path, "expected none, all or a list of stage names, got '%s'", v);
            e->text = xstrdup(v);
            return e->text ? 0 : wb_err(c->err, WB_E_NOMEM, c->file, "out of memory");
        }
        if (d->type == T_NUMBERS) return add_number(c, e, v, e->line, e->col);
        if (d->type == T_STAGEMAP || d->type == T_SUBSET || d->type == T_LABELS || d->type == T_BOXMAP ||
            d->type == T_FILTERMAP) {
            if ((d->type == T_SUBSET || d->type == T_LABELS || d->type == T_FILTERMAP) && !v[0]) return 0; /* empty */
            return fail_at(c, e->line, e->col, path, "expected a %s, got '%s'",
                           d->type == T_SUBSET   ? "list such as [a, b]"
                           : d->type == T_LABELS ? "list of label values such as [normal, benign, malignant]"
                           : d->type == T_BOXMAP ? "mapping such as {x: bbox_x, y: bbox_y, w: bbox_w, h: bbox_h}"
                           : d->type == T_FILTERMAP ? "mapping such as {view: [CC, MLO], site_id: [1]}"
                                                 : "mapping such as {layer3: 0.1}",
                           v);
        }
        if (overridden(c, path)) { /* --set replaces it: do not check what will not be used */
            e->text = xstrdup(v);
            return e->text ? 0 : wb_err(c->err, WB_E_NOMEM, c->file, "out of memory");
        }
        return check_scalar(c, e, v, e->line, e->col);
    }
    if (n->type == YAML_SEQUENCE_NODE && (d->type == T_SUBSET || d->type == T_STAGES)) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            yaml_node_t *in = get_node(c, *it);
            if (!in || in->type != YAML_SCALAR_NODE)
                return fail_at(c, in ? node_line(in) : e->line, in ? node_col(in) : e->col, path, "list items must be single values");
            const char *v = scalar(in);
            if (d->type == T_SUBSET && !in_vals(d->vals, v))
                return fail_at(c, node_line(in), node_col(in), path, "expected values from %s, got '%s'", d->vals, v);
            for (size_t j = 0; j < e->n_items; j++)
                if (!strcmp(e->items[j], v)) return fail_at(c, node_line(in), node_col(in), path, "'%s' is listed twice", v);
            if (add_item(e, v) != 0) return wb_err(c->err, WB_E_NOMEM, c->file, "out of memory");
        }
        return 0;
    }
    if (n->type == YAML_SEQUENCE_NODE && d->type == T_NUMBERS) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            yaml_node_t *in = get_node(c, *it);
            if (!in || in->type != YAML_SCALAR_NODE)
                return fail_at(c, in ? node_line(in) : e->line, in ? node_col(in) : e->col, path, "list items must be single values");
            if (add_number(c, e, scalar(in), node_line(in), node_col(in)) != 0) return -1;
        }
        if (e->n_items == 0) return fail_at(c, e->line, e->col, path, "needs at least one value");
        return 0;
    }
    if (n->type == YAML_SEQUENCE_NODE && d->type == T_LABELS) {
        for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
            yaml_node_t *in = get_node(c, *it);
            if (!in || in->type != YAML_SCALAR_NODE)
                return fail_at(c, in ? node_line(in) : e->line, in ? node_col(in) : e->col, path, "list items must be single values");
            if (add_label(c, e, scalar(in), node_line(in), node_col(in)) != 0) return -1;
        }
        return 0;
    }
    if (n->type == YAML_MAPPING_NODE && d->type == T_STAGEMAP) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = get_node(c, p->key), *vn = get_node(c, p->value);
            if (!kn || !vn || kn->type != YAML_SCALAR_NODE || vn->type != YAML_SCALAR_NODE)
                return fail_at(c, e->line, e->col, path, "expected stage: number pairs");
            double f;
            if (!parse_dbl(scalar(vn), &f) || f < d->lo || f > d->hi)
                return fail_at(c, node_line(vn), node_col(vn), path, "expected a number from %g to %g for stage '%s', got '%s'",
                               d->lo, d->hi, scalar(kn), scalar(vn));
            /* a stage named twice would keep one factor silently; a backbone has few stages */
            if (e->n_items >= 64) return fail_at(c, node_line(kn), node_col(kn), path, "at most 64 stages");
            for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; q++) {
                yaml_node_t *prev = yaml_document_get_node(c->doc, q->key);
                if (prev && prev->type == YAML_SCALAR_NODE && !strcmp(scalar(prev), scalar(kn)))
                    return fail_at(c, node_line(kn), node_col(kn), path, "stage '%s' is listed twice (first at line %d)",
                                   scalar(kn), node_line(prev));
            }
            char item[160];
            snprintf(item, sizeof item, "%s=%s", scalar(kn), scalar(vn));
            if (add_item(e, item) != 0) return wb_err(c->err, WB_E_NOMEM, c->file, "out of memory");
        }
        return 0;
    }
    if (n->type == YAML_MAPPING_NODE && d->type == T_BOXMAP) {
        for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
            yaml_node_t *kn = get_node(c, p->key), *vn = get_node(c, p->value);
            if (!kn || !vn || kn->type != YAML_SCALAR_NODE || vn->type != YAML_SCALAR_NODE)
                return fail_at(c, e->line, e->col, path, "expected field: column pairs");
            const char *f = scalar(kn), *v = scalar(vn);
            if (!in_vals(d->vals, f))
                return fail_at(c, node_line(kn), node_col(kn), path, "unknown box field '%s' (fields: x, y, w, h or cx, cy, r; "
                               "y_origin)", f);
            if (!v[0]) return fail_at(c, node_line(vn), node_col(vn), path, "box field '%s': empty column name", f);
            if (!strcmp(f, "y_origin") && strcmp(v, "top") && strcmp(v, "bottom"))
                return fail_at(c, node_line(vn), node_col(vn), path, "y_origin: expected top or bottom, got '%s'", v);
            size_t fl = strlen(f);
            for (size_t j = 0; j < e->n_items; j++)
                if (!strncmp(e->items[j], f, fl) && e->items[j][fl] == '=')
                    return fail_at(c, node_line(kn), node_col(kn), path, "box field '%s' is given twice", f);
            char item[300];
            snprintf(item, sizeof item, "%s=%s", f, v);
            if (add_item(e, item) != 0) return wb_err(c->err, WB_E_NOMEM, c->file, "out of memory");
        }
        return 0;
    }
    if (n->type == YAML_MAPPING_NODE && d->type == T_FILTERMAP) return walk_filter(c, e, n);
    return fail_at(c, e->line, e->col, path, "expected a %s", type_names[d->type]);
}

/* Applies one "key.path=value" override. Lists are written [a,b]. */
static int apply_set(ctx *c, const char *set)
{
    const char *eq = strchr(set, '=');
    char key[256];
    if (!eq || eq == set || (size_t)(eq - set) >= sizeof key)
        return wb_err(c->err, WB_E_USAGE, NULL, "--set '%s': expected key.path=value", set);
    memcpy(key, set, (size_t)(eq - set));
    key[eq - set] = '\0';
    const char *v = eq + 1;
    const key_def *d = lookup(key);
    char ks[256];
    schema_key(key, ks, sizeof ks);
    /* a whole section or a mapping value: not a single value, and not a misspelling of itself */
    if (!d && !strcmp(ks, "variants"))
        return wb_err_at(c->err, WB_E_USAGE, "--set", 0, 0, key,
                         "is the list of variants, not a single value: --set variants[I].KEY=VALUE");
    if (!d && (is_section(ks) || !strcmp(ks, "variants[]")))
        return wb_err_at(c->err, WB_E_USAGE, "--set", 0, 0, key,
                         "is a section, not a single value: --set one of its keys (%s.KEY=VALUE; see docs/config.md)", key);
    if (d && (d->type == T_STAGEMAP || d->type == T_BOXMAP || d->type == T_FILTERMAP))
        return wb_err_at(c->err, WB_E_USAGE, "--set", 0, 0, key,
                         d->type == T_STAGEMAP ? "is a mapping (stage: factor), which --set cannot give: set it in the config file"
                         : d->type == T_BOXMAP ? "is a mapping (field: column), which --set cannot give: set it in the config file"
                                               : "is a mapping (column: [values]), which --set cannot give: set it in the config file");
    if (!d) {
        char buf[128];
        const char *dot = strrchr(key, '.');
        char prefix[256] = "";
        if (dot) {
            memcpy(prefix, key, (size_t)(dot - key));
            prefix[dot - key] = '\0';
        }
        const char *s = suggest(prefix, dot ? dot + 1 : key, buf, sizeof buf);
        if (s) return wb_err_at(c->err, WB_E_USAGE, "--set", 0, 0, key, "unknown key; did you mean '%s%s%s'?", prefix, prefix[0] ? "." : "", s);
        return wb_err_at(c->err, WB_E_USAGE, "--set", 0, 0, key, "unknown key (or not settable from the command line)");
    }
    char sk[256];
    schema_key(key, sk, sizeof sk);
    if (strcmp(sk, key)) { /* a variant key: the variant must exist */
        size_t idx = strtoul(key + strlen("variants["), NULL, 10);
        if (idx >= c->cfg->n_variants)
            return wb_err_at(c->err, WB_E_USAGE, "--set", 0, 0, key, "the config has %zu variant(s)", c->cfg->n_variants);
    }
    entry *e = find_entry(c->cfg, key);
    if (!e && !(e = add_entry(c->cfg, key, d, c->err))) return -1;
    free(e->text);
    e->text = NULL;
    for (size_t i = 0; i < e->n_items; i++) free(e->items[i]);
    e->n_items = 0;
    e->from_set = 1;
    e->line = e->col = 0;
    const char *saved = c->file;
    c->file = "--set";
    int rc = 0;
    if (d->type == T_LABELS || d->type == T_SUBSET || d->type == T_NUMBERS || (d->type == T_STAGES && v[0] == '[')) {
        /* a list: [a, b] or a,b */
        const char *p = v[0] == '[' ? v + 1 : v;
        char item[128];
        while (*p && *p != ']' && rc == 0) {
            size_t m = strcspn(p, ",]");
            while (m && p[m - 1] == ' ') m--;
            if (m >= sizeof item) m = sizeof item - 1;
            memcpy(item, p, m);
            item[m] = '\0';
            if (d->type == T_LABELS)
                rc = add_label(c, e, item, 0, 0);
            else if (d->type == T_NUMBERS)
                rc = add_number(c, e, item, 0, 0);
            else if (d->type == T_SUBSET && !in_vals(d->vals, item))
                rc = fail_at(c, 0, 0, key, "expected values from %s, got '%s'", d->vals, item);
            else if (m && add_item(e, item) != 0)
                rc = wb_err(c->err, WB_E_NOMEM, NULL, "out of memory");
            p += strcspn(p, ",]");
            if (*p == ',') p++;
            while (*p == ' ') p++;
        }
        if (rc == 0 && d->type == T_NUMBERS && e->n_items == 0) rc = fail_at(c, 0, 0, key, "needs at least one value");
    } else if (d->type == T_STAGES) {
        if (strcmp(v, "none") && strcmp(v, "all"))
            rc = fail_at(c, 0, 0, key, "expected none, all or [stage, ...], got '%s'", v);
        else if (!(e->text = xstrdup(v)))
            rc = wb_err(c->err, WB_E_NOMEM, NULL, "out of memory");
    } else {
        rc = check_scalar(c, e, v, 0, 0);
    }
    c->file = saved;
    return rc;
}

/* "variants[7].bn" -> 7 and ".bn"; 0 if key is not a variant key. */
static int variant_key(const char *key, size_t *v, const char **rest)
{
    if (strncmp(key, "variants[", 9)) return 0;
    char *end;
    unsigned long x = strtoul(key + 9, &end, 10);
    if (end == key + 9 || *end != ']') return 0;
    *v = x;
    *rest = end + 1;
    return 1;
}

static int set_key(entry *e, size_t v, const char *rest)
{
    char k[256];
    snprintf(k, sizeof k, "variants[%zu]%s", v, rest);
    char *n = xstrdup(k);
    if (!n) return -1;
    free(e->key);
    e->key = n;
    return 0;
}

/* A deep copy of entry i under variant v (same suffix, line and column). */
static int entry_dup(exp_config *cfg, size_t i, size_t v, wb_error *err)
{
    size_t w;
    const char *rest;
    char k[256];
    if (!variant_key(cfg->e[i].key, &w, &rest)) return 0;
    snprintf(k, sizeof k, "variants[%zu]%s", v, rest);
    entry *e = add_entry(cfg, k, cfg->e[i].def, err);
    if (!e) return -1;
    const entry *src = &cfg->e[i]; /* add_entry may have moved the table */
    e->line = src->line;
    e->col = src->col;
    e->from_set = src->from_set;
    if (src->text && !(e->text = xstrdup(src->text))) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    for (size_t j = 0; j < src->n_items; j++)
        if (add_item(e, src->items[j]) != 0) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    return 0;
}

static int set_text(entry *e, const char *text)
{
    for (size_t j = 0; j < e->n_items; j++) free(e->items[j]);
    e->n_items = 0;
    free(e->text);
    e->text = text ? xstrdup(text) : NULL;
    return text && !e->text ? -1 : 0;
}

/* Expands every variant with sweep: unfreeze into <name>_0 .. <name>_K in its place: variant
 * <name>_k trains the deepest k of its sweep_stages (k = 0: unfreeze none, the probe; all of
 * them: unfreeze all when sweep_stages is all), with the sweep variant's other keys, sweep
 * none and sweep_group <name>. The resolved config lists the expanded variants. */
static int expand_sweeps(ctx *c, nn_net *net)
{
    exp_config *cfg = c->cfg;
    for (size_t v = 0; v < cfg->n_variants; v++) {
        char k[128];
        snprintf(k, sizeof k, "variants[%zu].sweep", v);
        entry *sw = find_entry(cfg, k);
        if (!sw || !sw->text || strcmp(sw->text, "unfreeze")) continue;
        const int sl = sw->line, sc = sw->col;
        if (sw->from_set) c->file = "--set";
        snprintf(k, sizeof k, "variants[%zu].sweep_stages", v);
        entry *ss = find_entry(cfg, k);
        const int all = !ss || (ss->text && !strcmp(ss->text, "all"));
        int idx[64];
        size_t ns = 0;
        for (int st = 0; st < nn_net_num_stages(net) && ns < 64; st++) {
            const char *nm = nn_net_stage_name(net, st);
            int use = all && strcmp(nm, "head");
            for (size_t j = 0; ss && j < ss->n_items; j++) use |= !strcmp(ss->items[j], nm);
            if (use) idx[ns++] = st;
        }
        snprintf(k, sizeof k, "variants[%zu].name", v);
        char base[80];
        snprintf(base, sizeof base, "%s", key_text(cfg, k));
        if (strlen(base) + 1 + (ns >= 10 ? 2 : 1) > 64)
            return fail_at(c, sl, sc, k, "the sweep's variant names %s_0 .. %s_%zu would be longer than 64 characters", base,
                           base, ns);
        if (cfg->n_variants + ns > 64)
            return fail_at(c, sl, sc, k, "the sweep expands into %zu variants: at most 64 variants in all", ns + 1);
        /* make room: variants after v move up by ns */
        const size_t n0 = cfg->n;
        for (size_t i = 0; i < n0; i++) {
            size_t w;
            const char *rest;
            if (variant_key(cfg->e[i].key, &w, &rest) && w > v) {
                char r[128];
                snprintf(r, sizeof r, "%s", rest);
                if (set_key(&cfg->e[i], w + ns, r) != 0) return wb_err(c->err, WB_E_NOMEM, NULL, "out of memory");
            }
        }
        for (size_t d = 1; d <= ns; d++)
            for (size_t i = 0; i < n0; i++) {
                size_t w;
                const char *rest;
                if (variant_key(cfg->e[i].key, &w, &rest) && w == v && entry_dup(cfg, i, v + d, c->err) != 0) return -1;
            }
        for (size_t d = 0; d <= ns; d++) {
            char name[96], key[128];
            snprintf(name, sizeof name, "%s_%zu", base, d);
            static const char *const keys[] = {"name", "sweep", "sweep_group", "unfreeze", "sweep_stages"};
            for (int q = 0; q < 5; q++) {
                snprintf(key, sizeof key, "variants[%zu].%s", v + d, keys[q]);
                entry *e = find_entry(cfg, key);
                if (!e && q < 4) {
                    if (!(e = add_entry(cfg, key, lookup(key), c->err))) return -1;
                    e->line = sl;
                    e->col = sc;
                }
                int bad = 0;
                if (q == 0) bad = set_text(e, name);
                else if (q == 1) bad = set_text(e, "none");
                else if (q == 2) bad = set_text(e, base);
                else if (q == 3) {
                    bad = set_text(e, d == 0 ? "none" : d == ns && all ? "all" : NULL);
                    for (size_t j = ns - d; !bad && d > 0 && !(d == ns && all) && j < ns; j++)
                        bad = add_item(e, nn_net_stage_name(net, idx[j]));
                } else if (e) { /* sweep_stages: dropped (its default on reading the resolved config) */
                    entry_free(e);
                    *e = cfg->e[--cfg->n];
                }
                if (bad) return wb_err(c->err, WB_E_NOMEM, NULL, "out of memory");
            }
        }
        cfg->n_variants += ns;
        v += ns;
    }
    /* unique names after the expansion */
    for (size_t v = 0; v < cfg->n_variants; v++)
        for (size_t w = 0; w < v; w++) {
            char k1[64], k2[64];
            snprintf(k1, sizeof k1, "variants[%zu].name", v);
            snprintf(k2, sizeof k2, "variants[%zu].name", w);
            entry *a = find_entry(cfg, k1);
            if (a && !strcmp(a->text, key_text(cfg, k2)))
                return fail_at(c, a->line, a->col, k1, "name '%s' is used by variants[%zu] too (sweeps name their variants "
                               "<name>_0 .. <name>_K)", a->text, w);
        }
    return 0;
}

/* data.task and data.patch: the patch keys only with task: patch, where a box is required in
 * exactly one of its two forms, and binary labels. */
static int check_patch(ctx *c)
{
    exp_config *cfg = c->cfg;
    entry *task = find_entry(cfg, "data.task");
    const int patch = task && task->text && !strcmp(task->text, "patch");
    for (size_t i = 0; i < cfg->n && !patch; i++) {
        entry *e = &cfg->e[i];
        if (strncmp(e->key, "data.patch.", 11) || !(e->line || e->from_set)) continue;
        if (e->from_set) c->file = "--set";
        return fail_at(c, e->line, e->col, e->key, "applies only with data.task: patch (data.task is image)");
    }
    if (!patch) return 0;
    const char *file0 = c->file;
    entry *box = find_entry(cfg, "data.patch.box");
    if (task->from_set) c->file = "--set";
    if (!box || box->n_items == 0)
        return fail_at(c, task->line, task->col, "data.task", "task: patch needs data.patch.box, the CSV columns of the lesion boxes: "
                       "{x: bbox_x, y: bbox_y, w: bbox_w, h: bbox_h} or {cx: X, cy: Y, r: RADIUS}");
    c->file = file0;
    int have[8] = {0};
    const char *fields[8] = {"x", "y", "w", "h", "cx", "cy", "r", "y_origin"};
    for (size_t j = 0; j < box->n_items; j++)
        for (int f = 0; f < 8; f++) {
            size_t fl = strlen(fields[f]);
            if (!strncmp(box->items[j], fields[f], fl) && box->items[j][fl] == '=') have[f] = 1;
        }
    const int corner = have[0] || have[1] || have[2] || have[3], centre = have[4] || have[5] || have[6];
    if (corner && centre)
        return fail_at(c, box->line, box->col, "data.patch.box", "give either x, y, w, h (corner and size) or cx, cy, r "
                       "(centre and radius), not fields of both");
    if (corner && !(have[0] && have[1] && have[2] && have[3]))
        return fail_at(c, box->line, box->col, "data.patch.box", "a corner box needs all of x, y, w and h (missing %s)",
                       !have[0] ? "x" : !have[1] ? "y" : !have[2] ? "w" : "h");
    if (centre && !(have[4] && have[5] && have[6]))
        return fail_at(c, box->line, box->col, "data.patch.box", "a centre box needs all of cx, cy and r (missing %s)",
                       !have[4] ? "cx" : !have[5] ? "cy" : "r");
    if (!corner && !centre)
        return fail_at(c, box->line, box->col, "data.patch.box", "no box columns: give x, y, w, h or cx, cy, r");
    entry *cls = find_entry(cfg, "data.classes");
    if (cls && cls->n_items > 0) {
        if (cls->from_set) c->file = "--set";
        return fail_at(c, cls->line, cls->col, "data.classes", "data.task: patch takes binary labels (data.positive) only");
    }
    return 0;
}

/* cv.split_column: a fixed split replaces the folds (cv.folds is refused rather than ignored;
 * cv.repeats refits on the same split); the other split keys only with it; the train and test
 * values apart. */
static int check_split(ctx *c)
{
    exp_config *cfg = c->cfg;
    const entry *sc = find_entry(cfg, "cv.split_column");
    const int fixed = sc && sc->text && sc->text[0];
    static const char *const keys[] = {"cv.split_train", "cv.split_test", "cv.split_overlap", "cv.folds"};
    for (int k = 0; k < 4; k++) {
        const entry *e = find_entry(cfg, keys[k]);
        if (!e || !(e->line || e->from_set)) continue;
        if (e->from_set) c->file = "--set";
        if (!fixed && k < 3) return fail_at(c, e->line, e->col, keys[k], "applies only with cv.split_column (a fixed split)");
        if (fixed && k == 3)
            return fail_at(c, e->line, e->col, keys[k], "not used with cv.split_column: a fixed split is one train/test "
                           "split, not folds; remove one of the two keys");
        c->file = cfg->path;
    }
    if (!fixed) return 0;
    const entry *tr = find_entry(cfg, "cv.split_train"), *te = find_entry(cfg, "cv.split_test");
    for (int k = 0; k < 2; k++) {
        const entry *e = k ? te : tr;
        if (e && e->n_items == 0) {
            if (e->from_set) c->file = "--set";
            return fail_at(c, e->line, e->col, e->key, "needs at least one value");
        }
    }
    for (size_t i = 0; tr && te && i < tr->n_items; i++)
        for (size_t j = 0; j < te->n_items; j++)
            if (!strcmp(tr->items[i], te->items[j])) {
                const entry *e = te->line || te->from_set ? te : tr;
                if (e->from_set) c->file = "--set";
                return fail_at(c, e->line, e->col, e->key, "'%s' is both a train and a test value (cv.split_train, "
                               "cv.split_test)", tr->items[i]);
            }
    return 0;
}

/* Fills defaults and checks required keys, per-variant applicability and cross-references. */
static int finish(ctx *c)
{
    exp_config *cfg = c->cfg;
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def *d = &schema[i];
        if (!strncmp(d->key, "variants[]", 10)) continue;
        if (find_entry(cfg, d->key)) continue;
        if (!d->def) {
            const char *dot = strrchr(d->key, '.');
            return fail_at(c, 0, 0, d->key, "required key is missing%s", dot ? " (in its section)" : "");
        }
        entry *e = add_entry(cfg, d->key, d, c->err);
        if (!e) return -1;
        if (d->type == T_SUBSET || d->type == T_NUMBERS || d->type == T_LABELS) {
            for (const char *p = d->def; *p;) {
                char item[64];
                size_t m = strcspn(p, ",");
                snprintf(item, sizeof item, "%.*s", (int)m, p);
                if (add_item(e, item) != 0) return wb_err(c->err, WB_E_NOMEM, NULL, "out of memory");
                p += m;
                if (*p == ',') p++;
            }
        } else if (d->type == T_FILE || d->type == T_DIR || d->type == T_OUTDIR) {
            e->text = d->def[0] ? resolve_path(cfg, d->def) : xstrdup("");
        } else if (d->type != T_STAGEMAP && d->type != T_LABELS && d->type != T_BOXMAP && d->type != T_FILTERMAP) {
            e->text = xstrdup(d->def);
        }
        if ((d->type != T_SUBSET && d->type != T_NUMBERS && d->type != T_STAGEMAP && d->type != T_LABELS &&
             d->type != T_BOXMAP && d->type != T_FILTERMAP) && !e->text)
            return wb_err(c->err, WB_E_NOMEM, NULL, "out of memory");
    }
    if (check_split(c) != 0) return -1;
    /* Multi-class labels: at least two, and not together with data.positive (which only
     * means something for binary labels). */
    entry *cls = find_entry(cfg, "data.classes"), *pos = find_entry(cfg, "data.positive");
    if (cls && cls->n_items == 1) {
        if (cls->from_set) c->file = "--set";
        return fail_at(c, cls->line, cls->col, "data.classes",
                       "needs at least 2 label values (got only '%s'); leave it out for binary labels with data.positive",
                       cls->items[0]);
    }
    if (cls && cls->n_items >= 2 && pos && (pos->line || pos->from_set)) {
        if (pos->from_set) c->file = "--set";
        return fail_at(c, pos->line, pos->col, "data.positive",
                       "not used with data.classes (the class index is the position in data.classes; with two "
                       "classes the second is the positive one): remove one of the two keys");
    }
    /* Both levels are always computed and written (the report's tables and the registry read
     * both): a list that leaves one out would be silently ignored, so it is refused. */
    entry *lv = find_entry(cfg, "metrics.levels");
    if (lv && lv->n_items != 2) {
        if (lv->from_set) c->file = "--set";
        return fail_at(c, lv->line, lv->col, "metrics.levels",
                       "only [image, breast] is supported: every run computes and reports both levels (got %s%s); "
                       "leave the key out",
                       lv->n_items ? "only " : "an empty list", lv->n_items ? lv->items[0] : "");
    }
    if (cfg->n_variants == 0) return fail_at(c, 0, 0, "variants", "required key is missing: list at least one variant");
    if (check_patch(c) != 0) return -1;

    /* The backbone, to check stage names. */
    nn_net *net = NULL;
    int need_net = 0;
    for (size_t v = 0; v < cfg->n_variants; v++) {
        char k[80];
        snprintf(k, sizeof k, "variants[%zu].type", v);
        entry *t = find_entry(cfg, k);
        if (t && t->text && !strcmp(t->text, "backbone")) need_net = 1;
    }
    if (need_net) {
        nn_net_opts o = nn_net_opts_default();
        o.num_classes = 2;
        o.in_channels = (int)strtol(key_text(cfg, "backbone.in_channels"), NULL, 10);
        wb_error e2;
        net = nn_net_create(key_text(cfg, "backbone.arch"), &o, &e2);
        if (!net) {
            if (e2.code == WB_E_NOMEM) { /* not the config's fault */
                *c->err = e2;
                return -1;
            }
            entry *a = find_entry(cfg, "backbone.arch");
            return fail_at(c, a ? a->line : 0, a ? a->col : 0, "backbone.arch", "%s", e2.msg);
        }
    }
    int rc = 0;
    for (size_t v = 0; v < cfg->n_variants && rc == 0; v++) {
        char at[80], k[128];
        snprintf(at, sizeof at, "variants[%zu].@", v);
        entry *start = find_entry(cfg, at);
        int vl = start ? start->line : 0, vc = start ? start->col : 0;
        snprintf(k, sizeof k, "variants[%zu].type", v);
        entry *t = find_entry(cfg, k);
        const char *type = t && t->text ? t->text : NULL;
        for (size_t i = 0; i < N_KEYS && rc == 0; i++) {
            const key_def *d = &schema[i];
            if (strncmp(d->key, "variants[].", 11)) continue;
            snprintf(k, sizeof k, "variants[%zu].%s", v, d->key + 11);
            entry *e = find_entry(cfg, k);
            if (e && d->variant_type && type && strcmp(d->variant_type, type)) {
                rc = fail_at(c, e->line, e->col, k, "applies only to variants of type %s (this one is %s)", d->variant_type, type);
                break;
            }
            if (e) continue;
            if (!d->def) {
                rc = fail_at(c, vl, vc, k, "required key is missing");
                break;
            }
            if (d->variant_type && type && strcmp(d->variant_type, type)) continue;
            if (!(e = add_entry(cfg, k, d, c->err))) { rc = -1; break; }
            if (d->type == T_SUBSET || d->type == T_NUMBERS) {
                for (const char *p = d->def; *p;) {
                    char item[64];
                    size_t m = strcspn(p, ",");
                    snprintf(item, sizeof item, "%.*s", (int)m, p);
                    if (add_item(e, item) != 0) { rc = wb_err(c->err, WB_E_NOMEM, NULL, "out of memory"); break; }
                    p += m;
                    if (*p == ',') p++;
                }
            } else if (d->type != T_STAGEMAP && !(e->text = xstrdup(d->def))) {
                rc = wb_err(c->err, WB_E_NOMEM, NULL, "out of memory");
            }
        }
        if (rc) break;
        /* unique names */
        snprintf(k, sizeof k, "variants[%zu].name", v);
        entry *nm = find_entry(cfg, k);
        for (size_t w = 0; w < v && nm; w++) {
            char k2[80];
            snprintf(k2, sizeof k2, "variants[%zu].name", w);
            entry *o = find_entry(cfg, k2);
            if (o && !strcmp(o->text, nm->text)) {
                rc = fail_at(c, nm->line, nm->col, k, "name '%s' is used by variants[%zu] too", nm->text, w);
                break;
            }
        }
        if (rc) break;
        /* sweep: unfreeze sets unfreeze itself; sweep_stages needs it; the head always trains */
        snprintf(k, sizeof k, "variants[%zu].sweep", v);
        entry *sw = find_entry(cfg, k);
        int sweeping = sw && sw->text && !strcmp(sw->text, "unfreeze");
        snprintf(k, sizeof k, "variants[%zu].unfreeze", v);
        entry *uf = find_entry(cfg, k);
        snprintf(k, sizeof k, "variants[%zu].sweep_stages", v);
        entry *ss = find_entry(cfg, k);
        if (sweeping && uf && (uf->line || uf->from_set)) {
            if (uf->from_set) c->file = "--set";
            rc = fail_at(c, uf->line, uf->col, uf->key, "not used with sweep: unfreeze (the sweep sets each variant's stages; "
                         "use sweep_stages to choose the stages swept over)");
            break;
        }
        if (!sweeping && ss && (ss->line || ss->from_set) && !(ss->text && !strcmp(ss->text, "all"))) {
            if (ss->from_set) c->file = "--set";
            rc = fail_at(c, ss->line, ss->col, k, "applies only with sweep: unfreeze");
            break;
        }
        for (size_t j = 0; ss && j < ss->n_items; j++)
            if (!strcmp(ss->items[j], "head")) {
                if (ss->from_set) c->file = "--set";
                rc = fail_at(c, ss->line, ss->col, k, "the head always trains: list backbone stages only");
                break;
            }
        if (ss && ss->text && !strcmp(ss->text, "none")) {
            if (ss->from_set) c->file = "--set";
            rc = fail_at(c, ss->line, ss->col, k, "none leaves nothing to sweep: all or a list of stages");
        }
        if (rc || !net) continue;
        /* stage names exist in the backbone */
        const char *sk[] = {"unfreeze", "lr_scale", "sweep_stages"};
        for (int s = 0; s < 3 && rc == 0; s++) {
            snprintf(k, sizeof k, "variants[%zu].%s", v, sk[s]);
            entry *e = find_entry(cfg, k);
            for (size_t j = 0; e && j < e->n_items; j++) {
                char stage[128];
                snprintf(stage, sizeof stage, "%.*s", (int)strcspn(e->items[j], "="), e->items[j]);
                if (nn_net_stage_find(net, stage) < 0) {
                    char names[512] = "";
                    for (int q = 0; q < nn_net_num_stages(net); q++) {
                        size_t l = strlen(names);
                        snprintf(names + l, sizeof names - l, "%s%s", q ? ", " : "", nn_net_stage_name(net, q));
                    }
                    if (e->from_set) c->file = "--set";
                    rc = fail_at(c, e->line, e->col, k, "%s has no stage '%s' (stages: %s)",
                                 key_text(cfg, "backbone.arch"), stage, names);
                    break;
                }
            }
        }
    }
    if (rc == 0 && net) rc = expand_sweeps(c, net);
    nn_net_free(net);
    if (rc) return -1;

    /* The reference variant. */
    entry *ref = find_entry(cfg, "metrics.reference");
    int found = 0;
    for (size_t v = 0; v < cfg->n_variants && !found; v++) {
        char k[80];
        snprintf(k, sizeof k, "variants[%zu].name", v);
        found = !strcmp(key_text(cfg, k), ref->text);
    }
    if (!found) {
        if (ref->line || ref->from_set)
            return fail_at(c, ref->line, ref->col, "metrics.reference", "no variant is named '%s'", ref->text);
        free(ref->text);
        if (!(ref->text = xstrdup(key_text(cfg, "variants[0].name"))))
            return wb_err(c->err, WB_E_NOMEM, NULL, "out of memory");
    }
    return 0;
}

/* ---- the typed view: filled once, after every check ---- */

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))
static const char *const output_paths_names[] = {"pseudonymised", "none"};
static const char *const on_error_names[] = {"skip", "fail"};
static const char *const task_names[] = {"image", "patch"};
static const char *const patch_unit_names[] = {"px", "mm"};
static const char *const voi_names[] = {"apply", "ignore"};
static const char *const intensity_names[] = {"voi", "percentile"};
static const char *const normalize_names[] = {"auto", "unit", "zscore", "imagenet"};
static const char *const variant_type_names[] = {"baseline", "backbone"};
static const char *const bn_names[] = {"frozen", "train"};
static const char *const head_init_names[] = {"probe", "random"};
static const char *const optimizer_names[] = {"sgd", "adamw"};
static const char *const schedule_names[] = {"constant", "cosine", "step"};
static const char *const class_weight_names[] = {"none", "balanced"};
static const char *const aggregate_names[] = {"mean", "max"};
static const char *const threshold_names[] = {"youden", "specificity"};
static const char *const split_overlap_names[] = {"refuse", "drop_train"};
static const char *const features_names[] = {"first_order", "glcm", "shape"};
static const char *const levels_names[] = {"image", "breast"};
static const char *const formats_names[] = {"html", "md", "csv", "tex"};

static const char *enum_name(const char *const *names, size_t n, int i)
{
    return i >= 0 && (size_t)i < n ? names[i] : "?";
}

const char *exp_variant_type_name(exp_variant_type t) { return enum_name(variant_type_names, N_OF(variant_type_names), (int)t); }
const char *exp_normalize_name(exp_normalize n) { return enum_name(normalize_names, N_OF(normalize_names), (int)n); }
const char *exp_threshold_name(exp_threshold t) { return enum_name(threshold_names, N_OF(threshold_names), (int)t); }
const char *exp_output_paths_name(exp_output_paths p) { return enum_name(output_paths_names, N_OF(output_paths_names), (int)p); }
const char *exp_on_error_name(exp_on_error e) { return enum_name(on_error_names, N_OF(on_error_names), (int)e); }

typedef struct filler {
    exp_config *cfg;
    wb_error *err;
    int rc;
} filler;

/* A key the schema does not have, or a value missing after the checks, is a mistake in the code
 * below, not in the config: every load fails with it, so tests catch it at once. */
static void view_bug(filler *f, const char *key, const char *what)
{
    if (f->rc == 0) f->rc = wb_err(f->err, WB_E_INTERNAL, f->cfg->path, "config.c: typed view: %s: %s", key, what);
}

static const entry *view_entry(filler *f, const char *key)
{
    if (!lookup(key)) {
        view_bug(f, key, "not a key of the schema");
        return NULL;
    }
    const entry *e = find_entry(f->cfg, key);
    if (!e) view_bug(f, key, "no value after loading");
    return e;
}

static const char *view_str(filler *f, const char *key)
{
    const entry *e = view_entry(f, key);
    return e && e->text ? e->text : "";
}

static long view_long(filler *f, const char *key) { return strtol(view_str(f, key), NULL, 10); }
static double view_dbl(filler *f, const char *key) { return strtod(view_str(f, key), NULL); }
static int view_bool(filler *f, const char *key) { return !strcmp(view_str(f, key), "true"); }

/* Do the schema's values of key read names[0]|names[1]|...? */
static int view_vals_match(filler *f, const char *key, const char *const *names, size_t n)
{
    const key_def *d = lookup(key);
    const char *p = d && d->vals ? d->vals : "";
    for (size_t i = 0; i < n; i++) {
        size_t m = strlen(names[i]);
        if (strncmp(p, names[i], m) || (p[m] != '|' && p[m] != '\0') || (p[m] == '\0' && i + 1 < n)) break;
        p += m + (p[m] == '|');
        if (i + 1 == n && !*p) return 1;
    }
    view_bug(f, key, "the schema's values and the enum disagree");
    return 0;
}

static int view_enum(filler *f, const char *key, const char *const *names, size_t n)
{
    if (!view_vals_match(f, key, names, n)) return 0;
    const char *t = view_str(f, key);
    for (size_t i = 0; i < n; i++)
        if (!strcmp(t, names[i])) return (int)i;
    view_bug(f, key, "a value outside the enum");
    return 0;
}

static unsigned view_bits(filler *f, const char *key, const char *const *names, size_t n)
{
    if (!view_vals_match(f, key, names, n)) return 0;
    const entry *e = view_entry(f, key);
    unsigned bits = 0;
    for (size_t j = 0; e && j < e->n_items; j++)
        for (size_t i = 0; i < n; i++)
            if (!strcmp(e->items[j], names[i])) bits |= 1u << i;
    return bits;
}

static const char *view_vkey(char *buf, size_t n, size_t v, const char *leaf)
{
    snprintf(buf, n, "variants[%zu].%s", v, leaf);
    return buf;
}

static void view_variant(filler *f, size_t v, exp_settings_variant *vs)
{
    char k[128];
    vs->name = view_str(f, view_vkey(k, sizeof k, v, "name"));
    vs->type = (exp_variant_type)view_enum(f, view_vkey(k, sizeof k, v, "type"), variant_type_names, N_OF(variant_type_names));
    vs->sweep_group = "";
    if (vs->type == EXP_VARIANT_BASELINE) {
        vs->features = view_bits(f, view_vkey(k, sizeof k, v, "features"), features_names, N_OF(features_names));
        vs->C = view_dbl(f, view_vkey(k, sizeof k, v, "C"));
        return;
    }
    const entry *u = view_entry(f, view_vkey(k, sizeof k, v, "unfreeze"));
    if (u && u->text) {
        vs->unfreeze = !strcmp(u->text, "all") ? EXP_UNFREEZE_ALL : EXP_UNFREEZE_NONE;
    } else if (u) {
        vs->unfreeze = EXP_UNFREEZE_LIST;
        vs->unfreeze_stages = (const char *const *)u->items;
        vs->n_unfreeze_stages = u->n_items;
    }
    vs->bn = (exp_bn)view_enum(f, view_vkey(k, sizeof k, v, "bn"), bn_names, N_OF(bn_names));
    vs->bn_affine = view_bool(f, view_vkey(k, sizeof k, v, "bn_affine"));
    vs->head_init = (exp_head_init)view_enum(f, view_vkey(k, sizeof k, v, "head_init"), head_init_names, N_OF(head_init_names));
    vs->sweep_group = view_str(f, view_vkey(k, sizeof k, v, "sweep_group"));
    const entry *ls = view_entry(f, view_vkey(k, sizeof k, v, "lr_scale"));
    if (ls && ls->n_items) {
        exp_stage_scale *sc = calloc(ls->n_items, sizeof *sc);
        vs->lr_scale = sc;
        if (!sc) {
            f->rc = wb_err(f->err, WB_E_NOMEM, f->cfg->path, "out of memory");
            return;
        }
        for (size_t j = 0; j < ls->n_items; j++) {
            const char *eq = strchr(ls->items[j], '=');
            char *stage = malloc((size_t)(eq - ls->items[j]) + 1);
            if (!stage) {
                f->rc = wb_err(f->err, WB_E_NOMEM, f->cfg->path, "out of memory");
                return;
            }
            memcpy(stage, ls->items[j], (size_t)(eq - ls->items[j]));
            stage[eq - ls->items[j]] = '\0';
            sc[j].stage = stage;
            sc[j].scale = strtod(eq + 1, NULL);
            vs->n_lr_scale = j + 1;
        }
    }
    const entry *pc = view_entry(f, view_vkey(k, sizeof k, v, "probe_C"));
    if (pc && pc->n_items) {
        double *c = malloc(pc->n_items * sizeof *c);
        vs->probe_C = c;
        if (!c) {
            f->rc = wb_err(f->err, WB_E_NOMEM, f->cfg->path, "out of memory");
            return;
        }
        for (size_t j = 0; j < pc->n_items; j++) c[j] = strtod(pc->items[j], NULL);
        vs->n_probe_C = pc->n_items;
    }
}

static int view_fill(exp_config *cfg, wb_error *err)
{
    filler f = {cfg, err, 0};
    exp_settings *s = &cfg->view;
    memset(s, 0, sizeof *s);
    s->name = view_str(&f, "name");
    s->seed = (uint64_t)view_long(&f, "seed");
    s->threads = (int)view_long(&f, "threads");

    exp_settings_data *d = &s->data;
    d->dicom_dir = view_str(&f, "data.dicom_dir");
    d->labels = view_str(&f, "data.labels");
    d->file_column = view_str(&f, "data.file_column");
    d->label_column = view_str(&f, "data.label_column");
    d->group_column = view_str(&f, "data.group_column");
    d->positive = view_str(&f, "data.positive");
    const entry *cls = view_entry(&f, "data.classes");
    if (cls && cls->n_items) {
        d->classes = (const char *const *)cls->items;
        d->n_classes = cls->n_items;
    }
    d->output_paths = (exp_output_paths)view_enum(&f, "data.output_paths", output_paths_names, N_OF(output_paths_names));
    d->on_error = (exp_on_error)view_enum(&f, "data.on_error", on_error_names, N_OF(on_error_names));
    d->memory_mb = view_long(&f, "data.memory_mb");
    d->task = (exp_task)view_enum(&f, "data.task", task_names, N_OF(task_names));
    exp_settings_patch *pt = &d->patch;
    const entry *box = view_entry(&f, "data.patch.box");
    for (size_t j = 0; box && j < box->n_items; j++) {
        const char *it = box->items[j], *eq = strchr(it, '=');
        const size_t fl = (size_t)(eq - it);
        const char *col = eq + 1;
#define BOX_FIELD(name) (fl == strlen(name) && !strncmp(it, name, fl))
        if (BOX_FIELD("x")) pt->box.x = col;
        else if (BOX_FIELD("y")) pt->box.y = col;
        else if (BOX_FIELD("w")) pt->box.w = col;
        else if (BOX_FIELD("h")) pt->box.h = col;
        else if (BOX_FIELD("cx")) pt->box.cx = col;
        else if (BOX_FIELD("cy")) pt->box.cy = col;
        else if (BOX_FIELD("r")) pt->box.r = col;
        else if (BOX_FIELD("y_origin")) pt->box.y_bottom = !strcmp(col, "bottom");
#undef BOX_FIELD
    }
    pt->box.centre = pt->box.cx != NULL;
    pt->unit = (exp_patch_unit)view_enum(&f, "data.patch.unit", patch_unit_names, N_OF(patch_unit_names));
    pt->size = view_dbl(&f, "data.patch.size");
    pt->jitter = view_dbl(&f, "data.patch.jitter");
    pt->box_margin = view_dbl(&f, "data.patch.box_margin");
    pt->background = (int)view_long(&f, "data.patch.background");
    pt->min_tissue = view_dbl(&f, "data.patch.min_tissue");
    pt->stride = view_dbl(&f, "data.patch.stride");
    pt->whole_image = view_bool(&f, "data.patch.whole_image");

    exp_settings_preprocess *p = &s->preprocess;
    p->height = (int)view_long(&f, "preprocess.height");
    p->width = (int)view_long(&f, "preprocess.width");
    p->keep_aspect = view_bool(&f, "preprocess.keep_aspect");
    p->margin = (int)view_long(&f, "preprocess.margin");
    p->flip = view_bool(&f, "preprocess.flip");
    p->voi = (exp_voi)view_enum(&f, "preprocess.voi", voi_names, N_OF(voi_names));
    p->intensity = (exp_intensity)view_enum(&f, "preprocess.intensity", intensity_names, N_OF(intensity_names));
    p->percentile_low = view_dbl(&f, "preprocess.percentile_low");
    p->percentile_high = view_dbl(&f, "preprocess.percentile_high");
    p->normalize = (exp_normalize)view_enum(&f, "preprocess.normalize", normalize_names, N_OF(normalize_names));
    p->clahe = view_bool(&f, "preprocess.clahe");
    p->cache_dir = view_str(&f, "preprocess.cache_dir");

    s->backbone.arch = view_str(&f, "backbone.arch");
    s->backbone.weights = view_str(&f, "backbone.weights");
    s->backbone.in_channels = (int)view_long(&f, "backbone.in_channels");

    exp_settings_train *t = &s->train;
    t->epochs = (int)view_long(&f, "train.epochs");
    t->batch_size = (int)view_long(&f, "train.batch_size");
    t->optimizer = (exp_optimizer)view_enum(&f, "train.optimizer", optimizer_names, N_OF(optimizer_names));
    t->lr = view_dbl(&f, "train.lr");
    t->momentum = view_dbl(&f, "train.momentum");
    t->nesterov = view_bool(&f, "train.nesterov");
    t->weight_decay = view_dbl(&f, "train.weight_decay");
    t->schedule = (exp_schedule)view_enum(&f, "train.schedule", schedule_names, N_OF(schedule_names));
    t->step_epochs = (int)view_long(&f, "train.step_epochs");
    t->step_gamma = view_dbl(&f, "train.step_gamma");
    t->warmup_epochs = (int)view_long(&f, "train.warmup_epochs");
    t->grad_clip = view_dbl(&f, "train.grad_clip");
    t->class_weight = (exp_class_weight)view_enum(&f, "train.class_weight", class_weight_names, N_OF(class_weight_names));
    t->augment.flip = view_bool(&f, "train.augment.flip");
    t->augment.rotate_deg = view_dbl(&f, "train.augment.rotate_deg");
    t->augment.scale = view_dbl(&f, "train.augment.scale");
    t->augment.intensity = view_dbl(&f, "train.augment.intensity");
    t->val_fraction = view_dbl(&f, "train.val_fraction");
    t->patience = (int)view_long(&f, "train.patience");
    t->save_weights = view_bool(&f, "train.save_weights");

    s->cv.folds = (int)view_long(&f, "cv.folds");
    s->cv.repeats = (int)view_long(&f, "cv.repeats");
    s->cv.stratify = view_bool(&f, "cv.stratify");
    s->cv.split_column = view_str(&f, "cv.split_column");
    s->cv.split_overlap = (exp_split_overlap)view_enum(&f, "cv.split_overlap", split_overlap_names, N_OF(split_overlap_names));
    for (int k = 0; k < 2 && f.rc == 0; k++) {
        const entry *e = view_entry(&f, k ? "cv.split_test" : "cv.split_train");
        if (!e) break;
        const char **v = malloc((e->n_items ? e->n_items : 1) * sizeof *v);
        if (!v) {
            f.rc = wb_err(err, WB_E_NOMEM, cfg->path, "out of memory");
            break;
        }
        for (size_t j = 0; j < e->n_items; j++) v[j] = e->items[j];
        if (k) s->cv.split_test = v, s->cv.n_split_test = e->n_items;
        else s->cv.split_train = v, s->cv.n_split_train = e->n_items;
    }
    if (s->cv.split_column[0]) /* a fixed split: one fold (fitted cv.repeats times) */
        s->cv.folds = 1;
    /* data.filter: (column, value) item pairs, grouped by column */
    const entry *fe = view_entry(&f, "data.filter");
    if (fe && fe->n_items && f.rc == 0) {
        size_t nc = 0;
        for (size_t j = 0; j < fe->n_items; j += 2) nc += j == 0 || strcmp(fe->items[j], fe->items[j - 2]);
        exp_settings_filter *fl = calloc(nc, sizeof *fl);
        d->filters = fl;
        if (!fl) f.rc = wb_err(err, WB_E_NOMEM, cfg->path, "out of memory");
        for (size_t j = 0, k = 0; fl && j < fe->n_items && f.rc == 0; k++) {
            size_t m = 0;
            while (j + 2 * m < fe->n_items && !strcmp(fe->items[j + 2 * m], fe->items[j])) m++;
            const char **vals = malloc(m * sizeof *vals);
            if (!vals) {
                f.rc = wb_err(err, WB_E_NOMEM, cfg->path, "out of memory");
                break;
            }
            for (size_t q = 0; q < m; q++) vals[q] = fe->items[j + 2 * q + 1];
            fl[k].column = fe->items[j];
            fl[k].values = vals;
            fl[k].n_values = m;
            fl[k].line = fe->item_pos[j * 2];
            fl[k].col = fe->item_pos[j * 2 + 1];
            d->n_filters = k + 1;
            j += 2 * m;
        }
    }

    exp_settings_metrics *m = &s->metrics;
    m->levels = view_bits(&f, "metrics.levels", levels_names, N_OF(levels_names));
    m->breast_aggregate = (exp_aggregate)view_enum(&f, "metrics.breast_aggregate", aggregate_names, N_OF(aggregate_names));
    m->specificity = view_dbl(&f, "metrics.specificity");
    m->threshold = (exp_threshold)view_enum(&f, "metrics.threshold", threshold_names, N_OF(threshold_names));
    m->reference = view_str(&f, "metrics.reference");

    s->report.formats = view_bits(&f, "report.formats", formats_names, N_OF(formats_names));
    s->report.title = view_str(&f, "report.title");

    if (f.rc == 0 && cfg->n_variants) {
        if (!(cfg->variants = calloc(cfg->n_variants, sizeof *cfg->variants)))
            return wb_err(err, WB_E_NOMEM, cfg->path, "out of memory");
        s->variants = cfg->variants;
        s->n_variants = cfg->n_variants;
        for (size_t v = 0; v < cfg->n_variants && f.rc == 0; v++) {
            view_variant(&f, v, &cfg->variants[v]);
            if (!strcmp(cfg->variants[v].name, m->reference)) m->reference_index = v;
        }
    }
    return f.rc;
}

int exp_config_load(const char *path, const char *const *sets, size_t n_sets, exp_config **out,
                    wb_error *err)
{
    *out = NULL;
    /* regular files only (a FIFO would block, /dev/zero never end): io_fs_open_input */
    uint64_t fsize = 0;
    FILE *f = io_fs_fopen_input(path, 0, &fsize, err);
    if (!f) {
        if (err) {
            err->code = WB_E_CONFIG;
            if (!strncmp(err->msg, "cannot open: ", 13)) {
                char m[sizeof err->msg];
                snprintf(m, sizeof m, "cannot open config: %s", err->msg + 13);
                memcpy(err->msg, m, sizeof m);
            }
        }
        return -1;
    }
    if (fsize > (1 << 20)) {
        fclose(f);
        return wb_err(err, WB_E_CONFIG, path, "not a regular file of at most 1 MiB");
    }
    exp_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        fclose(f);
        return wb_err(err, WB_E_NOMEM, path, "out of memory");
    }
    cfg->path = xstrdup(path);
    const char *slash = strrchr(path, '/');
    cfg->dir = slash ? malloc((size_t)(slash - path) + 2) : xstrdup("");
    if (cfg->dir && slash) {
        size_t n = (size_t)(slash - path);
        if (n == 0) n = 1; /* "/x.yaml" */
        memcpy(cfg->dir, path, n);
        cfg->dir[n] = '\0';
    }
    /* Absolute, so that resolved paths still hold from another directory (a resumed run reads
     * the resolved config from its run directory). */
    if (cfg->dir) {
        char *abs = realpath(cfg->dir[0] ? cfg->dir : ".", NULL);
        if (abs) {
            free(cfg->dir);
            cfg->dir = abs;
        }
    }
    /* the whole file in memory: checked (one document, nesting depth) before it is loaded */
    size_t text_n = (size_t)fsize;
    char *text = malloc(text_n + 1);
    if (text && fread(text, 1, text_n, f) != text_n) {
        const char *why = ferror(f) ? strerror(errno) : "the file shrank while being read";
        wb_err(err, WB_E_CONFIG, path, "cannot read config: %s", why);
        free(text);
        fclose(f);
        exp_config_free(cfg);
        return -1;
    }
    fclose(f);
    yaml_parser_t parser;
    yaml_document_t doc;
    int have_doc = 0, rc = -1;
    if (!text || !cfg->path || !cfg->dir || !yaml_parser_initialize(&parser)) {
        free(text);
        exp_config_free(cfg);
        return wb_err(err, WB_E_NOMEM, path, "out of memory");
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, text_n);
    ctx c = {cfg, path, err, &doc, 0, sets, n_sets};
    if (exp_yaml_check(text, text_n, path, EXP_YAML_MAX_DEPTH, WB_E_CONFIG, err) != 0) goto done;
    if (!yaml_parser_load(&parser, &doc)) {
        wb_err_at(err, WB_E_CONFIG, path, (int)parser.problem_mark.line + 1, (int)parser.problem_mark.column + 1,
                  NULL, "YAML syntax: %s%s%s", parser.problem ? parser.problem : "error",
                  parser.context ? " " : "", parser.context ? parser.context : "");
        goto done;
    }
    have_doc = 1;
    yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root) {
        wb_err(err, WB_E_CONFIG, path, "the config is empty");
        goto done;
    }
    if (root->type != YAML_MAPPING_NODE) {
        fail_at(&c, node_line(root), node_col(root), NULL, "expected a mapping of sections (name:, data:, ...)");
        goto done;
    }
    if (walk_mapping(&c, "", root) != 0) goto done;
    for (size_t i = 0; i < n_sets; i++) {
        if (apply_set(&c, sets[i]) != 0) goto done;
        char **s = realloc(cfg->sets, (cfg->n_sets + 1) * sizeof *s);
        if (!s || !(s[cfg->n_sets] = xstrdup(sets[i]))) {
            if (s) cfg->sets = s;
            wb_err(err, WB_E_NOMEM, path, "out of memory");
            goto done;
        }
        cfg->sets = s;
        cfg->n_sets++;
    }
    if (finish(&c) != 0 || view_fill(cfg, err) != 0) goto done;
    rc = 0;
done:
    if (have_doc) yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    free(text);
    if (rc) exp_config_free(cfg);
    else *out = cfg;
    return rc;
}

/* ---- accessors ---- */

const exp_settings *exp_config_get(const exp_config *cfg) { return &cfg->view; }

int exp_config_where(const exp_config *cfg, const char *key, const char **file, int *line, int *col)
{
    entry *e = find_entry(cfg, key);
    *file = e && e->from_set ? "--set" : cfg->path;
    *line = e ? e->line : 0;
    *col = e ? e->col : 0;
    return e && (e->line || e->from_set);
}

int exp_normalize_resolve(const char *normalize, const char *arch, const char *weights, float mean[3],
                          float std[3], char *desc, size_t n)
{
    float m[3], sd[3];
    const char *family = nn_arch_input_norm(arch, m, sd);
    if (normalize && !strcmp(normalize, "auto") && weights && weights[0] && family) {
        for (int c = 0; c < 3; c++) {
            if (mean) mean[c] = m[c];
            if (std) std[c] = sd[c];
        }
        if (!strcmp(family, "keras"))
            snprintf(desc, n, "keras: [-1, 1] (2x - 1 of [0, 1], Keras' x / 127.5 - 1) as %s's weights expect, in conv1", arch);
        else
            snprintf(desc, n, "imagenet: per-channel mean (0.485, 0.456, 0.406), std (0.229, 0.224, 0.225) of [0, 1] "
                     "as %s's weights expect, in conv1", arch);
        return 1;
    }
    if (!normalize || !normalize[0] || !strcmp(normalize, "auto") || !strcmp(normalize, "unit"))
        snprintf(desc, n, "%s[0, 1]%s", normalize && !strcmp(normalize, "auto") ? "unit: " : "",
                 normalize && !strcmp(normalize, "auto") ? " (no pretrained weights)" : "");
    else if (!strcmp(normalize, "zscore"))
        snprintf(desc, n, "z-score inside the breast");
    else
        snprintf(desc, n, "grey (x - 0.449) / 0.226 (ImageNet's mean and std averaged over RGB)");
    return 0;
}

/* ---- output ---- */

static void yaml_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static void write_value(FILE *f, const entry *e)
{
    const key_def *d = e->def;
    if (d->type == T_SUBSET || d->type == T_LABELS || d->type == T_NUMBERS || (d->type == T_STAGES && !e->text)) {
        fputc('[', f);
        for (size_t i = 0; i < e->n_items; i++) {
            if (i) fputs(", ", f);
            fputs(e->items[i], f);
        }
        fputc(']', f);
    } else if (d->type == T_STAGEMAP || d->type == T_BOXMAP) {
        fputc('{', f);
        for (size_t i = 0; i < e->n_items; i++) {
            const char *eq = strchr(e->items[i], '=');
            fprintf(f, "%s%.*s: %s", i ? ", " : "", (int)(eq - e->items[i]), e->items[i], eq + 1);
        }
        fputc('}', f);
    } else if (d->type == T_FILTERMAP) {
        fputc('{', f);
        for (size_t i = 0; i + 1 < e->n_items; i += 2) {
            const int first = i == 0 || strcmp(e->items[i], e->items[i - 2]);
            const int last = i + 2 >= e->n_items || strcmp(e->items[i], e->items[i + 2]);
            if (first) {
                if (i) fputs(", ", f);
                yaml_quoted(f, e->items[i]);
                fputs(": [", f);
            } else {
                fputs(", ", f);
            }
            yaml_quoted(f, e->items[i + 1]);
            if (last) fputc(']', f);
        }
        fputc('}', f);
    } else if (d->type == T_STR || d->type == T_FILE || d->type == T_DIR || d->type == T_OUTDIR) {
        yaml_quoted(f, e->text ? e->text : "");
    } else {
        fputs(e->text ? e->text : "", f);
    }
}

void exp_config_write_resolved(const exp_config *cfg, FILE *f)
{
    fprintf(f, "# resolved from %s: every default filled in, paths resolved\n", cfg->path);
    for (size_t i = 0; i < cfg->n_sets; i++) fprintf(f, "# --set %s\n", cfg->sets[i]);
    char section[64] = "";
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def *d = &schema[i];
        if (!strncmp(d->key, "variants[]", 10)) continue;
        const entry *e = find_entry(cfg, d->key);
        if (!e) continue;
        /* exactly one of data.classes (multi-class) and data.positive (binary) is written, so a
         * binary config resolves as it did before data.classes existed */
        if (!strcmp(d->key, "data.classes") && e->n_items == 0) continue;
        if (!strcmp(d->key, "data.positive") && cfg->view.data.n_classes > 0) continue;
        /* the task and its patch keys only for patch runs: an image run resolves as before */
        /* the memory budget changes no result: written when set, so a run resolves as before */
        if (!strcmp(d->key, "data.memory_mb") && e->text && d->def && strtol(e->text, NULL, 10) == strtol(d->def, NULL, 10)) continue;
        /* a filter and a fixed split only when set, so that other configs resolve as before;
         * with a fixed split, no folds (it has one) */
        if (!strcmp(d->key, "data.filter") && e->n_items == 0) continue;
        const int fixed = cfg->view.cv.split_column[0] != '\0';
        if (!strncmp(d->key, "cv.split_", 9) && !fixed) continue;
        if (!strcmp(d->key, "cv.folds") && fixed) continue;
        if ((!strcmp(d->key, "data.task") || !strncmp(d->key, "data.patch.", 11)) &&
            cfg->view.data.task != EXP_TASK_PATCH)
            continue;
        /* sections: "train.augment.flip" -> "train:" then "  augment:" */
        const char *dot1 = strchr(d->key, '.');
        const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
        char sec[64];
        snprintf(sec, sizeof sec, "%.*s", dot2 ? (int)(dot2 - d->key) : dot1 ? (int)(dot1 - d->key) : 0, d->key);
        if (strcmp(sec, section)) {
            if (dot1 && strncmp(sec, section, (size_t)(dot1 - d->key)) != 0) fprintf(f, "%.*s:\n", (int)(dot1 - d->key), d->key);
            if (dot2) fprintf(f, "  %.*s:\n", (int)(dot2 - dot1 - 1), dot1 + 1);
            snprintf(section, sizeof section, "%s", sec);
        }
        const char *leaf = strrchr(d->key, '.');
        fprintf(f, "%*s%s: ", dot2 ? 4 : dot1 ? 2 : 0, "", leaf ? leaf + 1 : d->key);
        write_value(f, e);
        if (!strcmp(d->key, "preprocess.normalize") && e->text && !strcmp(e->text, "auto")) {
            char desc[256];
            exp_normalize_resolve(e->text, cfg->view.backbone.arch, cfg->view.backbone.weights, NULL, NULL, desc,
                                  sizeof desc);
            fprintf(f, "  # %s", desc);
        }
        fputc('\n', f);
        if (!strcmp(d->key, "backbone.in_channels")) {
            fputs("variants:\n", f);
            for (size_t v = 0; v < cfg->n_variants; v++) {
                int first = 1;
                for (size_t j = 0; j < N_KEYS; j++) {
                    if (strncmp(schema[j].key, "variants[].", 11)) continue;
                    char k[128];
                    snprintf(k, sizeof k, "variants[%zu].%s", v, schema[j].key + 11);
                    const entry *ve = find_entry(cfg, k);
                    if (!ve || (ve->def->type == T_NAME && ve->text && !ve->text[0])) continue; /* sweep_group unset */
                    fprintf(f, "  %s %s: ", first ? "-" : " ", schema[j].key + 11);
                    write_value(f, ve);
                    fputc('\n', f);
                    first = 0;
                }
            }
            snprintf(section, sizeof section, "variants");
        }
    }
}

void exp_config_write_schema(FILE *f)
{
    fputs("key\ttype\tdefault\tvalues\tdescription\n", f);
    for (size_t i = 0; i < N_KEYS; i++) {
        const key_def *d = &schema[i];
        char vals[128] = "";
        if (d->type == T_INT) snprintf(vals, sizeof vals, "%.0f..%.0f", d->lo, d->hi);
        else if (d->type == T_FLOAT || d->type == T_NUMBERS) snprintf(vals, sizeof vals, "%g..%g", d->lo, d->hi);
        else if (d->vals) snprintf(vals, sizeof vals, "%s", d->vals);
        fprintf(f, "%s\t%s\t%s\t%s\t%s%s%s\n", d->key, d->type == T_ENUM ? "enum" : type_names[d->type],
                d->def ? (d->def[0] ? d->def : "(none)") : "(required)", vals,
                d->variant_type ? d->variant_type : "", d->variant_type ? " variants: " : "", d->doc);
    }
}
