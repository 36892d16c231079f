/* softmax and log_softmax along every axis vs PyTorch; gradients vs PyTorch and finite
 * differences; large rows and columns on the threaded paths vs a naive reference; errors. */
#include "harness.h"

#include <string.h>

static fx_file *f;

typedef zen_tensor *(*softmax_fn)(zen_ctx *, zen_tensor *, int);

static void check_family(const char *prefix, softmax_fn fn) {
    const char *const *cases = fx_cases(f, prefix);
    int n = 0;
    for (; cases[n]; n++) {
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.x", cases[n]);
        zen_tensor *x = fx_param(ctx, f, key);
        snprintf(key, sizeof key, "%s.p.axis", cases[n]);
        zen_tensor *y = fn(ctx, x, fx_int(f, key));
        CHECK_OK(ctx, y);
        int fails = fx_check_op(ctx, f, cases[n], y, 1, &x, (const char *[]){"x"}, 1);
        if (fails) fprintf(stderr, "  (case %s)\n", cases[n]);
        CHECK(fails == 0);
        zen_ctx_free(ctx);
    }
    CHECK(n == 7);
}

TEST(test_softmax) { check_family("softmax_", zen_softmax); }
TEST(test_log_softmax) { check_family("log_softmax_", zen_log_softmax); }

/* Softmax of a transposed (non-dense) view: copied first, same values. */
TEST(test_softmax_view) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = fx_param(ctx, f, "softmax_ax4.x"); /* [3, 4, 5], softmax on axis 1 */
    zen_tensor *xt = zen_transpose(ctx, x, 1, 2);      /* [3, 5, 4] */
    zen_tensor *y = zen_transpose(ctx, zen_softmax(ctx, xt, 2), 1, 2);
    CHECK(fx_check_op(ctx, f, "softmax_ax4", y, 1, &x, (const char *[]){"x"}, 1) == 0);
    zen_ctx_free(ctx);
}

/* Large inputs: every path threaded (rows, and columns with several blocks), checked
 * forward and backward against a double-precision reference. */
static void check_large(int64_t A, int64_t R, int64_t B, bool lg) {
    zen_ctx *ctx = zen_ctx_new();
    zen_rng r;
    zen_rng_seed(&r, 9);
    int axis = 1;
    zen_tensor *x = zen_param(ctx, ZEN_F32, 3, (int64_t[]){A, R, B});
    zen_rng_fill_uniform(&r, x, -8, 8);
    zen_tensor *gy = zen_const(ctx, ZEN_F32, 3, (int64_t[]){A, R, B});
    zen_rng_fill_uniform(&r, gy, -1, 1);
    zen_tensor *y = lg ? zen_log_softmax(ctx, x, axis) : zen_softmax(ctx, x, axis);
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, y, gy), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *X = x->data, *Y = y->data, *G = gy->data, *DX = x->grad->data;
    double ey = 0, eg = 0;
    double *p = malloc((size_t)R * sizeof *p);
    for (int64_t a = 0; a < A; a++)
        for (int64_t b = 0; b < B; b++) {
#define IDX(rr) ((a * R + (rr)) * B + b)
            double m = -INFINITY, s = 0, gs = 0, gp = 0;
            for (int64_t i = 0; i < R; i++) m = fmax(m, X[IDX(i)]);
            for (int64_t i = 0; i < R; i++) s += exp(X[IDX(i)] - m);
            for (int64_t i = 0; i < R; i++) {
                p[i] = exp(X[IDX(i)] - m) / s;
                gs += G[IDX(i)];
                gp += G[IDX(i)] * p[i];
            }
            for (int64_t i = 0; i < R; i++) {
                double want = lg ? X[IDX(i)] - m - log(s) : p[i];
                double dwant = lg ? G[IDX(i)] - p[i] * gs : p[i] * (G[IDX(i)] - gp);
                ey = fmax(ey, fabs(want - Y[IDX(i)]));
                eg = fmax(eg, fabs(dwant - DX[IDX(i)]));
            }
#undef IDX
        }
    free(p);
    if (!(ey < 2e-5 && eg < 2e-5))
        fprintf(stderr, "  [%lld, %lld, %lld] %s: errors %g %g\n", (long long)A, (long long)R, (long long)B,
                lg ? "log_softmax" : "softmax", ey, eg);
    CHECK(ey < 2e-5 && eg < 2e-5);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_large) {
    for (int lg = 0; lg < 2; lg++) {
        check_large(300, 500, 1, lg); /* rows */
        check_large(6, 40, 700, lg);  /* column blocks, the last one partial */
    }
}

/* exp(x - max) keeps huge logits finite; -inf entries get probability 0. */
TEST(test_extremes) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_input(ctx, ZEN_F32, 1, (int64_t[]){4});
    float *xd = x->data;
    xd[0] = 1000, xd[1] = 1000, xd[2] = -INFINITY, xd[3] = -1000;
    zen_tensor *y = zen_softmax(ctx, x, 0), *ly = zen_log_softmax(ctx, x, -1);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    zen_graph_add(g, ly);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *Y = y->data, *L = ly->data;
    CHECK(Y[0] == 0.5f && Y[1] == 0.5f && Y[2] == 0.0f && Y[3] == 0.0f);
    CHECK_NEAR(L[0], -logf(2.0f), 1e-6);
    CHECK(isinf(L[2]) && L[2] < 0);
    CHECK_NEAR(L[3], -2000 - logf(2.0f), 1e-2);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_scalar) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_scalar(ctx, 3.0f);
    zen_tensor *y = zen_softmax(ctx, x, 0), *ly = zen_log_softmax(ctx, x, -1);
    CHECK_OK(ctx, ly);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    zen_graph_add(g, ly);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    CHECK(*(float *)y->data == 1.0f && *(float *)ly->data == 0.0f);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){2, 3});
    CHECK(zen_softmax(ctx, x, 2) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_softmax: axis 2 is out of range"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_log_softmax(ctx, x, -3) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_log_softmax: axis -3 is out of range"));
    zen_ctx_clear_error(ctx);
    zen_tensor *i = zen_input(ctx, ZEN_I32, 1, (int64_t[]){3});
    CHECK(zen_softmax(ctx, i, 0) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_softmax: x must be f32, got i32"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_softmax(ctx, NULL, 0) == NULL && !zen_ctx_error(ctx));
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("softmax.safetensors");
    int rc = RUN_TESTS(test_softmax, test_log_softmax, test_softmax_view, test_large, test_extremes, test_scalar,
                       test_errors);
    fx_close(f);
    return rc;
}
