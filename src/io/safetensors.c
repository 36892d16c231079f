/* safetensors.c — a strict reader and an atomic writer of safetensors files (see
 * safetensors.h for the layout). */
#define _GNU_SOURCE /* O_DIRECTORY */
#include "safetensors.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct { const char *name; int size; } dtypes[ST_DTYPE_COUNT] = {
    [ST_BOOL] = {"BOOL", 1}, [ST_U8] = {"U8", 1},     [ST_I8] = {"I8", 1},     [ST_I16] = {"I16", 2},
    [ST_U16] = {"U16", 2},   [ST_F16] = {"F16", 2},   [ST_BF16] = {"BF16", 2}, [ST_I32] = {"I32", 4},
    [ST_U32] = {"U32", 4},   [ST_F32] = {"F32", 4},   [ST_I64] = {"I64", 8},   [ST_U64] = {"U64", 8},
    [ST_F64] = {"F64", 8},
};

const char *st_dtype_name(st_dtype dt) { return dt >= 0 && dt < ST_DTYPE_COUNT ? dtypes[dt].name : "?"; }
int st_dtype_size(st_dtype dt) { return dt >= 0 && dt < ST_DTYPE_COUNT ? dtypes[dt].size : 0; }

int st_errorf(char *err, size_t n, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, n, fmt, ap);
    va_end(ap);
    return -1;
}

/* Numbers in the header are doubles to cJSON: integers are exact up to 2^53, far past any
 * real file, so larger or fractional values are refused rather than rounded. */
#define ST_MAX_INT 9007199254740992.0
static bool json_uint(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > ST_MAX_INT ||
        v->valuedouble != floor(v->valuedouble))
        return false;
    *out = (uint64_t)v->valuedouble;
    return true;
}

/* "[2, 3]" of a shape, shortened past a few dims. */
static const char *shape_text(const st_tensor *t, char *buf, size_t n) {
    snprintf(buf, n, "[");
    for (int d = 0; d < t->ndim && strlen(buf) + 24 < n; d++)
        snprintf(buf + strlen(buf), n - strlen(buf), "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    snprintf(buf + strlen(buf), n - strlen(buf), "]");
    return buf;
}

/* Reads one tensor entry's dtype, shape and offsets, and checks them against the data. */
static int parse_entry(const cJSON *e, st_tensor *t, uint64_t data_size, char *err, size_t n) {
    const char *name = t->name;
    if (!cJSON_IsObject(e)) return st_errorf(err, n, "tensor '%.100s' is not a JSON object", name);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(e, "dtype");
    if (!cJSON_IsString(dt)) return st_errorf(err, n, "tensor '%.100s' has no dtype", name);
    t->dtype = ST_DTYPE_COUNT;
    for (int k = 0; k < ST_DTYPE_COUNT; k++)
        if (!strcmp(dt->valuestring, dtypes[k].name)) t->dtype = (st_dtype)k;
    if (t->dtype == ST_DTYPE_COUNT)
        return st_errorf(err, n, "tensor '%.100s' has unknown dtype '%.20s' (known: BOOL, U8, I8, I16, U16, F16, BF16, "
                            "I32, U32, F32, I64, U64, F64)", name, dt->valuestring);
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(e, "shape");
    if (!cJSON_IsArray(shape)) return st_errorf(err, n, "tensor '%.100s' has no shape list", name);
    int nd = cJSON_GetArraySize(shape);
    if (nd > ST_MAX_DIMS) return st_errorf(err, n, "tensor '%.100s' has %d dimensions (at most %d)", name, nd, ST_MAX_DIMS);
    t->ndim = nd;
    uint64_t bytes = (uint64_t)st_dtype_size(t->dtype);
    bool overflow = false;
    const cJSON *v;
    int d = 0;
    cJSON_ArrayForEach(v, shape) {
        uint64_t dim;
        if (!json_uint(v, &dim))
            return st_errorf(err, n, "tensor '%.100s': shape must be a list of non-negative integers (dimension %d is not)",
                        name, d);
        t->shape[d++] = (int64_t)dim;
        overflow = overflow || __builtin_mul_overflow(bytes, dim, &bytes) || bytes > (uint64_t)INT64_MAX;
    }
    char sbuf[200];
    if (overflow)
        return st_errorf(err, n, "tensor '%.100s': shape %s is too large (its byte size overflows 64 bits)", name,
                    shape_text(t, sbuf, sizeof sbuf));
    const cJSON *offs = cJSON_GetObjectItemCaseSensitive(e, "data_offsets");
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 || !json_uint(cJSON_GetArrayItem(offs, 0), &t->begin) ||
        !json_uint(cJSON_GetArrayItem(offs, 1), &t->end))
        return st_errorf(err, n, "tensor '%.100s' needs data_offsets [begin, end] of non-negative integers", name);
    if (t->end < t->begin)
        return st_errorf(err, n, "tensor '%.100s' has data_offsets [%llu, %llu] that end before they begin", name,
                    (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end - t->begin != bytes)
        return st_errorf(err, n, "tensor '%.100s' has data_offsets [%llu, %llu] (%llu bytes) but %s %s needs %llu bytes",
                    name, (unsigned long long)t->begin, (unsigned long long)t->end,
                    (unsigned long long)(t->end - t->begin), dtypes[t->dtype].name, shape_text(t, sbuf, sizeof sbuf),
                    (unsigned long long)bytes);
    if (t->end > data_size)
        return st_errorf(err, n, "tensor '%.100s' has data_offsets [%llu, %llu] past the end of the %llu data bytes "
                            "(truncated?)", name, (unsigned long long)t->begin, (unsigned long long)t->end,
                    (unsigned long long)data_size);
    return 0;
}

static int by_begin(const void *a, const void *b) {
    const st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const st_tensor *const *)a)->name, (*(const st_tensor *const *)b)->name);
}

int st_parse(const unsigned char *buf, size_t size, st_file *f, char *err, size_t n) {
    memset(f, 0, sizeof *f);
    if (size < 8) return st_errorf(err, n, "the file is %zu bytes, too short to be a model file (truncated?)", size);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > ST_MAX_HEADER)
        return st_errorf(err, n, "header length %llu is larger than the limit of %llu bytes (not a safetensors file?)",
                    (unsigned long long)hlen, ST_MAX_HEADER);
    if (hlen > size - 8)
        return st_errorf(err, n, "header length %llu is past the end of the file (%zu bytes follow it; truncated?)",
                    (unsigned long long)hlen, size - 8);
    if (hlen < 2) return st_errorf(err, n, "header length %llu is too small for a JSON header", (unsigned long long)hlen);
    const char *h = (const char *)buf + 8;
    if (h[0] != '{')
        return st_errorf(err, n, "the header is not a JSON object (its first byte is 0x%02x; not a safetensors file?)",
                    (unsigned char)h[0]);
    const char *end = NULL;
    f->header = cJSON_ParseWithLengthOpts(h, (size_t)hlen, &end, false);
    if (!f->header) {
        size_t at = end && end >= h && end <= h + hlen ? (size_t)(end - h) : 0;
        return st_errorf(err, n, "the header is not valid JSON (error near byte %zu of %llu)", at, (unsigned long long)hlen);
    }
    if (!cJSON_IsObject(f->header)) return st_free(f), st_errorf(err, n, "the header is not a JSON object");
    for (const char *p = end; p < h + hlen; p++)
        if (*p != ' ') /* the format allows only space padding after the object */
            return st_free(f), st_errorf(err, n, "the header has data after its JSON object (byte %zu is 0x%02x)",
                                    (size_t)(p - h), (unsigned char)*p);
    f->data_size = size - 8 - hlen;
    const unsigned char *data = buf + 8 + hlen;

    int count = cJSON_GetArraySize(f->header);
    f->tensors = calloc((size_t)(count ? count : 1), sizeof *f->tensors);
    if (!f->tensors) return st_free(f), st_errorf(err, n, "out of memory");
    const cJSON *e;
    cJSON_ArrayForEach(e, f->header) {
        if (!strcmp(e->string, "__metadata__")) {
            if (f->metadata) return st_free(f), st_errorf(err, n, "__metadata__ appears twice in the header");
            if (!cJSON_IsObject(e)) return st_free(f), st_errorf(err, n, "__metadata__ is not a JSON object");
            const cJSON *kv;
            cJSON_ArrayForEach(kv, e) if (!cJSON_IsString(kv)) {
                st_errorf(err, n, "__metadata__ value '%.100s' is not a string (the format allows only strings)", kv->string);
                return st_free(f), -1; /* after the message: it points into the header */
            }
            f->metadata = (cJSON *)e;
            continue;
        }
        st_tensor *t = &f->tensors[f->ntensors];
        t->name = e->string;
        if (parse_entry(e, t, f->data_size, err, n) != 0) return st_free(f), -1;
        t->data = data + t->begin;
        f->ntensors++;
    }
    /* Names are unique: sort pointers by name and compare neighbours. */
    const st_tensor **names = malloc((size_t)(f->ntensors ? f->ntensors : 1) * sizeof *names);
    if (!names) return st_free(f), st_errorf(err, n, "out of memory");
    for (int i = 0; i < f->ntensors; i++) names[i] = &f->tensors[i];
    qsort(names, (size_t)f->ntensors, sizeof *names, by_name);
    for (int i = 1; i < f->ntensors; i++)
        if (!strcmp(names[i]->name, names[i - 1]->name)) {
            st_errorf(err, n, "tensor '%.100s' appears twice in the header", names[i]->name);
            free(names);
            return st_free(f), -1;
        }
    free(names);
    /* The tensors tile the data exactly, in any order: sort by offset and walk it. */
    st_tensor *sorted = malloc((size_t)(f->ntensors ? f->ntensors : 1) * sizeof *sorted);
    if (!sorted) return st_free(f), st_errorf(err, n, "out of memory");
    memcpy(sorted, f->tensors, (size_t)f->ntensors * sizeof *sorted);
    qsort(sorted, (size_t)f->ntensors, sizeof *sorted, by_begin);
    uint64_t covered = 0;
    const st_tensor *prev = NULL;
    int rc = 0;
    for (int i = 0; i < f->ntensors && !rc; i++) {
        const st_tensor *t = &sorted[i];
        if (t->begin == t->end) continue; /* empty tensors take no bytes */
        if (t->begin < covered)
            rc = st_errorf(err, n, "tensors '%.100s' [%llu, %llu] and '%.100s' [%llu, %llu] overlap", prev->name,
                      (unsigned long long)prev->begin, (unsigned long long)prev->end, t->name,
                      (unsigned long long)t->begin, (unsigned long long)t->end);
        else if (t->begin > covered)
            rc = st_errorf(err, n, "data bytes [%llu, %llu) belong to no tensor (the offsets leave a gap before '%.100s')",
                      (unsigned long long)covered, (unsigned long long)t->begin, t->name);
        covered = t->end;
        prev = t;
    }
    free(sorted);
    if (!rc && covered != f->data_size)
        rc = st_errorf(err, n, "data bytes [%llu, %llu) at the end of the file belong to no tensor",
                  (unsigned long long)covered, (unsigned long long)f->data_size);
    if (rc) st_free(f);
    return rc;
}

void st_free(st_file *f) {
    cJSON_Delete(f->header);
    free(f->tensors);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    for (int i = 0; i < f->ntensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *st_meta(const st_file *f, const char *key) {
    return cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(f->metadata, key));
}

/* ---- writing ---- */

void st_writer_init(st_writer *w) {
    memset(w, 0, sizeof *w);
    w->metadata = cJSON_CreateObject();
}

void st_writer_meta(st_writer *w, const char *key, const char *value) {
    cJSON_DeleteItemFromObjectCaseSensitive(w->metadata, key);
    cJSON_AddStringToObject(w->metadata, key, value);
}

int st_writer_add(st_writer *w, const char *name, st_dtype dt, int ndim, const int64_t *shape, const void *data) {
    if (w->n == w->cap) {
        int cap = w->cap ? 2 * w->cap : 64;
        void *p = realloc(w->out, (size_t)cap * sizeof *w->out);
        if (!p) return -1;
        w->out = p;
        w->cap = cap;
    }
    struct st_out *o = &w->out[w->n++];
    snprintf(o->name, sizeof o->name, "%s", name);
    o->dtype = dt;
    o->ndim = ndim;
    o->bytes = (size_t)st_dtype_size(dt);
    for (int d = 0; d < ndim; d++) {
        o->shape[d] = shape[d];
        o->bytes *= (size_t)shape[d];
    }
    o->data = data;
    return 0;
}

void st_writer_free(st_writer *w) {
    cJSON_Delete(w->metadata);
    free(w->out);
    memset(w, 0, sizeof *w);
}

static int write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n) {
        ssize_t k = write(fd, p, n > (1u << 30) ? (1u << 30) : n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Temporary files are ".<name>.<pid>-<n>.tmp" beside the target: hidden, never ending in
 * .zen, so nothing takes one for a model. A save killed midway leaves one behind; the next
 * save of the same path removes those whose process is gone. */
static void remove_stale_temps(const char *dir, const char *base) {
    DIR *d = opendir(dir);
    if (!d) return;
    size_t bl = strlen(base);
    for (struct dirent *e; (e = readdir(d));) {
        const char *s = e->d_name;
        if (s[0] != '.' || strncmp(s + 1, base, bl) || s[1 + bl] != '.') continue;
        char *rest;
        long pid = strtol(s + 2 + bl, &rest, 10);
        if (pid <= 0 || *rest != '-' || strlen(rest) < 5 || strcmp(rest + strlen(rest) - 4, ".tmp")) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue; /* its writer may still be running */
        char full[4096 + 512];
        snprintf(full, sizeof full, "%s/%s", dir, s);
        unlink(full);
    }
    closedir(d);
}

int st_write(st_writer *w, const char *path, char *err, size_t n) {
    cJSON *header = cJSON_CreateObject();
    if (!header) return st_errorf(err, n, "out of memory");
    cJSON_AddItemReferenceToObject(header, "__metadata__", w->metadata);
    uint64_t offset = 0;
    for (int i = 0; i < w->n; i++) {
        struct st_out *o = &w->out[i];
        cJSON *e = cJSON_AddObjectToObject(header, o->name);
        cJSON_AddStringToObject(e, "dtype", st_dtype_name(o->dtype));
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        for (int d = 0; d < o->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)o->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(offset + o->bytes)));
        offset += o->bytes;
    }
    char *text = cJSON_PrintUnformatted(header);
    cJSON_Delete(header);
    if (!text) return st_errorf(err, n, "out of memory");
    size_t hlen = strlen(text), padded = (hlen + 7) / 8 * 8; /* the data starts 8-byte aligned */

    char dir[4096], base[1024];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    if (slash && slash == path) snprintf(dir, sizeof dir, "/");
    snprintf(base, sizeof base, "%s", slash ? slash + 1 : path);
    remove_stale_temps(dir, base);
    static int counter; /* distinct names for saves from several threads of one process */
    char tmp[8192];
    snprintf(tmp, sizeof tmp, "%s/.%s.%ld-%d.tmp", dir, base, (long)getpid(), __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        int e = errno;
        free(text);
        return st_errorf(err, n, "cannot write %s: creating %s failed: %s", path, tmp, strerror(e));
    }
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    int rc = write_all(fd, len8, 8) || write_all(fd, text, hlen) || write_all(fd, "        ", padded - hlen);
    free(text);
    for (int i = 0; i < w->n && !rc; i++) rc = write_all(fd, w->out[i].data, w->out[i].bytes);
    int e = errno;
    if (!rc && fsync(fd) != 0) rc = -1, e = errno;
    if (close(fd) != 0 && !rc) rc = -1, e = errno;
    if (!rc && rename(tmp, path) != 0) rc = -1, e = errno;
    if (rc) {
        unlink(tmp);
        return st_errorf(err, n, "writing %s failed: %s", path, strerror(e));
    }
    /* the rename itself is durable once the directory is synced */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    return 0;
}
