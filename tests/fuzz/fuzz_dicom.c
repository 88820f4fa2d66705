/* fuzz_dicom.c — io_dicom_read and io_dicom_read_meta on arbitrary bytes (written to a
 * scratch file: the reader takes a path). The caps are lowered so that a header claiming
 * a huge image is refused quickly; the last input byte picks the VOI mode and window.
 *
 * Inputs naming the deflated transfer syntax are skipped: in a deflated dataset DCMTK
 * allocates each element at its declared length (up to 4 GiB) before reading it, and only
 * then fails ("Invalid stream"). Without sanitizers that costs nothing (the pages are never
 * touched: 0.5 s, 25 MB), but ASan poisons the whole block and takes ~40 s, which would bury
 * the fuzzer in false timeouts. docs/security.md says so. */
#include "fuzz_common.h"
#include "io/io_dicom.h"

static int names_deflate(const uint8_t *data, size_t size)
{
    static const char uid[] = "1.2.840.10008.1.2.1.99";
    size_t n = sizeof uid - 1;
    for (size_t i = 0; i + n <= size; i++)
        if (data[i] == '1' && !memcmp(data + i, uid, n)) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (names_deflate(data, size)) return 0;
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
