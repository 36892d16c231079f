/* bench_graph.h — what the op benchmarks that time a backward pass share (softmax_ln.c,
 * attention.c): deterministic inputs identical to their torch scripts', a checksum, and
 * torch's y.backward(gy) on a zen graph. Uses zen's internals (graph/graph.h). */
#ifndef ZEN_BENCH_GRAPH_H
#define ZEN_BENCH_GRAPH_H

#include <stdio.h>
#include <stdlib.h>

#include "graph/graph.h"
#include "zen.h"

/* Deterministic inputs, identical in bench/softmax_ln_torch.py: element i of a tensor
 * with this seed is lo + (hi - lo) * ((i * 2654435761 + seed * 40503) mod 2^24) / 2^24,
 * computed in float32 as torch does. */
static inline void fill(zen_tensor *t, int64_t seed, float lo, float hi) {
    float *d = t->data;
    int64_t n = zen_numel(t);
    for (int64_t i = 0; i < n; i++) {
        int64_t h = (i * 2654435761LL + seed * 40503LL) & 0xFFFFFF;
        d[i] = (float)h / 16777216.0f * (hi - lo) + lo;
    }
}

/* Sum of squares (gradients of softmax and cross-entropy sum to 0 along each row). */
static inline double checksum(const zen_tensor *t) {
    const float *d = t->data;
    double s = 0;
    for (int64_t i = 0; i < zen_numel(t); i++) s += (double)d[i] * d[i];
    return s;
}

static inline void die(zen_ctx *ctx, const char *what) {
    fprintf(stderr, "%s: %s\n", what, zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
    exit(1);
}

/* What torch's y.backward(gy) does: extends g (which holds y) with the gradient nodes of
 * every parameter y depends on, seeded with gy, as zen_graph_backward does for a scalar
 * loss (whose seed is 1). The parameters' gradients become outputs of g. */
static inline void backward_from(zen_graph *g, zen_tensor *y, zen_tensor *gy) {
    zen_ctx *ctx = g->ctx;
    for (int i = 0; i < g->n; i++) g->nodes[i]->grad = NULL;
    y->grad = gy;
    int n_forward = g->n;
    for (int i = n_forward - 1; i >= 0; i--) {
        zen_tensor *t = g->nodes[i];
        if (!t->grad || t->op == 0 || !(t->flags & ZEN_FLAG_NEEDS_GRAD)) continue;
        zen_op_table[t->op]->backward(ctx, t);
        if (zen_ctx_error(ctx)) die(ctx, "backward");
    }
    for (int i = 0; i < n_forward; i++) {
        zen_tensor *t = g->nodes[i];
        if (!(t->flags & ZEN_FLAG_PARAM) || !t->grad) continue;
        t->grad = zen__dense(ctx, t->grad);
        if (zen_graph_add(g, t->grad) != 0) die(ctx, "zen_graph_add");
    }
}

#endif
