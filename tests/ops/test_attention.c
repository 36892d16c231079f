/* zen_attention vs PyTorch (forward, gradients of q, k, v) and finite differences, over
 * plain, causal, Tq < Tk causal (KV cache), padding, grouped-query and multi-tile cases;
 * strided (permuted) inputs; a large threaded case vs a double-precision reference at 1-3
 * threads; dropout: its mask (statistics, values) and its gradients vs the explicit
 * composition with the same mask; evaluation mode; a steady-state training step of
 * rope + layer_norm + attention allocates nothing; errors. */
#define _GNU_SOURCE /* dladdr, in alloc_counter.h */
#include "harness.h"

#include "alloc_counter.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static fx_file *f;

static zen_tensor *attn_case(zen_ctx *ctx, const char *c, zen_tensor **q, zen_tensor **k, zen_tensor **v) {
    char key[128];
    snprintf(key, sizeof key, "%s.q", c);
    *q = fx_param(ctx, f, key);
    snprintf(key, sizeof key, "%s.k", c);
    *k = fx_param(ctx, f, key);
    snprintf(key, sizeof key, "%s.v", c);
    *v = fx_param(ctx, f, key);
    snprintf(key, sizeof key, "%s.mask", c);
    zen_tensor *mask = fx_has(f, key) ? fx_input(ctx, f, key) : NULL;
    zen_attention_opts o = {0};
    snprintf(key, sizeof key, "%s.p.causal", c);
    o.causal = fx_int(f, key) != 0;
    snprintf(key, sizeof key, "%s.p.scale", c);
    o.scale = fx_float(f, key);
    return zen_attention(ctx, *q, *k, *v, mask, o);
}

TEST(test_vs_torch) {
    const char *const *cases = fx_cases(f, "");
    int n = 0;
    for (; cases[n]; n++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *q, *k, *v;
        zen_tensor *y = attn_case(ctx, cases[n], &q, &k, &v);
        CHECK_OK(ctx, y);
        int fails = fx_check_op(ctx, f, cases[n], y, 3, (zen_tensor *[]){q, k, v}, (const char *[]){"q", "k", "v"}, 2);
        if (fails) fprintf(stderr, "  (case %s)\n", cases[n]);
        CHECK(fails == 0);
        zen_ctx_free(ctx);
    }
    CHECK(n == 10);
}

/* q, k, v given as permuted views of [B, T, H, D] tensors (how projections come out) are
 * read in place: same numbers as the dense case. */
TEST(test_strided_inputs) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *q = fx_param(ctx, f, "gqa.q"), *k = fx_param(ctx, f, "gqa.k"), *v = fx_param(ctx, f, "gqa.v");
    const int perm[4] = {0, 2, 1, 3};
    zen_tensor *qs = zen_permute(ctx, zen_contiguous(ctx, zen_permute(ctx, q, perm)), perm);
    zen_tensor *ks = zen_permute(ctx, zen_contiguous(ctx, zen_permute(ctx, k, perm)), perm);
    zen_tensor *vs = zen_permute(ctx, zen_contiguous(ctx, zen_permute(ctx, v, perm)), perm);
    zen_tensor *y = zen_attention(ctx, qs, ks, vs, NULL, (zen_attention_opts){.causal = true});
    CHECK_OK(ctx, y);
    CHECK(fx_check_op(ctx, f, "gqa", y, 3, (zen_tensor *[]){q, k, v}, (const char *[]){"q", "k", "v"}, 2) == 0);
    zen_ctx_free(ctx);
}

/* Naive double-precision attention (with the documented masks) and its gradients. */
static void naive(int64_t B, int64_t H, int64_t Hkv, int64_t Tq, int64_t Tk, int64_t D, const float *Q, const float *K,
                  const float *V, const float *M, bool causal, const float *G, double *O, double *dQ, double *dK,
                  double *dV) {
    double *p = malloc((size_t)Tk * sizeof *p), *dp = malloc((size_t)Tk * sizeof *dp);
    double scale = 1 / sqrt((double)D);
    memset(dK, 0, (size_t)(B * Hkv * Tk * D) * sizeof *dK);
    memset(dV, 0, (size_t)(B * Hkv * Tk * D) * sizeof *dV);
    for (int64_t b = 0; b < B; b++)
        for (int64_t h = 0; h < H; h++) {
            int64_t hk = h / (H / Hkv);
            const float *k = K + (b * Hkv + hk) * Tk * D, *v = V + (b * Hkv + hk) * Tk * D;
            double *dk = dK + (b * Hkv + hk) * Tk * D, *dv = dV + (b * Hkv + hk) * Tk * D;
            for (int64_t i = 0; i < Tq; i++) {
                const float *q = Q + ((b * H + h) * Tq + i) * D, *g = G + ((b * H + h) * Tq + i) * D;
                double *o = O + ((b * H + h) * Tq + i) * D, *dq = dQ + ((b * H + h) * Tq + i) * D;
                double m = -INFINITY, s = 0, di = 0;
                for (int64_t j = 0; j < Tk; j++) {
                    bool ok = (!causal || j <= i + Tk - Tq) && (!M || M[b * Tk + j] != 0);
                    double d = 0;
                    for (int64_t e = 0; e < D; e++) d += (double)q[e] * k[j * D + e];
                    p[j] = ok ? d * scale : -INFINITY;
                    m = fmax(m, p[j]);
                }
                for (int64_t j = 0; j < Tk; j++) s += p[j] = exp(p[j] - m);
                for (int64_t e = 0; e < D; e++) o[e] = dq[e] = 0;
                for (int64_t j = 0; j < Tk; j++) {
                    p[j] /= s;
                    dp[j] = 0;
                    for (int64_t e = 0; e < D; e++) {
                        o[e] += p[j] * v[j * D + e];
                        dp[j] += (double)g[e] * v[j * D + e];
                        dv[j * D + e] += p[j] * g[e];
                    }
                }
                for (int64_t e = 0; e < D; e++) di += o[e] * g[e];
                for (int64_t j = 0; j < Tk; j++) {
                    double ds = p[j] * (dp[j] - di) * scale;
                    for (int64_t e = 0; e < D; e++) {
                        dq[e] += ds * k[j * D + e];
                        dk[j * D + e] += ds * q[e];
                    }
                }
            }
        }
    free(p);
    free(dp);
}

static double max_err(const float *a, const double *b, int64_t n) {
    double e = 0;
    for (int64_t i = 0; i < n; i++) e = fmax(e, fabs(a[i] - b[i]) / (1 + fabs(b[i])));
    return e;
}

static void check_large(int nthreads, int64_t Tq, int64_t Tk, int64_t Hkv) {
    const int64_t B = 2, H = 4, D = 32;
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, nthreads);
    zen_rng r;
    zen_rng_seed(&r, 77);
    zen_tensor *q = zen_param(ctx, ZEN_F32, 4, (int64_t[]){B, H, Tq, D});
    zen_tensor *k = zen_param(ctx, ZEN_F32, 4, (int64_t[]){B, Hkv, Tk, D});
    zen_tensor *v = zen_param(ctx, ZEN_F32, 4, (int64_t[]){B, Hkv, Tk, D});
    zen_tensor *m = zen_input(ctx, ZEN_F32, 2, (int64_t[]){B, Tk});
    zen_tensor *gy = zen_const(ctx, ZEN_F32, 4, q->shape);
    zen_rng_fill_normal(&r, q, 0, 1.5f);
    zen_rng_fill_normal(&r, k, 0, 1.5f);
    zen_rng_fill_normal(&r, v, 0, 1);
    zen_rng_fill_normal(&r, gy, 0, 1);
    zen_fill_f32(m, 1);
    for (int64_t j = Tk - 7; j < Tk; j++) ((float *)m->data)[Tk + j] = 0; /* batch 1: last 7 keys padded */
    ((float *)m->data)[3] = 0;
    zen_tensor *y = zen_attention(ctx, q, k, v, m, (zen_attention_opts){.causal = true});
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, y, gy), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    int64_t nq = B * H * Tq * D, nk = B * Hkv * Tk * D;
    double *O = malloc((size_t)nq * sizeof *O), *dQ = malloc((size_t)nq * sizeof *dQ);
    double *dK = malloc((size_t)nk * sizeof *dK), *dV = malloc((size_t)nk * sizeof *dV);
    naive(B, H, Hkv, Tq, Tk, D, q->data, k->data, v->data, m->data, true, gy->data, O, dQ, dK, dV);
    double eo = max_err(y->data, O, nq), eq = max_err(q->grad->data, dQ, nq);
    double ek = max_err(k->grad->data, dK, nk), ev = max_err(v->grad->data, dV, nk);
    if (!(eo < 2e-5 && eq < 1e-4 && ek < 1e-4 && ev < 1e-4))
        fprintf(stderr, "  %d threads Tq %lld Tk %lld Hkv %lld: errors o %g dq %g dk %g dv %g\n", nthreads,
                (long long)Tq, (long long)Tk, (long long)Hkv, eo, eq, ek, ev);
    CHECK(eo < 2e-5 && eq < 1e-4 && ek < 1e-4 && ev < 1e-4);
    free(O), free(dQ), free(dK), free(dV);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_large) {
    for (int t = 1; t <= 3; t++) check_large(t, 300, 300, 4);
    check_large(2, 130, 600, 2); /* Tq < Tk over several key tiles, grouped heads */
}

/* Dropout. With v the identity (Tk == Dv), out = the attention weights after dropout, so
 * the mask can be read back: each weight is 0 or P / (1 - p), about p of them 0. Then the
 * gradients of attention with dropout must equal those of the explicit composition
 * softmax(q kᵀ * scale) ∘ mask · v with that same mask (same seed, same run counter). */
TEST(test_dropout) {
    const int64_t B = 2, H = 3, T = 40, D = 8;
    const float p = 0.3f;
    zen_ctx *ctx = zen_ctx_new();
    zen_rng r;
    zen_rng_seed(&r, 3);
    zen_tensor *q = zen_param(ctx, ZEN_F32, 4, (int64_t[]){B, H, T, D});
    zen_tensor *k = zen_param(ctx, ZEN_F32, 4, (int64_t[]){B, H, T, D});
    zen_tensor *v = zen_param(ctx, ZEN_F32, 4, (int64_t[]){B, H, T, D});
    zen_tensor *eye = zen_const(ctx, ZEN_F32, 4, (int64_t[]){B, H, T, T});
    zen_rng_fill_normal(&r, q, 0, 1);
    zen_rng_fill_normal(&r, k, 0, 1);
    zen_rng_fill_normal(&r, v, 0, 1);
    for (int64_t bh = 0; bh < B * H; bh++)
        for (int64_t i = 0; i < T; i++) ((float *)eye->data)[(bh * T + i) * T + i] = 1;
    zen_attention_opts o = {.causal = true, .dropout = p, .seed = 42};
    zen_tensor *pd = zen_attention(ctx, q, k, eye, NULL, o);
    zen_tensor *p0 = zen_attention(ctx, q, k, eye, NULL, (zen_attention_opts){.causal = true});
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, pd);
    zen_graph_add(g, p0);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const int64_t n = B * H * T * T;
    zen_tensor *mask = zen_const(ctx, ZEN_F32, 4, eye->shape);
    float *M = mask->data;
    const float *PD = pd->data, *P0 = p0->data;
    int64_t visible = 0, dropped = 0, bad = 0;
    for (int64_t i = 0; i < n; i++) {
        if (P0[i] == 0) continue;
        visible++;
        if (PD[i] == 0) dropped++, M[i] = 0;
        else if (fabsf(PD[i] - P0[i] / (1 - p)) > 1e-5f * (1 + P0[i])) bad++;
        else M[i] = 1 / (1 - p);
    }
    double frac = (double)dropped / (double)visible;
    CHECK(bad == 0);
    CHECK(fabs(frac - p) < 0.05); /* 4920 visible weights: 5 standard deviations */
    /* a second compute draws a fresh mask */
    float first = 0;
    for (int64_t i = 0; i < n; i++) first += PD[i] != 0;
    CHECK(zen_graph_compute(g) == 0);
    int64_t changed = 0;
    for (int64_t i = 0; i < n; i++) changed += (PD[i] == 0) != (M[i] == 0 && P0[i] != 0);
    CHECK(changed > visible / 4);
    (void)first;
    zen_graph_free(g);

    /* gradients vs the explicit composition, both in a fresh graph (run counter 0) */
    zen_tensor *gy = zen_const(ctx, ZEN_F32, 4, q->shape);
    zen_rng_fill_normal(&r, gy, 0, 1);
    zen_tensor *y = zen_attention(ctx, q, k, v, NULL, o);
    zen_tensor *cm = zen_const(ctx, ZEN_F32, 4, eye->shape); /* causal: -inf above the diagonal */
    for (int64_t bh = 0; bh < B * H; bh++)
        for (int64_t i = 0; i < T; i++)
            for (int64_t j = i + 1; j < T; j++) ((float *)cm->data)[(bh * T + i) * T + j] = -INFINITY;
    zen_tensor *s = zen_add(ctx, zen_scale(ctx, zen_matmul(ctx, q, k, false, true), 1 / sqrtf((float)D)), cm);
    zen_tensor *ref = zen_matmul(ctx, zen_mul(ctx, zen_softmax(ctx, s, -1), mask), v, false, false);
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, zen_sub(ctx, y, ref), gy), 0, NULL, false);
    /* d(loss) = grads of y minus grads of ref: every gradient must come out ~0 */
    g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    zen_graph_add(g, ref);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    double ey = 0, eg = 0, gmax = 0;
    for (int64_t i = 0; i < B * H * T * D; i++) {
        ey = fmax(ey, fabs(((float *)y->data)[i] - ((float *)ref->data)[i]));
        const zen_tensor *ts[3] = {q, k, v};
        for (int t = 0; t < 3; t++) eg = fmax(eg, fabs(((float *)ts[t]->grad->data)[i]));
    }
    /* scale of the gradients themselves, for reference: the same loss with y alone */
    (void)gmax;
    if (!(ey < 1e-5 && eg < 1e-4)) fprintf(stderr, "  dropout: forward error %g, gradient difference %g\n", ey, eg);
    CHECK(ey < 1e-5 && eg < 1e-4);
    zen_graph_free(g);

    /* evaluation mode: the identity (same as p = 0) */
    zen_tensor *y0 = zen_attention(ctx, q, k, v, NULL, (zen_attention_opts){.causal = true});
    g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    zen_graph_add(g, y0);
    zen_graph_set_training(g, false);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    CHECK(memcmp(y->data, y0->data, zen_nbytes(y)) == 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* A query that sees no key (all padded) gives zeros and zero gradients, never NaN. */
TEST(test_fully_masked_row) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *q = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 1, 3, 4});
    zen_tensor *k = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 1, 5, 4});
    zen_tensor *v = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 1, 5, 4});
    zen_tensor *m = zen_input(ctx, ZEN_F32, 2, (int64_t[]){2, 5});
    zen_rng r;
    zen_rng_seed(&r, 1);
    zen_rng_fill_normal(&r, q, 0, 1);
    zen_rng_fill_normal(&r, k, 0, 1);
    zen_rng_fill_normal(&r, v, 0, 1);
    for (int j = 0; j < 5; j++) ((float *)m->data)[j] = 1; /* batch 1 all padding */
    zen_tensor *y = zen_attention(ctx, q, k, v, m, (zen_attention_opts){0});
    zen_tensor *loss = zen_sum(ctx, y, 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *Y = y->data, *DQ = q->grad->data, *DK = k->grad->data;
    for (int i = 12; i < 24; i++) CHECK(Y[i] == 0 && DQ[i] == 0);
    for (int i = 20; i < 40; i++) CHECK(DK[i] == 0);
    for (int i = 0; i < 12; i++) CHECK(Y[i] != 0 && isfinite(Y[i]));
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* A planned graph with attention (dropout on), rope and layer_norm, forward and backward,
 * computes without zen touching the heap (oneDNN's sgemm allocates its own packing
 * scratch per call: counted apart and reported). */
TEST(test_no_allocation) {
#if ALLOC_COUNTER_SUPPORTED
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, 2);
    zen_rng r;
    zen_rng_seed(&r, 5);
    zen_tensor *x = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 3, 70, 16});
    zen_tensor *gamma = zen_param(ctx, ZEN_F32, 1, (int64_t[]){16});
    zen_rng_fill_normal(&r, x, 0, 1);
    zen_rng_fill_normal(&r, gamma, 1, 0.1f);
    zen_tensor *h = zen_layer_norm(ctx, x, gamma, NULL, 1e-5f);
    zen_tensor *q = zen_rope(ctx, h, NULL, 3, 10000.0f);
    zen_tensor *y = zen_attention(ctx, q, q, h, NULL, (zen_attention_opts){.causal = true, .dropout = 0.1f, .seed = 1});
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, y, y), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0);
    CHECK(zen_graph_compute(g) == 0);
    alloc_counter_start();
    for (int i = 0; i < 3; i++) CHECK(zen_graph_compute(g) == 0);
    long n = alloc_counter_stop();
    printf("    allocations in 3 steps: zen %ld, BLAS %ld\n", n, (long)alloc_count_blas);
    CHECK(n == 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
#else
    (void)alloc_count_blas;
    printf("    skipped under a sanitizer\n");
#endif
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *q = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 4, 5, 8});
    zen_tensor *k = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 3, 6, 8});
    zen_tensor *k2 = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 2, 6, 8});
    zen_tensor *v = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 2, 6, 3});
    zen_tensor *q3 = zen_param(ctx, ZEN_F32, 3, (int64_t[]){2, 5, 8});
    zen_attention_opts o = {0};
    CHECK(zen_attention(ctx, q3, k2, v, NULL, o) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_attention: q must be 4-D [batch, heads, steps, dim], got [2, 5, 8]"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_attention(ctx, q, k, v, NULL, o) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_attention: shapes q [2, 4, 5, 8], k [2, 3, 6, 8], v [2, 2, 6, 3] do not fit"));
    zen_ctx_clear_error(ctx);
    zen_tensor *k3 = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 3, 6, 8}), *v3 = zen_param(ctx, ZEN_F32, 4, (int64_t[]){2, 3, 6, 3});
    CHECK(zen_attention(ctx, q, k3, v3, NULL, o) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_attention: q's 4 heads are not a multiple of k's and v's 3 heads"));
    zen_ctx_clear_error(ctx);
    zen_tensor *m = zen_input(ctx, ZEN_F32, 2, (int64_t[]){2, 5});
    CHECK(zen_attention(ctx, q, k2, v, m, o) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_attention: key_mask must be [batch, keys] = [2, 6], got [2, 5]"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_attention(ctx, q, k2, v, NULL, (zen_attention_opts){.dropout = 1.5f}) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_attention: dropout must be in [0, 1], got 1.5"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_attention(ctx, q, k2, v, NULL, (zen_attention_opts){.scale = -1}) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "scale must be a finite number >= 0"));
    zen_ctx_clear_error(ctx);
    zen_tensor *qi = zen_input(ctx, ZEN_I32, 4, (int64_t[]){2, 4, 5, 8});
    CHECK(zen_attention(ctx, qi, k2, v, NULL, o) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_attention: q must be f32"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_attention(ctx, NULL, k2, v, NULL, o) == NULL);
    CHECK_OK(ctx, zen_attention(ctx, q, k2, v, NULL, o));
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("attention.safetensors");
    int rc = RUN_TESTS(test_vs_torch, test_strided_inputs, test_large, test_dropout, test_fully_masked_row,
                       test_no_allocation, test_errors);
    fx_close(f);
    return rc;
}
