/* Saves are atomic: a child process saves a ~9 MB model over the same path in a loop, each
 * time with every weight set to its save count, and is killed (SIGKILL) at a random moment;
 * 30 times. After every kill the file must load, whole and from ONE save (all weights equal),
 * never older than a save that finished before; the only other files in the directory are
 * the hidden ".<name>.<pid>-<n>.tmp" of the killed save (never a *.zen), and the next save
 * removes those. */
#define _GNU_SOURCE
#include "harness.h"
#include "train/train.h"

#include <dirent.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[256], path[512];

static zen_model *big_model(zen_ctx *ctx) {
    zen_model *m = zen_model_new(ctx, "big");
    zen_model_input(m, 1, (int64_t[]){784});
    zen_model_add(m, zen_layer_dense(ctx, 2048, "relu"));
    zen_model_add(m, zen_layer_dense(ctx, 256, NULL));
    CHECK(zen_model_build(m, 1) == 0);
    return m;
}

static void fill(zen_model *m, float v) {
    for (int i = 0; i < zen_model_n_layers(m); i++)
        for (int w = 0; w < zen_layer_n_weights(zen_model_layer(m, i)); w++) {
            zen_tensor *t = zen_layer_weight(zen_model_layer(m, i), w, NULL, NULL);
            for (int64_t k = 0; k < zen_numel(t); k++) ((float *)t->data)[k] = v;
        }
}

/* The value every weight holds, or -1 when they differ (a torn file). */
static float uniform_value(zen_model *m) {
    float v = NAN;
    for (int i = 0; i < zen_model_n_layers(m); i++)
        for (int w = 0; w < zen_layer_n_weights(zen_model_layer(m, i)); w++) {
            zen_tensor *t = zen_layer_weight(zen_model_layer(m, i), w, NULL, NULL);
            for (int64_t k = 0; k < zen_numel(t); k++) {
                float x = ((float *)t->data)[k];
                if (isnan(v)) v = x;
                else if (x != v) return -1;
            }
        }
    return v;
}

/* Files in dir: zen files (not hidden, ending in .zen) and hidden temporaries. */
static void count_files(int *zen, int *temps, int *other) {
    *zen = *temps = *other = 0;
    DIR *d = opendir(dir);
    for (struct dirent *e; d && (e = readdir(d));) {
        const char *s = e->d_name;
        size_t n = strlen(s);
        if (!strcmp(s, ".") || !strcmp(s, "..")) continue;
        if (s[0] == '.' && n > 4 && !strcmp(s + n - 4, ".tmp")) (*temps)++;
        else if (s[0] != '.' && n > 4 && !strcmp(s + n - 4, ".zen")) (*zen)++;
        else (*other)++;
    }
    if (d) closedir(d);
}

/* The child: saves forever, reporting each finished save's number through a pipe. */
static void saver(zen_model *m, int fd, int start) {
    for (int g = start;; g++) {
        fill(m, (float)g);
        if (zen_model_save(m, path) != 0) _exit(3);
        if (write(fd, &g, sizeof g) != sizeof g) _exit(4);
    }
}

TEST(test_killed_saves) {
    zen_ctx *ctx = zen_ctx_new();
    zen_model *m = big_model(ctx);
    fill(m, 1);
    CHECK(zen_model_save(m, path) == 0);
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    srand((unsigned)now.tv_nsec);
    int finished = 1, next = 2, torn = 0, older = 0, bad_load = 0, max_temps = 0;
    for (int round = 0; round < 30; round++) {
        int fds[2];
        CHECK(pipe(fds) == 0);
        pid_t pid = fork();
        if (pid == 0) {
            close(fds[0]);
            saver(m, fds[1], next);
        }
        close(fds[1]);
        struct timespec delay = {0, (long)(rand() % 60 + 1) * 1000000L};
        nanosleep(&delay, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
        for (int g; read(fds[0], &g, sizeof g) == sizeof g;) finished = g, next = g + 1;
        close(fds[0]);
        next += 1000; /* a save that began but did not report: never reuse its number */
        zen_ctx *c2 = zen_ctx_new();
        zen_model *back = zen_model_load(c2, path);
        if (!back) {
            bad_load++;
            fprintf(stderr, "  round %d: the file does not load: %s\n", round, zen_ctx_error(c2));
        } else {
            float v = uniform_value(back);
            if (v < 0) torn++;
            else if (v < (float)finished) older++; /* a finished save was lost */
        }
        zen_model_free(back);
        zen_ctx_free(c2);
        int nzen, ntemp, nother;
        count_files(&nzen, &ntemp, &nother);
        CHECK(nzen == 1 && nother == 0);
        if (ntemp > max_temps) max_temps = ntemp;
    }
    CHECK(bad_load == 0 && torn == 0 && older == 0);
    fprintf(stderr, "  30 kills: every file loaded whole (at most %d stale temporaries at a time)\n", max_temps);
    /* the next save removes the temporaries of killed saves */
    CHECK(zen_model_save(m, path) == 0);
    int nzen, ntemp, nother;
    count_files(&nzen, &ntemp, &nother);
    CHECK(nzen == 1 && ntemp == 0 && nother == 0);
    zen_model_free(m);
    zen_ctx_free(ctx);
}

int main(void) {
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/zen_kill_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) return 2;
    snprintf(path, sizeof path, "%s/model.zen", dir);
    int rc = RUN_TESTS(test_killed_saves);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
