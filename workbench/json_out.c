#include "workbench/json_out.h"

#include <math.h>

void json_write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*p < 0x20 || *p == 0x7f)
                fprintf(f, "\\u%04x", *p);
            else
                fputc(*p, f);
        }
    }
    fputc('"', f);
}

static void key(json_out *j, const char *k)
{
    if (j->n++)
        fputc(',', j->f);
    json_write_string(j->f, k);
    fputc(':', j->f);
}

void json_begin(json_out *j, FILE *f)
{
    j->f = f;
    j->n = 0;
    fputc('{', f);
}

void json_end(json_out *j) { fputs("}\n", j->f); }

void json_str(json_out *j, const char *k, const char *v)
{
    key(j, k);
    if (v)
        json_write_string(j->f, v);
    else
        fputs("null", j->f);
}

void json_str_or_null(json_out *j, const char *k, const char *v)
{
    json_str(j, k, v && v[0] ? v : NULL);
}

void json_int(json_out *j, const char *k, long long v)
{
    key(j, k);
    fprintf(j->f, "%lld", v);
}

static void num(FILE *f, double v)
{
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fputs("null", f);
}

void json_num(json_out *j, const char *k, double v)
{
    key(j, k);
    num(j->f, v);
}

void json_bool(json_out *j, const char *k, int v)
{
    key(j, k);
    fputs(v ? "true" : "false", j->f);
}

void json_num_pair(json_out *j, const char *k, double a, double b)
{
    key(j, k);
    fputc('[', j->f);
    num(j->f, a);
    fputc(',', j->f);
    num(j->f, b);
    fputc(']', j->f);
}
