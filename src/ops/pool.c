/* pool.c — max and average pooling over H, W of NCHW tensors, as torch's max_pool2d and
 * avg_pool2d (ceil_mode=False, dilation 1; avg_pool2d counts padded zeros in the divisor,
 * count_include_pad=True), and global average pooling [N, C, H, W] -> [N, C] (a mean).
 *
 * Kernels work on one (n, c) plane at a time, planes shared out among threads. Within a
 * plane, one output row is computed for all its columns at once, one kernel tap (kh, kw)
 * after another, so the inner loops run along the row and vectorize (strided loads when
 * the stride is > 1).
 *
 * Max pooling pads with -inf; its gradient goes to the position of the window's maximum,
 * found again by the backward op with torch's rule: scanning the window row by row, a
 * value replaces the best so far when it is greater or NaN (so ties go to the first max).
 *
 * The common 2x2 window with stride 2 and no padding has its own kernels: the windows
 * tile the plane, so the backward writes every element of dx exactly once (no zeroing, no
 * scatter, no scratch) from the argmax it recomputes from x.
 *
 * max_pool2d(relu(z)) is computed as one node that pools z with the relu applied to each
 * value as it is read (ip[IP_RELU]); the relu node is left out of the graph (unless
 * something else reads it). The gradient is the composition's, bit for bit: the argmax of
 * relu(z) with torch's rule, and the relu derivative (z <= 0 ? 0 : 1, torch's, 1 at NaN)
 * at that position multiplied into dx. This saves the relu's full-size output and its
 * backward pass, which cost as much as the pooling itself on a conv layer's output. */
#include "../core/internal.h"
#include "conv.h"
#include "loops.h"
#include "pool.h"

#include <math.h>
#include <omp.h>

enum { IP_KH, IP_KW, IP_SH, IP_SW, IP_PH, IP_PW, IP_RELU }; /* ZEN_POOL_IPS of them */

/* The valid output columns of kernel column kw, [lo[kw], hi[kw]), are computed once per
 * kernel call for the first RANGE_CACHE kernel columns (integer divisions per row cost
 * more than the rows themselves on small images). */
#define RANGE_CACHE 32

typedef struct {
    int64_t H, W, OH, OW, KH, KW, sh, sw, ph, pw;
    int64_t lo[RANGE_CACHE], hi[RANGE_CACHE];
    float floor; /* values are read as max(v, floor): 0 for a fused relu, else -inf (no-op) */
    bool relu;
} pgeom;

static void valid_range(int64_t off, int64_t s, int64_t W, int64_t OW, int64_t *lo, int64_t *hi);

static pgeom make_pgeom(const zen_tensor *x, const zen_tensor *y, const int64_t *ip) {
    pgeom g = {x->shape[2], x->shape[3], y->shape[2], y->shape[3], ip[IP_KH], ip[IP_KW],
               ip[IP_SH],   ip[IP_SW],   ip[IP_PH],   ip[IP_PW],  {0},       {0},
               ip[IP_RELU] ? 0.0f : -INFINITY, ip[IP_RELU] != 0};
    for (int64_t kw = 0; kw < g.KW && kw < RANGE_CACHE; kw++)
        valid_range(kw - g.pw, g.sw, g.W, g.OW, &g.lo[kw], &g.hi[kw]);
    return g;
}

static inline void col_range(const pgeom *g, int64_t kw, int64_t *lo, int64_t *hi) {
    if (kw < RANGE_CACHE) {
        *lo = g->lo[kw];
        *hi = g->hi[kw];
    } else {
        valid_range(kw - g->pw, g->sw, g->W, g->OW, lo, hi);
    }
}

/* ---- constructors ---- */

static zen_tensor *pool(zen_ctx *ctx, int op, const char *fn, zen_tensor *x, zen_pool2d_opts o) {
    if (!x) return NULL;
    if (!zen__check_f32(ctx, fn, "x", x)) return NULL;
    char sx[128];
    zen_shape_str(x, sx, sizeof sx);
    if (x->ndim != 4) return zen__fail(ctx, "%s: x must have 4 dims [N, C, H, W], got %s", fn, sx);
    if (o.kernel[0] <= 0 || o.kernel[1] <= 0)
        return zen__fail(ctx, "%s: kernel must be positive, got {%d, %d}", fn, o.kernel[0], o.kernel[1]);
    if (o.stride[0] < 0 || o.stride[1] < 0)
        return zen__fail(ctx, "%s: stride must be positive (or 0 for the kernel size), got {%d, %d}", fn,
                         o.stride[0], o.stride[1]);
    if (o.padding[0] < 0 || o.padding[1] < 0)
        return zen__fail(ctx, "%s: padding must be non-negative, got {%d, %d}", fn, o.padding[0], o.padding[1]);
    if (o.padding[0] > o.kernel[0] / 2 || o.padding[1] > o.kernel[1] / 2)
        return zen__fail(ctx, "%s: padding {%d, %d} must be at most half the kernel {%d, %d}", fn, o.padding[0],
                         o.padding[1], o.kernel[0], o.kernel[1]);
    int64_t ip[7] = {o.kernel[0], o.kernel[1], o.stride[0] ? o.stride[0] : o.kernel[0],
                     o.stride[1] ? o.stride[1] : o.kernel[1], o.padding[0], o.padding[1], 0};
    int64_t span_h = x->shape[2] + 2 * ip[IP_PH] - ip[IP_KH], span_w = x->shape[3] + 2 * ip[IP_PW] - ip[IP_KW];
    if (span_h < 0 || span_w < 0)
        return zen__fail(ctx,
                         "%s: output size is not positive: input %s with padding {%lld, %lld} is smaller than "
                         "the kernel {%lld, %lld}",
                         fn, sx, (long long)ip[IP_PH], (long long)ip[IP_PW], (long long)ip[IP_KH],
                         (long long)ip[IP_KW]);
    bool relu = op == ZEN_OP_MAX_POOL2D && x->op == ZEN_OP_RELU; /* pool relu's input, relu on the fly */
    if (relu) x = x->src[0];
    x = zen__dense(ctx, x);
    if (!x) return NULL;
    int64_t shape[4] = {x->shape[0], x->shape[1], span_h / ip[IP_SH] + 1, span_w / ip[IP_SW] + 1};
    ip[IP_RELU] = relu;
    if (op == ZEN_OP_MAX_POOL2D) { /* conv2d -> (relu) -> this pool as one node, where conv.c can */
        zen_tensor *fused = zen__conv2d_pool(ctx, x, ip);
        if (fused || zen_ctx_error(ctx)) return fused;
    }
    zen_tensor *t = zen__node(ctx, op, ZEN_F32, 4, shape, x, NULL, NULL, NULL);
    if (t) memcpy(t->ip, ip, sizeof ip);
    return t;
}

zen_tensor *zen_max_pool2d(zen_ctx *ctx, zen_tensor *x, zen_pool2d_opts opts) {
    return pool(ctx, ZEN_OP_MAX_POOL2D, "zen_max_pool2d", x, opts);
}
zen_tensor *zen_avg_pool2d(zen_ctx *ctx, zen_tensor *x, zen_pool2d_opts opts) {
    return pool(ctx, ZEN_OP_AVG_POOL2D, "zen_avg_pool2d", x, opts);
}

zen_tensor *zen_global_avg_pool2d(zen_ctx *ctx, zen_tensor *x) {
    if (!x) return NULL;
    if (x->ndim != 4) {
        char sx[128];
        return zen__fail(ctx, "zen_global_avg_pool2d: x must have 4 dims [N, C, H, W], got %s",
                         zen_shape_str(x, sx, sizeof sx));
    }
    if (!zen__check_f32(ctx, "zen_global_avg_pool2d", "x", x)) return NULL;
    return zen_mean(ctx, x, 2, (int[]){2, 3}, false);
}

/* ---- plane kernels ---- */

/* The range [lo, hi) of output columns ow whose input column ow*s + off lies in [0, W). */
static void valid_range(int64_t off, int64_t s, int64_t W, int64_t OW, int64_t *lo, int64_t *hi) {
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = W - 1 - off < 0 ? 0 : (W - 1 - off) / s + 1;
    if (h > OW) h = OW;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

/* max(m, v), NaN when v is NaN; a NaN m stays (v > NaN is false): torch's max pooling.
 * Written as two selects rather than `v > m || v != v`, whose short-circuit turns the
 * scalar tail of short rows into unpredictable branches. */
static inline float max_nan(float m, float v) {
    float r = v > m ? v : m;
    return v != v ? v : r;
}

/* max(v, floor) as relu writes it for floor 0 (v < 0 ? 0 : v: NaN and -0 stay); with floor
 * -inf, v itself. */
static inline float floor_of(float v, float floor) { return v < floor ? floor : v; }
/* relu's derivative at z, as torch (and zen's relu backward): 0 for z <= 0, else 1 (NaN: 1). */
static inline float relu_d(float z) { return z <= 0.0f ? 0.0f : 1.0f; }

ZEN_TARGET_CLONES static void max_plane(const float *restrict x, float *restrict y, const pgeom *g) {
    for (int64_t oh = 0; oh < g->OH; oh++) {
        float *restrict o = y + oh * g->OW;
        for (int64_t i = 0; i < g->OW; i++) o[i] = -INFINITY;
        for (int64_t kh = 0; kh < g->KH; kh++) {
            int64_t ih = oh * g->sh - g->ph + kh;
            if (ih < 0 || ih >= g->H) continue;
            for (int64_t kw = 0; kw < g->KW; kw++) {
                int64_t off = kw - g->pw, lo, hi;
                col_range(g, kw, &lo, &hi);
                const float *restrict s = x + ih * g->W + lo * g->sw + off;
                float *restrict d = o + lo;
                const int64_t n = hi - lo;
                const float fl = g->floor;
                ZEN_STRIDED_ROW_LOOP(n, g->sw, { d[i] = max_nan(d[i], floor_of(s[i * S_], fl)); });
            }
        }
    }
}

/* dx plane from gy plane; best/idx: OW floats and ints of scratch. */
ZEN_TARGET_CLONES static void max_back_plane(const float *restrict x, const float *restrict gy, float *restrict dx,
                                             float *restrict best, int32_t *restrict idx, const pgeom *g) {
    for (int64_t i = 0; i < g->H * g->W; i++) dx[i] = 0.0f;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        int64_t ih0 = oh * g->sh - g->ph;
        int64_t first_row = ih0 < 0 ? 0 : ih0;
        for (int64_t ow = 0; ow < g->OW; ow++) {
            int64_t iw0 = ow * g->sw - g->pw;
            best[ow] = -INFINITY;
            idx[ow] = (int32_t)(first_row * g->W + (iw0 < 0 ? 0 : iw0)); /* torch's start index */
        }
        for (int64_t kh = 0; kh < g->KH; kh++) {
            int64_t ih = ih0 + kh;
            if (ih < 0 || ih >= g->H) continue;
            for (int64_t kw = 0; kw < g->KW; kw++) {
                int64_t off = kw - g->pw, lo, hi;
                col_range(g, kw, &lo, &hi);
                const float *restrict s = x + ih * g->W + lo * g->sw + off;
                const int64_t n = hi - lo;
                const int32_t base = (int32_t)(ih * g->W + lo * g->sw + off);
                const float fl = g->floor;
                ZEN_STRIDED_ROW_LOOP(n, g->sw, {
                    float v = floor_of(s[i * S_], fl), b = best[lo + i];
                    int32_t m = -(int32_t)((v > b) | (v != v)); /* all ones: take v */
                    best[lo + i] = max_nan(b, v);
                    idx[lo + i] = ((base + (int32_t)(i * S_)) & m) | (idx[lo + i] & ~m);
                });
            }
        }
        const float *restrict go = gy + oh * g->OW;
        for (int64_t ow = 0; ow < g->OW; ow++) dx[idx[ow]] += go[ow]; /* windows may overlap */
    }
    if (g->relu) /* then relu's backward, as the unfused graph computes it */
#pragma omp simd
        for (int64_t i = 0; i < g->H * g->W; i++) dx[i] *= relu_d(x[i]);
}

/* ---- 2x2 windows, stride 2, no padding ---- */

static bool is_2x2(const pgeom *g) {
    return g->KH == 2 && g->KW == 2 && g->sh == 2 && g->sw == 2 && g->ph == 0 && g->pw == 0;
}

/* The value of one window (a, b / c, d), already floored: max_nan in scan order. */
static inline float max4(float a, float b, float c, float d) { return max_nan(max_nan(max_nan(a, b), c), d); }

ZEN_TARGET_CLONES static void max2_plane(const float *restrict x, float *restrict y, const pgeom *g) {
    const int64_t W = g->W, OW = g->OW;
    const float fl = g->floor;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *restrict r0 = x + 2 * oh * W, *restrict r1 = r0 + W;
        float *restrict o = y + oh * OW;
#pragma omp simd
        for (int64_t i = 0; i < OW; i++)
            o[i] = max4(floor_of(r0[2 * i], fl), floor_of(r0[2 * i + 1], fl), floor_of(r1[2 * i], fl),
                        floor_of(r1[2 * i + 1], fl));
    }
}

/* dx plane (all of it) from gy plane: each window's gradient to its argmax (torch's rule),
 * 0 elsewhere, times relu's derivative there when relu is fused. The window adds its
 * gradient to a zero, as torch's scatter does (so a -0 gradient lands as +0). */
ZEN_TARGET_CLONES static void max2_back_plane(const float *restrict x, const float *restrict gy, float *restrict dx,
                                              const pgeom *g, float *gsum) {
    float total = 0.0f;
    const int64_t H = g->H, W = g->W, OW = g->OW;
    const float fl = g->floor, dead = g->relu ? 0.0f : 1.0f; /* the factor where z <= 0 */
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *restrict r0 = x + 2 * oh * W, *restrict r1 = r0 + W, *restrict go = gy + oh * OW;
        float *restrict d0 = dx + 2 * oh * W, *restrict d1 = d0 + W;
#pragma omp simd reduction(+ : total)
        for (int64_t i = 0; i < OW; i++) {
            float za = r0[2 * i], zb = r0[2 * i + 1], zc = r1[2 * i], zd = r1[2 * i + 1];
            float a = floor_of(za, fl), b = floor_of(zb, fl), c = floor_of(zc, fl), d = floor_of(zd, fl);
            int tb = (b > a) | (b != b);
            float best = tb ? b : a, z = tb ? zb : za;
            int tc = (c > best) | (c != c);
            best = tc ? c : best, z = tc ? zc : z;
            int td = (d > best) | (d != d);
            z = td ? zd : z;
            float gv = (0.0f + go[i]) * (z <= 0.0f ? dead : 1.0f);
            total += gv;
            d0[2 * i] = tb | tc | td ? 0.0f : gv;
            d0[2 * i + 1] = tb & !(tc | td) ? gv : 0.0f;
            d1[2 * i] = tc & !td ? gv : 0.0f;
            d1[2 * i + 1] = td ? gv : 0.0f;
        }
        if (W > 2 * OW) d0[W - 1] = d1[W - 1] = 0.0f; /* an odd last column is in no window */
    }
    for (int64_t i = 2 * g->OH * W; i < H * W; i++) dx[i] = 0.0f; /* nor an odd last row */
    if (gsum) *gsum += total;
}

/* The same two kernels in AVX-512, for the short rows of small images (13 outputs on the
 * MNIST layer), where the loops above run mostly in their scalar tails. A chunk of up to
 * 16 outputs of one row reads 32 columns of the two input rows with masked loads, splits
 * them into the window's four values with permutes, and writes masked; for the backward,
 * the four gradient vectors are interleaved back into the two dx rows. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define ZEN_POOL_AVX512 1
#define AVX512 __attribute__((target("avx512f")))

/* floor_of: x86 max returns its second operand unless the first is greater, so max(fl, v)
 * is v for NaN and for -0 with fl = 0, as relu keeps them. */
AVX512 static inline __m512 floor16(__m512 v, __m512 fl) { return _mm512_max_ps(fl, v); }
/* max_nan(m, v): max(v, m) is v when greater, else m (ties, and a NaN m, keep m); a NaN v
 * is taken with a blend. */
AVX512 static inline __m512 max_nan16(__m512 m, __m512 v) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), _mm512_max_ps(v, m), v);
}
/* t: where v replaces the best so far (greater, or NaN) */
AVX512 static inline __mmask16 takes16(__m512 v, __m512 best) {
    return _kor_mask16(_mm512_cmp_ps_mask(v, best, _CMP_GT_OQ), _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q));
}
/* Masks of the input columns [2*ow0, 2*ow0 + 2n) in the two 16-float halves. */
static inline void col_masks(int64_t n, __mmask16 *lo, __mmask16 *hi) {
    int64_t cols = 2 * n;
    *lo = (__mmask16)(cols >= 16 ? 0xFFFF : (1u << cols) - 1);
    *hi = (__mmask16)(cols >= 32 ? 0xFFFF : cols > 16 ? (1u << (cols - 16)) - 1 : 0);
}

AVX512 static void max2_plane_avx512(const float *restrict x, float *restrict y, const pgeom *g) {
    const int64_t W = g->W, OW = g->OW;
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    const __m512 fl = _mm512_set1_ps(g->floor);
    for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) { /* chunks of 16 outputs: one for OW <= 16 */
        int64_t n = OW - ow0 < 16 ? OW - ow0 : 16;
        __mmask16 mlo, mhi, mo = (__mmask16)((1u << n) - 1);
        col_masks(n, &mlo, &mhi);
        for (int64_t oh = 0; oh < g->OH; oh++) {
            const float *p0 = x + 2 * oh * W + 2 * ow0, *p1 = p0 + W;
            __m512 l0 = _mm512_maskz_loadu_ps(mlo, p0), h0 = _mm512_maskz_loadu_ps(mhi, p0 + 16);
            __m512 l1 = _mm512_maskz_loadu_ps(mlo, p1), h1 = _mm512_maskz_loadu_ps(mhi, p1 + 16);
            __m512 a = floor16(_mm512_permutex2var_ps(l0, ev, h0), fl);
            __m512 b = floor16(_mm512_permutex2var_ps(l0, od, h0), fl);
            __m512 c = floor16(_mm512_permutex2var_ps(l1, ev, h1), fl);
            __m512 d = floor16(_mm512_permutex2var_ps(l1, od, h1), fl);
            __m512 m = max_nan16(max_nan16(max_nan16(a, b), c), d);
            _mm512_mask_storeu_ps(y + oh * OW + ow0, mo, m);
        }
    }
}

AVX512 static void max2_back_plane_avx512(const float *restrict x, const float *restrict gy, float *restrict dx,
                                          const pgeom *g, float *gsum) {
    __m512 total = _mm512_setzero_ps();
    const int64_t H = g->H, W = g->W, OW = g->OW;
    const __m512i ev = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i od = _mm512_add_epi32(ev, _mm512_set1_epi32(1));
    const __m512i il_lo = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i il_hi = _mm512_add_epi32(il_lo, _mm512_set1_epi32(8));
    const __m512 fl = _mm512_set1_ps(g->floor), zero = _mm512_setzero_ps();
    const __m512 dead = _mm512_set1_ps(g->relu ? 0.0f : 1.0f), one = _mm512_set1_ps(1.0f);
    for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) { /* chunks of 16 outputs: one for OW <= 16 */
        int64_t n = OW - ow0 < 16 ? OW - ow0 : 16;
        __mmask16 mlo, mhi, mo = (__mmask16)((1u << n) - 1);
        col_masks(n, &mlo, &mhi);
        for (int64_t oh = 0; oh < g->OH; oh++) {
            const float *p0 = x + 2 * oh * W + 2 * ow0, *p1 = p0 + W;
            float *d0 = dx + 2 * oh * W, *d1 = d0 + W;
            __m512 l0 = _mm512_maskz_loadu_ps(mlo, p0), h0 = _mm512_maskz_loadu_ps(mhi, p0 + 16);
            __m512 l1 = _mm512_maskz_loadu_ps(mlo, p1), h1 = _mm512_maskz_loadu_ps(mhi, p1 + 16);
            __m512 za = _mm512_permutex2var_ps(l0, ev, h0), zb = _mm512_permutex2var_ps(l0, od, h0);
            __m512 zc = _mm512_permutex2var_ps(l1, ev, h1), zd = _mm512_permutex2var_ps(l1, od, h1);
            __m512 a = floor16(za, fl), b = floor16(zb, fl), c = floor16(zc, fl), d = floor16(zd, fl);
            __mmask16 tb = takes16(b, a);
            __m512 best = _mm512_mask_blend_ps(tb, a, b), z = _mm512_mask_blend_ps(tb, za, zb);
            __mmask16 tc = takes16(c, best);
            best = _mm512_mask_blend_ps(tc, best, c), z = _mm512_mask_blend_ps(tc, z, zc);
            __mmask16 td = takes16(d, best);
            z = _mm512_mask_blend_ps(td, z, zd);
            __m512 gv = _mm512_add_ps(zero, _mm512_maskz_loadu_ps(mo, gy + oh * OW + ow0));
            gv = _mm512_mul_ps(gv, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(z, zero, _CMP_LE_OQ), one, dead));
            total = _mm512_add_ps(total, gv); /* lanes past the row's end hold 0 */
            /* mask logic with the k-register instructions (plain C operators on __mmask16 go
             * through general registers and back, which costs more than the rest) */
            __mmask16 cd = _kor_mask16(tc, td);
            __m512 ga = _mm512_maskz_mov_ps(_knot_mask16(_kor_mask16(tb, cd)), gv);
            __m512 gb = _mm512_maskz_mov_ps(_kandn_mask16(cd, tb), gv);
            __m512 gc = _mm512_maskz_mov_ps(_kandn_mask16(td, tc), gv);
            __m512 gd = _mm512_maskz_mov_ps(td, gv);
            _mm512_mask_storeu_ps(d0 + 2 * ow0, mlo, _mm512_permutex2var_ps(ga, il_lo, gb));
            _mm512_mask_storeu_ps(d0 + 2 * ow0 + 16, mhi, _mm512_permutex2var_ps(ga, il_hi, gb));
            _mm512_mask_storeu_ps(d1 + 2 * ow0, mlo, _mm512_permutex2var_ps(gc, il_lo, gd));
            _mm512_mask_storeu_ps(d1 + 2 * ow0 + 16, mhi, _mm512_permutex2var_ps(gc, il_hi, gd));
        }
    }
    if (W > 2 * OW)
        for (int64_t r = 0; r < 2 * g->OH; r++) dx[r * W + W - 1] = 0.0f;
    for (int64_t i = 2 * g->OH * W; i < H * W; i++) dx[i] = 0.0f;
    if (gsum) *gsum += _mm512_reduce_add_ps(total);
}
#undef AVX512
#endif

/* Which 2x2 kernels run: -1 (the default) picks AVX-512 where the CPU has it, 0 forces the
 * portable loops (the tests run both and compare). */
int zen__pool_simd = -1;

static bool use_avx512(void) {
#ifdef ZEN_POOL_AVX512
    const bool have = __builtin_cpu_supports("avx512f"); /* a load of libgcc's CPU model: no cache, no race */
    return zen__pool_simd != 0 && have;
#else
    return false;
#endif
}

typedef void (*max2_fwd_fn)(const float *, float *, const pgeom *);
typedef void (*max2_back_fn)(const float *, const float *, float *, const pgeom *, float *);

static max2_fwd_fn max2_forward_kernel(void) {
#ifdef ZEN_POOL_AVX512
    if (use_avx512()) return max2_plane_avx512;
#endif
    return max2_plane;
}

static max2_back_fn max2_backward_kernel(void) {
#ifdef ZEN_POOL_AVX512
    if (use_avx512()) return max2_back_plane_avx512;
#endif
    return max2_back_plane;
}

ZEN_TARGET_CLONES static void avg_plane(const float *restrict x, float *restrict y, const pgeom *g) {
    const float div = (float)(g->KH * g->KW);
    for (int64_t oh = 0; oh < g->OH; oh++) {
        float *restrict o = y + oh * g->OW;
        for (int64_t i = 0; i < g->OW; i++) o[i] = 0.0f;
        for (int64_t kh = 0; kh < g->KH; kh++) {
            int64_t ih = oh * g->sh - g->ph + kh;
            if (ih < 0 || ih >= g->H) continue;
            for (int64_t kw = 0; kw < g->KW; kw++) {
                int64_t off = kw - g->pw, lo, hi;
                col_range(g, kw, &lo, &hi);
                const float *restrict s = x + ih * g->W + lo * g->sw + off;
                float *restrict d = o + lo;
                const int64_t n = hi - lo;
                ZEN_STRIDED_ROW_LOOP(n, g->sw, { d[i] += s[i * S_]; });
            }
        }
#pragma omp simd
        for (int64_t i = 0; i < g->OW; i++) o[i] /= div;
    }
}

ZEN_TARGET_CLONES static void avg_back_plane(const float *restrict gy, float *restrict dx, const pgeom *g) {
    const float div = (float)(g->KH * g->KW);
    for (int64_t i = 0; i < g->H * g->W; i++) dx[i] = 0.0f;
    for (int64_t oh = 0; oh < g->OH; oh++) {
        const float *restrict go = gy + oh * g->OW;
        for (int64_t kh = 0; kh < g->KH; kh++) {
            int64_t ih = oh * g->sh - g->ph + kh;
            if (ih < 0 || ih >= g->H) continue;
            for (int64_t kw = 0; kw < g->KW; kw++) {
                int64_t off = kw - g->pw, lo, hi;
                col_range(g, kw, &lo, &hi);
                float *restrict d = dx + ih * g->W + lo * g->sw + off;
                const float *restrict s = go + lo;
                const int64_t n = hi - lo;
                ZEN_STRIDED_ROW_LOOP(n, g->sw, { d[i * S_] += s[i] / div; }); /* distinct targets: no conflicts */
            }
        }
    }
}

/* ---- for conv.c (pool.h) ---- */

bool zen__max_pool2d_is_2x2(const int64_t *ip) {
    return ip[IP_KH] == 2 && ip[IP_KW] == 2 && ip[IP_SH] == 2 && ip[IP_SW] == 2 && ip[IP_PH] == 0 && ip[IP_PW] == 0;
}

void zen__max_pool2d_planes(const int64_t *ip, int64_t C, int64_t H, int64_t W, const float *x, float *y) {
    pgeom g = {H, W, H / 2, W / 2, 2, 2, 2, 2, 0, 0, {0}, {0}, ip[IP_RELU] ? 0.0f : -INFINITY, ip[IP_RELU] != 0};
    max2_fwd_fn plane = max2_forward_kernel();
    for (int64_t c = 0; c < C; c++) plane(x + c * H * W, y + c * g.OH * g.OW, &g);
}

zen_tensor *zen__max_pool2d_back_node(zen_ctx *ctx, zen_tensor *gp, zen_tensor *x, const int64_t *ip) {
    zen_tensor *t = zen__node(ctx, ZEN_OP_MAX_POOL2D_BACK, ZEN_F32, 4, x->shape, gp, x, NULL, NULL);
    if (t) memcpy(t->ip, ip, ZEN_POOL_IPS * sizeof t->ip[0]);
    return t;
}

void zen__max_pool2d_back_planes(const int64_t *ip, int64_t C, int64_t H, int64_t W, const float *gp,
                                 const float *x, float *dx, float *gsum) {
    pgeom g = {H, W, H / 2, W / 2, 2, 2, 2, 2, 0, 0, {0}, {0}, ip[IP_RELU] ? 0.0f : -INFINITY, ip[IP_RELU] != 0};
    max2_back_fn plane = max2_backward_kernel();
    for (int64_t c = 0; c < C; c++) plane(x + c * H * W, gp + c * g.OH * g.OW, dx + c * H * W, &g, gsum ? gsum + c : NULL);
}

/* ---- kernels ---- */

static int64_t planes_of(const zen_tensor *t) { return t->shape[0] * t->shape[1]; }

static void max_pool2d_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0];
    pgeom g = make_pgeom(x, out, out->ip);
    const float *X = x->data;
    float *Y = out->data;
    int64_t planes = planes_of(x);
    int nt = zen__threads_for(ex, zen_numel(out) * g.KH * g.KW);
    max2_fwd_fn plane = is_2x2(&g) ? max2_forward_kernel() : max_plane;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t p = 0; p < planes; p++) plane(X + p * g.H * g.W, Y + p * g.OH * g.OW, &g);
}

static void avg_pool2d_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0];
    pgeom g = make_pgeom(x, out, out->ip);
    const float *X = x->data;
    float *Y = out->data;
    int64_t planes = planes_of(x);
    int nt = zen__threads_for(ex, zen_numel(out) * g.KH * g.KW);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t p = 0; p < planes; p++) avg_plane(X + p * g.H * g.W, Y + p * g.OH * g.OW, &g);
}

/* MAX_POOL2D_BACK(gy, x) and AVG_POOL2D_BACK(gy, x) -> dx; ip as the forward's. */
static void pool_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *x = out->src[0];
    zen_tensor *gy = zen__dense(ctx, out->grad);
    if (!gy) return;
    int op = out->op == ZEN_OP_MAX_POOL2D ? ZEN_OP_MAX_POOL2D_BACK : ZEN_OP_AVG_POOL2D_BACK;
    zen_tensor *t = zen__node(ctx, op, ZEN_F32, 4, x->shape, gy, op == ZEN_OP_MAX_POOL2D_BACK ? x : NULL, NULL, NULL);
    if (!t) return;
    memcpy(t->ip, out->ip, ZEN_POOL_IPS * sizeof t->ip[0]);
    zen__accum_grad(ctx, x, t);
}

/* Scratch per thread: OW best values and OW indices, each rounded to a cache line. */
static size_t max_back_slot(int64_t OW) { return 2 * (((size_t)OW * 4 + ZEN_ALIGN - 1) / ZEN_ALIGN * ZEN_ALIGN); }

static size_t max_pool2d_back_work(const zen_tensor *out, int nthreads) {
    return (size_t)(nthreads > 1 ? nthreads : 1) * max_back_slot(out->src[0]->shape[3]);
}

static void max_pool2d_back_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *gy = out->src[0], *x = out->src[1];
    pgeom g = make_pgeom(x, gy, out->ip);
    const float *X = x->data, *GY = gy->data;
    float *DX = out->data;
    int64_t planes = planes_of(x);
    int nt = zen__threads_for(ex, zen_numel(gy) * g.KH * g.KW);
    if (is_2x2(&g)) {
        max2_back_fn plane = max2_backward_kernel();
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t p = 0; p < planes; p++)
            plane(X + p * g.H * g.W, GY + p * g.OH * g.OW, DX + p * g.H * g.W, &g, NULL);
        return;
    }
    size_t slot = max_back_slot(g.OW);
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        char *mine = (char *)ex->work + (size_t)omp_get_thread_num() * slot;
        float *best = (float *)mine;
        int32_t *idx = (int32_t *)(mine + slot / 2);
#pragma omp for schedule(static)
        for (int64_t p = 0; p < planes; p++)
            max_back_plane(X + p * g.H * g.W, GY + p * g.OH * g.OW, DX + p * g.H * g.W, best, idx, &g);
    }
}

static void avg_pool2d_back_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *gy = out->src[0];
    pgeom g = make_pgeom(out, gy, out->ip);
    const float *GY = gy->data;
    float *DX = out->data;
    int64_t planes = planes_of(out);
    int nt = zen__threads_for(ex, zen_numel(gy) * g.KH * g.KW);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t p = 0; p < planes; p++) avg_back_plane(GY + p * g.OH * g.OW, DX + p * g.H * g.W, &g);
}

const zen_op_def zen_op_max_pool2d = {"max_pool2d", max_pool2d_forward, pool_backward, NULL, false};
const zen_op_def zen_op_max_pool2d_back = {"max_pool2d_back", max_pool2d_back_forward, NULL, max_pool2d_back_work,
                                           false};
const zen_op_def zen_op_avg_pool2d = {"avg_pool2d", avg_pool2d_forward, pool_backward, NULL, false};
const zen_op_def zen_op_avg_pool2d_back = {"avg_pool2d_back", avg_pool2d_back_forward, NULL, NULL, false};
