/* patch.h — data.task: patch: lesion-centred and background patches as dataset items, and the
 * sliding windows that score whole images with a patch classifier.
 *
 *     // given: const exp_config *cfg; uint8_t key[32]; const char *cache;
 *     exp_dataset ds;                                   // exp_dataset_load calls exp_patch_load
 *     if (exp_dataset_load(cfg, key, cache, 1, &ds, &err) != 0) ...;
 *     const exp_patch_set *ps = ds.patch;               // NULL for data.task: image
 *     // ds.items[0 .. ds.n): lesion and background patches
 *     // exp_dataset_image(&ds, ds.n + w, buf, &err): window w of ps->n_windows (past ds.n;
    //   in memory or in the spill file, through ds.slot)
 *     // ps->images[k].w0 .. w0 + nw: image k's windows (dataset indices)
 *
 * A patch is a square of side s stored-image pixels (data.patch.size, in pixels or in mm
 * through the pixel spacing), centred on the box plus a seeded jitter, moved inside the image
 * when it would cross an edge (never padded); a box whose longer side exceeds s gets a square
 * of that side times 1 + 2 box_margin instead (the whole lesion stays visible). The square is
 * windowed, masked and flipped as exp_pre_run does for the whole image (the same breast mask,
 * window and flip decision, from exp_pre_frame_run), resampled to preprocess.height x width,
 * equalised (CLAHE), its features computed inside its part of the breast mask, and scaled.
 * Background patches come from images without a box and a negative label: squares with at
 * least data.patch.min_tissue of their pixels in the breast, drawn by a seeded generator.
 * Windows: the squares of side s on a grid of step data.patch.stride over every image, the
 * last row and column of the grid against the image's edge, kept when at least min_tissue of
 * their pixels are breast.
 */
#ifndef EXP_PATCH_H
#define EXP_PATCH_H

#include <stddef.h>
#include <stdint.h>

#include "experiments/config/config.h"
#include "experiments/data/preprocess.h"
#include "base/wb_error.h"
#include "io/io_image.h"

typedef enum {
    EXP_PATCH_LESION = 0,     /* around a box of the labels CSV; the label is the row's */
    EXP_PATCH_BACKGROUND = 1, /* sampled from the breast of an image without a box; negative */
    EXP_PATCH_WINDOW = 2      /* a sliding window (past ds->n, not in the cross-validation) */
} exp_patch_kind;

typedef struct exp_patch_item {
    int kind;                 /* exp_patch_kind */
    size_t image;             /* index into exp_patch_set.images */
    int r0, c0, side;         /* the square in stored-image pixels (before any flip) */
    int grid;                 /* windows: position in the image's grid (gy * grid_cols + gx) */
} exp_patch_item;

typedef struct exp_patch_image {
    char *file;               /* as in the labels CSV */
    char *group;              /* patient id (raw; never written) */
    char pseudonym[17];
    char sop_uid[80], laterality[8], view[16];
    io_image_format format;   /* of the file: DICOM, PNG, JPEG, PGM */
    int label;                /* 1 when any of its rows is data.positive */
    int csv_line;             /* its first row */
    int split;                /* cv.split_column: 1 its rows are test rows, 0 training rows */
    int rows, cols;           /* stored image */
    int side, stride;         /* patch side and window step in its pixels */
    double spacing_mm;        /* pixel spacing used (0 when unknown) */
    double csv_spacing_mm;    /* the labels' pixel_spacing_mm cell (0 when absent or empty) */
    size_t w0, nw;            /* its windows: dataset items w0 .. w0 + nw - 1 (>= ds->n) */
    int grid_rows, grid_cols; /* the window grid (heat map) */
    size_t n_patches;         /* lesion and background patches taken from it */
} exp_patch_image;

typedef struct exp_patch_set {
    exp_patch_item *items;    /* ds->n patches, then n_windows windows */
    size_t n_windows;
    exp_patch_image *images;  /* every image decoded, with or without patches */
    size_t n_images;
    size_t n_lesion, n_background;
    double window_seconds;    /* wall time of preparing the windows */
} exp_patch_set;

struct exp_dataset;

/* exp_dataset_load for data.task: patch (same contract; ds->patch set). A row whose box is
 * malformed or outside its image is an error naming the labels file and line (WB_E_DATA, exit
 * 3) under on_error: fail, an excluded entry with that reason under skip; a patch side larger
 * than an image is a config error at data.patch.size (exit 2). Rows may repeat a file (one
 * box each). */
int exp_patch_load(const exp_config *cfg, const uint8_t key[32], const char *cache_dir, int progress,
                   struct exp_dataset *ds, wb_error *err);
void exp_patch_set_free(exp_patch_set *ps);

/* One patch: the square (r0, c0, side) of img (rows x cols, 0..1, as decoded) under frame,
 * preprocessed as the whole image would be (see above) to p->out_rows x p->out_cols. The
 * square must lie inside the image. *out owns its buffers (exp_pre_result_free). */
int exp_patch_make(const float *img, const exp_pre_frame *frame, const exp_pre_params *p, int r0, int c0,
                   int side, exp_pre_result *out, wb_error *err);

/* The stored image of path decoded as a patch run decodes its images (the config's VOI mode,
 * 0..1; DICOM, PNG, JPEG or PGM), into *img (rows x cols, malloc'd: free it), and its frame
 * (breast mask, window, flip: exp_pre_frame_run with the config's preprocessing) into *fr
 * (exp_pre_frame_free), for cutting its patches again with exp_patch_make. laterality: the
 * labels' value, or NULL / "" for the file's own. Errors name path (WB_E_IO, WB_E_DATA). */
int exp_patch_source(const exp_config *cfg, const char *path, const char *laterality, float **img, int *rows, int *cols,
                     exp_pre_frame *fr, wb_error *err);

/* Fraction of the square (r0, c0, side) inside the mask, from its summed-area table ii
 * ((rows + 1) x (cols + 1), exp_patch_integral). */
double exp_patch_tissue(const uint32_t *ii, int cols, int r0, int c0, int side);
/* The summed-area table of mask into ii ((rows + 1) x (cols + 1)). */
void exp_patch_integral(const uint8_t *mask, int rows, int cols, uint32_t *ii);

/* The window grid of one image: top-left corners along an axis of n pixels for side s and step
 * st: 0, st, 2 st, ... while <= n - s, and n - s last when the steps miss it. Returns the count
 * (pos may be NULL to count only). */
int exp_patch_grid(int n, int s, int st, int *pos);

#endif
