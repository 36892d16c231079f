/* gpt.h — what the GPT-2 layers (gpt.c) share with incremental generation (src/nn/lm.c). */
#ifndef ZEN_NN_GPT_H
#define ZEN_NN_GPT_H

#include "../nn.h"

/* A GPT2Block's parsed config (l->state). */
typedef struct zen_gpt2_block_cfg {
    int width, heads, inner;
    float dropout, epsilon;
} zen_gpt2_block_cfg;

/* Token plus position embeddings of ids [B, S] placed at positions start..start+S-1. */
zen_tensor *zen__gpt2_embed(zen_ctx *ctx, zen_layer *l, zen_tensor *ids, int64_t start);
/* One block on x [B, S, D] whose steps follow past_k / past_v [B, H, P, hd] (NULL: none);
 * *k_new / *v_new (when not NULL) receive this chunk's keys and values [B, H, S, hd]. */
zen_tensor *zen__gpt2_block(zen_ctx *ctx, zen_layer *l, zen_tensor *x, zen_tensor *past_k, zen_tensor *past_v,
                            zen_tensor **k_new, zen_tensor **v_new, bool training, uint64_t seed);
/* Logits of an LMHead layer for x [..., D]. */
zen_tensor *zen__lm_head(zen_ctx *ctx, zen_layer *l, zen_tensor *x);

#endif
