/* test_config_view.c — the typed view of a loaded config (exp_config_get): values set in the
 * file, values set by --set, per-variant keys against their defaults, a sweep expanded into
 * its variants, and the defaults of a minimal config. argv[1]: a scratch directory. */
#include "experiments/config/config.h"

#include <stdlib.h>
#include <sys/stat.h>

#include "../wb_test.h"

static char dir[4096];

static void write_file(const char *name, const char *text)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL, "cannot write %s", p);
    if (!f) return;
    fputs(text, f);
    fclose(f);
}

static exp_config *load(const char *name, const char *const *sets, size_t n_sets)
{
    char p[4200];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    exp_config *cfg = NULL;
    wb_error err;
    wb_error_clear(&err);
    if (exp_config_load(p, sets, n_sets, &cfg, &err) != 0) {
        CHECK(0, "%s does not load: %s", name, err.msg);
        return NULL;
    }
    return cfg;
}

static const char full[] =
    "name: view\n"
    "seed: 7\n"
    "threads: 3\n"
    "data:\n"
    "  dicom_dir: dicom\n"
    "  labels: labels.csv\n"
    "  label_column: grade\n"
    "  classes: [normal, benign, malignant]\n"
    "  on_error: fail\n"
    "  output_paths: none\n"
    "preprocess:\n"
    "  height: 64\n"
    "  width: 48\n"
    "  intensity: percentile\n"
    "  percentile_low: 1.5\n"
    "  normalize: zscore\n"
    "  voi: ignore\n"
    "backbone:\n"
    "  arch: resnet20\n"
    "  in_channels: 3\n"
    "variants:\n"
    "  - name: base\n"
    "    type: baseline\n"
    "    features: [glcm, shape]\n"
    "    C: 0.5\n"
    "  - name: ft\n"
    "    type: backbone\n"
    "    unfreeze: [layer3, head]\n"
    "    bn: train\n"
    "    bn_affine: false\n"
    "    lr_scale: {layer3: 0.1, head: 2}\n"
    "    head_init: random\n"
    "    probe_C: [0.1, 10]\n"
    "  - name: d\n"
    "    type: backbone\n"
    "    sweep: unfreeze\n"
    "    sweep_stages: [layer2, layer3]\n"
    "  - name: all\n"
    "    type: backbone\n"
    "    unfreeze: all\n"
    "train:\n"
    "  lr: 0.05\n"
    "  optimizer: adamw\n"
    "  schedule: step\n"
    "  augment:\n"
    "    flip: true\n"
    "    rotate_deg: 10\n"
    "metrics:\n"
    "  reference: ft\n"
    "  threshold: specificity\n"
    "  breast_aggregate: max\n"
    "report:\n"
    "  formats: [md, csv]\n"
    "  title: A title\n";

static void check_full(void)
{
    const char *sets[] = {"cv.folds=3", "variants[0].C=2", "train.augment.scale=0.25"};
    exp_config *cfg = load("full.yaml", sets, 3);
    if (!cfg) return;
    const exp_settings *s = exp_config_get(cfg);
    CHECK_STR(s->name, "view", "name");
    CHECK_EQ_INT(s->seed, 7, "seed");
    CHECK_EQ_INT(s->threads, 3, "threads");
    CHECK(strstr(s->data.labels, "/labels.csv") && s->data.labels[0] == '/', "data.labels resolved: %s", s->data.labels);
    CHECK_STR(s->data.label_column, "grade", "data.label_column");
    CHECK_STR(s->data.file_column, "file", "data.file_column default");
    CHECK_STR(s->data.group_column, "patient_id", "data.group_column default");
    CHECK_EQ_INT(s->data.n_classes, 3, "data.classes");
    if (s->data.n_classes == 3) {
        CHECK_STR(s->data.classes[0], "normal", "class 0");
        CHECK_STR(s->data.classes[2], "malignant", "class 2");
    }
    CHECK_EQ_INT(s->data.on_error, EXP_ON_ERROR_FAIL, "data.on_error");
    CHECK_EQ_INT(s->data.output_paths, EXP_OUTPUT_PATHS_NONE, "data.output_paths");
    CHECK_EQ_INT(s->data.task, EXP_TASK_IMAGE, "data.task default");
    CHECK_CLOSE(s->data.patch.size, 64, 0, "data.patch.size default");
    CHECK_EQ_INT(s->preprocess.height, 64, "preprocess.height");
    CHECK_EQ_INT(s->preprocess.width, 48, "preprocess.width");
    CHECK_EQ_INT(s->preprocess.margin, 8, "preprocess.margin default");
    CHECK_EQ_INT(s->preprocess.intensity, EXP_INTENSITY_PERCENTILE, "preprocess.intensity");
    CHECK_CLOSE(s->preprocess.percentile_low, 1.5, 0, "preprocess.percentile_low");
    CHECK_CLOSE(s->preprocess.percentile_high, 99.5, 0, "preprocess.percentile_high default");
    CHECK_EQ_INT(s->preprocess.normalize, EXP_NORMALIZE_ZSCORE, "preprocess.normalize");
    CHECK_STR(exp_normalize_name(s->preprocess.normalize), "zscore", "normalize name");
    CHECK_EQ_INT(s->preprocess.voi, EXP_VOI_IGNORE, "preprocess.voi");
    CHECK_STR(s->preprocess.cache_dir, "", "preprocess.cache_dir default");
    CHECK_STR(s->backbone.arch, "resnet20", "backbone.arch");
    CHECK_STR(s->backbone.weights, "", "backbone.weights default");
    CHECK_EQ_INT(s->backbone.in_channels, 3, "backbone.in_channels");

    /* variants: base, ft, d_0, d_1, d_2 (the sweep in its place), all */
    CHECK_EQ_INT(s->n_variants, 6, "variants after the sweep");
    if (s->n_variants == 6) {
        const exp_settings_variant *b = &s->variants[0], *ft = &s->variants[1], *all = &s->variants[5];
        CHECK_STR(b->name, "base", "variants[0].name");
        CHECK_EQ_INT(b->type, EXP_VARIANT_BASELINE, "variants[0].type");
        CHECK_STR(exp_variant_type_name(b->type), "baseline", "type name");
        CHECK_EQ_INT(b->features, EXP_FEATURES_GLCM | EXP_FEATURES_SHAPE, "variants[0].features");
        CHECK_CLOSE(b->C, 2, 0, "variants[0].C from --set");
        CHECK_STR(ft->name, "ft", "variants[1].name");
        CHECK_EQ_INT(ft->type, EXP_VARIANT_BACKBONE, "variants[1].type");
        CHECK_EQ_INT(ft->unfreeze, EXP_UNFREEZE_LIST, "variants[1].unfreeze");
        CHECK_EQ_INT(ft->n_unfreeze_stages, 2, "variants[1].unfreeze stages");
        if (ft->n_unfreeze_stages == 2) {
            CHECK_STR(ft->unfreeze_stages[0], "layer3", "unfreeze[0]");
            CHECK_STR(ft->unfreeze_stages[1], "head", "unfreeze[1]");
        }
        CHECK_EQ_INT(ft->bn, EXP_BN_TRAIN, "variants[1].bn");
        CHECK_EQ_INT(ft->bn_affine, 0, "variants[1].bn_affine");
        CHECK_EQ_INT(ft->head_init, EXP_HEAD_INIT_RANDOM, "variants[1].head_init");
        CHECK_EQ_INT(ft->n_lr_scale, 2, "variants[1].lr_scale");
        if (ft->n_lr_scale == 2) {
            CHECK_STR(ft->lr_scale[0].stage, "layer3", "lr_scale[0].stage");
            CHECK_CLOSE(ft->lr_scale[0].scale, 0.1, 0, "lr_scale[0].scale");
            CHECK_STR(ft->lr_scale[1].stage, "head", "lr_scale[1].stage");
            CHECK_CLOSE(ft->lr_scale[1].scale, 2, 0, "lr_scale[1].scale");
        }
        CHECK_EQ_INT(ft->n_probe_C, 2, "variants[1].probe_C");
        if (ft->n_probe_C == 2) {
            CHECK_CLOSE(ft->probe_C[0], 0.1, 0, "probe_C[0]");
            CHECK_CLOSE(ft->probe_C[1], 10, 0, "probe_C[1]");
        }
        CHECK_STR(ft->sweep_group, "", "variants[1].sweep_group unset");
        static const char *const names[] = {"d_0", "d_1", "d_2"};
        for (int k = 0; k < 3; k++) {
            const exp_settings_variant *d = &s->variants[2 + k];
            CHECK_STR(d->name, names[k], "swept name");
            CHECK_EQ_INT(d->type, EXP_VARIANT_BACKBONE, "swept type");
            CHECK_STR(d->sweep_group, "d", "swept sweep_group");
            CHECK_EQ_INT(d->unfreeze, k == 0 ? EXP_UNFREEZE_NONE : EXP_UNFREEZE_LIST, "swept unfreeze");
            CHECK_EQ_INT(d->n_unfreeze_stages, k, "swept stages");
            /* the variant's defaults */
            CHECK_EQ_INT(d->bn, EXP_BN_FROZEN, "bn default");
            CHECK_EQ_INT(d->bn_affine, 1, "bn_affine default");
            CHECK_EQ_INT(d->head_init, EXP_HEAD_INIT_PROBE, "head_init default");
            CHECK_EQ_INT(d->n_lr_scale, 0, "lr_scale default");
            CHECK_EQ_INT(d->n_probe_C, 13, "probe_C default");
            if (d->n_probe_C == 13) {
                CHECK_CLOSE(d->probe_C[0], 0.0001, 0, "probe_C default [0]");
                CHECK_CLOSE(d->probe_C[12], 100, 0, "probe_C default [12]");
            }
        }
        if (s->variants[3].n_unfreeze_stages == 1) CHECK_STR(s->variants[3].unfreeze_stages[0], "layer3", "d_1 stage");
        if (s->variants[4].n_unfreeze_stages == 2) {
            CHECK_STR(s->variants[4].unfreeze_stages[0], "layer2", "d_2 stage 0");
            CHECK_STR(s->variants[4].unfreeze_stages[1], "layer3", "d_2 stage 1");
        }
        CHECK_STR(all->name, "all", "variants[5].name");
        CHECK_EQ_INT(all->unfreeze, EXP_UNFREEZE_ALL, "variants[5].unfreeze");
        CHECK_EQ_INT(all->n_unfreeze_stages, 0, "variants[5] stages");
    }
    CHECK_CLOSE(s->train.lr, 0.05, 0, "train.lr");
    CHECK_EQ_INT(s->train.optimizer, EXP_OPTIMIZER_ADAMW, "train.optimizer");
    CHECK_EQ_INT(s->train.schedule, EXP_SCHEDULE_STEP, "train.schedule");
    CHECK_EQ_INT(s->train.epochs, 10, "train.epochs default");
    CHECK_EQ_INT(s->train.batch_size, 16, "train.batch_size default");
    CHECK_CLOSE(s->train.momentum, 0.9, 0, "train.momentum default");
    CHECK_CLOSE(s->train.weight_decay, 0.0001, 0, "train.weight_decay default");
    CHECK_EQ_INT(s->train.class_weight, EXP_CLASS_WEIGHT_BALANCED, "train.class_weight default");
    CHECK_EQ_INT(s->train.augment.flip, 1, "train.augment.flip");
    CHECK_CLOSE(s->train.augment.rotate_deg, 10, 0, "train.augment.rotate_deg");
    CHECK_CLOSE(s->train.augment.scale, 0.25, 0, "train.augment.scale from --set");
    CHECK_CLOSE(s->train.augment.intensity, 0, 0, "train.augment.intensity default");
    CHECK_CLOSE(s->train.val_fraction, 0.2, 0, "train.val_fraction default");
    CHECK_EQ_INT(s->train.patience, 3, "train.patience default");
    CHECK_EQ_INT(s->train.save_weights, 0, "train.save_weights default");
    CHECK_EQ_INT(s->cv.folds, 3, "cv.folds from --set");
    CHECK_EQ_INT(s->cv.repeats, 1, "cv.repeats default");
    CHECK_EQ_INT(s->cv.stratify, 1, "cv.stratify default");
    CHECK_EQ_INT(s->metrics.threshold, EXP_THRESHOLD_SPECIFICITY, "metrics.threshold");
    CHECK_STR(exp_threshold_name(s->metrics.threshold), "specificity", "threshold name");
    CHECK_EQ_INT(s->metrics.breast_aggregate, EXP_AGGREGATE_MAX, "metrics.breast_aggregate");
    CHECK_CLOSE(s->metrics.specificity, 0.9, 0, "metrics.specificity default");
    CHECK_EQ_INT(s->metrics.levels, EXP_LEVEL_IMAGE | EXP_LEVEL_BREAST, "metrics.levels default");
    CHECK_STR(s->metrics.reference, "ft", "metrics.reference");
    CHECK_EQ_INT(s->metrics.reference_index, 1, "metrics.reference index");
    CHECK_EQ_INT(s->report.formats, EXP_REPORT_MD | EXP_REPORT_CSV, "report.formats");
    CHECK_STR(s->report.title, "A title", "report.title");
    const char *file;
    int line, col;
    CHECK_EQ_INT(exp_config_where(cfg, "cv.folds", &file, &line, &col), 1, "cv.folds set");
    CHECK_STR(file, "--set", "cv.folds set by --set");
    CHECK_EQ_INT(exp_config_where(cfg, "preprocess.height", &file, &line, &col), 1, "preprocess.height set");
    CHECK_EQ_INT(line, 12, "preprocess.height line");
    CHECK_EQ_INT(col, 11, "preprocess.height column");
    CHECK_EQ_INT(exp_config_where(cfg, "preprocess.margin", &file, &line, &col), 0, "preprocess.margin is a default");
    exp_config_free(cfg);
}

/* A minimal patch config: the box, the patch defaults, binary labels, the default reference. */
static const char minimal[] =
    "name: m\n"
    "data:\n"
    "  dicom_dir: dicom\n"
    "  labels: labels.csv\n"
    "  task: patch\n"
    "  patch:\n"
    "    box: {cx: X, cy: Y, r: RADIUS, y_origin: bottom}\n"
    "    unit: mm\n"
    "    stride: 12\n"
    "variants:\n"
    "  - {name: first, type: backbone}\n"
    "  - {name: baseline, type: baseline}\n";

static void check_minimal(void)
{
    exp_config *cfg = load("minimal.yaml", NULL, 0);
    if (!cfg) return;
    const exp_settings *s = exp_config_get(cfg);
    CHECK_EQ_INT(s->seed, 0, "seed default");
    CHECK_EQ_INT(s->threads, 2, "threads default");
    CHECK_EQ_INT(s->data.n_classes, 0, "binary labels");
    CHECK_STR(s->data.positive, "malignant", "data.positive default");
    CHECK_EQ_INT(s->data.task, EXP_TASK_PATCH, "data.task");
    const exp_settings_patch *p = &s->data.patch;
    CHECK_EQ_INT(p->box.centre, 1, "box centre form");
    CHECK(p->box.cx && !strcmp(p->box.cx, "X"), "box cx: %s", p->box.cx ? p->box.cx : "(null)");
    CHECK(p->box.r && !strcmp(p->box.r, "RADIUS"), "box r: %s", p->box.r ? p->box.r : "(null)");
    CHECK(p->box.x == NULL && p->box.w == NULL, "no corner columns");
    CHECK_EQ_INT(p->box.y_bottom, 1, "box y_origin");
    CHECK_EQ_INT(p->unit, EXP_PATCH_UNIT_MM, "data.patch.unit");
    CHECK_CLOSE(p->stride, 12, 0, "data.patch.stride");
    CHECK_CLOSE(p->size, 64, 0, "data.patch.size default");
    CHECK_CLOSE(p->box_margin, 0.1, 0, "data.patch.box_margin default");
    CHECK_CLOSE(p->min_tissue, 0.5, 0, "data.patch.min_tissue default");
    CHECK_EQ_INT(p->background, 2, "data.patch.background default");
    CHECK_EQ_INT(p->whole_image, 1, "data.patch.whole_image default");
    CHECK_EQ_INT(s->preprocess.height, 224, "preprocess.height default");
    CHECK_EQ_INT(s->preprocess.normalize, EXP_NORMALIZE_AUTO, "preprocess.normalize default");
    CHECK_STR(s->backbone.arch, "resnet18", "backbone.arch default");
    CHECK_EQ_INT(s->n_variants, 2, "variants");
    if (s->n_variants == 2) {
        CHECK_EQ_INT(s->variants[0].unfreeze, EXP_UNFREEZE_NONE, "unfreeze default");
        CHECK_EQ_INT(s->variants[1].features, EXP_FEATURES_FIRST_ORDER | EXP_FEATURES_GLCM | EXP_FEATURES_SHAPE,
                     "features default");
        CHECK_CLOSE(s->variants[1].C, 1.0, 0, "C default");
    }
    CHECK_STR(s->metrics.reference, "baseline", "reference: the variant named baseline");
    CHECK_EQ_INT(s->metrics.reference_index, 1, "reference index");
    CHECK_EQ_INT(s->report.formats, EXP_REPORT_HTML | EXP_REPORT_MD | EXP_REPORT_CSV | EXP_REPORT_TEX, "report.formats default");
    CHECK_STR(s->report.title, "", "report.title default");
    exp_config_free(cfg);
}

/* data.filter and a fixed split: the typed view, their defaults, and the resolved config read
 * back to the same values (a resumed run reads it). */
static const char split_cfg[] =
    "name: split\n"
    "data:\n"
    "  dicom_dir: dicom\n"
    "  labels: labels.csv\n"
    "  filter:\n"
    "    view: [CC, MLO]\n"
    "    site_id: 1\n"
    "    \"odd: name\": [\"a, b\", \"\"]\n"
    "backbone:\n"
    "  arch: resnet20\n"
    "variants:\n"
    "  - name: baseline\n"
    "    type: baseline\n"
    "cv:\n"
    "  split_column: split\n"
    "  split_test: [test, holdout]\n"
    "  split_overlap: drop_train\n";

static void check_split_view(const exp_settings *s, const char *what)
{
    fprintf(stderr, "config_view: the split config as %s\n", what); /* names the phase of a failure below */
    CHECK_EQ_INT(s->data.n_filters, 3, "filters");
    if (s->data.n_filters == 3) {
        const exp_settings_filter *f = s->data.filters;
        CHECK_STR(f[0].column, "view", "filter 0 column");
        CHECK_EQ_INT(f[0].n_values, 2, "filter 0 values");
        if (f[0].n_values == 2) {
            CHECK_STR(f[0].values[0], "CC", "filter 0 value 0");
            CHECK_STR(f[0].values[1], "MLO", "filter 0 value 1");
        }
        CHECK_STR(f[1].column, "site_id", "filter 1 column");
        CHECK_EQ_INT(f[1].n_values, 1, "a single value is a list of one");
        if (f[1].n_values == 1) CHECK_STR(f[1].values[0], "1", "filter 1 value");
        CHECK_STR(f[2].column, "odd: name", "filter 2 column");
        CHECK_EQ_INT(f[2].n_values, 2, "filter 2 values");
        if (f[2].n_values == 2) {
            CHECK_STR(f[2].values[0], "a, b", "filter 2 value 0");
            CHECK_STR(f[2].values[1], "", "filter 2 value 1 (empty cell)");
        }
    }
    CHECK_STR(s->cv.split_column, "split", "split_column");
    CHECK_EQ_INT(s->cv.folds, 1, "a fixed split is one fold");
    CHECK_EQ_INT(s->cv.repeats, 1, "one repeat");
    CHECK_EQ_INT(s->cv.n_split_train, 2, "split_train default");
    if (s->cv.n_split_train == 2) {
        CHECK_STR(s->cv.split_train[0], "train", "split_train[0]");
        CHECK_STR(s->cv.split_train[1], "training", "split_train[1]");
    }
    CHECK_EQ_INT(s->cv.n_split_test, 2, "split_test");
    if (s->cv.n_split_test == 2) CHECK_STR(s->cv.split_test[1], "holdout", "split_test[1]");
    CHECK_EQ_INT(s->cv.split_overlap, EXP_SPLIT_OVERLAP_DROP_TRAIN, "split_overlap");
}

static void check_split(void)
{
    exp_config *cfg = load("split.yaml", NULL, 0);
    if (!cfg) return;
    const exp_settings *s = exp_config_get(cfg);
    check_split_view(s, "file");
    const char *file;
    int line, col;
    exp_config_where(cfg, "cv.split_column", &file, &line, &col);
    CHECK(line == 15 && col == 17, "cv.split_column at 15:17, got %d:%d", line, col);
    CHECK(s->data.n_filters == 3 && s->data.filters[1].line == 7 && s->data.filters[1].col == 5,
          "filter site_id at 7:5");
    char p[4200];
    snprintf(p, sizeof p, "%s/split-resolved.yaml", dir);
    FILE *f = fopen(p, "w");
    CHECK(f != NULL, "cannot write %s", p);
    if (f) {
        exp_config_write_resolved(cfg, f);
        fclose(f);
    }
    exp_config_free(cfg);
    cfg = load("split-resolved.yaml", NULL, 0);
    if (cfg) check_split_view(exp_config_get(cfg), "resolved");
    exp_config_free(cfg);
    /* without a split column: cross-validation, no filter */
    cfg = load("minimal.yaml", NULL, 0);
    if (cfg) {
        CHECK_STR(exp_config_get(cfg)->cv.split_column, "", "split_column default");
        CHECK_EQ_INT(exp_config_get(cfg)->cv.folds, 5, "folds default");
        CHECK_EQ_INT(exp_config_get(cfg)->data.n_filters, 0, "no filter by default");
    }
    exp_config_free(cfg);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_exp_config_view SCRATCH_DIR\n");
        return 2;
    }
    snprintf(dir, sizeof dir, "%s", argv[1]);
    mkdir(dir, 0700);
    char d[4200];
    snprintf(d, sizeof d, "%s/dicom", dir);
    mkdir(d, 0700);
    write_file("labels.csv", "file,grade,patient_id\n");
    write_file("full.yaml", full);
    write_file("minimal.yaml", minimal);
    write_file("split.yaml", split_cfg);
    check_full();
    check_minimal();
    check_split();
    return wb_test_finish("config_view");
}
