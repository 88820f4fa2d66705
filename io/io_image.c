/* io_image.c — PNG, JPEG and PGM readers and the format dispatch. See io_image.h. */
#include "io/io_image.h"

#include <ctype.h>
#include <errno.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jpeglib.h>
#include <png.h>

#include "io/io_fs.h"

/* A compressed file larger than this is refused before it is read (the largest public
 * mammograms are 16-bit PNGs of about 60 MB). */
#define IO_IMAGE_MAX_FILE ((size_t)1 << 30)

const char *io_image_format_name(io_image_format f)
{
    switch (f) {
    case IO_IMAGE_DICOM: return "dicom";
    case IO_IMAGE_PNG: return "png";
    case IO_IMAGE_JPEG: return "jpeg";
    case IO_IMAGE_PGM: return "pgm";
    default: return "unknown";
    }
}

io_image_format io_image_sniff_bytes(const unsigned char *b, size_t n)
{
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
    if (n >= 8 && !memcmp(b, png_sig, 8)) return IO_IMAGE_PNG;
    if (n >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff) return IO_IMAGE_JPEG;
    if (n >= 3 && b[0] == 'P' && b[1] == '5' && isspace(b[2])) return IO_IMAGE_PGM;
    if (n >= 132 && !memcmp(b + 128, "DICM", 4)) return IO_IMAGE_DICOM;
    return IO_IMAGE_UNKNOWN;
}

/* The format a file's name claims, IO_IMAGE_UNKNOWN for anything else. */
static io_image_format by_name(const char *path)
{
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (!dot || (slash && dot < slash)) return IO_IMAGE_UNKNOWN;
    if (!strcasecmp(dot, ".png")) return IO_IMAGE_PNG;
    if (!strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg")) return IO_IMAGE_JPEG;
    if (!strcasecmp(dot, ".pgm")) return IO_IMAGE_PGM;
    return IO_IMAGE_UNKNOWN;
}

static int head_bytes(const char *path, unsigned char *b, size_t cap, size_t *n, wb_error *err)
{
    FILE *f = io_fs_fopen_input(path, 0, NULL, err); /* regular files only: no FIFO hang */
    if (!f) return -1;
    *n = fread(b, 1, cap, f);
    fclose(f);
    return 0;
}

int io_image_sniff(const char *path, io_image_format *fmt, wb_error *err)
{
    unsigned char b[132];
    size_t n = 0;
    *fmt = IO_IMAGE_UNKNOWN;
    if (head_bytes(path, b, sizeof b, &n, err)) return -1;
    io_image_format f = io_image_sniff_bytes(b, n);
    io_image_format named = by_name(path);
    if (f == IO_IMAGE_UNKNOWN && named != IO_IMAGE_UNKNOWN) {
        char hex[40] = "";
        for (size_t i = 0; i < n && i < 8; i++) snprintf(hex + 3 * i, 4, "%02x ", b[i]);
        if (n && hex[0]) hex[strlen(hex) - 1] = '\0';
        return wb_err(err, WB_E_DATA, path,
                      "named like a %s file but its first bytes (%s) are not a %s signature%s",
                      io_image_format_name(named), n ? hex : "none: the file is empty",
                      io_image_format_name(named),
                      named == IO_IMAGE_PGM ? " (only binary PGM, 'P5', is read)" : "");
    }
    *fmt = f == IO_IMAGE_UNKNOWN ? IO_IMAGE_DICOM : f;
    return 0;
}

int io_image_is_candidate(const char *path)
{
    if (io_dicom_is_candidate(path)) return 1;
    unsigned char b[8];
    size_t n = 0;
    wb_error e;
    if (head_bytes(path, b, sizeof b, &n, &e)) return 0;
    io_image_format f = io_image_sniff_bytes(b, n);
    return f == IO_IMAGE_PNG || f == IO_IMAGE_JPEG || f == IO_IMAGE_PGM;
}

const char *io_image_versions(void)
{
    static char buf[96];
#ifdef LIBJPEG_TURBO_VERSION_NUMBER
    int v = LIBJPEG_TURBO_VERSION_NUMBER;
    snprintf(buf, sizeof buf, "libpng %s, libjpeg-turbo %d.%d.%d (libjpeg API %d)", png_get_libpng_ver(NULL),
             v / 1000000, v / 1000 % 1000, v % 1000, JPEG_LIB_VERSION);
#else
    snprintf(buf, sizeof buf, "libpng %s, libjpeg API %d", png_get_libpng_ver(NULL), JPEG_LIB_VERSION);
#endif
    return buf;
}

/* Fills img's metadata for a non-DICOM grayscale image and allocates its pixels. */
static int image_alloc(io_dicom_image *img, int rows, int cols, int bits, const char *format,
                       const char *path, wb_error *err)
{
    img->rows = rows;
    img->cols = cols;
    img->pixels = malloc((size_t)rows * (size_t)cols * sizeof *img->pixels);
    if (!img->pixels) return wb_err(err, WB_E_NOMEM, path, "out of memory for a %dx%d image", cols, rows);
    io_dicom_meta *m = &img->meta;
    m->rows = rows;
    m->cols = cols;
    m->bits_allocated = bits > 8 ? 16 : 8;
    m->bits_stored = bits;
    m->high_bit = bits - 1;
    snprintf(m->photometric, sizeof m->photometric, "MONOCHROME2");
    snprintf(m->transfer_syntax_name, sizeof m->transfer_syntax_name, "%s", format);
    return 0;
}

/* Scales the stored values (already in img->pixels) for the VOI mode. */
static void image_finish(io_dicom_image *img, double maxval, const io_dicom_options *opt)
{
    size_t n = (size_t)img->rows * (size_t)img->cols;
    if (opt->voi == IO_VOI_APPLY) {
        for (size_t i = 0; i < n; i++) img->pixels[i] = (float)(img->pixels[i] / maxval);
        img->range_lo = 0;
        img->range_hi = 1;
        snprintf(img->meta.voi_source, sizeof img->meta.voi_source, "none");
    } else {
        img->range_lo = 0;
        img->range_hi = (float)maxval;
        snprintf(img->meta.voi_source, sizeof img->meta.voi_source, "ignored");
    }
}

static int check_dims(long w, long h, const io_dicom_options *opt, const char *what, const char *path,
                      wb_error *err)
{
    if (w < 1 || h < 1) return wb_err(err, WB_E_DATA, path, "%s: image size %ldx%ld is empty", what, w, h);
    if (w > opt->max_dim || h > opt->max_dim)
        return wb_err(err, WB_E_DATA, path, "%s: image size %ldx%ld is above the limit of %d per side", what, w, h,
                      opt->max_dim);
    if ((size_t)w * (size_t)h > opt->max_pixels)
        return wb_err(err, WB_E_DATA, path, "%s: image size %ldx%ld has more than the limit of %zu pixels", what, w, h,
                      opt->max_pixels);
    return 0;
}

/* ---- PGM (P5) ---- */

/* Reads one header number at *pos (whitespace and '#' comments before it); -1 at the end of
 * the buffer or on anything else. *pos is left on the byte after the number. */
static int pgm_number(const unsigned char *b, size_t n, size_t *pos, long *v)
{
    size_t i = *pos;
    for (;;) {
        if (i >= n) return -1;
        if (b[i] == '#') {
            while (i < n && b[i] != '\n' && b[i] != '\r') i++;
        } else if (isspace(b[i])) {
            i++;
        } else {
            break;
        }
    }
    long x = 0;
    int digits = 0;
    while (i < n && b[i] >= '0' && b[i] <= '9') {
        if (x > 100000000) return -1;
        x = x * 10 + (b[i] - '0');
        digits++;
        i++;
    }
    if (!digits) return -1;
    *v = x;
    *pos = i;
    return 0;
}

static int decode_pgm(const unsigned char *b, size_t n, const char *path, const io_dicom_options *opt,
                      io_dicom_image *img, wb_error *err)
{
    size_t pos = 2;
    long w, h, maxv;
    if (pgm_number(b, n, &pos, &w)) return wb_err(err, WB_E_DATA, path, "PGM header: no width at offset %zu", pos);
    if (pgm_number(b, n, &pos, &h)) return wb_err(err, WB_E_DATA, path, "PGM header: no height at offset %zu", pos);
    if (pgm_number(b, n, &pos, &maxv))
        return wb_err(err, WB_E_DATA, path, "PGM header: no maxval at offset %zu", pos);
    if (pos >= n || !isspace(b[pos]))
        return wb_err(err, WB_E_DATA, path, "PGM header: no whitespace after maxval at offset %zu", pos);
    pos++; /* exactly one whitespace byte before the raster */
    if (maxv < 1 || maxv > 65535)
        return wb_err(err, WB_E_DATA, path, "PGM header: maxval %ld is not in 1..65535", maxv);
    if (check_dims(w, h, opt, "PGM header", path, err)) return -1;
    size_t count = (size_t)w * (size_t)h, bpp = maxv > 255 ? 2 : 1, need = count * bpp;
    if (n - pos < need)
        return wb_err(err, WB_E_DATA, path,
                      "truncated PGM: %zu of %zu bytes of pixel data after the header (%ldx%ld, maxval %ld) at offset %zu",
                      n - pos, need, w, h, maxv, pos);
    int bits = 0;
    while ((1L << bits) <= maxv) bits++;
    if (image_alloc(img, (int)h, (int)w, bits, "PGM (P5)", path, err)) return -1;
    const unsigned char *r = b + pos;
    for (size_t i = 0; i < count; i++) {
        unsigned v = bpp == 2 ? (unsigned)r[2 * i] << 8 | r[2 * i + 1] : r[i];
        if (v > (unsigned)maxv) {
            free(img->pixels);
            img->pixels = NULL;
            return wb_err(err, WB_E_DATA, path, "PGM pixel %zu (offset %zu) is %u, above maxval %ld", i,
                          pos + i * bpp, v, maxv);
        }
        img->pixels[i] = (float)v;
    }
    image_finish(img, (double)maxv, opt);
    return 0;
}

/* ---- PNG (libpng) ---- */

typedef struct png_ctx {
    const unsigned char *buf;
    size_t n, pos;
    char msg[200];
} png_ctx;

static void png_fail(png_structp png, png_const_charp msg)
{
    png_ctx *c = png_get_error_ptr(png);
    snprintf(c->msg, sizeof c->msg, "%s", msg);
    png_longjmp(png, 1);
}

static void png_warn(png_structp png, png_const_charp msg)
{
    (void)png;
    (void)msg; /* ancillary-chunk problems: the pixels are still right */
}

static void png_read_mem(png_structp png, png_bytep out, size_t len)
{
    png_ctx *c = png_get_io_ptr(png);
    if (len > c->n - c->pos) {
        snprintf(c->msg, sizeof c->msg, "truncated: the file ends at byte %zu, %zu more bytes were needed", c->n,
                 len - (c->n - c->pos));
        png_longjmp(png, 1);
    }
    memcpy(out, c->buf + c->pos, len);
    c->pos += len;
}

/* Walks the chunk list before libpng sees it: every chunk's length must fit in the bytes that
 * follow it, up to IEND. libpng allocates a chunk's claimed length before reading it (a 4 KB
 * file claiming a 1.7 GB sPLT chunk made it ask for 1.7 GB), so with this check nothing it
 * allocates for a chunk is larger than the file. */
static int png_check_chunks(const unsigned char *b, size_t n, const char *path, wb_error *err)
{
    size_t pos = 8; /* after the signature, which the sniffer matched */
    for (;;) {
        if (n - pos < 8)
            return wb_err(err, WB_E_DATA, path, "PNG data: truncated: the file ends at byte %zu, inside a chunk header "
                          "or before the IEND chunk", n);
        uint32_t len = (uint32_t)b[pos] << 24 | (uint32_t)b[pos + 1] << 16 | (uint32_t)b[pos + 2] << 8 | b[pos + 3];
        char type[5];
        for (int i = 0; i < 4; i++) {
            unsigned char c = b[pos + 4 + i];
            type[i] = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ? (char)c : '?';
        }
        type[4] = '\0';
        if (len > 0x7fffffffu)
            return wb_err(err, WB_E_DATA, path, "PNG data: chunk '%s' at offset %zu has length %u, above 2^31-1", type,
                          pos, (unsigned)len);
        if ((size_t)len + 4 > n - pos - 8)
            return wb_err(err, WB_E_DATA, path, "PNG data: truncated: chunk '%s' at offset %zu claims %u bytes of data "
                          "and a CRC, the file has %zu bytes after its header", type, pos, (unsigned)len, n - pos - 8);
        if (!memcmp(b + pos + 4, "IEND", 4)) return 0;
        pos += (size_t)len + 12;
    }
}

static int decode_png(const unsigned char *b, size_t n, const char *path, const io_dicom_options *opt,
                      io_dicom_image *img, wb_error *err)
{
    if (png_check_chunks(b, n, path, err)) return -1;
    png_ctx ctx = {b, n, 0, ""};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &ctx, png_fail, png_warn);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!png || !info) {
        png_destroy_read_struct(&png, &info, NULL);
        return wb_err(err, WB_E_NOMEM, path, "out of memory for the PNG decoder");
    }
    /* set before setjmp so that the error path sees them */
    unsigned char *volatile raw = NULL;
    png_bytep *volatile row_ptrs = NULL;
    volatile int stage = 0; /* 1: the header was read and the size is acceptable */
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(raw);
        free(row_ptrs);
        free(img->pixels);
        img->pixels = NULL;
        return wb_err(err, WB_E_DATA, path, "PNG %s: %s", stage ? "data" : "header", ctx.msg);
    }
    png_set_read_fn(png, &ctx, png_read_mem);
    /* libpng's own limit (1,000,000 per side) stays; check_dims applies ours with a clear message */
    png_set_chunk_malloc_max(png, (png_alloc_size_t)64 << 20);
    /* Chunks that never change the pixels are skipped unread (text is decompressed otherwise). */
    static const png_byte skip[] = "tEXt\0zTXt\0iTXt\0sPLT\0eXIf\0hIST\0tIME\0";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, skip, (int)(sizeof skip / 5));
    png_read_info(png, info);
    png_uint_32 w, h;
    int depth, ctype, interlace;
    png_get_IHDR(png, info, &w, &h, &depth, &ctype, &interlace, NULL, NULL);
    if (check_dims((long)w, (long)h, opt, "PNG header", path, err)) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    stage = 1;
    if (ctype == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(png);
    if (ctype == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(png);
    if (ctype & PNG_COLOR_MASK_COLOR || ctype == PNG_COLOR_TYPE_PALETTE) png_set_rgb_to_gray_fixed(png, 1, -1, -1);
    if (ctype & PNG_COLOR_MASK_ALPHA) png_set_strip_alpha(png);
    if (png_get_valid(png, info, PNG_INFO_tRNS)) png_set_tRNS(png, info, NULL, 0, NULL); /* ignore transparency */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    const int bytes = depth == 16 ? 2 : 1;
    size_t rowbytes = png_get_rowbytes(png, info);
    if (png_get_channels(png, info) != 1 || rowbytes != (size_t)w * (size_t)bytes) {
        png_destroy_read_struct(&png, &info, NULL);
        return wb_err(err, WB_E_DATA, path, "PNG: colour type %d, depth %d could not be converted to one gray channel",
                      ctype, depth);
    }
    raw = malloc(rowbytes * h);
    row_ptrs = malloc(h * sizeof *row_ptrs);
    if (!raw || !row_ptrs) {
        png_destroy_read_struct(&png, &info, NULL);
        free(raw);
        free(row_ptrs);
        return wb_err(err, WB_E_NOMEM, path, "out of memory for a %ux%u PNG", (unsigned)w, (unsigned)h);
    }
    for (png_uint_32 y = 0; y < h; y++) row_ptrs[y] = raw + (size_t)y * rowbytes;
    png_read_image(png, row_ptrs);
    png_read_end(png, NULL); /* checks the chunks after the pixels: a cut file ends here */
    double spacing = 0;
    png_uint_32 xres, yres;
    int unit;
    if (png_get_pHYs(png, info, &xres, &yres, &unit) && unit == PNG_RESOLUTION_METER && xres > 0 && yres > 0)
        spacing = 1; /* set below, after the metadata is cleared by image_alloc's caller */
    png_destroy_read_struct(&png, &info, NULL);
    free(row_ptrs);
    row_ptrs = NULL;
    if (image_alloc(img, (int)h, (int)w, depth == 16 ? 16 : 8, "PNG", path, err)) {
        free(raw);
        return -1;
    }
    size_t count = (size_t)w * h;
    for (size_t i = 0; i < count; i++)
        img->pixels[i] = bytes == 2 ? (float)((unsigned)raw[2 * i] << 8 | raw[2 * i + 1]) : (float)raw[i];
    free(raw);
    if (spacing > 0) {
        img->meta.has_pixel_spacing = 1;
        img->meta.pixel_spacing[0] = 1000.0 / yres;
        img->meta.pixel_spacing[1] = 1000.0 / xres;
        snprintf(img->meta.pixel_spacing_source, sizeof img->meta.pixel_spacing_source, "PNG pHYs");
    }
    image_finish(img, bytes == 2 ? 65535.0 : 255.0, opt);
    return 0;
}

/* ---- JPEG (libjpeg-turbo) ---- */

typedef struct jpeg_ctx {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jpeg_ctx;

static void jpeg_fail(j_common_ptr c)
{
    jpeg_ctx *x = (jpeg_ctx *)c->err;
    x->pub.format_message(c, x->msg);
    longjmp(x->jb, 1);
}

/* Warnings (level -1) are corrupt data: a truncated file (libjpeg pads it with gray and
 * warns "Premature end of JPEG file"), bad Huffman codes, extraneous bytes. They are errors. */
static void jpeg_message(j_common_ptr c, int level)
{
    if (level < 0) jpeg_fail(c);
}

static int decode_jpeg(const unsigned char *b, size_t n, const char *path, const io_dicom_options *opt,
                       io_dicom_image *img, wb_error *err)
{
    struct jpeg_decompress_struct cinfo;
    jpeg_ctx jerr;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&jerr.pub);
    jerr.pub.error_exit = jpeg_fail;
    jerr.pub.emit_message = jpeg_message;
    jerr.msg[0] = '\0';
    unsigned char *volatile row = NULL;
    if (setjmp(jerr.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(row);
        free(img->pixels);
        img->pixels = NULL;
        return wb_err(err, WB_E_DATA, path, "JPEG: %s", jerr.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, b, (unsigned long)n);
    jpeg_read_header(&cinfo, TRUE);
    if (check_dims((long)cinfo.image_width, (long)cinfo.image_height, opt, "JPEG header", path, err)) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    if (cinfo.num_components != 1 && cinfo.num_components != 3) {
        int k = cinfo.num_components;
        jpeg_destroy_decompress(&cinfo);
        return wb_err(err, WB_E_DATA, path, "JPEG with %d components (only gray or colour is read)", k);
    }
    cinfo.out_color_space = JCS_GRAYSCALE;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != 1) {
        jpeg_destroy_decompress(&cinfo);
        return wb_err(err, WB_E_DATA, path, "JPEG could not be decoded to one gray channel");
    }
    int w = (int)cinfo.output_width, h = (int)cinfo.output_height;
    row = malloc((size_t)w);
    if (!row || image_alloc(img, h, w, 8, "JPEG", path, err)) {
        jpeg_destroy_decompress(&cinfo);
        int nomem = !row;
        free(row);
        free(img->pixels);
        img->pixels = NULL;
        return nomem ? wb_err(err, WB_E_NOMEM, path, "out of memory for a %dx%d JPEG", w, h) : -1;
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW rp = row;
        size_t y = cinfo.output_scanline;
        if (jpeg_read_scanlines(&cinfo, &rp, 1) != 1) jpeg_fail((j_common_ptr)&cinfo);
        for (int x = 0; x < w; x++) img->pixels[y * (size_t)w + (size_t)x] = row[x];
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    free(row);
    image_finish(img, 255.0, opt);
    return 0;
}

/* ---- dispatch ---- */

int io_image_decode(const unsigned char *buf, size_t n, const char *name, const io_dicom_options *opt,
                    io_dicom_image *img, io_image_format *fmt, wb_error *err)
{
    memset(img, 0, sizeof *img);
    io_image_format f = io_image_sniff_bytes(buf, n);
    if (fmt) *fmt = f;
    int rc;
    switch (f) {
    case IO_IMAGE_PGM: rc = decode_pgm(buf, n, name, opt, img, err); break;
    case IO_IMAGE_PNG: rc = decode_png(buf, n, name, opt, img, err); break;
    case IO_IMAGE_JPEG: rc = decode_jpeg(buf, n, name, opt, img, err); break;
    default:
        return wb_err(err, WB_E_DATA, name, "not a PNG, JPEG or binary PGM file (no signature in the first bytes)");
    }
    if (rc) memset(img, 0, sizeof *img);
    return rc;
}

int io_image_read(const char *path, const io_dicom_options *opt, io_dicom_image *img, io_image_format *fmt,
                  wb_error *err)
{
    memset(img, 0, sizeof *img);
    io_image_format f;
    if (fmt) *fmt = IO_IMAGE_UNKNOWN;
    if (io_image_sniff(path, &f, err)) return -1;
    if (fmt) *fmt = f;
    if (f == IO_IMAGE_DICOM) return io_dicom_read(path, opt, img, err);
    /* PGM: at most the raster the caps allow plus a header; PNG/JPEG: IO_IMAGE_MAX_FILE */
    size_t cap = f == IO_IMAGE_PGM ? opt->max_pixels * 2 + 4096 : IO_IMAGE_MAX_FILE;
    unsigned char *buf;
    size_t n;
    if (io_file_read_all(path, cap, &buf, &n, err)) return -1;
    int rc = io_image_decode(buf, n, path, opt, img, NULL, err);
    free(buf);
    return rc;
}
