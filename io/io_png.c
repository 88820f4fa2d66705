/* io_png.c — PNG writer through libpng. See io_png.h. */
#include "io/io_png.h"

#include <errno.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#include "io/io_fs.h"

uint32_t io_png_crc32(uint32_t crc, const void *data, size_t n)
{
    return (uint32_t)crc32_z(crc, data, (z_size_t)n);
}

typedef struct png_wctx {
    char msg[200];
} png_wctx;

static void png_wfail(png_structp png, png_const_charp msg)
{
    png_wctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_wwarn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg;
}

/* The libpng part, apart so that its setjmp frame holds no variable the caller needs after
 * a longjmp. Returns 0, or -1 with ctx->msg set. */
static int encode(FILE *f, const uint8_t *px, int width, int height, int channels, png_wctx *ctx)
{
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, ctx, png_wfail, png_wwarn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_write_struct(&png, &info);
        snprintf(ctx->msg, sizeof ctx->msg, "out of memory for the PNG encoder");
        return -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return -1;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)width, (png_uint_32)height, 8,
                 channels == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_compression_level(png, IO_PNG_ZLIB_LEVEL);
    png_set_compression_strategy(png, Z_DEFAULT_STRATEGY);
    png_set_filter(png, PNG_FILTER_TYPE_BASE, PNG_ALL_FILTERS);
    png_write_info(png, info); /* no tIME, tEXt or gAMA: only IHDR, IDAT, IEND */
    const size_t stride = (size_t)width * (size_t)channels;
    for (int y = 0; y < height; y++)
        png_write_row(png, (png_const_bytep)(px + (size_t)y * stride));
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return 0;
}

int io_png_write(const char *path, const uint8_t *px, int width, int height, int channels,
                 wb_error *err)
{
    if (width < 1 || height < 1 || width > 65535 || height > 65535 ||
        (channels != 1 && channels != 3))
        return wb_err(err, WB_E_USAGE, path, "PNG: bad size %dx%d or channels %d", width,
                      height, channels);
    io_atomic_file af;
    if (io_atomic_open(&af, path, err))
        return -1;
    png_wctx ctx = {""};
    errno = 0;
    if (encode(af.f, px, width, height, channels, &ctx) != 0 || ferror(af.f)) {
        int e = errno;
        io_atomic_abort(&af);
        if (!strncmp(ctx.msg, "out of memory", 13))
            return wb_err(err, WB_E_NOMEM, path, "PNG: %s", ctx.msg);
        /* libpng reports a failed fwrite as "Write Error": the system's reason says more */
        if (e && (!ctx.msg[0] || !strcmp(ctx.msg, "Write Error")))
            return wb_err(err, WB_E_WRITE, path, "cannot write the PNG: %s", strerror(e));
        return wb_err(err, WB_E_WRITE, path, "cannot write the PNG: %s", ctx.msg[0] ? ctx.msg : "write error");
    }
    return io_atomic_commit(&af, err);
}
