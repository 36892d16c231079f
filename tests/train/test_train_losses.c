/* Keras losses through a one-layer model vs PyTorch (tests/fixtures/gen/train_losses.py):
 * the value from zen_model_evaluate, from fit's first training step (seen by a batch hook)
 * and from the training graph, and the gradients of the Dense kernel and bias — for the
 * fused softmax/sigmoid-logits path and for outputs the loss reads as probabilities
 * (Keras's normalising and clipping), including saturated probabilities; compile errors. */
#include "harness.h"
#include "train/train.h"

#include <string.h>

/* fit.c's loss builder (not in train.h): the loss recorded on a training graph */
zen_tensor *zen__loss_build(zen_ctx *ctx, const char *loss, zen_tensor *out, zen_tensor *target);
const char *zen__loss_canonical(const char *name);

static fx_file *f;

typedef struct {
    const char *name, *loss, *act;
    int units;
    bool sparse;
} loss_case;

static const loss_case cases[] = {
    {"cce_fused", "categorical_crossentropy", "softmax", 5, false},
    {"cce_fused_smooth", "categorical_crossentropy", "softmax", 5, false},
    {"cce_fused_extreme", "categorical_crossentropy", "softmax", 5, false},
    {"cce_probs", "categorical_crossentropy", "sigmoid", 5, false},
    {"cce_probs_clip", "categorical_crossentropy", "sigmoid", 5, false},
    {"scce_fused", "sparse_categorical_crossentropy", "softmax", 5, true},
    {"scce_probs", "sparse_categorical_crossentropy", "sigmoid", 5, true},
    {"scce_probs_clip", "sparse_categorical_crossentropy", "sigmoid", 5, true},
    {"bce_fused", "binary_crossentropy", "sigmoid", 3, false},
    {"bce_fused_soft", "binary_crossentropy", "sigmoid", 3, false},
    {"bce_fused_extreme", "binary_crossentropy", "sigmoid", 3, false},
    {"bce_probs", "binary_crossentropy", "softmax", 3, false},
    {"bce_probs_clip", "binary_crossentropy", "softmax", 3, false},
    {"mse", "mse", "linear", 2, false},
    {"mae", "mean_absolute_error", "linear", 2, false},
    {"huber", "huber", "linear", 2, false},
};

static zen_tensor *fx(zen_ctx *ctx, const char *c, const char *what) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", c, what);
    return fx_input(ctx, f, key);
}

static zen_array *array_of(zen_ctx *ctx, const zen_tensor *t) {
    zen_array *a = zen_array_new(ctx, t->dtype, t->ndim, t->shape);
    if (a) memcpy(a->data, t->data, zen_nbytes(t));
    return a;
}

/* Input(D) -> Dense(units, act) with the fixture's W and b. */
static zen_model *one_layer(zen_ctx *ctx, const loss_case *lc, zen_tensor *W, zen_tensor *b) {
    zen_model *m = zen_model_new(ctx, "one_layer");
    zen_model_input(m, 1, (int64_t[]){W->shape[1]});
    zen_model_add(m, zen_layer_dense(ctx, lc->units, lc->act));
    if (zen_model_build(m, 1) != 0) return m;
    zen_layer *dense = zen_model_layer(m, zen_model_n_layers(m) - 1);
    zen_tensor *k = zen_layer_weight(dense, 0, NULL, NULL), *bias = zen_layer_weight(dense, 1, NULL, NULL);
    CHECK(k && zen_nbytes(k) == zen_nbytes(W) && bias && zen_nbytes(bias) == zen_nbytes(b));
    if (k && bias) {
        memcpy(k->data, W->data, zen_nbytes(W));
        memcpy(bias->data, b->data, zen_nbytes(b));
    }
    return m;
}

static float first_batch_loss;
static int first_batch_calls;
static int grab_first(void *user, int epoch, int batch, const zen_metrics *logs) {
    (void)user, (void)epoch;
    if (batch == 0) first_batch_loss = (float)zen_metrics_get(logs, "loss");
    first_batch_calls++;
    return 0;
}

/* One case: the value three ways and the gradients of W and b. */
static void run_case(const loss_case *lc) {
    int failures_before = harness_failures;
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = fx(ctx, lc->name, "x"), *W = fx(ctx, lc->name, "W"), *b = fx(ctx, lc->name, "b");
    zen_tensor *t = fx(ctx, lc->name, "t"), *want = fx(ctx, lc->name, "loss");
    int64_t B = x->shape[0];
    double expect = *(float *)want->data, tol = 2e-5 * fmax(1, fabs(expect));
    zen_model *m = one_layer(ctx, lc, W, b);
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), lc->loss, 0, NULL) == 0);
    CHECK_OK(ctx, m);

    /* evaluate: the inference graph */
    zen_dataset *d = zen_dataset_new(ctx, array_of(ctx, x), array_of(ctx, t));
    CHECK_OK(ctx, d);
    zen_metrics r;
    CHECK(zen_model_evaluate(m, d, (int)B, &r) == 0);
    CHECK_NEAR(zen_metrics_get(&r, "loss"), expect, tol);
    /* in two batches (4 + 2): the sample-weighted mean of the batch losses is the same
     * for losses that are means over samples */
    CHECK(zen_model_evaluate(m, d, 4, &r) == 0);
    CHECK_NEAR(zen_metrics_get(&r, "loss"), expect, tol);

    /* the training graph directly: value and gradients of kernel and bias */
    zen_model_graph *mg = zen__model_graph_new(m, (int)B, true);
    CHECK_OK(ctx, mg);
    if (mg) {
        zen_tensor *target = zen_input(ctx, t->dtype, t->ndim, t->shape);
        zen_tensor *loss = zen__loss_build(ctx, zen__loss_canonical(lc->loss), mg->outputs[0], target);
        CHECK_OK(ctx, loss);
        CHECK(zen_graph_add(mg->g, loss) == 0 && zen_graph_backward(mg->g, loss) == 0 && zen_graph_plan(mg->g) == 0);
        memcpy(mg->inputs[0]->data, x->data, zen_nbytes(x));
        memcpy(target->data, t->data, zen_nbytes(t));
        CHECK(zen_graph_compute(mg->g) == 0);
        CHECK_NEAR(*(float *)loss->data, expect, tol);
        zen_layer *dense = zen_model_layer(m, zen_model_n_layers(m) - 1);
        zen_tensor *k = zen_layer_weight(dense, 0, NULL, NULL), *bias = zen_layer_weight(dense, 1, NULL, NULL);
        char key[128], label[160];
        snprintf(key, sizeof key, "%s.gW", lc->name);
        snprintf(label, sizeof label, "%s: d loss / d kernel", lc->name);
        CHECK(k->grad && fx_check_tensor(label, k->grad, f, key, 1e-5, 1e-4) == 0);
        snprintf(key, sizeof key, "%s.gb", lc->name);
        snprintf(label, sizeof label, "%s: d loss / d bias", lc->name);
        CHECK(bias->grad && fx_check_tensor(label, bias->grad, f, key, 1e-5, 1e-4) == 0);
        zen__model_graph_free(mg);
    }

    /* fit: the loss of the first step (before any update) is the same number */
    first_batch_loss = NAN;
    first_batch_calls = 0;
    zen_callback *cb = zen_lambda_callback((zen_callback_hooks){.on_batch_end = grab_first});
    zen_fit_opts o = zen_fit_defaults();
    o.batch_size = (int)B;
    o.shuffle = false;
    o.verbose = 0;
    o.callbacks = &cb;
    o.ncallbacks = 1;
    zen_history *h = zen_model_fit(m, d, &o);
    CHECK_OK(ctx, h);
    CHECK(first_batch_calls == 1);
    CHECK_NEAR(first_batch_loss, expect, tol);
    if (harness_failures > failures_before) fprintf(stderr, "  (case %s: %s with a %s output)\n", lc->name, lc->loss, lc->act);
    zen_history_free(h);
    zen_callback_free(cb);
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

TEST(test_losses_vs_torch) {
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(&cases[i]);
}

/* The fused path really reads the logits: with huge logits the loss exceeds what clipped
 * probabilities can give (-log(1e-7) = 16.1 per sample). */
TEST(test_fused_path_exceeds_clip) {
    zen_ctx *ctx = zen_ctx_new();
    CHECK(*(float *)fx(ctx, "cce_fused_extreme", "loss")->data > 20);
    CHECK(*(float *)fx(ctx, "bce_fused_extreme", "loss")->data > 20);
    /* ...and the probability cases saturate: some clipped values are in play */
    CHECK(*(float *)fx(ctx, "bce_probs_clip", "loss")->data < 16.2f);
    zen_ctx_free(ctx);
}

/* Targets (N,) for a single output (N, 1) are accepted, as Keras does. */
TEST(test_flat_targets_for_one_output) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "m");
    zen_model_input(m, 1, (int64_t[]){2});
    zen_model_add(m, zen_layer_dense(ctx, 1, "sigmoid"));
    CHECK(zen_model_build(m, 3) == 0);
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "binary_crossentropy", 0, NULL) == 0);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){4, 2});
    zen_array *y1 = zen_array_new(ctx, ZEN_F32, 1, (int64_t[]){4});
    zen_array *y2 = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){4, 1});
    for (int i = 0; i < 8; i++) ((float *)x->data)[i] = (float)(i % 3) - 1;
    for (int i = 0; i < 4; i++) ((float *)y1->data)[i] = ((float *)y2->data)[i] = (float)(i & 1);
    zen_array *x2 = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){4, 2});
    memcpy(x2->data, x->data, 32);
    zen_dataset *d1 = zen_dataset_new(ctx, x, y1), *d2 = zen_dataset_new(ctx, x2, y2);
    zen_metrics r1, r2;
    CHECK(zen_model_evaluate(m, d1, 3, &r1) == 0);
    CHECK(zen_model_evaluate(m, d2, 3, &r2) == 0);
    CHECK_OK(ctx, m);
    CHECK(zen_metrics_get(&r1, "loss") == zen_metrics_get(&r2, "loss"));
    zen_dataset_free(d1);
    zen_dataset_free(d2);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

static void expect_error(zen_ctx *ctx, const char *what, const char *needle) {
    const char *e = zen_ctx_error(ctx);
    if (!e || !strstr(e, needle)) {
        fprintf(stderr, "  %s: expected an error containing '%s', got '%s'\n", what, needle, e ? e : "(none)");
        harness_failures++;
    }
    zen_ctx_clear_error(ctx);
}

static zen_model *small_model(zen_ctx *ctx, int units, const char *act) {
    zen_model *m = zen_model_new(ctx, "small");
    zen_model_input(m, 1, (int64_t[]){3});
    zen_model_add(m, zen_layer_dense(ctx, units, act));
    zen_model_build(m, 1);
    return m;
}

TEST(test_compile_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = small_model(ctx, 4, "softmax");
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "crossentropy", 0, NULL) == -1);
    expect_error(ctx, "unknown loss", "unknown loss 'crossentropy'");
    const char *bad_metric[] = {"accuracy", "auc_roc"};
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "mse", 2, bad_metric) == -1);
    expect_error(ctx, "unknown metric", "unknown metric 'auc_roc'");
    const char *twice[] = {"accuracy", "accuracy"};
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "categorical_crossentropy", 2, twice) == -1);
    expect_error(ctx, "duplicate metric", "listed twice");
    const char *mae[] = {"mae"};
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "sparse_categorical_crossentropy", 1, mae) == -1);
    expect_error(ctx, "mae with class labels", "metric 'mae'");
    const char *many[11];
    for (int i = 0; i < 11; i++) many[i] = "mse";
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "mse", 11, many) == -1);
    expect_error(ctx, "too many metrics", "0 to 10 names");
    CHECK(zen_model_compile(m, NULL, "mse", 0, NULL) == -1);
    expect_error(ctx, "no optimizer", "optimizer is NULL");
    /* and a good compile after all that */
    const char *ok[] = {"accuracy", "top_k_categorical_accuracy", "precision", "recall", "f1_score"};
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "categorical_crossentropy", 5, ok) == 0);
    CHECK_OK(ctx, m);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* Targets that do not fit the loss and output are refused with a message saying what fits. */
TEST(test_target_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = small_model(ctx, 4, "softmax");
    zen_metrics r;
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){5, 3});
    zen_array *labels = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){5});
    zen_dataset *d = zen_dataset_new(ctx, x, labels);

    CHECK(zen_model_evaluate(m, d, 2, &r) == -1);
    expect_error(ctx, "not compiled", "compile the model first");

    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "categorical_crossentropy", 0, NULL) == 0);
    CHECK(zen_model_evaluate(m, d, 2, &r) == -1);
    expect_error(ctx, "i32 labels for categorical", "zen_one_hot");

    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "sparse_categorical_crossentropy", 0, NULL) == 0);
    ((int32_t *)labels->data)[3] = 4; /* the model has 4 classes */
    CHECK(zen_model_evaluate(m, d, 2, &r) == -1);
    expect_error(ctx, "label out of range", "label 4 of sample 3 is outside [0, 4)");
    ((int32_t *)labels->data)[3] = 1;
    CHECK(zen_model_evaluate(m, d, 2, &r) == 0);
    CHECK_OK(ctx, m);

    zen_array *fl = zen_array_new(ctx, ZEN_F32, 1, (int64_t[]){5});
    zen_array *x2 = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){5, 3});
    zen_dataset *d2 = zen_dataset_new(ctx, x2, fl);
    CHECK(zen_model_evaluate(m, d2, 2, &r) == -1);
    expect_error(ctx, "f32 labels for sparse", "needs i32 class labels");

    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "mse", 0, NULL) == 0);
    CHECK(zen_model_evaluate(m, d2, 2, &r) == -1);
    expect_error(ctx, "mse targets of the wrong shape", "shaped like the model output (N, 4); got f32 (5)");

    zen_array *x3 = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){5, 2});
    zen_array *y3 = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){5, 4});
    zen_dataset *d3 = zen_dataset_new(ctx, x3, y3);
    CHECK(zen_model_evaluate(m, d3, 2, &r) == -1);
    expect_error(ctx, "wrong sample shape", "samples have shape (5, 2), the model's input is (N, 3)");
    CHECK(zen_model_evaluate(m, d3, 0, &r) == -1);
    expect_error(ctx, "batch size 0", "batch_size must be positive");

    zen_dataset_free(d);
    zen_dataset_free(d2);
    zen_dataset_free(d3);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("train_losses.safetensors");
    int rc = RUN_TESTS(test_losses_vs_torch, test_fused_path_exceeds_clip, test_flat_targets_for_one_output,
                       test_compile_errors, test_target_errors);
    fx_close(f);
    return rc;
}
