/* workbench report — readable reports of a finished run. */
#include <stdio.h>
#include <string.h>

#include "workbench/cli.h"
#include "experiments/report/report.h"

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    int n_done = 0;
    for (int i = 1; i < argc; i++) {
        if (argv[i][0] == '-') {
            wb_err(&err, WB_E_USAGE, NULL, "report: unexpected option '%s'", argv[i]);
            fprintf(stderr, "(see workbench report --help)\n");
            return cli_fail(&err);
        }
    }
    for (int i = 1; i < argc; i++) {
        char names[128];
        int ext = exp_report_is_external(argv[i], &err);
        if (ext < 0) return cli_fail(&err);
        if (ext) { /* an external validation (workbench predict): its own report */
            if (exp_report_external_write(argv[i], &err) != 0) return cli_fail(&err);
            printf("%s/report.html\n", argv[i]);
            n_done++;
            continue;
        }
        if (exp_report_write(argv[i], &err) != 0 || exp_report_names(argv[i], names, sizeof names, &err) != 0)
            return cli_fail(&err);
        /* the main report written: report.html, else the first report.formats asked for */
        if (names[0]) printf("%s/%.*s\n", argv[i], (int)strcspn(names, ","), names);
        else fprintf(stderr, "workbench: %s: report.formats asks for no report (metrics.json and metrics.csv hold the results)\n", argv[i]);
        n_done++;
    }
    if (!n_done) {
        wb_err(&err, WB_E_USAGE, NULL, "report: no run directory given");
        fprintf(stderr, "(see workbench report --help)\n");
        return cli_fail(&err);
    }
    return WB_EXIT_OK;
}

const wb_command wb_cmd_report = {
    "report", run, "write report.html, report.md and table.tex of a finished run",
    "usage: workbench report RUN_DIR...\n"
    "\n"
    "Reads a run directory's own files (metrics.json, predictions.csv, metrics.csv, curves.csv,\n"
    "timing.csv, excluded.csv, environment.json, config.yaml) and writes, as the run's\n"
    "report.formats ask:\n"
    "  report.html  one self-contained page (inline SVG and CSS; no scripts, nothing fetched):\n"
    "               data and scheme, comparison tables (image and breast level), ROC, PR,\n"
    "               reliability, AUC per fold, learning curves, model card, config, environment\n"
    "  report.md    the same tables in Markdown\n"
    "  table.tex    a booktabs table of the comparison\n"
    "`workbench run` writes them at its end; running report again gives the same files.\n"
    "An external validation's directory (written by `workbench predict`) gets its own\n"
    "report.html and report.md again.\n"
    "Prints the path of each run's main report (report.html, else the first one written).\n"
    "Exit codes: 0 ok, 2 usage, 3 a run file missing or malformed, 4 cannot write.\n"};
