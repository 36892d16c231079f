/* exec.c — running a planned graph: every node's kernel, in order, with no allocation. */
#include "graph.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

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

static double prof_t[4096], prof_min[4096]; static char prof_names[4096][64]; static int prof_n = -1; static zen_graph *prof_g; static long prof_runs;
static void prof_dump(void) {
        if (prof_g && prof_runs > 8) {
            double tot = 0, totmin = 0; for (int i = 0; i < prof_n; i++) tot += prof_t[i], totmin += prof_min[i] < 1 ? prof_min[i] : 0;
            fprintf(stderr, "PROFILE %d nodes, %ld runs, %.1f us/run mean, sum of per-node minima %.1f us\n", prof_n, prof_runs, tot / prof_runs * 1e6, totmin * 1e6);
            for (int i = 0; i < prof_n; i++) if (prof_t[i] > 0) {
                fprintf(stderr, "  %3d %-44s %8.1f us %5.1f%%  min %8.1f us\n", i, prof_names[i], prof_t[i]/prof_runs*1e6, 100*prof_t[i]/tot, prof_min[i]*1e6);
            }
        }
        prof_runs = 0;
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
    static int prof_on = -1;
    if (prof_on < 0) { prof_on = getenv("ZEN_PROF") != NULL; if (prof_on) atexit(prof_dump); }
    bool prof = prof_on && (g->training || getenv("ZEN_PROF")[0] == '2') && g->n < 4096;
    if (prof && prof_g != g) {
        prof_dump();
        if (0) {
            double tot = 0, totmin = 0; for (int i = 0; i < prof_n; i++) tot += prof_t[i], totmin += prof_min[i] < 1 ? prof_min[i] : 0;
            fprintf(stderr, "PROFILE %d nodes, %ld runs, %.1f us/run mean, sum of per-node minima %.1f us\n", prof_n, prof_runs, tot / prof_runs * 1e6, totmin * 1e6);
            for (int i = 0; i < prof_n; i++) if (prof_t[i] > 0) {
                fprintf(stderr, "  %3d %-44s %8.1f us %5.1f%%  min %8.1f us\n", i, prof_names[i], prof_t[i]/prof_runs*1e6, 100*prof_t[i]/tot, prof_min[i]*1e6);
            }
        }
        prof_g = g; prof_n = g->n;
        for (int i = 0; i < g->n; i++) { char b[64]; zen_tensor *t = g->nodes[i]; snprintf(prof_names[i], 64, "%-22s %s", t->op ? zen_op_table[t->op]->name : "leaf", zen_shape_str(t, b, sizeof b)); } prof_runs = 0; memset(prof_t, 0, sizeof prof_t); for (int i = 0; i < 4096; i++) prof_min[i] = 1e9;
    }
    if (prof) prof_runs++;
    for (int i = 0; i < g->n && !ex.failed; i++) {
        zen_tensor *t = g->nodes[i];
        if (t->op == ZEN_OP_NONE) continue;
        const zen_op_def *def = zen_op_table[t->op];
        double t0 = prof ? zen_time_seconds() : 0;
        if (!def->is_view) def->forward(t, &ex);
        if (prof) { double dt = zen_time_seconds() - t0; prof_t[i] += dt; if (dt < prof_min[i]) prof_min[i] = dt; }
    }
    g->runs++;
    return ex.failed ? -1 : 0;
}
