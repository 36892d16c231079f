/* spec.c — models to and from Keras-style JSON specs (see zen_model_from_json in zen.h). */
#include "nn.h"

#include <stdlib.h>

static bool is_input_class(const char *cls) { return !strcmp(cls, "Input") || !strcmp(cls, "InputLayer"); }

/* Which application of its layer node i is (0 for the first). */
static int application_index(const zen_model *m, int i) {
    int k = 0;
    for (int j = 0; j < i; j++) k += m->nodes[j].layer == m->nodes[i].layer;
    return k;
}

/* A reference to node i: the layer's name, or Keras's [name, k, 0] for the k-th
 * application of a shared layer (k > 0). */
static cJSON *ref_json(const zen_model *m, int i) {
    int k = application_index(m, i);
    if (k == 0) return cJSON_CreateString(m->nodes[i].layer->name);
    cJSON *a = cJSON_CreateArray();
    cJSON_AddItemToArray(a, cJSON_CreateString(m->nodes[i].layer->name));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(k));
    cJSON_AddItemToArray(a, cJSON_CreateNumber(0));
    return a;
}

char *zen_model_to_json(const zen_model *m) {
    if (!m) return NULL;
    cJSON *root = cJSON_CreateObject();
    bool sequential = m->ninputs == 1 && (m->noutputs <= 1);
    for (int i = 1; i < m->nnodes && sequential; i++)
        sequential = m->nodes[i].n_in == 1 && m->nodes[i].inputs[0] == i - 1 && m->nodes[i].layer != m->nodes[i - 1].layer;
    if (sequential && m->noutputs == 1) sequential = m->outputs[0] == m->nnodes - 1;
    cJSON_AddStringToObject(root, "class_name", sequential ? "Sequential" : "Functional");
    cJSON *cfg = cJSON_AddObjectToObject(root, "config");
    cJSON_AddStringToObject(cfg, "name", m->name);
    cJSON *layers = cJSON_AddArrayToObject(cfg, "layers");
    for (int i = 0; i < m->nnodes; i++) {
        const zen_node *node = &m->nodes[i];
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "class_name", node->layer->type->class_name);
        cJSON_AddStringToObject(e, "name", node->layer->name);
        if (application_index(m, i) == 0) {
            cJSON *c = cJSON_Duplicate(node->layer->config, true);
            cJSON_DeleteItemFromObject(c, "name");
            cJSON_AddItemToObject(e, "config", c);
        } else {
            cJSON_AddBoolToObject(e, "reuse", true); /* the layer above, applied again */
        }
        if (!sequential && node->n_in) {
            cJSON *in = cJSON_AddArrayToObject(e, "inbound_nodes");
            for (int k = 0; k < node->n_in; k++) cJSON_AddItemToArray(in, ref_json(m, node->inputs[k]));
        }
        cJSON_AddItemToArray(layers, e);
    }
    if (!sequential) {
        cJSON *ins = cJSON_AddArrayToObject(cfg, "input_layers");
        for (int k = 0; k < m->ninputs; k++) cJSON_AddItemToArray(ins, ref_json(m, m->inputs[k]));
        cJSON *outs = cJSON_AddArrayToObject(cfg, "output_layers");
        int nout = m->noutputs ? m->noutputs : 1;
        for (int k = 0; k < nout; k++) {
            int o = m->noutputs ? m->outputs[k] : m->nnodes - 1;
            cJSON_AddItemToArray(outs, ref_json(m, o));
        }
    }
    if (m->nclass_names) {
        cJSON *names = cJSON_AddArrayToObject(root, "class_names");
        for (int i = 0; i < m->nclass_names; i++) cJSON_AddItemToArray(names, cJSON_CreateString(m->class_names[i]));
    }
    char *s = cJSON_Print(root);
    cJSON_Delete(root);
    return s;
}

/* A reference to a layer's output: "conv" (its first application) or Keras's
 * ["conv", k, 0] (its k-th), possibly nested once more as Keras 2 writes inbound_nodes. */
typedef struct { const char *name; int k; } layer_ref;

static layer_ref ref_of(const cJSON *v) {
    while (cJSON_IsArray(v) && cJSON_IsArray(cJSON_GetArrayItem(v, 0))) v = cJSON_GetArrayItem(v, 0);
    if (cJSON_IsString(v)) return (layer_ref){v->valuestring, 0};
    const cJSON *k = cJSON_GetArrayItem(v, 1);
    return (layer_ref){cJSON_GetStringValue(cJSON_GetArrayItem(v, 0)), cJSON_IsNumber(k) ? (int)k->valuedouble : 0};
}

/* The node of the k-th application of the layer called name, or -1. */
static int node_of(const zen_model *m, layer_ref r) {
    for (int i = 0, seen = 0; r.name && i < m->nnodes; i++)
        if (!strcmp(m->nodes[i].layer->name, r.name) && seen++ == r.k) return i;
    return -1;
}

static zen_layer *layer_named(const zen_model *m, const char *name) {
    for (int i = 0; name && i < m->nlayers; i++)
        if (!strcmp(m->layers[i]->name, name)) return m->layers[i];
    return NULL;
}

/* Collects the references of a list (flattening Keras 2's extra nesting) into refs[]. */
static int ref_list(const cJSON *list, layer_ref *refs, int cap) {
    int n = 0;
    const cJSON *items = list;
    /* Keras 2: [[["a", 0, 0, {}], ["b", 0, 0, {}]]] — one call with two inputs */
    if (cJSON_GetArraySize(list) == 1 && cJSON_IsArray(cJSON_GetArrayItem(list, 0)) &&
        cJSON_IsArray(cJSON_GetArrayItem(cJSON_GetArrayItem(list, 0), 0)))
        items = cJSON_GetArrayItem(list, 0);
    const cJSON *it;
    cJSON_ArrayForEach(it, items) {
        if (n == cap) return -1;
        refs[n++] = ref_of(it);
    }
    return n;
}

/* The message is made before root is freed: a and b may point into it. */
static zen_model *spec_fail(zen_model *m, cJSON *root, const char *fmt, const char *a, const char *b) {
    zen__fail(m->ctx, fmt, a, b);
    cJSON_Delete(root);
    zen_model_free(m);
    return NULL;
}

zen_model *zen_model_from_json(zen_ctx *ctx, const char *json) {
    if (!ctx) return NULL;
    if (!json) return zen__fail(ctx, "zen_model_from_json: spec is NULL");
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        return zen__fail(ctx, "model spec: invalid JSON near '%.40s'", at ? at : "");
    }
    const char *cls = cJSON_GetStringValue(cJSON_GetObjectItem(root, "class_name"));
    cJSON *cfg = cJSON_GetObjectItem(root, "config");
    /* A bare {"name", "layers"} object is accepted as a Sequential config too. */
    if (!cls && cJSON_GetObjectItem(root, "layers")) cfg = root, cls = "Sequential";
    if (!cls || !cJSON_IsObject(cfg)) {
        cJSON_Delete(root);
        return zen__fail(ctx, "model spec: expected {\"class_name\": \"Sequential\" or \"Functional\", \"config\": {...}}");
    }
    bool functional = strcmp(cls, "Sequential") != 0;
    if (functional && strcmp(cls, "Functional") && strcmp(cls, "Model")) {
        /* the message first: cls points into root */
        zen__fail(ctx, "model spec: class_name must be Sequential, Functional or Model, got '%s'", cls);
        cJSON_Delete(root);
        return NULL;
    }
    zen_model *m = zen_model_new(ctx, cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "name")));
    cJSON *layers = cJSON_GetObjectItem(cfg, "layers");
    if (!m) {
        cJSON_Delete(root);
        return NULL;
    }
    if (!cJSON_IsArray(layers) || cJSON_GetArraySize(layers) == 0)
        return spec_fail(m, root, "model spec: config.layers must be a non-empty list%s%s", "", "");
    int index = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, layers) {
        char where[32];
        snprintf(where, sizeof where, "%d", index++);
        const char *lcls = cJSON_GetStringValue(cJSON_GetObjectItem(e, "class_name"));
        if (!lcls) {
            return spec_fail(m, root, "model spec: layers[%s] has no class_name%s", where, "");
        }
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItem(e, "name"));
        bool reuse = cJSON_IsTrue(cJSON_GetObjectItem(e, "reuse"));
        zen_layer *l;
        if (reuse) { /* a shared layer applied again */
            l = layer_named(m, name);
            if (!l) {
                return spec_fail(m, root, "model spec: layers[%s] reuses '%s', which is not defined before it", where,
                                 name ? name : "(no name)");
            }
        } else {
            cJSON *lcfg = cJSON_GetObjectItem(e, "config");
            char *text = lcfg ? cJSON_PrintUnformatted(lcfg) : NULL;
            l = zen_layer_new(ctx, lcls, text);
            free(text);
            if (!l) {
                cJSON_Delete(root);
                zen_model_free(m);
                return NULL;
            }
            if (name) snprintf(l->name, sizeof l->name, "%s", name); /* beside config, as Keras writes it */
        }
        int id;
        if (is_input_class(lcls)) {
            id = zen_model_apply(m, l, 0, NULL);
        } else if (!functional) {
            id = zen_model_add(m, l);
        } else {
            layer_ref refs[ZEN_LAYER_MAX_INPUTS];
            int n = ref_list(cJSON_GetObjectItem(e, "inbound_nodes"), refs, ZEN_LAYER_MAX_INPUTS);
            int inputs[ZEN_LAYER_MAX_INPUTS];
            const char *bad = n <= 0 ? "" : NULL;
            for (int k = 0; k < n && !bad; k++) {
                inputs[k] = node_of(m, refs[k]);
                if (inputs[k] < 0) bad = refs[k].name ? refs[k].name : "(not a name)";
            }
            if (bad) {
                if (!reuse) zen_layer_free(l);
                return *bad ? spec_fail(m, root, "model spec: layer '%s' reads '%s', which is not defined before it",
                                        name ? name : where, bad)
                            : spec_fail(m, root, "model spec: layer '%s' needs inbound_nodes (the names of its inputs)%s",
                                        name ? name : where, "");
            }
            id = zen_model_apply(m, l, n, inputs);
        }
        if (id < 0) {
            cJSON_Delete(root);
            zen_model_free(m);
            return NULL;
        }
    }
    cJSON *outs = cJSON_GetObjectItem(cfg, "output_layers");
    if (outs) {
        layer_ref refs[ZEN_MODEL_MAX_IO];
        int n = ref_list(outs, refs, ZEN_MODEL_MAX_IO), ids[ZEN_MODEL_MAX_IO];
        for (int k = 0; k < n; k++) {
            ids[k] = node_of(m, refs[k]);
            if (ids[k] < 0) {
                return spec_fail(m, root, "model spec: output layer '%s' is not defined%s", refs[k].name ? refs[k].name : "?", "");
            }
        }
        if (n <= 0 || zen_model_set_outputs(m, n, ids) != 0) {
            return spec_fail(m, root, "model spec: output_layers must list 1 to 8 layer names%s%s", "", "");
        }
    }
    /* Optional labels of the output classes: "class_names": ["cat", "dog", ...]. */
    cJSON *names = cJSON_GetObjectItem(root, "class_names");
    if (names) {
        int n = cJSON_GetArraySize(names);
        const char **list = n > 0 ? calloc((size_t)n, sizeof *list) : NULL;
        bool ok = cJSON_IsArray(names) && n > 0 && list;
        for (int i = 0; ok && i < n; i++) ok = (list[i] = cJSON_GetStringValue(cJSON_GetArrayItem(names, i))) != NULL;
        int rc = ok ? zen_model_set_class_names(m, n, list) : -1;
        free(list);
        if (ok && rc != 0) return cJSON_Delete(root), zen_model_free(m), NULL; /* an empty name, recorded */
        if (!ok) return spec_fail(m, root, "model spec: class_names must be a non-empty list of strings%s%s", "", "");
    }
    cJSON_Delete(root);
    return m;
}
