/* Model files: zen_model_save / zen_model_load round trips give bit-identical predictions
 * and evaluation (also uncompiled models), keep the compile settings, write atomically;
 * damaged files (missing, short, truncated, a bad header length, a header that is not JSON,
 * no model spec, an invalid spec, a missing tensor, a wrong shape or dtype) give errors
 * naming the file and the problem. */
#define _GNU_SOURCE
#include "harness.h"
#include "train/train.h"

#include <dirent.h>
#include <string.h>
#include <unistd.h>

static char dir[256];
static const char *path_in(const char *name) {
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ & 3];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

/* A small CNN on 8x8x1 images with 3 classes, trained for one epoch so its weights are not
 * the initial ones. */
static zen_model *cnn(zen_ctx *ctx, bool compile, zen_dataset **data) {
    zen_model *m = zen_model_new(ctx, "cnn");
    zen_model_input(m, 3, (int64_t[]){8, 8, 1});
    zen_model_add(m, zen_layer_conv2d(ctx, 4, 3, 3, "relu"));
    zen_model_add(m, zen_layer_max_pooling2d(ctx, 2, 2));
    zen_model_add(m, zen_layer_flatten(ctx));
    zen_model_add(m, zen_layer_dense(ctx, 10, "relu"));
    zen_model_add(m, zen_layer_dropout(ctx, 0.25f));
    zen_model_add(m, zen_layer_dense(ctx, 3, "softmax"));
    CHECK(zen_model_build(m, 17) == 0);
    zen_rng r;
    zen_rng_seed(&r, 4);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 4, (int64_t[]){24, 8, 8, 1}), *y = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){24});
    for (int64_t i = 0; i < zen_array_numel(x); i++) ((float *)x->data)[i] = zen_rng_uniform(&r);
    for (int i = 0; i < 24; i++) ((int32_t *)y->data)[i] = i % 3;
    *data = zen_dataset_new(ctx, x, y);
    if (compile) {
        const char *metrics[] = {"accuracy", "f1_score"};
        CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", "{\"learning_rate\": 0.003}"),
                                "sparse_categorical_crossentropy", 2, metrics) == 0);
        zen_fit_opts o = zen_fit_defaults();
        o.batch_size = 8;
        o.verbose = 0;
        zen_history *h = zen_model_fit(m, *data, &o);
        CHECK_OK(ctx, h);
        zen_history_free(h);
    }
    return m;
}

static int count_entries(void) {
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += e->d_name[0] != '.';
    if (d) closedir(d);
    return n;
}

TEST(test_round_trip) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d;
    zen_model *m = cnn(ctx, true, &d);
    const char *path = path_in("cnn.zen");
    int before = count_entries();
    CHECK(zen_model_save(m, path) == 0);
    CHECK(zen_model_save(m, path) == 0); /* over an existing file */
    CHECK(count_entries() == before + 1); /* no temporary file left behind */

    zen_ctx *ctx2 = zen_ctx_new();
    zen_model *back = zen_model_load(ctx2, path);
    CHECK_OK(ctx2, back);
    if (!back) goto out;
    /* the same architecture and weights, bit for bit */
    CHECK(zen_model_n_layers(back) == zen_model_n_layers(m));
    CHECK(zen_model_n_params(back, false) == zen_model_n_params(m, false));
    for (int i = 0; i < zen_model_n_layers(m); i++) {
        zen_layer *a = zen_model_layer(m, i), *b = zen_model_layer(back, i);
        CHECK(!strcmp(zen_layer_name(a), zen_layer_name(b)) && zen_layer_n_weights(a) == zen_layer_n_weights(b));
        for (int w = 0; w < zen_layer_n_weights(a); w++) {
            zen_tensor *ta = zen_layer_weight(a, w, NULL, NULL), *tb = zen_layer_weight(b, w, NULL, NULL);
            CHECK(zen_nbytes(ta) == zen_nbytes(tb) && memcmp(ta->data, tb->data, zen_nbytes(ta)) == 0);
        }
    }
    /* predictions identical bit for bit, in any batch size */
    zen_array *p1 = zen_model_predict(m, d->x, 5), *p2 = zen_model_predict(back, d->x, 5), *p3 = zen_model_predict(back, d->x, 24);
    CHECK_OK(ctx2, p2);
    CHECK(p1 && p2 && p3 && zen_array_numel(p1) == 72 && memcmp(p1->data, p2->data, 72 * sizeof(float)) == 0);
    for (int i = 0; p1 && p3 && i < 72; i++) CHECK_NEAR(((float *)p3->data)[i], ((float *)p1->data)[i], 1e-6);
    /* the compile settings came along: evaluate gives the same loss and metrics */
    zen_metrics r1, r2;
    CHECK(zen_model_evaluate(m, d, 8, &r1) == 0 && zen_model_evaluate(back, d, 8, &r2) == 0);
    CHECK(r1.n == 3 && r2.n == 3);
    for (int i = 0; i < 3 && r1.n == r2.n; i++) CHECK(!strcmp(r1.names[i], r2.names[i]) && r1.values[i] == r2.values[i]);
    CHECK(back->trainer && back->trainer->opt && !strcmp(back->trainer->loss, "sparse_categorical_crossentropy"));
    CHECK(back->trainer && fabsf(zen_optimizer_lr(back->trainer->opt) - 0.003f) < 1e-9f);
    /* and the loaded model trains */
    zen_fit_opts o = zen_fit_defaults();
    o.verbose = 0;
    zen_history *h = zen_model_fit(back, d, &o);
    CHECK_OK(ctx2, h);
    zen_history_free(h);
    zen_array_free(p1);
    zen_array_free(p2);
    zen_array_free(p3);
    zen_model_free(back);
out:
    zen_ctx_free(ctx2);
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* A model saved before compile loads uncompiled and predicts the same. */
TEST(test_round_trip_uncompiled) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d;
    zen_model *m = cnn(ctx, false, &d);
    const char *path = path_in("plain.zen");
    zen_array *p1 = zen_model_predict(m, d->x, 7); /* predict before save: a bare trainer */
    CHECK(zen_model_save(m, path) == 0);
    zen_model *back = zen_model_load(ctx, path);
    CHECK_OK(ctx, back);
    zen_array *p2 = back ? zen_model_predict(back, d->x, 7) : NULL;
    CHECK(p1 && p2 && memcmp(p1->data, p2->data, (size_t)zen_array_numel(p1) * sizeof(float)) == 0);
    zen_metrics r;
    CHECK(back && zen_model_evaluate(back, d, 8, &r) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "compile the model first"));
    zen_ctx_clear_error(ctx);
    zen_array_free(p1);
    zen_array_free(p2);
    zen_model_free(back);
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- damaged files ---- */

static unsigned char *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc(*n + 1);
    if (fread(b, 1, *n, f) != *n) *n = 0;
    fclose(f);
    return b;
}

static void spit(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n);
    if (f) fclose(f);
}

/* A copy of the file whose header has `from` replaced by `to` (once), with the header
 * length updated; the tensor data is unchanged. */
static void edit_header(const char *src, const char *dst, const char *from, const char *to) {
    size_t n = 0;
    unsigned char *b = slurp(src, &n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];
    char *header = calloc(1, hlen + strlen(to) + 1);
    memcpy(header, b + 8, hlen);
    char *at = strstr(header, from);
    CHECK(at != NULL);
    if (!at) fprintf(stderr, "  '%s' is not in the header\n", from);
    size_t new_len = hlen;
    if (at) {
        memmove(at + strlen(to), at + strlen(from), hlen - (size_t)(at - header) - strlen(from) + 1);
        memcpy(at, to, strlen(to));
        new_len = hlen - strlen(from) + strlen(to);
    }
    FILE *f = fopen(dst, "wb");
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)(new_len >> (8 * i));
    fwrite(len8, 1, 8, f);
    fwrite(header, 1, new_len, f);
    fwrite(b + 8 + hlen, 1, n - 8 - hlen, f);
    fclose(f);
    free(header);
    free(b);
}

static void expect_load_error(const char *path, const char *needle) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_load(ctx, path);
    const char *e = zen_ctx_error(ctx);
    CHECK(m == NULL);
    if (getenv("ZEN_TEST_VERBOSE")) fprintf(stderr, "  %s\n", e ? e : "(none)");
    if (!e || !strstr(e, needle) || !strstr(e, path)) {
        fprintf(stderr, "  loading %s: expected an error naming the file and containing '%s', got '%s'\n", path, needle,
                e ? e : "(none)");
        harness_failures++;
    }
    zen_model_free(m);
    zen_ctx_free(ctx);
}

TEST(test_damaged_files) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d;
    zen_model *m = cnn(ctx, true, &d);
    const char *good = path_in("good.zen");
    CHECK(zen_model_save(m, good) == 0);
    const char *dense = zen_layer_name(zen_model_layer(m, zen_model_n_layers(m) - 1)); /* the last Dense */
    char kernel[128];
    snprintf(kernel, sizeof kernel, "\"%s/kernel\"", dense);
    size_t n = 0;
    unsigned char *b = slurp(good, &n);

    expect_load_error(path_in("does-not-exist.zen"), "cannot open");

    const char *p = path_in("short.zen");
    spit(p, b, 5);
    expect_load_error(p, "too short to be a model file");

    spit(p, b, n - 100); /* truncated in the tensor data */
    expect_load_error(p, "truncated?");

    unsigned char *c = malloc(n);
    memcpy(c, b, n);
    c[5] = 0x7f; /* a header length of ~2^47 */
    spit(p, c, n);
    expect_load_error(p, "is larger than the limit of 100000000 bytes");

    memcpy(c, b, n);
    c[0] = (unsigned char)(n - 7); /* one byte more than the file holds after the length */
    c[1] = (unsigned char)((n - 7) >> 8);
    c[2] = (unsigned char)((n - 7) >> 16);
    spit(p, c, n);
    expect_load_error(p, "is past the end of the file");

    memcpy(c, b, n);
    c[8] = '['; /* the header's '{' */
    spit(p, c, n);
    expect_load_error(p, "the header is not a JSON object");
    free(c);

    edit_header(good, p, "\"model\"", "\"modal\"");
    expect_load_error(p, "no model spec in __metadata__ (not a zen model file)");

    edit_header(good, p, "\\\"units\\\":\\t3", "\\\"units\\\":\\t-3"); /* the spec is a JSON string in the header */
    expect_load_error(p, "the model spec is invalid");

    char renamed[140];
    snprintf(renamed, sizeof renamed, "\"%s/kernelX\"", dense);
    edit_header(good, p, kernel, renamed);
    char want[200];
    snprintf(want, sizeof want, "tensor %s/kernel is missing", dense);
    expect_load_error(p, want);

    edit_header(good, p, "\"shape\":[3,10]", "\"shape\":[10,3]");
    snprintf(want, sizeof want, "tensor %s/kernel must be F32 of shape [3, 10], the file has F32 of shape [10, 3]", dense);
    expect_load_error(p, want);

    char dtype_from[160], dtype_to[160];
    snprintf(dtype_from, sizeof dtype_from, "%s:{\"dtype\":\"F32\"", kernel);
    snprintf(dtype_to, sizeof dtype_to, "%s:{\"dtype\":\"F16\"", kernel);
    edit_header(good, p, dtype_from, dtype_to);
    expect_load_error(p, "(120 bytes) but F16 [3, 10] needs 60 bytes");

    /* a safetensors file that is not a zen model (a test fixture) */
    expect_load_error(ZEN_FIXTURE_DIR "/train_losses.safetensors", "not a zen model file");

    /* the good file still loads (the edits above worked on copies) */
    zen_model *ok = zen_model_load(ctx, good);
    CHECK_OK(ctx, ok);
    zen_model_free(ok);

    /* saving where it cannot be written */
    CHECK(zen_model_save(m, "/nonexistent-dir/m.zen") == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "/nonexistent-dir/m.zen"));
    zen_ctx_clear_error(ctx);
    free(b);
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/zen_mf_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) return 2;
    int rc = RUN_TESTS(test_round_trip, test_round_trip_uncompiled, test_damaged_files);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
