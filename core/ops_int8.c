/* ops_int8.c: the int8 linear layers of ops_int8.h.
 *
 * Packed weights: output columns in panels of NP = 48 (three 16-lane vectors); inside a
 * panel, for every group of 4 inputs k..k+3, the 48 columns' 4 int8 weights side by side
 * ([panel][k/4][48][4]). That is the operand layout of vpdpbusd: one 32-bit broadcast of 4
 * activation bytes times one 64-byte load gives 16 columns x 4 multiply-adds. A VNNI tile is
 * 8 rows x 48 columns = 24 int32 accumulators; the AVX2 and portable kernels read the same
 * layout one row at a time. Inputs are zero-padded to a multiple of 4, columns to the panel.
 *
 * Work is split by blocks of ROWS_PER_TASK rows: a task quantises its own rows, then runs
 * every panel over them (a panel, at most 48 x n_in bytes, stays in L1/L2 while its rows
 * stream past), so tasks share nothing and need no second synchronisation. */
#include "core/ops_int8.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/threads.h"

#define NP 48
#define MR 8
#define ROWS_PER_TASK 32
/* Calls with fewer multiply-adds than this run on the calling thread. */
#define PAR_MIN_MACS (1LL << 20)

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma")))
#define AVX2 __attribute__((target("avx2,fma")))
#define INLINE inline __attribute__((always_inline))

struct silt_q8_matrix {
    int n_out, n_in, kernel;
    int k4;          /* n_in rounded up to 4: bytes of one packed column */
    int n_panels;    /* ceil(n_out / NP) */
    int8_t *packed;  /* [n_panels][k4 / 4][NP][4], 64-byte aligned */
    float *scale;    /* [n_panels·NP] per output column, 0 past n_out */
    int32_t *comp;   /* [n_panels·NP] 128·Σ_k q[j][k] for VNNI's unsigned activations, else 0 */
};

/* ---- CPU features ------------------------------------------------------------------------ */

static int best_kernel;
static pthread_once_t best_once = PTHREAD_ONCE_INIT;

static void detect(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
        __builtin_cpu_supports("fma"))
        best_kernel = SILT_Q8_VNNI;
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        best_kernel = SILT_Q8_AVX2;
    else
        best_kernel = SILT_Q8_PORTABLE;
}

int silt_q8_best_kernel(void) {
    pthread_once(&best_once, detect);
    return best_kernel;
}

const char *silt_q8_kernel_name(int kernel) {
    switch (kernel) {
    case SILT_Q8_VNNI: return "avx512-vnni";
    case SILT_Q8_AVX2: return "avx2";
    case SILT_Q8_PORTABLE: return "portable";
    default: return "?";
    }
}

int silt_q8_kernel(const silt_q8_matrix *W) { return W->kernel; }

/* ---- packing --------------------------------------------------------------------------------- */

void silt_q8_free(silt_q8_matrix *W) {
    if (!W) return;
    free(W->packed);
    free(W->scale);
    free(W->comp);
    free(W);
}

/* q = round(v·inv) in -127..127 (round to nearest even, as the vector conversions do). */
static int quant1(float v, float inv) {
    long q = lrintf(v * inv);
    return q > 127 ? 127 : q < -127 ? -127 : (int)q;
}

silt_q8_matrix *silt_q8_pack(const float *W, int n_out, int n_in, int kernel, char **err) {
    if (n_out < 1 || n_in < 1 || n_in > (1 << 24)) {
        silt_err(err, "int8: cannot quantise a %d x %d matrix", n_out, n_in);
        return NULL;
    }
    const int best = silt_q8_best_kernel();
    if (kernel == SILT_Q8_AUTO) kernel = best;
    if (kernel < SILT_Q8_PORTABLE || kernel > best) {
        silt_err(err, "int8: kernel %s is not available on this CPU (best: %s)",
                 silt_q8_kernel_name(kernel), silt_q8_kernel_name(best));
        return NULL;
    }
    silt_q8_matrix *m = calloc(1, sizeof *m);
    if (!m) {
        silt_err(err, "out of memory");
        return NULL;
    }
    m->n_out = n_out, m->n_in = n_in, m->kernel = kernel;
    m->k4 = (n_in + 3) & ~3;
    m->n_panels = (n_out + NP - 1) / NP;
    const size_t cols = (size_t)m->n_panels * NP;
    const size_t bytes = cols * (size_t)m->k4; /* a multiple of 192, hence of 64 */
    m->packed = aligned_alloc(64, bytes);
    m->scale = calloc(cols, sizeof *m->scale);
    m->comp = calloc(cols, sizeof *m->comp);
    if (!m->packed || !m->scale || !m->comp) {
        silt_q8_free(m);
        silt_err(err, "out of memory quantising a %d x %d matrix", n_out, n_in);
        return NULL;
    }
    memset(m->packed, 0, bytes);
    const size_t n_kg = (size_t)m->k4 / 4;
    for (int j = 0; j < n_out; j++) {
        const float *row = W + (size_t)j * n_in;
        float amax = 0.0f;
        for (int k = 0; k < n_in; k++) amax = fmaxf(amax, fabsf(row[k]));
        const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
        int8_t *col = m->packed + (size_t)(j / NP) * n_kg * NP * 4 + (size_t)(j % NP) * 4;
        int32_t sum = 0;
        for (int k = 0; k < n_in; k++) {
            const int q = quant1(row[k], inv);
            col[(size_t)(k / 4) * NP * 4 + k % 4] = (int8_t)q;
            sum += q;
        }
        m->scale[j] = amax / 127.0f;
        m->comp[j] = kernel == SILT_Q8_VNNI ? 128 * sum : 0;
    }
    return m;
}

size_t silt_q8_scratch_bytes(int n_rows, int n_in) {
    if (n_rows < 1) n_rows = 1;
    const size_t k4 = ((size_t)(n_in > 0 ? n_in : 1) + 3) & ~(size_t)3;
    return (((size_t)n_rows * k4 + 63) & ~(size_t)63) + (size_t)n_rows * sizeof(float);
}

/* ---- activations ---------------------------------------------------------------------------- */

/* Row x[n] -> q[k4] signed bytes (portable and AVX2 kernels) and its scale. */
static void quant_row_signed(const float *x, int n, int k4, int8_t *q, float *scale) {
    float amax = 0.0f;
    for (int k = 0; k < n; k++) amax = fmaxf(amax, fabsf(x[k]));
    const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    for (int k = 0; k < n; k++) q[k] = (int8_t)quant1(x[k], inv);
    for (int k = n; k < k4; k++) q[k] = 0;
    *scale = amax / 127.0f;
}

/* The same as unsigned bytes p + 128 for vpdpbusd (padding 128, i.e. zero). */
VNNI static void quant_row_vnni(const float *x, int n, int k4, uint8_t *q, float *scale) {
    __m512 m = _mm512_setzero_ps();
    for (int k = 0; k < n; k += 16) {
        const __mmask16 msk = n - k >= 16 ? 0xFFFF : (__mmask16)((1u << (n - k)) - 1u);
        m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_maskz_loadu_ps(msk, x + k)));
    }
    const float amax = _mm512_reduce_max_ps(m);
    const __m512 inv = _mm512_set1_ps(amax > 0.0f ? 127.0f / amax : 0.0f);
    const __m512i off = _mm512_set1_epi32(128);
    for (int k = 0; k < n; k += 16) {
        const __mmask16 msk = n - k >= 16 ? 0xFFFF : (__mmask16)((1u << (n - k)) - 1u);
        const __m512i v = _mm512_add_epi32(
            _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_maskz_loadu_ps(msk, x + k), inv)), off);
        _mm_mask_storeu_epi8(q + k, msk, _mm512_cvtepi32_epi8(v));
    }
    for (int k = n; k < k4; k++) q[k] = 128;
    *scale = amax / 127.0f;
}

/* ---- kernels ---------------------------------------------------------------------------------- */

/* y[mr rows, the panel's n_cols columns] (+)= dequantised (a·wᵀ) + bias. a: mr rows of k4
 * unsigned bytes (stride lda); w: the panel; scale/comp/bias/y already offset to the panel.
 * mr is a constant in every caller, so the 24 accumulators stay in registers. */
VNNI static INLINE void tile_vnni(const int mr, const uint8_t *a, int lda, const int8_t *w,
                                  int n_kg, const float *a_scale, const float *w_scale,
                                  const int32_t *comp, const float *bias, int accumulate,
                                  float *y, int ldy, int n_cols) {
    __m512i acc[MR][3];
    #pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
        acc[r][0] = acc[r][1] = acc[r][2] = _mm512_setzero_si512();
    for (int kg = 0; kg < n_kg; kg++) {
        const int8_t *wk = w + (size_t)kg * NP * 4;
        const __m512i w0 = _mm512_load_si512(wk), w1 = _mm512_load_si512(wk + 64),
                      w2 = _mm512_load_si512(wk + 128);
        #pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            int32_t av;
            memcpy(&av, a + (size_t)r * lda + 4 * kg, 4);
            const __m512i b = _mm512_set1_epi32(av);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], b, w0);
            acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], b, w1);
            acc[r][2] = _mm512_dpbusd_epi32(acc[r][2], b, w2);
        }
    }
    #pragma GCC unroll 8
    for (int v = 0; v < 3; v++) {
        const int left = n_cols - 16 * v;
        if (left <= 0) break;
        const __mmask16 msk = left >= 16 ? 0xFFFF : (__mmask16)((1u << left) - 1u);
        const __m512 ws = _mm512_loadu_ps(w_scale + 16 * v);
        const __m512i cp = _mm512_loadu_si512(comp + 16 * v);
        const __m512 bs = bias ? _mm512_maskz_loadu_ps(msk, bias + 16 * v) : _mm512_setzero_ps();
        #pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            const __m512 f = _mm512_cvtepi32_ps(_mm512_sub_epi32(acc[r][v], cp));
            __m512 o = _mm512_fmadd_ps(f, _mm512_mul_ps(ws, _mm512_set1_ps(a_scale[r])), bs);
            float *yr = y + (size_t)r * ldy + 16 * v;
            if (accumulate) o = _mm512_add_ps(o, _mm512_maskz_loadu_ps(msk, yr));
            _mm512_mask_storeu_ps(yr, msk, o);
        }
    }
}

#define TILE_VNNI(R)                                                                           \
    VNNI static void tile_vnni_##R(const uint8_t *a, int lda, const int8_t *w, int n_kg,        \
                                   const float *as, const float *ws, const int32_t *cp,         \
                                   const float *bias, int accumulate, float *y, int ldy,        \
                                   int n_cols) {                                                \
        tile_vnni(R, a, lda, w, n_kg, as, ws, cp, bias, accumulate, y, ldy, n_cols);            \
    }
TILE_VNNI(1) TILE_VNNI(2) TILE_VNNI(3) TILE_VNNI(4) TILE_VNNI(5) TILE_VNNI(6) TILE_VNNI(7)
TILE_VNNI(8)
#undef TILE_VNNI

typedef void (*vnni_fn)(const uint8_t *, int, const int8_t *, int, const float *, const float *,
                        const int32_t *, const float *, int, float *, int, int);
static const vnni_fn VNNI_TILES[MR + 1] = {NULL, tile_vnni_1, tile_vnni_2, tile_vnni_3,
                                           tile_vnni_4, tile_vnni_5, tile_vnni_6, tile_vnni_7,
                                           tile_vnni_8};

/* Writes the 48 int32 sums of one row's panel through the epilogue. */
static void store_row(const int32_t *acc, float a_scale, const float *w_scale, const float *bias,
                      int accumulate, float *y, int n_cols) {
    for (int c = 0; c < n_cols; c++) {
        float o = (float)acc[c] * (w_scale[c] * a_scale) + (bias ? bias[c] : 0.0f);
        y[c] = accumulate ? y[c] + o : o;
    }
}

/* One row against one panel with vpmaddubsw: |a| (unsigned) times w·sign(a) gives a·w in
 * pairs of int16 (at most 2·127·127, no saturation), summed to int32 by vpmaddwd. */
AVX2 static void tile_avx2(const int8_t *a, const int8_t *w, int n_kg, float a_scale,
                           const float *w_scale, const float *bias, int accumulate, float *y,
                           int n_cols) {
    __m256i acc[6];
    for (int v = 0; v < 6; v++) acc[v] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int kg = 0; kg < n_kg; kg++) {
        int32_t av;
        memcpy(&av, a + 4 * kg, 4);
        const __m256i b = _mm256_set1_epi32(av), ab = _mm256_abs_epi8(b);
        const int8_t *wk = w + (size_t)kg * NP * 4;
        for (int v = 0; v < 6; v++) {
            const __m256i wv = _mm256_load_si256((const __m256i *)(const void *)(wk + 32 * v));
            const __m256i p = _mm256_maddubs_epi16(ab, _mm256_sign_epi8(wv, b));
            acc[v] = _mm256_add_epi32(acc[v], _mm256_madd_epi16(p, ones));
        }
    }
    int32_t sums[NP];
    for (int v = 0; v < 6; v++) _mm256_storeu_si256((__m256i *)(void *)(sums + 8 * v), acc[v]);
    store_row(sums, a_scale, w_scale, bias, accumulate, y, n_cols);
}

static void tile_portable(const int8_t *a, const int8_t *w, int n_kg, float a_scale,
                          const float *w_scale, const float *bias, int accumulate, float *y,
                          int n_cols) {
    int32_t sums[NP] = {0};
    for (int kg = 0; kg < n_kg; kg++) {
        const int8_t *ak = a + 4 * kg, *wk = w + (size_t)kg * NP * 4;
        for (int c = 0; c < NP; c++)
            sums[c] += ak[0] * wk[4 * c] + ak[1] * wk[4 * c + 1] + ak[2] * wk[4 * c + 2] +
                       ak[3] * wk[4 * c + 3];
    }
    store_row(sums, a_scale, w_scale, bias, accumulate, y, n_cols);
}

/* ---- driver ------------------------------------------------------------------------------------ */

typedef struct {
    const silt_q8_matrix *W;
    const float *x;
    int n_rows, ldx, ldy, accumulate, n_tasks;
    const float *bias;
    float *y;
    uint8_t *q;    /* [n_rows, k4] quantised activations */
    float *qs;     /* [n_rows] their scales */
} q8_job;

static void run_rows(const q8_job *j, int r0, int r1) {
    const silt_q8_matrix *W = j->W;
    const int k4 = W->k4, n_kg = k4 / 4;
    for (int r = r0; r < r1; r++) {
        if (W->kernel == SILT_Q8_VNNI)
            quant_row_vnni(j->x + (size_t)r * j->ldx, W->n_in, k4, j->q + (size_t)r * k4, &j->qs[r]);
        else
            quant_row_signed(j->x + (size_t)r * j->ldx, W->n_in, k4,
                             (int8_t *)(j->q + (size_t)r * k4), &j->qs[r]);
    }
    for (int p = 0; p < W->n_panels; p++) {
        const int c0 = p * NP, n_cols = W->n_out - c0 < NP ? W->n_out - c0 : NP;
        const int8_t *w = W->packed + (size_t)p * n_kg * NP * 4;
        const float *ws = W->scale + c0, *bias = j->bias ? j->bias + c0 : NULL;
        for (int i = r0; i < r1;) {
            float *y = j->y + (size_t)i * j->ldy + c0;
            const uint8_t *a = j->q + (size_t)i * k4;
            if (W->kernel == SILT_Q8_VNNI) {
                const int mr = r1 - i < MR ? r1 - i : MR;
                VNNI_TILES[mr](a, k4, w, n_kg, j->qs + i, ws, W->comp + c0, bias, j->accumulate,
                               y, j->ldy, n_cols);
                i += mr;
            } else {
                if (W->kernel == SILT_Q8_AVX2)
                    tile_avx2((const int8_t *)a, w, n_kg, j->qs[i], ws, bias, j->accumulate, y, n_cols);
                else
                    tile_portable((const int8_t *)a, w, n_kg, j->qs[i], ws, bias, j->accumulate, y,
                                  n_cols);
                i++;
            }
        }
    }
}

static void rows_task(void *ctx, int task, int worker) {
    (void)worker;
    const q8_job *j = ctx;
    const int r0 = (int)((long long)j->n_rows * task / j->n_tasks);
    const int r1 = (int)((long long)j->n_rows * (task + 1) / j->n_tasks);
    run_rows(j, r0, r1);
}

void silt_q8_linear(const silt_q8_matrix *W, const float *x, int n_rows, int ldx,
                    const float *bias, int accumulate, float *y, int ldy, void *scratch) {
    if (n_rows <= 0) return;
    const size_t k4 = (size_t)W->k4;
    q8_job j = {.W = W, .x = x, .n_rows = n_rows, .ldx = ldx, .ldy = ldy,
                .accumulate = accumulate, .bias = bias, .y = y, .q = scratch,
                .qs = (float *)(void *)((uint8_t *)scratch +
                                        (((size_t)n_rows * k4 + 63) & ~(size_t)63))};
    const int blocks = (n_rows + ROWS_PER_TASK - 1) / ROWS_PER_TASK;
    if (blocks > 1 && (long long)n_rows * W->n_in * W->n_out >= PAR_MIN_MACS &&
        silt_threads_count() > 1) {
        j.n_tasks = blocks;
        silt_threads_for(blocks, rows_task, &j);
    } else {
        j.n_tasks = 1;
        run_rows(&j, 0, n_rows);
    }
}
