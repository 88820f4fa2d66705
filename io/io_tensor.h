/* io_tensor.h — named float32 tensors as read from and written to weight files.
 *
 * io/ reads a weight file (safetensors, torch .pth/.th, Keras .h5) or an .npy array into
 * named tensors; nets/ binds them to a network by name. io/ knows nothing of networks.
 *
 *     io_tensor_list w; io_tensor_list_init(&w);
 *     if (io_weights_read("resnet20.th", &w, &err) != 0) { ...err names file and offset... }
 *     const io_tensor *t = io_tensor_list_find(&w, "conv1.weight");   // NULL if absent
 *     io_tensor_list_free(&w);
 *
 * Every reader treats its file as hostile: each read's return, each size product and each
 * offset is checked before anything is allocated or copied; errors name the file and the
 * byte offset (or the tensor) where the file went wrong.
 */
#ifndef IO_TENSOR_H
#define IO_TENSOR_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IO_TENSOR_MAX_DIMS 8

/* The dtype the tensor had in its file; data is always converted to float32. */
typedef enum {
    IO_DT_F32 = 0,
    IO_DT_F64,
    IO_DT_F16,
    IO_DT_BF16,
    IO_DT_I64,
    IO_DT_I32,
    IO_DT_I16,
    IO_DT_I8,
    IO_DT_U8,
    IO_DT_BOOL,
    IO_DT_COUNT_
} io_dtype;

typedef struct io_tensor {
    char *name;                         /* owned, NUL-terminated */
    int ndim;                           /* 0..IO_TENSOR_MAX_DIMS (0 = scalar) */
    int64_t shape[IO_TENSOR_MAX_DIMS];
    io_dtype file_dtype;                /* dtype in the file it came from */
    float *data;                        /* owned, product(shape) floats, row-major */
} io_tensor;

typedef struct io_tensor_list {
    io_tensor *items;
    size_t n, cap;
} io_tensor_list;

void io_tensor_list_init(io_tensor_list *l);
void io_tensor_list_free(io_tensor_list *l); /* frees every tensor; NULL is a no-op */
/* Appends a copy of data (product(shape) floats; data may be NULL for zeros). */
int io_tensor_list_add(io_tensor_list *l, const char *name, int ndim, const int64_t *shape,
                       const float *data, wb_error *err);
const io_tensor *io_tensor_list_find(const io_tensor_list *l, const char *name);
size_t io_tensor_numel(const io_tensor *t);
const char *io_dtype_name(io_dtype dt);

/* ---- Additions used by the file readers and writers (io_npy, io_safetensors, io_pth,
 * io_h5, io_weights). Atomic output is io_fs.h's io_atomic_*. ---- */

/* Caps every reader applies before allocating. */
#define IO_TENSOR_MAX_NAME 1024              /* bytes of a tensor name, without the NUL */
#define IO_TENSOR_MAX_NUMEL ((int64_t)1 << 32) /* elements of one tensor */
#define IO_TENSOR_MAX_COUNT 100000           /* tensors in one file */

/* Bytes per element of dt in its file (BOOL: 1). 0 for an invalid dtype. */
size_t io_dtype_size(io_dtype dt);

/* Converts n little-endian elements of dtype dt at src (any alignment) to float32 in dst.
 * I64/I32 values beyond float's 24-bit mantissa are rounded to nearest. */
void io_dtype_to_f32(io_dtype dt, const void *src, size_t n, float *dst);

/* Product of shape[0..ndim) into *numel; fails (returns -1) if ndim is out of 0..8, a
 * dimension is negative, or the product exceeds IO_TENSOR_MAX_NUMEL. */
int io_shape_numel(int ndim, const int64_t *shape, int64_t *numel);

/* Appends a tensor with zero-filled data (product(shape) floats) and returns it, so a reader
 * can convert straight into t->data; NULL on failure (err filled). The pointer is valid
 * until the next append. file_dtype is recorded in the tensor. The name must be unique in
 * the list, 1..IO_TENSOR_MAX_NAME bytes. */
io_tensor *io_tensor_list_push(io_tensor_list *l, const char *name, int ndim,
                               const int64_t *shape, io_dtype file_dtype, wb_error *err);

/* Frees t->name and t->data and zeroes *t (a tensor filled by io_npy_read, say); NULL is a
 * no-op. Never call it on a tensor that lives in a list. */
void io_tensor_free(io_tensor *t);

/* Removes and frees the last tensor (used to unwind a half-filled tensor on error). */
void io_tensor_list_pop(io_tensor_list *l);

/* Reads a whole file into a malloc'd buffer (*out, freed by the caller with free();
 * NULL on failure). Fails with WB_E_DATA if the file is larger than max_bytes. */
int io_file_read_all(const char *path, size_t max_bytes, unsigned char **out, size_t *n,
                     wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
