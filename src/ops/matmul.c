/* matmul.c — matrix products: zen_matmul (torch.matmul with transpose flags) and
 * zen_linear (x·wᵀ + b), both one MATMUL node that calls zen__sgemm.
 *
 * A MATMUL node is out[..., M, N] = op(a)[..., M, K] · op(b)[..., K, N] (+ bias[N]), where
 * op transposes the last two dims when ip[0] (a) or ip[1] (b) is set. Batch dims (all but
 * the last two) broadcast as in NumPy. Inputs are read in place whenever BLAS can: the
 * inner matrix of each operand may be row-major or column-major (a zen_transpose view of
 * the last two dims) with any row stride, and the batch dims may have any strides
 * (including 0 for broadcast). Only layouts BLAS cannot express get a zen_contiguous copy.
 *
 * The kernel folds the batch into the rows when b is the same matrix for every batch and
 * a's rows follow each other at one stride (x[B, T, K] · w: one [B*T, K] sgemm). Otherwise
 * it runs one sgemm per batch: in parallel over batches when the matrices are small (BLAS
 * called inside an OpenMP region runs single-threaded; see TINY/SMALL_GEMM_MACS), else one
 * after another, each with all threads. The bias is written into C first and the sgemm accumulates onto it (beta 1).
 *
 * 1-D inputs follow torch.matmul: a 1-D a is a row vector [1, K] and a 1-D b a column
 * [K, 1], and that dim is dropped from the result (two 1-D inputs give a 0-d dot product).
 * A transpose flag on a 1-D input is an error. */
#include "../core/internal.h"
#include "loops.h"

#include <omp.h>

/* When to run a batch of matrices in parallel, one sgemm per thread, rather than one at
 * a time with all threads inside BLAS (measured on 2 Zen4 cores with oneDNN, batch of 8,
 * bench/matmul.c: per-thread sgemms give 187 vs 89 GFLOP/s at 64³, 222 vs 187 at 128³,
 * 221 vs 209 at 256³). Tiny matrices (up to TINY multiply-adds M*N*K) always go per
 * thread: BLAS gains little from threads there. Up to SMALL they go per thread when the
 * batches divide evenly among the threads or are many; larger ones use BLAS threads. */
#ifndef TINY_GEMM_MACS
#define TINY_GEMM_MACS ((int64_t)1 << 18)
#endif
#ifndef SMALL_GEMM_MACS
#define SMALL_GEMM_MACS ((int64_t)1 << 24)
#endif

/* How BLAS reads the stored inner matrix (the last two dims) of t: row-major with row
 * stride *ld (*colmajor false), or column-major with column stride *ld (*colmajor true,
 * i.e. the row-major transpose). False when neither fits (a copy is needed). */
static bool inner_layout(const zen_tensor *t, bool *colmajor, int64_t *ld) {
    int nd = t->ndim;
    int64_t R = t->shape[nd - 2], C = t->shape[nd - 1];
    int64_t sr = t->stride[nd - 2], sc = t->stride[nd - 1];
    int64_t minC = C > 1 ? C : 1, minR = R > 1 ? R : 1;
    if (R == 0 || C == 0) { /* nothing is read */
        *colmajor = false;
        *ld = minC;
        return true;
    }
    if ((C <= 1 || sc == 1) && (R <= 1 || sr >= minC)) {
        *colmajor = false;
        *ld = R <= 1 ? minC : sr;
        return true;
    }
    if ((R <= 1 || sr == 1) && (C <= 1 || sc >= minR)) {
        *colmajor = true;
        *ld = C <= 1 ? minR : sc;
        return true;
    }
    return false;
}

/* t itself when BLAS can read it in place, else a dense copy. */
static zen_tensor *blas_ready(zen_ctx *ctx, zen_tensor *t) {
    bool cm;
    int64_t ld;
    if (!t) return NULL;
    return inner_layout(t, &cm, &ld) ? t : zen_contiguous(ctx, t);
}

/* The MATMUL node for a, b with ndim >= 2. fn names the public function for errors. */
static zen_tensor *matmul_node(zen_ctx *ctx, const char *fn, zen_tensor *a, zen_tensor *b, bool ta,
                               bool tb, zen_tensor *bias) {
    if (!a || !b) return NULL;
    int na = a->ndim, nbd = b->ndim;
    int64_t M = ta ? a->shape[na - 1] : a->shape[na - 2];
    int64_t Ka = ta ? a->shape[na - 2] : a->shape[na - 1];
    int64_t Kb = tb ? b->shape[nbd - 1] : b->shape[nbd - 2];
    int64_t N = tb ? b->shape[nbd - 2] : b->shape[nbd - 1];
    if (Ka != Kb) {
        char sa[128], sb[128];
        return zen__fail(ctx, "%s: a %s%s and b %s%s do not fit: a has %lld columns, b has %lld rows", fn,
                         zen_shape_str(a, sa, sizeof sa), ta ? " (transposed)" : "",
                         zen_shape_str(b, sb, sizeof sb), tb ? " (transposed)" : "", (long long)Ka,
                         (long long)Kb);
    }
    int bat_a = na - 2, bat_b = nbd - 2;
    int nb = bat_a > bat_b ? bat_a : bat_b;
    int64_t shape[ZEN_MAX_DIMS];
    for (int i = 0; i < nb; i++) {
        int da = bat_a - nb + i, db = bat_b - nb + i;
        int64_t sa = da >= 0 ? a->shape[da] : 1, sb = db >= 0 ? b->shape[db] : 1;
        if (sa != sb && sa != 1 && sb != 1) {
            char ba[128], bb[128];
            return zen__fail(ctx, "%s: batch dims of a %s and b %s cannot be broadcast together", fn,
                             zen_shape_str(a, ba, sizeof ba), zen_shape_str(b, bb, sizeof bb));
        }
        shape[i] = sa == 1 ? sb : sa;
    }
    shape[nb] = M;
    shape[nb + 1] = N;
    a = blas_ready(ctx, a);
    b = blas_ready(ctx, b);
    if (!a || !b) return NULL;
    zen_tensor *t = zen__node(ctx, ZEN_OP_MATMUL, ZEN_F32, nb + 2, shape, a, b, bias, NULL);
    if (!t) return NULL;
    t->ip[0] = ta;
    t->ip[1] = tb;
    return t;
}

zen_tensor *zen_matmul(zen_ctx *ctx, zen_tensor *a, zen_tensor *b, bool trans_a, bool trans_b) {
    if (!a || !b) return NULL;
    if (!zen__check_f32(ctx, "zen_matmul", "a", a) || !zen__check_f32(ctx, "zen_matmul", "b", b)) return NULL;
    if (a->ndim == 0 || b->ndim == 0)
        return zen__fail(ctx, "zen_matmul: a and b need at least 1 dim, got %d and %d", a->ndim, b->ndim);
    if ((a->ndim == 1 && trans_a) || (b->ndim == 1 && trans_b))
        return zen__fail(ctx, "zen_matmul: trans_%s needs a matrix, but %s is 1-D", a->ndim == 1 && trans_a ? "a" : "b",
                         a->ndim == 1 && trans_a ? "a" : "b");
    bool vec_a = a->ndim == 1, vec_b = b->ndim == 1;
    if (vec_a) a = zen_reshape(ctx, a, 2, (int64_t[]){1, a->shape[0]});
    if (vec_b) b = zen_reshape(ctx, b, 2, (int64_t[]){b->shape[0], 1});
    zen_tensor *t = matmul_node(ctx, "zen_matmul", a, b, trans_a, trans_b, NULL);
    if (!t || (!vec_a && !vec_b)) return t;
    /* drop the dims that the 1-D inputs added */
    int64_t shape[ZEN_MAX_DIMS];
    int nd = 0;
    for (int d = 0; d < t->ndim - 2; d++) shape[nd++] = t->shape[d];
    if (!vec_a) shape[nd++] = t->shape[t->ndim - 2];
    if (!vec_b) shape[nd++] = t->shape[t->ndim - 1];
    return zen_reshape(ctx, t, nd, shape);
}

zen_tensor *zen_linear(zen_ctx *ctx, zen_tensor *x, zen_tensor *w, zen_tensor *b) {
    if (!x || !w) return NULL;
    const char *fn = "zen_linear";
    if (!zen__check_f32(ctx, fn, "x", x) || !zen__check_f32(ctx, fn, "w", w)) return NULL;
    if (b && !zen__check_f32(ctx, fn, "b", b)) return NULL;
    char sx[128], sw[128];
    if (w->ndim != 2) return zen__fail(ctx, "%s: w must have 2 dims [out, in], got %s", fn, zen_shape_str(w, sw, sizeof sw));
    if (x->ndim == 0) return zen__fail(ctx, "%s: x must have at least 1 dim [..., in], got a 0-d tensor", fn);
    int64_t out = w->shape[0], in = w->shape[1];
    if (x->shape[x->ndim - 1] != in)
        return zen__fail(ctx, "%s: x %s has %lld features in its last dim, but w %s expects %lld", fn,
                         zen_shape_str(x, sx, sizeof sx), (long long)x->shape[x->ndim - 1],
                         zen_shape_str(w, sw, sizeof sw), (long long)in);
    if (b && (b->ndim != 1 || b->shape[0] != out))
        return zen__fail(ctx, "%s: b must be [out] = [%lld], got %s", fn, (long long)out, zen_shape_str(b, sx, sizeof sx));
    if (x->ndim == 1) {
        zen_tensor *t = matmul_node(ctx, fn, zen_reshape(ctx, x, 2, (int64_t[]){1, in}), w, false, true, b);
        return t ? zen_reshape(ctx, t, 1, &out) : NULL;
    }
    return matmul_node(ctx, fn, x, w, false, true, b);
}

/* ---- kernel ---- */

/* A few rows times a transposed B — C[m, n] = bias[n] + sum_k A[m, k] B[n, k] for M <= 4:
 * a Dense layer at batch 1..4 (inference). The product is bound by reading B once (the
 * MNIST model's 128 x 5408 weight: 2.8 MB, from L3), and BLAS libraries handle it as a
 * general product; this kernel streams 4 rows of B at a time against the M rows of A in
 * registers (4M accumulators of 16 lanes), with threads taking blocks of B's rows.
 * oneDNN took 35-60 us for that weight at M = 1 on Zen4, this ~25 us. */
#define SMALL_M 4
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define ZEN_MATMUL_AVX512 1

__attribute__((target("avx512f"), always_inline)) static inline void rows_nt_k(
    const int M, const float *restrict A, int64_t lda, const float *restrict B, int64_t ldb, int64_t nr, int64_t K,
    float *restrict acc /* [M][4] */) {
    __m512 s[SMALL_M][4];
    for (int m = 0; m < M; m++)
        for (int r = 0; r < 4; r++) s[m][r] = _mm512_setzero_ps();
    const float *b0 = B, *b1 = nr > 1 ? B + ldb : B, *b2 = nr > 2 ? B + 2 * ldb : B, *b3 = nr > 3 ? B + 3 * ldb : B;
    int64_t k = 0;
    for (; k + 16 <= K; k += 16) {
        __m512 w0 = _mm512_loadu_ps(b0 + k), w1 = _mm512_loadu_ps(b1 + k), w2 = _mm512_loadu_ps(b2 + k),
               w3 = _mm512_loadu_ps(b3 + k);
        for (int m = 0; m < M; m++) {
            __m512 a = _mm512_loadu_ps(A + m * lda + k);
            s[m][0] = _mm512_fmadd_ps(a, w0, s[m][0]);
            s[m][1] = _mm512_fmadd_ps(a, w1, s[m][1]);
            s[m][2] = _mm512_fmadd_ps(a, w2, s[m][2]);
            s[m][3] = _mm512_fmadd_ps(a, w3, s[m][3]);
        }
    }
    if (k < K) {
        __mmask16 t = (__mmask16)((1u << (K - k)) - 1);
        __m512 w0 = _mm512_maskz_loadu_ps(t, b0 + k), w1 = _mm512_maskz_loadu_ps(t, b1 + k),
               w2 = _mm512_maskz_loadu_ps(t, b2 + k), w3 = _mm512_maskz_loadu_ps(t, b3 + k);
        for (int m = 0; m < M; m++) {
            __m512 a = _mm512_maskz_loadu_ps(t, A + m * lda + k);
            s[m][0] = _mm512_fmadd_ps(a, w0, s[m][0]);
            s[m][1] = _mm512_fmadd_ps(a, w1, s[m][1]);
            s[m][2] = _mm512_fmadd_ps(a, w2, s[m][2]);
            s[m][3] = _mm512_fmadd_ps(a, w3, s[m][3]);
        }
    }
    for (int m = 0; m < M; m++)
        for (int r = 0; r < 4; r++) acc[m * 4 + r] = _mm512_reduce_add_ps(s[m][r]);
}

__attribute__((target("avx512f"))) static void small_m_nt_rows(int M, const float *A, int64_t lda, const float *B,
                                                               int64_t ldb, const float *bias, float *C, int64_t ldc,
                                                               int64_t n0, int64_t n1, int64_t K) {
    for (int64_t n = n0; n < n1; n += 4) {
        int64_t nr = n1 - n < 4 ? n1 - n : 4;
        float acc[SMALL_M * 4];
        switch (M) {
        case 1: rows_nt_k(1, A, lda, B + n * ldb, ldb, nr, K, acc); break;
        case 2: rows_nt_k(2, A, lda, B + n * ldb, ldb, nr, K, acc); break;
        case 3: rows_nt_k(3, A, lda, B + n * ldb, ldb, nr, K, acc); break;
        default: rows_nt_k(4, A, lda, B + n * ldb, ldb, nr, K, acc); break;
        }
        for (int m = 0; m < M; m++)
            for (int64_t r = 0; r < nr; r++) C[m * ldc + n + r] = (bias ? bias[n + r] : 0.0f) + acc[m * 4 + r];
    }
}
#endif

/* -1 (default): the small-M kernel where the CPU has AVX-512; 0: BLAS (tests). */
int zen__matmul_simd = -1;

/* Runs C = A·Bᵀ (+ bias) with the small-M kernel and returns true, or returns false when
 * it does not apply. */
static bool small_m_nt(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                       const float *B, int64_t ldb, const float *bias, float *C, int nt) {
#ifdef ZEN_MATMUL_AVX512
    const bool have = __builtin_cpu_supports("avx512f"); /* a load of libgcc's CPU model: no cache, no race */
    if (!have || zen__matmul_simd == 0 || ta || !tb || M < 1 || M > SMALL_M || K < 64 || N * K < 16384) return false;
    int64_t blocks = (N + 3) / 4;
    if (nt > blocks) nt = (int)blocks;
    if (N * K < 262144) nt = 1;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        int t = omp_get_thread_num(), n = omp_get_num_threads();
        int64_t b0 = blocks * t / n, b1 = blocks * (t + 1) / n;
        small_m_nt_rows((int)M, A, lda, B, ldb, bias, C, N, 4 * b0, 4 * b1 < N ? 4 * b1 : N, K);
    }
    return true;
#else
    (void)ta, (void)tb, (void)M, (void)N, (void)K, (void)A, (void)lda, (void)B, (void)ldb, (void)bias, (void)C, (void)nt;
    return false;
#endif
}

/* One row-major sgemm C[M,N] = op(A)·op(B) (+ bias rows), with nt threads for the fill. */
static void gemm_one(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float *A, int64_t lda,
                     const float *B, int64_t ldb, const float *bias, float *C, int nt) {
    if (small_m_nt(ta, tb, M, N, K, A, lda, B, ldb, bias, C, nt)) return;
    if (bias || K == 0) {
        if (M * N < 32768) nt = 1;
#pragma omp parallel for num_threads(nt) schedule(static) if (nt > 1)
        for (int64_t i = 0; i < M; i++) {
            float *c = C + i * N;
            if (bias) memcpy(c, bias, (size_t)N * sizeof *c);
            else memset(c, 0, (size_t)N * sizeof *c);
        }
        if (K == 0) return;
    }
    zen__sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, bias ? 1.0f : 0.0f, C, N);
}

static void matmul_forward(zen_tensor *out, zen_exec *ex) {
    const zen_tensor *a = out->src[0], *b = out->src[1], *bias = out->src[2];
    const int nd = out->ndim, nb = nd - 2;
    const int64_t M = out->shape[nd - 2], N = out->shape[nd - 1];
    const int64_t K = out->ip[0] ? a->shape[a->ndim - 2] : a->shape[a->ndim - 1];
    bool cma, cmb;
    int64_t lda, ldb;
    inner_layout(a, &cma, &lda); /* the constructor made sure both fit */
    inner_layout(b, &cmb, &ldb);
    const bool ta = (bool)out->ip[0] != cma, tb = (bool)out->ip[1] != cmb;
    /* batch strides of a and b over out's batch dims (0 where broadcast) */
    int64_t sa[ZEN_MAX_DIMS], sb[ZEN_MAX_DIMS], nbatch = 1;
    bool b_shared = true;
    for (int i = 0; i < nb; i++) {
        int da = a->ndim - 2 - nb + i, db = b->ndim - 2 - nb + i;
        sa[i] = (da < 0 || a->shape[da] == 1) ? 0 : a->stride[da];
        sb[i] = (db < 0 || b->shape[db] == 1) ? 0 : b->stride[db];
        if (sb[i] != 0 && out->shape[i] != 1) b_shared = false;
        nbatch *= out->shape[i];
    }
    const float *A = a->data, *B = b->data, *bs = bias ? bias->data : NULL;
    float *C = out->data;
    if (M == 0 || N == 0 || nbatch == 0) return;
    const int nt = ex->nthreads;

    /* One sgemm over all batches when b is shared and a's rows are evenly spaced. */
    if (nbatch > 1 && b_shared && !ta) {
        int64_t expect = M * lda;
        bool fold = true;
        for (int i = nb - 1; i >= 0 && fold; i--) {
            if (out->shape[i] == 1) continue;
            fold = sa[i] == expect;
            expect *= out->shape[i];
        }
        if (fold) {
            gemm_one(ta, tb, nbatch * M, N, K, A, lda, B, ldb, bs, C, nt);
            return;
        }
    }
    if (nbatch == 1) {
        gemm_one(ta, tb, M, N, K, A, lda, B, ldb, bs, C, nt);
        return;
    }
    const int64_t macs = M * N * K;
    const bool per_thread = macs <= TINY_GEMM_MACS ||
                            (macs <= SMALL_GEMM_MACS && (nbatch % nt == 0 || nbatch >= 4 * (int64_t)nt));
    if (nt > 1 && per_thread) {
#pragma omp parallel for num_threads(nt) schedule(static)
        for (int64_t i = 0; i < nbatch; i++)
            gemm_one(ta, tb, M, N, K, A + zen__offset_of(i, nb, out->shape, sa), lda,
                     B + zen__offset_of(i, nb, out->shape, sb), ldb, bs, C + i * M * N, 1);
    } else {
        for (int64_t i = 0; i < nbatch; i++)
            gemm_one(ta, tb, M, N, K, A + zen__offset_of(i, nb, out->shape, sa), lda,
                     B + zen__offset_of(i, nb, out->shape, sb), ldb, bs, C + i * M * N, nt);
    }
}

/* ---- backward ----
 * With A' = op(a), B' = op(b) and C = A'·B': dA' = dC·B'ᵀ and dB' = A'ᵀ·dC; for a
 * transposed operand the stored gradient is the transpose of that, which is again one
 * matmul with suitable flags. Gradients come out at the broadcast batch shape and
 * zen__accum_grad sums them down to each input's shape. */
static void matmul_backward(zen_ctx *ctx, zen_tensor *out) {
    zen_tensor *a = out->src[0], *b = out->src[1], *bias = out->src[2], *g = out->grad;
    const bool ta = out->ip[0], tb = out->ip[1];
    const char *fn = "matmul backward";
    if (zen__needs_grad(a)) {
        zen_tensor *da = ta ? matmul_node(ctx, fn, b, g, tb, true, NULL) : matmul_node(ctx, fn, g, b, false, !tb, NULL);
        zen__accum_grad(ctx, a, da);
    }
    if (zen__needs_grad(b)) {
        zen_tensor *db;
        if (b->ndim == 2 && a->ndim > 2 && !ta) {
            /* b is shared by every batch: fold the batch into the rows, one sgemm. */
            int64_t K = a->shape[a->ndim - 1], N = out->shape[out->ndim - 1];
            zen_tensor *a2 = zen_reshape(ctx, a, 2, (int64_t[]){-1, K});
            zen_tensor *g2 = zen_reshape(ctx, g, 2, (int64_t[]){-1, N});
            db = tb ? matmul_node(ctx, fn, g2, a2, true, false, NULL) : matmul_node(ctx, fn, a2, g2, true, false, NULL);
        } else {
            db = tb ? matmul_node(ctx, fn, g, a, true, ta, NULL) : matmul_node(ctx, fn, a, g, !ta, false, NULL);
        }
        zen__accum_grad(ctx, b, db);
    }
    if (zen__needs_grad(bias)) zen__accum_grad(ctx, bias, g);
}

const zen_op_def zen_op_matmul = {"matmul", matmul_forward, matmul_backward, NULL, false};
