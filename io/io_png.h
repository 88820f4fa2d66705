/* io_png.h — writes 8-bit RGB or grayscale PNG files (no compression: stored deflate blocks,
 * so no zlib dependency; a 1024x1024 RGB contact sheet is about 3 MiB).
 *
 *     if (io_png_write("montage.png", rgb, width, height, 3, &err) != 0) ...;
 */
#ifndef IO_PNG_H
#define IO_PNG_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Writes px (height rows of width pixels, `channels` bytes each: 1 gray, 3 RGB, row-major)
 * as a PNG, atomically (temp file + rename). width and height 1..65535. */
int io_png_write(const char *path, const uint8_t *px, int width, int height, int channels,
                 wb_error *err);

/* CRC-32 (ISO 3309, as PNG uses it) of n bytes, continuing from crc (start with 0). */
uint32_t io_png_crc32(uint32_t crc, const void *data, size_t n);

#ifdef __cplusplus
}
#endif
#endif
