/* binary.c — add, sub, mul, div with NumPy broadcasting. */
#include "../core/internal.h"
#include "loops.h"

static zen_tensor *binary(zen_ctx *ctx, int op, const char *fn, zen_tensor *a, zen_tensor *b) {
    if (!a || !b) return NULL;
    if (!zen__check_f32(ctx, fn, "a", a) || !zen__check_f32(ctx, fn, "b", b)) return NULL;
    int ndim;
    int64_t shape[ZEN_MAX_DIMS];
    if (!zen__broadcast_shape(ctx, fn, a, b, &ndim, shape)) return NULL;
    return zen__node(ctx, op, ZEN_F32, ndim, shape, a, b, NULL, NULL);
}

zen_tensor *zen_add(zen_ctx *ctx, zen_tensor *a, zen_tensor *b) { return binary(ctx, ZEN_OP_ADD, "zen_add", a, b); }
zen_tensor *zen_sub(zen_ctx *ctx, zen_tensor *a, zen_tensor *b) { return binary(ctx, ZEN_OP_SUB, "zen_sub", a, b); }
zen_tensor *zen_mul(zen_ctx *ctx, zen_tensor *a, zen_tensor *b) { return binary(ctx, ZEN_OP_MUL, "zen_mul", a, b); }
zen_tensor *zen_div(zen_ctx *ctx, zen_tensor *a, zen_tensor *b) { return binary(ctx, ZEN_OP_DIV, "zen_div", a, b); }

ZEN_DEFINE_BINARY_ROW(add_row, x + y)
ZEN_DEFINE_BINARY_ROW(sub_row, x - y)
ZEN_DEFINE_BINARY_ROW(mul_row, x * y)
ZEN_DEFINE_BINARY_ROW(div_row, x / y)

static void add_forward(zen_tensor *out, zen_exec *ex) { zen__binary_map(out, out->src[0], out->src[1], ex, add_row); }
static void sub_forward(zen_tensor *out, zen_exec *ex) { zen__binary_map(out, out->src[0], out->src[1], ex, sub_row); }
static void mul_forward(zen_tensor *out, zen_exec *ex) { zen__binary_map(out, out->src[0], out->src[1], ex, mul_row); }
static void div_forward(zen_tensor *out, zen_exec *ex) { zen__binary_map(out, out->src[0], out->src[1], ex, div_row); }

/* Gradients are computed at the output's (broadcast) shape; zen__accum_grad sums them
 * down to each input's shape. */
static void add_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__accum_grad(ctx, out->src[0], out->grad);
    zen__accum_grad(ctx, out->src[1], out->grad);
}

/* -g for b is negated after it is summed down to b's shape: when b was broadcast (x - mean
 * in a layernorm), the negation runs on the small tensor instead of the output's size. */
static void sub_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *b = out->src[1];
    zen__accum_grad(ctx, out->src[0], out->grad);
    if (zen__needs_grad(b)) zen__accum_grad(ctx, b, zen_neg(ctx, zen__reduce_to_shape(ctx, out->grad, b->ndim, b->shape)));
}

/* x * x (the same tensor twice): one gradient (g * x) * 2 instead of g * x computed twice
 * and summed; the same floats, since g*x + g*x == 2 * (g*x) exactly. */
static void mul_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *a = out->src[0], *b = out->src[1];
    if (a == b) {
        if (zen__needs_grad(a)) zen__accum_grad(ctx, a, zen_scale(ctx, zen_mul(ctx, out->grad, a), 2.0f));
        return;
    }
    if (zen__needs_grad(a)) zen__accum_grad(ctx, a, zen_mul(ctx, out->grad, b));
    if (zen__needs_grad(b)) zen__accum_grad(ctx, b, zen_mul(ctx, out->grad, a));
}

/* d(a/b)/da = 1/b; d(a/b)/db = -a/b² = -out/b. */
static void div_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *a = out->src[0], *b = out->src[1];
    zen_tensor *g_over_b = zen_div(ctx, out->grad, b);
    if (zen__needs_grad(a)) zen__accum_grad(ctx, a, g_over_b);
    if (zen__needs_grad(b)) zen__accum_grad(ctx, b, zen_neg(ctx, zen_mul(ctx, g_over_b, out)));
}

const zen_op_def zen_op_add = {"add", add_forward, add_backward, NULL, false};
const zen_op_def zen_op_sub = {"sub", sub_forward, sub_backward, NULL, false};
const zen_op_def zen_op_mul = {"mul", mul_forward, mul_backward, NULL, false};
const zen_op_def zen_op_div = {"div", div_forward, div_backward, NULL, false};
