/* bench.h — timing helpers shared by the zen benchmarks.
 *
 * Each benchmark prints one line per measurement:
 *   RESULT <name> threads=<n> median_ms=<m> [key=value ...]
 * bench/compare.py pairs these with the same names printed by the PyTorch scripts
 * (bench/*_torch.py) and prints the ratios. Machines are noisy: every number is the
 * median of repeated runs after warm-up. */
#ifndef ZEN_BENCH_H
#define ZEN_BENCH_H

#include <stdio.h>
#include <stdlib.h>

#include "zen.h"

static int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of `reps` calls of fn(arg) after `warmup` calls. */
static double bench_median(void (*fn)(void *), void *arg, int warmup, int reps) {
    for (int i = 0; i < warmup; i++) fn(arg);
    double *t = malloc((size_t)reps * sizeof *t);
    for (int i = 0; i < reps; i++) {
        double t0 = zen_time_seconds();
        fn(arg);
        t[i] = zen_time_seconds() - t0;
    }
    qsort(t, (size_t)reps, sizeof *t, bench_cmp_double);
    double m = t[reps / 2];
    free(t);
    return m;
}

/* Threads from the command line (first argument) or OMP_NUM_THREADS, default 1. */
static int bench_threads(int argc, char **argv) {
    if (argc > 1) return atoi(argv[1]);
    const char *e = getenv("OMP_NUM_THREADS");
    return e ? atoi(e) : 1;
}

#endif
