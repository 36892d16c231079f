/* bench/fma_peak.c — the fp32 FMA peak of one core, the ceiling for the GEMM-bound GPT
 * benchmarks (bench/gpt_train.c):
 *
 *   build/bench/bench_fma_peak
 *
 * Twelve independent chains of 16-lane fused multiply-adds (enough to cover the FMA latency
 * on every x86 core with AVX-512), timed in the thread's CPU time (CLOCK_THREAD_CPUTIME_ID)
 * so that time slices lost to other processes on a shared machine do not count. The chains
 * start from different values and are opaque to the compiler (an empty asm that "changes"
 * them), so it cannot merge them. Without AVX-512 the program says so and exits 0.
 * Prints: RESULT fma_peak threads=1 median_ms=<ms for 1e8 iterations, fastest of 3 runs>
 *        gflops=<fp32 GFLOP/s> */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <time.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>

static double cpu_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

#define CHAIN(i) a##i = _mm512_fmadd_ps(a##i, x, y);
__attribute__((target("avx512f"))) static double peak(long n) {
    __m512 a0 = _mm512_set1_ps(0), a1 = _mm512_set1_ps(1), a2 = _mm512_set1_ps(2), a3 = _mm512_set1_ps(3),
           a4 = _mm512_set1_ps(4), a5 = _mm512_set1_ps(5), a6 = _mm512_set1_ps(6), a7 = _mm512_set1_ps(7),
           a8 = _mm512_set1_ps(8), a9 = _mm512_set1_ps(9), a10 = _mm512_set1_ps(10), a11 = _mm512_set1_ps(11);
    const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
    double t0 = cpu_seconds();
    for (long k = 0; k < n; k++) {
        CHAIN(0) CHAIN(1) CHAIN(2) CHAIN(3) CHAIN(4) CHAIN(5) CHAIN(6) CHAIN(7) CHAIN(8) CHAIN(9) CHAIN(10) CHAIN(11)
        __asm__ volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6), "+v"(a7),
                         "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));
    }
    double t = cpu_seconds() - t0;
    __m512 s = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
    s = _mm512_add_ps(s, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
    if (_mm512_reduce_add_ps(s) == 42.0f) puts(""); /* keeps the chains live */
    return t;
}

int main(void) {
    if (!__builtin_cpu_supports("avx512f")) {
        puts("# fma_peak: no AVX-512 on this CPU");
        return 0;
    }
    const long n = 100000000;
    double best = 1e30;
    for (int r = 0; r < 3; r++) {
        double t = peak(n);
        best = t < best ? t : best;
    }
    printf("RESULT fma_peak threads=1 median_ms=%.4f gflops=%.1f\n", best * 1e3, (double)n * 12 * 32 / best / 1e9);
    return 0;
}
#else
int main(void) {
    puts("# fma_peak: x86-64 with GCC/Clang only");
    return 0;
}
#endif
