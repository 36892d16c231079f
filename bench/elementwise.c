/* bench/elementwise.c — throughput of transcendental elementwise ops on 1M floats.
 *
 *   build/bench/bench_elementwise [n] [threads...]   (defaults: 1048576; OMP_NUM_THREADS, else 1 2)
 *
 * For exp, tanh, sigmoid, gelu (erf), gelu_tanh and silu it times, at each thread count:
 *   libm    a scalar loop over glibc's expf/tanhf/erff (what GCC emits without -ffast-math:
 *           one call per element), split across threads with OpenMP;
 *   vmath   the same loop over src/ops/vmath.h, vectorized (ZEN_TARGET_CLONES);
 *   zen fwd the op's node run by zen_graph_compute (threading, dispatch and all);
 *   zen bwd the fused derivative node (UNARY_BACK: g * f'(x, y)) alone, on a stored y.
 * Reported: best of 40 trials, in Gelem/s (1e9 elements per second) and ns per element.
 * A copy (zen_scale by 1) gives the memory-bound ceiling for one read + one write.
 * For bench/compare.py (bench/elementwise_torch.py times the same in PyTorch), per call:
 *   RESULT unary.<op>.fwd   y = f(x)                                  (zen fwd above)
 *   RESULT unary.<op>.step  y = f(x) and dx = g * f'(x) from y.backward(g): the forward
 *                           node and the gradient node its backward rule builds
 *   RESULT unary.copy.fwd   y = x * 1
 * with median_ms the median over the 40 trials of the time per call and min_ms the best. */
#include "bench.h"
#include "core/internal.h"
#include "ops/loops.h"
#include "ops/vmath.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { EXP, TANH, SIGMOID, GELU, GELU_TANH, SILU, NOPS };
static const char *const op_name[NOPS] = {"exp", "tanh", "sigmoid", "gelu", "gelu_tanh", "silu"};

/* ---- scalar libm loops ---- */
static void libm_loop(int op, const float *x, float *y, int64_t n, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        switch (op) {
        case EXP: y[i] = expf(v); break;
        case TANH: y[i] = tanhf(v); break;
        case SIGMOID: y[i] = 1.0f / (1.0f + expf(-v)); break;
        case GELU: y[i] = 0.5f * v * (1.0f + erff(v * 0.70710678f)); break;
        case GELU_TANH: y[i] = 0.5f * v * (1.0f + tanhf(0.79788456f * (v + 0.044715f * v * v * v))); break;
        default: y[i] = v / (1.0f + expf(-v)); break;
        }
    }
}

/* ---- vmath loops (the switch is outside the vector loops) ---- */
#define VM_ROW(name, EXPR)                                                                          \
    ZEN_TARGET_CLONES static void name(const float *restrict xs, float *restrict ys, int64_t n) {   \
        _Pragma("omp simd") for (int64_t i = 0; i < n; i++) {                                       \
            float x = xs[i];                                                                        \
            ys[i] = (EXPR);                                                                         \
        }                                                                                           \
    }
VM_ROW(vm_exp, zen_vm_exp(x))
VM_ROW(vm_tanh, zen_vm_tanh(x))
VM_ROW(vm_sigmoid, zen_vm_sigmoid(x))
VM_ROW(vm_gelu, x * zen_vm_ndtr(x))
VM_ROW(vm_gelu_tanh, x * zen_vm_sigmoid(x * (1.59576912f + 0.0713548163f * (x * x))))
VM_ROW(vm_silu, x * zen_vm_sigmoid(x))
typedef void (*vm_row)(const float *, float *, int64_t);
static const vm_row vm_rows[NOPS] = {vm_exp, vm_tanh, vm_sigmoid, vm_gelu, vm_gelu_tanh, vm_silu};

static void vm_loop(int op, const float *x, float *y, int64_t n, int nt) {
    int64_t per = (n + nt - 1) / nt;
    per = (per + 15) & ~(int64_t)15;
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int t = 0; t < nt; t++) {
        int64_t i0 = t * per, len = n - i0 < per ? n - i0 : per;
        if (len > 0) vm_rows[op](x + i0, y + i0, len);
    }
}

/* ---- zen graphs ---- */
static zen_tensor *build(zen_ctx *ctx, int op, zen_tensor *x) {
    switch (op) {
    case EXP: return zen_exp(ctx, x);
    case TANH: return zen_tanh(ctx, x);
    case SIGMOID: return zen_sigmoid(ctx, x);
    case GELU: return zen_gelu(ctx, x);
    case GELU_TANH: return zen_gelu_tanh(ctx, x);
    default: return zen_silu(ctx, x);
    }
}

/* best time of TRIALS runs of `reps` calls. Many short trials: on a shared VM the second
 * core is sometimes taken away for milliseconds, and the best trial is the one that ran
 * undisturbed. */
#define TRIALS 40
#define TIME_TRIALS(st, reps, CALL)                                                                 \
    do {                                                                                            \
        double tt_[TRIALS];                                                                         \
        CALL;                                                                                       \
        for (int tr_ = 0; tr_ < TRIALS; tr_++) {                                                    \
            double t0_ = zen_time_seconds();                                                        \
            for (int r_ = 0; r_ < (reps); r_++) CALL;                                               \
            tt_[tr_] = (zen_time_seconds() - t0_) / (reps);                                         \
        }                                                                                           \
        qsort(tt_, TRIALS, sizeof(double), bench_cmp_double);                                       \
        st = (bench_stats){tt_[TRIALS / 2] * 1e3, tt_[0] * 1e3, TRIALS * (reps)};                   \
    } while (0)
#define TIME_BEST(best, reps, CALL)                                                                 \
    do {                                                                                            \
        bench_stats bs_;                                                                            \
        TIME_TRIALS(bs_, reps, CALL);                                                               \
        best = bs_.min_ms * 1e-3;                                                                   \
    } while (0)

static void row(const char *what, const char *op, int nt, int64_t n, double sec, double ref_sec) {
    printf("%-8s %-10s %2d thr  %7.3f Gelem/s  %7.3f ns/elem", what, op, nt, n / sec * 1e-9, sec / n * 1e9);
    if (ref_sec > 0) printf("   x%.1f vs libm", ref_sec / sec);
    printf("\n");
}

int main(int argc, char **argv) {
    int64_t n = argc > 1 ? atoll(argv[1]) : (1 << 20);
    int threads[8];
    int nthr = bench_thread_list(argc, argv, 2, threads);
    float *x = zen__aligned_alloc((size_t)n * sizeof(float)), *y = zen__aligned_alloc((size_t)n * sizeof(float));
    zen_rng rng;
    zen_rng_seed(&rng, 1);
    for (int64_t i = 0; i < n; i++) x[i] = -8.0f + 16.0f * zen_rng_uniform(&rng);
    int reps = (int)(4 * 1048576 / n) + 1;
    printf("n = %lld floats, inputs uniform in [-8, 8], best of %d x %d reps; omp_get_num_procs() = %d\n",
           (long long)n, TRIALS, reps, omp_get_num_procs());

    for (int ti = 0; ti < nthr; ti++) {
        int nt = threads[ti];
        zen_ctx *ctx = zen_ctx_new();
        zen_ctx_set_threads(ctx, nt);
        zen_tensor *xin = zen_input(ctx, ZEN_F32, 1, (int64_t[]){n});
        zen_tensor *gin = zen_input(ctx, ZEN_F32, 1, (int64_t[]){n});
        memcpy(xin->data, x, (size_t)n * sizeof(float));
        for (int64_t i = 0; i < n; i++) ((float *)gin->data)[i] = 1.0f;
        double best;
        { /* memory ceiling: y = x * 1 */
            zen_graph *g = zen_graph_new(ctx);
            zen_graph_add(g, zen_scale(ctx, xin, 1.0f));
            zen_graph_plan(g);
            bench_stats st;
            TIME_TRIALS(st, reps, zen_graph_compute(g));
            best = st.min_ms * 1e-3;
            row("copy", "scale", nt, n, best, 0);
            bench_result("unary.copy.fwd", nt, st);
            zen_graph_free(g);
        }
        for (int op = 0; op < NOPS; op++) {
            double t_libm, t_vm, t_fwd, t_bwd;
            TIME_BEST(t_libm, reps, libm_loop(op, x, y, n, nt));
            TIME_BEST(t_vm, reps, vm_loop(op, x, y, n, nt));
            zen_tensor *out = build(ctx, op, xin);
            zen_graph *gf = zen_graph_new(ctx);
            zen_graph_add(gf, out);
            zen_graph_plan(gf);
            bench_stats s_fwd, s_step;
            TIME_TRIALS(s_fwd, reps, zen_graph_compute(gf));
            t_fwd = s_fwd.min_ms * 1e-3;
            { /* y = f(x); y.backward(g): the op node and the gradient node of its rule */
                zen_tensor *xp = zen_param(ctx, ZEN_F32, 1, (int64_t[]){n});
                memcpy(xp->data, x, (size_t)n * sizeof(float));
                zen_tensor *yp = build(ctx, op, xp);
                yp->grad = gin;
                zen_op_table[yp->op]->backward(ctx, yp);
                zen_graph *gs = zen_graph_new(ctx);
                zen_graph_add(gs, yp);
                zen_graph_add(gs, xp->grad);
                if (zen_ctx_error(ctx) || zen_graph_plan(gs) != 0) {
                    fprintf(stderr, "%s\n", zen_ctx_error(ctx));
                    return 1;
                }
                TIME_TRIALS(s_step, reps, zen_graph_compute(gs));
                zen_graph_free(gs);
            }
            /* the derivative node alone, on a precomputed y */
            zen_tensor *yin = zen_input(ctx, ZEN_F32, 1, (int64_t[]){n});
            memcpy(yin->data, out->data, (size_t)n * sizeof(float));
            zen_graph_free(gf);
            zen_tensor *d = zen__node(ctx, ZEN_OP_UNARY_BACK, ZEN_F32, 1, (int64_t[]){n}, gin, xin, yin, NULL);
            d->ip[0] = out->op;
            memcpy(d->fp, out->fp, sizeof d->fp);
            zen_graph *gb = zen_graph_new(ctx);
            zen_graph_add(gb, d);
            zen_graph_plan(gb);
            TIME_BEST(t_bwd, reps, zen_graph_compute(gb));
            zen_graph_free(gb);
            row("libm", op_name[op], nt, n, t_libm, 0);
            row("vmath", op_name[op], nt, n, t_vm, t_libm);
            row("zen fwd", op_name[op], nt, n, t_fwd, t_libm);
            row("zen bwd", op_name[op], nt, n, t_bwd, 0);
            char name[64];
            snprintf(name, sizeof name, "unary.%s.fwd", op_name[op]);
            bench_result(name, nt, s_fwd);
            snprintf(name, sizeof name, "unary.%s.step", op_name[op]);
            bench_result(name, nt, s_step);
        }
        zen_ctx_free(ctx);
    }
    zen__aligned_free(x);
    zen__aligned_free(y);
    return 0;
}
