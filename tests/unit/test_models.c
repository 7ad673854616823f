/* test_models.c: the models surface (suite "models"): sha256, the sparse vector format,
 * chunking, the batching path of core/embed.c with a toy encoder, and the SQL functions
 * silt_model_register / silt_model_import / silt_embed / silt_embed_sparse / silt_tokenize /
 * silt_chunks / silt_models against both the toy encoder and the real default model. */
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/chunk.h"
#include "core/embed.h"
#include "core/encoder.h"
#include "core/err.h"
#include "core/sha256.h"
#include "core/sparse_vec.h"
#include "sqlext/models.h"
#include "testutil.h"

/* ---- a toy encoder --------------------------------------------------------------------
 * Words are split on spaces; a word of more than 5 bytes is several tokens (one per 5-byte
 * piece, as WordPiece splits long words). Token id of a piece: 3 + hash % 100; [CLS] = 1 and
 * [SEP] = 2 surround every text; the window is TOY_WINDOW tokens. The dense form writes
 * (n_ids, sum of ids, first word id, 1) and records how it was batched; the sparse form
 * writes a count per id over a 103-term vocabulary. */
#define TOY_WINDOW 12
#define TOY_VOCAB 103

typedef struct {
    silt_encoder base;
    pthread_mutex_t mu;
    int n_batches, max_batch;
    long long max_padded;
    int unsorted; /* a batch whose lengths were not non-increasing */
} toy_encoder;

static int32_t piece_id(const char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
    return 3 + (int32_t)(h % 100);
}

static int toy_tokenize(const silt_encoder *enc, const char *text, size_t len, int truncate,
                        int32_t **ids, int *n_ids, char **err) {
    int32_t *v = malloc((len + 2) * sizeof *v);
    if (!v) return silt_err(err, "oom");
    int n = 0;
    v[n++] = 1;
    for (size_t i = 0; i < len;) {
        while (i < len && text[i] == ' ') i++;
        size_t s = i;
        while (i < len && text[i] != ' ') i++;
        for (size_t p = s; p < i; p += 5) v[n++] = piece_id(text + p, i - p < 5 ? i - p : 5);
    }
    v[n++] = 2;
    if (n > enc->max_tokens) {
        if (!truncate) {
            int total = n;
            free(v);
            return silt_err(err, "text is %d tokens, more than %d", total, enc->max_tokens);
        }
        n = enc->max_tokens;
        v[n - 1] = 2;
    }
    *ids = v;
    *n_ids = n;
    return 0;
}

static int toy_embed(const silt_encoder *enc, const int32_t *const *ids, const int *n_ids, int n,
                     float *out, char **err) {
    (void)err;
    toy_encoder *t = (toy_encoder *)enc;
    int longest = 0;
    pthread_mutex_lock(&t->mu);
    t->n_batches++;
    if (n > t->max_batch) t->max_batch = n;
    for (int i = 0; i < n; i++) {
        if (n_ids[i] > longest) longest = n_ids[i];
        if (i && n_ids[i] > n_ids[i - 1]) t->unsorted = 1;
    }
    if ((long long)longest * n > t->max_padded) t->max_padded = (long long)longest * n;
    pthread_mutex_unlock(&t->mu);
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * enc->dim;
        if (enc->kind == SILT_KIND_SPARSE) {
            memset(o, 0, (size_t)enc->dim * sizeof *o);
            for (int k = 0; k < n_ids[i]; k++) o[ids[i][k]] += 1;
            continue;
        }
        float sum = 0;
        for (int k = 0; k < n_ids[i]; k++) sum += (float)ids[i][k];
        o[0] = (float)n_ids[i];
        o[1] = sum;
        o[2] = n_ids[i] > 2 ? (float)ids[i][1] : 0;
        o[3] = 1;
    }
    return 0;
}

/* Names "t0".."t102" for toy_token_text, built once. */
static char toy_names[TOY_VOCAB][16];
static void init_names(void) {
    for (int i = 0; i < TOY_VOCAB; i++) snprintf(toy_names[i], sizeof toy_names[i], "t%d", i);
}

static const char *toy_token_text(const silt_encoder *enc, int32_t id) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    (void)enc;
    pthread_once(&once, init_names);
    return id >= 0 && id < TOY_VOCAB ? toy_names[id] : NULL;
}

static int32_t toy_token_id(const silt_encoder *enc, const char *tok, size_t len) {
    (void)enc;
    if (len < 2 || tok[0] != 't') return -1;
    int id = 0;
    for (size_t i = 1; i < len; i++) {
        if (tok[i] < '0' || tok[i] > '9') return -1;
        id = id * 10 + (tok[i] - '0');
        if (id >= TOY_VOCAB) return -1;
    }
    return id;
}

static void toy_destroy(silt_encoder *enc) { free(enc); }

static const struct silt_encoder_ops toy_ops = {toy_tokenize, toy_embed, toy_token_text,
                                                toy_token_id, toy_destroy};

static toy_encoder *toy_new(silt_kind kind) {
    toy_encoder *t = calloc(1, sizeof *t);
    cr_assert(t);
    t->base.ops = &toy_ops;
    snprintf(t->base.arch, sizeof t->base.arch, "toy");
    t->base.kind = kind;
    t->base.dim = kind == SILT_KIND_SPARSE ? TOY_VOCAB : 4;
    t->base.max_tokens = TOY_WINDOW;
    pthread_mutex_init(&t->mu, NULL);
    return t;
}

/* ---- helpers ------------------------------------------------------------------------ */

static int have_default_model(void) {
    char dir[PATH_MAX + 256];
    return silt_model_default_dir(dir, sizeof dir) == 0;
}

#define REQUIRE_DEFAULT_MODEL()                                                                \
    do {                                                                                       \
        if (!have_default_model()) {                                                           \
            cr_skip_test("default model absent at %s: run make setup", SILT_DEFAULT_MODEL_DIR); \
            return;                                                                            \
        }                                                                                      \
    } while (0)

/* A fresh temporary directory (malloc'd path); removed by rm_rf. */
static char *temp_dir(void) {
    char *d = strdup("/tmp/silt-test-models-XXXXXX");
    cr_assert(d && mkdtemp(d), "mkdtemp");
    return d;
}

static void run(const char *fmt, const char *a, const char *b) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, fmt, a, b);
    cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void write_file(const char *path, const char *content) {
    FILE *f = fopen(path, "wb");
    cr_assert(f, "%s", path);
    fputs(content, f);
    fclose(f);
}

/* Runs sql (which must succeed). */
static void exec_ok(sqlite3 *db, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, err ? err : "");
}

/* The float32 BLOB of a one-value query, copied into out (dim floats); returns dim. */
static int query_vec(sqlite3 *db, const char *sql, float *out, int max_dim) {
    sqlite3_stmt *st = NULL;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
                 sqlite3_errmsg(db));
    cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
    int n = sqlite3_column_bytes(st, 0) / 4;
    cr_assert(n <= max_dim);
    memcpy(out, sqlite3_column_blob(st, 0), (size_t)n * 4);
    sqlite3_finalize(st);
    return n;
}

/* ---- sha256 ------------------------------------------------------------------------- */

static void sha_hex(const void *data, size_t n, char hex[65]) {
    silt_sha256 h;
    silt_sha256_init(&h);
    silt_sha256_update(&h, data, n);
    silt_sha256_hex(&h, hex);
}

Test(models, sha256_matches_fips_vectors) {
    char hex[65];
    sha_hex("", 0, hex);
    cr_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    sha_hex("abc", 3, hex);
    cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    sha_hex(two, strlen(two), hex);
    cr_assert_str_eq(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    /* One million 'a' fed in uneven pieces exercises the partial-block path. */
    char buf[1000];
    memset(buf, 'a', sizeof buf);
    silt_sha256 h;
    silt_sha256_init(&h);
    size_t fed = 0;
    for (size_t step = 1; fed < 1000000; step = step % 997 + 1) {
        size_t n = step < 1000000 - fed ? step : 1000000 - fed;
        silt_sha256_update(&h, buf, n);
        fed += n;
    }
    silt_sha256_hex(&h, hex);
    cr_assert_str_eq(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

/* ---- sparse vectors ------------------------------------------------------------------ */

Test(models, sparse_blob_layout_is_count_ids_weights) {
    uint32_t ids[] = {3, 7, 1000};
    float w[] = {0.5f, -1.0f, 2.0f};
    silt_sparse_vec v = {3, ids, w};
    void *blob;
    size_t n;
    char *err = NULL;
    cr_assert_eq(silt_sparse_encode(&v, &blob, &n, &err), 0);
    cr_assert_eq(n, 4 + 8 * 3);
    const unsigned char expect[] = {3, 0, 0, 0, 3, 0, 0, 0, 7, 0, 0, 0, 0xe8, 3, 0, 0,
                                    0, 0, 0, 0x3f, 0, 0, 0x80, 0xbf, 0, 0, 0, 0x40};
    cr_assert_arr_eq(blob, expect, sizeof expect);
    silt_sparse_vec back;
    cr_assert_eq(silt_sparse_decode(blob, n, &back, &err), 0);
    cr_assert_eq(back.n, 3);
    for (int i = 0; i < 3; i++) cr_assert(back.ids[i] == ids[i] && back.weights[i] == w[i]);
    silt_sparse_vec_free(&back);
    free(blob);
}

Test(models, sparse_blob_rejects_bad_layouts) {
    char *err = NULL;
    uint32_t n;
    cr_assert_eq(silt_sparse_check("\0\0\0", 3, &n, &err), -1);
    cr_assert(strstr(err, "4 + 8n"), "%s", err);
    const unsigned char count_mismatch[] = {2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x80, 0x3f};
    cr_assert_eq(silt_sparse_check(count_mismatch, sizeof count_mismatch, &n, &err), -1);
    cr_assert(strstr(err, "says 2 terms"), "%s", err);
    const unsigned char unsorted[] = {2, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0,
                                      0, 0, 0x80, 0x3f, 0, 0, 0x80, 0x3f};
    cr_assert_eq(silt_sparse_check(unsorted, sizeof unsorted, &n, &err), -1);
    cr_assert(strstr(err, "strictly increasing"), "%s", err);
    const unsigned char nan_w[] = {1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0xc0, 0x7f};
    cr_assert_eq(silt_sparse_check(nan_w, sizeof nan_w, &n, &err), -1);
    cr_assert(strstr(err, "finite non-zero"), "%s", err);
    cr_assert_eq(silt_sparse_check("\0\0\0\0", 4, &n, &err), 0);
    cr_assert_eq(n, 0);
    free(err);
}

Test(models, sparse_json_reads_ids_and_tokens_and_prints_back) {
    toy_encoder *t = toy_new(SILT_KIND_SPARSE);
    silt_sparse_term_id_fn tid = (silt_sparse_term_id_fn)(void *)t->base.ops->token_id;
    silt_sparse_term_text_fn ttext = (silt_sparse_term_text_fn)(void *)t->base.ops->token_text;
    silt_sparse_vec v;
    char *err = NULL;
    const char *j = "{\"12\": 0.5, \"t7\": 1.25, \"5\": 0, \"3\": -2}";
    cr_assert_eq(silt_sparse_from_json(j, strlen(j), tid, t, &v, &err), 0, "%s", err);
    cr_assert_eq(v.n, 3); /* the zero weight is dropped */
    cr_assert(v.ids[0] == 3 && v.ids[1] == 7 && v.ids[2] == 12);
    char *s = silt_sparse_to_json(&v, NULL, NULL, NULL);
    cr_assert_str_eq(s, "{\"3\":-2,\"7\":1.25,\"12\":0.5}");
    free(s);
    s = silt_sparse_to_json(&v, ttext, tid, t);
    cr_assert_str_eq(s, "{\"t3\":-2,\"t7\":1.25,\"t12\":0.5}");
    free(s);
    silt_sparse_vec_free(&v);

    const char *dup = "{\"t7\": 1, \"7\": 2}";
    cr_assert_eq(silt_sparse_from_json(dup, strlen(dup), tid, t, &v, &err), -1);
    cr_assert(strstr(err, "given twice"), "%s", err);
    const char *tok = "{\"apple\": 1}";
    cr_assert_eq(silt_sparse_from_json(tok, strlen(tok), NULL, NULL, &v, &err), -1);
    cr_assert(strstr(err, "give a model"), "%s", err);
    cr_assert_eq(silt_sparse_from_json(tok, strlen(tok), tid, t, &v, &err), -1);
    cr_assert(strstr(err, "not in the model's vocabulary"), "%s", err);
    const char *trailing = "{\"1\": 1} x";
    cr_assert_eq(silt_sparse_from_json(trailing, strlen(trailing), NULL, NULL, &v, &err), -1);
    const char *big = "{\"4294967296\": 1}";
    cr_assert_eq(silt_sparse_from_json(big, strlen(big), NULL, NULL, &v, &err), -1);
    cr_assert(strstr(err, "out of range"), "%s", err);
    const char *inf = "{\"1\": 1e39}";
    cr_assert_eq(silt_sparse_from_json(inf, strlen(inf), NULL, NULL, &v, &err), -1);
    cr_assert(strstr(err, "finite float32"), "%s", err);
    free(err);
    free(t);
}

/* ---- chunking ----------------------------------------------------------------------- */

Test(models, chunk_words_with_overlap_and_offsets) {
    const char *text = "  one two\tthree\nfour five six  ";
    silt_chunk_span *c;
    int n;
    char *err = NULL;
    cr_assert_eq(silt_chunk_words(text, strlen(text), 3, 1, &c, &n, &err), 0);
    cr_assert_eq(n, 3);
    const char *expect[] = {"one two\tthree", "three\nfour five", "five six"};
    for (int i = 0; i < n; i++) {
        cr_assert_eq(c[i].end - c[i].start, strlen(expect[i]));
        cr_assert(memcmp(text + c[i].start, expect[i], strlen(expect[i])) == 0, "chunk %d", i);
    }
    free(c);
    cr_assert_eq(silt_chunk_words("   ", 3, 3, 0, &c, &n, &err), 0);
    cr_assert_eq(n, 0);
    cr_assert_eq(silt_chunk_words("a", 1, 3, 3, &c, &n, &err), -1);
    cr_assert(strstr(err, "overlap"), "%s", err);
    cr_assert_eq(silt_chunk_words("a", 1, 0, 0, &c, &n, &err), -1);
    cr_assert(strstr(err, "positive"), "%s", err);
    free(err);
}

/* Counts tokens as the toy tokenizer does, minus [CLS] and [SEP]. */
static int toy_count(void *ctx, const char *text, size_t len) {
    const silt_encoder *enc = ctx;
    int32_t *ids;
    int n;
    char *err = NULL;
    if (enc->ops->tokenize(enc, text, len, 0, &ids, &n, &err)) {
        free(err);
        return INT_MAX;
    }
    free(ids);
    return n - 2;
}

Test(models, chunk_tokens_fill_up_to_max_and_share_overlap) {
    toy_encoder *t = toy_new(SILT_KIND_DENSE);
    t->base.max_tokens = 1000;
    /* Words of 1, 2 and 3 tokens (5-byte pieces). */
    const char *text = "aa bbbbbbb c dddddddddddd e ff ggggggg h iiii jjjjjjjjjjj k";
    silt_chunk_span *c;
    int n;
    char *err = NULL;
    cr_assert_eq(silt_chunk_tokens(text, strlen(text), 4, 1, toy_count, t, &c, &n, &err), 0,
                 "%s", err);
    cr_assert(n >= 4);
    for (int i = 0; i < n; i++) {
        int k = toy_count(t, text + c[i].start, c[i].end - c[i].start);
        cr_assert(k <= 4, "chunk %d has %d tokens", i, k);
        cr_assert(c[i].start == 0 || text[c[i].start - 1] == ' ', "chunk %d starts mid-word", i);
        cr_assert(c[i].end == strlen(text) || text[c[i].end] == ' ', "chunk %d ends mid-word", i);
        if (i) {
            cr_assert(c[i].start > c[i - 1].start, "chunks advance");
            /* The shared part is at most `overlap` tokens. */
            if (c[i].start < c[i - 1].end) {
                int shared = toy_count(t, text + c[i].start, c[i - 1].end - c[i].start);
                cr_assert(shared <= 1, "chunk %d shares %d tokens", i, shared);
            }
        }
        /* Maximal: one more word would not fit (unless the text ends). */
        if (c[i].end < strlen(text)) {
            const char *next_end = strchr(text + c[i].end + 1, ' ');
            size_t e = next_end ? (size_t)(next_end - text) : strlen(text);
            cr_assert(toy_count(t, text + c[i].start, e - c[i].start) > 4, "chunk %d not full", i);
        }
    }
    cr_assert_eq(c[n - 1].end, strlen(text));
    free(c);
    free(t);
}

Test(models, chunk_tokens_cut_long_word_on_character_boundaries) {
    toy_encoder *t = toy_new(SILT_KIND_DENSE);
    t->base.max_tokens = 1000;
    /* 40 bytes of 2-byte characters with no space: 8 toy tokens. */
    char text[64] = "";
    for (int i = 0; i < 20; i++) strcat(text, "\xc3\xa9"); /* é */
    silt_chunk_span *c;
    int n;
    char *err = NULL;
    cr_assert_eq(silt_chunk_tokens(text, strlen(text), 3, 0, toy_count, t, &c, &n, &err), 0,
                 "%s", err);
    cr_assert(n >= 3);
    size_t covered = 0;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(c[i].start, covered, "no gap or overlap without overlap");
        cr_assert(((unsigned char)text[c[i].start] & 0xC0) != 0x80, "chunk %d starts mid-char", i);
        cr_assert(toy_count(t, text + c[i].start, c[i].end - c[i].start) <= 3);
        covered = c[i].end;
    }
    cr_assert_eq(covered, strlen(text));
    free(c);
    free(t);
}

/* ---- the batching path ----------------------------------------------------------------- */

Test(models, embed_texts_batches_sorted_and_keeps_input_order) {
    toy_encoder *t = toy_new(SILT_KIND_DENSE);
    t->base.max_tokens = 400;
    enum { N = 300 };
    char *texts[N];
    size_t lens[N];
    for (int i = 0; i < N; i++) {
        int words = 1 + (i * 37) % 90;
        texts[i] = malloc((size_t)words * 8 + 1);
        texts[i][0] = 0;
        for (int w = 0; w < words; w++) {
            char word[16];
            snprintf(word, sizeof word, "w%d ", (i + w) % 50);
            strcat(texts[i], word);
        }
        lens[i] = strlen(texts[i]);
    }
    float *out = malloc(sizeof(float) * 4 * N);
    char *err = NULL;
    cr_assert_eq(silt_embed_texts(&t->base, (const char *const *)texts, lens, N, 1, out, &err),
                 0, "%s", err);
    cr_assert(t->n_batches > 1);
    cr_assert(t->max_batch <= SILT_EMBED_BATCH_TEXTS);
    cr_assert(t->max_padded <= SILT_EMBED_BATCH_TOKENS);
    cr_assert(!t->unsorted, "each batch is sorted longest first");
    for (int i = 0; i < N; i++) {
        float one[4];
        cr_assert_eq(silt_embed_texts(&t->base, (const char *const *)&texts[i], NULL, 1, 1, one,
                                      &err), 0);
        cr_assert_arr_eq(out + 4 * i, one, sizeof one, "text %d out of place", i);
        free(texts[i]);
    }
    free(out);
    free(t);
}

Test(models, embed_texts_names_the_text_that_fails) {
    toy_encoder *t = toy_new(SILT_KIND_DENSE);
    const char *texts[12];
    for (int i = 0; i < 12; i++) texts[i] = "short text";
    texts[9] = "one two three four five six seven eight nine ten eleven twelve";
    float out[12 * 4];
    char *err = NULL;
    cr_assert_eq(silt_embed_texts(&t->base, texts, NULL, 12, 0, out, &err), -1);
    cr_assert(strstr(err, "text 9:") && strstr(err, "more than 12"), "%s", err);
    free(err);
    err = NULL;
    cr_assert_eq(silt_embed_texts(&t->base, texts, NULL, 12, 1, out, &err), 0);
    cr_assert_eq(out[9 * 4], TOY_WINDOW, "truncated to the window");
    free(t);
}

/* ---- the SQL surface with toy models ------------------------------------------------------ */

Test(models, provided_dense_model_embeds_tokenizes_and_refuses_sparse) {
    char *err = NULL;
    cr_assert_eq(silt_model_provide("toy", &toy_new(SILT_KIND_DENSE)->base, &err), SQLITE_OK);
    sqlite3 *db = test_open(NULL);
    float v[8];
    cr_assert_eq(query_vec(db, "SELECT silt_embed('toy', 'hello world')", v, 8), 4);
    cr_assert_eq(v[0], 4); /* [CLS] hello world [SEP] */
    char expect[64];
    snprintf(expect, sizeof expect, "[1,%d,2]", piece_id("hello", 5));
    assert_query(db, "SELECT silt_tokenize('toy', 'hello')", expect);
    assert_query(db, "SELECT json_array_length(silt_tokenize('toy', 'a b c d e f g h i j k l m'))",
                 "12");
    assert_error(db,
                 "SELECT silt_tokenize('toy', 'a b c d e f g h i j k l m', '{\"truncate\":false}')",
                 "more than 12");
    assert_error(db, "SELECT silt_embed_sparse('toy', 'x')",
                 "model 'toy' is dense; silt_embed_sparse needs a sparse model");
    assert_query(db, "SELECT silt_embed('toy', NULL) IS NULL", "1");
    sqlite3_close(db);
}

Test(models, provided_sparse_model_gives_sparse_blob_and_json) {
    char *err = NULL;
    cr_assert_eq(silt_model_provide("sp", &toy_new(SILT_KIND_SPARSE)->base, &err), SQLITE_OK);
    sqlite3 *db = test_open(NULL);
    /* 'aa aa' = [CLS] t? t? [SEP]: ids 1 and 2 once, the word's id twice. */
    int32_t w = piece_id("aa", 2);
    char expect[128];
    snprintf(expect, sizeof expect, "{\"1\":1,\"2\":1,\"%d\":2}", w);
    assert_query(db, "SELECT silt_sparse_json(silt_embed_sparse('sp', 'aa aa'))", expect);
    snprintf(expect, sizeof expect, "{\"t1\":1,\"t2\":1,\"t%d\":2}", w);
    assert_query(db, "SELECT silt_sparse_json(silt_embed_sparse('sp', 'aa aa'), 'sp')", expect);
    assert_query(db, "SELECT length(silt_embed_sparse('sp', 'aa aa'))", "28");
    assert_error(db, "SELECT silt_embed('sp', 'x')", "model 'sp' is sparse; use silt_embed_sparse");
    assert_query(db, "SELECT silt_sparse_json('{\"t5\": 1, \"4\": 2}', 'sp')",
                 "{\"t4\":2,\"t5\":1}");
    sqlite3_close(db);
}

Test(models, chunks_with_a_model_count_model_tokens) {
    char *err = NULL;
    cr_assert_eq(silt_model_provide("toy", &toy_new(SILT_KIND_DENSE)->base, &err), SQLITE_OK);
    sqlite3 *db = test_open(NULL);
    /* Every word one token; window 12 - 2 special tokens = 10 by default. */
    assert_query(db, "SELECT group_concat(text, '|') FROM silt_chunks("
                     "'a b c d e f g h i j k l m n', 'toy')", "a b c d e f g h i j|k l m n");
    assert_query(db, "SELECT group_concat(text, '|') FROM silt_chunks("
                     "'a b c d e f g h i j k l m n', 'toy', 4, 2)",
                 "a b c d|c d e f|e f g h|g h i j|i j k l|k l m n");
    assert_error(db, "SELECT * FROM silt_chunks('a', 'toy', 11)",
                 "max_tokens 11 exceeds the window of model 'toy' (10 tokens besides special");
    assert_error(db, "SELECT * FROM silt_chunks('a', 'toy', 4, 4)", "overlap");
    assert_error(db, "SELECT * FROM silt_chunks('a', 'toy', 4, -1)", "overlap");
    assert_error(db, "SELECT * FROM silt_chunks('a', 'toy', 'x')", "max_tokens must be an integer");
    sqlite3_close(db);
}

/* ---- the default model and the registry --------------------------------------------- */

Test(models, default_model_is_loaded_once_and_shared_by_connections) {
    REQUIRE_DEFAULT_MODEL();
    sqlite3 *a = test_open(NULL), *b = test_open(NULL);
    silt_encoder *ea, *eb;
    char *err = NULL;
    cr_assert_eq(silt_model_acquire(a, "default", &ea, &err), SQLITE_OK, "%s", err);
    long long loads = silt_model_cache_loads();
    cr_assert_eq(silt_model_acquire(b, NULL, &eb, &err), SQLITE_OK);
    cr_assert_eq(ea, eb, "both connections share one encoder");
    cr_assert_eq(silt_model_cache_loads(), loads);
    cr_assert_str_eq(ea->arch, "use-lite");
    cr_assert_eq(ea->dim, 512);
    silt_model_release(ea);
    silt_model_release(eb);
    float v[512];
    cr_assert_eq(query_vec(b, "SELECT silt_embed('hello world')", v, 512), 512);
    cr_assert(fabsf(v[0] - -0.051497f) < 1e-5f && fabsf(v[1] - -0.054925f) < 1e-5f);
    cr_assert_eq(silt_model_cache_loads(), loads, "SQL calls reuse the cached encoder");
    assert_query(a, "SELECT silt_tokenize('default', 'hello world')", "[2002,102,311]");
    assert_query(a, "SELECT name || ' ' || arch || ' ' || kind || ' ' || dim || ' ' || max_tokens "
                    "FROM silt_models", "default use-lite dense 512 128");
    sqlite3_close(a);
    sqlite3_close(b);
}

Test(models, missing_default_model_is_a_clear_error) {
    setenv("SILT_DEFAULT_MODEL", "/nonexistent/use-lite", 1);
    sqlite3 *db = test_open(NULL);
    assert_error(db, "SELECT silt_embed('x')",
                 "default model not found at /nonexistent/use-lite (from $SILT_DEFAULT_MODEL");
    assert_query(db, "SELECT count(*) || ' ' || quote(arch) FROM silt_models", "1 NULL");
    sqlite3_close(db);
}

Test(models, register_rejects_bad_input_and_leaves_db_unchanged) {
    char *dir = temp_dir();
    char p[4096], sql[8192];
    sqlite3 *db = test_open(NULL);
    assert_error(db, "SELECT silt_model_register('m', '/nonexistent/model')",
                 "model path '/nonexistent/model' not found");
    assert_error(db, "SELECT silt_model_register('default', '/tmp')", "'default' is reserved");
    assert_error(db, "SELECT silt_model_register('DEFAULT', '/tmp')", "'DEFAULT' is reserved");
    assert_error(db, "SELECT silt_model_register('a b', '/tmp')", "model name 'a b' is not valid");
    assert_error(db, "SELECT silt_model_register(NULL, '/tmp')", "model name must be text");
    assert_error(db, "SELECT silt_model_register('m', 42)", "model path must be text");
    assert_error(db, "SELECT silt_model_register('m', '/tmp', '[1]')",
                 "options must be a JSON object");
    assert_error(db, "SELECT silt_model_register('m', '/tmp', '{\"replace\":1}')",
                 "\"replace\" must be true or false");
    assert_error(db, "SELECT silt_model_register('m', '/tmp', '{\"kind\":\"fuzzy\"}')",
                 "\"kind\" must be \"dense\" or \"sparse\"");
    /* A directory that is no model, a file that is no GGUF, a corrupt USE-Lite directory. */
    snprintf(p, sizeof p, "%s/empty", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/empty/readme.txt", dir);
    write_file(p, "hi");
    snprintf(sql, sizeof sql, "SELECT silt_model_register('m', '%s/empty')", dir);
    assert_error(db, sql, "is not a model: expected config.json");
    snprintf(p, sizeof p, "%s/x.gguf", dir);
    write_file(p, "NOPE not a gguf");
    snprintf(sql, sizeof sql, "SELECT silt_model_register('m', '%s')", p);
    assert_error(db, sql, "is not a GGUF file");
    snprintf(p, sizeof p, "%s/bad", dir);
    mkdir(p, 0700);
    snprintf(p, sizeof p, "%s/bad/model.json", dir);
    write_file(p, "{\"modelTopology\": {}, \"weightsManifest\": []}");
    snprintf(p, sizeof p, "%s/bad/vocab.json", dir);
    write_file(p, "[]");
    snprintf(sql, sizeof sql, "SELECT silt_model_register('m', '%s/bad')", dir);
    char *got = test_query1(db, sql);
    cr_assert(got && strncmp(got, "ERROR: silt_model_register: ", 28) == 0, "%s", got);
    free(got);
    /* Nothing was written: the registry table does not even exist. */
    assert_query(db, "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'silt_model%'", "0");
    assert_error(db, "SELECT silt_embed('m', 'x')", "no such model 'm'");
    sqlite3_close(db);
    run("rm -rf %s%s", dir, "");
    free(dir);
}

Test(models, register_duplicate_replace_and_unregister) {
    REQUIRE_DEFAULT_MODEL();
    char sql[8192];
    sqlite3 *db = test_open(NULL);
    snprintf(sql, sizeof sql, "SELECT silt_model_register('m', '%s')", SILT_DEFAULT_MODEL_DIR);
    assert_query(db, sql, "m");
    assert_query(db, "SELECT length(silt_embed('x'))", "2048");
    long long loads = silt_model_cache_loads();
    assert_error(db, sql, "model 'm' is already registered");
    assert_error(db, sql, "'{\"replace\":true}'");
    snprintf(sql, sizeof sql, "SELECT silt_model_register('m', '%s', '{\"replace\":true}')",
             SILT_DEFAULT_MODEL_DIR);
    assert_query(db, sql, "m");
    assert_query(db, "SELECT group_concat(name || ':' || arch || ':' || kind || ':' || dim || "
                     "':' || max_tokens || ':' || imported, ' ') FROM silt_models",
                 "default:use-lite:dense:512:128:0 m:use-lite:dense:512:128:0");
    assert_query(db, "SELECT (SELECT sha256 FROM silt_models WHERE name = 'm') = "
                     "(SELECT sha256 FROM silt_models WHERE name = 'default')", "1");
    assert_query(db, "SELECT silt_embed('m', 'hello') = silt_embed('hello')", "1");
    cr_assert_eq(silt_model_cache_loads(), loads, "registration already loaded 'm'");
    assert_query(db, "SELECT silt_model_unregister('m')", "1");
    assert_error(db, "SELECT silt_model_unregister('m')", "no such model 'm'");
    assert_error(db, "SELECT silt_embed('m', 'x')", "no such model 'm'");
    sqlite3_close(db);
}

Test(models, imported_model_works_after_the_original_is_deleted) {
    REQUIRE_DEFAULT_MODEL();
    char *dir = temp_dir(), sql[8192], db_path[4200], tmpdir[4200];
    run("cp -r %s %s/m1", SILT_DEFAULT_MODEL_DIR, dir);
    snprintf(db_path, sizeof db_path, "%s/lake.db", dir);
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", dir);
    mkdir(tmpdir, 0700);
    setenv("TMPDIR", tmpdir, 1); /* materialise into this test's own directory */
    sqlite3 *db = test_open(db_path);
    snprintf(sql, sizeof sql, "SELECT silt_model_register('m', '%s/m1')", dir);
    assert_query(db, sql, "m");
    assert_error(db, "SELECT silt_model_import('nope')", "no such model 'nope'");
    assert_query(db, "SELECT silt_model_import('m') > 27000000", "1");
    assert_query(db, "SELECT imported FROM silt_models WHERE name = 'm'", "1");
    assert_query(db, "SELECT max(length(data)) <= 1048576 FROM silt_model_files", "1");
    sqlite3_close(db);
    run("rm -rf %s/m1%s", dir, "");
    silt_model_cache_trim(0); /* forget the weights loaded from the original files */
    long long loads = silt_model_cache_loads();
    db = test_open(db_path);
    assert_query(db, "SELECT silt_embed('m', 'hello world') = silt_embed('hello world')", "1");
    cr_assert_eq(silt_model_cache_loads(), loads + 2, "'m' was loaded from its imported copy");
    struct stat st;
    char mark[8192];
    snprintf(mark, sizeof mark, "%s/silt-%lu", tmpdir, (unsigned long)geteuid());
    cr_assert_eq(stat(mark, &st), 0);
    cr_assert_eq(st.st_mode & 077, 0, "private directory");
    /* A damaged copy in the database is detected when it is written out. */
    exec_ok(db, "UPDATE silt_model_files SET data = zeroblob(length(data)) WHERE chunk_no = 3");
    sqlite3_close(db);
    silt_model_cache_trim(0);
    run("rm -rf %s/silt-*%s", tmpdir, "");
    db = test_open(db_path);
    assert_error(db, "SELECT silt_embed('m', 'x')", "imported copy of model 'm' is damaged");
    sqlite3_close(db);
    run("rm -rf %s%s", dir, "");
    free(dir);
}

Test(models, import_refuses_files_changed_since_registration) {
    const char *hf = "tests/data/tiny-bert";
    struct stat st;
    if (stat(hf, &st) != 0) {
        cr_skip_test("%s absent", hf);
        return;
    }
    char *dir = temp_dir(), sql[8192], p[4200], tmpdir[4200];
    run("cp -r %s %s/b", hf, dir);
    run("cp -r %s %s/c", hf, dir);
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", dir);
    mkdir(tmpdir, 0700);
    setenv("TMPDIR", tmpdir, 1);
    sqlite3 *db = test_open(NULL);
    /* A Hugging Face directory with a subdirectory (1_Pooling/) round-trips through import. */
    snprintf(sql, sizeof sql, "SELECT silt_model_register('b', '%s/b')", dir);
    assert_query(db, sql, "b");
    exec_ok(db, "CREATE TABLE keep AS SELECT silt_embed('b', 'hello world') AS v");
    assert_query(db, "SELECT silt_model_import('b') > 0", "1");
    assert_query(db, "SELECT count(*) FROM silt_model_files WHERE file = '1_Pooling/config.json'",
                 "1");
    run("rm -rf %s/b%s", dir, "");
    silt_model_cache_trim(0);
    assert_query(db, "SELECT silt_embed('b', 'hello world') = v FROM keep", "1");
    /* Files changed after registration: import refuses and writes nothing. */
    snprintf(sql, sizeof sql, "SELECT silt_model_register('c', '%s/c')", dir);
    assert_query(db, sql, "c");
    snprintf(p, sizeof p, "%s/c/extra.txt", dir);
    write_file(p, "a new file changes the model's sha256");
    assert_error(db, "SELECT silt_model_import('c')", "changed since registration");
    assert_query(db, "SELECT count(*) FROM silt_model_files WHERE name = 'c'", "0");
    assert_query(db, "SELECT imported FROM silt_models WHERE name = 'c'", "0");
    /* Gone entirely: a clear error naming the path. */
    run("rm -rf %s/c%s", dir, "");
    silt_model_cache_trim(0);
    assert_error(db, "SELECT silt_model_import('c')", "cannot import");
    assert_error(db, "SELECT silt_embed('c', 'x')", "model 'c': model path");
    sqlite3_close(db);
    run("rm -rf %s%s", dir, "");
    free(dir);
}

Test(models, embed_argument_conventions) {
    REQUIRE_DEFAULT_MODEL();
    sqlite3 *db = test_open(NULL);
    assert_query(db, "SELECT silt_embed(NULL) IS NULL", "1");
    assert_query(db, "SELECT silt_embed('default', NULL) IS NULL", "1");
    assert_query(db, "SELECT silt_embed(42) = silt_embed('42')", "1");
    assert_query(db, "SELECT length(silt_embed(''))", "2048");
    assert_error(db, "SELECT silt_embed(x'41')", "text argument is a BLOB");
    assert_error(db, "SELECT silt_embed(NULL, 'x')", "model name must be text");
    assert_error(db, "SELECT silt_embed('default', 'x', 'nope')", "options must be a JSON object");
    assert_error(db, "SELECT silt_embed('default', 'x', '{\"truncate\":\"no\"}')",
                 "\"truncate\" must be true or false");
    assert_error(db, "SELECT silt_embed('default', 'x', '{\"trunc\":false}')",
                 "unknown option \"trunc\"");
    /* 300 x's = 300 tokens: truncated by default, an error when asked. */
    assert_query(db, "SELECT silt_embed(replace(hex(zeroblob(300)), '00', 'x ')) = "
                     "silt_embed('default', replace(hex(zeroblob(300)), '00', 'x '), "
                     "'{\"truncate\":true}')",
                 "1");
    assert_error(db, "SELECT silt_embed('default', replace(hex(zeroblob(300)), '00', 'x '), "
                     "'{\"truncate\":false}')", "128");
    assert_query(db, "SELECT json_array_length(silt_tokenize('default', "
                     "replace(hex(zeroblob(300)), '00', 'x ')))", "128");
    /* Invalid UTF-8 reads as U+FFFD (the unknown token 0), never an error. */
    assert_query(db, "SELECT silt_tokenize('default', CAST(x'68656c6cff6f' AS TEXT))",
                 "[2002,0,102]");
    assert_query(db, "SELECT length(silt_embed(CAST(x'ff' AS TEXT)))", "2048");
    sqlite3_close(db);
}

Test(models, per_row_embedding_reuses_the_model_handle) {
    REQUIRE_DEFAULT_MODEL();
    sqlite3 *db = test_open(NULL);
    exec_ok(db, "CREATE TABLE t(x); WITH RECURSIVE n(i) AS "
                "(SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) "
                "INSERT INTO t SELECT 'row ' || i FROM n");
    long long loads = silt_model_cache_loads();
    assert_query(db, "SELECT count(DISTINCT silt_embed('default', x)) FROM t", "50");
    assert_query(db, "SELECT count(DISTINCT silt_embed(x)) FROM t", "50");
    cr_assert(silt_model_cache_loads() <= loads + 1);
    sqlite3_close(db);
}

Test(models, imported_gguf_file_model_and_private_directory_check) {
    const char *gguf = "tests/data/tiny-bert-q8_0.gguf";
    struct stat st;
    if (stat(gguf, &st) != 0) {
        cr_skip_test("%s absent", gguf);
        return;
    }
    char *dir = temp_dir(), sql[8192], tmpdir[4200], priv[4300];
    run("cp %s %s/x.gguf", gguf, dir);
    snprintf(tmpdir, sizeof tmpdir, "%s/tmp", dir);
    mkdir(tmpdir, 0700);
    setenv("TMPDIR", tmpdir, 1);
    sqlite3 *db = test_open(NULL);
    snprintf(sql, sizeof sql, "SELECT silt_model_register('g', '%s/x.gguf')", dir);
    assert_query(db, sql, "g");
    exec_ok(db, "CREATE TABLE keep AS SELECT silt_embed('g', 'hello world') AS v");
    char bytes[32];
    snprintf(bytes, sizeof bytes, "%lld", (long long)st.st_size);
    assert_query(db, "SELECT silt_model_import('g')", bytes);
    assert_query(db, "SELECT count(DISTINCT file) || ' ' || min(file) FROM silt_model_files",
                 "1 x.gguf");
    run("rm -f %s/x.gguf%s", dir, "");
    silt_model_cache_trim(0);
    assert_query(db, "SELECT silt_embed('g', 'hello world') = v FROM keep", "1");
    snprintf(priv, sizeof priv, "%s/silt-%lu", tmpdir, (unsigned long)geteuid());
    /* A shared (group/world-accessible) directory is refused rather than trusted. */
    run("rm -rf %s/*; chmod 755 %s", priv, priv);
    silt_model_cache_trim(0);
    assert_error(db, "SELECT silt_embed('g', 'x')", "is not a private directory");
    sqlite3_close(db);
    run("rm -rf %s%s", dir, "");
    free(dir);
}
