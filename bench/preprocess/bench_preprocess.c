/* bench_preprocess.c — decode (io_dicom_read, VOI applied) + exp_pre_run to 512x512, per image.
 * A benchmark, not a test: prints timings, asserts nothing about time.
 *
 *     bench_preprocess [--reps N] FILE...
 *
 * Each pass reads and preprocesses every file once (single-threaded: the pipeline has no
 * threads of its own); the best of N passes is reported, split into decode and preprocess. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io_dicom.h"
#include "preprocess.h"
#include "wb_error.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
    int reps = 3, first = 1;
    if (argc > 2 && strcmp(argv[1], "--reps") == 0) { reps = atoi(argv[2]); first = 3; }
    if (first >= argc || reps < 1) {
        fprintf(stderr, "usage: bench_preprocess [--reps N] FILE...\n");
        return 2;
    }
    int nfiles = argc - first;
    exp_pre_params p;
    exp_pre_params_default(&p);
    p.out_rows = p.out_cols = 512;
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    double best = 1e30, best_dec = 0, best_pre = 0;
    double checksum = 0;
    for (int r = 0; r < reps; r++) {
        double t_dec = 0, t_pre = 0;
        checksum = 0;
        for (int i = 0; i < nfiles; i++) {
            wb_error err;
            memset(&err, 0, sizeof err);
            io_dicom_image img;
            double t0 = now_s();
            if (io_dicom_read(argv[first + i], &opt, &img, &err) != 0) {
                fprintf(stderr, "bench_preprocess: %s: %s\n", argv[first + i], err.msg);
                return 1;
            }
            double t1 = now_s();
            exp_pre_result res;
            if (exp_pre_run(img.pixels, img.rows, img.cols, img.meta.laterality, &p, &res,
                            &err) != 0) {
                fprintf(stderr, "bench_preprocess: %s: %s\n", argv[first + i], err.msg);
                io_dicom_image_free(&img);
                return 1;
            }
            double t2 = now_s();
            t_dec += t1 - t0;
            t_pre += t2 - t1;
            for (int k = 0; k < res.rows * res.cols; k++) checksum += res.image[k];
            exp_pre_result_free(&res);
            io_dicom_image_free(&img);
        }
        if (t_dec + t_pre < best) { best = t_dec + t_pre; best_dec = t_dec; best_pre = t_pre; }
    }
    printf("c images=%d reps=%d threads=1 best_s=%.4f decode_s=%.4f preprocess_s=%.4f "
           "images_per_s=%.3f mean_out=%.6f\n",
           nfiles, reps, best, best_dec, best_pre, nfiles / best,
           checksum / ((double)nfiles * p.out_rows * p.out_cols));
    return 0;
}
