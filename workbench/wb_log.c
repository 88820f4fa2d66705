#include "wb_log.h"

#include <stdarg.h>
#include <stdio.h>

static wb_log_level g_level = WB_LOG_INFO;

void wb_log_set_level(wb_log_level level) { g_level = level; }
wb_log_level wb_log_get_level(void) { return g_level; }

void wb_log(wb_log_level level, const char *fmt, ...)
{
    if (level > g_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("workbench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void wb_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("workbench: warning: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
