/* run_jobs.c — worker processes for a run's units. See run_jobs.h. */
#include "workbench/run_jobs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/wb_log.h"

extern char **environ;

int run_parse_units(const char *spec, size_t *units, size_t cap, size_t *n, wb_error *err)
{
    *n = 0;
    const char *p = spec;
    while (*p) {
        char *end;
        errno = 0;
        unsigned long a = strtoul(p, &end, 10), b = a;
        if (end == p || *p == '-' || *p == '+' || errno || a >= 10000000) goto bad;
        p = end;
        if (*p == '-') {
            b = strtoul(++p, &end, 10);
            if (end == p || errno || b >= 10000000 || b < a) goto bad;
            p = end;
        }
        for (unsigned long k = a; k <= b; k++) {
            if (*n == cap) return wb_err(err, WB_E_USAGE, NULL, "--unit %s: more than %zu units", spec, cap);
            units[(*n)++] = k;
        }
        if (*p == ',') p++;
        else if (*p) goto bad;
    }
    if (*n) return 0;
bad:
    return wb_err(err, WB_E_USAGE, NULL, "--unit '%s': expected unit numbers like 3, 0-7 or 0,2,5-9 (workbench run "
                  "CONFIG --plan lists them)", spec);
}

static int by_cost(const void *a, const void *b)
{
    const exp_run_unit *x = a, *y = b;
    if (x->cost != y->cost) return x->cost < y->cost ? 1 : -1;
    return (x->unit > y->unit) - (x->unit < y->unit);
}

typedef struct worker {
    pid_t pid;
    size_t unit;
    double t0;
} worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Starts `workbench run --unit K [--threads T] DIR` with its output in DIR/logs/unit-K.log. */
static int spawn_unit(const char *dir, size_t unit, int threads, pid_t *pid, wb_error *err)
{
    char log[4400], ubuf[32], tbuf[32];
    snprintf(log, sizeof log, "%s/logs/unit-%zu.log", dir, unit);
    snprintf(ubuf, sizeof ubuf, "%zu", unit);
    snprintf(tbuf, sizeof tbuf, "%d", threads);
    char *argv[10];
    int a = 0;
    argv[a++] = "workbench";
    argv[a++] = "run";
    argv[a++] = "--unit";
    argv[a++] = ubuf;
    if (threads > 0) {
        argv[a++] = "--threads";
        argv[a++] = tbuf;
    }
    argv[a++] = (char *)dir;
    argv[a] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0666);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    int rc = posix_spawn(pid, "/proc/self/exe", &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return wb_err(err, WB_E_INTERNAL, "/proc/self/exe", "cannot start a unit process: %s", strerror(rc));
    return 0;
}

/* The last non-empty line of a unit's log (its error message), for the parent's error. */
static void last_line(const char *path, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f) return;
    char line[1024];
    while (fgets(line, sizeof line, f))
        if (line[0] && line[0] != '\n') {
            line[strcspn(line, "\n")] = '\0';
            snprintf(out, n, "%s", line);
        }
    fclose(f);
}

int run_jobs(const exp_run_options *o, int jobs, int threads_per_job, char *dir, size_t dir_n, wb_error *err)
{
    exp_run_options po = *o;
    po.step = EXP_RUN_PREPARE;
    po.keep_registry_pid = 1;
    if (exp_run(&po, dir, dir_n, err) != 0) return -1;
    char logs[4400];
    snprintf(logs, sizeof logs, "%s/logs", dir);
    if (mkdir(logs, 0777) != 0 && errno != EEXIST)
        return wb_err(err, WB_E_WRITE, logs, "cannot create the unit log directory: %s", strerror(errno));
    exp_run_unit *todo = NULL;
    size_t n_todo = 0;
    if (exp_run_pending(dir, &todo, &n_todo, err) != 0) return -1;
    qsort(todo, n_todo, sizeof *todo, by_cost); /* the longest first: the last to start are short */
    worker *w = calloc((size_t)jobs, sizeof *w);
    if (!w) {
        free(todo);
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    }
    size_t next = 0, done = 0;
    int running = 0, failed = 0;
    char fail_msg[6000] = "";
    int fail_code = WB_E_INTERNAL;
    size_t fail_unit = 0;
    wb_log(WB_LOG_INFO, "%zu units to run, %d at a time (logs in %s)", n_todo, jobs, logs);
    while (done < next || (!failed && next < n_todo)) {
        while (!failed && next < n_todo && running < jobs) {
            int slot = 0;
            while (w[slot].pid) slot++;
            if (spawn_unit(dir, todo[next].unit, threads_per_job, &w[slot].pid, err) != 0) {
                failed = 1;
                fail_code = err->code;
                snprintf(fail_msg, sizeof fail_msg, "%s", err->msg);
                break;
            }
            w[slot].unit = todo[next].unit;
            w[slot].t0 = now_s();
            next++;
            running++;
        }
        if (!running) break;
        int status;
        pid_t p = waitpid(-1, &status, 0);
        if (p < 0) {
            if (errno == EINTR) continue;
            break;
        }
        int slot = 0;
        while (slot < jobs && w[slot].pid != p) slot++;
        if (slot == jobs) continue; /* not ours */
        running--;
        done++;
        w[slot].pid = 0;
        int ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
        if (ok) {
            wb_log(WB_LOG_INFO, "unit %zu done in %.1f s [%zu/%zu]", w[slot].unit, now_s() - w[slot].t0, done, n_todo);
        } else if (!failed) {
            failed = 1;
            fail_unit = w[slot].unit;
            fail_code = WIFEXITED(status) ? WEXITSTATUS(status) : WB_E_INTERNAL;
            char log[4400], last[1024];
            snprintf(log, sizeof log, "%s/logs/unit-%zu.log", dir, w[slot].unit);
            last_line(log, last, sizeof last);
            if (WIFSIGNALED(status))
                snprintf(fail_msg, sizeof fail_msg, "unit %zu was killed by signal %d (see %s)", fail_unit,
                         WTERMSIG(status), log);
            else
                snprintf(fail_msg, sizeof fail_msg, "unit %zu failed (exit %d; %s): %s", fail_unit, WEXITSTATUS(status),
                         log, last);
        }
    }
    free(w);
    free(todo);
    if (failed) {
        /* the finish step records the run as failed in the registry, naming the missing
         * units; the finished parts stay for --resume */
        exp_run_options fo = *o;
        fo.step = EXP_RUN_FINISH;
        fo.run_dir = dir;
        fo.resume_dir = NULL;
        fo.progress = 0;
        char dir2[4096];
        wb_error e2;
        wb_error_clear(&e2);
        exp_run(&fo, dir2, sizeof dir2, &e2);
        wb_error_clear(err);
        wb_err(err, fail_code > 0 && fail_code < 10 ? fail_code : WB_E_INTERNAL, dir, "%s; the finished units are kept: "
               "workbench run --resume %s --jobs N runs the rest", fail_msg, dir);
        return -1;
    }
    exp_run_options fo = *o;
    fo.step = EXP_RUN_FINISH;
    fo.run_dir = dir;
    fo.resume_dir = NULL;
    char dir2[4096];
    return exp_run(&fo, dir2, sizeof dir2, err);
}
