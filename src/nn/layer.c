/* layer.c — layers: creation from Keras class names and configs, config readers,
 * weights and their initializers, activations, layout conversions. */
#include "nn.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* ---- the registry, from layers/layers.def ---- */

#define ZEN_LAYER(cls, id) extern const zen_layer_type zen_layer_type_##id;
#include "layers/layers.def"
#undef ZEN_LAYER

static const zen_layer_type *const layer_types[] = {
#define ZEN_LAYER(cls, id) &zen_layer_type_##id,
#include "layers/layers.def"
#undef ZEN_LAYER
};

const zen_layer_type *zen__layer_type(const char *class_name) {
    if (!class_name) return NULL;
    for (size_t i = 0; i < sizeof layer_types / sizeof layer_types[0]; i++)
        if (!strcmp(layer_types[i]->class_name, class_name)) return layer_types[i];
    if (!strcmp(class_name, "InputLayer")) return zen__layer_type("Input"); /* Keras's JSON name */
    return NULL;
}

/* ---- creating and configuring ---- */

zen_layer *zen_layer_new(zen_ctx *ctx, const char *class_name, const char *config_json) {
    const zen_layer_type *type = zen__layer_type(class_name);
    if (!type) {
        char known[512] = "";
        for (size_t i = 0; i < sizeof layer_types / sizeof layer_types[0]; i++) {
            strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
            strncat(known, layer_types[i]->class_name, sizeof known - strlen(known) - 1);
        }
        return zen__fail(ctx, "zen_layer_new: unknown layer class '%s' (known: %s)", class_name ? class_name : "(null)",
                         known);
    }
    cJSON *cfg = config_json ? cJSON_Parse(config_json) : cJSON_CreateObject();
    if (!cfg || !cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return zen__fail(ctx, "zen_layer_new: %s config is not a JSON object: %.80s", class_name, config_json);
    }
    zen_layer *l = calloc(1, sizeof *l);
    if (!l) {
        cJSON_Delete(cfg);
        return zen__fail(ctx, "zen_layer_new: out of memory");
    }
    l->type = type;
    l->ctx = ctx;
    l->config = cfg;
    const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "name"));
    if (name) snprintf(l->name, sizeof l->name, "%s", name);
    return l;
}

int zen_layer_set(zen_layer *l, const char *key, const char *json_value) {
    if (!l) return -1;
    cJSON *v = cJSON_Parse(json_value);
    if (!v) return zen__layer_fail(l, "%s: value is not JSON: %.80s", key, json_value), -1;
    if (l->built) {
        cJSON_Delete(v);
        return zen__layer_fail(l, "%s: cannot change a built layer", key), -1;
    }
    cJSON_DeleteItemFromObject(l->config, key);
    cJSON_AddItemToObject(l->config, key, v);
    if (!strcmp(key, "name") && cJSON_IsString(v)) snprintf(l->name, sizeof l->name, "%s", v->valuestring);
    return 0;
}

void zen_layer_free(zen_layer *l) {
    if (!l) return;
    cJSON_Delete(l->config);
    free(l->state);
    free(l);
}

const char *zen_layer_name(const zen_layer *l) { return l ? l->name : NULL; }
int zen_layer_n_weights(const zen_layer *l) { return l ? l->nweights : 0; }

zen_tensor *zen_layer_weight(const zen_layer *l, int i, const char **name, bool *trainable) {
    if (!l || i < 0 || i >= l->nweights) return NULL;
    if (name) *name = l->weight_names[i];
    if (trainable) *trainable = l->trainable[i];
    return l->weights[i];
}

static zen_layer *with_config(zen_ctx *ctx, const char *cls, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static zen_layer *with_config(zen_ctx *ctx, const char *cls, const char *fmt, ...) {
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return zen_layer_new(ctx, cls, buf);
}

static const char *act_json(const char *activation, char *buf, size_t n) {
    if (!activation) return "null";
    snprintf(buf, n, "\"%s\"", activation);
    return buf;
}

zen_layer *zen_layer_dense(zen_ctx *ctx, int units, const char *activation) {
    char a[64];
    return with_config(ctx, "Dense", "{\"units\": %d, \"activation\": %s}", units, act_json(activation, a, sizeof a));
}

zen_layer *zen_layer_conv2d(zen_ctx *ctx, int filters, int kh, int kw, const char *activation) {
    char a[64];
    return with_config(ctx, "Conv2D", "{\"filters\": %d, \"kernel_size\": [%d, %d], \"activation\": %s}", filters, kh,
                       kw, act_json(activation, a, sizeof a));
}

zen_layer *zen_layer_max_pooling2d(zen_ctx *ctx, int ph, int pw) {
    return with_config(ctx, "MaxPooling2D", "{\"pool_size\": [%d, %d]}", ph, pw);
}

zen_layer *zen_layer_flatten(zen_ctx *ctx) { return zen_layer_new(ctx, "Flatten", NULL); }

zen_layer *zen_layer_dropout(zen_ctx *ctx, float rate) {
    return with_config(ctx, "Dropout", "{\"rate\": %.9g}", (double)rate);
}

void *zen__layer_state(zen_layer *l, size_t size) {
    if (!l->state) l->state = calloc(1, size);
    if (!l->state) zen__layer_fail(l, "out of memory");
    return l->state;
}

/* ---- config readers ---- */

bool zen__layer_fail(zen_layer *l, const char *fmt, ...) {
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    zen__fail(l->ctx, "%s '%s': %s", l->type->class_name, l->name[0] ? l->name : "(unnamed)", msg);
    return false;
}

static cJSON *cfg_get(zen_layer *l, const char *key) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(l->config, key);
    return cJSON_IsNull(v) ? NULL : v;
}

static bool is_int(const cJSON *v) { return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 2e9; }

bool zen__cfg_int(zen_layer *l, const char *key, int def, bool required, int *out) {
    cJSON *v = cfg_get(l, key);
    if (!v) {
        if (required) return zen__layer_fail(l, "%s is required", key);
        *out = def;
        return true;
    }
    if (!is_int(v)) return zen__layer_fail(l, "%s must be an integer", key);
    *out = (int)v->valuedouble;
    return true;
}

bool zen__cfg_float(zen_layer *l, const char *key, float def, float *out) {
    cJSON *v = cfg_get(l, key);
    if (!v) {
        *out = def;
        return true;
    }
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) return zen__layer_fail(l, "%s must be a number", key);
    *out = (float)v->valuedouble;
    return true;
}

bool zen__cfg_bool(zen_layer *l, const char *key, bool def, bool *out) {
    cJSON *v = cfg_get(l, key);
    if (!v) {
        *out = def;
        return true;
    }
    if (!cJSON_IsBool(v)) return zen__layer_fail(l, "%s must be true or false", key);
    *out = cJSON_IsTrue(v);
    return true;
}

bool zen__cfg_str(zen_layer *l, const char *key, const char *def, const char **out) {
    cJSON *v = cfg_get(l, key);
    if (!v) {
        *out = def;
        return true;
    }
    if (!cJSON_IsString(v)) return zen__layer_fail(l, "%s must be a string", key);
    *out = v->valuestring;
    return true;
}

bool zen__cfg_ints(zen_layer *l, const char *key, int n, const int *def, bool required, int *out) {
    cJSON *v = cfg_get(l, key);
    if (!v) {
        if (required || !def) return zen__layer_fail(l, "%s is required", key);
        for (int i = 0; i < n; i++) out[i] = def[i];
        return true;
    }
    if (is_int(v)) {
        for (int i = 0; i < n; i++) out[i] = (int)v->valuedouble;
    } else if (cJSON_IsArray(v) && cJSON_GetArraySize(v) == n) {
        for (int i = 0; i < n; i++) {
            cJSON *e = cJSON_GetArrayItem(v, i);
            if (!is_int(e)) return zen__layer_fail(l, "%s must be 1 or %d integers", key, n);
            out[i] = (int)e->valuedouble;
        }
    } else {
        return zen__layer_fail(l, "%s must be 1 or %d integers", key, n);
    }
    for (int i = 0; i < n; i++)
        if (out[i] <= 0) return zen__layer_fail(l, "%s must be positive, got %d", key, out[i]);
    return true;
}

/* ---- activations ---- */

static const struct { const char *name; zen_activation act; } activations[] = {
    {"linear", ZEN_ACT_LINEAR}, {"relu", ZEN_ACT_RELU},       {"sigmoid", ZEN_ACT_SIGMOID},
    {"tanh", ZEN_ACT_TANH},     {"softmax", ZEN_ACT_SOFTMAX}, {"gelu", ZEN_ACT_GELU},
    {"silu", ZEN_ACT_SILU},     {"swish", ZEN_ACT_SILU},      {"elu", ZEN_ACT_ELU},
    {"softplus", ZEN_ACT_SOFTPLUS}, {"leaky_relu", ZEN_ACT_LEAKY_RELU}, {"log_softmax", ZEN_ACT_LOG_SOFTMAX},
};

bool zen__parse_activation(zen_layer *l, const char *key, zen_activation *out) {
    const char *s;
    if (!zen__cfg_str(l, key, "linear", &s)) return false;
    for (size_t i = 0; i < sizeof activations / sizeof activations[0]; i++) {
        if (!strcmp(activations[i].name, s)) {
            *out = activations[i].act;
            return true;
        }
    }
    return zen__layer_fail(l, "%s '%s' is not a known activation (relu, sigmoid, tanh, softmax, gelu, silu, elu, "
                              "softplus, leaky_relu, log_softmax, linear)", key, s);
}

const char *zen__activation_name(zen_activation act) {
    for (size_t i = 0; i < sizeof activations / sizeof activations[0]; i++)
        if (activations[i].act == act) return activations[i].name;
    return "linear";
}

zen_tensor *zen__activate(zen_ctx *ctx, zen_tensor *x, zen_activation act, int axis) {
    switch (act) {
    case ZEN_ACT_LINEAR: return x;
    case ZEN_ACT_RELU: return zen_relu(ctx, x);
    case ZEN_ACT_SIGMOID: return zen_sigmoid(ctx, x);
    case ZEN_ACT_TANH: return zen_tanh(ctx, x);
    case ZEN_ACT_SOFTMAX: return zen_softmax(ctx, x, axis);
    case ZEN_ACT_LOG_SOFTMAX: return zen_log_softmax(ctx, x, axis);
    case ZEN_ACT_GELU: return zen_gelu(ctx, x);
    case ZEN_ACT_SILU: return zen_silu(ctx, x);
    case ZEN_ACT_ELU: return zen_elu(ctx, x, 1.0f);
    case ZEN_ACT_SOFTPLUS: return zen_softplus(ctx, x, 1.0f, 20.0f);
    case ZEN_ACT_LEAKY_RELU: return zen_leaky_relu(ctx, x, 0.2f); /* Keras's default slope */
    }
    return x;
}

/* ---- layouts ---- */

zen_tensor *zen__to_nchw(zen_ctx *ctx, zen_tensor *x) {
    if (!x || x->ndim != 4) return x;
    return zen__dense(ctx, zen_permute(ctx, x, (int[]){0, 3, 1, 2}));
}

zen_tensor *zen__to_nhwc(zen_ctx *ctx, zen_tensor *x) {
    if (!x || x->ndim != 4) return x;
    return zen__dense(ctx, zen_permute(ctx, x, (int[]){0, 2, 3, 1}));
}

int zen__internal_axis(int keras_axis, int rank) {
    static const int nchw[4] = {0, 2, 3, 1};
    return rank == 4 && keras_axis >= 0 && keras_axis < 4 ? nchw[keras_axis] : keras_axis;
}

zen_tensor *zen__broadcast_weight(zen_ctx *ctx, zen_tensor *w, int rank, int naxes, const int *axes) {
    if (!w) return NULL;
    int64_t shape[ZEN_MAX_DIMS];
    for (int d = 0; d < rank; d++) shape[d] = 1;
    int64_t numel = 1;
    for (int k = 0; k < naxes; k++) {
        int64_t size = k < w->ndim ? w->shape[k] : 1;
        shape[axes[k]] = size;
        numel *= size;
    }
    if (numel != zen_numel(w)) return zen__fail(ctx, "zen__broadcast_weight: weight does not fit the axes");
    return zen__to_nchw(ctx, zen_reshape(ctx, w, rank, shape));
}

/* ---- weights and initializers ---- */

/* Keras initializer names, from a string or a {"class_name": ...} object, as snake_case. */
static bool initializer_name(const cJSON *v, char *out, size_t n) {
    const char *s = NULL;
    if (cJSON_IsString(v)) s = v->valuestring;
    else if (cJSON_IsObject(v)) s = cJSON_GetStringValue(cJSON_GetObjectItem(v, "class_name"));
    if (!s) return false;
    size_t j = 0;
    for (size_t i = 0; s[i] && j + 2 < n; i++) {
        if (isupper((unsigned char)s[i])) {
            if (i > 0) out[j++] = '_';
            out[j++] = (char)tolower((unsigned char)s[i]);
        } else {
            out[j++] = s[i];
        }
    }
    out[j] = 0;
    return true;
}

/* Truncated normal as Keras draws it: N(0, std) redrawn outside two standard deviations. */
static float truncated_normal(zen_rng *r, float std) {
    for (;;) {
        float z = zen_rng_normal(r);
        if (fabsf(z) <= 2.0f) return z * std;
    }
}

/* Keras's Orthogonal (gain 1): a normal matrix made orthonormal (Gram-Schmidt, the signs of
 * a QR's Q with a positive-diagonal R). t is [rows, cols] in zen's [out, in] layout, the
 * transpose of Keras's kernel: columns orthonormal when rows >= cols, else rows. */
static bool orthogonal(zen_tensor *t, zen_rng *r) {
    int64_t rows = t->ndim ? t->shape[0] : 1, cols = zen_numel(t) / (rows ? rows : 1);
    bool tall = rows >= cols;
    int64_t m = tall ? rows : cols, k = tall ? cols : rows; /* k orthonormal vectors of length m */
    double *q = malloc((size_t)(m * k) * sizeof *q);
    if (!q) return false;
    for (int64_t i = 0; i < m * k; i++) q[i] = zen_rng_normal(r);
    for (int64_t v = 0; v < k; v++) {
        double *qv = q + v * m;
        for (int64_t u = 0; u < v; u++) {
            const double *qu = q + u * m;
            double dot = 0;
            for (int64_t i = 0; i < m; i++) dot += qu[i] * qv[i];
            for (int64_t i = 0; i < m; i++) qv[i] -= dot * qu[i];
        }
        double norm = 0;
        for (int64_t i = 0; i < m; i++) norm += qv[i] * qv[i];
        norm = sqrt(norm);
        for (int64_t i = 0; i < m; i++) qv[i] = norm > 0 ? qv[i] / norm : 0;
    }
    float *d = t->data;
    for (int64_t i = 0; i < rows; i++)
        for (int64_t j = 0; j < cols; j++) d[i * cols + j] = (float)(tall ? q[j * m + i] : q[i * m + j]);
    free(q);
    return true;
}

static bool initialize(zen_layer *l, zen_tensor *t, const char *spec, int64_t fan_in, int64_t fan_out, zen_rng *r) {
    float *d = t->data;
    int64_t n = zen_numel(t);
    double fi = (double)(fan_in > 0 ? fan_in : 1), fo = (double)(fan_out > 0 ? fan_out : 1);
    /* Keras scales truncated normals by this constant so the std is as asked. */
    const double trunc = 0.87962566103423978;
    if (!strcmp(spec, "zeros")) {
        for (int64_t i = 0; i < n; i++) d[i] = 0;
    } else if (!strcmp(spec, "ones")) {
        for (int64_t i = 0; i < n; i++) d[i] = 1;
    } else if (!strcmp(spec, "glorot_uniform") || !strcmp(spec, "he_uniform") || !strcmp(spec, "lecun_uniform")) {
        double scale = spec[0] == 'g' ? 2.0 / (fi + fo) : spec[0] == 'h' ? 2.0 / fi : 1.0 / fi;
        float limit = (float)sqrt(3.0 * scale);
        for (int64_t i = 0; i < n; i++) d[i] = -limit + 2 * limit * zen_rng_uniform(r);
    } else if (!strcmp(spec, "glorot_normal") || !strcmp(spec, "he_normal") || !strcmp(spec, "lecun_normal")) {
        double scale = spec[0] == 'g' ? 2.0 / (fi + fo) : spec[0] == 'h' ? 2.0 / fi : 1.0 / fi;
        float std = (float)(sqrt(scale) / trunc);
        for (int64_t i = 0; i < n; i++) d[i] = truncated_normal(r, std);
    } else if (!strcmp(spec, "random_normal")) {
        for (int64_t i = 0; i < n; i++) d[i] = 0.05f * zen_rng_normal(r);
    } else if (!strcmp(spec, "random_uniform")) {
        for (int64_t i = 0; i < n; i++) d[i] = -0.05f + 0.1f * zen_rng_uniform(r);
    } else if (!strcmp(spec, "truncated_normal")) {
        for (int64_t i = 0; i < n; i++) d[i] = truncated_normal(r, 0.05f);
    } else if (!strcmp(spec, "orthogonal")) {
        if (!orthogonal(t, r)) return zen__layer_fail(l, "out of memory");
    } else {
        return zen__layer_fail(l, "unknown initializer '%s' (zeros, ones, glorot_uniform, glorot_normal, he_uniform, "
                                  "he_normal, lecun_uniform, lecun_normal, random_normal, random_uniform, "
                                  "truncated_normal, orthogonal)", spec);
    }
    return true;
}

zen_tensor *zen__layer_add_weight(zen_layer *l, zen_model *m, const char *name, int ndim, const int64_t *shape,
                                  const char *initializer, int64_t fan_in, int64_t fan_out, bool trainable) {
    if (l->nweights == ZEN_LAYER_MAX_WEIGHTS) return zen__layer_fail(l, "too many weights"), NULL;
    /* A config key "<name>_initializer" (kernel_initializer, bias_initializer, ...) overrides
     * the default, as in Keras. */
    char key[64], spec[64];
    snprintf(key, sizeof key, "%s_initializer", name);
    cJSON *v = cfg_get(l, key);
    if (v) {
        if (!initializer_name(v, spec, sizeof spec)) return zen__layer_fail(l, "%s must name an initializer", key), NULL;
        /* Keras's short aliases */
        if (!strcmp(spec, "uniform")) snprintf(spec, sizeof spec, "random_uniform");
        if (!strcmp(spec, "normal")) snprintf(spec, sizeof spec, "random_normal");
    } else {
        snprintf(spec, sizeof spec, "%s", initializer);
    }
    if (m->weight_budget > 0) { /* see zen_model.weight_budget (the limit plus one) */
        int64_t bytes = 4;
        for (int d = 0; d < ndim; d++)
            if (shape[d] < 0 || __builtin_mul_overflow(bytes, shape[d], &bytes)) bytes = INT64_MAX;
        if (bytes > m->weight_budget - 1)
            return zen__layer_fail(l, "weight %s needs more bytes than the model file holds", name), NULL;
        m->weight_budget -= bytes;
    }
    zen_tensor *t = trainable ? zen_param(l->ctx, ZEN_F32, ndim, shape) : zen_const(l->ctx, ZEN_F32, ndim, shape);
    if (!t) return NULL;
    snprintf(t->name, sizeof t->name, "%s/%s", l->name, name);
    /* Each weight draws from its own stream: seed, layer position, weight position. */
    zen_rng r;
    zen_rng_seed(&r, m->seed ^ ((uint64_t)(l->index + 1) * 0x9E3779B97F4A7C15ULL) ^ ((uint64_t)(l->nweights + 1) << 48));
    if (!initialize(l, t, spec, fan_in, fan_out, &r)) return NULL;
    int i = l->nweights++;
    l->weights[i] = t;
    snprintf(l->weight_names[i], sizeof l->weight_names[i], "%s", name);
    l->trainable[i] = trainable;
    return t;
}
