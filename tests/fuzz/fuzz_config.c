/* fuzz_config.c — exp_config_load on arbitrary YAML. The scratch directory holds the files
 * a config may name (labels.csv, dicom/, weights.safetensors) so that inputs get past the
 * path checks into the rest of the validation; the resolved config is written out too. */
#include "experiments/config/config.h"
#include "fuzz_common.h"

static void setup_files(void)
{
    static int done;
    if (done) return;
    done = 1;
    static const char labels[] = "patient_id,label\nP1,malignant\nP2,benign\n";
    fuzz_file("labels.csv", (const uint8_t *)labels, sizeof labels - 1);
    const char *d = fuzz_path("dicom");
    if (d) mkdir(d, 0700);
    fuzz_file("weights.safetensors", (const uint8_t *)"", 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup_files();
    const char *path = fuzz_file("c.yaml", data, size);
    if (!path) return 0;
    exp_config *cfg = NULL;
    wb_error err;
    if (exp_config_load(path, NULL, 0, &cfg, &err) == 0) {
        FILE *f = fopen("/dev/null", "w");
        if (f) {
            exp_config_write_resolved(cfg, f);
            fclose(f);
        }
        const exp_settings *s = exp_config_get(cfg);
        for (size_t v = 0; v < s->n_variants; v++) /* the view's arrays are readable */
            if (s->variants[v].n_lr_scale) (void)s->variants[v].lr_scale[s->variants[v].n_lr_scale - 1].stage[0];
        exp_config_free(cfg);
    }
    return 0;
}
