/* rng.c — xoshiro256** seeded through splitmix64; uniform and normal draws. */
#include "internal.h"

#include <math.h>
#include <time.h>

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void zen_rng_seed(zen_rng *r, uint64_t seed) {
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t zen_rng_next(zen_rng *r) {
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float zen_rng_uniform(zen_rng *r) { return (float)(zen_rng_next(r) >> 40) * (1.0f / 16777216.0f); }

/* Box-Muller; the second value is dropped to keep the generator state the only state. */
float zen_rng_normal(zen_rng *r) {
    double u1 = ((double)(zen_rng_next(r) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
    double u2 = (double)(zen_rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

void zen_rng_fill_uniform(zen_rng *r, zen_tensor *t, float lo, float hi) {
    int64_t n = zen_numel(t);
    float *p = t->data;
    for (int64_t i = 0; i < n; i++)
        p[zen__offset_of(i, t->ndim, t->shape, t->stride)] = lo + (hi - lo) * zen_rng_uniform(r);
}

void zen_rng_fill_normal(zen_rng *r, zen_tensor *t, float mean, float std) {
    int64_t n = zen_numel(t);
    float *p = t->data;
    for (int64_t i = 0; i < n; i++)
        p[zen__offset_of(i, t->ndim, t->shape, t->stride)] = mean + std * zen_rng_normal(r);
}

double zen_time_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
