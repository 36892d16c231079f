/* fit's semantics: validation_split takes exactly the last fraction (Keras's floor, with
 * the decimal the user wrote), the partial final batch is trained, seeded shuffling and
 * dropout are reproducible bit for bit, initial_epoch resumes exactly, a NaN/Inf loss
 * stops with a message naming epoch and step, user hooks are called per batch and epoch
 * and can stop training; predict (also uncompiled); argument errors; and a small MLP
 * learning two spirals. */
#include "harness.h"

#include <string.h>

static void expect_error(zen_ctx *ctx, const char *what, const char *needle) {
    const char *e = zen_ctx_error(ctx);
    if (!e || !strstr(e, needle)) {
        fprintf(stderr, "  %s: expected an error containing '%s', got '%s'\n", what, needle, e ? e : "(none)");
        harness_failures++;
    }
    zen_ctx_clear_error(ctx);
}

/* Input(in) -> Dense(units, act) [-> Dropout -> Dense(out, act2)] */
static zen_model *mlp(zen_ctx *ctx, int in, int hidden, float dropout, int out, const char *out_act, uint64_t seed) {
    zen_model *m = zen_model_new(ctx, "mlp");
    zen_model_input(m, 1, (int64_t[]){in});
    if (hidden) {
        zen_model_add(m, zen_layer_dense(ctx, hidden, "relu"));
        if (dropout > 0) zen_model_add(m, zen_layer_dropout(ctx, dropout));
    }
    zen_model_add(m, zen_layer_dense(ctx, out, out_act));
    zen_model_build(m, seed);
    return m;
}

static zen_optimizer *adam(zen_ctx *ctx, double lr) {
    char cfg[64];
    snprintf(cfg, sizeof cfg, "{\"learning_rate\": %.17g}", lr);
    return zen_optimizer_new(ctx, "Adam", cfg);
}

/* All weights of a model, concatenated (malloc'd), and their count. */
static float *weights(zen_model *m, int64_t *n) {
    int64_t total = 0;
    for (int i = 0; i < zen_model_n_layers(m); i++)
        for (int w = 0; w < zen_layer_n_weights(zen_model_layer(m, i)); w++)
            total += zen_numel(zen_layer_weight(zen_model_layer(m, i), w, NULL, NULL));
    float *buf = malloc((size_t)(total ? total : 1) * sizeof *buf), *p = buf;
    for (int i = 0; i < zen_model_n_layers(m); i++)
        for (int w = 0; w < zen_layer_n_weights(zen_model_layer(m, i)); w++) {
            zen_tensor *t = zen_layer_weight(zen_model_layer(m, i), w, NULL, NULL);
            memcpy(p, t->data, zen_nbytes(t));
            p += zen_numel(t);
        }
    *n = total;
    return buf;
}

static bool same_weights(zen_model *a, zen_model *b) {
    int64_t na, nb;
    float *wa = weights(a, &na), *wb = weights(b, &nb);
    bool same = na == nb && memcmp(wa, wb, (size_t)na * sizeof *wa) == 0;
    free(wa);
    free(wb);
    return same;
}

/* x [n, in] f32 from a seeded normal, y per kind: 0 regression f32 [n, out] = sum of x,
 * 1 sparse class labels i32 [n] = argmax-ish of x. */
static zen_dataset *random_data(zen_ctx *ctx, int64_t n, int in, int out, int kind, uint64_t seed) {
    zen_rng r;
    zen_rng_seed(&r, seed);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){n, in});
    zen_array *y = kind == 0 ? zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){n, out}) : zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){n});
    float *xd = x->data;
    for (int64_t i = 0; i < n * in; i++) xd[i] = zen_rng_normal(&r);
    for (int64_t i = 0; i < n; i++) {
        float s = 0;
        for (int j = 0; j < in; j++) s += xd[i * in + j];
        if (kind == 0)
            for (int k = 0; k < out; k++) ((float *)y->data)[i * out + k] = s * (float)(k + 1);
        else ((int32_t *)y->data)[i] = (int32_t)((s > 0) + (s > 1)) % out;
    }
    return zen_dataset_new(ctx, x, y);
}

/* ---- a recording user callback ---- */

typedef struct {
    int batch_calls, epoch_calls;
    int last_batch[64]; /* per epoch: the last batch index seen */
    int epochs_seen[64];
    int stop_at_epoch, stop_at_batch; /* -1: never */
    int stop_in_epoch;
    zen_metrics epoch_logs[64];
} recorder;

static int rec_batch(void *user, int epoch, int batch, const zen_metrics *logs) {
    recorder *r = user;
    (void)logs;
    if (epoch >= 0 && epoch < 64) r->last_batch[epoch] = batch;
    r->batch_calls++;
    return epoch == r->stop_in_epoch && batch == r->stop_at_batch;
}

static int rec_epoch(void *user, int epoch, const zen_metrics *logs) {
    recorder *r = user;
    if (r->epoch_calls < 64) {
        r->epochs_seen[r->epoch_calls] = epoch;
        r->epoch_logs[r->epoch_calls] = *logs;
    }
    r->epoch_calls++;
    return epoch == r->stop_at_epoch;
}

static zen_callback *recorder_callback(recorder *r) {
    memset(r, 0, sizeof *r);
    r->stop_at_epoch = r->stop_at_batch = r->stop_in_epoch = -1;
    return zen_lambda_callback((zen_callback_hooks){.user = r, .on_batch_end = rec_batch, .on_epoch_end = rec_epoch});
}

static zen_fit_opts quiet(int epochs, int batch_size) {
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = epochs;
    o.batch_size = batch_size;
    o.verbose = 0;
    return o;
}

/* ---- validation_split ---- */

/* N = 53, split 0.2: Keras trains on floor(53 * 0.8) = 42 samples and validates on the LAST
 * 11. With outputs pinned at 0 (zero weights, a negligible learning rate) and targets
 * y_i = i, the losses are means of i^2 over exactly those index sets. */
TEST(test_validation_split_is_the_last_fraction) {
    zen_ctx *ctx = zen_ctx_new();
    const int64_t n = 53;
    zen_model *m = mlp(ctx, 1, 0, 0, 1, NULL, 1);
    for (int w = 0; w < 2; w++) {
        zen_tensor *t = zen_layer_weight(zen_model_layer(m, 1), w, NULL, NULL);
        memset(t->data, 0, zen_nbytes(t));
    }
    CHECK(zen_model_compile(m, adam(ctx, 1e-12), "mse", 0, NULL) == 0);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){n, 1}), *y = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){n, 1});
    for (int64_t i = 0; i < n; i++) ((float *)y->data)[i] = (float)i; /* x stays 0 */
    zen_dataset *d = zen_dataset_new(ctx, x, y);
    for (int shuffle = 0; shuffle < 2; shuffle++) {
        recorder rec;
        zen_callback *cb = recorder_callback(&rec);
        zen_fit_opts o = quiet(2, 8);
        o.validation_split = 0.2f;
        o.shuffle = shuffle;
        o.seed = 3;
        o.callbacks = &cb;
        o.ncallbacks = 1;
        zen_history *h = zen_model_fit(m, d, &o);
        CHECK_OK(ctx, h);
        double train = 0, val = 0;
        for (int i = 0; i < 42; i++) train += (double)i * i;
        for (int i = 42; i < 53; i++) val += (double)i * i;
        train /= 42, val /= 11;
        CHECK(h && h->epochs == 2);
        for (int e = 0; h && e < 2; e++) {
            CHECK_NEAR(zen_metrics_get(&h->logs[e], "loss"), train, 1e-6 * train);
            CHECK_NEAR(zen_metrics_get(&h->logs[e], "val_loss"), val, 1e-6 * val);
        }
        /* 42 samples in batches of 8: 6 steps (the last of 2 samples) per epoch */
        CHECK(rec.batch_calls == 12 && rec.last_batch[0] == 5 && rec.last_batch[1] == 5);
        zen_history_free(h);
        zen_callback_free(cb);
    }
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* The split uses the decimal the user wrote: N = 100 with 0.1 trains on 90 (a float
 * widened to double would give 89), N = 10 with 0.3 on 7. */
TEST(test_validation_split_rounding) {
    struct {
        int64_t n;
        float split;
        int train;
    } cases[] = {{100, 0.1f, 90}, {10, 0.3f, 7}, {53, 0.2f, 42}, {7, 0.5f, 3}};
    for (int c = 0; c < 4; c++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_model *m = mlp(ctx, 2, 0, 0, 1, NULL, 1);
        CHECK(zen_model_compile(m, adam(ctx, 1e-3), "mse", 0, NULL) == 0);
        zen_dataset *d = random_data(ctx, cases[c].n, 2, 1, 0, 9);
        recorder rec;
        zen_callback *cb = recorder_callback(&rec);
        zen_fit_opts o = quiet(1, 1); /* one step per training sample */
        o.validation_split = cases[c].split;
        o.callbacks = &cb;
        o.ncallbacks = 1;
        zen_history *h = zen_model_fit(m, d, &o);
        CHECK_OK(ctx, h);
        if (rec.batch_calls != cases[c].train)
            fprintf(stderr, "  N %lld split %g: %d training samples, Keras has %d\n", (long long)cases[c].n,
                    cases[c].split, rec.batch_calls, cases[c].train);
        CHECK(rec.batch_calls == cases[c].train);
        zen_history_free(h);
        zen_callback_free(cb);
        zen_dataset_free(d);
        zen_model_free(m);
        zen_ctx_free(ctx);
    }
}

/* ---- the partial final batch ---- */

/* N = 10, batch 4: 3 steps per epoch (4, 4, 2). Only samples 8 and 9 (the last, partial
 * batch without shuffling) carry a kernel gradient; the kernel moves only if it is trained. */
TEST(test_partial_batch_is_trained) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = mlp(ctx, 1, 0, 0, 1, NULL, 1);
    zen_tensor *k = zen_layer_weight(zen_model_layer(m, 1), 0, NULL, NULL);
    zen_tensor *b = zen_layer_weight(zen_model_layer(m, 1), 1, NULL, NULL);
    ((float *)k->data)[0] = 0.25f;
    zen_optimizer *opt = adam(ctx, 0.01);
    CHECK(zen_model_compile(m, opt, "mse", 0, NULL) == 0);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){10, 1}), *y = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){10, 1});
    ((float *)x->data)[8] = ((float *)x->data)[9] = 1;
    ((float *)y->data)[8] = ((float *)y->data)[9] = 1;
    zen_dataset *d = zen_dataset_new(ctx, x, y);
    recorder rec;
    zen_callback *cb = recorder_callback(&rec);
    zen_fit_opts o = quiet(1, 4);
    o.shuffle = false;
    o.callbacks = &cb;
    o.ncallbacks = 1;
    zen_history *h = zen_model_fit(m, d, &o);
    CHECK_OK(ctx, h);
    CHECK(zen_optimizer_iterations(opt) == 3);
    CHECK(rec.batch_calls == 3 && rec.last_batch[0] == 2);
    /* batches 0 and 1: output 0 + b = target 0, zero gradients; batch 2 raises k and b */
    CHECK(((float *)k->data)[0] > 0.25f);
    CHECK(((float *)b->data)[0] > 0);
    zen_history_free(h);
    /* two more epochs: 3 more steps each */
    o.epochs = 3;
    o.initial_epoch = 1;
    h = zen_model_fit(m, d, &o);
    CHECK(zen_optimizer_iterations(opt) == 9);
    CHECK(rec.batch_calls == 9);
    zen_history_free(h);
    zen_callback_free(cb);
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- reproducibility ---- */

static zen_model *trained(zen_ctx *ctx, zen_dataset *d, uint64_t fit_seed, bool shuffle, int epochs, int initial,
                          zen_model *resume) {
    zen_model *m = resume;
    if (!m) {
        m = mlp(ctx, 4, 16, 0.3f, 3, "softmax", 11);
        const char *acc[] = {"accuracy"};
        CHECK(zen_model_compile(m, adam(ctx, 0.01), "sparse_categorical_crossentropy", 1, acc) == 0);
    }
    zen_fit_opts o = quiet(epochs, 8);
    o.seed = fit_seed;
    o.shuffle = shuffle;
    o.initial_epoch = initial;
    zen_history *h = zen_model_fit(m, d, &o);
    CHECK_OK(ctx, h);
    zen_history_free(h);
    return m;
}

/* Two fits from the same initial weights with the same seed give the same weights bit for
 * bit (shuffle orders and dropout masks); another seed, or no shuffling, gives others. */
TEST(test_seeded_fit_is_reproducible) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d = random_data(ctx, 45, 4, 3, 1, 5);
    zen_model *a = trained(ctx, d, 7, true, 3, 0, NULL), *b = trained(ctx, d, 7, true, 3, 0, NULL);
    zen_model *c = trained(ctx, d, 8, true, 3, 0, NULL), *e = trained(ctx, d, 7, false, 3, 0, NULL);
    CHECK(same_weights(a, b));
    CHECK(!same_weights(a, c));
    CHECK(!same_weights(a, e));
    /* dropout alone (no shuffling) also follows the seed */
    zen_model *f1 = trained(ctx, d, 1, false, 1, 0, NULL), *f2 = trained(ctx, d, 2, false, 1, 0, NULL);
    zen_model *f3 = trained(ctx, d, 1, false, 1, 0, NULL);
    CHECK(!same_weights(f1, f2));
    CHECK(same_weights(f1, f3));
    zen_model *all[] = {a, b, c, e, f1, f2, f3};
    for (int i = 0; i < 7; i++) zen_model_free(all[i]);
    zen_dataset_free(d);
    zen_ctx_free(ctx);
}

/* fit(epochs=1) then fit(epochs=3, initial_epoch=1) ends where fit(epochs=3) does, bit for
 * bit: the resumed run replays the shuffles and draws the same dropout masks. */
TEST(test_initial_epoch_resumes_exactly) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d = random_data(ctx, 45, 4, 3, 1, 5);
    zen_model *straight = trained(ctx, d, 21, true, 3, 0, NULL);
    zen_model *resumed = trained(ctx, d, 21, true, 1, 0, NULL);
    recorder rec;
    zen_callback *cb = recorder_callback(&rec);
    zen_fit_opts o = quiet(3, 8);
    o.seed = 21;
    o.initial_epoch = 1;
    o.callbacks = &cb;
    o.ncallbacks = 1;
    zen_history *h = zen_model_fit(resumed, d, &o);
    CHECK_OK(ctx, h);
    CHECK(h && h->epochs == 2 && h->first_epoch == 1);
    CHECK(rec.epoch_calls == 2 && rec.epochs_seen[0] == 1 && rec.epochs_seen[1] == 2);
    CHECK(same_weights(straight, resumed));
    /* initial_epoch >= epochs: nothing to do, an empty history */
    zen_history_free(h);
    o.initial_epoch = 3;
    h = zen_model_fit(resumed, d, &o);
    CHECK(h && h->epochs == 0 && rec.epoch_calls == 2);
    zen_history_free(h);
    zen_callback_free(cb);
    zen_model_free(straight);
    zen_model_free(resumed);
    zen_dataset_free(d);
    zen_ctx_free(ctx);
}

/* ---- NaN / Inf ---- */

TEST(test_nonfinite_loss_stops_training) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = mlp(ctx, 4, 0, 0, 2, NULL, 1);
    zen_optimizer *opt = adam(ctx, 1e30); /* the first step throws the weights to ~1e30 */
    CHECK(zen_model_compile(m, opt, "mse", 0, NULL) == 0);
    zen_dataset *d = random_data(ctx, 40, 4, 2, 0, 2);
    recorder rec;
    zen_callback *cb = recorder_callback(&rec);
    zen_fit_opts o = quiet(5, 8);
    o.callbacks = &cb;
    o.ncallbacks = 1;
    fprintf(stderr, "  (a message about the loss on the next line is expected)\n");
    zen_history *h = zen_model_fit(m, d, &o);
    CHECK(h != NULL);
    const char *e = zen_ctx_error(ctx);
    CHECK(e && strstr(e, "the loss became Inf at epoch 1, step 2 of 5; training stopped"));
    if (e && !strstr(e, "epoch 1, step 2")) fprintf(stderr, "  got: %s\n", e);
    CHECK(h && h->stopped_early && h->epochs == 0);
    CHECK(zen_optimizer_iterations(opt) == 1); /* the bad step is not applied */
    CHECK(rec.batch_calls == 1 && rec.epoch_calls == 0);
    zen_history_free(h);
    zen_callback_free(cb);
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- user hooks ---- */

TEST(test_user_hooks) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d = random_data(ctx, 20, 3, 1, 0, 4);
    zen_model *m = mlp(ctx, 3, 0, 0, 1, NULL, 1);
    zen_optimizer *opt = adam(ctx, 0.01);
    CHECK(zen_model_compile(m, opt, "mse", 0, NULL) == 0);
    recorder rec;
    zen_callback *cb = recorder_callback(&rec);
    zen_fit_opts o = quiet(4, 6); /* 4 steps per epoch: 6 6 6 2 */
    o.callbacks = &cb;
    o.ncallbacks = 1;
    zen_history *h = zen_model_fit(m, d, &o);
    CHECK(rec.batch_calls == 16 && rec.epoch_calls == 4 && h && h->epochs == 4 && !h->stopped_early);
    for (int e = 0; e < 4; e++) CHECK(rec.epochs_seen[e] == e && rec.last_batch[e] == 3);
    /* the epoch logs the hook saw are the history's */
    for (int e = 0; h && e < 4; e++)
        CHECK(rec.epoch_logs[e].n == h->logs[e].n && rec.epoch_logs[e].values[0] == h->logs[e].values[0]);
    zen_history_free(h);

    /* stopping from the batch hook: after batch 1 of epoch 0, two steps in all; the epoch
     * still ends (its logs and epoch hooks), as Keras's stop_training */
    zen_callback_free(cb);
    cb = recorder_callback(&rec);
    rec.stop_in_epoch = 0;
    rec.stop_at_batch = 1;
    int64_t it0 = zen_optimizer_iterations(opt);
    h = zen_model_fit(m, d, &o);
    CHECK(zen_optimizer_iterations(opt) - it0 == 2);
    CHECK(rec.batch_calls == 2 && rec.epoch_calls == 1 && h && h->epochs == 1 && h->stopped_early);
    zen_history_free(h);

    /* stopping from the epoch hook at epoch 1 */
    zen_callback_free(cb);
    cb = recorder_callback(&rec);
    rec.stop_at_epoch = 1;
    it0 = zen_optimizer_iterations(opt);
    h = zen_model_fit(m, d, &o);
    CHECK(zen_optimizer_iterations(opt) - it0 == 8);
    CHECK(rec.epoch_calls == 2 && h && h->epochs == 2 && h->stopped_early);
    zen_history_free(h);

    /* a NULL hook is fine; several callbacks are all called */
    recorder rec2;
    zen_callback *cb2 = recorder_callback(&rec2);
    zen_callback *none = zen_lambda_callback((zen_callback_hooks){0});
    zen_callback *cbs[3] = {cb, none, cb2};
    zen_callback_free(cb);
    cbs[0] = cb = recorder_callback(&rec);
    o.callbacks = cbs;
    o.ncallbacks = 3;
    o.epochs = 2;
    h = zen_model_fit(m, d, &o);
    CHECK(rec.batch_calls == 8 && rec2.batch_calls == 8 && rec2.epoch_calls == 2);
    zen_history_free(h);
    zen_callback_free(cb);
    zen_callback_free(cb2);
    zen_callback_free(none);
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- predict ---- */

TEST(test_predict) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = mlp(ctx, 3, 0, 0, 2, NULL, 5);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){10, 3});
    for (int i = 0; i < 30; i++) ((float *)x->data)[i] = (float)(i % 7) - 3;
    /* uncompiled, as Keras allows; batches 4 4 2 */
    zen_array *p = zen_model_predict(m, x, 4);
    CHECK_OK(ctx, p);
    CHECK(p && p->ndim == 2 && p->shape[0] == 10 && p->shape[1] == 2);
    zen_tensor *k = zen_layer_weight(zen_model_layer(m, 1), 0, NULL, NULL), *b = zen_layer_weight(zen_model_layer(m, 1), 1, NULL, NULL);
    ((float *)b->data)[1] = 0.5f;
    zen_array_free(p);
    p = zen_model_predict(m, x, 4);
    for (int i = 0; p && i < 10; i++)
        for (int u = 0; u < 2; u++) {
            double want = ((float *)b->data)[u];
            for (int j = 0; j < 3; j++) want += (double)((float *)k->data)[u * 3 + j] * ((float *)x->data)[i * 3 + j];
            CHECK_NEAR(((float *)p->data)[i * 2 + u], want, 1e-5);
        }
    /* the same with another batch size, and after compiling */
    CHECK(zen_model_compile(m, adam(ctx, 0.1), "mse", 0, NULL) == 0);
    zen_array *p2 = zen_model_predict(m, x, 3);
    CHECK(p && p2 && memcmp(p->data, p2->data, 20 * sizeof(float)) == 0);
    zen_array *bad = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){10, 4});
    CHECK(zen_model_predict(m, bad, 4) == NULL);
    expect_error(ctx, "predict shape", "samples have shape (10, 4), the model's input is (N, 3)");
    zen_array *xi = zen_array_new(ctx, ZEN_I32, 2, (int64_t[]){10, 3});
    CHECK(zen_model_predict(m, xi, 4) == NULL);
    expect_error(ctx, "predict dtype", "samples are i32, the model's input is f32");
    CHECK(zen_model_predict(m, x, 0) == NULL);
    expect_error(ctx, "predict batch", "batch_size must be positive");
    zen_array_free(p);
    zen_array_free(p2);
    zen_array_free(bad);
    zen_array_free(xi);
    zen_array_free(x);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- argument errors ---- */

TEST(test_fit_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = mlp(ctx, 3, 0, 0, 1, NULL, 5);
    zen_dataset *d = random_data(ctx, 10, 3, 1, 0, 1);
    zen_fit_opts o = quiet(1, 4);
    CHECK(zen_model_fit(m, d, &o) == NULL);
    expect_error(ctx, "uncompiled", "compile the model first");
    CHECK(zen_model_compile(m, adam(ctx, 0.1), "mse", 0, NULL) == 0);
    o.validation_split = 1.0f;
    CHECK(zen_model_fit(m, d, &o) == NULL);
    expect_error(ctx, "split 1", "validation_split must be in [0, 1), got 1");
    o.validation_split = -0.1f;
    CHECK(zen_model_fit(m, d, &o) == NULL);
    expect_error(ctx, "split < 0", "validation_split must be in [0, 1)");
    o = quiet(1, 0);
    CHECK(zen_model_fit(m, d, &o) == NULL);
    expect_error(ctx, "batch 0", "batch_size must be positive, got 0");
    o = quiet(-1, 4);
    CHECK(zen_model_fit(m, d, &o) == NULL);
    expect_error(ctx, "epochs < 0", "epochs (-1)");
    o = quiet(1, 4);
    o.ncallbacks = 2;
    CHECK(zen_model_fit(m, d, &o) == NULL);
    expect_error(ctx, "callbacks NULL", "ncallbacks is 2 but callbacks is NULL");
    /* a split that leaves no training sample */
    zen_dataset *one = random_data(ctx, 1, 3, 1, 0, 1);
    o = quiet(1, 4);
    o.validation_split = 0.5f;
    CHECK(zen_model_fit(m, one, &o) == NULL);
    CHECK(zen_ctx_error(ctx) != NULL);
    zen_ctx_clear_error(ctx);
    /* validation data that does not fit the model */
    zen_dataset *wrong = random_data(ctx, 10, 2, 1, 0, 1);
    o.validation_split = 0;
    o.validation_data = wrong;
    CHECK(zen_model_fit(m, d, &o) == NULL);
    expect_error(ctx, "validation_data shape", "zen_model_fit (validation_data): samples have shape (10, 2)");
    /* and a good fit after all that, with validation_data */
    o.validation_data = d;
    zen_history *h = zen_model_fit(m, d, &o);
    CHECK_OK(ctx, h);
    CHECK(h && !isnan(zen_metrics_get(&h->logs[0], "val_loss")));
    zen_history_free(h);
    /* two outputs: fit trains one */
    zen_model *two = zen_model_new(ctx, "two_heads");
    int in = zen_model_input(two, 1, (int64_t[]){3});
    int outs[2] = {zen_model_apply(two, zen_layer_dense(ctx, 1, NULL), 1, &in),
                   zen_model_apply(two, zen_layer_dense(ctx, 1, NULL), 1, &in)};
    CHECK(zen_model_set_outputs(two, 2, outs) == 0 && zen_model_build(two, 1) == 0);
    CHECK(zen_model_compile(two, adam(ctx, 0.1), "mse", 0, NULL) == 0);
    o = quiet(1, 4);
    CHECK(zen_model_fit(two, d, &o) == NULL);
    expect_error(ctx, "two outputs", "model 'two_heads' has 1 inputs and 2 outputs; only one of each is supported");
    zen_model_free(two);
    zen_dataset_free(one);
    zen_dataset_free(wrong);
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- learning a nonlinear task ---- */

/* Two interleaved spirals (1.5 turns each), n points per class, with Gaussian noise. */
static zen_dataset *spirals(zen_ctx *ctx, int n, uint64_t seed) {
    zen_rng r;
    zen_rng_seed(&r, seed);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){2 * n, 2}), *y = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){2 * n});
    float *xd = x->data;
    for (int i = 0; i < 2 * n; i++) {
        int c = i % 2;
        float t = 0.5f + 3.0f * 3.14159265f * zen_rng_uniform(&r), radius = t / (3.0f * 3.14159265f + 0.5f);
        float s = c ? -1.0f : 1.0f;
        xd[2 * i] = s * radius * cosf(t) + 0.02f * zen_rng_normal(&r);
        xd[2 * i + 1] = s * radius * sinf(t) + 0.02f * zen_rng_normal(&r);
        ((int32_t *)y->data)[i] = c;
    }
    return zen_dataset_new(ctx, x, y);
}

TEST(test_mlp_learns_two_spirals) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, 1); /* a model this small gains nothing from threads */
    zen_dataset *train = spirals(ctx, 200, 1), *test = spirals(ctx, 200, 2);
    zen_model *m = zen_model_new(ctx, "spirals");
    zen_model_input(m, 1, (int64_t[]){2});
    zen_model_add(m, zen_layer_dense(ctx, 32, "relu"));
    zen_model_add(m, zen_layer_dense(ctx, 32, "relu"));
    zen_model_add(m, zen_layer_dense(ctx, 2, "softmax"));
    CHECK(zen_model_build(m, 3) == 0);
    const char *acc[] = {"accuracy"};
    CHECK(zen_model_compile(m, adam(ctx, 0.01), "sparse_categorical_crossentropy", 1, acc) == 0);
    zen_fit_opts o = quiet(60, 32);
    o.seed = 5;
    o.validation_data = test;
    double t0 = zen_time_seconds();
    zen_history *h = zen_model_fit(m, train, &o);
    double seconds = zen_time_seconds() - t0;
    CHECK_OK(ctx, h);
    zen_metrics r;
    CHECK(zen_model_evaluate(m, test, 100, &r) == 0);
    double first = h ? zen_metrics_get(&h->logs[0], "val_accuracy") : 0, last = zen_metrics_get(&r, "accuracy");
    printf("  two spirals: held-out accuracy %.4f after 1 epoch, %.4f after %d (%.2f s)\n", first, last,
           h ? h->epochs : 0, seconds);
    CHECK(first < 0.8);   /* not linearly separable: it has to learn */
    CHECK(last >= 0.95);
    CHECK(h && zen_metrics_get(&h->logs[h->epochs - 1], "val_accuracy") == last);
#if defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__)
    CHECK(seconds < 10); /* typically well under a second */
#endif
    zen_history_free(h);
    zen_model_free(m);
    zen_dataset_free(train);
    zen_dataset_free(test);
    zen_ctx_free(ctx);
}

int main(void) {
    return RUN_TESTS(test_validation_split_is_the_last_fraction, test_validation_split_rounding,
                     test_partial_batch_is_trained, test_seeded_fit_is_reproducible, test_initial_epoch_resumes_exactly,
                     test_nonfinite_loss_stops_training, test_user_hooks, test_predict, test_fit_errors,
                     test_mlp_learns_two_spirals);
}
