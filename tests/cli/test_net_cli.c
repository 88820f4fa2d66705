/* `workbench net forward|grad` with the published CIFAR ResNet-20 against PyTorch (float64)
 * values made by tests/cli/make_net_fixtures.py, and its errors on bad input.
 * Args: WORKBENCH DATA_DIR WEIGHTS_DIR TMP_DIR */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "io/io_npy.h"
#include "io/io_safetensors.h"
#include "base/wb_tensor.h"
#include "wb_test.h"

static const char *wb, *data, *weights, *tmp;

/* Runs the command line; returns its exit status and leaves stderr in TMP/stderr. */
static int run(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "'%s' %s 2>'%s/stderr' >'%s/stdout'", wb, args, tmp, tmp);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void stderr_contains(const char *want)
{
    char path[1024], buf[4096] = "";
    snprintf(path, sizeof path, "%s/stderr", tmp);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    buf[n] = '\0';
    if (f) fclose(f);
    CHECK_CONTAINS(buf, want, "stderr");
}

int main(int argc, char **argv)
{
    if (argc != 5) return 2;
    wb = argv[1], data = argv[2], weights = argv[3], tmp = argv[4];
    mkdir(tmp, 0777);
    char w20[1024], args[4096], path[1024];
    snprintf(w20, sizeof w20, "%s/resnet20-12fca82f.th", weights);
    struct stat st;
    if (stat(w20, &st) != 0) {
        fprintf(stderr, "missing %s: the published CIFAR ResNet-20 (akamaster/pytorch_resnet_cifar10, "
                        "pretrained_models/), expected in ../shared/weights beside the repository\n", w20);
        return 1;
    }

    /* forward: logits within 1e-4 relative of PyTorch's */
    snprintf(args, sizeof args, "net forward --arch resnet20 --weights '%s' --input '%s/x.npy' --output '%s/y.npy'", w20, data, tmp);
    CHECK_EQ_INT(run(args), 0, "net forward exit");
    wb_tensor y, want;
    wb_error err;
    snprintf(path, sizeof path, "%s/y.npy", tmp);
    int rc = io_npy_read(path, &y, &err);
    CHECK(rc == 0, "read y: %s", err.msg);
    snprintf(path, sizeof path, "%s/logits.npy", data);
    rc |= io_npy_read(path, &want, &err);
    CHECK(rc == 0, "read logits: %s", err.msg);
    if (rc == 0) {
        CHECK_EQ_INT(wb_tensor_numel(&y), wb_tensor_numel(&want), "logit count");
        double num = 0, den = 0;
        for (size_t i = 0; i < wb_tensor_numel(&want) && i < wb_tensor_numel(&y); i++) {
            num += (y.data[i] - want.data[i]) * (double)(y.data[i] - want.data[i]);
            den += want.data[i] * (double)want.data[i];
        }
        CHECK(sqrt(num / den) < 1e-4, "logits relative L2 error %.3g", sqrt(num / den));
        wb_tensor_free(&y);
        wb_tensor_free(&want);
    }

    /* grad: loss and every trainable gradient's norm within 1e-3 relative */
    snprintf(args, sizeof args, "net grad --arch resnet20 --weights '%s' --input '%s/x.npy' --labels '%s/t.npy' "
             "--unfreeze layer3 --bn frozen --output '%s/g.safetensors'", w20, data, data, tmp);
    CHECK_EQ_INT(run(args), 0, "net grad exit");
    wb_tensor_list g;
    wb_tensor_list_init(&g);
    snprintf(path, sizeof path, "%s/g.safetensors", tmp);
    rc = io_safetensors_read(path, &g, &err);
    CHECK(rc == 0, "read gradients: %s", err.msg);
    snprintf(path, sizeof path, "%s/grad.txt", data);
    FILE *f = fopen(path, "r");
    CHECK(f != NULL, "open %s", path);
    char name[256];
    double v;
    size_t n_expected = 0;
    while (f && fscanf(f, "%255s %lf", name, &v) == 2) {
        if (!strcmp(name, "loss")) {
            double loss = 0;
            snprintf(path, sizeof path, "%s/stdout", tmp);
            FILE *o = fopen(path, "r");
            CHECK(o && fscanf(o, "loss %lf", &loss) == 1, "no loss printed");
            if (o) fclose(o);
            CHECK_CLOSE(loss, v, 1e-5 * v, "loss");
            continue;
        }
        n_expected++;
        const wb_tensor *t = wb_tensor_list_find(&g, name);
        CHECK(t != NULL, "gradient %s missing", name);
        if (!t) continue;
        double s = 0;
        for (size_t i = 0; i < wb_tensor_numel(t); i++) s += (double)t->data[i] * t->data[i];
        CHECK_CLOSE(sqrt(s), v, 1e-3 * v, "gradient norm of %s", name);
    }
    if (f) fclose(f);
    CHECK_EQ_INT(g.n, n_expected, "number of gradient tensors (frozen stages have none)");
    wb_tensor_list_free(&g);

    /* bad input: exit 3 (data) or 2 (usage), with the file named */
    snprintf(args, sizeof args, "net forward --arch resnet32 --weights '%s' --input '%s/x.npy' --output '%s/z.npy'", w20, data, tmp);
    CHECK_EQ_INT(run(args), 3, "resnet20 weights into resnet32");
    stderr_contains("resnet20-12fca82f.th");
    stderr_contains("missing");
    snprintf(args, sizeof args, "net forward --arch resnet20 --weights '%s/nope.th' --input '%s/x.npy' --output '%s/z.npy'", tmp, data, tmp);
    CHECK_EQ_INT(run(args), 3, "missing weights");
    stderr_contains("nope.th");
    snprintf(args, sizeof args, "net forward --arch resnet20 --weights '%s' --input '%s/grad.txt' --output '%s/z.npy'", w20, data, tmp);
    CHECK_EQ_INT(run(args), 3, "input not npy");
    stderr_contains("grad.txt");
    snprintf(args, sizeof args, "net info --arch resnet7");
    CHECK_EQ_INT(run(args), 2, "unknown arch");
    snprintf(args, sizeof args, "net info --arch resnet20 --unfreeze layer9");
    CHECK_EQ_INT(run(args), 2, "unknown stage");
    stderr_contains("layer9");
    snprintf(path, sizeof path, "%s/z.npy", tmp);
    CHECK(stat(path, &st) != 0, "a failed forward left %s behind", path);
    return wb_test_finish("test_net_cli");
}
