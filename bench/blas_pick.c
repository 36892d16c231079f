/* bench/blas_pick.c -- pick the sgemm backend for zen on this machine.
 *
 * Times row-major C = op(A) * op(B) (NN, NT, TN) through ONE library per
 * binary, chosen at compile time:
 *
 *   cc -O2 -std=c11 -fopenmp -DUSE_DNNL bench/blas_pick.c -o blas_pick_dnnl -ldnnl
 *   cc -O2 -std=c11 -fopenmp -DUSE_OPENBLAS $(pkg-config --cflags openblas) \
 *      bench/blas_pick.c -o blas_pick_openblas $(pkg-config --libs openblas)
 *
 * Modes (argv[1]):
 *   first   first-call latency of a small sgemm (oneDNN JIT warm-up); run it
 *           in a fresh process, before anything else touches the library
 *   check   correctness vs a naive loop, all three ops, odd sizes
 *   bench   median GFLOP/s table (threads from OMP_NUM_THREADS)
 *   nested  does the library go single-threaded inside `omp parallel`?
 *   info    library/ISA/thread info
 * bench options: "quick" skips the 4096^3 shape; "M N K" runs one shape.
 * The machine has 2 cores: run nothing else meanwhile (bench/blas_pick.py
 * checks /proc/stat and reruns a measurement that overlapped other load).
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#if defined(USE_DNNL) == defined(USE_OPENBLAS)
#error "define exactly one of USE_DNNL / USE_OPENBLAS"
#endif

#ifdef USE_DNNL
#include <oneapi/dnnl/dnnl.h>
#define LIB "dnnl"
static void gemm(char ta, char tb, long M, long N, long K, const float *A,
                 long lda, const float *B, long ldb, float *C, long ldc) {
    dnnl_status_t s = dnnl_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f,
                                 C, ldc);
    if (s != dnnl_success) {
        fprintf(stderr, "dnnl_sgemm failed: %d\n", (int)s);
        exit(1);
    }
}
#else
#include <cblas.h>
#define LIB "openblas"
static void gemm(char ta, char tb, long M, long N, long K, const float *A,
                 long lda, const float *B, long ldb, float *C, long ldc) {
    cblas_sgemm(CblasRowMajor, ta == 'T' ? CblasTrans : CblasNoTrans,
                tb == 'T' ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
                1.0f, A, (int)lda, B, (int)ldb, 0.0f, C, (int)ldc);
}
#endif

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static float *alloc_rand(long n, unsigned *seed) {
    size_t bytes = ((size_t)n * sizeof(float) + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        perror("aligned_alloc");
        exit(1);
    }
    for (long i = 0; i < n; i++) {
        *seed = *seed * 1664525u + 1013904223u;
        p[i] = (float)((*seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
    return p;
}

/* op = "NN", "NT", "TN". Row-major storage: A is MxK (or KxM if 'T'),
 * B is KxN (or NxK if 'T'), C is MxN. */
static void run_op(const char *op, long M, long N, long K, const float *A,
                   const float *B, float *C) {
    char ta = op[0], tb = op[1];
    long lda = ta == 'T' ? M : K;
    long ldb = tb == 'T' ? K : N;
    gemm(ta, tb, M, N, K, A, lda, B, ldb, C, N);
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void info(void) {
#ifdef USE_DNNL
    const dnnl_version_t *v = dnnl_version();
    printf("%s: oneDNN %d.%d.%d cpu_runtime=%u isa=0x%x omp_max_threads=%d\n",
           LIB, v->major, v->minor, v->patch, v->cpu_runtime,
           (unsigned)dnnl_get_effective_cpu_isa(), omp_get_max_threads());
#else
    printf("%s: %s core=%s parallel=%d (2=OpenMP) threads=%d omp_max=%d\n",
           LIB, openblas_get_config(), openblas_get_corename(),
           openblas_get_parallel(), openblas_get_num_threads(),
           omp_get_max_threads());
#endif
}

static int check(void) {
    const char *ops[3] = {"NN", "NT", "TN"};
    const long M = 37, N = 29, K = 41;
    unsigned seed = 1;
    float *A = alloc_rand(M * K, &seed), *B = alloc_rand(K * N, &seed);
    float *C = alloc_rand(M * N, &seed);
    int bad = 0;
    for (int o = 0; o < 3; o++) {
        run_op(ops[o], M, N, K, A, B, C);
        double maxerr = 0;
        for (long i = 0; i < M; i++)
            for (long j = 0; j < N; j++) {
                double s = 0;
                for (long k = 0; k < K; k++) {
                    float a = ops[o][0] == 'T' ? A[k * M + i] : A[i * K + k];
                    float b = ops[o][1] == 'T' ? B[j * K + k] : B[k * N + j];
                    s += (double)a * b;
                }
                double e = fabs(s - C[i * N + j]);
                if (e > maxerr) maxerr = e;
            }
        printf("%s check %s %ldx%ldx%ld max|err|=%.2e %s\n", LIB, ops[o], M,
               N, K, maxerr, maxerr < 1e-4 ? "ok" : "FAIL");
        bad |= maxerr >= 1e-4;
    }
    free(A), free(B), free(C);
    return bad;
}

/* First-call latency: must be the first library call in the process. */
static void first(void) {
    unsigned seed = 2;
    long M = 64, N = 10, K = 128; /* the small dense-layer shape */
    float *A = alloc_rand(256 * 256, &seed), *B = alloc_rand(256 * 256, &seed);
    float *C = alloc_rand(256 * 256, &seed);
    double t0 = now();
    run_op("NN", M, N, K, A, B, C);
    double t1 = now();
    run_op("NN", M, N, K, A, B, C);
    double t2 = now();
    run_op("TN", M, N, K, A, B, C); /* new op, same shape */
    double t3 = now();
    run_op("NT", 256, 256, 256, A, B, C); /* new op + shape */
    double t4 = now();
    run_op("NT", 256, 256, 256, A, B, C);
    double t5 = now();
    printf("%s first-call 64x10x128 NN: 1st %.3f ms, 2nd %.4f ms; "
           "1st TN %.4f ms; 256^3 NT 1st %.3f ms, 2nd %.3f ms\n",
           LIB, 1e3 * (t1 - t0), 1e3 * (t2 - t1), 1e3 * (t3 - t2),
           1e3 * (t4 - t3), 1e3 * (t5 - t4));
    free(A), free(B), free(C);
}

/* Median time of one (op, shape); at least min_reps runs and ~min_time s. */
static double time_op(const char *op, long M, long N, long K, const float *A,
                      const float *B, float *C, int *reps_out) {
    enum { MAXR = 201 };
    static double t[MAXR];
    run_op(op, M, N, K, A, B, C); /* warm-up */
    double flops = 2.0 * M * N * K;
    int min_reps = flops > 1e11 ? 3 : 7;
    double min_time = 0.4, total = 0;
    int r = 0;
    while (r < MAXR && (r < min_reps || total < min_time)) {
        double t0 = now();
        run_op(op, M, N, K, A, B, C);
        t[r] = now() - t0;
        total += t[r++];
    }
    qsort(t, (size_t)r, sizeof t[0], cmp_d);
    *reps_out = r;
    return t[r / 2];
}

static void bench(int quick, long only_m, long only_n, long only_k) {
    static const long shapes[][3] = {
        {4096, 4096, 4096}, {1024, 1024, 1024}, {256, 256, 256},
        {64, 128, 5408},    {64, 5408, 128},    {5408, 128, 64},
        {43264, 32, 9},     {32, 9, 43264},     {43264, 9, 32},
        {64, 10, 128},
    };
    const char *ops[3] = {"NN", "NT", "TN"};
    const char *ct = getenv("OPENBLAS_CORETYPE");
    for (size_t s = quick ? 1 : 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        long M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        if (only_m && (M != only_m || N != only_n || K != only_k)) continue;
        unsigned seed = 3;
        float *A = alloc_rand(M * K, &seed), *B = alloc_rand(K * N, &seed);
        float *C = alloc_rand(M * N, &seed);
        for (int o = 0; o < 3; o++) {
            int reps;
            double t = time_op(ops[o], M, N, K, A, B, C, &reps);
            printf("RESULT lib=%s%s%s thr=%d M=%ld N=%ld K=%ld op=%s "
                   "gflops=%.1f ms=%.4f reps=%d\n",
                   LIB, ct ? "/" : "", ct ? ct : "", omp_get_max_threads(), M,
                   N, K, ops[o], 2.0 * M * N * K / t * 1e-9, t * 1e3, reps);
            fflush(stdout);
        }
        free(A), free(B), free(C);
    }
}

/* Nested: time a 1024^3 NN call (a) at top level, (b) from one thread of an
 * active 2-thread `omp parallel` while the other waits, (c) from both
 * threads at once (each its own C). If (b) ~ single-thread time, the library
 * runs single-threaded when nested. Run with OMP_NUM_THREADS=2. */
static void nested(void) {
    const long n = 1024;
    unsigned seed = 4;
    float *A = alloc_rand(n * n, &seed), *B = alloc_rand(n * n, &seed);
    float *C0 = alloc_rand(n * n, &seed), *C1 = alloc_rand(n * n, &seed);
    int reps;
    double top = time_op("NN", n, n, n, A, B, C0, &reps);
    double in1 = 0, in2 = 0;
    int inner_thr = -1;
    for (int rep = 0; rep < 3; rep++) {
#pragma omp parallel num_threads(2)
        {
#pragma omp master
            {
                double t0 = now();
                run_op("NN", n, n, n, A, B, C0);
                double t = now() - t0;
                if (rep == 0 || t < in1) in1 = t;
#ifndef USE_DNNL
                inner_thr = openblas_get_num_threads();
#endif
            }
#pragma omp barrier
            double t0 = now();
            run_op("NN", n, n, n, A, B, omp_get_thread_num() ? C1 : C0);
#pragma omp barrier
#pragma omp master
            {
                double t = now() - t0;
                if (rep == 0 || t < in2) in2 = t;
            }
        }
    }
    double f = 2.0 * n * n * n * 1e-9;
    printf("%s nested 1024^3 NN (omp_max=%d, max_active_levels=%d): top-level "
           "%.1f GF/s; 1 call inside omp parallel(2) %.1f GF/s; "
           "2 concurrent calls %.1f GF/s total%s",
           LIB, omp_get_max_threads(), omp_get_max_active_levels(), f / top,
           f / in1, 2 * f / in2, inner_thr >= 0 ? "" : "\n");
    if (inner_thr >= 0)
        printf(" (openblas_get_num_threads in region=%d)\n", inner_thr);
    free(A), free(B), free(C0), free(C1);
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "bench";
    if (!strcmp(mode, "first")) first();
    else if (!strcmp(mode, "check")) return check();
    else if (!strcmp(mode, "bench") && argc == 5)
        bench(0, atol(argv[2]), atol(argv[3]), atol(argv[4]));
    else if (!strcmp(mode, "bench"))
        bench(argc > 2 && !strcmp(argv[2], "quick"), 0, 0, 0);
    else if (!strcmp(mode, "nested")) nested();
    else if (!strcmp(mode, "info")) info();
    else {
        fprintf(stderr, "usage: %s first|check|bench [quick|M N K]|nested|info\n",
                argv[0]);
        return 2;
    }
    return 0;
}
