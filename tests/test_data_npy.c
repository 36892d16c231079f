/* NPY loader and saver: files written by numpy (tests/fixtures/data, made by make_npy.py),
 * byte-identical output to np.save, atomic replacement, gzip, damaged headers and data. */
#include "data_util.h"

#include <dirent.h>

static const char *fx(const char *name) {
    static char buf[4][600];
    static int next;
    char *b = buf[next++ & 3];
    snprintf(b, 600, "%s/data/%s", ZEN_FIXTURE_DIR, name);
    return b;
}

static bool shape_is(const zen_array *a, int ndim, const int64_t *shape) {
    if (!a || a->ndim != ndim) return false;
    for (int i = 0; i < ndim; i++)
        if (a->shape[i] != shape[i]) return false;
    return true;
}

TEST(test_npy_numpy_files) {
    zen_ctx *ctx = zen_ctx_new();
    /* <f4, and the same array written as format 2.0 and 3.0 */
    const char *f4s[] = {"f4_2x3.npy", "f4_v2.npy", "f4_v3.npy"};
    for (int k = 0; k < 3; k++) {
        zen_array *a = zen_load_npy(ctx, fx(f4s[k]), ZEN_F32, 0);
        CHECK_OK(ctx, a);
        CHECK(shape_is(a, 2, (int64_t[]){2, 3}) && ((uintptr_t)a->data % ZEN_ALIGN) == 0);
        for (int i = 0; a && i < 6; i++) CHECK(((float *)a->data)[i] == (float)i * 0.5f - 1);
        zen_array_free(a);
    }
    zen_array *a = zen_load_npy(ctx, fx("f8_2x2x2.npy"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    CHECK(shape_is(a, 3, (int64_t[]){2, 2, 2}));
    for (int i = 0; a && i < 8; i++) CHECK(((float *)a->data)[i] == (float)(i / 3.0));
    zen_array_free(a);

    const int32_t i4[5] = {-2, -1, 0, 7, INT32_MAX};
    a = zen_load_npy(ctx, fx("i4_5.npy"), ZEN_I32, 0);
    CHECK_OK(ctx, a);
    CHECK(shape_is(a, 1, (int64_t[]){5}) && a->dtype == ZEN_I32);
    for (int i = 0; a && i < 5; i++) CHECK(((int32_t *)a->data)[i] == i4[i]);
    zen_array_free(a);
    a = zen_load_npy(ctx, fx("i4_5.npy"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    for (int i = 0; a && i < 5; i++) CHECK(((float *)a->data)[i] == (float)i4[i]);
    zen_array_free(a);

    const int32_t i8[6] = {0, 1, -5, INT32_MAX, INT32_MIN, 42};
    a = zen_load_npy(ctx, fx("i8_2x3.npy"), ZEN_I32, 0);
    CHECK_OK(ctx, a);
    CHECK(shape_is(a, 2, (int64_t[]){2, 3}));
    for (int i = 0; a && i < 6; i++) CHECK(((int32_t *)a->data)[i] == i8[i]);
    zen_array_free(a);

    a = zen_load_npy(ctx, fx("u1_3x4.npy"), ZEN_F32, ZEN_DATA_SCALE);
    CHECK_OK(ctx, a);
    CHECK(shape_is(a, 2, (int64_t[]){3, 4}));
    for (int i = 0; a && i < 12; i++) CHECK(((float *)a->data)[i] == (float)(i * 20 + 15) / 255.0f);
    zen_array_free(a);
    a = zen_load_npy(ctx, fx("u1_3x4.npy"), ZEN_I32, 0);
    CHECK_OK(ctx, a);
    for (int i = 0; a && i < 12; i++) CHECK(((int32_t *)a->data)[i] == i * 20 + 15);
    zen_array_free(a);

    a = zen_load_npy(ctx, fx("f4_scalar.npy"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    CHECK(a && a->ndim == 0 && zen_array_numel(a) == 1 && ((float *)a->data)[0] == 3.25f);
    zen_array_free(a);

    a = zen_load_npy(ctx, fx("f4_empty_0x3.npy"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    CHECK(shape_is(a, 2, (int64_t[]){0, 3}) && zen_array_numel(a) == 0);
    zen_array_free(a);

    a = zen_load_npy(ctx, fx("f4_8d.npy"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    CHECK(shape_is(a, 8, (int64_t[]){2, 1, 2, 1, 1, 2, 1, 3}));
    for (int i = 0; a && i < 24; i++) CHECK(((float *)a->data)[i] == (float)i);
    zen_array_free(a);

    /* i8 values beyond i32 load as f32 but not as i32 */
    a = zen_load_npy(ctx, fx("i8_big.npy"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    CHECK(a && ((float *)a->data)[1] == 1099511627776.0f);
    zen_array_free(a);
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, fx("i8_big.npy"), ZEN_I32, 0)) == NULL, "i8_big.npy",
              "1099511627776 at element 1 does not fit in i32");
    zen_ctx_free(ctx);
}

TEST(test_npy_unsupported_numpy_files) {
    zen_ctx *ctx = zen_ctx_new();
    zen_array *a;
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, fx("f4_fortran.npy"), ZEN_F32, 0)) == NULL, "f4_fortran.npy",
              "fortran_order is True");
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, fx("f4_bigendian.npy"), ZEN_F32, 0)) == NULL, "unsupported dtype '>f4'");
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, fx("bool.npy"), ZEN_F32, 0)) == NULL, "unsupported dtype '|b1'");
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, fx("structured.npy"), ZEN_F32, 0)) == NULL, "structured dtypes");
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, fx("f4_2x3.npy"), ZEN_I32, 0)) == NULL, "cannot be loaded as i32");
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, fx("f4_2x3.npy"), ZEN_F32, ZEN_DATA_SCALE)) == NULL, "ZEN_DATA_SCALE");
    zen_ctx_free(ctx);
}

/* zen_save_npy writes exactly the bytes np.save wrote for the same arrays. */
TEST(test_npy_save_matches_numpy) {
    zen_ctx *ctx = zen_ctx_new();
    const char *names[] = {"f4_2x3.npy", "i4_5.npy", "f4_scalar.npy", "f4_empty_0x3.npy", "f4_8d.npy"};
    for (int k = 0; k < 5; k++) {
        zen_dtype dt = k == 1 ? ZEN_I32 : ZEN_F32;
        zen_array *a = zen_load_npy(ctx, fx(names[k]), dt, 0);
        CHECK_OK(ctx, a);
        if (!a) continue;
        const char *out = du_path(names[k]);
        CHECK(zen_save_npy_array(ctx, out, a) == 0);
        size_t n1 = 0, n2 = 0;
        unsigned char *mine = du_read(out, &n1), *theirs = du_read(fx(names[k]), &n2);
        CHECK(mine && theirs && n1 == n2 && memcmp(mine, theirs, n1) == 0);
        if (!(n1 == n2 && mine && theirs && memcmp(mine, theirs, n1) == 0))
            fprintf(stderr, "  %s: %zu bytes written, numpy wrote %zu\n", names[k], n1, n2);
        free(mine);
        free(theirs);
        zen_array_free(a);
    }
    zen_ctx_free(ctx);
}

static int count_tmp_files(void) {
    DIR *d = opendir(du_dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp") != NULL;
    if (d) closedir(d);
    return n;
}

TEST(test_npy_roundtrip_and_atomic) {
    zen_ctx *ctx = zen_ctx_new();
    /* A larger array through save/load, plain and gzip-compressed. */
    int64_t shape[3] = {37, 11, 5};
    zen_array *a = zen_array_new(ctx, ZEN_F32, 3, shape);
    CHECK_OK(ctx, a);
    zen_rng r;
    zen_rng_seed(&r, 5);
    for (int64_t i = 0; i < zen_array_numel(a); i++) ((float *)a->data)[i] = zen_rng_normal(&r);
    const char *p = du_path("round.npy");
    CHECK(zen_save_npy_array(ctx, p, a) == 0);
    zen_array *b = zen_load_npy(ctx, p, ZEN_F32, 0);
    CHECK_OK(ctx, b);
    CHECK(b && shape_is(b, 3, shape) && memcmp(a->data, b->data, (size_t)zen_array_numel(a) * 4) == 0);
    zen_array_free(b);
    size_t n = 0;
    unsigned char *bytes = du_read(p, &n);
    du_write_gz(du_path("round.npy.gz"), bytes, n);
    b = zen_load_npy(ctx, du_path("round.npy.gz"), ZEN_F32, 0);
    CHECK_OK(ctx, b);
    CHECK(b && memcmp(a->data, b->data, (size_t)zen_array_numel(a) * 4) == 0);
    zen_array_free(b);
    free(bytes);

    /* Overwriting replaces the file; no temporary is left behind. */
    zen_array *c = zen_array_new(ctx, ZEN_I32, 1, (int64_t[]){3});
    ((int32_t *)c->data)[2] = -9;
    CHECK(zen_save_npy_array(ctx, p, c) == 0);
    b = zen_load_npy(ctx, p, ZEN_I32, 0);
    CHECK(b && shape_is(b, 1, (int64_t[]){3}) && ((int32_t *)b->data)[2] == -9);
    zen_array_free(b);
    CHECK(count_tmp_files() == 0);

    /* Failures leave the destination untouched and no temporary file. */
    CHECK_ERR(ctx, zen_save_npy(ctx, du_path("no_dir/x.npy"), ZEN_F32, 1, (int64_t[]){3}, c->data) != 0,
              "zen_save_npy", "no_dir/x.npy", "cannot create");
    CHECK_ERR(ctx, zen_save_npy(ctx, p, ZEN_F16, 1, (int64_t[]){3}, c->data) != 0, "f32 or i32");
    CHECK_ERR(ctx, zen_save_npy(ctx, p, ZEN_F32, 1, (int64_t[]){-1}, c->data) != 0, "bad shape");
    CHECK_ERR(ctx, zen_save_npy(ctx, p, ZEN_F32, 9, shape, c->data) != 0, "ndim 9");
    CHECK_ERR(ctx, zen_save_npy(ctx, p, ZEN_F32, 1, (int64_t[]){3}, NULL) != 0, "data is NULL");
    CHECK_ERR(ctx, zen_save_npy(ctx, du_dir, ZEN_F32, 1, (int64_t[]){3}, c->data) != 0, "cannot replace");
    b = zen_load_npy(ctx, p, ZEN_I32, 0);
    CHECK(b && ((int32_t *)b->data)[2] == -9);
    zen_array_free(b);
    CHECK(count_tmp_files() == 0);
    zen_array_free(a);
    zen_array_free(c);
    zen_ctx_free(ctx);
}

/* An NPY file: version, header text (padded as numpy pads, unless raw), then data bytes. */
static size_t npy_make(unsigned char *out, int major, const char *header, const void *data, size_t nbytes) {
    size_t hl = strlen(header), pre = major == 1 ? 10 : 12;
    memcpy(out, "\x93NUMPY", 6);
    out[6] = (unsigned char)major;
    out[7] = 0;
    if (major == 1) {
        out[8] = (unsigned char)hl;
        out[9] = (unsigned char)(hl >> 8);
    } else {
        for (int i = 0; i < 4; i++) out[8 + i] = (unsigned char)(hl >> (8 * i));
    }
    memcpy(out + pre, header, hl);
    memcpy(out + pre + hl, data, nbytes);
    return pre + hl + nbytes;
}

TEST(test_npy_damaged) {
    zen_ctx *ctx = zen_ctx_new();
    unsigned char file[1024], data[64] = {0};
    zen_array *a;
#define BAD_NPY(name, header, nbytes, ...)                                                                        \
    do {                                                                                                          \
        size_t n_ = npy_make(file, 1, header, data, nbytes);                                                      \
        du_write(du_path(name), file, n_);                                                                        \
        CHECK_ERR(ctx, (a = zen_load_npy(ctx, du_path(name), ZEN_F32, 0)) == NULL, name, __VA_ARGS__);            \
        zen_array_free(a);                                                                                        \
    } while (0)

    /* A well-formed hand-made header loads (so the failures below are about what they change). */
    size_t n = npy_make(file, 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n", data, 8);
    du_write(du_path("ok.npy"), file, n);
    a = zen_load_npy(ctx, du_path("ok.npy"), ZEN_F32, 0);
    CHECK_OK(ctx, a);
    zen_array_free(a);
    n = npy_make(file, 1, "{\"shape\":(2L,1),\"descr\":\"<i4\",\"fortran_order\":False}", data, 8);
    du_write(du_path("ok2.npy"), file, n);
    a = zen_load_npy(ctx, du_path("ok2.npy"), ZEN_I32, 0);
    CHECK_OK(ctx, a);
    CHECK(shape_is(a, 2, (int64_t[]){2, 1}));
    zen_array_free(a);

    du_write(du_path("empty.npy"), file, 0);
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, du_path("empty.npy"), ZEN_F32, 0)) == NULL, "empty.npy", "truncated");
    du_write(du_path("magic.npy"), "\x93NUMPZ\x01\x00\x10\x00{}", 12);
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, du_path("magic.npy"), ZEN_F32, 0)) == NULL, "not an NPY file");
    du_write(du_path("v4.npy"), "\x93NUMPY\x04\x00\x10\x00{}", 12);
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, du_path("v4.npy"), ZEN_F32, 0)) == NULL, "version 4.0");
    du_write(du_path("v11.npy"), "\x93NUMPY\x01\x01\x10\x00{}", 12);
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, du_path("v11.npy"), ZEN_F32, 0)) == NULL, "version 1.1");
    du_write(du_path("hlen_cut.npy"), "\x93NUMPY\x02\x00\x10\x00", 10);
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, du_path("hlen_cut.npy"), ZEN_F32, 0)) == NULL, "truncated",
              "header length");
    du_write(du_path("absurd.npy"), "\x93NUMPY\x02\x00\xff\xff\xff\x7f{}", 14);
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, du_path("absurd.npy"), ZEN_F32, 0)) == NULL, "header length 2147483647",
              "absurd");
    du_write(du_path("hcut.npy"), "\x93NUMPY\x01\x00\x00\x01{'descr'", 18);
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, du_path("hcut.npy"), ZEN_F32, 0)) == NULL, "truncated", "the header",
              "256 bytes");
    du_write(du_path("nul.npy"), "\x93NUMPY\x01\x00\x04\x00{\0}\n", 14);
    CHECK_ERR(ctx, (a = zen_load_npy(ctx, du_path("nul.npy"), ZEN_F32, 0)) == NULL, "NUL byte");

    BAD_NPY("nodict.npy", "['descr', '<f4']\n", 0, "malformed NPY header", "expected '{'");
    BAD_NPY("nodescr.npy", "{'fortran_order': False, 'shape': (2,), }\n", 8, "lacks 'descr'");
    BAD_NPY("noshape.npy", "{'descr': '<f4', 'fortran_order': False}\n", 8, "lacks 'shape'");
    BAD_NPY("noorder.npy", "{'descr': '<f4', 'shape': (2,)}\n", 8, "lacks 'fortran_order'");
    BAD_NPY("dup.npy", "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8, "twice");
    BAD_NPY("unknown_key.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", 8, "unknown key");
    BAD_NPY("dtype.npy", "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }", 8, "unsupported dtype '<f2'",
            "<f4 <f8 <i4 <i8 |u1");
    BAD_NPY("dtype_obj.npy", "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }", 8, "unsupported dtype '|O'");
    BAD_NPY("dtype_long.npy",
            "{'descr': '<f4xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"
            ", 'fortran_order': False, 'shape': (2,), }",
            8, "unsupported dtype");
    BAD_NPY("dtype_unq.npy", "{'descr': <f4, 'fortran_order': False, 'shape': (2,), }", 8, "quoted string");
    BAD_NPY("unterminated.npy", "{'descr': '<f4", 8, "unterminated string");
    BAD_NPY("order.npy", "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", 8, "True or False");
    BAD_NPY("negdim.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", 8, "negative dim");
    BAD_NPY("bigdim.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", 8,
            "dim too large");
    BAD_NPY("ndim9.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }", 8,
            "more than 8 dims");
    BAD_NPY("shape_list.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", 8, "expected '('");
    BAD_NPY("shape_junk.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2 3), }", 8, "',' or ')'");
    BAD_NPY("trailing.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), } x", 8, "after the dict");
    BAD_NPY("overflow.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 8,
            "overflows");
    BAD_NPY("toolarge.npy", "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }", 8,
            "truncated", "needs 80000000000 bytes", "only 8 remain");
    BAD_NPY("short.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", 8, "truncated",
            "needs 12 bytes");
    BAD_NPY("extra.npy", "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", 8,
            "4 unexpected bytes after the data");
#undef BAD_NPY
    zen_ctx_free(ctx);
}

/* Prefixes and random corruptions of a numpy-written file: an array or a message naming
 * the file, never a crash. */
TEST(test_npy_fuzz) {
    zen_ctx *ctx = zen_ctx_new();
    size_t n = 0;
    unsigned char *orig = du_read(fx("f4_2x3.npy"), &n), mut[256];
    CHECK(orig && n < sizeof mut);
    if (!orig) return;
    for (size_t len = 0; len < n; len++) {
        du_write(du_path("prefix.npy"), orig, len);
        zen_array *a = zen_load_npy(ctx, du_path("prefix.npy"), ZEN_F32, 0);
        CHECK(a == NULL && zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), "prefix.npy"));
        zen_ctx_clear_error(ctx);
    }
    zen_rng r;
    zen_rng_seed(&r, 7);
    int ok = 0, failed = 0;
    for (int t = 0; t < 1500; t++) {
        memcpy(mut, orig, n);
        int flips = 1 + (int)(zen_rng_next(&r) % 3);
        for (int k = 0; k < flips; k++) {
            size_t pos = (size_t)(zen_rng_next(&r) % (t % 4 ? 80 : n)); /* mostly the header */
            static const char alphabet[] = "{}()[],:' \"0123456789-LTrueFalse<>|fiu\n\x00\xff";
            mut[pos] = t % 2 ? (unsigned char)zen_rng_next(&r)
                             : (unsigned char)alphabet[zen_rng_next(&r) % (sizeof alphabet - 1)];
        }
        const char *p = du_path(t % 5 == 0 ? "mut.npy.gz" : "mut.npy");
        if (t % 5 == 0) du_write_gz(p, mut, n);
        else du_write(p, mut, n);
        zen_array *a = zen_load_npy(ctx, p, t % 3 ? ZEN_F32 : ZEN_I32, 0);
        if (a) {
            ok++;
            CHECK(!zen_ctx_error(ctx) && zen_array_numel(a) * 4 <= (int64_t)n);
        } else {
            failed++;
            CHECK(zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), p));
        }
        zen_array_free(a);
        zen_ctx_clear_error(ctx);
    }
    printf("    mutations: %d loaded, %d rejected\n", ok, failed);
    CHECK(ok > 0 && failed > 0);
    free(orig);
    zen_ctx_free(ctx);
}

int main(void) {
    du_init();
    int rc = RUN_TESTS(test_npy_numpy_files, test_npy_unsupported_numpy_files, test_npy_save_matches_numpy,
                       test_npy_roundtrip_and_atomic, test_npy_damaged, test_npy_fuzz);
    du_cleanup();
    return rc;
}
