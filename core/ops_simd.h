/* ops_simd.h: AVX-512 versions of the element-wise and attention kernels that dominate a
 * transformer encoder's time once its products are fast: the erf GELU (scalar erff was ~14%
 * of a BERT forward pass), softmax's exponentials, residual + LayerNorm, and small per-head
 * attention products (128 x 128 x 32 is too small for a BLAS call to pay off).
 *
 *   if (silt_simd_available()) silt_simd_bias_gelu(h, n_rows, ffn, bias);
 *
 * Every function here has a portable equivalent in ops.h; callers check
 * silt_simd_available() once (thread-safe) and fall back to ops.h otherwise. Results agree
 * with ops.h's to float rounding: exp is a range-reduced degree-7 polynomial (~2 ulp), erf is
 * Abramowitz & Stegun 7.1.26 evaluated as erfc (absolute error <= 1.5e-7, no cancellation
 * for negative inputs). */
#ifndef SILT_OPS_SIMD_H
#define SILT_OPS_SIMD_H

#include <stddef.h>

/* Non-zero when this CPU runs the kernels below (AVX-512 F/BW/DQ/VL and FMA). */
int silt_simd_available(void);

/* x[i] = gelu(x[i] + bias[i % dim]) over x[n_rows, dim] (bias may be NULL): exact-erf GELU,
 * 0.5·v·(1 + erf(v/√2)). */
void silt_simd_bias_gelu(float *x, int n_rows, int dim, const float *bias);

/* x[i] = gelu(x[i]) for i < n (silt_ops_gelu's AVX-512 form). */
void silt_simd_gelu(float *x, size_t n);

/* In place softmax over each row of x[n_rows, dim]. */
void silt_simd_softmax_rows(float *x, int n_rows, int dim);

/* Per row: x = LayerNorm(x + bias) · g + b (bias, g, b may be NULL), biased variance,
 * two-pass mean/variance in float32 lanes, shifted by the row's first value so that a large
 * common offset loses no precision. */
void silt_simd_bias_layernorm(float *x, int n_rows, int dim, const float *bias, const float *g,
                              const float *b, float eps);

/* Floats of scratch silt_simd_attention needs. */
size_t silt_simd_attention_scratch(int n_q, int n_k, int d_head);

/* Same contract as silt_ops_attention (ops.h), with scratch of
 * silt_simd_attention_scratch(n_q, n_k, d_head) floats. */
void silt_simd_attention(const float *Q, int ld_q, const float *K, int ld_k, const float *V,
                         int ld_v, int n_q, int n_k, int n_heads, int d_head, float scale,
                         const float *key_bias, float *out, int ld_out, float *scratch);

#endif
