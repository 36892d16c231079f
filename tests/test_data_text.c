/* Text data: whole text files (plain, gzip, errors), the data directory, language-model
 * windows and their split by position, a bigram model that learns from such windows with
 * zen_model_fit, labelled texts with a stratified seeded split, and the SpamAssassin loader
 * on a corpus laid out here. The real corpora are checked in test_data_corpora.c. */
#include "data_util.h"

#include <sys/stat.h>

TEST(test_load_text) {
    du_init();
    zen_ctx *ctx = zen_ctx_new();
    const char *s = "line one\nzwei \xc3\xbc\n\xff raw bytes\n";
    du_write_str(du_path("a.txt"), s);
    du_write_gz(du_path("a.txt.gz"), s, strlen(s));
    du_write_str(du_path("empty.txt"), "");
    size_t n = 99;
    char *t = zen_load_text(ctx, du_path("a.txt"), &n);
    CHECK(t && n == strlen(s) && !memcmp(t, s, n) && t[n] == 0);
    free(t);
    t = zen_load_text(ctx, du_path("a.txt.gz"), &n);
    CHECK(t && n == strlen(s) && !memcmp(t, s, n));
    free(t);
    t = zen_load_text(ctx, du_path("empty.txt"), &n);
    CHECK(t && n == 0 && t[0] == 0);
    free(t);
    CHECK_ERR(ctx, !zen_load_text(ctx, du_path("missing.txt"), &n), "zen_load_text", "missing.txt", "cannot open");
    CHECK(n == 0);
    CHECK_ERR(ctx, !zen_load_text(ctx, du_dir, NULL), "not a regular file");
    /* a cut-off gzip file */
    unsigned char *gz = du_read(du_path("a.txt.gz"), &n);
    du_write(du_path("cut.gz"), gz, n - 6);
    free(gz);
    CHECK_ERR(ctx, !zen_load_text(ctx, du_path("cut.gz"), NULL), "cut.gz", "truncated");
    zen_ctx_free(ctx);
    du_cleanup();
}

TEST(test_data_path) {
    zen_ctx *ctx = zen_ctx_new();
    char *old = getenv("ZEN_DATA_DIR") ? strdup(getenv("ZEN_DATA_DIR")) : NULL;
    char *old_xdg = getenv("XDG_CACHE_HOME") ? strdup(getenv("XDG_CACHE_HOME")) : NULL;
    char buf[256];
    setenv("ZEN_DATA_DIR", "/data/zen", 1);
    CHECK(zen_data_path(ctx, "gpt2/vocab.bpe", buf, sizeof buf) == 0 && !strcmp(buf, "/data/zen/gpt2/vocab.bpe"));
    unsetenv("ZEN_DATA_DIR");
    setenv("XDG_CACHE_HOME", "/xdg", 1);
    CHECK(zen_data_path(ctx, "x", buf, sizeof buf) == 0 && !strcmp(buf, "/xdg/zen/datasets/x"));
    unsetenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (home && *home) {
        char want[300];
        snprintf(want, sizeof want, "%s/.cache/zen/datasets/x", home);
        CHECK(zen_data_path(ctx, "x", buf, sizeof buf) == 0 && !strcmp(buf, want));
    }
    setenv("ZEN_DATA_DIR", "/data/zen", 1);
    CHECK_ERR(ctx, zen_data_path(ctx, "x", buf, 8) != 0, "too long");
    if (old) setenv("ZEN_DATA_DIR", old, 1);
    else unsetenv("ZEN_DATA_DIR");
    if (old_xdg) setenv("XDG_CACHE_HOME", old_xdg, 1);
    free(old), free(old_xdg);
    zen_ctx_free(ctx);
}

TEST(test_lm_windows) {
    zen_ctx *ctx = zen_ctx_new();
    int32_t ids[20];
    for (int i = 0; i < 20; i++) ids[i] = 100 + i;
    /* T 4, stride 3: windows start at 0, 3, ..., 15 (15 + 4 + 1 = 20 <= 20) */
    zen_dataset *d = zen_lm_dataset(ctx, ids, 20, 4, 3);
    CHECK_OK(ctx, d);
    CHECK(d && d->n == 6 && d->x->dtype == ZEN_I32 && d->y->dtype == ZEN_I32 && d->x->ndim == 2 &&
          d->x->shape[1] == 4 && d->y->shape[0] == 6 && d->y->shape[1] == 4);
    for (int k = 0; d && k < 6; k++)
        for (int t = 0; t < 4; t++) {
            CHECK(((int32_t *)d->x->data)[k * 4 + t] == 100 + 3 * k + t);
            CHECK(((int32_t *)d->y->data)[k * 4 + t] == 100 + 3 * k + t + 1);
        }
    zen_dataset_free(d);
    d = zen_lm_dataset(ctx, ids, 5, 4, 1); /* exactly one window */
    CHECK(d && d->n == 1 && ((int32_t *)d->y->data)[3] == 104);
    zen_dataset_free(d);
    CHECK_ERR(ctx, !zen_lm_dataset(ctx, ids, 4, 4, 1), "4 tokens are too few", "seq_len 4");
    CHECK_ERR(ctx, !zen_lm_dataset(ctx, ids, 20, 0, 1), "seq_len 0");
    CHECK_ERR(ctx, !zen_lm_dataset(ctx, ids, 20, 4, 0), "stride 0");
    CHECK_ERR(ctx, !zen_lm_dataset(ctx, NULL, 20, 4, 1), "no ids");

    /* split by position: 100 ids, val_fraction 0.2 -> train from ids 0..79, val from 80..99 */
    int32_t many[100];
    for (int i = 0; i < 100; i++) many[i] = i;
    zen_dataset *tr = NULL, *va = NULL;
    CHECK(zen_lm_split(ctx, many, 100, 8, 8, 0.2, &tr, &va) == 0);
    CHECK(tr && va && tr->n == (80 - 9) / 8 + 1 && va->n == (20 - 9) / 8 + 1);
    for (int64_t i = 0; tr && i < tr->n * 8; i++) CHECK(((int32_t *)tr->y->data)[i] < 80);
    for (int64_t i = 0; va && i < va->n * 8; i++) CHECK(((int32_t *)va->x->data)[i] >= 80);
    CHECK(va && ((int32_t *)va->x->data)[0] == 80 && ((int32_t *)va->y->data)[0] == 81);
    zen_dataset_free(tr), zen_dataset_free(va);
    CHECK_ERR(ctx, zen_lm_split(ctx, many, 100, 8, 8, 0.05, &tr, &va) != 0 && !tr && !va, "split at 95",
              "validation part shorter than seq_len + 1 = 9");
    CHECK_ERR(ctx, zen_lm_split(ctx, many, 100, 8, 8, 0.95, &tr, &va) != 0, "train part");
    CHECK_ERR(ctx, zen_lm_split(ctx, many, 100, 8, 8, 1.0, &tr, &va) != 0, "val_fraction is 1");
    CHECK_ERR(ctx, zen_lm_split(ctx, many, 100, 8, 8, 0.2, &tr, NULL) != 0, "NULL");
    zen_ctx_free(ctx);
}

/* Character windows of T 1 from a text whose every character determines the next: a bigram
 * model (Embedding -> Flatten -> Dense softmax) trained by zen_model_fit on them learns it. */
TEST(test_lm_learns_bigrams) {
    zen_ctx *ctx = zen_ctx_new();
    char text[2001];
    for (int i = 0; i < 2000; i++) text[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[i % 36];
    text[2000] = 0;
    zen_tokenizer *tok = zen_tokenizer_char_fit(ctx, text, 2000);
    int64_t n;
    int32_t *ids = zen_tokenizer_encode(ctx, tok, text, 2000, &n);
    int64_t V = zen_tokenizer_vocab_size(tok);
    zen_dataset *tr = NULL, *va = NULL;
    CHECK(zen_lm_split(ctx, ids, n, 1, 1, 0.25, &tr, &va) == 0);
    char spec[1024];
    snprintf(spec, sizeof spec,
             "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"bigram\", \"layers\": ["
             "{\"class_name\": \"InputLayer\", \"config\": {\"shape\": [1], \"dtype\": \"int32\"}},"
             "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": %lld, \"output_dim\": 16}},"
             "{\"class_name\": \"Flatten\", \"config\": {}},"
             "{\"class_name\": \"Dense\", \"config\": {\"units\": %lld, \"activation\": \"softmax\"}}]}}",
             (long long)V, (long long)V);
    zen_model *m = zen_model_from_json(ctx, spec);
    CHECK_OK(ctx, m);
    CHECK(m && zen_model_build(m, 1) == 0);
    CHECK(m && zen_model_compile(m, zen_optimizer_new(ctx, "Adam", "{\"learning_rate\": 0.02}"),
                                 "sparse_categorical_crossentropy", 1, (const char *[]){"accuracy"}) == 0);
    zen_fit_opts o = zen_fit_defaults();
    o.epochs = 8;
    o.batch_size = 32;
    o.verbose = 0;
    o.seed = 3;
    o.validation_data = va;
    zen_history *h = m && tr ? zen_model_fit(m, tr, &o) : NULL;
    CHECK_OK(ctx, h);
    if (h) {
        double l0 = zen_metrics_get(&h->logs[0], "loss"), l1 = zen_metrics_get(&h->logs[h->epochs - 1], "loss");
        double acc = zen_metrics_get(&h->logs[h->epochs - 1], "val_accuracy");
        printf("    bigram model: loss %.3f -> %.3f (log V = %.3f), val_accuracy %.3f\n", l0, l1, log((double)V), acc);
        CHECK(l1 < 0.1 && acc > 0.99);
    }
    zen_history_free(h);
    zen_model_free(m);
    zen_dataset_free(tr), zen_dataset_free(va);
    free(ids);
    zen_tokenizer_free(tok);
    zen_ctx_free(ctx);
}

/* A set of 30 texts with label 0 and 10 with label 3. */
static zen_text_set *make_set(void) {
    zen_text_set *s = calloc(1, sizeof *s);
    s->n = 40;
    s->texts = calloc(40, sizeof *s->texts);
    s->lengths = calloc(40, sizeof *s->lengths);
    s->labels = calloc(40, sizeof *s->labels);
    for (int i = 0; i < 40; i++) {
        char buf[32];
        snprintf(buf, sizeof buf, "text number %d", i);
        s->texts[i] = strdup(buf);
        s->lengths[i] = strlen(buf);
        s->labels[i] = i % 4 == 0 ? 3 : 0;
    }
    return s;
}

static int text_index(const char *t) { return atoi(t + strlen("text number ")); }

TEST(test_stratified_split) {
    zen_ctx *ctx = zen_ctx_new();
    zen_text_set *s = make_set();
    zen_text_set *tr = NULL, *te = NULL, *tr2 = NULL, *te2 = NULL, *tr3 = NULL, *te3 = NULL;
    CHECK(zen_text_set_split(ctx, s, 0.25, 42, &tr, &te) == 0);
    CHECK_OK(ctx, tr);
    /* round(30 * 0.25) = 8 (7.5 rounds away from zero) and round(10 * 0.25) = 3 to test */
    CHECK(tr && te && te->n == 11 && tr->n == 29);
    int seen[40] = {0}, te_lab[4] = {0};
    for (int64_t i = 0; te && i < te->n; i++) {
        int k = text_index(te->texts[i]);
        seen[k]++;
        te_lab[te->labels[i]]++;
        CHECK(te->labels[i] == s->labels[k] && te->lengths[i] == strlen(te->texts[i]));
    }
    for (int64_t i = 0; tr && i < tr->n; i++) {
        int k = text_index(tr->texts[i]);
        seen[k]++;
        CHECK(tr->labels[i] == s->labels[k]);
    }
    for (int k = 0; k < 40; k++) CHECK(seen[k] == 1);
    CHECK(te_lab[0] == 8 && te_lab[3] == 3);
    /* shuffled: the train part does not keep the labels in blocks */
    int changes = 0;
    for (int64_t i = 1; tr && i < tr->n; i++) changes += tr->labels[i] != tr->labels[i - 1];
    CHECK(changes >= 4);
    /* the same seed gives the same split; another seed another one */
    CHECK(zen_text_set_split(ctx, s, 0.25, 42, &tr2, &te2) == 0);
    CHECK(zen_text_set_split(ctx, s, 0.25, 43, &tr3, &te3) == 0);
    bool same = tr2 && tr2->n == tr->n, differ = false;
    for (int64_t i = 0; same && i < tr->n; i++) same = !strcmp(tr->texts[i], tr2->texts[i]);
    for (int64_t i = 0; tr3 && i < tr->n; i++) differ |= strcmp(tr->texts[i], tr3->texts[i]) != 0;
    CHECK(same && differ);
    zen_text_set_free(tr), zen_text_set_free(te), zen_text_set_free(tr2), zen_text_set_free(te2);
    zen_text_set_free(tr3), zen_text_set_free(te3);
    CHECK_ERR(ctx, zen_text_set_split(ctx, s, 0, 1, &tr, &te) != 0 && !tr && !te, "test_fraction is 0");
    CHECK_ERR(ctx, zen_text_set_split(ctx, s, 1.5, 1, &tr, &te) != 0, "test_fraction is 1.5");
    CHECK_ERR(ctx, zen_text_set_split(ctx, s, 0.01, 1, &tr, &te) != 0, "40 texts", "test part empty");
    CHECK_ERR(ctx, zen_text_set_split(ctx, s, 0.99, 1, &tr, &te) != 0, "train part empty");
    CHECK_ERR(ctx, zen_text_set_split(ctx, s, 0.5, 1, NULL, &te) != 0, "NULL");
    zen_text_set_free(s);
    zen_ctx_free(ctx);
}

static void write_mail(const char *group, const char *name, const char *text) {
    char dir[700], path[800];
    snprintf(dir, sizeof dir, "%s/%s", du_dir, group);
    mkdir(dir, 0700);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    du_write_str(path, text);
}

TEST(test_spam_assassin_layout) {
    du_init();
    zen_ctx *ctx = zen_ctx_new();
    CHECK_ERR(ctx, !zen_load_spam_assassin(ctx, du_dir, 0), "easy-ham-1", "cannot open the folder",
              "fetch_data.sh spam-assassin");
    const char *groups[] = {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"};
    for (int g = 0; g < 5; g++) {
        char text[200];
        snprintf(text, sizeof text, "From: a@b\r\nSubject: %s second\r\n\r\nbody of %s second\n", groups[g], groups[g]);
        write_mail(groups[g], "00002.bbb.txt", text);
        snprintf(text, sizeof text, "From: a@b\nSubject: %s first\n\n\nbody of %s first\n", groups[g], groups[g]);
        write_mail(groups[g], "00001.aaa.txt", text);
    }
    write_mail("spam-1", ".hidden", "not a mail");
    zen_text_set *s = zen_load_spam_assassin(ctx, du_dir, 0);
    CHECK_OK(ctx, s);
    CHECK(s && s->n == 10);
    for (int i = 0; s && i < 10; i++) {
        char want[100];
        snprintf(want, sizeof want, "Subject: %s %s", groups[i / 2], i % 2 ? "second" : "first");
        CHECK(strstr(s->texts[i], want) != NULL && s->lengths[i] == strlen(s->texts[i]));
        CHECK(s->labels[i] == (i >= 6));
    }
    zen_text_set_free(s);
    s = zen_load_spam_assassin(ctx, du_dir, ZEN_TEXT_BODY);
    CHECK(s && s->n == 10 && !strcmp(s->texts[0], "body of easy-ham-1 first\n") &&
          !strcmp(s->texts[9], "body of spam-2 second\n") && s->lengths[9] == strlen("body of spam-2 second\n"));
    zen_text_set_free(s);
    CHECK_ERR(ctx, !zen_load_spam_assassin(ctx, du_dir, 4), "unknown flags");
    char path[800];
    snprintf(path, sizeof path, "%s/spam-2/00001.aaa.txt", du_dir);
    remove(path);
    snprintf(path, sizeof path, "%s/spam-2/00002.bbb.txt", du_dir);
    remove(path);
    CHECK_ERR(ctx, !zen_load_spam_assassin(ctx, du_dir, 0), "spam-2", "the folder is empty");
    zen_ctx_free(ctx);
    du_cleanup();
}

int main(void) {
    return RUN_TESTS(test_load_text, test_data_path, test_lm_windows, test_lm_learns_bigrams, test_stratified_split,
                     test_spam_assassin_layout);
}
