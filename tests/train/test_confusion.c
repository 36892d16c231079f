/* test_confusion.c — confusion matrices: counts from class indices, score rows (argmax,
 * ties), one-hot targets and binary columns; per-class precision / recall / F1 and the
 * macro and weighted averages against values worked out by hand (sklearn's definitions);
 * errors; the CSV file. */
#include "data_util.h"

static zen_array *i32(zen_ctx *ctx, int n, const int32_t *v) {
    zen_array *a = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){n});
    memcpy(a->data, v, (size_t)n * 4);
    return a;
}

static zen_array *f32(zen_ctx *ctx, int n, int c, const float *v) {
    zen_array *a = zen_array_new(ctx, ZEN_F32, c ? 2 : 1, (int64_t[]){n, c});
    memcpy(a->data, v, (size_t)n * (size_t)(c ? c : 1) * 4);
    return a;
}

TEST(counts_and_stats) {
    zen_ctx *ctx = zen_ctx_new();
    /* y_true = [0 0 0 1 1 2 2 2 2], y_pred = [0 1 0 1 1 2 0 2 1] */
    zen_array *t = i32(ctx, 9, (int32_t[]){0, 0, 0, 1, 1, 2, 2, 2, 2});
    zen_array *p = i32(ctx, 9, (int32_t[]){0, 1, 0, 1, 1, 2, 0, 2, 1});
    zen_confusion *c = zen_confusion_new(ctx, 3);
    CHECK(zen_confusion_add(ctx, c, p, t) == 0);
    const int64_t want[9] = {2, 1, 0, 0, 2, 0, 1, 1, 2};
    for (int i = 0; i < 9; i++) CHECK(c->counts[i] == want[i]);
    CHECK(zen_confusion_total(c) == 9);
    CHECK_NEAR(zen_confusion_accuracy(c), 6.0 / 9, 1e-12);
    /* class 0: tp 2, predicted 3, support 3 */
    zen_class_stats s0 = zen_confusion_class(c, 0), s1 = zen_confusion_class(c, 1), s2 = zen_confusion_class(c, 2);
    CHECK_NEAR(s0.precision, 2.0 / 3, 1e-12);
    CHECK_NEAR(s0.recall, 2.0 / 3, 1e-12);
    CHECK_NEAR(s1.precision, 0.5, 1e-12); /* tp 2 of 4 predicted */
    CHECK_NEAR(s1.recall, 1.0, 1e-12);
    CHECK_NEAR(s1.f1, 2 * 0.5 / 1.5, 1e-12);
    CHECK_NEAR(s2.precision, 1.0, 1e-12);
    CHECK_NEAR(s2.recall, 0.5, 1e-12);
    CHECK(s2.support == 4 && s2.predicted == 2 && s1.predicted == 4);
    zen_class_stats m = zen_confusion_macro(c), w = zen_confusion_weighted(c);
    /* sklearn: precision_recall_fscore_support(y_true, y_pred, average="macro"/"weighted") */
    CHECK_NEAR(m.precision, (2.0 / 3 + 0.5 + 1.0) / 3, 1e-12);
    CHECK_NEAR(m.recall, (2.0 / 3 + 1.0 + 0.5) / 3, 1e-12);
    CHECK_NEAR(m.f1, (2.0 / 3 + 2.0 / 3 + 2.0 / 3) / 3, 1e-12);
    CHECK_NEAR(w.recall, (3 * 2.0 / 3 + 2 * 1.0 + 4 * 0.5) / 9, 1e-12);
    CHECK_NEAR(w.precision, (3 * 2.0 / 3 + 2 * 0.5 + 4 * 1.0) / 9, 1e-12);
    CHECK(m.support == 9);
    zen_array_free(t), zen_array_free(p);
    zen_confusion_free(c);
    zen_ctx_free(ctx);
}

TEST(scores_one_hot_and_binary) {
    zen_ctx *ctx = zen_ctx_new();
    zen_confusion *c = zen_confusion_new(ctx, 3);
    /* rows: argmax 2, 0 (tie 0/1: the first), 1 */
    zen_array *p = f32(ctx, 3, 3, (float[]){0.1f, 0.2f, 0.7f, 0.4f, 0.4f, 0.2f, 0, 1, 0});
    zen_array *t = f32(ctx, 3, 3, (float[]){0, 0, 1, 0, 1, 0, 0, 1, 0}); /* one-hot 2, 1, 1 */
    CHECK(zen_confusion_add(ctx, c, p, t) == 0);
    CHECK(c->counts[2 * 3 + 2] == 1 && c->counts[1 * 3 + 0] == 1 && c->counts[1 * 3 + 1] == 1);
    CHECK(zen_confusion_total(c) == 3);
    zen_class_stats s0 = zen_confusion_class(c, 0);
    CHECK(s0.support == 0 && s0.precision == 0 && s0.recall == 0 && s0.f1 == 0); /* zero_division = 0 */
    zen_confusion *b = zen_confusion_new(ctx, 2);
    zen_array *bp = f32(ctx, 4, 0, (float[]){0.9f, 0.2f, 0.5f, 0.51f}), *bt = i32(ctx, 4, (int32_t[]){1, 0, 1, 0});
    CHECK(zen_confusion_add(ctx, b, bp, bt) == 0);
    /* (true, predicted): (1, 1), (0, 0), (1, 0) — 0.5 is class 0 — and (0, 1) */
    CHECK(b->counts[0] == 1 && b->counts[1] == 1 && b->counts[2] == 1 && b->counts[3] == 1);
    zen_array_free(p), zen_array_free(t), zen_array_free(bp), zen_array_free(bt);
    zen_confusion_free(c), zen_confusion_free(b);
    zen_ctx_free(ctx);
}

TEST(errors_leave_the_matrix_unchanged) {
    zen_ctx *ctx = zen_ctx_new();
    zen_confusion *c = zen_confusion_new(ctx, 3);
    zen_array *t = i32(ctx, 3, (int32_t[]){0, 1, 3}), *p = i32(ctx, 3, (int32_t[]){0, 1, 2});
    CHECK_ERR(ctx, zen_confusion_add(ctx, c, p, t) != 0, "the target of sample 2 is class 3", "[0, 3)");
    CHECK(zen_confusion_total(c) == 0);
    zen_array *p4 = f32(ctx, 3, 4, (float[12]){0});
    zen_array *t2 = i32(ctx, 2, (int32_t[]){0, 1});
    CHECK_ERR(ctx, zen_confusion_add(ctx, c, p4, p) != 0, "predictions of shape [3, 4]", "3 classes");
    CHECK_ERR(ctx, zen_confusion_add(ctx, c, p, t2) != 0, "targets of shape [2]", "3 rows");
    CHECK_ERR(ctx, !zen_confusion_new(ctx, 0), "nclasses");
    zen_array_free(t), zen_array_free(p), zen_array_free(p4), zen_array_free(t2);
    zen_confusion_free(c);
    zen_ctx_free(ctx);
}

TEST(csv_file) {
    zen_ctx *ctx = zen_ctx_new();
    du_init();
    zen_confusion *c = zen_confusion_new(ctx, 2);
    c->counts[0] = 5, c->counts[1] = 1, c->counts[2] = 0, c->counts[3] = 7;
    const char *names[] = {"cat", "dog, big"};
    CHECK(zen_confusion_write_csv(ctx, c, du_path("c.csv"), names) == 0);
    size_t n;
    char *s = (char *)du_read(du_path("c.csv"), &n);
    if (s) s[n] = 0;
    CHECK(s && !strcmp(s, "true\\predicted,cat,\"dog, big\"\ncat,5,1\n\"dog, big\",0,7\n"));
    free(s);
    CHECK(zen_confusion_write_csv(ctx, c, du_path("d.csv"), NULL) == 0);
    s = (char *)du_read(du_path("d.csv"), &n);
    if (s) s[n] = 0;
    CHECK(s && !strcmp(s, "true\\predicted,0,1\n0,5,1\n1,0,7\n"));
    free(s);
    CHECK_ERR(ctx, zen_confusion_write_csv(ctx, c, du_path("no/such/dir.csv"), NULL) != 0, "cannot create");
    du_cleanup();
    zen_confusion_free(c);
    zen_ctx_free(ctx);
}

int main(void) { return RUN_TESTS(counts_and_stats, scores_one_hot_and_binary, errors_leave_the_matrix_unchanged, csv_file); }
