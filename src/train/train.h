/* train.h — optimizers, metrics, callbacks and the trainer, shared by src/train/. */
#ifndef ZEN_TRAIN_H
#define ZEN_TRAIN_H

#include "../nn/nn.h"

/* ---- optimizers ----
 * An optimizer type updates one parameter tensor at a time given its gradient, its
 * per-parameter state slots and the learning rate of this step. What every type shares
 * (learning_rate and its schedules, weight_decay, clipnorm / global_clipnorm / clipvalue,
 * the other Keras base arguments) is read and applied in optimizer.c; gradient clipping
 * happens there, before the update. */
#define ZEN_OPT_MAX_SLOTS 4
typedef struct zen_optimizer_type {
    const char *class_name;
    float default_lr;           /* Keras's default learning_rate for this class */
    float default_weight_decay; /* 0: None (AdamW: 0.004) */
    const char *const *keys;    /* the class's own config keys, NULL-terminated (unknown keys are errors) */
    /* Reads the type's hyperparameters from the config into opt->hp; false on a bad value. */
    bool (*configure)(zen_optimizer *opt, cJSON *config);
    /* State arrays per parameter for this configuration (at most ZEN_OPT_MAX_SLOTS; e.g. SGD
     * without momentum has none, Adam has a third for amsgrad). */
    int (*slots)(const zen_optimizer *opt);
    /* Sets a parameter's state arrays (n floats each) before the first step; NULL: zeros. */
    void (*init_slots)(const zen_optimizer *opt, float *const *slot, int64_t n);
    /* Applies weight decay (w -= lr * weight_decay * w, Keras's decoupled form) and then the
     * update for n elements; slot[k] are this parameter's state arrays; t is the 1-based step
     * count (bias corrections). Runs on one thread over [0, n): the caller splits big
     * tensors across threads, so the result must not depend on where a chunk starts. */
    void (*update)(const zen_optimizer *opt, float *w, const float *g, float *const *slot, int64_t n, float lr,
                   int64_t t);
} zen_optimizer_type;

/* Learning-rate schedules by optimizer step. */
typedef enum { ZEN_SCHED_CONSTANT, ZEN_SCHED_EXPONENTIAL, ZEN_SCHED_STEP, ZEN_SCHED_PIECEWISE, ZEN_SCHED_COSINE } zen_sched_kind;
typedef struct zen_schedule {
    zen_sched_kind kind;
    double initial, decay_steps, decay_rate, step_size, gamma, alpha, warmup_target, warmup_steps;
    bool staircase;
    int nboundaries;
    double boundaries[32], values[33];
} zen_schedule;
double zen__schedule_lr(const zen_schedule *s, int64_t step);

/* One parameter's state. */
typedef struct zen_opt_param {
    const zen_tensor *param;
    float *slot[ZEN_OPT_MAX_SLOTS];
    float *accum; /* the summed gradients of the micro-steps so far (gradient accumulation) */
} zen_opt_param;

struct zen_optimizer {
    const zen_optimizer_type *type;
    zen_ctx *ctx;
    zen_schedule schedule;
    double lr_scale; /* set_lr's factor on top of the schedule */
    float clipnorm, global_clipnorm, clipvalue; /* 0: off (Keras allows one of them) */
    /* Hyperparameters; weight_decay is read by optimizer.c, the rest by each type. */
    struct {
        float beta_1, beta_2, epsilon, momentum, rho, weight_decay, initial_accumulator;
        bool nesterov, amsgrad, centered;
    } hp;
    int64_t iterations;  /* updates applied (Keras's `iterations`) */
    int accum_steps;     /* gradient_accumulation_steps; 0: off (every step updates) */
    int64_t micro_steps; /* steps taken with accumulation on (Keras's `_iterations`) */
    zen_opt_param *params;
    int nparams;
    char *config_json; /* as given, for model files */
};

/* Config readers for optimizer types (errors name the optimizer and key, and the value).
 * zen__opt_float accepts [lo, hi]; zen__opt_fraction [0, 1) (beta_1, beta_2). */
bool zen__opt_float(zen_optimizer *opt, cJSON *config, const char *key, float def, float lo, float hi, float *out);
bool zen__opt_fraction(zen_optimizer *opt, cJSON *config, const char *key, float def, float *out);
bool zen__opt_bool(zen_optimizer *opt, cJSON *config, const char *key, bool def, bool *out);

/* ---- metrics: running values over an epoch, fed batch by batch on the host ---- */
typedef struct zen_metric zen_metric;
struct zen_metric {
    char name[40];
    int kind; /* see metrics.c */
    int k;    /* top-k */
    double sum, count;
    double tp, fp, fn; /* precision / recall / f1 */
    int64_t *class_counts; /* macro F1: tp, fp, fn per class (3 * nclasses) */
    int nclasses;
};
/* Resolves a Keras metric name for a loss ("accuracy" depends on it). NULL on unknown. */
zen_metric *zen__metric_new(zen_ctx *ctx, const char *name, const char *loss);
void zen__metric_free(zen_metric *m);
void zen__metric_reset(zen_metric *m);
/* pred: the model output [B, ...]; target: f32 (one-hot or values) or i32 classes. */
void zen__metric_update(zen_metric *m, const zen_tensor *pred, const zen_tensor *target, int64_t batch);
double zen__metric_result(const zen_metric *m);

/* ---- callbacks ---- */
typedef struct zen_fit_state {
    zen_model *model;
    zen_optimizer *opt;
    int epoch, epochs, steps;
    int verbose; /* the progress mode (0 silent): callbacks print only when it is set */
    bool stop;
    const char *stop_reason;
} zen_fit_state;

struct zen_callback {
    const char *kind;
    /* Any hook may be NULL; returning nonzero stops training. */
    int (*on_train_begin)(zen_callback *cb, zen_fit_state *st);
    int (*on_batch_end)(zen_callback *cb, zen_fit_state *st, int batch, const zen_metrics *logs);
    int (*on_epoch_end)(zen_callback *cb, zen_fit_state *st, int epoch, const zen_metrics *logs);
    int (*on_train_end)(zen_callback *cb, zen_fit_state *st);
    void (*free_state)(void *state);
    void *state;
    zen_callback_hooks hooks;
};

/* Is "bigger is better" for a monitored quantity (Keras's mode="auto")? */
bool zen__monitor_max(const char *monitor);

/* Copies of all weights (for EarlyStopping's restore_best_weights). */
float *zen__weights_snapshot(const zen_model *m, float *buf);
void zen__weights_restore(zen_model *m, const float *buf);

/* Callback state for checkpoints (callbacks.c). zen__callback_state: a JSON object with the
 * callback's kind and what it carries from epoch to epoch (null for a NULL entry).
 * zen__callback_best_weights: EarlyStopping's best weights (restore_best_weights, after a
 * best epoch; n floats in zen__weights_snapshot's order), else NULL. zen__callback_set_state
 * checks s against cb (same kind, monitor, restore_best_weights: err says what differs) and,
 * with apply, puts it in (call it after on_train_begin); best: the weights for EarlyStopping. */
cJSON *zen__callback_state(const zen_callback *cb);
bool zen__callback_stateful(const zen_callback *cb); /* EarlyStopping, ReduceLROnPlateau, ModelCheckpoint */
const float *zen__callback_best_weights(const zen_callback *cb, int64_t *n);
int zen__callback_set_state(zen_callback *cb, int index, const cJSON *s, const float *best, bool apply, char *err,
                            size_t en);

/* ---- the trainer: what compile sets up and fit/evaluate/predict use ---- */
typedef struct zen_trainer {
    zen_optimizer *opt;
    char loss[48];
    zen_metric *metrics[ZEN_MAX_METRICS];
    int nmetrics;
    /* the model's graphs by kind and batch size (fit.c) */
    struct zen_graph_cache *graphs;
    zen_tensor *params[512];
    int nparams;
} zen_trainer;

void zen__trainer_free(zen_trainer *t);

/* Progress output (progress.c): a Keras-style bar on a terminal, else a line per epoch. */
typedef struct zen_progress zen_progress;
zen_progress *zen__progress_new(int verbose, int epochs);
void zen__progress_epoch_begin(zen_progress *p, int epoch, int64_t steps);
void zen__progress_batch(zen_progress *p, int64_t step, const zen_metrics *logs);
void zen__progress_epoch_end(zen_progress *p, const zen_metrics *logs, double seconds);
/* Ends a half-drawn line (before an error message mid-epoch). */
void zen__progress_interrupt(zen_progress *p);
int zen__progress_mode(const zen_progress *p); /* 0 silent, 1 bar, 2 line per epoch */
void zen__progress_free(zen_progress *p);

/* ---- model files and checkpoints (save.c, load.c, checkpoint.c) ---- */

/* Optimizer state (optimizer.c): binds the parameter list as the first step would (state
 * arrays zeroed or initialised), the number of state arrays, and their Keras names. */
int zen__optimizer_bind(zen_optimizer *opt, int n, zen_tensor *const *params);
int zen__optimizer_nslots(const zen_optimizer *opt);
const char *zen__optimizer_slot_name(const zen_optimizer *opt, int k);

/* Where a fit stands after an epoch: what a checkpoint adds to the model file. */
typedef struct zen_train_state {
    int epoch;         /* epochs done: the next epoch to run */
    uint64_t seed;     /* the fit's seed (dropout masks, shuffles) */
    bool shuffle;
    int batch_size;
    zen_rng rng;       /* the shuffling generator after the last epoch's shuffle */
    int64_t *order;    /* the last epoch's sample order, n entries */
    int64_t n;
    zen_history *history; /* the epochs so far */
    /* Callbacks. Writing: the fit's list (their state goes into "callbacks_state"). Read
     * back: cb_state is the checkpoint's callbacks_state array (NULL in files written before
     * it existed: the callbacks start afresh); for the resumed fit's callback i, cb_entry[i]
     * is its entry in cb_state (NULL: stateless) and cb_best[i] its best weights or NULL
     * (ncb entries). */
    zen_callback *const *callbacks;
    int ncallbacks;
    cJSON *cb_state;
    cJSON **cb_entry;
    float **cb_best;
    int ncb;
} zen_train_state;

/* Frees what a checkpoint load put in ts and zeroes it. */
void zen__train_state_clear(zen_train_state *ts);

/* Writes m (weights, spec, compile, class names) to path atomically; with ts, a checkpoint:
 * also the optimizer state and ts. Errors go to m->ctx, naming path. */
int zen__model_write(zen_model *m, const char *path, const zen_train_state *ts);
/* zen_model_load from memory (name is used in messages): what the fuzzer calls. */
zen_model *zen__model_load_mem(zen_ctx *ctx, const unsigned char *buf, size_t size, const char *name);
/* Loads a checkpoint of this model (same spec and optimizer class) into m: weights, build
 * seed and optimizer state, and fills ts (zeroed by the caller; n: the training samples the
 * order must cover; initial_epoch: 0 or the epoch the checkpoint must be at). The caller
 * calls zen__train_state_clear. cbs: the callbacks of the resumed fit, checked against the
 * checkpoint's (their state is not set here: fit does that after on_train_begin). Nothing
 * in m changes when it fails. The caller drops graphs built before (they hold the old seed). */
int zen__checkpoint_load(zen_model *m, const char *path, int64_t n, int initial_epoch, zen_callback *const *cbs,
                         int ncbs, zen_train_state *ts);
/* The same from memory (path names it in messages): what the fuzzer calls. */
int zen__checkpoint_load_mem(zen_model *m, const unsigned char *buf, size_t size, const char *path, int64_t n,
                             int initial_epoch, zen_callback *const *cbs, int ncbs, zen_train_state *ts);

#endif
