/* workbench inspect — metadata and pixel statistics of DICOM files, one JSON object per line. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "workbench/cli.h"
#include "io/io_dicom.h"
#include "io/io_fs.h"
#include "io/io_image.h"
#include "workbench/json_out.h"
#include "base/wb_log.h"

#include <stdlib.h>
#include <sys/stat.h>

static int is_dir(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

static void print_meta(json_out *j, const io_dicom_meta *m)
{
    json_str_or_null(j, "patient_id", m->patient_id);
    json_str_or_null(j, "study_instance_uid", m->study_uid);
    json_str_or_null(j, "series_instance_uid", m->series_uid);
    json_str_or_null(j, "sop_instance_uid", m->sop_uid);
    json_str_or_null(j, "sop_class_uid", m->sop_class_uid);
    json_str_or_null(j, "modality", m->modality);
    json_str_or_null(j, "laterality", m->laterality);
    json_str_or_null(j, "laterality_source", m->laterality_source);
    json_str_or_null(j, "view_position", m->view_position);
    json_str_or_null(j, "manufacturer", m->manufacturer);
    json_str_or_null(j, "manufacturer_model_name", m->model);
    json_int(j, "rows", m->rows);
    json_int(j, "columns", m->cols);
    json_int(j, "bits_allocated", m->bits_allocated);
    json_int(j, "bits_stored", m->bits_stored);
    json_int(j, "pixel_representation", m->pixel_representation);
    json_str_or_null(j, "photometric_interpretation", m->photometric);
    if (m->has_pixel_spacing)
        json_num_pair(j, "pixel_spacing_mm", m->pixel_spacing[0], m->pixel_spacing[1]);
    else
        json_str(j, "pixel_spacing_mm", NULL);
    json_str_or_null(j, "pixel_spacing_source", m->pixel_spacing_source);
    json_str_or_null(j, "presentation_intent_type", m->presentation_intent);
    json_str_or_null(j, "breast_implant_present", m->implant);
    json_str_or_null(j, "patient_age", m->patient_age);
    json_str_or_null(j, "transfer_syntax_uid", m->transfer_syntax);
    json_str_or_null(j, "transfer_syntax_name", m->transfer_syntax_name);
}

static int inspect_file(const char *path, const io_dicom_options *opt)
{
    io_dicom_image img;
    wb_error err;
    wb_error_clear(&err);
    json_out j;
    json_begin(&j, stdout);
    json_str(&j, "path", path);
    io_image_format fmt;
    if (io_image_read(path, opt, &img, &fmt, &err) != 0) {
        char buf[2400];
        json_bool(&j, "ok", 0);
        json_str(&j, "error", wb_error_format(&err, buf, sizeof buf));
        if (fmt != IO_IMAGE_UNKNOWN)
            json_str(&j, "format", io_image_format_name(fmt));
        /* What the header says, when it can be read, helps to see why. */
        io_dicom_meta m;
        wb_error e2;
        if (fmt == IO_IMAGE_DICOM && err.code == WB_E_DATA && io_dicom_read_meta(path, &m, &e2) == 0)
            print_meta(&j, &m);
        json_end(&j);
        return -1;
    }
    json_bool(&j, "ok", 1);
    json_str(&j, "error", NULL);
    json_str(&j, "format", io_image_format_name(fmt));
    /* PNG, JPEG and PGM files have no DICOM header: their metadata fields print as null */
    json_bool(&j, "dicom_metadata", fmt == IO_IMAGE_DICOM);
    print_meta(&j, &img.meta);
    size_t n = (size_t)img.rows * (size_t)img.cols;
    double lo = INFINITY, hi = -INFINITY, sum = 0;
    for (size_t i = 0; i < n; i++) {
        double v = img.pixels[i];
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
    }
    json_str(&j, "voi", opt->voi == IO_VOI_APPLY ? "apply" : "ignore");
    json_str_or_null(&j, "voi_source", img.meta.voi_source);
    if (!strcmp(img.meta.voi_source, "window")) {
        json_num(&j, "window_center", img.meta.window_center);
        json_num(&j, "window_width", img.meta.window_width);
        json_str(&j, "voi_lut_function", img.meta.voi_function);
    }
    json_int(&j, "padding_pixels", (long long)img.meta.n_padding);
    json_num(&j, "pixel_min", lo);
    json_num(&j, "pixel_max", hi);
    json_num(&j, "pixel_mean", sum / (double)n);
    json_end(&j);
    io_dicom_image_free(&img);
    return 0;
}

static int run(int argc, char **argv)
{
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    wb_error err;
    wb_error_clear(&err);
    io_path_list files;
    io_path_list_init(&files);
    int n_paths = 0, n_bad = 0, n_bad_paths = 0, bad = 0;
    size_t n_skipped = 0;
    const char *v;
    for (int i = 1; i < argc; i++) {
        if (cli_opt(argc, argv, &i, "--voi", &v, &bad, &err)) {
            if (bad)
                goto usage;
            if (!strcmp(v, "apply"))
                opt.voi = IO_VOI_APPLY;
            else if (!strcmp(v, "ignore"))
                opt.voi = IO_VOI_IGNORE;
            else {
                wb_err(&err, WB_E_USAGE, NULL, "--voi: expected 'apply' or 'ignore', got '%s'", v);
                goto usage;
            }
        } else if (cli_opt(argc, argv, &i, "--window", &v, &bad, &err)) {
            long w;
            if (bad || cli_parse_int("--window", v, 1, 64, &w, &err))
                goto usage;
            opt.window_index = (int)w - 1;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            wb_err(&err, WB_E_USAGE, NULL, "inspect: unknown option '%s'", argv[i]);
            goto usage;
        } else {
            n_paths++;
            wb_error e;
            wb_error_clear(&e);
            size_t before = files.n;
            int rc = io_fs_collect(argv[i], &files, &e);
            if (rc == 0 && is_dir(argv[i])) {
                /* In a directory, read only what looks like an image (labels.csv stays out). */
                size_t keep = before;
                for (size_t k = before; k < files.n; k++) {
                    if (io_image_is_candidate(files.paths[k]))
                        files.paths[keep++] = files.paths[k];
                    else {
                        free(files.paths[k]);
                        n_skipped++;
                    }
                }
                files.n = keep;
                if (keep == before)
                    rc = wb_err(&e, WB_E_IO, argv[i], "directory has no image files (no .dcm "
                                "name, 'DICM' marker, PNG, JPEG or PGM signature in %zu file(s))", n_skipped);
            }
            if (rc != 0) {
                /* Report the path as a failed entry and go on with the others. */
                char buf[2400];
                json_out j;
                json_begin(&j, stdout);
                json_str(&j, "path", argv[i]);
                json_bool(&j, "ok", 0);
                json_str(&j, "error", wb_error_format(&e, buf, sizeof buf));
                json_end(&j);
                n_bad++;
                n_bad_paths++; /* an input of its own: it added no file to the list */
                if (e.code == WB_E_NOMEM) {
                    io_path_list_free(&files);
                    return cli_fail(&e);
                }
            }
        }
    }
    if (n_paths == 0) {
        wb_err(&err, WB_E_USAGE, NULL, "inspect: no file or directory given");
        goto usage;
    }
    if (n_skipped)
        wb_log(WB_LOG_INFO, "inspect: skipped %zu file(s) in directories that are not images "
               "(no .dcm name, no 'DICM' marker, no PNG, JPEG or PGM signature)", n_skipped);
    for (size_t i = 0; i < files.n; i++)
        if (inspect_file(files.paths[i], &opt) != 0)
            n_bad++;
    fflush(stdout);
    size_t n_inputs = files.n + (size_t)n_bad_paths;
    io_path_list_free(&files);
    if (n_bad) {
        fprintf(stderr, "workbench: %d of %zu input(s) could not be read (see \"error\" above)\n",
                n_bad, n_inputs);
        return WB_EXIT_DATA;
    }
    return WB_EXIT_OK;
usage:
    io_path_list_free(&files);
    fprintf(stderr, "(see workbench inspect --help)\n");
    return cli_fail(&err);
}

const wb_command wb_cmd_inspect = {
    "inspect", run, "metadata and pixel statistics of DICOM (or PNG/JPEG/PGM) files, one JSON object per file",
    "usage: workbench inspect [--voi apply|ignore] [--window N] PATH...\n"
    "\n"
    "Reads each DICOM file (directories are searched recursively, hidden files skipped)\n"
    "and prints one JSON object per file on stdout: path, ok, error, format, the metadata\n"
    "(patient/study/series/SOP UIDs, laterality, view, manufacturer, geometry, pixel spacing,\n"
    "presentation intent, implant, age, transfer syntax) and min/max/mean of the decoded\n"
    "pixels. PatientName is never read.\n"
    "\n"
    "  --voi apply    apply the VOI LUT (window or LUT sequence), pixels in [0,1] (default)\n"
    "  --voi ignore   keep modality values (after Rescale Slope/Intercept)\n"
    "  --window N     use the N-th window when a file has several (default 1)\n"
    "\n"
    "MONOCHROME1 images are inverted so that bright is always dense tissue.\n"
    "PNG, JPEG and binary PGM files (chosen by their first bytes) print their size and\n"
    "bit depth with \"dicom_metadata\": false; patient, laterality and view are null.\n"
    "Exit status: 0 if every file was read, 3 if any could not be (the others still print).\n"};
