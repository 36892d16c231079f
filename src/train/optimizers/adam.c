/* adam.c — Adam and AdamW as Keras defines them (learning_rate 1e-3, beta_1 0.9,
 * beta_2 0.999, epsilon 1e-7; AdamW weight_decay 0.004), with amsgrad.
 *
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²  (amsgrad: vmax = max(vmax, v))
 *   w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
 * AdamW first decays the weight: w -= lr * weight_decay * w. Keras folds the bias
 * corrections into the step size and adds epsilon to sqrt(v) unscaled, which this follows. */
#include "../train.h"

#include <math.h>

static bool adam_configure_common(zen_optimizer *opt, cJSON *c, float wd_default) {
    return zen__opt_float(opt, c, "beta_1", 0.9f, 0, 1, &opt->hp.beta_1) &&
           zen__opt_float(opt, c, "beta_2", 0.999f, 0, 1, &opt->hp.beta_2) &&
           zen__opt_float(opt, c, "epsilon", 1e-7f, 0, 1, &opt->hp.epsilon) &&
           zen__opt_float(opt, c, "weight_decay", wd_default, 0, 1, &opt->hp.weight_decay) &&
           zen__opt_bool(opt, c, "amsgrad", false, &opt->hp.amsgrad);
}

static bool adam_configure(zen_optimizer *opt, cJSON *c) { return adam_configure_common(opt, c, 0.0f); }
static bool adamw_configure(zen_optimizer *opt, cJSON *c) { return adam_configure_common(opt, c, 0.004f); }

__attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
static void adam_update(const zen_optimizer *opt, float *restrict w, const float *restrict g, float *const *slot,
                        int64_t n, float lr, int64_t t) {
    const float b1 = opt->hp.beta_1, b2 = opt->hp.beta_2, eps = opt->hp.epsilon;
    const float step = (float)(lr * sqrt(1.0 - pow(b2, (double)t)) / (1.0 - pow(b1, (double)t)));
    const float decay = lr * opt->hp.weight_decay;
    float *restrict m = slot[0], *restrict v = slot[1], *restrict vmax = slot[2];
    if (opt->hp.amsgrad) {
        for (int64_t i = 0; i < n; i++) {
            w[i] -= decay * w[i];
            m[i] = b1 * m[i] + (1 - b1) * g[i];
            v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
            vmax[i] = v[i] > vmax[i] ? v[i] : vmax[i];
            w[i] -= step * m[i] / (sqrtf(vmax[i]) + eps);
        }
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float wi = w[i] - decay * w[i];
        float mi = b1 * m[i] + (1 - b1) * g[i];
        float vi = b2 * v[i] + (1 - b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        w[i] = wi - step * mi / (sqrtf(vi) + eps);
    }
}

const zen_optimizer_type zen_optimizer_type_adam = {"Adam", 3, adam_configure, adam_update};
const zen_optimizer_type zen_optimizer_type_adamw = {"AdamW", 3, adamw_configure, adam_update};
