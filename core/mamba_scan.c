/* mamba_scan.c: the causal conv and selective-scan kernels of mamba_scan.h.
 *
 * Each kernel walks 8 channels at a time through all tokens of the segment, so the h matrix of
 * those channels (d_state vectors of 8) stays in registers / L1 for the whole segment. The
 * scan costs d_state exponentials per channel and token, which is why exp is a polynomial on
 * 8-float vectors (GCC vector extensions) instead of a libm call per value. The same body is
 * compiled twice: for the baseline ISA and for AVX2+FMA, chosen at run time. */
#include "core/mamba_scan.h"

#include <stdint.h>
#include <string.h>

/* The vector helpers below are always inlined, so no 32-byte vector ever crosses a call: GCC's
 * note that such a call's ABI depends on -mavx does not apply. */
#pragma GCC diagnostic ignored "-Wpsabi"

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

#define INLINE static inline __attribute__((always_inline))

INLINE v8f vsplat(float x) { return (v8f){x, x, x, x, x, x, x, x}; }

/* Loads m <= 8 floats (the rest zero). */
INLINE v8f vload(const float *p, int m) {
    v8f v = vsplat(0.0f);
    if (m == 8) memcpy(&v, p, sizeof v);
    else memcpy(&v, p, (size_t)m * sizeof(float));
    return v;
}

INLINE void vstore(float *p, v8f v, int m) {
    if (m == 8) memcpy(p, &v, sizeof v);
    else memcpy(p, &v, (size_t)m * sizeof(float));
}

/* mask ? a : b, lane by lane (mask lanes are 0 or -1, as vector comparisons give). */
INLINE v8f vsel(v8i mask, v8f a, v8f b) { return (v8f)(((v8i)a & mask) | ((v8i)b & ~mask)); }

/* e^x, Cephes' single-precision method: x = n·ln2 + r, |r| <= ln2/2, a degree-6 polynomial for
 * e^r and 2^n from the exponent bits. Inputs are clamped to [-87, 88] (no overflow, no
 * denormals: e^-87 stands for anything smaller, harmless where it multiplies a state). */
INLINE v8f vexp(v8f x) {
    x = vsel(x < vsplat(-87.0f), vsplat(-87.0f), x);
    x = vsel(x > vsplat(88.0f), vsplat(88.0f), x);
    /* Round-to-nearest by the 1.5·2^23 trick (exact for |x·log2e| < 2^22). */
    v8f n = (x * vsplat(1.44269504088896341f) + vsplat(12582912.0f)) - vsplat(12582912.0f);
    v8f r = x - n * vsplat(0.693359375f);
    r = r - n * vsplat(-2.12194440e-4f);
    v8f p = vsplat(1.9875691500e-4f);
    p = p * r + vsplat(1.3981999507e-3f);
    p = p * r + vsplat(8.3334519073e-3f);
    p = p * r + vsplat(4.1665795894e-2f);
    p = p * r + vsplat(1.6666665459e-1f);
    p = p * r + vsplat(5.0000001201e-1f);
    p = p * r * r + r + vsplat(1.0f);
    v8i e = (__builtin_convertvector(n, v8i) + 127) << 23;
    return p * (v8f)e;
}

/* ln(y) for finite y >= 1 (the only inputs softplus gives it), Cephes' logf. */
INLINE v8f vlog(v8f y) {
    v8i bits = (v8i)y;
    v8i e = ((bits >> 23) & 0xff) - 126; /* y = m·2^e, m in [0.5, 1) */
    v8f m = (v8f)((bits & 0x007fffff) | 0x3f000000);
    v8i small = m < vsplat(0.707106781186547524f);
    e = e + small; /* small lanes are -1: e - 1 and x = 2m - 1 */
    v8f x = vsel(small, m + m - vsplat(1.0f), m - vsplat(1.0f));
    v8f z = x * x;
    v8f p = vsplat(7.0376836292e-2f);
    p = p * x + vsplat(-1.1514610310e-1f);
    p = p * x + vsplat(1.1676998740e-1f);
    p = p * x + vsplat(-1.2420140846e-1f);
    p = p * x + vsplat(1.4249322787e-1f);
    p = p * x + vsplat(-1.6668057665e-1f);
    p = p * x + vsplat(2.0000714765e-1f);
    p = p * x + vsplat(-2.4999993993e-1f);
    p = p * x + vsplat(3.3333331174e-1f);
    p = p * x * z;
    v8f fe = __builtin_convertvector(e, v8f);
    p = p + fe * vsplat(-2.12194440e-4f);
    p = p - vsplat(0.5f) * z;
    return x + p + fe * vsplat(0.693359375f);
}

/* softplus(x) = log(1 + e^x), and x above 20 as PyTorch. log1p keeps its relative precision
 * for tiny e^x by Goldberg's correction log(u)·e/(u-1), u = 1 + e. */
INLINE v8f vsoftplus(v8f x) {
    v8f ex = vexp(x);
    v8f u = vsplat(1.0f) + ex;
    v8f d = u - vsplat(1.0f);
    v8f safe_d = vsel(d == vsplat(0.0f), vsplat(1.0f), d);
    v8f lp = vsel(d == vsplat(0.0f), ex, vlog(u) * ex / safe_d);
    return vsel(x > vsplat(20.0f), x, lp);
}

INLINE v8f vsilu(v8f x) { return x / (vsplat(1.0f) + vexp(-x)); }

INLINE void conv_body(const silt_mamba_conv_args *a) {
    const int K = a->d_conv, T = a->n_tokens, di = a->d_inner;
    v8f w[SILT_MAMBA_MAX_CONV];
    for (int c = a->c0; c < a->c1; c += 8) {
        const int m = a->c1 - c < 8 ? a->c1 - c : 8;
        for (int k = 0; k < K; k++) w[k] = vload(a->w + (size_t)k * di + c, m);
        const v8f bias = a->bias ? vload(a->bias + c, m) : vsplat(0.0f);
        for (int t = 0; t < T; t++) {
            v8f acc = bias;
            for (int k = 0; k < K; k++) {
                const int r = t - (K - 1) + k; /* input row; negative = carried state */
                v8f v;
                if (r >= 0) v = vload(a->x + (size_t)r * a->ld_x + c, m);
                else if (a->state_in) v = vload(a->state_in + (size_t)(K - 1 + r) * di + c, m);
                else v = vsplat(0.0f);
                acc += w[k] * v;
            }
            vstore(a->u + (size_t)t * a->ld_u + c, vsilu(acc), m);
        }
        if (!a->state_out) continue;
        for (int j = 0; j < K - 1; j++) {
            const int r = T - (K - 1) + j;
            v8f v;
            if (r >= 0) v = vload(a->x + (size_t)r * a->ld_x + c, m);
            else if (a->state_in) v = vload(a->state_in + (size_t)(K - 1 + r) * di + c, m);
            else v = vsplat(0.0f);
            vstore(a->state_out + (size_t)j * di + c, v, m);
        }
    }
}

INLINE void scan_body(const silt_mamba_scan_args *a) {
    const int N = a->d_state, T = a->n_tokens, di = a->d_inner;
    v8f h[SILT_MAMBA_MAX_STATE], A[SILT_MAMBA_MAX_STATE];
    for (int c = a->c0; c < a->c1; c += 8) {
        const int m = a->c1 - c < 8 ? a->c1 - c : 8;
        for (int n = 0; n < N; n++) {
            A[n] = vload(a->A + (size_t)n * di + c, m);
            h[n] = a->state_in ? vload(a->state_in + (size_t)n * di + c, m) : vsplat(0.0f);
        }
        const v8f bias = a->dt_bias ? vload(a->dt_bias + c, m) : vsplat(0.0f);
        const v8f D = vload(a->D + c, m);
        for (int t = 0; t < T; t++) {
            const v8f delta = vsoftplus(vload(a->dt + (size_t)t * a->ld_dt + c, m) + bias);
            const v8f u = vload(a->u + (size_t)t * a->ld_u + c, m);
            const v8f du = delta * u;
            const float *B = a->B + (size_t)t * a->ld_bc, *C = a->C + (size_t)t * a->ld_bc;
            v8f y = D * u;
            for (int n = 0; n < N; n++) {
                h[n] = vexp(delta * A[n]) * h[n] + du * vsplat(B[n]);
                y += h[n] * vsplat(C[n]);
            }
            const v8f z = vload(a->z + (size_t)t * a->ld_z + c, m);
            vstore(a->y + (size_t)t * a->ld_y + c, y * vsilu(z), m);
        }
        if (a->state_out)
            for (int n = 0; n < N; n++) vstore(a->state_out + (size_t)n * di + c, h[n], m);
    }
}

static void conv_generic(const silt_mamba_conv_args *a) { conv_body(a); }
static void scan_generic(const silt_mamba_scan_args *a) { scan_body(a); }

#if defined(__x86_64__)
#define HAVE_AVX2_PATH 1
__attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
static void conv_avx2(const silt_mamba_conv_args *a) { conv_body(a); }
__attribute__((target("avx2,fma"), optimize("fp-contract=fast")))
static void scan_avx2(const silt_mamba_scan_args *a) { scan_body(a); }

static int cpu_has_avx2(void) {
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

void silt_mamba_conv(const silt_mamba_conv_args *a) {
#ifdef HAVE_AVX2_PATH
    if (cpu_has_avx2()) {
        conv_avx2(a);
        return;
    }
#endif
    conv_generic(a);
}

void silt_mamba_scan(const silt_mamba_scan_args *a) {
#ifdef HAVE_AVX2_PATH
    if (cpu_has_avx2()) {
        scan_avx2(a);
        return;
    }
#endif
    scan_generic(a);
}
