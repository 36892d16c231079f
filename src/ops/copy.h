/* copy.h — a strided, multi-threaded block copy shared by the ops that move data without
 * arithmetic (concat, pad). */
#ifndef ZEN_COPY_H
#define ZEN_COPY_H

#include "../core/internal.h"

/* For every index i of `shape` (ndim dims): dst[i · dst_stride] = src[i · src_stride], with
 * 4-byte elements (f32 or i32 bits) and strides in elements. Dims laid out alike in both
 * are merged first; dense runs become memcpy. Threads as zen__threads_for(ex, numel). */
void zen__copy_strided(void *dst, const int64_t *dst_stride, const void *src, const int64_t *src_stride,
                       int ndim, const int64_t *shape, zen_exec *ex);

#endif
