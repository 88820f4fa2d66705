/* io_roi.c — OsiriX ROI property lists through expat. See io_roi.h. */
#include "io/io_roi.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/io_fs.h"
#include "io/io_xml.h"

enum { K_OTHER = 0, K_DICT, K_ARRAY };

typedef struct frame {
    int kind;
    char key[32];   /* the dict key this element is the value of ("" if none) */
    long roi;       /* >= 0: this dict is that ROI */
    char pending[32]; /* a dict's key waiting for its value */
} frame;

typedef struct parse_state {
    io_xml x; /* first: the handlers' user data */
    frame st[IO_ROI_MAX_DEPTH + 1];
    int depth; /* frames in st */
    int capture;
    char text[256];
    size_t tlen;
    int truncated;
    io_roi_list *out;
    size_t cap;
} parse_state;

static int kind_of(const char *el)
{
    return !strcmp(el, "dict") ? K_DICT : !strcmp(el, "array") ? K_ARRAY : K_OTHER;
}

static void XMLCALL on_start(void *ud, const XML_Char *el, const XML_Char **attr)
{
    (void)attr;
    parse_state *s = ud;
    if (s->x.failed) return;
    if (s->depth >= IO_ROI_MAX_DEPTH) {
        io_xml_fail(&s->x, NULL, "%s", "elements nested deeper than 64");
        return;
    }
    frame *parent = s->depth ? &s->st[s->depth - 1] : NULL;
    frame *f = &s->st[s->depth++];
    memset(f, 0, sizeof *f);
    f->kind = kind_of(el);
    f->roi = -1;
    const int is_key = !strcmp(el, "key");
    if (parent && parent->kind == K_DICT && !is_key) {
        memcpy(f->key, parent->pending, sizeof f->key);
        parent->pending[0] = '\0';
    }
    if (f->kind == K_DICT && parent && parent->kind == K_ARRAY && !strcmp(parent->key, "ROIs")) {
        if (s->out->n >= IO_ROI_MAX_ROIS) {
            io_xml_fail(&s->x, NULL, "more than %s ROIs", "100000");
            return;
        }
        if (s->out->n == s->cap) {
            size_t nc = s->cap ? 2 * s->cap : 16;
            io_roi *r = realloc(s->out->rois, nc * sizeof *r);
            if (!r) {
                io_xml_fail(&s->x, NULL, "%s", "out of memory");
                return;
            }
            s->out->rois = r;
            s->cap = nc;
        }
        io_roi *r = &s->out->rois[s->out->n];
        memset(r, 0, sizeof *r);
        f->roi = (long)s->out->n++;
    }
    s->capture = is_key || !strcmp(el, "string");
    s->tlen = 0;
    s->truncated = 0;
    s->text[0] = '\0';
}

static void XMLCALL on_text(void *ud, const XML_Char *t, int len)
{
    parse_state *s = ud;
    if (!s->capture || s->x.failed || len <= 0) return;
    size_t room = sizeof s->text - 1 - s->tlen, k = (size_t)len;
    if (k > room) {
        k = room;
        s->truncated = 1;
    }
    memcpy(s->text + s->tlen, t, k);
    s->tlen += k;
    s->text[s->tlen] = '\0';
}

/* "(x, y)" with optional white space: two finite numbers. */
static int parse_point(const char *t, double *x, double *y)
{
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
    if (*t++ != '(') return -1;
    char *e;
    *x = strtod(t, &e);
    if (e == t) return -1;
    t = e;
    while (*t == ' ') t++;
    if (*t++ != ',') return -1;
    *y = strtod(t, &e);
    if (e == t) return -1;
    t = e;
    while (*t == ' ') t++;
    if (*t++ != ')') return -1;
    while (*t == ' ' || *t == '\t' || *t == '\n' || *t == '\r') t++;
    return *t || !isfinite(*x) || !isfinite(*y) ? -1 : 0;
}

/* Copies src into dst[n], cut to fit (names and keys longer than the field are cut). */
static void copy_cut(char *dst, size_t n, const char *src)
{
    size_t k = strlen(src);
    if (k >= n) k = n - 1;
    memcpy(dst, src, k);
    dst[k] = '\0';
}

static void XMLCALL on_end(void *ud, const XML_Char *el)
{
    parse_state *s = ud;
    if (s->x.failed || !s->depth) return;
    frame *f = &s->st[s->depth - 1];
    frame *parent = s->depth >= 2 ? &s->st[s->depth - 2] : NULL;
    frame *grand = s->depth >= 3 ? &s->st[s->depth - 3] : NULL;
    if (s->capture && !strcmp(el, "key") && parent && parent->kind == K_DICT) {
        copy_cut(parent->pending, sizeof parent->pending, s->text);
    } else if (s->capture && !strcmp(el, "string") && parent) {
        if (parent->kind == K_DICT && parent->roi >= 0 && !strcmp(f->key, "Name")) {
            copy_cut(s->out->rois[parent->roi].name, sizeof s->out->rois[parent->roi].name, s->text);
        } else if (parent->kind == K_ARRAY && !strcmp(parent->key, "Point_px") && grand && grand->roi >= 0) {
            double x, y;
            if (s->truncated || parse_point(s->text, &x, &y) != 0) {
                io_xml_fail(&s->x, "Point_px", "expected \"(x, y)\" (two numbers), got '%s'", s->text);
                return;
            }
            if (fabs(x) > IO_ROI_MAX_COORD || fabs(y) > IO_ROI_MAX_COORD) {
                io_xml_fail(&s->x, "Point_px", "'%s' is not a pixel position: each coordinate must lie within "
                            "-1000000 to 1000000 pixels", s->text);
                return;
            }
            io_roi *r = &s->out->rois[grand->roi];
            if (!r->n_points) {
                r->x0 = r->x1 = x;
                r->y0 = r->y1 = y;
            } else {
                r->x0 = x < r->x0 ? x : r->x0;
                r->x1 = x > r->x1 ? x : r->x1;
                r->y0 = y < r->y0 ? y : r->y0;
                r->y1 = y > r->y1 ? y : r->y1;
            }
            r->n_points++;
        }
    }
    s->capture = 0;
    s->depth--;
}

void io_roi_list_free(io_roi_list *l)
{
    if (!l) return;
    free(l->rois);
    memset(l, 0, sizeof *l);
}

int io_roi_parse(const char *buf, size_t n, const char *name, io_roi_list *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    if (n > IO_ROI_MAX_BYTES)
        return wb_err(err, WB_E_DATA, name, "larger than %zu bytes: not a ROI file", IO_ROI_MAX_BYTES);
    parse_state *s = calloc(1, sizeof *s);
    if (!s) return wb_err(err, WB_E_NOMEM, name, "out of memory");
    s->out = out;
    int rc = io_xml_parse(&s->x, buf, n, name, 0, on_start, on_end, on_text, err);
    free(s);
    if (rc) io_roi_list_free(out);
    return rc;
}

int io_roi_read(const char *path, io_roi_list *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    unsigned char *buf = NULL;
    size_t n = 0;
    if (io_file_read_all(path, IO_ROI_MAX_BYTES, &buf, &n, err) != 0) return -1;
    int rc = io_roi_parse((const char *)buf, n, path, out, err);
    free(buf);
    return rc;
}
