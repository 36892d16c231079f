/* view.c — reshape, permute, slice and expand: views that share their source's buffer,
 * and contiguous, which copies a view into a dense buffer. Each view op's backward maps
 * the gradient back to the source's shape. */
#include "../core/internal.h"
#include "conv.h"
#include "copy.h"
#include "loops.h"

/* ---- reshape ---- */

zen_tensor *zen_reshape(zen_ctx *ctx, zen_tensor *x, int ndim, const int64_t *shape) {
    if (!x) return NULL;
    if (ndim < 0 || ndim > ZEN_MAX_DIMS) return zen__fail(ctx, "zen_reshape: %d dimensions", ndim);
    int64_t s[ZEN_MAX_DIMS], known = 1;
    int infer = -1;
    for (int d = 0; d < ndim; d++) {
        s[d] = shape[d];
        if (s[d] == -1) {
            if (infer >= 0) return zen__fail(ctx, "zen_reshape: more than one -1 in the new shape");
            infer = d;
        } else if (s[d] < 0) {
            return zen__fail(ctx, "zen_reshape: dimension %d is negative (%lld)", d, (long long)s[d]);
        } else {
            known *= s[d];
        }
    }
    int64_t n = zen_numel(x);
    if (infer >= 0) {
        if (known == 0 || n % known) return zen__fail(ctx, "zen_reshape: cannot infer -1 for %lld elements", (long long)n);
        s[infer] = n / known;
        known *= s[infer];
    }
    if (known != n) {
        char buf[128];
        return zen__fail(ctx, "zen_reshape: cannot reshape %s (%lld elements) into %lld elements",
                         zen_shape_str(x, buf, sizeof buf), (long long)n, (long long)known);
    }
    x = zen__dense(ctx, x);
    if (!x) return NULL;
    int64_t stride[ZEN_MAX_DIMS], st = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        stride[d] = st;
        st *= s[d];
    }
    return zen__view(ctx, ZEN_OP_RESHAPE, x, ndim, s, stride, 0);
}

zen_tensor *zen_flatten(zen_ctx *ctx, zen_tensor *x, int start_axis) {
    if (!x) return NULL;
    int a = x->ndim == 0 ? 0 : zen__axis(ctx, "zen_flatten", start_axis, x->ndim);
    if (a < 0) return NULL;
    int64_t shape[ZEN_MAX_DIMS];
    for (int d = 0; d < a; d++) shape[d] = x->shape[d];
    int64_t rest = 1;
    for (int d = a; d < x->ndim; d++) rest *= x->shape[d];
    shape[a] = rest;
    return zen_reshape(ctx, x, a + 1, shape);
}

static void reshape_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *x = out->src[0];
    zen__accum_grad(ctx, x, zen_reshape(ctx, out->grad, x->ndim, x->shape));
}

/* ---- permute / transpose ---- */

zen_tensor *zen_permute(zen_ctx *ctx, zen_tensor *x, const int *perm) {
    if (!x) return NULL;
    int64_t shape[ZEN_MAX_DIMS], stride[ZEN_MAX_DIMS];
    bool used[ZEN_MAX_DIMS] = {false};
    for (int d = 0; d < x->ndim; d++) {
        int p = perm[d] < 0 ? perm[d] + x->ndim : perm[d];
        if (p < 0 || p >= x->ndim || used[p])
            return zen__fail(ctx, "zen_permute: perm is not a permutation of 0..%d", x->ndim - 1);
        used[p] = true;
        shape[d] = x->shape[p];
        stride[d] = x->stride[p];
    }
    zen_tensor *t = zen__view(ctx, ZEN_OP_PERMUTE, x, x->ndim, shape, stride, 0);
    if (!t) return NULL;
    for (int d = 0; d < x->ndim; d++) t->ip[d] = perm[d] < 0 ? perm[d] + x->ndim : perm[d];
    return t;
}

zen_tensor *zen_transpose(zen_ctx *ctx, zen_tensor *x, int axis0, int axis1) {
    if (!x) return NULL;
    int a = zen__axis(ctx, "zen_transpose", axis0, x->ndim);
    int b = a < 0 ? -1 : zen__axis(ctx, "zen_transpose", axis1, x->ndim);
    if (b < 0) return NULL;
    int perm[ZEN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) perm[d] = d;
    perm[a] = b;
    perm[b] = a;
    return zen_permute(ctx, x, perm);
}

static void permute_backward(zen_ctx *ctx, zen_tensor *out) {
    int inverse[ZEN_MAX_DIMS];
    for (int d = 0; d < out->ndim; d++) inverse[out->ip[d]] = d;
    zen__accum_grad(ctx, out->src[0], zen_permute(ctx, out->grad, inverse));
}

/* ---- slice ---- */

zen_tensor *zen_slice(zen_ctx *ctx, zen_tensor *x, int axis, int64_t start, int64_t end, int64_t step) {
    if (!x) return NULL;
    int a = zen__axis(ctx, "zen_slice", axis, x->ndim);
    if (a < 0) return NULL;
    if (step <= 0) return zen__fail(ctx, "zen_slice: step must be positive, got %lld", (long long)step);
    int64_t n = x->shape[a];
    /* Python semantics: negative indices count from the end; out-of-range ones clamp. */
    if (start < 0) start += n;
    if (end < 0) end += n;
    start = start < 0 ? 0 : start > n ? n : start;
    end = end < start ? start : end > n ? n : end;
    int64_t shape[ZEN_MAX_DIMS], stride[ZEN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        shape[d] = x->shape[d];
        stride[d] = x->stride[d];
    }
    shape[a] = (end - start + step - 1) / step;
    stride[a] = x->stride[a] * step;
    zen_tensor *t = zen__view(ctx, ZEN_OP_SLICE, x, x->ndim, shape, stride, start * x->stride[a]);
    if (!t) return NULL;
    t->ip[0] = a;
    t->ip[1] = start;
    t->ip[2] = step;
    return t;
}

int zen_split(zen_ctx *ctx, zen_tensor *x, int axis, int n, const int64_t *sizes, zen_tensor **out) {
    if (!x) return -1;
    int a = zen__axis(ctx, "zen_split", axis, x->ndim);
    if (a < 0) return -1;
    int64_t total = 0;
    for (int i = 0; i < n; i++) {
        if (sizes[i] < 0) return zen__fail(ctx, "zen_split: size %d is negative", i), -1;
        total += sizes[i];
    }
    if (total != x->shape[a])
        return zen__fail(ctx, "zen_split: sizes add up to %lld but axis %d has %lld", (long long)total, a,
                         (long long)x->shape[a]), -1;
    int64_t at = 0;
    for (int i = 0; i < n; i++) {
        out[i] = zen_slice(ctx, x, a, at, at + sizes[i], 1);
        if (!out[i]) return -1;
        at += sizes[i];
    }
    return 0;
}

/* The gradient of a slice: g placed into zeros of the source's shape. */
static zen_tensor *slice_back(zen_ctx *ctx, zen_tensor *g, const zen_tensor *slice) {
    const zen_tensor *x = slice->src[0];
    g = zen__dense(ctx, g);
    if (!g) return NULL;
    zen_tensor *t = zen__node(ctx, ZEN_OP_SLICE_BACK, ZEN_F32, x->ndim, x->shape, g, NULL, NULL, NULL);
    if (t) memcpy(t->ip, slice->ip, 3 * sizeof t->ip[0]);
    return t;
}

static void slice_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__accum_grad(ctx, out->src[0], slice_back(ctx, out->grad, out));
}

static void slice_back_forward(zen_tensor *out, zen_exec *ex) {
    (void)ex;
    const zen_tensor *g = out->src[0];
    int a = (int)out->ip[0];
    int64_t start = out->ip[1], step = out->ip[2];
    memset(out->data, 0, zen_nbytes(out));
    /* View out as [outer, n_axis, inner] and g as [outer, g_axis, inner]. */
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < a; d++) outer *= out->shape[d];
    for (int d = a + 1; d < out->ndim; d++) inner *= out->shape[d];
    int64_t n = out->shape[a], gn = g->shape[a];
    const float *G = g->data;
    float *O = out->data;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < gn; i++)
            memcpy(O + (o * n + start + i * step) * inner, G + (o * gn + i) * inner, (size_t)inner * sizeof *O);
}

/* ---- expand ---- */

zen_tensor *zen_expand(zen_ctx *ctx, zen_tensor *x, int ndim, const int64_t *shape) {
    if (!x) return NULL;
    if (ndim < x->ndim || ndim > ZEN_MAX_DIMS)
        return zen__fail(ctx, "zen_expand: cannot expand %d dimensions to %d", x->ndim, ndim);
    int64_t stride[ZEN_MAX_DIMS];
    for (int i = 0; i < ndim; i++) {
        int d = x->ndim - ndim + i;
        int64_t xs = d >= 0 ? x->shape[d] : 1;
        if (xs != shape[i] && xs != 1) {
            char buf[128];
            return zen__fail(ctx, "zen_expand: cannot expand %s: dim %d is %lld, not 1 or %lld",
                             zen_shape_str(x, buf, sizeof buf), d, (long long)xs, (long long)shape[i]);
        }
        stride[i] = (d < 0 || xs != shape[i]) ? 0 : x->stride[d];
    }
    return zen__view(ctx, ZEN_OP_EXPAND, x, ndim, shape, stride, 0);
}

static void expand_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__accum_grad(ctx, out->src[0], out->grad); /* accum sums down to the source's shape */
}

/* ---- contiguous ---- */

zen_tensor *zen_contiguous(zen_ctx *ctx, zen_tensor *x) {
    if (!x) return NULL;
    /* A fused conv + pool node permuted to channels-last (Flatten's order) writes that
     * layout itself (conv.c): no copy. */
    if (x->op == ZEN_OP_PERMUTE && x->ip[0] == 0 && x->ip[1] == 2 && x->ip[2] == 3 && x->ip[3] == 1 && x->ndim == 4) {
        zen_tensor *t = zen__conv2d_pool_nhwc(ctx, x->src[0]);
        if (t || zen_ctx_error(ctx)) return t;
    }
    return zen__node(ctx, ZEN_OP_CONTIGUOUS, x->dtype, x->ndim, x->shape, x, NULL, NULL, NULL);
}

ZEN_DEFINE_UNARY_ROW(copy_row, x)

/* When x, with out's dims merged where x's layout allows, is a batch of transposed
 * matrices — out [B, R, K] dense and x[b, r, k] at b*sb + r + k*sk — sets *B, *R, *K, *sb,
 * *sk and returns true. The NCHW <-> NHWC permutes of image layers are such copies. */
static bool batched_transpose(const zen_tensor *x, int64_t *B, int64_t *R, int64_t *K, int64_t *sb, int64_t *sk) {
    int64_t shape[ZEN_MAX_DIMS], stride[ZEN_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < x->ndim; d++) {
        if (x->shape[d] == 1) continue;
        if (nd > 0 && stride[nd - 1] == x->stride[d] * x->shape[d]) {
            shape[nd - 1] *= x->shape[d];
            stride[nd - 1] = x->stride[d];
        } else {
            shape[nd] = x->shape[d];
            stride[nd++] = x->stride[d];
        }
    }
    if (nd == 2) {
        shape[2] = shape[1], stride[2] = stride[1];
        shape[1] = shape[0], stride[1] = stride[0];
        shape[0] = 1, stride[0] = 0;
        nd = 3;
    }
    if (nd != 3 || stride[1] != 1 || stride[2] < shape[1] || shape[1] < 2 || shape[2] < 2) return false;
    *B = shape[0], *R = shape[1], *K = shape[2], *sb = stride[0], *sk = stride[2];
    return true;
}

static void contiguous_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0];
    int64_t B, R, K, sb, sk;
    if ((x->dtype == ZEN_F32 || x->dtype == ZEN_I32) && batched_transpose(x, &B, &R, &K, &sb, &sk)) {
        const float *X = x->data;
        float *O = out->data;
        int nt = zen__threads_for(ex, B * R * K);
        if (B < nt) nt = 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t b = 0; b < B; b++) zen__transpose(O + b * R * K, K, X + b * sb, sk, R, K);
        return;
    }
    if (x->dtype == ZEN_F32 || x->dtype == ZEN_I32) { /* both 4-byte: copy the bits */
        zen__unary_map(out, x, ex, copy_row);
    } else {
        int64_t n = zen_numel(out);
        size_t es = zen_dtype_bytes(x->dtype, 1);
        for (int64_t i = 0; i < n; i++)
            memcpy((char *)out->data + i * es,
                   (const char *)x->data + zen__offset_of(i, x->ndim, x->shape, x->stride) * es, es);
    }
}

static void contiguous_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__accum_grad(ctx, out->src[0], out->grad);
}

const zen_op_def zen_op_reshape = {"reshape", NULL, reshape_backward, NULL, true};
const zen_op_def zen_op_permute = {"permute", NULL, permute_backward, NULL, true};
const zen_op_def zen_op_slice = {"slice", NULL, slice_backward, NULL, true};
const zen_op_def zen_op_expand = {"expand", NULL, expand_backward, NULL, true};
const zen_op_def zen_op_slice_back = {"slice_back", slice_back_forward, NULL, NULL, false};
const zen_op_def zen_op_contiguous = {"contiguous", contiguous_forward, contiguous_backward, NULL, false};
