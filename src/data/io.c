/* io.c — reading plain or gzip files with bounds checks, and converting stored values
 * (IDX and NPY types, either byte order) to f32 or i32. */
#include "data.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* deflate never compresses better than 1032:1; a gzip file of S bytes holds at most about
 * 1032 * S content bytes (the margin covers headers and multiple members). */
#define GZIP_MAX_RATIO 1040u
#define GZIP_CHUNK (1u << 30)

int zen__reader_open(zen__reader *r, zen_ctx *ctx, const char *fn, const char *path) {
    memset(r, 0, sizeof *r);
    r->ctx = ctx;
    r->fn = fn;
    r->path = path ? path : "(null)";
    if (!path) {
        zen__fail(ctx, "%s: path is NULL", fn);
        return -1;
    }
    r->fp = fopen(path, "rb");
    if (!r->fp) {
        zen__fail(ctx, "%s: %s: cannot open: %s", fn, path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fileno(r->fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        zen__fail(ctx, "%s: %s: not a regular file", fn, path);
        zen__reader_close(r);
        return -1;
    }
    r->file_size = (uint64_t)st.st_size;
    unsigned char magic[2] = {0, 0};
    size_t got = fread(magic, 1, 2, r->fp);
    rewind(r->fp);
    if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
        int fd = dup(fileno(r->fp));
        fclose(r->fp);
        r->fp = NULL;
        r->gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
        if (!r->gz) {
            if (fd >= 0) close(fd);
            zen__fail(ctx, "%s: %s: cannot open as gzip", fn, path);
            return -1;
        }
        gzbuffer(r->gz, 1u << 17);
        r->gzip = true;
    }
    return 0;
}

void zen__reader_close(zen__reader *r) {
    if (r->fp) fclose(r->fp);
    if (r->gz) gzclose(r->gz);
    r->fp = NULL;
    r->gz = NULL;
}

int64_t zen__reader_read_some(zen__reader *r, void *buf, size_t n) {
    size_t done = 0;
    if (!r->gzip) {
        done = fread(buf, 1, n, r->fp);
        if (done < n && ferror(r->fp)) {
            zen__fail(r->ctx, "%s: %s: read error: %s", r->fn, r->path, strerror(errno));
            return -1;
        }
    } else {
        while (done < n) {
            size_t want = n - done < GZIP_CHUNK ? n - done : GZIP_CHUNK;
            int got = gzread(r->gz, (char *)buf + done, (unsigned)want);
            if (got < 0) {
                int errnum = 0;
                const char *msg = gzerror(r->gz, &errnum);
                if (!strncmp(msg, "<fd:", 4) && strstr(msg, ": ")) msg = strstr(msg, ": ") + 2; /* gzdopen's name */
                zen__fail(r->ctx, "%s: %s: corrupt gzip data (zlib: %s)", r->fn, r->path,
                          errnum == Z_ERRNO ? strerror(errno) : msg);
                return -1;
            }
            if (got == 0) break;
            done += (size_t)got;
        }
    }
    r->pos += done;
    return (int64_t)done;
}

/* After a short gzip read: was it the end of a complete stream, or a cut-off one? */
static bool gzip_cut_off(zen__reader *r) {
    int errnum = 0;
    gzerror(r->gz, &errnum);
    return errnum == Z_BUF_ERROR;
}

int zen__reader_read(zen__reader *r, void *buf, size_t n, const char *what) {
    uint64_t before = r->pos;
    int64_t got = zen__reader_read_some(r, buf, n);
    if (got < 0) return -1;
    if ((size_t)got < n) {
        zen__fail(r->ctx, "%s: %s: truncated: %s: %zu bytes needed at offset %llu, only %lld there%s", r->fn,
                  r->path, what, n, (unsigned long long)before, (long long)got,
                  r->gzip && gzip_cut_off(r) ? " (the gzip stream is cut off)" : "");
        return -1;
    }
    return 0;
}

int zen__reader_can_hold(zen__reader *r, uint64_t need, const char *what) {
    if (!r->gzip) {
        uint64_t left = r->file_size > r->pos ? r->file_size - r->pos : 0;
        if (need > left) {
            zen__fail(r->ctx, "%s: %s: truncated: %s needs %llu bytes, only %llu remain in the file", r->fn,
                      r->path, what, (unsigned long long)need, (unsigned long long)left);
            return -1;
        }
    } else {
        uint64_t cap = r->file_size > UINT64_MAX / GZIP_MAX_RATIO ? UINT64_MAX : r->file_size * GZIP_MAX_RATIO;
        if (need > cap) {
            zen__fail(r->ctx, "%s: %s: %s needs %llu bytes, more than a gzip file of %llu bytes can hold", r->fn,
                      r->path, what, (unsigned long long)need, (unsigned long long)r->file_size);
            return -1;
        }
    }
    return 0;
}

int zen__reader_expect_end(zen__reader *r, const char *what) {
    if (!r->gzip) {
        if (r->pos < r->file_size) {
            zen__fail(r->ctx, "%s: %s: %llu unexpected bytes after %s", r->fn, r->path,
                      (unsigned long long)(r->file_size - r->pos), what);
            return -1;
        }
        return 0;
    }
    unsigned char extra;
    int64_t got = zen__reader_read_some(r, &extra, 1); /* also makes zlib check the CRC */
    if (got < 0) return -1;
    if (got > 0) {
        zen__fail(r->ctx, "%s: %s: unexpected bytes after %s", r->fn, r->path, what);
        return -1;
    }
    if (gzip_cut_off(r)) {
        zen__fail(r->ctx, "%s: %s: truncated: the gzip stream is cut off after %s", r->fn, r->path, what);
        return -1;
    }
    return 0;
}

char *zen__reader_slurp(zen__reader *r, size_t *size) {
    size_t cap = r->gzip ? 1u << 16 : (size_t)(r->file_size - r->pos), len = 0;
    char *buf = malloc(cap + 1);
    if (!buf) {
        zen__fail(r->ctx, "%s: %s: out of memory (%zu bytes)", r->fn, r->path, cap + 1);
        return NULL;
    }
    for (;;) {
        if (len == cap) {
            if (!r->gzip) break;
            size_t ncap = cap * 2;
            char *nb = ncap > cap ? realloc(buf, ncap + 1) : NULL;
            if (!nb) {
                free(buf);
                zen__fail(r->ctx, "%s: %s: out of memory (%zu bytes)", r->fn, r->path, ncap + 1);
                return NULL;
            }
            buf = nb;
            cap = ncap;
        }
        int64_t got = zen__reader_read_some(r, buf + len, cap - len);
        if (got < 0) {
            free(buf);
            return NULL;
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    if (r->gzip && gzip_cut_off(r)) {
        free(buf);
        zen__fail(r->ctx, "%s: %s: truncated: the gzip stream is cut off after %zu bytes", r->fn, r->path, len);
        return NULL;
    }
    buf[len] = 0;
    *size = len;
    return buf;
}

/* ---- stored types and conversion ---- */

size_t zen__stype_size(zen__stype t) {
    static const size_t sizes[] = {1, 1, 2, 4, 8, 4, 8};
    return sizes[t];
}

const char *zen__stype_name(zen__stype t) {
    static const char *names[] = {"u8", "i8", "i16", "i32", "i64", "f32", "f64"};
    return names[t];
}

int zen__check_conversion(zen_ctx *ctx, const char *fn, const char *path, zen__stype t, zen_dtype dt,
                          int flags) {
    if (dt != ZEN_F32 && dt != ZEN_I32) {
        zen__fail(ctx, "%s: %s: can load as f32 or i32, not %s", fn, path, zen_dtype_name(dt));
        return -1;
    }
    if (dt == ZEN_I32 && (t == ZEN__F32 || t == ZEN__F64)) {
        zen__fail(ctx, "%s: %s: the file holds %s values, which cannot be loaded as i32", fn, path,
                  zen__stype_name(t));
        return -1;
    }
    if (flags & ZEN_DATA_SCALE) {
        if (t != ZEN__U8 || dt != ZEN_F32) {
            zen__fail(ctx, "%s: %s: ZEN_DATA_SCALE needs u8 data loaded as f32; the file holds %s, loaded as %s",
                      fn, path, zen__stype_name(t), zen_dtype_name(dt));
            return -1;
        }
    }
    if (flags & ~ZEN_DATA_SCALE) {
        zen__fail(ctx, "%s: %s: unknown flags 0x%x", fn, path, (unsigned)(flags & ~ZEN_DATA_SCALE));
        return -1;
    }
    return 0;
}

static uint16_t ld16(const unsigned char *p, bool be) {
    uint16_t v;
    memcpy(&v, p, 2);
    return be ? __builtin_bswap16(v) : v;
}
static uint32_t ld32(const unsigned char *p, bool be) {
    uint32_t v;
    memcpy(&v, p, 4);
    return be ? __builtin_bswap32(v) : v;
}
static uint64_t ld64(const unsigned char *p, bool be) {
    uint64_t v;
    memcpy(&v, p, 8);
    return be ? __builtin_bswap64(v) : v;
}

/* Converts n values at src into dst (f32 or i32) starting at element `first` (for messages).
 * Returns 0, or -1 when an i64 value does not fit in i32. */
static int convert(zen__reader *r, zen__stype t, bool be, const unsigned char *src, int64_t n, zen_dtype dt,
                   int flags, void *dst, int64_t first) {
    float *f = dst;
    int32_t *d = dst;
    bool to_f = dt == ZEN_F32;
    switch (t) {
    case ZEN__U8:
        if (to_f && (flags & ZEN_DATA_SCALE))
            for (int64_t i = 0; i < n; i++) f[i] = (float)src[i] / 255.0f;
        else if (to_f)
            for (int64_t i = 0; i < n; i++) f[i] = (float)src[i];
        else
            for (int64_t i = 0; i < n; i++) d[i] = src[i];
        break;
    case ZEN__I8:
        for (int64_t i = 0; i < n; i++) {
            int8_t v = (int8_t)src[i];
            if (to_f) f[i] = (float)v;
            else d[i] = v;
        }
        break;
    case ZEN__I16:
        for (int64_t i = 0; i < n; i++) {
            int16_t v = (int16_t)ld16(src + 2 * i, be);
            if (to_f) f[i] = (float)v;
            else d[i] = v;
        }
        break;
    case ZEN__I32:
        for (int64_t i = 0; i < n; i++) {
            int32_t v = (int32_t)ld32(src + 4 * i, be);
            if (to_f) f[i] = (float)v;
            else d[i] = v;
        }
        break;
    case ZEN__I64:
        for (int64_t i = 0; i < n; i++) {
            int64_t v = (int64_t)ld64(src + 8 * i, be);
            if (to_f) {
                f[i] = (float)v;
            } else {
                if (v < INT32_MIN || v > INT32_MAX) {
                    zen__fail(r->ctx, "%s: %s: value %lld at element %lld does not fit in i32", r->fn, r->path,
                              (long long)v, (long long)(first + i));
                    return -1;
                }
                d[i] = (int32_t)v;
            }
        }
        break;
    case ZEN__F32:
        for (int64_t i = 0; i < n; i++) {
            uint32_t bits = ld32(src + 4 * i, be);
            memcpy(&f[i], &bits, 4);
        }
        break;
    case ZEN__F64:
        for (int64_t i = 0; i < n; i++) {
            uint64_t bits = ld64(src + 8 * i, be);
            double v;
            memcpy(&v, &bits, 8);
            f[i] = (float)v;
        }
        break;
    }
    return 0;
}

int zen__read_values(zen__reader *r, zen__stype t, bool big_endian, int64_t count, zen_dtype dt, int flags,
                     void *dst) {
    enum { CHUNK = 1 << 15 };
    unsigned char chunk[CHUNK] __attribute__((aligned(64))); /* 32 KiB on the stack */
    size_t es = zen__stype_size(t);
    int64_t per = CHUNK / (int64_t)es;
    /* The common case of same-layout data (f32/i32 little-endian into f32/i32): read straight in. */
    if (!big_endian && ((t == ZEN__F32 && dt == ZEN_F32) || (t == ZEN__I32 && dt == ZEN_I32)))
        return zen__reader_read(r, dst, (size_t)count * 4, "the data");
    for (int64_t done = 0; done < count;) {
        int64_t n = count - done < per ? count - done : per;
        if (zen__reader_read(r, chunk, (size_t)n * es, "the data") != 0) return -1;
        if (convert(r, t, big_endian, chunk, n, dt, flags, (char *)dst + done * 4, done) != 0) return -1;
        done += n;
    }
    return 0;
}

/* ---- arrays ---- */

int64_t zen__shape_numel(int ndim, const int64_t *shape) {
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0 || __builtin_mul_overflow(n, shape[i], &n)) return -1;
    }
    return n;
}

int64_t zen__row_numel(const zen_array *a) {
    int64_t n = 1;
    for (int i = 1; i < a->ndim; i++) n *= a->shape[i];
    return n;
}

zen_array *zen__array_alloc(zen_ctx *ctx, const char *fn, zen_dtype dt, int ndim, const int64_t *shape) {
    if (dt != ZEN_F32 && dt != ZEN_I32)
        return zen__fail(ctx, "%s: arrays are f32 or i32, not %s", fn, zen_dtype_name(dt));
    if (ndim < 0 || ndim > ZEN_MAX_DIMS)
        return zen__fail(ctx, "%s: %d dims (at most %d)", fn, ndim, ZEN_MAX_DIMS);
    if (ndim > 0 && !shape) return zen__fail(ctx, "%s: shape is NULL", fn);
    int64_t n = zen__shape_numel(ndim, shape);
    if (n < 0 || n > (int64_t)(SIZE_MAX / 8))
        return zen__fail(ctx, "%s: bad shape (negative or overflowing dims)", fn);
    zen_array *a = calloc(1, sizeof *a);
    void *data = zen__aligned_alloc((size_t)n * 4);
    if (!a || !data) {
        free(a);
        zen__aligned_free(data);
        return zen__fail(ctx, "%s: out of memory (array of %lld bytes)", fn, (long long)n * 4);
    }
    a->dtype = dt;
    a->ndim = ndim;
    for (int i = 0; i < ndim; i++) a->shape[i] = shape[i];
    a->data = data;
    return a;
}

char *zen__shape_fmt(char *buf, size_t size, int ndim, const int64_t *shape) {
    size_t len = 0;
    len += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, i ? ", %lld" : "%lld", (long long)shape[i]);
    if (len < size) snprintf(buf + len, size - len, "]");
    return buf;
}
