/* fuzz_import.c — exp_import_run (`workbench import`) on arbitrary annotation files: the
 * dataset-specific readers on top of the CSV reader (mini-MIAS's Info.txt table, the CBIS-DDSM
 * sheets, VinDr's two sheets, RSNA's train.csv, INbreast.csv and one AllXML file, CMMD's
 * clinical table, EMBED's metadata and clinical tables), then the labels CSV they write.
 *
 * Input: byte 0 picks the format, byte 1 the options; the rest is the dataset's first file
 * and, after a line "--8<--", its second one (where the format has two). The files go into a
 * scratch source directory under their real names; no image exists, so every row goes down
 * the "not found" path, or with keep_missing (most inputs) into the labels CSV. */
#include "experiments/data/import.h"
#include "fuzz_common.h"

static const char *const k_formats[7] = {"mini-mias", "cbis-ddsm", "vindr", "rsna", "inbreast", "cmmd", "embed"};
static const char *const k_files[7][2] = {
    {"Info.txt", NULL},
    {"mass_case_description_train_set.csv", "calc_case_description_test_set.csv"},
    {"breast-level_annotations.csv", "finding_annotations.csv"},
    {"train.csv", NULL},
    {"INbreast.csv", "AllXML/22678670.xml"},
    {"CMMD_clinicaldata_revision.csv", NULL},
    {"EMBED_OpenData_metadata.csv", "EMBED_OpenData_clinical.csv"},
};
static char src_[512];

static void remove_all(void)
{
    char p[1024];
    for (int f = 0; f < 7; f++)
        for (int k = 0; k < 2; k++)
            if (k_files[f][k]) {
                snprintf(p, sizeof p, "%s/%s", src_, k_files[f][k]);
                remove(p);
            }
    snprintf(p, sizeof p, "%s/AllXML", src_);
    rmdir(p);
}

static int put(const char *name, const uint8_t *data, size_t size)
{
    char p[1024];
    if (!strncmp(name, "AllXML/", 7)) {
        snprintf(p, sizeof p, "%s/AllXML", src_);
        mkdir(p, 0700);
    }
    snprintf(p, sizeof p, "%s/%s", src_, name);
    FILE *f = fopen(p, "wb");
    if (!f) return -1;
    int ok = fwrite(data, 1, size, f) == size;
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) return 0;
    if (!src_[0]) {
        const char *d = fuzz_path("src");
        if (!d) return 0;
        snprintf(src_, sizeof src_, "%s", d);
        if (mkdir(src_, 0700) != 0) return 0;
        atexit(remove_all); /* runs before fuzz_common's cleanup removes src/ */
    }
    remove_all();
    const int fmt = data[0] % 7, opt = data[1];
    data += 2, size -= 2;
    static const char sep[] = "\n--8<--\n";
    size_t first = size, second = size;
    for (size_t i = 0; i + sizeof sep - 1 <= size; i++)
        if (!memcmp(data + i, sep, sizeof sep - 1)) {
            first = i, second = i + sizeof sep - 1;
            break;
        }
    if (put(k_files[fmt][0], data, first) != 0) return 0;
    if (k_files[fmt][1] && second <= size && put(k_files[fmt][1], data + second, size - second) != 0) return 0;

    exp_import_options o;
    exp_import_options_default(&o);
    o.format = k_formats[fmt];
    o.source = src_;
    o.out = fuzz_path("labels.csv");
    if (!o.out) return 0;
    o.birads_min = 1 + (opt & 7) % 5;
    o.bwc_normal = (opt >> 3) & 1;
    o.other_breast_normal = (opt >> 4) & 1;
    o.follow_up_days = (opt >> 5) & 1 ? 90 : 0;
    o.keep_missing = !((opt >> 6) & 1);
    o.views = (opt >> 7) & 1 ? "CC,MLO" : NULL;
    exp_import_summary s;
    wb_error err;
    if (exp_import_run(&o, &s, &err) == 0) {
        remove(o.out);
    } else if (!err.msg[0] || access(o.out, F_OK) == 0) {
        abort(); /* every failure says why, and leaves no labels CSV behind */
    }
    return 0;
}
