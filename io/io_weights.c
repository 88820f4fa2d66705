/* io_weights.c — weight file format detection and dispatch. */
#include "io/io_weights.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "io/io_h5.h"
#include "io/io_npy.h"
#include "io/io_pth.h"
#include "io/io_safetensors.h"
#include "io/io_fs.h"

static const unsigned char k_hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};

const char *io_weights_format_name(io_weights_format f)
{
    switch (f) {
    case IO_WEIGHTS_PTH_ZIP: return "pth-zip";
    case IO_WEIGHTS_PTH_LEGACY: return "pth-legacy";
    case IO_WEIGHTS_SAFETENSORS: return "safetensors";
    case IO_WEIGHTS_H5: return "h5";
    case IO_WEIGHTS_NPY: return "npy";
    default: return "unknown";
    }
}

io_weights_format io_weights_detect(const char *path, wb_error *err)
{
    uint64_t fsize = 0;
    FILE *f = io_fs_fopen_input(path, 0, &fsize, err);
    if (!f)
        return IO_WEIGHTS_UNKNOWN;
    unsigned char h[16] = {0};
    size_t got = fread(h, 1, sizeof h, f);
    io_weights_format fmt = IO_WEIGHTS_UNKNOWN;
    if (got >= 4 && memcmp(h, "PK\x03\x04", 4) == 0) {
        fmt = IO_WEIGHTS_PTH_ZIP;
    } else if (got >= 2 && h[0] == 0x80 && h[1] <= 5) {
        fmt = IO_WEIGHTS_PTH_LEGACY;
    } else if (got >= 6 && memcmp(h, "\x93NUMPY", 6) == 0) {
        fmt = IO_WEIGHTS_NPY;
    } else if (got >= 8 && memcmp(h, k_hdf5_sig, 8) == 0) {
        fmt = IO_WEIGHTS_H5;
    } else {
        uint64_t n = 0;
        for (int k = 7; k >= 0 && got >= 8; k--)
            n = (n << 8) | h[k];
        /* a JSON object at byte 8 is safetensors whatever the length says: the reader then
         * names a length that is out of range instead of "not a weight file" */
        (void)n;
        if (got >= 9 && h[8] == '{')
            fmt = IO_WEIGHTS_SAFETENSORS;
        /* HDF5 files may start with a user block: the signature is then at 512, 1024, ... */
        for (uint64_t off = 512; fmt == IO_WEIGHTS_UNKNOWN && off + 8 <= fsize;
             off *= 2) {
            unsigned char sig[8];
            if (fseeko(f, (off_t)off, SEEK_SET) != 0 || fread(sig, 1, 8, f) != 8)
                break;
            if (memcmp(sig, k_hdf5_sig, 8) == 0)
                fmt = IO_WEIGHTS_H5;
        }
    }
    fclose(f);
    if (fmt == IO_WEIGHTS_UNKNOWN)
        wb_err(err, WB_E_DATA, path,
               "at byte 0: not a weight file this program reads (PyTorch .pth/.pt/.th, "
               "safetensors, Keras .h5, .npy)");
    return fmt;
}

int io_weights_read(const char *path, wb_tensor_list *out, wb_error *err)
{
    switch (io_weights_detect(path, err)) {
    case IO_WEIGHTS_PTH_ZIP:
    case IO_WEIGHTS_PTH_LEGACY:
        return io_pth_read(path, out, err);
    case IO_WEIGHTS_SAFETENSORS:
        return io_safetensors_read(path, out, err);
    case IO_WEIGHTS_H5:
        return io_h5_read(path, out, err);
    case IO_WEIGHTS_NPY: {
        wb_tensor t;
        if (io_npy_read(path, &t, err) != 0)
            return -1;
        wb_tensor *x = wb_tensor_list_push(out, t.name, t.ndim, t.shape, t.file_dtype, err);
        if (x)
            memcpy(x->data, t.data, wb_tensor_numel(&t) * sizeof(float));
        else if (err)
            snprintf(err->file, sizeof err->file, "%s", path);
        wb_tensor_free(&t);
        return x ? 0 : -1;
    }
    default:
        return -1;
    }
}
