/* wb_tensor.h — named float32 tensors as read from and written to weight files.
 *
 * io/ reads a weight file (safetensors, torch .pth/.th, Keras .h5) or an .npy array into
 * named tensors; nets/ binds them to a network by name. io/ knows nothing of networks.
 *
 *     wb_tensor_list w; wb_tensor_list_init(&w);
 *     if (io_weights_read("resnet20.th", &w, &err) != 0) { ...err names file and offset... }
 *     const wb_tensor *t = wb_tensor_list_find(&w, "conv1.weight");   // NULL if absent
 *     wb_tensor_list_free(&w);
 *
 * Every reader treats its file as hostile: each read's return, each size product and each
 * offset is checked before anything is allocated or copied; errors name the file and the
 * byte offset (or the tensor) where the file went wrong.
 */
#ifndef WB_TENSOR_H
#define WB_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define WB_TENSOR_MAX_DIMS 8

/* The dtype the tensor had in its file; data is always converted to float32. */
typedef enum {
    WB_DT_F32 = 0,
    WB_DT_F64,
    WB_DT_F16,
    WB_DT_BF16,
    WB_DT_I64,
    WB_DT_I32,
    WB_DT_I16,
    WB_DT_I8,
    WB_DT_U8,
    WB_DT_BOOL,
    WB_DT_COUNT_
} wb_dtype;

typedef struct wb_tensor {
    char *name;                         /* owned, NUL-terminated */
    int ndim;                           /* 0..WB_TENSOR_MAX_DIMS (0 = scalar) */
    int64_t shape[WB_TENSOR_MAX_DIMS];
    wb_dtype file_dtype;                /* dtype in the file it came from */
    float *data;                        /* owned, product(shape) floats, row-major */
} wb_tensor;

typedef struct wb_tensor_list {
    wb_tensor *items;
    size_t n, cap;
} wb_tensor_list;

void wb_tensor_list_init(wb_tensor_list *l);
void wb_tensor_list_free(wb_tensor_list *l); /* frees every tensor; NULL is a no-op */
/* Appends a copy of data (product(shape) floats; data may be NULL for zeros). */
int wb_tensor_list_add(wb_tensor_list *l, const char *name, int ndim, const int64_t *shape,
                       const float *data, wb_error *err);
const wb_tensor *wb_tensor_list_find(const wb_tensor_list *l, const char *name);
size_t wb_tensor_numel(const wb_tensor *t);
const char *wb_dtype_name(wb_dtype dt);

/* ---- Additions used by the file readers and writers (io_npy, io_safetensors, io_pth,
 * io_h5, io_weights). Atomic output is io_fs.h's io_atomic_*. ---- */

/* Caps every reader applies before allocating. */
#define WB_TENSOR_MAX_NAME 1024              /* bytes of a tensor name, without the NUL */
#define WB_TENSOR_MAX_NUMEL ((int64_t)1 << 32) /* elements of one tensor */
#define WB_TENSOR_MAX_COUNT 100000           /* tensors in one file */

/* Bytes per element of dt in its file (BOOL: 1). 0 for an invalid dtype. */
size_t wb_dtype_size(wb_dtype dt);

/* Converts n little-endian elements of dtype dt at src (any alignment) to float32 in dst.
 * I64/I32 values beyond float's 24-bit mantissa are rounded to nearest. */
void wb_dtype_to_f32(wb_dtype dt, const void *src, size_t n, float *dst);

/* Product of shape[0..ndim) into *numel; fails (returns -1) if ndim is out of 0..8, a
 * dimension is negative, or the product exceeds WB_TENSOR_MAX_NUMEL. */
int wb_shape_numel(int ndim, const int64_t *shape, int64_t *numel);

/* Appends a tensor with zero-filled data (product(shape) floats) and returns it, so a reader
 * can convert straight into t->data; NULL on failure (err filled). The pointer is valid
 * until the next append. file_dtype is recorded in the tensor. The name must be unique in
 * the list, 1..WB_TENSOR_MAX_NAME bytes. */
wb_tensor *wb_tensor_list_push(wb_tensor_list *l, const char *name, int ndim,
                               const int64_t *shape, wb_dtype file_dtype, wb_error *err);

/* Frees t->name and t->data and zeroes *t (a tensor filled by io_npy_read, say); NULL is a
 * no-op. Never call it on a tensor that lives in a list. */
void wb_tensor_free(wb_tensor *t);

/* Removes and frees the last tensor (used to unwind a half-filled tensor on error). */
void wb_tensor_list_pop(wb_tensor_list *l);


#ifdef __cplusplus
}
#endif
#endif
