/* test_int8.c: int8 linear layers (core/ops_int8.h) and BERT's {"int8": true} mode.
 *
 * The kernels (AVX-512 VNNI, AVX2, portable: every one this CPU runs) against a double
 * precision product, within the bound the two roundings allow; against each other (the same
 * int32 sums); accumulate mode, strides, zero rows, the split over the pool; bad arguments.
 * Then whole encoders: int8 against float32 embeddings, cosine >= 0.999 per text, on the tiny
 * BERT goldens' texts (HF directory, F16 and Q8_0 GGUF) and on a MiniLM-L6-shaped model
 * (6 layers, hidden 384, 12 heads, FFN 1536, random weights written here). */
#include <cjson/cJSON.h>
#include <math.h>

#include "core/bert.h"
#include "core/encoder.h"
#include "core/ops.h"
#include "core/ops_int8.h"
#include "tests/unit/modeltest_util.h"

/* Deterministic values in [-1, 1). */
static void fill(float *x, size_t n, uint32_t seed) {
    uint32_t s = seed * 2654435761u + 1;
    for (size_t i = 0; i < n; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)((s >> 8) / 8388608.0 - 1.0);
    }
}

/* y = x·Wᵀ + b in double, and for every element the largest error the two roundings can
 * cause: Σ_k |x_k|·sw/2 + |w_k|·sx/2 + sx·sw/4 (sw, sx: the row scales, max|row|/127). */
static void reference(const float *x, int n_rows, int ldx, const float *W, int n_out, int n_in,
                      const float *bias, double *y, double *bound) {
    for (int i = 0; i < n_rows; i++) {
        double ax = 0;
        for (int k = 0; k < n_in; k++) ax = fmax(ax, fabs(x[(size_t)i * ldx + k]));
        const double sx = ax / 127;
        for (int j = 0; j < n_out; j++) {
            double aw = 0, s = bias ? bias[j] : 0, b = 0;
            for (int k = 0; k < n_in; k++) aw = fmax(aw, fabs(W[(size_t)j * n_in + k]));
            const double sw = aw / 127;
            for (int k = 0; k < n_in; k++) {
                const double xv = x[(size_t)i * ldx + k], wv = W[(size_t)j * n_in + k];
                s += xv * wv;
                b += fabs(xv) * sw / 2 + fabs(wv) * sx / 2 + sx * sw / 4;
            }
            y[(size_t)i * n_out + j] = s;
            bound[(size_t)i * n_out + j] = b * 1.001 + 1e-5 * (1 + fabs(s)); /* + float epilogue */
        }
    }
}

static int n_kernels(void) { return silt_q8_best_kernel(); } /* kernels 1..best all run */

Test(int8, kernels_match_double_within_rounding_bound) {
    /* Sizes that exercise every tail: n_in not a multiple of 4, n_out not of 48 (or 16),
     * n_rows not of the 8-row tile; a row of large values and a zero row. */
    const int n_rows = 45, n_in = 37, n_out = 100, ldx = 41, ldy = 103;
    float *x = calloc((size_t)n_rows * ldx, sizeof *x), *W = malloc((size_t)n_out * n_in * sizeof *W);
    float *bias = malloc((size_t)n_out * sizeof *bias), *y = malloc((size_t)n_rows * ldy * sizeof *y);
    double *want = malloc((size_t)n_rows * n_out * sizeof *want);
    double *bound = malloc((size_t)n_rows * n_out * sizeof *bound);
    fill(W, (size_t)n_out * n_in, 1);
    fill(bias, (size_t)n_out, 2);
    for (int i = 0; i < n_rows; i++) fill(x + (size_t)i * ldx, (size_t)n_in, 10 + (uint32_t)i);
    for (int k = 0; k < n_in; k++) x[3 * ldx + k] *= 1000.0f;
    for (int k = 0; k < n_in; k++) x[7 * ldx + k] = 0.0f;
    for (int k = 0; k < n_in; k++) W[5 * n_in + k] = 0.0f; /* a zero weight row */
    reference(x, n_rows, ldx, W, n_out, n_in, bias, want, bound);
    void *scratch = malloc(silt_q8_scratch_bytes(n_rows, n_in));
    for (int kern = SILT_Q8_PORTABLE; kern <= n_kernels(); kern++) {
        char *err = NULL;
        silt_q8_matrix *q = silt_q8_pack(W, n_out, n_in, kern, &err);
        cr_assert_not_null(q, "%s", err);
        cr_assert_eq(silt_q8_kernel(q), kern);
        for (size_t i = 0; i < (size_t)n_rows * ldy; i++) y[i] = 12345.0f; /* padding sentinel */
        silt_q8_linear(q, x, n_rows, ldx, bias, 0, y, ldy, scratch);
        for (int i = 0; i < n_rows; i++) {
            for (int j = 0; j < n_out; j++) {
                const double d = fabs(y[(size_t)i * ldy + j] - want[(size_t)i * n_out + j]);
                cr_assert(d <= bound[(size_t)i * n_out + j], "%s: y[%d][%d] = %.7g, want %.7g (bound %.3g)",
                          silt_q8_kernel_name(kern), i, j, y[(size_t)i * ldy + j],
                          want[(size_t)i * n_out + j], bound[(size_t)i * n_out + j]);
            }
            for (int j = n_out; j < ldy; j++)
                cr_assert_eq(y[(size_t)i * ldy + j], 12345.0f, "%s wrote past n_out", silt_q8_kernel_name(kern));
            if (i == 7)
                for (int j = 0; j < n_out; j++) cr_assert_eq(y[(size_t)i * ldy + j], bias[j]);
        }
        for (int i = 0; i < n_rows; i++) cr_assert_eq(y[(size_t)i * ldy + 5], bias[5]);
        silt_q8_free(q);
    }
    free(x), free(W), free(bias), free(y), free(want), free(bound), free(scratch);
}

Test(int8, kernels_agree_and_accumulate) {
    const int n_rows = 19, n_in = 384, n_out = 1152;
    float *x = malloc((size_t)n_rows * n_in * sizeof *x), *W = malloc((size_t)n_out * n_in * sizeof *W);
    float *y0 = malloc((size_t)n_rows * n_out * sizeof *y0), *y = malloc((size_t)n_rows * n_out * sizeof *y);
    fill(x, (size_t)n_rows * n_in, 3);
    fill(W, (size_t)n_out * n_in, 4);
    void *scratch = malloc(silt_q8_scratch_bytes(n_rows, n_in));
    char *err = NULL;
    silt_q8_matrix *ref = silt_q8_pack(W, n_out, n_in, SILT_Q8_PORTABLE, &err);
    cr_assert_not_null(ref, "%s", err);
    silt_q8_linear(ref, x, n_rows, n_in, NULL, 0, y0, n_out, scratch);
    for (int kern = SILT_Q8_PORTABLE; kern <= n_kernels(); kern++) {
        silt_q8_matrix *q = silt_q8_pack(W, n_out, n_in, kern, &err);
        cr_assert_not_null(q, "%s", err);
        /* accumulate: y = 1 + x·Wᵀ */
        for (size_t i = 0; i < (size_t)n_rows * n_out; i++) y[i] = 1.0f;
        silt_q8_linear(q, x, n_rows, n_in, NULL, 1, y, n_out, scratch);
        for (size_t i = 0; i < (size_t)n_rows * n_out; i++)
            cr_assert(fabsf(y[i] - 1.0f - y0[i]) <= 1e-5f * (1.0f + fabsf(y0[i])),
                      "%s [%zu]: %.8g vs portable %.8g", silt_q8_kernel_name(kern), i, y[i] - 1.0f, y0[i]);
        silt_q8_free(q);
    }
    silt_q8_free(ref);
    free(x), free(W), free(y0), free(y), free(scratch);
}

Test(int8, split_over_pool_equals_one_row_at_a_time) {
    /* Large enough to be split by rows over the pool; each row is computed the same way
     * whichever task runs it, so the results are bit-identical. */
    const int n_rows = 300, n_in = 384, n_out = 384;
    float *x = malloc((size_t)n_rows * n_in * sizeof *x), *W = malloc((size_t)n_out * n_in * sizeof *W);
    float *b = malloc((size_t)n_out * sizeof *b);
    float *ya = malloc((size_t)n_rows * n_out * sizeof *ya), *yb = malloc((size_t)n_rows * n_out * sizeof *yb);
    fill(x, (size_t)n_rows * n_in, 5);
    fill(W, (size_t)n_out * n_in, 6);
    fill(b, (size_t)n_out, 7);
    char *err = NULL;
    silt_q8_matrix *q = silt_q8_pack(W, n_out, n_in, SILT_Q8_AUTO, &err);
    cr_assert_not_null(q, "%s", err);
    cr_assert_eq(silt_q8_kernel(q), silt_q8_best_kernel());
    void *scratch = malloc(silt_q8_scratch_bytes(n_rows, n_in));
    silt_q8_linear(q, x, n_rows, n_in, b, 0, ya, n_out, scratch);
    for (int i = 0; i < n_rows; i++)
        silt_q8_linear(q, x + (size_t)i * n_in, 1, n_in, b, 0, yb + (size_t)i * n_out, n_out, scratch);
    cr_assert_eq(memcmp(ya, yb, (size_t)n_rows * n_out * sizeof *ya), 0);
    silt_q8_free(q);
    free(x), free(W), free(b), free(ya), free(yb), free(scratch);
}

Test(int8, bad_arguments_are_errors) {
    float w[4] = {1, 2, 3, 4};
    char *err = NULL;
    cr_assert_null(silt_q8_pack(w, 0, 4, SILT_Q8_AUTO, &err));
    cr_assert(strstr(err, "0 x 4"), "%s", err);
    free(err), err = NULL;
    cr_assert_null(silt_q8_pack(w, 1, -1, SILT_Q8_AUTO, &err));
    free(err), err = NULL;
    cr_assert_null(silt_q8_pack(w, 1, 4, 99, &err));
    cr_assert(strstr(err, "not available"), "%s", err);
    free(err), err = NULL;
    cr_assert_null(silt_q8_pack(w, 1, 4, -3, &err));
    free(err), err = NULL;
    cr_assert_str_eq(silt_q8_kernel_name(SILT_Q8_PORTABLE), "portable");
    cr_assert_str_eq(silt_q8_kernel_name(SILT_Q8_VNNI), "avx512-vnni");
    silt_q8_free(NULL);
    /* A BERT option of the wrong type. */
    cr_assert_null(silt_hf_load("tests/data/tiny-bert", "{\"int8\":1}", &err));
    cr_assert(strstr(err, "\"int8\" must be true or false"), "%s", err);
    free(err);
}

/* ---- whole encoders ------------------------------------------------------------------------- */

static double min_cosine(const float *a, const float *b, int n, int dim) {
    double worst = 1;
    for (int i = 0; i < n; i++) {
        double ab = 0, aa = 0, bb = 0;
        for (int k = 0; k < dim; k++) {
            const double u = a[(size_t)i * dim + k], v = b[(size_t)i * dim + k];
            ab += u * v, aa += u * u, bb += v * v;
        }
        const double c = aa > 0 && bb > 0 ? ab / sqrt(aa * bb) : (aa == bb ? 1 : 0);
        if (c < worst) worst = c;
    }
    return worst;
}

/* Embeds texts with the float32 and the int8 encoder of the same model; returns the min
 * cosine over texts. */
static double compare(silt_encoder *f32, silt_encoder *q8, const char *const *texts, int n) {
    float *a = malloc((size_t)n * f32->dim * sizeof *a), *b = malloc((size_t)n * f32->dim * sizeof *b);
    int32_t **ids = calloc((size_t)n, sizeof *ids);
    int *n_ids = calloc((size_t)n, sizeof *n_ids);
    char *err = NULL;
    for (int i = 0; i < n; i++)
        cr_assert_eq(f32->ops->tokenize(f32, texts[i], strlen(texts[i]), 1, &ids[i], &n_ids[i], &err), 0, "%s", err);
    cr_assert_eq(f32->ops->embed_batch(f32, (const int32_t *const *)ids, n_ids, n, a, &err), 0, "%s", err);
    cr_assert_eq(q8->ops->embed_batch(q8, (const int32_t *const *)ids, n_ids, n, b, &err), 0, "%s", err);
    const double c = min_cosine(a, b, n, f32->dim);
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids), free(n_ids), free(a), free(b);
    return c;
}

static char **golden_texts(int *n) {
    char *s = mt_read("tests/data/tiny_bert_gold.json", NULL);
    cr_assert_not_null(s);
    cJSON *g = cJSON_Parse(s);
    free(s);
    const cJSON *t = cJSON_GetObjectItem(g, "texts");
    *n = cJSON_GetArraySize(t);
    char **out = calloc((size_t)*n, sizeof *out);
    for (int i = 0; i < *n; i++) out[i] = strdup(cJSON_GetArrayItem(t, i)->valuestring);
    cJSON_Delete(g);
    return out;
}

static void free_texts(char **t, int n) {
    for (int i = 0; i < n; i++) free(t[i]);
    free(t);
}

static silt_encoder *load(const char *path, const char *opts) {
    char *err = NULL;
    silt_encoder *e = strstr(path, ".gguf") ? silt_gguf_load(path, opts, &err) : silt_hf_load(path, opts, &err);
    cr_assert_not_null(e, "%s: %s", path, err ? err : "");
    return e;
}

Test(int8, tiny_bert_int8_matches_float32) {
    int n;
    char **texts = golden_texts(&n);
    static const char *const paths[] = {"tests/data/tiny-bert", "tests/data/tiny-bert-f16.gguf",
                                        "tests/data/tiny-bert-q8_0.gguf"};
    for (int p = 0; p < 3; p++) {
        silt_encoder *f = load(paths[p], NULL), *q = load(paths[p], "{\"int8\":true}");
        const double c = compare(f, q, (const char *const *)texts, n);
        fprintf(stderr, "int8 vs float32, tiny BERT %s: min cosine %.6f over %d texts\n", paths[p], c, n);
        cr_assert_geq(c, 0.999, "%s: min cosine %f", paths[p], c);
        silt_encoder_free(f);
        silt_encoder_free(q);
    }
    free_texts(texts, n);
}

/* Writes a MiniLM-L6-shaped BERT with random weights (std 1/√fan-in, like a trained model's
 * activations; word embeddings as BF16 to halve the file) into a new directory. */
static char *write_minilm(void) {
    enum { V = 30522, H = 384, L = 6, F = 1536, P = 512 };
    char *dir = mt_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/config.json", dir);
    mt_write_str(path, "{\"architectures\":[\"BertModel\"],\"hidden_size\":384,\"num_hidden_layers\":6,"
                       "\"num_attention_heads\":12,\"intermediate_size\":1536,\"max_position_embeddings\":512,"
                       "\"type_vocab_size\":2,\"vocab_size\":30522,\"hidden_act\":\"gelu\"}");
    size_t n_vocab;
    char *vocab = mt_read("tests/data/tiny-bert/vocab.txt", &n_vocab);
    cr_assert_not_null(vocab);
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    mt_write(path, vocab, n_vocab);
    free(vocab);
    struct { char name[96]; int rows, cols; float std, mean; } t[8 + 16 * L];
    int nt = 0;
#define T(n_, r_, c_, s_, m_) (snprintf(t[nt].name, sizeof t[nt].name, "%s", n_), t[nt].rows = r_, t[nt].cols = c_, t[nt].std = s_, t[nt].mean = m_, nt++)
    T("embeddings.word_embeddings.weight", V, H, 0.5f, 0);
    T("embeddings.position_embeddings.weight", P, H, 0.2f, 0);
    T("embeddings.token_type_embeddings.weight", 2, H, 0.2f, 0);
    T("embeddings.LayerNorm.weight", 0, H, 0.1f, 1);
    T("embeddings.LayerNorm.bias", 0, H, 0.05f, 0);
    for (int l = 0; l < L; l++) {
        static const char *const lin[6] = {"attention.self.query", "attention.self.key",
                                           "attention.self.value", "attention.output.dense",
                                           "intermediate.dense", "output.dense"};
        for (int i = 0; i < 6; i++) {
            const int out = i == 4 ? F : H, in = i == 5 ? F : H;
            char n[96];
            snprintf(n, sizeof n, "encoder.layer.%d.%s.weight", l, lin[i]);
            T(n, out, in, 1.0f / sqrtf((float)in), 0);
            snprintf(n, sizeof n, "encoder.layer.%d.%s.bias", l, lin[i]);
            T(n, 0, out, 0.05f, 0);
        }
        static const char *const ln[2] = {"attention.output.LayerNorm", "output.LayerNorm"};
        for (int i = 0; i < 2; i++) {
            char n[96];
            snprintf(n, sizeof n, "encoder.layer.%d.%s.weight", l, ln[i]);
            T(n, 0, H, 0.1f, 1);
            snprintf(n, sizeof n, "encoder.layer.%d.%s.bias", l, ln[i]);
            T(n, 0, H, 0.05f, 0);
        }
    }
#undef T
    /* Header, then the tensors in order; uniform values scaled to the wanted std (√3·std). */
    cJSON *hdr = cJSON_CreateObject();
    size_t off = 0;
    for (int i = 0; i < nt; i++) {
        const int bf16 = i == 0;
        const size_t n = (size_t)(t[i].rows ? t[i].rows : 1) * t[i].cols;
        cJSON *e = cJSON_AddObjectToObject(hdr, t[i].name);
        cJSON_AddStringToObject(e, "dtype", bf16 ? "BF16" : "F32");
        cJSON *shape = cJSON_AddArrayToObject(e, "shape");
        if (t[i].rows) cJSON_AddItemToArray(shape, cJSON_CreateNumber(t[i].rows));
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(t[i].cols));
        cJSON *offs = cJSON_AddArrayToObject(e, "data_offsets");
        const size_t bytes = n * (bf16 ? 2 : 4);
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off));
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + bytes)));
        off += bytes;
    }
    char *h = cJSON_PrintUnformatted(hdr);
    cJSON_Delete(hdr);
    size_t hl = strlen(h), pad = (8 - hl % 8) % 8;
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    uint64_t hl64 = hl + pad;
    fwrite(&hl64, 8, 1, f);
    fwrite(h, 1, hl, f);
    for (size_t i = 0; i < pad; i++) fputc(' ', f);
    free(h);
    for (int i = 0; i < nt; i++) {
        const size_t n = (size_t)(t[i].rows ? t[i].rows : 1) * t[i].cols;
        float *v = malloc(n * sizeof *v);
        fill(v, n, 100 + (uint32_t)i);
        for (size_t k = 0; k < n; k++) v[k] = t[i].mean + v[k] * t[i].std * 1.7320508f;
        if (i == 0) {
            uint16_t *b = malloc(n * sizeof *b);
            for (size_t k = 0; k < n; k++) {
                uint32_t u;
                memcpy(&u, &v[k], 4);
                b[k] = (uint16_t)(u >> 16);
            }
            fwrite(b, 2, n, f);
            free(b);
        } else {
            fwrite(v, 4, n, f);
        }
        free(v);
    }
    fclose(f);
    return dir;
}

Test(int8, minilm_shaped_int8_matches_float32) {
    char *dir = write_minilm();
    int n_gold;
    char **gold = golden_texts(&n_gold);
    /* The golden texts, and 16 long texts (~115 tokens each) so that whole chunks go to the
     * pool workers; 3 under valgrind (tests/run_valgrind.sh sets SILT_UNDER_VALGRIND), still
     * more than one 256-token chunk: memcheck runs the products ~100x slower, and the memory
     * it checks is the same for 3 texts as for 16. */
    const int n = n_gold + (getenv("SILT_UNDER_VALGRIND") ? 3 : 16);
    char **texts = calloc((size_t)n, sizeof *texts);
    for (int i = 0; i < n_gold; i++) texts[i] = gold[i];
    static const char *const words[] = {"data", "lake", "query", "vector", "index", "river",
                                        "model", "token", "search", "table", "north", "quiet"};
    for (int i = n_gold; i < n; i++) {
        char *s = malloc(1024), *p = s;
        for (int w = 0; w < 110; w++) p += sprintf(p, "%s ", words[(i * 7 + w * (i % 5 + 1)) % 12]);
        texts[i] = s;
    }
    static const char *const modes[][2] = {{NULL, "{\"int8\":true}"},
                                           {"{\"pooling\":\"cls\"}", "{\"pooling\":\"cls\",\"int8\":true}"}};
    for (int m = 0; m < 2; m++) {
        silt_encoder *f = load(dir, modes[m][0]), *q = load(dir, modes[m][1]);
        const double c = compare(f, q, (const char *const *)texts, n);
        fprintf(stderr, "int8 vs float32, MiniLM-shaped random model, %s pooling: min cosine %.6f over %d texts\n",
                m ? "CLS" : "mean", c, n);
        cr_assert_geq(c, 0.999, "min cosine %f", c);
        silt_encoder_free(f);
        silt_encoder_free(q);
    }
    for (int i = n_gold; i < n; i++) free(texts[i]);
    free(texts);
    free_texts(gold, n_gold);
    mt_rmrf(dir);
}
