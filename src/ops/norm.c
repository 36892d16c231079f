/* norm.c — layer normalisation and RMS normalisation over the last axis, fused.
 *
 *   layer_norm:  y = (x - mean) * rstd * gamma + beta,   rstd = 1 / sqrt(var + eps)
 *                (var biased, as torch.nn.functional.layer_norm)
 *   rms_norm:    y = x * rstd * gamma,                   rstd = 1 / sqrt(mean(x^2) + eps)
 *
 * The forward kernel makes one pass over each row (the row stays in L1 between its
 * statistics and its output) and saves mean and rstd per row after the outputs in its
 * packed node (fused.h). The backward is one node too: per row, with xh = (x - mean) * rstd
 * and gg = g * gamma,
 *   dx = rstd * (gg - mean(gg) - xh * mean(gg * xh))          (layer_norm)
 *   dx = rstd * (gg - xh * mean(gg * xh))                      (rms_norm, mean = 0)
 * while dgamma = sum over rows of g * xh and dbeta = sum of g accumulate in per-thread
 * partial rows (scratch), summed in thread order, so a result depends only on the thread
 * count. Rows are split across threads with OpenMP. gamma and beta are optional ([D]). */
#include "fused.h"
#include "loops.h"

#include <math.h>
#include <omp.h>

/* ---- row kernels ---- */

/* Sum of x[i] - c: with c = x[0] the mean of rows far from 0 (1000 +- 0.01) keeps its digits. */
ZEN_TARGET_CLONES static float row_sum_shifted(const float *restrict x, float c, int64_t n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += x[i] - c;
    return s;
}

ZEN_TARGET_CLONES static float row_sq_dev(const float *restrict x, float m, int64_t n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += (x[i] - m) * (x[i] - m);
    return s;
}

/* y = (x - m) * r * gamma + beta; gamma, beta may be NULL. */
ZEN_TARGET_CLONES static void row_affine(const float *restrict x, float m, float r, const float *restrict gamma,
                                         const float *restrict beta, float *restrict y, int64_t n) {
    if (gamma && beta) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) * r * gamma[i] + beta[i];
    } else if (gamma) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) * r * gamma[i];
    } else if (beta) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) * r + beta[i];
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) y[i] = (x[i] - m) * r;
    }
}

/* Sums a = sum(g * gamma) and b = sum(g * gamma * xh) with xh = (x - m) * r, and adds
 * g * xh to dgamma and g to dbeta (either may be NULL). */
ZEN_TARGET_CLONES static void row_back_sums(const float *restrict x, const float *restrict g,
                                            const float *restrict gamma, float m, float r, float *restrict dgamma,
                                            float *restrict dbeta, int64_t n, float *sa, float *sb) {
    float a = 0, b = 0;
    if (gamma) {
#pragma omp simd reduction(+ : a, b)
        for (int64_t i = 0; i < n; i++) {
            float xh = (x[i] - m) * r, gg = g[i] * gamma[i];
            a += gg;
            b += gg * xh;
        }
    } else {
#pragma omp simd reduction(+ : a, b)
        for (int64_t i = 0; i < n; i++) {
            float xh = (x[i] - m) * r;
            a += g[i];
            b += g[i] * xh;
        }
    }
    if (dgamma) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dgamma[i] += g[i] * ((x[i] - m) * r);
    }
    if (dbeta) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dbeta[i] += g[i];
    }
    *sa = a;
    *sb = b;
}

/* dx = r * (g * gamma - ma - xh * mb) with xh = (x - m) * r. */
ZEN_TARGET_CLONES static void row_back_dx(const float *restrict x, const float *restrict g,
                                          const float *restrict gamma, float m, float r, float ma, float mb,
                                          float *restrict dx, int64_t n) {
    if (gamma) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = r * (g[i] * gamma[i] - ma - (x[i] - m) * r * mb);
    } else {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) dx[i] = r * (g[i] - ma - (x[i] - m) * r * mb);
    }
}

ZEN_TARGET_CLONES static void cols_add(float *restrict s, const float *restrict x, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) s[i] += x[i];
}

/* ---- constructors ----
 * Packed forward node P = [y (R*D) | mean (R) | rstd (R)], fp[0] = eps, ip[0] = D,
 * ip[1] = R, ip[2] = 1 for rms_norm, ip[3]/ip[4] = has gamma/beta. srcs: x, gamma, beta. */

static zen_tensor *norm_op(zen_ctx *ctx, const char *fn, bool rms, zen_tensor *x, zen_tensor *gamma,
                           zen_tensor *beta, float eps) {
    if (!x) return NULL;
    if (!zen__check_f32(ctx, fn, "x", x)) return NULL;
    if (x->ndim < 1) return zen__fail(ctx, "%s: x must have at least 1 dimension (normalised: the last)", fn);
    const int64_t D = x->shape[x->ndim - 1];
    zen_tensor *wb[2] = {gamma, beta};
    const char *wn[2] = {"gamma", "beta"};
    for (int k = 0; k < 2; k++) {
        if (!wb[k]) continue;
        if (!zen__check_f32(ctx, fn, wn[k], wb[k])) return NULL;
        if (wb[k]->ndim != 1 || wb[k]->shape[0] != D) {
            char buf[64];
            return zen__fail(ctx, "%s: %s must have shape [%lld] (the last dim of x), got %s", fn, wn[k],
                             (long long)D, zen_shape_str(wb[k], buf, sizeof buf));
        }
        wb[k] = zen__dense(ctx, wb[k]);
    }
    if (!(eps >= 0) || isinf(eps)) return zen__fail(ctx, "%s: eps must be a finite number >= 0, got %g", fn, eps);
    x = zen__dense(ctx, x);
    if (!x) return NULL;
    const int64_t R = D ? zen_numel(x) / D : 0;
    const int op = rms ? ZEN_OP_RMS_NORM : ZEN_OP_LAYER_NORM;
    int64_t packed = R * D + 2 * R;
    zen_tensor *p = zen__node(ctx, op, ZEN_F32, 1, &packed, x, wb[0], wb[1], NULL);
    if (!p) return NULL;
    p->fp[0] = eps;
    p->ip[0] = D;
    p->ip[1] = R;
    p->ip[2] = rms;
    p->ip[3] = wb[0] != NULL;
    p->ip[4] = wb[1] != NULL;
    return zen__part(ctx, rms ? ZEN_OP_RMS_NORM_Y : ZEN_OP_LAYER_NORM_Y, p, x->ndim, x->shape, 0);
}

zen_tensor *zen_layer_norm(zen_ctx *ctx, zen_tensor *x, zen_tensor *gamma, zen_tensor *beta, float eps) {
    return norm_op(ctx, "zen_layer_norm", false, x, gamma, beta, eps);
}

zen_tensor *zen_rms_norm(zen_ctx *ctx, zen_tensor *x, zen_tensor *gamma, float eps) {
    return norm_op(ctx, "zen_rms_norm", true, x, gamma, NULL, eps);
}

/* ---- forward ---- */

static void norm_forward(zen_tensor *p, zen_exec *ex) {
    const int64_t D = p->ip[0], R = p->ip[1];
    const bool rms = p->ip[2];
    const float eps = p->fp[0];
    const float *X = p->src[0]->data;
    const float *gamma = p->ip[3] ? p->src[1]->data : NULL;
    const float *beta = p->ip[4] ? p->src[2]->data : NULL;
    float *Y = p->data, *mean = Y + R * D, *rstd = mean + R;
    int nt = zen__threads_for(ex, 6 * R * D);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t r = 0; r < R; r++) {
        const float *x = X + r * D;
        float m = 0, v;
        if (rms) {
            v = D ? row_sq_dev(x, 0.0f, D) / (float)D : 0.0f;
        } else {
            m = D ? x[0] + row_sum_shifted(x, x[0], D) / (float)D : 0.0f;
            v = D ? row_sq_dev(x, m, D) / (float)D : 0.0f; /* two passes: no cancellation */
        }
        float rs = 1.0f / sqrtf(v + eps);
        row_affine(x, m, rs, gamma, beta, Y + r * D, D);
        mean[r] = m;
        rstd[r] = rs;
    }
}

/* Never reached: gradients flow through the Y view (see fused.h). */
static void packed_no_grad(zen_ctx *ctx, zen_tensor *out) {
    zen__fail(ctx, "%s: the packed node cannot take a gradient directly", zen_op_name(out->op));
}

/* ---- backward: Y view -> NORM_BACK(g, P, x, gamma) = [dx (R*D) | dgamma (D) | dbeta (D)] ---- */

static void norm_y_backward(zen_ctx *ctx, zen_tensor *y) {
    zen_tensor *p = y->src[0];
    zen_tensor *x = p->src[0], *gamma = p->ip[3] ? p->src[1] : NULL, *beta = p->ip[4] ? p->src[2] : NULL;
    zen_tensor *g = zen__dense(ctx, y->grad);
    if (!g) return;
    const int64_t D = p->ip[0], R = p->ip[1];
    int64_t packed = R * D + 2 * D;
    zen_tensor *b = zen__node(ctx, ZEN_OP_NORM_BACK, ZEN_F32, 1, &packed, g, p, x, gamma);
    if (!b) return;
    b->ip[0] = D;
    b->ip[1] = R;
    b->ip[2] = p->ip[2];
    b->ip[3] = gamma != NULL;
    b->ip[4] = beta != NULL;
    b->ip[5] = zen__needs_grad(gamma);
    b->ip[6] = zen__needs_grad(beta);
    zen__accum_grad(ctx, x, zen__part(ctx, ZEN_OP_PART, b, x->ndim, x->shape, 0));
    if (gamma) zen__accum_grad(ctx, gamma, zen__part(ctx, ZEN_OP_PART, b, 1, &D, R * D));
    if (beta) zen__accum_grad(ctx, beta, zen__part(ctx, ZEN_OP_PART, b, 1, &D, R * D + D));
}

static size_t norm_back_work(const zen_tensor *b, int nthreads) {
    return (size_t)nthreads * 2 * (size_t)b->ip[0] * sizeof(float);
}

static void norm_back_forward(zen_tensor *b, zen_exec *ex) {
    const int64_t D = b->ip[0], R = b->ip[1];
    const bool rms = b->ip[2], want_dg = b->ip[5], want_db = b->ip[6];
    const float *G = b->src[0]->data, *X = b->src[2]->data;
    const float *gamma = b->ip[3] ? b->src[3]->data : NULL;
    const float *mean = (const float *)b->src[1]->data + R * D, *rstd = mean + R;
    float *DX = b->data, *dgamma = DX + R * D; /* dbeta follows dgamma */
    float *part = ex->work;
    int nt = zen__threads_for(ex, 10 * R * D);
    if (nt > R) nt = R > 0 ? (int)R : 1;
    memset(dgamma, 0, 2 * (size_t)D * sizeof *dgamma);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int nth = omp_get_num_threads(), tid = omp_get_thread_num();
        float *pg = part + (size_t)tid * 2 * D, *pb = pg + D;
        memset(pg, 0, 2 * (size_t)D * sizeof *pg);
        const int64_t r0 = R * tid / nth, r1 = R * (tid + 1) / nth;
        for (int64_t r = r0; r < r1; r++) {
            const float *x = X + r * D, *g = G + r * D;
            float a, s;
            row_back_sums(x, g, gamma, mean[r], rstd[r], want_dg ? pg : NULL, want_db ? pb : NULL, D, &a, &s);
            float ma = rms ? 0.0f : a / (float)D, mb = s / (float)D;
            row_back_dx(x, g, gamma, mean[r], rstd[r], ma, mb, DX + r * D, D);
        }
#pragma omp barrier
#pragma omp single
        for (int t = 0; t < nth; t++) cols_add(dgamma, part + (size_t)t * 2 * D, 2 * D);
    }
}

static void part_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__fail(ctx, "%s: second derivatives of fused ops are not supported", zen_op_name(out->op));
}

const zen_op_def zen_op_layer_norm = {"layer_norm", norm_forward, packed_no_grad, NULL, false};
const zen_op_def zen_op_rms_norm = {"rms_norm", norm_forward, packed_no_grad, NULL, false};
const zen_op_def zen_op_layer_norm_y = {"layer_norm_y", NULL, norm_y_backward, NULL, true};
const zen_op_def zen_op_rms_norm_y = {"rms_norm_y", NULL, norm_y_backward, NULL, true};
const zen_op_def zen_op_norm_back = {"norm_back", norm_back_forward, NULL, norm_back_work, false};
const zen_op_def zen_op_part = {"part", NULL, part_backward, NULL, true};
