/* lm.c — running a GPT-style model one chunk of tokens at a time with a key/value cache.
 *
 * The model must be a chain: Input(int32 [T]) -> TokenAndPositionEmbedding -> layers ->
 * logits, where the layers are GPT2Blocks and per-step layers (LayerNormalization, Dropout,
 * Activation, Dense, LMHead); a final softmax Activation is skipped so that zen_lm_feed
 * returns logits. Each feed builds a small graph for the new tokens only (as ggml does):
 * their embeddings at positions pos..pos+n-1, each block attending over the cached keys and
 * values of the earlier positions plus the new ones, and the head; then the new keys and
 * values are appended to the cache. Nothing of the prefix is recomputed. The graph lives
 * in a context of its own, freed after the step, so memory does not grow with the text. */
#include "nn.h"

#include <stdlib.h>

#include "layers/gpt.h"

struct zen_lm {
    zen_model *m;
    zen_ctx *ctx;     /* the caches */
    int64_t context;  /* sequence_length of the embedding */
    int64_t vocab;
    int64_t pos;      /* tokens fed so far */
    zen_layer **chain; /* layers after the embedding, in order */
    int nchain;
    int last_block;  /* index in chain of the last GPT2Block (-1: none) */
    zen_layer *embed;
    zen_tensor **k, **v; /* per GPT2Block: [1, H, context, hd] */
};

static bool is(const zen_layer *l, const char *cls) { return !strcmp(l->type->class_name, cls); }

zen_lm *zen_lm_new(zen_model *m) {
    if (!m) return NULL;
    zen_ctx *mctx = m->ctx;
    if (!m->built) return zen__fail(mctx, "zen_lm_new: build the model first");
    /* The chain: every node after the input takes the previous node as its only input. */
    bool chain = m->ninputs == 1 && m->inputs[0] == 0 && m->noutputs == 1 && m->outputs[0] == m->nnodes - 1;
    for (int i = 1; chain && i < m->nnodes; i++)
        chain = m->nodes[i].n_in == 1 && m->nodes[i].inputs[0] == i - 1;
    if (!chain || m->nnodes < 3 || !is(m->nodes[1].layer, "TokenAndPositionEmbedding"))
        return zen__fail(mctx, "zen_lm_new: model '%s' is not a language model: it must be a chain Input(int32) -> "
                               "TokenAndPositionEmbedding -> GPT2Block... -> logits", m->name);
    zen_lm *lm = calloc(1, sizeof *lm);
    if (!lm) return zen__fail(mctx, "zen_lm_new: out of memory");
    lm->m = m;
    lm->embed = m->nodes[1].layer;
    lm->last_block = -1;
    lm->context = lm->embed->weights[1]->shape[0];
    lm->nchain = m->nnodes - 2;
    lm->chain = calloc((size_t)lm->nchain, sizeof *lm->chain);
    lm->k = calloc((size_t)lm->nchain, sizeof *lm->k);
    lm->v = calloc((size_t)lm->nchain, sizeof *lm->v);
    lm->ctx = zen_ctx_new();
    if (!lm->chain || !lm->k || !lm->v || !lm->ctx) {
        zen_lm_free(lm);
        return zen__fail(mctx, "zen_lm_new: out of memory");
    }
    for (int i = 0; i < lm->nchain; i++) {
        zen_layer *l = lm->chain[i] = m->nodes[i + 2].layer;
        if (is(l, "GPT2Block")) {
            const zen_gpt2_block_cfg *s = l->state;
            int64_t shape[4] = {1, s->heads, lm->context, s->width / s->heads};
            lm->k[i] = zen_const(lm->ctx, ZEN_F32, 4, shape);
            lm->v[i] = zen_const(lm->ctx, ZEN_F32, 4, shape);
            if (!lm->k[i] || !lm->v[i]) {
                zen__fail(mctx, "zen_lm_new: cannot allocate the key/value cache: %s", zen_ctx_error(lm->ctx));
                zen_lm_free(lm);
                return NULL;
            }
        } else if (!(is(l, "LayerNormalization") || is(l, "Dropout") || is(l, "Activation") || is(l, "Dense") ||
                     is(l, "LMHead"))) {
            zen__fail(mctx, "zen_lm_new: layer '%s' (%s) cannot run one step at a time (allowed after the embedding: "
                            "GPT2Block, LayerNormalization, Dropout, Activation, Dense, LMHead)", l->name,
                      l->type->class_name);
            zen_lm_free(lm);
            return NULL;
        }
        if (lm->k[i]) lm->last_block = i;
    }
    /* A closing softmax is left out: generation wants logits. */
    if (is(lm->chain[lm->nchain - 1], "Activation")) {
        const char *act = NULL;
        zen__cfg_str(lm->chain[lm->nchain - 1], "activation", "linear", &act);
        if (act && !strcmp(act, "softmax")) lm->nchain--;
    }
    lm->vocab = m->nodes[lm->nchain + 1].shape.dim[m->nodes[lm->nchain + 1].shape.ndim - 1];
    return lm;
}

void zen_lm_free(zen_lm *lm) {
    if (!lm) return;
    zen_ctx_free(lm->ctx);
    free(lm->chain);
    free(lm->k);
    free(lm->v);
    free(lm);
}

int64_t zen_lm_context_length(const zen_lm *lm) { return lm ? lm->context : 0; }
int64_t zen_lm_vocab_size(const zen_lm *lm) { return lm ? lm->vocab : 0; }
int64_t zen_lm_position(const zen_lm *lm) { return lm ? lm->pos : 0; }
void zen_lm_reset(zen_lm *lm) {
    if (lm) lm->pos = 0;
}

/* Copies this chunk's keys (or values) [1, H, n, hd] (dense) into the cache at pos. */
static void append(zen_tensor *cache, const zen_tensor *chunk, int64_t pos) {
    int64_t h = cache->shape[1], ctxlen = cache->shape[2], hd = cache->shape[3], n = chunk->shape[2];
    for (int64_t i = 0; i < h; i++)
        memcpy((float *)cache->data + (i * ctxlen + pos) * hd, (const float *)chunk->data + i * n * hd,
               (size_t)(n * hd) * sizeof(float));
}

int zen_lm_feed(zen_lm *lm, int n, const int32_t *ids, float *logits, bool all) {
    if (!lm) return -1;
    zen_ctx *mctx = lm->m->ctx;
    if (n < 1 || !ids) return zen__fail(mctx, "zen_lm_feed: needs at least one token (got %d)", n), -1;
    if (lm->pos + n > lm->context)
        return zen__fail(mctx, "zen_lm_feed: the context is full: %lld tokens fed, %d more would pass the context "
                               "length %lld", (long long)lm->pos, n, (long long)lm->context), -1;
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= lm->embed->weights[0]->shape[0])
            return zen__fail(mctx, "zen_lm_feed: token %d (id %d) is outside the vocabulary [0, %lld)", i, ids[i],
                             (long long)lm->embed->weights[0]->shape[0]), -1;
    zen_ctx *ctx = zen_ctx_new();
    if (!ctx) return zen__fail(mctx, "zen_lm_feed: out of memory"), -1;
    zen_ctx_set_threads(ctx, zen_ctx_threads(mctx));
    zen_tensor *in = zen_input(ctx, ZEN_I32, 2, (int64_t[]){1, n});
    if (in) memcpy(in->data, ids, (size_t)n * sizeof *ids);
    zen_tensor *x = zen__gpt2_embed(ctx, lm->embed, in, lm->pos);
    zen_tensor **kn = calloc((size_t)lm->nchain, sizeof *kn), **vn = calloc((size_t)lm->nchain, sizeof *vn);
    zen_call_info info = {.training = false};
    for (int i = 0; i < lm->nchain && x && kn && vn; i++) {
        zen_layer *l = lm->chain[i];
        if (lm->k[i]) {
            zen_tensor *pk = NULL, *pv = NULL;
            if (lm->pos > 0) {
                pk = zen_slice(ctx, lm->k[i], 2, 0, lm->pos, 1);
                pv = zen_slice(ctx, lm->v[i], 2, 0, lm->pos, 1);
            }
            x = zen__gpt2_block(ctx, l, x, pk, pv, &kn[i], &vn[i], false, 0);
            kn[i] = zen_contiguous(ctx, kn[i]);
            vn[i] = zen_contiguous(ctx, vn[i]);
            /* Only the last token's logits are wanted: the rest of the chain is per step. */
            if (!all && n > 1 && i == lm->last_block) x = zen_slice(ctx, x, 1, n - 1, n, 1);
        } else {
            x = l->type->call(l, ctx, 1, &x, &info);
        }
    }
    zen_graph *g = NULL;
    int rc = -1;
    if (x && !zen_ctx_error(ctx)) {
        x = zen_contiguous(ctx, x);
        g = zen_graph_new(ctx);
        zen_graph_set_training(g, false);
        zen_graph_add(g, x);
        for (int i = 0; i < lm->nchain; i++)
            if (kn[i]) zen_graph_add(g, kn[i]), zen_graph_add(g, vn[i]);
        if (!zen_ctx_error(ctx) && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0) rc = 0;
    }
    if (rc == 0) {
        for (int i = 0; i < lm->nchain; i++)
            if (kn[i]) append(lm->k[i], kn[i], lm->pos), append(lm->v[i], vn[i], lm->pos);
        int64_t rows = all ? n : 1;
        if (logits) memcpy(logits, (float *)x->data + (zen_numel(x) - rows * lm->vocab), (size_t)(rows * lm->vocab) * sizeof(float));
        lm->pos += n;
    } else {
        zen__fail(mctx, "zen_lm_feed: %s", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "out of memory");
    }
    free(kn);
    free(vn);
    zen_graph_free(g);
    zen_ctx_free(ctx);
    return rc;
}
