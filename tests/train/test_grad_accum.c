/* Gradient accumulation (Keras 3's gradient_accumulation_steps): N micro-batches
 * accumulated give the same weights as one batch of all their samples, for SGD with
 * momentum, Adam with a schedule and AdamW with clipnorm, on a linear model with a mean
 * loss; iterations and the learning rate follow Keras (updates, not micro-steps); bad
 * values are rejected. */
#include "harness.h"

#include <string.h>

#include "train/train.h"

enum { IN = 5, OUT = 3, MICRO = 4, ACC = 4, BIG = MICRO * ACC, UPDATES = 6 };

/* A linear model with an MSE loss over a batch of `batch` rows; its weights are w and b. */
typedef struct lin {
    zen_ctx *ctx;
    zen_tensor *x, *y, *w, *b, *loss;
    zen_graph *g;
} lin;

static void lin_init(lin *m, int batch) {
    m->ctx = zen_ctx_new();
    m->x = zen_input(m->ctx, ZEN_F32, 2, (int64_t[]){batch, IN});
    m->y = zen_input(m->ctx, ZEN_F32, 2, (int64_t[]){batch, OUT});
    m->w = zen_param(m->ctx, ZEN_F32, 2, (int64_t[]){OUT, IN});
    m->b = zen_param(m->ctx, ZEN_F32, 1, (int64_t[]){OUT});
    zen_rng r;
    zen_rng_seed(&r, 7); /* the same start for both models */
    zen_rng_fill_normal(&r, m->w, 0, 0.5f);
    zen_rng_fill_normal(&r, m->b, 0, 0.5f);
    m->loss = zen_mse_loss(m->ctx, zen_linear(m->ctx, m->x, m->w, m->b), m->y);
    m->g = zen_graph_new(m->ctx);
    zen_graph_add(m->g, m->loss);
    zen_graph_backward(m->g, m->loss);
    zen_graph_plan(m->g);
}

static void lin_free(lin *m) {
    zen_graph_free(m->g);
    zen_ctx_free(m->ctx);
}

/* The data of update u: BIG rows of x and y (a fixed function of u). */
static void data(int u, float *x, float *y) {
    zen_rng r;
    zen_rng_seed(&r, 100 + (uint64_t)u);
    for (int i = 0; i < BIG * IN; i++) x[i] = zen_rng_normal(&r);
    for (int i = 0; i < BIG * OUT; i++) y[i] = 3 * zen_rng_normal(&r);
}

static bool expect_accumulation = true; /* off only for test_comparison_can_fail */

/* Trains the same model twice, with BIG-row batches and with ACC accumulated micro-batches
 * of MICRO rows; returns the largest weight difference. */
static double compare(const char *cls, const char *cfg, const char *cfg_acc) {
    lin big, small;
    lin_init(&big, BIG);
    lin_init(&small, MICRO);
    zen_optimizer *ob = zen_optimizer_new(big.ctx, cls, cfg);
    zen_optimizer *os = zen_optimizer_new(small.ctx, cls, cfg_acc);
    CHECK_OK(big.ctx, ob);
    CHECK_OK(small.ctx, os);
    if (!ob || !os) return INFINITY;
    zen_tensor *pb[] = {big.w, big.b}, *ps[] = {small.w, small.b};
    float x[BIG * IN], y[BIG * OUT];
    for (int u = 0; u < UPDATES; u++) {
        data(u, x, y);
        memcpy(big.x->data, x, sizeof x);
        memcpy(big.y->data, y, sizeof y);
        CHECK(zen_graph_compute(big.g) == 0);
        double lr_big = zen_optimizer_lr(ob);
        CHECK(zen_optimizer_step(ob, 2, pb) == 0);
        for (int k = 0; k < ACC; k++) {
            CHECK_NEAR(zen_optimizer_lr(os), lr_big, 1e-9); /* the update's lr, all along */
            memcpy(small.x->data, x + k * MICRO * IN, sizeof(float) * MICRO * IN);
            memcpy(small.y->data, y + k * MICRO * OUT, sizeof(float) * MICRO * OUT);
            CHECK(zen_graph_compute(small.g) == 0);
            float w_before = ((float *)small.w->data)[0];
            CHECK(zen_optimizer_step(os, 2, ps) == 0);
            /* Only the last micro-step of each group changes the weights. */
            if (!expect_accumulation) continue;
            if (k < ACC - 1) CHECK(((float *)small.w->data)[0] == w_before);
            CHECK(zen_optimizer_iterations(os) == u + (k == ACC - 1));
        }
        CHECK(zen_optimizer_iterations(ob) == u + 1);
    }
    double err = 0;
    for (int t = 0; t < 2; t++)
        for (int64_t i = 0; i < zen_numel(pb[t]); i++) {
            double d = fabs(((float *)pb[t]->data)[i] - ((float *)ps[t]->data)[i]);
            if (d > err) err = d;
        }
    zen_optimizer_free(ob);
    zen_optimizer_free(os);
    lin_free(&big);
    lin_free(&small);
    return err;
}

TEST(test_sgd_momentum) {
    double e = compare("SGD", "{\"learning_rate\": 0.05, \"momentum\": 0.9}",
                       "{\"learning_rate\": 0.05, \"momentum\": 0.9, \"gradient_accumulation_steps\": 4}");
    CHECK(e <= 2e-6);
}

TEST(test_adam_schedule) {
    const char *sched = "{\"class_name\": \"CosineDecay\", \"config\": {\"initial_learning_rate\": 0.0, "
                        "\"decay_steps\": 4, \"warmup_target\": 0.1, \"warmup_steps\": 2}}";
    char a[512], b[512];
    snprintf(a, sizeof a, "{\"learning_rate\": %s}", sched);
    snprintf(b, sizeof b, "{\"learning_rate\": %s, \"gradient_accumulation_steps\": 4}", sched);
    double e = compare("Adam", a, b);
    CHECK(e <= 2e-6);
}

TEST(test_adamw_clipnorm) {
    double e = compare("AdamW", "{\"learning_rate\": 0.05, \"clipnorm\": 0.5, \"weight_decay\": 0.1}",
                       "{\"learning_rate\": 0.05, \"clipnorm\": 0.5, \"weight_decay\": 0.1, "
                       "\"gradient_accumulation_steps\": 4}");
    CHECK(e <= 2e-6);
}

/* Without accumulation, a micro-batch run differs from the big batch: the comparison can fail. */
TEST(test_comparison_can_fail) {
    expect_accumulation = false;
    double e = compare("SGD", "{\"learning_rate\": 0.05}", "{\"learning_rate\": 0.05}");
    expect_accumulation = true;
    CHECK(e > 1e-3);
}

/* One accumulated update is the mean of the micro-gradients, exactly as Keras computes it. */
TEST(test_mean_of_gradients) {
    zen_ctx *ctx = zen_ctx_new();
    zen_optimizer *opt = zen_optimizer_new(ctx, "SGD", "{\"learning_rate\": 1.0, \"gradient_accumulation_steps\": 3}");
    CHECK_OK(ctx, opt);
    zen_tensor *p = zen_param(ctx, ZEN_F32, 1, (int64_t[]){2});
    p->grad = zen_input(ctx, ZEN_F32, 1, (int64_t[]){2});
    float *g = p->grad->data, *w = p->data;
    const float gs[3][2] = {{1, 2}, {4, -8}, {7, 0.5f}};
    for (int s = 0; s < 3; s++) {
        memcpy(g, gs[s], sizeof gs[s]);
        CHECK(zen_optimizer_step(opt, 1, &p) == 0);
    }
    CHECK_NEAR(w[0], -(1 + 4 + 7) / 3.0, 1e-6);
    CHECK_NEAR(w[1], -(2 - 8 + 0.5) / 3.0, 1e-6);
    CHECK(zen_optimizer_iterations(opt) == 1);
    /* The accumulators start again from zero. */
    for (int s = 0; s < 3; s++) {
        g[0] = 3, g[1] = 0;
        CHECK(zen_optimizer_step(opt, 1, &p) == 0);
    }
    CHECK_NEAR(w[0], -4 - 3, 1e-6);
    CHECK(zen_optimizer_iterations(opt) == 2);
    zen_optimizer_free(opt);
    zen_ctx_free(ctx);
}

TEST(test_bad_values) {
    const char *bad[] = {"0", "-2", "2.5", "\"4\"", "true"};
    for (int i = 0; i < 5; i++) {
        zen_ctx *ctx = zen_ctx_new();
        char cfg[128];
        snprintf(cfg, sizeof cfg, "{\"gradient_accumulation_steps\": %s}", bad[i]);
        CHECK(zen_optimizer_new(ctx, "Adam", cfg) == NULL);
        CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "gradient_accumulation_steps must be a whole number"));
        zen_ctx_free(ctx);
    }
    /* null and 1 mean off. */
    zen_ctx *ctx = zen_ctx_new();
    zen_optimizer *a = zen_optimizer_new(ctx, "Adam", "{\"gradient_accumulation_steps\": null}");
    zen_optimizer *b = zen_optimizer_new(ctx, "Adam", "{\"gradient_accumulation_steps\": 1}");
    CHECK(a && b && a->accum_steps == 0 && b->accum_steps == 0);
    zen_optimizer_free(a);
    zen_optimizer_free(b);
    zen_ctx_free(ctx);
}

int main(void) {
    return RUN_TESTS(test_sgd_momentum, test_adam_schedule, test_adamw_clipnorm, test_comparison_can_fail,
                     test_mean_of_gradients, test_bad_values);
}
