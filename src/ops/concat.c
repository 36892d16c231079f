/* concat.c — concatenation along one axis, as torch.cat.
 *
 * A node has at most ZEN_MAX_SRC (4) sources, so a concat of more than 4 inputs is built
 * as a balanced tree of CONCAT nodes over adjacent groups of inputs (fan-in 4, depth
 * ceil(log4 n)). This keeps the node format, the planner and the graph walk unchanged;
 * the price is that an element of a deep input is copied once per tree level (twice for
 * 5..16 inputs). The common cases (2 to 4 inputs) are one node and one copy. Backward
 * costs nothing: every source's gradient is a zen_slice view of the node's gradient, so
 * the tree unwinds into views of the one upstream gradient buffer.
 *
 * The kernel copies each source, with its own strides (views are not densified first),
 * into its block of the dense output. f32 and i32 tensors can be concatenated. */
#include "../core/internal.h"
#include "copy.h"

static zen_tensor *concat_node(zen_ctx *ctx, int n, zen_tensor *const *xs, int axis) {
    int64_t shape[ZEN_MAX_DIMS];
    for (int d = 0; d < xs[0]->ndim; d++) shape[d] = xs[0]->shape[d];
    shape[axis] = 0;
    for (int i = 0; i < n; i++) shape[axis] += xs[i]->shape[axis];
    zen_tensor *t = zen__node(ctx, ZEN_OP_CONCAT, xs[0]->dtype, xs[0]->ndim, shape, xs[0], n > 1 ? xs[1] : NULL,
                              n > 2 ? xs[2] : NULL, n > 3 ? xs[3] : NULL);
    if (t) t->ip[0] = axis;
    return t;
}

/* n inputs into at most 4 groups of adjacent inputs, sizes as equal as possible. */
static zen_tensor *concat_tree(zen_ctx *ctx, int n, zen_tensor *const *xs, int axis) {
    if (n <= ZEN_MAX_SRC) return concat_node(ctx, n, xs, axis);
    zen_tensor *parts[ZEN_MAX_SRC];
    int at = 0;
    for (int k = 0; k < ZEN_MAX_SRC; k++) {
        int size = n / ZEN_MAX_SRC + (k < n % ZEN_MAX_SRC);
        parts[k] = size == 1 ? xs[at] : concat_tree(ctx, size, xs + at, axis);
        if (!parts[k]) return NULL;
        at += size;
    }
    return concat_node(ctx, ZEN_MAX_SRC, parts, axis);
}

zen_tensor *zen_concat(zen_ctx *ctx, int n, zen_tensor *const *xs, int axis) {
    if (n <= 0) return zen__fail(ctx, "zen_concat: needs at least one tensor, got n = %d", n);
    if (!xs) return zen__fail(ctx, "zen_concat: xs is NULL");
    for (int i = 0; i < n; i++)
        if (!xs[i]) return NULL;
    const zen_tensor *x0 = xs[0];
    if (x0->dtype != ZEN_F32 && x0->dtype != ZEN_I32)
        return zen__fail(ctx, "zen_concat: tensors must be f32 or i32, got %s", zen_dtype_name(x0->dtype));
    if (x0->ndim == 0) return zen__fail(ctx, "zen_concat: zero-dimensional tensors cannot be concatenated");
    int a = zen__axis(ctx, "zen_concat", axis, x0->ndim);
    if (a < 0) return NULL;
    for (int i = 1; i < n; i++) {
        const zen_tensor *x = xs[i];
        if (x->dtype != x0->dtype)
            return zen__fail(ctx, "zen_concat: tensor %d is %s but tensor 0 is %s", i, zen_dtype_name(x->dtype),
                             zen_dtype_name(x0->dtype));
        bool fits = x->ndim == x0->ndim;
        for (int d = 0; d < x0->ndim && fits; d++) fits = d == a || x->shape[d] == x0->shape[d];
        if (!fits) {
            char b0[128], bi[128];
            return zen__fail(ctx, "zen_concat: tensor %d has shape %s, which does not match %s of tensor 0 "
                                  "except on axis %d", i, zen_shape_str(x, bi, sizeof bi),
                             zen_shape_str(x0, b0, sizeof b0), a);
        }
    }
    return concat_tree(ctx, n, xs, a);
}

static void concat_forward(zen_tensor *out, zen_exec *ex) {
    int a = (int)out->ip[0];
    int64_t at = 0;
    for (int i = 0; i < ZEN_MAX_SRC && out->src[i]; i++) {
        const zen_tensor *x = out->src[i];
        /* x lands in out[..., at : at + x->shape[a], ...], which has out's strides. */
        float *dst = (float *)out->data + at * out->stride[a];
        zen__copy_strided(dst, out->stride, x->data, x->stride, x->ndim, x->shape, ex);
        at += x->shape[a];
    }
}

static void concat_backward(zen_ctx *ctx, zen_tensor *out) {
    int a = (int)out->ip[0];
    int64_t at = 0;
    for (int i = 0; i < ZEN_MAX_SRC && out->src[i]; i++) {
        zen_tensor *x = out->src[i];
        int64_t n = x->shape[a];
        if (zen__needs_grad(x)) zen__accum_grad(ctx, x, zen_slice(ctx, out->grad, a, at, at + n, 1));
        at += n;
    }
}

const zen_op_def zen_op_concat = {"concat", concat_forward, concat_backward, NULL, false};
