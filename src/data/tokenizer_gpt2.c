/* tokenizer_gpt2.c — GPT-2's byte-level BPE: encoder.json (token -> id) and vocab.bpe (the
 * merges, by rank), merges by rank on each piece of the pre-tokenizer with a cache of
 * pieces already seen, and decoding back to bytes.
 *
 * Tokens are kept as raw bytes: encoder.json spells each byte as a printable character
 * (bytes_to_unicode: printable Latin-1 bytes stand for themselves, the other 68 bytes are
 * U+0100..U+0143 in order), which is undone when the files are read. Every merge of
 * vocab.bpe joins two tokens into a third, so BPE runs on token ids: the merge table maps
 * a pair of ids to (rank, merged id). The pre-tokenizer is in tokenizer_gpt2_regex.c. */
#include "tokenizer.h"

#include <errno.h>
#include <stdlib.h>

#define CACHE_MAX_IDS (1 << 20) /* the cache is emptied when it holds more ids than this */

typedef struct merge_slot {
    uint64_t key; /* (a << 32 | b) + 1; 0: empty */
    int32_t rank, merged;
} merge_slot;

struct zen__gpt2 {
    int32_t byte_id[256];  /* the token of each single byte */
    zen__strmap vocab;     /* token bytes -> id */
    char **tok;            /* id -> token bytes */
    uint32_t *tok_len;
    merge_slot *merges;
    uint64_t merges_cap;   /* power of two */
    int64_t nmerges;
    /* cache: piece bytes -> entry; entry e's ids are pool[cache_at[e] .. + cache_n[e]) */
    zen__strmap cache;
    zen__ids pool;
    int64_t *cache_at, *cache_n;
    int64_t cache_cap;
    int64_t cache_max_ids; /* CACHE_MAX_IDS; smaller in tests */
    zen__ids word, next;   /* BPE scratch */
};

/* bytes_to_unicode of GPT-2's encoder.py: byte -> code point, and back. */
static void byte_alphabet(uint32_t cp_of[256], int16_t byte_of[0x144]) {
    int n = 0;
    for (int b = 0; b < 256; b++) {
        bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        cp_of[b] = printable ? (uint32_t)b : (uint32_t)(256 + n++);
    }
    for (int c = 0; c < 0x144; c++) byte_of[c] = -1;
    for (int b = 0; b < 256; b++) byte_of[cp_of[b]] = (int16_t)b;
}

/* A token as spelled in encoder.json / vocab.bpe -> its bytes (at most len of them). Returns
 * the byte count, or -1 when a character is not one of the 256 of the byte alphabet. */
static long unspell(const int16_t *byte_of, const char *s, size_t len, char *out) {
    long n = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = zen__utf8_decode((const unsigned char *)s + i, len - i, &cp);
        if (!k || cp >= 0x144 || byte_of[cp] < 0) return -1;
        out[n++] = (char)byte_of[cp];
        i += (size_t)k;
    }
    return n;
}

void zen__gpt2_free(zen__gpt2 *g) {
    if (!g) return;
    zen__strmap_free(&g->vocab);
    free(g->tok);
    free(g->tok_len);
    free(g->merges);
    zen__strmap_free(&g->cache);
    free(g->pool.v);
    free(g->cache_at);
    free(g->cache_n);
    free(g->word.v);
    free(g->next.v);
    free(g);
}

static merge_slot *merge_find(const zen__gpt2 *g, int32_t a, int32_t b) {
    uint64_t key = (((uint64_t)(uint32_t)a << 32) | (uint32_t)b) + 1, mask = g->merges_cap - 1;
    for (uint64_t i = zen__hash_bytes(&key, sizeof key) & mask;; i = (i + 1) & mask)
        if (g->merges[i].key == key || g->merges[i].key == 0) return &g->merges[i];
}

/* encoder.json: an object of token -> id with ids 0..n-1, each once. */
static int load_encoder(zen_ctx *ctx, zen__gpt2 *g, const char *path, const int16_t *byte_of) {
    const char *fn = "zen_tokenizer_gpt2_load";
    size_t len;
    char *text = zen__load_text(ctx, fn, path, &len);
    if (!text) return -1;
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        long off = at && at >= text && at <= text + len ? (long)(at - text) : -1;
        free(text);
        return zen__fail(ctx, "%s: %s: not valid JSON (near byte %ld)", fn, path, off), -1;
    }
    free(text);
    int rc = -1;
    int n = cJSON_IsObject(root) ? cJSON_GetArraySize(root) : 0;
    if (n < 256) {
        zen__fail(ctx, "%s: %s: expected an object of at least 256 token -> id entries", fn, path);
        goto out;
    }
    g->tok = calloc((size_t)n, sizeof *g->tok);
    g->tok_len = calloc((size_t)n, sizeof *g->tok_len);
    if (!g->tok || !g->tok_len || zen__strmap_init(&g->vocab, (uint64_t)n) != 0) {
        zen__fail(ctx, "%s: out of memory", fn);
        goto out;
    }
    for (int b = 0; b < 256; b++) g->byte_id[b] = -1;
    for (cJSON *e = root->child; e; e = e->next) {
        const char *key = e->string;
        size_t klen = strlen(key);
        char bytes[1024];
        long nb = klen < sizeof bytes ? unspell(byte_of, key, klen, bytes) : -1;
        if (nb <= 0) {
            zen__fail(ctx, "%s: %s: token \"%.40s\" is empty, too long or not in GPT-2's byte alphabet", fn, path, key);
            goto out;
        }
        double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (v < 0 || v >= n || v != (double)(int32_t)v) {
            zen__fail(ctx, "%s: %s: token \"%.40s\" has id %s; ids must be integers in [0, %d)", fn, path, key,
                      cJSON_IsNumber(e) ? "out of range" : "that is not a number", n);
            goto out;
        }
        int32_t id = (int32_t)v;
        if (g->tok[id]) {
            zen__fail(ctx, "%s: %s: id %d is given to two tokens", fn, path, id);
            goto out;
        }
        int put = zen__strmap_put(&g->vocab, bytes, (size_t)nb, id);
        if (put != 0) {
            zen__fail(ctx, put > 0 ? "%s: %s: token \"%.40s\" appears twice" : "%s: %s: out of memory at \"%.40s\"", fn,
                      path, key);
            goto out;
        }
        g->tok[id] = g->vocab.keys[g->vocab.n - 1];
        g->tok_len[id] = (uint32_t)nb;
        if (nb == 1) g->byte_id[(unsigned char)bytes[0]] = id;
    }
    for (int b = 0; b < 256; b++)
        if (g->byte_id[b] < 0) {
            zen__fail(ctx, "%s: %s: byte 0x%02X has no token (every byte needs one)", fn, path, b);
            goto out;
        }
    rc = 0;
out:
    cJSON_Delete(root);
    return rc;
}

/* vocab.bpe: "#version: ..." then one merge "a b" per line, in rank order. */
static int load_merges(zen_ctx *ctx, zen__gpt2 *g, const char *path, const int16_t *byte_of) {
    const char *fn = "zen_tokenizer_gpt2_load";
    size_t len;
    char *text = zen__load_text(ctx, fn, path, &len);
    if (!text) return -1;
    int64_t lines = 1;
    for (size_t i = 0; i < len; i++) lines += text[i] == '\n';
    g->merges_cap = 16;
    while (g->merges_cap < 2 * (uint64_t)lines) g->merges_cap *= 2;
    g->merges = calloc(g->merges_cap, sizeof *g->merges);
    if (!g->merges) {
        free(text);
        return zen__fail(ctx, "%s: out of memory", fn), -1;
    }
    int rc = -1;
    int64_t line = 0;
    for (char *p = text, *end = text + len; p < end;) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *e = nl ? nl : end;
        line++;
        if (e > p && e[-1] == '\r') e[-1] = ' ';
        if (line == 1 && !strncmp(p, "#version", 8)) goto next;
        char *a = p, *ae, *b, *be;
        while (a < e && (*a == ' ' || *a == '\t')) a++;
        if (a == e) goto next; /* blank line (the last one ends with \n) */
        for (ae = a; ae < e && *ae != ' ' && *ae != '\t';) ae++;
        for (b = ae; b < e && (*b == ' ' || *b == '\t');) b++;
        for (be = b; be < e && *be != ' ' && *be != '\t';) be++;
        char *rest = be;
        while (rest < e && (*rest == ' ' || *rest == '\t')) rest++;
        if (b == e || rest != e) {
            zen__fail(ctx, "%s: %s: line %lld: a merge is two tokens separated by a space, got \"%.*s\"", fn, path,
                      (long long)line, (int)(e - p < 60 ? e - p : 60), p);
            goto out;
        }
        char ab[2048];
        long na = ae - a < 1000 ? unspell(byte_of, a, (size_t)(ae - a), ab) : -1;
        long nb = na > 0 && be - b < 1000 ? unspell(byte_of, b, (size_t)(be - b), ab + na) : -1;
        int32_t ia = na > 0 ? zen__strmap_get(&g->vocab, ab, (size_t)na) : -1;
        int32_t ib = nb > 0 ? zen__strmap_get(&g->vocab, ab + na, (size_t)nb) : -1;
        int32_t im = ia >= 0 && ib >= 0 ? zen__strmap_get(&g->vocab, ab, (size_t)(na + nb)) : -1;
        if (im < 0) {
            zen__fail(ctx, "%s: %s: line %lld: merge \"%.*s\" joins tokens that are not all in encoder.json", fn, path,
                      (long long)line, (int)(be - a < 60 ? be - a : 60), a);
            goto out;
        }
        merge_slot *s = merge_find(g, ia, ib);
        if (s->key) {
            zen__fail(ctx, "%s: %s: line %lld: merge \"%.*s\" appears twice", fn, path, (long long)line,
                      (int)(be - a < 60 ? be - a : 60), a);
            goto out;
        }
        s->key = (((uint64_t)(uint32_t)ia << 32) | (uint32_t)ib) + 1;
        s->rank = (int32_t)g->nmerges++;
        s->merged = im;
    next:
        p = nl ? nl + 1 : end;
    }
    if (g->nmerges == 0) {
        zen__fail(ctx, "%s: %s: no merges", fn, path);
        goto out;
    }
    rc = 0;
out:
    free(text);
    return rc;
}

zen_tokenizer *zen_tokenizer_gpt2_load(zen_ctx *ctx, const char *dir) {
    const char *fn = "zen_tokenizer_gpt2_load";
    char base[4096], enc[4200], bpe[4200];
    if (!dir) {
        if (zen__data_path(ctx, fn, "gpt2", base, sizeof base) != 0) return NULL;
        dir = base;
    }
    snprintf(enc, sizeof enc, "%s/encoder.json", dir);
    snprintf(bpe, sizeof bpe, "%s/vocab.bpe", dir);
    FILE *probe = fopen(enc, "rb");
    if (!probe)
        return zen__fail(ctx, "%s: %s: cannot open: %s (scripts/fetch_data.sh gpt2-bpe fetches GPT-2's files)", fn,
                         enc, strerror(errno));
    fclose(probe);
    uint32_t cp_of[256];
    int16_t byte_of[0x144];
    byte_alphabet(cp_of, byte_of);
    zen__gpt2 *g = calloc(1, sizeof *g);
    zen_tokenizer *t = calloc(1, sizeof *t);
    if (!g || !t || zen__strmap_init(&g->cache, 1024) != 0) {
        zen__gpt2_free(g);
        free(t);
        return zen__fail(ctx, "%s: out of memory", fn);
    }
    if (load_encoder(ctx, g, enc, byte_of) != 0 || load_merges(ctx, g, bpe, byte_of) != 0) {
        zen__gpt2_free(g);
        free(t);
        return NULL;
    }
    g->cache_max_ids = CACHE_MAX_IDS;
    t->kind = ZEN__TOK_GPT2;
    t->vocab_size = g->vocab.n;
    t->gpt2 = g;
    return t;
}

/* ---- BPE ---- */

/* Merges the bytes of one piece into tokens, appended to out. */
static int bpe(zen__gpt2 *g, const unsigned char *s, size_t n, zen__ids *out) {
    zen__ids *w = &g->word, *nx = &g->next;
    w->n = 0;
    for (size_t i = 0; i < n; i++)
        if (zen__ids_push(w, g->byte_id[s[i]]) != 0) return -1;
    while (w->n > 1) {
        int32_t best = INT32_MAX, a = -1, b = -1, merged = -1;
        for (int64_t i = 0; i + 1 < w->n; i++) {
            merge_slot *m = merge_find(g, w->v[i], w->v[i + 1]);
            if (m->key && m->rank < best) best = m->rank, a = w->v[i], b = w->v[i + 1], merged = m->merged;
        }
        if (a < 0) break;
        nx->n = 0;
        for (int64_t i = 0; i < w->n;) {
            if (i + 1 < w->n && w->v[i] == a && w->v[i + 1] == b) {
                if (zen__ids_push(nx, merged) != 0) return -1;
                i += 2;
            } else {
                if (zen__ids_push(nx, w->v[i]) != 0) return -1;
                i++;
            }
        }
        zen__ids tmp = *w;
        *w = *nx;
        *nx = tmp;
    }
    for (int64_t i = 0; i < w->n; i++)
        if (zen__ids_push(out, w->v[i]) != 0) return -1;
    return 0;
}

static void cache_clear(zen__gpt2 *g) {
    zen__strmap_free(&g->cache);
    zen__strmap_init(&g->cache, 1024);
    g->pool.n = 0;
}

/* The tokens of one piece: from the cache, or merged and remembered. */
static int piece(zen__gpt2 *g, const char *s, size_t n, zen__ids *out) {
    if (n == 1) return zen__ids_push(out, g->byte_id[(unsigned char)s[0]]);
    int32_t e = g->cache.slots ? zen__strmap_get(&g->cache, s, n) : -1;
    if (e >= 0) {
        for (int64_t i = 0; i < g->cache_n[e]; i++)
            if (zen__ids_push(out, g->pool.v[g->cache_at[e] + i]) != 0) return -1;
        return 0;
    }
    int64_t start = out->n;
    if (bpe(g, (const unsigned char *)s, n, out) != 0) return -1;
    if (g->pool.n > g->cache_max_ids || g->cache.n >= INT32_MAX / 2) cache_clear(g);
    if (!g->cache.slots) return 0;
    int64_t ne = g->cache.n;
    if (ne == g->cache_cap) {
        int64_t nc = g->cache_cap ? 2 * g->cache_cap : 1024;
        int64_t *at = realloc(g->cache_at, (size_t)nc * sizeof *at);
        if (at) g->cache_at = at;
        int64_t *cn = realloc(g->cache_n, (size_t)nc * sizeof *cn);
        if (cn) g->cache_n = cn;
        if (!at || !cn) return 0; /* no room to remember: still a correct result */
        g->cache_cap = nc;
    }
    int64_t at = g->pool.n;
    for (int64_t i = start; i < out->n; i++)
        if (zen__ids_push(&g->pool, out->v[i]) != 0) {
            g->pool.n = at;
            return 0;
        }
    if (zen__strmap_put(&g->cache, s, n, (int32_t)ne) != 0) {
        g->pool.n = at;
        return 0;
    }
    g->cache_at[ne] = at;
    g->cache_n[ne] = out->n - start;
    return 0;
}

int zen__gpt2_encode(zen_ctx *ctx, zen__gpt2 *g, const char *text, size_t len, zen__ids *out) {
    for (size_t pos = 0; pos < len;) {
        size_t end = zen__gpt2_piece_end(text, len, pos);
        if (piece(g, text + pos, end - pos, out) != 0)
            return zen__fail(ctx, "zen_tokenizer_encode: out of memory"), -1;
        pos = end;
    }
    return 0;
}

int zen__gpt2_decode(zen_ctx *ctx, const zen__gpt2 *g, const int32_t *ids, int64_t n, zen__buf *out) {
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= g->vocab.n)
            return zen__fail(ctx, "zen_tokenizer_decode: id %d at position %lld is outside the vocabulary [0, %lld)",
                             ids[i], (long long)i, (long long)g->vocab.n), -1;
        if (zen__buf_add(out, g->tok[ids[i]], g->tok_len[ids[i]]) != 0)
            return zen__fail(ctx, "zen_tokenizer_decode: out of memory"), -1;
    }
    return 0;
}

void zen__gpt2_set_cache_limit(zen_tokenizer *t, int64_t max_ids) {
    if (t && t->gpt2) t->gpt2->cache_max_ids = max_ids;
}

int64_t zen__gpt2_cache_entries(const zen_tokenizer *t) { return t && t->gpt2 ? t->gpt2->cache.n : -1; }

int32_t zen__gpt2_token_id(const zen__gpt2 *g, const char *token, size_t len) {
    return zen__strmap_get(&g->vocab, token, len);
}
