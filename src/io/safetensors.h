/* safetensors.h — reading and writing safetensors files, the container of zen's model
 * files and checkpoints (https://github.com/huggingface/safetensors, "Format"):
 *
 *   8 bytes    N, the header length, unsigned little-endian
 *   N bytes    a JSON object: {"__metadata__": {string: string, ...},
 *                              "<tensor name>": {"dtype": "F32", "shape": [2, 3],
 *                                                "data_offsets": [begin, end]}, ...}
 *              (may end in spaces; zen pads it so the data starts on an 8-byte boundary)
 *   the rest   the tensor bytes, little-endian, C order; offsets are relative to the
 *              start of this buffer, and the tensors tile it exactly: no gaps, no overlaps.
 *
 * The reader checks all of this before anything uses the file, so a hostile file gives
 * one clear error and never an out-of-bounds read or an overflowing size. */
#ifndef ZEN_SAFETENSORS_H
#define ZEN_SAFETENSORS_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Headers larger than this are refused (the safetensors library's limit too). */
#define ST_MAX_HEADER 100000000ULL
#define ST_MAX_DIMS 16

typedef enum st_dtype { ST_BOOL, ST_U8, ST_I8, ST_I16, ST_U16, ST_F16, ST_BF16, ST_I32, ST_U32, ST_F32, ST_I64,
                        ST_U64, ST_F64, ST_DTYPE_COUNT } st_dtype;
const char *st_dtype_name(st_dtype dt);
int st_dtype_size(st_dtype dt);

typedef struct st_tensor {
    const char *name; /* points into the parsed header */
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    uint64_t begin, end; /* data_offsets */
    const unsigned char *data; /* begin's byte in the file buffer */
} st_tensor;

typedef struct st_file {
    cJSON *header;   /* the parsed header (owns the names) */
    cJSON *metadata; /* __metadata__ or NULL; every value is a string */
    st_tensor *tensors;
    int ntensors;
    uint64_t data_size;
} st_file;

/* Parses and checks buf[0..size): frame, JSON, dtypes, shapes, offsets. On error returns -1
 * with a message in err ("the header is not valid JSON (near byte 17)", ...); the caller
 * adds the file name. f->tensors[i].data point into buf, which must outlive f. */
int st_parse(const unsigned char *buf, size_t size, st_file *f, char *err, size_t errlen);
void st_free(st_file *f);
/* Writes the message into err[0..n) and returns -1: the error style of these functions. */
int st_errorf(char *err, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const st_tensor *st_find(const st_file *f, const char *name);
const char *st_meta(const st_file *f, const char *key); /* a metadata string or NULL */

/* A file being written: add tensors (their data must stay valid until st_write), then write
 * it atomically: a temporary file in the same directory, fsync, rename over path, fsync of
 * the directory. A crash at any moment leaves either the old file or the new one. The one
 * piece of global state is an atomic counter that keeps temporary names distinct when
 * threads of one process save at the same time. */
typedef struct st_writer {
    cJSON *metadata;
    struct st_out { char name[160]; st_dtype dtype; int ndim; int64_t shape[ST_MAX_DIMS]; const void *data; size_t bytes; } *out;
    int n, cap;
} st_writer;
void st_writer_init(st_writer *w);
void st_writer_meta(st_writer *w, const char *key, const char *value);
int st_writer_add(st_writer *w, const char *name, st_dtype dt, int ndim, const int64_t *shape, const void *data);
/* Returns 0, or -1 with errno-based text in err. */
int st_write(st_writer *w, const char *path, char *err, size_t errlen);
void st_writer_free(st_writer *w);

#endif
