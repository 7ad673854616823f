/* ops.h: float32 math kernels shared by every encoder (USE-Lite, BERT, SPLADE, Mamba).
 *
 * Matrices are row-major. Matrix products go through OpenBLAS cblas_sgemm; the element-wise
 * kernels are plain loops the compiler vectorises. Every function is reentrant (no hidden
 * state), so any number of threads may call them at once on disjoint outputs.
 *
 *   silt_ops_linear(x, n_tokens, 256, W, 512, b, y);      y[n_tokens,512] = x·W + b
 *   silt_ops_layernorm(y, n_tokens, 512, gamma, beta, 1e-6f);
 *   silt_ops_gelu(y, (size_t)n_tokens * 512);
 *
 * Sizes are int because BLAS takes int; callers keep every product of sizes below INT_MAX. */
#ifndef SILT_OPS_H
#define SILT_OPS_H

#include <stddef.h>

/* ---- matrix products ---------------------------------------------------------------- */

/* y[n_rows,out] = x[n_rows,in] · W[in,out] (W row-major [in,out], as tfjs / TF kernels). */
void silt_ops_matmul(const float *x, int n_rows, int in, const float *W, int out, float *y);

/* y[n_rows,out] = x[n_rows,in] · Wᵀ with W stored [out,in] (PyTorch nn.Linear layout). */
void silt_ops_matmul_wt(const float *x, int n_rows, int in, const float *W, int out, float *y);

/* The same two products followed by y += bias (bias[out], may be NULL). */
void silt_ops_linear(const float *x, int n_rows, int in, const float *W, int out,
                     const float *bias, float *y);
void silt_ops_linear_wt(const float *x, int n_rows, int in, const float *W, int out,
                        const float *bias, float *y);

/* y += x · W (accumulating form of silt_ops_matmul, for residual connections). */
void silt_ops_matmul_acc(const float *x, int n_rows, int in, const float *W, int out, float *y);
/* y += x · Wᵀ, W stored [out,in]. */
void silt_ops_matmul_wt_acc(const float *x, int n_rows, int in, const float *W, int out,
                            float *y);

/* General strided product C = alpha·op(A)·op(B) + beta·C with leading dimensions, for
 * per-head attention slices. trans_a/trans_b non-zero mean the operand is used transposed.
 * A is [m,k] (or [k,m] when trans_a), B is [k,n] (or [n,k] when trans_b), C is [m,n]. */
void silt_ops_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);

/* Threads OpenBLAS uses per call (its process-wide setting, e.g. OPENBLAS_NUM_THREADS).
 * When it is 1, silt_ops_gemm and the products above split large problems over the
 * silt_threads pool instead (see threads.h). */
int silt_ops_blas_threads(void);

/* Stops OpenBLAS's idle helper threads, once per process. OpenBLAS starts them when it is
 * loaded and lets them spin (sched_yield) for about 0.1 s before they sleep, which on a
 * small machine takes a core from whatever the process does right after loading silt (an
 * ingest on 2 cores lost 5-10% to it); OpenBLAS starts them again at its next threaded
 * call. A no-op when the BLAS in use has no such helpers. */
void silt_ops_blas_quiet(void);

/* ---- weights packed once ------------------------------------------------------------ */

/* A weight matrix arranged once, at model load, for the products x·W made on every call.
 * Short inputs (one sentence) otherwise spend as long re-arranging W as multiplying.
 * Immutable after creation: share it between threads. */
typedef struct silt_ops_weight silt_ops_weight;

/* Packs W, stored [in,out] row-major, or [out,in] (nn.Linear) when transposed. NULL on out
 * of memory or bad sizes. W is copied: the caller may free it afterwards. */
silt_ops_weight *silt_ops_weight_pack(const float *W, int in, int out, int transposed);
void silt_ops_weight_free(silt_ops_weight *w);
int silt_ops_weight_in(const silt_ops_weight *w);
int silt_ops_weight_out(const silt_ops_weight *w);

/* y[n_rows,out] = x[n_rows,in]·W (+ bias when not NULL); the _acc form adds x·W to y. */
void silt_ops_linear_packed(const float *x, int n_rows, const silt_ops_weight *W,
                            const float *bias, float *y);
void silt_ops_matmul_packed_acc(const float *x, int n_rows, const silt_ops_weight *W, float *y);

/* ---- row-wise and element-wise kernels ---------------------------------------------- */

/* y[r][j] += bias[j] for every row. */
void silt_ops_add_bias(float *y, int n_rows, int dim, const float *bias);

/* y[i] += x[i] for i < n (residual add). */
void silt_ops_add(float *y, const float *x, size_t n);

/* x[i] *= s for i < n. */
void silt_ops_scale(float *x, size_t n, float s);

/* In place, per row: (x - mean) / sqrt(var + eps) * g + b, biased variance (divide by dim).
 * g and b may be NULL (scale 1, shift 0). Mean and variance are accumulated in double. */
void silt_ops_layernorm(float *x, int n_rows, int dim, const float *g, const float *b, float eps);

/* In place, per row: x / sqrt(mean(x²) + eps) * g (g may be NULL). */
void silt_ops_rmsnorm(float *x, int n_rows, int dim, const float *g, float eps);

/* Element-wise activations, in place over n values. */
void silt_ops_gelu(float *x, size_t n);     /* 0.5·x·(1 + erf(x/√2)), the exact (erf) form */
void silt_ops_relu(float *x, size_t n);     /* max(x, 0) */
void silt_ops_silu(float *x, size_t n);     /* x·sigmoid(x) */
void silt_ops_softplus(float *x, size_t n); /* log(1 + e^x), x for x > 20 as PyTorch does */
void silt_ops_tanh(float *x, size_t n);

/* In place softmax over each row of x[n_rows, dim] (max-subtracted, float32). */
void silt_ops_softmax_rows(float *x, int n_rows, int dim);

/* a·b over n floats (SIMD, any alignment). */
float silt_ops_dot(const float *a, const float *b, int n);

/* Scales each row to unit L2 norm: x / sqrt(max(Σx², min_sq_norm)). */
void silt_ops_l2_normalize(float *x, int n_rows, int dim, float min_sq_norm);

/* ---- attention ------------------------------------------------------------------------ */

/* Multi-head scaled dot-product attention over ONE sequence, no causal mask:
 *   for head h: out_h = softmax(scale · Q_h·K_hᵀ + key_bias) · V_h
 * Q is [n_q, n_heads·d_head] with row stride ld_q (floats), likewise K, V ([n_k, ...]) and
 * out ([n_q, n_heads·d_head], row stride ld_out); head h occupies columns h·d_head ..
 * (h+1)·d_head-1. key_bias[n_k] is added to every logit of key j (NULL for none, e.g. -1e9
 * on padding keys). scratch must hold n_q·n_k floats. The scale multiplies the logits;
 * callers whose model scales Q first get the same value to float rounding. */
void silt_ops_attention(const float *Q, int ld_q, const float *K, int ld_k, const float *V,
                        int ld_v, int n_q, int n_k, int n_heads, int d_head, float scale,
                        const float *key_bias, float *out, int ld_out, float *scratch);

/* ---- memory --------------------------------------------------------------------------- */

/* 64-byte aligned allocation of n floats (NULL on failure or overflow); free with free(). */
float *silt_ops_alloc(size_t n);

#endif
