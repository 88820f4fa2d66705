/* io_safetensors.h — safetensors files (Hugging Face / timm weights).
 *
 * Layout: u64 little-endian N, N bytes of JSON header, then the data buffer. The header maps
 * each tensor name to {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]} (offsets
 * relative to the data buffer); an optional "__metadata__" maps strings to strings.
 *
 *     wb_tensor_list w; wb_tensor_list_init(&w);
 *     if (io_safetensors_read("model.safetensors", &w, &err) != 0) ...
 *     io_safetensors_write("out.safetensors", &w, NULL, 0, &err);
 *     wb_tensor_list_free(&w);
 *
 * Reading is as strict as the reference implementation: the tensors must tile the data buffer
 * exactly (no gaps, no overlaps, nothing after the last one). Dtypes F64 F32 F16 BF16 I64 I32
 * I16 I8 U8 BOOL are converted to float32; others (U16..U64, F8_*) are errors naming the tensor.
 */
#ifndef IO_SAFETENSORS_H
#define IO_SAFETENSORS_H

#include "base/wb_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IO_SAFETENSORS_MAX_HEADER 100000000u /* bytes, as in the reference implementation */

/* Appends every tensor of the file to out (which the caller initialised and frees), in
 * data-offset order. On failure the tensors appended by this call are removed again and err
 * names the file and the byte offset or the tensor. */
int io_safetensors_read(const char *path, wb_tensor_list *out, wb_error *err);

/* Writes every tensor of l as F32, atomically (temporary file, fsync, rename). As the Python
 * writer does, tensors are laid out sorted by name (byte order) and the header is padded with
 * spaces to a multiple of 8. meta_kv holds n_meta (key, value) string pairs for
 * "__metadata__" (meta_kv[2*i], meta_kv[2*i+1]); it may be NULL when n_meta is 0. */
int io_safetensors_write(const char *path, const wb_tensor_list *l,
                         const char *const *meta_kv, size_t n_meta, wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
