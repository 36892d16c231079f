/*
 * data.h — what the data loaders (src/data/) share: a reader over plain or gzip files that
 * knows how much data a file can still hold, and conversion of stored values to f32/i32.
 *
 * Every error is recorded with zen__fail as "<fn>: <path>: <problem>".
 */
#ifndef ZEN_DATA_H
#define ZEN_DATA_H

#include "../core/internal.h"

#include <stdio.h>
#include <zlib.h>

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "zen's data loaders assume a little-endian host"
#endif

/* A file opened for reading, plain or gzip (chosen by its first two bytes). */
typedef struct zen__reader {
    zen_ctx *ctx;
    const char *fn;     /* the public function, for messages */
    const char *path;
    FILE *fp;           /* plain files */
    gzFile gz;          /* gzip files */
    bool gzip;
    uint64_t file_size; /* bytes on disk */
    uint64_t pos;       /* content bytes read so far (decompressed for gzip) */
} zen__reader;

/* Opens path; records an error and returns -1 when it cannot. */
int zen__reader_open(zen__reader *r, zen_ctx *ctx, const char *fn, const char *path);
void zen__reader_close(zen__reader *r);
/* Reads up to n bytes; returns how many (fewer only at the end of the content), or -1
 * after recording an I/O or decompression error. */
int64_t zen__reader_read_some(zen__reader *r, void *buf, size_t n);
/* Reads exactly n bytes, or records "truncated: <what> ..." and returns -1. */
int zen__reader_read(zen__reader *r, void *buf, size_t n, const char *what);
/* Checks that `need` more content bytes could be in the file (exact for plain files; for
 * gzip, bounded by deflate's largest compression ratio); records an error naming `what`
 * and returns -1 when they cannot. */
int zen__reader_can_hold(zen__reader *r, uint64_t need, const char *what);
/* Checks that no content byte is left (records "N unexpected bytes after ..." if some are). */
int zen__reader_expect_end(zen__reader *r, const char *what);
/* Reads the whole remaining content into a new malloc'd buffer with a NUL appended. */
char *zen__reader_slurp(zen__reader *r, size_t *size);

/* Stored value types of IDX and NPY files. */
typedef enum zen__stype {
    ZEN__U8,
    ZEN__I8,
    ZEN__I16,
    ZEN__I32,
    ZEN__I64,
    ZEN__F32,
    ZEN__F64,
} zen__stype;

size_t zen__stype_size(zen__stype t);
const char *zen__stype_name(zen__stype t);
/* Checks that values of type t can be loaded as dt with the given flags (records an error
 * naming fn and path otherwise). */
int zen__check_conversion(zen_ctx *ctx, const char *fn, const char *path, zen__stype t, zen_dtype dt,
                          int flags);
/* Reads `count` stored values (big-endian when big_endian) from r and converts them into
 * dst (dt f32 or i32), in chunks, without a full-size temporary. Returns 0 or -1. */
int zen__read_values(zen__reader *r, zen__stype t, bool big_endian, int64_t count, zen_dtype dt, int flags,
                     void *dst);

/* Bytes of numel elements of dt (f32/i32), or -1 on overflow. Product of dims with
 * overflow check: -1 when it does not fit in int64. */
int64_t zen__shape_numel(int ndim, const int64_t *shape);
/* An array whose data is allocated but not zeroed; NULL (and an error naming fn) on failure. */
zen_array *zen__array_alloc(zen_ctx *ctx, const char *fn, zen_dtype dt, int ndim, const int64_t *shape);
/* Writes "[2, 3, 4]" into buf (at most size bytes); returns buf. */
char *zen__shape_fmt(char *buf, size_t size, int ndim, const int64_t *shape);
/* Elements of one sample (product of shape[1..]); 1 for 1-d arrays. */
int64_t zen__row_numel(const zen_array *a);

#endif /* ZEN_DATA_H */
