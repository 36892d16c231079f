/* bench/optimizer.c — one optimizer step over the MNIST reference model's parameters
 * (examples/mnist_cnn.c: Conv2D 32 3x3, Dense 128, Dense 10: 693,962 floats in 6 tensors).
 *
 *   build/bench/bench_optimizer [threads...]        (default: 1 2)
 *
 * For each optimizer and thread count: the median step time of 200 steps after 20 warm-up
 * steps, and the memory traffic it implies (every state array and the weights are read
 * and written, the gradient read). Lines follow bench/bench.h's RESULT format. */
#include <stdio.h>
#include <stdlib.h>

#include "zen.h"

static const int64_t sizes[] = {32 * 1 * 3 * 3, 32, 5408 * 128, 128, 128 * 10, 10};
#define NT ((int)(sizeof sizes / sizeof sizes[0]))

typedef struct {
    zen_optimizer *opt;
    zen_tensor *p[NT];
} run;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median seconds of one step over 200 steps, after 20 warm-up steps. */
static double median_step(run *r) {
    enum { WARMUP = 20, REPS = 200 };
    double t[REPS];
    for (int i = 0; i < WARMUP + REPS; i++) {
        double t0 = zen_time_seconds();
        if (zen_optimizer_step(r->opt, NT, r->p) != 0) exit(1);
        if (i >= WARMUP) t[i - WARMUP] = zen_time_seconds() - t0;
    }
    qsort(t, REPS, sizeof *t, cmp_double);
    return t[REPS / 2];
}

int main(int argc, char **argv) {
    int threads[8] = {1, 2}, nthreads = 2;
    if (argc > 1) {
        nthreads = 0;
        for (int i = 1; i < argc && nthreads < 8; i++) threads[nthreads++] = atoi(argv[i]);
    }
    const char *opts[][3] = {{"Adam", NULL, "4"},
                             {"AdamW", "{\"amsgrad\": true}", "6"},
                             {"SGD", "{\"momentum\": 0.9}", "3"},
                             {"RMSprop", NULL, "3"},
                             {"Adagrad", NULL, "3"},
                             {"Adam", "{\"global_clipnorm\": 1.0}", "4"}};
    int64_t total = 0;
    for (int k = 0; k < NT; k++) total += sizes[k];
    printf("optimizer step, %lld parameters in %d tensors\n", (long long)total, NT);
    for (size_t o = 0; o < sizeof opts / sizeof opts[0]; o++) {
        for (int ti = 0; ti < nthreads; ti++) {
            zen_ctx *ctx = zen_ctx_new();
            zen_ctx_set_threads(ctx, threads[ti]);
            run r = {zen_optimizer_new(ctx, opts[o][0], opts[o][1]), {0}};
            if (!r.opt) {
                fprintf(stderr, "%s\n", zen_ctx_error(ctx));
                return 1;
            }
            zen_rng rng;
            zen_rng_seed(&rng, 1);
            for (int k = 0; k < NT; k++) {
                r.p[k] = zen_param(ctx, ZEN_F32, 1, &sizes[k]);
                r.p[k]->grad = zen_const(ctx, ZEN_F32, 1, &sizes[k]);
                zen_rng_fill_normal(&rng, r.p[k], 0, 0.05f);
                zen_rng_fill_normal(&rng, r.p[k]->grad, 0, 0.01f);
            }
            double s = median_step(&r);
            /* arrays streamed per element: read w, g, each state; write w and each state */
            double bytes = (double)total * 4 * atof(opts[o][2]);
            char name[96];
            snprintf(name, sizeof name, "optimizer_%s%s", opts[o][0], opts[o][1] ? "_opts" : "");
            printf("RESULT %s threads=%d median_ms=%.4f GBps=%.1f  (%s %s)\n", name, threads[ti], s * 1e3,
                   bytes / s / 1e9, opts[o][0], opts[o][1] ? opts[o][1] : "defaults");
            zen_optimizer_free(r.opt);
            zen_ctx_free(ctx);
        }
    }
    return 0;
}
