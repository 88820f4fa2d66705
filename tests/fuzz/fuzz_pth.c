/* fuzz_pth.c — io_pth_read_mem (zip and legacy torch.save files, restricted unpickler). */
#include "fuzz_common.h"
#include "io/io_pth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wb_tensor_list l;
    wb_tensor_list_init(&l);
    wb_error err;
    if (io_pth_read_mem(data, size, "fuzz.pth", &l, &err) == 0) {
        volatile float sum = 0;
        for (size_t i = 0; i < l.n; i++)
            for (size_t j = 0; j < wb_tensor_numel(&l.items[i]); j++) sum += l.items[i].data[j];
        (void)sum;
    } else if (l.n != 0) {
        abort(); /* the header promises nothing is appended on failure */
    }
    wb_tensor_list_free(&l);
    return 0;
}
