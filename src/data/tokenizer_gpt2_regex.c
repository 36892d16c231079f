/* tokenizer_gpt2_regex.c — GPT-2's pre-tokenizer, the regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * written out by hand: at each position the first alternative that matches wins, as in a
 * backtracking regex engine. \s is JavaScript's (the reference encoder's), \p{L} and \p{N}
 * come from unicode_tables.h. */
#include "tokenizer.h"

enum { C_LETTER, C_NUMBER, C_SPACE, C_OTHER };

/* The class of the character at text[pos] and its length in bytes (an invalid byte is a
 * character of its own, class C_OTHER). */
static int char_at(const char *text, size_t len, size_t pos, int *cls, uint32_t *cpo) {
    uint32_t cp = 0xFFFFFFFF;
    int k = zen__utf8_decode((const unsigned char *)text + pos, len - pos, &cp);
    if (!k) {
        *cls = C_OTHER;
        *cpo = cp;
        return 1;
    }
    *cls = zen__uni_is_letter(cp) ? C_LETTER : zen__uni_is_number(cp) ? C_NUMBER : zen__uni_is_space(cp) ? C_SPACE
                                                                                                           : C_OTHER;
    *cpo = cp;
    return k;
}

/* The end of the run of class cls starting at pos. */
static size_t run_end(const char *text, size_t len, size_t pos, int cls) {
    while (pos < len) {
        int c;
        uint32_t cp;
        int k = char_at(text, len, pos, &c, &cp);
        if (c != cls) break;
        pos += (size_t)k;
    }
    return pos;
}

size_t zen__gpt2_piece_end(const char *text, size_t len, size_t pos) {
    int cls;
    uint32_t cp;
    int k = char_at(text, len, pos, &cls, &cp);
    /* 's|'t|'re|'ve|'m|'ll|'d */
    if (cp == '\'' && pos + 1 < len) {
        const char *s = text + pos + 1;
        size_t left = len - pos - 1;
        if (*s == 's' || *s == 't' || *s == 'm' || *s == 'd') return pos + 2;
        if (left >= 2 && (!memcmp(s, "re", 2) || !memcmp(s, "ve", 2) || !memcmp(s, "ll", 2))) return pos + 3;
    }
    /* ' ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+' with the optional space */
    if (cp == ' ' && pos + 1 < len) {
        int c2;
        uint32_t cp2;
        char_at(text, len, pos + 1, &c2, &cp2);
        if (c2 != C_SPACE) return run_end(text, len, pos + 1, c2);
    }
    if (cls != C_SPACE) return run_end(text, len, pos, cls);
    /* \s+(?!\S): a run of spaces up to the end, or all but its last character when a
     * non-space follows (that one then starts the next piece, e.g. " word"); \s+: one. */
    size_t last = pos, p = pos;
    while (p < len) {
        int c;
        uint32_t c_cp;
        int kk = char_at(text, len, p, &c, &c_cp);
        if (c != C_SPACE) break;
        last = p;
        p += (size_t)kk;
    }
    if (p == len) return p;
    return last > pos ? last : pos + (size_t)k;
}
