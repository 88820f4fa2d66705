/* io_itk.h — the image filters the preprocessing needs, through ITK, behind a plain C API.
 *
 *     // given: const float *img; int rows, cols; size_t n, area; uint8_t *mask;
 *     float thr;  wb_error err;
 *     if (io_itk_otsu_threshold(img, rows, cols, 256, &thr, &err) != 0) ...;
 *     for (size_t i = 0; i < n; i++) mask[i] = img[i] > thr;
 *     io_itk_largest_component(mask, rows, cols, 1, &area, &err);
 *     io_itk_fill_holes(mask, rows, cols, 0, &err);
 *
 * Images are float32, `rows` x `cols`, row-major (pixel (r, c) at [r * cols + c]); masks are
 * uint8 with 1 inside and 0 outside, same layout. Pixel spacing is taken as 1 (all sizes are
 * in pixels). The caller owns every buffer; functions that change an image do so in place or
 * write into a caller-allocated output. Each function returns 0, or -1 with err filled
 * (WB_E_NOMEM, WB_E_USAGE for bad arguments, WB_E_INTERNAL for an ITK exception, whose text
 * is kept in the message). The C++ behind this header (itk_shim.cpp) lets no exception out.
 */
#ifndef IO_ITK_H
#define IO_ITK_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest side and pixel count accepted by every function (the DICOM reader's caps). */
#define IO_ITK_MAX_DIM 16384
#define IO_ITK_MAX_PIXELS ((size_t)1 << 27)

/* Otsu's threshold of the whole image (itk::OtsuThresholdImageFilter, `bins` histogram bins
 * over the image's min..max). *thr is the value ITK returns: pixels strictly above it are the
 * bright class. */
int io_itk_otsu_threshold(const float *img, int rows, int cols, int bins, float *thr,
                          wb_error *err);

/* Zack's triangle threshold of the whole image (`bins` bins over its min..max; computed in the
 * shim, since ITK 5.2's TriangleThresholdCalculator reads past its histogram): the foot of the
 * histogram's main peak. Better than Otsu when a flat background peak
 * dominates and the tissue spreads over a wide range (windowed mammograms). Pixels strictly
 * above *thr are foreground. */
int io_itk_triangle_threshold(const float *img, int rows, int cols, int bins, float *thr,
                              wb_error *err);

/* Keeps only the largest connected component of mask, in place
 * (itk::ConnectedComponentImageFilter + RelabelComponentImageFilter). fully_connected: 1 for
 * 8-connectivity, 0 for 4. *area (may be NULL) gets its pixel count (0 for an empty mask). */
int io_itk_largest_component(uint8_t *mask, int rows, int cols, int fully_connected,
                             size_t *area, wb_error *err);

/* Fills the holes of mask in place: background regions not connected to the image border
 * become foreground (itk::BinaryFillholeImageFilter; holes are 4-connected when
 * fully_connected is 0, 8-connected when 1). */
int io_itk_fill_holes(uint8_t *mask, int rows, int cols, int fully_connected, wb_error *err);

/* Bounding box of the mask's nonzero pixels: rows r0..r1-1, columns c0..c1-1 (half-open).
 * Returns 0, or -1 (and leaves box alone) when the mask is empty; err may be NULL. */
int io_itk_mask_bbox(const uint8_t *mask, int rows, int cols, int box[4], wb_error *err);

/* Mirrors the image left-right in place (itk::FlipImageFilter along the column axis). */
int io_itk_flip_horizontal(float *img, int rows, int cols, wb_error *err);

/* Resamples src (rows x cols) to dst (out_rows x out_cols, caller-allocated) by linear
 * interpolation (itk::ResampleImageFilter + LinearInterpolateImageFunction). Pixel areas are
 * aligned: output pixel centre (i + 0.5) * s - 0.5 in input pixels, s = in/out per axis (the
 * convention of scikit-image's resize and scipy's zoom with grid_mode=True).
 * antialias: before downsampling an axis by s > 1 the image is smoothed with a discrete
 * Gaussian (itk::DiscreteGaussianImageFilter, zero-flux boundary) of sigma = (s - 1) / 2 input
 * pixels along it — scikit-image's anti_aliasing default. */
int io_itk_resample(const float *src, int rows, int cols, float *dst, int out_rows,
                    int out_cols, int antialias, wb_error *err);

/* Contrast-limited adaptive histogram equalisation in place
 * (itk::AdaptiveHistogramEqualizationImageFilter): radius in pixels (window 2r+1), alpha
 * (0 = classical equalisation, 1 = unsharp mask) and beta (0 = unchanged .. 1 = full
 * equalisation) as ITK defines them. Output values stay in the input's min..max. */
int io_itk_clahe(float *img, int rows, int cols, int radius, double alpha, double beta,
                 wb_error *err);

/* GLCM texture features, in this order (ITK's HistogramToTextureFeaturesFilter definitions,
 * docs/preprocess.md has the formulas and how they differ from scikit-image's). */
enum {
    IO_ITK_GLCM_ENERGY = 0,
    IO_ITK_GLCM_ENTROPY,
    IO_ITK_GLCM_CORRELATION,
    IO_ITK_GLCM_IDM, /* inverse difference moment */
    IO_ITK_GLCM_INERTIA,
    IO_ITK_GLCM_CLUSTER_SHADE,
    IO_ITK_GLCM_CLUSTER_PROMINENCE,
    IO_ITK_GLCM_HARALICK_CORRELATION,
    IO_ITK_GLCM_COUNT
};

/* Texture features of img inside mask (as itk::Statistics::ScalarImageToTextureFeaturesFilter
 * computes them: the co-occurrence counts are made in the shim, the features by ITK's
 * HistogramToTextureFeaturesFilter).
 * Values are quantised to `levels` grey levels (2..1024): level = floor(v * levels) for v in
 * [0,1], clamped to 0..levels-1 (values outside [0,1] are clamped). The co-occurrence matrix is
 * symmetric, counts pairs whose two pixels are both inside the mask, at ITK's default offsets
 * (the 4 "previous" 8-neighbours: (dr,dc) = (-1,-1), (-1,0), (-1,1), (0,-1)), one matrix per
 * offset; out[k] is the mean over the offsets and sd[k] (may be NULL) the population standard
 * deviation. Returns -1 (WB_E_DATA) when the mask has no pair of neighbouring pixels. */
int io_itk_glcm_features(const float *img, const uint8_t *mask, int rows, int cols, int levels,
                         double out[IO_ITK_GLCM_COUNT], double sd[IO_ITK_GLCM_COUNT],
                         wb_error *err);
/* The same features through ITK's ScalarImageToTextureFeaturesFilter end to end (its own
 * co-occurrence filter: a histogram lookup per pixel pair, several times slower). The tests
 * check io_itk_glcm_features against it to the bit; nothing else calls it. */
int io_itk_glcm_features_reference(const float *img, const uint8_t *mask, int rows, int cols,
                                   int levels, double out[IO_ITK_GLCM_COUNT],
                                   double sd[IO_ITK_GLCM_COUNT], wb_error *err);

/* The ITK version, "5.2.1". */
const char *io_itk_version(void);

#ifdef __cplusplus
}
#endif
#endif
