/* workbench run — run an experiment from a config. */
#include <stdio.h>
#include <string.h>

#include "workbench/cli.h"
#include "workbench/run_jobs.h"
#include "experiments/report/report.h"
#include "experiments/run.h"

enum { MAX_UNITS = 100000 };

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    exp_run_options o = {0};
    o.runs_dir = "runs";
    o.progress = 1;
    o.version = WB_VERSION;
    const char *sets[64], *v, *unit_spec = NULL, *pos = NULL;
    int bad = 0, plan = 0, prepare = 0, finish = 0;
    long jobs = 0, tpj = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--out", &v, &bad, &err)) {
            if (bad) goto usage;
            o.runs_dir = v;
        } else if (cli_opt_set(argc, argv, &i, sets, &o.n_sets, sizeof sets / sizeof sets[0], &bad, &err)) {
            if (bad) goto usage;
        } else if (cli_opt(argc, argv, &i, "--resume", &v, &bad, &err)) {
            if (bad) goto usage;
            o.resume_dir = v;
        } else if (cli_opt(argc, argv, &i, "--registry", &v, &bad, &err)) {
            if (bad) goto usage;
            o.registry = v;
        } else if (cli_opt(argc, argv, &i, "--timestamp", &v, &bad, &err)) {
            if (bad) goto usage;
            o.timestamp = v;
        } else if (cli_opt(argc, argv, &i, "--run-dir", &v, &bad, &err)) {
            if (bad) goto usage;
            o.run_dir = v;
        } else if (cli_opt(argc, argv, &i, "--unit", &v, &bad, &err)) {
            if (bad) goto usage;
            unit_spec = v;
        } else if (cli_opt(argc, argv, &i, "--jobs", &v, &bad, &err)) {
            if (bad || cli_parse_int("--jobs", v, 1, 1024, &jobs, &err) != 0) goto usage;
        } else if (cli_opt(argc, argv, &i, "--threads-per-job", &v, &bad, &err)) {
            if (bad || cli_parse_int("--threads-per-job", v, 1, 1024, &tpj, &err) != 0) goto usage;
        } else if (cli_opt(argc, argv, &i, "--threads", &v, &bad, &err)) {
            if (bad || cli_parse_int("--threads", v, 1, 1024, &threads, &err) != 0) goto usage;
        } else if (!strcmp(argv[i], "--plan")) {
            plan = 1;
        } else if (!strcmp(argv[i], "--prepare")) {
            prepare = 1;
        } else if (!strcmp(argv[i], "--finish")) {
            finish = 1;
        } else if (argv[i][0] == '-' || pos) {
            wb_err(&err, WB_E_USAGE, NULL, "run: unexpected argument '%s'", argv[i]);
            goto usage;
        } else {
            pos = argv[i];
        }
    }
    o.threads = (int)threads;
    o.sets = sets;
    if ((unit_spec != NULL) + prepare + finish + plan + (jobs > 0) > 1) {
        wb_err(&err, WB_E_USAGE, NULL, "run: --plan, --prepare, --unit, --finish and --jobs are separate steps: give one");
        goto usage;
    }
    if (unit_spec || finish) {
        /* a step of a prepared run: the positional argument is its directory */
        if (!pos || o.n_sets || o.resume_dir) {
            wb_err(&err, WB_E_USAGE, NULL, "run %s takes the prepared RUN_DIR and no --set", finish ? "--finish" : "--unit");
            goto usage;
        }
        o.run_dir = pos;
        char dir[4096];
        if (finish) {
            o.step = EXP_RUN_FINISH;
            if (exp_run(&o, dir, sizeof dir, &err) != 0) return cli_fail(&err);
            printf("%s\n", dir);
            return WB_EXIT_OK;
        }
        static size_t units[MAX_UNITS];
        if (run_parse_units(unit_spec, units, MAX_UNITS, &o.n_units, &err) != 0) goto usage;
        o.units = units;
        o.step = EXP_RUN_UNITS;
        o.registry = "none"; /* units never write the registry (SQLite over NFS is not safe) */
        if (exp_run(&o, dir, sizeof dir, &err) != 0) return cli_fail(&err);
        return WB_EXIT_OK;
    }
    if (o.run_dir && !prepare) {
        wb_err(&err, WB_E_USAGE, NULL, "run: --run-dir names the directory a --prepare step makes");
        goto usage;
    }
    if (tpj && !jobs) {
        wb_err(&err, WB_E_USAGE, NULL, "run: --threads-per-job goes with --jobs");
        goto usage;
    }
    o.config = pos;
    if (o.resume_dir && (o.config || o.n_sets)) {
        wb_err(&err, WB_E_USAGE, NULL, "run --resume RUN_DIR takes no config and no --set: it continues the run "
               "with the config.yaml it recorded");
        goto usage;
    }
    if (!o.config && !o.resume_dir) {
        wb_err(&err, WB_E_USAGE, NULL, "run: no config file given");
        goto usage;
    }
    if (plan) {
        if (o.resume_dir) o.run_dir = o.resume_dir, o.config = NULL;
        if (exp_run_plan(&o, stdout, &err) != 0) return cli_fail(&err);
        return WB_EXIT_OK;
    }
    char dir[4096];
    if (prepare) {
        o.step = EXP_RUN_PREPARE;
        if (exp_run(&o, dir, sizeof dir, &err) != 0) return cli_fail(&err);
        fprintf(stderr, "workbench: run prepared: %s (workbench run --plan %s lists its units)\n", dir, o.config);
        printf("%s\n", dir);
        return WB_EXIT_OK;
    }
    if (jobs > 0) {
        if (run_jobs(&o, (int)jobs, (int)tpj, dir, sizeof dir, &err) != 0) return cli_fail(&err);
    } else if (exp_run(&o, dir, sizeof dir, &err) != 0) {
        return cli_fail(&err);
    }
    /* name the reports report.formats asked for, not a fixed list */
    char reports[128];
    wb_error e2;
    if (exp_report_names(dir, reports, sizeof reports, &e2) != 0) reports[0] = '\0';
    fprintf(stderr, "workbench: run finished: %s (%s%smetrics.json, predictions.csv)\n", dir, reports, reports[0] ? ", " : "");
    printf("%s\n", dir);
    return WB_EXIT_OK;
usage:
    fprintf(stderr, "(see workbench run --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_run = {
    "run", run, "run an experiment: cross-validated baseline vs frozen vs fine-tuned backbones",
    "usage: workbench run CONFIG [--out RUNS_DIR] [--set key.path=value]... [--registry DB]\n"
    "                           [--timestamp T] [--jobs N [--threads-per-job T]]\n"
    "       workbench run --resume RUN_DIR [--registry DB] [--jobs N [--threads-per-job T]]\n"
    "       workbench run CONFIG --plan\n"
    "       workbench run CONFIG --prepare [--out RUNS_DIR | --run-dir DIR] [--set ...]\n"
    "       workbench run --unit K|K-L|K,L,... [--threads T] RUN_DIR\n"
    "       workbench run --finish [--registry DB] RUN_DIR\n"
    "\n"
    "Reads CONFIG (see docs/config.md), decodes and preprocesses the images, splits the\n"
    "patients into stratified folds, trains and scores every variant on every fold, and\n"
    "writes RUNS_DIR/<name>-<UTC time>-<config hash>/ (default RUNS_DIR: runs): config.yaml,\n"
    "environment.json, manifest.csv, excluded.csv, folds.csv, curves.csv, predictions.csv,\n"
    "metrics.json, metrics.csv, timing.csv, run.log, and the reports report.html, report.md,\n"
    "table.tex (docs/runs.md, docs/reports.md). Prints the run directory on stdout;\n"
    "progress (fold, variant, epoch, loss, ETA) on stderr.\n"
    "\n"
    "  --set k=v       override a config key (recorded in config.yaml)\n"
    "  --registry DB   record the run in the SQLite registry DB (default RUNS_DIR/registry.sqlite;\n"
    "                  'none': not at all); see workbench runs\n"
    "  --timestamp T   use T (YYYYmmddTHHMMSSZ) instead of the current time in the name\n"
    "  --resume DIR    continue an interrupted run: every finished fold x variant (DIR/parts/)\n"
    "                  is reused; the files come out as an uninterrupted run's would\n"
    "  --jobs N        run the units (repeat x fold x variant) as N worker processes, each\n"
    "                  unit's log in RUN_DIR/logs/; same files as one process\n"
    "  --threads-per-job T  engine threads of each worker (default: the config's threads)\n"
    "\n"
    "A run in steps (docs/cluster.md; workbench slurm writes them as a batch script):\n"
    "  --plan          print the units as JSON lines (unit, repeat, fold, variant, cost)\n"
    "  --prepare       make the run directory (config, manifest, folds, preprocessing cache)\n"
    "  --run-dir DIR   with --prepare: make exactly DIR (its parent holds the pseudonym key,\n"
    "                  the cache and the registry, as RUNS_DIR does)\n"
    "  --unit SPEC     compute these units of the prepared RUN_DIR into RUN_DIR/parts/\n"
    "  --threads T     with --unit: engine threads (results match a run with that many)\n"
    "  --finish        merge every part into the results and reports; refuses while a unit is\n"
    "                  missing or was made from another config or manifest, naming it\n"
    "\n"
    "Exit status: 0 done, 1 a file failed under data.on_error: fail, 2 bad config,\n"
    "3 bad data, 4 cannot write the run directory.\n"};
