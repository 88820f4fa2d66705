/* io_image.h — any supported grayscale image file to the float image + metadata that the DICOM
 * path produces: DICOM (io_dicom.h), PNG (libpng), JPEG (libjpeg-turbo) and binary PGM (P5,
 * netpbm; our own bounded reader). The format is chosen by the file's first bytes, not by its
 * name (docs/dicom.md, "Non-DICOM inputs").
 *
 *     io_dicom_options opt; io_dicom_options_default(&opt);
 *     io_dicom_image img; io_image_format fmt; wb_error err;
 *     if (io_image_read("mdb001.pgm", &opt, &img, &fmt, &err) != 0)
 *         wb_error_print(&err, stderr);  // "mdb001.pgm: truncated PGM: 1000 of 1048576 ..."
 *     else { ... img.pixels[r * img.cols + c] ...; io_dicom_image_free(&img); }
 *
 * Non-DICOM pixel values: stored value / maxval in [0,1] under IO_VOI_APPLY (maxval 255 for
 * 8-bit, 65535 for 16-bit PNG, the header's maxval for PGM); the stored values themselves
 * (range 0..maxval) under IO_VOI_IGNORE. Colour PNG/JPEG files are converted to luma (PNG:
 * libpng's rgb_to_gray with its default ITU-R 709 weights; JPEG: the decoder's Y channel);
 * alpha is dropped. Such files carry no patient, laterality or view: those strings stay "",
 * photometric is "MONOCHROME2", transfer_syntax_name names the format ("PNG", "JPEG",
 * "PGM (P5)"), and pixel spacing is set only from a PNG pHYs chunk in pixels per metre.
 * Every dimension is checked against opt->max_dim / max_pixels before anything is allocated;
 * truncated or corrupt files are WB_E_DATA errors naming the file (and the offset for PGM). */
#ifndef IO_IMAGE_H
#define IO_IMAGE_H

#include <stddef.h>

#include "base/wb_error.h"
#include "io/io_dicom.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    IO_IMAGE_UNKNOWN = 0,
    IO_IMAGE_DICOM,
    IO_IMAGE_PNG,
    IO_IMAGE_JPEG,
    IO_IMAGE_PGM,
} io_image_format;

/* "dicom", "png", "jpeg", "pgm" or "unknown". */
const char *io_image_format_name(io_image_format f);

/* The format of n leading bytes of a file (n >= 132 lets the DICOM marker be seen):
 * PNG signature, JPEG SOI (FF D8 FF), "P5" + whitespace, "DICM" at offset 128. */
io_image_format io_image_sniff_bytes(const unsigned char *b, size_t n);

/* The format of the file at path by its first bytes; when none matches, a name ending in
 * .png/.jpg/.jpeg/.pgm is an error (the content is not what the name says) and anything else
 * is handed to DCMTK as DICOM (which also reads files without the Part 10 preamble).
 * -1 with err (WB_E_IO, WB_E_DATA) when the file cannot be opened or is such a misnamed file. */
int io_image_sniff(const char *path, io_image_format *fmt, wb_error *err);

/* Reads one file of any supported format. On failure img is zeroed (nothing to free) and
 * err names the file: WB_E_IO when it cannot be opened, WB_E_DATA when its content cannot be
 * used. fmt (may be NULL) receives the format. The image is freed by io_dicom_image_free. */
int io_image_read(const char *path, const io_dicom_options *opt, io_dicom_image *img,
                  io_image_format *fmt, wb_error *err);

/* Decodes a PNG, JPEG or PGM held in memory (name only labels errors). DICOM is not decoded
 * here (DCMTK reads files): such bytes are an error. */
int io_image_decode(const unsigned char *buf, size_t n, const char *name,
                    const io_dicom_options *opt, io_dicom_image *img, io_image_format *fmt,
                    wb_error *err);

/* True when a file found in a directory walk is an image to read: a DICOM candidate
 * (io_dicom_is_candidate) or a file whose first bytes are PNG, JPEG or PGM. */
int io_image_is_candidate(const char *path);

/* libpng and libjpeg versions for `workbench --version`, e.g. "libpng 1.6.39, libjpeg-turbo 62". */
const char *io_image_versions(void);

#ifdef __cplusplus
}
#endif
#endif
