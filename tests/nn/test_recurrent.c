/* Keras recurrent layers (SimpleRNN, LSTM, GRU, Bidirectional, Masking, Embedding's
 * mask_zero) vs PyTorch fixtures (tests/fixtures/gen/recurrent.py): each case is a model
 * spec; its output and weight gradients are checked against torch.nn with the same weights,
 * and against finite differences. Also: a padded sequence gives the state of its unpadded
 * prefix; initializers (orthogonal, unit_forget_bias); return_state feeding a second LSTM's
 * initial state; JSON round trip; config errors; and a masked LSTM that learns a counting
 * task with fit. */
#include "harness.h"
#include "nn/nn.h"

#include <string.h>
#include <unistd.h>

static fx_file *f;

static void fx_text(const char *key, char *buf, size_t cap) {
    static int64_t v[8192];
    int n = fx_ints(f, key, v, (int)(sizeof v / sizeof v[0]));
    size_t k = 0;
    for (int i = 0; i < n && k + 1 < cap; i++) buf[k++] = (char)v[i];
    buf[k] = 0;
}

TEST(test_fixtures) {
    const char *const *cases = fx_cases(f, "");
    int ncases = 0;
    for (; cases[ncases]; ncases++) {
        const char *c = cases[ncases];
        char key[2048], spec[8192];
        snprintf(key, sizeof key, "%s.spec", c);
        fx_text(key, spec, sizeof spec);
        zen_ctx *ctx = zen_ctx_new();
        zen_model *m = zen_model_from_json(ctx, spec);
        CHECK(m && zen_model_build(m, 3) == 0);
        if (!m || zen_ctx_error(ctx)) {
            fprintf(stderr, "  %s: %s\n", c, zen_ctx_error(ctx));
            zen_model_free(m);
            zen_ctx_free(ctx);
            continue;
        }
        /* the fixture's weights */
        zen_tensor *params[16];
        char names[16][96];
        int np = 0;
        for (int i = 0; i < zen_model_n_layers(m); i++) {
            zen_layer *l = zen_model_layer(m, i);
            for (int k = 0; k < zen_layer_n_weights(l); k++) {
                const char *wn;
                zen_tensor *w = zen_layer_weight(l, k, &wn, NULL);
                snprintf(names[np], sizeof names[np], "%s/%s", zen_layer_name(l), wn);
                snprintf(key, sizeof key, "%s.%s", c, names[np]);
                if (!fx_has(f, key)) {
                    fprintf(stderr, "  %s: no fixture weight %s\n", c, key);
                    harness_failures++;
                    continue;
                }
                zen_tensor *src = fx_input(ctx, f, key);
                CHECK(zen_same_shape(src, w));
                if (zen_same_shape(src, w)) memcpy(w->data, src->data, zen_nbytes(w));
                params[np++] = w;
            }
        }
        snprintf(key, sizeof key, "%s.x", c);
        zen_tensor *x = fx_input(ctx, f, key);
        zen_model_graph *mg = zen__model_graph_new(m, (int)x->shape[0], false);
        CHECK(mg != NULL);
        if (!mg) {
            fprintf(stderr, "  %s: %s\n", c, zen_ctx_error(ctx));
            zen_model_free(m);
            zen_ctx_free(ctx);
            continue;
        }
        memcpy(mg->inputs[0]->data, x->data, zen_nbytes(x));
        zen_tensor *out = mg->outputs[0];
        snprintf(key, sizeof key, "%s.gout", c);
        zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, out, fx_input(ctx, f, key)), 0, NULL, false);
        CHECK(zen_graph_backward(mg->g, loss) == 0 && zen_graph_plan(mg->g) == 0 && zen_graph_compute(mg->g) == 0);
        int fails = 0;
        snprintf(key, sizeof key, "%s.out", c);
        fails += fx_check_tensor(c, out, f, key, 1e-5, 1e-4);
        for (int i = 0; i < np; i++) {
            snprintf(key, sizeof key, "%s.grad.%s", c, names[i]);
            fails += fx_check_tensor(key, params[i]->grad, f, key, 1e-5, 1e-4);
        }
        bool relu = strstr(spec, "relu") != NULL;
        fails += gradcheck(ctx, out, np, params, relu ? 1e-3 : 1e-2, 1);
        if (fails) fprintf(stderr, "  case %s: %d failures\n", c, fails);
        CHECK(fails == 0);
        zen__model_graph_free(mg);
        zen_model_free(m);
        zen_ctx_free(ctx);
    }
    CHECK(ncases == 15);
}

/* Runs a built model on one batch of int32 ids; returns a malloc'd copy of the output. */
static float *predict_ids(zen_model *m, const int32_t *ids, int B, int64_t *n_out) {
    zen_model_graph *mg = zen__model_graph_new(m, B, false);
    if (!mg || zen_graph_plan(mg->g) != 0) return NULL;
    memcpy(mg->inputs[0]->data, ids, zen_nbytes(mg->inputs[0]));
    float *out = NULL;
    if (zen_graph_compute(mg->g) == 0) {
        *n_out = zen_numel(mg->outputs[0]);
        out = malloc((size_t)*n_out * sizeof *out);
        memcpy(out, mg->outputs[0]->data, (size_t)*n_out * sizeof *out);
    }
    zen__model_graph_free(mg);
    return out;
}

/* With mask_zero, a sequence padded at the end gives the final state of the sequence
 * without its padding, for every layer type, forwards, backwards and bidirectional. */
TEST(test_padding_is_invisible) {
    const char *rnns[] = {"{\"class_name\": \"LSTM\", \"config\": {\"units\": 6}}",
                          "{\"class_name\": \"GRU\", \"config\": {\"units\": 6, \"go_backwards\": true}}",
                          "{\"class_name\": \"SimpleRNN\", \"config\": {\"units\": 6}}",
                          "{\"class_name\": \"Bidirectional\", \"config\": {\"layer\": {\"class_name\": \"LSTM\", "
                          "\"config\": {\"units\": 3}}}}"};
    for (int k = 0; k < 4; k++) {
        float *res[2];
        int64_t n[2];
        for (int padded = 0; padded < 2; padded++) {
            char spec[1024];
            snprintf(spec, sizeof spec,
                     "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", "
                     "\"config\": {\"shape\": [%d], \"dtype\": \"int32\"}}, {\"class_name\": \"Embedding\", \"config\": "
                     "{\"input_dim\": 9, \"output_dim\": 5, \"mask_zero\": true}}, %s]}}",
                     padded ? 7 : 4, rnns[k]);
            zen_ctx *ctx = zen_ctx_new();
            zen_model *m = zen_model_from_json(ctx, spec);
            CHECK(m && zen_model_build(m, 5) == 0);
            int32_t ids[2][7] = {{3, 1, 8, 2, 0, 0, 0}, {5, 5, 1, 7, 0, 0, 0}};
            int32_t dense[2][4] = {{3, 1, 8, 2}, {5, 5, 1, 7}};
            res[padded] = predict_ids(m, padded ? &ids[0][0] : &dense[0][0], 2, &n[padded]);
            CHECK(res[padded] != NULL);
            zen_model_free(m);
            zen_ctx_free(ctx);
        }
        if (res[0] && res[1]) {
            CHECK(n[0] == n[1]);
            double worst = 0;
            for (int64_t i = 0; i < n[0]; i++) worst = fmax(worst, fabs(res[0][i] - res[1][i]));
            if (worst > 1e-6) fprintf(stderr, "  layer %d: padded and unpadded differ by %g\n", k, worst);
            CHECK(worst <= 1e-6);
        }
        free(res[0]);
        free(res[1]);
    }
}

TEST(test_weights_and_initializers) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_from_json(
        ctx, "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
             "{\"shape\": [5, 3]}}, {\"class_name\": \"LSTM\", \"config\": {\"name\": \"lstm\", \"units\": 8}}]}}");
    CHECK(m && zen_model_build(m, 9) == 0);
    zen_layer *l = zen_model_layer(m, 1);
    CHECK(zen_layer_n_weights(l) == 4);
    const char *want[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    const int64_t rows = 32, cols[] = {3, 8};
    for (int k = 0; k < 4; k++) {
        const char *name;
        zen_tensor *w = zen_layer_weight(l, k, &name, NULL);
        CHECK(!strcmp(name, want[k]) && w->shape[0] == rows && (k >= 2 || w->shape[1] == cols[k]));
    }
    /* orthogonal recurrent kernel: the columns of [32, 8] are orthonormal */
    const float *wh = zen_layer_weight(l, 1, NULL, NULL)->data;
    double worst = 0;
    for (int a = 0; a < 8; a++)
        for (int b = 0; b < 8; b++) {
            double dot = 0;
            for (int r = 0; r < 32; r++) dot += (double)wh[r * 8 + a] * wh[r * 8 + b];
            worst = fmax(worst, fabs(dot - (a == b)));
        }
    CHECK(worst < 1e-5);
    /* unit_forget_bias: ones for the forget gate of bias_ih, zeros elsewhere */
    const float *bi = zen_layer_weight(l, 2, NULL, NULL)->data, *bh = zen_layer_weight(l, 3, NULL, NULL)->data;
    int bad = 0;
    for (int j = 0; j < 32; j++) bad += bi[j] != (j >= 8 && j < 16 ? 1.0f : 0.0f) || bh[j] != 0.0f;
    CHECK(bad == 0);
    /* glorot_uniform kernel: |w| <= sqrt(6 / (3 + 32)) and not all zero */
    const float *wi = zen_layer_weight(l, 0, NULL, NULL)->data;
    float lim = sqrtf(6.0f / 35.0f), mx = 0;
    for (int j = 0; j < 96; j++) mx = fmaxf(mx, fabsf(wi[j]));
    CHECK(mx <= lim && mx > 0.5f * lim);
    CHECK(zen_model_n_params(m, true) == 32 * 3 + 32 * 8 + 64);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* return_state's packed [h | c] starts a second LSTM: its output equals an LSTM run over
 * both sequences concatenated in time (the same weights). */
TEST(test_return_state_chains) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "chain");
    int a = zen_model_input(m, 2, (int64_t[]){4, 3});
    int b = zen_model_input(m, 2, (int64_t[]){3, 3});
    zen_layer *enc = zen_layer_new(ctx, "LSTM", "{\"name\": \"enc\", \"units\": 5, \"return_state\": true}");
    int s = zen_model_apply(m, enc, 1, &a);
    zen_layer *dec = zen_layer_new(ctx, "LSTM", "{\"name\": \"dec\", \"units\": 5}");
    int y = zen_model_apply(m, dec, 2, (int[]){b, s});
    zen_model_set_outputs(m, 2, (int[]){s, y});
    CHECK(zen_model_build(m, 4) == 0);
    int64_t shape[4];
    CHECK(zen_model_output_shape(m, 0, shape) == 1 && shape[0] == 10);
    /* same weights in both */
    for (int k = 0; k < 4; k++)
        memcpy(zen_layer_weight(dec, k, NULL, NULL)->data, zen_layer_weight(enc, k, NULL, NULL)->data,
               zen_nbytes(zen_layer_weight(enc, k, NULL, NULL)));
    zen_model_graph *mg = zen__model_graph_new(m, 2, false);
    CHECK(mg && zen_graph_plan(mg->g) == 0);
    zen_rng rng;
    zen_rng_seed(&rng, 3);
    zen_tensor *x1 = mg->inputs[0], *x2 = mg->inputs[1];
    zen_rng_fill_uniform(&rng, x1, -1, 1);
    zen_rng_fill_uniform(&rng, x2, -1, 1);
    CHECK(zen_graph_compute(mg->g) == 0);
    /* reference: one LSTM over the 7 steps */
    zen_tensor *xa = zen_input(ctx, ZEN_F32, 3, (int64_t[]){2, 7, 3});
    float *xd = xa->data;
    for (int i = 0; i < 2; i++) {
        memcpy(xd + i * 21, (float *)x1->data + i * 12, 12 * sizeof(float));
        memcpy(xd + i * 21 + 12, (float *)x2->data + i * 9, 9 * sizeof(float));
    }
    zen_rnn_out r = zen_rnn(ctx, xa, enc->weights[0], enc->weights[1],
                            &(zen_rnn_opts){.mode = ZEN_RNN_LSTM, .b_ih = enc->weights[2], .b_hh = enc->weights[3]});
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, r.h);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    double worst = 0;
    for (int i = 0; i < 10; i++) worst = fmax(worst, fabs(((float *)r.h->data)[i] - ((float *)mg->outputs[1]->data)[i]));
    CHECK(worst < 1e-6);
    zen_graph_free(g);
    zen__model_graph_free(mg);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

TEST(test_json_round_trip) {
    const char *spec =
        "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
        "{\"shape\": [6, 4]}}, {\"class_name\": \"Masking\", \"config\": {\"mask_value\": -1.0}}, {\"class_name\": "
        "\"Bidirectional\", \"config\": {\"merge_mode\": \"sum\", \"layer\": {\"class_name\": \"GRU\", \"config\": "
        "{\"units\": 5, \"return_sequences\": true}}}}, {\"class_name\": \"LSTM\", \"config\": {\"units\": 2}}]}}";
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_from_json(ctx, spec);
    CHECK(m && zen_model_build(m, 1) == 0);
    char *json = zen_model_to_json(m);
    zen_model *m2 = zen_model_from_json(ctx, json);
    CHECK(m2 && zen_model_build(m2, 1) == 0);
    CHECK(zen_model_n_params(m, true) == zen_model_n_params(m2, true));
    CHECK(zen_model_n_params(m, true) == 2 * (15 * 4 + 15 * 5 + 30) + (8 * 5 + 8 * 2 + 16));
    int64_t shape[4];
    CHECK(zen_model_output_shape(m2, 0, shape) == 1 && shape[0] == 2);
    free(json);
    zen_model_free(m);
    zen_model_free(m2);
    zen_ctx_free(ctx);
}

/* A model file keeps a masked bidirectional stack: the loaded model predicts the same. */
TEST(test_model_file) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_from_json(
        ctx, "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
             "{\"shape\": [7], \"dtype\": \"int32\"}}, {\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 6, "
             "\"output_dim\": 4, \"mask_zero\": true}}, {\"class_name\": \"Bidirectional\", \"config\": {\"layer\": "
             "{\"class_name\": \"GRU\", \"config\": {\"units\": 5, \"return_sequences\": true}}}}, {\"class_name\": "
             "\"LSTM\", \"config\": {\"units\": 3, \"go_backwards\": true}}]}}");
    CHECK(m && zen_model_build(m, 2) == 0);
    zen_array *x = zen_array_new(ctx, ZEN_I32, 2, (int64_t[]){5, 7});
    for (int i = 0; i < 35; i++) ((int32_t *)x->data)[i] = (i % 7) < 2 + i / 7 ? 1 + (i * 3) % 5 : 0;
    char path[] = "/tmp/zen_test_recurrent_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(zen_model_save(m, path) == 0);
    zen_model *loaded = zen_model_load(ctx, path);
    CHECK_OK(ctx, loaded);
    unlink(path);
    if (loaded) {
        CHECK(zen_layer_n_weights(zen_model_layer(loaded, 2)) == 8);
        const char *name;
        zen_layer_weight(zen_model_layer(loaded, 2), 4, &name, NULL);
        CHECK(!strcmp(name, "weight_ih_reverse"));
        zen_array *p1 = zen_model_predict(m, x, 2), *p2 = zen_model_predict(loaded, x, 2);
        CHECK_OK(ctx, p1);
        CHECK_OK(ctx, p2);
        if (p1 && p2) CHECK(memcmp(p1->data, p2->data, (size_t)zen_array_numel(p1) * sizeof(float)) == 0);
        zen_array_free(p1);
        zen_array_free(p2);
        zen_model_free(loaded);
    }
    zen_array_free(x);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

static void expect_error(const char *layers, const char *want) {
    char spec[2048];
    snprintf(spec, sizeof spec,
             "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
             "{\"shape\": [5, 3]}}, %s]}}",
             layers);
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_from_json(ctx, spec);
    if (m && zen_model_build(m, 0) == 0) zen__model_graph_free(zen__model_graph_new(m, 2, false));
    const char *err = zen_ctx_error(ctx);
    if (!err || !strstr(err, want)) {
        fprintf(stderr, "  expected an error containing\n    %s\n  got\n    %s\n", want, err ? err : "(none)");
        harness_failures++;
    }
    zen_model_free(m);
    zen_ctx_free(ctx);
}

TEST(test_config_errors) {
    expect_error("{\"class_name\": \"GRU\", \"config\": {\"units\": 4, \"reset_after\": false}}",
                 "GRU 'gru': reset_after=false is not supported: zen's GRU is PyTorch's formulation");
    expect_error("{\"class_name\": \"LSTM\", \"config\": {}}", "LSTM 'lstm': units is required");
    expect_error("{\"class_name\": \"LSTM\", \"config\": {\"units\": 0}}", "LSTM 'lstm': units must be positive, got 0");
    expect_error("{\"class_name\": \"LSTM\", \"config\": {\"units\": 4, \"activation\": \"relu\"}}",
                 "LSTM 'lstm': activation must be tanh (the fused kernel), got 'relu'");
    expect_error("{\"class_name\": \"GRU\", \"config\": {\"units\": 4, \"recurrent_activation\": \"hard_sigmoid\"}}",
                 "recurrent_activation must be sigmoid");
    expect_error("{\"class_name\": \"SimpleRNN\", \"config\": {\"units\": 4, \"activation\": \"gelu\"}}",
                 "SimpleRNN 'simple_rnn': activation must be tanh or relu");
    expect_error("{\"class_name\": \"LSTM\", \"config\": {\"units\": 4, \"return_state\": true, \"return_sequences\": true}}",
                 "return_state needs return_sequences=false");
    expect_error("{\"class_name\": \"LSTM\", \"config\": {\"units\": 4, \"dropout\": 0.2}}",
                 "dropout and recurrent_dropout are not supported");
    expect_error("{\"class_name\": \"LSTM\", \"config\": {\"units\": 4, \"stateful\": true}}", "stateful=true is not supported");
    expect_error("{\"class_name\": \"LSTM\", \"config\": {\"units\": 4, \"recurrent_initializer\": \"foo\"}}",
                 "unknown initializer 'foo'");
    expect_error("{\"class_name\": \"Flatten\", \"config\": {}}, {\"class_name\": \"LSTM\", \"config\": {\"units\": 4}}",
                 "LSTM 'lstm': input must be [steps, features]");
    expect_error("{\"class_name\": \"Bidirectional\", \"config\": {\"layer\": {\"class_name\": \"Dense\", \"config\": "
                 "{\"units\": 4}}}}",
                 "Bidirectional 'bidirectional': layer must be a SimpleRNN, LSTM or GRU, got 'Dense'");
    expect_error("{\"class_name\": \"Bidirectional\", \"config\": {}}", "layer must be a layer object");
    expect_error("{\"class_name\": \"Bidirectional\", \"config\": {\"merge_mode\": \"max\", \"layer\": {\"class_name\": "
                 "\"LSTM\", \"config\": {\"units\": 4}}}}",
                 "merge_mode must be concat, sum, mul or ave, got 'max'");
    expect_error("{\"class_name\": \"Bidirectional\", \"config\": {\"layer\": {\"class_name\": \"GRU\", \"config\": "
                 "{\"units\": 4, \"reset_after\": false}}}}",
                 "GRU 'bidirectional': reset_after=false is not supported");
    expect_error("{\"class_name\": \"Bidirectional\", \"config\": {\"layer\": {\"class_name\": \"LSTM\", \"config\": "
                 "{\"units\": 4, \"return_state\": true}}}}",
                 "return_state is not supported in Bidirectional");
    expect_error("{\"class_name\": \"Flatten\", \"config\": {}}, {\"class_name\": \"Masking\", \"config\": {}}",
                 "Masking 'masking': input must be [steps, features]");
    expect_error("{\"class_name\": \"GRU\", \"config\": {\"units\": 4, \"time_major\": true}}",
                 "GRU 'gru': time_major=true is not supported");
    expect_error("{\"class_name\": \"Bidirectional\", \"config\": {\"layer\": {\"class_name\": \"LSTM\", \"config\": "
                 "{\"units\": 4, \"go_backwards\": true}}}}",
                 "the wrapped layer must not have go_backwards=true");
    expect_error("{\"class_name\": \"Bidirectional\", \"config\": {\"layer\": {\"class_name\": \"LSTM\", \"config\": 4}}}",
                 "layer's config must be an object");
}

/* Learns, with padding masks, whether a sequence of 1s and 2s (length 3..12, padded with
 * 0s after) has more 1s than 2s. */
TEST(test_lstm_learns_counting) {
    const int N = 2400, T = 12;
    zen_ctx *ctx = zen_ctx_new();
    zen_array *x = zen_array_new(ctx, ZEN_I32, 2, (int64_t[]){N, T});
    zen_array *y = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){N});
    zen_rng rng;
    zen_rng_seed(&rng, 42);
    int32_t *xs = x->data, *ys = y->data;
    for (int i = 0; i < N; i++) {
        int len, ones;
        do {
            len = 3 + (int)(zen_rng_uniform(&rng) * 10);
            ones = 0;
            for (int t = 0; t < T; t++) {
                int v = t < len ? 1 + (zen_rng_uniform(&rng) < 0.5f) : 0;
                xs[i * T + t] = v;
                ones += v == 1;
            }
        } while (2 * ones == len); /* no ties */
        ys[i] = 2 * ones > len;
    }
    zen_model *m = zen_model_from_json(
        ctx, "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": "
             "{\"shape\": [12], \"dtype\": \"int32\"}}, {\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 3, "
             "\"output_dim\": 8, \"mask_zero\": true}}, {\"class_name\": \"LSTM\", \"config\": {\"units\": 16}}, "
             "{\"class_name\": \"Dense\", \"config\": {\"units\": 2, \"activation\": \"softmax\"}}]}}");
    CHECK(m && zen_model_build(m, 7) == 0);
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", "{\"learning_rate\": 0.02}"),
                            "sparse_categorical_crossentropy", 1, (const char *[]){"accuracy"}) == 0);
    zen_dataset *all = zen_dataset_new(ctx, x, y);
    int64_t *idx = malloc(N * sizeof *idx);
    for (int i = 0; i < N; i++) idx[i] = i;
    zen_dataset *train = zen_dataset_take(ctx, all, idx, 2000);
    zen_dataset *test = zen_dataset_take(ctx, all, idx + 2000, N - 2000);
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = 12;
    o.verbose = 0;
    o.seed = 1;
    zen_history *h = zen_model_fit(m, train, &o);
    CHECK(h != NULL);
    zen_metrics res;
    CHECK(zen_model_evaluate(m, test, 64, &res) == 0);
    double acc = zen_metrics_get(&res, "accuracy");
    fprintf(stderr, "  held-out accuracy %.3f\n", acc);
    CHECK(acc >= 0.95);
    zen_history_free(h);
    free(idx);
    zen_dataset_free(train);
    zen_dataset_free(test);
    zen_dataset_free(all);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("recurrent.safetensors");
    int rc = RUN_TESTS(test_fixtures, test_padding_is_invisible, test_weights_and_initializers,
                       test_return_state_chains, test_json_round_trip, test_model_file, test_config_errors, test_lstm_learns_counting);
    fx_close(f);
    return rc;
}
