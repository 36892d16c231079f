/* batch.c — the batch iterator: rows of a dataset gathered, in a given order, into batch
 * buffers; optionally one batch ahead on a background thread.
 *
 * Prefetch protocol. Batch k always goes to slot k % 2. A slot is EMPTY, FILLING (the
 * thread gathers into it, without holding the lock), READY (holds batch slot_batch[s]) or
 * HELD (handed to the caller, who uses it until the next call). The thread fills batch
 * next_fill when its slot is EMPTY; the caller takes batch next_take when its slot is
 * READY, and gives back the slot it held on its next call. When the caller has its own
 * buffers, a taken slot is copied out (a sequential memcpy) and released at once, so the
 * thread may already gather k+2 while the caller works on k. A reset pauses the thread,
 * waits until no slot is FILLING (the thread reads the order only while filling), then
 * installs the new order. All memory, and the thread, are made by zen_batch_iter_new. */
#include "data.h"

#include <pthread.h>
#include <stdlib.h>

enum { SLOT_EMPTY, SLOT_FILLING, SLOT_READY, SLOT_HELD };

struct zen_batch_iter {
    zen_ctx *ctx;
    const zen_dataset *d;
    int64_t bs, n, nbatches;
    int64_t *order;          /* n indices, owned */
    size_t xrow, yrow;       /* bytes per row */
    void *xs[2], *ys[2];     /* the iterator's buffers (one pair without prefetch) */
    void *ux, *uy;           /* the caller's buffers, or NULL */
    int64_t next_take;       /* the next batch to hand out */
    bool prefetch;
    /* prefetch state, under mu */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int state[2];
    int64_t slot_batch[2];
    int64_t next_fill;
    int held; /* the slot the caller holds, or -1 */
    bool paused, quit, thread_started;
};

/* Rows of batch k gathered into xd/yd. */
static int64_t gather(const zen_batch_iter *it, int64_t k, void *xd, void *yd) {
    int64_t start = k * it->bs, cnt = it->n - start < it->bs ? it->n - start : it->bs;
    const char *xsrc = it->d->x->data, *ysrc = it->d->y->data;
    const int64_t *idx = it->order + start;
    for (int64_t i = 0; i < cnt; i++) {
        memcpy((char *)xd + (size_t)i * it->xrow, xsrc + (size_t)idx[i] * it->xrow, it->xrow);
        memcpy((char *)yd + (size_t)i * it->yrow, ysrc + (size_t)idx[i] * it->yrow, it->yrow);
    }
    return cnt;
}

static void *prefetch_main(void *arg) {
    zen_batch_iter *it = arg;
    pthread_mutex_lock(&it->mu);
    for (;;) {
        while (!it->quit &&
               (it->paused || it->next_fill >= it->nbatches || it->state[it->next_fill & 1] != SLOT_EMPTY))
            pthread_cond_wait(&it->cv, &it->mu);
        if (it->quit) break;
        int64_t k = it->next_fill++;
        int s = (int)(k & 1);
        it->state[s] = SLOT_FILLING;
        pthread_mutex_unlock(&it->mu);
        gather(it, k, it->xs[s], it->ys[s]);
        pthread_mutex_lock(&it->mu);
        it->state[s] = SLOT_READY;
        it->slot_batch[s] = k;
        pthread_cond_broadcast(&it->cv);
    }
    pthread_mutex_unlock(&it->mu);
    return NULL;
}

static int check_order(zen_ctx *ctx, const char *fn, const int64_t *order, int64_t n, int64_t limit) {
    for (int64_t i = 0; i < n; i++)
        if (order[i] < 0 || order[i] >= limit) {
            zen__fail(ctx, "%s: order[%lld] = %lld is out of range [0, %lld)", fn, (long long)i, (long long)order[i],
                      (long long)limit);
            return -1;
        }
    return 0;
}

zen_batch_iter *zen_batch_iter_new(zen_ctx *ctx, const zen_dataset *d, const int64_t *order, int64_t n,
                                   zen_batch_opts opts) {
    const char *fn = "zen_batch_iter_new";
    if (!d) return NULL;
    if (opts.batch_size <= 0) return zen__fail(ctx, "%s: batch_size must be > 0, got %lld", fn, (long long)opts.batch_size);
    if (!opts.x_buf != !opts.y_buf) return zen__fail(ctx, "%s: give both x_buf and y_buf, or neither", fn);
    if (n < 0 || (!order && n > d->n))
        return zen__fail(ctx, "%s: n = %lld, but the dataset has %lld samples%s", fn, (long long)n, (long long)d->n,
                         order ? "" : " (order NULL means samples 0..n-1)");
    if (order && check_order(ctx, fn, order, n, d->n) != 0) return NULL;
    size_t xrow = (size_t)zen__row_numel(d->x) * 4, yrow = (size_t)zen__row_numel(d->y) * 4;
    if ((uint64_t)opts.batch_size > SIZE_MAX / 2 / (xrow > yrow ? xrow : yrow ? yrow : 1))
        return zen__fail(ctx, "%s: batch_size %lld is too large", fn, (long long)opts.batch_size);
    zen_batch_iter *it = calloc(1, sizeof *it);
    if (!it) return zen__fail(ctx, "%s: out of memory", fn);
    it->ctx = ctx;
    it->d = d;
    it->bs = opts.batch_size;
    it->n = n;
    it->nbatches = n / opts.batch_size + (n % opts.batch_size != 0);
    it->xrow = xrow;
    it->yrow = yrow;
    it->ux = opts.x_buf;
    it->uy = opts.y_buf;
    it->prefetch = opts.prefetch;
    it->held = -1;
    it->order = malloc((size_t)n * sizeof(int64_t) + 1);
    int nslots = opts.prefetch ? 2 : (it->ux ? 0 : 1);
    bool ok = it->order != NULL;
    for (int s = 0; s < nslots && ok; s++) {
        it->xs[s] = zen__aligned_alloc((size_t)it->bs * it->xrow);
        it->ys[s] = zen__aligned_alloc((size_t)it->bs * it->yrow);
        ok = it->xs[s] && it->ys[s];
    }
    if (!ok) {
        zen_batch_iter_free(it);
        return zen__fail(ctx, "%s: out of memory (buffers of %lld rows)", fn, (long long)opts.batch_size);
    }
    if (order) memcpy(it->order, order, (size_t)n * sizeof(int64_t));
    else zen_order_init(it->order, n);
    if (opts.prefetch) {
        pthread_mutex_init(&it->mu, NULL);
        pthread_cond_init(&it->cv, NULL);
        int err = pthread_create(&it->thread, NULL, prefetch_main, it);
        if (err != 0) {
            pthread_cond_destroy(&it->cv);
            pthread_mutex_destroy(&it->mu);
            it->prefetch = false; /* nothing to stop in free */
            zen_batch_iter_free(it);
            return zen__fail(ctx, "%s: cannot start the prefetch thread: %s", fn, strerror(err));
        }
        it->thread_started = true;
    }
    return it;
}

bool zen_batch_iter_next(zen_batch_iter *it, zen_batch *b) {
    if (!it || !b) return false;
    if (!it->prefetch) {
        if (it->next_take >= it->nbatches) return false;
        int64_t k = it->next_take++;
        void *xd = it->ux ? it->ux : it->xs[0], *yd = it->ux ? it->uy : it->ys[0];
        *b = (zen_batch){.index = k, .n = gather(it, k, xd, yd), .x = xd, .y = yd, .idx = it->order + k * it->bs};
        return true;
    }
    pthread_mutex_lock(&it->mu);
    if (it->held >= 0) {
        it->state[it->held] = SLOT_EMPTY;
        it->held = -1;
        pthread_cond_broadcast(&it->cv);
    }
    if (it->next_take >= it->nbatches) {
        pthread_mutex_unlock(&it->mu);
        return false;
    }
    int64_t k = it->next_take++;
    int s = (int)(k & 1);
    while (!(it->state[s] == SLOT_READY && it->slot_batch[s] == k)) pthread_cond_wait(&it->cv, &it->mu);
    it->state[s] = SLOT_HELD;
    if (!it->ux) it->held = s;
    pthread_mutex_unlock(&it->mu);
    int64_t start = k * it->bs, cnt = it->n - start < it->bs ? it->n - start : it->bs;
    *b = (zen_batch){.index = k, .n = cnt, .x = it->xs[s], .y = it->ys[s], .idx = it->order + start};
    if (it->ux) {
        memcpy(it->ux, it->xs[s], (size_t)cnt * it->xrow);
        memcpy(it->uy, it->ys[s], (size_t)cnt * it->yrow);
        b->x = it->ux;
        b->y = it->uy;
        pthread_mutex_lock(&it->mu);
        it->state[s] = SLOT_EMPTY;
        pthread_cond_broadcast(&it->cv);
        pthread_mutex_unlock(&it->mu);
    }
    return true;
}

int zen_batch_iter_reset(zen_batch_iter *it, const int64_t *order) {
    if (!it) return -1;
    if (order && check_order(it->ctx, "zen_batch_iter_reset", order, it->n, it->d->n) != 0) return -1;
    if (!it->prefetch) {
        if (order) memcpy(it->order, order, (size_t)it->n * sizeof(int64_t));
        it->next_take = 0;
        return 0;
    }
    pthread_mutex_lock(&it->mu);
    it->paused = true;
    while (it->state[0] == SLOT_FILLING || it->state[1] == SLOT_FILLING) pthread_cond_wait(&it->cv, &it->mu);
    if (order) memcpy(it->order, order, (size_t)it->n * sizeof(int64_t));
    it->state[0] = it->state[1] = SLOT_EMPTY;
    it->held = -1;
    it->next_fill = it->next_take = 0;
    it->paused = false;
    pthread_cond_broadcast(&it->cv);
    pthread_mutex_unlock(&it->mu);
    return 0;
}

int64_t zen_batch_iter_nbatches(const zen_batch_iter *it) { return it ? it->nbatches : 0; }

void zen_batch_iter_free(zen_batch_iter *it) {
    if (!it) return;
    if (it->thread_started) {
        pthread_mutex_lock(&it->mu);
        it->quit = true;
        pthread_cond_broadcast(&it->cv);
        pthread_mutex_unlock(&it->mu);
        pthread_join(it->thread, NULL);
        pthread_cond_destroy(&it->cv);
        pthread_mutex_destroy(&it->mu);
    }
    for (int s = 0; s < 2; s++) {
        zen__aligned_free(it->xs[s]);
        zen__aligned_free(it->ys[s]);
    }
    free(it->order);
    free(it);
}
