/* test_mamba.c: the Mamba-1 encoder (core/mamba.h) on the tiny random model of
 * tests/reference/make_tiny_mamba.py, as a Hugging Face directory (tests/data/tiny-mamba) and
 * as a llama.cpp GGUF (tests/data/tiny-mamba.gguf). The goldens (tests/data/
 * tiny_mamba_gold.json) hold each text's ids from @huggingface/tokenizers plus EOS and the
 * pooled embedding of a float64 PyTorch forward pass with a token-by-token scan.
 * Also: the step size (chunk_tokens) and batching do not change results, the window, and
 * corrupt or inconsistent files fail with a message naming the problem. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/encoder.h"
#include "core/gguf.h"
#include "core/mamba.h"
#include "core/safetensors.h"
#include "tests/unit/modeltest_util.h"

#define HF_DIR "tests/data/tiny-mamba"
#define GGUF "tests/data/tiny-mamba.gguf"
#define GOLD "tests/data/tiny_mamba_gold.json"
#define DIM 32

typedef struct {
    int n;
    char **text;
    size_t *len;
    int32_t **ids;
    int *n_ids;
    float *emb; /* [n, DIM] */
} gold_set;

static gold_set load_gold(void) {
    char *raw = mt_read(GOLD, NULL);
    cr_assert_not_null(raw, GOLD " missing");
    cJSON *root = cJSON_Parse(raw);
    const cJSON *cases = cJSON_GetObjectItem(root, "cases");
    gold_set g = {.n = cJSON_GetArraySize(cases)};
    g.text = calloc((size_t)g.n, sizeof *g.text);
    g.len = calloc((size_t)g.n, sizeof *g.len);
    g.ids = calloc((size_t)g.n, sizeof *g.ids);
    g.n_ids = calloc((size_t)g.n, sizeof *g.n_ids);
    g.emb = calloc((size_t)g.n * DIM, sizeof *g.emb);
    int i = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cases) {
        const char *hex = cJSON_GetObjectItem(c, "text_hex")->valuestring;
        g.len[i] = strlen(hex) / 2;
        g.text[i] = malloc(g.len[i] + 1);
        for (size_t k = 0; k < g.len[i]; k++)
            sscanf(hex + 2 * k, "%2hhx", (unsigned char *)&g.text[i][k]);
        g.text[i][g.len[i]] = 0;
        const cJSON *ids = cJSON_GetObjectItem(c, "ids"), *e = cJSON_GetObjectItem(c, "embedding");
        g.n_ids[i] = cJSON_GetArraySize(ids);
        g.ids[i] = malloc((size_t)g.n_ids[i] * sizeof(int32_t));
        for (int k = 0; k < g.n_ids[i]; k++) g.ids[i][k] = cJSON_GetArrayItem(ids, k)->valueint;
        cr_assert_eq(cJSON_GetArraySize(e), DIM);
        for (int k = 0; k < DIM; k++)
            g.emb[(size_t)i * DIM + k] = (float)cJSON_GetArrayItem(e, k)->valuedouble;
        i++;
    }
    cJSON_Delete(root);
    free(raw);
    return g;
}

static void free_gold(gold_set *g) {
    for (int i = 0; i < g->n; i++) {
        free(g->text[i]);
        free(g->ids[i]);
    }
    free(g->text);
    free(g->len);
    free(g->ids);
    free(g->n_ids);
    free(g->emb);
}

static silt_encoder *load(const char *path, const char *opts) {
    char *err = NULL;
    silt_encoder *e = strstr(path, ".gguf") ? silt_mamba_load_gguf(path, opts, &err)
                                            : silt_mamba_load_hf(path, opts, &err);
    cr_assert_not_null(e, "%s: %s", path, err);
    return e;
}

static char *load_error(const char *path, const char *opts) {
    char *err = NULL;
    silt_encoder *e = strstr(path, ".gguf") ? silt_mamba_load_gguf(path, opts, &err)
                                            : silt_mamba_load_hf(path, opts, &err);
    cr_assert_null(e, "%s loaded but should not", path);
    cr_assert_not_null(err);
    return err;
}

#define assert_load_error(path, opts, fragment)                                              \
    do {                                                                                      \
        char *e_ = load_error((path), (opts));                                                \
        cr_assert(strstr(e_, (fragment)), "expected '%s' in: %s", (fragment), e_);            \
        free(e_);                                                                             \
    } while (0)

/* Embeds the gold ids (tokenized by enc when tokenize is set, checked against the gold). */
static float *embed_gold(const silt_encoder *e, const gold_set *g, int tokenize) {
    int32_t **ids = calloc((size_t)g->n, sizeof *ids);
    int *n = calloc((size_t)g->n, sizeof *n);
    char *err = NULL;
    for (int i = 0; i < g->n; i++) {
        if (tokenize) {
            cr_assert_eq(e->ops->tokenize(e, g->text[i], g->len[i], 1, &ids[i], &n[i], &err), 0,
                         "%s", err);
            cr_assert(n[i] == g->n_ids[i] &&
                          memcmp(ids[i], g->ids[i], (size_t)n[i] * sizeof(int32_t)) == 0,
                      "ids of text %d differ from @huggingface/tokenizers + EOS", i);
        } else {
            ids[i] = g->ids[i];
            n[i] = g->n_ids[i];
        }
    }
    float *out = calloc((size_t)g->n * DIM, sizeof *out);
    cr_assert_eq(e->ops->embed_batch(e, (const int32_t *const *)ids, n, g->n, out, &err), 0,
                 "%s", err);
    for (int i = 0; tokenize && i < g->n; i++) free(ids[i]);
    free(ids);
    free(n);
    return out;
}

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float m = 0;
    for (size_t i = 0; i < n; i++) m = fmaxf(m, fabsf(a[i] - b[i]));
    return m;
}

static void check_against_gold(const char *path) {
    gold_set g = load_gold();
    silt_encoder *e = load(path, NULL);
    cr_assert_str_eq(e->arch, "mamba");
    cr_assert_eq(e->kind, SILT_KIND_DENSE);
    cr_assert_eq(e->dim, DIM);
    cr_assert_eq(e->max_tokens, 8192);
    float *out = embed_gold(e, &g, 1);
    float d = max_abs_diff(out, g.emb, (size_t)g.n * DIM);
    cr_log_info("%s: max abs diff vs PyTorch reference %.3g over %d texts", path, (double)d, g.n);
    cr_assert_lt(d, 1e-4f, "%s: max abs diff %g", path, (double)d);
    free(out);
    silt_encoder_free(e);
    free_gold(&g);
}

Test(mamba, hf_directory_matches_pytorch_reference) { check_against_gold(HF_DIR); }

Test(mamba, gguf_matches_pytorch_reference) { check_against_gold(GGUF); }

Test(mamba, step_size_and_batching_do_not_change_embeddings) {
    gold_set g = load_gold();
    silt_encoder *ref = load(HF_DIR, NULL);
    float *want = embed_gold(ref, &g, 0);
    /* Steps of 1, 3 and 100 rows: texts cross step boundaries everywhere (the longest gold
     * text has > 1,600 tokens, more than the default step of 512). */
    const char *opts[] = {"{\"chunk_tokens\":1}", "{\"chunk_tokens\":3}",
                          "{\"chunk_tokens\":100}"};
    for (size_t k = 0; k < sizeof opts / sizeof *opts; k++) {
        silt_encoder *e = load(GGUF, opts[k]);
        float *got = embed_gold(e, &g, 0);
        float d = max_abs_diff(got, want, (size_t)g.n * DIM);
        cr_assert_lt(d, 1e-5f, "%s: differs by %g", opts[k], (double)d);
        free(got);
        silt_encoder_free(e);
    }
    /* One text at a time gives what the batch gave. */
    char *err = NULL;
    for (int i = 0; i < g.n; i++) {
        float one[DIM];
        const int32_t *ids = g.ids[i];
        cr_assert_eq(ref->ops->embed_batch(ref, &ids, &g.n_ids[i], 1, one, &err), 0);
        cr_assert_lt(max_abs_diff(one, want + (size_t)i * DIM, DIM), 1e-5f, "text %d", i);
    }
    free(want);
    silt_encoder_free(ref);
    free_gold(&g);
}

Test(mamba, window_truncates_or_refuses) {
    silt_encoder *e = load(HF_DIR, "{\"max_tokens\":8}");
    cr_assert_eq(e->max_tokens, 8);
    gold_set g = load_gold();
    int last = g.n - 1;
    int32_t *ids;
    int n;
    char *err = NULL;
    cr_assert_eq(e->ops->tokenize(e, g.text[last], g.len[last], 1, &ids, &n, &err), 0);
    cr_assert_eq(n, 8);
    cr_assert_eq(ids[7], 0, "EOS closes a truncated text");
    cr_assert_eq(memcmp(ids, g.ids[last], 7 * sizeof *ids), 0, "the first 7 text tokens");
    free(ids);
    cr_assert_eq(e->ops->tokenize(e, g.text[last], g.len[last], 0, &ids, &n, &err), -1);
    cr_assert(strstr(err, "longer than the model's window of 8 tokens"), "%s", err);
    free(err);
    err = NULL;
    /* Exactly full: 5 text tokens + EOS in a window of 6 need no truncation. */
    int k = 0;
    while (k < g.n && g.n_ids[k] != 6) k++;
    cr_assert_lt(k, g.n, "a gold text of 5 tokens + EOS");
    silt_encoder *six = load(GGUF, "{\"max_tokens\":6}");
    cr_assert_eq(six->ops->tokenize(six, g.text[k], g.len[k], 0, &ids, &n, &err), 0, "%s", err);
    cr_assert(n == 6 && memcmp(ids, g.ids[k], 6 * sizeof *ids) == 0);
    free(ids);
    silt_encoder_free(six);
    /* The empty text is just EOS. */
    cr_assert_eq(e->ops->tokenize(e, "", 0, 0, &ids, &n, &err), 0);
    cr_assert(n == 1 && ids[0] == 0);
    free(ids);
    free_gold(&g);
    silt_encoder_free(e);
}

Test(mamba, special_token_text_is_plain_text) {
    silt_encoder *e = load(GGUF, NULL);
    int32_t *ids;
    int n;
    char *err = NULL;
    cr_assert_eq(e->ops->tokenize(e, "end<|endoftext|>x", 17, 1, &ids, &n, &err), 0);
    for (int i = 0; i + 1 < n; i++) cr_assert_neq(ids[i], 0, "EOS only at the end");
    cr_assert_eq(ids[n - 1], 0);
    free(ids);
    cr_assert_str_eq(e->ops->token_text(e, 0), "<|endoftext|>");
    cr_assert_eq(e->ops->token_id(e, "<|endoftext|>", 13), 0);
    cr_assert_null(e->ops->token_text(e, 100000));
    silt_encoder_free(e);
}

Test(mamba, embed_rejects_bad_ids) {
    silt_encoder *e = load(HF_DIR, NULL);
    char *err = NULL;
    float out[DIM];
    int32_t bad[] = {5, 1000000};
    const int32_t *p = bad;
    int n = 2;
    cr_assert_eq(e->ops->embed_batch(e, &p, &n, 1, out, &err), -1);
    cr_assert(strstr(err, "token id 1000000 of text 0 is outside the vocabulary"), "%s", err);
    free(err);
    err = NULL;
    n = 0;
    cr_assert_eq(e->ops->embed_batch(e, &p, &n, 1, out, &err), -1);
    cr_assert(strstr(err, "has no tokens"), "%s", err);
    free(err);
    silt_encoder_free(e);
}

Test(mamba, options_are_checked) {
    assert_load_error(HF_DIR, "{\"pooling\":\"mean\"}", "unknown option \"pooling\"");
    assert_load_error(HF_DIR, "{\"kind\":\"sparse\"}", "dense only");
    assert_load_error(GGUF, "{\"max_tokens\":1}", "\"max_tokens\" must be an integer from 2");
    assert_load_error(GGUF, "{\"chunk_tokens\":0}", "\"chunk_tokens\" must be an integer");
    assert_load_error(GGUF, "[1]", "expected a JSON object");
}

Test(mamba, claims_only_mamba_models) {
    cr_assert(silt_mamba_claims_hf(HF_DIR));
    cr_assert(silt_mamba_claims_gguf(GGUF));
    cr_assert_not(silt_mamba_claims_hf("tests/data/tiny-bert"));
    cr_assert_not(silt_mamba_claims_gguf("tests/data/tiny-bert-f16.gguf"));
    cr_assert_not(silt_mamba_claims_gguf("tests/data/no-such.gguf"));
    assert_load_error("tests/data/tiny-bert-f16.gguf", NULL, "not \"mamba\"");
    assert_load_error("tests/data/llama-vocab/ggml-vocab-gpt-neox.gguf", NULL, "not \"mamba\"");
}

/* ---- corrupt Hugging Face directories ----------------------------------------------------- */

/* How a test changes the tiny model's tensors when rewriting model.safetensors. */
typedef struct {
    const char *drop;      /* tensor left out */
    const char *reshape;   /* tensor whose first dimension is cut to new_rows */
    int64_t new_rows;
} st_edit;

/* Writes dir/model.safetensors from the tiny model (all F32) with one edit. */
static void write_edited_safetensors(const char *dir, st_edit ed) {
    char *err = NULL;
    silt_safetensors *st = silt_safetensors_open_dir(HF_DIR, &err);
    cr_assert_not_null(st, "%s", err);
    mt_buf head = {0}, data = {0};
    mt_put(&head, "{", 1);
    int first = 1;
    for (int i = 0; i < silt_safetensors_count(st); i++) {
        const silt_st_tensor *t = silt_safetensors_at(st, i);
        if (ed.drop && strcmp(t->name, ed.drop) == 0) continue;
        float *f = malloc(t->n_elems * sizeof *f);
        cr_assert_eq(silt_st_tensor_to_f32(t, f, &err), 0);
        int64_t shape[8];
        memcpy(shape, t->shape, sizeof shape);
        size_t n = t->n_elems;
        if (ed.reshape && strcmp(t->name, ed.reshape) == 0) {
            n = n / (size_t)shape[0] * (size_t)ed.new_rows;
            shape[0] = ed.new_rows;
        }
        char entry[512];
        int k = snprintf(entry, sizeof entry, "%s\"%s\":{\"dtype\":\"F32\",\"shape\":[", first ? "" : ",",
                         t->name);
        for (int d = 0; d < t->n_dims; d++)
            k += snprintf(entry + k, sizeof entry - (size_t)k, "%s%lld", d ? "," : "", (long long)shape[d]);
        snprintf(entry + k, sizeof entry - (size_t)k, "],\"data_offsets\":[%zu,%zu]}", data.n,
                 data.n + n * 4);
        mt_put(&head, entry, strlen(entry));
        mt_put(&data, f, n * 4);
        free(f);
        first = 0;
    }
    mt_put(&head, "}", 1);
    while (head.n % 8) mt_put(&head, " ", 1);
    mt_buf file = {0};
    mt_u64(&file, head.n);
    mt_put(&file, head.p, head.n);
    mt_put(&file, data.p, data.n);
    char *p = mt_path(dir, "model.safetensors");
    mt_write(p, file.p, file.n);
    free(p);
    free(head.p);
    free(data.p);
    free(file.p);
    silt_safetensors_close(st);
}

/* A copy of the tiny HF model in a temp dir, with model.safetensors rewritten by ed and, when
 * config is not NULL, config.json replaced. */
static char *edited_model(st_edit ed, const char *config) {
    char *dir = mt_tmpdir();
    const char *skip[] = {"model.safetensors", config ? "config.json" : NULL, NULL};
    mt_link_dir(HF_DIR, dir, skip);
    write_edited_safetensors(dir, ed);
    if (config) {
        char *p = mt_path(dir, "config.json");
        mt_write_str(p, config);
        free(p);
    }
    return dir;
}

/* config.json of the tiny model with one "key": value replaced (value as JSON text). */
static char *config_with(const char *key, const char *value) {
    char *raw = mt_read(HF_DIR "/config.json", NULL);
    cJSON *c = cJSON_Parse(raw);
    cJSON_DeleteItemFromObject(c, key);
    if (value) cJSON_AddItemToObject(c, key, cJSON_Parse(value));
    char *out = cJSON_Print(c);
    cJSON_Delete(c);
    free(raw);
    return out;
}

Test(mamba, rewritten_all_f32_model_still_matches) {
    /* The edit machinery itself: an unedited F32 copy gives the gold embeddings. */
    char *dir = edited_model((st_edit){0}, NULL);
    check_against_gold(dir);
    mt_rmrf(dir);
}

Test(mamba, missing_or_misshapen_tensor_is_named) {
    char *dir = edited_model((st_edit){.drop = "backbone.layers.1.mixer.D"}, NULL);
    assert_load_error(dir, NULL, "tensor 'backbone.layers.1.mixer.D' is missing");
    mt_rmrf(dir);
    dir = edited_model((st_edit){.drop = "backbone.norm_f.weight"}, NULL);
    assert_load_error(dir, NULL, "norm_f.weight' is missing");
    mt_rmrf(dir);
    dir = edited_model((st_edit){.reshape = "backbone.layers.0.mixer.x_proj.weight", .new_rows = 17},
                       NULL);
    assert_load_error(dir, NULL,
                      "tensor 'backbone.layers.0.mixer.x_proj.weight' has shape [17, 64], "
                      "expected [18, 64]");
    mt_rmrf(dir);
    dir = edited_model((st_edit){.reshape = "backbone.layers.1.mixer.conv1d.weight", .new_rows = 63},
                       NULL);
    assert_load_error(dir, NULL, "conv1d.weight' has shape [63, 1, 4], expected [64, 1, 4]");
    mt_rmrf(dir);
    /* An embedding table smaller than config.json says, or (without vocab_size) than the
     * tokenizer's vocabulary: ids from the tokenizer must index the table. */
    st_edit small = {.reshape = "backbone.embeddings.weight", .new_rows = 500};
    dir = edited_model(small, NULL);
    assert_load_error(dir, NULL, "vocab_size 1016 is larger than the embedding table (500 rows)");
    mt_rmrf(dir);
    char *cfg = config_with("vocab_size", NULL);
    dir = edited_model(small, cfg);
    assert_load_error(dir, NULL, "the tokenizer has 1015 tokens but the embedding table only 500");
    mt_rmrf(dir);
    free(cfg);
}

Test(mamba, inconsistent_config_is_named) {
    struct {
        const char *key, *value, *fragment;
    } cases[] = {
        {"hidden_size", "48", "has shape [1016, 32], expected [vocabulary, 48]"},
        {"state_size", "16", "x_proj.weight' has shape [18, 64], expected [34, 64]"},
        {"time_step_rank", "\"auto\"", NULL}, /* ceil(32/16) = 2: the same model */
        {"num_hidden_layers", "3", "tensor 'backbone.layers.2.norm.weight' is missing"},
        {"model_type", "\"mamba2\"", "model_type \"mamba2\" is not Mamba-1"},
        {"vocab_size", "4096", "vocab_size 4096 is larger than the embedding table"},
        {"rms_norm", "false", "LayerNorm"},
        {"hidden_size", NULL, "config.json has no \"hidden_size\""},
        {"conv_kernel", "-1", "\"conv_kernel\" must be a non-negative integer"},
        {"eos_token_id", "5000", "no EOS token (eos_token_id 5000"},
        {"eos_token_id", "null", NULL}, /* then "<|endoftext|>" */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *cfg = config_with(cases[i].key, cases[i].value);
        char *dir = edited_model((st_edit){0}, cfg);
        if (cases[i].fragment) {
            assert_load_error(dir, NULL, cases[i].fragment);
        } else {
            silt_encoder *e = load(dir, NULL);
            silt_encoder_free(e);
        }
        mt_rmrf(dir);
        free(cfg);
    }
}

Test(mamba, truncated_or_missing_files_fail_cleanly) {
    size_t n = 0;
    char *data = mt_read(HF_DIR "/model.safetensors", &n);
    char *dir = mt_tmpdir();
    const char *skip[] = {"model.safetensors", NULL};
    mt_link_dir(HF_DIR, dir, skip);
    char *p = mt_path(dir, "model.safetensors");
    size_t cuts[] = {0, 7, 100, n / 2, n - 1};
    for (size_t i = 0; i < sizeof cuts / sizeof *cuts; i++) {
        mt_write(p, data, cuts[i]);
        char *e = load_error(dir, NULL);
        cr_assert(strstr(e, "Mamba model"), "%s", e);
        free(e);
    }
    free(p);
    mt_rmrf(dir);
    free(data);
    /* No tokenizer.json. */
    dir = mt_tmpdir();
    const char *skip_tok[] = {"tokenizer.json", NULL};
    mt_link_dir(HF_DIR, dir, skip_tok);
    assert_load_error(dir, NULL, "tokenizer.json");
    mt_rmrf(dir);
    /* GGUF cut anywhere. */
    data = mt_read(GGUF, &n);
    dir = mt_tmpdir();
    p = mt_path(dir, "cut.gguf");
    size_t gcuts[] = {3, 100, 4000, n / 2, n - 1};
    for (size_t i = 0; i < sizeof gcuts / sizeof *gcuts; i++) {
        mt_write(p, data, gcuts[i]);
        char *e = load_error(p, NULL);
        cr_assert(strstr(e, "GGUF Mamba model"), "%s", e);
        free(e);
    }
    free(p);
    mt_rmrf(dir);
    free(data);
}

/* ---- corrupt GGUF files ---------------------------------------------------------------------- */

/* Writes a copy of the tiny GGUF with the value bytes after metadata key `key` (skipping its
 * u32 type) replaced by value[0..n); returns its path (dir set for cleanup). */
static char *gguf_with_value(char **dir, const char *key, const void *value, size_t n) {
    size_t len = 0;
    char *data = mt_read(GGUF, &len);
    char *at = memmem(data, len, key, strlen(key));
    cr_assert_not_null(at, "key %s not in the file", key);
    memcpy(at + strlen(key) + 4, value, n);
    *dir = mt_tmpdir();
    char *p = mt_path(*dir, "m.gguf");
    mt_write(p, data, len);
    free(data);
    return p;
}

Test(mamba, corrupt_gguf_metadata_is_named) {
    char *dir, *p;
    uint32_t nine = 9;
    p = gguf_with_value(&dir, "mamba.ssm.state_size", &nine, 4);
    assert_load_error(p, NULL, "tensor 'blk.0.ssm_x.weight' has shape [18, 64], expected [20, 64]");
    free(p);
    mt_rmrf(dir);
    uint8_t yes = 1;
    p = gguf_with_value(&dir, "mamba.ssm.dt_b_c_rms", &yes, 1);
    assert_load_error(p, NULL, "dt_b_c_rms is true");
    free(p);
    mt_rmrf(dir);
    uint32_t big = 70000;
    p = gguf_with_value(&dir, "mamba.ssm.conv_kernel", &big, 4);
    assert_load_error(p, NULL, "unsupported hyperparameters");
    free(p);
    mt_rmrf(dir);
    /* A key renamed away is a missing key. */
    size_t len = 0;
    char *data = mt_read(GGUF, &len);
    char *at = memmem(data, len, "mamba.ssm.inner_size", 20);
    cr_assert_not_null(at);
    at[19] = 'X';
    dir = mt_tmpdir();
    p = mt_path(dir, "m.gguf");
    mt_write(p, data, len);
    assert_load_error(p, NULL, "mamba.ssm.inner_size");
    free(p);
    mt_rmrf(dir);
    free(data);
}

Test(mamba, positive_A_in_gguf_is_refused) {
    /* llama.cpp stores A = -exp(A_log) < 0; a positive A would make the scan blow up. */
    char *err = NULL;
    silt_gguf *g = silt_gguf_open(GGUF, &err);
    cr_assert_not_null(g);
    const silt_gguf_tensor *t = silt_gguf_find_tensor(g, "blk.1.ssm_a");
    cr_assert_not_null(t);
    size_t len = 0;
    char *data = mt_read(GGUF, &len);
    char *at = memmem(data, len, t->data, 64);
    cr_assert_not_null(at);
    float plus = 0.5f;
    memcpy(at, &plus, 4);
    silt_gguf_close(g);
    char *dir = mt_tmpdir(), *p = mt_path(dir, "m.gguf");
    mt_write(p, data, len);
    assert_load_error(p, NULL, "tensor 'blk.1.ssm_a' gives A = 0.5");
    free(p);
    mt_rmrf(dir);
    free(data);
}

Test(mamba, silt_encoder_load_routes_both_formats_here) {
    const char *paths[] = {HF_DIR, GGUF};
    for (int i = 0; i < 2; i++) {
        char *err = NULL;
        silt_encoder *e = silt_encoder_load(paths[i], "{\"max_tokens\":100}", &err);
        cr_assert_not_null(e, "%s: %s", paths[i], err);
        cr_assert_str_eq(e->arch, "mamba");
        cr_assert_eq(e->max_tokens, 100);
        silt_encoder_free(e);
    }
}
