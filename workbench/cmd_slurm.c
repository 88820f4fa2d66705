/* workbench slurm — a run as Slurm jobs: prepare, a job array of the units, finish, clean-up.
 *
 * Writes a shell script that submits the jobs with sbatch --parsable (and runs it with
 * --submit). The script holds absolute paths only: the workbench binary, the config, the run
 * directory, which is fixed here, before anything runs. docs/cluster.md. */
#include <errno.h>
#include <limits.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "workbench/cli.h"
#include "base/wb_log.h"
#include "experiments/config/config.h"
#include "experiments/model/backbone.h"
#include "experiments/report/rundir.h"
#include "experiments/run.h"
#include "io/io_fs.h"
#include "io/io_sbuf.h"

extern char **environ;

enum { PATH_N = 2 * PATH_MAX + 64 }; /* a path built from paths */

typedef struct slurm_opts {
    const char *partition, *time, *mem;
    long cpus;        /* per job; also the engine threads of each unit */
    long array_limit; /* 0: no limit */
    const char *wb;   /* absolute path of this binary */
    const char *run_dir, *runs_dir, *base; /* base: the run directory's name */
    const char *name; /* the config's name, for the job names */
} slurm_opts;

/* s as one shell word: unquoted when it is made of safe characters only, otherwise in single
 * quotes (a ' inside becomes '\''). */
static void sh_word(sbuf *b, const char *s)
{
    int safe = s[0] != '\0';
    for (const char *p = s; *p && safe; p++)
        safe = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
               strchr("_./:=@%+,-", *p) != NULL;
    if (safe) {
        sb_printf(b, "%s", s);
        return;
    }
    sb_printf(b, "'");
    for (const char *p = s; *p; p++) {
        if (*p == '\'') sb_printf(b, "'\\''");
        else sb_printf(b, "%c", *p);
    }
    sb_printf(b, "'");
}

/* The words of a command line, each as sh_word; NULL ends the list. */
static void sh_cmd(sbuf *b, const char *const *words)
{
    for (size_t i = 0; words[i]; i++) {
        if (i) sb_printf(b, " ");
        sh_word(b, words[i]);
    }
}

/* "--key=value" as one shell word. */
static void sh_opt(sbuf *b, const char *key, const char *value)
{
    sbuf t = {0};
    sb_printf(&t, "%s=%s", key, value);
    sb_printf(b, " ");
    sh_word(b, t.s ? t.s : "");
    sb_free(&t);
}

/* The sbatch options every job of the run gets, then the job's name and log. */
static void sbatch_head(sbuf *b, const slurm_opts *so, const char *what, const char *log)
{
    char name[256];
    snprintf(name, sizeof name, "%s-%s", so->name, what);
    sb_printf(b, "sbatch --parsable");
    sh_opt(b, "--job-name", name);
    sh_opt(b, "--chdir", so->runs_dir);
    if (so->partition) sh_opt(b, "--partition", so->partition);
    if (so->time) sh_opt(b, "--time", so->time);
    if (so->mem) sh_opt(b, "--mem", so->mem);
    sb_printf(b, " --nodes=1 --ntasks=1 --cpus-per-task=%ld --open-mode=append", so->cpus);
    sh_opt(b, "--output", log);
}

/* --wrap=<the command as one shell word>; cmd is already shell text. */
static void sbatch_wrap(sbuf *b, const char *cmd)
{
    sb_printf(b, " \\\n    --wrap=");
    sh_word(b, cmd);
}

/* "0-5", "1,3-4": the unit ids as a Slurm --array list. */
static void array_spec(sbuf *b, const size_t *units, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && units[j + 1] == units[j] + 1) j++;
        sb_printf(b, "%s%zu", i ? "," : "", units[i]);
        if (j > i) sb_printf(b, "-%zu", units[j]);
        i = j + 1;
    }
}

/* Appends s with every % doubled. */
static void pct_escape(sbuf *b, const char *s)
{
    for (; *s; s++) sb_printf(b, *s == '%' ? "%%%%" : "%c", *s);
}

/* The script: a prepare job (unless resuming), the array of units (if any), finish, clean-up. */
static void write_script(sbuf *b, const slurm_opts *so, const char *config, const char *const *sets, size_t n_sets,
                         const size_t *units, size_t n_units, size_t total)
{
    const int resume = config == NULL;
    /* sbatch --output reads %x patterns: a % of a path is written %% there */
    sbuf logs = {0}, prep_log = {0}, clean_log = {0}, unit_log = {0}, fin_log = {0}, marker = {0};
    sb_printf(&logs, "%s/logs", so->run_dir);
    pct_escape(&prep_log, so->runs_dir);
    sb_printf(&prep_log, "/%s.prepare.log", so->base);
    pct_escape(&clean_log, so->runs_dir);
    sb_printf(&clean_log, "/%s.cleanup.log", so->base);
    pct_escape(&unit_log, logs.s);
    sb_printf(&unit_log, "/unit-%%a.log");
    pct_escape(&fin_log, logs.s);
    sb_printf(&fin_log, "/finish.log");
    sb_printf(&marker, "%s/finish-", logs.s);
    sb_printf(b, "#!/bin/sh\n"
                 "# Slurm jobs for one workbench run, written by workbench slurm (docs/cluster.md).\n"
                 "#   run directory: %s\n", so->run_dir);
    if (resume) sb_printf(b, "#   re-submits the %zu of %zu units without a part, then finish and clean-up\n", n_units, total);
    else sb_printf(b, "#   config:        %s\n#   units:         %zu (workbench run CONFIG --plan lists them)\n", config, total);
    sb_printf(b, "# Run it with sh on a Slurm login node; it prints the job ids. The run directory, the\n"
                 "# cache and the registry (%s/registry.sqlite) must be on storage that\n"
                 "# every node sees; only the prepare, finish and clean-up jobs write the registry.\n", so->runs_dir);
    if (!resume)
        sb_printf(b, "#   prepare  makes the run directory (manifest, folds, preprocessing cache) and records\n"
                     "#            the run as running; log %s\n", prep_log.s);
    sb_printf(b, "#   units    a job array: task K computes unit K into parts/; logs %s\n"
                 "#   finish   when every unit succeeded: merges the parts into the results and\n"
                 "#            reports, records the run as finished; log %s\n"
                 "#   cleanup  when the units and the finish have ended: if the finish did not succeed,\n"
                 "#            runs it, so that the registry records the run as failed with the missing\n"
                 "#            units; log %s\n"
                 "# Re-submit the units that are missing then: workbench slurm --resume %s --submit\n",
              unit_log.s, fin_log.s, clean_log.s, so->run_dir);
    sb_printf(b, "set -eu\n"
                 "cancel() { echo \"workbench slurm: sbatch failed%s\" >&2; [ -z \"$*\" ] || scancel \"$@\"; exit 1; }\n",
              " (jobs already submitted are cancelled)");
    if (resume) {
        sb_printf(b, "mkdir -p ");
        sh_word(b, logs.s);
        sb_printf(b, "\n");
    }
    char threads[32];
    snprintf(threads, sizeof threads, "%ld", so->cpus);
    sbuf cmd = {0};
    const char *prev = NULL; /* the shell variable of the job the next one waits for */
    if (!resume) {
        /* the run directory is made by the job: the unit and finish logs go below it */
        const char *w[8 + 2 * 64 + 4];
        size_t k = 0;
        w[k++] = so->wb;
        w[k++] = "run";
        w[k++] = config;
        w[k++] = "--prepare";
        w[k++] = "--run-dir";
        w[k++] = so->run_dir;
        for (size_t i = 0; i < n_sets && i < 64; i++) w[k++] = "--set", w[k++] = sets[i];
        w[k] = NULL;
        sh_cmd(&cmd, w);
        sb_printf(&cmd, " && mkdir -p ");
        sh_word(&cmd, logs.s);
        sb_printf(b, "prepare=$(");
        sbatch_head(b, so, "prepare", prep_log.s);
        sbatch_wrap(b, cmd.s);
        sb_printf(b, ") || cancel\nprepare=${prepare%%%%;*}\n");
        sb_free(&cmd);
        prev = "prepare";
    }
    const char *submitted = resume ? "" : "\"$prepare\"";
    if (n_units) {
        const char *w1[] = {so->wb, "run", "--unit", NULL}, *w2[] = {"--threads", threads, so->run_dir, NULL};
        sh_cmd(&cmd, w1);
        sb_printf(&cmd, " \"$SLURM_ARRAY_TASK_ID\" "); /* for the job's shell */
        sh_cmd(&cmd, w2);
        sb_printf(b, "units=$(");
        sbatch_head(b, so, "unit", unit_log.s);
        sb_printf(b, " \\\n    --array=");
        array_spec(b, units, n_units);
        if (so->array_limit > 0) sb_printf(b, "%%%ld", so->array_limit);
        if (prev) sb_printf(b, " --dependency=afterok:$%s --kill-on-invalid-dep=yes", prev);
        sbatch_wrap(b, cmd.s);
        sb_printf(b, ") || cancel%s%s\nunits=${units%%%%;*}\n", submitted[0] ? " " : "", submitted);
        sb_free(&cmd);
        prev = "units";
        submitted = resume ? "\"$units\"" : "\"$prepare\" \"$units\"";
    }
    /* finish: on success it leaves logs/finish-<its job id>.done, which tells the clean-up
     * job that there is nothing to do */
    {
        const char *w[] = {so->wb, "run", "--finish", so->run_dir, NULL};
        sh_cmd(&cmd, w);
        sb_printf(&cmd, " && touch ");
        sh_word(&cmd, marker.s);
        sb_printf(&cmd, "\"$SLURM_JOB_ID\".done");
        sb_printf(b, "finish=$(");
        sbatch_head(b, so, "finish", fin_log.s);
        if (prev) sb_printf(b, " \\\n    --dependency=afterok:$%s --kill-on-invalid-dep=yes", prev);
        sbatch_wrap(b, cmd.s);
        sb_printf(b, ") || cancel%s%s\nfinish=${finish%%%%;*}\n", submitted[0] ? " " : "", submitted);
        sb_free(&cmd);
    }
    /* clean-up: the marker name holds the finish job's id, known when this is submitted:
     * the --wrap word is '<text up to the id>'"$finish"'<the rest>' */
    {
        sbuf rest = {0};
        sb_printf(&cmd, "test -e ");
        sh_word(&cmd, marker.s);
        sb_printf(&rest, ".done || ");
        const char *w[] = {so->wb, "run", "--finish", so->run_dir, NULL};
        sh_cmd(&rest, w);
        sbuf msg = {0};
        sb_printf(&msg, "workbench: re-submit the missing units with: ");
        const char *w2[] = {so->wb, "slurm", "--resume", so->run_dir, "--submit", NULL};
        sh_cmd(&msg, w2);
        sb_printf(&rest, " || { echo ");
        sh_word(&rest, msg.s);
        sb_printf(&rest, " >&2; exit 1; }");
        sb_free(&msg);
        sb_printf(b, "cleanup=$(");
        sbatch_head(b, so, "cleanup", clean_log.s);
        sb_printf(b, " \\\n    --dependency=afterany:%s$finish", n_units ? "$units:" : "");
        sb_printf(b, " \\\n    --wrap=");
        sh_word(b, cmd.s);
        sb_printf(b, "\"$finish\"");
        sh_word(b, rest.s);
        sb_printf(b, ") || cancel %s%s\"$finish\"\ncleanup=${cleanup%%%%;*}\n", submitted, submitted[0] ? " " : "");
        sb_free(&cmd);
        sb_free(&rest);
    }
    if (!resume) sb_printf(b, "echo \"prepare $prepare\"\n");
    if (n_units) sb_printf(b, "echo \"units $units\"\n");
    sb_printf(b, "echo \"finish $finish\"\necho \"cleanup $cleanup\"\n");
    sb_free(&logs);
    sb_free(&prep_log);
    sb_free(&clean_log);
    sb_free(&unit_log);
    sb_free(&fin_log);
    sb_free(&marker);
}

/* An absolute, canonical path for an existing path. */
static int abs_path(const char *p, char *out, wb_error *err)
{
    if (!realpath(p, out)) return wb_err(err, WB_E_IO, p, "cannot resolve the path: %s", strerror(errno));
    return 0;
}

/* True if an executable called name is on PATH. */
static int on_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    char dir[PATH_MAX + 64];
    for (const char *p = path;;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        snprintf(dir, sizeof dir, "%.*s/%s", (int)(n ? n : 1), n ? p : ".", name);
        if (access(dir, X_OK) == 0) return 1;
        if (!e) return 0;
        p = e + 1;
    }
}

static int write_file(const char *path, const sbuf *b, wb_error *err)
{
    if (b->oom) return wb_err(err, WB_E_NOMEM, path, "out of memory");
    io_atomic_file af;
    if (io_atomic_open(&af, path, err) != 0) return -1;
    if (io_atomic_chmod(&af, 0755, err) != 0) return -1;
    if (fwrite(b->s, 1, b->n, af.f) != b->n) {
        io_atomic_abort(&af);
        return wb_err(err, WB_E_WRITE, path, "cannot write: %s", strerror(errno));
    }
    return io_atomic_commit(&af, err);
}

/* Runs sh script with this process's stdout and stderr; its exit status. */
static int run_script(const char *script, wb_error *err)
{
    char *argv[] = {"sh", (char *)script, NULL};
    pid_t pid;
    int rc = posix_spawn(&pid, "/bin/sh", NULL, NULL, argv, environ);
    if (rc != 0) return wb_err(err, WB_E_INTERNAL, "/bin/sh", "cannot start: %s", strerror(rc));
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return wb_err(err, WB_E_INTERNAL, script, "waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        return wb_err(err, WB_E_FAILED, script, "the submission failed (see the messages above); nothing "
                      "submitted stays queued");
    return 0;
}

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    const char *sets[64], *v, *pos = NULL, *runs = "runs", *resume = NULL, *stamp_fixed = NULL;
    size_t n_sets = 0;
    int bad = 0, submit = 0, out_given = 0;
    slurm_opts so = {0};
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--out", &v, &bad, &err)) {
            if (bad) goto usage;
            runs = v;
            out_given = 1;
        } else if (cli_opt_set(argc, argv, &i, sets, &n_sets, sizeof sets / sizeof sets[0], &bad, &err)) {
            if (bad) goto usage;
        } else if (cli_opt(argc, argv, &i, "--resume", &v, &bad, &err)) {
            if (bad) goto usage;
            resume = v;
        } else if (cli_opt(argc, argv, &i, "--partition", &v, &bad, &err)) {
            if (bad) goto usage;
            so.partition = v;
        } else if (cli_opt(argc, argv, &i, "--time", &v, &bad, &err)) {
            if (bad) goto usage;
            so.time = v;
        } else if (cli_opt(argc, argv, &i, "--mem", &v, &bad, &err)) {
            if (bad) goto usage;
            so.mem = v;
        } else if (cli_opt(argc, argv, &i, "--timestamp", &v, &bad, &err)) {
            if (bad) goto usage;
            stamp_fixed = v;
        } else if (cli_opt(argc, argv, &i, "--cpus", &v, &bad, &err)) {
            if (bad || cli_parse_int("--cpus", v, 1, 1024, &so.cpus, &err) != 0) goto usage;
        } else if (cli_opt(argc, argv, &i, "--array-limit", &v, &bad, &err)) {
            if (bad || cli_parse_int("--array-limit", v, 1, 1000000, &so.array_limit, &err) != 0) goto usage;
        } else if (!strcmp(argv[i], "--submit")) {
            submit = 1;
        } else if (argv[i][0] == '-' || pos) {
            wb_err(&err, WB_E_USAGE, NULL, "slurm: unexpected argument '%s'", argv[i]);
            goto usage;
        } else {
            pos = argv[i];
        }
    }
    if (resume && (pos || n_sets || out_given)) {
        wb_err(&err, WB_E_USAGE, NULL, "slurm --resume RUN_DIR takes no config, --set or --out: the run "
               "goes on with what it recorded");
        goto usage;
    }
    if (!resume && !pos) {
        wb_err(&err, WB_E_USAGE, NULL, "slurm: no config file given");
        goto usage;
    }
    for (const char *const *p = (const char *const[]){so.partition, so.time, so.mem, NULL}; *p; p++)
        if (!(*p)[0] || strchr(*p, '\n')) {
            wb_err(&err, WB_E_USAGE, NULL, "slurm: --partition, --time and --mem take a non-empty value on one line");
            goto usage;
        }
    if (submit && !on_path("sbatch")) {
        wb_err(&err, WB_E_USAGE, NULL, "slurm --submit: sbatch is not on PATH; submitting needs the Slurm client "
               "commands (Debian/Ubuntu package slurm-client). Without --submit the script is written, to run "
               "where sbatch is");
        return cli_fail(&err);
    }
    char wb[PATH_MAX], config[PATH_MAX], run_dir[PATH_MAX + 32], runs_dir[PATH_MAX + 32];
    ssize_t wn = readlink("/proc/self/exe", wb, sizeof wb - 1);
    if (wn <= 0) {
        wb_err(&err, WB_E_INTERNAL, "/proc/self/exe", "cannot find the workbench binary: %s", strerror(errno));
        return cli_fail(&err);
    }
    wb[wn] = '\0';
    exp_config *cfg = NULL;
    size_t *units = NULL, n_units = 0, total = 0;
    char stamp[32];
    exp_run_stamp(stamp_fixed, stamp);
    int rc = -1;
    if (resume) {
        if (abs_path(resume, run_dir, &err) != 0) return cli_fail(&err);
        char cpath[PATH_N];
        snprintf(cpath, sizeof cpath, "%s/" EXP_RD_CONFIG, run_dir);
        if (access(cpath, F_OK) != 0) {
            wb_err(&err, WB_E_USAGE, run_dir, "not a prepared run directory (no config.yaml): submit the config with "
                   "workbench slurm CONFIG --out RUNS_DIR");
            return cli_fail(&err);
        }
        if (exp_config_load(cpath, NULL, 0, &cfg, &err) != 0) return cli_fail(&err);
        exp_run_unit *pending = NULL;
        if (exp_run_pending(run_dir, &pending, &n_units, &err) != 0) goto done;
        units = malloc((n_units ? n_units : 1) * sizeof *units);
        if (!units) {
            free(pending);
            wb_err(&err, WB_E_NOMEM, NULL, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n_units; i++) units[i] = pending[i].unit;
        free(pending);
        snprintf(runs_dir, sizeof runs_dir, "%s", run_dir);
        *strrchr(runs_dir, '/') = '\0';
        if (!runs_dir[0]) snprintf(runs_dir, sizeof runs_dir, "/");
    } else {
        if (exp_config_load(pos, sets, n_sets, &cfg, &err) != 0) return cli_fail(&err);
        /* the weights are read and bound, as workbench validate does: a config that cannot
         * run fails here, not in the queue */
        if (exp_backbone_validate(cfg, &err) != 0 || abs_path(pos, config, &err) != 0) goto done;
        if (io_fs_mkdirs(runs, &err) != 0 || abs_path(runs, runs_dir, &err) != 0) goto done;
        char base[PATH_MAX];
        if (exp_run_dir_name(cfg, runs_dir, stamp, base, sizeof base, &err) != 0) goto done;
        /* as workbench run names it; a directory of that name already there gets -2, -3, ... */
        for (int k = 1;; k++) {
            if (k > 1) snprintf(run_dir, sizeof run_dir, "%s-%d", base, k);
            else snprintf(run_dir, sizeof run_dir, "%s", base);
            if (access(run_dir, F_OK) != 0) break;
        }
        n_units = total = (size_t)exp_config_get(cfg)->cv.folds * (size_t)exp_config_get(cfg)->cv.repeats *
                          exp_config_get(cfg)->n_variants;
        units = malloc((total ? total : 1) * sizeof *units);
        if (!units) {
            wb_err(&err, WB_E_NOMEM, NULL, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < total; i++) units[i] = i;
    }
    if (resume)
        total = (size_t)exp_config_get(cfg)->cv.folds * (size_t)exp_config_get(cfg)->cv.repeats *
                exp_config_get(cfg)->n_variants;
    if (!so.cpus) so.cpus = exp_config_get(cfg)->threads;
    if (so.cpus < 1) so.cpus = 1;
    if (n_units && units[n_units - 1] > 1000)
        wb_warn("unit ids go up to %zu: Slurm's default MaxArraySize (1001) only takes array indices up to 1000; "
                "ask the cluster's admins (scontrol show config | grep MaxArraySize)", units[n_units - 1]);
    /* the script names them in comments too: a line break would end a comment */
    for (const char *const *p = (const char *const[]){wb, run_dir, resume ? "" : config, NULL}; *p; p++)
        if (strchr(*p, '\n')) {
            wb_err(&err, WB_E_USAGE, *p, "a path with a line break cannot go into a batch script: rename it");
            goto done;
        }
    so.wb = wb;
    so.run_dir = run_dir;
    so.runs_dir = runs_dir;
    so.base = strrchr(run_dir, '/') + 1;
    so.name = exp_config_get(cfg)->name;
    sbuf script = {0};
    write_script(&script, &so, resume ? NULL : config, sets, n_sets, units, n_units, total);
    char spath[PATH_N];
    if (resume) snprintf(spath, sizeof spath, "%s/%s.resume-%s.slurm.sh", runs_dir, so.base, stamp);
    else snprintf(spath, sizeof spath, "%s/%s.slurm.sh", runs_dir, so.base);
    int wrc = write_file(spath, &script, &err);
    sb_free(&script);
    if (wrc != 0) goto done;
    if (resume)
        fprintf(stderr, "workbench: %zu of %zu units to re-submit for %s\n", n_units, total, run_dir);
    if (submit) {
        fprintf(stderr, "workbench: submitting %s (run directory %s)\n", spath, run_dir);
        fflush(stdout);
        if (run_script(spath, &err) != 0) goto done;
    } else {
        fprintf(stderr, "workbench: run directory %s; submit with: sh %s\n", run_dir, spath);
        printf("%s\n", spath);
    }
    rc = 0;
done:
    free(units);
    exp_config_free(cfg);
    return rc == 0 ? WB_EXIT_OK : cli_fail(&err);
usage:
    fprintf(stderr, "(see workbench slurm --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_slurm = {
    "slurm", run, "run an experiment as Slurm jobs: prepare, a job array of its units, finish",
    "usage: workbench slurm CONFIG [--out RUNS_DIR] [--set key.path=value]... [--partition P]\n"
    "                       [--time T] [--cpus C] [--mem M] [--array-limit K] [--timestamp T]\n"
    "                       [--submit]\n"
    "       workbench slurm --resume RUN_DIR [--partition P] [--time T] [--cpus C] [--mem M]\n"
    "                       [--array-limit K] [--timestamp T] [--submit]\n"
    "\n"
    "Checks CONFIG (as workbench validate does), fixes its run directory\n"
    "RUNS_DIR/<name>-<UTC time>-<config hash> and writes RUNS_DIR/<that name>.slurm.sh, a\n"
    "script that submits with sbatch: a prepare job (workbench run CONFIG --prepare), a job\n"
    "array whose task K computes unit K (workbench run --unit K; workbench run CONFIG --plan\n"
    "lists the units), a finish job once every unit succeeded (workbench run --finish), and a\n"
    "clean-up job that, if the finish did not happen, runs it so that the registry records\n"
    "the run as failed with the missing units. Unit logs: RUN_DIR/logs/unit-K.log. Prints\n"
    "the script's path (docs/cluster.md shows one). RUNS_DIR must be on storage every node\n"
    "sees; every path in the script is absolute.\n"
    "\n"
    "  --partition P    sbatch --partition (default: the cluster's)\n"
    "  --time T         sbatch --time of each job, e.g. 4:00:00 (default: the partition's)\n"
    "  --cpus C         CPUs of each job and engine threads of each unit (default: the\n"
    "                   config's threads; the results match a run with that many threads)\n"
    "  --mem M          sbatch --mem of each job, e.g. 8G (default: the partition's)\n"
    "  --array-limit K  at most K units running at once (--array=...%K)\n"
    "  --timestamp T    use T (YYYYmmddTHHMMSSZ) instead of the current time in the name\n"
    "  --submit         run the script now (needs sbatch on PATH) and print the job ids\n"
    "  --resume DIR     a script for the run DIR's units that have no part yet (after a\n"
    "                   failed unit or a cancelled array), then finish and clean-up\n"
    "\n"
    "Exit status: 0 written (and submitted), 1 the submission failed, 2 bad usage or config\n"
    "(or --submit without sbatch), 3 the weights do not fit, 4 cannot write the script.\n"};
