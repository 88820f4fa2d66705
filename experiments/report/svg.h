/* svg.h — small line/point plots as inline SVG for the HTML report (no scripts, no fonts
 * fetched: text uses the page's font stack).
 *
 *     // given: sbuf b; const double *x, *y; size_t n, k; const char *const *names, *const *colors;
 *     svg_plot p = {.w = 420, .h = 320, .x0 = 0, .x1 = 1, .y0 = 0, .y1 = 1,
 *                   .title = "ROC", .xlabel = "1 - specificity", .ylabel = "sensitivity"};
 *     svg_begin(&b, &p);
 *     svg_line(&b, &p, x, y, n, svg_color(0), 2, NULL);
 *     svg_legend(&b, &p, names, colors, k, SVG_BOTTOM_RIGHT);
 *     svg_end(&b);
 *
 * Output is well-formed XML (checked by the report test with xmllint).
 */
#ifndef EXP_SVG_H
#define EXP_SVG_H

#include <stddef.h>

#include "io/io_sbuf.h"

typedef struct svg_plot {
    int w, h;                 /* pixels */
    double x0, x1, y0, y1;    /* data ranges */
    const char *title, *xlabel, *ylabel;
    const char *const *xcats; /* optional: category names at x = 0, 1, ... (strip plots) */
    size_t n_xcats;
    int x_integer;            /* x ticks at whole numbers only (epochs) */
} svg_plot;

/* Okabe-Ito colours (distinguishable with colour-blindness), cycling. */
const char *svg_color(size_t i);
/* Picks a "nice" range and tick step covering [lo, hi]. */
void svg_nice_range(double lo, double hi, double *out_lo, double *out_hi);

void svg_begin(sbuf *b, const svg_plot *p);
/* A polyline through finite points (non-finite ones break the line); dash may be NULL. */
void svg_line(sbuf *b, const svg_plot *p, const double *x, const double *y, size_t n, const char *color,
              double width, const char *dash);
/* A dot with a tooltip (title element; may be NULL). */
void svg_dot(sbuf *b, const svg_plot *p, double x, double y, double r, const char *color, const char *tip);
/* A short horizontal bar centred at x (a pooled value in a strip plot). */
void svg_hbar(sbuf *b, const svg_plot *p, double x, double y, double half_width, const char *color);
/* Text centred at data (x, y), dy pixels below (negative: above); skipped at non-finite x, y. */
void svg_text(sbuf *b, const svg_plot *p, double x, double y, double dy, const char *text);
/* A vertical segment at x from y0 to y1 (an error bar), with short caps. */
void svg_vbar(sbuf *b, const svg_plot *p, double x, double y0, double y1, const char *color);
/* The legend in a corner of the plot area, where the data leave room. */
typedef enum { SVG_BOTTOM_RIGHT, SVG_TOP_RIGHT, SVG_TOP_LEFT } svg_corner;
void svg_legend(sbuf *b, const svg_plot *p, const char *const *names, const char *const *colors, size_t n,
                svg_corner corner);
void svg_end(sbuf *b);

#endif
