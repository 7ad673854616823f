/* ops_gemm.c: an AVX-512 sgemm for the products encoders make, C = A·B (+ C) with A
 * row-major and B row-major [k, n] (tfjs/TF weights) or transposed [n, k] (PyTorch
 * nn.Linear weights), called by silt_ops_gemm (core/ops.c) when the CPU has AVX-512F.
 *
 * Why not only OpenBLAS: Debian's OpenBLAS 0.3.21 does not recognise recent AVX-512 AMD
 * cores and runs its Haswell (AVX2) kernels there, about half the speed of its own
 * AVX-512 kernels on the same CPU (1024x512x1536, one thread: 90 vs 160 GFLOP/s; the
 * kernel choice is fixed when libopenblas loads, OPENBLAS_CORETYPE, so a library cannot
 * change it). This kernel also never spins: it runs on the silt_threads pool.
 *
 * Blocking (Goto style, B packed per call, or once at model load for weights
 * (silt_ops_weight in ops.h), A read in place):
 *   for each block of KC = 128 along k
 *     for each panel of NR = 32 columns of B: pack it (KC x 32, 16 KB, stays in L1)
 *       for each tile of MR = 12 rows of A (the m x KC block of A stays in L2):
 *         12x32 accumulators in 24 zmm registers, one FMA chain per element.
 * Column panels are the unit of parallel work. Results agree with BLAS to float rounding
 * (each element is a k-ordered float32 FMA chain). */
#include "core/ops_gemm.h"

#include <immintrin.h>
#include <pthread.h>

#include "core/threads.h"

#define MR 12
#define NR 32
#define KC 128

#define AVX512 __attribute__((target("avx512f")))
#define INLINE inline __attribute__((always_inline))

/* One MRxNR tile (mr <= MR rows, columns masked by m0/m1): C[tile] (+)= A[mr,kc]·B[kc,32].
 * mr and full are compile-time constants in every caller, so the accumulators live in
 * registers. */
AVX512 static INLINE void tile(const int mr, const int full, int kc, const float *A, int lda,
                               const float *B, int ldb, float *C, int ldc, int acc,
                               __mmask16 m0, __mmask16 m1) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 12
    for (int r = 0; r < mr; r++) {
        if (acc) {
            c0[r] = full ? _mm512_loadu_ps(C + (size_t)r * ldc) : _mm512_maskz_loadu_ps(m0, C + (size_t)r * ldc);
            c1[r] = full ? _mm512_loadu_ps(C + (size_t)r * ldc + 16) : _mm512_maskz_loadu_ps(m1, C + (size_t)r * ldc + 16);
        } else {
            c0[r] = _mm512_setzero_ps();
            c1[r] = _mm512_setzero_ps();
        }
    }
    for (int k = 0; k < kc; k++) {
        const float *b = B + (size_t)k * ldb;
        const __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
#pragma GCC unroll 12
        for (int r = 0; r < mr; r++) {
            const __m512 a = _mm512_set1_ps(A[(size_t)r * lda + k]);
            c0[r] = _mm512_fmadd_ps(a, b0, c0[r]);
            c1[r] = _mm512_fmadd_ps(a, b1, c1[r]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < mr; r++) {
        if (full) {
            _mm512_storeu_ps(C + (size_t)r * ldc, c0[r]);
            _mm512_storeu_ps(C + (size_t)r * ldc + 16, c1[r]);
        } else {
            _mm512_mask_storeu_ps(C + (size_t)r * ldc, m0, c0[r]);
            _mm512_mask_storeu_ps(C + (size_t)r * ldc + 16, m1, c1[r]);
        }
    }
}

typedef void (*tile_fn)(int kc, const float *A, int lda, const float *B, int ldb, float *C,
                        int ldc, int acc, __mmask16 m0, __mmask16 m1);

/* tile specialised for each row count, full and masked panels. */
#define TILE_FN(R)                                                                           \
    AVX512 static void tile_full_##R(int kc, const float *A, int lda, const float *B, int ldb, \
                                     float *C, int ldc, int acc, __mmask16 m0, __mmask16 m1) { \
        tile(R, 1, kc, A, lda, B, ldb, C, ldc, acc, m0, m1);                                  \
    }                                                                                        \
    AVX512 static void tile_mask_##R(int kc, const float *A, int lda, const float *B, int ldb, \
                                     float *C, int ldc, int acc, __mmask16 m0, __mmask16 m1) { \
        tile(R, 0, kc, A, lda, B, ldb, C, ldc, acc, m0, m1);                                  \
    }
TILE_FN(1) TILE_FN(2) TILE_FN(3) TILE_FN(4) TILE_FN(5) TILE_FN(6)
TILE_FN(7) TILE_FN(8) TILE_FN(9) TILE_FN(10) TILE_FN(11) TILE_FN(12)
#undef TILE_FN

static const tile_fn TILES_FULL[MR + 1] = {
    NULL, tile_full_1, tile_full_2, tile_full_3, tile_full_4, tile_full_5, tile_full_6,
    tile_full_7, tile_full_8, tile_full_9, tile_full_10, tile_full_11, tile_full_12};
static const tile_fn TILES_MASK[MR + 1] = {
    NULL, tile_mask_1, tile_mask_2, tile_mask_3, tile_mask_4, tile_mask_5, tile_mask_6,
    tile_mask_7, tile_mask_8, tile_mask_9, tile_mask_10, tile_mask_11, tile_mask_12};

typedef struct {
    int m, n, k, lda, ldb, ldc, trans_b, accumulate, n_panels, n_tasks;
    const float *A, *B;
    float *C;
    const float *packed; /* B already in panel layout (silt_ops_gemm_pack), or NULL */
} gemm_job;

/* Copies B[k0..k0+kc, j0..j0+nr) into buf as kc rows of NR floats, zero-padded past nr:
 * contiguous rows keep the panel in L1 (B's own row stride, often a multiple of 2 KB,
 * would map every row onto the same few cache sets). B points at element (k0, j0). */
AVX512 static void pack_panel(const float *B, int ldb, int kc, int nr, float *buf) {
    const __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
    const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
    for (int k = 0; k < kc; k++) {
        const float *src = B + (size_t)k * ldb;
        _mm512_store_ps(buf + k * NR, _mm512_maskz_loadu_ps(m0, src));
        _mm512_store_ps(buf + k * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
    }
}

/* The same for B stored transposed (element (k, j) at Bt[j·ldb + k], the nn.Linear layout);
 * Bt points at element (k0, j0). */
static void pack_panel_t(const float *Bt, int ldb, int kc, int nr, float *buf) {
    for (int j = 0; j < NR; j++) {
        const float *src = Bt + (size_t)j * ldb;
        if (j < nr)
            for (int k = 0; k < kc; k++) buf[k * NR + j] = src[k];
        else
            for (int k = 0; k < kc; k++) buf[k * NR + j] = 0.0f;
    }
}

/* Columns panels [p0, p1) of C, all rows. */
static void run_panels(const gemm_job *g, int p0, int p1) {
    _Alignas(64) float buf[KC * NR];
    for (int k0 = 0; k0 < g->k; k0 += KC) {
        const int kc = g->k - k0 < KC ? g->k - k0 : KC;
        const int acc = k0 > 0 || g->accumulate;
        for (int p = p0; p < p1; p++) {
            const int j0 = p * NR, nr = g->n - j0 < NR ? g->n - j0 : NR;
            const __mmask16 m0 = nr >= 16 ? 0xFFFF : (__mmask16)((1u << nr) - 1);
            const __mmask16 m1 = nr >= 32 ? 0xFFFF : nr <= 16 ? 0 : (__mmask16)((1u << (nr - 16)) - 1);
            const tile_fn *fns = nr == NR ? TILES_FULL : TILES_MASK;
            const float *panel = buf;
            if (g->packed)
                panel = g->packed + ((size_t)p * g->k + k0) * NR;
            else if (g->trans_b)
                pack_panel_t(g->B + (size_t)j0 * g->ldb + k0, g->ldb, kc, nr, buf);
            else
                pack_panel(g->B + (size_t)k0 * g->ldb + j0, g->ldb, kc, nr, buf);
            /* All rows against this panel: A's kc-wide block (m x KC floats) stays in L2. */
            for (int i = 0; i < g->m; i += MR) {
                const int mr = g->m - i < MR ? g->m - i : MR;
                fns[mr](kc, g->A + (size_t)i * g->lda + k0, g->lda, panel, NR,
                        g->C + (size_t)i * g->ldc + j0, g->ldc, acc, m0, m1);
            }
        }
    }
}

static void panels_task(void *ctx, int task, int worker) {
    (void)worker;
    const gemm_job *g = ctx;
    const int p0 = (int)((long long)g->n_panels * task / g->n_tasks);
    const int p1 = (int)((long long)g->n_panels * (task + 1) / g->n_tasks);
    run_panels(g, p0, p1);
}

static int avx512_ok;
static pthread_once_t avx512_once = PTHREAD_ONCE_INIT;
static void check_cpu(void) { avx512_ok = __builtin_cpu_supports("avx512f"); }

int silt_ops_gemm_fast_available(void) {
    pthread_once(&avx512_once, check_cpu);
    return avx512_ok;
}

/* Products below this m·n·k run on the calling thread: a pool wake-up costs more. */
#define PAR_MIN_MNK (1LL << 18)

/* Runs the job on the calling thread or, when large, over the pool. */
static void run_job(gemm_job *g) {
    const int workers = silt_threads_count();
    if (workers > 1 && (long long)g->m * g->n * g->k >= PAR_MIN_MNK && g->n_panels > 1) {
        /* A few tasks per worker: a descheduled helper leaves its panels to the others. */
        g->n_tasks = g->n_panels < 4 * workers ? g->n_panels : 4 * workers;
        silt_threads_for(g->n_tasks, panels_task, g);
    } else {
        run_panels(g, 0, g->n_panels);
    }
}

void silt_ops_gemm_fast(int trans_b, int m, int n, int k, const float *A, int lda, const float *B,
                        int ldb, int accumulate, float *C, int ldc) {
    gemm_job g = {m, n, k, lda, ldb, ldc, trans_b, accumulate, (n + NR - 1) / NR, 1, A, B, C, NULL};
    run_job(&g);
}

size_t silt_ops_gemm_packed_floats(int k, int n) { return (size_t)((n + NR - 1) / NR) * k * NR; }

void silt_ops_gemm_pack(int trans_b, int k, int n, const float *B, int ldb, float *dst) {
    const int n_panels = (n + NR - 1) / NR;
    for (int p = 0; p < n_panels; p++) {
        const int j0 = p * NR, nr = n - j0 < NR ? n - j0 : NR;
        float *out = dst + (size_t)p * k * NR;
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < NR; j++)
                out[(size_t)kk * NR + j] =
                    j >= nr ? 0.0f
                    : trans_b ? B[(size_t)(j0 + j) * ldb + kk] : B[(size_t)kk * ldb + j0 + j];
    }
}

void silt_ops_gemm_fast_packed(int m, int n, int k, const float *A, int lda, const float *packed,
                               int accumulate, float *C, int ldc) {
    gemm_job g = {m, n, k, lda, 0, ldc, 0, accumulate, (n + NR - 1) / NR, 1, A, NULL, C, packed};
    run_job(&g);
}
