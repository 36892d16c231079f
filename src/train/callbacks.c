/* callbacks.c — EarlyStopping, ModelCheckpoint, CSVLogger, ReduceLROnPlateau and user
 * hooks, with Keras's semantics (mode "auto": accuracy-like quantities are maximised,
 * everything else minimised). */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

bool zen__monitor_max(const char *monitor) {
    const char *s = strncmp(monitor, "val_", 4) ? monitor : monitor + 4;
    return strstr(s, "acc") || strstr(s, "precision") || strstr(s, "recall") || strstr(s, "f1") || strstr(s, "auc");
}

static zen_callback *callback_new(const char *kind, size_t state_size) {
    zen_callback *cb = calloc(1, sizeof *cb);
    if (!cb) return NULL;
    cb->kind = kind;
    cb->state = state_size ? calloc(1, state_size) : NULL;
    if (state_size && !cb->state) {
        free(cb);
        return NULL;
    }
    return cb;
}

void zen_callback_free(zen_callback *cb) {
    if (!cb) return;
    if (cb->free_state) cb->free_state(cb->state);
    else free(cb->state);
    free(cb);
}

/* Tracks the best value of a monitored quantity. */
typedef struct monitor {
    char name[40];
    float min_delta;
    bool maximize;
    double best;
    int wait;
} monitor;

static void monitor_init(monitor *mon, const char *name, float min_delta) {
    snprintf(mon->name, sizeof mon->name, "%s", name ? name : "val_loss");
    mon->min_delta = fabsf(min_delta);
    mon->maximize = zen__monitor_max(mon->name);
    mon->best = mon->maximize ? -INFINITY : INFINITY;
    mon->wait = 0;
}

/* 1 improved, 0 not, -1 the quantity is not in the logs (Keras warns and skips). */
static int monitor_update(monitor *mon, const zen_metrics *logs) {
    double v = zen_metrics_get(logs, mon->name);
    if (isnan(v)) {
        fprintf(stderr, "warning: callback monitors '%s', which is not in the logs\n", mon->name);
        return -1;
    }
    bool better = mon->maximize ? v - mon->min_delta > mon->best : v + mon->min_delta < mon->best;
    if (better) {
        mon->best = v;
        mon->wait = 0;
        return 1;
    }
    mon->wait++;
    return 0;
}

/* ---- weights snapshots ---- */

static int64_t total_weights(const zen_model *m) {
    int64_t n = 0;
    for (int i = 0; i < m->nlayers; i++)
        for (int w = 0; w < m->layers[i]->nweights; w++) n += zen_numel(m->layers[i]->weights[w]);
    return n;
}

float *zen__weights_snapshot(const zen_model *m, float *buf) {
    if (!buf) buf = malloc((size_t)total_weights(m) * sizeof *buf);
    if (!buf) return NULL;
    float *p = buf;
    for (int i = 0; i < m->nlayers; i++)
        for (int w = 0; w < m->layers[i]->nweights; w++) {
            size_t n = (size_t)zen_numel(m->layers[i]->weights[w]);
            memcpy(p, m->layers[i]->weights[w]->data, n * sizeof *p);
            p += n;
        }
    return buf;
}

void zen__weights_restore(zen_model *m, const float *buf) {
    for (int i = 0; i < m->nlayers; i++)
        for (int w = 0; w < m->layers[i]->nweights; w++) {
            size_t n = (size_t)zen_numel(m->layers[i]->weights[w]);
            memcpy(m->layers[i]->weights[w]->data, buf, n * sizeof *buf);
            buf += n;
        }
}

/* ---- EarlyStopping ----
 * As Keras 3: stop when the monitored value has not improved (by more than min_delta) for
 * `patience` epochs (never after the first epoch); with restore_best_weights, the weights
 * of the best epoch are put back when training ends — also when it ran to the last epoch
 * or stopped for another reason. Every weight is saved, non-trainable ones too. */

typedef struct {
    monitor mon;
    int patience;
    bool restore;
    float *best_weights;
    int64_t nweights; /* floats in best_weights */
    int best_epoch, stopped_epoch;
} early_stopping;

static void early_free(void *s) {
    if (!s) return;
    free(((early_stopping *)s)->best_weights);
    free(s);
}

static int early_begin(zen_callback *cb, zen_fit_state *st) {
    early_stopping *e = cb->state;
    char name[40];
    snprintf(name, sizeof name, "%s", e->mon.name);
    monitor_init(&e->mon, name, e->mon.min_delta);
    e->best_epoch = -1;
    e->stopped_epoch = -1;
    /* The callback may be reused with another model: size the buffer for this one. */
    int64_t n = total_weights(st->model);
    if (e->restore && n != e->nweights) {
        free(e->best_weights);
        e->best_weights = NULL;
        e->nweights = 0;
    }
    if (e->restore && !e->best_weights) {
        e->best_weights = malloc((size_t)(n ? n : 1) * sizeof *e->best_weights);
        if (!e->best_weights) {
            zen__fail(st->model->ctx, "EarlyStopping: out of memory for the best weights");
            return 1;
        }
        e->nweights = n;
    }
    return 0;
}

static int early_epoch(zen_callback *cb, zen_fit_state *st, int epoch, const zen_metrics *logs) {
    early_stopping *e = cb->state;
    int r = monitor_update(&e->mon, logs);
    if (r < 0) return 0;
    if (r == 1) {
        e->best_epoch = epoch;
        if (e->restore && e->best_weights) zen__weights_snapshot(st->model, e->best_weights);
        return 0;
    }
    if (e->mon.wait >= e->patience && epoch > 0) {
        e->stopped_epoch = epoch;
        return 1;
    }
    return 0;
}

static int early_end(zen_callback *cb, zen_fit_state *st) {
    early_stopping *e = cb->state;
    if (e->stopped_epoch >= 0 && st->verbose)
        printf("Epoch %d: early stopping (%s did not improve for %d epochs)\n", e->stopped_epoch + 1, e->mon.name,
               e->patience);
    if (e->restore && e->best_weights && e->best_epoch >= 0) {
        zen__weights_restore(st->model, e->best_weights);
        if (st->verbose)
            printf("Restoring model weights from the end of the best epoch: %d (%s %.4f).\n", e->best_epoch + 1,
                   e->mon.name, e->mon.best);
    }
    return 0;
}

zen_callback *zen_early_stopping(const char *monitor_name, float min_delta, int patience, bool restore_best_weights) {
    zen_callback *cb = callback_new("EarlyStopping", sizeof(early_stopping));
    if (!cb) return NULL;
    early_stopping *e = cb->state;
    monitor_init(&e->mon, monitor_name, min_delta);
    e->patience = patience < 0 ? 0 : patience;
    e->restore = restore_best_weights;
    cb->on_train_begin = early_begin;
    cb->on_epoch_end = early_epoch;
    cb->on_train_end = early_end;
    cb->free_state = early_free;
    return cb;
}

/* ---- ModelCheckpoint ----
 * Keras keeps the best value across fits of the same callback; so does this. */

typedef struct {
    monitor mon;
    bool best_only;
    char path[1024];
} checkpoint;

static int checkpoint_epoch(zen_callback *cb, zen_fit_state *st, int epoch, const zen_metrics *logs) {
    checkpoint *c = cb->state;
    double before = c->mon.best;
    if (c->best_only && monitor_update(&c->mon, logs) != 1) return 0;
    if (zen_model_save(st->model, c->path) != 0) {
        fprintf(stderr, "ModelCheckpoint: %s\n", zen_ctx_error(st->model->ctx));
        return 1;
    }
    if (st->verbose && c->best_only)
        printf("Epoch %d: %s improved from %.5f to %.5f, saving model to %s\n", epoch + 1, c->mon.name, before,
               c->mon.best, c->path);
    return 0;
}

zen_callback *zen_model_checkpoint(const char *path, const char *monitor_name, bool save_best_only) {
    if (!path || strlen(path) >= sizeof ((checkpoint *)0)->path) return NULL;
    zen_callback *cb = callback_new("ModelCheckpoint", sizeof(checkpoint));
    if (!cb) return NULL;
    checkpoint *c = cb->state;
    monitor_init(&c->mon, monitor_name, 0);
    c->best_only = save_best_only;
    snprintf(c->path, sizeof c->path, "%s", path);
    cb->on_epoch_end = checkpoint_epoch;
    return cb;
}

/* ---- CSVLogger ----
 * As Keras's CSVLogger(append=False): the file is truncated when training begins and gets
 * the header ("epoch" and the log names, in log order) with the first row. Epochs are
 * numbered from 0, as Keras writes them. */

typedef struct {
    char path[1024];
    bool header_done;
} csv_logger;

static int csv_begin(zen_callback *cb, zen_fit_state *st) {
    csv_logger *c = cb->state;
    c->header_done = false;
    FILE *f = fopen(c->path, "w");
    if (!f || fclose(f) != 0) {
        zen__fail(st->model->ctx, "CSVLogger: cannot write %s: %s", c->path, strerror(errno));
        fprintf(stderr, "%s\n", zen_ctx_error(st->model->ctx));
        return 1;
    }
    return 0;
}

static int csv_epoch(zen_callback *cb, zen_fit_state *st, int epoch, const zen_metrics *logs) {
    csv_logger *c = cb->state;
    FILE *f = fopen(c->path, "a");
    if (!f) {
        zen__fail(st->model->ctx, "CSVLogger: cannot write %s: %s", c->path, strerror(errno));
        fprintf(stderr, "%s\n", zen_ctx_error(st->model->ctx));
        return 1;
    }
    if (!c->header_done) {
        fprintf(f, "epoch");
        for (int i = 0; i < logs->n; i++) fprintf(f, ",%s", logs->names[i]);
        fprintf(f, "\n");
        c->header_done = true;
    }
    fprintf(f, "%d", epoch);
    for (int i = 0; i < logs->n; i++) fprintf(f, ",%.9g", logs->values[i]);
    fprintf(f, "\n");
    if (fclose(f) != 0) {
        zen__fail(st->model->ctx, "CSVLogger: writing %s failed", c->path);
        fprintf(stderr, "%s\n", zen_ctx_error(st->model->ctx));
        return 1;
    }
    return 0;
}

zen_callback *zen_csv_logger(const char *path) {
    if (!path || strlen(path) >= sizeof ((csv_logger *)0)->path) return NULL;
    zen_callback *cb = callback_new("CSVLogger", sizeof(csv_logger));
    if (!cb) return NULL;
    snprintf(((csv_logger *)cb->state)->path, sizeof ((csv_logger *)cb->state)->path, "%s", path);
    cb->on_train_begin = csv_begin;
    cb->on_epoch_end = csv_epoch;
    return cb;
}

/* ---- ReduceLROnPlateau ---- (Keras's algorithm, step for step) */

typedef struct {
    monitor mon;
    float factor, min_lr;
    int patience, cooldown, cooldown_left;
} reduce_lr;

static int reduce_begin(zen_callback *cb, zen_fit_state *st) {
    reduce_lr *r = cb->state;
    (void)st;
    char name[40];
    snprintf(name, sizeof name, "%s", r->mon.name);
    monitor_init(&r->mon, name, r->mon.min_delta);
    r->cooldown_left = 0;
    return 0;
}

static int reduce_epoch(zen_callback *cb, zen_fit_state *st, int epoch, const zen_metrics *logs) {
    reduce_lr *r = cb->state;
    double v = zen_metrics_get(logs, r->mon.name);
    if (isnan(v)) {
        fprintf(stderr, "warning: ReduceLROnPlateau monitors '%s', which is not in the logs\n", r->mon.name);
        return 0;
    }
    if (r->cooldown_left > 0) {
        r->cooldown_left--;
        r->mon.wait = 0;
    }
    bool better = r->mon.maximize ? v - r->mon.min_delta > r->mon.best : v + r->mon.min_delta < r->mon.best;
    if (better) {
        r->mon.best = v;
        r->mon.wait = 0;
    } else if (r->cooldown_left == 0) {
        r->mon.wait++;
        if (r->mon.wait >= r->patience) {
            float lr = zen_optimizer_lr(st->opt);
            if (lr > r->min_lr) {
                float next = lr * r->factor < r->min_lr ? r->min_lr : lr * r->factor;
                zen_optimizer_set_lr(st->opt, next);
                if (st->verbose)
                    printf("Epoch %d: ReduceLROnPlateau reducing learning rate to %.6g.\n", epoch + 1, next);
                r->cooldown_left = r->cooldown;
                r->mon.wait = 0;
            }
        }
    }
    return 0;
}

zen_callback *zen_reduce_lr_on_plateau(const char *monitor_name, float factor, int patience, float min_delta,
                                       int cooldown, float min_lr) {
    if (!(factor > 0 && factor < 1) || patience < 0 || cooldown < 0 || !(min_lr >= 0)) return NULL;
    zen_callback *cb = callback_new("ReduceLROnPlateau", sizeof(reduce_lr));
    if (!cb) return NULL;
    reduce_lr *r = cb->state;
    monitor_init(&r->mon, monitor_name, min_delta);
    r->factor = factor;
    r->patience = patience;
    r->cooldown = cooldown;
    r->min_lr = min_lr;
    cb->on_train_begin = reduce_begin;
    cb->on_epoch_end = reduce_epoch;
    return cb;
}

/* ---- user hooks ---- */

static int lambda_batch(zen_callback *cb, zen_fit_state *st, int batch, const zen_metrics *logs) {
    return cb->hooks.on_batch_end ? cb->hooks.on_batch_end(cb->hooks.user, st->epoch, batch, logs) : 0;
}

static int lambda_epoch(zen_callback *cb, zen_fit_state *st, int epoch, const zen_metrics *logs) {
    (void)st;
    return cb->hooks.on_epoch_end ? cb->hooks.on_epoch_end(cb->hooks.user, epoch, logs) : 0;
}

zen_callback *zen_lambda_callback(zen_callback_hooks hooks) {
    zen_callback *cb = callback_new("LambdaCallback", 0);
    if (!cb) return NULL;
    cb->hooks = hooks;
    cb->on_batch_end = lambda_batch;
    cb->on_epoch_end = lambda_epoch;
    return cb;
}

/* ---- state in checkpoints ----
 * What a resumed fit needs to go on as the uninterrupted one would: EarlyStopping's best
 * value, wait counter and best epoch (its best weights go into the checkpoint as tensors,
 * see zen__callback_best_weights), ReduceLROnPlateau's best, wait and cooldown left, and
 * ModelCheckpoint's best. Numbers that must come back bit for bit are decimal strings of
 * 17 significant digits ("inf" before the first epoch). Every callback, stateless ones too,
 * is recorded by kind, so a resume can check it was given the same list. */

static void put_double(cJSON *o, const char *key, double v) {
    char b[40];
    snprintf(b, sizeof b, "%.17g", v);
    cJSON_AddStringToObject(o, key, b);
}

static bool get_double(const cJSON *o, const char *key, double *out) {
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(o, key));
    char *end;
    if (!s || !*s) return false;
    errno = 0;
    *out = strtod(s, &end);
    return !*end && !isnan(*out);
}

static bool get_int(const cJSON *o, const char *key, int lo, int *out) {
    const cJSON *v = cJSON_GetObjectItem(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > 1e9 || v->valuedouble != floor(v->valuedouble))
        return false;
    *out = (int)v->valuedouble;
    return true;
}

bool zen__callback_stateful(const zen_callback *cb) {
    return cb && (cb->on_epoch_end == early_epoch || cb->on_epoch_end == reduce_epoch ||
                  cb->on_epoch_end == checkpoint_epoch);
}

cJSON *zen__callback_state(const zen_callback *cb) {
    if (!cb) return cJSON_CreateNull();
    cJSON *s = cJSON_CreateObject();
    cJSON_AddStringToObject(s, "kind", cb->kind);
    const monitor *mon = NULL;
    if (cb->on_epoch_end == early_epoch) {
        const early_stopping *e = cb->state;
        mon = &e->mon;
        cJSON_AddBoolToObject(s, "restore_best_weights", e->restore);
        cJSON_AddNumberToObject(s, "best_epoch", e->best_epoch);
        cJSON_AddBoolToObject(s, "best_weights", zen__callback_best_weights(cb, NULL) != NULL);
    } else if (cb->on_epoch_end == reduce_epoch) {
        const reduce_lr *r = cb->state;
        mon = &r->mon;
        cJSON_AddNumberToObject(s, "cooldown_left", r->cooldown_left);
    } else if (cb->on_epoch_end == checkpoint_epoch) {
        mon = &((const checkpoint *)cb->state)->mon;
    }
    if (mon) {
        cJSON_AddStringToObject(s, "monitor", mon->name);
        put_double(s, "best", mon->best);
        cJSON_AddNumberToObject(s, "wait", mon->wait);
    }
    return s;
}

const float *zen__callback_best_weights(const zen_callback *cb, int64_t *n) {
    if (!cb || cb->on_epoch_end != early_epoch) return NULL;
    const early_stopping *e = cb->state;
    if (!e->restore || !e->best_weights || e->best_epoch < 0) return NULL;
    if (n) *n = e->nweights;
    return e->best_weights;
}

int zen__callback_set_state(zen_callback *cb, int index, const cJSON *s, const float *best, bool apply, char *err,
                            size_t en) {
    const char *kind = cJSON_GetStringValue(cJSON_GetObjectItem(s, "kind"));
    if (!cb || cJSON_IsNull(s)) {
        if (!cb && cJSON_IsNull(s)) return 0;
        snprintf(err, en, "callback %d is %s here but was %s when the checkpoint was written", index,
                 cb ? cb->kind : "NULL", kind ? kind : "NULL");
        return -1;
    }
    if (!kind || strcmp(kind, cb->kind)) {
        snprintf(err, en, "callback %d is %s here but was %.40s when the checkpoint was written (resume with the same "
                          "callbacks in the same order)", index, cb->kind, kind ? kind : "?");
        return -1;
    }
    monitor *mon = cb->on_epoch_end == early_epoch    ? &((early_stopping *)cb->state)->mon
                   : cb->on_epoch_end == reduce_epoch ? &((reduce_lr *)cb->state)->mon
                   : cb->on_epoch_end == checkpoint_epoch ? &((checkpoint *)cb->state)->mon
                                                          : NULL;
    if (!mon) return 0; /* stateless: CSVLogger, LambdaCallback */
    double bestv;
    int wait, best_epoch = -1, cooldown_left = 0;
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(s, "monitor"));
    bool ok = name && get_double(s, "best", &bestv) && get_int(s, "wait", 0, &wait);
    if (ok && cb->on_epoch_end == early_epoch) ok = get_int(s, "best_epoch", -1, &best_epoch);
    if (ok && cb->on_epoch_end == reduce_epoch) ok = get_int(s, "cooldown_left", 0, &cooldown_left);
    if (!ok) {
        snprintf(err, en, "callbacks_state entry %d (%s) needs monitor, best (a decimal string), wait%s", index, kind,
                 cb->on_epoch_end == early_epoch    ? ", best_epoch"
                 : cb->on_epoch_end == reduce_epoch ? ", cooldown_left"
                                                    : "");
        return -1;
    }
    if (strcmp(name, mon->name)) {
        snprintf(err, en, "callback %d (%s) monitors %s here but %.40s in the checkpoint", index, kind, mon->name, name);
        return -1;
    }
    if (cb->on_epoch_end == early_epoch) {
        early_stopping *e = cb->state;
        if (cJSON_IsTrue(cJSON_GetObjectItem(s, "restore_best_weights")) != e->restore) {
            snprintf(err, en, "callback %d (EarlyStopping) has restore_best_weights %s here but %s in the checkpoint",
                     index, e->restore ? "on" : "off", e->restore ? "off" : "on");
            return -1;
        }
        if (e->restore && best_epoch >= 0 && !best) {
            snprintf(err, en, "callback %d (EarlyStopping): the checkpoint has no best weights for best epoch %d", index,
                     best_epoch + 1);
            return -1;
        }
    }
    if (!apply) return 0;
    /* after on_train_begin, which starts every callback afresh */
    mon->best = bestv;
    mon->wait = wait;
    if (cb->on_epoch_end == early_epoch) {
        early_stopping *e = cb->state;
        e->best_epoch = best_epoch;
        if (e->restore && best_epoch >= 0 && e->best_weights)
            memcpy(e->best_weights, best, (size_t)e->nweights * sizeof *best);
    }
    if (cb->on_epoch_end == reduce_epoch) ((reduce_lr *)cb->state)->cooldown_left = cooldown_left;
    return 0;
}
