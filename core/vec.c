/* vec.c: float32 kernels for distances, one per SIMD level (see vec.h).
 *
 * Every level keeps 16 partial sums in the same lane order (AVX-512: one register of 16;
 * AVX2: two registers of 8; portable: an array of 16) and reduces them pairwise in the same
 * order, so the levels differ only by FMA rounding. */
#include "core/vec.h"

#include <immintrin.h>
#include <math.h>
#include <pthread.h>

/* Reduces 16 partial sums in a fixed pairwise order shared by all levels. */
static float reduce16(const float s[16]) {
    float t[8];
    for (int i = 0; i < 8; i++) t[i] = s[i] + s[i + 8];
    for (int i = 0; i < 4; i++) t[i] = t[i] + t[i + 4];
    for (int i = 0; i < 2; i++) t[i] = t[i] + t[i + 2];
    return t[0] + t[1];
}

/* ---- portable ------------------------------------------------------------------------ */
static float dot_portable(const float *a, const float *b, size_t n) {
    float s[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) s[j] += a[i + j] * b[i + j];
    float r = reduce16(s);
    for (; i < n; i++) r += a[i] * b[i];
    return r;
}

static float l2sq_portable(const float *a, const float *b, size_t n) {
    float s[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) {
            float d = a[i + j] - b[i + j];
            s[j] += d * d;
        }
    float r = reduce16(s);
    for (; i < n; i++) {
        float d = a[i] - b[i];
        r += d * d;
    }
    return r;
}

static void cos_portable(const float *a, const float *b, size_t n, float *dot, float *aa,
                         float *bb) {
    float s[16] = {0}, sa[16] = {0}, sb[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++) {
            s[j] += a[i + j] * b[i + j];
            sa[j] += a[i + j] * a[i + j];
            sb[j] += b[i + j] * b[i + j];
        }
    float d = reduce16(s), x = reduce16(sa), y = reduce16(sb);
    for (; i < n; i++) {
        d += a[i] * b[i];
        x += a[i] * a[i];
        y += b[i] * b[i];
    }
    *dot = d, *aa = x, *bb = y;
}

/* ---- AVX2 + FMA ---------------------------------------------------------------------- */
#define AVX2 __attribute__((target("avx2,fma")))

AVX2 static void store16_avx2(__m256 lo, __m256 hi, float s[16]) {
    _mm256_storeu_ps(s, lo);
    _mm256_storeu_ps(s + 8, hi);
}

AVX2 static float dot_avx2(const float *a, const float *b, size_t n) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        lo = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), lo);
        hi = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), hi);
    }
    float s[16];
    store16_avx2(lo, hi, s);
    float r = reduce16(s);
    for (; i < n; i++) r += a[i] * b[i];
    return r;
}

AVX2 static float l2sq_avx2(const float *a, const float *b, size_t n) {
    __m256 lo = _mm256_setzero_ps(), hi = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8));
        lo = _mm256_fmadd_ps(d0, d0, lo);
        hi = _mm256_fmadd_ps(d1, d1, hi);
    }
    float s[16];
    store16_avx2(lo, hi, s);
    float r = reduce16(s);
    for (; i < n; i++) {
        float d = a[i] - b[i];
        r += d * d;
    }
    return r;
}

AVX2 static void cos_avx2(const float *a, const float *b, size_t n, float *dot, float *aa,
                          float *bb) {
    __m256 d0 = _mm256_setzero_ps(), d1 = d0, x0 = d0, x1 = d0, y0 = d0, y1 = d0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256 a0 = _mm256_loadu_ps(a + i), a1 = _mm256_loadu_ps(a + i + 8);
        __m256 b0 = _mm256_loadu_ps(b + i), b1 = _mm256_loadu_ps(b + i + 8);
        d0 = _mm256_fmadd_ps(a0, b0, d0);
        d1 = _mm256_fmadd_ps(a1, b1, d1);
        x0 = _mm256_fmadd_ps(a0, a0, x0);
        x1 = _mm256_fmadd_ps(a1, a1, x1);
        y0 = _mm256_fmadd_ps(b0, b0, y0);
        y1 = _mm256_fmadd_ps(b1, b1, y1);
    }
    float s[16], sa[16], sb[16];
    store16_avx2(d0, d1, s);
    store16_avx2(x0, x1, sa);
    store16_avx2(y0, y1, sb);
    float d = reduce16(s), x = reduce16(sa), y = reduce16(sb);
    for (; i < n; i++) {
        d += a[i] * b[i];
        x += a[i] * a[i];
        y += b[i] * b[i];
    }
    *dot = d, *aa = x, *bb = y;
}

/* ---- AVX-512F ------------------------------------------------------------------------ */
#define AVX512 __attribute__((target("avx512f")))

AVX512 static float dot_avx512(const float *a, const float *b, size_t n) {
    __m512 acc = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16)
        acc = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), acc);
    float s[16];
    _mm512_storeu_ps(s, acc);
    float r = reduce16(s);
    for (; i < n; i++) r += a[i] * b[i];
    return r;
}

AVX512 static float l2sq_avx512(const float *a, const float *b, size_t n) {
    __m512 acc = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 d = _mm512_sub_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i));
        acc = _mm512_fmadd_ps(d, d, acc);
    }
    float s[16];
    _mm512_storeu_ps(s, acc);
    float r = reduce16(s);
    for (; i < n; i++) {
        float d = a[i] - b[i];
        r += d * d;
    }
    return r;
}

AVX512 static void cos_avx512(const float *a, const float *b, size_t n, float *dot, float *aa,
                              float *bb) {
    __m512 d0 = _mm512_setzero_ps(), x0 = d0, y0 = d0;
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512 va = _mm512_loadu_ps(a + i), vb = _mm512_loadu_ps(b + i);
        d0 = _mm512_fmadd_ps(va, vb, d0);
        x0 = _mm512_fmadd_ps(va, va, x0);
        y0 = _mm512_fmadd_ps(vb, vb, y0);
    }
    float s[16], sa[16], sb[16];
    _mm512_storeu_ps(s, d0);
    _mm512_storeu_ps(sa, x0);
    _mm512_storeu_ps(sb, y0);
    float d = reduce16(s), x = reduce16(sa), y = reduce16(sb);
    for (; i < n; i++) {
        d += a[i] * b[i];
        x += a[i] * a[i];
        y += b[i] * b[i];
    }
    *dot = d, *aa = x, *bb = y;
}

/* ---- dispatch ------------------------------------------------------------------------ */
static const silt_vec_kernels k_portable = {SILT_SIMD_PORTABLE, "portable", dot_portable,
                                            l2sq_portable, cos_portable};
static const silt_vec_kernels k_avx2 = {SILT_SIMD_AVX2, "avx2", dot_avx2, l2sq_avx2, cos_avx2};
static const silt_vec_kernels k_avx512 = {SILT_SIMD_AVX512, "avx512", dot_avx512, l2sq_avx512,
                                          cos_avx512};

static pthread_once_t best_once = PTHREAD_ONCE_INIT;
static const silt_vec_kernels *best = &k_portable; /* written once under best_once */

const silt_vec_kernels *silt_vec_level(silt_simd_level level) {
    __builtin_cpu_init();
    switch (level) {
    case SILT_SIMD_PORTABLE: return &k_portable;
    case SILT_SIMD_AVX2:
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &k_avx2 : NULL;
    case SILT_SIMD_AVX512: return __builtin_cpu_supports("avx512f") ? &k_avx512 : NULL;
    }
    return NULL;
}

static void choose_best(void) {
    if (silt_vec_level(SILT_SIMD_AVX512)) best = &k_avx512;
    else if (silt_vec_level(SILT_SIMD_AVX2)) best = &k_avx2;
}

const silt_vec_kernels *silt_vec_best(void) {
    pthread_once(&best_once, choose_best);
    return best;
}
