/* dataset.c — host arrays and datasets: creation, freeing, taking rows, validation split. */
#include "data.h"

#include <math.h>
#include <stdlib.h>

zen_array *zen_array_new(zen_ctx *ctx, zen_dtype dt, int ndim, const int64_t *shape) {
    zen_array *a = zen__array_alloc(ctx, "zen_array_new", dt, ndim, shape);
    if (a) memset(a->data, 0, (size_t)zen_array_numel(a) * 4);
    return a;
}

void zen_array_free(zen_array *a) {
    if (!a) return;
    zen__aligned_free(a->data);
    free(a);
}

int64_t zen_array_numel(const zen_array *a) { return a ? zen__shape_numel(a->ndim, a->shape) : 0; }

zen_dataset *zen_dataset_new(zen_ctx *ctx, zen_array *x, zen_array *y) {
    const char *fn = "zen_dataset_new";
    zen_dataset *d = NULL;
    if (!x || !y) goto fail; /* an earlier loader failed and said why */
    if (x->ndim < 1 || y->ndim < 1) {
        zen__fail(ctx, "%s: x and y need a sample axis (ndim >= 1), got ndim %d and %d", fn, x->ndim, y->ndim);
        goto fail;
    }
    if (x->shape[0] != y->shape[0]) {
        zen__fail(ctx, "%s: x has %lld samples but y has %lld", fn, (long long)x->shape[0], (long long)y->shape[0]);
        goto fail;
    }
    d = calloc(1, sizeof *d);
    if (!d) {
        zen__fail(ctx, "%s: out of memory", fn);
        goto fail;
    }
    d->n = x->shape[0];
    d->x = x;
    d->y = y;
    return d;
fail:
    zen_array_free(x);
    zen_array_free(y);
    return NULL;
}

void zen_dataset_free(zen_dataset *d) {
    if (!d) return;
    zen_array_free(d->x);
    zen_array_free(d->y);
    free(d);
}

/* A new array with n rows of a (shape [n, a->shape[1..]]), not filled. */
static zen_array *rows_like(zen_ctx *ctx, const char *fn, const zen_array *a, int64_t n) {
    int64_t shape[ZEN_MAX_DIMS];
    memcpy(shape, a->shape, sizeof shape);
    shape[0] = n;
    return zen__array_alloc(ctx, fn, a->dtype, a->ndim, shape);
}

/* A new dataset with rows [start, start + n) of d. */
static zen_dataset *rows_range(zen_ctx *ctx, const char *fn, const zen_dataset *d, int64_t start, int64_t n) {
    zen_array *x = rows_like(ctx, fn, d->x, n), *y = x ? rows_like(ctx, fn, d->y, n) : NULL;
    if (x && y) {
        size_t xr = (size_t)zen__row_numel(d->x) * 4, yr = (size_t)zen__row_numel(d->y) * 4;
        memcpy(x->data, (const char *)d->x->data + (size_t)start * xr, (size_t)n * xr);
        memcpy(y->data, (const char *)d->y->data + (size_t)start * yr, (size_t)n * yr);
    }
    return zen_dataset_new(ctx, x, y);
}

zen_dataset *zen_dataset_take(zen_ctx *ctx, const zen_dataset *d, const int64_t *idx, int64_t n) {
    const char *fn = "zen_dataset_take";
    if (!d) return NULL;
    if (n < 0) return zen__fail(ctx, "%s: n must be >= 0, got %lld", fn, (long long)n);
    if (n > 0 && !idx) return zen__fail(ctx, "%s: idx is NULL but n = %lld", fn, (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (idx[i] < 0 || idx[i] >= d->n)
            return zen__fail(ctx, "%s: index %lld at position %lld is out of range [0, %lld)", fn,
                             (long long)idx[i], (long long)i, (long long)d->n);
    zen_array *x = rows_like(ctx, fn, d->x, n), *y = x ? rows_like(ctx, fn, d->y, n) : NULL;
    if (x && y) {
        size_t xr = (size_t)zen__row_numel(d->x) * 4, yr = (size_t)zen__row_numel(d->y) * 4;
        for (int64_t i = 0; i < n; i++) {
            memcpy((char *)x->data + (size_t)i * xr, (const char *)d->x->data + (size_t)idx[i] * xr, xr);
            memcpy((char *)y->data + (size_t)i * yr, (const char *)d->y->data + (size_t)idx[i] * yr, yr);
        }
    }
    return zen_dataset_new(ctx, x, y);
}

int zen_dataset_split(zen_ctx *ctx, const zen_dataset *d, double fraction, zen_dataset **train,
                      zen_dataset **val) {
    const char *fn = "zen_dataset_split";
    if (train) *train = NULL;
    if (val) *val = NULL;
    if (!d) return -1;
    if (!train || !val) {
        zen__fail(ctx, "%s: train and val must not be NULL", fn);
        return -1;
    }
    if (!(fraction > 0 && fraction < 1)) {
        zen__fail(ctx, "%s: fraction must be in (0, 1), got %g", fn, fraction);
        return -1;
    }
    /* Keras: split_at = int(math.floor(batch_dim * (1.0 - validation_split))). */
    int64_t split_at = (int64_t)floor((double)d->n * (1.0 - fraction));
    if (split_at <= 0 || split_at >= d->n) {
        zen__fail(ctx,
                  "%s: %lld samples are not enough to split with fraction %g (training would get %lld, "
                  "validation %lld)",
                  fn, (long long)d->n, fraction, (long long)split_at, (long long)(d->n - split_at));
        return -1;
    }
    zen_dataset *t = rows_range(ctx, fn, d, 0, split_at);
    zen_dataset *v = t ? rows_range(ctx, fn, d, split_at, d->n - split_at) : NULL;
    if (!t || !v) {
        zen_dataset_free(t);
        return -1;
    }
    *train = t;
    *val = v;
    return 0;
}
