/* gather.c — torch.gather and embedding lookups, with their scatter-add gradients.
 *
 * gather(x, axis, index): out has index's shape and out[c] = x[c with c[axis] = index[c]].
 * Its gradient is SCATTER_ADD(g, index) -> x's shape: zeros, then g[c] added at
 * x[c with c[axis] = index[c]].
 *
 * embedding(weight [V, D], ids): out[..., :] = weight[ids[...], :], one row copy per id.
 * Its gradient is EMBEDDING_BACK(g, ids) -> [V, D]: zeros, then row g[i] added to row ids[i].
 *
 * Scatter-adds run in parallel without atomics and give the same bits on every run and
 * with any thread count: the work is split so that no two tasks can touch the same output
 * element, and every task adds its contributions in index order (see the kernels).
 *
 * Indices are checked at compute time: one outside [0, size) makes the kernel report
 * "<op>: index ... is out of range ..." through zen__exec_fail (compute returns -1); the
 * affected rows are written as zeros and nothing outside any tensor is read or written. */
#include "../core/internal.h"
#include "loops.h"

#define MIN_TASK_ELEMS 16384

/* ---- helpers ---- */

/* Offset of the row-major position r over dims [0, nd) of `shape`, through `stride`,
 * leaving out dim `skip`'s coordinate (taken as 0). */
static int64_t offset_skip(int64_t r, int nd, const int64_t *shape, const int64_t *stride, int skip) {
    int64_t off = 0;
    for (int d = nd - 1; d >= 0; d--) {
        if (d != skip) off += (r % shape[d]) * stride[d];
        r /= shape[d];
    }
    return off;
}

/* Index of the first element of I[0..n) outside [0, lim), or -1. */
ZEN_TARGET_CLONES static int64_t first_bad(const int32_t *restrict I, int64_t n, int64_t lim) {
    uint32_t any = 0;
#pragma omp simd reduction(| : any)
    for (int64_t j = 0; j < n; j++) any |= (uint32_t)((int64_t)I[j] < 0 || (int64_t)I[j] >= lim);
    if (!any) return -1;
    for (int64_t j = 0; j < n; j++)
        if (I[j] < 0 || I[j] >= lim) return j;
    return -1;
}

/* Zeroes n floats, in parallel for large n. */
static void zero_fill(float *o, int64_t n, zen_exec *ex) {
    int nt = zen__threads_for(ex, n);
    const int64_t chunk = 1 << 16;
    int64_t nchunks = (n + chunk - 1) / chunk;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < nchunks; k++) {
        int64_t c0 = k * chunk, len = n - c0 < chunk ? n - c0 : chunk;
        memset(o + c0, 0, (size_t)len * sizeof *o);
    }
}

/* ---- gather ---- */

zen_tensor *zen_gather(zen_ctx *ctx, zen_tensor *x, int axis, zen_tensor *index) {
    if (!x || !index) return NULL;
    if (x->dtype != ZEN_F32 && x->dtype != ZEN_I32)
        return zen__fail(ctx, "zen_gather: x must be f32 or i32, got %s", zen_dtype_name(x->dtype));
    if (index->dtype != ZEN_I32)
        return zen__fail(ctx, "zen_gather: index must be i32, got %s", zen_dtype_name(index->dtype));
    if (index->ndim != x->ndim)
        return zen__fail(ctx, "zen_gather: index must have as many dimensions as x (%d), got %d", x->ndim,
                         index->ndim);
    if (x->ndim == 0) { /* torch allows a 0-d gather along axis 0 or -1: work on [1] */
        if (axis != 0 && axis != -1) return zen__fail(ctx, "zen_gather: axis %d is out of range for a 0-d tensor", axis);
        zen_tensor *g = zen_gather(ctx, zen_reshape(ctx, x, 1, (int64_t[]){1}), 0,
                                   zen_reshape(ctx, index, 1, (int64_t[]){1}));
        return zen_reshape(ctx, g, 0, NULL);
    }
    int a = zen__axis(ctx, "zen_gather", axis, x->ndim);
    if (a < 0) return NULL;
    for (int d = 0; d < x->ndim; d++) {
        if (d != a && index->shape[d] > x->shape[d]) {
            char bx[128], bi[128];
            return zen__fail(ctx, "zen_gather: index %s is larger than x %s on axis %d (only axis %d may be larger)",
                             zen_shape_str(index, bi, sizeof bi), zen_shape_str(x, bx, sizeof bx), d, a);
        }
    }
    index = zen__dense(ctx, index);
    if (!index) return NULL;
    zen_tensor *t = zen__node(ctx, ZEN_OP_GATHER, x->dtype, index->ndim, index->shape, x, index, NULL, NULL);
    if (t) t->ip[0] = a;
    return t;
}

/* o[j] = x[j*sj + I[j]*sa] (32-bit elements). */
ZEN_TARGET_CLONES static void gather_row(uint32_t *restrict o, const uint32_t *restrict x, const int32_t *restrict I,
                                         int64_t n, int64_t sj, int64_t sa) {
    if (sj == 0) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) o[j] = x[(int64_t)I[j] * sa];
    } else {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) o[j] = x[j * sj + (int64_t)I[j] * sa];
    }
}

static void report_bad(zen_exec *ex, const char *op, int32_t v, int axis, int64_t size) {
    zen__exec_fail(ex, "%s: index %d is out of range for axis %d of size %lld (valid range [0, %lld))", op, v, axis,
                   (long long)size, (long long)size);
}

/* Rows of out are its last axis; each row reads x along the last axis (or, when that is
 * the gather axis, at the gathered positions). */
static void gather_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0], *index = out->src[1];
    const int a = (int)out->ip[0], L = out->ndim - 1;
    const int64_t total = zen_numel(out);
    if (total == 0) return;
    const int64_t cols = out->shape[L], rows = total / cols, lim = x->shape[a], sa = x->stride[a];
    const int64_t sj = a == L ? 0 : x->stride[L];
    const int32_t *I = index->data;
    const uint32_t *X = x->data;
    uint32_t *O = out->data;
    int nt = zen__threads_for(ex, total);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t r = 0; r < rows; r++) {
        const int32_t *Ir = I + r * cols;
        uint32_t *Or = O + r * cols;
        int64_t bad = first_bad(Ir, cols, lim);
        if (bad >= 0) {
            report_bad(ex, "gather", Ir[bad], a, lim);
            memset(Or, 0, (size_t)cols * sizeof *Or);
            continue;
        }
        gather_row(Or, X + offset_skip(r, L, out->shape, x->stride, a), Ir, cols, sj, sa);
    }
}

static zen_tensor *scatter_add(zen_ctx *ctx, zen_tensor *g, zen_tensor *index, const zen_tensor *x, int axis) {
    g = zen__dense(ctx, g);
    if (!g) return NULL;
    zen_tensor *t = zen__node(ctx, ZEN_OP_SCATTER_ADD, ZEN_F32, x->ndim, x->shape, g, index, NULL, NULL);
    if (t) t->ip[0] = axis;
    return t;
}

static void gather_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *x = out->src[0];
    if (zen__needs_grad(x)) zen__accum_grad(ctx, x, scatter_add(ctx, out->grad, out->src[1], x, (int)out->ip[0]));
}

/* ---- scatter_add: the gradient of gather ---- */

/* o[j + I[j]*sa] += g[j] (sj = 1), or o[I[j]*sa] += g[j] in order (sj = 0). */
ZEN_TARGET_CLONES static void scatter_row(float *restrict o, const float *restrict g, const int32_t *restrict I,
                                          int64_t n, int64_t sj, int64_t sa) {
    if (sj) { /* distinct columns: no two j hit the same element */
#pragma omp simd
        for (int64_t j = 0; j < n; j++) o[j + (int64_t)I[j] * sa] += g[j];
    } else {
        for (int64_t j = 0; j < n; j++) o[(int64_t)I[j] * sa] += g[j];
    }
}

/* Tasks never share an output element: when the axis is the last one, a task is one row
 * of g (rows differ in some other coordinate); otherwise a task is one line of g along
 * the axis (all coordinates but the axis fixed except the last, which is a column range)
 * and walks it in order k = 0, 1, ... */
static void scatter_add_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *g = out->src[0], *index = out->src[1];
    const int a = (int)out->ip[0], L = out->ndim - 1;
    float *O = out->data;
    zero_fill(O, zen_numel(out), ex);
    const int64_t total = zen_numel(g);
    if (total == 0) return;
    const int64_t lim = out->shape[a], sa = out->stride[a];
    const float *G = g->data;
    const int32_t *I = index->data;
    int nt = zen__threads_for(ex, total);
    if (a == L) {
        const int64_t cols = g->shape[L], rows = total / cols;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t r = 0; r < rows; r++) {
            const int32_t *Ir = I + r * cols;
            int64_t bad = first_bad(Ir, cols, lim);
            if (bad >= 0) {
                report_bad(ex, "scatter_add", Ir[bad], a, lim);
                continue;
            }
            scatter_row(O + offset_skip(r, L, g->shape, out->stride, -1), G + r * cols, Ir, cols, 0, sa);
        }
        return;
    }
    const int64_t K = g->shape[a], cols = g->shape[L];
    const int64_t lines = total / (K * cols);
    int64_t chunks = 1, chunk = cols;
    if (nt > 1 && lines < 4 * nt && cols >= 2 * 1024) {
        chunks = (cols + 1023) / 1024;
        chunk = (cols + chunks - 1) / chunks;
    }
    /* g's shape without the axis: lines enumerate it (the axis coordinate left at 0). */
    int64_t lshape[ZEN_MAX_DIMS];
    for (int d = 0; d < L; d++) lshape[d] = d == a ? 1 : g->shape[d];
    const int64_t gsa = g->stride[a];
    int64_t ntasks = lines * chunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t t = 0; t < ntasks; t++) {
        int64_t q = t / chunks, c0 = (t % chunks) * chunk;
        int64_t n = cols - c0 < chunk ? cols - c0 : chunk;
        int64_t og = zen__offset_of(q, L, lshape, g->stride) + c0;
        int64_t oo = zen__offset_of(q, L, lshape, out->stride) + c0;
        for (int64_t k = 0; k < K; k++) {
            const int32_t *Ik = I + og + k * gsa;
            int64_t bad = first_bad(Ik, n, lim);
            if (bad >= 0) {
                report_bad(ex, "scatter_add", Ik[bad], a, lim);
                break;
            }
            scatter_row(O + oo, G + og + k * gsa, Ik, n, 1, sa);
        }
    }
}

/* The gradient of a scatter-add is a gather of the same positions. */
static void scatter_add_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__accum_grad(ctx, out->src[0], zen_gather(ctx, out->grad, (int)out->ip[0], out->src[1]));
}

/* ---- embedding ---- */

zen_tensor *zen_embedding(zen_ctx *ctx, zen_tensor *weight, zen_tensor *ids) {
    if (!weight || !ids) return NULL;
    if (!zen__check_f32(ctx, "zen_embedding", "weight", weight)) return NULL;
    if (weight->ndim != 2) {
        char buf[128];
        return zen__fail(ctx, "zen_embedding: weight must have 2 dims [V, D], got %s",
                         zen_shape_str(weight, buf, sizeof buf));
    }
    if (ids->dtype != ZEN_I32)
        return zen__fail(ctx, "zen_embedding: ids must be i32, got %s", zen_dtype_name(ids->dtype));
    if (ids->ndim >= ZEN_MAX_DIMS)
        return zen__fail(ctx, "zen_embedding: ids have %d dims; the result would have more than %d", ids->ndim,
                         ZEN_MAX_DIMS);
    ids = zen__dense(ctx, ids);
    if (!ids) return NULL;
    int64_t shape[ZEN_MAX_DIMS];
    for (int d = 0; d < ids->ndim; d++) shape[d] = ids->shape[d];
    shape[ids->ndim] = weight->shape[1];
    return zen__node(ctx, ZEN_OP_EMBEDDING, ZEN_F32, ids->ndim + 1, shape, weight, ids, NULL, NULL);
}

static void report_bad_id(zen_exec *ex, const char *op, int32_t v, int64_t V) {
    zen__exec_fail(ex, "%s: id %d is out of range for a weight of %lld rows (valid range [0, %lld))", op, v,
                   (long long)V, (long long)V);
}

static void embedding_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *w = out->src[0], *ids = out->src[1];
    const int64_t V = w->shape[0], D = w->shape[1], N = zen_numel(ids);
    const int64_t s0 = w->stride[0], s1 = w->stride[1];
    const float *W = w->data;
    const int32_t *I = ids->data;
    float *O = out->data;
    if (D == 0) return;
    int nt = zen__threads_for(ex, N * D);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t i = 0; i < N; i++) {
        int32_t v = I[i];
        float *o = O + i * D;
        if (v < 0 || v >= V) {
            report_bad_id(ex, "embedding", v, V);
            memset(o, 0, (size_t)D * sizeof *o);
        } else if (s1 == 1) {
            memcpy(o, W + v * s0, (size_t)D * sizeof *o);
        } else {
            for (int64_t j = 0; j < D; j++) o[j] = W[v * s0 + j * s1];
        }
    }
}

static void embedding_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *w = out->src[0], *ids = out->src[1];
    if (!zen__needs_grad(w)) return;
    zen_tensor *g = zen__dense(ctx, out->grad);
    if (!g) return;
    zen_tensor *t = zen__node(ctx, ZEN_OP_EMBEDDING_BACK, ZEN_F32, 2, w->shape, g, ids, NULL, NULL);
    zen__accum_grad(ctx, w, t);
}

ZEN_TARGET_CLONES static void add_row(float *restrict o, const float *restrict g, int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) o[j] += g[j];
}

/* Rows of vocabulary owned by one task in the row-partitioned mode: blocks of 64 rows dealt
 * round-robin, so that frequent low ids (Zipf-like text) spread over the threads. */
#define VOCAB_BLOCK 64

/* out [V, D] = sum over i of g[i] placed at row ids[i]. Two race-free partitions:
 * - wide rows (D >= 16 per thread): each thread owns a column range (a multiple of 16
 *   floats, whole cache lines) of every row and walks all ids in order;
 * - narrow rows: each thread owns blocks of vocabulary rows and walks all ids in order,
 *   adding only those it owns.
 * Either way every output element is summed by one thread in id order: deterministic. */
static void embedding_back_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *g = out->src[0], *ids = out->src[1];
    const int64_t V = out->shape[0], D = out->shape[1], N = zen_numel(ids);
    const float *G = g->data;
    const int32_t *I = ids->data;
    float *O = out->data;
    zero_fill(O, V * D, ex);
    if (D == 0) return;
    int nt = zen__threads_for(ex, N * D);
    if (nt > 1 && D >= 16 * nt) {
        int64_t per = (D + nt - 1) / nt;
        per = (per + 15) / 16 * 16;
#pragma omp parallel for num_threads(nt) schedule(static, 1)
        for (int t = 0; t < nt; t++) {
            int64_t c0 = t * per, c1 = c0 + per < D ? c0 + per : D;
            if (c0 >= c1) continue;
            for (int64_t i = 0; i < N; i++) {
                int32_t v = I[i];
                if (v < 0 || v >= V) {
                    report_bad_id(ex, "embedding_back", v, V);
                    continue;
                }
                add_row(O + v * D + c0, G + i * D + c0, c1 - c0);
            }
        }
        return;
    }
#pragma omp parallel for num_threads(nt) schedule(static, 1) if (nt > 1)
    for (int t = 0; t < nt; t++) {
        for (int64_t i = 0; i < N; i++) {
            int32_t v = I[i];
            if (v < 0 || v >= V) {
                if (t == 0) report_bad_id(ex, "embedding_back", v, V);
                continue;
            }
            if ((v / VOCAB_BLOCK) % nt != t) continue;
            add_row(O + v * D, G + i * D, D);
        }
    }
}

/* The gradient of a row scatter-add is the row gather of the same rows. */
static void embedding_back_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *g = out->src[0];
    zen__accum_grad(ctx, g, zen_embedding(ctx, out->grad, out->src[1]));
}

const zen_op_def zen_op_gather = {"gather", gather_forward, gather_backward, NULL, false};
const zen_op_def zen_op_scatter_add = {"scatter_add", scatter_add_forward, scatter_add_backward, NULL, false};
const zen_op_def zen_op_embedding = {"embedding", embedding_forward, embedding_backward, NULL, false};
const zen_op_def zen_op_embedding_back = {"embedding_back", embedding_back_forward, embedding_back_backward, NULL,
                                          false};
