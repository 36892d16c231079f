/* tokenizer.c — the public tokenizer functions: each kind's encode/decode behind one
 * interface, fixed-length batches, and the JSON form that a model file's metadata holds. */
#include "tokenizer.h"

#include <stdlib.h>

static const char *kind_name[] = {"char", "gpt2", "word"};

const char *zen_tokenizer_type(const zen_tokenizer *tok) { return tok ? kind_name[tok->kind] : NULL; }
int64_t zen_tokenizer_vocab_size(const zen_tokenizer *tok) { return tok ? tok->vocab_size : -1; }

void zen_tokenizer_free(zen_tokenizer *tok) {
    if (!tok) return;
    free(tok->code_points);
    zen__gpt2_free(tok->gpt2);
    zen__word_free(tok->word);
    free(tok);
}

static int encode_into(zen_ctx *ctx, zen_tokenizer *tok, const char *text, size_t len, zen__ids *out) {
    switch (tok->kind) {
    case ZEN__TOK_CHAR: return zen__char_encode(ctx, tok, text, len, out);
    case ZEN__TOK_GPT2: return zen__gpt2_encode(ctx, tok->gpt2, text, len, out);
    case ZEN__TOK_WORD: return zen__word_encode(ctx, tok->word, text, len, out);
    }
    return -1;
}

int32_t *zen_tokenizer_encode(zen_ctx *ctx, zen_tokenizer *tok, const char *text, size_t len, int64_t *n) {
    if (n) *n = 0;
    if (!tok) return NULL;
    if (!n) return zen__fail(ctx, "zen_tokenizer_encode: n is NULL");
    if (!text && len) return zen__fail(ctx, "zen_tokenizer_encode: text is NULL");
    zen__ids out = {0};
    if (encode_into(ctx, tok, text, len, &out) != 0) {
        free(out.v);
        return NULL;
    }
    if (!out.v && !(out.v = malloc(sizeof *out.v))) /* an empty text still gets a buffer to free */
        return zen__fail(ctx, "zen_tokenizer_encode: out of memory");
    *n = out.n;
    return out.v;
}

char *zen_tokenizer_decode(zen_ctx *ctx, const zen_tokenizer *tok, const int32_t *ids, int64_t n, size_t *len) {
    if (len) *len = 0;
    if (!tok) return NULL;
    if (n < 0 || (n && !ids)) return zen__fail(ctx, "zen_tokenizer_decode: no ids (n %lld)", (long long)n);
    zen__buf b = {0};
    int rc = zen__buf_add(&b, "", 0);
    if (rc == 0) {
        switch (tok->kind) {
        case ZEN__TOK_CHAR: rc = zen__char_decode(ctx, tok, ids, n, &b); break;
        case ZEN__TOK_GPT2: rc = zen__gpt2_decode(ctx, tok->gpt2, ids, n, &b); break;
        case ZEN__TOK_WORD: rc = zen__word_decode(ctx, tok->word, ids, n, &b); break;
        }
    } else {
        zen__fail(ctx, "zen_tokenizer_decode: out of memory");
    }
    if (rc != 0) {
        free(b.p);
        return NULL;
    }
    if (len) *len = b.n;
    return b.p;
}

int32_t zen_tokenizer_token_id(const zen_tokenizer *tok, const char *token) {
    if (!tok || !token) return -1;
    size_t len = strlen(token);
    switch (tok->kind) {
    case ZEN__TOK_CHAR: return zen__char_token_id(tok, token, len);
    case ZEN__TOK_GPT2: return zen__gpt2_token_id(tok->gpt2, token, len);
    case ZEN__TOK_WORD: return zen__word_token_id(tok->word, token, len);
    }
    return -1;
}

zen_array *zen_tokenizer_encode_batch(zen_ctx *ctx, zen_tokenizer *tok, int64_t n, const char *const *texts,
                                      int64_t length) {
    const char *fn = "zen_tokenizer_encode_batch";
    if (!tok) return NULL;
    if (n < 1 || !texts) return zen__fail(ctx, "%s: no texts", fn);
    if (length < 1) return zen__fail(ctx, "%s: length is %lld; it must be positive", fn, (long long)length);
    zen_array *a = zen_array_new(ctx, ZEN_I32, 2, (int64_t[]){n, length});
    if (!a) return NULL;
    zen__ids ids = {0};
    for (int64_t i = 0; i < n; i++) {
        if (!texts[i]) {
            zen__fail(ctx, "%s: text %lld is NULL", fn, (long long)i);
            goto fail;
        }
        ids.n = 0;
        if (encode_into(ctx, tok, texts[i], strlen(texts[i]), &ids) != 0) goto fail;
        int64_t k = ids.n < length ? ids.n : length;
        memcpy((int32_t *)a->data + i * length, ids.v, (size_t)k * sizeof(int32_t)); /* the rest stays 0 */
    }
    free(ids.v);
    return a;
fail:
    free(ids.v);
    zen_array_free(a);
    return NULL;
}

char *zen_tokenizer_to_json(zen_ctx *ctx, const zen_tokenizer *tok) {
    if (!tok) return NULL;
    cJSON *o = cJSON_CreateObject();
    bool ok = o && cJSON_AddStringToObject(o, "type", kind_name[tok->kind]) &&
              cJSON_AddNumberToObject(o, "vocab_size", (double)tok->vocab_size);
    if (ok && tok->kind == ZEN__TOK_CHAR) {
        cJSON *arr = cJSON_AddArrayToObject(o, "code_points");
        for (int64_t i = 0; ok && i < tok->vocab_size; i++) {
            cJSON *v = arr ? cJSON_CreateNumber(tok->code_points[i]) : NULL;
            ok = v && cJSON_AddItemToArray(arr, v);
        }
    }
    if (ok && tok->kind == ZEN__TOK_WORD) ok = zen__word_to_json(tok->word, o) == 0;
    char *s = ok ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    if (!s) return zen__fail(ctx, "zen_tokenizer_to_json: out of memory");
    return s;
}

static zen_tokenizer *char_from_json(zen_ctx *ctx, const cJSON *o) {
    const char *fn = "zen_tokenizer_from_json";
    const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, "code_points");
    int n = cJSON_IsArray(arr) ? cJSON_GetArraySize(arr) : 0;
    if (n < 1) return zen__fail(ctx, "%s: a char tokenizer needs \"code_points\": a non-empty array", fn);
    zen_tokenizer *t = calloc(1, sizeof *t);
    uint32_t *cps = malloc((size_t)n * sizeof *cps);
    if (!t || !cps) {
        free(t), free(cps);
        return zen__fail(ctx, "%s: out of memory", fn);
    }
    int i = 0;
    for (const cJSON *e = arr->child; e; e = e->next, i++) {
        double v = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(v >= 0 && v <= 0x10FFFF && v == (double)(uint32_t)v) || (v >= 0xD800 && v <= 0xDFFF) ||
            (i && (uint32_t)v <= cps[i - 1])) {
            free(t), free(cps);
            return zen__fail(ctx, "%s: code_points[%d] must be a Unicode scalar value greater than the one before", fn, i);
        }
        cps[i] = (uint32_t)v;
    }
    t->kind = ZEN__TOK_CHAR;
    t->vocab_size = n;
    t->code_points = cps;
    return t;
}

zen_tokenizer *zen_tokenizer_from_json(zen_ctx *ctx, const char *json) {
    const char *fn = "zen_tokenizer_from_json";
    if (!json) return zen__fail(ctx, "%s: json is NULL", fn);
    cJSON *o = cJSON_Parse(json);
    if (!o) return zen__fail(ctx, "%s: not valid JSON", fn);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "type"));
    zen_tokenizer *t = NULL;
    if (!cJSON_IsObject(o) || !type) zen__fail(ctx, "%s: expected an object with a \"type\"", fn);
    else if (!strcmp(type, "char")) t = char_from_json(ctx, o);
    else if (!strcmp(type, "word")) t = zen__word_from_json(ctx, o);
    else if (!strcmp(type, "gpt2")) t = zen_tokenizer_gpt2_load(ctx, NULL);
    else zen__fail(ctx, "%s: unknown tokenizer type \"%.40s\" (char, gpt2, word)", fn, type);
    const cJSON *vs = cJSON_GetObjectItemCaseSensitive(o, "vocab_size");
    if (t && cJSON_IsNumber(vs) && vs->valuedouble != (double)t->vocab_size) {
        zen__fail(ctx, "%s: vocab_size is %.0f but the %s tokenizer has %lld tokens", fn, vs->valuedouble, type,
                  (long long)t->vocab_size);
        zen_tokenizer_free(t);
        t = NULL;
    }
    cJSON_Delete(o);
    return t;
}
