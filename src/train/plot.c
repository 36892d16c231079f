/* plot.c — training curves as an SVG a person can open: one panel for the losses, one for
 * the other metrics, each with axes, ticks, labels and a legend; train solid, validation
 * dashed. Also reads a history back from a CSVLogger file, for `zen plot`. */
#include "train.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#define W 900
#define PANEL_H 330
#define LEFT 70
#define RIGHT 190
#define TOP 40

static const char *const colors[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2"};

/* A "nice" tick step (1, 2 or 5 times a power of ten) giving about n ticks over range. */
static double nice_step(double range, int n) {
    double raw = range / n, p = pow(10, floor(log10(raw)));
    double f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
}

/* Writes text with XML's special characters escaped (names come from CSV files too). */
static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '\'': fputs("&apos;", f); break;
        case '"': fputs("&quot;", f); break;
        default:
            if ((unsigned char)*s >= 0x20) fputc(*s, f);
        }
    }
}

static bool is_val(const char *name) { return !strncmp(name, "val_", 4); }
static const char *base_name(const char *name) { return is_val(name) ? name + 4 : name; }

/* Draws the curves whose base name satisfies pick (loss or not) in a panel at y0. */
static void panel(FILE *f, const zen_history *h, int y0, bool losses, const char *title) {
    const zen_metrics *first = &h->logs[0];
    double lo = INFINITY, hi = -INFINITY;
    for (int e = 0; e < h->epochs; e++)
        for (int i = 0; i < h->logs[e].n; i++) {
            const char *b = base_name(h->logs[e].names[i]);
            if (!strcmp(b, "learning_rate") || (strstr(b, "loss") != NULL) != losses) continue;
            double v = h->logs[e].values[i];
            if (!isfinite(v)) continue;
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    int pw = W - LEFT - RIGHT, ph = PANEL_H - 80;
    fprintf(f, "<text x='%d' y='%d' font-size='15' font-weight='bold'>%s</text>\n", LEFT, y0 + 20, title);
    if (!isfinite(lo) || !isfinite(hi - lo)) {
        fprintf(f, "<text x='%d' y='%d' font-size='13' fill='#666'>(no values)</text>\n", LEFT, y0 + 60);
        return;
    }
    /* a flat curve (or one within rounding of flat) gets a range around its value */
    if (hi - lo <= 1e-9 * fmax(1, fmax(fabs(lo), fabs(hi)))) {
        double pad = fabs(lo) > 1e-6 ? fabs(lo) * 0.1 : 1;
        lo -= pad;
        hi += pad;
    }
    double step = nice_step(hi - lo, 5);
    lo = floor(lo / step) * step;
    hi = ceil(hi / step) * step;
    int nticks = (int)fmin(50, round((hi - lo) / step));
    int py = y0 + 35;
    double ex0 = h->first_epoch + 1, ex1 = h->first_epoch + h->epochs;
    if (ex1 <= ex0) ex1 = ex0 + 1;
#define X(e) (LEFT + (int)((((e) - ex0) / (ex1 - ex0)) * pw))
#define Y(v) (py + ph - (int)((((v) - lo) / (hi - lo)) * ph))
    fprintf(f, "<rect x='%d' y='%d' width='%d' height='%d' fill='none' stroke='#333'/>\n", LEFT, py, pw, ph);
    for (int k = 0; k <= nticks; k++) {
        double v = lo + k * step;
        fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#ddd'/>\n", LEFT, Y(v), LEFT + pw, Y(v));
        fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='end'>%.4g</text>\n", LEFT - 6, Y(v) + 4, v);
    }
    double estep = fmax(1, nice_step(ex1 - ex0, 8));
    for (double e = ceil(ex0 / estep) * estep; e <= ex1 + 1e-9; e += estep) {
        fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='#333'/>\n", X(e), py + ph, X(e), py + ph + 5);
        fprintf(f, "<text x='%d' y='%d' font-size='11' text-anchor='middle'>%.0f</text>\n", X(e), py + ph + 18, e);
    }
    fprintf(f, "<text x='%d' y='%d' font-size='12' text-anchor='middle'>epoch</text>\n", LEFT + pw / 2, py + ph + 34);
    fprintf(f, "<text x='%d' y='%d' font-size='12' text-anchor='middle' transform='rotate(-90 %d %d)'>%s</text>\n",
            18, py + ph / 2, 18, py + ph / 2, losses ? "loss" : "value");
    int series = 0;
    for (int i = 0; i < first->n; i++) {
        const char *name = first->names[i], *b = base_name(name);
        if (!strcmp(b, "learning_rate") || (strstr(b, "loss") != NULL) != losses) continue;
        /* train and val_ of one quantity share a colour */
        int colour = 0, k = 0;
        for (int j = 0; j < first->n; j++) {
            const char *bj = base_name(first->names[j]);
            if (!strcmp(bj, "learning_rate") || (strstr(bj, "loss") != NULL) != losses || is_val(first->names[j])) continue;
            if (!strcmp(bj, b)) colour = k;
            k++;
        }
        const char *col = colors[colour % 7];
        fprintf(f, "<polyline fill='none' stroke='%s' stroke-width='2'%s points='", col,
                is_val(name) ? " stroke-dasharray='6 4'" : "");
        for (int e = 0; e < h->epochs; e++) {
            double v = zen_metrics_get(&h->logs[e], name);
            if (isfinite(v)) fprintf(f, "%d,%d ", X(ex0 + e), Y(v));
        }
        fprintf(f, "'/>\n");
        for (int e = 0; e < h->epochs; e++) {
            double v = zen_metrics_get(&h->logs[e], name);
            if (isfinite(v)) fprintf(f, "<circle cx='%d' cy='%d' r='3' fill='%s'/>\n", X(ex0 + e), Y(v), col);
        }
        int ly = py + 10 + 20 * series++;
        fprintf(f, "<line x1='%d' y1='%d' x2='%d' y2='%d' stroke='%s' stroke-width='2'%s/>\n", LEFT + pw + 15, ly,
                LEFT + pw + 45, ly, col, is_val(name) ? " stroke-dasharray='6 4'" : "");
        fprintf(f, "<text x='%d' y='%d' font-size='12'>", LEFT + pw + 52, ly + 4);
        xml_text(f, name);
        fprintf(f, "</text>\n");
    }
#undef X
#undef Y
}

int zen_history_plot_svg(zen_ctx *ctx, const zen_history *h, const char *path) {
    if (!h || !path) return zen__fail(ctx, "zen_history_plot_svg: %s is NULL", h ? "path" : "the history"), -1;
    if (h->epochs < 1) return zen__fail(ctx, "zen_history_plot_svg: the history has no epochs"), -1;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) return zen__fail(ctx, "zen_history_plot_svg: cannot write %s: %s", path, strerror(errno)), -1;
    fprintf(f, "<svg xmlns='http://www.w3.org/2000/svg' width='%d' height='%d' font-family='sans-serif'>\n", W,
            2 * PANEL_H + TOP);
    fprintf(f, "<rect width='100%%' height='100%%' fill='white'/>\n");
    fprintf(f, "<text x='%d' y='24' font-size='17'>Training history (%d epochs; solid: training, dashed: "
               "validation)</text>\n", LEFT, h->epochs);
    panel(f, h, TOP, true, "Loss");
    panel(f, h, TOP + PANEL_H, false, "Metrics");
    fprintf(f, "</svg>\n");
    bool ok = !ferror(f);
    ok &= fclose(f) == 0;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return zen__fail(ctx, "zen_history_plot_svg: writing %s failed", path), -1;
    }
    return 0;
}

/* ---- reading a CSVLogger file ---- */

zen_history *zen_history_load_csv(zen_ctx *ctx, const char *path) {
    if (!path) return zen__fail(ctx, "zen_history_load_csv: path is NULL");
    FILE *f = fopen(path, "r");
    if (!f) return zen__fail(ctx, "zen_history_load_csv: cannot open %s: %s", path, strerror(errno));
    char line[8192];
    zen_metrics head = {0};
    if (!fgets(line, sizeof line, f) || strncmp(line, "epoch", 5)) {
        fclose(f);
        return zen__fail(ctx, "zen_history_load_csv: %s: the first line must be a header starting with 'epoch'", path);
    }
    if (!strchr(line, '\n') && !feof(f)) {
        fclose(f);
        return zen__fail(ctx, "zen_history_load_csv: %s: the header line is longer than %zu bytes", path, sizeof line - 2);
    }
    line[strcspn(line, "\r\n")] = 0;
    /* the header: epoch,name,name,... (names non-empty, at most ZEN_MAX_METRICS of them) */
    for (char *p = line + 5; *p;) {
        if (*p != ',' || !p[1] || p[1] == ',') {
            fclose(f);
            return zen__fail(ctx, "zen_history_load_csv: %s: the header must be 'epoch,<name>,<name>,...' with "
                                  "non-empty names", path);
        }
        size_t len = strcspn(p + 1, ",");
        if (head.n == ZEN_MAX_METRICS || len >= sizeof head.names[0]) {
            fclose(f);
            return zen__fail(ctx, "zen_history_load_csv: %s: %s", path,
                             head.n == ZEN_MAX_METRICS ? "more than 24 columns after epoch" : "a column name is too long");
        }
        memcpy(head.names[head.n], p + 1, len);
        head.names[head.n++][len] = 0;
        p += 1 + len;
    }
    if (head.n == 0) {
        fclose(f);
        return zen__fail(ctx, "zen_history_load_csv: %s: the header has no columns after epoch", path);
    }
    zen_history *h = calloc(1, sizeof *h);
    int cap = 16;
    if (h) h->logs = calloc((size_t)cap, sizeof *h->logs);
    if (!h || !h->logs) {
        fclose(f);
        zen_history_free(h);
        return zen__fail(ctx, "zen_history_load_csv: out of memory");
    }
    int lineno = 1;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            fclose(f);
            zen_history_free(h);
            return zen__fail(ctx, "zen_history_load_csv: %s:%d: the line is longer than %zu bytes", path, lineno,
                             sizeof line - 2);
        }
        if (line[0] == '\n' || line[0] == '\r') continue;
        if (h->epochs == cap) {
            zen_metrics *grown = realloc(h->logs, (size_t)(cap *= 2) * sizeof *grown);
            if (!grown) {
                fclose(f);
                zen_history_free(h);
                return zen__fail(ctx, "zen_history_load_csv: out of memory");
            }
            h->logs = grown;
        }
        zen_metrics *row = &h->logs[h->epochs];
        *row = head;
        char *end;
        long epoch = strtol(line, &end, 10);
        if (end == line || *end != ',') {
            fclose(f);
            zen_history_free(h);
            return zen__fail(ctx, "zen_history_load_csv: %s:%d: expected an epoch number", path, lineno);
        }
        if (h->epochs == 0) h->first_epoch = (int)epoch;
        for (int i = 0; i < head.n; i++) {
            char *p = end + 1;
            row->values[i] = strtod(p, &end);
            if (end == p || (*end != ',' && *end != '\n' && *end != '\r' && *end)) {
                fclose(f);
                zen_history_free(h);
                return zen__fail(ctx, "zen_history_load_csv: %s:%d: column %d (%s) is %s", path, lineno, i + 2,
                                 head.names[i], *p == '\n' || *p == '\r' || !*p ? "missing" : "not a number");
            }
            if (i + 1 < head.n && *end != ',') {
                fclose(f);
                zen_history_free(h);
                return zen__fail(ctx, "zen_history_load_csv: %s:%d: %d columns expected, the row has %d", path,
                                 lineno, head.n + 1, i + 2);
            }
        }
        if (*end == ',') {
            fclose(f);
            zen_history_free(h);
            return zen__fail(ctx, "zen_history_load_csv: %s:%d: more than the header's %d columns", path, lineno,
                             head.n + 1);
        }
        h->epochs++;
    }
    fclose(f);
    if (h->epochs == 0) {
        zen_history_free(h);
        return zen__fail(ctx, "zen_history_load_csv: %s has no rows", path);
    }
    return h;
}
