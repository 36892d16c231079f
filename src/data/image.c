/* image.c — PNG (libpng) and JPEG (libjpeg) images as f32 arrays [H, W, C], resizing
 * (bilinear, area) and fitting an image to a model's input shape.
 *
 * Decoding goes through one 8-bit buffer of the stored channels (1 gray, 2 gray+alpha,
 * 3 RGB, 4 RGBA); the conversion to the channels asked for, inversion and scaling then
 * happen once, in float, in to_array. Both decoders report errors by longjmp: every buffer
 * they may leave behind is reachable from a struct that outlives the setjmp. */
#include "data.h"

#include <errno.h>
#include <jpeglib.h>
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Images larger than this are refused before any pixel buffer is allocated (a small,
 * hostile file can declare huge dimensions). */
#define IMG_MAX_SIDE 32768
#define IMG_MAX_PIXELS (1LL << 26)
#define IMG_MAX_FILE (256LL << 20)

/* The decoded bytes: h rows of w pixels of c 8-bit channels. */
typedef struct {
    int64_t h, w;
    int c;
    unsigned char *px;
} raw_image;

const char *zen_image_format(const void *bytes, size_t size) {
    const unsigned char *b = bytes;
    if (b && size >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8)) return "png";
    if (b && size >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF) return "jpeg";
    return NULL;
}

static int check_size(zen_ctx *ctx, const char *fn, const char *name, int64_t w, int64_t h) {
    if (w < 1 || h < 1 || w > IMG_MAX_SIDE || h > IMG_MAX_SIDE || w * h > IMG_MAX_PIXELS) {
        zen__fail(ctx, "%s: %s: image size %lldx%lld is outside what zen reads (1 to %d per side, %lld pixels)", fn,
                  name, (long long)w, (long long)h, IMG_MAX_SIDE, (long long)IMG_MAX_PIXELS);
        return -1;
    }
    return 0;
}

/* ---- PNG ---- */

typedef struct {
    const unsigned char *p;
    size_t n, at;
    char msg[256];
    unsigned char *px;
    png_bytep *rows;
} png_state;

static void png_read_mem(png_structp png, png_bytep out, png_size_t len) {
    png_state *s = png_get_io_ptr(png);
    if (len > s->n - s->at) png_error(png, "truncated file (the data ends early)");
    memcpy(out, s->p + s->at, len);
    s->at += len;
}

static void png_on_error(png_structp png, png_const_charp msg) {
    png_state *s = png_get_error_ptr(png);
    if (!s->msg[0]) snprintf(s->msg, sizeof s->msg, "%s", msg);
    png_longjmp(png, 1);
}

/* Warnings (an odd color profile, an unknown chunk) do not make the pixels wrong. */
static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

static int decode_png(zen_ctx *ctx, const char *fn, const char *name, const unsigned char *bytes, size_t size,
                      raw_image *out) {
    png_state s = {.p = bytes, .n = size};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &s, png_on_error, png_on_warning);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return zen__fail(ctx, "%s: %s: out of memory", fn, name), -1;
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_read_struct(&png, &info, NULL);
        free(s.px);
        free(s.rows);
        zen__fail(ctx, "%s: %s: damaged PNG: %s", fn, name, s.msg[0] ? s.msg : "decoding failed");
        return -1;
    }
    png_set_read_fn(png, &s, png_read_mem);
    png_set_user_limits(png, IMG_MAX_SIDE, IMG_MAX_SIDE);
    png_read_info(png, info);
    int64_t w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if (check_size(ctx, fn, name, w, h) != 0) {
        png_destroy_read_struct(&png, &info, NULL);
        return -1;
    }
    png_set_expand(png);   /* palette -> RGB, gray below 8 bits -> 8 bits, tRNS -> alpha */
    png_set_scale_16(png); /* 16-bit samples -> 8 bits, rounded (v * 255 / 65535) */
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int c = png_get_channels(png, info);
    size_t rowbytes = png_get_rowbytes(png, info);
    if (c < 1 || c > 4 || png_get_bit_depth(png, info) != 8 || rowbytes != (size_t)w * (size_t)c)
        png_error(png, "unsupported pixel layout");
    s.px = malloc((size_t)h * rowbytes);
    s.rows = malloc((size_t)h * sizeof *s.rows);
    if (!s.px || !s.rows) png_error(png, "out of memory");
    for (int64_t y = 0; y < h; y++) s.rows[y] = s.px + (size_t)y * rowbytes;
    png_read_image(png, s.rows);
    png_read_end(png, NULL); /* the chunks after the pixels: a cut file fails here */
    png_destroy_read_struct(&png, &info, NULL);
    free(s.rows);
    *out = (raw_image){.h = h, .w = w, .c = c, .px = s.px};
    return 0;
}

/* ---- JPEG ---- */

typedef struct {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
    unsigned char *px;
} jpeg_state;

static void jpeg_on_error(j_common_ptr c) {
    jpeg_state *s = (jpeg_state *)c->err;
    if (!s->msg[0]) c->err->format_message(c, s->msg);
    longjmp(s->jb, 1);
}

/* libjpeg only warns about a cut or corrupt stream and fills the rest with gray; zen
 * treats every warning (level -1) as an error, so a damaged file never predicts. */
static void jpeg_on_message(j_common_ptr c, int level) {
    if (level < 0) jpeg_on_error(c);
}

static int decode_jpeg(zen_ctx *ctx, const char *fn, const char *name, const unsigned char *bytes, size_t size,
                       raw_image *out) {
    struct jpeg_decompress_struct cinfo;
    jpeg_state s;
    memset(&s, 0, sizeof s);
    cinfo.err = jpeg_std_error(&s.pub);
    s.pub.error_exit = jpeg_on_error;
    s.pub.emit_message = jpeg_on_message;
    if (setjmp(s.jb)) {
        jpeg_destroy_decompress(&cinfo);
        free(s.px);
        zen__fail(ctx, "%s: %s: damaged JPEG: %s", fn, name, s.msg[0] ? s.msg : "decoding failed");
        return -1;
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, (unsigned char *)bytes, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
        jpeg_destroy_decompress(&cinfo);
        zen__fail(ctx, "%s: %s: CMYK JPEGs are not supported (convert it to RGB)", fn, name);
        return -1;
    }
    if (check_size(ctx, fn, name, cinfo.image_width, cinfo.image_height) != 0) {
        jpeg_destroy_decompress(&cinfo);
        return -1;
    }
    cinfo.out_color_space = cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    int64_t w = cinfo.output_width, h = cinfo.output_height;
    int c = cinfo.output_components;
    s.px = malloc((size_t)(w * h * c));
    if (!s.px) {
        snprintf(s.msg, sizeof s.msg, "out of memory");
        longjmp(s.jb, 1);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = s.px + (size_t)cinfo.output_scanline * (size_t)(w * c);
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    jpeg_destroy_decompress(&cinfo);
    *out = (raw_image){.h = h, .w = w, .c = c, .px = s.px};
    return 0;
}

/* ---- conversion to f32 ---- */

/* The stored channels (sc) to the asked ones (oc; 0 keeps them), in float: alpha is
 * composited over white when dropped, gray from color is ITU-R 601 luma (the weights of
 * PIL's convert("L")), inversion applies to color values (not alpha), scaling to all. */
static zen_array *to_array(zen_ctx *ctx, const char *fn, const raw_image *r, int channels, int flags) {
    int sc = r->c, oc = channels ? channels : sc;
    zen_array *a = zen__array_alloc(ctx, fn, ZEN_F32, 3, (int64_t[]){r->h, r->w, oc});
    if (!a) return NULL;
    bool alpha = sc == 2 || sc == 4, color = sc >= 3, keep = oc == sc;
    bool invert = flags & ZEN_IMAGE_INVERT;
    float mul = (flags & ZEN_DATA_SCALE) ? 1.0f / 255.0f : 1.0f;
    float *o = a->data;
    for (int64_t i = 0; i < r->h * r->w; i++) {
        const unsigned char *p = r->px + i * sc;
        float v[4];
        for (int k = 0; k < sc; k++) v[k] = p[k];
        if (!keep) {
            int ncol = color ? 3 : 1;
            if (alpha) {
                float a01 = v[sc - 1] / 255.0f;
                for (int k = 0; k < ncol; k++) v[k] = v[k] * a01 + 255.0f * (1.0f - a01);
            }
            if (oc == 1 && color) v[0] = 0.299f * v[0] + 0.587f * v[1] + 0.114f * v[2];
            if (oc == 3 && !color) v[1] = v[2] = v[0];
        }
        for (int k = 0; k < oc; k++) {
            bool is_alpha = keep && alpha && k == sc - 1;
            float x = invert && !is_alpha ? 255.0f - v[k] : v[k];
            *o++ = x * mul;
        }
    }
    return a;
}

zen_array *zen_image_decode(zen_ctx *ctx, const void *bytes, size_t size, const char *name, int channels, int flags) {
    const char *fn = "zen_image_decode";
    if (!name) name = "(image)";
    if (!bytes) return zen__fail(ctx, "%s: %s: no data", fn, name);
    if (channels != 0 && channels != 1 && channels != 3)
        return zen__fail(ctx, "%s: %s: channels must be 0 (as stored), 1 (gray) or 3 (RGB), got %d", fn, name, channels);
    const char *fmt = zen_image_format(bytes, size);
    if (!fmt) return zen__fail(ctx, "%s: %s: not a PNG or JPEG image (unknown first bytes)", fn, name);
    raw_image r;
    int rc = !strcmp(fmt, "png") ? decode_png(ctx, fn, name, bytes, size, &r) : decode_jpeg(ctx, fn, name, bytes, size, &r);
    if (rc != 0) return NULL;
    zen_array *a = to_array(ctx, fn, &r, channels, flags);
    free(r.px);
    return a;
}

/* A whole file in memory (images are decoded from memory); NULL and an error naming it. */
static unsigned char *read_file(zen_ctx *ctx, const char *fn, const char *path, size_t *size) {
    if (!path) return zen__fail(ctx, "%s: path is NULL", fn);
    FILE *f = fopen(path, "rb");
    if (!f) return zen__fail(ctx, "%s: %s: cannot open: %s", fn, path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > IMG_MAX_FILE) {
        fclose(f);
        return zen__fail(ctx, "%s: %s: not a regular file of at most %lld MiB", fn, path, IMG_MAX_FILE >> 20);
    }
    unsigned char *buf = malloc((size_t)st.st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    int err = ferror(f);
    fclose(f);
    if (!buf || err || n != (size_t)st.st_size) {
        free(buf);
        return zen__fail(ctx, "%s: %s: read failed", fn, path);
    }
    *size = n;
    return buf;
}

zen_array *zen_image_load(zen_ctx *ctx, const char *path, int channels, int flags) {
    size_t size;
    unsigned char *buf = read_file(ctx, "zen_image_load", path, &size);
    if (!buf) return NULL;
    zen_array *a = zen_image_decode(ctx, buf, size, path, channels, flags);
    free(buf);
    return a;
}

/* ---- resizing ---- */

/* Taps of one axis: output j reads n[j] inputs from start[j] with weights w[j * taps ...]. */
typedef struct {
    int64_t *start;
    int *n;
    float *w;
    int taps;
} axis_weights;

static void axis_free(axis_weights *a) {
    free(a->start);
    free(a->n);
    free(a->w);
}

static int axis_make(axis_weights *a, int64_t in, int64_t out, zen_resize_filter f) {
    double scale = (double)in / (double)out;
    a->taps = f == ZEN_RESIZE_BILINEAR ? 2 : (int)ceil(scale) + 1;
    a->start = malloc((size_t)out * sizeof *a->start);
    a->n = malloc((size_t)out * sizeof *a->n);
    a->w = calloc((size_t)(out * a->taps), sizeof *a->w);
    if (!a->start || !a->n || !a->w) return -1;
    for (int64_t j = 0; j < out; j++) {
        float *w = a->w + j * a->taps;
        if (f == ZEN_RESIZE_BILINEAR) {
            /* torch's align_corners=False: pixel centers at +0.5, the source clamped at 0 */
            double src = ((double)j + 0.5) * scale - 0.5;
            if (src < 0) src = 0;
            int64_t i0 = (int64_t)src;
            if (i0 > in - 1) i0 = in - 1;
            double l = src - (double)i0;
            a->start[j] = i0;
            a->n[j] = i0 < in - 1 ? 2 : 1;
            w[0] = (float)(a->n[j] == 2 ? 1.0 - l : 1.0);
            w[1] = (float)(a->n[j] == 2 ? l : 0.0);
        } else {
            /* the exact share of each input pixel in [j, j + 1) * scale */
            double lo = (double)j * scale, hi = (double)(j + 1) * scale;
            int64_t i0 = (int64_t)floor(lo), i1 = (int64_t)ceil(hi);
            if (i1 > in) i1 = in;
            if (i1 - i0 > a->taps) i1 = i0 + a->taps;
            a->start[j] = i0;
            a->n[j] = (int)(i1 - i0);
            for (int64_t i = i0; i < i1; i++) {
                double cover = fmin(hi, (double)(i + 1)) - fmax(lo, (double)i);
                w[i - i0] = (float)(cover > 0 ? cover / scale : 0);
            }
        }
    }
    return 0;
}

zen_array *zen_image_resize(zen_ctx *ctx, const zen_array *img, int64_t height, int64_t width, zen_resize_filter filter) {
    const char *fn = "zen_image_resize";
    if (!img) return NULL;
    if (img->dtype != ZEN_F32 || img->ndim != 3 || img->shape[0] < 1 || img->shape[1] < 1 || img->shape[2] < 1)
        return zen__fail(ctx, "%s: the image must be a non-empty f32 array [H, W, C]", fn);
    if (height < 1 || width < 1 || height > IMG_MAX_SIDE || width > IMG_MAX_SIDE)
        return zen__fail(ctx, "%s: the new size %lldx%lld must be 1 to %d per side", fn, (long long)width,
                         (long long)height, IMG_MAX_SIDE);
    if (filter != ZEN_RESIZE_AUTO && filter != ZEN_RESIZE_BILINEAR && filter != ZEN_RESIZE_AREA)
        return zen__fail(ctx, "%s: unknown filter %d", fn, (int)filter);
    int64_t H = img->shape[0], W = img->shape[1], C = img->shape[2];
    if (filter == ZEN_RESIZE_AUTO) filter = height <= H && width <= W ? ZEN_RESIZE_AREA : ZEN_RESIZE_BILINEAR;
    zen_array *out = zen__array_alloc(ctx, fn, ZEN_F32, 3, (int64_t[]){height, width, C});
    float *tmp = malloc((size_t)(H * width * C) * sizeof(float));
    axis_weights ax = {0}, ay = {0};
    if (!out || !tmp || axis_make(&ax, W, width, filter) != 0 || axis_make(&ay, H, height, filter) != 0) {
        if (out) zen__fail(ctx, "%s: out of memory", fn);
        zen_array_free(out);
        out = NULL;
        goto done;
    }
    const float *src = img->data;
    for (int64_t y = 0; y < H; y++) /* along rows: [H, W, C] -> [H, width, C] */
        for (int64_t x = 0; x < width; x++)
            for (int64_t c = 0; c < C; c++) {
                float s = 0;
                for (int t = 0; t < ax.n[x]; t++) s += ax.w[x * ax.taps + t] * src[(y * W + ax.start[x] + t) * C + c];
                tmp[(y * width + x) * C + c] = s;
            }
    float *dst = out->data;
    for (int64_t y = 0; y < height; y++) /* along columns: -> [height, width, C] */
        for (int64_t i = 0; i < width * C; i++) {
            float s = 0;
            for (int t = 0; t < ay.n[y]; t++) s += ay.w[y * ay.taps + t] * tmp[(ay.start[y] + t) * width * C + i];
            dst[y * width * C + i] = s;
        }
done:
    axis_free(&ax);
    axis_free(&ay);
    free(tmp);
    return out;
}

/* ---- images as model inputs ---- */

static bool is_square(int64_t n, int64_t *side) {
    int64_t s = (int64_t)llround(sqrt((double)n));
    *side = s;
    return s > 0 && s * s == n;
}

int zen_image_input_layout(zen_ctx *ctx, int ndim, const int64_t *shape, const zen_image_input_opts *opts,
                           int64_t *h, int64_t *w, int *c) {
    const char *fn = "zen_image_input_layout";
    zen_image_input_opts none = {0};
    if (!opts) opts = &none;
    char buf[160];
    if (!shape || ndim < 1 || ndim > 3) {
        zen__fail(ctx, "%s: an input of %d dims is not an image (it takes [H, W, C], [H, W] or a flat [H*W*C])", fn, ndim);
        return -1;
    }
    for (int d = 0; d < ndim; d++)
        if (shape[d] < 1) return zen__fail(ctx, "%s: input shape %s has an empty dim", fn, zen__shape_fmt(buf, sizeof buf, ndim, shape)), -1;
    if (ndim >= 2) {
        *h = shape[0];
        *w = shape[1];
        *c = ndim == 3 ? (int)shape[2] : 1;
        if (*c != 1 && *c != 3) {
            zen__fail(ctx, "%s: input shape %s has %d channels; images give 1 (gray) or 3 (RGB)", fn,
                      zen__shape_fmt(buf, sizeof buf, ndim, shape), *c);
            return -1;
        }
        if (opts->height || opts->width) {
            if (opts->height != *h || opts->width != *w) {
                zen__fail(ctx, "%s: the size %dx%d asked for is not the input's %lldx%lld (width x height)", fn,
                          opts->width, opts->height, (long long)*w, (long long)*h);
                return -1;
            }
        }
        return 0;
    }
    int64_t n = shape[0], side;
    if (opts->height > 0 && opts->width > 0) {
        int64_t px = (int64_t)opts->height * opts->width;
        if (n != px && n != 3 * px) {
            zen__fail(ctx, "%s: a flat input of %lld values is not a %dx%d image (%lld values gray, %lld RGB)", fn,
                      (long long)n, opts->width, opts->height, (long long)px, (long long)(3 * px));
            return -1;
        }
        *h = opts->height;
        *w = opts->width;
        *c = n == px ? 1 : 3;
        return 0;
    }
    if (is_square(n, &side)) *c = 1;
    else if (n % 3 == 0 && is_square(n / 3, &side)) *c = 3;
    else {
        zen__fail(ctx, "%s: a flat input of %lld values is not a square image; give its height and width", fn, (long long)n);
        return -1;
    }
    *h = *w = side;
    return 0;
}

int zen_image_to_input(zen_ctx *ctx, const void *bytes, size_t size, const char *name, int ndim, const int64_t *shape,
                       const zen_image_input_opts *opts, float *out) {
    zen_image_input_opts none = {0};
    if (!opts) opts = &none;
    int64_t h, w;
    int c;
    if (zen_image_input_layout(ctx, ndim, shape, opts, &h, &w, &c) != 0) return -1;
    int flags = (opts->raw ? 0 : ZEN_DATA_SCALE) | (opts->invert ? ZEN_IMAGE_INVERT : 0);
    zen_array *img = zen_image_decode(ctx, bytes, size, name, c, flags);
    if (!img) return -1;
    if (img->shape[0] != h || img->shape[1] != w) {
        zen_array *r = zen_image_resize(ctx, img, h, w, opts->filter);
        zen_array_free(img);
        if (!(img = r)) return -1;
    }
    memcpy(out, img->data, (size_t)(h * w * c) * sizeof(float)); /* [H, W, C] is also the flat order */
    zen_array_free(img);
    return 0;
}

zen_array *zen_image_load_batch(zen_ctx *ctx, int n, const char *const *paths, int ndim, const int64_t *shape,
                                const zen_image_input_opts *opts) {
    const char *fn = "zen_image_load_batch";
    if (n < 1 || !paths) return zen__fail(ctx, "%s: no image files given", fn);
    if (ndim < 1 || ndim > ZEN_MAX_DIMS - 1 || !shape) return zen__fail(ctx, "%s: bad input shape", fn);
    int64_t h, w, full[ZEN_MAX_DIMS] = {n};
    int c;
    if (zen_image_input_layout(ctx, ndim, shape, opts, &h, &w, &c) != 0) return NULL;
    memcpy(full + 1, shape, (size_t)ndim * sizeof *shape);
    zen_array *a = zen__array_alloc(ctx, fn, ZEN_F32, ndim + 1, full);
    if (!a) return NULL;
    for (int i = 0; i < n; i++) {
        size_t size;
        unsigned char *buf = read_file(ctx, fn, paths[i], &size);
        int rc = buf ? zen_image_to_input(ctx, buf, size, paths[i], ndim, shape, opts, (float *)a->data + i * h * w * c) : -1;
        free(buf);
        if (rc != 0) {
            zen_array_free(a);
            return NULL;
        }
    }
    return a;
}
