/* vmath.h — float exp, expm1, log, log1p, tanh, sigmoid, erf, erfc, and the normal CDF
 * and density, written for auto-vectorization.
 *
 * Every function is branch-free straight-line code on floats and their bit patterns (no
 * libm calls, no tables, no float-to-int conversions), always inlined, so a loop under
 * `#pragma omp simd` inside a ZEN_TARGET_CLONES function becomes AVX-512/AVX2/SSE2 code
 * with blends instead of branches (this needs -fno-trapping-math, set in CMakeLists.txt:
 * otherwise GCC will not execute the float arithmetic of both arms of a select).
 * Polynomials are in Horner form; GCC contracts them into FMAs where the clone has FMA
 * (gnu11 defaults to -ffp-contract=fast), which only improves them.
 *
 * Accuracy, measured by tests/ops/test_vmath.c against double libm over every 1543rd float
 * (and every 37th once), ±0, ±inf, NaN, overflow/underflow edges, on all three ISA paths:
 *
 *   exp 1.0 ulp, expm1 1.5, log 0.8, log1p 1.5   (relative error <= 1.4e-7 where the
 *                                                 result is normal; subnormal results
 *                                                 within one subnormal ulp)
 *   tanh 2.5 ulp, sigmoid 2.7, erf 1.6,          (absolute error <= 1.5e-7 everywhere)
 *   erfc 4.6, ndtr 5.2, npdf 2.0
 *
 * The ulp figures hold over the whole range, tails included: sigmoid(-80), erfc(9) and
 * ndtr(-12) keep their digits (their exponentials take -x^2 in two parts).
 *
 * Special values follow C99 Annex F: exp(-inf) = 0, exp(+inf) = +inf, log(±0) = -inf,
 * log(x < 0) = NaN, tanh(±inf) = ±1, erf(±inf) = ±1, sigmoid(+inf) = 1, sigmoid(-inf) = 0,
 * NaN in NaN out, signs of zero kept (expm1, log1p, tanh, erf); results that overflow are
 * +inf and those that underflow are 0 or subnormal.
 *
 * Coefficients: exp/expm1 and log use Cephes' single-precision minimax polynomials
 * (S. L. Moshier); erf (small |x|) and erfc (large |x|) are minimax fits made for zen by
 * tools/vmath_fit.py. */
#ifndef ZEN_VMATH_H
#define ZEN_VMATH_H

#include <stdint.h>

#define ZEN_VM_INLINE static inline __attribute__((always_inline))

ZEN_VM_INLINE uint32_t zen_vm__bits(float f) {
    union {
        float f;
        uint32_t u;
    } v = {.f = f};
    return v.u;
}
ZEN_VM_INLINE float zen_vm__float(uint32_t u) {
    union {
        uint32_t u;
        float f;
    } v = {.u = u};
    return v.f;
}
ZEN_VM_INLINE float zen_vm__abs(float x) { return zen_vm__float(zen_vm__bits(x) & 0x7fffffffu); }
/* |mag| with the sign of s */
ZEN_VM_INLINE float zen_vm__copysign(float mag, float s) {
    return zen_vm__float((zen_vm__bits(mag) & 0x7fffffffu) | (zen_vm__bits(s) & 0x80000000u));
}
/* x with the low 12 bits of its significand cleared: x_hi * x_hi is exact. */
ZEN_VM_INLINE float zen_vm__hi12(float x) { return zen_vm__float(zen_vm__bits(x) & 0xfffff000u); }

#define ZEN_VM_INF (__builtin_inff())
#define ZEN_VM_LOG2E 1.44269504088896341f
#define ZEN_VM_LN2_HI 0.693359375f     /* 9 significant bits: n * LN2_HI is exact */
#define ZEN_VM_LN2_LO -2.12194440e-4f  /* ln 2 - LN2_HI */
#define ZEN_VM_ROUND 12582912.0f       /* 0x1.8p23: adding it rounds to an integer */

/* Cody-Waite reduction: x = n ln2 + r with |r| <= ln2/2 (plus the rounding of n). n is
 * returned as a float and as the integer held in the low bits of t = x log2e + 0x1.8p23
 * (valid for |x| < 2^21), which avoids a float-to-int conversion. */
#define ZEN_VM__REDUCE(x, n, ni, r)                                                        \
    float t_ = (x) * ZEN_VM_LOG2E + ZEN_VM_ROUND;                                         \
    float n = t_ - ZEN_VM_ROUND;                                                           \
    uint32_t ni = zen_vm__bits(t_) - 0x4b400000u; /* n as two's complement */             \
    float r = (x) - n * ZEN_VM_LN2_HI;                                                     \
    r = r - n * ZEN_VM_LN2_LO

/* expm1(r) for |r| <= ~0.35 (Cephes expf): r + r^2 P(r). */
ZEN_VM_INLINE float zen_vm__expm1_poly(float r) {
    float p = 1.9875691500e-4f;
    p = p * r + 1.3981999507e-3f;
    p = p * r + 8.3334519073e-3f;
    p = p * r + 4.1665795894e-2f;
    p = p * r + 1.6666665459e-1f;
    p = p * r + 5.0000001201e-1f;
    return r + (r * r) * p;
}

/* (1 + q) * 2^n for n in [-152, 131], in two steps so that neither scale overflows and
 * a subnormal result is rounded once. */
ZEN_VM_INLINE float zen_vm__scale(float m, uint32_t ni) {
    uint32_t n1 = (uint32_t)((int32_t)ni >> 1); /* floor(n/2) */
    uint32_t n2 = ni - n1;
    return m * zen_vm__float((n1 + 127u) << 23) * zen_vm__float((n2 + 127u) << 23);
}

/* e^x. */
ZEN_VM_INLINE float zen_vm_exp(float x) {
    x = x < -104.0f ? -104.0f : x; /* e^-104 < 2^-150 rounds to 0; NaN passes */
    x = x > 89.0f ? 89.0f : x;     /* e^89 > FLT_MAX overflows to inf */
    ZEN_VM__REDUCE(x, n, ni, r);
    return zen_vm__scale(1.0f + zen_vm__expm1_poly(r), ni);
}

/* e^(hi + lo) for |lo| <= 4, keeping the bits of lo that hi + lo would round away.
 * Used where the argument is -a^2 computed in two parts (erfc, the normal density).
 * No clamping: hi must lie in [-170, 88] (callers clamp a first). A clamp here would
 * make GCC thread the constant-bound paths and evaluate this function three times. */
ZEN_VM_INLINE float zen_vm__exp2(float hi, float lo) {
    float x = hi + lo;
    float t_ = x * ZEN_VM_LOG2E + ZEN_VM_ROUND;
    float n = t_ - ZEN_VM_ROUND;
    uint32_t ni = zen_vm__bits(t_) - 0x4b400000u;
    float r = hi - n * ZEN_VM_LN2_HI; /* exact when hi and n ln2 are within a factor 2 */
    r = r + lo;
    r = r - n * ZEN_VM_LN2_LO;
    return zen_vm__scale(1.0f + zen_vm__expm1_poly(r), ni);
}

/* e^x - 1, accurate near 0: 2^n q + (2^n - 1) evaluated as 2 (s q + (s - 1/2)) with
 * s = 2^(n-1), so that s stays a normal float for every n in [-115, 128]. */
ZEN_VM_INLINE float zen_vm_expm1(float x) {
    x = x < -80.0f ? -80.0f : x; /* e^-80 - 1 rounds to -1 */
    x = x > 89.0f ? 89.0f : x;
    ZEN_VM__REDUCE(x, n, ni, r);
    float q = zen_vm__expm1_poly(r);
    float s = zen_vm__float((ni + 126u) << 23);
    float y = 2.0f * (s * q + (s - 0.5f));
    return zen_vm__abs(x) < 0x1p-60f ? x : y; /* s q would round away subnormal bits */
}

/* log(1 + f) - f + f^2/2 core for f in [sqrt(1/2) - 1, sqrt(2) - 1] (Cephes logf). */
ZEN_VM_INLINE float zen_vm__log1p_core(float f, float k) {
    float z = f * f;
    float p = 7.0376836292e-2f;
    p = p * f - 1.1514610310e-1f;
    p = p * f + 1.1676998740e-1f;
    p = p * f - 1.2420140846e-1f;
    p = p * f + 1.4249322787e-1f;
    p = p * f - 1.6668057665e-1f;
    p = p * f + 2.0000714765e-1f;
    p = p * f - 2.4999993993e-1f;
    p = p * f + 3.3333331174e-1f;
    float y = p * f * z;
    y = y + k * ZEN_VM_LN2_LO;
    y = y - 0.5f * z;
    return (f + y) + k * ZEN_VM_LN2_HI;
}

/* Natural logarithm. */
ZEN_VM_INLINE float zen_vm_log(float x) {
    /* subnormals: scale by 2^23 first */
    int sub = x < 1.17549435e-38f;
    float xs = x * (sub ? 8388608.0f : 1.0f);
    /* x = 2^k m with m in [sqrt(1/2), sqrt(2)) */
    uint32_t ix = zen_vm__bits(xs) - 0x3f3504f3u;
    float k = (float)((int32_t)ix >> 23) - (sub ? 23.0f : 0.0f);
    float m = zen_vm__float((ix & 0x007fffffu) + 0x3f3504f3u);
    float y = zen_vm__log1p_core(m - 1.0f, k);
    y = x < 0.0f ? __builtin_nanf("") : y;
    y = x == 0.0f ? -ZEN_VM_INF : y;
    return x < ZEN_VM_INF ? y : x; /* +inf and NaN pass through */
}

/* log(1 + u): the rounding error c of w = 1 + u (exact by Fast2Sum) corrects log(w) by
 * c / w. */
ZEN_VM_INLINE float zen_vm_log1p(float u) {
    float w = 1.0f + u;
    float c = u > 1.0f ? 1.0f - (w - u) : u - (w - 1.0f);
    float l = zen_vm_log(w);
    float y = l + c / w;
    y = zen_vm__abs(u) < 0x1p-30f ? u : y;     /* tiny u (and -0) exactly */
    return w > 0.0f && w < ZEN_VM_INF ? y : l; /* u <= -1, +inf, NaN: log(w) */
}

/* The logistic function 1 / (1 + e^-x) in parts, from e = e^-|x| and inv = 1 / (1 + e):
 * sigmoid(|x|) = inv, sigmoid(-|x|) = e inv, sigmoid'(x) = e inv^2. No cancellation
 * anywhere, so both tails keep full relative accuracy. */
ZEN_VM_INLINE float zen_vm__sigmoid_parts(float x, float *e, float *inv) {
    *e = zen_vm_exp(-zen_vm__abs(x));
    *inv = 1.0f / (1.0f + *e);
    return x >= 0.0f ? *inv : *e * *inv;
}

ZEN_VM_INLINE float zen_vm_sigmoid(float x) {
    float e, inv;
    return zen_vm__sigmoid_parts(x, &e, &inv);
}

/* tanh(x) = -expm1(-2|x|) / (2 + expm1(-2|x|)) with the sign of x: one formula, accurate
 * to a few ulp from subnormals to saturation (expm1 -> -1 gives exactly 1). */
ZEN_VM_INLINE float zen_vm_tanh(float x) {
    float em = zen_vm_expm1(-2.0f * zen_vm__abs(x));
    return zen_vm__copysign(-em / (2.0f + em), x);
}

/* erfc(a) e^(a^2) for a >= 0.875, as t Q(t) with t = 1 / (1 + a/2) and Q a relative
 * minimax fit on [0.875, 10.25] (error 2e-8). Multiplied by e^(-a^2) it gives erfc(a);
 * the same e^(-x^2/2) is the normal density, so gelu's derivative needs one exp. */
ZEN_VM_INLINE float zen_vm__erfcx_big(float a) {
    float t = 1.0f / (1.0f + 0.5f * a);
    float q = 8.773469307e-02f;
    q = q * t - 2.100976402e-01f;
    q = q * t + 6.362082899e-02f;
    q = q * t + 7.278416216e-02f;
    q = q * t + 1.745224945e-01f;
    q = q * t + 2.478513192e-01f;
    q = q * t + 2.819409591e-01f;
    q = q * t + 2.821029128e-01f;
    return t * q;
}

/* erf(x) - x for |x| <= 0.875, as x Q(x^2) (relative fit error 9e-9). */
ZEN_VM_INLINE float zen_vm__erf_small(float x) {
    float z = x * x;
    float q = -6.203194478e-04f;
    q = q * z + 5.032170868e-03f;
    q = q * z - 2.679145681e-02f;
    q = q * z + 1.128245518e-01f;
    q = q * z - 3.761255045e-01f;
    q = q * z + 1.283791575e-01f;
    return x * q;
}

#define ZEN_VM_ERF_SPLIT 0.875f
#define ZEN_VM_ERF_MAX 10.25f /* erfc(10.25) < 2^-150 */

/* e^(-x^2) with x^2 split exactly (x_hi^2 + x_lo (x + x_hi)), so that the rounding of x^2
 * (up to 4e-6 relative at x = 9) never reaches the result. scale: 1 or 1/2 (exact). */
ZEN_VM_INLINE float zen_vm__exp_negsq(float x, float scale) {
    float xh = zen_vm__hi12(x), xl = x - xh;
    return zen_vm__exp2(-scale * (xh * xh), -scale * (xl * (x + xh)));
}

/* erfc(|x|) for the big branch */
ZEN_VM_INLINE float zen_vm__erfc_abs(float x) {
    float a = zen_vm__abs(x);
    a = a > ZEN_VM_ERF_MAX ? ZEN_VM_ERF_MAX : a; /* NaN passes */
    return zen_vm__erfcx_big(a) * zen_vm__exp_negsq(a, 1.0f);
}

ZEN_VM_INLINE float zen_vm_erf(float x) {
    float small = x + zen_vm__erf_small(x);
    float big = zen_vm__copysign(1.0f - zen_vm__erfc_abs(x), x);
    return zen_vm__abs(x) < ZEN_VM_ERF_SPLIT ? small : big;
}

/* erfc(x) = 1 - erf(x), without cancellation for large x. */
ZEN_VM_INLINE float zen_vm_erfc(float x) {
    float small = 1.0f - (x + zen_vm__erf_small(x));
    float c = zen_vm__erfc_abs(x);
    float big = x > 0.0f ? c : 2.0f - c;
    return zen_vm__abs(x) < ZEN_VM_ERF_SPLIT ? small : big;
}

/* The standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2, and in *pdf the density
 * exp(-x^2 / 2) / sqrt(2 pi), from one exp. a^2 = x^2 / 2 is split from x itself (halving
 * is exact), so the rounding of x / sqrt 2 only reaches t: Phi(-12) ~ 1.8e-33 is still
 * accurate to a few ulp. */
ZEN_VM_INLINE float zen_vm__ndtr_pdf(float x, float *pdf) {
    float xc = zen_vm__abs(x);
    xc = xc > ZEN_VM_ERF_MAX * 1.41421356f ? ZEN_VM_ERF_MAX * 1.41421356f : xc; /* NaN passes */
    float a = xc * 0.707106781f;
    float e = zen_vm__exp_negsq(xc, 0.5f);
    *pdf = 0.398942280f * e;
    float c = 0.5f * (zen_vm__erfcx_big(a) * e);
    float s = x * 0.707106781f;
    float small = 0.5f + 0.5f * (s + zen_vm__erf_small(s));
    float big = x > 0.0f ? 1.0f - c : c;
    return a < ZEN_VM_ERF_SPLIT ? small : big;
}

ZEN_VM_INLINE float zen_vm_ndtr(float x) {
    float pdf;
    return zen_vm__ndtr_pdf(x, &pdf);
}

ZEN_VM_INLINE float zen_vm_npdf(float x) {
    float pdf;
    zen_vm__ndtr_pdf(x, &pdf);
    return pdf;
}

#endif /* ZEN_VMATH_H */
