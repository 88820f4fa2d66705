/* sbuf.h — a growing text buffer for output files, written atomically at the end.
 *
 *     // given: const char *name, *dir; double auc;
 *     sbuf b = {0};
 *     sb_printf(&b, "variant,auc\n");
 *     sb_csv(&b, name); sb_printf(&b, ","); sb_num(&b, auc); sb_printf(&b, "\n");
 *     int rc = sb_write(&b, dir, "table.csv", &err);   // dir/table.csv, temp + rename
 *     sb_free(&b);
 *
 * An allocation failure is remembered (oom) and reported by sb_write, so callers format
 * without checking every call.
 */
#ifndef EXP_SBUF_H
#define EXP_SBUF_H

#include <stddef.h>
#include <stdio.h>

#include "base/wb_error.h"

typedef struct sbuf {
    char *s;       /* NUL-terminated when n > 0 */
    size_t n, cap;
    int oom;
} sbuf;

void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* JSON number: 17 significant digits (round-trips), null for non-finite. */
void sb_num(sbuf *b, double v);
/* JSON string with quotes and escapes (io_json_write_string: bytes that are not UTF-8 become
 * U+FFFD). */
void sb_jstr(sbuf *b, const char *s);
/* CSV field, quoted when it holds a comma, quote or line break. */
void sb_csv(sbuf *b, const char *s);
/* Text for HTML/XML content or attribute values: & < > " ' escaped. */
void sb_xml(sbuf *b, const char *s);
/* Writes the buffer to dir/name atomically (dir may be NULL: name is the path). */
int sb_write(const sbuf *b, const char *dir, const char *name, wb_error *err);
/* Appends the buffer's text to f and empties it (the capacity stays), for a file written as
 * it is produced (through io_atomic_open) instead of held whole. 0, or -1 with err naming
 * path: WB_E_NOMEM when a format before ran out of memory, WB_E_WRITE when f refuses. */
int sb_drain(sbuf *b, FILE *f, const char *path, wb_error *err);
void sb_free(sbuf *b);

#endif
