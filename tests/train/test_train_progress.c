/* What fit prints and draws: one plain line per epoch when stdout is not a terminal (the
 * numbers are the history's), Keras's progress bar under a pseudo-terminal (step n/N, the
 * bar, ETA, metrics; val metrics on the epoch's last line), nothing with verbose 0; the SVG
 * of the curves (well-formed XML — checked with Python's xml.dom.minidom when
 * /usr/bin/python3 is there — with axes, ticks, labels and a legend naming every curve),
 * also for odd histories; and zen_history_load_csv's errors. */
#define _GNU_SOURCE
#include "harness.h"

#include <fcntl.h>
#include <pty.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[256];
static const char *path_in(const char *name) {
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ & 3];
    snprintf(b, 512, "%s/%s", dir, name);
    return b;
}

static char *read_all(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    size_t got = fread(b, 1, (size_t)n, f);
    b[got] = 0;
    fclose(f);
    return b;
}

static int count(const char *s, const char *needle) {
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
    return n;
}

/* A classifier on 30 samples (4 features, 3 classes), compiled with accuracy. */
typedef struct {
    zen_ctx *ctx;
    zen_model *m;
    zen_dataset *d;
} setup;

static setup make_setup(void) {
    setup s;
    s.ctx = zen_ctx_new();
    s.m = zen_model_new(s.ctx, "clf");
    zen_model_input(s.m, 1, (int64_t[]){4});
    zen_model_add(s.m, zen_layer_dense(s.ctx, 8, "relu"));
    zen_model_add(s.m, zen_layer_dense(s.ctx, 3, "softmax"));
    zen_model_build(s.m, 2);
    const char *acc[] = {"accuracy"};
    zen_model_compile(s.m, zen_optimizer_new(s.ctx, "Adam", "{\"learning_rate\": 0.01}"), "sparse_categorical_crossentropy",
                      1, acc);
    zen_rng r;
    zen_rng_seed(&r, 3);
    zen_array *x = zen_array_new(s.ctx, ZEN_F32, 2, (int64_t[]){30, 4}), *y = zen_array_new(s.ctx, ZEN_I32, 1, (int64_t[]){30});
    for (int i = 0; i < 120; i++) ((float *)x->data)[i] = zen_rng_normal(&r);
    for (int i = 0; i < 30; i++) ((int32_t *)y->data)[i] = ((float *)x->data)[4 * i] > 0 ? 1 + (i & 1) : 0;
    s.d = zen_dataset_new(s.ctx, x, y);
    CHECK_OK(s.ctx, s.d);
    return s;
}

static void free_setup(setup *s) {
    zen_dataset_free(s->d);
    zen_model_free(s->m);
    zen_ctx_free(s->ctx);
}

static zen_fit_opts opts(int verbose, int epochs) {
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = epochs;
    o.batch_size = 4;
    o.validation_split = 0.2f; /* 24 training samples: 6 steps */
    o.verbose = verbose;
    o.seed = 1;
    return o;
}

/* Runs fit with stdout sent to a file; returns what was printed (malloc'd). */
static char *fit_to_file(setup *s, zen_fit_opts o, zen_history **h) {
    const char *path = path_in("stdout.txt");
    fflush(stdout);
    int saved = dup(STDOUT_FILENO), fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(saved >= 0 && fd >= 0);
    dup2(fd, STDOUT_FILENO);
    close(fd);
    *h = zen_model_fit(s->m, s->d, &o);
    fflush(stdout);
    dup2(saved, STDOUT_FILENO);
    close(saved);
    return read_all(path);
}

TEST(test_lines_when_not_a_terminal) {
    setup s = make_setup();
    zen_history *h;
    char *out = fit_to_file(&s, opts(-1, 3), &h); /* auto: stdout is a file */
    CHECK_OK(s.ctx, h);
    CHECK(out && !strchr(out, '\r') && !strchr(out, '\033'));
    printf("  line mode:\n%s", out ? out : "(nothing)\n");
    /* exactly one line per epoch, "Epoch k/3 - <s>s - <ms>ms/step - loss: ... - val_accuracy: ..." */
    CHECK(out && count(out, "\n") == 3);
    char *save = NULL, *line = out ? strtok_r(out, "\n", &save) : NULL;
    for (int e = 0; h && e < 3; e++, line = strtok_r(NULL, "\n", &save)) {
        char head[32], want[64];
        snprintf(head, sizeof head, "Epoch %d/3 - ", e + 1);
        CHECK(line && !strncmp(line, head, strlen(head)) && strstr(line, "s/step - loss: "));
        const char *names[] = {"loss", "accuracy", "val_loss", "val_accuracy"};
        for (int i = 0; line && i < 4; i++) {
            snprintf(want, sizeof want, " - %s: %.4f", names[i], zen_metrics_get(&h->logs[e], names[i]));
            if (!strstr(line, want)) fprintf(stderr, "  '%s' is not in '%s'\n", want, line);
            CHECK(strstr(line, want) != NULL);
        }
        CHECK(line && !strstr(line, "learning_rate"));
    }
    free(out);
    zen_history_free(h);

    /* verbose 0: silent; verbose 2: lines */
    out = fit_to_file(&s, opts(0, 2), &h);
    CHECK(out && out[0] == 0);
    free(out);
    zen_history_free(h);
    out = fit_to_file(&s, opts(2, 2), &h);
    CHECK(out && count(out, "\n") == 2 && !strchr(out, '\r'));
    free(out);
    zen_history_free(h);
    free_setup(&s);
}

/* The child of test_bar_on_a_terminal: a fit with verbose auto, stdout a pseudo-terminal. */
static int bar_child(void) {
    setup s = make_setup();
    zen_history *h = zen_model_fit(s.m, s.d, (zen_fit_opts[]){opts(-1, 2)});
    fflush(stdout);
    int rc = h && h->epochs == 2 ? 0 : 1;
    zen_history_free(h);
    free_setup(&s);
    return rc;
}

TEST(test_bar_on_a_terminal) {
    int master;
    pid_t pid = forkpty(&master, NULL, NULL, NULL);
    CHECK(pid >= 0);
    if (pid < 0) return;
    if (pid == 0) {
        /* a fresh process image: no OpenMP state inherited across fork */
        execl("/proc/self/exe", "test_train_progress", "--bar-child", (char *)NULL);
        _exit(127);
    }
    char buf[1 << 16];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(master, buf + n, sizeof buf - 1 - n);
        if (r <= 0) break; /* EIO once the child has exited */
        n += (size_t)r;
    }
    buf[n] = 0;
    close(master);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* shown escaped, for a person reading the test log */
    printf("  bar mode (\\r and ESC shown):\n  ");
    for (size_t i = 0; i < n; i++) {
        if (buf[i] == '\r') printf("\\r");
        else if (buf[i] == '\033') printf("ESC");
        else if (buf[i] == '\n') printf("\n  ");
        else putchar(buf[i]);
    }
    printf("\n");
    CHECK(strstr(buf, "Epoch 1/2") && strstr(buf, "Epoch 2/2"));
    /* the first step is drawn at once: "1/6 [=====>....", an ETA and the running metrics */
    const char *first = strstr(buf, "1/6 [=====>");
    CHECK(first != NULL);
    CHECK(first && strstr(first, "] - ETA: ") && strstr(first, " - loss: ") && strstr(first, " - accuracy: "));
    /* each epoch ends on a full bar with the validation metrics, redrawn in place (\r) */
    CHECK(count(buf, "6/6 [==============================] - ") == 2);
    const char *last = strstr(buf, "6/6 [==============================]");
    CHECK(last && strstr(last, "/step - loss: ") && strstr(last, " - val_loss: ") && strstr(last, " - val_accuracy: "));
    CHECK(count(buf, "\r") >= 4);
}

/* ---- SVG ---- */

static bool have_python(void) { return access("/usr/bin/python3", X_OK) == 0; }

/* Parses the SVG with Python's minidom and prints what it found; 0 if well-formed and the
 * structure is as expected (an svg root, polylines with `points` per epoch, legend texts). */
static int python_check(const char *svg, int npolylines, int points, const char *texts) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c '\n"
             "import sys, xml.dom.minidom as M\n"
             "d = M.parse(sys.argv[1]); r = d.documentElement\n"
             "assert r.tagName == \"svg\", r.tagName\n"
             "pl = r.getElementsByTagName(\"polyline\")\n"
             "texts = [t.firstChild.data for t in r.getElementsByTagName(\"text\") if t.firstChild]\n"
             "print(\"  minidom: %%d polylines, %%d texts, %%d lines\" %% (len(pl), len(texts), len(r.getElementsByTagName(\"line\"))))\n"
             "assert len(pl) == %d, len(pl)\n"
             "for p in pl: assert len(p.getAttribute(\"points\").split()) == %d, p.getAttribute(\"points\")\n"
             "for w in sys.argv[2].split(\"|\"): assert w in texts, (w, texts)\n"
             "' '%s' '%s'",
             npolylines, points, svg, texts);
    return system(cmd);
}

TEST(test_svg_plot) {
    setup s = make_setup();
    zen_fit_opts o = opts(0, 5);
    const char *svg = path_in("curves.svg");
    o.plot_path = svg;
    zen_history *h = zen_model_fit(s.m, s.d, &o);
    CHECK_OK(s.ctx, h);
    char *text = read_all(svg);
    CHECK(text != NULL);
    if (!text) goto out;
    /* structure, checked in C: an svg element, two panels with axes (frames, ticks, labels), a
     * legend naming each curve, train solid and validation dashed */
    CHECK(!strncmp(text, "<svg xmlns='http://www.w3.org/2000/svg'", 39) && strstr(text, "</svg>\n"));
    CHECK(count(text, "<polyline") == 4 && count(text, "stroke-dasharray='6 4' points=") == 2);
    CHECK(count(text, ">loss</text>") == 2);      /* legend entry and y-axis label of the loss panel */
    CHECK(count(text, ">val_loss</text>") == 1);
    CHECK(count(text, ">accuracy</text>") == 1 && count(text, ">val_accuracy</text>") == 1);
    CHECK(count(text, ">epoch</text>") == 2);
    CHECK(count(text, "<circle") == 20); /* 4 curves x 5 epochs */
    CHECK(!strstr(text, "learning_rate"));
    for (int e = 1; e <= 5; e++) { /* x ticks 1..5 */
        char tick[48];
        snprintf(tick, sizeof tick, "text-anchor='middle'>%d</text>", e);
        CHECK(strstr(text, tick) != NULL);
    }
    if (have_python()) CHECK(python_check(svg, 4, 5, "loss|val_loss|accuracy|val_accuracy|epoch|Loss|Metrics") == 0);
    else printf("  (no /usr/bin/python3: the XML parse is skipped)\n");
    free(text);
    /* for a person: render it to PNG when ImageMagick is about (not part of the test) */
out:
    zen_history_free(h);
    free_setup(&s);
}

/* Odd histories still give a readable, well-formed plot: one epoch, a flat curve, NaN and
 * Inf values, a huge value, names with XML's special characters (from a CSV). */
TEST(test_svg_odd_histories) {
    zen_ctx *ctx = zen_ctx_new();
    const char *csv = path_in("odd.csv"), *svg = path_in("odd.svg");
    FILE *f = fopen(csv, "w");
    fprintf(f, "epoch,loss,val_loss,a<b&c'\"\n0,1.5,nan,1e30\n1,1.5,inf,2\n2,1.5,1.25,-inf\n");
    fclose(f);
    zen_history *h = zen_history_load_csv(ctx, csv);
    CHECK_OK(ctx, h);
    CHECK(h && h->epochs == 3 && h->logs[0].n == 3 && isnan(h->logs[0].values[1]) && isinf(h->logs[1].values[1]));
    CHECK(h && zen_history_plot_svg(ctx, h, svg) == 0);
    char *text = read_all(svg);
    CHECK(text && strstr(text, "a&lt;b&amp;c&apos;&quot;") && !strstr(text, "nan") && !strstr(text, "inf"));
    if (have_python()) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import xml.dom.minidom as M; M.parse(\"%s\")'", svg);
        CHECK(system(cmd) == 0);
    }
    free(text);
    h->epochs = 1; /* a single epoch */
    CHECK(zen_history_plot_svg(ctx, h, svg) == 0);
    if (have_python()) {
        char cmd[600];
        snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import xml.dom.minidom as M; M.parse(\"%s\")'", svg);
        CHECK(system(cmd) == 0);
    }
    h->epochs = 0;
    CHECK(zen_history_plot_svg(ctx, h, svg) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "no epochs"));
    zen_ctx_clear_error(ctx);
    h->epochs = 3;
    CHECK(zen_history_plot_svg(ctx, h, "/nonexistent-dir/x.svg") == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "cannot write /nonexistent-dir/x.svg"));
    zen_ctx_clear_error(ctx);
    zen_history_free(h);
    zen_ctx_free(ctx);
}

/* ---- zen_history_load_csv errors ---- */

static void expect_csv_error(const char *content, const char *needle) {
    zen_ctx *ctx = zen_ctx_new();
    const char *p = path_in("bad.csv");
    FILE *f = fopen(p, "w");
    fputs(content, f);
    fclose(f);
    zen_history *h = zen_history_load_csv(ctx, p);
    const char *e = zen_ctx_error(ctx);
    CHECK(h == NULL);
    if (!e || !strstr(e, needle) || !strstr(e, p)) {
        fprintf(stderr, "  CSV '%s': expected an error naming the file with '%s', got '%s'\n", content, needle,
                e ? e : "(none)");
        harness_failures++;
    }
    zen_history_free(h);
    zen_ctx_free(ctx);
}

TEST(test_history_csv_errors) {
    expect_csv_error("", "the first line must be a header starting with 'epoch'");
    expect_csv_error("step,loss\n0,1\n", "the first line must be a header starting with 'epoch'");
    expect_csv_error("epoch\n0\n", "no columns after epoch");
    expect_csv_error("epoch,loss,,acc\n0,1,2,3\n", "non-empty names");
    expect_csv_error("epoch,loss\n", "has no rows");
    expect_csv_error("epoch,loss,acc\n0,1,0.5\n1,x,0.5\n", ":3: column 2 (loss) is not a number");
    expect_csv_error("epoch,loss,acc\n0,1\n", ":2: 3 columns expected, the row has 2");
    expect_csv_error("epoch,loss,acc\n0,1,\n", ":2: column 3 (acc) is missing");
    expect_csv_error("epoch,loss\n0,1,2\n", ":2: more than the header's 2 columns");
    expect_csv_error("epoch,loss\nzero,1\n", ":2: expected an epoch number");
    static char big[9100] = "epoch,loss\n0,1";
    memset(big + strlen(big), '0', 9000);
    strcat(big, "\n");
    expect_csv_error(big, "longer than");
    zen_ctx *ctx = zen_ctx_new();
    CHECK(zen_history_load_csv(ctx, path_in("none.csv")) == NULL);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "cannot open") && strstr(zen_ctx_error(ctx), "none.csv"));
    zen_ctx_free(ctx);
    /* CRLF line ends and blank lines are fine */
    ctx = zen_ctx_new();
    const char *p = path_in("crlf.csv");
    FILE *f = fopen(p, "w");
    fputs("epoch,loss,val_loss\r\n0,1,2\r\n\r\n1,0.5,1.5\r\n", f);
    fclose(f);
    zen_history *h = zen_history_load_csv(ctx, p);
    CHECK_OK(ctx, h);
    CHECK(h && h->epochs == 2 && h->logs[1].values[1] == 1.5 && !strcmp(h->logs[1].names[1], "val_loss"));
    zen_history_free(h);
    zen_ctx_free(ctx);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "--bar-child")) return bar_child();
    const char *base = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/zen_pr_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(dir)) return 2;
    int rc = RUN_TESTS(test_lines_when_not_a_terminal, test_bar_on_a_terminal, test_svg_plot, test_svg_odd_histories,
                       test_history_csv_errors);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return rc;
}
