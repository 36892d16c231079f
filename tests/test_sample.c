/* zen_sample_logits: greedy decoding, top-k, top-p and temperature, with exact
 * expectations on small distributions (which tokens can ever be drawn) and frequencies of
 * many seeded draws against the probabilities they should have. */
#include "harness.h"

#include <string.h>

enum { DRAWS = 200000 };

/* Frequencies of DRAWS draws. */
static void frequencies(const float *logits, int n, zen_sampling s, uint64_t seed, double *freq) {
    zen_ctx *ctx = zen_ctx_new();
    zen_rng r;
    zen_rng_seed(&r, seed);
    int count[16] = {0};
    for (int i = 0; i < DRAWS; i++) {
        int t = zen_sample_logits(ctx, logits, n, &s, &r);
        CHECK(t >= 0 && t < n);
        if (t >= 0 && t < n) count[t]++;
    }
    CHECK(zen_ctx_error(ctx) == NULL);
    for (int i = 0; i < n; i++) freq[i] = (double)count[i] / DRAWS;
    zen_ctx_free(ctx);
}

/* Each frequency within 5 standard deviations of its probability; a probability of 0 must
 * never be drawn. */
static void check_freq(const char *what, const double *freq, const double *p, int n) {
    for (int i = 0; i < n; i++) {
        double sd = sqrt(p[i] * (1 - p[i]) / DRAWS);
        if (p[i] == 0 ? freq[i] != 0 : fabs(freq[i] - p[i]) > 5 * sd) {
            fprintf(stderr, "  %s: token %d drawn %.5f of the time, expected %.5f\n", what, i, freq[i], p[i]);
            harness_failures++;
        }
    }
}

/* log(p) for a distribution p: softmax gives p back. */
static void logs(const double *p, float *logits, int n) {
    for (int i = 0; i < n; i++) logits[i] = p[i] > 0 ? (float)log(p[i]) : -INFINITY;
}

TEST(test_greedy) {
    zen_ctx *ctx = zen_ctx_new();
    zen_rng r;
    zen_rng_seed(&r, 1);
    const float l[] = {0.5f, 2.0f, -1.0f, 2.0f, 1.9f};
    zen_sampling greedy = {0};
    for (int i = 0; i < 100; i++) CHECK(zen_sample_logits(ctx, l, 5, &greedy, &r) == 1); /* the first of the tie */
    zen_sampling k1 = {.temperature = 5, .top_k = 1};
    for (int i = 0; i < 100; i++) CHECK(zen_sample_logits(ctx, l, 5, &k1, &r) == 1);
    const float one = 3;
    zen_sampling hot = {.temperature = 1};
    CHECK(zen_sample_logits(ctx, &one, 1, &hot, &r) == 0);
    CHECK(zen_ctx_error(ctx) == NULL);
    zen_ctx_free(ctx);
}

TEST(test_softmax_frequencies) {
    const double p[] = {0.5, 0.3, 0.15, 0.05};
    float l[4];
    logs(p, l, 4);
    double f[4];
    frequencies(l, 4, (zen_sampling){.temperature = 1}, 11, f);
    check_freq("temperature 1", f, p, 4);
    /* Temperature 2 takes the square root of the probabilities (renormalised). */
    double q[4], sum = 0;
    for (int i = 0; i < 4; i++) sum += q[i] = sqrt(p[i]);
    for (int i = 0; i < 4; i++) q[i] /= sum;
    frequencies(l, 4, (zen_sampling){.temperature = 2}, 12, f);
    check_freq("temperature 2", f, q, 4);
    /* A low temperature sharpens: 0.25 raises them to the 4th power. */
    sum = 0;
    for (int i = 0; i < 4; i++) sum += q[i] = pow(p[i], 4);
    for (int i = 0; i < 4; i++) q[i] /= sum;
    frequencies(l, 4, (zen_sampling){.temperature = 0.25f}, 13, f);
    check_freq("temperature 0.25", f, q, 4);
}

TEST(test_top_k) {
    const float l[] = {0, 3, 1, 2};
    double f[4], e = exp(1.0);
    frequencies(l, 4, (zen_sampling){.temperature = 1, .top_k = 2}, 21, f);
    check_freq("top_k 2", f, (const double[]){0, e / (1 + e), 0, 1 / (1 + e)}, 4);
    /* Ties with the k-th are kept: three equal logits and top_k 2 keep all three. */
    const float t[] = {1, 1, -5, 1};
    frequencies(t, 4, (zen_sampling){.temperature = 1, .top_k = 2}, 22, f);
    check_freq("top_k 2 with ties", f, (const double[]){1 / 3.0, 1 / 3.0, 0, 1 / 3.0}, 4);
    /* top_k >= n is no limit. */
    frequencies(l, 4, (zen_sampling){.temperature = 1, .top_k = 9}, 23, f);
    double z = 1 + exp(3.0) + exp(1.0) + exp(2.0);
    check_freq("top_k 9", f, (const double[]){1 / z, exp(3.0) / z, exp(1.0) / z, exp(2.0) / z}, 4);
}

TEST(test_top_p) {
    const double p[] = {0.15, 0.5, 0.05, 0.3}; /* descending: 1, 3, 0, 2 */
    float l[4];
    logs(p, l, 4);
    double f[4];
    /* 0.5 alone reaches 0.5. */
    frequencies(l, 4, (zen_sampling){.temperature = 1, .top_p = 0.5f}, 31, f);
    check_freq("top_p 0.5", f, (const double[]){0, 1, 0, 0}, 4);
    /* 0.75: 0.5 then 0.3. */
    frequencies(l, 4, (zen_sampling){.temperature = 1, .top_p = 0.75f}, 32, f);
    check_freq("top_p 0.75", f, (const double[]){0, 0.625, 0, 0.375}, 4);
    /* 0.9: 0.5, 0.3, then 0.15. */
    frequencies(l, 4, (zen_sampling){.temperature = 1, .top_p = 0.9f}, 33, f);
    check_freq("top_p 0.9", f, (const double[]){0.15 / 0.95, 0.5 / 0.95, 0, 0.3 / 0.95}, 4);
    /* A tiny top_p is greedy. */
    frequencies(l, 4, (zen_sampling){.temperature = 1, .top_p = 1e-6f}, 34, f);
    check_freq("top_p 1e-6", f, (const double[]){0, 1, 0, 0}, 4);
    /* After top_k 3 the kept probabilities are 0.5, 0.3, 0.15 (of 0.95): top_p 0.8 of that
     * keeps 0.5/0.95 = 0.53 and 0.8/0.95 = 0.84, i.e. two tokens. */
    frequencies(l, 4, (zen_sampling){.temperature = 1, .top_k = 3, .top_p = 0.8f}, 35, f);
    check_freq("top_k 3 + top_p 0.8", f, (const double[]){0, 0.625, 0, 0.375}, 4);
    /* top_p applies to the tempered distribution: at temperature 2 the largest has
     * sqrt(.5)/sum(sqrt) = 0.34 < 0.5, so a second token joins. */
    frequencies(l, 4, (zen_sampling){.temperature = 2, .top_p = 0.5f}, 36, f);
    double a = sqrt(0.5), b = sqrt(0.3);
    check_freq("temperature 2 + top_p 0.5", f, (const double[]){0, a / (a + b), 0, b / (a + b)}, 4);
}

TEST(test_masked_and_seeded) {
    zen_ctx *ctx = zen_ctx_new();
    const float l[] = {-INFINITY, 0, -INFINITY, 0, -INFINITY};
    zen_rng r1, r2, r3;
    zen_rng_seed(&r1, 5);
    zen_rng_seed(&r2, 5);
    zen_rng_seed(&r3, 6);
    zen_sampling s = {.temperature = 1};
    int same = 1, differ = 0;
    for (int i = 0; i < 1000; i++) {
        int a = zen_sample_logits(ctx, l, 5, &s, &r1), b = zen_sample_logits(ctx, l, 5, &s, &r2);
        int c = zen_sample_logits(ctx, l, 5, &s, &r3);
        CHECK(a == 1 || a == 3);
        same &= a == b;
        differ |= a != c;
    }
    CHECK(same);
    CHECK(differ);
    CHECK(zen_ctx_error(ctx) == NULL);
    zen_ctx_free(ctx);
}

TEST(test_errors) {
    const float l[] = {0, 1, 2};
    const float bad[] = {0, NAN, 2};
    const float inf[] = {-INFINITY, -INFINITY};
    zen_rng r;
    zen_rng_seed(&r, 1);
    struct {
        const float *l;
        int n;
        zen_sampling s;
        const char *msg;
    } cases[] = {
        {l, 3, {.temperature = -1}, "temperature must be a finite number >= 0"},
        {l, 3, {.temperature = INFINITY}, "temperature must be a finite number >= 0"},
        {l, 3, {.temperature = 1, .top_k = -2}, "top_k must be >= 0"},
        {l, 3, {.temperature = 1, .top_p = 1.5f}, "top_p must be in [0, 1]"},
        {l, 0, {.temperature = 1}, "n >= 1"},
        {bad, 3, {.temperature = 1}, "logit 1 is NaN"},
        {inf, 2, {.temperature = 1}, "every logit is -Inf"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        zen_ctx *ctx = zen_ctx_new();
        CHECK(zen_sample_logits(ctx, cases[i].l, cases[i].n, &cases[i].s, &r) == -1);
        const char *e = zen_ctx_error(ctx);
        if (!e || !strstr(e, cases[i].msg)) {
            fprintf(stderr, "  case %zu: got '%s', expected '%s'\n", i, e ? e : "(none)", cases[i].msg);
            harness_failures++;
        }
        zen_ctx_free(ctx);
    }
}

int main(void) {
    return RUN_TESTS(test_greedy, test_softmax_frequencies, test_top_k, test_top_p, test_masked_and_seeded,
                     test_errors);
}
