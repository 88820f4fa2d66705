/* test_svg.c — svg_line leaves out only the vertices that do not change the drawn line.
 *
 * For each case the full vertex list (every point as %.1f prints it, as the line was written
 * before it was thinned) is computed here from the plot's own mapping, read back from the
 * output, and checked: the written vertices are a subsequence of the full list that keeps its
 * first and last vertex, and every full vertex lies on the written polyline, on the segment
 * between the written vertices that enclose it in order (so the line covers the same pixels
 * and no segment is drawn longer). Also: a staircase of 10,000 steps comes out in at most a
 * vertex per tenth of a pixel of its path, a reversal on one axis keeps its turning point, and
 * a non-finite point still breaks the line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "experiments/report/svg.h"
#include "wb_test.h"

typedef struct pt {
    double x, y;
} pt;

/* The vertices of every polyline in s, in order (polylines separated by a NaN vertex). */
static size_t parse(const char *s, pt *out, size_t max)
{
    size_t n = 0;
    for (const char *p = strstr(s, "points=\""); p; p = strstr(p, "points=\"")) {
        p += 8;
        if (n && n < max) out[n++] = (pt){NAN, NAN};
        while (*p && *p != '"' && n < max) {
            char *e;
            double x = strtod(p, &e);
            if (*e != ',') break;
            double y = strtod(e + 1, &e);
            out[n++] = (pt){x, y};
            p = e;
            while (*p == ' ') p++;
        }
    }
    return n;
}

static double tenth(double v)
{
    char t[64];
    snprintf(t, sizeof t, "%.1f", v);
    return strtod(t, NULL);
}

/* q on the segment a-b (axis-aligned or a single point, as thinning only removes those). */
static int on_segment(pt a, pt b, pt q)
{
    if (a.x == b.x && a.y == b.y) return q.x == a.x && q.y == a.y;
    const int inx = (fmin(a.x, b.x) <= q.x && q.x <= fmax(a.x, b.x)), iny = (fmin(a.y, b.y) <= q.y && q.y <= fmax(a.y, b.y));
    if (!inx || !iny) return 0;
    /* collinear: cross product zero (vertices are on a 0.1 grid: exact up to rounding) */
    return fabs((b.x - a.x) * (q.y - a.y) - (b.y - a.y) * (q.x - a.x)) < 1e-6;
}

/* Draws x, y through svg_line and checks the written vertices against the full list;
 * returns how many were written. */
static size_t check_line(const char *what, const svg_plot *p, const double *x, const double *y, size_t n)
{
    sbuf b = {0};
    svg_line(&b, p, x, y, n, "#000000", 2, NULL);
    CHECK(!b.oom && b.n > 0, "%s: no output", what);
    pt *got = malloc((n + 8) * sizeof *got), *full = malloc((n + 8) * sizeof *full);
    size_t ng = parse(b.s ? b.s : "", got, n + 8), nf = 0;
    /* the full list, as the plot maps the points (read back from a one-point line each) */
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i])) {
            if (nf && !isnan(full[nf - 1].x)) full[nf++] = (pt){NAN, NAN};
            continue;
        }
        sbuf one = {0};
        svg_line(&one, p, x + i, y + i, 1, "#000000", 2, NULL);
        pt q;
        CHECK(parse(one.s, &q, 1) == 1, "%s: point %zu", what, i);
        full[nf++] = (pt){tenth(q.x), tenth(q.y)};
        sb_free(&one);
    }
    while (nf && isnan(full[nf - 1].x)) nf--;
    /* subsequence, first and last of each polyline kept, every full vertex on the line */
    size_t g = 0;
    int ok = 1;
    for (size_t f = 0; f < nf && ok; f++) {
        if (isnan(full[f].x)) {
            ok = g < ng && isnan(got[g].x);
            CHECK(ok, "%s: the break after full vertex %zu is missing", what, f);
            g++;
            continue;
        }
        const int first = f == 0 || isnan(full[f - 1].x), last = f + 1 == nf || isnan(full[f + 1].x);
        if (g < ng && !isnan(got[g].x) && got[g].x == full[f].x && got[g].y == full[f].y) {
            g++; /* written */
            continue;
        }
        ok = !first && !last && g > 0 && g < ng && !isnan(got[g - 1].x) && !isnan(got[g].x) &&
             on_segment(got[g - 1], got[g], full[f]);
        CHECK(ok, "%s: full vertex %zu (%.1f,%.1f) left out but not on the line drawn (%s)", what, f, full[f].x,
              full[f].y, first || last ? "an end" : "off the segment");
    }
    CHECK(!ok || g == ng, "%s: %zu written vertices, %zu matched", what, ng, g);
    free(got);
    free(full);
    sb_free(&b);
    return ng;
}

int main(void)
{
    svg_plot p = {.w = 400, .h = 320, .x0 = 0, .x1 = 1, .y0 = 0, .y1 = 1};
    /* an ROC staircase of 10,000 steps (distinct scores, alternating classes in runs) */
    enum { N = 20001 };
    double *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    double cx = 0, cy = 0;
    unsigned r = 12345;
    x[0] = y[0] = 0;
    for (int i = 1; i < N; i++) {
        r = r * 1103515245u + 12345u;
        if (i % 2) cy = fmin(1, cy + (double)((r >> 16) % 7) / 30000.0);
        else cx = fmin(1, cx + (double)((r >> 16) % 7) / 30000.0);
        x[i] = cx, y[i] = cy;
    }
    x[N - 1] = y[N - 1] = 1;
    size_t ng = check_line("staircase", &p, x, y, N);
    /* a monotone path of (w + h) pixels: at most a vertex per tenth of a pixel of it, each
     * step two vertices */
    CHECK(ng <= 2 * 10 * (size_t)(p.w + p.h), "staircase: %zu vertices of %d", ng, N);
    CHECK(ng >= 20, "staircase: only %zu vertices", ng);

    /* a reversal along one axis keeps its turning point; repeated points collapse */
    double rx[] = {0, 0, 0, 0.5, 0.5, 0.5, 1}, ry[] = {0, 0.5, 0.3, 0.3, 0.3, 0.3, 0.3};
    CHECK_EQ_INT(check_line("reversal", &p, rx, ry, 7), 4, "reversal: (0,0) (0,.5) (0,.3) (1,.3): vertices");
    /* a non-finite point breaks the line into two polylines, their ends kept */
    double bx[] = {0, 0.1, 0.2, NAN, 0.4, 0.5, 0.6}, by[] = {0, 0, 0, 0, 0, 0, 0};
    size_t nb = check_line("break", &p, bx, by, 7);
    CHECK_EQ_INT(nb, 5, "break: the two horizontal runs as 2 + 2 vertices and the break");
    /* diagonal points are never left out */
    double dx[] = {0, 0.1, 0.2, 0.3}, dy[] = {0, 0.1, 0.2, 0.3};
    CHECK_EQ_INT(check_line("diagonal", &p, dx, dy, 4), 4, "diagonal vertices");
    free(x);
    free(y);
    return wb_test_finish("report.svg");
}
