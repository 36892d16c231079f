/* plan.c — memory planning: one buffer for all activations and gradients.
 *
 * Each node that owns a buffer (not a leaf, not a view) is live from the step that writes
 * it to the last step that reads it, directly or through a view. Outputs live to the end.
 * Walking the steps in order, a node takes the best-fitting free block (or grows the
 * buffer), and its sources' blocks return to the free list once their last reader has run.
 * Blocks are never shared by two live nodes, and an op's output never aliases its inputs. */
#include "graph.h"

#include <stdlib.h>

typedef struct { size_t off, size; } block;

typedef struct {
    block *free; int nfree, cap;
    size_t top; /* bytes used from the start of the buffer */
} allocator;

static size_t round_up(size_t n) { return (n + ZEN_ALIGN - 1) / ZEN_ALIGN * ZEN_ALIGN; }

static int alloc_take(allocator *a, size_t size, size_t *off) {
    int best = -1;
    for (int i = 0; i < a->nfree; i++)
        if (a->free[i].size >= size && (best < 0 || a->free[i].size < a->free[best].size)) best = i;
    if (best >= 0) {
        *off = a->free[best].off;
        a->free[best].off += size;
        a->free[best].size -= size;
        if (a->free[best].size == 0) a->free[best] = a->free[--a->nfree];
        return 0;
    }
    /* Nothing fits: grow, reusing a free block that ends at the top. */
    for (int i = 0; i < a->nfree; i++) {
        if (a->free[i].off + a->free[i].size == a->top) {
            *off = a->free[i].off;
            a->top = a->free[i].off + size;
            a->free[i] = a->free[--a->nfree];
            return 0;
        }
    }
    *off = a->top;
    a->top += size;
    return 0;
}

/* Returns a block, merging it with free neighbours. */
static int alloc_give(allocator *a, size_t off, size_t size) {
    for (int i = 0; i < a->nfree;) {
        block *b = &a->free[i];
        if (b->off + b->size == off || off + size == b->off) {
            size_t lo = b->off < off ? b->off : off;
            size += b->size;
            off = lo;
            a->free[i] = a->free[--a->nfree];
            i = 0;
            continue;
        }
        i++;
    }
    if (a->nfree == a->cap) {
        int cap = a->cap ? a->cap * 2 : 64;
        block *f = realloc(a->free, (size_t)cap * sizeof *f);
        if (!f) return -1;
        a->free = f;
        a->cap = cap;
    }
    a->free[a->nfree++] = (block){off, size};
    return 0;
}

static bool owns_buffer(const zen_tensor *t) {
    return t->op != ZEN_OP_NONE && !zen_op_table[t->op]->is_view;
}

/* The node whose buffer t's data lives in (t itself unless t is a view). */
static zen_tensor *owner_of(zen_tensor *t) { return t->view_src ? t->view_src : t; }

int zen_graph_plan(zen_graph *g) {
    zen_ctx *ctx = g->ctx;
    int n = g->n;
    int *last_use = malloc((size_t)n * sizeof *last_use);
    int *release_head = NULL;
    size_t *offset = calloc((size_t)n, sizeof *offset);
    allocator a = {0};
    if (!last_use || !offset) goto oom;

    release_head = malloc((size_t)n * sizeof *release_head);
    if (!release_head) goto oom;
    for (int i = 0; i < n; i++) last_use[i] = i;

    size_t work = 0;
    for (int i = 0; i < n; i++) {
        zen_tensor *t = g->nodes[i];
        const zen_op_def *def = t->op ? zen_op_table[t->op] : NULL;
        if (def && def->work_size) {
            size_t w = def->work_size(t, ctx->nthreads);
            if (w > work) work = w;
        }
        for (int s = 0; s < ZEN_MAX_SRC; s++) {
            if (!t->src[s]) continue;
            int o = zen__graph_index(g, owner_of(t->src[s]));
            if (o >= 0 && last_use[o] < i) last_use[o] = i;
        }
        if (t->flags & ZEN_FLAG_OUTPUT) {
            int o = zen__graph_index(g, owner_of(t));
            if (o >= 0) last_use[o] = n;
        }
    }

    /* release_head[i] chains (through release_next) the nodes whose last reader is step i. */
    int *release_next = malloc((size_t)n * sizeof *release_next);
    if (!release_next) goto oom;
    for (int i = 0; i < n; i++) release_head[i] = -1;
    for (int i = 0; i < n; i++) {
        if (!owns_buffer(g->nodes[i]) || last_use[i] >= n) continue;
        release_next[i] = release_head[last_use[i]];
        release_head[last_use[i]] = i;
    }

    size_t naive = 0;
    for (int i = 0; i < n; i++) {
        zen_tensor *t = g->nodes[i];
        if (owns_buffer(t)) {
            size_t size = round_up(zen_nbytes(t));
            naive += size;
            if (alloc_take(&a, size, &offset[i]) != 0) goto oom2;
        }
        for (int j = release_head[i]; j >= 0; j = release_next[j])
            if (alloc_give(&a, offset[j], round_up(zen_nbytes(g->nodes[j]))) != 0) goto oom2;
    }
    free(release_next);

    zen__aligned_free(g->buf);
    zen__aligned_free(g->work);
    g->buf = zen__aligned_alloc(a.top ? a.top : ZEN_ALIGN);
    g->work = work ? zen__aligned_alloc(work) : NULL;
    if (!g->buf || (work && !g->work)) goto oom;
    free(g->offset);
    g->offset = offset;
    g->peak_bytes = a.top + work;
    g->naive_bytes = naive + work;
    g->work_bytes = work;
    g->planned_threads = ctx->nthreads;
    g->planned = true;
    free(a.free);
    free(last_use);
    free(release_head);
    return 0;
oom2:
    free(release_next);
oom:
    free(a.free);
    free(last_use);
    free(release_head);
    free(offset);
    zen__fail(ctx, "zen_graph_plan: out of memory");
    return -1;
}

size_t zen_graph_peak_bytes(const zen_graph *g) { return g->peak_bytes; }
size_t zen_graph_naive_bytes(const zen_graph *g) { return g->naive_bytes; }
