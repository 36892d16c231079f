/* The GPT-2 byte-level BPE machinery on files written here (no download needed): the
 * pre-tokenizer's pieces against the regex's rules, merges by rank on a tiny vocabulary,
 * byte round trips of any input (invalid UTF-8 included), and every file error.
 * The real GPT-2 files are checked against the reference encoder in test_tokenizer_gpt2.c. */
#include "data_util.h"
#include "data/tokenizer.h"

/* GPT-2's bytes_to_unicode: how encoder.json spells a byte. */
static int spell_byte(unsigned char b, char *out) {
    static int map[256], ready;
    if (!ready) {
        int n = 0;
        for (int c = 0; c < 256; c++) {
            bool printable = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE && c <= 0xFF);
            map[c] = printable ? c : 256 + n++;
        }
        ready = 1;
    }
    return zen__utf8_encode((uint32_t)map[b], out);
}

/* "a b" token text (bytes) -> its spelling, JSON-escaped for '"' and '\\'. */
static void spell(const char *tok, char *out) {
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)tok; *p; p++) {
        if (*p == '"' || *p == '\\') out[n++] = '\\';
        n += (size_t)spell_byte(*p, out + n);
    }
    out[n] = 0;
}

/* The merges of the tiny vocabulary, in rank order; each adds one token. */
static const char *merges[][2] = {{"l", "l"}, {"h", "e"}, {"he", "ll"}, {"hell", "o"}, {" ", "w"},
                                  {"o", "r"}, {" w", "or"}, {" wor", "l"}, {" worl", "d"}, {"a", "a"}};

/* Writes encoder.json (256 bytes + merges + <|endoftext|>) and vocab.bpe into dir. */
static void write_tiny(const char dir[static 1], int nmerges) {
    static char json[65536], bpe[8192], path[1100];
    size_t n = (size_t)snprintf(json, sizeof json, "{");
    for (int b = 0; b < 256; b++) {
        char s[8], e[16];
        s[spell_byte((unsigned char)b, s)] = 0;
        if (b == '"' || b == '\\') snprintf(e, sizeof e, "\\%s", s);
        else snprintf(e, sizeof e, "%s", s);
        n += (size_t)snprintf(json + n, sizeof json - n, "\"%s\": %d, ", e, b);
    }
    size_t m = (size_t)snprintf(bpe, sizeof bpe, "#version: 0.2\n");
    for (int i = 0; i < nmerges; i++) {
        char joined[64], a[64], b[64], j[128];
        snprintf(joined, sizeof joined, "%s%s", merges[i][0], merges[i][1]);
        spell(merges[i][0], a), spell(merges[i][1], b), spell(joined, j);
        n += (size_t)snprintf(json + n, sizeof json - n, "\"%s\": %d, ", j, 256 + i);
        m += (size_t)snprintf(bpe + m, sizeof bpe - m, "%s %s\n", a, b);
    }
    snprintf(json + n, sizeof json - n, "\"<|endoftext|>\": %d}", 256 + nmerges);
    snprintf(path, sizeof path, "%s/encoder.json", dir);
    du_write_str(path, json);
    snprintf(path, sizeof path, "%s/vocab.bpe", dir);
    du_write_str(path, bpe);
}

/* The pieces of text, joined with '|'. */
static const char *pieces(const char *text) {
    static char out[1024];
    size_t len = strlen(text), n = 0;
    for (size_t pos = 0; pos < len;) {
        size_t end = zen__gpt2_piece_end(text, len, pos);
        if (end <= pos || end > len) return "(no progress)";
        if (pos) out[n++] = '|';
        memcpy(out + n, text + pos, end - pos);
        n += end - pos;
        pos = end;
    }
    out[n] = 0;
    return out;
}

#define CHECK_PIECES(text, want)                                                                    \
    do {                                                                                            \
        const char *got_ = pieces(text);                                                            \
        if (strcmp(got_, want)) {                                                                   \
            fprintf(stderr, "  %s:%d: pieces of \"%s\": \"%s\", expected \"%s\"\n", __FILE__, __LINE__, \
                    text, got_, want);                                                              \
            harness_failures++;                                                                     \
        }                                                                                           \
    } while (0)

TEST(test_pretokenizer) {
    CHECK_PIECES("Hello world", "Hello| world");
    CHECK_PIECES("I'm you're we've they'll he'd it's don't", "I|'m| you|'re| we|'ve| they|'ll| he|'d| it|'s| don|'t");
    CHECK_PIECES("'said 'll'", "'s|aid| '|ll|'"); /* the contractions match anywhere, case-sensitively */
    CHECK_PIECES("DON'T", "DON|'|T");
    CHECK_PIECES("abc123def 456", "abc|123|def| 456");
    CHECK_PIECES("a, b!! ?c", "a|,| b|!!| ?|c");
    CHECK_PIECES("a  b", "a| | b");                /* \s+(?!\S) leaves the last space to " b" */
    CHECK_PIECES("a   \n b", "a|   \n| b");
    CHECK_PIECES("a\n\nb", "a|\n|\n|b");          /* a newline does not join the word */
    CHECK_PIECES("end   ", "end|   ");             /* trailing whitespace: one piece */
    CHECK_PIECES("x \t", "x| \t");
    CHECK_PIECES(" ", " ");
    CHECK_PIECES("  (x)", " | (|x|)");
    CHECK_PIECES("caf\xc3\xa9 na\xc3\xafve", "caf\xc3\xa9| na\xc3\xafve");     /* é ï are letters */
    CHECK_PIECES("\xe4\xbd\xa0\xe5\xa5\xbd\xef\xbc\x8c", "\xe4\xbd\xa0\xe5\xa5\xbd|\xef\xbc\x8c"); /* 你好， */
    CHECK_PIECES("x\xc2\xb2 \xe2\x85\xab", "x|\xc2\xb2| \xe2\x85\xab");       /* ² and Ⅻ are numbers */
    CHECK_PIECES("a\xc2\xa0" "b", "a|\xc2\xa0|b");                            /* NBSP is \s, not " " */
    CHECK_PIECES("a\xe3\x80\x80\xe3\x80\x80" "b", "a|\xe3\x80\x80|\xe3\x80\x80|b"); /* U+3000 too */
    CHECK_PIECES("\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!");                    /* emoji: other */
    CHECK_PIECES("ab\xff\xfe" "cd", "ab|\xff\xfe|cd");                           /* invalid bytes: other */
    CHECK_PIECES("\xc3", "\xc3");                                               /* cut-off sequence */
    CHECK_PIECES("x \xe9t\xe9", "x| \xe9|t|\xe9");                             /* Latin-1, not UTF-8 */
}

TEST(test_unicode_classes) {
    CHECK(zen__uni_is_letter('a') && zen__uni_is_letter('Z') && !zen__uni_is_letter('1') && !zen__uni_is_letter('_'));
    CHECK(zen__uni_is_letter(0xE9) && zen__uni_is_letter(0x4E2D) && zen__uni_is_letter(0x3042) &&
          zen__uni_is_letter(0x05D0) && zen__uni_is_letter(0x10400));
    CHECK(!zen__uni_is_letter(0xD7) && !zen__uni_is_letter(0x1F600) && !zen__uni_is_letter(0x10FFFF));
    CHECK(zen__uni_is_number('7') && zen__uni_is_number(0xB2) && zen__uni_is_number(0x0663) &&
          zen__uni_is_number(0x216B) && zen__uni_is_number(0x2460) && zen__uni_is_number(0xFF11));
    CHECK(!zen__uni_is_number('a') && !zen__uni_is_number(0x4E00));
    CHECK(zen__uni_is_space(' ') && zen__uni_is_space('\n') && zen__uni_is_space(0x0B) && zen__uni_is_space(0xA0) &&
          zen__uni_is_space(0x2009) && zen__uni_is_space(0xFEFF) && zen__uni_is_space(0x3000));
    CHECK(!zen__uni_is_space(0x85) && !zen__uni_is_space(0x200B) && !zen__uni_is_space(0x1C)); /* JS's \s */
}

/* ids of text under tok, compared with want (n of them). */
static void check_ids(zen_ctx *ctx, zen_tokenizer *tok, const char *text, const int32_t *want, int64_t n) {
    int64_t got_n = -1;
    int32_t *got = zen_tokenizer_encode(ctx, tok, text, strlen(text), &got_n);
    CHECK_OK(ctx, got);
    CHECK(got_n == n);
    for (int64_t i = 0; got && i < n && i < got_n; i++)
        if (got[i] != want[i]) {
            fprintf(stderr, "  \"%s\": id %lld is %d, expected %d\n", text, (long long)i, got[i], want[i]);
            harness_failures++;
        }
    free(got);
}

TEST(test_tiny_bpe) {
    du_init();
    write_tiny(du_dir, 10);
    zen_ctx *ctx = zen_ctx_new();
    zen_tokenizer *tok = zen_tokenizer_gpt2_load(ctx, du_dir);
    CHECK_OK(ctx, tok);
    if (!tok) goto out;
    CHECK(!strcmp(zen_tokenizer_type(tok), "gpt2") && zen_tokenizer_vocab_size(tok) == 267);
    CHECK(zen_tokenizer_token_id(tok, "<|endoftext|>") == 266 && zen_tokenizer_token_id(tok, "hello") == 259 &&
          zen_tokenizer_token_id(tok, " world") == 264 && zen_tokenizer_token_id(tok, "nope") == -1);
    /* "hello" merges l+l (rank 0) first, then h+e, he+ll, hell+o */
    check_ids(ctx, tok, "hello", (int32_t[]){259}, 1);
    check_ids(ctx, tok, "hello world", (int32_t[]){259, 264}, 2);
    check_ids(ctx, tok, "hello worlds", (int32_t[]){259, 264, 's'}, 3);
    check_ids(ctx, tok, "helo", (int32_t[]){257, 'l', 'o'}, 3);
    check_ids(ctx, tok, "aaaaa", (int32_t[]){265, 265, 'a'}, 3); /* overlapping pairs merge left to right */
    check_ids(ctx, tok, "hello hello", (int32_t[]){259, ' ', 259}, 3); /* the cache gives the same */
    check_ids(ctx, tok, "", (int32_t[]){0}, 0);
    /* any bytes round-trip, valid UTF-8 or not */
    zen_rng r;
    zen_rng_seed(&r, 7);
    for (int trial = 0; trial < 200; trial++) {
        char buf[64];
        size_t n = (size_t)(zen_rng_next(&r) % sizeof buf);
        for (size_t i = 0; i < n; i++) buf[i] = trial < 100 ? (char)zen_rng_next(&r) : " helowrd\n\xc3\xa9\xff"[zen_rng_next(&r) % 13];
        int64_t k;
        int32_t *ids = zen_tokenizer_encode(ctx, tok, buf, n, &k);
        size_t len = 0;
        char *back = ids ? zen_tokenizer_decode(ctx, tok, ids, k, &len) : NULL;
        CHECK(back && len == n && !memcmp(back, buf, n));
        CHECK(k <= (int64_t)n);
        free(ids), free(back);
    }
    /* a cache emptied every few pieces gives the same ids as one that keeps them all */
    zen_tokenizer *small = zen_tokenizer_gpt2_load(ctx, du_dir);
    zen__gpt2_set_cache_limit(small, 4);
    const char *text = "hello world, hello worlds: aaaa aaaaa hell hello hello world!";
    int64_t k1, k2;
    int32_t *a = zen_tokenizer_encode(ctx, tok, text, strlen(text), &k1);
    int64_t entries = zen__gpt2_cache_entries(tok);
    int32_t *b = zen_tokenizer_encode(ctx, small, text, strlen(text), &k2);
    CHECK(a && b && k1 == k2 && !memcmp(a, b, (size_t)k1 * sizeof *a));
    CHECK(entries >= 8 && zen__gpt2_cache_entries(small) < 5);
    free(a), free(b);
    zen_tokenizer_free(small);
    /* decode errors name the position */
    CHECK_ERR(ctx, !zen_tokenizer_decode(ctx, tok, (int32_t[]){1, 267}, 2, NULL), "id 267 at position 1",
              "[0, 267)");
    CHECK_ERR(ctx, !zen_tokenizer_decode(ctx, tok, (int32_t[]){-1}, 1, NULL), "id -1 at position 0");
    /* JSON: "gpt2" reads the data directory's files again */
    char *json = zen_tokenizer_to_json(ctx, tok);
    CHECK(json && strstr(json, "\"gpt2\"") && strstr(json, "267"));
    char *old = getenv("ZEN_DATA_DIR") ? strdup(getenv("ZEN_DATA_DIR")) : NULL;
    char gdir[700];
    snprintf(gdir, sizeof gdir, "%s/gpt2", du_dir);
    mkdir(gdir, 0700);
    write_tiny(gdir, 10);
    setenv("ZEN_DATA_DIR", du_dir, 1);
    zen_tokenizer *back = zen_tokenizer_from_json(ctx, json);
    CHECK_OK(ctx, back);
    write_tiny(gdir, 9); /* a different vocabulary than the one saved */
    CHECK_ERR(ctx, !zen_tokenizer_from_json(ctx, json), "vocab_size is 267", "266 tokens");
    if (old) setenv("ZEN_DATA_DIR", old, 1);
    else unsetenv("ZEN_DATA_DIR");
    free(old);
    free(json);
    zen_tokenizer_free(back);
out:
    zen_tokenizer_free(tok);
    zen_ctx_free(ctx);
    du_cleanup();
}

/* Replaces dir/name with text and expects loading to fail with the given words. */
#define BAD_FILE(name, text, ...)                                                                   \
    do {                                                                                            \
        write_tiny(du_dir, 10);                                                                     \
        du_write_str(du_path(name), text);                                                          \
        CHECK_ERR(ctx, !zen_tokenizer_gpt2_load(ctx, du_dir), __VA_ARGS__);                         \
    } while (0)

TEST(test_file_errors) {
    du_init();
    zen_ctx *ctx = zen_ctx_new();
    CHECK_ERR(ctx, !zen_tokenizer_gpt2_load(ctx, du_dir), "encoder.json", "cannot open", "fetch_data.sh gpt2-bpe");
    write_tiny(du_dir, 10);
    remove(du_path("vocab.bpe"));
    CHECK_ERR(ctx, !zen_tokenizer_gpt2_load(ctx, du_dir), "vocab.bpe", "cannot open");
    BAD_FILE("encoder.json", "{\"a\": 0, ", "encoder.json", "not valid JSON");
    BAD_FILE("encoder.json", "[1, 2]", "encoder.json", "at least 256");
    BAD_FILE("encoder.json", "", "encoder.json", "not valid JSON");
    BAD_FILE("vocab.bpe", "#version: 0.2\n", "vocab.bpe", "no merges");
    BAD_FILE("vocab.bpe", "#version: 0.2\nl l\nh e x\n", "vocab.bpe", "line 3", "two tokens");
    BAD_FILE("vocab.bpe", "#version: 0.2\nl\n", "vocab.bpe", "line 2", "two tokens");
    BAD_FILE("vocab.bpe", "#version: 0.2\nl l\nq z\n", "vocab.bpe", "line 3", "\"q z\"", "not all in encoder.json");
    BAD_FILE("vocab.bpe", "#version: 0.2\nl l\nl l\n", "vocab.bpe", "line 3", "appears twice");
    /* a broken encoder.json: ids and tokens */
    char json[65536];
    size_t n = 0;
    write_tiny(du_dir, 10);
    unsigned char *orig = du_read(du_path("encoder.json"), &n);
    memcpy(json, orig, n);
    json[n] = 0;
    free(orig);
    char *p = strstr(json, "\"<|endoftext|>\": 266");
    memcpy(p, "\"<|endoftext|>\": 265", 20); /* two tokens with id 265 */
    du_write_str(du_path("encoder.json"), json);
    CHECK_ERR(ctx, !zen_tokenizer_gpt2_load(ctx, du_dir), "encoder.json", "id 265 is given to two tokens");
    memcpy(p, "\"<|endoftext|>\": 900", 20);
    du_write_str(du_path("encoder.json"), json);
    CHECK_ERR(ctx, !zen_tokenizer_gpt2_load(ctx, du_dir), "encoder.json", "<|endoftext|>", "[0, 267)");
    memcpy(p, "\"<|endoftext|>\": \"x\"", 20);
    du_write_str(du_path("encoder.json"), json);
    CHECK_ERR(ctx, !zen_tokenizer_gpt2_load(ctx, du_dir), "encoder.json", "not a number");
    memcpy(p, "\"<|endoftext|>\": 266", 20);
    p = strstr(json, "\"a\": 97");
    memcpy(p, "\"b\": 97", 7); /* "b" twice, and no token for "a" */
    du_write_str(du_path("encoder.json"), json);
    CHECK_ERR(ctx, !zen_tokenizer_gpt2_load(ctx, du_dir), "encoder.json", "appears twice");
    memcpy(p, "\"\xc5\x90\":97", 7); /* U+0150 is not a byte's spelling */
    du_write_str(du_path("encoder.json"), json);
    CHECK_ERR(ctx, !zen_tokenizer_gpt2_load(ctx, du_dir), "encoder.json", "byte alphabet");
    zen_ctx_free(ctx);
    du_cleanup();
}

int main(void) { return RUN_TESTS(test_pretokenizer, test_unicode_classes, test_tiny_bpe, test_file_errors); }
