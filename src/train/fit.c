/* fit.c — compile, fit, evaluate and predict.
 *
 * A model is trained through graphs built once per batch size: one for full batches and
 * one for the final partial batch (Keras trains it rather than dropping it), each with the
 * loss and its backward; evaluation and prediction have forward-only graphs. The optimizer
 * updates the weights on the host between computes. Metrics are accumulated on the host
 * from each batch's output. */
#include "train.h"

#include "../graph/graph.h" /* the run counter that keys dropout masks */

#include <math.h>
#include <stdlib.h>

const char *zen__loss_canonical(const char *name);
bool zen__loss_sparse(const char *loss);
zen_tensor *zen__loss_build(zen_ctx *ctx, const char *loss, zen_tensor *out, zen_tensor *target);

#define MAX_GRAPHS 4
#define ZEN_MAX_COMPILE_METRICS ((ZEN_MAX_METRICS - 3) / 2)

/* A cached graph of one kind and batch size, with the parameter gradients of its backward. */
typedef struct cached_graph {
    zen_model_graph *mg;
    zen_tensor **grads; /* training graphs: one per trainer param */
} cached_graph;

typedef struct zen_graph_cache {
    cached_graph train[MAX_GRAPHS], eval[MAX_GRAPHS], predict[MAX_GRAPHS];
} graph_cache;

zen_fit_opts zen_fit_defaults(void) {
    return (zen_fit_opts){.epochs = 1, .batch_size = 32, .shuffle = true, .verbose = -1};
}

static void free_cached(cached_graph *c) {
    zen__model_graph_free(c->mg);
    free(c->grads);
    c->mg = NULL;
    c->grads = NULL;
}

void zen__trainer_free(zen_trainer *t) {
    if (!t) return;
    zen_optimizer_free(t->opt);
    for (int i = 0; i < t->nmetrics; i++) zen__metric_free(t->metrics[i]);
    graph_cache *gc = t->graphs;
    if (gc) {
        for (int i = 0; i < MAX_GRAPHS; i++) {
            free_cached(&gc->train[i]);
            free_cached(&gc->eval[i]);
            free_cached(&gc->predict[i]);
        }
        free(gc);
    }
    free(t);
}

/* A trainer without optimizer or loss: what predict needs on a model that was never
 * compiled (one loaded from a file saved before compile, say). */
static zen_trainer *trainer_new(zen_ctx *ctx, const char *what) {
    zen_trainer *t = calloc(1, sizeof *t);
    graph_cache *gc = calloc(1, sizeof *gc);
    if (!t || !gc) {
        free(t);
        free(gc);
        return zen__fail(ctx, "%s: out of memory", what);
    }
    t->graphs = gc;
    return t;
}

static bool compiled(const zen_model *m) { return m->trainer && m->trainer->opt; }

int zen_model_compile(zen_model *m, zen_optimizer *opt, const char *loss, int nmetrics, const char *const *metrics) {
    if (!m) {
        zen_optimizer_free(opt);
        return -1;
    }
    zen_ctx *ctx = m->ctx;
    if (!opt)
        return zen__fail(ctx, "zen_model_compile: the optimizer is NULL (%s)",
                         zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "zen_optimizer_new failed?"), -1;
    const char *canonical = zen__loss_canonical(loss);
    if (!canonical) {
        zen_optimizer_free(opt);
        return zen__fail(ctx, "zen_model_compile: unknown loss '%s' (categorical_crossentropy, "
                              "sparse_categorical_crossentropy, binary_crossentropy, mean_squared_error (mse), "
                              "mean_absolute_error (mae), huber)",
                         loss ? loss : "(null)"), -1;
    }
    /* An epoch's logs hold loss, the metrics, their val_ twins and learning_rate. */
    if (nmetrics < 0 || nmetrics > ZEN_MAX_COMPILE_METRICS || (nmetrics && !metrics)) {
        zen_optimizer_free(opt);
        return zen__fail(ctx, "zen_model_compile: metrics must be a list of 0 to %d names, got %d",
                         ZEN_MAX_COMPILE_METRICS, nmetrics), -1;
    }
    if (!m->built && zen_model_build(m, 0) != 0) {
        zen_optimizer_free(opt);
        return -1;
    }
    zen_trainer *t = trainer_new(ctx, "zen_model_compile");
    if (!t) {
        zen_optimizer_free(opt);
        return -1;
    }
    t->opt = opt;
    snprintf(t->loss, sizeof t->loss, "%s", canonical);
    for (int i = 0; i < nmetrics; i++) {
        bool twice = false;
        for (int j = 0; j < i && !twice; j++) twice = metrics[i] && metrics[j] && !strcmp(metrics[i], metrics[j]);
        if (twice) zen__fail(ctx, "compile: metric '%s' is listed twice", metrics[i]);
        t->metrics[i] = twice ? NULL : zen__metric_new(ctx, metrics[i], canonical);
        if (!t->metrics[i]) {
            t->nmetrics = i;
            zen__trainer_free(t);
            return -1;
        }
    }
    t->nmetrics = nmetrics;
    for (int i = 0; i < m->nlayers; i++)
        for (int w = 0; w < m->layers[i]->nweights; w++) {
            if (!m->layers[i]->trainable[w]) continue;
            if (t->nparams == (int)(sizeof t->params / sizeof t->params[0])) {
                zen__trainer_free(t);
                return zen__fail(ctx, "zen_model_compile: more than %d trainable weights",
                                 (int)(sizeof t->params / sizeof t->params[0])), -1;
            }
            t->params[t->nparams++] = m->layers[i]->weights[w];
        }
    zen__trainer_free(m->trainer);
    m->trainer = t;
    return 0;
}

/* ---- checking datasets against the model ---- */

/* The dtype of the model's input leaf, as zen__model_graph_new makes it. */
static zen_dtype input_dtype(const zen_model *m) {
    zen_layer *l = m->nodes[m->inputs[0]].layer;
    const char *dtype = cJSON_GetStringValue(cJSON_GetObjectItem(l->config, "dtype"));
    return dtype && strstr(dtype, "int") ? ZEN_I32 : ZEN_F32;
}

static void shape_text(char *buf, size_t n, const char *open, int ndim, const int64_t *dims) {
    snprintf(buf, n, "%s", open);
    for (int k = 0; k < ndim; k++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s%lld", k || strcmp(open, "(") ? ", " : "", (long long)dims[k]);
    snprintf(buf + strlen(buf), n - strlen(buf), ")");
}

/* Does the target array y fit the model output (f32 targets of the output's shape; a
 * single-output model also takes targets of shape (N,), as Keras does)? */
static bool target_fits(const zen_array *y, const zen_shape *out) {
    if (y->dtype != ZEN_F32) return false;
    if (out->ndim == 1 && out->dim[0] == 1 && y->ndim == 1) return true;
    if (y->ndim != out->ndim + 1) return false;
    for (int k = 0; k < out->ndim; k++)
        if (y->shape[k + 1] != out->dim[k]) return false;
    return true;
}

static int check_dataset(zen_model *m, const zen_dataset *d, const char *what, bool need_y) {
    zen_ctx *ctx = m->ctx;
    if (!d || !d->x) return zen__fail(ctx, "%s: no data", what), -1;
    if (m->ninputs != 1 || m->noutputs != 1)
        return zen__fail(ctx, "%s: model '%s' has %d inputs and %d outputs; only one of each is supported", what,
                         m->name, m->ninputs, m->noutputs), -1;
    const zen_shape *in = &m->nodes[m->inputs[0]].shape;
    bool ok = d->x->ndim == in->ndim + 1 && d->x->shape[0] == d->n;
    for (int k = 0; ok && k < in->ndim; k++) ok = d->x->shape[k + 1] == in->dim[k];
    if (!ok) {
        char want[160], got[160];
        shape_text(want, sizeof want, "(N", in->ndim, in->dim);
        shape_text(got, sizeof got, "(", d->x->ndim, d->x->shape);
        return zen__fail(ctx, "%s: samples have shape %s, the model's input is %s", what, got, want), -1;
    }
    if (d->x->dtype != input_dtype(m))
        return zen__fail(ctx, "%s: samples are %s, the model's input is %s", what, zen_dtype_name(d->x->dtype),
                         zen_dtype_name(input_dtype(m))), -1;
    if (!need_y) return 0;
    if (!compiled(m)) return zen__fail(ctx, "%s: compile the model first", what), -1;
    if (!d->y) return zen__fail(ctx, "%s: the dataset has no targets", what), -1;
    if (d->y->ndim < 1 || d->y->shape[0] != d->n)
        return zen__fail(ctx, "%s: %lld samples but targets for %lld", what, (long long)d->n,
                         (long long)(d->y->ndim ? d->y->shape[0] : 0)), -1;
    const char *loss = m->trainer->loss;
    const zen_shape *out = &m->nodes[m->outputs[0]].shape;
    if (zen__loss_sparse(loss) && out->ndim > 1) {
        /* Sequences: an output (steps, ..., classes) takes i32 labels (N, steps, ...). */
        bool fits = d->y->dtype == ZEN_I32 && d->y->ndim == out->ndim;
        for (int k = 0; fits && k < out->ndim - 1; k++) fits = d->y->shape[k + 1] == out->dim[k];
        if (!fits) {
            char want[160], got[160];
            shape_text(want, sizeof want, "(N", out->ndim - 1, out->dim);
            shape_text(got, sizeof got, "(", d->y->ndim, d->y->shape);
            return zen__fail(ctx, "%s: sparse_categorical_crossentropy on a sequence output needs i32 labels of shape "
                                  "%s, got %s %s", what, want, zen_dtype_name(d->y->dtype), got), -1;
        }
        int64_t c = out->dim[out->ndim - 1], n = zen_array_numel(d->y);
        const int32_t *lab = d->y->data;
        for (int64_t i = 0; i < n; i++)
            if (lab[i] < 0 || lab[i] >= c)
                return zen__fail(ctx, "%s: label %d at position %lld of the targets is outside [0, %lld) (the model "
                                      "has %lld classes)", what, lab[i], (long long)i, (long long)c, (long long)c), -1;
        return 0;
    }
    if (zen__loss_sparse(loss)) {
        if (d->y->dtype != ZEN_I32 || !(d->y->ndim == 1 || (d->y->ndim == 2 && d->y->shape[1] == 1)))
            return zen__fail(ctx, "%s: sparse_categorical_crossentropy needs i32 class labels of shape (N,) or (N, 1), "
                                  "got %s with %d dims", what, zen_dtype_name(d->y->dtype), d->y->ndim), -1;
        if (out->ndim != 1)
            return zen__fail(ctx, "%s: sparse_categorical_crossentropy needs a model output of shape (classes,), "
                                  "got %d dims", what, out->ndim), -1;
        const int32_t *lab = d->y->data;
        for (int64_t i = 0; i < d->n; i++)
            if (lab[i] < 0 || lab[i] >= out->dim[0])
                return zen__fail(ctx, "%s: label %d of sample %lld is outside [0, %lld) (the model has %lld classes)",
                                 what, lab[i], (long long)i, (long long)out->dim[0], (long long)out->dim[0]), -1;
        return 0;
    }
    if (!target_fits(d->y, out)) {
        char want[160], got[160];
        shape_text(want, sizeof want, "(N", out->ndim, out->dim);
        shape_text(got, sizeof got, "(", d->y->ndim, d->y->shape);
        return zen__fail(ctx, "%s: %s needs f32 targets shaped like the model output %s; got %s %s%s", what, loss, want,
                         zen_dtype_name(d->y->dtype), got,
                         !strcmp(loss, "categorical_crossentropy") && d->y->dtype == ZEN_I32
                             ? " (class labels: one-hot them with zen_one_hot or use sparse_categorical_crossentropy)"
                             : ""), -1;
    }
    return 0;
}

/* ---- graphs ---- */

static cached_graph *find_slot(cached_graph *slots, int batch) {
    for (int i = 0; i < MAX_GRAPHS; i++)
        if (slots[i].mg && slots[i].mg->batch == batch) return &slots[i];
    for (int i = 0; i < MAX_GRAPHS; i++)
        if (!slots[i].mg) return &slots[i];
    free_cached(&slots[MAX_GRAPHS - 1]); /* an unusual batch size: reuse the last slot */
    return &slots[MAX_GRAPHS - 1];
}

/* kind: 0 train (loss + backward), 1 eval (loss), 2 predict. */
static cached_graph *get_graph(zen_model *m, int kind, int batch, const zen_array *y) {
    zen_trainer *t = m->trainer;
    graph_cache *gc = t->graphs;
    cached_graph *slots = kind == 0 ? gc->train : kind == 1 ? gc->eval : gc->predict;
    cached_graph *c = find_slot(slots, batch);
    if (c->mg) return c;
    zen_ctx *ctx = m->ctx;
    zen_model_graph *mg = zen__model_graph_new(m, batch, kind == 0);
    if (!mg) return NULL;
    if (kind < 2) {
        int64_t shape[ZEN_MAX_DIMS] = {batch};
        for (int k = 1; k < y->ndim; k++) shape[k] = y->shape[k];
        mg->target = zen_input(ctx, y->dtype, y->ndim, shape);
        zen_tensor *target = mg->target;
        if (zen__loss_sparse(t->loss) && y->ndim == 2 && mg->outputs[0]->ndim == 2)
            target = zen_reshape(ctx, target, 1, (int64_t[]){batch});
        else if (!zen__loss_sparse(t->loss) && y->ndim == 1) /* targets (N,) for an output (1,) */
            target = zen_reshape(ctx, target, 2, (int64_t[]){batch, 1});
        mg->loss = zen__loss_build(ctx, t->loss, mg->outputs[0], target);
        if (!mg->loss || zen_graph_add(mg->g, mg->loss) != 0) goto fail;
    }
    if (kind == 0) {
        if (zen_graph_backward(mg->g, mg->loss) != 0) goto fail;
        c->grads = calloc((size_t)t->nparams, sizeof *c->grads);
        if (!c->grads) goto fail;
        for (int i = 0; i < t->nparams; i++) {
            c->grads[i] = t->params[i]->grad;
            if (!c->grads[i]) {
                zen__fail(ctx, "fit: weight %s does not affect the loss", t->params[i]->name);
                goto fail;
            }
        }
    }
    if (zen_graph_plan(mg->g) != 0) goto fail;
    c->mg = mg;
    return c;
fail:
    free(c->grads);
    c->grads = NULL;
    zen__model_graph_free(mg);
    return NULL;
}

/* Copies n rows of a batch into a graph's leaves. */
static void load_batch(zen_model_graph *mg, const zen_batch *b) {
    memcpy(mg->inputs[0]->data, b->x, zen_nbytes(mg->inputs[0]));
    if (mg->target) memcpy(mg->target->data, b->y, zen_nbytes(mg->target));
}

/* ---- evaluation ---- */

static void reset_metrics(zen_trainer *t) {
    for (int i = 0; i < t->nmetrics; i++) zen__metric_reset(t->metrics[i]);
}

static void put(zen_metrics *logs, const char *prefix, const char *name, double v) {
    if (logs->n == ZEN_MAX_METRICS) return;
    snprintf(logs->names[logs->n], sizeof logs->names[0], "%s%s", prefix, name);
    logs->values[logs->n++] = v;
}

static void collect(zen_trainer *t, zen_metrics *logs, const char *prefix, double loss) {
    put(logs, prefix, "loss", loss);
    for (int i = 0; i < t->nmetrics; i++) put(logs, prefix, t->metrics[i]->name, zen__metric_result(t->metrics[i]));
}

/* The mean loss over d into *loss; with_metrics: the compiled metrics too (reset first). */
static int eval_loop(zen_model *m, const zen_dataset *d, int batch_size, bool with_metrics, double *loss) {
    zen_trainer *t = m->trainer;
    zen_ctx *ctx = m->ctx;
    zen_batch_iter *it = zen_batch_iter_new(ctx, d, NULL, d->n, (zen_batch_opts){.batch_size = batch_size, .prefetch = true});
    if (!it) return -1;
    if (with_metrics) reset_metrics(t);
    double loss_sum = 0;
    int rc = 0;
    for (zen_batch b; zen_batch_iter_next(it, &b);) {
        cached_graph *c = get_graph(m, 1, (int)b.n, d->y);
        if (!c) {
            rc = -1;
            break;
        }
        load_batch(c->mg, &b);
        if (zen_graph_compute(c->mg->g) != 0) {
            rc = -1;
            break;
        }
        loss_sum += (double)*(float *)c->mg->loss->data * (double)b.n;
        for (int i = 0; with_metrics && i < t->nmetrics; i++)
            zen__metric_update(t->metrics[i], c->mg->outputs[0], c->mg->target, b.n);
    }
    zen_batch_iter_free(it);
    *loss = loss_sum / (double)d->n;
    return rc;
}

/* Loss and metrics over d, appended to logs with the prefix ("" or "val_"). */
static int evaluate_into(zen_model *m, const zen_dataset *d, int batch_size, zen_metrics *logs, const char *prefix) {
    if (d->n == 0) return zen__fail(m->ctx, "%s: the %s dataset is empty", *prefix ? "zen_model_fit" : "zen_model_evaluate",
                                    *prefix ? "validation" : "evaluation"), -1;
    double loss;
    if (eval_loop(m, d, batch_size, true, &loss) != 0) return -1;
    collect(m->trainer, logs, prefix, loss);
    return 0;
}

int zen_model_evaluate(zen_model *m, const zen_dataset *d, int batch_size, zen_metrics *out) {
    if (!m || !out) return -1;
    out->n = 0;
    if (batch_size <= 0) return zen__fail(m->ctx, "zen_model_evaluate: batch_size must be positive, got %d", batch_size), -1;
    if (check_dataset(m, d, "zen_model_evaluate", true) != 0) return -1;
    return evaluate_into(m, d, batch_size, out, "");
}

zen_array *zen_model_predict(zen_model *m, const zen_array *x, int batch_size) {
    if (!m || !x) return NULL;
    zen_ctx *ctx = m->ctx;
    if (batch_size <= 0) return zen__fail(ctx, "zen_model_predict: batch_size must be positive, got %d", batch_size);
    if (!m->built) return zen__fail(ctx, "zen_model_predict: build the model first");
    if (x->ndim < 1) return zen__fail(ctx, "zen_model_predict: x must have a sample axis");
    zen_dataset view = {.n = x->shape[0], .x = (zen_array *)x};
    if (check_dataset(m, &view, "zen_model_predict", false) != 0) return NULL;
    if (!m->trainer && !(m->trainer = trainer_new(ctx, "zen_model_predict"))) return NULL; /* Keras predicts uncompiled */
    const zen_shape *os = &m->nodes[m->outputs[0]].shape;
    int64_t shape[ZEN_MAX_DIMS] = {x->shape[0]};
    for (int k = 0; k < os->ndim; k++) shape[k + 1] = os->dim[k];
    zen_array *out = zen_array_new(ctx, ZEN_F32, os->ndim + 1, shape);
    if (!out) return NULL;
    int64_t per = 1, row_in = 1; /* elements per sample of the output and of x */
    for (int k = 0; k < os->ndim; k++) per *= os->dim[k];
    for (int k = 1; k < x->ndim; k++) row_in *= x->shape[k];
    for (int64_t at = 0; at < x->shape[0]; at += batch_size) {
        int n = (int)(x->shape[0] - at < batch_size ? x->shape[0] - at : batch_size);
        cached_graph *c = get_graph(m, 2, n, NULL);
        if (!c) goto fail;
        /* f32 and i32 samples are both 4 bytes an element */
        memcpy(c->mg->inputs[0]->data, (const char *)x->data + (size_t)(at * row_in) * 4, zen_nbytes(c->mg->inputs[0]));
        if (zen_graph_compute(c->mg->g) != 0) goto fail;
        memcpy((float *)out->data + at * per, c->mg->outputs[0]->data, (size_t)n * (size_t)per * sizeof(float));
    }
    return out;
fail:
    zen_array_free(out);
    return NULL;
}

/* ---- fit ---- */

static void drop_graphs(zen_trainer *t) {
    for (int i = 0; i < MAX_GRAPHS; i++) {
        free_cached(&t->graphs->train[i]);
        free_cached(&t->graphs->eval[i]);
        free_cached(&t->graphs->predict[i]);
    }
}

void zen_history_free(zen_history *h) {
    if (!h) return;
    free(h->logs);
    free(h);
}

static int run_callbacks(zen_callback *const *cbs, int n, zen_fit_state *st, int which, int index, const zen_metrics *logs) {
    int stop = 0;
    for (int i = 0; i < n; i++) {
        zen_callback *cb = cbs[i];
        int r = 0;
        if (!cb) continue;
        if (which == 0 && cb->on_train_begin) r = cb->on_train_begin(cb, st);
        if (which == 1 && cb->on_batch_end) r = cb->on_batch_end(cb, st, index, logs);
        if (which == 2 && cb->on_epoch_end) r = cb->on_epoch_end(cb, st, index, logs);
        if (which == 3 && cb->on_train_end) r = cb->on_train_end(cb, st);
        if (r) stop = 1;
    }
    return stop;
}

/* The dropout masks of a training step are keyed by the graph's run counter: set it from
 * (seed, epoch, step), so a fit's masks depend on its seed, not on what ran before, and a
 * run resumed at initial_epoch draws the masks the uninterrupted run would have. */
static uint64_t step_key(uint64_t seed, int epoch, int64_t step) {
    uint64_t z = seed * 0x9E3779B97F4A7C15ULL ^ ((uint64_t)epoch << 32 | (uint64_t)step);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* validation_split is a float; Keras computes floor(N * (1 - split)) in double from the
 * decimal the user wrote. Widening 0.1f directly gives 0.10000000149 and, for N = 100,
 * 89 training samples where Keras has 90: use the shortest decimal that reads back as
 * the same float instead. */
static double decimal_of(float f) {
    char buf[32];
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, sizeof buf, "%.*g", digits, (double)f);
        double d = strtod(buf, NULL);
        if ((float)d == f) return d;
    }
    return (double)f;
}

zen_history *zen_model_fit(zen_model *m, const zen_dataset *train, const zen_fit_opts *opts_in) {
    if (!m) return NULL;
    zen_ctx *ctx = m->ctx;
    zen_fit_opts o = opts_in ? *opts_in : zen_fit_defaults();
    if (!compiled(m)) return zen__fail(ctx, "zen_model_fit: compile the model first");
    zen_trainer *t = m->trainer;
    if (o.epochs < 0 || o.initial_epoch < 0)
        return zen__fail(ctx, "zen_model_fit: epochs (%d) and initial_epoch (%d) must be >= 0", o.epochs, o.initial_epoch);
    if (o.batch_size <= 0) return zen__fail(ctx, "zen_model_fit: batch_size must be positive, got %d", o.batch_size);
    if (o.eval_every < 0) return zen__fail(ctx, "zen_model_fit: eval_every must be >= 0, got %d", o.eval_every);
    if (!(o.validation_split >= 0 && o.validation_split < 1))
        return zen__fail(ctx, "zen_model_fit: validation_split must be in [0, 1), got %g", o.validation_split);
    if (o.ncallbacks < 0 || (o.ncallbacks > 0 && !o.callbacks))
        return zen__fail(ctx, "zen_model_fit: ncallbacks is %d but callbacks is %s", o.ncallbacks,
                         o.callbacks ? "set" : "NULL");
    if (check_dataset(m, train, "zen_model_fit", true) != 0) return NULL;

    /* Keras: the validation samples are the LAST fraction, taken before any shuffling. */
    zen_dataset *own_train = NULL, *own_val = NULL;
    const zen_dataset *tr = train, *val = o.validation_data;
    if (!val && o.validation_split > 0) {
        if (zen_dataset_split(ctx, train, decimal_of(o.validation_split), &own_train, &own_val) != 0) return NULL;
        tr = own_train;
        val = own_val;
    }
    zen_history *h = NULL;
    int64_t *order = NULL;
    zen_train_state resume = {0};
    zen_batch_iter *it = NULL;
    zen_progress *prog = NULL;
    if (val && check_dataset(m, val, "zen_model_fit (validation_data)", true) != 0) goto fail;
    if (val && val->n == 0) {
        zen__fail(ctx, "zen_model_fit: validation_data is empty");
        goto fail;
    }
    if (tr->n == 0) {
        zen__fail(ctx, "zen_model_fit: no training samples");
        goto fail;
    }
    /* Resuming: the checkpoint's weights, optimizer state, epoch, seed, order and history. */
    if (o.resume_path) {
        if (zen__checkpoint_load(m, o.resume_path, tr->n, o.initial_epoch, o.callbacks, o.ncallbacks, &resume) != 0)
            goto fail;
        drop_graphs(t); /* built with the seed before the checkpoint's */
        o.initial_epoch = resume.epoch;
        o.seed = resume.seed;
        o.shuffle = resume.shuffle;
    }
    int prior = resume.history ? resume.history->epochs : 0;
    h = calloc(1, sizeof *h);
    order = malloc((size_t)tr->n * sizeof *order);
    if (h) h->logs = calloc((size_t)(prior + (o.epochs > 0 ? o.epochs : 1)), sizeof *h->logs);
    if (!h || !order || !h->logs) {
        zen__fail(ctx, "zen_model_fit: out of memory");
        goto fail;
    }
    h->first_epoch = o.initial_epoch;
    zen_order_init(order, tr->n);
    if (resume.history) { /* the history goes on from the checkpoint's */
        h->first_epoch = resume.history->first_epoch;
        memcpy(h->logs, resume.history->logs, (size_t)prior * sizeof *h->logs);
        h->epochs = prior;
        memcpy(order, resume.order, (size_t)tr->n * sizeof *order);
    }
    it = zen_batch_iter_new(ctx, tr, order, tr->n, (zen_batch_opts){.batch_size = o.batch_size, .prefetch = true});
    if (!it) goto fail;
    /* Build the graphs before the first step, so a shape error shows before any training. */
    if (!get_graph(m, 0, (int)(tr->n < o.batch_size ? tr->n : o.batch_size), tr->y)) goto fail;
    if (tr->n > o.batch_size && tr->n % o.batch_size && !get_graph(m, 0, (int)(tr->n % o.batch_size), tr->y)) goto fail;

    zen_rng rng;
    zen_rng_seed(&rng, o.seed);
    if (o.resume_path) rng = resume.rng;
    int64_t steps = zen_batch_iter_nbatches(it);
    prog = zen__progress_new(o.verbose, o.epochs);
    zen_fit_state st = {.model = m, .opt = t->opt, .epochs = o.epochs, .steps = (int)steps,
                        .verbose = prog ? zen__progress_mode(prog) : 0};
    /* a callback that cannot start (CSVLogger's file) stops training before the first step */
    if (run_callbacks(o.callbacks, o.ncallbacks, &st, 0, 0, NULL)) st.stop = h->stopped_early = true;
    /* Resuming: the callbacks go on from the checkpoint's state (checked when it was loaded). */
    for (int i = 0; resume.cb_state && i < resume.ncb; i++) {
        char err[300];
        if (resume.cb_entry[i] && zen__callback_set_state(o.callbacks[i], i, resume.cb_entry[i], resume.cb_best[i], true,
                                                          err, sizeof err) != 0) {
            zen__fail(ctx, "zen_model_fit: resume: %s", err);
            goto fail;
        }
    }
    bool failed = false;
    int64_t since_eval = 0;
    for (int epoch = o.initial_epoch; epoch < o.epochs && !st.stop; epoch++) {
        st.epoch = epoch;
        /* Resuming at initial_epoch replays the shuffles of the epochs before it. */
        if (o.shuffle)
            for (int e = epoch == o.initial_epoch && !o.resume_path ? 0 : epoch; e <= epoch; e++)
                zen_shuffle(&rng, order, tr->n);
        if (zen_batch_iter_reset(it, order) != 0) {
            failed = true;
            break;
        }
        zen__progress_epoch_begin(prog, epoch, steps);
        reset_metrics(t);
        double t0 = zen_time_seconds(), loss_sum = 0;
        int64_t seen = 0;
        bool nan_stop = false;
        for (zen_batch b; zen_batch_iter_next(it, &b);) {
            cached_graph *c = get_graph(m, 0, (int)b.n, tr->y);
            if (!c) {
                failed = true;
                break;
            }
            load_batch(c->mg, &b);
            c->mg->g->runs = step_key(o.seed, epoch, b.index);
            if (zen_graph_compute(c->mg->g) != 0) {
                failed = true;
                break;
            }
            float loss = *(float *)c->mg->loss->data;
            if (!isfinite(loss)) {
                /* Keras's TerminateOnNaN, built in: the step is not applied. */
                zen__progress_interrupt(prog);
                zen__fail(ctx, "zen_model_fit: the loss became %s at epoch %d, step %lld of %lld; training stopped",
                          isnan(loss) ? "NaN" : "Inf", epoch + 1, (long long)b.index + 1, (long long)steps);
                fprintf(stderr, "%s\n", zen_ctx_error(ctx));
                nan_stop = true;
                break;
            }
            for (int i = 0; i < t->nparams; i++) t->params[i]->grad = c->grads[i];
            if (zen_optimizer_step(t->opt, t->nparams, t->params) != 0) {
                failed = true;
                break;
            }
            zen__model_graph_apply_updates(c->mg);
            loss_sum += (double)loss * (double)b.n;
            seen += b.n;
            for (int i = 0; i < t->nmetrics; i++) zen__metric_update(t->metrics[i], c->mg->outputs[0], c->mg->target, b.n);
            zen_metrics logs = {0};
            collect(t, &logs, "", loss_sum / (double)seen);
            zen__progress_batch(prog, b.index + 1, &logs);
            if (run_callbacks(o.callbacks, o.ncallbacks, &st, 1, (int)b.index, &logs)) st.stop = true;
            /* eval_every: the validation loss (and, for a cross-entropy, its perplexity) every
             * N steps, printed and passed to callbacks' on_batch_end as val_loss. */
            if (o.eval_every > 0 && val && ++since_eval == o.eval_every) {
                since_eval = 0;
                double vl;
                if (eval_loop(m, val, o.batch_size, false, &vl) != 0) {
                    failed = true;
                    break;
                }
                if (st.verbose) {
                    zen__progress_interrupt(prog);
                    printf("step %lld (epoch %d): val_loss %.4f", (long long)b.index + 1, epoch + 1, vl);
                    if (strstr(t->loss, "categorical_crossentropy")) printf(" - val_perplexity %.4f", exp(vl));
                    printf("\n");
                    fflush(stdout);
                }
            }
            if (st.stop) break;
        }
        if (failed) {
            zen__progress_interrupt(prog);
            break;
        }
        if (nan_stop) {
            st.stop = true;
            h->stopped_early = true;
            break;
        }
        zen_metrics *logs = &h->logs[h->epochs];
        logs->n = 0;
        collect(t, logs, "", seen ? loss_sum / (double)seen : NAN);
        if (val && evaluate_into(m, val, o.batch_size, logs, "val_") != 0) {
            zen__progress_interrupt(prog);
            failed = true;
            break;
        }
        put(logs, "", "learning_rate", zen_optimizer_lr(t->opt));
        h->epochs++;
        zen__progress_epoch_end(prog, logs, zen_time_seconds() - t0);
        if (run_callbacks(o.callbacks, o.ncallbacks, &st, 2, epoch, logs)) st.stop = true;
        if (st.stop) h->stopped_early = true;
        if (o.checkpoint_path) { /* after the callbacks: ReduceLROnPlateau's change is kept */
            zen_train_state ts = {.epoch = epoch + 1, .seed = o.seed, .shuffle = o.shuffle, .batch_size = o.batch_size,
                                  .rng = rng, .order = order, .n = tr->n, .history = h,
                                  .callbacks = o.callbacks, .ncallbacks = o.ncallbacks};
            if (zen__model_write(m, o.checkpoint_path, &ts) != 0) {
                failed = true;
                break;
            }
        }
    }
    /* Callbacks end also after a failure (EarlyStopping puts the best weights back). */
    run_callbacks(o.callbacks, o.ncallbacks, &st, 3, 0, NULL);
    if (failed) goto fail;
    if (o.plot_path && h->epochs > 0 && zen_history_plot_svg(ctx, h, o.plot_path) != 0) goto fail;
    zen__progress_free(prog);
    zen_batch_iter_free(it);
    free(order);
    zen__train_state_clear(&resume);
    zen_dataset_free(own_train);
    zen_dataset_free(own_val);
    return h;
fail:
    zen__train_state_clear(&resume);
    zen__progress_free(prog);
    zen_batch_iter_free(it);
    free(order);
    zen_history_free(h);
    zen_dataset_free(own_train);
    zen_dataset_free(own_val);
    return NULL;
}
