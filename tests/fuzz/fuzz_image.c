/* fuzz_image.c — io_image_decode (PNG through libpng, JPEG through libjpeg-turbo, binary PGM
 * through our reader) on arbitrary bytes. The caps are lowered so that a header claiming a
 * huge image is refused quickly; the last input byte picks the VOI mode. */
#include "fuzz_common.h"
#include "io/io_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    opt.max_dim = 4096;
    opt.max_pixels = (size_t)1 << 22;
    opt.voi = size && (data[size - 1] & 1) ? IO_VOI_IGNORE : IO_VOI_APPLY;
    io_dicom_image img;
    io_image_format fmt;
    wb_error err;
    if (io_image_decode(data, size, "x.img", &opt, &img, &fmt, &err) == 0) {
        /* Touch every pixel so that a short buffer shows up under ASan. */
        volatile float sum = 0;
        for (size_t i = 0; i < (size_t)img.rows * (size_t)img.cols; i++) sum += img.pixels[i];
        (void)sum;
        io_dicom_image_free(&img);
    }
    return 0;
}
