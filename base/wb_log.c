#include "base/wb_log.h"
#include "base/wb_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static wb_log_level g_level = WB_LOG_INFO;

void wb_log_set_level(wb_log_level level) { g_level = level; }
wb_log_level wb_log_get_level(void) { return g_level; }

void wb_log(wb_log_level level, const char *fmt, ...)
{
    if (level > g_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs("workbench: ", stderr);
    wb_fputs_escaped(buf, stderr); /* file names may hold newlines or escape sequences */
    fputc('\n', stderr);
}

void wb_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fputs("workbench: warning: ", stderr);
    wb_fputs_escaped(buf, stderr);
    fputc('\n', stderr);
}

double wb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void wb_progress(const char *what, size_t done, size_t total, double t0)
{
    static double last_draw;
    static size_t last_decile = (size_t)-1;
    if (g_level < WB_LOG_INFO || total == 0)
        return;
    double now = wb_now(), el = now - t0;
    double rate = el > 0 ? (double)done / el : 0;
    double eta = rate > 0 ? (double)(total - done) / rate : 0;
    if (isatty(2)) {
        if (done < total && now - last_draw < 0.1)
            return;
        last_draw = now;
        char bar[31];
        size_t fill = done * 30 / total;
        for (size_t i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(stderr, "\rworkbench: %s [%s] %zu/%zu %.1f/s ETA %.0fs   ", what, bar, done, total, rate, eta);
        if (done == total)
            fputc('\n', stderr);
        return;
    }
    size_t decile = done * 10 / total;
    if (decile == last_decile && done < total)
        return;
    last_decile = done == total ? (size_t)-1 : decile;
    fprintf(stderr, "workbench: %s %zu/%zu (%.1f/s, ETA %.0fs)\n", what, done, total, rate, eta);
}
