/* nn_thread.c — the engine's thread pool. The engine owns the cores: OpenBLAS runs
 * single-threaded, and every parallel part (GEMM slices, im2col, BN, ...) is split by
 * ith/nth over nn_get_threads() threads, so OpenBLAS threads and ours never compete.
 *
 * Work is split by fixed index ranges that depend only on the thread count, never on timing,
 * so the same thread count gives bit-identical results. Which thread runs a slice does depend
 * on timing: the caller runs slice 0, then claims every slice no worker has started yet, so a
 * worker the scheduler has not run (a loaded machine) delays nothing.
 */
#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "nets/nn_internal.h"

/* Busy-wait this long (wall time, yielding the core every ~10 us) for the next job, or for
 * the slices to finish, before sleeping on a condition variable. A ResNet-50 forward at batch 1 is ~160 jobs of a few
 * hundred microseconds; waking a sleeping thread costs tens of microseconds on a VM (an
 * inter-processor interrupt), and with a spin of a fixed 20000 loads (~20 us) the worker slept
 * before nearly every job: 17.4 img/s against 21.0 with this spin (2 threads, interleaved
 * runs). OpenMP runtimes spin similarly (GOMP_SPINCOUNT, KMP_BLOCKTIME). */
#define SPIN_NS 1000000LL

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* How the spins below give way: every 256 rounds of `pause` (~10 us) the spinning thread
 * reads the clock, and calls sched_yield() so that a runnable thread on its core (the other
 * half of the job, or another process when the machine is loaded) runs instead of the spin. */
static int spin_expired(long long *t0)
{
    long long t = mono_ns();
    if (*t0 == 0)
        *t0 = t;
    else if (t - *t0 > SPIN_NS)
        return 1;
    sched_yield();
    return 0;
}

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_t tid[NN_MAX_THREADS];
    int n_workers;             /* started worker threads (nth - 1) */
    int nth;                   /* threads in effect, including the caller */
    /* the job: generation in the high 32 bits (bumped per job; workers wait for it to
     * change), the next unclaimed slice in the low 32 bits */
    _Atomic unsigned long long state;
    atomic_int remaining;      /* slices 1..nth-1 not yet finished */
    atomic_int quit;
    nn_par_fn fn;
    void *ctx;
    pthread_mutex_t busy;      /* one job at a time; other callers run the slices themselves */
} pool;

static pool g_pool = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .wake = PTHREAD_COND_INITIALIZER,
    .done = PTHREAD_COND_INITIALIZER,
    .busy = PTHREAD_MUTEX_INITIALIZER,
    .nth = 1,
};

static unsigned state_gen(unsigned long long s)
{
    return (unsigned)(s >> 32);
}

/* Spins while the job generation is `old`, for at most SPIN_NS; returns the last one read. */
static unsigned spin_while_gen(pool *p, unsigned old)
{
    long long t0 = 0;
    for (unsigned i = 1;; i++) {
        unsigned g = state_gen(atomic_load(&p->state));
        if (g != old || atomic_load(&p->quit))
            return g;
        cpu_relax();
        if ((i & 255) == 0 && spin_expired(&t0))
            return g;
    }
}

/* Spins while slices of the job are running, for at most SPIN_NS; returns the last count. */
static int spin_while_running(pool *p)
{
    long long t0 = 0;
    for (unsigned i = 1;; i++) {
        int r = atomic_load(&p->remaining);
        if (r <= 0)
            return r;
        cpu_relax();
        if ((i & 255) == 0 && spin_expired(&t0))
            return r;
    }
}

/* Claims and runs the unclaimed slices 1..nth-1 of job `gen`, whichever thread calls it (the
 * caller after its slice 0, or a worker). A slice computes the same whatever thread runs it,
 * so who claims what changes the timing, never the bits. The claim is a compare-and-swap of
 * (generation, next slice): it succeeds only while job `gen` still has unclaimed slices, so the
 * job (fn, ctx, nth) cannot be replaced before the claimed slice is counted as finished. */
static void pool_claim(pool *p, unsigned gen)
{
    for (;;) {
        unsigned long long s = atomic_load(&p->state);
        unsigned k = (unsigned)(s & 0xffffffffu);
        if (state_gen(s) != gen || k >= (unsigned)p->nth)
            return;
        if (!atomic_compare_exchange_weak(&p->state, &s, s + 1))
            continue;
        p->fn(p->ctx, (int)k, p->nth);
        if (atomic_fetch_sub(&p->remaining, 1) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

typedef struct worker_arg {
    unsigned gen0; /* the pool's generation when the worker was started */
} worker_arg;

static worker_arg g_args[NN_MAX_THREADS];

static void *worker(void *arg)
{
    pool *p = &g_pool;
    /* not the pool's generation read here: a job posted between pthread_create and this line
     * would look old, and nobody would claim its slices but the caller (correct, but slower) */
    unsigned seen = ((worker_arg *)arg)->gen0;
    for (;;) {
        unsigned g = spin_while_gen(p, seen);
        if (g == seen && !atomic_load(&p->quit)) {
            pthread_mutex_lock(&p->mu);
            while ((g = state_gen(atomic_load(&p->state))) == seen && !atomic_load(&p->quit))
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (atomic_load(&p->quit))
            return NULL;
        seen = g;
        pool_claim(p, g);
    }
}

static void pool_stop(pool *p)
{
    if (p->n_workers == 0)
        return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->quit, 1);
    atomic_fetch_add(&p->state, 1ull << 32);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers; i++)
        pthread_join(p->tid[i], NULL);
    p->n_workers = 0;
    atomic_store(&p->quit, 0);
}

int nn_set_threads(int n)
{
    if (n < 1)
        n = 1;
    if (n > NN_MAX_THREADS)
        n = NN_MAX_THREADS;
    openblas_set_num_threads(1); /* the engine's threads call it, one slice each */
    pool *p = &g_pool;
    pthread_mutex_lock(&p->busy);
    if (n != p->nth) {
        pool_stop(p);
        p->nth = 1;
        int started = 0;
        for (int i = 1; i < n; i++) {
            g_args[i].gen0 = state_gen(atomic_load(&p->state));
            if (pthread_create(&p->tid[i - 1], NULL, worker, &g_args[i]) != 0)
                break;
            started++;
        }
        p->n_workers = started;
        /* if threads could not be started, slices still run (in the caller), same results */
        p->nth = n;
    }
    pthread_mutex_unlock(&p->busy);
    return n;
}

/* > 0 while this thread runs a piece of nn_par_for_alone: the engine's parallel parts run
 * inline here, as on one thread */
static _Thread_local int tl_alone;

int nn_get_threads(void)
{
    return tl_alone ? 1 : g_pool.nth;
}

void nn_par_run(nn_par_fn fn, void *ctx)
{
    pool *p = &g_pool;
    const int nth = tl_alone ? 1 : p->nth;
    if (nth == 1) {
        fn(ctx, 0, 1);
        return;
    }
    if (pthread_mutex_trylock(&p->busy) != 0) {
        /* another caller owns the pool: the same slices, one after another */
        for (int i = 0; i < nth; i++)
            fn(ctx, i, nth);
        return;
    }
    if (p->n_workers != nth - 1) { /* threads could not be started */
        for (int i = 0; i < nth; i++)
            fn(ctx, i, nth);
        pthread_mutex_unlock(&p->busy);
        return;
    }
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->remaining, nth - 1);
    unsigned gen = state_gen(atomic_load(&p->state)) + 1;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->state, (unsigned long long)gen << 32 | 1u); /* slice 0 is the caller's */
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, nth);
    /* the slices no worker has started yet: run them here instead of waiting for a worker
     * that is still waking up or that the scheduler has not run (a loaded machine) */
    pool_claim(p, gen);
    if (spin_while_running(p) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->remaining) > 0)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
    pthread_mutex_unlock(&p->busy);
}

void nn_par_range(size_t n, int ith, int nth, size_t align, size_t *begin, size_t *end)
{
    if (align < 1)
        align = 1;
    size_t blocks = (n + align - 1) / align;
    size_t b0 = blocks * (size_t)ith / (size_t)nth, b1 = blocks * (size_t)(ith + 1) / (size_t)nth;
    *begin = b0 * align < n ? b0 * align : n;
    *end = b1 * align < n ? b1 * align : n;
}

/* nn_par_for over nn_par_run: the pool's slices beyond nth do nothing. */
typedef struct par_for_job {
    nn_par_for_fn fn;
    void *ctx;
    size_t n;
    int nth;
} par_for_job;

static void par_for_slice(void *ctx, int ith, int pool_nth)
{
    (void)pool_nth;
    const par_for_job *j = ctx;
    if (ith < j->nth)
        j->fn(j->ctx, ith, j->n * (size_t)ith / (size_t)j->nth, j->n * (size_t)(ith + 1) / (size_t)j->nth);
}

void nn_par_for(size_t n, int max_threads, nn_par_for_fn fn, void *ctx)
{
    int nth = nn_get_threads();
    if (max_threads >= 1 && max_threads < nth)
        nth = max_threads;
    if ((size_t)nth > n)
        nth = n > 0 ? (int)n : 1;
    if (nth <= 1) {
        fn(ctx, 0, 0, n);
        return;
    }
    par_for_job j = {fn, ctx, n, nth};
    nn_par_run(par_for_slice, &j);
}

typedef struct alone_job {
    nn_par_for_fn fn;
    void *ctx;
} alone_job;

static void alone_piece(void *ctx, int ith, size_t lo, size_t hi)
{
    const alone_job *j = ctx;
    tl_alone++;
    j->fn(j->ctx, ith, lo, hi);
    tl_alone--;
}

void nn_par_for_alone(size_t n, nn_par_for_fn fn, void *ctx)
{
    alone_job j = {fn, ctx};
    nn_par_for(n, 0, alone_piece, &j);
}
