/* preprocess.h — from a decoded mammogram to the network's input and the baseline's features.
 *
 *     exp_pre_params p; exp_pre_params_default(&p);       // 512x512, Otsu mask, VOI window
 *     p.clahe = 1;
 *     exp_pre_result r; wb_error err;
 *     if (exp_pre_file("P0001/L_CC.dcm", &p, &r, &err) != 0) ...;
 *     ... r.image[y * r.cols + x], r.mask[...], r.features[EXP_PRE_F_GLCM_ENERGY] ...
 *     exp_pre_result_free(&r);
 *
 * Steps, in order (docs/preprocess.md says more):
 *   1. breast mask: pixels above a threshold (triangle or Otsu), largest connected component,
 *      holes filled;
 *   2. shape features from that mask (area fraction, extent);
 *   3. intensity window: the DICOM VOI result as read, or the p_lo..p_hi percentiles inside
 *      the mask mapped to 0..1 (clamped); outside the mask set to 0 when mask_background;
 *   4. crop to the mask's bounding box plus a margin;
 *   5. flip so that the chest wall is on the left (column 0): from the laterality tag (L: left
 *      already, R: flip), else from the side holding more of the mask;
 *   6. resample to out_rows x out_cols with anti-aliasing, keeping the aspect ratio (the image
 *      sits at column 0, centred vertically, padded with 0) or stretching;
 *   7. optional CLAHE;
 *   8. first-order and GLCM features inside the resampled mask, on these 0..1 values;
 *   9. output scaling: unit (0..1 as is), z-score inside the mask, or ImageNet mean/std.
 */
#ifndef EXP_PREPROCESS_H
#define EXP_PREPROCESS_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"

/* Bumped whenever a change to the code changes its output: part of every cache key. */
#define EXP_PRE_VERSION 2
/* 2: anti-aliasing by scipy's sampled Gaussian (truncate 4) in C instead of ITK's discrete
 *    Gaussian; mask components and holes labelled in C (same masks as ITK's filters). */

typedef enum {
    EXP_PRE_FLIP_AUTO = 0, /* laterality tag, else the mask's mass (default) */
    EXP_PRE_FLIP_TAG,      /* laterality tag only; no tag: no flip */
    EXP_PRE_FLIP_MASS,     /* mask's mass only, tag ignored */
    EXP_PRE_FLIP_NONE      /* never flip */
} exp_pre_flip_mode;

typedef enum {
    EXP_PRE_MASK_TRIANGLE = 0, /* triangle threshold: the foot of the background peak (default) */
    EXP_PRE_MASK_OTSU          /* Otsu's threshold: tends to cut fatty tissue out */
} exp_pre_mask_mode;

typedef enum {
    EXP_PRE_WINDOW_VOI = 0,    /* keep the DICOM VOI result (already 0..1) (default) */
    EXP_PRE_WINDOW_PERCENTILE  /* p_lo..p_hi percentiles inside the mask -> 0..1 */
} exp_pre_window_mode;

typedef enum {
    EXP_PRE_SCALE_UNIT = 0, /* 0..1 (default) */
    EXP_PRE_SCALE_ZSCORE,   /* (v - mean) / std, mean and std inside the mask */
    EXP_PRE_SCALE_IMAGENET  /* (v - 0.449) / 0.226: ImageNet's RGB means/stds averaged */
} exp_pre_scale_mode;

typedef struct exp_pre_params {
    int out_rows, out_cols;   /* network input size in pixels (default 512 x 512), 8..4096 */
    int keep_aspect;          /* 1: fit and pad (default); 0: stretch to out_rows x out_cols */
    int antialias;            /* Gaussian smoothing before downsampling (default 1) */
    exp_pre_mask_mode mask_threshold; /* default TRIANGLE */
    int otsu_bins;            /* histogram bins of the threshold (either method; default 256) */
    int fully_connected;      /* 8-connectivity for the components and holes (default 1) */
    int fill_holes;           /* default 1 */
    int mask_background;      /* set pixels outside the mask to 0 (default 1: no labels) */
    int crop;                 /* crop to the mask's bounding box (default 1) */
    int crop_margin;          /* pixels added around the box, in input pixels (default 8) */
    exp_pre_flip_mode flip;   /* default AUTO */
    exp_pre_window_mode window;
    double p_lo, p_hi;        /* percentiles for WINDOW_PERCENTILE (default 0.5, 99.5) */
    int clahe;                /* default 0 */
    int clahe_radius;         /* output pixels (default 16) */
    double clahe_alpha, clahe_beta; /* ITK's alpha/beta (default 0.3, 0.3) */
    exp_pre_scale_mode scale;
    int fo_bins;              /* histogram bins over [0,1] for fo_entropy (default 64) */
    int glcm_levels;          /* grey levels for the GLCM (default 64) */
} exp_pre_params;

/* Fills the documented defaults. */
void exp_pre_params_default(exp_pre_params *p);
/* Checks every field's range; -1 with WB_E_CONFIG naming the field when one is out. */
int exp_pre_params_check(const exp_pre_params *p, wb_error *err);
/* The parameters as canonical text, one "name=value" per line, preceded by
 * "preprocess_version=N" — what the cache hashes and stores beside its entries. Returns the
 * length written (snprintf semantics: truncated when >= n). */
int exp_pre_params_text(const exp_pre_params *p, char *buf, size_t n);
/* SHA-256 of exp_pre_params_text. */
void exp_pre_params_hash(const exp_pre_params *p, uint8_t out[32]);

/* Feature vector layout. Names (exp_pre_feature_name) are stable: they are used in outputs. */
enum {
    EXP_PRE_F_FO_MEAN = 0,
    EXP_PRE_F_FO_STD,
    EXP_PRE_F_FO_SKEWNESS,
    EXP_PRE_F_FO_KURTOSIS,
    EXP_PRE_F_FO_ENTROPY,
    EXP_PRE_F_FO_P10,
    EXP_PRE_F_FO_P25,
    EXP_PRE_F_FO_P50,
    EXP_PRE_F_FO_P75,
    EXP_PRE_F_FO_P90,
    EXP_PRE_F_GLCM_ENERGY,
    EXP_PRE_F_GLCM_ENTROPY,
    EXP_PRE_F_GLCM_CORRELATION,
    EXP_PRE_F_GLCM_IDM,
    EXP_PRE_F_GLCM_INERTIA,
    EXP_PRE_F_GLCM_CLUSTER_SHADE,
    EXP_PRE_F_GLCM_CLUSTER_PROMINENCE,
    EXP_PRE_F_GLCM_HARALICK_CORRELATION,
    EXP_PRE_F_SHAPE_AREA_FRACTION,
    EXP_PRE_F_SHAPE_EXTENT,
    EXP_PRE_N_FEATURES
};
#define EXP_PRE_N_FIRST_ORDER 10

/* "fo_mean", "glcm_energy", "shape_area_fraction", ...; NULL for an index out of range. */
const char *exp_pre_feature_name(int k);

typedef struct exp_pre_result {
    int rows, cols;    /* out_rows x out_cols */
    float *image;      /* rows*cols, row-major, scaled as params.scale says; owned */
    uint8_t *mask;     /* rows*cols, 1 = breast; owned */
    double features[EXP_PRE_N_FEATURES];
    int flipped;       /* 1 when the image was mirrored */
    char chest_wall_source[16]; /* "laterality", "mass" or "none" (no flip decision made) */
    int crop_box[4];   /* r0, c0, r1, c1 (half-open) in input pixels, before the flip */
    float threshold;   /* the mask threshold on the input values */
    double feature_seconds; /* wall time of the first-order and GLCM features (step 8); not
                             * stored in the cache (0 for an entry read from it) */
} exp_pre_result;

/* Runs the pipeline on img (rows x cols, row-major, values 0..1 with bright = dense, e.g. from
 * io_dicom_read with VOI applied). laterality: "L", "R", or NULL/"" when unknown. On success
 * *out owns its buffers (exp_pre_result_free); on failure *out is zeroed. Errors: WB_E_DATA
 * when no breast is found (empty mask), WB_E_CONFIG for bad params, WB_E_NOMEM. */
int exp_pre_run(const float *img, int rows, int cols, const char *laterality,
                const exp_pre_params *p, exp_pre_result *out, wb_error *err);

/* Step 8 alone: the first-order and GLCM features of img (rows x cols, values 0..1, as
 * before the scaling of step 9) inside mask, into their places of features[] (the shape
 * features are left as they are). */
int exp_pre_features(const float *img, const uint8_t *mask, int rows, int cols, const exp_pre_params *p,
                     double features[EXP_PRE_N_FEATURES], wb_error *err);

/* Reads path through io_image_read and runs the pipeline: DICOM (VOI applied, laterality from
 * ImageLaterality/Laterality), or PNG, JPEG or binary PGM (chosen by the first bytes; scaled
 * to 0..1 by their maxval; no laterality, so the breast's mass decides). Errors name the file. */
int exp_pre_file(const char *path, const exp_pre_params *p, exp_pre_result *out,
                 wb_error *err);

/* The most threads the hot loops of exp_pre_run (and of the functions below) split rows over:
 * a process-wide setting, 1..EXP_PRE_MAX_THREADS (clamped), default 1. The threads are the
 * engine's pool (nets/nn.h: nn_par_for), so min(this, nn_set_threads's count) run. The output
 * does not depend on either. Run one image per core instead (threads 1) when several images are processed at once,
 * so that the cores are not oversubscribed. */
#define EXP_PRE_MAX_THREADS 16
void exp_pre_set_threads(int n);
int exp_pre_threads(void);

/* Resamples src (rows x cols) into dst (out_rows x out_cols, caller-allocated) by linear
 * interpolation with pixel areas aligned (output centre (i + 0.5) * s - 0.5 input pixels, s =
 * in/out per axis; edges clamped) — what io_itk_resample's ResampleImageFilter computes
 * without antialias (equal, or one float rounding apart where ITK steps its index along a row). antialias: before shrinking an axis by s > 1, a sampled Gaussian of
 * sigma (s - 1) / 2 input pixels truncated at 4 sigma, edge pixels repeated (scikit-image's
 * resize with anti_aliasing, i.e. scipy.ndimage.gaussian_filter, mode 'nearest'); computed
 * only at the input points the interpolation reads. */
int exp_pre_resize(const float *src, int rows, int cols, float *dst, int out_rows,
                   int out_cols, int antialias, wb_error *err);

/* The mask steps of exp_pre_run on a whole mask (1 inside, 0 outside), in place, by run-length
 * union-find in C: the same results as io_itk_largest_component (ties: the component met first
 * in raster order) and io_itk_fill_holes (holes 4-connected, 8-connected when fully_connected),
 * which the tests check. *area (may be NULL) gets the component's pixel count. */
int exp_pre_largest_component(uint8_t *mask, int rows, int cols, int fully_connected,
                              size_t *area, wb_error *err);
int exp_pre_fill_holes(uint8_t *mask, int rows, int cols, int fully_connected, wb_error *err);

/* Frees the buffers and zeroes *r; NULL is a no-op. */
void exp_pre_result_free(exp_pre_result *r);

/* ---- the geometry of a result, for putting a map over the preprocessed image back on the
 * input image (workbench explain). Steps 4-6 are invertible from what the result records
 * (crop_box, flipped) and the parameters (the placement below); the intensity steps are not
 * needed. */

/* Where the resampled crop sits in the out_rows x out_cols canvas (step 6): its top row, rows
 * and columns (it starts at column 0; without keep_aspect it fills the canvas). */
void exp_pre_placement(const exp_pre_params *p, const int crop_box[4], int *top, int *rows, int *cols);

/* The input-image position (row, col; pixel centres at integers) of the canvas position (y,
 * x) of result r made with p: the inverse of the crop, the flip and the resampling (output
 * centre i maps to (i + 0.5) * in / out - 0.5). Returns 0 when (y, x) lies on the resampled
 * block, -1 when it is in the canvas' padding (row, col then extrapolate). */
int exp_pre_canvas_to_input(const exp_pre_params *p, const exp_pre_result *r, double y, double x, double *row,
                            double *col);

/* A map over r's canvas (r->rows x r->cols floats) back on the input image (rows x cols, the
 * image r was made from), sampled on a dh x dw grid covering it (dh = rows, dw = cols: pixel
 * for pixel; smaller for a display): each grid point takes the canvas' value at its position
 * (bilinear, clamped to the resampled block); points outside the crop box, which the network
 * never saw, get `outside`. out has dh x dw floats, caller-owned. */
void exp_pre_unmap(const exp_pre_params *p, const exp_pre_result *r, const float *map, int rows, int cols, int dh,
                   int dw, float outside, float *out);

/* First-order features of img inside mask (see docs/preprocess.md for the definitions): out
 * gets mean, std, skewness, kurtosis, entropy (`bins` bins over [0,1], log2), p10, p25, p50,
 * p75, p90. -1 with WB_E_DATA when the mask is empty. */
int exp_pre_first_order(const float *img, const uint8_t *mask, size_t n, int bins,
                        double out[EXP_PRE_N_FIRST_ORDER], wb_error *err);


/* The frame of an image at its own resolution, for taking patches out of it
 * (experiments/data/patch.c): the breast mask of step 1 (the same pixels exp_pre_run finds,
 * before cropping and resampling), the window of step 3 (lo, span: a value v maps to
 * (v - lo) / span, clamped to 0..1; 0 and 1 for the VOI window) and the flip decision of
 * step 5. */
typedef struct exp_pre_frame {
    int rows, cols;
    uint8_t *mask;     /* rows*cols, 1 = breast; owned */
    size_t area;       /* pixels of the mask */
    int box[4];        /* the mask's bounding box r0, c0, r1, c1 (half-open) */
    int flipped;       /* 1 when exp_pre_run would mirror the image */
    float lo, span;
    float threshold;
} exp_pre_frame;

/* Steps 1, 3 and 5 of exp_pre_run on img; the same errors. *out owns its mask
 * (exp_pre_frame_free; NULL is a no-op); zeroed on failure. */
int exp_pre_frame_run(const float *img, int rows, int cols, const char *laterality,
                      const exp_pre_params *p, exp_pre_frame *out, wb_error *err);
void exp_pre_frame_free(exp_pre_frame *f);

#endif
