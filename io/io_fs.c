/* fopencookie (glibc) for the write-failure injection stream */
#define _GNU_SOURCE
#include "io/io_fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- test-only write-failure injection (io_fs.h) ---- */

static atomic_int g_fault_mode = -1; /* -1: environment not read yet, 0: off, 1: on */
static atomic_long g_fault_count;
static long g_fault_n, g_kill_n;
static int g_fault_sticky, g_fault_trace;

static void fault_init(void)
{
    /* Reading the environment twice from two threads gives the same values: no lock. */
    const char *w = getenv("WB_FAULT_WRITE"), *t = getenv("WB_FAULT_TRACE"), *kl = getenv("WB_FAULT_KILL");
    char *end = NULL;
    long n = w && *w ? strtol(w, &end, 10) : 0;
    g_fault_n = n > 0 ? n : 0;
    g_fault_sticky = g_fault_n && end && *end == '+';
    g_fault_trace = t && *t && strcmp(t, "0") != 0;
    n = kl && *kl ? strtol(kl, NULL, 10) : 0;
    g_kill_n = n > 0 ? n : 0;
    atomic_store(&g_fault_mode, g_fault_n || g_fault_trace || g_kill_n);
}

int io_fs_fault_point(const char *op, const char *path)
{
    int mode = atomic_load_explicit(&g_fault_mode, memory_order_relaxed);
    if (mode < 0) {
        fault_init();
        mode = atomic_load(&g_fault_mode);
    }
    if (!mode)
        return 0;
    long k = atomic_fetch_add(&g_fault_count, 1) + 1;
    int fail = g_fault_n && (k == g_fault_n || (g_fault_sticky && k > g_fault_n));
    if (g_fault_trace)
        fprintf(stderr, "workbench: fault point %ld: %s %s%s\n", k, op, path,
                fail ? " (injected ENOSPC)" : k == g_kill_n ? " (killed)" : "");
    if (k == g_kill_n)
        raise(SIGKILL); /* as kill -9 from outside, at exactly this point: nothing is cleaned up */
    if (fail) {
        errno = ENOSPC;
        return -1;
    }
    return 0;
}

static int fault_on(void)
{
    if (atomic_load_explicit(&g_fault_mode, memory_order_relaxed) < 0)
        fault_init();
    return atomic_load_explicit(&g_fault_mode, memory_order_relaxed) > 0;
}

/* The stream io_atomic_open hands out while injection is on: every write(2) is a fault point. */
typedef struct fault_stream {
    int fd;
    int err; /* errno of the first failed write */
    char path[4200];
} fault_stream;

static ssize_t fault_write(void *c, const char *buf, size_t n)
{
    fault_stream *s = c;
    if (io_fs_fault_point("write", s->path) != 0) {
        /* as a disk filling up mid-write: part of the bytes land, then ENOSPC */
        if (n / 2 && write(s->fd, buf, n / 2) < 0) {
            /* nothing to add: the write fails either way */
        }
        s->err = ENOSPC;
        errno = ENOSPC;
        return -1;
    }
    size_t done = 0;
    while (done < n) {
        ssize_t k = write(s->fd, buf + done, n - done);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            s->err = errno;
            return done ? (ssize_t)done : -1;
        }
        done += (size_t)k;
    }
    return (ssize_t)n;
}

static int fault_close(void *c)
{
    fault_stream *s = c;
    int rc = close(s->fd);
    free(s);
    return rc;
}

static FILE *fault_open(const char *tmp, io_atomic_file *af)
{
    fault_stream *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (s->fd < 0) {
        int e = errno;
        free(s);
        errno = e;
        return NULL;
    }
    snprintf(s->path, sizeof s->path, "%s", tmp);
    cookie_io_functions_t fns = {NULL, fault_write, NULL, fault_close};
    FILE *f = fopencookie(s, "w", fns);
    if (!f) {
        close(s->fd);
        free(s);
        unlink(tmp);
        errno = ENOMEM;
        return NULL;
    }
    af->fd = s->fd;
    af->fault = s;
    return f;
}

void io_path_list_init(io_path_list *l) { memset(l, 0, sizeof *l); }

void io_path_list_free(io_path_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->paths[i]);
    free(l->paths);
    memset(l, 0, sizeof *l);
}

int io_path_list_add(io_path_list *l, const char *path, wb_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        char **p = realloc(l->paths, cap * sizeof *p);
        if (!p)
            return wb_err(err, WB_E_NOMEM, path, "out of memory listing files");
        l->paths = p;
        l->cap = cap;
    }
    size_t len = strlen(path);
    char *s = malloc(len + 1);
    if (!s)
        return wb_err(err, WB_E_NOMEM, path, "out of memory listing files");
    memcpy(s, path, len + 1);
    l->paths[l->n++] = s;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk(const char *dir, io_path_list *out, int depth, wb_error *err)
{
    if (depth > 64)
        return wb_err(err, WB_E_IO, dir, "directories nested more than 64 deep (a link loop?)");
    DIR *d = opendir(dir);
    if (!d)
        return wb_err(err, WB_E_IO, dir, "cannot read directory: %s", strerror(errno));
    io_path_list sub;
    io_path_list_init(&sub);
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue; /* ".", "..", and hidden files such as .DS_Store */
        size_t need = strlen(dir) + strlen(e->d_name) + 2;
        char *p = malloc(need);
        if (!p) {
            rc = wb_err(err, WB_E_NOMEM, dir, "out of memory listing files");
            break;
        }
        snprintf(p, need, "%s%s%s", dir, dir[strlen(dir) - 1] == '/' ? "" : "/", e->d_name);
        rc = io_path_list_add(&sub, p, err);
        free(p);
        if (rc)
            break;
    }
    closedir(d);
    if (rc == 0 && sub.n)
        qsort(sub.paths, sub.n, sizeof *sub.paths, cmp_str);
    for (size_t i = 0; rc == 0 && i < sub.n; i++) {
        struct stat st;
        if (stat(sub.paths[i], &st) != 0)
            continue; /* a dangling link: nothing to read */
        if (S_ISDIR(st.st_mode))
            rc = walk(sub.paths[i], out, depth + 1, err);
        else if (S_ISREG(st.st_mode))
            rc = io_path_list_add(out, sub.paths[i], err);
    }
    io_path_list_free(&sub);
    return rc;
}

int io_fs_collect(const char *path, io_path_list *out, wb_error *err)
{
    struct stat st;
    if (stat(path, &st) != 0)
        return wb_err(err, WB_E_IO, path, "cannot open: %s", strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return io_path_list_add(out, path, err);
    size_t before = out->n;
    if (walk(path, out, 0, err) != 0)
        return -1;
    if (out->n == before)
        return wb_err(err, WB_E_IO, path, "directory has no files");
    return 0;
}

int io_path_has_dotdot(const char *p)
{
    for (const char *q = p; *q;) {
        size_t k = strcspn(q, "/\\");
        if (k == 2 && q[0] == '.' && q[1] == '.') return 1;
        q += k + (q[k] != '\0');
    }
    return 0;
}

int io_path_leaves(const char *p)
{
    return p[0] == '/' || p[0] == '\\' || io_path_has_dotdot(p);
}

int io_fs_mkdirs(const char *dir, wb_error *err)
{
    char buf[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof buf)
        return wb_err(err, WB_E_WRITE, dir, "bad directory name");
    memcpy(buf, dir, len + 1);
    const int faults = fault_on();
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        struct stat st;
        /* injection counts only directories that are to be made */
        if (faults && stat(buf, &st) != 0 && io_fs_fault_point("mkdir", buf) != 0)
            return wb_err(err, WB_E_WRITE, buf, "cannot create directory: %s", strerror(errno));
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return wb_err(err, WB_E_WRITE, buf, "cannot create directory: %s", strerror(errno));
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            return wb_err(err, WB_E_WRITE, buf, "exists and is not a directory");
        buf[i] = c;
    }
    return 0;
}

/* This machine's name as it goes into temporary file names: at most 64 characters of
 * [A-Za-z0-9.-], others replaced by '_' ("localhost" if it has none). Cached. */
static const char *host_tag(void)
{
    static char tag[65];
    if (!tag[0]) {
        char h[256] = "";
        if (gethostname(h, sizeof h - 1) != 0 || !h[0])
            snprintf(h, sizeof h, "localhost");
        size_t i = 0;
        for (; h[i] && i < sizeof tag - 1; i++) {
            char c = h[i];
            int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-';
            tag[i] = ok ? c : '_';
        }
        tag[i] = '\0';
    }
    return tag;
}

const char *io_fs_tmp_name(const char *path, char *buf, size_t n)
{
    int k = snprintf(buf, n, "%s.tmp.%ld@%s", path, (long)getpid(), host_tag());
    if (k >= 0 && (size_t)k < n)
        return buf;
    if (n)
        buf[0] = '\0'; /* never a truncated name that someone might remove */
    return NULL;
}

int io_atomic_open(io_atomic_file *af, const char *path, wb_error *err)
{
    memset(af, 0, sizeof *af);
    af->fd = -1;
    if (strlen(path) >= sizeof af->path)
        return wb_err(err, WB_E_WRITE, path, "path too long");
    snprintf(af->path, sizeof af->path, "%s", path);
    io_fs_tmp_name(path, af->tmp, sizeof af->tmp); /* fits: path is shorter than af->path */
    if (fault_on()) {
        if (io_fs_fault_point("create", af->tmp) == 0)
            af->f = fault_open(af->tmp, af);
    } else {
        af->f = fopen(af->tmp, "wb");
        if (af->f)
            af->fd = fileno(af->f);
    }
    if (!af->f) {
        int e = errno;
        af->tmp[0] = '\0'; /* nothing was created (or fault_open removed it) */
        return wb_err(err, WB_E_WRITE, path, "cannot create: %s", strerror(e));
    }
    return 0;
}

int io_atomic_commit(io_atomic_file *af, wb_error *err)
{
    fault_stream *fs = af->fault;
    int e = 0;
    if (ferror(af->f) || fflush(af->f) != 0)
        e = fs && fs->err ? fs->err : errno ? errno : EIO;
    else if (io_fs_fault_point("fsync", af->path) != 0 || fsync(af->fd) != 0)
        e = errno ? errno : EIO;
    if (fclose(af->f) != 0 && !e) /* frees fs */
        e = errno ? errno : EIO;
    af->f = NULL;
    af->fault = NULL;
    const char *what = "write failed";
    if (!e && (io_fs_fault_point("rename", af->path) != 0 || rename(af->tmp, af->path) != 0)) {
        e = errno ? errno : EIO;
        what = "cannot move into place";
    }
    if (e) {
        unlink(af->tmp);
        return wb_err(err, WB_E_WRITE, af->path, "%s: %s", what, strerror(e));
    }
    return 0;
}

void io_atomic_abort(io_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    af->f = NULL;
    af->fault = NULL;
    if (af->tmp[0])
        unlink(af->tmp);
}

int io_fs_publish(const char *tmp, const char *path, wb_error *err)
{
    const char *what = "write failed";
    int fd = open(tmp, O_RDONLY | O_CLOEXEC), e = 0;
    if (fd < 0 || io_fs_fault_point("fsync", path) != 0 || fsync(fd) != 0)
        e = errno ? errno : EIO;
    if (fd >= 0)
        close(fd);
    if (!e && (io_fs_fault_point("rename", path) != 0 || rename(tmp, path) != 0)) {
        e = errno ? errno : EIO;
        what = "cannot move into place";
    }
    if (e) {
        unlink(tmp);
        return wb_err(err, WB_E_WRITE, path, "%s: %s", what, strerror(e));
    }
    return 0;
}

int io_atomic_chmod(io_atomic_file *af, unsigned mode, wb_error *err)
{
    if (!af->f || fchmod(af->fd, (mode_t)mode) != 0)
        return wb_err(err, WB_E_WRITE, af->path, "cannot set permissions: %s",
                      strerror(af->f ? errno : EBADF));
    return 0;
}

long io_fs_remove_stale_tmp(const char *dir, wb_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return wb_err(err, WB_E_IO, dir, "cannot read directory: %s", strerror(errno));
    long removed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *t = strstr(e->d_name, ".tmp.");
        if (!t || t == e->d_name)
            continue;
        /* the last ".tmp." is followed by the writer's pid and "@host" (or, from older
         * versions, nothing): a writer on another machine sharing the directory (a cluster's
         * NFS) cannot be judged by its pid here, so only this machine's files are removed */
        for (const char *u; (u = strstr(t + 1, ".tmp.")) != NULL;)
            t = u;
        char *end = NULL;
        errno = 0;
        long pid = strtol(t + 5, &end, 10);
        if (errno || end == t + 5 || pid <= 0 || (pid_t)pid != pid)
            continue;
        if (*end && (*end != '@' || strcmp(end + 1, host_tag()) != 0))
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue; /* alive (or not ours to judge): its writer may still rename it */
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && unlink(path) == 0)
            removed++;
    }
    closedir(d);
    return removed;
}

/* ---- opening input files (io_fs.h) ---- */

static const char *file_kind(mode_t m)
{
    if (S_ISDIR(m)) return "a directory";
    if (S_ISFIFO(m)) return "a FIFO (named pipe)";
    if (S_ISCHR(m)) return "a character device";
    if (S_ISBLK(m)) return "a block device";
    if (S_ISSOCK(m)) return "a socket";
    return "not a regular file";
}

int io_fs_open_input(const char *path, uint64_t max_bytes, uint64_t *size, wb_error *err)
{
    if (size)
        *size = 0;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        if (errno == EISDIR) /* not reached on Linux for O_RDONLY, kept for other systems */
            return wb_err(err, WB_E_IO, path, "is a directory, not a regular file");
        return wb_err(err, WB_E_IO, path, "cannot open: %s", strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return wb_err(err, WB_E_IO, path, "cannot open: %s", strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        const char *kind = file_kind(st.st_mode);
        if (!strcmp(kind, "not a regular file"))
            return wb_err(err, WB_E_IO, path, "not a regular file");
        return wb_err(err, WB_E_IO, path, "is %s, not a regular file", kind);
    }
    if (max_bytes && (uint64_t)st.st_size > max_bytes) {
        close(fd);
        return wb_err(err, WB_E_DATA, path, "file is %lld bytes, more than the limit of %llu",
                      (long long)st.st_size, (unsigned long long)max_bytes);
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        int e = errno;
        close(fd);
        return wb_err(err, WB_E_IO, path, "cannot open: %s", strerror(e));
    }
    if (size)
        *size = (uint64_t)st.st_size;
    return fd;
}

FILE *io_fs_fopen_input(const char *path, uint64_t max_bytes, uint64_t *size, wb_error *err)
{
    int fd = io_fs_open_input(path, max_bytes, size, err);
    if (fd < 0)
        return NULL;
    FILE *f = fdopen(fd, "rb");
    if (!f) {
        int e = errno;
        close(fd);
        wb_err(err, WB_E_IO, path, "cannot open: %s", strerror(e));
    }
    return f;
}

long long io_fs_read_full(int fd, void *buf, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t k = read(fd, (char *)buf + done, n - done);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (k == 0)
            break;
        done += (size_t)k;
    }
    return (long long)done;
}

int io_fs_read_all(const char *path, size_t max_bytes, unsigned char **out, size_t *n,
                   wb_error *err)
{
    *out = NULL;
    *n = 0;
    uint64_t size64 = 0;
    int fd = io_fs_open_input(path, max_bytes, &size64, err);
    if (fd < 0)
        return -1;
    if (size64 >= SIZE_MAX) {
        close(fd);
        return wb_err(err, WB_E_DATA, path, "file too large for this machine");
    }
    size_t size = (size_t)size64;
    unsigned char *buf = malloc(size + 1);
    if (!buf) {
        close(fd);
        return wb_err(err, WB_E_NOMEM, path, "out of memory reading %zu bytes", size);
    }
    long long got = io_fs_read_full(fd, buf, size);
    int e = errno;
    /* one more byte: a file that grew since fstat is as suspect as one that shrank */
    unsigned char extra;
    long long more = got == (long long)size ? io_fs_read_full(fd, &extra, 1) : 0;
    close(fd);
    if (got != (long long)size || more != 0) {
        free(buf);
        if (got < 0)
            return wb_err(err, WB_E_IO, path, "cannot read: %s", strerror(e));
        return wb_err(err, WB_E_IO, path, "read %lld of %zu bytes (file changed or I/O error)",
                      got, size);
    }
    buf[size] = '\0';
    *out = buf;
    *n = size;
    return 0;
}

const char *io_fs_fd_name(int fd, const char *path, char *buf, size_t n)
{
    struct stat a, b;
    snprintf(buf, n, "/proc/self/fd/%d", fd);
    /* the same file behind both names, or /proc is not there: use the path */
    if (stat(buf, &a) != 0 || fstat(fd, &b) != 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return path;
    return buf;
}

int io_file_read_all(const char *path, size_t max_bytes, unsigned char **out, size_t *n,
                     wb_error *err)
{
    return io_fs_read_all(path, max_bytes, out, n, err);
}
