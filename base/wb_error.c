#include "base/wb_error.h"

#include <string.h>

void wb_error_clear(wb_error *err)
{
    if (err)
        memset(err, 0, sizeof *err);
}

static void copy_str(char *dst, size_t n, const char *src)
{
    if (!src)
        src = "";
    size_t len = strlen(src);
    if (len >= n)
        len = n - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

int wb_err_v(wb_error *err, wb_code code, const char *file, int line, int col,
             const char *key, const char *fmt, va_list ap)
{
    if (!err)
        return -1;
    err->code = code;
    copy_str(err->file, sizeof err->file, file);
    copy_str(err->key, sizeof err->key, key);
    err->line = line;
    err->col = col;
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    return -1;
}

int wb_err(wb_error *err, wb_code code, const char *file, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wb_err_v(err, code, file, 0, 0, NULL, fmt, ap);
    va_end(ap);
    return -1;
}

int wb_err_at(wb_error *err, wb_code code, const char *file, int line, int col,
              const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    wb_err_v(err, code, file, line, col, key, fmt, ap);
    va_end(ap);
    return -1;
}

const char *wb_error_format(const wb_error *err, char *buf, size_t n)
{
    if (n == 0)
        return buf;
    size_t off = 0;
#define APPEND(...)                                                                        \
    do {                                                                                   \
        if (off < n) {                                                                     \
            int k_ = snprintf(buf + off, n - off, __VA_ARGS__);                            \
            off += k_ > 0 ? (size_t)k_ : 0;                                                \
        }                                                                                  \
    } while (0)
    buf[0] = '\0';
    if (err->file[0]) {
        APPEND("%s", err->file);
        if (err->line > 0)
            APPEND(":%d", err->line);
        if (err->col > 0)
            APPEND(":%d", err->col);
        APPEND(": ");
    }
    if (err->key[0])
        APPEND("%s: ", err->key);
    APPEND("%s", err->msg[0] ? err->msg : "unknown error");
#undef APPEND
    return buf;
}

void wb_fputs_escaped(const char *s, FILE *f)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 && *p != 0x7f)
            fputc(*p, f);
        else if (*p == '\n')
            fputs("\\n", f);
        else if (*p == '\r')
            fputs("\\r", f);
        else if (*p == '\t')
            fputs("\\t", f);
        else
            fprintf(f, "\\x%02x", *p);
    }
}

void wb_error_print(const wb_error *err, FILE *f)
{
    char buf[2400];
    fputs("workbench: error: ", f);
    wb_fputs_escaped(wb_error_format(err, buf, sizeof buf), f);
    fputc('\n', f);
}

int wb_exit_code(wb_code code)
{
    switch (code) {
    case WB_E_NONE: return WB_EXIT_OK;
    case WB_E_FAILED: return WB_EXIT_FAILED;
    case WB_E_USAGE:
    case WB_E_CONFIG: return WB_EXIT_USAGE;
    case WB_E_DATA:
    case WB_E_IO: return WB_EXIT_DATA;
    case WB_E_WRITE:
    case WB_E_NOMEM:
    case WB_E_INTERNAL:
    case WB_E_COUNT_: break;
    }
    return WB_EXIT_INTERNAL;
}

const char *wb_code_name(wb_code code)
{
    static const char *const names[] = {"none", "failed", "usage", "config", "data",
                                        "io", "write", "nomem", "internal"};
    _Static_assert(sizeof names / sizeof names[0] == WB_E_COUNT_, "names out of step");
    return (unsigned)code < WB_E_COUNT_ ? names[code] : "internal";
}
