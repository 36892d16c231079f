/* copy.h — copies shared by the ops that move data without arithmetic: a strided,
 * multi-threaded block copy (concat, pad) and a transposed copy (contiguous, matmul). */
#ifndef ZEN_COPY_H
#define ZEN_COPY_H

#include "../core/internal.h"

/* For every index i of `shape` (ndim dims): dst[i · dst_stride] = src[i · src_stride], with
 * 4-byte elements (f32 or i32 bits) and strides in elements. Dims laid out alike in both
 * are merged first; dense runs become memcpy. Threads as zen__threads_for(ex, numel). */
void zen__copy_strided(void *dst, const int64_t *dst_stride, const void *src, const int64_t *src_stride,
                       int ndim, const int64_t *shape, zen_exec *ex);

/* d[r*ldd + k] = s[k*lds + r] for r < R, k < K (4-byte elements, f32 or i32 bits): a
 * transposed copy, in 8x8 register tiles with AVX, else in cache tiles. Single-threaded. */
void zen__transpose(float *d, int64_t ldd, const float *s, int64_t lds, int64_t R, int64_t K);
/* -1 (default): the AVX tiles where the CPU has AVX; 0: the portable loops (tests). */
extern int zen__transpose_simd;

#endif
