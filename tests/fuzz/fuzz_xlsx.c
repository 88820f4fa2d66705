/* fuzz_xlsx.c — io_xlsx_parse (ZIP container, inflate, the workbook's XML parts) on arbitrary
 * bytes, then every cell of the table it gives. */
#include "fuzz_common.h"
#include "io/io_xlsx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    io_csv t;
    wb_error err;
    if (io_xlsx_parse(data, size, "fuzz.xlsx", &t, &err) == 0) {
        volatile size_t len = 0;
        for (size_t c = 0; c < t.n_cols; c++) len += strlen(t.header[c]);
        for (size_t r = 0; r < t.n_rows; r++)
            for (size_t c = 0; c < t.n_cols; c++) len += strlen(io_csv_cell(&t, r, (long)c));
        (void)len;
        io_csv_free(&t);
    }
    return 0;
}
