/* summary.c — Keras's model.summary(): layers, output shapes, parameter counts, totals,
 * and zen's addition: the training memory the planner needs at a batch size. */
#include "nn.h"

#include <stdlib.h>

static void shape_text(const zen_shape *s, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "(None");
    for (int d = 0; d < s->ndim && k < n; d++) k += (size_t)snprintf(buf + k, n - k, ", %lld", (long long)s->dim[d]);
    if (k < n) snprintf(buf + k, n - k, ")");
}

static void bytes_text(double b, char *buf, size_t n) {
    const char *units[] = {"B", "KB", "MB", "GB"};
    int u = 0;
    while (b >= 1024 && u < 3) b /= 1024, u++;
    snprintf(buf, n, "%.2f %s", b, units[u]);
}

static void count_text(int64_t v, char *buf, size_t n) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)v);
    size_t len = strlen(raw), j = 0;
    for (size_t i = 0; i < len && j + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[j++] = ',';
        buf[j++] = raw[i];
    }
    buf[j] = 0;
}

/* Peak bytes of a training graph (forward, a loss, backward) at this batch size. */
static size_t training_bytes(zen_model *m, int batch) {
    zen_model_graph *mg = zen__model_graph_new(m, batch, true);
    if (!mg) return 0;
    zen_ctx *ctx = m->ctx;
    zen_tensor *loss = zen_sum(ctx, mg->outputs[0], 0, NULL, false);
    size_t peak = 0;
    if (loss && zen_graph_backward(mg->g, loss) == 0 && zen_graph_plan(mg->g) == 0) peak = zen_graph_peak_bytes(mg->g);
    zen__model_graph_free(mg);
    return peak;
}

int zen_model_summary(zen_model *m, FILE *out, int batch_size) {
    if (!m || !out) return -1;
    if (!m->built) return zen__fail(m->ctx, "zen_model_summary: build the model first"), -1;
    bool functional = false;
    for (int i = 1; i < m->nnodes; i++)
        functional |= m->nodes[i].n_in != 1 || m->nodes[i].inputs[0] != i - 1;
    int width = functional ? 98 : 65;
    char rule[128], dbl[128];
    memset(rule, '_', (size_t)width), rule[width] = 0;
    memset(dbl, '=', (size_t)width), dbl[width] = 0;
    fprintf(out, "Model: \"%s\"\n%s\n", m->name, rule);
    fprintf(out, " %-28s %-25s %-10s%s\n", "Layer (type)", "Output Shape", "Param #", functional ? " Connected to" : "");
    fprintf(out, "%s\n", dbl);
    for (int i = 0; i < m->nnodes; i++) {
        const zen_node *node = &m->nodes[i];
        const zen_layer *l = node->layer;
        if (!functional && !strcmp(l->type->class_name, "Input")) continue; /* Keras hides it */
        char name[96], shape[96], params[32];
        snprintf(name, sizeof name, "%s (%s)", l->name, l->type->class_name);
        shape_text(&node->shape, shape, sizeof shape);
        int64_t n = 0;
        bool first_use = true;
        for (int j = 0; j < i; j++) first_use &= m->nodes[j].layer != l;
        for (int w = 0; first_use && w < l->nweights; w++) n += zen_numel(l->weights[w]);
        count_text(n, params, sizeof params);
        fprintf(out, " %-28s %-25s %-10s", name, shape, params);
        for (int k = 0; functional && k < node->n_in; k++)
            fprintf(out, "%s%s", k ? ", " : " ", m->nodes[node->inputs[k]].layer->name);
        fprintf(out, "\n");
    }
    int64_t total = zen_model_n_params(m, false), trainable = zen_model_n_params(m, true);
    char a[32], b[32];
    fprintf(out, "%s\n", dbl);
    count_text(total, a, sizeof a), bytes_text(4.0 * (double)total, b, sizeof b);
    fprintf(out, "Total params: %s (%s)\n", a, b);
    count_text(trainable, a, sizeof a), bytes_text(4.0 * (double)trainable, b, sizeof b);
    fprintf(out, "Trainable params: %s (%s)\n", a, b);
    count_text(total - trainable, a, sizeof a), bytes_text(4.0 * (double)(total - trainable), b, sizeof b);
    fprintf(out, "Non-trainable params: %s (%s)\n", a, b);
    if (batch_size > 0) {
        size_t act = training_bytes(m, batch_size);
        char c[32];
        bytes_text((double)act, a, sizeof a);
        /* weights, and an optimizer's state of up to two arrays per weight (Adam) */
        bytes_text(4.0 * (double)total + 8.0 * (double)trainable, b, sizeof b);
        bytes_text((double)act + 4.0 * (double)total + 8.0 * (double)trainable, c, sizeof c);
        fprintf(out, "Training memory at batch %d: %s activations and gradients (planned) + %s weights and "
                     "optimizer state = %s\n", batch_size, a, b, c);
    }
    fprintf(out, "%s\n", rule);
    return 0;
}
