/* serve_model — makes what the `zen serve` tests need, in a moment and without data:
 *
 *   serve_model DIR [SPEC.json | --train MNIST_DIR]
 *
 * writes DIR/digits.zen (a small MNIST-shaped CNN, input (28, 28, 1), 10 softmax outputs
 * labelled "zero".."nine", seeded weights), DIR/plain.zen (a Dense model on (4,) with no
 * labels), DIR/tokens.zen (int32 token ids through an Embedding), DIR/x.npy (40 samples in [0, 1]) and
 * DIR/y.npy (zen_model_predict's outputs for them: what the server must answer).
 * With --train MNIST_DIR, digits.zen is trained a little on real MNIST first (the page test
 * then checks that a drawn "1" is read as one).
 * With SPEC.json (bench/serve_load.sh), it writes only DIR/<SPEC's file stem>.zen: that model
 * built with seeded, untrained weights (as fast to serve as a trained one). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zen.h"

static int fail(zen_ctx *ctx, const char *what) {
    fprintf(stderr, "serve_model: %s: %s\n", what, zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "?");
    return 1;
}

int main(int argc, char **argv) {
    bool train = argc == 4 && !strcmp(argv[2], "--train");
    if (argc != 2 && argc != 3 && !train) {
        fprintf(stderr, "usage: serve_model DIR [SPEC.json | --train MNIST_DIR]\n");
        return 2;
    }
    char path[1024];
    zen_ctx *ctx = zen_ctx_new();
    if (argc == 3) {
        FILE *f = fopen(argv[2], "rb");
        static char spec[1 << 16];
        size_t n = f ? fread(spec, 1, sizeof spec - 1, f) : 0;
        if (f) fclose(f);
        spec[n] = 0;
        zen_model *m = zen_model_from_json(ctx, spec);
        if (!m || zen_model_build(m, 1) != 0) return fail(ctx, argv[2]);
        const char *name = strrchr(argv[2], '/') ? strrchr(argv[2], '/') + 1 : argv[2];
        snprintf(path, sizeof path, "%s/%.*s.zen", argv[1], (int)(strcspn(name, ".")), name);
        if (zen_model_save(m, path) != 0) return fail(ctx, "save");
        zen_model_free(m);
        zen_ctx_free(ctx);
        return 0;
    }
    zen_model *m = zen_model_new(ctx, "digits");
    zen_model_input(m, 3, (int64_t[]){28, 28, 1});
    zen_model_add(m, zen_layer_conv2d(ctx, 4, 3, 3, "relu"));
    zen_model_add(m, zen_layer_max_pooling2d(ctx, 2, 2));
    zen_model_add(m, zen_layer_flatten(ctx));
    zen_model_add(m, zen_layer_dense(ctx, 10, "softmax"));
    if (zen_model_build(m, 7) != 0) return fail(ctx, "build");
    if (train) { /* 3 epochs on the first 6000 MNIST digits: a few seconds, ~95 % */
        zen_dataset *all = NULL, *test = NULL, *part;
        if (zen_load_mnist(ctx, argv[3], ZEN_DATA_SCALE, &all, &test) != 0) return fail(ctx, "MNIST");
        int64_t idx[6000];
        for (int i = 0; i < 6000; i++) idx[i] = i;
        part = zen_dataset_take(ctx, all, idx, 6000);
        if (zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "sparse_categorical_crossentropy", 1,
                              (const char *[]){"accuracy"}) != 0)
            return fail(ctx, "compile");
        zen_fit_opts fo = zen_fit_defaults();
        fo.epochs = 3;
        fo.verbose = 0;
        fo.seed = 1;
        zen_history *h = zen_model_fit(m, part, &fo);
        zen_metrics te;
        if (!h || zen_model_evaluate(m, test, 256, &te) != 0) return fail(ctx, "fit");
        printf("serve_model: digits trained on 6000 MNIST images: test accuracy %.4f\n", zen_metrics_get(&te, "accuracy"));
        zen_history_free(h);
        zen_dataset_free(all);
        zen_dataset_free(test);
        zen_dataset_free(part);
    }
    const char *names[10] = {"zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"};
    zen_model_set_class_names(m, 10, names);
    snprintf(path, sizeof path, "%s/digits.zen", argv[1]);
    if (zen_model_save(m, path) != 0) return fail(ctx, "save");

    /* samples: uniform in [0, 1] from a fixed LCG */
    enum { N = 40 };
    zen_array *x = zen_array_new(ctx, ZEN_F32, 4, (int64_t[]){N, 28, 28, 1});
    uint64_t s = 12345;
    for (int64_t i = 0; i < N * 784; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        ((float *)x->data)[i] = (float)((s >> 40) & 0xffff) / 65535.0f;
    }
    zen_array *y = zen_model_predict(m, x, 7); /* batches of 7 and a rest: not the server's sizes */
    if (!y) return fail(ctx, "predict");
    snprintf(path, sizeof path, "%s/x.npy", argv[1]);
    if (zen_save_npy_array(ctx, path, x) != 0) return fail(ctx, "x.npy");
    snprintf(path, sizeof path, "%s/y.npy", argv[1]);
    if (zen_save_npy_array(ctx, path, y) != 0) return fail(ctx, "y.npy");
    zen_array_free(x);
    zen_array_free(y);
    zen_model_free(m);

    zen_model *p = zen_model_new(ctx, "plain");
    zen_model_input(p, 1, (int64_t[]){4});
    zen_model_add(p, zen_layer_dense(ctx, 3, NULL));
    if (zen_model_build(p, 3) != 0) return fail(ctx, "build plain");
    snprintf(path, sizeof path, "%s/plain.zen", argv[1]);
    if (zen_model_save(p, path) != 0) return fail(ctx, "save plain");
    zen_model_free(p);

    /* tokens.zen: an int32 input (5 token ids < 10) through an Embedding */
    const char *tokens = "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"tokens\", \"layers\": ["
                         "{\"class_name\": \"Input\", \"config\": {\"shape\": [5], \"dtype\": \"int32\"}},"
                         "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 10, \"output_dim\": 3}},"
                         "{\"class_name\": \"Flatten\", \"config\": {}},"
                         "{\"class_name\": \"Dense\", \"config\": {\"units\": 2, \"activation\": \"softmax\"}}]}}";
    zen_model *t = zen_model_from_json(ctx, tokens);
    if (!t || zen_model_build(t, 5) != 0) return fail(ctx, "build tokens");
    snprintf(path, sizeof path, "%s/tokens.zen", argv[1]);
    if (zen_model_save(t, path) != 0) return fail(ctx, "save tokens");
    zen_model_free(t);
    zen_ctx_free(ctx);
    return 0;
}
