/* test_uselite.c: Universal Sentence Encoder Lite against the Node.js reference goldens
 * (tests/data/use_lite_gold.json, made by tests/reference/use_lite_gold.sh), plus its
 * error paths: too many tokens, invalid UTF-8, bad ids, damaged model directories.
 *
 * Needs build/models/use-lite (scripts/setup.sh fetches it); tests skip without it. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/tfjs.h"
#include "core/unigram.h"
#include "core/use_lite.h"

#ifndef SILT_DEFAULT_MODEL_DIR
#define SILT_DEFAULT_MODEL_DIR "build/models/use-lite"
#endif

#define EMB_TOL 1e-5
#define DIM 512

static const char *model_dir(void) {
    const char *env = getenv("SILT_USELITE_TEST_MODEL");
    return env && env[0] ? env : SILT_DEFAULT_MODEL_DIR;
}

static int have_model(void) {
    char p[4096];
    snprintf(p, sizeof p, "%s/model.json", model_dir());
    return access(p, R_OK) == 0;
}

#define REQUIRE_MODEL()                                                                        \
    do {                                                                                       \
        if (!have_model())                                                                     \
            cr_skip_test("USE-Lite model not found in %s (run scripts/setup.sh)", model_dir()); \
    } while (0)

static silt_encoder *load_model(void) {
    char *err = NULL;
    silt_encoder *enc = silt_uselite_load(model_dir(), &err);
    cr_assert_not_null(enc, "load: %s", err ? err : "?");
    return enc;
}

/* ---- goldens ------------------------------------------------------------------------------- */

typedef struct {
    char *text;      /* UTF-8 bytes (may hold NUL) */
    size_t len;
    int32_t *ids;    /* full token list of the reference tokenizer (before the 128 cut) */
    int n_ids;
    float emb[DIM];
} gold_row;

static char *read_all(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)sz + 1);
    if (s && fread(s, 1, (size_t)sz, f) != (size_t)sz) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (s) s[sz] = '\0';
    if (n) *n = (size_t)sz;
    return s;
}

/* Finds the golden file from the repository root, or relative to the model directory
 * (<repo>/build/models/use-lite) when the tests run from elsewhere. */
static char *gold_text(void) {
    char *s = read_all("tests/data/use_lite_gold.json", NULL);
    if (s) return s;
    char p[4096];
    snprintf(p, sizeof p, "%s/../../../tests/data/use_lite_gold.json", model_dir());
    return read_all(p, NULL);
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static gold_row *load_gold(int *n_rows) {
    char *text = gold_text();
    cr_assert_not_null(text, "tests/data/use_lite_gold.json not found");
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert(cJSON_IsArray(root), "gold file is not a JSON array");
    int n = cJSON_GetArraySize(root);
    gold_row *rows = calloc((size_t)n, sizeof *rows);
    cr_assert_not_null(rows);
    for (int i = 0; i < n; i++) {
        const cJSON *r = cJSON_GetArrayItem(root, i);
        const char *hex = cJSON_GetObjectItem(r, "text_hex")->valuestring;
        size_t hl = strlen(hex);
        rows[i].len = hl / 2;
        rows[i].text = malloc(hl / 2 + 1);
        for (size_t k = 0; k < hl / 2; k++)
            rows[i].text[k] = (char)(hexval(hex[2 * k]) * 16 + hexval(hex[2 * k + 1]));
        rows[i].text[hl / 2] = '\0';
        const cJSON *ids = cJSON_GetObjectItem(r, "ids");
        rows[i].n_ids = cJSON_GetArraySize(ids);
        rows[i].ids = malloc(((size_t)rows[i].n_ids + 1) * sizeof(int32_t));
        for (int k = 0; k < rows[i].n_ids; k++)
            rows[i].ids[k] = (int32_t)cJSON_GetArrayItem(ids, k)->valuedouble;
        const cJSON *emb = cJSON_GetObjectItem(r, "emb");
        cr_assert_eq(cJSON_GetArraySize(emb), DIM);
        for (int k = 0; k < DIM; k++) rows[i].emb[k] = (float)cJSON_GetArrayItem(emb, k)->valuedouble;
    }
    cJSON_Delete(root);
    *n_rows = n;
    return rows;
}

static void free_gold(gold_row *rows, int n) {
    for (int i = 0; i < n; i++) {
        free(rows[i].text);
        free(rows[i].ids);
    }
    free(rows);
}

/* Tokenizes with truncation and embeds one text alone. */
static void embed_one(const silt_encoder *enc, const char *text, size_t len, float *out) {
    int32_t *ids = NULL;
    int n = 0;
    char *err = NULL;
    cr_assert_eq(enc->ops->tokenize(enc, text, len, 1, &ids, &n, &err), 0, "%s", err ? err : "");
    cr_assert_eq(enc->ops->embed_batch(enc, (const int32_t *const *)&ids, &n, 1, out, &err), 0,
                 "%s", err ? err : "");
    free(ids);
}

static double max_abs_diff(const float *a, const float *b, int n) {
    double m = 0;
    for (int i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static double cosine(const float *a, const float *b, int n) {
    double d = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) {
        d += (double)a[i] * b[i];
        aa += (double)a[i] * a[i];
        bb += (double)b[i] * b[i];
    }
    return d / sqrt(aa * bb);
}

Test(uselite, interface_fields) {
    REQUIRE_MODEL();
    silt_encoder *enc = load_model();
    cr_assert_str_eq(enc->arch, "use-lite");
    cr_assert_eq(enc->kind, SILT_KIND_DENSE);
    cr_assert_eq(enc->dim, 512);
    cr_assert_eq(enc->max_tokens, 128);
    enc->ops->destroy(enc);
}

Test(uselite, token_ids_match_reference) {
    REQUIRE_MODEL();
    int n = 0;
    gold_row *g = load_gold(&n);
    cr_assert_geq(n, 100);
    char path[4096];
    snprintf(path, sizeof path, "%s/vocab.json", model_dir());
    size_t vlen = 0;
    char *vt = read_all(path, &vlen);
    char *err = NULL;
    silt_unigram *u = silt_unigram_load(vt, vlen, &err);
    free(vt);
    cr_assert_not_null(u, "%s", err ? err : "");
    silt_encoder *enc = load_model();
    int matched = 0;
    for (int i = 0; i < n; i++) {
        /* The tokenizer alone: the whole list, before the cut. */
        int32_t *ids = NULL;
        int k = 0;
        cr_assert_eq(silt_unigram_encode(u, g[i].text, g[i].len, &ids, &k, &err), 0);
        cr_assert_eq(k, g[i].n_ids, "text %d: %d ids, reference %d", i, k, g[i].n_ids);
        for (int j = 0; j < k; j++)
            cr_assert_eq(ids[j], g[i].ids[j], "text %d id %d: %d, reference %d", i, j, ids[j],
                         g[i].ids[j]);
        free(ids);
        /* The encoder: the first 128 of them. */
        cr_assert_eq(enc->ops->tokenize(enc, g[i].text, g[i].len, 1, &ids, &k, &err), 0);
        cr_assert_eq(k, g[i].n_ids < 128 ? g[i].n_ids : 128);
        cr_assert(k == 0 || memcmp(ids, g[i].ids, (size_t)k * sizeof *ids) == 0, "text %d", i);
        free(ids);
        matched++;
    }
    cr_log_info("uselite: token ids matched %d/%d texts", matched, n);
    silt_unigram_free(u);
    enc->ops->destroy(enc);
    free_gold(g, n);
}

/* Every golden text embedded alone, then all of them in one batch (about 2,600 tokens, so
 * several forward chunks): both within 1e-5 of the reference, and batch == single. */
Test(uselite, embeddings_match_reference) {
    REQUIRE_MODEL();
    int n = 0;
    gold_row *g = load_gold(&n);
    silt_encoder *enc = load_model();
    double worst = 0, worst_cos = 1, worst_batch = 0;
    int worst_i = -1;
    float *single = malloc((size_t)n * DIM * sizeof(float));
    float *batch = malloc((size_t)n * DIM * sizeof(float));
    for (int i = 0; i < n; i++) {
        float *out = single + (size_t)i * DIM;
        embed_one(enc, g[i].text, g[i].len, out);
        const double d = max_abs_diff(out, g[i].emb, DIM), c = cosine(out, g[i].emb, DIM);
        cr_assert_leq(d, EMB_TOL, "text %d: max abs diff %g", i, d);
        cr_assert_geq(c, 0.9999, "text %d: cosine %g", i, c);
        if (d > worst) worst = d, worst_i = i;
        worst_cos = fmin(worst_cos, c);
    }
    int32_t **ids = calloc((size_t)n, sizeof *ids);
    int *n_ids = calloc((size_t)n, sizeof *n_ids);
    char *err = NULL;
    long long tokens = 0;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(enc->ops->tokenize(enc, g[i].text, g[i].len, 1, &ids[i], &n_ids[i], &err), 0);
        tokens += n_ids[i];
    }
    cr_assert_gt(tokens, 2048, "the batch should span more than two chunks of 1024 tokens");
    cr_assert_eq(enc->ops->embed_batch(enc, (const int32_t *const *)ids, n_ids, n, batch, &err),
                 0, "%s", err ? err : "");
    for (int i = 0; i < n; i++) {
        const double d = max_abs_diff(single + (size_t)i * DIM, batch + (size_t)i * DIM, DIM);
        cr_assert_leq(d, 1e-6, "text %d: batch vs single differ by %g", i, d);
        worst_batch = fmax(worst_batch, d);
    }
    cr_log_info("uselite: %d texts, max abs diff %.3g (text %d), min cosine %.9f; batch vs "
                "single max abs diff %.3g", n, worst, worst_i, worst_cos, worst_batch);
    for (int i = 0; i < n; i++) free(ids[i]);
    free(ids);
    free(n_ids);
    free(single);
    free(batch);
    enc->ops->destroy(enc);
    free_gold(g, n);
}

/* First components given in use-lite.md §8 (6 decimals). */
static void check_prefix(const float *v, const double *want, int n, double last) {
    for (int i = 0; i < n; i++)
        cr_assert(fabs(v[i] - want[i]) <= 1e-5, "component %d: %f, reference %f", i, v[i], want[i]);
    cr_assert(fabs(v[DIM - 1] - last) <= 1e-5, "last component: %f, reference %f", v[DIM - 1], last);
}

Test(uselite, reference_values_from_spec) {
    REQUIRE_MODEL();
    silt_encoder *enc = load_model();
    int32_t *ids = NULL;
    int n = 0;
    char *err = NULL;
    cr_assert_eq(enc->ops->tokenize(enc, "hello world", 11, 0, &ids, &n, &err), 0);
    cr_assert_eq(n, 3);
    cr_assert(ids[0] == 2002 && ids[1] == 102 && ids[2] == 311);
    free(ids);
    float v[DIM];
    embed_one(enc, "hello world", 11, v);
    check_prefix(v, (double[]){-0.051497, -0.054925, -0.007691, -0.049952, 0.048873, -0.054539}, 6, 0.056078);
    const char *fox = "The quick brown fox jumps over the lazy dog.";
    embed_one(enc, fox, strlen(fox), v);
    check_prefix(v, (double[]){-0.013534, -0.042564, 0.036843, -0.005918, -0.008158, 0.064800}, 6, 0.013775);
    /* The empty text: no tokens, normalize(tanh(bt)). */
    cr_assert_eq(enc->ops->tokenize(enc, "", 0, 0, &ids, &n, &err), 0);
    cr_assert_eq(n, 0);
    free(ids);
    embed_one(enc, "", 0, v);
    check_prefix(v, (double[]){0.002355, -0.034875, 0.013102, -0.021176, 0.022573, -0.012245}, 6, 0.033073);
    double norm = 0;
    for (int i = 0; i < DIM; i++) norm += (double)v[i] * v[i];
    cr_assert(fabs(norm - 1.0) < 1e-5);
    enc->ops->destroy(enc);
}

Test(uselite, empty_texts_inside_batch) {
    REQUIRE_MODEL();
    silt_encoder *enc = load_model();
    float empty[DIM], a[DIM], out[3 * DIM];
    embed_one(enc, "", 0, empty);
    embed_one(enc, "a", 1, a);
    int32_t id_a = 11;
    const int32_t *ids[3] = {NULL, &id_a, NULL};
    int n_ids[3] = {0, 1, 0};
    char *err = NULL;
    cr_assert_eq(enc->ops->embed_batch(enc, ids, n_ids, 3, out, &err), 0);
    /* One row per input, trailing empty text included (the reference drops it). */
    cr_assert_leq(max_abs_diff(out, empty, DIM), 1e-7);
    cr_assert_leq(max_abs_diff(out + DIM, a, DIM), 1e-6);
    cr_assert_leq(max_abs_diff(out + 2 * DIM, empty, DIM), 1e-7);
    enc->ops->destroy(enc);
}

Test(uselite, too_many_tokens_without_truncate_is_an_error) {
    REQUIRE_MODEL();
    silt_encoder *enc = load_model();
    char text[301];
    memset(text, 'x', 300);
    text[300] = '\0';
    int32_t *ids = NULL;
    int n = -1;
    char *err = NULL;
    cr_assert_eq(enc->ops->tokenize(enc, text, 300, 0, &ids, &n, &err), -1);
    cr_assert_not_null(err);
    cr_assert(strstr(err, "300") && strstr(err, "128"), "message: %s", err);
    cr_assert_null(ids);
    free(err);
    err = NULL;
    cr_assert_eq(enc->ops->tokenize(enc, text, 300, 1, &ids, &n, &err), 0);
    cr_assert_eq(n, 128);
    /* embed_batch given more than 128 ids reads the first 128, as the graph does. */
    int32_t long_ids[300];
    for (int i = 0; i < 300; i++) long_ids[i] = ids[i < 128 ? i : 127];
    long_ids[200] = 5; /* beyond the window: must not matter */
    const int32_t *lp = long_ids;
    int ln = 300;
    float a[DIM], b[DIM];
    cr_assert_eq(enc->ops->embed_batch(enc, &lp, &ln, 1, a, &err), 0);
    cr_assert_eq(enc->ops->embed_batch(enc, (const int32_t *const *)&ids, &n, 1, b, &err), 0);
    cr_assert_eq(memcmp(a, b, sizeof a), 0);
    free(ids);
    /* Exactly 128 tokens ("▁x" then 127 "x") is accepted without truncation. */
    cr_assert_eq(enc->ops->tokenize(enc, text, 128, 0, &ids, &n, &err), 0);
    cr_assert_eq(n, 128);
    free(ids);
    enc->ops->destroy(enc);
}

/* Ids of a text through the encoder (truncating). */
static int ids_of(const silt_encoder *enc, const char *t, size_t len, int32_t *out, int cap) {
    int32_t *ids = NULL;
    int n = 0;
    char *err = NULL;
    cr_assert_eq(enc->ops->tokenize(enc, t, len, 1, &ids, &n, &err), 0, "%s", err ? err : "");
    cr_assert_leq(n, cap);
    if (n) memcpy(out, ids, (size_t)n * sizeof *ids);
    free(ids);
    return n;
}

Test(uselite, invalid_utf8_reads_as_replacement_character) {
    REQUIRE_MODEL();
    silt_encoder *enc = load_model();
    int32_t want[64], got[64];
    const int nw = ids_of(enc, "caf\xEF\xBF\xBD ok", 9, want, 64);
    const char *bad[] = {
        "caf\xFF ok",                 /* invalid byte */
        "caf\xFF\xFE\xFD ok",         /* several: the unknown run collapses */
        "caf\xC3 ok",                 /* truncated 2-byte sequence */
        "caf\xE2\x96 ok",             /* truncated 3-byte sequence */
        "caf\xC0\xAF ok",             /* overlong '/' */
        "caf\xED\xA0\x80 ok",         /* UTF-16 surrogate */
        "caf\xF4\x90\x80\x80 ok",     /* above U+10FFFF */
        "caf\x80\x80 ok",             /* stray continuation bytes */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const int ng = ids_of(enc, bad[i], strlen(bad[i]), got, 64);
        cr_assert_eq(ng, nw, "case %zu", i);
        cr_assert_eq(memcmp(got, want, (size_t)nw * sizeof *got), 0, "case %zu", i);
    }
    /* A truncated sequence at the very end, and a text that is only garbage. */
    cr_assert_eq(ids_of(enc, "abc\xE2\x96", 5, got, 64), ids_of(enc, "abc\xEF\xBF\xBD", 6, want, 64));
    cr_assert_eq(memcmp(got, want, 2 * sizeof *got), 0);
    cr_assert_eq(ids_of(enc, "\xFF\xFF", 2, got, 64), 2);
    cr_assert(got[0] == 30 && got[1] == 0, "ids %d %d", got[0], got[1]);
    float v[DIM];
    embed_one(enc, "\xFF\xFE", 2, v);
    cr_assert(isfinite(v[0]));
    enc->ops->destroy(enc);
}

Test(uselite, tokenizer_examples_from_spec) {
    REQUIRE_MODEL();
    silt_encoder *enc = load_model();
    static const struct {
        const char *text;
        int n;
        int32_t ids[8];
    } cases[] = {
        {"Hello, world!", 5, {341, 4125, 8, 311, 78}},
        {"a", 1, {11}},
        {" ", 2, {30, 30}},
        {"x  y", 3, {649, 30, 1029}},
        {"tabs\tand\nnewlines", 8, {5520, 7, 0, 381, 0, 2664, 721, 7}},
        {"\xF0\x9F\x98\x80 \xE6\x9D\xB1\xE4\xBA\xAC", 4, {30, 0, 30, 0}},
        {"Caf\xC3\xA9", 3, {823, 209, 1133}},
        {"Cafe\xCC\x81", 3, {823, 209, 1133}},
        {"na\xC3\xAFve", 3, {1216, 0, 105}},
        {":", 2, {30, 57}},
        {":)", 3, {30, 57, 52}},
        {" :)", 2, {30, 658}},
        {"12:30", 2, {575, 4177}},
        {"10:00", 2, {320, 5920}},
        {"\xE2\x80\x9D" "5", 2, {30, 4464}},
    };
    int32_t got[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const int n = ids_of(enc, cases[i].text, strlen(cases[i].text), got, 64);
        cr_assert_eq(n, cases[i].n, "'%s': %d ids", cases[i].text, n);
        cr_assert_eq(memcmp(got, cases[i].ids, (size_t)n * sizeof *got), 0, "'%s'", cases[i].text);
    }
    enc->ops->destroy(enc);
}

Test(uselite, token_text_and_id) {
    REQUIRE_MODEL();
    silt_encoder *enc = load_model();
    cr_assert_str_eq(enc->ops->token_text(enc, 2002), "\xE2\x96\x81hell");
    cr_assert_str_eq(enc->ops->token_text(enc, 1), "<s>");
    cr_assert_null(enc->ops->token_text(enc, 8000));
    cr_assert_null(enc->ops->token_text(enc, -1));
    cr_assert_eq(enc->ops->token_id(enc, "\xE2\x96\x81hell", 7), 2002);
    cr_assert_eq(enc->ops->token_id(enc, "\xE2\x80\x9D" "5", 4), 4464); /* last duplicate wins */
    cr_assert_eq(enc->ops->token_id(enc, "<s>", 3), 1);
    cr_assert_eq(enc->ops->token_id(enc, "\xE2\x96\x81he", 5) >= 6, 1);
    cr_assert_eq(enc->ops->token_id(enc, "qqqzzzqqq", 9), -1);
    cr_assert_eq(enc->ops->token_id(enc, "", 0), -1);
    enc->ops->destroy(enc);
}

Test(uselite, bad_ids_are_rejected) {
    REQUIRE_MODEL();
    silt_encoder *enc = load_model();
    float out[DIM];
    char *err = NULL;
    int32_t bad[2] = {11, 8002};
    const int32_t *ids[1] = {bad};
    int n_ids[1] = {2};
    cr_assert_eq(enc->ops->embed_batch(enc, ids, n_ids, 1, out, &err), -1);
    cr_assert(err && strstr(err, "8002"), "%s", err ? err : "");
    free(err);
    err = NULL;
    bad[1] = -3;
    cr_assert_eq(enc->ops->embed_batch(enc, ids, n_ids, 1, out, &err), -1);
    free(err);
    err = NULL;
    n_ids[0] = -1;
    cr_assert_eq(enc->ops->embed_batch(enc, ids, n_ids, 1, out, &err), -1);
    free(err);
    err = NULL;
    cr_assert_eq(enc->ops->embed_batch(enc, ids, n_ids, 0, out, &err), 0);
    enc->ops->destroy(enc);
}

/* Many threads embedding at once get the single-thread results (the encoder is shared). */
typedef struct {
    const silt_encoder *enc;
    const gold_row *g;
    int n;
    double worst;
} conc_arg;

static void *conc_main(void *p) {
    conc_arg *a = p;
    float v[DIM];
    for (int i = 0; i < a->n; i++) {
        int32_t *ids = NULL;
        int k = 0;
        if (a->enc->ops->tokenize(a->enc, a->g[i].text, a->g[i].len, 1, &ids, &k, NULL) != 0 ||
            a->enc->ops->embed_batch(a->enc, (const int32_t *const *)&ids, &k, 1, v, NULL) != 0) {
            a->worst = 1e9;
            free(ids);
            return NULL;
        }
        free(ids);
        a->worst = fmax(a->worst, max_abs_diff(v, a->g[i].emb, DIM));
    }
    return NULL;
}

Test(uselite, concurrent_use_from_threads) {
    REQUIRE_MODEL();
    int n = 0;
    gold_row *g = load_gold(&n);
    silt_encoder *enc = load_model();
    pthread_t t[4];
    conc_arg a[4];
    for (int i = 0; i < 4; i++) {
        a[i] = (conc_arg){enc, g, n < 24 ? n : 24, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, conc_main, &a[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        cr_assert_leq(a[i].worst, EMB_TOL, "thread %d: %g", i, a[i].worst);
    }
    enc->ops->destroy(enc);
    free_gold(g, n);
}

/* ---- damaged model directories ------------------------------------------------------------ */

/* A temporary copy of the model directory made of symlinks; files a test damages are
 * replaced by real files. */
static char *link_copy(void) {
    char *dir = strdup("/tmp/silt_uselite_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    const char *files[] = {"model.json", "vocab.json", "group1-shard1of7", "group1-shard2of7",
                           "group1-shard3of7", "group1-shard4of7", "group1-shard5of7",
                           "group1-shard6of7", "group1-shard7of7"};
    char src[4096], dst[4096], abs_src[4096];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(src, sizeof src, "%s/%s", model_dir(), files[i]);
        cr_assert_not_null(realpath(src, abs_src), "%s", src);
        snprintf(dst, sizeof dst, "%s/%s", dir, files[i]);
        cr_assert_eq(symlink(abs_src, dst), 0);
    }
    return dir;
}

static void remove_copy(char *dir) {
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
    free(dir);
}

/* Replaces dir/name with a real file holding data[0..n). */
static void put_file(const char *dir, const char *name, const char *data, size_t n) {
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    unlink(p);
    FILE *f = fopen(p, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* Loading dir must fail with a message containing fragment. */
static void expect_load_error(const char *dir, const char *fragment) {
    char *err = NULL;
    silt_encoder *enc = silt_uselite_load(dir, &err);
    if (enc) enc->ops->destroy(enc);
    cr_assert_null(enc, "loading a damaged model succeeded (expected '%s')", fragment);
    cr_assert(err && strstr(err, fragment), "expected '%s' in: %s", fragment, err ? err : "(none)");
    free(err);
}

/* model.json of the real model with one substring replaced. */
static void put_edited_manifest(const char *dir, const char *from, const char *to) {
    char p[4096];
    snprintf(p, sizeof p, "%s/model.json", model_dir());
    size_t n = 0;
    char *s = read_all(p, &n);
    cr_assert_not_null(s);
    char *at = strstr(s, from);
    cr_assert_not_null(at, "'%s' not in model.json", from);
    size_t pre = (size_t)(at - s), fl = strlen(from), tl = strlen(to);
    char *o = malloc(n - fl + tl + 1);
    memcpy(o, s, pre);
    memcpy(o + pre, to, tl);
    memcpy(o + pre + tl, at + fl, n - pre - fl);
    put_file(dir, "model.json", o, n - fl + tl);
    free(o);
    free(s);
}

Test(uselite, truncated_shard_is_a_clean_error) {
    REQUIRE_MODEL();
    char *dir = link_copy();
    char p[4096];
    snprintf(p, sizeof p, "%s/group1-shard7of7", model_dir());
    size_t n = 0;
    char *s = read_all(p, &n);
    put_file(dir, "group1-shard7of7", s, n - 100);
    free(s);
    expect_load_error(dir, "truncated");
    remove_copy(dir);
}

Test(uselite, missing_shard_is_a_clean_error) {
    REQUIRE_MODEL();
    char *dir = link_copy();
    char p[4096];
    snprintf(p, sizeof p, "%s/group1-shard3of7", dir);
    unlink(p);
    expect_load_error(dir, "group1-shard3of7");
    remove_copy(dir);
}

Test(uselite, corrupt_model_json_is_a_clean_error) {
    REQUIRE_MODEL();
    char *dir = link_copy();
    put_file(dir, "model.json", "{\"modelTopology\": {\"node\": [", 28);
    expect_load_error(dir, "not valid JSON");
    put_file(dir, "model.json", "{\"modelTopology\": {}}", 21);
    expect_load_error(dir, "weightsManifest");
    put_file(dir, "model.json", "", 0);
    expect_load_error(dir, "not valid JSON");
    /* A dtype the reader does not support. */
    put_edited_manifest(dir, "\"dtype\": \"float32\"", "\"dtype\": \"float16\"");
    expect_load_error(dir, "float16");
    /* A shape that no longer matches the shards' size. */
    put_edited_manifest(dir, "\n            8002,", "\n            8003,");
    expect_load_error(dir, "bytes");
    /* A shard path escaping the directory. */
    put_edited_manifest(dir, "\"group1-shard1of7\"", "\"../group1-shard1of7\"");
    expect_load_error(dir, "relative file name");
    /* A weight renamed: the encoder looks weights up by full name. */
    put_edited_manifest(dir, "\"module/Embeddings_en\",\n          \"shape\"",
                        "\"module/Embeddings_xx\",\n          \"shape\"");
    expect_load_error(dir, "module/Embeddings_en");
    remove_copy(dir);
}

Test(uselite, vocab_problems_are_clean_errors) {
    REQUIRE_MODEL();
    char *dir = link_copy();
    char p[4096];
    snprintf(p, sizeof p, "%s/vocab.json", dir);
    unlink(p);
    expect_load_error(dir, "vocab.json");
    put_file(dir, "vocab.json", "[[\"a\", -1.0], [\"b\"", 18);
    expect_load_error(dir, "vocab");
    put_file(dir, "vocab.json", "{\"a\": 1}", 8);
    expect_load_error(dir, "vocab");
    remove_copy(dir);
}

Test(uselite, missing_directory_is_a_clean_error) {
    expect_load_error("/nonexistent/silt/use-lite", "model.json");
    expect_load_error("", "empty");
}

/* A piece made of stray UTF-8 continuation bytes: each byte is a prefix of its own, and the
 * vocabulary table must have room for all of them (it was sized by code points, so loading
 * such a vocabulary probed a full table forever; found by fuzz_unigram). */
Test(uselite, vocabulary_with_stray_continuation_bytes_loads) {
    char json[1024];
    int n = snprintf(json, sizeof json, "[[\"<pad>\", 0], [\"</s>\", 0], [\"<s>\", 0], [\"<unk>\", 0], [\"r1\", 0], [\"r2\", 0], "
                                        "[\"a\", -1.0], [\"");
    for (int i = 0; i < 200; i++) json[n++] = (char)0xa5;
    n += snprintf(json + n, sizeof json - (size_t)n, "\", -2.0]]");
    char *err = NULL;
    silt_unigram *u = silt_unigram_load(json, (size_t)n, &err);
    cr_assert_not_null(u, "%s", err ? err : "");
    int32_t *ids = NULL;
    int n_ids = 0;
    cr_assert_eq(silt_unigram_encode(u, "a a", 3, &ids, &n_ids, &err), 0, "%s", err ? err : "");
    cr_assert_gt(n_ids, 0);
    free(ids);
    silt_unigram_free(u);
}
