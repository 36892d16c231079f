/* Checkpoints: 2 epochs, a checkpoint, and a resumed fit of 2 more give the weights,
 * optimizer state and history of 4 straight epochs BIT FOR BIT, for every optimizer's
 * state arrays (Adam with amsgrad, AdamW with a schedule, SGD with nesterov momentum,
 * RMSprop centered with momentum, Adagrad), with dropout, shuffling, a validation split, a
 * partial last batch and a learning rate changed between epochs. zen_model_load reads a
 * checkpoint back compiled with its optimizer state; resuming from the wrong file is a clear
 * error. Callback state (EarlyStopping, ReduceLROnPlateau) resumes too. Class names survive
 * save and load. */
#define _GNU_SOURCE
#include "harness.h"
#include "train/train.h"

#include <string.h>
#include <unistd.h>

static char dir[256];
static const char *path_in(const char *name) {
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ & 3];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

/* A small CNN with dropout on 6x6x1 images, 3 classes; build_seed picks its initial weights. */
static zen_model *cnn(zen_ctx *ctx, uint64_t build_seed, const char *opt_class, const char *opt_cfg) {
    zen_model *m = zen_model_new(ctx, "cnn");
    zen_model_input(m, 3, (int64_t[]){6, 6, 1});
    zen_model_add(m, zen_layer_conv2d(ctx, 3, 3, 3, "relu"));
    zen_model_add(m, zen_layer_flatten(ctx));
    zen_model_add(m, zen_layer_dense(ctx, 8, "relu"));
    zen_model_add(m, zen_layer_dropout(ctx, 0.3f));
    zen_model_add(m, zen_layer_dense(ctx, 3, "softmax"));
    CHECK(zen_model_build(m, build_seed) == 0);
    const char *metrics[] = {"accuracy"};
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, opt_class, opt_cfg), "sparse_categorical_crossentropy", 1,
                            metrics) == 0);
    return m;
}

static zen_dataset *data(zen_ctx *ctx, int n) {
    zen_rng r;
    zen_rng_seed(&r, 5);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 4, (int64_t[]){n, 6, 6, 1}), *y = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){n});
    for (int64_t i = 0; i < zen_array_numel(x); i++) ((float *)x->data)[i] = zen_rng_uniform(&r);
    for (int i = 0; i < n; i++) {
        ((int32_t *)y->data)[i] = i % 3;
        ((float *)x->data)[i * 36 + (i % 3) * 7] += 1.5f; /* something to learn */
    }
    return zen_dataset_new(ctx, x, y);
}

/* Halves the learning rate after every epoch: an lr override the checkpoint must carry. */
static int halve_lr(void *user, int epoch, const zen_metrics *logs) {
    (void)epoch, (void)logs;
    zen_model *m = user;
    zen_optimizer_set_lr(m->trainer->opt, zen_optimizer_lr(m->trainer->opt) * 0.5f);
    return 0;
}

static zen_history *fit(zen_model *m, zen_dataset *d, int epochs, const char *ckpt, const char *resume) {
    zen_callback *cb = zen_lambda_callback((zen_callback_hooks){.user = m, .on_epoch_end = halve_lr});
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 7; /* 30 training samples: a partial last batch */
    o.validation_split = 0.25f;
    o.seed = 1234;
    o.verbose = 0;
    o.callbacks = &cb;
    o.ncallbacks = 1;
    o.checkpoint_path = ckpt;
    o.resume_path = resume;
    zen_history *h = zen_model_fit(m, d, &o);
    zen_callback_free(cb);
    return h;
}

static bool same_weights(const zen_model *a, const zen_model *b) {
    bool same = zen_model_n_layers(a) == zen_model_n_layers(b);
    for (int i = 0; same && i < zen_model_n_layers(a); i++)
        for (int w = 0; same && w < zen_layer_n_weights(zen_model_layer(a, i)); w++) {
            zen_tensor *x = zen_layer_weight(zen_model_layer(a, i), w, NULL, NULL);
            zen_tensor *y = zen_layer_weight(zen_model_layer(b, i), w, NULL, NULL);
            same = zen_nbytes(x) == zen_nbytes(y) && !memcmp(x->data, y->data, zen_nbytes(x));
        }
    return same;
}

static bool same_optimizer(const zen_optimizer *a, const zen_optimizer *b) {
    bool same = a->iterations == b->iterations && a->nparams == b->nparams && a->lr_scale == b->lr_scale &&
                a->schedule.initial == b->schedule.initial && zen_optimizer_lr(a) == zen_optimizer_lr(b);
    int nslots = zen__optimizer_nslots(a);
    for (int i = 0; same && i < a->nparams; i++)
        for (int k = 0; same && k < nslots; k++)
            same = !memcmp(a->params[i].slot[k], b->params[i].slot[k], zen_nbytes(a->params[i].param));
    /* gradient accumulation: micro-steps and the gradients summed so far */
    same = same && a->accum_steps == b->accum_steps && a->micro_steps == b->micro_steps;
    for (int i = 0; same && a->accum_steps && i < a->nparams; i++)
        same = !memcmp(a->params[i].accum, b->params[i].accum, zen_nbytes(a->params[i].param));
    return same;
}

static bool same_history(const zen_history *a, const zen_history *b) {
    bool same = a->epochs == b->epochs && a->first_epoch == b->first_epoch;
    for (int r = 0; same && r < a->epochs; r++) {
        same = a->logs[r].n == b->logs[r].n;
        for (int c = 0; same && c < a->logs[r].n; c++)
            same = !strcmp(a->logs[r].names[c], b->logs[r].names[c]) &&
                   !memcmp(&a->logs[r].values[c], &b->logs[r].values[c], sizeof(double));
    }
    return same;
}

static const struct { const char *cls, *cfg; } optimizers[] = {
    {"Adam", "{\"learning_rate\": 0.01, \"amsgrad\": true}"},
    {"AdamW", "{\"learning_rate\": {\"class_name\": \"ExponentialDecay\", \"config\": {\"initial_learning_rate\": 0.01, "
              "\"decay_steps\": 3, \"decay_rate\": 0.9}}}"},
    {"SGD", "{\"learning_rate\": 0.05, \"momentum\": 0.9, \"nesterov\": true}"},
    {"RMSprop", "{\"learning_rate\": 0.005, \"momentum\": 0.5, \"centered\": true}"},
    {"Adagrad", "{\"learning_rate\": 0.05}"},
    /* 5 batches an epoch, 3 accumulated per update: checkpoints fall inside a group */
    {"Adam", "{\"learning_rate\": 0.01, \"gradient_accumulation_steps\": 3}"},
};

TEST(test_resume_is_bitwise) {
    for (size_t k = 0; k < sizeof optimizers / sizeof optimizers[0]; k++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_dataset *d = data(ctx, 40);
        const char *ckpt = path_in("run.zen");
        /* 4 straight epochs */
        zen_model *straight = cnn(ctx, 17, optimizers[k].cls, optimizers[k].cfg);
        zen_history *h4 = fit(straight, d, 4, NULL, NULL);
        CHECK_OK(ctx, h4);
        /* 2 epochs with a checkpoint, then a new process-like start: another context, other
         * initial weights, resumed for 2 more */
        zen_model *first = cnn(ctx, 17, optimizers[k].cls, optimizers[k].cfg);
        zen_history *h2 = fit(first, d, 2, ckpt, NULL);
        CHECK_OK(ctx, h2);
        zen_ctx *ctx2 = zen_ctx_new();
        zen_dataset *d2 = data(ctx2, 40);
        zen_model *resumed = cnn(ctx2, 99, optimizers[k].cls, optimizers[k].cfg);
        zen_history *hr = fit(resumed, d2, 4, ckpt, ckpt);
        CHECK_OK(ctx2, hr);
        bool ok = h4 && hr && same_weights(straight, resumed) && same_optimizer(straight->trainer->opt, resumed->trainer->opt) &&
                  same_history(h4, hr);
        if (!ok)
            fprintf(stderr, "  %s: the resumed run differs from the straight one (weights %d, optimizer %d, history %d)\n",
                    optimizers[k].cls, h4 && hr && same_weights(straight, resumed),
                    h4 && hr && same_optimizer(straight->trainer->opt, resumed->trainer->opt), h4 && hr && same_history(h4, hr));
        CHECK(ok);
        CHECK(hr && hr->epochs == 4 && hr->first_epoch == 0);
        /* the checkpoint written after epoch 4 loads as a compiled model with that state */
        zen_model *back = zen_model_load(ctx2, ckpt);
        CHECK_OK(ctx2, back);
        CHECK(back && same_weights(back, straight) && same_optimizer(back->trainer->opt, straight->trainer->opt));
        /* and resuming a finished run (epochs <= its epoch) trains nothing and returns its history */
        zen_history *done = back ? fit(back, d2, 4, NULL, ckpt) : NULL;
        CHECK_OK(ctx2, done);
        CHECK(done && same_history(done, h4) && same_weights(back, straight));
        zen_history_free(done);
        zen_model_free(back);
        zen_history_free(h4);
        zen_history_free(h2);
        zen_history_free(hr);
        zen_model_free(straight);
        zen_model_free(first);
        zen_model_free(resumed);
        zen_dataset_free(d);
        zen_dataset_free(d2);
        zen_ctx_free(ctx);
        zen_ctx_free(ctx2);
    }
}

/* Resuming from the wrong file: each a clear error, and the model is left as it was. */
static void expect_resume_error(zen_model *m, zen_dataset *d, const char *path, int initial_epoch, const char *needle) {
    zen_ctx *ctx = m->ctx;
    zen_tensor *k = zen_layer_weight(zen_model_layer(m, zen_model_n_layers(m) - 1), 0, NULL, NULL);
    float before = ((float *)k->data)[0];
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = 3;
    o.batch_size = 7;
    o.verbose = 0;
    o.resume_path = path;
    o.validation_split = 0.25f;
    o.initial_epoch = initial_epoch;
    zen_history *h = zen_model_fit(m, d, &o);
    const char *e = zen_ctx_error(ctx);
    CHECK(h == NULL);
    if (!e || !strstr(e, needle) || !strstr(e, path)) {
        fprintf(stderr, "  resuming from %s: expected an error naming it and containing '%s', got '%s'\n", path, needle,
                e ? e : "(none)");
        harness_failures++;
    } else if (getenv("ZEN_TEST_VERBOSE")) {
        fprintf(stderr, "  %s\n", e);
    }
    CHECK(((float *)k->data)[0] == before);
    zen_history_free(h);
    zen_ctx_clear_error(ctx);
}

TEST(test_resume_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d = data(ctx, 40), *small = data(ctx, 20);
    zen_model *m = cnn(ctx, 17, "Adam", NULL);
    zen_history *h = fit(m, d, 2, path_in("ck.zen"), NULL);
    CHECK_OK(ctx, h);
    zen_history_free(h);
    CHECK(zen_model_save(m, path_in("plain.zen")) == 0);

    zen_model *fresh = cnn(ctx, 3, "Adam", NULL);
    expect_resume_error(fresh, d, path_in("missing.zen"), 0, "cannot open");
    expect_resume_error(fresh, d, path_in("plain.zen"), 0, "not a checkpoint");
    expect_resume_error(fresh, d, path_in("ck.zen"), 1, "initial_epoch is 1 but the checkpoint");
    expect_resume_error(fresh, small, path_in("ck.zen"), 0, "the checkpoint's sample order covers 30 training samples, this fit has 15");
    zen_model *sgd = cnn(ctx, 3, "SGD", "{\"momentum\": 0.9}");
    expect_resume_error(sgd, d, path_in("ck.zen"), 0, "the optimizer state is for Adam, the model's optimizer is SGD");
    zen_model *ams = cnn(ctx, 3, "Adam", "{\"amsgrad\": true}");
    expect_resume_error(ams, d, path_in("ck.zen"), 0, "the optimizer state has 2 state arrays per weight, Adam with this config has 3 (m, v, vhat)");
    zen_model *other = zen_model_new(ctx, "cnn");
    zen_model_input(other, 3, (int64_t[]){6, 6, 1});
    zen_model_add(other, zen_layer_flatten(ctx));
    zen_model_add(other, zen_layer_dense(ctx, 3, "softmax"));
    CHECK(zen_model_build(other, 1) == 0);
    CHECK(zen_model_compile(other, zen_optimizer_new(ctx, "Adam", NULL), "sparse_categorical_crossentropy", 0, NULL) == 0);
    expect_resume_error(other, d, path_in("ck.zen"), 0, "the checkpoint was written for another model");
    zen_model_free(other);
    zen_model_free(ams);
    zen_model_free(sgd);
    zen_model_free(fresh);
    zen_model_free(m);
    zen_dataset_free(d);
    zen_dataset_free(small);
    zen_ctx_free(ctx);
}

/* EarlyStopping (restore_best_weights) and ReduceLROnPlateau carry their counters across
 * the resume: 2 epochs, a checkpoint, and a resumed fit stop at the same epoch with the same
 * learning rates, history and (restored best) weights as the straight run. min_delta 0.3
 * makes epochs 2 and 3 plateaus against epoch 1's best: callbacks starting afresh at the
 * resume would take epoch 3 as a new best and the runs would part (checked by hand). */
static zen_history *fit_plateau(zen_model *m, zen_dataset *d, int epochs, const char *ckpt, const char *resume,
                                zen_callback **cbs, int ncbs) {
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 7;
    o.validation_split = 0.25f;
    o.seed = 77;
    o.verbose = 0;
    o.callbacks = cbs;
    o.ncallbacks = ncbs;
    o.checkpoint_path = ckpt;
    o.resume_path = resume;
    return zen_model_fit(m, d, &o);
}

static void plateau_callbacks(zen_callback **cbs) {
    cbs[0] = zen_reduce_lr_on_plateau("val_loss", 0.5f, 2, 0.3f, 1, 0.0001f);
    cbs[1] = zen_early_stopping("val_loss", 0.3f, 4, true);
}

static int state_int(const zen_callback *cb, const char *key) {
    cJSON *s = zen__callback_state(cb);
    int v = (int)cJSON_GetNumberValue(cJSON_GetObjectItem(s, key));
    cJSON_Delete(s);
    return v;
}

TEST(test_resume_callbacks_bitwise) {
    const int max_epochs = 30;
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d = data(ctx, 40);
    const char *ckpt = path_in("cb.zen");
    zen_callback *straight_cbs[2], *first_cbs[2], *resumed_cbs[2];
    plateau_callbacks(straight_cbs);
    zen_model *straight = cnn(ctx, 17, "Adam", "{\"learning_rate\": 0.02}");
    zen_history *hs = fit_plateau(straight, d, max_epochs, NULL, NULL, straight_cbs, 2);
    CHECK_OK(ctx, hs);
    /* the run must stop early, after the resume point, with the learning rate reduced */
    CHECK(hs && hs->stopped_early && hs->epochs > 3 && hs->epochs < max_epochs);
    double lr_first = hs ? zen_metrics_get(&hs->logs[0], "learning_rate") : 0;
    double lr_last = hs ? zen_metrics_get(&hs->logs[hs->epochs - 1], "learning_rate") : 0;
    CHECK(lr_last < lr_first);

    plateau_callbacks(first_cbs);
    zen_model *first = cnn(ctx, 17, "Adam", "{\"learning_rate\": 0.02}");
    zen_history *h2 = fit_plateau(first, d, 2, ckpt, NULL, first_cbs, 2);
    CHECK_OK(ctx, h2);
    /* the counters matter across the boundary: something is waiting at epoch 2 */
    int waits = state_int(first_cbs[0], "wait") + state_int(first_cbs[0], "cooldown_left") +
                state_int(first_cbs[1], "wait");
    if (getenv("ZEN_TEST_VERBOSE"))
        fprintf(stderr, "  straight run: %d epochs; waits at epoch 2: %d; lr %g -> %g\n", hs ? hs->epochs : -1, waits,
                lr_first, lr_last);
    CHECK(waits > 0);
    CHECK(zen__callback_best_weights(first_cbs[1], NULL) != NULL); /* in the checkpoint as tensors */
    for (int r = 0; hs && getenv("ZEN_TEST_VERBOSE") && r < hs->epochs; r++)
        fprintf(stderr, "  epoch %d: val_loss %.4f lr %g\n", r + 1, zen_metrics_get(&hs->logs[r], "val_loss"),
                zen_metrics_get(&hs->logs[r], "learning_rate"));

    zen_ctx *ctx2 = zen_ctx_new();
    zen_dataset *d2 = data(ctx2, 40);
    plateau_callbacks(resumed_cbs);
    zen_model *resumed = cnn(ctx2, 99, "Adam", "{\"learning_rate\": 0.02}");
    zen_history *hr = fit_plateau(resumed, d2, max_epochs, path_in("cb_end.zen"), ckpt, resumed_cbs, 2);
    CHECK_OK(ctx2, hr);
    CHECK(hs && hr && same_history(hs, hr) && hr->stopped_early == hs->stopped_early);
    CHECK(same_weights(straight, resumed));
    CHECK(same_optimizer(straight->trainer->opt, resumed->trainer->opt));
    CHECK(zen_optimizer_lr(straight->trainer->opt) == zen_optimizer_lr(resumed->trainer->opt));

    /* the last checkpoint holds the best weights and loads as a plain model too */
    zen_model *back = zen_model_load(ctx2, path_in("cb_end.zen"));
    CHECK_OK(ctx2, back);
    zen_model_free(back);

    /* other callbacks than the checkpoint's: a clear error */
    zen_callback *swapped[2] = {resumed_cbs[1], resumed_cbs[0]};
    zen_model *again = cnn(ctx2, 5, "Adam", "{\"learning_rate\": 0.02}");
    CHECK(fit_plateau(again, d2, max_epochs, NULL, ckpt, swapped, 2) == NULL);
    const char *e = zen_ctx_error(ctx2);
    CHECK(e && strstr(e, "callback 0 is EarlyStopping here but was ReduceLROnPlateau"));
    zen_ctx_clear_error(ctx2);
    zen_callback *other[2] = {resumed_cbs[0], zen_early_stopping("val_accuracy", 0, 3, true)};
    CHECK(fit_plateau(again, d2, max_epochs, NULL, ckpt, other, 2) == NULL);
    e = zen_ctx_error(ctx2);
    CHECK(e && strstr(e, "callback 1 (EarlyStopping) monitors val_accuracy here but val_loss in the checkpoint"));
    zen_ctx_clear_error(ctx2);
    zen_callback_free(other[1]);
    other[1] = zen_early_stopping("val_loss", 0, 3, false);
    CHECK(fit_plateau(again, d2, max_epochs, NULL, ckpt, other, 2) == NULL);
    e = zen_ctx_error(ctx2);
    CHECK(e && strstr(e, "restore_best_weights off here but on in the checkpoint"));
    zen_ctx_clear_error(ctx2);
    zen_callback_free(other[1]);
    /* a stateful callback left out is an error; a stateless one added is not */
    CHECK(fit_plateau(again, d2, max_epochs, NULL, ckpt, resumed_cbs, 1) == NULL);
    e = zen_ctx_error(ctx2);
    CHECK(e && strstr(e, "the checkpoint holds the state of 2 callbacks"));
    zen_ctx_clear_error(ctx2);
    plateau_callbacks(other);
    zen_callback *with_csv[3] = {other[0], zen_csv_logger(path_in("cb.csv")), other[1]};
    zen_history *hc = fit_plateau(again, d2, max_epochs, NULL, ckpt, with_csv, 3);
    CHECK_OK(ctx2, hc);
    CHECK(hc && same_history(hs, hc));
    CHECK(same_weights(straight, again));
    zen_history_free(hc);
    for (int i = 0; i < 3; i++) zen_callback_free(with_csv[i]);

    for (int i = 0; i < 2; i++) {
        zen_callback_free(straight_cbs[i]);
        zen_callback_free(first_cbs[i]);
        zen_callback_free(resumed_cbs[i]);
    }
    zen_model_free(again);
    zen_history_free(hs);
    zen_history_free(h2);
    zen_history_free(hr);
    zen_model_free(straight);
    zen_model_free(first);
    zen_model_free(resumed);
    zen_dataset_free(d);
    zen_dataset_free(d2);
    zen_ctx_free(ctx);
    zen_ctx_free(ctx2);
}

TEST(test_class_names) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = cnn(ctx, 1, "Adam", NULL);
    CHECK(zen_model_n_class_names(m) == 0 && zen_model_class_name(m, 0) == NULL);
    const char *names[] = {"cat", "dög \"quoted\"", "bird"};
    CHECK(zen_model_set_class_names(m, 3, names) == 0);
    CHECK(zen_model_n_class_names(m) == 3 && !strcmp(zen_model_class_name(m, 1), names[1]));
    CHECK(zen_model_class_name(m, 3) == NULL && zen_model_class_name(m, -1) == NULL);
    CHECK(zen_model_save(m, path_in("named.zen")) == 0);
    zen_model *back = zen_model_load(ctx, path_in("named.zen"));
    CHECK_OK(ctx, back);
    CHECK(back && zen_model_n_class_names(back) == 3);
    for (int i = 0; back && i < 3; i++) CHECK(!strcmp(zen_model_class_name(back, i), names[i]));
    /* bad names are refused and leave the old ones */
    const char *bad[] = {"a", ""};
    CHECK(zen_model_set_class_names(m, 2, bad) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "name 1 is empty"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_model_set_class_names(m, 1, NULL) == -1);
    zen_ctx_clear_error(ctx);
    CHECK(zen_model_n_class_names(m) == 3);
    CHECK(zen_model_set_class_names(m, 0, NULL) == 0 && zen_model_n_class_names(m) == 0);
    zen_model_free(back);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/zen_ckpt_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) return 2;
    int rc = RUN_TESTS(test_resume_is_bitwise, test_resume_errors, test_resume_callbacks_bitwise, test_class_names);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
