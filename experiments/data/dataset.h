/* dataset.h — the images an experiment uses: labels CSV + DICOM (or PNG/JPEG/PGM) files, preprocessed into the
 * network's input and the baseline's features, with what had to be left out and why.
 *
 *     // given: const exp_config *cfg; uint8_t key[32]; const char *cache_dir;
 *     exp_dataset ds;
 *     if (exp_dataset_load(cfg, key, cache_dir, 1, &ds, &err) != 0) ...;   // exit 3 (bad data) or 1 (on_error: fail)
 *     ... ds.items[i].label, exp_dataset_image(&ds, i, buf, &err), ds.features + i * ds.n_features
 *     exp_dataset_free(&ds);
 *
 * Patients are named in outputs only by a pseudonym: HMAC-SHA256(key, patient id), 16 hex
 * digits. The raw patient id stays in memory (for grouping) and is never written.
 */
#ifndef EXP_DATASET_H
#define EXP_DATASET_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/config/config.h"
#include "experiments/data/preprocess.h"
#include "experiments/data/rows.h"
#include "io/io_dicom.h"
#include "io/io_image.h"
#include "base/wb_error.h"

/* Strings that live as long as a dataset, packed into blocks of 64 kB (no malloc, and none of
 * malloc's per-allocation overhead, per string): the items' file names, patient ids, SOP UIDs,
 * lateralities and views. Zeroed is empty; exp_strpool_free frees every string at once. */
typedef struct exp_strpool {
    struct exp_strpool_block *last; /* the newest block; each links to the one before */
} exp_strpool;

/* A copy of s cut to at most max bytes, NUL-terminated, in p; NULL when out of memory. */
const char *exp_strpool_add(exp_strpool *p, const char *s, size_t max);
void exp_strpool_free(exp_strpool *p);

/* The longest SOP UID, laterality and view an item keeps (longer values are cut, as they always were). */
enum { EXP_ITEM_UID_MAX = 79, EXP_ITEM_LATERALITY_MAX = 7, EXP_ITEM_VIEW_MAX = 15 };

/* One image (or patch) of a dataset: ~100 bytes plus its strings (in the dataset's pool, ds->strings),
 * the part of a dataset that grows with the cohort whatever data.memory_mb says. The file's
 * resolved path is not kept: exp_dataset_item_path. */
typedef struct exp_item {
    const char *file;      /* as written in the labels CSV */
    const char *group;     /* patient id (raw; never written out) */
    const char *sop_uid;   /* from the CSV's sop_instance_uid column, else the DICOM header ("" if neither) */
    const char *laterality; /* from the CSV's laterality column, else the DICOM header */
    const char *view;      /* from the CSV's view column, else ViewPosition */
    uint8_t sha256[32];    /* of the file's bytes (exp_item_sha256_hex for the 64 hex digits) */
    char pseudonym[17];    /* HMAC-SHA256(key, group), 16 hex digits */
    uint8_t format;        /* io_image_format: DICOM, PNG, JPEG, PGM (no DICOM metadata for the last
                            * three: laterality/view from the CSV only) */
    uint8_t split;         /* cv.split_column: 1 a test row, 0 a training row (0 without a split) */
    int label;             /* binary: 1 = data.positive, 0 = anything else; with data.classes:
                            * the class index (position of the value in data.classes) */
    int csv_line;
} exp_item;

/* The item's SHA-256 as 64 hex digits into out[65]. */
void exp_item_sha256_hex(const exp_item *it, char out[65]);

typedef struct exp_excluded {
    char *file;            /* as written in the labels CSV */
    char *reason;
    char *path;            /* resolved */
    char *group;           /* patient id (raw; never written out) */
    char pseudonym[17];
    int csv_line;
} exp_excluded;

/* What outputs show of a row's file (data.output_paths). */
typedef enum {
    EXP_PATHS_PSEUDONYMISED = 0, /* relative to data.dicom_dir, the patient id replaced by the pseudonym */
    EXP_PATHS_NONE               /* nothing: rows are named by SOP Instance UID and SHA-256 */
} exp_paths_mode;

typedef struct exp_dataset {
    exp_item *items;
    size_t n;
    exp_strpool strings;   /* the items' strings */
    int rows, cols;        /* preprocessed image size */
    float *images;         /* n * rows * cols, as the network sees them; NULL when they are
                            * spilled to disk or not kept: read them with exp_dataset_image */
    int spilled;           /* 1: the images are in spill_fd (data.memory_mb), not in memory */
    int spill_fd;          /* with spilled: an unlinked file of n * rows * cols floats */
    size_t *slot;          /* patch sets: item i's pixels are image slot[i] of images or the
                            * spill file (the order they were cut in); NULL: image i */
    char *spill_dir;       /* where spill files go (the preprocessed cache; NULL: $TMPDIR or
                            * /tmp): the images' and the frozen features' (exp_spill_open) */
    size_t memory_budget;  /* data.memory_mb in bytes (also bounds the fine-tuned variants'
                            * cached frozen prefixes, exp_train_cfg.prefix_max_bytes) */
    size_t n_cached;       /* images read from the preprocessed cache */
    size_t n_computed;     /* images decoded and preprocessed (cache misses, damaged entries) */
    int stopped;           /* EXP_DATASET_LOAD_MAX_NEW reached: the rows after were not read
                            * and the dataset is incomplete (fit only for filling the cache) */
    int n_features;        /* EXP_PRE_N_FEATURES */
    double *features;      /* n * n_features */
    exp_excluded *excluded;
    size_t n_excluded;
    size_t n_positive;     /* images with label 1 (binary; with data.classes: of class 1) */
    int n_classes;         /* 2 for binary labels; the length of data.classes otherwise */
    double feature_seconds; /* wall time of the radiomic features of all usable images (when a
                             * baseline variant is configured; measured again on the cached
                             * image for an image read from the cache) */
    size_t class_n[EXP_CONFIG_MAX_CLASSES]; /* images per class */
    exp_paths_mode paths;  /* data.output_paths */
    char *dicom_dir;       /* data.dicom_dir */
    struct exp_patch_set *patch; /* data.task: patch (patch.h): items are patches, and the
                                  * sliding windows follow them in images and features */
    exp_rows_report selected; /* the labels' rows data.filter and cv.split_column kept (rows.h) */
} exp_dataset;

/* A row's file as outputs (manifest.csv, excluded.csv) show it, malloc'd (NULL: out of
 * memory): per data.output_paths, relative to data.dicom_dir with every occurrence of the
 * patient id (case ignored; directories of exported archives are often named by PatientID)
 * replaced by the pseudonym, or "". */
char *exp_dataset_out_file(const exp_dataset *ds, const char *file, const char *group, const char *pseudonym);
/* text (an exclusion reason, an error) with the row's resolved path and file shown as above
 * (with output_paths none: "(the file of line N)") and the patient id replaced by the
 * pseudonym; malloc'd, NULL when out of memory. */
char *exp_dataset_out_text(const exp_dataset *ds, const char *text, const char *file, const char *path, int line,
                           const char *group, const char *pseudonym);

/* Item it's file resolved against data.dicom_dir (as the load opened it), malloc'd; NULL when
 * out of memory. */
char *exp_dataset_item_path(const exp_dataset *ds, const exp_item *it);

/* What exp_dataset_check_labels found in a labels CSV. */
typedef struct exp_labels_summary {
    size_t rows;           /* data rows */
    size_t patients;       /* distinct values of data.group_column */
    size_t class_n[EXP_CONFIG_MAX_CLASSES]; /* rows per class (binary: [1] = data.positive) */
    int n_classes;         /* 2 for binary labels; the length of data.classes otherwise */
    size_t unknown_label;  /* rows whose label is not in data.classes (excluded by the run
                            * under data.on_error: skip) */
    exp_rows_report selected; /* data.filter and cv.split_column (the counts above are of the kept rows) */
} exp_labels_summary;

/* Checks data.labels without opening an image (workbench validate): the configured file,
 * label and group columns exist, no row has an empty file name or patient id, and (with
 * data.classes and data.on_error: fail) every label is listed. WB_E_DATA naming the file and
 * line, as the run would fail. Time O(n log n) in the rows; the CSV's rows are held in memory
 * (the file itself is read a chunk at a time). */
int exp_dataset_check_labels(const exp_config *cfg, exp_labels_summary *s, wb_error *err);

/* Preprocessing parameters from the config's preprocess section. */
void exp_dataset_pre_params(const exp_config *cfg, exp_pre_params *p);

/* Image i of ds (rows x cols floats, as the network sees it): a pointer into ds->images, or,
 * with the images spilled to disk, read into buf (rows * cols floats) and buf returned. NULL
 * when the read fails or the images were not kept (err says which). */
const float *exp_dataset_image(const exp_dataset *ds, size_t i, float *buf, wb_error *err);

/* The spill file of images beyond data.memory_mb: created in cache_dir (when given and
 * writable), else $TMPDIR, else /tmp, and unlinked at once so that nothing is left behind
 * however the process ends. 0, or -1 with err naming the path. */
int exp_spill_open(const char *cache_dir, int *fd, wb_error *err);
/* n bytes at byte offset off of a spill file, written (wr) or read: 0, or errno (EIO for a
 * short read, ENOSPC for a write that makes no progress). */
int exp_spill_io(int fd, int wr, void *buf, size_t n, uint64_t off);

/* flags of exp_dataset_load_ex / _opts: NO_LABELS see exp_dataset_load_ex; ALL_ROWS: every row of
 * the labels CSV, without data.filter and cv.split_column (an external cohort for predict) */
enum { EXP_DATASET_NO_LABELS = 1, EXP_DATASET_ALL_ROWS = 2 };

/* Options of exp_dataset_load_opts. */
typedef struct exp_dataset_load_options {
    int progress;          /* print a line every so often on stderr */
    int flags;             /* EXP_DATASET_NO_LABELS (exp_dataset_load_ex) */
    int no_images;         /* fill the cache and list the items, keep no image (workbench
                            * preprocess): exp_dataset_image fails, ds->features is NULL */
    size_t max_new;        /* 0: no limit; else stop after this many images were computed
                            * (not read from the cache): ds->stopped, and the dataset holds only
                            * the rows before (nothing is checked across rows) */
} exp_dataset_load_options;

/* Reads data.labels, resolves each file against data.dicom_dir, decodes and preprocesses
 * it, through the preprocessed-image cache in cache_dir (NULL or "": no cache). Unusable images are listed in ds->excluded with the reason when data.on_error is skip
 * (code WB_E_FAILED and the first reason when it is fail). With data.classes, a row whose
 * label is not one of the listed values is excluded likewise under skip, and is an error
 * (WB_E_DATA, naming the labels file, its line and the value) under fail; every listed class
 * needs at least one usable image. progress: print a line every so often on stderr. On
 * failure *ds is empty.
 * Memory: the preprocessed images are kept in memory while they fit in data.memory_mb;
 * beyond it they are spilled, as they are computed, to an unlinked file in cache_dir (if it
 * cannot take it or there is none: $TMPDIR, else /tmp) and read back by exp_dataset_image,
 * so the images' memory does not grow with the cohort (an item and its strings still take
 * about 0.16 kB per image and the radiomic features 0.16 kB; the labels CSV's rows, read a
 * chunk of the file at a time, ~0.2 kB more while they are walked: docs/performance.md).
 * Same values either way. */
int exp_dataset_load(const exp_config *cfg, const uint8_t key[32], const char *cache_dir, int progress,
                     exp_dataset *ds, wb_error *err);
/* exp_dataset_load with flags: EXP_DATASET_NO_LABELS reads a labels CSV without a label column
 * (an unlabeled cohort for `workbench predict`: data.label_column is not looked up, every
 * item's label is 0 and means nothing; binary configs only). */
int exp_dataset_load_ex(const exp_config *cfg, const uint8_t key[32], const char *cache_dir, int progress, int flags,
                        exp_dataset *ds, wb_error *err);
/* exp_dataset_load with options (o NULL: progress off, images kept, no limit, no flags). */
int exp_dataset_load_opts(const exp_config *cfg, const uint8_t key[32], const char *cache_dir,
                          const exp_dataset_load_options *o, exp_dataset *ds, wb_error *err);
void exp_dataset_free(exp_dataset *ds);

/* One file preprocessed as exp_dataset_load does for cfg (the preprocess section and
 * preprocess.voi), with laterality (NULL or "": the file's header's) deciding the flip as a
 * labels CSV's laterality column does: for looking at one image after a run (workbench
 * explain). *img receives the decoded image in the values preprocessing took (0..1) and *r
 * the result; the caller frees both (io_dicom_image_free, exp_pre_result_free). On failure
 * nothing is left to free and err names the file. */
int exp_dataset_preprocess_file(const exp_config *cfg, const char *path, const char *laterality,
                                io_dicom_image *img, exp_pre_result *r, wb_error *err);

/* The preprocessed-image cache a config uses: preprocess.cache_dir, or RUNS_DIR/cache. */
void exp_dataset_cache_dir(const exp_config *cfg, const char *runs_dir, char *buf, size_t n);

/* The pseudonym key of a runs directory: 32 random bytes kept as 64 hex digits in
 * RUNS_DIR/.pseudonym-key (mode 0600), made by the first run. Runs that start together agree
 * on one key (created with an exclusive link, then read back). Errors: a damaged key file
 * (WB_E_DATA), a directory that cannot take it (WB_E_WRITE). */
int exp_pseudonym_key(const char *runs_dir, uint8_t key[32], wb_error *err);

/* HMAC-SHA256(key, msg) as 16 hex digits (64 bits) into out[17]. */
void exp_pseudonym(const uint8_t key[32], const char *msg, char out[17]);

#endif
