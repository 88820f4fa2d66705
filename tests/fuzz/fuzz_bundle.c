/* fuzz_bundle.c — what `workbench predict` reads of a bundle before it loads a network: the
 * JSON parser (io_json) and the manifest's checks (exp_bundle_check: keys, the listed files
 * against their SHA-256, the files a bundle must list, thresholds.csv against the manifest's
 * threshold), and the reference baseline's JSON reader (exp_baseline_model_read) on the same
 * bytes. A bundle comes from another machine: all of it is untrusted.
 *
 * Input: manifest.json, optionally followed by a line "--8<--" and thresholds.csv (else a
 * fixed two-fold one). The other files of the scratch bundle are fixed (k_files below); the
 * corpus' manifests list them with their real SHA-256, so inputs reach the cross-checks. */
#include "experiments/bundle.h"
#include "experiments/model/baseline.h"
#include "fuzz_common.h"

static const char *const k_files[][2] = {
    {"config.yaml", "seed: 1\n"},
    {"models/f0.safetensors", "fold 0\n"},
    {"models/f1.safetensors", "fold 1\n"},
    {"reference/f0.json", "{}\n"},
    {"reference/f1.json", "{}\n"},
    {"reference/thresholds.csv", "fold,threshold\n0,0.25\n1,0.5\n"},
    {"pretrained/w.th", "weights\n"},
};
static const char *const k_dirs[] = {"models", "reference", "pretrained"};
static const char k_thresholds[] = "fold,threshold\n0,0.25\n1,0.75\n";
static char dir_[512];

static void remove_all(void)
{
    char p[1024];
    for (size_t i = 0; i < sizeof k_files / sizeof *k_files; i++) {
        snprintf(p, sizeof p, "%s/%s", dir_, k_files[i][0]);
        remove(p);
    }
    for (size_t i = 0; i < sizeof k_dirs / sizeof *k_dirs; i++) {
        snprintf(p, sizeof p, "%s/%s", dir_, k_dirs[i]);
        rmdir(p);
    }
    snprintf(p, sizeof p, "%s/manifest.json", dir_);
    remove(p);
    snprintf(p, sizeof p, "%s/thresholds.csv", dir_);
    remove(p);
}

static int put(const char *name, const void *data, size_t size)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir_, name);
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, size, f) == size;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

static int make_bundle(void)
{
    const char *d = fuzz_path("bundle");
    if (!d) return -1;
    snprintf(dir_, sizeof dir_, "%s", d);
    if (mkdir(dir_, 0700) != 0) return -1;
    atexit(remove_all); /* runs before fuzz_common's cleanup removes bundle/ */
    char p[1024];
    for (size_t i = 0; i < sizeof k_dirs / sizeof *k_dirs; i++) {
        snprintf(p, sizeof p, "%s/%s", dir_, k_dirs[i]);
        if (mkdir(p, 0700) != 0) return -1;
    }
    for (size_t i = 0; i < sizeof k_files / sizeof *k_files; i++)
        if (put(k_files[i][0], k_files[i][1], strlen(k_files[i][1])) != 0) return -1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready = -2;
    if (ready == -2) ready = make_bundle();
    if (ready != 0) return 0;
    static const char sep[] = "\n--8<--\n";
    const uint8_t *cut = NULL;
    for (size_t i = 0; i + sizeof sep - 1 <= size && !cut; i++)
        if (!memcmp(data + i, sep, sizeof sep - 1)) cut = data + i;
    const size_t n_manifest = cut ? (size_t)(cut - data) : size;
    if (put("manifest.json", data, n_manifest) != 0) return 0;
    if (cut) {
        const uint8_t *t = cut + sizeof sep - 1;
        if (put("thresholds.csv", t, size - (size_t)(t - data)) != 0) return 0;
    } else if (put("thresholds.csv", k_thresholds, sizeof k_thresholds - 1) != 0) {
        return 0;
    }
    exp_bundle_info bi;
    long ch = 0, h = 0, w = 0;
    wb_error err;
    if (exp_bundle_check(dir_, &bi, &ch, &h, &w, &err) == 0) {
        volatile long sink = ch + h + w + bi.folds;
        (void)sink;
    }
    char mpath[1100];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir_);
    exp_baseline_model m;
    exp_baseline_model_init(&m);
    if (exp_baseline_model_read(mpath, &m, &err) == 0) {
        volatile size_t sink = m.bc.n_features;
        (void)sink;
    }
    exp_baseline_model_free(&m);
    return 0;
}
