/* fixture.c — reading PyTorch fixtures (safetensors files) and checking ops against them. */
#include "harness.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <string.h>

#ifndef ZEN_FIXTURE_DIR
#error "ZEN_FIXTURE_DIR must name tests/fixtures"
#endif

typedef struct {
    char *name;
    zen_dtype dtype;
    int ndim;
    int64_t shape[ZEN_MAX_DIMS];
    const unsigned char *data;
    size_t nbytes;
} fx_tensor;

struct fx_file {
    char path[512];
    unsigned char *bytes;
    size_t size;
    fx_tensor *tensors;
    int n;
    char **cases; /* scratch for fx_cases */
};

static void die(const char *path, const char *what) {
    fprintf(stderr, "fixture %s: %s\n", path, what);
    exit(2);
}

fx_file *fx_open(const char *name) {
    fx_file *f = calloc(1, sizeof *f);
    snprintf(f->path, sizeof f->path, "%s/%s", ZEN_FIXTURE_DIR, name);
    FILE *fp = fopen(f->path, "rb");
    if (!fp) die(f->path, "cannot open (run tests/fixtures/make_fixtures.py)");
    fseek(fp, 0, SEEK_END);
    f->size = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    f->bytes = malloc(f->size);
    if (fread(f->bytes, 1, f->size, fp) != f->size) die(f->path, "short read");
    fclose(fp);

    if (f->size < 8) die(f->path, "too small");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f->bytes[i];
    if (hlen > f->size - 8) die(f->path, "header length past the end");
    cJSON *root = cJSON_ParseWithLength((const char *)f->bytes + 8, (size_t)hlen);
    if (!root) die(f->path, "bad JSON header");
    const unsigned char *base = f->bytes + 8 + hlen;
    size_t data_size = f->size - 8 - hlen;

    int cap = cJSON_GetArraySize(root);
    f->tensors = calloc((size_t)cap + 1, sizeof *f->tensors);
    for (cJSON *it = root->child; it; it = it->next) {
        if (!strcmp(it->string, "__metadata__")) continue;
        fx_tensor *t = &f->tensors[f->n++];
        t->name = strdup(it->string);
        const char *dt = cJSON_GetStringValue(cJSON_GetObjectItem(it, "dtype"));
        if (!dt) die(f->path, "tensor without dtype");
        if (!strcmp(dt, "F32")) t->dtype = ZEN_F32;
        else if (!strcmp(dt, "I32")) t->dtype = ZEN_I32;
        else die(f->path, "dtype must be F32 or I32");
        cJSON *shape = cJSON_GetObjectItem(it, "shape");
        t->ndim = cJSON_GetArraySize(shape);
        if (t->ndim > ZEN_MAX_DIMS) die(f->path, "too many dims");
        size_t count = 1;
        for (int d = 0; d < t->ndim; d++) {
            t->shape[d] = (int64_t)cJSON_GetArrayItem(shape, d)->valuedouble;
            count *= (size_t)t->shape[d];
        }
        cJSON *offs = cJSON_GetObjectItem(it, "data_offsets");
        size_t b = (size_t)cJSON_GetArrayItem(offs, 0)->valuedouble;
        size_t e = (size_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
        if (b > e || e > data_size || e - b != count * 4) die(f->path, "bad data_offsets");
        t->data = base + b;
        t->nbytes = e - b;
    }
    cJSON_Delete(root);
    return f;
}

void fx_close(fx_file *f) {
    for (int i = 0; i < f->n; i++) free(f->tensors[i].name);
    if (f->cases)
        for (int i = 0; f->cases[i]; i++) free(f->cases[i]);
    free(f->cases);
    free(f->tensors);
    free(f->bytes);
    free(f);
}

static const fx_tensor *find(const fx_file *f, const char *key) {
    for (int i = 0; i < f->n; i++)
        if (!strcmp(f->tensors[i].name, key)) return &f->tensors[i];
    return NULL;
}

static const fx_tensor *need(const fx_file *f, const char *key) {
    const fx_tensor *t = find(f, key);
    if (!t) {
        fprintf(stderr, "fixture %s: no tensor '%s' (regenerate fixtures?)\n", f->path, key);
        exit(2);
    }
    return t;
}

int fx_has(const fx_file *f, const char *key) { return find(f, key) != NULL; }

static zen_tensor *leaf(zen_ctx *ctx, const fx_file *f, const char *key, bool param) {
    const fx_tensor *t = need(f, key);
    zen_tensor *z = param ? zen_param(ctx, t->dtype, t->ndim, t->shape) : zen_input(ctx, t->dtype, t->ndim, t->shape);
    if (!z) return NULL;
    memcpy(z->data, t->data, t->nbytes);
    zen_set_name(z, key);
    return z;
}

zen_tensor *fx_param(zen_ctx *ctx, const fx_file *f, const char *key) { return leaf(ctx, f, key, true); }
zen_tensor *fx_input(zen_ctx *ctx, const fx_file *f, const char *key) { return leaf(ctx, f, key, false); }

int fx_ints(const fx_file *f, const char *key, int64_t *out, int cap) {
    const fx_tensor *t = need(f, key);
    int n = (int)(t->nbytes / 4);
    for (int i = 0; i < n && i < cap; i++) {
        if (t->dtype == ZEN_I32) {
            int32_t v;
            memcpy(&v, t->data + 4 * i, 4);
            out[i] = v;
        } else {
            float v;
            memcpy(&v, t->data + 4 * i, 4);
            out[i] = (int64_t)v;
        }
    }
    return n;
}

int fx_int(const fx_file *f, const char *key) {
    int64_t v = 0;
    fx_ints(f, key, &v, 1);
    return (int)v;
}

float fx_float(const fx_file *f, const char *key) {
    const fx_tensor *t = need(f, key);
    float v;
    if (t->dtype == ZEN_F32) {
        memcpy(&v, t->data, 4);
    } else {
        int32_t i;
        memcpy(&i, t->data, 4);
        v = (float)i;
    }
    return v;
}

const char *const *fx_cases(fx_file *f, const char *prefix) {
    if (f->cases)
        for (int i = 0; f->cases[i]; i++) free(f->cases[i]);
    free(f->cases);
    f->cases = calloc((size_t)f->n + 1, sizeof *f->cases);
    int nc = 0;
    size_t plen = strlen(prefix);
    for (int i = 0; i < f->n; i++) {
        const char *name = f->tensors[i].name;
        const char *dot = strchr(name, '.');
        if (!dot || strncmp(name, prefix, plen)) continue;
        size_t len = (size_t)(dot - name);
        int dup = 0;
        for (int c = 0; c < nc && !dup; c++) dup = strlen(f->cases[c]) == len && !strncmp(f->cases[c], name, len);
        if (!dup) f->cases[nc++] = strndup(name, len);
    }
    return (const char *const *)f->cases;
}

int fx_check_tensor(const char *label, const zen_tensor *a, const fx_file *f, const char *key, double atol,
                    double rtol) {
    const fx_tensor *e = need(f, key);
    if (!a || a->ndim != e->ndim) {
        fprintf(stderr, "  %s: expected %d dims, got %d\n", label, e->ndim, a ? a->ndim : -1);
        return 1;
    }
    for (int d = 0; d < e->ndim; d++) {
        if (a->shape[d] != e->shape[d]) {
            fprintf(stderr, "  %s: dim %d is %lld, expected %lld\n", label, d, (long long)a->shape[d],
                    (long long)e->shape[d]);
            return 1;
        }
    }
    int64_t n = zen_numel(a), bad = 0, worst = -1;
    double worst_err = 0;
    int64_t index[ZEN_MAX_DIMS];
    for (int64_t i = 0; i < n; i++) {
        int64_t rem = i;
        for (int d = a->ndim - 1; d >= 0; d--) {
            index[d] = rem % a->shape[d];
            rem /= a->shape[d];
        }
        double got, want;
        if (e->dtype == ZEN_I32) {
            int32_t w, g;
            memcpy(&w, e->data + 4 * i, 4);
            int64_t off = 0;
            for (int d = 0; d < a->ndim; d++) off += index[d] * a->stride[d];
            g = ((const int32_t *)a->data)[off];
            got = g;
            want = w;
        } else {
            float w;
            memcpy(&w, e->data + 4 * i, 4);
            got = zen_get_f32(a, index);
            want = w;
        }
        double err = fabs(got - want);
        int ok = err <= atol + rtol * fabs(want) || (isnan(got) && isnan(want)) || (got == want);
        if (!ok) {
            bad++;
            if (err > worst_err || worst < 0) {
                worst_err = err;
                worst = i;
            }
        }
    }
    if (bad) {
        float w;
        memcpy(&w, e->data + 4 * worst, 4);
        fprintf(stderr, "  %s: %lld of %lld elements differ from %s; worst at flat index %lld (error %g, expected %g)\n",
                label, (long long)bad, (long long)n, key, (long long)worst, worst_err, (double)w);
        return 1;
    }
    return 0;
}

int fx_check_op(zen_ctx *ctx, const fx_file *f, const char *c, zen_tensor *out, int n,
                zen_tensor *const *inputs, const char *const *names, double tol) {
    char key[256], label[256];
    if (!out) {
        fprintf(stderr, "  %s: op failed: %s\n", c, zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "NULL");
        return 1;
    }
    int failures = 0;
    snprintf(key, sizeof key, "%s.gout", c);
    bool has_grad = fx_has(f, key) && out->dtype == ZEN_F32;
    zen_graph *g = zen_graph_new(ctx);
    zen_graph_add(g, out);
    if (has_grad) {
        zen_tensor *gout = fx_input(ctx, f, key);
        zen_tensor *loss = zen_sum(ctx, zen_mul(ctx, out, gout), 0, NULL, false);
        if (zen_graph_backward(g, loss) != 0) {
            fprintf(stderr, "  %s: backward failed: %s\n", c, zen_ctx_error(ctx));
            zen_graph_free(g);
            return 1;
        }
    }
    if (zen_graph_plan(g) != 0 || zen_graph_compute(g) != 0) {
        fprintf(stderr, "  %s: plan/compute failed: %s\n", c, zen_ctx_error(ctx));
        zen_graph_free(g);
        return 1;
    }
    snprintf(key, sizeof key, "%s.out", c);
    snprintf(label, sizeof label, "%s forward", c);
    failures += fx_check_tensor(label, out, f, key, 1e-5 * tol, 1e-4 * tol);
    if (has_grad) {
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof key, "%s.grad.%s", c, names[i]);
            if (!fx_has(f, key)) continue;
            snprintf(label, sizeof label, "%s grad %s (vs torch)", c, names[i]);
            if (!inputs[i]->grad) {
                fprintf(stderr, "  %s: no gradient was built\n", label);
                failures++;
                continue;
            }
            failures += fx_check_tensor(label, inputs[i]->grad, f, key, 1e-5 * tol, 1e-4 * tol);
        }
    }
    zen_graph_free(g);
    if (has_grad) {
        zen_tensor *params[ZEN_MAX_SRC * 4];
        int np = 0;
        for (int i = 0; i < n; i++)
            if (inputs[i]->flags & ZEN_FLAG_PARAM) params[np++] = inputs[i];
        if (np) failures += gradcheck(ctx, out, np, params, 1e-2, tol);
    }
    if (failures) fprintf(stderr, "  case %s: %d failures\n", c, failures);
    return failures;
}
