/* Hostile model files: each damage of the container (frame, header JSON, dtypes, shapes,
 * offsets) and of the contents (spec, tensors, metadata) gives an error naming the file and
 * the problem, and never a crash or an out-of-bounds read (this test runs under ASan in the
 * sanitizer build). The files are written by hand here, around a tiny model: Input(2) ->
 * Dense(3) called "d" (d/kernel F32 [3, 2] at [0, 24), d/bias F32 [3] at [24, 36)). */
#define _GNU_SOURCE
#include "harness.h"
#include "train/train.h"

#include <string.h>
#include <unistd.h>

static char dir[256], path[512];
static char *spec_str; /* the spec as a JSON string literal, quotes included */

static void write_raw(const void *bytes, size_t n) {
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(bytes, 1, n, f) == n);
    if (f) fclose(f);
}

/* A file with the given header (SPEC replaced by the spec string), header length hlen
 * (-1: the real one) and ndata data bytes (a pattern). */
static void write_file(const char *header, long long hlen, size_t ndata) {
    char *h = malloc(strlen(header) + strlen(spec_str) + 1);
    const char *at = strstr(header, "SPEC");
    if (at) sprintf(h, "%.*s%s%s", (int)(at - header), header, spec_str, at + 4);
    else strcpy(h, header);
    size_t len = strlen(h);
    uint64_t L = hlen < 0 ? (uint64_t)len : (uint64_t)hlen;
    unsigned char *b = malloc(8 + len + ndata);
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(L >> (8 * i));
    memcpy(b + 8, h, len);
    for (size_t i = 0; i < ndata; i++) b[8 + len + i] = (unsigned char)(i * 7);
    write_raw(b, 8 + len + ndata);
    free(b);
    free(h);
}

static int checked;
static void expect(const char *needle) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_load(ctx, path);
    const char *e = zen_ctx_error(ctx);
    CHECK(m == NULL);
    if (!e || !strstr(e, needle) || !strstr(e, path)) {
        fprintf(stderr, "  expected an error naming the file and containing '%s', got '%s'\n", needle, e ? e : "(none)");
        harness_failures++;
    } else if (getenv("ZEN_TEST_VERBOSE")) {
        fprintf(stderr, "  %s\n", e + strlen("zen_model_load: ") + strlen(path) + 2);
    }
    checked++;
    zen_model_free(m);
    zen_ctx_free(ctx);
}

#define META "\"__metadata__\":{\"format\":\"zen\",\"model\":SPEC}"
#define KERNEL "\"d/kernel\":{\"dtype\":\"F32\",\"shape\":[3,2],\"data_offsets\":[0,24]}"
#define BIAS "\"d/bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,36]}"

TEST(test_good_file_loads) {
    write_file("{" META "," KERNEL "," BIAS "}", -1, 36);
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_load(ctx, path);
    CHECK_OK(ctx, m);
    /* weights come from the data bytes */
    zen_tensor *b = m ? zen_layer_weight(zen_model_layer(m, zen_model_n_layers(m) - 1), 1, NULL, NULL) : NULL;
    unsigned char want[12];
    for (int i = 0; i < 12; i++) want[i] = (unsigned char)((24 + i) * 7);
    CHECK(b && !memcmp(b->data, want, 12));
    zen_model_free(m);
    zen_ctx_free(ctx);
}

TEST(test_frame) {
    write_raw("\x10\0\0", 3);
    expect("the file is 3 bytes, too short to be a model file (truncated?)");
    write_file("{" META "," KERNEL "," BIAS "}", 1, 36);
    expect("header length 1 is too small for a JSON header");
    write_file("{" META "," KERNEL "," BIAS "}", 100000, 36);
    expect("header length 100000 is past the end of the file");
    write_file("{" META "," KERNEL "," BIAS "}", 0x7fffffffffffffffLL, 36);
    expect("header length 9223372036854775807 is larger than the limit of 100000000 bytes");
    write_file("{" META "," KERNEL "," BIAS "}", 40, 36); /* cuts the JSON */
    expect("the header is not valid JSON (error near byte");
    write_file("{" META "," KERNEL "," BIAS "}   ", -1, 36); /* space padding is allowed */
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_load(ctx, path);
    CHECK_OK(ctx, m);
    zen_model_free(m);
    zen_ctx_free(ctx);
    write_file("{" META "," KERNEL "," BIAS "}xx", -1, 36);
    expect("the header has data after its JSON object");
    write_file("[" META "]", -1, 0);
    expect("the header is not a JSON object (its first byte is 0x5b");
    write_file("{" META "," KERNEL "," BIAS, -1, 36);
    expect("the header is not valid JSON");
}

TEST(test_offsets) {
    write_file("{" META "," KERNEL "," BIAS "}", -1, 30); /* truncated data */
    expect("tensor 'd/bias' has data_offsets [24, 36] past the end of the 30 data bytes (truncated?)");
    write_file("{" META "," KERNEL "," BIAS "}", -1, 40);
    expect("data bytes [36, 40) at the end of the file belong to no tensor");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[20,32]}}", -1, 36);
    expect("tensors 'd/kernel' [0, 24] and 'd/bias' [20, 32] overlap");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[28,40]}}", -1, 40);
    expect("data bytes [24, 28) belong to no tensor (the offsets leave a gap before 'd/bias')");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[36,24]}}", -1, 36);
    expect("tensor 'd/bias' has data_offsets [36, 24] that end before they begin");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24,40]}}", -1, 40);
    expect("tensor 'd/bias' has data_offsets [24, 40] (16 bytes) but F32 [3] needs 12 bytes");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[-12,0]}}", -1, 36);
    expect("tensor 'd/bias' needs data_offsets [begin, end] of non-negative integers");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24.5,36.5]}}", -1, 36);
    expect("tensor 'd/bias' needs data_offsets [begin, end] of non-negative integers");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[18446744073709551604,"
               "18446744073709551616]}}", -1, 36);
    expect("tensor 'd/bias' needs data_offsets [begin, end] of non-negative integers");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[24]}}", -1, 36);
    expect("tensor 'd/bias' needs data_offsets [begin, end]");
}

TEST(test_entries) {
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F33\",\"shape\":[3],\"data_offsets\":[24,36]}}", -1, 36);
    expect("tensor 'd/bias' has unknown dtype 'F33'");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"shape\":[3],\"data_offsets\":[24,36]}}", -1, 36);
    expect("tensor 'd/bias' has no dtype");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"U8\",\"shape\":[9007199254740992,9007199254740992,4],"
               "\"data_offsets\":[24,36]}}", -1, 36);
    expect("tensor 'd/bias': shape [9007199254740992, 9007199254740992, 4] is too large (its byte size overflows 64 bits)");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F64\",\"shape\":[1099511627776],"
               "\"data_offsets\":[24,36]}}", -1, 36);
    expect("tensor 'd/bias' has data_offsets [24, 36] (12 bytes) but F64 [1099511627776] needs 8796093022208 bytes");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":[100000000000000000],"
               "\"data_offsets\":[24,36]}}", -1, 36);
    expect("tensor 'd/bias': shape must be a list of non-negative integers (dimension 0 is not)");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":[3,-1],\"data_offsets\":[24,36]}}", -1, 36);
    expect("tensor 'd/bias': shape must be a list of non-negative integers (dimension 1 is not)");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":3,\"data_offsets\":[24,36]}}", -1, 36);
    expect("tensor 'd/bias' has no shape list");
    write_file("{" META "," KERNEL ",\"d/bias\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,3],"
               "\"data_offsets\":[24,36]}}", -1, 36);
    expect("tensor 'd/bias' has 17 dimensions (at most 16)");
    write_file("{" META "," KERNEL ",\"d/bias\":[24,36]}", -1, 36);
    expect("tensor 'd/bias' is not a JSON object");
    write_file("{" META "," KERNEL "," BIAS "," BIAS "}", -1, 36);
    expect("tensor 'd/bias' appears twice in the header");
    write_file("{" META ",\"__metadata__\":{}," KERNEL "," BIAS "}", -1, 36);
    expect("__metadata__ appears twice in the header");
    write_file("{\"__metadata__\":{\"format\":\"zen\",\"model\":SPEC,\"epochs\":3}," KERNEL "," BIAS "}", -1, 36);
    expect("__metadata__ value 'epochs' is not a string");
    write_file("{\"__metadata__\":[]," KERNEL "," BIAS "}", -1, 36);
    expect("__metadata__ is not a JSON object");
}

TEST(test_contents) {
    write_file("{\"__metadata__\":{\"format\":\"gguf\",\"model\":SPEC}," KERNEL "," BIAS "}", -1, 36);
    expect("__metadata__ format is 'gguf', not 'zen' (not a zen model file)");
    write_file("{\"__metadata__\":{\"format\":\"zen\"}," KERNEL "," BIAS "}", -1, 36);
    expect("no model spec in __metadata__ (not a zen model file)");
    write_file("{" KERNEL "," BIAS "}", -1, 36);
    expect("no model spec in __metadata__ (not a zen model file)");
    write_file("{\"__metadata__\":{\"model\":\"{\\\"class_name\\\": \\\"Sequential\\\", \\\"config\\\": {\\\"layers\\\": "
               "[{\\\"class_name\\\": \\\"Input\\\", \\\"config\\\": {\\\"shape\\\": [2]}}, {\\\"class_name\\\": "
               "\\\"Dense\\\", \\\"name\\\": \\\"d\\\", \\\"config\\\": {\\\"units\\\": 0}}]}}\"}," KERNEL "," BIAS "}", -1, 36);
    expect("the model spec is invalid: Dense 'd': units must be positive");
    /* found by the fuzzer: spec errors whose message quotes the spec (read after free before) */
    write_file("{\"__metadata__\":{\"model\":\"{\\\"class_name\\\": \\\"Foo\\\", \\\"config\\\": {}}\"}," KERNEL
               "," BIAS "}", -1, 36);
    expect("model spec: class_name must be Sequential, Functional or Model, got 'Foo'");
    write_file("{\"__metadata__\":{\"model\":\"{\\\"class_name\\\": \\\"Functional\\\", \\\"config\\\": "
               "{\\\"layers\\\": [{\\\"class_name\\\": \\\"Input\\\", \\\"name\\\": \\\"in\\\", "
               "\\\"config\\\": {\\\"shape\\\": [2]}}], \\\"output_layers\\\": [\\\"nowhere\\\"]}}\"},"
               KERNEL "," BIAS "}", -1, 36);
    expect("model spec: output layer 'nowhere' is not defined");
    write_file("{\"__metadata__\":{\"model\":\"{\\\"class_name\\\": \\\"Sequential\\\", \\\"config\\\": "
               "{\\\"layers\\\": [{\\\"class_name\\\": \\\"Dense\\\", \\\"name\\\": \\\"twice\\\", "
               "\\\"reuse\\\": true}]}}\"}," KERNEL "," BIAS "}", -1, 36);
    expect("model spec: layers[0] reuses 'twice', which is not defined before it");
    write_file("{\"__metadata__\":{\"model\":\"{not json\"}," KERNEL "," BIAS "}", -1, 36);
    expect("the model spec is invalid");
    /* a spec whose weights need far more memory than the file holds is refused before any
     * allocation of that size */
    write_file("{\"__metadata__\":{\"model\":\"{\\\"class_name\\\": \\\"Sequential\\\", \\\"config\\\": {\\\"layers\\\": "
               "[{\\\"class_name\\\": \\\"Input\\\", \\\"config\\\": {\\\"shape\\\": [200000]}}, {\\\"class_name\\\": "
               "\\\"Dense\\\", \\\"name\\\": \\\"d\\\", \\\"config\\\": {\\\"units\\\": 900000}}]}}\"}," KERNEL "," BIAS "}",
               -1, 36);
    expect("the model spec is invalid: Dense 'd': weight kernel needs more bytes than the model file holds");
    write_file("{" META "," KERNEL "}", -1, 24);
    expect("tensor d/bias is missing");
    write_file("{" META "," KERNEL "," BIAS ",\"d/extra\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[36,40]}}", -1, 40);
    expect("tensor 'd/extra' is not part of the model (unexpected tensor)");
    write_file("{" META ",\"d/kernel\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}," BIAS "}", -1, 36);
    expect("tensor d/kernel must be F32 of shape [3, 2], the file has F32 of shape [2, 3]");
    write_file("{" META ",\"d/kernel\":{\"dtype\":\"I32\",\"shape\":[3,2],\"data_offsets\":[0,24]}," BIAS "}", -1, 36);
    expect("tensor d/kernel must be F32 of shape [3, 2], the file has I32 of shape [3, 2]");
    write_file("{\"__metadata__\":{\"model\":SPEC,\"class_names\":\"[1,2]\"}," KERNEL "," BIAS "}", -1, 36);
    expect("__metadata__ class_names must be a JSON array of non-empty strings");
    write_file("{\"__metadata__\":{\"model\":SPEC,\"seed\":\"-3\"}," KERNEL "," BIAS "}", -1, 36);
    expect("__metadata__ seed must be a decimal integer string");
    write_file("{\"__metadata__\":{\"model\":SPEC,\"compile\":\"[]\"}," KERNEL "," BIAS "}", -1, 36);
    expect("__metadata__ compile must be a JSON object with loss, metrics and optimizer");
    write_file("{\"__metadata__\":{\"model\":SPEC,\"compile\":\"{\\\"loss\\\":\\\"mse\\\",\\\"optimizer\\\":"
               "{\\\"class_name\\\":\\\"Adamm\\\"}}\"}," KERNEL "," BIAS "}", -1, 36);
    expect("the compile settings are invalid: zen_optimizer_new: unknown optimizer 'Adamm'");
    write_file("{\"__metadata__\":{\"model\":SPEC,\"compile\":\"{\\\"loss\\\":\\\"mse\\\",\\\"optimizer\\\":"
               "{\\\"class_name\\\":\\\"Adam\\\"}}\",\"optimizer_state\":\"{\\\"class_name\\\":\\\"SGD\\\"}\"},"
               KERNEL "," BIAS "}", -1, 36);
    expect("the optimizer state is for SGD, the model's optimizer is Adam");
    write_file("{\"__metadata__\":{\"model\":SPEC,\"compile\":\"{\\\"loss\\\":\\\"mse\\\",\\\"optimizer\\\":"
               "{\\\"class_name\\\":\\\"Adam\\\"}}\",\"optimizer_state\":\"{\\\"class_name\\\":\\\"Adam\\\","
               "\\\"iterations\\\":\\\"5\\\",\\\"initial_learning_rate\\\":\\\"0.001\\\",\\\"lr_scale\\\":\\\"1\\\","
               "\\\"params\\\":2,\\\"slots\\\":[\\\"m\\\",\\\"v\\\"]}\"}," KERNEL "," BIAS "}", -1, 36);
    expect("tensor optimizer/d/kernel/m is missing");
    write_file("{\"__metadata__\":{\"model\":SPEC,\"optimizer_state\":\"{}\"}," KERNEL "," BIAS "}", -1, 36);
    expect("__metadata__ has optimizer_state but no compile settings");
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/zen_hostile_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) return 2;
    snprintf(path, sizeof path, "%s/m.zen", dir);
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "tiny");
    zen_model_input(m, 1, (int64_t[]){2});
    zen_layer *d = zen_layer_new(ctx, "Dense", "{\"units\": 3, \"name\": \"d\"}");
    zen_model_add(m, d);
    if (zen_model_build(m, 0) != 0) return fprintf(stderr, "%s\n", zen_ctx_error(ctx)), 2;
    char *spec = zen_model_to_json(m);
    cJSON *s = cJSON_CreateString(spec);
    spec_str = cJSON_PrintUnformatted(s);
    cJSON_Delete(s);
    free(spec);
    zen_model_free(m);
    zen_ctx_free(ctx);
    int rc = RUN_TESTS(test_good_file_loads, test_frame, test_offsets, test_entries, test_contents);
    fprintf(stderr, "%d hostile files, each with its message\n", checked);
    free(spec_str);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
