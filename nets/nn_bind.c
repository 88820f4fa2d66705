/* nn_bind.c — weights in and out by name (wb_tensor_list), with a report. */
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "base/wb_tensor.h"
#include "nets/nn_internal.h"

nn_bind_opts nn_bind_opts_default(void)
{
    nn_bind_opts o = {1, 1};
    return o;
}

void nn_bind_report_init(nn_bind_report *r)
{
    memset(r, 0, sizeof *r);
}

static void free_strs(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void nn_bind_report_free(nn_bind_report *r)
{
    if (!r)
        return;
    free_strs(r->missing, r->n_missing);
    free_strs(r->unexpected, r->n_unexpected);
    free_strs(r->misshaped, r->n_misshaped);
    free_strs(r->skipped, r->n_skipped);
    nn_bind_report_init(r);
}

static int push(char ***v, size_t *n, const char *s, wb_error *err)
{
    char **p = nn_realloc(*v, sizeof *p * (*n + 1));
    if (!p)
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    *v = p;
    size_t len = strlen(s);
    p[*n] = nn_malloc(len + 1);
    if (!p[*n])
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    memcpy(p[*n], s, len + 1);
    (*n)++;
    return 0;
}

/* The tensor's shape as its home framework stores it. */
static int file_shape(const nn_tensor *t, int64_t *shape)
{
    switch (t->layout) {
    case NN_LAYOUT_HWIO: /* OIHW -> HWIO */
        shape[0] = t->shape[2], shape[1] = t->shape[3], shape[2] = t->shape[1],
        shape[3] = t->shape[0];
        return 4;
    case NN_LAYOUT_HWCM: /* [C, 1, KH, KW] -> [KH, KW, C, 1] */
        shape[0] = t->shape[2], shape[1] = t->shape[3], shape[2] = t->shape[0], shape[3] = 1;
        return 4;
    case NN_LAYOUT_NATIVE:
        break;
    }
    for (int i = 0; i < t->ndim; i++)
        shape[i] = t->shape[i];
    return t->ndim;
}

static void fmt_shape(char *buf, size_t n, int ndim, const int64_t *shape)
{
    size_t off = 0;
    off += (size_t)snprintf(buf + off, n - off, "[");
    for (int i = 0; i < ndim && off < n; i++)
        off += (size_t)snprintf(buf + off, n - off, "%s%lld", i ? "," : "", (long long)shape[i]);
    if (off < n)
        snprintf(buf + off, n - off, "]");
}

/* 0: same shape; 1: a first conv with c file input channels to sum into 1; -1: differs. */
static int shape_match(const nn_tensor *t, const wb_tensor *f)
{
    int64_t s[4];
    int nd = file_shape(t, s);
    if (f->ndim != nd)
        return -1;
    int same = 1;
    for (int i = 0; i < nd; i++)
        if (f->shape[i] != s[i])
            same = 0;
    if (same)
        return 0;
    if (t->is_first_conv && t->shape[1] == 1 && nd == 4) {
        int cin = t->layout == NN_LAYOUT_HWIO ? 2 : 1;
        for (int i = 0; i < 4; i++)
            if (i != cin && f->shape[i] != s[i])
                return -1;
        return f->shape[cin] >= 1 ? 1 : -1;
    }
    return -1;
}

/* Copies file data into t, converting layout and summing input channels if asked. */
static void copy_in(nn_tensor *t, const wb_tensor *f, int sum_cin)
{
    const int O = t->shape[0], I = t->shape[1];
    if (t->layout == NN_LAYOUT_NATIVE) {
        if (!sum_cin) {
            memcpy(t->data, f->data, sizeof(float) * t->numel);
            return;
        }
        const int C = (int)f->shape[1], K = t->shape[2] * t->shape[3];
        for (int o = 0; o < O; o++)
            for (int k = 0; k < K; k++) {
                double s = 0;
                for (int c = 0; c < C; c++)
                    s += f->data[((size_t)o * C + c) * K + k];
                t->data[(size_t)o * K + k] = (float)s;
            }
        return;
    }
    const int KH = t->shape[2], KW = t->shape[3];
    if (t->layout == NN_LAYOUT_HWCM) { /* [KH, KW, C, 1] */
        for (int c = 0; c < O; c++)
            for (int i = 0; i < KH; i++)
                for (int j = 0; j < KW; j++)
                    t->data[((size_t)c * KH + i) * KW + j] = f->data[((size_t)i * KW + j) * O + c];
        return;
    }
    /* HWIO [KH, KW, C, O] */
    const int C = (int)f->shape[2];
    for (int o = 0; o < O; o++)
        for (int i = 0; i < KH; i++)
            for (int j = 0; j < KW; j++) {
                double s = 0;
                for (int c = 0; c < C; c++) {
                    float v = f->data[(((size_t)i * KW + j) * C + c) * O + o];
                    if (!sum_cin) {
                        t->data[(((size_t)o * I + c) * KH + i) * KW + j] = v;
                    } else {
                        s += v;
                    }
                }
                if (sum_cin)
                    t->data[((size_t)o * KH + i) * KW + j] = (float)s;
            }
}

/* The file's conv1 weight element [o, c, i, j] (OIHW index), whatever its layout. */
static float file_w(const nn_tensor *t, const wb_tensor *f, int o, int c, int i, int j)
{
    const int KH = t->shape[2], KW = t->shape[3];
    if (t->layout == NN_LAYOUT_HWIO) /* [KH, KW, C, O] */
        return f->data[(((size_t)i * KW + j) * f->shape[2] + c) * f->shape[3] + o];
    return f->data[(((size_t)o * f->shape[1] + c) * KH + i) * KW + j];
}

/* opts.in_norm: conv1 <- W_c / s_c (summed over c for one input channel), offset <-
 * -sum_c W_c m_c / s_c, from the file's 3-channel weights W. */
static void copy_in_folded(const nn_net *net, nn_tensor *t, nn_tensor *off, const wb_tensor *f)
{
    const int O = t->shape[0], I = t->shape[1], KH = t->shape[2], KW = t->shape[3];
    const float *m = net->opts.in_mean, *sd = net->opts.in_std;
    for (int o = 0; o < O; o++)
        for (int i = 0; i < KH; i++)
            for (int j = 0; j < KW; j++) {
                double sum = 0, b = 0;
                for (int c = 0; c < 3; c++) {
                    double v = file_w(t, f, o, c, i, j);
                    sum += v / sd[c];
                    b -= v * m[c] / sd[c];
                    if (I == 3)
                        t->data[(((size_t)o * 3 + c) * KH + i) * KW + j] = (float)(v / sd[c]);
                }
                if (I == 1)
                    t->data[((size_t)o * KH + i) * KW + j] = (float)sum;
                off->data[((size_t)o * KH + i) * KW + j] = (float)b;
            }
}

/* Strips "module." (DataParallel) and "model_weights/", and collapses the HDF5 path
 * "<layer>/<layer>/<weight>" of Keras files to "<layer>/<weight>". buf: NN_NAME_MAX+. */
static const char *strip_module(const char *name, char *buf, size_t n)
{
    if (strncmp(name, "module.", 7) == 0)
        name += 7;
    if (strncmp(name, "model_weights/", 14) == 0)
        name += 14;
    const char *s1 = strchr(name, '/');
    if (s1) {
        size_t l = (size_t)(s1 - name);
        if (strncmp(s1 + 1, name, l) == 0 && s1[1 + l] == '/' && strlen(s1 + 1) < n) {
            snprintf(buf, n, "%s", s1 + 1);
            name = buf;
        }
        /* io_h5 names Keras weights "<layer>/<weight>" without TensorFlow's ":0" suffix */
        const char *colon = strrchr(name, ':');
        if ((!colon || colon < strrchr(name, '/')) && strlen(name) + 3 <= n) {
            if (name != buf)
                snprintf(buf, n, "%s", name);
            strcat(buf, ":0");
            name = buf;
        }
    }
    return name;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int nn_net_bind(nn_net *net, const wb_tensor_list *list, const nn_bind_opts *opts,
                nn_bind_report *report, wb_error *err)
{
    nn_bind_opts def = nn_bind_opts_default();
    nn_bind_report local;
    if (!opts)
        opts = &def;
    if (!report) {
        nn_bind_report_init(&local);
        report = &local;
    }
    const size_t NT = net->n_tensors;
    long *match = nn_malloc(sizeof(long) * (NT ? NT : 1));     /* list index per net tensor */
    int *mode = nn_malloc(sizeof(int) * (NT ? NT : 1));        /* shape_match result */
    if (!match || !mode) {
        free(match);
        free(mode);
        return wb_err(err, WB_E_NOMEM, NULL, "out of memory");
    }
    int rc = 0;
    char first[512] = "";
    for (size_t i = 0; i < NT; i++)
        match[i] = -1;
    /* in_norm: the offset is derived from conv1 unless the list has it (an exported net) */
    long off_i = -1;
    if (net->in_node >= 0)
        off_i = net->nodes[net->in_node].t[2];
    for (size_t k = 0; k < list->n && rc == 0; k++) {
        const wb_tensor *f = &list->items[k];
        char nbuf[512];
        const char *name = strip_module(f->name, nbuf, sizeof nbuf);
        if (ends_with(name, "num_batches_tracked"))
            continue;
        long ti = nn_net_tensor_find(net, name);
        if (ti < 0) {
            rc = push(&report->unexpected, &report->n_unexpected, name, err);
            if (!first[0])
                snprintf(first, sizeof first, "unexpected tensor '%s' (%s has no such parameter)",
                         name, net->arch);
            continue;
        }
        match[ti] = (long)k;
    }
    for (size_t i = 0; i < NT && rc == 0; i++) {
        nn_tensor *t = &net->tensors[i];
        if (t->is_head && opts->skip_head == 2) {
            rc = push(&report->skipped, &report->n_skipped, t->name, err);
            match[i] = -1;
            continue;
        }
        if (match[i] < 0 && (long)i == off_i)
            continue; /* folded from conv1 below */
        if (match[i] < 0) {
            rc = push(&report->missing, &report->n_missing, t->name, err);
            if (!first[0])
                snprintf(first, sizeof first, "missing tensor '%s'", t->name);
            continue;
        }
        const wb_tensor *f = &list->items[match[i]];
        mode[i] = shape_match(t, f);
        /* fold the input normalisation: the file's conv1 must have the 3 RGB channels */
        if (t->is_first_conv && off_i >= 0 && match[off_i] < 0 && mode[i] >= 0) {
            int cin = t->layout == NN_LAYOUT_HWIO ? 2 : 1;
            mode[i] = f->shape[cin] == 3 ? 2 : -1;
        }
        if (mode[i] < 0) {
            int64_t s[4];
            int nd = file_shape(t, s);
            char a[64], b[64], line[440];
            fmt_shape(a, sizeof a, f->ndim, f->shape);
            fmt_shape(b, sizeof b, nd, s);
            snprintf(line, sizeof line, "%s: file %s vs network %s%s", t->name, a, b,
                     t->is_first_conv && off_i >= 0 && match[off_i] < 0
                         ? " (the input normalisation folds 3 RGB input channels)" : "");
            if (t->is_head && opts->skip_head == 1) {
                rc = push(&report->skipped, &report->n_skipped, line, err);
                match[i] = -1;
                continue;
            }
            rc = push(&report->misshaped, &report->n_misshaped, line, err);
            if (!first[0])
                snprintf(first, sizeof first, "mis-shaped tensor %s", line);
            match[i] = -1;
        }
    }
    /* values: a NaN or infinity in a pretrained tensor (a damaged or diverged checkpoint) would
     * make every score NaN far from its cause, and a negative running variance NaN after the
     * batch norm's square root; both are refused here, naming the tensor and the element */
    for (size_t i = 0; i < NT && rc == 0; i++) {
        if (match[i] < 0)
            continue;
        const wb_tensor *f = &list->items[match[i]];
        const nn_tensor *t = &net->tensors[i];
        const size_t n = wb_tensor_numel(f);
        for (size_t e = 0; e < n; e++) {
            const float v = f->data[e];
            if (!isfinite(v)) {
                rc = wb_err(err, WB_E_DATA, NULL,
                            "%s: tensor '%s' element %zu is %s: every weight must be finite (a damaged "
                            "checkpoint, or one saved after training diverged)",
                            net->arch, f->name, e, isnan(v) ? "NaN" : v > 0 ? "+inf" : "-inf");
                break;
            }
            if (t->kind == NN_T_BN_VAR && v < 0) {
                rc = wb_err(err, WB_E_DATA, NULL,
                            "%s: tensor '%s' element %zu is %g: a batch norm's running variance cannot be "
                            "negative (a damaged checkpoint?)",
                            net->arch, f->name, e, (double)v);
                break;
            }
        }
    }
    if (rc == 0 && opts->strict && first[0]) {
        rc = wb_err(err, WB_E_DATA, NULL,
                    "%s: %s (%zu missing, %zu unexpected, %zu mis-shaped)", net->arch, first,
                    report->n_missing, report->n_unexpected, report->n_misshaped);
    }
    if (rc == 0) {
        for (size_t i = 0; i < NT; i++)
            if (match[i] >= 0) {
                if (mode[i] == 2)
                    copy_in_folded(net, &net->tensors[i], &net->tensors[off_i], &list->items[match[i]]);
                else
                    copy_in(&net->tensors[i], &list->items[match[i]], mode[i] == 1);
                report->n_bound++;
            }
        net->in_map_ok = 0;
    }
    free(match);
    free(mode);
    if (report == &local)
        nn_bind_report_free(&local);
    return rc;
}

/* Appends src (t's values or gradient, engine layout) to list in the home layout. */
static int export_one(const nn_tensor *t, const float *src, wb_tensor_list *list, wb_error *err)
{
    int64_t s[4];
    int nd = file_shape(t, s);
    float *tmp = NULL;
    if (t->layout != NN_LAYOUT_NATIVE) {
        tmp = nn_malloc(sizeof(float) * t->numel);
        if (!tmp)
            return wb_err(err, WB_E_NOMEM, NULL, "out of memory exporting %s", t->name);
        const int O = t->shape[0], I = t->shape[1], KH = t->shape[2], KW = t->shape[3];
        for (int o = 0; o < O; o++)
            for (int c = 0; c < I; c++)
                for (int a = 0; a < KH; a++)
                    for (int b = 0; b < KW; b++) {
                        float v = src[(((size_t)o * I + c) * KH + a) * KW + b];
                        if (t->layout == NN_LAYOUT_HWCM)
                            tmp[((size_t)a * KW + b) * O + o] = v;
                        else
                            tmp[(((size_t)a * KW + b) * I + c) * O + o] = v;
                    }
        src = tmp;
    }
    int rc = wb_tensor_list_add(list, t->name, nd, s, src, err);
    free(tmp);
    return rc;
}

int nn_net_export(const nn_net *net, wb_tensor_list *list, wb_error *err)
{
    for (size_t i = 0; i < net->n_tensors; i++)
        if (export_one(&net->tensors[i], net->tensors[i].data, list, err) != 0)
            return -1;
    return 0;
}

int nn_net_export_grads(const nn_net *net, wb_tensor_list *list, wb_error *err)
{
    for (size_t i = 0; i < net->n_tensors; i++) {
        const nn_tensor *t = &net->tensors[i];
        if (t->trainable && t->grad && export_one(t, t->grad, list, err) != 0)
            return -1;
    }
    return 0;
}

/* The head's weight by architecture family (the tensor whose first or last dimension is the
 * class count). */
static const char *head_weight(const char *arch)
{
    if (strcmp(arch, "mobilenet_v1") == 0)
        return "conv_preds/kernel:0"; /* HWIO [1, 1, F, K] */
    if (strcmp(arch, "resnet18") == 0 || strcmp(arch, "resnet34") == 0 ||
        strcmp(arch, "resnet50") == 0)
        return "fc.weight"; /* [K, F] */
    return "linear.weight";  /* CIFAR ResNets [K, F] */
}

int nn_net_opts_from_weights(const char *arch, const wb_tensor_list *list, nn_net_opts *o,
                             wb_error *err)
{
    if (!nn_arch_input_norm(arch, NULL, NULL))
        return wb_err(err, WB_E_USAGE, NULL, "unknown architecture '%s'", arch ? arch : "(null)");
    const char *head = head_weight(arch);
    int mobilenet = strcmp(arch, "mobilenet_v1") == 0;
    for (size_t k = 0; k < list->n; k++) {
        const wb_tensor *f = &list->items[k];
        char buf[512];
        const char *name = strip_module(f->name, buf, sizeof buf);
        if (strcmp(name, head) == 0 && f->ndim == (mobilenet ? 4 : 2)) {
            int64_t kc = mobilenet ? f->shape[3] : f->shape[0];
            if (kc < 1 || kc > 1000000)
                return wb_err(err, WB_E_DATA, NULL, "%s: %s has %lld classes: expected 1 to 1000000",
                              arch, name, (long long)kc);
            o->num_classes = (int)kc;
        }
        if (mobilenet && strcmp(name, "conv1/kernel:0") == 0 && f->ndim == 4) {
            /* conv1 has 32 * width filters (HWIO: the last dimension) */
            int64_t oc = f->shape[3];
            if (oc != 8 && oc != 16 && oc != 24 && oc != 32)
                return wb_err(err, WB_E_DATA, NULL,
                              "mobilenet_v1: conv1/kernel:0 has %lld filters: width %g is not one "
                              "of 0.25, 0.5, 0.75, 1 (8, 16, 24 or 32 filters)",
                              (long long)oc, (double)oc / 32.0);
            o->width = (float)oc / 32.0f;
        }
        /* an export of a network with the input normalisation folded into conv1 */
        if (ends_with(name, ".input_offset") || ends_with(name, "/input_offset:0")) {
            o->in_norm = 1;
            nn_arch_input_norm(arch, o->in_mean, o->in_std);
        }
    }
    return 0;
}
