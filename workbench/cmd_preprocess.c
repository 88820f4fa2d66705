/* workbench preprocess — fill the preprocessed-image cache for a config's dataset. */
#include <stdio.h>
#include <string.h>

#include "workbench/cli.h"
#include "experiments/config/config.h"
#include "experiments/data/dataset.h"
#include "base/wb_log.h"
#include "nets/nn.h"

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    const char *path = NULL, *runs_dir = "runs", *sets[64], *v;
    size_t n_sets = 0;
    int bad = 0;
    exp_dataset_load_options lo = {0};
    lo.progress = 1;
    lo.no_images = 1; /* the cache is the product: no image is kept in memory */
    for (int i = 1; i < argc; i++) {
        long n;
        if (cli_opt(argc, argv, &i, "--out", &v, &bad, &err)) {
            if (bad) goto usage;
            runs_dir = v;
        } else if (cli_opt(argc, argv, &i, "--max-new", &v, &bad, &err)) {
            if (bad || cli_parse_int("--max-new", v, 1, 2147483647L, &n, &err)) goto usage;
            lo.max_new = (size_t)n;
        } else if (cli_opt_set(argc, argv, &i, sets, &n_sets, sizeof sets / sizeof sets[0], &bad, &err)) {
            if (bad) goto usage;
        } else if (argv[i][0] == '-' || path) {
            wb_err(&err, WB_E_USAGE, NULL, "preprocess: unexpected argument '%s'", argv[i]);
            goto usage;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        wb_err(&err, WB_E_USAGE, NULL, "preprocess: no config file given");
        goto usage;
    }
    exp_config *cfg;
    if (exp_config_load(path, sets, n_sets, &cfg, &err) != 0) return cli_fail(&err);
    /* the config's threads split each image's rows (preprocessing runs on the engine's pool) */
    nn_set_threads(exp_config_get(cfg)->threads);
    char cache_dir[4200];
    exp_dataset_cache_dir(cfg, runs_dir, cache_dir, sizeof cache_dir);
    /* Pseudonyms are not written anywhere here: any key will do. */
    const uint8_t key[32] = {0};
    exp_dataset ds;
    double t0 = wb_now();
    int rc = exp_dataset_load_opts(cfg, key, cache_dir, &lo, &ds, &err);
    exp_config_free(cfg);
    if (rc != 0) return cli_fail(&err);
    printf("%zu images preprocessed into %s in %.1f s; %zu excluded; %zu from the cache, %zu computed\n", ds.n, cache_dir,
           wb_now() - t0, ds.n_excluded, ds.n_cached, ds.n_computed);
    if (ds.stopped)
        printf("stopped after --max-new %zu computed images: run again to continue (the cache keeps them)\n", lo.max_new);
    for (size_t i = 0; i < ds.n_excluded; i++) printf("excluded %s: %s\n", ds.excluded[i].file, ds.excluded[i].reason);
    exp_dataset_free(&ds);
    return WB_EXIT_OK;
usage:
    fprintf(stderr, "(see workbench preprocess --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_preprocess = {
    "preprocess", run, "fill the preprocessed-image cache for a config's dataset",
    "usage: workbench preprocess CONFIG [--out RUNS_DIR] [--set key.path=value]... [--max-new N]\n"
    "\n"
    "Decodes and preprocesses every image of the config's labels CSV (data and preprocess\n"
    "sections) into the cache that `workbench run` reads: preprocess.cache_dir, or\n"
    "RUNS_DIR/cache (default runs/cache). Progress on stderr: a bar on a terminal, plain lines\n"
    "otherwise. Unusable files are listed (data.on_error: skip) or stop it (fail, exit 1).\n"
    "Images already in the cache are read, not computed again: an interrupted pass resumes\n"
    "where it stopped. The last line counts both (N from the cache, M computed).\n"
    "\n"
    "  --max-new N  stop after computing N images (in labels order; exit 0): fills a large\n"
    "               cache in portions, e.g. one per time-limited job\n"};
