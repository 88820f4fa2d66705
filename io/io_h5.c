/* io_h5.c — Keras .h5 weights through libhdf5's C API. */
#include "io/io_h5.h"

#include <stdlib.h>
#include <string.h>

#ifndef WB_HAVE_HDF5

int io_h5_available(void)
{
    return 0;
}

int io_h5_read(const char *path, wb_tensor_list *out, wb_error *err)
{
    (void)out;
    return wb_err(err, WB_E_DATA, path,
                  "this build cannot read HDF5 (.h5) files: libhdf5 was not found when it was "
                  "built (install libhdf5-dev and rebuild)");
}

#else

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <hdf5.h>

#include "io/io_fs.h"

#define H5_MAX_NAMES 100000
#define H5_MAX_STR 4096

int io_h5_available(void)
{
    return 1;
}

/* A list of strings read from one or more attributes. */
typedef struct {
    char **s;
    size_t n, cap;
} strlist;

static void strlist_free(strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    l->s = NULL;
    l->n = l->cap = 0;
}

static int strlist_add(strlist *l, const char *s, size_t len)
{
    if (l->n >= H5_MAX_NAMES)
        return -1;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **p = realloc(l->s, cap * sizeof *p);
        if (!p)
            return -1;
        l->s = p;
        l->cap = cap;
    }
    /* fixed-length strings may be NUL-padded */
    size_t k = 0;
    while (k < len && s[k])
        k++;
    char *c = malloc(k + 1);
    if (!c)
        return -1;
    memcpy(c, s, k);
    c[k] = '\0';
    l->s[l->n++] = c;
    return 0;
}

/* Appends the strings of attribute `name` on object obj (a 1-D or scalar string array). */
static int read_str_attr(const char *path, hid_t obj, const char *name, strlist *out,
                         wb_error *err)
{
    int rc = -1;
    hid_t a = -1, type = -1, space = -1, mem = -1;
    char *buf = NULL;
    char **vbuf = NULL;
    a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0)
        return wb_err(err, WB_E_DATA, path, "cannot open attribute '%s'", name);
    type = H5Aget_type(a);
    space = H5Aget_space(a);
    if (type < 0 || space < 0) {
        wb_err(err, WB_E_DATA, path, "cannot inspect attribute '%s'", name);
        goto done;
    }
    int nd = H5Sget_simple_extent_ndims(space);
    hssize_t n = H5Sget_simple_extent_npoints(space);
    if (nd < 0 || nd > 1 || n < 0 || n > H5_MAX_NAMES) {
        wb_err(err, WB_E_DATA, path, "attribute '%s' is not a 1-D array of at most %d strings",
               name, H5_MAX_NAMES);
        goto done;
    }
    if (n == 0) { /* Keras writes an empty float array for layers without weights */
        rc = 0;
        goto done;
    }
    if (H5Tget_class(type) != H5T_STRING) {
        wb_err(err, WB_E_DATA, path, "attribute '%s' is not a string array", name);
        goto done;
    }
    htri_t var = H5Tis_variable_str(type);
    if (var < 0)
        goto h5fail;
    mem = H5Tcopy(H5T_C_S1);
    if (mem < 0)
        goto h5fail;
    if (var) {
        if (H5Tset_size(mem, H5T_VARIABLE) < 0)
            goto h5fail;
        vbuf = calloc((size_t)n, sizeof *vbuf);
        if (!vbuf)
            goto nomem;
        if (H5Aread(a, mem, vbuf) < 0)
            goto h5fail;
        for (hssize_t i = 0; i < n; i++) {
            const char *s = vbuf[i] ? vbuf[i] : "";
            size_t len = strlen(s);
            if (len > H5_MAX_STR || strlist_add(out, s, len) != 0) {
                H5Dvlen_reclaim(mem, space, H5P_DEFAULT, vbuf);
                wb_err(err, WB_E_DATA, path, "attribute '%s': string too long or too many",
                       name);
                goto done;
            }
        }
        H5Dvlen_reclaim(mem, space, H5P_DEFAULT, vbuf);
    } else {
        size_t sz = H5Tget_size(type);
        if (sz == 0 || sz > H5_MAX_STR) {
            wb_err(err, WB_E_DATA, path, "attribute '%s': string size %zu out of range", name,
                   sz);
            goto done;
        }
        if (H5Tset_size(mem, sz) < 0 || H5Tset_strpad(mem, H5T_STR_NULLPAD) < 0)
            goto h5fail;
        buf = malloc((size_t)n * sz);
        if (!buf)
            goto nomem;
        if (H5Aread(a, mem, buf) < 0)
            goto h5fail;
        for (hssize_t i = 0; i < n; i++)
            if (strlist_add(out, buf + (size_t)i * sz, sz) != 0) {
                wb_err(err, WB_E_DATA, path, "attribute '%s': too many strings", name);
                goto done;
            }
    }
    rc = 0;
    goto done;
nomem:
    wb_err(err, WB_E_NOMEM, path, "out of memory reading attribute '%s'", name);
    goto done;
h5fail:
    wb_err(err, WB_E_DATA, path, "cannot read attribute '%s' (libhdf5 error)", name);
done:
    free(buf);
    free(vbuf);
    if (mem >= 0)
        H5Tclose(mem);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    H5Aclose(a);
    return rc;
}

/* Keras' save_attributes_to_hdf5_group splits big attributes into name0, name1, ... */
static int read_names(const char *path, hid_t obj, const char *name, strlist *out,
                      wb_error *err)
{
    htri_t ex = H5Aexists(obj, name);
    if (ex > 0)
        return read_str_attr(path, obj, name, out, err);
    char chunk[64];
    int k = 0;
    for (;; k++) {
        snprintf(chunk, sizeof chunk, "%s%d", name, k);
        if (H5Aexists(obj, chunk) <= 0)
            break;
        if (read_str_attr(path, obj, chunk, out, err) != 0)
            return -1;
    }
    if (k == 0)
        return 1; /* absent */
    return 0;
}

static wb_dtype h5_dtype(hid_t type)
{
    H5T_class_t c = H5Tget_class(type);
    size_t sz = H5Tget_size(type);
    if (c == H5T_FLOAT)
        return sz == 8 ? WB_DT_F64 : sz == 2 ? WB_DT_F16 : WB_DT_F32;
    if (c == H5T_INTEGER) {
        int sgn = H5Tget_sign(type) == H5T_SGN_2;
        switch (sz) {
        case 8: return WB_DT_I64;
        case 4: return WB_DT_I32;
        case 2: return WB_DT_I16;
        default: return sgn ? WB_DT_I8 : WB_DT_U8;
        }
    }
    return WB_DT_COUNT_;
}

/* "conv1/kernel:0" -> "kernel": the last path component without a ":<digits>" suffix. */
static void weight_short_name(const char *wn, char *buf, size_t n)
{
    const char *s = strrchr(wn, '/');
    s = s ? s + 1 : wn;
    snprintf(buf, n, "%s", s);
    char *colon = strrchr(buf, ':');
    if (colon && colon[1]) {
        char *d = colon + 1;
        while (*d >= '0' && *d <= '9')
            d++;
        if (*d == '\0')
            *colon = '\0';
    }
}

/* The dataset's values must be in this file: contiguous, compact or chunked storage, no
 * external raw-data files (H5Pset_external: a dataset can name /etc/passwd or /dev/zero as its
 * storage), no virtual layout (a mapping onto other files), and only filters this libhdf5
 * knows and has. */
static int check_storage(const char *path, const char *tname, hid_t dcpl, wb_error *err)
{
    H5D_layout_t layout = H5Pget_layout(dcpl);
    if (layout != H5D_CONTIGUOUS && layout != H5D_COMPACT && layout != H5D_CHUNKED)
        return wb_err(err, WB_E_DATA, path,
                      "tensor '%s': refusing a %s dataset: only contiguous, compact or chunked "
                      "storage inside the file is read",
                      tname, layout == H5D_VIRTUAL ? "virtual (a mapping onto other files)"
                                                   : "dataset of unknown layout");
    int next = H5Pget_external_count(dcpl);
    if (next != 0) {
        char name[256] = "";
        off_t off = 0;
        hsize_t size = 0;
        if (next < 0 || H5Pget_external(dcpl, 0, sizeof name, name, &off, &size) < 0)
            snprintf(name, sizeof name, "?");
        name[sizeof name - 1] = '\0';
        char shown[256];
        size_t k = 0;
        for (const char *c = name; *c && k + 1 < sizeof shown; c++)
            shown[k++] = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
        shown[k] = '\0';
        return wb_err(err, WB_E_DATA, path,
                      "tensor '%s': refusing external storage: the dataset's values are in "
                      "another file ('%s'%s), not in this one",
                      tname, shown, next > 1 ? " and others" : "");
    }
    int nf = H5Pget_nfilters(dcpl);
    if (nf < 0)
        return wb_err(err, WB_E_DATA, path, "tensor '%s': cannot list its filters", tname);
    for (int i = 0; i < nf; i++) {
        unsigned flags = 0, cd[8];
        size_t ncd = 8;
        char fname[64] = "";
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, sizeof fname,
                                         fname, NULL);
        fname[sizeof fname - 1] = '\0';
        int known = id == H5Z_FILTER_DEFLATE || id == H5Z_FILTER_SHUFFLE ||
                    id == H5Z_FILTER_FLETCHER32 || id == H5Z_FILTER_NBIT ||
                    id == H5Z_FILTER_SCALEOFFSET || id == H5Z_FILTER_SZIP;
        if (!known || H5Zfilter_avail(id) <= 0)
            return wb_err(err, WB_E_DATA, path,
                          "tensor '%s': filter %d is not one this program reads (deflate, "
                          "shuffle, fletcher32, nbit, scaleoffset, szip)",
                          tname, (int)id);
    }
    return 0;
}

/* Every link of the file, checked before anything is opened through one: external links
 * (to other files) and user-defined links are refused; soft links are paths inside this file
 * and can leave it only through an external link, which is refused wherever it is. */
typedef struct {
    const char *path;
    wb_error *err;
    long n;
    int refused;
} link_walk;

#if H5_VERSION_GE(1, 12, 0)
typedef H5L_info2_t wb_h5_linfo;
#define WB_H5_LVISIT H5Lvisit2
#else
typedef H5L_info_t wb_h5_linfo;
#define WB_H5_LVISIT H5Lvisit
#endif

#define H5_MAX_LINKS 1000000L
#define H5_MAX_DEPTH 64

static herr_t check_link(hid_t g, const char *name, const wb_h5_linfo *info, void *data)
{
    (void)g;
    link_walk *w = data;
    if (++w->n > H5_MAX_LINKS) {
        wb_err(w->err, WB_E_DATA, w->path, "more than %ld links in the file", H5_MAX_LINKS);
        w->refused = 1;
        return -1;
    }
    /* H5Lvisit descends recursively (inside libhdf5): stop before groups nest deep enough
     * to matter; the callback sees a group's name before anything below it */
    int depth = 1;
    for (const char *c = name; *c; c++)
        depth += *c == '/';
    if (depth > H5_MAX_DEPTH) {
        wb_err(w->err, WB_E_DATA, w->path, "groups nested more than %d deep", H5_MAX_DEPTH);
        w->refused = 1;
        return -1;
    }
    if (info->type == H5L_TYPE_HARD || info->type == H5L_TYPE_SOFT)
        return 0;
    char shown[300];
    size_t k = 0;
    for (const char *c = name; *c && k + 1 < sizeof shown; c++)
        shown[k++] = (unsigned char)*c < 0x20 || *c == 0x7f ? '?' : *c;
    shown[k] = '\0';
    wb_err(w->err, WB_E_DATA, w->path, "refusing the %s '/%s': it points outside this file",
           info->type == H5L_TYPE_EXTERNAL ? "external link" : "user-defined link", shown);
    w->refused = 1;
    return -1;
}

static int read_dataset(const char *path, hid_t layer, const char *lname, const char *wn,
                        uint64_t fsize, wb_tensor_list *out, wb_error *err)
{
    char short_name[512], tname[WB_TENSOR_MAX_NAME + 1];
    weight_short_name(wn, short_name, sizeof short_name);
    int tl = snprintf(tname, sizeof tname, "%s/%s", lname, short_name);
    if (tl < 0 || (size_t)tl >= sizeof tname || !short_name[0])
        return wb_err(err, WB_E_DATA, path, "layer '%s': weight name '%s' is empty or too long",
                      lname, wn);
    int rc = -1;
    hid_t d = -1, type = -1, space = -1, dcpl = -1;
    if (H5Lexists(layer, wn, H5P_DEFAULT) <= 0 ||
        (d = H5Dopen2(layer, wn, H5P_DEFAULT)) < 0)
        return wb_err(err, WB_E_DATA, path,
                      "tensor '%s': layer '%s' lists weight '%s' but has no such dataset",
                      tname, lname, wn);
    type = H5Dget_type(d);
    space = H5Dget_space(d);
    dcpl = H5Dget_create_plist(d);
    if (type < 0 || space < 0 || dcpl < 0)
        goto h5fail;
    if (check_storage(path, tname, dcpl, err) != 0)
        goto done;
    wb_dtype dt = h5_dtype(type);
    if (dt == WB_DT_COUNT_) {
        wb_err(err, WB_E_DATA, path, "tensor '%s': dataset is not numeric", tname);
        goto done;
    }
    int nd = H5Sget_simple_extent_ndims(space);
    if (nd < 0 || nd > WB_TENSOR_MAX_DIMS) {
        wb_err(err, WB_E_DATA, path, "tensor '%s': %d dimensions (at most %d)", tname, nd,
               WB_TENSOR_MAX_DIMS);
        goto done;
    }
    hsize_t dims[WB_TENSOR_MAX_DIMS];
    int64_t shape[WB_TENSOR_MAX_DIMS], numel;
    if (nd > 0 && H5Sget_simple_extent_dims(space, dims, NULL) != nd)
        goto h5fail;
    for (int k = 0; k < nd; k++)
        shape[k] = dims[k] > (hsize_t)WB_TENSOR_MAX_NUMEL ? -1 : (int64_t)dims[k];
    if (wb_shape_numel(nd, shape, &numel) != 0) {
        wb_err(err, WB_E_DATA, path, "tensor '%s': shape out of range (more than %lld elements)",
               tname, (long long)WB_TENSOR_MAX_NUMEL);
        goto done;
    }
    /* a hostile header must not make us allocate more than the file can back */
    uint64_t need = (uint64_t)numel * wb_dtype_size(dt);
    uint64_t have = H5Dget_storage_size(d);
    int filtered = H5Pget_nfilters(dcpl) > 0;
    /* filtered (compressed) data may expand, but at most 64 times: a few kB of deflated zeros
     * must not become gigabytes of tensor (real weights compress by less than 2) */
    if (have > fsize || (!filtered && have < need) || (filtered && need / 64 > have)) {
        wb_err(err, WB_E_DATA, path,
               "tensor '%s': dataset declares %lld elements (%llu bytes) but stores %llu bytes "
               "%s",
               tname, (long long)numel, (unsigned long long)need, (unsigned long long)have,
               filtered && have <= fsize ? "(compressed more than 64 times: refused)"
                                         : "(truncated file?)");
        goto done;
    }
    wb_tensor *t = wb_tensor_list_push(out, tname, nd, shape, dt, err);
    if (!t) {
        if (err)
            snprintf(err->file, sizeof err->file, "%s", path);
        goto done;
    }
    if (numel > 0 && H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, t->data) < 0) {
        wb_tensor_list_pop(out);
        wb_err(err, WB_E_DATA, path, "tensor '%s': cannot read dataset '%s' (libhdf5 error)",
               tname, wn);
        goto done;
    }
    rc = 0;
    goto done;
h5fail:
    wb_err(err, WB_E_DATA, path, "tensor '%s': cannot inspect dataset '%s' (libhdf5 error)",
           tname, wn);
done:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    H5Dclose(d);
    return rc;
}

static int h5_read_here(const char *path, wb_tensor_list *out, wb_error *err)
{
    size_t n0 = out->n;
    int rc = -1;
    hid_t f = -1, root = -1;
    strlist layers = {0}, weights = {0};
    uint64_t fsize = 0;
    int fd = io_fs_open_input(path, 0, &fsize, err); /* regular files only */
    if (fd < 0)
        return -1;
    char fdname[64];
    const char *open_as = io_fs_fd_name(fd, path, fdname, sizeof fdname);

    /* libhdf5 prints its error stack to stderr by default: silence it while we work */
    H5E_auto2_t old_fn = NULL;
    void *old_data = NULL;
    H5Eget_auto2(H5E_DEFAULT, &old_fn, &old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);

    htri_t is = H5Fis_hdf5(open_as);
    if (is <= 0) {
        wb_err(err, WB_E_DATA, path, "at byte 0: not an HDF5 file (no HDF5 signature)");
        goto done;
    }
    f = H5Fopen(open_as, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        wb_err(err, WB_E_DATA, path, "libhdf5 cannot open the file (truncated or corrupted?)");
        goto done;
    }
    link_walk lw = {path, err, 0, 0};
    if (WB_H5_LVISIT(f, H5_INDEX_NAME, H5_ITER_NATIVE, check_link, &lw) < 0) {
        if (!lw.refused)
            wb_err(err, WB_E_DATA, path, "cannot walk the file's links (libhdf5 error)");
        goto done;
    }
    const char *where = "model_weights";
    if (H5Lexists(f, "model_weights", H5P_DEFAULT) > 0) {
        root = H5Gopen2(f, "model_weights", H5P_DEFAULT);
    } else {
        where = "/";
        root = H5Gopen2(f, "/", H5P_DEFAULT);
    }
    if (root < 0) {
        wb_err(err, WB_E_DATA, path, "cannot open group '%s'", where);
        goto done;
    }
    int r = read_names(path, root, "layer_names", &layers, err);
    if (r < 0)
        goto done;
    if (r > 0) {
        wb_err(err, WB_E_DATA, path,
               "no 'layer_names' attribute on '%s': not a Keras weights file", where);
        goto done;
    }
    for (size_t i = 0; i < layers.n; i++) {
        const char *lname = layers.s[i];
        hid_t lg = -1;
        if (!lname[0] || H5Lexists(root, lname, H5P_DEFAULT) <= 0 ||
            (lg = H5Gopen2(root, lname, H5P_DEFAULT)) < 0) {
            wb_err(err, WB_E_DATA, path, "layer '%s' is listed in layer_names but missing",
                   lname);
            goto done;
        }
        strlist_free(&weights);
        r = read_names(path, lg, "weight_names", &weights, err);
        if (r > 0) {
            H5Gclose(lg);
            wb_err(err, WB_E_DATA, path, "layer '%s' has no 'weight_names' attribute", lname);
            goto done;
        }
        for (size_t k = 0; r == 0 && k < weights.n; k++)
            if (read_dataset(path, lg, lname, weights.s[k], fsize, out, err) != 0)
                r = -1;
        H5Gclose(lg);
        if (r != 0)
            goto done;
    }
    rc = 0;
done:
    if (rc != 0)
        while (out->n > n0)
            wb_tensor_list_pop(out);
    strlist_free(&layers);
    strlist_free(&weights);
    if (root >= 0)
        H5Gclose(root);
    if (f >= 0)
        H5Fclose(f);
    H5Eset_auto2(H5E_DEFAULT, old_fn, old_data);
    close(fd);
    return rc;
}


/* ---- libhdf5 in a child process ----
 * libhdf5 is not memory-safe on hostile files (a libFuzzer campaign on this reader found a
 * wild free, a malloc(SIZE_MAX) and leaks inside libhdf5 1.10.8 within seconds,
 * docs/security.md), so the file is read in a forked child, which sends the tensors (or its
 * error) back through a pipe: whatever libhdf5 does to the child, the workbench gets an error
 * naming the file. The parent checks every record it reads as it would a file. */

typedef struct h5_rec { /* one tensor, then its name and numel floats */
    uint32_t name_len;
    int32_t ndim, dtype;
    int64_t shape[WB_TENSOR_MAX_DIMS];
} h5_rec;

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w, n -= (size_t)w;
    }
    return 0;
}

/* 1 all n bytes read, 0 the pipe ended first, -1 a read error. */
static int read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n > ((size_t)1 << 30) ? (size_t)1 << 30 : n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return -1;
        if (r == 0) return 0;
        c += r, n -= (size_t)r;
    }
    return 1;
}

enum { H5_CHILD_SECONDS = 600 }; /* a real weights file takes seconds; a hostile one may loop */

static void h5_child(const char *path, int fd)
{
    alarm(H5_CHILD_SECONDS); /* SIGALRM ends a libhdf5 that never returns */
    wb_tensor_list l;
    wb_tensor_list_init(&l);
    wb_error e;
    wb_error_clear(&e);
    int32_t st = h5_read_here(path, &l, &e) == 0 ? 0 : 1;
    int bad = write_all(fd, &st, sizeof st);
    if (st) bad = bad || write_all(fd, &e, sizeof e);
    uint64_t n = st ? 0 : l.n;
    if (!st) bad = bad || write_all(fd, &n, sizeof n);
    for (size_t i = 0; !bad && i < n; i++) {
        const wb_tensor *t = &l.items[i];
        h5_rec r = {(uint32_t)strlen(t->name), t->ndim, (int32_t)t->file_dtype, {0}};
        memcpy(r.shape, t->shape, sizeof r.shape);
        bad = write_all(fd, &r, sizeof r) || write_all(fd, t->name, r.name_len) ||
              write_all(fd, t->data, wb_tensor_numel(t) * sizeof *t->data);
    }
    /* _exit: no atexit handlers (libhdf5's library close, which loops on a damaged file's
     * state), no leak check of libhdf5's allocations in a sanitized build */
    _exit(bad ? 2 : 0);
}

int io_h5_read(const char *path, wb_tensor_list *out, wb_error *err)
{
    int fd[2];
    if (pipe(fd) != 0)
        return wb_err(err, WB_E_IO, path, "cannot start the HDF5 reader: %s", strerror(errno));
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close(fd[0]);
        close(fd[1]);
        return wb_err(err, WB_E_IO, path, "cannot start the HDF5 reader: %s", strerror(e));
    }
    if (pid == 0) {
        close(fd[0]);
        h5_child(path, fd[1]);
    }
    close(fd[1]);
    const size_t n0 = out->n;
    int32_t st = -1;
    uint64_t n = 0;
    int rc = -1, got = read_all(fd[0], &st, sizeof st), reported = 0;
    if (got == 1 && st == 1) {
        wb_error e;
        if (read_all(fd[0], &e, sizeof e) == 1) {
            e.file[sizeof e.file - 1] = e.key[sizeof e.key - 1] = e.msg[sizeof e.msg - 1] = 0;
            if (err) *err = e;
            reported = 1;
        }
    } else if (got == 1 && st == 0 && read_all(fd[0], &n, sizeof n) == 1 && n <= WB_TENSOR_MAX_COUNT) {
        size_t i = 0;
        for (; i < n; i++) {
            h5_rec r;
            char name[WB_TENSOR_MAX_NAME + 1];
            int64_t numel;
            if (read_all(fd[0], &r, sizeof r) != 1 || r.name_len < 1 || r.name_len > WB_TENSOR_MAX_NAME ||
                r.dtype < 0 || r.dtype >= WB_DT_COUNT_ || wb_shape_numel(r.ndim, r.shape, &numel) != 0 ||
                read_all(fd[0], name, r.name_len) != 1)
                break;
            name[r.name_len] = 0;
            wb_tensor *t = wb_tensor_list_push(out, name, r.ndim, r.shape, (wb_dtype)r.dtype, err);
            if (!t) {
                reported = 1;
                break;
            }
            if (read_all(fd[0], t->data, (size_t)numel * sizeof *t->data) != 1) break;
        }
        rc = i == n ? 0 : -1;
    }
    close(fd[0]);
    int ws = 0;
    while (waitpid(pid, &ws, 0) < 0 && errno == EINTR) {
    }
    if (rc == 0 && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0)) rc = -1;
    if (rc != 0) {
        while (out->n > n0) wb_tensor_list_pop(out);
        if (!reported || (st == 0 && !(WIFEXITED(ws) && WEXITSTATUS(ws) == 0))) {
            if (WIFSIGNALED(ws) && WTERMSIG(ws) == SIGALRM)
                wb_err(err, WB_E_DATA, path, "libhdf5 did not finish reading this file in %d s: not a readable Keras .h5 file",
                       H5_CHILD_SECONDS);
            else if (WIFSIGNALED(ws))
                wb_err(err, WB_E_DATA, path, "libhdf5 crashed reading this file (signal %d): not a readable Keras .h5 file",
                       WTERMSIG(ws));
            else
                wb_err(err, WB_E_DATA, path, "libhdf5 failed reading this file (reader exit status %d): not a readable "
                       "Keras .h5 file", WIFEXITED(ws) ? WEXITSTATUS(ws) : -1);
        }
    }
    return rc;
}

#endif
