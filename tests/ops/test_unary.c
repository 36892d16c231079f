/* neg, scale, pow, exp, log, sqrt, rsqrt, abs, clip vs PyTorch and finite differences. */
#include "harness.h"

#include <string.h>

static fx_file *f;

static void check(const char *c, zen_tensor *(*build)(zen_ctx *, zen_tensor *, const char *)) {
    char key[128];
    snprintf(key, sizeof key, "%s.x", c);
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = fx_param(ctx, f, key);
    const char *names[] = {"x"};
    CHECK(fx_check_op(ctx, f, c, build(ctx, x, c), 1, &x, names, 1) == 0);
    zen_ctx_free(ctx);
}

static float p(const char *c, const char *name) {
    char key[128];
    snprintf(key, sizeof key, "%s.p.%s", c, name);
    return fx_float(f, key);
}

static zen_tensor *b_neg(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_neg(ctx, x); }
static zen_tensor *b_scale(zen_ctx *ctx, zen_tensor *x, const char *c) { return zen_scale(ctx, x, p(c, "s")); }
static zen_tensor *b_pow(zen_ctx *ctx, zen_tensor *x, const char *c) { return zen_pow(ctx, x, p(c, "p")); }
static zen_tensor *b_exp(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_exp(ctx, x); }
static zen_tensor *b_log(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_log(ctx, x); }
static zen_tensor *b_sqrt(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_sqrt(ctx, x); }
static zen_tensor *b_rsqrt(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_rsqrt(ctx, x); }
static zen_tensor *b_abs(zen_ctx *ctx, zen_tensor *x, const char *c) { (void)c; return zen_abs(ctx, x); }
static zen_tensor *b_clip(zen_ctx *ctx, zen_tensor *x, const char *c) {
    return zen_clip(ctx, x, p(c, "lo"), p(c, "hi"));
}

TEST(test_neg) { check("neg", b_neg); }
TEST(test_scale) { check("scale", b_scale); }
TEST(test_pow) { check("pow", b_pow); check("powfrac", b_pow); }
TEST(test_exp) { check("exp", b_exp); }
TEST(test_log) { check("log", b_log); }
TEST(test_sqrt) { check("sqrt", b_sqrt); }
TEST(test_rsqrt) { check("rsqrt", b_rsqrt); }
TEST(test_abs) { check("abs", b_abs); }
TEST(test_clip) { check("clip", b_clip); }

TEST(test_clip_bad_range) {
    zen_ctx *ctx = zen_ctx_new();
    zen_tensor *x = zen_param(ctx, ZEN_F32, 1, (int64_t[]){3});
    CHECK(zen_clip(ctx, x, 1.0f, -1.0f) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_clip"));
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("unary.safetensors");
    int rc = RUN_TESTS(test_neg, test_scale, test_pow, test_exp, test_log, test_sqrt, test_rsqrt, test_abs,
                       test_clip, test_clip_bad_range);
    fx_close(f);
    return rc;
}
