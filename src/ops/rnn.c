/* rnn.c — fused recurrent sequence ops: LSTM, GRU and the simple (Elman) RNN with tanh or
 * relu, as torch.nn.LSTM / GRU / RNN (one layer, one direction, batch_first), plus Keras's
 * per-step masks.
 *
 * One RNN node runs the whole sequence. Its buffer packs everything the op produces:
 *
 *   y      [B, T, H]   the outputs (zero at masked steps)
 *   hn, cn [B, H]      the final states (cn: LSTM only)
 *   mask   [B*T]       a copy of the mask (when there is one)
 *   hprev  [B*T, H]    the state entering each step (row b*T + t)
 *   hprevt [H, B*T]    the same, transposed (dW_hh's GEMM runs fastest on it, see below)
 *   act    [B*T, G*H]  each step's gate activations (LSTM i,f,g,o; GRU r,z,n; RNN h)
 *   cprev, tanhc       LSTM: the cell entering each step, tanh of the cell leaving it
 *   hnb                GRU: W_hn h + b_hn of each step (the part r multiplies)
 *
 * zen_rnn returns views of it (y, hn, cn); the rest is what the backward pass reads, so the
 * forward's buffer is the saved state and nothing is recomputed.
 *
 * Forward: one GEMM projects the inputs of all steps (X·W_ihᵀ into act); then per step a
 * GEMM adds h·W_hhᵀ (into the step's act rows in place; GRU into scratch because r
 * multiplies the n part) and a fused vectorized kernel applies the gates and writes the
 * state, the output and the saved activations. When x is an embedding lookup into a table
 * with fewer rows than steps, zen_rnn projects the table instead and the node gathers the
 * projected rows by id (RNN_GATHER): V·I·G·H multiply-adds instead of B·T·I·G·H, and the
 * backward pass scatters dG into the table's rows, then needs two small GEMMs.
 *
 * Backward (RNN_BACK): back-propagation through time, fused: per step the gate kernel turns
 * dh (and dc) into the pre-activation gradients dG of the step, and a GEMM dG·W_hh carries
 * dh to the step before. dG of all steps stays in the node's buffer, so the weight
 * gradients are each one GEMM over all steps (dW_ih = dGᵀX, dW_hh = (H_prevᵀ·dG)ᵀ,
 * dx = dG·W_ih: ordinary MATMUL nodes on views) and the bias gradients column sums done
 * by the kernel.
 *
 * Threads: the step loops of both passes run inside one parallel region; each thread owns
 * a slice of the hidden units and does its units' part of each step's GEMM and gate
 * kernel, with one barrier per step (see step_threads).
 *
 * A node has at most 4 sources, so the forward node takes x, w_ih, w_hh and one "aux"
 * vector, the concatenation of whichever of b_ih, b_hh, h0, c0 and mask are given (a
 * CONCAT node; its backward slices the gradient back into the pieces). The gradient of the
 * three outputs reaches the RNN node through an RNN_GRADS collector: the views' backward
 * rules store dy, dhn and dcn in its sources instead of summing full-size buffers, and the
 * RNN node's rule builds one RNN_BACK node from them. The collector is never computed. */
#include "../core/internal.h"
#include "fused.h"
#include "loops.h"
#include "vmath.h"

#include <omp.h>

/* RNN_GATHER: the sources are (table, ids, w_hh, aux) and the input projections of step
 * (b, t) are row ids[b, t] of the table (x was an embedding lookup of projections). */
enum { RNN_REVERSE = 1, RNN_OUT_REVERSED = 2, RNN_HAS_MASK = 4, RNN_GATHER = 8 };
/* ip of an RNN / RNN_BACK node: [0] mode, [1] H, [2] flags, [3..7] offsets in aux of
 * b_ih, b_hh, h0, c0, mask (-1: absent), [8] aux length (0: no aux). */
enum { IP_MODE, IP_H, IP_FLAGS, IP_BIH, IP_BHH, IP_H0, IP_C0, IP_MASK, IP_AUXLEN };

typedef struct {
    int64_t B, T, I, H, G, N, GH;
    /* offsets (floats) into the RNN node */
    int64_t y, hn, cn, mask, hprev, hprevt, act, cprev, tanhc, hnb, total;
    /* offsets into the RNN_BACK node */
    int64_t dgx, dgh, daux, dtotal;
} rnn_layout;

static int64_t pad16(int64_t n) { return (n + 15) & ~(int64_t)15; }

static int gates_of(int mode) { return mode == ZEN_RNN_LSTM ? 4 : mode == ZEN_RNN_GRU ? 3 : 1; }

static rnn_layout layout_of(int mode, int64_t B, int64_t T, int64_t I, int64_t H, int64_t auxlen) {
    rnn_layout L = {.B = B, .T = T, .I = I, .H = H, .G = gates_of(mode)};
    L.N = B * T;
    L.GH = L.G * H;
    int64_t at = 0;
    L.y = at, at += pad16(L.N * H);
    L.hn = at, at += pad16(B * H);
    L.cn = at, at += mode == ZEN_RNN_LSTM ? pad16(B * H) : 0;
    L.mask = at, at += pad16(L.N);
    L.hprev = at, at += pad16(L.N * H);
    L.hprevt = at, at += pad16(L.N * H);
    L.act = at, at += pad16(L.N * L.GH);
    L.cprev = at, at += mode == ZEN_RNN_LSTM ? pad16(L.N * H) : 0;
    L.tanhc = at, at += mode == ZEN_RNN_LSTM ? pad16(L.N * H) : 0;
    L.hnb = at, at += mode == ZEN_RNN_GRU ? pad16(L.N * H) : 0;
    L.total = at;
    at = 0;
    L.dgx = at, at += pad16(L.N * L.GH);
    L.dgh = mode == ZEN_RNN_GRU ? at : L.dgx, at += mode == ZEN_RNN_GRU ? pad16(L.N * L.GH) : 0;
    L.daux = at, at += pad16(auxlen);
    L.dtotal = at;
    return L;
}

/* The layout of an RNN or RNN_BACK node (R: the RNN node). */
static rnn_layout layout_node(const zen_tensor *R) {
    const zen_tensor *x = R->src[0];
    if (R->ip[IP_FLAGS] & RNN_GATHER)
        return layout_of((int)R->ip[IP_MODE], R->src[1]->shape[0], R->src[1]->shape[1], x->shape[1], R->ip[IP_H],
                         R->ip[IP_AUXLEN]);
    return layout_of((int)R->ip[IP_MODE], x->shape[0], x->shape[1], x->shape[2], R->ip[IP_H], R->ip[IP_AUXLEN]);
}

/* ---- gate kernels: one batch row of one step ---- */

/* The row kernels below work on n units starting at the given pointers; the gates of a
 * unit are H apart (a[j], a[H + j], ...), so a thread can take a slice of the units. */

/* A masked step: the state (hp -> hd) carried over, the output 0. */
static void carry_row(const float *restrict hp, float *restrict hd, float *restrict y, int64_t n) {
    memcpy(hd, hp, (size_t)n * sizeof(float));
    memset(y, 0, (size_t)n * sizeof(float));
}

/* LSTM. a: the row's pre-activations (x and h projections, no bias), overwritten with
 * i, f, g, o. cp: cell entering; tc: tanh(c) leaving (saved). Writes the new state to
 * hd, cd and the output to y. */
ZEN_TARGET_CLONES static void lstm_row(float *restrict a, const float *restrict bias, const float *restrict cp,
                                       float *restrict tc, float *restrict hd, float *restrict cd,
                                       float *restrict y, int64_t H, int64_t n) {
    float *ai = a, *af = a + H, *ag = a + 2 * H, *ao = a + 3 * H;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        float i = zen_vm_sigmoid(ai[j] + bias[j]);
        float f = zen_vm_sigmoid(af[j] + bias[H + j]);
        float g = zen_vm_tanh(ag[j] + bias[2 * H + j]);
        float o = zen_vm_sigmoid(ao[j] + bias[3 * H + j]);
        float c = f * cp[j] + i * g;
        float t = zen_vm_tanh(c);
        ai[j] = i, af[j] = f, ag[j] = g, ao[j] = o;
        tc[j] = t;
        float h = o * t;
        hd[j] = h;
        cd[j] = c;
        y[j] = h;
    }
}

/* GRU. a: the x projection (no bias), overwritten with r, z, n; hh: W_hh h (no bias);
 * hnb: W_hn h + b_hn (saved). */
ZEN_TARGET_CLONES static void gru_row(float *restrict a, const float *restrict hh, const float *restrict bx,
                                      const float *restrict bh, const float *restrict hp, float *restrict hnb,
                                      float *restrict hd, float *restrict y, int64_t H, int64_t n) {
    float *ar = a, *az = a + H, *an = a + 2 * H;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        float r = zen_vm_sigmoid(ar[j] + bx[j] + hh[j] + bh[j]);
        float z = zen_vm_sigmoid(az[j] + bx[H + j] + hh[H + j] + bh[H + j]);
        float hb = hh[2 * H + j] + bh[2 * H + j];
        float ng = zen_vm_tanh(an[j] + bx[2 * H + j] + r * hb);
        float h = (1.0f - z) * ng + z * hp[j];
        ar[j] = r, az[j] = z, an[j] = ng;
        hnb[j] = hb;
        hd[j] = h;
        y[j] = h;
    }
}

/* Simple RNN, tanh or relu. a: pre-activation (no bias), overwritten with the new h. */
ZEN_TARGET_CLONES static void rnn_row(float *restrict a, const float *restrict bias, float *restrict hd,
                                      float *restrict y, int64_t n, bool relu) {
    if (relu) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) {
            float p = a[j] + bias[j];
            a[j] = hd[j] = y[j] = p > 0.0f ? p : 0.0f;
        }
    } else {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) a[j] = hd[j] = y[j] = zen_vm_tanh(a[j] + bias[j]);
    }
}

/* ---- threading of the step loops ----
 *
 * Both passes run all steps inside one parallel region. Each thread owns a slice of the
 * hidden units (a multiple of 16) and, per step, computes the recurrent product only for
 * its units' gate columns (its own sequential GEMMs) and then their gate kernels: one
 * barrier per step, no fork/join, and no GEMM split by the BLAS into pieces too small to
 * pay for their packing. */

/* Threads for the step loops: all of them when a step's product is big enough. */
static int step_threads(const zen_exec *ex, int64_t B, int64_t GH, int64_t H) {
    return B * GH * H >= 262144 && H >= 32 ? ex->nthreads : 1;
}

/* This thread's units [j0, j1) of H (empty for surplus threads). */
static void unit_range(int64_t H, int64_t *j0, int64_t *j1) {
    int64_t nt = omp_get_num_threads(), id = omp_get_thread_num();
    int64_t per = ((H + nt - 1) / nt + 15) & ~(int64_t)15;
    *j0 = id * per < H ? id * per : H;
    *j1 = *j0 + per < H ? *j0 + per : H;
}

/* ---- forward ---- */

static size_t rnn_work_size(const zen_tensor *out, int nthreads) {
    rnn_layout L = layout_node(out);
    /* combined bias, zero bias, GRU's per-step W_hh h */
    return (size_t)(3 * pad16(L.GH) + pad16(L.B * L.GH)) * sizeof(float);
}

static void rnn_forward(zen_tensor *out, zen_exec *ex) {
    rnn_layout L = layout_node(out);
    const int mode = (int)out->ip[IP_MODE];
    const int flags = (int)out->ip[IP_FLAGS];
    const bool reverse = flags & RNN_REVERSE, out_rev = flags & RNN_OUT_REVERSED, has_mask = flags & RNN_HAS_MASK;
    const bool gather = flags & RNN_GATHER;
    const float *x = out->src[0]->data, *wih = out->src[1] && !gather ? out->src[1]->data : NULL;
    const float *whh = out->src[2]->data;
    const float *aux = out->src[3] ? out->src[3]->data : NULL;
    float *R = out->data;
    const int64_t B = L.B, T = L.T, H = L.H, GH = L.GH;

    float *bsum = ex->work, *zero = bsum + pad16(GH), *bx = zero + pad16(GH), *hh = bx + pad16(GH);
    const float *bih = out->ip[IP_BIH] >= 0 ? aux + out->ip[IP_BIH] : NULL;
    const float *bhh = out->ip[IP_BHH] >= 0 ? aux + out->ip[IP_BHH] : NULL;
    for (int64_t j = 0; j < GH; j++) {
        zero[j] = 0.0f;
        bx[j] = bih ? bih[j] : 0.0f;
        bsum[j] = bx[j] + (bhh ? bhh[j] : 0.0f);
    }
    const float *bh = bhh ? bhh : zero;

    float *mask = R + L.mask;
    if (has_mask) {
        const float *src = aux + out->ip[IP_MASK];
        for (int64_t i = 0; i < L.N; i++) mask[i] = src[i] != 0.0f ? 1.0f : 0.0f;
    } else {
        for (int64_t i = 0; i < pad16(L.N); i++) mask[i] = 1.0f;
    }
    float *act = R + L.act, *hprev = R + L.hprev, *cprev = R + L.cprev;
    /* the input projections of every step at once (or given: x holds them) */
    if (gather) {
        const int32_t *ids = out->src[1]->data;
        const int64_t V = out->src[0]->shape[0];
        const int gth = zen__threads_for(ex, L.N * GH);
#pragma omp parallel for num_threads(gth) if (gth > 1) schedule(static)
        for (int64_t r = 0; r < L.N; r++) {
            if (ids[r] < 0 || ids[r] >= V) {
                zen__exec_fail(ex, "zen_rnn: id %d is out of range for an embedding of %lld rows (valid range [0, %lld))",
                               ids[r], (long long)V, (long long)V);
                memset(act + r * GH, 0, (size_t)GH * sizeof(float));
            } else {
                memcpy(act + r * GH, x + ids[r] * GH, (size_t)GH * sizeof(float));
            }
        }
    } else if (wih) {
        zen__sgemm(false, true, L.N, GH, L.I, 1.0f, x, L.I, wih, L.I, 0.0f, act, GH);
    } else {
        memcpy(act, x, (size_t)(L.N * GH) * sizeof(float));
    }

    const int64_t t0 = reverse ? T - 1 : 0;
    const float *h0 = out->ip[IP_H0] >= 0 ? aux + out->ip[IP_H0] : NULL;
    const float *c0 = out->ip[IP_C0] >= 0 ? aux + out->ip[IP_C0] : NULL;
    for (int64_t b = 0; b < B; b++)
        for (int64_t j = 0; j < H; j++) {
            hprev[(b * T + t0) * H + j] = h0 ? h0[b * H + j] : 0.0f;
            if (mode == ZEN_RNN_LSTM) cprev[(b * T + t0) * H + j] = c0 ? c0[b * H + j] : 0.0f;
        }

    const int nth = step_threads(ex, B, GH, H);
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        int64_t j0, j1;
        unit_range(H, &j0, &j1);
        const int64_t n = j1 - j0;
        const bool whole = n == H;
        for (int64_t s = 0; s < T; s++) {
            const int64_t t = reverse ? T - 1 - s : s;
            const int64_t tn = s + 1 < T ? (reverse ? t - 1 : t + 1) : -1;
            const int64_t ty = out_rev ? s : t;
            const float *hp0 = hprev + t * H;
            /* h·W_hhᵀ for this thread's units: GRU into hh (r multiplies its n part), the
             * others added to the step's input projections in place */
            float *dst = mode == ZEN_RNN_GRU ? hh : act + t * GH;
            const int64_t ldc = mode == ZEN_RNN_GRU ? GH : T * GH;
            const float beta = mode == ZEN_RNN_GRU ? 0.0f : 1.0f;
            if (whole) {
                zen__sgemm(false, true, B, GH, H, 1.0f, hp0, T * H, whh, H, beta, dst, ldc);
            } else if (n > 0) {
                for (int64_t g = 0; g < L.G; g++)
                    zen__sgemm(false, true, B, n, H, 1.0f, hp0, T * H, whh + (g * H + j0) * H, H, beta, dst + g * H + j0,
                               ldc);
            }
            for (int64_t b = 0; b < B && n > 0; b++) {
                const int64_t row = b * T + t;
                float *a = act + row * GH + j0;
                const float *hp = hprev + row * H + j0;
                float *hd = (tn >= 0 ? hprev + (b * T + tn) * H : R + L.hn + b * H) + j0;
                float *y = R + L.y + (b * T + ty) * H + j0;
                float *cd = mode != ZEN_RNN_LSTM ? NULL : (tn >= 0 ? cprev + (b * T + tn) * H : R + L.cn + b * H) + j0;
                if (mask[row] == 0.0f) {
                    carry_row(hp, hd, y, n);
                    /* (the saved activations of a masked step are never read; written all the same) */
                    if (cd) memcpy(cd, cprev + row * H + j0, (size_t)n * sizeof(float));
                    if (cd) memset(R + L.tanhc + row * H + j0, 0, (size_t)n * sizeof(float));
                    if (mode == ZEN_RNN_GRU) memset(R + L.hnb + row * H + j0, 0, (size_t)n * sizeof(float));
                } else if (mode == ZEN_RNN_LSTM) {
                    lstm_row(a, bsum + j0, cprev + row * H + j0, R + L.tanhc + row * H + j0, hd, cd, y, H, n);
                } else if (mode == ZEN_RNN_GRU) {
                    gru_row(a, hh + b * GH + j0, bx + j0, bh + j0, hp, R + L.hnb + row * H + j0, hd, y, H, n);
                } else {
                    rnn_row(a, bsum + j0, hd, y, n, mode == ZEN_RNN_RELU);
                }
            }
            /* the next step's product reads every unit of the new state */
#pragma omp barrier
        }
        /* hprev transposed, this thread's units (rows of hprevt), in 16x16 tiles */
        float *ht = R + L.hprevt;
        for (int64_t r0 = 0; r0 < L.N; r0 += 16)
            for (int64_t jb = j0; jb < j1; jb += 16) {
                int64_t r1 = r0 + 16 < L.N ? r0 + 16 : L.N, je = jb + 16 < j1 ? jb + 16 : j1;
                for (int64_t j = jb; j < je; j++)
                    for (int64_t r = r0; r < r1; r++) ht[j * L.N + r] = hprev[r * H + j];
            }
    }
}

/* ---- backward: one step of one batch row, dh -> dG (and dc), dh_next's direct part ---- */

/* dh: gradient of the state leaving the step; dc: of the cell leaving it (updated to the
 * cell entering it). dg: dG row (i, f, g, o). */
ZEN_TARGET_CLONES static void lstm_back_row(const float *restrict a, const float *restrict cp,
                                            const float *restrict tc, const float *restrict dh,
                                            float *restrict dc, float *restrict dg, int64_t H, int64_t n) {
    const float *ai = a, *af = a + H, *ag = a + 2 * H, *ao = a + 3 * H;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        float i = ai[j], f = af[j], g = ag[j], o = ao[j], t = tc[j];
        float dct = dc[j] + dh[j] * o * (1.0f - t * t);
        dg[j] = dct * g * i * (1.0f - i);
        dg[H + j] = dct * cp[j] * f * (1.0f - f);
        dg[2 * H + j] = dct * i * (1.0f - g * g);
        dg[3 * H + j] = dh[j] * t * o * (1.0f - o);
        dc[j] = dct * f;
    }
}

/* GRU: dgx, dgh: the gradients of the x and h pre-activations (they differ in n: r
 * multiplies the h part); dn: dh_next's direct part dh*z. */
ZEN_TARGET_CLONES static void gru_back_row(const float *restrict a, const float *restrict hnb,
                                           const float *restrict hp, const float *restrict dh,
                                           float *restrict dgx, float *restrict dgh, float *restrict dnext, int64_t H,
                                           int64_t n) {
    const float *ar = a, *az = a + H, *an = a + 2 * H;
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        float r = ar[j], z = az[j], ng = an[j], d = dh[j];
        float dnp = d * (1.0f - z) * (1.0f - ng * ng);
        float dzp = d * (hp[j] - ng) * z * (1.0f - z);
        float drp = dnp * hnb[j] * r * (1.0f - r);
        dgx[j] = drp, dgx[H + j] = dzp, dgx[2 * H + j] = dnp;
        dgh[j] = drp, dgh[H + j] = dzp, dgh[2 * H + j] = dnp * r;
        dnext[j] = d * z;
    }
}

ZEN_TARGET_CLONES static void rnn_back_row(const float *restrict h, const float *restrict dh, float *restrict dg,
                                           int64_t n, bool relu) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) dg[j] = dh[j] * (relu ? (h[j] > 0.0f ? 1.0f : 0.0f) : 1.0f - h[j] * h[j]);
}

/* dh[j] += m * dy[j] */
ZEN_TARGET_CLONES static void add_row(float *restrict dh, const float *restrict dy, int64_t H) {
#pragma omp simd
    for (int64_t j = 0; j < H; j++) dh[j] += dy[j];
}

/* out[j] = sum over rows of g[r*ld + j], j in [j0, j1) */
ZEN_TARGET_CLONES static void colsum(const float *restrict g, int64_t rows, int64_t ld, int64_t j0, int64_t j1,
                                     float *restrict out) {
    for (int64_t j = j0; j < j1; j++) out[j] = 0.0f;
    for (int64_t r = 0; r < rows; r++) {
        const float *gr = g + r * ld;
#pragma omp simd
        for (int64_t j = j0; j < j1; j++) out[j] += gr[j];
    }
}

static size_t rnn_back_work_size(const zen_tensor *out, int nthreads) {
    rnn_layout L = layout_node(out->src[0]);
    return (size_t)(3 * pad16(L.B * L.H)) * sizeof(float);
}

/* srcs: the RNN node, w_hh, dy [B,T,H] or NULL, dstate (dhn then, for LSTM, dcn; flat) or NULL. */
static void rnn_back_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *Rn = out->src[0];
    rnn_layout L = layout_node(Rn);
    const int mode = (int)Rn->ip[IP_MODE];
    const int flags = (int)Rn->ip[IP_FLAGS];
    const bool reverse = flags & RNN_REVERSE, out_rev = flags & RNN_OUT_REVERSED;
    const float *R = Rn->data, *whh = out->src[1]->data;
    const float *dy = out->src[2] ? out->src[2]->data : NULL;
    const float *dstate = out->src[3] ? out->src[3]->data : NULL;
    float *D = out->data;
    const int64_t B = L.B, T = L.T, H = L.H, GH = L.GH;
    float *dh = ex->work, *dn = dh + pad16(B * H), *dc = dn + pad16(B * H);
    for (int64_t i = 0; i < B * H; i++) {
        dh[i] = dstate ? dstate[i] : 0.0f;
        dc[i] = dstate && mode == ZEN_RNN_LSTM ? dstate[B * H + i] : 0.0f;
    }
    const float *mask = R + L.mask, *act = R + L.act, *hprev = R + L.hprev;
    float *dgx = D + L.dgx, *dgh = D + L.dgh;
    const int nth = step_threads(ex, B, GH, H);
#pragma omp parallel num_threads(nth) if (nth > 1)
    {
        int64_t j0, j1;
        unit_range(H, &j0, &j1);
        const int64_t n = j1 - j0;
        float *dh_ = dh, *dn_ = dn;
        for (int64_t s = T - 1; s >= 0; s--) {
            const int64_t t = reverse ? T - 1 - s : s;
            const int64_t ty = out_rev ? s : t;
            for (int64_t b = 0; b < B && n > 0; b++) {
                const int64_t row = b * T + t;
                float *dhb = dh_ + b * H + j0, *dnb = dn_ + b * H + j0;
                float *gx = dgx + row * GH + j0, *gh = dgh + row * GH + j0;
                if (mask[row] == 0.0f) { /* the state went through unchanged; y was a constant 0 */
                    memcpy(dnb, dhb, (size_t)n * sizeof(float));
                    for (int64_t g = 0; g < L.G; g++) {
                        memset(gx + g * H, 0, (size_t)n * sizeof(float));
                        if (gh != gx) memset(gh + g * H, 0, (size_t)n * sizeof(float));
                    }
                    continue;
                }
                if (dy) add_row(dhb, dy + (b * T + ty) * H + j0, n);
                const float *a = act + row * GH + j0;
                if (mode == ZEN_RNN_LSTM) {
                    lstm_back_row(a, R + L.cprev + row * H + j0, R + L.tanhc + row * H + j0, dhb, dc + b * H + j0, gx, H, n);
                    memset(dnb, 0, (size_t)n * sizeof(float));
                } else if (mode == ZEN_RNN_GRU) {
                    gru_back_row(a, R + L.hnb + row * H + j0, hprev + row * H + j0, dhb, gx, gh, dnb, H, n);
                } else {
                    rnn_back_row(a, dhb, gx, n, mode == ZEN_RNN_RELU);
                    memset(dnb, 0, (size_t)n * sizeof(float));
                }
            }
            /* the product below reads every unit's dG of the step */
#pragma omp barrier
            /* dh entering the step, this thread's units: the direct part plus dG·W_hh */
            if (n > 0) zen__sgemm(false, false, B, n, GH, 1.0f, dgh + t * GH, T * GH, whh + j0, H, 1.0f, dn_ + j0, H);
            float *tmp = dh_;
            dh_ = dn_, dn_ = tmp;
        }
    }
    if (T % 2) dh = dn; /* where the last swap left the gradient of the initial state */

    if (Rn->ip[IP_AUXLEN] == 0) return;
    float *daux = D + L.daux;
    for (int64_t i = 0; i < Rn->ip[IP_AUXLEN]; i++) daux[i] = 0.0f; /* the mask's part stays 0 */
    if (Rn->ip[IP_H0] >= 0) memcpy(daux + Rn->ip[IP_H0], dh, (size_t)(B * H) * sizeof(float));
    if (Rn->ip[IP_C0] >= 0) memcpy(daux + Rn->ip[IP_C0], dc, (size_t)(B * H) * sizeof(float));
    const int cth = zen__threads_for(ex, L.N * GH);
    const int64_t bih = Rn->ip[IP_BIH], bhh = Rn->ip[IP_BHH];
#pragma omp parallel num_threads(cth) if (cth > 1)
    {
        int nt = omp_get_num_threads(), id = omp_get_thread_num();
        int64_t chunk = (GH + nt - 1) / nt, j0 = id * chunk, j1 = j0 + chunk < GH ? j0 + chunk : GH;
        if (j0 < j1) {
            if (bih >= 0) colsum(dgx, L.N, GH, j0, j1, daux + bih);
            if (bhh >= 0 && bih >= 0 && dgh == dgx) /* the same sum (all but GRU) */
                memcpy(daux + bhh + j0, daux + bih + j0, (size_t)(j1 - j0) * sizeof(float));
            else if (bhh >= 0)
                colsum(dgh, L.N, GH, j0, j1, daux + bhh);
        }
    }
}

/* ---- views, the gradient collector, and the backward rule ---- */

/* A differentiable result of an RNN node (slot 0 y, 1 hn, 2 cn). Views that are never
 * differentiated again (of RNN_BACK's packed gradients, of the saved states) are fused.h's
 * PART views. */
static zen_tensor *rnn_view(zen_ctx *ctx, zen_tensor *src, int slot, int ndim, const int64_t *shape, int64_t offset) {
    zen_tensor *v = zen__part(ctx, ZEN_OP_RNN_VIEW, src, ndim, shape, offset);
    if (v) v->ip[0] = slot;
    return v;
}

static void rnn_view_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *R = out->src[0];
    int slot = (int)out->ip[0];
    if (R->op != ZEN_OP_RNN) {
        zen__fail(ctx, "zen_rnn: second derivatives are not supported");
        return;
    }
    if (!R->grad) {
        /* never computed: it only carries the outputs' gradients to rnn_backward */
        R->grad = zen__view(ctx, ZEN_OP_RNN_GRADS, R, R->ndim, R->shape, R->stride, 0);
        if (!R->grad) return;
        R->grad->src[0] = NULL;
    }
    zen_tensor **g = &R->grad->src[1 + slot];
    *g = *g ? zen_add(ctx, *g, out->grad) : out->grad;
}

static zen_tensor *flat(zen_ctx *ctx, zen_tensor *t) {
    return t ? zen_reshape(ctx, t, 1, (int64_t[]){zen_numel(t)}) : NULL;
}

static void rnn_backward(zen_ctx *ctx, zen_tensor *R) {
    const int mode = (int)R->ip[IP_MODE];
    zen_tensor *x = R->src[0], *wih = R->src[1], *whh = R->src[2], *aux = R->src[3];
    rnn_layout L = layout_node(R);
    zen_tensor *dy = R->grad->src[1], *dh = R->grad->src[2], *dc = R->grad->src[3];
    if (dy) dy = zen__dense(ctx, dy);
    zen_tensor *dstate = NULL;
    if (dh || dc) {
        int64_t bh[2] = {L.B, L.H};
        if (!dh) dh = zen_const(ctx, ZEN_F32, 2, bh);
        if (mode == ZEN_RNN_LSTM) {
            if (!dc) dc = zen_const(ctx, ZEN_F32, 2, bh);
            dstate = zen_concat(ctx, 2, (zen_tensor *[]){flat(ctx, dh), flat(ctx, dc)}, 0);
        } else {
            dstate = zen__dense(ctx, flat(ctx, dh));
        }
        if (!dstate) return;
    }
    zen_tensor *D = zen__node(ctx, ZEN_OP_RNN_BACK, ZEN_F32, 1, (int64_t[]){L.dtotal}, R, whh, dy, dstate);
    if (!D) return;
    zen_tensor *dgx = zen__part(ctx, ZEN_OP_PART, D, 2, (int64_t[]){L.N, L.GH}, L.dgx);
    zen_tensor *dgh = zen__part(ctx, ZEN_OP_PART, D, 2, (int64_t[]){L.N, L.GH}, L.dgh);
    if (R->ip[IP_FLAGS] & RNN_GATHER) { /* x: the table of projections; wih: the ids */
        if (zen__needs_grad(x))
            zen__accum_grad(ctx, x, zen__node(ctx, ZEN_OP_EMBEDDING_BACK, ZEN_F32, 2, x->shape,
                                              zen_reshape(ctx, dgx, 3, (int64_t[]){L.B, L.T, L.GH}), wih, NULL, NULL));
        wih = NULL;
    } else if (!wih) /* x held the input projections */
        zen__accum_grad(ctx, x, zen_reshape(ctx, dgx, 3, x->shape));
    else if (zen__needs_grad(x))
        zen__accum_grad(ctx, x, zen_reshape(ctx, zen_matmul(ctx, dgx, wih, false, false), 3, x->shape));
    if (wih && zen__needs_grad(wih))
        zen__accum_grad(ctx, wih, zen_matmul(ctx, dgx, zen_reshape(ctx, x, 2, (int64_t[]){L.N, L.I}), true, false));
    if (zen__needs_grad(whh)) {
        /* dW_hh = dGᵀ·H_prev, as (H_prevᵀ·dG)ᵀ: oneDNN runs the untransposed product ~20%
         * faster than the one reading dG transposed, and the result's transpose is a copy
         * of only G*H*H floats */
        zen_tensor *hpt = zen__part(ctx, ZEN_OP_PART, R, 2, (int64_t[]){L.H, L.N}, L.hprevt);
        zen__accum_grad(ctx, whh, zen_transpose(ctx, zen_matmul(ctx, hpt, dgh, false, false), 0, 1));
    }
    if (aux && zen__needs_grad(aux))
        zen__accum_grad(ctx, aux, zen__part(ctx, ZEN_OP_PART, D, 1, (int64_t[]){R->ip[IP_AUXLEN]}, L.daux));
}

static void rnn_grads_backward(zen_ctx *ctx, zen_tensor *out) {
    zen__fail(ctx, "zen_rnn: internal error: a gradient collector was differentiated");
}

/* ---- constructor ---- */

static const char *mode_name(int mode) {
    switch (mode) {
    case ZEN_RNN_TANH: return "RNN_TANH";
    case ZEN_RNN_RELU: return "RNN_RELU";
    case ZEN_RNN_LSTM: return "LSTM";
    case ZEN_RNN_GRU: return "GRU";
    }
    return "?";
}

static bool check_shape(zen_ctx *ctx, const char *what, const zen_tensor *t, int ndim, const int64_t *shape) {
    char got[128], want[128] = "[";
    if (!zen__check_f32(ctx, "zen_rnn", what, t)) return false;
    bool ok = t->ndim == ndim;
    for (int d = 0; d < ndim && ok; d++) ok = t->shape[d] == shape[d];
    if (ok) return true;
    for (int d = 0; d < ndim; d++)
        snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "", (long long)shape[d]);
    strcat(want, "]");
    zen__fail(ctx, "zen_rnn: %s must have shape %s, got %s", what, want, zen_shape_str(t, got, sizeof got));
    return false;
}

zen_rnn_out zen_rnn(zen_ctx *ctx, zen_tensor *x, zen_tensor *w_ih, zen_tensor *w_hh, const zen_rnn_opts *opts) {
    zen_rnn_out res = {0};
    zen_rnn_opts o = opts ? *opts : (zen_rnn_opts){0};
    if (!x || !w_hh) {
        if (!zen_ctx_error(ctx)) zen__fail(ctx, "zen_rnn: x and w_hh are required");
        return res;
    }
    if (o.mode != ZEN_RNN_TANH && o.mode != ZEN_RNN_RELU && o.mode != ZEN_RNN_LSTM && o.mode != ZEN_RNN_GRU) {
        zen__fail(ctx, "zen_rnn: mode %d is not one of ZEN_RNN_TANH, ZEN_RNN_RELU, ZEN_RNN_LSTM, ZEN_RNN_GRU", (int)o.mode);
        return res;
    }
    char buf[128];
    if (!zen__check_f32(ctx, "zen_rnn", "x", x)) return res;
    if (x->ndim != 3 || x->shape[0] < 1 || x->shape[1] < 1 || x->shape[2] < 1) {
        zen__fail(ctx, "zen_rnn: x must be [batch, steps, features] with every size >= 1, got %s",
                  zen_shape_str(x, buf, sizeof buf));
        return res;
    }
    const int G = gates_of(o.mode);
    const int64_t B = x->shape[0], T = x->shape[1], I = x->shape[2];
    /* w_ih NULL: x holds the input projections [B, T, G*H]; w_hh gives H */
    const zen_tensor *wg = w_ih ? w_ih : w_hh;
    if (!zen__check_f32(ctx, "zen_rnn", w_ih ? "w_ih" : "w_hh", wg)) return res;
    if (wg->ndim != 2 || wg->shape[0] < G || wg->shape[0] % G) {
        if (w_ih)
            zen__fail(ctx, "zen_rnn: w_ih must be [%d*hidden, %lld] for %s, got %s", G, (long long)I, mode_name(o.mode),
                      zen_shape_str(w_ih, buf, sizeof buf));
        else
            zen__fail(ctx, "zen_rnn: w_hh must be [%d*hidden, hidden] for %s, got %s", G, mode_name(o.mode),
                      zen_shape_str(w_hh, buf, sizeof buf));
        return res;
    }
    const int64_t H = wg->shape[0] / G, GH = G * H;
    if (w_ih && !check_shape(ctx, "w_ih", w_ih, 2, (int64_t[]){GH, I})) return res;
    if (!w_ih && I != GH) {
        zen__fail(ctx, "zen_rnn: without w_ih, x holds the input projections and must be [%lld, %lld, %lld], got %s",
                  (long long)B, (long long)T, (long long)GH, zen_shape_str(x, buf, sizeof buf));
        return res;
    }
    if (!check_shape(ctx, "w_hh", w_hh, 2, (int64_t[]){GH, H})) return res;
    if (o.b_ih && !check_shape(ctx, "b_ih", o.b_ih, 1, (int64_t[]){GH})) return res;
    if (o.b_hh && !check_shape(ctx, "b_hh", o.b_hh, 1, (int64_t[]){GH})) return res;
    if (o.h0 && !check_shape(ctx, "h0", o.h0, 2, (int64_t[]){B, H})) return res;
    if (o.c0 && o.mode != ZEN_RNN_LSTM) {
        zen__fail(ctx, "zen_rnn: c0 is only for LSTM, not %s", mode_name(o.mode));
        return res;
    }
    if (o.c0 && !check_shape(ctx, "c0", o.c0, 2, (int64_t[]){B, H})) return res;
    if (o.mask && !check_shape(ctx, "mask", o.mask, 2, (int64_t[]){B, T})) return res;

    /* the small inputs, concatenated into one source */
    zen_tensor *parts[5];
    int np = 0;
    int64_t off[5] = {-1, -1, -1, -1, -1}, at = 0;
    zen_tensor *const given[5] = {o.b_ih, o.b_hh, o.h0, o.c0, o.mask};
    for (int k = 0; k < 5; k++) {
        if (!given[k]) continue;
        parts[np] = flat(ctx, given[k]);
        if (!parts[np]) return res;
        off[k] = at;
        at += zen_numel(given[k]);
        np++;
    }
    zen_tensor *aux = np ? zen_concat(ctx, np, parts, 0) : NULL;
    if (np && !aux) return res;
    /* Embedding lookups into a table of fewer rows than there are steps: project the
     * table once and look the projections up (V*I*G*H multiply-adds instead of B*T*I*G*H,
     * and the same saving in the backward pass, which scatters dG into the table's rows). */
    bool gather = false;
    if (w_ih && x->op == ZEN_OP_EMBEDDING && x->src[0]->shape[0] < B * T) {
        x = zen_embedding(ctx, zen_matmul(ctx, x->src[0], w_ih, false, true), x->src[1]);
        w_ih = NULL;
    }
    /* projections looked up: the node gathers them itself (no [B, T, G*H] copy) */
    if (!w_ih && x && x->op == ZEN_OP_EMBEDDING && x->src[1]->ndim == 2) {
        w_ih = x->src[1]; /* the ids take w_ih's place */
        x = zen__dense(ctx, x->src[0]);
        gather = true;
    }
    x = zen__dense(ctx, x);
    if (w_ih) w_ih = zen__dense(ctx, w_ih);
    w_hh = zen__dense(ctx, w_hh);
    if (!x || !w_hh) return res;

    rnn_layout L = layout_of(o.mode, B, T, w_ih && !gather ? I : GH, H, at);
    zen_tensor *R = zen__node(ctx, ZEN_OP_RNN, ZEN_F32, 1, (int64_t[]){L.total}, x, w_ih, w_hh, aux);
    if (!R) return res;
    R->ip[IP_MODE] = o.mode;
    R->ip[IP_H] = H;
    R->ip[IP_FLAGS] = (o.reverse ? RNN_REVERSE : 0) | (o.reverse_outputs ? RNN_OUT_REVERSED : 0) |
                      (o.mask ? RNN_HAS_MASK : 0) | (gather ? RNN_GATHER : 0);
    for (int k = 0; k < 5; k++) R->ip[IP_BIH + k] = off[k];
    R->ip[IP_AUXLEN] = at;
    res.y = rnn_view(ctx, R, 0, 3, (int64_t[]){B, T, H}, L.y);
    res.h = rnn_view(ctx, R, 1, 2, (int64_t[]){B, H}, L.hn);
    if (o.mode == ZEN_RNN_LSTM) res.c = rnn_view(ctx, R, 2, 2, (int64_t[]){B, H}, L.cn);
    return res;
}

const zen_op_def zen_op_rnn = {"rnn", rnn_forward, rnn_backward, rnn_work_size, false};
const zen_op_def zen_op_rnn_back = {"rnn_back", rnn_back_forward, NULL, rnn_back_work_size, false};
const zen_op_def zen_op_rnn_view = {"rnn_view", NULL, rnn_view_backward, NULL, true};
const zen_op_def zen_op_rnn_grads = {"rnn_grads", NULL, rnn_grads_backward, NULL, true};
