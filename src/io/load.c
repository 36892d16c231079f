/* load.c — reading model files and checkpoints (save.c writes them; README.md, "The .zen
 * file format", describes them). The container is checked first (safetensors.c: frame,
 * JSON, dtypes, shapes, offsets), then the contents against the model the spec builds:
 * every weight present with its shape, no tensor left unexplained, compile settings,
 * class names and optimizer state well-formed. Everything is checked before anything is
 * copied, so a bad file changes nothing. */
#include "safetensors.h"
#include "../train/train.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Builds "<what>: <file>: <message>" in the context. */
static void *load_fail(zen_ctx *ctx, const char *what, const char *file, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void *load_fail(zen_ctx *ctx, const char *what, const char *file, const char *fmt, ...) {
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return zen__fail(ctx, "%s: %s: %s", what, file, msg);
}


static int read_whole(const char *path, unsigned char **buf, size_t *size, char *err, size_t n) {
    FILE *f = fopen(path, "rb");
    if (!f) return st_errorf(err, n, "cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        fclose(f);
        return st_errorf(err, n, "%s: not a regular file", path);
    }
    *size = (size_t)sb.st_size;
    *buf = malloc(*size ? *size : 1);
    if (!*buf || fread(*buf, 1, *size, f) != *size) {
        fclose(f);
        free(*buf);
        *buf = NULL;
        return st_errorf(err, n, "%s: read failed (%s)", path, *size ? "out of memory or I/O error" : "empty");
    }
    fclose(f);
    return 0;
}

char *zen_model_file_header(zen_ctx *ctx, const char *path) {
    if (!ctx || !path) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return zen__fail(ctx, "zen_model_file_header: cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    unsigned char len8[8];
    char *text = NULL;
    const char *why = NULL;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode)) why = "not a regular file";
    else if (sb.st_size < 8 || fread(len8, 1, 8, f) != 8) why = "too short to be a safetensors file";
    if (!why) {
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = n << 8 | len8[i];
        if (n > (uint64_t)sb.st_size - 8) why = "the header length is past the end of the file";
        else if (n > ST_MAX_HEADER) why = "the header is larger than 100 MB";
        else if (!(text = malloc(n + 1)) || fread(text, 1, n, f) != n) why = "read failed";
        else {
            text[n] = 0;
            cJSON *h = cJSON_ParseWithLength(text, n);
            if (!cJSON_IsObject(h)) why = "the header is not a JSON object";
            cJSON_Delete(h);
        }
    }
    fclose(f);
    if (why) {
        free(text);
        return zen__fail(ctx, "zen_model_file_header: %s: %s", path, why);
    }
    return text;
}

static const char *st_shape_text(const st_tensor *t, char *b, size_t n) {
    snprintf(b, n, "[");
    for (int d = 0; d < t->ndim && strlen(b) + 24 < n; d++)
        snprintf(b + strlen(b), n - strlen(b), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    snprintf(b + strlen(b), n - strlen(b), "]");
    return b;
}

/* The file's tensor `name` must be F32 with t's shape. Marks it used. */
static int check_like(const st_file *f, bool *used, const char *name, const zen_tensor *t, char *err, size_t n) {
    const st_tensor *s = st_find(f, name);
    if (!s) return st_errorf(err, n, "tensor %s is missing", name);
    used[s - f->tensors] = true;
    bool ok = s->dtype == ST_F32 && s->ndim == t->ndim;
    for (int d = 0; ok && d < t->ndim; d++) ok = s->shape[d] == t->shape[d];
    if (!ok) {
        char want[96], got[200];
        return st_errorf(err, n, "tensor %s must be F32 of shape %s, the file has %s of shape %s", name,
                       zen_shape_str(t, want, sizeof want), st_dtype_name(s->dtype), st_shape_text(s, got, sizeof got));
    }
    return 0;
}

static int check_weights(const zen_model *m, const st_file *f, bool *used, char *err, size_t n) {
    for (int i = 0; i < m->nlayers; i++)
        for (int w = 0; w < m->layers[i]->nweights; w++) {
            char name[200];
            snprintf(name, sizeof name, "%s/%s", m->layers[i]->name, m->layers[i]->weight_names[w]);
            if (check_like(f, used, name, m->layers[i]->weights[w], err, n) != 0) return -1;
        }
    return 0;
}

static void copy_weights(zen_model *m, const st_file *f) {
    for (int i = 0; i < m->nlayers; i++)
        for (int w = 0; w < m->layers[i]->nweights; w++) {
            char name[200];
            snprintf(name, sizeof name, "%s/%s", m->layers[i]->name, m->layers[i]->weight_names[w]);
            zen_tensor *t = m->layers[i]->weights[w];
            memcpy(t->data, st_find(f, name)->data, zen_nbytes(t));
        }
}

static bool parse_u64(const char *s, uint64_t *out) {
    if (!s || !*s || strlen(s) > 20) return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9') return false;
    errno = 0;
    unsigned long long v = strtoull(s, NULL, 10);
    if (errno) return false;
    *out = v;
    return true;
}

static bool parse_double(const char *s, double *out) {
    if (!s || !*s) return false;
    char *end;
    *out = strtod(s, &end);
    return *end == 0 && isfinite(*out);
}

/* The optimizer state of a checkpoint: checked against the compiled optimizer, and put in
 * place when apply is set (after everything else was checked). */
static int optimizer_state(zen_model *m, const st_file *f, bool *used, bool apply, char *err, size_t n) {
    cJSON *s = cJSON_Parse(st_meta(f, "optimizer_state"));
    zen_trainer *t = m->trainer;
    zen_optimizer *opt = t && t->opt ? t->opt : NULL;
    int rc = -1;
    if (!cJSON_IsObject(s)) {
        st_errorf(err, n, "__metadata__ optimizer_state is not a JSON object");
        goto out;
    }
    if (!opt) {
        st_errorf(err, n, "__metadata__ has optimizer_state but no compile settings");
        goto out;
    }
    const char *cls = cJSON_GetStringValue(cJSON_GetObjectItem(s, "class_name"));
    if (!cls || strcmp(cls, opt->type->class_name)) {
        st_errorf(err, n, "the optimizer state is for %.40s, the model's optimizer is %s", cls ? cls : "(no class_name)",
                opt->type->class_name);
        goto out;
    }
    uint64_t iterations;
    double initial, scale;
    cJSON *params = cJSON_GetObjectItem(s, "params"), *slots = cJSON_GetObjectItem(s, "slots");
    if (!parse_u64(cJSON_GetStringValue(cJSON_GetObjectItem(s, "iterations")), &iterations) || iterations > INT64_MAX ||
        !parse_double(cJSON_GetStringValue(cJSON_GetObjectItem(s, "initial_learning_rate")), &initial) ||
        !parse_double(cJSON_GetStringValue(cJSON_GetObjectItem(s, "lr_scale")), &scale) || !(scale > 0) ||
        !cJSON_IsNumber(params) || !cJSON_IsArray(slots)) {
        st_errorf(err, n, "__metadata__ optimizer_state needs iterations, initial_learning_rate, lr_scale (decimal "
                        "strings), params and slots");
        goto out;
    }
    if (params->valuedouble != 0 && params->valuedouble != t->nparams) {
        st_errorf(err, n, "the optimizer state covers %g parameters, the model has %d trainable weights",
                params->valuedouble, t->nparams);
        goto out;
    }
    int nslots = zen__optimizer_nslots(opt), k = 0;
    bool same = cJSON_GetArraySize(slots) == nslots;
    for (k = 0; same && k < nslots; k++) {
        const char *name = cJSON_GetStringValue(cJSON_GetArrayItem(slots, k));
        same = name && !strcmp(name, zen__optimizer_slot_name(opt, k));
    }
    if (!same) {
        char want[120] = "";
        for (k = 0; k < nslots; k++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", k ? ", " : "",
                     zen__optimizer_slot_name(opt, k));
        st_errorf(err, n, "the optimizer state has %d state arrays per weight, %s with this config has %d (%s)",
                cJSON_GetArraySize(slots), opt->type->class_name, nslots, want);
        goto out;
    }
    int np = (int)params->valuedouble;
    for (int i = 0; i < np; i++)
        for (k = 0; k < nslots; k++) {
            char name[200];
            snprintf(name, sizeof name, "optimizer/%s/%s", t->params[i]->name, zen__optimizer_slot_name(opt, k));
            if (check_like(f, used, name, t->params[i], err, n) != 0) goto out;
        }
    /* gradient_accumulation_steps: micro-steps and the accumulated gradients. */
    uint64_t micro = 0;
    if (opt->accum_steps) {
        if (!parse_u64(cJSON_GetStringValue(cJSON_GetObjectItem(s, "micro_steps")), &micro) || micro > INT64_MAX ||
            micro / (uint64_t)opt->accum_steps != iterations) {
            st_errorf(err, n, "the optimizer state needs micro_steps (a decimal string) consistent with iterations for "
                            "gradient_accumulation_steps %d", opt->accum_steps);
            goto out;
        }
        for (int i = 0; i < np; i++) {
            char name[200];
            snprintf(name, sizeof name, "optimizer/%s/accumulated_gradient", t->params[i]->name);
            if (check_like(f, used, name, t->params[i], err, n) != 0) goto out;
        }
    }
    if (apply) {
        if (np && zen__optimizer_bind(opt, t->nparams, t->params) != 0) {
            st_errorf(err, n, "%s", zen_ctx_error(m->ctx) ? zen_ctx_error(m->ctx) : "out of memory");
            goto out;
        }
        for (int i = 0; i < np; i++)
            for (k = 0; k < nslots; k++) {
                char name[200];
                snprintf(name, sizeof name, "optimizer/%s/%s", t->params[i]->name, zen__optimizer_slot_name(opt, k));
                memcpy(opt->params[i].slot[k], st_find(f, name)->data, zen_nbytes(t->params[i]));
            }
        for (int i = 0; opt->accum_steps && i < np; i++) {
            char name[200];
            snprintf(name, sizeof name, "optimizer/%s/accumulated_gradient", t->params[i]->name);
            memcpy(opt->params[i].accum, st_find(f, name)->data, zen_nbytes(t->params[i]));
        }
        opt->micro_steps = (int64_t)micro;
        opt->iterations = (int64_t)iterations;
        opt->schedule.initial = initial;
        opt->lr_scale = scale;
    }
    rc = 0;
out:
    cJSON_Delete(s);
    return rc;
}

/* Any tensor no check claimed is an error: the file is not what its metadata says. */
static int check_unexpected(const st_file *f, const bool *used, char *err, size_t n) {
    for (int i = 0; i < f->ntensors; i++)
        if (!used[i])
            return st_errorf(err, n, "tensor '%.100s' is not part of the model (unexpected tensor)", f->tensors[i].name);
    return 0;
}

static int read_class_names(zen_model *m, const st_file *f, char *err, size_t n) {
    const char *text = st_meta(f, "class_names");
    if (!text) return 0;
    cJSON *a = cJSON_Parse(text);
    int count = cJSON_GetArraySize(a), rc = 0;
    const char **names = cJSON_IsArray(a) ? malloc((size_t)(count ? count : 1) * sizeof *names) : NULL;
    for (int i = 0; names && i < count; i++) {
        names[i] = cJSON_GetStringValue(cJSON_GetArrayItem(a, i));
        if (!names[i] || !names[i][0]) {
            free(names);
            names = NULL;
        }
    }
    if (!names) rc = st_errorf(err, n, "__metadata__ class_names must be a JSON array of non-empty strings");
    else if (zen_model_set_class_names(m, count, names) != 0) rc = st_errorf(err, n, "%s", zen_ctx_error(m->ctx));
    free(names);
    cJSON_Delete(a);
    return rc;
}

static int compile_from(zen_model *m, const char *comp, char *err, size_t n) {
    zen_ctx *ctx = m->ctx;
    cJSON *c = cJSON_Parse(comp);
    cJSON *opt = cJSON_GetObjectItem(c, "optimizer");
    const char *cls = cJSON_GetStringValue(cJSON_GetObjectItem(opt, "class_name"));
    const char *loss = cJSON_GetStringValue(cJSON_GetObjectItem(c, "loss"));
    cJSON *metrics = cJSON_GetObjectItem(c, "metrics");
    if (!cJSON_IsObject(c) || !cls || !loss || (metrics && !cJSON_IsArray(metrics))) {
        cJSON_Delete(c);
        return st_errorf(err, n, "__metadata__ compile must be a JSON object with loss, metrics and optimizer "
                               "{class_name, config}");
    }
    char *ocfg = cJSON_GetObjectItem(opt, "config") ? cJSON_PrintUnformatted(cJSON_GetObjectItem(opt, "config")) : NULL;
    zen_optimizer *o = zen_optimizer_new(ctx, cls, ocfg);
    free(ocfg);
    const char *names[ZEN_MAX_METRICS];
    int nm = 0;
    bool names_ok = true;
    cJSON *it;
    cJSON_ArrayForEach(it, metrics) {
        if (!cJSON_IsString(it) || nm == ZEN_MAX_METRICS) names_ok = false;
        else names[nm++] = it->valuestring;
    }
    int rc = 0;
    if (!names_ok) {
        zen_optimizer_free(o);
        rc = st_errorf(err, n, "__metadata__ compile: metrics must be a list of at most %d names", ZEN_MAX_METRICS);
    } else if (zen_model_compile(m, o, loss, nm, names) != 0) {
        rc = st_errorf(err, n, "the compile settings are invalid: %s", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "?");
        zen_ctx_clear_error(ctx);
    }
    cJSON_Delete(c);
    return rc;
}

zen_model *zen__model_load_mem(zen_ctx *ctx, const unsigned char *buf, size_t size, const char *name) {
    const char *W = "zen_model_load";
    st_file f;
    char err[900];
    if (st_parse(buf, size, &f, err, sizeof err) != 0) return load_fail(ctx, W, name, "%s", err);
    zen_model *m = NULL;
    bool *used = calloc((size_t)(f.ntensors ? f.ntensors : 1), sizeof *used);
    const char *format = st_meta(&f, "format"), *spec = st_meta(&f, "model");
    if (!used) {
        load_fail(ctx, W, name, "out of memory");
        goto fail;
    }
    if (format && strcmp(format, "zen")) {
        load_fail(ctx, W, name, "__metadata__ format is '%.40s', not 'zen' (not a zen model file)", format);
        goto fail;
    }
    if (!spec) {
        load_fail(ctx, W, name, "no model spec in __metadata__ (not a zen model file)");
        goto fail;
    }
    uint64_t seed = 0;
    if (st_meta(&f, "seed") && !parse_u64(st_meta(&f, "seed"), &seed)) {
        load_fail(ctx, W, name, "__metadata__ seed must be a decimal integer string");
        goto fail;
    }
    m = zen_model_from_json(ctx, spec);
    /* the weights must come from the file: a spec asking for far more is refused before it
     * allocates (the slack keeps "tensor ... is missing" the error for small models) */
    if (m) m->weight_budget = (int64_t)f.data_size + (64 << 20) + 1;
    if (!m || zen_model_build(m, seed) != 0) {
        snprintf(err, sizeof err, "%s", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "?");
        zen_ctx_clear_error(ctx);
        load_fail(ctx, W, name, "the model spec is invalid: %s", err);
        goto fail;
    }
    m->weight_budget = 0;
    const char *comp = st_meta(&f, "compile");
    if (check_weights(m, &f, used, err, sizeof err) != 0 || (comp && compile_from(m, comp, err, sizeof err) != 0) ||
        read_class_names(m, &f, err, sizeof err) != 0 ||
        (st_meta(&f, "optimizer_state") && optimizer_state(m, &f, used, false, err, sizeof err) != 0))
        goto fail_err;
    /* a checkpoint's training state is for zen_model_fit's resume_path, not checked here */
    const st_tensor *order = st_find(&f, "training/order"), *hist = st_find(&f, "training/history");
    if (st_meta(&f, "training_state")) {
        if (order) used[order - f.tensors] = true;
        if (hist) used[hist - f.tensors] = true;
    }
    if (st_meta(&f, "callbacks_state")) /* EarlyStopping's best weights: checked on resume */
        for (int i = 0; i < f.ntensors; i++)
            if (!strncmp(f.tensors[i].name, "callbacks/", 10)) used[i] = true;
    if (check_unexpected(&f, used, err, sizeof err) != 0) goto fail_err;
    copy_weights(m, &f);
    if (st_meta(&f, "optimizer_state") && optimizer_state(m, &f, used, true, err, sizeof err) != 0) goto fail_err;
    free(used);
    st_free(&f);
    return m;
fail_err:
    load_fail(ctx, W, name, "%s", err);
fail:
    zen_model_free(m);
    free(used);
    st_free(&f);
    return NULL;
}

zen_model *zen_model_load(zen_ctx *ctx, const char *path) {
    if (!ctx) return NULL;
    if (!path) return zen__fail(ctx, "zen_model_load: path is NULL");
    unsigned char *buf;
    size_t size;
    char err[600];
    if (read_whole(path, &buf, &size, err, sizeof err) != 0) return zen__fail(ctx, "zen_model_load: %s", err);
    zen_model *m = zen__model_load_mem(ctx, buf, size, path);
    free(buf);
    return m;
}

/* ---- checkpoints: resuming a fit ---- */

/* The training state of a checkpoint: checked, and copied into ts when ts is set. */
static int training_state(const st_file *f, bool *used, int64_t n, zen_train_state *ts, char *err, size_t en) {
    cJSON *s = cJSON_Parse(st_meta(f, "training_state"));
    int rc = -1;
    cJSON *epoch = cJSON_GetObjectItem(s, "epoch"), *first = cJSON_GetObjectItem(s, "first_epoch");
    cJSON *batch = cJSON_GetObjectItem(s, "batch_size"), *shuffle = cJSON_GetObjectItem(s, "shuffle");
    cJSON *rng = cJSON_GetObjectItem(s, "rng"), *names = cJSON_GetObjectItem(s, "history");
    uint64_t seed, samples, state[4] = {0};
    bool ok = cJSON_IsObject(s) && cJSON_IsNumber(epoch) && epoch->valuedouble >= 0 && epoch->valuedouble <= 1e9 &&
              epoch->valuedouble == floor(epoch->valuedouble) && cJSON_IsNumber(first) && first->valuedouble >= 0 &&
              first->valuedouble <= epoch->valuedouble && first->valuedouble == floor(first->valuedouble) &&
              cJSON_IsNumber(batch) && batch->valuedouble >= 1 && batch->valuedouble <= 1 << 30 && cJSON_IsBool(shuffle) &&
              parse_u64(cJSON_GetStringValue(cJSON_GetObjectItem(s, "seed")), &seed) &&
              parse_u64(cJSON_GetStringValue(cJSON_GetObjectItem(s, "samples")), &samples) && cJSON_IsArray(rng) &&
              cJSON_GetArraySize(rng) == 4 && cJSON_IsArray(names) && cJSON_GetArraySize(names) <= ZEN_MAX_METRICS;
    for (int i = 0; ok && i < 4; i++) ok = parse_u64(cJSON_GetStringValue(cJSON_GetArrayItem(rng, i)), &state[i]);
    for (int i = 0; ok && i < cJSON_GetArraySize(names); i++) {
        const char *nm = cJSON_GetStringValue(cJSON_GetArrayItem(names, i));
        ok = nm && strlen(nm) < sizeof ts->history->logs[0].names[0];
    }
    if (!ok) {
        st_errorf(err, en, "__metadata__ training_state needs epoch, first_epoch, batch_size, shuffle, seed, samples, "
                         "rng (4 decimal strings) and history (a list of at most %d names)", ZEN_MAX_METRICS);
        goto out;
    }
    if ((int64_t)samples != n) {
        st_errorf(err, en, "the checkpoint's sample order covers %llu training samples, this fit has %lld",
                (unsigned long long)samples, (long long)n);
        goto out;
    }
    const st_tensor *order = st_find(f, "training/order");
    if (!order || order->dtype != ST_I64 || order->ndim != 1 || order->shape[0] != n) {
        st_errorf(err, en, "tensor training/order must be I64 of shape [%lld]", (long long)n);
        goto out;
    }
    used[order - f->tensors] = true;
    /* a permutation of 0..n-1, or batches would read outside the data */
    unsigned char *seen = calloc((size_t)(n ? n : 1), 1);
    if (!seen) {
        st_errorf(err, en, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n && ok; i++) {
        int64_t v;
        memcpy(&v, order->data + 8 * i, 8);
        ok = v >= 0 && v < n && !seen[v];
        if (ok) seen[v] = 1;
    }
    free(seen);
    if (!ok) {
        st_errorf(err, en, "tensor training/order is not a permutation of the %lld sample indices", (long long)n);
        goto out;
    }
    int cols = cJSON_GetArraySize(names), rows = 0;
    const st_tensor *hist = st_find(f, "training/history");
    if (hist) {
        if (hist->dtype != ST_F64 || hist->ndim != 2 || hist->shape[1] != cols ||
            hist->shape[0] != (int64_t)(epoch->valuedouble - first->valuedouble)) {
            st_errorf(err, en, "tensor training/history must be F64 of shape [%d, %d] (epochs %g to %g, %d logs)",
                    (int)(epoch->valuedouble - first->valuedouble), cols, first->valuedouble, epoch->valuedouble, cols);
            goto out;
        }
        used[hist - f->tensors] = true;
        rows = (int)hist->shape[0];
    } else if (cols && epoch->valuedouble > first->valuedouble) {
        st_errorf(err, en, "tensor training/history is missing");
        goto out;
    }
    if (ts) {
        memset(ts, 0, sizeof *ts);
        ts->epoch = (int)epoch->valuedouble;
        ts->seed = seed;
        ts->shuffle = cJSON_IsTrue(shuffle);
        ts->batch_size = (int)batch->valuedouble;
        memcpy(ts->rng.s, state, sizeof state);
        ts->n = n;
        ts->order = malloc((size_t)(n ? n : 1) * sizeof *ts->order);
        ts->history = calloc(1, sizeof *ts->history);
        if (ts->history) ts->history->logs = calloc((size_t)(rows ? rows : 1), sizeof *ts->history->logs);
        if (!ts->order || !ts->history || !ts->history->logs) {
            free(ts->order);
            zen_history_free(ts->history);
            st_errorf(err, en, "out of memory");
            goto out;
        }
        memcpy(ts->order, order->data, (size_t)n * 8);
        ts->history->first_epoch = (int)first->valuedouble;
        ts->history->epochs = rows;
        for (int r = 0; r < rows; r++) {
            zen_metrics *row = &ts->history->logs[r];
            row->n = cols;
            for (int c = 0; c < cols; c++) {
                snprintf(row->names[c], sizeof row->names[c], "%s", cJSON_GetArrayItem(names, c)->valuestring);
                memcpy(&row->values[c], hist->data + 8 * ((size_t)r * (size_t)cols + (size_t)c), 8);
            }
        }
    }
    rc = 0;
out:
    cJSON_Delete(s);
    return rc;
}

void zen__train_state_clear(zen_train_state *ts) {
    free(ts->order);
    zen_history_free(ts->history);
    cJSON_Delete(ts->cb_state);
    free(ts->cb_entry);
    for (int i = 0; ts->cb_best && i < ts->ncb; i++) free(ts->cb_best[i]);
    free(ts->cb_best);
    memset(ts, 0, sizeof *ts);
}

/* One callback's best weights, "callbacks/<i>/best/<layer>/<weight>", into a new buffer in
 * zen__weights_snapshot's order. */
static float *callback_best(const zen_model *m, const st_file *f, bool *used, int i, char *err, size_t en) {
    int64_t total = 0;
    for (int l = 0; l < m->nlayers; l++)
        for (int k = 0; k < m->layers[l]->nweights; k++) total += zen_numel(m->layers[l]->weights[k]);
    float *buf = malloc((size_t)(total ? total : 1) * sizeof *buf), *p = buf;
    if (!buf) return st_errorf(err, en, "out of memory"), NULL;
    for (int l = 0; l < m->nlayers; l++)
        for (int k = 0; k < m->layers[l]->nweights; k++) {
            const zen_tensor *w = m->layers[l]->weights[k];
            char name[200];
            snprintf(name, sizeof name, "callbacks/%d/best/%s/%s", i, m->layers[l]->name, m->layers[l]->weight_names[k]);
            const st_tensor *t = st_find(f, name);
            bool ok = t && t->dtype == ST_F32 && t->ndim == w->ndim;
            for (int d = 0; ok && d < w->ndim; d++) ok = t->shape[d] == w->shape[d];
            if (!ok) {
                st_errorf(err, en, "tensor %.150s %s (callback %d's best weights: F32 shaped like %s/%s)", name,
                        t ? "has the wrong dtype or shape" : "is missing", i, m->layers[l]->name,
                        m->layers[l]->weight_names[k]);
                free(buf);
                return NULL;
            }
            used[t - f->tensors] = true;
            memcpy(p, t->data, (size_t)zen_numel(w) * sizeof *p);
            p += zen_numel(w);
        }
    return buf;
}

/* The checkpoint's callbacks_state, checked against the resumed fit's callbacks: the
 * stateful ones (EarlyStopping, ReduceLROnPlateau, ModelCheckpoint) must be the same, in the
 * same order; stateless ones (CSVLogger, LambdaCallback) may come and go. On success *state
 * is the parsed array and, per callback of the fit, (*entry)[i] its entry and (*best)[i] its
 * best weights (ncbs entries each). A checkpoint without callbacks_state (written before
 * callback state was saved) gives NULL: the callbacks start afresh. */
static int callbacks_state(const zen_model *m, const st_file *f, bool *used, zen_callback *const *cbs, int ncbs,
                           cJSON **state, cJSON ***entry, float ***best, char *err, size_t en) {
    *state = NULL;
    *entry = NULL;
    *best = NULL;
    const char *text = st_meta(f, "callbacks_state");
    if (!text) return 0;
    cJSON *a = cJSON_Parse(text);
    if (!cJSON_IsArray(a)) {
        cJSON_Delete(a);
        return st_errorf(err, en, "__metadata__ callbacks_state must be a JSON array (one entry per callback)");
    }
    int nfile = 0, nfit = 0;
    for (int i = 0; i < cJSON_GetArraySize(a); i++) nfile += cJSON_HasObjectItem(cJSON_GetArrayItem(a, i), "monitor");
    for (int i = 0; i < ncbs; i++) nfit += zen__callback_stateful(cbs[i]);
    if (nfile != nfit) {
        st_errorf(err, en, "the checkpoint holds the state of %d callbacks (EarlyStopping, ReduceLROnPlateau, "
                         "ModelCheckpoint), this fit has %d (resume with the same ones in the same order)", nfile, nfit);
        cJSON_Delete(a);
        return -1;
    }
    float **b = calloc((size_t)(ncbs ? ncbs : 1), sizeof *b);
    cJSON **e = calloc((size_t)(ncbs ? ncbs : 1), sizeof *e);
    int rc = b && e ? 0 : st_errorf(err, en, "out of memory");
    for (int i = 0, j = 0; !rc && i < cJSON_GetArraySize(a); i++) {
        cJSON *s = cJSON_GetArrayItem(a, i);
        if (!cJSON_HasObjectItem(s, "monitor")) continue;
        while (!zen__callback_stateful(cbs[j])) j++; /* there is one: the counts match */
        e[j] = s;
        if (cJSON_IsTrue(cJSON_GetObjectItem(s, "best_weights")) && !(b[j] = callback_best(m, f, used, i, err, en)))
            rc = -1;
        else if (zen__callback_set_state(cbs[j], j, s, b[j], false, err, en) != 0)
            rc = -1;
        j++;
    }
    if (rc) {
        for (int i = 0; b && i < ncbs; i++) free(b[i]);
        free(b);
        free(e);
        cJSON_Delete(a);
        return -1;
    }
    *state = a;
    *entry = e;
    *best = b;
    return 0;
}

int zen__checkpoint_load_mem(zen_model *m, const unsigned char *buf, size_t size, const char *path, int64_t n,
                             int initial_epoch, zen_callback *const *cbs, int ncbs, zen_train_state *ts) {
    zen_ctx *ctx = m->ctx;
    const char *W = "zen_model_fit: resume";
    char err[900];
    st_file f;
    if (st_parse(buf, size, &f, err, sizeof err) != 0) return load_fail(ctx, W, path, "%s", err), -1;
    int rc = -1;
    uint64_t seed = m->seed;
    bool *used = calloc((size_t)(f.ntensors ? f.ntensors : 1), sizeof *used);
    char *spec = zen_model_to_json(m);
    const char *fspec = st_meta(&f, "model");
    cJSON *cb_state = NULL, **cb_entry = NULL;
    float **cb_best = NULL;
    if (!used || !spec) {
        load_fail(ctx, W, path, "out of memory");
    } else if (!st_meta(&f, "training_state") || !st_meta(&f, "optimizer_state")) {
        load_fail(ctx, W, path, "not a checkpoint (no training_state and optimizer_state in __metadata__; a model "
                                "file saved with zen_model_save cannot resume a fit)");
    } else if (!fspec || strcmp(fspec, spec)) {
        load_fail(ctx, W, path, "the checkpoint was written for another model (its spec differs from this model's)");
    } else if (check_weights(m, &f, used, err, sizeof err) != 0 ||
               optimizer_state(m, &f, used, false, err, sizeof err) != 0 ||
               training_state(&f, used, n, NULL, err, sizeof err) != 0 ||
               callbacks_state(m, &f, used, cbs, ncbs, &cb_state, &cb_entry, &cb_best, err, sizeof err) != 0 ||
               check_unexpected(&f, used, err, sizeof err) ||
               read_class_names(m, &f, err, sizeof err) != 0 ||
               training_state(&f, used, n, ts, err, sizeof err) != 0) {
        load_fail(ctx, W, path, "%s", err);
    } else if (st_meta(&f, "seed") && !parse_u64(st_meta(&f, "seed"), &seed)) {
        load_fail(ctx, W, path, "__metadata__ seed must be a decimal integer string");
    } else if (initial_epoch && initial_epoch != ts->epoch) {
        load_fail(ctx, W, path, "initial_epoch is %d but the checkpoint continues at epoch %d", initial_epoch, ts->epoch);
    } else {
        m->seed = seed;
        copy_weights(m, &f);
        if (optimizer_state(m, &f, used, true, err, sizeof err) != 0) load_fail(ctx, W, path, "%s", err);
        else rc = 0;
    }
    if (rc == 0) {
        ts->cb_state = cb_state;
        ts->cb_entry = cb_entry;
        ts->cb_best = cb_best;
        ts->ncb = cb_state ? ncbs : 0;
    } else {
        cJSON_Delete(cb_state);
        free(cb_entry);
        for (int i = 0; cb_best && i < ncbs; i++) free(cb_best[i]);
        free(cb_best);
        if (ts && ts->history) zen__train_state_clear(ts);
    }
    free(spec);
    free(used);
    st_free(&f);
    return rc;
}

int zen__checkpoint_load(zen_model *m, const char *path, int64_t n, int initial_epoch, zen_callback *const *cbs,
                         int ncbs, zen_train_state *ts) {
    unsigned char *buf;
    size_t size;
    char err[900];
    if (read_whole(path, &buf, &size, err, sizeof err) != 0)
        return zen__fail(m->ctx, "zen_model_fit: resume: %s", err), -1;
    int rc = zen__checkpoint_load_mem(m, buf, size, path, n, initial_epoch, cbs, ncbs, ts);
    free(buf);
    return rc;
}
