/* foldnet.h — a run's saved fold networks (train.save_weights: true), for looking at or
 * applying a trained model after the run: `workbench explain`, `bundle`, `predict`.
 *
 *     // given: const exp_config *cfg; const char *cfg_path, *want, *run_dir; int fold;
 *     // given: const wb_tensor_list weights; const float *x; int rows, cols;
 *     const char *v;
 *     if (exp_foldnet_variant(cfg, cfg_path, want, "explain", &v, &err) != 0) ...;   // WB_E_USAGE
 *     char wp[4200];
 *     exp_foldnet_path(run_dir, 0, fold, v, wp, sizeof wp);
 *     nn_net *net = exp_foldnet_load(cfg, &weights, wp, 0, 1, &err);
 *     double p; exp_foldnet_prob(net, x, rows, cols, 1, &p, NULL, &err);
 */
#ifndef EXP_FOLDNET_H
#define EXP_FOLDNET_H

#include <stddef.h>
#include <stdint.h>

#include "base/wb_error.h"
#include "base/wb_tensor.h"
#include "experiments/config/config.h"
#include "nets/nn.h"

/* The backbone variant named want (NULL: the config's first backbone variant) into *name
 * (owned by cfg). WB_E_USAGE naming cfg_path: no such variant, the radiomics baseline (no
 * network), or no backbone variant at all; the message lists the backbone variants. what
 * says what was to be done in the baseline's message ("explain", "bundle"). */
int exp_foldnet_variant(const exp_config *cfg, const char *cfg_path, const char *want, const char *what,
                        const char **name, wb_error *err);

/* run_dir/models/r<R>_f<F>_<variant>.safetensors into buf. */
void exp_foldnet_path(const char *run_dir, int repeat, int fold, const char *variant, char *buf, size_t n);

/* The config's backbone with what the saved weights w (read from wpath) decide, the head of
 * the config's classes, no dropout; bind: 1 strictly binds w (a mismatch: WB_E_DATA naming
 * wpath), 0 keeps the seeded initial weights. Nothing is left trainable but the head. NULL
 * with err on failure. */
nn_net *exp_foldnet_load(const exp_config *cfg, const wb_tensor_list *w, const char *wpath, uint64_t seed, int bind,
                         wb_error *err);

/* The softmax probability of class cls (-1: binary: class 1, multi-class: the argmax) of one
 * image x (in_channels x rows x cols) into *prob, the class into *cls_out (may be NULL). Two
 * classes: 1 / (1 + exp(z_other - z_cls)) in double, as a run scores (the same bits as the
 * run's predictions.csv for the network the run ended with: an image's logits do not depend
 * on its batch). */
int exp_foldnet_prob(nn_net *net, const float *x, int rows, int cols, int cls, double *prob, int *cls_out,
                     wb_error *err);

#endif
