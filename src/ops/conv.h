/* conv.h — what pool.c uses of conv2d: the fused conv2d + 2x2 max pool node. */
#ifndef ZEN_CONV_H
#define ZEN_CONV_H

#include "../core/internal.h"

/* A CONV2D_POOL node computing max_pool2d (with these pool ip values, fused relu included)
 * of the CONV2D node conv, or NULL (no error) when that pair is not one it handles: see
 * conv.c, "conv2d followed by a 2x2 max pool". */
zen_tensor *zen__conv2d_pool(zen_ctx *ctx, zen_tensor *conv, const int64_t *pool_ip);

#endif
