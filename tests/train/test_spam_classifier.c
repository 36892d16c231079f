/* examples/spam_classifier.c in the default suite: what it makes of an e-mail (subject and
 * body, other headers dropped, HTML tags removed), and its whole pipeline — SpamAssassin
 * loader, stratified split, vocabulary fitted on the train split, Embedding(mask_zero) ->
 * Bidirectional(LSTM) -> Dense(sigmoid), EarlyStopping, test metrics — on a small synthetic
 * corpus in the SpamAssassin layout, where it must learn: the loss falls well below where it
 * started and held-out accuracy is far above chance. The real corpus is the full test
 * (tests/train/spam_classifier_test.sh, ZEN_FULL_TESTS=1). */
#define SPAM_CLASSIFIER_NO_MAIN
#include "../../examples/spam_classifier.c"

#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"

static void check_prepared(const char *email, int mode, const char *want) {
    char *got = spam_prepare(email, strlen(email), mode);
    CHECK(got != NULL);
    if (got && strcmp(got, want)) fprintf(stderr, "  spam_prepare gave [%s]\n  wanted [%s]\n", got, want);
    CHECK(got && !strcmp(got, want));
    free(got);
}

TEST(test_prepare) {
    /* Subject first, then the body; Received, From, ... are gone. */
    check_prepared("From: a@b.c\nSubject: Hello there\nX-Mailer: x\n\nBody line\nsecond\n", SPAM_SUBJECT_BODY,
                   " Hello there\nBody line\nsecond\n");
    /* A folded subject keeps its continuation line; CRLF line ends. */
    check_prepared("Received: from x\r\nsubject: Cheap\r\n  pills\r\nTo: y\r\n\r\nBuy\r\n", SPAM_SUBJECT_BODY,
                   " Cheap\r\n  pills\r\nBuy\r\n");
    /* Tags become spaces (so words do not glue), a '<' that opens no tag stays. */
    check_prepared("Subject: x\n\n<html><b>FREE</b>money<br/>a < b <3 <!-- c -->\n", SPAM_SUBJECT_BODY,
                   " x\n  FREE money a < b <3  \n");
    /* No subject; no blank line at all: everything is headers and nothing is read. */
    check_prepared("From: a\n\nonly body", SPAM_SUBJECT_BODY, "only body");
    check_prepared("From: a\nSubject: s", SPAM_SUBJECT_BODY, " s\n");
    /* Body only, or everything. */
    check_prepared("From: a\nSubject: s\n\n<p>b</p>", SPAM_BODY, " b ");
    check_prepared("From: a\nSubject: s\n\n<p>b</p>", SPAM_ALL, "From: a\nSubject: s\n\n b ");
    /* NUL bytes do not cut the text short. */
    char *got = spam_prepare("Subject: a\n\nb\0c", 15, SPAM_SUBJECT_BODY);
    CHECK(got && !strcmp(got, " a\nb c"));
    free(got);
}

/* ---- a synthetic corpus: shared words, a few words that lean to one class ---- */

static const char *const common[] = {
    "the", "a", "to", "of", "and", "in", "is", "for", "on", "that", "with", "this", "you", "it", "we", "be", "at",
    "have", "from", "or", "will", "can", "your", "are", "all", "one", "about", "more", "time", "new", "just", "get",
    "here", "list", "mail", "week", "people", "some", "would", "like", "also", "make", "good", "only", "out", "up"};
static const char *const hamw[] = {"patch", "kernel", "build", "thanks", "meeting", "review", "debian", "config",
                                   "bug", "release", "wrote", "package", "mailing", "commit", "server", "script"};
static const char *const spamw[] = {"free", "money", "offer", "click", "winner", "cash", "viagra", "guaranteed",
                                    "unsubscribe", "credit", "cheap", "income", "prize", "limited", "order", "risk"};
#define COUNT(a) ((int)(sizeof(a) / sizeof(a[0])))

/* One e-mail of class spam (1) or ham (0): the same kind of headers for both, a subject and
 * 20..60 words of which one in five leans to the class and one in twenty-five to the other. */
static void write_email(const char *path, int spam, zen_rng *r) {
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (!f) return;
    int relay = (int)(zen_rng_uniform(r) * 9);
    unsigned id = (unsigned)zen_rng_next(r);
    fprintf(f, "From someone@example.org  Mon Aug  5 10:00:00 2002\nReceived: from relay%d.example.org\n"
               "Message-Id: <%08x@example.org>\nSubject:", relay, id);
    for (int pass = 0; pass < 2; pass++) {
        int n = pass == 0 ? 3 + (int)(zen_rng_uniform(r) * 4) : 20 + (int)(zen_rng_uniform(r) * 40);
        for (int i = 0; i < n; i++) {
            float u = zen_rng_uniform(r);
            const char *const *own = spam ? spamw : hamw, *const *other = spam ? hamw : spamw;
            const char *w = u < 0.2f ? own[(int)(zen_rng_uniform(r) * 16)]
                          : u < 0.24f ? other[(int)(zen_rng_uniform(r) * 16)]
                                      : common[(int)(zen_rng_uniform(r) * COUNT(common))];
            fprintf(f, " %s%s", spam && u < 0.03f ? "<b>" : "", w);
        }
        fputs(pass == 0 ? "\nTo: list@example.org\n\n" : "\n", f);
    }
    fclose(f);
}

static char *make_corpus(void) {
    char tmpl[] = "/tmp/zen_spam_test_XXXXXX";
    char *root = mkdtemp(tmpl);
    CHECK(root != NULL);
    if (!root) return NULL;
    root = strdup(root);
    static const char *const groups[] = {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"};
    static const int counts[] = {150, 100, 50, 80, 120};
    zen_rng r;
    zen_rng_seed(&r, 2026);
    for (int g = 0; g < 5; g++) {
        char dir[256], path[320];
        snprintf(dir, sizeof dir, "%s/%s", root, groups[g]);
        CHECK(mkdir(dir, 0700) == 0);
        for (int i = 0; i < counts[g]; i++) {
            snprintf(path, sizeof path, "%s/%05d.txt", dir, i);
            write_email(path, g >= 3, &r);
        }
    }
    return root;
}

static void remove_corpus(char *root) {
    static const char *const groups[] = {"easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2"};
    for (int g = 0; g < 5; g++) {
        char path[320];
        for (int i = 0; i < 150; i++) {
            snprintf(path, sizeof path, "%s/%s/%05d.txt", root, groups[g], i);
            unlink(path);
        }
        snprintf(path, sizeof path, "%s/%s", root, groups[g]);
        rmdir(path);
    }
    rmdir(root);
    free(root);
}

TEST(test_learns_synthetic_corpus) {
    char *root = make_corpus();
    if (!root) return;
    zen_ctx *ctx = zen_ctx_new();
    spam_config c = spam_defaults();
    c.dir = root;
    c.max_tokens = 200;
    c.seq_len = 40;
    c.embed_dim = 16;
    c.units = 12;
    c.epochs = 8;
    c.batch_size = 16;
    c.learning_rate = 1e-2f;
    c.test_fraction = 0.25;
    c.verbose = 0;
    spam_result r;
    zen_model *m = NULL;
    int rc = spam_run(ctx, &c, &r, &m);
    if (rc != 0) fprintf(stderr, "  spam_run: %s\n", zen_ctx_error(ctx));
    CHECK(rc == 0);
    fprintf(stderr, "  %lld train, %lld test, vocabulary %lld, %d epochs: loss %.3f -> %.3f; test accuracy %.3f "
                    "precision %.3f recall %.3f f1 %.3f (tp %lld fp %lld tn %lld fn %lld)\n",
            (long long)r.n_train, (long long)r.n_test, (long long)r.vocab, r.epochs_run, r.first_loss, r.last_loss,
            r.accuracy, r.precision, r.recall, r.f1, (long long)r.tp, (long long)r.fp, (long long)r.tn,
            (long long)r.fn);
    /* stratified 25%: 75 of the 300 ham and 50 of the 200 spam held out */
    CHECK(r.n_test == 125 && r.n_train == 375);
    CHECK(r.tp + r.fn == 50 && r.tn + r.fp == 75);
    /* The vocabulary is the train split's: 2 specials + the words seen, at most 200. */
    CHECK(r.vocab > 50 && r.vocab <= 200);
    CHECK(r.last_loss < 0.5 * r.first_loss);
    CHECK(r.accuracy >= 0.9);
    CHECK(r.precision >= 0.8 && r.recall >= 0.8);
    if (m) {
        int64_t shape[4];
        CHECK(zen_model_input_shape(m, 0, shape) == 1 && shape[0] == 40);
        CHECK(zen_model_output_shape(m, 0, shape) == 1 && shape[0] == 1);
    }
    zen_model_free(m);

    /* Errors name what was wrong: a corpus folder that is missing. */
    char missing[400];
    snprintf(missing, sizeof missing, "%s/nowhere", root);
    c.dir = missing;
    CHECK(spam_run(ctx, &c, &r, NULL) == -1);
    CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "nowhere/easy-ham-1: cannot open the folder"));
    zen_ctx_free(ctx);
    remove_corpus(root);
}

int main(void) { return RUN_TESTS(test_prepare, test_learns_synthetic_corpus); }
