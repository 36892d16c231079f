/* merge.c — Add and Concatenate: layers of two or more inputs (functional models). */
#include "../nn.h"

#include <stdlib.h>

static void shape_text(const zen_shape *s, char *buf, size_t n) {
    size_t k = (size_t)snprintf(buf, n, "(");
    for (int d = 0; d < s->ndim && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, d ? ", %lld" : "%lld", (long long)s->dim[d]);
    if (k < n) snprintf(buf + k, n - k, s->ndim == 1 ? ",)" : ")");
}

/* ---- Add: 2 or more inputs of the same shape, summed ---- */

static int add_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)m;
    for (int k = 1; k < n; k++) {
        bool same = in[k].ndim == in[0].ndim;
        for (int d = 0; same && d < in[0].ndim; d++) same = in[k].dim[d] == in[0].dim[d];
        if (!same) {
            char a[128], b[128];
            shape_text(&in[k], a, sizeof a);
            shape_text(&in[0], b, sizeof b);
            return ZEN_LAYER_ERROR(l, "all inputs must have the same shape; input %d is %s but input 0 is %s", k, a, b);
        }
    }
    *out = in[0];
    return 0;
}

static zen_tensor *add_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)l, (void)info;
    zen_tensor *y = x[0];
    for (int k = 1; k < n; k++) y = zen_add(ctx, y, x[k]);
    return y;
}

const zen_layer_type zen_layer_type_add = {"Add", 2, ZEN_LAYER_MAX_INPUTS, add_build, add_call, .propagates_mask = false};

/* ---- Concatenate: {"axis": -1}, a Keras axis (counting the batch dim) ---- */

static int concat_build(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out) {
    (void)m;
    int *axis = ZEN_LAYER_STATE(l, int), given;
    if (!axis || !zen__cfg_int(l, "axis", -1, false, &given)) return -1;
    int rank = in[0].ndim + 1;
    *axis = given < 0 ? given + rank : given;
    if (*axis <= 0 || *axis >= rank)
        return ZEN_LAYER_ERROR(l, "axis %d is out of range for inputs of %d dims with the batch dim (valid: 1..%d or "
                                  "-1..-%d; axis 0 is the batch)", given, rank, rank - 1, rank - 1);
    *out = in[0];
    for (int k = 1; k < n; k++) {
        bool fits = in[k].ndim == in[0].ndim;
        for (int d = 0; fits && d < in[0].ndim; d++) fits = d == *axis - 1 || in[k].dim[d] == in[0].dim[d];
        if (!fits) {
            char a[128], b[128];
            shape_text(&in[k], a, sizeof a);
            shape_text(&in[0], b, sizeof b);
            return ZEN_LAYER_ERROR(l, "input %d has shape %s, which does not match input 0 %s except along axis %d", k,
                                   a, b, given);
        }
        out->dim[*axis - 1] += in[k].dim[*axis - 1];
    }
    return 0;
}

static zen_tensor *concat_call(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info) {
    (void)info;
    for (int k = 0; k < n; k++)
        if (!x[k]) return NULL;
    return zen_concat(ctx, n, x, zen__internal_axis(*(int *)l->state, x[0]->ndim));
}

const zen_layer_type zen_layer_type_concatenate = {"Concatenate", 2, ZEN_LAYER_MAX_INPUTS, concat_build, concat_call, .propagates_mask = false};
