/* sgemm_peak.c: the float32 ceiling of this machine, measured in the same run as the
 * encoders: OpenBLAS cblas_sgemm GFLOP/s on the MiniLM model's own products (32 x 128 =
 * 4096 token rows) and, for reference, on the shapes of facts.md, with OPENBLAS_NUM_THREADS
 * threads.
 * Built with -DSILT_SGEMM it times silt's own product instead (silt_ops_matmul: the AVX-512
 * kernel on the silt_threads pool where the CPU has it), so that the peak the encoders are
 * divided by is the best float32 product of the run, whoever's.
 *
 *   sgemm_peak        then driver.py's protocol on stdin: "time N" answers
 *                     {"gflops":{"MxNxK":best GFLOP/s of N runs,...},"peak":GFLOP/s}
 *
 * C[M,N] = A[M,K]·B[K,N]; "peak" (see MODEL below) is what achieved GFLOP/s are divided by. */
#include <cblas.h>
#ifdef SILT_SGEMM
#include "core/ops.h"
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* facts.md's shapes (reported for reference), then the dense products of one MiniLM forward
 * pass over 32 x 128 tokens (QKV, attention output, FFN up, FFN down), run 6 times in a row:
 * the "peak" is that sequence's rate, timed over about as long as one encoder batch, so that
 * the machine's load weighs on it as it does on the encoders (a 1 ms shape caught in a quiet
 * moment would overstate what the machine gives a 2 s batch). */
static const int SHAPES[][3] = {{128, 384, 384}, {128, 384, 1536}, {1536, 4096, 384}};
static const int MODEL[][3] = {{4096, 1152, 384}, {4096, 384, 384}, {4096, 1536, 384}, {4096, 384, 1536}};
#define N_SHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])
#define LAYERS 6

static void gemm(int M, int N, int K, const float *A, const float *B, float *C) {
#ifdef SILT_SGEMM
    silt_ops_matmul(A, M, K, B, N, C);
#else
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B, N, 0.0f, C, N);
#endif
}

int main(void) {
    const size_t big = (size_t)4096 * 1536;
    float *A = malloc(big * sizeof *A), *B = malloc(big * sizeof *B), *C = malloc(big * sizeof *C);
    if (!A || !B || !C) return 1;
    for (size_t i = 0; i < big; i++) A[i] = (float)(i % 7) * 0.1f, B[i] = (float)(i % 5) * 0.1f;
    printf("{\"ready\":\"sgemm\"}\n");
    fflush(stdout);
    char line[256];
    while (fgets(line, sizeof line, stdin)) {
        int n = 0;
        if (sscanf(line, "time %d", &n) != 1) break;
        printf("{\"gflops\":{");
        for (int sh = 0; sh < N_SHAPES; sh++) {
            const int M = SHAPES[sh][0], N = SHAPES[sh][1], K = SHAPES[sh][2];
            const int reps = 1 + (int)(2e8 / (2.0 * M * N * K)); /* ~0.2 GFLOP per timing */
            double best = 1e30;
            for (int r = 0; r < n; r++) {
                double t0 = now();
                for (int i = 0; i < reps; i++) gemm(M, N, K, A, B, C);
                double t = (now() - t0) / reps;
                if (t < best) best = t;
            }
            printf("%s\"%dx%dx%d\":%.1f", sh ? "," : "", M, N, K, 2.0 * M * N * K / best * 1e-9);
        }
        double best = 1e30, flop = 0;
        for (int r = 0; r < n; r++) {
            double t0 = now();
            flop = 0;
            for (int l = 0; l < LAYERS; l++)
                for (int sh = 0; sh < 4; sh++) {
                    gemm(MODEL[sh][0], MODEL[sh][1], MODEL[sh][2], A, B, C);
                    flop += 2.0 * MODEL[sh][0] * MODEL[sh][1] * MODEL[sh][2];
                }
            double t = now() - t0;
            if (t < best) best = t;
        }
        printf("},\"peak\":%.1f}\n", flop / best * 1e-9);
        fflush(stdout);
    }
    free(A), free(B), free(C);
    return 0;
}
