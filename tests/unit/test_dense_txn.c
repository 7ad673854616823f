/* test_dense_txn.c: silt_dense transactions, persistence and coherence between
 * connections: rollback and savepoints restore the index, uncommitted rows stay private,
 * two connections writing one file lose nothing (the sqlite-vss failure), snapshots, logs
 * and corrupt snapshots. */
#include "dense_testutil.h"

static const char *INDEXES[] = {"Flat", "HNSW8", "IVF4,Flat"};
#define N_INDEXES (sizeof INDEXES / sizeof INDEXES[0])

static void create(sqlite3 *db, const char *index, int dim) {
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE v USING silt_dense(dim=%d, index='%s')", dim,
             index);
    dense_exec(db, sql);
}

static const char *knn_all(sqlite3 *db, const char *q) {
    static char out[4096];
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE "
                              "embedding MATCH '%s' AND k = 1000)", q);
    char *r = test_query1(db, sql);
    snprintf(out, sizeof out, "%s", r ? r : "");
    free(r);
    return out;
}

Test(dense, rollback_restores_index) {
    for (size_t t = 0; t < N_INDEXES; t++) {
        sqlite3 *db = test_open(NULL);
        create(db, INDEXES[t], 1);
        dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (1, '[1]'), (2, '[2]'), (3, '[3]')");
        dense_exec(db, "BEGIN");
        dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (4, '[4]')");
        dense_exec(db, "DELETE FROM v WHERE rowid = 1");
        dense_exec(db, "UPDATE v SET embedding = '[-5]' WHERE rowid = 2");
        /* the connection sees its own writes */
        cr_assert_str_eq(knn_all(db, "[0]"), "3,4,2", "%s", INDEXES[t]);
        dense_exec(db, "ROLLBACK");
        cr_assert_str_eq(knn_all(db, "[0]"), "1,2,3", "%s", INDEXES[t]);
        assert_query(db, "SELECT rowid FROM v WHERE embedding MATCH '[-5]' AND k = 1", "1");
        dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
        sqlite3_close(db);
    }
}

Test(dense, savepoint_rollback_to_restores_that_point) {
    for (size_t t = 0; t < N_INDEXES; t++) {
        sqlite3 *db = test_open(NULL);
        create(db, INDEXES[t], 1);
        dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (1, '[1]')");
        dense_exec(db, "BEGIN");
        dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (2, '[2]')");
        dense_exec(db, "SAVEPOINT a");
        dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (3, '[3]')");
        dense_exec(db, "SAVEPOINT b");
        dense_exec(db, "DELETE FROM v WHERE rowid = 1");
        dense_exec(db, "UPDATE v SET embedding = '[30]' WHERE rowid = 3");
        cr_assert_str_eq(knn_all(db, "[0]"), "2,3");
        dense_exec(db, "ROLLBACK TO b");
        cr_assert_str_eq(knn_all(db, "[0]"), "1,2,3");
        dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (5, '[5]')");
        dense_exec(db, "ROLLBACK TO a");
        cr_assert_str_eq(knn_all(db, "[0]"), "1,2", "%s", INDEXES[t]);
        /* the savepoint stays open: roll back to it again after more writes */
        dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (6, '[6]')");
        dense_exec(db, "ROLLBACK TO a");
        cr_assert_str_eq(knn_all(db, "[0]"), "1,2");
        dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (7, '[7]')");
        dense_exec(db, "RELEASE a");
        dense_exec(db, "COMMIT");
        cr_assert_str_eq(knn_all(db, "[0]"), "1,2,7");
        assert_query(db, "SELECT group_concat(rowid) FROM v", "1,2,7");
        dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
        sqlite3_close(db);
    }
}

Test(dense, nested_savepoints_without_begin) {
    sqlite3 *db = test_open(NULL);
    create(db, "Flat", 1);
    dense_exec(db, "SAVEPOINT outer_sp");
    dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (1, '[1]')");
    dense_exec(db, "SAVEPOINT inner_sp");
    dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (2, '[2]')");
    dense_exec(db, "RELEASE inner_sp");
    dense_exec(db, "ROLLBACK TO outer_sp");
    cr_assert_str_eq(knn_all(db, "[0]"), "");
    dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (3, '[3]')");
    dense_exec(db, "RELEASE outer_sp");
    cr_assert_str_eq(knn_all(db, "[0]"), "3");
    sqlite3_close(db);
}

Test(dense, uncommitted_rows_are_invisible_to_other_connections) {
    const char *path = dense_path("iso.db");
    sqlite3 *a = test_open(path), *b = test_open(path);
    dense_exec(a, "PRAGMA journal_mode = WAL");
    create(a, "HNSW8", 1);
    dense_exec(a, "INSERT INTO v(rowid, embedding) VALUES (1, '[1]')");
    cr_assert_str_eq(knn_all(b, "[0]"), "1");
    dense_exec(a, "BEGIN");
    dense_exec(a, "INSERT INTO v(rowid, embedding) VALUES (2, '[2]')");
    cr_assert_str_eq(knn_all(a, "[0]"), "1,2");
    cr_assert_str_eq(knn_all(b, "[0]"), "1");
    dense_exec(a, "COMMIT");
    cr_assert_str_eq(knn_all(b, "[0]"), "1,2");
    sqlite3_close(a);
    sqlite3_close(b);
}

/* The sqlite-vss failure: two connections on one file alternately insert; each must see
 * every row, from both sides, by k-NN. */
Test(dense, two_connections_no_lost_entries) {
    for (size_t t = 0; t < N_INDEXES; t++) {
        char name[32];
        snprintf(name, sizeof name, "two%zu.db", t);
        const char *path = dense_path(name);
        sqlite3 *a = test_open(path), *b = test_open(path);
        sqlite3_busy_timeout(a, 5000);
        sqlite3_busy_timeout(b, 5000);
        /* durability is not under test here: skip the fsyncs of 300 commits */
        dense_exec(a, "PRAGMA synchronous = OFF");
        dense_exec(b, "PRAGMA synchronous = OFF");
        create(a, INDEXES[t], 4);
        const int n = 300;
        float *x = dense_clustered(n, 4, 7, 5);
        for (int i = 0; i < n; i++) {
            sqlite3 *w = i % 2 ? b : a;
            cr_assert_eq(dense_insert(w, "v", i + 1, x + i * 4, 4), SQLITE_OK);
            if (i % 37 == 0) {
                /* deletes and updates from the other side, too */
                sqlite3 *o = i % 2 ? a : b;
                char sql[128];
                snprintf(sql, sizeof sql, "UPDATE v SET embedding = embedding WHERE rowid = %d", i + 1);
                dense_exec(o, sql);
            }
        }
        for (int i = 0; i < n; i++) {
            cr_assert(dense_knn_finds(a, "v", x + i * 4, 4, i + 1), "%s: a lost %d", INDEXES[t], i + 1);
            cr_assert(dense_knn_finds(b, "v", x + i * 4, 4, i + 1), "%s: b lost %d", INDEXES[t], i + 1);
        }
        /* a row deleted on one side disappears on the other */
        dense_exec(a, "DELETE FROM v WHERE rowid = 10");
        cr_assert(!dense_knn_finds(b, "v", x + 9 * 4, 4, 10));
        dense_exec(a, "INSERT INTO v(v) VALUES ('integrity-check')");
        dense_exec(b, "INSERT INTO v(v) VALUES ('integrity-check')");
        free(x);
        sqlite3_close(a);
        sqlite3_close(b);
    }
}

/* A connection catches up when another one writes a snapshot (and empties the log). */
Test(dense, other_connection_snapshot_is_picked_up) {
    const char *path = dense_path("snap.db");
    sqlite3 *a = test_open(path), *b = test_open(path);
    create(a, "HNSW8", 1);
    dense_exec(a, "INSERT INTO v(rowid, embedding) VALUES (1, '[1]'), (2, '[2]')");
    cr_assert_str_eq(knn_all(b, "[0]"), "1,2");
    dense_exec(a, "INSERT INTO v(rowid, embedding) VALUES (3, '[3]')");
    dense_exec(a, "DELETE FROM v WHERE rowid = 1");
    dense_exec(a, "INSERT INTO v(v) VALUES ('optimize')");
    assert_query(a, "SELECT count(*) FROM v_log", "0");
    dense_exec(a, "INSERT INTO v(rowid, embedding) VALUES (4, '[4]')");
    cr_assert_str_eq(knn_all(b, "[0]"), "2,3,4");
    dense_exec(b, "INSERT INTO v(rowid, embedding) VALUES (5, '[5]')");
    cr_assert_str_eq(knn_all(a, "[0]"), "2,3,4,5");
    sqlite3_close(a);
    sqlite3_close(b);
}

/* Reopening a database gives the same answers: snapshot + log for graph indexes, the
 * stored vectors for flat ones. */
Test(dense, reopen_loads_snapshot_and_replays_log) {
    for (size_t t = 0; t < N_INDEXES; t++) {
        char name[32];
        snprintf(name, sizeof name, "re%zu.db", t);
        const char *path = dense_path(name);
        const int n = 2000, dim = 8;
        float *x = dense_clustered(n, dim, 10, 9);
        sqlite3 *db = test_open(path);
        create(db, INDEXES[t], dim);
        dense_exec(db, "BEGIN");
        for (int i = 0; i < n; i++) cr_assert_eq(dense_insert(db, "v", i + 1, x + i * dim, dim), 0);
        dense_exec(db, "COMMIT");
        if (t > 0) {
            /* 2000 rows in one commit: the log would replay them all, so a snapshot */
            assert_query(db, "SELECT value > 0 FROM v_info WHERE key = 'snapshot_bytes'", "1");
            assert_query(db, "SELECT count(*) FROM v_log", "0");
        } else {
            assert_query(db, "SELECT value FROM v_info WHERE key = 'snapshot_bytes'", "-1");
        }
        /* a few small commits go to the log only */
        for (int i = 0; i < 5; i++) {
            char sql[128];
            snprintf(sql, sizeof sql, "DELETE FROM v WHERE rowid = %d", i * 100 + 1);
            dense_exec(db, sql);
        }
        dense_exec(db, "UPDATE v SET embedding = silt_vec('[9,9,9,9,9,9,9,9]') WHERE rowid = 2");
        assert_query(db, "SELECT count(*) FROM v_log", t == 0 ? "2006" : "6");
        sqlite3_int64 before[20], after[20];
        int nb = dense_knn(db, "SELECT rowid FROM v WHERE embedding MATCH ?1 AND k = 20", x + 3 * dim,
                           dim, before, NULL, 20);
        sqlite3_close(db);
        db = test_open(path);
        int na = dense_knn(db, "SELECT rowid FROM v WHERE embedding MATCH ?1 AND k = 20", x + 3 * dim,
                           dim, after, NULL, 20);
        cr_assert_eq(na, nb);
        for (int i = 0; i < na; i++) cr_assert_eq(after[i], before[i], "%s #%d", INDEXES[t], i);
        assert_query(db, "SELECT rowid FROM v WHERE embedding MATCH '[9,9,9,9,9,9,9,9]' AND k = 1", "2");
        assert_query(db, "SELECT count(*) FROM v WHERE embedding MATCH '[0,0,0,0,0,0,0,0]' "
                         "AND k = 5000", "1995");
        dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
        free(x);
        sqlite3_close(db);
    }
}

Test(dense, snapshot_is_split_over_many_rows) {
    const char *path = dense_path("big.db");
    sqlite3 *db = test_open(path);
    create(db, "HNSW16", 64);
    const int n = 6000;
    float *x = dense_clustered(n, 64, 10, 1);
    dense_exec(db, "BEGIN");
    for (int i = 0; i < n; i++) cr_assert_eq(dense_insert(db, "v", i + 1, x + i * 64, 64), 0);
    dense_exec(db, "COMMIT");
    /* 6000 x 64 floats = 1.5 MB of vectors alone: at least two 1 MiB rows */
    cr_assert_geq(dense_int(db, "SELECT count(*) FROM v_snapshot"), 2);
    cr_assert_leq(dense_int(db, "SELECT max(length(data)) FROM v_snapshot"), 1 << 20);
    cr_assert_eq(dense_int(db, "SELECT sum(length(data)) FROM v_snapshot"),
                 dense_int(db, "SELECT value FROM v_info WHERE key = 'snapshot_bytes'"));
    /* a single-row commit afterwards writes one log row, not a new snapshot */
    sqlite3_int64 gen = dense_int(db, "SELECT value FROM v_info WHERE key = 'gen'");
    dense_exec(db, "INSERT INTO v(rowid, embedding) SELECT 99999, embedding FROM v WHERE rowid = 5");
    cr_assert_eq(dense_int(db, "SELECT value FROM v_info WHERE key = 'gen'"), gen);
    cr_assert_eq(dense_int(db, "SELECT count(*) FROM v_log"), 1);
    free(x);
    sqlite3_close(db);
}

Test(dense, corrupt_snapshot_is_rebuilt_from_the_vectors) {
    const char *path = dense_path("corrupt.db");
    sqlite3 *db = test_open(path);
    create(db, "HNSW8", 2);
    dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (1, '[0,0]'), (2, '[1,0]'), (3, '[2,0]')");
    dense_exec(db, "INSERT INTO v(v) VALUES ('optimize')");
    dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (4, '[3,0]')"); /* in the log */
    sqlite3_close(db);

    const char *damage[] = {
        "UPDATE v_snapshot SET data = zeroblob(length(data)) WHERE chunk_no = 0",
        "DELETE FROM v_snapshot",
        "UPDATE v_info SET value = value + 1 WHERE key = 'snapshot_hash'",
        "UPDATE v_snapshot SET data = substr(data, 1, 20) WHERE chunk_no = 0",
    };
    for (size_t i = 0; i < sizeof damage / sizeof damage[0]; i++) {
        db = test_open(path);
        dense_exec(db, "INSERT INTO v(v) VALUES ('optimize')");
        sqlite3_close(db);
        sqlite3 *raw;
        cr_assert_eq(sqlite3_open(path, &raw), SQLITE_OK);
        dense_exec(raw, damage[i]);
        sqlite3_close(raw);
        db = test_open(path);
        cr_assert_str_eq(knn_all(db, "[2.9,0]"), "4,3,2,1", "damage %zu", i);
        assert_exec_error(db, "INSERT INTO v(v) VALUES ('integrity-check')", "snapshot");
        /* the next commit writes a good snapshot again */
        dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (5, '[4,0]')");
        dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
        dense_exec(db, "DELETE FROM v WHERE rowid = 5");
        sqlite3_close(db);
        db = test_open(path);
        cr_assert_str_eq(knn_all(db, "[2.9,0]"), "4,3,2,1");
        dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
        sqlite3_close(db);
    }
}

Test(dense, attached_database_table) {
    sqlite3 *db = test_open(NULL);
    char sql[256];
    snprintf(sql, sizeof sql, "ATTACH '%s' AS aux", dense_path("aux.db"));
    dense_exec(db, sql);
    dense_exec(db, "CREATE VIRTUAL TABLE aux.w USING silt_dense(dim=1, index='HNSW8')");
    dense_exec(db, "INSERT INTO aux.w(rowid, embedding) VALUES (1, '[1]'), (2, '[2]')");
    assert_query(db, "SELECT group_concat(name) FROM (SELECT name FROM aux.sqlite_master "
                     "WHERE type = 'table' ORDER BY name)", "w,w_data,w_info,w_log,w_snapshot");
    dense_exec(db, "BEGIN");
    dense_exec(db, "INSERT INTO aux.w(rowid, embedding) VALUES (3, '[0]')");
    dense_exec(db, "ROLLBACK");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM aux.w WHERE embedding "
                     "MATCH '[0]' AND k = 5)", "1,2");
    sqlite3_close(db);
}

/* Rows whose vectors reached FAISS's flat storage in the middle of a transaction (a bulk
 * insert is handed over in 1 MB batches) are rolled back too, by ROLLBACK TO and ROLLBACK,
 * and another connection sees only what was committed. */
Test(dense, rollback_of_a_bulk_insert_spanning_flat_batches) {
    const int dim = 64, n = 6000; /* 1.5 MB of vectors per 6000 rows */
    float *x = dense_clustered(3 * n, dim, 40, 31);
    const char *path = dense_path("bulk.db");
    sqlite3 *db = test_open(path);
    create(db, "Flat", dim);
    dense_exec(db, "BEGIN");
    for (int i = 0; i < n; i++) cr_assert_eq(dense_insert(db, "v", i + 1, x + (size_t)i * dim, dim), 0);
    dense_exec(db, "COMMIT");
    dense_exec(db, "BEGIN");
    for (int i = n; i < 2 * n; i++)
        cr_assert_eq(dense_insert(db, "v", i + 1, x + (size_t)i * dim, dim), 0);
    dense_exec(db, "SAVEPOINT s");
    for (int i = 2 * n; i < 3 * n; i++)
        cr_assert_eq(dense_insert(db, "v", i + 1, x + (size_t)i * dim, dim), 0);
    dense_exec(db, "DELETE FROM v WHERE rowid <= 10");
    cr_assert(dense_knn_finds(db, "v", x + (size_t)(2 * n + 7) * dim, dim, 2 * n + 8));
    dense_exec(db, "ROLLBACK TO s");
    cr_assert_not(dense_knn_finds(db, "v", x + (size_t)(2 * n + 7) * dim, dim, 2 * n + 8));
    cr_assert(dense_knn_finds(db, "v", x + (size_t)(n + 7) * dim, dim, n + 8));
    cr_assert(dense_knn_finds(db, "v", x + 4 * dim, dim, 5));
    dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
    dense_exec(db, "ROLLBACK");
    cr_assert_not(dense_knn_finds(db, "v", x + (size_t)(n + 7) * dim, dim, n + 8));
    static sqlite3_int64 ids[20000];
    cr_assert_eq(dense_knn(db, "SELECT rowid FROM v WHERE embedding MATCH ?1 AND k = 100000", x,
                           dim, ids, NULL, 20000),
                 n);
    dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
    sqlite3 *other = test_open(path);
    assert_query(other, "SELECT count(*) FROM v", "6000");
    cr_assert(dense_knn_finds(other, "v", x + 4 * dim, dim, 5));
    dense_exec(other, "INSERT INTO v(v) VALUES ('integrity-check')");
    sqlite3_close(other);
    sqlite3_close(db);
    free(x);
}
