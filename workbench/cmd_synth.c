/* workbench synth — write a synthetic screening cohort (DICOM MG + labels.csv). */
#include <stdio.h>
#include <string.h>

#include "workbench/cli.h"
#include "experiments/data/synth.h"
#include "base/wb_log.h"

static int run(int argc, char **argv)
{
    exp_synth_options o;
    exp_synth_options_default(&o);
    o.progress = 1;
    wb_error err;
    wb_error_clear(&err);
    int bad = 0;
    const char *v;
    for (int i = 1; i < argc; i++) {
        long n;
        if (cli_opt(argc, argv, &i, "--out", &v, &bad, &err)) {
            if (bad) goto usage;
            o.out_dir = v;
        } else if (cli_opt(argc, argv, &i, "--patients", &v, &bad, &err)) {
            if (bad || cli_parse_int("--patients", v, 1, 100000, &n, &err)) goto usage;
            o.patients = (int)n;
        } else if (cli_opt(argc, argv, &i, "--seed", &v, &bad, &err)) {
            if (bad || cli_parse_int("--seed", v, 0, 2147483647L, &n, &err)) goto usage;
            o.seed = (uint64_t)n;
        } else if (cli_opt(argc, argv, &i, "--prevalence", &v, &bad, &err)) {
            if (bad || cli_parse_double("--prevalence", v, 0, 1, &o.prevalence, &err)) goto usage;
        } else if (cli_opt(argc, argv, &i, "--benign-rate", &v, &bad, &err)) {
            if (bad || cli_parse_double("--benign-rate", v, 0, 1, &o.benign_rate, &err)) goto usage;
        } else if (cli_opt(argc, argv, &i, "--difficulty", &v, &bad, &err)) {
            if (bad || cli_parse_double("--difficulty", v, 0, 1, &o.difficulty, &err)) goto usage;
        } else if (cli_opt(argc, argv, &i, "--transfer-syntax", &v, &bad, &err)) {
            if (bad || exp_synth_parse_ts(v, &o, &err)) goto usage;
        } else if (cli_opt(argc, argv, &i, "--lesion", &v, &bad, &err)) {
            if (bad) goto usage;
            if (strcmp(v, "realistic") && strcmp(v, "disk")) {
                wb_err(&err, WB_E_USAGE, NULL, "--lesion: expected realistic or disk, got '%s'", v);
                goto usage;
            }
            o.disk = !strcmp(v, "disk");
        } else if (cli_opt(argc, argv, &i, "--size", &v, &bad, &err)) {
            int w = 0, h = 0;
            char tail;
            if (bad) goto usage;
            if (sscanf(v, "%dx%d%c", &w, &h, &tail) != 2 || w < 64 || h < 64 || w > 8192 || h > 8192) {
                wb_err(&err, WB_E_USAGE, NULL, "--size: expected WxH with each side from 64 to 8192, got '%s'", v);
                goto usage;
            }
            o.width = w;
            o.height = h;
        } else {
            wb_err(&err, WB_E_USAGE, NULL, "synth: unknown argument '%s'", argv[i]);
            goto usage;
        }
    }
    if (!o.out_dir) {
        wb_err(&err, WB_E_USAGE, NULL, "synth: --out DIR is required");
        goto usage;
    }
    if (o.prevalence + o.benign_rate > 1) {
        wb_err(&err, WB_E_USAGE, NULL, "synth: --prevalence + --benign-rate is %g, must be at most 1",
               o.prevalence + o.benign_rate);
        goto usage;
    }
    if (exp_synth_run(&o, &err) != 0) return cli_fail(&err);
    wb_log(WB_LOG_INFO, "synth: wrote %d patients (%d images) and labels.csv to %s", o.patients,
           4 * o.patients, o.out_dir);
    return WB_EXIT_OK;
usage:
    fprintf(stderr, "(see workbench synth --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_synth = {
    "synth", run, "write a synthetic screening cohort (DICOM MG + labels.csv)",
    "usage: workbench synth --out DIR --patients N --seed S [--prevalence P] [--benign-rate B]\n"
    "                       [--size WxH] [--difficulty D] [--transfer-syntax LIST]\n"
    "                       [--lesion realistic|disk]\n"
    "\n"
    "Writes 4 views per patient (L/R x CC/MLO) as Digital Mammography X-Ray Image Storage -\n"
    "For Presentation files DIR/<patient>/<L|R>_<CC|MLO>.dcm, and DIR/labels.csv with one row\n"
    "per file (sop_instance_uid, patient_id, laterality, view, label normal|benign|malignant,\n"
    "lesion type and bounding box). The same arguments give byte-identical files.\n"
    "\n"
    "  --patients N     number of patients (default 120)\n"
    "  --seed S         random seed (default 7)\n"
    "  --prevalence P   fraction of patients with a malignant breast (default 0.25)\n"
    "  --benign-rate B  fraction of patients with a benign finding (default 0.2)\n"
    "  --size WxH       image size in pixels (default 512x640)\n"
    "  --difficulty D   0 = conspicuous lesions .. 1 = barely visible (default 0.5)\n"
    "  --transfer-syntax LIST  mix (default: 70% explicit_le, 15% jpeg_lossless, 15% jpeg_ls),\n"
    "                   or a comma-separated list picked from uniformly per file: explicit_le,\n"
    "                   jpeg_lossless, jpeg_ls, rle, j2k (JPEG 2000 lossless)\n"
    "  --lesion L       realistic (default) or disk: every malignant lesion is a uniform bright\n"
    "                   disk (a known-answer cohort for checking a pipeline)\n"};
