/* import.c — dataset importers: mini-MIAS, CBIS-DDSM, VinDr-Mammo, RSNA 2023, INbreast. See import.h and
 * docs/datasets.md. */
#include "experiments/data/import.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "base/wb_log.h"
#include "io/io_csv.h"
#include "io/io_fs.h"
#include "io/io_image.h"
#include "io/io_roi.h"
#include "io/io_xlsx.h"

enum { LBL_NORMAL = 0, LBL_BENIGN = 1, LBL_MALIGNANT = 2 };
static const char *const label_names[3] = {"normal", "benign", "malignant"};

void exp_import_options_default(exp_import_options *o)
{
    memset(o, 0, sizeof *o);
    o->birads_min = 4;
    o->roi_boxes = 1;
}

static const char *const formats[] = {"mini-mias", "cbis-ddsm", "vindr", "rsna", "inbreast", "cmmd", "embed"};

const char *exp_import_format_list(void)
{
    return "mini-mias, cbis-ddsm, vindr, rsna, inbreast, cmmd or embed";
}

int exp_import_format_known(const char *name)
{
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++)
        if (!strcmp(name, formats[i])) return 1;
    return 0;
}

/* ---- one output row per image ---- */

typedef struct imp_row {
    char *file;       /* relative to the source directory */
    char sop[80], patient[80], lat[8], view[16];
    int label;        /* LBL_* */
    char lesion[96];
    int box[4], has_box, box_rank;
    int unresolved;   /* cbis-ddsm: the sheet's path was not found under the source */
    char density[24], spacing[24], split[16];
    char source_label[160];
    int n_findings;
    char extra[512];  /* the other findings' boxes, "x y w h;..." */
} imp_row;

/* String -> row index, open addressing (FNV-1a), for merging annotation rows by image. */
typedef struct imp_table {
    imp_row *rows;
    size_t n, cap;
    char **keys;      /* n keys, owned */
    size_t *slots;    /* hcap slots: index + 1, 0 empty */
    size_t hcap;
} imp_table;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void table_free(imp_table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->rows[i].file);
        free(t->keys[i]);
    }
    free(t->rows);
    free(t->keys);
    free(t->slots);
    memset(t, 0, sizeof *t);
}

static long table_find(const imp_table *t, const char *key)
{
    if (!t->hcap) return -1;
    for (size_t h = fnv(key) & (t->hcap - 1);; h = (h + 1) & (t->hcap - 1)) {
        size_t s = t->slots[h];
        if (!s) return -1;
        if (!strcmp(t->keys[s - 1], key)) return (long)(s - 1);
    }
}

/* The row for key, added (zeroed, box_rank -1) when new; *added says which. -1: out of memory. */
static long table_get(imp_table *t, const char *key, int *added, wb_error *err)
{
    long i = table_find(t, key);
    if (added) *added = i < 0;
    if (i >= 0) return i;
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 256;
        imp_row *r = realloc(t->rows, nc * sizeof *r);
        if (r) t->rows = r;
        char **k = realloc(t->keys, nc * sizeof *k);
        if (k) t->keys = k;
        if (!r || !k) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        t->cap = nc;
    }
    if (2 * (t->n + 1) > t->hcap) { /* rehash at half full */
        size_t nh = t->hcap ? t->hcap * 2 : 512;
        size_t *s = calloc(nh, sizeof *s);
        if (!s) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
        for (size_t j = 0; j < t->n; j++) {
            size_t h = fnv(t->keys[j]) & (nh - 1);
            while (s[h]) h = (h + 1) & (nh - 1);
            s[h] = j + 1;
        }
        free(t->slots);
        t->slots = s;
        t->hcap = nh;
    }
    size_t len = strlen(key) + 1;
    char *kc = malloc(len);
    if (!kc) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    memcpy(kc, key, len);
    size_t h = fnv(key) & (t->hcap - 1);
    while (t->slots[h]) h = (h + 1) & (t->hcap - 1);
    t->slots[h] = t->n + 1;
    t->keys[t->n] = kc;
    memset(&t->rows[t->n], 0, sizeof t->rows[t->n]);
    t->rows[t->n].box_rank = -1;
    return (long)t->n++;
}

/* src into dst[n], cut to fit. */
static void copy(char *dst, size_t n, const char *src)
{
    size_t k = src ? strlen(src) : 0;
    if (k >= n) k = n - 1;
    if (k) memcpy(dst, src, k);
    dst[k] = '\0';
}

static int set_file(imp_row *r, const char *file, wb_error *err)
{
    size_t n = strlen(file) + 1;
    char *f = malloc(n);
    if (!f) return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    memcpy(f, file, n);
    free(r->file);
    r->file = f;
    return 0;
}

/* Adds a finding's box: the one of the highest rank becomes bbox_*, the others go to extra. */
static void add_box(imp_row *r, int rank, int x, int y, int w, int h)
{
    char one[64];
    if (r->has_box && rank <= r->box_rank) {
        snprintf(one, sizeof one, "%d %d %d %d", x, y, w, h);
    } else {
        if (r->has_box) snprintf(one, sizeof one, "%d %d %d %d", r->box[0], r->box[1], r->box[2], r->box[3]);
        else one[0] = '\0';
        r->box[0] = x, r->box[1] = y, r->box[2] = w, r->box[3] = h;
        r->has_box = 1;
        r->box_rank = rank;
    }
    if (one[0]) {
        size_t l = strlen(r->extra);
        if (l + strlen(one) + 2 < sizeof r->extra) snprintf(r->extra + l, sizeof r->extra - l, "%s%s", l ? ";" : "", one);
    }
}

/* Appends s to a "+"-joined list unless it is there already. */
static void add_word(char *list, size_t n, const char *s)
{
    if (!s[0]) return;
    size_t sl = strlen(s);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, "+");
        if (k == sl && !strncmp(p, s, sl)) return;
        p += k + (p[k] == '+');
    }
    size_t l = strlen(list);
    snprintf(list + l, n - l, "%s%s", l ? "+" : "", s);
}

/* ---- helpers for the sources ---- */

static int path_join(char *buf, size_t n, const char *dir, const char *name)
{
    return snprintf(buf, n, "%s/%s", dir, name) < (int)n ? 0 : -1;
}

static int is_file(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

/* True if the comma list is empty or holds v (case-insensitive). */
static int in_list(const char *list, const char *v)
{
    if (!list || !list[0]) return 1;
    size_t vl = strlen(v);
    for (const char *p = list; *p;) {
        size_t k = strcspn(p, ",");
        const char *a = p, *b = p + k;
        while (a < b && isspace((unsigned char)*a)) a++;
        while (b > a && isspace((unsigned char)b[-1])) b--;
        if ((size_t)(b - a) == vl && !strncasecmp(a, v, vl)) return 1;
        p += k + (p[k] == ',');
    }
    return 0;
}

/* A required column, with the CSV's own error (file:1: no column 'x', nearest ...). */
static long col(const io_csv *c, const char *name, wb_error *err)
{
    return io_csv_column(c, name, err);
}

/* The first of two spellings that exists (CBIS-DDSM writes "breast_density" in the mass sheets
 * and "breast density" in the calc sheets). */
static long col2(const io_csv *c, const char *a, const char *b, wb_error *err)
{
    wb_error ignore;
    long k = io_csv_column(c, a, &ignore);
    return k >= 0 ? k : io_csv_column(c, b, err);
}

/* Trims leading and trailing white space (CBIS-DDSM paths can end in a newline) into buf. */
static const char *trim(const char *s, char *buf, size_t n)
{
    while (isspace((unsigned char)*s)) s++;
    size_t l = strlen(s);
    while (l && isspace((unsigned char)s[l - 1])) l--;
    if (l >= n) l = n - 1;
    memcpy(buf, s, l);
    buf[l] = '\0';
    return buf;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !(v == v)) return -1;
    *out = v;
    return 0;
}

/* "BI-RADS 4" (any case, optional space or '-') or "4" -> 4; -1 otherwise. */
static int birads_value(const char *s)
{
    while (isspace((unsigned char)*s)) s++;
    if (!strncasecmp(s, "BI-RADS", 7)) s += 7;
    else if (!strncasecmp(s, "BIRADS", 6)) s += 6;
    while (*s == ' ' || *s == '-' || *s == '_') s++;
    if (*s >= '0' && *s <= '6') {
        int v = *s - '0';
        s++;
        if (v == 4 && *s && strchr("abcABC", *s)) s++; /* 4A, 4B, 4C */
        while (isspace((unsigned char)*s)) s++;
        if (!*s) return v;
    }
    return -1;
}

/* ---- mini-MIAS: Info.txt ---- */

static const struct {
    const char *code, *lesion;
} mias_classes[] = {
    {"CALC", "calcification"},        {"CIRC", "circumscribed_mass"},    {"SPIC", "spiculated_mass"},
    {"MISC", "ill_defined_mass"},     {"ARCH", "architectural_distortion"}, {"ASYM", "asymmetry"},
    {"NORM", ""},
};

static int import_mias(const exp_import_options *o, imp_table *t, exp_import_summary *s, wb_error *err)
{
    char info[4200];
    if (path_join(info, sizeof info, o->source, "Info.txt")) return wb_err(err, WB_E_USAGE, o->source, "path too long");
    if (!is_file(info)) {
        char alt[4200];
        if (path_join(alt, sizeof alt, o->source, "info.txt") == 0 && is_file(alt)) snprintf(info, sizeof info, "%s", alt);
    }
    unsigned char *buf;
    size_t n;
    if (io_file_read_all(info, (size_t)16 << 20, &buf, &n, err)) return -1;
    int rc = 0, line = 0;
    for (size_t pos = 0; pos < n && rc == 0;) {
        size_t end = pos;
        while (end < n && buf[end] != '\n') end++;
        line++;
        char text[512];
        size_t len = end - pos < sizeof text - 1 ? end - pos : sizeof text - 1;
        memcpy(text, buf + pos, len);
        text[len] = '\0';
        pos = end + 1;
        if (strncmp(text, "mdb", 3)) continue; /* the prose before the table */
        /* tokens and their 1-based columns */
        char *tok[8];
        int tcol[8], nt = 0;
        for (char *p = text; *p && nt < 8;) {
            while (*p && isspace((unsigned char)*p)) p++;
            if (!*p) break;
            tok[nt] = p;
            tcol[nt++] = (int)(p - text) + 1;
            while (*p && !isspace((unsigned char)*p)) p++;
            if (*p) *p++ = '\0';
        }
        s->rows_read++;
        long num;
        if (strlen(tok[0]) != 6 || parse_long(tok[0] + 3, 1, 999, &num)) {
            rc = wb_err_at(err, WB_E_DATA, info, line, tcol[0], "reference", "expected mdbNNN, got '%s'", tok[0]);
            break;
        }
        if (nt < 3) {
            rc = wb_err_at(err, WB_E_DATA, info, line, (int)len + 1, NULL,
                           "expected at least reference, background tissue and class, got %d field(s)", nt);
            break;
        }
        static const char *const tissue[] = {"fatty", "fatty-glandular", "dense-glandular"};
        static const char codes[] = "FGD";
        const char *tc = strchr(codes, tok[1][0]);
        if (!tok[1][0] || tok[1][1] || !tc) {
            rc = wb_err_at(err, WB_E_DATA, info, line, tcol[1], "background tissue", "expected F, G or D, got '%s'", tok[1]);
            break;
        }
        int cls = -1;
        for (int k = 0; k < (int)(sizeof mias_classes / sizeof *mias_classes); k++)
            if (!strcmp(tok[2], mias_classes[k].code)) cls = k;
        if (cls < 0) {
            rc = wb_err_at(err, WB_E_DATA, info, line, tcol[2], "class",
                           "expected CALC, CIRC, SPIC, MISC, ARCH, ASYM or NORM, got '%s'", tok[2]);
            break;
        }
        const int normal = !strcmp(tok[2], "NORM");
        int label = LBL_NORMAL;
        if (!normal) {
            if (nt < 4 || (strcmp(tok[3], "B") && strcmp(tok[3], "M"))) {
                rc = wb_err_at(err, WB_E_DATA, info, line, nt < 4 ? (int)len + 1 : tcol[3], "severity",
                               "expected B or M after class %s, got '%s'", tok[2], nt < 4 ? "" : tok[3]);
                break;
            }
            label = tok[3][0] == 'M' ? LBL_MALIGNANT : LBL_BENIGN;
        } else if (nt > 3) {
            rc = wb_err_at(err, WB_E_DATA, info, line, tcol[3], NULL, "a NORM line has nothing after the class, got '%s'",
                           tok[3]);
            break;
        }
        /* centre and radius: three integers, or absent (widely distributed calcifications,
         * "*NOTE 3*" in the full database) */
        long cx = 0, cy = 0, rad = 0;
        int has_xy = 0;
        if (!normal && nt >= 5 && tok[4][0] != '*') {
            const char *names[3] = {"x", "y", "radius"};
            long *dst[3] = {&cx, &cy, &rad};
            for (int k = 0; k < 3 && rc == 0; k++)
                if (nt < 5 + k || parse_long(tok[4 + k], 0, 100000, dst[k]))
                    rc = wb_err_at(err, WB_E_DATA, info, line, nt < 5 + k ? (int)len + 1 : tcol[4 + k], names[k],
                                   "expected a whole number of pixels, got '%s'", nt < 5 + k ? "" : tok[4 + k]);
            if (rc) break;
            has_xy = 1;
        }
        char file[32];
        snprintf(file, sizeof file, "%s.pgm", tok[0]);
        int added;
        long i = table_get(t, file, &added, err);
        if (i < 0) {
            rc = -1;
            break;
        }
        imp_row *r = &t->rows[i];
        if (added) {
            if ((rc = set_file(r, file, err))) break;
            /* pairs of films are one woman: odd numbers right, even numbers left (Info.txt note 1) */
            snprintf(r->patient, sizeof r->patient, "mias%03ld", (num + 1) / 2);
            copy(r->lat, sizeof r->lat, num % 2 ? "R" : "L");
            copy(r->view, sizeof r->view, "MLO");
            copy(r->density, sizeof r->density, tissue[tc - codes]);
            copy(r->spacing, sizeof r->spacing, "0.2");
            r->label = label;
        } else if (label > r->label) {
            r->label = label;
        }
        add_word(r->source_label, sizeof r->source_label, normal ? "NORM" : tok[2]);
        if (!normal) {
            char sev[8];
            snprintf(sev, sizeof sev, "%s", tok[3]);
            add_word(r->source_label, sizeof r->source_label, sev);
            add_word(r->lesion, sizeof r->lesion, mias_classes[cls].lesion);
            r->n_findings++;
        }
        if (has_xy) {
            /* the image's own height (1024 in mini-MIAS) turns the bottom-left origin into rows */
            char ipath[4200];
            int h = 1024, w = 1024;
            if (path_join(ipath, sizeof ipath, o->source, file) == 0 && is_file(ipath)) {
                io_dicom_options opt;
                io_dicom_options_default(&opt);
                io_dicom_image img;
                wb_error e;
                if (io_image_read(ipath, &opt, &img, NULL, &e) == 0) {
                    h = img.rows;
                    w = img.cols;
                    io_dicom_image_free(&img);
                }
            }
            long row = h - cy; /* pixel row of the centre, top-left origin */
            long x0 = cx - rad, y0 = row - rad, x1 = cx + rad, y1 = row + rad;
            if (x0 < 0) x0 = 0;
            if (y0 < 0) y0 = 0;
            if (x1 > w) x1 = w;
            if (y1 > h) y1 = h;
            if (x1 <= x0 || y1 <= y0) {
                rc = wb_err_at(err, WB_E_DATA, info, line, tcol[4], "x",
                               "centre (%ld, %ld) radius %ld lies outside the %dx%d image", cx, cy, rad, w, h);
                break;
            }
            add_box(r, label, (int)x0, (int)y0, (int)(x1 - x0), (int)(y1 - y0));
        }
    }
    free(buf);
    if (rc == 0 && t->n == 0) rc = wb_err(err, WB_E_DATA, info, "no image lines (mdbNNN ...) found");
    return rc;
}

/* ---- CBIS-DDSM: the four case-description sheets ---- */

/* Directory name -> the image files below it, over the whole source tree: the
 * case-description paths name folders that the TCIA download and the JPEG copies lay out
 * differently, but the folder of the full mammogram holds one image, and the folder of a
 * finding's ROI mask the mask (and often the cropped lesion). */
typedef struct dir_index {
    imp_table names; /* key: directory name; row.file: first image path; row.n_findings: count */
    size_t *off;     /* the images of names.rows[j]: files->paths[img[off[j] .. off[j + 1])] */
    size_t *img;     /* in the order of the file list */
} dir_index;

static void dir_index_free(dir_index *x)
{
    table_free(&x->names);
    free(x->off);
    free(x->img);
}

static int image_ext(const char *p)
{
    const char *d = strrchr(p, '.');
    return d && (!strcasecmp(d, ".dcm") || !strcasecmp(d, ".dicom") || !strcasecmp(d, ".png") ||
                 !strcasecmp(d, ".jpg") || !strcasecmp(d, ".jpeg") || !strcasecmp(d, ".pgm"));
}

/* Two passes over the images: count them per folder name (and add the names), then list
 * them. A path naming the same folder twice lists its image once. */
static int dir_index_build(dir_index *x, const io_path_list *files, size_t root_len, wb_error *err)
{
    size_t *fill = NULL;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < files->n; i++) {
            const char *rel = files->paths[i] + root_len;
            while (*rel == '/') rel++;
            if (!image_ext(rel)) continue;
            char comp[512];
            for (const char *p = rel;;) {
                size_t k = strcspn(p, "/");
                if (!p[k]) break; /* the file name itself */
                if (k < sizeof comp) {
                    memcpy(comp, p, k);
                    comp[k] = '\0';
                    if (pass == 0) {
                        int added;
                        long j = table_get(&x->names, comp, &added, err);
                        if (j < 0) return -1;
                        if (added && set_file(&x->names.rows[j], rel, err)) return -1;
                        x->names.rows[j].n_findings++;
                    } else {
                        size_t j = (size_t)table_find(&x->names, comp);
                        if (fill[j] == x->off[j] || x->img[fill[j] - 1] != i) x->img[fill[j]++] = i;
                    }
                }
                p += k + 1;
            }
        }
        if (pass == 0) {
            size_t n = x->names.n;
            x->off = malloc((n + 1) * sizeof *x->off);
            fill = malloc((n + 1) * sizeof *fill);
            if (!x->off || !fill) {
                free(fill);
                return wb_err(err, WB_E_NOMEM, NULL, "out of memory indexing the source's folders");
            }
            x->off[0] = 0;
            for (size_t j = 0; j < n; j++) x->off[j + 1] = x->off[j] + (size_t)x->names.rows[j].n_findings;
            memcpy(fill, x->off, (n + 1) * sizeof *fill);
            if (!(x->img = malloc((x->off[n] ? x->off[n] : 1) * sizeof *x->img))) {
                free(fill);
                return wb_err(err, WB_E_NOMEM, NULL, "out of memory indexing the source's folders");
            }
        }
    }
    /* a folder named twice in one path counted that image twice: close the gaps */
    size_t w = 0;
    for (size_t j = 0; j < x->names.n; j++) {
        size_t a = x->off[j], b = fill[j];
        x->off[j] = w;
        memmove(x->img + w, x->img + a, (b - a) * sizeof *x->img);
        w += b - a;
    }
    x->off[x->names.n] = w;
    free(fill);
    return 0;
}

/* The image the sheet's path names, relative to source: the path itself when it exists, else
 * the single image under the deepest folder of that path found anywhere in the source. */
static const char *cbis_resolve(const dir_index *x, const char *source, const char *path, char *buf, size_t n)
{
    char full[4400];
    if (path_join(full, sizeof full, source, path) == 0 && is_file(full)) return path;
    char comps[8][256];
    int nc = 0;
    for (const char *p = path; *p && nc < 8;) {
        size_t k = strcspn(p, "/\\");
        if (!p[k]) break;
        if (k && k < sizeof comps[0]) {
            memcpy(comps[nc], p, k);
            comps[nc++][k] = '\0';
        }
        p += k + 1;
    }
    for (int c = nc - 1; c >= 0; c--) {
        long j = table_find(&x->names, comps[c]);
        if (j >= 0 && x->names.rows[j].n_findings == 1) {
            snprintf(buf, n, "%s", x->names.rows[j].file);
            return buf;
        }
    }
    return NULL;
}

/* ---- CBIS-DDSM ROI masks -> boxes ----
 * A finding's `ROI mask file path` names a folder that, as downloaded from TCIA, holds the
 * binary mask (the full film's size, 0 and 255) and often also the cropped lesion image (grey,
 * small), in either order (1-1.dcm, 1-2.dcm); the Kaggle JPEG copy holds both as JPEGs, whose
 * compression blurs the mask's edge. So the mask is found by what it is, not by its name. */

enum { MASK_NONE = 0, MASK_BOX, MASK_MISMATCH };

/* 1 when img is a binary mask: both ends of its range present and at least 99% of its pixels
 * within 10% of the range of one end (JPEG blur stays near the ends; a grey crop does not). */
static int is_binary_mask(const io_dicom_image *img)
{
    const size_t n = (size_t)img->rows * (size_t)img->cols;
    if (!n) return 0;
    float lo = img->pixels[0], hi = lo;
    for (size_t i = 1; i < n; i++) {
        lo = img->pixels[i] < lo ? img->pixels[i] : lo;
        hi = img->pixels[i] > hi ? img->pixels[i] : hi;
    }
    if (!(hi > lo)) return 0;
    const float band = 0.1f * (hi - lo);
    size_t near = 0, high = 0;
    for (size_t i = 0; i < n; i++) {
        const float v = img->pixels[i];
        near += v <= lo + band || v >= hi - band;
        high += v >= hi - band;
    }
    return near >= n - n / 100 && high > 0 && high < n;
}

/* The bounding box of the mask's pixels above the middle of its range. */
static void mask_box(const io_dicom_image *img, int box[4])
{
    const size_t n = (size_t)img->rows * (size_t)img->cols;
    float lo = img->pixels[0], hi = lo;
    for (size_t i = 1; i < n; i++) {
        lo = img->pixels[i] < lo ? img->pixels[i] : lo;
        hi = img->pixels[i] > hi ? img->pixels[i] : hi;
    }
    const float mid = 0.5f * (lo + hi);
    int r0 = img->rows, c0 = img->cols, r1 = -1, c1 = -1;
    for (int r = 0; r < img->rows; r++)
        for (int c = 0; c < img->cols; c++)
            if (img->pixels[(size_t)r * (size_t)img->cols + (size_t)c] > mid) {
                r0 = r < r0 ? r : r0;
                r1 = r > r1 ? r : r1;
                c0 = c < c0 ? c : c0;
                c1 = c > c1 ? c : c1;
            }
    box[0] = c0, box[1] = r0, box[2] = c1 - c0 + 1, box[3] = r1 - r0 + 1;
}

/* The box of the finding whose mask path is mpath: MASK_BOX with box[] filled, MASK_NONE when
 * no mask is there (not downloaded: no box), MASK_MISMATCH when the mask's size differs from
 * the film's (film_rows/cols, 0 when unknown); -1 with err when a candidate cannot be read. */
static int cbis_mask(const io_path_list *files, size_t root_len, const dir_index *x, const char *source,
                     const char *mpath, int film_rows, int film_cols, int box[4], char *used, size_t nused,
                     wb_error *err)
{
    char full[4400];
    const char *only = NULL; /* the sheet's path itself, when it exists */
    if (path_join(full, sizeof full, source, mpath) == 0 && is_file(full)) only = full;
    long folder = -1;
    if (!only) { /* the deepest folder of the path that the download has */
        for (const char *p = mpath; *p;) {
            size_t k = strcspn(p, "/\\");
            if (!p[k]) break;
            char c[256];
            if (k && k < sizeof c) {
                memcpy(c, p, k);
                c[k] = '\0';
                long j = table_find(&x->names, c);
                if (j >= 0) folder = j;
            }
            p += k + 1;
        }
        if (folder < 0) return MASK_NONE;
    }
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    opt.voi = IO_VOI_IGNORE;
    int found = MASK_NONE;
    size_t best_area = 0;
    const size_t a = only ? 0 : x->off[folder], b = only ? 1 : x->off[folder + 1];
    for (size_t q = a; q < b; q++) {
        const char *path = only ? only : files->paths[x->img[q]], *rel = path + root_len;
        while (*rel == '/') rel++;
        io_dicom_image img;
        if (io_image_read(path, &opt, &img, NULL, err) != 0) return -1;
        const size_t area = (size_t)img.rows * (size_t)img.cols;
        if (is_binary_mask(&img) && area > best_area) {
            best_area = area;
            if (film_rows && (img.rows != film_rows || img.cols != film_cols)) {
                found = MASK_MISMATCH;
            } else {
                mask_box(&img, box);
                found = MASK_BOX;
            }
            snprintf(used, nused, "%s", rel);
        }
        io_dicom_image_free(&img);
    }
    return found;
}

static const char *const cbis_sheets[4] = {
    "mass_case_description_train_set.csv", "mass_case_description_test_set.csv",
    "calc_case_description_train_set.csv", "calc_case_description_test_set.csv"};

static int import_cbis(const exp_import_options *o, imp_table *t, exp_import_summary *s, wb_error *err)
{
    io_path_list files;
    io_path_list_init(&files);
    dir_index x;
    memset(&x, 0, sizeof x);
    int rc = io_fs_collect(o->source, &files, err);
    if (rc == 0) rc = dir_index_build(&x, &files, strlen(o->source), err);
    int n_sheets = 0;
    for (int sh = 0; sh < 4 && rc == 0; sh++) {
        /* each sheet anywhere under the source (the Kaggle copy keeps them in csv/) */
        const char *sheet = NULL;
        for (size_t i = 0; i < files.n && !sheet; i++) {
            const char *b = strrchr(files.paths[i], '/');
            if (!strcmp(b ? b + 1 : files.paths[i], cbis_sheets[sh])) sheet = files.paths[i];
        }
        if (!sheet) continue;
        n_sheets++;
        io_csv c;
        if ((rc = io_csv_read(sheet, &c, err))) break;
        long c_pid = col(&c, "patient_id", err), c_den = c_pid < 0 ? -1 : col2(&c, "breast_density", "breast density", err);
        long c_lat = c_den < 0 ? -1 : col(&c, "left or right breast", err);
        long c_view = c_lat < 0 ? -1 : col(&c, "image view", err);
        long c_aid = c_view < 0 ? -1 : col(&c, "abnormality id", err);
        long c_type = c_aid < 0 ? -1 : col(&c, "abnormality type", err);
        long c_path = c_type < 0 ? -1 : col(&c, "pathology", err);
        long c_img = c_path < 0 ? -1 : col(&c, "image file path", err);
        wb_error no_roi;
        const long c_roi = io_csv_column(&c, "ROI mask file path", &no_roi); /* optional: no boxes */
        if (c_img < 0) {
            io_csv_free(&c);
            rc = -1;
            break;
        }
        const char *split = strstr(cbis_sheets[sh], "_train_") ? "train" : "test";
        for (size_t r = 0; r < c.n_rows && rc == 0; r++) {
            const int line = c.lines[r];
            s->rows_read++;
            const char *pid = io_csv_cell(&c, r, c_pid), *lat = io_csv_cell(&c, r, c_lat);
            const char *view = io_csv_cell(&c, r, c_view), *path = io_csv_cell(&c, r, c_path);
            const char *type = io_csv_cell(&c, r, c_type), *den = io_csv_cell(&c, r, c_den);
            char img[1024];
            trim(io_csv_cell(&c, r, c_img), img, sizeof img);
            if (!pid[0]) {
                rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)c_pid + 1, "patient_id", "empty");
                break;
            }
            if (strcmp(lat, "LEFT") && strcmp(lat, "RIGHT")) {
                rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)c_lat + 1, "left or right breast",
                               "expected LEFT or RIGHT, got '%s'", lat);
                break;
            }
            if (strcmp(view, "CC") && strcmp(view, "MLO")) {
                rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)c_view + 1, "image view", "expected CC or MLO, got '%s'", view);
                break;
            }
            int lbl;
            if (!strcmp(path, "MALIGNANT")) lbl = LBL_MALIGNANT;
            else if (!strcmp(path, "BENIGN")) lbl = LBL_BENIGN;
            else if (!strcmp(path, "BENIGN_WITHOUT_CALLBACK")) lbl = o->bwc_normal ? LBL_NORMAL : LBL_BENIGN;
            else {
                rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)c_path + 1, "pathology",
                               "expected MALIGNANT, BENIGN or BENIGN_WITHOUT_CALLBACK, got '%s'", path);
                break;
            }
            if (strcmp(type, "mass") && strcmp(type, "calcification")) {
                rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)c_type + 1, "abnormality type",
                               "expected mass or calcification, got '%s'", type);
                break;
            }
            if (!img[0]) {
                rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)c_img + 1, "image file path", "empty");
                break;
            }
            if (io_path_leaves(img)) {
                rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)c_img + 1, "image file path",
                               "'%s' is absolute or has a '..' component: the sheet's paths must stay under %s", img,
                               o->source);
                break;
            }
            long dv = 0;
            if (den[0] && parse_long(den, 0, 4, &dv)) {
                rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)c_den + 1, c.header[c_den],
                               "expected a BI-RADS density 1 to 4, got '%s'", den);
                break;
            }
            if (!in_list(o->views, view)) {
                s->filtered++;
                continue;
            }
            /* one row per film: the mass and the calc sheets can list the same film */
            char key[256];
            snprintf(key, sizeof key, "%s|%c|%s", pid, lat[0], view);
            int added;
            long i = table_get(t, key, &added, err);
            if (i < 0) {
                rc = -1;
                break;
            }
            imp_row *row = &t->rows[i];
            if (added) {
                char rb[1024];
                const char *f = cbis_resolve(&x, o->source, img, rb, sizeof rb);
                if ((rc = set_file(row, f ? f : img, err))) break;
                row->unresolved = !f;
                copy(row->patient, sizeof row->patient, pid);
                copy(row->lat, sizeof row->lat, lat[0] == 'L' ? "L" : "R");
                copy(row->view, sizeof row->view, view);
                if (dv >= 1) snprintf(row->density, sizeof row->density, "%c", (char)('a' + dv - 1));
                copy(row->split, sizeof row->split, split);
                row->label = lbl;
            } else if (lbl > row->label) {
                row->label = lbl;
            }
            row->n_findings++;
            add_word(row->lesion, sizeof row->lesion, type);
            add_word(row->source_label, sizeof row->source_label, path);
            char roi[1024];
            trim(c_roi >= 0 ? io_csv_cell(&c, r, c_roi) : "", roi, sizeof roi);
            if (!o->roi_boxes || !roi[0]) continue;
            if (io_path_leaves(roi)) {
                rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)c_roi + 1, "ROI mask file path",
                               "'%s' is absolute or has a '..' component: the sheet's paths must stay under %s", roi,
                               o->source);
                break;
            }
            /* the film's size, to check the mask against (DICOM header; 0 when unknown) */
            int fr = 0, fc = 0;
            char fpath[4400];
            io_dicom_meta meta;
            wb_error ignore;
            if (!row->unresolved && path_join(fpath, sizeof fpath, o->source, row->file) == 0 &&
                io_dicom_read_meta(fpath, &meta, &ignore) == 0)
                fr = meta.rows, fc = meta.cols;
            int box[4];
            char used[1024] = "";
            int m = cbis_mask(&files, strlen(o->source), &x, o->source, roi, fr, fc, box, used, sizeof used, err);
            if (m < 0) {
                const wb_error e = *err;
                rc = wb_err_at(err, e.code, sheet, line, (int)c_roi + 1, "ROI mask file path", "%s: %s",
                               e.file[0] ? e.file : roi, e.msg);
                break;
            }
            if (m == MASK_NONE) {
                s->masks_missing++;
            } else if (m == MASK_MISMATCH) {
                s->masks_mismatched++;
                wb_warn("%s:%d: the ROI mask %s is not the size of the film %s (%dx%d): no box from it", sheet, line,
                        used, row->file, fc, fr);
            } else {
                s->masks_read++;
                add_box(row, lbl, box[0], box[1], box[2], box[3]);
            }
        }
        io_csv_free(&c);
    }
    if (rc == 0 && n_sheets == 0)
        rc = wb_err(err, WB_E_IO, o->source,
                    "none of the CBIS-DDSM case-description sheets (%s, %s, %s, %s) is under this directory", cbis_sheets[0],
                    cbis_sheets[1], cbis_sheets[2], cbis_sheets[3]);
    dir_index_free(&x);
    io_path_list_free(&files);
    return rc;
}

/* ---- VinDr-Mammo: breast-level_annotations.csv + finding_annotations.csv ---- */

/* "['Mass', 'Suspicious Calcification']" -> "mass+suspicious_calcification" (No Finding: ""). */
static int vindr_categories(const char *s, char *out, size_t n)
{
    out[0] = '\0';
    int count = 0;
    for (const char *p = s; *p;) {
        while (*p && (*p == '[' || *p == ']' || *p == ',' || *p == ' ' || *p == '\'' || *p == '"')) p++;
        if (!*p) break;
        char word[64];
        size_t k = 0;
        while (*p && *p != '\'' && *p != '"' && *p != ',' && *p != ']') {
            if (k < sizeof word - 1) word[k++] = *p == ' ' ? '_' : (char)tolower((unsigned char)*p);
            p++;
        }
        while (k && word[k - 1] == '_') k--;
        word[k] = '\0';
        if (k && strcmp(word, "no_finding")) {
            add_word(out, n, word);
            count++;
        }
    }
    return count;
}

static int import_vindr(const exp_import_options *o, imp_table *t, exp_import_summary *s, wb_error *err)
{
    char bpath[4200], fpath[4200];
    if (path_join(bpath, sizeof bpath, o->source, "breast-level_annotations.csv") ||
        path_join(fpath, sizeof fpath, o->source, "finding_annotations.csv"))
        return wb_err(err, WB_E_USAGE, o->source, "path too long");
    io_csv c;
    if (io_csv_read(bpath, &c, err)) return -1;
    long c_study = col(&c, "study_id", err), c_img = c_study < 0 ? -1 : col(&c, "image_id", err);
    long c_lat = c_img < 0 ? -1 : col(&c, "laterality", err), c_view = c_lat < 0 ? -1 : col(&c, "view_position", err);
    long c_bir = c_view < 0 ? -1 : col(&c, "breast_birads", err), c_den = c_bir < 0 ? -1 : col(&c, "breast_density", err);
    long c_split = c_den < 0 ? -1 : col(&c, "split", err);
    int rc = c_split < 0 ? -1 : 0;
    for (size_t r = 0; r < c.n_rows && rc == 0; r++) {
        const int line = c.lines[r];
        s->rows_read++;
        const char *study = io_csv_cell(&c, r, c_study), *img = io_csv_cell(&c, r, c_img);
        const char *lat = io_csv_cell(&c, r, c_lat), *view = io_csv_cell(&c, r, c_view);
        const char *bir = io_csv_cell(&c, r, c_bir), *den = io_csv_cell(&c, r, c_den);
        if (!study[0] || !img[0]) {
            rc = wb_err_at(err, WB_E_DATA, bpath, line, (int)(study[0] ? c_img : c_study) + 1,
                           study[0] ? "image_id" : "study_id", "empty");
            break;
        }
        if (strpbrk(study, "/\\") || strpbrk(img, "/\\") || !strcmp(study, "..") || !strcmp(img, "..")) {
            const int bad_study = strpbrk(study, "/\\") || !strcmp(study, "..");
            rc = wb_err_at(err, WB_E_DATA, bpath, line, (int)(bad_study ? c_study : c_img) + 1,
                           bad_study ? "study_id" : "image_id",
                           "expected an id (a file or folder name under images/), got '%s'", bad_study ? study : img);
            break;
        }
        if (strcmp(lat, "L") && strcmp(lat, "R")) {
            rc = wb_err_at(err, WB_E_DATA, bpath, line, (int)c_lat + 1, "laterality", "expected L or R, got '%s'", lat);
            break;
        }
        int b = birads_value(bir);
        if (b < 1 || b > 5) {
            rc = wb_err_at(err, WB_E_DATA, bpath, line, (int)c_bir + 1, "breast_birads",
                           "expected BI-RADS 1 to 5, got '%s'", bir);
            break;
        }
        if (den[0] && (strncasecmp(den, "DENSITY ", 8) || !strchr("ABCDabcd", den[8]) || !den[8] || den[9])) {
            rc = wb_err_at(err, WB_E_DATA, bpath, line, (int)c_den + 1, "breast_density",
                           "expected DENSITY A to DENSITY D, got '%s'", den);
            break;
        }
        if (!in_list(o->views, view)) {
            s->filtered++;
            continue;
        }
        int added;
        long i = table_get(t, img, &added, err);
        if (i < 0) {
            rc = -1;
            break;
        }
        if (!added) {
            rc = wb_err_at(err, WB_E_DATA, bpath, line, (int)c_img + 1, "image_id", "image '%s' is listed twice", img);
            break;
        }
        imp_row *row = &t->rows[i];
        char file[600];
        snprintf(file, sizeof file, "images/%s/%s.dicom", study, img);
        if ((rc = set_file(row, file, err))) break;
        copy(row->patient, sizeof row->patient, study); /* one exam per woman in VinDr-Mammo */
        copy(row->lat, sizeof row->lat, lat);
        copy(row->view, sizeof row->view, view);
        if (den[0]) snprintf(row->density, sizeof row->density, "%c", (char)tolower((unsigned char)den[8]));
        copy(row->split, sizeof row->split, io_csv_cell(&c, r, c_split));
        row->label = b >= o->birads_min ? LBL_MALIGNANT : b == 1 ? LBL_NORMAL : LBL_BENIGN;
        snprintf(row->source_label, sizeof row->source_label, "BI-RADS %d", b);
    }
    io_csv_free(&c);
    if (rc || !is_file(fpath)) return rc; /* the findings sheet is optional: labels without boxes */
    if (io_csv_read(fpath, &c, err)) return -1;
    c_img = col(&c, "image_id", err);
    long c_cat = c_img < 0 ? -1 : col(&c, "finding_categories", err);
    long c_fb = c_cat < 0 ? -1 : col(&c, "finding_birads", err);
    long c_box[4] = {-1, -1, -1, -1};
    static const char *const bn[4] = {"xmin", "ymin", "xmax", "ymax"};
    for (int k = 0; k < 4 && c_fb >= 0; k++)
        if ((c_box[k] = col(&c, bn[k], err)) < 0) c_fb = -1;
    rc = c_fb < 0 ? -1 : 0;
    for (size_t r = 0; r < c.n_rows && rc == 0; r++) {
        const int line = c.lines[r];
        long i = table_find(t, io_csv_cell(&c, r, c_img));
        if (i < 0) continue; /* filtered out, or not in the breast-level sheet */
        imp_row *row = &t->rows[i];
        char cats[96];
        if (!vindr_categories(io_csv_cell(&c, r, c_cat), cats, sizeof cats)) continue;
        const char *fb = io_csv_cell(&c, r, c_fb);
        int b = fb[0] ? birads_value(fb) : 0;
        if (b < 0) {
            rc = wb_err_at(err, WB_E_DATA, fpath, line, (int)c_fb + 1, "finding_birads", "expected BI-RADS 1 to 5, got '%s'", fb);
            break;
        }
        row->n_findings++;
        add_word(row->lesion, sizeof row->lesion, cats);
        const char *v[4];
        double d[4];
        int have = 0;
        for (int k = 0; k < 4; k++) {
            v[k] = io_csv_cell(&c, r, c_box[k]);
            have += v[k][0] != 0;
        }
        if (have == 0) continue;
        for (int k = 0; k < 4 && rc == 0; k++)
            if (parse_double(v[k], &d[k]) || d[k] < -1e5 || d[k] > 1e6)
                rc = wb_err_at(err, WB_E_DATA, fpath, line, (int)c_box[k] + 1, bn[k], "expected a pixel coordinate, got '%s'", v[k]);
        if (rc) break;
        for (int k = 0; k < 4; k++) /* a few published boxes start a little outside the image */
            if (d[k] < 0) d[k] = 0;
        if (d[2] <= d[0] || d[3] <= d[1]) {
            rc = wb_err_at(err, WB_E_DATA, fpath, line, (int)c_box[2] + 1, "xmax",
                           "box (%g, %g)-(%g, %g) is empty: xmax/ymax must exceed xmin/ymin", d[0], d[1], d[2], d[3]);
            break;
        }
        int x0 = (int)(d[0] + 0.5), y0 = (int)(d[1] + 0.5), x1 = (int)(d[2] + 0.5), y1 = (int)(d[3] + 0.5);
        add_box(row, b, x0, y0, x1 > x0 ? x1 - x0 : 1, y1 > y0 ? y1 - y0 : 1);
    }
    io_csv_free(&c);
    return rc;
}

/* ---- RSNA Screening Mammography Breast Cancer Detection (2023): train.csv ---- */

static int import_rsna(const exp_import_options *o, imp_table *t, exp_import_summary *s, wb_error *err)
{
    char cpath[4200], tdir[4200];
    if (path_join(cpath, sizeof cpath, o->source, "train.csv") || path_join(tdir, sizeof tdir, o->source, "train_images"))
        return wb_err(err, WB_E_USAGE, o->source, "path too long");
    /* the images under train_images/ as Kaggle ships them, else directly under the source */
    const char *prefix = is_dir(tdir) ? "train_images/" : "";
    io_csv c;
    if (io_csv_read(cpath, &c, err)) return -1;
    static const char *const need[] = {"site_id", "patient_id", "image_id", "laterality", "view", "cancer", "biopsy", "density"};
    long k[8];
    int rc = 0;
    for (int j = 0; j < 8 && rc == 0; j++)
        if ((k[j] = col(&c, need[j], err)) < 0) rc = -1;
    wb_error ignore;
    long c_inv = io_csv_column(&c, "invasive", &ignore), c_bir = io_csv_column(&c, "BIRADS", &ignore);
    for (size_t r = 0; r < c.n_rows && rc == 0; r++) {
        const int line = c.lines[r];
        s->rows_read++;
        const char *v[8];
        for (int j = 0; j < 8; j++) v[j] = io_csv_cell(&c, r, k[j]);
        long num;
        for (int j = 1; j < 3 && rc == 0; j++)
            if (parse_long(v[j], 0, 999999999999L, &num))
                rc = wb_err_at(err, WB_E_DATA, cpath, line, (int)k[j] + 1, need[j], "expected a whole number, got '%s'", v[j]);
        if (rc) break;
        if (strcmp(v[3], "L") && strcmp(v[3], "R")) {
            rc = wb_err_at(err, WB_E_DATA, cpath, line, (int)k[3] + 1, "laterality", "expected L or R, got '%s'", v[3]);
            break;
        }
        long cancer, biopsy = 0;
        if (parse_long(v[5], 0, 1, &cancer)) {
            rc = wb_err_at(err, WB_E_DATA, cpath, line, (int)k[5] + 1, "cancer", "expected 0 or 1, got '%s'", v[5]);
            break;
        }
        if (v[6][0] && parse_long(v[6], 0, 1, &biopsy)) {
            rc = wb_err_at(err, WB_E_DATA, cpath, line, (int)k[6] + 1, "biopsy", "expected 0 or 1, got '%s'", v[6]);
            break;
        }
        if (v[7][0] && (!strchr("ABCD", v[7][0]) || v[7][1])) {
            rc = wb_err_at(err, WB_E_DATA, cpath, line, (int)k[7] + 1, "density", "expected A, B, C, D or empty, got '%s'", v[7]);
            break;
        }
        if (!in_list(o->views, v[4]) || !in_list(o->sites, v[0])) {
            s->filtered++;
            continue;
        }
        char file[600];
        snprintf(file, sizeof file, "%s%s/%s.dcm", prefix, v[1], v[2]);
        int added;
        long i = table_get(t, file, &added, err);
        if (i < 0) {
            rc = -1;
            break;
        }
        if (!added) {
            rc = wb_err_at(err, WB_E_DATA, cpath, line, (int)k[2] + 1, "image_id", "image %s of patient %s is listed twice", v[2],
                           v[1]);
            break;
        }
        imp_row *row = &t->rows[i];
        if ((rc = set_file(row, file, err))) break;
        copy(row->patient, sizeof row->patient, v[1]);
        copy(row->lat, sizeof row->lat, v[3]);
        copy(row->view, sizeof row->view, v[4]);
        if (v[7][0]) snprintf(row->density, sizeof row->density, "%c", (char)tolower((unsigned char)v[7][0]));
        copy(row->split, sizeof row->split, "train");
        row->label = cancer ? LBL_MALIGNANT : biopsy ? LBL_BENIGN : LBL_NORMAL;
        snprintf(row->source_label, sizeof row->source_label, "cancer=%ld biopsy=%ld invasive=%s BIRADS=%s site=%s", cancer,
                 biopsy, c_inv >= 0 ? io_csv_cell(&c, r, c_inv) : "", c_bir >= 0 ? io_csv_cell(&c, r, c_bir) : "", v[0]);
        row->n_findings = cancer || biopsy;
    }
    io_csv_free(&c);
    return rc;
}

/* ---- INbreast: INbreast.csv (semicolon-separated) + AllDICOMs/ ---- */

/* Splits a line at ';' into at most max fields (in place); returns the count. */
static int split_semicolons(char *line, char **f, int max)
{
    int n = 0;
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *q = strchr(p, ';');
        if (!q) break;
        *q = '\0';
        p = q + 1;
    }
    return n;
}

/* INbreast's lesion outlines (AllXML/<File Name>.xml, OsiriX ROIs): one box per mass (rank 3)
 * and per cluster, spiculated region, distortion or asymmetry (2); the individual calcification
 * ROIs (often dozens, many of one point) as one box around all of them (1); others (0). The
 * pectoral muscle outline is not a finding. Returns the number of boxes added. */
static int inbreast_rank(const char *name)
{
    static const char *const two[] = {"Cluster", "Spiculated Region", "Distortion", "Architectural Distortion",
                                      "Asymmetry"};
    if (!strcasecmp(name, "Mass")) return 3;
    for (size_t i = 0; i < sizeof two / sizeof *two; i++)
        if (!strcasecmp(name, two[i])) return 2;
    if (!strcasecmp(name, "Calcification") || !strcasecmp(name, "Calcifications")) return 1;
    if (!strncasecmp(name, "Pectoral", 8)) return -1;
    return 0;
}

static void roi_box(imp_row *row, int rank, double x0, double y0, double x1, double y1, const char *word)
{
    x0 = x0 > 0 ? floor(x0) : 0, y0 = y0 > 0 ? floor(y0) : 0;
    x1 = x1 > 0 ? floor(x1) : 0, y1 = y1 > 0 ? floor(y1) : 0;
    add_box(row, rank, (int)x0, (int)y0, (int)(x1 - x0) + 1, (int)(y1 - y0) + 1);
    char w[64];
    size_t k = 0;
    for (; word[k] && k < sizeof w - 1; k++) w[k] = word[k] == ' ' ? '_' : (char)tolower((unsigned char)word[k]);
    w[k] = '\0';
    add_word(row->lesion, sizeof row->lesion, w);
    row->n_findings++;
}

static int inbreast_boxes(const char *xml, imp_row *row, wb_error *err)
{
    io_roi_list rl;
    if (io_roi_read(xml, &rl, err) != 0) return -1;
    int calc = 0;
    double c0 = 0, r0 = 0, c1 = 0, r1 = 0;
    for (size_t i = 0; i < rl.n; i++) {
        const io_roi *q = &rl.rois[i];
        const int rank = inbreast_rank(q->name);
        if (!q->n_points || rank < 0) continue;
        if (rank == 1) {
            c0 = calc && c0 < q->x0 ? c0 : q->x0, r0 = calc && r0 < q->y0 ? r0 : q->y0;
            c1 = calc && c1 > q->x1 ? c1 : q->x1, r1 = calc && r1 > q->y1 ? r1 : q->y1;
            calc++;
            continue;
        }
        roi_box(row, rank, q->x0, q->y0, q->x1, q->y1, q->name[0] ? q->name : "finding");
    }
    if (calc) roi_box(row, 1, c0, r0, c1, r1, "calcification");
    io_roi_list_free(&rl);
    return 0;
}

static int import_inbreast(const exp_import_options *o, imp_table *t, exp_import_summary *s, wb_error *err)
{
    io_path_list files;
    io_path_list_init(&files);
    imp_table byname; /* "File Name" (the number before the first '_') -> the DICOM file */
    memset(&byname, 0, sizeof byname);
    imp_table xmls; /* "File Name" -> its AllXML/<File Name>.xml */
    memset(&xmls, 0, sizeof xmls);
    int rc = io_fs_collect(o->source, &files, err);
    const char *sheet = NULL;
    const size_t root = strlen(o->source);
    for (size_t i = 0; i < files.n && rc == 0; i++) {
        const char *b = strrchr(files.paths[i], '/');
        b = b ? b + 1 : files.paths[i];
        if (!strcasecmp(b, "INbreast.csv")) sheet = files.paths[i];
        const char *d = strrchr(b, '.');
        if (d && !strcasecmp(d, ".xml") && d > b && (size_t)(d - b) < 64) {
            char key[64];
            memcpy(key, b, (size_t)(d - b));
            key[d - b] = '\0';
            int added;
            long j = table_get(&xmls, key, &added, err);
            if (j < 0) rc = -1;
            else if (added) rc = set_file(&xmls.rows[j], files.paths[i], err);
            continue;
        }
        if (!d || strcasecmp(d, ".dcm")) continue;
        char key[64];
        size_t k = strcspn(b, "_");
        if (k == 0 || k >= sizeof key || !b[k]) continue;
        memcpy(key, b, k);
        key[k] = '\0';
        int added;
        long j = table_get(&byname, key, &added, err);
        if (j < 0) rc = -1;
        else if (added) {
            const char *rel = files.paths[i] + root;
            while (*rel == '/') rel++;
            rc = set_file(&byname.rows[j], rel, err);
            /* <File Name>_<patient>_MG_<side>_<view>_ANON.dcm: the second part is the woman */
            const char *pp = b + k + 1;
            size_t pl = strcspn(pp, "_");
            if (pl < sizeof byname.rows[j].patient) {
                memcpy(byname.rows[j].patient, pp, pl);
                byname.rows[j].patient[pl] = '\0';
            }
        }
    }
    if (rc == 0 && !sheet) rc = wb_err(err, WB_E_IO, o->source, "no INbreast.csv under this directory (the release's sheet, saved as semicolon-separated CSV)");
    unsigned char *buf = NULL;
    size_t n = 0;
    if (rc == 0) rc = io_file_read_all(sheet, (size_t)16 << 20, &buf, &n, err);
    static const char *const need[8] = {"Patient ID", "Patient age", "Laterality", "View", "Acquisition date", "File Name", "ACR", "Bi-Rads"};
    int line = 0, header = 1;
    for (size_t pos = 0; rc == 0 && pos < n;) {
        size_t end = pos;
        while (end < n && buf[end] != '\n') end++;
        line++;
        char text[1024];
        size_t len = end - pos < sizeof text - 1 ? end - pos : sizeof text - 1;
        memcpy(text, buf + pos, len);
        text[len] = '\0';
        pos = end + 1;
        if (len && text[len - 1] == '\r') text[--len] = '\0';
        char tmp[1024];
        if (!trim(text, tmp, sizeof tmp)[0]) continue;
        char *f[9];
        int nf = split_semicolons(text, f, 9);
        if (header) {
            const char *h0 = f[0];
            if ((unsigned char)h0[0] == 0xEF && (unsigned char)h0[1] == 0xBB && (unsigned char)h0[2] == 0xBF) h0 += 3;
            for (int k = 0; k < 8 && rc == 0; k++) {
                char a[128];
                trim(k == 0 ? h0 : k < nf ? f[k] : "", a, sizeof a);
                if (k >= nf || strcasecmp(a, need[k]))
                    rc = wb_err_at(err, WB_E_DATA, sheet, line, k + 1, NULL,
                                   "expected the INbreast header 'Patient ID;Patient age;Laterality;View;Acquisition date;File Name;ACR;Bi-Rads', field %d is '%s'",
                                   k + 1, k < nf ? a : "");
            }
            header = 0;
            continue;
        }
        s->rows_read++;
        if (nf < 8) {
            rc = wb_err_at(err, WB_E_DATA, sheet, line, nf, NULL, "expected 8 fields separated by ';', got %d", nf);
            break;
        }
        char lat[8], view[16], name[64], acr[16], bir[16];
        trim(f[2], lat, sizeof lat);
        trim(f[3], view, sizeof view);
        trim(f[5], name, sizeof name);
        trim(f[6], acr, sizeof acr);
        trim(f[7], bir, sizeof bir);
        if (strcmp(lat, "L") && strcmp(lat, "R")) {
            rc = wb_err_at(err, WB_E_DATA, sheet, line, 3, "Laterality", "expected L or R, got '%s'", lat);
            break;
        }
        long num;
        if (parse_long(name, 0, 999999999L, &num)) {
            rc = wb_err_at(err, WB_E_DATA, sheet, line, 6, "File Name", "expected the image number, got '%s'", name);
            break;
        }
        int b = birads_value(bir);
        if (b < 1 || b > 6) {
            rc = wb_err_at(err, WB_E_DATA, sheet, line, 8, "Bi-Rads", "expected 1 to 6 (4a, 4b, 4c too), got '%s'", bir);
            break;
        }
        long dv = 0;
        if (acr[0] && parse_long(acr, 1, 4, &dv)) {
            rc = wb_err_at(err, WB_E_DATA, sheet, line, 7, "ACR", "expected a density 1 to 4 or empty, got '%s'", acr);
            break;
        }
        if (!in_list(o->views, view)) {
            s->filtered++;
            continue;
        }
        long j = table_find(&byname, name);
        int added;
        long i = table_get(t, name, &added, err);
        if (i < 0) {
            rc = -1;
            break;
        }
        if (!added) {
            rc = wb_err_at(err, WB_E_DATA, sheet, line, 6, "File Name", "image %s is listed twice", name);
            break;
        }
        imp_row *row = &t->rows[i];
        char miss[96];
        snprintf(miss, sizeof miss, "AllDICOMs/%s_*.dcm", name);
        if ((rc = set_file(row, j >= 0 ? byname.rows[j].file : miss, err))) break;
        row->unresolved = j < 0;
        if (j >= 0 && byname.rows[j].patient[0]) copy(row->patient, sizeof row->patient, byname.rows[j].patient);
        else snprintf(row->patient, sizeof row->patient, "inbreast-%s", name);
        copy(row->lat, sizeof row->lat, lat);
        copy(row->view, sizeof row->view, view);
        if (dv) snprintf(row->density, sizeof row->density, "%c", (char)('a' + dv - 1));
        row->label = b >= o->birads_min ? LBL_MALIGNANT : b == 1 ? LBL_NORMAL : LBL_BENIGN;
        snprintf(row->source_label, sizeof row->source_label, "Bi-Rads %s", bir);
        const long xi = table_find(&xmls, name);
        if (xi >= 0 && (rc = inbreast_boxes(xmls.rows[xi].file, row, err)) != 0) break;
    }
    free(buf);
    table_free(&byname);
    table_free(&xmls);
    io_path_list_free(&files);
    return rc;
}

/* ---- CMMD: one clinical row per breast, matched to images through their DICOM laterality ---- */

static int import_cmmd(const exp_import_options *o, imp_table *t, exp_import_summary *s, wb_error *err)
{
    io_path_list files;
    io_path_list_init(&files);
    int rc = io_fs_collect(o->source, &files, err);
    const char *sheet = NULL, *xlsx = NULL;
    for (size_t i = 0; i < files.n && rc == 0; i++) {
        const char *b = strrchr(files.paths[i], '/');
        b = b ? b + 1 : files.paths[i];
        if (!strcasecmp(b, "CMMD_clinicaldata_revision.csv")) sheet = files.paths[i];
        if (!strcasecmp(b, "CMMD_clinicaldata_revision.xlsx")) xlsx = files.paths[i];
    }
    if (rc == 0 && !sheet && !xlsx)
        rc = wb_err(err, WB_E_IO, o->source, "no CMMD_clinicaldata_revision.xlsx (or .csv) under this directory (the "
                    "clinical table as TCIA ships it)");
    /* the clinical rows: breast "ID1|L" -> label, abnormality, classification */
    imp_table breasts;
    memset(&breasts, 0, sizeof breasts);
    io_csv c;
    memset(&c, 0, sizeof c);
    /* the workbook as shipped; a CSV saved from it wins when both are there */
    if (rc == 0) rc = sheet ? io_csv_read(sheet, &c, err) : io_xlsx_read(xlsx, &c, err);
    if (!sheet) sheet = xlsx;
    static const char *const need[] = {"ID1", "LeftRight", "abnormality", "classification"};
    long k[4] = {-1, -1, -1, -1};
    for (int j = 0; j < 4 && rc == 0; j++)
        if ((k[j] = col(&c, need[j], err)) < 0) rc = -1;
    wb_error ignore;
    const long c_sub = rc ? -1 : io_csv_column(&c, "subtype", &ignore);
    for (size_t r = 0; r < c.n_rows && rc == 0; r++) {
        const int line = c.lines[r];
        s->rows_read++;
        char id[64], lr[8], ab[64], cl[32];
        trim(io_csv_cell(&c, r, k[0]), id, sizeof id);
        trim(io_csv_cell(&c, r, k[1]), lr, sizeof lr);
        trim(io_csv_cell(&c, r, k[2]), ab, sizeof ab);
        trim(io_csv_cell(&c, r, k[3]), cl, sizeof cl);
        if (!id[0] || strchr(id, '/') || strchr(id, '|')) {
            rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)k[0] + 1, "ID1", "expected a patient id (e.g. D1-0001), got '%s'", id);
            break;
        }
        if (strcmp(lr, "L") && strcmp(lr, "R")) {
            rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)k[1] + 1, "LeftRight", "expected L or R, got '%s'", lr);
            break;
        }
        int lbl;
        if (!strcasecmp(cl, "Malignant")) lbl = LBL_MALIGNANT;
        else if (!strcasecmp(cl, "Benign")) lbl = LBL_BENIGN;
        else {
            rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)k[3] + 1, "classification", "expected Benign or Malignant, got '%s'", cl);
            break;
        }
        char key[80];
        snprintf(key, sizeof key, "%s|%s", id, lr);
        int added;
        long i = table_get(&breasts, key, &added, err);
        if (i < 0) {
            rc = -1;
            break;
        }
        if (!added) {
            rc = wb_err_at(err, WB_E_DATA, sheet, line, (int)k[0] + 1, "ID1", "breast %s %s is listed twice", id, lr);
            break;
        }
        imp_row *b = &breasts.rows[i];
        b->label = lbl;
        /* abnormality: calcification, mass or both */
        if (!strcasecmp(ab, "both")) snprintf(b->lesion, sizeof b->lesion, "mass+calcification");
        else for (size_t q = 0; ab[q] && q < sizeof b->lesion - 1; q++) b->lesion[q] = (char)tolower((unsigned char)ab[q]);
        const char *sub = c_sub >= 0 ? io_csv_cell(&c, r, c_sub) : "";
        snprintf(b->source_label, sizeof b->source_label, "%s%s%s", cl, sub[0] ? " " : "", sub);
    }
    /* the images: every DICOM below a folder named like a patient of the table */
    const size_t root = strlen(o->source);
    size_t no_lat = 0, other = 0, shown = 0;
    for (size_t i = 0; i < files.n && rc == 0; i++) {
        const char *rel = files.paths[i] + root;
        while (*rel == '/') rel++;
        const char *d = strrchr(rel, '.');
        if (!d || (strcasecmp(d, ".dcm") && strcasecmp(d, ".dicom"))) continue;
        /* the patient: the first folder of the path that is an ID1 of the table (CMMD/D1-0001/...) */
        char id[64] = "";
        for (const char *p = rel; *p && !id[0];) {
            size_t q = strcspn(p, "/");
            if (!p[q]) break;
            if (q < sizeof id) {
                char cand[64];
                memcpy(cand, p, q);
                cand[q] = '\0';
                char kl[80], kr[80];
                snprintf(kl, sizeof kl, "%s|L", cand);
                snprintf(kr, sizeof kr, "%s|R", cand);
                if (table_find(&breasts, kl) >= 0 || table_find(&breasts, kr) >= 0) memcpy(id, cand, q + 1);
            }
            p += q + 1;
        }
        if (!id[0]) continue; /* not a patient of the table */
        io_dicom_meta meta;
        if (io_dicom_read_meta(files.paths[i], &meta, err) != 0) {
            rc = -1;
            break;
        }
        const char *lat = meta.laterality;
        if (strcmp(lat, "L") && strcmp(lat, "R")) {
            no_lat++;
            if (shown++ < 5) wb_warn("import: %s: no ImageLaterality/Laterality L or R: left out", files.paths[i]);
            continue;
        }
        char key[80];
        snprintf(key, sizeof key, "%s|%c", id, lat[0]);
        const long bi = table_find(&breasts, key);
        if (bi < 0 && !o->other_breast_normal) {
            other++;
            continue;
        }
        if (!in_list(o->views, meta.view_position)) {
            s->filtered++;
            continue;
        }
        int added;
        long j = table_get(t, rel, &added, err);
        if (j < 0 || (rc = set_file(&t->rows[j], rel, err)) != 0) {
            rc = -1;
            break;
        }
        imp_row *row = &t->rows[j];
        copy(row->sop, sizeof row->sop, meta.sop_uid);
        copy(row->patient, sizeof row->patient, id);
        copy(row->lat, sizeof row->lat, lat);
        copy(row->view, sizeof row->view, meta.view_position);
        if (bi >= 0) {
            const imp_row *b = &breasts.rows[bi];
            row->label = b->label;
            copy(row->lesion, sizeof row->lesion, b->lesion);
            copy(row->source_label, sizeof row->source_label, b->source_label);
            row->n_findings = 1;
        } else {
            row->label = LBL_NORMAL;
            copy(row->source_label, sizeof row->source_label, "not in the clinical table");
        }
    }
    if (rc == 0 && no_lat) wb_warn("import: %zu image(s) without a laterality left out", no_lat);
    if (rc == 0 && other)
        wb_log(WB_LOG_INFO, "import: %zu image(s) of breasts the clinical table does not list left out (--other-breast normal keeps them as normal)", other);
    io_csv_free(&c);
    table_free(&breasts);
    io_path_list_free(&files);
    return rc;
}

/* ---- EMBED (Emory Breast Imaging Dataset, AWS Open Data release) ----
 * tables/EMBED_OpenData_metadata.csv: one row per image file (empi_anon, acc_anon,
 * anon_dicom_path, ImageLateralityFinal, ViewPosition, FinalImageType, spot_mag, ROI_coords);
 * tables/EMBED_OpenData_clinical.csv: one row per finding of an exam (acc_anon, side,
 * path_severity, asses, tissueden, massshape, calcfind). The "_reduced" tables have the same
 * names for these columns and are used when the full ones are not there. A finding belongs
 * to the images of its exam and side (side B or empty: both breasts), as the data descriptor
 * says to join them. Files are at cohort/patient/exam/SOPInstanceUID.dcm; anon_dicom_path is
 * the path on the curators' machine, resolved by its longest tail found under SOURCE. */

typedef struct embed_breast { /* the findings of one exam and side ("acc|L", "acc|R", "acc|*") */
    int min_sev;               /* the most severe path_severity (0 invasive .. 6), 99: none */
    char asses[16];            /* the BI-RADS letters seen (A N B P S M K) */
    int density;               /* tissueden 1-4, 0 unknown */
    char lesion[64];
    int n;                     /* findings: rows with a pathology result or a mass/calcification descriptor */
    long day;                  /* the exam's study_date_anon in days (with --follow-up) */
} embed_breast;

/* A pathology result of an exam, for --follow-up: the patient's later exams credited back. */
typedef struct embed_event {
    char patient[64], acc[64];
    long day;
    char side;                 /* 'L', 'R' or '*' (both) */
    int sev;                   /* path_severity 0-6 */
} embed_event;

static int event_cmp(const void *a, const void *b)
{
    const embed_event *x = a, *y = b;
    int c = strcmp(x->patient, y->patient);
    return c ? c : (x->day > y->day) - (x->day < y->day);
}

/* A date as pandas writes it ("2017-03-02", optionally with a time after a space or 'T') or
 * as "3/2/2017", in days since 1970-01-01; -1 when it is neither. */
static int parse_day(const char *s, long *day)
{
    int y, m, d, k = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &k) == 3 && (!s[k] || s[k] == ' ' || s[k] == 'T')) {
    } else if (sscanf(s, "%2d/%2d/%4d%n", &m, &d, &y, &k) == 3 && !s[k]) {
    } else {
        return -1;
    }
    if (y < 1900 || y > 2200 || m < 1 || m > 12 || d < 1 || d > 31) return -1;
    /* days from the civil date (the proleptic Gregorian calendar; Howard Hinnant's algorithm) */
    const long yy = y - (m <= 2), era = yy / 400, yoe = yy - era * 400;
    const long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1, doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *day = era * 146097 + doe - 719468;
    return 0;
}

/* Appends the letter ch to s[n] unless it is there already. */
static void add_letter(char *s, size_t n, char ch)
{
    size_t l = strlen(s);
    if (!strchr(s, ch) && l + 1 < n) s[l] = ch, s[l + 1] = '\0';
}

/* The first file under the source whose name is one of names[] (in that order of preference). */
static const char *find_named(const io_path_list *files, const char *const *names, size_t nn)
{
    for (size_t k = 0; k < nn; k++)
        for (size_t i = 0; i < files->n; i++) {
            const char *b = strrchr(files->paths[i], '/');
            if (!strcasecmp(b ? b + 1 : files->paths[i], names[k])) return files->paths[i];
        }
    return NULL;
}

/* The longest tail of path (an absolute path on another machine) that names a file under
 * source, into buf; NULL when none does. */
static const char *tail_under(const char *source, const char *path, char *buf, size_t n)
{
    for (const char *p = path; p && *p; p = strchr(p, '/')) {
        while (*p == '/') p++;
        char full[4400];
        if (*p && path_join(full, sizeof full, source, p) == 0 && is_file(full)) {
            snprintf(buf, n, "%s", p);
            return buf;
        }
    }
    return NULL;
}

/* ROI_coords, "[[ymin, xmin, ymax, xmax], ...]" (or with parentheses): the boxes in order,
 * into row; -1 when the text is not a list of 4-number groups of a real box. */
static int embed_boxes(const char *s, imp_row *row)
{
    long v[4];
    int k = 0, rank = 1000;
    for (const char *p = s; *p;) {
        if (isdigit((unsigned char)*p) || (*p == '-' && isdigit((unsigned char)p[1]))) {
            char *end;
            errno = 0;
            double d = strtod(p, &end);
            if (errno || d < 0 || d > 1e6) return -1;
            v[k++] = (long)d;
            p = end;
            if (k == 4) {
                if (v[2] <= v[0] || v[3] <= v[1]) return -1;
                add_box(row, rank--, (int)v[1], (int)v[0], (int)(v[3] - v[1]), (int)(v[2] - v[0]));
                k = 0;
            }
        } else if (strchr("[](), \t'\"", *p)) {
            p++;
        } else {
            return -1;
        }
    }
    return k ? -1 : 0;
}

static int import_embed(const exp_import_options *o, imp_table *t, exp_import_summary *s, wb_error *err)
{
    io_path_list files;
    io_path_list_init(&files);
    int rc = io_fs_collect(o->source, &files, err);
    static const char *const meta_names[] = {"EMBED_OpenData_metadata.csv", "EMBED_OpenData_metadata_reduced.csv"};
    static const char *const clin_names[] = {"EMBED_OpenData_clinical.csv", "EMBED_OpenData_clinical_reduced.csv"};
    const char *mpath = rc ? NULL : find_named(&files, meta_names, 2), *cpath = rc ? NULL : find_named(&files, clin_names, 2);
    if (rc == 0 && (!mpath || !cpath))
        rc = wb_err(err, WB_E_IO, o->source, "no %s under this directory (EMBED's tables/ folder: "
                    "EMBED_OpenData_metadata.csv and EMBED_OpenData_clinical.csv, or their _reduced versions)",
                    !mpath ? "EMBED_OpenData_metadata.csv" : "EMBED_OpenData_clinical.csv");
    /* the findings, per exam and side */
    imp_table keys;
    memset(&keys, 0, sizeof keys);
    embed_breast *br = NULL;
    size_t nbr = 0;
    io_csv c, m;
    memset(&c, 0, sizeof c);
    memset(&m, 0, sizeof m);
    if (rc == 0) rc = io_csv_read(cpath, &c, err);
    static const char *const cneed[] = {"acc_anon", "side", "path_severity", "asses"};
    long ck[4] = {-1, -1, -1, -1};
    for (int j = 0; j < 4 && rc == 0; j++)
        if ((ck[j] = col(&c, cneed[j], err)) < 0) rc = -1;
    wb_error ignore;
    const long c_den = rc ? -1 : io_csv_column(&c, "tissueden", &ignore), c_mass = rc ? -1 : io_csv_column(&c, "massshape", &ignore),
               c_calc = rc ? -1 : io_csv_column(&c, "calcfind", &ignore);
    /* --follow-up: the patient and the date of every finding row, the pathology results as events */
    const int follow = o->follow_up_days > 0;
    long c_pat = -1, c_date = -1;
    if (rc == 0 && follow && ((c_pat = col(&c, "empi_anon", err)) < 0 || (c_date = col(&c, "study_date_anon", err)) < 0)) rc = -1;
    embed_event *ev = NULL;
    size_t nev = 0, cap_ev = 0, credited[3] = {0, 0, 0};
    for (size_t r = 0; r < c.n_rows && rc == 0; r++) {
        const int line = c.lines[r];
        char acc[64], side[8], sev[16], as[8];
        trim(io_csv_cell(&c, r, ck[0]), acc, sizeof acc);
        trim(io_csv_cell(&c, r, ck[1]), side, sizeof side);
        trim(io_csv_cell(&c, r, ck[2]), sev, sizeof sev);
        trim(io_csv_cell(&c, r, ck[3]), as, sizeof as);
        long sv = 99;
        double dsv;
        if (!acc[0]) {
            rc = wb_err_at(err, WB_E_DATA, cpath, line, (int)ck[0] + 1, "acc_anon", "empty exam id");
            break;
        }
        if (side[0] && strcmp(side, "L") && strcmp(side, "R") && strcmp(side, "B")) {
            rc = wb_err_at(err, WB_E_DATA, cpath, line, (int)ck[1] + 1, "side", "expected L, R, B or empty, got '%s'", side);
            break;
        }
        /* pandas writes a column with empty cells as floats: "0.0" */
        if (sev[0] && (parse_double(sev, &dsv) || dsv != (long)dsv || dsv < 0 || dsv > 6)) {
            rc = wb_err_at(err, WB_E_DATA, cpath, line, (int)ck[2] + 1, "path_severity", "expected 0 to 6 or empty, got '%s'", sev);
            break;
        }
        if (sev[0]) sv = (long)dsv;
        if (as[0] && (as[1] || !strchr("ANBPSMK", as[0]))) {
            rc = wb_err_at(err, WB_E_DATA, cpath, line, (int)ck[3] + 1, "asses", "expected one of A N B P S M K or empty, got '%s'", as);
            break;
        }
        char key[80];
        snprintf(key, sizeof key, "%s|%s", acc, side[0] == 'L' || side[0] == 'R' ? side : "*");
        int added;
        long i = table_get(&keys, key, &added, err);
        if (i < 0) {
            rc = -1;
            break;
        }
        if ((size_t)i >= nbr) {
            size_t nn = nbr ? nbr * 2 : 1024;
            while (nn <= (size_t)i) nn *= 2;
            embed_breast *g = realloc(br, nn * sizeof *g);
            if (!g) {
                rc = wb_err(err, WB_E_NOMEM, cpath, "out of memory");
                break;
            }
            br = g, nbr = nn;
        }
        embed_breast *b = &br[i];
        if (added) memset(b, 0, sizeof *b), b->min_sev = 99;
        if (sv < b->min_sev) b->min_sev = (int)sv;
        if (as[0]) add_letter(b->asses, sizeof b->asses, as[0]);
        if (follow) {
            long day;
            if (parse_day(io_csv_cell(&c, r, c_date), &day)) {
                rc = wb_err_at(err, WB_E_DATA, cpath, line, (int)c_date + 1, "study_date_anon",
                               "expected a date such as 2017-03-02 (needed by --follow-up), got '%.40s'", io_csv_cell(&c, r, c_date));
                break;
            }
            b->day = day;
            if (sv < 99) {
                if (nev == cap_ev) {
                    size_t nn = cap_ev ? cap_ev * 2 : 256;
                    embed_event *g = realloc(ev, nn * sizeof *g);
                    if (!g) {
                        rc = wb_err(err, WB_E_NOMEM, cpath, "out of memory");
                        break;
                    }
                    ev = g, cap_ev = nn;
                }
                embed_event *e = &ev[nev++];
                trim(io_csv_cell(&c, r, c_pat), e->patient, sizeof e->patient);
                copy(e->acc, sizeof e->acc, acc);
                e->day = day;
                e->side = side[0] == 'L' || side[0] == 'R' ? side[0] : '*';
                e->sev = (int)sv;
            }
        }
        long den;
        if (c_den >= 0 && !parse_long(io_csv_cell(&c, r, c_den), 1, 4, &den)) b->density = (int)den;
        else if (c_den >= 0 && !parse_double(io_csv_cell(&c, r, c_den), &dsv) && dsv >= 1 && dsv <= 4 && dsv == (long)dsv)
            b->density = (int)dsv;
        const int mass = c_mass >= 0 && io_csv_cell(&c, r, c_mass)[0], calc = c_calc >= 0 && io_csv_cell(&c, r, c_calc)[0];
        if (mass) add_word(b->lesion, sizeof b->lesion, "mass");
        if (calc) add_word(b->lesion, sizeof b->lesion, "calcification");
        b->n += sv < 99 || mass || calc;
        s->rows_read++;
    }
    if (rc == 0 && nev) qsort(ev, nev, sizeof *ev, event_cmp);
    /* the images */
    if (rc == 0) rc = io_csv_read(mpath, &m, err);
    static const char *const mneed[] = {"empi_anon", "acc_anon", "anon_dicom_path", "ImageLateralityFinal", "ViewPosition",
                                        "FinalImageType"};
    long mk[6] = {-1, -1, -1, -1, -1, -1};
    for (int j = 0; j < 6 && rc == 0; j++)
        if ((mk[j] = col(&m, mneed[j], err)) < 0) rc = -1;
    const long m_spot = rc ? -1 : io_csv_column(&m, "spot_mag", &ignore), m_roi = rc ? -1 : io_csv_column(&m, "ROI_coords", &ignore),
               m_sop = rc ? -1 : io_csv_column(&m, "SOPInstanceUID", &ignore);
    const char *types = o->image_types && o->image_types[0] ? o->image_types : "2D";
    size_t no_lat = 0, no_finding = 0, uncertain = 0, not_found = 0;
    for (size_t r = 0; r < m.n_rows && rc == 0; r++) {
        const int line = m.lines[r];
        s->rows_read++;
        const char *v[6];
        for (int j = 0; j < 6; j++) v[j] = io_csv_cell(&m, r, mk[j]);
        const char *spot = m_spot >= 0 ? io_csv_cell(&m, r, m_spot) : "";
        if (!in_list(types, v[5]) || !in_list(o->views, v[4]) || (spot[0] && strcmp(spot, "0") && strcmp(spot, "0.0"))) {
            s->filtered++;
            continue;
        }
        if (strcmp(v[3], "L") && strcmp(v[3], "R")) {
            no_lat++;
            continue;
        }
        /* the exam's findings of this side and of both sides */
        char kl[80], kb[80];
        snprintf(kl, sizeof kl, "%s|%s", v[1], v[3]);
        snprintf(kb, sizeof kb, "%s|*", v[1]);
        const long il = table_find(&keys, kl), ib = table_find(&keys, kb);
        if (il < 0 && ib < 0) {
            no_finding++;
            continue;
        }
        embed_breast e = {.min_sev = 99};
        for (int q = 0; q < 2; q++) {
            const long i = q ? ib : il;
            if (i < 0) continue;
            const embed_breast *b = &br[i];
            e.min_sev = b->min_sev < e.min_sev ? b->min_sev : e.min_sev;
            for (const char *a = b->asses; *a; a++) add_letter(e.asses, sizeof e.asses, *a);
            if (b->density) e.density = b->density;
            e.n += b->n;
            for (const char *w = b->lesion; *w;) {
                char word[32];
                size_t k = strcspn(w, "+");
                snprintf(word, sizeof word, "%.*s", (int)(k < sizeof word ? k : sizeof word - 1), w);
                add_word(e.lesion, sizeof e.lesion, word);
                w += k + (w[k] == '+');
            }
        }
        /* malignant: pathology cancer (0 invasive, 1 in situ) or BI-RADS 6 (known cancer);
         * benign: biopsied, no cancer (2-6); normal: no pathology and only BI-RADS 1-2;
         * anything else (a recall or BI-RADS 3-5 without a linked pathology result) is unresolved */
        int lbl;
        if (e.min_sev <= 1 || (e.min_sev == 99 && strchr(e.asses, 'K'))) lbl = LBL_MALIGNANT;
        else if (e.min_sev <= 6) lbl = LBL_BENIGN;
        else if (e.asses[0] && strspn(e.asses, "NB") == strlen(e.asses)) lbl = LBL_NORMAL;
        else lbl = -1;
        /* --follow-up (descriptor section IX): a pathology result of a later exam of the patient,
         * on this side, within the window; cancer makes a normal or unresolved exam malignant
         * (an interval or recalled cancer), another result makes an unresolved one benign */
        const embed_event *fu = NULL;
        if (follow && lbl != LBL_MALIGNANT && lbl != LBL_BENIGN) {
            const long day = il >= 0 ? br[il].day : br[ib].day;
            embed_event probe;
            copy(probe.patient, sizeof probe.patient, v[0]);
            size_t lo = 0, hi = nev;
            while (lo < hi) { /* the patient's first event */
                const size_t mid = lo + (hi - lo) / 2;
                if (strcmp(ev[mid].patient, probe.patient) < 0) lo = mid + 1;
                else hi = mid;
            }
            for (size_t k = lo; k < nev && !strcmp(ev[k].patient, probe.patient); k++) {
                const embed_event *x = &ev[k];
                if (x->day < day || x->day - day > o->follow_up_days || !strcmp(x->acc, v[1]) ||
                    (x->side != '*' && x->side != v[3][0]))
                    continue;
                if (!fu || (x->sev <= 1) > (fu->sev <= 1)) fu = x;
            }
            if (fu && fu->sev <= 1) lbl = LBL_MALIGNANT;
            else if (fu && lbl < 0) lbl = LBL_BENIGN;
            else fu = NULL;
        }
        if (lbl < 0) {
            uncertain++;
            continue;
        }
        if (io_path_has_dotdot(v[2])) {
            rc = wb_err_at(err, WB_E_DATA, mpath, line, (int)mk[2] + 1, "anon_dicom_path",
                           "'%s' has a '..' component: refused (it could name a file outside %s)", v[2], o->source);
            break;
        }
        char rel[1024];
        const char *file = tail_under(o->source, v[2], rel, sizeof rel);
        if (!file) {
            not_found++;
            if (!o->keep_missing) {
                if (not_found <= 5) wb_warn("import: %s:%d: %s: not found under %s; the row is left out", mpath, line, v[2], o->source);
                continue;
            }
            file = v[2];
        }
        int added;
        long i = table_get(t, file, &added, err);
        if (i < 0) {
            rc = -1;
            break;
        }
        if (!added) {
            rc = wb_err_at(err, WB_E_DATA, mpath, line, (int)mk[2] + 1, "anon_dicom_path", "%s is listed twice", file);
            break;
        }
        imp_row *row = &t->rows[i];
        if ((rc = set_file(row, file, err))) break;
        if (m_sop >= 0) copy(row->sop, sizeof row->sop, io_csv_cell(&m, r, m_sop));
        copy(row->patient, sizeof row->patient, v[0]);
        copy(row->lat, sizeof row->lat, v[3]);
        copy(row->view, sizeof row->view, v[4]);
        row->label = lbl;
        copy(row->lesion, sizeof row->lesion, lbl == LBL_NORMAL ? "" : e.lesion);
        if (e.density) snprintf(row->density, sizeof row->density, "%c", "abcd"[e.density - 1]);
        row->n_findings = e.n;
        if (e.min_sev < 99) snprintf(row->source_label, sizeof row->source_label, "path_severity=%d asses=%s", e.min_sev, e.asses);
        else if (fu) {
            const long d = fu->day - (il >= 0 ? br[il].day : br[ib].day);
            snprintf(row->source_label, sizeof row->source_label, "asses=%s follow-up path_severity=%d at +%ld d",
                     e.asses, fu->sev, d);
            credited[lbl]++;
        } else snprintf(row->source_label, sizeof row->source_label, "asses=%s", e.asses);
        const char *roi = m_roi >= 0 ? io_csv_cell(&m, r, m_roi) : "";
        if (roi[0] && embed_boxes(roi, row)) {
            rc = wb_err_at(err, WB_E_DATA, mpath, line, (int)m_roi + 1, "ROI_coords",
                           "expected a list of [ymin, xmin, ymax, xmax] boxes, got '%.60s'", roi);
            break;
        }
    }
    if (rc == 0) {
        if (not_found > 5) wb_warn("import: %zu more images not found", not_found - 5);
        s->missing += o->keep_missing ? 0 : not_found;
        if (no_lat) wb_warn("import: %zu image(s) without ImageLateralityFinal L or R left out", no_lat);
        if (no_finding)
            wb_warn("import: %zu image(s) left out: %s has no row of their exam for their side (nor for both sides)",
                    no_finding, cpath);
        if (uncertain)
            wb_log(WB_LOG_INFO, "import: %zu image(s) left out as unresolved: BI-RADS 0 or 3-5 without a linked pathology "
                   "result%s (neither normal nor biopsy-proven)", uncertain,
                   follow ? ", nor one of a later exam within --follow-up" : "");
        if (follow)
            wb_log(WB_LOG_INFO, "import: --follow-up %d: %zu image(s) labelled by a later exam's pathology within %d days "
                   "(%zu malignant, %zu benign)", o->follow_up_days, credited[LBL_MALIGNANT] + credited[LBL_BENIGN],
                   o->follow_up_days, credited[LBL_MALIGNANT], credited[LBL_BENIGN]);
    }
    free(ev);
    io_csv_free(&c);
    io_csv_free(&m);
    table_free(&keys);
    free(br);
    io_path_list_free(&files);
    return rc;
}

/* ---- writing ---- */

static void csv_field(FILE *f, const char *s)
{
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

static int write_labels(const exp_import_options *o, imp_table *t, exp_import_summary *s, wb_error *err)
{
    /* which rows have their image */
    char *keep = calloc(t->n ? t->n : 1, 1);
    if (!keep) return wb_err(err, WB_E_NOMEM, o->out, "out of memory");
    size_t shown = 0;
    for (size_t i = 0; i < t->n; i++) {
        char full[4400];
        /* a path that could leave the source is never looked up (each format refuses one first) */
        int found = !t->rows[i].unresolved && !io_path_leaves(t->rows[i].file) &&
                    path_join(full, sizeof full, o->source, t->rows[i].file) == 0 && is_file(full);
        if (!found) {
            s->missing++;
            if (shown++ < 5)
                wb_warn("import: %s/%s: not found%s", o->source, t->rows[i].file,
                        o->keep_missing ? " (kept: --keep-missing)" : "; the row is left out");
        }
        keep[i] = found || o->keep_missing;
    }
    if (shown > 5) wb_warn("import: %zu more images not found", shown - 5);
    imp_table pats;
    memset(&pats, 0, sizeof pats);
    io_atomic_file af;
    if (io_atomic_open(&af, o->out, err)) {
        free(keep);
        return -1;
    }
    FILE *f = af.f;
    fputs("file,sop_instance_uid,patient_id,laterality,view,label,lesion_type,bbox_x,bbox_y,bbox_w,bbox_h,density,"
          "pixel_spacing_mm,split,source_label,n_findings,extra_boxes\n",
          f);
    int rc = 0;
    for (size_t i = 0; i < t->n && rc == 0; i++) {
        if (!keep[i]) continue;
        const imp_row *r = &t->rows[i];
        csv_field(f, r->file);
        fputc(',', f);
        csv_field(f, r->sop);
        fputc(',', f);
        csv_field(f, r->patient);
        fprintf(f, ",%s,", r->lat);
        csv_field(f, r->view);
        fprintf(f, ",%s,", label_names[r->label]);
        csv_field(f, r->lesion);
        if (r->has_box) fprintf(f, ",%d,%d,%d,%d,", r->box[0], r->box[1], r->box[2], r->box[3]);
        else fputs(",,,,,", f);
        csv_field(f, r->density);
        fputc(',', f);
        csv_field(f, r->spacing);
        fputc(',', f);
        csv_field(f, r->split);
        fputc(',', f);
        csv_field(f, r->source_label);
        fprintf(f, ",%d,", r->n_findings);
        csv_field(f, r->extra);
        fputc('\n', f);
        s->images++;
        s->by_label[r->label]++;
        s->with_box += r->has_box != 0;
        int added;
        if (table_get(&pats, r->patient, &added, err) < 0) rc = -1;
        else s->patients += added;
    }
    table_free(&pats);
    free(keep);
    if (rc == 0 && s->images == 0) {
        rc = wb_err(err, WB_E_DATA, o->source, "no image to write: %zu row(s) read, %zu image(s) not found, %zu filtered out",
                    s->rows_read, s->missing, s->filtered);
    }
    if (rc) {
        io_atomic_abort(&af);
        return -1;
    }
    return io_atomic_commit(&af, err);
}

int exp_import_run(const exp_import_options *o, exp_import_summary *s, wb_error *err)
{
    memset(s, 0, sizeof *s);
    if (!o->format || !exp_import_format_known(o->format))
        return wb_err(err, WB_E_USAGE, NULL, "import: unknown format '%s' (expected %s)", o->format ? o->format : "",
                      exp_import_format_list());
    if (!o->source || !is_dir(o->source))
        return wb_err(err, WB_E_IO, o->source, "not a directory (the dataset as downloaded)");
    if (!o->out || !o->out[0]) return wb_err(err, WB_E_USAGE, NULL, "import: --out FILE is required");
    if (o->birads_min < 1 || o->birads_min > 5)
        return wb_err(err, WB_E_USAGE, NULL, "import: --birads-min must be 1 to 5, got %d", o->birads_min);
    imp_table t;
    memset(&t, 0, sizeof t);
    int rc;
    if (!strcmp(o->format, "mini-mias")) rc = import_mias(o, &t, s, err);
    else if (!strcmp(o->format, "cbis-ddsm")) rc = import_cbis(o, &t, s, err);
    else if (!strcmp(o->format, "vindr")) rc = import_vindr(o, &t, s, err);
    else if (!strcmp(o->format, "rsna")) rc = import_rsna(o, &t, s, err);
    else if (!strcmp(o->format, "inbreast")) rc = import_inbreast(o, &t, s, err);
    else if (!strcmp(o->format, "cmmd")) rc = import_cmmd(o, &t, s, err);
    else rc = import_embed(o, &t, s, err);
    if (rc == 0) rc = write_labels(o, &t, s, err);
    table_free(&t);
    return rc;
}
