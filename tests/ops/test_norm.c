/* layer_norm and rms_norm vs PyTorch (forward, gradients of x, gamma, beta) and finite
 * differences; a large threaded case vs a double-precision reference at 1, 2 and 3 threads;
 * a strided input; errors. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static fx_file *f;

static void check_family(const char *prefix, bool rms, int want) {
    const char *const *cases = fx_cases(f, prefix);
    int n = 0;
    for (; cases[n]; n++) {
        const char *c = cases[n];
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.x", c);
        zen_tensor *in[3];
        const char *names[3];
        int nin = 0;
        zen_tensor *x = fx_param(ctx, f, key), *gamma = NULL, *beta = NULL;
        in[nin] = x, names[nin++] = "x";
        snprintf(key, sizeof key, "%s.p.affine", c);
        int affine = fx_int(f, key);
        if (affine & 1) {
            snprintf(key, sizeof key, "%s.gamma", c);
            in[nin] = gamma = fx_param(ctx, f, key), names[nin++] = "gamma";
        }
        if (affine & 2) {
            snprintf(key, sizeof key, "%s.beta", c);
            in[nin] = beta = fx_param(ctx, f, key), names[nin++] = "beta";
        }
        snprintf(key, sizeof key, "%s.p.eps", c);
        float eps = fx_float(f, key);
        zen_tensor *y = rms ? zen_rms_norm(ctx, x, gamma, eps) : zen_layer_norm(ctx, x, gamma, beta, eps);
        CHECK_OK(ctx, y);
        /* ln_offset: float inputs near 100 carry +-4e-6 of rounding, 4e-5 of the output */
        int fails = fx_check_op(ctx, f, c, y, nin, in, names, strstr(c, "offset") ? 5 : 2);
        if (fails) fprintf(stderr, "  (case %s)\n", c);
        CHECK(fails == 0);
        zen_ctx_free(ctx);
    }
    CHECK(n == want);
}

TEST(test_layer_norm) { check_family("ln_", false, 8); }
TEST(test_rms_norm) { check_family("rms_", true, 5); }

/* Normalising a transposed view: the input is made dense first, same numbers. */
TEST(test_strided_input) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = fx_param(ctx, f, "ln_2d.x"); /* [4, 7] */
    zen_tensor *gamma = fx_param(ctx, f, "ln_2d.gamma"), *beta = fx_param(ctx, f, "ln_2d.beta");
    zen_tensor *xt = zen_transpose(ctx, zen_contiguous(ctx, zen_transpose(ctx, x, 0, 1)), 0, 1);
    zen_tensor *y = zen_layer_norm(ctx, xt, gamma, beta, 1e-5f);
    CHECK(fx_check_op(ctx, f, "ln_2d", y, 3, (zen_tensor *[]){x, gamma, beta},
                      (const char *[]){"x", "gamma", "beta"}, 2) == 0);
    zen_ctx_free(ctx);
}

/* Many rows on several threads: forward and all gradients vs a double reference; the
 * result must not depend on which thread did which rows beyond rounding. */
static void check_large(bool rms, int nthreads) {
    const int64_t R = 384, D = 768;
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, nthreads);
    zen_rng r;
    zen_rng_seed(&r, 5);
    zen_tensor *x = zen_param(ctx, ZEN_F32, 3, (int64_t[]){3, R / 3, D});
    zen_tensor *gamma = zen_param(ctx, ZEN_F32, 1, &D), *beta = zen_param(ctx, ZEN_F32, 1, &D);
    zen_tensor *gy = zen_const(ctx, ZEN_F32, 3, x->shape);
    zen_rng_fill_normal(&r, x, 0.3f, 2.0f);
    zen_rng_fill_normal(&r, gamma, 1.0f, 0.3f);
    zen_rng_fill_normal(&r, beta, 0.0f, 0.3f);
    zen_rng_fill_normal(&r, gy, 0.0f, 1.0f);
    zen_tensor *y = rms ? zen_rms_norm(ctx, x, gamma, 1e-6f) : zen_layer_norm(ctx, x, gamma, beta, 1e-5f);
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, y, gy), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *X = x->data, *G = gy->data, *W = gamma->data, *B = beta->data;
    const float *Y = y->data, *DX = x->grad->data, *DW = gamma->grad->data;
    const float *DB = rms ? NULL : beta->grad->data;
    double *dw = calloc((size_t)D, sizeof *dw), *db = calloc((size_t)D, sizeof *db);
    double ey = 0, ex = 0, ew = 0;
    for (int64_t i = 0; i < R; i++) {
        const float *xr = X + i * D, *gr = G + i * D;
        double m = 0, v = 0, a = 0, b = 0;
        if (!rms) {
            for (int64_t j = 0; j < D; j++) m += xr[j];
            m /= D;
        }
        for (int64_t j = 0; j < D; j++) v += (xr[j] - m) * (xr[j] - m);
        v /= D;
        double rs = 1 / sqrt(v + (rms ? 1e-6 : 1e-5));
        for (int64_t j = 0; j < D; j++) {
            double xh = (xr[j] - m) * rs;
            a += gr[j] * W[j];
            b += gr[j] * W[j] * xh;
            dw[j] += gr[j] * xh;
            db[j] += gr[j];
            ey = fmax(ey, fabs(Y[i * D + j] - (xh * W[j] + (rms ? 0 : B[j]))));
        }
        for (int64_t j = 0; j < D; j++) {
            double xh = (xr[j] - m) * rs;
            double want = rs * (gr[j] * W[j] - (rms ? 0 : a / D) - xh * b / D);
            ex = fmax(ex, fabs(DX[i * D + j] - want));
        }
    }
    for (int64_t j = 0; j < D; j++) {
        ew = fmax(ew, fabs(DW[j] - dw[j]) / (1 + fabs(dw[j])));
        if (DB) ew = fmax(ew, fabs(DB[j] - db[j]) / (1 + fabs(db[j])));
    }
    if (!(ey < 1e-5 && ex < 1e-5 && ew < 5e-5))
        fprintf(stderr, "  %s at %d threads: errors y %g dx %g dgamma/dbeta %g\n", rms ? "rms" : "ln", nthreads, ey,
                ex, ew);
    CHECK(ey < 1e-5 && ex < 1e-5 && ew < 5e-5);
    free(dw);
    free(db);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_large) {
    for (int t = 1; t <= 3; t++) {
        check_large(false, t);
        check_large(true, t);
    }
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){2, 3});
    zen_tensor *w4 = zen_param(ctx, ZEN_F32, 1, (int64_t[]){4});
    CHECK(zen_layer_norm(ctx, x, w4, NULL, 1e-5f) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_layer_norm: gamma must have shape [3] (the last dim of x), got [4]"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_rms_norm(ctx, x, NULL, -1.0f) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_rms_norm: eps must be a finite number >= 0, got -1"));
    zen_ctx_clear_error(ctx);
    zen_tensor *i = zen_input(ctx, ZEN_I32, 1, (int64_t[]){3});
    CHECK(zen_layer_norm(ctx, i, NULL, NULL, 1e-5f) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_layer_norm: x must be f32"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_layer_norm(ctx, zen_scalar(ctx, 1.0f), NULL, NULL, 1e-5f) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "at least 1 dimension"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_rms_norm(ctx, NULL, NULL, 1e-5f) == NULL);
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("norm.safetensors");
    int rc = RUN_TESTS(test_layer_norm, test_rms_norm, test_strided_input, test_large, test_errors);
    fx_close(f);
    return rc;
}
