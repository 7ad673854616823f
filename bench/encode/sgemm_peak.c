/* sgemm_peak.c: the float32 ceiling of this machine, measured in the same run as the
 * encoders: OpenBLAS cblas_sgemm GFLOP/s on the shapes of facts.md and on the MiniLM
 * model's own products (32 x 128 = 4096 token rows), with OPENBLAS_NUM_THREADS threads.
 *
 *   sgemm_peak        then driver.py's protocol on stdin: "time N" answers
 *                     {"gflops":{"MxNxK":best GFLOP/s of N runs,...},"peak":max}
 *
 * C[M,N] = A[M,K]·B[K,N]; "peak" is the best shape, the number achieved GFLOP/s are divided by. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static const int SHAPES[][3] = {
    {128, 384, 384},  {128, 384, 1536}, {1536, 4096, 384},               /* facts.md */
    {4096, 1152, 384}, {4096, 1536, 384}, {4096, 384, 1536}, {4096, 384, 384}, /* the model */
};
#define N_SHAPES (int)(sizeof SHAPES / sizeof SHAPES[0])

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
        double peak = 0;
        printf("{\"gflops\":{");
        for (int s = 0; s < N_SHAPES; s++) {
            const int M = SHAPES[s][0], N = SHAPES[s][1], K = SHAPES[s][2];
            /* Small shapes are repeated so that one timing covers ~0.1 GFLOP or more. */
            const int reps = 1 + (int)(2e8 / (2.0 * M * N * K));
            double best = 1e30;
            for (int r = 0; r < n; r++) {
                double t0 = now();
                for (int i = 0; i < reps; i++)
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, K, B,
                                N, 0.0f, C, N);
                double t = (now() - t0) / reps;
                if (t < best) best = t;
            }
            const double gf = 2.0 * M * N * K / best * 1e-9;
            if (gf > peak) peak = gf;
            printf("%s\"%dx%dx%d\":%.1f", s ? "," : "", M, N, K, gf);
        }
        printf("},\"peak\":%.1f}\n", peak);
        fflush(stdout);
    }
    free(A), free(B), free(C);
    return 0;
}
