/* pad.c — constant padding, as torch.nn.functional.pad(x, pads, value=value) (mode
 * "constant"), but with pads given per axis in axis order: pads[2*i], pads[2*i+1] are the
 * amounts before/after axis i (torch lists the last axis first).
 *
 * Negative amounts crop, as torch allows: the constructor first takes a zen_slice view of
 * the kept part, then pads it with the non-negative amounts. As in torch, the crops of one
 * axis together may remove at most all of it (a result of size 0 is fine).
 *
 * The PAD node keeps the non-negative amounts in ip[0..2*ndim) and the value in fp[0]. Its
 * kernel writes every output element once: rows of the output are either border (value)
 * or value | copy of a row of x | value. Its gradient is a slice view of the upstream
 * gradient (the interior); cropped parts get zeros through the slice's own gradient. */
#include "../core/internal.h"
#include "loops.h"

#include <math.h>

#define MIN_TASK_ELEMS 16384
#define MAX_PAD (INT64_MAX / 8)

zen_tensor *zen_pad(zen_ctx *ctx, zen_tensor *x, const int64_t *pads, float value) {
    if (!x) return NULL;
    if (x->dtype != ZEN_F32 && x->dtype != ZEN_I32)
        return zen__fail(ctx, "zen_pad: x must be f32 or i32, got %s", zen_dtype_name(x->dtype));
    if (!pads && x->ndim > 0) return zen__fail(ctx, "zen_pad: pads is NULL");
    if (x->dtype == ZEN_I32 && !(value == truncf(value) && fabsf(value) <= 2147483520.0f))
        return zen__fail(ctx, "zen_pad: value %g cannot be stored in an i32 tensor", value);
    int64_t keep[2 * ZEN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) {
        int64_t before = pads[2 * d], after = pads[2 * d + 1];
        if (before > MAX_PAD || before < -MAX_PAD || after > MAX_PAD || after < -MAX_PAD)
            return zen__fail(ctx, "zen_pad: pads of axis %d (%lld, %lld) are too large", d, (long long)before,
                             (long long)after);
        int64_t crop = (before < 0 ? -before : 0) + (after < 0 ? -after : 0);
        if (crop > x->shape[d]) {
            char buf[128];
            return zen__fail(ctx, "zen_pad: pads (%lld, %lld) crop %lld elements from axis %d of %s, "
                                  "which has only %lld", (long long)before, (long long)after, (long long)crop,
                             d, zen_shape_str(x, buf, sizeof buf), (long long)x->shape[d]);
        }
        keep[2 * d] = before > 0 ? before : 0;
        keep[2 * d + 1] = after > 0 ? after : 0;
    }
    zen_tensor *src = x;
    for (int d = 0; d < x->ndim && src; d++) {
        int64_t before = pads[2 * d], after = pads[2 * d + 1];
        if (before < 0 || after < 0)
            src = zen_slice(ctx, src, d, before < 0 ? -before : 0, x->shape[d] - (after < 0 ? -after : 0), 1);
    }
    if (!src) return NULL;
    int64_t shape[ZEN_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) shape[d] = src->shape[d] + keep[2 * d] + keep[2 * d + 1];
    zen_tensor *t = zen__node(ctx, ZEN_OP_PAD, x->dtype, x->ndim, shape, src, NULL, NULL, NULL);
    if (!t) return NULL;
    memcpy(t->ip, keep, sizeof(int64_t) * 2 * (size_t)x->ndim);
    t->fp[0] = value;
    return t;
}

/* Columns [c0, c1) of one output row: value, then x (n elements, stride sx) from column
 * `before` on, then value again. x == NULL: the row is all border. */
ZEN_TARGET_CLONES static void pad_row(uint32_t *restrict o, const uint32_t *restrict x, int64_t sx, int64_t before,
                                      int64_t n, int64_t c0, int64_t c1, uint32_t fill) {
    if (!x) {
        before = c1;
        n = 0;
    }
    int64_t e0 = before < c0 ? c0 : before > c1 ? c1 : before; /* end of the first border */
    int64_t e1 = before + n < e0 ? e0 : before + n > c1 ? c1 : before + n;
#pragma omp simd
    for (int64_t j = c0; j < e0; j++) o[j] = fill;
    if (sx == 1) {
        if (e1 > e0) memcpy(o + e0, x + (e0 - before), (size_t)(e1 - e0) * sizeof *o);
    } else {
        for (int64_t j = e0; j < e1; j++) o[j] = x[(j - before) * sx];
    }
#pragma omp simd
    for (int64_t j = e1; j < c1; j++) o[j] = fill;
}

static void pad_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0];
    const int nd = out->ndim;
    const int64_t *P = out->ip; /* P[2d], P[2d+1]: amounts before/after axis d */
    uint32_t fill;
    if (out->dtype == ZEN_I32) {
        int32_t v = (int32_t)out->fp[0];
        memcpy(&fill, &v, sizeof fill);
    } else {
        memcpy(&fill, &out->fp[0], sizeof fill);
    }
    int64_t total = zen_numel(out);
    if (total == 0) return;
    uint32_t *O = out->data;
    const uint32_t *X = x->data;
    if (nd == 0) {
        O[0] = X[0];
        return;
    }
    /* A row is the suffix of axes [r0, nd): axes after r0 are not padded and x walks
     * them with one stride sx, so the row is value | x run | value. */
    int r0 = nd - 1;
    bool known = x->shape[nd - 1] != 1;
    int64_t sx = known ? x->stride[nd - 1] : 1, inner = x->shape[nd - 1];
    while (r0 > 0 && P[2 * r0] == 0 && P[2 * r0 + 1] == 0) {
        int d = r0 - 1;
        if (x->shape[d] != 1) {
            if (!known) {
                sx = x->stride[d]; /* inner == 1 here */
                known = true;
            } else if (x->stride[d] != sx * inner) {
                break;
            }
        }
        inner *= x->shape[d];
        r0 = d;
    }
    int64_t unit = 1; /* elements of the row per index of axis r0 */
    for (int d = r0 + 1; d < nd; d++) unit *= out->shape[d];
    const int64_t cols = out->shape[r0] * unit, rows = total / cols;
    const int64_t before = P[2 * r0] * unit, n = x->shape[r0] * unit;

    int nt = zen__threads_for(ex, total);
    int64_t chunks = 1, chunk = cols;
    if (nt > 1 && rows < 4 * nt && cols >= 2 * MIN_TASK_ELEMS) {
        chunks = (cols + MIN_TASK_ELEMS - 1) / MIN_TASK_ELEMS;
        chunk = (cols + chunks - 1) / chunks;
    }
    int64_t ntasks = rows * chunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < ntasks; k++) {
        int64_t r = k / chunks, c0 = (k % chunks) * chunk;
        int64_t c1 = c0 + chunk < cols ? c0 + chunk : cols;
        /* Coordinates of row r over axes [0, r0): inside x on every axis, or border. */
        const uint32_t *xr = X;
        int64_t rem = r;
        for (int d = r0 - 1; d >= 0 && xr; d--) {
            int64_t c = rem % out->shape[d] - P[2 * d];
            rem /= out->shape[d];
            if (c < 0 || c >= x->shape[d]) xr = NULL;
            else xr += c * x->stride[d];
        }
        pad_row(O + r * cols, xr, sx, before, n, c0, c1, fill);
    }
}

static void pad_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *x = out->src[0], *g = out->grad;
    for (int d = 0; d < out->ndim && g; d++)
        if (out->ip[2 * d] || out->ip[2 * d + 1]) g = zen_slice(ctx, g, d, out->ip[2 * d], out->ip[2 * d] + x->shape[d], 1);
    zen__accum_grad(ctx, x, g);
}

const zen_op_def zen_op_pad = {"pad", pad_forward, pad_backward, NULL, false};
