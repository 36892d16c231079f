/* blas.c — the one place zen calls a BLAS. Build option ZEN_BLAS picks the library:
 * oneDNN (dnnl_sgemm, row-major) or OpenBLAS (cblas_sgemm). Both use the GNU OpenMP
 * runtime, so they share zen's thread pool. */
#include "../../core/internal.h"

#if defined(ZEN_BLAS_DNNL)
#include <oneapi/dnnl/dnnl.h>
#elif defined(ZEN_BLAS_OPENBLAS)
#include <cblas.h>
#else
#error "define ZEN_BLAS_DNNL or ZEN_BLAS_OPENBLAS"
#endif

void zen__sgemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                const float *A, int64_t lda, const float *B, int64_t ldb, float beta, float *C,
                int64_t ldc) {
    if (M == 0 || N == 0) return;
#if defined(ZEN_BLAS_DNNL)
    dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#else
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
#endif
}
