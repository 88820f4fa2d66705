#include "io_fs.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

int io_fs_mkdirs(const char *dir, wb_error *err)
{
    char buf[4096];
    size_t len = strlen(dir);
    if (len == 0 || len >= sizeof buf)
        return wb_err(err, WB_E_WRITE, dir, "bad directory name");
    memcpy(buf, dir, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] != '/' && buf[i] != '\0')
            continue;
        char c = buf[i];
        buf[i] = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return wb_err(err, WB_E_WRITE, buf, "cannot create directory: %s", strerror(errno));
        struct stat st;
        if (stat(buf, &st) != 0 || !S_ISDIR(st.st_mode))
            return wb_err(err, WB_E_WRITE, buf, "exists and is not a directory");
        buf[i] = c;
    }
    return 0;
}

int io_atomic_open(io_atomic_file *af, const char *path, wb_error *err)
{
    memset(af, 0, sizeof *af);
    if (strlen(path) >= sizeof af->path)
        return wb_err(err, WB_E_WRITE, path, "path too long");
    snprintf(af->path, sizeof af->path, "%s", path);
    snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid());
    af->f = fopen(af->tmp, "wb");
    if (!af->f)
        return wb_err(err, WB_E_WRITE, path, "cannot create: %s", strerror(errno));
    return 0;
}

int io_atomic_commit(io_atomic_file *af, wb_error *err)
{
    int bad = ferror(af->f);
    if (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0)
        bad = 1;
    int e = errno;
    if (fclose(af->f) != 0)
        bad = 1;
    af->f = NULL;
    if (bad) {
        unlink(af->tmp);
        return wb_err(err, WB_E_WRITE, af->path, "write failed: %s", strerror(e ? e : EIO));
    }
    if (rename(af->tmp, af->path) != 0) {
        e = errno;
        unlink(af->tmp);
        return wb_err(err, WB_E_WRITE, af->path, "cannot move into place: %s", strerror(e));
    }
    return 0;
}

void io_atomic_abort(io_atomic_file *af)
{
    if (af->f)
        fclose(af->f);
    af->f = NULL;
    if (af->tmp[0])
        unlink(af->tmp);
}
