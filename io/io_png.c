/* io_png.c — PNG writer with stored (uncompressed) deflate blocks. */
#include "io/io_png.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_fs.h"

uint32_t io_png_crc32(uint32_t crc, const void *data, size_t n)
{
    static uint32_t table[256];
    static int ready = 0;
    if (!ready) { /* idempotent: concurrent first calls write the same values */
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

static void be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static int chunk(FILE *f, const char *type, const uint8_t *data, size_t n)
{
    uint8_t h[8];
    be32(h, (uint32_t)n);
    memcpy(h + 4, type, 4);
    uint32_t crc = io_png_crc32(0, type, 4);
    crc = io_png_crc32(crc, data, n);
    uint8_t t[4];
    be32(t, crc);
    return fwrite(h, 1, 8, f) == 8 && (n == 0 || fwrite(data, 1, n, f) == n) &&
                   fwrite(t, 1, 4, f) == 4
               ? 0
               : -1;
}

int io_png_write(const char *path, const uint8_t *px, int width, int height, int channels,
                 wb_error *err)
{
    if (width < 1 || height < 1 || width > 65535 || height > 65535 ||
        (channels != 1 && channels != 3))
        return wb_err(err, WB_E_USAGE, path, "PNG: bad size %dx%d or channels %d", width,
                      height, channels);
    size_t stride = (size_t)width * (size_t)channels + 1; /* filter byte + pixels */
    size_t raw_n = stride * (size_t)height;
    size_t n_blocks = (raw_n + 65534) / 65535;
    size_t z_n = 2 + raw_n + 5 * n_blocks + 4;
    if (z_n > 0x7fffffffu)
        return wb_err(err, WB_E_USAGE, path, "PNG: image too large for one IDAT chunk");
    uint8_t *z = malloc(z_n);
    if (!z)
        return wb_err(err, WB_E_NOMEM, path, "PNG: out of memory");
    /* zlib stream: header, stored blocks over the filtered rows, Adler-32. */
    uint8_t *o = z;
    *o++ = 0x78;
    *o++ = 0x01;
    uint32_t s1 = 1, s2 = 0;
    size_t done = 0;
    size_t row = 0, col = 0; /* position in the virtual filtered stream */
    while (done < raw_n) {
        size_t len = raw_n - done < 65535 ? raw_n - done : 65535;
        *o++ = done + len == raw_n ? 1 : 0;
        *o++ = (uint8_t)len;
        *o++ = (uint8_t)(len >> 8);
        *o++ = (uint8_t)~len;
        *o++ = (uint8_t)(~len >> 8);
        for (size_t i = 0; i < len; i++) {
            uint8_t b = col == 0 ? 0 : px[row * (stride - 1) + col - 1];
            if (++col == stride) {
                col = 0;
                row++;
            }
            *o++ = b;
            s1 = (s1 + b) % 65521;
            s2 = (s2 + s1) % 65521;
        }
        done += len;
    }
    be32(o, s2 << 16 | s1);
    o += 4;
    uint8_t ihdr[13];
    be32(ihdr, (uint32_t)width);
    be32(ihdr + 4, (uint32_t)height);
    ihdr[8] = 8;                          /* bit depth */
    ihdr[9] = channels == 3 ? 2 : 0;      /* truecolour or grayscale */
    ihdr[10] = ihdr[11] = ihdr[12] = 0;   /* deflate, adaptive filtering, no interlace */
    io_atomic_file af;
    if (io_atomic_open(&af, path, err)) {
        free(z);
        return -1;
    }
    static const uint8_t sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    int bad = fwrite(sig, 1, 8, af.f) != 8 || chunk(af.f, "IHDR", ihdr, 13) ||
              chunk(af.f, "IDAT", z, (size_t)(o - z)) || chunk(af.f, "IEND", NULL, 0);
    free(z);
    if (bad) {
        io_atomic_abort(&af);
        return wb_err(err, WB_E_WRITE, path, "cannot write: %s", strerror(errno));
    }
    return io_atomic_commit(&af, err);
}
