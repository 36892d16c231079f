/* cross_entropy (class indices, ignore_index -100, spatial, unbatched), cross_entropy_probs,
 * bce_with_logits, mse, l1, huber vs PyTorch; gradients vs PyTorch and finite differences;
 * targets out of range fail at compute; large inputs on the threaded paths vs a naive
 * reference; error messages. */
#include "harness.h"

#include <string.h>

static fx_file *f;

static zen_tensor *ld(zen_ctx *ctx, const char *c, const char *what, bool param) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", c, what);
    return param ? fx_param(ctx, f, key) : fx_input(ctx, f, key);
}

TEST(test_cross_entropy) {
    const char *cases[] = {"ce", "ce_spatial", "ce_ignore", "ce_1d"};
    for (int k = 0; k < 4; k++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *x = ld(ctx, cases[k], "x", true), *t = ld(ctx, cases[k], "t", false);
        zen_tensor *loss = zen_cross_entropy(ctx, x, t);
        CHECK_OK(ctx, loss);
        CHECK(loss && loss->ndim == 0);
        int fails = fx_check_op(ctx, f, cases[k], loss, 1, &x, (const char *[]){"x"}, 1);
        if (fails) fprintf(stderr, "  (case %s)\n", cases[k]);
        CHECK(fails == 0);
        zen_ctx_free(ctx);
    }
}

TEST(test_cross_entropy_probs) {
    const char *cases[] = {"cep", "cep_spatial"};
    for (int k = 0; k < 2; k++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *in[2] = {ld(ctx, cases[k], "x", true), ld(ctx, cases[k], "p", true)};
        zen_tensor *loss = zen_cross_entropy_probs(ctx, in[0], in[1]);
        CHECK(loss && loss->ndim == 0);
        CHECK(fx_check_op(ctx, f, cases[k], loss, 2, in, (const char *[]){"x", "p"}, 1) == 0);
        zen_ctx_free(ctx);
    }
}

TEST(test_pointwise) {
    struct {
        const char *c, *a, *b;
        int kind;
    } cases[] = {{"bce", "x", "t", 0}, {"mse", "p", "q", 1}, {"l1", "p", "q", 2}, {"huber0", "p", "q", 3},
                 {"huber1", "p", "q", 3}};
    for (int k = 0; k < 5; k++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *in[2] = {ld(ctx, cases[k].c, cases[k].a, true), ld(ctx, cases[k].c, cases[k].b, true)};
        zen_tensor *loss = NULL;
        switch (cases[k].kind) {
        case 0: loss = zen_bce_with_logits(ctx, in[0], in[1]); break;
        case 1: loss = zen_mse_loss(ctx, in[0], in[1]); break;
        case 2: loss = zen_l1_loss(ctx, in[0], in[1]); break;
        default: {
            char key[64];
            snprintf(key, sizeof key, "%s.p.delta", cases[k].c);
            loss = zen_huber_loss(ctx, in[0], in[1], fx_float(f, key));
        }
        }
        CHECK(loss && loss->ndim == 0);
        int fails = fx_check_op(ctx, f, cases[k].c, loss, 2, in, (const char *[]){cases[k].a, cases[k].b}, 1);
        if (fails) fprintf(stderr, "  (case %s)\n", cases[k].c);
        CHECK(fails == 0);
        zen_ctx_free(ctx);
    }
}

/* A class index outside [0, C) (other than -100) makes compute fail, naming it. */
TEST(test_target_out_of_range) {
    int32_t bad[] = {5, -1, -101};
    for (int k = 0; k < 3; k++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3, 5});
        zen_tensor *t = zen_input(ctx, ZEN_I32, 1, (int64_t[]){3});
        int32_t *td = t->data;
        td[0] = 1, td[1] = bad[k], td[2] = 4;
        zen_tensor *loss = zen_cross_entropy(ctx, x, t);
        zen_graph *g = zen_graph_new(ctx);
        zen_graph_add(g, loss);
        CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0);
        CHECK(zen_graph_compute(g) == -1);
        char want[128];
        snprintf(want, sizeof want, "zen_cross_entropy: target %d at position 1 is out of range for 5 classes", bad[k]);
        const char *e = zen_ctx_error(ctx);
        if (!e || !strstr(e, want)) fprintf(stderr, "  error was \"%s\"\n", e ? e : "(none)");
        CHECK(e && strstr(e, want));
        /* fixed, the same graph computes again */
        zen_ctx_clear_error(ctx);
        td[1] = 0;
        CHECK(zen_graph_compute(g) == 0 && isfinite(*(float *)loss->data));
        zen_graph_free(g);
        zen_ctx_free(ctx);
    }
}

/* Every target ignored: the mean of nothing is NaN, as in torch. */
TEST(test_all_ignored) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){2, 3});
    zen_tensor *t = zen_input(ctx, ZEN_I32, 1, (int64_t[]){2});
    ((int32_t *)t->data)[0] = ((int32_t *)t->data)[1] = -100;
    zen_tensor *loss = zen_cross_entropy(ctx, x, t);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, loss);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    CHECK(isnan(*(float *)loss->data));
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* Large: N x C rows and N x C x D spatial, threaded; loss and gradient vs double math. */
static void check_large_ce(int64_t N, int64_t C, int64_t D, bool probs) {
    zen_ctx *ctx = zen_ctx_new();
    zen_rng r;
    zen_rng_seed(&r, 21);
    zen_tensor *x = D > 1 ? zen_param(ctx, ZEN_F32, 3, (int64_t[]){N, C, D}) : zen_param(ctx, ZEN_F32, 2, (int64_t[]){N, C});
    zen_rng_fill_uniform(&r, x, -6, 6);
    zen_tensor *t;
    if (probs) {
        t = zen_param(ctx, ZEN_F32, x->ndim, x->shape);
        zen_rng_fill_uniform(&r, t, 0, 0.2f);
    } else {
        t = D > 1 ? zen_input(ctx, ZEN_I32, 2, (int64_t[]){N, D}) : zen_input(ctx, ZEN_I32, 1, (int64_t[]){N});
        for (int64_t i = 0; i < N * D; i++) ((int32_t *)t->data)[i] = i % 17 == 3 ? -100 : (int32_t)(zen_rng_next(&r) % (uint64_t)C);
    }
    zen_tensor *loss = probs ? zen_cross_entropy_probs(ctx, x, t) : zen_cross_entropy(ctx, x, t);
    zen_tensor *scaled = zen_scale(ctx, loss, 3.0f); /* an upstream gradient of 3 */
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, scaled);
    CHECK(zen_graph_backward(g, scaled) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *X = x->data, *DX = x->grad->data;
    double *lse = malloc((size_t)(N * D) * sizeof *lse);
    double sum = 0, count = 0, eg = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) {
            double m = -INFINITY, s = 0;
            for (int64_t c = 0; c < C; c++) m = fmax(m, X[(n * C + c) * D + d]);
            for (int64_t c = 0; c < C; c++) s += exp(X[(n * C + c) * D + d] - m);
            lse[n * D + d] = m + log(s);
            if (probs) {
                for (int64_t c = 0; c < C; c++)
                    sum -= ((const float *)t->data)[(n * C + c) * D + d] * (X[(n * C + c) * D + d] - lse[n * D + d]);
                count += 1;
            } else {
                int32_t tc = ((const int32_t *)t->data)[n * D + d];
                if (tc == -100) continue;
                sum += lse[n * D + d] - X[(n * C + tc) * D + d];
                count += 1;
            }
        }
    for (int64_t n = 0; n < N; n++)
        for (int64_t d = 0; d < D; d++) {
            double tsum = 0;
            int32_t tc = probs ? 0 : ((const int32_t *)t->data)[n * D + d];
            if (probs)
                for (int64_t c = 0; c < C; c++) tsum += ((const float *)t->data)[(n * C + c) * D + d];
            for (int64_t c = 0; c < C; c++) {
                int64_t i = (n * C + c) * D + d;
                double p = exp(X[i] - lse[n * D + d]), want;
                if (probs) want = 3.0 * (p * tsum - ((const float *)t->data)[i]) / count;
                else want = tc == -100 ? 0.0 : 3.0 * (p - (c == tc)) / count;
                eg = fmax(eg, fabs(want - DX[i]));
            }
        }
    free(lse);
    /* loss itself is not an output (its buffer may be reused): read 3 * loss */
    double el = fabs(sum / count - *(const float *)scaled->data / 3.0);
    if (!(el < 1e-4 * fmax(1, fabs(sum / count)) && eg < 1e-7))
        fprintf(stderr, "  large ce [%lld, %lld, %lld] probs %d: loss error %g, grad error %g\n", (long long)N,
                (long long)C, (long long)D, probs, el, eg);
    CHECK(el < 1e-4 * fmax(1, fabs(sum / count)));
    CHECK(eg < 1e-7);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_large_cross_entropy) {
    for (int probs = 0; probs < 2; probs++) {
        check_large_ce(512, 1000, 1, probs);
        check_large_ce(4, 10, 1600, probs);
    }
}

/* 100k elements: several blocks of the pointwise losses, threaded; vs double math. */
TEST(test_large_pointwise) {
    const int64_t n = 100003;
    for (int kind = 0; kind < 4; kind++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_rng r;
        zen_rng_seed(&r, 33 + kind);
        zen_tensor *p = zen_param(ctx, ZEN_F32, 2, (int64_t[]){n, 1});
        zen_tensor *q = zen_param(ctx, ZEN_F32, 2, (int64_t[]){n, 1});
        zen_rng_fill_uniform(&r, p, -3, 3);
        zen_rng_fill_uniform(&r, q, kind == 0 ? 0 : -3, kind == 0 ? 1 : 3);
        const float delta = 0.7f;
        zen_tensor *loss = kind == 0   ? zen_bce_with_logits(ctx, p, q)
                           : kind == 1 ? zen_mse_loss(ctx, p, q)
                           : kind == 2 ? zen_l1_loss(ctx, p, q)
                                       : zen_huber_loss(ctx, p, q, delta);
        zen_graph *g = zen_graph_new(ctx);
        zen_graph_add(g, loss);
        CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
        const float *P = p->data, *Q = q->data, *DP = p->grad->data, *DQ = q->grad->data;
        double sum = 0, eg = 0;
        for (int64_t i = 0; i < n; i++) {
            double x = P[i], y = Q[i], d = x - y, v, gp, gq;
            switch (kind) {
            case 0:
                v = fmax(x, 0) - x * y + log1p(exp(-fabs(x)));
                gp = 1 / (1 + exp(-x)) - y;
                gq = -x;
                break;
            case 1: v = d * d, gp = 2 * d, gq = -2 * d; break;
            case 2: v = fabs(d), gp = d > 0 ? 1 : -1, gq = -gp; break;
            default:
                v = fabs(d) < delta ? 0.5 * d * d : delta * (fabs(d) - 0.5 * delta);
                gp = fmax(-delta, fmin(delta, d));
                gq = -gp;
            }
            sum += v;
            eg = fmax(eg, fabs(gp / n - DP[i]) + fabs(gq / n - DQ[i]));
        }
        CHECK_NEAR(*(const float *)loss->data, sum / n, 1e-6 * fmax(1, sum / n));
        CHECK(eg < 1e-10);
        zen_graph_free(g);
        zen_ctx_free(ctx);
    }
}

#define CHECK_ERR(ctx, expr, text)                                                                \
    do {                                                                                          \
        CHECK((expr) == NULL);                                                                    \
        const char *e_ = zen_ctx_error(ctx);                                                      \
        if (!e_ || !strstr(e_, text)) {                                                           \
            fprintf(stderr, "  error was \"%s\", expected \"%s\"\n", e_ ? e_ : "(none)", text);  \
            harness_failures++;                                                                   \
        }                                                                                         \
        zen_ctx_clear_error(ctx);                                                                 \
    } while (0)

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){4, 3});
    zen_tensor *y = zen_param(ctx, ZEN_F32, 2, (int64_t[]){4, 2});
    zen_tensor *ti = zen_input(ctx, ZEN_I32, 1, (int64_t[]){4});
    zen_tensor *t5 = zen_input(ctx, ZEN_I32, 1, (int64_t[]){5});
    zen_tensor *empty = zen_param(ctx, ZEN_F32, 2, (int64_t[]){4, 0});
    CHECK_ERR(ctx, zen_cross_entropy(ctx, x, y), "zen_cross_entropy: target must be i32 class indices, got f32");
    CHECK_ERR(ctx, zen_cross_entropy(ctx, x, t5), "zen_cross_entropy: target [5] does not fit logits [4, 3]");
    CHECK_ERR(ctx, zen_cross_entropy(ctx, ti, ti), "zen_cross_entropy: logits must be f32, got i32");
    CHECK_ERR(ctx, zen_cross_entropy(ctx, zen_scalar(ctx, 1), ti), "logits must be [N, C, d...] or [C], got a 0-d tensor");
    CHECK_ERR(ctx, zen_cross_entropy(ctx, empty, ti), "zen_cross_entropy: logits [4, 0] have no classes");
    CHECK_ERR(ctx, zen_cross_entropy_probs(ctx, x, y), "zen_cross_entropy_probs: target [4, 2] must have the shape of logits [4, 3]");
    CHECK_ERR(ctx, zen_mse_loss(ctx, x, y), "zen_mse_loss: pred [4, 3] and target [4, 2] must have the same shape");
    CHECK_ERR(ctx, zen_l1_loss(ctx, x, ti), "zen_l1_loss: target must be f32, got i32");
    CHECK_ERR(ctx, zen_bce_with_logits(ctx, y, x), "zen_bce_with_logits: logits [4, 2] and target [4, 3]");
    CHECK_ERR(ctx, zen_huber_loss(ctx, x, x, 0.0f), "zen_huber_loss: delta must be positive, got 0");
    CHECK(zen_mse_loss(ctx, NULL, x) == NULL && !zen_ctx_error(ctx));
    CHECK(zen_cross_entropy(ctx, x, NULL) == NULL && !zen_ctx_error(ctx));
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("loss.safetensors");
    int rc = RUN_TESTS(test_cross_entropy, test_cross_entropy_probs, test_pointwise, test_target_out_of_range,
                       test_all_ignored, test_large_cross_entropy, test_large_pointwise, test_errors);
    fx_close(f);
    return rc;
}
