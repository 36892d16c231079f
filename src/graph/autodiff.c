/* autodiff.c — reverse-mode differentiation by extending the graph with gradient nodes.
 *
 * Walking the nodes from last to first, every node that has a gradient asks its op's
 * backward rule to add contributions to its sources' gradients. Because the list is in
 * topological order, a node's gradient is complete (all readers have contributed) before
 * the node itself is visited. */
#include "graph.h"

zen_tensor *zen__reduce_to_shape(zen_ctx *ctx, zen_tensor *g, int ndim, const int64_t *shape) {
    if (!g) return NULL;
    int axes[ZEN_MAX_DIMS], naxes = 0;
    int lead = g->ndim - ndim; /* extra leading dims of g, summed away */
    for (int d = 0; d < g->ndim; d++) {
        int sd = d - lead;
        if (sd < 0 || (shape[sd] == 1 && g->shape[d] != 1)) axes[naxes++] = d;
    }
    if (naxes == 0 && g->ndim == ndim) return g;
    zen_tensor *r = naxes ? zen_sum(ctx, g, naxes, axes, true) : g;
    return zen_reshape(ctx, r, ndim, shape);
}

void zen__accum_grad(zen_ctx *ctx, zen_tensor *x, zen_tensor *g) {
    if (!zen__needs_grad(x) || !g) return;
    if (!zen_same_shape(x, g)) g = zen__reduce_to_shape(ctx, g, x->ndim, x->shape);
    if (!g) return;
    x->grad = x->grad ? zen_add(ctx, x->grad, g) : g;
}

int zen_graph_backward(zen_graph *g, zen_tensor *loss) {
    zen_ctx *ctx = g->ctx;
    if (!loss) return zen__fail(ctx, "zen_graph_backward: loss is NULL"), -1;
    if (zen_numel(loss) != 1 || loss->dtype != ZEN_F32) {
        char buf[128];
        zen__fail(ctx, "zen_graph_backward: loss must be a single f32 value, got %s %s",
                  zen_dtype_name(loss->dtype), zen_shape_str(loss, buf, sizeof buf));
        return -1;
    }
    if (zen_graph_add(g, loss) != 0) return -1;

    /* Gradients belong to this pass: forget any left on these nodes by an earlier one. */
    for (int i = 0; i < g->n; i++) g->nodes[i]->grad = NULL;

    zen_tensor *seed = zen_const(ctx, ZEN_F32, loss->ndim, loss->shape);
    if (!seed) return -1;
    zen_fill_f32(seed, 1.0f);
    loss->grad = seed;

    int n_forward = g->n;
    for (int i = n_forward - 1; i >= 0; i--) {
        zen_tensor *t = g->nodes[i];
        if (!t->grad || t->op == ZEN_OP_NONE || !(t->flags & ZEN_FLAG_NEEDS_GRAD)) continue;
        zen_op_table[t->op]->backward(ctx, t);
        if (zen_ctx_error(ctx)) return -1;
    }
    /* Parameter gradients are outputs, dense like their parameters (optimizers read them
     * as flat arrays); a gradient that came out as a strided view is copied once. */
    for (int i = 0; i < n_forward; i++) {
        zen_tensor *t = g->nodes[i];
        if (!(t->flags & ZEN_FLAG_PARAM) || !t->grad) continue;
        t->grad = zen__dense(ctx, t->grad);
        if (zen_graph_add(g, t->grad) != 0) return -1;
    }
    return 0;
}
