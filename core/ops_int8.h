/* ops_int8.h: int8 linear layers for encoders, y = x·Wᵀ + b with W quantised once at load
 * (per output row, symmetric: W[j][k] ≈ w_scale[j]·q[j][k], q in -127..127) and x quantised
 * on the fly (per row, symmetric: x[i][k] ≈ x_scale[i]·p[i][k]); the products are exact int32
 * sums, so the only error is the two roundings.
 *
 *   silt_q8_matrix *q = silt_q8_pack(W, 1536, 384, SILT_Q8_AUTO, &err);   W [1536, 384]
 *   void *scratch = malloc(silt_q8_scratch_bytes(n_rows, 384));
 *   silt_q8_linear(q, x, n_rows, 384, bias, 0, y, 1536, scratch);         y = x·Wᵀ + bias
 *   silt_q8_free(q);
 *
 * Kernels: AVX-512 VNNI (vpdpbusd, 64 multiply-adds per instruction; activations are stored
 * as unsigned p + 128 and a per-column correction 128·Σq removes the offset), AVX2 (vpmaddubsw
 * on |p| and q·sign(p), which cannot saturate with both sides in -127..127), and portable C.
 * All three give bit-identical int32 sums; SILT_Q8_AUTO picks the best the CPU runs. Large
 * calls are split by rows over the silt_threads pool (a call from inside a pool task runs
 * on its own thread). A matrix is immutable once packed and may be shared by threads. */
#ifndef SILT_OPS_INT8_H
#define SILT_OPS_INT8_H

#include <stddef.h>

enum { SILT_Q8_AUTO = 0, SILT_Q8_PORTABLE = 1, SILT_Q8_AVX2 = 2, SILT_Q8_VNNI = 3 };

typedef struct silt_q8_matrix silt_q8_matrix;

/* The best kernel this CPU runs (SILT_Q8_VNNI, SILT_Q8_AVX2 or SILT_Q8_PORTABLE). */
int silt_q8_best_kernel(void);

/* "avx512-vnni", "avx2" or "portable". */
const char *silt_q8_kernel_name(int kernel);

/* Quantises W[n_out, n_in] (row-major, the nn.Linear layout) for the given kernel
 * (SILT_Q8_AUTO: the best; a kernel the CPU lacks is an error). NULL and *err on failure. */
silt_q8_matrix *silt_q8_pack(const float *W, int n_out, int n_in, int kernel, char **err);

void silt_q8_free(silt_q8_matrix *W);

/* The kernel a matrix was packed for. */
int silt_q8_kernel(const silt_q8_matrix *W);

/* Bytes of scratch silt_q8_linear needs for n_rows rows of n_in inputs. */
size_t silt_q8_scratch_bytes(int n_rows, int n_in);

/* y[i][j] (+)= Σ_k x[i][k]·W[j][k] + bias[j] for i < n_rows, j < n_out: stored when
 * accumulate is 0, added to y when it is 1 (residual connections). x has row stride ldx,
 * y row stride ldy (floats); bias may be NULL. scratch: silt_q8_scratch_bytes(n_rows, n_in)
 * bytes, owned by the caller, not shared with a concurrent call. */
void silt_q8_linear(const silt_q8_matrix *W, const float *x, int n_rows, int ldx,
                    const float *bias, int accumulate, float *y, int ldy, void *scratch);

#endif
