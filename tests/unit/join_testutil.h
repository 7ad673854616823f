/* join_testutil.h: what the silt_join unit tests share: a toy dense encoder that counts
 * the texts it embeds (registered as model "counter"), and helpers to run statements and
 * print a search's rows. */
#ifndef SILT_JOIN_TESTUTIL_H
#define SILT_JOIN_TESTUTIL_H

#include <pthread.h>
#include <stdint.h>

#include "core/err.h"
#include "sqlext/models.h"
#include "testutil.h"

#define TOY_DIM 8
#define TOY_WINDOW 256

typedef struct {
    silt_encoder base;
    pthread_mutex_t mu;
    long long texts; /* texts embedded so far */
} count_encoder;

static inline int32_t word_id(const char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
    return 3 + (int32_t)(h % 1000);
}

static inline int ce_tokenize(const silt_encoder *enc, const char *text, size_t len, int truncate, int32_t **ids,
                       int *n_ids, char **err) {
    int32_t *v = malloc((len + 2) * sizeof *v);
    if (!v) return silt_err(err, "oom");
    int n = 0;
    v[n++] = 1;
    for (size_t i = 0; i < len;) {
        while (i < len && text[i] == ' ') i++;
        size_t s = i;
        while (i < len && text[i] != ' ') i++;
        if (i > s) v[n++] = word_id(text + s, i - s);
    }
    v[n++] = 2;
    if (n > enc->max_tokens) {
        (void)truncate;
        n = enc->max_tokens;
        v[n - 1] = 2;
    }
    *ids = v;
    *n_ids = n;
    return 0;
}

/* A bag of words folded into TOY_DIM buckets: texts sharing words point the same way. */
static inline int ce_embed(const silt_encoder *enc, const int32_t *const *ids, const int *n_ids, int n, float *out,
                    char **err) {
    (void)err;
    count_encoder *c = (count_encoder *)enc;
    pthread_mutex_lock(&c->mu);
    c->texts += n;
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < n; i++) {
        float *o = out + (size_t)i * TOY_DIM;
        memset(o, 0, TOY_DIM * sizeof *o);
        for (int k = 1; k + 1 < n_ids[i]; k++) o[ids[i][k] % TOY_DIM] += 1.0f + (float)(ids[i][k] % 7);
        o[0] += 0.5f;
    }
    return 0;
}

static inline const char *ce_token_text(const silt_encoder *enc, int32_t id) {
    (void)enc;
    (void)id;
    return NULL;
}

static inline int32_t ce_token_id(const silt_encoder *enc, const char *tok, size_t len) {
    (void)enc;
    return word_id(tok, len);
}

static inline void ce_destroy(silt_encoder *enc) { free(enc); }

static const struct silt_encoder_ops ce_ops = {ce_tokenize, ce_embed, ce_token_text, ce_token_id, ce_destroy};

static inline count_encoder *provide_counter(void) {
    count_encoder *c = calloc(1, sizeof *c);
    cr_assert(c);
    c->base.ops = &ce_ops;
    snprintf(c->base.arch, sizeof c->base.arch, "count");
    c->base.kind = SILT_KIND_DENSE;
    c->base.dim = TOY_DIM;
    c->base.max_tokens = TOY_WINDOW;
    pthread_mutex_init(&c->mu, NULL);
    char *err = NULL;
    cr_assert_eq(silt_model_provide("counter", &c->base, &err), SQLITE_OK, "%s", err ? err : "");
    return c;
}

static inline long long texts_embedded(count_encoder *c) {
    pthread_mutex_lock(&c->mu);
    long long n = c->texts;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static inline void exec_ok(sqlite3 *db, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, err ? err : "");
}

/* A small lake: a.x shares most values with b.y, some with c.z, none with d.w. */
static inline sqlite3 *open_lake(void) {
    sqlite3 *db = test_open(NULL);
    exec_ok(db,
            "CREATE TABLE a(x TEXT); CREATE TABLE b(y TEXT); CREATE TABLE c(z TEXT); CREATE TABLE d(w TEXT);"
            "INSERT INTO a VALUES ('red'),('green'),('blue'),('cyan'),('teal');"
            "INSERT INTO b VALUES ('red'),('green'),('blue'),('cyan'),('plum');"
            "INSERT INTO c VALUES ('red'),('gold'),('lime'),('rust');"
            "INSERT INTO d VALUES ('one'),('two'),('three');"
            "CREATE VIRTUAL TABLE lj USING silt_join(model=counter);"
            "INSERT INTO lj(tbl) VALUES ('a'),('b'),('c'),('d');");
    return db;
}

/* The rows of a search as "tbl.col:score:containment|...", scores to 6 decimals. */
static inline char *answer(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    size_t cap = 4096, n = 0;
    char *out = calloc(1, cap);
    cr_assert(out);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        n += (size_t)snprintf(out + n, cap - n, "%s.%s:%.6f:%.6f|", sqlite3_column_text(st, 0),
                              sqlite3_column_text(st, 1), sqlite3_column_double(st, 2), sqlite3_column_double(st, 3));
        cr_assert_lt(n, cap);
    }
    cr_assert_eq(rc, SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return out;
}

#endif
