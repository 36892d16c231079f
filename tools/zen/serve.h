/* serve.h — what the parts of `zen serve` share.
 *
 *   serve.c          options, loading the models, starting and stopping (signals)
 *   serve_http.c     the HTTP handlers: routing, bodies, JSON/NPY in and out, errors
 *   serve_batch.c    one worker thread per model and its queue (dynamic batching)
 *   serve_metrics.c  counters and histograms, written in Prometheus's text format
 *   page/index.html  the web page at /, compiled in as serve_page_html (cmake/embed_file.cmake)
 *
 * Threads: libmicrohttpd runs one thread per connection; a request that predicts hands its
 * samples to its model's queue and sleeps until the model's worker has run them. Only the
 * worker touches the model (its graphs hold their buffers, so one compute at a time). */
#ifndef ZEN_SERVE_H
#define ZEN_SERVE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "zen.h"

/* ---- options ---- */
typedef struct serve_opts {
    const char *host;     /* 127.0.0.1 */
    int port;             /* 8080; 0 picks a free one (printed) */
    int max_batch;        /* 32 samples per batch */
    double max_wait_ms;   /* 2: how long a batch waits for more after its first request */
    bool batching;        /* true (--no-batching: one request at a time) */
    int64_t max_body;     /* 16 MiB */
    int max_connections;  /* 256 */
    int timeout_s;        /* 30: idle connections and the wait for a result */
    int threads;          /* 0: zen's default */
} serve_opts;

/* ---- a request's samples on their way through a model's queue ---- */
typedef struct serve_job {
    const void *x;         /* n samples, f32 or i32 as the model's input (not owned) */
    int64_t n;
    float *y;              /* n outputs, written by the worker (owned by the request) */
    int status;            /* 0 queued, 1 running, 2 done, -1 failed (err says why) */
    char err[256];
    double enqueued;       /* seconds (monotonic) */
    pthread_cond_t done;
    struct serve_job *next;
} serve_job;

typedef struct serve_queue {
    pthread_mutex_t mu;
    pthread_cond_t work;   /* a job arrived, or stopping */
    serve_job *head, *tail;
    int64_t queued;        /* samples waiting */
    int arriving;          /* predict requests received in part, not yet queued */
    bool stopping;
    pthread_t thread;
    bool started;
} serve_queue;

/* ---- a served model ---- */
typedef struct serve_model {
    char name[128];        /* the file stem: the <name> of /v1/models/<name> */
    char *path;
    zen_ctx *ctx;
    zen_model *model;
    zen_dtype in_dtype;
    int in_ndim, out_ndim;
    int64_t in_shape[ZEN_MAX_DIMS], out_shape[ZEN_MAX_DIMS];
    int64_t in_numel, out_numel; /* elements of one sample */
    int nlabels;
    char **labels;         /* the class names (nlabels), copied at load */
    char *meta_json;       /* GET /v1/models/<name> (built once) */
    /* the worker's */
    int buckets[4], nbuckets; /* the batch sizes graphs are kept for (the last is max_batch) */
    int *plan;             /* plan[r]: the graph size to run first for r samples (serve_batch.c) */
    void *pad;             /* one batch of inputs (room for 2 * max_batch samples) */
    serve_queue q;
    const serve_opts *opts;
    struct serve_metrics *metrics;
    int index;             /* in the server's list (metrics labels) */
} serve_model;

/* serve_batch.c */
int serve_worker_start(serve_model *m);            /* 0 or -1 (message on stderr) */
/* A predict request for m has begun to arrive (+1), or ended without reaching serve_predict
 * (-1); serve_predict counts its own arrival. The worker waits for arriving requests. */
void serve_arriving(serve_model *m, int delta);
/* Queues a job and waits for it (at most timeout_s seconds in the queue). Returns 0 when
 * job->y holds the outputs, else an HTTP status with job->err set: 503 (timed out, or
 * shutting down) or 400 (the model failed on this job's data, e.g. an index out of range). */
int serve_predict(serve_model *m, serve_job *job);
void serve_worker_stop(serve_model *m);             /* runs what is queued, then joins */
double serve_now(void);                             /* monotonic seconds */

/* serve_metrics.c */
typedef struct serve_metrics serve_metrics;
serve_metrics *serve_metrics_new(int nmodels, const char *const *names);
void serve_metrics_free(serve_metrics *s);
/* model -1: not about a model (/healthz, a wrong path). */
void serve_metrics_request(serve_metrics *s, int model, int code, double seconds);
void serve_metrics_batch(serve_metrics *s, int model, int64_t samples);
void serve_metrics_inflight(serve_metrics *s, int delta);
int serve_metrics_inflight_now(serve_metrics *s);
/* The Prometheus text (malloc'd). */
char *serve_metrics_text(serve_metrics *s);

/* serve_http.c */
typedef struct serve_server {
    serve_opts opts;
    serve_model *models;
    int nmodels;
    serve_metrics *metrics;
    char *list_json;       /* GET /v1/models */
    struct MHD_Daemon *daemon;
    atomic_bool stopping;  /* responses say Connection: close */
} serve_server;
int serve_http_start(serve_server *s);              /* 0 or -1 (message on stderr) */
int serve_http_port(serve_server *s);               /* the bound port */
void serve_http_quiesce(serve_server *s);           /* stops accepting connections */
void serve_http_stop(serve_server *s);

/* build/serve_page_data.c, generated from tools/zen/page/index.html */
extern const char serve_page_html[];
extern const unsigned long serve_page_html_len;

/* A growable string. */
typedef struct sbuf {
    char *s;
    size_t n, cap;
    bool oom;
} sbuf;
void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_json_str(sbuf *b, const char *s); /* a quoted, escaped JSON string */

#endif
