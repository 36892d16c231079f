/* Keras-style layers (src/nn/layers) against PyTorch, in Keras terms: channels-last inputs,
 * Keras configs. Each fixture case (tests/fixtures/gen/layers.py) is one layer applied to
 * Input layers; its forward output is checked through the model's own graph
 * (zen__model_graph_new) and, with the inputs as parameters, forward and gradients
 * (inputs and trainable weights) vs autograd and vs finite differences. Also: Dropout in
 * training and inference, BatchNormalization's moving statistics, error messages for bad
 * configs, JSON spec round trips, a residual functional model trained with fit, shared
 * layers, Keras's default names and the summary. */
#include "harness.h"
#include "nn/nn.h"

#include <string.h>
#include <unistd.h>

static fx_file *f;

/* ---- helpers ---- */

/* A string stored as i32 bytes (<case>.class, <case>.config). */
static void fx_text(const char *key, char *buf, size_t cap) {
    int64_t v[2048];
    int n = fx_ints(f, key, v, (int)(sizeof v / sizeof v[0]));
    size_t k = 0;
    for (int i = 0; i < n && k + 1 < cap; i++) buf[k++] = (char)v[i];
    buf[k] = 0;
}

/* The forward graph of a built model with the given leaves (Keras layout, one per model
 * input) as its inputs, as zen__model_graph_new records it but with leaves the caller
 * made (parameters, so that the inputs get gradients). Returns the first output in Keras
 * layout. */
static zen_tensor *apply_model(zen_model *m, zen_tensor *const *leaves, bool training, zen_model_graph *mg) {
    zen_ctx *ctx = m->ctx;
    zen_tensor **t = calloc((size_t)m->nnodes, sizeof *t);
    int nin = 0;
    for (int i = 0; i < m->nnodes; i++) {
        zen_node *node = &m->nodes[i];
        zen_layer *l = node->layer;
        if (!l->type->call) {
            t[i] = zen__to_nchw(ctx, leaves[nin++]);
        } else {
            zen_tensor *x[ZEN_LAYER_MAX_INPUTS];
            for (int k = 0; k < node->n_in; k++) x[k] = t[node->inputs[k]];
            zen_call_info info = {.training = training, .mg = mg, .seed = 1234 + (uint64_t)i};
            t[i] = l->type->call(l, ctx, node->n_in, x, &info);
        }
    }
    zen_tensor *out = zen__to_nhwc(ctx, t[m->outputs[0]]);
    free(t);
    return out;
}

/* An Input layer for samples shaped like t without its batch dim. */
static int add_input(zen_model *m, const zen_tensor *t) {
    char cfg[256];
    size_t k = (size_t)snprintf(cfg, sizeof cfg, "{\"shape\": [");
    for (int d = 1; d < t->ndim; d++) k += (size_t)snprintf(cfg + k, sizeof cfg - k, d > 1 ? ", %lld" : "%lld", (long long)t->shape[d]);
    snprintf(cfg + k, sizeof cfg - k, "], \"dtype\": \"%s\"}", t->dtype == ZEN_I32 ? "int32" : "float32");
    return zen_model_apply(m, zen_layer_new(m->ctx, "Input", cfg), 0, NULL);
}

static void fill_uniform(zen_tensor *t, uint64_t seed, float lo, float hi) {
    zen_rng r;
    zen_rng_seed(&r, seed);
    zen_rng_fill_uniform(&r, t, lo, hi);
}

/* ---- every layer vs PyTorch ---- */

/* Runs one case; returns the number of failures. */
static int run_case(const char *c, char *cls_out, size_t cls_cap) {
    char key[256], cls[64], cfg[4096];
    snprintf(key, sizeof key, "%s.class", c);
    fx_text(key, cls, sizeof cls);
    snprintf(cls_out, cls_cap, "%s", cls);
    snprintf(key, sizeof key, "%s.config", c);
    fx_text(key, cfg, sizeof cfg);
    snprintf(key, sizeof key, "%s.p.training", c);
    bool training = fx_int(f, key) != 0;
    snprintf(key, sizeof key, "%s.p.tol", c);
    double tol = fx_float(f, key);

    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, 1); /* tiny graphs run hundreds of times: thread start-up would dominate */
    zen_model *m = zen_model_new(ctx, c);
    /* inputs: x, or x0 x1 ..., or ids (int32) */
    const char *in_names[ZEN_LAYER_MAX_INPUTS];
    char multi[ZEN_LAYER_MAX_INPUTS][8];
    int nin = 0;
    snprintf(key, sizeof key, "%s.x", c);
    if (fx_has(f, key)) in_names[nin++] = "x";
    snprintf(key, sizeof key, "%s.ids", c);
    if (fx_has(f, key)) in_names[nin++] = "ids";
    if (nin == 0) {
        for (int k = 0; k < ZEN_LAYER_MAX_INPUTS; k++) {
            snprintf(multi[k], sizeof multi[k], "x%d", k);
            snprintf(key, sizeof key, "%s.x%d", c, k);
            if (!fx_has(f, key)) break;
            in_names[nin++] = multi[k];
        }
    }
    zen_tensor *data[ZEN_LAYER_MAX_INPUTS]; /* the fixture inputs, as plain leaves */
    int ids[ZEN_LAYER_MAX_INPUTS];
    for (int k = 0; k < nin; k++) {
        snprintf(key, sizeof key, "%s.%s", c, in_names[k]);
        data[k] = fx_input(ctx, f, key);
        ids[k] = add_input(m, data[k]);
    }
    zen_layer *l = zen_layer_new(ctx, cls, cfg);
    zen_model_apply(m, l, nin, ids);
    int failures = 0;
    if (zen_model_build(m, 1) != 0) {
        fprintf(stderr, "  %s: build failed: %s\n", c, zen_ctx_error(ctx));
        zen_model_free(m);
        zen_ctx_free(ctx);
        return 1;
    }
    /* weights from the fixture; every trainable one must be there */
    for (int w = 0; w < zen_layer_n_weights(l); w++) {
        const char *wname;
        bool trainable;
        zen_tensor *wt = zen_layer_weight(l, w, &wname, &trainable);
        snprintf(key, sizeof key, "%s.%s", c, wname);
        if (!fx_has(f, key)) {
            if (trainable) fprintf(stderr, "  %s: the fixture has no weight %s\n", c, wname), failures++;
            continue;
        }
        zen_tensor *src = fx_input(ctx, f, key);
        if (!zen_same_shape(src, wt)) {
            char a[64], b[64];
            fprintf(stderr, "  %s: weight %s is %s, the fixture's %s\n", c, wname, zen_shape_str(wt, a, sizeof a),
                    zen_shape_str(src, b, sizeof b));
            failures++;
            continue;
        }
        memcpy(wt->data, src->data, zen_nbytes(wt));
    }
    if (failures) goto done;

    /* 1. forward and gradients, with the inputs as parameters */
    {
        zen_tensor *leaves[ZEN_LAYER_MAX_INPUTS], *checked[ZEN_LAYER_MAX_INPUTS + ZEN_LAYER_MAX_WEIGHTS];
        const char *names[ZEN_LAYER_MAX_INPUTS + ZEN_LAYER_MAX_WEIGHTS];
        int n = 0;
        for (int k = 0; k < nin; k++) {
            snprintf(key, sizeof key, "%s.%s", c, in_names[k]);
            leaves[k] = data[k]->dtype == ZEN_F32 ? fx_param(ctx, f, key) : fx_input(ctx, f, key);
            if (data[k]->dtype == ZEN_F32) checked[n] = leaves[k], names[n++] = in_names[k];
        }
        for (int w = 0; w < zen_layer_n_weights(l); w++) {
            bool trainable;
            zen_tensor *wt = zen_layer_weight(l, w, &names[n], &trainable);
            if (trainable) checked[n++] = wt;
        }
        zen_model_graph updates = {0};
        zen_tensor *out = apply_model(m, leaves, training, &updates);
        failures += fx_check_op(ctx, f, c, out, n, checked, names, tol);
        if (training && !strcmp(cls, "BatchNormalization") && updates.nupdates != 2) {
            fprintf(stderr, "  %s: %d moving-statistics updates registered, expected 2\n", c, updates.nupdates);
            failures++;
        }
    }

    /* 2. the model's own graph: Input leaves in Keras layout, outputs back in Keras layout */
    {
        zen_model_graph *mg = zen__model_graph_new(m, (int)data[0]->shape[0], training);
        if (!mg || zen_graph_plan(mg->g) != 0) {
            fprintf(stderr, "  %s: model graph: %s\n", c, zen_ctx_error(ctx));
            failures++;
            zen__model_graph_free(mg);
            goto done;
        }
        for (int k = 0; k < nin; k++) memcpy(mg->inputs[k]->data, data[k]->data, zen_nbytes(data[k]));
        if (zen_graph_compute(mg->g) != 0) {
            fprintf(stderr, "  %s: compute: %s\n", c, zen_ctx_error(ctx));
            failures++;
        } else {
            char label[300];
            snprintf(label, sizeof label, "%s model graph", c);
            snprintf(key, sizeof key, "%s.out", c);
            failures += fx_check_tensor(label, mg->outputs[0], f, key, 1e-5 * tol, 1e-4 * tol);
            /* BatchNormalization in training: Keras's update of the moving statistics */
            snprintf(key, sizeof key, "%s.moving_mean_after", c);
            if (fx_has(f, key)) {
                zen__model_graph_apply_updates(mg);
                for (int w = 0; w < zen_layer_n_weights(l); w++) {
                    const char *wname;
                    zen_tensor *wt = zen_layer_weight(l, w, &wname, NULL);
                    snprintf(key, sizeof key, "%s.%s_after", c, wname);
                    snprintf(label, sizeof label, "%s %s after the update", c, wname);
                    if (fx_has(f, key)) failures += fx_check_tensor(label, wt, f, key, 1e-6, 1e-5);
                }
            } else if (training && !strcmp(cls, "BatchNormalization")) {
                fprintf(stderr, "  %s: no moving statistics in the fixture\n", c);
                failures++;
            }
        }
        zen__model_graph_free(mg);
    }
done:
    if (failures) fprintf(stderr, "  (case %s: %s %s)\n", c, cls, cfg);
    zen_model_free(m);
    zen_ctx_free(ctx);
    return failures;
}

TEST(test_layers_vs_torch) {
    const char *want[] = {"Dense", "Conv2D", "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "Flatten",
                          "Reshape", "Activation", "BatchNormalization", "LayerNormalization", "Add", "Concatenate",
                          "Embedding"};
    int seen[sizeof want / sizeof want[0]] = {0};
    const char *const *cases = fx_cases(f, "");
    char *names[256];
    int n = 0;
    for (; cases[n] && n < 256; n++) names[n] = strdup(cases[n]); /* fx_cases' list is reused by nobody else */
    for (int i = 0; i < n; i++) {
        char cls[64] = "";
        int fails = run_case(names[i], cls, sizeof cls);
        CHECK(fails == 0);
        for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) seen[k] += !strcmp(cls, want[k]);
        free(names[i]);
    }
    printf("  %d layer cases vs PyTorch\n", n);
    CHECK(n == 57);
    for (size_t k = 0; k < sizeof want / sizeof want[0]; k++) {
        if (!seen[k]) fprintf(stderr, "  no fixture case for %s\n", want[k]);
        CHECK(seen[k] > 0);
    }
}

/* ---- Dropout: inverted dropout in training, the identity in inference ---- */

TEST(test_dropout) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "drop");
    zen_model_input(m, 2, (int64_t[]){10, 20});
    zen_model_add(m, zen_layer_dropout(ctx, 0.25f));
    CHECK(zen_model_build(m, 3) == 0);
    const int B = 4;
    /* inference: exactly the input */
    zen_model_graph *mg = zen__model_graph_new(m, B, false);
    CHECK_OK(ctx, mg);
    zen_graph_plan(mg->g);
    fill_uniform(mg->inputs[0], 5, 0.5f, 1.5f);
    CHECK(zen_graph_compute(mg->g) == 0);
    CHECK(memcmp(mg->outputs[0]->data, mg->inputs[0]->data, zen_nbytes(mg->inputs[0])) == 0);
    zen__model_graph_free(mg);

    /* training: each value is 0 or x / (1 - rate); about rate of them dropped; a new mask
     * every step; the gradient flows through the kept values only, scaled */
    zen_tensor *x = zen_param(ctx, ZEN_F32, 3, (int64_t[]){B, 10, 20});
    fill_uniform(x, 6, 0.5f, 1.5f);
    zen_model_graph upd = {0};
    zen_tensor *y = apply_model(m, &x, true, &upd);
    zen_tensor *gout = zen_const(ctx, ZEN_F32, 3, x->shape);
    fill_uniform(gout, 7, -1, 1);
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, y);
    CHECK(zen_graph_backward(g, zen_sum(ctx, zen_mul(ctx, y, gout), 0, NULL, false)) == 0);
    CHECK(zen_graph_plan(g) == 0);
    CHECK(zen_graph_compute(g) == 0);
    int64_t n = zen_numel(x), dropped = 0, bad = 0, bad_grad = 0;
    float *first = malloc((size_t)n * sizeof *first);
    const float *xd = x->data, *yd = y->data, *gd = gout->data, *dx = x->grad->data;
    for (int64_t i = 0; i < n; i++) {
        first[i] = yd[i];
        bool kept = yd[i] != 0;
        dropped += !kept;
        if (kept && fabsf(yd[i] - xd[i] / 0.75f) > 1e-6f) bad++;
        if (fabsf(dx[i] - (kept ? gd[i] / 0.75f : 0.0f)) > 1e-6f) bad_grad++;
    }
    CHECK(bad == 0);
    CHECK(bad_grad == 0);
    CHECK(dropped > n * 0.18 && dropped < n * 0.32);
    CHECK(zen_graph_compute(g) == 0);
    int64_t changed = 0;
    for (int64_t i = 0; i < n; i++) changed += (((const float *)y->data)[i] == 0) != (first[i] == 0);
    CHECK(changed > 0);
    free(first);
    zen_graph_free(g);

    /* the model's training graph drops too */
    mg = zen__model_graph_new(m, B, true);
    CHECK_OK(ctx, mg);
    zen_graph_plan(mg->g);
    fill_uniform(mg->inputs[0], 5, 0.5f, 1.5f);
    CHECK(zen_graph_compute(mg->g) == 0);
    int64_t zeros = 0;
    for (int64_t i = 0; i < n; i++) zeros += ((const float *)mg->outputs[0]->data)[i] == 0;
    CHECK(zeros > 0);
    zen__model_graph_free(mg);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- error messages ---- */

#define SEQ(shape, layers)                                                                                   \
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"m\", \"layers\": [{\"class_name\": \"InputLayer\", " \
    "\"config\": {\"shape\": " shape "}}, " layers "]}}"
#define SEQ_INT(shape, layers)                                                                               \
    "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"m\", \"layers\": [{\"class_name\": \"InputLayer\", " \
    "\"config\": {\"shape\": " shape ", \"dtype\": \"int32\"}}, " layers "]}}"

/* Builds the spec (and a graph of it); the first error must contain want. */
static void expect_error(const char *spec, const char *want) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_from_json(ctx, spec);
    if (m && zen_model_build(m, 0) == 0) zen__model_graph_free(zen__model_graph_new(m, 2, false));
    const char *err = zen_ctx_error(ctx);
    if (!err || !strstr(err, want)) {
        fprintf(stderr, "  expected an error containing\n    %s\n  got\n    %s\n  for %s\n", want, err ? err : "(none)", spec);
        harness_failures++;
    }
    zen_model_free(m);
    zen_ctx_free(ctx);
}

TEST(test_config_errors) {
    expect_error(SEQ("[4]", "{\"class_name\": \"Dense2\", \"config\": {}}"),
                 "zen_layer_new: unknown layer class 'Dense2' (known: Input, Dense, Flatten");
    expect_error(SEQ("[8, 8, 1]", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, \"kernel_size\": [3, 3, 3]}}"),
                 "Conv2D 'conv2d': kernel_size must be 1 or 2 integers");
    expect_error(SEQ("[8, 8, 1]", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, \"kernel_size\": 0}}"),
                 "Conv2D 'conv2d': kernel_size must be positive, got 0");
    expect_error(SEQ("[8, 8, 1]", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4}}"),
                 "Conv2D 'conv2d': kernel_size is required");
    expect_error(SEQ("[8, 8, 1]", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 0, \"kernel_size\": 3}}"),
                 "Conv2D 'conv2d': filters must be positive, got 0");
    expect_error(SEQ("[2, 2, 1]", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 4, \"kernel_size\": 3}}"),
                 "Conv2D 'conv2d': input 2x2 is smaller than the window 3x3");
    expect_error(SEQ("[8, 8, 4]", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 6, \"kernel_size\": 3, \"groups\": 3}}"),
                 "Conv2D 'conv2d': groups (3) must divide the input channels (4) and filters (6)");
    expect_error(SEQ("[16]", "{\"class_name\": \"Conv2D\", \"config\": {\"filters\": 6, \"kernel_size\": 3}}"),
                 "Conv2D 'conv2d': expects inputs of shape (height, width, channels), got 1 dims");
    expect_error(SEQ("[8, 8, 1]", "{\"class_name\": \"Conv2D\", \"name\": \"c1\", \"config\": {\"filters\": 4, "
                                  "\"kernel_size\": 3, \"padding\": \"foo\"}}"),
                 "Conv2D 'c1': padding must be \"valid\" or \"same\", got \"foo\"");
    expect_error(SEQ("[8, 8, 1]", "{\"class_name\": \"MaxPooling2D\", \"config\": {\"padding\": \"foo\"}}"),
                 "MaxPooling2D 'max_pooling2d': padding must be \"valid\" or \"same\", got \"foo\"");
    expect_error(SEQ("[8, 8, 1]", "{\"class_name\": \"AveragePooling2D\", \"config\": {\"pool_size\": [2, -1]}}"),
                 "AveragePooling2D 'average_pooling2d': pool_size must be positive, got -1");
    expect_error(SEQ("[4]", "{\"class_name\": \"Dense\", \"config\": {\"units\": 0}}"),
                 "Dense 'dense': units must be positive, got 0");
    expect_error(SEQ("[4]", "{\"class_name\": \"Dense\", \"config\": {}}"), "Dense 'dense': units is required");
    expect_error(SEQ("[4]", "{\"class_name\": \"Dense\", \"config\": {\"units\": \"ten\"}}"),
                 "Dense 'dense': units must be an integer");
    expect_error(SEQ("[4]", "{\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"activation\": \"relux\"}}"),
                 "Dense 'dense': activation 'relux' is not a known activation");
    expect_error(SEQ("[4]", "{\"class_name\": \"Dense\", \"config\": {\"units\": 3, \"kernel_initializer\": \"zeroes\"}}"),
                 "Dense 'dense': unknown initializer 'zeroes'");
    expect_error(SEQ_INT("[5]", "{\"class_name\": \"Dense\", \"config\": {\"units\": 3}}"),
                 "Dense 'dense': input must be float32, got i32");
    expect_error(SEQ("[4]", "{\"class_name\": \"Dropout\", \"config\": {\"rate\": 1.5}}"),
                 "Dropout 'dropout': rate must be in [0, 1), got 1.5");
    expect_error(SEQ("[4, 3]", "{\"class_name\": \"Reshape\", \"config\": {\"target_shape\": [5, -1]}}"),
                 "Reshape 'reshape': cannot reshape 12 values per sample into target_shape");
    expect_error(SEQ("[4]", "{\"class_name\": \"Activation\", \"config\": {\"activation\": \"swoosh\"}}"),
                 "Activation 'activation': activation 'swoosh' is not a known activation");
    expect_error(SEQ("[0, 3]", "{\"class_name\": \"Flatten\", \"config\": {}}"),
                 "shape must be a list of positive sizes; item 0 is not");
    /* normalisation */
    expect_error(SEQ("[8, 8, 3]", "{\"class_name\": \"BatchNormalization\", \"config\": {\"momentum\": 1.5}}"),
                 "BatchNormalization 'batch_normalization': momentum must be in [0, 1], got 1.5");
    expect_error(SEQ("[8, 8, 3]", "{\"class_name\": \"BatchNormalization\", \"config\": {\"epsilon\": 0}}"),
                 "BatchNormalization 'batch_normalization': epsilon must be positive, got 0");
    expect_error(SEQ("[8, 8, 3]", "{\"class_name\": \"BatchNormalization\", \"config\": {\"axis\": 4}}"),
                 "BatchNormalization 'batch_normalization': axis 4 is out of range for inputs of 4 dims");
    expect_error(SEQ("[8, 8, 3]", "{\"class_name\": \"BatchNormalization\", \"config\": {\"axis\": 0}}"),
                 "axis 0 is the batch");
    expect_error(SEQ("[8, 8, 3]", "{\"class_name\": \"BatchNormalization\", \"config\": {\"axis\": [1, 2]}}"),
                 "BatchNormalization 'batch_normalization': axis must be an integer");
    expect_error(SEQ("[8, 3]", "{\"class_name\": \"LayerNormalization\", \"config\": {\"axis\": -3}}"),
                 "LayerNormalization 'layer_normalization': axis -3 is out of range for inputs of 3 dims");
    expect_error(SEQ("[8, 3]", "{\"class_name\": \"LayerNormalization\", \"config\": {\"axis\": [2, -1]}}"),
                 "LayerNormalization 'layer_normalization': axis -1 is given twice");
    expect_error(SEQ("[8, 3]", "{\"class_name\": \"LayerNormalization\", \"config\": {\"rms_scaling\": true}}"),
                 "LayerNormalization 'layer_normalization': rms_scaling is not supported");
    /* Embedding */
    expect_error(SEQ_INT("[5]", "{\"class_name\": \"Embedding\", \"config\": {\"output_dim\": 4}}"),
                 "Embedding 'embedding': input_dim is required");
    expect_error(SEQ_INT("[5]", "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 10, \"output_dim\": -4}}"),
                 "Embedding 'embedding': output_dim must be positive, got -4");
    expect_error(SEQ("[5]", "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 10, \"output_dim\": 4}}"),
                 "Embedding 'embedding': input must be int32 token ids, got f32 (declare the Input with dtype \"int32\")");

    /* merges, in C */
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "merge");
    int a = zen_model_input(m, 3, (int64_t[]){4, 4, 16});
    CHECK(zen_model_apply(m, zen_layer_new(ctx, "Add", NULL), 1, &a) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "zen_model_apply: Add takes 2 to 8 inputs, got 1"));
    zen_ctx_clear_error(ctx);
    int b = zen_model_input(m, 3, (int64_t[]){4, 4, 8});
    zen_model_apply(m, zen_layer_new(ctx, "Add", NULL), 2, (int[]){a, b});
    CHECK(zen_model_build(m, 0) == -1);
    CHECK(zen_ctx_error(ctx) &&
          strstr(zen_ctx_error(ctx), "Add 'add': all inputs must have the same shape; input 1 is (4, 4, 8) but input 0 is (4, 4, 16)"));
    zen_model_free(m);
    zen_ctx_clear_error(ctx);

    m = zen_model_new(ctx, "concat");
    a = zen_model_input(m, 3, (int64_t[]){4, 4, 16});
    b = zen_model_input(m, 3, (int64_t[]){4, 5, 8});
    zen_model_apply(m, zen_layer_new(ctx, "Concatenate", NULL), 2, (int[]){a, b});
    CHECK(zen_model_build(m, 0) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "Concatenate 'concatenate': input 1 has shape (4, 5, 8), which "
                                                           "does not match input 0 (4, 4, 16) except along axis -1"));
    zen_model_free(m);
    zen_ctx_clear_error(ctx);

    m = zen_model_new(ctx, "concat0");
    a = zen_model_input(m, 1, (int64_t[]){4});
    b = zen_model_input(m, 1, (int64_t[]){4});
    zen_model_apply(m, zen_layer_new(ctx, "Concatenate", "{\"axis\": 0}"), 2, (int[]){a, b});
    CHECK(zen_model_build(m, 0) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "Concatenate 'concatenate': axis 0 is out of range"));
    zen_model_free(m);
    zen_ctx_clear_error(ctx);

    /* a Dense layer applied again to inputs of another size */
    m = zen_model_new(ctx, "reuse");
    a = zen_model_input(m, 1, (int64_t[]){4});
    zen_layer *shared = zen_layer_new(ctx, "Dense", "{\"units\": 3, \"name\": \"shared\"}");
    int h = zen_model_apply(m, shared, 1, &a);
    zen_model_apply(m, shared, 1, &h);
    CHECK(zen_model_build(m, 0) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "Dense 'shared': applied again to inputs of another shape"));
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- models ---- */

/* Conv -> BN -> act -> Conv, Add with the skip (the first conv), act, GAP, Dense. */
static zen_model *residual_model(zen_ctx *ctx, const char *act) {
    char act_cfg[64];
    snprintf(act_cfg, sizeof act_cfg, "{\"activation\": \"%s\"}", act);
    zen_model *m = zen_model_new(ctx, "resnet_tiny");
    int x = zen_model_input(m, 3, (int64_t[]){8, 8, 1});
    int c1 = zen_model_apply(m, zen_layer_new(ctx, "Conv2D", "{\"filters\": 8, \"kernel_size\": 3, \"padding\": \"same\"}"), 1, &x);
    int bn = zen_model_apply(m, zen_layer_new(ctx, "BatchNormalization", NULL), 1, &c1);
    int r = zen_model_apply(m, zen_layer_new(ctx, "Activation", act_cfg), 1, &bn);
    int c2 = zen_model_apply(m, zen_layer_new(ctx, "Conv2D", "{\"filters\": 8, \"kernel_size\": [3, 3], \"padding\": \"same\"}"), 1, &r);
    int add = zen_model_apply(m, zen_layer_new(ctx, "Add", NULL), 2, (int[]){c2, c1});
    int r2 = zen_model_apply(m, zen_layer_new(ctx, "Activation", act_cfg), 1, &add);
    int gap = zen_model_apply(m, zen_layer_new(ctx, "GlobalAveragePooling2D", NULL), 1, &r2);
    int out = zen_model_apply(m, zen_layer_new(ctx, "Dense", "{\"units\": 2, \"activation\": \"softmax\"}"), 1, &gap);
    zen_model_set_outputs(m, 1, &out);
    return m;
}

/* Class 1: brighter top half; class 0: brighter bottom half; plus noise. */
static zen_dataset *two_halves(zen_ctx *ctx, int n, uint64_t seed) {
    zen_array *x = zen_array_new(ctx, ZEN_F32, 4, (int64_t[]){n, 8, 8, 1});
    zen_array *y = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){n});
    zen_rng r;
    zen_rng_seed(&r, seed);
    float *xd = x->data;
    int32_t *yd = y->data;
    for (int i = 0; i < n; i++) {
        yd[i] = i % 2;
        for (int p = 0; p < 64; p++) {
            bool top = p < 32;
            xd[i * 64 + p] = 0.5f * zen_rng_normal(&r) + ((top == (yd[i] == 1)) ? 1.0f : 0.0f);
        }
    }
    return zen_dataset_new(ctx, x, y);
}

TEST(test_residual_model_trains) {
    zen_ctx *ctx = zen_ctx_new();
    zen_ctx_set_threads(ctx, 1); /* finite differences: a small graph run ~1000 times */
    /* gradients of the whole model (inputs and every weight) vs finite differences, with a
     * smooth activation (relu's kinks defeat finite differences) */
    {
        zen_model *m = residual_model(ctx, "tanh");
        CHECK(zen_model_build(m, 11) == 0);
        zen_tensor *x = zen_param(ctx, ZEN_F32, 4, (int64_t[]){3, 8, 8, 1});
        fill_uniform(x, 2, -1, 1);
        zen_model_graph upd = {0};
        zen_tensor *out = apply_model(m, &x, true, &upd);
        zen_tensor *params[16] = {x};
        int np = 1;
        for (int i = 0; i < zen_model_n_layers(m); i++) {
            zen_layer *l = zen_model_layer(m, i);
            for (int w = 0; w < zen_layer_n_weights(l); w++) {
                bool tr;
                zen_tensor *t = zen_layer_weight(l, w, NULL, &tr);
                if (tr) params[np++] = t;
            }
        }
        CHECK(np == 9); /* x, conv kernel+bias, gamma, beta, conv_1 kernel+bias, dense kernel+bias */
        CHECK(upd.nupdates == 2);
        CHECK(gradcheck(ctx, out, np, params, 1e-2, 2.0) == 0);
        zen_model_free(m);
    }
    zen_ctx_set_threads(ctx, 2); /* training on the threaded paths */
    zen_model *m = residual_model(ctx, "relu");
    CHECK(zen_model_build(m, 11) == 0);
    zen_dataset *d = two_halves(ctx, 96, 3);
    const char *metrics[] = {"accuracy"};
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", "{\"learning_rate\": 0.01}"),
                            "sparse_categorical_crossentropy", 1, metrics) == 0);
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = 10;
    o.batch_size = 16;
    o.verbose = 0;
    o.seed = 5;
    zen_history *h = zen_model_fit(m, d, &o);
    CHECK_OK(ctx, h);
    if (h) {
        double first = zen_metrics_get(&h->logs[0], "loss"), last = zen_metrics_get(&h->logs[h->epochs - 1], "loss");
        printf("  residual model: loss %.4f -> %.4f over %d epochs\n", first, last, h->epochs);
        CHECK(h->epochs == 10);
        CHECK(last < 0.5 * first);
    }
    /* the BatchNormalization's moving statistics followed the batches */
    zen_layer *bn = zen_model_layer(m, 2);
    CHECK(!strcmp(zen_layer_name(bn), "batch_normalization"));
    const char *wname;
    bool trainable = true;
    zen_tensor *mm = zen_layer_weight(bn, 2, &wname, &trainable);
    CHECK(!strcmp(wname, "moving_mean") && !trainable);
    zen_tensor *mv = zen_layer_weight(bn, 3, &wname, &trainable);
    CHECK(!strcmp(wname, "moving_variance") && !trainable);
    int moved = 0;
    for (int c = 0; c < 8; c++) moved += ((float *)mm->data)[c] != 0.0f && ((float *)mv->data)[c] != 1.0f;
    CHECK(moved == 8);
    /* inference (moving statistics) on fresh data */
    zen_dataset *test = two_halves(ctx, 64, 4);
    zen_metrics r;
    CHECK(zen_model_evaluate(m, test, 32, &r) == 0);
    printf("  residual model: test accuracy %.3f\n", zen_metrics_get(&r, "accuracy"));
    CHECK(zen_metrics_get(&r, "accuracy") >= 0.9);
    /* a model file keeps the moving statistics: the loaded model predicts the same */
    char path[] = "/tmp/zen_test_layers_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(zen_model_save(m, path) == 0);
    zen_model *loaded = zen_model_load(ctx, path);
    CHECK_OK(ctx, loaded);
    unlink(path);
    if (loaded) {
        zen_array *p1 = zen_model_predict(m, test->x, 32), *p2 = zen_model_predict(loaded, test->x, 32);
        CHECK_OK(ctx, p1);
        CHECK_OK(ctx, p2);
        if (p1 && p2) CHECK(memcmp(p1->data, p2->data, (size_t)zen_array_numel(p1) * sizeof(float)) == 0);
        zen_array_free(p1);
        zen_array_free(p2);
        zen_model_free(loaded);
    }
    zen_history_free(h);
    zen_dataset_free(d);
    zen_dataset_free(test);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- JSON specs ---- */

static void randomize_weights(zen_model *m, uint64_t seed) {
    for (int i = 0; i < zen_model_n_layers(m); i++) {
        zen_layer *l = zen_model_layer(m, i);
        for (int w = 0; w < zen_layer_n_weights(l); w++) {
            const char *name;
            zen_tensor *t = zen_layer_weight(l, w, &name, NULL);
            bool var = !strcmp(name, "moving_variance");
            fill_uniform(t, seed + (uint64_t)(i * 16 + w), var ? 0.5f : -0.5f, var ? 2.0f : 0.5f);
        }
    }
}

/* m -> JSON -> a new model; same JSON again, same weights (copied), same predictions. */
static void check_round_trip(zen_ctx *ctx, zen_model *m, const char *kind, const zen_array *x) {
    CHECK(zen_model_build(m, 1) == 0);
    randomize_weights(m, 77);
    char *json = zen_model_to_json(m);
    CHECK(json && strstr(json, kind));
    zen_model *m2 = zen_model_from_json(ctx, json);
    CHECK_OK(ctx, m2);
    if (!m2) {
        free(json);
        return;
    }
    CHECK(zen_model_build(m2, 999) == 0);
    char *json2 = zen_model_to_json(m2);
    CHECK(json2 && !strcmp(json, json2));
    CHECK(zen_model_n_layers(m2) == zen_model_n_layers(m));
    for (int i = 0; i < zen_model_n_layers(m) && i < zen_model_n_layers(m2); i++) {
        zen_layer *a = zen_model_layer(m, i), *b = zen_model_layer(m2, i);
        CHECK(!strcmp(zen_layer_name(a), zen_layer_name(b)));
        CHECK(zen_layer_n_weights(a) == zen_layer_n_weights(b));
        for (int w = 0; w < zen_layer_n_weights(a) && w < zen_layer_n_weights(b); w++) {
            const char *na, *nb;
            bool ta, tb;
            zen_tensor *wa = zen_layer_weight(a, w, &na, &ta), *wb = zen_layer_weight(b, w, &nb, &tb);
            CHECK(!strcmp(na, nb) && ta == tb && zen_same_shape(wa, wb));
            if (zen_same_shape(wa, wb)) memcpy(wb->data, wa->data, zen_nbytes(wa));
        }
    }
    CHECK(zen_model_n_params(m2, false) == zen_model_n_params(m, false));
    CHECK(zen_model_n_params(m2, true) == zen_model_n_params(m, true));
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "mse", 0, NULL) == 0);
    CHECK(zen_model_compile(m2, zen_optimizer_new(ctx, "Adam", NULL), "mse", 0, NULL) == 0);
    zen_array *p1 = zen_model_predict(m, x, 4), *p2 = zen_model_predict(m2, x, 4);
    CHECK_OK(ctx, p1);
    CHECK_OK(ctx, p2);
    if (p1 && p2) {
        CHECK(zen_array_numel(p1) == zen_array_numel(p2));
        CHECK(memcmp(p1->data, p2->data, (size_t)zen_array_numel(p1) * sizeof(float)) == 0);
        /* and not trivially: the outputs vary */
        const float *pd = p1->data;
        bool varies = false;
        for (int64_t i = 1; i < zen_array_numel(p1); i++) varies |= pd[i] != pd[0];
        CHECK(varies);
    }
    zen_array_free(p1);
    zen_array_free(p2);
    free(json);
    free(json2);
    zen_model_free(m2);
}

TEST(test_json_round_trip) {
    zen_ctx *ctx = zen_ctx_new();
    zen_array *img = zen_array_new(ctx, ZEN_F32, 4, (int64_t[]){6, 8, 8, 2});
    zen_rng r;
    zen_rng_seed(&r, 8);
    for (int64_t i = 0; i < zen_array_numel(img); i++) ((float *)img->data)[i] = zen_rng_normal(&r);

    /* Sequential: every single-input layer type */
    zen_model *m = zen_model_new(ctx, "seq");
    zen_model_input(m, 3, (int64_t[]){8, 8, 2});
    zen_model_add(m, zen_layer_new(ctx, "Conv2D", "{\"filters\": 4, \"kernel_size\": 3, \"padding\": \"same\", "
                                                  "\"activation\": \"relu\", \"dilation_rate\": 1}"));
    zen_model_add(m, zen_layer_new(ctx, "BatchNormalization", "{\"momentum\": 0.9}"));
    zen_model_add(m, zen_layer_new(ctx, "MaxPooling2D", "{\"pool_size\": 2}"));
    zen_model_add(m, zen_layer_new(ctx, "AveragePooling2D", "{\"pool_size\": 2, \"strides\": 1, \"padding\": \"same\"}"));
    zen_model_add(m, zen_layer_new(ctx, "LayerNormalization", NULL));
    zen_model_add(m, zen_layer_new(ctx, "Reshape", "{\"target_shape\": [2, 8, 4]}"));
    zen_model_add(m, zen_layer_flatten(ctx));
    zen_model_add(m, zen_layer_dropout(ctx, 0.3f));
    zen_model_add(m, zen_layer_dense(ctx, 5, "tanh"));
    zen_model_add(m, zen_layer_new(ctx, "Activation", "{\"activation\": \"softmax\"}"));
    check_round_trip(ctx, m, "\"Sequential\"", img);
    zen_model_free(m);

    /* Functional: the residual model with a Concatenate branch */
    zen_array *one = zen_array_new(ctx, ZEN_F32, 4, (int64_t[]){6, 8, 8, 1});
    for (int64_t i = 0; i < zen_array_numel(one); i++) ((float *)one->data)[i] = zen_rng_normal(&r);
    m = residual_model(ctx, "relu");
    check_round_trip(ctx, m, "\"Functional\"", one);
    zen_model_free(m);

    m = zen_model_new(ctx, "branches");
    int x = zen_model_input(m, 3, (int64_t[]){8, 8, 1});
    int a = zen_model_apply(m, zen_layer_new(ctx, "Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"padding\": \"same\"}"), 1, &x);
    int b = zen_model_apply(m, zen_layer_new(ctx, "Conv2D", "{\"filters\": 2, \"kernel_size\": 1, \"strides\": 2}"), 1, &x);
    int ap = zen_model_apply(m, zen_layer_new(ctx, "MaxPooling2D", "{\"pool_size\": 3, \"strides\": 2, \"padding\": \"same\"}"), 1, &a);
    int cat = zen_model_apply(m, zen_layer_new(ctx, "Concatenate", NULL), 2, (int[]){ap, b});
    int g = zen_model_apply(m, zen_layer_new(ctx, "GlobalAveragePooling2D", NULL), 1, &cat);
    zen_model_apply(m, zen_layer_dense(ctx, 3, NULL), 1, &g);
    check_round_trip(ctx, m, "\"Functional\"", one);
    zen_model_free(m);

    /* token ids: Input(int32) -> Embedding -> LayerNormalization -> Flatten -> Dense */
    zen_array *tok = zen_array_new(ctx, ZEN_I32, 2, (int64_t[]){6, 5});
    for (int64_t i = 0; i < zen_array_numel(tok); i++) ((int32_t *)tok->data)[i] = (int32_t)(zen_rng_next(&r) % 10);
    const char *spec = SEQ_INT("[5]", "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": 10, \"output_dim\": 4}}, "
                                      "{\"class_name\": \"LayerNormalization\", \"config\": {}}, "
                                      "{\"class_name\": \"Flatten\", \"config\": {}}, "
                                      "{\"class_name\": \"Dense\", \"config\": {\"units\": 3}}");
    m = zen_model_from_json(ctx, spec);
    CHECK_OK(ctx, m);
    if (m) check_round_trip(ctx, m, "\"Sequential\"", tok);
    zen_model_free(m);

    zen_array_free(img);
    zen_array_free(one);
    zen_array_free(tok);
    zen_ctx_free(ctx);
}

/* ---- shared layers: one layer applied twice has one set of weights ---- */

TEST(test_shared_layer) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "shared");
    int x = zen_model_input(m, 1, (int64_t[]){4});
    zen_layer *d = zen_layer_dense(ctx, 4, "tanh");
    int h1 = zen_model_apply(m, d, 1, &x);
    int h2 = zen_model_apply(m, d, 1, &h1);
    CHECK(h1 >= 0 && h2 > h1);
    CHECK(zen_model_build(m, 3) == 0);
    CHECK(zen_model_n_layers(m) == 2); /* the input and the dense layer */
    CHECK(zen_model_n_params(m, false) == 20);
    zen_tensor *w = zen_layer_weight(d, 0, NULL, NULL), *b = zen_layer_weight(d, 1, NULL, NULL);
    fill_uniform(b, 4, -0.5f, 0.5f);
    /* forward: tanh(W tanh(W x + b) + b) */
    zen_model_graph *mg = zen__model_graph_new(m, 2, false);
    CHECK_OK(ctx, mg);
    zen_graph_plan(mg->g);
    fill_uniform(mg->inputs[0], 9, -1, 1);
    CHECK(zen_graph_compute(mg->g) == 0);
    const float *W = w->data, *B = b->data, *X = mg->inputs[0]->data, *Y = mg->outputs[0]->data;
    for (int s = 0; s < 2; s++) {
        double hmid[4], y[4];
        for (int o = 0; o < 4; o++) {
            double acc = B[o];
            for (int i = 0; i < 4; i++) acc += (double)W[o * 4 + i] * X[s * 4 + i];
            hmid[o] = tanh(acc);
        }
        for (int o = 0; o < 4; o++) {
            double acc = B[o];
            for (int i = 0; i < 4; i++) acc += (double)W[o * 4 + i] * hmid[i];
            y[o] = tanh(acc);
            CHECK_NEAR(Y[s * 4 + o], y[o], 1e-5);
        }
    }
    zen__model_graph_free(mg);
    /* gradients collect both uses */
    zen_tensor *xp = zen_param(ctx, ZEN_F32, 2, (int64_t[]){3, 4});
    fill_uniform(xp, 10, -1, 1);
    zen_model_graph upd = {0};
    zen_tensor *out = apply_model(m, &xp, true, &upd);
    CHECK(gradcheck(ctx, out, 3, (zen_tensor *[]){xp, w, b}, 1e-2, 1) == 0);
    /* the summary counts the weights once; the JSON names the layer for both uses */
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    CHECK(zen_model_summary(m, fp, 0) == 0);
    fclose(fp);
    printf("%s", buf);
    CHECK(strstr(buf, "Total params: 20 (80.00 B)") != NULL);
    CHECK(strstr(buf, "\n dense (Dense)                (None, 4)                 20        \n"
                      " dense (Dense)                (None, 4)                 0         \n") != NULL);
    free(buf);
    char *json = zen_model_to_json(m);
    CHECK(json && strstr(json, "\"Functional\""));
    /* ... and reloads: the second use is a "reuse" entry reading ["dense", 1, 0]-style refs */
    CHECK(json && strstr(json, "\"reuse\""));
    zen_model *back = json ? zen_model_from_json(ctx, json) : NULL;
    CHECK_OK(ctx, back);
    if (back) {
        CHECK(zen_model_build(back, 3) == 0);
        CHECK(zen_model_n_layers(back) == 2 && zen_model_n_params(back, false) == 20);
        char *again = zen_model_to_json(back);
        CHECK(again && !strcmp(again, json));
        free(again);
        zen_model_free(back);
    }
    free(json);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- Keras's default names ---- */

TEST(test_default_names) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "names");
    int x = zen_model_input(m, 3, (int64_t[]){8, 8, 3});
    int c = zen_model_apply(m, zen_layer_conv2d(ctx, 4, 3, 3, NULL), 1, &x);
    c = zen_model_apply(m, zen_layer_new(ctx, "Conv2D", "{\"filters\": 3, \"kernel_size\": 3, \"padding\": \"same\"}"), 1, &c);
    int bn = zen_model_apply(m, zen_layer_new(ctx, "BatchNormalization", NULL), 1, &c);
    int ln = zen_model_apply(m, zen_layer_new(ctx, "LayerNormalization", NULL), 1, &bn);
    int add = zen_model_apply(m, zen_layer_new(ctx, "Add", NULL), 2, (int[]){bn, ln});
    int cat = zen_model_apply(m, zen_layer_new(ctx, "Concatenate", NULL), 2, (int[]){add, ln});
    int mp = zen_model_apply(m, zen_layer_max_pooling2d(ctx, 2, 2), 1, &cat);
    int ap = zen_model_apply(m, zen_layer_new(ctx, "AveragePooling2D", NULL), 1, &mp);
    int act = zen_model_apply(m, zen_layer_new(ctx, "Activation", "{\"activation\": \"relu\"}"), 1, &ap);
    int gap = zen_model_apply(m, zen_layer_new(ctx, "GlobalAveragePooling2D", NULL), 1, &act);
    int rs = zen_model_apply(m, zen_layer_new(ctx, "Reshape", "{\"target_shape\": [2, 3]}"), 1, &gap);
    int fl = zen_model_apply(m, zen_layer_flatten(ctx), 1, &rs);
    int dr = zen_model_apply(m, zen_layer_dropout(ctx, 0.5f), 1, &fl);
    int d1 = zen_model_apply(m, zen_layer_dense(ctx, 4, NULL), 1, &dr);
    zen_layer *named = zen_layer_dense(ctx, 2, NULL);
    zen_layer_set(named, "name", "\"head\"");
    int d2 = zen_model_apply(m, named, 1, &d1);
    zen_model_apply(m, zen_layer_dense(ctx, 2, NULL), 1, &d2);
    CHECK(zen_model_build(m, 0) == 0);
    const char *want[] = {"input_layer", "conv2d", "conv2d_1", "batch_normalization", "layer_normalization", "add",
                          "concatenate", "max_pooling2d", "average_pooling2d", "activation",
                          "global_average_pooling2d", "reshape", "flatten", "dropout", "dense", "head", "dense_1"};
    int n = (int)(sizeof want / sizeof want[0]);
    CHECK(zen_model_n_layers(m) == n);
    for (int i = 0; i < n && i < zen_model_n_layers(m); i++) {
        if (strcmp(zen_layer_name(zen_model_layer(m, i)), want[i]))
            fprintf(stderr, "  layer %d is named %s, expected %s\n", i, zen_layer_name(zen_model_layer(m, i)), want[i]);
        CHECK(!strcmp(zen_layer_name(zen_model_layer(m, i)), want[i]));
    }
    zen_model_free(m);

    m = zen_model_new(ctx, "emb");
    int ids = zen_model_apply(m, zen_layer_new(ctx, "Input", "{\"shape\": [3], \"dtype\": \"int32\"}"), 0, NULL);
    int e0 = zen_model_apply(m, zen_layer_new(ctx, "Embedding", "{\"input_dim\": 5, \"output_dim\": 2}"), 1, &ids);
    int e1 = zen_model_apply(m, zen_layer_new(ctx, "Embedding", "{\"input_dim\": 5, \"output_dim\": 2}"), 1, &ids);
    zen_model_apply(m, zen_layer_new(ctx, "Add", NULL), 2, (int[]){e0, e1});
    CHECK(zen_model_build(m, 0) == 0);
    CHECK(!strcmp(zen_layer_name(zen_model_layer(m, 1)), "embedding"));
    CHECK(!strcmp(zen_layer_name(zen_model_layer(m, 2)), "embedding_1"));
    CHECK(!strcmp(zen_layer_name(zen_model_layer(m, 3)), "add"));
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- summary ---- */

static void bytes_text(double b, char *buf, size_t n) {
    const char *units[] = {"B", "KB", "MB", "GB"};
    int u = 0;
    while (b >= 1024 && u < 3) b /= 1024, u++;
    snprintf(buf, n, "%.2f %s", b, units[u]);
}

TEST(test_summary) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = zen_model_new(ctx, "mnist_cnn");
    zen_model_input(m, 3, (int64_t[]){28, 28, 1}); /* Keras's channels-last MNIST shape */
    zen_model_add(m, zen_layer_conv2d(ctx, 32, 3, 3, "relu"));
    zen_model_add(m, zen_layer_new(ctx, "BatchNormalization", NULL));
    zen_model_add(m, zen_layer_max_pooling2d(ctx, 2, 2));
    zen_model_add(m, zen_layer_flatten(ctx));
    zen_model_add(m, zen_layer_dense(ctx, 128, "relu"));
    zen_model_add(m, zen_layer_dense(ctx, 10, "softmax"));
    CHECK(zen_model_build(m, 1) == 0);
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    CHECK(zen_model_summary(m, fp, 8) == 0);
    fclose(fp);
    printf("%s", buf);
    const char *lines[] = {
        "Model: \"mnist_cnn\"\n",
        "\n Layer (type)                 Output Shape              Param #   \n",
        "\n conv2d (Conv2D)              (None, 26, 26, 32)        320       \n"
        " batch_normalization (BatchNormalization) (None, 26, 26, 32)        128       \n"
        " max_pooling2d (MaxPooling2D) (None, 13, 13, 32)        0         \n"
        " flatten (Flatten)            (None, 5408)              0         \n"
        " dense (Dense)                (None, 128)               692,352   \n"
        " dense_1 (Dense)              (None, 10)                1,290     \n",
        "\nTotal params: 694,090 (2.65 MB)\n",
        "\nTrainable params: 694,026 (2.65 MB)\n",
        "\nNon-trainable params: 64 (256.00 B)\n",
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        if (!strstr(buf, lines[i])) fprintf(stderr, "  summary lacks:\n%s\n", lines[i]);
        CHECK(strstr(buf, lines[i]) != NULL);
    }
    CHECK(strstr(buf, "input_layer") == NULL); /* Sequential summaries hide the Input, as Keras's */
    /* the memory line: the planner's peak for a training graph at batch 8, plus weights and
     * Adam's two slots per trainable weight */
    zen_model_graph *mg = zen__model_graph_new(m, 8, true);
    CHECK_OK(ctx, mg);
    CHECK(zen_graph_backward(mg->g, zen_sum(ctx, mg->outputs[0], 0, NULL, false)) == 0);
    CHECK(zen_graph_plan(mg->g) == 0);
    size_t peak = zen_graph_peak_bytes(mg->g);
    CHECK(peak > (size_t)8 * 26 * 26 * 32 * 4); /* at least the conv output of the batch */
    zen__model_graph_free(mg);
    char act[32], wts[32], sum[32], line[256];
    bytes_text((double)peak, act, sizeof act);
    bytes_text(4.0 * 694090 + 8.0 * 694026, wts, sizeof wts);
    bytes_text((double)peak + 4.0 * 694090 + 8.0 * 694026, sum, sizeof sum);
    snprintf(line, sizeof line, "Training memory at batch 8: %s activations and gradients (planned) + %s weights and "
                                "optimizer state = %s\n", act, wts, sum);
    if (!strstr(buf, line)) fprintf(stderr, "  summary lacks:\n%s\n", line);
    CHECK(strstr(buf, line) != NULL);
    CHECK(strstr(buf, "+ 7.94 MB weights and optimizer state") != NULL);
    free(buf);
    zen_model_free(m);

    /* functional: the Connected to column */
    m = residual_model(ctx, "relu");
    CHECK(zen_model_build(m, 1) == 0);
    buf = NULL;
    fp = open_memstream(&buf, &len);
    CHECK(zen_model_summary(m, fp, 0) == 0);
    fclose(fp);
    CHECK(strstr(buf, " Layer (type)                 Output Shape              Param #    Connected to\n") != NULL);
    CHECK(strstr(buf, " input_layer (Input)          (None, 8, 8, 1)           0         \n") != NULL);
    CHECK(strstr(buf, " add (Add)                    (None, 8, 8, 8)           0          conv2d_1, conv2d\n") != NULL);
    CHECK(strstr(buf, " batch_normalization (BatchNormalization) (None, 8, 8, 8)           32         conv2d\n") != NULL);
    CHECK(strstr(buf, "Training memory") == NULL);
    CHECK(strstr(buf, "Non-trainable params: 16 (64.00 B)\n") != NULL);
    free(buf);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) {
    f = fx_open("layers.safetensors");
    int rc = RUN_TESTS(test_layers_vs_torch, test_dropout, test_config_errors, test_residual_model_trains,
                       test_json_round_trip, test_shared_layer, test_default_names, test_summary);
    fx_close(f);
    return rc;
}
