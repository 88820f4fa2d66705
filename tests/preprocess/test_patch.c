/* test_patch — the frame of an image at its own resolution (exp_pre_frame_run) against
 * exp_pre_run, and the patch helpers of experiments/data/patch.h: squares, windows, summed-area
 * tissue shares. Usage: test_patch */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/data/patch.h"
#include "experiments/data/preprocess.h"
#include "wb_test.h"

enum { ROWS = 120, COLS = 100 };

/* A breast-like image: a bright half-disc against the right edge (so the mass decides a flip)
 * with a ramp and a brighter blob, on a dark, slightly noisy background. */
static void make_image(float *img)
{
    uint32_t s = 12345;
    for (int y = 0; y < ROWS; y++)
        for (int x = 0; x < COLS; x++) {
            s = s * 1664525u + 1013904223u;
            double noise = (double)(s >> 8) / (1 << 24) * 0.02;
            double dx = x - (COLS - 1), dy = y - ROWS / 2.0;
            double v = dx * dx + dy * dy < 70.0 * 70.0 ? 0.4 + 0.3 * (COLS - x) / (double)COLS : 0.02;
            if ((x - 70) * (x - 70) + (y - 50) * (y - 50) < 36) v = 0.95;
            img[(size_t)y * COLS + x] = (float)(v + noise);
        }
}

static void test_frame_vs_pipeline(void)
{
    float *img = malloc(sizeof(float) * ROWS * COLS);
    make_image(img);
    exp_pre_params p;
    exp_pre_params_default(&p);
    /* the output grid is the input grid: exp_pre_run's mask is the frame's mask */
    p.out_rows = ROWS;
    p.out_cols = COLS;
    p.crop = 0;
    p.keep_aspect = 0;
    p.flip = EXP_PRE_FLIP_NONE;
    wb_error err;
    exp_pre_result r;
    exp_pre_frame f;
    CHECK(exp_pre_run(img, ROWS, COLS, NULL, &p, &r, &err) == 0, "exp_pre_run: %s", err.msg);
    CHECK(exp_pre_frame_run(img, ROWS, COLS, NULL, &p, &f, &err) == 0, "frame: %s", err.msg);
    size_t diff = 0, area = 0;
    for (size_t i = 0; i < (size_t)ROWS * COLS; i++) {
        diff += r.mask[i] != f.mask[i];
        area += f.mask[i];
    }
    CHECK_EQ_INT((long)diff, 0L, "frame mask = pipeline mask (pixels differing)");
    CHECK_EQ_INT((long)f.area, (long)area, "frame area");
    CHECK(area > 3000 && area < 9000, "mask area %zu plausible", area);
    CHECK_CLOSE(f.threshold, r.threshold, 0, "threshold");
    CHECK_EQ_INT(f.flipped, 0, "no flip with FLIP_NONE");
    exp_pre_result q;
    exp_pre_result_free(&r);
    exp_pre_frame_free(&f);

    /* with the crop and the mass deciding, both flip (the breast is at the right edge) */
    exp_pre_params_default(&p);
    p.out_rows = 64;
    p.out_cols = 64;
    p.window = EXP_PRE_WINDOW_PERCENTILE;
    CHECK(exp_pre_run(img, ROWS, COLS, NULL, &p, &r, &err) == 0, "exp_pre_run: %s", err.msg);
    CHECK(exp_pre_frame_run(img, ROWS, COLS, NULL, &p, &f, &err) == 0, "frame: %s", err.msg);
    CHECK_EQ_INT(r.flipped, 1, "pipeline flips");
    CHECK_EQ_INT(f.flipped, 1, "frame flips");
    CHECK(f.span > 0 && f.lo > 0.3 && f.lo + f.span < 1.01, "percentile window %g + %g", f.lo, f.span);
    CHECK_EQ_INT(f.box[3], COLS, "mask box reaches the right edge");
    /* a laterality tag decides before the mass */
    exp_pre_frame f2;
    CHECK(exp_pre_frame_run(img, ROWS, COLS, "L", &p, &f2, &err) == 0, "frame L: %s", err.msg);
    CHECK_EQ_INT(f2.flipped, 0, "L: no flip");
    exp_pre_frame_free(&f2);

    /* a square at the input size: windowed, masked and mirrored values exactly */
    const int r0 = 30, c0 = 50, side = 40;
    exp_pre_params_default(&p);
    p.out_rows = side;
    p.out_cols = side;
    p.window = EXP_PRE_WINDOW_PERCENTILE;
    CHECK(exp_patch_make(img, &f, &p, r0, c0, side, &q, &err) == 0, "patch: %s", err.msg);
    size_t bad = 0, inmask = 0;
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            const size_t at = (size_t)(r0 + y) * COLS + (size_t)(c0 + x);
            float v = (img[at] - f.lo) / f.span;
            v = v > 0 ? (v < 1 ? v : 1) : 0;
            if (!f.mask[at]) v = 0;
            const int ox = side - 1 - x; /* mirrored */
            bad += q.image[(size_t)y * side + ox] != v;
            inmask += f.mask[at];
        }
    CHECK_EQ_INT((long)bad, 0L, "identity-size patch = windowed, masked, mirrored square (pixels differing)");
    CHECK_CLOSE(q.features[EXP_PRE_F_SHAPE_AREA_FRACTION], (double)inmask / (side * side), 1e-12, "patch breast share");
    CHECK_EQ_INT(q.crop_box[0], r0, "square row");
    CHECK_EQ_INT(q.crop_box[3], c0 + side, "square end column");
    exp_pre_result_free(&q);

    /* resampled to 16x16: exp_pre_resize of that square */
    p.out_rows = 16;
    p.out_cols = 16;
    CHECK(exp_patch_make(img, &f, &p, r0, c0, side, &q, &err) == 0, "patch 16: %s", err.msg);
    float *sq = malloc(sizeof(float) * side * side), *ref = malloc(sizeof(float) * 16 * 16);
    for (int y = 0; y < side; y++)
        for (int x = 0; x < side; x++) {
            const size_t at = (size_t)(r0 + y) * COLS + (size_t)(c0 + x);
            float v = (img[at] - f.lo) / f.span;
            v = v > 0 ? (v < 1 ? v : 1) : 0;
            sq[(size_t)y * side + (side - 1 - x)] = f.mask[at] ? v : 0;
        }
    CHECK(exp_pre_resize(sq, side, side, ref, 16, 16, 1, &err) == 0, "resize: %s", err.msg);
    double md = 0;
    for (int i = 0; i < 256; i++) {
        float v = ref[i] > 0 ? (ref[i] < 1 ? ref[i] : 1) : 0;
        md = fmax(md, fabs((double)q.image[i] - v));
    }
    CHECK_CLOSE(md, 0, 0, "16x16 patch = anti-aliased resize of the square (max difference)");
    exp_pre_result_free(&q);
    /* outside the image: refused */
    CHECK(exp_patch_make(img, &f, &p, ROWS - 10, 0, 20, &q, &err) != 0, "square across the edge refused");
    free(sq);
    free(ref);
    exp_pre_result_free(&r);
    exp_pre_frame_free(&f);
    free(img);
}

static void test_grid_and_tissue(void)
{
    int pos[8];
    CHECK_EQ_INT(exp_patch_grid(10, 4, 3, pos), 3, "grid 10/4/3");
    CHECK(pos[0] == 0 && pos[1] == 3 && pos[2] == 6, "grid 10/4/3: 0 3 6, got %d %d %d", pos[0], pos[1], pos[2]);
    CHECK_EQ_INT(exp_patch_grid(11, 4, 3, pos), 4, "grid 11/4/3");
    CHECK(pos[3] == 7, "grid 11/4/3 ends at the edge: %d", pos[3]);
    CHECK_EQ_INT(exp_patch_grid(4, 4, 2, pos), 1, "grid of one");
    CHECK_EQ_INT(exp_patch_grid(3, 4, 1, NULL), 0, "square larger than the axis");
    /* a 6x5 mask with a 3x2 block of ones at rows 2..4, columns 1..2 */
    uint8_t m[30] = {0};
    for (int y = 2; y < 5; y++)
        for (int x = 1; x < 3; x++) m[y * 5 + x] = 1;
    uint32_t ii[7 * 6];
    exp_patch_integral(m, 6, 5, ii);
    CHECK_CLOSE(exp_patch_tissue(ii, 5, 2, 1, 2), 1.0, 0, "square inside the block");
    CHECK_CLOSE(exp_patch_tissue(ii, 5, 0, 0, 3), 2.0 / 9, 1e-15, "corner square");
    CHECK_CLOSE(exp_patch_tissue(ii, 5, 3, 2, 3), 2.0 / 9, 1e-15, "far square");
    CHECK_CLOSE(exp_patch_tissue(ii, 5, 0, 0, 5), 6.0 / 25, 1e-15, "whole width");
}

int main(void)
{
    test_frame_vs_pipeline();
    test_grid_and_tissue();
    return wb_test_finish("test_patch");
}
