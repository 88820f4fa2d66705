/* workbench — the command-line entry point: dispatches to one sub-command per file. */
#include <cblas.h>
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "workbench/cli.h"
#include "io/io_dicom.h"
#include "io/io_image.h"
#include "base/wb_log.h"

static const wb_command *const commands[] = {
    &wb_cmd_synth,
    &wb_cmd_import,
    &wb_cmd_inspect,
    &wb_cmd_validate,
    &wb_cmd_run,
    &wb_cmd_preprocess,
    &wb_cmd_net,
    &wb_cmd_preview,
    &wb_cmd_cache,
    &wb_cmd_report,
    &wb_cmd_runs,
    &wb_cmd_explain,
    &wb_cmd_bundle,
    &wb_cmd_predict,
    &wb_cmd_slurm,
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void print_help(void)
{
    printf("workbench %s — transfer-learning experiments on mammograms\n\n"
           "usage: workbench [--quiet] COMMAND [ARGS...]\n"
           "       workbench COMMAND --help\n"
           "       workbench --version\n\ncommands:\n",
           WB_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++)
        printf("  %-10s %s\n", commands[i]->name, commands[i]->summary);
    printf("\nexit codes: 0 ok, 1 the job ran but something failed, 2 bad usage or config,\n"
           "            3 bad input data, 4 internal error (out of memory, unwritable output)\n");
}

static void print_version(void)
{
    printf("workbench %s\n", WB_VERSION);
    printf("DCMTK %s\n", io_dicom_dcmtk_version());
    printf("OpenJPEG %s\n", io_dicom_openjpeg_version());
    printf("ITK %s\n", WB_ITK_VERSION);
    printf("%s\n", io_image_versions());
    printf("OpenBLAS %s\n", openblas_get_config());
    printf("libyaml %s\n", yaml_get_version_string());
    printf("SQLite %s\n", sqlite3_libversion());
}

void cli_print_usage(const wb_command *cmd) { fputs(cmd->usage, stdout); }

int cli_opt(int argc, char **argv, int *i, const char *name, const char **value, int *bad,
            wb_error *err)
{
    const char *a = argv[*i];
    size_t n = strlen(name);
    if (strncmp(a, name, n) != 0 || (a[n] != '\0' && a[n] != '='))
        return 0;
    if (a[n] == '=') {
        *value = a + n + 1;
        return 1;
    }
    if (*i + 1 >= argc) {
        *bad = 1;
        wb_err(err, WB_E_USAGE, NULL, "option %s needs a value", name);
        return 1;
    }
    *value = argv[++*i];
    return 1;
}

int cli_opt_set(int argc, char **argv, int *i, const char **sets, size_t *n_sets, size_t cap, int *bad,
                wb_error *err)
{
    const char *v;
    if (!cli_opt(argc, argv, i, "--set", &v, bad, err))
        return 0;
    if (*bad)
        return 1;
    if (*n_sets == cap) {
        *bad = 1;
        wb_err(err, WB_E_USAGE, NULL, "at most %zu --set options", cap);
        return 1;
    }
    sets[(*n_sets)++] = v;
    return 1;
}

int cli_parse_int(const char *name, const char *s, long lo, long hi, long *out, wb_error *err)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return wb_err(err, WB_E_USAGE, NULL, "%s: expected an integer from %ld to %ld, got '%s'",
                      name, lo, hi, s);
    *out = v;
    return 0;
}

int cli_parse_double(const char *name, const char *s, double lo, double hi, double *out,
                     wb_error *err)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !(v >= lo && v <= hi))
        return wb_err(err, WB_E_USAGE, NULL, "%s: expected a number from %g to %g, got '%s'",
                      name, lo, hi, s);
    *out = v;
    return 0;
}

int cli_fail(const wb_error *err)
{
    wb_error_print(err, stderr);
    return wb_exit_code(err->code);
}

int main(int argc, char **argv)
{
    int a = 1;
    while (a < argc && argv[a][0] == '-') {
        if (!strcmp(argv[a], "--help") || !strcmp(argv[a], "-h")) {
            print_help();
            return WB_EXIT_OK;
        }
        if (!strcmp(argv[a], "--version")) {
            print_version();
            return WB_EXIT_OK;
        }
        if (!strcmp(argv[a], "--quiet") || !strcmp(argv[a], "-q")) {
            wb_log_set_level(WB_LOG_QUIET);
            a++;
            continue;
        }
        fprintf(stderr, "workbench: error: unknown option '%s' (see workbench --help)\n", argv[a]);
        return WB_EXIT_USAGE;
    }
    if (a >= argc) {
        print_help();
        return WB_EXIT_USAGE;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[a], commands[i]->name) != 0)
            continue;
        for (int k = a + 1; k < argc; k++) {
            if (!strcmp(argv[k], "--"))
                break;
            if (!strcmp(argv[k], "--help") || !strcmp(argv[k], "-h")) {
                cli_print_usage(commands[i]);
                return WB_EXIT_OK;
            }
        }
        return commands[i]->run(argc - a, argv + a);
    }
    fprintf(stderr, "workbench: error: unknown command '%s' (see workbench --help)\n", argv[a]);
    return WB_EXIT_USAGE;
}
