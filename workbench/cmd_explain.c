/* workbench explain — where a run's fold network looked (Grad-CAM, occlusion), as PNG overlays. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/explain.h"
#include "workbench/cli.h"

static int run(int argc, char **argv)
{
    wb_error err;
    wb_error_clear(&err);
    exp_explain_opts o;
    exp_explain_opts_default(&o);
    const char **files = calloc((size_t)argc, sizeof *files), *v;
    if (!files) {
        wb_err(&err, WB_E_NOMEM, NULL, "out of memory");
        return cli_fail(&err);
    }
    int bad = 0, gallery = 0, max_set = 0;
    long n;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--variant", &v, &bad, &err)) {
            if (bad) goto usage;
            o.variant = v;
        } else if (cli_opt(argc, argv, &i, "--fold", &v, &bad, &err)) {
            if (bad || cli_parse_int("--fold", v, 0, 1000, &n, &err)) goto usage;
            o.fold = (int)n;
        } else if (cli_opt(argc, argv, &i, "--repeat", &v, &bad, &err)) {
            if (bad || cli_parse_int("--repeat", v, 0, 1000, &n, &err)) goto usage;
            o.repeat = (int)n;
        } else if (cli_opt(argc, argv, &i, "--out", &v, &bad, &err)) {
            if (bad) goto usage;
            o.out_dir = v;
        } else if (cli_opt(argc, argv, &i, "--stage", &v, &bad, &err)) {
            if (bad) goto usage;
            o.stage = v;
        } else if (cli_opt(argc, argv, &i, "--class", &v, &bad, &err)) {
            if (bad || cli_parse_int("--class", v, 0, 63, &n, &err)) goto usage;
            o.cls = (int)n;
        } else if (cli_opt(argc, argv, &i, "--occlusion", &v, &bad, &err)) {
            /* PATCH or PATCH,STRIDE */
            if (bad) goto usage;
            char buf[64];
            snprintf(buf, sizeof buf, "%s", v);
            char *comma = strchr(buf, ',');
            if (comma) *comma = '\0';
            if (cli_parse_int("--occlusion patch", buf, 1, 4096, &n, &err)) goto usage;
            o.occ_patch = (int)n;
            o.occ_stride = (int)(n / 2 > 0 ? n / 2 : 1);
            if (comma) {
                if (cli_parse_int("--occlusion stride", comma + 1, 1, n, &n, &err)) goto usage;
                o.occ_stride = (int)n;
            }
        } else if (cli_opt(argc, argv, &i, "--gallery", &v, &bad, &err)) {
            if (bad || cli_parse_int("--gallery", v, 1, 50, &n, &err)) goto usage;
            gallery = (int)n;
        } else if (!strcmp(argv[i], "--sanity")) {
            o.sanity = 1;
        } else if (cli_opt(argc, argv, &i, "--max-size", &v, &bad, &err)) {
            if (bad || cli_parse_int("--max-size", v, 64, 16384, &n, &err)) goto usage;
            o.max_size = (int)n;
            max_set = 1;
        } else if (argv[i][0] == '-') {
            wb_err(&err, WB_E_USAGE, NULL, "explain: unknown option '%s'", argv[i]);
            goto usage;
        } else if (!o.run_dir) {
            o.run_dir = argv[i];
        } else {
            files[o.n_files++] = argv[i];
        }
    }
    if (!o.run_dir) {
        wb_err(&err, WB_E_USAGE, NULL, "explain: no run directory given");
        goto usage;
    }
    if (gallery) {
        if (o.n_files || o.out_dir || o.variant || o.occ_patch || o.sanity || o.cls >= 0) {
            wb_err(&err, WB_E_USAGE, NULL, "explain --gallery takes a run directory and at most --stage and --max-size: "
                   "it picks its cases from the run's predictions and writes into RUN_DIR/gallery/");
            goto usage;
        }
        size_t shown = 0;
        int grc = exp_explain_gallery(o.run_dir, gallery, o.stage, max_set ? o.max_size : 256, &shown, &err);
        free(files);
        if (grc != 0) return cli_fail(&err);
        fprintf(stderr, "workbench: explain: %zu case(s) in the gallery; reports written again\n", shown);
        printf("%s/gallery/gallery.csv\n", o.run_dir);
        return WB_EXIT_OK;
    }
    if (!o.n_files) {
        wb_err(&err, WB_E_USAGE, NULL, "explain: no image files given");
        goto usage;
    }
    if (!o.out_dir) {
        wb_err(&err, WB_E_USAGE, NULL, "explain: no output directory (--out DIR)");
        goto usage;
    }
    o.files = files;
    exp_explain_summary s;
    int rc = exp_explain_run(&o, &s, &err);
    if (s.n_done) {
        if (s.patch)
            fprintf(stderr, "workbench: explain: %zu patch(es) of %zu image(s), variant %s, repeat %d, fold %d, stage %s",
                    s.n_patches, s.n_done, s.variant, o.repeat, o.fold, s.stage);
        else
            fprintf(stderr, "workbench: explain: %zu image(s), variant %s, repeat %d, fold %d, stage %s", s.n_done,
                    s.variant, o.repeat, o.fold, s.stage);
        if (s.n_box)
            fprintf(stderr, "; the map's peak in the lesion box in %zu of %zu%s", s.n_peak_in_box, s.n_box,
                    s.patch ? " lesion patches" : "");
        fprintf(stderr, "\n");
    }
    free(files);
    if (rc != 0) return cli_fail(&err);
    printf("%s/explain.csv\n", o.out_dir);
    return WB_EXIT_OK;
usage:
    free(files);
    fprintf(stderr, "(see workbench explain --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_explain = {
    "explain", run, "Grad-CAM / occlusion overlays of a run's saved fold network on given images",
    "usage: workbench explain RUN_DIR [--variant V] [--fold F] [--repeat R] FILES... --out DIR\n"
    "                         [--stage NAME] [--class K] [--occlusion PATCH[,STRIDE]] [--sanity]\n"
    "                         [--max-size N]\n"
    "       workbench explain RUN_DIR --gallery N [--stage NAME] [--max-size N]\n"
    "\n"
    "Loads the network a run saved for one fold (RUN_DIR/models/r<R>_f<F>_<V>.safetensors: the\n"
    "run needs train.save_weights: true), preprocesses each file as the run did (its\n"
    "config.yaml), and writes into DIR:\n"
    "  <name>_gradcam.png    the image as stored (grey), the Grad-CAM map in colour over it\n"
    "                        (crop, flip and resampling undone), a colour bar (0 to the map's\n"
    "                        maximum), the map's peak (white cross) and the labels' lesion box\n"
    "                        (green) when data.labels has one for the file\n"
    "  <name>_occlusion.png  with --occlusion: the drop of the class's probability when a\n"
    "                        PATCH x PATCH square (preprocessed pixels; stride default PATCH/2)\n"
    "                        is blanked\n"
    "  explain.csv           one row per image: probability, logit, the peak in image pixels,\n"
    "                        the lesion box and whether the peak lies in it, the same for\n"
    "                        occlusion, and with --sanity the Spearman correlation with the map\n"
    "                        of a network with re-initialised weights (docs/explain.md)\n"
    "On a patch run (data.task: patch) the patches the run cut from each file (its patches.csv)\n"
    "are explained, each cut again as the run did: <name>_<L1|B1..>_gradcam_patch.png (the patch\n"
    "as the network saw it) and <name>_<tag>_gradcam.png (the map placed back in the patch's\n"
    "square on the stored image, the boxes drawn); explain.csv has one row per patch.\n"
    "\n"
    "  --variant V     a backbone variant of the run (default: the first)\n"
    "  --fold F        the fold's network, 0-based (default 0); --repeat R likewise\n"
    "  --stage NAME    the stage the map is taken at (default: the last before the head)\n"
    "  --class K       the class explained (default: the positive class; with data.classes the\n"
    "                  predicted one)\n"
    "  --max-size N    longest side of the PNGs in pixels (default 1024; 256 for --gallery)\n"
    "  --gallery N     the case gallery of a binary run instead (of a patch run: patches): for\n"
    "                  each backbone variant the N\n"
    "                  most confident true positives, false positives and false negatives of\n"
    "                  predictions.csv, each by its own out-of-fold network, into\n"
    "                  RUN_DIR/gallery/ (PNGs + gallery.csv); then the reports are written again\n"
    "                  with the gallery (report.html embeds it, report.md links it)\n"
    "\n"
    "Prints DIR/explain.csv. Exit codes: 0 ok, 1 some files could not be explained (the others\n"
    "are written), 2 usage (unknown variant, fold or stage), 3 no run directory or no saved\n"
    "network, 4 cannot write.\n"};
