/* matmul (transpose flags, batch broadcasting, 1-D inputs) and linear vs PyTorch; gradients
 * vs PyTorch and finite differences; transposed views read in place (no copy node); large
 * shapes on every kernel path (one sgemm, folded batch, batches in parallel, batches one
 * by one) vs a naive reference; error messages. */
#include "harness.h"

#include <string.h>

static fx_file *f;

static int param_int(const char *c, const char *name) {
    char key[128];
    snprintf(key, sizeof key, "%s.p.%s", c, name);
    return fx_int(f, key);
}

static zen_tensor *load(zen_ctx *ctx, const char *c, const char *what) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", c, what);
    return fx_param(ctx, f, key);
}

/* Number of nodes of op `name` in a graph holding out (and its backward when loss). */
static int count_op(zen_ctx *ctx, zen_tensor *out, const char *name, bool backward) {
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, out);
    /* sum(out²): the gradient reaching out is dense (a plain sum would hand it an expand) */
    if (backward) zen_graph_backward(g, zen_sum(ctx, zen_mul(ctx, out, out), 0, NULL, false));
    int n = 0;
    for (int i = 0; i < zen_graph_n_nodes(g); i++) {
        zen_tensor *t = zen_graph_node(g, i);
        if (t->op && !strcmp(zen_op_name(t->op), name)) n++;
    }
    zen_graph_free(g);
    return n;
}

TEST(test_matmul_cases) {
    const char *cases[] = {"mm00", "mm01", "mm10", "mm11", "bmm", "bcast", "bcast_t", "fold", "fold_tb", "fold_ta",
                           "lhs2d", "lhs2d_t", "vm", "mv", "dot", "vbm", "bmv"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const char *c = cases[k];
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *in[2] = {load(ctx, c, "a"), load(ctx, c, "b")};
        zen_tensor *y = zen_matmul(ctx, in[0], in[1], param_int(c, "ta"), param_int(c, "tb"));
        CHECK_OK(ctx, y);
        int fails = fx_check_op(ctx, f, c, y, 2, in, (const char *[]){"a", "b"}, 1);
        if (fails) fprintf(stderr, "  (case %s)\n", c);
        CHECK(fails == 0);
        zen_ctx_free(ctx);
    }
}

TEST(test_linear_cases) {
    const char *cases[] = {"linear2d", "linear3d", "linear1d"};
    for (int k = 0; k < 3; k++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *in[3] = {load(ctx, cases[k], "x"), load(ctx, cases[k], "w"), load(ctx, cases[k], "b")};
        zen_tensor *y = zen_linear(ctx, in[0], in[1], in[2]);
        CHECK_OK(ctx, y);
        CHECK(fx_check_op(ctx, f, cases[k], y, 3, in, (const char *[]){"x", "w", "b"}, 1) == 0);
        /* one node does the product and the bias */
        CHECK(count_op(ctx, y, "add", false) == 0 && count_op(ctx, y, "matmul", false) == 1);
        zen_ctx_free(ctx);
    }
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *in[2] = {load(ctx, "linear_nobias", "x"), load(ctx, "linear_nobias", "w")};
    zen_tensor *y = zen_linear(ctx, in[0], in[1], NULL);
    CHECK(fx_check_op(ctx, f, "linear_nobias", y, 2, in, (const char *[]){"x", "w"}, 1) == 0);
    zen_ctx_free(ctx);
}

/* A zen_transpose view of the last two dims goes to BLAS as a transpose flag: same result
 * as the trans_* flags, and no contiguous node in the forward. (The backward hands the
 * parameter a transposed gradient view, which zen_graph_backward makes dense once, since
 * optimizers read parameter gradients as flat arrays.) */
TEST(test_transposed_views) {
    const char *cases[] = {"mm10", "mm01", "mm11", "bcast_t", "lhs2d_t"};
    for (int k = 0; k < 5; k++) {
        const char *c = cases[k];
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *in[2] = {load(ctx, c, "a"), load(ctx, c, "b")};
        zen_tensor *av = param_int(c, "ta") ? zen_transpose(ctx, in[0], -1, -2) : in[0];
        zen_tensor *bv = param_int(c, "tb") ? zen_transpose(ctx, in[1], -1, -2) : in[1];
        CHECK(!zen_is_contiguous(av) || !zen_is_contiguous(bv));
        zen_tensor *y = zen_matmul(ctx, av, bv, false, false);
        CHECK_OK(ctx, y);
        CHECK(y && y->src[0] == av && y->src[1] == bv);
        CHECK(count_op(ctx, y, "contiguous", false) == 0);
        CHECK(fx_check_op(ctx, f, c, y, 2, in, (const char *[]){"a", "b"}, 1) == 0);
        zen_ctx_free(ctx);
    }
    /* A transposed view with the transpose flag too: the two cancel, still no copy. */
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *in[2] = {load(ctx, "mm00", "a"), load(ctx, "mm00", "b")};
    zen_tensor *at = zen_transpose(ctx, in[0], 0, 1);
    zen_tensor *y = zen_matmul(ctx, at, in[1], true, false);
    CHECK(count_op(ctx, y, "contiguous", false) == 0);
    CHECK(fx_check_op(ctx, f, "mm00", y, 2, in, (const char *[]){"a", "b"}, 1) == 0);
    zen_ctx_free(ctx);
}

/* A layout BLAS cannot take (every other column) is copied first, and still right. */
TEST(test_strided_input_copies) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *a = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3, 8});
    zen_tensor *b = zen_param(ctx, ZEN_F32, 2, (int64_t[]){4, 5});
    zen_rng r;
    zen_rng_seed(&r, 7);
    zen_rng_fill_uniform(&r, a, -1, 1);
    zen_rng_fill_uniform(&r, b, -1, 1);
    zen_tensor *as = zen_slice(ctx, a, 1, 0, 8, 2); /* [3, 4], column stride 2 */
    zen_tensor *y = zen_matmul(ctx, as, b, false, false);
    CHECK_OK(ctx, y);
    CHECK(count_op(ctx, y, "contiguous", false) == 1);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *A = a->data, *B = b->data, *Y = y->data;
    double worst = 0;
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 5; j++) {
            double s = 0;
            for (int k = 0; k < 4; k++) s += (double)A[i * 8 + 2 * k] * B[k * 5 + j];
            worst = fmax(worst, fabs(s - Y[i * 5 + j]));
        }
    CHECK(worst < 1e-5);
    CHECK(gradcheck(ctx, y, 2, (zen_tensor *[]){a, b}, 1e-2, 1) == 0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* ---- large shapes vs a naive reference ---- */

static zen_tensor *rand_leaf(zen_ctx *ctx, zen_rng *r, int ndim, const int64_t *shape) {
    zen_tensor *t = zen_param(ctx, ZEN_F32, ndim, shape);
    zen_rng_fill_uniform(r, t, -1, 1);
    return t;
}

/* Element (i, j) of matrix `batch` of a 3-D dense tensor used with transpose flag tr. */
static float at3(const zen_tensor *t, int64_t batch, int64_t i, int64_t j, bool tr) {
    int64_t idx[3] = {batch, tr ? j : i, tr ? i : j};
    return zen_get_f32(t, idx);
}

/* Checks y[b] = op(a[b mod]) · op(b[b mod]) for 3-D a, b (batch dim 1 broadcasts). */
static double max_err_bmm(const zen_tensor *a, const zen_tensor *b, bool ta, bool tb, const zen_tensor *y) {
    int64_t nb = y->shape[0], M = y->shape[1], N = y->shape[2];
    int64_t K = ta ? a->shape[1] : a->shape[2];
    double worst = 0;
    for (int64_t p = 0; p < nb; p++)
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) {
                double s = 0;
                for (int64_t k = 0; k < K; k++)
                    s += (double)at3(a, a->shape[0] == 1 ? 0 : p, i, k, ta) * at3(b, b->shape[0] == 1 ? 0 : p, k, j, tb);
                worst = fmax(worst, fabs(s - zen_get_f32(y, (int64_t[]){p, i, j})));
            }
    return worst;
}

/* Computes y; the graph owns y's buffer, so free it after reading y. */
static zen_graph *run(zen_ctx *ctx, zen_tensor *y) {
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    return g;
}

static void check_bmm(zen_ctx *ctx, zen_tensor *a, zen_tensor *b, bool ta, bool tb, double tol) {
    zen_tensor *y = zen_matmul(ctx, a, b, ta, tb);
    CHECK_OK(ctx, y);
    CHECK(count_op(ctx, y, "contiguous", false) == 0);
    zen_graph *g = run(ctx, y);
    double err = max_err_bmm(a, b, ta, tb, y);
    if (!(err < tol)) fprintf(stderr, "  max error %g\n", err);
    CHECK(err < tol);
    zen_graph_free(g);
}

TEST(test_large_paths) {
    zen_ctx *ctx = zen_ctx_new();
    zen_rng r;
    zen_rng_seed(&r, 11);
    /* one big sgemm, multi-threaded inside BLAS (b transposed) */
    check_bmm(ctx, rand_leaf(ctx, &r, 3, (int64_t[]){1, 300, 200}), rand_leaf(ctx, &r, 3, (int64_t[]){1, 150, 200}),
              false, true, 1e-3);
    /* many small matrices: batches in parallel (a transposed, b a transposed view) */
    zen_tensor *b0 = rand_leaf(ctx, &r, 3, (int64_t[]){16, 20, 40});
    check_bmm(ctx, rand_leaf(ctx, &r, 3, (int64_t[]){16, 40, 24}), zen_transpose(ctx, b0, 1, 2), true, false, 1e-4);
    /* a few large matrices: one sgemm per batch, each with all threads */
    check_bmm(ctx, rand_leaf(ctx, &r, 3, (int64_t[]){3, 160, 150}), rand_leaf(ctx, &r, 3, (int64_t[]){3, 150, 140}),
              false, false, 1e-3);
    /* b broadcast over the batch: folded into one [3*160, 150] sgemm */
    check_bmm(ctx, rand_leaf(ctx, &r, 3, (int64_t[]){3, 160, 150}), rand_leaf(ctx, &r, 3, (int64_t[]){1, 150, 140}),
              false, false, 1e-3);
    /* a's batch is a permuted view: rows are not evenly spaced, so no fold (and no copy) */
    zen_tensor *a0 = rand_leaf(ctx, &r, 3, (int64_t[]){50, 4, 64});
    check_bmm(ctx, zen_permute(ctx, a0, (int[]){1, 0, 2}), rand_leaf(ctx, &r, 3, (int64_t[]){1, 64, 30}), false, false,
              1e-4);
    zen_ctx_free(ctx);
}

/* linear on [B, T, in] folds into one sgemm forward and for dW; check against naive. */
TEST(test_large_linear) {
    zen_ctx *ctx = zen_ctx_new();
    zen_rng r;
    zen_rng_seed(&r, 5);
    const int64_t B = 4, T = 50, IN = 96, OUT = 70;
    zen_tensor *x = rand_leaf(ctx, &r, 3, (int64_t[]){B, T, IN});
    zen_tensor *w = rand_leaf(ctx, &r, 2, (int64_t[]){OUT, IN});
    zen_tensor *bias = rand_leaf(ctx, &r, 1, (int64_t[]){OUT});
    zen_tensor *y = zen_linear(ctx, x, w, bias);
    zen_tensor *gy = zen_const(ctx, ZEN_F32, 3, (int64_t[]){B, T, OUT});
    zen_rng_fill_uniform(&r, gy, -1, 1);
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, y, gy), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *X = x->data, *W = w->data, *Bs = bias->data, *Y = y->data, *G = gy->data;
    const float *dW = w->grad->data, *dB = bias->grad->data, *dX = x->grad->data;
    CHECK(zen_is_contiguous(w->grad) && zen_is_contiguous(x->grad) && zen_is_contiguous(bias->grad));
    double ey = 0, ew = 0, eb = 0, ex = 0;
    for (int64_t m = 0; m < B * T; m++)
        for (int64_t o = 0; o < OUT; o++) {
            double s = Bs[o];
            for (int64_t k = 0; k < IN; k++) s += (double)X[m * IN + k] * W[o * IN + k];
            ey = fmax(ey, fabs(s - Y[m * OUT + o]));
        }
    for (int64_t o = 0; o < OUT; o++) {
        double sb = 0;
        for (int64_t m = 0; m < B * T; m++) sb += G[m * OUT + o];
        eb = fmax(eb, fabs(sb - dB[o]));
        for (int64_t k = 0; k < IN; k++) {
            double s = 0;
            for (int64_t m = 0; m < B * T; m++) s += (double)G[m * OUT + o] * X[m * IN + k];
            ew = fmax(ew, fabs(s - dW[o * IN + k]));
        }
    }
    for (int64_t m = 0; m < B * T; m++)
        for (int64_t k = 0; k < IN; k++) {
            double s = 0;
            for (int64_t o = 0; o < OUT; o++) s += (double)G[m * OUT + o] * W[o * IN + k];
            ex = fmax(ex, fabs(s - dX[m * IN + k]));
        }
    CHECK(ey < 1e-4 && ex < 1e-4 && ew < 1e-3 && eb < 1e-3);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* A Dense layer at batch 1..4 (rows of x times the transposed weight) takes a small-M
 * kernel on AVX-512 CPUs: check it, with and without bias, row counts not a multiple of
 * its 4-row blocks, K with a tail, a strided x, one and two threads, vs naive sums; and
 * the same results as BLAS (zen__matmul_simd = 0) to rounding. */
extern int zen__matmul_simd; /* src/ops/matmul.c: -1 small-M kernel where available, 0 BLAS */

TEST(test_small_m_linear) {
    const int64_t shapes[][3] = {{1, 128, 5408}, {1, 10, 128}, {2, 5, 77}, {3, 130, 1000}, {4, 64, 256}, {5, 9, 300},
                                 {1, 3, 4100}};
    for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
        for (int v = 0; v < 8; v++) {
            const int64_t M = shapes[c][0], N = shapes[c][1], K = shapes[c][2];
            bool with_bias = v & 1, strided = v & 2;
            int threads = v & 4 ? 2 : 1;
            float *out[2];
            double err[2];
            for (int simd = 0; simd < 2; simd++) {
                zen__matmul_simd = simd ? -1 : 0;
                zen_ctx *ctx = zen_ctx_new();
                zen_ctx_set_threads(ctx, threads);
                zen_rng r;
                zen_rng_seed(&r, 17 + c);
                /* strided: x is every other row of a [2M, K] tensor */
                zen_tensor *xs = rand_leaf(ctx, &r, 2, (int64_t[]){strided ? 2 * M : M, K});
                zen_tensor *x = strided ? zen_slice(ctx, xs, 0, 0, 2 * M, 2) : xs;
                zen_tensor *w = rand_leaf(ctx, &r, 2, (int64_t[]){N, K});
                zen_tensor *b = with_bias ? rand_leaf(ctx, &r, 1, (int64_t[]){N}) : NULL;
                zen_tensor *y = zen_linear(ctx, x, w, b);
                CHECK_OK(ctx, y);
                zen_graph *g = run(ctx, y);
                const float *W = w->data, *B = b ? b->data : NULL, *Y = y->data;
                err[simd] = 0;
                for (int64_t m = 0; m < M; m++)
                    for (int64_t n = 0; n < N; n++) {
                        double s = B ? B[n] : 0;
                        for (int64_t k = 0; k < K; k++)
                            s += (double)zen_get_f32(x, (int64_t[]){m, k}) * W[n * K + k];
                        err[simd] = fmax(err[simd], fabs(s - Y[m * N + n]) / (1 + fabs(s)));
                    }
                out[simd] = malloc(sizeof(float) * (size_t)(M * N));
                memcpy(out[simd], Y, sizeof(float) * (size_t)(M * N));
                zen_graph_free(g);
                zen_ctx_free(ctx);
            }
            double diff = 0;
            for (int64_t i = 0; i < M * N; i++) diff = fmax(diff, fabs(out[0][i] - out[1][i]) / (1 + fabs(out[0][i])));
            if (err[0] > 1e-4 || err[1] > 1e-4 || diff > 1e-4)
                fprintf(stderr, "  small M [%lld, %lld, %lld] v %d: errors blas %g kernel %g, difference %g\n",
                        (long long)M, (long long)N, (long long)K, v, err[0], err[1], diff);
            CHECK(err[0] <= 1e-4 && err[1] <= 1e-4 && diff <= 1e-4);
            free(out[0]), free(out[1]);
        }
    zen__matmul_simd = -1;
}

/* Empty inner dim: the product of nothing is 0 (plus the bias). */
TEST(test_empty_k) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_input(ctx, ZEN_F32, 2, (int64_t[]){3, 0});
    zen_tensor *w = zen_param(ctx, ZEN_F32, 2, (int64_t[]){2, 0});
    zen_tensor *b = zen_param(ctx, ZEN_F32, 1, (int64_t[]){2});
    ((float *)b->data)[0] = 1.5f;
    ((float *)b->data)[1] = -2.0f;
    zen_tensor *y = zen_linear(ctx, x, w, b);
    zen_tensor *z = zen_matmul(ctx, x, w, false, true);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    zen_graph_add(g, z);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    /* buffers are reused, not zeroed: fill with garbage and run again */
    memset(y->data, 0x7f, 6 * sizeof(float));
    memset(z->data, 0x7f, 6 * sizeof(float));
    CHECK(zen_graph_compute(g) == 0);
    const float *Y = y->data, *Z = z->data;
    for (int i = 0; i < 3; i++) {
        CHECK(Y[2 * i] == 1.5f && Y[2 * i + 1] == -2.0f);
        CHECK(Z[2 * i] == 0.0f && Z[2 * i + 1] == 0.0f);
    }
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

#define CHECK_ERR(ctx, expr, text)                                                                \
    do {                                                                                          \
        CHECK((expr) == NULL);                                                                    \
        const char *e_ = zen_ctx_error(ctx);                                                      \
        if (!e_ || !strstr(e_, text)) {                                                           \
            fprintf(stderr, "  error was \"%s\", expected \"%s\"\n", e_ ? e_ : "(none)", text);  \
            harness_failures++;                                                                   \
        }                                                                                         \
        zen_ctx_clear_error(ctx);                                                                 \
    } while (0)

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *a = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3, 4});
    zen_tensor *b = zen_param(ctx, ZEN_F32, 2, (int64_t[]){5, 6});
    zen_tensor *s = zen_scalar(ctx, 1.0f);
    zen_tensor *v = zen_param(ctx, ZEN_F32, 1, (int64_t[]){4});
    zen_tensor *i = zen_input(ctx, ZEN_I32, 2, (int64_t[]){4, 5});
    CHECK_ERR(ctx, zen_matmul(ctx, a, b, false, false), "zen_matmul: a [3, 4] and b [5, 6] do not fit: a has 4 columns, b has 5 rows");
    CHECK_ERR(ctx, zen_matmul(ctx, a, b, false, true), "b [5, 6] (transposed) do not fit");
    CHECK_ERR(ctx, zen_matmul(ctx, a, s, false, false), "need at least 1 dim");
    CHECK_ERR(ctx, zen_matmul(ctx, v, a, true, false), "trans_a needs a matrix, but a is 1-D");
    CHECK_ERR(ctx, zen_matmul(ctx, a, i, false, false), "zen_matmul: b must be f32, got i32");
    zen_tensor *x3 = zen_param(ctx, ZEN_F32, 3, (int64_t[]){2, 3, 4});
    zen_tensor *y3 = zen_param(ctx, ZEN_F32, 3, (int64_t[]){3, 4, 5});
    CHECK_ERR(ctx, zen_matmul(ctx, x3, y3, false, false), "batch dims of a [2, 3, 4] and b [3, 4, 5] cannot be broadcast");
    CHECK(zen_matmul(ctx, NULL, a, false, false) == NULL && zen_ctx_error(ctx) == NULL);
    zen_tensor *w = zen_param(ctx, ZEN_F32, 2, (int64_t[]){6, 4});
    CHECK_ERR(ctx, zen_linear(ctx, a, x3, NULL), "zen_linear: w must have 2 dims [out, in], got [2, 3, 4]");
    CHECK_ERR(ctx, zen_linear(ctx, b, w, NULL), "zen_linear: x [5, 6] has 6 features in its last dim, but w [6, 4] expects 4");
    CHECK_ERR(ctx, zen_linear(ctx, a, w, v), "zen_linear: b must be [out] = [6], got [4]");
    CHECK_ERR(ctx, zen_linear(ctx, s, w, NULL), "zen_linear: x must have at least 1 dim");
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("matmul.safetensors");
    int rc = RUN_TESTS(test_matmul_cases, test_small_m_linear, test_linear_cases, test_transposed_views, test_strided_input_copies,
                       test_large_paths, test_large_linear, test_empty_k, test_errors);
    fx_close(f);
    return rc;
}
