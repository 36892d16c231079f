/* Transformer layers (MultiHeadAttention, PositionEmbedding, SinusoidalPositionEncoding,
 * TransformerEncoder, TransformerDecoder, RMSNormalization) vs PyTorch computations with the
 * same weights (tests/fixtures/gen/transformer.py): forward and the gradients of inputs and
 * of every weight vs autograd, some vs finite differences, and the forward through the
 * model's own graph; a padding mask; config errors; a model file round trip; and a tiny
 * causal Transformer that learns to copy a sequence. */
#include "harness.h"
#include "nn/nn.h"

#include <math.h>
#include <string.h>
#include <unistd.h>

static fx_file *f;

static void fx_text(const char *key, char *buf, size_t cap) {
    int64_t v[2048];
    int n = fx_ints(f, key, v, (int)(sizeof v / sizeof v[0]));
    size_t k = 0;
    for (int i = 0; i < n && k + 1 < cap; i++) buf[k++] = (char)v[i];
    buf[k] = 0;
}

static int add_input(zen_model *m, const zen_tensor *t) {
    char cfg[256];
    size_t k = (size_t)snprintf(cfg, sizeof cfg, "{\"shape\": [");
    for (int d = 1; d < t->ndim; d++)
        k += (size_t)snprintf(cfg + k, sizeof cfg - k, d > 1 ? ", %lld" : "%lld", (long long)t->shape[d]);
    snprintf(cfg + k, sizeof cfg - k, "]}");
    return zen_model_apply(m, zen_layer_new(m->ctx, "Input", cfg), 0, NULL);
}

/* The layer (node 1 + ninputs - 1 of m) applied to leaves, with masks[1] = value_mask. */
static zen_tensor *apply_layer(zen_model *m, zen_layer *l, int n, zen_tensor *const *leaves, zen_tensor *value_mask) {
    zen_tensor *masks[ZEN_LAYER_MAX_INPUTS] = {NULL};
    if (value_mask) masks[1] = value_mask;
    zen_tensor *out_mask = NULL;
    zen_call_info info = {.training = false, .seed = 99, .masks = masks, .out_mask = &out_mask};
    return l->type->call(l, m->ctx, n, leaves, &info);
}

static int run_case(const char *c, char *cls, size_t cls_cap) {
    char key[256], cfg[4096];
    snprintf(key, sizeof key, "%s.class", c);
    fx_text(key, cls, cls_cap);
    snprintf(key, sizeof key, "%s.config", c);
    fx_text(key, cfg, sizeof cfg);
    snprintf(key, sizeof key, "%s.p.tol", c);
    double tol = fx_float(f, key);
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, 1);
    zen_model *m = zen_model_new(ctx, c);
    const char *in_names[3];
    char multi[3][4];
    int nin = 0;
    snprintf(key, sizeof key, "%s.x", c);
    if (fx_has(f, key)) in_names[nin++] = "x";
    for (int k = 0; nin == 0 && k < 3; k++) {
        snprintf(multi[k], sizeof multi[k], "x%d", k);
        snprintf(key, sizeof key, "%s.x%d", c, k);
        if (fx_has(f, key)) in_names[k] = multi[k];
        else break;
    }
    for (int k = 0; k < 3 && nin == 0; k++) {
        snprintf(key, sizeof key, "%s.x%d", c, k);
        if (!fx_has(f, key)) nin = k;
        else if (k == 2) nin = 3;
    }
    zen_tensor *leaves[3];
    int ids[3];
    for (int k = 0; k < nin; k++) {
        snprintf(key, sizeof key, "%s.%s", c, in_names[k]);
        leaves[k] = fx_param(ctx, f, key);
        ids[k] = add_input(m, leaves[k]);
    }
    zen_layer *l = zen_layer_new(ctx, cls, cfg);
    zen_model_apply(m, l, nin, ids);
    int failures = 0;
    if (zen_model_build(m, 1) != 0) {
        fprintf(stderr, "  %s: build failed: %s\n", c, zen_ctx_error(ctx));
        zen_model_free(m);
        zen_ctx_free(ctx);
        return 1;
    }
    zen_tensor *checked[3 + ZEN_LAYER_MAX_WEIGHTS];
    const char *names[3 + ZEN_LAYER_MAX_WEIGHTS];
    int nc = 0;
    for (int k = 0; k < nin; k++) checked[nc] = leaves[k], names[nc++] = in_names[k];
    for (int w = 0; w < zen_layer_n_weights(l); w++) {
        const char *wname;
        zen_tensor *wt = zen_layer_weight(l, w, &wname, NULL);
        snprintf(key, sizeof key, "%s.%s", c, wname);
        if (!fx_has(f, key)) {
            fprintf(stderr, "  %s: the fixture has no weight %s\n", c, wname);
            failures++;
            continue;
        }
        zen_tensor *src = fx_input(ctx, f, key);
        if (!zen_same_shape(src, wt)) {
            char a[64], b[64];
            fprintf(stderr, "  %s: weight %s is %s, the fixture's %s\n", c, wname, zen_shape_str(wt, a, sizeof a),
                    zen_shape_str(src, b, sizeof b));
            failures++;
            continue;
        }
        memcpy(wt->data, src->data, zen_nbytes(wt));
        checked[nc] = wt, names[nc++] = wname;
    }
    if (failures) goto done;
    snprintf(key, sizeof key, "%s.mask", c);
    zen_tensor *mask = fx_has(f, key) ? fx_input(ctx, f, key) : NULL;

    /* 1. forward and every gradient vs autograd */
    zen_tensor *out = apply_layer(m, l, nin, leaves, mask);
    snprintf(key, sizeof key, "%s.gout", c);
    bool grads = fx_has(f, key);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, out);
    if (grads) {
        zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, out, fx_input(ctx, f, key)), 0, NULL, false);
        if (zen_graph_backward(g, loss) != 0) fprintf(stderr, "  %s: backward: %s\n", c, zen_ctx_error(ctx)), failures++;
    }
    if (failures || zen_graph_plan(g) != 0 || zen_graph_compute(g) != 0) {
        fprintf(stderr, "  %s: compute: %s\n", c, zen_ctx_error(ctx));
        failures++;
        zen_graph_free(g);
        goto done;
    }
    char label[300];
    snprintf(key, sizeof key, "%s.out", c);
    snprintf(label, sizeof label, "%s forward", c);
    failures += fx_check_tensor(label, out, f, key, 1e-5 * tol, 1e-4 * tol);
    for (int i = 0; grads && i < nc; i++) {
        snprintf(key, sizeof key, "%s.grad.%s", c, names[i]);
        snprintf(label, sizeof label, "%s grad %s", c, names[i]);
        if (!fx_has(f, key)) {
            fprintf(stderr, "  %s: no gradient in the fixture\n", label);
            failures++;
        } else if (checked[i]->grad) {
            failures += fx_check_tensor(label, checked[i]->grad, f, key, 1e-5 * tol, 1e-4 * tol);
        } else { /* no gradient built: torch's must be zero (an input the output ignores) */
            zen_tensor *want = fx_input(ctx, f, key);
            for (int64_t e = 0; e < zen_numel(want); e++)
                if (((float *)want->data)[e] != 0) {
                    fprintf(stderr, "  %s: no gradient was built\n", label);
                    failures++;
                    break;
                }
        }
    }
    zen_graph_free(g);
    /* finite differences for the inputs and the first weights that have a gradient */
    zen_tensor *fd[6];
    int nfd = 0;
    for (int i = 0; grads && i < nc && nfd < 6; i++)
        if (checked[i]->grad) fd[nfd++] = checked[i];
    if (nfd) failures += gradcheck(ctx, out, nfd, fd, 1e-2, 2 * tol);

    /* 2. the model's own graph (no mask there: the model's inputs carry none) */
    if (!mask) {
        zen_model_graph *mg = zen__model_graph_new(m, (int)leaves[0]->shape[0], false);
        if (!mg || zen_graph_plan(mg->g) != 0) {
            fprintf(stderr, "  %s: model graph: %s\n", c, zen_ctx_error(ctx));
            failures++;
        } else {
            for (int k = 0; k < nin; k++) memcpy(mg->inputs[k]->data, leaves[k]->data, zen_nbytes(leaves[k]));
            if (zen_graph_compute(mg->g) != 0) {
                fprintf(stderr, "  %s: compute: %s\n", c, zen_ctx_error(ctx));
                failures++;
            } else {
                snprintf(key, sizeof key, "%s.out", c);
                snprintf(label, sizeof label, "%s model graph", c);
                failures += fx_check_tensor(label, mg->outputs[0], f, key, 1e-5 * tol, 1e-4 * tol);
            }
        }
        zen__model_graph_free(mg);
    }
done:
    if (failures) fprintf(stderr, "  (case %s: %s %s)\n", c, cls, cfg);
    zen_model_free(m);
    zen_ctx_free(ctx);
    return failures;
}

TEST(test_layers_vs_torch) {
    const char *want[] = {"RMSNormalization", "MultiHeadAttention", "PositionEmbedding", "SinusoidalPositionEncoding",
                          "TransformerEncoder", "TransformerDecoder"};
    int seen[6] = {0};
    const char *const *cases = fx_cases(f, "");
    char *names[64];
    int n = 0;
    for (; cases[n] && n < 64; n++) names[n] = strdup(cases[n]);
    for (int i = 0; i < n; i++) {
        char cls[64] = "";
        CHECK(run_case(names[i], cls, sizeof cls) == 0);
        for (int k = 0; k < 6; k++) seen[k] += !strcmp(cls, want[k]);
        free(names[i]);
    }
    printf("  %d transformer layer cases vs PyTorch\n", n);
    CHECK(n == 12);
    for (int k = 0; k < 6; k++) {
        if (!seen[k]) fprintf(stderr, "  no fixture case for %s\n", want[k]);
        CHECK(seen[k] > 0);
    }
}

static void expect_error(const char *cls, const char *cfg, int ndim, const int64_t *shape, const char *want) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "m");
    int x = zen_model_input(m, ndim, shape);
    int in[2] = {x, x};
    zen_model_apply(m, zen_layer_new(ctx, cls, cfg), strcmp(cls, "MultiHeadAttention") ? 1 : 2, in);
    CHECK(zen_model_build(m, 1) != 0);
    const char *e = zen_ctx_error(ctx);
    if (!e || !strstr(e, want)) fprintf(stderr, "  %s %s: got \"%s\", want \"%s\"\n", cls, cfg, e ? e : "(none)", want);
    CHECK(e && strstr(e, want));
    zen_model_free(m);
    zen_ctx_free(ctx);
}

TEST(test_config_errors) {
    const int64_t seq[2] = {5, 8}, img[3] = {4, 4, 8};
    expect_error("MultiHeadAttention", "{\"key_dim\": 4}", 2, seq, "num_heads is required");
    expect_error("MultiHeadAttention", "{\"num_heads\": 2}", 2, seq, "key_dim is required");
    expect_error("MultiHeadAttention", "{\"num_heads\": 0, \"key_dim\": 4}", 2, seq, "num_heads must be positive, got 0");
    expect_error("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 4, \"dropout\": 1}", 2, seq,
                 "dropout must be in [0, 1), got 1");
    expect_error("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 4, \"attention_axes\": [1]}", 2, seq,
                 "attention_axes is not supported");
    expect_error("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 4, \"output_shape\": [3, 4]}", 2, seq,
                 "output_shape must be null, a positive integer or a list of one");
    expect_error("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 4}", 3, img,
                 "query must be [batch, steps, features] (2 dims without the batch), got 3 dims");
    expect_error("TransformerEncoder", "{\"num_heads\": 3, \"intermediate_dim\": 16}", 2, seq,
                 "the hidden size 8 is not a multiple of num_heads 3");
    expect_error("TransformerEncoder", "{\"num_heads\": 2}", 2, seq, "intermediate_dim is required");
    expect_error("TransformerDecoder", "{\"num_heads\": 2, \"intermediate_dim\": 4, \"activation\": \"nope\"}", 2, seq,
                 "activation 'nope' is not a known activation");
    expect_error("TransformerDecoder", "{\"num_heads\": 2, \"intermediate_dim\": 4, \"layer_norm_epsilon\": 0}", 2, seq,
                 "layer_norm_epsilon must be positive, got 0");
    expect_error("PositionEmbedding", "{\"sequence_length\": 4}", 2, seq,
                 "the input has 5 steps, more than sequence_length 4");
    expect_error("PositionEmbedding", "{}", 2, seq, "sequence_length is required");
    expect_error("SinusoidalPositionEncoding", "{\"max_wavelength\": -1}", 2, seq,
                 "max_wavelength must be a finite number > 0, got -1");
    expect_error("RMSNormalization", "{\"axis\": 3}", 2, seq, "axis 3 is out of range");
    expect_error("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 0}", 2, seq, "key_dim must be positive, got 0");
    expect_error("MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 4, \"value_dim\": -1}", 2, seq,
                 "value_dim must be positive, got -1");
    expect_error("TransformerEncoder", "{\"num_heads\": 2, \"intermediate_dim\": 0}", 2, seq,
                 "intermediate_dim must be positive, got 0");
    expect_error("TransformerEncoder", "{\"num_heads\": 2, \"intermediate_dim\": 4}", 3, img,
                 "input must be [batch, steps, hidden] (2 dims without the batch), got 3 dims");
    expect_error("PositionEmbedding", "{\"sequence_length\": 0}", 2, seq, "sequence_length must be positive, got 0");
}

/* A tiny causal Transformer (Embedding + PositionEmbedding, a pre-norm TransformerDecoder,
 * Dense) learns to copy: sequences a1..a6 a1..a6 of random tokens, next-token prediction at
 * every step. The 6 predictions that copy become certain; the first 5 are random draws of 8
 * tokens and stay at ln 8 if (and only if) the causal mask hides the future, so the mean
 * loss must fall from ln 8 = 2.08 to about 5/11 ln 8 = 0.95, and not below. */
TEST(test_learns_to_copy) {
    enum { T = 12, H = 6, V = 9, B = 16, STEPS = 120 };
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, 2);
    zen_model *m = zen_model_new(ctx, "copy");
    int x = zen_model_apply(m, zen_layer_new(ctx, "Input", "{\"shape\": [12], \"dtype\": \"int32\"}"), 0, NULL);
    int e = zen_model_apply(m, zen_layer_new(ctx, "Embedding", "{\"input_dim\": 9, \"output_dim\": 32}"), 1, &x);
    int p = zen_model_apply(m, zen_layer_new(ctx, "PositionEmbedding", "{\"sequence_length\": 12}"), 1, &e);
    int s = zen_model_apply(m, zen_layer_new(ctx, "Add", NULL), 2, (int[]){e, p});
    int d = zen_model_apply(m, zen_layer_new(ctx, "TransformerDecoder", "{\"intermediate_dim\": 64, \"num_heads\": 4, "
                                                  "\"normalize_first\": true, \"activation\": \"gelu\"}"), 1, &s);
    int y = zen_model_apply(m, zen_layer_new(ctx, "Dense", "{\"units\": 9}"), 1, &d);
    zen_model_set_outputs(m, 1, &y);
    CHECK(zen_model_build(m, 3) == 0);
    zen_model_graph *mg = zen__model_graph_new(m, B, true);
    CHECK_OK(ctx, mg);
    if (!mg) {
        zen_model_free(m);
        zen_ctx_free(ctx);
        return;
    }
    zen_tensor *target = zen_input(ctx, ZEN_I32, 1, (int64_t[]){B * T});
    zen_tensor *logits = zen_reshape(ctx, mg->outputs[0], 2, (int64_t[]){B * T, V});
    zen_tensor *loss = zen_cross_entropy(ctx, logits, target);
    CHECK(zen_graph_backward(mg->g, loss) == 0 && zen_graph_plan(mg->g) == 0);
    zen_tensor *params[256];
    int np = 0;
    for (int i = 0; i < zen_model_n_layers(m); i++)
        for (int w = 0; w < zen_layer_n_weights(zen_model_layer(m, i)); w++) {
            bool tr;
            zen_tensor *t = zen_layer_weight(zen_model_layer(m, i), w, NULL, &tr);
            if (tr && t->grad) params[np++] = t;
        }
    CHECK(np == 20); /* embeddings, position embeddings, 16 in the block, dense kernel and bias */
    zen_optimizer *opt = zen_optimizer_new(ctx, "Adam", "{\"learning_rate\": 0.003}");
    zen_rng r;
    zen_rng_seed(&r, 8);
    double first = 0, last = 0;
    int32_t *X = mg->inputs[0]->data, *Y = target->data;
    double t0 = zen_time_seconds();
    for (int step = 0; step < STEPS; step++) {
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < H; t++) X[b * T + t] = X[b * T + t + H] = 1 + (int32_t)(zen_rng_next(&r) % (V - 1));
            for (int t = 0; t < T; t++) Y[b * T + t] = t < T - 1 ? X[b * T + t + 1] : -100;
        }
        CHECK(zen_graph_compute(mg->g) == 0);
        CHECK(zen_optimizer_step(opt, np, params) == 0);
        double l = *(float *)loss->data;
        if (step < 10) first += l / 10;
        if (step >= STEPS - 10) last += l / 10;
    }
    printf("  copy task: loss %.3f -> %.3f in %d steps (%.1f s)\n", first, last, STEPS, zen_time_seconds() - t0);
    CHECK(first > 1.8);                 /* ln 8 = 2.08 at the start */
    CHECK(last < 1.15 && last > 0.85); /* copies learned; the future stayed hidden */
    zen_optimizer_free(opt);
    zen__model_graph_free(mg);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* A model file keeps the blocks' configs and weights: the loaded model predicts the same. */
TEST(test_save_load) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "enc");
    int x = zen_model_input(m, 2, (int64_t[]){6, 8});
    int s = zen_model_apply(m, zen_layer_new(ctx, "SinusoidalPositionEncoding", NULL), 1, &x);
    int a = zen_model_apply(m, zen_layer_new(ctx, "Add", NULL), 2, (int[]){x, s});
    int enc = zen_model_apply(m, zen_layer_new(ctx, "TransformerEncoder", "{\"intermediate_dim\": 16, \"num_heads\": 2}"), 1, &a);
    int mha = zen_model_apply(m, zen_layer_new(ctx, "MultiHeadAttention", "{\"num_heads\": 2, \"key_dim\": 3, "
                                                   "\"use_causal_mask\": true}"), 2, (int[]){enc, x});
    int rms = zen_model_apply(m, zen_layer_new(ctx, "RMSNormalization", NULL), 1, &mha);
    zen_model_set_outputs(m, 1, &rms);
    CHECK(zen_model_build(m, 5) == 0);
    zen_array *in = zen_array_new(ctx, ZEN_F32, 3, (int64_t[]){4, 6, 8});
    zen_rng r;
    zen_rng_seed(&r, 1);
    for (int i = 0; i < 4 * 6 * 8; i++) ((float *)in->data)[i] = zen_rng_normal(&r);
    char path[] = "/tmp/zen_test_transformer_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(zen_model_save(m, path) == 0);
    zen_model *loaded = zen_model_load(ctx, path);
    CHECK_OK(ctx, loaded);
    unlink(path);
    if (loaded) {
        zen_array *p1 = zen_model_predict(m, in, 2), *p2 = zen_model_predict(loaded, in, 4);
        CHECK_OK(ctx, p1);
        CHECK_OK(ctx, p2);
        if (p1 && p2) {
            double err = 0;
            for (int i = 0; i < 4 * 6 * 8; i++) err = fmax(err, fabs(((float *)p1->data)[i] - ((float *)p2->data)[i]));
            CHECK(err < 1e-5);
        }
        zen_array_free(p1);
        zen_array_free(p2);
        zen_model_free(loaded);
    }
    zen_array_free(in);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("transformer.safetensors");
    int rc = RUN_TESTS(test_layers_vs_torch, test_config_errors, test_learns_to_copy, test_save_load);
    fx_close(f);
    return rc;
}
