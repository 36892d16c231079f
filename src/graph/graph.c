/* graph.c — collecting nodes into a graph in topological order. */
#include "graph.h"

#include <stdlib.h>

zen_graph *zen_graph_new(zen_ctx *ctx) {
    zen_graph *g = calloc(1, sizeof *g);
    if (!g) return zen__fail(ctx, "zen_graph_new: out of memory");
    g->ctx = ctx;
    g->training = true;
    return g;
}

void zen_graph_free(zen_graph *g) {
    if (!g) return;
    free(g->nodes);
    free(g->seen);
    free(g->seen_index);
    free(g->offset);
    zen__aligned_free(g->buf);
    zen__aligned_free(g->work);
    free(g);
}

static size_t hash_ptr(const void *p, int cap) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return (size_t)(x & (uint64_t)(cap - 1));
}

int zen__graph_index(const zen_graph *g, const zen_tensor *t) {
    if (!g->seen_cap) return -1;
    for (size_t i = hash_ptr(t, g->seen_cap);; i = (i + 1) & (size_t)(g->seen_cap - 1)) {
        if (!g->seen[i]) return -1;
        if (g->seen[i] == t) return g->seen_index[i];
    }
}

static bool seen_has(const zen_graph *g, const zen_tensor *t) { return zen__graph_index(g, t) >= 0; }

static void seen_put(zen_tensor **set, int *index, int cap, zen_tensor *t, int idx) {
    size_t i = hash_ptr(t, cap);
    while (set[i]) i = (i + 1) & (size_t)(cap - 1);
    set[i] = t;
    index[i] = idx;
}

/* Appends t to the node list and the set, growing both (set kept at most half full). */
static int push_node(zen_graph *g, zen_tensor *t) {
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 256;
        zen_tensor **nodes = realloc(g->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return -1;
        g->nodes = nodes;
        g->cap = cap;
    }
    if (2 * (g->n + 1) > g->seen_cap) {
        int cap = g->seen_cap ? g->seen_cap * 2 : 512;
        zen_tensor **set = calloc((size_t)cap, sizeof *set);
        int *index = malloc((size_t)cap * sizeof *index);
        if (!set || !index) {
            free(set);
            free(index);
            return -1;
        }
        for (int i = 0; i < g->n; i++) seen_put(set, index, cap, g->nodes[i], i);
        free(g->seen);
        free(g->seen_index);
        g->seen = set;
        g->seen_index = index;
        g->seen_cap = cap;
    }
    seen_put(g->seen, g->seen_index, g->seen_cap, t, g->n);
    g->nodes[g->n++] = t;
    return 0;
}

/* Depth-first, post-order, with an explicit stack: unrolled RNNs make graphs too deep
 * for recursion. */
int zen_graph_add(zen_graph *g, zen_tensor *t) {
    if (!t) {
        zen__fail(g->ctx, "zen_graph_add: tensor is NULL (an op before failed: %s)",
                  zen_ctx_error(g->ctx) ? zen_ctx_error(g->ctx) : "no error recorded");
        return -1;
    }
    g->planned = false;
    t->flags |= ZEN_FLAG_OUTPUT;
    if (seen_has(g, t)) return 0;

    int cap = 256, top = 0;
    struct frame { zen_tensor *t; int next_src; } *stack = malloc((size_t)cap * sizeof *stack);
    if (!stack) goto oom;
    stack[top++] = (struct frame){t, 0};
    while (top > 0) {
        struct frame *f = &stack[top - 1];
        zen_tensor *child = NULL;
        while (f->next_src < ZEN_MAX_SRC && !child) {
            zen_tensor *s = f->t->src[f->next_src++];
            if (s && !seen_has(g, s)) child = s;
        }
        if (child) {
            /* a child may also be deeper in the stack already; seen_has guards emission */
            if (top == cap) {
                cap *= 2;
                struct frame *grown = realloc(stack, (size_t)cap * sizeof *stack);
                if (!grown) goto oom;
                stack = grown;
            }
            stack[top++] = (struct frame){child, 0};
            continue;
        }
        if (!seen_has(g, f->t) && push_node(g, f->t) != 0) goto oom;
        top--;
    }
    free(stack);
    return 0;
oom:
    free(stack);
    zen__fail(g->ctx, "zen_graph_add: out of memory");
    return -1;
}

int zen_graph_n_nodes(const zen_graph *g) { return g->n; }
zen_tensor *zen_graph_node(const zen_graph *g, int i) { return i >= 0 && i < g->n ? g->nodes[i] : NULL; }
void zen_graph_set_training(zen_graph *g, bool training) { g->training = training; }

const char *zen_op_name(int op) {
    if (op == ZEN_OP_NONE) return "leaf";
    return op > 0 && op < ZEN_OP_COUNT ? zen_op_table[op]->name : "?";
}
