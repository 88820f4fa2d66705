/* wb_test.h — tiny assertion macros for the C tests: each failure prints the file, line and
 * both values, and the test keeps going so one run shows every failure. main() returns
 * wb_test_finish(). */
#ifndef WB_TEST_H
#define WB_TEST_H

#include <math.h>
#include <stdio.h>
#include <string.h>

static int wb_test_failures = 0;
static int wb_test_checks = 0;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        wb_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            wb_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond);               \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_INT(a, b, what)                                                                   \
    CHECK((long long)(a) == (long long)(b), "%s: got %lld, expected %lld", what, (long long)(a),   \
          (long long)(b))

#define CHECK_STR(a, b, what)                                                                      \
    CHECK(strcmp((a), (b)) == 0, "%s: got '%s', expected '%s'", what, (a), (b))

#define CHECK_CONTAINS(hay, needle, what)                                                          \
    CHECK(strstr((hay), (needle)) != NULL, "%s: '%s' does not contain '%s'", what, (hay), (needle))

#define CHECK_CLOSE(a, b, tol, ...)                                                                \
    do {                                                                                           \
        double a_ = (a), b_ = (b);                                                                 \
        wb_test_checks++;                                                                          \
        if (!(fabs(a_ - b_) <= (tol))) {                                                           \
            wb_test_failures++;                                                                    \
            fprintf(stderr, "%s:%d: got %.9g, expected %.9g (tolerance %g): ", __FILE__,           \
                    __LINE__, a_, b_, (double)(tol));                                              \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

static inline int wb_test_finish(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, wb_test_checks, wb_test_failures);
    return wb_test_failures ? 1 : 0;
}

#endif
