/* exec.c — running a planned graph: every node's kernel, in order, with no allocation. */
#include "graph.h"

#include <omp.h>

/* Points every node at its memory: planned nodes into the graph's buffer, views into their
 * owner's. Done at every compute because two graphs may share nodes (a training graph and
 * an inference graph over the same forward nodes), each with its own plan. */
static void bind_buffers(zen_graph *g) {
    for (int i = 0; i < g->n; i++) {
        zen_tensor *t = g->nodes[i];
        if (t->op == ZEN_OP_NONE) continue;
        if (zen_op_table[t->op]->is_view) {
            zen_tensor *owner = t->view_src;
            t->data = (char *)owner->data + zen_dtype_bytes(t->dtype, t->view_offset);
        } else {
            t->data = (char *)g->buf + g->offset[i];
        }
    }
}

int zen_graph_compute(zen_graph *g) {
    zen_ctx *ctx = g->ctx;
    if (!g->planned) {
        zen__fail(ctx, "zen_graph_compute: the graph changed since it was planned; call zen_graph_plan");
        return -1;
    }
    bind_buffers(g);
    /* Per-thread scratch was sized when planning: never run with more threads than that. */
    int nthreads = ctx->nthreads < g->planned_threads ? ctx->nthreads : g->planned_threads;
    /* BLAS libraries size their teams from this ICV of the calling thread. */
    omp_set_num_threads(nthreads);
    zen_exec ex = {
        .work = g->work, .nthreads = nthreads, .run = g->runs, .training = g->training, .ctx = ctx,
    };
    for (int i = 0; i < g->n && !ex.failed; i++) {
        zen_tensor *t = g->nodes[i];
        if (t->op == ZEN_OP_NONE) continue;
        const zen_op_def *def = zen_op_table[t->op];
        if (!def->is_view) def->forward(t, &ex);
    }
    g->runs++;
    return ex.failed ? -1 : 0;
}
