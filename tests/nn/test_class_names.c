/* Class labels: set on a model, written into its spec and its model file, read back; bad
 * "class_names" in a spec are rejected with a message naming the key. */
#define _GNU_SOURCE
#include "harness.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static zen_model *tiny(zen_ctx *ctx) {
    zen_model *m = zen_model_new(ctx, "tiny");
    zen_model_input(m, 1, (int64_t[]){4});
    zen_model_add(m, zen_layer_dense(ctx, 3, "softmax"));
    CHECK(zen_model_build(m, 1) == 0);
    return m;
}

TEST(test_set_get_and_file_round_trip) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = tiny(ctx);
    CHECK(zen_model_n_class_names(m) == 0 && zen_model_class_name(m, 0) == NULL);
    const char *names[] = {"cat", "dog", "bird \"quoted\""};
    CHECK(zen_model_set_class_names(m, 3, names) == 0);
    CHECK(zen_model_n_class_names(m) == 3 && !strcmp(zen_model_class_name(m, 2), names[2]));
    CHECK(zen_model_class_name(m, 3) == NULL && zen_model_class_name(m, -1) == NULL);

    char *spec = zen_model_to_json(m);
    CHECK(spec && strstr(spec, "\"class_names\""));
    zen_model *again = zen_model_from_json(ctx, spec);
    CHECK_OK(ctx, again);
    CHECK(again && zen_model_n_class_names(again) == 3 && !strcmp(zen_model_class_name(again, 0), "cat"));
    free(spec);
    zen_model_free(again);

    char path[] = "/tmp/zen_class_names_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK(zen_model_save(m, path) == 0);
    zen_model *back = zen_model_load(ctx, path);
    CHECK_OK(ctx, back);
    CHECK(back && zen_model_n_class_names(back) == 3 && !strcmp(zen_model_class_name(back, 1), "dog"));
    unlink(path);
    zen_model_free(back);

    CHECK(zen_model_set_class_names(m, 0, NULL) == 0 && zen_model_n_class_names(m) == 0);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

TEST(test_bad_class_names) {
    zen_ctx *ctx = zen_ctx_new();
    const char *bad[] = {"[]", "\"cat\"", "[1, 2]", "[\"a\", null]"};
    for (int i = 0; i < 4; i++) {
        char spec[512];
        snprintf(spec, sizeof spec,
                 "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"Input\", \"config\": "
                 "{\"shape\": [4]}}, {\"class_name\": \"Dense\", \"config\": {\"units\": 2}}]}, \"class_names\": %s}",
                 bad[i]);
        zen_model *m = zen_model_from_json(ctx, spec);
        CHECK(m == NULL);
        CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "class_names must be a non-empty list of strings"));
        zen_ctx_clear_error(ctx);
    }
    zen_model *m = tiny(ctx);
    CHECK(zen_model_set_class_names(m, 2, (const char *[]){"a", NULL}) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "name 1 is NULL"));
    zen_ctx_clear_error(ctx);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) { return RUN_TESTS(test_set_get_and_file_round_trip, test_bad_class_names); }
