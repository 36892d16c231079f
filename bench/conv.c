/* bench/conv.c — conv2d forward and forward+backward time per step, as in training.
 *
 *   build/bench/bench_conv [threads...]      (default: OMP_NUM_THREADS, else 1 2)
 *
 * Layers: the MNIST reference layer (batch 64, 1 -> 32 channels, 3x3 on 28x28, input
 * without gradient: dw and db only) and a mid-size layer (batch 32, 64 -> 64, 3x3 on
 * 28x28, padding 1, input with gradient: dx, dw, db). A step is what torch does for
 *   y = F.conv2d(x, w, b); y.backward(gy)
 * with gy given: the conv node, then the gradient nodes its backward rule builds. The
 * median of repeated runs (after warm-up) is printed in ms, with the fastest run beside
 * it, as a table and as `RESULT conv.<layer>.<fwd|step>` lines; bench/conv_torch.py
 * prints the same names for PyTorch (bench/compare.py puts them side by side). */
#include "bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"
#include "zen.h"

typedef struct {
    const char *name;
    int N, C, H, W, OC, K, pad;
    bool input_grad;
} layer;

static const layer layers[] = {
    {"mnist", 64, 1, 28, 28, 32, 3, 0, false},
    {"mid", 32, 64, 28, 28, 64, 3, 1, true},
};

static void run(const layer *L, int threads) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, threads);
    int64_t xs[4] = {L->N, L->C, L->H, L->W};
    zen_tensor *x = L->input_grad ? zen_param(ctx, ZEN_F32, 4, xs) : zen_input(ctx, ZEN_F32, 4, xs);
    zen_tensor *w = zen_param(ctx, ZEN_F32, 4, (int64_t[]){L->OC, L->C, L->K, L->K});
    zen_tensor *b = zen_param(ctx, ZEN_F32, 1, (int64_t[]){L->OC});
    zen_rng r;
    zen_rng_seed(&r, 1);
    zen_rng_fill_uniform(&r, x, -1, 1);
    zen_rng_fill_uniform(&r, w, -0.3f, 0.3f);
    zen_rng_fill_uniform(&r, b, -0.1f, 0.1f);
    zen_conv2d_opts o = {{1, 1}, {L->pad, L->pad}, {1, 1}, 1};
    zen_tensor *y = zen_conv2d(ctx, x, w, b, o);
    if (!y) {
        fprintf(stderr, "%s\n", zen_ctx_error(ctx));
        exit(1);
    }
    zen_tensor *gy = zen_input(ctx, ZEN_F32, 4, y->shape);
    zen_rng_fill_uniform(&r, gy, -1, 1);

    zen_graph *fwd = zen_graph_new(ctx);
    zen_graph_add(fwd, y);
    zen_graph_plan(fwd);
    bench_stats f = bench_time(bench_run_graph, fwd, 3, 20, 0.5);

    /* y.backward(gy): the conv's own backward rule, fed gy directly. */
    y->grad = gy;
    zen_op_table[y->op]->backward(ctx, y);
    zen_graph *step = zen_graph_new(ctx);
    zen_graph_add(step, y);
    zen_graph_add(step, w->grad);
    zen_graph_add(step, b->grad);
    if (L->input_grad) zen_graph_add(step, x->grad);
    if (zen_ctx_error(ctx) || zen_graph_plan(step) != 0) {
        fprintf(stderr, "%s\n", zen_ctx_error(ctx));
        exit(1);
    }
    bench_stats st = bench_time(bench_run_graph, step, 3, 20, 0.5);
    printf("# %-6s %d  %9.3f  %9.3f  %9.3f  %9.3f\n", L->name, threads, f.median_ms, st.median_ms, f.min_ms,
           st.min_ms);
    char name[64];
    snprintf(name, sizeof name, "conv.%s.fwd", L->name);
    bench_result(name, threads, f);
    snprintf(name, sizeof name, "conv.%s.step", L->name);
    bench_result(name, threads, st);
    zen_graph_free(fwd);
    zen_graph_free(step);
    zen_ctx_free(ctx);
}

int main(int argc, char **argv) {
    int threads[8];
    int nthr = bench_thread_list(argc, argv, 1, threads);
    printf("# conv2d, median of repeated runs (>= 20, >= 0.5 s), ms per step\n");
    printf("# %-6s %s  %9s  %9s  %9s  %9s\n", "layer", "t", "fwd_ms", "step_ms", "fwd_min", "step_min");
    for (size_t i = 0; i < sizeof layers / sizeof layers[0]; i++)
        for (int t = 0; t < nthr; t++) run(&layers[i], threads[t]);
    return 0;
}
