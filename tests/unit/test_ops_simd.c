/* test_ops_simd.c: the AVX-512 kernels (core/ops_simd.h) against naive double-precision loops,
 * with sizes that leave partial vectors everywhere; and the BERT forward pass when whole
 * chunks of a large batch go to the pool workers (core/bert.c), against the torch goldens and
 * against the same texts embedded one at a time (pooled and unpooled). Skipped on CPUs
 * without AVX-512, where callers use ops.h instead. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bert.h"
#include "core/encoder.h"
#include "core/ops.h"
#include "core/ops_simd.h"
#include "tests/unit/modeltest_util.h"

static void fill(float *x, size_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) / 8388608.0 - 1.0);
    }
}

#define NEED_SIMD()                                                                          \
    do {                                                                                     \
        if (!silt_simd_available()) cr_skip_test("no AVX-512 on this CPU");                  \
    } while (0)

Test(ops_simd, gelu_and_bias_gelu_match_erf) {
    NEED_SIMD();
    const int rows = 3, dim = 37;
    const size_t n = (size_t)rows * dim;
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y), bias[37];
    fill(x, n, 1);
    fill(bias, 37, 2);
    for (size_t i = 0; i < n; i++) x[i] *= 9.0f; /* -9..9: both tails and the middle */
    x[0] = 30.0f, x[1] = -30.0f, x[2] = 0.0f, x[3] = -1e-30f, x[4] = 5e-4f;
    memcpy(y, x, n * sizeof *y);
    silt_simd_gelu(y, n);
    for (size_t i = 0; i < n; i++) {
        const double v = x[i], want = 0.5 * v * (1 + erf(v / sqrt(2.0)));
        cr_assert(fabs(y[i] - want) <= 1e-6 * (1 + fabs(want)), "gelu(%g) = %.9g, want %.9g", v, y[i], want);
    }
    memcpy(y, x, n * sizeof *y);
    silt_simd_bias_gelu(y, rows, dim, bias);
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < dim; j++) {
            const double v = (double)x[r * dim + j] + bias[j];
            const double want = 0.5 * v * (1 + erf(v / sqrt(2.0)));
            cr_assert(fabs(y[r * dim + j] - want) <= 1e-6 * (1 + fabs(want)), "[%d][%d]", r, j);
        }
    free(x), free(y);
}

Test(ops_simd, softmax_matches_double) {
    NEED_SIMD();
    static const int dims[] = {1, 5, 16, 17, 130};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        const int dim = dims[d], rows = 3;
        float *x = malloc((size_t)rows * dim * sizeof *x), *y = malloc((size_t)rows * dim * sizeof *y);
        fill(x, (size_t)rows * dim, 3 + (uint32_t)d);
        for (int j = 0; j < dim; j++) x[dim + j] *= 200.0f; /* row 1: large logits */
        x[2 * dim] = -1e9f;                                  /* row 2: a masked key */
        memcpy(y, x, (size_t)rows * dim * sizeof *y);
        silt_simd_softmax_rows(y, rows, dim);
        for (int r = 0; r < rows; r++) {
            double mx = -1e300, s = 0;
            for (int j = 0; j < dim; j++) mx = fmax(mx, x[r * dim + j]);
            for (int j = 0; j < dim; j++) s += exp((double)x[r * dim + j] - mx);
            for (int j = 0; j < dim; j++) {
                const double want = exp((double)x[r * dim + j] - mx) / s;
                cr_assert(fabs(y[r * dim + j] - want) <= 1e-6 * (1 + want), "dim %d [%d][%d]: %.9g want %.9g",
                          dim, r, j, y[r * dim + j], want);
            }
        }
        free(x), free(y);
    }
}

Test(ops_simd, bias_layernorm_matches_double) {
    NEED_SIMD();
    static const int dims[] = {3, 37, 384};
    for (size_t d = 0; d < sizeof dims / sizeof dims[0]; d++) {
        const int dim = dims[d], rows = 4;
        float *x = malloc((size_t)rows * dim * sizeof *x), *y = malloc((size_t)rows * dim * sizeof *y);
        float *bias = malloc((size_t)dim * sizeof *bias), *g = malloc((size_t)dim * sizeof *g),
              *b = malloc((size_t)dim * sizeof *b);
        fill(x, (size_t)rows * dim, 7);
        fill(bias, (size_t)dim, 8);
        fill(g, (size_t)dim, 9);
        fill(b, (size_t)dim, 10);
        for (int j = 0; j < dim; j++) x[j] = 100.0f + 0.01f * x[j]; /* a large common offset */
        for (int with = 0; with < 2; with++) {
            memcpy(y, x, (size_t)rows * dim * sizeof *y);
            silt_simd_bias_layernorm(y, rows, dim, with ? bias : NULL, with ? g : NULL, with ? b : NULL, 1e-12f);
            for (int r = 0; r < rows; r++) {
                double mean = 0, var = 0;
                for (int j = 0; j < dim; j++) mean += (double)x[r * dim + j] + (with ? bias[j] : 0);
                mean /= dim;
                for (int j = 0; j < dim; j++) {
                    const double v = (double)x[r * dim + j] + (with ? bias[j] : 0) - mean;
                    var += v * v;
                }
                var /= dim;
                for (int j = 0; j < dim; j++) {
                    double want = ((double)x[r * dim + j] + (with ? bias[j] : 0) - mean) / sqrt(var + 1e-12);
                    if (with) want = want * g[j] + b[j];
                    cr_assert(fabs(y[r * dim + j] - want) <= 2e-4 * (1 + fabs(want)), "dim %d [%d][%d]: %.7g want %.7g",
                              dim, r, j, y[r * dim + j], want);
                }
            }
        }
        free(x), free(y), free(bias), free(g), free(b);
    }
}

/* The attention test of test_ops.c, over sizes that exercise every tile and tail. */
static void check_attention(int nq, int nk, int H, int dh, int use_bias) {
    const int ld = H * dh + 3, ldo = H * dh + 5;
    float *Q = malloc((size_t)nq * ld * sizeof *Q), *K = malloc((size_t)nk * ld * sizeof *K),
          *V = malloc((size_t)nk * ld * sizeof *V), *kb = malloc((size_t)nk * sizeof *kb),
          *out = malloc((size_t)nq * ldo * sizeof *out);
    fill(Q, (size_t)nq * ld, 11);
    fill(K, (size_t)nk * ld, 12);
    fill(V, (size_t)nk * ld, 13);
    for (int j = 0; j < nk; j++) kb[j] = j % 3 == 1 ? -1e9f : 0.1f * (float)(j % 4);
    for (size_t i = 0; i < (size_t)nq * ldo; i++) out[i] = 99.0f;
    float *scratch = malloc(silt_simd_attention_scratch(nq, nk, dh) * sizeof *scratch);
    const float scale = 1.0f / sqrtf((float)dh);
    silt_simd_attention(Q, ld, K, ld, V, ld, nq, nk, H, dh, scale, use_bias ? kb : NULL, out, ldo, scratch);
    double *lg = malloc((size_t)nk * sizeof *lg);
    for (int h = 0; h < H; h++)
        for (int i = 0; i < nq; i++) {
            double mx = -1e300, s = 0;
            for (int j = 0; j < nk; j++) {
                double d = 0;
                for (int c = 0; c < dh; c++) d += (double)Q[i * ld + h * dh + c] * K[j * ld + h * dh + c];
                lg[j] = scale * d + (use_bias ? kb[j] : 0);
                mx = fmax(mx, lg[j]);
            }
            for (int j = 0; j < nk; j++) s += (lg[j] = exp(lg[j] - mx));
            for (int c = 0; c < dh; c++) {
                double o = 0;
                for (int j = 0; j < nk; j++) o += lg[j] / s * V[j * ld + h * dh + c];
                cr_assert(fabs(out[i * ldo + h * dh + c] - o) < 1e-5, "nq %d nk %d dh %d: head %d q %d c %d: %.7g want %.7g",
                          nq, nk, dh, h, i, c, out[i * ldo + h * dh + c], o);
            }
        }
    for (int i = 0; i < nq; i++)
        for (int c = H * dh; c < ldo; c++) cr_assert_eq(out[i * ldo + c], 99.0f, "wrote past the heads");
    free(Q), free(K), free(V), free(kb), free(out), free(scratch), free(lg);
}

Test(ops_simd, attention_matches_double) {
    NEED_SIMD();
    check_attention(5, 6, 3, 4, 1);
    check_attention(1, 1, 1, 32, 0);
    check_attention(9, 70, 2, 32, 1);
    check_attention(130, 130, 2, 32, 0);
    check_attention(12, 17, 2, 40, 1);
    check_attention(8, 33, 1, 64, 0);
    /* No keys: the output is zero. */
    float q[4] = {1, 2, 3, 4}, out[4] = {9, 9, 9, 9}, scratch[8];
    silt_simd_attention(q, 4, q, 4, q, 4, 1, 0, 1, 4, 1.0f, NULL, out, 4, scratch);
    for (int c = 0; c < 4; c++) cr_assert_eq(out[c], 0.0f);
}

/* ---- BERT with chunks spread over the workers ------------------------------------------------ */

static cJSON *gold(void) {
    char *s = mt_read("tests/data/tiny_bert_gold.json", NULL);
    cr_assert_not_null(s);
    cJSON *g = cJSON_Parse(s);
    free(s);
    return g;
}

Test(ops_simd, bert_large_batch_matches_golden_and_single_texts) {
    cJSON *g = gold();
    const cJSON *texts = cJSON_GetObjectItem(g, "texts");
    const cJSON *emb = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(g, "variants"), "hf"), "embeddings");
    const int n_gold = cJSON_GetArraySize(texts), reps = 6, n = n_gold * reps, dim = cJSON_GetObjectItem(g, "dim")->valueint;
    char *err = NULL;
    silt_encoder *enc = silt_hf_load("tests/data/tiny-bert", NULL, &err);
    cr_assert_not_null(enc, "%s", err);
    int32_t **ids = calloc((size_t)n, sizeof *ids);
    int *n_ids = calloc((size_t)n, sizeof *n_ids), total = 0;
    for (int i = 0; i < n; i++) {
        const char *s = cJSON_GetArrayItem(texts, i % n_gold)->valuestring;
        cr_assert_eq(enc->ops->tokenize(enc, s, strlen(s), 1, &ids[i], &n_ids[i], &err), 0, "%s", err);
        total += n_ids[i];
    }
    /* ~6 x 22 texts: several 256-token chunks per worker, the chunks-per-worker path. */
    float *out = malloc((size_t)n * dim * sizeof *out);
    cr_assert_eq(enc->ops->embed_batch(enc, (const int32_t *const *)ids, n_ids, n, out, &err), 0, "%s", err);
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int k = 0; k < dim; k++)
            worst = fmax(worst, fabs(out[(size_t)i * dim + k] -
                                     cJSON_GetArrayItem(cJSON_GetArrayItem(emb, i % n_gold), k)->valuedouble));
    cr_assert_lt(worst, 1e-4, "max abs diff %g against the golden", worst);
    /* Unpooled hidden states of the whole batch = those of each text alone. */
    float *hs = malloc((size_t)total * dim * sizeof *hs), *one = malloc((size_t)64 * dim * sizeof *one);
    cr_assert_eq(silt_bert_hidden_states(enc, (const int32_t *const *)ids, n_ids, n, hs, &err), 0, "%s", err);
    size_t row = 0;
    for (int i = 0; i < n; i++) {
        cr_assert_leq(n_ids[i], 64);
        cr_assert_eq(silt_bert_hidden_states(enc, (const int32_t *const *)&ids[i], &n_ids[i], 1, one, &err), 0, "%s", err);
        for (size_t k = 0; k < (size_t)n_ids[i] * dim; k++)
            cr_assert(fabsf(hs[row * dim + k] - one[k]) < 1e-4f, "text %d value %zu", i, k);
        row += (size_t)n_ids[i];
    }
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids), free(n_ids), free(out), free(hs), free(one);
    silt_encoder_free(enc);
    cJSON_Delete(g);
}
