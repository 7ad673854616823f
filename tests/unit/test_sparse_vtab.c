/* test_sparse_vtab.c: the silt_sparse virtual table over files: several connections,
 * reopening, snapshots, a corrupt snapshot, bulk loads, and the real SPLADE vectors of
 * ../shared/data/sparse/seismic-toy as a format test. */
#include <cjson/cJSON.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static const char *sp_tmpdir(void) {
    static char dir[64];
    if (!dir[0]) {
        strcpy(dir, "/tmp/silt-sparse-XXXXXX");
        cr_assert_not_null(mkdtemp(dir));
    }
    return dir;
}

static char *sp_path(const char *name) {
    static char buf[4][128];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 128, "%s/%s", sp_tmpdir(), name);
    return p;
}

static void sp_exec(sqlite3 *db, const char *sql) {
    char *err = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &err);
    cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, err ? err : "");
}

static sqlite3_int64 sp_int(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    int rc = sqlite3_step(st);
    cr_assert(rc == SQLITE_ROW, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_int64 v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* Rowids a query returns, as "r1,r2,..." (malloc'd). */
static char *sp_rows(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
    size_t cap = 4096, n = 0;
    char *out = malloc(cap);
    out[0] = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        char b[32];
        int m = snprintf(b, sizeof b, "%s%lld", n ? "," : "", (long long)sqlite3_column_int64(st, 0));
        if (n + (size_t)m + 1 > cap) out = realloc(out, cap *= 2);
        memcpy(out + n, b, (size_t)m + 1);
        n += (size_t)m;
    }
    cr_assert_eq(rc, SQLITE_DONE, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return out;
}

#define assert_rows(db, sql, expected)                                                        \
    do {                                                                                      \
        char *got_ = sp_rows((db), (sql));                                                    \
        cr_assert_str_eq(got_, (expected), "%s", (sql));                                      \
        free(got_);                                                                           \
    } while (0)

/* Inserts n rows into table t: row i has terms {i % 50: 1, 1000 + i: 0.5} (one shared and
 * one private term), in one transaction. */
static void fill(sqlite3 *db, const char *t, int from, int n) {
    char sql[256];
    snprintf(sql, sizeof sql, "INSERT INTO %s(rowid, terms) VALUES (?1, json_object(CAST(?1 %% 50 AS TEXT), "
             "1.0 + ?1 / 100000.0, CAST(1000 + ?1 AS TEXT), 0.5))", t);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    sp_exec(db, "BEGIN");
    for (int i = from; i < from + n; i++) {
        sqlite3_bind_int(st, 1, i);
        cr_assert_eq(sqlite3_step(st), SQLITE_DONE, "%s", sqlite3_errmsg(db));
        sqlite3_reset(st);
    }
    sp_exec(db, "COMMIT");
    sqlite3_finalize(st);
}

Test(sparse, connections_see_each_others_commits) {
    const char *path = sp_path("multi.db");
    sqlite3 *a = test_open(path), *b = test_open(path);
    sp_exec(a, "CREATE VIRTUAL TABLE t USING silt_sparse");
    fill(a, "t", 1, 100);
    /* b catches up from the log: row 7's private term finds it. */
    assert_rows(b, "SELECT rowid FROM t WHERE terms MATCH '{\"1007\": 1}'", "7");
    sp_exec(b, "DELETE FROM t WHERE rowid = 7");
    sp_exec(b, "INSERT INTO t(rowid, terms) VALUES (500, '{\"1007\": 2}')");
    assert_rows(a, "SELECT rowid FROM t WHERE terms MATCH '{\"1007\": 1}'", "500");
    /* Uncommitted writes of one connection stay invisible to the other. */
    sp_exec(a, "BEGIN");
    sp_exec(a, "INSERT INTO t(rowid, terms) VALUES (501, '{\"1007\": 3}')");
    assert_rows(a, "SELECT rowid FROM t WHERE terms MATCH '{\"1007\": 1}'", "501,500");
    sqlite3_busy_timeout(b, 0);
    assert_rows(b, "SELECT rowid FROM t WHERE terms MATCH '{\"1007\": 1}'", "500");
    sp_exec(a, "ROLLBACK");
    /* Enough writes for a snapshot: the other connection reloads it. */
    fill(b, "t", 1000, 3000);
    cr_assert_gt(sp_int(a, "SELECT count(*) FROM t_snapshot"), 0);
    assert_rows(a, "SELECT rowid FROM t WHERE terms MATCH '{\"3999\": 1}'", "2999");
    assert_rows(a, "SELECT rowid FROM t WHERE terms MATCH '{\"49\": 1}' AND k = 3",
                "3999,3949,3899");
    assert_rows(a, "SELECT rowid FROM t WHERE terms MATCH '{\"49\": 1}' AND k = 3 AND exact = 1",
                "3999,3949,3899");
    sp_exec(a, "INSERT INTO t(t) VALUES ('integrity-check')");
    sp_exec(b, "INSERT INTO t(t) VALUES ('integrity-check')");
    sqlite3_close(a);
    sqlite3_close(b);
}

Test(sparse, reopened_database_answers_the_same) {
    const char *path = sp_path("reopen.db");
    sqlite3 *db = test_open(path);
    sp_exec(db, "CREATE VIRTUAL TABLE t USING silt_sparse(block_docs=16, prune=0.1)");
    fill(db, "t", 1, 5000);
    sp_exec(db, "DELETE FROM t WHERE rowid % 10 = 3");
    char *before = sp_rows(db, "SELECT rowid FROM t WHERE terms MATCH '{\"3\": 1, \"13\": 0.5}' AND k = 20");
    sqlite3_close(db);
    db = test_open(path);
    char *after = sp_rows(db, "SELECT rowid FROM t WHERE terms MATCH '{\"3\": 1, \"13\": 0.5}' AND k = 20");
    cr_assert_str_eq(before, after);
    cr_assert_eq(sp_int(db, "SELECT count(*) FROM t"), 4500);
    sp_exec(db, "INSERT INTO t(t) VALUES ('integrity-check')");
    free(before), free(after);
    sqlite3_close(db);
}

Test(sparse, corrupt_snapshot_is_rebuilt_from_the_rows) {
    const char *path = sp_path("corrupt.db");
    sqlite3 *db = test_open(path);
    sp_exec(db, "CREATE VIRTUAL TABLE t USING silt_sparse");
    fill(db, "t", 1, 3000);
    sp_exec(db, "INSERT INTO t(t) VALUES ('optimize')"); /* writes a snapshot */
    cr_assert_gt(sp_int(db, "SELECT count(*) FROM t_snapshot"), 0);
    sqlite3_close(db);
    /* Damage the stored snapshot behind silt's back. */
    sqlite3 *raw = NULL;
    cr_assert_eq(sqlite3_open(path, &raw), SQLITE_OK);
    sp_exec(raw, "UPDATE t_snapshot SET data = randomblob(length(data)) WHERE chunk_no = 0");
    sqlite3_close(raw);
    db = test_open(path);
    assert_rows(db, "SELECT rowid FROM t WHERE terms MATCH '{\"1777\": 1}'", "777");
    assert_rows(db, "SELECT rowid FROM t WHERE terms MATCH '{\"49\": 1}' AND k = 2", "2999,2949");
    /* integrity-check says what happened; 'rebuild' writes a good snapshot again. */
    assert_error(db, "INSERT INTO t(t) VALUES ('integrity-check')", "integrity-check failed");
    sp_exec(db, "INSERT INTO t(t) VALUES ('rebuild')");
    sp_exec(db, "INSERT INTO t(t) VALUES ('integrity-check')");
    sqlite3_close(db);
}

Test(sparse, edited_truth_is_named_by_integrity_check) {
    sqlite3 *db = test_open(NULL);
    sp_exec(db, "CREATE VIRTUAL TABLE t USING silt_sparse");
    fill(db, "t", 1, 10);
    sp_exec(db, "UPDATE t_data SET terms = x'01' WHERE id = 4");
    sp_exec(db, "INSERT INTO t(t) VALUES ('rebuild')");
    assert_error(db, "INSERT INTO t(t) VALUES ('integrity-check')", "row 4: stored terms are not");
    sqlite3_close(db);
}

Test(sparse, bulk_insert_select_and_fast_search_agree_with_exact) {
    sqlite3 *db = test_open(NULL);
    sp_exec(db, "CREATE VIRTUAL TABLE t USING silt_sparse(prune=1, heap_factor=1)");
    fill(db, "t", 1, 20000);
    /* Fast mode with safe parameters is exact. */
    for (int term = 0; term < 50; term += 7) {
        char q1[200], q2[240];
        snprintf(q1, sizeof q1, "SELECT rowid FROM t WHERE terms MATCH '{\"%d\": 1, \"%d\": 2}' AND k = 15",
                 term, 1000 + term * 100);
        snprintf(q2, sizeof q2, "%s AND exact = 1", q1);
        char *a = sp_rows(db, q1), *b = sp_rows(db, q2);
        cr_assert_str_eq(a, b);
        free(a), free(b);
    }
    assert_rows(db, "SELECT rowid FROM t WHERE terms MATCH '{\"5\": 1}' AND k = 3 AND rowid < 100",
                "55,5");
    sqlite3_close(db);
}

/* block_max=1 makes the fast search Block-Max Pruning with an exact answer; a query that sets
 * heap_factor uses the term-at-a-time search; bad values are refused at CREATE. */
Test(sparse, block_max_option_gives_exact_fast_search) {
    sqlite3 *db = test_open(NULL);
    sp_exec(db, "CREATE VIRTUAL TABLE t USING silt_sparse(block_max=1)");
    fill(db, "t", 1, 20000);
    sp_exec(db, "INSERT INTO t(t) VALUES ('optimize')");
    for (int term = 0; term < 50; term += 7) {
        char q1[200], q2[240], q3[240];
        snprintf(q1, sizeof q1, "SELECT rowid FROM t WHERE terms MATCH '{\"%d\": 1, \"%d\": 2}' AND k = 15",
                 term, 1000 + term * 100);
        snprintf(q2, sizeof q2, "%s AND exact = 1", q1);
        snprintf(q3, sizeof q3, "%s AND heap_factor = 0.9", q1);
        char *a = sp_rows(db, q1), *b = sp_rows(db, q2), *c = sp_rows(db, q3);
        cr_assert_str_eq(a, b);
        cr_assert_gt(strlen(c), 0);
        free(a), free(b), free(c);
    }
    assert_rows(db, "SELECT rowid FROM t WHERE terms MATCH '{\"5\": 1}' AND k = 3 AND rowid < 100",
                "55,5");
    /* Per query: the hidden column overrides the option, and is echoed. */
    sp_exec(db, "CREATE VIRTUAL TABLE p USING silt_sparse");
    fill(db, "p", 1, 5000);
    char *a = sp_rows(db, "SELECT rowid FROM p WHERE terms MATCH '{\"3\": 1, \"1400\": 2}' AND k = 12 "
                          "AND block_max = 1"),
         *b = sp_rows(db, "SELECT rowid FROM p WHERE terms MATCH '{\"3\": 1, \"1400\": 2}' AND k = 12 "
                          "AND exact = 1");
    cr_assert_str_eq(a, b);
    free(a), free(b);
    cr_assert_eq(sp_int(db, "SELECT count(*) FROM p WHERE terms MATCH '{\"3\": 1}' AND k = 5 "
                            "AND block_max = 0.9 AND heap_factor = 0.5 AND block_max IS 0.9"), 5);
    assert_error(db, "SELECT rowid FROM p WHERE terms MATCH '{\"3\": 1}' AND block_max = 2",
                 "block_max must be 0 (off) or a number in (0, 1], got 2");
    assert_error(db, "SELECT rowid FROM p WHERE block_max = 1", "block_max applies only to a search");
    assert_error(db, "CREATE VIRTUAL TABLE u USING silt_sparse(block_max=1.5)",
                 "block_max must be 0 (off) or a number in (0, 1], got '1.5'");
    assert_error(db, "CREATE VIRTUAL TABLE u USING silt_sparse(block_max=-1)", "block_max must be 0");
    sp_exec(db, "CREATE VIRTUAL TABLE u USING silt_sparse(block_max=0.9)");
    sqlite3_close(db);
}

/* bert-base-uncased's vocabulary (tests/data/tiny-bert/vocab.txt), sorted for lookups. */
typedef struct {
    char tok[32];
    int id;
} vocab_entry;
static vocab_entry *vocab;
static size_t n_vocab;

static int cmp_vocab(const void *a, const void *b) {
    return strcmp(((const vocab_entry *)a)->tok, ((const vocab_entry *)b)->tok);
}

static int load_vocab(void) {
    FILE *f = fopen("tests/data/tiny-bert/vocab.txt", "r");
    if (!f) return -1;
    vocab = calloc(40000, sizeof *vocab);
    char line[256];
    int id = 0;
    while (fgets(line, sizeof line, f) && n_vocab < 40000) {
        line[strcspn(line, "\n")] = 0;
        if (strlen(line) < sizeof vocab->tok) {
            strcpy(vocab[n_vocab].tok, line);
            vocab[n_vocab++].id = id;
        }
        id++;
    }
    fclose(f);
    qsort(vocab, n_vocab, sizeof *vocab, cmp_vocab);
    return 0;
}

/* Id of a token, or -1. */
static int vocab_id(const char *tok) {
    vocab_entry key;
    if (strlen(tok) >= sizeof key.tok) return -1;
    strcpy(key.tok, tok);
    vocab_entry *e = bsearch(&key, vocab, n_vocab, sizeof *vocab, cmp_vocab);
    return e ? e->id : -1;
}

/* The real SPLADE vectors of the Seismic toy collection: JSON Lines with token-string keys,
 * mapped to ids through bert-base-uncased's vocabulary and inserted as id JSON; every
 * query's exact and fast answers equal a brute-force dot product computed here. */
Test(sparse, seismic_toy_vectors_load_and_search) {
    const char *dir = getenv("SILT_SHARED_DATA") ? getenv("SILT_SHARED_DATA") : "../shared/data";
    char docs_path[512], q_path[512];
    snprintf(docs_path, sizeof docs_path, "%s/sparse/seismic-toy/documents.jsonl", dir);
    snprintf(q_path, sizeof q_path, "%s/sparse/seismic-toy/queries.jsonl", dir);
    if (access(docs_path, R_OK) != 0 || access(q_path, R_OK) != 0) {
        cr_skip_test("shared data absent (%s): seismic-toy format test skipped", docs_path);
    }
    cr_assert_eq(load_vocab(), 0, "tests/data/tiny-bert/vocab.txt (run from the repository root)");
    sqlite3 *db = test_open(NULL);
    sp_exec(db, "CREATE VIRTUAL TABLE t USING silt_sparse");
    /* Documents: id -> vector as JSON with ids; also kept for the brute force. */
    enum { MAXD = 64 };
    cJSON *dvec[MAXD];
    int64_t did[MAXD];
    int nd = 0;
    FILE *f = fopen(docs_path, "r");
    cr_assert_not_null(f);
    char *line = NULL;
    size_t cap = 0;
    sqlite3_stmt *ins;
    cr_assert_eq(sqlite3_prepare_v2(db, "INSERT INTO t(rowid, terms) VALUES (?1, ?2)", -1, &ins, NULL), SQLITE_OK);
    size_t total_terms = 0;
    while (getline(&line, &cap, f) > 0 && nd < MAXD) {
        cJSON *o = cJSON_Parse(line);
        cr_assert_not_null(o);
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "vector");
        cJSON *ids = cJSON_CreateObject();
        for (cJSON *it = v ? v->child : NULL; it; it = it->next) {
            int id = vocab_id(it->string);
            cr_assert_geq(id, 0, "token %s not in bert-base-uncased's vocabulary", it->string);
            char key[16];
            snprintf(key, sizeof key, "%d", id);
            cJSON_AddNumberToObject(ids, key, it->valuedouble);
            total_terms++;
        }
        did[nd] = (int64_t)cJSON_GetObjectItemCaseSensitive(o, "id")->valuedouble;
        char *json = cJSON_PrintUnformatted(ids);
        sqlite3_bind_int64(ins, 1, did[nd]);
        sqlite3_bind_text(ins, 2, json, -1, free);
        cr_assert_eq(sqlite3_step(ins), SQLITE_DONE, "%s", sqlite3_errmsg(db));
        sqlite3_reset(ins);
        dvec[nd++] = ids;
        cJSON_Delete(o);
    }
    fclose(f);
    sqlite3_finalize(ins);
    cr_assert_eq(nd, 20);
    cr_assert_gt(total_terms / 20, 50, "SPLADE documents carry many terms");
    /* The same vectors with their token strings, through a model's vocabulary, are stored
     * as the same BLOBs. A key made only of digits is a term id in silt's JSON (sparse_vec.h),
     * so a vector holding number tokens ("2", "1943") reads differently: those rows are
     * compared only when they have no such key. */
    assert_query(db, "SELECT silt_model_register('splade', 'tests/data/tiny-splade', "
                     "'{\"kind\":\"sparse\"}')", "splade");
    sp_exec(db, "CREATE VIRTUAL TABLE tok USING silt_sparse(model=splade)");
    sp_exec(db, "CREATE TABLE raw(id INTEGER PRIMARY KEY, vector TEXT)");
    f = fopen(docs_path, "r");
    cr_assert_eq(sqlite3_prepare_v2(db, "INSERT INTO raw VALUES (json_extract(?1, '$.id'), "
                                        "json_extract(?1, '$.vector'))", -1, &ins, NULL), SQLITE_OK);
    while (getline(&line, &cap, f) > 0) {
        sqlite3_bind_text(ins, 1, line, -1, SQLITE_STATIC);
        cr_assert_eq(sqlite3_step(ins), SQLITE_DONE, "%s", sqlite3_errmsg(db));
        sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    fclose(f);
    sp_exec(db, "INSERT INTO tok(rowid, terms) SELECT id, vector FROM raw");
    sqlite3_int64 plain = sp_int(db, "SELECT count(*) FROM raw WHERE NOT EXISTS (SELECT 1 FROM "
                                     "json_each(vector) WHERE key NOT GLOB '*[^0-9]*')");
    cr_assert_gt(plain, 5);
    cr_assert_eq(sp_int(db, "SELECT count(*) FROM raw JOIN t ON t.rowid = raw.id JOIN tok ON "
                            "tok.rowid = raw.id WHERE tok.terms = t.terms AND NOT EXISTS (SELECT 1 "
                            "FROM json_each(vector) WHERE key NOT GLOB '*[^0-9]*')"), plain);
    sp_exec(db, "INSERT INTO t(t) VALUES ('integrity-check')");
    f = fopen(q_path, "r");
    int nq = 0;
    while (getline(&line, &cap, f) > 0) {
        cJSON *o = cJSON_Parse(line);
        cJSON *v = cJSON_GetObjectItemCaseSensitive(o, "vector");
        cJSON *ids = cJSON_CreateObject();
        for (cJSON *it = v->child; it; it = it->next) {
            int id = vocab_id(it->string);
            cr_assert_geq(id, 0, "token %s", it->string);
            char key[16];
            snprintf(key, sizeof key, "%d", id);
            cJSON_AddNumberToObject(ids, key, it->valuedouble);
        }
        /* Brute force with float32 weights, as stored. */
        double score[MAXD];
        int shares[MAXD];
        for (int d = 0; d < nd; d++) {
            score[d] = 0, shares[d] = 0;
            for (cJSON *it = ids->child; it; it = it->next) {
                cJSON *w = cJSON_GetObjectItemCaseSensitive(dvec[d], it->string);
                if (w) score[d] += (double)(float)it->valuedouble * (double)(float)w->valuedouble, shares[d] = 1;
            }
        }
        char *qjson = cJSON_PrintUnformatted(ids);
        for (int exact = 0; exact < 2; exact++) {
            sqlite3_stmt *st;
            cr_assert_eq(sqlite3_prepare_v2(db, exact ? "SELECT rowid, score FROM t WHERE terms MATCH ?1 AND k = 5 AND exact = 1"
                                                      : "SELECT rowid, score FROM t WHERE terms MATCH ?1 AND k = 5",
                                            -1, &st, NULL), SQLITE_OK);
            sqlite3_bind_text(st, 1, qjson, -1, SQLITE_STATIC);
            int rank = 0;
            double prev = INFINITY;
            while (sqlite3_step(st) == SQLITE_ROW) {
                int64_t r = sqlite3_column_int64(st, 0);
                double s = sqlite3_column_double(st, 1);
                int d = 0;
                while (d < nd && did[d] != r) d++;
                cr_assert_lt(d, nd);
                cr_assert(shares[d]);
                cr_assert_float_eq(s, score[d], 1e-9 * (1 + fabs(s)));
                cr_assert_leq(s, prev);
                /* Nothing outside the answer scores higher than its last row. */
                prev = s;
                rank++;
            }
            sqlite3_finalize(st);
            int better = 0;
            for (int d = 0; d < nd; d++) better += shares[d] && score[d] > prev;
            cr_assert_leq(better, rank);
            cr_assert_eq(rank, 5);
        }
        free(qjson);
        cJSON_Delete(ids);
        cJSON_Delete(o);
        nq++;
    }
    fclose(f);
    free(line);
    cr_assert_eq(nq, 5);
    for (int d = 0; d < nd; d++) cJSON_Delete(dvec[d]);
    free(vocab);
    sqlite3_close(db);
}

Test(sparse, killed_writer_leaves_committed_rows_only) {
    const char *path = sp_path("crash.db");
    sqlite3 *db = test_open(path);
    sp_exec(db, "CREATE VIRTUAL TABLE t USING silt_sparse");
    fill(db, "t", 1, 50);
    sqlite3_close(db);
    fflush(NULL);
    pid_t pid = fork();
    cr_assert_geq(pid, 0);
    if (pid == 0) {
        /* A writer that dies in the middle of a transaction, after its index changed. */
        sqlite3 *w = test_open(path);
        sqlite3_exec(w, "INSERT INTO t(rowid, terms) VALUES (100, '{\"7777\": 1}')", NULL, NULL, NULL);
        sqlite3_exec(w, "BEGIN", NULL, NULL, NULL);
        sqlite3_exec(w, "INSERT INTO t(rowid, terms) VALUES (101, '{\"7777\": 2}')", NULL, NULL, NULL);
        sqlite3_exec(w, "DELETE FROM t WHERE rowid = 5", NULL, NULL, NULL);
        sqlite3_exec(w, "SELECT rowid FROM t WHERE terms MATCH '{\"7777\": 1}'", NULL, NULL, NULL);
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    db = test_open(path);
    assert_rows(db, "SELECT rowid FROM t WHERE terms MATCH '{\"7777\": 1}'", "100");
    assert_rows(db, "SELECT rowid FROM t WHERE terms MATCH '{\"1005\": 1}'", "5");
    cr_assert_eq(sp_int(db, "SELECT count(*) FROM t"), 51);
    sp_exec(db, "INSERT INTO t(t) VALUES ('integrity-check')");
    sqlite3_close(db);
}

Test(sparse, table_in_an_attached_database) {
    sqlite3 *db = test_open(NULL);
    char sql[256];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS aux", sp_path("aux.db"));
    sp_exec(db, sql);
    sp_exec(db, "CREATE VIRTUAL TABLE aux.t USING silt_sparse");
    sp_exec(db, "INSERT INTO aux.t(rowid, terms) VALUES (1, '{\"3\": 1}'), (2, '{\"3\": 2, \"4\": 1}')");
    assert_rows(db, "SELECT rowid FROM aux.t WHERE terms MATCH '{\"3\": 1}'", "2,1");
    cr_assert_eq(sp_int(db, "SELECT count(*) FROM aux.sqlite_master WHERE name LIKE 't_%'"), 4);
    sp_exec(db, "INSERT INTO aux.t(t) VALUES ('integrity-check')");
    sp_exec(db, "DROP TABLE aux.t");
    cr_assert_eq(sp_int(db, "SELECT count(*) FROM aux.sqlite_master"), 0);
    sqlite3_close(db);
}
