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

/* The large blocks get pages of their own (mmap), so that the huge-page advice covers them
 * alone and goes with them (advice on malloc's heap would outlive the block and cover whatever
 * the heap puts there next). Under AddressSanitizer they stay malloc blocks, whose redzones
 * catch an overrun of the arena to the byte. */
#if defined(__SANITIZE_ADDRESS__)
#define NN_LARGE_MMAP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define NN_LARGE_MMAP 0
#endif
#endif
#ifndef NN_LARGE_MMAP
#if defined(__linux__) && defined(MADV_HUGEPAGE)
#define NN_LARGE_MMAP 1
#else
#define NN_LARGE_MMAP 0
#endif
#endif

/* the mapping's length, in front of the block (64 bytes keep it aligned as malloc's) */
#define LARGE_HDR 64

void *nn_malloc_large(size_t n)
{
#if NN_LARGE_MMAP
    if (alloc_fails() || n > SIZE_MAX - LARGE_HDR)
        return NULL;
    const size_t len = n + LARGE_HDR;
    void *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    *(size_t *)m = len;
    char *p = (char *)m + LARGE_HDR;
    const uintptr_t huge = (uintptr_t)2 << 20;
    if (n >= 2 * huge && !getenv("WB_NN_NOTHP")) {
        /* the whole huge pages inside [p, p + n); advice only: a refusal changes nothing */
        const uintptr_t a = ((uintptr_t)p + huge - 1) & ~(huge - 1);
        const uintptr_t e = ((uintptr_t)p + n) & ~(huge - 1);
        if (e > a)
            (void)madvise((void *)a, e - a, MADV_HUGEPAGE);
    }
    return p;
#else
    return nn_malloc(n);
#endif
}

void nn_free_large(void *p)
{
#if NN_LARGE_MMAP
    if (!p)
        return;
    char *m = (char *)p - LARGE_HDR;
    (void)munmap(m, *(size_t *)m);
#else
    free(p);
#endif
}

int nn_large_advised(void)
{
    return NN_LARGE_MMAP;
}
