/* relu, leaky_relu, elu, sigmoid, tanh, gelu, gelu_tanh, silu, softplus vs PyTorch and
 * finite differences; strided inputs; bad arguments; a large threaded case against a
 * double-precision reference; relative accuracy of values and derivatives in the tails. */
#include "harness.h"

#include <string.h>

static fx_file *f;

static float p(const char *c, const char *name) {
    char key[128];
    snprintf(key, sizeof key, "%s.p.%s", c, name);
    return fx_float(f, key);
}

typedef zen_tensor *(*build_fn)(zen_ctx *, zen_tensor *, const char *);

static void check(const char *c, build_fn build, bool transposed) {
    char key[128];
    snprintf(key, sizeof key, "%s.x", c);
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = fx_param(ctx, f, key);
    zen_tensor *in = transposed ? zen_transpose(ctx, x, 0, 1) : x;
    const char *names[] = {"x"};
    CHECK(fx_check_op(ctx, f, c, build(ctx, in, c), 1, &x, names, 1) == 0);
    zen_ctx_free(ctx);
}

static zen_tensor *b_relu(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_relu(ctx, x); }
static zen_tensor *b_leaky(zen_ctx *ctx, zen_tensor *x, const char *c) { return zen_leaky_relu(ctx, x, p(c, "slope")); }
static zen_tensor *b_elu(zen_ctx *ctx, zen_tensor *x, const char *c) { return zen_elu(ctx, x, p(c, "alpha")); }
static zen_tensor *b_sigmoid(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_sigmoid(ctx, x); }
static zen_tensor *b_tanh(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_tanh(ctx, x); }
static zen_tensor *b_gelu(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_gelu(ctx, x); }
static zen_tensor *b_gelu_tanh(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_gelu_tanh(ctx, x); }
static zen_tensor *b_silu(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_silu(ctx, x); }
static zen_tensor *b_softplus(zen_ctx *ctx, zen_tensor *x, const char *c) {
    return zen_softplus(ctx, x, p(c, "beta"), p(c, "threshold"));
}

TEST(test_relu) { check("relu", b_relu, false); }
TEST(test_leaky_relu) {
    check("leaky_relu", b_leaky, false);
    check("leaky_relu_02", b_leaky, false);
}
TEST(test_elu) {
    check("elu", b_elu, false);
    check("elu_05", b_elu, false);
}
TEST(test_sigmoid) { check("sigmoid", b_sigmoid, false); }
TEST(test_tanh) { check("tanh", b_tanh, false); }
TEST(test_gelu) { check("gelu", b_gelu, false); }
TEST(test_gelu_tanh) { check("gelu_tanh", b_gelu_tanh, false); }
TEST(test_silu) { check("silu", b_silu, false); }
TEST(test_softplus) {
    check("softplus", b_softplus, false);
    check("softplus_b2", b_softplus, false);
}
TEST(test_strided_input) {
    check("gelu_strided", b_gelu, true);
    check("silu_strided", b_silu, true);
}

TEST(test_bad_arguments) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 1, (int64_t[]){3});
    zen_tensor *xi = zen_input(ctx, ZEN_I32, 1, (int64_t[]){3});
    CHECK(zen_softplus(ctx, x, 0.0f, 20.0f) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_softplus: beta must be finite and nonzero, got 0"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_softplus(ctx, x, INFINITY, 20.0f) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_softplus: beta"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_leaky_relu(ctx, x, NAN) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_leaky_relu: slope must be finite"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_elu(ctx, x, -INFINITY) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_elu: alpha must be finite"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_gelu(ctx, xi) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_gelu"));
    zen_ctx_clear_error(ctx);
    /* a NULL input gives NULL without a new error */
    CHECK(zen_tanh(ctx, NULL) == NULL && zen_softplus(ctx, NULL, 0.0f, 1.0f) == NULL);
    CHECK(zen_ctx_error(ctx) == NULL);
    /* negative beta and a NaN threshold are accepted, as in PyTorch */
    CHECK(zen_softplus(ctx, x, -1.0f, NAN) != NULL);
    CHECK(zen_ctx_error(ctx) == NULL);
    zen_ctx_free(ctx);
}

/* ---- a double-precision reference ---- */

enum act { RELU, LEAKY, ELU, SIGMOID, TANH, GELU, GELU_TANH, SILU, SOFTPLUS, NACT };
static const char *const act_name[NACT] = {"relu", "leaky_relu", "elu", "sigmoid", "tanh",
                                           "gelu", "gelu_tanh", "silu", "softplus"};
#define P_SLOPE 0.2
#define P_ALPHA 0.5
#define P_BETA 2.0
#define P_THRESH 5.0

static zen_tensor *build_act(zen_ctx *ctx, int a, zen_tensor *x) {
    switch (a) {
    case RELU: return zen_relu(ctx, x);
    case LEAKY: return zen_leaky_relu(ctx, x, (float)P_SLOPE);
    case ELU: return zen_elu(ctx, x, (float)P_ALPHA);
    case SIGMOID: return zen_sigmoid(ctx, x);
    case TANH: return zen_tanh(ctx, x);
    case GELU: return zen_gelu(ctx, x);
    case GELU_TANH: return zen_gelu_tanh(ctx, x);
    case SILU: return zen_silu(ctx, x);
    default: return zen_softplus(ctx, x, (float)P_BETA, (float)P_THRESH);
    }
}

static double sig(double z) { return z >= 0 ? 1 / (1 + exp(-z)) : exp(z) / (1 + exp(z)); }

/* f(x) and f'(x) in double */
static void ref_act(int a, double x, double *y, double *d) {
    const double k = 0.79788456080286535588, kk = 0.044715;
    switch (a) {
    case RELU: *y = x > 0 ? x : 0; *d = x > 0; break;
    case LEAKY: *y = x > 0 ? x : P_SLOPE * x; *d = x > 0 ? 1 : P_SLOPE; break;
    case ELU: *y = x > 0 ? x : P_ALPHA * expm1(x); *d = x > 0 ? 1 : P_ALPHA * exp(x); break;
    case SIGMOID: *y = sig(x); *d = sig(x) * sig(-x); break;
    case TANH: *y = tanh(x); *d = 1 / (cosh(x) * cosh(x)); break;
    case GELU: {
        double cdf = 0.5 * erfc(-x * 0.70710678118654752440);
        *y = x * cdf;
        *d = cdf + x * exp(-0.5 * x * x) * 0.39894228040143267794;
        break;
    }
    case GELU_TANH: {
        double z = 2 * k * (x + kk * x * x * x); /* 0.5 (1 + tanh(z/2)) = sigmoid(z) */
        *y = x * sig(z);
        *d = sig(z) + x * sig(z) * sig(-z) * 2 * k * (1 + 3 * kk * x * x);
        break;
    }
    case SILU: *y = x * sig(x); *d = sig(x) + x * sig(x) * sig(-x); break;
    default: {
        double bx = P_BETA * x;
        *y = bx > P_THRESH ? x : (fmax(bx, 0) + log1p(exp(-fabs(bx)))) / P_BETA;
        *d = bx > P_THRESH ? 1 : sig(bx);
    }
    }
}

/* Runs f and its gradient (upstream w) on n inputs; returns the worst errors as
 * |got - want| / (floor + |want|) for values and gradients (floor: y_floor, g_floor). */
static void run_act(int a, const float *xv, const float *wv, int64_t n, double y_floor, double g_floor,
                    double *err_y, double *err_g, int threads) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, threads);
    zen_tensor *x = zen_param(ctx, ZEN_F32, 1, (int64_t[]){n});
    zen_tensor *w = zen_const(ctx, ZEN_F32, 1, (int64_t[]){n});
    memcpy(x->data, xv, (size_t)n * sizeof(float));
    memcpy(w->data, wv, (size_t)n * sizeof(float));
    zen_tensor *y = build_act(ctx, a, x);
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, y, w), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_backward(g, loss) == 0);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *Y = y->data, *G = x->grad->data;
    *err_y = *err_g = 0;
    int reported = 0;
    for (int64_t i = 0; i < n; i++) {
        double ry, rd;
        ref_act(a, xv[i], &ry, &rd);
        double rg = rd * wv[i];
        double ey = fabs(Y[i] - ry) / (y_floor + fabs(ry)), eg = fabs(G[i] - rg) / (g_floor + fabs(rg));
        if ((ey > 1e-5 || eg > 1e-5) && reported++ < 3)
            fprintf(stderr, "  %s(%.9g): y %.9g (want %.9g), grad %.9g (want %.9g)\n", act_name[a], (double)xv[i],
                    (double)Y[i], ry, (double)G[i], rg);
        if (ey > *err_y) *err_y = ey;
        if (eg > *err_g) *err_g = eg;
    }
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* y-based derivatives (sigmoid, tanh, elu: y (1 - y), 1 - y^2, y + alpha) have small
 * absolute, not relative, error. */
static bool y_based(int a) { return a == SIGMOID || a == TANH || a == ELU; }

/* 2^17 + 3 elements: the threaded forward (tasks over one long row) and backward
 * (chunks) paths, with a ragged end. The error measure is relative for |want| >> 0.1 and
 * absolute near the zeros of the derivatives (where f' = Phi + x phi cancels), and
 * absolute (floor 1) for the y-based derivatives. */
TEST(test_large_threaded) {
    const int64_t n = (1 << 17) + 3;
    float *xv = malloc((size_t)n * sizeof(float)), *wv = malloc((size_t)n * sizeof(float));
    zen_rng r;
    zen_rng_seed(&r, 7);
    for (int64_t i = 0; i < n; i++) {
        xv[i] = -10.0f + 20.0f * zen_rng_uniform(&r);
        wv[i] = -1.0f + 2.0f * zen_rng_uniform(&r);
    }
    for (int a = 0; a < NACT; a++) {
        double ey1, eg1, ey2, eg2, gf = y_based(a) ? 1.0 : 0.1;
        run_act(a, xv, wv, n, 0.1, gf, &ey1, &eg1, 2);
        run_act(a, xv, wv, n, 0.1, gf, &ey2, &eg2, 1);
        printf("     %-10s n=%lld: max |got - want| / (%g + |want|): y %.2e, grad %.2e (2 threads); %.2e, %.2e (1)\n",
               act_name[a], (long long)n, gf, ey1, eg1, ey2, eg2);
        CHECK(ey1 < 2e-6 && eg1 < 2e-6 && ey2 < 2e-6 && eg2 < 2e-6);
    }
    free(xv);
    free(wv);
}

/* Values and derivatives that round to 0 or 1 in the naive formulas keep their relative
 * accuracy: sigmoid(-80), gelu(-12), gelu'(-9.5), softplus(-40) and so on. gelu_tanh is
 * e^z in its tail with z = x (A + B x^2) rounded to float: relative error ~|z| ulp, so
 * ~1e-5 at z = -76 (x = -9.5), where PyTorch's 1 + tanh gives 0. The derivatives of
 * sigmoid and tanh come from y (y (1 - y), 1 - y^2, as in PyTorch): their error is small
 * in absolute terms only. */
TEST(test_tails) {
    float xv[] = {-80, -40, -25, -17, -12, -9.5f, -7, -5, 5, 7, 9.5f, 12, 17, 25, 40, 80, 1e-20f, -1e-20f, 1e-3f};
    int64_t n = (int64_t)(sizeof xv / sizeof *xv);
    float wv[sizeof xv / sizeof *xv];
    for (int64_t i = 0; i < n; i++) wv[i] = 1.0f;
    for (int a = SIGMOID; a < NACT; a++) {
        double ey, eg;
        run_act(a, xv, wv, n, 1e-37, y_based(a) ? 1.0 : 1e-37, &ey, &eg, 1);
        printf("     %-10s tails: max relative error y %.2e, grad %.2e (%s)\n", act_name[a], ey, eg,
               y_based(a) ? "absolute: |got - want| / (1 + |want|)" : "relative");
        double tol = a == GELU_TANH ? 2e-5 : 2e-6;
        CHECK(ey < tol);
        CHECK(eg < (y_based(a) ? 2e-7 : tol));
    }
}

/* Special values: inf, -inf, NaN, 0, -0 in; outputs and gradients as PyTorch 2 gives them
 * (the sign of zero is not compared). */
TEST(test_special_values) {
    const float I = INFINITY, N = NAN;
    const float xv[5] = {I, -I, N, 0.0f, -0.0f};
    const float want[NACT][2][5] = {
        [RELU] = {{I, 0, N, 0, 0}, {1, 0, 1, 0, 0}},
        [LEAKY] = {{I, -I, N, 0, 0}, {1, 0.2f, 0.2f, 0.2f, 0.2f}},
        [ELU] = {{I, -0.5f, N, 0, 0}, {1, 0, 1, 0.5f, 0.5f}},
        [SIGMOID] = {{1, 0, N, 0.5f, 0.5f}, {0, 0, N, 0.25f, 0.25f}},
        [TANH] = {{1, -1, N, 0, 0}, {0, 0, N, 1, 1}},
        [GELU] = {{I, N, N, 0, 0}, {N, N, N, 0.5f, 0.5f}},
        [GELU_TANH] = {{I, N, N, 0, 0}, {N, N, N, 0.5f, 0.5f}},
        [SILU] = {{I, N, N, 0, 0}, {N, N, N, 0.5f, 0.5f}},
        [SOFTPLUS] = {{I, 0, N, 0.34657359f, 0.34657359f}, {1, 0, N, 0.5f, 0.5f}},
    };
    for (int a = 0; a < NACT; a++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *x = zen_param(ctx, ZEN_F32, 1, (int64_t[]){5});
        memcpy(x->data, xv, sizeof xv);
        zen_tensor *y = build_act(ctx, a, x);
        zen_graph *g = zen_graph_new(ctx);
        zen_graph_add(g, y);
        CHECK(zen_graph_backward(g, zen_sum(ctx, y, 0, NULL, false)) == 0);
        CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
        for (int k = 0; k < 2; k++) {
            const float *got = k ? (const float *)x->grad->data : (const float *)y->data;
            for (int i = 0; i < 5; i++) {
                float w = want[a][k][i];
                bool ok = isnan(w) ? isnan(got[i]) : got[i] == w;
                if (!ok) {
                    fprintf(stderr, "  %s%s(%g) = %g, torch %g\n", act_name[a], k ? "'" : "", (double)xv[i],
                            (double)got[i], (double)w);
                    harness_failures++;
                }
            }
        }
        if (a == TANH) CHECK(signbit(((float *)y->data)[4]));
        zen_graph_free(g);
        zen_ctx_free(ctx);
    }
}

int main(void) {
    f = fx_open("activation.safetensors");
    int rc = RUN_TESTS(test_relu, test_leaky_relu, test_elu, test_sigmoid, test_tanh, test_gelu, test_gelu_tanh,
                       test_silu, test_softplus, test_strided_input, test_bad_arguments, test_large_threaded,
                       test_tails, test_special_values);
    fx_close(f);
    return rc;
}
