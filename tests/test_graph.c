/* Graph building, autodiff bookkeeping and the memory planner. */
#include "harness.h"

#include <string.h>

static zen_tensor *param_filled(zen_ctx *ctx, int n, const float *v) {
    zen_tensor *t = zen_param(ctx, ZEN_F32, 1, (int64_t[]){n});
    memcpy(t->data, v, (size_t)n * sizeof(float));
    return t;
}

static int run(zen_ctx *ctx, zen_graph *g) {
    int rc = zen_graph_plan(g) || zen_graph_compute(g);
    if (rc) fprintf(stderr, "  %s\n", zen_ctx_error(ctx));
    return rc;
}

/* y = sum(x * x + x): x fans out three times; dy/dx = 2x + 1. */
TEST(test_fan_out) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = param_filled(ctx, 3, (float[]){1, -2, 0.5f});
    zen_tensor *y = zen_sum(ctx, zen_add(ctx, zen_mul(ctx, x, x), x), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    CHECK(zen_graph_backward(g, y) == 0);
    CHECK(run(ctx, g) == 0);
    const float *gx = x->grad->data;
    CHECK_NEAR(gx[0], 3, 1e-6);
    CHECK_NEAR(gx[1], -3, 1e-6);
    CHECK_NEAR(gx[2], 2, 1e-6);
    CHECK_NEAR(*(float *)y->data, 1 + 4 + 0.25 + 1 - 2 + 0.5, 1e-6);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* One parameter used by two branches (shared weights): gradients add. */
TEST(test_shared_param) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *w = param_filled(ctx, 2, (float[]){2, 3});
    zen_tensor *a = zen_const(ctx, ZEN_F32, 1, (int64_t[]){2});
    zen_tensor *b = zen_const(ctx, ZEN_F32, 1, (int64_t[]){2});
    memcpy(a->data, (float[]){1, 10}, 8);
    memcpy(b->data, (float[]){100, 1000}, 8);
    /* L = sum(w*a) + sum(w*b)  =>  dL/dw = a + b */
    zen_tensor *l = zen_add(ctx, zen_sum(ctx, zen_mul(ctx, w, a), 0, NULL, false),
                            zen_sum(ctx, zen_mul(ctx, w, b), 0, NULL, false));
    zen_graph *g = zen_graph_new(ctx);
    CHECK(zen_graph_backward(g, l) == 0 && run(ctx, g) == 0);
    CHECK_NEAR(((float *)w->grad->data)[0], 101, 1e-5);
    CHECK_NEAR(((float *)w->grad->data)[1], 1010, 1e-5);
    /* constants get no gradient */
    CHECK(a->grad == NULL && b->grad == NULL);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* Gradients flow through views: a transposed, sliced, reshaped parameter. */
TEST(test_views_gradient) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3, 4});
    for (int i = 0; i < 12; i++) ((float *)x->data)[i] = (float)i;
    zen_tensor *t = zen_transpose(ctx, x, 0, 1);          /* [4, 3] view */
    zen_tensor *s = zen_slice(ctx, t, 0, 1, 3, 1);        /* rows 1..2 of t = columns 1..2 of x */
    zen_tensor *r = zen_reshape(ctx, s, 1, (int64_t[]){6}); /* copies (not contiguous) */
    zen_tensor *w = zen_const(ctx, ZEN_F32, 1, (int64_t[]){6});
    for (int i = 0; i < 6; i++) ((float *)w->data)[i] = (float)(i + 1);
    zen_tensor *l = zen_sum(ctx, zen_mul(ctx, r, w), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    CHECK(zen_graph_backward(g, l) == 0 && run(ctx, g) == 0);
    /* r = [x[0][1], x[1][1], x[2][1], x[0][2], x[1][2], x[2][2]] */
    const float *gx = x->grad->data;
    float expect[12] = {0, 1, 4, 0, 0, 2, 5, 0, 0, 3, 6, 0}; /* x[i][1] = i+1, x[i][2] = i+4 */
    for (int i = 0; i < 12; i++) CHECK_NEAR(gx[i], expect[i], 0);
    CHECK_NEAR(*(float *)l->data, 1 * 1 + 2 * 5 + 3 * 9 + 4 * 2 + 5 * 6 + 6 * 10, 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* The same node read twice by one op (x * x) and a graph with two outputs. */
TEST(test_node_used_twice) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = param_filled(ctx, 2, (float[]){3, 4});
    zen_tensor *sq = zen_mul(ctx, x, x);
    zen_tensor *l = zen_sum(ctx, sq, 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, sq); /* an extra output stays readable after compute */
    CHECK(zen_graph_backward(g, l) == 0 && run(ctx, g) == 0);
    CHECK_NEAR(((float *)x->grad->data)[0], 6, 0);
    CHECK_NEAR(((float *)x->grad->data)[1], 8, 0);
    CHECK_NEAR(((float *)sq->data)[1], 16, 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* A parameter the loss does not depend on gets no gradient; backward of a non-scalar
 * loss is refused with a message. */
TEST(test_backward_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = param_filled(ctx, 2, (float[]){1, 2});
    zen_tensor *unused = param_filled(ctx, 2, (float[]){1, 2});
    zen_graph *g = zen_graph_new(ctx);
    CHECK(zen_graph_backward(g, zen_mul(ctx, x, x)) != 0);
    CHECK(strstr(zen_ctx_error(ctx), "single f32 value"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_graph_backward(g, zen_sum(ctx, x, 0, NULL, false)) == 0);
    CHECK(unused->grad == NULL && x->grad != NULL);
    CHECK(zen_graph_add(g, NULL) != 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* Compute without plan, and after the graph grew, is refused. */
TEST(test_plan_required) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = param_filled(ctx, 2, (float[]){1, 2});
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, zen_exp(ctx, x));
    CHECK(zen_graph_compute(g) != 0);
    CHECK(strstr(zen_ctx_error(ctx), "zen_graph_plan"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    zen_graph_add(g, zen_log(ctx, x));
    CHECK(zen_graph_compute(g) != 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* A deep chain (an unrolled recurrence) does not overflow any stack, and the planner keeps
 * only a few activations alive in the forward-only graph. */
TEST(test_deep_chain_and_planner) {
    zen_ctx *ctx = zen_ctx_new();
    const int depth = 20000, width = 256;
    zen_tensor *x = zen_input(ctx, ZEN_F32, 1, (int64_t[]){width});
    zen_fill_f32(x, 1.0f);
    zen_tensor *h = x;
    for (int i = 0; i < depth; i++) h = zen_scale(ctx, zen_add(ctx, h, x), 0.5f);
    zen_graph *g = zen_graph_new(ctx);
    CHECK(zen_graph_add(g, h) == 0);
    CHECK(run(ctx, g) == 0);
    CHECK_NEAR(((float *)h->data)[7], 1.0, 1e-6);
    size_t per = (size_t)width * sizeof(float);
    CHECK(zen_graph_naive_bytes(g) >= (size_t)2 * depth * per);
    CHECK(zen_graph_peak_bytes(g) <= 3 * per); /* two live buffers at a time */
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* Training graph of a small MLP-like chain: peak well below the naive sum, and outputs
 * identical to an unplanned (naive) evaluation. */
TEST(test_planner_training) {
    zen_ctx *ctx = zen_ctx_new();
    const int layers = 12, n = 4096;
    zen_tensor *x = zen_input(ctx, ZEN_F32, 1, (int64_t[]){n});
    zen_rng r;
    zen_rng_seed(&r, 5);
    zen_rng_fill_uniform(&r, x, -1, 1);
    zen_tensor *ws[12];
    zen_tensor *h = x;
    for (int i = 0; i < layers; i++) {
        ws[i] = zen_param(ctx, ZEN_F32, 1, (int64_t[]){n});
        zen_rng_fill_uniform(&r, ws[i], 0.5f, 1.5f);
        h = zen_relu(ctx, zen_add(ctx, zen_mul(ctx, h, ws[i]), x));
    }
    zen_tensor *l = zen_sum(ctx, h, 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    CHECK(zen_graph_backward(g, l) == 0 && run(ctx, g) == 0);
    size_t peak = zen_graph_peak_bytes(g), naive = zen_graph_naive_bytes(g);
    printf("    planner: peak %zu bytes, naive %zu bytes (%.0f%%)\n", peak, naive, 100.0 * peak / naive);
    CHECK(peak < naive / 2);

    /* Reference: evaluate the same chain by hand in double. */
    const float *X = x->data;
    double grad_ok = 1, loss = 0;
    for (int j = 0; j < n; j++) {
        double v = X[j], pre[12];
        for (int i = 0; i < layers; i++) {
            pre[i] = v * ((float *)ws[i]->data)[j] + X[j];
            v = pre[i] > 0 ? pre[i] : 0;
        }
        loss += v;
        /* dL/dw_0[j] = prod of relu' and w's downstream times the input to layer 0 */
        double d = 1;
        for (int i = layers - 1; i >= 1; i--) d *= (pre[i] > 0) * ((float *)ws[i]->data)[j];
        d *= (pre[0] > 0) * X[j];
        double got = ((float *)ws[0]->grad->data)[j];
        if (fabs(got - d) > 1e-4 * (1 + fabs(d))) grad_ok = 0;
    }
    CHECK_NEAR(*(float *)l->data, loss, 1e-3 * fabs(loss));
    CHECK(grad_ok);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* Two graphs share forward nodes (training and inference); each keeps its own plan. */
TEST(test_two_graphs_share_nodes) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = param_filled(ctx, 2, (float[]){1, 2});
    zen_tensor *y = zen_exp(ctx, x);
    zen_tensor *l = zen_sum(ctx, zen_mul(ctx, y, y), 0, NULL, false);
    zen_graph *train = zen_graph_new(ctx), *infer = zen_graph_new(ctx);
    CHECK(zen_graph_backward(train, l) == 0 && zen_graph_plan(train) == 0);
    CHECK(zen_graph_add(infer, y) == 0 && zen_graph_plan(infer) == 0);
    CHECK(zen_graph_compute(infer) == 0);
    CHECK_NEAR(((float *)y->data)[1], exp(2.0), 1e-5);
    CHECK(zen_graph_compute(train) == 0);
    CHECK_NEAR(((float *)x->grad->data)[0], 2 * exp(2.0), 1e-4);
    ((float *)x->data)[1] = 0;
    CHECK(zen_graph_compute(infer) == 0);
    CHECK_NEAR(((float *)y->data)[1], 1.0, 1e-6);
    zen_graph_free(train);
    zen_graph_free(infer);
    zen_ctx_free(ctx);
}

/* Leaves validate their shapes. */
TEST(test_leaf_errors) {
    zen_ctx *ctx = zen_ctx_new();
    CHECK(zen_param(ctx, ZEN_F32, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1}) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "9 dimensions"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_input(ctx, ZEN_F32, 2, (int64_t[]){2, -1}) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "negative"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_input(ctx, ZEN_F32, 2, (int64_t[]){INT64_MAX / 2, 4}) == NULL);
    zen_ctx_clear_error(ctx);
    zen_tensor *t = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3, 5});
    CHECK(t && ((uintptr_t)t->data % ZEN_ALIGN) == 0);
    CHECK(zen_input(ctx, ZEN_Q8_0, 1, (int64_t[]){33}) == NULL); /* not a whole block */
    zen_ctx_free(ctx);
}

int main(void) {
    return RUN_TESTS(test_fan_out, test_shared_param, test_views_gradient, test_node_used_twice,
                     test_backward_errors, test_plan_required, test_deep_chain_and_planner,
                     test_planner_training, test_two_graphs_share_nodes, test_leaf_errors);
}
