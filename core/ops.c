/* ops.c: the float32 kernels of ops.h. Products are cblas_sgemm calls (OpenBLAS picks its
 * own thread count per call from the problem size; see threads.h for how that interacts with
 * our pool); the rest are simple loops written so that gcc -O2 vectorises them. */
#include "core/ops.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/vec.h"

void silt_ops_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        /* BLAS would leave C scaled by beta; do it here so k = 0 is well defined. */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
                trans_b ? CblasTrans : CblasNoTrans, m, n, k, alpha, A, lda, B, ldb, beta, C,
                ldc);
}

void silt_ops_matmul(const float *x, int n_rows, int in, const float *W, int out, float *y) {
    silt_ops_gemm(0, 0, n_rows, out, in, 1.0f, x, in, W, out, 0.0f, y, out);
}

void silt_ops_matmul_wt(const float *x, int n_rows, int in, const float *W, int out, float *y) {
    silt_ops_gemm(0, 1, n_rows, out, in, 1.0f, x, in, W, in, 0.0f, y, out);
}

void silt_ops_matmul_acc(const float *x, int n_rows, int in, const float *W, int out, float *y) {
    silt_ops_gemm(0, 0, n_rows, out, in, 1.0f, x, in, W, out, 1.0f, y, out);
}

void silt_ops_matmul_wt_acc(const float *x, int n_rows, int in, const float *W, int out,
                            float *y) {
    silt_ops_gemm(0, 1, n_rows, out, in, 1.0f, x, in, W, in, 1.0f, y, out);
}

void silt_ops_linear(const float *x, int n_rows, int in, const float *W, int out,
                     const float *bias, float *y) {
    silt_ops_matmul(x, n_rows, in, W, out, y);
    if (bias) silt_ops_add_bias(y, n_rows, out, bias);
}

void silt_ops_linear_wt(const float *x, int n_rows, int in, const float *W, int out,
                        const float *bias, float *y) {
    silt_ops_matmul_wt(x, n_rows, in, W, out, y);
    if (bias) silt_ops_add_bias(y, n_rows, out, bias);
}

void silt_ops_add_bias(float *y, int n_rows, int dim, const float *bias) {
    for (int r = 0; r < n_rows; r++) {
        float *row = y + (size_t)r * dim;
        for (int j = 0; j < dim; j++) row[j] += bias[j];
    }
}

void silt_ops_add(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] += x[i];
}

void silt_ops_scale(float *x, size_t n, float s) {
    for (size_t i = 0; i < n; i++) x[i] *= s;
}

void silt_ops_layernorm(float *x, int n_rows, int dim, const float *g, const float *b,
                        float eps) {
    if (dim <= 0) return;
    for (int r = 0; r < n_rows; r++) {
        float *row = x + (size_t)r * dim;
        double sum = 0.0;
        for (int j = 0; j < dim; j++) sum += row[j];
        const float mean = (float)(sum / dim);
        double var = 0.0;
        for (int j = 0; j < dim; j++) {
            const double d = (double)row[j] - mean;
            var += d * d;
        }
        const float inv = (float)(1.0 / sqrt(var / dim + (double)eps));
        for (int j = 0; j < dim; j++) {
            float v = (row[j] - mean) * inv;
            if (g) v *= g[j];
            if (b) v += b[j];
            row[j] = v;
        }
    }
}

void silt_ops_rmsnorm(float *x, int n_rows, int dim, const float *g, float eps) {
    if (dim <= 0) return;
    for (int r = 0; r < n_rows; r++) {
        float *row = x + (size_t)r * dim;
        double ss = 0.0;
        for (int j = 0; j < dim; j++) ss += (double)row[j] * row[j];
        const float inv = (float)(1.0 / sqrt(ss / dim + (double)eps));
        for (int j = 0; j < dim; j++) row[j] = g ? row[j] * inv * g[j] : row[j] * inv;
    }
}

void silt_ops_gelu(float *x, size_t n) {
    const float inv_sqrt2 = 0.70710678118654752f;
    for (size_t i = 0; i < n; i++) x[i] = 0.5f * x[i] * (1.0f + erff(x[i] * inv_sqrt2));
}

void silt_ops_relu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void silt_ops_silu(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = x[i] / (1.0f + expf(-x[i]));
}

void silt_ops_softplus(float *x, size_t n) {
    /* log1p(exp(x)) loses nothing for x <= 20; above that exp(x) overflows float precision
     * and the result equals x (PyTorch's threshold). */
    for (size_t i = 0; i < n; i++) x[i] = x[i] > 20.0f ? x[i] : log1pf(expf(x[i]));
}

void silt_ops_tanh(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = tanhf(x[i]);
}

void silt_ops_softmax_rows(float *x, int n_rows, int dim) {
    if (dim <= 0) return;
    for (int r = 0; r < n_rows; r++) {
        float *row = x + (size_t)r * dim;
        float mx = row[0];
        for (int j = 1; j < dim; j++) mx = row[j] > mx ? row[j] : mx;
        float sum = 0.0f;
        for (int j = 0; j < dim; j++) {
            row[j] = expf(row[j] - mx);
            sum += row[j];
        }
        const float inv = 1.0f / sum;
        for (int j = 0; j < dim; j++) row[j] *= inv;
    }
}

float silt_ops_dot(const float *a, const float *b, int n) {
    return n > 0 ? silt_vec_dot(a, b, (size_t)n) : 0.0f;
}

void silt_ops_l2_normalize(float *x, int n_rows, int dim, float min_sq_norm) {
    for (int r = 0; r < n_rows; r++) {
        float *row = x + (size_t)r * dim;
        double ss = 0.0;
        for (int j = 0; j < dim; j++) ss += (double)row[j] * row[j];
        if (ss < (double)min_sq_norm) ss = min_sq_norm;
        const float inv = (float)(1.0 / sqrt(ss));
        for (int j = 0; j < dim; j++) row[j] *= inv;
    }
}

void silt_ops_attention(const float *Q, int ld_q, const float *K, int ld_k, const float *V,
                        int ld_v, int n_q, int n_k, int n_heads, int d_head, float scale,
                        const float *key_bias, float *out, int ld_out, float *scratch) {
    if (n_q <= 0) return;
    if (n_k <= 0) {
        /* Softmax over no keys is empty: the output is all zero. */
        for (int i = 0; i < n_q; i++)
            for (int j = 0; j < n_heads * d_head; j++) out[(size_t)i * ld_out + j] = 0.0f;
        return;
    }
    for (int h = 0; h < n_heads; h++) {
        const int col = h * d_head;
        /* scratch[n_q, n_k] = scale · Q_h · K_hᵀ */
        silt_ops_gemm(0, 1, n_q, n_k, d_head, scale, Q + col, ld_q, K + col, ld_k, 0.0f,
                      scratch, n_k);
        if (key_bias)
            for (int i = 0; i < n_q; i++) silt_ops_add(scratch + (size_t)i * n_k, key_bias, (size_t)n_k);
        silt_ops_softmax_rows(scratch, n_q, n_k);
        /* out_h[n_q, d_head] = A · V_h */
        silt_ops_gemm(0, 0, n_q, d_head, n_k, 1.0f, scratch, n_k, V + col, ld_v, 0.0f,
                      out + col, ld_out);
    }
}

float *silt_ops_alloc(size_t n) {
    if (n == 0) n = 1;
    if (n > (SIZE_MAX - 63) / sizeof(float)) return NULL;
    size_t bytes = n * sizeof(float);
    bytes = (bytes + 63) & ~(size_t)63; /* aligned_alloc wants a multiple of the alignment */
    return aligned_alloc(64, bytes);
}
