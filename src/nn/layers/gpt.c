/* gpt.c — the layers of a GPT-2 style language model (decoder-only transformer):
 *
 *   TokenAndPositionEmbedding  int32 ids [T] -> token_embedding[ids] + position_embedding[0:T]
 *                              (keras-hub's name and arguments: vocabulary_size,
 *                              sequence_length, embedding_dim)
 *   GPT2Block                  one pre-norm block, exactly Hugging Face's GPT-2 block:
 *                                x = x + c_proj(attention(ln_1(x)))   (causal, 1/sqrt(head_dim))
 *                                x = x + mlp_proj(gelu_tanh(mlp_fc(ln_2(x))))
 *                              arguments num_heads, intermediate_dim (4 * width), dropout (0),
 *                              layer_norm_epsilon (1e-5)
 *   LMHead                     logits = x · Eᵀ with E the token table of the layer named by
 *                              "embedding" (tied weights, as GPT-2; it owns no weights)
 *
 * A model is Input(int32 [T]) -> TokenAndPositionEmbedding -> GPT2Block x N ->
 * LayerNormalization -> LMHead (-> Activation softmax for training with
 * sparse_categorical_crossentropy, which then reads the logits). src/nn/lm.c runs the
 * same blocks incrementally with a key/value cache (zen__gpt2_block takes the cached keys
 * and values and returns the new ones): the layer call and generation share this code.
 *
 * Weights use zen's (PyTorch's) [out, in] layout: attn_qkv_kernel [3D, D] holds the query,
 * key and value projections stacked in that order (HF's c_attn transposed). */
#include "../nn.h"

#include <math.h>
#include <stdlib.h>

#include "gpt.h"

/* ---- TokenAndPositionEmbedding ---- */

static int tpe_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)n;
    int vocab, seq, dim;
    if (!zen__cfg_int(l, "vocabulary_size", 0, true, &vocab) || !zen__cfg_int(l, "sequence_length", 0, true, &seq) ||
        !zen__cfg_int(l, "embedding_dim", 0, true, &dim))
        return -1;
    if (vocab <= 0) return ZEN_LAYER_ERROR(l, "vocabulary_size must be positive, got %d", vocab);
    if (seq <= 0) return ZEN_LAYER_ERROR(l, "sequence_length must be positive, got %d", seq);
    if (dim <= 0) return ZEN_LAYER_ERROR(l, "embedding_dim must be positive, got %d", dim);
    if (in->ndim != 1)
        return ZEN_LAYER_ERROR(l, "input must be a sequence of token ids (shape [steps]), got %d dims", in->ndim);
    if (in->dim[0] > seq)
        return ZEN_LAYER_ERROR(l, "input has %lld steps, more than sequence_length %d", (long long)in->dim[0], seq);
    *out = *in;
    out->dim[out->ndim++] = dim;
    if (!zen__layer_add_weight(l, m, "token_embeddings", 2, (int64_t[]){vocab, dim}, "random_normal", vocab, dim, true) ||
        !zen__layer_add_weight(l, m, "position_embeddings", 2, (int64_t[]){seq, dim}, "random_normal", seq, dim, true))
        return -1;
    return 0;
}

zen_tensor *zen__gpt2_embed(zen_ctx *ctx, zen_layer *l, zen_tensor *ids, int64_t start) {
    if (!ids) return NULL;
    if (ids->dtype != ZEN_I32)
        return zen__layer_fail(l, "input must be int32 token ids, got %s (declare the Input with dtype \"int32\")",
                               zen_dtype_name(ids->dtype)), NULL;
    int64_t steps = ids->shape[ids->ndim - 1];
    if (start + steps > l->weights[1]->shape[0])
        return zen__layer_fail(l, "positions %lld..%lld are past sequence_length %lld", (long long)start,
                               (long long)(start + steps - 1), (long long)l->weights[1]->shape[0]), NULL;
    zen_tensor *pos = zen_slice(ctx, l->weights[1], 0, start, start + steps, 1);
    return zen_add(ctx, zen_embedding(ctx, l->weights[0], ids), pos);
}

static zen_tensor *tpe_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    return zen__gpt2_embed(ctx, l, x[0], 0);
}

const zen_layer_type zen_layer_type_token_and_position_embedding = {"TokenAndPositionEmbedding", 1, 1, tpe_build,
                                                                     tpe_call, .propagates_mask = false};

/* ---- GPT2Block ---- */

enum { LN1_G, LN1_B, QKV_W, QKV_B, OUT_W, OUT_B, LN2_G, LN2_B, FC_W, FC_B, PROJ_W, PROJ_B };

static int block_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)n;
    zen_gpt2_block_cfg *s = ZEN_LAYER_STATE(l, zen_gpt2_block_cfg);
    if (!s) return -1;
    if (in->ndim != 2) return ZEN_LAYER_ERROR(l, "input must be [steps, width], got %d dims", in->ndim);
    int width = (int)in->dim[1];
    if (!zen__cfg_int(l, "num_heads", 0, true, &s->heads) ||
        !zen__cfg_int(l, "intermediate_dim", 4 * width, false, &s->inner) ||
        !zen__cfg_float(l, "dropout", 0.0f, &s->dropout) ||
        !zen__cfg_float(l, "layer_norm_epsilon", 1e-5f, &s->epsilon))
        return -1;
    if (s->heads <= 0 || width % s->heads)
        return ZEN_LAYER_ERROR(l, "num_heads must be a positive divisor of the width %d, got %d", width, s->heads);
    if (s->inner <= 0) return ZEN_LAYER_ERROR(l, "intermediate_dim must be positive, got %d", s->inner);
    if (!(s->dropout >= 0 && s->dropout < 1)) return ZEN_LAYER_ERROR(l, "dropout must be in [0, 1), got %g", s->dropout);
    if (!(s->epsilon > 0)) return ZEN_LAYER_ERROR(l, "layer_norm_epsilon must be positive, got %g", s->epsilon);
    s->width = width;
    *out = *in;
    int64_t d = width, f = s->inner;
    struct {
        const char *name;
        int64_t rows, cols; /* cols 0: a vector */
        const char *init;
    } w[] = {
        {"ln_1_gamma", d, 0, "ones"},           {"ln_1_beta", d, 0, "zeros"},
        {"attn_qkv_kernel", 3 * d, d, "glorot_uniform"}, {"attn_qkv_bias", 3 * d, 0, "zeros"},
        {"attn_out_kernel", d, d, "glorot_uniform"},     {"attn_out_bias", d, 0, "zeros"},
        {"ln_2_gamma", d, 0, "ones"},           {"ln_2_beta", d, 0, "zeros"},
        {"mlp_fc_kernel", f, d, "glorot_uniform"},       {"mlp_fc_bias", f, 0, "zeros"},
        {"mlp_out_kernel", d, f, "glorot_uniform"},      {"mlp_out_bias", d, 0, "zeros"},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        int64_t shape[2] = {w[i].rows, w[i].cols};
        if (!zen__layer_add_weight(l, m, w[i].name, w[i].cols ? 2 : 1, shape, w[i].init, w[i].cols, w[i].rows, true))
            return -1;
    }
    return 0;
}

zen_tensor *zen__gpt2_block(zen_ctx *ctx, zen_layer *l, zen_tensor *x, zen_tensor *past_k, zen_tensor *past_v,
                            zen_tensor **k_new, zen_tensor **v_new, bool training, uint64_t seed) {
    const zen_gpt2_block_cfg *s = l->state;
    zen_tensor *const *w = l->weights;
    if (!x) return NULL;
    int64_t b = x->shape[0], steps = x->shape[1], d = s->width, h = s->heads, hd = d / h;
    bool drop = training && s->dropout > 0;
    /* attention */
    zen_tensor *a = zen_layer_norm(ctx, x, w[LN1_G], w[LN1_B], s->epsilon);
    zen_tensor *qkv = zen_linear(ctx, a, w[QKV_W], w[QKV_B]);                          /* [B, S, 3D] */
    qkv = zen_permute(ctx, zen_reshape(ctx, qkv, 4, (int64_t[]){b, steps, 3 * h, hd}), (int[]){0, 2, 1, 3});
    zen_tensor *parts[3];
    if (zen_split(ctx, qkv, 1, 3, (int64_t[]){h, h, h}, parts) != 0) return NULL; /* [B, H, S, hd] each */
    zen_tensor *k = parts[1], *v = parts[2];
    if (k_new) *k_new = k;
    if (v_new) *v_new = v;
    if (past_k) k = zen_concat(ctx, 2, (zen_tensor *[]){past_k, k}, 2);
    if (past_v) v = zen_concat(ctx, 2, (zen_tensor *[]){past_v, v}, 2);
    /* Fused causal attention; the mask is aligned to the end of the keys, so the new queries
     * are the last positions after the cached ones. */
    zen_tensor *o = zen_attention(ctx, parts[0], k, v, NULL,
                                  (zen_attention_opts){.causal = true, .dropout = drop ? s->dropout : 0, .seed = seed});
    o = zen_reshape(ctx, zen_permute(ctx, o, (int[]){0, 2, 1, 3}), 3, (int64_t[]){b, steps, d});
    o = zen_linear(ctx, o, w[OUT_W], w[OUT_B]);
    if (drop) o = zen_dropout(ctx, o, s->dropout, seed + 1);
    x = zen_add(ctx, x, o);
    /* MLP */
    zen_tensor *m = zen_layer_norm(ctx, x, w[LN2_G], w[LN2_B], s->epsilon);
    m = zen_gelu_tanh(ctx, zen_linear(ctx, m, w[FC_W], w[FC_B]));
    m = zen_linear(ctx, m, w[PROJ_W], w[PROJ_B]);
    if (drop) m = zen_dropout(ctx, m, s->dropout, seed + 2);
    return zen_add(ctx, x, m);
}

static zen_tensor *block_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n;
    return zen__gpt2_block(ctx, l, x[0], NULL, NULL, NULL, NULL, info->training, info->seed);
}

const zen_layer_type zen_layer_type_gpt2_block = {"GPT2Block", 1, 1, block_build, block_call, .propagates_mask = false};

/* ---- LMHead ---- */

static int head_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)n;
    const char *name;
    if (!zen__cfg_str(l, "embedding", NULL, &name)) return -1;
    if (!name) return ZEN_LAYER_ERROR(l, "embedding must name the layer whose token table it reuses");
    zen_layer *e = NULL;
    for (int i = 0; i < m->nlayers && !e; i++)
        if (!strcmp(m->layers[i]->name, name)) e = m->layers[i];
    if (!e || !e->built || (strcmp(e->type->class_name, "TokenAndPositionEmbedding") &&
                            strcmp(e->type->class_name, "Embedding")))
        return ZEN_LAYER_ERROR(l, "embedding '%s' is not an Embedding or TokenAndPositionEmbedding layer applied "
                                  "before this one", name);
    zen_tensor *table = e->weights[0];
    if (in->ndim < 1 || in->dim[in->ndim - 1] != table->shape[1])
        return ZEN_LAYER_ERROR(l, "input width %lld does not match the embedding width %lld of '%s'",
                               in->ndim ? (long long)in->dim[in->ndim - 1] : 0LL, (long long)table->shape[1], name);
    zen_layer **tied = ZEN_LAYER_STATE(l, zen_layer *);
    if (!tied) return -1;
    *tied = e;
    *out = *in;
    out->dim[out->ndim - 1] = table->shape[0];
    return 0;
}

zen_tensor *zen__lm_head(zen_ctx *ctx, zen_layer *l, zen_tensor *x) {
    zen_layer *e = *(zen_layer **)l->state;
    return zen_linear(ctx, x, e->weights[0], NULL);
}

static zen_tensor *head_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    return zen__lm_head(ctx, l, x[0]);
}

const zen_layer_type zen_layer_type_lm_head = {"LMHead", 1, 1, head_build, head_call, .propagates_mask = false};
