/* wb_rng.c — see wb_rng.h. */
#include "base/wb_rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

void wb_rng_seed(wb_rng *r, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

uint64_t wb_rng_next(wb_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint64_t wb_rng_below(wb_rng *r, uint64_t bound)
{
    if (bound == 0)
        return 0;
    /* reject the lowest 2^64 mod bound values so that x % bound is uniform
     * (OpenBSD's arc4random_uniform); at most one retry in expectation */
    uint64_t thresh = -bound % bound, x;
    do
        x = wb_rng_next(r);
    while (x < thresh);
    return x % bound;
}

double wb_rng_uniform(wb_rng *r)
{
    return (double)(wb_rng_next(r) >> 11) * 0x1.0p-53;
}

uint64_t wb_rng_derive(uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    splitmix64(&x);
    return splitmix64(&x);
}

