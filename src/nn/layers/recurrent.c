/* recurrent.c — Keras's SimpleRNN, LSTM and GRU, the Bidirectional wrapper, and Masking.
 *
 * Each recurrent layer is one fused zen_rnn node (src/ops/rnn.c). Arguments are Keras's:
 * units, activation (tanh; SimpleRNN also relu), recurrent_activation (sigmoid),
 * use_bias, return_sequences, return_state, go_backwards, kernel_initializer
 * (glorot_uniform), recurrent_initializer (orthogonal), bias_initializer (zeros),
 * unit_forget_bias (LSTM, true), reset_after (GRU: must be true, the PyTorch form).
 * Weights are PyTorch's, by PyTorch's names: weight_ih [G*units, in], weight_hh
 * [G*units, units], bias_ih and bias_hh [G*units] (G = 4 LSTM gates i,f,g,o; 3 GRU gates
 * r,z,n; 1), so torch.nn.LSTM/GRU/RNN state dicts move across unchanged. Keras's
 * SimpleRNN and LSTM have one bias: it initialises bias_ih (with unit_forget_bias's ones)
 * and bias_hh starts at zero, so the sum is Keras's; a Keras kernel [in, G*units] is
 * weight_ih transposed (same gate order for LSTM; GRU's Keras order z,r,h differs).
 *
 * Masks (from Masking or Embedding(mask_zero=True)) are consumed: a padded step carries
 * the state over and outputs zeros. With return_sequences the mask is passed on.
 *
 * return_state: a zen layer has one output, so the states come as that output, packed:
 * with return_sequences false (required) an LSTM outputs [h | c] ([batch, 2*units]; the
 * first half is the usual output) and GRU/SimpleRNN output h (their output already is
 * their state). The layers accept such a tensor as an optional second input, the initial
 * state: LSTM()([x, states]) with states [batch, 2*units] (h | c) or [batch, units] (h).
 *
 * Bidirectional(layer, merge_mode concat|sum|mul|ave) runs the layer forwards and a copy
 * backwards (its outputs aligned with the input steps again, as Keras), weights
 * weight_ih, ..., weight_ih_reverse, ... (torch's bidirectional names without "_l0"). */
#include "../nn.h"

#include <ctype.h>
#include <stdlib.h>

typedef struct {
    zen_rnn_mode mode;
    int units;
    bool use_bias, return_sequences, return_state, go_backwards, unit_forget_bias;
    char kinit[48], rinit[48], binit[48];
} rnn_cfg;

static int gates(zen_rnn_mode mode) { return mode == ZEN_RNN_LSTM ? 4 : mode == ZEN_RNN_GRU ? 3 : 1; }

/* An initializer argument (a name or {"class_name": "GlorotUniform", ...}) as snake_case. */
static bool init_arg(zen_layer *l, const char *key, const char *def, char *out, size_t n) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(l->config, key);
    const char *s = def;
    if (v && !cJSON_IsNull(v)) {
        s = cJSON_IsString(v) ? v->valuestring : cJSON_GetStringValue(cJSON_GetObjectItem(v, "class_name"));
        if (!s) return zen__layer_fail(l, "%s must name an initializer", key);
    }
    size_t j = 0;
    for (size_t i = 0; s[i] && j + 2 < n; i++) {
        if (isupper((unsigned char)s[i]) && i > 0) out[j++] = '_';
        out[j++] = (char)tolower((unsigned char)s[i]);
    }
    out[j] = 0;
    if (!strcmp(out, "uniform")) snprintf(out, n, "random_uniform");
    if (!strcmp(out, "normal")) snprintf(out, n, "random_normal");
    return true;
}

/* Reads a SimpleRNN/LSTM/GRU config (l's type says which). */
static bool parse_cfg(zen_layer *l, rnn_cfg *c) {
    const char *cls = l->type->class_name;
    c->mode = !strcmp(cls, "LSTM") ? ZEN_RNN_LSTM : !strcmp(cls, "GRU") ? ZEN_RNN_GRU : ZEN_RNN_TANH;
    const char *act, *ract;
    bool stateful, reset_after, time_major;
    float dropout, rdropout;
    if (!zen__cfg_int(l, "units", 0, true, &c->units) || !zen__cfg_str(l, "activation", "tanh", &act) ||
        !zen__cfg_str(l, "recurrent_activation", "sigmoid", &ract) || !zen__cfg_bool(l, "use_bias", true, &c->use_bias) ||
        !zen__cfg_bool(l, "return_sequences", false, &c->return_sequences) ||
        !zen__cfg_bool(l, "return_state", false, &c->return_state) ||
        !zen__cfg_bool(l, "go_backwards", false, &c->go_backwards) || !zen__cfg_bool(l, "stateful", false, &stateful) ||
        !zen__cfg_bool(l, "unit_forget_bias", true, &c->unit_forget_bias) ||
        !zen__cfg_bool(l, "reset_after", true, &reset_after) || !zen__cfg_bool(l, "time_major", false, &time_major) ||
        !zen__cfg_float(l, "dropout", 0, &dropout) || !zen__cfg_float(l, "recurrent_dropout", 0, &rdropout) ||
        !init_arg(l, "kernel_initializer", "glorot_uniform", c->kinit, sizeof c->kinit) ||
        !init_arg(l, "recurrent_initializer", "orthogonal", c->rinit, sizeof c->rinit) ||
        !init_arg(l, "bias_initializer", "zeros", c->binit, sizeof c->binit))
        return false;
    if (c->units <= 0) return zen__layer_fail(l, "units must be positive, got %d", c->units);
    if (c->mode == ZEN_RNN_TANH) {
        if (!strcmp(act, "relu")) c->mode = ZEN_RNN_RELU;
        else if (strcmp(act, "tanh"))
            return zen__layer_fail(l, "activation must be tanh or relu (the fused kernels), got '%s'", act);
    } else {
        if (strcmp(act, "tanh")) return zen__layer_fail(l, "activation must be tanh (the fused kernel), got '%s'", act);
        if (strcmp(ract, "sigmoid"))
            return zen__layer_fail(l, "recurrent_activation must be sigmoid (the fused kernel), got '%s'", ract);
    }
    if (c->mode == ZEN_RNN_GRU && !reset_after)
        return zen__layer_fail(l, "reset_after=false is not supported: zen's GRU is PyTorch's formulation "
                                  "(reset_after=true, Keras's default)");
    if (stateful) return zen__layer_fail(l, "stateful=true is not supported");
    if (time_major) return zen__layer_fail(l, "time_major=true is not supported (inputs are [batch, steps, features])");
    if (dropout != 0 || rdropout != 0)
        return zen__layer_fail(l, "dropout and recurrent_dropout are not supported (use a Dropout layer before)");
    if (c->return_state && c->return_sequences)
        return zen__layer_fail(l, "return_state needs return_sequences=false (a zen layer has one output: the states "
                                  "come packed as that output)");
    return true;
}

/* The four weights, names suffixed (Bidirectional's "_reverse"). */
static int add_weights(zen_layer *l, zen_model *m, const rnn_cfg *c, int64_t in, const char *suffix) {
    const int64_t H = c->units, GH = gates(c->mode) * H;
    char name[32];
    snprintf(name, sizeof name, "weight_ih%s", suffix);
    if (!zen__layer_add_weight(l, m, name, 2, (int64_t[]){GH, in}, c->kinit, in, GH, true)) return -1;
    snprintf(name, sizeof name, "weight_hh%s", suffix);
    if (!zen__layer_add_weight(l, m, name, 2, (int64_t[]){GH, H}, c->rinit, H, GH, true)) return -1;
    if (!c->use_bias) return 0;
    snprintf(name, sizeof name, "bias_ih%s", suffix);
    zen_tensor *bi = zen__layer_add_weight(l, m, name, 1, (int64_t[]){GH}, c->binit, 0, 0, true);
    if (!bi) return -1;
    if (c->mode == ZEN_RNN_LSTM && c->unit_forget_bias)
        for (int64_t j = H; j < 2 * H; j++) ((float *)bi->data)[j] = 1.0f;
    snprintf(name, sizeof name, "bias_hh%s", suffix);
    /* Keras's GRU has both biases; its SimpleRNN and LSTM one (bias_ih here) */
    if (!zen__layer_add_weight(l, m, name, 1, (int64_t[]){GH}, c->mode == ZEN_RNN_GRU ? c->binit : "zeros", 0, 0, true))
        return -1;
    return 0;
}

static int check_input(zen_layer *l, const zen_shape *in) {
    if (in->ndim != 2)
        return ZEN_LAYER_ERROR(l, "input must be [steps, features] (a sequence; 3-D with the batch), got %d dims",
                               in->ndim);
    return 0;
}

/* The feature size of the packed state output / initial-state input. */
static int64_t state_size(const rnn_cfg *c) { return (c->mode == ZEN_RNN_LSTM ? 2 : 1) * (int64_t)c->units; }

/* ---- SimpleRNN, LSTM, GRU ---- */

static int rnn_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    rnn_cfg *c = ZEN_LAYER_STATE(l, rnn_cfg);
    if (!c || !parse_cfg(l, c) || check_input(l, &in[0])) return -1;
    if (n == 2) {
        bool ok = in[1].ndim == 1 && (in[1].dim[0] == c->units || in[1].dim[0] == state_size(c));
        if (!ok)
            return ZEN_LAYER_ERROR(l, "the initial state (second input) must be [%d]%s (no batch dim)", c->units,
                                   c->mode == ZEN_RNN_LSTM ? " (h) or [2*units] (h then c)" : "");
    }
    out->ndim = c->return_sequences ? 2 : 1;
    out->dim[0] = c->return_sequences ? in[0].dim[0] : c->return_state ? state_size(c) : c->units;
    out->dim[1] = c->units;
    return add_weights(l, m, c, in[0].dim[1], "");
}

static zen_tensor *slice_cols(zen_ctx *ctx, zen_tensor *t, int64_t a, int64_t b) {
    return zen_contiguous(ctx, zen_slice(ctx, t, 1, a, b, 1));
}

/* One direction of a layer with weights w[0..3] (biases NULL without use_bias). */
static zen_rnn_out run(zen_ctx *ctx, const rnn_cfg *c, zen_tensor *x, zen_tensor *const *w, zen_tensor *mask,
                       zen_tensor *state, bool reverse, bool reverse_outputs) {
    zen_rnn_opts o = {.mode = c->mode, .mask = mask, .reverse = reverse, .reverse_outputs = reverse_outputs};
    if (c->use_bias) o.b_ih = w[2], o.b_hh = w[3];
    if (state) {
        int64_t H = c->units;
        o.h0 = state->shape[1] == H ? state : slice_cols(ctx, state, 0, H);
        if (state->shape[1] == 2 * H && c->mode == ZEN_RNN_LSTM) o.c0 = slice_cols(ctx, state, H, 2 * H);
    }
    return zen_rnn(ctx, x, w[0], w[1], &o);
}

static bool check_call_inputs(zen_layer *l, zen_tensor *x, zen_tensor *mask) {
    if (!x) return false;
    if (x->dtype != ZEN_F32)
        return zen__layer_fail(l, "input must be float32, got %s (token ids need an Embedding first)",
                               zen_dtype_name(x->dtype));
    if (mask && (mask->ndim != 2 || mask->shape[0] != x->shape[0] || mask->shape[1] != x->shape[1]))
        return zen__layer_fail(l, "the input's mask must be [batch, steps]");
    return true;
}

static zen_tensor *rnn_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    const rnn_cfg *c = l->state;
    zen_tensor *mask = info->masks ? info->masks[0] : NULL;
    if (!check_call_inputs(l, x[0], mask)) return NULL;
    zen_rnn_out r = run(ctx, c, x[0], l->weights, mask, n == 2 ? x[1] : NULL, c->go_backwards, c->go_backwards);
    if (!r.y) return NULL;
    if (c->return_sequences) {
        if (mask && info->out_mask) *info->out_mask = mask;
        return r.y;
    }
    if (c->return_state && c->mode == ZEN_RNN_LSTM) return zen_concat(ctx, 2, (zen_tensor *[]){r.h, r.c}, 1);
    return r.h;
}

const zen_layer_type zen_layer_type_simple_rnn = {"SimpleRNN", 1, 2, rnn_build, rnn_call, .propagates_mask = false};
const zen_layer_type zen_layer_type_lstm = {"LSTM", 1, 2, rnn_build, rnn_call, .propagates_mask = false};
const zen_layer_type zen_layer_type_gru = {"GRU", 1, 2, rnn_build, rnn_call, .propagates_mask = false};

/* ---- Bidirectional ---- */

typedef enum { MERGE_CONCAT, MERGE_SUM, MERGE_MUL, MERGE_AVE } merge_mode;
typedef struct {
    rnn_cfg c;
    merge_mode merge;
} bidi_state;

static int bidi_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)n;
    bidi_state *s = ZEN_LAYER_STATE(l, bidi_state);
    if (!s) return -1;
    cJSON *inner = cJSON_GetObjectItem(l->config, "layer");
    const char *cls = cJSON_GetStringValue(cJSON_GetObjectItem(inner, "class_name"));
    cJSON *icfg = cJSON_GetObjectItem(inner, "config");
    if (!cJSON_IsObject(inner) || !cls)
        return ZEN_LAYER_ERROR(l, "layer must be a layer object {\"class_name\": \"LSTM\", \"config\": {...}}");
    const zen_layer_type *type = zen__layer_type(cls);
    if (!type || type->build != rnn_build)
        return ZEN_LAYER_ERROR(l, "layer must be a SimpleRNN, LSTM or GRU, got '%s'", cls);
    if (icfg && !cJSON_IsObject(icfg)) return ZEN_LAYER_ERROR(l, "layer's config must be an object");
    /* the wrapped layer's arguments, read as that layer (errors name it) */
    cJSON *empty = cJSON_CreateObject();
    zen_layer w = {.type = type, .ctx = l->ctx, .config = icfg ? icfg : empty};
    const char *iname = cJSON_GetStringValue(cJSON_GetObjectItem(icfg, "name"));
    snprintf(w.name, sizeof w.name, "%s", iname ? iname : l->name);
    bool ok = parse_cfg(&w, &s->c);
    cJSON_Delete(empty);
    if (!ok) return -1;
    if (s->c.return_state) return ZEN_LAYER_ERROR(l, "return_state is not supported in Bidirectional");
    if (s->c.go_backwards) return ZEN_LAYER_ERROR(l, "the wrapped layer must not have go_backwards=true");
    const char *merge;
    if (!zen__cfg_str(l, "merge_mode", "concat", &merge)) return -1;
    static const char *const names[] = {"concat", "sum", "mul", "ave"};
    s->merge = (merge_mode)-1;
    for (int k = 0; k < 4; k++)
        if (!strcmp(merge, names[k])) s->merge = (merge_mode)k;
    if ((int)s->merge < 0)
        return ZEN_LAYER_ERROR(l, "merge_mode must be concat, sum, mul or ave, got '%s' (a zen layer has one output)",
                               merge);
    if (check_input(l, &in[0])) return -1;
    int64_t H = s->c.units * (s->merge == MERGE_CONCAT ? 2 : 1);
    out->ndim = s->c.return_sequences ? 2 : 1;
    out->dim[0] = s->c.return_sequences ? in[0].dim[0] : H;
    out->dim[1] = H;
    if (add_weights(l, m, &s->c, in[0].dim[1], "") || add_weights(l, m, &s->c, in[0].dim[1], "_reverse")) return -1;
    return 0;
}

static zen_tensor *bidi_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n;
    const bidi_state *s = l->state;
    zen_tensor *mask = info->masks ? info->masks[0] : NULL;
    if (!check_call_inputs(l, x[0], mask)) return NULL;
    int half = l->nweights / 2;
    zen_rnn_out f = run(ctx, &s->c, x[0], l->weights, mask, NULL, false, false);
    zen_rnn_out b = run(ctx, &s->c, x[0], l->weights + half, mask, NULL, true, false);
    if (!f.y || !b.y) return NULL;
    zen_tensor *a = s->c.return_sequences ? f.y : f.h, *r = s->c.return_sequences ? b.y : b.h, *y = NULL;
    switch (s->merge) {
    case MERGE_CONCAT: y = zen_concat(ctx, 2, (zen_tensor *[]){a, r}, -1); break;
    case MERGE_SUM: y = zen_add(ctx, a, r); break;
    case MERGE_MUL: y = zen_mul(ctx, a, r); break;
    case MERGE_AVE: y = zen_scale(ctx, zen_add(ctx, a, r), 0.5f); break;
    }
    if (y && mask && s->c.return_sequences && info->out_mask) *info->out_mask = mask;
    return y;
}

const zen_layer_type zen_layer_type_bidirectional = {"Bidirectional", 1, 1, bidi_build, bidi_call,
                                                     .propagates_mask = false};

/* ---- Masking(mask_value=0.0): steps whose features all equal mask_value are padding ---- */

typedef struct {
    float value;
} masking_state;

static int masking_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)m, (void)n;
    masking_state *s = ZEN_LAYER_STATE(l, masking_state);
    if (!s || !zen__cfg_float(l, "mask_value", 0.0f, &s->value)) return -1;
    if (in->ndim != 2) return ZEN_LAYER_ERROR(l, "input must be [steps, features], got %d dims", in->ndim);
    *out = *in;
    return 0;
}

static zen_tensor *masking_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)n;
    const masking_state *s = l->state;
    if (!x[0]) return NULL;
    if (x[0]->dtype != ZEN_F32) return zen__layer_fail(l, "input must be float32"), NULL;
    /* 1 where a feature differs from mask_value (NaN differs), max over the features */
    zen_tensor *diff = zen_where(ctx, zen_add(ctx, x[0], zen_scalar(ctx, -s->value)), zen_scalar(ctx, 1.0f),
                                 zen_scalar(ctx, 0.0f));
    zen_tensor *keep = zen_max(ctx, diff, 1, (int[]){-1}, true); /* [B, T, 1] */
    zen_tensor *mask = zen_reshape(ctx, keep, 2, (int64_t[]){x[0]->shape[0], x[0]->shape[1]});
    if (mask && info->out_mask) *info->out_mask = mask;
    return zen_mul(ctx, x[0], keep);
}

const zen_layer_type zen_layer_type_masking = {"Masking", 1, 1, masking_build, masking_call, .propagates_mask = false};
