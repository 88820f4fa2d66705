#include "workbench/json_out.h"

#include "io/io_json.h"

#include <math.h>

static void file_sink(void *ctx, const char *bytes, size_t n) { fwrite(bytes, 1, n, (FILE *)ctx); }

void json_write_string(FILE *f, const char *s)
{
    /* io/io_json.c writes every JSON string of the workbench; this style: \n \r \t, DEL escaped */
    io_json_write_string(s, IO_JSON_ESC_SHORT | IO_JSON_ESC_DEL, file_sink, f);
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
