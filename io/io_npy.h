/* io_npy.h — NumPy .npy arrays (format versions 1.0, 2.0, 3.0).
 *
 *     wb_tensor t = {0};
 *     if (io_npy_read("x.npy", &t, &err) != 0) { ...err names the file and the offset... }
 *     ... t.ndim, t.shape, t.data (float32, C order) ...
 *     wb_tensor_free(&t);
 *
 * Reading accepts little-endian (or byte-order-free) f8 f4 f2 i8 i4 i2 i1 u1 b1 arrays in C
 * order and converts them to float32; Fortran order, big-endian, structured and object
 * arrays are errors. Writing always produces '<f4' in C order.
 */
#ifndef IO_NPY_H
#define IO_NPY_H

#include "base/wb_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Reads one array. On success *out holds a malloc'd name (the file's base name without
 * ".npy"), the shape, file_dtype, and malloc'd float32 data; the caller frees it with
 * wb_tensor_free(). On failure *out is zeroed and err says where the file went wrong. */
int io_npy_read(const char *path, wb_tensor *out, wb_error *err);

/* Writes t as '<f4' C-order .npy (version 1.0, or 2.0 if the header needs it), atomically:
 * a temporary file in the same directory, fsync, rename. t->name is not stored. */
int io_npy_write(const char *path, const wb_tensor *t, wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
