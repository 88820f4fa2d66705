/* run_patch.h — whole-image scoring of a patch run (data.task: patch): each fold's patch
 * classifier scores the sliding windows of that fold's held-out images (and of its validation
 * images, for the image-level threshold); an image's score is the maximum of its heat map.
 *
 *     // given: exp_dataset ds; const exp_config *cfg; int repeats, r, f; size_t nv, v, nte, nte_x, *te; const int *role; double *stest; const char *dir; sbuf metrics_json;
 *     exp_wi *w = NULL;
 *     exp_wi_init(&w, &ds, cfg, repeats, nv, &err);            // w stays NULL for image runs
 *     nte_x = nte + exp_wi_fold_windows(w, role, te + nte);     // per fold: windows to score
 *     ... train / baseline with test = te[0 .. nte_x) ...
 *     exp_wi_fold_scores(w, r, f, v, role, te + nte, stest + nte, nte_x - nte);
 *     exp_wi_write(w, cfg, dir, &metrics_json, &err);           // predictions_image.csv, heatmaps.csv
 *     exp_wi_free(w);
 */
#ifndef EXP_RUN_PATCH_H
#define EXP_RUN_PATCH_H

#include <stddef.h>

#include "experiments/config/config.h"
#include "experiments/data/dataset.h"
#include "experiments/eval/cv.h"
#include "io/io_sbuf.h"
#include "base/wb_error.h"

typedef struct exp_wi exp_wi;

/* *out NULL (and 0 returned) unless ds is a patch dataset with whole-image scoring on. */
int exp_wi_init(exp_wi **out, const exp_dataset *ds, const exp_config *cfg, int repeats, size_t n_variants,
                wb_error *err);
/* The dataset indices of the windows of every image whose patient has role EXP_CV_TEST or
 * EXP_CV_VAL in role[] (per patch item) into out; returns how many. */
size_t exp_wi_fold_windows(exp_wi *w, const int *role, size_t *out);
/* The scores of those windows (win[i] scored s[i]) for repeat r, variant v: the held-out
 * images' maxima are kept (as fold f's); the validation images' maxima give the fold's
 * thresholds. */
void exp_wi_fold_scores(exp_wi *w, int r, int f, size_t v, const int *role, const size_t *win, const double *s,
                        size_t n);
/* Writes predictions_image.csv and heatmaps.csv into dir and appends the "whole_image" member
 * (",\n  \"whole_image\": {...}") to the metrics JSON in json. */
int exp_wi_write(exp_wi *w, const exp_config *cfg, const char *dir, sbuf *json, wb_error *err);
void exp_wi_free(exp_wi *w);

/* patches.csv of a patch run (nothing for an image run): each patch item's id (the image's SOP
 * UID + /L<k> for lesion box k, /B<k> for background patch k), file, kind, label, patient
 * pseudonym, fold of the first repeat, and its square (row, col, side) in stored-image pixels. */
int exp_wi_write_patches(const exp_dataset *ds, const exp_cv_folds *cv, const char *dir, wb_error *err);
/* patches.png of a patch run: a contact sheet of the first 8 positive lesion patches, 8
 * negative lesion patches and 8 background patches (one row each, as the network sees them,
 * each stretched over its own range, enlarged to at least 64 pixels). */
int exp_wi_write_contact(const exp_dataset *ds, const char *dir, wb_error *err);

#endif
