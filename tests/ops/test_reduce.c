/* sum, mean, max, min over axes (keepdim or not) and argmax vs PyTorch; gradients vs
 * PyTorch and finite differences. */
#include "harness.h"

#include <string.h>

typedef zen_tensor *(*reduce_fn)(zen_ctx *, zen_tensor *, int, const int *, bool);

static fx_file *f;

static void check_family(const char *prefix, reduce_fn fn) {
    const char *const *cases = fx_cases(f, prefix);
    int n = 0;
    for (; cases[n]; n++) {
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.x", cases[n]);
        zen_tensor *x = fx_param(ctx, f, key);
        int64_t axes64[8];
        int axes[8];
        snprintf(key, sizeof key, "%s.p.axes", cases[n]);
        int naxes = fx_has(f, key) ? fx_ints(f, key, axes64, 8) : 0;
        for (int i = 0; i < naxes; i++) axes[i] = (int)axes64[i];
        snprintf(key, sizeof key, "%s.p.keepdim", cases[n]);
        bool keep = fx_int(f, key);
        const char *names[] = {"x"};
        CHECK(fx_check_op(ctx, f, cases[n], fn(ctx, x, naxes, axes, keep), 1, &x, names, 1) == 0);
        zen_ctx_free(ctx);
    }
    CHECK(n >= 16);
}

TEST(test_sum) { check_family("sum", zen_sum); }
TEST(test_mean) { check_family("mean", zen_mean); }
TEST(test_max) { check_family("max", zen_max); }
TEST(test_min) { check_family("min", zen_min); }

TEST(test_argmax) {
    const char *const *cases = fx_cases(f, "argmax");
    int n = 0;
    for (; cases[n]; n++) {
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.x", cases[n]);
        zen_tensor *x = fx_input(ctx, f, key);
        snprintf(key, sizeof key, "%s.p.axis", cases[n]);
        int axis = fx_int(f, key);
        snprintf(key, sizeof key, "%s.p.keepdim", cases[n]);
        zen_tensor *y = zen_argmax(ctx, x, axis, fx_int(f, key));
        CHECK(y && y->dtype == ZEN_I32);
        CHECK(fx_check_op(ctx, f, cases[n], y, 1, &x, (const char *[]){"x"}, 1) == 0);
        zen_ctx_free(ctx);
    }
    CHECK(n == 8);
}

/* Ties: amax shares the gradient evenly among the tied maxima, as torch.amax does. */
TEST(test_max_ties) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 1, (int64_t[]){4});
    float *xd = x->data;
    xd[0] = 1, xd[1] = 3, xd[2] = 3, xd[3] = 2;
    zen_tensor *m = zen_max(ctx, x, 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, m);
    CHECK(zen_graph_backward(g, m) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *gx = x->grad->data;
    CHECK(gx[0] == 0 && gx[1] == 0.5f && gx[2] == 0.5f && gx[3] == 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* Large shapes take the threaded row and column paths; 1 to 3 threads, so that reductions
 * over the rows of one matrix (A = 1) are split into blocks of rows per thread, evenly or
 * not, whose partial rows are then combined (a NaN in the last block must survive). */
TEST(test_large_sums) {
    for (int nt = 1; nt <= 3; nt++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_ctx_set_threads(ctx, nt);
        zen_tensor *x = zen_input(ctx, ZEN_F32, 2, (int64_t[]){512, 300});
        zen_rng r;
        zen_rng_seed(&r, 3);
        zen_rng_fill_uniform(&r, x, -1, 1);
        ((float *)x->data)[500 * 300 + 7] = NAN;
        zen_tensor *rows = zen_sum(ctx, x, 1, (int[]){1}, false);
        zen_tensor *cols = zen_sum(ctx, x, 1, (int[]){0}, false);
        zen_tensor *cmax = zen_max(ctx, x, 1, (int[]){0}, false);
        zen_tensor *cmin = zen_min(ctx, x, 1, (int[]){0}, false);
        zen_graph *g = zen_graph_new(ctx);
        zen_graph_add(g, rows);
        zen_graph_add(g, cols);
        zen_graph_add(g, cmax);
        zen_graph_add(g, cmin);
        CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
        const float *X = x->data, *R = rows->data, *C = cols->data, *MX = cmax->data, *MN = cmin->data;
        double worst = 0;
        int bad = 0;
        for (int i = 0; i < 512; i++) {
            double s = 0;
            for (int j = 0; j < 300; j++) s += X[i * 300 + j];
            if (i == 500) bad += !isnan(R[i]);
            else worst = fmax(worst, fabs(s - R[i]));
        }
        for (int j = 0; j < 300; j++) {
            double s = 0;
            float mx = X[j], mn = X[j];
            for (int i = 0; i < 512; i++) {
                s += X[i * 300 + j];
                mx = fmaxf(mx, X[i * 300 + j]);
                mn = fminf(mn, X[i * 300 + j]);
            }
            if (j == 7) {
                bad += !isnan(C[j]) + !isnan(MX[j]) + !isnan(MN[j]);
                continue;
            }
            worst = fmax(worst, fabs(s - C[j]));
            bad += MX[j] != mx || MN[j] != mn;
        }
        CHECK(worst < 1e-4);
        CHECK(bad == 0);
        zen_graph_free(g);
        zen_ctx_free(ctx);
    }
}

TEST(test_bad_axes) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){2, 3});
    CHECK(zen_sum(ctx, x, 1, (int[]){2}, false) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "axis 2 is out of range"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_sum(ctx, x, 2, (int[]){1, -1}, false) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "twice"));
    zen_ctx_free(ctx);
}

/* Empty tensors: a sum over an empty axis is 0; reducing a non-empty axis of an empty
 * tensor gives an empty result. */
TEST(test_empty) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_input(ctx, ZEN_F32, 2, (int64_t[]){0, 3});
    zen_tensor *cols = zen_sum(ctx, x, 1, (int[]){0}, false); /* [3] of zeros */
    zen_tensor *rows = zen_sum(ctx, x, 1, (int[]){1}, false); /* [0] */
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, cols);
    zen_graph_add(g, rows);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    CHECK(rows->shape[0] == 0);
    for (int i = 0; i < 3; i++) CHECK(((float *)cols->data)[i] == 0);
    CHECK(zen_max(ctx, x, 0, NULL, false) == NULL); /* max of nothing has no value */
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("reduce.safetensors");
    int rc = RUN_TESTS(test_sum, test_mean, test_max, test_min, test_argmax, test_max_ties, test_large_sums,
                       test_bad_axes, test_empty);
    fx_close(f);
    return rc;
}
