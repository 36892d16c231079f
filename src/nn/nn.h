/* nn.h — layers and models, shared by the files of src/nn/ and src/train/.
 *
 * A layer type (one per Keras class) is a small table of functions: build checks the
 * config and the input shapes, computes the output shape and creates the weights; call
 * records the layer's ops on a graph. A model is a list of "nodes" (symbolic tensors): an
 * input, or a layer applied to earlier nodes. Building a graph for a batch size walks the
 * nodes in order and calls each layer. */
#ifndef ZEN_NN_H
#define ZEN_NN_H

#include <cjson/cJSON.h>

#include "../core/internal.h"

#define ZEN_LAYER_MAX_WEIGHTS 32 /* a TransformerEncoder block has 16 */
#define ZEN_LAYER_MAX_INPUTS 8
#define ZEN_MODEL_MAX_IO 8

/* A shape without the batch dim, in Keras (channels-last) terms. */
typedef struct zen_shape {
    int ndim;
    int64_t dim[ZEN_MAX_DIMS];
} zen_shape;

/* What a layer's call needs besides its inputs. */
typedef struct zen_call_info {
    bool training;
    struct zen_model_graph *mg; /* for layers that register post-step updates (BatchNorm) */
    uint64_t seed;              /* per layer application: dropout masks */
    /* Keras masks of sequences: masks[k] is input k's mask, an f32 [batch, steps] tensor with
     * 1 for a real step and 0 for padding, or NULL (no mask). A layer that makes a mask
     * (Embedding with mask_zero, Masking) stores it in *out_mask; a layer whose type says
     * propagates_mask passes input 0's mask on; every other layer's output has none. Masks
     * are consumed by sequence layers (RNNs skip padded steps, attention ignores them). */
    zen_tensor *const *masks;
    zen_tensor **out_mask;
} zen_call_info;

typedef struct zen_layer_type {
    const char *class_name;
    int min_inputs, max_inputs;
    /* Checks l->config against the n input shapes, sets *out and creates the weights
     * (zen__layer_add_weight). Called once, on the first application. */
    int (*build)(zen_layer *l, zen_model *m, int n, const zen_shape *in, zen_shape *out);
    /* Records the ops. x[i] carry the batch dim; 4-D tensors are NCHW. */
    zen_tensor *(*call)(zen_layer *l, zen_ctx *ctx, int n, zen_tensor *const *x, const zen_call_info *info);
    /* true: the output keeps input 0's mask (element-wise and per-step layers such as Dense,
     * Dropout, Activation, LayerNormalization), unless call sets *out_mask itself. */
    bool propagates_mask;
} zen_layer_type;

struct zen_layer {
    const zen_layer_type *type;
    zen_ctx *ctx;
    char name[64];
    cJSON *config; /* the Keras config; owned */
    bool built;
    zen_shape in_shape[ZEN_LAYER_MAX_INPUTS], out_shape;
    int n_in;
    zen_tensor *weights[ZEN_LAYER_MAX_WEIGHTS];
    char weight_names[ZEN_LAYER_MAX_WEIGHTS][32];
    bool trainable[ZEN_LAYER_MAX_WEIGHTS];
    int nweights;
    void *state; /* the type's parsed config (malloc'd by build, freed with the layer) */
    int index;   /* position in the model, for seeds */
};

/* A symbolic tensor: a model input (layer NULL) or a layer applied to earlier nodes. */
typedef struct zen_node {
    zen_layer *layer;
    int inputs[ZEN_LAYER_MAX_INPUTS];
    int n_in;
    zen_shape shape;
} zen_node;

struct zen_model {
    zen_ctx *ctx;
    char name[64];
    zen_node *nodes;
    int nnodes, cap_nodes;
    zen_layer **layers; /* distinct layers, in order of first application; owned */
    int nlayers, cap_layers;
    int inputs[ZEN_MODEL_MAX_IO], ninputs;
    int outputs[ZEN_MODEL_MAX_IO], noutputs;
    bool built;
    uint64_t seed;
    struct zen_trainer *trainer; /* set by compile (src/train) */
    /* Model files (src/io/save.c, load.c). */
    char **class_names; /* zen_model_set_class_names; owned */
    int nclass_names;
    char *tokenizer_json;        /* the tokenizer of a language model (a JSON object), or NULL */
    /* When positive, build refuses weights beyond weight_budget - 1 bytes in all: a model
     * file's loader sets it from the file's data size, so a hostile spec cannot allocate more. */
    int64_t weight_budget;
};

/* A graph of the model for one batch size and mode. */
typedef struct zen_model_graph {
    int batch;
    bool training;
    zen_graph *g;
    zen_tensor *inputs[ZEN_MODEL_MAX_IO];  /* leaves to fill, Keras layout [B, ...] */
    zen_tensor *outputs[ZEN_MODEL_MAX_IO]; /* Keras layout */
    zen_tensor *target, *loss;             /* training graphs */
    /* Post-step updates: dst = momentum * dst + (1 - momentum) * src (BatchNorm). */
    struct { zen_tensor *dst, *src; float momentum; } updates[64];
    int nupdates;
} zen_model_graph;

/* Builds the forward part of a graph for `batch` samples: inputs, layer calls, outputs.
 * Returns NULL on error (message in m->ctx). The caller adds loss, backward, plan. */
zen_model_graph *zen__model_graph_new(zen_model *m, int batch, bool training);
void zen__model_graph_free(zen_model_graph *mg);
/* Applies mg's post-step updates (after a training compute). */
void zen__model_graph_apply_updates(zen_model_graph *mg);

/* ---- layer helpers (layer.c) ---- */

/* Registers a weight of the layer being built: a new parameter leaf (or a non-trainable
 * one) initialised by the named Keras initializer (with fans for the glorot/he families). */
zen_tensor *zen__layer_add_weight(zen_layer *l, zen_model *m, const char *name, int ndim, const int64_t *shape,
                                  const char *initializer, int64_t fan_in, int64_t fan_out, bool trainable);

/* Config readers: each returns false and records "<Class> '<name>': <key> ..." on a bad
 * value. A missing key gives the default (or an error when required). */
bool zen__cfg_int(zen_layer *l, const char *key, int def, bool required, int *out);
bool zen__cfg_float(zen_layer *l, const char *key, float def, float *out);
bool zen__cfg_bool(zen_layer *l, const char *key, bool def, bool *out);
/* A string; *out points into the config (valid while the layer lives). */
bool zen__cfg_str(zen_layer *l, const char *key, const char *def, const char **out);
/* 1 or n positive ints (Keras's int-or-tuple arguments like kernel_size). */
bool zen__cfg_ints(zen_layer *l, const char *key, int n, const int *def, bool required, int *out);
/* Records an error naming the layer. Returns false. */
bool zen__layer_fail(zen_layer *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same, as the -1 a build function returns. */
#define ZEN_LAYER_ERROR(l, ...) (zen__layer_fail((l), __VA_ARGS__), -1)

/* A layer type's parsed config lives in l->state, allocated (zeroed) on first use.
 * Returns NULL (and records an error) when out of memory. */
void *zen__layer_state(zen_layer *l, size_t size);
#define ZEN_LAYER_STATE(l, T) ((T *)zen__layer_state((l), sizeof(T)))

/* Activations by Keras name ("relu", "softmax", NULL or "linear" for none...). */
typedef enum {
    ZEN_ACT_LINEAR, ZEN_ACT_RELU, ZEN_ACT_SIGMOID, ZEN_ACT_TANH, ZEN_ACT_SOFTMAX, ZEN_ACT_GELU,
    ZEN_ACT_SILU, ZEN_ACT_ELU, ZEN_ACT_SOFTPLUS, ZEN_ACT_LEAKY_RELU, ZEN_ACT_LOG_SOFTMAX,
} zen_activation;
bool zen__parse_activation(zen_layer *l, const char *key, zen_activation *out);
/* Applies act along `axis` for softmax (the feature axis). */
zen_tensor *zen__activate(zen_ctx *ctx, zen_tensor *x, zen_activation act, int axis);
const char *zen__activation_name(zen_activation act);

/* NCHW <-> NHWC conversions used where Keras's layout shows (Input, Flatten, Reshape). */
zen_tensor *zen__to_nchw(zen_ctx *ctx, zen_tensor *x);
zen_tensor *zen__to_nhwc(zen_ctx *ctx, zen_tensor *x);
/* Keras axes count the batch dim (0) and are channels-last. keras_axis (0..rank-1) of a
 * tensor of `rank` dims (batch included) as an axis of zen's tensor: the same, except
 * for 4-D images, kept NCHW: H 1 -> 2, W 2 -> 3, C 3 -> 1. */
int zen__internal_axis(int keras_axis, int rank);
/* A per-feature weight w (the sizes of Keras axes axes[0] < axes[1] < ... of a rank-dim
 * input) reshaped to broadcast against that input as zen keeps it (1 on every other dim,
 * NCHW for 4-D). */
zen_tensor *zen__broadcast_weight(zen_ctx *ctx, zen_tensor *w, int rank, int naxes, const int *axes);

/* The layer types, by Keras class name (layers/ files). NULL if unknown. */
const zen_layer_type *zen__layer_type(const char *class_name);

#endif
