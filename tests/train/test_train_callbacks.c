/* Callbacks: EarlyStopping (patience, min_delta, restore_best_weights really restores the
 * best epoch's weights — compared with snapshots a user epoch hook took), ModelCheckpoint
 * (save_best_only writes only on improvement: file contents and mtimes), CSVLogger (file
 * content, truncation, initial_epoch, read back by zen_history_load_csv), ReduceLROnPlateau
 * (the learning rates against Keras's algorithm run on the logged values).
 *
 * The setup: a Dense(1) on a constant input, so the output is kernel + bias. It starts at
 * 0 and is trained towards 1 while validation wants 0.5: val_loss falls for some epochs,
 * then rises — a best epoch in the middle. */
#define _GNU_SOURCE
#include "harness.h"

#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[256];
static const char *path_in(const char *name) {
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ & 3];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

typedef struct {
    zen_ctx *ctx;
    zen_model *m;
    zen_dataset *train, *val;
} setup;

static zen_dataset *constant_data(zen_ctx *ctx, int n, float target) {
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){n, 1}), *y = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){n, 1});
    for (int i = 0; i < n; i++) ((float *)x->data)[i] = 1, ((float *)y->data)[i] = target;
    return zen_dataset_new(ctx, x, y);
}

static setup make_setup(double lr) {
    setup s;
    s.ctx = zen_ctx_new();
    s.m = zen_model_new(s.ctx, "line");
    zen_model_input(s.m, 1, (int64_t[]){1});
    zen_model_add(s.m, zen_layer_dense(s.ctx, 1, NULL));
    CHECK(zen_model_build(s.m, 1) == 0);
    for (int w = 0; w < 2; w++) {
        zen_tensor *t = zen_layer_weight(zen_model_layer(s.m, 1), w, NULL, NULL);
        memset(t->data, 0, zen_nbytes(t));
    }
    char cfg[64];
    snprintf(cfg, sizeof cfg, "{\"learning_rate\": %g}", lr);
    CHECK(zen_model_compile(s.m, zen_optimizer_new(s.ctx, "Adam", cfg), "mse", 0, NULL) == 0);
    s.train = constant_data(s.ctx, 8, 1.0f);
    s.val = constant_data(s.ctx, 4, 0.5f);
    return s;
}

static void free_setup(setup *s) {
    zen_dataset_free(s->train);
    zen_dataset_free(s->val);
    zen_model_free(s->m);
    zen_ctx_free(s->ctx);
}

static void get_weights(zen_model *m, float w[2]) {
    for (int i = 0; i < 2; i++) w[i] = *(float *)zen_layer_weight(zen_model_layer(m, 1), i, NULL, NULL)->data;
}

/* A user hook snapshotting the weights and val_loss at every epoch end. */
typedef struct {
    zen_model *m;
    int n;
    float w[200][2];
    double val_loss[200], lr[200];
} snapshots;

static int snap(void *user, int epoch, const zen_metrics *logs) {
    snapshots *s = user;
    (void)epoch;
    if (s->n < 200) {
        get_weights(s->m, s->w[s->n]);
        s->val_loss[s->n] = zen_metrics_get(logs, "val_loss");
        s->lr[s->n] = zen_metrics_get(logs, "learning_rate");
        s->n++;
    }
    return 0;
}

static zen_fit_opts fit_opts(setup *s, int epochs, zen_callback **cbs, int n) {
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 8; /* one step per epoch */
    o.validation_data = s->val;
    o.verbose = 0;
    o.callbacks = cbs;
    o.ncallbacks = n;
    return o;
}

/* Keras's rule on a logged sequence: the best epoch and the epoch training stops after
 * (-1: never), for mode min. */
static void keras_early_stopping(const double *v, int n, double min_delta, int patience, int *best, int *stop) {
    double b = INFINITY;
    int wait = 0;
    *best = -1, *stop = -1;
    for (int e = 0; e < n; e++) {
        wait++;
        if (v[e] + min_delta < b) { /* Keras's mode min: less(v - (-min_delta), best) */
            b = v[e];
            *best = e;
            wait = 0;
            continue;
        }
        if (wait >= patience && e > 0) {
            *stop = e;
            return;
        }
    }
}

static void early_stopping_case(bool restore, float min_delta, int patience) {
    setup s = make_setup(0.02);
    snapshots snaps = {.m = s.m};
    zen_callback *user = zen_lambda_callback((zen_callback_hooks){.user = &snaps, .on_epoch_end = snap});
    zen_callback *es = zen_early_stopping("val_loss", min_delta, patience, restore);
    zen_callback *cbs[] = {user, es};
    zen_fit_opts o = fit_opts(&s, 80, cbs, 2);
    zen_history *h = zen_model_fit(s.m, s.train, &o);
    CHECK_OK(s.ctx, h);
    int best, stop;
    keras_early_stopping(snaps.val_loss, snaps.n, min_delta, patience, &best, &stop);
    /* the setup does what it should: a best epoch in the middle, then stopping */
    CHECK(best > 3 && stop == best + (patience > 0 ? patience : 1));
    CHECK(h && h->epochs == stop + 1 && h->stopped_early && snaps.n == stop + 1);
    float now[2];
    get_weights(s.m, now);
    const float *want = restore ? snaps.w[best] : snaps.w[snaps.n - 1];
    if (memcmp(now, want, sizeof now) != 0)
        fprintf(stderr, "  restore %d: weights %g %g, expected epoch %d's %g %g\n", restore, now[0], now[1],
                restore ? best : snaps.n - 1, want[0], want[1]);
    CHECK(memcmp(now, want, sizeof now) == 0);
    CHECK(memcmp(snaps.w[best], snaps.w[snaps.n - 1], sizeof now) != 0); /* the difference is visible */
    zen_history_free(h);
    zen_callback_free(user);
    zen_callback_free(es);
    free_setup(&s);
}

TEST(test_early_stopping) {
    early_stopping_case(true, 0, 3);
    early_stopping_case(false, 0, 3);
    early_stopping_case(true, 0, 0);
    /* min_delta: small improvements do not count, so the best epoch comes earlier */
    early_stopping_case(true, 0.002f, 2);
}

/* Keras 3 restores the best weights at the end of training also when patience never ran
 * out; a monitor missing from the logs never stops training and restores nothing. */
TEST(test_early_stopping_restores_at_end) {
    setup s = make_setup(0.02);
    snapshots snaps = {.m = s.m};
    zen_callback *user = zen_lambda_callback((zen_callback_hooks){.user = &snaps, .on_epoch_end = snap});
    zen_callback *es = zen_early_stopping("val_loss", 0, 1000, true);
    zen_callback *cbs[] = {user, es};
    zen_fit_opts o = fit_opts(&s, 40, cbs, 2);
    zen_history *h = zen_model_fit(s.m, s.train, &o);
    CHECK(h && h->epochs == 40 && !h->stopped_early);
    int best = 0;
    for (int e = 1; e < snaps.n; e++)
        if (snaps.val_loss[e] < snaps.val_loss[best]) best = e;
    CHECK(best > 0 && best < 39);
    float now[2];
    get_weights(s.m, now);
    CHECK(memcmp(now, snaps.w[best], sizeof now) == 0);
    zen_history_free(h);
    zen_callback_free(es);

    /* missing monitor: a warning, all epochs, no restore */
    es = zen_early_stopping("val_f1_score", 0, 0, true);
    cbs[1] = es;
    snaps.n = 0;
    o.epochs = 5;
    fprintf(stderr, "  (warnings about 'val_f1_score' are expected)\n");
    h = zen_model_fit(s.m, s.train, &o);
    CHECK(h && h->epochs == 5 && !h->stopped_early);
    get_weights(s.m, now);
    CHECK(memcmp(now, snaps.w[4], sizeof now) == 0);
    zen_history_free(h);

    /* the same callback on a bigger model: the snapshot buffer follows the model */
    zen_model *big = zen_model_new(s.ctx, "big");
    zen_model_input(big, 1, (int64_t[]){1});
    zen_model_add(big, zen_layer_dense(s.ctx, 64, "relu"));
    zen_model_add(big, zen_layer_dense(s.ctx, 1, NULL));
    CHECK(zen_model_build(big, 2) == 0);
    CHECK(zen_model_compile(big, zen_optimizer_new(s.ctx, "Adam", NULL), "mse", 0, NULL) == 0);
    zen_callback *es2 = zen_early_stopping("val_loss", 0, 2, true);
    zen_callback *one[] = {es2};
    o = fit_opts(&s, 3, one, 1);
    h = zen_model_fit(s.m, s.train, &o);
    zen_history_free(h);
    h = zen_model_fit(big, s.train, &o);
    CHECK_OK(s.ctx, h);
    zen_history_free(h);
    zen_callback_free(es2);
    zen_model_free(big);
    zen_callback_free(user);
    zen_callback_free(es);
    free_setup(&s);
}

/* ---- ModelCheckpoint ---- */

typedef struct {
    const char *path;
    zen_model *m;
    bool best_only;
    double best;
    float saved[2];
    struct timespec mtime;
    int saves, checks;
} checker;

static int check_checkpoint(void *user, int epoch, const zen_metrics *logs) {
    checker *c = user;
    (void)epoch;
    double v = zen_metrics_get(logs, "val_loss");
    bool improved = v < c->best;
    struct stat st;
    CHECK(stat(c->path, &st) == 0);
    if (improved || !c->best_only) {
        c->best = improved ? v : c->best;
        get_weights(c->m, c->saved);
        c->saves++;
    } else {
        /* not improved: the file was not touched */
        CHECK(st.st_mtim.tv_sec == c->mtime.tv_sec && st.st_mtim.tv_nsec == c->mtime.tv_nsec);
    }
    c->mtime = st.st_mtim;
    /* the file holds the weights of the last improvement (or of this epoch) */
    zen_ctx *ctx = zen_ctx_new();
    zen_model *loaded = zen_model_load(ctx, c->path);
    CHECK_OK(ctx, loaded);
    if (loaded) {
        float w[2];
        get_weights(loaded, w);
        CHECK(memcmp(w, c->saved, sizeof w) == 0);
        zen_model_free(loaded);
    }
    zen_ctx_free(ctx);
    c->checks++;
    return 0;
}

TEST(test_model_checkpoint) {
    for (int best_only = 1; best_only >= 0; best_only--) {
        setup s = make_setup(0.05);
        const char *path = path_in(best_only ? "best.zen" : "every.zen");
        unlink(path);
        checker ck = {.path = path, .m = s.m, .best_only = best_only, .best = INFINITY};
        zen_callback *cp = zen_model_checkpoint(path, "val_loss", best_only);
        zen_callback *user = zen_lambda_callback((zen_callback_hooks){.user = &ck, .on_epoch_end = check_checkpoint});
        zen_callback *cbs[] = {cp, user};
        zen_fit_opts o = fit_opts(&s, 30, cbs, 2);
        zen_history *h = zen_model_fit(s.m, s.train, &o);
        CHECK_OK(s.ctx, h);
        CHECK(ck.checks == 30);
        /* best-only: saved at the improving epochs only (some, not all) */
        if (best_only) CHECK(ck.saves > 2 && ck.saves < 30);
        else CHECK(ck.saves == 30);
        zen_history_free(h);
        zen_callback_free(cp);
        zen_callback_free(user);
        free_setup(&s);
    }
    /* a path that cannot be written stops training with a message */
    setup s = make_setup(0.05);
    zen_callback *cp = zen_model_checkpoint("/nonexistent-dir/m.zen", "val_loss", false);
    zen_fit_opts o = fit_opts(&s, 3, &cp, 1);
    fprintf(stderr, "  (a ModelCheckpoint error on the next line is expected)\n");
    zen_history *h = zen_model_fit(s.m, s.train, &o);
    CHECK(h && h->epochs == 1 && h->stopped_early);
    CHECK(zen_ctx_error(s.ctx) && strstr(zen_ctx_error(s.ctx), "/nonexistent-dir/m.zen"));
    zen_history_free(h);
    zen_callback_free(cp);
    free_setup(&s);
}

/* ---- CSVLogger ---- */

static char *read_file(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

TEST(test_csv_logger) {
    zen_ctx *ctx = zen_ctx_new();
    /* a classifier, for accuracy columns */
    zen_model *m = zen_model_new(ctx, "clf");
    zen_model_input(m, 1, (int64_t[]){2});
    zen_model_add(m, zen_layer_dense(ctx, 3, "softmax"));
    CHECK(zen_model_build(m, 4) == 0);
    const char *acc[] = {"accuracy"};
    CHECK(zen_model_compile(m, zen_optimizer_new(ctx, "Adam", NULL), "sparse_categorical_crossentropy", 1, acc) == 0);
    zen_array *x = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){20, 2}), *y = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){20});
    for (int i = 0; i < 20; i++) {
        ((float *)x->data)[2 * i] = (float)(i % 3), ((float *)x->data)[2 * i + 1] = (float)(i % 5) / 5;
        ((int32_t *)y->data)[i] = i % 3;
    }
    zen_dataset *d = zen_dataset_new(ctx, x, y);
    const char *path = path_in("log.csv");
    zen_callback *csv = zen_csv_logger(path);
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = 3;
    o.batch_size = 4;
    o.validation_split = 0.25f;
    o.verbose = 0;
    o.callbacks = &csv;
    o.ncallbacks = 1;
    zen_history *h = zen_model_fit(m, d, &o);
    CHECK_OK(ctx, h);
    char *text = read_file(path);
    CHECK(text && !strncmp(text, "epoch,loss,accuracy,val_loss,val_accuracy,learning_rate\n0,", 58));
    /* every row: epoch, then the history's values to 9 significant digits */
    char *save = NULL, *line = strtok_r(text, "\n", &save);
    int rows = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        char *p = line;
        long epoch = strtol(p, &p, 10);
        CHECK(epoch == rows);
        for (int i = 0; h && i < h->logs[rows].n; i++) {
            CHECK(*p == ',');
            double v = strtod(p + 1, &p);
            CHECK_NEAR(v, h->logs[rows].values[i], 1e-8 * fabs(h->logs[rows].values[i]));
        }
        CHECK(*p == 0);
        rows++;
    }
    CHECK(rows == 3);

    /* read back */
    zen_history *back = zen_history_load_csv(ctx, path);
    CHECK_OK(ctx, back);
    CHECK(back && back->epochs == 3 && back->first_epoch == 0 && back->logs[0].n == 5);
    for (int e = 0; back && h && e < 3; e++)
        for (int i = 0; i < 5; i++) {
            CHECK(!strcmp(back->logs[e].names[i], h->logs[e].names[i]));
            CHECK_NEAR(back->logs[e].values[i], h->logs[e].values[i], 1e-8 * fabs(h->logs[e].values[i]));
        }
    zen_history_free(back);
    zen_history_free(h);

    /* the next fit truncates the file (Keras's append=False); with initial_epoch the rows
     * are numbered from it and the header comes first */
    o.epochs = 5;
    o.initial_epoch = 3;
    h = zen_model_fit(m, d, &o);
    text = read_file(path);
    CHECK(text && !strncmp(text, "epoch,loss,", 11) && strstr(text, "\n3,") && strstr(text, "\n4,") && !strstr(text, "\n0,"));
    back = zen_history_load_csv(ctx, path);
    CHECK(back && back->epochs == 2 && back->first_epoch == 3);
    zen_history_free(back);
    zen_history_free(h);
    zen_callback_free(csv);

    /* an unwritable path: training does not start, the error names the file */
    csv = zen_csv_logger("/nonexistent-dir/log.csv");
    o.callbacks = &csv;
    fprintf(stderr, "  (a CSVLogger error on the next line is expected)\n");
    h = zen_model_fit(m, d, &o);
    CHECK(h && h->epochs == 0 && h->stopped_early);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "CSVLogger: cannot write /nonexistent-dir/log.csv"));
    zen_ctx_clear_error(ctx);
    zen_history_free(h);
    zen_callback_free(csv);
    zen_dataset_free(d);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

/* ---- ReduceLROnPlateau ---- */

TEST(test_reduce_lr_on_plateau) {
    setup s = make_setup(0.05);
    snapshots snaps = {.m = s.m};
    zen_callback *user = zen_lambda_callback((zen_callback_hooks){.user = &snaps, .on_epoch_end = snap});
    const float factor = 0.5f, min_lr = 0.05f / 8;
    const int patience = 2, cooldown = 1;
    zen_callback *rl = zen_reduce_lr_on_plateau("val_loss", factor, patience, 0, cooldown, min_lr);
    CHECK(rl != NULL);
    zen_callback *cbs[] = {user, rl};
    zen_fit_opts o = fit_opts(&s, 40, cbs, 2);
    zen_history *h = zen_model_fit(s.m, s.train, &o);
    CHECK_OK(s.ctx, h);
    /* Keras's algorithm on the logged val_loss gives the rate of every next epoch */
    double best = INFINITY, lr = 0.05;
    int wait = 0, cool = 0, reductions = 0;
    for (int e = 0; e < snaps.n; e++) {
        CHECK_NEAR(snaps.lr[e], lr, 1e-9);
        double v = snaps.val_loss[e];
        if (cool > 0) cool--, wait = 0;
        if (v < best) best = v, wait = 0;
        else if (cool == 0 && ++wait >= patience && lr > min_lr) {
            lr = fmax(lr * factor, min_lr);
            cool = cooldown, wait = 0, reductions++;
        }
    }
    CHECK(reductions >= 3); /* down to min_lr */
    CHECK_NEAR(lr, min_lr, 1e-9);
    zen_history_free(h);
    zen_callback_free(user);
    zen_callback_free(rl);
    CHECK(zen_reduce_lr_on_plateau("val_loss", 1.5f, 2, 0, 0, 0) == NULL); /* factor must be < 1 */
    free_setup(&s);
}

static int rm_all(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/zen_cb_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) return 2;
    int rc = RUN_TESTS(test_early_stopping, test_early_stopping_restores_at_end, test_model_checkpoint, test_csv_logger,
                       test_reduce_lr_on_plateau);
    (void)rm_all();
    return rc;
}
