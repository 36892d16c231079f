/* transformer.c — TransformerEncoder and TransformerDecoder blocks (KerasHub names and
 * arguments): intermediate_dim and num_heads (required), dropout 0, activation "relu",
 * layer_norm_epsilon 1e-5, normalize_first false, seed. Input [batch, steps, hidden] with
 * hidden a multiple of num_heads (key_dim = value_dim = hidden / num_heads).
 *
 *   normalize_first false (post-norm, the original Transformer):
 *     x = LN1(x + dropout(MHA(x, x, x)));   y = LN2(x + dropout(W2 act(W1 x + b1) + b2))
 *   normalize_first true (pre-norm, GPT-2 style):
 *     x = x + dropout(MHA(LN1(x)));          y = x + dropout(W2 act(W1 LN2(x) + b1) + b2)
 *
 * The attention also drops its weights with rate dropout, as KerasHub's. TransformerEncoder
 * attends over all steps ("use_causal_mask": true makes it causal, a zen config flag: zen's
 * call has no keyword arguments); TransformerDecoder is the decoder-only block: causal
 * self-attention ("use_causal_mask" defaults to true) and no cross-attention (an
 * encoder_sequence input is not supported). Padded steps (the Keras mask the input carries)
 * are hidden from attention; the mask is passed on.
 *
 * Weights (16, in this order; kernels in PyTorch's [out, in] layout, see attention.c for the
 * attention's): attention_{query,key,value,output}_{kernel,bias}, attention_norm_gamma,
 * attention_norm_beta, ffn_intermediate_kernel [intermediate_dim, hidden],
 * ffn_intermediate_bias, ffn_output_kernel [hidden, intermediate_dim], ffn_output_bias,
 * ffn_norm_gamma, ffn_norm_beta. KerasHub's names: _self_attention_layer (its
 * query/key/value/attention_output dense kernels), _self_attention_layer_norm,
 * _feedforward_intermediate_dense, _feedforward_output_dense, _feedforward_layer_norm. */
#include "attention.h"

#include <math.h>

typedef struct {
    zen__mha a;
    int intermediate, seed;
    float dropout, eps;
    bool normalize_first;
    zen_activation act;
    int ln1, ffn, ln2; /* weight indices */
} block_state;

static int block_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out, bool decoder) {
    block_state *s = ZEN_LAYER_STATE(l, block_state);
    if (!s) return -1;
    int heads;
    if (!zen__cfg_int(l, "intermediate_dim", 0, true, &s->intermediate) ||
        !zen__cfg_int(l, "num_heads", 0, true, &heads) || !zen__cfg_float(l, "dropout", 0.0f, &s->dropout) ||
        !zen__cfg_float(l, "layer_norm_epsilon", 1e-5f, &s->eps) ||
        !zen__cfg_bool(l, "normalize_first", false, &s->normalize_first) ||
        !zen__cfg_bool(l, "use_causal_mask", decoder, &s->a.causal) || !zen__cfg_int(l, "seed", -1, false, &s->seed))
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(l->config, "activation")) {
        if (!zen__parse_activation(l, "activation", &s->act)) return -1;
    } else {
        s->act = ZEN_ACT_RELU; /* KerasHub's default */
    }
    if (n > 1) return ZEN_LAYER_ERROR(l, "cross-attention (an encoder_sequence input) is not supported");
    if (s->intermediate <= 0) return ZEN_LAYER_ERROR(l, "intermediate_dim must be positive, got %d", s->intermediate);
    if (heads <= 0) return ZEN_LAYER_ERROR(l, "num_heads must be positive, got %d", heads);
    if (!(s->dropout >= 0 && s->dropout < 1)) return ZEN_LAYER_ERROR(l, "dropout must be in [0, 1), got %g", s->dropout);
    if (!(s->eps > 0)) return ZEN_LAYER_ERROR(l, "layer_norm_epsilon must be positive, got %g", s->eps);
    if (in->ndim != 2)
        return ZEN_LAYER_ERROR(l, "input must be [batch, steps, hidden] (2 dims without the batch), got %d dims",
                               in->ndim);
    const int64_t hidden = in->dim[1];
    if (hidden % heads != 0)
        return ZEN_LAYER_ERROR(l, "the hidden size %lld is not a multiple of num_heads %d", (long long)hidden, heads);
    s->a.heads = heads;
    s->a.key_dim = s->a.value_dim = (int)(hidden / heads);
    s->a.use_bias = true;
    s->a.dropout = s->dropout;
    *out = *in;
    if (zen__mha_build(l, m, &s->a, "attention_", hidden, hidden, hidden, hidden) != 0) return -1;
    s->ln1 = l->nweights;
    if (!zen__layer_add_weight(l, m, "attention_norm_gamma", 1, &hidden, "ones", 0, 0, true) ||
        !zen__layer_add_weight(l, m, "attention_norm_beta", 1, &hidden, "zeros", 0, 0, true))
        return -1;
    s->ffn = l->nweights;
    const int64_t inter = s->intermediate;
    if (!zen__layer_add_weight(l, m, "ffn_intermediate_kernel", 2, (int64_t[]){inter, hidden}, "glorot_uniform", hidden,
                               inter, true) ||
        !zen__layer_add_weight(l, m, "ffn_intermediate_bias", 1, &inter, "zeros", 0, 0, true) ||
        !zen__layer_add_weight(l, m, "ffn_output_kernel", 2, (int64_t[]){hidden, inter}, "glorot_uniform", inter,
                               hidden, true) ||
        !zen__layer_add_weight(l, m, "ffn_output_bias", 1, &hidden, "zeros", 0, 0, true))
        return -1;
    s->ln2 = l->nweights;
    if (!zen__layer_add_weight(l, m, "ffn_norm_gamma", 1, &hidden, "ones", 0, 0, true) ||
        !zen__layer_add_weight(l, m, "ffn_norm_beta", 1, &hidden, "zeros", 0, 0, true))
        return -1;
    return 0;
}

static int encoder_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    return block_build(l, m, n, in, out, false);
}
static int decoder_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    return block_build(l, m, n, in, out, true);
}

static zen_tensor *block_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n;
    block_state *s = l->state;
    zen_tensor *in = x[0];
    if (!in) return NULL;
    if (in->dtype != ZEN_F32)
        return zen__layer_fail(l, "input must be float32, got %s (token ids need an Embedding first)",
                               zen_dtype_name(in->dtype)), NULL;
    zen_tensor *const *w = l->weights;
    const uint64_t seed = s->seed >= 0 ? (uint64_t)s->seed : info->seed;
    zen_tensor *mask = info->masks ? info->masks[0] : NULL;
    const bool nf = s->normalize_first;

    zen_tensor *h = nf ? zen_layer_norm(ctx, in, w[s->ln1], w[s->ln1 + 1], s->eps) : in;
    h = zen__mha_call(l, ctx, &s->a, h, h, h, mask, seed * 3 + 1);
    if (s->dropout > 0) h = zen_dropout(ctx, h, s->dropout, seed * 3 + 2);
    zen_tensor *y = zen_add(ctx, h, in);
    if (!nf) y = zen_layer_norm(ctx, y, w[s->ln1], w[s->ln1 + 1], s->eps);

    h = nf ? zen_layer_norm(ctx, y, w[s->ln2], w[s->ln2 + 1], s->eps) : y;
    h = zen__activate(ctx, zen_linear(ctx, h, w[s->ffn], w[s->ffn + 1]), s->act, -1);
    h = zen_linear(ctx, h, w[s->ffn + 2], w[s->ffn + 3]);
    if (s->dropout > 0) h = zen_dropout(ctx, h, s->dropout, seed * 3 + 3);
    zen_tensor *out = zen_add(ctx, h, y);
    if (!nf) out = zen_layer_norm(ctx, out, w[s->ln2], w[s->ln2 + 1], s->eps);
    return out;
}

const zen_layer_type zen_layer_type_transformer_encoder = {"TransformerEncoder", 1, 1, encoder_build, block_call,
                                                           .propagates_mask = true};
const zen_layer_type zen_layer_type_transformer_decoder = {"TransformerDecoder", 1, 2, decoder_build, block_call,
                                                           .propagates_mask = true};
