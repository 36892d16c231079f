/* serve_http.c — the HTTP side of `zen serve` (libmicrohttpd, one thread per connection).
 *
 *   GET  /                              the web page (serve_page.c)
 *   GET  /healthz                       {"status": "ok", "models": N}
 *   GET  /metrics                       Prometheus text (serve_metrics.c)
 *   GET  /v1/models                     {"models": [metadata, ...]}
 *   GET  /v1/models/<name>              metadata: shapes, dtypes, labels, parameters, file
 *   POST /v1/models/<name>:predict      {"instances": [...]}, an NPY body, or one PNG/JPEG
 *                                       image (?invert=1 for a dark drawing on light paper)
 *
 * Every request that cannot be served gets a 4xx JSON {"error": "..."} that names what was
 * wrong; nothing a client sends stops the server. The body is read whole (up to --max-body;
 * a longer one is 413, answered before reading it when Content-Length says so). */
#include "serve.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <float.h>
#include <math.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* ---- growable strings ---- */

void sb_printf(sbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->n;
        int w = vsnprintf(b->s ? b->s + b->n : NULL, room, fmt, ap);
        va_end(ap);
        if (w < 0) {
            b->oom = true;
            return;
        }
        if ((size_t)w < room) {
            b->n += (size_t)w;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 256;
        while (cap < b->n + (size_t)w + 1) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = true;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

void sb_json_str(sbuf *b, const char *s) {
    sb_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') sb_printf(b, "\\%c", *p);
        else if (*p == '\n') sb_printf(b, "\\n");
        else if (*p < 0x20) sb_printf(b, "\\u%04x", *p);
        else sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\"");
}

/* ---- one request ---- */

typedef struct request {
    double start;
    char *body;
    size_t n, cap;
    bool too_big;
    int code;  /* the status sent */
    int model; /* index, or -1 */
    serve_model *arriving; /* a predict request counted in its model's q.arriving */
} request;

static enum MHD_Result send_bytes(serve_server *s, struct MHD_Connection *c, request *r, int code, const char *ctype,
                                  void *data, size_t n, enum MHD_ResponseMemoryMode mode, const char *allow) {
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, data, mode);
    if (!resp) {
        if (mode == MHD_RESPMEM_MUST_FREE) free(data);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", ctype);
    if (allow) MHD_add_response_header(resp, "Allow", allow);
    if (atomic_load(&s->stopping)) MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)code, resp);
    MHD_destroy_response(resp);
    if (ok == MHD_YES) r->code = code;
    return ok;
}

static enum MHD_Result send_json(serve_server *s, struct MHD_Connection *c, request *r, int code, sbuf *b) {
    if (b->oom) {
        free(b->s);
        static const char oom[] = "{\"error\": \"out of memory\"}";
        return send_bytes(s, c, r, 500, "application/json", (void *)oom, sizeof oom - 1, MHD_RESPMEM_PERSISTENT, NULL);
    }
    return send_bytes(s, c, r, code, "application/json", b->s, b->n, MHD_RESPMEM_MUST_FREE, NULL);
}

static enum MHD_Result send_text(serve_server *s, struct MHD_Connection *c, request *r, const char *text) {
    return send_bytes(s, c, r, 200, "application/json", (void *)text, strlen(text), MHD_RESPMEM_PERSISTENT, NULL);
}

__attribute__((format(printf, 6, 7))) static enum MHD_Result
send_error(serve_server *s, struct MHD_Connection *c, request *r, int code, const char *allow, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sbuf b = {0};
    sb_printf(&b, "{\"error\": ");
    sb_json_str(&b, msg);
    sb_printf(&b, "}\n");
    if (b.oom) return send_json(s, c, r, 500, &b);
    return send_bytes(s, c, r, code, "application/json", b.s, b.n, MHD_RESPMEM_MUST_FREE, allow);
}

/* ---- predict: reading samples ---- */

static const char *json_kind(const cJSON *v) {
    if (cJSON_IsArray(v)) return "a list";
    if (cJSON_IsObject(v)) return "an object";
    if (cJSON_IsString(v)) return "a string";
    if (cJSON_IsBool(v)) return "a boolean";
    if (cJSON_IsNull(v)) return "null";
    return "a number";
}

/* Copies one instance (nested lists of the input's shape) to dst, checking every level;
 * path names the place for messages ("instances[3][27]"). */
static int read_instance(const serve_model *m, const cJSON *v, int depth, char *path, size_t plen, char *dst,
                         int64_t *at, char *err, size_t errlen) {
    size_t pl = strlen(path);
    if (depth == m->in_ndim) {
        if (!cJSON_IsNumber(v)) return snprintf(err, errlen, "%s: expected a number, got %s", path, json_kind(v)), -1;
        double d = v->valuedouble;
        if (!isfinite(d)) return snprintf(err, errlen, "%s: %g is not a finite number", path, d), -1;
        if (m->in_dtype == ZEN_F32) {
            if (fabs(d) > FLT_MAX) return snprintf(err, errlen, "%s: %g is out of the f32 range", path, d), -1;
            float f = (float)d;
            memcpy(dst + *at * 4, &f, 4);
        } else {
            if (d != floor(d) || d < INT32_MIN || d > INT32_MAX)
                return snprintf(err, errlen, "%s: %g is not an i32 integer (the model's input is i32)", path, d), -1;
            int32_t i = (int32_t)d;
            memcpy(dst + *at * 4, &i, 4);
        }
        (*at)++;
        return 0;
    }
    int64_t want = m->in_shape[depth];
    if (!cJSON_IsArray(v))
        return snprintf(err, errlen, "%s: expected a list of %lld, got %s", path, (long long)want, json_kind(v)), -1;
    int64_t got = cJSON_GetArraySize(v);
    if (got != want)
        return snprintf(err, errlen, "%s: expected a list of %lld, got a list of %lld", path, (long long)want,
                        (long long)got), -1;
    int64_t i = 0;
    for (const cJSON *e = v->child; e; e = e->next, i++) {
        snprintf(path + pl, plen - pl, "[%lld]", (long long)i);
        if (read_instance(m, e, depth + 1, path, plen, dst, at, err, errlen) != 0) return -1;
    }
    path[pl] = 0;
    return 0;
}

static void shape_text(char *buf, size_t n, const char *first, int ndim, const int64_t *dims) {
    size_t w = (size_t)snprintf(buf, n, "(%s", first);
    for (int k = 0; k < ndim && w < n; k++)
        w += (size_t)snprintf(buf + w, n - w, "%s%lld", (k || *first) ? ", " : "", (long long)dims[k]);
    if (w < n) snprintf(buf + w, n - w, "%s)", ndim == 1 && !*first ? "," : "");
}

/* {"instances": [...]}: returns the samples (malloc'd) and their count, or NULL with err. */
static void *read_json_body(const serve_model *m, const request *r, int64_t *n, char *err, size_t errlen) {
    if (r->n == 0) return snprintf(err, errlen, "the body is empty: send {\"instances\": [...]}"), NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(r->body, r->n, &end, false);
    if (!root) {
        size_t at = end && end >= r->body && end <= r->body + r->n ? (size_t)(end - r->body) : 0;
        snprintf(err, errlen, "the body is not valid JSON (error at byte %zu of %zu)", at, r->n);
        return NULL;
    }
    void *x = NULL;
    cJSON *inst = cJSON_GetObjectItemCaseSensitive(root, "instances");
    if (!cJSON_IsObject(root)) {
        snprintf(err, errlen, "the body must be a JSON object {\"instances\": [...]}, got %s", json_kind(root));
    } else if (!inst) {
        snprintf(err, errlen, "the body has no \"instances\": send {\"instances\": [sample, ...]}");
    } else if (!cJSON_IsArray(inst)) {
        snprintf(err, errlen, "\"instances\" must be a list of samples, got %s", json_kind(inst));
    } else if (cJSON_GetArraySize(inst) == 0) {
        snprintf(err, errlen, "\"instances\" is empty: send at least one sample");
    } else {
        for (cJSON *k = root->child; k && !err[0]; k = k->next)
            if (strcmp(k->string, "instances") && strcmp(k->string, "signature_name"))
                snprintf(err, errlen, "unknown key \"%.64s\" in the body (expected \"instances\")", k->string);
        if (!err[0]) {
            *n = cJSON_GetArraySize(inst);
            x = malloc((size_t)*n * (size_t)m->in_numel * 4);
            if (!x) snprintf(err, errlen, "out of memory for %lld samples", (long long)*n);
            char path[512];
            int64_t at = 0, i = 0;
            for (cJSON *e = inst->child; x && e; e = e->next, i++) {
                snprintf(path, sizeof path, "instances[%lld]", (long long)i);
                if (read_instance(m, e, 0, path, sizeof path, x, &at, err, errlen) != 0) {
                    char shape[160], tail[240];
                    shape_text(shape, sizeof shape, "", m->in_ndim, m->in_shape);
                    snprintf(tail, sizeof tail, " (each instance must have the model's input shape %s)", shape);
                    size_t el = strlen(err);
                    if (el + strlen(tail) < errlen) strcat(err, tail);
                    free(x);
                    x = NULL;
                }
            }
        }
    }
    cJSON_Delete(root);
    return x;
}

/* An NPY body of shape (N, ...input) or (...input) for one sample. */
static void *read_npy_body(const serve_model *m, const request *r, int64_t *n, char *err, size_t errlen) {
    zen_ctx *ctx = zen_ctx_new();
    if (!ctx) return snprintf(err, errlen, "out of memory"), NULL;
    zen_array *a = zen_parse_npy(ctx, r->body, r->n, "request body", m->in_dtype, 0);
    void *x = NULL;
    if (!a) {
        snprintf(err, errlen, "%s", zen_ctx_error(ctx));
    } else {
        bool single = a->ndim == m->in_ndim, ok = single || a->ndim == m->in_ndim + 1;
        int off = single ? 0 : 1;
        for (int k = 0; ok && k < m->in_ndim; k++) ok = a->shape[k + off] == m->in_shape[k];
        char want[160], got[160];
        shape_text(want, sizeof want, "N", m->in_ndim, m->in_shape);
        shape_text(got, sizeof got, "", a->ndim, a->shape);
        *n = single ? 1 : (ok ? a->shape[0] : 0);
        if (!ok) {
            snprintf(err, errlen, "request body: an array of shape %s does not fit the model's input %s", got, want);
        } else if (*n == 0) {
            snprintf(err, errlen, "request body: the array of shape %s holds no samples", got);
        } else {
            int64_t numel = *n * m->in_numel;
            for (int64_t i = 0; m->in_dtype == ZEN_F32 && i < numel; i++)
                if (!isfinite(((float *)a->data)[i])) {
                    snprintf(err, errlen, "request body: sample %lld, element %lld is %s", (long long)(i / m->in_numel),
                             (long long)(i % m->in_numel), isnan(((float *)a->data)[i]) ? "NaN" : "infinite");
                    break;
                }
            if (!err[0] && !(x = malloc((size_t)numel * 4))) snprintf(err, errlen, "out of memory");
            if (x) memcpy(x, a->data, (size_t)numel * 4);
        }
        zen_array_free(a);
    }
    zen_ctx_free(ctx);
    return x;
}

/* An image body (image/png, image/jpeg): one sample, made as `zen predict` makes it from an
 * image file (zen_image_to_input: the model's channels, resized to its height x width,
 * scaled to [0, 1], inverted when the query says ?invert=1). */
static void *read_image_body(const serve_model *m, const request *r, const char *ctype, bool invert, int64_t *n,
                             int *http, char *err, size_t errlen) {
    *http = 400;
    if (m->in_dtype != ZEN_F32) {
        *http = 415;
        return snprintf(err, errlen, "the model '%s' takes int32 token ids, not images: send application/json or "
                                     "application/x-npy", m->name), NULL;
    }
    zen_ctx *ctx = zen_ctx_new();
    if (!ctx) return snprintf(err, errlen, "out of memory"), NULL;
    int64_t h, w;
    int c;
    void *x = NULL;
    const char *fmt = zen_image_format(r->body, r->n), *want = strchr(ctype, '/') + 1;
    bool jpeg_ct = !strncasecmp(want, "jpeg", 4) || !strncasecmp(want, "jpg", 3);
    if (zen_image_input_layout(ctx, m->in_ndim, m->in_shape, NULL, &h, &w, &c) != 0) {
        char shape[160];
        shape_text(shape, sizeof shape, "", m->in_ndim, m->in_shape);
        *http = 415;
        const char *e = strstr(zen_ctx_error(ctx), ": ");
        snprintf(err, errlen, "the model '%s' does not take images (its input %s: %s): send application/json or "
                              "application/x-npy", m->name, shape, e ? e + 2 : zen_ctx_error(ctx));
    } else if (r->n == 0) {
        snprintf(err, errlen, "the body is empty: send the %s file's bytes (curl --data-binary @FILE)",
                 jpeg_ct ? "JPEG" : "PNG");
    } else if (fmt && strcmp(fmt, jpeg_ct ? "jpeg" : "png")) {
        snprintf(err, errlen, "request body: Content-Type says %s but the body is a %s image", jpeg_ct ? "JPEG" : "PNG",
                 !strcmp(fmt, "png") ? "PNG" : "JPEG");
    } else if (!(x = malloc((size_t)m->in_numel * sizeof(float)))) {
        snprintf(err, errlen, "out of memory");
    } else {
        zen_image_input_opts o = {.invert = invert};
        if (zen_image_to_input(ctx, r->body, r->n, "request body", m->in_ndim, m->in_shape, &o, x) != 0) {
            const char *e = zen_ctx_error(ctx);
            if (e && !strncmp(e, "zen_image_", 10) && strstr(e, ": ")) e = strstr(e, ": ") + 2; /* the function name */
            snprintf(err, errlen, "%s", e ? e : "cannot decode the image");
            free(x);
            x = NULL;
        }
    }
    *n = 1;
    zen_ctx_free(ctx);
    return x;
}

/* ---- predict: writing results ---- */

static bool accepts_npy(struct MHD_Connection *c) {
    const char *a = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Accept");
    return a && strstr(a, "application/x-npy");
}

/* Nested lists of the output's shape, from depth on. */
static void write_nested(sbuf *b, const serve_model *m, int depth, const float **p) {
    if (depth == m->out_ndim) {
        sb_printf(b, "%.9g", (double)*(*p)++);
        return;
    }
    sb_printf(b, "[");
    for (int64_t i = 0; i < m->out_shape[depth]; i++) {
        if (i) sb_printf(b, ", ");
        write_nested(b, m, depth + 1, p);
    }
    sb_printf(b, "]");
}

/* The class of one output: the argmax, or for a single (sigmoid) output whether >= 0.5. */
static int64_t class_of(const serve_model *m, const float *y) {
    if (m->out_numel == 1) return y[0] >= 0.5f;
    int64_t best = 0;
    for (int64_t k = 1; k < m->out_numel; k++)
        if (y[k] > y[best]) best = k;
    return best;
}

static enum MHD_Result predict(serve_server *s, struct MHD_Connection *c, request *r, serve_model *m) {
    const char *ct = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    bool npy = ct && !strncasecmp(ct, "application/x-npy", 17);
    bool image = ct && (!strncasecmp(ct, "image/png", 9) || !strncasecmp(ct, "image/jpeg", 10) ||
                        !strncasecmp(ct, "image/jpg", 9));
    /* `curl -d '{...}'` (TF Serving's own examples) labels its body as a form: read it as JSON. */
    bool curl_form = ct && !strncasecmp(ct, "application/x-www-form-urlencoded", 33);
    if (ct && !npy && !image && !curl_form && strncasecmp(ct, "application/json", 16))
        return send_error(s, c, r, 415, NULL,
                          "Content-Type '%.100s' is not supported: send application/json ({\"instances\": [...]}), "
                          "application/x-npy, image/png or image/jpeg",
                          ct);
    /* ?invert=1: 255 - v before scaling, as `zen predict --invert` (a dark digit on white paper) */
    const char *inv = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "invert");
    bool invert = inv && (!strcmp(inv, "1") || !strcmp(inv, "true"));
    if (inv && !invert && strcmp(inv, "0") && strcmp(inv, "false"))
        return send_error(s, c, r, 400, NULL, "?invert=%.40s: give invert=1 (or 0)", inv);
    if (inv && !image)
        return send_error(s, c, r, 400, NULL, "?invert applies to image bodies (image/png, image/jpeg) only");
    char err[1200] = "";
    int64_t n = 0;
    int bad = 400;
    void *x = image ? read_image_body(m, r, ct, invert, &n, &bad, err, sizeof err)
              : npy ? read_npy_body(m, r, &n, err, sizeof err)
                    : read_json_body(m, r, &n, err, sizeof err);
    if (!x) return send_error(s, c, r, bad, NULL, "%s", err);
    serve_job job = {.x = x, .n = n, .y = malloc((size_t)n * (size_t)m->out_numel * sizeof(float))};
    if (!job.y) {
        free(x);
        return send_error(s, c, r, 500, NULL, "out of memory");
    }
    if (r->arriving == m) r->arriving = NULL; /* serve_predict counts it as arrived */
    else serve_arriving(m, 1);
    int http = serve_predict(m, &job);
    free(x);
    if (http) {
        free(job.y);
        return send_error(s, c, r, http, NULL, "%s", job.err);
    }
    enum MHD_Result ok;
    if (accepts_npy(c)) {
        int64_t shape[ZEN_MAX_DIMS + 1] = {n};
        memcpy(shape + 1, m->out_shape, (size_t)m->out_ndim * sizeof *shape);
        size_t len = 0;
        zen_ctx *ctx = zen_ctx_new(); /* the shape is the model's: only memory can fail here */
        void *bytes = ctx ? zen_format_npy(ctx, ZEN_F32, m->out_ndim + 1, shape, job.y, &len) : NULL;
        zen_ctx_free(ctx);
        ok = bytes ? send_bytes(s, c, r, 200, "application/x-npy", bytes, len, MHD_RESPMEM_MUST_FREE, NULL)
                   : send_error(s, c, r, 500, NULL, "out of memory");
    } else {
        sbuf b = {0};
        sb_printf(&b, "{\"model\": ");
        sb_json_str(&b, m->name);
        sb_printf(&b, ", \"predictions\": [");
        for (int64_t i = 0; i < n; i++) {
            const float *p = job.y + i * m->out_numel;
            sb_printf(&b, i ? ", " : "");
            write_nested(&b, m, 0, &p);
        }
        sb_printf(&b, "], \"classes\": [");
        for (int64_t i = 0; i < n; i++) sb_printf(&b, "%s%lld", i ? ", " : "", (long long)class_of(m, job.y + i * m->out_numel));
        sb_printf(&b, "], \"labels\": [");
        for (int64_t i = 0; i < n; i++) {
            int64_t k = class_of(m, job.y + i * m->out_numel);
            sb_printf(&b, i ? ", " : "");
            if (k < m->nlabels) sb_json_str(&b, m->labels[k]);
            else sb_printf(&b, "\"%lld\"", (long long)k);
        }
        sb_printf(&b, "]}\n");
        ok = send_json(s, c, r, 200, &b);
    }
    free(job.y);
    return ok;
}

/* ---- routing ---- */

static serve_model *find_model(serve_server *s, const char *name, size_t len) {
    for (int i = 0; i < s->nmodels; i++)
        if (strlen(s->models[i].name) == len && !strncmp(s->models[i].name, name, len)) return &s->models[i];
    return NULL;
}

static enum MHD_Result no_model(serve_server *s, struct MHD_Connection *c, request *r, const char *name, size_t len) {
    char served[512] = "";
    size_t w = 0;
    for (int i = 0; i < s->nmodels && w < sizeof served; i++)
        w += (size_t)snprintf(served + w, sizeof served - w, "%s%s", i ? ", " : "", s->models[i].name);
    return send_error(s, c, r, 404, NULL, "no model named '%.*s' (served: %s)", (int)(len > 200 ? 200 : len), name,
                      served);
}

static enum MHD_Result route(serve_server *s, struct MHD_Connection *c, request *r, const char *url, const char *method) {
    bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD"), post = !strcmp(method, "POST");
    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
        if (!get) return send_error(s, c, r, 405, "GET, HEAD", "%s %s: method not allowed (use GET)", method, url);
        return send_bytes(s, c, r, 200, "text/html; charset=utf-8", (void *)serve_page_html, serve_page_html_len,
                          MHD_RESPMEM_PERSISTENT, NULL);
    }
    if (!strcmp(url, "/healthz")) {
        if (!get) return send_error(s, c, r, 405, "GET, HEAD", "%s %s: method not allowed (use GET)", method, url);
        sbuf b = {0};
        sb_printf(&b, "{\"status\": \"%s\", \"models\": %d}\n", atomic_load(&s->stopping) ? "stopping" : "ok",
                  s->nmodels);
        return send_json(s, c, r, 200, &b);
    }
    if (!strcmp(url, "/metrics")) {
        if (!get) return send_error(s, c, r, 405, "GET, HEAD", "%s %s: method not allowed (use GET)", method, url);
        char *text = serve_metrics_text(s->metrics);
        if (!text) return send_error(s, c, r, 500, NULL, "out of memory");
        return send_bytes(s, c, r, 200, "text/plain; version=0.0.4; charset=utf-8", text, strlen(text),
                          MHD_RESPMEM_MUST_FREE, NULL);
    }
    if (!strcmp(url, "/v1/models") || !strcmp(url, "/v1/models/")) {
        if (!get) return send_error(s, c, r, 405, "GET, HEAD", "%s %s: method not allowed (use GET)", method, url);
        return send_text(s, c, r, s->list_json);
    }
    static const char prefix[] = "/v1/models/";
    if (!strncmp(url, prefix, sizeof prefix - 1)) {
        const char *name = url + sizeof prefix - 1, *colon = strchr(name, ':');
        size_t len = colon ? (size_t)(colon - name) : strlen(name);
        serve_model *m = find_model(s, name, len);
        if (m) r->model = m->index;
        if (colon && strcmp(colon, ":predict"))
            return send_error(s, c, r, 404, NULL, "%s: unknown path (the verb is :predict)", url);
        if (!colon) {
            if (!get) return send_error(s, c, r, 405, "GET, HEAD", "%s %s: method not allowed (use GET)", method, url);
            if (!m) return no_model(s, c, r, name, len);
            return send_text(s, c, r, m->meta_json);
        }
        if (!post) return send_error(s, c, r, 405, "POST", "%s %s: method not allowed (use POST)", method, url);
        if (!m) return no_model(s, c, r, name, len);
        return predict(s, c, r, m);
    }
    return send_error(s, c, r, 404, NULL,
                      "%.200s: unknown path (try /, /healthz, /metrics, /v1/models, /v1/models/<name>, "
                      "POST /v1/models/<name>:predict)",
                      url);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls) {
    serve_server *s = cls;
    request *r = *con_cls;
    if (!r) { /* headers are in; the body (if any) comes in the next calls */
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->start = serve_now();
        r->model = -1;
        *con_cls = r;
        serve_metrics_inflight(s->metrics, 1);
        static const char prefix[] = "/v1/models/"; /* the model's label in the metrics, also for a 413 */
        if (!strncmp(url, prefix, sizeof prefix - 1)) {
            const char *name = url + sizeof prefix - 1, *colon = strchr(name, ':');
            serve_model *m = find_model(s, name, colon ? (size_t)(colon - name) : strlen(name));
            if (m) r->model = m->index;
            if (m && colon && !strcmp(colon, ":predict") && !strcmp(method, "POST")) {
                r->arriving = m; /* its batch may wait for it */
                serve_arriving(m, 1);
            }
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)s->opts.max_body) {
            r->too_big = true; /* answered now: the body is never read */
            return send_error(s, c, r, 413, NULL, "the body of %s bytes is larger than --max-body %lld bytes", cl,
                              (long long)s->opts.max_body);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (r->too_big || r->n + n > (size_t)s->opts.max_body) {
            r->too_big = true; /* a chunked body that grew too large: read on, keep nothing */
            free(r->body);
            r->body = NULL;
            r->n = r->cap = 0;
            return MHD_YES;
        }
        if (r->n + n > r->cap) {
            size_t cap = r->cap ? r->cap : 4096;
            while (cap < r->n + n) cap *= 2;
            char *b = realloc(r->body, cap);
            if (!b) return MHD_NO;
            r->body = b;
            r->cap = cap;
        }
        memcpy(r->body + r->n, upload, n);
        r->n += n;
        return MHD_YES;
    }
    if (r->code) return MHD_YES; /* answered already (413 on Content-Length) */
    if (r->too_big)
        return send_error(s, c, r, 413, NULL, "the body is larger than --max-body %lld bytes", (long long)s->opts.max_body);
    return route(s, c, r, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe) {
    serve_server *s = cls;
    request *r = *con_cls;
    if (!r) return;
    if (r->arriving) serve_arriving(r->arriving, -1); /* it never reached the queue */
    if (r->code) serve_metrics_request(s->metrics, r->model, r->code, serve_now() - r->start);
    serve_metrics_inflight(s->metrics, -1);
    free(r->body);
    free(r);
    *con_cls = NULL;
}

int serve_http_start(serve_server *s) {
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s->opts.port)};
    if (inet_pton(AF_INET, s->opts.host, &addr.sin_addr) != 1) {
        fprintf(stderr, "zen serve: --host: '%s' is not an IPv4 address (e.g. 127.0.0.1 or 0.0.0.0)\n", s->opts.host);
        return -1;
    }
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->opts.max_connections,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)s->opts.timeout_s,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s, MHD_OPTION_END);
    if (!s->daemon) {
        fprintf(stderr, "zen serve: cannot listen on %s:%d (in use, or not allowed?)\n", s->opts.host, s->opts.port);
        return -1;
    }
    return 0;
}

int serve_http_port(serve_server *s) {
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    return info ? info->port : s->opts.port;
}

void serve_http_quiesce(serve_server *s) {
    atomic_store(&s->stopping, true);
    MHD_socket fd = MHD_quiesce_daemon(s->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
}

void serve_http_stop(serve_server *s) {
    if (s->daemon) MHD_stop_daemon(s->daemon);
    s->daemon = NULL;
}
