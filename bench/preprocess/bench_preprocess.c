/* bench_preprocess.c — decode (io_dicom_read, VOI applied) + exp_pre_run to 512x512, per image.
 * A benchmark, not a test: prints timings, asserts nothing about time.
 *
 *     bench_preprocess [--reps N] [--threads T] [--split images|rows] FILE...
 *
 * Each pass reads and preprocesses every file once; the best of N passes (wall time) is
 * reported. --threads T (default 1) with --split images (default): T workers each take the
 * next file, one image per core, the pipeline single-threaded (exp_pre_set_threads(1)); with
 * --split rows: one image at a time, its decode single-threaded and the pipeline's hot loops
 * split over T threads. decode_s and preprocess_s are sums over images (thread-seconds: with
 * T images at once they add up to about T times the wall time); cpu_s_per_image is the
 * process CPU time of the best pass (all threads) per image, split into the decoding and
 * preprocessing threads' own CPU time (exact with --split images). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/io_dicom.h"
#include "experiments/data/preprocess.h"
#include "base/wb_error.h"
#include "nets/nn.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* CPU time of the whole process (every thread): less sensitive than wall time to other
 * processes on a shared machine. */
static double cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct {
    char **files;
    int nfiles;
    atomic_int next;
    double *t_dec, *t_pre, *sum; /* per file */
    double *c_dec, *c_pre;       /* per file: CPU time of the thread doing it */
    atomic_int failed;
} pass;

static void *worker(void *arg) {
    pass *ps = arg;
    exp_pre_params p;
    exp_pre_params_default(&p);
    p.out_rows = p.out_cols = 512;
    io_dicom_options opt;
    io_dicom_options_default(&opt);
    for (;;) {
        int i = atomic_fetch_add(&ps->next, 1);
        if (i >= ps->nfiles || atomic_load(&ps->failed))
            break;
        wb_error err;
        memset(&err, 0, sizeof err);
        io_dicom_image img;
        double t0 = now_s(), u0 = thread_cpu_s();
        if (io_dicom_read(ps->files[i], &opt, &img, &err) != 0) {
            fprintf(stderr, "bench_preprocess: %s: %s\n", ps->files[i], err.msg);
            atomic_store(&ps->failed, 1);
            break;
        }
        double t1 = now_s(), u1 = thread_cpu_s();
        exp_pre_result res;
        if (exp_pre_run(img.pixels, img.rows, img.cols, img.meta.laterality, &p, &res, &err)) {
            fprintf(stderr, "bench_preprocess: %s: %s\n", ps->files[i], err.msg);
            io_dicom_image_free(&img);
            atomic_store(&ps->failed, 1);
            break;
        }
        double t2 = now_s(), u2 = thread_cpu_s();
        ps->c_dec[i] = u1 - u0;
        ps->c_pre[i] = u2 - u1;
        ps->t_dec[i] = t1 - t0;
        ps->t_pre[i] = t2 - t1;
        double s = 0;
        for (int k = 0; k < res.rows * res.cols; k++) s += res.image[k];
        ps->sum[i] = s;
        exp_pre_result_free(&res);
        io_dicom_image_free(&img);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int reps = 3, threads = 1, split_rows = 0, first = 1;
    while (first + 1 < argc && strncmp(argv[first], "--", 2) == 0) {
        if (strcmp(argv[first], "--reps") == 0) reps = atoi(argv[first + 1]);
        else if (strcmp(argv[first], "--threads") == 0) threads = atoi(argv[first + 1]);
        else if (strcmp(argv[first], "--split") == 0) split_rows = strcmp(argv[first + 1], "rows") == 0;
        else break;
        first += 2;
    }
    if (first >= argc || reps < 1 || threads < 1 || threads > EXP_PRE_MAX_THREADS) {
        fprintf(stderr, "usage: bench_preprocess [--reps N] [--threads T] [--split images|rows] FILE...\n");
        return 2;
    }
    int nfiles = argc - first, workers = split_rows ? 1 : threads;
    exp_pre_set_threads(split_rows ? threads : 1);
    nn_set_threads(split_rows ? threads : 1); /* the rows are split over the engine's pool */
    double *t_dec = calloc((size_t)nfiles, sizeof *t_dec), *t_pre = calloc((size_t)nfiles, sizeof *t_pre);
    double *sum = calloc((size_t)nfiles, sizeof *sum);
    double *c_dec = calloc((size_t)nfiles, sizeof *c_dec), *c_pre = calloc((size_t)nfiles, sizeof *c_pre);
    double best_cdec = 1e30, best_cpre = 1e30;
    pthread_t tid[EXP_PRE_MAX_THREADS];
    double best = 1e30, best_dec = 0, best_pre = 0, checksum = 0, best_cpu = 1e30;
    for (int r = 0; r < reps; r++) {
        pass ps = {.files = argv + first, .nfiles = nfiles, .t_dec = t_dec, .t_pre = t_pre, .sum = sum,
                   .c_dec = c_dec, .c_pre = c_pre};
        atomic_init(&ps.next, 0);
        atomic_init(&ps.failed, 0);
        double t0 = now_s(), c0 = cpu_s();
        for (int t = 1; t < workers; t++)
            if (pthread_create(&tid[t], NULL, worker, &ps) != 0) {
                fprintf(stderr, "bench_preprocess: cannot start a thread\n");
                return 1;
            }
        worker(&ps);
        for (int t = 1; t < workers; t++) pthread_join(tid[t], NULL);
        double wall = now_s() - t0, cpu = cpu_s() - c0;
        if (atomic_load(&ps.failed)) return 1;
        if (cpu < best_cpu) best_cpu = cpu;
        double cd = 0, cp = 0;
        for (int i = 0; i < nfiles; i++) {
            cd += c_dec[i];
            cp += c_pre[i];
        }
        if (cd < best_cdec) best_cdec = cd;
        if (cp < best_cpre) best_cpre = cp;
        if (wall < best) {
            best = wall;
            best_dec = best_pre = checksum = 0;
            for (int i = 0; i < nfiles; i++) {
                best_dec += t_dec[i];
                best_pre += t_pre[i];
                checksum += sum[i];
            }
        }
    }
    printf("c images=%d reps=%d threads=%d split=%s best_s=%.4f decode_s=%.4f preprocess_s=%.4f "
           "images_per_s=%.3f cpu_s_per_image=%.3f (decode %.3f, preprocess %.3f) mean_out=%.6f\n",
           nfiles, reps, threads, split_rows ? "rows" : "images", best, best_dec, best_pre,
           nfiles / best, best_cpu / nfiles, best_cdec / nfiles, best_cpre / nfiles, checksum / ((double)nfiles * 512 * 512));
    free(t_dec);
    free(t_pre);
    free(sum);
    free(c_dec);
    free(c_pre);
    return 0;
}
