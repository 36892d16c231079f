/* loss.c — Keras losses on a model's output, recorded on the training graph.
 *
 * With a softmax output, the cross-entropies read the logits (the softmax's input) and use
 * the fused, stable log-softmax kernels, as Keras does when it sees a softmax output; with a
 * sigmoid output, binary cross-entropy reads the logits likewise. Otherwise the loss is
 * computed from the probabilities as Keras's TensorFlow backend does, with its eps 1e-7:
 * categorical rows are normalised to sum 1 and clipped to [eps, 1 - eps]; sparse ones are
 * clipped and their logs renormalised by the softmax cross-entropy; binary ones clipped. */
#include "train.h"

#include <math.h>

static const char *const loss_names[][2] = {
    {"categorical_crossentropy", "categorical_crossentropy"},
    {"sparse_categorical_crossentropy", "sparse_categorical_crossentropy"},
    {"binary_crossentropy", "binary_crossentropy"},
    {"mean_squared_error", "mean_squared_error"}, {"mse", "mean_squared_error"},
    {"mean_absolute_error", "mean_absolute_error"}, {"mae", "mean_absolute_error"},
    {"huber", "huber"}, {"huber_loss", "huber"},
};

/* The canonical name of a Keras loss, or NULL. */
const char *zen__loss_canonical(const char *name) {
    for (size_t i = 0; name && i < sizeof loss_names / sizeof loss_names[0]; i++)
        if (!strcmp(loss_names[i][0], name)) return loss_names[i][1];
    return NULL;
}

/* Does the loss take i32 class targets? */
bool zen__loss_sparse(const char *loss) { return !strcmp(loss, "sparse_categorical_crossentropy"); }

/* The logits behind a softmax over the last axis (or a sigmoid), or NULL. */
static zen_tensor *logits_of(zen_tensor *out, int op) {
    if (out->op != op) return NULL;
    if (op == ZEN_OP_SOFTMAX && out->ip[0] != out->ndim - 1) return NULL;
    return out->src[0];
}

/* Keras's categorical_crossentropy on probabilities: each row is divided by its sum, clipped
 * to [eps, 1 - eps], then -sum(target * log(p)) over the last axis, averaged over samples. */
static zen_tensor *ce_from_probs(zen_ctx *ctx, zen_tensor *p, zen_tensor *target) {
    const float eps = 1e-7f;
    zen_tensor *norm = zen_div(ctx, p, zen_sum(ctx, p, 1, (int[]){-1}, true));
    zen_tensor *logp = zen_log(ctx, zen_clip(ctx, norm, eps, 1.0f - eps));
    zen_tensor *per_sample = zen_sum(ctx, zen_mul(ctx, target, logp), 1, (int[]){-1}, false);
    return zen_neg(ctx, zen_mean(ctx, per_sample, 0, NULL, false));
}

zen_tensor *zen__loss_build(zen_ctx *ctx, const char *loss, zen_tensor *out, zen_tensor *target) {
    if (!out || !target) return NULL;
    zen_tensor *logits;
    if (!strcmp(loss, "categorical_crossentropy")) {
        if (out->ndim != 2) return zen__fail(ctx, "categorical_crossentropy: the model output must be (batch, classes)");
        logits = logits_of(out, ZEN_OP_SOFTMAX);
        return logits ? zen_cross_entropy_probs(ctx, logits, target) : ce_from_probs(ctx, out, target);
    }
    if (!strcmp(loss, "sparse_categorical_crossentropy")) {
        if (out->ndim < 2)
            return zen__fail(ctx, "sparse_categorical_crossentropy: the model output must be (batch, [steps,] classes)");
        logits = logits_of(out, ZEN_OP_SOFTMAX);
        /* Sequences (batch, steps, ..., classes) with targets (batch, steps, ...): the mean over
         * every position, as Keras, by taking each position as a row. */
        if (out->ndim > 2) {
            int64_t c = out->shape[out->ndim - 1], rows = zen_numel(out) / c;
            if (logits) logits = zen_reshape(ctx, logits, 2, (int64_t[]){rows, c});
            out = zen_reshape(ctx, out, 2, (int64_t[]){rows, c});
            target = zen_reshape(ctx, target, 1, (int64_t[]){rows});
        }
        if (logits) return zen_cross_entropy(ctx, logits, target);
        /* probabilities, as Keras (TensorFlow): log(clip(p)) taken as logits, so the row is
         * renormalised: -log(clip(p_t) / sum_j clip(p_j)) */
        return zen_cross_entropy(ctx, zen_log(ctx, zen_clip(ctx, out, 1e-7f, 1.0f - 1e-7f)), target);
    }
    if (!strcmp(loss, "binary_crossentropy")) {
        logits = logits_of(out, ZEN_OP_SIGMOID);
        if (logits) return zen_bce_with_logits(ctx, logits, target);
        /* probabilities: -(t log(clip(p)) + (1 - t) log(1 - clip(p))), mean over elements */
        const float eps = 1e-7f;
        zen_tensor *p = zen_clip(ctx, out, eps, 1.0f - eps);
        zen_tensor *one = zen_scalar(ctx, 1.0f);
        zen_tensor *a = zen_mul(ctx, target, zen_log(ctx, p));
        zen_tensor *b = zen_mul(ctx, zen_sub(ctx, one, target), zen_log(ctx, zen_sub(ctx, one, p)));
        return zen_neg(ctx, zen_mean(ctx, zen_add(ctx, a, b), 0, NULL, false));
    }
    /* Keras averages over the last axis, then over samples: the mean over all elements */
    if (!strcmp(loss, "mean_squared_error")) return zen_mse_loss(ctx, out, target);
    if (!strcmp(loss, "mean_absolute_error")) return zen_l1_loss(ctx, out, target);
    if (!strcmp(loss, "huber")) return zen_huber_loss(ctx, out, target, 1.0f); /* Keras's delta 1 */
    return zen__fail(ctx, "unknown loss '%s'", loss);
}
