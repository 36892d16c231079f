/* Fused RNN / LSTM / GRU vs torch.nn (outputs, final states, gradients to x, weights, biases
 * and initial states; reverse; Keras masks) and finite differences; reverse_outputs; a larger
 * masked LSTM at 1 and 2 threads vs a naive step loop; bad inputs. */
#include "harness.h"

#include <string.h>

static fx_file *f;

static const zen_rnn_mode modes[] = {ZEN_RNN_LSTM, ZEN_RNN_GRU, ZEN_RNN_TANH, ZEN_RNN_RELU};

/* y, h (and c) flattened into one vector, as the fixtures' out */
static zen_tensor *pack(zen_ctx *ctx, zen_rnn_out r) {
    zen_tensor *parts[3];
    int n = 0;
    zen_tensor *ts[3] = {r.y, r.h, r.c};
    for (int k = 0; k < 3; k++)
        if (ts[k]) parts[n++] = zen_reshape(ctx, ts[k], 1, (int64_t[]){zen_numel(ts[k])});
    return r.y ? zen_concat(ctx, n, parts, 0) : NULL;
}

/* fx_check_op's checks vs torch, with finite differences of step 1e-3. */
static int check_relu(zen_ctx *ctx, const char *c, zen_tensor *out, int n, zen_tensor *const *inputs,
                      const char *const *names) {
    char key[128];
    snprintf(key, sizeof key, "%s.gout", c);
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, out, fx_input(ctx, f, key)), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, out);
    if (zen_graph_backward(g, loss) || zen_graph_plan(g) || zen_graph_compute(g)) {
        fprintf(stderr, "  %s: %s\n", c, zen_ctx_error(ctx));
        zen_graph_free(g);
        return 1;
    }
    snprintf(key, sizeof key, "%s.out", c);
    int fails = fx_check_tensor(c, out, f, key, 1e-5, 1e-4);
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%s.grad.%s", c, names[i]);
        fails += fx_check_tensor(key, inputs[i]->grad, f, key, 1e-5, 1e-4);
    }
    zen_graph_free(g);
    return fails + gradcheck(ctx, out, n, inputs, 1e-3, 1);
}

TEST(test_fixtures) {
    const char *const *cases = fx_cases(f, "");
    int ncases = 0;
    for (; cases[ncases]; ncases++) {
        const char *c = cases[ncases];
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        static const char *const names[] = {"x", "w_ih", "w_hh", "b_ih", "b_hh", "h0", "c0"};
        zen_tensor *leaves[7] = {0}, *inputs[7];
        const char *inames[7];
        int n = 0;
        for (int k = 0; k < 7; k++) {
            snprintf(key, sizeof key, "%s.%s", c, names[k]);
            if (!fx_has(f, key)) continue;
            leaves[k] = fx_param(ctx, f, key);
            inputs[n] = leaves[k];
            inames[n++] = names[k];
        }
        snprintf(key, sizeof key, "%s.p.mode", c);
        zen_rnn_opts o = {.mode = modes[fx_int(f, key)], .b_ih = leaves[3], .b_hh = leaves[4], .h0 = leaves[5],
                          .c0 = leaves[6]};
        snprintf(key, sizeof key, "%s.p.reverse", c);
        o.reverse = fx_int(f, key);
        snprintf(key, sizeof key, "%s.mask", c);
        if (fx_has(f, key)) o.mask = fx_input(ctx, f, key);
        zen_tensor *out = pack(ctx, zen_rnn(ctx, leaves[0], leaves[1], leaves[2], &o));
        /* relu's kinks are closer than fx_check_op's finite-difference step (1e-2) */
        int fails = o.mode == ZEN_RNN_RELU ? check_relu(ctx, c, out, n, inputs, inames)
                                           : fx_check_op(ctx, f, c, out, n, inputs, inames, 1);
        if (fails) fprintf(stderr, "  (case %s)\n", c);
        CHECK(fails == 0);
        zen_ctx_free(ctx);
    }
    CHECK(ncases == 26);
}

/* reverse_outputs stores the outputs in processing order: y'[:, s] = y[:, T-1-s]. */
TEST(test_reverse_outputs) {
    zen_ctx *ctx = zen_ctx_new();
    zen_rng rng;
    zen_rng_seed(&rng, 7);
    const int64_t B = 3, T = 6, I = 4, H = 5;
    zen_tensor *x = zen_input(ctx, ZEN_F32, 3, (int64_t[]){B, T, I});
    zen_tensor *wi = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3 * H, I});
    zen_tensor *wh = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3 * H, H});
    zen_tensor *mask = zen_input(ctx, ZEN_F32, 2, (int64_t[]){B, T});
    zen_rng_fill_uniform(&rng, x, -1, 1);
    zen_rng_fill_uniform(&rng, wi, -0.5f, 0.5f);
    zen_rng_fill_uniform(&rng, wh, -0.5f, 0.5f);
    for (int64_t i = 0; i < B * T; i++) ((float *)mask->data)[i] = (i % 4) != 3;
    zen_rnn_opts o = {.mode = ZEN_RNN_GRU, .mask = mask, .reverse = true};
    zen_rnn_out a = zen_rnn(ctx, x, wi, wh, &o);
    o.reverse_outputs = true;
    zen_rnn_out b = zen_rnn(ctx, x, wi, wh, &o);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, a.y);
    zen_graph_add(g, a.h);
    zen_graph_add(g, b.y);
    zen_graph_add(g, b.h);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    int bad = 0;
    for (int64_t i = 0; i < B; i++)
        for (int64_t t = 0; t < T; t++)
            for (int64_t j = 0; j < H; j++)
                bad += zen_get_f32(a.y, (int64_t[]){i, t, j}) != zen_get_f32(b.y, (int64_t[]){i, T - 1 - t, j});
    CHECK(bad == 0);
    CHECK(memcmp(a.h->data, b.h->data, (size_t)(B * H) * sizeof(float)) == 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

static float sigm(float v) { return 1.0f / (1.0f + expf(-v)); }

/* A masked LSTM large enough for the threaded paths, vs a naive loop; gradients at 1 and 2
 * threads agree. */
TEST(test_large_threads) {
    const int64_t B = 24, T = 12, I = 40, H = 96, G = 4 * H;
    float *y1 = NULL, *g1 = NULL;
    for (int nth = 1; nth <= 2; nth++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_ctx_set_threads(ctx, nth);
        zen_rng rng;
        zen_rng_seed(&rng, 11);
        zen_tensor *x = zen_param(ctx, ZEN_F32, 3, (int64_t[]){B, T, I});
        zen_tensor *wi = zen_param(ctx, ZEN_F32, 2, (int64_t[]){G, I});
        zen_tensor *wh = zen_param(ctx, ZEN_F32, 2, (int64_t[]){G, H});
        zen_tensor *bi = zen_param(ctx, ZEN_F32, 1, (int64_t[]){G});
        zen_tensor *mask = zen_input(ctx, ZEN_F32, 2, (int64_t[]){B, T});
        zen_rng_fill_uniform(&rng, x, -1, 1);
        zen_rng_fill_uniform(&rng, wi, -0.2f, 0.2f);
        zen_rng_fill_uniform(&rng, wh, -0.2f, 0.2f);
        zen_rng_fill_uniform(&rng, bi, -0.2f, 0.2f);
        float *m = mask->data;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) m[b * T + t] = t < T - (b % 5);
        zen_rnn_out r = zen_rnn(ctx, x, wi, wh, &(zen_rnn_opts){.mode = ZEN_RNN_LSTM, .b_ih = bi, .mask = mask});
        zen_tensor *loss = zen_add(ctx, zen_sum(ctx, zen_mul(ctx, r.y, r.y), 0, NULL, false),
                                   zen_sum(ctx, r.c, 0, NULL, false));
        zen_graph *g = zen_graph_new(ctx);
        zen_graph_add(g, r.y);
        CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
        if (nth == 1) {
            /* the naive loop */
            const float *X = x->data, *Wi = wi->data, *Wh = wh->data, *Bi = bi->data;
            float *h = calloc((size_t)(B * H), 4), *c = calloc((size_t)(B * H), 4), *pre = malloc((size_t)G * 4);
            double worst = 0;
            for (int64_t t = 0; t < T; t++)
                for (int64_t b = 0; b < B; b++) {
                    for (int64_t k = 0; k < G; k++) {
                        double s = Bi[k];
                        for (int64_t i = 0; i < I; i++) s += (double)Wi[k * I + i] * X[(b * T + t) * I + i];
                        for (int64_t j = 0; j < H; j++) s += (double)Wh[k * H + j] * h[b * H + j];
                        pre[k] = (float)s;
                    }
                    for (int64_t j = 0; j < H; j++) {
                        float cn = sigm(pre[H + j]) * c[b * H + j] + sigm(pre[j]) * tanhf(pre[2 * H + j]);
                        float hn = sigm(pre[3 * H + j]) * tanhf(cn);
                        float want = m[b * T + t] ? hn : 0.0f;
                        double err = fabs(want - zen_get_f32(r.y, (int64_t[]){b, t, j}));
                        if (err > worst) worst = err;
                        if (m[b * T + t]) c[b * H + j] = cn;
                    }
                    /* h after all units of this row (pre used the old h) */
                    for (int64_t j = 0; j < H; j++)
                        if (m[b * T + t]) h[b * H + j] = zen_get_f32(r.y, (int64_t[]){b, t, j});
                }
            CHECK(worst < 1e-5);
            free(h), free(c), free(pre);
            y1 = malloc((size_t)(B * T * H) * 4);
            memcpy(y1, r.y->data, (size_t)(B * T * H) * 4);
            g1 = malloc((size_t)(G * H) * 4);
            memcpy(g1, wh->grad->data, (size_t)(G * H) * 4);
        } else {
            double wy = 0, wg = 0;
            const float *y2 = r.y->data, *g2 = wh->grad->data;
            for (int64_t i = 0; i < B * T * H; i++) wy = fmax(wy, fabs(y1[i] - y2[i]));
            for (int64_t i = 0; i < G * H; i++) wg = fmax(wg, fabs(g1[i] - g2[i]) / (1 + fabs(g1[i])));
            CHECK(wy < 1e-5);
            CHECK(wg < 1e-4);
        }
        zen_graph_free(g);
        zen_ctx_free(ctx);
    }
    free(y1);
    free(g1);
}

/* An LSTM over an embedding lookup (rewritten to project the table: w_ih NULL inside) gives
 * the outputs and gradients of the plain path (the lookup hidden behind a scale by 1). */
TEST(test_embedding_projection) {
    const int64_t V = 7, B = 4, T = 9, I = 6, H = 5, G = 4 * H;
    float *ref[5] = {0};
    for (int pass = 0; pass < 2; pass++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_rng rng;
        zen_rng_seed(&rng, 5);
        zen_tensor *emb = zen_param(ctx, ZEN_F32, 2, (int64_t[]){V, I});
        zen_tensor *wi = zen_param(ctx, ZEN_F32, 2, (int64_t[]){G, I});
        zen_tensor *wh = zen_param(ctx, ZEN_F32, 2, (int64_t[]){G, H});
        zen_tensor *bi = zen_param(ctx, ZEN_F32, 1, (int64_t[]){G});
        zen_tensor *ids = zen_input(ctx, ZEN_I32, 2, (int64_t[]){B, T});
        zen_tensor *mask = zen_input(ctx, ZEN_F32, 2, (int64_t[]){B, T});
        zen_rng_fill_uniform(&rng, emb, -1, 1);
        zen_rng_fill_uniform(&rng, wi, -0.5f, 0.5f);
        zen_rng_fill_uniform(&rng, wh, -0.5f, 0.5f);
        zen_rng_fill_uniform(&rng, bi, -0.5f, 0.5f);
        for (int64_t i = 0; i < B * T; i++) {
            ((int32_t *)ids->data)[i] = (int32_t)((i * 5 + 3) % V);
            ((float *)mask->data)[i] = i % 7 != 4;
        }
        zen_tensor *x = zen_embedding(ctx, emb, ids);
        if (pass == 0) x = zen_scale(ctx, x, 1.0f);
        zen_rnn_out r = zen_rnn(ctx, x, wi, wh,
                                &(zen_rnn_opts){.mode = ZEN_RNN_LSTM, .b_ih = bi, .mask = mask, .reverse = true});
        CHECK_OK(ctx, r.y);
        /* the projected path: the node looks the table's projections up by the ids */
        CHECK(pass == 0 || r.y->src[0]->src[1] == ids);
        zen_tensor *w = zen_const(ctx, ZEN_F32, 3, (int64_t[]){B, T, H});
        zen_rng_fill_uniform(&rng, w, -1, 1);
        zen_tensor *loss = zen_add(ctx, zen_sum(ctx, zen_mul(ctx, r.y, w), 0, NULL, false),
                                   zen_sum(ctx, zen_mul(ctx, r.c, r.c), 0, NULL, false));
        zen_graph *g = zen_graph_new(ctx);
        zen_graph_add(g, r.y); /* kept to the end of compute, to be read */
        CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
        zen_tensor *outs[5] = {r.y, emb->grad, wi->grad, wh->grad, bi->grad};
        for (int k = 0; k < 5; k++) {
            int64_t n = zen_numel(outs[k]);
            if (pass == 0) {
                ref[k] = malloc((size_t)n * sizeof(float));
                memcpy(ref[k], outs[k]->data, (size_t)n * sizeof(float));
            } else {
                double worst = 0;
                for (int64_t i = 0; i < n; i++)
                    worst = fmax(worst, fabs(ref[k][i] - ((float *)outs[k]->data)[i]) / (1 + fabs(ref[k][i])));
                if (worst > 1e-5) fprintf(stderr, "  output %d differs by %g\n", k, worst);
                CHECK(worst <= 1e-5);
                free(ref[k]);
            }
        }
        if (pass == 1) {
            CHECK(gradcheck(ctx, r.y, 3, (zen_tensor *[]){emb, wi, wh}, 1e-2, 1) == 0);
            /* an id outside the table fails the compute with a message */
            ((int32_t *)ids->data)[5] = (int32_t)V;
            CHECK(zen_graph_compute(g) != 0);
            CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "id 7 is out of range for an embedding of 7 rows"));
        }
        zen_graph_free(g);
        zen_ctx_free(ctx);
    }
}

/* Every mode, with a hidden size the threads split unevenly (40 = 32 + 8 units), masks and
 * reverse: outputs and gradients at 2 threads equal those at 1. */
TEST(test_threads_all_modes) {
    const int64_t T = 5, I = 8, H = 40;
    for (int k = 0; k < 4; k++) {
        const int G = modes[k] == ZEN_RNN_LSTM ? 4 : modes[k] == ZEN_RNN_GRU ? 3 : 1;
        const int64_t B = G == 1 ? 176 : 64; /* a step's product large enough for threads */
        float *ref[5] = {0};
        int64_t len[5] = {0};
        for (int nth = 1; nth <= 2; nth++) {
            zen_ctx *ctx = zen_ctx_new();
            zen_ctx_set_threads(ctx, nth);
            zen_rng rng;
            zen_rng_seed(&rng, 21 + (uint64_t)k);
            zen_tensor *x = zen_param(ctx, ZEN_F32, 3, (int64_t[]){B, T, I});
            zen_tensor *wi = zen_param(ctx, ZEN_F32, 2, (int64_t[]){G * H, I});
            zen_tensor *wh = zen_param(ctx, ZEN_F32, 2, (int64_t[]){G * H, H});
            zen_tensor *bh = zen_param(ctx, ZEN_F32, 1, (int64_t[]){G * H});
            zen_tensor *h0 = zen_param(ctx, ZEN_F32, 2, (int64_t[]){B, H});
            zen_tensor *mask = zen_input(ctx, ZEN_F32, 2, (int64_t[]){B, T});
            zen_rng_fill_uniform(&rng, x, -1, 1);
            zen_rng_fill_uniform(&rng, wi, -0.3f, 0.3f);
            zen_rng_fill_uniform(&rng, wh, -0.3f, 0.3f);
            zen_rng_fill_uniform(&rng, bh, -0.3f, 0.3f);
            zen_rng_fill_uniform(&rng, h0, -0.5f, 0.5f);
            for (int64_t i = 0; i < B * T; i++) ((float *)mask->data)[i] = (i * 7) % 5 != 2;
            zen_rnn_out r = zen_rnn(ctx, x, wi, wh,
                                    &(zen_rnn_opts){.mode = modes[k], .b_hh = bh, .h0 = h0, .mask = mask, .reverse = true});
            zen_tensor *w = zen_const(ctx, ZEN_F32, 3, (int64_t[]){B, T, H});
            zen_rng_fill_uniform(&rng, w, -1, 1);
            zen_tensor *loss = zen_add(ctx, zen_sum(ctx, zen_mul(ctx, r.y, w), 0, NULL, false),
                                       zen_sum(ctx, r.h, 0, NULL, false));
            zen_graph *g = zen_graph_new(ctx);
            zen_graph_add(g, r.y); /* kept to the end of compute, to be read */
            CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
            zen_tensor *outs[5] = {r.y, x->grad, wi->grad, wh->grad, h0->grad};
            for (int o = 0; o < 5; o++) {
                int64_t n = zen_numel(outs[o]);
                const float *d = outs[o]->data;
                if (nth == 1) {
                    ref[o] = malloc((size_t)n * sizeof(float));
                    memcpy(ref[o], d, (size_t)n * sizeof(float));
                    len[o] = n;
                } else {
                    double worst = 0;
                    for (int64_t i = 0; i < n && n == len[o]; i++)
                        worst = fmax(worst, fabs(ref[o][i] - d[i]) / (1 + fabs(ref[o][i])));
                    if (worst > 1e-5 || n != len[o]) fprintf(stderr, "  mode %d output %d: %g\n", k, o, worst);
                    CHECK(worst <= 1e-5 && n == len[o]);
                    free(ref[o]);
                }
            }
            zen_graph_free(g);
            zen_ctx_free(ctx);
        }
    }
}

/* One step, and a sequence whose every step is padding: the state is h0 (and c0)
 * unchanged, the outputs are 0, and the gradient reaches h0 and c0 untouched. */
TEST(test_single_step_and_all_padding) {
    for (int all_pad = 0; all_pad < 2; all_pad++) {
        zen_ctx *ctx = zen_ctx_new();
        const int64_t B = 2, T = all_pad ? 3 : 1, H = 4;
        zen_tensor *x = zen_param(ctx, ZEN_F32, 3, (int64_t[]){B, T, 3});
        zen_tensor *wi = zen_param(ctx, ZEN_F32, 2, (int64_t[]){4 * H, 3});
        zen_tensor *wh = zen_param(ctx, ZEN_F32, 2, (int64_t[]){4 * H, H});
        zen_tensor *h0 = zen_param(ctx, ZEN_F32, 2, (int64_t[]){B, H});
        zen_tensor *c0 = zen_param(ctx, ZEN_F32, 2, (int64_t[]){B, H});
        zen_tensor *mask = zen_input(ctx, ZEN_F32, 2, (int64_t[]){B, T});
        zen_rng rng;
        zen_rng_seed(&rng, 3);
        zen_tensor *all[5] = {x, wi, wh, h0, c0};
        for (int k = 0; k < 5; k++) zen_rng_fill_uniform(&rng, all[k], -1, 1);
        zen_fill_f32(mask, all_pad ? 0.0f : 1.0f);
        zen_rnn_out r = zen_rnn(ctx, x, wi, wh,
                                &(zen_rnn_opts){.mode = ZEN_RNN_LSTM, .h0 = h0, .c0 = c0, .mask = mask, .reverse = true});
        zen_tensor *loss = zen_add(ctx, zen_sum(ctx, zen_add(ctx, r.h, r.c), 0, NULL, false),
                                   zen_sum(ctx, r.y, 0, NULL, false));
        zen_graph *g = zen_graph_new(ctx);
        zen_graph_add(g, r.y);
        zen_graph_add(g, r.h);
        zen_graph_add(g, r.c);
        CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
        if (all_pad) {
            CHECK(memcmp(r.h->data, h0->data, (size_t)(B * H) * sizeof(float)) == 0);
            CHECK(memcmp(r.c->data, c0->data, (size_t)(B * H) * sizeof(float)) == 0);
            int bad = 0;
            for (int64_t i = 0; i < B * T * H; i++) bad += ((float *)r.y->data)[i] != 0.0f;
            for (int64_t i = 0; i < B * H; i++)
                bad += ((float *)h0->grad->data)[i] != 1.0f || ((float *)c0->grad->data)[i] != 1.0f;
            for (int64_t i = 0; i < 4 * H * H; i++) bad += ((float *)wh->grad->data)[i] != 0.0f;
            CHECK(bad == 0);
        } else {
            /* y's only step is the final state */
            CHECK(memcmp(r.y->data, r.h->data, (size_t)(B * H) * sizeof(float)) == 0);
            CHECK(gradcheck(ctx, r.c, 5, all, 1e-2, 1) == 0);
        }
        zen_graph_free(g);
        zen_ctx_free(ctx);
    }
}

static void expect_error(zen_ctx *ctx, zen_rnn_out r, const char *needle) {
    CHECK(r.y == NULL && r.h == NULL && r.c == NULL);
    const char *e = zen_ctx_error(ctx);
    if (!e || !strstr(e, needle)) {
        fprintf(stderr, "  expected an error containing '%s', got '%s'\n", needle, e ? e : "(none)");
        harness_failures++;
    }
    zen_ctx_clear_error(ctx);
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_input(ctx, ZEN_F32, 3, (int64_t[]){2, 3, 4});
    zen_tensor *x2 = zen_input(ctx, ZEN_F32, 2, (int64_t[]){2, 3});
    zen_tensor *wi = zen_param(ctx, ZEN_F32, 2, (int64_t[]){20, 4});
    zen_tensor *wh = zen_param(ctx, ZEN_F32, 2, (int64_t[]){20, 5});
    zen_tensor *bad = zen_param(ctx, ZEN_F32, 2, (int64_t[]){20, 6});
    zen_tensor *v = zen_param(ctx, ZEN_F32, 1, (int64_t[]){19});
    zen_tensor *h0 = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3, 5});
    zen_tensor *mask = zen_input(ctx, ZEN_F32, 2, (int64_t[]){2, 4});
    zen_tensor *ix = zen_input(ctx, ZEN_I32, 3, (int64_t[]){2, 3, 4});
    zen_rnn_opts lstm = {.mode = ZEN_RNN_LSTM};
    expect_error(ctx, zen_rnn(ctx, x2, wi, wh, &lstm), "x must be [batch, steps, features]");
    expect_error(ctx, zen_rnn(ctx, ix, wi, wh, &lstm), "x must be f32");
    expect_error(ctx, zen_rnn(ctx, x, wi, bad, &lstm), "w_hh must have shape [20, 5], got [20, 6]");
    expect_error(ctx, zen_rnn(ctx, x, wi, wh, &(zen_rnn_opts){.mode = ZEN_RNN_GRU}), "w_ih must be [3*hidden, 4] for GRU");
    expect_error(ctx, zen_rnn(ctx, x, wi, wh, &(zen_rnn_opts){.mode = ZEN_RNN_LSTM, .b_hh = v}), "b_hh must have shape [20]");
    expect_error(ctx, zen_rnn(ctx, x, wi, wh, &(zen_rnn_opts){.mode = ZEN_RNN_LSTM, .h0 = h0}), "h0 must have shape [2, 5]");
    expect_error(ctx, zen_rnn(ctx, x, wi, wh, &(zen_rnn_opts){.mode = ZEN_RNN_LSTM, .mask = mask}), "mask must have shape [2, 3]");
    zen_tensor *w1 = zen_param(ctx, ZEN_F32, 2, (int64_t[]){5, 4});
    zen_tensor *w1h = zen_param(ctx, ZEN_F32, 2, (int64_t[]){5, 5});
    zen_tensor *c0 = zen_param(ctx, ZEN_F32, 2, (int64_t[]){2, 5});
    expect_error(ctx, zen_rnn(ctx, x, w1, w1h, &(zen_rnn_opts){.mode = ZEN_RNN_TANH, .c0 = c0}), "c0 is only for LSTM");
    expect_error(ctx, zen_rnn(ctx, x, w1, w1h, &(zen_rnn_opts){.mode = (zen_rnn_mode)9}), "mode 9 is not one of");
    expect_error(ctx, zen_rnn(ctx, x, wi, NULL, &lstm), "x and w_hh are required");
    expect_error(ctx, zen_rnn(ctx, x, NULL, wh, &lstm), "without w_ih, x holds the input projections and must be [2, 3, 20], got [2, 3, 4]");
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("rnn.safetensors");
    int rc = RUN_TESTS(test_fixtures, test_reverse_outputs, test_large_threads, test_embedding_projection, test_threads_all_modes, test_single_step_and_all_padding, test_errors);
    fx_close(f);
    return rc;
}
