/* nn_mobilenet.c — MobileNet v1 as Keras builds it. */
#include "nn_internal.h"

nn_net *nn_net_create_mobilenet_v1(const nn_net_opts *opts, wb_error *err)
{
    (void)opts;
    wb_err(err, WB_E_USAGE, NULL, "mobilenet_v1 is not implemented yet");
    return NULL;
}
