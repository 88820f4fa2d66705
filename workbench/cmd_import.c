/* workbench import — a public mammography dataset, as downloaded, to a labels CSV. */
#include <stdio.h>
#include <string.h>

#include "workbench/cli.h"
#include "experiments/data/import.h"
#include "base/wb_log.h"

static int run(int argc, char **argv)
{
    exp_import_options o;
    exp_import_options_default(&o);
    wb_error err;
    wb_error_clear(&err);
    int bad = 0, n_pos = 0;
    const char *v, *pos[2] = {NULL, NULL};
    for (int i = 1; i < argc; i++) {
        long n;
        if (cli_opt(argc, argv, &i, "--out", &v, &bad, &err)) {
            if (bad) goto usage;
            o.out = v;
        } else if (cli_opt(argc, argv, &i, "--birads-min", &v, &bad, &err)) {
            if (bad || cli_parse_int("--birads-min", v, 1, 5, &n, &err)) goto usage;
            o.birads_min = (int)n;
        } else if (cli_opt(argc, argv, &i, "--benign-without-callback", &v, &bad, &err)) {
            if (bad) goto usage;
            if (!strcmp(v, "benign")) o.bwc_normal = 0;
            else if (!strcmp(v, "normal")) o.bwc_normal = 1;
            else {
                wb_err(&err, WB_E_USAGE, NULL, "--benign-without-callback: expected 'benign' or 'normal', got '%s'", v);
                goto usage;
            }
        } else if (cli_opt(argc, argv, &i, "--views", &v, &bad, &err)) {
            if (bad) goto usage;
            o.views = v;
        } else if (cli_opt(argc, argv, &i, "--image-types", &v, &bad, &err)) {
            if (bad) goto usage;
            o.image_types = v;
        } else if (cli_opt(argc, argv, &i, "--follow-up", &v, &bad, &err)) {
            if (bad || cli_parse_int("--follow-up", v, 1, 3650, &n, &err)) goto usage;
            o.follow_up_days = (int)n;
        } else if (cli_opt(argc, argv, &i, "--sites", &v, &bad, &err)) {
            if (bad) goto usage;
            o.sites = v;
        } else if (!strcmp(argv[i], "--keep-missing")) {
            o.keep_missing = 1;
        } else if (!strcmp(argv[i], "--no-roi-boxes")) {
            o.roi_boxes = 0;
        } else if (!strcmp(argv[i], "--other-breast") && i + 1 < argc) {
            const char *ob = argv[++i];
            if (strcmp(ob, "normal") && strcmp(ob, "skip")) {
                wb_err(&err, WB_E_USAGE, NULL, "import: --other-breast must be normal or skip, got '%s'", ob);
                goto usage;
            }
            o.other_breast_normal = !strcmp(ob, "normal");
        } else if (argv[i][0] == '-' && argv[i][1]) {
            wb_err(&err, WB_E_USAGE, NULL, "import: unknown option '%s'", argv[i]);
            goto usage;
        } else if (n_pos < 2) {
            pos[n_pos++] = argv[i];
        } else {
            wb_err(&err, WB_E_USAGE, NULL, "import: unexpected argument '%s' (FORMAT and SOURCE are already given)", argv[i]);
            goto usage;
        }
    }
    if (n_pos < 2) {
        wb_err(&err, WB_E_USAGE, NULL, "import: FORMAT and SOURCE are required");
        goto usage;
    }
    o.format = pos[0];
    o.source = pos[1];
    if (!exp_import_format_known(o.format)) {
        wb_err(&err, WB_E_USAGE, NULL, "import: unknown format '%s' (expected %s)", o.format, exp_import_format_list());
        goto usage;
    }
    if (!o.out) {
        wb_err(&err, WB_E_USAGE, NULL, "import: --out FILE is required");
        goto usage;
    }
    if (o.image_types && strcmp(o.format, "embed")) {
        wb_err(&err, WB_E_USAGE, NULL, "import: --image-types applies to embed only");
        goto usage;
    }
    if (o.follow_up_days && strcmp(o.format, "embed")) {
        wb_err(&err, WB_E_USAGE, NULL, "import: --follow-up applies to embed only");
        goto usage;
    }
    if (o.sites && strcmp(o.format, "rsna")) {
        wb_err(&err, WB_E_USAGE, NULL, "import: --sites applies to rsna only");
        goto usage;
    }
    exp_import_summary s;
    if (exp_import_run(&o, &s, &err) != 0) return cli_fail(&err);
    wb_log(WB_LOG_INFO,
           "import: %s: %zu images of %zu patients written to %s (normal %zu, benign %zu, malignant %zu; %zu with a "
           "box) from %zu annotation rows; %zu not found%s, %zu filtered out",
           o.format, s.images, s.patients, o.out, s.by_label[0], s.by_label[1], s.by_label[2], s.with_box, s.rows_read,
           s.missing, o.keep_missing ? " (kept)" : "", s.filtered);
    if (!strcmp(o.format, "cbis-ddsm") && o.roi_boxes)
        wb_log(WB_LOG_INFO, "import: ROI masks: %zu boxes read, %zu masks not under SOURCE, %zu not the film's size",
               s.masks_read, s.masks_missing, s.masks_mismatched);
    wb_log(WB_LOG_INFO, "import: use it with data.dicom_dir: %s, data.labels: %s, data.group_column: patient_id, "
           "data.positive: malignant (or data.classes: [normal, benign, malignant])", o.source, o.out);
    return WB_EXIT_OK;
usage:
    fprintf(stderr, "(see workbench import --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_import = {
    "import", run, "a public mammography dataset, as downloaded, to a labels CSV",
    "usage: workbench import FORMAT SOURCE --out labels.csv [--birads-min N]\n"
    "                        [--benign-without-callback benign|normal] [--views CC,MLO]\n"
    "                        [--sites 1,2] [--keep-missing] [--no-roi-boxes]\n"
    "                        [--other-breast skip|normal] [--image-types 2D,C-view]\n"
    "                        [--follow-up DAYS]\n"
    "\n"
    "Reads a dataset's own annotation files under SOURCE (the directory as downloaded) and\n"
    "writes one labels CSV row per image: file (relative to SOURCE), sop_instance_uid,\n"
    "patient_id, laterality, view, label (normal|benign|malignant), lesion_type, bbox_x/y/w/h\n"
    "(top-left origin, pixels), density, pixel_spacing_mm, split, source_label, n_findings,\n"
    "extra_boxes. Use it with data.dicom_dir: SOURCE and data.labels: the --out file.\n"
    "docs/datasets.md has each format's source and mapping.\n"
    "\n"
    "FORMAT:\n"
    "  mini-mias   Info.txt + mdbNNN.pgm (MIAS MiniMammographic Database)\n"
    "  cbis-ddsm   the four *_case_description_{train,test}_set.csv sheets + the images\n"
    "  vindr       breast-level_annotations.csv (+ finding_annotations.csv) + images/\n"
    "  rsna        train.csv + train_images/ (RSNA Screening Mammography 2023)\n"
    "  inbreast    INbreast.csv (semicolon-separated) + AllDICOMs/ (+ AllXML/ outlines)\n"
    "  cmmd        CMMD_clinicaldata_revision.xlsx (or a .csv of it) + CMMD/<ID1>/.../*.dcm\n"
    "  embed       EMBED_OpenData_metadata.csv + EMBED_OpenData_clinical.csv (or the _reduced\n"
    "              tables) + cohort/patient/exam/*.dcm (EMBED, AWS Open Data release)\n"
    "\n"
    "  --out FILE                 the labels CSV (written atomically)\n"
    "  --birads-min N             vindr, inbreast: BI-RADS >= N is malignant, 1 normal, else benign (default 4)\n"
    "  --benign-without-callback  cbis-ddsm: BENIGN_WITHOUT_CALLBACK counts as benign (default) or normal\n"
    "  --views LIST               keep only these views (comma list, e.g. CC,MLO)\n"
    "  --sites LIST               rsna: keep only these site_id values\n"
    "  --keep-missing             write rows whose image file is not under SOURCE too\n"
    "  --no-roi-boxes             cbis-ddsm: do not read the ROI mask images (no boxes; faster)\n"
    "  --other-breast             cmmd: images of a breast the clinical table does not list are\n"
    "                             left out (skip, default) or labelled normal\n"
    "  --image-types LIST         embed: FinalImageType values to keep (default 2D; e.g. 2D,C-view)\n"
    "  --follow-up DAYS           embed: an exam without a pathology result of its own takes one from a later\n"
    "                             exam of the patient, same side, within DAYS (e.g. 365): cancer -> malignant\n"
    "                             (a recalled or an interval cancer), other pathology -> benign for a recall\n"
    "\n"
    "Exit status: 0 written, 2 bad usage, 3 unreadable or malformed annotation files (the\n"
    "message names the file, line and column), 4 the output could not be written.\n"};
