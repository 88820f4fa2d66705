/* io_j2k.h — JPEG 2000 codestreams (ISO 15444-1, and High-Throughput JPEG 2000, 15444-15)
 * through OpenJPEG: the pixel data of one DICOM frame in, integer samples out, and back.
 *
 *     // given: int rows, cols; const char *path; const uint8_t *frame; size_t frame_len;
 *     io_j2k_expect want = {.width = cols, .height = rows, .ncomps = 1, .max_prec = 16};
 *     io_j2k_image j;
 *     if (io_j2k_decode(path, frame, frame_len, &want, &j, &err) != 0) return -1;
 *     ... j.samples[r * j.width + c] ...
 *     io_j2k_image_free(&j);
 *
 * The codestream's header is checked against `want` before any sample is decoded, so the
 * allocation is bounded by what the caller already accepted (the DICOM Rows x Columns). A
 * raw codestream (starting FF 4F FF 51) and, leniently, a JP2 file (signature box) are read.
 * Decoding is strict: a truncated codestream is an error, never a partial image.
 */
#ifndef IO_J2K_H
#define IO_J2K_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct io_j2k_expect {
    int width, height; /* Columns, Rows */
    int ncomps;        /* Samples per Pixel */
    int max_prec;      /* Bits Allocated: a component of more bits cannot be stored */
} io_j2k_expect;

typedef struct io_j2k_image {
    int width, height, ncomps;
    int prec, sgnd;   /* of component 0: bits per sample, 1 when signed */
    int htj2k;        /* 1 when the codestream uses the HT block coder (15444-15) */
    int32_t *samples; /* component 0, width*height row-major; OpenJPEG's buffer, owned:
                         io_j2k_image_free frees it */
} io_j2k_image;

/* Decodes component 0 of one frame. Errors (WB_E_DATA, naming `path` and the DICOM tag a
 * mismatch concerns): not a JPEG 2000 codestream, a header that differs from `want`,
 * subsampled components, a truncated or corrupt codestream. On failure img is zeroed. */
int io_j2k_decode(const char *path, const uint8_t *data, size_t size, const io_j2k_expect *want,
                  io_j2k_image *img, wb_error *err);
void io_j2k_image_free(io_j2k_image *img);

/* Encodes one grayscale frame losslessly (reversible 5/3 wavelet, one tile, raw codestream)
 * of `prec` bits, unsigned. *out is malloc'ed (caller frees); *out_len its length. */
int io_j2k_encode_lossless(const char *path, const uint16_t *pixels, int width, int height,
                           int prec, uint8_t **out, size_t *out_len, wb_error *err);

/* "2.5.0" */
const char *io_j2k_openjpeg_version(void);

#ifdef __cplusplus
}
#endif
#endif
