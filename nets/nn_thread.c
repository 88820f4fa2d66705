/* nn_thread.c — the engine's thread pool. The engine owns the cores: OpenBLAS runs
 * single-threaded, and every parallel part (GEMM slices, im2col, BN, ...) is split by
 * ith/nth over nn_get_threads() threads, so OpenBLAS threads and ours never compete.
 *
 * Work is split by fixed index ranges that depend only on the thread count, never on timing,
 * so the same thread count gives bit-identical results.
 */
#include <cblas.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "nets/nn_internal.h"

#define NN_MAX_THREADS 64
/* Busy-wait this long (wall time) for the next job, or for the workers to finish, before
 * sleeping on a condition variable. A ResNet-50 forward at batch 1 is ~160 jobs of a few
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

/* Spins while *v == old, for at most SPIN_NS; returns the last value read. */
static unsigned spin_while_equal(atomic_uint *v, unsigned old)
{
    long long t0 = 0;
    for (unsigned i = 1;; i++) {
        unsigned g = atomic_load(v);
        if (g != old)
            return g;
        cpu_relax();
        if ((i & 255) == 0) { /* the clock costs ~20 ns: read it every 256 rounds */
            long long t = mono_ns();
            if (t0 == 0)
                t0 = t;
            else if (t - t0 > SPIN_NS)
                return g;
        }
    }
}

/* Spins while *v > 0, for at most SPIN_NS; returns the last value read. */
static int spin_while_positive(atomic_int *v)
{
    long long t0 = 0;
    for (unsigned i = 1;; i++) {
        int g = atomic_load(v);
        if (g <= 0)
            return g;
        cpu_relax();
        if ((i & 255) == 0) {
            long long t = mono_ns();
            if (t0 == 0)
                t0 = t;
            else if (t - t0 > SPIN_NS)
                return g;
        }
    }
}

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_t tid[NN_MAX_THREADS];
    int n_workers;             /* started worker threads (nth - 1) */
    int nth;                   /* threads in effect, including the caller */
    atomic_uint gen;           /* bumped per job */
    atomic_int pending;        /* workers still running the job */
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

typedef struct worker_arg {
    int ith;
    unsigned gen0; /* the pool's generation when the worker was started */
} worker_arg;

static worker_arg g_args[NN_MAX_THREADS];

static void *worker(void *arg)
{
    const int ith = ((worker_arg *)arg)->ith;
    pool *p = &g_pool;
    /* not atomic_load(&p->gen) here: a job posted between pthread_create and this line
     * would look old, and the caller would wait for this worker forever */
    unsigned seen = ((worker_arg *)arg)->gen0;
    for (;;) {
        unsigned g = spin_while_equal(&p->gen, seen);
        if (g == seen) {
            pthread_mutex_lock(&p->mu);
            while ((g = atomic_load(&p->gen)) == seen && !p->quit)
                pthread_cond_wait(&p->wake, &p->mu);
            pthread_mutex_unlock(&p->mu);
        }
        if (p->quit)
            return NULL;
        seen = g;
        if (ith < p->nth)
            p->fn(p->ctx, ith, p->nth);
        if (atomic_fetch_sub(&p->pending, 1) == 1) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void pool_stop(pool *p)
{
    if (p->n_workers == 0)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_workers; i++)
        pthread_join(p->tid[i], NULL);
    p->n_workers = 0;
    p->quit = 0;
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
            g_args[i].ith = i;
            g_args[i].gen0 = atomic_load(&p->gen);
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

int nn_get_threads(void)
{
    return g_pool.nth;
}

void nn_par_run(nn_par_fn fn, void *ctx)
{
    pool *p = &g_pool;
    const int nth = p->nth;
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
    atomic_store(&p->pending, nth - 1);
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->gen, 1);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    fn(ctx, 0, nth);
    if (spin_while_positive(&p->pending) > 0) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->pending) > 0)
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
