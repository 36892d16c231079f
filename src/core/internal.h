/*
 * internal.h — what the parts of zen share with each other but not with users.
 *
 * An op is one zen_op_def: a forward kernel, a backward rule that builds gradient nodes
 * out of other ops, and optionally the scratch memory its kernel needs. Constructors
 * (zen_add, zen_conv2d, ...) check their inputs, then call zen__node to record the node.
 */
#ifndef ZEN_INTERNAL_H
#define ZEN_INTERNAL_H

#include "zen.h"

#include <stdarg.h>
#include <string.h>

/* ---- op ids, from the table in src/ops/ops.def ---- */
enum zen_op_id {
    ZEN_OP_NONE = 0, /* leaves */
#define ZEN_OP(ID, name) ZEN_OP_##ID,
#include "../ops/ops.def"
#undef ZEN_OP
    ZEN_OP_COUNT
};

/* What a kernel gets besides its node: scratch memory and the thread budget. */
typedef struct zen_exec {
    void *work;        /* scratch of at least work_size(node) bytes, 64-byte aligned */
    int nthreads;      /* threads this op may use */
    uint64_t run;      /* how many times the graph has been computed before (dropout) */
    bool training;     /* false: dropout is the identity */
    zen_ctx *ctx;      /* for reporting data errors (zen__fail) */
    int failed;        /* set by zen__exec_fail */
} zen_exec;

typedef struct zen_op_def {
    const char *name;
    /* Computes out->data from out->src[i]->data. Inputs are as the constructor left
     * them: a kernel that needs dense inputs has its constructor insert zen_contiguous. */
    void (*forward)(zen_tensor *out, zen_exec *ex);
    /* Adds gradient contributions for out's sources, given out->grad, by building nodes
     * with the op constructors and calling zen__accum_grad. NULL: not differentiable. */
    void (*backward)(zen_ctx *ctx, zen_tensor *out);
    /* Scratch bytes the forward kernel needs with n threads. NULL: none. */
    size_t (*work_size)(const zen_tensor *out, int nthreads);
    /* Views share their source's buffer; forward is not called for them. */
    bool is_view;
} zen_op_def;

extern const zen_op_def *const zen_op_table[ZEN_OP_COUNT];

#define ZEN_OP(ID, name) extern const zen_op_def zen_op_##name;
#include "../ops/ops.def"
#undef ZEN_OP

/* ---- context ---- */
typedef struct zen_leaf_buf zen_leaf_buf;
struct zen_ctx {
    struct zen_arena_chunk *arena; /* tensor metadata */
    zen_leaf_buf *leaf_bufs;       /* data of leaves, freed with the context */
    char error[512];
    bool has_error;
    int nthreads;
};

/* Records an error ("fn: message") unless one is already recorded. Returns NULL so
 * constructors can `return zen__fail(ctx, ...)`. */
void *zen__fail(zen_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* For kernels: records a data error once (thread-safe) and marks the run failed. */
void zen__exec_fail(zen_exec *ex, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

void *zen__arena_alloc(zen_ctx *ctx, size_t size); /* zeroed, 16-byte aligned, lives with ctx */
void *zen__aligned_alloc(size_t size);             /* 64-byte aligned, huge pages when large */
void zen__aligned_free(void *p);
void *zen__leaf_data(zen_ctx *ctx, size_t bytes); /* zeroed, owned by ctx */

/* ---- node construction ---- */

/* Records a node of op `op` with the given dtype and shape (contiguous strides, no data)
 * and sources (NULL-terminated list of up to ZEN_MAX_SRC). Its NEEDS_GRAD flag is set when
 * any source needs a gradient. */
zen_tensor *zen__node(zen_ctx *ctx, int op, zen_dtype dt, int ndim, const int64_t *shape,
                      zen_tensor *s0, zen_tensor *s1, zen_tensor *s2, zen_tensor *s3);
/* A view node of op `op` (an is_view op): shares src's buffer starting view_offset elements
 * in (counted in src's buffer), with its own shape and strides. */
zen_tensor *zen__view(zen_ctx *ctx, int op, zen_tensor *src, int ndim, const int64_t *shape,
                      const int64_t *stride, int64_t view_offset);
void zen__set_contiguous_strides(zen_tensor *t);

/* Normalises a possibly negative axis; returns -1 (and records an error naming fn) when
 * it is out of range. */
int zen__axis(zen_ctx *ctx, const char *fn, int axis, int ndim);
/* Checks that t is f32 (or records an error naming fn and what). */
bool zen__check_f32(zen_ctx *ctx, const char *fn, const char *what, const zen_tensor *t);
/* Returns x itself when dense, else a zen_contiguous copy node. */
zen_tensor *zen__dense(zen_ctx *ctx, zen_tensor *x);
/* Output shape of broadcasting a and b; false (and an error naming fn) if impossible. */
bool zen__broadcast_shape(zen_ctx *ctx, const char *fn, const zen_tensor *a, const zen_tensor *b,
                          int *ndim, int64_t *shape);
/* Strides of x viewed with the shape of `out` (right-aligned, 0 where broadcast). */
void zen__broadcast_strides(const zen_tensor *x, int ndim, const int64_t *shape, int64_t *stride);

/* ---- autodiff ---- */

/* Adds `g` to the gradient of `x` (creating it, or summing on fan-out). When g has a
 * broadcast shape larger than x, it is first summed down to x's shape. Does nothing if x
 * does not need a gradient. */
void zen__accum_grad(zen_ctx *ctx, zen_tensor *x, zen_tensor *g);
/* Sums g over the dims where `shape` (right-aligned) is 1 or missing. */
zen_tensor *zen__reduce_to_shape(zen_ctx *ctx, zen_tensor *g, int ndim, const int64_t *shape);
static inline bool zen__needs_grad(const zen_tensor *t) {
    return t && (t->flags & (ZEN_FLAG_NEEDS_GRAD | ZEN_FLAG_PARAM));
}

/* Elementwise ops (unary.c, activation.c): a fused gradient node g * f'(x) for the
 * unary op node `out`; and the kernel of activation derivatives, called by unary_back. */
zen_tensor *zen__unary_back(zen_ctx *ctx, zen_tensor *out);
void zen__unary_back_activation(zen_tensor *out, zen_exec *ex);

/* ---- kernels' helpers ---- */

/* Index of an element from a flat position in row-major order of `shape`, mapped through
 * `stride`. Used by general (slow-path) loops. */
static inline int64_t zen__offset_of(int64_t flat, int ndim, const int64_t *shape,
                                     const int64_t *stride) {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; d--) {
        int64_t i = flat % shape[d];
        flat /= shape[d];
        off += i * stride[d];
    }
    return off;
}

/* Threads to use for a loop of `work` simple operations: 1 below ~32k, so tiny ops
 * do not pay for waking the pool. */
static inline int zen__threads_for(const zen_exec *ex, int64_t work) {
    return work < 32768 ? 1 : ex->nthreads;
}

/* Row-major sgemm on whichever BLAS zen was built with:
 * C[M,N] = alpha * op(A)[M,K] · op(B)[K,N] + beta * C. lda/ldb/ldc are row strides. */
void zen__sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                int64_t ldc);

#endif /* ZEN_INTERNAL_H */
