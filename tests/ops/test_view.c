/* reshape, flatten, permute, transpose, slice, expand, contiguous, split vs PyTorch;
 * gradients vs PyTorch and finite differences; views share memory. */
#include "harness.h"

#include <string.h>

static fx_file *f;

static zen_tensor *load(zen_ctx *ctx, const char *c) {
    char key[128];
    snprintf(key, sizeof key, "%s.x", c);
    return fx_param(ctx, f, key);
}

static int64_t ints(const char *c, const char *name, int64_t *out) {
    char key[128];
    snprintf(key, sizeof key, "%s.p.%s", c, name);
    return fx_ints(f, key, out, 8);
}

static void check(const char *c, zen_ctx *ctx, zen_tensor *x, zen_tensor *y) {
    const char *names[] = {"x"};
    CHECK(fx_check_op(ctx, f, c, y, 1, &x, names, 1) == 0);
}

TEST(test_reshape) {
    int64_t s[8];
    for (int k = 0; k < 2; k++) {
        const char *c = k ? "reshape_infer" : "reshape";
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *x = load(ctx, c);
        int n = (int)ints(c, "shape", s);
        zen_tensor *y = zen_reshape(ctx, x, n, s);
        CHECK(y && y->data == NULL && y->view_src == x); /* a view, no copy */
        check(c, ctx, x, y);
        CHECK(y->data == x->data);
        zen_ctx_free(ctx);
    }
}

TEST(test_flatten) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = load(ctx, "flatten");
    check("flatten", ctx, x, zen_flatten(ctx, x, 1));
    zen_ctx_free(ctx);
}

TEST(test_permute) {
    int64_t p[8];
    ints("permute", "perm", p);
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = load(ctx, "permute");
    zen_tensor *y = zen_permute(ctx, x, (int[]){(int)p[0], (int)p[1], (int)p[2]});
    check("permute", ctx, x, y);
    CHECK(!zen_is_contiguous(y));
    zen_ctx_free(ctx);
}

TEST(test_transpose) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = load(ctx, "transpose");
    check("transpose", ctx, x, zen_transpose(ctx, x, 0, 2));
    zen_ctx_free(ctx);
}

TEST(test_permute_reshape) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = load(ctx, "permute_reshape");
    zen_tensor *y = zen_reshape(ctx, zen_permute(ctx, x, (int[]){1, 0, 2}), 2, (int64_t[]){3, 8});
    check("permute_reshape", ctx, x, y);
    zen_ctx_free(ctx);
}

TEST(test_slice) {
    const char *cs[] = {"slice", "slice_step", "slice_neg"};
    for (int k = 0; k < 3; k++) {
        int64_t v[8];
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *x = load(ctx, cs[k]);
        ints(cs[k], "axis", v);
        int axis = (int)v[0];
        ints(cs[k], "start", v);
        int64_t start = v[0];
        ints(cs[k], "end", v);
        int64_t end = v[0];
        ints(cs[k], "step", v);
        check(cs[k], ctx, x, zen_slice(ctx, x, axis, start, end, v[0]));
        zen_ctx_free(ctx);
    }
}

TEST(test_expand) {
    int64_t s[8];
    int n = (int)ints("expand", "shape", s);
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = load(ctx, "expand");
    check("expand", ctx, x, zen_expand(ctx, x, n, s));
    zen_ctx_free(ctx);
}

TEST(test_contiguous) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = load(ctx, "contiguous");
    zen_tensor *y = zen_contiguous(ctx, zen_transpose(ctx, x, 1, 2));
    check("contiguous", ctx, x, y);
    CHECK(zen_is_contiguous(y));
    zen_ctx_free(ctx);
}

/* Permute copies that are batches of transposed matrices take a tiled path (8x8 AVX tiles
 * plus edges): every element checked against the index formula, both kernels, with and
 * without threads, for sizes around the tile edges and the NCHW <-> NHWC permutes. */
extern int zen__transpose_simd; /* src/ops/view.c: -1 AVX where available, 0 portable */

TEST(test_contiguous_transposes) {
    const int64_t shapes[][4] = {{64, 32, 13, 13}, {2, 3, 5, 7}, {1, 8, 8, 1}, {3, 17, 9, 2}, {1, 1, 40, 33}, {5, 9, 1, 16}};
    const int perms[][4] = {{0, 2, 3, 1}, {0, 3, 1, 2}, {0, 1, 3, 2}, {1, 0, 2, 3}};
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; k++)
        for (size_t p = 0; p < sizeof perms / sizeof perms[0]; p++)
            for (int mode = 0; mode < 4; mode++) {
                zen__transpose_simd = mode & 1 ? 0 : -1;
                zen_ctx *ctx = zen_ctx_new();
                zen_ctx_set_threads(ctx, mode & 2 ? 2 : 1);
                zen_tensor *x = zen_input(ctx, mode == 3 ? ZEN_I32 : ZEN_F32, 4, shapes[k]);
                int64_t n = zen_numel(x);
                int32_t *xd = x->data; /* bit patterns: f32 and i32 copy alike */
                for (int64_t i = 0; i < n; i++) xd[i] = (int32_t)(i * 7 + 3);
                zen_tensor *v = zen_permute(ctx, x, perms[p]);
                zen_tensor *y = zen_contiguous(ctx, v);
                zen_graph *g = zen_graph_new(ctx);
                CHECK(zen_graph_add(g, y) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
                const int32_t *yd = y->data;
                int64_t bad = 0;
                for (int64_t i = 0; i < n; i++) {
                    int64_t at = 0, rest = i;
                    for (int d = 3; d >= 0; d--) {
                        at += rest % v->shape[d] * v->stride[d];
                        rest /= v->shape[d];
                    }
                    bad += yd[i] != xd[at];
                }
                if (bad) fprintf(stderr, "  transpose copy: shape %zu perm %zu mode %d: %lld wrong\n", k, p, mode, (long long)bad);
                CHECK(bad == 0);
                zen_graph_free(g);
                zen_ctx_free(ctx);
            }
    zen__transpose_simd = -1;
}

TEST(test_split) {
    int64_t sizes[8];
    ints("split", "sizes", sizes);
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = load(ctx, "split");
    zen_tensor *parts[2];
    CHECK(zen_split(ctx, x, 1, 2, sizes, parts) == 0);
    check("split", ctx, x, zen_scale(ctx, parts[1], 1.0f));
    zen_ctx_free(ctx);
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 2, (int64_t[]){2, 3});
    CHECK(zen_reshape(ctx, x, 2, (int64_t[]){4, 2}) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "cannot reshape [2, 3]"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_reshape(ctx, x, 2, (int64_t[]){-1, -1}) == NULL);
    zen_ctx_clear_error(ctx);
    CHECK(zen_permute(ctx, x, (int[]){0, 0}) == NULL);
    zen_ctx_clear_error(ctx);
    CHECK(zen_expand(ctx, x, 2, (int64_t[]){4, 3}) == NULL);
    zen_ctx_clear_error(ctx);
    CHECK(zen_slice(ctx, x, 0, 0, 1, 0) == NULL);
    zen_ctx_clear_error(ctx);
    zen_tensor *parts[2];
    CHECK(zen_split(ctx, x, 1, 2, (int64_t[]){1, 1}, parts) != 0);
    CHECK(strstr(zen_ctx_error(ctx), "add up to 2"));
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("view.safetensors");
    int rc = RUN_TESTS(test_reshape, test_flatten, test_permute, test_transpose, test_permute_reshape, test_slice,
                       test_expand, test_contiguous, test_contiguous_transposes, test_split, test_errors);
    fx_close(f);
    return rc;
}
