/* rope.c — rotary position embedding, GPT-NeoX / LLaMA (Hugging Face) "half rotation".
 *
 * x [..., T, D] with D even; step t has position p_t = offset + (positions ? positions[t] : t).
 * Dimension i < D/2 is paired with i + D/2 (not with its neighbour 2i+1, GPT-J's
 * interleaved convention), and the pair is rotated by the angle p_t * theta_i with
 * theta_i = base^(-2i/D):
 *   out[i]       = x[i] cos - x[i + D/2] sin
 *   out[i + D/2] = x[i + D/2] cos + x[i] sin
 * The map is a rotation, so the gradient is the inverse rotation of the output's gradient:
 * the same op with sin negated (ip[2] = 1). The kernel fills a [T, D/2] table of cos and
 * sin once (angles in double) in its scratch, then rotates every row. */
#include "../core/internal.h"
#include "loops.h"

#include <math.h>

zen_tensor *zen_rope(zen_ctx *ctx, zen_tensor *x, zen_tensor *positions, int64_t offset, float base) {
    if (!x) return NULL;
    if (!zen__check_f32(ctx, "zen_rope", "x", x)) return NULL;
    char buf[64];
    if (x->ndim < 2 || x->shape[x->ndim - 1] % 2 != 0)
        return zen__fail(ctx, "zen_rope: x must be [..., steps, dim] with an even dim, got %s",
                         zen_shape_str(x, buf, sizeof buf));
    const int64_t T = x->shape[x->ndim - 2];
    if (positions) {
        if (positions->dtype != ZEN_I32 || positions->ndim != 1 || positions->shape[0] != T)
            return zen__fail(ctx, "zen_rope: positions must be i32 [%lld] (one per step), got %s %s", (long long)T,
                             zen_dtype_name(positions->dtype), zen_shape_str(positions, buf, sizeof buf));
        positions = zen__dense(ctx, positions);
    }
    if (!(base > 0) || isinf(base)) return zen__fail(ctx, "zen_rope: base must be a finite number > 0, got %g", base);
    x = zen__dense(ctx, x);
    zen_tensor *t = zen__node(ctx, ZEN_OP_ROPE, ZEN_F32, x->ndim, x->shape, x, positions, NULL, NULL);
    if (!t) return NULL;
    t->ip[0] = offset;
    t->ip[1] = positions != NULL;
    t->ip[2] = 0; /* forward rotation */
    t->fp[0] = base;
    return t;
}

static size_t rope_work(const zen_tensor *t, int nthreads) {
    (void)nthreads;
    return (size_t)t->shape[t->ndim - 2] * (size_t)t->shape[t->ndim - 1] * sizeof(float);
}

ZEN_TARGET_CLONES static void rotate_row(const float *restrict x, const float *restrict c, const float *restrict s,
                                         float *restrict o, int64_t h) {
#pragma omp simd
    for (int64_t i = 0; i < h; i++) {
        float a = x[i], b = x[i + h];
        o[i] = a * c[i] - b * s[i];
        o[i + h] = b * c[i] + a * s[i];
    }
}

static void rope_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *x = out->src[0];
    const int64_t T = out->shape[out->ndim - 2], D = out->shape[out->ndim - 1], h = D / 2;
    const int64_t A = T * D != 0 ? zen_numel(out) / (T * D) : 0;
    const int32_t *pos = out->ip[1] ? out->src[1]->data : NULL;
    const double sign = out->ip[2] ? -1.0 : 1.0;
    float *cs = ex->work, *sn = cs + T * h;
    for (int64_t t = 0; t < T; t++) {
        double p = (double)out->ip[0] + (pos ? (double)pos[t] : (double)t);
        for (int64_t i = 0; i < h; i++) {
            double a = p * pow((double)out->fp[0], -2.0 * (double)i / (double)D);
            cs[t * h + i] = (float)cos(a);
            sn[t * h + i] = (float)(sign * sin(a));
        }
    }
    const float *X = x->data;
    float *O = out->data;
    int nt = zen__threads_for(ex, 3 * A * T * D);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t r = 0; r < A * T; r++) {
        int64_t t = r % T;
        rotate_row(X + r * D, cs + t * h, sn + t * h, O + r * D, h);
    }
}

static void rope_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *g = zen__dense(ctx, out->grad);
    if (!g) return;
    zen_tensor *t = zen__node(ctx, ZEN_OP_ROPE, ZEN_F32, g->ndim, g->shape, g, out->ip[1] ? out->src[1] : NULL, NULL,
                              NULL);
    if (!t) return;
    t->ip[0] = out->ip[0];
    t->ip[1] = out->ip[1];
    t->ip[2] = !out->ip[2]; /* the inverse rotation */
    t->fp[0] = out->fp[0];
    zen__accum_grad(ctx, out->src[0], t);
}

const zen_op_def zen_op_rope = {"rope", rope_forward, rope_backward, rope_work, false};
