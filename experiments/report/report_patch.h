/* report_patch.h — report sections of a patch run (data.task: patch), used by report.c.
 *
 *     // given: const io_json_doc *m; sbuf *md, *html;   // m: the run's metrics.json
 *     if (exp_report_is_patch(m)) {
 *         exp_report_patch_md(md, m, "runs/x");
 *         if (exp_report_patch_html(html, m, "runs/x", &err) != 0) ...;   // patches.png unreadable
 *     }
 */
#ifndef EXP_REPORT_PATCH_H
#define EXP_REPORT_PATCH_H

#include "io/io_json.h"
#include "io/io_sbuf.h"
#include "base/wb_error.h"

/* 1 when metrics.json (m) is a patch run's ("data": {"task": "patch"}). */
int exp_report_is_patch(const io_json_doc *m);
/* 1 when the run directory has the contact sheet patches.png. */
int exp_report_patch_has_sheet(const char *dir);
/* The whole-image section (from metrics.json's "whole_image") and the example patches: as
 * Markdown (a link to patches.png), and as HTML (patches.png embedded as a data: URI, which
 * the report's Content-Security-Policy allows with img-src data: for patch runs only). */
void exp_report_patch_md(sbuf *b, const io_json_doc *m, const char *dir);
int exp_report_patch_html(sbuf *b, const io_json_doc *m, const char *dir, wb_error *err);

#endif
