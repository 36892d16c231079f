/* fused.h — ops with several results (layer_norm, rms_norm, attention and their
 * backwards).
 *
 * A node has one buffer, so a fused op that must hand on more than one result (the
 * normalised rows and the per-row statistics the backward reuses; dx, dgamma and dbeta)
 * writes them into one 1-D "packed" node, one after the other, and the results are
 * contiguous views into it (zen__part). The planner keeps the packed buffer alive as long
 * as any view is read.
 *
 * The view that a user sees as the op's result carries the op's backward rule: its own
 * view op (LAYER_NORM_Y, ...) whose backward builds the fused gradient node from the view's
 * gradient and the packed node. The packed node itself never gets a gradient. Views of
 * gradient results use PART, which is not differentiable again. */
#ifndef ZEN_FUSED_H
#define ZEN_FUSED_H

#include "../core/internal.h"

/* A contiguous view of `ndim`/`shape` into the packed node p, `offset` elements in,
 * recorded with view op `op` (ZEN_OP_PART for plain results). */
static inline zen_tensor *zen__part(zen_ctx *ctx, int op, zen_tensor *p, int ndim, const int64_t *shape,
                                    int64_t offset) {
    if (!p) return NULL;
    int64_t stride[ZEN_MAX_DIMS], s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = s;
        s *= shape[d];
    }
    return zen__view(ctx, op, p, ndim, shape, stride, offset);
}

#endif
