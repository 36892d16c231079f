/* gather and embedding vs PyTorch (every axis, repeated indices, 0-d); gradients (scatter
 * adds) vs PyTorch and finite differences; threaded large cases vs naive loops, with
 * bit-identical gradients across thread counts; indices out of range fail at compute. */
#include "harness.h"

#include <string.h>

static fx_file *f;

TEST(test_gather_fixtures) {
    const char *const *cases = fx_cases(f, "gather");
    int ncases = 0;
    for (; cases[ncases]; ncases++) {
        const char *c = cases[ncases];
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.x", c);
        zen_tensor *x = fx_param(ctx, f, key);
        snprintf(key, sizeof key, "%s.index", c);
        zen_tensor *index = fx_input(ctx, f, key);
        snprintf(key, sizeof key, "%s.p.axis", c);
        zen_tensor *y = zen_gather(ctx, x, fx_int(f, key), index);
        CHECK(fx_check_op(ctx, f, c, y, 1, &x, (const char *[]){"x"}, 1) == 0);
        zen_ctx_free(ctx);
    }
    CHECK(ncases == 7);
}

TEST(test_embedding_fixtures) {
    const char *const *cases = fx_cases(f, "embed");
    int ncases = 0;
    for (; cases[ncases]; ncases++) {
        const char *c = cases[ncases];
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.w", c);
        zen_tensor *w = fx_param(ctx, f, key);
        snprintf(key, sizeof key, "%s.ids", c);
        zen_tensor *ids = fx_input(ctx, f, key);
        zen_tensor *y = zen_embedding(ctx, w, ids);
        CHECK(fx_check_op(ctx, f, c, y, 1, &w, (const char *[]){"w"}, 1) == 0);
        zen_ctx_free(ctx);
    }
    CHECK(ncases == 3);
}

/* Computes `out` and the gradients of sum(out * wt) with nthreads threads; returns the
 * graph (which holds the results), or NULL on failure. */
static zen_graph *run(zen_ctx *ctx, zen_tensor *out, zen_tensor *wt, int nthreads) {
    zen_ctx_set_threads(ctx, nthreads);
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, out, wt), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, out);
    if (zen_graph_backward(g, loss) || zen_graph_plan(g) || zen_graph_compute(g)) {
        zen_graph_free(g);
        return NULL;
    }
    return g;
}

/* Large gathers along the first, middle and last axes, vs naive gather and scatter-add
 * loops (double accumulation); gradients must be the same bits with 1 and 2 threads. */
TEST(test_gather_large) {
    const int64_t xs[3] = {40, 50, 60};
    for (int axis = 0; axis < 3; axis++) {
        int64_t is[3] = {30, 50, 45};
        is[axis] = 70;
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *x = zen_param(ctx, ZEN_F32, 3, xs);
        zen_tensor *index = zen_input(ctx, ZEN_I32, 3, is);
        zen_tensor *wt = zen_const(ctx, ZEN_F32, 3, is);
        zen_rng rng;
        zen_rng_seed(&rng, 5 + axis);
        zen_rng_fill_uniform(&rng, x, -1, 1);
        zen_rng_fill_uniform(&rng, wt, -1, 1);
        int32_t *I = index->data;
        int64_t n = zen_numel(index);
        for (int64_t i = 0; i < n; i++) I[i] = (int32_t)(zen_rng_next(&rng) % (uint64_t)xs[axis]);
        zen_tensor *y = zen_gather(ctx, x, axis, index);
        CHECK_OK(ctx, y);
        zen_graph *g = run(ctx, y, wt, 2);
        CHECK(g != NULL);
        double *ref = calloc((size_t)zen_numel(x), sizeof *ref);
        int64_t bad = 0, c[3];
        const float *W = wt->data, *Y = y->data;
        for (int64_t i = 0; i < n; i++) {
            c[0] = i / (is[1] * is[2]), c[1] = i / is[2] % is[1], c[2] = i % is[2];
            c[axis] = I[i];
            bad += Y[i] != zen_get_f32(x, c);
            ref[(c[0] * xs[1] + c[1]) * xs[2] + c[2]] += W[i];
        }
        CHECK(bad == 0);
        float *g2 = malloc((size_t)zen_numel(x) * sizeof *g2);
        memcpy(g2, x->grad->data, (size_t)zen_numel(x) * sizeof *g2);
        double worst = 0;
        for (int64_t i = 0; i < zen_numel(x); i++) worst = fmax(worst, fabs(g2[i] - ref[i]));
        CHECK(worst < 1e-4);
        zen_graph_free(g);
        x->grad = NULL;
        g = run(ctx, y, wt, 1);
        CHECK(g != NULL);
        CHECK(memcmp(g2, x->grad->data, (size_t)zen_numel(x) * sizeof *g2) == 0);
        zen_graph_free(g);
        free(g2);
        free(ref);
        zen_ctx_free(ctx);
    }
}

/* Embedding of many ids (repeats, Zipf-like skew to low ids) with narrow and wide rows:
 * both backward partitions (vocabulary blocks, column ranges), vs naive loops, and the
 * same bits with 1 and 2 threads. */
TEST(test_embedding_large) {
    const int64_t dims[2] = {8, 96};
    for (int k = 0; k < 2; k++) {
        const int64_t V = 1000, D = dims[k], B = 64, T = 100;
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *w = zen_param(ctx, ZEN_F32, 2, (int64_t[]){V, D});
        zen_tensor *ids = zen_input(ctx, ZEN_I32, 2, (int64_t[]){B, T});
        zen_tensor *wt = zen_const(ctx, ZEN_F32, 3, (int64_t[]){B, T, D});
        zen_rng rng;
        zen_rng_seed(&rng, 99);
        zen_rng_fill_uniform(&rng, w, -1, 1);
        zen_rng_fill_uniform(&rng, wt, -1, 1);
        int32_t *I = ids->data;
        for (int64_t i = 0; i < B * T; i++) {
            uint64_t r = zen_rng_next(&rng);
            I[i] = (int32_t)((r & 1) ? (r >> 8) % 10 : (r >> 8) % (uint64_t)V);
        }
        zen_tensor *y = zen_embedding(ctx, w, ids);
        CHECK_OK(ctx, y);
        CHECK(y->ndim == 3 && y->shape[2] == D);
        zen_graph *g = run(ctx, y, wt, 2);
        CHECK(g != NULL);
        const float *W = w->data, *Y = y->data, *WT = wt->data;
        double *ref = calloc((size_t)(V * D), sizeof *ref);
        int64_t bad = 0;
        for (int64_t i = 0; i < B * T; i++)
            for (int64_t j = 0; j < D; j++) {
                bad += Y[i * D + j] != W[I[i] * D + j];
                ref[I[i] * D + j] += WT[i * D + j];
            }
        CHECK(bad == 0);
        const float *G = w->grad->data;
        double worst = 0;
        for (int64_t i = 0; i < V * D; i++) worst = fmax(worst, fabs(G[i] - ref[i]));
        CHECK(worst < 1e-4);
        float *g2 = malloc((size_t)(V * D) * sizeof *g2);
        memcpy(g2, G, (size_t)(V * D) * sizeof *g2);
        zen_graph_free(g);
        w->grad = NULL;
        g = run(ctx, y, wt, 1);
        CHECK(g != NULL);
        CHECK(memcmp(g2, w->grad->data, (size_t)(V * D) * sizeof *g2) == 0);
        zen_graph_free(g);
        free(g2);
        free(ref);
        zen_ctx_free(ctx);
    }
}

/* A bad index at compute time: compute returns -1 with a message naming the op, the
 * index and the valid range; nothing outside x is read (the ASan build checks that). */
TEST(test_out_of_range) {
    const int32_t bad_values[3] = {5, -1, 1 << 30};
    for (int k = 0; k < 3; k++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3, 5});
        zen_tensor *index = zen_input(ctx, ZEN_I32, 2, (int64_t[]){2, 2});
        int32_t *I = index->data;
        I[0] = 0, I[1] = 4, I[2] = bad_values[k], I[3] = 1;
        zen_tensor *y = zen_gather(ctx, x, 1, index);
        zen_graph *g = zen_graph_new(ctx);
        zen_graph_add(g, y);
        CHECK(zen_graph_plan(g) == 0);
        CHECK(zen_graph_compute(g) == -1);
        char want[128];
        snprintf(want, sizeof want, "gather: index %d is out of range for axis 1 of size 5 (valid range [0, 5))",
                 bad_values[k]);
        CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), want));
        /* fixed data computes again */
        zen_ctx_clear_error(ctx);
        I[2] = 2;
        CHECK(zen_graph_compute(g) == 0 && !zen_ctx_error(ctx));
        zen_graph_free(g);
        zen_ctx_free(ctx);
    }
    /* embedding, forward and backward */
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *w = zen_param(ctx, ZEN_F32, 2, (int64_t[]){4, 3});
    zen_tensor *ids = zen_input(ctx, ZEN_I32, 1, (int64_t[]){3});
    int32_t *I = ids->data;
    I[0] = 1, I[1] = 4, I[2] = 0;
    zen_tensor *y = zen_embedding(ctx, w, ids);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_backward(g, zen_sum(ctx, y, 0, NULL, false)) == 0 && zen_graph_plan(g) == 0);
    CHECK(zen_graph_compute(g) == -1);
    CHECK(zen_ctx_error(ctx) &&
          strstr(zen_ctx_error(ctx), "embedding: id 4 is out of range for a weight of 4 rows (valid range [0, 4))"));
    zen_graph_free(g);
    zen_ctx_free(ctx);
    /* the backward kernels check too (their index data is read separately) */
    ctx = zen_ctx_new();
    w = zen_param(ctx, ZEN_F32, 2, (int64_t[]){4, 3});
    ids = zen_input(ctx, ZEN_I32, 1, (int64_t[]){3});
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){4, 3});
    zen_tensor *index = zen_input(ctx, ZEN_I32, 2, (int64_t[]){2, 3});
    zen_tensor *e = zen_embedding(ctx, w, ids), *ga = zen_gather(ctx, x, 0, index);
    zen_tensor *loss = zen_add(ctx, zen_sum(ctx, e, 0, NULL, false), zen_sum(ctx, ga, 0, NULL, false));
    g = zen_graph_new(ctx);
    zen_graph_add(g, loss);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    zen_tensor *eb = w->grad, *sb = x->grad;
    CHECK(eb && sb && !strcmp(zen_op_name(eb->op), "embedding_back") && !strcmp(zen_op_name(sb->op), "scatter_add"));
    zen_graph *gb = zen_graph_new(ctx); /* only the backward kernels, on new index data */
    zen_graph_add(gb, eb);
    zen_graph_add(gb, sb);
    CHECK(zen_graph_plan(gb) == 0);
    ((int32_t *)ids->data)[2] = 9;
    CHECK(zen_graph_compute(gb) == -1);
    CHECK(strstr(zen_ctx_error(ctx), "embedding_back: id 9 is out of range for a weight of 4 rows"));
    zen_ctx_clear_error(ctx);
    ((int32_t *)ids->data)[2] = 0;
    ((int32_t *)index->data)[4] = -3;
    CHECK(zen_graph_compute(gb) == -1);
    CHECK(strstr(zen_ctx_error(ctx), "scatter_add: index -3 is out of range for axis 0 of size 4 (valid range [0, 4))"));
    zen_graph_free(gb);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3, 4});
    zen_tensor *i2 = zen_input(ctx, ZEN_I32, 2, (int64_t[]){4, 2});
    zen_tensor *i1 = zen_input(ctx, ZEN_I32, 1, (int64_t[]){2});
    zen_tensor *f2 = zen_input(ctx, ZEN_F32, 2, (int64_t[]){2, 2});
    CHECK(zen_gather(ctx, x, 1, i2) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_gather: index [4, 2] is larger than x [3, 4] on axis 0"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_gather(ctx, x, 0, i2) != NULL && !zen_ctx_error(ctx)); /* the gather axis may be longer */
    CHECK(zen_gather(ctx, x, 0, i1) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_gather: index must have as many dimensions as x (2), got 1"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_gather(ctx, x, 0, f2) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_gather: index must be i32, got f32"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_gather(ctx, x, 2, i2) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_gather: axis 2 is out of range"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_embedding(ctx, zen_param(ctx, ZEN_F32, 1, (int64_t[]){3}), i1) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_embedding: weight must have 2 dims [V, D], got [3]"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_embedding(ctx, x, f2) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_embedding: ids must be i32, got f32"));
    zen_ctx_clear_error(ctx);
    zen_tensor *i8d = zen_input(ctx, ZEN_I32, 8, (int64_t[]){1, 1, 1, 1, 1, 1, 1, 2});
    CHECK(zen_embedding(ctx, x, i8d) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_embedding: ids have 8 dims"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_embedding(ctx, x, NULL) == NULL && zen_gather(ctx, NULL, 0, i2) == NULL && !zen_ctx_error(ctx));
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("gather.safetensors");
    int rc = RUN_TESTS(test_gather_fixtures, test_embedding_fixtures, test_gather_large, test_embedding_large,
                       test_out_of_range, test_errors);
    fx_close(f);
    return rc;
}
