/* optimizer.c — optimizers: creation from Keras configs, learning-rate schedules,
 * gradient clipping, and the threaded step that calls each type's update. */
#include "train.h"

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

bool zen__opt_float(zen_optimizer *opt, cJSON *config, const char *key, float def, float lo, float hi, float *out) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(config, key);
    if (!v || cJSON_IsNull(v)) {
        *out = def;
        return true;
    }
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= lo && v->valuedouble <= hi)) {
        zen__fail(opt->ctx, "%s: %s must be a number in [%g, %g]", opt->type->class_name, key, lo, hi);
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
        zen__fail(opt->ctx, "%s: %s must be true or false", opt->type->class_name, key);
        return false;
    }
    *out = cJSON_IsTrue(v);
    return true;
}

/* ---- schedules ---- */

static bool sched_num(zen_optimizer *opt, cJSON *c, const char *cls, const char *key, bool required, double def,
                      double *out) {
    cJSON *v = cJSON_GetObjectItem(c, key);
    if (!v || cJSON_IsNull(v)) {
        if (required) return zen__fail(opt->ctx, "%s: learning_rate %s needs %s", opt->type->class_name, cls, key), false;
        *out = def;
        return true;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble) || v->valuedouble < 0)
        return zen__fail(opt->ctx, "%s: learning_rate %s: %s must be a non-negative number", opt->type->class_name, cls,
                         key), false;
    *out = v->valuedouble;
    return true;
}

static bool parse_schedule(zen_optimizer *opt, cJSON *lr, zen_schedule *s) {
    memset(s, 0, sizeof *s);
    if (!lr || cJSON_IsNull(lr)) {
        s->kind = ZEN_SCHED_CONSTANT;
        s->initial = 0.001;
        return true;
    }
    if (cJSON_IsNumber(lr)) {
        if (!(lr->valuedouble > 0) || !isfinite(lr->valuedouble))
            return zen__fail(opt->ctx, "%s: learning_rate must be positive", opt->type->class_name), false;
        s->kind = ZEN_SCHED_CONSTANT;
        s->initial = lr->valuedouble;
        return true;
    }
    const char *cls = cJSON_GetStringValue(cJSON_GetObjectItem(lr, "class_name"));
    cJSON *c = cJSON_GetObjectItem(lr, "config");
    if (!cls || !cJSON_IsObject(c))
        return zen__fail(opt->ctx, "%s: learning_rate must be a number or {\"class_name\": ..., \"config\": {...}}",
                         opt->type->class_name), false;
    bool ok = true;
    if (!strcmp(cls, "ExponentialDecay")) {
        s->kind = ZEN_SCHED_EXPONENTIAL;
        ok = sched_num(opt, c, cls, "initial_learning_rate", true, 0, &s->initial) &&
             sched_num(opt, c, cls, "decay_steps", true, 0, &s->decay_steps) &&
             sched_num(opt, c, cls, "decay_rate", true, 0, &s->decay_rate);
        s->staircase = cJSON_IsTrue(cJSON_GetObjectItem(c, "staircase"));
        if (ok && s->decay_steps <= 0) return zen__fail(opt->ctx, "%s: decay_steps must be positive", cls), false;
    } else if (!strcmp(cls, "StepDecay")) {
        s->kind = ZEN_SCHED_STEP;
        ok = sched_num(opt, c, cls, "initial_learning_rate", true, 0, &s->initial) &&
             sched_num(opt, c, cls, "step_size", true, 0, &s->step_size) &&
             sched_num(opt, c, cls, "gamma", false, 0.1, &s->gamma);
        if (ok && s->step_size < 1) return zen__fail(opt->ctx, "%s: step_size must be at least 1", cls), false;
    } else if (!strcmp(cls, "PiecewiseConstantDecay")) {
        s->kind = ZEN_SCHED_PIECEWISE;
        cJSON *b = cJSON_GetObjectItem(c, "boundaries"), *v = cJSON_GetObjectItem(c, "values");
        int nb = cJSON_GetArraySize(b);
        if (!cJSON_IsArray(b) || !cJSON_IsArray(v) || nb > 32 || cJSON_GetArraySize(v) != nb + 1)
            return zen__fail(opt->ctx, "%s: needs boundaries (up to 32) and one more values", cls), false;
        s->nboundaries = nb;
        for (int i = 0; i <= nb; i++) {
            cJSON *bi = cJSON_GetArrayItem(b, i), *vi = cJSON_GetArrayItem(v, i);
            if ((i < nb && !cJSON_IsNumber(bi)) || !cJSON_IsNumber(vi))
                return zen__fail(opt->ctx, "%s: boundaries and values must be numbers", cls), false;
            if (i < nb) s->boundaries[i] = bi->valuedouble;
            s->values[i] = vi->valuedouble;
        }
        s->initial = s->values[0];
    } else if (!strcmp(cls, "CosineDecay")) {
        s->kind = ZEN_SCHED_COSINE;
        ok = sched_num(opt, c, cls, "initial_learning_rate", true, 0, &s->initial) &&
             sched_num(opt, c, cls, "decay_steps", true, 0, &s->decay_steps) &&
             sched_num(opt, c, cls, "alpha", false, 0, &s->alpha) &&
             sched_num(opt, c, cls, "warmup_steps", false, 0, &s->warmup_steps) &&
             sched_num(opt, c, cls, "warmup_target", false, -1, &s->warmup_target);
    } else {
        return zen__fail(opt->ctx, "%s: unknown learning_rate schedule '%s' (ExponentialDecay, StepDecay, "
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
        /* Keras 3: linear warmup from initial to warmup_target, then cosine decay from the
         * target (or from initial without warmup) to alpha * that over decay_steps. */
        double peak = s->warmup_target >= 0 ? s->warmup_target : s->initial;
        if (s->warmup_steps > 0 && t < s->warmup_steps) return s->initial + (peak - s->initial) * t / s->warmup_steps;
        double p = s->decay_steps > 0 ? fmin(t - s->warmup_steps, s->decay_steps) / s->decay_steps : 1.0;
        double cosine = 0.5 * (1.0 + cos(M_PI * p));
        return peak * ((1.0 - s->alpha) * cosine + s->alpha);
    }
    }
    return s->initial;
}

/* ---- creation ---- */

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
    bool ok = parse_schedule(opt, cJSON_GetObjectItem(cfg, "learning_rate"), &opt->schedule) &&
              zen__opt_float(opt, cfg, "clipnorm", 0, 0, INFINITY, &opt->clipnorm) &&
              zen__opt_float(opt, cfg, "global_clipnorm", 0, 0, INFINITY, &opt->global_clipnorm) &&
              zen__opt_float(opt, cfg, "clipvalue", 0, 0, INFINITY, &opt->clipvalue) && type->configure(opt, cfg);
    cJSON_Delete(cfg);
    if (!ok) {
        zen_optimizer_free(opt);
        return NULL;
    }
    return opt;
}

void zen_optimizer_free(zen_optimizer *opt) {
    if (!opt) return;
    for (int i = 0; i < opt->nparams; i++)
        for (int k = 0; k < 4; k++) zen__aligned_free(opt->params[i].slot[k]);
    free(opt->params);
    free(opt->config_json);
    free(opt);
}

float zen_optimizer_lr(const zen_optimizer *opt) {
    return (float)(zen__schedule_lr(&opt->schedule, opt->iterations) * opt->lr_scale);
}

void zen_optimizer_set_lr(zen_optimizer *opt, float lr) {
    double base = zen__schedule_lr(&opt->schedule, opt->iterations);
    if (base > 0) opt->lr_scale = lr / base;
}

int64_t zen_optimizer_iterations(const zen_optimizer *opt) { return opt->iterations; }

/* State for a parameter list seen for the first time (or a different list). */
static int bind_params(zen_optimizer *opt, int n, zen_tensor *const *params) {
    bool same = opt->nparams == n;
    for (int i = 0; same && i < n; i++) same = opt->params[i].param == params[i];
    if (same) return 0;
    if (opt->nparams) return zen__fail(opt->ctx, "%s: step called with another parameter list", opt->type->class_name), -1;
    opt->params = calloc((size_t)n, sizeof *opt->params);
    if (!opt->params) return zen__fail(opt->ctx, "%s: out of memory", opt->type->class_name), -1;
    opt->nparams = n;
    for (int i = 0; i < n; i++) {
        opt->params[i].param = params[i];
        size_t bytes = (size_t)zen_numel(params[i]) * sizeof(float);
        for (int k = 0; k < opt->type->slots; k++) {
            opt->params[i].slot[k] = zen__aligned_alloc(bytes ? bytes : 4);
            if (!opt->params[i].slot[k]) return zen__fail(opt->ctx, "%s: out of memory", opt->type->class_name), -1;
            memset(opt->params[i].slot[k], 0, bytes);
            if (opt->type == find_type("Adagrad"))
                for (int64_t j = 0; j < zen_numel(params[i]); j++) opt->params[i].slot[k][j] = opt->hp.initial_accumulator;
        }
    }
    return 0;
}

static double sum_squares(const float *g, int64_t n) {
    double s = 0;
#pragma omp parallel for reduction(+ : s) schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) s += (double)g[i] * g[i];
    return s;
}

static void scale_grad(float *g, int64_t n, float s) {
#pragma omp parallel for schedule(static) if (n > 65536)
    for (int64_t i = 0; i < n; i++) g[i] *= s;
}

/* Keras's clipping, applied to the gradients in place before the update. */
static void clip_gradients(zen_optimizer *opt, int n, zen_tensor *const *params) {
    if (opt->clipvalue > 0) {
        float c = opt->clipvalue;
        for (int i = 0; i < n; i++) {
            float *g = params[i]->grad->data;
            int64_t m = zen_numel(params[i]);
            for (int64_t j = 0; j < m; j++) g[j] = g[j] > c ? c : g[j] < -c ? -c : g[j];
        }
    }
    if (opt->clipnorm > 0) {
        for (int i = 0; i < n; i++) {
            int64_t m = zen_numel(params[i]);
            double norm = sqrt(sum_squares(params[i]->grad->data, m));
            if (norm > opt->clipnorm) scale_grad(params[i]->grad->data, m, (float)(opt->clipnorm / norm));
        }
    }
    if (opt->global_clipnorm > 0) {
        double total = 0;
        for (int i = 0; i < n; i++) total += sum_squares(params[i]->grad->data, zen_numel(params[i]));
        double norm = sqrt(total);
        if (norm > opt->global_clipnorm)
            for (int i = 0; i < n; i++)
                scale_grad(params[i]->grad->data, zen_numel(params[i]), (float)(opt->global_clipnorm / norm));
    }
}

#define UPDATE_CHUNK 16384

int zen_optimizer_step(zen_optimizer *opt, int n, zen_tensor *const *params) {
    if (!opt) return -1;
    for (int i = 0; i < n; i++) {
        if (!params[i] || params[i]->dtype != ZEN_F32 || !params[i]->grad || !zen_is_contiguous(params[i]->grad))
            return zen__fail(opt->ctx, "%s: parameter %d has no dense f32 gradient (run zen_graph_backward first)",
                             opt->type->class_name, i), -1;
    }
    if (bind_params(opt, n, params) != 0) return -1;
    clip_gradients(opt, n, params);
    float lr = zen_optimizer_lr(opt);
    int64_t t = ++opt->iterations;
    /* Every parameter is cut into chunks and the chunks of all parameters share the threads:
     * many small tensors and one big one both keep every core busy. */
    int64_t total_chunks = 0;
    for (int i = 0; i < n; i++) total_chunks += (zen_numel(params[i]) + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
#pragma omp parallel for schedule(dynamic, 4) if (total_chunks > 1)
    for (int64_t c = 0; c < total_chunks; c++) {
        int64_t k = c;
        int i = 0;
        for (;; i++) {
            int64_t chunks = (zen_numel(params[i]) + UPDATE_CHUNK - 1) / UPDATE_CHUNK;
            if (k < chunks) break;
            k -= chunks;
        }
        int64_t m = zen_numel(params[i]), j0 = k * UPDATE_CHUNK, len = m - j0 < UPDATE_CHUNK ? m - j0 : UPDATE_CHUNK;
        float *slots[4];
        for (int s = 0; s < 4; s++) slots[s] = opt->params[i].slot[s] ? opt->params[i].slot[s] + j0 : NULL;
        opt->type->update(opt, (float *)params[i]->data + j0, (const float *)params[i]->grad->data + j0, slots, len, lr,
                          t);
    }
    return 0;
}
