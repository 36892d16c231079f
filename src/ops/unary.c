/* unary.c — neg, scale, pow, exp, log, sqrt, rsqrt, abs, clip.
 *
 * Forward kernels are row kernels run by zen__unary_map. Gradients that are not a simple
 * product of existing ops go through UNARY_BACK(g, x, out), one fused kernel per op kind
 * (ip[0] = the forward op id), so backward costs one pass over memory. */
#include "../core/internal.h"
#include "loops.h"
#include "vmath.h"

#include <math.h>

static zen_tensor *unary(zen_ctx *ctx, int op, const char *fn, zen_tensor *x) {
    if (!x) return NULL;
    if (!zen__check_f32(ctx, fn, "x", x)) return NULL;
    return zen__node(ctx, op, ZEN_F32, x->ndim, x->shape, x, NULL, NULL, NULL);
}

static zen_tensor *unary_p(zen_ctx *ctx, int op, const char *fn, zen_tensor *x, float p0, float p1) {
    zen_tensor *t = unary(ctx, op, fn, x);
    if (t) {
        t->fp[0] = p0;
        t->fp[1] = p1;
    }
    return t;
}

zen_tensor *zen_neg(zen_ctx *ctx, zen_tensor *x) { return unary(ctx, ZEN_OP_NEG, "zen_neg", x); }
zen_tensor *zen_scale(zen_ctx *ctx, zen_tensor *x, float s) { return unary_p(ctx, ZEN_OP_SCALE, "zen_scale", x, s, 0); }
zen_tensor *zen_pow(zen_ctx *ctx, zen_tensor *x, float p) { return unary_p(ctx, ZEN_OP_POW, "zen_pow", x, p, 0); }
zen_tensor *zen_exp(zen_ctx *ctx, zen_tensor *x) { return unary(ctx, ZEN_OP_EXP, "zen_exp", x); }
zen_tensor *zen_log(zen_ctx *ctx, zen_tensor *x) { return unary(ctx, ZEN_OP_LOG, "zen_log", x); }
zen_tensor *zen_sqrt(zen_ctx *ctx, zen_tensor *x) { return unary(ctx, ZEN_OP_SQRT, "zen_sqrt", x); }
zen_tensor *zen_rsqrt(zen_ctx *ctx, zen_tensor *x) { return unary(ctx, ZEN_OP_RSQRT, "zen_rsqrt", x); }
zen_tensor *zen_abs(zen_ctx *ctx, zen_tensor *x) { return unary(ctx, ZEN_OP_ABS, "zen_abs", x); }

zen_tensor *zen_clip(zen_ctx *ctx, zen_tensor *x, float lo, float hi) {
    if (x && lo > hi) return zen__fail(ctx, "zen_clip: lo (%g) is greater than hi (%g)", lo, hi);
    return unary_p(ctx, ZEN_OP_CLIP, "zen_clip", x, lo, hi);
}

ZEN_DEFINE_UNARY_ROW(neg_row, -x)
ZEN_DEFINE_UNARY_ROW(scale_row, x * p[0])
ZEN_DEFINE_UNARY_ROW(pow_row, powf(x, p[0]))
/* vmath.h: branch-free, vectorizable, ~1 ulp (libm's expf/logf would be scalar calls) */
ZEN_DEFINE_UNARY_ROW(exp_row, zen_vm_exp(x))
ZEN_DEFINE_UNARY_ROW(log_row, zen_vm_log(x))
ZEN_DEFINE_UNARY_ROW(sqrt_row, sqrtf(x))
ZEN_DEFINE_UNARY_ROW(rsqrt_row, 1.0f / sqrtf(x))
ZEN_DEFINE_UNARY_ROW(abs_row, fabsf(x))
/* torch.clamp: NaN stays NaN */
ZEN_DEFINE_UNARY_ROW(clip_row, x < p[0] ? p[0] : x > p[1] ? p[1] : x)

#define FORWARD(name)                                                                     \
    static void name##_forward(zen_tensor *out, zen_exec *ex) {                           \
        zen__unary_map(out, out->src[0], ex, name##_row);                                 \
    }
FORWARD(neg)
FORWARD(scale)
FORWARD(pow)
FORWARD(exp)
FORWARD(log)
FORWARD(sqrt)
FORWARD(rsqrt)
FORWARD(abs)
FORWARD(clip)
#undef FORWARD

/* ---- backward ---- */

/* A fused gradient node: d = g * f'(x, out) for the forward op `out`. */
zen_tensor *zen__unary_back(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *x = zen__dense(ctx, out->src[0]);
    zen_tensor *g = zen__dense(ctx, out->grad);
    if (!g || !x) return NULL;
    zen_tensor *t = zen__node(ctx, ZEN_OP_UNARY_BACK, ZEN_F32, x->ndim, x->shape, g, x, out, NULL);
    if (!t) return NULL;
    t->ip[0] = out->op;
    memcpy(t->fp, out->fp, sizeof t->fp);
    return t;
}

static void unary_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__accum_grad(ctx, out->src[0], zen__unary_back(ctx, out));
}

static void neg_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__accum_grad(ctx, out->src[0], zen_neg(ctx, out->grad));
}

static void scale_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__accum_grad(ctx, out->src[0], zen_scale(ctx, out->grad, out->fp[0]));
}

ZEN_DEFINE_DERIV_ROW(pow_d_row, p[0] * powf(x, p[0] - 1.0f))
ZEN_DEFINE_DERIV_ROW(exp_d_row, y)
ZEN_DEFINE_DERIV_ROW(log_d_row, 1.0f / x)
ZEN_DEFINE_DERIV_ROW(sqrt_d_row, 0.5f / y)
ZEN_DEFINE_DERIV_ROW(rsqrt_d_row, -0.5f * y * y * y)
ZEN_DEFINE_DERIV_ROW(abs_d_row, x > 0 ? 1.0f : x < 0 ? -1.0f : 0.0f)
/* torch.clamp passes the gradient where lo <= x <= hi */
ZEN_DEFINE_DERIV_ROW(clip_d_row, x >= p[0] && x <= p[1] ? 1.0f : 0.0f)

static void unary_back_forward(zen_tensor *out, zen_exec *ex) {
    switch (out->ip[0]) {
    case ZEN_OP_POW: zen__deriv_map(out, ex, pow_d_row); break;
    case ZEN_OP_EXP: zen__deriv_map(out, ex, exp_d_row); break;
    case ZEN_OP_LOG: zen__deriv_map(out, ex, log_d_row); break;
    case ZEN_OP_SQRT: zen__deriv_map(out, ex, sqrt_d_row); break;
    case ZEN_OP_RSQRT: zen__deriv_map(out, ex, rsqrt_d_row); break;
    case ZEN_OP_ABS: zen__deriv_map(out, ex, abs_d_row); break;
    case ZEN_OP_CLIP: zen__deriv_map(out, ex, clip_d_row); break;
    default: zen__unary_back_activation(out, ex); break;
    }
}

const zen_op_def zen_op_neg = {"neg", neg_forward, neg_backward, NULL, false};
const zen_op_def zen_op_scale = {"scale", scale_forward, scale_backward, NULL, false};
const zen_op_def zen_op_pow = {"pow", pow_forward, unary_backward, NULL, false};
const zen_op_def zen_op_exp = {"exp", exp_forward, unary_backward, NULL, false};
const zen_op_def zen_op_log = {"log", log_forward, unary_backward, NULL, false};
const zen_op_def zen_op_sqrt = {"sqrt", sqrt_forward, unary_backward, NULL, false};
const zen_op_def zen_op_rsqrt = {"rsqrt", rsqrt_forward, unary_backward, NULL, false};
const zen_op_def zen_op_abs = {"abs", abs_forward, unary_backward, NULL, false};
const zen_op_def zen_op_clip = {"clip", clip_forward, unary_backward, NULL, false};
const zen_op_def zen_op_unary_back = {"unary_back", unary_back_forward, NULL, NULL, false};
