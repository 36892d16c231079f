/* conv.c — Conv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D.
 *
 * Keras shapes are (H, W, C); the tensors are NCHW. padding "same" follows TensorFlow:
 * the output is ceil(in / stride) and the total padding max((out - 1) * stride + window -
 * in, 0) is split with the extra row/column at the end; symmetric cases go to the kernel,
 * asymmetric ones pad explicitly first. Average pooling with "same" averages only the
 * values inside the image, as Keras does. */
#include "../nn.h"

#include <math.h>
#include <stdlib.h>

typedef struct {
    int kernel[2], strides[2], dilation[2], groups;
    bool same, use_bias;
    int pad_before[2], pad_after[2]; /* per spatial dim, from "same" */
    zen_activation act;
} window_state;

/* Reads padding and computes the output size of one spatial dim. */
static bool spatial(zen_layer *l, window_state *s, const zen_shape *in, zen_shape *out) {
    const char *padding;
    if (!zen__cfg_str(l, "padding", "valid", &padding)) return false;
    if (strcmp(padding, "valid") && strcmp(padding, "same"))
        return zen__layer_fail(l, "padding must be \"valid\" or \"same\", got \"%s\"", padding);
    const char *fmt;
    if (!zen__cfg_str(l, "data_format", "channels_last", &fmt)) return false;
    if (strcmp(fmt, "channels_last")) return zen__layer_fail(l, "only data_format \"channels_last\" is supported");
    if (in->ndim != 3) return zen__layer_fail(l, "expects inputs of shape (height, width, channels), got %d dims", in->ndim);
    s->same = !strcmp(padding, "same");
    for (int d = 0; d < 2; d++) {
        int64_t n = in->dim[d], window = (int64_t)(s->kernel[d] - 1) * s->dilation[d] + 1, o;
        if (s->same) {
            o = (n + s->strides[d] - 1) / s->strides[d];
            int64_t total = (o - 1) * s->strides[d] + window - n;
            if (total < 0) total = 0;
            s->pad_before[d] = (int)(total / 2);
            s->pad_after[d] = (int)(total - total / 2);
        } else {
            o = n >= window ? (n - window) / s->strides[d] + 1 : 0;
        }
        if (o <= 0)
            return zen__layer_fail(l, "input %lldx%lld is smaller than the window %dx%d", (long long)in->dim[0],
                                   (long long)in->dim[1], s->kernel[0], s->kernel[1]);
        out->dim[d] = o;
    }
    out->ndim = 3;
    return true;
}

static bool symmetric(const window_state *s) {
    return s->pad_before[0] == s->pad_after[0] && s->pad_before[1] == s->pad_after[1];
}

/* Pads H and W of an NCHW tensor explicitly (asymmetric "same"). */
static zen_tensor *pad_hw(zen_ctx *ctx, zen_tensor *x, const window_state *s, float value) {
    int64_t pads[8] = {0, 0, 0, 0, s->pad_before[0], s->pad_after[0], s->pad_before[1], s->pad_after[1]};
    return zen_pad(ctx, x, pads, value);
}

/* ---- Conv2D ---- */

static int conv_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)n;
    window_state *s = ZEN_LAYER_STATE(l, window_state);
    if (!s) return -1;
    int filters;
    if (!zen__cfg_int(l, "filters", 0, true, &filters) || !zen__cfg_ints(l, "kernel_size", 2, NULL, true, s->kernel) ||
        !zen__cfg_ints(l, "strides", 2, (int[]){1, 1}, false, s->strides) ||
        !zen__cfg_ints(l, "dilation_rate", 2, (int[]){1, 1}, false, s->dilation) ||
        !zen__cfg_int(l, "groups", 1, false, &s->groups) || !zen__cfg_bool(l, "use_bias", true, &s->use_bias) ||
        !zen__parse_activation(l, "activation", &s->act) || !spatial(l, s, in, out))
        return -1;
    int64_t c = in->dim[2];
    if (filters <= 0) return ZEN_LAYER_ERROR(l, "filters must be positive, got %d", filters);
    if (s->groups <= 0 || c % s->groups || filters % s->groups)
        return ZEN_LAYER_ERROR(l, "groups (%d) must divide the input channels (%lld) and filters (%d)", s->groups,
                               (long long)c, filters);
    if ((s->strides[0] > 1 || s->strides[1] > 1) && (s->dilation[0] > 1 || s->dilation[1] > 1))
        return ZEN_LAYER_ERROR(l, "strides > 1 with dilation_rate > 1 is not supported (as in Keras)");
    out->dim[2] = filters;
    int64_t receptive = (int64_t)s->kernel[0] * s->kernel[1];
    int64_t shape[4] = {filters, c / s->groups, s->kernel[0], s->kernel[1]};
    if (!zen__layer_add_weight(l, m, "kernel", 4, shape, "glorot_uniform", c / s->groups * receptive,
                               filters * receptive, true))
        return -1;
    if (s->use_bias && !zen__layer_add_weight(l, m, "bias", 1, (int64_t[]){filters}, "zeros", 0, 0, true)) return -1;
    return 0;
}

static zen_tensor *conv_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    window_state *s = l->state;
    zen_tensor *in = x[0];
    zen_conv2d_opts o = {.stride = {s->strides[0], s->strides[1]},
                         .dilation = {s->dilation[0], s->dilation[1]},
                         .groups = s->groups};
    if (symmetric(s)) {
        o.padding[0] = s->pad_before[0];
        o.padding[1] = s->pad_before[1];
    } else {
        in = pad_hw(ctx, in, s, 0.0f);
    }
    zen_tensor *y = zen_conv2d(ctx, in, l->weights[0], s->use_bias ? l->weights[1] : NULL, o);
    return zen__activate(ctx, y, s->act, 1);
}

const zen_layer_type zen_layer_type_conv2d = {"Conv2D", 1, 1, conv_build, conv_call, .propagates_mask = false};

/* ---- MaxPooling2D / AveragePooling2D: pool_size (2), strides (pool_size), padding ---- */

static int pool_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)m, (void)n;
    window_state *s = ZEN_LAYER_STATE(l, window_state);
    if (!s) return -1;
    if (!zen__cfg_ints(l, "pool_size", 2, (int[]){2, 2}, false, s->kernel)) return -1;
    if (!zen__cfg_ints(l, "strides", 2, s->kernel, false, s->strides)) return -1;
    s->dilation[0] = s->dilation[1] = 1;
    if (!spatial(l, s, in, out)) return -1;
    out->dim[2] = in->dim[2];
    return 0;
}

static zen_tensor *max_pool_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    window_state *s = l->state;
    zen_pool2d_opts o = {.kernel = {s->kernel[0], s->kernel[1]}, .stride = {s->strides[0], s->strides[1]}};
    zen_tensor *in = x[0];
    bool fits = symmetric(s) && 2 * s->pad_before[0] <= s->kernel[0] && 2 * s->pad_before[1] <= s->kernel[1];
    if (fits) {
        o.padding[0] = s->pad_before[0];
        o.padding[1] = s->pad_before[1];
    } else {
        in = pad_hw(ctx, in, s, -INFINITY);
    }
    return zen_max_pool2d(ctx, in, o);
}

/* Keras's "same" average counts only the values inside the image: the zero-padded average
 * is scaled by window / (values inside), a constant per output position. */
static zen_tensor *avg_pool_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    window_state *s = l->state;
    zen_pool2d_opts o = {.kernel = {s->kernel[0], s->kernel[1]}, .stride = {s->strides[0], s->strides[1]}};
    bool padded = s->pad_before[0] || s->pad_after[0] || s->pad_before[1] || s->pad_after[1];
    zen_tensor *y = zen_avg_pool2d(ctx, padded ? pad_hw(ctx, x[0], s, 0.0f) : x[0], o);
    if (!padded || !y) return y;
    int64_t oh = y->shape[2], ow = y->shape[3], h = x[0]->shape[2], w = x[0]->shape[3];
    zen_tensor *scale = zen_const(ctx, ZEN_F32, 4, (int64_t[]){1, 1, oh, ow});
    if (!scale) return NULL;
    float *sd = scale->data;
    for (int64_t i = 0; i < oh; i++) {
        for (int64_t j = 0; j < ow; j++) {
            int64_t r0 = i * s->strides[0] - s->pad_before[0], c0 = j * s->strides[1] - s->pad_before[1];
            int64_t rows = 0, cols = 0;
            for (int k = 0; k < s->kernel[0]; k++) rows += r0 + k >= 0 && r0 + k < h;
            for (int k = 0; k < s->kernel[1]; k++) cols += c0 + k >= 0 && c0 + k < w;
            sd[i * ow + j] = (float)(s->kernel[0] * s->kernel[1]) / (float)(rows * cols);
        }
    }
    return zen_mul(ctx, y, scale);
}

const zen_layer_type zen_layer_type_max_pooling2d = {"MaxPooling2D", 1, 1, pool_build, max_pool_call, .propagates_mask = false};
const zen_layer_type zen_layer_type_average_pooling2d = {"AveragePooling2D", 1, 1, pool_build, avg_pool_call, .propagates_mask = false};

/* ---- GlobalAveragePooling2D: (H, W, C) -> (C,), or (1, 1, C) with keepdims ---- */

static int gap_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)m, (void)n;
    bool *keep = ZEN_LAYER_STATE(l, bool);
    if (!keep || !zen__cfg_bool(l, "keepdims", false, keep)) return -1;
    if (in->ndim != 3) return ZEN_LAYER_ERROR(l, "expects inputs of shape (height, width, channels), got %d dims", in->ndim);
    if (*keep) {
        *out = (zen_shape){3, {1, 1, in->dim[2]}};
    } else {
        *out = (zen_shape){1, {in->dim[2]}};
    }
    return 0;
}

static zen_tensor *gap_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n, (void)info;
    zen_tensor *y = zen_global_avg_pool2d(ctx, x[0]);
    if (!y || !*(bool *)l->state) return y;
    return zen_reshape(ctx, y, 4, (int64_t[]){y->shape[0], y->shape[1], 1, 1});
}

const zen_layer_type zen_layer_type_global_average_pooling2d = {"GlobalAveragePooling2D", 1, 1, gap_build, gap_call, .propagates_mask = false};
