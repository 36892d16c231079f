/* Batch iterator: every sample exactly once per epoch, in the given order, the partial last
 * batch included; identical batches with and without prefetch, with the caller's buffers
 * or the iterator's; resets, early stops, clean shutdown, bad arguments; and no heap
 * allocation per batch (malloc is interposed and counted, outside ASan). */
#include "data_util.h"

#include <stddef.h>

#include "alloc_counter.h"

enum { XR = 6, YR = 2 }; /* x rows [3, 2], y rows [2] */

/* x[i] = {1000 i + k}, y[i] = {i, -i}: every row says which sample it is. */
static zen_dataset *make_data(zen_ctx *ctx, int64_t n) {
    zen_array *x = zen_array_new(ctx, ZEN_F32, 3, (int64_t[]){n, 3, 2});
    zen_array *y = zen_array_new(ctx, ZEN_I32, 2, (int64_t[]){n, 2});
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < XR; k++) ((float *)x->data)[i * XR + k] = (float)(1000 * i + k);
        ((int32_t *)y->data)[2 * i] = (int32_t)i;
        ((int32_t *)y->data)[2 * i + 1] = (int32_t)-i;
    }
    return zen_dataset_new(ctx, x, y);
}

/* Runs one epoch and checks it against `order`: batch numbers, sizes, rows, idx. Returns
 * the number of batches, or -1 after reporting a mismatch. */
static int check_epoch(zen_batch_iter *it, const int64_t *order, int64_t n, int64_t bs, void *xb, void *yb) {
    int64_t pos = 0, k = 0;
    zen_batch b;
    while (zen_batch_iter_next(it, &b)) {
        int64_t want_n = n - pos < bs ? n - pos : bs;
        if (b.index != k || b.n != want_n || (xb && (b.x != xb || b.y != yb))) {
            fprintf(stderr, "  batch %lld: index %lld n %lld (want %lld)\n", (long long)k, (long long)b.index,
                    (long long)b.n, (long long)want_n);
            return -1;
        }
        for (int64_t i = 0; i < b.n; i++) {
            int64_t s = order[pos + i];
            const float *x = (const float *)b.x + i * XR;
            const int32_t *y = (const int32_t *)b.y + i * YR;
            bool ok = b.idx[i] == s && y[0] == s && y[1] == -s;
            for (int c = 0; c < XR; c++) ok = ok && x[c] == (float)(1000 * s + c);
            if (!ok) {
                fprintf(stderr, "  batch %lld row %lld: expected sample %lld, got %g / %d\n", (long long)k,
                        (long long)i, (long long)s, x[0], y[0]);
                return -1;
            }
        }
        pos += b.n;
        k++;
    }
    if (pos != n) {
        fprintf(stderr, "  epoch covered %lld of %lld samples\n", (long long)pos, (long long)n);
        return -1;
    }
    if (zen_batch_iter_next(it, &b)) return -1; /* stays at the end */
    return (int)k;
}

TEST(test_batches_every_mode) {
    zen_ctx *ctx = zen_ctx_new();
    const int64_t N = 103, BS = 10;
    zen_dataset *d = make_data(ctx, N);
    int64_t order[103], order2[103];
    zen_rng r;
    zen_rng_seed(&r, 77);
    zen_order_init(order, N);
    zen_shuffle(&r, order, N);
    float *xb = malloc(BS * XR * sizeof(float));
    int32_t *yb = malloc(BS * YR * sizeof(int32_t));
    for (int mode = 0; mode < 4; mode++) {
        bool prefetch = mode & 1, own = mode & 2;
        zen_batch_opts o = {.batch_size = BS, .prefetch = prefetch, .x_buf = own ? xb : NULL, .y_buf = own ? yb : NULL};
        zen_batch_iter *it = zen_batch_iter_new(ctx, d, order, N, o);
        CHECK_OK(ctx, it);
        if (!it) continue;
        CHECK(zen_batch_iter_nbatches(it) == 11);
        CHECK(check_epoch(it, order, N, BS, own ? xb : NULL, own ? yb : NULL) == 11);
        /* Next epochs: a new order; the same order again (NULL); after stopping early. */
        memcpy(order2, order, sizeof order);
        zen_shuffle(&r, order2, N);
        CHECK(zen_batch_iter_reset(it, order2) == 0);
        CHECK(check_epoch(it, order2, N, BS, own ? xb : NULL, own ? yb : NULL) == 11);
        CHECK(zen_batch_iter_reset(it, NULL) == 0);
        CHECK(check_epoch(it, order2, N, BS, own ? xb : NULL, own ? yb : NULL) == 11);
        zen_batch b;
        CHECK(zen_batch_iter_reset(it, order) == 0);
        CHECK(zen_batch_iter_next(it, &b) && zen_batch_iter_next(it, &b) && b.index == 1);
        CHECK(zen_batch_iter_reset(it, NULL) == 0);
        CHECK(check_epoch(it, order, N, BS, own ? xb : NULL, own ? yb : NULL) == 11);
        /* A bad order is refused and changes nothing: the epoch continues where it was. */
        CHECK(zen_batch_iter_reset(it, order) == 0);
        CHECK(zen_batch_iter_next(it, &b) && b.index == 0);
        order2[50] = N;
        CHECK_ERR(ctx, zen_batch_iter_reset(it, order2) != 0, "zen_batch_iter_reset", "order[50] = 103",
                  "out of range [0, 103)");
        CHECK(zen_batch_iter_next(it, &b) && b.index == 1 && b.idx[0] == order[10]);
        /* Freed mid-epoch, with the prefetch thread holding a ready batch. */
        zen_batch_iter_free(it);
        printf("    mode prefetch=%d caller_buffers=%d: ok\n", prefetch, own);
    }
    free(xb);
    free(yb);
    zen_dataset_free(d);
    zen_ctx_free(ctx);
}

/* Many epochs of random orders and batch sizes, prefetch against the plain path. */
TEST(test_batches_prefetch_stress) {
    zen_ctx *ctx = zen_ctx_new();
    const int64_t N = 257;
    zen_dataset *d = make_data(ctx, N);
    int64_t order[257];
    zen_order_init(order, N);
    zen_rng r;
    zen_rng_seed(&r, 5);
    int bad = 0;
    for (int rep = 0; rep < 40; rep++) {
        int64_t bs = 1 + (int64_t)(zen_rng_next(&r) % 40), n = N - (int64_t)(zen_rng_next(&r) % 3);
        zen_batch_iter *a = zen_batch_iter_new(ctx, d, order, n, (zen_batch_opts){.batch_size = bs, .prefetch = true});
        zen_batch_iter *b = zen_batch_iter_new(ctx, d, order, n, (zen_batch_opts){.batch_size = bs});
        for (int epoch = 0; epoch < 5 && a && b; epoch++) {
            zen_shuffle(&r, order, n);
            if (epoch % 2) order[0] = order[1]; /* repeats are allowed */
            zen_batch_iter_reset(a, order);
            zen_batch_iter_reset(b, order);
            bad += check_epoch(a, order, n, bs, NULL, NULL) < 0;
            zen_batch_iter_reset(b, NULL);
            zen_batch ba, bb;
            while (zen_batch_iter_next(b, &bb)) { /* and the plain path gives the same bytes */
                zen_batch_iter_reset(a, NULL);
                for (int64_t k = 0; k <= bb.index; k++) zen_batch_iter_next(a, &ba);
                bad += ba.n != bb.n || memcmp(ba.x, bb.x, (size_t)bb.n * XR * 4) || memcmp(ba.y, bb.y, (size_t)bb.n * YR * 4);
                if (bb.index > 3) break;
            }
        }
        zen_batch_iter_free(a);
        zen_batch_iter_free(b);
    }
    CHECK(bad == 0);
    zen_dataset_free(d);
    zen_ctx_free(ctx);
}

TEST(test_batches_edges) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d = make_data(ctx, 20);
    int64_t all[20];
    zen_order_init(all, 20);
    for (int prefetch = 0; prefetch < 2; prefetch++) {
        /* order NULL: samples 0..n-1 (here the first 13) */
        zen_batch_iter *it = zen_batch_iter_new(ctx, d, NULL, 13, (zen_batch_opts){.batch_size = 4, .prefetch = prefetch});
        CHECK(it && zen_batch_iter_nbatches(it) == 4 && check_epoch(it, all, 13, 4, NULL, NULL) == 4);
        zen_batch_iter_free(it);
        /* batch larger than the data: one partial batch */
        it = zen_batch_iter_new(ctx, d, NULL, 20, (zen_batch_opts){.batch_size = 64, .prefetch = prefetch});
        CHECK(it && check_epoch(it, all, 20, 64, NULL, NULL) == 1);
        zen_batch_iter_free(it);
        /* exact multiple: no empty batch at the end */
        it = zen_batch_iter_new(ctx, d, NULL, 20, (zen_batch_opts){.batch_size = 5, .prefetch = prefetch});
        CHECK(it && check_epoch(it, all, 20, 5, NULL, NULL) == 4);
        zen_batch_iter_free(it);
        /* an empty epoch */
        it = zen_batch_iter_new(ctx, d, NULL, 0, (zen_batch_opts){.batch_size = 5, .prefetch = prefetch});
        zen_batch b;
        CHECK(it && zen_batch_iter_nbatches(it) == 0 && !zen_batch_iter_next(it, &b));
        CHECK(it && zen_batch_iter_reset(it, NULL) == 0 && !zen_batch_iter_next(it, &b));
        zen_batch_iter_free(it);
        /* freed right after creation, before any batch is taken */
        zen_batch_iter_free(zen_batch_iter_new(ctx, d, NULL, 20, (zen_batch_opts){.batch_size = 3, .prefetch = prefetch}));
    }
    zen_batch_iter *it;
    float buf[8];
    CHECK_ERR(ctx, (it = zen_batch_iter_new(ctx, d, NULL, 20, (zen_batch_opts){0})) == NULL, "zen_batch_iter_new",
              "batch_size must be > 0");
    CHECK_ERR(ctx, (it = zen_batch_iter_new(ctx, d, NULL, 20, (zen_batch_opts){.batch_size = 1, .x_buf = buf})) == NULL,
              "both x_buf and y_buf");
    CHECK_ERR(ctx, (it = zen_batch_iter_new(ctx, d, NULL, 21, (zen_batch_opts){.batch_size = 1})) == NULL,
              "n = 21", "20 samples");
    CHECK_ERR(ctx, (it = zen_batch_iter_new(ctx, d, (int64_t[]){0, -1}, 2, (zen_batch_opts){.batch_size = 1})) == NULL,
              "order[1] = -1");
    CHECK_ERR(ctx, (it = zen_batch_iter_new(ctx, d, NULL, 20, (zen_batch_opts){.batch_size = INT64_MAX})) == NULL,
              "too large");
    CHECK(zen_batch_iter_new(ctx, NULL, NULL, 0, (zen_batch_opts){.batch_size = 1}) == NULL && !zen_ctx_error(ctx));
    zen_batch_iter_free(NULL);
    zen_dataset_free(d);
    zen_ctx_free(ctx);
}

TEST(test_batches_allocate_nothing) {
#if ALLOC_COUNTER_SUPPORTED
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d = make_data(ctx, 500);
    int64_t order[500];
    zen_order_init(order, 500);
    zen_rng r;
    zen_rng_seed(&r, 1);
    float *xb = malloc(32 * XR * 4);
    int32_t *yb = malloc(32 * YR * 4);
    for (int mode = 0; mode < 3; mode++) {
        zen_batch_opts o = {.batch_size = 32, .prefetch = mode > 0, .x_buf = mode == 2 ? xb : NULL, .y_buf = mode == 2 ? yb : NULL};
        zen_batch_iter *it = zen_batch_iter_new(ctx, d, order, 500, o);
        zen_batch b;
        while (zen_batch_iter_next(it, &b)) {
        }
        alloc_counter_start();
        int batches = 0;
        for (int epoch = 0; epoch < 3; epoch++) {
            zen_shuffle(&r, order, 500);
            zen_batch_iter_reset(it, order);
            while (zen_batch_iter_next(it, &b)) batches++;
        }
        long allocations = alloc_counter_stop();
        printf("    mode %d: %ld allocations over %d batches\n", mode, allocations, batches);
        CHECK(allocations == 0 && batches == 48);
        zen_batch_iter_free(it);
    }
    free(xb);
    free(yb);
    zen_dataset_free(d);
    zen_ctx_free(ctx);
#else
    printf("    (skipped under a sanitizer)\n");
#endif
}

/* Not a check: how much prefetch hides of the gather cost (printed for the record). */
TEST(test_batches_prefetch_timing) {
    zen_ctx *ctx = zen_ctx_new();
    const int64_t N = 20000;
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){N, 784});
    zen_array *y = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){N});
    zen_dataset *d = zen_dataset_new(ctx, x, y);
    int64_t *order = malloc(N * sizeof *order);
    zen_order_init(order, N);
    zen_rng r;
    zen_rng_seed(&r, 2);
    zen_shuffle(&r, order, N);
    for (int prefetch = 0; prefetch < 2; prefetch++) {
        zen_batch_iter *it = zen_batch_iter_new(ctx, d, order, N, (zen_batch_opts){.batch_size = 128, .prefetch = prefetch});
        zen_batch b;
        double waited = 0, t0 = zen_time_seconds();
        volatile float sink = 0;
        for (;;) {
            double t = zen_time_seconds();
            bool more = zen_batch_iter_next(it, &b);
            waited += zen_time_seconds() - t;
            if (!more) break;
            float acc = 0; /* "training": a few passes over the batch */
            for (int pass = 0; pass < 8; pass++)
                for (int64_t i = 0; i < b.n * 784; i++) acc += ((float *)b.x)[i] * (float)pass;
            sink += acc;
        }
        printf("    prefetch=%d: epoch %.1f ms, of which waiting in next %.1f ms\n", prefetch,
               1e3 * (zen_time_seconds() - t0), 1e3 * waited);
        zen_batch_iter_free(it);
    }
    free(order);
    zen_dataset_free(d);
    zen_ctx_free(ctx);
}

int main(void) {
    return RUN_TESTS(test_batches_every_mode, test_batches_prefetch_stress, test_batches_edges,
                     test_batches_allocate_nothing, test_batches_prefetch_timing);
}
