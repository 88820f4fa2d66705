/* io_weights.h — read any supported weight file into named float32 tensors.
 *
 *     // given: const char *path;
 *     wb_tensor_list w; wb_tensor_list_init(&w);
 *     if (io_weights_read(path, &w, &err) != 0) { wb_error_print(&err, stderr); ... }
 *     ... nn_net_bind(net, &w, ...) ...
 *     wb_tensor_list_free(&w);
 *
 * The reader is picked by content, never by extension:
 *   "PK\3\4"                    -> torch.save zip archive (io_pth)
 *   0x80 <protocol>             -> legacy torch.save / pickle (io_pth)
 *   "\x89HDF\r\n\x1a\n" at 0, 512, 1024, ... -> Keras .h5 (io_h5)
 *   "\x93NUMPY"                 -> a single .npy array, named by the file's base name (io_npy)
 *   u64 LE n, then '{'          -> safetensors (io_safetensors)
 * Names and layouts are the file's own (see each reader's header): PyTorch OIHW with
 * "module." stripped, safetensors as stored, Keras HWIO as "<layer>/<weight>".
 */
#ifndef IO_WEIGHTS_H
#define IO_WEIGHTS_H

#include "base/wb_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    IO_WEIGHTS_UNKNOWN = 0,
    IO_WEIGHTS_PTH_ZIP,
    IO_WEIGHTS_PTH_LEGACY,
    IO_WEIGHTS_SAFETENSORS,
    IO_WEIGHTS_H5,
    IO_WEIGHTS_NPY
} io_weights_format;

/* Looks at the first bytes of path; IO_WEIGHTS_UNKNOWN with err filled if the file cannot
 * be opened or matches nothing. */
io_weights_format io_weights_detect(const char *path, wb_error *err);

/* "pth-zip", "pth-legacy", "safetensors", "h5", "npy", "unknown". */
const char *io_weights_format_name(io_weights_format f);

/* Appends every tensor of the weight file at path to out (initialised and freed by the
 * caller). On failure nothing is appended and err names the file and where it went wrong. */
int io_weights_read(const char *path, wb_tensor_list *out, wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
