/* test_preprocess — the ITK wrapper (io_itk.h), SHA-256 (io_sha256.h) and the preprocessing
 * pipeline (preprocess.h) on synthetic images of known geometry and on fixtures made by
 * make_fixtures.py. Usage: test_preprocess DATA_DIR */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_itk.h"
#include "io/io_npy.h"
#include "io/io_png.h"
#include "io/io_sha256.h"
#include "experiments/data/preprocess.h"
#include "nets/nn.h"
#include "wb_test.h"

static const char *data_dir;

static int load(const char *name, wb_tensor *t, int *rows, int *cols)
{
    char path[4096];
    wb_error err;
    snprintf(path, sizeof path, "%s/%s.npy", data_dir, name);
    if (io_npy_read(path, t, &err) != 0) {
        CHECK(0, "cannot read %s: %s", path, err.msg);
        return -1;
    }
    *rows = (int)t->shape[0];
    *cols = (int)t->shape[1];
    return 0;
}

/* ---- SHA-256 ---- */

static void test_sha256(void)
{
    uint8_t d[32];
    char hex[65];
    io_sha256_buf("abc", 3, d);
    io_sha256_hex(d, hex);
    CHECK_STR(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc");
    io_sha256_buf(NULL, 0, d);
    io_sha256_hex(d, hex);
    CHECK_STR(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "empty");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    io_sha256_buf(two, strlen(two), d);
    io_sha256_hex(d, hex);
    CHECK_STR(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", "448 bits");
    /* A million 'a', fed in uneven pieces to exercise the block buffering. */
    io_sha256 h;
    io_sha256_init(&h);
    char a[997];
    memset(a, 'a', sizeof a);
    size_t left = 1000000, step = 1;
    while (left) {
        size_t k = step < left ? step : left;
        io_sha256_update(&h, a, k);
        left -= k;
        step = step % 997 + 1;
    }
    io_sha256_final(&h, d);
    io_sha256_hex(d, hex);
    CHECK_STR(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0",
              "million a");
    wb_error err;
    CHECK(io_sha256_file("/nonexistent/x", d, &err) == -1 && err.code == WB_E_IO,
          "missing file is an error");
    /* PNG's CRC-32 of the IEND chunk type, as every PNG file ends with it. */
    CHECK(io_png_crc32(0, "IEND", 4) == 0xae426082u, "crc32(IEND) = %08x",
          (unsigned)io_png_crc32(0, "IEND", 4));
}

/* ---- ITK wrapper ---- */

static void fill_disk(float *img, int rows, int cols, double cy, double cx, double rad, float v)
{
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++)
            if ((r - cy) * (r - cy) + (c - cx) * (c - cx) <= rad * rad)
                img[(size_t)r * cols + c] = v;
}

static void test_mask_ops(void)
{
    enum { R = 60, C = 80 };
    static float img[R * C];
    static uint8_t m[R * C];
    wb_error err;
    for (size_t i = 0; i < R * C; i++)
        img[i] = 0.05f;
    fill_disk(img, R, C, 30, 25, 15, 0.8f); /* big blob */
    fill_disk(img, R, C, 10, 70, 4, 0.9f);  /* small blob */
    fill_disk(img, R, C, 30, 25, 3, 0.0f);  /* a hole in the big one */
    float thr = -1;
    CHECK(io_itk_otsu_threshold(img, R, C, 256, &thr, &err) == 0, "otsu: %s", err.msg);
    CHECK(thr > 0.05f && thr < 0.8f, "otsu threshold %g between the classes", (double)thr);
    float tri = -1;
    CHECK(io_itk_triangle_threshold(img, R, C, 256, &tri, &err) == 0, "triangle: %s", err.msg);
    CHECK(tri > 0.05f && tri < 0.8f, "triangle threshold %g between the classes", (double)tri);
    for (size_t i = 0; i < R * C; i++)
        m[i] = img[i] > thr;
    size_t area = 0;
    CHECK(io_itk_largest_component(m, R, C, 1, &area, &err) == 0, "cc: %s", err.msg);
    CHECK_EQ_INT(m[10 * C + 70], 0, "small blob removed");
    CHECK_EQ_INT(m[30 * C + 35], 1, "big blob kept");
    CHECK_EQ_INT(m[30 * C + 25], 0, "hole still there");
    size_t before = area;
    CHECK(io_itk_fill_holes(m, R, C, 1, &err) == 0, "fill: %s", err.msg);
    CHECK_EQ_INT(m[30 * C + 25], 1, "hole filled");
    size_t after = 0;
    for (size_t i = 0; i < R * C; i++)
        after += m[i];
    CHECK(after > before && after - before <= 29 + 4, "fill added %zu pixels", after - before);
    int box[4];
    CHECK(io_itk_mask_bbox(m, R, C, box, &err) == 0, "bbox");
    CHECK(box[0] == 15 && box[1] == 10 && box[2] == 46 && box[3] == 41,
          "bbox %d %d %d %d", box[0], box[1], box[2], box[3]);
    memset(m, 0, sizeof m);
    CHECK(io_itk_mask_bbox(m, R, C, box, &err) == -1 && err.code == WB_E_DATA, "empty bbox");
    CHECK(io_itk_largest_component(m, R, C, 1, &area, &err) == 0 && area == 0, "empty cc");

    /* a constant image: nothing above either threshold */
    static float flat[R * C];
    for (size_t i = 0; i < R * C; i++)
        flat[i] = 0.25f;
    CHECK(io_itk_triangle_threshold(flat, R, C, 256, &tri, &err) == 0 && tri == 0.25f,
          "triangle of a constant: %g", (double)tri);

    /* flip */
    float f[2 * 3] = {1, 2, 3, 4, 5, 6};
    CHECK(io_itk_flip_horizontal(f, 2, 3, &err) == 0, "flip");
    CHECK(f[0] == 3 && f[1] == 2 && f[2] == 1 && f[3] == 6 && f[5] == 4, "flip values");
    CHECK(io_itk_flip_horizontal(f, 0, 3, &err) == -1 && err.code == WB_E_USAGE, "bad size");
}

static double max_abs_diff(const float *a, const float *b, size_t n, int rows, int cols,
                           int border)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        int r = (int)(i / (size_t)cols), c = (int)(i % (size_t)cols);
        if (r < border || c < border || r >= rows - border || c >= cols - border)
            continue;
        double d = fabs((double)a[i] - b[i]);
        m = d > m ? d : m;
    }
    return m;
}

static void test_resample(void)
{
    wb_error err;
    /* A constant stays constant, down and up, with and without anti-aliasing. */
    enum { R = 77, C = 91 };
    static float k[R * C], out[300 * 300];
    for (size_t i = 0; i < R * C; i++)
        k[i] = 0.375f;
    const int sizes[4][2] = {{20, 30}, {77, 91}, {150, 41}, {300, 300}};
    for (int s = 0; s < 4; s++)
        for (int aa = 0; aa < 2; aa++) {
            int orow = sizes[s][0], ocol = sizes[s][1];
            CHECK(io_itk_resample(k, R, C, out, orow, ocol, aa, &err) == 0, "resample: %s",
                  err.msg);
            double dev = 0;
            for (int i = 0; i < orow * ocol; i++)
                dev = fmax(dev, fabs(out[i] - 0.375));
            CHECK(dev < 1e-6, "constant to %dx%d aa=%d deviates by %g", orow, ocol, aa, dev);
        }
    /* The known pattern against scikit-image's resize (order 1, mode edge). */
    wb_tensor pat = {0}, ref = {0};
    int pr, pc, rr, rc;
    if (load("pattern", &pat, &pr, &pc))
        return;
    struct {
        const char *name;
        int aa;
        double tol;
        int border;
    } cases[] = {{"resize_lin_40x50", 0, 2e-6, 0},
                 {"resize_lin_150x200", 0, 2e-6, 1},
                 /* ITK's discrete Gaussian (Lindeberg's Bessel kernel) vs scipy's sampled
                  * Gaussian: a few 1e-3 on a 0.75-range pattern, against ~5e-2 for no
                  * smoothing at all (checked below). */
                 {"resize_aa_40x50", 1, 6e-3, 2},
                 {"resize_aa_25x33", 1, 6e-3, 3}};
    for (size_t t = 0; t < sizeof cases / sizeof cases[0]; t++) {
        if (load(cases[t].name, &ref, &rr, &rc))
            continue;
        float *o = malloc((size_t)rr * rc * sizeof *o);
        CHECK(io_itk_resample(pat.data, pr, pc, o, rr, rc, cases[t].aa, &err) == 0,
              "resample %s: %s", cases[t].name, err.msg);
        double d = max_abs_diff(o, ref.data, (size_t)rr * rc, rr, rc, cases[t].border);
        printf("resample %-20s max |ITK - skimage| = %.3g (border %d excluded)\n",
               cases[t].name, d, cases[t].border);
        CHECK(d <= cases[t].tol, "%s: max abs diff %g > %g", cases[t].name, d, cases[t].tol);
        if (cases[t].aa) { /* the smoothing matters: without it the error is much larger */
            CHECK(io_itk_resample(pat.data, pr, pc, o, rr, rc, 0, &err) == 0, "no aa");
            double d0 = max_abs_diff(o, ref.data, (size_t)rr * rc, rr, rc, cases[t].border);
            CHECK(d0 > 5 * d, "%s: without anti-aliasing %g, with %g", cases[t].name, d0, d);
        }
        free(o);
        wb_tensor_free(&ref);
    }
    wb_tensor_free(&pat);
}

static void test_clahe(void)
{
    wb_error err;
    enum { R = 64, C = 64 };
    static float img[R * C];
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++)
            img[r * C + c] = 0.4f + 0.2f * (float)c / C; /* low contrast ramp */
    CHECK(io_itk_clahe(img, R, C, 8, 0.3, 0.3, &err) == 0, "clahe: %s", err.msg);
    float lo = 1, hi = 0;
    for (int i = 0; i < R * C; i++) {
        lo = fminf(lo, img[i]);
        hi = fmaxf(hi, img[i]);
    }
    CHECK(lo >= 0.4f - 1e-5f && hi <= 0.6f + 1e-5f, "CLAHE keeps the range: %g..%g",
          (double)lo, (double)hi);
    CHECK(img[32 * C + 40] > img[32 * C + 20], "CLAHE keeps the order");
    CHECK(io_itk_clahe(img, R, C, 0, 0.3, 0.3, &err) == -1 && err.code == WB_E_USAGE,
          "radius 0 refused");
}

/* ---- the C mask steps and resampling against ITK ---- */

static uint32_t rng_next(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

/* Random blobs, speckle, rings with holes, and two equal squares (a tie). */
static void random_mask(uint8_t *m, int rows, int cols, uint32_t seed, int ties)
{
    uint32_t s = seed;
    memset(m, 0, (size_t)rows * cols);
    int nb = 3 + (int)(rng_next(&s) % 6);
    for (int k = 0; k < nb; k++) {
        double cy = rng_next(&s) % rows, cx = rng_next(&s) % cols;
        double ro = 3 + rng_next(&s) % (rows / 3 + 1), ri = ro * (rng_next(&s) % 60) / 100.0;
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) {
                double d2 = (r - cy) * (r - cy) + (c - cx) * (c - cx);
                if (d2 <= ro * ro && d2 >= ri * ri)
                    m[(size_t)r * cols + c] = 1;
            }
    }
    for (size_t i = 0; i < (size_t)rows * cols; i++) /* speckle both ways */
        if (rng_next(&s) % 100 < 4)
            m[i] ^= 1;
    if (ties && rows >= 20 && cols >= 20) {
        memset(m, 0, (size_t)rows * cols);
        for (int r = 2; r < 8; r++)
            for (int c = 2; c < 8; c++) {
                m[(size_t)r * cols + c] = 1;
                m[(size_t)(r + 10) * cols + c + 12] = 1;
            }
    }
}

static void test_mask_c_vs_itk(void)
{
    wb_error err;
    const int sizes[4][2] = {{1, 1}, {7, 5}, {60, 80}, {129, 97}};
    int same_cc = 0, same_fill = 0, cases = 0;
    for (int z = 0; z < 4; z++)
        for (uint32_t seed = 1; seed <= 12; seed++)
            for (int conn = 0; conn < 2; conn++) {
                int R = sizes[z][0], C = sizes[z][1];
                size_t n = (size_t)R * C;
                uint8_t *a = malloc(n), *b = malloc(n);
                random_mask(a, R, C, seed * 7919u + (uint32_t)z, seed == 12);
                memcpy(b, a, n);
                size_t ar = 0, br = 0;
                CHECK(exp_pre_largest_component(a, R, C, conn, &ar, &err) == 0, "C cc: %s", err.msg);
                CHECK(io_itk_largest_component(b, R, C, conn, &br, &err) == 0, "ITK cc: %s", err.msg);
                same_cc += ar == br && memcmp(a, b, n) == 0;
                /* holes of the raw random mask (many touch the border) */
                random_mask(a, R, C, seed * 104729u + (uint32_t)z, 0);
                memcpy(b, a, n);
                CHECK(exp_pre_fill_holes(a, R, C, conn, &err) == 0, "C fill: %s", err.msg);
                CHECK(io_itk_fill_holes(b, R, C, conn, &err) == 0, "ITK fill: %s", err.msg);
                same_fill += memcmp(a, b, n) == 0;
                cases++;
                free(a);
                free(b);
            }
    CHECK_EQ_INT(same_cc, cases, "largest component: C equal to ITK on every random mask");
    CHECK_EQ_INT(same_fill, cases, "fill holes: C equal to ITK on every random mask");
}

/* The GLCM features with the co-occurrence counts made in the shim are ITK's own
 * ScalarImageToTextureFeaturesFilter's, to the bit (means and SDs), on random masks and images
 * (values outside [0,1] and NaN included) at every level count from 2 to 1024. */
static void test_glcm_vs_itk(void)
{
    wb_error err;
    const int sizes[5][2] = {{2, 2}, {1, 9}, {9, 1}, {23, 31}, {61, 47}};
    const int levels[6] = {2, 3, 16, 64, 255, 1024};
    int same = 0, cases = 0, refused = 0;
    for (int z = 0; z < 5; z++)
        for (uint32_t seed = 1; seed <= 6; seed++) {
            int R = sizes[z][0], C = sizes[z][1];
            size_t n = (size_t)R * C;
            uint8_t *m = malloc(n);
            float *img = malloc(n * sizeof *img);
            uint32_t st = seed * 2654435761u + (uint32_t)z;
            if (R >= 20 && C >= 20) random_mask(m, R, C, seed * 31u + (uint32_t)z, 0);
            else memset(m, 1, n);
            for (size_t i = 0; i < n; i++) {
                uint32_t u = rng_next(&st);
                img[i] = (float)((u % 10007) / 10006.0 * 1.2 - 0.1); /* a little outside [0,1] */
                if (u % 997 == 0) img[i] = NAN;
                if (seed == 6) img[i] = (float)(i % 7) / 7.0f; /* a few levels only */
            }
            for (int l = 0; l < 6; l++) {
                if (levels[l] > 64 && (seed > 1 || (levels[l] > 255 && z != 3))) continue; /* 255 and 1024 levels (1M bins a matrix): a few images */
                double a[IO_ITK_GLCM_COUNT], sa[IO_ITK_GLCM_COUNT], b[IO_ITK_GLCM_COUNT], sb[IO_ITK_GLCM_COUNT];
                int ra = io_itk_glcm_features(img, m, R, C, levels[l], a, sa, &err);
                int rb = io_itk_glcm_features_reference(img, m, R, C, levels[l], b, sb, &err);
                CHECK(ra == rb, "GLCM %dx%d seed %u L%d: same outcome (%d, %d)", R, C, seed, levels[l], ra, rb);
                refused += ra != 0;
                same += ra == rb && (ra != 0 || (memcmp(a, b, sizeof a) == 0 && memcmp(sa, sb, sizeof sa) == 0));
                cases++;
            }
            free(m);
            free(img);
        }
    CHECK_EQ_INT(same, cases, "GLCM features equal to ITK's filter's, bit for bit");
    CHECK_EQ_INT(refused, 0, "no case refused (every mask has a pair)");
}

static void test_resize_c(void)
{
    wb_error err;
    enum { R = 77, C = 91 };
    static float k[R * C], out[300 * 300], ref[300 * 300];
    for (size_t i = 0; i < R * C; i++)
        k[i] = 0.375f;
    const int sizes[4][2] = {{20, 30}, {77, 91}, {150, 41}, {300, 300}};
    for (int s = 0; s < 4; s++)
        for (int aa = 0; aa < 2; aa++) {
            int orow = sizes[s][0], ocol = sizes[s][1];
            CHECK(exp_pre_resize(k, R, C, out, orow, ocol, aa, &err) == 0, "resize: %s", err.msg);
            double dev = 0;
            for (int i = 0; i < orow * ocol; i++)
                dev = fmax(dev, fabs(out[i] - 0.375));
            CHECK(dev < 1e-6, "C resize: constant to %dx%d aa=%d deviates by %g", orow, ocol, aa,
                  dev);
        }
    wb_tensor pat = {0}, fx = {0};
    int pr, pc, rr, rc;
    if (load("pattern", &pat, &pr, &pc))
        return;
    /* Without smoothing: ITK's ResampleImageFilter to the bit, down and up. */
    const int lin[5][2] = {{40, 50}, {150, 200}, {101, 131}, {13, 260}, {300, 7}};
    for (int t = 0; t < 5; t++) {
        int orow = lin[t][0], ocol = lin[t][1];
        CHECK(exp_pre_resize(pat.data, pr, pc, out, orow, ocol, 0, &err) == 0, "resize");
        CHECK(io_itk_resample(pat.data, pr, pc, ref, orow, ocol, 0, &err) == 0, "ITK resample");
        double d = max_abs_diff(out, ref, (size_t)orow * ocol, orow, ocol, 0);
        printf("C resize to %dx%d: max |C - ITK| = %.3g\n", orow, ocol, d);
        CHECK(d <= 1e-6, "C resize to %dx%d without smoothing: %g from ITK's", orow, ocol, d);
    }
    /* With smoothing: scipy's sampled Gaussian, so scikit-image's resize within float32
     * rounding (ITK's discrete Gaussian was 6e-3 off). */
    const char *aa[2] = {"resize_aa_40x50", "resize_aa_25x33"};
    for (int t = 0; t < 2; t++) {
        if (load(aa[t], &fx, &rr, &rc))
            continue;
        CHECK(exp_pre_resize(pat.data, pr, pc, out, rr, rc, 1, &err) == 0, "resize aa");
        double d = max_abs_diff(out, fx.data, (size_t)rr * rc, rr, rc, 0);
        printf("C resize %-20s max |C - skimage| = %.3g (no border excluded)\n", aa[t], d);
        CHECK(d <= 2e-6, "%s: max abs diff %g", aa[t], d);
        wb_tensor_free(&fx);
    }
    wb_tensor_free(&pat);
}

/* "tex L16 glcm_energy 0.0084..." lines. */
static int fixture_value(const char *level, const char *name, double *v)
{
    char path[4096], line[256], a[32], b[32], c[64];
    snprintf(path, sizeof path, "%s/features.txt", data_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int found = -1;
    while (fgets(line, sizeof line, f))
        if (line[0] != '#' && sscanf(line, "%31s %31s %63s %lf", a, b, c, v) == 4 &&
            !strcmp(b, level) && !strcmp(c, name)) {
            found = 0;
            break;
        }
    fclose(f);
    return found;
}

static void test_features(void)
{
    wb_tensor tex = {0}, tm = {0};
    int r, c, r2, c2;
    wb_error err;
    if (load("tex", &tex, &r, &c) || load("tex_mask", &tm, &r2, &c2))
        return;
    size_t n = (size_t)r * c;
    uint8_t *m = malloc(n);
    for (size_t i = 0; i < n; i++)
        m[i] = tm.data[i] > 0.5f;
    const int levels[2] = {16, 64};
    for (int l = 0; l < 2; l++) {
        double g[IO_ITK_GLCM_COUNT], sd[IO_ITK_GLCM_COUNT];
        CHECK(io_itk_glcm_features(tex.data, m, r, c, levels[l], g, sd, &err) == 0, "glcm: %s",
              err.msg);
        char lv[16];
        snprintf(lv, sizeof lv, "L%d", levels[l]);
        for (int k = 0; k < IO_ITK_GLCM_COUNT; k++) {
            const char *name = exp_pre_feature_name(EXP_PRE_F_GLCM_ENERGY + k);
            double ref;
            if (fixture_value(lv, name, &ref)) {
                CHECK(0, "no fixture for %s %s", lv, name);
                continue;
            }
            CHECK_CLOSE(g[k], ref, 1e-9 * fmax(1, fabs(ref)), "%s %s", lv, name);
        }
    }
    double fo[EXP_PRE_N_FIRST_ORDER];
    CHECK(exp_pre_first_order(tex.data, m, n, 64, fo, &err) == 0, "first order");
    for (int k = 0; k < EXP_PRE_N_FIRST_ORDER; k++) {
        double ref;
        const char *name = exp_pre_feature_name(k);
        if (fixture_value("B64", name, &ref)) {
            CHECK(0, "no fixture for %s", name);
            continue;
        }
        /* float32 pixels summed in double: 1e-9 relative */
        CHECK_CLOSE(fo[k], ref, 1e-9 * fmax(1, fabs(ref)), "%s", name);
    }
    { /* percentiles of negative and positive values (the sort is a radix sort on float bits) */
        const float v[6] = {-0.5f, 2.0f, 0.25f, -3.0f, 1.0f, 7.0f};
        const uint8_t vm[6] = {1, 1, 1, 1, 1, 0};
        double f[EXP_PRE_N_FIRST_ORDER];
        CHECK(exp_pre_first_order(v, vm, 6, 64, f, &err) == 0, "first order of signed values");
        CHECK_CLOSE(f[EXP_PRE_F_FO_P10], -2.0, 1e-12, "p10 of -3 -0.5 0.25 1 2");
        CHECK_CLOSE(f[EXP_PRE_F_FO_P50], 0.25, 1e-12, "p50");
        CHECK_CLOSE(f[EXP_PRE_F_FO_P90], 1.6, 1e-12, "p90");
    }
    memset(m, 0, n);
    m[5 * c + 5] = 1; /* a single pixel: no pair */
    double g[IO_ITK_GLCM_COUNT];
    CHECK(io_itk_glcm_features(tex.data, m, r, c, 16, g, NULL, &err) == -1 &&
              err.code == WB_E_DATA, "GLCM of a single pixel refused");
    m[5 * c + 5] = 0;
    CHECK(exp_pre_first_order(tex.data, m, n, 64, fo, &err) == -1 && err.code == WB_E_DATA,
          "first order of an empty mask refused");
    free(m);
    wb_tensor_free(&tex);
    wb_tensor_free(&tm);
}

/* ---- pipeline on synthetic breasts ---- */

/* A half-ellipse "breast" with its chest wall on the left (side 0) or right (1), a label
 * blob in a corner that the largest-component step must remove, and a hole. */
static float *make_breast(int rows, int cols, int side)
{
    float *img = calloc((size_t)rows * cols, sizeof *img);
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            double x = side ? (cols - 1 - c) : c; /* depth from the chest wall */
            double y = (r - rows / 2.0) / (rows * 0.4);
            double u = x / (cols * 0.6);
            if (u * u + y * y <= 1)
                img[(size_t)r * cols + c] = (float)(0.5 + 0.3 * (1 - u));
        }
    for (int r = 2; r < 10; r++) /* label, away from the breast */
        for (int c = 0; c < 12; c++)
            img[(size_t)r * cols + (side ? c : cols - 1 - c)] = 1.0f;
    return img;
}

static int mean_col(const exp_pre_result *res)
{
    double s = 0, n = 0;
    for (int r = 0; r < res->rows; r++)
        for (int c = 0; c < res->cols; c++)
            if (res->mask[(size_t)r * res->cols + c]) {
                s += c;
                n++;
            }
    return n ? (int)(s / n) : -1;
}

static void test_pipeline(void)
{
    enum { R = 200, C = 160 };
    wb_error err;
    exp_pre_params p;
    exp_pre_params_default(&p);
    p.out_rows = 64;
    p.out_cols = 64;
    struct {
        int side;
        const char *lat;
        int flipped;
        const char *source;
    } cases[] = {{0, "L", 0, "laterality"}, {1, "R", 1, "laterality"},
                 {0, NULL, 0, "mass"},      {1, "", 1, "mass"}};
    for (size_t t = 0; t < 4; t++) {
        float *img = make_breast(R, C, cases[t].side);
        exp_pre_result res;
        int rc = exp_pre_run(img, R, C, cases[t].lat, &p, &res, &err);
        CHECK(rc == 0, "case %zu: %s", t, err.msg);
        if (rc == 0) {
            CHECK_EQ_INT(res.flipped, cases[t].flipped, "flipped");
            CHECK_STR(res.chest_wall_source, cases[t].source, "chest wall source");
            CHECK(mean_col(&res) < res.cols / 2, "case %zu: mass on the left (col %d)", t,
                  mean_col(&res));
            /* Crop: the breast is rows 20..180 (0.4 * 200 around the centre) and 96 columns
             * deep; the label must not be in the box. */
            int *b = res.crop_box;
            CHECK(b[0] == 20 - 8 && b[2] == 181 + 8, "case %zu rows %d..%d", t, b[0], b[2]);
            int depth = b[3] - b[1];
            CHECK(depth >= 96 && depth <= 96 + 8 + 1, "case %zu depth %d", t, depth);
            /* Keep aspect: (161+16) x ~104 into 64x64 -> 64 rows, ~38 columns, at column 0. */
            CHECK_EQ_INT(res.mask[32 * 64 + 0], 1, "chest wall at column 0");
            CHECK_EQ_INT(res.mask[32 * 64 + 63], 0, "padding on the right");
            CHECK(res.features[EXP_PRE_F_SHAPE_EXTENT] > 0.7 &&
                      res.features[EXP_PRE_F_SHAPE_EXTENT] < 0.8,
                  "extent of a half ellipse ~ pi/4: %g", res.features[EXP_PRE_F_SHAPE_EXTENT]);
            CHECK(res.features[EXP_PRE_F_FO_MEAN] > 0.5 && res.features[EXP_PRE_F_FO_MEAN] < 0.8,
                  "mean %g", res.features[EXP_PRE_F_FO_MEAN]);
        }
        exp_pre_result_free(&res);
        free(img);
    }
    /* Stretch instead of pad; z-score; percentile window; CLAHE. */
    float *img = make_breast(R, C, 0);
    p.keep_aspect = 0;
    p.scale = EXP_PRE_SCALE_ZSCORE;
    p.window = EXP_PRE_WINDOW_PERCENTILE;
    p.clahe = 1;
    p.clahe_radius = 8;
    exp_pre_result res;
    CHECK(exp_pre_run(img, R, C, "L", &p, &res, &err) == 0, "variant: %s", err.msg);
    if (res.image) {
        CHECK_EQ_INT(res.mask[32 * 64 + 40], 1, "stretched fills the width");
        double s = 0, s2 = 0, n = 0;
        for (int i = 0; i < 64 * 64; i++)
            if (res.mask[i]) {
                s += res.image[i];
                s2 += (double)res.image[i] * res.image[i];
                n++;
            }
        CHECK_CLOSE(s / n, 0, 1e-5, "z-score mean inside the mask");
        CHECK_CLOSE(sqrt(s2 / n), 1, 1e-4, "z-score std inside the mask");
    }
    exp_pre_result_free(&res);
    /* A blank image: no breast, an error, nothing to free. */
    memset(img, 0, (size_t)R * C * sizeof *img);
    p.clahe = 0;
    CHECK(exp_pre_run(img, R, C, "L", &p, &res, &err) == -1 && err.code == WB_E_DATA,
          "blank image refused");
    CHECK_CONTAINS(err.msg, "no breast", "blank message");
    CHECK(res.image == NULL, "nothing allocated");
    free(img);
    /* Bad params. */
    exp_pre_params_default(&p);
    p.out_rows = 3;
    CHECK(exp_pre_params_check(&p, &err) == -1 && err.code == WB_E_CONFIG, "out_rows 3");
    CHECK_STR(err.key, "preprocess.out_rows", "key");
    /* Names are stable and distinct. */
    CHECK_STR(exp_pre_feature_name(0), "fo_mean", "name 0");
    CHECK_STR(exp_pre_feature_name(EXP_PRE_F_GLCM_ENERGY), "glcm_energy", "glcm name");
    CHECK_STR(exp_pre_feature_name(EXP_PRE_N_FEATURES - 1), "shape_extent", "last name");
    CHECK(exp_pre_feature_name(EXP_PRE_N_FEATURES) == NULL, "past the end");
}

/* The pipeline's mask against ITK's filters on the whole image, and its output against the
 * thread count. */
static float *make_noisy_breast(int rows, int cols, uint32_t seed)
{
    float *img = make_breast(rows, cols, 1);
    uint32_t s = seed;
    for (size_t i = 0; i < (size_t)rows * cols; i++) {
        float v = img[i] + 0.02f * (float)(rng_next(&s) % 1000) / 1000.0f;
        img[i] = v;
    }
    /* a hole, and a bay reaching the bounding box's edge */
    fill_disk(img, rows, cols, rows / 2.0, cols * 0.8, rows / 20.0, 0.0f);
    for (int r = rows / 2 - 3; r < rows / 2 + 3; r++)
        for (int c = cols / 3; c < cols; c++)
            img[(size_t)r * cols + c] = 0.0f;
    return img;
}

/* Preprocesses img with 2 and 3 threads, and with 3 asked of a pool of 2 (preprocessing runs
 * on the engine's pool: nn_par_for), and checks every output equals r1 (made with 1). */
static void same_with_threads(const float *img, int R, int C, const char *lat, const exp_pre_params *p,
                              const exp_pre_result *r1, const char *what)
{
    wb_error err;
    exp_pre_result r2;
    static const int asked[] = {2, 3, 3}, pool[] = {2, 3, 2};
    for (int k = 0; k < 3; k++) {
        const int t = asked[k];
        exp_pre_set_threads(t);
        CHECK_EQ_INT(nn_set_threads(pool[k]), pool[k], "the engine's pool");
        CHECK(exp_pre_run(img, R, C, lat, p, &r2, &err) == 0, "%s, %d threads: %s", what, t, err.msg);
        if (r1->image && r2.image) {
            size_t on = (size_t)r1->rows * r1->cols;
            CHECK(memcmp(r1->image, r2.image, on * sizeof *r1->image) == 0,
                  "%s: image with %d threads differs from 1 thread", what, t);
            CHECK(memcmp(r1->mask, r2.mask, on) == 0, "%s: mask with %d threads differs", what, t);
            CHECK(memcmp(r1->features, r2.features, sizeof r1->features) == 0,
                  "%s: features with %d threads differ", what, t);
            CHECK(r1->threshold == r2.threshold && r1->flipped == r2.flipped &&
                      memcmp(r1->crop_box, r2.crop_box, sizeof r1->crop_box) == 0,
                  "%s: threshold/flip/crop with %d threads differ", what, t);
        }
        exp_pre_result_free(&r2);
    }
}

static void test_pipeline_threads(void)
{
    enum { R = 613, C = 487 };
    wb_error err;
    float *img = make_noisy_breast(R, C, 99);
    exp_pre_params p;
    exp_pre_params_default(&p);
    p.out_rows = 128;
    p.out_cols = 96;
    p.window = EXP_PRE_WINDOW_PERCENTILE;
    exp_pre_result r1;
    int old = exp_pre_threads();
    exp_pre_set_threads(1);
    CHECK(exp_pre_run(img, R, C, NULL, &p, &r1, &err) == 0, "1 thread: %s", err.msg);
    /* the mask: threshold, largest component and holes as ITK computes them on the whole image */
    float thr;
    uint8_t *m = malloc((size_t)R * C);
    CHECK(io_itk_triangle_threshold(img, R, C, p.otsu_bins, &thr, &err) == 0, "triangle");
    CHECK(thr == r1.threshold, "threshold %.9g, ITK shim's %.9g", (double)r1.threshold,
          (double)thr);
    for (size_t i = 0; i < (size_t)R * C; i++)
        m[i] = img[i] > thr;
    size_t area = 0;
    CHECK(io_itk_largest_component(m, R, C, 1, &area, &err) == 0, "ITK cc");
    CHECK(io_itk_fill_holes(m, R, C, 1, &err) == 0, "ITK fill");
    area = 0;
    for (size_t i = 0; i < (size_t)R * C; i++)
        area += m[i];
    CHECK(r1.features[EXP_PRE_F_SHAPE_AREA_FRACTION] == (double)area / ((double)R * C),
          "mask area %.9g, ITK's %.9g", r1.features[EXP_PRE_F_SHAPE_AREA_FRACTION],
          (double)area / ((double)R * C));
    int box[4];
    CHECK(io_itk_mask_bbox(m, R, C, box, &err) == 0, "bbox");
    CHECK(r1.crop_box[0] == box[0] - 8 && r1.crop_box[2] == box[2] + 8 &&
              r1.crop_box[1] == (box[1] > 8 ? box[1] - 8 : 0) &&
              r1.crop_box[3] == (box[3] + 8 < C ? box[3] + 8 : C),
          "crop box %d %d %d %d from ITK's box %d %d %d %d", r1.crop_box[0], r1.crop_box[1],
          r1.crop_box[2], r1.crop_box[3], box[0], box[1], box[2], box[3]);
    free(m);
    same_with_threads(img, R, C, NULL, &p, &r1, "default");
    /* no crop, background kept, stretched, no smoothing, up-sampled rows, CLAHE */
    exp_pre_result_free(&r1);
    p.crop = 0;
    p.mask_background = 0;
    p.keep_aspect = 0;
    p.antialias = 0;
    p.out_rows = 700;
    p.clahe = 1;
    exp_pre_set_threads(1);
    CHECK(exp_pre_run(img, R, C, "R", &p, &r1, &err) == 0, "variant, 1 thread: %s", err.msg);
    CHECK(r1.crop_box[0] == 0 && r1.crop_box[2] == R && r1.crop_box[3] == C && r1.flipped == 1,
          "no crop, flipped");
    same_with_threads(img, R, C, "R", &p, &r1, "variant");
    exp_pre_set_threads(old);
    nn_set_threads(1);
    exp_pre_result_free(&r1);
    free(img);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_preprocess DATA_DIR\n");
        return 2;
    }
    data_dir = argv[1];
    test_sha256();
    test_mask_ops();
    test_resample();
    test_clahe();
    test_features();
    test_mask_c_vs_itk();
    test_glcm_vs_itk();
    test_resize_c();
    test_pipeline();
    test_pipeline_threads();
    return wb_test_finish("test_preprocess");
}
