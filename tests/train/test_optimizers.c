/* Optimizers against PyTorch/Keras fixtures (tests/fixtures/gen/optimizers.py): every
 * optimizer over 5 steps, gradient clipping, learning-rate schedules; set_lr, config errors,
 * threaded steps on a large tensor vs one thread, and ReduceLROnPlateau. */
#include "harness.h"

#include <string.h>

#include "train/train.h"

static fx_file *f;

/* A string stored as character codes ("<case>.p.<what>"). */
static const char *fx_text(const char *case_name, const char *what, char *buf, int cap) {
    char key[128];
    int64_t codes[1024];
    snprintf(key, sizeof key, "%s.p.%s", case_name, what);
    int n = fx_ints(f, key, codes, 1024);
    if (n >= cap || n > 1024) n = cap - 1 < 1024 ? cap - 1 : 1024;
    for (int i = 0; i < n; i++) buf[i] = (char)codes[i];
    buf[n] = 0;
    return buf;
}

#define NPARAMS 3

/* ---- every optimizer: 5 steps on three tensors, weights after each step ---- */

TEST(test_optimizer_fixtures) {
    const char *const *cases = fx_cases(f, "");
    int n = 0, classes[5] = {0};
    const char *names[5] = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad"};
    for (int c = 0; cases[c]; c++) {
        const char *name = cases[c];
        if (!strncmp(name, "clip_", 5) || !strncmp(name, "sched_", 6)) continue;
        char cls[32], cfg[1024], key[128];
        fx_text(name, "class", cls, sizeof cls);
        fx_text(name, "config", cfg, sizeof cfg);
        for (int k = 0; k < 5; k++) classes[k] += !strcmp(cls, names[k]);
        zen_ctx *ctx = zen_ctx_new();
        zen_optimizer *opt = zen_optimizer_new(ctx, cls, cfg);
        CHECK_OK(ctx, opt);
        if (!opt) {
            fprintf(stderr, "  (case %s)\n", name);
            zen_ctx_free(ctx);
            continue;
        }
        zen_tensor *p[NPARAMS];
        for (int k = 0; k < NPARAMS; k++) {
            snprintf(key, sizeof key, "%s.w%d", name, k);
            p[k] = fx_param(ctx, f, key);
        }
        int fails = 0;
        for (int s = 0; s < 5; s++) {
            for (int k = 0; k < NPARAMS; k++) {
                snprintf(key, sizeof key, "%s.s%d.g%d", name, s, k);
                p[k]->grad = fx_input(ctx, f, key);
            }
            CHECK(zen_optimizer_step(opt, NPARAMS, p) == 0);
            for (int k = 0; k < NPARAMS; k++) {
                char label[160];
                snprintf(label, sizeof label, "%s step %d w%d", name, s + 1, k);
                snprintf(key, sizeof key, "%s.s%d.w%d", name, s, k);
                fails += fx_check_tensor(label, p[k], f, key, 1e-7, 1e-6);
            }
        }
        CHECK(fails == 0);
        CHECK(zen_optimizer_iterations(opt) == 5);
        zen_optimizer_free(opt);
        zen_ctx_free(ctx);
        n++;
    }
    CHECK(n == 23);
    for (int k = 0; k < 5; k++) CHECK(classes[k] >= 2);
}

/* Keras's defaults, visible through the learning rate and the state kept. */
TEST(test_defaults) {
    zen_ctx *ctx = zen_ctx_new();
    const char *cls[] = {"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "sgd", "adam", "rmsprop"};
    const float lr[] = {0.01f, 1e-3f, 1e-3f, 1e-3f, 1e-3f, 0.01f, 1e-3f, 1e-3f};
    for (int i = 0; i < 8; i++) {
        zen_optimizer *opt = zen_optimizer_new(ctx, cls[i], NULL);
        CHECK_OK(ctx, opt);
        if (!opt) continue;
        CHECK_NEAR(zen_optimizer_lr(opt), lr[i], 1e-12);
        zen_optimizer_free(opt);
    }
    zen_optimizer *o = zen_optimizer_new(ctx, "Adam", NULL);
    CHECK(o->hp.beta_1 == 0.9f && o->hp.beta_2 == 0.999f && o->hp.epsilon == 1e-7f && !o->hp.amsgrad &&
          o->hp.weight_decay == 0);
    CHECK(o->type->slots(o) == 2);
    zen_optimizer_free(o);
    o = zen_optimizer_new(ctx, "AdamW", "{\"amsgrad\": true}");
    CHECK(o->hp.weight_decay == 0.004f && o->type->slots(o) == 3);
    zen_optimizer_free(o);
    o = zen_optimizer_new(ctx, "SGD", NULL);
    CHECK(o->hp.momentum == 0 && !o->hp.nesterov && o->type->slots(o) == 0);
    zen_optimizer_free(o);
    o = zen_optimizer_new(ctx, "RMSprop", NULL);
    CHECK(o->hp.rho == 0.9f && o->hp.momentum == 0 && o->hp.epsilon == 1e-7f && !o->hp.centered &&
          o->type->slots(o) == 1);
    zen_optimizer_free(o);
    o = zen_optimizer_new(ctx, "RMSprop", "{\"momentum\": 0.5, \"centered\": true}");
    CHECK(o->type->slots(o) == 3);
    zen_optimizer_free(o);
    /* Adagrad's accumulator starts at initial_accumulator_value (the init hook). */
    o = zen_optimizer_new(ctx, "Adagrad", NULL);
    CHECK(o->hp.initial_accumulator == 0.1f && o->hp.epsilon == 1e-7f);
    zen_tensor *w = zen_param(ctx, ZEN_F32, 1, (int64_t[]){3});
    w->grad = zen_const(ctx, ZEN_F32, 1, (int64_t[]){3});
    CHECK(zen_optimizer_step(o, 1, &w) == 0);
    for (int i = 0; i < 3; i++) CHECK(o->params[0].slot[0][i] == 0.1f);
    zen_optimizer_free(o);
    /* A config as Keras's get_config writes it (base arguments off) is accepted. */
    o = zen_optimizer_new(ctx, "Adam",
                          "{\"name\": \"adam\", \"learning_rate\": 0.002, \"weight_decay\": null, \"clipnorm\": null, "
                          "\"global_clipnorm\": null, \"clipvalue\": null, \"use_ema\": false, \"ema_momentum\": 0.99, "
                          "\"ema_overwrite_frequency\": null, \"loss_scale_factor\": null, "
                          "\"gradient_accumulation_steps\": null, \"beta_1\": 0.9, \"beta_2\": 0.999, "
                          "\"epsilon\": 1e-07, \"amsgrad\": false}");
    CHECK_OK(ctx, o);
    if (o) CHECK_NEAR(zen_optimizer_lr(o), 0.002, 1e-9);
    zen_optimizer_free(o);
    zen_ctx_free(ctx);
}

/* ---- clipping: SGD with lr 1 from zero weights gives w = -clip(g) ---- */

TEST(test_clipping) {
    const char *const *cases = fx_cases(f, "clip_");
    int n = 0;
    for (; cases[n]; n++) {
        const char *name = cases[n];
        char cfg[256], json[320], key[128];
        fx_text(name, "config", cfg, sizeof cfg);
        snprintf(json, sizeof json, "{\"learning_rate\": 1.0, %s", cfg + 1);
        zen_ctx *ctx = zen_ctx_new();
        zen_optimizer *opt = zen_optimizer_new(ctx, "SGD", json);
        CHECK_OK(ctx, opt);
        zen_tensor *p[NPARAMS];
        for (int k = 0; k < NPARAMS; k++) {
            snprintf(key, sizeof key, "%s.g%d", name, k);
            zen_tensor *g = fx_input(ctx, f, key);
            p[k] = zen_param(ctx, ZEN_F32, g->ndim, g->shape);
            p[k]->grad = g;
        }
        CHECK(zen_optimizer_step(opt, NPARAMS, p) == 0);
        for (int k = 0; k < NPARAMS; k++) {
            float *w = p[k]->data;
            for (int64_t i = 0; i < zen_numel(p[k]); i++) w[i] = -w[i];
            char label[160];
            snprintf(label, sizeof label, "%s g%d", name, k);
            snprintf(key, sizeof key, "%s.out%d", name, k);
            CHECK(fx_check_tensor(label, p[k], f, key, 1e-7, 1e-6) == 0);
        }
        zen_optimizer_free(opt);
        zen_ctx_free(ctx);
    }
    CHECK(n == 5);
}

/* global_clipnorm with an infinite gradient: every gradient becomes NaN, as in Keras. */
TEST(test_clipping_nonfinite) {
    zen_ctx *ctx = zen_ctx_new();
    zen_optimizer *opt = zen_optimizer_new(ctx, "SGD", "{\"global_clipnorm\": 1.0}");
    zen_tensor *p[2];
    for (int k = 0; k < 2; k++) {
        p[k] = zen_param(ctx, ZEN_F32, 1, (int64_t[]){4});
        p[k]->grad = zen_const(ctx, ZEN_F32, 1, (int64_t[]){4});
        zen_fill_f32(p[k]->grad, 1.0f);
    }
    ((float *)p[0]->grad->data)[1] = INFINITY;
    CHECK(zen_optimizer_step(opt, 2, p) == 0);
    CHECK(isnan(((float *)p[1]->data)[0]));
    zen_optimizer_free(opt);
    zen_ctx_free(ctx);
}

/* ---- schedules: lr at steps 0..19 ---- */

TEST(test_schedules) {
    const char *const *cases = fx_cases(f, "sched_");
    int n = 0;
    for (; cases[n]; n++) {
        const char *name = cases[n];
        char cfg[512], key[128];
        fx_text(name, "config", cfg, sizeof cfg);
        zen_ctx *ctx = zen_ctx_new();
        zen_optimizer *opt = zen_optimizer_new(ctx, "SGD", cfg);
        CHECK_OK(ctx, opt);
        if (!opt) {
            fprintf(stderr, "  (case %s: %s)\n", name, cfg);
            zen_ctx_free(ctx);
            continue;
        }
        snprintf(key, sizeof key, "%s.lr", name);
        zen_tensor *want = fx_input(ctx, f, key);
        zen_tensor *w = zen_param(ctx, ZEN_F32, 1, (int64_t[]){2});
        w->grad = zen_const(ctx, ZEN_F32, 1, (int64_t[]){2});
        zen_fill_f32(w->grad, 1.0f);
        int bad = 0;
        for (int s = 0; s < zen_numel(want); s++) {
            float e = ((float *)want->data)[s], lr = zen_optimizer_lr(opt);
            if (!(fabsf(lr - e) <= 1e-6f * fabsf(e) + 1e-12f)) {
                fprintf(stderr, "  %s step %d: lr %.9g, expected %.9g\n", name, s, lr, e);
                bad++;
            }
            /* the step uses that rate: w -= lr * 1 */
            float before = ((float *)w->data)[0];
            CHECK(zen_optimizer_step(opt, 1, &w) == 0);
            if (!(fabsf(before - ((float *)w->data)[0] - lr) <= 1e-6f * (fabsf(before) + lr))) bad++;
        }
        CHECK(bad == 0);
        zen_optimizer_free(opt);
        zen_ctx_free(ctx);
    }
    CHECK(n == 10);
}

/* Formulas at steps far out, through the internal schedule function. */
TEST(test_schedule_formulas) {
    zen_ctx *ctx = zen_ctx_new();
    zen_optimizer *o = zen_optimizer_new(
        ctx, "Adam",
        "{\"learning_rate\": {\"module\": \"keras.optimizers.schedules\", \"class_name\": \"ExponentialDecay\", "
        "\"config\": {\"initial_learning_rate\": 0.01, \"decay_steps\": 1000, \"decay_rate\": 0.96, "
        "\"staircase\": false, \"name\": \"ExponentialDecay\"}, \"registered_name\": null}}");
    CHECK_OK(ctx, o);
    CHECK_NEAR(zen__schedule_lr(&o->schedule, 2500), 0.01 * pow(0.96, 2.5), 1e-15);
    zen_optimizer_free(o);
    o = zen_optimizer_new(ctx, "Adam",
                          "{\"learning_rate\": {\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": "
                          "0.001, \"decay_steps\": 10000, \"alpha\": 0.1, \"warmup_target\": 0.01, "
                          "\"warmup_steps\": 500}}}");
    CHECK_OK(ctx, o);
    CHECK_NEAR(zen__schedule_lr(&o->schedule, 250), 0.001 + 0.009 * 0.5, 1e-15);
    CHECK_NEAR(zen__schedule_lr(&o->schedule, 500 + 5000), 0.01 * (0.9 * 0.5 + 0.1), 1e-15);
    CHECK_NEAR(zen__schedule_lr(&o->schedule, 1000000), 0.001, 1e-15);
    zen_optimizer_free(o);
    zen_ctx_free(ctx);
}

/* ---- set_lr ---- */

TEST(test_set_lr) {
    zen_ctx *ctx = zen_ctx_new();
    zen_optimizer *o = zen_optimizer_new(ctx, "SGD", "{\"learning_rate\": 0.5}");
    zen_tensor *w = zen_param(ctx, ZEN_F32, 1, (int64_t[]){1});
    w->grad = zen_const(ctx, ZEN_F32, 1, (int64_t[]){1});
    zen_fill_f32(w->grad, 1.0f);
    zen_optimizer_set_lr(o, 0.125f);
    CHECK(zen_optimizer_lr(o) == 0.125f);
    CHECK(zen_optimizer_step(o, 1, &w) == 0);
    CHECK(((float *)w->data)[0] == -0.125f); /* the step used the new rate */
    zen_optimizer_set_lr(o, -1.0f);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "SGD: zen_optimizer_set_lr") &&
          strstr(zen_ctx_error(ctx), "positive") && strstr(zen_ctx_error(ctx), "got -1"));
    CHECK(zen_optimizer_lr(o) == 0.125f);
    zen_ctx_clear_error(ctx);
    zen_optimizer_free(o);
    /* With a schedule, set_lr scales it: the next rates keep the schedule's shape. */
    o = zen_optimizer_new(ctx, "SGD",
                          "{\"learning_rate\": {\"class_name\": \"StepDecay\", \"config\": {\"initial_learning_rate\": "
                          "0.4, \"step_size\": 2, \"gamma\": 0.5}}}");
    CHECK_OK(ctx, o);
    zen_optimizer_set_lr(o, 0.1f);
    CHECK_NEAR(zen_optimizer_lr(o), 0.1, 1e-8);
    for (int s = 0; s < 2; s++) CHECK(zen_optimizer_step(o, 1, &w) == 0);
    CHECK_NEAR(zen_optimizer_lr(o), 0.05, 1e-8);
    zen_optimizer_free(o);
    zen_ctx_free(ctx);
}

/* ---- bad configs ---- */

static void expect_error(const char *cls, const char *cfg, const char *a, const char *b) {
    zen_ctx *ctx = zen_ctx_new();
    zen_optimizer *o = zen_optimizer_new(ctx, cls, cfg);
    const char *e = zen_ctx_error(ctx);
    if (o || !e || !strstr(e, a) || (b && !strstr(e, b))) {
        fprintf(stderr, "  %s %s: error '%s', wanted '%s'%s%s\n", cls ? cls : "(null)", cfg ? cfg : "(null)",
                e ? e : "(none)", a, b ? " and " : "", b ? b : "");
        harness_failures++;
    }
    zen_optimizer_free(o);
    zen_ctx_free(ctx);
}

TEST(test_bad_configs) {
    expect_error("Adamax", NULL, "unknown optimizer 'Adamax'", "known: SGD, Adam, AdamW, RMSprop, Adagrad");
    expect_error(NULL, NULL, "unknown optimizer '(null)'", NULL);
    expect_error("Adam", "{\"learning_rate\": -0.1}", "Adam: learning_rate must be a positive number", "got -0.1");
    expect_error("SGD", "{\"learning_rate\": 0}", "SGD: learning_rate must be a positive number", NULL);
    expect_error("SGD", "{\"learning_rate\": \"fast\"}", "SGD: learning_rate must be a positive number", NULL);
    expect_error("Adam", "{\"beta_1\": 1.5}", "Adam: beta_1 must be a number in [0, 1)", "got 1.5");
    expect_error("AdamW", "{\"beta_2\": 1}", "AdamW: beta_2 must be a number in [0, 1)", "got 1");
    expect_error("Adam", "{\"epsilon\": -1e-7}", "Adam: epsilon must be a number in [0, 1]", NULL);
    expect_error("Adam", "{\"amsgrad\": 1}", "Adam: amsgrad must be true or false", "got 1");
    expect_error("SGD", "{\"momentum\": 2}", "SGD: momentum must be a number in [0, 1]", "got 2");
    expect_error("SGD", "{\"nesterov\": \"yes\"}", "SGD: nesterov must be true or false", "got \"yes\"");
    expect_error("RMSprop", "{\"rho\": -0.5}", "RMSprop: rho must be a number in [0, 1]", NULL);
    expect_error("Adagrad", "{\"initial_accumulator_value\": -1}", "Adagrad: initial_accumulator_value", NULL);
    expect_error("SGD", "{\"weight_decay\": -0.1}", "SGD: weight_decay must be a number in [0, 1]", NULL);
    expect_error("Adam", "{\"lerning_rate\": 0.1}", "Adam: unknown argument 'lerning_rate'", "learning_rate");
    expect_error("SGD", "{\"beta_1\": 0.9}", "SGD: unknown argument 'beta_1'", "momentum, nesterov");
    expect_error("Adam", "{\"clipnorm\": 1, \"clipvalue\": 1}", "only one of clipnorm, clipvalue and global_clipnorm",
                 NULL);
    expect_error("Adam", "{\"clipnorm\": -1}", "Adam: clipnorm must be a number in [0, inf]", NULL);
    expect_error("Adam", "{\"use_ema\": true}", "Adam: use_ema is not supported", NULL);
    expect_error("Adam", "{\"decay\": 0.01}", "decay is no longer supported", NULL);
    expect_error("Adam", "{\"gradient_accumulation_steps\": 0}", "gradient_accumulation_steps must be a whole number", NULL);
    expect_error("Adam", "[1, 2]", "Adam config is not a JSON object", NULL);
    expect_error("Adam", "{\"learning_rate\": ", "Adam config is not a JSON object", NULL);
    /* schedules */
    expect_error("SGD", "{\"learning_rate\": {\"class_name\": \"PolynomialDecay\", \"config\": {}}}",
                 "SGD: unknown learning_rate schedule 'PolynomialDecay'", "ExponentialDecay, StepDecay");
    expect_error("SGD", "{\"learning_rate\": {\"class_name\": \"ExponentialDecay\"}}",
                 "learning_rate must be a positive number or a schedule", NULL);
    expect_error("SGD",
                 "{\"learning_rate\": {\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": "
                 "0.1, \"decay_rate\": 0.5}}}",
                 "SGD: learning_rate ExponentialDecay needs decay_steps", NULL);
    expect_error("SGD",
                 "{\"learning_rate\": {\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": "
                 "0.1, \"decay_steps\": 0, \"decay_rate\": 0.5}}}",
                 "ExponentialDecay: decay_steps must be a positive number", "got 0");
    expect_error("SGD",
                 "{\"learning_rate\": {\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": "
                 "-0.1, \"decay_steps\": 10, \"decay_rate\": 0.5}}}",
                 "initial_learning_rate must be a positive number", "got -0.1");
    expect_error("SGD",
                 "{\"learning_rate\": {\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": "
                 "0.1, \"decay_steps\": 10, \"decay_rate\": 0.5, \"staircase\": 1}}}",
                 "staircase must be true or false", NULL);
    expect_error("SGD",
                 "{\"learning_rate\": {\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": "
                 "0.1, \"decay_steps\": 10, \"decay_rate\": 0.5, \"decay\": 1}}}",
                 "SGD: unknown argument 'decay' in learning_rate ExponentialDecay", NULL);
    expect_error("SGD",
                 "{\"learning_rate\": {\"class_name\": \"StepDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
                 "\"step_size\": 2.5}}}",
                 "step_size must be a whole number of steps", NULL);
    expect_error("SGD",
                 "{\"learning_rate\": {\"class_name\": \"PiecewiseConstantDecay\", \"config\": {\"boundaries\": [10, "
                 "20], \"values\": [0.1, 0.01]}}}",
                 "PiecewiseConstantDecay needs 1 to 32 boundaries and one more values", "got 2 and 2");
    expect_error("SGD",
                 "{\"learning_rate\": {\"class_name\": \"PiecewiseConstantDecay\", \"config\": {\"boundaries\": [20, "
                 "10], \"values\": [0.1, 0.01, 0.001]}}}",
                 "boundaries must increase", NULL);
    expect_error("SGD",
                 "{\"learning_rate\": {\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
                 "\"decay_steps\": 0}}}",
                 "CosineDecay: decay_steps must be a positive number", NULL);
    expect_error("SGD",
                 "{\"learning_rate\": {\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": 0.1, "
                 "\"decay_steps\": 10, \"alpha\": 2}}}",
                 "alpha must be in [0, 1]", NULL);
}

/* Step errors: wrong parameter list, missing gradient. */
TEST(test_step_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_optimizer *o = zen_optimizer_new(ctx, "Adam", NULL);
    zen_tensor *a = zen_param(ctx, ZEN_F32, 1, (int64_t[]){3}), *b = zen_param(ctx, ZEN_F32, 1, (int64_t[]){3});
    zen_set_name(a, "dense/kernel");
    CHECK(zen_optimizer_step(o, 1, &a) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "Adam: parameter 0 (dense/kernel) has no dense f32 gradient"));
    zen_ctx_clear_error(ctx);
    a->grad = zen_const(ctx, ZEN_F32, 1, (int64_t[]){2});
    CHECK(zen_optimizer_step(o, 1, &a) == -1);
    zen_ctx_clear_error(ctx);
    a->grad = zen_const(ctx, ZEN_F32, 1, (int64_t[]){3});
    b->grad = a->grad;
    CHECK(zen_optimizer_step(o, 1, &a) == 0);
    CHECK(zen_optimizer_step(o, 1, &b) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "step called with another parameter list"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_optimizer_step(o, 0, NULL) == -1);
    zen_optimizer_free(o);
    zen_ctx_free(ctx);
}

/* ---- threads: a 1.2M-element tensor (plus small ones) on 2 threads equals 1 thread ---- */

TEST(test_threaded_step) {
    const char *configs[][2] = {
        {"Adam", "{\"amsgrad\": true, \"weight_decay\": 0.01, \"global_clipnorm\": 50.0}"},
        {"RMSprop", "{\"centered\": true, \"momentum\": 0.9, \"clipnorm\": 10.0}"},
        {"SGD", "{\"momentum\": 0.9, \"nesterov\": true, \"clipvalue\": 0.5}"},
        {"Adagrad", NULL},
    };
    const int64_t sizes[] = {1200007, 5, 40000};
    for (int c = 0; c < 4; c++) {
        zen_ctx *ctx[2];
        zen_tensor *p[2][3];
        zen_optimizer *o[2];
        zen_rng rng;
        for (int r = 0; r < 2; r++) {
            ctx[r] = zen_ctx_new();
            zen_ctx_set_threads(ctx[r], r ? 2 : 1);
            o[r] = zen_optimizer_new(ctx[r], configs[c][0], configs[c][1]);
            CHECK_OK(ctx[r], o[r]);
            zen_rng_seed(&rng, 5);
            for (int k = 0; k < 3; k++) {
                p[r][k] = zen_param(ctx[r], ZEN_F32, 1, &sizes[k]);
                p[r][k]->grad = zen_const(ctx[r], ZEN_F32, 1, &sizes[k]);
                zen_rng_fill_normal(&rng, p[r][k], 0, 1);
            }
        }
        /* Adagrad (no clipping) is also followed element by element here, which checks that
         * every chunk of the big tensor updates its own slice of weights and state. */
        float *ref = NULL, *acc = NULL;
        if (c == 3) {
            ref = malloc((size_t)sizes[0] * sizeof *ref);
            acc = malloc((size_t)sizes[0] * sizeof *acc);
            memcpy(ref, p[0][0]->data, (size_t)sizes[0] * sizeof *ref);
            for (int64_t i = 0; i < sizes[0]; i++) acc[i] = 0.1f;
        }
        for (int s = 0; s < 3; s++) {
            for (int r = 0; r < 2; r++) {
                zen_rng_seed(&rng, 100 + (uint64_t)s);
                for (int k = 0; k < 3; k++) zen_rng_fill_normal(&rng, p[r][k]->grad, 0, 0.1f);
                CHECK(zen_optimizer_step(o[r], 3, p[r]) == 0);
            }
            const float *g = p[0][0]->grad->data;
            for (int64_t i = 0; ref && i < sizes[0]; i++) {
                acc[i] += g[i] * g[i];
                ref[i] -= 1e-3f * g[i] / sqrtf(acc[i] + 1e-7f);
            }
        }
        for (int k = 0; k < 3; k++) CHECK(!memcmp(p[0][k]->data, p[1][k]->data, (size_t)sizes[k] * sizeof(float)));
        /* and the update did something */
        CHECK(((float *)p[0][0]->data)[123] != 0);
        if (ref) {
            int64_t bad = 0;
            const float *w = p[0][0]->data;
            for (int64_t i = 0; i < sizes[0]; i++) bad += !(fabsf(w[i] - ref[i]) <= 1e-6f * fabsf(ref[i]) + 1e-7f);
            CHECK(bad == 0);
        }
        free(ref);
        free(acc);
        for (int r = 0; r < 2; r++) {
            zen_optimizer_free(o[r]);
            zen_ctx_free(ctx[r]);
        }
    }
}

/* ---- ReduceLROnPlateau ---- */

/* Its on_epoch_end with synthetic logs; the expected rates come from Keras 3's algorithm
 * (keras.callbacks.ReduceLROnPlateau, simulated in Python for this sequence). */
TEST(test_reduce_lr_on_plateau_hook) {
    zen_ctx *ctx = zen_ctx_new();
    zen_optimizer *o = zen_optimizer_new(ctx, "SGD", "{\"learning_rate\": 0.1}");
    zen_callback *cb = zen_reduce_lr_on_plateau("val_loss", 0.5f, 2, 0.01f, 2, 0.02f);
    CHECK(cb && cb->on_epoch_end);
    zen_fit_state st = {.opt = o};
    /* NaN: val_loss missing from the logs that epoch (skipped, cooldown not counted) */
    const double seq[] = {1.0, 1.0, 1.1, 1.2, 0.9, 0.95, 0.9, NAN, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.5, 0.6, 0.6};
    const double want[] = {0.1,   0.1,   0.05,  0.05,  0.05, 0.05, 0.025, 0.025, 0.025,
                           0.025, 0.02,  0.02,  0.02,  0.02, 0.02, 0.02,  0.02};
    for (int e = 0; e < 17; e++) {
        zen_metrics logs = {0};
        logs.n = 1;
        snprintf(logs.names[0], sizeof logs.names[0], "%s", isnan(seq[e]) ? "loss" : "val_loss");
        logs.values[0] = isnan(seq[e]) ? 1.0 : seq[e];
        CHECK(cb->on_epoch_end(cb, &st, e, &logs) == 0);
        if (zen_optimizer_lr(o) != (float)want[e]) { /* float steps, as Keras's float32 variable */
            fprintf(stderr, "  epoch %d: lr %.9g, expected %.9g\n", e, zen_optimizer_lr(o), want[e]);
            harness_failures++;
        }
    }
    zen_callback_free(cb);
    /* factor must be in (0, 1) */
    CHECK(zen_reduce_lr_on_plateau("val_loss", 1.5f, 2, 0, 0, 0) == NULL);
    zen_optimizer_free(o);
    zen_ctx_free(ctx);
}

/* Through fit: a loss that never improves by min_delta halves the rate every epoch after
 * the first until min_lr; the history's learning_rate is the rate each epoch trained with. */
TEST(test_reduce_lr_on_plateau_fit) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "tiny");
    zen_model_input(m, 1, (int64_t[]){2});
    zen_model_add(m, zen_layer_dense(ctx, 1, NULL));
    CHECK(zen_model_build(m, 1) == 0);
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "SGD", "{\"learning_rate\": 0.1}"), "mse", 0, NULL) == 0);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){16, 2}), *y = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){16, 1});
    for (int i = 0; i < 16; i++) {
        ((float *)x->data)[2 * i] = (float)i / 16;
        ((float *)x->data)[2 * i + 1] = 1.0f - (float)i / 16;
        ((float *)y->data)[i] = (float)(i % 3);
    }
    zen_dataset *d = zen_dataset_new(ctx, x, y);
    zen_callback *cb = zen_reduce_lr_on_plateau("loss", 0.5f, 1, 1e9f, 0, 0.02f);
    zen_fit_opts opts = zen_fit_defaults();
    opts.epochs = 5;
    opts.batch_size = 16;
    opts.verbose = 0;
    opts.callbacks = &cb;
    opts.ncallbacks = 1;
    zen_history *h = zen_model_fit(m, d, &opts);
    CHECK_OK(ctx, h);
    if (h) {
        const double want[] = {0.1, 0.1, 0.05, 0.025, 0.02};
        CHECK(h->epochs == 5);
        for (int e = 0; e < h->epochs && e < 5; e++)
            CHECK_NEAR(zen_metrics_get(&h->logs[e], "learning_rate"), want[e], 1e-8);
    }
    zen_history_free(h);
    zen_callback_free(cb);
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("optimizers.safetensors");
    int rc = RUN_TESTS(test_optimizer_fixtures, test_defaults, test_clipping, test_clipping_nonfinite, test_schedules,
                       test_schedule_formulas, test_set_lr, test_bad_configs, test_step_errors, test_threaded_step,
                       test_reduce_lr_on_plateau_hook, test_reduce_lr_on_plateau_fit);
    fx_close(f);
    return rc;
}
