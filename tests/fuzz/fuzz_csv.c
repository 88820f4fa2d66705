/* fuzz_csv.c — io_csv_read on arbitrary bytes (through a scratch file), then the column
 * lookup (with its nearest-name suggestion) and every cell. */
#include "fuzz_common.h"
#include "io/io_csv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("labels.csv", data, size);
    if (!path) return 0;
    io_csv csv;
    wb_error err;
    if (io_csv_read(path, &csv, &err) == 0) {
        long col = io_csv_column(&csv, "label", &err);
        volatile size_t len = 0;
        for (size_t c = 0; c < csv.n_cols; c++) len += strlen(csv.header[c]);
        for (size_t r = 0; r < csv.n_rows; r++) {
            if (col >= 0) len += strlen(io_csv_cell(&csv, r, col));
            for (size_t c = 0; c < csv.n_cols; c++) len += strlen(io_csv_cell(&csv, r, (long)c));
        }
        (void)len;
        io_csv_free(&csv);
    }
    return 0;
}
