/* test_image.c — io_image_read (PNG, JPEG, PGM) against the values PIL / scikit-image decode
 * (tests/io/make_image_fixtures.py made the fixtures and references).
 *
 *     test_image fixtures DATA_DIR         the small committed fixtures and the broken ones
 *     test_image mias REF_FILE MIAS_DIR    the 16 real mini-MIAS films (exit 77, skipped, when
 *                                          MIAS_DIR or one of its files is absent) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_fs.h"
#include "io/io_image.h"
#include "io/io_sha256.h"
#include "wb_test.h"

static char g_dir[4096];

static const char *fx(const char *name)
{
    static char buf[2][4200];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", g_dir, name);
    return buf[k];
}

/* Reads NAME.ref: rows cols maxval, then rows*cols values. */
static long *read_ref(const char *name, int *rows, int *cols, long *maxval)
{
    char p[4300];
    snprintf(p, sizeof p, "%s.ref", fx(name));
    FILE *f = fopen(p, "r");
    if (!f) {
        CHECK(0, "cannot open %s", p);
        return NULL;
    }
    long *v = NULL;
    if (fscanf(f, "%d %d %ld", rows, cols, maxval) == 3 && *rows > 0 && *cols > 0) {
        size_t n = (size_t)*rows * (size_t)*cols;
        v = malloc(n * sizeof *v);
        for (size_t i = 0; v && i < n; i++)
            if (fscanf(f, "%ld", &v[i]) != 1) {
                free(v);
                v = NULL;
            }
    }
    fclose(f);
    CHECK(v != NULL, "%s: malformed", p);
    return v;
}

/* Decodes name in both VOI modes and compares every pixel with the reference. */
static void check_decode(const char *name, const char *fmt_name, double tol_levels)
{
    int rows, cols;
    long maxval;
    long *ref = read_ref(name, &rows, &cols, &maxval);
    if (!ref) return;
    for (int mode = 0; mode < 2; mode++) {
        io_dicom_options opt;
        io_dicom_options_default(&opt);
        opt.voi = mode ? IO_VOI_IGNORE : IO_VOI_APPLY;
        io_dicom_image img;
        io_image_format fmt;
        wb_error err;
        wb_error_clear(&err);
        int rc = io_image_read(fx(name), &opt, &img, &fmt, &err);
        CHECK(rc == 0, "%s: %s", name, err.msg);
        if (rc) continue;
        CHECK_STR(io_image_format_name(fmt), fmt_name, name);
        CHECK_EQ_INT(img.rows, rows, name);
        CHECK_EQ_INT(img.cols, cols, name);
        CHECK_EQ_INT(img.meta.rows, rows, "meta.rows");
        CHECK_STR(img.meta.photometric, "MONOCHROME2", name);
        CHECK_STR(img.meta.patient_id, "", "no patient id in a non-DICOM file");
        CHECK_STR(img.meta.laterality, "", "no laterality in a non-DICOM file");
        double scale = mode ? 1.0 : 1.0 / (double)maxval;
        CHECK_CLOSE(img.range_hi, mode ? (double)maxval : 1.0, 1e-9, "%s range_hi", name);
        int bad = 0;
        if (img.rows == rows && img.cols == cols)
            for (size_t i = 0; i < (size_t)rows * (size_t)cols && bad < 5; i++) {
                double want = (double)ref[i] * scale, got = img.pixels[i];
                if (!(fabs(got - want) <= tol_levels * scale + 1e-6 * (mode ? maxval : 1))) {
                    CHECK(0, "%s (%s) pixel %zu: got %.9g, expected %.9g", name, mode ? "ignore" : "apply", i, got, want);
                    bad++;
                }
            }
        wb_test_checks++;
        io_dicom_image_free(&img);
    }
    free(ref);
}

static void check_refused(const char *name, const char *needle, const io_dicom_options *opt_in)
{
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    if (opt_in) opt = *opt_in;
    io_dicom_image img;
    wb_error err;
    wb_error_clear(&err);
    int rc = io_image_read(fx(name), &opt, &img, NULL, &err);
    CHECK(rc != 0, "%s: accepted", name);
    CHECK(img.pixels == NULL && img.rows == 0, "%s: image not zeroed on failure", name);
    CHECK_EQ_INT(err.code, WB_E_DATA, name);
    CHECK_CONTAINS(err.file, name, "the error names the file");
    CHECK_CONTAINS(err.msg, needle, name);
    if (rc == 0) io_dicom_image_free(&img);
}

/* gray8.png with 12 + len bytes inserted after IHDR: a chunk header claiming 'claim' bytes
 * of type 'type', then len bytes of data (the CRC is not right). */
static int png_with_chunk(const char *type, uint32_t claim, const char *data, size_t len, unsigned char **out,
                          size_t *n)
{
    unsigned char *png;
    size_t m;
    wb_error err;
    if (io_file_read_all(fx("gray8.png"), 1 << 20, &png, &m, &err)) return -1;
    const size_t at = 8 + 25; /* signature, IHDR */
    *n = m + 12 + len;
    *out = malloc(*n);
    if (!*out) {
        free(png);
        return -1;
    }
    unsigned char *p = *out;
    memcpy(p, png, at);
    unsigned char hdr[8] = {claim >> 24, claim >> 16 & 255, claim >> 8 & 255, claim & 255};
    memcpy(hdr + 4, type, 4);
    memcpy(p + at, hdr, 8);
    memcpy(p + at + 8, data, len);
    memset(p + at + 8 + len, 0x55, 4);
    memcpy(p + at + 12 + len, png + at, m - at);
    free(png);
    return 0;
}

/* A chunk claiming more bytes than the file has is refused before libpng allocates it (a
 * fuzzer's 4 KB file claimed a 1.7 GB sPLT), by our walk of the chunk list (its messages). A
 * tEXt chunk with a bad CRC still decodes to gray8.png's pixels; that it is skipped unread is
 * not visible here (libpng would only warn about its CRC). */
static void check_png_chunks(const io_dicom_options *opt)
{
    unsigned char *b;
    size_t n;
    io_dicom_image img, ref;
    wb_error err;
    if (png_with_chunk("sPLT", 0x68686868u, "", 0, &b, &n)) {
        CHECK(0, "gray8.png unreadable");
        return;
    }
    CHECK(io_image_decode(b, n, "big.png", opt, &img, NULL, &err) != 0 && err.code == WB_E_DATA &&
              !strcmp(err.file, "big.png") && strstr(err.msg, "chunk 'sPLT' at offset 33 claims 1751672936 bytes"),
          "a chunk longer than the file is refused: %s", err.msg);
    free(b);
    if (png_with_chunk("IDAT", 0x80000000u, "", 0, &b, &n) == 0) {
        CHECK(io_image_decode(b, n, "big.png", opt, &img, NULL, &err) != 0 && strstr(err.msg, "above 2^31-1"),
              "a length above 2^31-1 is refused: %s", err.msg);
        free(b);
    }
    /* cut inside a chunk header */
    if (png_with_chunk("tEXt", 5, "a\0bcd", 5, &b, &n) == 0) {
        CHECK(io_image_decode(b, 37, "cut.png", opt, &img, NULL, &err) != 0 &&
                  strstr(err.msg, "truncated: the file ends at byte 37, inside a chunk header"),
              "cut in a chunk header: %s", err.msg);
        /* a tEXt chunk with a bad CRC: the pixels are gray8.png's */
        if (io_image_decode(b, n, "text.png", opt, &img, NULL, &err) == 0) {
            if (io_image_read(fx("gray8.png"), opt, &ref, NULL, &err) == 0) {
                CHECK(img.rows == ref.rows && img.cols == ref.cols &&
                          !memcmp(img.pixels, ref.pixels, (size_t)img.rows * img.cols * sizeof *img.pixels),
                      "tEXt skipped: same pixels as gray8.png");
                io_dicom_image_free(&ref);
            }
            io_dicom_image_free(&img);
        } else {
            CHECK(0, "tEXt chunk: %s", err.msg);
        }
        free(b);
    }
}

static int run_fixtures(void)
{
    check_decode("gray8.png", "png", 0);
    check_decode("gray16.png", "png", 0);
    check_decode("gray8.jpg", "jpeg", 0);
    check_decode("rgb8.png", "png", 1); /* libpng's luma rounding may differ by one level */
    check_decode("pal4.png", "png", 0);
    check_decode("gray16.pgm", "pgm", 0);

    /* metadata: bit depth, format name, pHYs pixel spacing */
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    io_dicom_image img;
    wb_error err;
    if (io_image_read(fx("gray16.png"), &opt, &img, NULL, &err) == 0) {
        CHECK_EQ_INT(img.meta.bits_stored, 16, "gray16.png bits");
        CHECK_STR(img.meta.transfer_syntax_name, "PNG", "gray16.png format");
        CHECK_EQ_INT(img.meta.has_pixel_spacing, 1, "gray16.png pHYs");
        CHECK_CLOSE(img.meta.pixel_spacing[0], 0.1, 1e-9, "pHYs 10000 px/m is 0.1 mm");
        CHECK_STR(img.meta.pixel_spacing_source, "PNG pHYs", "spacing source");
        io_dicom_image_free(&img);
    } else {
        CHECK(0, "gray16.png: %s", err.msg);
    }
    if (io_image_read(fx("gray16.pgm"), &opt, &img, NULL, &err) == 0) {
        CHECK_EQ_INT(img.meta.bits_stored, 12, "maxval 4095 is 12 bits");
        CHECK_EQ_INT(img.meta.bits_allocated, 16, "gray16.pgm allocated");
        CHECK_EQ_INT(img.meta.has_pixel_spacing, 0, "PGM has no spacing");
        io_dicom_image_free(&img);
    } else {
        CHECK(0, "gray16.pgm: %s", err.msg);
    }

    /* broken files: refused with WB_E_DATA, naming the file and the problem */
    check_refused("cut.png", "truncated", NULL);
    check_refused("cut.jpg", "Premature end of JPEG file", NULL);
    check_refused("cut.pgm", "truncated PGM: 61 of 70 bytes", NULL);
    check_refused("badcrc.png", "CRC", NULL);
    check_refused("huge.png", "PNG header", NULL);
    check_refused("overmax.pgm", "above maxval 100", NULL);
    check_refused("text.png", "not a png signature", NULL);
    /* the caps hold before anything is allocated */
    io_dicom_options small;
    io_dicom_options_default(&small);
    small.max_dim = 20;
    check_refused("gray8.png", "above the limit of 20 per side", &small);
    check_refused("gray8.jpg", "above the limit of 20 per side", &small);
    small.max_dim = 100;
    small.max_pixels = 30;
    check_refused("gray16.pgm", "more than the limit of 30 pixels", &small);

    /* sniffing is by content: a PNG named .dcm is a PNG, a DICOM is DICOM */
    io_image_format f;
    CHECK(io_image_sniff(fx("gray8.jpg"), &f, &err) == 0 && f == IO_IMAGE_JPEG, "jpg sniff");
    unsigned char dicm[132] = {0};
    memcpy(dicm + 128, "DICM", 4);
    CHECK_EQ_INT(io_image_sniff_bytes(dicm, sizeof dicm), IO_IMAGE_DICOM, "DICM at 128");
    CHECK_EQ_INT(io_image_sniff_bytes((const unsigned char *)"P5 2 2 255\n", 11), IO_IMAGE_PGM, "P5");
    CHECK_EQ_INT(io_image_sniff_bytes((const unsigned char *)"P2 2 2 255\n", 11), IO_IMAGE_UNKNOWN, "P2");
    CHECK(io_image_sniff(fx("missing.png"), &f, &err) != 0 && err.code == WB_E_IO, "missing file is WB_E_IO");
    CHECK(io_image_is_candidate(fx("gray8.png")), "png is a candidate");
    CHECK(!io_image_is_candidate(fx("gray8.png.ref")), "a .ref is not");

    /* decode from memory, as the fuzz target does */
    static const unsigned char pgm[] = "P5\n3 1\n255\n\x00\x80\xff";
    io_image_format mf;
    if (io_image_decode(pgm, sizeof pgm - 1, "mem", &opt, &img, &mf, &err) == 0) {
        CHECK_EQ_INT(mf, IO_IMAGE_PGM, "mem fmt");
        CHECK_CLOSE(img.pixels[1], 128.0 / 255.0, 1e-7, "mem pixel");
        io_dicom_image_free(&img);
    } else {
        CHECK(0, "mem: %s", err.msg);
    }
    check_png_chunks(&opt);
    return wb_test_finish("io.image");
}

static int run_mias(const char *ref, const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0) {
        printf("SKIP: %s is absent (the 16 mini-MIAS films of ../shared/data/mini-mias-sample, "
               "from the MIAS MiniMammographic Database; see its README.md)\n", dir);
        return 77;
    }
    FILE *f = fopen(ref, "r");
    if (!f) {
        CHECK(0, "cannot open %s", ref);
        return wb_test_finish("io.image_mias");
    }
    char line[1024];
    int n_files = 0;
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        char name[64], sha[65];
        int rows, cols, off = 0;
        long long sum;
        if (sscanf(line, "%63s %d %d %lld %64s%n", name, &rows, &cols, &sum, sha, &off) != 5) continue;
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        if (stat(path, &st) != 0) {
            printf("SKIP: %s is absent (mini-MIAS film %s; ../shared/data/mini-mias-sample has all 16)\n", path, name);
            fclose(f);
            return 77;
        }
        io_dicom_options opt;
        io_dicom_options_default(&opt);
        opt.voi = IO_VOI_IGNORE; /* stored values, to compare with skimage's uint8 array */
        io_dicom_image img;
        io_image_format fmt;
        wb_error err;
        if (io_image_read(path, &opt, &img, &fmt, &err) != 0) {
            CHECK(0, "%s: %s", name, err.msg);
            continue;
        }
        n_files++;
        CHECK_EQ_INT(fmt, IO_IMAGE_PGM, name);
        CHECK_EQ_INT(img.rows, rows, name);
        CHECK_EQ_INT(img.cols, cols, name);
        size_t n = (size_t)img.rows * (size_t)img.cols;
        long long s = 0;
        unsigned char *u8 = malloc(n);
        for (size_t i = 0; u8 && i < n; i++) {
            s += (long long)img.pixels[i];
            u8[i] = (unsigned char)img.pixels[i];
        }
        CHECK_EQ_INT(s, sum, name);
        uint8_t d[IO_SHA256_SIZE];
        char hex[65];
        io_sha256_buf(u8, n, d);
        io_sha256_hex(d, hex);
        CHECK_STR(hex, sha, name);
        free(u8);
        const char *p = line + off;
        int r, c, v, k;
        while (sscanf(p, " %d,%d=%d%n", &r, &c, &v, &k) == 3) {
            if (r < img.rows && c < img.cols)
                CHECK_EQ_INT((int)img.pixels[(size_t)r * img.cols + c], v, name);
            p += k;
        }
        /* apply mode: the same values over maxval 255 */
        CHECK_CLOSE(img.range_hi, 255.0, 0, "%s maxval", name);
        io_dicom_image_free(&img);
    }
    fclose(f);
    CHECK_EQ_INT(n_files, 16, "mini-MIAS films compared");
    return wb_test_finish("io.image_mias");
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "fixtures")) {
        snprintf(g_dir, sizeof g_dir, "%s", argv[2]);
        return run_fixtures();
    }
    if (argc == 4 && !strcmp(argv[1], "mias")) return run_mias(argv[2], argv[3]);
    fprintf(stderr, "usage: test_image fixtures DATA_DIR | mias REF_FILE MIAS_DIR\n");
    return 2;
}
