/* data_util.h — helpers for the data tests: a private temporary directory, writing plain and
 * gzip files, and checking error messages. Header-only (static), included by test_data_*.c. */
#ifndef ZEN_TEST_DATA_UTIL_H
#define ZEN_TEST_DATA_UTIL_H

#define _GNU_SOURCE
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "harness.h"

static char du_dir[512];

/* A fresh directory under $TMPDIR (or /tmp), removed by du_cleanup. */
static __attribute__((unused)) void du_init(void) {
    const char *base = getenv("TMPDIR");
    snprintf(du_dir, sizeof du_dir, "%s/zen_data_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(du_dir)) {
        perror("mkdtemp");
        exit(2);
    }
}

static __attribute__((unused)) int du_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static __attribute__((unused)) void du_cleanup(void) { nftw(du_dir, du_rm, 16, FTW_DEPTH | FTW_PHYS); }

/* dir/name in one of 8 rotating buffers. */
static __attribute__((unused)) const char *du_path(const char *name) {
    static char bufs[8][600];
    static int next;
    char *b = bufs[next++ & 7];
    snprintf(b, 600, "%s/%s", du_dir, name);
    return b;
}

static __attribute__((unused)) void du_write(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

static __attribute__((unused)) void du_write_gz(const char *path, const void *data, size_t n) {
    gzFile g = gzopen(path, "wb");
    if (!g || (n && gzwrite(g, data, (unsigned)n) != (int)n)) {
        fprintf(stderr, "gzip write %s failed\n", path);
        exit(2);
    }
    gzclose(g);
}

static __attribute__((unused)) void du_write_str(const char *path, const char *s) { du_write(path, s, strlen(s)); }

/* Reads a whole file into a malloc'd buffer. */
static __attribute__((unused)) unsigned char *du_read(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)len + 1);
    *n = fread(b, 1, (size_t)len, f);
    fclose(f);
    return b;
}

/* The call returned failure (res true) and the context's error contains every one of the
 * given substrings; clears the error. */
#define CHECK_ERR(ctx, res, ...)                                                                    \
    do {                                                                                            \
        int r_ = !!(res);                                                                           \
        const char *e_ = zen_ctx_error(ctx);                                                        \
        const char *subs_[] = {__VA_ARGS__};                                                        \
        if (!r_) {                                                                                  \
            fprintf(stderr, "  %s:%d: expected failure of %s\n", __FILE__, __LINE__, #res);        \
            harness_failures++;                                                                     \
        } else if (!e_) {                                                                           \
            fprintf(stderr, "  %s:%d: no error message recorded\n", __FILE__, __LINE__);           \
            harness_failures++;                                                                     \
        } else {                                                                                    \
            for (size_t k_ = 0; k_ < sizeof subs_ / sizeof *subs_; k_++)                            \
                if (!strstr(e_, subs_[k_])) {                                                       \
                    fprintf(stderr, "  %s:%d: error \"%s\" lacks \"%s\"\n", __FILE__, __LINE__, e_, \
                            subs_[k_]);                                                             \
                    harness_failures++;                                                             \
                }                                                                                   \
        }                                                                                           \
        if (getenv("ZEN_TEST_VERBOSE") && e_) printf("    error: %s\n", e_);                        \
        zen_ctx_clear_error(ctx);                                                                   \
    } while (0)

#endif
