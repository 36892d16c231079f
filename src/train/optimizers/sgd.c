/* sgd.c — SGD as Keras 3 defines it (learning_rate 0.01, momentum 0, nesterov false,
 * weight_decay None):
 *
 *   w -= lr * weight_decay * w                         (Keras's decoupled decay)
 *   momentum 0:  w -= lr g
 *   else:        v = momentum v - lr g;  w += v        (nesterov: w += momentum v - lr g)
 *
 * Keras keeps the learning rate inside the velocity; torch.optim.SGD keeps b = momentum b + g
 * and steps w -= lr b (nesterov: w -= lr (g + momentum b)), so v = -lr b while lr is
 * constant and the two differ once it changes (a schedule, ReduceLROnPlateau): zen follows
 * Keras. torch's weight_decay is an L2 term added to g before the momentum, Keras's (and
 * zen's) decays the weight directly. */
#include "../train.h"

#include "../../ops/loops.h" /* ZEN_TARGET_CLONES */

static bool sgd_configure(zen_optimizer *opt, cJSON *c) {
    return zen__opt_float(opt, c, "momentum", 0.0f, 0, 1, &opt->hp.momentum) &&
           zen__opt_bool(opt, c, "nesterov", false, &opt->hp.nesterov);
}

/* The velocity, only with momentum. */
static int sgd_slots(const zen_optimizer *opt) { return opt->hp.momentum != 0 ? 1 : 0; }

ZEN_TARGET_CLONES static void sgd_update(const zen_optimizer *opt, float *restrict w, const float *restrict g,
                                         float *const *slot, int64_t n, float lr, int64_t t) {
    const float mom = opt->hp.momentum, decay = lr * opt->hp.weight_decay;
    if (mom == 0) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) w[i] = (w[i] - decay * w[i]) - lr * g[i];
        return;
    }
    float *restrict v = slot[0];
    if (opt->hp.nesterov) {
#pragma omp simd
        for (int64_t i = 0; i < n; i++) {
            float vi = mom * v[i] - lr * g[i];
            v[i] = vi;
            w[i] = (w[i] - decay * w[i]) + (mom * vi - lr * g[i]);
        }
        return;
    }
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float vi = mom * v[i] - lr * g[i];
        v[i] = vi;
        w[i] = (w[i] - decay * w[i]) + vi;
    }
}

static const char *const sgd_keys[] = {"momentum", "nesterov", NULL};

const zen_optimizer_type zen_optimizer_type_sgd = {
    .class_name = "SGD", .default_lr = 0.01f, .keys = sgd_keys,
    .configure = sgd_configure, .slots = sgd_slots, .update = sgd_update};
