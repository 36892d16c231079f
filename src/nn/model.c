/* model.c — models: inputs, layer applications (Sequential and functional), building
 * (shapes and weights), and graphs of the model for a batch size. */
#include "nn.h"

#include <ctype.h>
#include <stdlib.h>

zen_model *zen_model_new(zen_ctx *ctx, const char *name) {
    if (!ctx) return NULL;
    zen_model *m = calloc(1, sizeof *m);
    if (!m) return zen__fail(ctx, "zen_model_new: out of memory");
    m->ctx = ctx;
    snprintf(m->name, sizeof m->name, "%s", name ? name : "model");
    return m;
}

void zen__trainer_free(struct zen_trainer *t); /* src/train */

void zen_model_free(zen_model *m) {
    if (!m) return;
    zen__trainer_free(m->trainer);
    for (int i = 0; i < m->nclass_names; i++) free(m->class_names[i]);
    free(m->class_names);
    free(m->tokenizer_json);
    for (int i = 0; i < m->nlayers; i++) zen_layer_free(m->layers[i]);
    free(m->layers);
    free(m->nodes);
    free(m);
}

int zen_model_set_tokenizer_json(zen_model *m, const char *json) {
    if (!m) return -1;
    char *copy = NULL;
    if (json) {
        cJSON *v = cJSON_Parse(json);
        bool ok = cJSON_IsObject(v);
        if (ok) copy = cJSON_PrintUnformatted(v);
        cJSON_Delete(v);
        if (!ok) return zen__fail(m->ctx, "zen_model_set_tokenizer_json: not a JSON object"), -1;
        if (!copy) return zen__fail(m->ctx, "zen_model_set_tokenizer_json: out of memory"), -1;
    }
    free(m->tokenizer_json);
    m->tokenizer_json = copy;
    return 0;
}

const char *zen_model_tokenizer_json(const zen_model *m) { return m ? m->tokenizer_json : NULL; }

int zen_model_n_layers(const zen_model *m) { return m ? m->nlayers : 0; }
zen_layer *zen_model_layer(const zen_model *m, int i) { return m && i >= 0 && i < m->nlayers ? m->layers[i] : NULL; }

int64_t zen_model_n_params(const zen_model *m, bool trainable_only) {
    int64_t n = 0;
    for (int i = 0; m && i < m->nlayers; i++)
        for (int w = 0; w < m->layers[i]->nweights; w++)
            if (!trainable_only || m->layers[i]->trainable[w]) n += zen_numel(m->layers[i]->weights[w]);
    return n;
}

static int node_shape(const zen_model *m, int node, int64_t *shape) {
    const zen_shape *s = &m->nodes[node].shape;
    for (int d = 0; d < s->ndim; d++) shape[d] = s->dim[d];
    return s->ndim;
}

int zen_model_input_shape(const zen_model *m, int i, int64_t *shape) {
    if (!m || !m->built || i < 0 || i >= m->ninputs) return -1;
    return node_shape(m, m->inputs[i], shape);
}

/* An Input layer's dtype, as its config says ("int32" and the like read as i32). */
static zen_dtype input_layer_dtype(zen_layer *l) {
    const char *dtype = "float32";
    zen__cfg_str(l, "dtype", "float32", &dtype);
    return strstr(dtype, "int") ? ZEN_I32 : ZEN_F32;
}

zen_dtype zen_model_input_dtype(const zen_model *m, int i) {
    if (!m || !m->built || i < 0 || i >= m->ninputs) return ZEN_F32;
    return input_layer_dtype(m->nodes[m->inputs[i]].layer);
}

int zen_model_output_shape(const zen_model *m, int i, int64_t *shape) {
    if (!m || !m->built || i < 0 || i >= m->noutputs) return -1;
    return node_shape(m, m->outputs[i], shape);
}

static int push_node(zen_model *m, zen_node node) {
    if (m->nnodes == m->cap_nodes) {
        int cap = m->cap_nodes ? 2 * m->cap_nodes : 16;
        zen_node *nodes = realloc(m->nodes, (size_t)cap * sizeof *nodes);
        if (!nodes) return zen__fail(m->ctx, "zen_model: out of memory"), -1;
        m->nodes = nodes;
        m->cap_nodes = cap;
    }
    m->nodes[m->nnodes] = node;
    m->built = false;
    return m->nnodes++;
}

/* Keras's default layer names: the class in snake_case, then _1, _2, ... (Keras counts
 * only the layers it named itself: the first of these names not taken yet). */
static void default_name(const zen_model *m, const zen_layer *l, char *out, size_t n) {
    const char *c = l->type->class_name;
    char snake[48];
    size_t j = 0;
    for (size_t i = 0; c[i] && j + 2 < sizeof snake; i++) {
        bool upper = isupper((unsigned char)c[i]);
        bool starts_word = upper && i > 0 && (islower((unsigned char)c[i - 1]) ||
                                              (c[i + 1] && islower((unsigned char)c[i + 1]) && isalpha((unsigned char)c[i - 1])));
        if (starts_word) snake[j++] = '_';
        snake[j++] = (char)tolower((unsigned char)c[i]);
    }
    snake[j] = 0;
    if (!strcmp(snake, "input")) snprintf(snake, sizeof snake, "input_layer");
    for (int k = 0;; k++) {
        if (k) snprintf(out, n, "%s_%d", snake, k);
        else snprintf(out, n, "%s", snake);
        bool taken = false;
        for (int i = 0; i < m->nlayers && !taken; i++) taken = !strcmp(m->layers[i]->name, out);
        if (!taken) return;
    }
}

static int adopt_layer(zen_model *m, zen_layer *l) {
    for (int i = 0; i < m->nlayers; i++)
        if (m->layers[i] == l) return 0; /* applied again: shared weights */
    if (!l->name[0]) default_name(m, l, l->name, sizeof l->name);
    for (int i = 0; i < m->nlayers; i++)
        if (!strcmp(m->layers[i]->name, l->name))
            return zen__fail(m->ctx, "zen_model: two layers are named '%s'", l->name), -1;
    if (m->nlayers == m->cap_layers) {
        int cap = m->cap_layers ? 2 * m->cap_layers : 16;
        zen_layer **layers = realloc(m->layers, (size_t)cap * sizeof *layers);
        if (!layers) return zen__fail(m->ctx, "zen_model: out of memory"), -1;
        m->layers = layers;
        m->cap_layers = cap;
    }
    l->index = m->nlayers;
    m->layers[m->nlayers++] = l;
    return 0;
}

int zen_model_input(zen_model *m, int ndim, const int64_t *shape) {
    if (!m) return -1;
    zen_layer *l = zen_layer_new(m->ctx, "Input", NULL);
    if (!l) return -1;
    cJSON *arr = cJSON_CreateArray();
    for (int d = 0; d < ndim; d++) cJSON_AddItemToArray(arr, cJSON_CreateNumber((double)shape[d]));
    cJSON_AddItemToObject(l->config, "shape", arr);
    return zen_model_apply(m, l, 0, NULL);
}

int zen_model_apply(zen_model *m, zen_layer *l, int n, const int *inputs) {
    if (!m) {
        zen_layer_free(l);
        return -1;
    }
    if (!l) return zen__fail(m->ctx, "zen_model_apply: layer is NULL (%s)", zen_ctx_error(m->ctx) ? zen_ctx_error(m->ctx) : "?"), -1;
    bool is_input = !strcmp(l->type->class_name, "Input");
    if (is_input ? n != 0 : (n < l->type->min_inputs || n > l->type->max_inputs)) {
        zen__fail(m->ctx, "zen_model_apply: %s takes %d to %d inputs, got %d", l->type->class_name,
                  is_input ? 0 : l->type->min_inputs, is_input ? 0 : l->type->max_inputs, n);
        bool owned = false;
        for (int i = 0; i < m->nlayers; i++) owned |= m->layers[i] == l;
        if (!owned) zen_layer_free(l);
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (inputs[i] < 0 || inputs[i] >= m->nnodes)
            return zen__fail(m->ctx, "zen_model_apply: input %d is not a tensor of this model", inputs[i]), -1;
    if (adopt_layer(m, l) != 0) {
        zen_layer_free(l);
        return -1;
    }
    zen_node node = {.layer = l, .n_in = n};
    for (int i = 0; i < n; i++) node.inputs[i] = inputs[i];
    int id = push_node(m, node);
    if (id >= 0 && is_input) {
        if (m->ninputs == ZEN_MODEL_MAX_IO) return zen__fail(m->ctx, "zen_model: too many inputs"), -1;
        m->inputs[m->ninputs++] = id;
    }
    return id;
}

int zen_model_add(zen_model *m, zen_layer *l) {
    if (!m) {
        zen_layer_free(l);
        return -1;
    }
    if (l && !strcmp(l->type->class_name, "Input")) return zen_model_apply(m, l, 0, NULL);
    if (m->nnodes == 0) {
        zen_layer_free(l);
        return zen__fail(m->ctx, "zen_model_add: the model has no input yet (add an Input layer or call zen_model_input)"), -1;
    }
    int last = m->nnodes - 1;
    return zen_model_apply(m, l, 1, &last);
}

int zen_model_set_outputs(zen_model *m, int n, const int *outputs) {
    if (!m) return -1;
    if (n < 1 || n > ZEN_MODEL_MAX_IO) return zen__fail(m->ctx, "zen_model_set_outputs: %d outputs", n), -1;
    for (int i = 0; i < n; i++) {
        if (outputs[i] < 0 || outputs[i] >= m->nnodes)
            return zen__fail(m->ctx, "zen_model_set_outputs: %d is not a tensor of this model", outputs[i]), -1;
        m->outputs[i] = outputs[i];
    }
    m->noutputs = n;
    m->built = false;
    return 0;
}

static bool same_shape(const zen_shape *a, const zen_shape *b) {
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->dim[d] != b->dim[d]) return false;
    return true;
}

int zen_model_build(zen_model *m, uint64_t seed) {
    if (!m) return -1;
    if (zen_ctx_error(m->ctx)) return -1;
    if (m->ninputs == 0) return zen__fail(m->ctx, "zen_model_build: model '%s' has no input", m->name), -1;
    if (m->noutputs == 0) {
        m->outputs[0] = m->nnodes - 1;
        m->noutputs = 1;
    }
    m->seed = seed;
    for (int i = 0; i < m->nnodes; i++) {
        zen_node *node = &m->nodes[i];
        zen_layer *l = node->layer;
        zen_shape in[ZEN_LAYER_MAX_INPUTS];
        for (int k = 0; k < node->n_in; k++) in[k] = m->nodes[node->inputs[k]].shape;
        if (l->built) {
            bool same = l->n_in == node->n_in;
            for (int k = 0; same && k < node->n_in; k++) same = same_shape(&in[k], &l->in_shape[k]);
            if (!same) return zen__layer_fail(l, "applied again to inputs of another shape"), -1;
            node->shape = l->out_shape;
            continue;
        }
        if (l->type->build(l, m, node->n_in, in, &node->shape) != 0 || zen_ctx_error(m->ctx)) return -1;
        l->built = true;
        l->n_in = node->n_in;
        for (int k = 0; k < node->n_in; k++) l->in_shape[k] = in[k];
        l->out_shape = node->shape;
    }
    m->built = true;
    return 0;
}

/* ---- graphs ---- */

zen_model_graph *zen__model_graph_new(zen_model *m, int batch, bool training) {
    zen_ctx *ctx = m->ctx;
    if (!m->built) return zen__fail(ctx, "zen_model: build the model before using it");
    zen_model_graph *mg = calloc(1, sizeof *mg);
    zen_tensor **t = calloc((size_t)m->nnodes, sizeof *t);
    zen_tensor **mask = calloc((size_t)m->nnodes, sizeof *mask); /* each node's Keras mask or NULL */
    if (!mg || !t || !mask) {
        free(mg);
        free(t);
        free(mask);
        return zen__fail(ctx, "zen_model: out of memory");
    }
    mg->batch = batch;
    mg->training = training;
    int nin = 0;
    for (int i = 0; i < m->nnodes; i++) {
        zen_node *node = &m->nodes[i];
        zen_layer *l = node->layer;
        if (!strcmp(l->type->class_name, "Input")) {
            int64_t shape[ZEN_MAX_DIMS + 1] = {batch};
            for (int d = 0; d < node->shape.ndim; d++) shape[d + 1] = node->shape.dim[d];
            zen_tensor *leaf = zen_input(ctx, input_layer_dtype(l), node->shape.ndim + 1, shape);
            if (!leaf) break;
            zen_set_name(leaf, l->name);
            mg->inputs[nin++] = leaf;
            t[i] = zen__to_nchw(ctx, leaf);
        } else {
            zen_tensor *x[ZEN_LAYER_MAX_INPUTS], *in_masks[ZEN_LAYER_MAX_INPUTS], *out_mask = NULL;
            for (int k = 0; k < node->n_in; k++) x[k] = t[node->inputs[k]], in_masks[k] = mask[node->inputs[k]];
            zen_call_info info = {.training = training, .mg = mg,
                                  .seed = m->seed * 0x2545F4914F6CDD1DULL + (uint64_t)i * 0x9E3779B97F4A7C15ULL,
                                  .masks = in_masks, .out_mask = &out_mask};
            t[i] = l->type->call(l, ctx, node->n_in, x, &info);
            mask[i] = out_mask ? out_mask : l->type->propagates_mask ? in_masks[0] : NULL;
        }
        if (!t[i]) break;
    }
    for (int k = 0; k < m->noutputs && !zen_ctx_error(ctx); k++) mg->outputs[k] = zen__to_nhwc(ctx, t[m->outputs[k]]);
    free(t);
    free(mask);
    if (zen_ctx_error(ctx)) {
        free(mg);
        return NULL;
    }
    mg->g = zen_graph_new(ctx);
    for (int k = 0; k < m->noutputs; k++) zen_graph_add(mg->g, mg->outputs[k]);
    for (int u = 0; u < mg->nupdates; u++) zen_graph_add(mg->g, mg->updates[u].src);
    return mg;
}

void zen__model_graph_free(zen_model_graph *mg) {
    if (!mg) return;
    zen_graph_free(mg->g);
    free(mg);
}

void zen__model_graph_apply_updates(zen_model_graph *mg) {
    for (int u = 0; u < mg->nupdates; u++) {
        float *dst = mg->updates[u].dst->data;
        const float *src = mg->updates[u].src->data;
        float mom = mg->updates[u].momentum;
        int64_t n = zen_numel(mg->updates[u].dst);
        for (int64_t i = 0; i < n; i++) dst[i] = mom * dst[i] + (1.0f - mom) * src[i];
    }
}
