/* test_io_fs.c — io_fs helpers for faults: the stale temporary files of killed writers are
 * removed (those of live processes and other files kept), and io_atomic_chmod's mode reaches
 * the final file; io_path_leaves / io_path_has_dotdot tell which paths could leave their
 * directory. Args: SCRATCH_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/io_fs.h"
#include "wb_test.h"

static void touch(const char *dir, const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    if (f) {
        fputs("x\n", f);
        fclose(f);
    }
}

static int exists(const char *dir, const char *name)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: test_io_fs SCRATCH_DIR\n");
        return 2;
    }
    /* paths from input files that must stay inside their directory (import, bundles) */
    static const struct { const char *p; int dotdot, leaves; } paths[] = {
        {"a/b.dcm", 0, 0},   {"a..b/c..", 0, 0},   {"..x/.y/...", 0, 0}, {"./a", 0, 0},      {"", 0, 0},
        {"..", 1, 1},        {"a/../b", 1, 1},     {"a/..", 1, 1},       {"a\\..\\b", 1, 1}, {"../", 1, 1},
        {"/etc/passwd", 0, 1}, {"\\x", 0, 1},      {"//a", 0, 1},        {"a//..//b", 1, 1},
    };
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        CHECK(io_path_has_dotdot(paths[i].p) == paths[i].dotdot, "io_path_has_dotdot('%s')", paths[i].p);
        CHECK(io_path_leaves(paths[i].p) == paths[i].leaves, "io_path_leaves('%s')", paths[i].p);
    }
    char dir[4000]; /* a new directory each time: earlier runs' files stay out of the counts */
    snprintf(dir, sizeof dir, "%s/%ld", argv[1], (long)getpid());
    wb_error err = {0};
    CHECK(io_fs_mkdirs(dir, &err) == 0, "%s", err.msg);
    /* a pid that is surely dead: a child that has exited and been reaped */
    pid_t child = fork();
    if (child == 0)
        _exit(0);
    waitpid(child, NULL, 0);
    char host[256] = "";
    CHECK(gethostname(host, sizeof host - 1) == 0 && host[0], "gethostname");
    host[64] = '\0';
    for (char *h = host; *h; h++)
        if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') || (*h >= '0' && *h <= '9') || *h == '.' || *h == '-'))
            *h = '_';
    char dead[400], live[400], dead2[400], dead3[400], other[400];
    snprintf(dead, sizeof dead, "metrics.json.tmp.%ld", (long)child); /* the older format */
    snprintf(dead2, sizeof dead2, "a.tmp.b.tmp.%ld@%s", (long)child, host);
    snprintf(dead3, sizeof dead3, "folds.csv.tmp.%ld@%s", (long)child, host);
    snprintf(live, sizeof live, "predictions.csv.tmp.%ld@%s", (long)getpid(), host);
    snprintf(other, sizeof other, "unit-3.part.tmp.%ld@%s-elsewhere", (long)child, host);
    touch(dir, dead);
    touch(dir, dead2);
    touch(dir, dead3);
    touch(dir, live);
    touch(dir, other);
    touch(dir, "metrics.json");
    touch(dir, "notes.tmp.txt");
    touch(dir, "x.tmp.12ab");
    CHECK_EQ_INT(io_fs_remove_stale_tmp(dir, &err), 3, "stale temporary files removed");
    CHECK(!exists(dir, dead) && !exists(dir, dead2) && !exists(dir, dead3), "a dead writer's temporary files are gone");
    CHECK(exists(dir, live), "a live writer's temporary file is kept");
    CHECK(exists(dir, other), "another host's temporary file is kept");
    CHECK(exists(dir, "metrics.json") && exists(dir, "notes.tmp.txt") && exists(dir, "x.tmp.12ab"),
          "other files are kept");
    CHECK(io_fs_remove_stale_tmp("/nonexistent/dir", &err) == -1 && err.code == WB_E_IO, "missing dir: %s",
          err.msg);

    char key[4200];
    snprintf(key, sizeof key, "%s/key", dir);
    umask(022);
    io_atomic_file af;
    CHECK(io_atomic_open(&af, key, &err) == 0, "%s", err.msg);
    CHECK(io_atomic_chmod(&af, 0600, &err) == 0, "%s", err.msg);
    fputs("secret\n", af.f);
    CHECK(io_atomic_commit(&af, &err) == 0, "%s", err.msg);
    struct stat st;
    CHECK(stat(key, &st) == 0 && (st.st_mode & 0777) == 0600, "key mode %o", (unsigned)(st.st_mode & 0777));
    return wb_test_finish("faults.io_fs");
}
