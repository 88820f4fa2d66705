/* io_dicom.h — 2-D grayscale DICOM (mammograms first) to a float32 image plus metadata.
 *
 *     io_dicom_options opt; io_dicom_options_default(&opt);     // VOI applied, caps set
 *     io_dicom_image img;  wb_error err;
 *     if (io_dicom_read("P0001/L_CC.dcm", &opt, &img, &err) != 0)
 *         wb_error_print(&err, stderr);  // "P0001/L_CC.dcm: (0028,0008) Number of Frames: 3 frames; ..."
 *     else { ... img.pixels[r * img.cols + c] ...; io_dicom_image_free(&img); }
 *
 * Pixel values (docs/dicom.md has the full rules):
 *   - stored values are masked to Bits Stored (High Bit honoured) and sign-extended when
 *     Pixel Representation is 1;
 *   - the Modality LUT is applied (Rescale Slope/Intercept, or the Modality LUT Sequence);
 *   - IO_VOI_APPLY: the VOI LUT is applied (Window Center/Width, the window chosen by
 *     window_index, VOI LUT Function LINEAR, LINEAR_EXACT or SIGMOID; or the VOI LUT
 *     Sequence) and the result scaled to [0,1]; without VOI tags the modality range is
 *     scaled to [0,1];
 *   - IO_VOI_IGNORE: the values stay in modality units;
 *   - MONOCHROME1 is inverted so that bright (high) always means dense tissue: 1 - v for
 *     APPLY, (lo + hi) - v for IGNORE, lo/hi being the modality range;
 *   - JPEG 2000 (and High-Throughput JPEG 2000) frames are decoded by OpenJPEG and must match
 *     Rows, Columns, Samples per Pixel and Bits Allocated; then the same rules apply;
 *   - pixels equal to Pixel Padding Value (up to Pixel Padding Range Limit) are set to the
 *     lowest value of the output range and counted in meta.n_padding.
 * The C++ behind this header (io_dicom_shim.cpp) lets no exception out.
 */
#ifndef IO_DICOM_H
#define IO_DICOM_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { IO_VOI_APPLY = 0, IO_VOI_IGNORE = 1 } io_voi_mode;

typedef struct io_dicom_options {
    io_voi_mode voi;
    int window_index;  /* which Window Center/Width pair when there are several (0-based) */
    int max_dim;       /* refuse Rows or Columns above this (default 16384) */
    size_t max_pixels; /* refuse Rows*Columns above this (default 2^27) */
} io_dicom_options;

void io_dicom_options_default(io_dicom_options *opt);

#define IO_DICOM_STR 256 /* bytes of UTF-8: a 64-character LO value can need 192 */

/* Metadata. PatientName, birth date and other identifying data are never read.
 * Strings are "" when the tag is absent; numbers are 0 (and has_* 0). */
typedef struct io_dicom_meta {
    char patient_id[IO_DICOM_STR];
    char study_uid[IO_DICOM_STR], series_uid[IO_DICOM_STR], sop_uid[IO_DICOM_STR];
    char sop_class_uid[IO_DICOM_STR];
    char modality[IO_DICOM_STR];
    char laterality[IO_DICOM_STR];        /* ImageLaterality, else Laterality */
    char laterality_source[IO_DICOM_STR]; /* "ImageLaterality", "Laterality" or "" */
    char view_position[IO_DICOM_STR];
    char manufacturer[IO_DICOM_STR], model[IO_DICOM_STR];
    char photometric[IO_DICOM_STR];
    char presentation_intent[IO_DICOM_STR];
    char implant[IO_DICOM_STR];           /* BreastImplantPresent: YES / NO / "" */
    char patient_age[IO_DICOM_STR];
    char transfer_syntax[IO_DICOM_STR];      /* UID */
    char transfer_syntax_name[IO_DICOM_STR]; /* e.g. "JPEG Lossless, Non-hierarchical, ..." */
    int rows, cols, bits_allocated, bits_stored, high_bit, pixel_representation;
    int has_pixel_spacing;
    double pixel_spacing[2];                 /* row spacing, column spacing in mm */
    char pixel_spacing_source[IO_DICOM_STR]; /* "PixelSpacing" or "ImagerPixelSpacing" */
    char voi_source[IO_DICOM_STR]; /* "window", "voi_lut_sequence", "none", "ignored" */
    int n_windows;                 /* how many Window Center/Width pairs the file has */
    double window_center, window_width; /* the pair used, if voi_source is "window" */
    char voi_function[IO_DICOM_STR];    /* LINEAR, LINEAR_EXACT, SIGMOID */
    size_t n_padding;                   /* pixels that matched Pixel Padding Value */
} io_dicom_meta;

typedef struct io_dicom_image {
    int rows, cols;
    float *pixels;          /* rows*cols, row-major; owned, io_dicom_image_free frees */
    float range_lo, range_hi; /* the output range: [0,1] for APPLY, modality range for IGNORE */
    io_dicom_meta meta;
} io_dicom_image;

/* Reads one file. On failure img is zeroed (nothing to free) and err says why: code
 * WB_E_IO when the file cannot be opened, WB_E_DATA when its content cannot be used. */
int io_dicom_read(const char *path, const io_dicom_options *opt, io_dicom_image *img,
                  wb_error *err);
/* Reads the header only (no pixel decoding). */
int io_dicom_read_meta(const char *path, io_dicom_meta *meta, wb_error *err);
void io_dicom_image_free(io_dicom_image *img);

/* True when a file found in a directory walk should be read as DICOM: it has the Part 10
 * "DICM" marker at byte 128 or its name ends in .dcm / .dicom (any case). Files named on
 * the command line are always read. */
int io_dicom_is_candidate(const char *path);

/* ---- writing (for synthetic data) ---- */

typedef enum {
    IO_DICOM_TS_EXPLICIT_LE = 0,   /* 1.2.840.10008.1.2.1 */
    IO_DICOM_TS_JPEG_LOSSLESS_SV1, /* 1.2.840.10008.1.2.4.70 */
    IO_DICOM_TS_JPEGLS_LOSSLESS,   /* 1.2.840.10008.1.2.4.80 */
    IO_DICOM_TS_RLE,               /* 1.2.840.10008.1.2.5 */
    IO_DICOM_TS_JPEG2000_LOSSLESS, /* 1.2.840.10008.1.2.4.90, through OpenJPEG (io_j2k.h) */
    IO_DICOM_TS_COUNT_
} io_dicom_ts;

/* Writes a single-frame grayscale image (unsigned, 16 bits allocated, bits_stored 8..16)
 * with the given attributes, atomically (temp file + rename). Each attribute is
 * "PATH=VALUE" where PATH is a tag "(gggg,eeee)" or a sequence path in DCMTK's syntax,
 * "(0008,2218)[0].(0008,0100)=T-04000"; "PATH" without "=" creates an empty element or
 * sequence. The Image Pixel module (Rows, Columns, Bits *, Samples per Pixel, Pixel
 * Representation, Pixel Data) is written by this function. */
int io_dicom_write(const char *path, const char *const *attrs, size_t n_attrs,
                   const uint16_t *pixels, int rows, int cols, int bits_stored,
                   io_dicom_ts ts, wb_error *err);

/* Library versions for `workbench --version`. */
const char *io_dicom_dcmtk_version(void);
const char *io_dicom_openjpeg_version(void);

#ifdef __cplusplus
}
#endif
#endif
