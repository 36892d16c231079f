/* tokenizer_word.c — word tokens as Keras's TextVectorization with its defaults:
 * standardize "lower_and_strip_punctuation", split on whitespace, a vocabulary of the most
 * frequent words after id 0 (padding, "") and id 1 (out of vocabulary, "[UNK]"). */
#include "tokenizer.h"

#include <stdlib.h>

struct zen__word {
    zen__strmap map; /* word -> id (ids >= 2) */
    char **words;    /* id -> word ("" and "[UNK]" for 0 and 1) */
    int64_t max_tokens;
};

/* Python's string.punctuation, what Keras's DEFAULT_STRIP_REGEX removes. */
static bool is_punct(unsigned char c) { return c < 0x80 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", c) && c; }
static bool is_ws(unsigned char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

/* Calls fn(word, len, user) for each standardized word of text (lowercased, punctuation
 * removed, split on whitespace). Uses buf (len + 1 bytes) as scratch. */
static int each_word(const char *text, size_t len, char *buf, int (*fn)(const char *, size_t, void *), void *user) {
    size_t n = 0;
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)text[i] : ' ';
        if (is_ws(c)) {
            if (n && fn(buf, n, user) != 0) return -1;
            n = 0;
        } else if (!is_punct(c)) {
            buf[n++] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
    }
    return 0;
}

typedef struct counter {
    zen__strmap map;
    int64_t *counts;
    int64_t cap;
} counter;

static int count_word(const char *w, size_t n, void *user) {
    counter *c = user;
    int32_t e = zen__strmap_get(&c->map, w, n);
    if (e < 0) {
        e = (int32_t)c->map.n;
        if (e == INT32_MAX || zen__strmap_put(&c->map, w, n, e) != 0) return -1;
        if (e >= c->cap) {
            int64_t nc = c->cap ? 2 * c->cap : 1024;
            int64_t *p = realloc(c->counts, (size_t)nc * sizeof *p);
            if (!p) return -1;
            c->counts = p;
            c->cap = nc;
        }
        c->counts[e] = 0;
    }
    c->counts[e]++;
    return 0;
}

typedef struct entry {
    int64_t count;
    const char *word;
    size_t len;
} entry;

/* Most frequent first; ties in reverse byte order of the words, as Keras's
 * np.lexsort((tokens, counts))[::-1]. */
static int by_count(const void *pa, const void *pb) {
    const entry *a = pa, *b = pb;
    if (a->count != b->count) return a->count > b->count ? -1 : 1;
    int r = memcmp(a->word, b->word, a->len < b->len ? a->len : b->len);
    if (!r) r = a->len < b->len ? -1 : a->len > b->len;
    return -r;
}

void zen__word_free(zen__word *w) {
    if (!w) return;
    if (w->words) {
        free(w->words[0]);
        free(w->words[1]);
    }
    zen__strmap_free(&w->map); /* owns the words from id 2 on */
    free(w->words);
    free(w);
}

/* A tokenizer from words[0..n) for ids 2.. (copied). */
static zen_tokenizer *make(zen_ctx *ctx, const char *fn, int64_t n, const char *const *words, const size_t *lens,
                           int64_t max_tokens) {
    zen__word *w = calloc(1, sizeof *w);
    zen_tokenizer *t = calloc(1, sizeof *t);
    if (!w || !t || zen__strmap_init(&w->map, (uint64_t)n) != 0 || !(w->words = calloc((size_t)n + 2, sizeof(char *))) ||
        !(w->words[0] = strdup("")) || !(w->words[1] = strdup("[UNK]"))) {
        zen__word_free(w);
        free(t);
        return zen__fail(ctx, "%s: out of memory", fn);
    }
    for (int64_t i = 0; i < n; i++) {
        int put = zen__strmap_put(&w->map, words[i], lens[i], (int32_t)(i + 2));
        if (put != 0) {
            zen__word_free(w);
            free(t);
            return zen__fail(ctx, put > 0 ? "%s: word \"%.40s\" appears twice in the vocabulary" : "%s: out of memory at \"%.40s\"",
                             fn, words[i]);
        }
        w->words[i + 2] = w->map.keys[w->map.n - 1];
    }
    w->max_tokens = max_tokens;
    t->kind = ZEN__TOK_WORD;
    t->vocab_size = n + 2;
    t->word = w;
    return t;
}

zen_tokenizer *zen_tokenizer_word_fit(zen_ctx *ctx, int64_t n, const char *const *texts, int64_t max_tokens) {
    const char *fn = "zen_tokenizer_word_fit";
    if (n < 1 || !texts) return zen__fail(ctx, "%s: no texts to fit on", fn);
    if (max_tokens != 0 && (max_tokens < 3 || max_tokens > INT32_MAX))
        return zen__fail(ctx, "%s: max_tokens is %lld; it counts the padding and [UNK] tokens, so it must be at least 3 "
                              "(or 0 for no limit)", fn, (long long)max_tokens);
    counter c = {0};
    char *buf = NULL;
    size_t buf_cap = 0;
    zen_tokenizer *t = NULL;
    entry *order = NULL;
    if (zen__strmap_init(&c.map, 4096) != 0) goto oom;
    for (int64_t i = 0; i < n; i++) {
        if (!texts[i]) {
            zen__fail(ctx, "%s: text %lld is NULL", fn, (long long)i);
            goto out;
        }
        size_t len = strlen(texts[i]);
        if (len + 1 > buf_cap) {
            free(buf);
            buf_cap = len + 1;
            if (!(buf = malloc(buf_cap))) goto oom;
        }
        if (each_word(texts[i], len, buf, count_word, &c) != 0) goto oom;
    }
    int64_t nw = c.map.n, keep = max_tokens ? max_tokens - 2 : nw;
    if (keep > nw) keep = nw;
    order = malloc((size_t)(nw ? nw : 1) * sizeof *order);
    if (!order) goto oom;
    for (int64_t i = 0; i < nw; i++) order[i] = (entry){c.counts[i], c.map.keys[i], c.map.lens[i]};
    qsort(order, (size_t)nw, sizeof *order, by_count);
    const char **words = malloc((size_t)(keep ? keep : 1) * sizeof *words);
    size_t *lens = malloc((size_t)(keep ? keep : 1) * sizeof *lens);
    if (!words || !lens) {
        free(words), free(lens);
        goto oom;
    }
    for (int64_t i = 0; i < keep; i++) words[i] = order[i].word, lens[i] = order[i].len;
    t = make(ctx, fn, keep, words, lens, max_tokens);
    free(words), free(lens);
    goto out;
oom:
    zen__fail(ctx, "%s: out of memory", fn);
out:
    free(buf);
    free(order);
    free(c.counts);
    zen__strmap_free(&c.map);
    return t;
}

typedef struct enc_state {
    const zen__word *w;
    zen__ids *out;
} enc_state;

static int encode_word(const char *word, size_t n, void *user) {
    enc_state *s = user;
    int32_t id = zen__strmap_get(&s->w->map, word, n);
    return zen__ids_push(s->out, id < 0 ? 1 : id);
}

int zen__word_encode(zen_ctx *ctx, const zen__word *w, const char *text, size_t len, zen__ids *out) {
    char *buf = malloc(len + 1);
    enc_state s = {w, out};
    if (!buf || each_word(text, len, buf, encode_word, &s) != 0) {
        free(buf);
        return zen__fail(ctx, "zen_tokenizer_encode: out of memory"), -1;
    }
    free(buf);
    return 0;
}

int zen__word_decode(zen_ctx *ctx, const zen__word *w, const int32_t *ids, int64_t n, zen__buf *out) {
    int64_t vocab = w->map.n + 2;
    bool first = true;
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= vocab)
            return zen__fail(ctx, "zen_tokenizer_decode: id %d at position %lld is outside the vocabulary [0, %lld)",
                             ids[i], (long long)i, (long long)vocab), -1;
        if (ids[i] == 0) continue;
        const char *word = w->words[ids[i]];
        if ((!first && zen__buf_add(out, " ", 1) != 0) || zen__buf_add(out, word, strlen(word)) != 0)
            return zen__fail(ctx, "zen_tokenizer_decode: out of memory"), -1;
        first = false;
    }
    return 0;
}

int32_t zen__word_token_id(const zen__word *w, const char *token, size_t len) {
    if (len == 0) return 0;
    if (len == 5 && !memcmp(token, "[UNK]", 5)) return 1;
    return zen__strmap_get(&w->map, token, len);
}

int zen__word_to_json(const zen__word *w, cJSON *obj) {
    cJSON *arr = cJSON_AddArrayToObject(obj, "vocabulary");
    if (!arr || !cJSON_AddNumberToObject(obj, "max_tokens", (double)w->max_tokens)) return -1;
    for (int64_t i = 0; i < w->map.n + 2; i++) {
        cJSON *s = cJSON_CreateString(w->words[i]);
        if (!s) return -1;
        cJSON_AddItemToArray(arr, s);
    }
    return 0;
}

zen_tokenizer *zen__word_from_json(zen_ctx *ctx, const cJSON *obj) {
    const char *fn = "zen_tokenizer_from_json";
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(obj, "vocabulary");
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(obj, "max_tokens");
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : -1;
    if (n < 2) return zen__fail(ctx, "%s: a word tokenizer needs \"vocabulary\": [\"\", \"[UNK]\", words...]", fn);
    const char **words = malloc((size_t)n * sizeof *words);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    if (!words || !lens) {
        free(words), free(lens);
        return zen__fail(ctx, "%s: out of memory", fn);
    }
    int i = 0;
    zen_tokenizer *t = NULL;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        const char *s = cJSON_GetStringValue(e);
        if (!s || (i == 0 && *s) || (i == 1 && strcmp(s, "[UNK]")) || (i >= 2 && !*s)) {
            zen__fail(ctx, "%s: vocabulary entry %d must be %s", fn, i,
                      i == 0 ? "\"\" (padding)" : i == 1 ? "\"[UNK]\"" : "a non-empty string");
            goto out;
        }
        words[i] = s;
        lens[i] = strlen(s);
    }
    int64_t max_tokens = cJSON_IsNumber(mt) ? (int64_t)mt->valuedouble : 0;
    t = make(ctx, fn, n - 2, words + 2, lens + 2, max_tokens);
out:
    free(words), free(lens);
    return t;
}
