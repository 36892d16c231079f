/* where vs PyTorch (broadcasting across cond, a and b; f32 and i32 cond; NaN and -0 in
 * cond); gradients vs PyTorch and finite differences; no gradient to cond; a threaded
 * large case vs a naive loop; errors. */
#include "harness.h"

#include <string.h>

static fx_file *f;

TEST(test_fixtures) {
    const char *const *cases = fx_cases(f, "");
    int ncases = 0;
    for (; cases[ncases]; ncases++) {
        const char *c = cases[ncases];
        char key[128];
        zen_ctx *ctx = zen_ctx_new();
        snprintf(key, sizeof key, "%s.cond", c);
        zen_tensor *cond = fx_input(ctx, f, key);
        snprintf(key, sizeof key, "%s.a", c);
        zen_tensor *a = fx_param(ctx, f, key);
        snprintf(key, sizeof key, "%s.b", c);
        zen_tensor *b = fx_param(ctx, f, key);
        zen_tensor *y = zen_where(ctx, cond, a, b);
        CHECK(fx_check_op(ctx, f, c, y, 2, (zen_tensor *[]){a, b}, (const char *[]){"a", "b"}, 1) == 0);
        zen_ctx_free(ctx);
    }
    CHECK(ncases == 7);
}

/* cond gets no gradient even when it is a parameter. */
TEST(test_no_grad_to_cond) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *cond = zen_param(ctx, ZEN_F32, 1, (int64_t[]){3});
    zen_tensor *a = zen_param(ctx, ZEN_F32, 1, (int64_t[]){3});
    zen_tensor *y = zen_where(ctx, cond, a, zen_scalar(ctx, 1.0f));
    zen_tensor *loss = zen_sum(ctx, y, 0, NULL, false);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, loss);
    ((float *)cond->data)[1] = 2.0f;
    CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
    CHECK(cond->grad == NULL);
    const float *ga = a->grad->data;
    CHECK(ga[0] == 0 && ga[1] == 1 && ga[2] == 0);
    CHECK(*(float *)loss->data == 2.0f);
    zen_graph_free(g);
    zen_ctx_free(ctx);
}

/* Large broadcast shapes through the threaded row paths (including the strided and
 * scalar-cond rows), vs a naive loop; gradients summed down to a's and b's shapes. */
TEST(test_large) {
    struct { int64_t c[3], a[3], b[3]; bool i32; } cases[] = {
        {{64, 32, 40}, {64, 32, 40}, {64, 32, 40}, false}, /* dense */
        {{1, 1, 40}, {64, 32, 40}, {1, 32, 1}, true},      /* cond and b broadcast */
        {{64, 1, 1}, {1, 32, 40}, {64, 32, 1}, false},     /* cond constant along rows */
        {{1, 1, 1}, {64, 32, 40}, {1, 1, 1}, false},       /* all broadcast but a */
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        zen_ctx *ctx = zen_ctx_new();
        zen_tensor *cond = zen_input(ctx, cases[k].i32 ? ZEN_I32 : ZEN_F32, 3, cases[k].c);
        zen_tensor *a = zen_param(ctx, ZEN_F32, 3, cases[k].a);
        zen_tensor *b = zen_param(ctx, ZEN_F32, 3, cases[k].b);
        zen_rng rng;
        zen_rng_seed(&rng, 21 + k);
        zen_rng_fill_uniform(&rng, a, -1, 1);
        zen_rng_fill_uniform(&rng, b, -1, 1);
        int64_t nc = zen_numel(cond);
        for (int64_t i = 0; i < nc; i++) {
            int v = (int)(zen_rng_next(&rng) % 3) - 1;
            if (nc == 1) v = 1;
            if (cases[k].i32) ((int32_t *)cond->data)[i] = v;
            else ((float *)cond->data)[i] = (float)v;
        }
        zen_tensor *y = zen_where(ctx, cond, a, b);
        CHECK_OK(ctx, y);
        zen_tensor *w = zen_const(ctx, ZEN_F32, 3, y->shape);
        zen_rng_fill_uniform(&rng, w, -1, 1);
        zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, y, w), 0, NULL, false);
        zen_graph *g = zen_graph_new(ctx);
        zen_graph_add(g, y);
        CHECK(zen_graph_backward(g, loss) == 0 && zen_graph_plan(g) == 0 && zen_graph_compute(g) == 0);
        CHECK(y->shape[0] == 64 && y->shape[1] == 32 && y->shape[2] == 40);
        double *ga = calloc((size_t)zen_numel(a), sizeof *ga), *gb = calloc((size_t)zen_numel(b), sizeof *gb);
        int64_t bad = 0, idx[3], ic[3], ia[3], ib[3];
        for (int64_t i = 0; i < zen_numel(y); i++) {
            idx[0] = i / (32 * 40), idx[1] = i / 40 % 32, idx[2] = i % 40;
            for (int d = 0; d < 3; d++) {
                ic[d] = cases[k].c[d] == 1 ? 0 : idx[d];
                ia[d] = cases[k].a[d] == 1 ? 0 : idx[d];
                ib[d] = cases[k].b[d] == 1 ? 0 : idx[d];
            }
            int64_t fc = (ic[0] * cases[k].c[1] + ic[1]) * cases[k].c[2] + ic[2];
            bool t = cases[k].i32 ? ((int32_t *)cond->data)[fc] != 0 : ((float *)cond->data)[fc] != 0;
            bad += zen_get_f32(y, idx) != (t ? zen_get_f32(a, ia) : zen_get_f32(b, ib));
            double wi = ((float *)w->data)[i];
            if (t) ga[(ia[0] * cases[k].a[1] + ia[1]) * cases[k].a[2] + ia[2]] += wi;
            else gb[(ib[0] * cases[k].b[1] + ib[1]) * cases[k].b[2] + ib[2]] += wi;
        }
        CHECK(bad == 0);
        double worst = 0;
        for (int64_t i = 0; i < zen_numel(a); i++) worst = fmax(worst, fabs(((float *)a->grad->data)[i] - ga[i]));
        for (int64_t i = 0; i < zen_numel(b); i++) worst = fmax(worst, fabs(((float *)b->grad->data)[i] - gb[i]));
        CHECK(worst < 1e-3);
        free(ga);
        free(gb);
        zen_graph_free(g);
        zen_ctx_free(ctx);
    }
}

TEST(test_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *c = zen_input(ctx, ZEN_F32, 2, (int64_t[]){2, 3});
    zen_tensor *a = zen_param(ctx, ZEN_F32, 2, (int64_t[]){2, 3});
    zen_tensor *b4 = zen_param(ctx, ZEN_F32, 1, (int64_t[]){4});
    zen_tensor *c4 = zen_input(ctx, ZEN_F32, 1, (int64_t[]){4});
    zen_tensor *ai = zen_input(ctx, ZEN_I32, 2, (int64_t[]){2, 3});
    CHECK(zen_where(ctx, c, a, b4) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_where: shapes [2, 3] and [4] cannot be broadcast together"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_where(ctx, c4, a, a) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_where: shapes [4] and [2, 3] cannot be broadcast together"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_where(ctx, c, ai, a) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_where: a must be f32, got i32"));
    zen_ctx_clear_error(ctx);
    zen_tensor *q = zen_input(ctx, ZEN_I8, 1, (int64_t[]){3});
    CHECK(zen_where(ctx, q, a, a) == NULL);
    CHECK(strstr(zen_ctx_error(ctx), "zen_where: cond must be f32 or i32, got i8"));
    zen_ctx_clear_error(ctx);
    CHECK(zen_where(ctx, NULL, a, a) == NULL && !zen_ctx_error(ctx));
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("where.safetensors");
    int rc = RUN_TESTS(test_fixtures, test_no_grad_to_cond, test_large, test_errors);
    fx_close(f);
    return rc;
}
