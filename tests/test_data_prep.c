/* Arrays, datasets and data preparation: ownership, scalers fitted on one array and applied
 * to another, one-hot, seeded shuffles (deterministic and unbiased), take, and Keras
 * validation_split semantics. */
#include "data_util.h"

static zen_array *arange_i32(zen_ctx *ctx, int64_t n, int mod) {
    zen_array *a = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){n});
    for (int64_t i = 0; a && i < n; i++) ((int32_t *)a->data)[i] = (int32_t)(i % mod);
    return a;
}

TEST(test_arrays_and_datasets) {
    zen_ctx *ctx = zen_ctx_new();
    zen_array *a = zen_array_new(ctx, ZEN_F32, 3, (int64_t[]){4, 5, 6});
    CHECK_OK(ctx, a);
    CHECK(a && zen_array_numel(a) == 120 && ((uintptr_t)a->data % ZEN_ALIGN) == 0);
    int nonzero = 0;
    for (int i = 0; a && i < 120; i++) nonzero += ((float *)a->data)[i] != 0;
    CHECK(nonzero == 0);
    zen_array *e = zen_array_new(ctx, ZEN_I32, 2, (int64_t[]){0, 3});
    CHECK(e && zen_array_numel(e) == 0 && e->data);
    zen_array_free(e);
    zen_array *bad;
    CHECK_ERR(ctx, (bad = zen_array_new(ctx, ZEN_F16, 1, (int64_t[]){2})) == NULL, "zen_array_new", "f32 or i32");
    CHECK_ERR(ctx, (bad = zen_array_new(ctx, ZEN_F32, 9, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 1, 1})) == NULL, "9 dims");
    CHECK_ERR(ctx, (bad = zen_array_new(ctx, ZEN_F32, 1, (int64_t[]){-3})) == NULL, "bad shape");
    CHECK_ERR(ctx, (bad = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){INT64_MAX, 2})) == NULL, "bad shape");

    zen_dataset *d = zen_dataset_new(ctx, a, arange_i32(ctx, 4, 3));
    CHECK_OK(ctx, d);
    CHECK(d && d->n == 4 && d->x == a);
    zen_dataset_free(d);
    /* Mismatched N: both arrays are freed (ASan checks the leak), the message says why. */
    CHECK_ERR(ctx, (d = zen_dataset_new(ctx, zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){3, 2}), arange_i32(ctx, 4, 3))) == NULL,
              "zen_dataset_new", "x has 3 samples but y has 4");
    CHECK_ERR(ctx, (d = zen_dataset_new(ctx, zen_array_new(ctx, ZEN_F32, 0, NULL), arange_i32(ctx, 1, 3))) == NULL,
              "ndim >= 1");
    /* A NULL input (a failed loader) gives NULL without a new message; the other array is freed. */
    d = zen_dataset_new(ctx, NULL, arange_i32(ctx, 4, 3));
    CHECK(d == NULL && zen_ctx_error(ctx) == NULL);
    zen_dataset_free(NULL);
    zen_array_free(NULL);
    zen_ctx_free(ctx);
}

TEST(test_scaler_standard) {
    zen_ctx *ctx = zen_ctx_new();
    enum { N = 50, F = 6 };
    zen_array *tr = zen_array_new(ctx, ZEN_F32, 3, (int64_t[]){N, 3, 2});
    zen_array *te = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){7, F}); /* same features per sample */
    zen_rng r;
    zen_rng_seed(&r, 3);
    for (int i = 0; i < N * F; i++) ((float *)tr->data)[i] = (i % F == 4) ? 2.5f : 10.0f * (float)(i % F) + zen_rng_normal(&r) * (float)(1 + i % F);
    for (int i = 0; i < 7 * F; i++) ((float *)te->data)[i] = zen_rng_normal(&r);
    double mean[F] = {0}, var[F] = {0};
    for (int i = 0; i < N * F; i++) mean[i % F] += ((float *)tr->data)[i] / (double)N;
    for (int i = 0; i < N * F; i++) var[i % F] += pow(((float *)tr->data)[i] - mean[i % F], 2) / N;
    float te_orig[7 * F];
    memcpy(te_orig, te->data, sizeof te_orig);

    zen_scaler *s = zen_scaler_fit_standard(ctx, tr);
    CHECK_OK(ctx, s);
    CHECK(s && s->nfeat == F);
    for (int j = 0; s && j < F; j++) {
        CHECK_NEAR(s->offset[j], mean[j], 1e-5 * (1 + fabs(mean[j])));
        CHECK_NEAR(s->scale[j], j == 4 ? 1.0 : sqrt(var[j]), 1e-5 * (1 + sqrt(var[j])));
    }
    /* Fitted data: mean 0, std 1 per feature (the constant feature becomes 0). */
    CHECK(zen_scaler_apply(ctx, s, tr) == 0);
    for (int j = 0; j < F; j++) {
        double m = 0, v = 0;
        for (int i = 0; i < N; i++) m += ((float *)tr->data)[i * F + j] / (double)N;
        for (int i = 0; i < N; i++) v += pow(((float *)tr->data)[i * F + j] - m, 2) / N;
        CHECK_NEAR(m, 0, 1e-5);
        CHECK_NEAR(v, j == 4 ? 0 : 1, 1e-4);
    }
    /* Other data: the training statistics, not its own. */
    CHECK(zen_scaler_apply(ctx, s, te) == 0);
    for (int i = 0; s && i < 7 * F; i++)
        CHECK(((float *)te->data)[i] == (te_orig[i] - s->offset[i % F]) / s->scale[i % F]);

    zen_array *wrong = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){2, 5});
    CHECK_ERR(ctx, zen_scaler_apply(ctx, s, wrong) != 0, "zen_scaler_apply", "5 elements per sample", "fitted on 6");
    zen_array *ints = arange_i32(ctx, 3, 2);
    zen_scaler *bad;
    CHECK_ERR(ctx, (bad = zen_scaler_fit_standard(ctx, ints)) == NULL, "x must be f32");
    zen_array *none = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){0, 4});
    CHECK_ERR(ctx, (bad = zen_scaler_fit_minmax(ctx, none)) == NULL, "at least one sample");
    CHECK(zen_scaler_fit_standard(ctx, NULL) == NULL && zen_ctx_error(ctx) == NULL);
    zen_scaler_free(s);
    zen_array_free(tr);
    zen_array_free(te);
    zen_array_free(wrong);
    zen_array_free(ints);
    zen_array_free(none);
    zen_ctx_free(ctx);
}

TEST(test_scaler_minmax) {
    zen_ctx *ctx = zen_ctx_new();
    float v[12] = {1, -2, 5, 3, 0, 5, 2, 8, 5, -1, 4, 5}; /* 4 samples x 3 features; feature 2 constant */
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){4, 3});
    memcpy(x->data, v, sizeof v);
    zen_scaler *s = zen_scaler_fit_minmax(ctx, x);
    CHECK_OK(ctx, s);
    CHECK(s && s->offset[0] == -1 && s->scale[0] == 4 && s->offset[1] == -2 && s->scale[1] == 10 &&
          s->offset[2] == 5 && s->scale[2] == 1);
    CHECK(zen_scaler_apply(ctx, s, x) == 0);
    const float want[12] = {0.5f, 0, 0, 1, 0.2f, 0, 0.75f, 1, 0, 0, 0.6f, 0};
    for (int i = 0; i < 12; i++) CHECK_NEAR(((float *)x->data)[i], want[i], 1e-7);
    zen_scaler_free(s);
    zen_array_free(x);
    zen_ctx_free(ctx);
}

TEST(test_one_hot) {
    zen_ctx *ctx = zen_ctx_new();
    zen_array *l = zen_array_new(ctx, ZEN_I32, 2, (int64_t[]){2, 3});
    const int32_t lv[6] = {0, 3, 1, 1, 2, 0};
    memcpy(l->data, lv, sizeof lv);
    zen_array *h = zen_one_hot(ctx, l, 5);
    CHECK_OK(ctx, h);
    CHECK(h && h->dtype == ZEN_F32 && h->ndim == 3 && h->shape[0] == 2 && h->shape[1] == 3 && h->shape[2] == 5);
    for (int i = 0; h && i < 6; i++)
        for (int c = 0; c < 5; c++) CHECK(((float *)h->data)[i * 5 + c] == (c == lv[i] ? 1.0f : 0.0f));
    zen_array_free(h);
    h = zen_one_hot(ctx, l, 0); /* inferred: 4 classes */
    CHECK(h && h->shape[2] == 4 && ((float *)h->data)[1 * 4 + 3] == 1.0f);
    zen_array_free(h);
    CHECK_ERR(ctx, (h = zen_one_hot(ctx, l, 3)) == NULL, "zen_one_hot", "label 3 at position 1 is outside [0, 3)");
    ((int32_t *)l->data)[4] = -1;
    CHECK_ERR(ctx, (h = zen_one_hot(ctx, l, 5)) == NULL, "label -1 at position 4");
    CHECK_ERR(ctx, (h = zen_one_hot(ctx, l, -2)) == NULL, "num_classes must be >= 0");
    zen_array *f = zen_array_new(ctx, ZEN_F32, 1, (int64_t[]){2});
    CHECK_ERR(ctx, (h = zen_one_hot(ctx, f, 2)) == NULL, "labels must be i32");
    zen_array_free(f);
    zen_array_free(l);
    zen_ctx_free(ctx);
}

TEST(test_shuffle) {
    int64_t a[1000], b[1000];
    zen_rng r1, r2;
    zen_rng_seed(&r1, 1234);
    zen_rng_seed(&r2, 1234);
    zen_order_init(a, 1000);
    zen_order_init(b, 1000);
    zen_shuffle(&r1, a, 1000);
    zen_shuffle(&r2, b, 1000);
    CHECK(memcmp(a, b, sizeof a) == 0); /* same seed, same order */
    int seen[1000] = {0}, moved = 0;
    for (int i = 0; i < 1000; i++) {
        CHECK(a[i] >= 0 && a[i] < 1000);
        if (a[i] >= 0 && a[i] < 1000) seen[a[i]]++;
        moved += a[i] != i;
    }
    for (int i = 0; i < 1000; i++) CHECK(seen[i] == 1); /* a permutation */
    CHECK(moved > 950);
    zen_rng_seed(&r2, 1235);
    zen_order_init(b, 1000);
    zen_shuffle(&r2, b, 1000);
    CHECK(memcmp(a, b, sizeof a) != 0);

    /* The exact order for a fixed seed, the same on every machine and build; computed
     * independently by a Python transcription of xoshiro256** + Lemire + Fisher-Yates. */
    int64_t g[10];
    zen_rng_seed(&r1, 42);
    zen_order_init(g, 10);
    zen_shuffle(&r1, g, 10);
    const int64_t golden[10] = {9, 1, 4, 2, 8, 7, 6, 5, 3, 0};
    CHECK(memcmp(g, golden, sizeof g) == 0);
    if (memcmp(g, golden, sizeof g) != 0) {
        fprintf(stderr, "  order:");
        for (int i = 0; i < 10; i++) fprintf(stderr, " %lld", (long long)g[i]);
        fprintf(stderr, "\n");
    }

    /* Unbiased: all 24 orders of 4 items equally likely (expected 2000 each of 48000;
     * sd ~44; a classic off-by-one Fisher-Yates is off by hundreds). */
    int count[256] = {0};
    zen_rng_seed(&r1, 9);
    for (int t = 0; t < 48000; t++) {
        int64_t p[4];
        zen_order_init(p, 4);
        zen_shuffle(&r1, p, 4);
        count[p[0] * 64 + p[1] * 16 + p[2] * 4 + p[3]]++;
    }
    int perms = 0, worst = 0;
    for (int k = 0; k < 256; k++)
        if (count[k]) {
            perms++;
            worst = abs(count[k] - 2000) > worst ? abs(count[k] - 2000) : worst;
        }
    printf("    24-permutation counts: %d distinct, worst deviation %d of 2000\n", perms, worst);
    CHECK(perms == 24 && worst < 250);
    zen_shuffle(&r1, a, 0); /* n 0 and 1: nothing to do */
    zen_shuffle(&r1, a, 1);
}

static zen_dataset *numbered(zen_ctx *ctx, int64_t n) {
    /* x[i] = {i, 100 + i}, y[i] = i */
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){n, 2});
    for (int64_t i = 0; i < n; i++) ((float *)x->data)[2 * i] = (float)i, ((float *)x->data)[2 * i + 1] = 100.0f + (float)i;
    return zen_dataset_new(ctx, x, arange_i32(ctx, n, 1 << 30));
}

static bool rows_are(const zen_dataset *d, int64_t n, const int64_t *which) {
    if (!d || d->n != n || d->x->shape[0] != n || d->y->shape[0] != n) return false;
    for (int64_t i = 0; i < n; i++)
        if (((float *)d->x->data)[2 * i] != (float)which[i] || ((float *)d->x->data)[2 * i + 1] != 100.0f + (float)which[i] ||
            ((int32_t *)d->y->data)[i] != which[i])
            return false;
    return true;
}

TEST(test_take_and_split) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d = numbered(ctx, 10), *t = NULL, *v = NULL;
    zen_dataset *s = zen_dataset_take(ctx, d, (int64_t[]){9, 0, 4, 4}, 4);
    CHECK_OK(ctx, s);
    CHECK(rows_are(s, 4, (int64_t[]){9, 0, 4, 4}));
    zen_dataset_free(s);
    CHECK_ERR(ctx, (s = zen_dataset_take(ctx, d, (int64_t[]){1, 10}, 2)) == NULL, "zen_dataset_take",
              "index 10 at position 1 is out of range [0, 10)");
    CHECK_ERR(ctx, (s = zen_dataset_take(ctx, d, NULL, 2)) == NULL, "idx is NULL but n = 2");

    /* Keras: split_at = floor(N * (1 - fraction)); the LAST rows validate, no shuffle. */
    const struct {
        int64_t n;
        double f;
        int64_t split_at; /* int(math.floor(n * (1.0 - f))) in Python */
    } cases[] = {{10, 0.2, 8}, {10, 0.25, 7}, {10, 0.3, 7}, {3, 0.5, 1}, {10, 0.05, 9}, {100, 0.07, 93}, {7, 0.3, 4}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        zen_dataset *dd = numbered(ctx, cases[c].n);
        CHECK(zen_dataset_split(ctx, dd, cases[c].f, &t, &v) == 0);
        CHECK_OK(ctx, t);
        int64_t rows[100];
        zen_order_init(rows, 100);
        CHECK(rows_are(t, cases[c].split_at, rows));
        CHECK(rows_are(v, cases[c].n - cases[c].split_at, rows + cases[c].split_at));
        zen_dataset_free(t);
        zen_dataset_free(v);
        zen_dataset_free(dd);
    }
    CHECK(rows_are(d, 10, (int64_t[]){0, 1, 2, 3, 4, 5, 6, 7, 8, 9})); /* unchanged */
    CHECK_ERR(ctx, zen_dataset_split(ctx, d, 0, &t, &v) != 0, "zen_dataset_split", "fraction must be in (0, 1), got 0");
    CHECK_ERR(ctx, zen_dataset_split(ctx, d, 1, &t, &v) != 0, "got 1");
    CHECK_ERR(ctx, zen_dataset_split(ctx, d, NAN, &t, &v) != 0, "got nan");
    CHECK_ERR(ctx, zen_dataset_split(ctx, d, 1e-17, &t, &v) != 0, "10 samples are not enough", "validation 0");
    zen_dataset *one = numbered(ctx, 1);
    CHECK_ERR(ctx, zen_dataset_split(ctx, one, 0.5, &t, &v) != 0, "1 samples are not enough", "training would get 0");
    CHECK(t == NULL && v == NULL);
    zen_dataset_free(one);
    zen_dataset_free(d);
    zen_ctx_free(ctx);
}

int main(void) {
    return RUN_TESTS(test_arrays_and_datasets, test_scaler_standard, test_scaler_minmax, test_one_hot, test_shuffle,
                     test_take_and_split);
}
