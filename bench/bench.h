/* bench.h — timing helpers shared by the zen benchmarks.
 *
 * Each benchmark prints one line per measurement:
 *   RESULT <name> threads=<n> median_ms=<m> [key=value ...]
 * bench/compare.py pairs these with the same names printed by the PyTorch scripts
 * (bench/<name>_torch.py, as torch.<env>.<name>) and prints the ratios. Machines are noisy:
 * every number is the median of repeated runs after warm-up; min_ms (the fastest run) is
 * printed beside it. bench/run_all.sh runs every benchmark in several rounds, and
 * compare.py keeps the best median of the rounds. */
#ifndef ZEN_BENCH_H
#define ZEN_BENCH_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "zen.h"

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Times of one measurement, in milliseconds. */
typedef struct {
    double median_ms, min_ms;
    int reps;
} bench_stats;

#define BENCH_MAX_REPS 2000

/* Runs fn(arg) `warmup` times, then at least min_reps times and until min_seconds have
 * passed (at most BENCH_MAX_REPS); returns the median and fastest run. */
static inline bench_stats bench_time(void (*fn)(void *), void *arg, int warmup, int min_reps, double min_seconds) {
    static double t[BENCH_MAX_REPS];
    for (int i = 0; i < warmup; i++) fn(arg);
    int n = 0;
    double total = 0;
    while (n < BENCH_MAX_REPS && (n < min_reps || total < min_seconds)) {
        double t0 = zen_time_seconds();
        fn(arg);
        t[n] = zen_time_seconds() - t0;
        total += t[n++];
    }
    qsort(t, (size_t)n, sizeof *t, bench_cmp_double);
    return (bench_stats){t[n / 2] * 1e3, t[0] * 1e3, n};
}

/* Prints `RESULT name threads=n median_ms=m min_ms=f reps=r`, then (bench_result_kv) extra
 * key=value pairs given printf-style. */
static inline void bench_result_start(const char *name, int threads, bench_stats s) {
    printf("RESULT %s threads=%d median_ms=%.4f min_ms=%.4f reps=%d", name, threads, s.median_ms, s.min_ms, s.reps);
}
static inline void bench_result(const char *name, int threads, bench_stats s) {
    bench_result_start(name, threads, s);
    putchar('\n');
    fflush(stdout);
}
__attribute__((format(printf, 4, 5))) static inline void bench_result_kv(const char *name, int threads,
                                                                          bench_stats s, const char *fmt, ...) {
    bench_result_start(name, threads, s);
    putchar(' ');
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static inline void bench_run_graph(void *g) {
    if (zen_graph_compute((zen_graph *)g) != 0) {
        fprintf(stderr, "zen_graph_compute failed\n");
        exit(1);
    }
}

/* Thread counts: the command-line arguments from `first` on, else OMP_NUM_THREADS, else
 * 1 and 2. Returns how many (at most 8). */
static inline int bench_thread_list(int argc, char **argv, int first, int *threads) {
    int n = 0;
    for (int i = first; i < argc && n < 8; i++) threads[n++] = atoi(argv[i]);
    if (n) return n;
    const char *e = getenv("OMP_NUM_THREADS");
    if (e && atoi(e) > 0) {
        threads[0] = atoi(e);
        return 1;
    }
    threads[0] = 1, threads[1] = 2;
    return 2;
}

/* One thread count: the first command-line argument, else OMP_NUM_THREADS, else 1. */
static inline int bench_threads(int argc, char **argv) {
    if (argc > 1 && atoi(argv[1]) > 0) return atoi(argv[1]);
    const char *e = getenv("OMP_NUM_THREADS");
    return e && atoi(e) > 0 ? atoi(e) : 1;
}

#endif
