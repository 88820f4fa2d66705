/* io_xlsx.h — the first worksheet of an Excel workbook (.xlsx: Office Open XML, a ZIP of XML
 * parts), as a CSV table: datasets such as CMMD ship their clinical table only this way.
 *
 *     io_csv t;
 *     wb_error err;
 *     if (io_xlsx_read("CMMD_clinicaldata_revision.xlsx", &t, &err) != 0) {
 *         wb_error_print(&err, stderr); // CMMD_clinicaldata_revision.xlsx: xl/sharedStrings.xml:1:90: ...
 *         return wb_exit_code(err.code);
 *     }
 *     long c = io_csv_column(&t, "classification", &err);
 *     printf("%s\n", io_csv_cell(&t, 0, c));   // the cell of row 2 (the first row is the header)
 *     io_csv_free(&t);
 *
 * The sheet's row N is the table's line N, so an importer's "file:5:6" message points at row 5,
 * column F of the sheet. Cells give their stored value: shared and inline strings as text,
 * numbers as written in the file ("44", "0.5"; dates stay serial numbers), booleans TRUE/FALSE,
 * formulas their cached value; a line break inside a cell becomes a space. Rows shorter than the
 * header are padded with empty cells; cells beyond it are an error.
 *
 * The file is untrusted: at most IO_XLSX_MAX_BYTES compressed, each part at most
 * IO_XLSX_MAX_PART bytes once inflated (declared and actual size checked, CRC-32 verified), only
 * stored and deflated ZIP members, no ZIP64, no encryption; the XML parts take no DTD or entity
 * declarations. Errors name the file and, inside it, the part, line and column.
 */
#ifndef IO_XLSX_H
#define IO_XLSX_H

#include <stddef.h>

#include "base/wb_error.h"
#include "io/io_csv.h"

#define IO_XLSX_MAX_BYTES ((size_t)128 << 20)
#define IO_XLSX_MAX_PART ((size_t)256 << 20)

/* Reads the workbook's first sheet (in the workbook's order) into *out (free with io_csv_free). */
int io_xlsx_read(const char *path, io_csv *out, wb_error *err);

/* The same from the bytes of a workbook in memory; name is used in messages. */
int io_xlsx_parse(const unsigned char *buf, size_t n, const char *name, io_csv *out, wb_error *err);

#endif
