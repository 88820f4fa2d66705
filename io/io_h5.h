/* io_h5.h — Keras HDF5 weight files (model.save(...h5) full models and model.save_weights).
 *
 *     wb_tensor_list w; wb_tensor_list_init(&w);
 *     if (io_h5_read("mobilenet_v1_0.25_224.h5", &w, &err) != 0) ...
 *     wb_tensor_list_find(&w, "conv1/kernel");   // shape (3, 3, 3, 8): HWIO, as Keras has it
 *
 * Layout read: the group "model_weights" (full model) or the root (save_weights) carries the
 * attribute layer_names; each layer group carries weight_names ("conv1/kernel:0", ...), each
 * a dataset path relative to the layer group. Tensors are named "<layer>/<weight>" with the
 * ":0" suffix and any inner path dropped: conv1/kernel, conv1_bn/gamma,
 * conv_dw_1/depthwise_kernel. Layers without weights contribute nothing. Attributes split by
 * Keras into layer_names0, layer_names1, ... are joined.
 *
 * Layout kept: Keras' own. Conv kernels are HWIO (H, W, in, out), depthwise kernels
 * (H, W, C, 1), dense kernels (in, out); binding them to a PyTorch-layout network (OIHW,
 * (out, in)) is the caller's job. Data is converted to float32 by libhdf5.
 *
 * libhdf5 parses the file; its own robustness against hostile files is what it is (it has
 * had CVEs), so only load .h5 files from sources you trust. Sizes are still checked here:
 * at most 8 dimensions, WB_TENSOR_MAX_NUMEL elements, and uncompressed datasets must have
 * their bytes in the file.
 *
 * Not thread-safe: Debian's libhdf5 is the serial build, and io_h5_read silences libhdf5's
 * error printing (process-wide) while it runs.
 *
 * Built without libhdf5 (CMake did not find it), io_h5_read fails with a message saying so.
 */
#ifndef IO_H5_H
#define IO_H5_H

#include "base/wb_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Appends the weights of a Keras .h5 file to out (initialised and freed by the caller), in
 * layer order and, within a layer, weight_names order. On failure nothing is appended. */
int io_h5_read(const char *path, wb_tensor_list *out, wb_error *err);

/* 1 if this build can read HDF5, else 0. */
int io_h5_available(void);

#ifdef __cplusplus
}
#endif
#endif
