/* fuzz_dicom.c — io_dicom_read and io_dicom_read_meta on arbitrary bytes (written to a
 * scratch file: the reader takes a path). The caps are lowered so that a header claiming
 * a huge image is refused quickly; the last input byte picks the VOI mode and window. */
#include "fuzz_common.h"
#include "io_dicom.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file("x.dcm", data, size);
    if (!path) return 0;
    io_dicom_meta meta;
    wb_error err;
    (void)io_dicom_read_meta(path, &meta, &err);

    io_dicom_options opt;
    io_dicom_options_default(&opt);
    opt.max_dim = 4096;
    opt.max_pixels = (size_t)1 << 22;
    uint8_t last = size ? data[size - 1] : 0;
    opt.voi = (last & 1) ? IO_VOI_IGNORE : IO_VOI_APPLY;
    opt.window_index = (last >> 1) & 3;
    io_dicom_image img;
    if (io_dicom_read(path, &opt, &img, &err) == 0) {
        /* Touch every pixel so that a short buffer shows up under ASan. */
        volatile float sum = 0;
        for (size_t i = 0; i < (size_t)img.rows * (size_t)img.cols; i++) sum += img.pixels[i];
        (void)sum;
        io_dicom_image_free(&img);
    }
    return 0;
}
