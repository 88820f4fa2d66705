/* io_roi.h — OsiriX ROI files: the XML property lists that INbreast ships as AllXML/<n>.xml
 * (Images -> ROIs -> Name, NumberOfPoints, Point_px "(x, y)" strings), read with expat. Each
 * ROI gives its name and the bounding box of its pixel outline.
 *
 *     io_roi_list rl;
 *     wb_error err;
 *     if (io_roi_read("AllXML/22678670.xml", &rl, &err) != 0) {
 *         wb_error_print(&err, stderr); // AllXML/22678670.xml:41:5: Point_px: expected "(x, y)", got '(12.5'
 *         return wb_exit_code(err.code);
 *     }
 *     for (size_t i = 0; i < rl.n; i++)
 *         printf("%s: x %g..%g, y %g..%g (%zu points)\n", rl.rois[i].name, rl.rois[i].x0, rl.rois[i].x1,
 *                rl.rois[i].y0, rl.rois[i].y1, rl.rois[i].n_points);
 *     io_roi_list_free(&rl);
 *
 * The file is untrusted: at most IO_ROI_MAX_BYTES, IO_ROI_MAX_ROIS ROIs, elements nested at
 * most IO_ROI_MAX_DEPTH deep; no external entities or DTDs are loaded; a point that is not two
 * finite numbers in parentheses, or lies beyond IO_ROI_MAX_COORD on an axis, is an error at its
 * line and column. Names longer than the field
 * are cut. A ROI without points has n_points 0 (its box is not meaningful).
 */
#ifndef IO_ROI_H
#define IO_ROI_H

#include <stddef.h>

#include "base/wb_error.h"

#define IO_ROI_MAX_BYTES ((size_t)64 << 20)
#define IO_ROI_MAX_ROIS 100000
#define IO_ROI_MAX_DEPTH 64
/* A point farther than this from the origin on either axis is refused (images are at most
 * 16384 pixels a side; the importers' box arithmetic is in int). */
#define IO_ROI_MAX_COORD 1e6

typedef struct io_roi {
    char name[64];        /* "Mass", "Calcification", "Cluster", ... ("" when the ROI has none) */
    size_t n_points;      /* Point_px entries */
    double x0, y0, x1, y1; /* their bounding box: columns x0..x1, rows y0..y1 (pixels) */
} io_roi;

typedef struct io_roi_list {
    io_roi *rois;
    size_t n;
} io_roi_list;

/* Reads path. On failure the list is empty (nothing to free) and err names path (WB_E_IO when it
 * cannot be read, WB_E_DATA with the line and column when its content is wrong). */
int io_roi_read(const char *path, io_roi_list *out, wb_error *err);
/* The same on n bytes in memory; name labels the errors. */
int io_roi_parse(const char *buf, size_t n, const char *name, io_roi_list *out, wb_error *err);
void io_roi_list_free(io_roi_list *l);

#endif
