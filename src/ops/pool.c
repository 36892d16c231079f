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
 * value replaces the best so far when it is greater or NaN (so ties go to the first max). */
#include "../core/internal.h"
#include "loops.h"

#include <math.h>
#include <omp.h>

enum { IP_KH, IP_KW, IP_SH, IP_SW, IP_PH, IP_PW };

/* The valid output columns of kernel column kw, [lo[kw], hi[kw]), are computed once per
 * kernel call for the first RANGE_CACHE kernel columns (integer divisions per row cost
 * more than the rows themselves on small images). */
#define RANGE_CACHE 32

typedef struct {
    int64_t H, W, OH, OW, KH, KW, sh, sw, ph, pw;
    int64_t lo[RANGE_CACHE], hi[RANGE_CACHE];
} pgeom;

static void valid_range(int64_t off, int64_t s, int64_t W, int64_t OW, int64_t *lo, int64_t *hi);

static pgeom make_pgeom(const zen_tensor *x, const zen_tensor *y, const int64_t *ip) {
    pgeom g = {x->shape[2], x->shape[3], y->shape[2], y->shape[3], ip[IP_KH], ip[IP_KW],
               ip[IP_SH],   ip[IP_SW],   ip[IP_PH],   ip[IP_PW],  {0},       {0}};
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
    int64_t ip[6] = {o.kernel[0], o.kernel[1], o.stride[0] ? o.stride[0] : o.kernel[0],
                     o.stride[1] ? o.stride[1] : o.kernel[1], o.padding[0], o.padding[1]};
    int64_t span_h = x->shape[2] + 2 * ip[IP_PH] - ip[IP_KH], span_w = x->shape[3] + 2 * ip[IP_PW] - ip[IP_KW];
    if (span_h < 0 || span_w < 0)
        return zen__fail(ctx,
                         "%s: output size is not positive: input %s with padding {%lld, %lld} is smaller than "
                         "the kernel {%lld, %lld}",
                         fn, sx, (long long)ip[IP_PH], (long long)ip[IP_PW], (long long)ip[IP_KH],
                         (long long)ip[IP_KW]);
    x = zen__dense(ctx, x);
    if (!x) return NULL;
    int64_t shape[4] = {x->shape[0], x->shape[1], span_h / ip[IP_SH] + 1, span_w / ip[IP_SW] + 1};
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

/* Runs the body (...) for i in [0, n) with S_ the input stride, a constant for strides 1
 * and 2 so that strided loads become shuffles instead of gathers. */
#define ROW_LOOP(n, stride, ...)                                                    \
    do {                                                                           \
        if ((stride) == 1) {                                                       \
            const int64_t S_ = 1;                                                  \
            _Pragma("omp simd") for (int64_t i = 0; i < (n); i++) { __VA_ARGS__ }  \
        } else if ((stride) == 2) {                                                \
            const int64_t S_ = 2;                                                  \
            _Pragma("omp simd") for (int64_t i = 0; i < (n); i++) { __VA_ARGS__ }  \
        } else {                                                                   \
            const int64_t S_ = (stride);                                           \
            _Pragma("omp simd") for (int64_t i = 0; i < (n); i++) { __VA_ARGS__ }  \
        }                                                                          \
    } while (0)

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
                ROW_LOOP(n, g->sw, { d[i] = max_nan(d[i], s[i * S_]); });
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
                ROW_LOOP(n, g->sw, {
                    float v = s[i * S_], b = best[lo + i];
                    int32_t m = -(int32_t)((v > b) | (v != v)); /* all ones: take v */
                    best[lo + i] = max_nan(b, v);
                    idx[lo + i] = ((base + (int32_t)(i * S_)) & m) | (idx[lo + i] & ~m);
                });
            }
        }
        const float *restrict go = gy + oh * g->OW;
        for (int64_t ow = 0; ow < g->OW; ow++) dx[idx[ow]] += go[ow]; /* windows may overlap */
    }
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
                ROW_LOOP(n, g->sw, { d[i] += s[i * S_]; });
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
                ROW_LOOP(n, g->sw, { d[i * S_] += s[i] / div; }); /* distinct targets: no conflicts */
            }
        }
    }
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
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t p = 0; p < planes; p++) max_plane(X + p * g.H * g.W, Y + p * g.OH * g.OW, &g);
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
    memcpy(t->ip, out->ip, 6 * sizeof t->ip[0]);
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
    size_t slot = max_back_slot(g.OW);
    int nt = zen__threads_for(ex, zen_numel(gy) * g.KH * g.KW);
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
