/* bench/matmul.c — zen_matmul through a planned graph vs the raw BLAS call.
 *
 *   build/bench/bench_matmul [threads...]      (default: OMP_NUM_THREADS, else 1 2)
 *
 * For each shape and thread count, one graph holds one MATMUL node; zen_graph_compute is
 * timed against dnnl_sgemm / cblas_sgemm (whichever zen was built with) called directly on
 * the same buffers with the same flags. Runs of the two alternate, so both see the same
 * machine load; each number is the median of the runs (at least 9, and ~0.25 s each side).
 * Also reported: zen_linear with its fused bias vs matmul + a separate add, and a batch of
 * small matrices (zen runs them in parallel, one sgemm per thread) vs a loop of raw calls.
 * ratio = zen GFLOP/s / raw GFLOP/s (the requirement: >= 0.90).
 *
 * Output: a human-readable line per shape and, for bench/compare.py,
 *   RESULT matmul.[b<batch>.]<M>x<N>x<K>.<NN|TN|NT> threads=t median_ms=<zen> raw_ms=<raw> ratio=..
 *   RESULT linear.<M>x<N>x<K> threads=t median_ms=<fused bias> split_ms=<matmul + add>
 * (bench/matmul_torch.py times torch.matmul / F.linear on the same shapes). */
#include "bench.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zen.h"

#if defined(ZEN_BLAS_DNNL)
#include <oneapi/dnnl/dnnl.h>
#define BLAS_NAME "oneDNN"
static void raw_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                      const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    dnnl_sgemm(ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, 1.0f, A, lda, B, ldb, beta, C, ldc);
}
#elif defined(ZEN_BLAS_OPENBLAS)
#include <cblas.h>
#define BLAS_NAME "OpenBLAS"
static void raw_sgemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                      const float *B, int64_t ldb, float beta, float *C, int64_t ldc) {
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)K,
                1.0f, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}
#else
#error "define ZEN_BLAS_DNNL or ZEN_BLAS_OPENBLAS"
#endif

#define MAX_RUNS 4001

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *t, int n) {
    qsort(t, (size_t)n, sizeof *t, cmp_d);
    return t[n / 2];
}

/* Alternates run_a and run_b; medians in *ta, *tb. */
typedef void (*run_fn)(void *);
static void time_pair(run_fn run_a, void *arg_a, run_fn run_b, void *arg_b, bench_stats *ta, bench_stats *tb) {
    static double sa[MAX_RUNS], sb[MAX_RUNS];
    run_a(arg_a), run_b(arg_b), run_a(arg_a), run_b(arg_b); /* warm-up (oneDNN JITs kernels) */
    double tot = 0;
    int n = 0;
    while (n < MAX_RUNS && (n < 9 || tot < 0.5)) {
        double t0 = zen_time_seconds();
        run_a(arg_a);
        double t1 = zen_time_seconds();
        run_b(arg_b);
        double t2 = zen_time_seconds();
        sa[n] = t1 - t0;
        sb[n] = t2 - t1;
        tot += t2 - t0;
        n++;
    }
    double ma = median(sa, n), mb = median(sb, n); /* sorts sa, sb: [0] is the fastest */
    *ta = (bench_stats){ma * 1e3, sa[0] * 1e3, n};
    *tb = (bench_stats){mb * 1e3, sb[0] * 1e3, n};
}

static void run_graph(void *g) { zen_graph_compute(g); }

typedef struct {
    bool ta, tb;
    int64_t M, N, K, batch;
    const float *A, *B;
    float *C;
} raw_args;

static void run_raw(void *p) {
    raw_args *r = p;
    int64_t lda = r->ta ? r->M : r->K, ldb = r->tb ? r->K : r->N;
    for (int64_t i = 0; i < r->batch; i++)
        raw_sgemm(r->ta, r->tb, r->M, r->N, r->K, r->A + i * r->M * r->K, lda, r->B + i * r->K * r->N, ldb, 0.0f,
                  r->C + i * r->M * r->N, r->N);
}

static void fill(zen_tensor *t, uint64_t seed) {
    zen_rng r;
    zen_rng_seed(&r, seed);
    zen_rng_fill_uniform(&r, t, -1, 1);
}

/* zen_matmul of [batch,] a (stored [K,M] if ta) and b (stored [N,K] if tb) vs raw BLAS. */
static void bench_matmul(const char *label, int64_t batch, int64_t M, int64_t N, int64_t K, bool ta, bool tb, int nt) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, nt);
    int nd = batch > 1 ? 3 : 2;
    int64_t sa[3] = {batch, ta ? K : M, ta ? M : K}, sb[3] = {batch, tb ? N : K, tb ? K : N};
    zen_tensor *a = zen_input(ctx, ZEN_F32, nd, nd == 3 ? sa : sa + 1);
    zen_tensor *b = zen_input(ctx, ZEN_F32, nd, nd == 3 ? sb : sb + 1);
    fill(a, 1), fill(b, 2);
    zen_tensor *c = zen_matmul(ctx, a, b, ta, tb);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, c);
    if (zen_graph_plan(g) != 0) {
        fprintf(stderr, "%s\n", zen_ctx_error(ctx));
        exit(1);
    }
    float *C = aligned_alloc(64, ((size_t)(batch * M * N) * sizeof(float) + 63) / 64 * 64);
    raw_args r = {ta, tb, M, N, K, batch, a->data, b->data, C};
    omp_set_num_threads(nt);
    bench_stats sz, sr;
    time_pair(run_graph, g, run_raw, &r, &sz, &sr);
    double tz = sz.median_ms * 1e-3, tr = sr.median_ms * 1e-3;
    /* the two must agree */
    double err = 0;
    for (int64_t i = 0; i < batch * M * N; i++) {
        double d = (double)((float *)c->data)[i] - C[i];
        err = d > err ? d : -d > err ? -d : err;
    }
    double flops = 2.0 * batch * M * N * K;
    printf("%-22s thr=%d  %5lldx%5lldx%5lld %s%s  zen %7.1f GF/s  raw %7.1f GF/s  ratio %.3f  (%.4f vs %.4f ms)%s\n",
           label, nt, (long long)M, (long long)N, (long long)K, ta ? "T" : "N", tb ? "T" : "N", flops / tz * 1e-9,
           flops / tr * 1e-9, tr / tz, tz * 1e3, tr * 1e3, err > 1e-3 ? "  MISMATCH" : "");
    char name[96];
    int len = snprintf(name, sizeof name, "matmul.");
    if (batch > 1) len += snprintf(name + len, sizeof name - (size_t)len, "b%lld.", (long long)batch);
    snprintf(name + len, sizeof name - (size_t)len, "%lldx%lldx%lld.%s%s", (long long)M, (long long)N, (long long)K,
             ta ? "T" : "N", tb ? "T" : "N");
    bench_result_kv(name, nt, sz, "raw_ms=%.4f raw_min_ms=%.4f gflops=%.1f raw_gflops=%.1f ratio=%.3f%s", sr.median_ms,
                 sr.min_ms, flops / tz * 1e-9, flops / tr * 1e-9, tr / tz, err > 1e-3 ? " MISMATCH=1" : "");
    free(C);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* zen_linear (bias fused: written into C, sgemm with beta 1) vs matmul + add nodes. */
static void bench_linear(const char *label, int64_t M, int64_t N, int64_t K, int nt) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, nt);
    zen_tensor *x = zen_input(ctx, ZEN_F32, 2, (int64_t[]){M, K});
    zen_tensor *w = zen_input(ctx, ZEN_F32, 2, (int64_t[]){N, K});
    zen_tensor *b = zen_input(ctx, ZEN_F32, 1, (int64_t[]){N});
    fill(x, 3), fill(w, 4), fill(b, 5);
    zen_tensor *fused = zen_linear(ctx, x, w, b);
    zen_tensor *split = zen_add(ctx, zen_matmul(ctx, x, w, false, true), b);
    zen_graph *g1 = zen_graph_new(ctx), *g2 = zen_graph_new(ctx);
    zen_graph_add(g1, fused);
    zen_graph_add(g2, split);
    if (zen_graph_plan(g1) || zen_graph_plan(g2)) exit(1);
    omp_set_num_threads(nt);
    bench_stats s1, s2;
    time_pair(run_graph, g1, run_graph, g2, &s1, &s2);
    double t1 = s1.median_ms * 1e-3, t2 = s2.median_ms * 1e-3;
    double flops = 2.0 * M * N * K;
    printf("%-22s thr=%d  %5lldx%5lldx%5lld NT  fused bias %7.1f GF/s  matmul+add %7.1f GF/s  (%.4f vs %.4f ms)\n",
           label, nt, (long long)M, (long long)N, (long long)K, flops / t1 * 1e-9, flops / t2 * 1e-9, t1 * 1e3,
           t2 * 1e3);
    char name[96];
    snprintf(name, sizeof name, "linear.%lldx%lldx%lld", (long long)M, (long long)N, (long long)K);
    bench_result_kv(name, nt, s1, "split_ms=%.4f gflops=%.1f", s2.median_ms, flops / t1 * 1e-9);
    zen_graph_free(g1);
    zen_graph_free(g2);
    zen_ctx_free(ctx);
}

int main(int argc, char **argv) {
    int threads[8];
    int nthr = bench_thread_list(argc, argv, 1, threads);
    printf("zen_matmul vs raw %s sgemm; median of alternating runs\n", BLAS_NAME);
    for (int ti = 0; ti < nthr; ti++) {
        int nt = threads[ti];
        for (int64_t n = 256; n <= 2048; n *= 2) bench_matmul("square", 1, n, n, n, false, false, nt);
        bench_matmul("square", 1, 1024, 1024, 1024, true, false, nt);
        bench_matmul("square", 1, 1024, 1024, 1024, false, true, nt);
        bench_matmul("mlp 784-128", 1, 64, 128, 784, false, false, nt);
        bench_matmul("mlp fwd x.W1^T", 1, 64, 128, 784, false, true, nt);
        bench_matmul("mlp fwd h.W2^T", 1, 64, 10, 128, false, true, nt);
        bench_matmul("mlp bwd dX=dH.W1", 1, 64, 784, 128, false, false, nt);
        bench_matmul("mlp bwd dW1=dH^T.X", 1, 128, 784, 64, true, false, nt);
        bench_matmul("mlp bwd dW2=dY^T.H", 1, 10, 128, 64, true, false, nt);
        bench_matmul("batch 64 small", 64, 64, 64, 64, false, false, nt);
        bench_matmul("batch 8 x 128^3", 8, 128, 128, 128, false, false, nt);
        bench_matmul("batch 8 x 192^3", 8, 192, 192, 192, false, false, nt);
        bench_matmul("batch 8 x 256^3", 8, 256, 256, 256, false, false, nt);
        bench_linear("linear mlp1", 64, 128, 784, nt);
        bench_linear("linear mlp2", 64, 10, 128, nt);
        bench_linear("linear 512x1024", 512, 1024, 1024, nt);
    }
    return 0;
}
