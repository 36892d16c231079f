/* bench/lstm_lm.c — one training step of an LSTM language model, as bench/lstm_lm_torch.py:
 *
 *   Embedding(65, 128) -> LSTM(256) over 64 steps -> Linear(256, 65) on every step ->
 *   cross-entropy against the next tokens; batch 32; backward; Adam step
 *
 *   build/bench/bench_lstm_lm [THREADS...]     (default: OMP_NUM_THREADS, else 1 and 2)
 *
 * Written with zen's ops (zen_embedding, zen_rnn, zen_linear, zen_cross_entropy) and
 * zen_optimizer_step, as the torch script uses torch.nn modules and torch.optim.Adam.
 * The token batches are random ids (8 fixed batches, cycled); what is timed is one step:
 * graph compute (forward, backward) and the optimizer's update of the 7 parameters.
 * Prints RESULT lstm_lm threads=T median_ms=<ms per step> ... tokens_per_s=<B*T / step>
 * cpu_ms=<CPU time per step, all threads> loss=<last loss> peak_mb=<graph memory>
 * (names prefixed zen.<env>. when $ZEN_BENCH_ENV is set). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "zen.h"

enum { V = 65, E = 128, H = 256, T = 64, B = 32, NBATCH = 8 };

typedef struct {
    zen_graph *g;
    zen_optimizer *opt;
    zen_tensor *params[7];
    zen_tensor *ids, *tgt;
    int32_t *data; /* NBATCH batches of B*(T+1) ids */
    int step;
} lm;

/* CPU seconds of this process (all threads): on a busy machine, cpu_ms per step at one
 * thread shows the work without the waits for a core. */
static double cpu_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void die(zen_ctx *ctx, const char *what) {
    fprintf(stderr, "bench_lstm_lm: %s: %s\n", what, zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
    exit(1);
}

static void train_step(void *arg) {
    lm *s = arg;
    const int32_t *batch = s->data + (size_t)(s->step++ % NBATCH) * B * (T + 1);
    int32_t *ids = s->ids->data, *tgt = s->tgt->data;
    for (int b = 0; b < B; b++) {
        memcpy(ids + b * T, batch + b * (T + 1), T * sizeof *ids);
        memcpy(tgt + b * T, batch + b * (T + 1) + 1, T * sizeof *tgt);
    }
    if (zen_graph_compute(s->g) != 0 || zen_optimizer_step(s->opt, 7, s->params) != 0) {
        fprintf(stderr, "bench_lstm_lm: step failed\n");
        exit(1);
    }
}

int main(int argc, char **argv) {
    int threads[8];
    int nt = bench_thread_list(argc, argv, 1, threads);
    const char *env = getenv("ZEN_BENCH_ENV");
    char name[64] = "lstm_lm";
    if (env && *env) snprintf(name, sizeof name, "zen.%s.lstm_lm", env);
    for (int k = 0; k < nt; k++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_ctx_set_threads(ctx, threads[k]);
        zen_rng rng;
        zen_rng_seed(&rng, 1);
        lm s = {0};
        const int64_t shapes[7][2] = {{V, E}, {4 * H, E}, {4 * H, H}, {4 * H, 1}, {4 * H, 1}, {V, H}, {V, 1}};
        for (int i = 0; i < 7; i++) {
            int nd = shapes[i][1] == 1 ? 1 : 2;
            s.params[i] = zen_param(ctx, ZEN_F32, nd, shapes[i]);
            float a = i == 0 ? 1.0f : 0.0625f; /* 1/sqrt(256), torch's LSTM and Linear scale */
            zen_rng_fill_uniform(&rng, s.params[i], -a, a);
        }
        s.ids = zen_input(ctx, ZEN_I32, 2, (int64_t[]){B, T});
        s.tgt = zen_input(ctx, ZEN_I32, 1, (int64_t[]){B * T});
        zen_tensor *x = zen_embedding(ctx, s.params[0], s.ids);
        zen_rnn_out r = zen_rnn(ctx, x, s.params[1], s.params[2],
                                &(zen_rnn_opts){.mode = ZEN_RNN_LSTM, .b_ih = s.params[3], .b_hh = s.params[4]});
        zen_tensor *logits = zen_linear(ctx, zen_reshape(ctx, r.y, 2, (int64_t[]){B * T, H}), s.params[5], s.params[6]);
        zen_tensor *loss = zen_cross_entropy(ctx, logits, s.tgt);
        if (!loss) die(ctx, "build");
        s.g = zen_graph_new(ctx);
        zen_graph_add(s.g, loss);
        if (zen_graph_backward(s.g, loss) != 0 || zen_graph_plan(s.g) != 0) die(ctx, "plan");
        s.opt = zen_optimizer_new(ctx, "Adam", NULL);
        s.data = malloc((size_t)NBATCH * B * (T + 1) * sizeof *s.data);
        for (int i = 0; i < NBATCH * B * (T + 1); i++) s.data[i] = (int32_t)(zen_rng_uniform(&rng) * V) % V;
        double c0 = cpu_now();
        int s0 = s.step;
        bench_stats st = bench_time(train_step, &s, 3, 20, 2.0);
        double cpu_ms = (cpu_now() - c0) * 1e3 / (s.step - s0);
        train_step(&s);
        bench_result_kv(name, threads[k], st, "tokens_per_s=%.0f cpu_ms=%.2f loss=%.4f peak_mb=%.1f",
                        B * T / (st.median_ms * 1e-3), cpu_ms, *(float *)loss->data,
                        zen_graph_peak_bytes(s.g) / 1048576.0);
        free(s.data);
        zen_optimizer_free(s.opt);
        zen_graph_free(s.g);
        zen_ctx_free(ctx);
    }
    return 0;
}
