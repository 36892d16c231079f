/* conv2d vs PyTorch (forward, gradients of x, w, b) and finite differences; larger shapes
 * on the threaded paths vs a naive direct convolution computed here; argument errors. */
#include "harness.h"
#include "core/internal.h" /* op ids: which node computed a gradient */

#include <string.h>

static fx_file *f;

static zen_conv2d_opts case_opts(const char *c) {
    char key[128];
    int64_t v[2];
    zen_conv2d_opts o = {{0, 0}, {0, 0}, {0, 0}, 0};
    snprintf(key, sizeof key, "%s.p.stride", c);
    fx_ints(f, key, v, 2);
    o.stride[0] = (int)v[0], o.stride[1] = (int)v[1];
    snprintf(key, sizeof key, "%s.p.padding", c);
    fx_ints(f, key, v, 2);
    o.padding[0] = (int)v[0], o.padding[1] = (int)v[1];
    snprintf(key, sizeof key, "%s.p.dilation", c);
    fx_ints(f, key, v, 2);
    o.dilation[0] = (int)v[0], o.dilation[1] = (int)v[1];
    snprintf(key, sizeof key, "%s.p.groups", c);
    o.groups = fx_int(f, key);
    return o;
}

TEST(test_fixtures) {
    const char *const *cases = fx_cases(f, "");
    int n = 0;
    for (; cases[n]; n++) {
        const char *c = cases[n];
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.x", c);
        zen_tensor *x = fx_param(ctx, f, key);
        snprintf(key, sizeof key, "%s.w", c);
        zen_tensor *w = fx_param(ctx, f, key);
        snprintf(key, sizeof key, "%s.b", c);
        zen_tensor *b = fx_has(f, key) ? fx_param(ctx, f, key) : NULL;
        zen_tensor *y = zen_conv2d(ctx, x, w, b, case_opts(c));
        zen_tensor *inputs[] = {x, w, b};
        const char *names[] = {"x", "w", "b"};
        int fails = fx_check_op(ctx, f, c, y, b ? 3 : 2, inputs, names, 1);
        if (fails) fprintf(stderr, "  (case %s)\n", c);
        CHECK(fails == 0);
        zen_ctx_free(ctx);
    }
    CHECK(n == 12);
}

/* ---- larger shapes vs a naive direct convolution ---- */

typedef struct {
    int N, C, H, W, OC, KH, KW;
    zen_conv2d_opts o;
} shape;

static int out_size(int in, int k, int s, int p, int d) { return (in + 2 * p - d * (k - 1) - 1) / s + 1; }

/* y, and with upstream gradient gy: dx, dw, db, all in double. */
static void naive(const shape *s, const float *x, const float *w, const float *b, const float *gy, double *y,
                  double *dx, double *dw, double *db) {
    int sh = s->o.stride[0] ? s->o.stride[0] : 1, sw = s->o.stride[1] ? s->o.stride[1] : 1;
    int ph = s->o.padding[0], pw = s->o.padding[1];
    int dh = s->o.dilation[0] ? s->o.dilation[0] : 1, dw_ = s->o.dilation[1] ? s->o.dilation[1] : 1;
    int G = s->o.groups ? s->o.groups : 1, Cg = s->C / G, OCg = s->OC / G;
    int OH = out_size(s->H, s->KH, sh, ph, dh), OW = out_size(s->W, s->KW, sw, pw, dw_);
    memset(dx, 0, sizeof(double) * (size_t)(s->N * s->C * s->H * s->W));
    memset(dw, 0, sizeof(double) * (size_t)(s->OC * Cg * s->KH * s->KW));
    memset(db, 0, sizeof(double) * (size_t)s->OC);
    for (int n = 0; n < s->N; n++)
        for (int oc = 0; oc < s->OC; oc++)
            for (int oh = 0; oh < OH; oh++)
                for (int ow = 0; ow < OW; ow++) {
                    int yi = ((n * s->OC + oc) * OH + oh) * OW + ow;
                    double acc = b ? b[oc] : 0, g = gy[yi];
                    db[oc] += g;
                    for (int ci = 0; ci < Cg; ci++) {
                        int c = oc / OCg * Cg + ci;
                        for (int kh = 0; kh < s->KH; kh++)
                            for (int kw = 0; kw < s->KW; kw++) {
                                int ih = oh * sh - ph + kh * dh, iw = ow * sw - pw + kw * dw_;
                                if (ih < 0 || ih >= s->H || iw < 0 || iw >= s->W) continue;
                                int xi = ((n * s->C + c) * s->H + ih) * s->W + iw;
                                int wi = ((oc * Cg + ci) * s->KH + kh) * s->KW + kw;
                                acc += (double)x[xi] * w[wi];
                                dx[xi] += g * w[wi];
                                dw[wi] += g * x[xi];
                            }
                    }
                    y[yi] = acc;
                }
}

static double worst_rel(const float *got, const double *want, int64_t n) {
    double scale = 0, worst = 0;
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(want[i]));
    for (int64_t i = 0; i < n; i++) worst = fmax(worst, fabs(got[i] - want[i]));
    return worst / (scale > 0 ? scale : 1);
}

static void check_large(shape s, bool bias, int threads) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, threads);
    int G = s.o.groups ? s.o.groups : 1;
    zen_tensor *x = zen_param(ctx, ZEN_F32, 4, (int64_t[]){s.N, s.C, s.H, s.W});
    zen_tensor *w = zen_param(ctx, ZEN_F32, 4, (int64_t[]){s.OC, s.C / G, s.KH, s.KW});
    zen_tensor *b = bias ? zen_param(ctx, ZEN_F32, 1, (int64_t[]){s.OC}) : NULL;
    zen_rng r;
    zen_rng_seed(&r, 7);
    zen_rng_fill_uniform(&r, x, -1, 1);
    zen_rng_fill_uniform(&r, w, -1, 1);
    if (b) zen_rng_fill_uniform(&r, b, -1, 1);
    zen_tensor *y = zen_conv2d(ctx, x, w, b, s.o);
    CHECK_OK(ctx, y);
    if (!y) {
        zen_ctx_free(ctx);
        return;
    }
    zen_tensor *gy = zen_const(ctx, ZEN_F32, 4, y->shape);
    zen_rng_fill_uniform(&r, gy, -1, 1);
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, y, gy), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    int64_t ny = zen_numel(y), nx = zen_numel(x), nw = zen_numel(w);
    double *ry = malloc(sizeof(double) * (size_t)ny), *rdx = malloc(sizeof(double) * (size_t)nx);
    double *rdw = malloc(sizeof(double) * (size_t)nw), *rdb = malloc(sizeof(double) * (size_t)s.OC);
    naive(&s, x->data, w->data, b ? b->data : NULL, gy->data, ry, rdx, rdw, rdb);
    double ey = worst_rel(y->data, ry, ny), edx = worst_rel(x->grad->data, rdx, nx);
    double edw = worst_rel(w->grad->data, rdw, nw), edb = b ? worst_rel(b->grad->data, rdb, s.OC) : 0;
    if (ey > 1e-5 || edx > 1e-5 || edw > 1e-5 || edb > 1e-5)
        fprintf(stderr, "  large [%d,%d,%d,%d] oc %d k %dx%d threads %d: rel errors y %g dx %g dw %g db %g\n", s.N,
                s.C, s.H, s.W, s.OC, s.KH, s.KW, threads, ey, edx, edw, edb);
    CHECK(ey <= 1e-5 && edx <= 1e-5 && edw <= 1e-5 && edb <= 1e-5);
    free(ry), free(rdx), free(rdw), free(rdb);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* ---- small reductions (C/groups*KH*KW <= 16): the AVX-512 kernels and the sgemm path ---- */

extern int zen__conv_simd; /* src/ops/conv.c: -1 AVX-512 kernels where available, 0 sgemm */

static void check_both(shape s, bool bias, int threads) {
    for (int simd = 0; simd < 2; simd++) {
        zen__conv_simd = simd ? -1 : 0;
        check_large(s, bias, threads);
    }
    zen__conv_simd = -1;
}

/* Every Kg from 1 to 16 (and 17, just past), ragged pixel counts (tails of 1..15),
 * groups, strides, padding, dilation; the 1x1 case reads x as its column matrix. */
TEST(test_small_k) {
    const shape cases[] = {
        {3, 1, 28, 28, 32, 3, 3, {{0, 0}, {0, 0}, {0, 0}, 0}},  /* the MNIST layer: Kg 9 */
        {2, 1, 9, 7, 5, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 1}},     /* Kg 1, 1x1: direct */
        {2, 2, 9, 10, 7, 1, 3, {{1, 2}, {0, 1}, {1, 1}, 1}},    /* Kg 6, stride 2 */
        {3, 4, 11, 13, 6, 2, 2, {{1, 1}, {1, 1}, {2, 1}, 2}},   /* Kg 8, groups, dilation */
        {2, 1, 15, 17, 3, 4, 4, {{2, 1}, {2, 1}, {1, 1}, 1}},   /* Kg 16 */
        {2, 16, 6, 5, 9, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 1}},    /* Kg 16, direct */
        {2, 17, 5, 6, 4, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 1}},    /* Kg 17: the sgemm */
        {2, 5, 8, 8, 10, 1, 3, {{1, 1}, {0, 1}, {1, 1}, 5}},    /* depthwise 1x3: Kg 3 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        check_both(cases[i], i % 2 == 0, 1);
        check_both(cases[i], i % 2 == 1, 2);
    }
}

/* A column matrix chunked by output rows (1 x 4x4 x 600 columns > 1M floats per 110 rows). */
TEST(test_small_k_chunked) {
    shape s = {1, 1, 300, 603, 3, 4, 4, {{1, 1}, {0, 0}, {1, 1}, 1}};
    check_both(s, true, 1);
}

/* conv -> (relu) -> 2x2 max pool as one node (CONV2D_POOL: the conv's output is made a
 * sample at a time and never kept), with, when x needs no gradient, dw and db from one
 * more fused node (CONV2D_POOL_BACK, recomputing z); when x needs a gradient the backward
 * rebuilds the unfused chain. Each must match the unfused graph (a copy between the conv
 * and the pool keeps them apart): y bit for bit, the gradients to rounding. */
enum { FUSED_X_INPUT, FUSED_X_PARAM, UNFUSED_X_INPUT, UNFUSED_X_PARAM };

static bool have_avx512(void) {
#if defined(__x86_64__) && defined(__GNUC__)
    return __builtin_cpu_supports("avx512f");
#else
    return false;
#endif
}


static void pooled_grads(shape s, bool relu, bool bias, bool nhwc, int mode, int threads, float *y, float *dw,
                         float *db, float *dx, int *ops) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, threads);
    int64_t xs[4] = {s.N, s.C, s.H, s.W};
    bool x_param = mode == FUSED_X_PARAM || mode == UNFUSED_X_PARAM;
    zen_tensor *x = x_param ? zen_param(ctx, ZEN_F32, 4, xs) : zen_input(ctx, ZEN_F32, 4, xs);
    int G = s.o.groups ? s.o.groups : 1;
    zen_tensor *w = zen_param(ctx, ZEN_F32, 4, (int64_t[]){s.OC, s.C / G, s.KH, s.KW});
    zen_tensor *b = bias ? zen_param(ctx, ZEN_F32, 1, (int64_t[]){s.OC}) : NULL;
    zen_rng r;
    zen_rng_seed(&r, 3);
    zen_rng_fill_uniform(&r, x, -1, 1);
    zen_rng_fill_uniform(&r, w, -1, 1);
    if (b) zen_rng_fill_uniform(&r, b, -0.5f, 0.5f);
    zen_tensor *z = zen_conv2d(ctx, x, w, b, s.o);
    if (mode >= UNFUSED_X_INPUT) z = zen_contiguous(ctx, z);
    zen_tensor *p = zen_max_pool2d(ctx, relu ? zen_relu(ctx, z) : z, (zen_pool2d_opts){{2, 2}, {0, 0}, {0, 0}});
    if (nhwc) { /* as Flatten does it: a channels-last copy */
        zen_tensor *q = zen_contiguous(ctx, zen_permute(ctx, p, (int[]){0, 2, 3, 1}));
        CHECK(q && q->shape[3] == p->shape[1] && (mode >= UNFUSED_X_INPUT || !have_avx512() || q->op == p->op));
        p = q;
    }
    CHECK_OK(ctx, p);
    zen_tensor *gy = zen_const(ctx, ZEN_F32, 4, p->shape);
    zen_rng_fill_uniform(&r, gy, -1, 1);
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, p, gy), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, p);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    memcpy(y, p->data, sizeof(float) * (size_t)zen_numel(p));
    memcpy(dw, w->grad->data, sizeof(float) * (size_t)zen_numel(w));
    if (b) memcpy(db, b->grad->data, sizeof(float) * (size_t)s.OC);
    if (x_param) memcpy(dx, x->grad->data, sizeof(float) * (size_t)zen_numel(x));
    zen_tensor *owner = w->grad->view_src ? w->grad->view_src : w->grad;
    ops[0] = p->op, ops[1] = owner->op, ops[2] = (int)zen_numel(p);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

static double max_rel(const float *a, const float *b, int64_t n) {
    double scale = 0, err = 0;
    for (int64_t j = 0; j < n; j++) scale = fmax(scale, fabs(b[j]));
    for (int64_t j = 0; j < n; j++) err = fmax(err, fabs(a[j] - b[j]));
    return scale > 0 ? err / scale : (err > 0 ? 1 : 0);
}

TEST(test_conv_pool_fused) {
    const shape cases[] = {
        {5, 1, 28, 28, 32, 3, 3, {{0, 0}, {0, 0}, {0, 0}, 0}}, /* the MNIST layer */
        {3, 2, 11, 14, 7, 2, 3, {{1, 1}, {1, 0}, {1, 1}, 0}},  /* odd conv output (11x12): a row in no window */
        {2, 3, 9, 9, 5, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 0}},    /* 1x1: direct */
        {4, 16, 6, 8, 3, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 0}},   /* Kg 16 */
        {3, 4, 10, 9, 8, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 4}},   /* depthwise (x2), padded */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        for (int v = 0; v < 16; v++) {
            shape sh = cases[i];
            bool relu = v & 1, bias = v & 2, nhwc = v & 8;
            int threads = v & 4 ? 2 : 1, G = sh.o.groups ? sh.o.groups : 1;
            int64_t nw = (int64_t)sh.OC * (sh.C / G) * sh.KH * sh.KW, nx = (int64_t)sh.N * sh.C * sh.H * sh.W;
            int64_t ny = (int64_t)sh.N * sh.OC * sh.H * sh.W; /* more than enough */
            float *y[4], *dw[4], *dx[4], db[4][64];
            int ops[4][3];
            for (int m = 0; m < 4; m++) {
                y[m] = malloc(sizeof(float) * (size_t)ny), dw[m] = malloc(sizeof(float) * (size_t)nw);
                dx[m] = malloc(sizeof(float) * (size_t)nx);
                pooled_grads(sh, relu, bias, nhwc, m, threads, y[m], dw[m], db[m], dx[m], ops[m]);
            }
            bool avx = have_avx512();
            CHECK(ops[FUSED_X_INPUT][0] == (avx ? ZEN_OP_CONV2D_POOL : ZEN_OP_MAX_POOL2D));
            CHECK(ops[FUSED_X_INPUT][1] == (avx ? ZEN_OP_CONV2D_POOL_BACK : ZEN_OP_CONV2D_BACK_WEIGHT));
            CHECK(ops[FUSED_X_PARAM][1] == ZEN_OP_CONV2D_BACK_WEIGHT);
            CHECK(ops[UNFUSED_X_INPUT][0] == (nhwc ? ZEN_OP_CONTIGUOUS : ZEN_OP_MAX_POOL2D));
            int64_t np = ops[UNFUSED_X_INPUT][2];
            for (int m = 0; m < 2; m++) {
                int ref = m == FUSED_X_INPUT ? UNFUSED_X_INPUT : UNFUSED_X_PARAM;
                double e = max_rel(dw[m], dw[ref], nw);
                if (bias) e = fmax(e, max_rel(db[m], db[ref], sh.OC));
                if (m == FUSED_X_PARAM) e = fmax(e, max_rel(dx[m], dx[ref], nx));
                bool same_y = ops[m][2] == np && memcmp(y[m], y[ref], sizeof(float) * (size_t)np) == 0;
                if (e > 1e-5 || !same_y)
                    fprintf(stderr, "  conv+pool case %zu relu %d bias %d nhwc %d threads %d mode %d: rel error %g, y %s\n",
                            i, relu, bias, nhwc, threads, m, e, same_y ? "same" : "differs");
                CHECK(e <= 1e-5 && same_y);
            }
            for (int m = 0; m < 4; m++) free(y[m]), free(dw[m]), free(dx[m]);
        }
}

/* Batch shared among threads: every option at once. */
TEST(test_large_general) {
    shape s = {6, 6, 17, 15, 8, 3, 4, {{2, 1}, {1, 2}, {1, 2}, 2}};
    check_large(s, true, 2);
    check_large(s, true, 1);
}

/* The MNIST reference layer's shape (batch cut to 16). */
TEST(test_large_mnist) {
    shape s = {16, 1, 28, 28, 32, 3, 3, {{0, 0}, {0, 0}, {0, 0}, 0}};
    check_large(s, true, 2);
}

/* 1x1 stride 1: no im2col, x is the column matrix; and depthwise with padding. */
TEST(test_large_1x1_depthwise) {
    shape s1 = {8, 16, 12, 11, 24, 1, 1, {{1, 1}, {0, 0}, {1, 1}, 1}};
    check_large(s1, false, 2);
    shape s2 = {5, 12, 14, 13, 24, 3, 3, {{1, 1}, {1, 1}, {1, 1}, 12}};
    check_large(s2, true, 2);
}

/* A column matrix of more than 1M floats (16*3*3 x 94x98) is unrolled a chunk of output
 * rows at a time; the chunk edges must line up with padding, stride and dilation. */
TEST(test_large_chunked) {
    shape s = {2, 16, 100, 99, 6, 3, 3, {{1, 1}, {1, 2}, {2, 2}, 1}};
    check_large(s, true, 2);
    shape s1 = {1, 16, 101, 99, 4, 3, 3, {{1, 1}, {1, 2}, {2, 2}, 2}}; /* groups, serial */
    check_large(s1, false, 2);
}

/* A single sample: samples run serially and the sgemm is threaded. */
TEST(test_large_single_sample) {
    shape s = {1, 16, 20, 20, 32, 3, 3, {{1, 1}, {1, 1}, {0, 0}, 1}};
    check_large(s, true, 2);
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
    zen_tensor *x = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 4, 6, 6});
    zen_tensor *w = zen_param(ctx, ZEN_F32, 4, (int64_t[]){6, 4, 3, 3});
    zen_tensor *b = zen_param(ctx, ZEN_F32, 1, (int64_t[]){6});
    zen_conv2d_opts d = {{0, 0}, {0, 0}, {0, 0}, 0};
    CHECK(zen_conv2d(ctx, x, w, b, d) != NULL && !zen_ctx_error(ctx));

    zen_tensor *x3 = zen_param(ctx, ZEN_F32, 3, (int64_t[]){4, 6, 6});
    CHECK(expect_error(zen_conv2d(ctx, x3, w, b, d), "zen_conv2d: x must have 4 dims [N, C, H, W], got [4, 6, 6]"));
    zen_tensor *w2 = zen_param(ctx, ZEN_F32, 2, (int64_t[]){6, 36});
    CHECK(expect_error(zen_conv2d(ctx, x, w2, b, d), "zen_conv2d: w must have 4 dims [OC, C/groups, KH, KW], got [6, 36]"));
    zen_tensor *w3c = zen_param(ctx, ZEN_F32, 4, (int64_t[]){6, 3, 3, 3});
    CHECK(expect_error(zen_conv2d(ctx, x, w3c, b, d),
                       "zen_conv2d: channel mismatch: w [6, 3, 3, 3] expects 3 input channels per group, but x "
                       "[2, 4, 6, 6] has 4 channels in 1 groups"));
    zen_conv2d_opts g3 = {{0, 0}, {0, 0}, {0, 0}, 3};
    CHECK(expect_error(zen_conv2d(ctx, x, w, b, g3),
                       "zen_conv2d: input channels 4 (x [2, 4, 6, 6]) are not divisible by groups 3"));
    zen_tensor *w5 = zen_param(ctx, ZEN_F32, 4, (int64_t[]){5, 2, 3, 3});
    zen_conv2d_opts g2 = {{0, 0}, {0, 0}, {0, 0}, 2};
    CHECK(expect_error(zen_conv2d(ctx, x, w5, NULL, g2),
                       "zen_conv2d: output channels 5 (w [5, 2, 3, 3]) are not divisible by groups 2"));
    zen_tensor *w6g = zen_param(ctx, ZEN_F32, 4, (int64_t[]){6, 2, 3, 3});
    CHECK(zen_conv2d(ctx, x, w6g, b, g2) != NULL); /* right for groups 2 */
    CHECK(expect_error(zen_conv2d(ctx, x, w6g, b, d), "channel mismatch"));
    zen_tensor *b5 = zen_param(ctx, ZEN_F32, 1, (int64_t[]){5});
    CHECK(expect_error(zen_conv2d(ctx, x, w, b5, d), "zen_conv2d: b must have shape [6], got [5]"));
    zen_tensor *b2d = zen_param(ctx, ZEN_F32, 2, (int64_t[]){1, 6});
    CHECK(expect_error(zen_conv2d(ctx, x, w, b2d, d), "zen_conv2d: b must have shape [6], got [1, 6]"));
    zen_tensor *wbig = zen_param(ctx, ZEN_F32, 4, (int64_t[]){6, 4, 7, 3});
    CHECK(expect_error(zen_conv2d(ctx, x, wbig, b, d),
                       "zen_conv2d: output size is not positive: input [2, 4, 6, 6] with padding {0, 0} is "
                       "smaller than the kernel 7x3 with dilation {1, 1}"));
    zen_conv2d_opts pad = {{0, 0}, {1, 0}, {0, 0}, 0};
    CHECK(zen_conv2d(ctx, x, wbig, b, pad) != NULL); /* padding makes it fit */
    zen_conv2d_opts dil = {{0, 0}, {0, 0}, {3, 1}, 0};
    CHECK(expect_error(zen_conv2d(ctx, x, w, b, dil), "output size is not positive"));
    zen_conv2d_opts neg_s = {{-1, 1}, {0, 0}, {0, 0}, 0};
    CHECK(expect_error(zen_conv2d(ctx, x, w, b, neg_s), "zen_conv2d: stride must be positive, got {-1, 1}"));
    zen_conv2d_opts neg_p = {{0, 0}, {0, -2}, {0, 0}, 0};
    CHECK(expect_error(zen_conv2d(ctx, x, w, b, neg_p), "zen_conv2d: padding must be non-negative, got {0, -2}"));
    zen_conv2d_opts neg_d = {{0, 0}, {0, 0}, {-1, 0}, 0};
    CHECK(expect_error(zen_conv2d(ctx, x, w, b, neg_d), "zen_conv2d: dilation must be positive, got {-1, 0}"));
    zen_conv2d_opts neg_g = {{0, 0}, {0, 0}, {0, 0}, -2};
    CHECK(expect_error(zen_conv2d(ctx, x, w, b, neg_g), "zen_conv2d: groups must be positive, got -2"));
    zen_tensor *w0 = zen_param(ctx, ZEN_F32, 4, (int64_t[]){0, 4, 3, 3});
    CHECK(expect_error(zen_conv2d(ctx, x, w0, NULL, d),
                       "zen_conv2d: channels and kernel sizes must be positive: x [2, 4, 6, 6], w [0, 4, 3, 3]"));
    zen_tensor *wk0 = zen_param(ctx, ZEN_F32, 4, (int64_t[]){6, 4, 0, 3});
    CHECK(expect_error(zen_conv2d(ctx, x, wk0, b, d), "channels and kernel sizes must be positive"));
    zen_tensor *xi = zen_input(ctx, ZEN_I32, 4, (int64_t[]){2, 4, 6, 6});
    CHECK(expect_error(zen_conv2d(ctx, xi, w, b, d), "zen_conv2d: x must be f32, got i32"));
    /* A NULL input propagates without a new error. */
    CHECK(zen_conv2d(ctx, NULL, w, b, d) == NULL && !zen_ctx_error(ctx));
    CHECK(zen_conv2d(ctx, x, NULL, b, d) == NULL && !zen_ctx_error(ctx));
    zen_ctx_free(ctx);
}

/* Output shape and non-default options recorded as torch computes them. */
TEST(test_shapes) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_input(ctx, ZEN_F32, 4, (int64_t[]){3, 4, 28, 28});
    zen_tensor *w = zen_param(ctx, ZEN_F32, 4, (int64_t[]){8, 2, 5, 3});
    zen_conv2d_opts o = {{2, 3}, {2, 1}, {2, 1}, 2};
    zen_tensor *y = zen_conv2d(ctx, x, w, NULL, o);
    CHECK_OK(ctx, y);
    /* (28 + 4 - 2*4 - 1)/2 + 1 = 12; (28 + 2 - 1*2 - 1)/3 + 1 = 10 */
    CHECK(y && y->shape[0] == 3 && y->shape[1] == 8 && y->shape[2] == 12 && y->shape[3] == 10);
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("conv.safetensors");
    int rc = RUN_TESTS(test_fixtures, test_small_k, test_small_k_chunked, test_conv_pool_fused, test_large_general, test_large_mnist, test_large_1x1_depthwise,
                       test_large_chunked, test_large_single_sample, test_errors, test_shapes);
    fx_close(f);
    return rc;
}
