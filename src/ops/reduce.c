/* reduce.c — sum, mean, max, min over axes, and argmax.
 *
 * Every reduction kernel sees its input as [A, R, B]: R is one block of adjacent reduced
 * axes, A the axes before it, B the axes after. Reductions over axes that are not adjacent
 * are chained, one block at a time (last block first). Nodes keep reduced dims as size 1;
 * keepdim=false is a free reshape at the end. mean is sum scaled by 1/count. */
#include "../core/internal.h"
#include "loops.h"

#include <math.h>
#include <omp.h>

enum { REDUCE_SUM, REDUCE_MAX, REDUCE_MIN };

/* A, R, B of x for the reduced block [first, last] (stored in ip[0], ip[1]). */
static void block_dims(const zen_tensor *x, int first, int last, int64_t *A, int64_t *R, int64_t *B) {
    *A = *R = *B = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < first) *A *= x->shape[d];
        else if (d <= last) *R *= x->shape[d];
        else *B *= x->shape[d];
    }
}

static zen_tensor *reduce_block(zen_ctx *ctx, int op, zen_tensor *x, int first, int last) {
    int64_t shape[ZEN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = (d >= first && d <= last) ? 1 : x->shape[d];
    zen_tensor *t = zen__node(ctx, op, ZEN_F32, x->ndim, shape, x, NULL, NULL, NULL);
    if (t) {
        t->ip[0] = first;
        t->ip[1] = last;
    }
    return t;
}

/* Parses axes into a mask; naxes == 0 selects every axis. */
static bool axes_mask(zen_ctx *ctx, const char *fn, const zen_tensor *x, int naxes, const int *axes,
                      bool *mask) {
    for (int d = 0; d < x->ndim; d++) mask[d] = naxes == 0;
    for (int i = 0; i < naxes; i++) {
        int a = zen__axis(ctx, fn, axes[i], x->ndim);
        if (a < 0) return false;
        if (mask[a]) return zen__fail(ctx, "%s: axis %d is given twice", fn, axes[i]), false;
        mask[a] = true;
    }
    return true;
}

static zen_tensor *reduce(zen_ctx *ctx, int op, const char *fn, zen_tensor *x, int naxes,
                          const int *axes, bool keepdim) {
    if (!x) return NULL;
    if (!zen__check_f32(ctx, fn, "x", x)) return NULL;
    bool mask[ZEN_MAX_DIMS];
    if (!axes_mask(ctx, fn, x, naxes, axes, mask)) return NULL;
    if ((op == ZEN_OP_MAX || op == ZEN_OP_MIN) && zen_numel(x) == 0)
        return zen__fail(ctx, "%s: cannot reduce an empty tensor", fn);
    zen_tensor *t = zen__dense(ctx, x);
    for (int last = x->ndim - 1; last >= 0 && t; last--) {
        if (!mask[last]) continue;
        int first = last;
        while (first > 0 && mask[first - 1]) first--;
        t = reduce_block(ctx, op, t, first, last);
        last = first;
    }
    if (!t) return NULL;
    if (t == x) t = zen_contiguous(ctx, x); /* no axes to reduce (0-d input): still a new node */
    if (keepdim) return t;
    int64_t shape[ZEN_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++)
        if (!mask[d]) shape[nd++] = x->shape[d];
    return zen_reshape(ctx, t, nd, shape);
}

zen_tensor *zen_sum(zen_ctx *ctx, zen_tensor *x, int naxes, const int *axes, bool keepdim) {
    return reduce(ctx, ZEN_OP_SUM, "zen_sum", x, naxes, axes, keepdim);
}
zen_tensor *zen_max(zen_ctx *ctx, zen_tensor *x, int naxes, const int *axes, bool keepdim) {
    return reduce(ctx, ZEN_OP_MAX, "zen_max", x, naxes, axes, keepdim);
}
zen_tensor *zen_min(zen_ctx *ctx, zen_tensor *x, int naxes, const int *axes, bool keepdim) {
    return reduce(ctx, ZEN_OP_MIN, "zen_min", x, naxes, axes, keepdim);
}

zen_tensor *zen_mean(zen_ctx *ctx, zen_tensor *x, int naxes, const int *axes, bool keepdim) {
    if (!x) return NULL;
    bool mask[ZEN_MAX_DIMS];
    if (!axes_mask(ctx, "zen_mean", x, naxes, axes, mask)) return NULL;
    int64_t count = 1;
    for (int d = 0; d < x->ndim; d++)
        if (mask[d]) count *= x->shape[d];
    zen_tensor *s = zen_sum(ctx, x, naxes, axes, keepdim);
    return zen_scale(ctx, s, count ? 1.0f / (float)count : NAN);
}

/* ---- kernels ---- */

ZEN_TARGET_CLONES static float row_sum(const float *restrict x, int64_t n) {
    float acc = 0;
#pragma omp simd reduction(+ : acc)
    for (int64_t i = 0; i < n; i++) acc += x[i];
    return acc;
}

/* max/min that propagate NaN, as PyTorch does. */
ZEN_TARGET_CLONES static float row_max(const float *restrict x, int64_t n) {
    float m = x[0];
    for (int64_t i = 1; i < n; i++) m = (x[i] > m || x[i] != x[i]) ? x[i] : m;
    return m;
}
ZEN_TARGET_CLONES static float row_min(const float *restrict x, int64_t n) {
    float m = x[0];
    for (int64_t i = 1; i < n; i++) m = (x[i] < m || x[i] != x[i]) ? x[i] : m;
    return m;
}

/* o[b] op= x[b] over a column block. */
ZEN_TARGET_CLONES static void cols_combine(float *restrict o, const float *restrict x, int64_t n, int kind) {
    if (kind == REDUCE_SUM) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) o[i] += x[i];
    } else if (kind == REDUCE_MAX) {
        for (int64_t i = 0; i < n; i++) o[i] = (x[i] > o[i] || x[i] != x[i]) ? x[i] : o[i];
    } else {
        for (int64_t i = 0; i < n; i++) o[i] = (x[i] < o[i] || x[i] != x[i]) ? x[i] : o[i];
    }
}

/* Whether a column reduction ([A, R, B], B > 1) runs as row blocks per thread with partial
 * rows in scratch: when there are fewer outer blocks than threads, enough rows to share,
 * and partial rows small enough (at most 64K floats each). True at compute with nthreads
 * implies true when planned with as many threads or more, so the scratch is there. */
static bool split_rows(int64_t A, int64_t R, int64_t B, int nthreads) {
    return nthreads > 1 && B > 1 && A < nthreads && R >= 64 && B <= 65536;
}
/* Floats between two partial rows (whole cache lines). */
static int64_t partial_stride(int64_t B) { return (B + 15) / 16 * 16; }

static void reduce_forward(zen_tensor *out, zen_exec *ex, int kind) {
    const zen_tensor *x = out->src[0];
    int64_t A, R, B;
    block_dims(x, (int)out->ip[0], (int)out->ip[1], &A, &R, &B);
    const float *X = x->data;
    float *O = out->data;
    int nt = zen__threads_for(ex, A * R * B);
    if (A * B == 0) return; /* empty output */
    if (R == 0) { /* sum of nothing */
        for (int64_t i = 0; i < A * B; i++) O[i] = 0;
        return;
    }
    if (B == 1) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t a = 0; a < A; a++) {
            const float *row = X + a * R;
            O[a] = kind == REDUCE_SUM ? row_sum(row, R) : kind == REDUCE_MAX ? row_max(row, R) : row_min(row, R);
        }
        return;
    }
    float *part = split_rows(A, R, B, nt) ? ex->work : NULL;
    if (part) {
        /* Few outer blocks (A = 1: the sum over the rows of one [R, B] matrix, as for a bias
         * or layernorm-weight gradient): each thread combines a contiguous block of rows
         * into its own partial row, and the partial rows are combined in thread order.
         * (Splitting the columns instead was slower: each thread then reads half of
         * every row, and at 2 threads the sum of [8192, 768] took 1.5 ms instead of 1.1.) */
        const int64_t bp = partial_stride(B);
        for (int64_t a = 0; a < A; a++) {
            const float *xa = X + a * R * B;
#pragma omp parallel num_threads(nt)
            {
                int t = omp_get_thread_num(), n = omp_get_num_threads();
                int64_t r0 = R * t / n, r1 = R * (t + 1) / n;
                float *p = part + t * bp;
                memcpy(p, xa + r0 * B, (size_t)B * sizeof *p);
                for (int64_t r = r0 + 1; r < r1; r++) cols_combine(p, xa + r * B, B, kind);
#pragma omp barrier
#pragma omp single
                {
                    float *o = O + a * B;
                    memcpy(o, part, (size_t)B * sizeof *o);
                    for (int u = 1; u < n; u++) cols_combine(o, part + u * bp, B, kind);
                }
            }
        }
        return;
    }
    /* Columns: split B into chunks so that small A still uses every thread. */
    const int64_t chunk = B < 1024 ? B : 1024;
    int64_t nchunks = (B + chunk - 1) / chunk;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < A * nchunks; k++) {
        int64_t a = k / nchunks, b0 = (k % nchunks) * chunk;
        int64_t n = B - b0 < chunk ? B - b0 : chunk;
        float *o = O + a * B + b0;
        const float *src = X + a * R * B + b0;
        memcpy(o, src, (size_t)n * sizeof *o);
        for (int64_t r = 1; r < R; r++) cols_combine(o, src + r * B, n, kind);
    }
}

/* Scratch of a reduction that splits its rows among threads: one partial row of B floats
 * per thread. */
static size_t reduce_work_size(const zen_tensor *out, int nthreads) {
    int64_t A, R, B;
    block_dims(out->src[0], (int)out->ip[0], (int)out->ip[1], &A, &R, &B);
    if (!split_rows(A, R, B, nthreads)) return 0;
    return (size_t)nthreads * (size_t)partial_stride(B) * sizeof(float);
}

static void sum_forward(zen_tensor *out, zen_exec *ex) { reduce_forward(out, ex, REDUCE_SUM); }
static void max_forward(zen_tensor *out, zen_exec *ex) { reduce_forward(out, ex, REDUCE_MAX); }
static void min_forward(zen_tensor *out, zen_exec *ex) { reduce_forward(out, ex, REDUCE_MIN); }

static void sum_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *x = out->src[0];
    zen__accum_grad(ctx, x, zen_expand(ctx, out->grad, x->ndim, x->shape));
}

/* As torch.amax/amin: the gradient is shared evenly among the elements equal to the
 * extremum. EXTREMUM_BACK(g, x, out) computes it in one pass. */
static void extremum_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *x = out->src[0];
    zen_tensor *g = zen__dense(ctx, out->grad);
    if (!g) return;
    zen_tensor *t = zen__node(ctx, ZEN_OP_EXTREMUM_BACK, ZEN_F32, x->ndim, x->shape, g, x, out, NULL);
    if (!t) return;
    t->ip[0] = out->ip[0];
    t->ip[1] = out->ip[1];
    zen__accum_grad(ctx, x, t);
}

static void extremum_back_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *g = out->src[0], *x = out->src[1], *m = out->src[2];
    int64_t A, R, B;
    block_dims(x, (int)out->ip[0], (int)out->ip[1], &A, &R, &B);
    const float *G = g->data, *X = x->data, *M = m->data;
    float *O = out->data;
    int nt = zen__threads_for(ex, A * R * B);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t a = 0; a < A; a++) {
        for (int64_t b = 0; b < B; b++) {
            float best = M[a * B + b];
            int64_t count = 0;
            for (int64_t r = 0; r < R; r++) count += X[(a * R + r) * B + b] == best;
            float share = count ? G[a * B + b] / (float)count : 0.0f;
            for (int64_t r = 0; r < R; r++) {
                int64_t i = (a * R + r) * B + b;
                O[i] = X[i] == best ? share : 0.0f;
            }
        }
    }
}

/* ---- argmax ---- */

zen_tensor *zen_argmax(zen_ctx *ctx, zen_tensor *x, int axis, bool keepdim) {
    if (!x) return NULL;
    if (!zen__check_f32(ctx, "zen_argmax", "x", x)) return NULL;
    int a = zen__axis(ctx, "zen_argmax", axis, x->ndim);
    if (a < 0) return NULL;
    if (x->shape[a] == 0) return zen__fail(ctx, "zen_argmax: axis %d is empty", axis);
    x = zen__dense(ctx, x);
    int64_t shape[ZEN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = d == a ? 1 : x->shape[d];
    zen_tensor *t = zen__node(ctx, ZEN_OP_ARGMAX, ZEN_I32, x->ndim, shape, x, NULL, NULL, NULL);
    if (!t) return NULL;
    t->ip[0] = t->ip[1] = a;
    if (keepdim) return t;
    int nd = 0;
    for (int d = 0; d < x->ndim; d++)
        if (d != a) shape[nd++] = x->shape[d];
    return zen_reshape(ctx, t, nd, shape);
}

static void argmax_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0];
    int64_t A, R, B;
    block_dims(x, (int)out->ip[0], (int)out->ip[1], &A, &R, &B);
    const float *X = x->data;
    int32_t *O = out->data;
    int nt = zen__threads_for(ex, A * R * B);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t a = 0; a < A; a++) {
        for (int64_t b = 0; b < B; b++) {
            const float *col = X + a * R * B + b;
            int64_t best = 0;
            for (int64_t r = 1; r < R; r++) {
                float v = col[r * B], m = col[best * B];
                if ((v > m || v != v) && m == m) best = r; /* first NaN wins, as torch */
            }
            O[a * B + b] = (int32_t)best;
        }
    }
}

const zen_op_def zen_op_sum = {"sum", sum_forward, sum_backward, reduce_work_size, false};
const zen_op_def zen_op_max = {"max", max_forward, extremum_backward, reduce_work_size, false};
const zen_op_def zen_op_min = {"min", min_forward, extremum_backward, reduce_work_size, false};
const zen_op_def zen_op_extremum_back = {"extremum_back", extremum_back_forward, NULL, NULL, false};
const zen_op_def zen_op_argmax = {"argmax", argmax_forward, NULL, NULL, false};
