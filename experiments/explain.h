/* explain.h — `workbench explain`: where a run's saved fold network looked on given images.
 *
 *     const char *files[] = {"data/P0001/L_CC.dcm"};
 *     exp_explain_opts o; exp_explain_opts_default(&o);
 *     o.run_dir = "runs/demo-..."; o.files = files; o.n_files = 1; o.out_dir = "explain";
 *     exp_explain_summary s;
 *     if (exp_explain_run(&o, &s, &err) != 0) ...;        // exit code from err.code
 *
 * The run must have been made with train.save_weights: true (models/r<R>_f<F>_<variant>.safetensors).
 * Each file is preprocessed as the run did (its resolved config.yaml), the fold network gives
 * the class's Grad-CAM (experiments/model/saliency.h) at the chosen stage, and the map is put
 * back on the image as stored (crop, flip and resampling undone: exp_pre_unmap). Written into
 * out_dir, atomically: <name>_gradcam.png (the grey image, the map in colour, a colour bar, the
 * map's peak as a white cross and the labels' lesion box in green when there is one),
 * <name>_occlusion.png with occ_patch > 0, and explain.csv (one row per image; docs/explain.md).
 */
#ifndef EXP_EXPLAIN_H
#define EXP_EXPLAIN_H

#include <stddef.h>

#include "base/wb_error.h"

typedef struct exp_explain_opts {
    const char *run_dir;
    const char *variant;        /* NULL: the run's first backbone variant */
    int repeat, fold;           /* which fold's network (0-based, as in the models/ names) */
    const char *const *files;
    size_t n_files;
    const char *out_dir;
    const char *stage;          /* NULL: the last stage before the head */
    int cls;                    /* class explained; -1: binary: the positive class (1), with
                                 * data.classes: the class the network predicts */
    int occ_patch, occ_stride;  /* occlusion sensitivity in preprocessed pixels; patch 0: none */
    int sanity;                 /* 1: Grad-CAM of a network with re-initialised weights too, and
                                 * the Spearman correlation of the two maps (explain.csv) */
    int max_size;               /* the PNGs' longest side (larger images are shown smaller) */
} exp_explain_opts;

/* variant NULL, repeat 0, fold 0, stage NULL, cls -1, no occlusion, no sanity, max_size 1024. */
void exp_explain_opts_default(exp_explain_opts *o);

typedef struct exp_explain_summary {
    size_t n_done, n_failed;    /* images explained; images that could not be (named on stderr) */
    size_t n_box, n_peak_in_box; /* images with a lesion box in the labels; whose map peaks in it
                                  * (patch runs: lesion patches of files with a box; whose map
                                  * peaks in one of the file's boxes) */
    int patch;                  /* a patch run: n_patches patches of n_done images explained */
    size_t n_patches;
    char variant[64], stage[32], weights[4200];
} exp_explain_summary;

/* Explains every file. A file that cannot be read or preprocessed is reported on stderr and
 * skipped; the others are written, and the call returns -1 with WB_E_FAILED (exit 1) at the
 * end. Errors before any image: WB_E_IO (no run directory, no saved network: the message
 * names the file and train.save_weights), WB_E_USAGE (unknown or baseline variant, fold or
 * stage out of range, a patch run), WB_E_CONFIG (the run's config), WB_E_DATA (weights that
 * do not fit the config's network), WB_E_WRITE. */
int exp_explain_run(const exp_explain_opts *o, exp_explain_summary *sum, wb_error *err);

/* The case gallery (experiments/report/report_gallery.h) of a binary whole-image run made with
 * train.save_weights: for each backbone variant, the n most confident true positives (highest
 * scores of positives at or above their fold's threshold), false positives (highest scores of
 * negatives at or above it) and false negatives (lowest scores of positives below it) of
 * predictions.csv, every repeat (ties: the SOP Instance UID), each explained by its own
 * out-of-fold network at `stage` (NULL: the last before the head) as a thumbnail of max_size
 * pixels, into RUN_DIR/gallery/ (<variant>_<kind>_<rank>.png, gallery.csv); then the run's
 * reports are written again (exp_report_write), now with the gallery. Files are found through
 * the labels CSV (its sop_instance_uid column, else the DICOM header). n 1..50. Errors as
 * exp_explain_run, and WB_E_USAGE for a multi-class run. *shown receives the number of cases. */
int exp_explain_gallery(const char *run_dir, int n, const char *stage, int max_size, size_t *shown, wb_error *err);

#endif
