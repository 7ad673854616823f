/* test_join_reuse.c: silt_join's reuse of stored column embeddings (suite "join_reuse").
 *
 * Querying with an indexed column whose text is unchanged must not run the encoder, and must
 * answer as if it had; a changed column, a column named differently, or a table without
 * digests (made before them) must be embedded again and answer from its new text. A toy
 * encoder counts the texts it is given, which is how the tests see whether it ran. */
#include <math.h>
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

static int32_t word_id(const char *p, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
    return 3 + (int32_t)(h % 1000);
}

static int ce_tokenize(const silt_encoder *enc, const char *text, size_t len, int truncate, int32_t **ids,
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
static int ce_embed(const silt_encoder *enc, const int32_t *const *ids, const int *n_ids, int n, float *out,
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

static const char *ce_token_text(const silt_encoder *enc, int32_t id) {
    (void)enc;
    (void)id;
    return NULL;
}

static int32_t ce_token_id(const silt_encoder *enc, const char *tok, size_t len) {
    (void)enc;
    return word_id(tok, len);
}

static void ce_destroy(silt_encoder *enc) { free(enc); }

static const struct silt_encoder_ops ce_ops = {ce_tokenize, ce_embed, ce_token_text, ce_token_id, ce_destroy};

static count_encoder *provide_counter(void) {
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

static long long texts_embedded(count_encoder *c) {
    pthread_mutex_lock(&c->mu);
    long long n = c->texts;
    pthread_mutex_unlock(&c->mu);
    return n;
}

static void exec_ok(sqlite3 *db, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, err ? err : "");
}

/* A small lake: a.x shares most values with b.y, some with c.z, none with d.w. */
static sqlite3 *open_lake(void) {
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
static char *answer(sqlite3 *db, const char *sql) {
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

Test(join_reuse, unchanged_indexed_column_is_not_embedded_again) {
    count_encoder *enc = provide_counter();
    sqlite3 *db = open_lake();
    long long after_index = texts_embedded(enc);
    cr_assert_eq(after_index, 4, "one text per indexed column");
    assert_query(db, "SELECT count(*) FROM lj_digests", "4");

    char *equi = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'");
    char *sem = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'"
                           " AND mode = 'semantic'");
    cr_assert_eq(texts_embedded(enc), after_index, "the stored embeddings of a.x were reused");
    cr_assert_str_eq(equi, "b.y:0.800000:0.800000|c.z:0.200000:0.200000|");

    /* "main.a" is the same table under a name the index does not hold: the text is embedded,
     * and the answer is the one the reused embedding gave. */
    char *equi2 = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'main.a' AND query_column = 'x'");
    cr_assert_eq(texts_embedded(enc), after_index + 1);
    char *sem2 = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'main.a' AND query_column = 'x'"
                            " AND mode = 'semantic'");
    cr_assert_eq(texts_embedded(enc), after_index + 2);
    cr_assert_str_eq(equi2, equi);
    cr_assert_str_eq(sem2, sem);
    free(equi);
    free(sem);
    free(equi2);
    free(sem2);
    sqlite3_close(db);
}

Test(join_reuse, changed_column_is_embedded_from_its_new_text) {
    count_encoder *enc = provide_counter();
    sqlite3 *db = open_lake();
    char *before = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'"
                              " AND mode = 'semantic'");
    long long n0 = texts_embedded(enc);
    /* a.x now looks like d.w: the stored embedding of a.x is stale. */
    exec_ok(db, "DELETE FROM a; INSERT INTO a VALUES ('one'),('two'),('three'),('four');");
    char *after = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'"
                             " AND mode = 'semantic'");
    cr_assert_eq(texts_embedded(enc), n0 + 1, "the changed column was embedded again");
    cr_assert_str_neq(after, before);
    char *after_copy = strdup(after);
    cr_assert(after_copy);
    /* The scores are the cosines of the new text's embedding with the stored ones. */
    char *expect = answer(db, "SELECT c.tbl, c.col, 1 - v.distance, 0 FROM lj_vec AS v JOIN lj_cols AS c ON c.id = v.rowid"
                              " WHERE v.embedding MATCH silt_embed('counter', silt_column_text('a', 'x')) AND v.k = 10"
                              " AND NOT (c.tbl = 'a' AND c.col = 'x') ORDER BY v.distance, c.tbl");
    /* Compare tbl.col and score only (the expectation has no containment). */
    char *p = after, *q = expect;
    int rows = 0;
    while (*p && *q) {
        char *pe = strchr(p, '|'), *qe = strchr(q, '|');
        cr_assert(pe && qe);
        *pe = 0;
        *qe = 0;
        char *pc = strrchr(p, ':'), *qc = strrchr(q, ':');
        *pc = 0;
        *qc = 0;
        cr_assert_str_eq(p, q);
        p = pe + 1;
        q = qe + 1;
        rows++;
    }
    cr_assert_eq(rows, 3);
    cr_assert(!*p && !*q);
    cr_assert_eq(texts_embedded(enc), n0 + 2); /* silt_embed above */
    assert_query(db, "SELECT containment FROM lj WHERE query_table = 'a' AND query_column = 'x' AND tbl = 'd'", "0.75");
    cr_assert_eq(texts_embedded(enc), n0 + 3);
    /* Indexed again, the column's new digest is stored and reused. */
    exec_ok(db, "INSERT INTO lj(tbl) VALUES ('a')");
    cr_assert_eq(texts_embedded(enc), n0 + 4);
    char *again = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'"
                             " AND mode = 'semantic'");
    cr_assert_eq(texts_embedded(enc), n0 + 4);
    cr_assert_str_eq(again, after_copy);
    free(before);
    free(after);
    free(expect);
    free(again);
    free(after_copy);
    sqlite3_close(db);
}

Test(join_reuse, deleted_column_and_table_without_digests_embed_the_query) {
    count_encoder *enc = provide_counter();
    sqlite3 *db = open_lake();
    long long n0 = texts_embedded(enc);
    /* A deleted column's digest goes with it: the query column is embedded. */
    exec_ok(db, "DELETE FROM lj WHERE tbl = 'a'");
    assert_query(db, "SELECT count(*) FROM lj_digests", "3");
    char *gone = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'a' AND query_column = 'x'");
    cr_assert_eq(texts_embedded(enc), n0 + 1);
    cr_assert_str_eq(gone, "b.y:0.800000:0.800000|c.z:0.200000:0.200000|");
    /* A table made before digests were kept (no lj_digests): queries embed, inserts work,
     * and 'rebuild' adds the digests back. */
    exec_ok(db, "DROP TABLE lj_digests");
    char *old = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'b' AND query_column = 'y'");
    cr_assert_eq(texts_embedded(enc), n0 + 2);
    cr_assert_str_eq(old, "c.z:0.200000:0.200000|");
    exec_ok(db, "INSERT INTO lj(tbl) VALUES ('a')");
    cr_assert_eq(texts_embedded(enc), n0 + 3);
    exec_ok(db, "INSERT INTO lj(lj) VALUES ('rebuild')");
    cr_assert_eq(texts_embedded(enc), n0 + 7);
    assert_query(db, "SELECT count(*) FROM lj_digests", "4");
    exec_ok(db, "INSERT INTO lj(lj) VALUES ('integrity-check')");
    exec_ok(db, "DELETE FROM lj_digests WHERE id = (SELECT min(id) FROM lj_digests)");
    assert_error(db, "INSERT INTO lj(lj) VALUES ('integrity-check')", "1 wrong text digests");
    exec_ok(db, "INSERT INTO lj(lj) VALUES ('rebuild')");
    cr_assert_eq(texts_embedded(enc), n0 + 11);
    exec_ok(db, "INSERT INTO lj(lj) VALUES ('integrity-check')");
    char *back = answer(db, "SELECT tbl, col, score, containment FROM lj WHERE query_table = 'b' AND query_column = 'y'");
    cr_assert_eq(texts_embedded(enc), n0 + 11, "reused after 'rebuild'");
    cr_assert_str_eq(back, "a.x:0.800000:0.800000|c.z:0.200000:0.200000|");
    free(gone);
    free(old);
    free(back);
    sqlite3_close(db);
}

/* The equi mode prunes candidates by the posting lists it read (c + |Q| - r >= the k-th best
 * overlap) and takes a candidate's count as its overlap when every list was read. In a lake
 * smaller than its candidate budget every column is a candidate, so pruning must not change
 * the answer: the containments equal those of the exact search, for every query column. */
Test(join_reuse, equi_pruning_keeps_the_exact_containments) {
    provide_counter();
    sqlite3 *db = test_open(NULL);
    uint64_t x = 12345;
    char sql[256];
    for (int t = 0; t < 24; t++) {
        snprintf(sql, sizeof sql, "CREATE TABLE t%d(v TEXT)", t);
        exec_ok(db, sql);
        /* Every third column draws 400 to 1,200 values uniformly from 1,500, so it has more
         * distinct values than the 256 whose lists equi samples and its bounds leave values
         * unread; the others draw 3 to 60, skewed to the low end, so lists differ in length. */
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int n = t % 3 == 0 ? 400 + (int)((x >> 33) % 800) : 3 + (int)((x >> 33) % 58);
        exec_ok(db, "BEGIN");
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned r = (unsigned)(x >> 40) % 1500;
            snprintf(sql, sizeof sql, "INSERT INTO t%d VALUES ('w%u')", t, t % 3 == 0 ? r : r * r / 1500);
            exec_ok(db, sql);
        }
        exec_ok(db, "COMMIT");
    }
    exec_ok(db, "CREATE VIRTUAL TABLE lj USING silt_join(model=counter)");
    for (int t = 0; t < 24; t++) {
        snprintf(sql, sizeof sql, "INSERT INTO lj(tbl) VALUES ('t%d')", t);
        exec_ok(db, sql);
    }
    for (int t = 0; t < 24; t++) {
        for (int k = 1; k <= 8; k *= 2) {
            char q[256];
            snprintf(q, sizeof q,
                     "SELECT group_concat(printf('%%.6f', containment), ',') FROM (SELECT containment FROM lj"
                     " WHERE query_table = 't%d' AND query_column = 'v' AND k = %d%s)",
                     t, k, "");
            char *equi = test_query1(db, q);
            snprintf(q, sizeof q,
                     "SELECT group_concat(printf('%%.6f', containment), ',') FROM (SELECT containment FROM lj"
                     " WHERE query_table = 't%d' AND query_column = 'v' AND k = %d%s)",
                     t, k, " AND exact = 1");
            char *exact = test_query1(db, q);
            cr_assert_str_eq(equi ? equi : "", exact ? exact : "", "t%d k=%d: equi %s exact %s", t, k, equi, exact);
            free(equi);
            free(exact);
        }
    }
    sqlite3_close(db);
}
