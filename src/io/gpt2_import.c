/* gpt2_import.c — a Hugging Face GPT-2 checkpoint (config.json + model.safetensors) as a
 * zen model: Input(int32 [n_positions]) -> TokenAndPositionEmbedding "wte_wpe" ->
 * GPT2Block "h_0".. -> LayerNormalization "ln_f" -> LMHead tied to the embedding.
 *
 * Names map one to one (an optional "transformer." prefix is accepted); HF's Conv1D
 * weights are stored [in, out] and are transposed to zen's [out, in]. The causal-mask
 * buffers (h.N.attn.bias, h.N.attn.masked_bias) and lm_head.weight (tied to wte in GPT-2)
 * are skipped; any other tensor is an error, as is a missing one or a wrong shape. Weights
 * may be F32, F16 or BF16 (converted to f32). */
#include "../nn/nn.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "../core/internal.h"
#include "safetensors.h"

/* The checkpoint: its bytes and the strict reader's view of them (safetensors.h). */
typedef struct hf_file {
    unsigned char *buf;
    st_file st;
} hf_file;

static void hf_close(hf_file *f) {
    st_free(&f->st);
    free(f->buf);
}

static char *read_file(zen_ctx *ctx, const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return zen__fail(ctx, "zen_gpt2_import: cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    char *buf = NULL;
    if (fstat(fileno(f), &sb) == 0 && (buf = malloc((size_t)sb.st_size + 1)) &&
        fread(buf, 1, (size_t)sb.st_size, f) == (size_t)sb.st_size) {
        buf[sb.st_size] = 0;
        *size = (size_t)sb.st_size;
    } else {
        free(buf);
        buf = zen__fail(ctx, "zen_gpt2_import: %s: read failed", path);
    }
    fclose(f);
    return buf;
}

static bool hf_open(zen_ctx *ctx, const char *path, hf_file *f) {
    memset(f, 0, sizeof *f);
    size_t size = 0;
    f->buf = (unsigned char *)read_file(ctx, path, &size);
    if (!f->buf) return false;
    char err[512];
    if (st_parse(f->buf, size, &f->st, err, sizeof err) != 0)
        return zen__fail(ctx, "zen_gpt2_import: %s: %s", path, err), false;
    return true;
}

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 31, mant = h & 1023, bits;
    if (exp == 0) {
        float v = ldexpf((float)mant, -24);
        return sign ? -v : v;
    }
    bits = exp == 31 ? sign | 0x7f800000u | mant << 13 : sign | (exp + 112) << 23 | mant << 13;
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

/* Copies tensor `name` (rows x cols as stored) into dst, transposed when `transpose`. */
static bool st_copy(zen_ctx *ctx, const char *path, const hf_file *f, const char *name, int ndim,
                    const int64_t *shape, bool transpose, float *dst) {
    char full[160];
    const st_tensor *t = st_find(&f->st, name);
    if (!t) {
        snprintf(full, sizeof full, "transformer.%s", name);
        t = st_find(&f->st, full);
    }
    if (!t) return zen__fail(ctx, "zen_gpt2_import: %s: tensor %s is missing", path, name), false;
    if (t->dtype != ST_F32 && t->dtype != ST_F16 && t->dtype != ST_BF16)
        return zen__fail(ctx, "zen_gpt2_import: %s: tensor %s has dtype %s (F32, F16 or BF16 expected)", path, name,
                         st_dtype_name(t->dtype)), false;
    bool ok = t->ndim == ndim;
    for (int d = 0; ok && d < ndim; d++) ok = t->shape[d] == shape[d];
    if (!ok) {
        char want[64] = "";
        for (int d = 0; d < ndim; d++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", d ? ", " : "", (long long)shape[d]);
        return zen__fail(ctx, "zen_gpt2_import: %s: tensor %s must have shape [%s] (config.json says so)", path, name,
                         want), false;
    }
    const unsigned char *src = t->data; /* the reader checked the offsets against the shape */
    int64_t rows = ndim == 2 ? shape[0] : 1, cols = ndim == 2 ? shape[1] : shape[0];
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) {
            int64_t i = r * cols + c;
            float v;
            if (t->dtype == ST_F32) {
                memcpy(&v, src + 4 * i, 4);
            } else {
                uint16_t h;
                memcpy(&h, src + 2 * i, 2);
                if (t->dtype == ST_BF16) {
                    uint32_t bits = (uint32_t)h << 16;
                    memcpy(&v, &bits, 4);
                } else {
                    v = half_to_float(h);
                }
            }
            dst[transpose ? c * rows + r : i] = v;
        }
    return true;
}

/* Is this a tensor the importer knows it may skip, or one it maps? */
static bool known_name(const char *name, int layers) {
    if (!strncmp(name, "transformer.", 12)) name += 12;
    if (!strcmp(name, "__metadata__") || !strcmp(name, "lm_head.weight")) return true;
    static const char *const top[] = {"wte.weight", "wpe.weight", "ln_f.weight", "ln_f.bias"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, top[i])) return true;
    int layer, len = 0;
    if (sscanf(name, "h.%d.%n", &layer, &len) != 1 || len == 0 || layer < 0 || layer >= layers) return false;
    static const char *const block[] = {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                                        "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                                        "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias",
                                        "attn.bias", "attn.masked_bias"};
    for (int i = 0; i < 14; i++)
        if (!strcmp(name + len, block[i])) return true;
    return false;
}

static bool cfg_int(zen_ctx *ctx, cJSON *cfg, const char *path, const char *key, const char *alt, int *out) {
    cJSON *v = cJSON_GetObjectItem(cfg, key);
    if ((!v || cJSON_IsNull(v)) && alt) v = cJSON_GetObjectItem(cfg, alt);
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < 1 || v->valuedouble > 1e8)
        return zen__fail(ctx, "zen_gpt2_import: %s: %s must be a positive integer", path, key), false;
    *out = (int)v->valuedouble;
    return true;
}

zen_model *zen_gpt2_import(zen_ctx *ctx, const char *path) {
    if (!ctx) return NULL;
    if (!path) return zen__fail(ctx, "zen_gpt2_import: no path");
    /* A directory, or its model.safetensors (config.json beside it). */
    char dir[4096], cfg_path[4200], st_path[4200];
    struct stat sb;
    if (stat(path, &sb) != 0) return zen__fail(ctx, "zen_gpt2_import: cannot open %s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) {
        snprintf(dir, sizeof dir, "%s", path);
        snprintf(st_path, sizeof st_path, "%s/model.safetensors", dir);
    } else {
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0;
        else snprintf(dir, sizeof dir, ".");
        snprintf(st_path, sizeof st_path, "%s", path);
    }
    snprintf(cfg_path, sizeof cfg_path, "%s/config.json", dir);
    size_t size;
    char *text = read_file(ctx, cfg_path, &size);
    if (!text) return NULL;
    cJSON *cfg = cJSON_Parse(text);
    free(text);
    if (!cJSON_IsObject(cfg)) {
        cJSON_Delete(cfg);
        return zen__fail(ctx, "zen_gpt2_import: %s is not a JSON object", cfg_path);
    }
    int d = 0, layers = 0, heads = 1, positions = 0, vocab = 0, inner = 0;
    bool ok = cfg_int(ctx, cfg, cfg_path, "n_embd", NULL, &d) && cfg_int(ctx, cfg, cfg_path, "n_layer", NULL, &layers) &&
              cfg_int(ctx, cfg, cfg_path, "n_head", NULL, &heads) &&
              cfg_int(ctx, cfg, cfg_path, "n_positions", "n_ctx", &positions) &&
              cfg_int(ctx, cfg, cfg_path, "vocab_size", NULL, &vocab);
    cJSON *v = cJSON_GetObjectItem(cfg, "n_inner");
    if (ok && v && !cJSON_IsNull(v)) ok = cfg_int(ctx, cfg, cfg_path, "n_inner", NULL, &inner);
    double eps = 1e-5;
    v = cJSON_GetObjectItem(cfg, "layer_norm_epsilon");
    if (ok && v) {
        if (!cJSON_IsNumber(v) || !(v->valuedouble > 0)) ok = false, zen__fail(ctx, "zen_gpt2_import: %s: "
                                                                                   "layer_norm_epsilon must be a positive number", cfg_path);
        else eps = v->valuedouble;
    }
    const char *act = cJSON_GetStringValue(cJSON_GetObjectItem(cfg, "activation_function"));
    if (ok && act && strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh"))
        ok = false, zen__fail(ctx, "zen_gpt2_import: %s: activation_function '%s' is not supported (gelu_new)", cfg_path,
                              act);
    if (ok && d % heads)
        ok = false, zen__fail(ctx, "zen_gpt2_import: %s: n_embd %d is not a multiple of n_head %d", cfg_path, d, heads);
    cJSON_Delete(cfg);
    if (!ok) return NULL;
    if (!inner) inner = 4 * d;

    /* The model, as a spec. */
    cJSON *spec = cJSON_CreateObject();
    cJSON_AddStringToObject(spec, "class_name", "Sequential");
    cJSON *c = cJSON_AddObjectToObject(spec, "config");
    cJSON_AddStringToObject(c, "name", "gpt2");
    cJSON *ls = cJSON_AddArrayToObject(c, "layers");
    char buf[512];
    snprintf(buf, sizeof buf, "{\"class_name\": \"Input\", \"config\": {\"shape\": [%d], \"dtype\": \"int32\"}}", positions);
    cJSON_AddItemToArray(ls, cJSON_Parse(buf));
    snprintf(buf, sizeof buf, "{\"class_name\": \"TokenAndPositionEmbedding\", \"config\": {\"name\": \"wte_wpe\", "
                              "\"vocabulary_size\": %d, \"sequence_length\": %d, \"embedding_dim\": %d}}", vocab, positions, d);
    cJSON_AddItemToArray(ls, cJSON_Parse(buf));
    for (int i = 0; i < layers; i++) {
        snprintf(buf, sizeof buf, "{\"class_name\": \"GPT2Block\", \"config\": {\"name\": \"h_%d\", \"num_heads\": %d, "
                                  "\"intermediate_dim\": %d, \"layer_norm_epsilon\": %.9g}}", i, heads, inner, eps);
        cJSON_AddItemToArray(ls, cJSON_Parse(buf));
    }
    snprintf(buf, sizeof buf, "{\"class_name\": \"LayerNormalization\", \"config\": {\"name\": \"ln_f\", \"epsilon\": %.9g}}",
             eps);
    cJSON_AddItemToArray(ls, cJSON_Parse(buf));
    cJSON_AddItemToArray(ls, cJSON_Parse("{\"class_name\": \"LMHead\", \"config\": {\"name\": \"lm_head\", "
                                         "\"embedding\": \"wte_wpe\"}}"));
    char *json = cJSON_PrintUnformatted(spec);
    cJSON_Delete(spec);
    zen_model *m = json ? zen_model_from_json(ctx, json) : NULL;
    free(json);
    if (!m || zen_model_build(m, 0) != 0) {
        zen_model_free(m);
        return NULL;
    }

    hf_file f;
    if (!hf_open(ctx, st_path, &f)) {
        hf_close(&f);
        zen_model_free(m);
        return NULL;
    }
    for (int i = 0; ok && i < f.st.ntensors; i++)
        if (!known_name(f.st.tensors[i].name, layers)) {
            zen__fail(ctx, "zen_gpt2_import: %s: unexpected tensor %s (not part of a GPT-2 with %d layers)", st_path,
                      f.st.tensors[i].name, layers);
            ok = false;
        }
    zen_layer *emb = m->layers[1];
    ok = ok && st_copy(ctx, st_path, &f, "wte.weight", 2, (int64_t[]){vocab, d}, false, emb->weights[0]->data) &&
         st_copy(ctx, st_path, &f, "wpe.weight", 2, (int64_t[]){positions, d}, false, emb->weights[1]->data);
    /* Each block's 12 weights in GPT2Block order; HF's Conv1D is [in, out]. */
    static const char *const names[12] = {"ln_1.weight", "ln_1.bias", "attn.c_attn.weight", "attn.c_attn.bias",
                                          "attn.c_proj.weight", "attn.c_proj.bias", "ln_2.weight", "ln_2.bias",
                                          "mlp.c_fc.weight", "mlp.c_fc.bias", "mlp.c_proj.weight", "mlp.c_proj.bias"};
    for (int i = 0; ok && i < layers; i++) {
        zen_layer *l = m->layers[2 + i];
        for (int w = 0; ok && w < 12; w++) {
            zen_tensor *t = l->weights[w];
            char name[96];
            snprintf(name, sizeof name, "h.%d.%s", i, names[w]);
            bool conv = t->ndim == 2;
            int64_t shape[2] = {conv ? t->shape[1] : t->shape[0], conv ? t->shape[0] : 0};
            ok = st_copy(ctx, st_path, &f, name, t->ndim, shape, conv, t->data);
        }
    }
    zen_layer *lnf = m->layers[2 + layers];
    ok = ok && st_copy(ctx, st_path, &f, "ln_f.weight", 1, (int64_t[]){d}, false, lnf->weights[0]->data) &&
         st_copy(ctx, st_path, &f, "ln_f.bias", 1, (int64_t[]){d}, false, lnf->weights[1]->data);
    hf_close(&f);
    if (!ok) {
        zen_model_free(m);
        return NULL;
    }
    return m;
}
