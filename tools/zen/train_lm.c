/* train_lm.c — the text data sets of `zen train` for language models: windows for a model whose
 * input is a sequence of int32 token ids.
 *
 * --data bible-kjv or moby-dick (fetched by scripts/fetch_data.sh) or the path of a text
 * file (plain or gzip). The spec's "tokenizer" says how text becomes tokens: {"type": "char"}
 * (fitted on the text: its distinct characters) or {"type": "gpt2"} (GPT-2's BPE files from
 * the data directory); without one, "char". The fitted tokenizer is stored in the model
 * (zen_model_set_tokenizer_json) so that `zen generate` can read prompts and write text.
 * Windows: x = T tokens, y = the next T (T = the model's input length), stride T; the last
 * validation_split of the text (default 0.05) validates, split by position. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *text_file(zen_ctx *ctx, const char *data, char *buf, size_t n) {
    if (!strcmp(data, "bible-kjv") || !strcmp(data, "moby-dick")) {
        char name[64];
        snprintf(name, sizeof name, "%s/%s.txt", data, !strcmp(data, "bible-kjv") ? "kjv" : "moby-dick");
        if (zen_data_path(ctx, name, buf, n) != 0) return NULL;
        FILE *f = fopen(buf, "rb");
        if (!f) {
            fprintf(stderr, "zen train: data set '%s' is not in %s; run scripts/fetch_data.sh %s\n", data, buf, data);
            return NULL;
        }
        fclose(f);
        return buf;
    }
    return cli_is_lm_text(data) ? data : NULL;
}

bool cli_is_lm_text(const char *data) {
    size_t len = strlen(data);
    return !strcmp(data, "bible-kjv") || !strcmp(data, "moby-dick") || (len > 4 && !strcmp(data + len - 4, ".txt")) ||
           (len > 7 && !strcmp(data + len - 7, ".txt.gz"));
}

int cli_lm_text_data(zen_ctx *ctx, zen_model *m, const char *data, double val_fraction, zen_dataset **train,
                     zen_dataset **val) {
    char buf[1024];
    const char *path = text_file(ctx, data, buf, sizeof buf);
    if (!path) return zen_ctx_error(ctx) ? -1 : (fprintf(stderr, "zen train: no text data set '%s'\n", data), -2);
    int64_t shape[ZEN_MAX_DIMS];
    int nd = zen_model_input_shape(m, 0, shape);
    if (nd != 1) {
        fprintf(stderr, "zen train: text data needs a model whose input is a sequence of token ids (shape [T]), this "
                        "one's has %d dims\n", nd);
        return -2;
    }
    size_t len;
    char *text = zen_load_text(ctx, path, &len);
    if (!text) return -1;
    const char *tj = zen_model_tokenizer_json(m);
    zen_tokenizer *tok = NULL;
    if (!tj || (strstr(tj, "\"char\"") && !strstr(tj, "code_points"))) tok = zen_tokenizer_char_fit(ctx, text, len);
    else tok = zen_tokenizer_from_json(ctx, tj);
    int64_t n = 0;
    int32_t *ids = tok ? zen_tokenizer_encode(ctx, tok, text, len, &n) : NULL;
    free(text);
    int rc = -1;
    if (ids) {
        int64_t vocab = zen_tokenizer_vocab_size(tok), out[ZEN_MAX_DIMS];
        int od = zen_model_output_shape(m, 0, out);
        char *json = zen_tokenizer_to_json(ctx, tok);
        if (od < 1 || out[od - 1] < vocab) {
            fprintf(stderr, "zen train: %s has %lld distinct tokens (%s tokenizer) but the model predicts %lld; set "
                            "its vocabulary_size to at least %lld\n", path, (long long)vocab,
                    zen_tokenizer_type(tok), od > 0 ? (long long)out[od - 1] : 0LL, (long long)vocab);
            rc = -2;
        } else if (json && zen_model_set_tokenizer_json(m, json) == 0 &&
                   zen_lm_split(ctx, ids, n, shape[0], shape[0], val_fraction > 0 ? val_fraction : 0.05, train,
                                val) == 0) {
            printf("%s: %lld tokens (%s, %lld distinct), %lld training and %lld validation windows of %lld\n", path,
                   (long long)n, zen_tokenizer_type(tok), (long long)vocab, (long long)(*train)->n,
                   (long long)(*val)->n, (long long)shape[0]);
            rc = 0;
        }
        free(json);
    }
    free(ids);
    zen_tokenizer_free(tok);
    return rc;
}
