/* csv.c — numeric CSV into a dataset: one label column, the rest features.
 *
 * The whole file is read into memory (plain or gzip) and split into records by a small
 * RFC 4180 state machine: quoted fields may hold delimiters, newlines and "" (a quote);
 * fields are unquoted in place. Numbers are parsed with strtod in the C locale, whatever
 * locale the program has set. Line numbers in messages are physical lines (1-based) where
 * the field starts; columns are 1-based. */
#define _GNU_SOURCE /* strtod_l, newlocale */
#include "data.h"

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <strings.h>

typedef struct {
    char *s;  /* field text (unquoted, NUL-terminated once the record is complete) */
    size_t n; /* its length */
    int line; /* where it starts */
} csv_field;

typedef struct {
    zen_ctx *ctx;
    const char *fn, *path;
    char *buf;
    size_t len, i;
    int line;
    char delim;
    csv_field *f; /* fields of the current record */
    int nf, capf;
} csv_in;

static bool is_space(const csv_in *in, char c) { return (c == ' ' || c == '\t' || c == '\r') && c != in->delim; }

static int push_field(csv_in *in, char *s, size_t n, int line) {
    if (in->nf == in->capf) {
        int cap = in->capf ? in->capf * 2 : 16;
        csv_field *nf = cap > in->capf ? realloc(in->f, (size_t)cap * sizeof *nf) : NULL;
        if (!nf) {
            zen__fail(in->ctx, "%s: %s: out of memory (%d fields)", in->fn, in->path, cap);
            return -1;
        }
        in->f = nf;
        in->capf = cap;
    }
    in->f[in->nf++] = (csv_field){s, n, line};
    return 0;
}

/* Reads the next record into in->f (in->nf fields). Returns 1 for a record, 0 at the end
 * of the file, -1 on an error. Blank lines are skipped. */
static int next_record(csv_in *in) {
    for (;;) {
        if (in->i >= in->len) return 0;
        in->nf = 0;
        bool blank = true;
        for (;;) { /* one field per iteration */
            int line = in->line;
            size_t i = in->i;
            while (i < in->len && is_space(in, in->buf[i])) i++;
            char *start;
            size_t n;
            if (i < in->len && in->buf[i] == '"') {
                blank = false;
                start = in->buf + i;
                size_t w = 0;
                i++;
                for (;;) {
                    if (i >= in->len) {
                        zen__fail(in->ctx, "%s: %s: line %d: unterminated quoted field", in->fn, in->path, line);
                        return -1;
                    }
                    char c = in->buf[i];
                    if (c == '"') {
                        if (i + 1 < in->len && in->buf[i + 1] == '"') {
                            start[w++] = '"';
                            i += 2;
                            continue;
                        }
                        i++;
                        break;
                    }
                    if (c == '\n') in->line++;
                    start[w++] = c;
                    i++;
                }
                n = w;
                while (i < in->len && is_space(in, in->buf[i])) i++;
                if (i < in->len && in->buf[i] != in->delim && in->buf[i] != '\n') {
                    zen__fail(in->ctx, "%s: %s: line %d, column %d: unexpected character '%c' after a closing quote",
                              in->fn, in->path, in->line, in->nf + 1, in->buf[i]);
                    return -1;
                }
            } else {
                start = in->buf + i;
                while (i < in->len && in->buf[i] != in->delim && in->buf[i] != '\n') i++;
                n = (size_t)(in->buf + i - start);
                while (n > 0 && is_space(in, start[n - 1])) n--;
                if (n > 0 || (i < in->len && in->buf[i] == in->delim)) blank = false;
            }
            if (push_field(in, start, n, line) != 0) return -1;
            if (i < in->len && in->buf[i] == in->delim) {
                in->i = i + 1;
                continue;
            }
            if (i < in->len && in->buf[i] == '\n') {
                i++;
                in->line++;
            }
            in->i = i;
            break;
        }
        if (blank) continue;
        for (int k = 0; k < in->nf; k++) in->f[k].s[in->f[k].n] = 0; /* past its end: already consumed */
        return 1;
    }
}

/* A field's value: 0 ok, 1 missing, -1 not a number. */
static int parse_value(const char *s, locale_t loc, double *v) {
    if (!*s || !strcasecmp(s, "NA") || !strcasecmp(s, "N/A") || !strcmp(s, "?")) return 1;
    char *end;
    *v = strtod_l(s, &end, loc);
    while (*end == ' ' || *end == '\t' || *end == '\r') end++;
    return end != s && *end == 0 ? 0 : -1;
}

typedef struct {
    void *p;
    size_t len, cap; /* in 4-byte elements */
} vec4;

static int vec_push(vec4 *v, const void *src, size_t n) {
    if (v->len + n > v->cap) {
        size_t cap = v->cap ? v->cap : 1024;
        while (cap < v->len + n) cap *= 2;
        void *np = realloc(v->p, cap * 4);
        if (!np) return -1;
        v->p = np;
        v->cap = cap;
    }
    memcpy((char *)v->p + v->len * 4, src, n * 4);
    v->len += n;
    return 0;
}

zen_dataset *zen_load_csv(zen_ctx *ctx, const char *path, zen_csv_opts opts) {
    const char *fn = "zen_load_csv";
    char delim = opts.delimiter ? opts.delimiter : ',';
    if (delim == '"' || delim == '\n' || delim == '\r')
        return zen__fail(ctx, "%s: the delimiter cannot be a quote or a line break", fn);
    if (opts.label_dtype != ZEN_F32 && opts.label_dtype != ZEN_I32)
        return zen__fail(ctx, "%s: label_dtype must be f32 or i32, not %s", fn, zen_dtype_name(opts.label_dtype));
    if (opts.label_name && !opts.header)
        return zen__fail(ctx, "%s: label_name '%s' needs header = true", fn, opts.label_name);

    zen__reader r;
    if (zen__reader_open(&r, ctx, fn, path) != 0) return NULL;
    size_t size = 0;
    char *buf = zen__reader_slurp(&r, &size);
    zen__reader_close(&r);
    if (!buf) return NULL;
    if (memchr(buf, 0, size)) {
        free(buf);
        return zen__fail(ctx, "%s: %s: contains NUL bytes (not a text file)", fn, path);
    }

    csv_in in = {.ctx = ctx, .fn = fn, .path = path, .buf = buf, .len = size, .line = 1, .delim = delim};
    if (size >= 3 && !memcmp(buf, "\xEF\xBB\xBF", 3)) in.i = 3; /* UTF-8 byte order mark */
    locale_t loc = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    vec4 xs = {0}, ys = {0};
    float *row = NULL;
    char **names = NULL;
    zen_dataset *d = NULL;
    int ncols = -1, label = -1, first_line = 0, rc;
    int64_t nrows = 0;
    if (!loc) {
        zen__fail(ctx, "%s: cannot create the C locale", fn);
        goto done;
    }
    if (opts.header) {
        rc = next_record(&in);
        if (rc < 0) goto done;
        if (rc == 0) {
            zen__fail(ctx, "%s: %s: empty file (expected a header row)", fn, path);
            goto done;
        }
        ncols = in.nf;
        first_line = in.f[0].line;
        names = malloc((size_t)ncols * sizeof *names);
        if (!names) {
            zen__fail(ctx, "%s: out of memory", fn);
            goto done;
        }
        for (int k = 0; k < ncols; k++) names[k] = in.f[k].s;
    }
    while ((rc = next_record(&in)) == 1) {
        if (ncols < 0) {
            ncols = in.nf;
            first_line = in.f[0].line;
        }
        if (label < 0) { /* resolve the label column once the column count is known */
            if (ncols < 2) {
                zen__fail(ctx, "%s: %s: line %d: needs at least 2 columns (features and a label), found %d", fn,
                          path, first_line, ncols);
                goto done;
            }
            if (opts.label_name) {
                for (int k = 0; k < ncols && label < 0; k++)
                    if (!strcmp(names[k], opts.label_name)) label = k;
                if (label < 0) {
                    zen__fail(ctx, "%s: %s: the header has no column named '%s'", fn, path, opts.label_name);
                    goto done;
                }
            } else {
                int c = opts.label_col < 0 ? ncols + opts.label_col : opts.label_col;
                if (c < 0 || c >= ncols) {
                    zen__fail(ctx, "%s: %s: label column %d is out of range for %d columns", fn, path,
                              opts.label_col, ncols);
                    goto done;
                }
                label = c;
            }
            row = malloc((size_t)ncols * sizeof *row);
            if (!row) {
                zen__fail(ctx, "%s: out of memory", fn);
                goto done;
            }
        }
        if (in.nf != ncols) {
            zen__fail(ctx, "%s: %s: line %d has %d fields, expected %d (as on line %d)", fn, path, in.f[0].line,
                      in.nf, ncols, first_line);
            goto done;
        }
        int nx = 0;
        union {
            float f;
            int32_t i;
        } y = {.i = 0};
        for (int k = 0; k < ncols; k++) {
            double v = 0;
            int st = parse_value(in.f[k].s, loc, &v);
            char col[96] = "";
            if (st != 0 && names) snprintf(col, sizeof col, " ('%.80s')", names[k]);
            if (st < 0) {
                zen__fail(ctx, "%s: %s: line %d, column %d%s: not a number: '%.40s'", fn, path, in.f[k].line, k + 1,
                          col, in.f[k].s);
                goto done;
            }
            if (st > 0 && (k == label || !opts.missing_nan)) {
                zen__fail(ctx, "%s: %s: line %d, column %d%s: missing %s%s", fn, path, in.f[k].line, k + 1, col,
                          k == label ? "label" : "value",
                          k == label || opts.missing_nan ? "" : " (set missing_nan to read it as NaN)");
                goto done;
            }
            if (k != label) {
                row[nx++] = st > 0 ? NAN : (float)v;
            } else if (opts.label_dtype == ZEN_F32) {
                y.f = (float)v;
            } else {
                if (!(v == floor(v) && v >= INT32_MIN && v <= INT32_MAX)) {
                    zen__fail(ctx, "%s: %s: line %d, column %d: label '%.40s' is not an integer (i32 labels)", fn,
                              path, in.f[k].line, k + 1, in.f[k].s);
                    goto done;
                }
                y.i = (int32_t)v;
            }
        }
        if (vec_push(&xs, row, (size_t)nx) != 0 || vec_push(&ys, &y, 1) != 0) {
            zen__fail(ctx, "%s: %s: out of memory after %lld rows", fn, path, (long long)nrows);
            goto done;
        }
        nrows++;
    }
    if (rc < 0) goto done;
    if (nrows == 0) {
        zen__fail(ctx, "%s: %s: no data rows%s", fn, path, opts.header ? " after the header" : "");
        goto done;
    }
    zen_array *x = zen__array_alloc(ctx, fn, ZEN_F32, 2, (int64_t[]){nrows, ncols - 1});
    zen_array *ya = x ? zen__array_alloc(ctx, fn, opts.label_dtype, 1, (int64_t[]){nrows}) : NULL;
    if (x && ya) {
        memcpy(x->data, xs.p, xs.len * 4);
        memcpy(ya->data, ys.p, ys.len * 4);
    }
    d = zen_dataset_new(ctx, x, ya);
done:
    if (loc) freelocale(loc);
    free(xs.p);
    free(ys.p);
    free(row);
    free(names);
    free(in.f);
    free(buf);
    return d;
}
