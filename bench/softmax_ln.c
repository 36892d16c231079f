/* bench/softmax_ln.c — softmax, cross-entropy, a layernorm block and an elementwise chain,
 * forward and forward+backward, the same work as bench/softmax_ln_torch.py.
 *
 *   build/bench/bench_softmax_ln [threads...]      (default: OMP_NUM_THREADS, else 1 2)
 *
 *   softmax.4096x1024     y = softmax(x, -1)                       x [4096, 1024]
 *   ce.4096x1000          loss = cross_entropy(x, t)               x [4096, 1000], t i32 [4096]
 *                         (zen fuses log-softmax and NLL; torch: F.cross_entropy)
 *   ln_gelu.8192x768      y = gelu(layernorm(x) * gamma + beta) + x     x [8192, 768]
 *                         zen: zen_layer_norm (fused, src/ops/norm.c); with
 *                         ZEN_LN_FROM_OPS=1 layernorm from zen ops as before it existed:
 *                         mu = mean(x), xc = x - mu, var = mean(xc * xc),
 *                         xn = xc * rsqrt(var + 1e-5)       (all over the last axis)
 *                         torch: F.gelu(F.layer_norm(x, [768], gamma, beta)) + x
 *   chain.16M             y = exp(relu(x * w + z))                 x, w, z [16M]
 *
 * Each has a .fwd result (the forward graph) and a .step result: what torch does for
 * y.backward(gy) (loss.backward() for ce) with every input requiring a gradient, i.e. the
 * forward nodes and the gradient nodes of dx (and dgamma, dbeta; dw, dz). Inputs are the
 * same numbers in both programs (a multiplicative hash of the index), so the check= sums
 * of squares (of y, and of dx for steps) printed beside each result should agree with
 * torch's to about 5 digits.
 *
 * Output: `RESULT <name>.<fwd|step> threads=t median_ms=.. min_ms=.. check=..` lines. */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_graph.h"


typedef struct {
    zen_ctx *ctx;
    zen_tensor *y;        /* the forward output */
    zen_tensor *gy;       /* its incoming gradient (NULL: y is a scalar loss) */
    zen_tensor *x;        /* the input whose gradient is checked */
    int min_reps;         /* timed runs at least */
} work;

/* Times the forward graph of w->y, then the step graph (forward + gradients), and prints
 * both results. */
static void measure(const char *name, work *w, int nt) {
    zen_ctx *ctx = w->ctx;
    if (zen_ctx_error(ctx)) die(ctx, name);
    zen_graph *fwd = zen_graph_new(ctx);
    zen_graph_add(fwd, w->y);
    if (zen_graph_plan(fwd) != 0) die(ctx, "zen_graph_plan");
    bench_stats sf = bench_time(bench_run_graph, fwd, 2, w->min_reps, 0.5);
    char full[96];
    snprintf(full, sizeof full, "%s.fwd", name);
    bench_result_kv(full, nt, sf, "check=%.6g", checksum(w->y));
    zen_graph_free(fwd);

    zen_graph *step = zen_graph_new(ctx);
    zen_graph_add(step, w->y);
    if (w->gy) backward_from(step, w->y, w->gy);
    else if (zen_graph_backward(step, w->y) != 0) die(ctx, "zen_graph_backward");
    if (zen_graph_plan(step) != 0) die(ctx, "zen_graph_plan");
    bench_stats ss = bench_time(bench_run_graph, step, 2, w->min_reps, 0.5);
    snprintf(full, sizeof full, "%s.step", name);
    bench_result_kv(full, nt, ss, "check=%.6g nodes=%d", checksum(w->x->grad), zen_graph_n_nodes(step));
    zen_graph_free(step);
}

static void bench_softmax(int nt) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, nt);
    int64_t shape[2] = {4096, 1024};
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, shape), *gy = zen_input(ctx, ZEN_F32, 2, shape);
    fill(x, 1, -4, 4);
    fill(gy, 2, -1, 1);
    work w = {ctx, zen_softmax(ctx, x, -1), gy, x, 20};
    measure("softmax.4096x1024", &w, nt);
    zen_ctx_free(ctx);
}

static void bench_ce(int nt) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, nt);
    const int64_t N = 4096, C = 1000;
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){N, C});
    zen_tensor *t = zen_input(ctx, ZEN_I32, 1, (int64_t[]){N});
    fill(x, 3, -4, 4);
    for (int64_t i = 0; i < N; i++) ((int32_t *)t->data)[i] = (int32_t)((i * 7919 + 13) % C);
    work w = {ctx, zen_cross_entropy(ctx, x, t), NULL, x, 20};
    measure("ce.4096x1000", &w, nt);
    zen_ctx_free(ctx);
}

/* gelu(layernorm(x) * gamma + beta) + x over the last axis: the fused op, or (with
 * ZEN_LN_FROM_OPS=1) built from zen ops. */
static zen_tensor *ln_gelu(zen_ctx *ctx, zen_tensor *x, zen_tensor *gamma, zen_tensor *beta) {
    const char *from_ops = getenv("ZEN_LN_FROM_OPS");
    if (!from_ops || strcmp(from_ops, "1") != 0) return zen_add(ctx, zen_gelu(ctx, zen_layer_norm(ctx, x, gamma, beta, 1e-5f)), x);
    const int axis = -1;
    zen_tensor *mu = zen_mean(ctx, x, 1, &axis, true);
    zen_tensor *xc = zen_sub(ctx, x, mu);
    zen_tensor *var = zen_mean(ctx, zen_mul(ctx, xc, xc), 1, &axis, true);
    zen_tensor *rstd = zen_rsqrt(ctx, zen_add(ctx, var, zen_scalar(ctx, 1e-5f)));
    zen_tensor *xn = zen_mul(ctx, xc, rstd);
    zen_tensor *h = zen_add(ctx, zen_mul(ctx, xn, gamma), beta);
    return zen_add(ctx, zen_gelu(ctx, h), x);
}

static void bench_ln(int nt) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, nt);
    int64_t shape[2] = {8192, 768};
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, shape), *gy = zen_input(ctx, ZEN_F32, 2, shape);
    zen_tensor *gamma = zen_param(ctx, ZEN_F32, 1, shape + 1), *beta = zen_param(ctx, ZEN_F32, 1, shape + 1);
    fill(x, 4, -2, 2);
    fill(gy, 5, -1, 1);
    fill(gamma, 6, 0.5f, 1.5f);
    fill(beta, 7, -0.5f, 0.5f);
    work w = {ctx, ln_gelu(ctx, x, gamma, beta), gy, x, 20};
    measure("ln_gelu.8192x768", &w, nt);
    zen_ctx_free(ctx);
}

static void bench_chain(int nt) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, nt);
    int64_t n = 16 << 20;
    zen_tensor *x = zen_param(ctx, ZEN_F32, 1, &n), *wt = zen_param(ctx, ZEN_F32, 1, &n);
    zen_tensor *z = zen_param(ctx, ZEN_F32, 1, &n), *gy = zen_input(ctx, ZEN_F32, 1, &n);
    fill(x, 8, -1, 1);
    fill(wt, 9, -1, 1);
    fill(z, 10, -1, 1);
    fill(gy, 11, -1, 1);
    zen_tensor *y = zen_exp(ctx, zen_relu(ctx, zen_add(ctx, zen_mul(ctx, x, wt), z)));
    work w = {ctx, y, gy, x, 10};
    measure("chain.16M", &w, nt);
    zen_ctx_free(ctx);
}

int main(int argc, char **argv) {
    int threads[8];
    int nthr = bench_thread_list(argc, argv, 1, threads);
    printf("# softmax / cross-entropy / layernorm+gelu / elementwise chain; ms per call, median of runs "
           "after warm-up\n");
    for (int i = 0; i < nthr; i++) {
        bench_softmax(threads[i]);
        bench_ce(threads[i]);
        bench_ln(threads[i]);
        bench_chain(threads[i]);
    }
    return 0;
}
