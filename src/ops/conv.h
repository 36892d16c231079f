/* conv.h — what pool.c and view.c use of conv2d: the fused conv2d + 2x2 max pool node. */
#ifndef ZEN_CONV_H
#define ZEN_CONV_H

#include "../core/internal.h"

/* A CONV2D_POOL node computing max_pool2d (with these pool ip values, fused relu included)
 * of the CONV2D node conv, or NULL (no error) when that pair is not one it handles: see
 * conv.c, "conv2d followed by a 2x2 max pool". */
zen_tensor *zen__conv2d_pool(zen_ctx *ctx, zen_tensor *conv, const int64_t *pool_ip);

/* The CONV2D_POOL node pool with its output laid out channels-last, [N, OH, OW, C] — a
 * dense copy of zen_permute(pool, {0, 2, 3, 1}) — or NULL (no error) when pool is not an
 * NCHW CONV2D_POOL node. */
zen_tensor *zen__conv2d_pool_nhwc(zen_ctx *ctx, zen_tensor *pool);

#endif
