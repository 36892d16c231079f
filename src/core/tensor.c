/* tensor.c — dtypes, leaves, shapes, strides, broadcasting, node records. */
#include "internal.h"

#include <stdio.h>

static const struct {
    const char *name;
    int block;         /* elements per block */
    int block_bytes;   /* bytes per block */
} dtype_info[ZEN_DTYPE_COUNT] = {
    [ZEN_F32] = {"f32", 1, 4},  [ZEN_I32] = {"i32", 1, 4},    [ZEN_F16] = {"f16", 1, 2},
    [ZEN_BF16] = {"bf16", 1, 2}, [ZEN_I8] = {"i8", 1, 1},     [ZEN_Q8_0] = {"q8_0", 32, 34},
};

const char *zen_dtype_name(zen_dtype dt) {
    return (unsigned)dt < ZEN_DTYPE_COUNT ? dtype_info[dt].name : "?";
}

size_t zen_dtype_bytes(zen_dtype dt, int64_t n) {
    return (size_t)(n / dtype_info[dt].block) * (size_t)dtype_info[dt].block_bytes;
}

int64_t zen_numel(const zen_tensor *t) {
    int64_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= t->shape[d];
    return n;
}

size_t zen_nbytes(const zen_tensor *t) { return zen_dtype_bytes(t->dtype, zen_numel(t)); }

bool zen_is_contiguous(const zen_tensor *t) {
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->stride[d] != expect) return false;
        expect *= t->shape[d];
    }
    return true;
}

bool zen_same_shape(const zen_tensor *a, const zen_tensor *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

void zen_set_name(zen_tensor *t, const char *name) {
    snprintf(t->name, sizeof t->name, "%s", name);
}

char *zen_shape_str(const zen_tensor *t, char *buf, size_t size) {
    size_t n = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < t->ndim && n < size; d++)
        n += (size_t)snprintf(buf + n, size - n, d ? ", %lld" : "%lld", (long long)t->shape[d]);
    if (n < size) snprintf(buf + n, size - n, "]");
    return buf;
}

void zen__set_contiguous_strides(zen_tensor *t) {
    int64_t s = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        t->stride[d] = s;
        s *= t->shape[d];
    }
}

/* Checks a user-given shape; a product that overflows is refused like a negative dim. */
static bool check_shape(zen_ctx *ctx, const char *fn, int ndim, const int64_t *shape) {
    if (ndim < 0 || ndim > ZEN_MAX_DIMS)
        return zen__fail(ctx, "%s: %d dimensions (zen supports 0 to %d)", fn, ndim, ZEN_MAX_DIMS), false;
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0)
            return zen__fail(ctx, "%s: dimension %d is negative (%lld)", fn, d, (long long)shape[d]), false;
        if (shape[d] > 0 && n > INT64_MAX / 16 / shape[d])
            return zen__fail(ctx, "%s: shape is too large", fn), false;
        n *= shape[d];
    }
    return true;
}

static zen_tensor *new_tensor(zen_ctx *ctx, int op, zen_dtype dt, int ndim, const int64_t *shape) {
    if ((unsigned)dt >= ZEN_DTYPE_COUNT) return zen__fail(ctx, "zen: unknown dtype %d", (int)dt);
    zen_tensor *t = zen__arena_alloc(ctx, sizeof *t);
    if (!t) return NULL;
    t->dtype = dt;
    t->ndim = ndim;
    t->op = op;
    for (int d = 0; d < ndim; d++) t->shape[d] = shape[d];
    zen__set_contiguous_strides(t);
    return t;
}

static zen_tensor *new_leaf(zen_ctx *ctx, const char *fn, zen_dtype dt, int ndim,
                            const int64_t *shape, int flags) {
    if (!ctx) return NULL;
    if (!check_shape(ctx, fn, ndim, shape)) return NULL;
    zen_tensor *t = new_tensor(ctx, ZEN_OP_NONE, dt, ndim, shape);
    if (!t) return NULL;
    if (zen_numel(t) % dtype_info[dt].block)
        return zen__fail(ctx, "%s: %lld elements is not a multiple of the %s block size %d", fn,
                         (long long)zen_numel(t), dtype_info[dt].name, dtype_info[dt].block);
    t->flags = flags;
    t->data = zen__leaf_data(ctx, zen_nbytes(t));
    return t->data ? t : NULL;
}

zen_tensor *zen_param(zen_ctx *ctx, zen_dtype dt, int ndim, const int64_t *shape) {
    return new_leaf(ctx, "zen_param", dt, ndim, shape, ZEN_FLAG_PARAM);
}
zen_tensor *zen_input(zen_ctx *ctx, zen_dtype dt, int ndim, const int64_t *shape) {
    return new_leaf(ctx, "zen_input", dt, ndim, shape, ZEN_FLAG_INPUT);
}
zen_tensor *zen_const(zen_ctx *ctx, zen_dtype dt, int ndim, const int64_t *shape) {
    return new_leaf(ctx, "zen_const", dt, ndim, shape, 0);
}
zen_tensor *zen_scalar(zen_ctx *ctx, float value) {
    zen_tensor *t = new_leaf(ctx, "zen_scalar", ZEN_F32, 0, NULL, 0);
    if (t) *(float *)t->data = value;
    return t;
}

zen_tensor *zen__node(zen_ctx *ctx, int op, zen_dtype dt, int ndim, const int64_t *shape,
                      zen_tensor *s0, zen_tensor *s1, zen_tensor *s2, zen_tensor *s3) {
    if (!check_shape(ctx, zen_op_name(op), ndim, shape)) return NULL;
    zen_tensor *t = new_tensor(ctx, op, dt, ndim, shape);
    if (!t) return NULL;
    zen_tensor *srcs[ZEN_MAX_SRC] = {s0, s1, s2, s3};
    for (int i = 0; i < ZEN_MAX_SRC; i++) {
        t->src[i] = srcs[i];
        if (zen__needs_grad(srcs[i]) && zen_op_table[op]->backward) t->flags |= ZEN_FLAG_NEEDS_GRAD;
    }
    return t;
}

zen_tensor *zen__view(zen_ctx *ctx, int op, zen_tensor *src, int ndim, const int64_t *shape,
                      const int64_t *stride, int64_t view_offset) {
    zen_tensor *t = zen__node(ctx, op, src->dtype, ndim, shape, src, NULL, NULL, NULL);
    if (!t) return NULL;
    for (int d = 0; d < ndim; d++) t->stride[d] = stride[d];
    /* Views of views point at the buffer's owner, so the planner sees one owner. */
    t->view_src = src->view_src ? src->view_src : src;
    t->view_offset = view_offset + (src->view_src ? src->view_offset : 0);
    return t;
}

int zen__axis(zen_ctx *ctx, const char *fn, int axis, int ndim) {
    int a = axis < 0 ? axis + ndim : axis;
    if (a < 0 || a >= ndim) {
        zen__fail(ctx, "%s: axis %d is out of range for a tensor of %d dimensions", fn, axis, ndim);
        return -1;
    }
    return a;
}

bool zen__check_f32(zen_ctx *ctx, const char *fn, const char *what, const zen_tensor *t) {
    if (t->dtype == ZEN_F32) return true;
    zen__fail(ctx, "%s: %s must be f32, got %s", fn, what, zen_dtype_name(t->dtype));
    return false;
}

zen_tensor *zen__dense(zen_ctx *ctx, zen_tensor *x) {
    if (!x) return NULL;
    return zen_is_contiguous(x) ? x : zen_contiguous(ctx, x);
}

bool zen__broadcast_shape(zen_ctx *ctx, const char *fn, const zen_tensor *a, const zen_tensor *b,
                          int *ndim, int64_t *shape) {
    int n = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < n; i++) {
        int da = a->ndim - n + i, db = b->ndim - n + i;
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char ba[128], bb[128];
            zen__fail(ctx, "%s: shapes %s and %s cannot be broadcast together", fn,
                      zen_shape_str(a, ba, sizeof ba), zen_shape_str(b, bb, sizeof bb));
            return false;
        }
        shape[i] = sa == 1 ? sb : sa;
    }
    *ndim = n;
    return true;
}

void zen__broadcast_strides(const zen_tensor *x, int ndim, const int64_t *shape, int64_t *stride) {
    for (int i = 0; i < ndim; i++) {
        int d = x->ndim - ndim + i;
        stride[i] = (d < 0 || (x->shape[d] == 1 && shape[i] != 1)) ? 0 : x->stride[d];
    }
}

float zen_get_f32(const zen_tensor *t, const int64_t *index) {
    int64_t off = 0;
    for (int d = 0; d < t->ndim; d++) off += index[d] * t->stride[d];
    return ((const float *)t->data)[off];
}

void zen_fill_f32(zen_tensor *t, float value) {
    int64_t n = zen_numel(t);
    float *p = t->data;
    for (int64_t i = 0; i < n; i++) p[zen__offset_of(i, t->ndim, t->shape, t->stride)] = value;
}
