/* backbone.h — the backbone network a config describes, and whether its weights fit it.
 *
 *     // given: const exp_config *cfg; const char *arch; wb_tensor_list weights;
 *     nn_net_opts o;
 *     exp_backbone_opts(cfg, &o);                        // in_channels, classes, seed, in_norm
 *     nn_net_opts_from_weights(arch, &weights, &o, &err); // what the file decides (nets/)
 *     exp_backbone_check(cfg, &weights, &err);          // builds it and binds the weights
 *
 * workbench validate (exp_backbone_validate) and the start of workbench run bind the weights
 * this way, so that a config whose weights cannot run is refused before anything trains, with
 * the file and the tensor named. The training (train.c) builds its networks from the same
 * options.
 */
#ifndef EXP_BACKBONE_H
#define EXP_BACKBONE_H

#include "base/wb_error.h"
#include "base/wb_tensor.h"
#include "experiments/config/config.h"
#include "nets/nn.h"

/* Network options from the config alone: backbone.in_channels, the head's class count (2
 * for binary labels, else the number of data.classes), seed, and preprocess.normalize: auto
 * with weights as the input normalisation of the architecture's weights (exp_normalize_resolve). */
void exp_backbone_opts(const exp_config *cfg, nn_net_opts *o);

/* Builds the config's backbone with what the weights decide (nn_net_opts_from_weights) and
 * binds them strictly (the head is re-initialised when its class count differs). Errors
 * name backbone.weights' file and the first missing, unexpected or mis-shaped tensor
 * (WB_E_DATA). */
int exp_backbone_check(const exp_config *cfg, const wb_tensor_list *weights, wb_error *err);

/* When any variant is a backbone and backbone.weights is set: reads the file (io_weights)
 * and runs exp_backbone_check. Nothing trains. */
int exp_backbone_validate(const exp_config *cfg, wb_error *err);

#endif
