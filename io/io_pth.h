/* io_pth.h — PyTorch torch.save files, read without running any code.
 *
 *     wb_tensor_list w; wb_tensor_list_init(&w);
 *     if (io_pth_read("resnet18-f37072fd.pth", &w, &err) != 0) {
 *         // "x.pth: at byte 211 (archive/data.pkl): refusing global 'posix.system': ..."
 *     }
 *
 * Two container formats:
 *   - zip (torch >= 1.6, torchvision's .pth): <dir>/data.pkl holds the pickle, <dir>/data/<key>
 *     the raw storages. Entries must be stored (uncompressed), as torch.save writes them.
 *   - legacy (torch < 1.6, e.g. the CIFAR ResNets' .th): pickles of the magic number, the
 *     protocol version and sys_info, then the data pickle, then the list of storage keys,
 *     then for each key an int64 element count and the raw little-endian elements.
 *
 * The pickle is run by a restricted unpickler: only the opcodes a state dict needs, and only
 * the globals collections.OrderedDict, torch._utils._rebuild_tensor{,_v2},
 * torch._utils._rebuild_parameter{,_with_state}, torch._utils._rebuild_from_type_v2,
 * torch.{Float,Double,Half,BFloat16,Long,Int,Short,Char,Byte,Bool}Storage and the type tokens
 * torch._tensor.Tensor / torch.nn.parameter.Parameter. Any other global is refused with an
 * error naming it; nothing is ever called or imported.
 *
 * The state dict is the top-level dict, or the dict under 'state_dict', 'model_state_dict' or
 * 'model'. Tensor values become tensors named by their key with a leading "module." removed
 * (DataParallel checkpoints); other values (epoch numbers, ...) are skipped. Every dtype is
 * converted to float32 (BN's int64 num_batches_tracked included). Strided (non-contiguous)
 * tensors are gathered by their strides, bounds-checked against their storage.
 */
#ifndef IO_PTH_H
#define IO_PTH_H

#include "base/wb_tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

#define IO_PTH_MAX_FILE ((size_t)1 << 36) /* 64 GiB: the file is read into memory */

/* Appends the state dict's tensors to out (initialised and freed by the caller), in the
 * dict's order. On failure nothing is appended and err names the file, the byte offset and
 * the zip entry or tensor involved. */
int io_pth_read(const char *path, wb_tensor_list *out, wb_error *err);

/* The same on a file already in memory (buf[0..n) is not modified or kept); name is used in
 * messages. For tests and fuzzing. */
int io_pth_read_mem(const unsigned char *buf, size_t n, const char *name, wb_tensor_list *out,
                    wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
