/* loops.h — the machinery shared by elementwise ops: strided, broadcasting iteration and
 * threading live in loops.c; an op supplies only a row kernel, usually via the macros
 * below, which are compiled for AVX-512, AVX2 and baseline x86-64 and picked at load
 * time (GCC target_clones). */
#ifndef ZEN_LOOPS_H
#define ZEN_LOOPS_H

#include "../core/internal.h"

#if defined(__x86_64__) && !defined(ZEN_NO_CLONES)
#define ZEN_TARGET_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define ZEN_TARGET_CLONES
#endif

/* o[j] = f(a[j*sa], b[j*sb]) for j < n. p: the node's float parameters (fp). */
typedef void (*zen_binary_row)(const float *a, int64_t sa, const float *b, int64_t sb, float *o,
                               int64_t n, const float *p);
/* o[j] = f(x[j*sx]) for j < n. */
typedef void (*zen_unary_row)(const float *x, int64_t sx, float *o, int64_t n, const float *p);

/* out = f(src[0], src[1]) elementwise, broadcasting both to out's shape. out is dense. */
void zen__binary_map(zen_tensor *out, const zen_tensor *a, const zen_tensor *b, zen_exec *ex,
                     zen_binary_row row);
/* out = f(x) elementwise; x may be any strided view with out's shape. */
void zen__unary_map(zen_tensor *out, const zen_tensor *x, zen_exec *ex, zen_unary_row row);

/* Defines a binary row kernel `name` computing EXPR from floats x, y (and p[] params).
 * The common stride patterns get their own loops so they vectorize. */
#define ZEN_DEFINE_BINARY_ROW(name, EXPR)                                                          \
    ZEN_TARGET_CLONES static void name(const float *restrict a, int64_t sa, const float *restrict b, \
                                       int64_t sb, float *restrict o, int64_t n,                   \
                                       const float *restrict fp) {                                 \
        const float p[2] = {fp[0], fp[1]}; /* a local copy: `c ? p[0] : ..` vectorizes */          \
        (void)p;                                                                                   \
        if (sa == 1 && sb == 1) {                                                                  \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) {                                  \
                float x = a[j], y = b[j];                                                          \
                o[j] = (EXPR);                                                                     \
            }                                                                                      \
        } else if (sa == 1 && sb == 0) {                                                           \
            const float y = b[0];                                                                  \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) {                                  \
                float x = a[j];                                                                    \
                o[j] = (EXPR);                                                                     \
            }                                                                                      \
        } else if (sa == 0 && sb == 1) {                                                           \
            const float x = a[0];                                                                  \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) {                                  \
                float y = b[j];                                                                    \
                o[j] = (EXPR);                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t j = 0; j < n; j++) {                                                      \
                float x = a[j * sa], y = b[j * sb];                                                \
                o[j] = (EXPR);                                                                     \
            }                                                                                      \
        }                                                                                          \
    }

/* Defines a unary row kernel `name` computing EXPR from float x (and p[] params). */
#define ZEN_DEFINE_UNARY_ROW(name, EXPR)                                                           \
    ZEN_TARGET_CLONES static void name(const float *restrict xs, int64_t sx, float *restrict o,    \
                                       int64_t n, const float *restrict fp) {                      \
        const float p[2] = {fp[0], fp[1]}; /* a local copy: `c ? p[0] : ..` vectorizes */          \
        (void)p;                                                                                   \
        if (sx == 1) {                                                                             \
            _Pragma("omp simd") for (int64_t j = 0; j < n; j++) {                                  \
                float x = xs[j];                                                                   \
                o[j] = (EXPR);                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            for (int64_t j = 0; j < n; j++) {                                                      \
                float x = xs[j * sx];                                                              \
                o[j] = (EXPR);                                                                     \
            }                                                                                      \
        }                                                                                          \
    }

/* o = g * f'(x, y) over dense rows, for the fused UNARY_BACK nodes; p = the forward
 * node's fp. */
typedef void (*zen_deriv_row)(const float *g, const float *x, const float *y, float *o, int64_t n,
                              const float *p);
/* Runs row over the dense UNARY_BACK node out (src: g, x, y), in chunks across threads. */
void zen__deriv_map(zen_tensor *out, zen_exec *ex, zen_deriv_row row);

/* Defines a derivative row kernel `name`: o = g * EXPR, EXPR written in x, y and p[]. */
#define ZEN_DEFINE_DERIV_ROW(name, EXPR)                                                             \
    ZEN_TARGET_CLONES static void name(const float *restrict g, const float *restrict xs,           \
                                       const float *restrict ys, float *restrict o, int64_t n,      \
                                       const float *restrict fp) {                                  \
        /* a local copy: loads from it cannot trap, so `c ? p[0] : ...` still vectorizes */         \
        const float p[2] = {fp[0], fp[1]};                                                           \
        (void)p;                                                                                     \
        (void)ys;                                                                                    \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                                        \
            float x = xs[i], y = ys[i];                                                              \
            (void)x;                                                                                 \
            (void)y;                                                                                 \
            o[i] = g[i] * (EXPR);                                                                    \
        }                                                                                            \
    }

/* Runs the body (...) for i in [0, n) with S_ the input stride, a constant for strides 1
 * and 2 so that strided loads become shuffles instead of gathers. */
#define ZEN_STRIDED_ROW_LOOP(n, stride, ...)                                                    \
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

#endif
