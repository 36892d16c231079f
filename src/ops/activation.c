/* activation.c — relu, leaky_relu, elu, sigmoid, tanh, gelu (erf and tanh), silu, softplus.
 * Definitions follow torch.nn.functional. Gradients use the fused UNARY_BACK node of
 * unary.c; the derivative of each activation is in zen__unary_back_activation below.
 *
 * Transcendentals come from vmath.h (branch-free float approximations, a few ulp), so every
 * row kernel, forward and backward, vectorizes inside its ZEN_TARGET_CLONES function.
 * Formulas avoid cancellation: sigmoid-like terms are built from e = exp(-|z|) (see
 * zen_vm__sigmoid_parts), elu uses expm1, softplus is max(z, 0) + log1p(exp(-|z|)), and
 * gelu's tail uses erfc directly, so the outputs and derivatives keep their relative
 * accuracy in the tails where 1 - y, 1 + tanh or 1 + erf would round to 0. */
#include "../core/internal.h"
#include "loops.h"
#include "vmath.h"

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
zen_tensor *zen_leaky_relu(zen_ctx *ctx, zen_tensor *x, float slope) {
    if (x && !isfinite(slope)) return zen__fail(ctx, "zen_leaky_relu: slope must be finite, got %g", slope);
    return activation(ctx, ZEN_OP_LEAKY_RELU, "zen_leaky_relu", x, slope, 0);
}
zen_tensor *zen_elu(zen_ctx *ctx, zen_tensor *x, float alpha) {
    if (x && !isfinite(alpha)) return zen__fail(ctx, "zen_elu: alpha must be finite, got %g", alpha);
    return activation(ctx, ZEN_OP_ELU, "zen_elu", x, alpha, 0);
}
zen_tensor *zen_sigmoid(zen_ctx *ctx, zen_tensor *x) { return activation(ctx, ZEN_OP_SIGMOID, "zen_sigmoid", x, 0, 0); }
zen_tensor *zen_tanh(zen_ctx *ctx, zen_tensor *x) { return activation(ctx, ZEN_OP_TANH, "zen_tanh", x, 0, 0); }
zen_tensor *zen_gelu(zen_ctx *ctx, zen_tensor *x) { return activation(ctx, ZEN_OP_GELU, "zen_gelu", x, 0, 0); }
zen_tensor *zen_gelu_tanh(zen_ctx *ctx, zen_tensor *x) {
    return activation(ctx, ZEN_OP_GELU_TANH, "zen_gelu_tanh", x, 0, 0);
}
zen_tensor *zen_silu(zen_ctx *ctx, zen_tensor *x) { return activation(ctx, ZEN_OP_SILU, "zen_silu", x, 0, 0); }
/* PyTorch divides by beta without checking; zen refuses a beta that makes every output
 * inf or NaN. A NaN threshold means "never linear", as the comparison does in PyTorch. */
zen_tensor *zen_softplus(zen_ctx *ctx, zen_tensor *x, float beta, float threshold) {
    if (x && (beta == 0.0f || !isfinite(beta)))
        return zen__fail(ctx, "zen_softplus: beta must be finite and nonzero, got %g", beta);
    return activation(ctx, ZEN_OP_SOFTPLUS, "zen_softplus", x, beta, threshold);
}

/* ---- forward ---- */

/* gelu_tanh(x) = x/2 (1 + tanh(k (x + 0.044715 x^3))) = x sigmoid(2k (x + 0.044715 x^3)),
 * k = sqrt(2/pi); z = x (GT_A + GT_B x^2) is that sigmoid's argument. */
#define GT_A 1.59576912160573071f   /* 2 sqrt(2/pi) */
#define GT_B 0.0713548162726008990f /* 2 sqrt(2/pi) 0.044715 */

/* softplus(z) = log(1 + e^z) without overflow or cancellation */
static inline __attribute__((always_inline)) float softplus1(float z) {
    return (z > 0.0f ? z : 0.0f) + zen_vm_log1p(zen_vm_exp(-zen_vm__abs(z)));
}

/* Parameters go in as arguments so that p[0] is read unconditionally: a load under a
 * condition (x > 0 ? x : x * p[0]) may trap as far as GCC knows, which blocks vectorization. */
static inline __attribute__((always_inline)) float leaky_relu1(float x, float slope) {
    return x > 0.0f ? x : x * slope;
}
static inline __attribute__((always_inline)) float elu1(float x, float alpha) {
    return x > 0.0f ? x : alpha * zen_vm_expm1(x);
}

ZEN_DEFINE_UNARY_ROW(relu_row, x < 0.0f ? 0.0f : x) /* torch: NaN stays NaN, -0 stays -0 */
ZEN_DEFINE_UNARY_ROW(leaky_relu_row, leaky_relu1(x, p[0]))
ZEN_DEFINE_UNARY_ROW(elu_row, elu1(x, p[0]))
ZEN_DEFINE_UNARY_ROW(sigmoid_row, zen_vm_sigmoid(x))
ZEN_DEFINE_UNARY_ROW(tanh_row, zen_vm_tanh(x))
ZEN_DEFINE_UNARY_ROW(gelu_row, x * zen_vm_ndtr(x))
ZEN_DEFINE_UNARY_ROW(gelu_tanh_row, x * zen_vm_sigmoid(x * (GT_A + GT_B * (x * x))))
ZEN_DEFINE_UNARY_ROW(silu_row, x * zen_vm_sigmoid(x))
/* PyTorch: x when beta x > threshold, else log1p(exp(beta x)) / beta */
ZEN_DEFINE_UNARY_ROW(softplus_row, x * p[0] > p[1] ? x : softplus1(x * p[0]) / p[0])

#define FORWARD(name)                                                                     \
    static void name##_forward(zen_tensor *out, zen_exec *ex) {                           \
        zen__unary_map(out, out->src[0], ex, name##_row);                                 \
    }
FORWARD(relu)
FORWARD(leaky_relu)
FORWARD(elu)
FORWARD(sigmoid)
FORWARD(tanh)
FORWARD(gelu)
FORWARD(gelu_tanh)
FORWARD(silu)
FORWARD(softplus)
#undef FORWARD

/* ---- backward ---- */

static void activation_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__accum_grad(ctx, out->src[0], zen__unary_back(ctx, out));
}

/* gelu'(x) = Phi(x) + x phi(x), both from one exp */
static inline __attribute__((always_inline)) float gelu_d(float x) {
    float pdf, cdf = zen_vm__ndtr_pdf(x, &pdf);
    return cdf + x * pdf;
}
/* The logistic parts of silu and gelu_tanh come from e = exp(-|z|) and inv = 1 / (1 + e):
 * s(z) = z >= 0 ? inv : e inv, and s'(z) = s(z) s(-z) = e inv^2 (no 1 - s).
 * silu'(x) = s + x s(1 - s) */
static inline __attribute__((always_inline)) float silu_d(float x) {
    float e, inv;
    float s = zen_vm__sigmoid_parts(x, &e, &inv);
    return s + x * (e * inv * inv);
}
/* gelu_tanh'(x) = s(z) + x s'(z) dz/dx with z = x (A + B x^2), dz/dx = A + 3 B x^2 */
static inline __attribute__((always_inline)) float gelu_tanh_d(float x) {
    float x2 = x * x, e, inv;
    float s = zen_vm__sigmoid_parts(x * (GT_A + GT_B * x2), &e, &inv);
    return s + (x * (e * inv * inv)) * (GT_A + 3.0f * GT_B * x2);
}

/* x or y: relu and leaky_relu read x (PyTorch's conventions at the kink, f'(0) = 0 for
 * relu and slope for leaky_relu, and at NaN). sigmoid, tanh and elu read y, as PyTorch
 * does: y (1 - y), 1 - y^2 and y + alpha need no transcendental, so the loop runs at
 * memory speed (0.15 vs 0.44-0.47 ns/element for the exp-based forms on one Zen4 core,
 * 1M floats in cache, bench/elementwise.c). Their error is bounded in absolute terms
 * (< 2^-24 relative to the function's scale, 1 or alpha); only the relative accuracy of
 * derivatives below ~1e-5 (saturated units) is lost. gelu, gelu_tanh, silu and softplus
 * read x: the y-forms there would divide by x or cancel. */
ZEN_DEFINE_DERIV_ROW(relu_d_row, x <= 0.0f ? 0.0f : 1.0f) /* torch: 1 at NaN */
ZEN_DEFINE_DERIV_ROW(leaky_relu_d_row, x > 0.0f ? 1.0f : p[0])
ZEN_DEFINE_DERIV_ROW(elu_d_row, x <= 0.0f ? y + p[0] : 1.0f) /* alpha e^x = y + alpha */
ZEN_DEFINE_DERIV_ROW(sigmoid_d_row, y * (1.0f - y))
ZEN_DEFINE_DERIV_ROW(tanh_d_row, 1.0f - y * y)
ZEN_DEFINE_DERIV_ROW(gelu_d_row, gelu_d(x))
ZEN_DEFINE_DERIV_ROW(gelu_tanh_d_row, gelu_tanh_d(x))
ZEN_DEFINE_DERIV_ROW(silu_d_row, silu_d(x))
ZEN_DEFINE_DERIV_ROW(softplus_d_row, x * p[0] > p[1] ? 1.0f : zen_vm_sigmoid(x * p[0]))

void zen__unary_back_activation(zen_tensor *out, zen_exec *ex) {
    zen_deriv_row row;
    switch (out->ip[0]) {
    case ZEN_OP_RELU: row = relu_d_row; break;
    case ZEN_OP_LEAKY_RELU: row = leaky_relu_d_row; break;
    case ZEN_OP_ELU: row = elu_d_row; break;
    case ZEN_OP_SIGMOID: row = sigmoid_d_row; break;
    case ZEN_OP_TANH: row = tanh_d_row; break;
    case ZEN_OP_GELU: row = gelu_d_row; break;
    case ZEN_OP_GELU_TANH: row = gelu_tanh_d_row; break;
    case ZEN_OP_SILU: row = silu_d_row; break;
    case ZEN_OP_SOFTPLUS: row = softplus_d_row; break;
    default: zen__exec_fail(ex, "unary_back: no derivative for op %s", zen_op_name((int)out->ip[0])); return;
    }
    zen__deriv_map(out, ex, row);
}

const zen_op_def zen_op_relu = {"relu", relu_forward, activation_backward, NULL, false};
const zen_op_def zen_op_leaky_relu = {"leaky_relu", leaky_relu_forward, activation_backward, NULL, false};
const zen_op_def zen_op_elu = {"elu", elu_forward, activation_backward, NULL, false};
const zen_op_def zen_op_sigmoid = {"sigmoid", sigmoid_forward, activation_backward, NULL, false};
const zen_op_def zen_op_tanh = {"tanh", tanh_forward, activation_backward, NULL, false};
const zen_op_def zen_op_gelu = {"gelu", gelu_forward, activation_backward, NULL, false};
const zen_op_def zen_op_gelu_tanh = {"gelu_tanh", gelu_tanh_forward, activation_backward, NULL, false};
const zen_op_def zen_op_silu = {"silu", silu_forward, activation_backward, NULL, false};
const zen_op_def zen_op_softplus = {"softplus", softplus_forward, activation_backward, NULL, false};
