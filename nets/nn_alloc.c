/* nn_alloc.c — every heap allocation of the engine goes through here, so that a test can make
 * the N-th one fail (WB_FAULT_ALLOC=N in the environment, or nn_fault_alloc_set). */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "nets/nn_internal.h"

static atomic_long g_fail_at = -1; /* -1: the environment has not been read; 0: off */
static atomic_long g_count;

static int alloc_fails(void)
{
    long n = atomic_load_explicit(&g_fail_at, memory_order_relaxed);
    if (n < 0) {
        /* two threads reading the environment at once store the same value */
        const char *e = getenv("WB_FAULT_ALLOC");
        n = e ? strtol(e, NULL, 10) : 0;
        n = n > 0 ? n : 0;
        atomic_store(&g_fail_at, n);
    }
    if (n == 0)
        return 0;
    return atomic_fetch_add(&g_count, 1) + 1 == n;
}

void nn_fault_alloc_set(long n)
{
    atomic_store(&g_count, 0);
    atomic_store(&g_fail_at, n > 0 ? n : 0);
}

long nn_fault_alloc_count(void)
{
    return atomic_load(&g_count);
}

void *nn_malloc(size_t n)
{
    return alloc_fails() ? NULL : malloc(n);
}

void *nn_calloc(size_t n, size_t size)
{
    return alloc_fails() ? NULL : calloc(n, size);
}

void *nn_realloc(void *p, size_t n)
{
    return alloc_fails() ? NULL : realloc(p, n);
}

void *nn_malloc_large(size_t n)
{
    void *p = nn_malloc(n);
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (p && n >= 2 * huge && !getenv("WB_NN_NOTHP")) {
        /* the whole huge pages inside [p, p + n); advice only: a refusal changes nothing */
        const uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
        const uintptr_t e = ((uintptr_t)p + n) & ~(huge - 1);
        if (e > a)
            (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
    }
#endif
    return p;
}
