/* encode_uselite.c: silt side of the USE-Lite encode benchmark (bench/encode_uselite/run.sh).
 *
 * Tokenizes and embeds every sentence of a JSON array with silt's default model, in
 * batches of BATCH texts (and one text per call, the cost of a per-row SQL call), best of
 * ROUNDS passes (wall and CPU time of the best). With REF.bin (the tfjs embeddings, 512 float32 per sentence) it also reports
 * how far silt's vectors are from the reference.
 *
 * usage: encode_uselite MODEL_DIR SENTENCES.json BATCH ROUNDS [REF.bin]
 * prints one JSON line. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ops.h"
#include "core/ops_gemm.h"
#include "core/tfjs.h"
#include "core/use_lite.h"

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* One pass: tokenize and embed texts[0..n) in batches of batch into out. Returns 0 or -1. */
static int pass(const silt_encoder *enc, char **texts, int n, int batch, float *out,
                long long *n_tokens) {
    int32_t **ids = malloc((size_t)batch * sizeof *ids);
    int *n_ids = malloc((size_t)batch * sizeof *n_ids);
    char *err = NULL;
    int rc = ids && n_ids ? 0 : -1;
    *n_tokens = 0;
    for (int s = 0; rc == 0 && s < n; s += batch) {
        const int b = n - s < batch ? n - s : batch;
        for (int i = 0; i < b; i++) {
            if (enc->ops->tokenize(enc, texts[s + i], strlen(texts[s + i]), 1, &ids[i], &n_ids[i], &err) != 0) {
                fprintf(stderr, "tokenize: %s\n", err);
                return -1;
            }
            *n_tokens += n_ids[i];
        }
        if (enc->ops->embed_batch(enc, (const int32_t *const *)ids, n_ids, b, out + (size_t)s * 512, &err) != 0) {
            fprintf(stderr, "embed: %s\n", err);
            rc = -1;
        }
        for (int i = 0; i < b; i++) free(ids[i]);
    }
    free(ids);
    free(n_ids);
    return rc;
}

/* CPU time of the whole process (all threads), seconds. */
static double cpu_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Best wall time over rounds passes; *cpu gets the CPU time of that pass. */
static double best_pass(const silt_encoder *enc, char **texts, int n, int batch, int rounds,
                        float *out, long long *n_tokens, double *cpu) {
    double best = INFINITY;
    for (int r = 0; r < rounds; r++) {
        const double t0 = now_s(), c0 = cpu_s();
        if (pass(enc, texts, n, batch, out, n_tokens) != 0) exit(1);
        const double dt = now_s() - t0, dc = cpu_s() - c0;
        if (dt < best) best = dt, *cpu = dc;
    }
    return best;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s MODEL_DIR SENTENCES.json BATCH ROUNDS [REF.bin]\n", argv[0]);
        return 2;
    }
    const int batch = atoi(argv[3]), rounds = atoi(argv[4]);
    char *err = NULL;
    const double t_load = now_s();
    silt_encoder *enc = silt_uselite_load(argv[1], &err);
    if (!enc) {
        fprintf(stderr, "load: %s\n", err);
        return 1;
    }
    const double load_s = now_s() - t_load;
    char *json = silt_tfjs_read_file(argv[2], (size_t)1 << 30, NULL, &err);
    cJSON *arr = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsArray(arr)) {
        fprintf(stderr, "%s: not a JSON array of strings\n", argv[2]);
        return 1;
    }
    const int n = cJSON_GetArraySize(arr);
    char **texts = malloc((size_t)n * sizeof *texts);
    for (int i = 0; i < n; i++) texts[i] = cJSON_GetArrayItem(arr, i)->valuestring;
    float *out = malloc((size_t)n * 512 * sizeof(float));
    long long n_tokens = 0;

    double c_batch = 0, c_single = 0;
    best_pass(enc, texts, n < batch ? n : batch, batch, 1, out, &n_tokens, &c_batch); /* warm-up */
    const double t_batch = best_pass(enc, texts, n, batch, rounds, out, &n_tokens, &c_batch);
    double max_diff = -1, min_cos = 2;
    if (argc > 5) {
        FILE *f = fopen(argv[5], "rb");
        float *ref = malloc((size_t)n * 512 * sizeof(float));
        if (!f || fread(ref, sizeof(float), (size_t)n * 512, f) != (size_t)n * 512) {
            fprintf(stderr, "%s: expected %d x 512 float32\n", argv[5], n);
            return 1;
        }
        fclose(f);
        max_diff = 0;
        for (int i = 0; i < n; i++) {
            double d = 0, aa = 0, bb = 0;
            for (int k = 0; k < 512; k++) {
                const double a = out[(size_t)i * 512 + k], b = ref[(size_t)i * 512 + k];
                max_diff = fmax(max_diff, fabs(a - b));
                d += a * b, aa += a * a, bb += b * b;
            }
            min_cos = fmin(min_cos, d / sqrt(aa * bb));
        }
        free(ref);
    }
    const double t_single = best_pass(enc, texts, n, 1, rounds, out, &n_tokens, &c_single);
    printf("{\"gemm\": \"%s\", ", silt_ops_gemm_fast_available() ? "silt-avx512" : "openblas");
    printf("\"blas_threads\": %d, ", silt_ops_blas_threads());
    printf("\"texts\": %d, \"tokens\": %lld, \"load_s\": %.3f, \"batch\": %d, \"batch_s\": %.3f, "
           "\"batch_per_second\": %.1f, \"batch_cpu_s\": %.3f, \"single_s\": %.3f, "
           "\"single_per_second\": %.1f, \"single_cpu_s\": %.3f",
           n, n_tokens, load_s, batch, t_batch, n / t_batch, c_batch, t_single, n / t_single,
           c_single);
    if (max_diff >= 0) printf(", \"max_abs_diff_vs_ref\": %.3g, \"min_cosine_vs_ref\": %.9f", max_diff, min_cos);
    printf("}\n");
    free(out);
    free(texts);
    cJSON_Delete(arr);
    free(json);
    enc->ops->destroy(enc);
    return 0;
}
