/* max_pool2d, avg_pool2d and global_avg_pool2d vs PyTorch (forward and gradient) and
 * finite differences; tie-breaking and -inf padding; larger shapes on the threaded paths
 * vs a naive reference computed here; argument errors. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef zen_tensor *(*pool_fn)(zen_ctx *, zen_tensor *, zen_pool2d_opts);

static fx_file *f;

static void check_family(const char *prefix, pool_fn fn, int expected) {
    const char *const *cases = fx_cases(f, prefix);
    int n = 0;
    for (; cases[n]; n++) {
        const char *c = cases[n];
        char key[128];
        int64_t v[2];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.x", c);
        zen_tensor *x = fx_param(ctx, f, key);
        zen_pool2d_opts o;
        snprintf(key, sizeof key, "%s.p.kernel", c);
        fx_ints(f, key, v, 2);
        o.kernel[0] = (int)v[0], o.kernel[1] = (int)v[1];
        snprintf(key, sizeof key, "%s.p.stride", c);
        fx_ints(f, key, v, 2);
        o.stride[0] = (int)v[0], o.stride[1] = (int)v[1];
        snprintf(key, sizeof key, "%s.p.padding", c);
        fx_ints(f, key, v, 2);
        o.padding[0] = (int)v[0], o.padding[1] = (int)v[1];
        int fails = fx_check_op(ctx, f, c, fn(ctx, x, o), 1, &x, (const char *[]){"x"}, 1);
        CHECK(fails == 0);
        zen_ctx_free(ctx);
    }
    CHECK(n == expected);
}

TEST(test_max_pool) { check_family("max_", zen_max_pool2d, 7); }
TEST(test_avg_pool) { check_family("avg_", zen_avg_pool2d, 7); }

TEST(test_global_avg_pool) {
    const char *const *cases = fx_cases(f, "gap_");
    int n = 0;
    for (; cases[n]; n++) {
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.x", cases[n]);
        zen_tensor *x = fx_param(ctx, f, key);
        zen_tensor *y = zen_global_avg_pool2d(ctx, x);
        CHECK(y && y->ndim == 2);
        CHECK(fx_check_op(ctx, f, cases[n], y, 1, &x, (const char *[]){"x"}, 1) == 0);
        zen_ctx_free(ctx);
    }
    CHECK(n == 2);
}

/* Runs y = pool(x) and its backward with upstream gradient gy (ones when NULL). */
static zen_graph *run_with_grad(zen_ctx *ctx, zen_tensor *y, zen_tensor *gy) {
    zen_tensor *loss = gy ? zen_sum(ctx, zen_mul(ctx, y, gy), 0, NULL, false) : zen_sum(ctx, y, 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    return g;
}

/* Ties go to the first maximum in the window, scanned row by row, as in torch. */
TEST(test_max_ties) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 4, (int64_t[]){1, 1, 2, 4});
    float *xd = x->data;
    const float vals[8] = {1, 3, 5, 2,  /* window 0: {1,3 / 3,0} -> first 3 at (0,1) */
                           3, 0, 5, 5}; /* window 1: {5,2 / 5,5} -> first 5 at (0,2) */
    memcpy(xd, vals, sizeof vals);
    zen_tensor *y = zen_max_pool2d(ctx, x, (zen_pool2d_opts){{2, 2}, {0, 0}, {0, 0}});
    zen_graph *g = run_with_grad(ctx, y, NULL);
    const float *yd = y->data, *gx = x->grad->data;
    CHECK(yd[0] == 3 && yd[1] == 5);
    const float want[8] = {0, 1, 1, 0, 0, 0, 0, 0};
    for (int i = 0; i < 8; i++) CHECK(gx[i] == want[i]);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* Padding is -inf: a window of negative values at the border keeps its true maximum, and
 * overlapping windows add their gradients at a shared maximum. */
TEST(test_max_padding_overlap) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 4, (int64_t[]){1, 1, 3, 3});
    float *xd = x->data;
    for (int i = 0; i < 9; i++) xd[i] = -10.0f - (float)i;
    xd[4] = -1; /* the centre is every window's maximum */
    zen_tensor *y = zen_max_pool2d(ctx, x, (zen_pool2d_opts){{3, 3}, {1, 1}, {1, 1}});
    zen_graph *g = run_with_grad(ctx, y, NULL);
    const float *yd = y->data, *gx = x->grad->data;
    for (int i = 0; i < 9; i++) CHECK(yd[i] == -1.0f);
    for (int i = 0; i < 9; i++) CHECK(gx[i] == (i == 4 ? 9.0f : 0.0f));
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* ---- larger shapes vs a naive reference ---- */

static void naive_pool(bool is_max, const float *x, const float *gy, int N, int H, int W, zen_pool2d_opts o,
                       int OH, int OW, double *y, double *dx) {
    int kh_ = o.kernel[0], kw_ = o.kernel[1];
    int sh = o.stride[0] ? o.stride[0] : kh_, sw = o.stride[1] ? o.stride[1] : kw_;
    int ph = o.padding[0], pw = o.padding[1];
    memset(dx, 0, sizeof(double) * (size_t)(N * H * W));
    for (int p = 0; p < N; p++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                const float *xp = x + p * H * W;
                double acc = 0, best = -INFINITY;
                int besti = -1;
                for (int kh = 0; kh < kh_; kh++)
                    for (int kw = 0; kw < kw_; kw++) {
                        int ih = oh * sh - ph + kh, iw = ow * sw - pw + kw;
                        if (ih < 0 || ih >= H || iw < 0 || iw >= W) continue;
                        double v = xp[ih * W + iw];
                        acc += v;
                        if (besti < 0 || v > best) best = v, besti = ih * W + iw;
                    }
                int yi = (p * OH + oh) * OW + ow;
                double g = gy[yi];
                if (is_max) {
                    y[yi] = best;
                    dx[p * H * W + besti] += g;
                } else {
                    y[yi] = acc / (kh_ * kw_);
                    for (int kh = 0; kh < kh_; kh++)
                        for (int kw = 0; kw < kw_; kw++) {
                            int ih = oh * sh - ph + kh, iw = ow * sw - pw + kw;
                            if (ih >= 0 && ih < H && iw >= 0 && iw < W) dx[p * H * W + ih * W + iw] += g / (kh_ * kw_);
                        }
                }
            }
}

static void check_large(bool is_max, int N, int C, int H, int W, zen_pool2d_opts o) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, 2);
    zen_tensor *x = zen_param(ctx, ZEN_F32, 4, (int64_t[]){N, C, H, W});
    zen_rng r;
    zen_rng_seed(&r, 11);
    zen_rng_fill_uniform(&r, x, -1, 1);
    float *xd = x->data;
    for (int64_t i = 0; i < zen_numel(x); i += 7) xd[i] = 0.5f; /* plenty of ties */
    zen_tensor *y = is_max ? zen_max_pool2d(ctx, x, o) : zen_avg_pool2d(ctx, x, o);
    CHECK_OK(ctx, y);
    if (!y) {
        zen_ctx_free(ctx);
        return;
    }
    zen_tensor *gy = zen_const(ctx, ZEN_F32, 4, y->shape);
    zen_rng_fill_uniform(&r, gy, -1, 1);
    zen_graph *g = run_with_grad(ctx, y, gy);
    int OH = (int)y->shape[2], OW = (int)y->shape[3];
    int64_t ny = zen_numel(y), nx = zen_numel(x);
    double *ry = malloc(sizeof(double) * (size_t)ny), *rdx = malloc(sizeof(double) * (size_t)nx);
    naive_pool(is_max, x->data, gy->data, N * C, H, W, o, OH, OW, ry, rdx);
    const float *yd = y->data, *gx = x->grad->data;
    double ey = 0, edx = 0;
    for (int64_t i = 0; i < ny; i++) ey = fmax(ey, fabs(yd[i] - ry[i]));
    for (int64_t i = 0; i < nx; i++) edx = fmax(edx, fabs(gx[i] - rdx[i]));
    if (ey > 1e-5 || edx > 1e-5)
        fprintf(stderr, "  large %s [%d,%d,%d,%d]: errors y %g dx %g\n", is_max ? "max" : "avg", N, C, H, W, ey, edx);
    CHECK(ey <= 1e-5 && edx <= 1e-5);
    free(ry), free(rdx);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_large) {
    zen_pool2d_opts mnist = {{2, 2}, {0, 0}, {0, 0}};      /* the reference model's pool */
    zen_pool2d_opts overlap = {{3, 3}, {2, 1}, {1, 1}};    /* overlapping, padded */
    zen_pool2d_opts wide = {{2, 5}, {1, 3}, {0, 2}};
    zen_pool2d_opts very_wide = {{1, 37}, {1, 4}, {0, 18}}; /* kernel columns past the range cache */
    check_large(true, 16, 32, 26, 26, mnist);
    check_large(true, 4, 8, 23, 19, overlap);
    check_large(true, 3, 5, 17, 30, wide);
    check_large(false, 16, 32, 26, 26, mnist);
    check_large(false, 4, 8, 23, 19, overlap);
    check_large(false, 3, 5, 17, 30, wide);
    check_large(true, 2, 3, 5, 80, very_wide);
    check_large(false, 2, 3, 5, 80, very_wide);
}

/* ---- the 2x2 fast path and the fused relu ---- */

extern int zen__pool_simd; /* src/ops/pool.c: -1 AVX-512 where available, 0 portable loops */

static bool same_bits(const float *a, const float *b, int64_t n, const char *what) {
    for (int64_t i = 0; i < n; i++) {
        bool eq = (a[i] != a[i] && b[i] != b[i]) || memcmp(&a[i], &b[i], sizeof a[i]) == 0;
        if (!eq) {
            fprintf(stderr, "  %s differs at %lld: %g vs %g\n", what, (long long)i, a[i], b[i]);
            return false;
        }
    }
    return true;
}

/* y = max_pool2d(relu? relu(x) : x) and dx for upstream gy; unfused puts a copy between the
 * relu and the pool, so the pool pools the relu's output as a separate node. */
static void pool_run(const float *xv, const float *gyv, int N, int C, int H, int W, zen_pool2d_opts o, bool relu,
                     bool unfused, float *y, float *dx, int64_t ny, int threads) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, threads);
    zen_tensor *x = zen_param(ctx, ZEN_F32, 4, (int64_t[]){N, C, H, W});
    memcpy(x->data, xv, sizeof(float) * (size_t)zen_numel(x));
    zen_tensor *in = x;
    if (relu) in = zen_relu(ctx, in);
    if (unfused) in = zen_contiguous(ctx, in);
    zen_tensor *t = zen_max_pool2d(ctx, in, o);
    CHECK_OK(ctx, t);
    CHECK(zen_numel(t) == ny);
    CHECK((t->src[0] == x) == !unfused); /* fused with the relu: pools x itself */
    zen_tensor *gy = zen_const(ctx, ZEN_F32, 4, t->shape);
    memcpy(gy->data, gyv, sizeof(float) * (size_t)ny);
    zen_graph *g = run_with_grad(ctx, t, gy);
    memcpy(y, t->data, sizeof(float) * (size_t)ny);
    memcpy(dx, x->grad->data, sizeof(float) * (size_t)zen_numel(x));
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* torch's max pooling of relu(x) (or x), 2x2 stride 2, scalar: a value replaces the best
 * when greater or NaN; dx = 0 + g at the argmax, times relu's derivative (x <= 0: 0). */
static void ref_2x2(const float *x, const float *gy, int P, int H, int W, bool relu, float *y, float *dx) {
    int OH = H / 2, OW = W / 2;
    for (int i = 0; i < P * H * W; i++) dx[i] = 0.0f;
    for (int p = 0; p < P; p++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                const float *xp = x + p * H * W;
                int at[4] = {2 * oh * W + 2 * ow, 2 * oh * W + 2 * ow + 1, (2 * oh + 1) * W + 2 * ow,
                             (2 * oh + 1) * W + 2 * ow + 1};
                int best = at[0];
                float bv = relu && xp[at[0]] < 0 ? 0.0f : xp[at[0]];
                for (int k = 1; k < 4; k++) {
                    float v = relu && xp[at[k]] < 0 ? 0.0f : xp[at[k]];
                    if (v > bv || v != v) bv = v, best = at[k];
                }
                int yi = (p * OH + oh) * OW + ow;
                y[yi] = bv;
                dx[p * H * W + best] += gy[yi];
                if (relu) dx[p * H * W + best] *= xp[best] <= 0.0f ? 0.0f : 1.0f;
            }
}

/* Inputs with ties, zeros of both signs, infinities, NaNs (1 in 32, at every window
 * position) and negative windows. */
static void special_fill(float *x, int64_t n, uint64_t seed) {
    uint64_t s = seed;
    for (int64_t i = 0; i < n; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        int r = (int)(s >> 59);
        float u = (float)((s >> 20) & 0xFFFF) / 65536.0f * 2.0f - 1.0f;
        x[i] = r == 0 ? 0.5f : r == 1 ? -0.0f : r == 2 ? 0.0f : r == 3 ? -1.0f : r == 4 ? NAN : u;
    }
    if (n > 40) x[17] = NAN, x[31] = -INFINITY, x[40] = INFINITY;
}

TEST(test_max_2x2_fast_path) {
    const int shapes[][4] = {{2, 3, 26, 26}, {1, 2, 27, 25}, {1, 1, 2, 2}, {2, 2, 3, 70}, {1, 3, 5, 33}, {3, 4, 8, 64}};
    zen_pool2d_opts o = {{2, 2}, {0, 0}, {0, 0}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++) {
        int N = shapes[k][0], C = shapes[k][1], H = shapes[k][2], W = shapes[k][3];
        int64_t nx = (int64_t)N * C * H * W, ny = (int64_t)N * C * (H / 2) * (W / 2);
        float *x = malloc(sizeof(float) * (size_t)nx), *gy = malloc(sizeof(float) * (size_t)ny);
        float *y[3], *dx[3];
        for (int j = 0; j < 3; j++) y[j] = malloc(sizeof(float) * (size_t)ny), dx[j] = malloc(sizeof(float) * (size_t)nx);
        special_fill(x, nx, 7 + k);
        special_fill(gy, ny, 99 + k);
        for (int relu = 0; relu < 2; relu++) {
            ref_2x2(x, gy, N * C, H, W, relu, y[2], dx[2]);
            for (int simd = 0; simd < 2; simd++) {
                zen__pool_simd = simd ? -1 : 0;
                for (int unfused = 0; unfused < 2; unfused++) {
                    pool_run(x, gy, N, C, H, W, o, relu, unfused, y[0], dx[0], ny, 1 + unfused);
                    bool ok = same_bits(y[0], y[2], ny, "y") && same_bits(dx[0], dx[2], nx, "dx");
                    if (!ok)
                        fprintf(stderr, "  2x2 [%d,%d,%d,%d] relu %d simd %d unfused %d\n", N, C, H, W, relu, simd,
                                unfused);
                    CHECK(ok);
                }
            }
        }
        zen__pool_simd = -1;
        free(x), free(gy);
        for (int j = 0; j < 3; j++) free(y[j]), free(dx[j]);
    }
}

/* The fused relu on the general path (overlapping, padded windows): the same bits as
 * pooling a separate relu node. */
TEST(test_max_relu_fused_general) {
    const int N = 2, C = 3, H = 11, W = 9;
    zen_pool2d_opts opts[] = {{{3, 3}, {1, 1}, {1, 1}}, {{2, 3}, {1, 2}, {1, 0}}, {{3, 2}, {3, 2}, {0, 0}}};
    int64_t nx = N * C * H * W;
    float *x = malloc(sizeof(float) * (size_t)nx), *gy = malloc(sizeof(float) * (size_t)nx);
    float *y[2], *dx[2];
    for (int j = 0; j < 2; j++) y[j] = malloc(sizeof(float) * (size_t)nx), dx[j] = malloc(sizeof(float) * (size_t)nx);
    special_fill(x, nx, 3);
    special_fill(gy, nx, 5);
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        zen_pool2d_opts o = opts[k];
        int OH = (H + 2 * o.padding[0] - o.kernel[0]) / o.stride[0] + 1;
        int OW = (W + 2 * o.padding[1] - o.kernel[1]) / o.stride[1] + 1;
        int64_t ny = (int64_t)N * C * OH * OW;
        for (int j = 0; j < 2; j++) pool_run(x, gy, N, C, H, W, o, true, j == 1, y[j], dx[j], ny, 2);
        CHECK(same_bits(y[0], y[1], ny, "y") && same_bits(dx[0], dx[1], nx, "dx"));
    }
    free(x), free(gy);
    for (int j = 0; j < 2; j++) free(y[j]), free(dx[j]);
}

/* ---- errors ---- */

static zen_ctx *ectx;
static int expect_error(zen_tensor *t, const char *msg) {
    int ok = t == NULL && zen_ctx_error(ectx) && strstr(zen_ctx_error(ectx), msg);
    if (!ok)
        fprintf(stderr, "  expected an error containing '%s', got '%s'\n", msg,
                zen_ctx_error(ectx) ? zen_ctx_error(ectx) : "(none)");
    zen_ctx_clear_error(ectx);
    return ok;
}

TEST(test_errors) {
    zen_ctx *ctx = ectx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 3, 6, 5});
    zen_tensor *x3 = zen_param(ctx, ZEN_F32, 3, (int64_t[]){3, 6, 5});
    zen_pool2d_opts ok = {{3, 3}, {2, 2}, {1, 1}};
    zen_tensor *y = zen_max_pool2d(ctx, x, ok);
    CHECK(y && y->shape[2] == 3 && y->shape[3] == 3 && !zen_ctx_error(ctx));
    zen_tensor *ya = zen_avg_pool2d(ctx, x, (zen_pool2d_opts){{2, 2}, {0, 0}, {0, 0}});
    CHECK(ya && ya->shape[2] == 3 && ya->shape[3] == 2); /* stride 0 = kernel; floor */

    CHECK(expect_error(zen_max_pool2d(ctx, x3, ok), "zen_max_pool2d: x must have 4 dims [N, C, H, W], got [3, 6, 5]"));
    CHECK(expect_error(zen_avg_pool2d(ctx, x3, ok), "zen_avg_pool2d: x must have 4 dims [N, C, H, W], got [3, 6, 5]"));
    CHECK(expect_error(zen_global_avg_pool2d(ctx, x3),
                       "zen_global_avg_pool2d: x must have 4 dims [N, C, H, W], got [3, 6, 5]"));
    CHECK(expect_error(zen_max_pool2d(ctx, x, (zen_pool2d_opts){{0, 2}, {0, 0}, {0, 0}}),
                       "zen_max_pool2d: kernel must be positive, got {0, 2}"));
    CHECK(expect_error(zen_avg_pool2d(ctx, x, (zen_pool2d_opts){{2, 2}, {-1, 0}, {0, 0}}),
                       "zen_avg_pool2d: stride must be positive (or 0 for the kernel size), got {-1, 0}"));
    CHECK(expect_error(zen_max_pool2d(ctx, x, (zen_pool2d_opts){{2, 2}, {0, 0}, {0, -1}}),
                       "zen_max_pool2d: padding must be non-negative, got {0, -1}"));
    CHECK(expect_error(zen_max_pool2d(ctx, x, (zen_pool2d_opts){{3, 3}, {1, 1}, {2, 1}}),
                       "zen_max_pool2d: padding {2, 1} must be at most half the kernel {3, 3}"));
    CHECK(expect_error(zen_avg_pool2d(ctx, x, (zen_pool2d_opts){{2, 2}, {1, 1}, {1, 2}}),
                       "zen_avg_pool2d: padding {1, 2} must be at most half the kernel {2, 2}"));
    CHECK(expect_error(zen_max_pool2d(ctx, x, (zen_pool2d_opts){{7, 2}, {0, 0}, {0, 0}}),
                       "zen_max_pool2d: output size is not positive: input [2, 3, 6, 5] with padding {0, 0} is "
                       "smaller than the kernel {7, 2}"));
    CHECK(zen_max_pool2d(ctx, x, (zen_pool2d_opts){{7, 2}, {0, 0}, {1, 0}}) != NULL); /* padding makes it fit */
    zen_tensor *xi = zen_input(ctx, ZEN_I32, 4, (int64_t[]){2, 3, 6, 5});
    CHECK(expect_error(zen_max_pool2d(ctx, xi, ok), "zen_max_pool2d: x must be f32, got i32"));
    CHECK(zen_max_pool2d(ctx, NULL, ok) == NULL && !zen_ctx_error(ctx));
    CHECK(zen_global_avg_pool2d(ctx, NULL) == NULL && !zen_ctx_error(ctx));
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("pool.safetensors");
    int rc = RUN_TESTS(test_max_pool, test_avg_pool, test_global_avg_pool, test_max_ties, test_max_padding_overlap,
                       test_large, test_max_2x2_fast_path, test_max_relu_fused_general, test_errors);
    fx_close(f);
    return rc;
}
