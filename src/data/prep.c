/* prep.c — preparing data: per-feature scalers (standard, min-max), one-hot labels,
 * sample orders and their seeded Fisher-Yates shuffle. */
#include "data.h"

#include <math.h>
#include <stdlib.h>

/* ---- scalers ---- */

static zen_scaler *scaler_alloc(zen_ctx *ctx, const char *fn, int64_t nfeat) {
    zen_scaler *s = calloc(1, sizeof *s);
    if (s) {
        s->nfeat = nfeat;
        s->offset = malloc((size_t)nfeat * sizeof(float) + 1);
        s->scale = malloc((size_t)nfeat * sizeof(float) + 1);
    }
    if (!s || !s->offset || !s->scale) {
        zen_scaler_free(s);
        return zen__fail(ctx, "%s: out of memory (%lld features)", fn, (long long)nfeat);
    }
    return s;
}

void zen_scaler_free(zen_scaler *s) {
    if (!s) return;
    free(s->offset);
    free(s->scale);
    free(s);
}

static bool check_fit_input(zen_ctx *ctx, const char *fn, const zen_array *x) {
    if (x->dtype != ZEN_F32) {
        zen__fail(ctx, "%s: x must be f32, got %s", fn, zen_dtype_name(x->dtype));
        return false;
    }
    if (x->ndim < 1 || x->shape[0] < 1) {
        zen__fail(ctx, "%s: x needs a sample axis with at least one sample", fn);
        return false;
    }
    return true;
}

zen_scaler *zen_scaler_fit_standard(zen_ctx *ctx, const zen_array *x) {
    const char *fn = "zen_scaler_fit_standard";
    if (!x || !check_fit_input(ctx, fn, x)) return NULL;
    int64_t n = x->shape[0], f = zen__row_numel(x);
    zen_scaler *s = scaler_alloc(ctx, fn, f);
    if (!s) return NULL;
    double *mean = calloc((size_t)f + 1, sizeof(double)), *var = calloc((size_t)f + 1, sizeof(double));
    if (!mean || !var) {
        zen_scaler_free(s);
        free(mean);
        free(var);
        return zen__fail(ctx, "%s: out of memory (%lld features)", fn, (long long)f);
    }
    const float *p = x->data;
    /* Two passes in double: the mean, then the mean squared deviation (ddof 0). */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) mean[j] += p[i * f + j];
    for (int64_t j = 0; j < f; j++) {
        mean[j] /= (double)n;
        s->offset[j] = (float)mean[j];
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < f; j++) {
            double dlt = p[i * f + j] - mean[j];
            var[j] += dlt * dlt;
        }
    for (int64_t j = 0; j < f; j++) {
        double sd = sqrt(var[j] / (double)n);
        s->scale[j] = sd == 0 ? 1.0f : (float)sd;
    }
    free(mean);
    free(var);
    return s;
}

zen_scaler *zen_scaler_fit_minmax(zen_ctx *ctx, const zen_array *x) {
    const char *fn = "zen_scaler_fit_minmax";
    if (!x || !check_fit_input(ctx, fn, x)) return NULL;
    int64_t n = x->shape[0], f = zen__row_numel(x);
    zen_scaler *s = scaler_alloc(ctx, fn, f);
    if (!s) return NULL;
    const float *p = x->data;
    float *lo = s->offset, *hi = s->scale;
    for (int64_t j = 0; j < f; j++) lo[j] = hi[j] = p[j];
    for (int64_t i = 1; i < n; i++)
        for (int64_t j = 0; j < f; j++) {
            float v = p[i * f + j];
            lo[j] = v < lo[j] ? v : lo[j];
            hi[j] = v > hi[j] ? v : hi[j];
        }
    for (int64_t j = 0; j < f; j++) {
        float range = hi[j] - lo[j];
        s->scale[j] = range == 0 ? 1.0f : range;
    }
    return s;
}

int zen_scaler_apply(zen_ctx *ctx, const zen_scaler *s, zen_array *x) {
    const char *fn = "zen_scaler_apply";
    if (!s || !x) return -1;
    if (x->dtype != ZEN_F32) {
        zen__fail(ctx, "%s: x must be f32, got %s", fn, zen_dtype_name(x->dtype));
        return -1;
    }
    if (x->ndim < 1 || zen__row_numel(x) != s->nfeat) {
        zen__fail(ctx, "%s: x has %lld elements per sample, the scaler was fitted on %lld", fn,
                  (long long)(x->ndim < 1 ? 0 : zen__row_numel(x)), (long long)s->nfeat);
        return -1;
    }
    int64_t n = x->shape[0], f = s->nfeat;
    float *p = x->data;
    const float *off = s->offset, *sc = s->scale;
    for (int64_t i = 0; i < n; i++) {
        float *row = p + i * f;
#pragma omp simd
        for (int64_t j = 0; j < f; j++) row[j] = (row[j] - off[j]) / sc[j];
    }
    return 0;
}

/* ---- one-hot ---- */

zen_array *zen_one_hot(zen_ctx *ctx, const zen_array *labels, int num_classes) {
    const char *fn = "zen_one_hot";
    if (!labels) return NULL;
    if (labels->dtype != ZEN_I32) return zen__fail(ctx, "%s: labels must be i32, got %s", fn,
                                                   zen_dtype_name(labels->dtype));
    if (labels->ndim >= ZEN_MAX_DIMS)
        return zen__fail(ctx, "%s: labels have %d dims; the result would have more than %d", fn, labels->ndim,
                         ZEN_MAX_DIMS);
    if (num_classes < 0) return zen__fail(ctx, "%s: num_classes must be >= 0, got %d", fn, num_classes);
    int64_t n = zen_array_numel(labels);
    const int32_t *l = labels->data;
    if (num_classes == 0) {
        if (n == 0) return zen__fail(ctx, "%s: cannot infer num_classes from no labels", fn);
        int32_t mx = l[0];
        for (int64_t i = 1; i < n; i++) mx = l[i] > mx ? l[i] : mx;
        if (mx < 0 || mx == INT32_MAX)
            return zen__fail(ctx, "%s: cannot infer num_classes: the largest label is %d", fn, (int)mx);
        num_classes = mx + 1;
    }
    for (int64_t i = 0; i < n; i++)
        if (l[i] < 0 || l[i] >= num_classes)
            return zen__fail(ctx, "%s: label %d at position %lld is outside [0, %d)", fn, (int)l[i], (long long)i,
                             num_classes);
    int64_t shape[ZEN_MAX_DIMS];
    memcpy(shape, labels->shape, sizeof shape);
    shape[labels->ndim] = num_classes;
    zen_array *out = zen__array_alloc(ctx, fn, ZEN_F32, labels->ndim + 1, shape);
    if (!out) return NULL;
    float *o = out->data;
    memset(o, 0, (size_t)n * (size_t)num_classes * sizeof(float));
    for (int64_t i = 0; i < n; i++) o[i * num_classes + l[i]] = 1.0f;
    return out;
}

/* ---- orders ---- */

void zen_order_init(int64_t *order, int64_t n) {
    for (int64_t i = 0; i < n; i++) order[i] = i;
}

/* Uniform integer in [0, range), unbiased (Lemire's multiply-and-reject). */
static uint64_t below(zen_rng *r, uint64_t range) {
    unsigned __int128 m = (unsigned __int128)zen_rng_next(r) * range;
    uint64_t low = (uint64_t)m;
    if (low < range) {
        uint64_t threshold = (0 - range) % range;
        while (low < threshold) {
            m = (unsigned __int128)zen_rng_next(r) * range;
            low = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

void zen_shuffle(zen_rng *r, int64_t *order, int64_t n) {
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)below(r, (uint64_t)i + 1);
        int64_t t = order[i];
        order[i] = order[j];
        order[j] = t;
    }
}
