/* train.c — `zen train SPEC --data DATA [fit flags]`: builds the model of a JSON spec,
 * trains it as the spec's "compile" and "fit" sections say (flags override fit's values),
 * evaluates it on the test set, and saves it. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *usage =
    "usage: zen train SPEC.json --data DATA [options]\n"
    "\n"
    "  --data DATA              mnist, fashion-mnist, or a directory with the four MNIST-style IDX files;\n"
    "                           spam-assassin (e-mails as token ids, for an Embedding model: README)\n"
    "                           bible-kjv, moby-dick or a .txt file (a language model: train_lm.c)\n"
    "  --epochs N               (spec fit.epochs, else 1)\n"
    "  --batch-size N           (spec fit.batch_size, else 32)\n"
    "  --validation-split F     the last fraction of the training samples validates (spec, else 0)\n"
    "  --seed N                 weights, shuffling and dropout (spec fit.seed, else 0)\n"
    "  --no-shuffle             keep the sample order\n"
    "  --initial-epoch N        epoch to start at\n"
    "  --verbose N              0 silent, 1 progress bar, 2 one line per epoch (default: bar on a terminal)\n"
    "  --threads N              threads for the kernels (default: all cores)\n"
    "  --output PATH            the trained model (default: SPEC's name with .zen)\n"
    "  --history PATH           per-epoch logs as CSV\n"
    "  --plot PATH              training curves as SVG\n"
    "  --eval-every N           also the validation loss (and perplexity) every N steps (spec fit.eval_every)\n"
    "  --checkpoint PATH        write a checkpoint (model + optimizer and training state) after every epoch\n"
    "  --resume PATH            continue the run saved in checkpoint PATH (same spec and data): weights,\n"
    "                           optimizer state, epoch, seed, sample order and history come from it;\n"
    "                           --epochs is the total, as in the first run\n";

/* Reads fit defaults from the spec's "fit" object. */
static bool spec_fit(const cJSON *fit, zen_fit_opts *o) {
    if (!fit) return true;
    if (!cJSON_IsObject(fit)) return fprintf(stderr, "zen train: spec: \"fit\" must be an object\n"), false;
    const struct { const char *key; int *i; float *f; } fields[] = {
        {"epochs", &o->epochs, NULL}, {"batch_size", &o->batch_size, NULL}, {"initial_epoch", &o->initial_epoch, NULL},
        {"validation_split", NULL, &o->validation_split}, {"eval_every", &o->eval_every, NULL},
    };
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++) {
        cJSON *v = cJSON_GetObjectItem(fit, fields[k].key);
        if (!v) continue;
        if (!cJSON_IsNumber(v)) return fprintf(stderr, "zen train: spec: fit.%s must be a number\n", fields[k].key), false;
        if (fields[k].i) *fields[k].i = (int)v->valuedouble;
        else *fields[k].f = (float)v->valuedouble;
    }
    cJSON *v = cJSON_GetObjectItem(fit, "shuffle");
    if (v) o->shuffle = cJSON_IsTrue(v);
    v = cJSON_GetObjectItem(fit, "seed");
    if (cJSON_IsNumber(v)) o->seed = (uint64_t)v->valuedouble;
    return true;
}

/* Compiles from the spec's "compile": {"optimizer": "adam" | {"class_name", "config"},
 * "loss": ..., "metrics": [...]}. */
static int spec_compile(zen_ctx *ctx, zen_model *m, const cJSON *c) {
    if (!cJSON_IsObject(c)) return fprintf(stderr, "zen train: spec has no \"compile\" object (optimizer, loss, metrics)\n"), -1;
    const cJSON *opt = cJSON_GetObjectItem(c, "optimizer");
    const char *cls = cJSON_IsString(opt) ? opt->valuestring : cJSON_GetStringValue(cJSON_GetObjectItem(opt, "class_name"));
    char *cfg = cJSON_IsObject(opt) && cJSON_GetObjectItem(opt, "config")
                    ? cJSON_PrintUnformatted(cJSON_GetObjectItem(opt, "config")) : NULL;
    zen_optimizer *o = zen_optimizer_new(ctx, cls ? cls : "Adam", cfg);
    free(cfg);
    const char *loss = cJSON_GetStringValue(cJSON_GetObjectItem(c, "loss"));
    if (!loss) return fprintf(stderr, "zen train: spec: compile.loss must name a loss\n"), zen_optimizer_free(o), -1;
    const char *names[ZEN_MAX_METRICS];
    int n = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItem(c, "metrics")) {
        if (!cJSON_IsString(it) || n == ZEN_MAX_METRICS / 2 - 1)
            return fprintf(stderr, "zen train: spec: compile.metrics must be a list of names\n"), zen_optimizer_free(o), -1;
        names[n++] = it->valuestring;
    }
    return zen_model_compile(m, o, loss, n, names);
}

/* Class labels for the model file, unless the spec has "class_names": the digits for MNIST, the clothing names for Fashion-MNIST,
 * otherwise the label values the training set holds (0..max). */
static int set_class_names(zen_model *m, const char *data, const zen_dataset *train) {
    if (zen_model_n_class_names(m) > 0) return 0; /* the spec declared them: they win */
    static const char *const fashion[] = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    if (!strcmp(data, "fashion-mnist")) return zen_model_set_class_names(m, 10, fashion);
    int32_t top = -1;
    if (train->y->dtype == ZEN_I32)
        for (int64_t i = 0; i < train->n; i++) top = ((const int32_t *)train->y->data)[i] > top ? ((const int32_t *)train->y->data)[i] : top;
    if (top < 0 || top > 100000) return 0;
    char **names = calloc((size_t)top + 1, sizeof *names);
    int rc = names ? 0 : -1;
    for (int32_t i = 0; names && i <= top && !rc; i++)
        if (!(names[i] = malloc(12))) rc = -1;
        else snprintf(names[i], 12, "%d", (int)i);
    if (!rc) rc = zen_model_set_class_names(m, top + 1, (const char *const *)names);
    for (int32_t i = 0; names && i <= top; i++) free(names[i]);
    free(names);
    return rc;
}

/* MNIST images are [N, 28, 28, 1]; a model with a flat input gets them as [N, 784]. Labels
 * become one-hot for categorical losses. */
static bool fit_data_to_model(zen_ctx *ctx, zen_dataset *d, const char *loss, int in_ndim, int64_t input_numel) {
    if (in_ndim == 1 && input_numel == 784 && d->x->ndim == 4) {
        d->x->ndim = 2;
        d->x->shape[1] = 784;
    }
    if (strcmp(loss, "sparse_categorical_crossentropy")) {
        zen_array *onehot = zen_one_hot(ctx, d->y, 10);
        if (!onehot) return false;
        zen_array_free(d->y);
        d->y = onehot;
    }
    return true;
}

int cmd_train(int argc, char **argv) {
    const char *spec_path = NULL, *data = NULL, *output = NULL, *history = NULL, *plot = NULL, *checkpoint = NULL,
               *resume = NULL;
    zen_fit_opts o = zen_fit_defaults(), flags = {0};
    bool set_epochs = false, set_batch = false, set_split = false, set_seed = false, no_shuffle = false, set_initial = false;
    long v, threads = 0, verbose = -1, eval_every = -1;
    double f;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return fputs(usage, stdout), 0;
        else if (!strcmp(a, "--data") && val) data = argv[++i];
        else if (!strcmp(a, "--output") && val) output = argv[++i];
        else if (!strcmp(a, "--history") && val) history = argv[++i];
        else if (!strcmp(a, "--plot") && val) plot = argv[++i];
        else if (!strcmp(a, "--checkpoint") && val) checkpoint = argv[++i];
        else if (!strcmp(a, "--resume") && val) resume = argv[++i];
        else if (!strcmp(a, "--no-shuffle")) no_shuffle = true;
        else if (!strcmp(a, "--epochs")) { if (!cli_int("train", a, val, 0, 1000000, &v)) return 2; flags.epochs = (int)v, set_epochs = true, i++; }
        else if (!strcmp(a, "--batch-size")) { if (!cli_int("train", a, val, 1, 1 << 20, &v)) return 2; flags.batch_size = (int)v, set_batch = true, i++; }
        else if (!strcmp(a, "--initial-epoch")) { if (!cli_int("train", a, val, 0, 1000000, &v)) return 2; flags.initial_epoch = (int)v, set_initial = true, i++; }
        else if (!strcmp(a, "--seed")) { if (!cli_int("train", a, val, 0, 0x7fffffffL, &v)) return 2; flags.seed = (uint64_t)v, set_seed = true, i++; }
        else if (!strcmp(a, "--validation-split")) { if (!cli_float("train", a, val, 0, 0.99, &f)) return 2; flags.validation_split = (float)f, set_split = true, i++; }
        else if (!strcmp(a, "--verbose")) { if (!cli_int("train", a, val, 0, 2, &verbose)) return 2; i++; }
        else if (!strcmp(a, "--threads")) { if (!cli_int("train", a, val, 1, 1024, &threads)) return 2; i++; }
        else if (!strcmp(a, "--eval-every")) { if (!cli_int("train", a, val, 0, 1 << 30, &eval_every)) return 2; i++; }
        else if (a[0] == '-') return fprintf(stderr, "zen train: unknown or incomplete option '%s'\n%s", a, usage), 2;
        else if (!spec_path) spec_path = a;
        else return fprintf(stderr, "zen train: unexpected argument '%s'\n%s", a, usage), 2;
    }
    if (!spec_path || !data) return fprintf(stderr, "zen train: needs a spec and --data\n%s", usage), 2;
    char dirbuf[1024];
    const char *dir = cli_dataset_dir("train", data, dirbuf, sizeof dirbuf);
    if (!dir) return 1;
    char *text = cli_read_file("train", spec_path);
    if (!text) return 1;
    cJSON *spec = cJSON_Parse(text);
    if (!spec) {
        fprintf(stderr, "zen train: %s is not valid JSON (near '%.30s')\n", spec_path, cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : "");
        free(text);
        return 1;
    }

    int rc = 1;
    zen_ctx *ctx = zen_ctx_new();
    if (threads) zen_ctx_set_threads(ctx, (int)threads);
    zen_model *m = NULL;
    zen_dataset *train = NULL, *test = NULL;
    zen_history *h = NULL;
    zen_callback *csv = NULL;
    zen_tokenizer *vocab = NULL; /* --data spam-assassin: the vocabulary, saved beside the model */
    if (!spec_fit(cJSON_GetObjectItem(spec, "fit"), &o)) goto done;
    if (set_epochs) o.epochs = flags.epochs;
    if (set_batch) o.batch_size = flags.batch_size;
    if (set_split) o.validation_split = flags.validation_split;
    if (set_seed) o.seed = flags.seed;
    if (set_initial) o.initial_epoch = flags.initial_epoch;
    if (no_shuffle) o.shuffle = false;
    o.verbose = (int)verbose;
    if (eval_every >= 0) o.eval_every = (int)eval_every;
    o.plot_path = plot;
    o.checkpoint_path = checkpoint;
    o.resume_path = resume;

    m = zen_model_from_json(ctx, text);
    if (!m || zen_model_build(m, o.seed) != 0 || spec_compile(ctx, m, cJSON_GetObjectItem(spec, "compile")) != 0) goto fail;
    const char *loss = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(spec, "compile"), "loss"));
    /* Text for a language model (train_lm.c): windows of token ids, validated on the end of the text. */
    bool text_data = cli_is_lm_text(data);
    if (text_data) {
        int r = cli_lm_text_data(ctx, m, data, o.validation_split, &train, &test);
        if (r == -2) goto done; /* the message is printed */
        if (r != 0) goto fail;
        o.validation_split = 0;
        o.validation_data = test;
    } else if (!strcmp(data, "spam-assassin")) {
        if (cli_text_data(ctx, m, dir, loss, o.seed, &train, &test, &vocab) != 0) goto text_fail;
    } else {
        if (zen_load_mnist(ctx, dir, ZEN_DATA_SCALE, &train, &test) != 0) goto fail;
        if (set_class_names(m, data, train) != 0) goto fail; /* before one-hot: the labels as classes */
        int64_t in_shape[ZEN_MAX_DIMS], input_numel = 1;
        int in_ndim = zen_model_input_shape(m, 0, in_shape);
        for (int d = 0; d < in_ndim; d++) input_numel *= in_shape[d];
        if (!fit_data_to_model(ctx, train, loss, in_ndim, input_numel) ||
            !fit_data_to_model(ctx, test, loss, in_ndim, input_numel))
            goto fail;
    }
    if (o.verbose != 0) zen_model_summary(m, stdout, o.batch_size);
    zen_callback *cbs[1];
    int ncb = 0;
    if (history) {
        csv = zen_csv_logger(history);
        cbs[ncb++] = csv;
    }
    o.callbacks = cbs;
    o.ncallbacks = ncb;
    h = zen_model_fit(m, train, &o);
    if (!h) goto fail;
    if (zen_ctx_error(ctx)) goto fail; /* stopped by a NaN/Inf loss */
    zen_metrics r;
    if (zen_model_evaluate(m, test, o.batch_size, &r) != 0) goto fail;
    const char *set = text_data ? "validation" : "test";
    printf("%s loss: %.4f", text_data ? "Validation" : "Test", zen_metrics_get(&r, "loss"));
    for (int i = 1; i < r.n; i++) printf(" - %s %s: %.4f", set, r.names[i], r.values[i]);
    printf("\n");
    char outbuf[1024];
    if (!output) {
        const char *base = strrchr(spec_path, '/') ? strrchr(spec_path, '/') + 1 : spec_path;
        snprintf(outbuf, sizeof outbuf, "%.*s.zen", (int)(strcspn(base, ".")), base);
        output = outbuf;
    }
    if (vocab && cli_keep_vocab(ctx, m, vocab) != 0) goto fail; /* the file carries its vocabulary */
    if (zen_model_save(m, output) != 0) goto fail;
    printf("Saved the model%s to %s%s%s\n", vocab ? " and its vocabulary" : "", output, plot ? " and the curves to " : "",
           plot ? plot : "");
    rc = 0;
    goto done;
fail:
    fprintf(stderr, "zen train: %s\n", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
    goto done;
text_fail: /* cli_text_data printed its own message, or left one in ctx */
    if (zen_ctx_error(ctx)) fprintf(stderr, "zen train: %s\n", zen_ctx_error(ctx));
done:
    zen_tokenizer_free(vocab);
    zen_callback_free(csv);
    zen_history_free(h);
    zen_dataset_free(train);
    zen_dataset_free(test);
    zen_model_free(m);
    zen_ctx_free(ctx);
    cJSON_Delete(spec);
    free(text);
    return rc;
}
