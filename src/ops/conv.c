/* conv.c — 2-D convolution (NCHW), as torch.nn.functional.conv2d, with its gradients.
 *
 * Every kernel works one sample at a time: the sample's input patches are unrolled into a
 * column matrix (im2col) col[C*KH*KW, OH*OW] in scratch memory, and each group g is one
 * sgemm (per chunk of output rows when the column matrix would be very large)
 *     y_n[g]  [OCg, P]   = w[g] [OCg, Kg] · col[g] [Kg, P]         (forward)
 *     dw[g]   [OCg, Kg] += gy_n[g] [OCg, P] · col[g]ᵀ               (CONV2D_BACK_WEIGHT)
 *     dcol[g] [Kg, P]    = w[g]ᵀ · gy_n[g]                          (CONV2D_BACK_INPUT)
 * followed by col2im for dx. P = OH*OW, Kg = C/groups*KH*KW. A 1x1 convolution with
 * stride 1 and no padding needs no unrolling: x_n itself is the column matrix.
 *
 * Threads: samples are shared out among threads, each with its own column matrix, and
 * each sgemm runs single-threaded inside the parallel region. On the reference MNIST layer
 * (batch 64, 1->32 channels, 3x3 on 28x28) this beat one big multi-threaded sgemm over
 * the whole batch (see bench/conv.c). When there are fewer samples than threads, samples
 * run one after another and the sgemm itself is multi-threaded.
 *
 * When C/groups*KH*KW <= 16 (the MNIST layer: 9) and the CPU has AVX-512, the forward
 * and the weight gradient use register-blocked kernels instead of the sgemm (see "small
 * reductions" below); the forward adds the bias in the same pass.
 *
 * The bias gradient is a plain sum of gy over N, H, W (zen_sum). */
#include "../core/internal.h"
#include "conv.h"
#include "copy.h"
#include "loops.h"
#include "pool.h"

#include <omp.h>

/* ip layout of CONV2D and its back ops. */
enum { IP_SH, IP_SW, IP_PH, IP_PW, IP_DH, IP_DW, IP_GROUPS };

typedef struct {
    int64_t N, C, H, W;    /* input */
    int64_t OC, KH, KW;    /* weight [OC, C/groups, KH, KW] */
    int64_t OH, OW;        /* output spatial size */
    int64_t sh, sw, ph, pw, dh, dw, groups;
    int64_t Cg, OCg, Kg, P; /* channels per group, output channels per group, Cg*KH*KW, OH*OW */
    int64_t rows;          /* output rows per column-matrix chunk */
    bool direct;           /* 1x1, stride 1, no padding: x_n is its own column matrix */
} geom;

/* A column matrix chunk holds at most this many floats (4 MiB), which bounds the scratch
 * for large images. Chunks sized for L2 (64K-256K floats) were measured 3-8% slower on a
 * 64->64 3x3 layer at 28x28: the smaller sgemms lose more than the cache gains. */
#define CHUNK_FLOATS (1024 * 1024)

static geom make_geom(const int64_t *xs, const int64_t *ws, int64_t OH, int64_t OW, const int64_t *ip) {
    geom g;
    g.N = xs[0], g.C = xs[1], g.H = xs[2], g.W = xs[3];
    g.OC = ws[0], g.KH = ws[2], g.KW = ws[3];
    g.OH = OH, g.OW = OW;
    g.sh = ip[IP_SH], g.sw = ip[IP_SW], g.ph = ip[IP_PH], g.pw = ip[IP_PW];
    g.dh = ip[IP_DH], g.dw = ip[IP_DW], g.groups = ip[IP_GROUPS];
    g.Cg = g.C / g.groups, g.OCg = g.OC / g.groups;
    g.Kg = g.Cg * g.KH * g.KW;
    g.P = OH * OW;
    g.direct = g.KH == 1 && g.KW == 1 && g.sh == 1 && g.sw == 1 && g.ph == 0 && g.pw == 0;
    int64_t row_floats = g.C * g.KH * g.KW * OW;
    if (row_floats < 1) row_floats = 1;
    g.rows = CHUNK_FLOATS / row_floats;
    if (g.rows < 1) g.rows = 1;
    if (g.rows > OH) g.rows = OH;
    return g;
}

/* Floats of one column matrix chunk (all groups), rounded up to whole cache lines, and a
 * cache line more (im2col_s1_avx512 writes whole vectors past the end of the last row). */
static int64_t col_floats(const geom *g) {
    int64_t n = g->C * g->KH * g->KW * g->rows * g->OW;
    return (n + 15) / 16 * 16 + 16;
}

/* How many threads share out the samples: 1 means samples run serially. */
static int batch_slots(int nthreads, int64_t N) {
    if (nthreads <= 1 || N < nthreads) return 1;
    return nthreads;
}

/* ---- constructor ---- */

static bool pair_opt(zen_ctx *ctx, const char *what, const int *v, int dflt, int min, int64_t *out) {
    for (int i = 0; i < 2; i++) {
        if (v[i] < min && !(dflt && v[i] == 0)) {
            zen__fail(ctx, "zen_conv2d: %s must be %s, got {%d, %d}", what,
                      min > 0 ? "positive" : "non-negative", v[0], v[1]);
            return false;
        }
        out[i] = v[i] == 0 && dflt ? dflt : v[i];
    }
    return true;
}

zen_tensor *zen_conv2d(zen_ctx *ctx, zen_tensor *x, zen_tensor *w, zen_tensor *b, zen_conv2d_opts opts) {
    if (!x || !w) return NULL;
    char sx[128], sw[128], sb[128];
    if (!zen__check_f32(ctx, "zen_conv2d", "x", x) || !zen__check_f32(ctx, "zen_conv2d", "w", w)) return NULL;
    if (b && !zen__check_f32(ctx, "zen_conv2d", "b", b)) return NULL;
    if (x->ndim != 4)
        return zen__fail(ctx, "zen_conv2d: x must have 4 dims [N, C, H, W], got %s", zen_shape_str(x, sx, sizeof sx));
    if (w->ndim != 4)
        return zen__fail(ctx, "zen_conv2d: w must have 4 dims [OC, C/groups, KH, KW], got %s",
                         zen_shape_str(w, sw, sizeof sw));
    int64_t ip[7];
    if (!pair_opt(ctx, "stride", opts.stride, 1, 1, ip + IP_SH) ||
        !pair_opt(ctx, "padding", opts.padding, 0, 0, ip + IP_PH) ||
        !pair_opt(ctx, "dilation", opts.dilation, 1, 1, ip + IP_DH))
        return NULL;
    if (opts.groups < 0) return zen__fail(ctx, "zen_conv2d: groups must be positive, got %d", opts.groups);
    int64_t groups = opts.groups ? opts.groups : 1;
    ip[IP_GROUPS] = groups;
    int64_t C = x->shape[1], OC = w->shape[0], KH = w->shape[2], KW = w->shape[3];
    zen_shape_str(x, sx, sizeof sx);
    zen_shape_str(w, sw, sizeof sw);
    if (C % groups)
        return zen__fail(ctx, "zen_conv2d: input channels %lld (x %s) are not divisible by groups %lld",
                         (long long)C, sx, (long long)groups);
    if (OC % groups)
        return zen__fail(ctx, "zen_conv2d: output channels %lld (w %s) are not divisible by groups %lld",
                         (long long)OC, sw, (long long)groups);
    if (w->shape[1] != C / groups)
        return zen__fail(ctx,
                         "zen_conv2d: channel mismatch: w %s expects %lld input channels per group, "
                         "but x %s has %lld channels in %lld groups",
                         sw, (long long)w->shape[1], sx, (long long)C, (long long)groups);
    if (C == 0 || OC == 0 || KH == 0 || KW == 0)
        return zen__fail(ctx, "zen_conv2d: channels and kernel sizes must be positive: x %s, w %s", sx, sw);
    if (b && (b->ndim != 1 || b->shape[0] != OC))
        return zen__fail(ctx, "zen_conv2d: b must have shape [%lld], got %s", (long long)OC,
                         zen_shape_str(b, sb, sizeof sb));
    /* Torch's output size; a negative span means the (dilated) kernel does not fit. */
    int64_t span_h = x->shape[2] + 2 * ip[IP_PH] - ip[IP_DH] * (KH - 1) - 1;
    int64_t span_w = x->shape[3] + 2 * ip[IP_PW] - ip[IP_DW] * (KW - 1) - 1;
    if (span_h < 0 || span_w < 0)
        return zen__fail(ctx,
                         "zen_conv2d: output size is not positive: input %s with padding {%lld, %lld} is "
                         "smaller than the kernel %lldx%lld with dilation {%lld, %lld}",
                         sx, (long long)ip[IP_PH], (long long)ip[IP_PW], (long long)KH, (long long)KW,
                         (long long)ip[IP_DH], (long long)ip[IP_DW]);
    int64_t OH = span_h / ip[IP_SH] + 1, OW = span_w / ip[IP_SW] + 1;
    x = zen__dense(ctx, x);
    w = zen__dense(ctx, w);
    if (b) b = zen__dense(ctx, b);
    if (!x || !w) return NULL;
    zen_tensor *t = zen__node(ctx, ZEN_OP_CONV2D, ZEN_F32, 4, (int64_t[]){x->shape[0], OC, OH, OW}, x, w, b, NULL);
    if (t) memcpy(t->ip, ip, sizeof ip);
    return t;
}

/* ---- im2col / col2im ---- */

/* The range [lo, hi) of output columns ow whose input column ow*s + off lies in [0, W). */
static inline void valid_range(int64_t off, int64_t s, int64_t W, int64_t OW, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = W - 1 - off < 0 ? 0 : (W - 1 - off) / s + 1;
    if (h > OW) h = OW;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* col[C*KH*KW, (oh1-oh0)*OW] from x[C, H, W]: output rows [oh0, oh1) of one sample. */
/* (no memcpy calls for the short row copies: a call per 26-float row cost more than the copy) */
__attribute__((optimize("no-tree-loop-distribute-patterns"))) ZEN_TARGET_CLONES static void im2col_c(
    const float *restrict x, float *restrict col, const geom *gp, int64_t oh0, int64_t oh1) {
    const geom g = *gp;
    const int64_t np = (oh1 - oh0) * g.OW;
    for (int64_t c = 0; c < g.C; c++) {
        for (int64_t kh = 0; kh < g.KH; kh++) {
            for (int64_t kw = 0; kw < g.KW; kw++) {
                float *restrict dst = col + ((c * g.KH + kh) * g.KW + kw) * np;
                int64_t off = kw * g.dw - g.pw, lo, hi;
                valid_range(off, g.sw, g.W, g.OW, &lo, &hi);
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    float *restrict d = dst + (oh - oh0) * g.OW;
                    int64_t ih = oh * g.sh - g.ph + kh * g.dh;
                    if (ih < 0 || ih >= g.H) {
                        for (int64_t i = 0; i < g.OW; i++) d[i] = 0.0f;
                        continue;
                    }
                    for (int64_t i = 0; i < lo; i++) d[i] = 0.0f;
                    const float *restrict s = x + (c * g.H + ih) * g.W + lo * g.sw + off;
                    const int64_t n = hi - lo;
                    ZEN_STRIDED_ROW_LOOP(n, g.sw, { d[lo + i] = s[i * S_]; });
                    for (int64_t i = hi; i < g.OW; i++) d[i] = 0.0f;
                }
            }
        }
    }
}

/* dx[C, H, W] += col[C*KH*KW, (oh1-oh0)*OW] (output rows [oh0, oh1)) added back into the
 * positions im2col read. */
ZEN_TARGET_CLONES static void col2im(const float *restrict col, float *restrict dx, const geom *gp, int64_t oh0,
                                     int64_t oh1) {
    const geom g = *gp;
    const int64_t plane = g.H * g.W, np = (oh1 - oh0) * g.OW;
    for (int64_t c = 0; c < g.C; c++) {
        float *restrict xc = dx + c * plane;
        for (int64_t kh = 0; kh < g.KH; kh++) {
            for (int64_t kw = 0; kw < g.KW; kw++) {
                const float *restrict src = col + ((c * g.KH + kh) * g.KW + kw) * np;
                int64_t off = kw * g.dw - g.pw, lo, hi;
                valid_range(off, g.sw, g.W, g.OW, &lo, &hi);
                int64_t n = hi - lo;
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    int64_t ih = oh * g.sh - g.ph + kh * g.dh;
                    if (ih < 0 || ih >= g.H) continue;
                    const float *restrict s = src + (oh - oh0) * g.OW + lo;
                    float *restrict d = xc + ih * g.W + lo * g.sw + off;
                    ZEN_STRIDED_ROW_LOOP(n, g.sw, { d[i * S_] += s[i]; }); /* distinct targets: no conflicts */
                }
            }
        }
    }
}

/* y[OC, P] += bias[oc] */
ZEN_TARGET_CLONES static void add_bias(float *restrict y, const float *restrict bias, int64_t OC, int64_t P) {
    for (int64_t oc = 0; oc < OC; oc++) {
        const float v = bias[oc];
        float *restrict row = y + oc * P;
#pragma omp simd
        for (int64_t i = 0; i < P; i++) row[i] += v;
    }
}

/* o[i] += a[i] */
ZEN_TARGET_CLONES static void add_into(float *restrict o, const float *restrict a, int64_t n) {
#pragma omp simd
    for (int64_t i = 0; i < n; i++) o[i] += a[i];
}

/* ---- small reductions (Kg <= 16): AVX-512 kernels ----
 *
 * With few input taps per output (the MNIST layer: 1 channel x 3x3 = 9), an sgemm with
 * K = Kg spends its time packing and on edges. These kernels keep a 16-pixel slice of
 * the Kg column-matrix rows in registers and run every output channel over it:
 *     forward   y[oc, p] = b[oc] + sum_k w[oc, k] col[k, p]        (Kg FMAs per 16 outputs)
 *     dw        acc[oc, k, lane] += sum_p gy[oc, p] col[k, p]       (Kg accumulators per oc)
 * The dw accumulators are 16 lanes wide, kept per thread in scratch across samples and
 * summed (lanes, then threads) once at the end. Kg is a compile-time constant inside (a
 * switch over 1..16), so the column rows and accumulators stay in registers. */
#define SMALL_K 16

/* -1 (default): these kernels where the CPU has AVX-512; 0: the sgemm path (tests). */
int zen__conv_simd = -1;

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define ZEN_CONV_AVX512 1
#define AVX512 __attribute__((target("avx512f")))
#define INLINE_AVX512 __attribute__((target("avx512f"), always_inline)) static inline

static inline __mmask16 tail16(int64_t n) { return (__mmask16)(n >= 16 ? 0xFFFF : (1u << n) - 1); }

/* y[oc*ldy + p] = bias[oc] + sum_k w[oc*K + k] col[k*np + p], oc < OC, p < np.
 * PB (1 or 2) 16-pixel slices at a time, so each broadcast weight feeds PB FMAs. */
INLINE_AVX512 void smallk_fwd_k(const int K, const int PB, const float *restrict w, const float *restrict bias,
                                const float *restrict col, int64_t np, float *restrict y, int64_t ldy, int64_t OC) {
    for (int64_t p = 0; p < np; p += 16 * PB) {
        __mmask16 m[2];
        __m512 c[2][SMALL_K];
        for (int j = 0; j < PB; j++) {
            m[j] = p + 16 * j < np ? tail16(np - p - 16 * j) : 0;
            for (int k = 0; k < K; k++) c[j][k] = _mm512_maskz_loadu_ps(m[j], col + k * np + p + 16 * j);
        }
        for (int64_t oc = 0; oc < OC; oc++) {
            __m512 acc[2];
            for (int j = 0; j < PB; j++) acc[j] = _mm512_set1_ps(bias ? bias[oc] : 0.0f);
            for (int k = 0; k < K; k++) {
                __m512 wk = _mm512_set1_ps(w[oc * K + k]);
                for (int j = 0; j < PB; j++) acc[j] = _mm512_fmadd_ps(wk, c[j][k], acc[j]);
            }
            for (int j = 0; j < PB; j++) _mm512_mask_storeu_ps(y + oc * ldy + p + 16 * j, m[j], acc[j]);
        }
    }
}

/* acc[(oc*K + k)*16 + lane] += sum over p < np (lane = p % 16) of gy[oc*ldg + p] col[k*np + p].
 * OB (1..3) output channels at a time, so each column-matrix load feeds OB FMAs; their
 * OB*K accumulators stay in registers over the whole row. */
INLINE_AVX512 void smallk_dw_k(const int K, const int OB, const float *restrict gy, int64_t ldg,
                               const float *restrict col, int64_t np, float *restrict acc, int64_t OC) {
    for (int64_t oc0 = 0; oc0 < OC; oc0 += OB) {
        const int ob = OC - oc0 < OB ? (int)(OC - oc0) : OB;
        __m512 a[3][SMALL_K];
        for (int o = 0; o < OB; o++)
            for (int k = 0; k < K; k++) a[o][k] = o < ob ? _mm512_loadu_ps(acc + ((oc0 + o) * K + k) * 16) : _mm512_setzero_ps();
        const float *go = gy + oc0 * ldg;
        int64_t p = 0;
        for (; p + 16 <= np; p += 16) { /* whole slices: plain loads */
            __m512 g[3];
            for (int o = 0; o < OB; o++) g[o] = o < ob ? _mm512_loadu_ps(go + o * ldg + p) : _mm512_setzero_ps();
            for (int k = 0; k < K; k++) {
                __m512 c = _mm512_loadu_ps(col + k * np + p);
                __asm__("" : "+v"(c)); /* one load for the OB FMAs, not one folded into each */
                for (int o = 0; o < OB; o++) a[o][k] = _mm512_fmadd_ps(g[o], c, a[o][k]);
            }
        }
        if (p < np) { /* the tail */
            const __mmask16 m = tail16(np - p);
            __m512 g[3];
            for (int o = 0; o < OB; o++) g[o] = o < ob ? _mm512_maskz_loadu_ps(m, go + o * ldg + p) : _mm512_setzero_ps();
            for (int k = 0; k < K; k++) {
                __m512 c = _mm512_maskz_loadu_ps(m, col + k * np + p);
                for (int o = 0; o < OB; o++) a[o][k] = _mm512_fmadd_ps(g[o], c, a[o][k]);
            }
        }
        for (int o = 0; o < ob; o++)
            for (int k = 0; k < K; k++) _mm512_storeu_ps(acc + ((oc0 + o) * K + k) * 16, a[o][k]);
    }
}

/* im2col for stride 1 (the common case) with masked loads: a row of the column matrix is
 * a shifted row of x, copied 16 floats at a time with the edges zeroed by the load masks.
 * The stores are whole vectors (masked stores, and loads from them, are slow on Zen4): a
 * row's last vector runs into the next row, written after it (and at the very end, into
 * the cache line col_floats adds). */
AVX512 static void im2col_s1_avx512(const float *restrict x, float *restrict col, const geom *gp, int64_t oh0,
                                    int64_t oh1) {
    const geom g = *gp;
    const int64_t np = (oh1 - oh0) * g.OW, chunks = (g.OW + 15) / 16;
    __mmask16 in[256]; /* [kw][16-column chunk]: the lanes whose input column is in [0, W) */
    for (int64_t kw = 0; kw < g.KW; kw++) {
        const int64_t off = kw * g.dw - g.pw;
        for (int64_t i = 0; i < chunks; i++) {
            int64_t lo = -(off + 16 * i), hi = g.W - (off + 16 * i); /* lanes [lo, hi) */
            lo = lo < 0 ? 0 : lo, hi = hi > 16 ? 16 : hi;
            in[kw * chunks + i] = lo < hi ? (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1)) : 0;
        }
    }
    /* in memory order of col, so that each whole-vector overrun lands on a later row */
    for (int64_t c = 0; c < g.C; c++)
        for (int64_t kh = 0; kh < g.KH; kh++)
            for (int64_t kw = 0; kw < g.KW; kw++) {
                float *dst = col + ((c * g.KH + kh) * g.KW + kw) * np;
                const __mmask16 *m = in + kw * chunks;
                const int64_t off = kw * g.dw - g.pw; /* input column of output column 0 */
                for (int64_t oh = oh0; oh < oh1; oh++) {
                    float *d = dst + (oh - oh0) * g.OW;
                    const int64_t ih = oh - g.ph + kh * g.dh;
                    if (ih < 0 || ih >= g.H) {
                        for (int64_t i = 0; i < chunks; i++) _mm512_storeu_ps(d + 16 * i, _mm512_setzero_ps());
                        continue;
                    }
                    const float *s = x + (c * g.H + ih) * g.W + off;
                    for (int64_t i = 0; i < chunks; i++)
                        _mm512_storeu_ps(d + 16 * i, _mm512_maskz_loadu_ps(m[i], s + 16 * i));
                }
            }
}

#define SMALLK_CASES(CALL) \
    CALL(1) CALL(2) CALL(3) CALL(4) CALL(5) CALL(6) CALL(7) CALL(8) CALL(9) CALL(10) CALL(11) CALL(12) CALL(13) CALL(14) \
    CALL(15) CALL(16)

AVX512 static void smallk_fwd(int K, const float *w, const float *bias, const float *col, int64_t np, float *y,
                              int64_t ldy, int64_t OC) {
    switch (K) {
#define CASE(k) \
    case k: smallk_fwd_k(k, k <= 14 ? 2 : 1, w, bias, col, np, y, ldy, OC); break;
        SMALLK_CASES(CASE)
#undef CASE
    }
}

AVX512 static void smallk_dw(int K, const float *gy, int64_t ldg, const float *col, int64_t np, float *acc,
                             int64_t OC) {
    switch (K) {
#define CASE(k) \
    case k: smallk_dw_k(k, k <= 9 ? 3 : k <= 14 ? 2 : 1, gy, ldg, col, np, acc, OC); break;
        SMALLK_CASES(CASE)
#undef CASE
    }
}
#undef AVX512
#undef INLINE_AVX512
#endif

/* col from x for output rows [oh0, oh1): the AVX-512 copy for stride 1, else the loops. */
static void im2col(const float *x, float *col, const geom *g, int64_t oh0, int64_t oh1) {
#ifdef ZEN_CONV_AVX512
    const bool have = __builtin_cpu_supports("avx512f"); /* a load of libgcc's CPU model: no cache, no race */
    if (have && zen__conv_simd != 0 && g->sh == 1 && g->sw == 1 && g->KW * ((g->OW + 15) / 16) <= 256) {
        im2col_s1_avx512(x, col, g, oh0, oh1);
        return;
    }
#endif
    im2col_c(x, col, g, oh0, oh1);
}

static bool use_smallk(const geom *g) {
#ifdef ZEN_CONV_AVX512
    const bool have = __builtin_cpu_supports("avx512f"); /* a load of libgcc's CPU model: no cache, no race */
    return have && zen__conv_simd != 0 && g->Kg <= SMALL_K;
#else
    (void)g;
    return false;
#endif
}

/* ---- forward ---- */

static size_t conv2d_work(const zen_tensor *out, int nthreads) {
    const zen_tensor *x = out->src[0], *w = out->src[1];
    geom g = make_geom(x->shape, w->shape, out->shape[2], out->shape[3], out->ip);
    if (g.direct) return 0;
    return (size_t)batch_slots(nthreads, g.N) * (size_t)col_floats(&g) * sizeof(float);
}

/* y_n = conv(x_n), one sample, a chunk of output rows at a time; col is this thread's
 * column matrix. */
static void conv_sample(const geom *g, const float *xn, const float *W, const float *B, float *yn, float *col) {
#ifdef ZEN_CONV_AVX512
    if (use_smallk(g)) { /* the bias is added in the kernel */
        const int64_t rows = g->direct ? g->OH : g->rows; /* direct: x_n is the whole column matrix */
        for (int64_t oh0 = 0; oh0 < g->OH; oh0 += rows) {
            int64_t oh1 = oh0 + rows < g->OH ? oh0 + rows : g->OH, np = (oh1 - oh0) * g->OW;
            const float *cm = g->direct ? xn : col;
            if (!g->direct) im2col(xn, col, g, oh0, oh1);
            for (int64_t gr = 0; gr < g->groups; gr++)
                smallk_fwd((int)g->Kg, W + gr * g->OCg * g->Kg, B ? B + gr * g->OCg : NULL, cm + gr * g->Kg * np, np,
                           yn + gr * g->OCg * g->P + oh0 * g->OW, g->P, g->OCg);
        }
        return;
    }
#endif
    if (g->direct) {
        for (int64_t gr = 0; gr < g->groups; gr++)
            zen__sgemm(false, false, g->OCg, g->P, g->Kg, 1.0f, W + gr * g->OCg * g->Kg, g->Kg,
                       xn + gr * g->Kg * g->P, g->P, 0.0f, yn + gr * g->OCg * g->P, g->P);
    } else {
        for (int64_t oh0 = 0; oh0 < g->OH; oh0 += g->rows) {
            int64_t oh1 = oh0 + g->rows < g->OH ? oh0 + g->rows : g->OH, np = (oh1 - oh0) * g->OW;
            im2col(xn, col, g, oh0, oh1);
            for (int64_t gr = 0; gr < g->groups; gr++)
                zen__sgemm(false, false, g->OCg, np, g->Kg, 1.0f, W + gr * g->OCg * g->Kg, g->Kg,
                           col + gr * g->Kg * np, np, 0.0f, yn + gr * g->OCg * g->P + oh0 * g->OW, g->P);
        }
    }
    if (B) add_bias(yn, B, g->OC, g->P);
}

static void conv2d_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0], *w = out->src[1], *b = out->src[2];
    geom g = make_geom(x->shape, w->shape, out->shape[2], out->shape[3], out->ip);
    const float *X = x->data, *W = w->data, *B = b ? b->data : NULL;
    float *Y = out->data, *work = ex->work;
    const int64_t cf = col_floats(&g);
    int slots = batch_slots(zen__threads_for(ex, g.N * g.OC * g.P * g.Kg), g.N);
    if (slots == 1) {
        for (int64_t n = 0; n < g.N; n++)
            conv_sample(&g, X + n * g.C * g.H * g.W, W, B, Y + n * g.OC * g.P, work);
        return;
    }
#pragma omp parallel num_threads(slots)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        int64_t n0 = g.N * t / nth, n1 = g.N * (t + 1) / nth;
        for (int64_t n = n0; n < n1; n++)
            conv_sample(&g, X + n * g.C * g.H * g.W, W, B, Y + n * g.OC * g.P, work ? work + t * cf : NULL);
    }
}

/* ---- backward ---- */

static zen_tensor *back_node(zen_ctx *ctx, int op, const zen_tensor *like, zen_tensor *gy, zen_tensor *other,
                             const zen_tensor *conv) {
    zen_tensor *t = zen__node(ctx, op, ZEN_F32, 4, like->shape, gy, other, NULL, NULL);
    if (t) memcpy(t->ip, conv->ip, 7 * sizeof t->ip[0]);
    return t;
}

static void conv2d_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *x = out->src[0], *w = out->src[1], *b = out->src[2];
    zen_tensor *gy = zen__dense(ctx, out->grad);
    if (!gy) return;
    if (zen__needs_grad(x)) zen__accum_grad(ctx, x, back_node(ctx, ZEN_OP_CONV2D_BACK_INPUT, x, gy, w, out));
    if (zen__needs_grad(w)) zen__accum_grad(ctx, w, back_node(ctx, ZEN_OP_CONV2D_BACK_WEIGHT, w, gy, x, out));
    if (zen__needs_grad(b)) zen__accum_grad(ctx, b, zen_sum(ctx, gy, 3, (int[]){0, 2, 3}, false));
}

/* CONV2D_BACK_INPUT(gy, w) -> dx with x's shape. */
static size_t back_input_work(const zen_tensor *out, int nthreads) {
    const zen_tensor *gy = out->src[0], *w = out->src[1];
    geom g = make_geom(out->shape, w->shape, gy->shape[2], gy->shape[3], out->ip);
    if (g.direct) return 0;
    return (size_t)batch_slots(nthreads, g.N) * (size_t)col_floats(&g) * sizeof(float);
}

static void back_input_sample(const geom *g, const float *gyn, const float *W, float *dxn, float *col) {
    if (g->direct) {
        for (int64_t gr = 0; gr < g->groups; gr++)
            zen__sgemm(true, false, g->Kg, g->P, g->OCg, 1.0f, W + gr * g->OCg * g->Kg, g->Kg,
                       gyn + gr * g->OCg * g->P, g->P, 0.0f, dxn + gr * g->Kg * g->P, g->P);
        return;
    }
    memset(dxn, 0, (size_t)(g->C * g->H * g->W) * sizeof *dxn);
    for (int64_t oh0 = 0; oh0 < g->OH; oh0 += g->rows) {
        int64_t oh1 = oh0 + g->rows < g->OH ? oh0 + g->rows : g->OH, np = (oh1 - oh0) * g->OW;
        for (int64_t gr = 0; gr < g->groups; gr++)
            zen__sgemm(true, false, g->Kg, np, g->OCg, 1.0f, W + gr * g->OCg * g->Kg, g->Kg,
                       gyn + gr * g->OCg * g->P + oh0 * g->OW, g->P, 0.0f, col + gr * g->Kg * np, np);
        col2im(col, dxn, g, oh0, oh1);
    }
}

static void back_input_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *gy = out->src[0], *w = out->src[1];
    geom g = make_geom(out->shape, w->shape, gy->shape[2], gy->shape[3], out->ip);
    const float *GY = gy->data, *W = w->data;
    float *DX = out->data, *work = ex->work;
    const int64_t cf = col_floats(&g);
    int slots = batch_slots(zen__threads_for(ex, g.N * g.OC * g.P * g.Kg), g.N);
    if (slots == 1) {
        for (int64_t n = 0; n < g.N; n++)
            back_input_sample(&g, GY + n * g.OC * g.P, W, DX + n * g.C * g.H * g.W, work);
        return;
    }
#pragma omp parallel num_threads(slots)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        int64_t n0 = g.N * t / nth, n1 = g.N * (t + 1) / nth;
        for (int64_t n = n0; n < n1; n++)
            back_input_sample(&g, GY + n * g.OC * g.P, W, DX + n * g.C * g.H * g.W, work ? work + t * cf : NULL);
    }
}

/* CONV2D_BACK_WEIGHT(gy, x) -> dw with w's shape. With threads, each thread sums its
 * samples' contributions into its own accumulator, and the accumulators are added up.
 *
 * When Kg is small (the MNIST layer: 9), the sgemm with a narrow output
 * [OCg, Kg] = [OCg, P]·[P, Kg] is slow (oneDNN: 3x slower than the transposed product on
 * the MNIST layer); the accumulators then hold dwᵀ per group, [Kg, OCg] = col·gyᵀ, and are
 * transposed at the end. Otherwise thread 0 accumulates straight into dw. */
static bool weight_transposed(const geom *g) { return g->Kg <= 16; }

/* Floats of one thread's 16-lane dw accumulators (the small-K kernel). */
static int64_t acc16_floats(const geom *g) { return g->OC * g->Kg * 16; }

static size_t back_weight_work(const zen_tensor *out, int nthreads) {
    const zen_tensor *gy = out->src[0], *x = out->src[1];
    geom g = make_geom(x->shape, out->shape, gy->shape[2], gy->shape[3], out->ip);
    int slots = batch_slots(nthreads, g.N);
    if (use_smallk(&g))
        return (size_t)slots * (size_t)((g.direct ? 0 : col_floats(&g)) + acc16_floats(&g)) * sizeof(float);
    int64_t dwf = (zen_numel(out) + 15) / 16 * 16;
    int accs = weight_transposed(&g) ? slots : slots - 1;
    return ((size_t)(g.direct ? 0 : slots) * (size_t)col_floats(&g) + (size_t)accs * (size_t)dwf) * sizeof(float);
}

/* acc (+)= the contributions of samples [n0, n1); the first sample overwrites acc. */
static void back_weight_range(const geom *g, const float *GY, const float *X, float *acc, float *col, int64_t n0,
                              int64_t n1) {
    const bool tr = weight_transposed(g);
    if (n0 >= n1) {
        memset(acc, 0, (size_t)(g->OC * g->Kg) * sizeof *acc);
        return;
    }
    const int64_t rows = g->direct ? g->OH : g->rows;
    for (int64_t n = n0; n < n1; n++) {
        const float *xn = X + n * g->C * g->H * g->W, *gyn = GY + n * g->OC * g->P;
        for (int64_t oh0 = 0; oh0 < g->OH; oh0 += rows) {
            int64_t oh1 = oh0 + rows < g->OH ? oh0 + rows : g->OH, np = (oh1 - oh0) * g->OW;
            const float *cm = xn; /* direct: x_n is the whole column matrix */
            if (!g->direct) {
                im2col(xn, col, g, oh0, oh1);
                cm = col;
            }
            const float beta = n == n0 && oh0 == 0 ? 0.0f : 1.0f;
            for (int64_t gr = 0; gr < g->groups; gr++) {
                const float *gyg = gyn + gr * g->OCg * g->P + oh0 * g->OW, *cg = cm + gr * g->Kg * np;
                float *ag = acc + gr * g->OCg * g->Kg;
                if (tr)
                    zen__sgemm(false, true, g->Kg, g->OCg, np, 1.0f, cg, np, gyg, g->P, beta, ag, g->OCg);
                else
                    zen__sgemm(false, true, g->OCg, g->Kg, np, 1.0f, gyg, g->P, cg, np, beta, ag, g->Kg);
            }
        }
    }
}

/* dw = the sum of nacc transposed accumulators (each groups x [Kg, OCg]). */
static void sum_transposed(const geom *g, const float *acc, int64_t stride, int nacc, float *dw) {
    for (int64_t gr = 0; gr < g->groups; gr++)
        for (int64_t oc = 0; oc < g->OCg; oc++)
            for (int64_t k = 0; k < g->Kg; k++) {
                int64_t at = gr * g->OCg * g->Kg + k * g->OCg + oc;
                float s = acc[at];
                for (int t = 1; t < nacc; t++) s += acc[t * stride + at];
                dw[(gr * g->OCg + oc) * g->Kg + k] = s;
            }
}

#ifdef ZEN_CONV_AVX512
/* The small-K path: each thread's samples into its own 16-lane accumulators (zeroed
 * first), then dw = the sum over threads and lanes. */
static void back_weight_smallk(const geom *g, const float *GY, const float *X, float *DW, float *work, int slots) {
    const int64_t cf = g->direct ? 0 : col_floats(g), af = acc16_floats(g), rows = g->direct ? g->OH : g->rows;
    int used = slots;
#pragma omp parallel num_threads(slots) if (slots > 1)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        if (t == 0) used = nth;
        float *col = work + t * (cf + af), *acc = col + cf;
        memset(acc, 0, (size_t)af * sizeof *acc);
        for (int64_t n = g->N * t / nth; n < g->N * (t + 1) / nth; n++) {
            const float *xn = X + n * g->C * g->H * g->W, *gyn = GY + n * g->OC * g->P;
            for (int64_t oh0 = 0; oh0 < g->OH; oh0 += rows) {
                int64_t oh1 = oh0 + rows < g->OH ? oh0 + rows : g->OH, np = (oh1 - oh0) * g->OW;
                const float *cm = g->direct ? xn : col;
                if (!g->direct) im2col(xn, col, g, oh0, oh1);
                for (int64_t gr = 0; gr < g->groups; gr++)
                    smallk_dw((int)g->Kg, gyn + gr * g->OCg * g->P + oh0 * g->OW, g->P, cm + gr * g->Kg * np, np,
                              acc + gr * g->OCg * g->Kg * 16, g->OCg);
            }
        }
    }
    for (int64_t i = 0; i < g->OC * g->Kg; i++) {
        float s = 0.0f;
        for (int t = 0; t < used; t++) {
            const float *a = work + t * (cf + af) + cf + i * 16;
            for (int l = 0; l < 16; l++) s += a[l];
        }
        DW[i] = s;
    }
}
#endif

static void back_weight_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *gy = out->src[0], *x = out->src[1];
    geom g = make_geom(x->shape, out->shape, gy->shape[2], gy->shape[3], out->ip);
    const float *GY = gy->data, *X = x->data;
    float *DW = out->data, *work = ex->work;
#ifdef ZEN_CONV_AVX512
    if (use_smallk(&g)) {
        back_weight_smallk(&g, GY, X, DW, work, batch_slots(zen__threads_for(ex, g.N * g.OC * g.P * g.Kg), g.N));
        return;
    }
#endif
    const bool tr = weight_transposed(&g);
    const int64_t cf = g.direct ? 0 : col_floats(&g), dwn = g.OC * g.Kg, dwf = (dwn + 15) / 16 * 16;
    int slots = batch_slots(zen__threads_for(ex, g.N * g.OC * g.P * g.Kg), g.N);
    float *accs = work ? work + slots * cf : NULL; /* thread t's accumulator: accs + (tr ? t : t - 1) * dwf */
    if (slots == 1) {
        back_weight_range(&g, GY, X, tr ? accs : DW, work, 0, g.N);
        if (tr) sum_transposed(&g, accs, dwf, 1, DW);
        return;
    }
    int used = slots;
#pragma omp parallel num_threads(slots)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        if (t == 0) used = nth;
        int64_t n0 = g.N * t / nth, n1 = g.N * (t + 1) / nth;
        float *acc = tr ? accs + t * dwf : t == 0 ? DW : accs + (t - 1) * dwf;
        back_weight_range(&g, GY, X, acc, g.direct ? NULL : work + t * cf, n0, n1);
    }
    if (tr) sum_transposed(&g, accs, dwf, used, DW);
    else
        for (int t = 1; t < used; t++) add_into(DW, accs + (t - 1) * dwf, dwn);
}

/* ---- conv2d followed by a 2x2 max pool, in one node ----
 *
 * max_pool2d(conv2d(x, w, b)) and max_pool2d(relu(conv2d(x, w, b))) with a 2x2 stride-2
 * unpadded pool and a small reduction (C/groups*KH*KW <= 16, the kernels above): the
 * MNIST model's Conv2D -> MaxPooling2D. The pool's constructor asks for this node
 * (zen__conv2d_pool, conv.h). CONV2D_POOL(x, w, b) computes, one sample at a time, the
 * conv's output z_n into the thread's scratch (in L2) and pools it from there with the
 * pool's own kernel: the conv's full-batch output — 4x the pooled one, 86 MB at batch 1000
 * — is never written or read back.
 *
 * Nothing of z is kept for the backward, which recomputes it (a cheap conv: few taps).
 * When x needs no gradient (a first layer), CONV2D_POOL_BACK(gp, x, w, b) gives dw and db
 * (flat: dw, then db when there is a bias) in one pass: per sample, z_n again, dz_n by the
 * pool's backward kernel (bit for bit what max_pool2d_back computes; it also sums the
 * windows' gradients for db), then the small-K dw kernel over it. Otherwise the backward rebuilds the unfused chain
 * (a conv node recomputing z, max_pool2d_back, and the conv's own backward). The conv and
 * relu nodes the fused node replaced stay out of the graph unless something else reads
 * them (then they are computed as well).
 *
 * A dense copy of the pooled output permuted to channels-last — what Keras's Flatten
 * reads (zen__to_nhwc) — is the same node writing [N, OH, OW, C] (zen__conv2d_pool_nhwc,
 * asked for by zen_contiguous): each sample is pooled into scratch and transposed into
 * place while in L1, and its backward reads the gradient channels-last the same way; the
 * two full-batch transposed copies are not made. */
/* ip: the conv's 7, the pool's, whether the backward node computes db, whether the pooled
 * output (and so the gradient) is laid out channels-last: [N, OH, OW, C] */
enum { IP_POOL = 7, IP_HAS_BIAS = IP_POOL + ZEN_POOL_IPS, IP_NHWC };

static geom conv_pool_geom(const zen_tensor *x, const zen_tensor *w, const int64_t *ip) {
    int64_t OH = (x->shape[2] + 2 * ip[IP_PH] - ip[IP_DH] * (w->shape[2] - 1) - 1) / ip[IP_SH] + 1;
    int64_t OW = (x->shape[3] + 2 * ip[IP_PW] - ip[IP_DW] * (w->shape[3] - 1) - 1) / ip[IP_SW] + 1;
    return make_geom(x->shape, w->shape, OH, OW, ip);
}

zen_tensor *zen__conv2d_pool(zen_ctx *ctx, zen_tensor *conv, const int64_t *pool_ip) {
    if (!conv || conv->op != ZEN_OP_CONV2D || !zen__max_pool2d_is_2x2(pool_ip)) return NULL;
    geom g = make_geom(conv->src[0]->shape, conv->src[1]->shape, conv->shape[2], conv->shape[3], conv->ip);
    if (!use_smallk(&g) || g.OH < 2 || g.OW < 2) return NULL;
    int64_t shape[4] = {g.N, g.OC, g.OH / 2, g.OW / 2};
    zen_tensor *t = zen__node(ctx, ZEN_OP_CONV2D_POOL, ZEN_F32, 4, shape, conv->src[0], conv->src[1], conv->src[2], NULL);
    if (!t) return NULL;
    memcpy(t->ip, conv->ip, 7 * sizeof t->ip[0]);
    memcpy(t->ip + IP_POOL, pool_ip, ZEN_POOL_IPS * sizeof t->ip[0]);
    return t;
}

zen_tensor *zen__conv2d_pool_nhwc(zen_ctx *ctx, zen_tensor *pool) {
    if (!pool || pool->op != ZEN_OP_CONV2D_POOL || pool->ip[IP_NHWC]) return NULL;
    int64_t shape[4] = {pool->shape[0], pool->shape[2], pool->shape[3], pool->shape[1]};
    zen_tensor *t = zen__node(ctx, ZEN_OP_CONV2D_POOL, ZEN_F32, 4, shape, pool->src[0], pool->src[1], pool->src[2], NULL);
    if (!t) return NULL;
    memcpy(t->ip, pool->ip, sizeof t->ip);
    t->ip[IP_NHWC] = 1;
    return t;
}

/* Per thread: the column matrix, z_n and one pooled sample (then, for the backward, dz_n,
 * the 16-lane dw accumulators and the db sums). */
static int64_t pooled_floats(const geom *g) { return g->OC * (g->OH / 2) * (g->OW / 2); }
static int64_t conv_pool_slot(const geom *g) {
    return col_floats(g) + (g->OC * g->P + 15) / 16 * 16 + (pooled_floats(g) + 15) / 16 * 16;
}

static size_t conv_pool_work(const zen_tensor *out, int nthreads) {
    geom g = conv_pool_geom(out->src[0], out->src[1], out->ip);
    return (size_t)batch_slots(nthreads, g.N) * (size_t)conv_pool_slot(&g) * sizeof(float);
}

static void conv_pool_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0], *w = out->src[1], *b = out->src[2];
    geom g = conv_pool_geom(x, w, out->ip);
    const float *X = x->data, *W = w->data, *B = b ? b->data : NULL;
    float *Y = out->data, *work = ex->work;
    const int64_t slot = conv_pool_slot(&g), cf = col_floats(&g), ny = pooled_floats(&g), plane = ny / g.OC;
    const bool nhwc = out->ip[IP_NHWC] != 0;
    int slots = batch_slots(zen__threads_for(ex, g.N * g.OC * g.P * g.Kg), g.N);
#pragma omp parallel num_threads(slots) if (slots > 1)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        float *col = work + t * slot, *z = col + cf, *p = z + (g.OC * g.P + 15) / 16 * 16;
        for (int64_t n = g.N * t / nth; n < g.N * (t + 1) / nth; n++) {
            conv_sample(&g, X + n * g.C * g.H * g.W, W, B, z, col);
            zen__max_pool2d_planes(out->ip + IP_POOL, g.OC, g.OH, g.OW, z, nhwc ? p : Y + n * ny);
            if (nhwc) zen__transpose(Y + n * ny, g.OC, p, plane, plane, g.OC); /* [C, plane] -> [plane, C] */
        }
    }
}

static void conv_pool_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *x = out->src[0], *w = out->src[1], *b = out->src[2];
    zen_tensor *gp = zen__dense(ctx, out->grad);
    if (!gp) return;
    if (out->ip[IP_NHWC] && !(!zen__needs_grad(x) && zen__needs_grad(w))) /* the fallback reads NCHW */
        gp = zen__dense(ctx, zen_permute(ctx, gp, (int[]){0, 3, 1, 2}));
    if (!gp) return;
    if (!zen__needs_grad(x) && zen__needs_grad(w)) {
        geom g = conv_pool_geom(x, w, out->ip);
        bool with_b = zen__needs_grad(b);
        int64_t nw = zen_numel(w), n = nw + (with_b ? g.OC : 0);
        zen_tensor *t = zen__node(ctx, ZEN_OP_CONV2D_POOL_BACK, ZEN_F32, 1, &n, gp, x, w, b);
        if (!t) return;
        memcpy(t->ip, out->ip, sizeof t->ip);
        t->ip[IP_HAS_BIAS] = with_b;
        zen__accum_grad(ctx, w, zen_reshape(ctx, zen_slice(ctx, t, 0, 0, nw, 1), w->ndim, w->shape));
        if (with_b) zen__accum_grad(ctx, b, zen_slice(ctx, t, 0, nw, n, 1));
        return;
    }
    /* the unfused chain: z again, the pool's backward, then the conv's */
    zen_conv2d_opts o = {{(int)out->ip[IP_SH], (int)out->ip[IP_SW]}, {(int)out->ip[IP_PH], (int)out->ip[IP_PW]},
                         {(int)out->ip[IP_DH], (int)out->ip[IP_DW]}, (int)out->ip[IP_GROUPS]};
    zen_tensor *z = zen_conv2d(ctx, x, w, b, o);
    if (!z) return;
    z->grad = zen__max_pool2d_back_node(ctx, gp, z, out->ip + IP_POOL);
    if (z->grad) conv2d_backward(ctx, z);
}

static int64_t conv_pool_back_slot(const geom *g) {
    return conv_pool_slot(g) + g->OC * g->P + acc16_floats(g) + (g->OC + 15) / 16 * 16;
}

static size_t conv_pool_back_work(const zen_tensor *out, int nthreads) {
    geom g = conv_pool_geom(out->src[1], out->src[2], out->ip);
    return (size_t)batch_slots(nthreads, g.N) * (size_t)conv_pool_back_slot(&g) * sizeof(float);
}

static void conv_pool_back_forward(zen_tensor *out, zen_exec *ex) {
#ifdef ZEN_CONV_AVX512
    const zen_tensor *gp = out->src[0], *x = out->src[1], *w = out->src[2], *b = out->src[3];
    geom g = conv_pool_geom(x, w, out->ip);
    const float *GP = gp->data, *X = x->data, *W = w->data, *B = b ? b->data : NULL;
    float *DW = out->data, *work = ex->work;
    const bool with_b = out->ip[IP_HAS_BIAS] != 0;
    const int64_t slot = conv_pool_back_slot(&g), cf = col_floats(&g), zf = conv_pool_slot(&g) - cf;
    const int64_t af = acc16_floats(&g), nplane = pooled_floats(&g), plane = nplane / g.OC;
    const bool nhwc = out->ip[IP_NHWC] != 0;
    const int64_t rows = g.direct ? g.OH : g.rows;
    int slots = batch_slots(zen__threads_for(ex, g.N * g.OC * g.P * g.Kg), g.N), used = slots;
#pragma omp parallel num_threads(slots) if (slots > 1)
    {
        int t = omp_get_thread_num(), nth = omp_get_num_threads();
        float *col = work + t * slot, *z = col + cf, *p = z + (g.OC * g.P + 15) / 16 * 16, *dz = col + cf + zf;
        float *acc = dz + g.OC * g.P, *db = acc + af;
        memset(acc, 0, (size_t)(af + g.OC) * sizeof *acc);
        for (int64_t n = g.N * t / nth; n < g.N * (t + 1) / nth; n++) {
            const float *xn = X + n * g.C * g.H * g.W;
            conv_sample(&g, xn, W, B, z, col); /* leaves the (last) chunk's column matrix in col */
            const float *gpn = GP + n * nplane;
            if (nhwc) { /* [plane, C] -> [C, plane] in this thread's pooled-sample scratch */
                zen__transpose(p, plane, gpn, g.OC, g.OC, plane);
                gpn = p;
            }
            zen__max_pool2d_back_planes(out->ip + IP_POOL, g.OC, g.OH, g.OW, gpn, z, dz, with_b ? db : NULL);
            for (int64_t oh0 = 0; oh0 < g.OH; oh0 += rows) {
                int64_t oh1 = oh0 + rows < g.OH ? oh0 + rows : g.OH, np = (oh1 - oh0) * g.OW;
                const float *cm = g.direct ? xn : col;
                if (!g.direct && rows < g.OH) im2col(xn, col, &g, oh0, oh1); /* one chunk: still there */
                for (int64_t gr = 0; gr < g.groups; gr++)
                    smallk_dw((int)g.Kg, dz + gr * g.OCg * g.P + oh0 * g.OW, g.P, cm + gr * g.Kg * np, np,
                              acc + gr * g.OCg * g.Kg * 16, g.OCg);
            }
        }
    }
    const int64_t at = cf + zf + g.OC * g.P; /* the accumulators' place in a slot */
    for (int64_t i = 0; i < g.OC * g.Kg; i++) {
        float s = 0.0f;
        for (int t = 0; t < used; t++) {
            const float *a = work + t * slot + at + i * 16;
            for (int l = 0; l < 16; l++) s += a[l];
        }
        DW[i] = s;
    }
    if (with_b)
        for (int64_t oc = 0; oc < g.OC; oc++) {
            float s = 0.0f;
            for (int t = 0; t < used; t++) s += work[t * slot + at + af + oc];
            DW[g.OC * g.Kg + oc] = s;
        }
#else
    (void)out, (void)ex; /* not made: zen__conv2d_pool needs the AVX-512 kernels */
#endif
}

const zen_op_def zen_op_conv2d = {"conv2d", conv2d_forward, conv2d_backward, conv2d_work, false};
const zen_op_def zen_op_conv2d_back_input = {"conv2d_back_input", back_input_forward, NULL, back_input_work, false};
const zen_op_def zen_op_conv2d_back_weight = {"conv2d_back_weight", back_weight_forward, NULL, back_weight_work,
                                              false};
const zen_op_def zen_op_conv2d_pool = {"conv2d_pool", conv_pool_forward, conv_pool_backward, conv_pool_work, false};
const zen_op_def zen_op_conv2d_pool_back = {"conv2d_pool_back", conv_pool_back_forward, NULL, conv_pool_back_work,
                                            false};
