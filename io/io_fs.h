/* io_fs.h — small file-system helpers: recursive file listing, atomic writes, directories. */
#ifndef IO_FS_H
#define IO_FS_H

#include <stddef.h>
#include <stdio.h>

#include "base/wb_error.h"

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
 * Either commit or abort must be called exactly once. On any failure the temporary file is
 * removed and path is left as it was; the error names path and the reason (WB_E_WRITE). */
typedef struct io_atomic_file {
    FILE *f;
    int fd;          /* f's descriptor (for fsync) */
    void *fault;     /* private: the write-failure injection stream, NULL normally */
    char path[4096];
    char tmp[4200];
} io_atomic_file;

int io_atomic_open(io_atomic_file *af, const char *path, wb_error *err);
int io_atomic_commit(io_atomic_file *af, wb_error *err);
void io_atomic_abort(io_atomic_file *af);

/* Sets the permission bits of the file being written (before anything sensitive is written
 * into it, e.g. 0600 for a key); the file keeps them when it is renamed into place. */
int io_atomic_chmod(io_atomic_file *af, unsigned mode, wb_error *err);

/* Removes the temporary files ("NAME.tmp.<pid>") that killed processes left directly in dir:
 * those whose pid is not a live process. Other files, and the temporary files of live
 * processes (a concurrent writer), are left alone. Returns the number removed, or -1 with err
 * if dir cannot be read. For `run --resume` and cache maintenance. */
long io_fs_remove_stale_tmp(const char *dir, wb_error *err);

/* For writers whose library writes the temporary file itself (DCMTK's saveFile, ...): fsyncs
 * tmp and renames it onto path, removing tmp on failure. Counts as fsync and rename for the
 * write-failure injection below. */
int io_fs_publish(const char *tmp, const char *path, wb_error *err);

/* Test-only write-failure injection (docs/runs.md, "Faults"). Every output operation of this
 * module is numbered from 1 in the order the process makes it: create (of a temporary file),
 * write (each write(2) of its stream), fsync, rename, mkdir (of a directory that does not
 * exist yet). With the environment variable
 *     WB_FAULT_WRITE=N     operation N fails with ENOSPC (a failing write writes half its bytes);
 *     WB_FAULT_WRITE=N+    operation N and every later one fail (the disk stays full);
 *     WB_FAULT_KILL=N      the process kills itself (SIGKILL) just before operation N;
 *     WB_FAULT_TRACE=1     every operation is printed to stderr: "workbench: fault point N: op path".
 * Unset, the cost is one load of a cached flag per operation. io_fs_fault_point lets a writer
 * outside this module take part: it returns 0, or sets errno to ENOSPC and returns -1 when
 * this operation is to fail. */
int io_fs_fault_point(const char *op, const char *path);

/* Reads a whole file into a malloc'd buffer (*out, freed by the caller with free();
 * NULL on failure). Fails with WB_E_DATA if the file is larger than max_bytes. */
int io_file_read_all(const char *path, size_t max_bytes, unsigned char **out, size_t *n,
                     wb_error *err);

#ifdef __cplusplus
}
#endif
#endif
