/* A planned graph computes without touching the heap: malloc is interposed and counted
 * while a training graph (forward + backward) runs for the second time. */
#include "harness.h"

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#define NOALLOC_SUPPORTED 0 /* ASan owns malloc; the count is meaningless there */
#else
#define NOALLOC_SUPPORTED 1
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
static volatile int counting;
static volatile long allocations;

void *malloc(size_t n) {
    if (counting) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    return __libc_malloc(n);
}
void *calloc(size_t a, size_t b) {
    if (counting) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    return __libc_calloc(a, b);
}
void *realloc(void *p, size_t n) {
    if (counting) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    return __libc_realloc(p, n);
}
int posix_memalign(void **p, size_t align, size_t n) {
    if (counting) __atomic_add_fetch(&allocations, 1, __ATOMIC_RELAXED);
    *p = __libc_memalign(align, n);
    return *p ? 0 : 12;
}
#endif

TEST(test_steady_state_allocates_nothing) {
#if NOALLOC_SUPPORTED
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
    counting = 1;
    for (int i = 0; i < 5; i++) CHECK(zen_graph_compute(g) == 0);
    counting = 0;
    printf("    allocations during 5 steady-state steps: %ld\n", allocations);
    CHECK(allocations == 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
#else
    printf("    skipped under AddressSanitizer\n");
#endif
}

int main(void) { return RUN_TESTS(test_steady_state_allocates_nothing); }
