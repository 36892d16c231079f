/* bench/mnist_train.c — the reference model (examples/mnist_cnn.c) trained and run by zen:
 *
 *   Conv2D(32, 3x3, relu) -> MaxPooling2D(2x2) -> Flatten -> Dense(128, relu) ->
 *   Dense(10, softmax); Adam, categorical_crossentropy, metric accuracy, batch 64
 *
 *   build/bench/bench_mnist_train [THREADS [EPOCHS [MNIST_DIR]]]
 *
 * Training: one epoch of the 60000 MNIST training images through zen_model_fit (verbose 0,
 * shuffled, no validation), timed EPOCHS times (default 3) after a warm-up fit on 2080
 * samples (which builds the graphs for batch 64 and for the final partial batch of 32 and
 * warms oneDNN's JIT), so the timed epochs are the steady state. Inference:
 * zen_model_predict over the 10000 test images at batch 1000 and at batch 1.
 *
 * What is timed: the zen_model_fit / zen_model_predict calls. Reading the IDX files,
 * scaling and one-hot encoding happen once before and are not timed (as in
 * bench/mnist_train_torch.py); per-step batch assembly (gathering the shuffled rows) is
 * inside fit and so is timed, as the torch script times its x[idx] gathers. The batch
 * iterator gathers on a prefetch thread; the CPU time printed (cpu_s) shows what that adds.
 *
 * Output: RESULT lines (bench/bench.h protocol) read by bench/mnist_compare.py (names
 * prefixed zen.<env>. when $ZEN_BENCH_ENV is set):
 *   RESULT mnist_train threads=T median_ms=<ms per epoch> best_ms=.. samples_per_s=..
 *          cpu_s=<CPU seconds per epoch, median>
 *   RESULT mnist_predict_b1000 threads=T median_ms=<ms per 10000 images> images_per_s=..
 *   RESULT mnist_predict_b1 ...
 *   RESULT mnist_memory threads=T median_ms=0 peak_rss_mb=<VmHWM> data_rss_mb=<VmRSS
 *          after loading the data, before the model>
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bench.h"
#include "zen.h"

static double status_mb(const char *key) { /* VmRSS / VmHWM of this process, in MB */
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    double v = -1;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':') v = atof(line + n + 1) / 1024.0;
    fclose(f);
    return v;
}

static double cpu_seconds(void) {
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec * 1e-6 + (double)r.ru_stime.tv_sec +
           (double)r.ru_stime.tv_usec * 1e-6;
}

static void die(zen_ctx *ctx, const char *what) {
    fprintf(stderr, "bench_mnist_train: %s: %s\n", what, zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
    exit(1);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, bench_cmp_double);
    return v[n / 2];
}

/* Times zen_model_predict over x at `batch`, `reps` times; returns the median seconds. */
static double time_predict(zen_ctx *ctx, zen_model *m, const zen_array *x, int batch, int reps) {
    zen_array head = *x; /* warm-up on the first rows: builds the graph */
    head.shape[0] = x->shape[0] < 2 * batch ? x->shape[0] : 2 * batch;
    if (head.shape[0] > 200 && batch == 1) head.shape[0] = 200;
    zen_array *p = zen_model_predict(m, &head, batch);
    if (!p) die(ctx, "predict");
    zen_array_free(p);
    double t[16];
    for (int r = 0; r < reps; r++) {
        double t0 = zen_time_seconds();
        p = zen_model_predict(m, x, batch);
        t[r] = zen_time_seconds() - t0;
        if (!p) die(ctx, "predict");
        zen_array_free(p);
    }
    return median(t, reps);
}

int main(int argc, char **argv) {
    int threads = bench_threads(argc, argv);
    /* RESULT names: mnist_* as built, or zen.<env>.mnist_* with $ZEN_BENCH_ENV (the
     * environment the runner set, e.g. "passive" for OMP_WAIT_POLICY=PASSIVE) */
    const char *env = getenv("ZEN_BENCH_ENV");
    char pre[64] = "";
    if (env && *env) snprintf(pre, sizeof pre, "zen.%s.", env);
    int epochs = argc > 2 ? atoi(argv[2]) : 3;
    if (epochs < 1) epochs = 1;
    if (epochs > 16) epochs = 16;
    char dir[1024];
    if (argc > 3) snprintf(dir, sizeof dir, "%s", argv[3]);
    else if (getenv("ZEN_MNIST")) snprintf(dir, sizeof dir, "%s", getenv("ZEN_MNIST"));
    else snprintf(dir, sizeof dir, "%s/.cache/zen/datasets/mnist", getenv("HOME") ? getenv("HOME") : ".");

    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, threads);
    zen_dataset *train, *test;
    if (zen_load_mnist(ctx, dir, ZEN_DATA_SCALE, &train, &test) != 0) die(ctx, dir);
    zen_array *oh = zen_one_hot(ctx, train->y, 10);
    if (!oh) die(ctx, "one_hot");
    zen_array_free(train->y), train->y = oh;
    double data_rss = status_mb("VmRSS");

    zen_model *m = zen_model_new(ctx, "mnist_cnn");
    zen_model_input(m, 3, (int64_t[]){28, 28, 1});
    zen_model_add(m, zen_layer_conv2d(ctx, 32, 3, 3, "relu"));
    zen_model_add(m, zen_layer_max_pooling2d(ctx, 2, 2));
    zen_model_add(m, zen_layer_flatten(ctx));
    zen_model_add(m, zen_layer_dense(ctx, 128, "relu"));
    zen_model_add(m, zen_layer_dense(ctx, 10, "softmax"));
    if (zen_model_build(m, 42) != 0) die(ctx, "build");
    const char *metrics[] = {"accuracy"};
    if (zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "categorical_crossentropy", 1, metrics) != 0)
        die(ctx, "compile");

    zen_fit_opts o = zen_fit_defaults();
    o.epochs = 1;
    o.batch_size = 64;
    o.verbose = 0;
    o.seed = 42;

    const char *parts = getenv("MNIST_BENCH_PARTS"); /* "train" or "predict": only that part (profiling) */
    bool train_only = parts && !strcmp(parts, "train"), predict_only = parts && !strcmp(parts, "predict");

    /* Warm-up: 32 full batches and a partial one of 32. */
    int64_t idx[2080];
    for (int i = 0; i < 2080; i++) idx[i] = i;
    zen_dataset *warm = zen_dataset_take(ctx, train, idx, 2080);
    if (!warm) die(ctx, "take");
    zen_history *h = zen_model_fit(m, warm, &o);
    if (!h) die(ctx, "fit (warm-up)");
    zen_history_free(h);
    zen_dataset_free(warm);

    double t[16], cpu[16], loss = 0, acc = 0;
    if (predict_only) epochs = 0;
    for (int e = 0; e < epochs; e++) {
        o.seed = 42 + (uint64_t)e;
        double c0 = cpu_seconds(), t0 = zen_time_seconds();
        h = zen_model_fit(m, train, &o);
        t[e] = zen_time_seconds() - t0;
        cpu[e] = cpu_seconds() - c0;
        if (!h) die(ctx, "fit");
        loss = zen_metrics_get(&h->logs[0], "loss");
        acc = zen_metrics_get(&h->logs[0], "accuracy");
        zen_history_free(h);
        fprintf(stderr, "# zen epoch %d: %.3f s, loss %.4f, accuracy %.4f\n", e + 1, t[e], loss, acc);
    }
    double best = t[0];
    for (int e = 1; e < epochs; e++) best = t[e] < best ? t[e] : best;
    double med = epochs ? median(t, epochs) : 0, med_cpu = epochs ? median(cpu, epochs) : 0;
    double n = (double)train->n;
    if (epochs) printf("RESULT %smnist_train threads=%d median_ms=%.1f best_ms=%.1f samples_per_s=%.0f best_samples_per_s=%.0f "
           "cpu_s=%.3f loss=%.4f accuracy=%.4f\n",
           pre, threads, med * 1e3, best * 1e3, n / med, n / best, med_cpu, loss, acc);
    fflush(stdout);

    if (train_only) return 0;
    double nt = (double)test->n;
    double tb = time_predict(ctx, m, test->x, 1000, 5);
    printf("RESULT %smnist_predict_b1000 threads=%d median_ms=%.1f images_per_s=%.0f\n", pre, threads, tb * 1e3, nt / tb);
    fflush(stdout);
    double t1 = time_predict(ctx, m, test->x, 1, 3);
    printf("RESULT %smnist_predict_b1 threads=%d median_ms=%.1f images_per_s=%.0f\n", pre, threads, t1 * 1e3, nt / t1);
    printf("RESULT %smnist_memory threads=%d median_ms=0 peak_rss_mb=%.1f data_rss_mb=%.1f\n", pre, threads,
           status_mb("VmHWM"), data_rss);

    zen_model_free(m);
    zen_dataset_free(train);
    zen_dataset_free(test);
    zen_ctx_free(ctx);
    return 0;
}
