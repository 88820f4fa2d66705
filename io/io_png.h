/* io_png.h — writes 8-bit RGB or grayscale PNG files through libpng (Debian's libpng-dev),
 * compressed with zlib at a fixed level and filter choice and without a time chunk, so the
 * same pixels give the same bytes (for a given libpng and zlib).
 *
 *     // given: const uint8_t *rgb; int width, height;
 *     if (io_png_write("montage.png", rgb, width, height, 3, &err) != 0) ...;
 *
 * PNG files are read back by io_image_read (io_image.h), also through libpng.
 */
#ifndef IO_PNG_H
#define IO_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The zlib level io_png_write compresses at (0..9), and its filters: libpng's adaptive
 * per-row choice among all five (deterministic). */
#define IO_PNG_ZLIB_LEVEL 6

/* Writes px (height rows of width pixels, `channels` bytes each: 1 gray, 3 RGB, row-major)
 * as a PNG, atomically (temp file + rename): nothing is left at path on failure. width and
 * height 1..65535. Errors: WB_E_USAGE (size, channels), WB_E_NOMEM, WB_E_WRITE (naming the
 * file and libpng's or the system's reason). */
int io_png_write(const char *path, const uint8_t *px, int width, int height, int channels,
                 wb_error *err);

/* CRC-32 (ISO 3309, as PNG and zip use it) of n bytes, continuing from crc (start with 0):
 * zlib's crc32. */
uint32_t io_png_crc32(uint32_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
