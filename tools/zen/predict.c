/* predict.c — `zen predict MODEL INPUT...`: the model's classes for the samples of a data
 * file (IDX, NPY, CSV) or for image files (PNG, JPEG), as text, JSON or CSV, or the raw
 * outputs as NPY. Exit status: 0, 1 when a file cannot be read or does not fit the model,
 * 2 for bad arguments. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *usage =
    "usage: zen predict MODEL.zen INPUT... [options]\n"
    "\n"
    "INPUT is one data file — IDX (MNIST-style, e.g. t10k-images-idx3-ubyte), NPY or CSV, plain\n"
    "or gzip — or one or more PNG/JPEG images. The kind is told by the file's first bytes.\n"
    "u8 IDX/NPY data is scaled to [0, 1] as zen train scales MNIST. Images are converted to\n"
    "the model's channels (gray: luma; alpha composited over white), resized to its input\n"
    "height x width and scaled to [0, 1]; they are never inverted unless --invert is given\n"
    "(MNIST digits are light on dark: a dark digit on white paper needs --invert).\n"
    "\n"
    "  --top K                  show the K most likely classes (default 3, at most the classes)\n"
    "  --format text|json|csv   how to print the predictions (default text)\n"
    "  --output PATH.npy        write the raw model outputs [N, ...] as NPY (then nothing is\n"
    "                           printed unless --format is given)\n"
    "  --batch-size N           samples per forward pass (default 32)\n"
    "  --threads N              threads for the kernels (default: all cores)\n"
    "images:\n"
    "  --invert                 255 - v before scaling (dark drawings on light paper)\n"
    "  --filter auto|bilinear|area  resizing (default auto: area when shrinking, else bilinear)\n"
    "  --image-size WxH         the picture size of a flat input (default: a square one)\n"
    "  --no-scale               keep pixel (and u8 data) values 0..255 instead of [0, 1]\n"
    "data files:\n"
    "  --header                 the CSV's first row names its columns\n"
    "  --label-col N            the CSV has a label column N (0 first, -1 last), left out\n"
    "  --label-name NAME        ... or named NAME in the header\n"
    "  --delimiter C            CSV field separator (default ,)\n";

typedef enum { FMT_TEXT, FMT_JSON, FMT_CSV } out_format;

/* Class probabilities of one output row into p: the row itself when it is already a
 * distribution (a softmax output), else its softmax (logits). One value is a binary
 * classifier's p(class 1) (sigmoid applied unless it is in [0, 1]): p becomes {1 - p, p}.
 * Returns false when it had to transform the values. */
static bool row_probs(const float *row, int64_t c, double *p) {
    if (c == 1) {
        double v = row[0];
        bool prob = v >= 0 && v <= 1;
        if (!prob) v = 1 / (1 + exp(-v));
        p[0] = 1 - v, p[1] = v;
        return prob;
    }
    double sum = 0, mx = -INFINITY;
    bool dist = true;
    for (int64_t k = 0; k < c; k++) {
        dist = dist && row[k] >= 0 && row[k] <= 1;
        sum += row[k];
        mx = fmax(mx, row[k]);
    }
    if (dist && fabs(sum - 1) < 1e-3) {
        for (int64_t k = 0; k < c; k++) p[k] = row[k];
        return true;
    }
    sum = 0;
    for (int64_t k = 0; k < c; k++) sum += p[k] = exp(row[k] - mx);
    for (int64_t k = 0; k < c; k++) p[k] /= sum;
    return false;
}

/* The k best classes (highest first; ties: the lower index). */
static void top_k(const double *p, int64_t c, int k, int64_t *best) {
    for (int i = 0; i < k; i++) {
        int64_t b = -1;
        for (int64_t j = 0; j < c; j++) {
            bool taken = false;
            for (int t = 0; t < i; t++) taken = taken || best[t] == j;
            if (!taken && (b < 0 || p[j] > p[b])) b = j;
        }
        best[i] = b;
    }
}

static void csv_field(const char *s) {
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void print_predictions(zen_model *m, const zen_array *out, const char *const *names, out_format fmt, int top) {
    int64_t n = out->shape[0], c = out->shape[1], nc = c == 1 ? 2 : c;
    if (top > nc) top = (int)nc;
    double *p = malloc((size_t)nc * sizeof *p);
    int64_t *best = malloc((size_t)top * sizeof *best);
    if (!p || !best) {
        free(p), free(best);
        fprintf(stderr, "zen predict: out of memory\n");
        return;
    }
    /* column widths for text */
    int wname = 6, wlabel = 10;
    char buf[32], nbuf[32];
    for (int64_t i = 0; i < n; i++) {
        int l = names ? (int)strlen(names[i]) : snprintf(nbuf, sizeof nbuf, "%lld", (long long)i);
        if (l > wname) wname = l;
    }
    for (int64_t k = 0; k < nc; k++) {
        int l = (int)strlen(cli_class_label(m, k, buf, sizeof buf));
        if (l > wlabel) wlabel = l;
    }
    bool transformed = false;
    if (fmt == FMT_TEXT) {
        printf("%-*s  %-*s  %11s", wname, "sample", wlabel, "prediction", "probability");
        if (top > 1) printf("  top %d", top);
        printf("\n");
    } else if (fmt == FMT_CSV) {
        printf("sample,class,label,probability");
        for (int t = 1; t <= top; t++) printf(",top%d_class,top%d_label,top%d_probability", t, t, t);
        printf("\n");
    } else {
        printf("[\n");
    }
    for (int64_t i = 0; i < n; i++) {
        transformed |= !row_probs((const float *)out->data + i * c, c, p);
        top_k(p, nc, top, best);
        snprintf(nbuf, sizeof nbuf, "%lld", (long long)i);
        const char *sample = names ? names[i] : nbuf;
        if (fmt == FMT_TEXT) {
            printf("%-*s  %-*s  %11.4f", wname, sample, wlabel, cli_class_label(m, best[0], buf, sizeof buf), p[best[0]]);
            if (top > 1) {
                printf(" ");
                for (int t = 0; t < top; t++) printf(" %s %.4f", cli_class_label(m, best[t], buf, sizeof buf), p[best[t]]);
            }
            printf("\n");
        } else if (fmt == FMT_CSV) {
            csv_field(sample);
            printf(",%lld,", (long long)best[0]);
            csv_field(cli_class_label(m, best[0], buf, sizeof buf));
            printf(",%.6g", p[best[0]]);
            for (int t = 0; t < top; t++) {
                printf(",%lld,", (long long)best[t]);
                csv_field(cli_class_label(m, best[t], buf, sizeof buf));
                printf(",%.6g", p[best[t]]);
            }
            printf("\n");
        } else {
            cJSON *o = cJSON_CreateObject();
            if (names) cJSON_AddStringToObject(o, "sample", sample);
            else cJSON_AddNumberToObject(o, "sample", (double)i);
            cJSON_AddNumberToObject(o, "class", (double)best[0]);
            if (zen_model_class_name(m, (int)best[0])) cJSON_AddStringToObject(o, "label", zen_model_class_name(m, (int)best[0]));
            cJSON_AddNumberToObject(o, "probability", round(p[best[0]] * 1e6) / 1e6);
            cJSON *tops = cJSON_AddArrayToObject(o, "top");
            for (int t = 0; t < top; t++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddNumberToObject(e, "class", (double)best[t]);
                if (zen_model_class_name(m, (int)best[t])) cJSON_AddStringToObject(e, "label", zen_model_class_name(m, (int)best[t]));
                cJSON_AddNumberToObject(e, "probability", round(p[best[t]] * 1e6) / 1e6);
                cJSON_AddItemToArray(tops, e);
            }
            char *text = cJSON_PrintUnformatted(o);
            printf("  %s%s\n", text ? text : "{}", i + 1 < n ? "," : "");
            free(text);
            cJSON_Delete(o);
        }
    }
    if (fmt == FMT_JSON) printf("]\n");
    if (transformed)
        fprintf(stderr, "zen predict: note: the model's outputs are not probabilities (no softmax or sigmoid at "
                        "the end); shown after %s\n", c == 1 ? "a sigmoid" : "a softmax");
    free(p);
    free(best);
}

int cmd_predict(int argc, char **argv) {
    const char *model_path = NULL, *output = NULL;
    const char **inputs = calloc((size_t)argc, sizeof *inputs);
    int ninputs = 0;
    long batch = 32, top = 3, threads = 0;
    out_format fmt = FMT_TEXT;
    bool fmt_given = false;
    cli_data_opts data = {0};
    zen_image_input_opts img = {0};
    int rc = 2;
    if (!inputs) return 1;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int taken = cli_csv_flag("predict", argc, argv, &i, &data);
        if (taken < 0) goto out;
        if (taken) continue;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            rc = 0;
            goto out;
        } else if (!strcmp(a, "--batch-size")) {
            if (!cli_int("predict", a, val, 1, 1 << 20, &batch)) goto out;
            i++;
        } else if (!strcmp(a, "--top")) {
            if (!cli_int("predict", a, val, 1, 1000, &top)) goto out;
            i++;
        } else if (!strcmp(a, "--threads")) {
            if (!cli_int("predict", a, val, 1, 1024, &threads)) goto out;
            i++;
        } else if (!strcmp(a, "--output") || !strcmp(a, "-o")) {
            if (!val || !*val) {
                fprintf(stderr, "zen predict: %s needs a file name\n", a);
                goto out;
            }
            output = argv[++i];
        } else if (!strcmp(a, "--format")) {
            if (val && !strcmp(val, "text")) fmt = FMT_TEXT;
            else if (val && !strcmp(val, "json")) fmt = FMT_JSON;
            else if (val && !strcmp(val, "csv")) fmt = FMT_CSV;
            else {
                fprintf(stderr, "zen predict: --format needs text, json or csv, got '%s'\n", val ? val : "(nothing)");
                goto out;
            }
            fmt_given = true;
            i++;
        } else if (!strcmp(a, "--invert")) {
            img.invert = true;
        } else if (!strcmp(a, "--filter")) {
            if (val && !strcmp(val, "auto")) img.filter = ZEN_RESIZE_AUTO;
            else if (val && !strcmp(val, "bilinear")) img.filter = ZEN_RESIZE_BILINEAR;
            else if (val && !strcmp(val, "area")) img.filter = ZEN_RESIZE_AREA;
            else {
                fprintf(stderr, "zen predict: --filter needs auto, bilinear or area, got '%s'\n", val ? val : "(nothing)");
                goto out;
            }
            i++;
        } else if (!strcmp(a, "--image-size")) {
            int w = 0, h = 0, used = 0;
            if (!val || sscanf(val, "%dx%d%n", &w, &h, &used) != 2 || val[used] || w < 1 || h < 1 || w > 32768 || h > 32768) {
                fprintf(stderr, "zen predict: --image-size needs WIDTHxHEIGHT such as 28x28, got '%s'\n", val ? val : "(nothing)");
                goto out;
            }
            img.width = w, img.height = h;
            i++;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "zen predict: unknown or incomplete option '%s'\n%s", a, usage);
            goto out;
        } else if (!model_path) {
            model_path = a;
        } else {
            inputs[ninputs++] = a;
        }
    }
    if (!model_path || !ninputs) {
        fprintf(stderr, "zen predict: needs a model file and at least one input\n%s", usage);
        goto out;
    }
    if (data.csv.label_name && data.csv.label_col) {
        fprintf(stderr, "zen predict: give --label-col or --label-name, not both\n");
        goto out;
    }
    if (output && fmt_given && !strcmp(output, "-")) {
        fprintf(stderr, "zen predict: --output - would mix NPY bytes with the printed predictions\n");
        goto out;
    }
    /* every input is an image, or there is exactly one data file */
    cli_kind kind = CLI_BAD;
    for (int i = 0; i < ninputs; i++) {
        cli_kind k = cli_sniff("predict", inputs[i]);
        if (k == CLI_BAD) {
            rc = 1;
            goto out;
        }
        if (k == CLI_DIR) {
            fprintf(stderr, "zen predict: %s is a directory; give a data file or image files\n", inputs[i]);
            goto out;
        }
        if (i > 0 && (k != CLI_IMAGE || kind != CLI_IMAGE)) {
            fprintf(stderr, "zen predict: several inputs must all be images ('%s' is %s, '%s' is %s); give one data file "
                            "at a time\n", inputs[0], cli_kind_name(kind), inputs[i], cli_kind_name(k));
            goto out;
        }
        kind = k;
    }

    rc = 1;
    zen_ctx *ctx = zen_ctx_new();
    if (threads) zen_ctx_set_threads(ctx, (int)threads);
    zen_array *x = NULL, *y = NULL;
    zen_model *m = NULL;
    if (!(m = cli_load_model("predict", ctx, model_path))) goto done;
    data.int_input = zen_model_input_dtype(m, 0) == ZEN_I32;
    if (kind == CLI_IMAGE && data.int_input) {
        fprintf(stderr, "zen predict: the model takes integer inputs (token ids), not images\n");
        goto done;
    }
    int64_t in_shape[ZEN_MAX_DIMS], out_shape[ZEN_MAX_DIMS];
    int in_nd = zen_model_input_shape(m, 0, in_shape), out_nd = zen_model_output_shape(m, 0, out_shape);
    if (kind == CLI_IMAGE) {
        img.raw = data.no_scale;
        x = zen_image_load_batch(ctx, ninputs, inputs, in_nd, in_shape, &img);
        if (!x) {
            const char *e = zen_ctx_error(ctx);
            if (e && !strncmp(e, "zen_image_", 10) && strstr(e, ": ")) e = strstr(e, ": ") + 2; /* the function name */
            fprintf(stderr, "zen predict: %s\n", e ? e : "cannot read the images");
            goto done;
        }
    } else {
        if (img.invert || img.filter || img.width)
            fprintf(stderr, "zen predict: note: --invert, --filter and --image-size apply to images only\n");
        if (!(x = cli_load_samples("predict", ctx, inputs[0], kind, &data))) goto done;
        if (cli_fit_input("predict", m, x, inputs[0]) != 0) {
            int64_t per = 1, want = 1;
            for (int d = 1; d < x->ndim; d++) per *= x->shape[d];
            for (int d = 0; d < in_nd; d++) want *= in_shape[d];
            if (kind == CLI_CSV && !data.csv_has_label && per == want + 1)
                fprintf(stderr, "zen predict: (one column too many: if the CSV has a label column, name it with --label-col N)\n");
            goto done;
        }
    }
    y = zen_model_predict(m, x, (int)batch);
    if (!y) {
        fprintf(stderr, "zen predict: %s\n", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "prediction failed");
        goto done;
    }
    if (output) {
        if (zen_save_npy_array(ctx, output, y) != 0) {
            fprintf(stderr, "zen predict: %s\n", zen_ctx_error(ctx));
            goto done;
        }
        char s[160];
        fprintf(fmt_given ? stderr : stdout, "wrote the outputs of %lld sample%s, shape %s, to %s\n",
                (long long)y->shape[0], y->shape[0] == 1 ? "" : "s", cli_shape(s, sizeof s, y->ndim, y->shape), output);
    }
    if (!output || fmt_given) {
        if (out_nd != 1) {
            char s[160];
            fprintf(stderr, "zen predict: the model's output %s is not a vector of classes; write it with --output FILE.npy\n",
                    cli_shape(s, sizeof s, out_nd, out_shape));
            goto done;
        }
        print_predictions(m, y, kind == CLI_IMAGE ? inputs : NULL, fmt, (int)top);
    }
    rc = 0;
done:
    zen_array_free(x);
    zen_array_free(y);
    zen_model_free(m);
    zen_ctx_free(ctx);
out:
    free(inputs);
    return rc;
}
