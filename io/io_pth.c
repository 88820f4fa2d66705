/* io_pth.c — torch.save reader: a minimal ZIP central-directory reader, the legacy container,
 * and a restricted pickle machine that builds values instead of calling anything.
 *
 * Memory: every pickle value is allocated on one list owned by the loader and freed at the
 * end, so shared references (BINGET, DUP) need no counting. All sizes and counts are bounded
 * by the input: each opcode creates at most one value, each memo index must be below the
 * byte position, so a hostile file cannot make us allocate much more than its own size. */
#include "io/io_pth.h"
#include "io/io_fs.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------------------------------------
 * Loader context and errors
 * ---------------------------------------------------------------------------------------- */

typedef enum {
    PV_NONE,
    PV_BOOL,
    PV_INT,
    PV_BIGINT, /* LONG1 wider than 64 bits: raw little-endian bytes in s/len */
    PV_FLOAT,
    PV_STR,
    PV_BYTES,
    PV_TUPLE,
    PV_LIST,
    PV_DICT, /* items = k0, v0, k1, v1, ... */
    PV_GLOBAL,
    PV_STORAGE,
    PV_TENSOR
} pv_type;

typedef struct pv {
    pv_type type;
    int64_t i;         /* INT, BOOL; GLOBAL: its id; STORAGE: index in the storage table */
    double f;
    char *s;           /* STR, BYTES, BIGINT (owned, NUL-terminated) */
    size_t len;
    struct pv **items; /* TUPLE, LIST, DICT (owned array) */
    size_t n, cap;
    /* STORAGE: a view of [view_off, view_off + view_numel) of the table entry */
    int64_t view_off, view_numel;
    /* TENSOR */
    struct pv *storage;
    int64_t offset;
    int ndim;
    int64_t shape[WB_TENSOR_MAX_DIMS], stride[WB_TENSOR_MAX_DIMS];
    struct pv *next_alloc;
} pv;

typedef struct {
    char *key;             /* owned */
    wb_dtype dt;
    int64_t numel;         /* declared in the pickle */
    const unsigned char *data; /* into the file buffer, NULL until found */
    uint64_t data_at;      /* file offset of data, for messages */
} storage_rec;

typedef struct {
    const char *path;
    const unsigned char *file; /* the whole file */
    size_t file_n;
    wb_error *err;
    pv *all;
    size_t nalloc;
    storage_rec *st;
    size_t nst, stcap;
    size_t mem, mem_cap; /* bytes the unpickler holds, and its budget (mem_budget) */
    int over;            /* the budget was exceeded */
} loader;

#define MAX_VALUES ((size_t)1 << 26)
#define MAX_STACK ((size_t)1 << 24)
#define MAX_STR ((size_t)1 << 20) /* strings in a state-dict pickle are names */

/* The unpickler's memory is bounded by the size of the file it reads: MEM_BASE plus MEM_FACTOR
 * times the file's bytes (values, containers, strings, stack, marks and memo). A state dict's
 * pickle is a small part of its file (the tensor data is the rest), so real files stay far
 * below it, while a pickle of 2-byte opcodes that each make a ~250-byte value (an 8 MB file of
 * "]a" pairs held 1 GB before this) is refused once it has used the budget. */
#define MEM_BASE ((size_t)32 << 20)
#define MEM_FACTOR 4

static size_t mem_budget(size_t file_n)
{
    return file_n > (SIZE_MAX - MEM_BASE) / MEM_FACTOR ? SIZE_MAX : MEM_BASE + MEM_FACTOR * file_n;
}

/* Counts `bytes` against the budget; -1 (and L->over) when they do not fit. */
static int charge(loader *L, size_t bytes)
{
    if (bytes > L->mem_cap - L->mem) {
        L->over = 1;
        return -1;
    }
    L->mem += bytes;
    return 0;
}

static void uncharge(loader *L, size_t bytes)
{
    L->mem = bytes < L->mem ? L->mem - bytes : 0;
}

static int lfail(loader *L, uint64_t at, const char *where, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int lfail(loader *L, uint64_t at, const char *where, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (where && where[0])
        return wb_err(L->err, WB_E_DATA, L->path, "at byte %llu (%s): %s",
                      (unsigned long long)at, where, msg);
    return wb_err(L->err, WB_E_DATA, L->path, "at byte %llu: %s", (unsigned long long)at,
                  msg);
}

static pv *pv_new(loader *L, pv_type type)
{
    if (L->nalloc >= MAX_VALUES || charge(L, sizeof(pv) + 16) != 0)
        return NULL;
    pv *v = calloc(1, sizeof *v);
    if (!v)
        return NULL;
    v->type = type;
    v->next_alloc = L->all;
    L->all = v;
    L->nalloc++;
    return v;
}

static void loader_free(loader *L)
{
    pv *v = L->all;
    while (v) {
        pv *next = v->next_alloc;
        free(v->s);
        free(v->items);
        free(v);
        v = next;
    }
    L->all = NULL;
    for (size_t i = 0; i < L->nst; i++)
        free(L->st[i].key);
    free(L->st);
    L->st = NULL;
    L->nst = L->stcap = 0;
}

static int pv_append(loader *L, pv *c, pv *x)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        if (cap > MAX_STACK || charge(L, (cap - c->cap) * sizeof *c->items) != 0)
            return -1;
        pv **items = realloc(c->items, cap * sizeof *items);
        if (!items)
            return -1;
        c->items = items;
        c->cap = cap;
    }
    c->items[c->n++] = x;
    return 0;
}

static int pv_is_str(const pv *v, const char *s)
{
    return v && v->type == PV_STR && strlen(s) == v->len && memcmp(v->s, s, v->len) == 0;
}

/* ------------------------------------------------------------------------------------------
 * Allowed globals
 * ---------------------------------------------------------------------------------------- */

enum {
    G_ORDERED_DICT,
    G_REBUILD_TENSOR,
    G_REBUILD_TENSOR_V2,
    G_REBUILD_PARAMETER,
    G_REBUILD_PARAMETER_WITH_STATE,
    G_REBUILD_FROM_TYPE_V2,
    G_TYPE_TENSOR,
    G_TYPE_PARAMETER,
    G_STORAGE_FIRST /* + wb_dtype */
};

static const struct {
    const char *module, *name;
    int id;
} k_globals[] = {
    {"collections", "OrderedDict", G_ORDERED_DICT},
    {"torch._utils", "_rebuild_tensor", G_REBUILD_TENSOR},
    {"torch._utils", "_rebuild_tensor_v2", G_REBUILD_TENSOR_V2},
    {"torch._utils", "_rebuild_parameter", G_REBUILD_PARAMETER},
    {"torch._utils", "_rebuild_parameter_with_state", G_REBUILD_PARAMETER_WITH_STATE},
    {"torch._utils", "_rebuild_from_type_v2", G_REBUILD_FROM_TYPE_V2},
    {"torch._tensor", "Tensor", G_TYPE_TENSOR},
    {"torch", "Tensor", G_TYPE_TENSOR},
    {"torch.nn.parameter", "Parameter", G_TYPE_PARAMETER},
    {"torch", "FloatStorage", G_STORAGE_FIRST + WB_DT_F32},
    {"torch", "DoubleStorage", G_STORAGE_FIRST + WB_DT_F64},
    {"torch", "HalfStorage", G_STORAGE_FIRST + WB_DT_F16},
    {"torch", "BFloat16Storage", G_STORAGE_FIRST + WB_DT_BF16},
    {"torch", "LongStorage", G_STORAGE_FIRST + WB_DT_I64},
    {"torch", "IntStorage", G_STORAGE_FIRST + WB_DT_I32},
    {"torch", "ShortStorage", G_STORAGE_FIRST + WB_DT_I16},
    {"torch", "CharStorage", G_STORAGE_FIRST + WB_DT_I8},
    {"torch", "ByteStorage", G_STORAGE_FIRST + WB_DT_U8},
    {"torch", "BoolStorage", G_STORAGE_FIRST + WB_DT_BOOL},
};

static const char *global_name(int id, char *buf, size_t n)
{
    for (size_t k = 0; k < sizeof k_globals / sizeof k_globals[0]; k++)
        if (k_globals[k].id == id) {
            snprintf(buf, n, "%s.%s", k_globals[k].module, k_globals[k].name);
            return buf;
        }
    snprintf(buf, n, "?");
    return buf;
}

/* Prints a possibly binary name for a message. */
static void printable(const char *s, size_t len, char *buf, size_t n)
{
    size_t k = 0, i = 0;
    for (; i < len && k + 8 < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '\'') {
            buf[k++] = (char)c;
        } else {
            snprintf(buf + k, n - k, "\\x%02x", c);
            k += 4;
        }
    }
    if (i < len) { /* cut short: say so */
        memcpy(buf + k, "...", 3);
        k += 3;
    }
    buf[k] = '\0';
}

/* ------------------------------------------------------------------------------------------
 * The restricted unpickler
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    loader *L;
    const unsigned char *buf; /* the pickle */
    size_t n, pos;
    uint64_t base;            /* file offset of buf[0] */
    const char *where;        /* zip entry name or "" */
    pv **stack;
    size_t sp, scap;
    size_t *marks;
    size_t nmarks, mcap;
    pv **memo;
    size_t memo_cap, memo_count;
    int legacy;               /* persistent ids carry view metadata */
} unpickler;

static int ufail(unpickler *u, size_t at, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int ufail(unpickler *u, size_t at, const char *fmt, ...)
{
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (u->L->over) /* whatever failed, the budget is why */
        snprintf(msg, sizeof msg,
                 "the pickle needs more than %zu bytes of memory, the limit for a %zu-byte "
                 "file (%zu MiB + %d x the file size): refused",
                 u->L->mem_cap, u->L->file_n, MEM_BASE >> 20, MEM_FACTOR);
    return lfail(u->L, u->base + at, u->where, "%s", msg);
}

static int push(unpickler *u, pv *v)
{
    if (!v)
        return -1;
    if (u->sp == u->scap) {
        size_t cap = u->scap ? u->scap * 2 : 64;
        if (cap > MAX_STACK || charge(u->L, (cap - u->scap) * sizeof *u->stack) != 0)
            return -1;
        pv **s = realloc(u->stack, cap * sizeof *s);
        if (!s)
            return -1;
        u->stack = s;
        u->scap = cap;
    }
    u->stack[u->sp++] = v;
    return 0;
}

/* Pops one value above the innermost mark; NULL if none. */
static pv *pop(unpickler *u)
{
    size_t floor = u->nmarks ? u->marks[u->nmarks - 1] : 0;
    if (u->sp <= floor)
        return NULL;
    return u->stack[--u->sp];
}

static pv *top(unpickler *u)
{
    size_t floor = u->nmarks ? u->marks[u->nmarks - 1] : 0;
    return u->sp > floor ? u->stack[u->sp - 1] : NULL;
}

/* Index of the innermost mark, removing it; (size_t)-1 if there is none. */
static size_t pop_mark(unpickler *u)
{
    if (!u->nmarks)
        return (size_t)-1;
    return u->marks[--u->nmarks];
}

static int need(unpickler *u, size_t at, size_t k)
{
    if (u->n - u->pos < k)
        return ufail(u, at, "pickle truncated: opcode needs %zu more bytes, %zu left", k,
                     u->n - u->pos);
    return 0;
}

static uint64_t rd_le(const unsigned char *p, int k)
{
    uint64_t v = 0;
    for (int i = k - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static int resolve_global(unpickler *u, size_t at, const char *mod, size_t mod_len,
                          const char *name, size_t name_len)
{
    for (size_t k = 0; k < sizeof k_globals / sizeof k_globals[0]; k++) {
        if (strlen(k_globals[k].module) == mod_len &&
            memcmp(k_globals[k].module, mod, mod_len) == 0 &&
            strlen(k_globals[k].name) == name_len &&
            memcmp(k_globals[k].name, name, name_len) == 0) {
            pv *v = pv_new(u->L, PV_GLOBAL);
            if (!v)
                return ufail(u, at, "out of memory");
            v->i = k_globals[k].id;
            return push(u, v) == 0 ? 0 : ufail(u, at, "pickle stack too deep");
        }
    }
    char m[200], nm[200];
    printable(mod, mod_len, m, sizeof m);
    printable(name, name_len, nm, sizeof nm);
    return ufail(u, at,
                 "refusing global '%s.%s': weight files may only reference tensor types "
                 "(collections.OrderedDict, torch._utils._rebuild_*, torch.*Storage)",
                 m, nm);
}

static int int_arg(const pv *v, int64_t *out)
{
    if (!v || (v->type != PV_INT && v->type != PV_BOOL))
        return -1;
    *out = v->i;
    return 0;
}

/* A tuple (or list) of at most 8 non-negative ints. */
static int dims_arg(const pv *v, int *ndim, int64_t *d)
{
    if (!v || (v->type != PV_TUPLE && v->type != PV_LIST) || v->n > WB_TENSOR_MAX_DIMS)
        return -1;
    for (size_t k = 0; k < v->n; k++)
        if (int_arg(v->items[k], &d[k]) != 0 || d[k] < 0)
            return -1;
    *ndim = (int)v->n;
    return 0;
}

/* Calls an allowed global natively. */
static pv *call_global(unpickler *u, size_t at, int id, pv *args, int depth)
{
    char gname[96];
    if (!args || args->type != PV_TUPLE) {
        ufail(u, at, "REDUCE of '%s' without an argument tuple",
              global_name(id, gname, sizeof gname));
        return NULL;
    }
    switch (id) {
    case G_ORDERED_DICT: {
        if (args->n != 0) {
            ufail(u, at, "collections.OrderedDict called with %zu arguments (expected none)",
                  args->n);
            return NULL;
        }
        pv *d = pv_new(u->L, PV_DICT);
        if (!d)
            ufail(u, at, "out of memory");
        return d;
    }
    case G_REBUILD_TENSOR:
    case G_REBUILD_TENSOR_V2: {
        size_t lo = id == G_REBUILD_TENSOR ? 4 : 6, hi = id == G_REBUILD_TENSOR ? 4 : 7;
        if (args->n < lo || args->n > hi) {
            ufail(u, at, "%s called with %zu arguments (expected %zu%s)",
                  global_name(id, gname, sizeof gname), args->n, lo, hi > lo ? " or 7" : "");
            return NULL;
        }
        pv *t = pv_new(u->L, PV_TENSOR);
        if (!t) {
            ufail(u, at, "out of memory");
            return NULL;
        }
        int nd_stride = 0;
        if (args->items[0]->type != PV_STORAGE || int_arg(args->items[1], &t->offset) != 0 ||
            t->offset < 0 || dims_arg(args->items[2], &t->ndim, t->shape) != 0 ||
            dims_arg(args->items[3], &nd_stride, t->stride) != 0 || nd_stride != t->ndim) {
            ufail(u, at,
                  "%s: expected (storage, offset >= 0, size, stride) with at most %d "
                  "non-negative dimensions and as many strides",
                  global_name(id, gname, sizeof gname), WB_TENSOR_MAX_DIMS);
            return NULL;
        }
        t->storage = args->items[0];
        return t;
    }
    case G_REBUILD_PARAMETER:
    case G_REBUILD_PARAMETER_WITH_STATE: {
        size_t want = id == G_REBUILD_PARAMETER ? 3 : 4;
        if (args->n != want || args->items[0]->type != PV_TENSOR) {
            ufail(u, at, "%s: expected (tensor, requires_grad, hooks%s)",
                  global_name(id, gname, sizeof gname), want == 4 ? ", state" : "");
            return NULL;
        }
        return args->items[0];
    }
    case G_REBUILD_FROM_TYPE_V2: {
        /* (func, type, args, state): a tensor subclass; only Tensor/Parameter are allowed */
        if (args->n != 4 || args->items[0]->type != PV_GLOBAL ||
            args->items[1]->type != PV_GLOBAL ||
            (args->items[1]->i != G_TYPE_TENSOR && args->items[1]->i != G_TYPE_PARAMETER) ||
            depth > 2) {
            ufail(u, at, "torch._utils._rebuild_from_type_v2: expected (rebuild function, "
                         "torch.Tensor or torch.nn.Parameter, args, state)");
            return NULL;
        }
        return call_global(u, at, (int)args->items[0]->i, args->items[2], depth + 1);
    }
    default:
        ufail(u, at, "global '%s' cannot be called", global_name(id, gname, sizeof gname));
        return NULL;
    }
}

static int storage_register(unpickler *u, size_t at, const pv *key, wb_dtype dt,
                            int64_t numel, size_t *idx)
{
    loader *L = u->L;
    for (size_t k = 0; k < L->nst; k++) {
        if (strlen(L->st[k].key) == key->len && memcmp(L->st[k].key, key->s, key->len) == 0) {
            if (L->st[k].dt != dt || L->st[k].numel != numel)
                return ufail(u, at,
                             "storage '%s' is declared twice with different types or sizes",
                             L->st[k].key);
            *idx = k;
            return 0;
        }
    }
    if (L->nst >= WB_TENSOR_MAX_COUNT)
        return ufail(u, at, "more than %d storages", WB_TENSOR_MAX_COUNT);
    if (L->nst == L->stcap) {
        size_t cap = L->stcap ? L->stcap * 2 : 16;
        storage_rec *s = realloc(L->st, cap * sizeof *s);
        if (!s)
            return ufail(u, at, "out of memory");
        L->st = s;
        L->stcap = cap;
    }
    storage_rec *r = &L->st[L->nst];
    memset(r, 0, sizeof *r);
    r->key = malloc(key->len + 1);
    if (!r->key)
        return ufail(u, at, "out of memory");
    memcpy(r->key, key->s, key->len + 1);
    r->dt = dt;
    r->numel = numel;
    *idx = L->nst++;
    return 0;
}

/* ('storage', StorageType, key, location, numel[, view_metadata]) -> a PV_STORAGE. */
static pv *persistent_load(unpickler *u, size_t at, const pv *pid)
{
    int64_t numel;
    if (!pid || pid->type != PV_TUPLE || pid->n < 5 || pid->n > 6 ||
        !pv_is_str(pid->items[0], "storage") || pid->items[1]->type != PV_GLOBAL ||
        pid->items[1]->i < G_STORAGE_FIRST || pid->items[2]->type != PV_STR ||
        int_arg(pid->items[4], &numel) != 0 || numel < 0 || (pid->n == 6 && !u->legacy)) {
        ufail(u, at,
              "persistent id is not ('storage', torch.<Type>Storage, key, location, numel%s)",
              u->legacy ? ", view" : "");
        return NULL;
    }
    if (numel > WB_TENSOR_MAX_NUMEL) {
        ufail(u, at, "storage declares %lld elements, over the limit of %lld", (long long)numel,
              (long long)WB_TENSOR_MAX_NUMEL);
        return NULL;
    }
    const pv *key = pid->items[2];
    if (key->len == 0 || key->len > 64 || memchr(key->s, '/', key->len) ||
        memchr(key->s, '\0', key->len) || pv_is_str(key, "..") || pv_is_str(key, ".")) {
        ufail(u, at, "storage key is empty, longer than 64 bytes or contains '/' or NUL");
        return NULL;
    }
    wb_dtype dt = (wb_dtype)(pid->items[1]->i - G_STORAGE_FIRST);
    size_t idx = 0;
    if (storage_register(u, at, key, dt, numel, &idx) != 0)
        return NULL;
    pv *s = pv_new(u->L, PV_STORAGE);
    if (!s) {
        ufail(u, at, "out of memory");
        return NULL;
    }
    s->i = (int64_t)idx;
    s->view_off = 0;
    s->view_numel = numel;
    if (pid->n == 6 && pid->items[5]->type != PV_NONE) {
        /* legacy storage view: (view_key, offset, size) into the root storage */
        const pv *vm = pid->items[5];
        int64_t off, sz;
        if (vm->type != PV_TUPLE || vm->n != 3 || vm->items[0]->type != PV_STR ||
            int_arg(vm->items[1], &off) != 0 || int_arg(vm->items[2], &sz) != 0 || off < 0 ||
            sz < 0 || off > numel || sz > numel - off) {
            ufail(u, at, "storage view (key, offset, size) lies outside storage '%s' of %lld "
                         "elements",
                  u->L->st[idx].key, (long long)numel);
            return NULL;
        }
        s->view_off = off;
        s->view_numel = sz;
    }
    return s;
}

/* Reads a pickle starting at buf[0]; *out is its value, *used the bytes up to and including
 * STOP. */
static int unpickle(loader *L, const unsigned char *buf, size_t n, uint64_t base,
                    const char *where, int legacy, pv **out, size_t *used)
{
    unpickler U = {0}, *u = &U;
    u->L = L;
    u->buf = buf;
    u->n = n;
    u->base = base;
    u->where = where;
    u->legacy = legacy;
    int rc = -1;
    for (;;) {
        size_t at = u->pos;
        if (u->pos >= u->n) {
            ufail(u, at, "pickle truncated: no STOP opcode");
            goto done;
        }
        unsigned op = buf[u->pos++];
        pv *v = NULL, *a = NULL, *b = NULL;
        uint64_t len = 0;
        switch (op) {
        case 0x80: /* PROTO */
            if (need(u, at, 1))
                goto done;
            if (buf[u->pos] > 5) {
                ufail(u, at, "unsupported pickle protocol %u", buf[u->pos]);
                goto done;
            }
            u->pos++;
            continue;
        case 0x95: /* FRAME: a length hint; the opcodes follow inline */
            if (need(u, at, 8))
                goto done;
            len = rd_le(buf + u->pos, 8);
            u->pos += 8;
            if (len > u->n - u->pos) {
                ufail(u, at, "pickle frame of %llu bytes runs past the end",
                      (unsigned long long)len);
                goto done;
            }
            continue;
        case '.': /* STOP */
            if (u->sp != 1 || u->nmarks) {
                ufail(u, at, "STOP with %zu values and %zu marks on the stack", u->sp,
                      u->nmarks);
                goto done;
            }
            *out = u->stack[0];
            *used = u->pos;
            rc = 0;
            goto done;
        case '(': /* MARK */
            if (u->nmarks == u->mcap) {
                size_t cap = u->mcap ? u->mcap * 2 : 16;
                size_t *m = cap <= MAX_STACK && charge(L, (cap - u->mcap) * sizeof *m) == 0
                                ? realloc(u->marks, cap * sizeof *m)
                                : NULL;
                if (!m) {
                    ufail(u, at, "too many nested marks");
                    goto done;
                }
                u->marks = m;
                u->mcap = cap;
            }
            u->marks[u->nmarks++] = u->sp;
            continue;
        case '}': v = pv_new(L, PV_DICT); break;
        case ']': v = pv_new(L, PV_LIST); break;
        case ')': v = pv_new(L, PV_TUPLE); break;
        case 'N': v = pv_new(L, PV_NONE); break;
        case 0x88:
        case 0x89:
            if ((v = pv_new(L, PV_BOOL)))
                v->i = op == 0x88;
            break;
        case 'K':
        case 'M':
        case 'J': {
            int k = op == 'K' ? 1 : op == 'M' ? 2 : 4;
            if (need(u, at, (size_t)k))
                goto done;
            uint64_t x = rd_le(buf + u->pos, k);
            u->pos += (size_t)k;
            if ((v = pv_new(L, PV_INT)))
                v->i = op == 'J' ? (int64_t)(int32_t)(uint32_t)x : (int64_t)x;
            break;
        }
        case 0x8a: { /* LONG1 */
            if (need(u, at, 1))
                goto done;
            size_t k = buf[u->pos++];
            if (need(u, at, k))
                goto done;
            if (k <= 8) {
                uint64_t x = k ? rd_le(buf + u->pos, (int)k) : 0;
                if (k && k < 8 && (buf[u->pos + k - 1] & 0x80))
                    x |= ~(uint64_t)0 << (8 * k); /* sign-extend */
                if ((v = pv_new(L, PV_INT)))
                    v->i = (int64_t)x;
            } else if ((v = pv_new(L, PV_BIGINT))) {
                v->s = charge(L, k + 1) == 0 ? malloc(k + 1) : NULL;
                if (v->s) {
                    memcpy(v->s, buf + u->pos, k);
                    v->s[k] = '\0';
                    v->len = k;
                } else {
                    v = NULL;
                }
            }
            u->pos += k;
            break;
        }
        case 'G': { /* BINFLOAT, big-endian */
            if (need(u, at, 8))
                goto done;
            uint64_t x = 0;
            for (int k = 0; k < 8; k++)
                x = (x << 8) | buf[u->pos + (size_t)k];
            u->pos += 8;
            if ((v = pv_new(L, PV_FLOAT)))
                memcpy(&v->f, &x, 8);
            break;
        }
        case 'X': case 0x8c: case 0x8d: /* BINUNICODE, SHORT_BINUNICODE, BINUNICODE8 */
        case 'T': case 'U':             /* BINSTRING, SHORT_BINSTRING */
        case 'B': case 'C': case 0x8e: { /* BINBYTES, SHORT_BINBYTES, BINBYTES8 */
            int k = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
            if (need(u, at, (size_t)k))
                goto done;
            len = rd_le(buf + u->pos, k);
            if (op == 'T' && (len >> 31)) { /* BINSTRING's length is signed */
                ufail(u, at, "negative string length");
                goto done;
            }
            u->pos += (size_t)k;
            if (len > u->n - u->pos) {
                ufail(u, at, "string of %llu bytes runs past the end of the pickle",
                      (unsigned long long)len);
                goto done;
            }
            if (len > MAX_STR) {
                ufail(u, at, "string of %llu bytes is over the %zu-byte limit",
                      (unsigned long long)len, MAX_STR);
                goto done;
            }
            int is_bytes = op == 'B' || op == 'C' || op == 0x8e;
            if ((v = pv_new(L, is_bytes ? PV_BYTES : PV_STR))) {
                v->s = charge(L, (size_t)len + 1) == 0 ? malloc((size_t)len + 1) : NULL;
                if (v->s) {
                    memcpy(v->s, buf + u->pos, (size_t)len);
                    v->s[len] = '\0';
                    v->len = (size_t)len;
                } else {
                    v = NULL;
                }
            }
            u->pos += (size_t)len;
            break;
        }
        case 'c': { /* GLOBAL "module\nname\n" */
            const unsigned char *p = buf + u->pos, *end = buf + u->n;
            const unsigned char *nl1 = memchr(p, '\n', (size_t)(end - p) < 256 ? (size_t)(end - p) : 256);
            const unsigned char *nl2 =
                nl1 ? memchr(nl1 + 1, '\n', (size_t)(end - nl1 - 1) < 256 ? (size_t)(end - nl1 - 1) : 256)
                    : NULL;
            if (!nl1 || !nl2) {
                ufail(u, at, "GLOBAL without two newline-terminated names (truncated?)");
                goto done;
            }
            u->pos = (size_t)(nl2 + 1 - buf);
            if (resolve_global(u, at, (const char *)p, (size_t)(nl1 - p),
                               (const char *)nl1 + 1, (size_t)(nl2 - nl1 - 1)) != 0)
                goto done;
            continue;
        }
        case 0x93: /* STACK_GLOBAL */
            b = pop(u);
            a = pop(u);
            if (!a || !b || a->type != PV_STR || b->type != PV_STR) {
                ufail(u, at, "STACK_GLOBAL needs two strings on the stack");
                goto done;
            }
            if (resolve_global(u, at, a->s, a->len, b->s, b->len) != 0)
                goto done;
            continue;
        case 'q': case 'r': case 0x94: { /* BINPUT, LONG_BINPUT, MEMOIZE */
            size_t idx;
            if (op == 0x94) {
                idx = u->memo_count;
            } else {
                int k = op == 'q' ? 1 : 4;
                if (need(u, at, (size_t)k))
                    goto done;
                idx = (size_t)rd_le(buf + u->pos, k);
                u->pos += (size_t)k;
            }
            v = top(u);
            if (!v) {
                ufail(u, at, "memo store with an empty stack");
                goto done;
            }
            /* picklers number memo entries from 0 upwards, one per opcode at most */
            if (idx > u->pos) {
                ufail(u, at, "memo index %zu is implausibly large", idx);
                goto done;
            }
            if (idx >= u->memo_cap) {
                size_t cap = u->memo_cap ? u->memo_cap : 64;
                while (cap <= idx)
                    cap *= 2;
                pv **m = charge(L, (cap - u->memo_cap) * sizeof *m) == 0
                             ? realloc(u->memo, cap * sizeof *m)
                             : NULL;
                if (!m) {
                    ufail(u, at, "out of memory");
                    goto done;
                }
                memset(m + u->memo_cap, 0, (cap - u->memo_cap) * sizeof *m);
                u->memo = m;
                u->memo_cap = cap;
            }
            if (!u->memo[idx])
                u->memo_count++;
            u->memo[idx] = v;
            continue;
        }
        case 'h': case 'j': { /* BINGET, LONG_BINGET */
            int k = op == 'h' ? 1 : 4;
            if (need(u, at, (size_t)k))
                goto done;
            size_t idx = (size_t)rd_le(buf + u->pos, k);
            u->pos += (size_t)k;
            if (idx >= u->memo_cap || !u->memo[idx]) {
                ufail(u, at, "memo entry %zu was never stored", idx);
                goto done;
            }
            v = u->memo[idx];
            break;
        }
        case 't': case 'l': case 'd': { /* TUPLE, LIST, DICT from the mark */
            size_t m = pop_mark(u);
            if (m == (size_t)-1) {
                ufail(u, at, "%s without a MARK", op == 't' ? "TUPLE" : op == 'l' ? "LIST" : "DICT");
                goto done;
            }
            if (op == 'd' && (u->sp - m) % 2) {
                ufail(u, at, "DICT with an odd number of items");
                goto done;
            }
            v = pv_new(L, op == 't' ? PV_TUPLE : op == 'l' ? PV_LIST : PV_DICT);
            if (!v)
                break;
            for (size_t k = m; k < u->sp; k++)
                if (pv_append(L, v, u->stack[k]) != 0) {
                    ufail(u, at, "out of memory");
                    goto done;
                }
            u->sp = m;
            break;
        }
        case 0x85: case 0x86: case 0x87: { /* TUPLE1..3 */
            size_t k = op - 0x84;
            size_t floor = u->nmarks ? u->marks[u->nmarks - 1] : 0;
            if (u->sp - floor < k) {
                ufail(u, at, "TUPLE%zu with %zu values on the stack", k, u->sp - floor);
                goto done;
            }
            v = pv_new(L, PV_TUPLE);
            if (!v)
                break;
            for (size_t j = u->sp - k; j < u->sp; j++)
                if (pv_append(L, v, u->stack[j]) != 0) {
                    ufail(u, at, "out of memory");
                    goto done;
                }
            u->sp -= k;
            break;
        }
        case 's': /* SETITEM */
            b = pop(u);
            a = pop(u);
            v = top(u);
            if (!a || !b || !v || v->type != PV_DICT) {
                ufail(u, at, "SETITEM needs a dict, a key and a value");
                goto done;
            }
            if (pv_append(L, v, a) != 0 || pv_append(L, v, b) != 0) {
                ufail(u, at, "out of memory or dict too large");
                goto done;
            }
            continue;
        case 'u': case 'e': { /* SETITEMS, APPENDS */
            size_t m = pop_mark(u);
            size_t floor = u->nmarks ? u->marks[u->nmarks - 1] : 0;
            if (m == (size_t)-1 || m <= floor || (op == 'u' && (u->sp - m) % 2)) {
                ufail(u, at, "%s without a MARK, target or with an odd item count",
                      op == 'u' ? "SETITEMS" : "APPENDS");
                goto done;
            }
            pv *c = u->stack[m - 1];
            if (c->type != (op == 'u' ? PV_DICT : PV_LIST)) {
                ufail(u, at, "%s on something that is not a %s", op == 'u' ? "SETITEMS" : "APPENDS",
                      op == 'u' ? "dict" : "list");
                goto done;
            }
            for (size_t k = m; k < u->sp; k++)
                if (pv_append(L, c, u->stack[k]) != 0) {
                    ufail(u, at, "out of memory or container too large");
                    goto done;
                }
            u->sp = m;
            continue;
        }
        case 'a': /* APPEND */
            a = pop(u);
            v = top(u);
            if (!a || !v || v->type != PV_LIST) {
                ufail(u, at, "APPEND needs a list and a value");
                goto done;
            }
            if (pv_append(L, v, a) != 0) {
                ufail(u, at, "out of memory or list too large");
                goto done;
            }
            continue;
        case '0': /* POP: a value, or the mark right on top */
            if (u->nmarks && u->marks[u->nmarks - 1] == u->sp) {
                u->nmarks--;
            } else if (!pop(u)) {
                ufail(u, at, "POP on an empty stack");
                goto done;
            }
            continue;
        case '1': { /* POP_MARK */
            size_t m = pop_mark(u);
            if (m == (size_t)-1) {
                ufail(u, at, "POP_MARK without a MARK");
                goto done;
            }
            u->sp = m;
            continue;
        }
        case '2': /* DUP */
            v = top(u);
            if (!v) {
                ufail(u, at, "DUP on an empty stack");
                goto done;
            }
            break;
        case 'R': case 0x81: { /* REDUCE, NEWOBJ: only our allowed globals, natively */
            a = pop(u);
            b = pop(u);
            if (!a || !b || b->type != PV_GLOBAL) {
                ufail(u, at, "%s needs an allowed global and an argument tuple",
                      op == 'R' ? "REDUCE" : "NEWOBJ");
                goto done;
            }
            v = call_global(u, at, (int)b->i, a, 0);
            if (!v)
                goto done;
            break;
        }
        case 'b': /* BUILD: state of an OrderedDict (_metadata) or a tensor is ignored */
            a = pop(u);
            v = top(u);
            if (!a || !v || (v->type != PV_DICT && v->type != PV_TENSOR)) {
                ufail(u, at, "BUILD is only allowed on dicts and tensors");
                goto done;
            }
            continue;
        case 'Q': /* BINPERSID */
            a = pop(u);
            v = persistent_load(u, at, a);
            if (!v)
                goto done;
            break;
        default:
            if (op >= 0x20 && op < 0x7f)
                ufail(u, at, "unsupported pickle opcode 0x%02x ('%c')", op, (int)op);
            else
                ufail(u, at, "unsupported pickle opcode 0x%02x", op);
            goto done;
        }
        /* the opcodes that produce a value end here */
        if (!v || push(u, v) != 0) {
            ufail(u, at, "out of memory or pickle too large");
            goto done;
        }
    }
done:
    free(u->stack);
    free(u->marks);
    free(u->memo);
    uncharge(L, u->scap * sizeof *u->stack + u->mcap * sizeof *u->marks +
                    u->memo_cap * sizeof *u->memo);
    return rc;
}

/* ------------------------------------------------------------------------------------------
 * ZIP (stored entries only)
 * ---------------------------------------------------------------------------------------- */

typedef struct {
    const char *name; /* into the file, not NUL-terminated */
    size_t name_len;
    const unsigned char *data;
    uint64_t size, data_at;
} zip_entry;

static int zip_read(loader *L, zip_entry **out, size_t *nout)
{
    const unsigned char *f = L->file;
    size_t n = L->file_n;
    *out = NULL;
    *nout = 0;
    if (n < 22)
        return lfail(L, 0, NULL, "zip file too short for an end-of-central-directory record");
    /* the EOCD record is in the last 22 + 65535 bytes */
    size_t lo = n > 22 + 65535 ? n - 22 - 65535 : 0, eocd = (size_t)-1;
    for (size_t p = n - 22 + 1; p-- > lo;)
        if (memcmp(f + p, "PK\x05\x06", 4) == 0) {
            eocd = p;
            break;
        }
    if (eocd == (size_t)-1)
        return lfail(L, n, NULL, "no zip end-of-central-directory record (truncated file?)");
    uint64_t count = rd_le(f + eocd + 10, 2), cd_size = rd_le(f + eocd + 12, 4),
             cd_off = rd_le(f + eocd + 16, 4);
    if (count == 0xffff || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        /* ZIP64: the locator sits right before the EOCD */
        if (eocd < 20 || memcmp(f + eocd - 20, "PK\x06\x07", 4) != 0)
            return lfail(L, eocd, NULL, "zip64 end-of-central-directory locator missing");
        uint64_t z = rd_le(f + eocd - 20 + 8, 8);
        if (z > n || n - z < 56 || memcmp(f + z, "PK\x06\x06", 4) != 0)
            return lfail(L, eocd - 20, NULL, "zip64 end-of-central-directory record missing");
        count = rd_le(f + z + 32, 8);
        cd_size = rd_le(f + z + 40, 8);
        cd_off = rd_le(f + z + 48, 8);
    }
    if (cd_off > n || cd_size > n - cd_off || count > WB_TENSOR_MAX_COUNT * 4u ||
        count > cd_size / 46)
        return lfail(L, eocd, NULL,
                     "zip central directory (%llu entries, %llu bytes at %llu) lies outside the "
                     "%zu-byte file",
                     (unsigned long long)count, (unsigned long long)cd_size,
                     (unsigned long long)cd_off, n);
    zip_entry *e = calloc(count ? count : 1, sizeof *e);
    if (!e)
        return lfail(L, cd_off, NULL, "out of memory");
    uint64_t p = cd_off, cd_end = cd_off + cd_size;
    for (uint64_t i = 0; i < count; i++) {
        if (cd_end - p < 46 || memcmp(f + p, "PK\x01\x02", 4) != 0) {
            free(e);
            return lfail(L, p, NULL, "bad zip central directory entry %llu",
                         (unsigned long long)i);
        }
        unsigned flags = (unsigned)rd_le(f + p + 8, 2), method = (unsigned)rd_le(f + p + 10, 2);
        uint32_t crc = (uint32_t)rd_le(f + p + 16, 4);
        uint64_t csize = rd_le(f + p + 20, 4), usize = rd_le(f + p + 24, 4);
        size_t nlen = (size_t)rd_le(f + p + 28, 2), xlen = (size_t)rd_le(f + p + 30, 2),
               clen = (size_t)rd_le(f + p + 32, 2);
        uint64_t loff = rd_le(f + p + 42, 4);
        if (cd_end - p - 46 < (uint64_t)nlen + xlen + clen) {
            free(e);
            return lfail(L, p, NULL, "zip central directory entry %llu overruns the directory",
                         (unsigned long long)i);
        }
        const char *name = (const char *)f + p + 46;
        char pname[160];
        printable(name, nlen, pname, sizeof pname);
        /* ZIP64 extra field: the 0xffffffff fields, in order usize, csize, offset */
        const unsigned char *x = f + p + 46 + nlen, *xend = x + xlen;
        while (xend - x >= 4) {
            unsigned id = (unsigned)rd_le(x, 2), sz = (unsigned)rd_le(x + 2, 2);
            if ((size_t)(xend - x - 4) < sz)
                break;
            if (id == 1) {
                const unsigned char *q = x + 4, *qend = q + sz;
                if (usize == 0xffffffffu && qend - q >= 8)
                    usize = rd_le(q, 8), q += 8;
                if (csize == 0xffffffffu && qend - q >= 8)
                    csize = rd_le(q, 8), q += 8;
                if (loff == 0xffffffffu && qend - q >= 8)
                    loff = rd_le(q, 8), q += 8;
            }
            x += 4 + sz;
        }
        if (flags & 1) {
            free(e);
            return lfail(L, p, pname, "zip entry is encrypted");
        }
        if (method != 0) {
            free(e);
            return lfail(L, p, pname,
                         "zip entry is compressed (method %u%s); only stored entries are "
                         "supported: re-save the file with torch.save, which does not compress",
                         method, method == 8 ? ", deflate" : "");
        }
        if (csize != usize) {
            free(e);
            return lfail(L, p, pname, "stored zip entry with different sizes");
        }
        if (loff > n || n - loff < 30 || memcmp(f + loff, "PK\x03\x04", 4) != 0) {
            free(e);
            return lfail(L, loff, pname, "bad zip local header");
        }
        uint64_t dat = loff + 30 + rd_le(f + loff + 26, 2) + rd_le(f + loff + 28, 2);
        if (dat > n || usize > n - dat) {
            free(e);
            return lfail(L, loff, pname,
                         "zip entry data (%llu bytes at %llu) runs past the end of the %zu-byte "
                         "file (truncated?)",
                         (unsigned long long)usize, (unsigned long long)dat, n);
        }
        if ((uint32_t)crc32_z(0, f + dat, (z_size_t)usize) != crc) {
            free(e);
            return lfail(L, dat, pname, "zip entry CRC mismatch (corrupted file)");
        }
        e[i].name = name;
        e[i].name_len = nlen;
        e[i].data = f + dat;
        e[i].size = usize;
        e[i].data_at = dat;
        p += 46 + nlen + xlen + clen;
    }
    *out = e;
    *nout = (size_t)count;
    return 0;
}

static const zip_entry *zip_find(const zip_entry *e, size_t n, const char *prefix,
                                 size_t plen, const char *rest)
{
    size_t rlen = strlen(rest);
    for (size_t i = 0; i < n; i++)
        if (e[i].name_len == plen + rlen && memcmp(e[i].name, prefix, plen) == 0 &&
            memcmp(e[i].name + plen, rest, rlen) == 0)
            return &e[i];
    return NULL;
}

/* ------------------------------------------------------------------------------------------
 * From values to tensors
 * ---------------------------------------------------------------------------------------- */

static int mul_add_ok(uint64_t a, uint64_t b, uint64_t c, uint64_t *r)
{
    if (b && a > (UINT64_MAX - c) / b)
        return 0;
    *r = a * b + c;
    return 1;
}

static int materialize(loader *L, const char *name, const pv *t, wb_tensor_list *out)
{
    const pv *s = t->storage;
    const storage_rec *r = &L->st[s->i];
    if (!r->data)
        return wb_err(L->err, WB_E_DATA, L->path, "tensor '%s': storage '%s' has no data",
                      name, r->key);
    int64_t numel;
    if (wb_shape_numel(t->ndim, t->shape, &numel) != 0)
        return wb_err(L->err, WB_E_DATA, L->path,
                      "tensor '%s': shape has more than %lld elements", name,
                      (long long)WB_TENSOR_MAX_NUMEL);
    /* the last element reached: offset + sum((shape-1) * stride), overflow-checked */
    uint64_t last = (uint64_t)t->offset + (uint64_t)s->view_off;
    int contiguous = 1;
    uint64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (numel > 0 && !mul_add_ok((uint64_t)(t->shape[d] - 1), (uint64_t)t->stride[d],
                                     last, &last))
            goto out_of_range;
        if (t->shape[d] != 1 && (uint64_t)t->stride[d] != expect)
            contiguous = 0;
        expect *= (uint64_t)t->shape[d];
    }
    if (numel > 0 && (last >= (uint64_t)s->view_off + (uint64_t)s->view_numel ||
                      (uint64_t)t->offset >= (uint64_t)s->view_numel))
        goto out_of_range;
    wb_tensor *x = wb_tensor_list_push(out, name, t->ndim, t->shape, r->dt, L->err);
    if (!x) {
        if (L->err)
            snprintf(L->err->file, sizeof L->err->file, "%s", L->path);
        return -1;
    }
    if (numel == 0)
        return 0;
    size_t es = wb_dtype_size(r->dt);
    const unsigned char *base = r->data + ((size_t)s->view_off + (size_t)t->offset) * es;
    if (contiguous) {
        wb_dtype_to_f32(r->dt, base, (size_t)numel, x->data);
        return 0;
    }
    int64_t idx[WB_TENSOR_MAX_DIMS] = {0};
    for (int64_t k = 0; k < numel; k++) {
        uint64_t off = 0;
        for (int d = 0; d < t->ndim; d++)
            off += (uint64_t)idx[d] * (uint64_t)t->stride[d];
        wb_dtype_to_f32(r->dt, base + off * es, 1, &x->data[k]);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d])
                break;
            idx[d] = 0;
        }
    }
    return 0;
out_of_range:
    return wb_err(L->err, WB_E_DATA, L->path,
                  "tensor '%s': offset %lld with its shape and strides reaches past the end "
                  "of storage '%s' (%lld elements)",
                  name, (long long)t->offset, r->key, (long long)s->view_numel);
}

static const pv *dict_get(const pv *d, const char *key)
{
    for (size_t k = 0; k + 1 < d->n; k += 2)
        if (pv_is_str(d->items[k], key))
            return d->items[k + 1];
    return NULL;
}

/* Finds the state dict in root and appends its tensors to out. */
static int collect(loader *L, const pv *root, wb_tensor_list *out)
{
    if (root->type != PV_DICT)
        return wb_err(L->err, WB_E_DATA, L->path,
                      "the saved object is not a dict (a state dict or a checkpoint holding "
                      "one under 'state_dict', 'model_state_dict' or 'model')");
    static const char *const nested[] = {"state_dict", "model_state_dict", "model"};
    const pv *sd = root;
    for (size_t k = 0; k < sizeof nested / sizeof nested[0]; k++) {
        const pv *v = dict_get(root, nested[k]);
        if (v && v->type == PV_DICT) {
            sd = v;
            break;
        }
    }
    size_t n0 = out->n;
    for (size_t k = 0; k + 1 < sd->n; k += 2) {
        const pv *key = sd->items[k], *val = sd->items[k + 1];
        if (val->type != PV_TENSOR)
            continue;
        if (key->type != PV_STR || key->len == 0 || strlen(key->s) != key->len) {
            wb_err(L->err, WB_E_DATA, L->path,
                   "state dict entry %zu holds a tensor but its key is not a plain string",
                   k / 2);
            goto fail;
        }
        const char *name = key->s;
        if (strncmp(name, "module.", 7) == 0 && name[7])
            name += 7;
        if (materialize(L, name, val, out) != 0)
            goto fail;
    }
    if (out->n == n0) {
        char keys[400] = "";
        size_t kl = 0;
        for (size_t k = 0; k + 1 < root->n && kl + 40 < sizeof keys; k += 2) {
            const pv *key = root->items[k];
            char pk[32];
            if (key->type == PV_STR)
                printable(key->s, key->len, pk, sizeof pk);
            else
                snprintf(pk, sizeof pk, "<non-string>");
            kl += (size_t)snprintf(keys + kl, sizeof keys - kl, "%s'%s'", kl ? ", " : "", pk);
        }
        return wb_err(L->err, WB_E_DATA, L->path,
                      "no tensors found: expected a state dict or one under 'state_dict', "
                      "'model_state_dict' or 'model'; top-level keys: %s",
                      kl ? keys : "(none)");
    }
    return 0;
fail:
    while (out->n > n0)
        wb_tensor_list_pop(out);
    return -1;
}

/* ------------------------------------------------------------------------------------------
 * The two containers
 * ---------------------------------------------------------------------------------------- */

static int read_zip(loader *L, wb_tensor_list *out)
{
    zip_entry *e = NULL;
    size_t ne = 0;
    int rc = -1;
    if (zip_read(L, &e, &ne) != 0)
        return -1;
    const zip_entry *pkl = NULL;
    size_t plen = 0;
    for (size_t i = 0; i < ne; i++) {
        const char *slash = memchr(e[i].name, '/', e[i].name_len);
        if (!slash)
            continue;
        size_t pl = (size_t)(slash - e[i].name) + 1;
        if (e[i].name_len == pl + 8 && memcmp(slash + 1, "data.pkl", 8) == 0) {
            if (pkl) {
                lfail(L, e[i].data_at, NULL, "zip archive holds more than one data.pkl");
                goto done;
            }
            pkl = &e[i];
            plen = pl;
        }
    }
    if (!pkl) {
        lfail(L, 0, NULL,
              "zip archive has no <dir>/data.pkl: not a torch.save file (TorchScript "
              "archives are not supported)");
        goto done;
    }
    char prefix[300], where[340];
    printable(pkl->name, plen, prefix, sizeof prefix);
    snprintf(where, sizeof where, "%sdata.pkl", prefix);
    const zip_entry *bo = zip_find(e, ne, pkl->name, plen, "byteorder");
    if (bo && !(bo->size == 6 && memcmp(bo->data, "little", 6) == 0)) {
        lfail(L, bo->data_at, NULL, "byteorder is not 'little': big-endian files are not "
                                    "supported");
        goto done;
    }
    pv *root = NULL;
    size_t used = 0;
    if (unpickle(L, pkl->data, (size_t)pkl->size, pkl->data_at, where, 0, &root, &used) != 0)
        goto done;
    for (size_t k = 0; k < L->nst; k++) {
        storage_rec *r = &L->st[k];
        char rest[80];
        snprintf(rest, sizeof rest, "data/%s", r->key);
        const zip_entry *d = zip_find(e, ne, pkl->name, plen, rest);
        uint64_t need_bytes = (uint64_t)r->numel * wb_dtype_size(r->dt);
        if (!d) {
            lfail(L, pkl->data_at, where, "storage '%s' has no entry %s%s in the archive",
                  r->key, prefix, rest);
            goto done;
        }
        if (d->size < need_bytes) {
            lfail(L, d->data_at, NULL,
                  "entry %s%s has %llu bytes but storage '%s' needs %llu (%lld x %s)", prefix,
                  rest, (unsigned long long)d->size, r->key, (unsigned long long)need_bytes,
                  (long long)r->numel, wb_dtype_name(r->dt));
            goto done;
        }
        r->data = d->data;
        r->data_at = d->data_at;
    }
    rc = collect(L, root, out);
done:
    free(e);
    return rc;
}

static int read_legacy(loader *L, wb_tensor_list *out)
{
    static const unsigned char magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9,
                                            0x20, 0x6a, 0xa8, 0x50, 0x19};
    const unsigned char *f = L->file;
    size_t n = L->file_n, pos = 0, used;
    pv *v = NULL;
    /* The magic number's pickle (PROTO, LONG1 of 10 bytes, STOP: 15 bytes, or 24 with a
     * FRAME) is unpickled from a 64-byte window, so a file that is not a torch.save file is
     * refused before it can build anything large; a global in it is still refused by name. */
    if (unpickle(L, f, n < 64 ? n : 64, 0, "magic number", 1, &v, &used) != 0) {
        if (L->err && strstr(L->err->msg, "refusing global"))
            return -1;
        return lfail(L, 0, NULL, "not a torch.save file (wrong magic number)");
    }
    if (v->type != PV_BIGINT || v->len != 10 || memcmp(v->s, magic, 10) != 0)
        return lfail(L, 0, NULL, "not a torch.save file (wrong magic number)");
    pos += used;
    if (unpickle(L, f + pos, n - pos, pos, "protocol version", 1, &v, &used) != 0)
        return -1;
    if (v->type != PV_INT || v->i != 1001)
        return lfail(L, pos, NULL, "unsupported legacy protocol version (expected 1001)");
    pos += used;
    if (unpickle(L, f + pos, n - pos, pos, "sys_info", 1, &v, &used) != 0)
        return -1;
    if (v->type != PV_DICT)
        return lfail(L, pos, NULL, "sys_info is not a dict");
    const pv *le = dict_get(v, "little_endian");
    if (le && !(le->type == PV_BOOL && le->i == 1))
        return lfail(L, pos, NULL, "saved on a big-endian machine: not supported");
    pos += used;
    pv *root = NULL;
    if (unpickle(L, f + pos, n - pos, pos, "data pickle", 1, &root, &used) != 0)
        return -1;
    pos += used;
    if (unpickle(L, f + pos, n - pos, pos, "storage keys", 1, &v, &used) != 0)
        return -1;
    if (v->type != PV_LIST)
        return lfail(L, pos, NULL, "the storage key list is not a list");
    pos += used;
    for (size_t k = 0; k < v->n; k++) {
        const pv *key = v->items[k];
        storage_rec *r = NULL;
        for (size_t j = 0; key->type == PV_STR && j < L->nst; j++)
            if (strlen(L->st[j].key) == key->len && memcmp(L->st[j].key, key->s, key->len) == 0)
                r = &L->st[j];
        if (!r)
            return lfail(L, pos, NULL, "storage key %zu is not used by the data pickle", k);
        if (r->data)
            return lfail(L, pos, NULL, "storage '%s' is listed twice", r->key);
        if (n - pos < 8)
            return lfail(L, pos, NULL, "file truncated in the header of storage '%s'", r->key);
        uint64_t cnt = rd_le(f + pos, 8);
        if (cnt != (uint64_t)r->numel)
            return lfail(L, pos, NULL,
                         "storage '%s' holds %llu elements but the pickle declares %lld",
                         r->key, (unsigned long long)cnt, (long long)r->numel);
        pos += 8;
        uint64_t bytes = cnt * wb_dtype_size(r->dt); /* cnt <= 2^32 */
        if (bytes > n - pos)
            return lfail(L, pos, NULL,
                         "file truncated in storage '%s': needs %llu bytes, %zu left", r->key,
                         (unsigned long long)bytes, n - pos);
        r->data = f + pos;
        r->data_at = pos;
        pos += (size_t)bytes;
    }
    return collect(L, root, out);
}

int io_pth_read_mem(const unsigned char *buf, size_t n, const char *name, wb_tensor_list *out,
                    wb_error *err)
{
    loader L = {0};
    L.path = name;
    L.file = buf;
    L.file_n = n;
    L.err = err;
    L.mem_cap = mem_budget(n);
    int rc;
    if (n >= 4 && memcmp(buf, "PK\x03\x04", 4) == 0)
        rc = read_zip(&L, out);
    else if (n >= 2 && buf[0] == 0x80 && buf[1] <= 5)
        rc = read_legacy(&L, out);
    else
        rc = wb_err(err, WB_E_DATA, name,
                    "at byte 0: not a PyTorch file (neither a zip archive nor a pickle)");
    loader_free(&L);
    return rc;
}

int io_pth_read(const char *path, wb_tensor_list *out, wb_error *err)
{
    unsigned char *buf;
    size_t n;
    if (io_file_read_all(path, IO_PTH_MAX_FILE, &buf, &n, err) != 0)
        return -1;
    int rc = io_pth_read_mem(buf, n, path, out, err);
    free(buf);
    return rc;
}
