/* attention.c — MultiHeadAttention (Keras), PositionEmbedding and
 * SinusoidalPositionEncoding (KerasHub).
 *
 * MultiHeadAttention: num_heads and key_dim (required), value_dim (key_dim), dropout 0,
 * use_bias true, output_shape (the query's last dim), seed. Applied to [query, value] or
 * [query, value, key] (key defaults to value), each [batch, steps, features], as Keras's
 * call(query, value, key). zen's call takes no keyword arguments, so Keras's call argument
 * use_causal_mask is a config flag here ("use_causal_mask": true); for queries shorter than
 * the keys zen's causal mask is aligned to the end of the keys (zen_attention), Keras's to the
 * start. Padding comes from the Keras masks the model carries: the key's (else the value's)
 * mask hides padded keys. Padded query steps still get outputs (Keras gives them the average
 * of the values); their mask is passed on, so losses and later layers ignore them.
 * attention_axes other than null (the steps axis) and return_attention_scores are not
 * supported.
 *
 * Weights (PyTorch Linear layouts, so zen_linear applies them directly):
 *   query_kernel [H*key_dim, query_dim]   = Keras query/kernel [query_dim, H, key_dim]
 *                                           reshaped to [query_dim, H*key_dim], transposed
 *   query_bias   [H*key_dim]              = Keras query/bias [H, key_dim], flattened
 *   key_kernel, key_bias, value_kernel [H*value_dim, value_dim_in], value_bias: the same
 *   output_kernel [out, H*value_dim]      = Keras attention_output/kernel [H, value_dim, out]
 *                                           reshaped to [H*value_dim, out], transposed
 *   output_bias  [out]                    = Keras attention_output/bias
 * (torch.nn.MultiheadAttention: in_proj_weight = concat(query_kernel, key_kernel,
 * value_kernel), out_proj.weight = output_kernel.) Scores are scaled by 1/sqrt(key_dim).
 *
 * PositionEmbedding (KerasHub): sequence_length (required), initializer glorot_uniform.
 * Input [batch, steps, features] with steps <= sequence_length; the output is the learned
 * embeddings of positions 0..steps-1 broadcast to the input's shape (add it to the token
 * embeddings yourself, as with KerasHub). Weight "embeddings" [sequence_length, features].
 *
 * SinusoidalPositionEncoding (KerasHub): max_wavelength 10000. The output, broadcast to the
 * input's shape [batch, steps, features], holds for position p and feature i
 *   sin(p * w^(i/F)) for even i,  cos(p * w^((i-1)/F)) for odd i,   w = 1/max_wavelength,
 * F the number of features, as KerasHub computes it. No weights. */
#include "attention.h"

#include <math.h>
#include <stdlib.h>

/* ---- shared multi-head attention ---- */

int zen__mha_build(zen_layer *l, zen_model *m, zen__mha *a, const char *prefix, int64_t query_dim, int64_t key_in,
                   int64_t value_in, int64_t out_dim) {
    const int64_t H = a->heads, kd = a->key_dim, vd = a->value_dim;
    const struct {
        const char *name;
        int64_t out, in, fan_in, fan_out;
    } proj[4] = {
        {"query", H * kd, query_dim, H * query_dim, kd * query_dim},
        {"key", H * kd, key_in, H * key_in, kd * key_in},
        {"value", H * vd, value_in, H * value_in, vd * value_in},
        {"output", out_dim, H * vd, vd * H, out_dim * H},
    };
    a->w0 = l->nweights;
    for (int p = 0; p < 4; p++) {
        char name[32];
        snprintf(name, sizeof name, "%s%s_kernel", prefix, proj[p].name);
        if (!zen__layer_add_weight(l, m, name, 2, (int64_t[]){proj[p].out, proj[p].in}, "glorot_uniform",
                                   proj[p].fan_in, proj[p].fan_out, true))
            return -1;
        if (!a->use_bias) continue;
        snprintf(name, sizeof name, "%s%s_bias", prefix, proj[p].name);
        if (!zen__layer_add_weight(l, m, name, 1, &proj[p].out, "zeros", 0, 0, true)) return -1;
    }
    return 0;
}

/* x [B, T, heads * d] -> a [B, heads, T, d] view (zen_attention reads it in place). */
static zen_tensor *split_heads(zen_ctx *ctx, zen_tensor *x, int heads, int d) {
    if (!x) return NULL;
    zen_tensor *r = zen_reshape(ctx, x, 4, (int64_t[]){x->shape[0], x->shape[1], heads, d});
    return zen_permute(ctx, r, (const int[]){0, 2, 1, 3});
}

zen_tensor *zen__mha_call(zen_layer *l, zen_ctx *ctx, const zen__mha *a, zen_tensor *query, zen_tensor *key,
                          zen_tensor *value, zen_tensor *key_mask, uint64_t seed) {
    if (!query || !key || !value) return NULL;
    zen_tensor *const *w = l->weights + a->w0;
    const int step = a->use_bias ? 2 : 1;
    zen_tensor *wt[4], *bs[4];
    for (int p = 0; p < 4; p++) wt[p] = w[p * step], bs[p] = a->use_bias ? w[p * step + 1] : NULL;
    zen_tensor *q = split_heads(ctx, zen_linear(ctx, query, wt[0], bs[0]), a->heads, a->key_dim);
    zen_tensor *k = split_heads(ctx, zen_linear(ctx, key, wt[1], bs[1]), a->heads, a->key_dim);
    zen_tensor *v = split_heads(ctx, zen_linear(ctx, value, wt[2], bs[2]), a->heads, a->value_dim);
    zen_attention_opts o = {.scale = 1.0f / sqrtf((float)a->key_dim), .causal = a->causal, .dropout = a->dropout,
                            .seed = seed};
    zen_tensor *y = zen_attention(ctx, q, k, v, key_mask, o); /* [B, H, Tq, vd] */
    if (!y) return NULL;
    y = zen_permute(ctx, y, (const int[]){0, 2, 1, 3});
    y = zen_reshape(ctx, y, 3, (int64_t[]){query->shape[0], query->shape[1], (int64_t)a->heads * a->value_dim});
    return zen_linear(ctx, y, wt[3], bs[3]);
}

/* ---- MultiHeadAttention ---- */

typedef struct {
    zen__mha a;
    int seed;
} mha_state;

/* Keras's output_shape: null, an int, or a list of one int. */
static bool read_output_shape(zen_layer *l, int64_t def, int64_t *out) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(l->config, "output_shape");
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return true;
    }
    if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == 1) v = cJSON_GetArrayItem(v, 0);
    if (!cJSON_IsNumber(v) || v->valuedouble != (int64_t)v->valuedouble || v->valuedouble <= 0)
        return zen__layer_fail(l, "output_shape must be null, a positive integer or a list of one (only the last "
                                  "axis can be projected)");
    *out = (int64_t)v->valuedouble;
    return true;
}

static int mha_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    mha_state *s = ZEN_LAYER_STATE(l, mha_state);
    if (!s) return -1;
    zen__mha *a = &s->a;
    bool scores = false;
    if (!zen__cfg_int(l, "num_heads", 0, true, &a->heads) || !zen__cfg_int(l, "key_dim", 0, true, &a->key_dim) ||
        !zen__cfg_int(l, "value_dim", a->key_dim, false, &a->value_dim) ||
        !zen__cfg_float(l, "dropout", 0.0f, &a->dropout) || !zen__cfg_bool(l, "use_bias", true, &a->use_bias) ||
        !zen__cfg_bool(l, "use_causal_mask", false, &a->causal) || !zen__cfg_int(l, "seed", -1, false, &s->seed) ||
        !zen__cfg_bool(l, "return_attention_scores", false, &scores))
        return -1;
    if (a->heads <= 0) return ZEN_LAYER_ERROR(l, "num_heads must be positive, got %d", a->heads);
    if (a->key_dim <= 0) return ZEN_LAYER_ERROR(l, "key_dim must be positive, got %d", a->key_dim);
    if (a->value_dim <= 0) return ZEN_LAYER_ERROR(l, "value_dim must be positive, got %d", a->value_dim);
    if (!(a->dropout >= 0 && a->dropout < 1)) return ZEN_LAYER_ERROR(l, "dropout must be in [0, 1), got %g", a->dropout);
    if (scores) return ZEN_LAYER_ERROR(l, "return_attention_scores is not supported");
    cJSON *axes = cJSON_GetObjectItemCaseSensitive(l->config, "attention_axes");
    if (axes && !cJSON_IsNull(axes)) return ZEN_LAYER_ERROR(l, "attention_axes is not supported (only null: the steps axis)");
    const char *names[3] = {"query", "value", "key"};
    for (int i = 0; i < n; i++)
        if (in[i].ndim != 2)
            return ZEN_LAYER_ERROR(l, "%s must be [batch, steps, features] (2 dims without the batch), got %d dims",
                                   names[i], in[i].ndim);
    const zen_shape *key = n > 2 ? &in[2] : &in[1];
    if (key->dim[0] != in[1].dim[0])
        return ZEN_LAYER_ERROR(l, "key and value must have the same number of steps, got %lld and %lld",
                               (long long)key->dim[0], (long long)in[1].dim[0]);
    int64_t out_dim = 0;
    if (!read_output_shape(l, in[0].dim[1], &out_dim)) return -1;
    *out = in[0];
    out->dim[1] = out_dim;
    return zen__mha_build(l, m, a, "", in[0].dim[1], key->dim[1], in[1].dim[1], out_dim);
}

/* The mask of the keys: the key input's, else the value's (both when both are given). */
static zen_tensor *key_mask_of(zen_ctx *ctx, int n, const zen_call_info *info) {
    if (!info->masks) return NULL;
    zen_tensor *mv = info->masks[1], *mk = n > 2 ? info->masks[2] : NULL;
    if (mv && mk) return zen_mul(ctx, mv, mk);
    return mk ? mk : mv;
}

static zen_tensor *mha_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    mha_state *s = l->state;
    for (int i = 0; i < n; i++)
        if (x[i] && x[i]->dtype != ZEN_F32)
            return zen__layer_fail(l, "inputs must be float32, got %s (token ids need an Embedding first)",
                                   zen_dtype_name(x[i]->dtype)), NULL;
    uint64_t seed = s->seed >= 0 ? (uint64_t)s->seed : info->seed;
    return zen__mha_call(l, ctx, &s->a, x[0], n > 2 ? x[2] : x[1], x[1], key_mask_of(ctx, n, info), seed);
}

const zen_layer_type zen_layer_type_multi_head_attention = {"MultiHeadAttention", 2, 3, mha_build, mha_call,
                                                            .propagates_mask = true};

/* ---- PositionEmbedding (KerasHub) ---- */

static int pe_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)n;
    int len;
    const char *init;
    if (!zen__cfg_int(l, "sequence_length", 0, true, &len) ||
        !zen__cfg_str(l, "initializer", "glorot_uniform", &init))
        return -1;
    if (len <= 0) return ZEN_LAYER_ERROR(l, "sequence_length must be positive, got %d", len);
    if (in->ndim != 2)
        return ZEN_LAYER_ERROR(l, "input must be [batch, steps, features] (2 dims without the batch), got %d dims",
                               in->ndim);
    if (in->dim[0] > len)
        return ZEN_LAYER_ERROR(l, "the input has %lld steps, more than sequence_length %d", (long long)in->dim[0], len);
    *out = *in;
    int64_t d = in->dim[1];
    return zen__layer_add_weight(l, m, "embeddings", 2, (int64_t[]){len, d}, init, len, d, true) ? 0 : -1;
}

static zen_tensor *pe_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    if (!x[0]) return NULL;
    zen_tensor *e = zen_slice(ctx, l->weights[0], 0, 0, x[0]->shape[1], 1);
    return zen_expand(ctx, e, 3, x[0]->shape);
}

const zen_layer_type zen_layer_type_position_embedding = {"PositionEmbedding", 1, 1, pe_build, pe_call,
                                                          .propagates_mask = true};

/* ---- SinusoidalPositionEncoding (KerasHub) ---- */

typedef struct {
    float max_wavelength;
} spe_state;

static int spe_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)m, (void)n;
    spe_state *s = ZEN_LAYER_STATE(l, spe_state);
    if (!s || !zen__cfg_float(l, "max_wavelength", 10000.0f, &s->max_wavelength)) return -1;
    if (!(s->max_wavelength > 0) || isinf(s->max_wavelength))
        return ZEN_LAYER_ERROR(l, "max_wavelength must be a finite number > 0, got %g", s->max_wavelength);
    if (in->ndim != 2)
        return ZEN_LAYER_ERROR(l, "input must be [batch, steps, features] (2 dims without the batch), got %d dims",
                               in->ndim);
    *out = *in;
    return 0;
}

static zen_tensor *spe_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    spe_state *s = l->state;
    if (!x[0]) return NULL;
    const int64_t T = x[0]->shape[1], F = x[0]->shape[2];
    zen_tensor *pe = zen_const(ctx, ZEN_F32, 2, (int64_t[]){T, F});
    if (!pe) return NULL;
    float *d = pe->data;
    const double min_freq = 1.0 / s->max_wavelength;
    for (int64_t t = 0; t < T; t++)
        for (int64_t i = 0; i < F; i++) {
            /* KerasHub computes timescales and angles in float32 */
            float ts = (float)pow(min_freq, (double)(float)(2 * (i / 2)) / (double)(float)F);
            float angle = (float)t * ts;
            d[t * F + i] = i % 2 ? cosf(angle) : sinf(angle);
        }
    return zen_expand(ctx, pe, 3, x[0]->shape);
}

const zen_layer_type zen_layer_type_sinusoidal_position_encoding = {"SinusoidalPositionEncoding", 1, 1, spe_build,
                                                                    spe_call, .propagates_mask = true};
