/* A character-level GPT learns: a tiny model from a JSON spec (TokenAndPositionEmbedding,
 * two GPT2Blocks, LayerNormalization, tied LMHead, softmax) trained with zen_model_fit on
 * text generated from a small grammar, with AdamW, warmup + cosine decay, clipnorm and
 * gradient accumulation; sparse cross-entropy over [B, T, vocab]. The validation loss must
 * fall well below half of ln(vocab) (a uniform guess), perplexity must be exp(loss), and
 * eval_every must report during the epoch. Then greedy generation from the trained model
 * continues a prompt with words of the grammar. */
#include "harness.h"

#include <string.h>

#include "nn/nn.h"

enum { T = 32, TEXT = 12000 };

static const char *const words[] = {"the", "a", "cat", "dog", "sat", "ran", "on", "to", "mat", "park", "and", "saw"};

/* Sentences "the cat sat on the mat." from the words, seeded. */
static int make_text(char *text, int cap) {
    zen_rng r;
    zen_rng_seed(&r, 42);
    static const int pattern[][6] = {{0, 2, 4, 6, 0, 8}, {1, 3, 5, 7, 0, 9}, {0, 3, 11, 1, 2, -1}};
    int n = 0;
    while (n < cap - 64) {
        const int *p = pattern[zen_rng_next(&r) % 3];
        for (int w = 0; w < 6 && p[w] >= 0; w++) {
            const char *word = p[w] == 2 || p[w] == 3 ? words[2 + zen_rng_next(&r) % 2] : words[p[w]];
            n += snprintf(text + n, (size_t)(cap - n), "%s%s", w ? " " : "", word);
        }
        n += snprintf(text + n, (size_t)(cap - n), ". ");
    }
    return n;
}

static const char *spec =
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"tiny_gpt\", \"layers\": ["
    "{\"class_name\": \"Input\", \"config\": {\"shape\": [32], \"dtype\": \"int32\"}},"
    "{\"class_name\": \"TokenAndPositionEmbedding\", \"config\": {\"name\": \"embed\", \"vocabulary_size\": %d,"
    " \"sequence_length\": 32, \"embedding_dim\": 32}},"
    "{\"class_name\": \"GPT2Block\", \"config\": {\"num_heads\": 2}},"
    "{\"class_name\": \"GPT2Block\", \"config\": {\"num_heads\": 2}},"
    "{\"class_name\": \"LayerNormalization\", \"config\": {\"epsilon\": 1e-5}},"
    "{\"class_name\": \"LMHead\", \"config\": {\"embedding\": \"embed\"}},"
    "{\"class_name\": \"Activation\", \"config\": {\"activation\": \"softmax\"}}]}}";

TEST(test_char_gpt_learns) {
    static char text[TEXT];
    int n = make_text(text, TEXT);
    /* The vocabulary: the distinct characters, in byte order. */
    int id[256], vocab = 0;
    char chars[64];
    for (int c = 0; c < 256; c++) id[c] = -1;
    for (int i = 0; i < n; i++) id[(unsigned char)text[i]] = 0;
    for (int c = 0; c < 256; c++)
        if (id[c] == 0) chars[vocab] = (char)c, id[c] = vocab++;
    /* Windows of T with their targets shifted by one, stride T/2. */
    int64_t nwin = (n - T - 1) / (T / 2);
    zen_ctx *ctx = zen_ctx_new();
    /* One thread: the work is small, and on a busy machine waiting threads cost more than it. */
    zen_ctx_set_threads(ctx, 1);
    zen_array *x = zen_array_new(ctx, ZEN_I32, 2, (int64_t[]){nwin, T});
    zen_array *y = zen_array_new(ctx, ZEN_I32, 2, (int64_t[]){nwin, T});
    for (int64_t w = 0; w < nwin; w++)
        for (int t = 0; t < T; t++) {
            ((int32_t *)x->data)[w * T + t] = id[(unsigned char)text[w * T / 2 + t]];
            ((int32_t *)y->data)[w * T + t] = id[(unsigned char)text[w * T / 2 + t + 1]];
        }
    zen_dataset *d = zen_dataset_new(ctx, x, y);
    char json[2048];
    snprintf(json, sizeof json, spec, vocab);
    zen_model *m = zen_model_from_json(ctx, json);
    CHECK_OK(ctx, m);
    if (!m || zen_model_build(m, 3) != 0) goto done;
    zen_optimizer *opt = zen_optimizer_new(ctx, "AdamW",
        "{\"learning_rate\": {\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": 0.0,"
        " \"warmup_target\": 0.01, \"warmup_steps\": 20, \"decay_steps\": 200, \"alpha\": 0.1}},"
        " \"weight_decay\": 0.01, \"clipnorm\": 1.0, \"gradient_accumulation_steps\": 2}");
    CHECK_OK(ctx, opt);
    CHECK(zen_model_compile(m, opt, "sparse_categorical_crossentropy", 2,
                            (const char *[]){"sparse_categorical_accuracy", "perplexity"}) == 0);
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = 3;
    o.batch_size = 16;
    o.validation_split = 0.1f;
    o.seed = 1;
    o.verbose = 2;
    o.eval_every = 20;
    double t0 = zen_time_seconds();
    zen_history *h = zen_model_fit(m, d, &o);
    CHECK_OK(ctx, h);
    if (!h) goto done;
    double first = zen_metrics_get(&h->logs[0], "loss"), val = zen_metrics_get(&h->logs[h->epochs - 1], "val_loss");
    double ppl = zen_metrics_get(&h->logs[h->epochs - 1], "val_perplexity");
    fprintf(stderr, "  vocab %d, %lld windows, ln(vocab) %.3f: first epoch loss %.3f, last val_loss %.3f, "
                    "val_perplexity %.3f, accuracy %.3f (%.1f s)\n", vocab, (long long)nwin, log(vocab), first, val, ppl,
            zen_metrics_get(&h->logs[h->epochs - 1], "val_sparse_categorical_accuracy"), zen_time_seconds() - t0);
    CHECK(val < 0.5 * log(vocab));
    CHECK(fabs(ppl - exp(val)) <= 1e-3 * exp(val));
    /* Updates: one per two batches (gradient accumulation), counted over the 3 epochs. */
    int64_t ntrain = (int64_t)floor((double)nwin * 0.9), batches = 3 * ((ntrain + 15) / 16);
    CHECK(zen_optimizer_iterations(opt) == batches / 2);

    /* Greedy generation continues "the cat sat on th" with "e". */
    zen_lm *lm = zen_lm_new(m);
    CHECK_OK(ctx, lm);
    if (lm) {
        const char *prompt = "the cat sat on th";
        int32_t ids[T];
        int np = (int)strlen(prompt);
        for (int i = 0; i < np; i++) ids[i] = id[(unsigned char)prompt[i]];
        float *logits = malloc(sizeof(float) * (size_t)vocab);
        CHECK(zen_lm_feed(lm, np, ids, logits, false) == 0);
        zen_rng r;
        zen_rng_seed(&r, 1);
        zen_sampling greedy = {0};
        char out[T + 1] = "";
        int no = 0;
        for (; zen_lm_position(lm) < T && no < 12; no++) {
            int tok = zen_sample_logits(ctx, logits, vocab, &greedy, &r);
            out[no] = chars[tok];
            int32_t t32 = tok;
            if (zen_lm_feed(lm, 1, &t32, logits, false) != 0) break;
        }
        out[no] = 0;
        fprintf(stderr, "  greedy: \"%s\" -> \"%s\"\n", prompt, out);
        CHECK(!strncmp(out, "e ", 2));
        free(logits);
    }
    zen_lm_free(lm);
    zen_history_free(h);
done:
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) { return RUN_TESTS(test_char_gpt_learns); }
