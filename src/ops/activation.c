/* activation.c — relu, leaky_relu, elu, sigmoid, tanh, gelu (erf and tanh), silu, softplus.
 * Definitions follow torch.nn.functional. Gradients use the fused UNARY_BACK node of
 * unary.c; the derivative of each activation is in zen__unary_back_activation below. */
#include "../core/internal.h"
#include "loops.h"

#include <math.h>

static zen_tensor *activation(zen_ctx *ctx, int op, const char *fn, zen_tensor *x, float p0, float p1) {
    if (!x) return NULL;
    if (!zen__check_f32(ctx, fn, "x", x)) return NULL;
    zen_tensor *t = zen__node(ctx, op, ZEN_F32, x->ndim, x->shape, x, NULL, NULL, NULL);
    if (t) {
        t->fp[0] = p0;
        t->fp[1] = p1;
    }
    return t;
}

zen_tensor *zen_relu(zen_ctx *ctx, zen_tensor *x) { return activation(ctx, ZEN_OP_RELU, "zen_relu", x, 0, 0); }

ZEN_DEFINE_UNARY_ROW(relu_row, x > 0.0f ? x : 0.0f)

static void relu_forward(zen_tensor *out, zen_exec *ex) { zen__unary_map(out, out->src[0], ex, relu_row); }

static void activation_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__accum_grad(ctx, out->src[0], zen__unary_back(ctx, out));
}

void zen__unary_back_activation(zen_tensor *out, zen_exec *ex) {
    const float *G = out->src[0]->data, *X = out->src[1]->data, *Y = out->src[2]->data;
    float *O = out->data;
    int64_t n = zen_numel(out);
    int nt = zen__threads_for(ex, n);
    switch (out->ip[0]) {
    case ZEN_OP_RELU: ZEN_DERIV_LOOP(x > 0.0f ? 1.0f : 0.0f) break;
    default: zen__exec_fail(ex, "unary_back: no derivative for op %s", zen_op_name((int)out->ip[0])); break;
    }
}

const zen_op_def zen_op_relu = {"relu", relu_forward, activation_backward, NULL, false};
