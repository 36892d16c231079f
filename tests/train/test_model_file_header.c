/* zen_model_file_header reads a model file's JSON header without its tensors and names the
 * problem with files that are not safetensors; zen_model_input_dtype tells token-id inputs
 * from float ones. */
#define _GNU_SOURCE
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(data, 1, n, f) == n);
    if (f) fclose(f);
}

TEST(test_header_of_a_model_file) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "ids");
    zen_model_input(m, 1, (int64_t[]){6});
    zen_layer_set(zen_model_layer(m, 0), "dtype", "\"int32\"");
    zen_model_add(m, zen_layer_new(ctx, "Embedding", "{\"input_dim\": 9, \"output_dim\": 2}"));
    CHECK(zen_model_build(m, 1) == 0);
    CHECK(zen_model_input_dtype(m, 0) == ZEN_I32);
    CHECK(zen_model_input_dtype(m, 1) == ZEN_F32); /* out of range: the default */
    char path[] = "/tmp/zen_header_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(zen_model_save(m, path) == 0);
    char *h = zen_model_file_header(ctx, path);
    CHECK_OK(ctx, h);
    CHECK(h && strstr(h, "\"__metadata__\"") && strstr(h, "embedding/embeddings"));
    free(h);

    zen_model *f = zen_model_new(ctx, "floats");
    zen_model_input(f, 1, (int64_t[]){3});
    zen_model_add(f, zen_layer_dense(ctx, 2, NULL));
    CHECK(zen_model_build(f, 1) == 0 && zen_model_input_dtype(f, 0) == ZEN_F32);

    struct { const unsigned char *bytes; size_t n; const char *msg; } bad[] = {
        {(const unsigned char *)"abc", 3, "too short to be a safetensors file"},
        {(const unsigned char *)"\xff\x00\x00\x00\x00\x00\x00\x00{}", 10, "header length is past the end"},
        {(const unsigned char *)"\x02\x00\x00\x00\x00\x00\x00\x00[]", 10, "not a JSON object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_bytes(path, bad[i].bytes, bad[i].n);
        CHECK(zen_model_file_header(ctx, path) == NULL);
        CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), bad[i].msg) && strstr(zen_ctx_error(ctx), path));
        zen_ctx_clear_error(ctx);
    }
    unlink(path);
    CHECK(zen_model_file_header(ctx, path) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "cannot open"));
    zen_ctx_clear_error(ctx);
    zen_model_free(f);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) { return RUN_TESTS(test_header_of_a_model_file); }
