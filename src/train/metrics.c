/* metrics.c — Keras metrics, accumulated over an epoch on the host from each batch's
 * output and targets. Classification metrics read one-hot f32 targets or i32 class
 * targets; binary ones threshold the output at 0.5. */
#include "train.h"

#include <math.h>
#include <stdlib.h>

enum {
    M_CATEGORICAL_ACCURACY, M_SPARSE_ACCURACY, M_BINARY_ACCURACY, M_TOP_K, M_SPARSE_TOP_K,
    M_PRECISION, M_RECALL, M_F1, M_MAE, M_MSE, M_PERPLEXITY,
};

static const struct { const char *name; int kind; } metric_names[] = {
    {"categorical_accuracy", M_CATEGORICAL_ACCURACY},
    {"sparse_categorical_accuracy", M_SPARSE_ACCURACY},
    {"binary_accuracy", M_BINARY_ACCURACY},
    {"top_k_categorical_accuracy", M_TOP_K},
    {"sparse_top_k_categorical_accuracy", M_SPARSE_TOP_K},
    {"precision", M_PRECISION},
    {"recall", M_RECALL},
    {"f1_score", M_F1},
    {"mae", M_MAE}, {"mean_absolute_error", M_MAE},
    {"mse", M_MSE}, {"mean_squared_error", M_MSE},
    {"perplexity", M_PERPLEXITY},
};

zen_metric *zen__metric_new(zen_ctx *ctx, const char *name, const char *loss) {
    int kind = -1;
    if (!name) return zen__fail(ctx, "compile: a metric name is NULL");
    if (!strcmp(name, "accuracy") || !strcmp(name, "acc")) {
        /* Keras resolves "accuracy" from the loss */
        kind = !strcmp(loss, "sparse_categorical_crossentropy") ? M_SPARSE_ACCURACY
               : !strcmp(loss, "binary_crossentropy")           ? M_BINARY_ACCURACY
                                                                : M_CATEGORICAL_ACCURACY;
    } else {
        for (size_t i = 0; i < sizeof metric_names / sizeof metric_names[0]; i++)
            if (!strcmp(metric_names[i].name, name)) kind = metric_names[i].kind;
    }
    if (kind < 0)
        return zen__fail(ctx, "compile: unknown metric '%s' (accuracy, categorical_accuracy, "
                              "sparse_categorical_accuracy, binary_accuracy, top_k_categorical_accuracy, "
                              "sparse_top_k_categorical_accuracy, precision, recall, f1_score, mae, mse, perplexity)", name);
    if ((kind == M_MAE || kind == M_MSE) && !strcmp(loss, "sparse_categorical_crossentropy"))
        return zen__fail(ctx, "compile: metric '%s' compares targets with outputs of the same shape; the class labels "
                              "of sparse_categorical_crossentropy are not", name);
    if (kind == M_PERPLEXITY && strcmp(loss, "sparse_categorical_crossentropy") && strcmp(loss, "categorical_crossentropy"))
        return zen__fail(ctx, "compile: metric 'perplexity' needs a cross-entropy loss (sparse_categorical_crossentropy "
                              "or categorical_crossentropy), got '%s'", loss);
    zen_metric *m = calloc(1, sizeof *m);
    if (!m) return zen__fail(ctx, "compile: out of memory");
    snprintf(m->name, sizeof m->name, "%s", name);
    m->kind = kind;
    m->k = 5;
    /* precision/recall/f1: element-wise binary for binary_crossentropy (multi-label, as
     * Keras's Precision), macro-averaged over classes for a softmax-style output */
    m->nclasses = !strcmp(loss, "binary_crossentropy") ? -1 : 0;
    return m;
}

void zen__metric_free(zen_metric *m) {
    if (!m) return;
    free(m->class_counts);
    free(m);
}

void zen__metric_reset(zen_metric *m) {
    m->sum = m->count = m->tp = m->fp = m->fn = 0;
    if (m->class_counts) memset(m->class_counts, 0, (size_t)m->nclasses * 3 * sizeof *m->class_counts);
}

/* The first index of the largest value (NaN never wins). */
static int64_t argmax_row(const float *p, int64_t c) {
    int64_t best = 0;
    for (int64_t j = 1; j < c; j++)
        if (p[j] > p[best] || (isnan(p[best]) && !isnan(p[j]))) best = j;
    return best;
}

/* The class of row i from the targets: an i32 index or the argmax of a one-hot row. */
static int64_t target_class(const zen_tensor *target, int64_t i, int64_t c) {
    if (target->dtype == ZEN_I32) return ((const int32_t *)target->data)[i];
    return argmax_row((const float *)target->data + i * c, c);
}

/* Is class `cls` among the k largest of row p? As tf.math.in_top_k (and Keras 3's
 * in_top_k), classes tied with the k-th largest value count as in the top k, and a
 * non-finite prediction for the class is never in it. */
static bool in_top_k(const float *p, int64_t c, int64_t cls, int k) {
    if (cls < 0 || cls >= c || !isfinite(p[cls])) return false;
    int64_t larger = 0;
    for (int64_t j = 0; j < c; j++) larger += p[j] > p[cls];
    return larger < k;
}

static float target_value(const zen_tensor *target, int64_t i) {
    return target->dtype == ZEN_I32 ? (float)((const int32_t *)target->data)[i] : ((const float *)target->data)[i];
}

void zen__metric_update(zen_metric *m, const zen_tensor *pred, const zen_tensor *target, int64_t batch) {
    const float *p = pred->data;
    int64_t n = zen_numel(pred);                                     /* outputs in the batch */
    int64_t c = pred->ndim > 1 ? pred->shape[pred->ndim - 1] : 1;     /* classes: the last axis */
    int64_t rows = c ? n / c : 0;                                     /* one per sample (and position) */
    (void)batch;
    switch (m->kind) {
    case M_CATEGORICAL_ACCURACY:
    case M_SPARSE_ACCURACY:
        for (int64_t i = 0; i < rows; i++) m->sum += argmax_row(p + i * c, c) == target_class(target, i, c);
        m->count += (double)rows;
        break;
    case M_TOP_K:
    case M_SPARSE_TOP_K:
        for (int64_t i = 0; i < rows; i++) m->sum += in_top_k(p + i * c, c, target_class(target, i, c), m->k);
        m->count += (double)rows;
        break;
    case M_BINARY_ACCURACY:
        /* Keras: y_pred > 0.5 compared with the target (0/1 labels: target > 0.5) */
        for (int64_t i = 0; i < n; i++) m->sum += (p[i] > 0.5f) == (target_value(target, i) > 0.5f);
        m->count += (double)n;
        break;
    case M_PRECISION:
    case M_RECALL:
    case M_F1:
        if (m->nclasses < 0 || c == 1) {
            /* binary, element-wise: prediction > 0.5, target nonzero (Keras casts it to bool) */
            for (int64_t i = 0; i < n; i++) {
                bool yp = p[i] > 0.5f, yt = target_value(target, i) != 0;
                m->tp += yp && yt;
                m->fp += yp && !yt;
                m->fn += !yp && yt;
            }
        } else {
            /* multi-class: argmax predictions, per-class counts, macro average in the result */
            if (!m->class_counts || m->nclasses != c) {
                free(m->class_counts);
                m->nclasses = (int)c;
                m->class_counts = calloc((size_t)c * 3, sizeof *m->class_counts);
                if (!m->class_counts) {
                    m->nclasses = 0;
                    return;
                }
            }
            for (int64_t i = 0; i < rows; i++) {
                int64_t yp = argmax_row(p + i * c, c), yt = target_class(target, i, c);
                if (yt < 0 || yt >= c) continue;
                if (yp == yt) m->class_counts[3 * yp]++;
                else m->class_counts[3 * yp + 1]++, m->class_counts[3 * yt + 2]++;
            }
        }
        break;
    case M_PERPLEXITY:
        /* keras-hub's Perplexity: exp of the mean cross-entropy per token (row). A softmax
         * output gives probabilities; any other output is read as logits. */
        for (int64_t i = 0; i < rows; i++) {
            const float *r = p + i * c;
            int64_t t = target_class(target, i, c);
            if (t < 0 || t >= c) continue; /* ignored positions (-100) */
            double nll;
            if (pred->op == ZEN_OP_SOFTMAX) {
                nll = -log(fmax((double)r[t], 1e-30));
            } else {
                double mx = r[argmax_row(r, c)], z = 0;
                for (int64_t j = 0; j < c; j++) z += exp((double)r[j] - mx);
                nll = mx + log(z) - r[t];
            }
            m->sum += nll;
            m->count += 1;
        }
        break;
    case M_MAE:
    case M_MSE:
        for (int64_t i = 0; i < n; i++) {
            double d = (double)p[i] - target_value(target, i);
            m->sum += m->kind == M_MAE ? fabs(d) : d * d;
        }
        m->count += (double)n;
        break;
    }
}

/* tp / (tp + fp) etc., 0 where the denominator is 0 (Keras's divide_no_nan). */
static double prf(double tp, double fp, double fn, int kind) {
    double precision = tp + fp > 0 ? tp / (tp + fp) : 0, recall = tp + fn > 0 ? tp / (tp + fn) : 0;
    if (kind == M_PRECISION) return precision;
    if (kind == M_RECALL) return recall;
    return precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0;
}

/* Multi-class precision/recall/f1 are the unweighted mean over all classes of the output
 * (Keras's F1Score(average="macro")): a class that never occurs nor is predicted counts 0. */
double zen__metric_result(const zen_metric *m) {
    if (m->kind == M_PRECISION || m->kind == M_RECALL || m->kind == M_F1) {
        if (!m->class_counts) return prf(m->tp, m->fp, m->fn, m->kind);
        double s = 0;
        for (int k = 0; k < m->nclasses; k++)
            s += prf((double)m->class_counts[3 * k], (double)m->class_counts[3 * k + 1], (double)m->class_counts[3 * k + 2],
                     m->kind);
        return m->nclasses ? s / m->nclasses : 0;
    }
    if (m->kind == M_PERPLEXITY) return m->count > 0 ? exp(m->sum / m->count) : NAN;
    return m->count > 0 ? m->sum / m->count : NAN;
}

double zen_metrics_get(const zen_metrics *m, const char *name) {
    for (int i = 0; m && i < m->n; i++)
        if (!strcmp(m->names[i], name)) return m->values[i];
    return NAN;
}
