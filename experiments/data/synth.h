/* synth.h — a synthetic screening cohort written as DICOM mammograms plus labels.csv.
 *
 *     exp_synth_options o; exp_synth_options_default(&o);
 *     o.out_dir = "data/demo"; o.patients = 120; o.seed = 7;
 *     if (exp_synth_run(&o, &err) != 0) ...;
 *
 * Each patient gets 4 views (L/R x CC/MLO) as Digital Mammography X-Ray Image Storage - For
 * Presentation objects in OUT/<patient>/<L|R>_<CC|MLO>.dcm. Each breast is normal, benign
 * (circumscribed oval mass or scattered round calcifications) or malignant (irregular or
 * spiculated mass, or a cluster of pleomorphic calcifications); a lesion appears in both views
 * of its breast. OUT/labels.csv lists every file. The same options give byte-identical files.
 */
#ifndef EXP_SYNTH_H
#define EXP_SYNTH_H

#include <stdint.h>

#include "base/wb_error.h"

typedef struct exp_synth_options {
    const char *out_dir;
    int patients;      /* 1 .. 100000 */
    uint64_t seed;
    double prevalence; /* fraction of patients with a malignant breast, 0..1 (default 0.25) */
    double benign_rate; /* fraction of patients with a benign finding (default 0.2) */
    int width, height; /* image size in pixels (default 512 x 640) */
    double difficulty; /* 0 (conspicuous lesions) .. 1 (barely visible); default 0.5 */
    int disk;          /* malignant lesions are uniform bright disks (a known-answer cohort) */
    int progress;      /* print progress lines on stderr */
    /* Transfer syntaxes (io_dicom_ts values) each file picks from, uniformly; n_ts 0 = the
     * default mix: 70% explicit VR little endian, 15% JPEG lossless SV1, 15% JPEG-LS. */
    int ts[8], n_ts;
} exp_synth_options;

void exp_synth_options_default(exp_synth_options *o);

/* Parses "--transfer-syntax LIST": "mix", or names from explicit_le, jpeg_lossless,
 * jpeg_ls, rle, j2k separated by commas (the names labels.csv uses). WB_E_USAGE if bad. */
int exp_synth_parse_ts(const char *list, exp_synth_options *o, wb_error *err);

/* Writes the dataset. Files are written atomically; labels.csv last, so a dataset with a
 * labels.csv is complete. */
int exp_synth_run(const exp_synth_options *o, wb_error *err);

#endif
