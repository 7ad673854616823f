/* ops_gemm.h: silt's own AVX-512 sgemm (see ops_gemm.c), used by silt_ops_gemm in
 * core/ops.c for untransposed products on CPUs with AVX-512F. Not for direct use: call the
 * silt_ops_* products of ops.h, which pick this or OpenBLAS. */
#ifndef SILT_OPS_GEMM_H
#define SILT_OPS_GEMM_H

#include <stddef.h>

/* Non-zero when this CPU runs silt_ops_gemm_fast (AVX-512F); checked once, thread-safe. */
int silt_ops_gemm_fast_available(void);

/* C[m,n] = A[m,k]·B (accumulate = 0) or C += A·B (accumulate != 0), row-major with leading
 * dimensions lda, ldb, ldc; B is [k,n], or [n,k] used transposed when trans_b. m, n, k > 0.
 * Splits large products over the silt_threads pool. Only call when
 * silt_ops_gemm_fast_available(). */
void silt_ops_gemm_fast(int trans_b, int m, int n, int k, const float *A, int lda, const float *B,
                        int ldb, int accumulate, float *C, int ldc);

/* Pre-arranged B for repeated products (weights): the panel layout run_panels reads,
 * zero-padded to whole 32-column panels. silt_ops_gemm_packed_floats(k, n) floats at dst
 * (64-byte aligned); B is [k,n], or [n,k] when trans_b. */
size_t silt_ops_gemm_packed_floats(int k, int n);
void silt_ops_gemm_pack(int trans_b, int k, int n, const float *B, int ldb, float *dst);
/* C (+)= A·B with B given packed. */
void silt_ops_gemm_fast_packed(int m, int n, int k, const float *A, int lda, const float *packed,
                               int accumulate, float *C, int ldc);

#endif
