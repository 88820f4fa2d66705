/* fuzz_npy.c — io_npy_read on arbitrary bytes (through a scratch file). */
#include "fuzz_common.h"
#include "io/io_npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("x.npy", data, size);
    if (!path) return 0;
    wb_tensor t;
    wb_error err;
    if (io_npy_read(path, &t, &err) == 0) {
        volatile float sum = 0;
        for (size_t j = 0; j < wb_tensor_numel(&t); j++) sum += t.data[j];
        (void)sum;
        wb_tensor_free(&t);
    }
    return 0;
}
