/* test_bert.c: BERT encoders (core/bert.c) against goldens from a plain-torch forward pass
 * (tests/data/tiny_bert_gold.json, made by tests/reference/make_tiny_bert.py): the HF
 * directory, the F16 GGUF and the Q8_0 GGUF of the same tiny model must give the golden token
 * ids and embeddings (max abs difference 1e-4), batched and one by one, from several threads.
 * Then every way a model can be wrong (missing files, lying headers, wrong shapes or dtypes,
 * unknown architectures, bad options, texts longer than the window) must be a clean error. */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>

#include "core/bert.h"
#include "core/encoder.h"
#include "core/gguf.h"
#include "core/safetensors.h"
#include "tests/unit/modeltest_util.h"

#define HF_DIR "tests/data/tiny-bert"
#define GOLD "tests/data/tiny_bert_gold.json"
#define F16_GGUF "tests/data/tiny-bert-f16.gguf"
#define Q8_GGUF "tests/data/tiny-bert-q8_0.gguf"

static cJSON *gold(void) {
    char *s = mt_read(GOLD, NULL);
    cr_assert_not_null(s, GOLD " missing (run the tests from the repository root)");
    cJSON *g = cJSON_Parse(s);
    free(s);
    cr_assert_not_null(g);
    return g;
}

static silt_encoder *load(const char *path, const char *opts) {
    char *err = NULL;
    silt_encoder *e = strstr(path, ".gguf") ? silt_gguf_load(path, opts, &err)
                                             : silt_hf_load(path, opts, &err);
    cr_assert_not_null(e, "%s: %s", path, err ? err : "");
    return e;
}

/* Loads path and returns the error message (the load must fail). */
static char *load_error(const char *path, const char *opts) {
    char *err = NULL;
    silt_encoder *e = strstr(path, ".gguf") ? silt_gguf_load(path, opts, &err)
                                             : silt_hf_load(path, opts, &err);
    cr_assert_null(e, "%s loaded but should not have", path);
    cr_assert_not_null(err);
    return err;
}

#define assert_load_error(path, opts, fragment)                                              \
    do {                                                                                     \
        char *e_ = load_error((path), (opts));                                               \
        cr_assert(strstr(e_, (fragment)), "expected '%s' in: %s", (fragment), e_);           \
        free(e_);                                                                            \
    } while (0)

typedef struct {
    int n;
    int32_t **ids;
    int *n_ids;
} tokenized;

/* Tokenizes every golden text with truncation and checks the ids against the golden. */
static tokenized tokenize_all(const silt_encoder *enc, const cJSON *texts, const cJSON *want) {
    tokenized t = {cJSON_GetArraySize(texts), NULL, NULL};
    t.ids = calloc((size_t)t.n, sizeof *t.ids);
    t.n_ids = calloc((size_t)t.n, sizeof *t.n_ids);
    for (int i = 0; i < t.n; i++) {
        const char *s = cJSON_GetArrayItem(texts, i)->valuestring;
        char *err = NULL;
        cr_assert_eq(enc->ops->tokenize(enc, s, strlen(s), 1, &t.ids[i], &t.n_ids[i], &err), 0,
                     "%s", err);
        const cJSON *w = cJSON_GetArrayItem(want, i);
        cr_assert_eq(t.n_ids[i], cJSON_GetArraySize(w), "text %d: %d ids, golden %d", i,
                     t.n_ids[i], cJSON_GetArraySize(w));
        for (int k = 0; k < t.n_ids[i]; k++)
            cr_assert_eq(t.ids[i][k], cJSON_GetArrayItem(w, k)->valueint, "text %d id %d", i, k);
    }
    return t;
}

static void free_tokenized(tokenized *t) {
    for (int i = 0; i < t->n; i++) free(t->ids[i]);
    free(t->ids);
    free(t->n_ids);
}

/* Max abs difference between out[n, dim] and the golden embeddings. */
static double max_diff(const float *out, const cJSON *emb, int n, int dim) {
    double worst = 0;
    for (int i = 0; i < n; i++) {
        const cJSON *row = cJSON_GetArrayItem(emb, i);
        cr_assert_eq(cJSON_GetArraySize(row), dim);
        for (int k = 0; k < dim; k++) {
            double d = fabs(out[(size_t)i * dim + k] - cJSON_GetArrayItem(row, k)->valuedouble);
            if (d > worst) worst = d;
        }
    }
    return worst;
}

/* The whole golden check of one variant: ids, one batch, one text at a time. */
static void check_variant(const char *variant, const char *path) {
    cJSON *g = gold();
    const cJSON *texts = cJSON_GetObjectItem(g, "texts");
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "variants"), variant);
    cr_assert_not_null(v);
    silt_encoder *enc = load(path, NULL);
    const int dim = cJSON_GetObjectItem(g, "dim")->valueint;
    cr_assert_str_eq(enc->arch, "bert");
    cr_assert_eq(enc->kind, SILT_KIND_DENSE);
    cr_assert_eq(enc->dim, dim);
    cr_assert_eq(enc->max_tokens, cJSON_GetObjectItem(v, "window")->valueint);
    tokenized t = tokenize_all(enc, texts, cJSON_GetObjectItem(v, "ids"));
    float *out = calloc((size_t)t.n * dim, sizeof *out);
    char *err = NULL;
    cr_assert_eq(enc->ops->embed_batch(enc, (const int32_t *const *)t.ids, t.n_ids, t.n, out,
                                       &err), 0, "%s", err);
    const cJSON *emb = cJSON_GetObjectItem(v, "embeddings");
    double batch = max_diff(out, emb, t.n, dim);
    for (int i = 0; i < t.n; i++)
        cr_assert_eq(enc->ops->embed_batch(enc, (const int32_t *const *)&t.ids[i], &t.n_ids[i], 1,
                                           out + (size_t)i * dim, &err), 0, "%s", err);
    double single = max_diff(out, emb, t.n, dim);
    fprintf(stderr, "bert golden %-10s %d texts: max abs diff batched %.3g, one by one %.3g\n",
            variant, t.n, batch, single);
    cr_assert_lt(batch, 1e-4, "%s batched: max abs diff %g", variant, batch);
    cr_assert_lt(single, 1e-4, "%s single: max abs diff %g", variant, single);
    free(out);
    free_tokenized(&t);
    silt_encoder_free(enc);
    cJSON_Delete(g);
}

Test(bert, hf_directory_matches_torch_golden) { check_variant("hf", HF_DIR); }
Test(bert, gguf_f16_matches_torch_golden) { check_variant("gguf_f16", F16_GGUF); }
Test(bert, gguf_q8_0_matches_torch_golden) { check_variant("gguf_q8_0", Q8_GGUF); }

Test(bert, encoder_load_dispatches_to_both_formats) {
    char *err = NULL;
    silt_encoder *a = silt_encoder_load(HF_DIR, NULL, &err);
    cr_assert_not_null(a, "%s", err);
    silt_encoder *b = silt_encoder_load(Q8_GGUF, "{\"kind\":\"dense\"}", &err);
    cr_assert_not_null(b, "%s", err);
    cr_assert_str_eq(a->arch, "bert");
    cr_assert_str_eq(b->arch, "bert");
    cr_assert_eq(a->ops->token_id(a, "[CLS]", 5), 101);
    cr_assert_str_eq(b->ops->token_text(b, 2088), "world");
    cr_assert_null(b->ops->token_text(b, 30522));
    cr_assert_null(b->ops->token_text(b, -1));
    silt_encoder_free(a);
    silt_encoder_free(b);
}

/* ---- concurrency ---------------------------------------------------------------------------- */

typedef struct {
    const silt_encoder *enc;
    const cJSON *texts, *emb;
    double worst;
    int failures;
} thread_job;

static void *embed_thread(void *arg) {
    thread_job *j = arg;
    const int dim = j->enc->dim, n = cJSON_GetArraySize(j->texts);
    float *out = malloc((size_t)dim * sizeof *out);
    for (int round = 0; round < 3; round++)
        for (int i = 0; i < n; i++) {
            const char *s = cJSON_GetArrayItem(j->texts, i)->valuestring;
            int32_t *ids;
            int n_ids;
            char *err = NULL;
            if (j->enc->ops->tokenize(j->enc, s, strlen(s), 1, &ids, &n_ids, &err) != 0 ||
                j->enc->ops->embed_batch(j->enc, (const int32_t *const *)&ids, &n_ids, 1, out,
                                         &err) != 0) {
                j->failures++;
                free(err);
                continue;
            }
            free(ids);
            const cJSON *row = cJSON_GetArrayItem(j->emb, i);
            for (int k = 0; k < dim; k++) {
                double d = fabs(out[k] - cJSON_GetArrayItem(row, k)->valuedouble);
                if (d > j->worst) j->worst = d;
            }
        }
    free(out);
    return NULL;
}

Test(bert, one_encoder_serves_many_threads) {
    cJSON *g = gold();
    silt_encoder *enc = load(F16_GGUF, NULL);
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "variants"), "gguf_f16");
    thread_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){enc, cJSON_GetObjectItem(g, "texts"),
                               cJSON_GetObjectItem(v, "embeddings"), 0, 0};
        cr_assert_eq(pthread_create(&th[i], NULL, embed_thread, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(jobs[i].failures, 0);
        cr_assert_lt(jobs[i].worst, 1e-4);
    }
    silt_encoder_free(enc);
    cJSON_Delete(g);
}

/* ---- options and windows ---------------------------------------------------------------------- */

Test(bert, long_text_truncates_or_errors) {
    silt_encoder *enc = load(HF_DIR, NULL);
    /* 100k words: far beyond the 48-token window. */
    size_t len = 600000;
    char *text = malloc(len + 1);
    for (size_t i = 0; i < len; i++) text[i] = "hello world "[i % 12];
    text[len] = 0;
    int32_t *ids;
    int n;
    char *err = NULL;
    cr_assert_eq(enc->ops->tokenize(enc, text, len, 1, &ids, &n, &err), 0, "%s", err);
    cr_assert_eq(n, 48);
    cr_assert_eq(ids[0], 101);
    cr_assert_eq(ids[47], 102);
    cr_assert_eq(ids[46], 2088); /* "world" */
    float out[32];
    cr_assert_eq(enc->ops->embed_batch(enc, (const int32_t *const *)&ids, &n, 1, out, &err), 0);
    free(ids);
    cr_assert_eq(enc->ops->tokenize(enc, text, len, 0, &ids, &n, &err), -1);
    cr_assert(strstr(err, "window of 48"), "%s", err);
    free(err);
    err = NULL;
    /* Exactly 46 pieces + [CLS] + [SEP] fit without truncation. */
    cr_assert_eq(enc->ops->tokenize(enc, text, 12 * 23 - 1, 0, &ids, &n, &err), 0, "%s", err);
    cr_assert_eq(n, 48);
    free(ids);
    free(text);
    silt_encoder_free(enc);
}

Test(bert, embed_batch_rejects_bad_ids) {
    silt_encoder *enc = load(HF_DIR, NULL);
    float out[64];
    char *err = NULL;
    int32_t bad[3] = {101, 30522, 102};
    const int32_t *p = bad;
    int n = 3;
    cr_assert_eq(enc->ops->embed_batch(enc, &p, &n, 1, out, &err), -1);
    cr_assert(strstr(err, "30522") && strstr(err, "out of range"), "%s", err);
    int32_t many[49] = {0};
    p = many;
    n = 49;
    cr_assert_eq(enc->ops->embed_batch(enc, &p, &n, 1, out, &err), -1);
    cr_assert(strstr(err, "49 tokens") && strstr(err, "window is 48"), "%s", err);
    /* No tokens at all pools to a zero vector rather than failing. */
    n = 0;
    cr_assert_eq(enc->ops->embed_batch(enc, &p, &n, 1, out, &err), 0);
    for (int k = 0; k < 32; k++) cr_assert_eq(out[k], 0.0f);
    free(err);
    silt_encoder_free(enc);
}

Test(bert, options_change_pooling_normalisation_and_window) {
    cJSON *g = gold();
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "variants"), "hf");
    const cJSON *e0 = cJSON_GetArrayItem(cJSON_GetObjectItem(v, "embeddings"), 0);
    const char *text = cJSON_GetArrayItem(cJSON_GetObjectItem(g, "texts"), 0)->valuestring;
    silt_encoder *raw = load(HF_DIR, "{\"normalize\":false}");
    silt_encoder *cls = load(HF_DIR, "{\"pooling\":\"cls\",\"max_tokens\":16}");
    int32_t *ids;
    int n;
    char *err = NULL;
    float a[32], b[32];
    cr_assert_eq(raw->ops->tokenize(raw, text, strlen(text), 1, &ids, &n, &err), 0);
    cr_assert_eq(raw->ops->embed_batch(raw, (const int32_t *const *)&ids, &n, 1, a, &err), 0);
    cr_assert_eq(cls->ops->embed_batch(cls, (const int32_t *const *)&ids, &n, 1, b, &err), 0);
    free(ids);
    double norm = 0, diff = 0, cls_diff = 0;
    for (int k = 0; k < 32; k++) norm += (double)a[k] * a[k];
    norm = sqrt(norm);
    cr_assert_gt(fabs(norm - 1.0), 0.01, "normalize:false still gave a unit vector");
    for (int k = 0; k < 32; k++) {
        diff = fmax(diff, fabs(a[k] / norm - cJSON_GetArrayItem(e0, k)->valuedouble));
        cls_diff = fmax(cls_diff, fabs(b[k] - cJSON_GetArrayItem(e0, k)->valuedouble));
    }
    cr_assert_lt(diff, 1e-4, "unnormalised vector is not the golden one scaled");
    cr_assert_gt(cls_diff, 1e-2, "cls pooling gave the mean-pooled vector");
    cr_assert_eq(cls->max_tokens, 16);
    free(err);
    silt_encoder_free(raw);
    silt_encoder_free(cls);
    cJSON_Delete(g);
}

Test(bert, bad_options_are_errors) {
    assert_load_error(HF_DIR, "{\"kind\":\"sparse\"}", "MLM head");
    assert_load_error(HF_DIR, "{\"kind\":\"banana\"}", "\"kind\" must be");
    assert_load_error(F16_GGUF, "{\"pooling\":\"median\"}", "\"pooling\" must be");
    assert_load_error(HF_DIR, "{\"normalize\":1}", "\"normalize\" must be true or false");
    assert_load_error(HF_DIR, "{\"max_tokens\":1000}", "exceeds the model's window of 48");
    assert_load_error(F16_GGUF, "{\"max_tokens\":1.5}", "\"max_tokens\" must be an integer");
    assert_load_error(HF_DIR, "{\"colour\":\"red\"}", "unknown option \"colour\"");
    assert_load_error(HF_DIR, "[1,2]", "expected a JSON object");
}

/* ---- broken HF directories --------------------------------------------------------------------- */

/* A temp copy of the tiny HF model where the files in skip are left out. */
static char *hf_copy(const char *const *skip) {
    char *d = mt_tmpdir();
    mt_link_dir(HF_DIR, d, skip);
    return d;
}

Test(bert, hf_missing_files) {
    assert_load_error("tests/data/no-such-model", NULL, "config.json");
    static const char *const no_weights[] = {"model.safetensors", NULL};
    char *d = hf_copy(no_weights);
    assert_load_error(d, NULL, "model.safetensors");
    mt_rmrf(d);
    static const char *const no_vocab[] = {"vocab.txt", NULL};
    d = hf_copy(no_vocab);
    assert_load_error(d, NULL, "vocab.txt");
    mt_rmrf(d);
    static const char *const no_pool[] = {"1_Pooling", NULL};
    d = hf_copy(no_pool);
    assert_load_error(d, NULL, "1_Pooling/config.json");
    mt_rmrf(d);
}

/* A copy with config.json replaced by the given text. */
static char *hf_with_config(const char *config) {
    static const char *const skip[] = {"config.json", NULL};
    char *d = hf_copy(skip);
    char *p = mt_path(d, "config.json");
    mt_write_str(p, config);
    free(p);
    return d;
}

Test(bert, hf_unknown_architecture_and_bad_config) {
    char *d = hf_with_config("{\"architectures\":[\"GPT2Model\"],\"n_embd\":32}");
    assert_load_error(d, NULL, "unknown architecture 'GPT2Model'");
    mt_rmrf(d);
    d = hf_with_config("{\"hidden_size\":32}");
    assert_load_error(d, NULL, "names no architecture");
    mt_rmrf(d);
    d = hf_with_config("{\"model_type\":\"bert\",\"hidden_size\":32}");
    assert_load_error(d, NULL, "no \"num_attention_heads\"");
    mt_rmrf(d);
    d = hf_with_config("{\"architectures\":[\"BertModel\"]");
    assert_load_error(d, NULL, "not valid JSON");
    mt_rmrf(d);
    /* Hyperparameters that contradict the weights. */
    char *cfg = mt_read(HF_DIR "/config.json", NULL);
    char *at = strstr(cfg, "\"num_attention_heads\": 4");
    cr_assert_not_null(at);
    at[strlen("\"num_attention_heads\": ")] = '5';
    d = hf_with_config(cfg);
    assert_load_error(d, NULL, "5 attention heads do not divide the hidden size 32");
    mt_rmrf(d);
    free(cfg);
    cfg = mt_read(HF_DIR "/config.json", NULL);
    at = strstr(cfg, "\"intermediate_size\": 64");
    cr_assert_not_null(at);
    memcpy(at + strlen("\"intermediate_size\": "), "48", 2);
    d = hf_with_config(cfg);
    assert_load_error(d, NULL, "intermediate.dense.weight' has shape [64, 32], expected [48, 32]");
    mt_rmrf(d);
    free(cfg);
    cfg = mt_read(HF_DIR "/config.json", NULL);
    at = strstr(cfg, "\"hidden_act\": \"gelu\"");
    cr_assert_not_null(at);
    memcpy(at + strlen("\"hidden_act\": \""), "relu", 4);
    d = hf_with_config(cfg);
    assert_load_error(d, NULL, "hidden_act 'relu' is not supported");
    mt_rmrf(d);
    free(cfg);
}

/* Rewrites the tiny model's safetensors header through edit() into dir/model.safetensors
 * (the data section is copied unchanged). */
static void rewrite_safetensors(const char *dir, void (*edit)(cJSON *hdr)) {
    size_t n = 0;
    char *data = mt_read(HF_DIR "/model.safetensors", &n);
    cr_assert_not_null(data);
    uint64_t hlen;
    memcpy(&hlen, data, 8);
    cJSON *hdr = cJSON_ParseWithLength(data + 8, hlen);
    cr_assert_not_null(hdr);
    edit(hdr);
    char *h = cJSON_PrintUnformatted(hdr);
    uint64_t nl = strlen(h);
    char *p = mt_path(dir, "model.safetensors");
    FILE *f = fopen(p, "wb");
    fwrite(&nl, 8, 1, f);
    fwrite(h, 1, nl, f);
    fwrite(data + 8 + hlen, 1, n - 8 - hlen, f);
    fclose(f);
    free(p);
    free(h);
    cJSON_Delete(hdr);
    free(data);
}

static char *hf_with_edit(void (*edit)(cJSON *hdr)) {
    static const char *const skip[] = {"model.safetensors", NULL};
    char *d = hf_copy(skip);
    rewrite_safetensors(d, edit);
    return d;
}

static void add_bert_prefix(cJSON *hdr) {
    for (cJSON *it = hdr->child; it; it = it->next) {
        if (strcmp(it->string, "__metadata__") == 0) continue;
        char *n = NULL;
        cr_assert(asprintf(&n, "bert.%s", it->string) > 0);
        free(it->string);
        it->string = n;
    }
}

static void swap_ffn_shape(cJSON *hdr) {
    cJSON *t = cJSON_GetObjectItem(hdr, "encoder.layer.1.intermediate.dense.weight");
    cJSON_ReplaceItemInObject(t, "shape", cJSON_Parse("[32, 64]"));
}

static void bias_as_int(cJSON *hdr) {
    cJSON *t = cJSON_GetObjectItem(hdr, "encoder.layer.0.output.dense.bias");
    cJSON_ReplaceItemInObject(t, "dtype", cJSON_CreateString("I32"));
}

static void drop_value_weight(cJSON *hdr) {
    cJSON_DeleteItemFromObject(hdr, "encoder.layer.1.attention.self.value.weight");
}

static void offsets_past_end(cJSON *hdr) {
    cJSON *t = cJSON_GetObjectItem(hdr, "pooler.dense.bias");
    cJSON_ReplaceItemInObject(t, "data_offsets", cJSON_Parse("[4000000, 4000128]"));
}

Test(bert, hf_bert_prefixed_checkpoint_loads) {
    char *d = hf_with_edit(add_bert_prefix);
    cJSON *g = gold();
    silt_encoder *enc = load(d, NULL);
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "variants"), "hf");
    tokenized t = tokenize_all(enc, cJSON_GetObjectItem(g, "texts"), cJSON_GetObjectItem(v, "ids"));
    float *out = calloc((size_t)t.n * 32, sizeof *out);
    char *err = NULL;
    cr_assert_eq(enc->ops->embed_batch(enc, (const int32_t *const *)t.ids, t.n_ids, t.n, out, &err), 0);
    cr_assert_lt(max_diff(out, cJSON_GetObjectItem(v, "embeddings"), t.n, 32), 1e-4);
    free(out);
    free_tokenized(&t);
    silt_encoder_free(enc);
    cJSON_Delete(g);
    mt_rmrf(d);
}

Test(bert, hf_wrong_shapes_dtypes_and_offsets) {
    char *d = hf_with_edit(swap_ffn_shape);
    assert_load_error(d, NULL,
                      "encoder.layer.1.intermediate.dense.weight' has shape [32, 64], expected [64, 32]");
    mt_rmrf(d);
    d = hf_with_edit(bias_as_int);
    assert_load_error(d, NULL, "encoder.layer.0.output.dense.bias' has dtype I32");
    mt_rmrf(d);
    d = hf_with_edit(drop_value_weight);
    assert_load_error(d, NULL, "encoder.layer.1.attention.self.value.weight' is missing");
    mt_rmrf(d);
    d = hf_with_edit(offsets_past_end);
    assert_load_error(d, NULL, "past the end of the data section");
    mt_rmrf(d);
}

Test(bert, hf_truncated_weights) {
    static const char *const skip[] = {"model.safetensors", NULL};
    char *d = hf_copy(skip);
    size_t n = 0;
    char *data = mt_read(HF_DIR "/model.safetensors", &n);
    char *p = mt_path(d, "model.safetensors");
    mt_write(p, data, n - 100);
    assert_load_error(d, NULL, "past the end");
    mt_write(p, data, 20);
    assert_load_error(d, NULL, "header length");
    free(p);
    free(data);
    mt_rmrf(d);
}

Test(bert, hf_unsupported_sentence_transformers_modules) {
    static const char *const skip[] = {"modules.json", NULL};
    char *d = hf_copy(skip);
    char *p = mt_path(d, "modules.json");
    mt_write_str(p, "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models."
                    "Transformer\"},{\"idx\":1,\"name\":\"1\",\"path\":\"2_Dense\",\"type\":"
                    "\"sentence_transformers.models.Dense\"}]");
    assert_load_error(d, NULL, "module type 'sentence_transformers.models.Dense' is not supported");
    mt_write_str(p, "[{\"type\":\"sentence_transformers.models.Pooling\",\"path\":\"../x\"}]");
    assert_load_error(d, NULL, "relative \"path\"");
    free(p);
    mt_rmrf(d);
    /* Pooling modes silt does not run. */
    static const char *const skip_pool[] = {"1_Pooling", NULL};
    d = hf_copy(skip_pool);
    char *pd = mt_path(d, "1_Pooling");
    mkdir(pd, 0755);
    p = mt_path(pd, "config.json");
    mt_write_str(p, "{\"pooling_mode_weightedmean_tokens\": true}");
    assert_load_error(d, NULL, "pooling_mode_weightedmean_tokens is not supported");
    mt_write_str(p, "{\"pooling_mode_cls_token\": true, \"pooling_mode_mean_tokens\": true}");
    assert_load_error(d, NULL, "2 pooling modes are on");
    mt_write_str(p, "{\"pooling_mode_cls_token\": true}");
    silt_encoder *enc = load(d, NULL);
    silt_encoder_free(enc);
    free(p);
    free(pd);
    mt_rmrf(d);
}

/* ---- broken GGUF files ------------------------------------------------------------------------- */

/* A copy of the Q8_0 GGUF in a temp dir with patch() applied to its bytes. */
static char *gguf_patched(char **dir, void (*patch)(char *data, size_t n)) {
    size_t n = 0;
    char *data = mt_read(Q8_GGUF, &n);
    cr_assert_not_null(data);
    patch(data, n);
    *dir = mt_tmpdir();
    char *p = mt_path(*dir, "m.gguf");
    mt_write(p, data, n);
    free(data);
    return p;
}

/* Position of the string value or tensor name s (its u64 length prefix precedes it). */
static char *find_gguf_string(char *data, size_t n, const char *s) {
    size_t l = strlen(s);
    for (char *p = data + 8; p + l <= data + n; p++) {
        uint64_t len;
        memcpy(&len, p - 8, 8);
        if (len == l && memcmp(p, s, l) == 0) return p;
    }
    cr_assert_fail("'%s' not found in the GGUF file", s);
    return NULL;
}

static void patch_arch(char *data, size_t n) {
    char *p = find_gguf_string(data, n, "general.architecture");
    /* key, u32 type, u64 length, then the value "bert" */
    memcpy(p + strlen("general.architecture") + 4 + 8, "gpt2", 4);
}

static void patch_swap_ne(char *data, size_t n) {
    char *p = find_gguf_string(data, n, "blk.0.ffn_up.weight") + strlen("blk.0.ffn_up.weight");
    uint64_t ne[2];
    memcpy(ne, p + 4, 16);
    uint64_t sw[2] = {ne[1], ne[0]};
    memcpy(p + 4, sw, 16);
}

static void patch_type_q4(char *data, size_t n) {
    /* token_types.weight is F32 [32, 2]: 256 bytes; as Q4_0 it would be 36, still valid. */
    char *p = find_gguf_string(data, n, "token_types.weight") + strlen("token_types.weight");
    uint32_t t = SILT_GGML_Q4_0;
    memcpy(p + 4 + 16, &t, 4);
}

static void patch_rename_tensor(char *data, size_t n) {
    char *p = find_gguf_string(data, n, "blk.1.attn_v.weight");
    p[6] = 'x'; /* blk.1.xttn_v.weight */
}

static void patch_causal(char *data, size_t n) {
    char *p = find_gguf_string(data, n, "bert.attention.causal");
    p[strlen("bert.attention.causal") + 4] = 1;
}

static void patch_tokenizer_model(char *data, size_t n) {
    char *p = find_gguf_string(data, n, "tokenizer.ggml.model");
    memcpy(p + strlen("tokenizer.ggml.model") + 4 + 8, "gpt2", 4);
}

Test(bert, gguf_unknown_architecture_and_bad_tensors) {
    char *dir, *p;
    p = gguf_patched(&dir, patch_arch);
    assert_load_error(p, NULL, "unknown architecture 'gpt2'");
    free(p);
    mt_rmrf(dir);
    p = gguf_patched(&dir, patch_swap_ne);
    assert_load_error(p, NULL, "blk.0.ffn_up.weight' has ne {64, 32, 1, 1}, expected {32, 64}");
    free(p);
    mt_rmrf(dir);
    p = gguf_patched(&dir, patch_type_q4);
    assert_load_error(p, NULL, "'token_types.weight' has ggml type Q4_0");
    free(p);
    mt_rmrf(dir);
    p = gguf_patched(&dir, patch_rename_tensor);
    assert_load_error(p, NULL, "'blk.1.attn_v.weight' is missing");
    free(p);
    mt_rmrf(dir);
    p = gguf_patched(&dir, patch_causal);
    assert_load_error(p, NULL, "causal");
    free(p);
    mt_rmrf(dir);
    p = gguf_patched(&dir, patch_tokenizer_model);
    assert_load_error(p, NULL, "tokenizer.ggml.model is 'gpt2'");
    free(p);
    mt_rmrf(dir);
}

Test(bert, gguf_missing_truncated_and_vocab_only_files) {
    assert_load_error("tests/data/none.gguf", NULL, "cannot open");
    /* A vocabulary-only GGUF (no tensors) names the first missing tensor. */
    assert_load_error("tests/data/llama-vocab/ggml-vocab-bert-bge.gguf", NULL,
                      "token_embd.weight' is missing");
    assert_load_error("tests/data/llama-vocab/ggml-vocab-gpt-neox.gguf", NULL,
                      "unknown architecture 'gptneox'");
    size_t n = 0;
    char *data = mt_read(F16_GGUF, &n);
    char *dir = mt_tmpdir(), *p = mt_path(dir, "cut.gguf");
    size_t cuts[] = {10, 100, 5000, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        mt_write(p, data, cuts[i]);
        char *e = load_error(p, NULL);
        free(e);
    }
    free(p);
    free(data);
    mt_rmrf(dir);
}

/* A small GGUF whose hyperparameters ask for 3.5 GB of weights (found by fuzz_gguf: it made
 * the loader allocate them before looking at the tensors) is refused before any allocation. */
Test(bert, gguf_hyperparameters_larger_than_the_file) {
    size_t n = 0;
    char *data = mt_read("tests/fuzz/corpus/gguf/oom_hparams_larger_than_file", &n);
    char *dir = mt_tmpdir(), *p = mt_path(dir, "lying.gguf");
    mt_write(p, data, n);
    assert_load_error(p, NULL, "but the file's tensors hold only");
    free(p);
    free(data);
    mt_rmrf(dir);
}

/* ---- a GGUF written here from the HF weights: F32, fused attn_qkv ---------------------------- */

typedef struct {
    char name[64];
    float *data;
    uint64_t ne0, ne1; /* ne1 = 0: a vector */
} gg_tensor;

/* Reads HF tensor name as floats. */
static float *hf_floats(const silt_safetensors *st, const char *name, uint64_t *n) {
    const silt_st_tensor *t = silt_safetensors_find(st, name);
    cr_assert_not_null(t, "%s", name);
    float *f = malloc(t->n_elems * sizeof *f);
    char *err = NULL;
    cr_assert_eq(silt_st_tensor_to_f32(t, f, &err), 0, "%s", err);
    *n = t->n_elems;
    return f;
}

/* Writes a bert GGUF (v3, F32 tensors) from the tiny HF checkpoint, with Q, K and V fused
 * into blk.N.attn_qkv as some converters do; tokenizer metadata copied from the Q8_0 file. */
static void write_fused_gguf(const char *path) {
    char *err = NULL;
    silt_safetensors *st = silt_safetensors_open(HF_DIR "/model.safetensors", &err);
    silt_gguf *src = silt_gguf_open(Q8_GGUF, &err);
    cr_assert(st && src, "%s", err);
    gg_tensor t[64];
    int nt = 0;
    static const char *const emb[][2] = {
        {"embeddings.word_embeddings.weight", "token_embd.weight"},
        {"embeddings.position_embeddings.weight", "position_embd.weight"},
        {"embeddings.token_type_embeddings.weight", "token_types.weight"},
        {"embeddings.LayerNorm.weight", "token_embd_norm.weight"},
        {"embeddings.LayerNorm.bias", "token_embd_norm.bias"},
    };
    for (int i = 0; i < 5; i++) {
        uint64_t n;
        snprintf(t[nt].name, sizeof t[nt].name, "%s", emb[i][1]);
        t[nt].data = hf_floats(st, emb[i][0], &n);
        t[nt].ne0 = 32;
        t[nt].ne1 = n == 32 ? 0 : n / 32;
        nt++;
    }
    static const char *const layer[][2] = {
        {"attention.output.dense.weight", "attn_output.weight"},
        {"attention.output.dense.bias", "attn_output.bias"},
        {"attention.output.LayerNorm.weight", "attn_output_norm.weight"},
        {"attention.output.LayerNorm.bias", "attn_output_norm.bias"},
        {"intermediate.dense.weight", "ffn_up.weight"},
        {"intermediate.dense.bias", "ffn_up.bias"},
        {"output.dense.weight", "ffn_down.weight"},
        {"output.dense.bias", "ffn_down.bias"},
        {"output.LayerNorm.weight", "layer_output_norm.weight"},
        {"output.LayerNorm.bias", "layer_output_norm.bias"},
    };
    for (int l = 0; l < 2; l++) {
        static const char *const qkv[3] = {"query", "key", "value"};
        float *w = malloc(96 * 32 * sizeof *w), *b = malloc(96 * sizeof *b);
        for (int j = 0; j < 3; j++) {
            char name[128];
            uint64_t n;
            snprintf(name, sizeof name, "encoder.layer.%d.attention.self.%s.weight", l, qkv[j]);
            float *f = hf_floats(st, name, &n);
            memcpy(w + j * 32 * 32, f, n * sizeof *f);
            free(f);
            snprintf(name, sizeof name, "encoder.layer.%d.attention.self.%s.bias", l, qkv[j]);
            f = hf_floats(st, name, &n);
            memcpy(b + j * 32, f, n * sizeof *f);
            free(f);
        }
        t[nt] = (gg_tensor){.data = w, .ne0 = 32, .ne1 = 96};
        snprintf(t[nt++].name, sizeof t[0].name, "blk.%d.attn_qkv.weight", l);
        t[nt] = (gg_tensor){.data = b, .ne0 = 96, .ne1 = 0};
        snprintf(t[nt++].name, sizeof t[0].name, "blk.%d.attn_qkv.bias", l);
        for (int i = 0; i < 10; i++) {
            char name[128];
            uint64_t n;
            snprintf(name, sizeof name, "encoder.layer.%d.%s", l, layer[i][0]);
            t[nt].data = hf_floats(st, name, &n);
            snprintf(t[nt].name, sizeof t[nt].name, "blk.%d.%s", l, layer[i][1]);
            t[nt].ne0 = strstr(layer[i][1], "ffn_down.weight") ? 64 : n > 64 ? 32 : n;
            t[nt].ne1 = n > 64 ? n / t[nt].ne0 : 0;
            nt++;
        }
    }
    const silt_gguf_kv *toks = silt_gguf_find_kv(src, "tokenizer.ggml.tokens");
    const silt_gguf_kv *types = silt_gguf_find_kv(src, "tokenizer.ggml.token_type");
    mt_buf b = {0};
    mt_put(&b, "GGUF", 4);
    mt_u32(&b, 3);
    mt_u64(&b, (uint64_t)nt);
    mt_u64(&b, 10);
    static const struct {
        const char *key;
        uint32_t v;
    } u32s[] = {{"bert.block_count", 2},     {"bert.context_length", 64},
                {"bert.embedding_length", 32}, {"bert.feed_forward_length", 64},
                {"bert.attention.head_count", 4}};
    mt_str(&b, "general.architecture");
    mt_u32(&b, SILT_GGUF_STRING);
    mt_str(&b, "bert");
    for (int i = 0; i < 5; i++) {
        mt_str(&b, u32s[i].key);
        mt_u32(&b, SILT_GGUF_U32);
        mt_u32(&b, u32s[i].v);
    }
    mt_str(&b, "bert.attention.layer_norm_epsilon");
    mt_u32(&b, SILT_GGUF_F32);
    float eps = 1e-12f;
    mt_put(&b, &eps, 4);
    mt_str(&b, "tokenizer.ggml.model");
    mt_u32(&b, SILT_GGUF_STRING);
    mt_str(&b, "bert");
    mt_str(&b, "tokenizer.ggml.tokens");
    mt_u32(&b, SILT_GGUF_ARRAY);
    mt_u32(&b, SILT_GGUF_STRING);
    mt_u64(&b, toks->n);
    for (uint64_t i = 0; i < toks->n; i++) {
        size_t len;
        const char *s = silt_gguf_arr_str(toks, i, &len);
        mt_u64(&b, len);
        mt_put(&b, s, len);
    }
    mt_str(&b, "tokenizer.ggml.token_type");
    mt_u32(&b, SILT_GGUF_ARRAY);
    mt_u32(&b, SILT_GGUF_I32);
    mt_u64(&b, types->n);
    for (uint64_t i = 0; i < types->n; i++) mt_u32(&b, (uint32_t)silt_gguf_arr_int(types, i));
    uint64_t off = 0;
    for (int i = 0; i < nt; i++) {
        mt_str(&b, t[i].name);
        mt_u32(&b, t[i].ne1 ? 2 : 1);
        mt_u64(&b, t[i].ne0);
        if (t[i].ne1) mt_u64(&b, t[i].ne1);
        mt_u32(&b, SILT_GGML_F32);
        mt_u64(&b, off);
        off += (t[i].ne0 * (t[i].ne1 ? t[i].ne1 : 1) * 4 + 31) / 32 * 32;
    }
    mt_pad(&b, 32);
    for (int i = 0; i < nt; i++) {
        mt_put(&b, t[i].data, t[i].ne0 * (t[i].ne1 ? t[i].ne1 : 1) * 4);
        mt_pad(&b, 32);
        free(t[i].data);
    }
    mt_write(path, b.p, b.n);
    free(b.p);
    silt_gguf_close(src);
    silt_safetensors_close(st);
}

Test(bert, gguf_with_fused_qkv_matches_hf_golden) {
    char *dir = mt_tmpdir(), *path = mt_path(dir, "fused.gguf");
    write_fused_gguf(path);
    cJSON *g = gold();
    const cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(g, "variants"), "hf");
    /* No pooling key: mean; GGUF output is normalised; the HF variant's window is 48. */
    silt_encoder *enc = load(path, "{\"max_tokens\":48}");
    tokenized t = tokenize_all(enc, cJSON_GetObjectItem(g, "texts"), cJSON_GetObjectItem(v, "ids"));
    float *out = calloc((size_t)t.n * 32, sizeof *out);
    char *err = NULL;
    cr_assert_eq(enc->ops->embed_batch(enc, (const int32_t *const *)t.ids, t.n_ids, t.n, out, &err), 0);
    double d = max_diff(out, cJSON_GetObjectItem(v, "embeddings"), t.n, 32);
    fprintf(stderr, "bert golden hf via fused-qkv F32 GGUF: max abs diff %.3g\n", d);
    cr_assert_lt(d, 1e-4);
    free(out);
    free_tokenized(&t);
    silt_encoder_free(enc);
    cJSON_Delete(g);
    free(path);
    mt_rmrf(dir);
}
