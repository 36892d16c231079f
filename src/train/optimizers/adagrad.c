/* adagrad.c — Adagrad as Keras 3 defines it (learning_rate 1e-3,
 * initial_accumulator_value 0.1, epsilon 1e-7, weight_decay None):
 *
 *   w -= lr * weight_decay * w                 (Keras's decoupled decay)
 *   acc += g²  (acc starts at initial_accumulator_value)
 *   w -= lr g / sqrt(acc + eps)
 *
 * torch.optim.Adagrad differs: its accumulator starts at 0 by default, epsilon (1e-10) is
 * added outside the square root (g / (sqrt(acc) + eps)), it has an lr_decay, and its
 * weight_decay is an L2 term on the gradient. zen follows Keras. */
#include "../train.h"

#include <math.h>

#include "../../ops/loops.h" /* ZEN_TARGET_CLONES */

static bool adagrad_configure(zen_optimizer *opt, cJSON *c) {
    return zen__opt_float(opt, c, "initial_accumulator_value", 0.1f, 0, INFINITY, &opt->hp.initial_accumulator) &&
           zen__opt_float(opt, c, "epsilon", 1e-7f, 0, 1, &opt->hp.epsilon);
}

static int adagrad_slots(const zen_optimizer *opt) { return 1; }

/* The accumulator starts at initial_accumulator_value (Keras's Constant initializer). */
static void adagrad_init(const zen_optimizer *opt, float *const *slot, int64_t n) {
    for (int64_t i = 0; i < n; i++) slot[0][i] = opt->hp.initial_accumulator;
}

ZEN_TARGET_CLONES static void adagrad_update(const zen_optimizer *opt, float *restrict w, const float *restrict g,
                                             float *const *slot, int64_t n, float lr, int64_t t) {
    const float eps = opt->hp.epsilon, decay = lr * opt->hp.weight_decay;
    float *restrict acc = slot[0];
#pragma omp simd
    for (int64_t i = 0; i < n; i++) {
        float ai = acc[i] + g[i] * g[i];
        acc[i] = ai;
        w[i] = (w[i] - decay * w[i]) - lr * g[i] / sqrtf(ai + eps);
    }
}

static const char *const adagrad_keys[] = {"initial_accumulator_value", "epsilon", NULL};

const zen_optimizer_type zen_optimizer_type_adagrad = {
    .class_name = "Adagrad", .default_lr = 1e-3f, .keys = adagrad_keys, .configure = adagrad_configure,
    .slots = adagrad_slots, .init_slots = adagrad_init, .update = adagrad_update};
