/* wb_error.h — the error record every module fills, and the process exit codes.
 *
 * A function that can fail returns a status (0 ok, -1 failed) and fills a caller-owned
 * wb_error. The top level (workbench/main.c) prints it as one line and exits with
 * wb_exit_code(err->code). Library code never calls exit().
 *
 *     // given: const char *path; io_dicom_options opt; io_dicom_image img;
 *     wb_error err = {0};
 *     if (io_dicom_read(path, &opt, &img, &err) != 0) {
 *         wb_error_print(&err, stderr);      // "x.dcm: (0028,0010) Rows: is 0"
 *         return wb_exit_code(err.code);     // 3
 *     }
 */
#ifndef WB_ERROR_H
#define WB_ERROR_H

#include <stdarg.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Exit codes of DESIGN.md. */
enum {
    WB_EXIT_OK = 0,       /* everything ran and succeeded */
    WB_EXIT_FAILED = 1,   /* the job ran but something in it failed (e.g. on_error: fail) */
    WB_EXIT_USAGE = 2,    /* bad usage or bad config */
    WB_EXIT_DATA = 3,     /* bad input data (DICOM, CSV, weights, ...) */
    WB_EXIT_INTERNAL = 4  /* internal error: out of memory, output not writable, a bug */
};

typedef enum {
    WB_E_NONE = 0,
    WB_E_FAILED,   /* -> 1 */
    WB_E_USAGE,    /* -> 2: command line */
    WB_E_CONFIG,   /* -> 2: config file */
    WB_E_DATA,     /* -> 3: an input file's content is unusable */
    WB_E_IO,       /* -> 3: an input file or directory cannot be read */
    WB_E_WRITE,    /* -> 4: an output cannot be written */
    WB_E_NOMEM,    /* -> 4 */
    WB_E_INTERNAL, /* -> 4 */
    WB_E_COUNT_
} wb_code;

typedef struct wb_error {
    wb_code code;
    char file[1024]; /* the file the error is about, "" if none */
    int line, col;   /* 1-based position in file, 0 if none */
    char key[256];   /* config key path or DICOM tag, "" if none */
    char msg[1024];
} wb_error;

/* Clears the record. */
void wb_error_clear(wb_error *err);

/* Fills err (if not NULL) and returns -1, so that `return wb_err(...)` reads naturally.
 * file and key may be NULL. */
int wb_err(wb_error *err, wb_code code, const char *file, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
int wb_err_at(wb_error *err, wb_code code, const char *file, int line, int col,
              const char *key, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 7, 8)))
#endif
    ;
int wb_err_v(wb_error *err, wb_code code, const char *file, int line, int col,
             const char *key, const char *fmt, va_list ap);

/* "file:line:col: key: message" with the empty parts left out. Returns buf. */
const char *wb_error_format(const wb_error *err, char *buf, size_t n);
/* Writes s to f with control bytes escaped (\n, \r, \t, other bytes below 0x20 and DEL as
 * \xNN, a backslash stays one), so that a file name with a newline or a terminal escape
 * sequence in it cannot forge log lines or drive the terminal. wb_error_print, wb_log and
 * wb_warn write their messages through it. */
void wb_fputs_escaped(const char *s, FILE *f);
/* Prints "workbench: error: <formatted>\n" to f (the message escaped: wb_fputs_escaped). */
void wb_error_print(const wb_error *err, FILE *f);
/* Maps an error code to the process exit code. */
int wb_exit_code(wb_code code);
/* Short name of a code ("data", "config", ...). */
const char *wb_code_name(wb_code code);

#ifdef __cplusplus
}
#endif
#endif
