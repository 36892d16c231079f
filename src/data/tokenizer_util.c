/* tokenizer_util.c — small pieces the tokenizers share: a byte-string hash map, UTF-8
 * decoding and encoding, the Unicode classes of the GPT-2 pre-tokenizer, growable id lists
 * and byte buffers, and the default data directory. */
#include "tokenizer.h"
#include "unicode_tables.h"

#include <stdlib.h>

uint64_t zen__hash_bytes(const void *p, size_t n) {
    /* FNV-1a, then a final mix so the low bits (the slot) depend on every byte */
    const unsigned char *s = p;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

int zen__strmap_init(zen__strmap *m, uint64_t expect) {
    memset(m, 0, sizeof *m);
    uint64_t cap = 16;
    while (cap < 2 * expect) cap *= 2;
    m->slots = calloc(cap, sizeof *m->slots);
    if (!m->slots) return -1;
    m->cap = cap;
    return 0;
}

void zen__strmap_free(zen__strmap *m) {
    for (int64_t i = 0; i < m->n; i++) free(m->keys[i]);
    free(m->keys);
    free(m->lens);
    free(m->ids);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* The slot holding key, or the empty slot where it would go. */
static uint64_t find_slot(const zen__strmap *m, const char *key, size_t len) {
    uint64_t mask = m->cap - 1, i = zen__hash_bytes(key, len) & mask;
    for (;; i = (i + 1) & mask) {
        int64_t e = m->slots[i] - 1;
        if (e < 0 || (m->lens[e] == len && !memcmp(m->keys[e], key, len))) return i;
    }
}

static int grow(zen__strmap *m) {
    uint64_t ncap = m->cap * 2;
    int64_t *ns = calloc(ncap, sizeof *ns);
    if (!ns) return -1;
    free(m->slots);
    m->slots = ns;
    m->cap = ncap;
    for (int64_t e = 0; e < m->n; e++) m->slots[find_slot(m, m->keys[e], m->lens[e])] = e + 1;
    return 0;
}

int zen__strmap_put(zen__strmap *m, const char *key, size_t len, int32_t id) {
    if (len > UINT32_MAX) return -1;
    uint64_t s = find_slot(m, key, len);
    if (m->slots[s]) return 1;
    /* grow first, so that a failure leaves the map as it was */
    if ((uint64_t)(m->n + 1) * 2 > m->cap) {
        if (grow(m) != 0) return -1;
        s = find_slot(m, key, len);
    }
    if (m->n == m->ncap) {
        int64_t nc = m->ncap ? 2 * m->ncap : 64;
        char **k = realloc(m->keys, (size_t)nc * sizeof *k);
        if (k) m->keys = k;
        uint32_t *l = realloc(m->lens, (size_t)nc * sizeof *l);
        if (l) m->lens = l;
        int32_t *d = realloc(m->ids, (size_t)nc * sizeof *d);
        if (d) m->ids = d;
        if (!k || !l || !d) return -1;
        m->ncap = nc;
    }
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, key, len);
    copy[len] = 0;
    m->keys[m->n] = copy;
    m->lens[m->n] = (uint32_t)len;
    m->ids[m->n] = id;
    m->slots[s] = ++m->n;
    return 0;
}

int32_t zen__strmap_get(const zen__strmap *m, const char *key, size_t len) {
    if (!m->slots) return -1;
    int64_t e = m->slots[find_slot(m, key, len)] - 1;
    return e < 0 ? -1 : m->ids[e];
}

int zen__utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
    unsigned c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int len;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else return 0; /* continuation byte, C0/C1 (overlong) or F5..FF */
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
    *cp = v;
    return len;
}

int zen__utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

static bool in_ranges(const uint32_t (*r)[2], size_t n, uint32_t cp) {
    size_t lo = 0, hi = n; /* the first range with r[i][1] >= cp is in [lo, hi) */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r[mid][1] < cp) lo = mid + 1;
        else hi = mid;
    }
    return lo < n && r[lo][0] <= cp;
}

bool zen__uni_is_letter(uint32_t cp) {
    if (cp < 0x80) return (cp | 0x20) >= 'a' && (cp | 0x20) <= 'z';
    return in_ranges(zen__uni_letters, sizeof zen__uni_letters / sizeof *zen__uni_letters, cp);
}

bool zen__uni_is_number(uint32_t cp) {
    if (cp < 0x80) return cp >= '0' && cp <= '9';
    return in_ranges(zen__uni_numbers, sizeof zen__uni_numbers / sizeof *zen__uni_numbers, cp);
}

bool zen__uni_is_space(uint32_t cp) {
    /* ECMAScript WhiteSpace (TAB VT FF SP NBSP ZWNBSP and category Zs) + LineTerminator */
    switch (cp) {
    case 0x09: case 0x0A: case 0x0B: case 0x0C: case 0x0D: case 0x20: case 0xA0: case 0x1680:
    case 0x2028: case 0x2029: case 0x202F: case 0x205F: case 0x3000: case 0xFEFF:
        return true;
    default:
        return cp >= 0x2000 && cp <= 0x200A;
    }
}

int zen__ids_push(zen__ids *l, int32_t id) {
    if (l->n == l->cap) {
        int64_t nc = l->cap ? 2 * l->cap : 256;
        int32_t *v = realloc(l->v, (size_t)nc * sizeof *v);
        if (!v) return -1;
        l->v = v;
        l->cap = nc;
    }
    l->v[l->n++] = id;
    return 0;
}

int zen__buf_add(zen__buf *b, const void *data, size_t n) {
    if (b->n + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap : 256;
        while (nc < b->n + n + 1) nc *= 2;
        char *p = realloc(b->p, nc);
        if (!p) return -1;
        b->p = p;
        b->cap = nc;
    }
    if (n) memcpy(b->p + b->n, data, n);
    b->n += n;
    b->p[b->n] = 0;
    return 0;
}

int zen__data_path(zen_ctx *ctx, const char *fn, const char *name, char *buf, size_t size) {
    const char *env = getenv("ZEN_DATA_DIR"), *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    int n;
    if (env && *env) n = snprintf(buf, size, "%s/%s", env, name);
    else if (xdg && *xdg) n = snprintf(buf, size, "%s/zen/datasets/%s", xdg, name);
    else if (home && *home) n = snprintf(buf, size, "%s/.cache/zen/datasets/%s", home, name);
    else return zen__fail(ctx, "%s: no data directory: set ZEN_DATA_DIR (or HOME)", fn), -1;
    if (n < 0 || (size_t)n >= size) return zen__fail(ctx, "%s: the data directory's path is too long", fn), -1;
    return 0;
}
