/* json_out.h — writing one JSON object per line (JSON Lines) to a FILE.
 *
 *     json_out j;
 *     json_begin(&j, stdout);
 *     json_str(&j, "file", "P0001/L_CC.dcm");
 *     json_int(&j, "rows", 4096);
 *     json_num(&j, "mean", NAN);                 // null
 *     json_end(&j);                              // {"file": "P0001/L_CC.dcm", "rows": 4096, "mean": null}
 */
#ifndef WB_JSON_OUT_H
#define WB_JSON_OUT_H

#include <stdio.h>

typedef struct json_out {
    FILE *f;
    int n; /* members written in the current object */
} json_out;

void json_begin(json_out *j, FILE *f);      /* "{" */
void json_end(json_out *j);                 /* "}\n" */
void json_str(json_out *j, const char *key, const char *value); /* NULL value -> null */
void json_str_or_null(json_out *j, const char *key, const char *value); /* "" -> null */
void json_int(json_out *j, const char *key, long long value);
void json_num(json_out *j, const char *key, double value); /* non-finite -> null */
void json_bool(json_out *j, const char *key, int value);
void json_num_pair(json_out *j, const char *key, double a, double b);
/* Writes s as a JSON string literal (quotes included) through io_json_write_string: escaped as
 * RFC 8259 requires, bytes that are not UTF-8 replaced by U+FFFD. */
void json_write_string(FILE *f, const char *s);

#endif
