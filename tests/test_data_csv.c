/* CSV loader: headers, label column by index (negative from the end) or name, delimiters,
 * RFC 4180 quoting, blank lines, CRLF, BOM, gzip, missing values (error or NaN), and
 * messages with line and column for every kind of bad input. */
#include "data_util.h"

static zen_dataset *load(zen_ctx *ctx, const char *name, const char *text, zen_csv_opts o) {
    du_write_str(du_path(name), text);
    return zen_load_csv(ctx, du_path(name), o);
}

static bool xs_are(const zen_dataset *d, int64_t n, int64_t f, const float *want) {
    if (!d || d->n != n || d->x->ndim != 2 || d->x->shape[0] != n || d->x->shape[1] != f) return false;
    for (int64_t i = 0; i < n * f; i++) {
        float got = ((float *)d->x->data)[i];
        if (!(got == want[i] || (isnan(got) && isnan(want[i])))) {
            fprintf(stderr, "  x[%lld] = %g, expected %g\n", (long long)i, got, want[i]);
            return false;
        }
    }
    return true;
}

TEST(test_csv_header_and_label_name) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d = load(ctx, "iris.csv",
                          "sepal_length,sepal_width,species,petal_length\n"
                          "5.1,3.5,0,1.4\n"
                          "4.9,3.0,0,1.4\n"
                          "6.3,3.3,2,6.0\n"
                          "7.0,3.2,1,4.7\n",
                          (zen_csv_opts){.header = true, .label_name = "species", .label_dtype = ZEN_I32});
    CHECK_OK(ctx, d);
    CHECK(xs_are(d, 4, 3, (float[]){5.1f, 3.5f, 1.4f, 4.9f, 3.0f, 1.4f, 6.3f, 3.3f, 6.0f, 7.0f, 3.2f, 4.7f}));
    CHECK(d && d->y->dtype == ZEN_I32 && d->y->ndim == 1 && d->y->shape[0] == 4);
    const int32_t want[4] = {0, 0, 2, 1};
    for (int i = 0; d && i < 4; i++) CHECK(((int32_t *)d->y->data)[i] == want[i]);
    zen_dataset_free(d);

    /* The same by negative index (-2: the third of four columns), f32 labels. */
    d = load(ctx, "iris2.csv", "a,b,c,d\n1,2,3,4\n5,6,7,8\n", (zen_csv_opts){.header = true, .label_col = -2});
    CHECK_OK(ctx, d);
    CHECK(xs_are(d, 2, 3, (float[]){1, 2, 4, 5, 6, 8}));
    CHECK(d && d->y->dtype == ZEN_F32 && ((float *)d->y->data)[0] == 3 && ((float *)d->y->data)[1] == 7);
    zen_dataset_free(d);
    zen_ctx_free(ctx);
}

/* Zero options: comma, no header, label in column 0, f32. */
TEST(test_csv_defaults) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d = load(ctx, "plain.csv", "1,0.5,-2e3\n0,.25,inf\n-1,1e-3,-0\n", (zen_csv_opts){0});
    CHECK_OK(ctx, d);
    CHECK(xs_are(d, 3, 2, (float[]){0.5f, -2000.0f, 0.25f, INFINITY, 1e-3f, -0.0f}));
    CHECK(d && ((float *)d->y->data)[0] == 1 && ((float *)d->y->data)[1] == 0 && ((float *)d->y->data)[2] == -1);
    zen_dataset_free(d);
    zen_ctx_free(ctx);
}

TEST(test_csv_syntax) {
    zen_ctx *ctx = zen_ctx_new();
    /* BOM, CRLF, blank and whitespace-only lines, spaces around values, ';' delimiter,
     * quoted values and a quoted header name holding the delimiter, quotes and a newline. */
    const char *text = "\xEF\xBB\xBF"
                       "x1; \"x;2 \"\"q\"\"\nmore\" ;label\r\n"
                       "\r\n"
                       " 1 ; \"2.5\" ; 3 \r\n"
                       "   \n"
                       "\t\n"
                       "4;5;\"6\"\r\n"
                       "\n";
    zen_dataset *d = load(ctx, "syntax.csv", text,
                          (zen_csv_opts){.delimiter = ';', .header = true, .label_name = "label", .label_dtype = ZEN_I32});
    CHECK_OK(ctx, d);
    CHECK(xs_are(d, 2, 2, (float[]){1, 2.5f, 4, 5}));
    CHECK(d && ((int32_t *)d->y->data)[0] == 3 && ((int32_t *)d->y->data)[1] == 6);
    zen_dataset_free(d);

    /* The quoted name is matched unquoted. */
    d = load(ctx, "syntax2.csv", text,
             (zen_csv_opts){.delimiter = ';', .header = true, .label_name = "x;2 \"q\"\nmore"});
    CHECK_OK(ctx, d);
    CHECK(xs_are(d, 2, 2, (float[]){1, 3, 4, 6}));
    zen_dataset_free(d);

    /* Tab-separated, no final newline. */
    d = load(ctx, "tabs.tsv", "1\t2\t3\n4\t5\t6", (zen_csv_opts){.delimiter = '\t', .label_col = -1});
    CHECK_OK(ctx, d);
    CHECK(xs_are(d, 2, 2, (float[]){1, 2, 4, 5}));
    CHECK(d && ((float *)d->y->data)[1] == 6);
    zen_dataset_free(d);

    /* gzip, recognised by magic. */
    const char *g = "f,l\n1.5,1\n2.5,0\n";
    du_write_gz(du_path("packed.csv"), g, strlen(g));
    d = zen_load_csv(ctx, du_path("packed.csv"), (zen_csv_opts){.header = true, .label_col = 1});
    CHECK_OK(ctx, d);
    CHECK(xs_are(d, 2, 1, (float[]){1.5f, 2.5f}));
    zen_dataset_free(d);
    zen_ctx_free(ctx);
}

TEST(test_csv_missing_values) {
    zen_ctx *ctx = zen_ctx_new();
    const char *text = "a,b,c,y\n"
                       "1,2,3,0\n"
                       "4,,6,1\n"
                       "NA,8,?,1\n"
                       "n/a,\"\",9,0\n";
    zen_dataset *d;
    CHECK_ERR(ctx, (d = load(ctx, "missing.csv", text, (zen_csv_opts){.header = true, .label_col = -1})) == NULL,
              "missing.csv", "line 3, column 2 ('b'): missing value", "missing_nan");
    d = load(ctx, "missing.csv", text, (zen_csv_opts){.header = true, .label_col = -1, .missing_nan = true});
    CHECK_OK(ctx, d);
    CHECK(xs_are(d, 4, 3, (float[]){1, 2, 3, 4, NAN, 6, NAN, 8, NAN, NAN, NAN, 9}));
    zen_dataset_free(d);
    /* A missing label is an error even with missing_nan. */
    CHECK_ERR(ctx,
              (d = load(ctx, "nolabel.csv", "1,2\n3,\n", (zen_csv_opts){.label_col = 1, .missing_nan = true})) == NULL,
              "nolabel.csv", "line 2, column 2: missing label");
    /* Without a header, messages give the column number alone. */
    CHECK_ERR(ctx, (d = load(ctx, "nohdr.csv", "1,2,3\n\n4,5,\n", (zen_csv_opts){0})) == NULL,
              "line 3, column 3: missing value");
    zen_ctx_free(ctx);
}

TEST(test_csv_errors) {
    zen_ctx *ctx = zen_ctx_new();
    zen_dataset *d;
#define BAD_CSV(name, text, opts, ...)                                                                 \
    CHECK_ERR(ctx, (d = load(ctx, name, text, opts)) == NULL, "zen_load_csv", __VA_ARGS__);          \
    zen_dataset_free(d)

    BAD_CSV("ragged.csv", "1,2,3\n4,5,6\n7,8\n", (zen_csv_opts){0}, "ragged.csv", "line 3 has 2 fields, expected 3",
            "line 1");
    BAD_CSV("nan.csv", "a,b\n1,2\n3,abc\n", ((zen_csv_opts){.header = true}), "line 3, column 2 ('b'): not a number: 'abc'");
    BAD_CSV("numjunk.csv", "1,2\n3,4x\n", (zen_csv_opts){0}, "line 2, column 2: not a number: '4x'");
    BAD_CSV("comma.csv", "1,\"2,5\"\n", (zen_csv_opts){0}, "not a number: '2,5'");
    BAD_CSV("intlabel.csv", "1,2\n2.5,3\n", ((zen_csv_opts){.label_dtype = ZEN_I32}),
            "line 2, column 1: label '2.5' is not an integer");
    BAD_CSV("biglabel.csv", "3e10,3\n", ((zen_csv_opts){.label_dtype = ZEN_I32}), "is not an integer");
    BAD_CSV("noname.csv", "a,b\n1,2\n", ((zen_csv_opts){.header = true, .label_name = "z"}),
            "no column named 'z'");
    BAD_CSV("namenohdr.csv", "1,2\n", ((zen_csv_opts){.label_name = "a"}), "needs header = true");
    BAD_CSV("col.csv", "1,2,3\n", ((zen_csv_opts){.label_col = 3}), "label column 3 is out of range for 3 columns");
    BAD_CSV("negcol.csv", "1,2,3\n", ((zen_csv_opts){.label_col = -4}), "label column -4 is out of range");
    BAD_CSV("unterminated.csv", "1,2\n3,\"4\n5,6\n", (zen_csv_opts){0}, "line 2: unterminated quoted field");
    BAD_CSV("afterquote.csv", "1,\"2\"x\n", (zen_csv_opts){0}, "line 1, column 2: unexpected character 'x'");
    BAD_CSV("empty.csv", "", (zen_csv_opts){0}, "empty.csv", "no data rows");
    BAD_CSV("blank.csv", "\n  \n\r\n", (zen_csv_opts){0}, "no data rows");
    BAD_CSV("hdronly.csv", "a,b\n\n", ((zen_csv_opts){.header = true}), "no data rows after the header");
    BAD_CSV("emptyhdr.csv", "", ((zen_csv_opts){.header = true}), "empty file (expected a header row)");
    BAD_CSV("onecol.csv", "1\n2\n", (zen_csv_opts){0}, "at least 2 columns");
    BAD_CSV("delim.csv", "1,2\n", ((zen_csv_opts){.delimiter = '"'}), "delimiter");
    BAD_CSV("ldt.csv", "1,2\n", ((zen_csv_opts){.label_dtype = ZEN_F16}), "label_dtype");
    /* Line numbers count physical lines, including newlines inside quoted fields. */
    BAD_CSV("lines.csv", "\"a\nb\",c\n1,2\n\n3,x\n", ((zen_csv_opts){.header = true}), "line 5, column 2 ('c')");
    du_write(du_path("nul.csv"), "1,2\n3,\0\n", 8);
    CHECK_ERR(ctx, (d = zen_load_csv(ctx, du_path("nul.csv"), (zen_csv_opts){0})) == NULL, "NUL bytes");
    CHECK_ERR(ctx, (d = zen_load_csv(ctx, du_path("absent.csv"), (zen_csv_opts){0})) == NULL, "absent.csv",
              "cannot open");
#undef BAD_CSV
    zen_ctx_free(ctx);
}

/* Many rows (the buffers grow), values checked; then random corruptions never crash. */
TEST(test_csv_large_and_fuzz) {
    zen_ctx *ctx = zen_ctx_new();
    enum { ROWS = 5000 };
    size_t cap = ROWS * 64, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text, cap, "id,v,w,label\n");
    for (int i = 0; i < ROWS; i++)
        len += (size_t)snprintf(text + len, cap - len, "%d,%.3f,\"%d\",%d\n", i, i * 0.25, -i, i % 7);
    du_write(du_path("large.csv"), text, len);
    zen_dataset *d = zen_load_csv(ctx, du_path("large.csv"),
                                  (zen_csv_opts){.header = true, .label_col = -1, .label_dtype = ZEN_I32});
    CHECK_OK(ctx, d);
    CHECK(d && d->n == ROWS && d->x->shape[1] == 3);
    int bad = 0;
    for (int i = 0; d && i < ROWS; i++) {
        const float *x = (const float *)d->x->data + 3 * i;
        bad += x[0] != (float)i || x[1] != (float)(i * 0.25) || x[2] != (float)-i || ((int32_t *)d->y->data)[i] != i % 7;
    }
    CHECK(bad == 0);
    zen_dataset_free(d);

    const char *base = "a,\"b \"\"x\"\"\",c\n1,2,3\n\"4\",5.5,-6\n\n7,NA,9\r\n";
    size_t n = strlen(base);
    char mut[128];
    zen_rng r;
    zen_rng_seed(&r, 11);
    int ok = 0, failed = 0;
    for (int t = 0; t < 1500; t++) {
        memcpy(mut, base, n);
        size_t m = t % 7 ? n : (size_t)(zen_rng_next(&r) % n); /* sometimes a prefix */
        for (int k = 0; m > 0 && k < 1 + (int)(zen_rng_next(&r) % 3); k++) {
            static const char alphabet[] = ",\"\n\r ;.-e0123456789NA?x\t";
            mut[zen_rng_next(&r) % m] = alphabet[zen_rng_next(&r) % (sizeof alphabet - 1)];
        }
        du_write(du_path("mut.csv"), mut, m);
        d = zen_load_csv(ctx, du_path("mut.csv"),
                         (zen_csv_opts){.header = t % 2 == 0, .label_col = (int)(t % 5) - 2, .missing_nan = t % 3 == 0});
        if (d) {
            ok++;
            CHECK(!zen_ctx_error(ctx) && d->x->shape[0] == d->n && d->y->shape[0] == d->n);
        } else {
            failed++;
            CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "mut.csv"));
        }
        zen_dataset_free(d);
        zen_ctx_clear_error(ctx);
    }
    printf("    mutations: %d loaded, %d rejected\n", ok, failed);
    CHECK(ok > 0 && failed > 0);
    free(text);
    zen_ctx_free(ctx);
}

int main(void) {
    du_init();
    int rc = RUN_TESTS(test_csv_header_and_label_name, test_csv_defaults, test_csv_syntax, test_csv_missing_values,
                       test_csv_errors, test_csv_large_and_fuzz);
    du_cleanup();
    return rc;
}
