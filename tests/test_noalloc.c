#define _GNU_SOURCE /* dladdr, in alloc_counter.h */
/* A planned graph computes without touching the heap: malloc is interposed and counted
 * while a training graph (forward + backward) runs for the second time. */
#include "harness.h"

#include <stddef.h>

#include "alloc_counter.h"

TEST(test_steady_state_allocates_nothing) {
#if ALLOC_COUNTER_SUPPORTED
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_input(ctx, ZEN_F32, 2, (int64_t[]){64, 300});
    zen_tensor *w = zen_param(ctx, ZEN_F32, 1, (int64_t[]){300});
    zen_rng r;
    zen_rng_seed(&r, 9);
    zen_rng_fill_normal(&r, x, 0, 1);
    zen_rng_fill_normal(&r, w, 0, 1);
    zen_tensor *h = zen_relu(ctx, zen_mul(ctx, x, w));
    zen_tensor *s = zen_sum(ctx, zen_exp(ctx, zen_scale(ctx, zen_transpose(ctx, h, 0, 1), 0.1f)), 1, (int[]){0},
                            false);
    zen_tensor *loss = zen_mean(ctx, zen_log(ctx, s), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0);
    CHECK(zen_graph_compute(g) == 0); /* first run: thread pool start-up may allocate */
    alloc_counter_start();
    for (int i = 0; i < 5; i++) CHECK(zen_graph_compute(g) == 0);
    long allocations = alloc_counter_stop();
    printf("    allocations during 5 steady-state steps: %ld\n", allocations);
    CHECK(allocations == 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
#else
    printf("    skipped under AddressSanitizer\n");
#endif
}

/* The same for a CNN training step: conv2d, max-pool, matmul (BLAS), cross-entropy. oneDNN's
 * sgemm allocates its own scratch per call; those allocations are reported, not failed on. */
TEST(test_cnn_step_allocates_nothing) {
#if ALLOC_COUNTER_SUPPORTED
    zen_ctx *ctx = zen_ctx_new();
    zen_rng r;
    zen_rng_seed(&r, 4);
    zen_tensor *x = zen_input(ctx, ZEN_F32, 4, (int64_t[]){16, 1, 28, 28});
    zen_tensor *y = zen_input(ctx, ZEN_I32, 1, (int64_t[]){16});
    zen_tensor *k = zen_param(ctx, ZEN_F32, 4, (int64_t[]){8, 1, 3, 3});
    zen_tensor *w = zen_param(ctx, ZEN_F32, 2, (int64_t[]){10, 8 * 13 * 13});
    zen_rng_fill_normal(&r, x, 0, 1);
    zen_rng_fill_normal(&r, k, 0, 0.3f);
    zen_rng_fill_normal(&r, w, 0, 0.05f);
    for (int i = 0; i < 16; i++) ((int32_t *)y->data)[i] = i % 10;
    zen_tensor *h = zen_relu(ctx, zen_conv2d(ctx, x, k, NULL, (zen_conv2d_opts){0}));
    h = zen_max_pool2d(ctx, h, (zen_pool2d_opts){.kernel = {2, 2}});
    zen_tensor *loss = zen_cross_entropy(ctx, zen_linear(ctx, zen_flatten(ctx, h, 1), w, NULL), y);
    zen_graph *g = zen_graph_new(ctx);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0);
    CHECK(zen_graph_compute(g) == 0);
    alloc_counter_start();
    for (int i = 0; i < 5; i++) CHECK(zen_graph_compute(g) == 0);
    long allocations = alloc_counter_stop();
    printf("    allocations during 5 CNN training steps: %ld by zen, %ld inside the BLAS library\n", allocations,
           alloc_count_blas);
    CHECK(allocations == 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
#else
    printf("    skipped under a sanitizer\n");
#endif
}

int main(void) { return RUN_TESTS(test_steady_state_allocates_nothing, test_cnn_step_allocates_nothing); }
