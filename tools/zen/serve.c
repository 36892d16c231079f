/* serve.c — `zen serve MODEL.zen|DIR [options]`: an HTTP server for zen models.
 *
 * Loads one model file, or every *.zen file of a directory (each served under its file
 * stem), starts a worker per model (serve_batch.c) and the HTTP server (serve_http.c), and
 * waits for SIGTERM or SIGINT. Then it stops accepting connections, lets the requests in
 * flight finish, stops the workers and exits 0.
 *
 * Signals are blocked in every thread (set before any thread starts, so all inherit it) and
 * taken by sigwait in the main thread: no async-signal handler, no global state. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "serve.h"

static const char *usage =
    "usage: zen serve MODEL.zen|DIR [options]\n"
    "\n"
    "Serves a model file, or every *.zen file in DIR (each named by its file stem), over HTTP:\n"
    "  GET  /                          a page to draw digits on and see the predictions\n"
    "  POST /v1/models/<name>:predict  {\"instances\": [...]} or an NPY body (application/x-npy)\n"
    "                                  or one image (image/png, image/jpeg), made as `zen predict`\n"
    "                                  makes an image file; add ?invert=1 as its --invert\n"
    "  GET  /v1/models, /v1/models/<name>, /healthz, /metrics (Prometheus)\n"
    "\n"
    "  --host ADDR            IPv4 address to listen on (default 127.0.0.1; 0.0.0.0 for all)\n"
    "  --port N               TCP port (default 8080; 0 picks a free one, printed at start)\n"
    "  --max-batch N          samples the worker runs together (default 32)\n"
    "  --max-wait-ms MS       how long a batch waits for more requests after its first (default 2)\n"
    "  --no-batching          run each request alone, in arrival order\n"
    "  --max-body BYTES       largest request body (default 16777216; larger: 413)\n"
    "  --max-connections N    open connections at most (default 256; more are refused)\n"
    "  --timeout S            idle connections close, and a request waits for its model, at most S s (default 30)\n"
    "  --threads N            threads for each model's kernels (default: all cores)\n"
    "\n"
    "SIGTERM or SIGINT stops accepting, finishes the requests in flight and exits 0.\n";

/* The "zen_version" of a model file's safetensors header, or "unknown". */
static void file_info(zen_ctx *ctx, const char *path, char *version, size_t vn) {
    snprintf(version, vn, "unknown");
    char *text = zen_model_file_header(ctx, path);
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "__metadata__"), "zen_version"));
    if (v) snprintf(version, vn, "%s", v);
    cJSON_Delete(j);
    free(text);
    zen_ctx_clear_error(ctx);
}

static void shape_json(sbuf *b, int ndim, const int64_t *shape) {
    sb_printf(b, "[");
    for (int k = 0; k < ndim; k++) sb_printf(b, "%s%lld", k ? ", " : "", (long long)shape[k]);
    sb_printf(b, "]");
}

static int load_model(serve_model *sm, const char *path, const char *name, const serve_opts *o) {
    memset(sm, 0, sizeof *sm);
    snprintf(sm->name, sizeof sm->name, "%s", name);
    sm->opts = o;
    sm->path = strdup(path);
    sm->ctx = zen_ctx_new();
    if (!sm->path || !sm->ctx) return fprintf(stderr, "zen serve: out of memory\n"), -1;
    if (o->threads > 0) zen_ctx_set_threads(sm->ctx, o->threads);
    sm->model = zen_model_load(sm->ctx, path);
    if (!sm->model) return fprintf(stderr, "zen serve: %s\n", zen_ctx_error(sm->ctx)), -1;
    sm->in_ndim = zen_model_input_shape(sm->model, 0, sm->in_shape);
    sm->out_ndim = zen_model_output_shape(sm->model, 0, sm->out_shape);
    if (sm->in_ndim < 0 || sm->out_ndim < 0 || zen_model_input_shape(sm->model, 1, (int64_t[ZEN_MAX_DIMS]){0}) >= 0 ||
        zen_model_output_shape(sm->model, 1, (int64_t[ZEN_MAX_DIMS]){0}) >= 0) {
        zen_ctx_clear_error(sm->ctx);
        return fprintf(stderr, "zen serve: %s: only models with one input and one output can be served\n", path), -1;
    }
    zen_ctx_clear_error(sm->ctx);
    sm->in_numel = sm->out_numel = 1;
    for (int k = 0; k < sm->in_ndim; k++) sm->in_numel *= sm->in_shape[k];
    for (int k = 0; k < sm->out_ndim; k++) sm->out_numel *= sm->out_shape[k];
    sm->in_dtype = zen_model_input_dtype(sm->model, 0);
    sm->nlabels = zen_model_n_class_names(sm->model);
    sm->labels = calloc((size_t)sm->nlabels + 1, sizeof *sm->labels);
    for (int i = 0; sm->labels && i < sm->nlabels; i++) sm->labels[i] = strdup(zen_model_class_name(sm->model, i));

    struct stat st = {0}; /* a file gone since loading shows size 0 and the epoch */
    if (stat(path, &st) != 0) memset(&st, 0, sizeof st);
    char version[64], mtime[64];
    file_info(sm->ctx, path, version, sizeof version);
    strftime(mtime, sizeof mtime, "%Y-%m-%dT%H:%M:%SZ", gmtime(&st.st_mtime));
    sbuf b = {0};
    sb_printf(&b, "{\"name\": ");
    sb_json_str(&b, sm->name);
    sb_printf(&b, ", \"input_shape\": ");
    shape_json(&b, sm->in_ndim, sm->in_shape);
    sb_printf(&b, ", \"input_dtype\": \"%s\", \"output_shape\": ", sm->in_dtype == ZEN_F32 ? "float32" : "int32");
    shape_json(&b, sm->out_ndim, sm->out_shape);
    sb_printf(&b, ", \"output_dtype\": \"float32\", \"class_names\": [");
    for (int i = 0; i < sm->nlabels; i++) {
        sb_printf(&b, i ? ", " : "");
        sb_json_str(&b, sm->labels[i] ? sm->labels[i] : "");
    }
    sb_printf(&b, "], \"params\": %lld, \"trainable_params\": %lld, \"file\": {\"path\": ",
              (long long)zen_model_n_params(sm->model, false), (long long)zen_model_n_params(sm->model, true));
    sb_json_str(&b, path);
    sb_printf(&b, ", \"size\": %lld, \"modified\": \"%s\", \"format\": \"zen (safetensors)\", \"zen_version\": ",
              (long long)st.st_size, mtime);
    sb_json_str(&b, version);
    sb_printf(&b, "}}\n");
    if (b.oom || !sm->labels) return fprintf(stderr, "zen serve: out of memory\n"), -1;
    sm->meta_json = b.s;
    return 0;
}

static void free_model(serve_model *sm) {
    serve_worker_stop(sm);
    if (sm->model) zen_model_free(sm->model);
    if (sm->ctx) zen_ctx_free(sm->ctx);
    for (int i = 0; sm->labels && i < sm->nlabels; i++) free(sm->labels[i]);
    free(sm->labels);
    free(sm->meta_json);
    free(sm->path);
}

/* A file stem usable in a URL path segment. */
static bool good_name(const char *s) {
    if (!*s) return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '_' ||
              *s == '-' || *s == '.'))
            return false;
    return true;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The model files: the path itself, or the *.zen files of a directory in name order. */
static char **list_models(const char *path, int *n) {
    struct stat st;
    *n = 0;
    if (stat(path, &st) != 0) return fprintf(stderr, "zen serve: %s: %s\n", path, strerror(errno)), NULL;
    char **files = NULL;
    if (!S_ISDIR(st.st_mode)) {
        files = calloc(1, sizeof *files);
        if (files && (files[0] = strdup(path))) *n = 1;
        return files;
    }
    DIR *d = opendir(path);
    if (!d) return fprintf(stderr, "zen serve: %s: %s\n", path, strerror(errno)), NULL;
    int cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len <= 4 || strcmp(e->d_name + len - 4, ".zen")) continue;
        if (*n == cap) {
            char **g = realloc(files, (size_t)(cap = cap ? cap * 2 : 8) * sizeof *files);
            if (!g) break;
            files = g;
        }
        size_t need = strlen(path) + len + 2;
        files[*n] = malloc(need);
        if (files[*n]) snprintf(files[(*n)++], need, "%s/%s", path, e->d_name);
    }
    closedir(d);
    if (*n == 0) {
        fprintf(stderr, "zen serve: %s: no *.zen model files in this directory\n", path);
        free(files);
        return NULL;
    }
    qsort(files, (size_t)*n, sizeof *files, by_name);
    return files;
}

static void stem(const char *path, char *out, size_t n) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 4 && !strcmp(base + len - 4, ".zen")) len -= 4;
    snprintf(out, n, "%.*s", (int)(len < n ? len : n - 1), base);
}

static bool parse_args(int argc, char **argv, serve_opts *o, const char **target) {
    *o = (serve_opts){.host = "127.0.0.1", .port = 8080, .max_batch = 32, .max_wait_ms = 2, .batching = true,
                      .max_body = 16 << 20, .max_connections = 256, .timeout_s = 30};
    *target = NULL;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        long l;
        double d;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            fputs(usage, stdout);
            exit(0);
        } else if (!strcmp(a, "--no-batching")) {
            o->batching = false;
            continue;
        } else if (a[0] != '-' || !a[1]) {
            if (*target) return fprintf(stderr, "zen serve: one MODEL.zen or DIR, got '%s' and '%s'\n", *target, a), false;
            *target = a;
            continue;
        }
        static const char *const with_value[] = {"--host", "--port", "--max-batch", "--max-wait-ms", "--max-body",
                                                 "--max-connections", "--timeout", "--threads"};
        bool known = false;
        for (size_t k = 0; k < sizeof with_value / sizeof *with_value; k++) known |= !strcmp(a, with_value[k]);
        if (!known) return fprintf(stderr, "zen serve: unknown option '%s'\n%s", a, usage), false;
        if (!v) return fprintf(stderr, "zen serve: %s needs a value\n%s", a, usage), false;
        i++;
        if (!strcmp(a, "--host")) o->host = v;
        else if (!strcmp(a, "--port")) {
            if (!cli_int("serve", a, v, 0, 65535, &l)) return false;
            o->port = (int)l;
        } else if (!strcmp(a, "--max-batch")) {
            if (!cli_int("serve", a, v, 1, 4096, &l)) return false;
            o->max_batch = (int)l;
        } else if (!strcmp(a, "--max-wait-ms")) {
            if (!cli_float("serve", a, v, 0, 60000, &d)) return false;
            o->max_wait_ms = d;
        } else if (!strcmp(a, "--max-body")) {
            if (!cli_int("serve", a, v, 64, 1L << 32, &l)) return false;
            o->max_body = l;
        } else if (!strcmp(a, "--max-connections")) {
            if (!cli_int("serve", a, v, 1, 65536, &l)) return false;
            o->max_connections = (int)l;
        } else if (!strcmp(a, "--timeout")) {
            if (!cli_int("serve", a, v, 1, 86400, &l)) return false;
            o->timeout_s = (int)l;
        } else if (!strcmp(a, "--threads")) {
            if (!cli_int("serve", a, v, 1, 1024, &l)) return false;
            o->threads = (int)l;
        } else {
            return fprintf(stderr, "zen serve: unknown option '%s'\n%s", a, usage), false;
        }
    }
    if (!*target) return fprintf(stderr, "zen serve: which model? give MODEL.zen or a directory\n%s", usage), false;
    return true;
}

int cmd_serve(int argc, char **argv) {
    serve_server s = {0};
    const char *target;
    if (!parse_args(argc, argv, &s.opts, &target)) return 2;

    /* Before any thread exists (OpenMP's included): SIGTERM and SIGINT go to sigwait. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int nfiles = 0, rc = 1;
    char **files = list_models(target, &nfiles);
    if (!files) return 1;
    s.models = calloc((size_t)nfiles, sizeof *s.models);
    const char **names = calloc((size_t)nfiles, sizeof *names);
    if (!s.models || !names) {
        fprintf(stderr, "zen serve: out of memory\n");
        goto done;
    }
    for (int i = 0; i < nfiles; i++) {
        char name[128];
        stem(files[i], name, sizeof name);
        if (!good_name(name)) {
            fprintf(stderr, "zen serve: %s: the model name '%s' (the file stem) may only use letters, digits, '_', '-' and '.'\n",
                    files[i], name);
            goto done;
        }
        int err = load_model(&s.models[i], files[i], name, &s.opts);
        s.nmodels = i + 1;
        if (err) goto done;
        s.models[i].index = i;
        names[i] = s.models[i].name;
    }
    s.metrics = serve_metrics_new(s.nmodels, names);
    sbuf list = {0};
    sb_printf(&list, "{\"models\": [");
    for (int i = 0; i < s.nmodels; i++) {
        s.models[i].meta_json[strlen(s.models[i].meta_json) - 1] = 0; /* drop the newline inside the list */
        sb_printf(&list, "%s%s", i ? ", " : "", s.models[i].meta_json);
        s.models[i].meta_json[strlen(s.models[i].meta_json)] = '\n';
    }
    sb_printf(&list, "]}\n");
    s.list_json = list.s;
    if (!s.metrics || list.oom) {
        fprintf(stderr, "zen serve: out of memory\n");
        goto done;
    }
    for (int i = 0; i < s.nmodels; i++) {
        s.models[i].metrics = s.metrics;
        if (serve_worker_start(&s.models[i]) != 0) goto done;
    }
    if (serve_http_start(&s) != 0) goto done;

    printf("zen serve: listening on http://%s:%d (", s.opts.host, serve_http_port(&s));
    for (int i = 0; i < s.nmodels; i++) printf("%s%s", i ? ", " : "", s.models[i].name);
    printf("; %s)\n", s.opts.batching ? "dynamic batching" : "no batching");
    fflush(stdout);

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    printf("zen serve: %s: finishing the requests in flight\n", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    fflush(stdout);
    serve_http_quiesce(&s);
    double give_up = serve_now() + s.opts.timeout_s + 5;
    while (serve_metrics_inflight_now(s.metrics) > 0 && serve_now() < give_up) usleep(5000);
    serve_http_stop(&s);
    printf("zen serve: stopped\n");
    rc = 0;
done:
    serve_http_stop(&s);
    for (int i = 0; i < s.nmodels; i++) free_model(&s.models[i]);
    free(s.models);
    free(names);
    free(s.list_json);
    serve_metrics_free(s.metrics);
    for (int i = 0; i < nfiles; i++) free(files[i]);
    free(files);
    return rc;
}
