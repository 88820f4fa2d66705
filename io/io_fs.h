/* io_fs.h — small file-system helpers: recursive file listing, atomic writes, directories. */
#ifndef IO_FS_H
#define IO_FS_H

#include <stddef.h>
#include <stdio.h>

#include "wb_error.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct io_path_list {
    char **paths; /* owned; sorted byte-wise so every run sees the same order */
    size_t n, cap;
} io_path_list;

void io_path_list_init(io_path_list *l);
void io_path_list_free(io_path_list *l);
int io_path_list_add(io_path_list *l, const char *path, wb_error *err);

/* Adds path to out if it is a file, or every regular file below it (recursively, hidden
 * files and directories skipped) if it is a directory. An unreadable path or a directory
 * with no files is an error naming it. */
int io_fs_collect(const char *path, io_path_list *out, wb_error *err);

/* Creates dir and its parents (mode 0777 & ~umask). Existing directories are fine. */
int io_fs_mkdirs(const char *dir, wb_error *err);

/* Atomic file writing: io_atomic_open returns a FILE on "path.tmp.<pid>"; io_atomic_commit
 * flushes, fsyncs, closes and renames it onto path; io_atomic_abort closes and removes it.
 * Either commit or abort must be called exactly once. */
typedef struct io_atomic_file {
    FILE *f;
    char path[4096];
    char tmp[4200];
} io_atomic_file;

int io_atomic_open(io_atomic_file *af, const char *path, wb_error *err);
int io_atomic_commit(io_atomic_file *af, wb_error *err);
void io_atomic_abort(io_atomic_file *af);

#ifdef __cplusplus
}
#endif
#endif
