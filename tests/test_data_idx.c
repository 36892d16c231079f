/* IDX loader and MNIST-style directories: every stored type, plain and gzip (recognised by
 * magic, not name), the [N, H, W, 1] layout, and damaged files of every kind. */
#include "data_util.h"

#include <sys/stat.h>

/* An IDX file in memory: header for type/dims, then `payload` bytes. */
static size_t idx_make(unsigned char *out, unsigned char type, int nd, const uint32_t *dims, const void *payload,
                       size_t nbytes) {
    out[0] = out[1] = 0;
    out[2] = type;
    out[3] = (unsigned char)nd;
    size_t n = 4;
    for (int i = 0; i < nd; i++) {
        out[n++] = (unsigned char)(dims[i] >> 24);
        out[n++] = (unsigned char)(dims[i] >> 16);
        out[n++] = (unsigned char)(dims[i] >> 8);
        out[n++] = (unsigned char)dims[i];
    }
    memcpy(out + n, payload, nbytes);
    return n + nbytes;
}

static void put_be(unsigned char *p, uint64_t v, int bytes) {
    for (int i = 0; i < bytes; i++) p[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
}

TEST(test_idx_u8) {
    zen_ctx *ctx = zen_ctx_new();
    unsigned char pix[24], file[128];
    for (int i = 0; i < 24; i++) pix[i] = (unsigned char)(i * 11 % 256);
    size_t n = idx_make(file, 0x08, 3, (uint32_t[]){2, 3, 4}, pix, 24);
    du_write(du_path("u8.idx"), file, n);

    zen_array *a = zen_load_idx(ctx, du_path("u8.idx"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    CHECK(a && a->dtype == ZEN_F32 && a->ndim == 3 && a->shape[0] == 2 && a->shape[1] == 3 && a->shape[2] == 4);
    CHECK(a && ((uintptr_t)a->data % ZEN_ALIGN) == 0);
    for (int i = 0; a && i < 24; i++) CHECK(((float *)a->data)[i] == (float)pix[i]);
    zen_array_free(a);

    a = zen_load_idx(ctx, du_path("u8.idx"), ZEN_F32, ZEN_DATA_SCALE);
    CHECK_OK(ctx, a);
    for (int i = 0; a && i < 24; i++) CHECK(((float *)a->data)[i] == (float)pix[i] / 255.0f);
    CHECK(a && ((float *)a->data)[0] == 0.0f);
    zen_array_free(a);

    a = zen_load_idx(ctx, du_path("u8.idx"), ZEN_I32, 0);
    CHECK_OK(ctx, a);
    for (int i = 0; a && i < 24; i++) CHECK(((int32_t *)a->data)[i] == pix[i]);
    zen_array_free(a);
    zen_ctx_free(ctx);
}

/* i8, i16, i32, f32, f64: big-endian, converted. */
TEST(test_idx_types) {
    zen_ctx *ctx = zen_ctx_new();
    unsigned char pay[64], file[128];
    const double vals[4] = {-3, 0, 1000, -32768};

    int8_t i8v[4] = {-128, -1, 0, 127};
    size_t n = idx_make(file, 0x09, 1, (uint32_t[]){4}, i8v, 4);
    du_write(du_path("i8.idx"), file, n);
    zen_array *a = zen_load_idx(ctx, du_path("i8.idx"), ZEN_I32, 0);
    CHECK_OK(ctx, a);
    for (int i = 0; a && i < 4; i++) CHECK(((int32_t *)a->data)[i] == i8v[i]);
    zen_array_free(a);

    for (int i = 0; i < 4; i++) put_be(pay + 2 * i, (uint16_t)(int16_t)vals[i], 2);
    n = idx_make(file, 0x0B, 2, (uint32_t[]){2, 2}, pay, 8);
    du_write(du_path("i16.idx"), file, n);
    a = zen_load_idx(ctx, du_path("i16.idx"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    for (int i = 0; a && i < 4; i++) CHECK(((float *)a->data)[i] == (float)vals[i]);
    zen_array_free(a);

    int32_t i32v[4] = {INT32_MIN, -7, 65536 + 3, INT32_MAX};
    for (int i = 0; i < 4; i++) put_be(pay + 4 * i, (uint32_t)i32v[i], 4);
    n = idx_make(file, 0x0C, 1, (uint32_t[]){4}, pay, 16);
    du_write(du_path("i32.idx"), file, n);
    a = zen_load_idx(ctx, du_path("i32.idx"), ZEN_I32, 0);
    CHECK_OK(ctx, a);
    for (int i = 0; a && i < 4; i++) CHECK(((int32_t *)a->data)[i] == i32v[i]);
    zen_array_free(a);

    float f32v[4] = {-1.5f, 0.1f, 3e38f, -0.0f};
    for (int i = 0; i < 4; i++) {
        uint32_t bits;
        memcpy(&bits, &f32v[i], 4);
        put_be(pay + 4 * i, bits, 4);
    }
    n = idx_make(file, 0x0D, 1, (uint32_t[]){4}, pay, 16);
    du_write(du_path("f32.idx"), file, n);
    a = zen_load_idx(ctx, du_path("f32.idx"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    for (int i = 0; a && i < 4; i++) CHECK(memcmp(&((float *)a->data)[i], &f32v[i], 4) == 0);
    zen_array_free(a);

    double f64v[4] = {1.0 / 3, -2.5, 1e10, 0.1};
    for (int i = 0; i < 4; i++) {
        uint64_t bits;
        memcpy(&bits, &f64v[i], 8);
        put_be(pay + 8 * i, bits, 8);
    }
    n = idx_make(file, 0x0E, 1, (uint32_t[]){4}, pay, 32);
    du_write(du_path("f64.idx"), file, n);
    a = zen_load_idx(ctx, du_path("f64.idx"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    for (int i = 0; a && i < 4; i++) CHECK(((float *)a->data)[i] == (float)f64v[i]);
    zen_array_free(a);

    /* A larger u8 file crosses the loader's 32 KiB conversion chunks. */
    enum { BIG = 100000 };
    unsigned char *big = malloc(BIG + 16);
    for (int i = 0; i < BIG; i++) big[i] = (unsigned char)(i * 31 + i / 7);
    n = idx_make(big, 0x08, 2, (uint32_t[]){1000, 100}, big + 16, 0);
    for (int i = 0; i < BIG; i++) big[n + i] = (unsigned char)(i * 31 + i / 7);
    du_write_gz(du_path("big.idx.gz"), big, n + BIG);
    a = zen_load_idx(ctx, du_path("big.idx.gz"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    int bad = 0;
    for (int i = 0; a && i < BIG; i++) bad += ((float *)a->data)[i] != (float)(unsigned char)(i * 31 + i / 7);
    CHECK(a && bad == 0);
    zen_array_free(a);
    free(big);
    zen_ctx_free(ctx);
}

/* gzip is recognised by its magic: a gzip file without .gz and a plain file named .gz. */
TEST(test_idx_gzip_by_magic) {
    zen_ctx *ctx = zen_ctx_new();
    unsigned char lab[5] = {3, 1, 4, 1, 5}, file[64];
    size_t n = idx_make(file, 0x08, 1, (uint32_t[]){5}, lab, 5);
    du_write_gz(du_path("labels_gz_noext"), file, n);
    du_write(du_path("labels_plain.gz"), file, n);
    const char *names[] = {"labels_gz_noext", "labels_plain.gz"};
    for (int k = 0; k < 2; k++) {
        zen_array *a = zen_load_idx(ctx, du_path(names[k]), ZEN_I32, 0);
        CHECK_OK(ctx, a);
        CHECK(a && a->ndim == 1 && a->shape[0] == 5);
        for (int i = 0; a && i < 5; i++) CHECK(((int32_t *)a->data)[i] == lab[i]);
        zen_array_free(a);
    }
    zen_ctx_free(ctx);
}

/* Writes a small MNIST-style directory: n_train/n_test images of h x w; pixel p of image i
 * is (i * 13 + p) % 256, label of image i is i % 10. gz_mask picks which files are gzip. */
static void write_mnist_dir(const char *dir, int n_train, int n_test, int h, int w, int gz_mask) {
    mkdir(dir, 0755);
    const char *names[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                            "t10k-labels-idx1-ubyte"};
    for (int f = 0; f < 4; f++) {
        int n = f < 2 ? n_train : n_test;
        bool images = f % 2 == 0;
        size_t pay = images ? (size_t)n * h * w : (size_t)n;
        unsigned char *data = malloc(pay), *file = malloc(pay + 32);
        for (size_t j = 0; j < pay; j++)
            data[j] = images ? (unsigned char)((j / (h * w) * 13 + j % (h * w)) % 256) : (unsigned char)(j % 10);
        size_t len = images ? idx_make(file, 0x08, 3, (uint32_t[]){n, h, w}, data, pay)
                            : idx_make(file, 0x08, 1, (uint32_t[]){n}, data, pay);
        char path[700];
        bool gz = gz_mask >> f & 1;
        snprintf(path, sizeof path, "%s/%s%s", dir, names[f], gz ? ".gz" : "");
        if (gz) du_write_gz(path, file, len);
        else du_write(path, file, len);
        free(data);
        free(file);
    }
}

TEST(test_mnist_dir) {
    zen_ctx *ctx = zen_ctx_new();
    char dir[600];
    snprintf(dir, sizeof dir, "%s", du_path("mnist_mixed"));
    write_mnist_dir(dir, 12, 7, 5, 4, 0x5); /* both image files gzip, labels plain */
    zen_dataset *tr = NULL, *te = NULL;
    CHECK(zen_load_mnist(ctx, dir, ZEN_DATA_SCALE, &tr, &te) == 0);
    CHECK_OK(ctx, tr);
    CHECK(tr && tr->n == 12 && tr->x->ndim == 4 && tr->x->shape[0] == 12 && tr->x->shape[1] == 5 &&
          tr->x->shape[2] == 4 && tr->x->shape[3] == 1);
    CHECK(te && te->n == 7 && te->y->ndim == 1 && te->y->dtype == ZEN_I32 && te->x->dtype == ZEN_F32);
    for (int i = 0; te && i < 7; i++) {
        CHECK(((int32_t *)te->y->data)[i] == i % 10);
        for (int p = 0; p < 20; p++)
            CHECK(((float *)te->x->data)[i * 20 + p] == (float)((i * 13 + p) % 256) / 255.0f);
    }
    zen_dataset_free(tr);
    zen_dataset_free(te);

    /* A plain name wins over .gz when both exist; unscaled pixels stay 0..255. */
    write_mnist_dir(dir, 12, 7, 5, 4, 0x0);
    CHECK(zen_load_mnist(ctx, dir, 0, &tr, &te) == 0 && tr && te);
    CHECK(tr && ((float *)tr->x->data)[20 * 11 + 19] == (float)((11 * 13 + 19) % 256));
    zen_dataset_free(tr);
    zen_dataset_free(te);

    /* A missing file, mismatched counts, images of the wrong rank. */
    char missing[600];
    snprintf(missing, sizeof missing, "%s", du_path("mnist_missing"));
    write_mnist_dir(missing, 4, 3, 2, 2, 0);
    char p[700];
    snprintf(p, sizeof p, "%s/t10k-labels-idx1-ubyte", missing);
    remove(p);
    CHECK_ERR(ctx, zen_load_mnist(ctx, missing, 0, &tr, &te) != 0, "zen_load_mnist", "mnist_missing",
              "t10k-labels-idx1-ubyte.gz");
    CHECK(tr == NULL && te == NULL);

    snprintf(p, sizeof p, "%s/train-labels-idx1-ubyte", missing);
    unsigned char lab[3] = {1, 2, 3}, file[64];
    du_write(p, file, idx_make(file, 0x08, 1, (uint32_t[]){3}, lab, 3));
    CHECK_ERR(ctx, zen_load_mnist(ctx, missing, 0, &tr, &te) != 0, "has 4 images", "has 3 labels");

    snprintf(p, sizeof p, "%s/train-images-idx3-ubyte", missing);
    unsigned char pix[8] = {0};
    du_write(p, file, idx_make(file, 0x08, 2, (uint32_t[]){4, 2}, pix, 8));
    CHECK_ERR(ctx, zen_load_mnist(ctx, missing, 0, &tr, &te) != 0, "train-images-idx3-ubyte", "3 dims");
    CHECK_ERR(ctx, zen_load_mnist(ctx, du_path("no_such_dir"), 0, &tr, &te) != 0, "no_such_dir");
    zen_ctx_free(ctx);
}

TEST(test_idx_damaged) {
    zen_ctx *ctx = zen_ctx_new();
    unsigned char file[256], pay[64] = {0};
    zen_array *a;
#define BAD(name, bytes, len, ...)                                                                                  \
    do {                                                                                                            \
        du_write(du_path(name), bytes, len);                                                                        \
        CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_path(name), ZEN_F32, 0)) == NULL, name, __VA_ARGS__);             \
        zen_array_free(a);                                                                                          \
    } while (0)

    CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_path("nonexistent"), ZEN_F32, 0)) == NULL, "nonexistent",
              "cannot open");
    CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_dir, ZEN_F32, 0)) == NULL, "not a regular file");
    CHECK_ERR(ctx, (a = zen_load_idx(ctx, NULL, ZEN_F32, 0)) == NULL, "zen_load_idx", "NULL");
    BAD("empty.idx", file, 0, "truncated", "magic");
    BAD("magic.idx", "\x01\x00\x08\x01\x00\x00\x00\x01\x05", 9, "not an IDX file", "01 00 08 01");
    BAD("type.idx", "\x00\x00\x07\x01\x00\x00\x00\x01\x05", 9, "unknown IDX value type 0x07");
    BAD("nd0.idx", "\x00\x00\x08\x00\x05", 5, "0 dims");
    BAD("nd9.idx", "\x00\x00\x08\x09\x00\x00\x00\x01", 8, "9 dims");
    BAD("dims_cut.idx", "\x00\x00\x08\x03\x00\x00\x00\x01\x00\x00", 10, "truncated", "the dims");
    size_t n = idx_make(file, 0x0C, 3, (uint32_t[]){0xFFFFFFFFu, 0xFFFFFFFFu, 0xFFFFFFFFu}, pay, 8);
    BAD("overflow.idx", file, n, "overflows", "[4294967295, 4294967295, 4294967295]");
    n = idx_make(file, 0x0E, 2, (uint32_t[]){0x80000000u, 0x80000000u}, pay, 8);
    BAD("overflow_bytes.idx", file, n, "overflows");
    n = idx_make(file, 0x08, 2, (uint32_t[]){1000, 1000}, pay, 10);
    BAD("huge_dims.idx", file, n, "truncated", "needs 1000000 bytes", "only 10 remain");
    n = idx_make(file, 0x08, 1, (uint32_t[]){5}, pay, 4);
    BAD("short.idx", file, n, "truncated", "needs 5 bytes");
    n = idx_make(file, 0x08, 1, (uint32_t[]){5}, pay, 7);
    BAD("extra.idx", file, n, "2 unexpected bytes after the data");

    /* Conversions that cannot be done. */
    n = idx_make(file, 0x0D, 1, (uint32_t[]){2}, pay, 8);
    du_write(du_path("floats.idx"), file, n);
    CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_path("floats.idx"), ZEN_I32, 0)) == NULL, "f32 values",
              "cannot be loaded as i32");
    CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_path("floats.idx"), ZEN_F32, ZEN_DATA_SCALE)) == NULL,
              "ZEN_DATA_SCALE needs u8");
    CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_path("floats.idx"), ZEN_F16, 0)) == NULL, "f32 or i32");
    CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_path("floats.idx"), ZEN_F32, 0x40)) == NULL, "unknown flags");

    /* gzip: dims more than the compressed file can hold, a cut-off stream, a bad CRC. */
    n = idx_make(file, 0x08, 3, (uint32_t[]){60000, 28, 28}, pay, 10);
    du_write_gz(du_path("huge.gz"), file, n);
    CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_path("huge.gz"), ZEN_F32, 0)) == NULL, "huge.gz",
              "more than a gzip file");
    unsigned char data[4096], big[4096 + 16];
    for (int i = 0; i < 4096; i++) data[i] = (unsigned char)(i * 7 % 251);
    n = idx_make(big, 0x08, 2, (uint32_t[]){64, 64}, data, 4096);
    du_write_gz(du_path("good.gz"), big, n);
    size_t glen = 0;
    unsigned char *gz = du_read(du_path("good.gz"), &glen);
    a = zen_load_idx(ctx, du_path("good.gz"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    zen_array_free(a);
    du_write(du_path("cut.gz"), gz, glen / 2);
    CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_path("cut.gz"), ZEN_F32, 0)) == NULL, "cut.gz", "truncated");
    du_write(du_path("notrailer.gz"), gz, glen - 8);
    CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_path("notrailer.gz"), ZEN_F32, 0)) == NULL, "notrailer.gz",
              "truncated", "cut off");
    gz[glen - 6] ^= 0x55; /* the CRC32 */
    du_write(du_path("crc.gz"), gz, glen);
    CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_path("crc.gz"), ZEN_F32, 0)) == NULL, "crc.gz", "corrupt gzip data");
    gz[glen - 6] ^= 0x55;
    gz[glen / 2] ^= 0xff; /* somewhere in the deflate stream */
    du_write(du_path("flip.gz"), gz, glen);
    CHECK_ERR(ctx, (a = zen_load_idx(ctx, du_path("flip.gz"), ZEN_F32, 0)) == NULL, "flip.gz");
    free(gz);
#undef BAD
    zen_ctx_free(ctx);
}

/* Every prefix and many random corruptions of valid files (plain and gzip) load or fail
 * with a message naming the file; none may crash (this test matters most under ASan). */
TEST(test_idx_fuzz) {
    zen_ctx *ctx = zen_ctx_new();
    unsigned char pix[60], file[128], mut[128];
    for (int i = 0; i < 60; i++) pix[i] = (unsigned char)(i * 3);
    size_t n = idx_make(file, 0x08, 3, (uint32_t[]){3, 4, 5}, pix, 60);
    int ok = 0, failed = 0;
    for (size_t len = 0; len < n; len++) {
        du_write(du_path("prefix.idx"), file, len);
        zen_array *a = zen_load_idx(ctx, du_path("prefix.idx"), ZEN_F32, 0);
        CHECK(a == NULL && zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "prefix.idx"));
        zen_ctx_clear_error(ctx);
    }
    zen_rng r;
    zen_rng_seed(&r, 42);
    for (int t = 0; t < 600; t++) {
        memcpy(mut, file, n);
        int flips = 1 + (int)(zen_rng_next(&r) % 3);
        for (int k = 0; k < flips; k++) {
            size_t pos = (size_t)(zen_rng_next(&r) % (t % 2 ? 24 : n)); /* odd t: in the header */
            mut[pos] = (unsigned char)zen_rng_next(&r);
        }
        bool gz = t % 3 == 0;
        const char *p = du_path(gz ? "mut.gz" : "mut.idx");
        if (gz) du_write_gz(p, mut, n);
        else du_write(p, mut, n);
        zen_array *a = zen_load_idx(ctx, p, ZEN_F32, 0);
        if (a) {
            ok++;
            CHECK(!zen_ctx_error(ctx));
        } else {
            failed++;
            CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), p));
        }
        zen_array_free(a);
        zen_ctx_clear_error(ctx);
    }
    printf("    mutations: %d loaded, %d rejected\n", ok, failed);
    CHECK(ok > 0 && failed > 0);
    zen_ctx_free(ctx);
}

int main(void) {
    du_init();
    int rc = RUN_TESTS(test_idx_u8, test_idx_types, test_idx_gzip_by_magic, test_mnist_dir, test_idx_damaged,
                       test_idx_fuzz);
    du_cleanup();
    return rc;
}
