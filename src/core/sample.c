/* sample.c — picking the next token from a row of logits: temperature, top-k, top-p
 * (nucleus) and greedy decoding, with the caller's seeded zen_rng.
 *
 * The filters are applied in Hugging Face's order (temperature, then top-k, then top-p, on
 * the tempered distribution). The draw walks the kept tokens in vocabulary order with one
 * uniform number, so a seed gives the same token on every machine and thread count. */
#include "internal.h"

#include <math.h>
#include <stdlib.h>

typedef struct scored {
    float logit;
    int index;
} scored;

/* Descending by logit; ties by index, so the order is total and the same everywhere. */
static int by_logit_desc(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

int zen_sample_logits(zen_ctx *ctx, const float *logits, int n, const zen_sampling *s, zen_rng *rng) {
    if (!ctx) return -1;
    if (!logits || n < 1 || !s || !rng)
        return zen__fail(ctx, "zen_sample_logits: needs logits, n >= 1 (got %d), options and an rng", n), -1;
    if (!(s->temperature >= 0) || !isfinite(s->temperature))
        return zen__fail(ctx, "zen_sample_logits: temperature must be a finite number >= 0 (got %g)",
                         (double)s->temperature), -1;
    if (s->top_k < 0) return zen__fail(ctx, "zen_sample_logits: top_k must be >= 0 (got %d)", s->top_k), -1;
    if (!(s->top_p >= 0 && s->top_p <= 1))
        return zen__fail(ctx, "zen_sample_logits: top_p must be in [0, 1] (got %g)", (double)s->top_p), -1;
    int best = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(logits[i]) || logits[i] == INFINITY)
            return zen__fail(ctx, "zen_sample_logits: logit %d is %s", i, isnan(logits[i]) ? "NaN" : "+Inf"), -1;
        if (logits[i] > logits[best]) best = i;
    }
    if (logits[best] == -INFINITY) return zen__fail(ctx, "zen_sample_logits: every logit is -Inf"), -1;
    /* Greedy: temperature 0, or a filter that can keep only one token. */
    if (s->temperature == 0 || s->top_k == 1 || n == 1) return best;

    const double inv_t = 1.0 / s->temperature, top = logits[best];
    bool top_k = s->top_k > 0 && s->top_k < n, top_p = s->top_p > 0 && s->top_p < 1;
    /* The smallest logit still kept: every token at or above it takes part. */
    float cut = -INFINITY;
    if (top_k || top_p) {
        scored *order = malloc((size_t)n * sizeof *order);
        if (!order) return zen__fail(ctx, "zen_sample_logits: out of memory"), -1;
        for (int i = 0; i < n; i++) order[i] = (scored){logits[i], i};
        qsort(order, (size_t)n, sizeof *order, by_logit_desc);
        int keep = n;
        /* top-k keeps the k largest and any token tied with the k-th (as Hugging Face). */
        if (top_k) {
            keep = s->top_k;
            while (keep < n && order[keep].logit == order[keep - 1].logit) keep++;
        }
        /* top-p keeps, in descending order, each token whose predecessors' probability is
         * still below top_p: the smallest set reaching top_p (never empty). */
        if (top_p) {
            double total = 0;
            for (int i = 0; i < keep; i++) total += exp((order[i].logit - top) * inv_t);
            double before = 0;
            int k = 0;
            while (k < keep && before < s->top_p * total) before += exp((order[k++].logit - top) * inv_t);
            keep = k;
        }
        cut = order[keep - 1].logit;
        free(order);
    }
    double total = 0;
    for (int i = 0; i < n; i++)
        if (logits[i] >= cut) total += exp((logits[i] - top) * inv_t);
    double u = (double)zen_rng_uniform(rng) * total, acc = 0;
    int last = best;
    for (int i = 0; i < n; i++) {
        if (logits[i] < cut) continue;
        double p = exp((logits[i] - top) * inv_t);
        if (p == 0) continue; /* never pick a token of probability 0 (-Inf logits) */
        acc += p;
        last = i;
        if (u < acc) return i;
    }
    return last; /* u rounded up to the total */
}
