/* The vectorizable float approximations of src/ops/vmath.h against double-precision libm.
 *
 * Each function runs as a `#pragma omp simd` loop compiled three times, for x86-64-v4
 * (AVX-512, FMA), x86-64-v3 (AVX2, FMA) and the baseline (SSE2, no FMA): the code paths
 * that ZEN_TARGET_CLONES picks from (those the CPU lacks are skipped). Inputs: special
 * values (±0, ±inf, NaN, FLT_MIN, FLT_MAX, denormals, overflow and underflow edges), a
 * fine linear sweep of [-20, 20], and every STEP-th float bit pattern of both signs
 * (every binade, subnormals included). STEP is 1543 unless ZEN_VMATH_STEP is set
 * (ZEN_VMATH_STEP=1 checks all 2^32 floats, which takes a while).
 *
 * Checked: NaN in exactly where libm gives NaN, overflow to ±inf where the float result
 * overflows, the sign of zero results, and error bounds: ulps where the result is a normal
 * float, absolute error everywhere for the bounded functions, and one subnormal ulp where
 * the result is subnormal. The worst errors are printed. */
#include "harness.h"
#include "ops/vmath.h"

#include <float.h>
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__)
#define ATTR_V4 __attribute__((target("arch=x86-64-v4")))
#define ATTR_V3 __attribute__((target("arch=x86-64-v3")))
#define HAVE_V4() __builtin_cpu_supports("x86-64-v4")
#define HAVE_V3() __builtin_cpu_supports("x86-64-v3")
#else
#define ATTR_V4
#define ATTR_V3
#define HAVE_V4() 0
#define HAVE_V3() 0
#endif

typedef void (*sweep_fn)(const float *x, float *y, int64_t n);

#define SWEEP(fn, attr, sfx)                                                                     \
    attr static void sweep_##fn##_##sfx(const float *restrict x, float *restrict y, int64_t n) { \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) y[i] = zen_vm_##fn(x[i]);           \
    }
#define SWEEPS(fn) SWEEP(fn, ATTR_V4, v4) SWEEP(fn, ATTR_V3, v3) SWEEP(fn, , base)
SWEEPS(exp)
SWEEPS(expm1)
SWEEPS(log)
SWEEPS(log1p)
SWEEPS(tanh)
SWEEPS(sigmoid)
SWEEPS(erf)
SWEEPS(erfc)
SWEEPS(ndtr)
SWEEPS(npdf)

static double ref_sigmoid(double x) { return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)); }
static double ref_ndtr(double x) { return 0.5 * erfc(-x * 0.70710678118654752440); }
static double ref_npdf(double x) { return exp(-0.5 * x * x) * 0.39894228040143267794; }

/* Bounds: max_ulp applies where the double result is a normal float; max_abs everywhere
 * (0: not checked); a subnormal result may be off by one subnormal ulp (2^-149) more. */
typedef struct {
    const char *name;
    double (*ref)(double);
    sweep_fn sweep[3]; /* v4, v3, base */
    double max_ulp, max_abs;
} fn_case;

#define CASE(fn, ref, ulp, abs) {#fn, ref, {sweep_##fn##_v4, sweep_##fn##_v3, sweep_##fn##_base}, ulp, abs}

static const char *const variant_name[3] = {"avx512", "avx2", "sse2"};

/* ---- inputs ---- */

#define CHUNK (1 << 20)
static float specials[8192];
static int nspecials;
static int64_t step = 1543;

static float from_bits(uint32_t u) {
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static void add_special(float x) {
    if (nspecials < (int)(sizeof specials / sizeof *specials)) specials[nspecials++] = x;
}

static void make_specials(void) {
    const float list[] = {0.0f, INFINITY, NAN, FLT_MIN, FLT_MAX, FLT_TRUE_MIN, 2 * FLT_TRUE_MIN, 0x1p-60f,
                          0x1p-30f, 1e-7f, 1.0f, 0.5f, 2.0f, 0.875f, 0.34657359f, 88.3762626f, 88.7228394f,
                          88.7228470f, 89.0f, 103.0f, 103.972f, 104.0f, 87.3365479f, 0.625f, 9.0f, 10.25f,
                          14.5f, 20.0f, 1e20f, 1.23743f, 3.9192f, 0.70710678f, 1.41421356f, 16.635532f,
                          17.0f, 44.3614f, 80.0f};
    for (size_t i = 0; i < sizeof list / sizeof *list; i++) {
        add_special(list[i]);
        add_special(-list[i]);
        add_special(nextafterf(list[i], 0));
        add_special(nextafterf(-list[i], 0));
        add_special(nextafterf(list[i], INFINITY));
        add_special(nextafterf(-list[i], -INFINITY));
    }
    add_special(from_bits(0xffc00000u)); /* -NaN */
    add_special(from_bits(0x7f800001u)); /* signalling NaN pattern */
    for (int i = -2000; i <= 2000; i++) add_special((float)i * 0.01f); /* +/-20 in steps of 0.01 */
}

/* The i-th input: specials, then a linear sweep of [-20, 20] in steps of 2^-10, then every
 * step-th bit pattern of each sign. Returns false past the end. */
#define LINEAR_N (40 * 1024 + 1)
static bool input_at(int64_t i, float *x) {
    if (i < nspecials) {
        *x = specials[i];
        return true;
    }
    i -= nspecials;
    if (i < LINEAR_N) {
        *x = -20.0f + (float)i * 0x1p-10f;
        return true;
    }
    i -= LINEAR_N;
    int64_t per_sign = 0x7f800000LL / step + 1;
    if (i >= 2 * per_sign) return false;
    uint32_t u = (uint32_t)((i % per_sign) * step);
    *x = from_bits(u | (i >= per_sign ? 0x80000000u : 0));
    return true;
}

/* ---- checking ---- */

static double ulp_of(double r) {
    r = fabs(r);
    if (r < FLT_MIN) return 0x1p-149;
    int e;
    frexp(r, &e);
    return ldexp(1.0, e - 24);
}

typedef struct {
    double ulp, abs, rel; /* worst errors */
    float ulp_x, abs_x;   /* where */
    int64_t bad, n;
} stats;

static float *xs, *ys;
static double *refs;

static void check_fn(const fn_case *c) {
    bool have[3] = {HAVE_V4(), HAVE_V3(), true};
    stats st[3];
    memset(st, 0, sizeof st);
    int64_t i0 = 0;
    for (;;) {
        int64_t n = 0;
        while (n < CHUNK && input_at(i0 + n, &xs[n])) n++;
        if (n == 0) break;
        i0 += n;
        for (int64_t i = 0; i < n; i++) refs[i] = c->ref((double)xs[i]);
        for (int v = 0; v < 3; v++) {
            if (!have[v]) continue;
            c->sweep[v](xs, ys, n);
            stats *s = &st[v];
            for (int64_t i = 0; i < n; i++) {
                double r = refs[i], g = ys[i];
                float rf = (float)r;
                bool ok;
                s->n++;
                if (isnan(r)) {
                    ok = isnan(g);
                } else if (isinf(rf)) {
                    ok = g == rf; /* overflow (or an exact infinity) */
                } else if (isnan(g) || isinf(g)) {
                    ok = false;
                } else {
                    double err = fabs(g - r), u = err / ulp_of(r);
                    ok = true;
                    if (fabs(r) >= FLT_MIN) {
                        ok = u <= c->max_ulp;
                        if (err / fabs(r) > s->rel) s->rel = err / fabs(r);
                    } else {
                        ok = err <= 0x1p-149 + (c->max_abs > 0 ? c->max_abs : 0);
                    }
                    if (c->max_abs > 0 && err > c->max_abs) ok = false;
                    if (r == 0 && g == 0 && signbit(r) != signbit(g)) ok = false;
                    if (u > s->ulp) {
                        s->ulp = u;
                        s->ulp_x = xs[i];
                    }
                    if (err > s->abs) {
                        s->abs = err;
                        s->abs_x = xs[i];
                    }
                }
                if (!ok) {
                    if (s->bad < 5)
                        fprintf(stderr, "  %s/%s(%a = %.9g) = %.9g, libm %.17g\n", c->name, variant_name[v],
                                (double)xs[i], (double)xs[i], g, r);
                    s->bad++;
                }
            }
        }
    }
    for (int v = 0; v < 3; v++) {
        if (!have[v]) {
            printf("     %-8s %-6s skipped (CPU lacks it)\n", c->name, variant_name[v]);
            continue;
        }
        printf("     %-8s %-6s %9lld inputs: max %.2f ulp (x=%.9g), max rel %.2e", c->name, variant_name[v],
               (long long)st[v].n, st[v].ulp, (double)st[v].ulp_x, st[v].rel);
        if (c->max_abs > 0) printf(", max abs %.2e (x=%.9g)", st[v].abs, (double)st[v].abs_x);
        printf("%s\n", st[v].bad ? "  FAILED" : "");
        CHECK(st[v].bad == 0);
    }
}

/* Bounds (ulps in normal results; absolute where the brief asks for it). */
static const fn_case cases[] = {
    CASE(exp, exp, 2.0, 0),
    CASE(expm1, expm1, 2.0, 0),
    CASE(log, log, 2.0, 0),
    CASE(log1p, log1p, 2.0, 0),
    CASE(tanh, tanh, 3.0, 2e-7),
    CASE(sigmoid, ref_sigmoid, 3.0, 2e-7),
    CASE(erf, erf, 4.0, 2e-7),
    CASE(erfc, erfc, 8.0, 2e-7),
    CASE(ndtr, ref_ndtr, 8.0, 2e-7),
    CASE(npdf, ref_npdf, 4.0, 2e-7),
};

TEST(test_exp) { check_fn(&cases[0]); }
TEST(test_expm1) { check_fn(&cases[1]); }
TEST(test_log) { check_fn(&cases[2]); }
TEST(test_log1p) { check_fn(&cases[3]); }
TEST(test_tanh) { check_fn(&cases[4]); }
TEST(test_sigmoid) { check_fn(&cases[5]); }
TEST(test_erf) { check_fn(&cases[6]); }
TEST(test_erfc) { check_fn(&cases[7]); }
TEST(test_ndtr) { check_fn(&cases[8]); }
TEST(test_npdf) { check_fn(&cases[9]); }

/* Exact values the sweep compares only approximately. */
TEST(test_exact_values) {
    float in[] = {0.0f, -0.0f, 1.0f, INFINITY, -INFINITY}, out[5];
    sweep_exp_base(in, out, 5);
    CHECK(out[0] == 1.0f && out[1] == 1.0f && out[3] == INFINITY && out[4] == 0.0f);
    sweep_log_base(in, out, 5);
    CHECK(out[0] == -INFINITY && out[1] == -INFINITY && out[2] == 0.0f && !signbit(out[2]) && out[3] == INFINITY &&
          isnan(out[4]));
    sweep_tanh_base(in, out, 5);
    CHECK(out[0] == 0.0f && !signbit(out[0]) && signbit(out[1]) && out[3] == 1.0f && out[4] == -1.0f);
    sweep_sigmoid_base(in, out, 5);
    CHECK(out[0] == 0.5f && out[1] == 0.5f && out[3] == 1.0f && out[4] == 0.0f);
    sweep_erf_base(in, out, 5);
    CHECK(out[0] == 0.0f && signbit(out[1]) && out[3] == 1.0f && out[4] == -1.0f);
    sweep_erfc_base(in, out, 5);
    CHECK(out[0] == 1.0f && out[3] == 0.0f && out[4] == 2.0f);
    sweep_ndtr_base(in, out, 5);
    CHECK(out[0] == 0.5f && out[3] == 1.0f && out[4] == 0.0f);
    sweep_expm1_base(in, out, 5);
    CHECK(out[0] == 0.0f && signbit(out[1]) && out[3] == INFINITY && out[4] == -1.0f);
    /* exp and log are monotone across a few thousand neighbours of 1 */
    float a[4096], e[4096], l[4096];
    for (int i = 0; i < 4096; i++) a[i] = 1.0f + (float)(i - 2048) * 0x1p-23f;
    sweep_exp_base(a, e, 4096);
    sweep_log_base(a, l, 4096);
    int bad = 0;
    for (int i = 1; i < 4096; i++) bad += e[i] < e[i - 1] || l[i] < l[i - 1];
    CHECK(bad == 0);
}

int main(void) {
    const char *s = getenv("ZEN_VMATH_STEP");
    if (s && atoll(s) > 0) step = atoll(s);
    make_specials();
    xs = malloc(CHUNK * sizeof *xs);
    ys = malloc(CHUNK * sizeof *ys);
    refs = malloc(CHUNK * sizeof *refs);
    int rc = RUN_TESTS(test_exp, test_expm1, test_log, test_log1p, test_tanh, test_sigmoid, test_erf, test_erfc,
                       test_ndtr, test_npdf, test_exact_values);
    free(xs);
    free(ys);
    free(refs);
    return rc;
}
