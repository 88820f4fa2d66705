/* wb_log.h — progress and diagnostics on stderr. Results go to stdout or files, never here.
 *
 *     // given: size_t n;
 *     wb_log_set_level(WB_LOG_INFO);                       // WB_LOG_QUIET: warnings only
 *     double t0 = wb_now();
 *     for (size_t i = 0; i < n; i++) {
 *         ...one image...
 *         wb_progress("preprocess", i + 1, n, t0);         // a bar on a terminal, else every 10%
 *     }
 *     wb_log(WB_LOG_INFO, "%zu images in %.1f s", n, wb_now() - t0);
 *     wb_warn("%s: no laterality; the breast's mass decides", "P0001/L_CC.dcm");
 */
#ifndef WB_LOG_H
#define WB_LOG_H

#include <stddef.h>

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

/* Progress of a counted job on stderr: on a terminal a bar redrawn in place ("\r", at most
 * ~10 times a second) with count, rate and ETA; otherwise a plain line at every 10%. t0 is
 * the job's start from wb_now(). The last call (done == total) ends the line. Quiet level:
 * nothing. */
void wb_progress(const char *what, size_t done, size_t total, double t0);
/* Monotonic seconds. */
double wb_now(void);

#ifdef __cplusplus
}
#endif
#endif
