/* graph.h — the zen_graph struct, shared by the files of src/graph/. */
#ifndef ZEN_GRAPH_H
#define ZEN_GRAPH_H

#include "../core/internal.h"

struct zen_graph {
    zen_ctx *ctx;
    zen_tensor **nodes; /* topological order: every source before its readers; leaves too */
    int n, cap;
    zen_tensor **seen; /* open-addressing map from node to its index in nodes */
    int *seen_index;
    int seen_cap;

    /* The plan: node i (non-leaf, non-view) lives at buf + offset[i]. */
    bool planned;
    size_t *offset;
    void *buf;
    size_t peak_bytes, naive_bytes;
    void *work; /* scratch shared by all kernels (they run one after another) */
    size_t work_bytes;
    int planned_threads; /* scratch is sized for this many threads */

    bool training;
    uint64_t runs;
};

/* Index of t in g->nodes, or -1. */
int zen__graph_index(const zen_graph *g, const zen_tensor *t);

#endif
