/* copy.c — strided block copy and transposed copy (see copy.h). */
#include "copy.h"
#include "loops.h"

#define MIN_TASK_ELEMS 16384

ZEN_TARGET_CLONES static void copy_row(uint32_t *restrict o, int64_t so, const uint32_t *restrict x, int64_t sx,
                                       int64_t n) {
    if (so == 1 && sx == 1) {
        memcpy(o, x, (size_t)n * sizeof *o);
    } else if (so == 1) {
        for (int64_t j = 0; j < n; j++) o[j] = x[j * sx];
    } else {
        for (int64_t j = 0; j < n; j++) o[j * so] = x[j * sx];
    }
}

void zen__copy_strided(void *dst, const int64_t *dst_stride, const void *src, const int64_t *src_stride,
                       int ndim, const int64_t *shape, zen_exec *ex) {
    int64_t sh[ZEN_MAX_DIMS], ds[ZEN_MAX_DIMS], ss[ZEN_MAX_DIMS], total = 1;
    int nd = 0;
    for (int d = 0; d < ndim; d++) {
        total *= shape[d];
        if (shape[d] == 1) continue; /* size-1 dims never move the index */
        if (nd > 0 && ds[nd - 1] == dst_stride[d] * shape[d] && ss[nd - 1] == src_stride[d] * shape[d]) {
            sh[nd - 1] *= shape[d];
            ds[nd - 1] = dst_stride[d];
            ss[nd - 1] = src_stride[d];
        } else {
            sh[nd] = shape[d];
            ds[nd] = dst_stride[d];
            ss[nd] = src_stride[d];
            nd++;
        }
    }
    if (total == 0) return;
    if (nd == 0) { /* one element */
        sh[0] = 1;
        ds[0] = ss[0] = 1;
        nd = 1;
    }
    const int rd = nd - 1;
    int64_t cols = sh[rd], rows = total / cols;
    int nt = zen__threads_for(ex, total);
    /* Few long rows: cut each row into chunks so every thread gets work. */
    int64_t chunks = 1, chunk = cols;
    if (nt > 1 && rows < 4 * nt && cols >= 2 * MIN_TASK_ELEMS) {
        chunks = (cols + MIN_TASK_ELEMS - 1) / MIN_TASK_ELEMS;
        chunk = (cols + chunks - 1) / chunks;
    }
    uint32_t *O = dst;
    const uint32_t *X = src;
    int64_t ntasks = rows * chunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < ntasks; k++) {
        int64_t r = k / chunks, c0 = (k % chunks) * chunk;
        int64_t n = cols - c0 < chunk ? cols - c0 : chunk;
        int64_t oo = zen__offset_of(r, rd, sh, ds) + c0 * ds[rd];
        int64_t ox = zen__offset_of(r, rd, sh, ss) + c0 * ss[rd];
        copy_row(O + oo, ds[rd], X + ox, ss[rd], n);
    }
}

/* d[r*ldd + k] = s[k*lds + r] for r < R, k < K, in square tiles so that both sides move
 * whole cache lines while the tile stays in L1. With AVX, whole 8x8 tiles are transposed
 * in registers (8 loads, 24 shuffles, 8 stores); the edges and other CPUs take the loop. */
#define TILE 16
ZEN_TARGET_CLONES static void transpose_block_c(const float *restrict s, int64_t lds, float *restrict d, int64_t ldd,
                                                int64_t R, int64_t K) {
    for (int64_t r0 = 0; r0 < R; r0 += TILE) {
        int64_t r1 = r0 + TILE < R ? r0 + TILE : R;
        for (int64_t k0 = 0; k0 < K; k0 += TILE) {
            int64_t k1 = k0 + TILE < K ? k0 + TILE : K;
            for (int64_t r = r0; r < r1; r++)
#pragma omp simd
                for (int64_t k = k0; k < k1; k++) d[r * ldd + k] = s[k * lds + r];
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define ZEN_VIEW_AVX 1
/* One 8x8 tile: d[r0 + i, k0 + j] = s[k0 + j, r0 + i]. */
__attribute__((target("avx"), always_inline)) static inline void tile8(const float *restrict s, int64_t lds,
                                                                        float *restrict d, int64_t ldd) {
    __m256 a0 = _mm256_loadu_ps(s), a1 = _mm256_loadu_ps(s + lds), a2 = _mm256_loadu_ps(s + 2 * lds),
           a3 = _mm256_loadu_ps(s + 3 * lds), a4 = _mm256_loadu_ps(s + 4 * lds), a5 = _mm256_loadu_ps(s + 5 * lds),
           a6 = _mm256_loadu_ps(s + 6 * lds), a7 = _mm256_loadu_ps(s + 7 * lds);
    __m256 t0 = _mm256_unpacklo_ps(a0, a1), t1 = _mm256_unpackhi_ps(a0, a1), t2 = _mm256_unpacklo_ps(a2, a3),
           t3 = _mm256_unpackhi_ps(a2, a3), t4 = _mm256_unpacklo_ps(a4, a5), t5 = _mm256_unpackhi_ps(a4, a5),
           t6 = _mm256_unpacklo_ps(a6, a7), t7 = _mm256_unpackhi_ps(a6, a7);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE),
           u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE),
           u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE),
           u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    _mm256_storeu_ps(d, _mm256_permute2f128_ps(u0, u4, 0x20));
    _mm256_storeu_ps(d + ldd, _mm256_permute2f128_ps(u1, u5, 0x20));
    _mm256_storeu_ps(d + 2 * ldd, _mm256_permute2f128_ps(u2, u6, 0x20));
    _mm256_storeu_ps(d + 3 * ldd, _mm256_permute2f128_ps(u3, u7, 0x20));
    _mm256_storeu_ps(d + 4 * ldd, _mm256_permute2f128_ps(u0, u4, 0x31));
    _mm256_storeu_ps(d + 5 * ldd, _mm256_permute2f128_ps(u1, u5, 0x31));
    _mm256_storeu_ps(d + 6 * ldd, _mm256_permute2f128_ps(u2, u6, 0x31));
    _mm256_storeu_ps(d + 7 * ldd, _mm256_permute2f128_ps(u3, u7, 0x31));
}

/* The outer loop runs over the longer side in steps of 8, the inner one sweeps the shorter
 * side: the inner sweep touches one cache line per row of the short side, which then stay
 * in L1 for the next step (a 5408 x 128 weight: 128 lines, instead of 5408). */
__attribute__((target("avx"))) static void transpose_block_avx(const float *restrict s, int64_t lds,
                                                                float *restrict d, int64_t ldd, int64_t R,
                                                                int64_t K) {
    const int64_t R8 = R / 8 * 8, K8 = K / 8 * 8;
    if (R > K) {
        for (int64_t r0 = 0; r0 < R8; r0 += 8)
            for (int64_t k0 = 0; k0 < K8; k0 += 8) tile8(s + k0 * lds + r0, lds, d + r0 * ldd + k0, ldd);
    } else {
        for (int64_t k0 = 0; k0 < K8; k0 += 8)
            for (int64_t r0 = 0; r0 < R8; r0 += 8) tile8(s + k0 * lds + r0, lds, d + r0 * ldd + k0, ldd);
    }
    /* the edges: rows [R8, R) for all k, and columns [K8, K) of the rows before */
    if (R8 < R) transpose_block_c(s + R8, lds, d + R8 * ldd, ldd, R - R8, K);
    if (K8 < K) transpose_block_c(s + K8 * lds, lds, d + K8, ldd, R8, K - K8);
}
#endif

int zen__transpose_simd = -1;

void zen__transpose(float *d, int64_t ldd, const float *s, int64_t lds, int64_t R, int64_t K) {
#ifdef ZEN_VIEW_AVX
    const bool have = __builtin_cpu_supports("avx"); /* a load of libgcc's CPU model: no cache, no race */
    if (have && zen__transpose_simd != 0) {
        transpose_block_avx(s, lds, d, ldd, R, K);
        return;
    }
#endif
    transpose_block_c(s, lds, d, ldd, R, K);
}
