/* npy.c — NPY files (numpy.save): reading versions 1.0-3.0, writing version 1.0.
 *
 * Layout: "\x93NUMPY", major, minor, header length (u16 LE for 1.x, u32 LE for 2.x/3.x),
 * then the header — a Python dict literal {'descr': '<f4', 'fortran_order': False,
 * 'shape': (2, 3), } padded with spaces and a newline — then the raw values. The header is
 * parsed here by a small strict parser (no eval), so any header text is safe to read. */
#include "data.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#define NPY_MAX_HEADER 65536 /* numpy itself refuses headers over 10000 bytes by default */

typedef struct {
    zen_ctx *ctx;
    const char *fn, *path;
    const char *s; /* the header text, NUL-terminated */
    size_t len, i;
} hparser;

static int bad(hparser *h, const char *what) {
    char text[101]; /* the start of the header, printable, without trailing blanks */
    size_t n = 0;
    for (; n < 100 && n < h->len; n++) text[n] = h->s[n] >= 32 && h->s[n] < 127 ? h->s[n] : '?';
    while (n > 0 && (text[n - 1] == ' ' || text[n - 1] == '?')) n--;
    text[n] = 0;
    zen__fail(h->ctx, "%s: %s: malformed NPY header at character %zu (%s): %s", h->fn, h->path, h->i, what, text);
    return -1;
}

static void skip_ws(hparser *h) {
    while (h->i < h->len && (h->s[h->i] == ' ' || h->s[h->i] == '\t' || h->s[h->i] == '\n' || h->s[h->i] == '\r'))
        h->i++;
}

static int expect(hparser *h, char c) {
    skip_ws(h);
    if (h->i >= h->len || h->s[h->i] != c) {
        char what[32];
        snprintf(what, sizeof what, "expected '%c'", c);
        return bad(h, what);
    }
    h->i++;
    return 0;
}

/* A quoted string ('...' or "...", no escapes) into out (cap bytes, truncated to fit). */
static int parse_str(hparser *h, char *out, size_t cap) {
    skip_ws(h);
    if (h->i >= h->len || (h->s[h->i] != '\'' && h->s[h->i] != '"')) return bad(h, "expected a quoted string");
    char q = h->s[h->i++];
    size_t n = 0;
    while (h->i < h->len && h->s[h->i] != q) {
        char c = h->s[h->i];
        if (c == '\\' || c == '\n' || c == 0) return bad(h, "unexpected character in a string");
        if (n + 1 < cap) out[n++] = c;
        h->i++;
    }
    if (h->i >= h->len) return bad(h, "unterminated string");
    h->i++;
    out[n] = 0;
    return 0;
}

static bool word(hparser *h, const char *w) {
    size_t n = strlen(w);
    if (h->len - h->i >= n && memcmp(h->s + h->i, w, n) == 0) {
        h->i += n;
        return true;
    }
    return false;
}

static int parse_shape(hparser *h, int *ndim, int64_t *shape) {
    if (expect(h, '(') != 0) return -1;
    *ndim = 0;
    for (;;) {
        skip_ws(h);
        if (h->i < h->len && h->s[h->i] == ')') break;
        if (h->i >= h->len || h->s[h->i] < '0' || h->s[h->i] > '9')
            return bad(h, h->i < h->len && h->s[h->i] == '-' ? "negative dim" : "expected a dim");
        int64_t v = 0;
        while (h->i < h->len && h->s[h->i] >= '0' && h->s[h->i] <= '9') {
            if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, h->s[h->i] - '0', &v))
                return bad(h, "dim too large");
            h->i++;
        }
        if (h->i < h->len && h->s[h->i] == 'L') h->i++; /* Python 2 longs */
        if (*ndim == ZEN_MAX_DIMS) {
            zen__fail(h->ctx, "%s: %s: the array has more than %d dims", h->fn, h->path, ZEN_MAX_DIMS);
            return -1;
        }
        shape[(*ndim)++] = v;
        skip_ws(h);
        if (h->i < h->len && h->s[h->i] == ',') {
            h->i++;
            continue;
        }
        if (h->i < h->len && h->s[h->i] == ')') break;
        return bad(h, "expected ',' or ')' in the shape");
    }
    h->i++;
    return 0;
}

typedef struct {
    zen__stype type;
    int ndim;
    int64_t shape[ZEN_MAX_DIMS];
} npy_header;

static int parse_header(hparser *h, npy_header *out) {
    char descr[64] = "";
    bool fortran = false, have_descr = false, have_order = false, have_shape = false;
    if (expect(h, '{') != 0) return -1;
    for (;;) {
        skip_ws(h);
        if (h->i < h->len && h->s[h->i] == '}') break;
        char key[32];
        if (parse_str(h, key, sizeof key) != 0 || expect(h, ':') != 0) return -1;
        skip_ws(h);
        if (!strcmp(key, "descr")) {
            if (have_descr) return bad(h, "'descr' given twice");
            if (h->i < h->len && h->s[h->i] == '[') {
                zen__fail(h->ctx, "%s: %s: structured dtypes (descr is a list) are not supported", h->fn, h->path);
                return -1;
            }
            if (parse_str(h, descr, sizeof descr) != 0) return -1;
            have_descr = true;
        } else if (!strcmp(key, "fortran_order")) {
            if (have_order) return bad(h, "'fortran_order' given twice");
            if (word(h, "True")) fortran = true;
            else if (word(h, "False")) fortran = false;
            else return bad(h, "fortran_order must be True or False");
            have_order = true;
        } else if (!strcmp(key, "shape")) {
            if (have_shape) return bad(h, "'shape' given twice");
            if (parse_shape(h, &out->ndim, out->shape) != 0) return -1;
            have_shape = true;
        } else {
            return bad(h, "unknown key");
        }
        skip_ws(h);
        if (h->i < h->len && h->s[h->i] == ',') {
            h->i++;
            continue;
        }
        skip_ws(h);
        if (h->i < h->len && h->s[h->i] == '}') break;
        return bad(h, "expected ',' or '}'");
    }
    h->i++;
    skip_ws(h);
    if (h->i != h->len) return bad(h, "unexpected text after the dict");
    if (!have_descr || !have_order || !have_shape) {
        zen__fail(h->ctx, "%s: %s: the NPY header lacks '%s'", h->fn, h->path,
                  !have_descr ? "descr" : !have_order ? "fortran_order" : "shape");
        return -1;
    }
    static const struct {
        const char *descr;
        zen__stype type;
    } types[] = {{"<f4", ZEN__F32}, {"<f8", ZEN__F64}, {"<i4", ZEN__I32}, {"<i8", ZEN__I64}, {"|u1", ZEN__U8}};
    int found = -1;
    for (int k = 0; k < 5; k++)
        if (!strcmp(descr, types[k].descr)) found = k;
    if (found < 0) {
        zen__fail(h->ctx, "%s: %s: unsupported dtype '%s' (zen reads <f4 <f8 <i4 <i8 |u1)", h->fn, h->path, descr);
        return -1;
    }
    out->type = types[found].type;
    if (fortran) {
        zen__fail(h->ctx,
                  "%s: %s: fortran_order is True; only C-order arrays are supported (save "
                  "numpy.ascontiguousarray(a))",
                  h->fn, h->path);
        return -1;
    }
    return 0;
}

/* Reads a whole NPY stream from an opened reader (a file, or a memory buffer for
 * zen_parse_npy); closes nothing. */
static zen_array *read_npy(zen__reader *r, zen_dtype dt, int flags) {
    zen_ctx *ctx = r->ctx;
    const char *fn = r->fn, *path = r->path;
    zen_array *a = NULL;
    char *text = NULL;
    unsigned char pre[8];
    if (zen__reader_read(r, pre, 8, "the NPY magic string and version") != 0) goto done;
    if (memcmp(pre, "\x93NUMPY", 6) != 0) {
        zen__fail(ctx, "%s: %s: not an NPY file (it does not start with \\x93NUMPY)", fn, path);
        goto done;
    }
    int major = pre[6], minor = pre[7];
    if (major < 1 || major > 3 || minor != 0) {
        zen__fail(ctx, "%s: %s: unsupported NPY format version %d.%d (zen reads 1.0, 2.0 and 3.0)", fn, path,
                  major, minor);
        goto done;
    }
    unsigned char lenb[4] = {0, 0, 0, 0};
    if (zen__reader_read(r, lenb, major == 1 ? 2 : 4, "the header length") != 0) goto done;
    uint32_t hlen = (uint32_t)lenb[0] | (uint32_t)lenb[1] << 8 | (uint32_t)lenb[2] << 16 | (uint32_t)lenb[3] << 24;
    if (hlen > NPY_MAX_HEADER) {
        zen__fail(ctx, "%s: %s: header length %u is absurd (at most %d)", fn, path, hlen, NPY_MAX_HEADER);
        goto done;
    }
    if (zen__reader_can_hold(r, hlen, "the header") != 0) goto done;
    text = malloc((size_t)hlen + 1);
    if (!text) {
        zen__fail(ctx, "%s: out of memory", fn);
        goto done;
    }
    if (zen__reader_read(r, text, hlen, "the header") != 0) goto done;
    text[hlen] = 0;
    hparser h = {.ctx = ctx, .fn = fn, .path = path, .s = text, .len = hlen};
    if (memchr(text, 0, hlen)) {
        zen__fail(ctx, "%s: %s: the NPY header contains a NUL byte", fn, path);
        goto done;
    }
    npy_header hd;
    if (parse_header(&h, &hd) != 0) goto done;
    char sh[160];
    zen__shape_fmt(sh, sizeof sh, hd.ndim, hd.shape);
    int64_t numel = zen__shape_numel(hd.ndim, hd.shape), nbytes;
    if (numel < 0 || __builtin_mul_overflow(numel, (int64_t)zen__stype_size(hd.type), &nbytes) ||
        numel > (int64_t)(SIZE_MAX / 8)) {
        zen__fail(ctx, "%s: %s: shape %s: the product of the dims overflows", fn, path, sh);
        goto done;
    }
    if (zen__check_conversion(ctx, fn, path, hd.type, dt, flags) != 0) goto done;
    char what[224];
    snprintf(what, sizeof what, "data of shape %s (%s)", sh, zen__stype_name(hd.type));
    if (zen__reader_can_hold(r, (uint64_t)nbytes, what) != 0) goto done;
    a = zen__array_alloc(ctx, fn, dt, hd.ndim, hd.shape);
    if (!a) goto done;
    if (zen__read_values(r, hd.type, false, numel, dt, flags, a->data) != 0 ||
        zen__reader_expect_end(r, "the data") != 0) {
        zen_array_free(a);
        a = NULL;
    }
done:
    free(text);
    return a;
}

zen_array *zen_load_npy(zen_ctx *ctx, const char *path, zen_dtype dt, int flags) {
    zen__reader r;
    if (zen__reader_open(&r, ctx, "zen_load_npy", path) != 0) return NULL;
    zen_array *a = read_npy(&r, dt, flags);
    zen__reader_close(&r);
    return a;
}

/* The same checks over bytes in memory: the reader reads them through fmemopen. */
zen_array *zen_parse_npy(zen_ctx *ctx, const void *data, size_t size, const char *name, zen_dtype dt, int flags) {
    const char *fn = "zen_parse_npy";
    if (!name) name = "(memory)";
    if (!data || size < 10) {
        zen__fail(ctx, "%s: %s: truncated: %zu bytes cannot hold an NPY header", fn, name, data ? size : 0);
        return NULL;
    }
    zen__reader r = {.ctx = ctx, .fn = fn, .path = name, .file_size = size};
    r.fp = fmemopen((void *)data, size, "rb");
    if (!r.fp) {
        zen__fail(ctx, "%s: %s: cannot read the buffer: %s", fn, name, strerror(errno));
        return NULL;
    }
    zen_array *a = read_npy(&r, dt, flags);
    zen__reader_close(&r);
    return a;
}

/* ---- saving ---- */

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The header numpy 1.24's np.save writes for a C-order array: the dict, spare spaces for
 * growing axis 0 (21 digits minus those of shape[0]), padding to a multiple of 64, '\n'. */
static size_t npy_header_bytes(char *out, size_t cap, zen_dtype dt, int ndim, const int64_t *shape) {
    char dict[512];
    size_t n = (size_t)snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (",
                                dt == ZEN_F32 ? "<f4" : "<i4");
    for (int i = 0; i < ndim; i++)
        n += (size_t)snprintf(dict + n, sizeof dict - n, i ? ", %lld" : "%lld", (long long)shape[i]);
    n += (size_t)snprintf(dict + n, sizeof dict - n, "%s), }", ndim == 1 ? "," : "");
    if (ndim > 0) {
        int digits = snprintf(NULL, 0, "%lld", (long long)shape[0]);
        for (int k = digits; k < 21; k++) dict[n++] = ' ';
    }
    size_t hlen = n + 1, pad = 64 - (10 + hlen) % 64, total = 10 + hlen + pad;
    if (total > cap) return 0;
    memcpy(out, "\x93NUMPY\x01\x00", 8);
    out[8] = (char)((hlen + pad) & 0xff);
    out[9] = (char)((hlen + pad) >> 8);
    memcpy(out + 10, dict, n);
    memset(out + 10 + n, ' ', pad);
    out[total - 1] = '\n';
    return total;
}

void *zen_format_npy(zen_ctx *ctx, zen_dtype dt, int ndim, const int64_t *shape, const void *data, size_t *size) {
    const char *fn = "zen_format_npy";
    if (size) *size = 0;
    if (!size) return zen__fail(ctx, "%s: size is NULL", fn);
    if (dt != ZEN_F32 && dt != ZEN_I32) return zen__fail(ctx, "%s: can write f32 or i32, not %s", fn, zen_dtype_name(dt));
    if (ndim < 0 || ndim > ZEN_MAX_DIMS || (ndim > 0 && !shape))
        return zen__fail(ctx, "%s: bad ndim %d or NULL shape", fn, ndim);
    int64_t numel = zen__shape_numel(ndim, shape);
    if (numel < 0 || numel > (int64_t)(SIZE_MAX / 8)) return zen__fail(ctx, "%s: bad shape (negative or overflowing dims)", fn);
    if (numel > 0 && !data) return zen__fail(ctx, "%s: data is NULL", fn);
    char header[1024];
    size_t hbytes = npy_header_bytes(header, sizeof header, dt, ndim, shape);
    char *out = malloc(hbytes + (size_t)numel * 4);
    if (!out) return zen__fail(ctx, "%s: out of memory", fn);
    memcpy(out, header, hbytes);
    if (numel > 0) memcpy(out + hbytes, data, (size_t)numel * 4);
    *size = hbytes + (size_t)numel * 4;
    return out;
}

int zen_save_npy(zen_ctx *ctx, const char *path, zen_dtype dt, int ndim, const int64_t *shape, const void *data) {
    const char *fn = "zen_save_npy";
    if (!path) return zen__fail(ctx, "%s: path is NULL", fn), -1;
    if (dt != ZEN_F32 && dt != ZEN_I32)
        return zen__fail(ctx, "%s: %s: can save f32 or i32, not %s", fn, path, zen_dtype_name(dt)), -1;
    if (ndim < 0 || ndim > ZEN_MAX_DIMS || (ndim > 0 && !shape))
        return zen__fail(ctx, "%s: %s: bad ndim %d or NULL shape", fn, path, ndim), -1;
    int64_t numel = zen__shape_numel(ndim, shape);
    if (numel < 0 || numel > (int64_t)(SIZE_MAX / 8))
        return zen__fail(ctx, "%s: %s: bad shape (negative or overflowing dims)", fn, path), -1;
    if (numel > 0 && !data) return zen__fail(ctx, "%s: %s: data is NULL", fn, path), -1;

    char header[1024];
    size_t hbytes = npy_header_bytes(header, sizeof header, dt, ndim, shape);
    static int counter;
    char tmp[4096];
    int fd = -1, len = 0;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        len = snprintf(tmp, sizeof tmp, "%s.tmp%ld.%d", path, (long)getpid(),
                       __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        if (len < 0 || (size_t)len >= sizeof tmp) return zen__fail(ctx, "%s: %s: path too long", fn, path), -1;
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST) break;
    }
    if (fd < 0) return zen__fail(ctx, "%s: %s: cannot create %s: %s", fn, path, tmp, strerror(errno)), -1;
    const char *step = "write";
    if (write_all(fd, header, hbytes) != 0 || write_all(fd, data, (size_t)numel * 4) != 0 ||
        (step = "fsync", fsync(fd) != 0)) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return zen__fail(ctx, "%s: %s: %s failed: %s", fn, path, step, strerror(e)), -1;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return zen__fail(ctx, "%s: %s: cannot replace the file: %s", fn, path, strerror(e)), -1;
    }
    /* Make the rename itself durable: fsync the directory (best effort). */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = 0;
    else if (slash) *slash = 0;
    else snprintf(dir, sizeof dir, ".");
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}
