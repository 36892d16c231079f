/* norm.c — BatchNormalization and LayerNormalization, built from existing ops.
 *
 * Axes are Keras's: they count the batch dim (0) and are channels-last, so the default
 * axis -1 is the channel axis of an image (axis 1 of zen's NCHW tensor). Both normalise
 * with the biased (population) variance of what they reduce over, as Keras does:
 *   y = (x - mean) / sqrt(var + epsilon) * gamma + beta.
 * BatchNormalization in a training graph uses the statistics of the batch and registers
 * two post-step updates (zen_model_graph.updates), applied after each optimizer step:
 *   moving_mean     = momentum * moving_mean     + (1 - momentum) * batch mean
 *   moving_variance = momentum * moving_variance + (1 - momentum) * batch variance (biased)
 * exactly as Keras does; an inference graph normalises with the moving statistics.
 * LayerNormalization over zen's last axis (one Keras axis that is not an image's channel
 * axis) runs the fused zen_layer_norm; RMSNormalization (Keras 3: axis -1, epsilon 1e-6, a
 * learnable "scale" of ones) computes y = x * rsqrt(mean(x^2) + epsilon) * scale, fused
 * (zen_rms_norm) over the last axis. */
#include "../nn.h"

#include <math.h>
#include <stdlib.h>

/* Reads "axis" (an int or a list of ints, Keras axes of a rank-dim input counting the
 * batch dim) into sorted, distinct axes in 1..rank-1. max_axes 1 accepts one axis only. */
static bool read_axes(zen_layer *l, int rank, int max_axes, int *axes, int *naxes) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(l->config, "axis");
    int vals[ZEN_MAX_DIMS], n = 0;
    if (!v || cJSON_IsNull(v)) {
        vals[n++] = -1;
    } else if (cJSON_IsNumber(v)) {
        vals[n++] = (int)v->valuedouble;
        if (v->valuedouble != vals[0]) return zen__layer_fail(l, "axis must be an integer");
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) >= 1 && cJSON_GetArraySize(v) <= max_axes &&
               cJSON_GetArraySize(v) <= ZEN_MAX_DIMS) {
        const cJSON *e;
        cJSON_ArrayForEach(e, v) {
            if (!cJSON_IsNumber(e) || e->valuedouble != (int)e->valuedouble)
                return zen__layer_fail(l, "axis must be an integer or a list of integers");
            vals[n++] = (int)e->valuedouble;
        }
    } else {
        return max_axes == 1 ? zen__layer_fail(l, "axis must be an integer")
                             : zen__layer_fail(l, "axis must be an integer or a list of 1 to %d integers", rank - 1);
    }
    bool used[ZEN_MAX_DIMS] = {false};
    for (int k = 0; k < n; k++) {
        int a = vals[k] < 0 ? vals[k] + rank : vals[k];
        if (a <= 0 || a >= rank)
            return zen__layer_fail(l, "axis %d is out of range for inputs of %d dims with the batch dim (valid: "
                                      "1..%d or -1..-%d; axis 0 is the batch)", vals[k], rank, rank - 1, rank - 1);
        if (used[a]) return zen__layer_fail(l, "axis %d is given twice", vals[k]);
        used[a] = true;
    }
    *naxes = 0;
    for (int a = 1; a < rank; a++)
        if (used[a]) axes[(*naxes)++] = a;
    return true;
}

/* The zen axes a normalisation reduces over: all but the feature axes (batch norm), or
 * exactly the given ones (layer norm); Keras axes mapped to zen's layout. */
static int reduce_axes(int rank, int naxes, const int *axes, bool complement, int *out) {
    bool is_feature[ZEN_MAX_DIMS] = {false};
    for (int k = 0; k < naxes; k++) is_feature[axes[k]] = true;
    int n = 0;
    for (int a = 0; a < rank; a++)
        if (is_feature[a] != complement) out[n++] = zen__internal_axis(a, rank);
    return n;
}

/* ---- BatchNormalization: axis -1, momentum 0.99, epsilon 1e-3, center, scale ---- */

typedef struct {
    int axis; /* Keras axis, 1..rank-1 */
    float momentum, epsilon;
    bool center, scale;
    int gamma, beta, mean, var; /* weight indices; -1 when absent */
} bn_state;

static int bn_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)n;
    bn_state *s = ZEN_LAYER_STATE(l, bn_state);
    if (!s) return -1;
    int rank = in->ndim + 1, naxes;
    bool renorm;
    if (!read_axes(l, rank, 1, &s->axis, &naxes) || !zen__cfg_float(l, "momentum", 0.99f, &s->momentum) ||
        !zen__cfg_float(l, "epsilon", 1e-3f, &s->epsilon) || !zen__cfg_bool(l, "center", true, &s->center) ||
        !zen__cfg_bool(l, "scale", true, &s->scale) || !zen__cfg_bool(l, "renorm", false, &renorm))
        return -1;
    if (!(s->momentum >= 0 && s->momentum <= 1)) return ZEN_LAYER_ERROR(l, "momentum must be in [0, 1], got %g", s->momentum);
    if (!(s->epsilon > 0)) return ZEN_LAYER_ERROR(l, "epsilon must be positive, got %g", s->epsilon);
    if (renorm) return ZEN_LAYER_ERROR(l, "renorm is not supported");
    int64_t c = in->dim[s->axis - 1];
    *out = *in;
    s->gamma = s->beta = -1;
    if (s->scale) {
        s->gamma = l->nweights;
        if (!zen__layer_add_weight(l, m, "gamma", 1, &c, "ones", 0, 0, true)) return -1;
    }
    if (s->center) {
        s->beta = l->nweights;
        if (!zen__layer_add_weight(l, m, "beta", 1, &c, "zeros", 0, 0, true)) return -1;
    }
    s->mean = l->nweights;
    if (!zen__layer_add_weight(l, m, "moving_mean", 1, &c, "zeros", 0, 0, false)) return -1;
    s->var = l->nweights;
    if (!zen__layer_add_weight(l, m, "moving_variance", 1, &c, "ones", 0, 0, false)) return -1;
    return 0;
}

static zen_tensor *bn_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n;
    bn_state *s = l->state;
    zen_tensor *in = x[0];
    if (!in) return NULL;
    int rank = in->ndim, axes[ZEN_MAX_DIMS];
    int nred = reduce_axes(rank, 1, &s->axis, true, axes);
    zen_tensor *gamma = s->gamma >= 0 ? zen__broadcast_weight(ctx, l->weights[s->gamma], rank, 1, &s->axis) : NULL;
    zen_tensor *beta = s->beta >= 0 ? zen__broadcast_weight(ctx, l->weights[s->beta], rank, 1, &s->axis) : NULL;
    zen_tensor *eps = zen_scalar(ctx, s->epsilon);
    if (info->training) {
        zen_model_graph *mg = info->mg;
        if (!mg) return zen__layer_fail(l, "a training graph needs a model graph for the moving statistics"), NULL;
        if (mg->nupdates + 2 > (int)(sizeof mg->updates / sizeof mg->updates[0]))
            return zen__layer_fail(l, "too many moving-statistics updates in one graph (at most %d BatchNormalization "
                                      "applications)", (int)(sizeof mg->updates / sizeof mg->updates[0]) / 2), NULL;
        zen_tensor *mean = zen_mean(ctx, in, nred, axes, true);
        zen_tensor *d = zen_sub(ctx, in, mean);
        zen_tensor *var = zen_mean(ctx, zen_mul(ctx, d, d), nred, axes, true);
        zen_tensor *inv = zen_rsqrt(ctx, zen_add(ctx, var, eps));
        if (gamma) inv = zen_mul(ctx, inv, gamma);
        zen_tensor *y = zen_mul(ctx, d, inv);
        if (beta) y = zen_add(ctx, y, beta);
        if (!y) return NULL;
        for (int k = 0; k < 2; k++) {
            mg->updates[mg->nupdates].dst = l->weights[k ? s->var : s->mean];
            mg->updates[mg->nupdates].src = k ? var : mean;
            mg->updates[mg->nupdates].momentum = s->momentum;
            mg->nupdates++;
        }
        return y;
    }
    /* Inference: y = x * a + b with a = gamma / sqrt(moving_variance + epsilon) and
     * b = beta - moving_mean * a, both per feature. */
    zen_tensor *mean = zen__broadcast_weight(ctx, l->weights[s->mean], rank, 1, &s->axis);
    zen_tensor *var = zen__broadcast_weight(ctx, l->weights[s->var], rank, 1, &s->axis);
    zen_tensor *a = zen_rsqrt(ctx, zen_add(ctx, var, eps));
    if (gamma) a = zen_mul(ctx, a, gamma);
    zen_tensor *b = zen_neg(ctx, zen_mul(ctx, mean, a));
    if (beta) b = zen_add(ctx, b, beta);
    return zen_add(ctx, zen_mul(ctx, in, a), b);
}

const zen_layer_type zen_layer_type_batch_normalization = {"BatchNormalization", 1, 1, bn_build, bn_call, .propagates_mask = false};

/* ---- LayerNormalization: axis -1 (or a list), epsilon 1e-3, center, scale ---- */

typedef struct {
    int axes[ZEN_MAX_DIMS], naxes; /* Keras axes, sorted */
    float epsilon;
    bool center, scale;
} ln_state;

static int ln_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)n;
    ln_state *s = ZEN_LAYER_STATE(l, ln_state);
    if (!s) return -1;
    int rank = in->ndim + 1;
    bool rms;
    if (!read_axes(l, rank, rank - 1, s->axes, &s->naxes) || !zen__cfg_float(l, "epsilon", 1e-3f, &s->epsilon) ||
        !zen__cfg_bool(l, "center", true, &s->center) || !zen__cfg_bool(l, "scale", true, &s->scale) ||
        !zen__cfg_bool(l, "rms_scaling", false, &rms))
        return -1;
    if (!(s->epsilon > 0)) return ZEN_LAYER_ERROR(l, "epsilon must be positive, got %g", s->epsilon);
    if (rms) return ZEN_LAYER_ERROR(l, "rms_scaling is not supported");
    int64_t shape[ZEN_MAX_DIMS];
    for (int k = 0; k < s->naxes; k++) shape[k] = in->dim[s->axes[k] - 1];
    *out = *in;
    if (s->scale && !zen__layer_add_weight(l, m, "gamma", s->naxes, shape, "ones", 0, 0, true)) return -1;
    if (s->center && !zen__layer_add_weight(l, m, "beta", s->naxes, shape, "zeros", 0, 0, true)) return -1;
    return 0;
}

static zen_tensor *ln_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    ln_state *s = l->state;
    zen_tensor *in = x[0];
    if (!in) return NULL;
    int rank = in->ndim, axes[ZEN_MAX_DIMS];
    int nred = reduce_axes(rank, s->naxes, s->axes, false, axes);
    if (nred == 1 && axes[0] == rank - 1) {
        /* The common case (features on zen's last axis: sequences, vectors): the fused op
         * of src/ops/norm.c, one node forward and one backward. */
        int w = 0;
        zen_tensor *gamma = s->scale ? l->weights[w++] : NULL, *beta = s->center ? l->weights[w++] : NULL;
        return zen_layer_norm(ctx, in, gamma, beta, s->epsilon);
    }
    zen_tensor *mean = zen_mean(ctx, in, nred, axes, true);
    zen_tensor *d = zen_sub(ctx, in, mean);
    zen_tensor *var = zen_mean(ctx, zen_mul(ctx, d, d), nred, axes, true);
    zen_tensor *y = zen_mul(ctx, d, zen_rsqrt(ctx, zen_add(ctx, var, zen_scalar(ctx, s->epsilon))));
    int w = 0;
    if (s->scale) y = zen_mul(ctx, y, zen__broadcast_weight(ctx, l->weights[w++], rank, s->naxes, s->axes));
    if (s->center) y = zen_add(ctx, y, zen__broadcast_weight(ctx, l->weights[w++], rank, s->naxes, s->axes));
    return y;
}

const zen_layer_type zen_layer_type_layer_normalization = {"LayerNormalization", 1, 1, ln_build, ln_call, .propagates_mask = true};

/* ---- RMSNormalization: axis -1, epsilon 1e-6, weight "scale" (ones) ---- */

typedef struct {
    int axis; /* Keras axis, 1..rank-1 */
    float epsilon;
} rms_state;

static int rms_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)n;
    rms_state *s = ZEN_LAYER_STATE(l, rms_state);
    if (!s) return -1;
    int rank = in->ndim + 1, naxes;
    if (!read_axes(l, rank, 1, &s->axis, &naxes) || !zen__cfg_float(l, "epsilon", 1e-6f, &s->epsilon)) return -1;
    if (!(s->epsilon >= 0) || isinf(s->epsilon))
        return ZEN_LAYER_ERROR(l, "epsilon must be a finite number >= 0, got %g", s->epsilon);
    int64_t d = in->dim[s->axis - 1];
    *out = *in;
    return zen__layer_add_weight(l, m, "scale", 1, &d, "ones", 0, 0, true) ? 0 : -1;
}

static zen_tensor *rms_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    rms_state *s = l->state;
    zen_tensor *in = x[0];
    if (!in) return NULL;
    int rank = in->ndim, axis;
    reduce_axes(rank, 1, &s->axis, false, &axis);
    if (axis == rank - 1) return zen_rms_norm(ctx, in, l->weights[0], s->epsilon);
    zen_tensor *ms = zen_mean(ctx, zen_mul(ctx, in, in), 1, &axis, true);
    zen_tensor *y = zen_mul(ctx, in, zen_rsqrt(ctx, zen_add(ctx, ms, zen_scalar(ctx, s->epsilon))));
    return zen_mul(ctx, y, zen__broadcast_weight(ctx, l->weights[0], rank, 1, &s->axis));
}

const zen_layer_type zen_layer_type_rms_normalization = {"RMSNormalization", 1, 1, rms_build, rms_call,
                                                         .propagates_mask = true};
