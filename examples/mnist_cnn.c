/* mnist_cnn.c — the reference example: the Keras program
 *
 *   model = Sequential([Input((28, 28, 1)),
 *                       Conv2D(32, (3, 3), activation="relu"), MaxPooling2D((2, 2)), Flatten(),
 *                       Dense(128, activation="relu"), Dense(10, activation="softmax")])
 *   model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
 *   model.fit(x_train, y_train, epochs=5, batch_size=64, validation_split=0.2)
 *   model.evaluate(x_test, y_test)
 *
 * written against zen's C API. Usage: mnist_cnn MNIST_DIR [EPOCHS] [MODEL_OUT]
 * (MNIST_DIR holds the four IDX files, plain or gzip). */
#include <stdio.h>
#include <stdlib.h>

#include "zen.h"

static int die(zen_ctx *ctx) {
    fprintf(stderr, "mnist_cnn: %s\n", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
    zen_ctx_free(ctx);
    return 1;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s MNIST_DIR [EPOCHS] [MODEL_OUT]\n", argv[0]);
        return 2;
    }
    int epochs = argc > 2 ? atoi(argv[2]) : 5;
    const char *out = argc > 3 ? argv[3] : "mnist_cnn.zen";
    zen_ctx *ctx = zen_ctx_new();

    /* Data: pixels scaled to [0, 1], labels one-hot (categorical_crossentropy). */
    zen_dataset *train, *test;
    if (zen_load_mnist(ctx, argv[1], ZEN_DATA_SCALE, &train, &test) != 0) return die(ctx);
    zen_array *onehot_train = zen_one_hot(ctx, train->y, 10), *onehot_test = zen_one_hot(ctx, test->y, 10);
    if (!onehot_train || !onehot_test) return die(ctx);
    zen_array_free(train->y), train->y = onehot_train;
    zen_array_free(test->y), test->y = onehot_test;

    /* Model */
    zen_model *m = zen_model_new(ctx, "mnist_cnn");
    zen_model_input(m, 3, (int64_t[]){28, 28, 1});
    zen_model_add(m, zen_layer_conv2d(ctx, 32, 3, 3, "relu"));
    zen_model_add(m, zen_layer_max_pooling2d(ctx, 2, 2));
    zen_model_add(m, zen_layer_flatten(ctx));
    zen_model_add(m, zen_layer_dense(ctx, 128, "relu"));
    zen_model_add(m, zen_layer_dense(ctx, 10, "softmax"));
    if (zen_model_build(m, 2) != 0) return die(ctx);
    zen_model_summary(m, stdout, 64);

    const char *metrics[] = {"accuracy"};
    if (zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "categorical_crossentropy", 1, metrics) != 0)
        return die(ctx);

    zen_fit_opts opts = zen_fit_defaults();
    opts.epochs = epochs;
    opts.batch_size = 64;
    opts.validation_split = 0.2f;
    opts.seed = 2;
    zen_history *h = zen_model_fit(m, train, &opts);
    if (!h) return die(ctx);

    zen_metrics r;
    if (zen_model_evaluate(m, test, 64, &r) != 0) return die(ctx);
    printf("test loss %.4f - test accuracy %.4f\n", zen_metrics_get(&r, "loss"), zen_metrics_get(&r, "accuracy"));
    if (zen_model_save(m, out) != 0) return die(ctx);
    printf("saved %s\n", out);

    zen_history_free(h);
    zen_model_free(m);
    zen_dataset_free(train);
    zen_dataset_free(test);
    zen_ctx_free(ctx);
    return 0;
}
