/* save.c — the model file: a safetensors file (8-byte little-endian header length, a JSON
 * header, then the tensor bytes) whose __metadata__ holds
 *   "format": "zen", "zen_version", "model": the JSON spec, "compile": loss, metrics and
 *   optimizer (class and config), when the model was compiled;
 * and whose tensors are the weights, named "<layer>/<weight>", f32 little-endian. The file
 * is written to a temporary name, synced, then renamed over the target. */
#include "train.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define ST_ALIGN 8

static cJSON *compile_json(const zen_model *m) {
    zen_trainer *t = m->trainer;
    if (!t || !t->opt) return NULL; /* not compiled (a trainer made by predict) */
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "loss", t->loss);
    cJSON *metrics = cJSON_AddArrayToObject(c, "metrics");
    for (int i = 0; i < t->nmetrics; i++) cJSON_AddItemToArray(metrics, cJSON_CreateString(t->metrics[i]->name));
    cJSON *opt = cJSON_AddObjectToObject(c, "optimizer");
    cJSON_AddStringToObject(opt, "class_name", t->opt->type->class_name);
    cJSON *cfg = t->opt->config_json ? cJSON_Parse(t->opt->config_json) : cJSON_CreateObject();
    cJSON_AddItemToObject(opt, "config", cfg ? cfg : cJSON_CreateObject());
    return c;
}

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int zen_model_save(zen_model *m, const char *path) {
    if (!m || !path) return -1;
    zen_ctx *ctx = m->ctx;
    if (!m->built) return zen__fail(ctx, "zen_model_save: build the model first"), -1;
    cJSON *header = cJSON_CreateObject();
    cJSON *meta = cJSON_AddObjectToObject(header, "__metadata__");
    cJSON_AddStringToObject(meta, "format", "zen");
    cJSON_AddStringToObject(meta, "zen_version", ZEN_VERSION);
    char *spec = zen_model_to_json(m);
    cJSON_AddStringToObject(meta, "model", spec ? spec : "{}");
    free(spec);
    cJSON *comp = compile_json(m);
    if (comp) {
        char *text = cJSON_PrintUnformatted(comp);
        cJSON_AddStringToObject(meta, "compile", text);
        free(text);
        cJSON_Delete(comp);
    }
    size_t offset = 0;
    for (int i = 0; i < m->nlayers; i++) {
        zen_layer *l = m->layers[i];
        for (int w = 0; w < l->nweights; w++) {
            char name[128];
            snprintf(name, sizeof name, "%s/%s", l->name, l->weight_names[w]);
            cJSON *e = cJSON_AddObjectToObject(header, name);
            cJSON_AddStringToObject(e, "dtype", "F32");
            cJSON *shape = cJSON_AddArrayToObject(e, "shape");
            for (int d = 0; d < l->weights[w]->ndim; d++)
                cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)l->weights[w]->shape[d]));
            size_t bytes = zen_nbytes(l->weights[w]);
            cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
            cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
            cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offset + bytes)));
            offset += bytes;
        }
    }
    char *text = cJSON_PrintUnformatted(header);
    cJSON_Delete(header);
    if (!text) return zen__fail(ctx, "zen_model_save: out of memory"), -1;
    size_t hlen = strlen(text), padded = (hlen + ST_ALIGN - 1) / ST_ALIGN * ST_ALIGN;

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        free(text);
        return zen__fail(ctx, "zen_model_save: cannot create %s: %s", tmp, strerror(errno)), -1;
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int rc = write_all(fd, len8, 8) | write_all(fd, text, hlen) | write_all(fd, "        ", padded - hlen);
    free(text);
    for (int i = 0; i < m->nlayers && !rc; i++)
        for (int w = 0; w < m->layers[i]->nweights && !rc; w++)
            rc = write_all(fd, m->layers[i]->weights[w]->data, zen_nbytes(m->layers[i]->weights[w]));
    if (!rc) rc = fsync(fd);
    if (close(fd) != 0) rc = -1;
    if (!rc) rc = rename(tmp, path);
    if (rc) {
        int e = errno;
        unlink(tmp);
        return zen__fail(ctx, "zen_model_save: writing %s failed: %s", path, strerror(e)), -1;
    }
    return 0;
}

/* ---- loading ---- */

static zen_model *load_fail(zen_model *m, unsigned char *buf, cJSON *h) {
    zen_model_free(m);
    free(buf);
    cJSON_Delete(h);
    return NULL;
}

zen_model *zen_model_load(zen_ctx *ctx, const char *path) {
    if (!ctx || !path) return NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return zen__fail(ctx, "zen_model_load: cannot open %s: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || sb.st_size < 8) {
        fclose(f);
        return zen__fail(ctx, "zen_model_load: %s: too short to be a model file", path);
    }
    size_t size = (size_t)sb.st_size;
    unsigned char *buf = malloc(size);
    if (!buf || fread(buf, 1, size, f) != size) {
        fclose(f);
        free(buf);
        return zen__fail(ctx, "zen_model_load: %s: read failed", path);
    }
    fclose(f);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > size - 8) return zen__fail(ctx, "zen_model_load: %s: header length %llu is past the end of the file", path,
                                          (unsigned long long)hlen), load_fail(NULL, buf, NULL);
    cJSON *h = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hlen);
    if (!cJSON_IsObject(h)) return zen__fail(ctx, "zen_model_load: %s: the header is not a JSON object", path), load_fail(NULL, buf, h);
    cJSON *meta = cJSON_GetObjectItem(h, "__metadata__");
    const char *spec = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "model"));
    if (!spec) return zen__fail(ctx, "zen_model_load: %s: no model spec in __metadata__ (not a zen model file)", path),
                      load_fail(NULL, buf, h);
    zen_model *m = zen_model_from_json(ctx, spec);
    if (!m || zen_model_build(m, 0) != 0) {
        const char *why = zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "?";
        char msg[512];
        snprintf(msg, sizeof msg, "%s", why);
        zen_ctx_clear_error(ctx);
        zen__fail(ctx, "zen_model_load: %s: the model spec is invalid: %s", path, msg);
        return load_fail(m, buf, h);
    }
    const unsigned char *data = buf + 8 + hlen;
    size_t data_size = size - 8 - (size_t)hlen;
    for (int i = 0; i < m->nlayers; i++) {
        zen_layer *l = m->layers[i];
        for (int w = 0; w < l->nweights; w++) {
            char name[128];
            snprintf(name, sizeof name, "%s/%s", l->name, l->weight_names[w]);
            cJSON *e = cJSON_GetObjectItem(h, name);
            if (!e) return zen__fail(ctx, "zen_model_load: %s: tensor %s is missing", path, name), load_fail(m, buf, h);
            const char *dt = cJSON_GetStringValue(cJSON_GetObjectItem(e, "dtype"));
            cJSON *shape = cJSON_GetObjectItem(e, "shape"), *offs = cJSON_GetObjectItem(e, "data_offsets");
            zen_tensor *t = l->weights[w];
            bool ok = dt && !strcmp(dt, "F32") && cJSON_GetArraySize(shape) == t->ndim;
            for (int d = 0; ok && d < t->ndim; d++) {
                cJSON *v = cJSON_GetArrayItem(shape, d);
                ok = cJSON_IsNumber(v) && v->valuedouble == (double)t->shape[d];
            }
            if (!ok) {
                char want[96], got[160] = "[";
                cJSON *v;
                cJSON_ArrayForEach(v, shape) if (strlen(got) < 120) snprintf(got + strlen(got), sizeof got - strlen(got),
                                                                             "%s%g", got[1] ? ", " : "", v->valuedouble);
                snprintf(got + strlen(got), sizeof got - strlen(got), "]");
                return zen__fail(ctx, "zen_model_load: %s: tensor %s must be F32 of shape %s, the file has %s of shape %s",
                                 path, name, zen_shape_str(t, want, sizeof want), dt ? dt : "(no dtype)",
                                 cJSON_IsArray(shape) ? got : "(none)"), load_fail(m, buf, h);
            }
            cJSON *o0 = cJSON_GetArrayItem(offs, 0), *o1 = cJSON_GetArrayItem(offs, 1);
            if (cJSON_GetArraySize(offs) != 2 || !cJSON_IsNumber(o0) || !cJSON_IsNumber(o1))
                return zen__fail(ctx, "zen_model_load: %s: tensor %s needs data_offsets [begin, end]", path, name),
                       load_fail(m, buf, h);
            double b = o0->valuedouble, end = o1->valuedouble;
            if (!(b >= 0 && end >= b && end <= (double)data_size && end - b == (double)zen_nbytes(t) && b == floor(b)))
                return zen__fail(ctx, "zen_model_load: %s: tensor %s has data_offsets [%.0f, %.0f]: "
                                 "%zu bytes expected within the %zu data bytes of the file (truncated?)",
                                 path, name, b, end, zen_nbytes(t), data_size), load_fail(m, buf, h);
            memcpy(t->data, data + (size_t)b, zen_nbytes(t));
        }
    }
    const char *comp = cJSON_GetStringValue(cJSON_GetObjectItem(meta, "compile"));
    cJSON *c = comp ? cJSON_Parse(comp) : NULL;
    if (c) {
        cJSON *opt = cJSON_GetObjectItem(c, "optimizer");
        char *ocfg = cJSON_PrintUnformatted(cJSON_GetObjectItem(opt, "config"));
        zen_optimizer *o = zen_optimizer_new(ctx, cJSON_GetStringValue(cJSON_GetObjectItem(opt, "class_name")), ocfg);
        free(ocfg);
        const char *names[ZEN_MAX_METRICS];
        int nm = 0;
        cJSON *it;
        cJSON_ArrayForEach(it, cJSON_GetObjectItem(c, "metrics")) if (nm < ZEN_MAX_METRICS / 2 - 1 && cJSON_IsString(it))
            names[nm++] = it->valuestring;
        int rc = zen_model_compile(m, o, cJSON_GetStringValue(cJSON_GetObjectItem(c, "loss")), nm, names);
        cJSON_Delete(c);
        if (rc != 0) return load_fail(m, buf, h);
    }
    free(buf);
    cJSON_Delete(h);
    return m;
}
