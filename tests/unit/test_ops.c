/* test_ops.c: the shared math kernels (core/ops.h) against naive double-precision loops,
 * and the thread pool (core/threads.h). */
#include <cblas.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ops.h"
#include "core/threads.h"

/* Deterministic values in [-1, 1). */
static void fill(float *x, size_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) / 8388608.0 - 1.0);
    }
}

static float *rnd(size_t n, uint32_t seed) {
    float *x = silt_ops_alloc(n);
    cr_assert_not_null(x);
    fill(x, n, seed);
    return x;
}

static void assert_close(const float *got, const double *want, size_t n, double tol,
                         const char *what) {
    for (size_t i = 0; i < n; i++)
        cr_assert(fabs(got[i] - want[i]) <= tol * (1.0 + fabs(want[i])),
                  "%s[%zu]: got %.9g, want %.9g", what, i, got[i], want[i]);
}

Test(ops, matmul_and_transposed_match_naive) {
    const int n = 7, in = 33, out = 19;
    float *x = rnd((size_t)n * in, 1), *W = rnd((size_t)in * out, 2), *Wt = rnd((size_t)out * in, 3);
    float *b = rnd((size_t)out, 4), *y = silt_ops_alloc((size_t)n * out);
    double *want = malloc((size_t)n * out * sizeof *want);
    /* y = x·W */
    for (int r = 0; r < n; r++)
        for (int j = 0; j < out; j++) {
            double s = 0;
            for (int k = 0; k < in; k++) s += (double)x[r * in + k] * W[k * out + j];
            want[r * out + j] = s;
        }
    silt_ops_matmul(x, n, in, W, out, y);
    assert_close(y, want, (size_t)n * out, 1e-5, "matmul");
    /* y += x·W doubles it */
    silt_ops_matmul_acc(x, n, in, W, out, y);
    for (int i = 0; i < n * out; i++) want[i] *= 2;
    assert_close(y, want, (size_t)n * out, 1e-5, "matmul_acc");
    /* linear: x·W + b */
    silt_ops_linear(x, n, in, W, out, b, y);
    for (int r = 0; r < n; r++)
        for (int j = 0; j < out; j++) want[r * out + j] = want[r * out + j] / 2 + b[j];
    assert_close(y, want, (size_t)n * out, 1e-5, "linear");
    /* y = x·Wtᵀ with Wt [out, in] */
    for (int r = 0; r < n; r++)
        for (int j = 0; j < out; j++) {
            double s = 0;
            for (int k = 0; k < in; k++) s += (double)x[r * in + k] * Wt[j * in + k];
            want[r * out + j] = s;
        }
    silt_ops_matmul_wt(x, n, in, Wt, out, y);
    assert_close(y, want, (size_t)n * out, 1e-5, "matmul_wt");
    silt_ops_matmul_wt_acc(x, n, in, Wt, out, y);
    for (int i = 0; i < n * out; i++) want[i] *= 2;
    assert_close(y, want, (size_t)n * out, 1e-5, "matmul_wt_acc");
    silt_ops_linear_wt(x, n, in, Wt, out, b, y);
    for (int r = 0; r < n; r++)
        for (int j = 0; j < out; j++) want[r * out + j] = want[r * out + j] / 2 + b[j];
    assert_close(y, want, (size_t)n * out, 1e-5, "linear_wt");
    free(x), free(W), free(Wt), free(b), free(y), free(want);
}

Test(ops, gemm_strided_and_empty_inner_dimension) {
    /* C[2,3] (ldc 5) = 0.5 · Aᵀ · B with A stored [4,2] (lda 3), B [4,3] (ldb 4), beta 1. */
    float A[12], B[16], C[10];
    fill(A, 12, 5), fill(B, 16, 6), fill(C, 10, 7);
    double want[10];
    for (int i = 0; i < 10; i++) want[i] = C[i];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) {
            double s = 0;
            for (int k = 0; k < 4; k++) s += (double)A[k * 3 + i] * B[k * 4 + j];
            want[i * 5 + j] += 0.5 * s;
        }
    silt_ops_gemm(1, 0, 2, 3, 4, 0.5f, A, 3, B, 4, 1.0f, C, 5);
    assert_close(C, want, 10, 1e-6, "gemm");
    /* k = 0: C = beta·C */
    silt_ops_gemm(0, 0, 2, 3, 0, 1.0f, A, 1, B, 3, 0.0f, C, 5);
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 3; j++) cr_assert_eq(C[i * 5 + j], 0.0f);
}

/* want[r][j] = alpha · Σ_k x[r][k]·W[k][j] in double. */
static double *naive_product(const float *x, const float *W, int n, int in, int out, double alpha) {
    double *want = malloc((size_t)n * out * sizeof *want);
    for (int r = 0; r < n; r++)
        for (int j = 0; j < out; j++) {
            double s = 0;
            for (int k = 0; k < in; k++) s += (double)x[(size_t)r * in + k] * W[(size_t)k * out + j];
            want[(size_t)r * out + j] = alpha * s;
        }
    return want;
}

/* Sizes that exercise every edge of the blocked kernels: rows not a multiple of the 12-row
 * tile, columns not a multiple of the 32-column panel, k spanning several 128-blocks, and
 * a product large enough to be split over the pool. */
Test(ops, gemm_odd_shapes_match_naive) {
    const int shapes[][3] = {{25, 300, 70}, {1, 5, 1}, {13, 129, 33}, {40, 300, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        float *x = rnd((size_t)n * in, 21), *W = rnd((size_t)in * out, 22);
        float *y = silt_ops_alloc((size_t)n * out), *Wt = silt_ops_alloc((size_t)out * in);
        for (int k = 0; k < in; k++)
            for (int j = 0; j < out; j++) Wt[(size_t)j * in + k] = W[(size_t)k * out + j];
        double *want = naive_product(x, W, n, in, out, 1.0);
        silt_ops_matmul(x, n, in, W, out, y);
        assert_close(y, want, (size_t)n * out, 1e-4, "matmul");
        memset(y, 0, (size_t)n * out * sizeof *y);
        silt_ops_matmul_wt(x, n, in, Wt, out, y);
        assert_close(y, want, (size_t)n * out, 1e-4, "matmul_wt");
        silt_ops_matmul_acc(x, n, in, W, out, y);
        silt_ops_matmul_wt_acc(x, n, in, Wt, out, y);
        for (size_t i = 0; i < (size_t)n * out; i++) want[i] *= 3;
        assert_close(y, want, (size_t)n * out, 1e-4, "matmul_acc");
        free(x), free(W), free(Wt), free(y), free(want);
    }
}

Test(ops, packed_weights_match_naive) {
    const int shapes[][3] = {{25, 300, 70}, {1, 5, 1}, {40, 300, 1000}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        const int n = shapes[s][0], in = shapes[s][1], out = shapes[s][2];
        float *x = rnd((size_t)n * in, 31), *W = rnd((size_t)in * out, 32), *b = rnd((size_t)out, 33);
        float *y = silt_ops_alloc((size_t)n * out), *Wt = silt_ops_alloc((size_t)out * in);
        for (int k = 0; k < in; k++)
            for (int j = 0; j < out; j++) Wt[(size_t)j * in + k] = W[(size_t)k * out + j];
        double *want = naive_product(x, W, n, in, out, 1.0);
        silt_ops_weight *pw = silt_ops_weight_pack(W, in, out, 0);
        silt_ops_weight *pt = silt_ops_weight_pack(Wt, in, out, 1);
        cr_assert(pw && pt);
        cr_assert(silt_ops_weight_in(pw) == in && silt_ops_weight_out(pt) == out);
        free(W), free(Wt); /* the packed copies own their data */
        silt_ops_linear_packed(x, n, pw, NULL, y);
        assert_close(y, want, (size_t)n * out, 1e-4, "packed");
        silt_ops_matmul_packed_acc(x, n, pt, y);
        for (size_t i = 0; i < (size_t)n * out; i++) want[i] *= 2;
        assert_close(y, want, (size_t)n * out, 1e-4, "packed transposed acc");
        silt_ops_linear_packed(x, n, pt, b, y);
        for (int r = 0; r < n; r++)
            for (int j = 0; j < out; j++) want[(size_t)r * out + j] = want[(size_t)r * out + j] / 2 + b[j];
        assert_close(y, want, (size_t)n * out, 1e-4, "packed linear");
        silt_ops_weight_free(pw);
        silt_ops_weight_free(pt);
        free(x), free(b), free(y), free(want);
    }
    cr_assert_null(silt_ops_weight_pack(NULL, 0, 5, 0));
    silt_ops_weight_free(NULL);
}

/* The OpenBLAS route (alpha != 1 always takes it) with OpenBLAS on one thread: large
 * products are split by columns over the pool. Each Criterion test is its own process, so
 * the process-wide setting stays local to this test. */
Test(ops, gemm_blas_split_over_pool_matches_naive) {
    openblas_set_num_threads(1);
    cr_assert_eq(silt_ops_blas_threads(), 1);
    const int n = 40, in = 300, out = 1000; /* 1000: not a multiple of the 16-float blocks */
    float *x = rnd((size_t)n * in, 23), *W = rnd((size_t)in * out, 24), *y = silt_ops_alloc((size_t)n * out);
    float *Wt = silt_ops_alloc((size_t)out * in);
    for (int k = 0; k < in; k++)
        for (int j = 0; j < out; j++) Wt[(size_t)j * in + k] = W[(size_t)k * out + j];
    double *want = naive_product(x, W, n, in, out, 0.5);
    silt_ops_gemm(0, 0, n, out, in, 0.5f, x, in, W, out, 0.0f, y, out);
    assert_close(y, want, (size_t)n * out, 1e-4, "split gemm");
    silt_ops_gemm(0, 1, n, out, in, 0.5f, x, in, Wt, in, 0.0f, y, out);
    assert_close(y, want, (size_t)n * out, 1e-4, "split gemm transposed");
    free(x), free(W), free(Wt), free(y), free(want);
}

Test(ops, layernorm_and_rmsnorm_match_naive) {
    const int n = 3, d = 37;
    float *x = rnd((size_t)n * d, 8), *g = rnd(d, 9), *b = rnd(d, 10);
    float *y = silt_ops_alloc((size_t)n * d);
    double want[3 * 37];
    for (int r = 0; r < n; r++) {
        double mu = 0, var = 0;
        for (int j = 0; j < d; j++) mu += x[r * d + j] + 3.0; /* offset: tests the centring */
        mu /= d;
        for (int j = 0; j < d; j++) var += pow(x[r * d + j] + 3.0 - mu, 2);
        var /= d;
        for (int j = 0; j < d; j++)
            want[r * d + j] = (x[r * d + j] + 3.0 - mu) / sqrt(var + 1e-6) * g[j] + b[j];
    }
    for (int i = 0; i < n * d; i++) y[i] = x[i] + 3.0f;
    silt_ops_layernorm(y, n, d, g, b, 1e-6f);
    assert_close(y, want, (size_t)n * d, 2e-5, "layernorm");
    /* NULL gain and bias: unit variance, zero mean. */
    memcpy(y, x, (size_t)n * d * sizeof *y);
    silt_ops_layernorm(y, n, d, NULL, NULL, 0.0f);
    double m = 0, v = 0;
    for (int j = 0; j < d; j++) m += y[j];
    for (int j = 0; j < d; j++) v += (double)y[j] * y[j];
    cr_assert(fabs(m / d) < 1e-6 && fabs(v / d - 1) < 1e-5);

    for (int r = 0; r < n; r++) {
        double ss = 0;
        for (int j = 0; j < d; j++) ss += (double)x[r * d + j] * x[r * d + j];
        for (int j = 0; j < d; j++) want[r * d + j] = x[r * d + j] / sqrt(ss / d + 1e-5) * g[j];
    }
    memcpy(y, x, (size_t)n * d * sizeof *y);
    silt_ops_rmsnorm(y, n, d, g, 1e-5f);
    assert_close(y, want, (size_t)n * d, 2e-6, "rmsnorm");
    free(x), free(g), free(b), free(y);
}

Test(ops, activations_match_naive) {
    const size_t n = 200;
    float *x = rnd(n, 11), *y = silt_ops_alloc(n);
    double *want = malloc(n * sizeof *want);
    for (size_t i = 0; i < n; i++) x[i] *= 12.0f; /* range -12..12 */
    x[0] = 30.0f, x[1] = -30.0f, x[2] = 0.0f;

    memcpy(y, x, n * sizeof *y);
    silt_ops_gelu(y, n);
    for (size_t i = 0; i < n; i++) want[i] = 0.5 * x[i] * (1 + erf(x[i] / sqrt(2.0)));
    assert_close(y, want, n, 1e-6, "gelu");

    memcpy(y, x, n * sizeof *y);
    silt_ops_relu(y, n);
    for (size_t i = 0; i < n; i++) want[i] = x[i] > 0 ? x[i] : 0;
    assert_close(y, want, n, 0, "relu");

    memcpy(y, x, n * sizeof *y);
    silt_ops_silu(y, n);
    for (size_t i = 0; i < n; i++) want[i] = x[i] / (1 + exp(-(double)x[i]));
    assert_close(y, want, n, 1e-6, "silu");

    memcpy(y, x, n * sizeof *y);
    silt_ops_softplus(y, n);
    for (size_t i = 0; i < n; i++) want[i] = log1p(exp((double)x[i]));
    assert_close(y, want, n, 1e-6, "softplus");

    memcpy(y, x, n * sizeof *y);
    silt_ops_tanh(y, n);
    for (size_t i = 0; i < n; i++) want[i] = tanh((double)x[i]);
    assert_close(y, want, n, 1e-6, "tanh");
    free(x), free(y), free(want);
}

Test(ops, softmax_dot_scale_add_and_l2_normalize) {
    float x[2 * 5] = {1, 2, 3, 4, 5, 1000, 1000, -1000, 0, 999};
    silt_ops_softmax_rows(x, 2, 5);
    double want[10];
    double s = 0;
    for (int j = 0; j < 5; j++) s += exp(j + 1.0);
    for (int j = 0; j < 5; j++) want[j] = exp(j + 1.0) / s;
    s = 2 + exp(-1.0);
    want[5] = 1 / s, want[6] = 1 / s, want[7] = 0, want[8] = 0, want[9] = exp(-1.0) / s;
    assert_close(x, want, 10, 1e-6, "softmax"); /* large logits do not overflow */

    float *a = rnd(1001, 12), *b = rnd(1001, 13);
    for (int n = 0; n <= 1000; n += 37) {
        double d = 0; /* from offset 1: unaligned pointers */
        for (int i = 1; i <= n; i++) d += (double)a[i] * b[i];
        cr_assert(fabs(silt_ops_dot(a + 1, b + 1, n) - d) < 1e-4, "dot n=%d", n);
    }
    float y[4] = {1, 2, 3, 4}, z[4] = {10, 20, 30, 40};
    silt_ops_add(y, z, 4);
    silt_ops_scale(y, 4, 0.5f);
    cr_assert(y[0] == 5.5f && y[3] == 22.0f);
    float rows[2 * 3] = {3, 0, 4, 0, 0, 0};
    silt_ops_l2_normalize(rows, 2, 3, 1e-12f);
    cr_assert(fabsf(rows[0] - 0.6f) < 1e-7 && fabsf(rows[2] - 0.8f) < 1e-7);
    cr_assert(rows[3] == 0 && rows[4] == 0 && rows[5] == 0); /* the floor avoids 0/0 */
    float bias[3] = {1, 2, 3}, m[6] = {0};
    silt_ops_add_bias(m, 2, 3, bias);
    cr_assert(m[0] == 1 && m[5] == 3);
    free(a), free(b);
}

Test(ops, attention_matches_naive) {
    const int nq = 5, nk = 6, H = 3, dh = 4, ld = 20; /* row stride > H·dh */
    float *Q = rnd((size_t)nq * ld, 14), *K = rnd((size_t)nk * ld, 15), *V = rnd((size_t)nk * ld, 16);
    float kb[6] = {0, 0, -1e9f, 0, 0.5f, 0};
    float out[5 * 16], scratch[5 * 6];
    for (int i = 0; i < 5 * 16; i++) out[i] = 99; /* columns 12..15 must stay untouched */
    const float scale = 0.5f;
    silt_ops_attention(Q, ld, K, ld, V, ld, nq, nk, H, dh, scale, kb, out, 16, scratch);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < nq; i++) {
            double lg[6], mx = -1e300, s = 0;
            for (int j = 0; j < nk; j++) {
                double d = 0;
                for (int c = 0; c < dh; c++) d += (double)Q[i * ld + h * dh + c] * K[j * ld + h * dh + c];
                lg[j] = scale * d + kb[j];
                mx = fmax(mx, lg[j]);
            }
            for (int j = 0; j < nk; j++) s += (lg[j] = exp(lg[j] - mx));
            for (int c = 0; c < dh; c++) {
                double o = 0;
                for (int j = 0; j < nk; j++) o += lg[j] / s * V[j * ld + h * dh + c];
                cr_assert(fabs(out[i * 16 + h * dh + c] - o) < 1e-5, "head %d q %d c %d", h, i, c);
            }
        }
    for (int i = 0; i < nq; i++)
        for (int c = 12; c < 16; c++) cr_assert_eq(out[i * 16 + c], 99.0f);
    free(Q), free(K), free(V);
}

Test(ops, alloc_is_aligned) {
    for (size_t n = 0; n < 100; n += 7) {
        float *p = silt_ops_alloc(n);
        cr_assert_not_null(p);
        cr_assert_eq((uintptr_t)p % 64, 0);
        free(p);
    }
    cr_assert_null(silt_ops_alloc(SIZE_MAX / 2));
}

/* ---- thread pool ----------------------------------------------------------------------- */

typedef struct {
    int hits[1000];
    int bad_worker;
    pthread_mutex_t mu;
    int nested_sum;
} pool_ctx;

static void count_task(void *p, int task, int worker) {
    pool_ctx *c = p;
    if (worker < 0 || worker >= silt_threads_count()) c->bad_worker = 1;
    __atomic_add_fetch(&c->hits[task], 1, __ATOMIC_RELAXED);
}

Test(ops, threads_for_runs_every_task_once) {
    static pool_ctx c;
    memset(&c, 0, sizeof c);
    cr_assert_geq(silt_threads_count(), 1);
    for (int round = 0; round < 50; round++) silt_threads_for(1000, count_task, &c);
    for (int i = 0; i < 1000; i++) cr_assert_eq(c.hits[i], 50, "task %d ran %d times", i, c.hits[i]);
    cr_assert_eq(c.bad_worker, 0);
    silt_threads_for(0, count_task, &c); /* no tasks: returns at once */
}

static void inner_task(void *p, int task, int worker) {
    (void)worker;
    __atomic_add_fetch(&((pool_ctx *)p)->nested_sum, task + 1, __ATOMIC_RELAXED);
}

static void outer_task(void *p, int task, int worker) {
    (void)task, (void)worker;
    /* Nested use runs inline instead of waiting for the busy pool. */
    silt_threads_for(10, inner_task, p);
}

Test(ops, threads_for_nested_does_not_deadlock) {
    static pool_ctx c;
    memset(&c, 0, sizeof c);
    silt_threads_for(8, outer_task, &c);
    cr_assert_eq(c.nested_sum, 8 * 55);
}

static void *caller_main(void *p) {
    for (int r = 0; r < 200; r++) silt_threads_for(10, inner_task, p);
    return NULL;
}

Test(ops, threads_for_from_many_threads) {
    static pool_ctx c;
    memset(&c, 0, sizeof c);
    pthread_t t[4];
    for (int i = 0; i < 4; i++) cr_assert_eq(pthread_create(&t[i], NULL, caller_main, &c), 0);
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    cr_assert_eq(c.nested_sum, 4 * 200 * 55);
}

/* Counts this process's threads (/proc/self/task). */
static int n_threads(void) {
    int n = 0;
    DIR *d = opendir("/proc/self/task");
    cr_assert_not_null(d);
    for (struct dirent *e; (e = readdir(d));) n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

/* Stopping OpenBLAS's idle helpers must not break it: its next threaded product (a
 * transposed A goes to cblas_sgemm) starts them again and is right, and a second call of
 * silt_ops_blas_quiet does nothing. (Criterion forks each test, and OpenBLAS stops its
 * helpers before a fork, so the count of threads can only be checked not to grow.) */
Test(ops, blas_quiet_then_blas_still_right) {
    const int m = 256, n = 256, k = 256;
    int before = n_threads();
    silt_ops_blas_quiet();
    silt_ops_blas_quiet();
    cr_assert_leq(n_threads(), before, "no thread started");
    float *At = rnd((size_t)k * m, 31), *B = rnd((size_t)k * n, 32), *C = silt_ops_alloc((size_t)m * n);
    double *want = calloc((size_t)m * n, sizeof *want);
    cr_assert_not_null(want);
    for (int i = 0; i < m; i++)
        for (int p = 0; p < k; p++)
            for (int j = 0; j < n; j++) want[(size_t)i * n + j] += (double)At[(size_t)p * m + i] * B[(size_t)p * n + j];
    silt_ops_gemm(1, 0, m, n, k, 1.0f, At, m, B, n, 0.0f, C, n);
    assert_close(C, want, (size_t)m * n, 1e-4, "gemm after quiet");
    free(At), free(B), free(C), free(want);
}
