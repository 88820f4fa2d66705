/* test_pseudonym_key.c — runs that start together in a fresh runs directory agree on one
 * pseudonym key (issue 15: each used to make its own, so one patient got two pseudonyms).
 * 8 processes released at once call exp_pseudonym_key, 20 rounds, a fresh directory each:
 * every process ends with the same key, the one in the file (mode 0600), and no temporary
 * file is left. A damaged key is refused. Args: WORK_DIR */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "experiments/data/dataset.h"
#include "../wb_test.h"

enum { PROCS = 8, ROUNDS = 20 };

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    mkdir(argv[1], 0777);
    uint8_t *keys = mmap(NULL, PROCS * 32 + PROCS, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    CHECK(keys != MAP_FAILED, "mmap");
    if (keys == MAP_FAILED) return wb_test_finish("pseudonym_key");
    uint8_t *ok = keys + PROCS * 32;
    int rounds_split = 0;
    for (int r = 0; r < ROUNDS; r++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/runs%d", argv[1], r);
        char cmd[4200];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0) return 2;
        mkdir(dir, 0777);
        memset(keys, 0, PROCS * 32 + PROCS);
        int go[2];
        if (pipe(go) != 0) return 2;
        pid_t pids[PROCS];
        for (int p = 0; p < PROCS; p++) {
            pids[p] = fork();
            if (pids[p] == 0) {
                close(go[1]);
                char c;
                (void)!read(go[0], &c, 1); /* returns 0 when the parent closes: all start together */
                wb_error e;
                ok[p] = exp_pseudonym_key(dir, keys + p * 32, &e) == 0;
                if (!ok[p]) fprintf(stderr, "process %d: %s: %s\n", p, e.file, e.msg);
                _exit(0);
            }
        }
        close(go[0]);
        close(go[1]);
        for (int p = 0; p < PROCS; p++) waitpid(pids[p], NULL, 0);
        uint8_t file_key[32];
        wb_error e;
        CHECK(exp_pseudonym_key(dir, file_key, &e) == 0, "round %d: read the key: %s", r, e.msg);
        int same = 1;
        for (int p = 0; p < PROCS; p++) {
            CHECK(ok[p], "round %d: process %d got a key", r, p);
            same &= !memcmp(keys + p * 32, file_key, 32);
        }
        rounds_split += !same;
        char path[4200];
        snprintf(path, sizeof path, "%s/.pseudonym-key", dir);
        struct stat st;
        CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "round %d: the key file has mode 0600", r);
        DIR *d = opendir(dir);
        int entries = 0;
        for (struct dirent *de; d && (de = readdir(d));) entries += de->d_name[0] != '.' || strlen(de->d_name) > 2;
        if (d) closedir(d);
        CHECK(entries == 1, "round %d: %d entries in the directory, expected only .pseudonym-key", r, entries);
    }
    CHECK(rounds_split == 0, "in %d of %d rounds the processes ended with different keys", rounds_split, ROUNDS);
    /* a damaged key is refused, not replaced */
    char dir0[4200], path[4300];
    snprintf(dir0, sizeof dir0, "%s/runs0", argv[1]);
    snprintf(path, sizeof path, "%s/.pseudonym-key", dir0);
    FILE *f = fopen(path, "w");
    fputs("not hex\n", f);
    fclose(f);
    uint8_t k[32];
    wb_error e;
    CHECK(exp_pseudonym_key(dir0, k, &e) != 0, "damaged key refused");
    CHECK_CONTAINS(e.msg, "damaged pseudonym key", "says why");
    munmap(keys, PROCS * 32 + PROCS);
    return wb_test_finish("pseudonym_key");
}
