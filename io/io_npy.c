/* io_npy.c — .npy reader and writer. The header is a Python dict literal, parsed strictly:
 * exactly the keys 'descr', 'fortran_order', 'shape', each once. */
#include "io/io_npy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_fs.h"

#define NPY_MAX_HEADER (1u << 20) /* numpy itself refuses headers over 10 kB by default */

typedef struct {
    const char *s;
    size_t n, i;
} hdr_cursor;

static void hdr_ws(hdr_cursor *c)
{
    while (c->i < c->n && (c->s[c->i] == ' ' || c->s[c->i] == '\t' || c->s[c->i] == '\n'))
        c->i++;
}

static int hdr_char(hdr_cursor *c, char ch)
{
    hdr_ws(c);
    if (c->i < c->n && c->s[c->i] == ch) {
        c->i++;
        return 1;
    }
    return 0;
}

/* A quoted Python string without escapes, into buf. */
static int hdr_string(hdr_cursor *c, char *buf, size_t cap)
{
    hdr_ws(c);
    if (c->i >= c->n || (c->s[c->i] != '\'' && c->s[c->i] != '"'))
        return -1;
    char q = c->s[c->i++];
    size_t k = 0;
    while (c->i < c->n && c->s[c->i] != q) {
        if (c->s[c->i] == '\\' || k + 1 >= cap)
            return -1;
        buf[k++] = c->s[c->i++];
    }
    if (c->i >= c->n)
        return -1;
    c->i++;
    buf[k] = '\0';
    return 0;
}

static int hdr_word(hdr_cursor *c, const char *w)
{
    hdr_ws(c);
    size_t len = strlen(w);
    if (c->n - c->i >= len && memcmp(c->s + c->i, w, len) == 0) {
        c->i += len;
        return 1;
    }
    return 0;
}

static int hdr_int(hdr_cursor *c, int64_t *v)
{
    hdr_ws(c);
    size_t start = c->i;
    int64_t x = 0;
    while (c->i < c->n && c->s[c->i] >= '0' && c->s[c->i] <= '9') {
        if (x > (INT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (c->s[c->i] - '0');
        c->i++;
    }
    if (c->i == start)
        return -1;
    if (c->i < c->n && c->s[c->i] == 'L') /* Python 2 long suffix */
        c->i++;
    *v = x;
    return 0;
}

static int descr_dtype(const char *d, wb_dtype *dt, const char **why)
{
    *why = NULL;
    if (strlen(d) < 2) {
        *why = "unknown dtype";
        return -1;
    }
    char order = d[0];
    const char *code = d + 1;
    if (order == '>') {
        *why = "big-endian arrays are not supported; save with dtype '<...'";
        return -1;
    }
    if (order != '<' && order != '|' && order != '=') {
        *why = "unknown byte order";
        return -1;
    }
    static const struct { const char *code; wb_dtype dt; } map[] = {
        {"f4", WB_DT_F32}, {"f8", WB_DT_F64}, {"f2", WB_DT_F16}, {"i8", WB_DT_I64},
        {"i4", WB_DT_I32}, {"i2", WB_DT_I16}, {"i1", WB_DT_I8},  {"u1", WB_DT_U8},
        {"b1", WB_DT_BOOL},
    };
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++) {
        if (strcmp(code, map[k].code) == 0) {
            /* multi-byte types need a stated byte order */
            if (order == '|' && wb_dtype_size(map[k].dt) > 1) {
                *why = "multi-byte dtype without byte order";
                return -1;
            }
            *dt = map[k].dt;
            return 0;
        }
    }
    *why = "unsupported dtype (supported: f8 f4 f2 i8 i4 i2 i1 u1 b1)";
    return -1;
}

/* Parses the header dict. Returns 0 or -1 with *why and *at (offset in the header). */
static int parse_header(const char *s, size_t n, wb_dtype *dt, int *ndim, int64_t *shape,
                        const char **why, size_t *at, char *descr, size_t descr_cap)
{
    hdr_cursor c = {s, n, 0};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    *why = "expected '{'";
    if (!hdr_char(&c, '{'))
        goto fail;
    for (;;) {
        if (hdr_char(&c, '}'))
            break;
        char key[32];
        *why = "expected a quoted key";
        if (hdr_string(&c, key, sizeof key) != 0)
            goto fail;
        *why = "expected ':'";
        if (!hdr_char(&c, ':'))
            goto fail;
        if (strcmp(key, "descr") == 0 && !have_descr) {
            *why = "'descr' must be a simple dtype string (structured arrays are not supported)";
            if (hdr_string(&c, descr, descr_cap) != 0)
                goto fail;
            if (descr_dtype(descr, dt, why) != 0)
                goto fail;
            have_descr = 1;
        } else if (strcmp(key, "fortran_order") == 0 && !have_fortran) {
            if (hdr_word(&c, "True")) {
                *why = "Fortran-order arrays are not supported; save a C-order array "
                       "(np.ascontiguousarray)";
                goto fail;
            }
            *why = "expected False";
            if (!hdr_word(&c, "False"))
                goto fail;
            have_fortran = 1;
        } else if (strcmp(key, "shape") == 0 && !have_shape) {
            *why = "expected a shape tuple";
            if (!hdr_char(&c, '('))
                goto fail;
            *ndim = 0;
            for (;;) {
                if (hdr_char(&c, ')'))
                    break;
                *why = "more than 8 dimensions";
                if (*ndim >= WB_TENSOR_MAX_DIMS)
                    goto fail;
                *why = "bad dimension in shape";
                if (hdr_int(&c, &shape[*ndim]) != 0)
                    goto fail;
                (*ndim)++;
                if (hdr_char(&c, ','))
                    continue;
                *why = "expected ',' or ')' in shape";
                if (!hdr_char(&c, ')'))
                    goto fail;
                break;
            }
            have_shape = 1;
        } else {
            *why = "unknown or repeated key";
            goto fail;
        }
        if (hdr_char(&c, ','))
            continue;
        *why = "expected ',' or '}'";
        if (!hdr_char(&c, '}'))
            goto fail;
        break;
    }
    hdr_ws(&c);
    *why = "junk after the header dict";
    if (c.i != n)
        goto fail;
    *why = "header lacks 'descr', 'fortran_order' or 'shape'";
    if (!have_descr || !have_fortran || !have_shape)
        goto fail;
    return 0;
fail:
    *at = c.i;
    return -1;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

int io_npy_read(const char *path, wb_tensor *out, wb_error *err)
{
    memset(out, 0, sizeof *out);
    unsigned char pre[12];
    char *hdr = NULL;
    unsigned char *chunk = NULL;
    uint64_t fsize = 0;
    FILE *f = io_fs_fopen_input(path, 0, &fsize, err);
    if (!f)
        return -1;
    if (fsize < 10 || fread(pre, 1, 10, f) != 10) {
        wb_err(err, WB_E_DATA, path, "at byte 0: file too short for an .npy header (%llu bytes)",
               (unsigned long long)fsize);
        goto fail;
    }
    if (memcmp(pre, "\x93NUMPY", 6) != 0) {
        wb_err(err, WB_E_DATA, path, "at byte 0: not an .npy file (no \\x93NUMPY magic)");
        goto fail;
    }
    int major = pre[6];
    uint64_t hlen, hstart;
    if (major == 1) {
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8;
        hstart = 10;
    } else if (major == 2 || major == 3) {
        if (fread(pre + 10, 1, 2, f) != 2) {
            wb_err(err, WB_E_DATA, path, "at byte 10: truncated header length");
            goto fail;
        }
        hlen = (uint64_t)pre[8] | (uint64_t)pre[9] << 8 | (uint64_t)pre[10] << 16 |
               (uint64_t)pre[11] << 24;
        hstart = 12;
    } else {
        wb_err(err, WB_E_DATA, path, "at byte 6: unsupported .npy format version %d.%d", major,
               pre[7]);
        goto fail;
    }
    if (hlen > NPY_MAX_HEADER || hstart + hlen > fsize) {
        wb_err(err, WB_E_DATA, path,
               "at byte 8: header length %llu runs past the end of the file (%llu bytes) or "
               "over the %u-byte limit",
               (unsigned long long)hlen, (unsigned long long)fsize, NPY_MAX_HEADER);
        goto fail;
    }
    hdr = malloc(hlen + 1);
    if (!hdr) {
        wb_err(err, WB_E_NOMEM, path, "out of memory");
        goto fail;
    }
    if (fread(hdr, 1, hlen, f) != hlen) {
        wb_err(err, WB_E_IO, path, "at byte %llu: short read of the header",
               (unsigned long long)hstart);
        goto fail;
    }
    hdr[hlen] = '\0';
    if (memchr(hdr, '\0', hlen)) {
        wb_err(err, WB_E_DATA, path, "at byte %llu: NUL byte in the header",
               (unsigned long long)hstart);
        goto fail;
    }
    wb_dtype dt = WB_DT_F32;
    int ndim = 0;
    int64_t shape[WB_TENSOR_MAX_DIMS];
    const char *why = NULL;
    size_t at = 0;
    char descr[32];
    if (parse_header(hdr, hlen, &dt, &ndim, shape, &why, &at, descr, sizeof descr) != 0) {
        wb_err(err, WB_E_DATA, path, "at byte %llu: bad .npy header: %s",
               (unsigned long long)(hstart + at), why);
        goto fail;
    }
    int64_t numel;
    if (wb_shape_numel(ndim, shape, &numel) != 0) {
        wb_err(err, WB_E_DATA, path, "at byte %llu: shape has more than %lld elements",
               (unsigned long long)hstart, (long long)WB_TENSOR_MAX_NUMEL);
        goto fail;
    }
    size_t es = wb_dtype_size(dt);
    uint64_t dstart = hstart + hlen;
    uint64_t need = (uint64_t)numel * es; /* numel <= 2^32, es <= 8: no overflow */
    if (fsize - dstart != need) {
        wb_err(err, WB_E_DATA, path,
               "at byte %llu: data should be %llu bytes (%lld elements of %s) but the file "
               "has %llu bytes after the header%s",
               (unsigned long long)dstart, (unsigned long long)need, (long long)numel, descr,
               (unsigned long long)(fsize - dstart),
               fsize - dstart < need ? " (truncated)" : " (trailing bytes)");
        goto fail;
    }
    out->name = malloc(strlen(base_name(path)) + 1);
    out->data = malloc(numel ? (size_t)numel * sizeof(float) : sizeof(float));
    const size_t chunk_elems = 1 << 14;
    chunk = malloc(chunk_elems * es);
    if (!out->name || !out->data || !chunk) {
        wb_err(err, WB_E_NOMEM, path, "out of memory for %lld elements", (long long)numel);
        goto fail;
    }
    strcpy(out->name, base_name(path));
    size_t nl = strlen(out->name);
    if (nl > 4 && strcmp(out->name + nl - 4, ".npy") == 0)
        out->name[nl - 4] = '\0';
    for (size_t done = 0; done < (size_t)numel;) {
        size_t k = (size_t)numel - done < chunk_elems ? (size_t)numel - done : chunk_elems;
        if (fread(chunk, es, k, f) != k) {
            wb_err(err, WB_E_IO, path, "at byte %llu: short read of the data (file changed?)",
                   (unsigned long long)(dstart + done * es));
            goto fail;
        }
        wb_dtype_to_f32(dt, chunk, k, out->data + done);
        done += k;
    }
    out->ndim = ndim;
    for (int d = 0; d < ndim; d++)
        out->shape[d] = shape[d];
    out->file_dtype = dt;
    free(chunk);
    free(hdr);
    fclose(f);
    return 0;
fail:
    free(chunk);
    free(hdr);
    fclose(f);
    wb_tensor_free(out);
    return -1;
}

static void put_f32_le(unsigned char *dst, const float *src, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t b;
        memcpy(&b, &src[i], 4);
        dst[4 * i] = (unsigned char)b;
        dst[4 * i + 1] = (unsigned char)(b >> 8);
        dst[4 * i + 2] = (unsigned char)(b >> 16);
        dst[4 * i + 3] = (unsigned char)(b >> 24);
    }
}

int io_npy_write(const char *path, const wb_tensor *t, wb_error *err)
{
    int64_t numel;
    if (wb_shape_numel(t->ndim, t->shape, &numel) != 0)
        return wb_err(err, WB_E_INTERNAL, path, "tensor '%s' has a bad shape",
                      t->name ? t->name : "");
    char dict[512];
    int k = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < t->ndim; d++)
        k += snprintf(dict + k, sizeof dict - (size_t)k, d ? ", %lld" : "%lld",
                      (long long)t->shape[d]);
    k += snprintf(dict + k, sizeof dict - (size_t)k, "%s), }", t->ndim == 1 ? "," : "");
    /* total = magic(6) + version(2) + len(2) + dict + padding + '\n', a multiple of 64 */
    size_t pre = 10, body = (size_t)k + 1;
    size_t total = (pre + body + 63) / 64 * 64;
    unsigned char head[640];
    memset(head, ' ', sizeof head);
    memcpy(head, "\x93NUMPY\x01\x00", 8);
    size_t hlen = total - pre;
    head[8] = (unsigned char)hlen;
    head[9] = (unsigned char)(hlen >> 8);
    memcpy(head + pre, dict, (size_t)k);
    head[total - 1] = '\n';

    io_atomic_file af;
    if (io_atomic_open(&af, path, err) != 0)
        return -1;
    int ok = fwrite(head, 1, total, af.f) == total;
    unsigned char buf[4096 * 4];
    for (size_t done = 0; ok && done < (size_t)numel;) {
        size_t n = (size_t)numel - done < 4096 ? (size_t)numel - done : 4096;
        put_f32_le(buf, t->data + done, n);
        ok = fwrite(buf, 4, n, af.f) == n;
        done += n;
    }
    if (!ok) {
        int e = errno;
        io_atomic_abort(&af);
        return wb_err(err, WB_E_WRITE, path, "write failed: %s", strerror(e));
    }
    return io_atomic_commit(&af, err);
}
