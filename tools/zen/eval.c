/* eval.c — `zen eval MODEL DATA`: a model file on labelled data — its loss and compiled
 * metrics (zen_model_evaluate), accuracy, the confusion matrix and per-class precision,
 * recall and F1 (zen_confusion_*). Exit status: 0, 1 when a file cannot be read or does not
 * fit the model, 2 for bad arguments. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_PRINTED_CLASSES 40

static const char *usage =
    "usage: zen eval MODEL.zen DATA [options]\n"
    "\n"
    "DATA is one of\n"
    "  mnist, fashion-mnist, or a directory with MNIST-style IDX files: its test split (t10k-*)\n"
    "  an IDX or NPY file of samples, with --labels FILE (IDX or NPY) for their classes\n"
    "  a CSV file whose label column (--label-col, default 0) holds the classes\n"
    "u8 IDX/NPY samples are scaled to [0, 1] as zen train scales MNIST.\n"
    "\n"
    "  --labels FILE            the classes of an IDX/NPY sample file (i32 [N], or one-hot [N, C])\n"
    "  --batch-size N           samples per forward pass (default 32)\n"
    "  --confusion-csv PATH     also write the confusion matrix as CSV\n"
    "  --threads N              threads for the kernels (default: all cores)\n"
    "  --no-scale               keep u8 values 0..255\n"
    "  --header                 the CSV's first row names its columns\n"
    "  --label-col N            the CSV's label column (0 first, -1 last; default 0)\n"
    "  --label-name NAME        ... or the column named NAME in the header\n"
    "  --delimiter C            CSV field separator (default ,)\n";

/* Class labels as i32 [N]: i32 data of shape [N] or [N, 1], or one-hot f32 [N, C] (argmax). */
static zen_array *load_labels(zen_ctx *ctx, const char *path, cli_kind kind) {
    zen_array *(*load)(zen_ctx *, const char *, zen_dtype, int) = kind == CLI_IDX ? zen_load_idx : zen_load_npy;
    zen_array *y = load(ctx, path, ZEN_I32, 0);
    if (y) return y;
    char first[512];
    snprintf(first, sizeof first, "%s", zen_ctx_error(ctx));
    zen_ctx_clear_error(ctx);
    zen_array *f = load(ctx, path, ZEN_F32, 0);
    if (!f || f->ndim != 2 || f->shape[1] < 2) {
        zen_array_free(f);
        zen_ctx_clear_error(ctx);
        fprintf(stderr, "zen eval: %s\n", first);
        return NULL;
    }
    y = zen_array_new(ctx, ZEN_I32, 1, f->shape);
    for (int64_t i = 0; y && i < f->shape[0]; i++) {
        const float *r = (const float *)f->data + i * f->shape[1];
        int32_t b = 0;
        for (int32_t k = 1; k < f->shape[1]; k++)
            if (r[k] > r[b]) b = k;
        ((int32_t *)y->data)[i] = b;
    }
    zen_array_free(f);
    return y;
}

/* The targets zen_model_evaluate needs for the compiled loss, from class labels y [N]:
 * the labels for sparse losses, one-hot rows for C > 1 outputs, a 0/1 column for one. */
static zen_array *targets_for(zen_ctx *ctx, const char *loss, const zen_array *y, int64_t c) {
    if (!strcmp(loss, "sparse_categorical_crossentropy")) {
        zen_array *t = zen_array_new(ctx, ZEN_I32, 1, y->shape);
        if (t) memcpy(t->data, y->data, (size_t)y->shape[0] * 4);
        return t;
    }
    if (c > 1) return zen_one_hot(ctx, y, (int)c);
    zen_array *t = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){y->shape[0], 1});
    for (int64_t i = 0; t && i < y->shape[0]; i++) ((float *)t->data)[i] = (float)((const int32_t *)y->data)[i];
    return t;
}

static void print_matrix(zen_model *m, const zen_confusion *c) {
    char buf[32];
    int w = 6;
    for (int k = 0; k < c->n; k++) {
        int l = (int)strlen(cli_class_label(m, k, buf, sizeof buf));
        if (l > w) w = l;
    }
    int64_t most = 0;
    for (int64_t i = 0; i < (int64_t)c->n * c->n; i++) most = c->counts[i] > most ? c->counts[i] : most;
    int wc = snprintf(buf, sizeof buf, "%lld", (long long)most);
    printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%*s", w + 2, "");
    for (int p = 0; p < c->n; p++) {
        const char *name = cli_class_label(m, p, buf, sizeof buf);
        int l = (int)strlen(name);
        printf("  %*s", wc > l ? wc : l, name);
    }
    printf("\n");
    for (int t = 0; t < c->n; t++) {
        printf("  %*s", w, cli_class_label(m, t, buf, sizeof buf));
        for (int p = 0; p < c->n; p++) {
            char hb[32];
            int l = (int)strlen(cli_class_label(m, p, hb, sizeof hb));
            printf("  %*lld", wc > l ? wc : l, (long long)c->counts[(int64_t)t * c->n + p]);
        }
        printf("\n");
    }
}

static void print_report(zen_model *m, const zen_confusion *c) {
    char buf[32];
    int w = 12;
    for (int k = 0; k < c->n; k++) {
        int l = (int)strlen(cli_class_label(m, k, buf, sizeof buf));
        if (l > w) w = l;
    }
    printf("\n%*s  %9s  %9s  %9s  %9s\n", w + 2, "", "precision", "recall", "f1", "support");
    for (int k = 0; k < c->n; k++) {
        zen_class_stats s = zen_confusion_class(c, k);
        printf("  %*s  %9.4f  %9.4f  %9.4f  %9lld\n", w, cli_class_label(m, k, buf, sizeof buf), s.precision, s.recall, s.f1, (long long)s.support);
    }
    zen_class_stats a = zen_confusion_macro(c), b = zen_confusion_weighted(c);
    printf("\n  %*s  %9.4f  %9.4f  %9.4f  %9lld\n", w, "macro avg", a.precision, a.recall, a.f1, (long long)a.support);
    printf("  %*s  %9.4f  %9.4f  %9.4f  %9lld\n", w, "weighted avg", b.precision, b.recall, b.f1, (long long)b.support);
}

int cmd_eval(int argc, char **argv) {
    const char *model_path = NULL, *data_arg = NULL, *labels_path = NULL, *confusion_csv = NULL;
    long batch = 32, threads = 0;
    cli_data_opts data = {0};
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int taken = cli_csv_flag("eval", argc, argv, &i, &data);
        if (taken < 0) return 2;
        if (taken) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return fputs(usage, stdout), 0;
        else if (!strcmp(a, "--batch-size")) { if (!cli_int("eval", a, val, 1, 1 << 20, &batch)) return 2; i++; }
        else if (!strcmp(a, "--threads")) { if (!cli_int("eval", a, val, 1, 1024, &threads)) return 2; i++; }
        else if (!strcmp(a, "--labels") || !strcmp(a, "--confusion-csv")) {
            if (!val || !*val) return fprintf(stderr, "zen eval: %s needs a file name\n", a), 2;
            *(a[2] == 'l' ? &labels_path : &confusion_csv) = argv[++i];
        } else if (a[0] == '-' && a[1]) return fprintf(stderr, "zen eval: unknown or incomplete option '%s'\n%s", a, usage), 2;
        else if (!model_path) model_path = a;
        else if (!data_arg) data_arg = a;
        else return fprintf(stderr, "zen eval: unexpected argument '%s' (labels go with --labels)\n%s", a, usage), 2;
    }
    if (!model_path || !data_arg) return fprintf(stderr, "zen eval: needs a model file and DATA\n%s", usage), 2;
    if (data.csv.label_name && data.csv.label_col) return fprintf(stderr, "zen eval: give --label-col or --label-name, not both\n"), 2;

    /* what DATA is, before the (slower) model load */
    char dirbuf[1024];
    const char *dir = NULL;
    cli_kind kind = CLI_DIR, lkind = CLI_BAD;
    if (!strcmp(data_arg, "mnist") || !strcmp(data_arg, "fashion-mnist")) {
        if (!(dir = cli_dataset_dir("eval", data_arg, dirbuf, sizeof dirbuf))) return 1;
    } else {
        kind = cli_sniff("eval", data_arg);
        if (kind == CLI_BAD) return 1;
        if (kind == CLI_DIR) dir = data_arg;
    }
    if (kind == CLI_IMAGE) return fprintf(stderr, "zen eval: %s is an image; eval takes labelled data (zen predict reads images)\n", data_arg), 2;
    if ((kind == CLI_IDX || kind == CLI_NPY) && !labels_path)
        return fprintf(stderr, "zen eval: %s holds samples only; give their classes with --labels FILE\n", data_arg), 2;
    if ((kind == CLI_DIR || kind == CLI_CSV) && labels_path)
        return fprintf(stderr, "zen eval: --labels goes with an IDX or NPY sample file; %s has its labels\n", data_arg), 2;
    if (labels_path) {
        lkind = cli_sniff("eval", labels_path);
        if (lkind == CLI_BAD) return 1;
        if (lkind != CLI_IDX && lkind != CLI_NPY)
            return fprintf(stderr, "zen eval: the labels %s must be an IDX or NPY file, not %s\n", labels_path, cli_kind_name(lkind)), 2;
    }

    int rc = 1;
    zen_ctx *ctx = zen_ctx_new();
    if (threads) zen_ctx_set_threads(ctx, (int)threads);
    zen_model *m = NULL;
    zen_array *x = NULL, *y = NULL, *pred = NULL;
    zen_dataset *test = NULL;
    zen_confusion *conf = NULL;
    cJSON *header = NULL, *comp = NULL;
    if (!(m = cli_load_model("eval", ctx, model_path)) || !(header = cli_model_header("eval", model_path, NULL))) goto done;
    comp = cli_model_compile(header);
    data.int_input = zen_model_input_dtype(m, 0) == ZEN_I32;

    if (dir) {
        zen_dataset *train = NULL;
        if (zen_load_mnist(ctx, dir, data.no_scale ? 0 : ZEN_DATA_SCALE, &train, &test) != 0) {
            fprintf(stderr, "zen eval: %s\n", zen_ctx_error(ctx));
            goto done;
        }
        zen_dataset_free(train);
        x = test->x, y = test->y;
        test->x = test->y = NULL;
        zen_dataset_free(test);
        test = NULL;
    } else if (kind == CLI_CSV) {
        data.csv.label_dtype = ZEN_I32;
        zen_dataset *d = zen_load_csv(ctx, data_arg, data.csv);
        if (!d) {
            fprintf(stderr, "zen eval: %s\n", zen_ctx_error(ctx));
            goto done;
        }
        x = d->x, y = d->y;
        d->x = d->y = NULL;
        zen_dataset_free(d);
        if (data.int_input && !(x = cli_to_i32("eval", ctx, data_arg, x))) goto done;
    } else {
        if (!(x = cli_load_samples("eval", ctx, data_arg, kind, &data)) || !(y = load_labels(ctx, labels_path, lkind))) goto done;
    }
    if (y->ndim == 2 && y->shape[1] == 1) y->ndim = 1;
    if (y->ndim != 1 || y->shape[0] != x->shape[0]) {
        char s[160];
        fprintf(stderr, "zen eval: %lld samples but labels of shape %s (one class index per sample expected)\n",
                (long long)x->shape[0], cli_shape(s, sizeof s, y->ndim, y->shape));
        goto done;
    }
    if (cli_fit_input("eval", m, x, dir ? "the test images" : data_arg) != 0) goto done;
    int64_t out_shape[ZEN_MAX_DIMS];
    int out_nd = zen_model_output_shape(m, 0, out_shape);
    if (out_nd != 1) {
        char s[160];
        fprintf(stderr, "zen eval: the model's output %s is not a vector of classes\n", cli_shape(s, sizeof s, out_nd, out_shape));
        goto done;
    }
    int64_t c = out_shape[0], nclasses = c == 1 ? 2 : c;
    for (int64_t i = 0; i < y->shape[0]; i++) {
        int32_t v = ((const int32_t *)y->data)[i];
        if (v < 0 || v >= nclasses) {
            fprintf(stderr, "zen eval: the label of sample %lld is %d, but the model has %lld classes (0 to %lld)\n",
                    (long long)i, v, (long long)nclasses, (long long)nclasses - 1);
            goto done;
        }
    }
    if (!(pred = zen_model_predict(m, x, (int)batch))) {
        fprintf(stderr, "zen eval: %s\n", zen_ctx_error(ctx));
        goto done;
    }
    if (!(conf = zen_confusion_new(ctx, (int)nclasses)) || zen_confusion_add(ctx, conf, pred, y) != 0) {
        fprintf(stderr, "zen eval: %s\n", zen_ctx_error(ctx));
        goto done;
    }
    int64_t n = x->shape[0];
    printf("%s on %lld samples of %s%s\n", model_path, (long long)n, dir ? dir : data_arg, dir ? " (the test split)" : "");
    const char *loss = cJSON_GetStringValue(cJSON_GetObjectItem(comp, "loss"));
    if (loss) {
        zen_array *t = targets_for(ctx, loss, y, c);
        zen_metrics r;
        test = t ? zen_dataset_new(ctx, x, t) : NULL;
        x = NULL; /* owned by test now */
        if (!test || zen_model_evaluate(m, test, (int)batch, &r) != 0) {
            fprintf(stderr, "zen eval: %s\n", zen_ctx_error(ctx));
            goto done;
        }
        printf("%s: %.4f", loss, zen_metrics_get(&r, "loss"));
        for (int i = 1; i < r.n; i++) printf(" - %s: %.4f", r.names[i], r.values[i]);
        printf("\n");
    } else {
        printf("(the model file has no compile settings: no loss; the numbers below are from the predictions)\n");
    }
    int64_t right = 0;
    for (int k = 0; k < conf->n; k++) right += conf->counts[(int64_t)k * conf->n + k];
    printf("accuracy: %.4f (%lld of %lld right)\n", zen_confusion_accuracy(conf), (long long)right, (long long)n);
    if (conf->n <= MAX_PRINTED_CLASSES) print_matrix(m, conf);
    else printf("\n(%d classes: the confusion matrix is not printed%s)\n", conf->n, confusion_csv ? "" : "; write it with --confusion-csv PATH");
    print_report(m, conf);
    if (confusion_csv) {
        const char **names = NULL;
        if (zen_model_n_class_names(m) == conf->n) {
            names = calloc((size_t)conf->n, sizeof *names);
            for (int k = 0; names && k < conf->n; k++) names[k] = zen_model_class_name(m, k);
        }
        int w = zen_confusion_write_csv(ctx, conf, confusion_csv, names);
        free(names);
        if (w != 0) {
            fprintf(stderr, "zen eval: %s\n", zen_ctx_error(ctx));
            goto done;
        }
        printf("\nwrote the confusion matrix to %s\n", confusion_csv);
    }
    rc = 0;
done:
    zen_confusion_free(conf);
    zen_array_free(pred);
    zen_array_free(x);
    zen_array_free(y);
    zen_dataset_free(test);
    zen_model_free(m);
    cJSON_Delete(comp);
    cJSON_Delete(header);
    zen_ctx_free(ctx);
    return rc;
}
