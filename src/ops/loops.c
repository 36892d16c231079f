/* loops.c — strided, broadcasting, multi-threaded drivers for elementwise row kernels.
 *
 * The output is dense. Inputs are described by strides over the output's shape (0 where
 * broadcast). Adjacent dims that are laid out alike in every operand are merged, so most
 * loops become one long row or a few rows. Work is cut into tasks of (row, column range)
 * so that a single long row still spreads across threads. */
#include "loops.h"

#define MAX_OPERANDS 2
#define MIN_TASK_ELEMS 16384

typedef struct {
    int ndim; /* after merging; the last dim is the row */
    int64_t shape[ZEN_MAX_DIMS];
    int64_t stride[MAX_OPERANDS][ZEN_MAX_DIMS];
    int nops;
} iter;

static void iter_init(iter *it, const zen_tensor *out, int nops, const zen_tensor *const *in) {
    int64_t st[MAX_OPERANDS][ZEN_MAX_DIMS];
    for (int k = 0; k < nops; k++) zen__broadcast_strides(in[k], out->ndim, out->shape, st[k]);
    it->nops = nops;
    it->ndim = 0;
    for (int d = 0; d < out->ndim; d++) {
        if (out->shape[d] == 1) continue; /* size-1 dims never move the index */
        int m = it->ndim;
        bool merge = m > 0;
        for (int k = 0; k < nops && merge; k++)
            merge = it->stride[k][m - 1] == st[k][d] * out->shape[d];
        if (merge) {
            it->shape[m - 1] *= out->shape[d];
            for (int k = 0; k < nops; k++) it->stride[k][m - 1] = st[k][d];
        } else {
            it->shape[m] = out->shape[d];
            for (int k = 0; k < nops; k++) it->stride[k][m] = st[k][d];
            it->ndim++;
        }
    }
    if (it->ndim == 0) { /* a single element */
        it->ndim = 1;
        it->shape[0] = 1;
        for (int k = 0; k < nops; k++) it->stride[k][0] = 0;
    }
}

typedef struct {
    int64_t rows, cols, chunks_per_row, chunk;
} tasks;

static tasks plan_tasks(const iter *it, int64_t total, int nthreads) {
    tasks t;
    t.cols = it->shape[it->ndim - 1];
    t.rows = total / (t.cols ? t.cols : 1);
    t.chunks_per_row = 1;
    t.chunk = t.cols;
    if (nthreads > 1 && t.rows < 4 * nthreads && t.cols >= 2 * MIN_TASK_ELEMS) {
        t.chunks_per_row = (t.cols + MIN_TASK_ELEMS - 1) / MIN_TASK_ELEMS;
        t.chunk = (t.cols + t.chunks_per_row - 1) / t.chunks_per_row;
    }
    return t;
}

void zen__binary_map(zen_tensor *out, const zen_tensor *a, const zen_tensor *b, zen_exec *ex,
                     zen_binary_row row) {
    int64_t total = zen_numel(out);
    if (total == 0) return;
    iter it;
    const zen_tensor *in[2] = {a, b};
    iter_init(&it, out, 2, in);
    int nt = zen__threads_for(ex, total);
    tasks t = plan_tasks(&it, total, nt);
    const float *A = a->data, *B = b->data;
    float *O = out->data;
    int64_t ntasks = t.rows * t.chunks_per_row;
    const int rd = it.ndim - 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < ntasks; k++) {
        int64_t r = k / t.chunks_per_row, c0 = (k % t.chunks_per_row) * t.chunk;
        int64_t n = t.cols - c0 < t.chunk ? t.cols - c0 : t.chunk;
        int64_t oa = zen__offset_of(r, rd, it.shape, it.stride[0]) + c0 * it.stride[0][rd];
        int64_t ob = zen__offset_of(r, rd, it.shape, it.stride[1]) + c0 * it.stride[1][rd];
        row(A + oa, it.stride[0][rd], B + ob, it.stride[1][rd], O + r * t.cols + c0, n, out->fp);
    }
}

void zen__unary_map(zen_tensor *out, const zen_tensor *x, zen_exec *ex, zen_unary_row row) {
    int64_t total = zen_numel(out);
    if (total == 0) return;
    iter it;
    iter_init(&it, out, 1, &x);
    int nt = zen__threads_for(ex, total);
    tasks t = plan_tasks(&it, total, nt);
    const float *X = x->data;
    float *O = out->data;
    int64_t ntasks = t.rows * t.chunks_per_row;
    const int rd = it.ndim - 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < ntasks; k++) {
        int64_t r = k / t.chunks_per_row, c0 = (k % t.chunks_per_row) * t.chunk;
        int64_t n = t.cols - c0 < t.chunk ? t.cols - c0 : t.chunk;
        int64_t ox = zen__offset_of(r, rd, it.shape, it.stride[0]) + c0 * it.stride[0][rd];
        row(X + ox, it.stride[0][rd], O + r * t.cols + c0, n, out->fp);
    }
}

#define DERIV_CHUNK 16384

void zen__deriv_map(zen_tensor *out, zen_exec *ex, zen_deriv_row row) {
    const float *G = out->src[0]->data, *X = out->src[1]->data, *Y = out->src[2]->data;
    float *O = out->data;
    const float *p = out->fp;
    int64_t n = zen_numel(out);
    int nt = zen__threads_for(ex, n);
    int64_t nchunks = nt > 1 ? (n + DERIV_CHUNK - 1) / DERIV_CHUNK : 1;
    int64_t chunk = nt > 1 ? DERIV_CHUNK : n;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < nchunks; k++) {
        int64_t i0 = k * chunk, len = n - i0 < chunk ? n - i0 : chunk;
        row(G + i0, X + i0, Y + i0, O + i0, len, p);
    }
}
