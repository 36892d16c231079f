/* zen tokenize — GPT-2 token ids of text files, and text back from ids:
 *
 *   zen tokenize [--dir DIR] [--count] FILE...   ids, one per line, of each file in turn
 *   zen tokenize --decode [--dir DIR] FILE       the text of the ids (whitespace-separated) in FILE
 *
 * DIR holds encoder.json and vocab.bpe (default: the data directory's gpt2/, from
 * scripts/fetch_data.sh gpt2-bpe). Exit status 0 on success, 1 when a file cannot be read or
 * holds a bad id, 2 for bad arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void tokenize_usage(FILE *f) {
    fprintf(f,
            "usage: zen tokenize [--dir DIR] [--count] FILE...\n"
            "       zen tokenize --decode [--dir DIR] FILE\n"
            "\n"
            "Prints the GPT-2 token ids of each file's bytes, one per line (with --count, one\n"
            "line per file: its bytes and tokens), or with --decode writes the text of the\n"
            "whitespace-separated ids in FILE to standard output. DIR holds encoder.json and\n"
            "vocab.bpe (default: the data directory's gpt2/, see scripts/fetch_data.sh gpt2-bpe).\n");
}

/* The ids of a text of whitespace-separated integers; NULL and a message on a bad one. */
static int32_t *parse_ids(const char *path, const char *text, int64_t *n) {
    int64_t cap = 1024, k = 0;
    int32_t *ids = malloc((size_t)cap * sizeof *ids);
    for (const char *p = text; ids;) {
        while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
        if (!*p) break;
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 0 || v > INT32_MAX || (*end && *end != ' ' && *end != '\t' && *end != '\n' && *end != '\r')) {
            fprintf(stderr, "zen tokenize: %s: token %lld is not a non-negative integer ('%.20s')\n", path,
                    (long long)k, p);
            free(ids);
            return NULL;
        }
        if (k == cap) {
            int32_t *more = realloc(ids, (size_t)(cap *= 2) * sizeof *ids);
            if (!more) free(ids);
            ids = more;
            if (!ids) break;
        }
        ids[k++] = (int32_t)v;
        p = end;
    }
    if (!ids) fprintf(stderr, "zen tokenize: out of memory\n");
    *n = k;
    return ids;
}

int zen_cmd_tokenize(int argc, char **argv) {
    const char *dir = NULL;
    bool count = false, decode = false;
    int nfiles = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            tokenize_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "--dir")) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "zen tokenize: --dir needs a directory\n");
                return 2;
            }
            dir = argv[++i];
        } else if (!strcmp(a, "--count")) {
            count = true;
        } else if (!strcmp(a, "--decode")) {
            decode = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "zen tokenize: unknown option '%s'\n", a);
            tokenize_usage(stderr);
            return 2;
        } else {
            argv[nfiles++] = argv[i]; /* files, compacted to the front */
        }
    }
    if (nfiles == 0) {
        fprintf(stderr, "zen tokenize: no file given\n");
        tokenize_usage(stderr);
        return 2;
    }
    if (decode && (count || nfiles > 1)) {
        fprintf(stderr, "zen tokenize: --decode takes one file of ids (and no --count)\n");
        return 2;
    }
    zen_ctx *ctx = zen_ctx_new();
    zen_tokenizer *tok = zen_tokenizer_gpt2_load(ctx, dir);
    int rc = tok ? 0 : 1;
    for (int f = 0; tok && rc == 0 && f < nfiles; f++) {
        size_t len;
        char *text = zen_load_text(ctx, argv[f], &len);
        int64_t n = 0;
        if (text && decode) {
            int32_t *ids = parse_ids(argv[f], text, &n);
            char *out = ids ? zen_tokenizer_decode(ctx, tok, ids, n, &len) : NULL;
            if (out) fwrite(out, 1, len, stdout);
            else rc = 1;
            free(ids), free(out);
        } else if (text) {
            int32_t *ids = zen_tokenizer_encode(ctx, tok, text, len, &n);
            if (!ids) rc = 1;
            else if (count) printf("%s: %zu bytes, %lld tokens\n", argv[f], len, (long long)n);
            else
                for (int64_t i = 0; i < n; i++) printf("%d\n", ids[i]);
            free(ids);
        } else {
            rc = 1;
        }
        free(text);
    }
    if (rc && zen_ctx_error(ctx)) fprintf(stderr, "zen tokenize: %s\n", zen_ctx_error(ctx));
    if (fflush(stdout) != 0) rc = 1;
    zen_tokenizer_free(tok);
    zen_ctx_free(ctx);
    return rc;
}
