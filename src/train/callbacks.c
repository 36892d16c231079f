/* callbacks.c — EarlyStopping, ModelCheckpoint, CSVLogger, ReduceLROnPlateau and user
 * hooks, with Keras's semantics (mode "auto": accuracy-like quantities are maximised,
 * everything else minimised). */
#include "train.h"

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

/* ---- EarlyStopping ---- */

typedef struct {
    monitor mon;
    int patience;
    bool restore;
    float *best_weights;
    int best_epoch;
} early_stopping;

static void early_free(void *s) {
    if (!s) return;
    free(((early_stopping *)s)->best_weights);
    free(s);
}

static int early_begin(zen_callback *cb, zen_fit_state *st) {
    early_stopping *e = cb->state;
    (void)st;
    char name[40];
    snprintf(name, sizeof name, "%s", e->mon.name);
    monitor_init(&e->mon, name, e->mon.min_delta);
    e->best_epoch = -1;
    return 0;
}

static int early_epoch(zen_callback *cb, zen_fit_state *st, int epoch, const zen_metrics *logs) {
    early_stopping *e = cb->state;
    int r = monitor_update(&e->mon, logs);
    if (r < 0) return 0;
    if (r == 1) {
        e->best_epoch = epoch;
        if (e->restore) e->best_weights = zen__weights_snapshot(st->model, e->best_weights);
        return 0;
    }
    if (e->mon.wait >= e->patience) {
        if (e->restore && e->best_weights) {
            zen__weights_restore(st->model, e->best_weights);
            printf("EarlyStopping: restoring the weights of epoch %d (best %s %.4f)\n", e->best_epoch + 1, e->mon.name,
                   e->mon.best);
        }
        printf("EarlyStopping: stopped after epoch %d (%s did not improve for %d epochs)\n", epoch + 1, e->mon.name,
               e->patience);
        return 1;
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
    cb->free_state = early_free;
    return cb;
}

/* ---- ModelCheckpoint ---- */

typedef struct {
    monitor mon;
    bool best_only;
    char path[1024];
} checkpoint;

static int checkpoint_epoch(zen_callback *cb, zen_fit_state *st, int epoch, const zen_metrics *logs) {
    checkpoint *c = cb->state;
    (void)epoch;
    if (c->best_only && monitor_update(&c->mon, logs) != 1) return 0;
    if (zen_model_save(st->model, c->path) != 0) {
        fprintf(stderr, "ModelCheckpoint: %s\n", zen_ctx_error(st->model->ctx));
        return 1;
    }
    return 0;
}

zen_callback *zen_model_checkpoint(const char *path, const char *monitor_name, bool save_best_only) {
    if (!path) return NULL;
    zen_callback *cb = callback_new("ModelCheckpoint", sizeof(checkpoint));
    if (!cb) return NULL;
    checkpoint *c = cb->state;
    monitor_init(&c->mon, monitor_name, 0);
    c->best_only = save_best_only;
    snprintf(c->path, sizeof c->path, "%s", path);
    cb->on_epoch_end = checkpoint_epoch;
    return cb;
}

/* ---- CSVLogger ---- */

typedef struct {
    char path[1024];
    bool header_done;
} csv_logger;

static int csv_begin(zen_callback *cb, zen_fit_state *st) {
    csv_logger *c = cb->state;
    (void)st;
    c->header_done = false;
    return 0;
}

static int csv_epoch(zen_callback *cb, zen_fit_state *st, int epoch, const zen_metrics *logs) {
    csv_logger *c = cb->state;
    FILE *f = fopen(c->path, c->header_done || epoch > 0 ? "a" : "w");
    if (!f) {
        zen__fail(st->model->ctx, "CSVLogger: cannot write %s", c->path);
        fprintf(stderr, "%s\n", zen_ctx_error(st->model->ctx));
        return 1;
    }
    if (!c->header_done && epoch == 0) {
        fprintf(f, "epoch");
        for (int i = 0; i < logs->n; i++) fprintf(f, ",%s", logs->names[i]);
        fprintf(f, "\n");
    }
    c->header_done = true;
    fprintf(f, "%d", epoch);
    for (int i = 0; i < logs->n; i++) fprintf(f, ",%.9g", logs->values[i]);
    fprintf(f, "\n");
    fclose(f);
    return 0;
}

zen_callback *zen_csv_logger(const char *path) {
    if (!path) return NULL;
    zen_callback *cb = callback_new("CSVLogger", sizeof(csv_logger));
    if (!cb) return NULL;
    snprintf(((csv_logger *)cb->state)->path, sizeof ((csv_logger *)cb->state)->path, "%s", path);
    cb->on_train_begin = csv_begin;
    cb->on_epoch_end = csv_epoch;
    return cb;
}

/* ---- ReduceLROnPlateau ---- */

typedef struct {
    monitor mon;
    float factor, min_lr;
    int patience, cooldown, cooldown_left;
} reduce_lr;

static int reduce_epoch(zen_callback *cb, zen_fit_state *st, int epoch, const zen_metrics *logs) {
    reduce_lr *r = cb->state;
    /* Keras skips an epoch whose logs lack the monitored quantity entirely (cooldown too). */
    if (isnan(zen_metrics_get(logs, r->mon.name))) return monitor_update(&r->mon, logs), 0;
    if (r->cooldown_left > 0) r->cooldown_left--;
    if (monitor_update(&r->mon, logs) != 0) return 0;
    if (r->cooldown_left > 0) r->mon.wait = 0;
    if (r->mon.wait >= r->patience) {
        float lr = zen_optimizer_lr(st->opt);
        if (lr > r->min_lr) {
            float next = lr * r->factor < r->min_lr ? r->min_lr : lr * r->factor;
            zen_optimizer_set_lr(st->opt, next);
            printf("ReduceLROnPlateau: epoch %d, learning rate %.6g -> %.6g\n", epoch + 1, lr, next);
            r->cooldown_left = r->cooldown;
            r->mon.wait = 0;
        }
    }
    return 0;
}

zen_callback *zen_reduce_lr_on_plateau(const char *monitor_name, float factor, int patience, float min_delta,
                                       int cooldown, float min_lr) {
    if (!(factor > 0 && factor < 1)) return NULL;
    zen_callback *cb = callback_new("ReduceLROnPlateau", sizeof(reduce_lr));
    if (!cb) return NULL;
    reduce_lr *r = cb->state;
    monitor_init(&r->mon, monitor_name, min_delta);
    r->factor = factor;
    r->patience = patience;
    r->cooldown = cooldown;
    r->min_lr = min_lr;
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
