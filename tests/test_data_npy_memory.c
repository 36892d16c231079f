/* zen_parse_npy: NPY bytes in memory (request bodies of `zen serve`) give exactly what
 * zen_load_npy gives for the same file, and every damaged buffer — each truncation, flipped
 * bytes, garbage — an error naming the buffer, never a crash. */
#include "data_util.h"

static unsigned char *fixture(const char *name, size_t *n) {
    char path[600];
    snprintf(path, sizeof path, "%s/data/%s", ZEN_FIXTURE_DIR, name);
    unsigned char *b = du_read(path, n);
    if (!b) {
        fprintf(stderr, "missing fixture %s\n", path);
        exit(2);
    }
    return b;
}

static bool same(const zen_array *a, const zen_array *b) {
    if (!a || !b || a->dtype != b->dtype || a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return memcmp(a->data, b->data, (size_t)zen_array_numel(a) * 4) == 0;
}

TEST(test_npy_memory_matches_file) {
    zen_ctx *ctx = zen_ctx_new();
    const char *names[] = {"f4_2x3.npy", "f4_v2.npy", "f4_v3.npy", "f8_2x2x2.npy", "f4_8d.npy", "f4_scalar.npy",
                           "f4_empty_0x3.npy", "i8_2x3.npy", "u1_3x4.npy"};
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        char path[600];
        snprintf(path, sizeof path, "%s/data/%s", ZEN_FIXTURE_DIR, names[k]);
        size_t n;
        unsigned char *bytes = fixture(names[k], &n);
        zen_array *want = zen_load_npy(ctx, path, ZEN_F32, 0);
        CHECK_OK(ctx, want);
        zen_array *got = zen_parse_npy(ctx, bytes, n, "body", ZEN_F32, 0);
        CHECK_OK(ctx, got);
        CHECK(same(want, got));
        zen_array_free(want);
        zen_array_free(got);
        free(bytes);
    }
    zen_ctx_free(ctx);
}

TEST(test_npy_memory_errors) {
    zen_ctx *ctx = zen_ctx_new();
    CHECK_ERR(ctx, !zen_parse_npy(ctx, NULL, 0, "request body", ZEN_F32, 0), "zen_parse_npy: request body", "truncated");
    CHECK_ERR(ctx, !zen_parse_npy(ctx, "{\"instances\": [1, 2, 3]}", 24, "request body", ZEN_F32, 0),
              "request body", "not an NPY file");
    size_t n;
    unsigned char *bytes = fixture("f4_2x3.npy", &n);
    /* every truncation, and one byte too many */
    for (size_t cut = 0; cut < n; cut++) CHECK_ERR(ctx, !zen_parse_npy(ctx, bytes, cut, "b", ZEN_F32, 0), "zen_parse_npy: b");
    unsigned char *longer = malloc(n + 1);
    memcpy(longer, bytes, n);
    longer[n] = 0;
    CHECK_ERR(ctx, !zen_parse_npy(ctx, longer, n + 1, "b", ZEN_F32, 0), "unexpected");
    free(longer);
    /* flipped bytes anywhere in the header: an error or a valid array, never a crash */
    for (size_t i = 0; i < n; i++) {
        unsigned char *c = malloc(n);
        memcpy(c, bytes, n);
        c[i] ^= 0x5a;
        zen_array *a = zen_parse_npy(ctx, c, n, "b", ZEN_F32, 0);
        CHECK(a || zen_ctx_error(ctx));
        zen_array_free(a);
        zen_ctx_clear_error(ctx);
        free(c);
    }
    free(bytes);
    bytes = fixture("f4_fortran.npy", &n);
    CHECK_ERR(ctx, !zen_parse_npy(ctx, bytes, n, "b", ZEN_F32, 0), "fortran_order");
    free(bytes);
    bytes = fixture("f4_2x3.npy", &n);
    CHECK_ERR(ctx, !zen_parse_npy(ctx, bytes, n, "b", ZEN_I32, 0), "b");
    free(bytes);
    zen_ctx_free(ctx);
}

/* zen_format_npy: the very bytes zen_save_npy writes, which zen_parse_npy reads back. */
TEST(test_npy_memory_format) {
    zen_ctx *ctx = zen_ctx_new();
    du_init();
    const float f[6] = {1, -2.5f, 3, 0, 1e30f, -0.0f};
    const int32_t i[3] = {7, -8, 2147483647};
    const int64_t s23[2] = {2, 3}, s3[1] = {3}, s03[2] = {0, 3};
    struct { zen_dtype dt; int ndim; const int64_t *shape; const void *data; } cases[] = {
        {ZEN_F32, 2, s23, f}, {ZEN_I32, 1, s3, i}, {ZEN_F32, 0, NULL, f}, {ZEN_F32, 2, s03, NULL}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        size_t n = 0, fn = 0;
        void *b = zen_format_npy(ctx, cases[k].dt, cases[k].ndim, cases[k].shape, cases[k].data, &n);
        CHECK_OK(ctx, b);
        CHECK(zen_save_npy(ctx, du_path("a.npy"), cases[k].dt, cases[k].ndim, cases[k].shape, cases[k].data) == 0);
        unsigned char *file = du_read(du_path("a.npy"), &fn);
        CHECK(b && file && n == fn && !memcmp(b, file, n));
        zen_array *a = b ? zen_parse_npy(ctx, b, n, "formatted", cases[k].dt, 0) : NULL;
        CHECK_OK(ctx, a);
        CHECK(a && a->ndim == cases[k].ndim);
        for (int d = 0; a && d < a->ndim; d++) CHECK(a->shape[d] == cases[k].shape[d]);
        if (a && zen_array_numel(a)) CHECK(!memcmp(a->data, cases[k].data, (size_t)zen_array_numel(a) * 4));
        zen_array_free(a);
        free(file);
        free(b);
    }
    size_t n = 99;
    const int64_t neg[1] = {-1};
    CHECK_ERR(ctx, !zen_format_npy(ctx, ZEN_F32, 1, neg, f, &n), "zen_format_npy", "bad shape");
    CHECK(n == 0);
    CHECK_ERR(ctx, !zen_format_npy(ctx, ZEN_F32, ZEN_MAX_DIMS + 1, s23, f, &n), "zen_format_npy", "bad ndim");
    CHECK_ERR(ctx, !zen_format_npy(ctx, ZEN_F32, 2, s23, NULL, &n), "zen_format_npy", "data is NULL");
    CHECK_ERR(ctx, !zen_format_npy(ctx, ZEN_F32, 2, s23, f, NULL), "zen_format_npy", "size is NULL");
    du_cleanup();
    zen_ctx_free(ctx);
}

int main(void) { return RUN_TESTS(test_npy_memory_matches_file, test_npy_memory_errors, test_npy_memory_format); }
