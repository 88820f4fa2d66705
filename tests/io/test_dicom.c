/* The DICOM reader against pixel values from pydicom (tests/io/make_dicom_fixtures.py), the
 * metadata against the values the script wrote, every bad input against its message, and
 * the writer by a round trip through every transfer syntax it writes. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_dicom.h"
#include "io/io_fs.h"
#include "io/io_sha256.h"
#include <zlib.h>

#include "io/io_dicom_scan.h"
#include "wb_test.h"

static const char *g_data, *g_tmp;

static float *read_f32(const char *path, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    float *v = malloc(n * sizeof *v);
    size_t got = v ? fread(v, sizeof *v, n, f) : 0;
    int extra = fgetc(f);
    fclose(f);
    if (got != n || extra != EOF) {
        free(v);
        return NULL;
    }
    return v;
}

static void compare(const char *name, const char *mode, io_voi_mode voi)
{
    char path[1024], exp_path[1024];
    snprintf(path, sizeof path, "%s/%s.dcm", g_data, name);
    snprintf(exp_path, sizeof exp_path, "%s/%s.%s.f32", g_data, name, mode);
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    opt.voi = voi;
    io_dicom_image img;
    wb_error err;
    wb_error_clear(&err);
    int rc = io_dicom_read(path, &opt, &img, &err);
    CHECK(rc == 0, "%s: read failed: %s", name, err.msg);
    if (rc) return;
    size_t n = (size_t)img.rows * img.cols;
    float *want = read_f32(exp_path, n);
    CHECK(want != NULL, "%s: cannot read %s with %zu floats", name, exp_path, n);
    if (want) {
        int bad = 0;
        for (size_t i = 0; i < n && bad < 3; i++) {
            double tol = 1e-5 * (fabs(want[i]) > 1 ? fabs(want[i]) : 1);
            if (!(fabs(img.pixels[i] - want[i]) <= tol)) {
                bad++;
                CHECK_CLOSE(img.pixels[i], want[i], tol, "%s (%s) pixel %zu (row %zu col %zu)",
                            name, mode, i, i / img.cols, i % img.cols);
            }
        }
        CHECK(bad == 0, "%s (%s): pixels differ from pydicom", name, mode);
        wb_test_checks++;
    }
    free(want);
    io_dicom_image_free(&img);
}

static void check_good_files(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/index.txt", g_data);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char name[256], photometric[64], ts[128];
        int rows, cols, bits;
        if (sscanf(line, "%255s %d %d %d %63s %127s", name, &rows, &cols, &bits, photometric, ts) != 6)
            continue;
        n++;
        compare(name, "apply", IO_VOI_APPLY);
        compare(name, "ignore", IO_VOI_IGNORE);
        /* geometry and transfer syntax as the index says */
        io_dicom_image img;
        wb_error err;
        snprintf(path, sizeof path, "%s/%s.dcm", g_data, name);
        if (io_dicom_read(path, NULL, &img, &err) == 0) {
            CHECK_EQ_INT(img.rows, rows, name);
            CHECK_EQ_INT(img.cols, cols, name);
            CHECK_EQ_INT(img.meta.bits_stored, bits, name);
            CHECK_STR(img.meta.photometric, photometric, name);
            CHECK_STR(img.meta.transfer_syntax, ts, name);
            CHECK(img.meta.transfer_syntax_name[0] != '\0', "%s: no transfer syntax name", name);
            if (!strcmp(name, "padding"))
                CHECK_EQ_INT(img.meta.n_padding, 25, "padding pixels");
            if (!strcmp(name, "multiwin")) {
                CHECK_EQ_INT(img.meta.n_windows, 2, "multiwin windows");
                CHECK_CLOSE(img.meta.window_center, 1500, 0, "multiwin first window");
            }
            io_dicom_image_free(&img);
        }
    }
    fclose(f);
    CHECK(n >= 20, "index.txt lists only %d files", n);
}

/* The second window of multiwin, computed here from the stored values (LINEAR, 2500/3000). */
static void check_second_window(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/multiwin.dcm", g_data);
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    io_dicom_image raw, w2;
    wb_error err;
    opt.voi = IO_VOI_IGNORE;
    int rc = io_dicom_read(path, &opt, &raw, &err);
    opt.voi = IO_VOI_APPLY;
    opt.window_index = 1;
    rc |= io_dicom_read(path, &opt, &w2, &err);
    CHECK(rc == 0, "multiwin: %s", err.msg);
    if (rc) return;
    CHECK_CLOSE(w2.meta.window_center, 2500, 0, "second window centre");
    for (int i = 0; i < raw.rows * raw.cols; i++) {
        double x = raw.pixels[i], c = 2500 - 0.5, w = 3000 - 1, y;
        if (x <= c - w / 2) y = 0;
        else if (x > c + w / 2) y = 1;
        else y = (x - c) / w + 0.5;
        CHECK_CLOSE(w2.pixels[i], y, 1e-6, "multiwin window 2 pixel %d", i);
    }
    io_dicom_image_free(&raw);
    io_dicom_image_free(&w2);
}

/* Files too large for .f32 references (j2k_ref.txt): SHA-256 of the float32 modality values
 * (exact: they are integers), the sum of the VOI-applied values and a few of them. */
static void check_j2k_ref(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/j2k_ref.txt", g_data);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char name[256], sha[65];
        double want_sum;
        int off = 0;
        if (sscanf(line, "%255s %64s %lf%n", name, sha, &want_sum, &off) != 3) continue;
        snprintf(path, sizeof path, "%s/%s", g_data, name);
        io_dicom_options opt;
        io_dicom_options_default(&opt);
        opt.voi = IO_VOI_IGNORE;
        io_dicom_image ig, ap;
        wb_error err;
        int rc = io_dicom_read(path, &opt, &ig, &err);
        CHECK(rc == 0, "%s: %s", name, err.msg);
        if (rc) continue;
        opt.voi = IO_VOI_APPLY;
        rc = io_dicom_read(path, &opt, &ap, &err);
        CHECK(rc == 0, "%s: %s", name, err.msg);
        if (rc) {
            io_dicom_image_free(&ig);
            continue;
        }
        const size_t np = (size_t)ig.rows * ig.cols;
        uint8_t d[IO_SHA256_SIZE];
        io_sha256_buf(ig.pixels, np * sizeof(float), d); /* little-endian host */
        char hex[2 * IO_SHA256_SIZE + 1];
        for (int i = 0; i < IO_SHA256_SIZE; i++) snprintf(hex + 2 * i, 3, "%02x", d[i]);
        CHECK_STR(hex, sha, name);
        double sum = 0;
        for (size_t i = 0; i < np; i++) sum += ap.pixels[i];
        CHECK_CLOSE(sum, want_sum, 1e-6 * want_sum, "%s: sum of VOI-applied pixels", name);
        const char *p = line + off;
        int r, c, k = 0, used = 0;
        double v;
        while (sscanf(p, " %d,%d,%lf%n", &r, &c, &v, &used) == 3) {
            CHECK(r >= 0 && r < ap.rows && c >= 0 && c < ap.cols, "%s: sample %d,%d", name, r, c);
            if (r >= 0 && r < ap.rows && c >= 0 && c < ap.cols)
                CHECK_CLOSE(ap.pixels[(size_t)r * ap.cols + c], v, 1e-5, "%s pixel %d,%d", name, r, c);
            p += used;
            k++;
        }
        CHECK(k >= 10, "%s: only %d samples", name, k);
        io_dicom_image_free(&ig);
        io_dicom_image_free(&ap);
        n++;
    }
    fclose(f);
    CHECK(n >= 1, "j2k_ref.txt lists no file");
}

/* Lossy JPEG 2000: within a bound of the uncompressed source (modality units, slope 0.5). */
static void check_j2k_lossy_bound(void)
{
    char a[1024], b[1024];
    snprintf(a, sizeof a, "%s/mg12_rescale.dcm", g_data);
    snprintf(b, sizeof b, "%s/mg12_rescale_j2k_lossy.dcm", g_data);
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    opt.voi = IO_VOI_IGNORE;
    io_dicom_image src, lossy;
    wb_error err;
    int rc = io_dicom_read(a, &opt, &src, &err);
    rc |= io_dicom_read(b, &opt, &lossy, &err);
    CHECK(rc == 0, "lossy pair: %s", err.msg);
    if (rc) return;
    double worst = 0;
    for (int i = 0; i < src.rows * src.cols; i++) {
        double d = fabs(src.pixels[i] - lossy.pixels[i]);
        if (d > worst) worst = d;
    }
    CHECK(worst > 0, "the lossy copy decodes exactly: not lossy?");
    CHECK(worst <= 16.0, "lossy JPEG 2000 differs from its source by %g (bound 16 = 32 stored codes)",
          worst);
    CHECK(lossy.range_lo == src.range_lo && lossy.range_hi == src.range_hi, "lossy range");
    io_dicom_image_free(&src);
    io_dicom_image_free(&lossy);
}

static void check_meta(const char *name)
{
    char path[1024], mpath[1024];
    snprintf(path, sizeof path, "%s/%s.dcm", g_data, name);
    snprintf(mpath, sizeof mpath, "%s/%s.meta.txt", g_data, name);
    io_dicom_image img;
    wb_error err;
    int rc = io_dicom_read(path, NULL, &img, &err);
    CHECK(rc == 0, "%s: %s", name, err.msg);
    if (rc) return;
    const io_dicom_meta *m = &img.meta;
    FILE *f = fopen(mpath, "r");
    CHECK(f != NULL, "cannot open %s", mpath);
    char line[512];
    int n = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq) continue;
        *eq = '\0';
        const char *k = line, *v = eq + 1;
        n++;
        struct { const char *key; const char *got; } s[] = {
            {"PatientID", m->patient_id}, {"PatientAge", m->patient_age},
            {"StudyInstanceUID", m->study_uid}, {"SeriesInstanceUID", m->series_uid},
            {"SOPInstanceUID", m->sop_uid}, {"SOPClassUID", m->sop_class_uid},
            {"Modality", m->modality}, {"ImageLaterality", m->laterality},
            {"Laterality", m->laterality}, {"ViewPosition", m->view_position},
            {"Manufacturer", m->manufacturer}, {"ManufacturerModelName", m->model},
            {"PresentationIntentType", m->presentation_intent},
            {"BreastImplantPresent", m->implant}};
        int found = 0;
        for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
            if (!strcmp(k, s[i].key)) {
                CHECK_STR(s[i].got, v, k);
                found = 1;
            }
        if (!strcmp(k, "PixelSpacing") || !strcmp(k, "ImagerPixelSpacing")) {
            double a, b;
            CHECK(sscanf(v, "%lf\\%lf", &a, &b) == 2, "bad spacing line %s", v);
            CHECK_STR(m->pixel_spacing_source, k, "pixel spacing source");
            CHECK_CLOSE(m->pixel_spacing[0], a, 1e-9, "%s row", k);
            CHECK_CLOSE(m->pixel_spacing[1], b, 1e-9, "%s col", k);
            found = 1;
        }
        if (!strcmp(k, "ImageLaterality") || !strcmp(k, "Laterality"))
            CHECK_STR(m->laterality_source, k, "laterality source");
        CHECK(found, "%s: key %s not checked", name, k);
    }
    if (f) fclose(f);
    CHECK(n >= 8, "%s: only %d metadata lines", name, n);
    /* PatientName (DOE^JANE) must not be anywhere in what the reader hands back. */
    const char *bytes = (const char *)m;
    int leaked = 0;
    for (size_t i = 0; i + 3 <= sizeof *m; i++)
        if (!memcmp(bytes + i, "DOE", 3)) leaked = 1;
    CHECK(!leaked, "%s: PatientName found in the metadata", name);
    io_dicom_image_free(&img);
}

static void check_bad_files(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/bad.txt", g_data);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    char line[512];
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *sp = strchr(line, ' ');
        if (!sp) continue;
        *sp = '\0';
        const char *file = line, *want = sp + 1;
        snprintf(path, sizeof path, "%s/%s", g_data, file);
        io_dicom_image img;
        wb_error err;
        wb_error_clear(&err);
        int rc = io_dicom_read(path, NULL, &img, &err);
        CHECK(rc != 0, "%s: read succeeded, expected '%s'", file, want);
        CHECK(img.pixels == NULL, "%s: pixels left behind after an error", file);
        char msg[2400];
        wb_error_format(&err, msg, sizeof msg);
        CHECK_CONTAINS(msg, want, file);
        CHECK_CONTAINS(msg, file, "the message names the file");
        CHECK_EQ_INT(err.code, WB_E_DATA, file);
        n++;
    }
    fclose(f);
    CHECK(n >= 13, "bad.txt lists only %d files", n);

    /* Pixel Data longer than the image by less than a frame (make_rle_length_fixtures.py: 10
     * trailing bytes): read as the file without them, the bytes ignored (with a warning). */
    {
        io_dicom_image a, b;
        wb_error e1, e2;
        char pa[1024], pb[1024];
        snprintf(pa, sizeof pa, "%s/raw_trailing.dcm", g_data);
        snprintf(pb, sizeof pb, "%s/mg12_rescale.dcm", g_data);
        int ra = io_dicom_read(pa, NULL, &a, &e1), rb = io_dicom_read(pb, NULL, &b, &e2);
        CHECK(ra == 0, "raw_trailing.dcm: %s", e1.msg);
        CHECK(rb == 0, "mg12_rescale.dcm: %s", e2.msg);
        if (ra == 0 && rb == 0) {
            CHECK(a.rows == b.rows && a.cols == b.cols, "raw_trailing.dcm: %d x %d", a.cols, a.rows);
            CHECK(a.rows == b.rows && a.cols == b.cols &&
                      memcmp(a.pixels, b.pixels, (size_t)a.rows * (size_t)a.cols * sizeof *a.pixels) == 0,
                  "raw_trailing.dcm: pixels differ from mg12_rescale.dcm's");
        }
        io_dicom_image_free(&a);
        io_dicom_image_free(&b);
        /* one 8-bit pixel and its pad byte: the pad is not a second frame */
        snprintf(pa, sizeof pa, "%s/raw_one_pixel.dcm", g_data);
        CHECK(io_dicom_read(pa, NULL, &a, &e1) == 0 && a.rows == 1 && a.cols == 1, "raw_one_pixel.dcm: %s", e1.msg);
        io_dicom_image_free(&a);
    }

    /* A file that is not there, a directory, an empty directory. */
    io_dicom_image img;
    wb_error err;
    snprintf(path, sizeof path, "%s/no-such-file.dcm", g_data);
    CHECK(io_dicom_read(path, NULL, &img, &err) != 0, "missing file read");
    CHECK_EQ_INT(err.code, WB_E_IO, "missing file code");
    CHECK_CONTAINS(err.msg, "cannot open", "missing file");
    CHECK(io_dicom_read(g_data, NULL, &img, &err) != 0, "directory read");
    CHECK_CONTAINS(err.msg, "is a directory", "directory");
    snprintf(path, sizeof path, "%s/empty-dir", g_tmp);
    mkdir(path, 0777);
    io_path_list l;
    io_path_list_init(&l);
    CHECK(io_fs_collect(path, &l, &err) != 0, "empty directory accepted");
    CHECK_CONTAINS(err.msg, "no files", "empty directory");
    CHECK_STR(err.file, path, "empty directory names itself");
    io_path_list_free(&l);

    /* The cap is checked before anything is allocated. */
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    opt.max_dim = 20;
    snprintf(path, sizeof path, "%s/u8.dcm", g_data);
    CHECK(io_dicom_read(path, &opt, &img, &err) != 0, "cap not enforced");
    CHECK_CONTAINS(err.msg, "too large", "cap");
}

/* ---- deeply nested sequences (issue 15): refused before DCMTK recurses ---- */

typedef struct {
    unsigned char *p;
    size_t n, cap;
} bytes;

static void put(bytes *b, const void *s, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n) cap *= 2;
        unsigned char *q = realloc(b->p, cap);
        if (!q) abort();
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

static void put16(bytes *b, unsigned v, int be)
{
    unsigned char c[2] = {(unsigned char)(be ? v >> 8 : v), (unsigned char)(be ? v : v >> 8)};
    put(b, c, 2);
}

static void put32(bytes *b, uint32_t v, int be)
{
    put16(b, be ? v >> 16 : v & 0xFFFF, be);
    put16(b, be ? v & 0xFFFF : v >> 16, be);
}

static void put_tag(bytes *b, unsigned g, unsigned e, int be)
{
    put16(b, g, be);
    put16(b, e, be);
}

enum { NEST_EXPLICIT_UNDEF, NEST_EXPLICIT_DEF, NEST_IMPLICIT_DEF, NEST_UN_UNDEF, NEST_BIG_ENDIAN,
       NEST_DEFLATED };

/* A Part 10 file whose data set is Modality MG followed by `levels` nested Acquisition
 * Context Sequences (0040,0555), each with one item. */
static bytes nested_file(int levels, int mode)
{
    static const char *const ts[] = {"1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1",
                                     "1.2.840.10008.1.2", "1.2.840.10008.1.2.1",
                                     "1.2.840.10008.1.2.2", "1.2.840.10008.1.2.1.99"};
    const int be = mode == NEST_BIG_ENDIAN, impl = mode == NEST_IMPLICIT_DEF;
    bytes f = {0}, d = {0};
    unsigned char zero[128] = {0};
    put(&f, zero, 128);
    put(&f, "DICM", 4);
    size_t tl = strlen(ts[mode]) + (strlen(ts[mode]) & 1);
    put_tag(&f, 0x0002, 0x0010, 0);
    put(&f, "UI", 2);
    put16(&f, (unsigned)tl, 0);
    put(&f, ts[mode], strlen(ts[mode]));
    if (strlen(ts[mode]) & 1) put(&f, "", 1);
    put_tag(&d, 0x0008, 0x0060, be);
    if (!impl) put(&d, "CS", 2), put16(&d, 2, be);
    else put32(&d, 2, 0);
    put(&d, "MG", 2);
    const uint32_t U = 0xFFFFFFFFu;
    for (int i = 0; i < levels; i++) {
        uint32_t inner = (uint32_t)(levels - 1 - i) * (impl ? 16u : 20u); /* item content */
        int def = mode == NEST_EXPLICIT_DEF || impl;
        if (mode == NEST_UN_UNDEF) {
            /* the first level is explicit UN; inside it everything is implicit VR */
            put_tag(&d, 0x0009, 0x1010, 0);
            if (i == 0) put(&d, "UN", 2), put16(&d, 0, 0);
            put32(&d, U, 0);
        } else {
            put_tag(&d, 0x0040, 0x0555, be);
            if (!impl) put(&d, "SQ", 2), put16(&d, 0, be);
            put32(&d, def ? inner + 8 : U, be);
        }
        put_tag(&d, 0xFFFE, 0xE000, be);
        put32(&d, def ? inner : U, be);
    }
    for (int i = 0; i < levels && mode != NEST_EXPLICIT_DEF && !impl; i++) {
        put_tag(&d, 0xFFFE, 0xE00D, be), put32(&d, 0, be);
        put_tag(&d, 0xFFFE, 0xE0DD, be), put32(&d, 0, be);
    }
    if (mode == NEST_DEFLATED) {
        z_stream z;
        memset(&z, 0, sizeof z);
        if (deflateInit2(&z, 9, Z_DEFLATED, -15, 9, Z_DEFAULT_STRATEGY) != Z_OK) abort();
        uLong bound = deflateBound(&z, (uLong)d.n);
        unsigned char *out = malloc(bound);
        if (!out) abort();
        z.next_in = d.p;
        z.avail_in = (uInt)d.n;
        z.next_out = out;
        z.avail_out = (uInt)bound;
        if (deflate(&z, Z_FINISH) != Z_STREAM_END) abort();
        put(&f, out, bound - z.avail_out);
        deflateEnd(&z);
        free(out);
    } else {
        put(&f, d.p, d.n);
    }
    free(d.p);
    return f;
}

static void write_bytes(const char *path, const bytes *b)
{
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(b->p, 1, b->n, f) == b->n && fclose(f) == 0, "cannot write %s", path);
}

static void check_deep_nesting(void)
{
    static const char *const names[] = {"explicit_undef", "explicit_def", "implicit_def",
                                        "un_undef", "big_endian", "deflated"};
    for (int mode = 0; mode <= NEST_DEFLATED; mode++) {
        const int levels[] = {20000, 65, 64};
        for (int k = 0; k < 3; k++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/deep_%s_%d.dcm", g_tmp, names[mode], levels[k]);
            bytes b = nested_file(levels[k], mode);
            write_bytes(path, &b);
            free(b.p);
            io_dicom_image img;
            wb_error err;
            wb_error_clear(&err);
            int rc = io_dicom_read(path, NULL, &img, &err);
            char msg[2400];
            wb_error_format(&err, msg, sizeof msg);
            CHECK(rc != 0, "%s: read succeeded", path);
            if (levels[k] > IO_DICOM_MAX_DEPTH) {
                CHECK_CONTAINS(msg, "sequences nested more than 64 deep", path);
                CHECK_CONTAINS(msg, path, "the message names the file");
                CHECK_EQ_INT(err.code, WB_E_DATA, path);
            } else {
                /* at the cap the file parses; it is refused for what it lacks */
                CHECK_CONTAINS(msg, "no Pixel Data", path);
            }
            io_dicom_meta m;
            CHECK(io_dicom_read_meta(path, &m, &err) == (levels[k] > IO_DICOM_MAX_DEPTH ? -1 : 0),
                  "%s: read_meta", path);
        }
    }
}

/* Text in 8-bit character sets comes out as UTF-8 (tests/io/make_text_fixtures.py). */
static void check_text(void)
{
    char path[1024], line[1024];
    snprintf(path, sizeof path, "%s/text_expected.txt", g_data);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "cannot open %s", path);
    if (!f) return;
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        char file[256], key[64], hex[512];
        if (sscanf(line, "%255s %63s %511s", file, key, hex) != 3) continue;
        char want[256];
        size_t k = 0;
        for (; hex[2 * k] && hex[2 * k + 1] && k + 1 < sizeof want; k++) {
            unsigned v;
            sscanf(hex + 2 * k, "%2x", &v);
            want[k] = (char)v;
        }
        want[k] = '\0';
        snprintf(path, sizeof path, "%s/%s", g_data, file);
        io_dicom_image img;
        wb_error err;
        int rc = io_dicom_read(path, NULL, &img, &err);
        CHECK(rc == 0, "%s: %s", file, err.msg);
        if (rc) continue;
        const char *got = !strcmp(key, "patient_id")     ? img.meta.patient_id
                          : !strcmp(key, "manufacturer") ? img.meta.manufacturer
                                                         : img.meta.model;
        CHECK_STR(got, want, file);
        io_dicom_image_free(&img);
        n++;
    }
    fclose(f);
    CHECK(n >= 10, "text_expected.txt lists only %d values", n);
}

static void check_writer_round_trip(void)
{
    const int rows = 37, cols = 29;
    uint16_t px[37 * 29];
    for (int i = 0; i < rows * cols; i++) px[i] = (uint16_t)((i * 2654435761u) >> 18); /* 14 bits */
    const char *attrs[] = {"(0008,0016)=1.2.840.10008.5.1.4.1.1.1.2", "(0008,0018)=2.25.1234",
                           "(0008,0060)=MG", "(0028,0004)=MONOCHROME2", "(0010,0020)=X1",
                           "(0054,0220)[0].(0008,0100)=399162004", "(0040,0555)"};
    static const char *const ts_uid[] = {"1.2.840.10008.1.2.1", "1.2.840.10008.1.2.4.70",
                                         "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.5",
                                         "1.2.840.10008.1.2.4.90"};
    _Static_assert(sizeof ts_uid / sizeof ts_uid[0] == IO_DICOM_TS_COUNT_, "one UID per syntax");
    for (int ts = 0; ts < IO_DICOM_TS_COUNT_; ts++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/rt%d.dcm", g_tmp, ts);
        wb_error err;
        int rc = io_dicom_write(path, attrs, sizeof attrs / sizeof attrs[0], px, rows, cols, 14,
                                (io_dicom_ts)ts, &err);
        CHECK(rc == 0, "write ts %d: %s", ts, err.msg);
        io_dicom_options opt;
        io_dicom_options_default(&opt);
        opt.voi = IO_VOI_IGNORE;
        io_dicom_image img;
        rc = io_dicom_read(path, &opt, &img, &err);
        CHECK(rc == 0, "read back ts %d: %s", ts, err.msg);
        if (rc) continue;
        CHECK_STR(img.meta.transfer_syntax, ts_uid[ts], "written transfer syntax");
        CHECK_STR(img.meta.patient_id, "X1", "written patient id");
        int same = img.rows == rows && img.cols == cols;
        for (int i = 0; same && i < rows * cols; i++) same = img.pixels[i] == (float)px[i];
        CHECK(same, "ts %d: pixels changed in the round trip", ts);
        io_dicom_image_free(&img);
    }
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: test_dicom DATA_DIR TMP_DIR\n");
        return 2;
    }
    g_data = argv[1];
    g_tmp = argv[2];
    check_good_files();
    check_second_window();
    check_j2k_ref();
    check_j2k_lossy_bound();
    check_meta("mammo_full");
    check_meta("mammo_laterality");
    check_bad_files();
    check_writer_round_trip();
    check_deep_nesting();
    check_text();
    return wb_test_finish("test_dicom");
}
