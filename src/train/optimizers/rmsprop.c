/* rmsprop.c — RMSprop as Keras 3 defines it (learning_rate 1e-3, rho 0.9, momentum 0,
 * epsilon 1e-7, centered false, weight_decay None):
 *
 *   w -= lr * weight_decay * w                           (Keras's decoupled decay)
 *   v = rho v + (1 - rho) g²
 *   centered: a = rho a + (1 - rho) g;  d = v - a² + eps;  else d = v + eps
 *   inc = lr g / sqrt(d)
 *   momentum > 0: b = momentum b + inc;  w -= b          else w -= inc
 *
 * torch.optim.RMSprop differs: epsilon is added outside the square root (g / (sqrt(v) + eps),
 * default 1e-8), rho is called alpha with default 0.99, its momentum buffer leaves lr out
 * (b = momentum b + g / (sqrt(v) + eps), w -= lr b: the same while lr is constant) and its
 * weight_decay is an L2 term on the gradient. zen follows Keras. */
#include "../train.h"

#include <math.h>

#include "../../ops/loops.h" /* ZEN_TARGET_CLONES */

static bool rmsprop_configure(zen_optimizer *opt, cJSON *c) {
    return zen__opt_float(opt, c, "rho", 0.9f, 0, 1, &opt->hp.rho) &&
           zen__opt_float(opt, c, "momentum", 0.0f, 0, 1, &opt->hp.momentum) &&
           zen__opt_float(opt, c, "epsilon", 1e-7f, 0, 1, &opt->hp.epsilon) &&
           zen__opt_bool(opt, c, "centered", false, &opt->hp.centered);
}

/* slot 0: v; then b (momentum > 0); then a (centered). */
static int rmsprop_slots(const zen_optimizer *opt) { return 1 + (opt->hp.momentum > 0) + opt->hp.centered; }

ZEN_TARGET_CLONES static void rmsprop_update(const zen_optimizer *opt, float *restrict w, const float *restrict g,
                                             float *const *slot, int64_t n, float lr, int64_t t) {
    const float rho = opt->hp.rho, c = 1 - rho, eps = opt->hp.epsilon, mom = opt->hp.momentum;
    const float decay = lr * opt->hp.weight_decay;
    const bool use_mom = mom > 0, centered = opt->hp.centered;
    float *restrict v = slot[0], *restrict b = use_mom ? slot[1] : NULL, *restrict a = centered ? slot[1 + use_mom] : NULL;
    if (!use_mom && !centered) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float vi = rho * v[i] + c * g[i] * g[i];
            v[i] = vi;
            w[i] = (w[i] - decay * w[i]) - lr * g[i] / sqrtf(vi + eps);
        }
        return;
    }
    /* The general form: the two branches are loop-invariant, GCC unswitches them. */
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float vi = rho * v[i] + c * g[i] * g[i], d = vi + eps;
        v[i] = vi;
        if (centered) {
            float ai = rho * a[i] + c * g[i];
            a[i] = ai;
            d = vi - ai * ai + eps;
        }
        float inc = lr * g[i] / sqrtf(d), wi = w[i] - decay * w[i];
        if (use_mom) {
            inc = mom * b[i] + inc;
            b[i] = inc;
        }
        w[i] = wi - inc;
    }
}

static const char *const rmsprop_keys[] = {"rho", "momentum", "epsilon", "centered", NULL};

const zen_optimizer_type zen_optimizer_type_rmsprop = {
    .class_name = "RMSprop", .default_lr = 1e-3f, .keys = rmsprop_keys,
    .configure = rmsprop_configure, .slots = rmsprop_slots, .update = rmsprop_update};
