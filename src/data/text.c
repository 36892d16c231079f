/* text.c — text data: whole text files, the SpamAssassin corpus as labelled texts with a
 * stratified split, and language-model windows (x, y shifted by one) over token ids. */
#include "tokenizer.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>

int zen_data_path(zen_ctx *ctx, const char *name, char *buf, size_t size) {
    if (!name || !buf) return zen__fail(ctx, "zen_data_path: name or buf is NULL"), -1;
    return zen__data_path(ctx, "zen_data_path", name, buf, size);
}

char *zen_load_text(zen_ctx *ctx, const char *path, size_t *len) { return zen__load_text(ctx, "zen_load_text", path, len); }

char *zen__load_text(zen_ctx *ctx, const char *fn, const char *path, size_t *len) {
    if (len) *len = 0;
    zen__reader r;
    if (zen__reader_open(&r, ctx, fn, path) != 0) return NULL;
    size_t n = 0;
    char *s = zen__reader_slurp(&r, &n);
    zen__reader_close(&r);
    if (s && len) *len = n;
    return s;
}

void zen_text_set_free(zen_text_set *s) {
    if (!s) return;
    for (int64_t i = 0; i < s->n; i++) free(s->texts ? s->texts[i] : NULL);
    free(s->texts);
    free(s->lengths);
    free(s->labels);
    free(s);
}

static zen_text_set *set_alloc(int64_t n) {
    zen_text_set *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    size_t m = (size_t)(n ? n : 1);
    s->texts = calloc(m, sizeof *s->texts);
    s->lengths = calloc(m, sizeof *s->lengths);
    s->labels = calloc(m, sizeof *s->labels);
    if (!s->texts || !s->lengths || !s->labels) {
        zen_text_set_free(s);
        return NULL;
    }
    return s;
}

static int add_text(zen_text_set *s, int64_t *cap, char *text, size_t len, int32_t label) {
    if (s->n == *cap) {
        int64_t nc = 2 * *cap;
        char **t = realloc(s->texts, (size_t)nc * sizeof *t);
        if (t) s->texts = t;
        size_t *l = realloc(s->lengths, (size_t)nc * sizeof *l);
        if (l) s->lengths = l;
        int32_t *y = realloc(s->labels, (size_t)nc * sizeof *y);
        if (y) s->labels = y;
        if (!t || !l || !y) return -1;
        *cap = nc;
    }
    s->texts[s->n] = text;
    s->lengths[s->n] = len;
    s->labels[s->n++] = label;
    return 0;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The body of an e-mail: what follows the first blank line (LF or CRLF), moved to the front. */
static size_t body_only(char *text, size_t len) {
    size_t start = len;
    for (size_t i = 0; i < len; i++)
        if (text[i] == '\n' && (i == 0 || (i + 1 < len && text[i + 1] == '\n') ||
                                (i + 2 < len && text[i + 1] == '\r' && text[i + 2] == '\n'))) {
            start = i + 1;
            while (start < len && (text[start] == '\n' || text[start] == '\r')) start++;
            break;
        }
    memmove(text, text + start, len - start);
    text[len - start] = 0;
    return len - start;
}

/* Adds every regular file of dir/group (sorted by name, hidden files skipped) with label. */
static int load_group(zen_ctx *ctx, const char *root, const char *group, int32_t label, int flags, zen_text_set *s,
                      int64_t *cap) {
    const char *fn = "zen_load_spam_assassin";
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/%s", root, group);
    DIR *d = opendir(dir);
    if (!d)
        return zen__fail(ctx, "%s: %s: cannot open the folder: %s (scripts/fetch_data.sh spam-assassin fetches the "
                              "corpus)", fn, dir, strerror(errno)), -1;
    char **names = NULL;
    size_t nn = 0, ncap = 0;
    int rc = -1;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        if (nn == ncap) {
            ncap = ncap ? 2 * ncap : 256;
            char **p = realloc(names, ncap * sizeof *p);
            if (!p) goto oom;
            names = p;
        }
        if (!(names[nn] = strdup(e->d_name))) goto oom;
        nn++;
    }
    if (nn == 0) {
        zen__fail(ctx, "%s: %s: the folder is empty", fn, dir);
        goto out;
    }
    qsort(names, nn, sizeof *names, by_name);
    for (size_t i = 0; i < nn; i++) {
        char path[4500];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        size_t len;
        char *text = zen_load_text(ctx, path, &len);
        if (!text) goto out;
        if (flags & ZEN_TEXT_BODY) len = body_only(text, len);
        if (add_text(s, cap, text, len, label) != 0) {
            free(text);
            goto oom;
        }
    }
    rc = 0;
    goto out;
oom:
    zen__fail(ctx, "%s: out of memory", fn);
out:
    for (size_t i = 0; i < nn; i++) free(names[i]);
    free(names);
    closedir(d);
    return rc;
}

zen_text_set *zen_load_spam_assassin(zen_ctx *ctx, const char *dir, int flags) {
    const char *fn = "zen_load_spam_assassin";
    static const char *const groups[] = {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"};
    static const int32_t labels[] = {0, 0, 0, 1, 1};
    char base[4096];
    if (!dir) {
        if (zen__data_path(ctx, fn, "spam-assassin", base, sizeof base) != 0) return NULL;
        dir = base;
    }
    if (flags & ~ZEN_TEXT_BODY) return zen__fail(ctx, "%s: unknown flags 0x%x", fn, (unsigned)(flags & ~ZEN_TEXT_BODY));
    int64_t cap = 1024;
    zen_text_set *s = set_alloc(cap);
    if (!s) return zen__fail(ctx, "%s: out of memory", fn);
    for (int g = 0; g < 5; g++)
        if (load_group(ctx, dir, groups[g], labels[g], flags, s, &cap) != 0) {
            zen_text_set_free(s);
            return NULL;
        }
    return s;
}

/* A new set with copies of s's texts idx[0..n). */
static zen_text_set *take(const zen_text_set *s, const int64_t *idx, int64_t n) {
    zen_text_set *o = set_alloc(n);
    if (!o) return NULL;
    for (int64_t i = 0; i < n; i++) {
        int64_t j = idx[i];
        char *t = malloc(s->lengths[j] + 1);
        if (!t) {
            zen_text_set_free(o);
            return NULL;
        }
        memcpy(t, s->texts[j], s->lengths[j]);
        t[s->lengths[j]] = 0;
        o->texts[i] = t;
        o->lengths[i] = s->lengths[j];
        o->labels[i] = s->labels[j];
        o->n = i + 1;
    }
    return o;
}

int zen_text_set_split(zen_ctx *ctx, const zen_text_set *s, double test_fraction, uint64_t seed, zen_text_set **train,
                       zen_text_set **test) {
    const char *fn = "zen_text_set_split";
    if (train) *train = NULL;
    if (test) *test = NULL;
    if (!s) return -1;
    if (!train || !test) return zen__fail(ctx, "%s: train or test is NULL", fn), -1;
    if (!(test_fraction > 0 && test_fraction < 1))
        return zen__fail(ctx, "%s: test_fraction is %g; it must be in (0, 1)", fn, test_fraction), -1;
    int64_t n = s->n;
    int64_t *order = malloc((size_t)(n ? n : 1) * sizeof *order), *tr = malloc((size_t)(n ? n : 1) * sizeof *tr),
            *te = malloc((size_t)(n ? n : 1) * sizeof *te);
    int rc = -1;
    if (!order || !tr || !te) {
        zen__fail(ctx, "%s: out of memory", fn);
        goto out;
    }
    zen_rng rng;
    zen_rng_seed(&rng, seed);
    zen_order_init(order, n);
    zen_shuffle(&rng, order, n);
    /* Labels in order of first appearance in the shuffled order would depend on the seed;
     * walk them in sorted order instead: every distinct label once. */
    int64_t ntr = 0, nte = 0;
    int32_t prev = INT32_MIN;
    for (;;) {
        int32_t label = INT32_MAX;
        bool found = false;
        for (int64_t i = 0; i < n; i++)
            if (s->labels[i] > prev && s->labels[i] <= label) label = s->labels[i], found = true;
        if (!found) break;
        int64_t count = 0;
        for (int64_t i = 0; i < n; i++) count += s->labels[i] == label;
        int64_t k = (int64_t)llround((double)count * test_fraction), seen = 0;
        for (int64_t i = 0; i < n; i++)
            if (s->labels[order[i]] == label) {
                if (seen++ < k) te[nte++] = order[i];
                else tr[ntr++] = order[i];
            }
        if (label == INT32_MAX) break;
        prev = label;
    }
    if (ntr == 0 || nte == 0) {
        zen__fail(ctx, "%s: %lld texts with test_fraction %g leave the %s part empty", fn, (long long)n, test_fraction,
                  ntr == 0 ? "train" : "test");
        goto out;
    }
    zen_shuffle(&rng, tr, ntr);
    zen_shuffle(&rng, te, nte);
    *train = take(s, tr, ntr);
    *test = take(s, te, nte);
    if (!*train || !*test) {
        zen_text_set_free(*train), zen_text_set_free(*test);
        *train = *test = NULL;
        zen__fail(ctx, "%s: out of memory", fn);
        goto out;
    }
    rc = 0;
out:
    free(order), free(tr), free(te);
    return rc;
}

zen_dataset *zen_lm_dataset(zen_ctx *ctx, const int32_t *ids, int64_t n, int64_t seq_len, int64_t stride) {
    const char *fn = "zen_lm_dataset";
    if (!ids || n < 0) return zen__fail(ctx, "%s: no ids", fn);
    if (seq_len < 1 || stride < 1)
        return zen__fail(ctx, "%s: seq_len %lld and stride %lld must be positive", fn, (long long)seq_len,
                         (long long)stride);
    if (n < seq_len + 1)
        return zen__fail(ctx, "%s: %lld tokens are too few for one window of seq_len %lld (it needs seq_len + 1)", fn,
                         (long long)n, (long long)seq_len);
    int64_t count = (n - seq_len - 1) / stride + 1;
    int64_t shape[2] = {count, seq_len};
    zen_array *x = zen__array_alloc(ctx, fn, ZEN_I32, 2, shape);
    zen_array *y = x ? zen__array_alloc(ctx, fn, ZEN_I32, 2, shape) : NULL;
    if (!x || !y) {
        zen_array_free(x);
        return NULL;
    }
    for (int64_t k = 0; k < count; k++) {
        memcpy((int32_t *)x->data + k * seq_len, ids + k * stride, (size_t)seq_len * sizeof(int32_t));
        memcpy((int32_t *)y->data + k * seq_len, ids + k * stride + 1, (size_t)seq_len * sizeof(int32_t));
    }
    return zen_dataset_new(ctx, x, y);
}

int zen_lm_split(zen_ctx *ctx, const int32_t *ids, int64_t n, int64_t seq_len, int64_t stride, double val_fraction,
                 zen_dataset **train, zen_dataset **val) {
    const char *fn = "zen_lm_split";
    if (train) *train = NULL;
    if (val) *val = NULL;
    if (!train || !val) return zen__fail(ctx, "%s: train or val is NULL", fn), -1;
    if (!(val_fraction > 0 && val_fraction < 1))
        return zen__fail(ctx, "%s: val_fraction is %g; it must be in (0, 1)", fn, val_fraction), -1;
    if (!ids || n < 0) return zen__fail(ctx, "%s: no ids", fn), -1;
    int64_t cut = (int64_t)floor((double)n * (1.0 - val_fraction));
    if (cut < seq_len + 1 || n - cut < seq_len + 1)
        return zen__fail(ctx, "%s: %lld tokens split at %lld leave the %s part shorter than seq_len + 1 = %lld", fn,
                         (long long)n, (long long)cut, cut < seq_len + 1 ? "train" : "validation",
                         (long long)seq_len + 1), -1;
    *train = zen_lm_dataset(ctx, ids, cut, seq_len, stride);
    *val = *train ? zen_lm_dataset(ctx, ids + cut, n - cut, seq_len, stride) : NULL;
    if (!*val) {
        zen_dataset_free(*train);
        *train = NULL;
        return -1;
    }
    return 0;
}
