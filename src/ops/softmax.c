/* softmax.c — softmax and log-softmax along one axis, numerically stable, and their fused
 * gradients:
 *   softmax:      y = exp(x - max) / sum(exp(x - max))       dx = y * (g - sum(g * y))
 *   log_softmax:  y = (x - max) - log(sum(exp(x - max)))      dx = g - exp(y) * sum(g)
 * Each kernel sees its input as [A, R, B] with R the softmax axis. B == 1 (the last axis, the
 * common case) runs contiguous rows; B > 1 runs blocks of columns, R steps of B apart.
 * A 0-d input is a single element (axis 0 or -1), as in torch. */
#include "softmax.h"

#include "../core/internal.h"
#include "loops.h"
#include "vmath.h"

#include <math.h>

/* ---- exp ----
 * Every exp in softmax, log-softmax and the cross-entropy losses is evaluated by the
 * functions of this section, through SOFTMAX_EXP on one float inside an `omp simd` loop:
 * vmath.h's branch-free exp, which vectorizes (1 ulp). */
#define SOFTMAX_EXP(v) zen_vm_exp(v)

ZEN_TARGET_CLONES float zen__row_max(const float *restrict x, int64_t n) {
    float m = x[0];
#pragma omp simd reduction(max : m)
    for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}

ZEN_TARGET_CLONES float zen__row_exp_shift(const float *restrict x, float shift, float scale, float *restrict o,
                                           int64_t n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) {
        float e = SOFTMAX_EXP(x[i] - shift) * scale;
        o[i] = e;
        s += e;
    }
    return s;
}

ZEN_TARGET_CLONES float zen__row_exp_shift_sum(const float *restrict x, float shift, int64_t n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += SOFTMAX_EXP(x[i] - shift);
    return s;
}

ZEN_TARGET_CLONES void zen__cols_max(float *restrict m, const float *restrict x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) m[i] = x[i] > m[i] ? x[i] : m[i];
}

ZEN_TARGET_CLONES void zen__cols_exp_shift(const float *restrict x, const float *restrict shift, float *restrict o,
                                           float *restrict sum, int64_t n) {
    if (o && sum) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float e = SOFTMAX_EXP(x[i] - shift[i]);
            o[i] = e;
            sum[i] += e;
        }
    } else if (o) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) o[i] = SOFTMAX_EXP(x[i] - shift[i]);
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) sum[i] += SOFTMAX_EXP(x[i] - shift[i]);
    }
}

/* dx[i] = g[i] - exp(y[i]) * s (log-softmax backward). */
ZEN_TARGET_CLONES static void logsoftmax_back_row(const float *restrict g, const float *restrict y, float s,
                                                  float *restrict dx, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dx[i] = g[i] - SOFTMAX_EXP(y[i]) * s;
}

/* dx[i] = g[i] - exp(y[i]) * s[i] (log-softmax backward, columns). */
ZEN_TARGET_CLONES static void logsoftmax_back_cols(const float *restrict g, const float *restrict y,
                                                   const float *restrict s, float *restrict dx, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) dx[i] = g[i] - SOFTMAX_EXP(y[i]) * s[i];
}

/* ---- other row kernels ---- */

ZEN_TARGET_CLONES static float row_sum(const float *restrict x, int64_t n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += x[i];
    return s;
}

ZEN_TARGET_CLONES static float row_dot(const float *restrict a, const float *restrict b, int64_t n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

ZEN_TARGET_CLONES static void row_scale(float *restrict o, float s, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] *= s;
}

/* o[i] = (x[i] - m) - ls */
ZEN_TARGET_CLONES static void row_sub2(const float *restrict x, float m, float ls, float *restrict o, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] = (x[i] - m) - ls;
}

/* o[i] = y[i] * (g[i] - s) */
ZEN_TARGET_CLONES static void row_softmax_back(const float *restrict g, const float *restrict y, float s,
                                               float *restrict o, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] = y[i] * (g[i] - s);
}

/* Column forms of the same. */
ZEN_TARGET_CLONES static void cols_add(float *restrict s, const float *restrict x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) s[i] += x[i];
}
ZEN_TARGET_CLONES static void cols_fma(float *restrict s, const float *restrict a, const float *restrict b, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) s[i] += a[i] * b[i];
}
ZEN_TARGET_CLONES static void cols_mul(float *restrict o, const float *restrict s, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] *= s[i];
}
ZEN_TARGET_CLONES static void cols_sub2(const float *restrict x, const float *restrict m, const float *restrict ls,
                                        float *restrict o, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] = (x[i] - m[i]) - ls[i];
}
ZEN_TARGET_CLONES static void cols_softmax_back(const float *restrict g, const float *restrict y,
                                                const float *restrict s, float *restrict o, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] = y[i] * (g[i] - s[i]);
}

/* ---- constructors ---- */

static void arb(const zen_tensor *x, int axis, int64_t *A, int64_t *R, int64_t *B) {
    *A = *R = *B = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d < axis) *A *= x->shape[d];
        else if (d == axis) *R = x->shape[d];
        else *B *= x->shape[d];
    }
}

static zen_tensor *softmax_op(zen_ctx *ctx, int op, const char *fn, zen_tensor *x, int axis) {
    if (!x) return NULL;
    if (!zen__check_f32(ctx, fn, "x", x)) return NULL;
    int a = zen__axis(ctx, fn, axis, x->ndim > 0 ? x->ndim : 1);
    if (a < 0) return NULL;
    x = zen__dense(ctx, x);
    zen_tensor *t = zen__node(ctx, op, ZEN_F32, x->ndim, x->shape, x, NULL, NULL, NULL);
    if (t) t->ip[0] = a;
    return t;
}

zen_tensor *zen_softmax(zen_ctx *ctx, zen_tensor *x, int axis) {
    return softmax_op(ctx, ZEN_OP_SOFTMAX, "zen_softmax", x, axis);
}
zen_tensor *zen_log_softmax(zen_ctx *ctx, zen_tensor *x, int axis) {
    return softmax_op(ctx, ZEN_OP_LOG_SOFTMAX, "zen_log_softmax", x, axis);
}

/* ---- forward ---- */

static void softmax_forward_impl(zen_tensor *out, zen_exec *ex, bool log) {
    const zen_tensor *x = out->src[0];
    int64_t A, R, B;
    arb(x, (int)out->ip[0], &A, &R, &B);
    if (A * R * B == 0) return;
    const float *X = x->data;
    float *Y = out->data;
    int nt = zen__threads_for(ex, 4 * A * R * B); /* exp costs several simple operations */
    if (B == 1) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t a = 0; a < A; a++) {
            const float *xr = X + a * R;
            float *yr = Y + a * R;
            float m = zen__row_max(xr, R);
            if (log) {
                float s = zen__row_exp_shift_sum(xr, m, R);
                row_sub2(xr, m, logf(s), yr, R);
            } else {
                float s = zen__row_exp_shift(xr, m, 1.0f, yr, R);
                row_scale(yr, 1.0f / s, R);
            }
        }
        return;
    }
    const int64_t nchunks = (B + ZEN_SOFTMAX_COLS - 1) / ZEN_SOFTMAX_COLS;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < A * nchunks; k++) {
        int64_t a = k / nchunks, b0 = (k % nchunks) * ZEN_SOFTMAX_COLS;
        int64_t n = B - b0 < ZEN_SOFTMAX_COLS ? B - b0 : ZEN_SOFTMAX_COLS;
        const float *xb = X + a * R * B + b0;
        float *yb = Y + a * R * B + b0;
        float m[ZEN_SOFTMAX_COLS], s[ZEN_SOFTMAX_COLS];
        memcpy(m, xb, (size_t)n * sizeof *m);
        for (int64_t r = 1; r < R; r++) zen__cols_max(m, xb + r * B, n);
        memset(s, 0, (size_t)n * sizeof *s);
        for (int64_t r = 0; r < R; r++) zen__cols_exp_shift(xb + r * B, m, log ? NULL : yb + r * B, s, n);
        if (log) {
            for (int64_t i = 0; i < n; i++) s[i] = logf(s[i]);
            for (int64_t r = 0; r < R; r++) cols_sub2(xb + r * B, m, s, yb + r * B, n);
        } else {
            for (int64_t i = 0; i < n; i++) s[i] = 1.0f / s[i];
            for (int64_t r = 0; r < R; r++) cols_mul(yb + r * B, s, n);
        }
    }
}

static void softmax_forward(zen_tensor *out, zen_exec *ex) { softmax_forward_impl(out, ex, false); }
static void log_softmax_forward(zen_tensor *out, zen_exec *ex) { softmax_forward_impl(out, ex, true); }

/* ---- backward: one fused node BACK(g, y) ---- */

static void softmax_backward_any(zen_ctx *ctx, zen_tensor *out, int back_op) {
    zen_tensor *g = zen__dense(ctx, out->grad);
    if (!g) return;
    zen_tensor *t = zen__node(ctx, back_op, ZEN_F32, out->ndim, out->shape, g, out, NULL, NULL);
    if (!t) return;
    t->ip[0] = out->ip[0];
    zen__accum_grad(ctx, out->src[0], t);
}

static void softmax_backward(zen_ctx *ctx, zen_tensor *out) { softmax_backward_any(ctx, out, ZEN_OP_SOFTMAX_BACK); }
static void log_softmax_backward(zen_ctx *ctx, zen_tensor *out) {
    softmax_backward_any(ctx, out, ZEN_OP_LOG_SOFTMAX_BACK);
}

static void softmax_back_impl(zen_tensor *out, zen_exec *ex, bool log) {
    const zen_tensor *g = out->src[0], *y = out->src[1];
    int64_t A, R, B;
    arb(out, (int)out->ip[0], &A, &R, &B);
    if (A * R * B == 0) return;
    const float *G = g->data, *Y = y->data;
    float *O = out->data;
    int nt = zen__threads_for(ex, (log ? 4 : 2) * A * R * B);
    if (B == 1) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t a = 0; a < A; a++) {
            const float *gr = G + a * R, *yr = Y + a * R;
            float *o = O + a * R;
            if (log) logsoftmax_back_row(gr, yr, row_sum(gr, R), o, R);
            else row_softmax_back(gr, yr, row_dot(gr, yr, R), o, R);
        }
        return;
    }
    const int64_t nchunks = (B + ZEN_SOFTMAX_COLS - 1) / ZEN_SOFTMAX_COLS;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < A * nchunks; k++) {
        int64_t a = k / nchunks, b0 = (k % nchunks) * ZEN_SOFTMAX_COLS;
        int64_t n = B - b0 < ZEN_SOFTMAX_COLS ? B - b0 : ZEN_SOFTMAX_COLS;
        int64_t base = a * R * B + b0;
        float s[ZEN_SOFTMAX_COLS];
        memset(s, 0, (size_t)n * sizeof *s);
        for (int64_t r = 0; r < R; r++) {
            if (log) cols_add(s, G + base + r * B, n);
            else cols_fma(s, G + base + r * B, Y + base + r * B, n);
        }
        for (int64_t r = 0; r < R; r++) {
            int64_t off = base + r * B;
            if (log) logsoftmax_back_cols(G + off, Y + off, s, O + off, n);
            else cols_softmax_back(G + off, Y + off, s, O + off, n);
        }
    }
}

static void softmax_back_forward(zen_tensor *out, zen_exec *ex) { softmax_back_impl(out, ex, false); }
static void log_softmax_back_forward(zen_tensor *out, zen_exec *ex) { softmax_back_impl(out, ex, true); }

const zen_op_def zen_op_softmax = {"softmax", softmax_forward, softmax_backward, NULL, false};
const zen_op_def zen_op_log_softmax = {"log_softmax", log_softmax_forward, log_softmax_backward, NULL, false};
const zen_op_def zen_op_softmax_back = {"softmax_back", softmax_back_forward, NULL, NULL, false};
const zen_op_def zen_op_log_softmax_back = {"log_softmax_back", log_softmax_back_forward, NULL, NULL, false};
