/* mamba_scan.h: the two sequential kernels of a Mamba-1 layer, for one segment of consecutive
 * tokens of one text and a range of channels (callers split the channels over threads):
 *
 *   conv:  u[t][c] = SiLU(bias[c] + Σ_k w[k][c] · x[t-(K-1)+k][c])     causal depthwise conv
 *   scan:  δ = softplus(dt[t][c] + dt_bias[c])
 *          h[n][c] = exp(δ·A[n][c]) · h[n][c] + δ · B[t][n] · u[t][c]      selective scan
 *          y[t][c] = (Σ_n h[n][c] · C[t][n] + D[c] · u[t][c]) · SiLU(z[t][c])
 *
 * Inputs before the segment come from a carried state (the last K-1 inputs; the h matrix),
 * or are zero at the start of a text; the state after the segment is written out when the
 * text goes on in the next step. Matrices are row-major with explicit row strides (floats).
 * Channels are the vector dimension: 8 at a time, with exp / log written as polynomials so
 * that they vectorise (AVX2+FMA when the CPU has it, picked at run time; otherwise the
 * compiler's baseline). Results agree with libm to a few ulp. */
#ifndef SILT_MAMBA_SCAN_H
#define SILT_MAMBA_SCAN_H

/* Largest state size and conv width the kernels accept (Mamba uses 16 and 4). */
#define SILT_MAMBA_MAX_STATE 256
#define SILT_MAMBA_MAX_CONV 16

typedef struct {
    int n_tokens;            /* rows of the segment */
    int c0, c1;              /* channel range [c0, c1) */
    int d_inner;             /* stride of per-channel arrays (weights, state) */
    int d_conv;              /* K */
    const float *x;          /* [n_tokens, ld_x] conv input (x half of in_proj) */
    int ld_x;
    const float *w;          /* [K, d_inner] conv taps, tap-major */
    const float *bias;       /* [d_inner] or NULL */
    const float *state_in;   /* [K-1, d_inner] previous inputs, oldest first; NULL = zeros */
    float *state_out;        /* [K-1, d_inner] or NULL (text ends in this segment) */
    float *u;                /* [n_tokens, ld_u] output */
    int ld_u;
} silt_mamba_conv_args;

typedef struct {
    int n_tokens, c0, c1, d_inner, d_state;
    const float *dt;         /* [n_tokens, ld_dt] dt_proj output without its bias */
    int ld_dt;
    const float *dt_bias;    /* [d_inner] or NULL */
    const float *u;          /* [n_tokens, ld_u] conv output */
    int ld_u;
    const float *B, *C;      /* [n_tokens, ld_bc] each (x_proj output columns) */
    int ld_bc;
    const float *A;          /* [d_state, d_inner] = -exp(A_log), state-major */
    const float *D;          /* [d_inner] */
    const float *z;          /* [n_tokens, ld_z] gate (z half of in_proj) */
    int ld_z;
    const float *state_in;   /* [d_state, d_inner] or NULL = zeros */
    float *state_out;        /* [d_state, d_inner] or NULL */
    float *y;                /* [n_tokens, ld_y] output */
    int ld_y;
} silt_mamba_scan_args;

void silt_mamba_conv(const silt_mamba_conv_args *a);
void silt_mamba_scan(const silt_mamba_scan_args *a);

#endif
