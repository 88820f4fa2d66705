/* workbench validate — check an experiment config without running it. */
#include <stdio.h>
#include <string.h>

#include "workbench/cli.h"
#include "experiments/config/config.h"
#include "experiments/data/dataset.h"
#include "experiments/model/backbone.h"

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    const char *path = NULL;
    const char *sets[64];
    size_t n_sets = 0;
    int print = 0, bad = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--schema")) {
            exp_config_write_schema(stdout);
            return WB_EXIT_OK;
        } else if (!strcmp(argv[i], "--print")) {
            print = 1;
        } else if (cli_opt_set(argc, argv, &i, sets, &n_sets, sizeof sets / sizeof sets[0], &bad, &err)) {
            if (bad) goto usage;
        } else if (argv[i][0] == '-' || path) {
            wb_err(&err, WB_E_USAGE, NULL, "validate: unexpected argument '%s'", argv[i]);
            goto usage;
        } else {
            path = argv[i];
        }
    }
    if (!path) {
        wb_err(&err, WB_E_USAGE, NULL, "validate: no config file given");
        goto usage;
    }
    exp_config *cfg;
    if (exp_config_load(path, sets, n_sets, &cfg, &err) != 0) return cli_fail(&err);
    /* the weights are read and bound (shapes only): a config that cannot run fails here */
    if (exp_backbone_validate(cfg, &err) != 0) {
        exp_config_free(cfg);
        return cli_fail(&err);
    }
    /* the labels CSV (columns, empty cells, unknown classes), without opening an image */
    exp_labels_summary ls;
    if (exp_dataset_check_labels(cfg, &ls, &err) != 0) {
        exp_config_free(cfg);
        return cli_fail(&err);
    }
    if (print) {
        exp_config_write_resolved(cfg, stdout);
    } else {
        if (exp_config_get(cfg)->cv.split_column[0])
            printf("%s: ok: %zu variant(s), fixed train/test split (cv.split_column %s), backbone %s\n", path,
                   exp_config_get(cfg)->n_variants, exp_config_get(cfg)->cv.split_column, exp_config_get(cfg)->backbone.arch);
        else
            printf("%s: ok: %zu variant(s), %d-fold CV x %d repeat(s), backbone %s\n", path, exp_config_get(cfg)->n_variants,
                   exp_config_get(cfg)->cv.folds, exp_config_get(cfg)->cv.repeats, exp_config_get(cfg)->backbone.arch);
        if (ls.selected.n_filters || ls.selected.split) {
            char what[512];
            exp_rows_describe(cfg, &ls.selected, what, sizeof what);
            printf("rows: %s\n", what);
        }
        printf("labels: %zu rows, %zu patients, per class", ls.rows, ls.patients);
        for (int k = 0; k < ls.n_classes; k++) printf(" %zu", ls.class_n[k]);
        if (ls.unknown_label) printf(", %zu with a label not in data.classes (excluded)", ls.unknown_label);
        printf("\n");
    }
    exp_config_free(cfg);
    return WB_EXIT_OK;
usage:
    fprintf(stderr, "(see workbench validate --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_validate = {
    "validate", run, "check an experiment config (schema, files, stage names) without running it",
    "usage: workbench validate CONFIG [--set key.path=value]... [--print]\n"
    "       workbench validate --schema\n"
    "\n"
    "Reads CONFIG (YAML) against the schema in docs/config.md: unknown keys (with the nearest\n"
    "valid one suggested), wrong types, values out of range, duplicate keys, missing files\n"
    "and stage names the backbone does not have are errors at FILE:LINE:COL with the key.\n"
    "Relative paths resolve against the config file's directory. backbone.weights is read and\n"
    "bound to the backbone (shapes only, nothing trains): a missing, unexpected or mis-shaped\n"
    "tensor is an error naming the file and the tensor (exit 3). data.labels is read (no\n"
    "image is opened): a missing column, an empty file or patient cell, or (data.on_error:\n"
    "fail) a label not in data.classes is an error naming the line (exit 3); the rows,\n"
    "patients and images per class (binary: other, data.positive) are printed, after\n"
    "data.filter and cv.split_column (the rows each left out are printed too; a column they\n"
    "name that the CSV lacks is an error at the config's FILE:LINE:COL, exit 2).\n"
    "\n"
    "  --set k=v   override a key (lists as [a,b]); the run records overrides\n"
    "  --print     print the resolved config: every default filled in\n"
    "  --schema    print every key with its type, default, allowed values and meaning\n"
    "\n"
    "Exit status: 0 valid, 2 invalid (the message says where and why), 3 the weights do\n"
    "not fit the backbone or cannot be read, or the labels CSV is unusable.\n"};
