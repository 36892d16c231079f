/* zen_rope vs a torch reference (rotate-half convention) with offsets and explicit
 * positions; gradients vs torch and finite differences; rotation properties; errors. */
#include "harness.h"

#include <math.h>
#include <string.h>

static fx_file *f;

TEST(test_vs_torch) {
    const char *names[] = {"basic", "offset", "positions"};
    for (int c = 0; c < 3; c++) {
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.x", names[c]);
        zen_tensor *x = fx_param(ctx, f, key);
        snprintf(key, sizeof key, "%s.p.has_positions", names[c]);
        zen_tensor *pos = NULL;
        if (fx_int(f, key)) {
            snprintf(key, sizeof key, "%s.positions", names[c]);
            pos = fx_input(ctx, f, key);
        }
        snprintf(key, sizeof key, "%s.p.offset", names[c]);
        int offset = fx_int(f, key);
        snprintf(key, sizeof key, "%s.p.base", names[c]);
        zen_tensor *y = zen_rope(ctx, x, pos, offset, fx_float(f, key));
        CHECK_OK(ctx, y);
        int fails = fx_check_op(ctx, f, names[c], y, 1, &x, (const char *[]){"x"}, 2);
        if (fails) fprintf(stderr, "  (case %s)\n", names[c]);
        CHECK(fails == 0);
        zen_ctx_free(ctx);
    }
}

/* Position 0 is the identity; a rotation keeps norms; and the dot product of two rotated
 * rows depends only on the distance of their positions (what attention relies on). */
TEST(test_relative) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_input(ctx, ZEN_F32, 2, (int64_t[]){2, 64});
    zen_rng r;
    zen_rng_seed(&r, 4);
    zen_rng_fill_normal(&r, x, 0, 1);
    zen_tensor *a = zen_rope(ctx, x, NULL, 0, 10000.0f), *b = zen_rope(ctx, x, NULL, 100, 10000.0f);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, a);
    zen_graph_add(g, b);
    CHECK(zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    const float *X = x->data, *A = a->data, *B = b->data;
    for (int i = 0; i < 64; i++) CHECK(A[i] == X[i]); /* row 0: position 0 */
    double da = 0, db = 0, n0 = 0, n1 = 0;
    for (int i = 0; i < 64; i++) {
        da += (double)A[i] * A[64 + i]; /* positions 0 and 1 */
        db += (double)B[i] * B[64 + i]; /* positions 100 and 101 */
        n0 += (double)X[64 + i] * X[64 + i];
        n1 += (double)A[64 + i] * A[64 + i];
    }
    CHECK_NEAR(da, db, 1e-4 * (1 + fabs(da)));
    CHECK_NEAR(n0, n1, 1e-4 * n0);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 3, (int64_t[]){2, 4, 5});
    CHECK(zen_rope(ctx, x, NULL, 0, 10000.0f) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_rope: x must be [..., steps, dim] with an even dim, got [2, 4, 5]"));
    zen_ctx_clear_error(ctx);
    zen_tensor *x2 = zen_param(ctx, ZEN_F32, 3, (int64_t[]){2, 4, 6});
    zen_tensor *p = zen_input(ctx, ZEN_I32, 1, (int64_t[]){3});
    CHECK(zen_rope(ctx, x2, p, 0, 10000.0f) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_rope: positions must be i32 [4] (one per step), got i32 [3]"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_rope(ctx, x2, NULL, 0, 0.0f) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_rope: base must be a finite number > 0, got 0"));
    zen_ctx_clear_error(ctx);
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("rope.safetensors");
    int rc = RUN_TESTS(test_vs_torch, test_relative, test_errors);
    fx_close(f);
    return rc;
}
