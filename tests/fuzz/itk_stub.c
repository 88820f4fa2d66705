/* itk_stub.c — io_itk.h for the fuzz build (WB_FUZZ) only. Debian's ITK 5.2 headers refuse
 * every compiler but GCC ("Unsupported compiler" in itk_compiler_detection.h), and the fuzz
 * build is clang; no fuzz target reaches ITK, so wb_io gets these failing stand-ins instead
 * of io/itk_shim.cpp there (root CMakeLists.txt). */
#include "io/io_itk.h"

#define ITK_ABSENT(err) \
    wb_err(err, WB_E_INTERNAL, NULL, "ITK is not part of the fuzz build (tests/fuzz/itk_stub.c)")

int io_itk_otsu_threshold(const float *img, int rows, int cols, int bins, float *thr, wb_error *err)
{
    (void)img, (void)rows, (void)cols, (void)bins, (void)thr;
    return ITK_ABSENT(err);
}

int io_itk_triangle_threshold(const float *img, int rows, int cols, int bins, float *thr,
                              wb_error *err)
{
    (void)img, (void)rows, (void)cols, (void)bins, (void)thr;
    return ITK_ABSENT(err);
}

int io_itk_largest_component(uint8_t *mask, int rows, int cols, int fully_connected, size_t *area,
                             wb_error *err)
{
    (void)mask, (void)rows, (void)cols, (void)fully_connected, (void)area;
    return ITK_ABSENT(err);
}

int io_itk_fill_holes(uint8_t *mask, int rows, int cols, int fully_connected, wb_error *err)
{
    (void)mask, (void)rows, (void)cols, (void)fully_connected;
    return ITK_ABSENT(err);
}

int io_itk_mask_bbox(const uint8_t *mask, int rows, int cols, int box[4], wb_error *err)
{
    (void)mask, (void)rows, (void)cols, (void)box;
    return ITK_ABSENT(err);
}

int io_itk_flip_horizontal(float *img, int rows, int cols, wb_error *err)
{
    (void)img, (void)rows, (void)cols;
    return ITK_ABSENT(err);
}

int io_itk_resample(const float *src, int rows, int cols, float *dst, int out_rows, int out_cols,
                    int antialias, wb_error *err)
{
    (void)src, (void)rows, (void)cols, (void)dst, (void)out_rows, (void)out_cols, (void)antialias;
    return ITK_ABSENT(err);
}

int io_itk_clahe(float *img, int rows, int cols, int radius, double alpha, double beta,
                 wb_error *err)
{
    (void)img, (void)rows, (void)cols, (void)radius, (void)alpha, (void)beta;
    return ITK_ABSENT(err);
}

int io_itk_glcm_features(const float *img, const uint8_t *mask, int rows, int cols, int levels,
                         double out[IO_ITK_GLCM_COUNT], double sd[IO_ITK_GLCM_COUNT],
                         wb_error *err)
{
    (void)img, (void)mask, (void)rows, (void)cols, (void)levels, (void)out, (void)sd;
    return ITK_ABSENT(err);
}

int io_itk_glcm_features_reference(const float *img, const uint8_t *mask, int rows, int cols,
                                   int levels, double out[IO_ITK_GLCM_COUNT],
                                   double sd[IO_ITK_GLCM_COUNT], wb_error *err)
{
    return io_itk_glcm_features(img, mask, rows, cols, levels, out, sd, err);
}

const char *io_itk_version(void) { return "none (fuzz build)"; }
