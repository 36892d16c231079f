/* serve_metrics.c — the numbers behind GET /metrics, in Prometheus's text format 0.0.4:
 *
 *   zen_requests_total{code,model}            counter: responses by status and model
 *   zen_request_duration_seconds{model}       histogram: from the request's first byte to
 *                                             its response (predict requests)
 *   zen_batch_size{model}                     histogram: samples per computed batch
 *   zen_requests_in_flight                    gauge: requests being handled
 *   zen_process_resident_memory_bytes         gauge: RSS from /proc/self/statm
 *
 * One mutex guards everything; each update is a few additions. */
#include "serve.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const double latency_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NLAT (int)(sizeof latency_le / sizeof *latency_le)
static const double batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
#define NBATCH (int)(sizeof batch_le / sizeof *batch_le)
#define MAX_CODES 24

typedef struct histogram {
    uint64_t *buckets; /* per upper bound, not cumulative (summed when written) */
    uint64_t count;
    double sum;
} histogram;

struct serve_metrics {
    pthread_mutex_t mu;
    int nmodels;
    char **names;
    int codes[MAX_CODES], ncodes;
    uint64_t *requests;  /* [MAX_CODES][nmodels + 1]: column 0 is "no model" */
    histogram *latency;  /* per model */
    histogram *batches;  /* per model */
    int inflight;
};

static void hist_add(histogram *h, const double *le, int n, double v) {
    int k = 0;
    while (k < n && v > le[k]) k++;
    h->buckets[k]++; /* k == n: only +Inf */
    h->count++;
    h->sum += v;
}

serve_metrics *serve_metrics_new(int nmodels, const char *const *names) {
    serve_metrics *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    pthread_mutex_init(&s->mu, NULL);
    s->nmodels = nmodels;
    s->names = calloc((size_t)nmodels, sizeof *s->names);
    s->requests = calloc((size_t)MAX_CODES * (size_t)(nmodels + 1), sizeof *s->requests);
    s->latency = calloc((size_t)nmodels, sizeof *s->latency);
    s->batches = calloc((size_t)nmodels, sizeof *s->batches);
    bool ok = s->names && s->requests && s->latency && s->batches;
    for (int i = 0; ok && i < nmodels; i++) {
        s->names[i] = strdup(names[i]);
        s->latency[i].buckets = calloc(NLAT + 1, sizeof(uint64_t));
        s->batches[i].buckets = calloc(NBATCH + 1, sizeof(uint64_t));
        ok = s->names[i] && s->latency[i].buckets && s->batches[i].buckets;
    }
    if (!ok) {
        serve_metrics_free(s);
        return NULL;
    }
    return s;
}

void serve_metrics_free(serve_metrics *s) {
    if (!s) return;
    for (int i = 0; i < s->nmodels; i++) {
        if (s->names) free(s->names[i]);
        if (s->latency) free(s->latency[i].buckets);
        if (s->batches) free(s->batches[i].buckets);
    }
    free(s->names);
    free(s->requests);
    free(s->latency);
    free(s->batches);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

void serve_metrics_request(serve_metrics *s, int model, int code, double seconds) {
    pthread_mutex_lock(&s->mu);
    int c = 0;
    while (c < s->ncodes && s->codes[c] != code) c++;
    if (c == s->ncodes && s->ncodes < MAX_CODES) s->codes[s->ncodes++] = code;
    if (c < s->ncodes) s->requests[c * (s->nmodels + 1) + model + 1]++;
    if (model >= 0) hist_add(&s->latency[model], latency_le, NLAT, seconds);
    pthread_mutex_unlock(&s->mu);
}

void serve_metrics_batch(serve_metrics *s, int model, int64_t samples) {
    pthread_mutex_lock(&s->mu);
    hist_add(&s->batches[model], batch_le, NBATCH, (double)samples);
    pthread_mutex_unlock(&s->mu);
}

void serve_metrics_inflight(serve_metrics *s, int delta) {
    pthread_mutex_lock(&s->mu);
    s->inflight += delta;
    pthread_mutex_unlock(&s->mu);
}

int serve_metrics_inflight_now(serve_metrics *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->inflight;
    pthread_mutex_unlock(&s->mu);
    return n;
}

static long rss_bytes(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return -1;
    int got = fscanf(f, "%ld %ld", &pages, &resident);
    fclose(f);
    return got == 2 ? resident * sysconf(_SC_PAGESIZE) : -1;
}

static void write_hist(sbuf *b, const char *metric, const char *model, const histogram *h, const double *le, int n) {
    uint64_t cum = 0;
    for (int k = 0; k < n; k++) {
        cum += h->buckets[k];
        sb_printf(b, "%s_bucket{model=", metric);
        sb_json_str(b, model);
        sb_printf(b, ",le=\"%g\"} %llu\n", le[k], (unsigned long long)cum);
    }
    cum += h->buckets[n];
    sb_printf(b, "%s_bucket{model=", metric);
    sb_json_str(b, model);
    sb_printf(b, ",le=\"+Inf\"} %llu\n%s_sum{model=", (unsigned long long)cum, metric);
    sb_json_str(b, model);
    sb_printf(b, "} %.9g\n%s_count{model=", h->sum, metric);
    sb_json_str(b, model);
    sb_printf(b, "} %llu\n", (unsigned long long)h->count);
}

char *serve_metrics_text(serve_metrics *s) {
    sbuf b = {0};
    pthread_mutex_lock(&s->mu);
    sb_printf(&b, "# HELP zen_requests_total HTTP responses by status code and model.\n"
                  "# TYPE zen_requests_total counter\n");
    for (int c = 0; c < s->ncodes; c++)
        for (int m = -1; m < s->nmodels; m++) {
            uint64_t v = s->requests[c * (s->nmodels + 1) + m + 1];
            if (!v) continue;
            sb_printf(&b, "zen_requests_total{code=\"%d\",model=", s->codes[c]);
            sb_json_str(&b, m < 0 ? "" : s->names[m]);
            sb_printf(&b, "} %llu\n", (unsigned long long)v);
        }
    sb_printf(&b, "# HELP zen_request_duration_seconds Time from a request's arrival to its response.\n"
                  "# TYPE zen_request_duration_seconds histogram\n");
    for (int m = 0; m < s->nmodels; m++)
        write_hist(&b, "zen_request_duration_seconds", s->names[m], &s->latency[m], latency_le, NLAT);
    sb_printf(&b, "# HELP zen_batch_size Samples per batch the model computed.\n"
                  "# TYPE zen_batch_size histogram\n");
    for (int m = 0; m < s->nmodels; m++) write_hist(&b, "zen_batch_size", s->names[m], &s->batches[m], batch_le, NBATCH);
    sb_printf(&b, "# HELP zen_requests_in_flight Requests being handled now.\n"
                  "# TYPE zen_requests_in_flight gauge\nzen_requests_in_flight %d\n", s->inflight);
    pthread_mutex_unlock(&s->mu);
    sb_printf(&b, "# HELP zen_process_resident_memory_bytes Resident memory of the server.\n"
                  "# TYPE zen_process_resident_memory_bytes gauge\nzen_process_resident_memory_bytes %ld\n",
              rss_bytes());
    if (b.oom) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
