/* core.c — Input, Dense, Flatten, Reshape, Activation, Dropout. */
#include "../nn.h"

#include <stdlib.h>

/* ---- Input: {"shape": [28, 28, 1]} or Keras's {"batch_input_shape": [null, 28, 28, 1]},
 * "dtype": "float32" (default) or "int32" (token ids). ---- */

static int input_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)m, (void)n, (void)in;
    cJSON *shape = cJSON_GetObjectItem(l->config, "shape");
    int skip = 0;
    if (!shape) {
        shape = cJSON_GetObjectItem(l->config, "batch_input_shape");
        if (!shape) shape = cJSON_GetObjectItem(l->config, "batch_shape");
        skip = 1;
    }
    int nd = cJSON_GetArraySize(shape) - skip;
    if (!cJSON_IsArray(shape) || nd < 1 || nd > ZEN_MAX_DIMS - 1)
        return ZEN_LAYER_ERROR(l, "shape must be a list of 1 to %d positive sizes (no batch dimension)", ZEN_MAX_DIMS - 1);
    out->ndim = nd;
    for (int d = 0; d < nd; d++) {
        cJSON *v = cJSON_GetArrayItem(shape, d + skip);
        if (!cJSON_IsNumber(v) || v->valuedouble < 1 || v->valuedouble > 1e9 || v->valuedouble != (int64_t)v->valuedouble)
            return ZEN_LAYER_ERROR(l, "shape must be a list of positive sizes; item %d is not", d);
        out->dim[d] = (int64_t)v->valuedouble;
    }
    const char *dtype;
    if (!zen__cfg_str(l, "dtype", "float32", &dtype)) return -1;
    if (strcmp(dtype, "float32") && strcmp(dtype, "int32") && strcmp(dtype, "int64"))
        return ZEN_LAYER_ERROR(l, "dtype must be float32, int32 or int64, got '%s'", dtype);
    return 0;
}

const zen_layer_type zen_layer_type_input = {"Input", 0, 0, input_build, NULL, .propagates_mask = false};

/* ---- Dense ---- */

typedef struct {
    zen_activation act;
    bool use_bias;
} dense_state;

static int dense_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)n;
    dense_state *s = ZEN_LAYER_STATE(l, dense_state);
    if (!s) return -1;
    int units;
    if (!zen__cfg_int(l, "units", 0, true, &units) || !zen__parse_activation(l, "activation", &s->act) ||
        !zen__cfg_bool(l, "use_bias", true, &s->use_bias))
        return -1;
    if (units <= 0) return ZEN_LAYER_ERROR(l, "units must be positive, got %d", units);
    int64_t fan_in = in->dim[in->ndim - 1];
    *out = *in;
    out->dim[out->ndim - 1] = units;
    if (!zen__layer_add_weight(l, m, "kernel", 2, (int64_t[]){units, fan_in}, "glorot_uniform", fan_in, units, true))
        return -1;
    if (s->use_bias && !zen__layer_add_weight(l, m, "bias", 1, (int64_t[]){units}, "zeros", 0, 0, true)) return -1;
    return 0;
}

static zen_tensor *dense_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    dense_state *s = l->state;
    if (x[0] && x[0]->dtype != ZEN_F32)
        return zen__layer_fail(l, "input must be float32, got %s (token ids need an Embedding first)",
                               zen_dtype_name(x[0]->dtype)), NULL;
    zen_tensor *in = zen__to_nhwc(ctx, x[0]); /* Keras applies Dense to the last (channel) axis */
    zen_tensor *y = zen_linear(ctx, in, l->weights[0], s->use_bias ? l->weights[1] : NULL);
    y = zen__activate(ctx, y, s->act, -1);
    return x[0]->ndim == 4 ? zen__to_nchw(ctx, y) : y;
}

const zen_layer_type zen_layer_type_dense = {"Dense", 1, 1, dense_build, dense_call, .propagates_mask = true};

/* ---- Flatten: Keras order (channels last) ---- */

static int flatten_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)l, (void)m, (void)n;
    out->ndim = 1;
    out->dim[0] = 1;
    for (int d = 0; d < in->ndim; d++) out->dim[0] *= in->dim[d];
    return 0;
}

static zen_tensor *flatten_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)l, (void)n, (void)info;
    return zen_flatten(ctx, zen__to_nhwc(ctx, x[0]), 1);
}

const zen_layer_type zen_layer_type_flatten = {"Flatten", 1, 1, flatten_build, flatten_call, .propagates_mask = false};

/* ---- Reshape: {"target_shape": [...]} in Keras (channels-last) terms, one -1 allowed ---- */

static int reshape_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)m, (void)n;
    cJSON *ts = cJSON_GetObjectItem(l->config, "target_shape");
    int nd = cJSON_GetArraySize(ts);
    if (!cJSON_IsArray(ts) || nd < 1 || nd > ZEN_MAX_DIMS - 1)
        return ZEN_LAYER_ERROR(l, "target_shape must be a list of 1 to %d sizes", ZEN_MAX_DIMS - 1);
    int64_t total = 1, known = 1;
    for (int d = 0; d < in->ndim; d++) total *= in->dim[d];
    int infer = -1;
    out->ndim = nd;
    for (int d = 0; d < nd; d++) {
        cJSON *v = cJSON_GetArrayItem(ts, d);
        if (!cJSON_IsNumber(v) || v->valuedouble != (int64_t)v->valuedouble || v->valuedouble < -1 || v->valuedouble == 0)
            return ZEN_LAYER_ERROR(l, "target_shape item %d must be a positive size or -1", d);
        out->dim[d] = (int64_t)v->valuedouble;
        if (out->dim[d] == -1) {
            if (infer >= 0) return ZEN_LAYER_ERROR(l, "target_shape has more than one -1");
            infer = d;
        } else {
            known *= out->dim[d];
        }
    }
    if (infer >= 0 && total % known == 0) out->dim[infer] = total / known, known = total;
    if (known != total)
        return ZEN_LAYER_ERROR(l, "cannot reshape %lld values per sample into target_shape", (long long)total);
    return 0;
}

static zen_tensor *reshape_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    int64_t shape[ZEN_MAX_DIMS] = {x[0]->shape[0]};
    for (int d = 0; d < l->out_shape.ndim; d++) shape[d + 1] = l->out_shape.dim[d];
    zen_tensor *y = zen_reshape(ctx, zen__to_nhwc(ctx, x[0]), l->out_shape.ndim + 1, shape);
    return zen__to_nchw(ctx, y);
}

const zen_layer_type zen_layer_type_reshape = {"Reshape", 1, 1, reshape_build, reshape_call, .propagates_mask = false};

/* ---- Activation ---- */

static int activation_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)m, (void)n;
    zen_activation *act = ZEN_LAYER_STATE(l, zen_activation);
    if (!act) return -1;
    if (!zen__parse_activation(l, "activation", act)) return -1;
    *out = *in;
    return 0;
}

static zen_tensor *activation_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    /* softmax over the feature axis: channels, which are axis 1 of an NCHW image */
    return zen__activate(ctx, x[0], *(zen_activation *)l->state, x[0]->ndim == 4 ? 1 : -1);
}

const zen_layer_type zen_layer_type_activation = {"Activation", 1, 1, activation_build, activation_call, .propagates_mask = true};

/* ---- Dropout: {"rate": r, "seed": optional} ---- */

typedef struct {
    float rate;
    int seed;
} dropout_state;

static int dropout_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)m, (void)n;
    dropout_state *s = ZEN_LAYER_STATE(l, dropout_state);
    if (!s) return -1;
    if (!zen__cfg_float(l, "rate", 0, &s->rate) || !zen__cfg_int(l, "seed", -1, false, &s->seed)) return -1;
    if (!(s->rate >= 0 && s->rate < 1)) return ZEN_LAYER_ERROR(l, "rate must be in [0, 1), got %g", s->rate);
    if (cJSON_GetObjectItem(l->config, "noise_shape") && !cJSON_IsNull(cJSON_GetObjectItem(l->config, "noise_shape")))
        return ZEN_LAYER_ERROR(l, "noise_shape is not supported");
    *out = *in;
    return 0;
}

static zen_tensor *dropout_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n;
    dropout_state *s = l->state;
    if (!info->training || s->rate == 0) return x[0];
    uint64_t seed = s->seed >= 0 ? (uint64_t)s->seed : info->seed;
    return zen_dropout(ctx, x[0], s->rate, seed);
}

const zen_layer_type zen_layer_type_dropout = {"Dropout", 1, 1, dropout_build, dropout_call, .propagates_mask = true};
