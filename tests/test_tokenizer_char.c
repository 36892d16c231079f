/* The character-level tokenizer: the vocabulary of a committed UTF-8 text
 * (tests/fixtures/text/tiny.txt: ASCII, accents, Greek, CJK, an emoji, tabs, CRLF) is its
 * sorted code points; encode/decode round trips; unknown characters and invalid UTF-8 are
 * errors naming the byte; the JSON form round trips and is checked. */
#include "data_util.h"

static char *tiny(size_t *n) {
    zen_ctx *ctx = zen_ctx_new();
    char *s = zen_load_text(ctx, ZEN_FIXTURE_DIR "/text/tiny.txt", n);
    if (!s) {
        fprintf(stderr, "%s\n", zen_ctx_error(ctx));
        exit(2);
    }
    zen_ctx_free(ctx);
    return s;
}

TEST(test_vocabulary) {
    zen_ctx *ctx = zen_ctx_new();
    size_t n;
    char *text = tiny(&n);
    zen_tokenizer *tok = zen_tokenizer_char_fit(ctx, text, n);
    CHECK_OK(ctx, tok);
    CHECK(!strcmp(zen_tokenizer_type(tok), "char"));
    /* the distinct code points, counted here independently: ASCII ones by byte, others by
     * their UTF-8 sequences (all distinct in this text) */
    int ascii[128] = {0}, nascii = 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)text[i] < 128 && !ascii[(unsigned char)text[i]]++) nascii++;
    const char *others[] = {"Æ", "é", "ï", "ø", "α", "β", "γ", "中", "文", "😀"};
    int64_t want = nascii + 10;
    CHECK(zen_tokenizer_vocab_size(tok) == want);
    /* ids follow code-point order: '\t' < '\n' < '\r' < ' ' < ... < 'z' < 'Æ' < 'é' < 'ï' < 'ø' < 'α' ... */
    CHECK(zen_tokenizer_token_id(tok, "\t") == 0 && zen_tokenizer_token_id(tok, "\n") == 1 &&
          zen_tokenizer_token_id(tok, "\r") == 2 && zen_tokenizer_token_id(tok, " ") == 3);
    int32_t prev = zen_tokenizer_token_id(tok, "z");
    for (int i = 0; i < 10; i++) {
        int32_t id = zen_tokenizer_token_id(tok, others[i]);
        CHECK(id == nascii + i && id > prev);
        prev = id;
    }
    CHECK(zen_tokenizer_token_id(tok, "😀") == want - 1);
    CHECK(zen_tokenizer_token_id(tok, "Q") == -1 && zen_tokenizer_token_id(tok, "ab") == -1 &&
          zen_tokenizer_token_id(tok, "") == -1);
    zen_tokenizer_free(tok);
    free(text);
    zen_ctx_free(ctx);
}

TEST(test_round_trip) {
    zen_ctx *ctx = zen_ctx_new();
    size_t n;
    char *text = tiny(&n);
    zen_tokenizer *tok = zen_tokenizer_char_fit(ctx, text, n);
    int64_t k;
    int32_t *ids = zen_tokenizer_encode(ctx, tok, text, n, &k);
    CHECK_OK(ctx, ids);
    /* one id per code point: bytes minus continuation bytes */
    int64_t cps = 0;
    for (size_t i = 0; i < n; i++) cps += ((unsigned char)text[i] & 0xC0) != 0x80;
    CHECK(k == cps);
    size_t len;
    char *back = zen_tokenizer_decode(ctx, tok, ids, k, &len);
    CHECK(back && len == n && !memcmp(back, text, n) && back[n] == 0);
    /* a part of the text, and an empty one */
    free(ids);
    ids = zen_tokenizer_encode(ctx, tok, "café 中", strlen("café 中"), &k);
    CHECK(ids && k == 6);
    free(ids);
    ids = zen_tokenizer_encode(ctx, tok, "", 0, &k);
    CHECK(ids && k == 0);
    free(ids);
    free(back);
    back = zen_tokenizer_decode(ctx, tok, NULL, 0, &len);
    CHECK(back && len == 0 && back[0] == 0);
    free(back);
    zen_tokenizer_free(tok);
    free(text);
    zen_ctx_free(ctx);
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    CHECK_ERR(ctx, !zen_tokenizer_char_fit(ctx, "", 0), "zen_tokenizer_char_fit", "empty");
    CHECK_ERR(ctx, !zen_tokenizer_char_fit(ctx, NULL, 3), "NULL");
    CHECK_ERR(ctx, !zen_tokenizer_char_fit(ctx, "ab\xff", 3), "invalid UTF-8 at byte 2 (0xFF)");
    CHECK_ERR(ctx, !zen_tokenizer_char_fit(ctx, "ab\xc3", 3), "invalid UTF-8 at byte 2");      /* cut off */
    CHECK_ERR(ctx, !zen_tokenizer_char_fit(ctx, "a\xc0\xaf", 3), "invalid UTF-8 at byte 1");   /* overlong */
    CHECK_ERR(ctx, !zen_tokenizer_char_fit(ctx, "\xed\xa0\x80", 3), "invalid UTF-8 at byte 0"); /* surrogate */
    zen_tokenizer *tok = zen_tokenizer_char_fit(ctx, "hello wörld", strlen("hello wörld"));
    CHECK_OK(ctx, tok);
    CHECK(zen_tokenizer_vocab_size(tok) == 9);
    int64_t k = 5;
    CHECK_ERR(ctx, !zen_tokenizer_encode(ctx, tok, "hex", 3, &k), "character U+0078 ('x') at byte 2",
              "not in the vocabulary");
    CHECK(k == 0);
    CHECK_ERR(ctx, !zen_tokenizer_encode(ctx, tok, "w\xc3\xb6\xe2\x82\xac", 6, &k), "U+20AC ('€') at byte 3");
    CHECK_ERR(ctx, !zen_tokenizer_encode(ctx, tok, "ho\x80", 3, &k), "invalid UTF-8 at byte 2");
    CHECK_ERR(ctx, !zen_tokenizer_encode(ctx, tok, "ho", 2, NULL), "n is NULL");
    CHECK_ERR(ctx, !zen_tokenizer_decode(ctx, tok, (int32_t[]){0, 9}, 2, NULL), "id 9 at position 1", "[0, 9)");
    CHECK_ERR(ctx, !zen_tokenizer_decode(ctx, tok, (int32_t[]){-3}, 1, NULL), "id -3 at position 0");
    zen_tokenizer_free(tok);
    zen_ctx_free(ctx);
}

TEST(test_json) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tokenizer *tok = zen_tokenizer_char_fit(ctx, "ba\n€a", strlen("ba\n€a"));
    char *json = zen_tokenizer_to_json(ctx, tok);
    CHECK(json && !strcmp(json, "{\"type\":\"char\",\"vocab_size\":4,\"code_points\":[10,97,98,8364]}"));
    zen_tokenizer *back = zen_tokenizer_from_json(ctx, json);
    CHECK_OK(ctx, back);
    CHECK(zen_tokenizer_vocab_size(back) == 4 && zen_tokenizer_token_id(back, "€") == 3);
    int64_t k;
    int32_t *ids = zen_tokenizer_encode(ctx, back, "ab€\n", strlen("ab€\n"), &k);
    CHECK(ids && k == 4 && ids[0] == 1 && ids[1] == 2 && ids[2] == 3 && ids[3] == 0);
    free(ids);
    /* a code point 0 (NUL) is a character like any other */
    zen_tokenizer *nul = zen_tokenizer_char_fit(ctx, "a\0b", 3);
    CHECK(nul && zen_tokenizer_vocab_size(nul) == 3);
    char *nj = zen_tokenizer_to_json(ctx, nul);
    zen_tokenizer *nb = zen_tokenizer_from_json(ctx, nj);
    size_t len;
    char *s = nb ? zen_tokenizer_decode(ctx, nb, (int32_t[]){1, 0, 2}, 3, &len) : NULL;
    CHECK(s && len == 3 && !memcmp(s, "a\0b", 3));
    free(s), free(nj);
    zen_tokenizer_free(nb), zen_tokenizer_free(nul);

    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"char\""), "not valid JSON");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "[1]"), "\"type\"");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"bytes\"}"), "unknown tokenizer type \"bytes\"");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"char\"}"), "code_points");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"char\", \"code_points\": [97, 97]}"),
              "code_points[1]", "greater than the one before");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"char\", \"code_points\": [55296]}"), "code_points[0]");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"char\", \"code_points\": [1.5]}"), "code_points[0]");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"char\", \"code_points\": [1114112]}"), "code_points[0]");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, "{\"type\": \"char\", \"vocab_size\": 3, \"code_points\": [97]}"),
              "vocab_size is 3", "1 tokens");
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, NULL), "json is NULL");
    zen_tokenizer_free(back);
    zen_tokenizer_free(tok);
    free(json);
    zen_ctx_free(ctx);
}

int main(void) { return RUN_TESTS(test_vocabulary, test_round_trip, test_errors, test_json); }
