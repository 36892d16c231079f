/* Keras metrics on hand-made predictions: each metric's value against one computed here
 * from the definitions (counts, sorting for top-k, per-class tables for the macro averages),
 * with argmax and top-k ties, the binary threshold's edge (0.5 is negative), several batches
 * and resets, "accuracy" resolved from the loss; and the same through a model whose output
 * is its input (an identity Dense layer), via zen_model_evaluate. */
#include "harness.h"
#include "train/train.h"

#include <string.h>

static zen_tensor *tensor(zen_ctx *ctx, zen_dtype dt, int ndim, const int64_t *shape, const void *data) {
    zen_tensor *t = zen_input(ctx, dt, ndim, shape);
    if (t) memcpy(t->data, data, zen_nbytes(t));
    return t;
}

/* A metric fed the given batches (pred f32 [n, c], target f32 [n, c] or i32 [n]). */
static double metric_value(zen_ctx *ctx, const char *name, const char *loss, int nbatches, zen_tensor *const *pred,
                           zen_tensor *const *target) {
    zen_metric *m = zen__metric_new(ctx, name, loss);
    CHECK_OK(ctx, m);
    if (!m) return NAN;
    for (int b = 0; b < nbatches; b++) zen__metric_update(m, pred[b], target[b], pred[b]->shape[0]);
    double v = zen__metric_result(m);
    /* reset: the same batches again give the same value */
    zen__metric_reset(m);
    for (int b = 0; b < nbatches; b++) zen__metric_update(m, pred[b], target[b], pred[b]->shape[0]);
    CHECK(zen__metric_result(m) == v);
    zen__metric_free(m);
    return v;
}

/* ---- reference formulas ---- */

static int ref_argmax(const float *p, int c) {
    int best = 0;
    for (int j = 1; j < c; j++)
        if (p[j] > p[best]) best = j;
    return best;
}

/* in top k: the target's value is >= the k-th largest value (sorted descending). */
static int cmp_desc(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x < y) - (x > y);
}
static bool ref_in_top_k(const float *p, int c, int cls, int k) {
    float sorted[64];
    memcpy(sorted, p, (size_t)c * sizeof *p);
    qsort(sorted, (size_t)c, sizeof *sorted, cmp_desc);
    return p[cls] >= sorted[(k < c ? k : c) - 1];
}

/* ---- data: 10 samples, 7 classes, in two batches of 6 and 4 ---- */

enum { N = 10, C = 7 };
static float P[N][C];
static int32_t LABEL[N];
static float ONEHOT[N][C];

static void make_data(void) {
    zen_rng r;
    zen_rng_seed(&r, 7);
    for (int i = 0; i < N; i++) {
        for (int j = 0; j < C; j++) P[i][j] = (float)(int)(zen_rng_uniform(&r) * 8) / 8; /* coarse: ties happen */
        LABEL[i] = (int32_t)(zen_rng_next(&r) % C);
        if (i % 3) P[i][LABEL[i]] += 0.5f; /* so that some predictions are right */
    }
    /* crafted rows: an argmax tie (first index wins), and top-5 ties at the boundary */
    float tie[C] = {0.3f, 0.9f, 0.9f, 0.1f, 0.2f, 0.0f, 0.4f};
    memcpy(P[0], tie, sizeof tie);
    LABEL[0] = 2; /* argmax is 1 (first of the tie): not accurate; in top-1? no; top-5: yes */
    float edge[C] = {0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f};
    memcpy(P[1], edge, sizeof edge);
    LABEL[1] = 6; /* all tied: in the top k for any k (tf.math.in_top_k) */
    float boundary[C] = {0.9f, 0.8f, 0.7f, 0.6f, 0.2f, 0.2f, 0.1f};
    memcpy(P[2], boundary, sizeof boundary);
    LABEL[2] = 5; /* tied with the 5th largest: in the top 5 */
    memcpy(P[3], boundary, sizeof boundary);
    LABEL[3] = 6; /* 6th: not in the top 5 */
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++) ONEHOT[i][j] = j == LABEL[i];
}

/* batches: rows [0, 6) and [6, 10) */
static void batches(zen_ctx *ctx, zen_tensor *pred[2], zen_tensor *onehot[2], zen_tensor *sparse[2]) {
    int64_t n0 = 6, n1 = N - 6;
    pred[0] = tensor(ctx, ZEN_F32, 2, (int64_t[]){n0, C}, P[0]);
    pred[1] = tensor(ctx, ZEN_F32, 2, (int64_t[]){n1, C}, P[6]);
    onehot[0] = tensor(ctx, ZEN_F32, 2, (int64_t[]){n0, C}, ONEHOT[0]);
    onehot[1] = tensor(ctx, ZEN_F32, 2, (int64_t[]){n1, C}, ONEHOT[6]);
    sparse[0] = tensor(ctx, ZEN_I32, 1, (int64_t[]){n0}, LABEL);
    sparse[1] = tensor(ctx, ZEN_I32, 1, (int64_t[]){n1}, LABEL + 6);
}

TEST(test_accuracy_and_top_k) {
    make_data();
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *pred[2], *onehot[2], *sparse[2];
    batches(ctx, pred, onehot, sparse);
    double acc = 0, top5 = 0, top2 = 0;
    for (int i = 0; i < N; i++) {
        acc += ref_argmax(P[i], C) == LABEL[i];
        top5 += ref_in_top_k(P[i], C, LABEL[i], 5);
        top2 += ref_in_top_k(P[i], C, LABEL[i], 2);
    }
    acc /= N, top5 /= N, top2 /= N;
    /* the crafted rows do what they say */
    CHECK(ref_argmax(P[0], C) == 1 && ref_in_top_k(P[0], C, 2, 5) && ref_in_top_k(P[1], C, 6, 1));
    CHECK(ref_in_top_k(P[2], C, 5, 5) && !ref_in_top_k(P[3], C, 6, 5));

    CHECK_NEAR(metric_value(ctx, "categorical_accuracy", "categorical_crossentropy", 2, pred, onehot), acc, 1e-12);
    CHECK_NEAR(metric_value(ctx, "accuracy", "categorical_crossentropy", 2, pred, onehot), acc, 1e-12);
    CHECK_NEAR(metric_value(ctx, "sparse_categorical_accuracy", "sparse_categorical_crossentropy", 2, pred, sparse),
               acc, 1e-12);
    CHECK_NEAR(metric_value(ctx, "accuracy", "sparse_categorical_crossentropy", 2, pred, sparse), acc, 1e-12);
    CHECK_NEAR(metric_value(ctx, "top_k_categorical_accuracy", "categorical_crossentropy", 2, pred, onehot), top5,
               1e-12);
    CHECK_NEAR(metric_value(ctx, "sparse_top_k_categorical_accuracy", "sparse_categorical_crossentropy", 2, pred, sparse),
               top5, 1e-12);
    /* k is 5 (Keras's default): a k of 2 would give another number on this data */
    CHECK(top2 != top5);

    /* one batch gives the same as two */
    zen_tensor *all_p = tensor(ctx, ZEN_F32, 2, (int64_t[]){N, C}, P), *all_t = tensor(ctx, ZEN_I32, 1, (int64_t[]){N}, LABEL);
    CHECK_NEAR(metric_value(ctx, "sparse_top_k_categorical_accuracy", "sparse_categorical_crossentropy", 1, &all_p, &all_t),
               top5, 1e-12);

    /* a NaN prediction for the target class is never in the top k */
    float nan_row[C] = {0.1f, NAN, 0.2f, 0.3f, 0.4f, 0.5f, 0.6f};
    int32_t one = 1;
    zen_tensor *np = tensor(ctx, ZEN_F32, 2, (int64_t[]){1, C}, nan_row), *nt = tensor(ctx, ZEN_I32, 1, (int64_t[]){1}, &one);
    CHECK(metric_value(ctx, "sparse_top_k_categorical_accuracy", "sparse_categorical_crossentropy", 1, &np, &nt) == 0);
    zen_ctx_free(ctx);
}

TEST(test_binary_accuracy) {
    zen_ctx *ctx = zen_ctx_new();
    /* 8 samples x 2 outputs (multi-label); 0.5 is below the threshold (Keras: y_pred > 0.5) */
    float p[16] = {0.9f, 0.1f, 0.5f, 0.51f, 0.2f, 0.8f, 0.49f, 0.5f, 0.0f, 1.0f, 0.7f, 0.3f, 0.6f, 0.6f, 0.4f, 0.4f};
    float t[16] = {1, 0, 0, 1, 1, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1, 0};
    double want = 0;
    for (int i = 0; i < 16; i++) want += (p[i] > 0.5f) == (t[i] > 0.5f);
    want /= 16;
    zen_tensor *pt[2] = {tensor(ctx, ZEN_F32, 2, (int64_t[]){3, 2}, p), tensor(ctx, ZEN_F32, 2, (int64_t[]){5, 2}, p + 6)};
    zen_tensor *tt[2] = {tensor(ctx, ZEN_F32, 2, (int64_t[]){3, 2}, t), tensor(ctx, ZEN_F32, 2, (int64_t[]){5, 2}, t + 6)};
    CHECK_NEAR(metric_value(ctx, "binary_accuracy", "binary_crossentropy", 2, pt, tt), want, 1e-12);
    CHECK_NEAR(metric_value(ctx, "accuracy", "binary_crossentropy", 2, pt, tt), want, 1e-12);
    CHECK_NEAR(want, 11.0 / 16, 1e-12); /* counted by hand: wrong at 0.2/1, 0.5/1, 0.7/0, 0.6/0, 0.4/1 */
    zen_ctx_free(ctx);
}

/* Binary precision/recall/F1 at threshold 0.5 (0.5 itself is negative), counted by hand. */
TEST(test_binary_precision_recall_f1) {
    zen_ctx *ctx = zen_ctx_new();
    float p[10] = {0.9f, 0.8f, 0.5f, 0.51f, 0.2f, 0.7f, 0.1f, 0.6f, 0.4f, 0.99f};
    float t[10] = {1, 0, 1, 1, 0, 1, 1, 0, 0, 1};
    /* predicted positive: 0.9 0.8 0.51 0.7 0.6 0.99 -> tp: 0.9 0.51 0.7 0.99 = 4, fp: 0.8 0.6 = 2;
     * fn: positives predicted negative: 0.5, 0.1 = 2 */
    double precision = 4.0 / 6, recall = 4.0 / 6, f1 = 2 * precision * recall / (precision + recall);
    zen_tensor *pt[2] = {tensor(ctx, ZEN_F32, 2, (int64_t[]){4, 1}, p), tensor(ctx, ZEN_F32, 2, (int64_t[]){6, 1}, p + 4)};
    zen_tensor *tt[2] = {tensor(ctx, ZEN_F32, 2, (int64_t[]){4, 1}, t), tensor(ctx, ZEN_F32, 2, (int64_t[]){6, 1}, t + 4)};
    CHECK_NEAR(metric_value(ctx, "precision", "binary_crossentropy", 2, pt, tt), precision, 1e-12);
    CHECK_NEAR(metric_value(ctx, "recall", "binary_crossentropy", 2, pt, tt), recall, 1e-12);
    CHECK_NEAR(metric_value(ctx, "f1_score", "binary_crossentropy", 2, pt, tt), f1, 1e-12);
    /* an asymmetric case: precision 1/2, recall 1/3 */
    float p2[6] = {0.9f, 0.9f, 0.1f, 0.1f, 0.2f, 0.3f}, t2[6] = {1, 0, 1, 1, 0, 0};
    zen_tensor *pt2 = tensor(ctx, ZEN_F32, 2, (int64_t[]){6, 1}, p2), *tt2 = tensor(ctx, ZEN_F32, 2, (int64_t[]){6, 1}, t2);
    CHECK_NEAR(metric_value(ctx, "precision", "mse", 1, &pt2, &tt2), 0.5, 1e-12);
    CHECK_NEAR(metric_value(ctx, "recall", "mse", 1, &pt2, &tt2), 1.0 / 3, 1e-12);
    CHECK_NEAR(metric_value(ctx, "f1_score", "mse", 1, &pt2, &tt2), 2 * 0.5 / 3 / (0.5 + 1.0 / 3), 1e-12);
    /* nothing predicted positive: precision 0 (no division by zero), as Keras */
    float p3[3] = {0.1f, 0.2f, 0.3f}, t3[3] = {1, 0, 1};
    zen_tensor *pt3 = tensor(ctx, ZEN_F32, 2, (int64_t[]){3, 1}, p3), *tt3 = tensor(ctx, ZEN_F32, 2, (int64_t[]){3, 1}, t3);
    CHECK(metric_value(ctx, "precision", "binary_crossentropy", 1, &pt3, &tt3) == 0);
    CHECK(metric_value(ctx, "f1_score", "binary_crossentropy", 1, &pt3, &tt3) == 0);
    zen_ctx_free(ctx);
}

/* Multi-class: macro averages over all classes of the output, from argmax predictions. */
TEST(test_macro_precision_recall_f1) {
    make_data();
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *pred[2], *onehot[2], *sparse[2];
    batches(ctx, pred, onehot, sparse);
    double prec = 0, rec = 0, f1 = 0;
    for (int k = 0; k < C; k++) {
        int tp = 0, fp = 0, fn = 0;
        for (int i = 0; i < N; i++) {
            int yp = ref_argmax(P[i], C);
            tp += yp == k && LABEL[i] == k;
            fp += yp == k && LABEL[i] != k;
            fn += yp != k && LABEL[i] == k;
        }
        double p = tp + fp ? (double)tp / (tp + fp) : 0, r = tp + fn ? (double)tp / (tp + fn) : 0;
        prec += p, rec += r, f1 += p + r > 0 ? 2 * p * r / (p + r) : 0;
    }
    prec /= C, rec /= C, f1 /= C;
    CHECK(prec > 0 && rec > 0 && prec != rec); /* the data exercises it */
    const char *losses[2] = {"categorical_crossentropy", "sparse_categorical_crossentropy"};
    for (int l = 0; l < 2; l++) {
        zen_tensor **t = l ? sparse : onehot;
        CHECK_NEAR(metric_value(ctx, "precision", losses[l], 2, pred, t), prec, 1e-12);
        CHECK_NEAR(metric_value(ctx, "recall", losses[l], 2, pred, t), rec, 1e-12);
        CHECK_NEAR(metric_value(ctx, "f1_score", losses[l], 2, pred, t), f1, 1e-12);
    }
    /* a small table worked by hand: 3 classes, predictions 0 1 1 2 0, labels 0 1 2 2 1
     * class 0: tp 1 fp 1 fn 0 -> p 1/2 r 1;  class 1: tp 1 fp 1 fn 1 -> p 1/2 r 1/2;
     * class 2: tp 1 fp 0 fn 1 -> p 1 r 1/2 */
    float p5[15] = {1, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 1, 1, 0, 0};
    int32_t t5[5] = {0, 1, 2, 2, 1};
    zen_tensor *pt = tensor(ctx, ZEN_F32, 2, (int64_t[]){5, 3}, p5), *tt = tensor(ctx, ZEN_I32, 1, (int64_t[]){5}, t5);
    const char *sp = "sparse_categorical_crossentropy";
    CHECK_NEAR(metric_value(ctx, "precision", sp, 1, &pt, &tt), (0.5 + 0.5 + 1) / 3, 1e-12);
    CHECK_NEAR(metric_value(ctx, "recall", sp, 1, &pt, &tt), (1 + 0.5 + 0.5) / 3, 1e-12);
    CHECK_NEAR(metric_value(ctx, "f1_score", sp, 1, &pt, &tt), (2.0 / 3 + 0.5 + 2.0 / 3) / 3, 1e-12);
    zen_ctx_free(ctx);
}

TEST(test_mae_mse) {
    zen_ctx *ctx = zen_ctx_new();
    float p[6] = {1, 2, 3, -1, 0.5f, 4}, t[6] = {1.5f, 2, 1, 1, 0, 4};
    double mae = (0.5 + 0 + 2 + 2 + 0.5 + 0) / 6, mse = (0.25 + 0 + 4 + 4 + 0.25 + 0) / 6;
    zen_tensor *pt[2] = {tensor(ctx, ZEN_F32, 2, (int64_t[]){1, 2}, p), tensor(ctx, ZEN_F32, 2, (int64_t[]){2, 2}, p + 2)};
    zen_tensor *tt[2] = {tensor(ctx, ZEN_F32, 2, (int64_t[]){1, 2}, t), tensor(ctx, ZEN_F32, 2, (int64_t[]){2, 2}, t + 2)};
    CHECK_NEAR(metric_value(ctx, "mae", "mse", 2, pt, tt), mae, 1e-12);
    CHECK_NEAR(metric_value(ctx, "mean_absolute_error", "huber", 2, pt, tt), mae, 1e-12);
    CHECK_NEAR(metric_value(ctx, "mse", "mae", 2, pt, tt), mse, 1e-12);
    /* no samples yet: NaN, not a division by zero */
    zen_metric *m = zen__metric_new(ctx, "mae", "mse");
    CHECK(isnan(zen__metric_result(m)));
    zen__metric_free(m);
    zen_ctx_free(ctx);
}

/* The compiled metrics through zen_model_evaluate on a model whose output is its input:
 * Dense(C) with an identity kernel and zero bias, so predictions are the rows of P. */
TEST(test_metrics_through_evaluate) {
    make_data();
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "identity");
    zen_model_input(m, 1, (int64_t[]){C});
    zen_model_add(m, zen_layer_dense(ctx, C, NULL));
    CHECK(zen_model_build(m, 1) == 0);
    zen_tensor *k = zen_layer_weight(zen_model_layer(m, 1), 0, NULL, NULL);
    CHECK(k && zen_numel(k) == C * C);
    for (int i = 0; i < C * C; i++) ((float *)k->data)[i] = i % (C + 1) == 0;
    const char *names[] = {"accuracy", "top_k_categorical_accuracy", "precision", "recall", "f1_score", "mae", "mse"};
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "mse", 7, names) == 0);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){N, C}), *y = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){N, C});
    memcpy(x->data, P, sizeof P);
    memcpy(y->data, ONEHOT, sizeof ONEHOT);
    zen_dataset *d = zen_dataset_new(ctx, x, y);
    zen_metrics r;
    CHECK(zen_model_evaluate(m, d, 4, &r) == 0); /* batches 4, 4, 2 */
    CHECK_OK(ctx, m);
    /* the expected values from the metric functions tested above, on the same data */
    zen_tensor *all_p = tensor(ctx, ZEN_F32, 2, (int64_t[]){N, C}, P), *all_t = tensor(ctx, ZEN_F32, 2, (int64_t[]){N, C}, ONEHOT);
    CHECK(r.n == 8 && !strcmp(r.names[0], "loss"));
    double mse = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < C; j++) mse += (P[i][j] - ONEHOT[i][j]) * (P[i][j] - ONEHOT[i][j]);
    mse /= N * C;
    CHECK_NEAR(zen_metrics_get(&r, "loss"), mse, 1e-6);
    CHECK_NEAR(zen_metrics_get(&r, "mse"), mse, 1e-6);
    for (int i = 0; i < 7; i++) {
        CHECK(!strcmp(r.names[i + 1], names[i]));
        double want = metric_value(ctx, names[i], "categorical_crossentropy", 1, &all_p, &all_t);
        CHECK_NEAR(r.values[i + 1], want, 1e-6);
    }
    CHECK(isnan(zen_metrics_get(&r, "val_loss"))); /* not there */
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) {
    return RUN_TESTS(test_accuracy_and_top_k, test_binary_accuracy, test_binary_precision_recall_f1,
                     test_macro_precision_recall_f1, test_mae_mse, test_metrics_through_evaluate);
}
