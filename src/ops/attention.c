/* attention.c — fused scaled dot-product attention, FlashAttention-style.
 *
 *   O = dropout(softmax(Q Kᵀ * scale + mask)) V        per batch b and head h
 *
 * q [B, H, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv]; H a multiple of Hkv (grouped
 * query attention: head h reads key/value head h / (H / Hkv)). Masks: causal aligned to the
 * END of the keys (query i sees key j iff j <= i + Tk - Tq, so a query block that continues
 * a KV cache works), and an optional key padding mask [B, Tk] (0 = padding).
 *
 * Forward: for each (b, h, block of BR queries) a thread walks the visible keys in blocks of
 * BC: S = Q_blk K_blkᵀ (zen__sgemm on the tile), masks, then the online softmax update
 * (running max m and sum l per row; the accumulated O rows are rescaled by exp(m_old -
 * m_new)) and O += P V_blk. The [Tq, Tk] matrix is never stored; a thread's scratch is one
 * BR x BC tile. Only logsumexp = m + log(l) per row is saved for the backward.
 *
 * Backward (FlashAttention-2): with Di = rowsum(dO ∘ O), a thread per (b, key/value head)
 * recomputes each tile P = exp(S - lse) and accumulates
 *   dV += Pdᵀ dO,  dP = (dO Vᵀ) ∘ Z/(1-p),  dS = P ∘ (dP - Di) * scale,
 *   dQ += dS K,    dK += dSᵀ Q
 * where Pd = P ∘ Z/(1-p) is P after dropout (Z the keep mask). Every tile product is one
 * sgemm; each thread owns its dK, dV (and the dQ of its heads), so nothing is shared.
 *
 * Dropout: element (b, h, i, j) is kept iff hi32(mix(key(seed, run) + idx * GAMMA)) >= p *
 * 2^32, idx = ((b * H + h) * Tq + i) * Tk + j: counter-based as in dropout.c, recomputed in
 * the backward of the same compute. Evaluation mode (zen_graph_set_training false) and
 * p = 0 skip it. The stream differs from torch's.
 *
 * Results are packed (fused.h): [O | lse], and when a gradient is needed also dense copies
 * of q, k and v in [B, H, T, D] layout, made by the forward, because the backward node can
 * name only four sources (dO, packed, mask). A row whose keys are all masked gets O = 0,
 * lse = -inf and zero gradients (torch gives NaN there). */
#include "fused.h"
#include "loops.h"
#include "softmax.h"
#include "vmath.h"

#include <math.h>
#include <omp.h>

#define BR 64  /* query rows per tile */
#define BC 256 /* keys per tile */
#define GAMMA 0x9E3779B97F4A7C15ULL

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* A [B, heads, T, d] operand: row (b, h, t) starts at p + b*sb + h*sh + t*st. */
typedef struct {
    const float *p;
    int64_t sb, sh, st;
} operand;

typedef struct {
    int64_t B, H, Hkv, Tq, Tk, D, Dv;
    float scale;
    bool causal;
    const float *mask; /* [B, Tk] or NULL */
    bool dropout;
    uint64_t key;
    uint32_t threshold;
    float dscale; /* 1 / (1 - p) */
} geom;

/* Node parameters: ip[0..6] = B, H, Hkv, Tq, Tk, D, Dv; ip[7] causal; ip[8] has mask;
 * ip[9] copies saved (a gradient is needed); ip[10..11] seed (u64); fp[0] scale, fp[1] p. */
static geom geom_of(const zen_tensor *t, const zen_exec *ex, const float *mask) {
    geom g = {t->ip[0], t->ip[1], t->ip[2], t->ip[3], t->ip[4], t->ip[5], t->ip[6], t->fp[0], t->ip[7] != 0,
              mask, false, 0, 0, 1.0f};
    const float p = t->fp[1];
    if (ex->training && p > 0.0f) {
        uint64_t seed;
        memcpy(&seed, &t->ip[10], sizeof seed);
        g.dropout = true;
        g.key = mix64(mix64(seed ^ 0x3C6EF372FE94F82BULL) ^ (ex->run * GAMMA + 0xA54FF53A5F1D36F1ULL));
        g.threshold = p >= 1.0f ? UINT32_MAX : (uint32_t)((double)p * 4294967296.0);
        g.dscale = p >= 1.0f ? 0.0f : (float)(1.0 / (1.0 - (double)p));
    }
    return g;
}

/* Number of keys query row i may see (causal), before padding. */
static inline int64_t visible(const geom *g, int64_t i) {
    if (!g->causal) return g->Tk;
    int64_t n = i + 1 + g->Tk - g->Tq;
    return n < 0 ? 0 : n > g->Tk ? g->Tk : n;
}

/* ---- row kernels ---- */

/* s[j] = -inf for keys j0 + j at or past lim or padded (mask 0). */
ZEN_TARGET_CLONES static void mask_row(float *restrict s, int64_t n, int64_t j0, int64_t lim,
                                       const float *restrict mask) {
    const float ninf = -INFINITY;
    if (mask) {
#pragma omp simd
        for (int64_t j = 0; j < n; j++) s[j] = (j0 + j >= lim || mask[j0 + j] == 0.0f) ? ninf : s[j];
    } else {
        for (int64_t j = lim - j0 < 0 ? 0 : lim - j0; j < n; j++) s[j] = ninf;
    }
}

/* Multiplies s[j] by Z(idx0 + j) / (1 - p). */
ZEN_TARGET_CLONES static void dropout_row(float *restrict s, int64_t n, uint64_t idx0, uint64_t key, uint32_t threshold,
                                          float dscale) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        uint64_t h = mix64(key + (idx0 + (uint64_t)j) * GAMMA);
        s[j] = (uint32_t)(h >> 32) >= threshold ? s[j] * dscale : 0.0f;
    }
}

ZEN_TARGET_CLONES static void scale_row(float *restrict o, float a, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] *= a;
}

ZEN_TARGET_CLONES static float dot_row(const float *restrict a, const float *restrict b, int64_t n) {
    float s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* p[j] = exp(s[j] - lse) (0 when lse is -inf: the row sees no key). */
ZEN_TARGET_CLONES static void prob_row(float *restrict s, float lse, int64_t n) {
    if (lse == -INFINITY) {
        memset(s, 0, (size_t)n * sizeof *s);
        return;
    }
#pragma omp simd
    for (int64_t j = 0; j < n; j++) s[j] = zen_vm_exp(s[j] - lse);
}

/* ds[j] = p[j] * (dp[j] - d) * scale, written over dp. */
ZEN_TARGET_CLONES static void dsoft_row(const float *restrict p, float *restrict dp, float d, float scale, int64_t n) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) dp[j] = p[j] * (dp[j] - d) * scale;
}

/* ---- constructor ---- */

static bool check4(zen_ctx *ctx, const char *what, zen_tensor *t) {
    if (!zen__check_f32(ctx, "zen_attention", what, t)) return false;
    if (t->ndim != 4) {
        char buf[64];
        zen__fail(ctx, "zen_attention: %s must be 4-D [batch, heads, steps, dim], got %s", what,
                  zen_shape_str(t, buf, sizeof buf));
        return false;
    }
    return true;
}

zen_tensor *zen_attention(zen_ctx *ctx, zen_tensor *q, zen_tensor *k, zen_tensor *v, zen_tensor *key_mask,
                          zen_attention_opts opts) {
    if (!q || !k || !v) return NULL;
    if (!check4(ctx, "q", q) || !check4(ctx, "k", k) || !check4(ctx, "v", v)) return NULL;
    char a[64], b[64], c[64];
    const int64_t B = q->shape[0], H = q->shape[1], Tq = q->shape[2], D = q->shape[3];
    const int64_t Hkv = k->shape[1], Tk = k->shape[2], Dv = v->shape[3];
    if (k->shape[0] != B || v->shape[0] != B || v->shape[1] != Hkv || v->shape[2] != Tk || k->shape[3] != D)
        return zen__fail(ctx, "zen_attention: shapes q %s, k %s, v %s do not fit (want q [B, H, Tq, D], k [B, Hkv, Tk, "
                              "D], v [B, Hkv, Tk, Dv])", zen_shape_str(q, a, sizeof a), zen_shape_str(k, b, sizeof b),
                         zen_shape_str(v, c, sizeof c));
    if (Hkv == 0 ? H != 0 : H % Hkv != 0)
        return zen__fail(ctx, "zen_attention: q's %lld heads are not a multiple of k's and v's %lld heads",
                         (long long)H, (long long)Hkv);
    if (key_mask) {
        if (!zen__check_f32(ctx, "zen_attention", "key_mask", key_mask)) return NULL;
        if (key_mask->ndim != 2 || key_mask->shape[0] != B || key_mask->shape[1] != Tk)
            return zen__fail(ctx, "zen_attention: key_mask must be [batch, keys] = [%lld, %lld], got %s", (long long)B,
                             (long long)Tk, zen_shape_str(key_mask, a, sizeof a));
        key_mask = zen__dense(ctx, key_mask);
    }
    if (!(opts.dropout >= 0.0f && opts.dropout <= 1.0f))
        return zen__fail(ctx, "zen_attention: dropout must be in [0, 1], got %g", opts.dropout);
    if (isnan(opts.scale) || isinf(opts.scale) || opts.scale < 0)
        return zen__fail(ctx, "zen_attention: scale must be a finite number >= 0 (0: 1/sqrt(D)), got %g", opts.scale);
    /* rows must be contiguous for the tile products; other strides are read in place */
    if (q->stride[3] != 1) q = zen_contiguous(ctx, q);
    if (k->stride[3] != 1) k = zen_contiguous(ctx, k);
    if (v->stride[3] != 1) v = zen_contiguous(ctx, v);
    if (!q || !k || !v) return NULL;
    const bool grad = zen__needs_grad(q) || zen__needs_grad(k) || zen__needs_grad(v);
    int64_t packed = B * H * Tq * Dv + B * H * Tq;
    if (grad) packed += B * H * Tq * D + B * Hkv * Tk * (D + Dv);
    zen_tensor *p = zen__node(ctx, ZEN_OP_ATTENTION, ZEN_F32, 1, &packed, q, k, v, key_mask);
    if (!p) return NULL;
    const int64_t ip[10] = {B, H, Hkv, Tq, Tk, D, Dv, opts.causal, key_mask != NULL, grad};
    memcpy(p->ip, ip, sizeof ip);
    memcpy(&p->ip[10], &opts.seed, sizeof opts.seed);
    p->fp[0] = opts.scale > 0 ? opts.scale : (D ? 1.0f / sqrtf((float)D) : 1.0f);
    p->fp[1] = opts.dropout;
    return zen__part(ctx, ZEN_OP_ATTENTION_O, p, 4, (int64_t[]){B, H, Tq, Dv}, 0);
}

/* ---- forward ---- */

static size_t attn_work(const zen_tensor *t, int nthreads) {
    (void)t;
    return (size_t)nthreads * (2 * BR * BC + 2 * BR) * sizeof(float) + (size_t)nthreads * 64;
}

static operand operand_of(const zen_tensor *t) { return (operand){t->data, t->stride[0], t->stride[1], t->stride[2]}; }

/* One block of rows [i0, i0 + nr) of head (b, h): O rows (ld Dv) and their lse. */
static void forward_block(const geom *g, operand Q, operand K, operand V, int64_t b, int64_t h, int64_t i0,
                          int64_t nr, float *O, float *lse, float *S, float *m, float *l) {
    const int64_t hk = h / (g->H / g->Hkv);
    const float *q = Q.p + b * Q.sb + h * Q.sh + i0 * Q.st;
    const float *kb = K.p + b * K.sb + hk * K.sh, *vb = V.p + b * V.sb + hk * V.sh;
    const float *mask = g->mask ? g->mask + b * g->Tk : NULL;
    memset(O, 0, (size_t)(nr * g->Dv) * sizeof *O);
    for (int64_t r = 0; r < nr; r++) m[r] = -INFINITY, l[r] = 0.0f;
    const int64_t jend = visible(g, i0 + nr - 1);
    for (int64_t j0 = 0; j0 < jend; j0 += BC) {
        const int64_t nb = jend - j0 < BC ? jend - j0 : BC;
        zen__sgemm(false, true, nr, nb, g->D, g->scale, q, Q.st, kb + j0 * K.st, K.st, 0.0f, S, nb);
        bool any = false;
        for (int64_t r = 0; r < nr; r++) {
            float *s = S + r * nb;
            if (mask || g->causal) mask_row(s, nb, j0, visible(g, i0 + r), mask);
            float mnew = zen__row_max(s, nb);
            mnew = mnew > m[r] ? mnew : m[r];
            if (mnew == -INFINITY) { /* nothing visible yet in this row */
                memset(s, 0, (size_t)nb * sizeof *s);
                continue;
            }
            any = true;
            float alpha = m[r] == -INFINITY ? 0.0f : expf(m[r] - mnew);
            float sum = zen__row_exp_shift(s, mnew, 1.0f, s, nb);
            l[r] = l[r] * alpha + sum;
            m[r] = mnew;
            if (alpha != 1.0f) scale_row(O + r * g->Dv, alpha, g->Dv);
            if (g->dropout)
                dropout_row(s, nb, (uint64_t)(((b * g->H + h) * g->Tq + i0 + r) * g->Tk + j0), g->key, g->threshold,
                            g->dscale);
        }
        if (any) zen__sgemm(false, false, nr, g->Dv, nb, 1.0f, S, nb, vb + j0 * V.st, V.st, 1.0f, O, g->Dv);
    }
    for (int64_t r = 0; r < nr; r++) {
        if (l[r] > 0.0f) {
            scale_row(O + r * g->Dv, 1.0f / l[r], g->Dv);
            lse[r] = m[r] + logf(l[r]);
        } else {
            lse[r] = -INFINITY; /* O row stays 0 */
        }
    }
}

/* dst[B, heads, T, d] (dense) = src (strided rows). */
static void copy_operand(float *dst, operand src, int64_t B, int64_t heads, int64_t T, int64_t d, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t bh = 0; bh < B * heads; bh++) {
        int64_t b = bh / heads, h = bh % heads;
        for (int64_t t = 0; t < T; t++)
            memcpy(dst + (bh * T + t) * d, src.p + b * src.sb + h * src.sh + t * src.st, (size_t)d * sizeof *dst);
    }
}

static void attn_forward(zen_tensor *p, zen_exec *ex) {
    const geom g = geom_of(p, ex, p->ip[8] ? p->src[3]->data : NULL);
    const operand Q = operand_of(p->src[0]), K = operand_of(p->src[1]), V = operand_of(p->src[2]);
    float *O = p->data, *LSE = O + g.B * g.H * g.Tq * g.Dv;
    const int64_t nblk = (g.Tq + BR - 1) / BR, items = g.B * g.H * nblk;
    int nt = zen__threads_for(ex, 4 * g.B * g.H * g.Tq * g.Tk * (g.D + g.Dv));
    if (nt > items) nt = items > 0 ? (int)items : 1;
    char *work = ex->work;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *S = (float *)(work + (size_t)omp_get_thread_num() * ((2 * BR * BC + 2 * BR) * sizeof(float) + 64));
        float *m = S + BR * BC, *l = m + BR;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            int64_t bh = it / nblk, i0 = (it % nblk) * BR;
            int64_t nr = g.Tq - i0 < BR ? g.Tq - i0 : BR;
            forward_block(&g, Q, K, V, bh / g.H, bh % g.H, i0, nr, O + (bh * g.Tq + i0) * g.Dv, LSE + bh * g.Tq + i0,
                          S, m, l);
        }
    }
    if (p->ip[9]) { /* dense copies for the backward */
        float *Qc = LSE + g.B * g.H * g.Tq, *Kc = Qc + g.B * g.H * g.Tq * g.D, *Vc = Kc + g.B * g.Hkv * g.Tk * g.D;
        int ntc = zen__threads_for(ex, g.B * (g.H * g.Tq + g.Hkv * g.Tk) * g.D);
        copy_operand(Qc, Q, g.B, g.H, g.Tq, g.D, ntc);
        copy_operand(Kc, K, g.B, g.Hkv, g.Tk, g.D, ntc);
        copy_operand(Vc, V, g.B, g.Hkv, g.Tk, g.Dv, ntc);
    }
}

/* ---- backward: O view -> ATTENTION_BACK(dO, packed, mask) = [dq | dk | dv] ---- */

static void attn_o_backward(zen_ctx *ctx, zen_tensor *o) {
    zen_tensor *p = o->src[0];
    zen_tensor *q = p->src[0], *k = p->src[1], *v = p->src[2];
    zen_tensor *go = zen__dense(ctx, o->grad);
    if (!go) return;
    const int64_t B = p->ip[0], H = p->ip[1], Hkv = p->ip[2], Tq = p->ip[3], Tk = p->ip[4], D = p->ip[5],
                  Dv = p->ip[6];
    int64_t packed = B * H * Tq * D + B * Hkv * Tk * (D + Dv);
    zen_tensor *bk = zen__node(ctx, ZEN_OP_ATTENTION_BACK, ZEN_F32, 1, &packed, go, p, p->ip[8] ? p->src[3] : NULL, NULL);
    if (!bk) return;
    memcpy(bk->ip, p->ip, sizeof bk->ip);
    memcpy(bk->fp, p->fp, sizeof bk->fp);
    zen__accum_grad(ctx, q, zen__part(ctx, ZEN_OP_PART, bk, 4, q->shape, 0));
    zen__accum_grad(ctx, k, zen__part(ctx, ZEN_OP_PART, bk, 4, k->shape, B * H * Tq * D));
    zen__accum_grad(ctx, v, zen__part(ctx, ZEN_OP_PART, bk, 4, v->shape, B * H * Tq * D + B * Hkv * Tk * D));
}

static void backward_head(const geom *g, int64_t b, int64_t h, const float *Qc, const float *Kc, const float *Vc,
                          const float *O, const float *LSE, const float *dO, float *dQ, float *dK, float *dV,
                          float *S, float *T, float *Di) {
    const int64_t hk = h / (g->H / g->Hkv), bh = b * g->H + h, bk = b * g->Hkv + hk;
    const float *kb = Kc + bk * g->Tk * g->D, *vb = Vc + bk * g->Tk * g->Dv;
    float *dkb = dK + bk * g->Tk * g->D, *dvb = dV + bk * g->Tk * g->Dv;
    const float *mask = g->mask ? g->mask + b * g->Tk : NULL;
    for (int64_t i0 = 0; i0 < g->Tq; i0 += BR) {
        const int64_t nr = g->Tq - i0 < BR ? g->Tq - i0 : BR;
        const float *q = Qc + (bh * g->Tq + i0) * g->D, *o = O + (bh * g->Tq + i0) * g->Dv;
        const float *go = dO + (bh * g->Tq + i0) * g->Dv, *lse = LSE + bh * g->Tq + i0;
        float *dq = dQ + (bh * g->Tq + i0) * g->D;
        memset(dq, 0, (size_t)(nr * g->D) * sizeof *dq);
        for (int64_t r = 0; r < nr; r++) Di[r] = dot_row(go + r * g->Dv, o + r * g->Dv, g->Dv);
        const int64_t jend = visible(g, i0 + nr - 1);
        for (int64_t j0 = 0; j0 < jend; j0 += BC) {
            const int64_t nb = jend - j0 < BC ? jend - j0 : BC;
            zen__sgemm(false, true, nr, nb, g->D, g->scale, q, g->D, kb + j0 * g->D, g->D, 0.0f, S, nb);
            for (int64_t r = 0; r < nr; r++) {
                if (mask || g->causal) mask_row(S + r * nb, nb, j0, visible(g, i0 + r), mask);
                prob_row(S + r * nb, lse[r], nb);
            }
            const float *pd = S; /* P after dropout, for dV */
            if (g->dropout) {
                memcpy(T, S, (size_t)(nr * nb) * sizeof *T);
                for (int64_t r = 0; r < nr; r++)
                    dropout_row(T + r * nb, nb, (uint64_t)((bh * g->Tq + i0 + r) * g->Tk + j0), g->key, g->threshold,
                                g->dscale);
                pd = T;
            }
            zen__sgemm(true, false, nb, g->Dv, nr, 1.0f, pd, nb, go, g->Dv, 1.0f, dvb + j0 * g->Dv, g->Dv);
            zen__sgemm(false, true, nr, nb, g->Dv, 1.0f, go, g->Dv, vb + j0 * g->Dv, g->Dv, 0.0f, T, nb);
            for (int64_t r = 0; r < nr; r++) {
                if (g->dropout)
                    dropout_row(T + r * nb, nb, (uint64_t)((bh * g->Tq + i0 + r) * g->Tk + j0), g->key, g->threshold,
                                g->dscale);
                dsoft_row(S + r * nb, T + r * nb, Di[r], g->scale, nb);
            }
            zen__sgemm(false, false, nr, g->D, nb, 1.0f, T, nb, kb + j0 * g->D, g->D, 1.0f, dq, g->D);
            zen__sgemm(true, false, nb, g->D, nr, 1.0f, T, nb, q, g->D, 1.0f, dkb + j0 * g->D, g->D);
        }
    }
}

static void attn_back_forward(zen_tensor *bk, zen_exec *ex) {
    const zen_tensor *go = bk->src[0], *p = bk->src[1];
    const geom g = geom_of(bk, ex, bk->ip[8] ? bk->src[2]->data : NULL);
    const float *O = p->data, *LSE = O + g.B * g.H * g.Tq * g.Dv;
    const float *Qc = LSE + g.B * g.H * g.Tq, *Kc = Qc + g.B * g.H * g.Tq * g.D, *Vc = Kc + g.B * g.Hkv * g.Tk * g.D;
    float *dQ = bk->data, *dK = dQ + g.B * g.H * g.Tq * g.D, *dV = dK + g.B * g.Hkv * g.Tk * g.D;
    const int64_t items = g.B * g.Hkv, group = g.Hkv ? g.H / g.Hkv : 0;
    int nt = zen__threads_for(ex, 8 * g.B * g.H * g.Tq * g.Tk * (g.D + g.Dv));
    if (nt > items) nt = items > 0 ? (int)items : 1;
    char *work = ex->work;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        float *S = (float *)(work + (size_t)omp_get_thread_num() * ((2 * BR * BC + 2 * BR) * sizeof(float) + 64));
        float *T = S + BR * BC, *Di = T + BR * BC;
#pragma omp for schedule(dynamic, 1)
        for (int64_t it = 0; it < items; it++) {
            int64_t b = it / g.Hkv, hk = it % g.Hkv;
            memset(dK + it * g.Tk * g.D, 0, (size_t)(g.Tk * g.D) * sizeof *dK);
            memset(dV + it * g.Tk * g.Dv, 0, (size_t)(g.Tk * g.Dv) * sizeof *dV);
            for (int64_t h = hk * group; h < (hk + 1) * group; h++)
                backward_head(&g, b, h, Qc, Kc, Vc, O, LSE, go->data, dQ, dK, dV, S, T, Di);
        }
    }
}

static void packed_no_grad(zen_ctx *ctx, zen_tensor *out) {
    zen__fail(ctx, "%s: the packed node cannot take a gradient directly", zen_op_name(out->op));
}

const zen_op_def zen_op_attention = {"attention", attn_forward, packed_no_grad, attn_work, false};
const zen_op_def zen_op_attention_o = {"attention_o", NULL, attn_o_backward, NULL, true};
const zen_op_def zen_op_attention_back = {"attention_back", attn_back_forward, NULL, attn_work, false};
