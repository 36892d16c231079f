/* tokenizer_char.c — character-level tokens: the vocabulary is the sorted set of Unicode
 * code points of a text (UTF-8), token i the i-th smallest. */
#include "tokenizer.h"

#include <stdlib.h>

#define N_CODE_POINTS 0x110000u

zen_tokenizer *zen_tokenizer_char_fit(zen_ctx *ctx, const char *text, size_t len) {
    const char *fn = "zen_tokenizer_char_fit";
    if (!text) return zen__fail(ctx, "%s: text is NULL", fn);
    if (len == 0) return zen__fail(ctx, "%s: the text is empty", fn);
    uint8_t *seen = calloc(N_CODE_POINTS / 8, 1);
    if (!seen) return zen__fail(ctx, "%s: out of memory", fn);
    int64_t count = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = zen__utf8_decode((const unsigned char *)text + i, len - i, &cp);
        if (!k) {
            free(seen);
            return zen__fail(ctx, "%s: invalid UTF-8 at byte %zu (0x%02X)", fn, i, (unsigned char)text[i]);
        }
        if (!(seen[cp >> 3] & (1u << (cp & 7)))) seen[cp >> 3] |= (uint8_t)(1u << (cp & 7)), count++;
        i += (size_t)k;
    }
    zen_tokenizer *t = calloc(1, sizeof *t);
    uint32_t *cps = malloc((size_t)count * sizeof *cps);
    if (!t || !cps) {
        free(seen), free(t), free(cps);
        return zen__fail(ctx, "%s: out of memory", fn);
    }
    int64_t n = 0;
    for (uint32_t cp = 0; cp < N_CODE_POINTS; cp++)
        if (seen[cp >> 3] & (1u << (cp & 7))) cps[n++] = cp;
    free(seen);
    t->kind = ZEN__TOK_CHAR;
    t->vocab_size = n;
    t->code_points = cps;
    return t;
}

/* The id of cp, or -1. */
static int32_t find(const zen_tokenizer *t, uint32_t cp) {
    int64_t lo = 0, hi = t->vocab_size;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (t->code_points[mid] < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < t->vocab_size && t->code_points[lo] == cp ? (int32_t)lo : -1;
}

int32_t zen__char_token_id(const zen_tokenizer *t, const char *token, size_t len) {
    uint32_t cp;
    int k = len ? zen__utf8_decode((const unsigned char *)token, len, &cp) : 0;
    return k && (size_t)k == len ? find(t, cp) : -1;
}

int zen__char_encode(zen_ctx *ctx, const zen_tokenizer *t, const char *text, size_t len, zen__ids *out) {
    const char *fn = "zen_tokenizer_encode";
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int k = zen__utf8_decode((const unsigned char *)text + i, len - i, &cp);
        if (!k) return zen__fail(ctx, "%s: invalid UTF-8 at byte %zu (0x%02X)", fn, i, (unsigned char)text[i]), -1;
        int32_t id = find(t, cp);
        if (id < 0)
            return zen__fail(ctx, "%s: character U+%04X ('%.*s') at byte %zu is not in the vocabulary", fn, cp,
                             cp >= 0x20 ? k : 0, text + i, i), -1;
        if (zen__ids_push(out, id) != 0) return zen__fail(ctx, "%s: out of memory", fn), -1;
        i += (size_t)k;
    }
    return 0;
}

int zen__char_decode(zen_ctx *ctx, const zen_tokenizer *t, const int32_t *ids, int64_t n, zen__buf *out) {
    for (int64_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->vocab_size)
            return zen__fail(ctx, "zen_tokenizer_decode: id %d at position %lld is outside the vocabulary [0, %lld)",
                             ids[i], (long long)i, (long long)t->vocab_size), -1;
        char u[4];
        if (zen__buf_add(out, u, (size_t)zen__utf8_encode(t->code_points[ids[i]], u)) != 0)
            return zen__fail(ctx, "zen_tokenizer_decode: out of memory"), -1;
    }
    return 0;
}
