/* bundle.h — a trained model as one directory (`workbench bundle`), and that model applied to
 * another cohort (`workbench predict`).
 *
 *     exp_bundle_info bi;
 *     if (exp_bundle_make("runs/demo-20261206T120000Z-0a1b2c3d", "last2", "bundles/demo-last2", &bi, &err) != 0) ...;
 *     exp_predict_summary ps;
 *     if (exp_predict_run("bundles/demo-last2", "other/labels.csv", "ext", NULL, &ps, &err) != 0) ...;
 *
 * A bundle (docs/predict.md): models/f<F>.safetensors (the fold networks of repeat 0 of one
 * backbone variant, as the run saved them with train.save_weights: true), config.yaml (the
 * run's resolved config: preprocessing, network, data.positive), thresholds.csv (fold,
 * threshold: each fold's decision threshold from its validation images, as predictions.csv
 * has it) and manifest.json (format, source run, variant, arch, in_channels, input size, the
 * weights' input convention, folds, the mean threshold, and every other file with its SHA-256),
 * and pretrained/<name>: a copy of the pretrained weights the run started from (backbone.weights),
 * which predict uses instead of that path, so that a bundle works on another machine.
 * Binary runs: whole-image runs (the unit is the image) and patch runs (data.task: patch: the
 * unit is the lesion or background patch; the manifest's "task": "patch" and "patch" object
 * record how the run cut its patches, and predict cuts the cohort's the same way).
 */
#ifndef EXP_BUNDLE_H
#define EXP_BUNDLE_H

#include <stddef.h>

#include "base/wb_error.h"

#define EXP_BUNDLE_FORMAT "workbench-bundle-1"

/* How a patch run cut its patches (data.patch), as the manifest records it. */
typedef struct exp_bundle_patch {
    char unit[4];       /* "px" or "mm" */
    double size, jitter, box_margin, min_tissue, stride;
    int background;     /* background patches per negative image without a box */
    char box[256];      /* the box columns: "x=bbox_x,y=bbox_y,w=bbox_w,h=bbox_h,y_origin=top" */
} exp_bundle_patch;

typedef struct exp_bundle_info {
    char variant[64], arch[64], source_run[256];
    char reference[64]; /* the reference baseline's variant ("" when the bundle has none) */
    int folds;
    double threshold;   /* mean of the folds' thresholds */
    double ref_threshold; /* the reference's (NaN when none) */
    int patch;          /* 1: a patch bundle (the manifest's task is "patch") */
    exp_bundle_patch pset; /* with patch: the run's patch settings */
    char pretrained[320]; /* "pretrained/<name>": the copy of backbone.weights in the bundle ("" in older bundles) */
} exp_bundle_info;

/* Writes the bundle of variant (NULL: the run's first backbone variant) of the run in run_dir
 * into out_dir, which must not exist: everything goes into out_dir.tmp.<pid> first, which is
 * renamed into place at the end (removed on failure). Errors: WB_E_IO (no run directory, a
 * missing saved network: names the file and train.save_weights; no predictions.csv),
 * WB_E_USAGE (unknown or baseline variant, a multi-class run, out_dir exists),
 * WB_E_DATA (predictions.csv without a fold's threshold), WB_E_WRITE. */
int exp_bundle_make(const char *run_dir, const char *variant, const char *out_dir, exp_bundle_info *info, wb_error *err);

/* Reads and checks bundle_dir's manifest.json as predict does before it loads anything: the
 * format and keys, every listed file against its SHA-256, the files a bundle must list, and
 * thresholds.csv against the manifest's threshold. Fills info and the network's input
 * (channels, height, width). WB_E_IO / WB_E_DATA naming the file and the key. */
int exp_bundle_check(const char *bundle_dir, exp_bundle_info *info, long *in_ch, long *in_h, long *in_w, wb_error *err);

typedef struct exp_predict_summary {
    exp_bundle_info b;
    int labeled;                    /* the cohort has labels (else no metrics) */
    size_t n, n_excluded, n_positive; /* scored units (images, or patches of a patch bundle) */
    size_t n_images;                /* patch bundles: the images the patches were cut from */
    size_t n_lesion, n_background;  /* patch bundles: lesion and background patches */
    double auc, auc_lo, auc_hi;     /* NaN without labels */
    double ref_auc;                 /* the reference baseline's (NaN: none or no labels) */
    double delta_auc, delong_p;     /* paired DeLong, network ensemble - reference */
    long long registry_id;          /* the predict's row in the registry, -1: not recorded */
    int linked;                     /* the row is linked to the source run's row */
} exp_predict_summary;

/* Applies the bundle to the images of data: a labels CSV (its directory is the images'
 * directory; the bundle's data.file_column, label_column, positive, group_column apply) or a
 * config (.yaml/.yml) whose data section is used (labels, dicom_dir, the columns, positive,
 * output_paths, on_error; its other sections are ignored: the bundle's preprocessing and
 * network decide). First every file of the manifest is checked against its SHA-256 (a missing
 * file: WB_E_IO, a changed one: WB_E_DATA, each naming the file). Each image is preprocessed
 * as the bundle's config says and scored by every fold network; the score is the mean of the
 * fold probabilities, the decision score >= the mean fold threshold. The reference baseline
 * (when the bundle has one) scores each image likewise from its radiomic features (the mean of
 * the fold baselines, the mean of their thresholds). Writes out_dir/predictions.csv,
 * metrics.json (an external validation of the source run: both ensembles' metrics and the
 * paired DeLong test between them), report.html and report.md, and, when images had to be
 * left out, excluded.csv. A labels CSV without the label column is an unlabeled cohort:
 * scores and decisions only (metrics null; a warning says so). Patients are named by the
 * pseudonym key of the directory holding out_dir (as a run's by its runs directory's).
 * registry: NULL for the directory holding out_dir's registry.sqlite (created if needed),
 * "none" for no record, or a database path; the predict is recorded there (kind
 * external_validation) and linked to its source run's row when the registry has it.
 * WB_E_DATA also when no image could be preprocessed to the bundle's input or the networks do
 * not take it (channels, size).
 * A patch bundle scores patches, cut from the cohort's images exactly as the run cut its own
 * (exp_patch_load with the bundle's config: lesion patches around the labels' boxes, seeded
 * background patches from negative images without a box; no sliding windows): predictions.csv
 * has one row per patch (its id, kind and square in stored-image pixels), metrics.json is
 * patch-level. The cohort needs labels (negatives decide where background patches come from:
 * an unlabeled cohort is WB_E_USAGE) and the bundle's box columns; a cohort config with
 * data.task: patch whose patch settings differ from the bundle's is WB_E_USAGE naming the
 * key; an image bundle given a patch-task config likewise. */
int exp_predict_run(const char *bundle_dir, const char *data, const char *out_dir, const char *registry,
                    exp_predict_summary *s, wb_error *err);

#endif
