/* vec.h: float32 vector kernels (dot product, squared L2, cosine parts) with run-time SIMD
 * dispatch: AVX-512F, AVX2+FMA, or portable C. All levels accumulate in the same lane order
 * so their results agree to float rounding (the tests compare them).
 * Pointers need only 4-byte alignment. */
#ifndef SILT_VEC_H
#define SILT_VEC_H

#include <stddef.h>

typedef enum { SILT_SIMD_PORTABLE = 0, SILT_SIMD_AVX2 = 1, SILT_SIMD_AVX512 = 2 } silt_simd_level;

typedef struct {
    silt_simd_level level;
    const char *name;
    float (*dot)(const float *a, const float *b, size_t n);
    float (*l2sq)(const float *a, const float *b, size_t n);
    /* One pass: *dot = a.b, *aa = a.a, *bb = b.b. */
    void (*cos_parts)(const float *a, const float *b, size_t n, float *dot, float *aa, float *bb);
} silt_vec_kernels;

/* The best kernels this CPU runs (chosen once, thread-safe). */
const silt_vec_kernels *silt_vec_best(void);
/* The kernels of one level, or NULL when the CPU cannot run it (for tests and benchmarks). */
const silt_vec_kernels *silt_vec_level(silt_simd_level level);

static inline float silt_vec_dot(const float *a, const float *b, size_t n) {
    return silt_vec_best()->dot(a, b, n);
}
static inline float silt_vec_l2sq(const float *a, const float *b, size_t n) {
    return silt_vec_best()->l2sq(a, b, n);
}

#endif
