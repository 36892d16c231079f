/* dropout.c — inverted dropout: out = x * keep / (1 - p), keep ~ Bernoulli(1 - p).
 *
 * The mask is never stored. Element i of a compute with run counter `run` (ex->run, the
 * number of earlier computes of the graph) is kept iff
 *     hi32(mix(key(seed, run) + i * GAMMA)) >= p * 2^32
 * where mix is the SplitMix64 finaliser and GAMMA its odd constant: a counter-based hash,
 * so any element of any run can be recomputed on its own. Forward and backward run in the
 * same compute and so see the same mask; the next compute draws a fresh one. Two dropout
 * nodes with the same seed draw the same mask: give each layer its own seed.
 *
 * The gradient is g * keep / (1 - p) with the same mask, which is dropout itself applied
 * to g (the op is a diagonal linear map): backward builds zen_dropout(g, p, seed) and the
 * mask is recomputed, not saved.
 *
 * p == 1 zeroes everything (forward and gradient), as torch.nn.functional.dropout does;
 * p == 0 and evaluation mode (zen_graph_set_training(g, false)) copy x unchanged.
 * The random stream differs from torch's, so there is no PyTorch fixture: the tests check
 * the mask statistically and exactly instead. */
#include "../core/internal.h"
#include "loops.h"

#include <math.h>

#define GAMMA 0x9E3779B97F4A7C15ULL
#define CHUNK 16384

static inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

zen_tensor *zen_dropout(zen_ctx *ctx, zen_tensor *x, float p, uint64_t seed) {
    if (!x) return NULL;
    if (!zen__check_f32(ctx, "zen_dropout", "x", x)) return NULL;
    if (!(p >= 0.0f && p <= 1.0f)) return zen__fail(ctx, "zen_dropout: p must be in [0, 1], got %g", p);
    x = zen__dense(ctx, x); /* the mask follows the element's position in a dense layout */
    if (!x) return NULL;
    zen_tensor *t = zen__node(ctx, ZEN_OP_DROPOUT, ZEN_F32, x->ndim, x->shape, x, NULL, NULL, NULL);
    if (!t) return NULL;
    t->fp[0] = p;
    memcpy(&t->ip[0], &seed, sizeof seed);
    return t;
}

ZEN_TARGET_CLONES static void dropout_row(const float *restrict x, float *restrict o, int64_t n, uint64_t i0,
                                          uint64_t key, uint32_t threshold, float scale) {
#pragma omp simd
    for (int64_t j = 0; j < n; j++) {
        uint64_t h = mix64(key + (i0 + (uint64_t)j) * GAMMA);
        o[j] = (uint32_t)(h >> 32) >= threshold ? x[j] * scale : 0.0f;
    }
}

static void dropout_forward(zen_tensor *out, zen_exec *ex) {
    const float *X = out->src[0]->data;
    float *O = out->data;
    const int64_t n = zen_numel(out);
    const float p = out->fp[0];
    uint64_t seed;
    memcpy(&seed, &out->ip[0], sizeof seed);
    const int64_t nchunks = (n + CHUNK - 1) / CHUNK;
    int nt = zen__threads_for(ex, n);
    if (!ex->training || p == 0.0f || p == 1.0f) {
        const bool zero = ex->training && p == 1.0f;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t k = 0; k < nchunks; k++) {
            int64_t c0 = k * CHUNK, len = n - c0 < CHUNK ? n - c0 : CHUNK;
            if (zero) memset(O + c0, 0, (size_t)len * sizeof *O);
            else memcpy(O + c0, X + c0, (size_t)len * sizeof *O);
        }
        return;
    }
    const uint64_t key = mix64(mix64(seed ^ 0x6A09E667F3BCC909ULL) ^ (ex->run * GAMMA + 0xBB67AE8584CAA73BULL));
    const uint32_t threshold = (uint32_t)((double)p * 4294967296.0); /* p < 1: at most 2^32 - 256 */
    const float scale = (float)(1.0 / (1.0 - (double)p));
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < nchunks; k++) {
        int64_t c0 = k * CHUNK, len = n - c0 < CHUNK ? n - c0 : CHUNK;
        dropout_row(X + c0, O + c0, len, (uint64_t)c0, key, threshold, scale);
    }
}

static void dropout_backward(zen_ctx *ctx, zen_tensor *out) {
    uint64_t seed;
    memcpy(&seed, &out->ip[0], sizeof seed);
    zen__accum_grad(ctx, out->src[0], zen_dropout(ctx, out->grad, out->fp[0], seed));
}

const zen_op_def zen_op_dropout = {"dropout", dropout_forward, dropout_backward, NULL, false};
