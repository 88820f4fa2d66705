/* io_safetensors.c — safetensors reader and writer on top of io_json. */
#include "io/io_safetensors.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_fs.h"

#include "io/io_json.h"

typedef struct {
    const io_json_node *node;
    const char *name;
    wb_dtype dt;
    int ndim;
    int64_t shape[WB_TENSOR_MAX_DIMS];
    uint64_t begin, end;
} st_entry;

static int dtype_from_string(const char *s, wb_dtype *dt)
{
    static const struct { const char *s; wb_dtype dt; } map[] = {
        {"F64", WB_DT_F64}, {"F32", WB_DT_F32}, {"F16", WB_DT_F16}, {"BF16", WB_DT_BF16},
        {"I64", WB_DT_I64}, {"I32", WB_DT_I32}, {"I16", WB_DT_I16}, {"I8", WB_DT_I8},
        {"U8", WB_DT_U8},   {"BOOL", WB_DT_BOOL},
    };
    for (size_t k = 0; k < sizeof map / sizeof map[0]; k++)
        if (strcmp(s, map[k].s) == 0) {
            *dt = map[k].dt;
            return 0;
        }
    return -1;
}

static int cmp_begin(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Validates one header entry (a tensor description) into e. */
static int parse_entry(const char *path, const io_json_doc *doc, const io_json_node *m,
                       uint64_t hbase, st_entry *e, wb_error *err)
{
    e->node = m;
    e->name = m->key;
    unsigned long long at = (unsigned long long)(hbase + m->offset);
    if (m->key_len == 0 || m->key_len > WB_TENSOR_MAX_NAME || strlen(m->key) != m->key_len)
        return wb_err(err, WB_E_DATA, path,
                      "at byte %llu: tensor name empty, longer than %d bytes or containing NUL",
                      at, WB_TENSOR_MAX_NAME);
    if (m->type != IO_JSON_OBJECT)
        return wb_err(err, WB_E_DATA, path, "at byte %llu: tensor '%s': expected an object", at,
                      m->key);
    const io_json_node *dt = io_json_get(doc, m, "dtype");
    const io_json_node *sh = io_json_get(doc, m, "shape");
    const io_json_node *off = io_json_get(doc, m, "data_offsets");
    if (!dt || !sh || !off || m->count != 3)
        return wb_err(err, WB_E_DATA, path,
                      "at byte %llu: tensor '%s': expected exactly the keys dtype, shape, "
                      "data_offsets",
                      at, m->key);
    if (dt->type != IO_JSON_STRING || dtype_from_string(dt->str, &e->dt) != 0)
        return wb_err(err, WB_E_DATA, path,
                      "at byte %llu: tensor '%s': unsupported dtype %s%s%s (supported: F64 F32 "
                      "F16 BF16 I64 I32 I16 I8 U8 BOOL)",
                      (unsigned long long)(hbase + dt->offset), m->key,
                      dt->type == IO_JSON_STRING ? "'" : "",
                      dt->type == IO_JSON_STRING ? dt->str : "(not a string)",
                      dt->type == IO_JSON_STRING ? "'" : "");
    if (sh->type != IO_JSON_ARRAY || sh->count > WB_TENSOR_MAX_DIMS)
        return wb_err(err, WB_E_DATA, path,
                      "at byte %llu: tensor '%s': shape must be an array of at most %d integers",
                      (unsigned long long)(hbase + sh->offset), m->key, WB_TENSOR_MAX_DIMS);
    e->ndim = 0;
    for (int32_t c = sh->first; c >= 0; c = doc->nodes[c].next) {
        const io_json_node *d = &doc->nodes[c];
        if (d->type != IO_JSON_NUMBER || !d->is_int || d->i < 0)
            return wb_err(err, WB_E_DATA, path,
                          "at byte %llu: tensor '%s': shape entries must be non-negative "
                          "integers",
                          (unsigned long long)(hbase + d->offset), m->key);
        e->shape[e->ndim++] = d->i;
    }
    if (off->type != IO_JSON_ARRAY || off->count != 2)
        return wb_err(err, WB_E_DATA, path,
                      "at byte %llu: tensor '%s': data_offsets must be [begin, end]",
                      (unsigned long long)(hbase + off->offset), m->key);
    const io_json_node *b = &doc->nodes[off->first], *en = &doc->nodes[b->next];
    if (b->type != IO_JSON_NUMBER || !b->is_int || b->i < 0 || en->type != IO_JSON_NUMBER ||
        !en->is_int || en->i < b->i)
        return wb_err(err, WB_E_DATA, path,
                      "at byte %llu: tensor '%s': data_offsets must be integers with "
                      "0 <= begin <= end",
                      (unsigned long long)(hbase + off->offset), m->key);
    e->begin = (uint64_t)b->i;
    e->end = (uint64_t)en->i;
    int64_t numel;
    if (wb_shape_numel(e->ndim, e->shape, &numel) != 0)
        return wb_err(err, WB_E_DATA, path,
                      "at byte %llu: tensor '%s': shape has more than %lld elements",
                      (unsigned long long)(hbase + sh->offset), m->key,
                      (long long)WB_TENSOR_MAX_NUMEL);
    uint64_t nbytes = (uint64_t)numel * wb_dtype_size(e->dt);
    if (e->end - e->begin != nbytes)
        return wb_err(err, WB_E_DATA, path,
                      "at byte %llu: tensor '%s': data_offsets [%llu, %llu] span %llu bytes "
                      "but shape and dtype need %llu",
                      (unsigned long long)(hbase + off->offset), m->key,
                      (unsigned long long)e->begin, (unsigned long long)e->end,
                      (unsigned long long)(e->end - e->begin), (unsigned long long)nbytes);
    return 0;
}

int io_safetensors_read(const char *path, wb_tensor_list *out, wb_error *err)
{
    size_t n0 = out->n;
    char *hdr = NULL;
    st_entry *ents = NULL;
    unsigned char *chunk = NULL;
    io_json_doc doc = {0};
    uint64_t fsize = 0;
    FILE *f = io_fs_fopen_input(path, 0, &fsize, err);
    if (!f)
        return -1;
    unsigned char len8[8];
    if (fsize < 8 || fread(len8, 1, 8, f) != 8) {
        wb_err(err, WB_E_DATA, path, "at byte 0: file too short for a safetensors header");
        goto fail;
    }
    uint64_t hlen = 0;
    for (int k = 7; k >= 0; k--)
        hlen = (hlen << 8) | len8[k];
    if (hlen > IO_SAFETENSORS_MAX_HEADER) {
        wb_err(err, WB_E_DATA, path,
               "at byte 0: header length %llu is over the %u-byte limit (the file has %llu "
               "bytes)",
               (unsigned long long)hlen, IO_SAFETENSORS_MAX_HEADER, (unsigned long long)fsize);
        goto fail;
    }
    if (hlen > fsize - 8) {
        wb_err(err, WB_E_DATA, path,
               "at byte 0: header length %llu runs past the end of the file (%llu bytes)",
               (unsigned long long)hlen, (unsigned long long)fsize);
        goto fail;
    }
    hdr = malloc(hlen ? hlen : 1);
    if (!hdr) {
        wb_err(err, WB_E_NOMEM, path, "out of memory for a %llu-byte header",
               (unsigned long long)hlen);
        goto fail;
    }
    if (fread(hdr, 1, hlen, f) != hlen) {
        wb_err(err, WB_E_IO, path, "at byte 8: short read of the header");
        goto fail;
    }
    size_t jat;
    const char *jwhy;
    /* about 8 JSON values per tensor: bound the node array by the tensor cap, so a header
     * of a hundred million tiny values cannot make us allocate gigabytes */
    io_json_limits lim = {.max_depth = 16, .max_nodes = 16 * (size_t)WB_TENSOR_MAX_COUNT};
    if (io_json_parse(hdr, hlen, &lim, &doc, &jat, &jwhy) != 0) {
        wb_err(err, WB_E_DATA, path, "at byte %llu: bad JSON header: %s",
               (unsigned long long)(8 + jat), jwhy);
        goto fail;
    }
    const io_json_node *root = &doc.nodes[0];
    if (root->type != IO_JSON_OBJECT) {
        wb_err(err, WB_E_DATA, path, "at byte 8: the header must be a JSON object");
        goto fail;
    }
    size_t nt = 0;
    ents = calloc(root->count ? root->count : 1, sizeof *ents);
    if (!ents) {
        wb_err(err, WB_E_NOMEM, path, "out of memory");
        goto fail;
    }
    for (int32_t c = root->first; c >= 0; c = doc.nodes[c].next) {
        const io_json_node *m = &doc.nodes[c];
        if (strcmp(m->key, "__metadata__") == 0 && m->key_len == 12) {
            if (m->type != IO_JSON_OBJECT) {
                wb_err(err, WB_E_DATA, path, "at byte %llu: __metadata__ must be an object",
                       (unsigned long long)(8 + m->offset));
                goto fail;
            }
            for (int32_t v = m->first; v >= 0; v = doc.nodes[v].next)
                if (doc.nodes[v].type != IO_JSON_STRING) {
                    wb_err(err, WB_E_DATA, path,
                           "at byte %llu: __metadata__ values must be strings",
                           (unsigned long long)(8 + doc.nodes[v].offset));
                    goto fail;
                }
            continue;
        }
        if (nt >= WB_TENSOR_MAX_COUNT) {
            wb_err(err, WB_E_DATA, path, "more than %d tensors", WB_TENSOR_MAX_COUNT);
            goto fail;
        }
        if (parse_entry(path, &doc, m, 8, &ents[nt], err) != 0)
            goto fail;
        nt++;
    }
    /* the tensors must tile [0, data size) exactly, as the reference reader requires */
    uint64_t dbase = 8 + hlen, dsize = fsize - dbase;
    qsort(ents, nt, sizeof *ents, cmp_begin);
    uint64_t pos = 0;
    for (size_t k = 0; k < nt; k++) {
        if (ents[k].begin != pos) {
            wb_err(err, WB_E_DATA, path,
                   "tensor '%s': data_offsets begin at %llu but the previous tensor ends at "
                   "%llu (gap or overlap)",
                   ents[k].name, (unsigned long long)ents[k].begin, (unsigned long long)pos);
            goto fail;
        }
        if (ents[k].end > dsize) {
            wb_err(err, WB_E_DATA, path,
                   "tensor '%s': data_offsets end at %llu, past the %llu-byte data buffer "
                   "(file truncated?)",
                   ents[k].name, (unsigned long long)ents[k].end, (unsigned long long)dsize);
            goto fail;
        }
        pos = ents[k].end;
    }
    if (pos != dsize) {
        wb_err(err, WB_E_DATA, path,
               "at byte %llu: %llu bytes after the last tensor's data",
               (unsigned long long)(dbase + pos), (unsigned long long)(dsize - pos));
        goto fail;
    }
    const size_t chunk_bytes = 1 << 16;
    chunk = malloc(chunk_bytes);
    if (!chunk) {
        wb_err(err, WB_E_NOMEM, path, "out of memory");
        goto fail;
    }
    for (size_t k = 0; k < nt; k++) {
        const st_entry *e = &ents[k];
        wb_tensor *t = wb_tensor_list_push(out, e->name, e->ndim, e->shape, e->dt, err);
        if (!t) {
            if (err)
                snprintf(err->file, sizeof err->file, "%s", path);
            goto fail;
        }
        size_t es = wb_dtype_size(e->dt);
        uint64_t nel = (e->end - e->begin) / es;
        if (nel && fseeko(f, (off_t)(dbase + e->begin), SEEK_SET) != 0) {
            wb_err(err, WB_E_IO, path, "tensor '%s': cannot seek to byte %llu", e->name,
                   (unsigned long long)(dbase + e->begin));
            goto fail;
        }
        for (uint64_t done = 0; done < nel;) {
            size_t k2 = nel - done < chunk_bytes / es ? (size_t)(nel - done) : chunk_bytes / es;
            if (fread(chunk, es, k2, f) != k2) {
                wb_err(err, WB_E_IO, path,
                       "tensor '%s': short read at byte %llu (file changed while reading?)",
                       e->name, (unsigned long long)(dbase + e->begin + done * es));
                goto fail;
            }
            wb_dtype_to_f32(e->dt, chunk, k2, t->data + done);
            done += k2;
        }
    }
    free(chunk);
    free(ents);
    io_json_free(&doc);
    free(hdr);
    fclose(f);
    return 0;
fail:
    while (out->n > n0)
        wb_tensor_list_pop(out);
    free(chunk);
    free(ents);
    io_json_free(&doc);
    free(hdr);
    fclose(f);
    return -1;
}

/* ---- writer ---- */

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = '\0';
}

static void sb_str(sbuf *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* A JSON string literal, escaped as serde_json does. */
static void sb_json_string(sbuf *b, const char *s)
{
    sb_put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        switch (c) {
        case '"': sb_str(b, "\\\""); break;
        case '\\': sb_str(b, "\\\\"); break;
        case '\n': sb_str(b, "\\n"); break;
        case '\r': sb_str(b, "\\r"); break;
        case '\t': sb_str(b, "\\t"); break;
        case '\b': sb_str(b, "\\b"); break;
        case '\f': sb_str(b, "\\f"); break;
        default:
            if (c < 0x20) {
                snprintf(esc, sizeof esc, "\\u%04x", c);
                sb_str(b, esc);
            } else {
                sb_put(b, (const char *)&c, 1);
            }
        }
    }
    sb_put(b, "\"", 1);
}

static int cmp_name_idx(const void *a, const void *b)
{
    const wb_tensor *x = *(const wb_tensor *const *)a, *y = *(const wb_tensor *const *)b;
    return strcmp(x->name, y->name);
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

int io_safetensors_write(const char *path, const wb_tensor_list *l,
                         const char *const *meta_kv, size_t n_meta, wb_error *err)
{
    const wb_tensor **order = malloc((l->n ? l->n : 1) * sizeof *order);
    if (!order)
        return wb_err(err, WB_E_NOMEM, path, "out of memory");
    for (size_t i = 0; i < l->n; i++) {
        const wb_tensor *t = &l->items[i];
        int64_t numel;
        if (!t->name || !t->name[0] || !io_json_utf8_valid(t->name, strlen(t->name)) ||
            strcmp(t->name, "__metadata__") == 0 ||
            wb_shape_numel(t->ndim, t->shape, &numel) != 0) {
            free(order);
            return wb_err(err, WB_E_INTERNAL, path,
                          "tensor %zu ('%s'): name empty, reserved or not UTF-8, or bad shape",
                          i, t->name ? t->name : "");
        }
        order[i] = t;
    }
    qsort(order, l->n, sizeof *order, cmp_name_idx);
    for (size_t i = 1; i < l->n; i++)
        if (strcmp(order[i - 1]->name, order[i]->name) == 0) {
            wb_err(err, WB_E_INTERNAL, path, "duplicate tensor name '%s'", order[i]->name);
            free(order);
            return -1;
        }
    for (size_t i = 0; i < 2 * n_meta; i++)
        if (!meta_kv[i] || !io_json_utf8_valid(meta_kv[i], strlen(meta_kv[i]))) {
            free(order);
            return wb_err(err, WB_E_INTERNAL, path, "metadata string %zu is NULL or not UTF-8",
                          i);
        }

    sbuf b = {0};
    char num[64];
    sb_str(&b, "{");
    if (n_meta) {
        sb_str(&b, "\"__metadata__\":{");
        for (size_t i = 0; i < n_meta; i++) {
            if (i)
                sb_str(&b, ",");
            sb_json_string(&b, meta_kv[2 * i]);
            sb_str(&b, ":");
            sb_json_string(&b, meta_kv[2 * i + 1]);
        }
        sb_str(&b, "}");
    }
    uint64_t off = 0;
    for (size_t i = 0; i < l->n; i++) {
        const wb_tensor *t = order[i];
        if (i || n_meta)
            sb_str(&b, ",");
        sb_json_string(&b, t->name);
        sb_str(&b, ":{\"dtype\":\"F32\",\"shape\":[");
        for (int d = 0; d < t->ndim; d++) {
            snprintf(num, sizeof num, d ? ",%lld" : "%lld", (long long)t->shape[d]);
            sb_str(&b, num);
        }
        uint64_t nbytes = (uint64_t)wb_tensor_numel(t) * 4;
        snprintf(num, sizeof num, "],\"data_offsets\":[%llu,%llu]}", (unsigned long long)off,
                 (unsigned long long)(off + nbytes));
        sb_str(&b, num);
        off += nbytes;
    }
    sb_str(&b, "}");
    while (!b.oom && b.n % 8)
        sb_str(&b, " ");
    if (b.oom) {
        free(b.s);
        free(order);
        return wb_err(err, WB_E_NOMEM, path, "out of memory building the header");
    }

    io_atomic_file af;
    if (io_atomic_open(&af, path, err) != 0) {
        free(b.s);
        free(order);
        return -1;
    }
    unsigned char len8[8];
    for (int k = 0; k < 8; k++)
        len8[k] = (unsigned char)((uint64_t)b.n >> (8 * k));
    int ok = fwrite(len8, 1, 8, af.f) == 8 && fwrite(b.s, 1, b.n, af.f) == b.n;
    unsigned char buf[4096 * 4];
    for (size_t i = 0; ok && i < l->n; i++) {
        const wb_tensor *t = order[i];
        size_t numel = wb_tensor_numel(t);
        for (size_t done = 0; ok && done < numel;) {
            size_t n = numel - done < 4096 ? numel - done : 4096;
            put_f32_le(buf, t->data + done, n);
            ok = fwrite(buf, 4, n, af.f) == n;
            done += n;
        }
    }
    int e = errno;
    free(b.s);
    free(order);
    if (!ok) {
        io_atomic_abort(&af);
        return wb_err(err, WB_E_WRITE, path, "write failed: %s", strerror(e));
    }
    return io_atomic_commit(&af, err);
}
