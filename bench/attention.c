/* bench/attention.c — fused causal attention (zen_attention), forward and forward+backward,
 * at GPT-like shapes; the same work as bench/attention_torch.py.
 *
 *   build/bench/bench_attention [threads...]        (default: OMP_NUM_THREADS, else 1 2)
 *
 *   attn.b16h6t256d64   q, k, v [16, 6, 256, 64], causal (a GPT-2-small-like block at T 256)
 *   attn.b32h4t64d32    q, k, v [32, 4, 64, 32], causal (a small model at T 64)
 *
 * .fwd: the forward graph; .step: forward and the gradients of q, k and v for an incoming
 * gradient gy (torch: y.backward(gy)). Inputs are the same numbers in both programs, so the
 * check= sums of squares (of y; of dq for steps) should agree with torch's to ~5 digits.
 * ZEN_ATTN_FROM_OPS=1 times the composition softmax(q·kᵀ·scale + mask)·v from zen ops
 * instead of the fused op (what a model without zen_attention would run).
 *
 * Output: `RESULT <name>.<fwd|step> threads=t median_ms=.. min_ms=.. check=..` lines. */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_graph.h"

static void bench_shape(const char *name, int64_t B, int64_t H, int64_t T, int64_t D, int nt) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, nt);
    int64_t shape[4] = {B, H, T, D};
    zen_tensor *q = zen_param(ctx, ZEN_F32, 4, shape), *k = zen_param(ctx, ZEN_F32, 4, shape);
    zen_tensor *v = zen_param(ctx, ZEN_F32, 4, shape), *gy = zen_input(ctx, ZEN_F32, 4, shape);
    fill(q, 1, -2, 2);
    fill(k, 2, -2, 2);
    fill(v, 3, -1, 1);
    fill(gy, 4, -1, 1);
    zen_tensor *y;
    const char *from_ops = getenv("ZEN_ATTN_FROM_OPS");
    if (from_ops && !strcmp(from_ops, "1")) {
        zen_tensor *mask = zen_const(ctx, ZEN_F32, 2, (int64_t[]){T, T});
        for (int64_t i = 0; i < T; i++)
            for (int64_t j = 0; j < T; j++) ((float *)mask->data)[i * T + j] = j <= i ? 0.0f : -INFINITY;
        zen_tensor *s = zen_add(ctx, zen_scale(ctx, zen_matmul(ctx, q, k, false, true), 1 / sqrtf((float)D)), mask);
        y = zen_matmul(ctx, zen_softmax(ctx, s, -1), v, false, false);
    } else {
        y = zen_attention(ctx, q, k, v, NULL, (zen_attention_opts){.causal = true});
    }
    if (!y) die(ctx, name);
    char full[96];
    zen_graph *fwd = zen_graph_new(ctx);
    zen_graph_add(fwd, y);
    if (zen_graph_plan(fwd) != 0) die(ctx, "zen_graph_plan");
    bench_stats sf = bench_time(bench_run_graph, fwd, 2, 10, 0.5);
    snprintf(full, sizeof full, "%s.fwd", name);
    bench_result_kv(full, nt, sf, "check=%.6g", checksum(y));
    zen_graph_free(fwd);

    zen_graph *step = zen_graph_new(ctx);
    zen_graph_add(step, y);
    backward_from(step, y, gy);
    if (zen_graph_plan(step) != 0) die(ctx, "zen_graph_plan");
    bench_stats ss = bench_time(bench_run_graph, step, 2, 10, 0.5);
    snprintf(full, sizeof full, "%s.step", name);
    bench_result_kv(full, nt, ss, "check=%.6g peak_mb=%.1f", checksum(q->grad),
                    (double)zen_graph_peak_bytes(step) / 1048576.0);
    zen_graph_free(step);
    zen_ctx_free(ctx);
}

int main(int argc, char **argv) {
    int threads[8];
    int nthr = bench_thread_list(argc, argv, 1, threads);
    printf("# causal attention forward / forward+backward; ms per call, median of runs after warm-up\n");
    for (int i = 0; i < nthr; i++) {
        bench_shape("attn.b16h6t256d64", 16, 6, 256, 64, threads[i]);
        bench_shape("attn.b32h4t64d32", 32, 4, 64, 32, threads[i]);
    }
    return 0;
}
