/* wb_rng.h — the seeded random generator every experiment step uses (never rand()).
 *
 *     // given: uint64_t seed; int repeat;
 *     wb_rng r;
 *     wb_rng_seed(&r, wb_rng_derive(seed, repeat));   // an independent stream per repeat
 *     uint64_t k = wb_rng_below(&r, 10);              // uniform in 0..9
 *     double u = wb_rng_uniform(&r);                  // uniform in [0, 1)
 *
 * The same seed gives the same numbers on every machine.
 */
#ifndef WB_RNG_H
#define WB_RNG_H

#include <stdint.h>


/* xoshiro256** (Blackman & Vigna 2018), seeded through splitmix64. Caller-owned, no heap. */
typedef struct wb_rng {
    uint64_t s[4];
} wb_rng;

/* Seeds r from a 64-bit seed (any value, 0 included). */
void wb_rng_seed(wb_rng *r, uint64_t seed);
/* Next 64 random bits. */
uint64_t wb_rng_next(wb_rng *r);
/* Uniform integer in [0, bound), unbiased (rejection, then modulo); 0 if bound is 0. */
uint64_t wb_rng_below(wb_rng *r, uint64_t bound);
/* Uniform double in [0, 1) with 53 random bits. */
double wb_rng_uniform(wb_rng *r);
/* A seed for sub-stream `stream` of `seed` (splitmix64 of a mix of both), so repeat r, fold f
 * and so on get independent, reproducible streams: wb_rng_derive(wb_rng_derive(s, r), f). */
uint64_t wb_rng_derive(uint64_t seed, uint64_t stream);

#endif
