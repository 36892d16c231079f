/* where.c — where(cond, a, b) = cond ? a : b elementwise, as torch.where, broadcasting all
 * three. cond is f32 (nonzero is true; NaN counts as nonzero, as bool(nan) in torch) or
 * i32. Gradients: where(cond, g, 0) to a and where(cond, 0, g) to b (summed down to their
 * shapes by zen__accum_grad); cond gets none.
 *
 * The kernel iterates like loops.c but over three operands: broadcast strides per operand,
 * adjacent dims merged when every operand allows, rows (cut into chunks when few and long)
 * spread over threads. */
#include "../core/internal.h"
#include "loops.h"

#define NOPS 3
#define MIN_TASK_ELEMS 16384

zen_tensor *zen_where(zen_ctx *ctx, zen_tensor *cond, zen_tensor *a, zen_tensor *b) {
    if (!cond || !a || !b) return NULL;
    if (cond->dtype != ZEN_F32 && cond->dtype != ZEN_I32)
        return zen__fail(ctx, "zen_where: cond must be f32 or i32, got %s", zen_dtype_name(cond->dtype));
    if (!zen__check_f32(ctx, "zen_where", "a", a) || !zen__check_f32(ctx, "zen_where", "b", b)) return NULL;
    zen_tensor ab = {.dtype = ZEN_F32};
    int ndim;
    int64_t shape[ZEN_MAX_DIMS];
    if (!zen__broadcast_shape(ctx, "zen_where", a, b, &ab.ndim, ab.shape)) return NULL;
    if (!zen__broadcast_shape(ctx, "zen_where", cond, &ab, &ndim, shape)) return NULL;
    return zen__node(ctx, ZEN_OP_WHERE, ZEN_F32, ndim, shape, cond, a, b, NULL);
}

/* One row: o[j] = c[j*sc] ? x[j*sx] : y[j*sy], with the common stride patterns on their
 * own loops so that they vectorize. */
#define WHERE_ROW(name, CT)                                                                              \
    ZEN_TARGET_CLONES static void name(const CT *restrict c, int64_t sc, const float *restrict x, int64_t sx, \
                                       const float *restrict y, int64_t sy, float *restrict o, int64_t n) {  \
        if (sc == 1 && sx == 1 && sy == 1) {                                                             \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) o[j] = c[j] != 0 ? x[j] : y[j];          \
        } else if (sc == 1 && sx == 1 && sy == 0) {                                                      \
            const float y0 = y[0];                                                                       \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) o[j] = c[j] != 0 ? x[j] : y0;            \
        } else if (sc == 1 && sx == 0 && sy == 1) {                                                      \
            const float x0 = x[0];                                                                       \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) o[j] = c[j] != 0 ? x0 : y[j];            \
        } else if (sc == 0) {                                                                            \
            const float *restrict s = c[0] != 0 ? x : y;                                                 \
            const int64_t ss = c[0] != 0 ? sx : sy;                                                      \
            for (int64_t j = 0; j < n; j++) o[j] = s[j * ss];                                            \
        } else {                                                                                         \
            for (int64_t j = 0; j < n; j++) o[j] = c[j * sc] != 0 ? x[j * sx] : y[j * sy];               \
        }                                                                                                \
    }
WHERE_ROW(where_row_f32, float)
WHERE_ROW(where_row_i32, int32_t)

static void where_forward(zen_tensor *out, zen_exec *ex) {
    const int64_t total = zen_numel(out);
    if (total == 0) return;
    /* Broadcast strides over out's shape, then merge dims laid out alike in all operands. */
    int64_t st[NOPS][ZEN_MAX_DIMS], sh[ZEN_MAX_DIMS], ms[NOPS][ZEN_MAX_DIMS];
    for (int k = 0; k < NOPS; k++) zen__broadcast_strides(out->src[k], out->ndim, out->shape, st[k]);
    int nd = 0;
    for (int d = 0; d < out->ndim; d++) {
        if (out->shape[d] == 1) continue;
        bool merge = nd > 0;
        for (int k = 0; k < NOPS && merge; k++) merge = ms[k][nd - 1] == st[k][d] * out->shape[d];
        if (merge) {
            sh[nd - 1] *= out->shape[d];
            for (int k = 0; k < NOPS; k++) ms[k][nd - 1] = st[k][d];
        } else {
            sh[nd] = out->shape[d];
            for (int k = 0; k < NOPS; k++) ms[k][nd] = st[k][d];
            nd++;
        }
    }
    if (nd == 0) {
        nd = 1;
        sh[0] = 1;
        for (int k = 0; k < NOPS; k++) ms[k][0] = 0;
    }
    const int rd = nd - 1;
    const int64_t cols = sh[rd], rows = total / cols;
    int nt = zen__threads_for(ex, total);
    int64_t chunks = 1, chunk = cols;
    if (nt > 1 && rows < 4 * nt && cols >= 2 * MIN_TASK_ELEMS) {
        chunks = (cols + MIN_TASK_ELEMS - 1) / MIN_TASK_ELEMS;
        chunk = (cols + chunks - 1) / chunks;
    }
    const bool ci32 = out->src[0]->dtype == ZEN_I32;
    const char *C = out->src[0]->data; /* 4-byte elements either way */
    const float *A = out->src[1]->data, *B = out->src[2]->data;
    float *O = out->data;
    const int64_t ntasks = rows * chunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < ntasks; k++) {
        int64_t r = k / chunks, c0 = (k % chunks) * chunk;
        int64_t n = cols - c0 < chunk ? cols - c0 : chunk;
        int64_t oc = zen__offset_of(r, rd, sh, ms[0]) + c0 * ms[0][rd];
        int64_t oa = zen__offset_of(r, rd, sh, ms[1]) + c0 * ms[1][rd];
        int64_t ob = zen__offset_of(r, rd, sh, ms[2]) + c0 * ms[2][rd];
        if (ci32)
            where_row_i32((const int32_t *)C + oc, ms[0][rd], A + oa, ms[1][rd], B + ob, ms[2][rd], O + r * cols + c0, n);
        else
            where_row_f32((const float *)C + oc, ms[0][rd], A + oa, ms[1][rd], B + ob, ms[2][rd], O + r * cols + c0, n);
    }
}

static void where_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *cond = out->src[0], *a = out->src[1], *b = out->src[2];
    zen_tensor *zero = zen_scalar(ctx, 0.0f);
    if (zen__needs_grad(a)) zen__accum_grad(ctx, a, zen_where(ctx, cond, out->grad, zero));
    if (zen__needs_grad(b)) zen__accum_grad(ctx, b, zen_where(ctx, cond, zero, out->grad));
}

const zen_op_def zen_op_where = {"where", where_forward, where_backward, NULL, false};
