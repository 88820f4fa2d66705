/* import.h — public mammography datasets, as downloaded, to the workbench's labels CSV
 * (docs/datasets.md has each format, its source and the mapping).
 *
 *     exp_import_options o; exp_import_options_default(&o);
 *     o.format = "mini-mias"; o.source = "data/mini-mias"; o.out = "data/mias-labels.csv";
 *     exp_import_summary s;
 *     if (exp_import_run(&o, &s, &err) != 0) ...   // "Info.txt:71:18: severity: expected B or M, got 'X'"
 *
 * The labels CSV has one row per image, the columns `workbench synth` writes and a few more:
 *   file, sop_instance_uid, patient_id, laterality, view, label (normal|benign|malignant),
 *   lesion_type, bbox_x, bbox_y, bbox_w, bbox_h (pixels, top-left origin; the most severe
 *   finding's box, empty without one), density (a-d, or the dataset's own words), pixel_spacing_mm,
 *   split, source_label (the dataset's own value(s)), n_findings, extra_boxes ("x y w h;..." for
 *   the other findings' boxes).
 * `file` is relative to the source directory: a config uses data.dicom_dir: SOURCE and
 * data.labels: OUT. Rows whose image is not under SOURCE are left out with a warning (counted
 * in the summary) unless keep_missing is set. The file is written atomically. */
#ifndef EXP_IMPORT_H
#define EXP_IMPORT_H

#include <stddef.h>

#include "base/wb_error.h"

typedef struct exp_import_options {
    const char *format;  /* "mini-mias", "cbis-ddsm", "vindr", "rsna", "inbreast", "cmmd", "embed" */
    const char *source;  /* the dataset's directory as downloaded */
    const char *out;     /* the labels CSV to write */
    int birads_min;      /* vindr, inbreast: BI-RADS >= this is malignant, 1 normal, else benign (4) */
    int bwc_normal;      /* cbis-ddsm: BENIGN_WITHOUT_CALLBACK counts as normal (1) or benign (0) */
    const char *views;   /* comma list of views to keep (e.g. "CC,MLO"); NULL or "": all */
    const char *sites;   /* rsna: comma list of site_id values to keep; NULL or "": all */
    int keep_missing;    /* write rows whose image file is missing too */
    int roi_boxes;       /* cbis-ddsm: boxes from the ROI mask images when they are there (1) */
    int other_breast_normal; /* cmmd: images of breasts the clinical table does not list are normal (1) or left out (0) */
    const char *image_types; /* embed: comma list of FinalImageType values to keep; NULL or "": "2D" */
    int follow_up_days;  /* embed: > 0: an exam without its own pathology takes a later exam's result within this many days (0) */
} exp_import_options;

typedef struct exp_import_summary {
    size_t rows_read;    /* annotation rows / lines read */
    size_t images;       /* rows written */
    size_t by_label[3];  /* normal, benign, malignant among them */
    size_t with_box;     /* rows with a bbox */
    size_t missing;      /* images not found under source (left out unless keep_missing) */
    size_t filtered;     /* left out by views/sites */
    size_t patients;     /* distinct patient_id values written */
    size_t masks_read;       /* cbis-ddsm: findings whose box came from their ROI mask */
    size_t masks_missing;    /* cbis-ddsm: findings whose ROI mask is not under source */
    size_t masks_mismatched; /* cbis-ddsm: masks not the size of their film (no box) */
} exp_import_summary;

void exp_import_options_default(exp_import_options *o);

/* The formats, for messages: "mini-mias, cbis-ddsm, ... or embed". */
const char *exp_import_format_list(void);

/* True if name is one of the formats above. */
int exp_import_format_known(const char *name);

/* Reads the dataset's own files under o->source and writes o->out. Errors name the file, the
 * line and the column (WB_E_DATA), or the missing file (WB_E_IO); usage errors (an unknown
 * format, a bad option value) are WB_E_USAGE. */
int exp_import_run(const exp_import_options *o, exp_import_summary *s, wb_error *err);

#endif
