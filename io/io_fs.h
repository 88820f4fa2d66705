/* io_fs.h — small file-system helpers: recursive file listing, atomic writes, directories.
 *
 *     io_path_list files; io_path_list_init(&files);
 *     if (io_fs_collect("data/demo", &files, &err) != 0) ...;    // every regular file, sorted
 *     io_path_list_free(&files);
 *
 *     unsigned char *text; size_t n;                              // an input file, bounded
 *     if (io_fs_read_all("data/demo/labels.csv", 1 << 20, &text, &n, &err) != 0) ...;
 *     free(text);
 *
 *     io_atomic_file af;                                          // all or nothing
 *     if (io_fs_mkdirs("runs/x", &err) != 0 || io_atomic_open(&af, "runs/x/a.csv", &err) != 0) ...;
 *     fprintf(af.f, "a,b\n1,2\n");
 *     if (io_atomic_commit(&af, &err) != 0) ...;                  // a.csv complete, or as it was
 */
#ifndef IO_FS_H
#define IO_FS_H

#include <stddef.h>
#include <stdint.h>
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

/* ---- opening input files ----
 * Every reader of a file the workbench did not write (DICOM, CSV, YAML, weights, cache and
 * run files) opens it here, so that a FIFO, /dev/zero, /dev/urandom, a socket or a directory
 * named where a file is expected is an error instead of a hang or an endless read:
 *   - the path is opened O_RDONLY | O_NONBLOCK | O_CLOEXEC (opening a FIFO that has no writer
 *     does not block), then fstat'ed on the descriptor (no stat-then-open race), and refused
 *     with WB_E_IO unless it is a regular file ("is a FIFO (named pipe), not a regular file");
 *     O_NONBLOCK is then cleared;
 *   - max_bytes (0: no limit) refuses a larger file with WB_E_DATA before anything is read;
 *   - *size (may be NULL) is the file's size: readers read at most that many bytes.
 * io_fs_open_input returns the descriptor (the caller closes it) or -1; io_fs_fopen_input
 * wraps it in a FILE ("rb") or returns NULL. The error names the path. */
int io_fs_open_input(const char *path, uint64_t max_bytes, uint64_t *size, wb_error *err);
FILE *io_fs_fopen_input(const char *path, uint64_t max_bytes, uint64_t *size, wb_error *err);

/* Reads the whole regular file at path (through io_fs_open_input) into a malloc'd buffer
 * with a terminating NUL byte after the n bytes (not counted); exactly the fstat size is
 * read, so a file that changes while it is read is an error. *out is NULL on failure. */
int io_fs_read_all(const char *path, size_t max_bytes, unsigned char **out, size_t *n,
                   wb_error *err);

/* read(2) until n bytes or end of file (EINTR retried); the bytes read, or -1 on error. */
long long io_fs_read_full(int fd, void *buf, size_t n);

/* A name by which a library that opens files by name (DCMTK, libhdf5) reopens exactly the
 * file behind fd, checked by io_fs_open_input: "/proc/self/fd/N" where /proc is mounted,
 * else path itself. Returns buf or path. */
const char *io_fs_fd_name(int fd, const char *path, char *buf, size_t n);

/* For a path read from an input file (an annotation sheet, a bundle's manifest) that must
 * stay inside the directory it is relative to: io_path_has_dotdot is 1 when it has a ".."
 * component, io_path_leaves when it has one or is absolute. Both '/' and '\\'
 * separate components ("a..b" and "..x" are names, not ".."). */
int io_path_has_dotdot(const char *p);
int io_path_leaves(const char *p);

/* Creates dir and its parents (mode 0777 & ~umask). Existing directories are fine. */
int io_fs_mkdirs(const char *dir, wb_error *err);

/* Atomic file writing: io_atomic_open returns a FILE on "path.tmp.<pid>@<host>" (host: this
 * machine's name, so that writers on several machines sharing a directory never collide, nor
 * judge each other's files stale); io_atomic_commit
 * flushes, fsyncs, closes and renames it onto path; io_atomic_abort closes and removes it.
 * Either commit or abort must be called exactly once. On any failure the temporary file is
 * removed and path is left as it was; the error names path and the reason (WB_E_WRITE). */
/* The temporary name this process writes path under: "path.tmp.<pid>@<host>" into buf[n].
 * Returns buf, or NULL (and buf emptied) when it does not fit. */
const char *io_fs_tmp_name(const char *path, char *buf, size_t n);

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

/* Removes the temporary files ("NAME.tmp.<pid>@<host>", or "NAME.tmp.<pid>" as older versions
 * wrote them) that killed processes of this machine left directly in dir: those whose pid is
 * not a live process here. Other files, the temporary files of live processes (a concurrent
 * writer) and those written on another host are left alone. Returns the number removed, or -1 with err
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
