/*
 * tokenizer.h — what the tokenizers (src/data/tokenizer*.c) share: the zen_tokenizer object
 * with one part per kind, UTF-8 decoding, a string->id hash map, and the kinds' functions
 * that tokenizer.c dispatches to.
 */
#ifndef ZEN_TOKENIZER_H
#define ZEN_TOKENIZER_H

#include "data.h"

#include <cjson/cJSON.h>

typedef enum zen__tok_kind { ZEN__TOK_CHAR, ZEN__TOK_GPT2, ZEN__TOK_WORD } zen__tok_kind;

/* Byte strings -> ids, open addressing (keys are copied into the map's arena). */
typedef struct zen__strmap {
    uint64_t cap;    /* slots, a power of two, at least twice the entries */
    int64_t *slots;  /* entry index + 1; 0: empty */
    char **keys;     /* entries: key bytes (NUL-terminated copies; keys may hold NULs) */
    uint32_t *lens;
    int32_t *ids;
    int64_t n, ncap; /* entries, room */
} zen__strmap;

int zen__strmap_init(zen__strmap *m, uint64_t expect);
void zen__strmap_free(zen__strmap *m);
/* Adds key -> id; returns 0, 1 if key was already there (the map is unchanged), -1 on OOM. */
int zen__strmap_put(zen__strmap *m, const char *key, size_t len, int32_t id);
/* The id of key, or -1. */
int32_t zen__strmap_get(const zen__strmap *m, const char *key, size_t len);
uint64_t zen__hash_bytes(const void *p, size_t n);

/* UTF-8: decodes one code point at s[0..n) (n >= 1). Returns its length in bytes (1..4) and
 * sets *cp, or returns 0 for an invalid sequence (overlong, surrogate, > U+10FFFF, cut off,
 * stray continuation byte). */
int zen__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Writes cp as UTF-8 into out (4 bytes room); returns its length. */
int zen__utf8_encode(uint32_t cp, char *out);

/* Unicode classes for the GPT-2 pre-tokenizer (tables generated from unicodedata). */
bool zen__uni_is_letter(uint32_t cp);
bool zen__uni_is_number(uint32_t cp);
/* JavaScript's \s: WhiteSpace and LineTerminator (ECMAScript), the reference's \s. */
bool zen__uni_is_space(uint32_t cp);

/* A growable list of ids. */
typedef struct zen__ids {
    int32_t *v;
    int64_t n, cap;
} zen__ids;
int zen__ids_push(zen__ids *l, int32_t id);

typedef struct zen__gpt2 zen__gpt2;
typedef struct zen__word zen__word;

struct zen_tokenizer {
    zen__tok_kind kind;
    int64_t vocab_size;
    /* char: code_points[i] is token i (sorted); lookup by binary search */
    uint32_t *code_points;
    zen__gpt2 *gpt2;
    zen__word *word;
};

/* Each kind's encode appends to out; decode appends bytes to a growing buffer. */
int zen__char_encode(zen_ctx *ctx, const zen_tokenizer *t, const char *text, size_t len, zen__ids *out);
int zen__gpt2_encode(zen_ctx *ctx, zen__gpt2 *g, const char *text, size_t len, zen__ids *out);
int zen__word_encode(zen_ctx *ctx, const zen__word *w, const char *text, size_t len, zen__ids *out);

typedef struct zen__buf {
    char *p;
    size_t n, cap;
} zen__buf;
int zen__buf_add(zen__buf *b, const void *data, size_t n);

int zen__char_decode(zen_ctx *ctx, const zen_tokenizer *t, const int32_t *ids, int64_t n, zen__buf *out);
int zen__gpt2_decode(zen_ctx *ctx, const zen__gpt2 *g, const int32_t *ids, int64_t n, zen__buf *out);
int zen__word_decode(zen_ctx *ctx, const zen__word *w, const int32_t *ids, int64_t n, zen__buf *out);

int32_t zen__char_token_id(const zen_tokenizer *t, const char *token, size_t len);
int32_t zen__gpt2_token_id(const zen__gpt2 *g, const char *token, size_t len);
int32_t zen__word_token_id(const zen__word *w, const char *token, size_t len);
void zen__gpt2_free(zen__gpt2 *g);
void zen__word_free(zen__word *w);

/* JSON parts: the kind-specific fields of {"type": ..., ...}. */
int zen__word_to_json(const zen__word *w, cJSON *obj);
zen_tokenizer *zen__word_from_json(zen_ctx *ctx, const cJSON *obj);

/* The GPT-2 pre-tokenizer: the end (exclusive) of the piece starting at text[pos], as
 * the regex 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * would match it. Bytes that are not valid UTF-8 count as characters of their own, in
 * none of the classes. Exposed for the tests. */
size_t zen__gpt2_piece_end(const char *text, size_t len, size_t pos);
/* For the tests: the cache's size limit (in ids; it is emptied when over it), and its entries. */
void zen__gpt2_set_cache_limit(zen_tokenizer *t, int64_t max_ids);
int64_t zen__gpt2_cache_entries(const zen_tokenizer *t);

/* The default data directory (ZEN_DATA_DIR, else $XDG_CACHE_HOME/zen/datasets, else
 * $HOME/.cache/zen/datasets) joined with name; -1 (and an error naming fn) if it does not fit. */
int zen__data_path(zen_ctx *ctx, const char *fn, const char *name, char *buf, size_t size);
/* A whole text file (plain or gzip), NUL-terminated, *len bytes; errors start with fn. */
char *zen__load_text(zen_ctx *ctx, const char *fn, const char *path, size_t *len);

#endif /* ZEN_TOKENIZER_H */
