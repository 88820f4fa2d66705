/* test_unmap.c — a map over the preprocessed image put back on the input image
 * (exp_pre_canvas_to_input, exp_pre_unmap): on synthetic breasts with one small bright spot,
 * the preprocessed image itself, taken as the map, peaks where the spot is in the input, for a
 * left and a right breast (flipped), with and without keep_aspect, at two output sizes and a
 * display grid smaller than the image; points the crop removed get the outside value; the
 * placement matches where exp_pre_run put the image (the canvas' padding rows are empty).
 *
 *     test_unmap */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/data/preprocess.h"
#include "wb_test.h"

/* rows x cols: background 0.02, a half-ellipse breast against the chest wall (left or right
 * edge) of 0.45, and a spot of radius 3 (1.0) at (sy, sx). */
static float *breast(int rows, int cols, int right, int sy, int sx)
{
    float *img = malloc((size_t)rows * cols * sizeof *img);
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++) {
            double dx = (right ? cols - 1 - x : x) / (0.7 * cols), dy = (y - rows / 2.0) / (0.42 * rows);
            float v = dx * dx + dy * dy < 1 ? 0.45f : 0.02f;
            if ((y - sy) * (y - sy) + (x - sx) * (x - sx) <= 9) v = 1.0f;
            img[(size_t)y * cols + x] = v;
        }
    return img;
}

static void one(int rows, int cols, int right, int keep_aspect, int out, int sy, int sx)
{
    float *img = breast(rows, cols, right, sy, sx);
    exp_pre_params p;
    exp_pre_params_default(&p);
    p.out_rows = p.out_cols = out;
    p.keep_aspect = keep_aspect;
    exp_pre_result r;
    wb_error err = {0};
    int rc = exp_pre_run(img, rows, cols, right ? "R" : "L", &p, &r, &err);
    CHECK(rc == 0, "exp_pre_run: %s", err.msg);
    if (rc) {
        free(img);
        return;
    }
    CHECK_EQ_INT(r.flipped, right, "flipped");
    char what[96];
    snprintf(what, sizeof what, "%dx%d %s keep_aspect %d out %d", rows, cols, right ? "R" : "L", keep_aspect, out);
    /* the canvas' brightest pixel, mapped back as a point */
    size_t am = 0;
    for (size_t i = 0; i < (size_t)out * out; i++)
        if (r.image[i] > r.image[am]) am = i;
    double row, col;
    CHECK(exp_pre_canvas_to_input(&p, &r, (double)(am / out), (double)(am % out), &row, &col) == 0,
          "%s: the peak is on the resampled block", what);
    double tol = 1.0 + 0.5 * fmax((double)rows / out, (double)cols / out); /* half an output pixel, and the spot's rim */
    CHECK(fabs(row - sy) <= tol && fabs(col - sx) <= tol, "%s: canvas peak maps to (%.2f, %.2f), spot at (%d, %d)", what,
          row, col, sy, sx);
    /* the whole map back, pixel for pixel and on a display grid of about half the size */
    for (int k = 0; k < 2; k++) {
        int dh = k ? rows / 2 + 1 : rows, dw = k ? cols / 2 + 1 : cols;
        float *back = malloc((size_t)dh * dw * sizeof *back);
        exp_pre_unmap(&p, &r, r.image, rows, cols, dh, dw, -1.0f, back);
        size_t bm = 0, n_out = 0;
        for (size_t i = 0; i < (size_t)dh * dw; i++) {
            if (back[i] > back[bm]) bm = i;
            n_out += back[i] == -1.0f;
        }
        double by = ((double)(bm / dw) + 0.5) * rows / dh - 0.5, bx = ((double)(bm % dw) + 0.5) * cols / dw - 0.5;
        double t2 = tol + (k ? 1.0 : 0.0);
        CHECK(fabs(by - sy) <= t2 && fabs(bx - sx) <= t2, "%s grid %dx%d: the map's peak at (%.1f, %.1f), spot at (%d, %d)",
              what, dh, dw, by, bx, sy, sx);
        /* the crop removes the background beyond the breast's box plus the margin */
        CHECK(n_out > 0, "%s: points outside the crop get the outside value", what);
        /* a point inside the breast far from the spot maps to about the breast's value */
        int ty = rows / 2, tx = right ? cols - 1 - cols / 8 : cols / 8;
        int gy = (int)((ty + 0.5) * dh / rows), gx = (int)((tx + 0.5) * dw / cols);
        CHECK_CLOSE(back[(size_t)gy * dw + gx], 0.45, 0.02, "%s: breast tissue at (%d, %d)", what, ty, tx);
        free(back);
    }
    int top, rr, rc2;
    exp_pre_placement(&p, r.crop_box, &top, &rr, &rc2);
    for (int y = 0; y < out; y++) { /* padding rows are empty, the block's rows are not */
        double s = 0;
        for (int x = 0; x < out; x++) s += r.image[(size_t)y * out + x];
        if (y < top || y >= top + rr) CHECK(s == 0, "%s: row %d is padding", what, y);
    }
    CHECK(rr >= 1 && rc2 >= 1 && top + rr <= out && rc2 <= out, "%s: placement %d %d %d", what, top, rr, rc2);
    exp_pre_result_free(&r);
    free(img);
}

int main(void)
{
    one(300, 200, 0, 1, 64, 150, 60);
    one(300, 200, 1, 1, 64, 140, 150);
    one(300, 200, 1, 0, 64, 110, 170);
    one(200, 260, 0, 1, 96, 90, 50);
    one(200, 260, 1, 1, 32, 120, 220);
    return wb_test_finish("test_unmap");
}
