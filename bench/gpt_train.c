/* bench/gpt_train.c — training steps of a small GPT in zen (issue 5 benchmarks a and b),
 * compared with the same model in PyTorch by bench/gpt_compare.sh (bench/gpt_train_torch.py).
 *
 *   build/bench/bench_gpt_train CONFIG [THREADS [STEPS]]
 *
 * CONFIG: "a" (char-GPT: 6 layers, 6 heads, d_model 384, context 256, batch 16) or "b" (4
 * layers, 4 heads, d_model 128, context 64, batch 32); vocab 65 in both. The model is the
 * nanoGPT layout: token embedding + learned position embedding, then per block a pre-norm
 * residual causal self-attention (q, k, v and output projections with biases) and a pre-norm
 * residual MLP (Linear d->4d, exact-erf GELU, Linear 4d->d), a final LayerNorm (eps 1e-5)
 * and an untied lm head without bias. Dropout 0. Loss: mean cross-entropy of the [B*T, 65]
 * logits against the next tokens. Optimizer: AdamW (lr 3e-4, weight_decay 0.01, eps 1e-7)
 * over every parameter.
 *
 * Built from ops with the graph API (zen_graph_backward / zen_graph_plan / zen_graph_compute +
 * zen_optimizer_step), the way a manual training step is written in zen: fit's losses take
 * [N, C] outputs, not the [B, T, V] logits of a language model.
 *
 * Data: a fixed pool of 8 batches of random tokens (seed 1); step s trains on batch s mod 8,
 * so the loss must fall below ln(65) = 4.17 as the model memorises them (printed as
 * loss_first / loss_last: a check that the step really trains). Timing: 3 warm-up steps,
 * then STEPS timed steps (default 10 for a, 40 for b); a step is one compute of the graph
 * (forward, loss, backward) plus the AdamW update. Prints (bench/bench.h protocol; names
 * prefixed zen.<env>. when $ZEN_BENCH_ENV is set):
 *   RESULT gpt_<config> threads=T median_ms=<ms per step> min_ms=.. reps=.. tokens_per_s=..
 *          params=<count> loss_first=.. loss_last=..
 *
 * With ZEN_GPT_PROFILE=1 it also runs the graph's kernels one at a time, as
 * zen_graph_compute does, timing each over the STEPS steps, and prints (to stderr) the time
 * per op and per matmul shape, largest first: where a step's time goes. With one thread
 * the kernels are timed in CPU time of the thread (CLOCK_THREAD_CPUTIME_ID), which time
 * slices lost to other processes on a shared machine do not inflate.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "graph/graph.h" /* the profile mode runs the graph's kernels one by one */
#include "zen.h"

typedef struct {
    const char *name;
    int layers, heads, d, ctx, batch, vocab, steps;
} gpt_config;

static const gpt_config configs[] = {
    {"a", 6, 6, 384, 256, 16, 65, 10},
    {"b", 4, 4, 128, 64, 32, 65, 40},
};

#define MAX_PARAMS 256

typedef struct {
    zen_ctx *ctx;
    zen_rng rng;
    zen_tensor *params[MAX_PARAMS];
    int n;
} builder;

static void die(zen_ctx *ctx, const char *what) {
    fprintf(stderr, "bench_gpt_train: %s: %s\n", what, zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
    exit(1);
}

/* A parameter filled N(0, std) (std 0: ones when `one`, else zeros), as nanoGPT inits. */
static zen_tensor *param(builder *b, int ndim, const int64_t *shape, float std, bool one) {
    zen_tensor *t = zen_param(b->ctx, ZEN_F32, ndim, shape);
    if (!t || b->n == MAX_PARAMS) die(b->ctx, "param");
    if (std > 0) zen_rng_fill_normal(&b->rng, t, 0.0f, std);
    else if (one) zen_fill_f32(t, 1.0f);
    b->params[b->n++] = t;
    return t;
}

static zen_tensor *linear(builder *b, zen_tensor *x, int64_t in, int64_t out, bool bias, float std) {
    zen_tensor *w = param(b, 2, (int64_t[]){out, in}, std, false);
    zen_tensor *bb = bias ? param(b, 1, (int64_t[]){out}, 0, false) : NULL;
    return zen_linear(b->ctx, x, w, bb);
}

static zen_tensor *layer_norm(builder *b, zen_tensor *x, int64_t d) {
    zen_tensor *g = param(b, 1, (int64_t[]){d}, 0, true);
    zen_tensor *be = param(b, 1, (int64_t[]){d}, 0, false);
    return zen_layer_norm(b->ctx, x, g, be, 1e-5f);
}

/* x [B, T, H*hd] -> [B, H, T, hd] view, read in place by zen_attention. */
static zen_tensor *heads(zen_ctx *ctx, zen_tensor *x, int64_t B, int64_t T, int64_t H, int64_t hd) {
    return zen_permute(ctx, zen_reshape(ctx, x, 4, (int64_t[]){B, T, H, hd}), (const int[]){0, 2, 1, 3});
}

static double prof_clock(int nthreads) {
    if (nthreads > 1) return zen_time_seconds();
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The profile mode: one compute of g with each kernel timed into acc[node] (seconds). */
static void profiled_compute(zen_graph *g, double *acc) {
    if (zen_graph_compute(g) != 0) die(g->ctx, "compute"); /* binds every node's data */
    int nthreads = g->ctx->nthreads < g->planned_threads ? g->ctx->nthreads : g->planned_threads;
    zen_exec ex = {.work = g->work, .nthreads = nthreads, .run = g->runs, .training = g->training, .ctx = g->ctx};
    for (int i = 0; i < g->n; i++) {
        zen_tensor *t = g->nodes[i];
        if (t->op == ZEN_OP_NONE || zen_op_table[t->op]->is_view) continue;
        double t0 = prof_clock(nthreads);
        zen_op_table[t->op]->forward(t, &ex);
        acc[i] += prof_clock(nthreads) - t0;
    }
}

typedef struct {
    char key[160];
    double s;
    int count;
} prof_row;

static int prof_cmp(const void *a, const void *b) {
    double x = ((const prof_row *)a)->s, y = ((const prof_row *)b)->s;
    return (x < y) - (x > y);
}

static void prof_add(prof_row *rows, int *n, const char *key, double s) {
    for (int i = 0; i < *n; i++)
        if (!strcmp(rows[i].key, key)) {
            rows[i].s += s, rows[i].count++;
            return;
        }
    snprintf(rows[*n].key, sizeof rows[*n].key, "%s", key);
    rows[*n].s = s, rows[*n].count = 1;
    (*n)++;
}

/* Prints the time per op name and per matmul (shapes of both sources and the flags). */
static void prof_print(zen_graph *g, const double *acc, int steps) {
    prof_row *rows = calloc((size_t)g->n * 2, sizeof *rows);
    if (!rows) return;
    int n = 0;
    double total = 0;
    for (int i = 0; i < g->n; i++) {
        zen_tensor *t = g->nodes[i];
        if (acc[i] <= 0) continue;
        char key[160], a[64], b[64];
        snprintf(key, sizeof key, "%s", zen_op_name(t->op));
        prof_add(rows, &n, key, acc[i]);
        total += acc[i];
        if (!strcmp(zen_op_name(t->op), "matmul")) {
            snprintf(key, sizeof key, "  matmul %s%s x %s%s%s", zen_shape_str(t->src[0], a, sizeof a),
                     t->ip[0] ? "T" : "", zen_shape_str(t->src[1], b, sizeof b), t->ip[1] ? "T" : "",
                     t->src[2] ? " +bias" : "");
            prof_add(rows, &n, key, acc[i]);
        }
    }
    qsort(rows, (size_t)n, sizeof *rows, prof_cmp);
    fprintf(stderr, "# profile: %.1f ms per step in kernels\n", total / steps * 1e3);
    for (int i = 0; i < n; i++)
        fprintf(stderr, "# %8.2f ms %5.1f%% %4dx %s\n", rows[i].s / steps * 1e3, 100 * rows[i].s / total,
                rows[i].count, rows[i].key);
    free(rows);
}

int main(int argc, char **argv) {
    const gpt_config *c = NULL;
    for (size_t i = 0; argc > 1 && i < sizeof configs / sizeof *configs; i++)
        if (!strcmp(argv[1], configs[i].name)) c = &configs[i];
    if (!c) {
        fprintf(stderr, "usage: bench_gpt_train a|b [THREADS [STEPS]]\n");
        return 2;
    }
    int threads = bench_threads(argc - 1, argv + 1);
    int steps = argc > 3 ? atoi(argv[3]) : c->steps;
    if (steps < 1 || steps > BENCH_MAX_REPS) steps = c->steps;
    const char *env = getenv("ZEN_BENCH_ENV");
    char name[96];
    snprintf(name, sizeof name, "gpt_%s", c->name);
    if (env && *env) snprintf(name, sizeof name, "zen.%s.gpt_%s", env, c->name);

    const int64_t B = c->batch, T = c->ctx, D = c->d, H = c->heads, V = c->vocab, hd = D / H;
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, threads);
    builder b = {.ctx = ctx};
    zen_rng_seed(&b.rng, 42);
    const float std = 0.02f, proj_std = 0.02f / sqrtf(2.0f * (float)c->layers); /* nanoGPT's */

    zen_tensor *ids = zen_input(ctx, ZEN_I32, 2, (int64_t[]){B, T});
    zen_tensor *tgt = zen_input(ctx, ZEN_I32, 1, (int64_t[]){B * T});
    zen_tensor *wte = param(&b, 2, (int64_t[]){V, D}, std, false);
    zen_tensor *wpe = param(&b, 2, (int64_t[]){T, D}, std, false);
    zen_tensor *x = zen_add(ctx, zen_embedding(ctx, wte, ids), wpe); /* [B, T, D] + [T, D] */
    for (int l = 0; l < c->layers; l++) {
        zen_tensor *h = layer_norm(&b, x, D);
        zen_tensor *q = heads(ctx, linear(&b, h, D, D, true, std), B, T, H, hd);
        zen_tensor *k = heads(ctx, linear(&b, h, D, D, true, std), B, T, H, hd);
        zen_tensor *v = heads(ctx, linear(&b, h, D, D, true, std), B, T, H, hd);
        zen_tensor *a = zen_attention(ctx, q, k, v, NULL, (zen_attention_opts){.causal = true});
        a = zen_reshape(ctx, zen_permute(ctx, a, (const int[]){0, 2, 1, 3}), 3, (int64_t[]){B, T, D});
        x = zen_add(ctx, x, linear(&b, a, D, D, true, proj_std));
        h = layer_norm(&b, x, D);
        h = zen_gelu(ctx, linear(&b, h, D, 4 * D, true, std));
        x = zen_add(ctx, x, linear(&b, h, 4 * D, D, true, proj_std));
    }
    x = layer_norm(&b, x, D);
    zen_tensor *logits = linear(&b, x, D, V, false, std); /* [B, T, V] */
    zen_tensor *loss = zen_cross_entropy(ctx, zen_reshape(ctx, logits, 2, (int64_t[]){B * T, V}), tgt);
    if (!loss) die(ctx, "building the model");
    int64_t nparams = 0;
    for (int i = 0; i < b.n; i++) nparams += zen_numel(b.params[i]);

    zen_graph *g = zen_graph_new(ctx);
    if (zen_graph_add(g, loss) || zen_graph_backward(g, loss) || zen_graph_plan(g)) die(ctx, "graph");
    zen_optimizer *opt =
        zen_optimizer_new(ctx, "AdamW", "{\"learning_rate\": 3e-4, \"weight_decay\": 0.01, \"epsilon\": 1e-7}");
    if (!opt) die(ctx, "optimizer");

    /* 8 batches of random tokens; targets are the inputs shifted by one. */
    enum { POOL = 8 };
    int32_t *pool = malloc(sizeof(int32_t) * POOL * (size_t)(B * T + 1));
    if (!pool) die(ctx, "out of memory");
    zen_rng dr;
    zen_rng_seed(&dr, 1);
    for (int64_t i = 0; i < POOL * (B * T + 1); i++) pool[i] = (int32_t)(zen_rng_next(&dr) % (uint64_t)V);

    double *t = malloc(sizeof(double) * (size_t)steps);
    if (!t) die(ctx, "out of memory");
    float loss_first = 0, loss_last = 0;
    const int warmup = 3;
    for (int s = 0; s < warmup + steps; s++) {
        const int32_t *src = pool + (size_t)(s % POOL) * (size_t)(B * T + 1);
        double t0 = zen_time_seconds();
        memcpy(ids->data, src, sizeof(int32_t) * (size_t)(B * T));
        memcpy(tgt->data, src + 1, sizeof(int32_t) * (size_t)(B * T));
        if (zen_graph_compute(g) != 0) die(ctx, "compute");
        if (zen_optimizer_step(opt, b.n, b.params) != 0) die(ctx, "optimizer step");
        if (s >= warmup) t[s - warmup] = zen_time_seconds() - t0;
        float lv = *(const float *)loss->data;
        if (!isfinite(lv)) die(ctx, "loss is not finite");
        if (s == 0) loss_first = lv;
        loss_last = lv;
    }
    double sorted_min = t[0];
    const char *prof = getenv("ZEN_GPT_PROFILE");
    if (prof && *prof && strcmp(prof, "0")) {
        double *acc = calloc((size_t)g->n, sizeof *acc);
        if (!acc) die(ctx, "out of memory");
        for (int s = 0; s < steps; s++) profiled_compute(g, acc);
        prof_print(g, acc, steps);
        free(acc);
    }
    for (int i = 1; i < steps; i++) sorted_min = t[i] < sorted_min ? t[i] : sorted_min;
    qsort(t, (size_t)steps, sizeof *t, bench_cmp_double);
    bench_stats st = {t[steps / 2] * 1e3, sorted_min * 1e3, steps};
    bench_result_kv(name, threads, st, "tokens_per_s=%.0f params=%lld loss_first=%.4f loss_last=%.4f",
                    (double)(B * T) / (st.median_ms * 1e-3), (long long)nparams, loss_first, loss_last);
    free(t);
    free(pool);
    zen_optimizer_free(opt);
    zen_graph_free(g);
    zen_ctx_free(ctx);
    return 0;
}
