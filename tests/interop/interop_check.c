/* interop_check — the zen side of tests/interop/interop_test.py.
 *
 *   interop_check predict MODEL.zen X.npy OUT.npy
 *       loads a model file (one the Python reference writer made), prints its class names
 *       ("class 0: cat", ...) and writes its predictions for X to OUT.
 *   interop_check save DIR
 *       trains a small CNN with BatchNormalization for 2 epochs (Adam, a checkpoint each
 *       epoch to DIR/ckpt.zen), sets class names and saves DIR/model.zen; then writes what
 *       the files must hold for the Python reader to check: DIR/expect.json (each tensor's
 *       name, dtype, shape and where its bytes are in DIR/expect.bin; the optimizer's
 *       iterations; the sample count) and DIR/x.npy, samples for `predict`. */
#include "train/train.h"
#include "zen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int predict(const char *model, const char *xpath, const char *out) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_load(ctx, model);
    zen_array *x = m ? zen_load_npy(ctx, xpath, ZEN_F32, 0) : NULL;
    zen_array *p = x ? zen_model_predict(m, x, 4) : NULL;
    int rc = p && zen_save_npy_array(ctx, out, p) == 0 ? 0 : 1;
    if (rc) fprintf(stderr, "interop_check: %s\n", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
    for (int i = 0; !rc && i < zen_model_n_class_names(m); i++) printf("class %d: %s\n", i, zen_model_class_name(m, i));
    zen_array_free(p);
    zen_array_free(x);
    zen_model_free(m);
    zen_ctx_free(ctx);
    return rc;
}

/* Appends a tensor's bytes to bin and its entry to the JSON list. */
static void expect_tensor(cJSON *list, FILE *bin, const char *name, const zen_tensor *t, const void *data) {
    cJSON *e = cJSON_CreateObject();
    cJSON_AddStringToObject(e, "name", name);
    cJSON_AddStringToObject(e, "dtype", "F32");
    cJSON *shape = cJSON_AddArrayToObject(e, "shape");
    for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
    cJSON_AddNumberToObject(e, "offset", (double)ftell(bin));
    cJSON_AddNumberToObject(e, "bytes", (double)zen_nbytes(t));
    fwrite(data, 1, zen_nbytes(t), bin);
    cJSON_AddItemToArray(list, e);
}

static int save(const char *dir) {
    char path[1024];
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "interop_cnn");
    zen_model_input(m, 3, (int64_t[]){6, 6, 1});
    zen_model_add(m, zen_layer_conv2d(ctx, 4, 3, 3, NULL));
    zen_model_add(m, zen_layer_new(ctx, "BatchNormalization", NULL));
    zen_model_add(m, zen_layer_new(ctx, "Activation", "{\"activation\": \"relu\"}"));
    zen_model_add(m, zen_layer_flatten(ctx));
    zen_model_add(m, zen_layer_dense(ctx, 3, "softmax"));
    const char *metrics[] = {"accuracy"};
    int rc = zen_model_build(m, 3) || zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL),
                                                        "sparse_categorical_crossentropy", 1, metrics);
    const char *names[] = {"circle", "square", "triangle"};
    rc = rc || zen_model_set_class_names(m, 3, names);
    zen_rng r;
    zen_rng_seed(&r, 11);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 4, (int64_t[]){24, 6, 6, 1}), *y = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){24});
    for (int64_t i = 0; x && i < zen_array_numel(x); i++) ((float *)x->data)[i] = zen_rng_uniform(&r);
    for (int i = 0; y && i < 24; i++) ((int32_t *)y->data)[i] = i % 3;
    zen_dataset *d = zen_dataset_new(ctx, x, y);
    snprintf(path, sizeof path, "%s/ckpt.zen", dir);
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = 2;
    o.batch_size = 5;
    o.verbose = 0;
    o.checkpoint_path = path;
    zen_history *h = rc ? NULL : zen_model_fit(m, d, &o);
    snprintf(path, sizeof path, "%s/model.zen", dir);
    rc = !h || zen_model_save(m, path);
    snprintf(path, sizeof path, "%s/x.npy", dir);
    rc = rc || zen_save_npy_array(ctx, path, d->x);
    if (rc) {
        fprintf(stderr, "interop_check: %s\n", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
    } else {
        snprintf(path, sizeof path, "%s/expect.bin", dir);
        FILE *bin = fopen(path, "wb");
        cJSON *root = cJSON_CreateObject(), *weights = cJSON_AddArrayToObject(root, "weights");
        cJSON *slots = cJSON_AddArrayToObject(root, "optimizer");
        for (int i = 0; i < zen_model_n_layers(m); i++) {
            zen_layer *l = zen_model_layer(m, i);
            for (int w = 0; w < zen_layer_n_weights(l); w++) {
                const char *wn;
                zen_tensor *t = zen_layer_weight(l, w, &wn, NULL);
                char name[200];
                snprintf(name, sizeof name, "%s/%s", zen_layer_name(l), wn);
                expect_tensor(weights, bin, name, t, t->data);
            }
        }
        zen_optimizer *opt = m->trainer->opt;
        for (int i = 0; i < opt->nparams; i++)
            for (int k = 0; k < zen__optimizer_nslots(opt); k++) {
                char name[200];
                snprintf(name, sizeof name, "optimizer/%s/%s", opt->params[i].param->name, zen__optimizer_slot_name(opt, k));
                expect_tensor(slots, bin, name, opt->params[i].param, opt->params[i].slot[k]);
            }
        fclose(bin);
        cJSON_AddNumberToObject(root, "iterations", (double)zen_optimizer_iterations(opt));
        cJSON_AddNumberToObject(root, "samples", 24);
        cJSON_AddNumberToObject(root, "epochs", 2);
        snprintf(path, sizeof path, "%s/expect.json", dir);
        FILE *f = fopen(path, "w");
        char *text = cJSON_Print(root);
        fputs(text, f);
        fclose(f);
        free(text);
        cJSON_Delete(root);
    }
    zen_history_free(h);
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
    return rc;
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "predict")) return predict(argv[2], argv[3], argv[4]);
    if (argc == 3 && !strcmp(argv[1], "save")) return save(argv[2]);
    fprintf(stderr, "usage: interop_check predict MODEL X.npy OUT.npy | save DIR\n");
    return 2;
}
