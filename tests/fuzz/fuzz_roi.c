/* fuzz_roi.c — io_roi_parse (OsiriX ROI property lists, INbreast's AllXML) on arbitrary bytes,
 * then every ROI's fields. */
#include "fuzz_common.h"
#include "io/io_roi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    io_roi_list rl;
    wb_error err;
    if (io_roi_parse((const char *)data, size, "roi.xml", &rl, &err) == 0) {
        volatile double sum = 0;
        volatile size_t len = 0;
        for (size_t i = 0; i < rl.n; i++) {
            sum += rl.rois[i].x0 + rl.rois[i].y0 + rl.rois[i].x1 + rl.rois[i].y1;
            len += strlen(rl.rois[i].name) + rl.rois[i].n_points;
        }
        (void)sum, (void)len;
        io_roi_list_free(&rl);
    }
    return 0;
}
