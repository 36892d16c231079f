/* pool.h — what conv.c uses of max pooling, for its fused conv2d + 2x2 max pool node
 * (CONV2D_POOL): the 2x2 stride-2 pool and its gradient one sample at a time, and the
 * pool's backward node for the unfused fallback. */
#ifndef ZEN_POOL_H
#define ZEN_POOL_H

#include "../core/internal.h"

/* The number of ip values of a MAX_POOL2D / MAX_POOL2D_BACK node. */
#define ZEN_POOL_IPS 7

/* True when the pool with these ip values (a MAX_POOL2D_BACK node's) takes the 2x2,
 * stride 2, unpadded fast path, which zen__max_pool2d_back_planes computes. */
bool zen__max_pool2d_is_2x2(const int64_t *ip);

/* y (C planes of H/2 x W/2) = the 2x2 stride-2 max pool of x (C planes of H x W), fused
 * relu included, exactly as the MAX_POOL2D node with these ip values computes it. One thread. */
void zen__max_pool2d_planes(const int64_t *ip, int64_t C, int64_t H, int64_t W, const float *x, float *y);

/* The MAX_POOL2D_BACK node (dx of the pool's input x, from the pooled gradient gp) of a max
 * pool with these ip values. */
zen_tensor *zen__max_pool2d_back_node(zen_ctx *ctx, zen_tensor *gp, zen_tensor *x, const int64_t *ip);

/* dx (C planes of H x W, every element written) = the gradient of the pool's input x
 * (C planes of H x W) given the pooled gradient gp (C planes of H/2 x W/2), exactly as the
 * MAX_POOL2D_BACK node with these ip values computes it (fused relu included). With gsum,
 * gsum[c] += the sum of plane c of dx (a bias gradient), from the windows' values. One thread. */
void zen__max_pool2d_back_planes(const int64_t *ip, int64_t C, int64_t H, int64_t W, const float *gp,
                                 const float *x, float *dx, float *gsum);

#endif
