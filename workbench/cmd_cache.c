/* workbench cache — what the preprocessed cache holds, and clearing it. */
#include <stdio.h>
#include <string.h>

#include "experiments/data/cache.h"
#include "workbench/cli.h"
#include "base/wb_log.h"

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    const char *action = NULL, *dir = NULL;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-' && argv[i][1]) {
            wb_err(&err, WB_E_USAGE, NULL, "cache: unknown option '%s'", argv[i]);
            goto usage;
        }
        if (!action)
            action = argv[i];
        else if (!dir)
            dir = argv[i];
        else {
            wb_err(&err, WB_E_USAGE, NULL, "cache: unexpected argument '%s'", argv[i]);
            goto usage;
        }
    }
    if (!action || (strcmp(action, "info") && strcmp(action, "clear"))) {
        wb_err(&err, WB_E_USAGE, NULL, "cache: expected 'info' or 'clear'%s%s%s",
               action ? ", got '" : "", action ? action : "", action ? "'" : "");
        goto usage;
    }
    if (!dir)
        dir = "cache";
    if (!strcmp(action, "info")) {
        exp_cache_stats st;
        if (exp_cache_info(dir, &st, &err))
            return cli_fail(&err);
        printf("cache: %s\n", dir);
        printf("parameter sets: %zu\n", st.param_sets);
        printf("entries: %zu\n", st.entries);
        printf("entry bytes: %zu (%.1f MiB)\n", st.entry_bytes,
               (double)st.entry_bytes / (1024.0 * 1024.0));
        printf("temporary files: %zu%s\n", st.temp_files,
               st.temp_files ? " (left by interrupted writes; clear removes them)" : "");
        if (st.other_files)
            printf("other files: %zu (not written by the cache; clear keeps them)\n",
                   st.other_files);
        return WB_EXIT_OK;
    }
    size_t removed, kept;
    if (exp_cache_clear(dir, &removed, &kept, &err))
        return cli_fail(&err);
    printf("cache: %s: removed %zu file(s)%s\n", dir, removed,
           kept ? "; other files were kept, and so was the directory" : "");
    return WB_EXIT_OK;
usage:
    fprintf(stderr, "(see workbench cache --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_cache = {
    "cache", run, "show or clear the preprocessed cache",
    "usage: workbench cache info [DIR]\n"
    "       workbench cache clear [DIR]\n"
    "\n"
    "DIR is a preprocessed cache (default ./cache): one sub-directory per parameter set\n"
    "(params.txt says which), entries keyed by the SHA-256 of the input file\n"
    "(docs/preprocess.md).\n"
    "\n"
    "  info    parameter sets, entries, their size, leftover temporary files\n"
    "  clear   removes the entries, parameter files, temporary files and the marker, then\n"
    "          the empty directories; files the cache did not write are kept\n"
    "\n"
    "A directory without the WORKBENCH_CACHE marker is refused (exit 2) and left alone.\n"};
