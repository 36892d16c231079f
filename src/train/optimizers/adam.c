/* adam.c — Adam and AdamW as Keras 3 defines them (learning_rate 1e-3, beta_1 0.9,
 * beta_2 0.999, epsilon 1e-7, amsgrad false; weight_decay None for Adam, 0.004 for AdamW):
 *
 *   w -= lr * weight_decay * w                                  (Keras's decoupled decay)
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²;  amsgrad: vhat = max(vhat, v), v = vhat
 *   w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)
 *
 * Keras and PyTorch differ in where epsilon goes. Keras folds both bias corrections into
 * the step size and adds epsilon to the uncorrected sqrt(v); torch.optim.Adam adds it to
 * the corrected sqrt(v / (1 - b2^t)), i.e. torch's eps equals Keras's eps / sqrt(1 - b2^t)
 * (a larger effective epsilon early on). zen follows Keras. Keras's Adam also takes
 * weight_decay and applies it decoupled (as AdamW does); torch's Adam weight_decay is an
 * L2 term added to the gradient instead. AdamW is the same update as Adam here (Keras's
 * AdamW only changes the default weight_decay), and equals torch.optim.AdamW up to the
 * epsilon placement. */
#include "../train.h"

#include <math.h>

#include "../../ops/loops.h" /* ZEN_TARGET_CLONES */

static bool adam_configure(zen_optimizer *opt, cJSON *c) {
    return zen__opt_fraction(opt, c, "beta_1", 0.9f, &opt->hp.beta_1) &&
           zen__opt_fraction(opt, c, "beta_2", 0.999f, &opt->hp.beta_2) &&
           zen__opt_float(opt, c, "epsilon", 1e-7f, 0, 1, &opt->hp.epsilon) &&
           zen__opt_bool(opt, c, "amsgrad", false, &opt->hp.amsgrad);
}

/* m, v and (amsgrad) vhat. */
static int adam_slots(const zen_optimizer *opt) { return opt->hp.amsgrad ? 3 : 2; }

ZEN_TARGET_CLONES static void adam_update(const zen_optimizer *opt, float *restrict w, const float *restrict g,
                                          float *const *slot, int64_t n, float lr, int64_t t) {
    const float b1 = opt->hp.beta_1, b2 = opt->hp.beta_2, eps = opt->hp.epsilon;
    const float c1 = 1 - b1, c2 = 1 - b2;
    const float step = (float)(lr * sqrt(1.0 - pow(b2, (double)t)) / (1.0 - pow(b1, (double)t)));
    const float decay = lr * opt->hp.weight_decay;
    float *restrict m = slot[0], *restrict v = slot[1], *restrict vhat = slot[2];
    if (opt->hp.amsgrad) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float wi = w[i] - decay * w[i];
            float mi = b1 * m[i] + c1 * g[i];
            float vi = b2 * v[i] + c2 * g[i] * g[i];
            float hi = vi > vhat[i] ? vi : vhat[i];
            m[i] = mi;
            v[i] = vi;
            vhat[i] = hi;
            w[i] = wi - step * mi / (sqrtf(hi) + eps);
        }
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float wi = w[i] - decay * w[i];
        float mi = b1 * m[i] + c1 * g[i];
        float vi = b2 * v[i] + c2 * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        w[i] = wi - step * mi / (sqrtf(vi) + eps);
    }
}

static const char *const adam_keys[] = {"beta_1", "beta_2", "epsilon", "amsgrad", NULL};

const zen_optimizer_type zen_optimizer_type_adam = {
    .class_name = "Adam", .default_lr = 1e-3f, .default_weight_decay = 0, .keys = adam_keys,
    .configure = adam_configure, .slots = adam_slots, .update = adam_update};
const zen_optimizer_type zen_optimizer_type_adamw = {
    .class_name = "AdamW", .default_lr = 1e-3f, .default_weight_decay = 0.004f, .keys = adam_keys,
    .configure = adam_configure, .slots = adam_slots, .update = adam_update};
