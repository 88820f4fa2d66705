/* cli.h — the sub-command table and small helpers for parsing "--key value" options. */
#ifndef WB_CLI_H
#define WB_CLI_H

#include <stddef.h>

#include "base/wb_error.h"

typedef struct wb_command {
    const char *name;
    int (*run)(int argc, char **argv); /* argv[0] is the command name; returns an exit code */
    const char *summary;
    const char *usage; /* full --help text */
} wb_command;

/* Each sub-command lives in its own cmd_<name>.c. */
extern const wb_command wb_cmd_inspect;
extern const wb_command wb_cmd_synth;
extern const wb_command wb_cmd_import;
extern const wb_command wb_cmd_validate;
extern const wb_command wb_cmd_run;
extern const wb_command wb_cmd_preprocess;
extern const wb_command wb_cmd_net;
extern const wb_command wb_cmd_preview;
extern const wb_command wb_cmd_cache;
extern const wb_command wb_cmd_report;
extern const wb_command wb_cmd_runs;
extern const wb_command wb_cmd_explain;
extern const wb_command wb_cmd_bundle;
extern const wb_command wb_cmd_predict;
extern const wb_command wb_cmd_slurm;

/* Prints the command's usage to stdout. */
void cli_print_usage(const wb_command *cmd);
/* True if argv[i] is "--name" or "--name=..."; sets *value to the value (from "=" or the
 * next argument, advancing *i). Fills err and returns -1 via *bad when the value is missing. */
int cli_opt(int argc, char **argv, int *i, const char *name, const char **value, int *bad,
            wb_error *err);
/* "--set key=value": true if argv[i] is one; appends the value to sets (at most cap entries,
 * an error past that) and advances *i. Same *bad / err convention as cli_opt. */
int cli_opt_set(int argc, char **argv, int *i, const char **sets, size_t *n_sets, size_t cap, int *bad,
                wb_error *err);
/* Parses an integer in [lo, hi] for option name. */
int cli_parse_int(const char *name, const char *s, long lo, long hi, long *out, wb_error *err);
int cli_parse_double(const char *name, const char *s, double lo, double hi, double *out,
                     wb_error *err);
/* Prints the error and returns its exit code. */
int cli_fail(const wb_error *err);

#endif
