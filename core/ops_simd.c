/* ops_simd.c: the AVX-512 kernels of ops_simd.h.
 *
 * Every function is compiled for AVX-512 with a target attribute (the rest of silt is built
 * for baseline x86-64), so it must only run after silt_simd_available() said yes. Row tails
 * use masked loads and stores, which never touch (or fault on) the masked-off lanes.
 *
 * Attention, per head: K_h is transposed into scratch (Kt[d, n_k padded to 16]) so that a
 * 4 x 64 tile of the logits is 16 accumulators fed by one broadcast of q and four loads of Kt
 * per step of d; the probabilities then multiply V_h in 8 x 32 tiles the same way. At
 * 128 x 128 x 32 per head this beats a BLAS call, whose packing and dispatch cost as much as
 * the product. */
#include "core/ops_simd.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>

#define SIMD __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,fma")))
#define INLINE inline __attribute__((always_inline))

static int simd_ok;
static pthread_once_t simd_once = PTHREAD_ONCE_INIT;

static void simd_detect(void) {
    __builtin_cpu_init();
    simd_ok = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
              __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
              __builtin_cpu_supports("fma");
}

int silt_simd_available(void) {
    pthread_once(&simd_once, simd_detect);
    return simd_ok;
}

/* Lanes [0, n) of a 16-lane vector, n clamped to 0..16. */
static INLINE __mmask16 lanes(int n) {
    if (n <= 0) return 0;
    if (n >= 16) return 0xFFFF;
    return (__mmask16)((1u << n) - 1u);
}

/* e^x: x = n·ln2 + r with |r| <= ln2/2 (ln2 split in two so n·ln2_hi is exact), e^r by its
 * Taylor polynomial to degree 7 (truncation < 6e-9 relative), times 2^n by scalef, which
 * also gives 0 and inf beyond float range. Inputs below -104 give 0 (denormal range). */
SIMD static INLINE __m512 exp512(__m512 x) {
    x = _mm512_max_ps(_mm512_min_ps(x, _mm512_set1_ps(88.8f)), _mm512_set1_ps(-104.0f));
    const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                          _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, n);
}

/* gelu(v) = v·Φ(v). With z = |v|/√2, E = erfc(z)/2 = Φ(-|v|) from A&S 7.1.26
 * (erfc(z) ≈ t·(a1 + t·(a2 + ...))·e^(-z²), t = 1/(1 + p·z)); Φ(v) = 1 - E for v >= 0 and E
 * for v < 0, so the negative tail keeps its relative precision. */
SIMD static INLINE __m512 gelu512(__m512 v) {
    const __m512 one = _mm512_set1_ps(1.0f);
    const __m512 z = _mm512_mul_ps(_mm512_abs_ps(v), _mm512_set1_ps(0.70710678118654752f));
    const __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(z, _mm512_set1_ps(0.3275911f), one));
    __m512 P = _mm512_set1_ps(1.061405429f);
    P = _mm512_fmadd_ps(P, t, _mm512_set1_ps(-1.453152027f));
    P = _mm512_fmadd_ps(P, t, _mm512_set1_ps(1.421413741f));
    P = _mm512_fmadd_ps(P, t, _mm512_set1_ps(-0.284496736f));
    P = _mm512_fmadd_ps(P, t, _mm512_set1_ps(0.254829592f));
    P = _mm512_mul_ps(P, _mm512_mul_ps(t, _mm512_set1_ps(0.5f)));
    const __m512 E = _mm512_mul_ps(P, exp512(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), z), z)));
    const __mmask16 neg = _mm512_cmp_ps_mask(v, _mm512_setzero_ps(), _CMP_LT_OQ);
    return _mm512_mul_ps(v, _mm512_mask_blend_ps(neg, _mm512_sub_ps(one, E), E));
}

SIMD void silt_simd_bias_gelu(float *x, int n_rows, int dim, const float *bias) {
    for (int r = 0; r < n_rows; r++) {
        float *row = x + (size_t)r * dim;
        for (int j = 0; j < dim; j += 16) {
            const __mmask16 k = lanes(dim - j);
            __m512 v = _mm512_maskz_loadu_ps(k, row + j);
            if (bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(k, bias + j));
            _mm512_mask_storeu_ps(row + j, k, gelu512(v));
        }
    }
}

SIMD void silt_simd_gelu(float *x, size_t n) {
    for (size_t i = 0; i < n; i += 16) {
        const __mmask16 k = lanes(n - i >= 16 ? 16 : (int)(n - i));
        _mm512_mask_storeu_ps(x + i, k, gelu512(_mm512_maskz_loadu_ps(k, x + i)));
    }
}

SIMD static void softmax_row(float *row, int n) {
    if (n <= 0) return;
    __m512 m = _mm512_set1_ps(-INFINITY);
    for (int j = 0; j < n; j += 16) {
        const __mmask16 k = lanes(n - j);
        m = _mm512_mask_max_ps(m, k, m, _mm512_maskz_loadu_ps(k, row + j));
    }
    const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(m));
    __m512 s = _mm512_setzero_ps();
    for (int j = 0; j < n; j += 16) {
        const __mmask16 k = lanes(n - j);
        const __m512 e = exp512(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), mx));
        s = _mm512_mask_add_ps(s, k, s, e);
        _mm512_mask_storeu_ps(row + j, k, e);
    }
    const __m512 inv = _mm512_set1_ps(1.0f / _mm512_reduce_add_ps(s));
    for (int j = 0; j < n; j += 16) {
        const __mmask16 k = lanes(n - j);
        _mm512_mask_storeu_ps(row + j, k, _mm512_mul_ps(_mm512_maskz_loadu_ps(k, row + j), inv));
    }
}

void silt_simd_softmax_rows(float *x, int n_rows, int dim) {
    for (int r = 0; r < n_rows; r++) softmax_row(x + (size_t)r * dim, dim);
}

SIMD void silt_simd_bias_layernorm(float *x, int n_rows, int dim, const float *bias,
                                   const float *g, const float *b, float eps) {
    if (dim <= 0) return;
    for (int r = 0; r < n_rows; r++) {
        float *row = x + (size_t)r * dim;
        /* Statistics of v - c with c = the row's first value: a large common offset then
         * costs no precision in float32 lanes. */
        if (bias) {
            for (int j = 0; j < dim; j += 16) {
                const __mmask16 k = lanes(dim - j);
                _mm512_mask_storeu_ps(row + j, k, _mm512_add_ps(_mm512_maskz_loadu_ps(k, row + j),
                                                                _mm512_maskz_loadu_ps(k, bias + j)));
            }
        }
        const __m512 c = _mm512_set1_ps(row[0]);
        __m512 s = _mm512_setzero_ps();
        for (int j = 0; j < dim; j += 16) {
            const __mmask16 k = lanes(dim - j);
            s = _mm512_add_ps(s, _mm512_maskz_sub_ps(k, _mm512_maskz_loadu_ps(k, row + j), c));
        }
        const __m512 mv = _mm512_set1_ps(_mm512_reduce_add_ps(s) / (float)dim); /* mean - c */
        __m512 q = _mm512_setzero_ps();
        for (int j = 0; j < dim; j += 16) {
            const __mmask16 k = lanes(dim - j);
            const __m512 d = _mm512_maskz_sub_ps(k, _mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), c), mv);
            q = _mm512_fmadd_ps(d, d, q);
        }
        const __m512 iv = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(q) / (float)dim + eps));
        for (int j = 0; j < dim; j += 16) {
            const __mmask16 k = lanes(dim - j);
            __m512 y = _mm512_mul_ps(_mm512_sub_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(k, row + j), c), mv), iv);
            if (g) y = _mm512_mul_ps(y, _mm512_maskz_loadu_ps(k, g + j));
            if (b) y = _mm512_add_ps(y, _mm512_maskz_loadu_ps(k, b + j));
            _mm512_mask_storeu_ps(row + j, k, y);
        }
    }
}

/* ---- attention ------------------------------------------------------------------------ */

size_t silt_simd_attention_scratch(int n_q, int n_k, int d_head) {
    const size_t nkp = ((size_t)(n_k > 0 ? n_k : 0) + 15) & ~(size_t)15;
    return (size_t)(d_head > 0 ? d_head : 0) * nkp + (size_t)(n_q > 0 ? n_q : 0) * nkp;
}

/* Logits S[mr rows, 16·nv columns from j0] = scale · q·Kt (+ key_bias[j]). q points at the
 * head's columns of the first query row; kt is [d, nkp]. mr and nv are constants in every
 * caller, so the accumulators stay in registers. */
SIMD static INLINE void qk_tile(const int mr, const int nv, const float *q, int ld_q,
                                const float *kt, int nkp, int d, int j0, float scale,
                                const float *key_bias, int n_k, float *s) {
    __m512 acc[4][4];
    #pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
        #pragma GCC unroll 8
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (int c = 0; c < d; c++) {
        __m512 kv[4];
        #pragma GCC unroll 8
        for (int v = 0; v < nv; v++) kv[v] = _mm512_loadu_ps(kt + (size_t)c * nkp + j0 + 16 * v);
        #pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            const __m512 a = _mm512_set1_ps(q[(size_t)r * ld_q + c]);
            #pragma GCC unroll 8
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(a, kv[v], acc[r][v]);
        }
    }
    const __m512 sc = _mm512_set1_ps(scale);
    #pragma GCC unroll 8
    for (int v = 0; v < nv; v++) {
        const int j = j0 + 16 * v;
        const __m512 kb = key_bias ? _mm512_maskz_loadu_ps(lanes(n_k - j), key_bias + j)
                                   : _mm512_setzero_ps();
        #pragma GCC unroll 8
        for (int r = 0; r < mr; r++)
            _mm512_storeu_ps(s + (size_t)r * nkp + j, _mm512_fmadd_ps(acc[r][v], sc, kb));
    }
}

/* out[mr rows, 32 columns masked by m0/m1] = P[mr rows, n_k] · V[n_k, those columns]. */
SIMD static INLINE void pv_tile(const int mr, const float *p, int nkp, const float *v, int ld_v,
                                int n_k, float *o, int ld_out, __mmask16 m0, __mmask16 m1) {
    __m512 acc[8][2];
    #pragma GCC unroll 8
    for (int r = 0; r < mr; r++) acc[r][0] = acc[r][1] = _mm512_setzero_ps();
    for (int j = 0; j < n_k; j++) {
        const __m512 v0 = _mm512_maskz_loadu_ps(m0, v + (size_t)j * ld_v);
        const __m512 v1 = _mm512_maskz_loadu_ps(m1, v + (size_t)j * ld_v + 16);
        #pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            const __m512 a = _mm512_set1_ps(p[(size_t)r * nkp + j]);
            acc[r][0] = _mm512_fmadd_ps(a, v0, acc[r][0]);
            acc[r][1] = _mm512_fmadd_ps(a, v1, acc[r][1]);
        }
    }
    #pragma GCC unroll 8
    for (int r = 0; r < mr; r++) {
        _mm512_mask_storeu_ps(o + (size_t)r * ld_out, m0, acc[r][0]);
        _mm512_mask_storeu_ps(o + (size_t)r * ld_out + 16, m1, acc[r][1]);
    }
}

SIMD void silt_simd_attention(const float *Q, int ld_q, const float *K, int ld_k, const float *V,
                              int ld_v, int n_q, int n_k, int n_heads, int d_head, float scale,
                              const float *key_bias, float *out, int ld_out, float *scratch) {
    if (n_q <= 0) return;
    if (n_k <= 0) {
        for (int i = 0; i < n_q; i++)
            for (int j = 0; j < n_heads * d_head; j++) out[(size_t)i * ld_out + j] = 0.0f;
        return;
    }
    const int nkp = (n_k + 15) & ~15;
    float *kt = scratch, *S = scratch + (size_t)d_head * nkp;
    for (int h = 0; h < n_heads; h++) {
        const int col = h * d_head;
        for (int c = 0; c < d_head; c++) {
            float *row = kt + (size_t)c * nkp;
            for (int j = 0; j < n_k; j++) row[j] = K[(size_t)j * ld_k + col + c];
            for (int j = n_k; j < nkp; j++) row[j] = 0.0f;
        }
        int i = 0;
        for (; i + 4 <= n_q; i += 4) {
            const float *q = Q + (size_t)i * ld_q + col;
            float *s = S + (size_t)i * nkp;
            int j = 0;
            for (; j + 64 <= nkp; j += 64) qk_tile(4, 4, q, ld_q, kt, nkp, d_head, j, scale, key_bias, n_k, s);
            for (; j < nkp; j += 16) qk_tile(4, 1, q, ld_q, kt, nkp, d_head, j, scale, key_bias, n_k, s);
        }
        for (; i < n_q; i++) {
            const float *q = Q + (size_t)i * ld_q + col;
            float *s = S + (size_t)i * nkp;
            int j = 0;
            for (; j + 64 <= nkp; j += 64) qk_tile(1, 4, q, ld_q, kt, nkp, d_head, j, scale, key_bias, n_k, s);
            for (; j < nkp; j += 16) qk_tile(1, 1, q, ld_q, kt, nkp, d_head, j, scale, key_bias, n_k, s);
        }
        for (int r = 0; r < n_q; r++) softmax_row(S + (size_t)r * nkp, n_k);
        for (int c0 = 0; c0 < d_head; c0 += 32) {
            const __mmask16 m0 = lanes(d_head - c0), m1 = lanes(d_head - c0 - 16);
            const float *v = V + col + c0;
            int r = 0;
            for (; r + 8 <= n_q; r += 8)
                pv_tile(8, S + (size_t)r * nkp, nkp, v, ld_v, n_k, out + (size_t)r * ld_out + col + c0, ld_out, m0, m1);
            for (; r < n_q; r++)
                pv_tile(1, S + (size_t)r * nkp, nkp, v, ld_v, n_k, out + (size_t)r * ld_out + col + c0, ld_out, m0, m1);
        }
    }
}
