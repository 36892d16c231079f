/* model_io.c — what `zen predict`, `zen eval` and `zen summary` share: loading a model file
 * and reading its header facts, telling data files apart by their first bytes, loading
 * samples (IDX, NPY, CSV, images) and fitting them to the model's input shape. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <zlib.h>

#include "cli.h"

zen_model *cli_load_model(const char *cmd, zen_ctx *ctx, const char *path) {
    zen_model *m = zen_model_load(ctx, path);
    if (!m) {
        const char *e = zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed";
        if (!strncmp(e, "zen_model_load: ", 16)) e += 16;
        fprintf(stderr, "zen %s: cannot load the model: %s\n", cmd, e);
    }
    return m;
}

cJSON *cli_model_header(const char *cmd, const char *path, long long *file_size) {
    zen_ctx *ctx = zen_ctx_new();
    char *text = ctx ? zen_model_file_header(ctx, path) : NULL;
    cJSON *h = text ? cJSON_Parse(text) : NULL;
    free(text);
    if (!h) fprintf(stderr, "zen %s: %s: not a zen model file (%s)\n", cmd, path,
                    ctx && zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "out of memory");
    zen_ctx_free(ctx);
    struct stat st;
    if (h && file_size) *file_size = stat(path, &st) == 0 ? (long long)st.st_size : 0;
    return h;
}

cJSON *cli_model_compile(const cJSON *header) {
    const char *c = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(header, "__metadata__"), "compile"));
    return c ? cJSON_Parse(c) : NULL;
}

const char *cli_class_label(const zen_model *m, int64_t k, char *buf, size_t n) {
    const char *name = zen_model_class_name(m, (int)k);
    if (name) return name;
    snprintf(buf, n, "%lld", (long long)k);
    return buf;
}

/* The first bytes of a file, decompressed when it is gzip. */
static size_t peek(const char *path, unsigned char *buf, size_t n, bool *gzip) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    *gzip = got >= 2 && buf[0] == 0x1f && buf[1] == 0x8b;
    if (!*gzip) return got;
    gzFile g = gzopen(path, "rb");
    int r = g ? gzread(g, buf, (unsigned)n) : -1;
    if (g) gzclose(g);
    return r > 0 ? (size_t)r : 0;
}

cli_kind cli_sniff(const char *cmd, const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return fprintf(stderr, "zen %s: cannot open %s: %s\n", cmd, path, strerror(errno)), CLI_BAD;
    if (S_ISDIR(st.st_mode)) return CLI_DIR;
    unsigned char b[16];
    bool gz = false;
    size_t n = peek(path, b, sizeof b, &gz);
    if (!gz && zen_image_format(b, n)) return CLI_IMAGE;
    /* a name that promises an image but bytes that are not one: say so, rather than
     * reading it as CSV */
    const char *dot = strrchr(path, '.');
    if (dot && (!strcasecmp(dot, ".png") || !strcasecmp(dot, ".jpg") || !strcasecmp(dot, ".jpeg"))) {
        fprintf(stderr, "zen %s: %s is not a PNG or JPEG image (its first bytes are neither)\n", cmd, path);
        return CLI_BAD;
    }
    if (n >= 6 && !memcmp(b, "\x93NUMPY", 6)) return CLI_NPY;
    if (n >= 4 && b[0] == 0 && b[1] == 0 && strchr("\x08\x09\x0b\x0c\x0d\x0e", b[2]) && b[2] && b[3] >= 1 && b[3] <= 8)
        return CLI_IDX;
    return CLI_CSV;
}

const char *cli_kind_name(cli_kind k) {
    static const char *names[] = {"unreadable", "directory", "image", "IDX", "NPY", "CSV"};
    return names[k];
}

/* u8 data is scaled to [0, 1] as zen train scales MNIST; other types load as stored. The
 * loaders refuse ZEN_DATA_SCALE for non-u8 data before reading any values, so trying it
 * first costs nothing. */
static zen_array *load_scaled(zen_ctx *ctx, zen_array *(*load)(zen_ctx *, const char *, zen_dtype, int), const char *path,
                              bool scale) {
    if (scale) {
        zen_array *a = load(ctx, path, ZEN_F32, ZEN_DATA_SCALE);
        if (a) return a;
        zen_ctx_clear_error(ctx);
    }
    return load(ctx, path, ZEN_F32, 0);
}

/* f32 values that are all integers as i32 (token ids from a CSV); NULL and a message else. */
zen_array *cli_to_i32(const char *cmd, zen_ctx *ctx, const char *path, zen_array *f) {
    zen_array *a = f ? zen_array_new(ctx, ZEN_I32, f->ndim, f->shape) : NULL;
    for (int64_t i = 0; a && i < zen_array_numel(f); i++) {
        float v = ((const float *)f->data)[i];
        if (v != floorf(v) || fabsf(v) > 2147483520.0f) {
            fprintf(stderr, "zen %s: %s: value %g (number %lld) is not an integer; the model takes i32 inputs\n", cmd,
                    path, v, (long long)i);
            zen_array_free(a);
            a = NULL;
        } else {
            ((int32_t *)a->data)[i] = (int32_t)v;
        }
    }
    zen_array_free(f);
    return a;
}

zen_array *cli_load_samples(const char *cmd, zen_ctx *ctx, const char *path, cli_kind kind, const cli_data_opts *o) {
    zen_array *x = NULL;
    if (o->int_input && (kind == CLI_IDX || kind == CLI_NPY)) { /* token ids: as stored, no scaling */
        x = (kind == CLI_IDX ? zen_load_idx : zen_load_npy)(ctx, path, ZEN_I32, 0);
        if (!x) fprintf(stderr, "zen %s: %s (the model takes i32 inputs)\n", cmd, zen_ctx_error(ctx));
        return x;
    }
    if (kind == CLI_IDX) x = load_scaled(ctx, zen_load_idx, path, !o->no_scale);
    else if (kind == CLI_NPY) x = load_scaled(ctx, zen_load_npy, path, !o->no_scale);
    else if (kind == CLI_CSV) {
        /* zen_load_csv always splits off a label column: without one, take column 0 as the
         * "label" and put it back in front of the others. */
        zen_csv_opts c = o->csv;
        zen_dataset *d = zen_load_csv(ctx, path, c);
        if (d && !o->csv_has_label) {
            int64_t n = d->n, f = d->x->shape[1];
            x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){n, f + 1});
            for (int64_t i = 0; x && i < n; i++) {
                float *row = (float *)x->data + i * (f + 1);
                row[0] = ((float *)d->y->data)[i];
                memcpy(row + 1, (float *)d->x->data + i * f, (size_t)f * sizeof(float));
            }
        } else if (d) {
            x = d->x;
            d->x = NULL;
        }
        zen_dataset_free(d);
    } else {
        fprintf(stderr, "zen %s: %s is a %s, not a data file\n", cmd, path, cli_kind_name(kind));
        return NULL;
    }
    if (!x) fprintf(stderr, "zen %s: %s\n", cmd, zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "cannot load the data");
    else if (o->int_input) x = cli_to_i32(cmd, ctx, path, x);
    return x;
}

/* "(N, 8, 8, 1)" from a shape without its sample axis. */
static void shape_text(char *buf, size_t n, const char *first, int ndim, const int64_t *dims) {
    int at = snprintf(buf, n, "%s", first);
    for (int d = 0; d < ndim && at < (int)n; d++) at += snprintf(buf + at, n - (size_t)at, "%s%lld", at > 1 ? ", " : "", (long long)dims[d]);
    if (at < (int)n) snprintf(buf + at, n - (size_t)at, "%s)", ndim == 1 && !first[1] ? "," : "");
}

const char *cli_shape(char *buf, size_t n, int ndim, const int64_t *dims) {
    shape_text(buf, n, "(", ndim, dims);
    return buf;
}

int cli_fit_input(const char *cmd, zen_model *m, zen_array *x, const char *what) {
    int64_t in[ZEN_MAX_DIMS], per_in = 1, per_x = 1;
    int nd = zen_model_input_shape(m, 0, in);
    if (nd < 0) return fprintf(stderr, "zen %s: the model has no input\n", cmd), -1;
    for (int d = 0; d < nd; d++) per_in *= in[d];
    for (int d = 1; d < x->ndim; d++) per_x *= x->shape[d];
    bool same = x->ndim == nd + 1;
    for (int d = 0; same && d < nd; d++) same = x->shape[d + 1] == in[d];
    if (same) return 0;
    if (x->ndim >= 1 && per_x == per_in && x->ndim >= 2) {
        /* the same values per sample in another layout ([N, 28, 28] or [N, 784] for an input
         * (28, 28, 1)): row-major, so reshaping is free */
        x->ndim = nd + 1;
        memcpy(x->shape + 1, in, (size_t)nd * sizeof *in);
        return 0;
    }
    int64_t all = 1;
    for (int d = 0; d < x->ndim; d++) all *= x->shape[d];
    if (all == per_in && x->ndim == nd && nd < ZEN_MAX_DIMS) { /* one sample without a sample axis */
        x->shape[0] = 1;
        x->ndim = nd + 1;
        memcpy(x->shape + 1, in, (size_t)nd * sizeof *in);
        return 0;
    }
    char want[160], got[160];
    shape_text(want, sizeof want, "(N", nd, in);
    shape_text(got, sizeof got, "(", x->ndim, x->shape);
    fprintf(stderr, "zen %s: %s has shape %s, but the model takes inputs of shape %s (%lld values a sample, not %lld)\n",
            cmd, what, got, want, (long long)per_in, (long long)per_x);
    return -1;
}

const char *cli_dataset_dir(const char *cmd, const char *name, char *buf, size_t n) {
    if (strcmp(name, "mnist") && strcmp(name, "fashion-mnist") && strcmp(name, "spam-assassin")) return name;
    zen_ctx *ctx = zen_ctx_new(); /* only for zen_data_path's message */
    if (!ctx || zen_data_path(ctx, name, buf, n) != 0) {
        fprintf(stderr, "zen %s: %s\n", cmd, ctx && zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "out of memory");
        zen_ctx_free(ctx);
        return NULL;
    }
    zen_ctx_free(ctx);
    struct stat st;
    if (stat(buf, &st) != 0 && !strcmp(name, "fashion-mnist")) snprintf(buf, n, "/usr/share/datasets/fashion-mnist");
    if (stat(buf, &st) != 0) {
        fprintf(stderr, "zen %s: data set '%s' is not in %s; run scripts/fetch_data.sh %s\n", cmd, name, buf, name);
        return NULL;
    }
    return buf;
}

int cli_csv_flag(const char *cmd, int argc, char **argv, int *i, cli_data_opts *o) {
    const char *a = argv[*i], *val = *i + 1 < argc ? argv[*i + 1] : NULL;
    long v;
    if (!strcmp(a, "--header")) return o->csv.header = true, 1;
    if (!strcmp(a, "--no-scale")) return o->no_scale = true, 1;
    if (!strcmp(a, "--label-col")) {
        if (!cli_int(cmd, a, val, -100000, 100000, &v)) return -1;
        o->csv.label_col = (int)v, o->csv_has_label = true, ++*i;
        return 1;
    }
    if (!strcmp(a, "--label-name")) {
        if (!val || !*val) return fprintf(stderr, "zen %s: --label-name needs a column name\n", cmd), -1;
        o->csv.label_name = val, o->csv.header = true, o->csv_has_label = true, ++*i;
        return 1;
    }
    if (!strcmp(a, "--delimiter")) {
        if (!val || strlen(val) != 1 || val[0] == '"' || val[0] == '\n')
            return fprintf(stderr, "zen %s: --delimiter needs one character, got '%s'\n", cmd, val ? val : "(nothing)"), -1;
        o->csv.delimiter = val[0], ++*i;
        return 1;
    }
    return 0;
}
