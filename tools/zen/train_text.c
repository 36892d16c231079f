/* train_text.c — the text data set of `zen train`: `--data spam-assassin` (or a folder in
 * its layout) for a model whose input is int32 token ids [T] read by an Embedding. The
 * e-mails' bodies (headers dropped: they give away where the mail was collected) are split
 * 80/20, stratified by label and seeded; a word vocabulary (Keras's TextVectorization) of
 * the Embedding's input_dim tokens is fitted on the train part only, and each e-mail becomes
 * its first T ids. Labels: ham 0, spam 1, as f32 [N, 1] for a one-unit output
 * (binary_crossentropy) or i32 [N] for sparse_categorical_crossentropy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

/* The Embedding's input_dim: the rows of the first weight named "embeddings". */
static int64_t embedding_rows(const zen_model *m) {
    for (int i = 0; i < zen_model_n_layers(m); i++) {
        zen_layer *l = zen_model_layer(m, i);
        for (int k = 0; k < zen_layer_n_weights(l); k++) {
            const char *name;
            bool trainable;
            zen_tensor *w = zen_layer_weight(l, k, &name, &trainable);
            if (w && name && !strcmp(name, "embeddings") && w->ndim == 2) return w->shape[0];
        }
    }
    return -1;
}

static zen_dataset *encode(zen_ctx *ctx, zen_tokenizer *tok, const zen_text_set *s, int64_t steps, bool sparse) {
    zen_array *y = sparse ? zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){s->n})
                          : zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){s->n, 1});
    if (!y) return NULL;
    for (int64_t i = 0; i < s->n; i++)
        if (sparse) ((int32_t *)y->data)[i] = s->labels[i];
        else ((float *)y->data)[i] = (float)s->labels[i];
    zen_array *x = zen_tokenizer_encode_batch(ctx, tok, s->n, (const char *const *)s->texts, steps);
    if (!x) {
        zen_array_free(y);
        return NULL;
    }
    return zen_dataset_new(ctx, x, y);
}

int cli_text_data(zen_ctx *ctx, const zen_model *m, const char *dir, const char *loss, uint64_t seed,
                  zen_dataset **train, zen_dataset **test, zen_tokenizer **vocab) {
    *train = *test = NULL;
    *vocab = NULL;
    int64_t shape[ZEN_MAX_DIMS], out[ZEN_MAX_DIMS];
    int64_t rows = embedding_rows(m);
    bool sparse = loss && !strcmp(loss, "sparse_categorical_crossentropy");
    if (zen_model_input_shape(m, 0, shape) != 1 || rows < 3) {
        fprintf(stderr, "zen train: --data spam-assassin needs a model whose input is token ids of one shape [steps] "
                        "(an Input with dtype int32) read by an Embedding with input_dim >= 3\n");
        return -1;
    }
    int on = zen_model_output_shape(m, 0, out);
    if (!(sparse ? on == 1 && out[0] == 2 : on == 1 && out[0] == 1)) {
        fprintf(stderr, "zen train: --data spam-assassin has two classes (ham 0, spam 1): the model needs one output "
                        "unit (sigmoid, binary_crossentropy) or two with sparse_categorical_crossentropy\n");
        return -1;
    }
    zen_text_set *all = zen_load_spam_assassin(ctx, dir, ZEN_TEXT_BODY), *tr = NULL, *te = NULL;
    int rc = -1;
    if (!all || zen_text_set_split(ctx, all, 0.2, seed, &tr, &te) != 0) goto out;
    if (!(*vocab = zen_tokenizer_word_fit(ctx, tr->n, (const char *const *)tr->texts, rows))) goto out;
    if (!(*train = encode(ctx, *vocab, tr, shape[0], sparse)) || !(*test = encode(ctx, *vocab, te, shape[0], sparse)))
        goto out;
    printf("spam-assassin: %lld e-mails for training, %lld for the test; a vocabulary of %lld words\n",
           (long long)tr->n, (long long)te->n, (long long)zen_tokenizer_vocab_size(*vocab));
    rc = 0;
out:
    if (rc) {
        zen_dataset_free(*train), zen_dataset_free(*test), zen_tokenizer_free(*vocab);
        *train = *test = NULL;
        *vocab = NULL;
    }
    zen_text_set_free(all), zen_text_set_free(tr), zen_text_set_free(te);
    return rc;
}

int cli_keep_vocab(zen_ctx *ctx, zen_model *m, const zen_tokenizer *vocab) {
    char *json = zen_tokenizer_to_json(ctx, vocab);
    int rc = json ? zen_model_set_tokenizer_json(m, json) : -1;
    free(json);
    return rc;
}
