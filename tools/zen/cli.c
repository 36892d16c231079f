/* cli.c — argument helpers shared by the subcommands. */
#include "cli.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool cli_int(const char *cmd, const char *flag, const char *value, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || !*value || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "zen %s: %s needs an integer from %ld to %ld, got '%s'\n", cmd, flag, lo, hi,
                value ? value : "(nothing)");
        return false;
    }
    *out = v;
    return true;
}

bool cli_float(const char *cmd, const char *flag, const char *value, double lo, double hi, double *out) {
    char *end;
    double v = value ? strtod(value, &end) : 0;
    if (!value || !*value || *end || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "zen %s: %s needs a number from %g to %g, got '%s'\n", cmd, flag, lo, hi,
                value ? value : "(nothing)");
        return false;
    }
    *out = v;
    return true;
}

char *cli_read_file(const char *cmd, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "zen %s: cannot open %s: %s\n", cmd, path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + n, 1, cap - n - 1, f)) > 0;) {
        n += r;
        if (n + 1 == cap) {
            if (cap > (64u << 20)) {
                fprintf(stderr, "zen %s: %s is larger than 64 MiB\n", cmd, path);
                free(buf);
                fclose(f);
                return NULL;
            }
            char *grown = realloc(buf, cap *= 2);
            if (!grown) free(buf);
            buf = grown;
        }
    }
    fclose(f);
    if (buf) buf[n] = 0;
    return buf;
}
