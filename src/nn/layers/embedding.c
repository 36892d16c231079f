/* embedding.c — Embedding: i32 token ids of any shape -> their rows of a [input_dim,
 * output_dim] table, as Keras (embeddings_initializer "uniform": U(-0.05, 0.05)). The ids
 * come from an Input with dtype "int32"; an id outside [0, input_dim) makes compute fail
 * with an error naming it. mask_zero=True makes id 0 padding: the layer outputs a Keras mask
 * (f32, 1 where the id is not 0, the ids' shape) for the layers after it (RNNs skip those
 * steps); as in Keras, id 0 still has its row, so input_dim counts it. */
#include "../nn.h"

#include <stdlib.h>

static int embedding_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)n;
    int input_dim, output_dim;
    bool mask_zero;
    if (!zen__cfg_int(l, "input_dim", 0, true, &input_dim) || !zen__cfg_int(l, "output_dim", 0, true, &output_dim) ||
        !zen__cfg_bool(l, "mask_zero", false, &mask_zero))
        return -1;
    if (input_dim <= 0) return ZEN_LAYER_ERROR(l, "input_dim must be positive, got %d", input_dim);
    if (output_dim <= 0) return ZEN_LAYER_ERROR(l, "output_dim must be positive, got %d", output_dim);
    if (in->ndim + 1 >= ZEN_MAX_DIMS)
        return ZEN_LAYER_ERROR(l, "inputs of %d dims are too many (at most %d)", in->ndim, ZEN_MAX_DIMS - 2);
    *out = *in;
    out->dim[out->ndim++] = output_dim;
    if (!zen__layer_add_weight(l, m, "embeddings", 2, (int64_t[]){input_dim, output_dim}, "random_uniform", input_dim,
                               output_dim, true))
        return -1;
    return 0;
}

static zen_tensor *embedding_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n;
    if (!x[0]) return NULL;
    if (x[0]->dtype != ZEN_I32)
        return zen__layer_fail(l, "input must be int32 token ids, got %s (declare the Input with dtype \"int32\")",
                               zen_dtype_name(x[0]->dtype)), NULL;
    bool mask_zero = false;
    zen__cfg_bool(l, "mask_zero", false, &mask_zero);
    if (mask_zero && info->out_mask) {
        zen_tensor *ids = zen__to_nhwc(ctx, x[0]);
        *info->out_mask = zen_where(ctx, ids, zen_scalar(ctx, 1.0f), zen_scalar(ctx, 0.0f));
    }
    zen_tensor *y = zen_embedding(ctx, l->weights[0], zen__to_nhwc(ctx, x[0]));
    return y && y->ndim == 4 ? zen__to_nchw(ctx, y) : y;
}

const zen_layer_type zen_layer_type_embedding = {"Embedding", 1, 1, embedding_build, embedding_call, .propagates_mask = false};
