/* attention.h — the multi-head attention shared by MultiHeadAttention and the Transformer
 * blocks (attention.c, transformer.c). */
#ifndef ZEN_LAYERS_ATTENTION_H
#define ZEN_LAYERS_ATTENTION_H

#include "../nn.h"

/* One multi-head attention: its sizes and where its weights start in l->weights, in the
 * order query kernel, query bias, key kernel, key bias, value kernel, value bias, output
 * kernel, output bias (biases only with use_bias). Kernels have PyTorch's Linear layout
 * [out, in]: query [heads * key_dim, query_dim], key [heads * key_dim, key_dim_in], value
 * [heads * value_dim, value_dim_in], output [output_dim, heads * value_dim]. */
typedef struct zen__mha {
    int heads, key_dim, value_dim;
    bool use_bias, causal;
    float dropout;
    int w0;
} zen__mha;

/* Creates the weights, each named prefix + "query_kernel" etc. Keras's initializers:
 * glorot_uniform kernels with the fans Keras computes for its EinsumDense kernels, zero
 * biases. Returns 0 or -1. */
int zen__mha_build(zen_layer *l, zen_model *m, zen__mha *a, const char *prefix, int64_t query_dim, int64_t key_in,
                   int64_t value_in, int64_t out_dim);
/* out [B, Tq, out_dim] from query [B, Tq, query_dim], key [B, Tk, key_in], value [B, Tk,
 * value_in]; key_mask f32 [B, Tk] (1 keep, 0 padding) or NULL; seed for dropout. */
zen_tensor *zen__mha_call(zen_layer *l, zen_ctx *ctx, const zen__mha *a, zen_tensor *query, zen_tensor *key,
                          zen_tensor *value, zen_tensor *key_mask, uint64_t seed);

#endif
