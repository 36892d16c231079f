/* spam_classifier.c — text classification: ham or spam on the SpamAssassin public corpus.
 * The Keras program it follows:
 *
 *   train, test = stratified split of the e-mails (20% test, seeded)
 *   vectorize = TextVectorization(max_tokens=20000, output_sequence_length=200)
 *   vectorize.adapt(train_texts)                      # the vocabulary of the TRAIN split only
 *   model = Sequential([Input((200,), dtype="int32"),
 *                       Embedding(20000, 32, mask_zero=True),
 *                       Bidirectional(LSTM(32)),
 *                       Dense(1, activation="sigmoid")])
 *   model.compile(optimizer=Adam(2e-3), loss="binary_crossentropy",
 *                 metrics=["accuracy", "precision", "recall"])
 *   model.fit(x_train, y_train, epochs=8, batch_size=32, validation_split=0.15,
 *             callbacks=[EarlyStopping(patience=2, restore_best_weights=True)])
 *   model.evaluate(x_test, y_test)
 *
 * Each e-mail becomes its Subject line followed by its body: the other headers are dropped,
 * because in this corpus they give away where a message was collected (the ham comes from a
 * few mailing lists and one mailbox, the spam from spam traps: Received lines, list names and
 * dates separate them without reading a word), and a filter that learned those would not
 * carry over to other mail. HTML tags are replaced by a space so that "<b>FREE</b>" gives
 * the word "free" (Keras's standardization strips punctuation without splitting, which would
 * glue tags and words into "bfreeb").
 *
 * Usage: spam_classifier [options]   (spam_classifier --help lists them)
 * The data: scripts/fetch_data.sh spam-assassin (the data directory's spam-assassin/).
 *
 * tests/train/test_spam_classifier.c includes this file with SPAM_CLASSIFIER_NO_MAIN defined
 * and runs spam_run on a small synthetic corpus. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h> /* strncasecmp */

#include "zen.h"

enum { SPAM_SUBJECT_BODY, SPAM_BODY, SPAM_ALL }; /* spam_config.text */

typedef struct spam_config {
    const char *dir;      /* the corpus (NULL: the data directory's spam-assassin/) */
    int max_tokens;       /* vocabulary size, padding and [UNK] included */
    int seq_len;          /* words kept per e-mail (the first ones) */
    int embed_dim, units; /* Embedding output_dim, LSTM units (per direction) */
    bool bidirectional;   /* Bidirectional(LSTM) rather than one LSTM */
    int text;             /* what of an e-mail is read: SPAM_SUBJECT_BODY, SPAM_BODY, SPAM_ALL */
    int epochs, batch_size, patience;
    float learning_rate;
    double test_fraction, validation_split;
    uint64_t seed;
    int verbose;        /* fit's verbose (-1 auto) */
    const char *output; /* the trained model file, or NULL */
} spam_config;

static spam_config spam_defaults(void) {
    return (spam_config){.max_tokens = 20000, .seq_len = 200, .embed_dim = 32, .units = 32, .bidirectional = true,
                         .epochs = 8, .batch_size = 32, .patience = 2, .learning_rate = 2e-3f,
                         .test_fraction = 0.2, .validation_split = 0.15, .seed = 1, .verbose = -1};
}

typedef struct spam_result {
    int64_t n_train, n_test, vocab;
    int epochs_run;
    double first_loss, last_loss;    /* training loss of the first and last epoch */
    double accuracy, precision, recall, f1; /* on the test split, spam is the positive class */
    int64_t tp, fp, tn, fn;          /* the confusion matrix (threshold 0.5) */
    double seconds;                  /* fit, wall clock */
} spam_result;

/* ---- e-mail text -> what the model reads ---- */

/* Where the body starts: after the first empty line (LF or CRLF), or len when none. */
static size_t body_start(const char *t, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (t[i] != '\n') continue;
        if (i + 1 < len && t[i + 1] == '\n') return i + 2;
        if (i + 2 < len && t[i + 1] == '\r' && t[i + 2] == '\n') return i + 3;
    }
    return len;
}

/* Appends t[0..n) to out at *k, each HTML tag (<letter or / or ! ... >, on at most 200
 * bytes) replaced by a space; NUL bytes become spaces too. */
static void append_text(char *out, size_t *k, const char *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '<' && i + 1 < n && (isalpha((unsigned char)t[i + 1]) || t[i + 1] == '/' || t[i + 1] == '!')) {
            size_t j = i + 1;
            while (j < n && j < i + 200 && t[j] != '>' && t[j] != '<') j++;
            if (j < n && t[j] == '>') {
                out[(*k)++] = ' ';
                i = j;
                continue;
            }
        }
        out[(*k)++] = t[i] ? t[i] : ' ';
    }
}

/* What the model reads of an e-mail, tags removed, malloc'd: with SPAM_SUBJECT_BODY the
 * Subject header (with its continuation lines) and the body, with SPAM_BODY the body, with
 * SPAM_ALL everything. */
static char *spam_prepare(const char *t, size_t len, int mode) {
    size_t hdr = mode == SPAM_ALL ? 0 : body_start(t, len);
    char *out = malloc(len + 2);
    if (!out) return NULL;
    size_t k = 0;
    for (size_t i = 0; i < hdr;) { /* each header line */
        size_t e = i;
        while (e < hdr && t[e] != '\n') e++;
        if (mode == SPAM_SUBJECT_BODY && e - i >= 8 && !strncasecmp(t + i, "subject:", 8)) {
            size_t s = i + 8, end = e;
            while (end + 1 < hdr && (t[end + 1] == ' ' || t[end + 1] == '\t')) { /* folded lines */
                end++;
                while (end < hdr && t[end] != '\n') end++;
            }
            append_text(out, &k, t + s, end - s);
            out[k++] = '\n';
            break;
        }
        i = e + 1;
    }
    append_text(out, &k, t + hdr, len - hdr);
    out[k] = 0;
    return out;
}

/* ---- the pipeline ---- */

/* Texts of s prepared, and their ids: i32 [n, seq_len]; labels as f32 [n, 1]. */
static zen_dataset *vectorize(zen_ctx *ctx, zen_tokenizer *tok, const zen_text_set *s, int seq_len, int mode) {
    char **texts = calloc((size_t)s->n, sizeof *texts);
    zen_array *y = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){s->n, 1});
    zen_dataset *d = NULL;
    if (!texts || !y) goto out;
    for (int64_t i = 0; i < s->n; i++) {
        if (!(texts[i] = spam_prepare(s->texts[i], s->lengths[i], mode))) goto out;
        ((float *)y->data)[i] = (float)s->labels[i];
    }
    zen_array *x = zen_tokenizer_encode_batch(ctx, tok, s->n, (const char *const *)texts, seq_len);
    if (x) d = zen_dataset_new(ctx, x, y), y = NULL;
out:
    if (texts)
        for (int64_t i = 0; i < s->n; i++) free(texts[i]);
    free(texts);
    zen_array_free(y);
    return d;
}

static zen_tokenizer *fit_vocabulary(zen_ctx *ctx, const zen_text_set *train, int max_tokens, int mode) {
    char **texts = calloc((size_t)train->n, sizeof *texts);
    zen_tokenizer *tok = NULL;
    if (!texts) return NULL;
    int64_t i = 0;
    for (; i < train->n; i++)
        if (!(texts[i] = spam_prepare(train->texts[i], train->lengths[i], mode))) break;
    if (i == train->n) tok = zen_tokenizer_word_fit(ctx, train->n, (const char *const *)texts, max_tokens);
    for (int64_t j = 0; j < i; j++) free(texts[j]);
    free(texts);
    return tok;
}

/* The model as a Keras JSON spec (what examples/spam_classifier.json holds for the defaults). */
static zen_model *spam_model(zen_ctx *ctx, const spam_config *c, int64_t vocab) {
    char lstm[160], spec[1024];
    snprintf(lstm, sizeof lstm, "{\"class_name\": \"LSTM\", \"config\": {\"units\": %d}}", c->units);
    char rnn[256];
    if (c->bidirectional) snprintf(rnn, sizeof rnn, "{\"class_name\": \"Bidirectional\", \"config\": {\"layer\": %s}}", lstm);
    else snprintf(rnn, sizeof rnn, "%s", lstm);
    snprintf(spec, sizeof spec,
             "{\"class_name\": \"Sequential\", \"config\": {\"name\": \"spam_classifier\", \"layers\": ["
             "{\"class_name\": \"InputLayer\", \"config\": {\"shape\": [%d], \"dtype\": \"int32\"}}, "
             "{\"class_name\": \"Embedding\", \"config\": {\"input_dim\": %lld, \"output_dim\": %d, \"mask_zero\": true}}, "
             "%s, {\"class_name\": \"Dense\", \"config\": {\"units\": 1, \"activation\": \"sigmoid\"}}]}}",
             c->seq_len, (long long)vocab, c->embed_dim, rnn);
    return zen_model_from_json(ctx, spec);
}

/* Loads, splits, vectorizes, trains and tests; fills *r. Returns 0, or -1 with the error in
 * ctx. The model is returned in *model_out when that is not NULL (else freed). */
static int spam_run(zen_ctx *ctx, const spam_config *c, spam_result *r, zen_model **model_out) {
    memset(r, 0, sizeof *r);
    int rc = -1;
    zen_text_set *all = NULL, *train = NULL, *test = NULL;
    zen_tokenizer *tok = NULL;
    zen_dataset *dtrain = NULL, *dtest = NULL;
    zen_model *m = NULL;
    zen_history *h = NULL;
    zen_callback *stop = NULL;
    zen_array *pred = NULL;
    char *tok_json = NULL;

    if (!(all = zen_load_spam_assassin(ctx, c->dir, 0))) goto out;
    if (zen_text_set_split(ctx, all, c->test_fraction, c->seed, &train, &test) != 0) goto out;
    if (!(tok = fit_vocabulary(ctx, train, c->max_tokens, c->text))) goto out;
    if (!(dtrain = vectorize(ctx, tok, train, c->seq_len, c->text)) ||
        !(dtest = vectorize(ctx, tok, test, c->seq_len, c->text))) goto out;
    r->n_train = train->n, r->n_test = test->n, r->vocab = zen_tokenizer_vocab_size(tok);

    if (!(m = spam_model(ctx, c, r->vocab)) || zen_model_build(m, c->seed) != 0) goto out;
    if (c->verbose) zen_model_summary(m, stdout, c->batch_size);
    char adam[64];
    snprintf(adam, sizeof adam, "{\"learning_rate\": %g}", c->learning_rate);
    const char *metrics[] = {"accuracy", "precision", "recall"};
    if (zen_model_compile(m, zen_optimizer_new(ctx, "Adam", adam), "binary_crossentropy", 3, metrics) != 0) goto out;

    zen_fit_opts o = zen_fit_defaults();
    o.epochs = c->epochs;
    o.batch_size = c->batch_size;
    o.validation_split = (float)c->validation_split;
    o.seed = c->seed;
    o.verbose = c->verbose;
    if (c->patience > 0) {
        stop = zen_early_stopping("val_loss", 0.0f, c->patience, true);
        o.callbacks = &stop;
        o.ncallbacks = 1;
    }
    double t0 = zen_time_seconds();
    if (!(h = zen_model_fit(m, dtrain, &o)) || h->epochs == 0) goto out;
    r->seconds = zen_time_seconds() - t0;
    r->epochs_run = h->epochs;
    r->first_loss = zen_metrics_get(&h->logs[0], "loss");
    r->last_loss = zen_metrics_get(&h->logs[h->epochs - 1], "loss");

    /* Test: the confusion matrix at threshold 0.5, spam the positive class. */
    if (!(pred = zen_model_predict(m, dtest->x, 256))) goto out;
    for (int64_t i = 0; i < dtest->n; i++) {
        bool p = ((float *)pred->data)[i] > 0.5f, t = ((float *)dtest->y->data)[i] > 0.5f;
        r->tp += p && t, r->fp += p && !t, r->tn += !p && !t, r->fn += !p && t;
    }
    r->accuracy = (double)(r->tp + r->tn) / (double)dtest->n;
    r->precision = r->tp + r->fp ? (double)r->tp / (double)(r->tp + r->fp) : 0;
    r->recall = r->tp + r->fn ? (double)r->tp / (double)(r->tp + r->fn) : 0;
    r->f1 = r->precision + r->recall > 0 ? 2 * r->precision * r->recall / (r->precision + r->recall) : 0;

    if (c->output) {
        /* One file: spec, weights, class names and the vocabulary that turns text into the
         * model's input (zen_model_tokenizer_json + zen_tokenizer_from_json read it back). */
        const char *names[] = {"spam"};
        if (!(tok_json = zen_tokenizer_to_json(ctx, tok)) || zen_model_set_tokenizer_json(m, tok_json) != 0 ||
            zen_model_set_class_names(m, 1, names) != 0 || zen_model_save(m, c->output) != 0)
            goto out;
    }
    rc = 0;
out:
    free(tok_json);
    zen_array_free(pred);
    zen_history_free(h);
    zen_callback_free(stop);
    if (rc == 0 && model_out) *model_out = m;
    else zen_model_free(m);
    zen_dataset_free(dtrain), zen_dataset_free(dtest);
    zen_tokenizer_free(tok);
    zen_text_set_free(all), zen_text_set_free(train), zen_text_set_free(test);
    return rc;
}

#ifndef SPAM_CLASSIFIER_NO_MAIN
static void usage(FILE *f, const char *argv0) {
    spam_config d = spam_defaults();
    fprintf(f,
            "usage: %s [options]\n"
            "  --data DIR          the corpus (default: the data directory's spam-assassin/;\n"
            "                      scripts/fetch_data.sh spam-assassin fetches it)\n"
            "  --max-tokens N      vocabulary size (%d)\n"
            "  --seq-len N         words kept per e-mail (%d)\n"
            "  --embed N           embedding size (%d)\n"
            "  --units N           LSTM units per direction (%d)\n"
            "  --lstm              one forward LSTM instead of Bidirectional(LSTM)\n"
            "  --text WHAT         what is read of an e-mail: subject+body (default), body, all\n"
            "                      (all: with every header)\n"
            "  --epochs N          at most N epochs (%d)\n"
            "  --batch-size N      (%d)\n"
            "  --patience N        EarlyStopping patience on val_loss, 0: none (%d)\n"
            "  --learning-rate X   Adam's (%g)\n"
            "  --seed N            split, initial weights, shuffling (%llu)\n"
            "  --output PATH       save the model (with its vocabulary) there\n"
            "  --verbose N         0 silent, 1 progress bar, 2 a line per epoch (default: a bar on a\n"
            "                      terminal, else lines)\n"
            "  --quiet             --verbose 0\n",
            argv0, d.max_tokens, d.seq_len, d.embed_dim, d.units, d.epochs, d.batch_size, d.patience,
            d.learning_rate, (unsigned long long)d.seed);
}

int main(int argc, char **argv) {
    spam_config c = spam_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int *iarg = !strcmp(a, "--max-tokens") ? &c.max_tokens
                    : !strcmp(a, "--seq-len")   ? &c.seq_len
                    : !strcmp(a, "--embed")     ? &c.embed_dim
                    : !strcmp(a, "--units")     ? &c.units
                    : !strcmp(a, "--epochs")    ? &c.epochs
                    : !strcmp(a, "--batch-size") ? &c.batch_size
                    : !strcmp(a, "--patience")  ? &c.patience
                    : !strcmp(a, "--verbose")   ? &c.verbose
                                                : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout, argv[0]);
            return 0;
        } else if (!strcmp(a, "--lstm")) {
            c.bidirectional = false;
        } else if (!strcmp(a, "--quiet")) {
            c.verbose = 0;
        } else if (!strcmp(a, "--text")) {
            if (!v || (strcmp(v, "subject+body") && strcmp(v, "body") && strcmp(v, "all"))) {
                fprintf(stderr, "spam_classifier: --text must be subject+body, body or all\n");
                return 2;
            }
            c.text = !strcmp(v, "body") ? SPAM_BODY : !strcmp(v, "all") ? SPAM_ALL : SPAM_SUBJECT_BODY;
            i++;
        } else if (iarg || !strcmp(a, "--data") || !strcmp(a, "--output") || !strcmp(a, "--learning-rate") ||
                   !strcmp(a, "--seed")) {
            if (!v) {
                fprintf(stderr, "spam_classifier: %s needs a value\n", a);
                return 2;
            }
            char *end;
            if (iarg) {
                long x = strtol(v, &end, 10);
                long lo = iarg == &c.patience || iarg == &c.verbose ? 0 : 1, hi = iarg == &c.verbose ? 2 : 1000000;
                if (*end || end == v || x < lo || x > hi) {
                    fprintf(stderr, "spam_classifier: %s: '%s' is not a valid count\n", a, v);
                    return 2;
                }
                *iarg = (int)x;
            } else if (!strcmp(a, "--learning-rate")) {
                c.learning_rate = strtof(v, &end);
                if (*end || end == v || !(c.learning_rate > 0)) {
                    fprintf(stderr, "spam_classifier: --learning-rate: '%s' is not a positive number\n", v);
                    return 2;
                }
            } else if (!strcmp(a, "--seed")) {
                c.seed = strtoull(v, &end, 10);
                if (*end || end == v) {
                    fprintf(stderr, "spam_classifier: --seed: '%s' is not a number\n", v);
                    return 2;
                }
            } else if (!strcmp(a, "--data")) {
                c.dir = v;
            } else {
                c.output = v;
            }
            i++;
        } else {
            fprintf(stderr, "spam_classifier: unknown option '%s'\n", a);
            usage(stderr, argv[0]);
            return 2;
        }
    }
    if (c.max_tokens < 3) {
        fprintf(stderr, "spam_classifier: --max-tokens must be at least 3\n");
        return 2;
    }

    zen_ctx *ctx = zen_ctx_new();
    spam_result r;
    if (spam_run(ctx, &c, &r, NULL) != 0) {
        fprintf(stderr, "spam_classifier: %s\n", zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
        zen_ctx_free(ctx);
        return 1;
    }
    printf("e-mails: %lld train (%.0f%% of it validates), %lld test; vocabulary %lld words; %d epochs in %.1f s\n",
           (long long)r.n_train, 100 * c.validation_split, (long long)r.n_test, (long long)r.vocab, r.epochs_run,
           r.seconds);
    printf("confusion matrix (rows: true, columns: predicted)\n"
           "            ham   spam\n"
           "  ham   %6lld %6lld\n"
           "  spam  %6lld %6lld\n",
           (long long)r.tn, (long long)r.fp, (long long)r.fn, (long long)r.tp);
    printf("test accuracy %.4f - precision %.4f - recall %.4f - f1 %.4f\n", r.accuracy, r.precision, r.recall,
           r.f1);
    if (c.output) printf("saved %s (model and vocabulary)\n", c.output);
    zen_ctx_free(ctx);
    return 0;
}
#endif
