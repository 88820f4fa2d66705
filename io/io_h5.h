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
 * libhdf5 parses the file, in a forked child process: it is not memory-safe on hostile files
 * (it has had CVEs; fuzzing found a wild free in 1.10.8), so the child sends the tensors back
 * through a pipe and a crash in libhdf5 is an error naming the file (WB_E_DATA), not a crash
 * of the caller. Sizes are still checked here:
 * at most 8 dimensions, WB_TENSOR_MAX_NUMEL elements, and uncompressed datasets must have
 * their bytes in the file.
 *
 * libhdf5 runs only in the child, so the caller's process never initialises it. The child
 * uses only libhdf5, malloc (fork-safe in glibc) and write, so other threads of the caller
 * (OpenBLAS's, the engine's pool) do not matter.
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
