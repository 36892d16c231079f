/* test_data_image.c — PNG/JPEG decoding (every PNG pixel layout against the values the
 * fixture script stored, JPEGs against PIL's decode), channel conversion, inversion and
 * scaling, resizing against torch (bilinear) and an exact area reference, images fitted to
 * model input shapes, and damaged files (cut, corrupted, not images) giving errors that
 * name the file. Fixtures: tests/fixtures/images/make_images.py. */
#include "data_util.h"

#include <png.h>

#define IMG_DIR ZEN_FIXTURE_DIR "/images/"

static zen_array *ref(zen_ctx *ctx, const char *name) {
    char path[512];
    snprintf(path, sizeof path, IMG_DIR "%s", name);
    zen_array *a = zen_load_npy(ctx, path, ZEN_F32, 0);
    CHECK_OK(ctx, a);
    return a;
}

static zen_array *img(zen_ctx *ctx, const char *name, int channels, int flags) {
    char path[512];
    snprintf(path, sizeof path, IMG_DIR "%s", name);
    zen_array *a = zen_image_load(ctx, path, channels, flags);
    CHECK_OK(ctx, a);
    return a;
}

/* Largest |a - b|, or +inf when the shapes differ. */
static double max_diff(const zen_array *a, const zen_array *b) {
    if (!a || !b || a->ndim != b->ndim) return INFINITY;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return INFINITY;
    double m = 0;
    for (int64_t i = 0; i < zen_array_numel(a); i++) m = fmax(m, fabs(((float *)a->data)[i] - ((float *)b->data)[i]));
    return m;
}

TEST(png_layouts_decode_as_stored) {
    zen_ctx *ctx = zen_ctx_new();
    const char *names[] = {"gray", "rgb", "rgba", "la", "palette", "gray16", "bits"};
    const int channels[] = {1, 3, 4, 2, 3, 1, 1};
    for (int i = 0; i < 7; i++) {
        char png[64], npy[64];
        snprintf(png, sizeof png, "%s.png", names[i]);
        snprintf(npy, sizeof npy, "%s.npy", names[i]);
        zen_array *a = img(ctx, png, 0, 0), *r = ref(ctx, npy);
        if (max_diff(a, r) != 0) fprintf(stderr, "  %s: max diff %g\n", png, max_diff(a, r));
        CHECK(max_diff(a, r) == 0);
        CHECK(a && a->shape[2] == channels[i]);
        zen_array_free(a);
        zen_array_free(r);
    }
    zen_ctx_free(ctx);
}

TEST(jpeg_matches_pil) {
    zen_ctx *ctx = zen_ctx_new();
    const char *names[][2] = {{"rgb.jpg", "rgb_jpg.npy"}, {"gray.jpg", "gray_jpg.npy"}, {"progressive.jpg", "progressive_jpg.npy"}};
    for (int i = 0; i < 3; i++) {
        zen_array *a = img(ctx, names[i][0], 0, 0), *r = ref(ctx, names[i][1]);
        /* the same libjpeg as PIL's; allow for another IDCT */
        CHECK(max_diff(a, r) <= 2);
        zen_array_free(a);
        zen_array_free(r);
    }
    zen_ctx_free(ctx);
}

TEST(channel_conversion_invert_and_scale) {
    zen_ctx *ctx = zen_ctx_new();
    zen_array *raw = img(ctx, "rgba.png", 0, 0), *rgb = img(ctx, "rgba.png", 3, 0), *gray = img(ctx, "rgba.png", 1, 0);
    zen_array *inv = img(ctx, "rgba.png", 1, ZEN_IMAGE_INVERT | ZEN_DATA_SCALE);
    zen_array *inv4 = img(ctx, "rgba.png", 0, ZEN_IMAGE_INVERT);
    if (raw && rgb && gray && inv && inv4) {
        const float *p = raw->data, *c = rgb->data, *g = gray->data, *v = inv->data, *v4 = inv4->data;
        for (int64_t i = 0; i < raw->shape[0] * raw->shape[1]; i++) {
            float a = p[4 * i + 3] / 255.0f, comp[3];
            for (int k = 0; k < 3; k++) {
                comp[k] = p[4 * i + k] * a + 255 * (1 - a); /* over white */
                CHECK_NEAR(c[3 * i + k], comp[k], 1e-3);
                CHECK_NEAR(v4[4 * i + k], 255 - p[4 * i + k], 0);
            }
            CHECK_NEAR(v4[4 * i + 3], p[4 * i + 3], 0); /* alpha is never inverted */
            float luma = 0.299f * comp[0] + 0.587f * comp[1] + 0.114f * comp[2];
            CHECK_NEAR(g[i], luma, 1e-3);
            CHECK_NEAR(v[i], (255 - luma) / 255, 1e-5);
        }
        CHECK_NEAR(c[0], 255, 0); /* pixel (0, 0) has alpha 0: white */
        CHECK_NEAR(c[3], p[4], 0); /* pixel (0, 1) is opaque: unchanged */
    }
    zen_array *g3 = img(ctx, "gray.png", 3, ZEN_DATA_SCALE);
    CHECK(g3 && g3->shape[2] == 3);
    if (g3) {
        const float *q = g3->data;
        CHECK_NEAR(q[0], 3 / 255.0, 1e-7);
        CHECK(q[0] == q[1] && q[1] == q[2]);
        CHECK_NEAR(q[3 * 29], (29 * 8 + 3) / 255.0, 1e-7);
    }
    zen_array_free(raw), zen_array_free(rgb), zen_array_free(gray), zen_array_free(inv), zen_array_free(inv4);
    zen_array_free(g3);
    zen_ctx_free(ctx);
}

TEST(resize_matches_references) {
    zen_ctx *ctx = zen_ctx_new();
    zen_array *x = ref(ctx, "resize_in.npy");
    const int bil[][2] = {{4, 5}, {11, 13}, {7, 4}, {3, 20}}, area[][2] = {{3, 4}, {5, 6}, {7, 3}, {14, 18}, {1, 1}};
    for (int i = 0; i < 4; i++) {
        char name[64];
        snprintf(name, sizeof name, "resize_bilinear_%dx%d.npy", bil[i][0], bil[i][1]);
        zen_array *r = ref(ctx, name), *y = zen_image_resize(ctx, x, bil[i][0], bil[i][1], ZEN_RESIZE_BILINEAR);
        CHECK_OK(ctx, y);
        if (max_diff(y, r) > 1e-5) fprintf(stderr, "  %s: max diff %g\n", name, max_diff(y, r));
        CHECK(max_diff(y, r) <= 1e-5);
        zen_array_free(r), zen_array_free(y);
    }
    for (int i = 0; i < 5; i++) {
        char name[64];
        snprintf(name, sizeof name, "resize_area_%dx%d.npy", area[i][0], area[i][1]);
        zen_array *r = ref(ctx, name), *y = zen_image_resize(ctx, x, area[i][0], area[i][1], ZEN_RESIZE_AREA);
        CHECK_OK(ctx, y);
        if (max_diff(y, r) > 1e-5) fprintf(stderr, "  %s: max diff %g\n", name, max_diff(y, r));
        CHECK(max_diff(y, r) <= 1e-5);
        zen_array_free(r), zen_array_free(y);
    }
    /* AUTO: area when shrinking, bilinear when a side grows; the same size copies */
    zen_array *a = zen_image_resize(ctx, x, 5, 6, ZEN_RESIZE_AUTO), *ra = ref(ctx, "resize_area_5x6.npy");
    zen_array *b = zen_image_resize(ctx, x, 11, 13, ZEN_RESIZE_AUTO), *rb = ref(ctx, "resize_bilinear_11x13.npy");
    zen_array *same = zen_image_resize(ctx, x, 7, 9, ZEN_RESIZE_AUTO);
    CHECK(max_diff(a, ra) <= 1e-5);
    CHECK(max_diff(b, rb) <= 1e-5);
    CHECK(max_diff(same, x) <= 1e-6);
    zen_array_free(a), zen_array_free(ra), zen_array_free(b), zen_array_free(rb), zen_array_free(same);
    CHECK_ERR(ctx, !zen_image_resize(ctx, x, 0, 4, ZEN_RESIZE_AREA), "zen_image_resize", "1 to");
    CHECK_ERR(ctx, !zen_image_resize(ctx, x, 4, 4, (zen_resize_filter)99), "zen_image_resize", "unknown filter 99");
    zen_array *flat = zen_array_new(ctx, ZEN_F32, 2, (int64_t[]){3, 3});
    CHECK_ERR(ctx, !zen_image_resize(ctx, flat, 2, 2, ZEN_RESIZE_AREA), "[H, W, C]");
    zen_array_free(flat);
    zen_array_free(x);
    zen_ctx_free(ctx);
}

TEST(input_layouts) {
    zen_ctx *ctx = zen_ctx_new();
    int64_t h, w;
    int c;
    CHECK(zen_image_input_layout(ctx, 3, (int64_t[]){28, 28, 1}, NULL, &h, &w, &c) == 0 && h == 28 && w == 28 && c == 1);
    CHECK(zen_image_input_layout(ctx, 3, (int64_t[]){32, 16, 3}, NULL, &h, &w, &c) == 0 && h == 32 && w == 16 && c == 3);
    CHECK(zen_image_input_layout(ctx, 2, (int64_t[]){5, 7}, NULL, &h, &w, &c) == 0 && h == 5 && w == 7 && c == 1);
    CHECK(zen_image_input_layout(ctx, 1, (int64_t[]){784}, NULL, &h, &w, &c) == 0 && h == 28 && w == 28 && c == 1);
    CHECK(zen_image_input_layout(ctx, 1, (int64_t[]){3072}, NULL, &h, &w, &c) == 0 && h == 32 && c == 3);
    zen_image_input_opts o = {.height = 4, .width = 6};
    CHECK(zen_image_input_layout(ctx, 1, (int64_t[]){72}, &o, &h, &w, &c) == 0 && h == 4 && w == 6 && c == 3);
    CHECK_ERR(ctx, zen_image_input_layout(ctx, 1, (int64_t[]){10}, NULL, &h, &w, &c) != 0, "10 values", "height and width");
    CHECK_ERR(ctx, zen_image_input_layout(ctx, 3, (int64_t[]){8, 8, 4}, NULL, &h, &w, &c) != 0, "[8, 8, 4]", "4 channels");
    CHECK_ERR(ctx, zen_image_input_layout(ctx, 4, (int64_t[]){1, 2, 3, 4}, NULL, &h, &w, &c) != 0, "4 dims");
    CHECK_ERR(ctx, zen_image_input_layout(ctx, 3, (int64_t[]){0, 8, 1}, NULL, &h, &w, &c) != 0, "[0, 8, 1]", "empty dim");
    CHECK_ERR(ctx, zen_image_input_layout(ctx, 3, (int64_t[]){8, 8, 1}, &(zen_image_input_opts){.height = 5, .width = 6},
                                          &h, &w, &c) != 0,
              "6x5 asked for is not the input's 8x8");
    zen_ctx_free(ctx);
}

TEST(images_fit_model_inputs) {
    zen_ctx *ctx = zen_ctx_new();
    const char *paths[] = {IMG_DIR "bars/horizontal.png", IMG_DIR "bars/vertical.jpg", IMG_DIR "bars/diagonal_paper.png"};
    zen_image_input_opts o = {.invert = true};
    zen_array *b = zen_image_load_batch(ctx, 3, paths, 3, (int64_t[]){8, 8, 1}, &o);
    CHECK_OK(ctx, b);
    CHECK(b && b->ndim == 4 && b->shape[0] == 3 && b->shape[1] == 8 && b->shape[3] == 1);
    if (b) {
        const float *d = (const float *)b->data + 2 * 64; /* the inverted paper diagonal: bright on dark */
        CHECK_NEAR(d[0], (255 - 20) / 255.0, 1e-6);
        CHECK_NEAR(d[1], 0, 1e-6); /* transparent -> white -> inverted to 0 */
        CHECK_NEAR(d[9], (255 - 20) / 255.0, 1e-6);
    }
    /* the same as decoding, inverting, scaling and resizing by hand (area when shrinking) */
    zen_array *h = zen_image_load(ctx, paths[0], 1, ZEN_DATA_SCALE | ZEN_IMAGE_INVERT);
    zen_array *hr = zen_image_resize(ctx, h, 8, 8, ZEN_RESIZE_AREA);
    CHECK(b && hr && !memcmp(b->data, hr->data, 64 * sizeof(float)));
    /* a flat input (784-style) takes the same values */
    zen_array *flat = zen_image_load_batch(ctx, 1, paths, 1, (int64_t[]){64}, &o);
    CHECK(flat && flat->ndim == 2 && flat->shape[1] == 64 && b && !memcmp(flat->data, b->data, 64 * sizeof(float)));
    /* a bad file fails the whole batch, naming the file */
    const char *bad[] = {paths[0], IMG_DIR "resize_in.npy"};
    CHECK_ERR(ctx, !zen_image_load_batch(ctx, 2, bad, 3, (int64_t[]){8, 8, 1}, &o), "resize_in.npy", "not a PNG or JPEG");
    zen_array_free(b), zen_array_free(h), zen_array_free(hr), zen_array_free(flat);
    zen_ctx_free(ctx);
}

/* Every prefix of a file is an error (never a crash or a half-gray image). */
static void check_cut(zen_ctx *ctx, const char *name, size_t step) {
    size_t n;
    char path[512];
    snprintf(path, sizeof path, IMG_DIR "%s", name);
    unsigned char *bytes = du_read(path, &n);
    CHECK(bytes != NULL);
    if (!bytes) return;
    zen_array *whole = zen_image_decode(ctx, bytes, n, name, 0, 0);
    CHECK_OK(ctx, whole);
    zen_array_free(whole);
    int errors = 0, tries = 0;
    for (size_t cut = 0; cut < n; cut += step) {
        zen_array *a = zen_image_decode(ctx, bytes, cut, name, 0, 0);
        tries++;
        if (!a && zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), name)) errors++;
        else fprintf(stderr, "  %s cut at %zu/%zu: %s\n", name, cut, n, a ? "decoded" : zen_ctx_error(ctx));
        zen_array_free(a);
        zen_ctx_clear_error(ctx);
    }
    CHECK(errors == tries);
    free(bytes);
}

TEST(damaged_files_are_errors) {
    zen_ctx *ctx = zen_ctx_new();
    du_init();
    check_cut(ctx, "rgb.png", 1);
    check_cut(ctx, "rgb.jpg", 7);
    check_cut(ctx, "progressive.jpg", 5);
    size_t n = 0;
    unsigned char *png = du_read(IMG_DIR "rgb.png", &n);
    if (!png || n < 40) {
        CHECK(png && n >= 40);
        free(png);
        return;
    }
    CHECK_ERR(ctx, !zen_image_decode(ctx, png, n - 20, "cut.png", 3, 0), "cut.png", "damaged PNG");
    png[n - 25] ^= 0x5a; /* inside the IDAT chunk: its CRC no longer matches */
    CHECK_ERR(ctx, !zen_image_decode(ctx, png, n, "flipped.png", 3, 0), "flipped.png", "damaged PNG");
    free(png);
    unsigned char *jpg = du_read(IMG_DIR "rgb.jpg", &n);
    du_write(du_path("cut.jpg"), jpg, n / 2);
    CHECK_ERR(ctx, !zen_image_load(ctx, du_path("cut.jpg"), 0, 0), "cut.jpg", "damaged JPEG", "Premature end");
    free(jpg);
    du_write_str(du_path("text.png"), "hello, not an image");
    CHECK_ERR(ctx, !zen_image_load(ctx, du_path("text.png"), 0, 0), "text.png", "not a PNG or JPEG");
    CHECK_ERR(ctx, !zen_image_load(ctx, du_path("missing.png"), 0, 0), "missing.png", "cannot open");
    CHECK_ERR(ctx, !zen_image_load(ctx, IMG_DIR "gray.png", 2, 0), "channels must be 0");
    CHECK_ERR(ctx, !zen_image_load(ctx, du_dir, 0, 0), du_dir, "not a regular file");
    CHECK_ERR(ctx, !zen_image_load_batch(ctx, 0, NULL, 3, (int64_t[]){8, 8, 1}, NULL), "no image files given");
    /* a header that declares a huge image is refused before any allocation */
    unsigned char huge[33];
    memcpy(huge, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\x00\x01\x00\x00\x00\x01\x00\x00\x08\x02\0\0\0", 29);
    uLong crc = crc32(0, huge + 12, 17);
    for (int i = 0; i < 4; i++) huge[29 + i] = (unsigned char)(crc >> (24 - 8 * i));
    CHECK_ERR(ctx, !zen_image_decode(ctx, huge, sizeof huge, "huge.png", 0, 0), "huge.png");
    du_cleanup();
    zen_ctx_free(ctx);
}

/* An Adam7-interlaced RGB PNG (PIL cannot write one), written with libpng into memory. */
typedef struct {
    unsigned char *p;
    size_t n;
} membuf;
static void mem_write(png_structp png, png_bytep data, png_size_t len) {
    membuf *m = png_get_io_ptr(png);
    m->p = realloc(m->p, m->n + len);
    memcpy(m->p + m->n, data, len);
    m->n += len;
}
static void mem_flush(png_structp png) { (void)png; }

TEST(interlaced_png) {
    enum { W = 13, H = 9 };
    unsigned char px[H][W * 3];
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W * 3; x++) px[y][x] = (unsigned char)(y * 29 + x * 7);
    membuf m = {0};
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png_create_info_struct(png);
    if (setjmp(png_jmpbuf(png))) {
        CHECK(!"libpng write failed");
        png_destroy_write_struct(&png, &info);
        free(m.p);
        return;
    }
    png_set_write_fn(png, &m, mem_write, mem_flush);
    png_set_IHDR(png, info, W, H, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_bytep rows[H];
    for (int y = 0; y < H; y++) rows[y] = px[y];
    png_set_rows(png, info, rows);
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, NULL);
    png_destroy_write_struct(&png, &info);
    zen_ctx *ctx = zen_ctx_new();
    zen_array *a = zen_image_decode(ctx, m.p, m.n, "adam7.png", 0, 0);
    CHECK_OK(ctx, a);
    CHECK(a && a->shape[0] == H && a->shape[1] == W && a->shape[2] == 3);
    int wrong = 0;
    for (int y = 0; a && y < H; y++)
        for (int x = 0; x < W * 3; x++) wrong += ((float *)a->data)[y * W * 3 + x] != px[y][x];
    CHECK(wrong == 0);
    zen_array_free(a);
    zen_ctx_free(ctx);
    free(m.p);
}

/* Random byte changes anywhere in a file: each decode succeeds or fails with a message
 * naming the file (run under ASan, this is the memory-safety check of both decoders). */
TEST(mutated_files_never_crash) {
    zen_ctx *ctx = zen_ctx_new();
    const char *names[] = {"rgb.png", "palette.png", "gray16.png", "rgba.png", "rgb.jpg", "progressive.jpg", "gray.jpg"};
    zen_rng r;
    zen_rng_seed(&r, 11);
    for (int f = 0; f < 7; f++) {
        char path[512];
        snprintf(path, sizeof path, IMG_DIR "%s", names[f]);
        size_t n = 0;
        unsigned char *orig = du_read(path, &n), *b = malloc(n ? n : 1);
        CHECK(orig && b && n > 16);
        int decoded = 0, failed = 0, unnamed = 0;
        for (int it = 0; orig && b && n > 16 && it < 300; it++) {
            memcpy(b, orig, n);
            int flips = 1 + (int)(zen_rng_next(&r) % 4);
            for (int k = 0; k < flips; k++) b[8 + zen_rng_next(&r) % (n - 8)] = (unsigned char)zen_rng_next(&r);
            zen_array *a = zen_image_decode(ctx, b, n, names[f], 0, ZEN_DATA_SCALE);
            if (a) decoded++;
            else if (zen_ctx_error(ctx) && strstr(zen_ctx_error(ctx), names[f])) failed++;
            else unnamed++;
            zen_array_free(a);
            zen_ctx_clear_error(ctx);
        }
        CHECK(unnamed == 0);
        CHECK(failed > 0); /* most PNG changes break a CRC; many JPEG ones a marker */
        (void)decoded;
        free(orig);
        free(b);
    }
    zen_ctx_free(ctx);
}

int main(void) {
    return RUN_TESTS(png_layouts_decode_as_stored, jpeg_matches_pil, channel_conversion_invert_and_scale,
                     resize_matches_references, input_layouts, images_fit_model_inputs, damaged_files_are_errors,
                     interlaced_png, mutated_files_never_crash);
}
