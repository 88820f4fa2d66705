/* wb_log.h — progress and diagnostics on stderr. Results go to stdout or files, never here. */
#ifndef WB_LOG_H
#define WB_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { WB_LOG_QUIET = 0, WB_LOG_INFO = 1, WB_LOG_DEBUG = 2 } wb_log_level;

void wb_log_set_level(wb_log_level level);
wb_log_level wb_log_get_level(void);
/* "workbench: <message>\n" on stderr when level <= the set level. */
void wb_log(wb_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* "workbench: warning: <message>\n" on stderr, always. */
void wb_warn(const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

#ifdef __cplusplus
}
#endif
#endif
