/* constant pad vs PyTorch (every axis, values, crops by negative pads); gradients vs
 * PyTorch and finite differences; strided input, i32, a threaded large case, errors. */
#include "harness.h"

#include <string.h>

static fx_file *f;

TEST(test_fixtures) {
    const char *const *cases = fx_cases(f, "");
    int ncases = 0;
    for (; cases[ncases]; ncases++) {
        const char *c = cases[ncases];
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.x", c);
        zen_tensor *x = fx_param(ctx, f, key);
        int64_t pads[16];
        snprintf(key, sizeof key, "%s.p.pads", c);
        CHECK(fx_ints(f, key, pads, 16) == 2 * x->ndim);
        snprintf(key, sizeof key, "%s.p.value", c);
        zen_tensor *y = zen_pad(ctx, x, pads, fx_float(f, key));
        CHECK(fx_check_op(ctx, f, c, y, 1, &x, (const char *[]){"x"}, 1) == 0);
        zen_ctx_free(ctx);
    }
    CHECK(ncases == 10);
}

/* Naive reference: out[c] = x[c - before] inside, value outside. */
static int64_t count_bad(const zen_tensor *y, const zen_tensor *x, const int64_t *pads, float value) {
    int64_t n = zen_numel(y), bad = 0, idx[ZEN_MAX_DIMS], xi[ZEN_MAX_DIMS];
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i;
        bool inside = true;
        for (int d = y->ndim - 1; d >= 0; d--) {
            idx[d] = rem % y->shape[d];
            rem /= y->shape[d];
            xi[d] = idx[d] - pads[2 * d];
            inside = inside && xi[d] >= 0 && xi[d] < x->shape[d];
        }
        float want = inside ? zen_get_f32(x, xi) : value;
        bad += zen_get_f32(y, idx) != want;
    }
    return bad;
}

/* Large shapes take the threaded row and chunked-row paths; the gradient is the interior
 * of the upstream gradient. A strided (transposed) input is read through its strides. */
TEST(test_large) {
    struct { int ndim; int64_t shape[4]; int64_t pads[8]; bool transpose; } cases[] = {
        {1, {200000}, {3, 5}, false},
        {2, {600, 300}, {1, 2, 0, 0}, false},
        {2, {600, 300}, {0, 0, 7, 1}, false},
        {4, {4, 8, 30, 40}, {0, 0, 0, 0, 1, 1, 2, 2}, false},
        {3, {50, 40, 30}, {0, 0, 2, 1, 0, 3}, true},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *x = zen_param(ctx, ZEN_F32, cases[k].ndim, cases[k].shape);
        zen_rng rng;
        zen_rng_seed(&rng, 11 + k);
        zen_rng_fill_uniform(&rng, x, -1, 1);
        zen_tensor *xin = cases[k].transpose ? zen_transpose(ctx, x, 0, 2) : x;
        zen_tensor *y = zen_pad(ctx, xin, cases[k].pads, -3.5f);
        CHECK_OK(ctx, y);
        zen_tensor *w = zen_const(ctx, ZEN_F32, y->ndim, y->shape);
        zen_rng_fill_uniform(&rng, w, -1, 1);
        zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, y, w), 0, NULL, false);
        zen_graph *g = zen_graph_new(ctx);
        zen_graph_add(g, y);
        CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
        CHECK(zen_numel(y) > 32768);
        CHECK(count_bad(y, xin, cases[k].pads, -3.5f) == 0);
        /* d loss / d x at x's position c is w at c (+ before) in y's coordinates. */
        int64_t n = zen_numel(xin), bad = 0, idx[ZEN_MAX_DIMS], yi[ZEN_MAX_DIMS], xi[ZEN_MAX_DIMS];
        for (int64_t i = 0; i < n; i++) {
            int64_t rem = i;
            for (int d = xin->ndim - 1; d >= 0; d--) {
                idx[d] = rem % xin->shape[d];
                rem /= xin->shape[d];
                yi[d] = idx[d] + cases[k].pads[2 * d];
            }
            for (int d = 0; d < x->ndim; d++) xi[d] = idx[d];
            if (cases[k].transpose) xi[0] = idx[2], xi[2] = idx[0];
            bad += zen_get_f32(x->grad, xi) != zen_get_f32(w, yi);
        }
        CHECK(bad == 0);
        zen_graph_free(g);
        zen_ctx_free(ctx);
    }
}

TEST(test_i32_and_scalar) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_input(ctx, ZEN_I32, 2, (int64_t[]){2, 2});
    int32_t *xd = x->data;
    xd[0] = 1, xd[1] = 2, xd[2] = 3, xd[3] = 4;
    zen_tensor *y = zen_pad(ctx, x, (int64_t[]){1, 0, 0, -1}, -7.0f); /* [3, 1] */
    zen_tensor *s = zen_pad(ctx, zen_scalar(ctx, 2.5f), NULL, 0.0f);  /* 0-d: a copy */
    CHECK_OK(ctx, y);
    CHECK_OK(ctx, s);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    zen_graph_add(g, s);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const int32_t *Y = y->data;
    CHECK(y->dtype == ZEN_I32 && y->shape[0] == 3 && y->shape[1] == 1);
    CHECK(Y[0] == -7 && Y[1] == 1 && Y[2] == 3);
    CHECK(s->ndim == 0 && *(float *)s->data == 2.5f);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3, 4});
    CHECK(zen_pad(ctx, x, (int64_t[]){0, 0, -3, -2}, 0) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_pad: pads (-3, -2) crop 5 elements from axis 1 of [3, 4], which has only 4"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_pad(ctx, x, (int64_t[]){-4, 1, 0, 0}, 0) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "crop 4 elements from axis 0"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_pad(ctx, x, (int64_t[]){INT64_MAX, 0, 0, 0}, 0) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "too large"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_pad(ctx, x, NULL, 0) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_pad: pads is NULL"));
    zen_ctx_clear_error(ctx);
    zen_tensor *i = zen_input(ctx, ZEN_I32, 1, (int64_t[]){3});
    CHECK(zen_pad(ctx, i, (int64_t[]){1, 1}, 0.5f) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_pad: value 0.5 cannot be stored in an i32 tensor"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_pad(ctx, NULL, (int64_t[]){1, 1}, 0) == NULL && !zen_ctx_error(ctx));
    /* cropping a whole axis is allowed, as in torch: a size-0 result */
    zen_tensor *e = zen_pad(ctx, x, (int64_t[]){0, 0, -2, -2}, 0);
    CHECK(e && e->shape[1] == 0 && !zen_ctx_error(ctx));
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("pad.safetensors");
    int rc = RUN_TESTS(test_fixtures, test_large, test_i32_and_scalar, test_errors);
    fx_close(f);
    return rc;
}
