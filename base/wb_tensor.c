/* wb_tensor.c — the named-tensor list, dtype conversion, and the file helpers the weight
 * readers and writers share (whole-file read with a cap, atomic write). */
#include "base/wb_tensor.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void wb_tensor_list_init(wb_tensor_list *l)
{
    l->items = NULL;
    l->n = 0;
    l->cap = 0;
}

void wb_tensor_list_free(wb_tensor_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++) {
        free(l->items[i].name);
        free(l->items[i].data);
    }
    free(l->items);
    wb_tensor_list_init(l);
}

const wb_tensor *wb_tensor_list_find(const wb_tensor_list *l, const char *name)
{
    if (!l || !name)
        return NULL;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return &l->items[i];
    return NULL;
}

size_t wb_tensor_numel(const wb_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

const char *wb_dtype_name(wb_dtype dt)
{
    static const char *const names[WB_DT_COUNT_] = {
        [WB_DT_F32] = "float32", [WB_DT_F64] = "float64", [WB_DT_F16] = "float16",
        [WB_DT_BF16] = "bfloat16", [WB_DT_I64] = "int64", [WB_DT_I32] = "int32",
        [WB_DT_I16] = "int16", [WB_DT_I8] = "int8", [WB_DT_U8] = "uint8",
        [WB_DT_BOOL] = "bool",
    };
    if ((int)dt < 0 || dt >= WB_DT_COUNT_)
        return "invalid";
    return names[dt];
}

size_t wb_dtype_size(wb_dtype dt)
{
    switch (dt) {
    case WB_DT_F64: case WB_DT_I64: return 8;
    case WB_DT_F32: case WB_DT_I32: return 4;
    case WB_DT_F16: case WB_DT_BF16: case WB_DT_I16: return 2;
    case WB_DT_I8: case WB_DT_U8: case WB_DT_BOOL: return 1;
    default: return 0;
    }
}

static uint64_t load_le(const unsigned char *p, int nbytes)
{
    uint64_t v = 0;
    for (int i = nbytes - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static float half_to_float(uint16_t h)
{
    int sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
    float v;
    if (exp == 0)
        v = ldexpf((float)mant, -24);                  /* zero and subnormals */
    else if (exp == 31)
        v = mant ? NAN : INFINITY;
    else
        v = ldexpf((float)(mant | 0x400), exp - 25);
    return sign ? -v : v;
}

void wb_dtype_to_f32(wb_dtype dt, const void *src, size_t n, float *dst)
{
    const unsigned char *p = src;
    size_t es = wb_dtype_size(dt);
    for (size_t i = 0; i < n; i++, p += es) {
        uint64_t u = load_le(p, (int)es);
        switch (dt) {
        case WB_DT_F32: {
            uint32_t b = (uint32_t)u;
            memcpy(&dst[i], &b, 4);
            break;
        }
        case WB_DT_F64: {
            double d;
            memcpy(&d, &u, 8);
            dst[i] = (float)d;
            break;
        }
        case WB_DT_F16: dst[i] = half_to_float((uint16_t)u); break;
        case WB_DT_BF16: {
            uint32_t b = (uint32_t)u << 16;
            memcpy(&dst[i], &b, 4);
            break;
        }
        case WB_DT_I64: dst[i] = (float)(int64_t)u; break;
        case WB_DT_I32: dst[i] = (float)(int32_t)(uint32_t)u; break;
        case WB_DT_I16: dst[i] = (float)(int16_t)(uint16_t)u; break;
        case WB_DT_I8: dst[i] = (float)(int8_t)(uint8_t)u; break;
        case WB_DT_U8: dst[i] = (float)(uint8_t)u; break;
        case WB_DT_BOOL: dst[i] = u ? 1.0f : 0.0f; break;
        default: dst[i] = 0.0f; break;
        }
    }
}

int wb_shape_numel(int ndim, const int64_t *shape, int64_t *numel)
{
    if (ndim < 0 || ndim > WB_TENSOR_MAX_DIMS)
        return -1;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || shape[i] > WB_TENSOR_MAX_NUMEL)
            return -1;
        if (shape[i] != 0 && n > WB_TENSOR_MAX_NUMEL / shape[i])
            return -1;
        n *= shape[i];
    }
    *numel = n;
    return 0;
}

wb_tensor *wb_tensor_list_push(wb_tensor_list *l, const char *name, int ndim,
                               const int64_t *shape, wb_dtype file_dtype, wb_error *err)
{
    size_t len = name ? strlen(name) : 0;
    if (len == 0 || len > WB_TENSOR_MAX_NAME) {
        wb_err(err, WB_E_DATA, NULL, "tensor name is empty or longer than %d bytes",
               WB_TENSOR_MAX_NAME);
        return NULL;
    }
    int64_t numel;
    if (wb_shape_numel(ndim, shape, &numel) != 0) {
        wb_err(err, WB_E_DATA, NULL,
               "tensor '%s': %d dimensions or shape out of range (at most %d dims, %lld elements)",
               name, ndim, WB_TENSOR_MAX_DIMS, (long long)WB_TENSOR_MAX_NUMEL);
        return NULL;
    }
    if (l->n >= WB_TENSOR_MAX_COUNT) {
        wb_err(err, WB_E_DATA, NULL, "more than %d tensors", WB_TENSOR_MAX_COUNT);
        return NULL;
    }
    if (wb_tensor_list_find(l, name)) {
        wb_err(err, WB_E_DATA, NULL, "duplicate tensor name '%s'", name);
        return NULL;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        wb_tensor *items = realloc(l->items, cap * sizeof *items);
        if (!items) {
            wb_err(err, WB_E_NOMEM, NULL, "out of memory growing the tensor list");
            return NULL;
        }
        l->items = items;
        l->cap = cap;
    }
    wb_tensor *t = &l->items[l->n];
    memset(t, 0, sizeof *t);
    t->name = malloc(len + 1);
    /* calloc(0) may return NULL: allocate at least one element for scalars/empties */
    t->data = calloc(numel ? (size_t)numel : 1, sizeof(float));
    if (!t->name || !t->data) {
        free(t->name);
        free(t->data);
        wb_err(err, WB_E_NOMEM, NULL, "out of memory for tensor '%s' (%lld elements)", name,
               (long long)numel);
        return NULL;
    }
    memcpy(t->name, name, len + 1);
    t->ndim = ndim;
    for (int i = 0; i < ndim; i++)
        t->shape[i] = shape[i];
    t->file_dtype = file_dtype;
    l->n++;
    return t;
}

void wb_tensor_free(wb_tensor *t)
{
    if (!t)
        return;
    free(t->name);
    free(t->data);
    memset(t, 0, sizeof *t);
}

void wb_tensor_list_pop(wb_tensor_list *l)
{
    if (!l || l->n == 0)
        return;
    l->n--;
    free(l->items[l->n].name);
    free(l->items[l->n].data);
    memset(&l->items[l->n], 0, sizeof l->items[l->n]);
}

int wb_tensor_list_add(wb_tensor_list *l, const char *name, int ndim, const int64_t *shape,
                       const float *data, wb_error *err)
{
    wb_tensor *t = wb_tensor_list_push(l, name, ndim, shape, WB_DT_F32, err);
    if (!t)
        return -1;
    if (data)
        memcpy(t->data, data, wb_tensor_numel(t) * sizeof(float));
    return 0;
}

/* ---- files ---- */

