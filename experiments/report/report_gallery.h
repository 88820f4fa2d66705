/* report_gallery.h — the case gallery of a run (issue 17, part 2): the most confident true
 * positives, false positives and false negatives of each backbone variant with their Grad-CAM
 * overlays, which `workbench explain RUN_DIR --gallery N` writes into RUN_DIR/gallery/
 * (gallery.csv + PNGs). report.c shows them when gallery/gallery.csv exists: embedded as data:
 * URIs in report.html (its Content-Security-Policy then allows img-src data:), linked from
 * report.md. The report only reads these files (it recomputes nothing from images).
 *
 * gallery.csv: variant, kind (tp, fp, fn), rank (1..), repeat, fold, patient (pseudonym), score,
 * threshold, lesion_type, stage, png (a file name inside gallery/).
 *
 *     // given: sbuf *md, *html;
 *     if (exp_report_gallery_has("runs/x") &&
 *         (exp_report_gallery_md(md, "runs/x", &err) != 0 || exp_report_gallery_html(html, "runs/x", &err) != 0))
 *         ...;    // err names gallery.csv or the PNG
 */
#ifndef EXP_REPORT_GALLERY_H
#define EXP_REPORT_GALLERY_H

#include "base/wb_error.h"
#include "io/io_sbuf.h"

/* 1 when dir/gallery/gallery.csv exists. */
int exp_report_gallery_has(const char *dir);
/* The gallery section: Markdown (image links to gallery/<png>) and HTML (each PNG embedded).
 * Errors: a malformed gallery.csv or a PNG it names that cannot be read (WB_E_DATA, WB_E_IO,
 * naming the file). */
int exp_report_gallery_md(sbuf *b, const char *dir, wb_error *err);
int exp_report_gallery_html(sbuf *b, const char *dir, wb_error *err);

/* Base64 of n bytes (RFC 4648, padded), appended to b. */
void exp_report_base64(sbuf *b, const unsigned char *s, size_t n);

#endif
