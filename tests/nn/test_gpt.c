/* GPT-2 in zen: a Hugging Face checkpoint (tests/fixtures/gpt2, written with its logits by
 * tests/fixtures/gen/gpt2_ref.py, a plain-torch GPT-2) imported and run through the model
 * graph and through the key/value cache, both against torch's logits; cached decoding
 * (token by token and in chunks) against the full forward; save/load of the tied model;
 * TokenAndPositionEmbedding -> GPT2Block -> LMHead gradients vs finite differences;
 * errors of the importer and of zen_lm. */
#include "harness.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nn/layers/gpt.h"
#include "nn/nn.h"

#define GPT2_DIR ZEN_FIXTURE_DIR "/gpt2"
enum { B = 2, T = 20, V = 256, CTX = 64 };

static fx_file *f;
static int32_t ids[B][T];
static float ref[B][T][V];

static void load_reference(void) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *i = fx_input(ctx, f, "tiny.ids"), *l = fx_input(ctx, f, "tiny.logits");
    CHECK(i && l && i->dtype == ZEN_I32 && zen_numel(i) == B * T && zen_numel(l) == B * T * V);
    if (i && l) {
        memcpy(ids, i->data, sizeof ids);
        memcpy(ref, l->data, sizeof ref);
    }
    zen_ctx_free(ctx);
}

static double max_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (!(d <= m)) m = d; /* NaN propagates */
    }
    return m;
}

/* The model graph (zen_model_predict) on ids padded to the context: causal, so the first T
 * positions are those of the unpadded sequence. */
static void predict_logits(zen_ctx *ctx, zen_model *m, float out[B][T][V]) {
    zen_array *x = zen_array_new(ctx, ZEN_I32, 2, (int64_t[]){B, CTX});
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) ((int32_t *)x->data)[b * CTX + t] = ids[b][t];
    zen_array *y = zen_model_predict(m, x, B);
    CHECK_OK(ctx, y);
    if (y) {
        CHECK(y->ndim == 3 && y->shape[0] == B && y->shape[1] == CTX && y->shape[2] == V);
        for (int b = 0; b < B; b++) memcpy(out[b], (float *)y->data + (int64_t)b * CTX * V, sizeof(float) * T * V);
    }
    zen_array_free(x);
    zen_array_free(y);
}

TEST(test_import_matches_torch) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_gpt2_import(ctx, GPT2_DIR);
    CHECK_OK(ctx, m);
    if (!m) goto done;
    CHECK(zen_model_n_params(m, true) == V * 64 + CTX * 64 + 2 * (12 * 64 * 64 + 13 * 64) + 2 * 64);
    static float out[B][T][V];
    predict_logits(ctx, m, out);
    double e = max_diff(&out[0][0][0], &ref[0][0][0], B * T * V);
    fprintf(stderr, "  model graph vs torch: max abs error %.3g\n", e);
    CHECK(e <= 1e-4);
    /* The cache path: the whole prompt in one feed. */
    zen_lm *lm = zen_lm_new(m);
    CHECK_OK(ctx, lm);
    if (lm) {
        CHECK(zen_lm_context_length(lm) == CTX && zen_lm_vocab_size(lm) == V);
        for (int b = 0; b < B; b++) {
            zen_lm_reset(lm);
            CHECK(zen_lm_feed(lm, T, ids[b], &out[b][0][0], true) == 0);
        }
        e = max_diff(&out[0][0][0], &ref[0][0][0], B * T * V);
        fprintf(stderr, "  zen_lm (one feed) vs torch: max abs error %.3g\n", e);
        CHECK(e <= 1e-4);
    }
    zen_lm_free(lm);
    /* The file path is accepted as well as the directory. */
    zen_model *m2 = zen_gpt2_import(ctx, GPT2_DIR "/model.safetensors");
    CHECK_OK(ctx, m2);
    zen_model_free(m2);
    zen_model_free(m);
done:
    zen_ctx_free(ctx);
}

/* Decoding with the cache gives the logits of the full forward at every position. */
TEST(test_cache_matches_full_forward) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_gpt2_import(ctx, GPT2_DIR);
    zen_lm *lm = zen_lm_new(m);
    CHECK_OK(ctx, lm);
    if (!lm) goto done;
    static float full[B][T][V], step[T][V];
    predict_logits(ctx, m, full);
    for (int b = 0; b < B; b++) {
        /* One token at a time. */
        zen_lm_reset(lm);
        for (int t = 0; t < T; t++) {
            CHECK(zen_lm_feed(lm, 1, &ids[b][t], step[t], false) == 0);
            CHECK(zen_lm_position(lm) == t + 1);
        }
        double e = max_diff(&step[0][0], &full[b][0][0], T * V);
        fprintf(stderr, "  row %d, token by token vs full: max abs error %.3g\n", b, e);
        CHECK(e <= 1e-5);
        /* Chunks of 7, 1, 5, 7; the last token only when all is false. */
        zen_lm_reset(lm);
        int at = 0, sizes[] = {7, 1, 5, 7};
        for (int c = 0; c < 4; c++) {
            CHECK(zen_lm_feed(lm, sizes[c], &ids[b][at], step[at], true) == 0);
            at += sizes[c];
        }
        e = max_diff(&step[0][0], &full[b][0][0], T * V);
        CHECK(e <= 1e-5);
        zen_lm_reset(lm);
        CHECK(zen_lm_feed(lm, 12, ids[b], step[0], false) == 0);
        CHECK(max_diff(step[0], full[b][11], V) <= 1e-5);
    }
    /* The test can fail: a wrong position (feeding token 5 first) changes the logits. */
    zen_lm_reset(lm);
    CHECK(zen_lm_feed(lm, 1, &ids[0][5], step[0], false) == 0);
    CHECK(max_diff(step[0], full[0][5], V) > 1e-2);
done:
    zen_lm_free(lm);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

TEST(test_lm_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_gpt2_import(ctx, GPT2_DIR);
    zen_lm *lm = zen_lm_new(m);
    CHECK_OK(ctx, lm);
    if (!lm) goto done;
    static int32_t many[CTX + 1];
    float *logits = malloc(sizeof(float) * V);
    CHECK(zen_lm_feed(lm, CTX + 1, many, logits, false) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "context is full"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_lm_feed(lm, 1, (int32_t[]){V}, logits, false) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "outside the vocabulary"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_lm_feed(lm, CTX, many, logits, false) == 0); /* exactly the context fits */
    CHECK(zen_lm_feed(lm, 1, many, logits, false) == -1);
    zen_ctx_clear_error(ctx);
    free(logits);
    /* Not a language model. */
    zen_model *dense = zen_model_new(ctx, "dense");
    zen_model_input(dense, 1, (int64_t[]){4});
    zen_model_add(dense, zen_layer_dense(ctx, 2, NULL));
    CHECK(zen_model_build(dense, 1) == 0);
    CHECK(zen_lm_new(dense) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "is not a language model"));
    zen_model_free(dense);
done:
    zen_lm_free(lm);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* Writes dir/config.json with one change and links the real weights; returns the import error. */
static char *import_error(const char *dir, const char *config, const char *weights) {
    static char msg[512];
    char p[1024];
    mkdir(dir, 0700);
    snprintf(p, sizeof p, "%s/config.json", dir);
    FILE *fp = fopen(p, "w");
    fputs(config, fp);
    fclose(fp);
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    if (weights) {
        fp = fopen(p, "wb");
        fputs(weights, fp);
        fclose(fp);
    } else if (symlink(GPT2_DIR "/model.safetensors", p) != 0) {
        return "symlink failed";
    }
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_gpt2_import(ctx, dir);
    snprintf(msg, sizeof msg, "%s", m ? "(imported)" : zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "(no message)");
    zen_model_free(m);
    zen_ctx_free(ctx);
    unlink(p);
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    rmdir(dir);
    return msg;
}

TEST(test_import_errors) {
    char dir[] = "/tmp/zen_gpt_test_XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/m", dir);
    const char *base = "\"n_embd\": 64, \"n_head\": 4, \"n_positions\": 64, \"vocab_size\": 256";
    struct {
        const char *config, *weights, *expect;
    } cases[] = {
        {"{\"n_layer\": 2, %s, \"activation_function\": \"gelu_new\"}", NULL, "(imported)"},
        {"{\"n_layer\": 2, %s, \"activation_function\": \"relu\"}", NULL, "activation_function 'relu' is not supported"},
        {"{%s}", NULL, "n_layer must be a positive integer"},
        {"{\"n_layer\": 3, %s}", NULL, "tensor h.2.ln_1.weight is missing"},
        {"{\"n_layer\": 1, %s}", NULL, "unexpected tensor h.1."},
        {"{\"n_layer\": 2, \"n_embd\": 64, \"n_head\": 4, \"n_positions\": 32, \"vocab_size\": 256}", NULL,
         "tensor wpe.weight must have shape [32, 64]"},
        {"{\"n_layer\": 2, %s}", "short", "too short to be a model file"},
        {"[1, 2]", NULL, "is not a JSON object"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char cfg[512];
        snprintf(cfg, sizeof cfg, cases[i].config, base);
        const char *got = import_error(sub, cfg, cases[i].weights);
        if (!strstr(got, cases[i].expect)) {
            fprintf(stderr, "  case %zu: got '%s', expected '%s'\n", i, got, cases[i].expect);
            harness_failures++;
        }
    }
    zen_ctx *ctx = zen_ctx_new();
    CHECK(zen_gpt2_import(ctx, "/nonexistent/gpt2") == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "cannot open /nonexistent/gpt2"));
    zen_ctx_free(ctx);
    rmdir(dir);
}

/* The imported model saved as a zen file and loaded back: the LMHead is still tied. */
TEST(test_save_load) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_gpt2_import(ctx, GPT2_DIR);
    char path[] = "/tmp/zen_gpt_model_XXXXXX";
    int fd = mkstemp(path);
    close(fd);
    CHECK(m && zen_model_save(m, path) == 0);
    zen_model *back = zen_model_load(ctx, path);
    CHECK_OK(ctx, back);
    if (back) {
        static float out[B][T][V];
        predict_logits(ctx, back, out);
        CHECK(max_diff(&out[0][0][0], &ref[0][0][0], B * T * V) <= 1e-4);
        CHECK(zen_model_n_params(back, true) == zen_model_n_params(m, true));
    }
    unlink(path);
    zen_model_free(back);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* Bad configs of the GPT layers give errors naming the layer and the argument. */
TEST(test_layer_errors) {
    const char *head = "{\"class_name\": \"Sequential\", \"config\": {\"layers\": ["
                       "{\"class_name\": \"Input\", \"config\": {\"shape\": [%d], \"dtype\": \"int32\"}},"
                       "{\"class_name\": \"TokenAndPositionEmbedding\", \"config\": {\"name\": \"emb\", "
                       "\"vocabulary_size\": 10, \"sequence_length\": 8, \"embedding_dim\": 12}}%s]}}";
    struct {
        int steps;
        const char *rest, *expect;
    } cases[] = {
        {8, ", {\"class_name\": \"GPT2Block\", \"config\": {\"num_heads\": 5}}",
         "num_heads must be a positive divisor of the width 12, got 5"},
        {8, ", {\"class_name\": \"GPT2Block\", \"config\": {}}", "num_heads"},
        {8, ", {\"class_name\": \"GPT2Block\", \"config\": {\"num_heads\": 2, \"dropout\": 1.5}}",
         "dropout must be in [0, 1)"},
        {8, ", {\"class_name\": \"LMHead\", \"config\": {\"embedding\": \"nope\"}}",
         "embedding 'nope' is not an Embedding or TokenAndPositionEmbedding layer"},
        {8, ", {\"class_name\": \"LMHead\", \"config\": {}}", "embedding must name the layer"},
        {8, ", {\"class_name\": \"GPT2Block\", \"config\": {\"num_heads\": 2, \"intermediate_dim\": 0}}",
         "intermediate_dim must be positive, got 0"},
        {8, ", {\"class_name\": \"GPT2Block\", \"config\": {\"num_heads\": 2, \"layer_norm_epsilon\": 0}}",
         "layer_norm_epsilon must be positive, got 0"},
        {9, "", "input has 9 steps, more than sequence_length 8"},
        {8, ", {\"class_name\": \"Dense\", \"config\": {\"units\": 6}}, "
            "{\"class_name\": \"LMHead\", \"config\": {\"embedding\": \"emb\"}}",
         "input width 6 does not match the embedding width 12"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[2048];
        snprintf(json, sizeof json, head, cases[i].steps, cases[i].rest);
        zen_ctx *ctx = zen_ctx_new();
        zen_model *m = zen_model_from_json(ctx, json);
        int rc = m ? zen_model_build(m, 1) : -1;
        const char *e = zen_ctx_error(ctx);
        if (rc == 0 || !e || !strstr(e, cases[i].expect)) {
            fprintf(stderr, "  case %zu: got '%s', expected '%s'\n", i, e ? e : "(no error)", cases[i].expect);
            harness_failures++;
        }
        zen_model_free(m);
        zen_ctx_free(ctx);
    }
}

/* The GPT layers' gradients (embedding tables through the tied head, every block weight)
 * against finite differences, on random weights (LayerNorm gammas and biases included, so
 * no gradient is trivially zero). */
TEST(test_layer_gradients) {
    const char *json = "{\"class_name\": \"Sequential\", \"config\": {\"layers\": ["
                       "{\"class_name\": \"Input\", \"config\": {\"shape\": [5], \"dtype\": \"int32\"}},"
                       "{\"class_name\": \"TokenAndPositionEmbedding\", \"config\": {\"name\": \"emb\", "
                       "\"vocabulary_size\": 7, \"sequence_length\": 6, \"embedding_dim\": 8}},"
                       "{\"class_name\": \"GPT2Block\", \"config\": {\"name\": \"blk\", \"num_heads\": 2, "
                       "\"intermediate_dim\": 12}},"
                       "{\"class_name\": \"LMHead\", \"config\": {\"name\": \"head\", \"embedding\": \"emb\"}}]}}";
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_from_json(ctx, json);
    CHECK_OK(ctx, m);
    if (!m || zen_model_build(m, 1) != 0) {
        fprintf(stderr, "  build: %s\n", zen_ctx_error(ctx));
        harness_failures++;
        zen_model_free(m);
        zen_ctx_free(ctx);
        return;
    }
    zen_layer *emb = NULL, *blk = NULL, *head = NULL;
    for (int i = 0; i < m->nlayers; i++) {
        const char *cls = m->layers[i]->type->class_name;
        if (!strcmp(cls, "TokenAndPositionEmbedding")) emb = m->layers[i];
        if (!strcmp(cls, "GPT2Block")) blk = m->layers[i];
        if (!strcmp(cls, "LMHead")) head = m->layers[i];
    }
    CHECK(emb && blk && head && emb->nweights == 2 && blk->nweights == 12 && head->nweights == 0);
    if (emb && blk && head) {
        zen_rng rng;
        zen_rng_seed(&rng, 7);
        zen_tensor *params[14];
        int np = 0;
        for (int i = 0; i < emb->nweights; i++) params[np++] = emb->weights[i];
        for (int i = 0; i < blk->nweights; i++) params[np++] = blk->weights[i];
        for (int i = 0; i < np; i++) zen_rng_fill_uniform(&rng, params[i], -0.5f, 0.5f);
        zen_tensor *tok = zen_const(ctx, ZEN_I32, 2, (int64_t[]){2, 5});
        const int32_t v[10] = {1, 4, 0, 6, 2, 3, 3, 5, 1, 0};
        memcpy(tok->data, v, sizeof v);
        zen_tensor *x = zen__gpt2_embed(ctx, emb, tok, 0);
        zen_tensor *y = zen__lm_head(ctx, head, zen__gpt2_block(ctx, blk, x, NULL, NULL, NULL, NULL, false, 0));
        CHECK_OK(ctx, y);
        if (y) CHECK(gradcheck(ctx, y, np, params, 1e-2, 2) == 0);
    }
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("gpt2_ref.safetensors");
    load_reference();
    int rc = RUN_TESTS(test_import_matches_torch, test_cache_matches_full_forward, test_lm_errors, test_import_errors,
                       test_save_load, test_layer_errors, test_layer_gradients);
    fx_close(f);
    return rc;
}
