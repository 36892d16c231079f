/* loss.c — losses, each a 0-d tensor: the mean as in torch.nn.functional (reduction='mean').
 *
 * Cross entropy (class indices or probabilities) is fused: logits [N, C, d...] are seen as
 * [N, C, D] and a LOGSUMEXP node computes lse[N, D] = log(sum_c exp(x)) (stable: max first).
 * The loss node then only gathers:
 *   class indices:  mean over valid (n, d) of lse - x[n, t, d]     (log-softmax + NLL)
 *   probabilities:  -sum_{n,c,d} t * (x - lse) / (N * D)
 * and the backward is one fused node that writes (softmax - onehot) * g / count (or
 * (softmax * sum_c t - t) * g / (N*D)) from x and lse, so log-softmax is never stored.
 * As torch (ignore_index=-100), a class index of -100 is skipped and not counted; any other
 * index outside [0, C) makes compute fail with an error.
 *
 * mse, l1, huber and bce_with_logits are one POINTWISE_LOSS node (sum of f(pred, target)
 * over blocks, in double, deterministic for any thread count) and one POINTWISE_LOSS_BACK
 * node per input that needs a gradient. pred and target must have the same shape. */
#include "softmax.h"

#include "../core/internal.h"
#include "loops.h"

#include <math.h>

#define IGNORE_INDEX (-100)
#define LOSS_BLOCK 8192 /* elements per partial sum of a pointwise loss */

enum { LOSS_MSE, LOSS_L1, LOSS_HUBER, LOSS_BCE };

/* [N, C, D] of logits: classes on axis 1. */
static void ncd(const zen_tensor *x, int64_t *N, int64_t *C, int64_t *D) {
    *N = x->shape[0];
    *C = x->shape[1];
    *D = 1;
    for (int d = 2; d < x->ndim; d++) *D *= x->shape[d];
}

static zen_tensor *scalar_node(zen_ctx *ctx, int op, zen_tensor *s0, zen_tensor *s1, zen_tensor *s2) {
    return zen__node(ctx, op, ZEN_F32, 0, NULL, s0, s1, s2, NULL);
}

/* ---- log-sum-exp over axis 1 ---- */

static zen_tensor *logsumexp(zen_ctx *ctx, zen_tensor *logits) {
    int64_t shape[ZEN_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < logits->ndim; d++)
        if (d != 1) shape[nd++] = logits->shape[d];
    return zen__node(ctx, ZEN_OP_LOGSUMEXP, ZEN_F32, nd, shape, logits, NULL, NULL, NULL);
}

static void logsumexp_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0];
    int64_t N, C, D;
    ncd(x, &N, &C, &D);
    const float *X = x->data;
    float *L = out->data;
    int nt = zen__threads_for(ex, 4 * N * C * D);
    if (D == 1) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t n = 0; n < N; n++) {
            const float *row = X + n * C;
            float m = zen__row_max(row, C);
            L[n] = m + logf(zen__row_exp_shift_sum(row, m, C));
        }
        return;
    }
    const int64_t nchunks = (D + ZEN_SOFTMAX_COLS - 1) / ZEN_SOFTMAX_COLS;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < N * nchunks; k++) {
        int64_t n = k / nchunks, d0 = (k % nchunks) * ZEN_SOFTMAX_COLS;
        int64_t w = D - d0 < ZEN_SOFTMAX_COLS ? D - d0 : ZEN_SOFTMAX_COLS;
        const float *xb = X + n * C * D + d0;
        float m[ZEN_SOFTMAX_COLS], s[ZEN_SOFTMAX_COLS];
        memcpy(m, xb, (size_t)w * sizeof *m);
        for (int64_t c = 1; c < C; c++) zen__cols_max(m, xb + c * D, w);
        memset(s, 0, (size_t)w * sizeof *s);
        for (int64_t c = 0; c < C; c++) zen__cols_exp_shift(xb + c * D, m, NULL, s, w);
        for (int64_t i = 0; i < w; i++) L[n * D + d0 + i] = m[i] + logf(s[i]);
    }
}

/* Checks logits [N, C, d...] (or unbatched [C]). */
static bool check_logits(zen_ctx *ctx, const char *fn, const zen_tensor *logits) {
    if (!zen__check_f32(ctx, fn, "logits", logits)) return false;
    char s[128];
    if (logits->ndim == 0) return zen__fail(ctx, "%s: logits must be [N, C, d...] or [C], got a 0-d tensor", fn), false;
    int64_t C = logits->shape[logits->ndim == 1 ? 0 : 1];
    if (C == 0) return zen__fail(ctx, "%s: logits %s have no classes", fn, zen_shape_str(logits, s, sizeof s)), false;
    return true;
}

/* ---- cross entropy with class indices ---- */

zen_tensor *zen_cross_entropy(zen_ctx *ctx, zen_tensor *logits, zen_tensor *target) {
    const char *fn = "zen_cross_entropy";
    if (!logits || !target) return NULL;
    if (!check_logits(ctx, fn, logits)) return NULL;
    char sl[128], st[128];
    if (target->dtype != ZEN_I32)
        return zen__fail(ctx, "%s: target must be i32 class indices, got %s (zen_cross_entropy_probs takes probabilities)",
                         fn, zen_dtype_name(target->dtype));
    bool fits = target->ndim == logits->ndim - 1;
    for (int d = 0; fits && d < target->ndim; d++) fits = target->shape[d] == logits->shape[d == 0 ? 0 : d + 1];
    if (!fits)
        return zen__fail(ctx, "%s: target %s does not fit logits %s (expected [N, d...] = logits without dim 1)", fn,
                         zen_shape_str(target, st, sizeof st), zen_shape_str(logits, sl, sizeof sl));
    if (logits->ndim == 1) { /* unbatched: [C] and a 0-d target */
        logits = zen_reshape(ctx, logits, 2, (int64_t[]){1, logits->shape[0]});
        target = zen_reshape(ctx, target, 1, (int64_t[]){1});
    }
    logits = zen__dense(ctx, logits);
    target = zen__dense(ctx, target);
    zen_tensor *lse = logsumexp(ctx, logits);
    if (!lse || !target) return NULL;
    return scalar_node(ctx, ZEN_OP_CROSS_ENTROPY, logits, target, lse);
}

static void cross_entropy_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0], *t = out->src[1], *lse = out->src[2];
    int64_t N, C, D;
    ncd(x, &N, &C, &D);
    const float *X = x->data, *L = lse->data;
    const int32_t *T = t->data;
    int64_t total = N * D, count = 0;
    double sum = 0;
    int nt = zen__threads_for(ex, total);
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : sum, count) if (nt > 1)
    for (int64_t i = 0; i < total; i++) {
        int32_t c = T[i];
        if (c == IGNORE_INDEX) continue;
        if (c < 0 || c >= C) {
            zen__exec_fail(ex, "zen_cross_entropy: target %d at position %lld is out of range for %lld classes",
                           (int)c, (long long)i, (long long)C);
            continue;
        }
        int64_t n = i / D, d = i % D;
        sum += (double)L[i] - (double)X[(n * C + c) * D + d];
        count++;
    }
    *(float *)out->data = count ? (float)(sum / (double)count) : NAN;
}

static void cross_entropy_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *x = out->src[0];
    zen_tensor *t = zen__node(ctx, ZEN_OP_CROSS_ENTROPY_BACK, ZEN_F32, x->ndim, x->shape, out->grad, x, out->src[1],
                              out->src[2]);
    zen__accum_grad(ctx, x, t);
}

/* dx = (softmax(x) - onehot(t)) * g / count, rows of ignored targets zero. */
static void cross_entropy_back_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[1], *t = out->src[2], *lse = out->src[3];
    int64_t N, C, D;
    ncd(x, &N, &C, &D);
    const float *X = x->data, *L = lse->data;
    const int32_t *T = t->data;
    float *O = out->data;
    int64_t count = 0;
    for (int64_t i = 0; i < N * D; i++) count += T[i] >= 0 && T[i] < C;
    const float scale = *(const float *)out->src[0]->data / (float)count;
    int nt = zen__threads_for(ex, 4 * N * C * D);
    if (D == 1) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t n = 0; n < N; n++) {
            float *o = O + n * C;
            int32_t c = T[n];
            if (c < 0 || c >= C) {
                memset(o, 0, (size_t)C * sizeof *o);
                continue;
            }
            zen__row_exp_shift(X + n * C, L[n], scale, o, C);
            o[c] -= scale;
        }
        return;
    }
    const int64_t nchunks = (D + ZEN_SOFTMAX_COLS - 1) / ZEN_SOFTMAX_COLS;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < N * nchunks; k++) {
        int64_t n = k / nchunks, d0 = (k % nchunks) * ZEN_SOFTMAX_COLS;
        int64_t w = D - d0 < ZEN_SOFTMAX_COLS ? D - d0 : ZEN_SOFTMAX_COLS;
        int64_t base = n * C * D + d0;
        const float *l = L + n * D + d0;
        const int32_t *tt = T + n * D + d0;
        for (int64_t c = 0; c < C; c++) {
            float *o = O + base + c * D;
            zen__cols_exp_shift(X + base + c * D, l, o, NULL, w);
            for (int64_t i = 0; i < w; i++) {
                bool valid = tt[i] >= 0 && tt[i] < C;
                o[i] = valid ? (o[i] - (tt[i] == c ? 1.0f : 0.0f)) * scale : 0.0f;
            }
        }
    }
}

/* ---- cross entropy with probabilities ---- */

zen_tensor *zen_cross_entropy_probs(zen_ctx *ctx, zen_tensor *logits, zen_tensor *target) {
    const char *fn = "zen_cross_entropy_probs";
    if (!logits || !target) return NULL;
    if (!check_logits(ctx, fn, logits) || !zen__check_f32(ctx, fn, "target", target)) return NULL;
    if (!zen_same_shape(logits, target)) {
        char sl[128], st[128];
        return zen__fail(ctx, "%s: target %s must have the shape of logits %s", fn, zen_shape_str(target, st, sizeof st),
                         zen_shape_str(logits, sl, sizeof sl));
    }
    if (logits->ndim == 1) {
        logits = zen_reshape(ctx, logits, 2, (int64_t[]){1, logits->shape[0]});
        target = zen_reshape(ctx, target, 2, (int64_t[]){1, target->shape[0]});
    }
    logits = zen__dense(ctx, logits);
    target = zen__dense(ctx, target);
    zen_tensor *lse = logsumexp(ctx, logits);
    if (!lse || !target) return NULL;
    return scalar_node(ctx, ZEN_OP_CROSS_ENTROPY_PROBS, logits, target, lse);
}

static void cross_entropy_probs_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0], *t = out->src[1], *lse = out->src[2];
    int64_t N, C, D;
    ncd(x, &N, &C, &D);
    const float *X = x->data, *T = t->data, *L = lse->data;
    double sum = 0;
    int nt = zen__threads_for(ex, N * C * D);
#pragma omp parallel for num_threads(nt) schedule(static) reduction(+ : sum) if (nt > 1)
    for (int64_t n = 0; n < N; n++) {
        double s = 0;
        for (int64_t c = 0; c < C; c++) {
            const float *xr = X + (n * C + c) * D, *tr = T + (n * C + c) * D, *l = L + n * D;
            for (int64_t d = 0; d < D; d++) s += (double)tr[d] * ((double)xr[d] - (double)l[d]);
        }
        sum += s;
    }
    *(float *)out->data = (float)(-sum / (double)(N * D));
}

static zen_tensor *probs_back(zen_ctx *ctx, zen_tensor *out, int which) {
    zen_tensor *x = out->src[0];
    zen_tensor *t = zen__node(ctx, ZEN_OP_CROSS_ENTROPY_PROBS_BACK, ZEN_F32, x->ndim, x->shape, out->grad, x,
                              out->src[1], out->src[2]);
    if (t) t->ip[0] = which;
    return t;
}

static void cross_entropy_probs_backward(zen_ctx *ctx, zen_tensor *out) {
    if (zen__needs_grad(out->src[0])) zen__accum_grad(ctx, out->src[0], probs_back(ctx, out, 0));
    if (zen__needs_grad(out->src[1])) zen__accum_grad(ctx, out->src[1], probs_back(ctx, out, 1));
}

/* ip[0] == 0: d logits = (softmax(x) * sum_c t - t) * g / (N*D);
 * ip[0] == 1: d target = -(x - lse) * g / (N*D). */
static void cross_entropy_probs_back_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[1], *t = out->src[2], *lse = out->src[3];
    int64_t N, C, D;
    ncd(x, &N, &C, &D);
    const float *X = x->data, *T = t->data, *L = lse->data;
    float *O = out->data;
    const float scale = *(const float *)out->src[0]->data / (float)(N * D);
    int nt = zen__threads_for(ex, 4 * N * C * D);
    if (out->ip[0] == 1) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t n = 0; n < N; n++)
            for (int64_t c = 0; c < C; c++) {
                const float *xr = X + (n * C + c) * D, *l = L + n * D;
                float *o = O + (n * C + c) * D;
                for (int64_t d = 0; d < D; d++) o[d] = -(xr[d] - l[d]) * scale;
            }
        return;
    }
    const int64_t nchunks = (D + ZEN_SOFTMAX_COLS - 1) / ZEN_SOFTMAX_COLS;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < N * nchunks; k++) {
        int64_t n = k / nchunks, d0 = (k % nchunks) * ZEN_SOFTMAX_COLS;
        int64_t w = D - d0 < ZEN_SOFTMAX_COLS ? D - d0 : ZEN_SOFTMAX_COLS;
        int64_t base = n * C * D + d0;
        const float *l = L + n * D + d0;
        if (D == 1) { /* a contiguous row */
            float tsum = 0;
            for (int64_t c = 0; c < C; c++) tsum += T[base + c];
            float *o = O + base;
            zen__row_exp_shift(X + base, l[0], tsum * scale, o, C);
            for (int64_t c = 0; c < C; c++) o[c] -= T[base + c] * scale;
            continue;
        }
        float tsum[ZEN_SOFTMAX_COLS] = {0};
        for (int64_t c = 0; c < C; c++)
            for (int64_t i = 0; i < w; i++) tsum[i] += T[base + c * D + i];
        for (int64_t c = 0; c < C; c++) {
            float *o = O + base + c * D;
            const float *tr = T + base + c * D;
            zen__cols_exp_shift(X + base + c * D, l, o, NULL, w);
            for (int64_t i = 0; i < w; i++) o[i] = (o[i] * tsum[i] - tr[i]) * scale;
        }
    }
}

/* ---- pointwise losses: mse, l1, huber, bce_with_logits ---- */

static zen_tensor *pointwise_loss(zen_ctx *ctx, const char *fn, int kind, zen_tensor *pred, zen_tensor *target,
                                  float delta) {
    if (!pred || !target) return NULL;
    const char *pn = kind == LOSS_BCE ? "logits" : "pred";
    if (!zen__check_f32(ctx, fn, pn, pred) || !zen__check_f32(ctx, fn, "target", target)) return NULL;
    if (!zen_same_shape(pred, target)) {
        char sp[128], st[128];
        return zen__fail(ctx, "%s: %s %s and target %s must have the same shape", fn, pn,
                         zen_shape_str(pred, sp, sizeof sp), zen_shape_str(target, st, sizeof st));
    }
    pred = zen__dense(ctx, pred);
    target = zen__dense(ctx, target);
    zen_tensor *t = scalar_node(ctx, ZEN_OP_POINTWISE_LOSS, pred, target, NULL);
    if (!t) return NULL;
    t->ip[0] = kind;
    t->fp[0] = delta;
    return t;
}

zen_tensor *zen_mse_loss(zen_ctx *ctx, zen_tensor *pred, zen_tensor *target) {
    return pointwise_loss(ctx, "zen_mse_loss", LOSS_MSE, pred, target, 0);
}
zen_tensor *zen_l1_loss(zen_ctx *ctx, zen_tensor *pred, zen_tensor *target) {
    return pointwise_loss(ctx, "zen_l1_loss", LOSS_L1, pred, target, 0);
}
zen_tensor *zen_huber_loss(zen_ctx *ctx, zen_tensor *pred, zen_tensor *target, float delta) {
    if (pred && target && !(delta > 0))
        return zen__fail(ctx, "zen_huber_loss: delta must be positive, got %g", (double)delta);
    return pointwise_loss(ctx, "zen_huber_loss", LOSS_HUBER, pred, target, delta);
}
zen_tensor *zen_bce_with_logits(zen_ctx *ctx, zen_tensor *logits, zen_tensor *target) {
    return pointwise_loss(ctx, "zen_bce_with_logits", LOSS_BCE, logits, target, 0);
}

/* Sum of f(p, t) over one block, in double. */
ZEN_TARGET_CLONES static double block_loss(const float *restrict p, const float *restrict t, int64_t n, int kind,
                                           float delta) {
    double s = 0;
    switch (kind) {
    case LOSS_MSE:
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < n; i++) {
            float d = p[i] - t[i];
            s += (double)(d * d);
        }
        break;
    case LOSS_L1:
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < n; i++) s += (double)fabsf(p[i] - t[i]);
        break;
    case LOSS_HUBER:
#pragma omp simd reduction(+ : s)
        for (int64_t i = 0; i < n; i++) {
            float z = fabsf(p[i] - t[i]);
            s += (double)(z < delta ? 0.5f * z * z : delta * (z - 0.5f * delta));
        }
        break;
    default: /* bce: (1 - t) x - log_sigmoid(x), log_sigmoid(x) = min(x, 0) - log1p(exp(-|x|)) */
        for (int64_t i = 0; i < n; i++) {
            float x = p[i];
            float ls = fminf(x, 0.0f) - log1pf(expf(-fabsf(x)));
            s += (double)((1.0f - t[i]) * x - ls);
        }
        break;
    }
    return s;
}

static size_t pointwise_loss_work(const zen_tensor *out, int nthreads) {
    int64_t n = zen_numel(out->src[0]);
    return (size_t)((n + LOSS_BLOCK - 1) / LOSS_BLOCK) * sizeof(double);
}

static void pointwise_loss_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *p = out->src[0], *t = out->src[1];
    int64_t n = zen_numel(p), nblocks = (n + LOSS_BLOCK - 1) / LOSS_BLOCK;
    const float *P = p->data, *T = t->data;
    double *part = ex->work;
    const int kind = (int)out->ip[0];
    const float delta = out->fp[0];
    int nt = zen__threads_for(ex, kind == LOSS_BCE ? 8 * n : n);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t b = 0; b < nblocks; b++) {
        int64_t i0 = b * LOSS_BLOCK, len = n - i0 < LOSS_BLOCK ? n - i0 : LOSS_BLOCK;
        part[b] = block_loss(P + i0, T + i0, len, kind, delta);
    }
    double s = 0;
    for (int64_t b = 0; b < nblocks; b++) s += part[b];
    *(float *)out->data = n ? (float)(s / (double)n) : NAN;
}

static zen_tensor *pointwise_back(zen_ctx *ctx, zen_tensor *out, int which) {
    zen_tensor *p = out->src[0];
    zen_tensor *t = zen__node(ctx, ZEN_OP_POINTWISE_LOSS_BACK, ZEN_F32, p->ndim, p->shape, out->grad, p, out->src[1],
                              NULL);
    if (!t) return NULL;
    t->ip[0] = out->ip[0];
    t->ip[1] = which;
    t->fp[0] = out->fp[0];
    return t;
}

static void pointwise_loss_backward(zen_ctx *ctx, zen_tensor *out) {
    if (zen__needs_grad(out->src[0])) zen__accum_grad(ctx, out->src[0], pointwise_back(ctx, out, 0));
    if (zen__needs_grad(out->src[1])) zen__accum_grad(ctx, out->src[1], pointwise_back(ctx, out, 1));
}

/* o = s * f'(p, t): the derivative by pred (which 0) or by target (which 1). */
ZEN_TARGET_CLONES static void block_loss_back(const float *restrict p, const float *restrict t, float *restrict o,
                                              int64_t n, int kind, int which, float delta, float s) {
    if (which == 1 && kind != LOSS_BCE) s = -s; /* these depend on p - t only */
    switch (kind) {
    case LOSS_MSE:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) o[i] = 2.0f * (p[i] - t[i]) * s;
        break;
    case LOSS_L1:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float d = p[i] - t[i];
            o[i] = (d > 0 ? s : d < 0 ? -s : 0.0f);
        }
        break;
    case LOSS_HUBER:
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float d = p[i] - t[i];
            o[i] = (d < -delta ? -delta : d > delta ? delta : d) * s;
        }
        break;
    default:
        if (which == 1) {
#pragma omp simd
            for (int64_t i = 0; i < n; i++) o[i] = -p[i] * s;
        } else {
            for (int64_t i = 0; i < n; i++) o[i] = (1.0f / (1.0f + expf(-p[i])) - t[i]) * s;
        }
        break;
    }
}

static void pointwise_loss_back_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *p = out->src[1], *t = out->src[2];
    int64_t n = zen_numel(p), nblocks = (n + LOSS_BLOCK - 1) / LOSS_BLOCK;
    const float *P = p->data, *T = t->data;
    float *O = out->data;
    const float s = *(const float *)out->src[0]->data / (float)n;
    const int kind = (int)out->ip[0], which = (int)out->ip[1];
    int nt = zen__threads_for(ex, kind == LOSS_BCE ? 8 * n : n);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t b = 0; b < nblocks; b++) {
        int64_t i0 = b * LOSS_BLOCK, len = n - i0 < LOSS_BLOCK ? n - i0 : LOSS_BLOCK;
        block_loss_back(P + i0, T + i0, O + i0, len, kind, which, out->fp[0], s);
    }
}

const zen_op_def zen_op_logsumexp = {"logsumexp", logsumexp_forward, NULL, NULL, false};
const zen_op_def zen_op_cross_entropy = {"cross_entropy", cross_entropy_forward, cross_entropy_backward, NULL, false};
const zen_op_def zen_op_cross_entropy_back = {"cross_entropy_back", cross_entropy_back_forward, NULL, NULL, false};
const zen_op_def zen_op_cross_entropy_probs = {"cross_entropy_probs", cross_entropy_probs_forward,
                                               cross_entropy_probs_backward, NULL, false};
const zen_op_def zen_op_cross_entropy_probs_back = {"cross_entropy_probs_back", cross_entropy_probs_back_forward, NULL,
                                                    NULL, false};
const zen_op_def zen_op_pointwise_loss = {"pointwise_loss", pointwise_loss_forward, pointwise_loss_backward,
                                          pointwise_loss_work, false};
const zen_op_def zen_op_pointwise_loss_back = {"pointwise_loss_back", pointwise_loss_back_forward, NULL, NULL, false};
