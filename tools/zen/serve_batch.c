/* serve_batch.c — one worker thread per model runs the queued requests (dynamic batching).
 *
 * With batching, the worker takes the first queued request, waits up to --max-wait-ms for
 * more to arrive (or until --max-batch samples are queued) and runs them together as one
 * batch; each request then gets its own rows back. It waits only for requests the server
 * has already begun to receive (headers in, body or parsing not done: q->arriving), never
 * for ones that may or may not come: a lone client's request runs at once, and a batch goes
 * as soon as everything that has arrived is in it. Without batching it runs one request
 * at a time, as soon as it arrives. Either way a model computes one batch at a time: its
 * graphs hold their buffers.
 *
 * No allocation per batch size: zen_model_predict keeps a planned graph per batch size
 * (four of them), so the worker only ever runs four sizes — 1, two between, --max-batch —
 * and those four graphs are all it ever plans. A batch of another size runs as a few of
 * them (13 with sizes 1, 3, 10, 32: 10 + 3), or padded up to one when that costs less
 * (make_plan). A request larger than --max-batch runs alone, in chunks of --max-batch. */
#include "serve.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double serve_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static struct timespec deadline_ts(double seconds_from_now) {
    /* condition variables wait on CLOCK_REALTIME unless told otherwise */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double t = (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9 + seconds_from_now;
    ts.tv_sec = (time_t)t;
    ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
    if (ts.tv_nsec >= 1000000000L) ts.tv_sec++, ts.tv_nsec -= 1000000000L;
    return ts;
}

/* Four batch sizes from 1 to max, spaced geometrically: 1, max^(1/3), max^(2/3), max. */
static void make_buckets(serve_model *m, int max) {
    int cand[4] = {1, (int)lround(pow(max, 1 / 3.0)), (int)lround(pow(max, 2 / 3.0)), max};
    m->nbuckets = 0;
    for (int k = 0; k < 4; k++)
        if (m->nbuckets == 0 || cand[k] > m->buckets[m->nbuckets - 1]) m->buckets[m->nbuckets++] = cand[k];
}

/* How to run r samples with graphs of the bucket sizes at the least cost, counting a graph
 * run of size b as b + RUN_COST samples (the fixed cost of a run): either pad all r up to
 * a bucket, or run the largest bucket that fits and plan the rest. plan[r] is the size of
 * the first run (padded when it exceeds r); built once for r <= max_batch. */
#define RUN_COST 2
static int make_plan(serve_model *m, int max) {
    int *cost = malloc(((size_t)max + 1) * sizeof *cost);
    m->plan = malloc(((size_t)max + 1) * sizeof *m->plan);
    if (!cost || !m->plan) return free(cost), -1;
    cost[0] = 0;
    m->plan[0] = 0;
    for (int r = 1; r <= max; r++) {
        cost[r] = INT32_MAX;
        for (int k = 0; k < m->nbuckets; k++) {
            int b = m->buckets[k];
            int c = b >= r ? b + RUN_COST : b + RUN_COST + cost[r - b];
            if (c < cost[r]) cost[r] = c, m->plan[r] = b;
        }
    }
    free(cost);
    return 0;
}

/* Runs the c samples in m->pad as the plan says; writes c outputs to out. */
static int run_chunk(serve_model *m, int64_t c, float *out, char *err, size_t errlen) {
    size_t row = (size_t)m->in_numel * 4;
    for (int64_t at = 0; at < c;) {
        int p = m->plan[c - at];
        int64_t n = p < c - at ? p : c - at; /* real samples in this run; p - n are padding */
        memset((char *)m->pad + (size_t)(at + n) * row, 0, (size_t)(p - n) * row);
        zen_array view = {.dtype = m->in_dtype, .ndim = m->in_ndim + 1, .data = (char *)m->pad + (size_t)at * row};
        view.shape[0] = p;
        for (int k = 0; k < m->in_ndim; k++) view.shape[k + 1] = m->in_shape[k];
        zen_array *y = zen_model_predict(m->model, &view, p);
        if (!y) {
            /* the model ran zeros at start, so the data is at fault (an index out of range, ...) */
            snprintf(err, errlen, "the model cannot run this input: %s", zen_ctx_error(m->ctx) ? zen_ctx_error(m->ctx) : "?");
            zen_ctx_clear_error(m->ctx);
            return -1;
        }
        memcpy(out + at * m->out_numel, y->data, (size_t)n * (size_t)m->out_numel * sizeof(float));
        zen_array_free(y);
        at += n;
    }
    return 0;
}

/* Runs the jobs of one batch (their samples in order) through the model, max_batch
 * samples at a time, copying each job's samples in and its outputs back. */
static int run_batch(serve_model *m, serve_job *first, int64_t total, char *err, size_t errlen) {
    const int64_t max = m->opts->max_batch;
    size_t row = (size_t)m->in_numel * 4;
    float *out = malloc((size_t)(total < max ? total : max) * (size_t)m->out_numel * sizeof(float));
    if (!out) return snprintf(err, errlen, "out of memory"), -1;
    serve_job *in_job = first, *out_job = first;
    int64_t in_at = 0, out_at = 0; /* sample offsets within in_job / out_job */
    int rc = 0;
    for (int64_t done = 0; done < total && rc == 0;) {
        int64_t c = total - done < max ? total - done : max;
        for (int64_t k = 0; k < c; k++) { /* gather */
            while (in_at == in_job->n) in_job = in_job->next, in_at = 0;
            memcpy((char *)m->pad + (size_t)k * row, (const char *)in_job->x + (size_t)in_at * row, row);
            in_at++;
        }
        rc = run_chunk(m, c, out, err, errlen);
        for (int64_t k = 0; k < c && rc == 0; k++) { /* scatter */
            while (out_at == out_job->n) out_job = out_job->next, out_at = 0;
            memcpy(out_job->y + out_at * m->out_numel, out + k * m->out_numel, (size_t)m->out_numel * sizeof(float));
            out_at++;
        }
        done += c;
        serve_metrics_batch(m->metrics, m->index, c);
    }
    free(out);
    return rc;
}

static void *worker(void *arg) {
    serve_model *m = arg;
    serve_queue *q = &m->q;
    const serve_opts *o = m->opts;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        while (!q->head && !q->stopping) pthread_cond_wait(&q->work, &q->mu);
        if (!q->head) break; /* stopping and nothing left */
        if (o->batching) {
            /* wait for the requests on their way in: until max_batch samples are queued,
             * none is arriving, or max_wait_ms has passed since the first was queued (on
             * shutdown, run what is there at once) */
            double until = q->head->enqueued + o->max_wait_ms * 1e-3;
            while (q->queued < o->max_batch && q->arriving > 0 && !q->stopping) {
                double left = until - serve_now();
                if (left <= 0) break;
                struct timespec ts = deadline_ts(left);
                pthread_cond_timedwait(&q->work, &q->mu, &ts);
            }
        }
        /* take the first job, and with batching as many more as fit in max_batch */
        serve_job *first = q->head, *last = first;
        int64_t total = first->n;
        if (o->batching)
            while (last->next && total + last->next->n <= o->max_batch) total += last->next->n, last = last->next;
        q->head = last->next;
        if (!q->head) q->tail = NULL;
        last->next = NULL;
        q->queued -= total;
        for (serve_job *j = first; j; j = j->next) j->status = 1;
        pthread_mutex_unlock(&q->mu);

        char err[256] = "";
        int rc = run_batch(m, first, total, err, sizeof err);
        /* A failed batch of several requests is run again one request at a time, so that
         * one request's bad data (an Embedding index out of range, say) fails only itself.
         * A job's err is its owner's only after its status changes (under the lock, below). */
        bool several = first->next != NULL;
        for (serve_job *j = first, *next; j; j = next) {
            next = j->next;
            if (rc != 0 && several) {
                j->next = NULL;
                run_batch(m, j, j->n, j->err, sizeof j->err);
                j->next = next;
            } else if (rc != 0) {
                snprintf(j->err, sizeof j->err, "%s", err);
            }
        }

        pthread_mutex_lock(&q->mu);
        for (serve_job *j = first; j;) {
            serve_job *next = j->next; /* j belongs to its request: read next first */
            j->status = j->err[0] ? -1 : 2;
            j->next = NULL;
            pthread_cond_signal(&j->done);
            j = next;
        }
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

int serve_worker_start(serve_model *m) {
    serve_queue *q = &m->q;
    make_buckets(m, m->opts->max_batch);
    /* room for a run padded past the end of a batch: twice max_batch samples */
    size_t pad_bytes = 2 * (size_t)m->opts->max_batch * (size_t)m->in_numel * 4;
    m->pad = malloc(pad_bytes);
    if (!m->pad || make_plan(m, m->opts->max_batch) != 0)
        return fprintf(stderr, "zen serve: %s: out of memory\n", m->name), -1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->work, NULL);
    /* Plan the four graphs now, so the first requests do not pay for it. */
    memset(m->pad, 0, pad_bytes);
    float *out = malloc((size_t)m->opts->max_batch * (size_t)m->out_numel * sizeof(float));
    char err[256];
    int rc = out ? 0 : -1;
    for (int k = 0; k < m->nbuckets && rc == 0; k++) rc = run_chunk(m, m->buckets[k], out, err, sizeof err);
    free(out);
    if (rc != 0) return fprintf(stderr, "zen serve: %s: %s\n", m->name, out ? err : "out of memory"), -1;
    int e = pthread_create(&q->thread, NULL, worker, m);
    if (e) return fprintf(stderr, "zen serve: %s: cannot start a worker thread: %s\n", m->name, strerror(e)), -1;
    q->started = true;
    return 0;
}

void serve_arriving(serve_model *m, int delta) {
    pthread_mutex_lock(&m->q.mu);
    m->q.arriving += delta;
    pthread_cond_signal(&m->q.work); /* the worker may be waiting for this one */
    pthread_mutex_unlock(&m->q.mu);
}

int serve_predict(serve_model *m, serve_job *job) {
    serve_queue *q = &m->q;
    job->status = 0;
    job->next = NULL;
    job->err[0] = 0;
    pthread_cond_init(&job->done, NULL);
    pthread_mutex_lock(&q->mu);
    q->arriving--; /* it has arrived */
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        pthread_cond_destroy(&job->done);
        snprintf(job->err, sizeof job->err, "the server is shutting down");
        return 503;
    }
    job->enqueued = serve_now();
    if (q->tail) q->tail->next = job;
    else q->head = job;
    q->tail = job;
    q->queued += job->n;
    pthread_cond_signal(&q->work);
    struct timespec until = deadline_ts(m->opts->timeout_s);
    int http = 0;
    while (job->status == 0 || job->status == 1) {
        int e = pthread_cond_timedwait(&job->done, &q->mu, &until);
        if (e == ETIMEDOUT && job->status == 0) { /* still queued: take it out and give up */
            serve_job **p = &q->head, *prev = NULL;
            while (*p != job) prev = *p, p = &(*p)->next;
            *p = job->next;
            if (q->tail == job) q->tail = prev;
            q->queued -= job->n;
            snprintf(job->err, sizeof job->err, "timed out after %d s waiting for model '%s'", m->opts->timeout_s,
                     m->name);
            http = 503;
            break;
        }
        /* running: a batch always finishes, so wait for it whatever the clock says */
        if (e == ETIMEDOUT) until = deadline_ts(3600);
    }
    if (http == 0 && job->status == -1) http = 400;
    pthread_mutex_unlock(&q->mu);
    pthread_cond_destroy(&job->done);
    return http;
}

void serve_worker_stop(serve_model *m) {
    serve_queue *q = &m->q;
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        q->stopping = true;
        pthread_cond_broadcast(&q->work);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thread, NULL);
        q->started = false;
    }
    free(m->pad);
    free(m->plan);
    m->pad = NULL;
    m->plan = NULL;
}
