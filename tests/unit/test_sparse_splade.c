/* test_sparse_splade.c: the SPLADE encoder (core/splade.h) against the plain-torch goldens of
 * tests/reference/make_tiny_splade.py (tests/data/tiny_splade_gold.json), to 1e-4. */
#include <cjson/cJSON.h>
#include <math.h>

#include "core/embed.h"
#include "core/encoder.h"
#include "core/splade.h"
#include "testutil.h"

static cJSON *load_gold(void) {
    FILE *f = fopen("tests/data/tiny_splade_gold.json", "rb");
    cr_assert_not_null(f, "tests/data/tiny_splade_gold.json (run from the repository root)");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = 0;
    fclose(f);
    cJSON *g = cJSON_Parse(buf);
    free(buf);
    cr_assert_not_null(g);
    return g;
}

static silt_encoder *load(const char *opts) {
    char *err = NULL;
    silt_encoder *e = silt_encoder_load("tests/data/tiny-splade", opts, &err);
    cr_assert_not_null(e, "%s", err ? err : "");
    return e;
}

/* The golden vector of text i as a dense array of dim floats. */
static float *gold_dense(const cJSON *g, int i, int dim) {
    float *w = calloc((size_t)dim, sizeof *w);
    const cJSON *v = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(g, "vectors"), i);
    for (const cJSON *it = v->child; it; it = it->next) w[atoi(it->string)] = (float)it->valuedouble;
    return w;
}

Test(sparse, splade_matches_torch_golden) {
    cJSON *g = load_gold();
    silt_encoder *e = load("{\"kind\":\"sparse\"}");
    cr_assert_str_eq(e->arch, "bert-mlm");
    cr_assert_eq(e->kind, SILT_KIND_SPARSE);
    cr_assert_eq(e->dim, 30522);
    const cJSON *texts = cJSON_GetObjectItemCaseSensitive(g, "texts");
    const cJSON *ids = cJSON_GetObjectItemCaseSensitive(g, "ids");
    int n = cJSON_GetArraySize(texts);
    cr_assert_gt(n, 20);
    const char **t = malloc((size_t)n * sizeof *t);
    for (int i = 0; i < n; i++) t[i] = cJSON_GetArrayItem(texts, i)->valuestring;
    /* All texts in one batched call (packed, sorted by length inside embed.c). */
    float *out = malloc((size_t)n * e->dim * sizeof *out);
    char *err = NULL;
    cr_assert_eq(silt_embed_texts(e, t, NULL, n, 1, out, &err), 0, "%s", err ? err : "");
    double worst = 0;
    int total_nnz = 0;
    for (int i = 0; i < n; i++) {
        int32_t *got;
        int n_got;
        cr_assert_eq(e->ops->tokenize(e, t[i], strlen(t[i]), 1, &got, &n_got, &err), 0);
        const cJSON *want = cJSON_GetArrayItem(ids, i);
        cr_assert_eq(n_got, cJSON_GetArraySize(want), "text %d token count", i);
        for (int p = 0; p < n_got; p++)
            cr_assert_eq(got[p], cJSON_GetArrayItem(want, p)->valueint, "text %d token %d", i, p);
        free(got);
        float *ref = gold_dense(g, i, e->dim);
        for (int j = 0; j < e->dim; j++) {
            double d = fabs((double)out[(size_t)i * e->dim + j] - ref[j]);
            if (d > worst) worst = d;
            cr_assert_leq(d, 1e-4, "text %d term %d: %g vs %g", i, j, out[(size_t)i * e->dim + j], ref[j]);
            total_nnz += ref[j] != 0;
        }
        free(ref);
    }
    cr_assert_gt(total_nnz, n * 5, "the golden vectors are sparse but not empty");
    free(out);
    free(t);
    silt_encoder_free(e);
    cJSON_Delete(g);
}

Test(sparse, splade_top_n_keeps_the_heaviest_terms) {
    cJSON *g = load_gold();
    silt_encoder *e = load("{\"kind\":\"sparse\",\"top_n\":5}");
    const cJSON *texts = cJSON_GetObjectItemCaseSensitive(g, "texts");
    for (int i = 0; i < 6; i++) {
        const char *t = cJSON_GetArrayItem(texts, i)->valuestring;
        float *out = malloc((size_t)e->dim * sizeof *out);
        char *err = NULL;
        cr_assert_eq(silt_embed_texts(e, &t, NULL, 1, 1, out, &err), 0);
        float *ref = gold_dense(g, i, e->dim);
        silt_splade_keep_top(ref, e->dim, 5);
        int nnz = 0;
        for (int j = 0; j < e->dim; j++) {
            nnz += out[j] != 0;
            cr_assert_eq(out[j] != 0, ref[j] != 0, "text %d term %d kept differently", i, j);
            cr_assert_leq(fabs(out[j] - ref[j]), 1e-4);
        }
        cr_assert_eq(nnz, 5);
        free(out), free(ref);
    }
    silt_encoder_free(e);
    cJSON_Delete(g);
}

Test(sparse, splade_keep_top_breaks_ties_by_id) {
    float w[8] = {0, 2, 1, 2, 0, 3, 2, 0.5f};
    silt_splade_keep_top(w, 8, 3);
    float want[8] = {0, 2, 0, 2, 0, 3, 0, 0};
    cr_assert_arr_eq(w, want, sizeof w);
    float few[4] = {1, 0, 2, 0};
    silt_splade_keep_top(few, 4, 3);
    cr_assert(few[0] == 1 && few[2] == 2);
}

Test(sparse, splade_load_errors_name_the_problem) {
    char *err = NULL;
    cr_assert_null(silt_encoder_load("tests/data/tiny-bert", "{\"kind\":\"sparse\"}", &err));
    cr_assert(strstr(err, "cls.predictions.transform.dense.weight"), "%s", err);
    free(err), err = NULL;
    cr_assert_null(silt_encoder_load("tests/data/tiny-splade", "{\"kind\":\"sparse\",\"top_n\":-2}", &err));
    cr_assert(strstr(err, "top_n"), "%s", err);
    free(err), err = NULL;
    cr_assert_null(silt_encoder_load("tests/data/tiny-splade", "{\"kind\":\"sparse\",\"normalize\":true}", &err));
    cr_assert(strstr(err, "unknown option \"normalize\""), "%s", err);
    free(err), err = NULL;
    cr_assert_null(silt_encoder_load("tests/data/tiny-bert-f16.gguf", "{\"kind\":\"sparse\"}", &err));
    cr_assert(strstr(err, "GGUF"), "%s", err);
    free(err), err = NULL;
    /* A smaller window passes through to BERT. */
    silt_encoder *e = silt_encoder_load("tests/data/tiny-splade", "{\"kind\":\"sparse\",\"max_tokens\":8}", &err);
    cr_assert_not_null(e, "%s", err ? err : "");
    cr_assert_eq(e->max_tokens, 8);
    int32_t *ids;
    int n;
    cr_assert_eq(e->ops->tokenize(e, "one two three four five six seven eight nine", 44, 1, &ids, &n, &err), 0);
    cr_assert_eq(n, 8);
    free(ids);
    silt_encoder_free(e);
    /* The same directory still loads as a dense BERT when asked for nothing. */
    e = silt_encoder_load("tests/data/tiny-splade", NULL, &err);
    cr_assert_not_null(e, "%s", err ? err : "");
    cr_assert_eq(e->kind, SILT_KIND_DENSE);
    silt_encoder_free(e);
}
