/* io_xml.c — expat with DTDs and entities refused. See io_xml.h. */
#include "io/io_xml.h"

#include <stdint.h>

void io_xml_fail(io_xml *x, const char *key, const char *fmt, const char *what)
{
    if (x->failed) return;
    x->failed = 1;
    wb_err_at(x->err, WB_E_DATA, x->where, (int)XML_GetCurrentLineNumber(x->p),
              (int)XML_GetCurrentColumnNumber(x->p) + 1, key, fmt, what);
    XML_StopParser(x->p, XML_FALSE);
}

/* A DOCTYPE naming an external DTD is harmless (OsiriX writes one; expat never loads it); an
 * internal subset is where entity declarations live. */
static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                               int has_internal)
{
    (void)name, (void)sysid, (void)pubid;
    if (has_internal) io_xml_fail(ud, NULL, "%s", "an internal DTD subset (entity declarations are not accepted)");
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int vlen,
                                   const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
                                   const XML_Char *notation)
{
    (void)name, (void)is_param, (void)value, (void)vlen, (void)base, (void)sysid, (void)pubid, (void)notation;
    io_xml_fail(ud, NULL, "%s", "an entity declaration (not accepted)");
}

int io_xml_parse(io_xml *x, const char *buf, size_t n, const char *where, int ns,
                 XML_StartElementHandler on_start, XML_EndElementHandler on_end,
                 XML_CharacterDataHandler on_text, wb_error *err)
{
    x->where = where;
    x->err = err;
    x->failed = 0;
    if (n > (size_t)INT32_MAX) return wb_err(err, WB_E_DATA, where, "too large for an XML document");
    x->p = ns ? XML_ParserCreateNS(NULL, '|') : XML_ParserCreate(NULL);
    if (!x->p) return wb_err(err, WB_E_NOMEM, where, "out of memory");
    XML_SetUserData(x->p, x);
    XML_SetElementHandler(x->p, on_start, on_end);
    if (on_text) XML_SetCharacterDataHandler(x->p, on_text);
    XML_SetStartDoctypeDeclHandler(x->p, on_doctype);
    XML_SetEntityDeclHandler(x->p, on_entity_decl);
    XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
    if (XML_Parse(x->p, buf, (int)n, XML_TRUE) == XML_STATUS_ERROR && !x->failed) {
        wb_err_at(err, WB_E_DATA, where, (int)XML_GetCurrentLineNumber(x->p),
                  (int)XML_GetCurrentColumnNumber(x->p) + 1, NULL, "not well-formed XML: %s",
                  XML_ErrorString(XML_GetErrorCode(x->p)));
        x->failed = 1;
    }
    XML_ParserFree(x->p);
    x->p = NULL;
    return x->failed ? -1 : 0;
}
