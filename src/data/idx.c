/* idx.c — IDX files (MNIST's format) and MNIST-style directories.
 *
 * Layout: bytes 0-1 zero, byte 2 the value type, byte 3 the number of dims; then one
 * big-endian u32 per dim; then the values, big-endian, row-major, filling the file. */
#include "data.h"

#include <stdlib.h>
#include <sys/stat.h>

static int idx_type(unsigned char code, zen__stype *t) {
    switch (code) {
    case 0x08: *t = ZEN__U8; return 0;
    case 0x09: *t = ZEN__I8; return 0;
    case 0x0B: *t = ZEN__I16; return 0;
    case 0x0C: *t = ZEN__I32; return 0;
    case 0x0D: *t = ZEN__F32; return 0;
    case 0x0E: *t = ZEN__F64; return 0;
    default: return -1;
    }
}

static zen_array *load_idx(zen_ctx *ctx, const char *fn, const char *path, zen_dtype dt, int flags) {
    zen__reader r;
    if (zen__reader_open(&r, ctx, fn, path) != 0) return NULL;
    zen_array *a = NULL;
    unsigned char magic[4];
    if (zen__reader_read(&r, magic, 4, "the IDX magic number") != 0) goto done;
    if (magic[0] != 0 || magic[1] != 0) {
        zen__fail(ctx, "%s: %s: not an IDX file (magic bytes %02x %02x %02x %02x; expected 00 00 <type> <dims>)",
                  fn, path, magic[0], magic[1], magic[2], magic[3]);
        goto done;
    }
    zen__stype t;
    if (idx_type(magic[2], &t) != 0) {
        zen__fail(ctx,
                  "%s: %s: unknown IDX value type 0x%02x (expected 08 u8, 09 i8, 0B i16, 0C i32, 0D f32 or "
                  "0E f64)",
                  fn, path, magic[2]);
        goto done;
    }
    int nd = magic[3];
    if (nd < 1 || nd > ZEN_MAX_DIMS) {
        zen__fail(ctx, "%s: %s: the header gives %d dims; zen reads 1 to %d", fn, path, nd, ZEN_MAX_DIMS);
        goto done;
    }
    unsigned char dims[4 * ZEN_MAX_DIMS];
    if (zen__reader_read(&r, dims, (size_t)nd * 4, "the dims") != 0) goto done;
    int64_t shape[ZEN_MAX_DIMS];
    for (int i = 0; i < nd; i++)
        shape[i] = (int64_t)dims[4 * i] << 24 | (int64_t)dims[4 * i + 1] << 16 | (int64_t)dims[4 * i + 2] << 8 |
                   dims[4 * i + 3];
    char sh[160];
    zen__shape_fmt(sh, sizeof sh, nd, shape);
    int64_t numel = zen__shape_numel(nd, shape), nbytes;
    if (numel < 0 || __builtin_mul_overflow(numel, (int64_t)zen__stype_size(t), &nbytes) ||
        numel > (int64_t)(SIZE_MAX / 8)) {
        zen__fail(ctx, "%s: %s: dims %s: their product overflows", fn, path, sh);
        goto done;
    }
    if (zen__check_conversion(ctx, fn, path, t, dt, flags) != 0) goto done;
    char what[224];
    snprintf(what, sizeof what, "data of dims %s (%s)", sh, zen__stype_name(t));
    if (zen__reader_can_hold(&r, (uint64_t)nbytes, what) != 0) goto done;
    a = zen__array_alloc(ctx, fn, dt, nd, shape);
    if (!a) goto done;
    if (zen__read_values(&r, t, true, numel, dt, flags, a->data) != 0 ||
        zen__reader_expect_end(&r, "the data") != 0) {
        zen_array_free(a);
        a = NULL;
    }
done:
    zen__reader_close(&r);
    return a;
}

zen_array *zen_load_idx(zen_ctx *ctx, const char *path, zen_dtype dt, int flags) {
    return load_idx(ctx, "zen_load_idx", path, dt, flags);
}

/* dir/name, or dir/name.gz when only that exists; -1 (and an error) when neither does. */
static int find_file(zen_ctx *ctx, const char *fn, const char *dir, const char *name, char *out, size_t size) {
    struct stat st;
    for (int gz = 0; gz < 2; gz++) {
        int len = snprintf(out, size, "%s/%s%s", dir, name, gz ? ".gz" : "");
        if (len < 0 || (size_t)len >= size) {
            zen__fail(ctx, "%s: %s: path too long", fn, dir);
            return -1;
        }
        if (stat(out, &st) == 0) return 0;
    }
    zen__fail(ctx, "%s: %s: has neither %s nor %s.gz", fn, dir, name, name);
    return -1;
}

static zen_dataset *load_pair(zen_ctx *ctx, const char *fn, const char *dir, const char *images,
                              const char *labels, int flags) {
    char ipath[4096], lpath[4096];
    if (find_file(ctx, fn, dir, images, ipath, sizeof ipath) != 0 ||
        find_file(ctx, fn, dir, labels, lpath, sizeof lpath) != 0)
        return NULL;
    zen_array *x = load_idx(ctx, fn, ipath, ZEN_F32, flags);
    if (!x) return NULL;
    char sh[160];
    if (x->ndim != 3) {
        zen__fail(ctx, "%s: %s: images must have 3 dims [N, rows, cols], got %s", fn, ipath,
                  zen__shape_fmt(sh, sizeof sh, x->ndim, x->shape));
        zen_array_free(x);
        return NULL;
    }
    x->ndim = 4; /* [N, H, W] -> [N, H, W, 1]: the same bytes */
    x->shape[3] = 1;
    zen_array *y = load_idx(ctx, fn, lpath, ZEN_I32, 0);
    if (y && y->ndim != 1) {
        zen__fail(ctx, "%s: %s: labels must have 1 dim [N], got %s", fn, lpath,
                  zen__shape_fmt(sh, sizeof sh, y->ndim, y->shape));
        zen_array_free(y);
        y = NULL;
    }
    if (y && y->shape[0] != x->shape[0]) {
        zen__fail(ctx, "%s: %s has %lld images but %s has %lld labels", fn, ipath, (long long)x->shape[0], lpath,
                  (long long)y->shape[0]);
        zen_array_free(y);
        y = NULL;
    }
    return zen_dataset_new(ctx, x, y);
}

int zen_load_mnist(zen_ctx *ctx, const char *dir, int flags, zen_dataset **train, zen_dataset **test) {
    const char *fn = "zen_load_mnist";
    if (train) *train = NULL;
    if (test) *test = NULL;
    if (!dir || !train || !test) {
        zen__fail(ctx, "%s: dir, train and test must not be NULL", fn);
        return -1;
    }
    zen_dataset *tr = load_pair(ctx, fn, dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte", flags);
    zen_dataset *te = tr ? load_pair(ctx, fn, dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", flags) : NULL;
    if (!tr || !te) {
        zen_dataset_free(tr);
        return -1;
    }
    *train = tr;
    *test = te;
    return 0;
}
