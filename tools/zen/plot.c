/* zen plot — training curves from a CSVLogger file as an SVG:
 *
 *   zen plot history.csv [-o curves.svg]
 *
 * Without -o the SVG goes next to the CSV, with .svg for its extension. Exit status 0 on
 * success, 1 when the CSV cannot be read or the SVG written, 2 for bad arguments. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zen.h"

static void plot_usage(FILE *f) {
    fprintf(f,
            "usage: zen plot HISTORY.csv [-o OUT.svg]\n"
            "\n"
            "Draws the loss and metric curves of a training history (a CSV written by\n"
            "zen_csv_logger: 'epoch' then one column per log) as an SVG: training solid,\n"
            "validation (val_*) dashed. Without -o, the SVG is written next to the CSV.\n");
}

int zen_cmd_plot(int argc, char **argv) {
    const char *in = NULL, *out = NULL;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            plot_usage(stdout);
            return 0;
        }
        if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (i + 1 >= argc || !argv[i + 1][0]) {
                fprintf(stderr, "zen plot: %s needs a file name\n", a);
                return 2;
            }
            if (out) {
                fprintf(stderr, "zen plot: -o given twice\n");
                return 2;
            }
            out = argv[++i];
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "zen plot: unknown option '%s'\n", a);
            plot_usage(stderr);
            return 2;
        } else if (in) {
            fprintf(stderr, "zen plot: one history file at a time ('%s' and '%s')\n", in, a);
            return 2;
        } else {
            in = a;
        }
    }
    if (!in) {
        fprintf(stderr, "zen plot: no history file given\n");
        plot_usage(stderr);
        return 2;
    }
    char *own = NULL;
    if (!out) {
        /* history.csv -> history.svg (the extension of the file name, not of a directory) */
        size_t n = strlen(in);
        own = malloc(n + 5);
        if (!own) return 1;
        memcpy(own, in, n + 1);
        char *slash = strrchr(own, '/'), *dot = strrchr(own, '.');
        if (dot && (!slash || dot > slash + 1)) *dot = 0;
        strcat(own, ".svg");
        out = own;
    }
    if (!strcmp(in, out)) {
        fprintf(stderr, "zen plot: the output would overwrite the history file '%s'\n", in);
        free(own);
        return 2;
    }
    zen_ctx *ctx = zen_ctx_new();
    int rc = 1;
    zen_history *h = ctx ? zen_history_load_csv(ctx, in) : NULL;
    if (h && zen_history_plot_svg(ctx, h, out) == 0) {
        printf("wrote %s (%d epochs)\n", out, h->epochs);
        rc = 0;
    } else {
        fprintf(stderr, "zen plot: %s\n", ctx && zen_ctx_error(ctx) ? zen_ctx_error(ctx) : "failed");
    }
    zen_history_free(h);
    zen_ctx_free(ctx);
    free(own);
    return rc;
}
