/* svg.c — see svg.h. */
#include "experiments/report/svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { ML = 52, MR = 12, MT = 28, MB = 44 }; /* margins: left, right, top, bottom */

const char *svg_color(size_t i)
{
    static const char *const c[] = {"#000000", "#E69F00", "#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442"};
    return c[i % (sizeof c / sizeof c[0])];
}

static double nice_step(double span, int target)
{
    if (!(span > 0) || !isfinite(span)) return 1;
    double raw = span / target, mag = pow(10, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
}

void svg_nice_range(double lo, double hi, double *out_lo, double *out_hi)
{
    /* non-finite, huge (a diverged loss) or empty ranges get a usable one */
    if (!isfinite(lo) || !isfinite(hi) || !isfinite(hi - lo) || fabs(lo) > 1e12 || fabs(hi) > 1e12) lo = 0, hi = 1;
    if (!(hi > lo)) hi = lo + fmax(1, fabs(lo) * 1e-6);
    double s = nice_step(hi - lo, 5);
    *out_lo = floor(lo / s) * s;
    *out_hi = ceil(hi / s) * s;
}

static double px(const svg_plot *p, double x)
{
    return ML + (x - p->x0) / (p->x1 - p->x0) * (p->w - ML - MR);
}

static double py(const svg_plot *p, double y)
{
    return p->h - MB - (y - p->y0) / (p->y1 - p->y0) * (p->h - MT - MB);
}

/* Tick labels with as many decimals as the step needs. */
static void tick_label(char *buf, size_t n, double v, double step)
{
    int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    if (dec > 6) dec = 6;
    if (fabs(v) < step * 1e-6) v = 0;
    snprintf(buf, n, "%.*f", dec, v);
}

void svg_begin(sbuf *b, const svg_plot *p)
{
    sb_printf(b, "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"plot\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">",
              p->w, p->h, p->w, p->h);
    if (p->title) {
        sb_printf(b, "<title>");
        sb_xml(b, p->title);
        sb_printf(b, "</title><text x=\"%d\" y=\"16\" class=\"pt\">", ML);
        sb_xml(b, p->title);
        sb_printf(b, "</text>");
    }
    /* frame, grid and ticks */
    double x0 = px(p, p->x0), x1 = px(p, p->x1), y0 = py(p, p->y0), y1 = py(p, p->y1);
    sb_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" class=\"frame\"/>", x0, y1, x1 - x0, y0 - y1);
    char lab[32];
    double ys = nice_step(p->y1 - p->y0, 5);
    /* at most 50 ticks, counted: a step too small for the values' magnitude cannot loop */
    for (int t = 0; t <= 50; t++) {
        double v = ceil(p->y0 / ys - 1e-9) * ys + t * ys;
        if (!(v <= p->y1 + ys * 1e-9)) break;
        double y = py(p, v);
        tick_label(lab, sizeof lab, v, ys);
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", x0, y, x1, y);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"end\">%s</text>", x0 - 4, y + 3.5, lab);
    }
    if (p->xcats) {
        for (size_t i = 0; i < p->n_xcats; i++) {
            sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"middle\">", px(p, (double)i), y0 + 14);
            sb_xml(b, p->xcats[i]);
            sb_printf(b, "</text>");
        }
    } else {
        double xs = nice_step(p->x1 - p->x0, 5);
        if (p->x_integer && xs < 1) xs = 1;
        for (int t = 0; t <= 50; t++) {
            double v = ceil(p->x0 / xs - 1e-9) * xs + t * xs;
            if (!(v <= p->x1 + xs * 1e-9)) break;
            double x = px(p, v);
            tick_label(lab, sizeof lab, v, xs);
            sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" class=\"grid\"/>", x, y0, x, y1);
            sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"middle\">%s</text>", x, y0 + 14, lab);
        }
    }
    if (p->xlabel) {
        sb_printf(b, "<text x=\"%.1f\" y=\"%d\" class=\"al\" text-anchor=\"middle\">", (x0 + x1) / 2, p->h - 8);
        sb_xml(b, p->xlabel);
        sb_printf(b, "</text>");
    }
    if (p->ylabel) {
        sb_printf(b, "<text transform=\"translate(13 %.1f) rotate(-90)\" class=\"al\" text-anchor=\"middle\">", (y0 + y1) / 2);
        sb_xml(b, p->ylabel);
        sb_printf(b, "</text>");
    }
}

/* v as %.1f prints it (so that vertices compare as drawn). */
static double tenths(double v)
{
    char t[64];
    snprintf(t, sizeof t, "%.1f", v);
    return strtod(t, NULL);
}

/* b lies between a and c (either order, ends included). */
static int between(double a, double b, double c)
{
    return (a <= b && b <= c) || (c <= b && b <= a);
}

void svg_line(sbuf *b, const svg_plot *p, const double *x, const double *y, size_t n, const char *color,
              double width, const char *dash)
{
    size_t i = 0;
    while (i < n) {
        while (i < n && !(isfinite(x[i]) && isfinite(y[i]))) i++;
        size_t start = i;
        while (i < n && isfinite(x[i]) && isfinite(y[i])) i++;
        if (i == start) break;
        sb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%.1f\"%s%s%s points=\"", color, width,
                  dash ? " stroke-dasharray=\"" : "", dash ? dash : "", dash ? "\"" : "");
        /* Each vertex as printed (0.1 px); a vertex is left out where the drawn line does not
         * change: the same as the last one written, or inside a horizontal or vertical run
         * between the last one written and the next (an ROC curve of 100,000 distinct scores
         * is a staircase of that many steps on a 400-pixel plot). */
        double lx = 0, ly = 0; /* the last vertex written */
        for (size_t j = start; j < i; j++) {
            double cx = tenths(px(p, x[j])), cy = tenths(py(p, y[j]));
            if (j > start && j + 1 < i) {
                double nx = tenths(px(p, x[j + 1])), ny = tenths(py(p, y[j + 1]));
                if ((cx == lx && cy == ly) || (cx == lx && nx == cx && between(ly, cy, ny)) ||
                    (cy == ly && ny == cy && between(lx, cx, nx)))
                    continue;
            } else if (j > start && cx == lx && cy == ly) {
                continue;
            }
            sb_printf(b, "%s%.1f,%.1f", j > start ? " " : "", cx, cy);
            lx = cx, ly = cy;
        }
        sb_printf(b, "\"/>");
    }
}

void svg_dot(sbuf *b, const svg_plot *p, double x, double y, double r, const char *color, const char *tip)
{
    if (!isfinite(x) || !isfinite(y)) return;
    sb_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%s\" fill-opacity=\"0.8\">", px(p, x), py(p, y), r, color);
    if (tip) {
        sb_printf(b, "<title>");
        sb_xml(b, tip);
        sb_printf(b, "</title>");
    }
    sb_printf(b, "</circle>");
}

void svg_hbar(sbuf *b, const svg_plot *p, double x, double y, double half_width, const char *color)
{
    if (!isfinite(y)) return;
    sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"/>",
              px(p, x - half_width), py(p, y), px(p, x + half_width), py(p, y), color);
}

void svg_text(sbuf *b, const svg_plot *p, double x, double y, double dy, const char *text)
{
    if (!isfinite(x) || !isfinite(y)) return;
    sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"tk\" text-anchor=\"middle\">", px(p, x), py(p, y) + dy);
    sb_xml(b, text);
    sb_printf(b, "</text>");
}

void svg_vbar(sbuf *b, const svg_plot *p, double x, double y0, double y1, const char *color)
{
    if (!isfinite(x) || !isfinite(y0) || !isfinite(y1)) return;
    double X = px(p, x), a = py(p, y0), c = py(p, y1);
    sb_printf(b, "<path d=\"M%.1f %.1fV%.1fM%.1f %.1fH%.1fM%.1f %.1fH%.1f\" stroke=\"%s\" stroke-width=\"1.5\" fill=\"none\"/>", X, a,
              c, X - 4, a, X + 4, X - 4, c, X + 4, color);
}

void svg_legend(sbuf *b, const svg_plot *p, const char *const *names, const char *const *colors, size_t n,
                svg_corner corner)
{
    if (!n) return;
    /* right-aligned: swatch at the right edge, name before it; left: swatch first */
    const int left = corner == SVG_TOP_LEFT;
    double x = left ? ML + 8 : p->w - MR - 8;
    double y = corner == SVG_BOTTOM_RIGHT ? p->h - MB - 10.0 - 14.0 * (double)(n - 1) : MT + 16.0;
    for (size_t i = 0; i < n; i++, y += 14) {
        double x1 = left ? x : x - 18, x2 = left ? x + 18 : x;
        sb_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" stroke-width=\"2.5\"/>", x1, y - 3.5,
                  x2, y - 3.5, colors[i]);
        sb_printf(b, "<text x=\"%.1f\" y=\"%.1f\" class=\"lg\" text-anchor=\"%s\">", left ? x + 22 : x - 22, y,
                  left ? "start" : "end");
        sb_xml(b, names[i]);
        sb_printf(b, "</text>");
    }
}

void svg_end(sbuf *b)
{
    sb_printf(b, "</svg>\n");
}
