/* fuzz_safetensors.c — io_safetensors_read on arbitrary bytes (through a scratch file). */
#include "fuzz_common.h"
#include "io/io_safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("x.safetensors", data, size);
    if (!path) return 0;
    wb_tensor_list l;
    wb_tensor_list_init(&l);
    wb_error err;
    if (io_safetensors_read(path, &l, &err) == 0) {
        volatile float sum = 0;
        for (size_t i = 0; i < l.n; i++)
            for (size_t j = 0; j < wb_tensor_numel(&l.items[i]); j++) sum += l.items[i].data[j];
        (void)sum;
    } else if (l.n != 0) {
        abort(); /* the header promises nothing is left appended on failure */
    }
    wb_tensor_list_free(&l);
    return 0;
}
