/* confusion.c — confusion matrices of classifiers and the per-class precision, recall and
 * F1 read from them (what `zen eval` prints), from model outputs or class indices. */
#include "train.h"
#include "../data/data.h" /* zen__shape_fmt */

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

zen_confusion *zen_confusion_new(zen_ctx *ctx, int nclasses) {
    if (nclasses < 1 || nclasses > 65536)
        return zen__fail(ctx, "zen_confusion_new: nclasses must be 1 to 65536, got %d", nclasses);
    zen_confusion *c = calloc(1, sizeof *c);
    if (c) c->counts = calloc((size_t)nclasses * (size_t)nclasses, sizeof *c->counts);
    if (!c || !c->counts) {
        free(c);
        return zen__fail(ctx, "zen_confusion_new: out of memory");
    }
    c->n = nclasses;
    return c;
}

void zen_confusion_free(zen_confusion *c) {
    if (!c) return;
    free(c->counts);
    free(c);
}

/* Elements per row after the sample axis. */
static int64_t row_len(const zen_array *a) {
    int64_t r = 1;
    for (int d = 1; d < a->ndim; d++) r *= a->shape[d];
    return r;
}

/* The class of row i: an i32 index, the argmax of a score row (ties: the first), or for a
 * single f32 value a 0/1 decision at 0.5 (binary classifiers). -1 when out of range. */
static int64_t class_of(const zen_array *a, int64_t i, int n) {
    int64_t len = row_len(a);
    if (a->dtype == ZEN_I32) {
        int32_t v = ((const int32_t *)a->data)[i];
        return v >= 0 && v < n ? v : -1;
    }
    const float *p = (const float *)a->data + i * len;
    if (len == 1) return p[0] > 0.5f ? 1 : 0;
    int64_t best = 0;
    for (int64_t k = 1; k < len; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

static int check_arg(zen_ctx *ctx, const zen_array *a, const char *what, int n, int64_t rows) {
    char buf[128];
    if (!a) return zen__fail(ctx, "zen_confusion_add: no %s", what), -1;
    if (a->ndim < 1 || a->shape[0] != rows)
        return zen__fail(ctx, "zen_confusion_add: %s of shape %s: expected %lld rows", what,
                         zen__shape_fmt(buf, sizeof buf, a->ndim, a->shape), (long long)rows), -1;
    int64_t len = row_len(a);
    bool ok = a->ndim <= 2 && (a->dtype == ZEN_I32 ? len == 1 : (len == n || (len == 1 && n == 2)));
    if (!ok)
        return zen__fail(ctx, "zen_confusion_add: %s of shape %s (%s) does not fit %d classes: give i32 class "
                              "indices [N] or f32 scores [N, %d]%s", what,
                         zen__shape_fmt(buf, sizeof buf, a->ndim, a->shape), zen_dtype_name(a->dtype), n, n,
                         n == 2 ? " or [N, 1]" : ""), -1;
    return 0;
}

int zen_confusion_add(zen_ctx *ctx, zen_confusion *c, const zen_array *pred, const zen_array *target) {
    if (!c) return zen__fail(ctx, "zen_confusion_add: no matrix"), -1;
    if (!pred || !target) return zen__fail(ctx, "zen_confusion_add: no %s", pred ? "targets" : "predictions"), -1;
    int64_t rows = pred->ndim >= 1 ? pred->shape[0] : 0;
    if (check_arg(ctx, pred, "predictions", c->n, rows) != 0 || check_arg(ctx, target, "targets", c->n, rows) != 0) return -1;
    /* check every index first, so a bad row leaves the matrix as it was */
    for (int64_t i = 0; i < rows; i++) {
        const zen_array *bad = class_of(pred, i, c->n) < 0 ? pred : class_of(target, i, c->n) < 0 ? target : NULL;
        if (bad)
            return zen__fail(ctx, "zen_confusion_add: %s of sample %lld is class %d, outside [0, %d)",
                             bad == pred ? "the prediction" : "the target", (long long)i,
                             ((const int32_t *)bad->data)[i], c->n), -1;
    }
    for (int64_t i = 0; i < rows; i++) c->counts[class_of(target, i, c->n) * c->n + class_of(pred, i, c->n)]++;
    return 0;
}

int64_t zen_confusion_total(const zen_confusion *c) {
    int64_t t = 0;
    for (int64_t i = 0; c && i < (int64_t)c->n * c->n; i++) t += c->counts[i];
    return t;
}

double zen_confusion_accuracy(const zen_confusion *c) {
    int64_t t = zen_confusion_total(c), right = 0;
    for (int k = 0; c && k < c->n; k++) right += c->counts[(int64_t)k * c->n + k];
    return t ? (double)right / (double)t : 0.0;
}

/* 0 when a denominator is 0 (sklearn's zero_division=0, Keras's metrics). */
static double ratio(double a, double b) { return b > 0 ? a / b : 0.0; }

zen_class_stats zen_confusion_class(const zen_confusion *c, int k) {
    zen_class_stats s = {0};
    if (!c || k < 0 || k >= c->n) return s;
    int64_t tp = c->counts[(int64_t)k * c->n + k];
    for (int j = 0; j < c->n; j++) {
        s.support += c->counts[(int64_t)k * c->n + j];
        s.predicted += c->counts[(int64_t)j * c->n + k];
    }
    s.precision = ratio((double)tp, (double)s.predicted);
    s.recall = ratio((double)tp, (double)s.support);
    s.f1 = ratio(2 * s.precision * s.recall, s.precision + s.recall);
    return s;
}

static zen_class_stats average(const zen_confusion *c, bool weighted) {
    zen_class_stats a = {0};
    if (!c) return a;
    double wsum = 0;
    for (int k = 0; k < c->n; k++) {
        zen_class_stats s = zen_confusion_class(c, k);
        double w = weighted ? (double)s.support : 1.0;
        a.precision += w * s.precision;
        a.recall += w * s.recall;
        a.f1 += w * s.f1;
        a.support += s.support;
        a.predicted += s.predicted;
        wsum += w;
    }
    a.precision = ratio(a.precision, wsum);
    a.recall = ratio(a.recall, wsum);
    a.f1 = ratio(a.f1, wsum);
    return a;
}

zen_class_stats zen_confusion_macro(const zen_confusion *c) { return average(c, false); }
zen_class_stats zen_confusion_weighted(const zen_confusion *c) { return average(c, true); }

/* A CSV field: quoted when it holds a delimiter, quote or line break (RFC 4180). */
static void csv_field(FILE *f, const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

int zen_confusion_write_csv(zen_ctx *ctx, const zen_confusion *c, const char *path, const char *const *names) {
    if (!c || !path) return zen__fail(ctx, "zen_confusion_write_csv: no %s", c ? "path" : "matrix"), -1;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return zen__fail(ctx, "zen_confusion_write_csv: cannot create %s: %s", tmp, strerror(errno)), -1;
    char idx[24];
    fputs("true\\predicted", f);
    for (int k = 0; k < c->n; k++) {
        snprintf(idx, sizeof idx, "%d", k);
        fputc(',', f);
        csv_field(f, names && names[k] ? names[k] : idx);
    }
    fputc('\n', f);
    for (int t = 0; t < c->n; t++) {
        snprintf(idx, sizeof idx, "%d", t);
        csv_field(f, names && names[t] ? names[t] : idx);
        for (int p = 0; p < c->n; p++) fprintf(f, ",%lld", (long long)c->counts[(int64_t)t * c->n + p]);
        fputc('\n', f);
    }
    int rc = ferror(f) ? -1 : 0;
    if (fclose(f) != 0) rc = -1;
    if (rc == 0 && rename(tmp, path) != 0) rc = -1;
    if (rc != 0) {
        int e = errno;
        unlink(tmp);
        return zen__fail(ctx, "zen_confusion_write_csv: writing %s failed: %s", path, strerror(e)), -1;
    }
    return 0;
}
