/* add, sub, mul, div: forward and gradients vs PyTorch, gradients vs finite differences. */
#include "harness.h"

#include <string.h>

typedef zen_tensor *(*binary_fn)(zen_ctx *, zen_tensor *, zen_tensor *);

static void check_family(const char *prefix, binary_fn fn) {
    fx_file *f = fx_open("binary.safetensors");
    const char *const *cases = fx_cases(f, prefix);
    int n = 0;
    for (; cases[n]; n++) {
        char ka[128], kb[128];
        snprintf(ka, sizeof ka, "%s.a", cases[n]);
        snprintf(kb, sizeof kb, "%s.b", cases[n]);
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *a = fx_param(ctx, f, ka), *b = fx_param(ctx, f, kb);
        zen_tensor *in[] = {a, b};
        const char *names[] = {"a", "b"};
        CHECK(fx_check_op(ctx, f, cases[n], fn(ctx, a, b), 2, in, names, 1) == 0);
        zen_ctx_free(ctx);
    }
    CHECK(n >= 5);
    fx_close(f);
}

TEST(test_add) { check_family("add", zen_add); }
TEST(test_sub) { check_family("sub", zen_sub); }
TEST(test_mul) { check_family("mul", zen_mul); }
TEST(test_div) { check_family("div", zen_div); }

/* fn(x, x): one tensor on both sides (mul's gradient takes a shortcut for x * x). */
static void check_same(const char *name, binary_fn fn) {
    fx_file *f = fx_open("binary.safetensors");
    char key[128];
    snprintf(key, sizeof key, "same_%s.a", name);
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *a = fx_param(ctx, f, key);
    const char *names[] = {"a"};
    snprintf(key, sizeof key, "same_%s", name);
    CHECK(fx_check_op(ctx, f, key, fn(ctx, a, a), 1, &a, names, 1) == 0);
    zen_ctx_free(ctx);
    fx_close(f);
}

TEST(test_same_operand) {
    check_same("add", zen_add);
    check_same("sub", zen_sub);
    check_same("mul", zen_mul);
    check_same("div", zen_div);
}

/* x * x in a larger graph (threaded path): the gradient of sum(w * x * x) is exactly
 * 2 * (w * x) * ... as torch computes it: (g * x) + (g * x) with g = w. */
TEST(test_square_large) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){300, 1000});
    zen_tensor *w = zen_input(ctx, ZEN_F32, 2, (int64_t[]){300, 1000});
    zen_rng r;
    zen_rng_seed(&r, 2);
    zen_rng_fill_normal(&r, x, 0, 1);
    zen_rng_fill_normal(&r, w, 0, 1);
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, w, zen_mul(ctx, x, x)), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, loss);
    CHECK(zen_graph_backward(g, loss) == 0);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *X = x->data, *W = w->data, *G = x->grad->data;
    int bad = 0;
    for (int i = 0; i < 300 * 1000; i++) {
        float gx = W[i] * X[i];
        bad += G[i] != gx + gx;
    }
    CHECK(bad == 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_broadcast_error) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *a = zen_param(ctx, ZEN_F32, 2, (int64_t[]){2, 3});
    zen_tensor *b = zen_param(ctx, ZEN_F32, 2, (int64_t[]){4, 3});
    CHECK(zen_add(ctx, a, b) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "[2, 3] and [4, 3]"));
    /* a failed op makes the next one fail quietly, keeping the first message */
    CHECK(zen_mul(ctx, zen_add(ctx, a, b), a) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_add"));
    zen_ctx_free(ctx);
}

/* Large tensors take the multi-threaded, chunked paths of the elementwise driver. */
TEST(test_large_broadcast) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *a = zen_param(ctx, ZEN_F32, 2, (int64_t[]){300, 1000});
    zen_tensor *b = zen_param(ctx, ZEN_F32, 1, (int64_t[]){1000});
    zen_rng r;
    zen_rng_seed(&r, 1);
    zen_rng_fill_normal(&r, a, 0, 1);
    zen_rng_fill_normal(&r, b, 0, 1);
    zen_tensor *y = zen_mul(ctx, zen_transpose(ctx, a, 0, 1), zen_reshape(ctx, b, 2, (int64_t[]){1000, 1}));
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *A = a->data, *B = b->data, *Y = y->data;
    int bad = 0;
    for (int i = 0; i < 1000; i++)
        for (int j = 0; j < 300; j++) bad += Y[i * 300 + j] != A[j * 1000 + i] * B[i];
    CHECK(bad == 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

int main(void) {
    return RUN_TESTS(test_add, test_sub, test_mul, test_div, test_same_operand, test_square_large, test_broadcast_error,
                     test_large_broadcast);
}
