/* concat vs PyTorch (1 to 11 inputs, every axis, empty pieces); gradients vs PyTorch and
 * finite differences; strided inputs, i32, a threaded large case and errors. */
#include "harness.h"

#include <string.h>

static fx_file *f;

static int param(const char *c, const char *name) {
    char key[128];
    snprintf(key, sizeof key, "%s.p.%s", c, name);
    return fx_int(f, key);
}

TEST(test_fixtures) {
    const char *const *cases = fx_cases(f, "cat");
    int ncases = 0;
    for (; cases[ncases]; ncases++) {
        const char *c = cases[ncases];
        zen_ctx *ctx = zen_ctx_new();
        int n = param(c, "n");
        zen_tensor *xs[16];
        char names[16][16], key[128];
        const char *pnames[16];
        for (int i = 0; i < n; i++) {
            snprintf(names[i], sizeof names[i], "x%d", i);
            pnames[i] = names[i];
            snprintf(key, sizeof key, "%s.%s", c, names[i]);
            xs[i] = fx_param(ctx, f, key);
        }
        zen_tensor *y = zen_concat(ctx, n, xs, param(c, "axis"));
        CHECK(fx_check_op(ctx, f, c, y, n, xs, pnames, 1) == 0);
        zen_ctx_free(ctx);
    }
    CHECK(ncases == 9);
}

/* More than 4 inputs: a tree of concat nodes, each with at most 4 sources; the gradients
 * are views (slices of slices) of the one upstream gradient, no copies. */
TEST(test_tree) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *xs[11];
    for (int i = 0; i < 11; i++) {
        xs[i] = zen_param(ctx, ZEN_F32, 2, (int64_t[]){2, i + 1});
        float *d = xs[i]->data;
        for (int j = 0; j < 2 * (i + 1); j++) d[j] = (float)(100 * i + j);
    }
    zen_tensor *y = zen_concat(ctx, 11, xs, 1);
    CHECK_OK(ctx, y);
    CHECK(y->shape[0] == 2 && y->shape[1] == 66);
    CHECK(!strcmp(zen_op_name(y->op), "concat"));
    int fanin = 0;
    for (int i = 0; i < 4; i++) fanin += y->src[i] != NULL;
    CHECK(fanin == 4);
    zen_tensor *w = zen_const(ctx, ZEN_F32, 2, y->shape);
    for (int j = 0; j < 132; j++) ((float *)w->data)[j] = (float)j;
    zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, y, w), 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    int64_t at = 0;
    for (int i = 0; i < 11; i++) {
        int64_t n = i + 1;
        CHECK(xs[i]->grad && zen_is_contiguous(xs[i]->grad)); /* parameter gradients are dense */
        for (int r = 0; r < 2; r++)
            for (int64_t j = 0; j < n; j++) {
                CHECK(zen_get_f32(y, (int64_t[]){r, at + j}) == (float)(100 * i + r * n + j));
                CHECK(zen_get_f32(xs[i]->grad, (int64_t[]){r, j}) == (float)(r * 66 + at + j));
            }
        at += n;
    }
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* Views are copied with their strides; i32 tensors concatenate too. */
TEST(test_strided_and_i32) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *a = zen_input(ctx, ZEN_F32, 2, (int64_t[]){3, 2});
    zen_tensor *b = zen_input(ctx, ZEN_F32, 2, (int64_t[]){4, 3});
    for (int i = 0; i < 6; i++) ((float *)a->data)[i] = (float)i;
    for (int i = 0; i < 12; i++) ((float *)b->data)[i] = (float)(10 + i);
    zen_tensor *at = zen_transpose(ctx, a, 0, 1);          /* [2, 3], strided */
    zen_tensor *bs = zen_slice(ctx, b, 0, 0, 4, 2);          /* [2, 3], rows 0 and 2 */
    zen_tensor *y = zen_concat(ctx, 2, (zen_tensor *[]){at, bs}, 1); /* [2, 6] */
    zen_tensor *ia = zen_input(ctx, ZEN_I32, 1, (int64_t[]){2});
    zen_tensor *ib = zen_input(ctx, ZEN_I32, 1, (int64_t[]){3});
    int32_t *ida = ia->data, *idb = ib->data;
    ida[0] = 7, ida[1] = -1, idb[0] = 1 << 30, idb[1] = 0, idb[2] = 5;
    zen_tensor *iy = zen_concat(ctx, 2, (zen_tensor *[]){ia, ib}, 0);
    CHECK_OK(ctx, iy);
    CHECK(iy->dtype == ZEN_I32);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    zen_graph_add(g, iy);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *Y = y->data;
    for (int r = 0; r < 2; r++)
        for (int j = 0; j < 3; j++) {
            CHECK(Y[r * 6 + j] == (float)(j * 2 + r));
            CHECK(Y[r * 6 + 3 + j] == (float)(10 + 2 * r * 3 + j));
        }
    const int32_t *I = iy->data;
    CHECK(I[0] == 7 && I[1] == -1 && I[2] == 1 << 30 && I[3] == 0 && I[4] == 5);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* Large enough for the threaded copy paths (long rows and many rows), vs a naive loop;
 * the gradient of sum(y * w) must be the matching block of w. */
TEST(test_large) {
    for (int axis = 0; axis < 2; axis++) {
        zen_ctx *ctx = zen_ctx_new();
        int64_t R = axis ? 300 : 70000, C = axis ? 257 : 2;
        zen_tensor *xs[3];
        int64_t sizes[3] = {axis ? 100 : R, axis ? 1 : R / 2, axis ? 156 : 3};
        zen_rng rng;
        zen_rng_seed(&rng, 7);
        for (int i = 0; i < 3; i++) {
            int64_t shape[2] = {axis ? R : sizes[i], axis ? sizes[i] : C};
            xs[i] = zen_param(ctx, ZEN_F32, 2, shape);
            zen_rng_fill_uniform(&rng, xs[i], -1, 1);
        }
        zen_tensor *y = zen_concat(ctx, 3, xs, axis);
        CHECK_OK(ctx, y);
        zen_tensor *w = zen_const(ctx, ZEN_F32, 2, y->shape);
        zen_rng_fill_uniform(&rng, w, -1, 1);
        zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, y, w), 0, NULL, false);
        zen_graph *g = zen_graph_new(ctx);
        zen_graph_add(g, y);
        CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
        int64_t off = 0, bad = 0;
        const float *Y = y->data, *W = w->data;
        const int64_t ycols = y->shape[1];
        for (int i = 0; i < 3; i++) {
            const float *X = xs[i]->data;
            int64_t rows = xs[i]->shape[0], cols = xs[i]->shape[1];
            for (int64_t r = 0; r < rows; r++)
                for (int64_t c = 0; c < cols; c++) {
                    int64_t yi = axis ? r * ycols + off + c : (off + r) * ycols + c;
                    bad += Y[yi] != X[r * cols + c];
                    bad += zen_get_f32(xs[i]->grad, (int64_t[]){r, c}) != W[yi];
                }
            off += axis ? cols : rows;
        }
        CHECK(bad == 0);
        zen_graph_free(g);
        zen_ctx_free(ctx);
    }
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *a = zen_param(ctx, ZEN_F32, 2, (int64_t[]){2, 3});
    zen_tensor *b = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3, 3});
    zen_tensor *i = zen_input(ctx, ZEN_I32, 2, (int64_t[]){2, 3});
    zen_tensor *v = zen_param(ctx, ZEN_F32, 1, (int64_t[]){3});
    CHECK(zen_concat(ctx, 0, (zen_tensor *[]){a}, 0) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_concat: needs at least one tensor"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_concat(ctx, 2, (zen_tensor *[]){a, b}, 1) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_concat: tensor 1 has shape [3, 3], which does not match [2, 3]"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_concat(ctx, 2, (zen_tensor *[]){a, b}, 0) != NULL && !zen_ctx_error(ctx));
    CHECK(zen_concat(ctx, 2, (zen_tensor *[]){a, v}, 0) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "does not match"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_concat(ctx, 2, (zen_tensor *[]){a, i}, 0) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_concat: tensor 1 is i32 but tensor 0 is f32"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_concat(ctx, 2, (zen_tensor *[]){a, a}, 2) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_concat: axis 2 is out of range"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_concat(ctx, 1, (zen_tensor *[]){zen_scalar(ctx, 1)}, 0) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zero-dimensional"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_concat(ctx, 2, (zen_tensor *[]){a, NULL}, 0) == NULL); /* NULL propagates */
    CHECK(zen_ctx_error(ctx) == NULL);
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("concat.safetensors");
    int rc = RUN_TESTS(test_fixtures, test_tree, test_strided_and_i32, test_large, test_errors);
    fx_close(f);
    return rc;
}
