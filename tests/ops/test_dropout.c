/* Dropout has no PyTorch fixture: torch draws its mask from a different generator, so no
 * element-wise comparison is possible. These tests replace it: the fraction dropped is p
 * (statistically, on 100k elements), kept values are exactly x / (1 - p), the mask is a
 * pure function of (seed, run, index) (same for fresh graphs, new on each run, different
 * per seed), the gradient is exactly mask * scale * g, and eval mode is the identity. */
#include "harness.h"

#include <string.h>

#define N 100000

typedef struct {
    zen_ctx *ctx;
    zen_tensor *x, *y, *w;
    zen_graph *g;
} setup;

/* y = dropout(x) over N elements with x[i] = 1 + i % 97 (never 0, so y == 0 means dropped),
 * and the gradient of sum(y * w) when grad is set. */
static setup make(float p, uint64_t seed, bool grad) {
    setup s;
    s.ctx = zen_ctx_new();
    s.x = zen_param(s.ctx, ZEN_F32, 2, (int64_t[]){N / 100, 100});
    float *X = s.x->data;
    for (int i = 0; i < N; i++) X[i] = (float)(1 + i % 97);
    s.y = zen_dropout(s.ctx, s.x, p, seed);
    s.w = zen_const(s.ctx, ZEN_F32, 2, s.x->shape);
    zen_rng r;
    zen_rng_seed(&r, 17);
    zen_rng_fill_uniform(&r, s.w, -1, 1);
    s.g = zen_graph_new(s.ctx);
    zen_graph_add(s.g, s.y);
    if (grad) zen_graph_backward(s.g, zen_sum(s.ctx, zen_mul(s.ctx, s.y, s.w), 0, NULL, false));
    zen_graph_plan(s.g);
    return s;
}

static void done(setup *s) {
    zen_graph_free(s->g);
    zen_ctx_free(s->ctx);
}

static float scale_of(float p) { return (float)(1.0 / (1.0 - (double)p)); }

TEST(test_statistics) {
    const float ps[] = {0.1f, 0.5f, 0.9f};
    for (int k = 0; k < 3; k++) {
        setup s = make(ps[k], 42, false);
        CHECK(zen_graph_compute(s.g) == 0);
        const float *X = s.x->data, *Y = s.y->data;
        const float scale = scale_of(ps[k]);
        int64_t dropped = 0, wrong = 0;
        for (int i = 0; i < N; i++) {
            if (Y[i] == 0) dropped++;
            else wrong += Y[i] != X[i] * scale;
        }
        /* binomial sd is sqrt(p(1-p)/N) <= 0.0016: allow 5 sd */
        CHECK_NEAR((double)dropped / N, ps[k], 0.008);
        CHECK(wrong == 0);
        done(&s);
    }
}

/* Fresh graphs with the same seed start at run 0: the same mask. The next compute of a
 * graph (run 1) draws another one; another seed draws another one. */
TEST(test_determinism) {
    setup a = make(0.5f, 7, false), b = make(0.5f, 7, false), c = make(0.5f, 8, false);
    CHECK(zen_graph_compute(a.g) == 0 && zen_graph_compute(b.g) == 0 && zen_graph_compute(c.g) == 0);
    CHECK(memcmp(a.y->data, b.y->data, N * sizeof(float)) == 0);
    float *run0 = malloc(N * sizeof(float));
    memcpy(run0, a.y->data, N * sizeof(float));
    CHECK(zen_graph_compute(a.g) == 0);
    const float *Y1 = a.y->data, *YC = c.y->data;
    int64_t same_run = 0, same_seed = 0;
    for (int i = 0; i < N; i++) {
        same_run += (run0[i] == 0) == (Y1[i] == 0);
        same_seed += (run0[i] == 0) == (YC[i] == 0);
    }
    /* independent masks with p = 0.5 agree on about half the elements */
    CHECK_NEAR((double)same_run / N, 0.5, 0.01);
    CHECK_NEAR((double)same_seed / N, 0.5, 0.01);
    /* b's second run equals a's second run */
    CHECK(zen_graph_compute(b.g) == 0);
    CHECK(memcmp(a.y->data, b.y->data, N * sizeof(float)) == 0);
    free(run0);
    done(&a);
    done(&b);
    done(&c);
}

/* The gradient is the forward mask (recomputed, not stored) times scale times g, on the
 * first and on later runs. */
TEST(test_gradient) {
    const float p = 0.3f, scale = scale_of(p);
    setup s = make(p, 123, true);
    for (int run = 0; run < 2; run++) {
        CHECK(zen_graph_compute(s.g) == 0);
        const float *Y = s.y->data, *W = s.w->data, *G = s.x->grad->data;
        int64_t wrong = 0, kept = 0;
        for (int i = 0; i < N; i++) {
            float want = Y[i] != 0 ? W[i] * scale : 0.0f;
            wrong += G[i] != want;
            kept += Y[i] != 0;
        }
        CHECK(wrong == 0);
        CHECK(kept > N / 2 && kept < N);
    }
    done(&s);
}

/* zen_graph_set_training(g, false): forward and gradient are the identity; p = 0 too. */
TEST(test_eval_and_p0) {
    setup s = make(0.5f, 1, true);
    zen_graph_set_training(s.g, false);
    CHECK(zen_graph_compute(s.g) == 0);
    CHECK(memcmp(s.y->data, s.x->data, N * sizeof(float)) == 0);
    CHECK(memcmp(s.x->grad->data, s.w->data, N * sizeof(float)) == 0);
    zen_graph_set_training(s.g, true);
    CHECK(zen_graph_compute(s.g) == 0);
    CHECK(memcmp(s.y->data, s.x->data, N * sizeof(float)) != 0);
    done(&s);
    setup z = make(0.0f, 1, true);
    CHECK(zen_graph_compute(z.g) == 0);
    CHECK(memcmp(z.y->data, z.x->data, N * sizeof(float)) == 0);
    CHECK(memcmp(z.x->grad->data, z.w->data, N * sizeof(float)) == 0);
    done(&z);
}

/* p = 1 drops everything (zeros, zero gradient) in training, as torch does. */
TEST(test_p1) {
    setup s = make(1.0f, 3, true);
    CHECK_OK(s.ctx, s.y);
    CHECK(zen_graph_compute(s.g) == 0);
    const float *Y = s.y->data, *G = s.x->grad->data;
    int64_t nonzero = 0;
    for (int i = 0; i < N; i++) nonzero += Y[i] != 0 || G[i] != 0;
    CHECK(nonzero == 0);
    zen_graph_set_training(s.g, false); /* eval mode: the identity, even for p = 1 */
    CHECK(zen_graph_compute(s.g) == 0);
    CHECK(memcmp(s.y->data, s.x->data, N * sizeof(float)) == 0);
    done(&s);
}

/* A strided input: the mask follows the dense (row-major) order of the view. */
TEST(test_strided_input) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_input(ctx, ZEN_F32, 2, (int64_t[]){30, 20});
    float *X = x->data;
    for (int i = 0; i < 600; i++) X[i] = (float)(i + 1);
    zen_tensor *xt = zen_transpose(ctx, x, 0, 1);
    zen_tensor *y = zen_dropout(ctx, xt, 0.5f, 9);
    zen_tensor *yc = zen_dropout(ctx, zen_contiguous(ctx, xt), 0.5f, 9);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    zen_graph_add(g, yc);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    CHECK(memcmp(y->data, yc->data, 600 * sizeof(float)) == 0);
    int64_t kept = 0;
    for (int i = 0; i < 20; i++)
        for (int j = 0; j < 30; j++) {
            float v = zen_get_f32(y, (int64_t[]){i, j});
            CHECK(v == 0 || v == 2.0f * X[j * 20 + i]);
            kept += v != 0;
        }
    CHECK(kept > 200 && kept < 400);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 1, (int64_t[]){3});
    CHECK(zen_dropout(ctx, x, 1.5f, 0) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_dropout: p must be in [0, 1], got 1.5"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_dropout(ctx, x, -0.1f, 0) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_dropout: p must be in [0, 1]"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_dropout(ctx, x, NAN, 0) == NULL);
    zen_ctx_clear_error(ctx);
    CHECK(zen_dropout(ctx, zen_input(ctx, ZEN_I32, 1, (int64_t[]){3}), 0.5f, 0) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_dropout: x must be f32, got i32"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_dropout(ctx, NULL, 0.5f, 0) == NULL && !zen_ctx_error(ctx));
    zen_ctx_free(ctx);
}

int main(void) {
    return RUN_TESTS(test_statistics, test_determinism, test_gradient, test_eval_and_p0, test_p1, test_strided_input,
                     test_errors);
}
