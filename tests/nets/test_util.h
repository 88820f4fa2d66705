/* test_util.h — tiny check macros for the nets tests (print both values and the line). */
#ifndef NN_TEST_UTIL_H
#define NN_TEST_UTIL_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static int g_failures = 0;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);       \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            g_failures++;                                                                  \
        }                                                                                  \
    } while (0)

#define CHECK_LE(a, b, ...)                                                                \
    do {                                                                                   \
        double a_ = (a), b_ = (b);                                                         \
        if (!(a_ <= b_)) {                                                                 \
            fprintf(stderr, "%s:%d: %s = %g > %g: ", __FILE__, __LINE__, #a, a_, b_);      \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fputc('\n', stderr);                                                           \
            g_failures++;                                                                  \
        }                                                                                  \
    } while (0)

/* sum (a-b)^2 / sum b^2 */
static inline double nmse_fd(const float *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = a[i] - b[i];
        num += d * d;
        den += b[i] * b[i];
    }
    return den > 0 ? num / den : num;
}

/* ||a-b|| / max(||b||, tiny) */
static inline double rel_l2(const float *a, const float *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num) / (den > 0 ? sqrt(den) : 1e-30);
}

static inline double max_abs(const float *a, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(a[i]) > m)
            m = fabs(a[i]);
    return m;
}

#define TEST_END()                                                                         \
    do {                                                                                   \
        if (g_failures) {                                                                  \
            fprintf(stderr, "%d check(s) failed\n", g_failures);                           \
            return 1;                                                                      \
        }                                                                                  \
        printf("ok\n");                                                                    \
        return 0;                                                                          \
    } while (0)

#endif
