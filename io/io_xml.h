/* io_xml.h — expat, hardened once for the XML the workbench reads (OsiriX ROI property lists,
 * the parts of an .xlsx workbook). A reader's parse state starts with an io_xml; its handlers
 * receive that state as their user data and report a problem with io_xml_fail, which records
 * it at the current line and column and stops the parser.
 *
 *     typedef struct my_state { io_xml x; int depth; } my_state; // x first
 *     // given: XML_StartElementHandler on_start; XML_EndElementHandler on_end
 *     my_state s = {0};
 *     const char doc[] = "<a><b/></a>";
 *     if (io_xml_parse(&s.x, doc, sizeof doc - 1, "doc.xml", 0, on_start, on_end, NULL, &err) != 0)
 *         wb_error_print(&err, stderr); // doc.xml:1:4: b: nested deeper than 1 element
 *
 * where on_start(void *ud, const XML_Char *el, const XML_Char **attr) does
 * `my_state *s = ud; if (s->x.failed) return; if (++s->depth > 1) io_xml_fail(&s->x, el,
 * "nested deeper than %s", "1 element");` and on_end decrements the depth.
 *
 * No DTD with an internal subset and no entity declaration is accepted, and nothing external
 * (DTD or parameter entity) is ever loaded: a document that tries is an error at its line and
 * column, so the "billion laughs" and external-entity attacks cannot start. A document that is
 * not well formed is an error at the line and column expat stopped at.
 */
#ifndef IO_XML_H
#define IO_XML_H

#include <stddef.h>

#include <expat.h>

#include "base/wb_error.h"

typedef struct io_xml {
    XML_Parser p;       /* while io_xml_parse runs */
    const char *where;  /* the name errors carry: "AllXML/1.xml", "book.xlsx[xl/workbook.xml]" */
    wb_error *err;
    int failed;         /* io_xml_fail was called */
} io_xml;

/* Parses BUF[0..N) into handlers that get X (the start of the reader's state) as user data.
 * NS nonzero: element names arrive namespace-qualified as "uri|local". ON_TEXT may be NULL.
 * Returns 0, or -1 with *ERR set (WB_E_DATA with line:col, or WB_E_NOMEM). */
int io_xml_parse(io_xml *x, const char *buf, size_t n, const char *where, int ns,
                 XML_StartElementHandler on_start, XML_EndElementHandler on_end,
                 XML_CharacterDataHandler on_text, wb_error *err);

/* Records the first problem, "WHERE:line:col: KEY: FMT(WHAT)" (KEY may be NULL), and stops
 * the parser; later calls are ignored. */
void io_xml_fail(io_xml *x, const char *key, const char *fmt, const char *what);

#endif
