/* The word tokenizer (Keras TextVectorization's defaults): standardization, the vocabulary's
 * order (count, then reverse byte order as Keras), max_tokens, out-of-vocabulary words,
 * fixed-length batches (padding and truncation), decoding, JSON and errors. The expected
 * vocabularies are worked out by hand in the comments. */
#include "data_util.h"

static const char *corpus[] = {"The cat sat on the mat.", "The dog ate my homework!", "Cats, dogs: the BEST pets?",
                               "don't\tstop\n"};

static void check_encode(zen_ctx *ctx, zen_tokenizer *tok, const char *text, const int32_t *want, int64_t n) {
    int64_t k = -1;
    int32_t *ids = zen_tokenizer_encode(ctx, tok, text, strlen(text), &k);
    CHECK_OK(ctx, ids);
    bool same = ids && k == n;
    for (int64_t i = 0; same && i < n; i++) same = ids[i] == want[i];
    if (!same) {
        fprintf(stderr, "  \"%s\" ->", text);
        for (int64_t i = 0; ids && i < k; i++) fprintf(stderr, " %d", ids[i]);
        fprintf(stderr, "\n");
        harness_failures++;
    }
    free(ids);
}

TEST(test_vocabulary) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tokenizer *tok = zen_tokenizer_word_fit(ctx, 4, corpus, 0);
    CHECK_OK(ctx, tok);
    /* standardized: "the cat sat on the mat" "the dog ate my homework" "cats dogs the best pets"
     * "dont stop": "the" 4 times, 14 words once, which follow in reverse byte order */
    const char *want[] = {"", "[UNK]", "the", "stop", "sat", "pets", "on", "my", "mat", "homework", "dont", "dogs",
                          "dog", "cats", "cat", "best", "ate"};
    CHECK(!strcmp(zen_tokenizer_type(tok), "word") && zen_tokenizer_vocab_size(tok) == 17);
    for (int i = 0; i < 17; i++) CHECK(zen_tokenizer_token_id(tok, want[i]) == i);
    CHECK(zen_tokenizer_token_id(tok, "The") == -1 && zen_tokenizer_token_id(tok, "don't") == -1);
    char *json = zen_tokenizer_to_json(ctx, tok);
    CHECK(json && !strcmp(json, "{\"type\":\"word\",\"vocab_size\":17,\"vocabulary\":[\"\",\"[UNK]\",\"the\",\"stop\","
                                "\"sat\",\"pets\",\"on\",\"my\",\"mat\",\"homework\",\"dont\",\"dogs\",\"dog\",\"cats\","
                                "\"cat\",\"best\",\"ate\"],\"max_tokens\":0}"));
    check_encode(ctx, tok, "The mat, the CAT! A zebra...", (int32_t[]){2, 8, 2, 14, 1, 1}, 6);
    check_encode(ctx, tok, "  \t?!  ", NULL, 0);
    check_encode(ctx, tok, "(Homework)--[dogs]", (int32_t[]){1}, 1);   /* "homeworkdogs": one word, unknown */
    check_encode(ctx, tok, "caf\xc3\xa9 cat", (int32_t[]){1, 14}, 2);   /* non-ASCII bytes stay in words */
    size_t len;
    char *s = zen_tokenizer_decode(ctx, tok, (int32_t[]){0, 2, 14, 0, 1, 8, 0}, 7, &len);
    CHECK(s && !strcmp(s, "the cat [UNK] mat") && len == 17);
    free(s);
    CHECK_ERR(ctx, !zen_tokenizer_decode(ctx, tok, (int32_t[]){17}, 1, NULL), "id 17 at position 0", "[0, 17)");
    /* from JSON: the same tokenizer */
    zen_tokenizer *back = zen_tokenizer_from_json(ctx, json);
    CHECK_OK(ctx, back);
    char *json2 = back ? zen_tokenizer_to_json(ctx, back) : NULL;
    CHECK(json2 && !strcmp(json, json2));
    free(json), free(json2);
    zen_tokenizer_free(back);
    zen_tokenizer_free(tok);
    zen_ctx_free(ctx);
}

TEST(test_max_tokens_and_batches) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tokenizer *tok = zen_tokenizer_word_fit(ctx, 4, corpus, 5);
    CHECK_OK(ctx, tok);
    CHECK(zen_tokenizer_vocab_size(tok) == 5);
    CHECK(zen_tokenizer_token_id(tok, "sat") == 4 && zen_tokenizer_token_id(tok, "pets") == -1);
    check_encode(ctx, tok, "The mat, the CAT sat", (int32_t[]){2, 1, 2, 1, 4}, 5);
    /* output_sequence_length 3: the first 3 ids, padded with 0 */
    const char *texts[] = {"the cat", "stop sat the mat on", "", "sat"};
    zen_array *a = zen_tokenizer_encode_batch(ctx, tok, 4, texts, 3);
    CHECK_OK(ctx, a);
    CHECK(a && a->dtype == ZEN_I32 && a->ndim == 2 && a->shape[0] == 4 && a->shape[1] == 3);
    const int32_t want[12] = {2, 1, 0, 3, 4, 2, 0, 0, 0, 4, 0, 0};
    for (int i = 0; a && i < 12; i++) CHECK(((int32_t *)a->data)[i] == want[i]);
    zen_array_free(a);
    /* a vocabulary larger than the corpus needs: all words */
    zen_tokenizer *big = zen_tokenizer_word_fit(ctx, 4, corpus, 1000);
    CHECK(big && zen_tokenizer_vocab_size(big) == 17);
    zen_tokenizer_free(big);
    zen_tokenizer_free(tok);
    zen_ctx_free(ctx);
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    CHECK_ERR(ctx, !zen_tokenizer_word_fit(ctx, 0, corpus, 0), "zen_tokenizer_word_fit", "no texts");
    CHECK_ERR(ctx, !zen_tokenizer_word_fit(ctx, 4, corpus, 2), "max_tokens is 2", "at least 3");
    CHECK_ERR(ctx, !zen_tokenizer_word_fit(ctx, 4, corpus, -1), "max_tokens is -1");
    CHECK_ERR(ctx, !zen_tokenizer_word_fit(ctx, 2, (const char *[]){"a", NULL}, 0), "text 1 is NULL");
    zen_tokenizer *tok = zen_tokenizer_word_fit(ctx, 1, (const char *[]){"!!!"}, 0); /* no words: pad + [UNK] */
    CHECK(tok && zen_tokenizer_vocab_size(tok) == 2);
    CHECK_ERR(ctx, !zen_tokenizer_encode_batch(ctx, tok, 1, (const char *[]){"a"}, 0), "length is 0");
    CHECK_ERR(ctx, !zen_tokenizer_encode_batch(ctx, tok, 2, (const char *[]){"a", NULL}, 4), "text 1 is NULL");
    CHECK_ERR(ctx, !zen_tokenizer_encode_batch(ctx, tok, 0, NULL, 4), "no texts");
    zen_tokenizer_free(tok);
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"word\"}"), "vocabulary");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"word\", \"vocabulary\": [\"x\", \"[UNK]\"]}"),
              "entry 0", "padding");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"word\", \"vocabulary\": [\"\", \"UNK\"]}"), "entry 1",
              "[UNK]");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"word\", \"vocabulary\": [\"\", \"[UNK]\", \"a\", 3]}"),
              "entry 3", "non-empty string");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"word\", \"vocabulary\": [\"\", \"[UNK]\", \"a\", \"a\"]}"),
              "\"a\" appears twice");
    zen_ctx_free(ctx);
}

int main(void) { return RUN_TESTS(test_vocabulary, test_max_tokens_and_batches, test_errors); }
