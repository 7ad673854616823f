/* ops.c: the float32 kernels of ops.h. Products go to silt's AVX-512 sgemm (ops_gemm.c) on
 * CPUs that have it, else to cblas_sgemm: threaded by OpenBLAS itself, or, when OpenBLAS
 * is set to one thread, split over the silt_threads pool (threads.h says why); the rest are
 * simple loops gcc -O2 vectorises. */
#include "core/ops.h"

#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops_gemm.h"
#include "core/ops_simd.h"
#include "core/threads.h"
#include "core/vec.h"

/* Products at least this large (m·n·k) are split over the pool when BLAS is single-threaded;
 * below it a pool wake-up costs more than it saves. */
#define OPS_PAR_MIN_MNK (1LL << 18)
/* Column blocks are multiples of this many floats (one cache line of C, whole SIMD lanes). */
#define OPS_PAR_ALIGN 16
#define OPS_PAR_MIN_BLOCK 128
#define OPS_PAR_BLOCKS_PER_WORKER 4

typedef struct {
    int trans_a, trans_b, m, n, k, lda, ldb, ldc, n_blocks;
    float alpha, beta;
    const float *A, *B;
    float *C;
} gemm_job;

static void blas_gemm(const gemm_job *g, int j0, int j1) {
    const float *B = g->trans_b ? g->B + (size_t)j0 * g->ldb : g->B + j0;
    cblas_sgemm(CblasRowMajor, g->trans_a ? CblasTrans : CblasNoTrans,
                g->trans_b ? CblasTrans : CblasNoTrans, g->m, j1 - j0, g->k, g->alpha, g->A,
                g->lda, B, g->ldb, g->beta, g->C + j0, g->ldc);
}

/* Task t computes columns [t·n/T, (t+1)·n/T) of C (block edges rounded to OPS_PAR_ALIGN). */
static void gemm_task(void *ctx, int task, int worker) {
    (void)worker;
    const gemm_job *g = ctx;
    const int units = (g->n + OPS_PAR_ALIGN - 1) / OPS_PAR_ALIGN;
    int j0 = (int)((long long)units * task / g->n_blocks) * OPS_PAR_ALIGN;
    int j1 = (int)((long long)units * (task + 1) / g->n_blocks) * OPS_PAR_ALIGN;
    if (j1 > g->n) j1 = g->n;
    if (j0 < j1) blas_gemm(g, j0, j1);
}

int silt_ops_blas_threads(void) { return openblas_get_num_threads(); }

/* OpenBLAS's own entry point that joins its helpers (both its pthread and OpenMP builds
 * export it; weak, so that another BLAS without it still links). */
extern int blas_thread_shutdown_(void) __attribute__((weak));

static pthread_once_t blas_quiet_once = PTHREAD_ONCE_INIT;

static void blas_quiet_run(void) {
    if (blas_thread_shutdown_) blas_thread_shutdown_();
}

void silt_ops_blas_quiet(void) { pthread_once(&blas_quiet_once, blas_quiet_run); }

void silt_ops_gemm(int trans_a, int trans_b, int m, int n, int k, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    if (m <= 0 || n <= 0) return;
    if (k <= 0) {
        /* BLAS would leave C scaled by beta; do it here so k = 0 is well defined. */
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) C[(size_t)i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[(size_t)i * ldc + j];
        return;
    }
    if (!trans_a && alpha == 1.0f && (beta == 0.0f || beta == 1.0f) &&
        silt_ops_gemm_fast_available()) {
        silt_ops_gemm_fast(trans_b, m, n, k, A, lda, B, ldb, beta == 1.0f, C, ldc);
        return;
    }
    gemm_job g = {trans_a, trans_b, m, n, k, lda, ldb, ldc, 1, alpha, beta, A, B, C};
    /* When OpenBLAS runs single-threaded (OPENBLAS_NUM_THREADS=1, the better setting on a
     * busy machine, see threads.h), large products are split by output columns over our
     * pool, each block one single-threaded BLAS call. With more BLAS threads, BLAS splits. */
    const int workers = silt_threads_count();
    if (workers > 1 && (long long)m * n * k >= OPS_PAR_MIN_MNK && n >= 2 * OPS_PAR_ALIGN &&
        silt_ops_blas_threads() == 1) {
        /* Several blocks per worker (of >= 128 columns, so re-packing A stays cheap): the
         * pool hands them out one by one, so a worker that is descheduled on a busy machine
         * leaves its share to the others instead of stalling the call. */
        const int units = (n + OPS_PAR_ALIGN - 1) / OPS_PAR_ALIGN;
        int blocks = n / OPS_PAR_MIN_BLOCK;
        if (blocks > OPS_PAR_BLOCKS_PER_WORKER * workers) blocks = OPS_PAR_BLOCKS_PER_WORKER * workers;
        if (blocks < workers) blocks = workers;
        g.n_blocks = blocks < units ? blocks : units;
        silt_threads_for(g.n_blocks, gemm_task, &g);
        return;
    }
    blas_gemm(&g, 0, n);
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

struct silt_ops_weight {
    int in, out;
    int panels; /* data is in ops_gemm's panel layout; else row-major [in,out] for BLAS */
    float *data;
};

silt_ops_weight *silt_ops_weight_pack(const float *W, int in, int out, int transposed) {
    if (in <= 0 || out <= 0 || (size_t)in > ((size_t)1 << 40) / (size_t)out) return NULL;
    silt_ops_weight *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->in = in;
    w->out = out;
    w->panels = silt_ops_gemm_fast_available();
    w->data = silt_ops_alloc(w->panels ? silt_ops_gemm_packed_floats(in, out) : (size_t)in * out);
    if (!w->data) {
        free(w);
        return NULL;
    }
    if (w->panels) {
        silt_ops_gemm_pack(transposed, in, out, W, transposed ? in : out, w->data);
    } else if (transposed) {
        for (int k = 0; k < in; k++)
            for (int j = 0; j < out; j++) w->data[(size_t)k * out + j] = W[(size_t)j * in + k];
    } else {
        memcpy(w->data, W, (size_t)in * out * sizeof(float));
    }
    return w;
}

void silt_ops_weight_free(silt_ops_weight *w) {
    if (!w) return;
    free(w->data);
    free(w);
}

int silt_ops_weight_in(const silt_ops_weight *w) { return w->in; }
int silt_ops_weight_out(const silt_ops_weight *w) { return w->out; }

static void packed_product(const float *x, int n_rows, const silt_ops_weight *W, int acc,
                           float *y) {
    if (n_rows <= 0) return;
    if (W->panels)
        silt_ops_gemm_fast_packed(n_rows, W->out, W->in, x, W->in, W->data, acc, y, W->out);
    else
        silt_ops_gemm(0, 0, n_rows, W->out, W->in, 1.0f, x, W->in, W->data, W->out,
                      acc ? 1.0f : 0.0f, y, W->out);
}

void silt_ops_linear_packed(const float *x, int n_rows, const silt_ops_weight *W,
                            const float *bias, float *y) {
    packed_product(x, n_rows, W, 0, y);
    if (bias) silt_ops_add_bias(y, n_rows, W->out, bias);
}

void silt_ops_matmul_packed_acc(const float *x, int n_rows, const silt_ops_weight *W, float *y) {
    packed_product(x, n_rows, W, 1, y);
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
    if (silt_simd_available()) { /* ops_simd.c: erf as a polynomial, 16 lanes at a time */
        silt_simd_gelu(x, n);
        return;
    }
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
    if (silt_simd_available()) {
        silt_simd_softmax_rows(x, n_rows, dim);
        return;
    }
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
        /* scratch[n_q, n_k] = scale · Q_h · K_hᵀ + key_bias (alpha 1 keeps the product on the
         * fast kernel; the scale is applied in the same pass as the bias). */
        silt_ops_gemm(0, 1, n_q, n_k, d_head, 1.0f, Q + col, ld_q, K + col, ld_k, 0.0f,
                      scratch, n_k);
        for (int i = 0; i < n_q; i++) {
            float *row = scratch + (size_t)i * n_k;
            if (key_bias)
                for (int j = 0; j < n_k; j++) row[j] = row[j] * scale + key_bias[j];
            else
                silt_ops_scale(row, (size_t)n_k, scale);
        }
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
