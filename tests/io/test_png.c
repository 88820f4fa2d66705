/* test_png.c — io_png_write through libpng: what it writes decodes (libpng's own reader, and
 * io_image_read) to exactly the pixels given, gray and RGB; it compresses (a smooth image takes
 * far less than its raw bytes); the same pixels give the same bytes; the file holds only IHDR,
 * IDAT and IEND (no time stamp); bad sizes and unwritable places are errors that leave nothing
 * behind; io_png_crc32 (zlib's crc32) matches the CRC-32 check values.
 *
 *     test_png OUT_DIR */
#include <errno.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/io_image.h"
#include "io/io_png.h"
#include "wb_test.h"

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    *n = b ? fread(b, 1, (size_t)len, f) : 0;
    fclose(f);
    return b;
}

/* Decodes path with libpng's simplified API into the format asked; NULL on failure. */
static unsigned char *decode(const char *path, int channels, int *w, int *h)
{
    png_image im;
    memset(&im, 0, sizeof im);
    im.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&im, path)) return NULL;
    im.format = channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    unsigned char *buf = malloc(PNG_IMAGE_SIZE(im));
    if (!buf || !png_image_finish_read(&im, NULL, buf, 0, NULL)) {
        free(buf);
        png_image_free(&im);
        return NULL;
    }
    *w = (int)im.width;
    *h = (int)im.height;
    return buf;
}

static void roundtrip(const char *dir, int channels, int W, int H)
{
    char path[4200], path2[4200];
    snprintf(path, sizeof path, "%s/rt%d.png", dir, channels);
    snprintf(path2, sizeof path2, "%s/rt%d_again.png", dir, channels);
    size_t n = (size_t)W * H * channels;
    uint8_t *px = malloc(n);
    for (int y = 0; y < H; y++) /* smooth ramps plus a little texture: every value 0..255 */
        for (int x = 0; x < W; x++)
            for (int c = 0; c < channels; c++)
                px[((size_t)y * W + x) * channels + c] = (uint8_t)((x + 2 * y + 85 * c + ((x * y) % 7)) & 0xff);
    wb_error err = {0};
    CHECK(io_png_write(path, px, W, H, channels, &err) == 0, "write %s: %s", path, err.msg);
    CHECK(io_png_write(path2, px, W, H, channels, &err) == 0, "write %s: %s", path2, err.msg);
    int w = 0, h = 0;
    unsigned char *back = decode(path, channels, &w, &h);
    CHECK(back != NULL, "libpng cannot decode %s", path);
    if (back) {
        CHECK_EQ_INT(w, W, "width");
        CHECK_EQ_INT(h, H, "height");
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) bad += back[i] != px[i];
        CHECK_EQ_INT(bad, 0, "pixels that differ after libpng decodes the file");
    }
    free(back);
    size_t fn = 0, fn2 = 0;
    unsigned char *f1 = slurp(path, &fn), *f2 = slurp(path2, &fn2);
    CHECK(f1 && f2 && fn == fn2 && !memcmp(f1, f2, fn), "the same pixels give the same bytes (%zu vs %zu)", fn, fn2);
    CHECK(n < 1000 || fn < n / 4, "compressed: %zu bytes for %zu raw bytes", fn, n);
    printf("png %d channel(s) %dx%d: %zu bytes (raw %zu)\n", channels, W, H, fn, n);
    /* chunks: IHDR, IDAT..., IEND and nothing else */
    size_t p = 8, bad_chunks = 0, idat = 0;
    while (f1 && p + 12 <= fn) {
        uint32_t len = (uint32_t)f1[p] << 24 | (uint32_t)f1[p + 1] << 16 | (uint32_t)f1[p + 2] << 8 | f1[p + 3];
        const char *t = (const char *)f1 + p + 4;
        if (!memcmp(t, "IDAT", 4)) idat++;
        else if (memcmp(t, "IHDR", 4) && memcmp(t, "IEND", 4)) bad_chunks++;
        uint32_t crc = (uint32_t)f1[p + 8 + len] << 24 | (uint32_t)f1[p + 9 + len] << 16 |
                       (uint32_t)f1[p + 10 + len] << 8 | f1[p + 11 + len];
        CHECK(io_png_crc32(0, t, 4 + (size_t)len) == crc, "chunk %.4s CRC", t);
        p += 12 + (size_t)len;
    }
    CHECK(p == fn, "chunks end at the end of the file (%zu of %zu)", p, fn);
    CHECK(idat >= 1 && bad_chunks == 0, "only IHDR, IDAT, IEND (%zu other chunks)", bad_chunks);
    free(f1);
    free(f2);
    if (channels == 1) { /* the project's own reader agrees */
        io_dicom_options opt;
        io_dicom_options_default(&opt);
        opt.voi = IO_VOI_IGNORE;
        io_dicom_image img;
        CHECK(io_image_read(path, &opt, &img, NULL, &err) == 0, "io_image_read: %s", err.msg);
        size_t bad = 0;
        for (size_t i = 0; i < n && img.pixels; i++) bad += img.pixels[i] != (float)px[i];
        CHECK_EQ_INT(bad, 0, "io_image_read pixels that differ");
        io_dicom_image_free(&img);
    }
    free(px);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_png OUT_DIR\n");
        return 2;
    }
    const char *dir = argv[1];
    mkdir(dir, 0755);
    CHECK(io_png_crc32(0, "IEND", 4) == 0xae426082u, "crc32(IEND)");
    CHECK(io_png_crc32(0, "123456789", 9) == 0xcbf43926u, "crc32 check value");
    CHECK(io_png_crc32(io_png_crc32(0, "1234", 4), "56789", 5) == 0xcbf43926u, "crc32 continued");
    roundtrip(dir, 1, 300, 257);
    roundtrip(dir, 3, 129, 64);
    roundtrip(dir, 1, 1, 1);

    wb_error err = {0};
    uint8_t px[4] = {0};
    char path[4200];
    snprintf(path, sizeof path, "%s/bad.png", dir);
    CHECK(io_png_write(path, px, 0, 1, 1, &err) != 0 && err.code == WB_E_USAGE, "width 0 refused");
    CHECK(io_png_write(path, px, 1, 1, 2, &err) != 0 && err.code == WB_E_USAGE, "2 channels refused");
    CHECK(access(path, F_OK) != 0, "nothing written for a refused image");
    snprintf(path, sizeof path, "%s/no/such/dir/x.png", dir);
    CHECK(io_png_write(path, px, 2, 2, 1, &err) != 0 && err.code == WB_E_WRITE, "missing directory: code %d", err.code);
    CHECK_CONTAINS(err.file, "x.png", "the error names the file");
    return wb_test_finish("test_png");
}
