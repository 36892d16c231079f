/* save.c — writing model files and checkpoints, and the model's class names.
 *
 * A model file is a safetensors file (safetensors.h) whose __metadata__ holds
 *   "format": "zen", "zen_version", "model": the JSON spec, "seed": the build seed (it keys
 *   dropout masks), "compile": loss, metrics and
 *   optimizer (class and config) when the model was compiled, "class_names": a JSON array
 *   when set;
 * and whose tensors are the weights, named "<layer>/<weight>", F32 little-endian. A
 * checkpoint adds "optimizer_state" and "training_state" (JSON) to the metadata and the
 * tensors "optimizer/<layer>/<weight>/<slot>" (F32), "training/order" (I64) and
 * "training/history" (F64); and "callbacks_state" (each callback's state, by position in
 * the fit's list) with EarlyStopping's best weights as "callbacks/<i>/best/<layer>/<weight>". README.md, "The .zen file format", is the full description. */
#include "safetensors.h"
#include "../train/train.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>

static char *compile_json(const zen_model *m) {
    zen_trainer *t = m->trainer;
    if (!t || !t->opt) return NULL; /* not compiled (a trainer made by predict) */
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "loss", t->loss);
    cJSON *metrics = cJSON_AddArrayToObject(c, "metrics");
    for (int i = 0; i < t->nmetrics; i++) cJSON_AddItemToArray(metrics, cJSON_CreateString(t->metrics[i]->name));
    cJSON *opt = cJSON_AddObjectToObject(c, "optimizer");
    cJSON_AddStringToObject(opt, "class_name", t->opt->type->class_name);
    cJSON *cfg = t->opt->config_json ? cJSON_Parse(t->opt->config_json) : cJSON_CreateObject();
    cJSON_AddItemToObject(opt, "config", cfg ? cfg : cJSON_CreateObject());
    char *text = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    return text;
}

/* Doubles as decimal strings of 17 significant digits read back to the same bits. */
static void add_double(cJSON *o, const char *key, double v) {
    char b[40];
    snprintf(b, sizeof b, "%.17g", v);
    cJSON_AddStringToObject(o, key, b);
}

static void add_u64(cJSON *o, const char *key, uint64_t v) {
    char b[24];
    snprintf(b, sizeof b, "%" PRIu64, v);
    cJSON_AddStringToObject(o, key, b);
}

static void meta_json(st_writer *w, const char *key, cJSON *value) {
    char *text = cJSON_PrintUnformatted(value);
    st_writer_meta(w, key, text ? text : "{}");
    free(text);
    cJSON_Delete(value);
}

/* The optimizer's scalars and slot names; its arrays are added as tensors. */
static int add_optimizer_state(st_writer *w, zen_optimizer *opt) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "class_name", opt->type->class_name);
    add_u64(s, "iterations", (uint64_t)opt->iterations);
    add_double(s, "initial_learning_rate", opt->schedule.initial); /* zen_optimizer_set_lr changes it */
    add_double(s, "lr_scale", opt->lr_scale);
    cJSON_AddNumberToObject(s, "params", opt->nparams);
    int nslots = zen__optimizer_nslots(opt);
    cJSON *names = cJSON_AddArrayToObject(s, "slots");
    for (int k = 0; k < nslots; k++) cJSON_AddItemToArray(names, cJSON_CreateString(zen__optimizer_slot_name(opt, k)));
    /* gradient_accumulation_steps: the micro-steps taken and the gradients summed so far. */
    if (opt->accum_steps) add_u64(s, "micro_steps", (uint64_t)opt->micro_steps);
    meta_json(w, "optimizer_state", s);
    for (int i = 0; i < opt->nparams; i++) {
        const zen_tensor *p = opt->params[i].param;
        for (int k = 0; k < nslots; k++) {
            char name[200];
            snprintf(name, sizeof name, "optimizer/%s/%s", p->name, zen__optimizer_slot_name(opt, k));
            if (st_writer_add(w, name, ST_F32, p->ndim, p->shape, opt->params[i].slot[k]) != 0) return -1;
        }
        if (opt->accum_steps) {
            char name[200];
            snprintf(name, sizeof name, "optimizer/%s/accumulated_gradient", p->name);
            if (st_writer_add(w, name, ST_F32, p->ndim, p->shape, opt->params[i].accum) != 0) return -1;
        }
    }
    return 0;
}

static void add_training_state(st_writer *w, const zen_train_state *ts, double **hist_out) {
    cJSON *s = cJSON_CreateObject();
    cJSON_AddNumberToObject(s, "epoch", ts->epoch);
    add_u64(s, "seed", ts->seed);
    cJSON_AddBoolToObject(s, "shuffle", ts->shuffle);
    cJSON_AddNumberToObject(s, "batch_size", ts->batch_size);
    add_u64(s, "samples", (uint64_t)ts->n);
    cJSON *rng = cJSON_AddArrayToObject(s, "rng");
    for (int i = 0; i < 4; i++) {
        char b[24];
        snprintf(b, sizeof b, "%" PRIu64, ts->rng.s[i]);
        cJSON_AddItemToArray(rng, cJSON_CreateString(b));
    }
    const zen_history *h = ts->history;
    int rows = h ? h->epochs : 0, cols = rows ? h->logs[0].n : 0;
    cJSON_AddNumberToObject(s, "first_epoch", h ? h->first_epoch : ts->epoch);
    cJSON *names = cJSON_AddArrayToObject(s, "history");
    for (int c = 0; c < cols; c++) cJSON_AddItemToArray(names, cJSON_CreateString(h->logs[0].names[c]));
    meta_json(w, "training_state", s);
    /* every epoch of a fit has the same logs; a name missing from a row reads as NaN */
    double *v = rows && cols ? malloc((size_t)rows * (size_t)cols * sizeof *v) : NULL;
    for (int r = 0; v && r < rows; r++)
        for (int c = 0; c < cols; c++) v[r * cols + c] = zen_metrics_get(&h->logs[r], h->logs[0].names[c]);
    *hist_out = v;
    st_writer_add(w, "training/order", ST_I64, 1, (int64_t[]){ts->n}, ts->order);
    if (v) st_writer_add(w, "training/history", ST_F64, 2, (int64_t[]){rows, cols}, v);
}

/* The callbacks' state (a JSON array, one entry per callback of the fit) and the best
 * weights EarlyStopping keeps, one tensor per weight, in zen__weights_snapshot's order. */
static int add_callbacks_state(st_writer *w, const zen_model *m, const zen_train_state *ts) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < ts->ncallbacks; i++) cJSON_AddItemToArray(a, zen__callback_state(ts->callbacks[i]));
    meta_json(w, "callbacks_state", a);
    for (int i = 0; i < ts->ncallbacks; i++) {
        const float *best = zen__callback_best_weights(ts->callbacks[i], NULL);
        for (int l = 0; best && l < m->nlayers; l++)
            for (int k = 0; k < m->layers[l]->nweights; k++) {
                const zen_tensor *t = m->layers[l]->weights[k];
                char name[200];
                snprintf(name, sizeof name, "callbacks/%d/best/%s/%s", i, m->layers[l]->name,
                         m->layers[l]->weight_names[k]);
                if (st_writer_add(w, name, ST_F32, t->ndim, t->shape, best) != 0) return -1;
                best += zen_numel(t);
            }
    }
    return 0;
}

int zen__model_write(zen_model *m, const char *path, const zen_train_state *ts) {
    zen_ctx *ctx = m->ctx;
    const char *fn = ts ? "checkpoint" : "zen_model_save";
    if (!m->built) return zen__fail(ctx, "%s: build the model first", fn), -1;
    zen_optimizer *opt = m->trainer ? m->trainer->opt : NULL;
    if (ts && !opt) return zen__fail(ctx, "%s: compile the model first", fn), -1;
    st_writer w;
    st_writer_init(&w);
    st_writer_meta(&w, "format", "zen");
    st_writer_meta(&w, "zen_version", ZEN_VERSION);
    char *spec = zen_model_to_json(m);
    st_writer_meta(&w, "model", spec ? spec : "{}");
    free(spec);
    char seed[24]; /* the build seed keys the dropout masks of training graphs */
    snprintf(seed, sizeof seed, "%" PRIu64, m->seed);
    st_writer_meta(&w, "seed", seed);
    char *comp = compile_json(m);
    if (comp) st_writer_meta(&w, "compile", comp);
    free(comp);
    if (m->nclass_names) {
        cJSON *names = cJSON_CreateArray();
        for (int i = 0; i < m->nclass_names; i++) cJSON_AddItemToArray(names, cJSON_CreateString(m->class_names[i]));
        meta_json(&w, "class_names", names);
    }
    /* 8-byte tensors first, so every tensor starts aligned to its element size */
    double *hist = NULL;
    if (ts) add_training_state(&w, ts, &hist);
    int rc = 0;
    for (int i = 0; i < m->nlayers && !rc; i++)
        for (int k = 0; k < m->layers[i]->nweights && !rc; k++) {
            zen_tensor *t = m->layers[i]->weights[k];
            char name[200];
            snprintf(name, sizeof name, "%s/%s", m->layers[i]->name, m->layers[i]->weight_names[k]);
            rc = st_writer_add(&w, name, ST_F32, t->ndim, t->shape, t->data);
        }
    if (ts && !rc) rc = add_optimizer_state(&w, opt);
    if (ts && !rc) rc = add_callbacks_state(&w, m, ts);
    char err[600] = "out of memory";
    if (!rc) rc = st_write(&w, path, err, sizeof err);
    st_writer_free(&w);
    free(hist);
    if (rc) return zen__fail(ctx, "%s: %s", fn, err), -1;
    return 0;
}

int zen_model_save(zen_model *m, const char *path) {
    if (!m) return -1;
    if (!path) return zen__fail(m->ctx, "zen_model_save: path is NULL"), -1;
    return zen__model_write(m, path, NULL);
}

/* ---- class names ---- */

int zen_model_set_class_names(zen_model *m, int n, const char *const *names) {
    if (!m) return -1;
    if (n < 0 || (n > 0 && !names))
        return zen__fail(m->ctx, "zen_model_set_class_names: n must be >= 0 with a names array (got %d)", n), -1;
    for (int i = 0; i < n; i++)
        if (!names[i] || !names[i][0])
            return zen__fail(m->ctx, "zen_model_set_class_names: name %d is %s", i, names[i] ? "empty" : "NULL"), -1;
    char **copy = n ? calloc((size_t)n, sizeof *copy) : NULL;
    for (int i = 0; copy && i < n; i++)
        if (!(copy[i] = strdup(names[i]))) {
            for (int j = 0; j < i; j++) free(copy[j]);
            free(copy);
            copy = NULL;
        }
    if (n && !copy) return zen__fail(m->ctx, "zen_model_set_class_names: out of memory"), -1;
    for (int i = 0; i < m->nclass_names; i++) free(m->class_names[i]);
    free(m->class_names);
    m->class_names = copy;
    m->nclass_names = n;
    return 0;
}

int zen_model_n_class_names(const zen_model *m) { return m ? m->nclass_names : 0; }

const char *zen_model_class_name(const zen_model *m, int i) {
    return m && i >= 0 && i < m->nclass_names ? m->class_names[i] : NULL;
}
