/* summary.c — `zen summary MODEL`: what a model file holds (format, the zen version that
 * wrote it, compile settings, class names, parameters, size, training state) and the
 * model's layer table (zen_model_summary). Exit status: 0, 1 when the file cannot be read
 * as a model, 2 for bad arguments. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *usage =
    "usage: zen summary MODEL.zen [--batch-size N]\n"
    "\n"
    "Prints what the model file holds (format, the zen version that wrote it, compile\n"
    "settings, class names, parameters, file size, whether it carries training state) and\n"
    "the model's layers, output shapes and parameters, with the training memory estimated\n"
    "for --batch-size N samples (default 32).\n";

/* 1234567 -> "1,234,567" */
static const char *grouped(long long v, char *buf, size_t n) {
    char digits[32];
    int len = snprintf(digits, sizeof digits, "%lld", v < 0 ? -v : v), at = 0;
    if (v < 0 && at + 1 < (int)n) buf[at++] = '-';
    for (int i = 0; i < len && at + 2 < (int)n; i++) {
        if (i && (len - i) % 3 == 0) buf[at++] = ',';
        buf[at++] = digits[i];
    }
    buf[at] = 0;
    return buf;
}

static const char *human_size(long long b, char *buf, size_t n) {
    if (b < 1024) snprintf(buf, n, "%lld bytes", b);
    else if (b < (1LL << 20)) snprintf(buf, n, "%.1f KiB", b / 1024.0);
    else snprintf(buf, n, "%.1f MiB", b / 1048576.0);
    return buf;
}

/* Is a header entry one of the model's weights ("<layer>/<weight>")? */
static bool is_weight(zen_model *m, const char *name) {
    for (int i = 0; i < zen_model_n_layers(m); i++) {
        zen_layer *l = zen_model_layer(m, i);
        size_t ln = strlen(zen_layer_name(l));
        if (strncmp(name, zen_layer_name(l), ln) || name[ln] != '/') continue;
        for (int w = 0; w < zen_layer_n_weights(l); w++) {
            const char *wn = NULL;
            zen_layer_weight(l, w, &wn, NULL);
            if (wn && !strcmp(name + ln + 1, wn)) return true;
        }
    }
    return false;
}

int cmd_summary(int argc, char **argv) {
    const char *path = NULL;
    long batch = 32;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) return fputs(usage, stdout), 0;
        else if (!strcmp(a, "--batch-size")) { if (!cli_int("summary", a, val, 1, 1 << 20, &batch)) return 2; i++; }
        else if (a[0] == '-' && a[1]) return fprintf(stderr, "zen summary: unknown or incomplete option '%s'\n%s", a, usage), 2;
        else if (!path) path = a;
        else return fprintf(stderr, "zen summary: one model file at a time ('%s' and '%s')\n", path, a), 2;
    }
    if (!path) return fprintf(stderr, "zen summary: needs a model file\n%s", usage), 2;

    long long size = 0;
    cJSON *h = cli_model_header("summary", path, &size);
    if (!h) return 1;
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = cli_load_model("summary", ctx, path);
    cJSON *comp = m ? cli_model_compile(h) : NULL;
    int rc = 1;
    if (!m) goto done;
    cJSON *meta = cJSON_GetObjectItem(h, "__metadata__");
    char b1[64], b2[64];
    printf("Model file: %s (%s)\n", path, human_size(size, b1, sizeof b1));
    const char *format = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "format"));
    const cJSON *fv = cJSON_GetObjectItem(meta, "format_version");
    printf("  format:         %s (safetensors with the spec in __metadata__)", format ? format : "(not recorded)");
    if (cJSON_IsString(fv)) printf(", format version %s", fv->valuestring);
    else if (cJSON_IsNumber(fv)) printf(", format version %g", fv->valuedouble);
    else printf(", no format version recorded");
    const char *zv = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "zen_version"));
    printf("\n  written by:     zen %s%s\n", zv ? zv : "(version not recorded)", zv && strcmp(zv, ZEN_VERSION) ? " (this is zen " ZEN_VERSION ")" : "");

    if (comp) {
        const cJSON *opt = cJSON_GetObjectItem(comp, "optimizer"), *it;
        char *ocfg = cJSON_PrintUnformatted(cJSON_GetObjectItem(opt, "config"));
        const char *ocls = cJSON_GetStringValue(cJSON_GetObjectItem(opt, "class_name"));
        printf("  compile:        loss %s, optimizer %s %s, metrics [",
               cJSON_GetStringValue(cJSON_GetObjectItem(comp, "loss")) ? cJSON_GetStringValue(cJSON_GetObjectItem(comp, "loss")) : "?",
               ocls ? ocls : "?", ocfg ? ocfg : "{}");
        int k = 0;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(comp, "metrics")) printf("%s%s", k++ ? ", " : "", cJSON_GetStringValue(it) ? it->valuestring : "?");
        printf("]\n");
        free(ocfg);
    } else {
        printf("  compile:        none (not compiled: zen eval reports accuracy from predictions only)\n");
    }
    int nc = zen_model_n_class_names(m);
    if (nc) {
        printf("  class names:    %d:", nc);
        for (int k = 0; k < nc && k < 20; k++) printf("%s %s", k ? "," : "", zen_model_class_name(m, k));
        printf("%s\n", nc > 20 ? ", ..." : "");
    } else {
        printf("  class names:    none (classes are shown as indices)\n");
    }
    printf("  parameters:     %s (%s trainable)\n", grouped(zen_model_n_params(m, false), b1, sizeof b1),
           grouped(zen_model_n_params(m, true), b2, sizeof b2));
    int64_t shape[ZEN_MAX_DIMS];
    char s[160];
    int nd = zen_model_input_shape(m, 0, shape);
    printf("  input:          %s", nd >= 0 ? cli_shape(s, sizeof s, nd, shape) : "?");
    nd = zen_model_output_shape(m, 0, shape);
    printf(", output %s\n", nd >= 0 ? cli_shape(s, sizeof s, nd, shape) : "?");

    /* Training state: a checkpoint's "optimizer_state" / "training_state" metadata and the
     * tensors beside the weights (optimizer slots, the sample order, the history). */
    int extra = 0, tensors = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, h) {
        if (!strcmp(e->string, "__metadata__")) continue;
        tensors++;
        extra += !is_weight(m, e->string);
    }
    char other[256] = "";
    static const char *const known[] = {"format", "format_version", "zen_version", "model", "compile", "seed",
                                        "class_names", "optimizer_state", "training_state"};
    cJSON_ArrayForEach(e, meta) {
        bool k = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++) k = k || !strcmp(e->string, known[i]);
        size_t at = strlen(other);
        if (!k && at + strlen(e->string) + 3 < sizeof other) snprintf(other + at, sizeof other - at, "%s%s", at ? ", " : "", e->string);
    }
    const char *seed = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "seed"));
    if (seed) printf("  build seed:     %s\n", seed);
    printf("  tensors:        %d (%d model weights%s)\n", tensors, tensors - extra, extra ? ", the rest training state" : "");
    if (other[0]) printf("  other metadata: %s\n", other);
    const char *ts_text = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "training_state"));
    const char *os_text = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "optimizer_state"));
    cJSON *ts = ts_text ? cJSON_Parse(ts_text) : NULL, *os = os_text ? cJSON_Parse(os_text) : NULL;
    if (ts || os || extra) {
        printf("  training state: yes, a checkpoint (zen train --resume continues it)\n");
        const cJSON *ep = cJSON_GetObjectItem(ts, "epoch"), *bs = cJSON_GetObjectItem(ts, "batch_size");
        const char *samples = cJSON_GetStringValue(cJSON_GetObjectItem(ts, "samples"));
        if (cJSON_IsNumber(ep))
            printf("                  after epoch %d, batch size %d, %s samples%s\n", ep->valueint,
                   cJSON_IsNumber(bs) ? bs->valueint : 0, samples ? samples : "?",
                   cJSON_IsTrue(cJSON_GetObjectItem(ts, "shuffle")) ? ", shuffled" : "");
        const char *ocls = cJSON_GetStringValue(cJSON_GetObjectItem(os, "class_name"));
        const char *iters = cJSON_GetStringValue(cJSON_GetObjectItem(os, "iterations"));
        if (ocls) printf("                  optimizer %s at iteration %s\n", ocls, iters ? iters : "?");
    } else {
        printf("  training state: none (weights%s only; training resumes with a fresh optimizer)\n", comp ? " and compile settings" : "");
    }
    cJSON_Delete(ts);
    cJSON_Delete(os);
    printf("\n");
    fflush(stdout);
    if (zen_model_summary(m, stdout, (int)batch) != 0) {
        fprintf(stderr, "zen summary: %s\n", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(comp);
    cJSON_Delete(h);
    zen_model_free(m);
    zen_ctx_free(ctx);
    return rc;
}
