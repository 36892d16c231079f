/* optimizer.c — optimizers: creation from Keras configs, learning-rate schedules,
 * gradient clipping, and the threaded step that calls each type's update. */
#include "train.h"

#include "../ops/loops.h" /* ZEN_TARGET_CLONES */

#include <math.h>
#include <stdlib.h>

#define ZEN_OPTIMIZER(cls, id) extern const zen_optimizer_type zen_optimizer_type_##id;
#include "optimizers/optimizers.def"
#undef ZEN_OPTIMIZER

static const zen_optimizer_type *const optimizer_types[] = {
#define ZEN_OPTIMIZER(cls, id) &zen_optimizer_type_##id,
#include "optimizers/optimizers.def"
#undef ZEN_OPTIMIZER
};

static const zen_optimizer_type *find_type(const char *name) {
    for (size_t i = 0; i < sizeof optimizer_types / sizeof optimizer_types[0]; i++)
        if (!strcasecmp(optimizer_types[i]->class_name, name)) return optimizer_types[i];
    return NULL;
}

/* "(got 3)" / "(got \"x\")" for error messages. */
static const char *got(cJSON *v, char *buf, size_t size) {
    if (cJSON_IsNumber(v)) snprintf(buf, size, "got %g", v->valuedouble);
    else if (cJSON_IsString(v)) snprintf(buf, size, "got \"%.40s\"", v->valuestring);
    else if (cJSON_IsBool(v)) snprintf(buf, size, "got %s", cJSON_IsTrue(v) ? "true" : "false");
    else snprintf(buf, size, "got a JSON %s", cJSON_IsArray(v) ? "array" : cJSON_IsObject(v) ? "object" : "value");
    return buf;
}

bool zen__opt_float(zen_optimizer *opt, cJSON *config, const char *key, float def, float lo, float hi, float *out) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return true;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        char b[64];
        zen__fail(opt->ctx, "%s: %s must be a number in [%g, %g] (%s)", opt->type->class_name, key, lo, hi,
                  got(v, b, sizeof b));
        return false;
    }
    *out = (float)v->valuedouble;
    return true;
}

bool zen__opt_fraction(zen_optimizer *opt, cJSON *config, const char *key, float def, float *out) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return true;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < 1)) {
        char b[64];
        zen__fail(opt->ctx, "%s: %s must be a number in [0, 1) (%s)", opt->type->class_name, key, got(v, b, sizeof b));
        return false;
    }
    *out = (float)v->valuedouble;
    return true;
}

bool zen__opt_bool(zen_optimizer *opt, cJSON *config, const char *key, bool def, bool *out) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return true;
    }
    if (!cJSON_IsBool(v)) {
        char b[64];
        zen__fail(opt->ctx, "%s: %s must be true or false (%s)", opt->type->class_name, key, got(v, b, sizeof b));
        return false;
    }
    *out = cJSON_IsTrue(v);
    return true;
}

static bool in_list(const char *key, const char *const *list) {
    for (; list && *list; list++)
        if (!strcmp(key, *list)) return true;
    return false;
}

/* Every key of obj must be in one of the two lists; the error lists what is known. */
static bool check_keys(zen_optimizer *opt, cJSON *obj, const char *what, const char *const *a, const char *const *b) {
    cJSON *item;
    cJSON_ArrayForEach(item, obj) {
        if (in_list(item->string, a) || in_list(item->string, b)) continue;
        char known[512] = "";
        for (int l = 0; l < 2; l++)
            for (const char *const *k = l ? b : a; k && *k; k++) {
                strncat(known, known[0] ? ", " : "", sizeof known - strlen(known) - 1);
                strncat(known, *k, sizeof known - strlen(known) - 1);
            }
        zen__fail(opt->ctx, "%s: unknown argument '%s' in %s (known: %s)", opt->type->class_name, item->string, what,
                  known);
        return false;
    }
    return true;
}

/* ---- schedules ---- */

/* A schedule number: required or def; > 0 when positive, else >= 0. */
static bool sched_num(zen_optimizer *opt, cJSON *c, const char *cls, const char *key, bool required, bool positive,
                      double def, double *out) {
    cJSON *v = cJSON_GetObjectItem(c, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return zen__fail(opt->ctx, "%s: learning_rate %s needs %s", opt->type->class_name, cls, key), false;
        *out = def;
        return true;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || (positive ? !(v->valuedouble > 0) : v->valuedouble < 0)) {
        char b[64];
        return zen__fail(opt->ctx, "%s: learning_rate %s: %s must be a %s number (%s)", opt->type->class_name, cls,
                         key, positive ? "positive" : "non-negative", got(v, b, sizeof b)), false;
    }
    *out = v->valuedouble;
    return true;
}

static const char *const exp_keys[] = {"initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name", NULL};
static const char *const step_keys[] = {"initial_learning_rate", "step_size", "gamma", "name", NULL};
static const char *const piece_keys[] = {"boundaries", "values", "name", NULL};
static const char *const cos_keys[] = {"initial_learning_rate", "decay_steps", "alpha", "warmup_target", "warmup_steps",
                                       "name", NULL};
/* What Keras's serialization puts around a schedule's config. */
static const char *const sched_wrapper_keys[] = {"class_name", "config", "module", "registered_name", NULL};

static bool parse_schedule(zen_optimizer *opt, cJSON *lr, zen_schedule *s) {
    memset(s, 0, sizeof *s);
    s->kind = ZEN_SCHED_CONSTANT;
    if (!lr || cJSON_IsNull(lr)) {
        s->initial = opt->type->default_lr;
        return true;
    }
    if (cJSON_IsNumber(lr)) {
        if (!(lr->valuedouble > 0) || !isfinite(lr->valuedouble))
            return zen__fail(opt->ctx, "%s: learning_rate must be a positive number (got %g)", opt->type->class_name,
                             lr->valuedouble), false;
        s->initial = lr->valuedouble;
        return true;
    }
    const char *cls = cJSON_GetStringValue(cJSON_GetObjectItem(lr, "class_name"));
    cJSON *c = cJSON_GetObjectItem(lr, "config");
    if (!cJSON_IsObject(lr) || !cls || !cJSON_IsObject(c))
        return zen__fail(opt->ctx, "%s: learning_rate must be a positive number or a schedule "
                                   "{\"class_name\": ..., \"config\": {...}}", opt->type->class_name), false;
    if (!check_keys(opt, lr, "learning_rate", sched_wrapper_keys, NULL)) return false;
    char what[64];
    snprintf(what, sizeof what, "learning_rate %.30s", cls);
    bool ok = true;
    if (!strcmp(cls, "ExponentialDecay")) {
        s->kind = ZEN_SCHED_EXPONENTIAL;
        cJSON *st = cJSON_GetObjectItem(c, "staircase");
        ok = check_keys(opt, c, what, exp_keys, NULL) &&
             sched_num(opt, c, cls, "initial_learning_rate", true, true, 0, &s->initial) &&
             sched_num(opt, c, cls, "decay_steps", true, true, 0, &s->decay_steps) &&
             sched_num(opt, c, cls, "decay_rate", true, true, 0, &s->decay_rate);
        if (ok && st && !cJSON_IsNull(st) && !cJSON_IsBool(st))
            return zen__fail(opt->ctx, "%s: learning_rate %s: staircase must be true or false", opt->type->class_name,
                             cls), false;
        s->staircase = cJSON_IsTrue(st);
    } else if (!strcmp(cls, "StepDecay")) {
        s->kind = ZEN_SCHED_STEP;
        ok = check_keys(opt, c, what, step_keys, NULL) &&
             sched_num(opt, c, cls, "initial_learning_rate", true, true, 0, &s->initial) &&
             sched_num(opt, c, cls, "step_size", true, true, 0, &s->step_size) &&
             sched_num(opt, c, cls, "gamma", false, true, 0.1, &s->gamma);
        if (ok && (s->step_size < 1 || s->step_size != floor(s->step_size)))
            return zen__fail(opt->ctx, "%s: learning_rate %s: step_size must be a whole number of steps >= 1 (got %g)",
                             opt->type->class_name, cls, s->step_size), false;
    } else if (!strcmp(cls, "PiecewiseConstantDecay")) {
        s->kind = ZEN_SCHED_PIECEWISE;
        if (!check_keys(opt, c, what, piece_keys, NULL)) return false;
        cJSON *b = cJSON_GetObjectItem(c, "boundaries"), *v = cJSON_GetObjectItem(c, "values");
        int nb = cJSON_GetArraySize(b);
        if (!cJSON_IsArray(b) || !cJSON_IsArray(v) || nb < 1 || nb > 32 || cJSON_GetArraySize(v) != nb + 1)
            return zen__fail(opt->ctx, "%s: learning_rate %s needs 1 to 32 boundaries and one more values "
                                       "(got %d and %d)", opt->type->class_name, cls, nb, cJSON_GetArraySize(v)), false;
        s->nboundaries = nb;
        for (int i = 0; i <= nb; i++) {
            cJSON *bi = cJSON_GetArrayItem(b, i), *vi = cJSON_GetArrayItem(v, i);
            if ((i < nb && (!cJSON_IsNumber(bi) || !isfinite(bi->valuedouble))) || !cJSON_IsNumber(vi) ||
                !(vi->valuedouble >= 0) || !isfinite(vi->valuedouble))
                return zen__fail(opt->ctx, "%s: learning_rate %s: boundaries must be numbers and values non-negative "
                                           "numbers", opt->type->class_name, cls), false;
            if (i < nb) s->boundaries[i] = bi->valuedouble;
            if (i > 0 && i < nb && !(s->boundaries[i] > s->boundaries[i - 1]))
                return zen__fail(opt->ctx, "%s: learning_rate %s: boundaries must increase", opt->type->class_name,
                                 cls), false;
            s->values[i] = vi->valuedouble;
        }
        s->initial = s->values[0];
    } else if (!strcmp(cls, "CosineDecay")) {
        s->kind = ZEN_SCHED_COSINE;
        ok = check_keys(opt, c, what, cos_keys, NULL) &&
             sched_num(opt, c, cls, "initial_learning_rate", true, false, 0, &s->initial) &&
             sched_num(opt, c, cls, "decay_steps", true, true, 0, &s->decay_steps) &&
             sched_num(opt, c, cls, "alpha", false, false, 0, &s->alpha) &&
             sched_num(opt, c, cls, "warmup_steps", false, false, 0, &s->warmup_steps) &&
             sched_num(opt, c, cls, "warmup_target", false, false, -1, &s->warmup_target);
        if (ok && s->alpha > 1)
            return zen__fail(opt->ctx, "%s: learning_rate %s: alpha must be in [0, 1] (got %g)", opt->type->class_name,
                             cls, s->alpha), false;
        /* Without warmup the decay starts from initial_learning_rate, which must be positive. */
        if (ok && s->warmup_target < 0 && !(s->initial > 0))
            return zen__fail(opt->ctx, "%s: learning_rate %s: initial_learning_rate must be positive without a "
                                       "warmup_target", opt->type->class_name, cls), false;
    } else {
        return zen__fail(opt->ctx, "%s: unknown learning_rate schedule '%s' (known: ExponentialDecay, StepDecay, "
                                   "PiecewiseConstantDecay, CosineDecay)", opt->type->class_name, cls), false;
    }
    return ok;
}

double zen__schedule_lr(const zen_schedule *s, int64_t step) {
    double t = (double)step;
    switch (s->kind) {
    case ZEN_SCHED_CONSTANT: return s->initial;
    case ZEN_SCHED_EXPONENTIAL: {
        double p = t / s->decay_steps;
        return s->initial * pow(s->decay_rate, s->staircase ? floor(p) : p);
    }
    case ZEN_SCHED_STEP: return s->initial * pow(s->gamma, floor(t / s->step_size));
    case ZEN_SCHED_PIECEWISE:
        for (int i = 0; i < s->nboundaries; i++)
            if (t <= s->boundaries[i]) return s->values[i];
        return s->values[s->nboundaries];
    case ZEN_SCHED_COSINE: {
        /* Keras 3: without warmup_target, cosine decay from initial to alpha * initial over
         * decay_steps (warmup_steps ignored). With it, a linear warmup from initial to the
         * target over warmup_steps, then the cosine decay from the target. */
        double from = s->initial;
        if (s->warmup_target >= 0) {
            if (t < s->warmup_steps) return s->initial + (s->warmup_target - s->initial) * t / s->warmup_steps;
            from = s->warmup_target;
            t -= s->warmup_steps;
        }
        double p = fmin(t, s->decay_steps) / s->decay_steps;
        return from * ((1.0 - s->alpha) * 0.5 * (1.0 + cos(M_PI * p)) + s->alpha);
    }
    }
    return s->initial;
}

/* ---- creation ---- */

/* Keras's base optimizer arguments. Those zen does not implement are accepted at their
 * "off" values (what Keras's get_config writes) and rejected otherwise. */
static const char *const base_keys[] = {"name", "learning_rate", "weight_decay", "clipnorm", "clipvalue",
                                        "global_clipnorm", "use_ema", "ema_momentum", "ema_overwrite_frequency",
                                        "loss_scale_factor", "gradient_accumulation_steps", "jit_compile",
                                        "is_legacy_optimizer", "decay", NULL};

static bool configure_base(zen_optimizer *opt, cJSON *cfg) {
    if (!check_keys(opt, cfg, "the config", base_keys, opt->type->keys)) return false;
    const char *cls = opt->type->class_name;
    if (cJSON_IsTrue(cJSON_GetObjectItem(cfg, "use_ema")))
        return zen__fail(opt->ctx, "%s: use_ema is not supported", cls), false;
    cJSON *v = cJSON_GetObjectItem(cfg, "loss_scale_factor");
    if (v && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble == 1))
        return zen__fail(opt->ctx, "%s: loss_scale_factor is not supported (use null)", cls), false;
    v = cJSON_GetObjectItem(cfg, "gradient_accumulation_steps");
    if (v && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble <= 1))
        return zen__fail(opt->ctx, "%s: gradient_accumulation_steps is not supported (use null)", cls), false;
    v = cJSON_GetObjectItem(cfg, "decay");
    if (v && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble == 0))
        return zen__fail(opt->ctx, "%s: decay is no longer supported (Keras 3); use a learning_rate schedule", cls),
               false;
    int nclip = 0;
    const char *clip_keys[] = {"clipnorm", "clipvalue", "global_clipnorm"};
    for (int i = 0; i < 3; i++) {
        v = cJSON_GetObjectItem(cfg, clip_keys[i]);
        nclip += v && !cJSON_IsNull(v);
    }
    if (nclip > 1) return zen__fail(opt->ctx, "%s: only one of clipnorm, clipvalue and global_clipnorm can be set", cls), false;
    return parse_schedule(opt, cJSON_GetObjectItem(cfg, "learning_rate"), &opt->schedule) &&
           zen__opt_float(opt, cfg, "weight_decay", opt->type->default_weight_decay, 0, 1, &opt->hp.weight_decay) &&
           zen__opt_float(opt, cfg, "clipnorm", 0, 0, INFINITY, &opt->clipnorm) &&
           zen__opt_float(opt, cfg, "global_clipnorm", 0, 0, INFINITY, &opt->global_clipnorm) &&
           zen__opt_float(opt, cfg, "clipvalue", 0, 0, INFINITY, &opt->clipvalue);
}

zen_optimizer *zen_optimizer_new(zen_ctx *ctx, const char *class_name, const char *config_json) {
    if (!ctx) return NULL;
    const zen_optimizer_type *type = class_name ? find_type(class_name) : NULL;
    if (!type) {
        char known[256] = "";
        for (size_t i = 0; i < sizeof optimizer_types / sizeof optimizer_types[0]; i++) {
            strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
            strncat(known, optimizer_types[i]->class_name, sizeof known - strlen(known) - 1);
        }
        return zen__fail(ctx, "zen_optimizer_new: unknown optimizer '%s' (known: %s)", class_name ? class_name : "(null)",
                         known);
    }
    cJSON *cfg = config_json ? cJSON_Parse(config_json) : cJSON_CreateObject();
    if (!cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return zen__fail(ctx, "zen_optimizer_new: %s config is not a JSON object", type->class_name);
    }
    zen_optimizer *opt = calloc(1, sizeof *opt);
    if (!opt) {
        cJSON_Delete(cfg);
        return zen__fail(ctx, "zen_optimizer_new: out of memory");
    }
    opt->type = type;
    opt->ctx = ctx;
    opt->lr_scale = 1.0;
    opt->config_json = cJSON_PrintUnformatted(cfg);
    bool ok = opt->config_json && configure_base(opt, cfg) && type->configure(opt, cfg);
    cJSON_Delete(cfg);
    if (!ok) {
        if (!zen_ctx_error(ctx)) zen__fail(ctx, "zen_optimizer_new: out of memory");
        zen_optimizer_free(opt);
        return NULL;
    }
    return opt;
}

void zen_optimizer_free(zen_optimizer *opt) {
    if (!opt) return;
    for (int i = 0; i < opt->nparams; i++)
        for (int k = 0; k < ZEN_OPT_MAX_SLOTS; k++) zen__aligned_free(opt->params[i].slot[k]);
    free(opt->params);
    free(opt->config_json);
    free(opt);
}

float zen_optimizer_lr(const zen_optimizer *opt) {
    return opt ? (float)(zen__schedule_lr(&opt->schedule, opt->iterations) * opt->lr_scale) : 0.0f;
}

void zen_optimizer_set_lr(zen_optimizer *opt, float lr) {
    if (!opt) return;
    if (!(lr > 0) || !isfinite(lr)) {
        zen__fail(opt->ctx, "%s: zen_optimizer_set_lr: the learning rate must be a positive number (got %g)",
                  opt->type->class_name, (double)lr);
        return;
    }
    double base = zen__schedule_lr(&opt->schedule, opt->iterations);
    if (!(base > 0)) {
        zen__fail(opt->ctx, "%s: zen_optimizer_set_lr: the schedule's rate is 0 at step %lld, so it cannot be scaled",
                  opt->type->class_name, (long long)opt->iterations);
        return;
    }
    if (opt->schedule.kind == ZEN_SCHED_CONSTANT) { /* exact: the next steps use lr itself */
        opt->schedule.initial = lr;
        opt->lr_scale = 1.0;
    } else {
        opt->lr_scale = lr / base;
    }
}

int64_t zen_optimizer_iterations(const zen_optimizer *opt) { return opt ? opt->iterations : 0; }

/* State for a parameter list seen for the first time; the same list afterwards. */
static int bind_params(zen_optimizer *opt, int n, zen_tensor *const *params) {
    bool same = opt->nparams == n;
    for (int i = 0; same && i < n; i++) same = opt->params[i].param == params[i];
    if (same) return 0;
    if (opt->nparams)
        return zen__fail(opt->ctx, "%s: step called with another parameter list (the optimizer keeps state for the "
                                   "%d parameters of its first step)", opt->type->class_name, opt->nparams), -1;
    opt->params = calloc((size_t)n, sizeof *opt->params);
    if (!opt->params) return zen__fail(opt->ctx, "%s: out of memory", opt->type->class_name), -1;
    opt->nparams = n;
    int nslots = opt->type->slots(opt);
    for (int i = 0; i < n; i++) {
        opt->params[i].param = params[i];
        int64_t m = zen_numel(params[i]);
        size_t bytes = (size_t)m * sizeof(float);
        for (int k = 0; k < nslots; k++) {
            opt->params[i].slot[k] = zen__aligned_alloc(bytes ? bytes : 4);
            if (!opt->params[i].slot[k]) return zen__fail(opt->ctx, "%s: out of memory", opt->type->class_name), -1;
            memset(opt->params[i].slot[k], 0, bytes);
        }
        if (opt->type->init_slots) opt->type->init_slots(opt, opt->params[i].slot, m);
    }
    return 0;
}

/* Sums of squares in fixed blocks added in order: the same result at any thread count. */
#define NORM_BLOCKS 256
ZEN_TARGET_CLONES static double block_squares(const float *restrict g, int64_t n) {
    double s = 0;
#pragma omp simd reduction(+ : s)
    for (int64_t i = 0; i < n; i++) s += (double)g[i] * (double)g[i];
    return s;
}

static double sum_squares(const float *g, int64_t n, int nt) {
    double part[NORM_BLOCKS];
    int64_t block = n / NORM_BLOCKS + 1;
    if (block < 16384) block = 16384;
    int nb = (int)((n + block - 1) / block);
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && nb > 1)
    for (int b = 0; b < nb; b++) {
        int64_t j0 = b * block;
        part[b] = block_squares(g + j0, n - j0 < block ? n - j0 : block);
    }
    double s = 0;
    for (int b = 0; b < nb; b++) s += part[b];
    return s;
}

static void scale_grad(float *g, int64_t n, float s, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1 && n > 65536)
    for (int64_t i = 0; i < n; i++) g[i] *= s;
}

static void clip_value(float *g, int64_t n, float c, int nt) {
#pragma omp parallel for simd num_threads(nt) schedule(static) if (nt > 1 && n > 65536)
    for (int64_t i = 0; i < n; i++) g[i] = g[i] > c ? c : g[i] < -c ? -c : g[i];
}

/* Keras's clipping (at most one kind is set), applied to the gradients in place before
 * the update:
 *   clipnorm         each gradient g * c / max(||g||, c);
 *   global_clipnorm  all gradients * c / max(sqrt(sum ||g||²), c); a non-finite global norm
 *                    makes every gradient NaN, as in Keras (fit then stops on the NaN loss);
 *   clipvalue        each element clipped to [-c, c]. */
static void clip_gradients(zen_optimizer *opt, int n, zen_tensor *const *params) {
    int nt = zen_ctx_threads(opt->ctx);
    if (opt->clipvalue > 0)
        for (int i = 0; i < n; i++) clip_value(params[i]->grad->data, zen_numel(params[i]), opt->clipvalue, nt);
    if (opt->clipnorm > 0) {
        for (int i = 0; i < n; i++) {
            int64_t m = zen_numel(params[i]);
            double norm = sqrt(sum_squares(params[i]->grad->data, m, nt));
            if (norm > opt->clipnorm) scale_grad(params[i]->grad->data, m, (float)(opt->clipnorm / norm), nt);
        }
    }
    if (opt->global_clipnorm > 0) {
        double total = 0;
        for (int i = 0; i < n; i++) total += sum_squares(params[i]->grad->data, zen_numel(params[i]), nt);
        double norm = sqrt(total);
        if (norm > opt->global_clipnorm || !isfinite(norm)) {
            float scale = isfinite(norm) ? (float)(opt->global_clipnorm / norm) : NAN;
            for (int i = 0; i < n; i++) scale_grad(params[i]->grad->data, zen_numel(params[i]), scale, nt);
        }
    }
}

/* Elements per work item of the threaded update (64 KiB of each array). */
#define UPDATE_CHUNK 16384

int zen_optimizer_step(zen_optimizer *opt, int n, zen_tensor *const *params) {
    if (!opt) return -1;
    if (n < 1 || !params)
        return zen__fail(opt->ctx, "%s: step needs at least one parameter (got %d)", opt->type->class_name, n), -1;
    for (int i = 0; i < n; i++) {
        const zen_tensor *p = params[i];
        if (!p || p->dtype != ZEN_F32 || !zen_is_contiguous(p) || !p->grad || p->grad->dtype != ZEN_F32 ||
            !p->grad->data || !zen_is_contiguous(p->grad) || zen_numel(p->grad) != zen_numel(p))
            return zen__fail(opt->ctx, "%s: parameter %d (%s) has no dense f32 gradient of its size (run "
                                       "zen_graph_backward first)", opt->type->class_name, i,
                             p && p->name[0] ? p->name : "unnamed"), -1;
    }
    if (bind_params(opt, n, params) != 0) return -1;
    clip_gradients(opt, n, params);
    float lr = zen_optimizer_lr(opt);
    int64_t t = ++opt->iterations;
    /* Every parameter is cut into chunks and the chunks of all parameters share the threads:
     * many small tensors and one big one both keep every core busy. Each element's update
     * is independent of the others, so the result does not depend on the thread count. */
    int64_t total_chunks = 0;
    for (int i = 0; i < n; i++) total_chunks += (zen_numel(params[i]) + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
    int nt = zen_ctx_threads(opt->ctx);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4) if (nt > 1 && total_chunks > 1)
    for (int64_t c = 0; c < total_chunks; c++) {
        int64_t k = c;
        int i = 0;
        for (;; i++) {
            int64_t chunks = (zen_numel(params[i]) + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
            if (k < chunks) break;
            k -= chunks;
        }
        int64_t m = zen_numel(params[i]), j0 = k * UPDATE_CHUNK, len = m - j0 < UPDATE_CHUNK ? m - j0 : UPDATE_CHUNK;
        float *slots[ZEN_OPT_MAX_SLOTS];
        for (int s = 0; s < ZEN_OPT_MAX_SLOTS; s++) slots[s] = opt->params[i].slot[s] ? opt->params[i].slot[s] + j0 : NULL;
        opt->type->update(opt, (float *)params[i]->data + j0, (const float *)params[i]->grad->data + j0, slots, len, lr,
                          t);
    }
    return 0;
}

/* ---- state, for checkpoints (src/train/checkpoint.c) ---- */

int zen__optimizer_bind(zen_optimizer *opt, int n, zen_tensor *const *params) { return bind_params(opt, n, params); }

int zen__optimizer_nslots(const zen_optimizer *opt) { return opt->type->slots(opt); }

/* Keras's names for the state arrays, in slot order (see each type's update). */
const char *zen__optimizer_slot_name(const zen_optimizer *opt, int k) {
    const char *cls = opt->type->class_name;
    if (!strcmp(cls, "SGD")) return "momentum";
    if (!strcmp(cls, "Adam") || !strcmp(cls, "AdamW")) return k == 0 ? "m" : k == 1 ? "v" : "vhat";
    if (!strcmp(cls, "Adagrad")) return "accumulator";
    if (!strcmp(cls, "RMSprop")) {
        if (k == 0) return "velocity";
        if (k == 1 && opt->hp.momentum > 0) return "momentum";
        return "average_gradient";
    }
    static const char *generic[ZEN_OPT_MAX_SLOTS] = {"slot0", "slot1", "slot2", "slot3"};
    return k >= 0 && k < ZEN_OPT_MAX_SLOTS ? generic[k] : "slot";
}
