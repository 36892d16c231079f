/* copy.c — strided block copy (see copy.h). */
#include "copy.h"
#include "loops.h"

#define MIN_TASK_ELEMS 16384

ZEN_TARGET_CLONES static void copy_row(uint32_t *restrict o, int64_t so, const uint32_t *restrict x, int64_t sx,
                                       int64_t n) {
    if (so == 1 && sx == 1) {
        memcpy(o, x, (size_t)n * sizeof *o);
    } else if (so == 1) {
        for (int64_t j = 0; j < n; j++) o[j] = x[j * sx];
    } else {
        for (int64_t j = 0; j < n; j++) o[j * so] = x[j * sx];
    }
}

void zen__copy_strided(void *dst, const int64_t *dst_stride, const void *src, const int64_t *src_stride,
                       int ndim, const int64_t *shape, zen_exec *ex) {
    int64_t sh[ZEN_MAX_DIMS], ds[ZEN_MAX_DIMS], ss[ZEN_MAX_DIMS], total = 1;
    int nd = 0;
    for (int d = 0; d < ndim; d++) {
        total *= shape[d];
        if (shape[d] == 1) continue; /* size-1 dims never move the index */
        if (nd > 0 && ds[nd - 1] == dst_stride[d] * shape[d] && ss[nd - 1] == src_stride[d] * shape[d]) {
            sh[nd - 1] *= shape[d];
            ds[nd - 1] = dst_stride[d];
            ss[nd - 1] = src_stride[d];
        } else {
            sh[nd] = shape[d];
            ds[nd] = dst_stride[d];
            ss[nd] = src_stride[d];
            nd++;
        }
    }
    if (total == 0) return;
    if (nd == 0) { /* one element */
        sh[0] = 1;
        ds[0] = ss[0] = 1;
        nd = 1;
    }
    const int rd = nd - 1;
    int64_t cols = sh[rd], rows = total / cols;
    int nt = zen__threads_for(ex, total);
    /* Few long rows: cut each row into chunks so every thread gets work. */
    int64_t chunks = 1, chunk = cols;
    if (nt > 1 && rows < 4 * nt && cols >= 2 * MIN_TASK_ELEMS) {
        chunks = (cols + MIN_TASK_ELEMS - 1) / MIN_TASK_ELEMS;
        chunk = (cols + chunks - 1) / chunks;
    }
    uint32_t *O = dst;
    const uint32_t *X = src;
    int64_t ntasks = rows * chunks;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
    for (int64_t k = 0; k < ntasks; k++) {
        int64_t r = k / chunks, c0 = (k % chunks) * chunk;
        int64_t n = cols - c0 < chunk ? cols - c0 : chunk;
        int64_t oo = zen__offset_of(r, rd, sh, ds) + c0 * ds[rd];
        int64_t ox = zen__offset_of(r, rd, sh, ss) + c0 * ss[rd];
        copy_row(O + oo, ds[rd], X + ox, ss[rd], n);
    }
}
