/* test_dense.c: silt_dense queries and writes on one connection: distances per metric,
 * filters, LIMIT/OFFSET, scans, UPDATE/DELETE/REPLACE, DROP/RENAME, commands and errors. */
#include "dense_testutil.h"
#include "index/dense_index.h"

/* A 2-d table with rows 1..4 at (0,0) (1,0) (2,0) (3,0). */
static sqlite3 *line_table(const char *options) {
    sqlite3 *db = test_open(NULL);
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE v USING silt_dense(%s)", options);
    dense_exec(db, sql);
    dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (1, '[0,0]'), (2, '[1,0]'), "
                   "(3, '[2,0]'), (4, '[3,0]')");
    return db;
}

Test(dense, l2_knn_returns_nearest_with_euclidean_distance) {
    sqlite3 *db = line_table("dim=2");
    float q[2] = {2.9f, 0};
    sqlite3_int64 ids[8];
    double d[8];
    int n = dense_knn(db, "SELECT rowid, distance FROM v WHERE embedding MATCH ?1 AND k = 3", q,
                      2, ids, d, 8);
    cr_assert_eq(n, 3);
    cr_assert_eq(ids[0], 4);
    cr_assert_eq(ids[1], 3);
    cr_assert_eq(ids[2], 2);
    cr_assert_float_eq(d[0], 0.1, 1e-6);
    cr_assert_float_eq(d[1], 0.9, 1e-6);
    cr_assert_float_eq(d[2], 1.9, 1e-6);
    sqlite3_close(db);
}

Test(dense, cosine_and_ip_distances) {
    sqlite3 *db = test_open(NULL);
    dense_exec(db, "CREATE VIRTUAL TABLE c USING silt_dense(dim=2, metric=cosine)");
    dense_exec(db, "CREATE VIRTUAL TABLE p USING silt_dense(dim=2, metric=ip)");
    dense_exec(db, "INSERT INTO c(rowid, embedding) VALUES (1, '[2,0]'), (2, '[0,3]'), (3, '[1,1]')");
    dense_exec(db, "INSERT INTO p(rowid, embedding) VALUES (1, '[2,0]'), (2, '[0,3]'), (3, '[1,1]')");
    float q[2] = {1, 0};
    sqlite3_int64 ids[4];
    double d[4];
    int n = dense_knn(db, "SELECT rowid, distance FROM c WHERE embedding MATCH ?1 AND k = 3", q, 2,
                      ids, d, 4);
    cr_assert_eq(n, 3);
    cr_assert(ids[0] == 1 && ids[1] == 3 && ids[2] == 2);
    cr_assert_float_eq(d[0], 0.0, 1e-6);
    cr_assert_float_eq(d[1], 1 - sqrt(0.5), 1e-6);
    cr_assert_float_eq(d[2], 1.0, 1e-6);
    /* The stored vector is the one given, not its normalised copy. */
    assert_query(db, "SELECT silt_vec_json(embedding) FROM c WHERE rowid = 1", "[2,0]");
    n = dense_knn(db, "SELECT rowid, distance FROM p WHERE embedding MATCH ?1 AND k = 3", q, 2, ids,
                  d, 4);
    cr_assert(ids[0] == 1 && ids[1] == 3 && ids[2] == 2);
    cr_assert_float_eq(d[0], -2.0, 1e-6);
    cr_assert_float_eq(d[1], -1.0, 1e-6);
    cr_assert_float_eq(d[2], 0.0, 1e-6);
    sqlite3_close(db);
}

Test(dense, k_larger_than_table_and_huge_k_return_all_rows) {
    sqlite3 *db = line_table("dim=2");
    assert_query(db, "SELECT count(*) FROM v WHERE embedding MATCH '[0,0]' AND k = 100", "4");
    assert_query(db, "SELECT count(*) FROM v WHERE embedding MATCH '[0,0]' "
                     "AND k = 9223372036854775807", "4");
    assert_query(db, "SELECT count(*) FROM v WHERE embedding MATCH '[0,0]' AND k = 0", "0");
    sqlite3_close(db);
}

Test(dense, order_by_distance_limit_and_offset) {
    sqlite3 *db = line_table("dim=2");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[0,0]' ORDER BY distance LIMIT 2)", "1,2");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[0,0]' ORDER BY distance LIMIT 2 OFFSET 1)", "2,3");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[0,0]' ORDER BY distance LIMIT 10 OFFSET 3)", "4");
    /* k and LIMIT together: k bounds the search, LIMIT the rows shown. */
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[0,0]' AND k = 3 ORDER BY distance LIMIT 2 OFFSET 1)", "2,3");
    /* No k and no LIMIT: every row, nearest first. */
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[3,0]')", "4,3,2,1");
    sqlite3_close(db);
}

/* Without k, rows stream in batches: more than one batch must come out complete, in
 * order, without duplicates. */
Test(dense, limit_streams_past_the_first_batch) {
    sqlite3 *db = test_open(NULL);
    dense_exec(db, "CREATE VIRTUAL TABLE v USING silt_dense(dim=1)");
    dense_exec(db, "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) "
                   "INSERT INTO v(rowid, embedding) SELECT i, silt_vec(json_array(i)) FROM n");
    assert_query(db, "SELECT count(*) || ' ' || count(DISTINCT rowid) || ' ' || min(rowid) || ' ' "
                     "|| max(rowid) FROM (SELECT rowid FROM v WHERE embedding MATCH '[0]' "
                     "ORDER BY distance LIMIT 300 OFFSET 100)", "300 300 101 400");
    assert_query(db, "SELECT sum(ok) FROM (SELECT rowid = row_number() OVER () AS ok FROM "
                     "(SELECT rowid FROM v WHERE embedding MATCH '[0]' LIMIT 1000))", "1000");
    sqlite3_close(db);
}

Test(dense, rowid_filters_are_pushed_into_the_search) {
    sqlite3 *db = line_table("dim=2");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[0,0]' AND k = 2 AND rowid IN (2, 4, 99))", "2,4");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[0,0]' AND k = 2 AND rowid > 1 AND rowid <= 4)", "2,3");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[0,0]' AND k = 5 AND rowid = 3)", "3");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[0,0]' AND k = 5 AND rowid >= 2.5)", "3,4");
    assert_query(db, "SELECT count(*) FROM v WHERE embedding MATCH '[0,0]' AND k = 5 "
                     "AND rowid > 'text'", "0");
    dense_exec(db, "CREATE TABLE docs(id INTEGER PRIMARY KEY, year INT)");
    dense_exec(db, "INSERT INTO docs VALUES (1, 2019), (2, 2021), (3, 2018), (4, 2022)");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[0,0]' AND k = 2 AND rowid IN (SELECT id FROM docs WHERE year >= 2020))",
                 "2,4");
    sqlite3_close(db);
}

/* A selective filter on an approximate index still returns k rows when k rows match. */
Test(dense, filtered_query_returns_k_rows_whenever_k_match) {
    const int n = 3000, dim = 16;
    float *x = dense_clustered(n, dim, 20, 11);
    const char *indexes[] = {"HNSW16", "IVF16,Flat", "Flat", "IVF16,PQ4"};
    for (size_t t = 0; t < sizeof indexes / sizeof indexes[0]; t++) {
        sqlite3 *db = test_open(NULL);
        char sql[256];
        snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE v USING silt_dense(dim=16, index='%s')",
                 indexes[t]);
        dense_exec(db, sql);
        dense_exec(db, "BEGIN");
        for (int i = 0; i < n; i++) cr_assert_eq(dense_insert(db, "v", i + 1, x + i * dim, dim), 0);
        dense_exec(db, "COMMIT");
        sqlite3_int64 ids[64];
        /* 25 matching rows out of 3000, far from the query's cluster */
        int got = dense_knn(db, "WITH RECURSIVE s(i) AS (SELECT 7 UNION ALL SELECT i + 120 FROM s "
                                "WHERE i < 2880) SELECT rowid FROM v WHERE embedding MATCH ?1 "
                                "AND k = 20 AND rowid IN (SELECT i FROM s)",
                            x, dim, ids, NULL, 64);
        cr_assert_eq(got, 20, "%s: %d rows", indexes[t], got);
        /* A wide range filter (half the rows): still k rows, all inside the range. */
        got = dense_knn(db, "SELECT rowid FROM v WHERE embedding MATCH ?1 AND k = 50 "
                            "AND rowid BETWEEN 1000 AND 2500", x + 5 * dim, dim, ids, NULL, 64);
        cr_assert_eq(got, 50, "%s", indexes[t]);
        for (int i = 0; i < got; i++) cr_assert(ids[i] >= 1000 && ids[i] <= 2500);
        /* Deleted rows never come back, even when the index keeps their slots. */
        dense_exec(db, "DELETE FROM v WHERE rowid % 2 = 0");
        got = dense_knn(db, "SELECT rowid FROM v WHERE embedding MATCH ?1 AND k = 40", x, dim,
                        ids, NULL, 64);
        cr_assert_eq(got, 40);
        for (int i = 0; i < got; i++) cr_assert(ids[i] % 2 == 1, "%s: deleted row %lld", indexes[t],
                                                (long long)ids[i]);
        sqlite3_close(db);
    }
    free(x);
}

Test(dense, query_vector_from_column_join_and_subquery) {
    sqlite3 *db = line_table("dim=2");
    dense_exec(db, "CREATE TABLE q(id INTEGER PRIMARY KEY, v BLOB)");
    dense_exec(db, "INSERT INTO q VALUES (1, silt_vec('[0.1,0]')), (2, silt_vec('[2.9,0]'))");
    assert_query(db, "SELECT group_concat(q.id || ':' || v.rowid) FROM q, v WHERE "
                     "v.embedding MATCH q.v AND v.k = 1", "1:1,2:4");
    assert_query(db, "SELECT group_concat(q.id || ':' || v.rowid) FROM q JOIN v ON "
                     "v.embedding MATCH q.v AND v.k = 1 ORDER BY q.id", "1:1,2:4");
    assert_query(db, "SELECT rowid FROM v WHERE embedding MATCH (SELECT v FROM q WHERE id = 2) "
                     "AND k = 1", "4");
    /* The query vector may itself be a row of the table. */
    assert_query(db, "SELECT group_concat(b.rowid) FROM v AS a, v AS b WHERE a.rowid = 2 AND "
                     "b.embedding MATCH a.embedding AND b.k = 2", "2,1");
    sqlite3_close(db);
}

Test(dense, full_scan_rowid_lookup_and_range) {
    sqlite3 *db = line_table("dim=2");
    assert_query(db, "SELECT group_concat(rowid) FROM v", "1,2,3,4");
    assert_query(db, "SELECT silt_vec_json(embedding) FROM v WHERE rowid = 3", "[2,0]");
    assert_query(db, "SELECT group_concat(rowid) FROM v WHERE rowid BETWEEN 2 AND 3", "2,3");
    assert_query(db, "SELECT group_concat(rowid) FROM v WHERE rowid IN (4, 1)", "1,4");
    assert_query(db, "SELECT count(*) FROM v WHERE rowid = 'x'", "0");
    assert_query(db, "SELECT distance IS NULL FROM v WHERE rowid = 1", "1");
    sqlite3_close(db);
}

Test(dense, update_delete_and_insert_or_replace) {
    sqlite3 *db = line_table("dim=2");
    dense_exec(db, "UPDATE v SET embedding = '[10,0]' WHERE rowid = 1");
    assert_query(db, "SELECT rowid FROM v WHERE embedding MATCH '[10,0]' AND k = 1", "1");
    dense_exec(db, "UPDATE v SET rowid = 7 WHERE rowid = 1");
    assert_query(db, "SELECT rowid FROM v WHERE embedding MATCH '[10,0]' AND k = 1", "7");
    assert_query(db, "SELECT count(*) FROM v WHERE rowid = 1", "0");
    assert_exec_error(db, "UPDATE v SET rowid = 2 WHERE rowid = 7", "UNIQUE constraint failed");
    dense_exec(db, "UPDATE OR REPLACE v SET rowid = 2 WHERE rowid = 7");
    assert_query(db, "SELECT group_concat(rowid) FROM v", "2,3,4");
    assert_query(db, "SELECT rowid FROM v WHERE embedding MATCH '[10,0]' AND k = 1", "2");
    dense_exec(db, "DELETE FROM v WHERE rowid = 3");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[2,0]' AND k = 10)", "4,2");
    dense_exec(db, "INSERT OR REPLACE INTO v(rowid, embedding) VALUES (4, '[0,0]')");
    assert_query(db, "SELECT rowid FROM v WHERE embedding MATCH '[0,0]' AND k = 1", "4");
    assert_exec_error(db, "INSERT INTO v(rowid, embedding) VALUES (4, '[1,1]')",
                      "UNIQUE constraint failed: v.rowid");
    dense_exec(db, "INSERT OR IGNORE INTO v(rowid, embedding) VALUES (4, '[1,1]')");
    assert_query(db, "SELECT silt_vec_json(embedding) FROM v WHERE rowid = 4", "[0,0]");
    /* NULL rowid: assigned like a rowid table (max + 1). */
    dense_exec(db, "INSERT INTO v(embedding) VALUES ('[5,5]')");
    assert_query(db, "SELECT max(rowid) FROM v", "5");
    assert_query(db, "SELECT rowid FROM v WHERE embedding MATCH '[5,5]' AND k = 1", "5");
    assert_query(db, "SELECT last_insert_rowid()", "5");
    dense_exec(db, "DELETE FROM v");
    assert_query(db, "SELECT count(*) FROM v WHERE embedding MATCH '[0,0]' AND k = 10", "0");
    dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
    sqlite3_close(db);
}

Test(dense, drop_table_removes_shadow_tables) {
    sqlite3 *db = line_table("dim=2, index='HNSW8'");
    assert_query(db, "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE "
                     "name LIKE 'v%' ORDER BY name)", "v,v_data,v_info,v_log,v_snapshot");
    dense_exec(db, "DROP TABLE v");
    assert_query(db, "SELECT count(*) FROM sqlite_master", "0");
    sqlite3_close(db);
}

Test(dense, rename_moves_shadow_tables_and_keeps_working) {
    sqlite3 *db = line_table("dim=2");
    assert_query(db, "SELECT rowid FROM v WHERE embedding MATCH '[3,0]' AND k = 1", "4");
    dense_exec(db, "ALTER TABLE v RENAME TO w");
    assert_query(db, "SELECT group_concat(name) FROM (SELECT name FROM sqlite_master WHERE "
                     "type = 'table' ORDER BY name)", "w,w_data,w_info,w_log,w_snapshot");
    assert_query(db, "SELECT rowid FROM w WHERE embedding MATCH '[3,0]' AND k = 1", "4");
    dense_exec(db, "INSERT INTO w(rowid, embedding) VALUES (9, '[9,0]')");
    assert_query(db, "SELECT rowid FROM w WHERE embedding MATCH '[8,0]' AND k = 1", "9");
    dense_exec(db, "INSERT INTO w(w) VALUES ('integrity-check')");
    sqlite3_close(db);
}

Test(dense, shadow_tables_are_read_only_in_defensive_mode) {
    sqlite3 *db = line_table("dim=2");
    sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
    assert_exec_error(db, "DELETE FROM v_data", "may not be modified");
    dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (9, '[9,0]')");
    assert_query(db, "SELECT count(*) FROM v_data", "5");
    sqlite3_close(db);
}

Test(dense, integrity_check_passes_and_detects_tampering) {
    sqlite3 *db = line_table("dim=2");
    dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
    /* Edit the truth behind the index's back (only possible outside defensive mode). */
    dense_exec(db, "UPDATE v_data SET embedding = silt_vec('[7,7]') WHERE id = 2");
    assert_exec_error(db, "INSERT INTO v(v) VALUES ('integrity-check')",
                      "row 2: the index holds another vector than the table");
    dense_exec(db, "INSERT INTO v(v) VALUES ('rebuild')");
    dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
    dense_exec(db, "INSERT INTO v_data(id, embedding) VALUES (50, silt_vec('[1,1]'))");
    assert_exec_error(db, "INSERT INTO v(v) VALUES ('integrity-check')",
                      "row 50 is missing from the index");
    dense_exec(db, "DELETE FROM v_data WHERE id >= 3");
    dense_exec(db, "INSERT INTO v(v) VALUES ('optimize')");
    dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
    dense_exec(db, "UPDATE v_data SET embedding = x'0000' WHERE id = 1");
    assert_exec_error(db, "INSERT INTO v(v) VALUES ('integrity-check')",
                      "row 1: stored embedding is not a vector of dim 2");
    sqlite3_close(db);
}

Test(dense, optimize_and_rebuild_keep_every_row) {
    sqlite3 *db = line_table("dim=2, index='HNSW8'");
    dense_exec(db, "DELETE FROM v WHERE rowid = 2");
    dense_exec(db, "UPDATE v SET embedding = '[0.5,0]' WHERE rowid = 3");
    dense_exec(db, "INSERT INTO v(v) VALUES ('optimize')");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[0,0]' AND k = 10)", "1,3,4");
    assert_query(db, "SELECT count(*) FROM v_log", "0");
    assert_query(db, "SELECT value > 0 FROM v_info WHERE key = 'snapshot_bytes'", "1");
    dense_exec(db, "INSERT INTO v(v) VALUES ('rebuild')");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[0,0]' AND k = 10)", "1,3,4");
    dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
    sqlite3_close(db);
}

/* Every bad input gives an SQL error that names it, and changes nothing. */
Test(dense, bad_values_give_clear_errors_and_change_nothing) {
    sqlite3 *db = line_table("dim=2");
    assert_exec_error(db, "INSERT INTO v(rowid, embedding) VALUES (9, '[1,2,3]')",
                      "silt_dense: embedding has dim 3, expected 2");
    assert_exec_error(db, "INSERT INTO v(rowid, embedding) VALUES (9, NULL)",
                      "silt_dense: embedding is NULL: expected a vector of dim 2");
    assert_exec_error(db, "INSERT INTO v(rowid, embedding) VALUES (9, 'hello')",
                      "silt_dense: embedding: not a JSON array");
    assert_exec_error(db, "INSERT INTO v(rowid, embedding) VALUES (9, 42)",
                      "silt_dense: embedding: expected a float32 BLOB or a JSON array text");
    assert_exec_error(db, "INSERT INTO v(rowid, embedding) VALUES (9, x'0000c07f0000803f')",
                      "silt_dense: embedding");
    assert_exec_error(db, "INSERT INTO v(rowid, embedding) VALUES (9, x'000000')",
                      "silt_dense: embedding");
    assert_exec_error(db, "INSERT INTO v(rowid, embedding) VALUES ('abc', '[1,1]')",
                      "datatype mismatch");
    assert_exec_error(db, "UPDATE v SET embedding = '[1]' WHERE rowid = 1",
                      "silt_dense: embedding has dim 1, expected 2");
    assert_exec_error(db, "SELECT * FROM v WHERE embedding MATCH '[1,2,3]' AND k = 1",
                      "silt_dense: embedding MATCH: query vector has dim 3, expected 2");
    assert_exec_error(db, "SELECT * FROM v WHERE embedding MATCH 'nope' AND k = 1",
                      "silt_dense: embedding MATCH: query vector: not a JSON array");
    assert_exec_error(db, "SELECT * FROM v WHERE embedding MATCH NULL AND k = 1",
                      "silt_dense: embedding MATCH: query vector: vector is NULL");
    assert_exec_error(db, "SELECT * FROM v WHERE embedding MATCH '[1,1]' AND k = -1",
                      "silt_dense: k must be an integer >= 0, got -1");
    assert_exec_error(db, "SELECT * FROM v WHERE embedding MATCH '[1,1]' AND k = 2.5",
                      "silt_dense: k must be an integer >= 0, got 2.5");
    assert_exec_error(db, "SELECT * FROM v WHERE embedding MATCH '[1,1]' AND k = 1e300",
                      "silt_dense: k must be an integer >= 0, got 1.0e+300");
    assert_exec_error(db, "SELECT * FROM v WHERE embedding MATCH '[1,1]' AND k = 'ten'",
                      "silt_dense: k must be an integer >= 0, got 'ten'");
    assert_exec_error(db, "SELECT * FROM v WHERE embedding MATCH '[1,1]' AND k = NULL",
                      "silt_dense: k must be an integer >= 0, got NULL");
    assert_exec_error(db, "SELECT * FROM v WHERE embedding MATCH '[1,1]' AND k = 1 AND "
                          "ef_search = 0", "silt_dense: ef_search must be an integer between 1");
    assert_exec_error(db, "SELECT * FROM v WHERE embedding MATCH '[1,1]' AND k = 1 AND "
                          "nprobe = 99999999", "silt_dense: nprobe must be an integer between 1");
    assert_exec_error(db, "SELECT * FROM v WHERE k = 3", "silt_dense: k applies only to a "
                                                         "nearest-neighbour query");
    assert_exec_error(db, "INSERT INTO v(v) VALUES ('compact')",
                      "silt_dense: unknown command 'compact': expected 'optimize', 'rebuild' or "
                      "'integrity-check'");
    /* Cosine: a zero vector has no direction. */
    dense_exec(db, "CREATE VIRTUAL TABLE c USING silt_dense(dim=2, metric=cosine)");
    assert_exec_error(db, "INSERT INTO c(rowid, embedding) VALUES (1, '[0,0]')",
                      "silt_dense: vector is a zero vector: cosine distance is undefined");
    assert_exec_error(db, "SELECT * FROM c WHERE embedding MATCH '[0,0]' AND k = 1",
                      "silt_dense: query vector is a zero vector");
    /* Nothing changed. */
    assert_query(db, "SELECT group_concat(rowid) FROM v", "1,2,3,4");
    assert_query(db, "SELECT count(*) FROM c", "0");
    dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
    sqlite3_close(db);
}

/* A multi-row statement that fails half-way leaves neither table nor index changed. */
Test(dense, failed_statement_leaves_index_unchanged) {
    sqlite3 *db = line_table("dim=2");
    assert_exec_error(db, "INSERT INTO v(rowid, embedding) VALUES (10, '[9,9]'), (11, '[1]')",
                      "dim 1, expected 2");
    assert_query(db, "SELECT count(*) FROM v WHERE embedding MATCH '[9,9]' AND k = 10", "4");
    dense_exec(db, "BEGIN");
    assert_exec_error(db, "INSERT INTO v(rowid, embedding) VALUES (10, '[9,9]'), (11, '[1]')",
                      "dim 1, expected 2");
    assert_query(db, "SELECT rowid FROM v WHERE embedding MATCH '[9,9]' AND k = 1", "4");
    dense_exec(db, "INSERT INTO v(rowid, embedding) VALUES (12, '[9,9]')");
    dense_exec(db, "COMMIT");
    assert_query(db, "SELECT group_concat(rowid) FROM (SELECT rowid FROM v WHERE embedding "
                     "MATCH '[9,9]' AND k = 2)", "12,4");
    dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
    sqlite3_close(db);
}

Test(dense, bad_options_give_clear_errors) {
    sqlite3 *db = test_open(NULL);
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(metric=l2)",
                      "silt_dense: option dim is required");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=0)",
                      "silt_dense: dim must be an integer between 1 and 65536, got '0'");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=abc)",
                      "silt_dense: dim must be an integer between 1 and 65536, got 'abc'");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=-3)", "got '-3'");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=4, dim=5)",
                      "silt_dense: option 'dim' is given twice");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=4, metric=hamming)",
                      "silt_dense: metric must be l2, cosine or ip, got 'hamming'");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=4, colour=red)",
                      "silt_dense: unknown option 'colour' (expected dim, metric, index or model), "
                      "or ef_construction with an HNSW index");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=4, fast)",
                      "silt_dense: option 'fast' must look like name=value");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=4, index='Bogus99')",
                      "silt_dense: index 'Bogus99' for dim 4: 'Bogus99' is not a supported index");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=10, index='PQ3')",
                      "silt_dense: index 'PQ3' for dim 10");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=4, index='IDMap,Flat')",
                      "leave IDMap out");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=4, index='')",
                      "silt_dense: index must be a FAISS index_factory description");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=4, model=no_such_model)",
                      "silt_dense: model 'no_such_model'");
    assert_query(db, "SELECT count(*) FROM sqlite_master", "0");
    dense_exec(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim = 4, metric = 'COSINE', "
                   "index = \"IVF2,Flat\")");
    sqlite3_close(db);
}

/* Factory strings with several parts, and search-effort columns. */
Test(dense, index_variants_and_search_effort_columns) {
    const char *indexes[] = {"HNSW8", "HNSW8,Flat", "IVF2,Flat", "PCA4,Flat", "SQ8", "LSH"};
    for (size_t t = 0; t < sizeof indexes / sizeof indexes[0]; t++) {
        sqlite3 *db = test_open(NULL);
        char sql[256];
        snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE v USING silt_dense(dim=8, index='%s')",
                 indexes[t]);
        dense_exec(db, sql);
        float *x = dense_clustered(500, 8, 5, 3 + t);
        dense_exec(db, "BEGIN");
        for (int i = 0; i < 500; i++) cr_assert_eq(dense_insert(db, "v", i + 1, x + i * 8, 8), 0);
        dense_exec(db, "COMMIT");
        sqlite3_int64 ids[16];
        int n = dense_knn(db, "SELECT rowid, ef_search FROM v WHERE embedding MATCH ?1 AND k = 10 "
                              "AND ef_search = 200 AND nprobe = 2", x + 17 * 8, 8, ids, NULL, 16);
        cr_assert_eq(n, 10, "%s", indexes[t]);
        assert_query(db, "SELECT ef_search || ',' || nprobe || ',' || k FROM v WHERE embedding "
                         "MATCH '[1,1,1,1,1,1,1,1]' AND k = 1 AND ef_search = 20 AND nprobe = 3",
                     "20,3,1");
        dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
        free(x);
        sqlite3_close(db);
    }
}

Test(dense, ef_construction_option_is_checked) {
    sqlite3 *db = test_open(NULL);
    const char *bad[] = {"0", "15", "4097", "abc", "", "64x", "-200"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char sql[160], want[128];
        snprintf(sql, sizeof sql,
                 "CREATE VIRTUAL TABLE a USING silt_dense(dim=8, index='HNSW8', ef_construction='%s')",
                 bad[i]);
        snprintf(want, sizeof want,
                 "silt_dense: ef_construction must be an integer between 16 and 4096, got '%s'",
                 bad[i]);
        assert_exec_error(db, sql, want);
    }
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=8, index='HNSW8', "
                          "ef_construction=64, ef_construction=80)",
                      "silt_dense: option 'ef_construction' is given twice");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=8, ef_construction=64)",
                      "silt_dense: ef_construction applies only to an index with an HNSW graph "
                      "(HNSW<M>... or IVF<nlist>_HNSW<M>,...), not to 'Flat'");
    assert_exec_error(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=8, index='IVF4,Flat', "
                          "ef_construction=64)",
                      "not to 'IVF4,Flat'");
    assert_query(db, "SELECT count(*) FROM sqlite_master", "0");
    dense_exec(db, "CREATE VIRTUAL TABLE a USING silt_dense(dim=8, index='HNSW8', ef_construction=16)");
    dense_exec(db, "CREATE VIRTUAL TABLE b USING silt_dense(dim=8, index='IVF4_HNSW8,Flat', "
                   "ef_construction = '4096')");
    sqlite3_close(db);
}

/* The efConstruction the stored snapshot's HNSW graph was built with (the snapshot is read
 * back through the index layer). */
static int snapshot_ef_construction(sqlite3 *db, const char *table) {
    char sql[128];
    snprintf(sql, sizeof sql, "SELECT data FROM %s_snapshot ORDER BY chunk_no", table);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    char *buf = NULL;
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        size_t len = (size_t)sqlite3_column_bytes(st, 0);
        buf = realloc(buf, n + len);
        cr_assert_not_null(buf);
        memcpy(buf + n, sqlite3_column_blob(st, 0), len);
        n += len;
    }
    sqlite3_finalize(st);
    cr_assert_gt(n, 0, "no snapshot stored for %s", table);
    char *err = NULL;
    silt_dense_index *ix = silt_dense_index_deserialize(buf, n, 8, SILT_METRIC_L2, "HNSW8", &err);
    cr_assert_not_null(ix, "%s", err ? err : "");
    int ef = silt_dense_index_ef_construction(ix);
    silt_dense_index_free(ix);
    free(buf);
    return ef;
}

/* The option is part of the table's definition: a snapshot, a reopened database and a
 * 'rebuild' (a fresh graph) all build with it; without it the default applies. */
Test(dense, ef_construction_option_persists_through_reopen_and_rebuild) {
    const char *path = dense_path("efc.db");
    sqlite3 *db = test_open(path);
    dense_exec(db, "CREATE VIRTUAL TABLE v USING silt_dense(dim=8, index='HNSW8', ef_construction=77)");
    dense_exec(db, "CREATE VIRTUAL TABLE d USING silt_dense(dim=8, index='HNSW8')");
    float *x = dense_clustered(1500, 8, 6, 11);
    dense_exec(db, "BEGIN");
    for (int i = 0; i < 1500; i++) {
        cr_assert_eq(dense_insert(db, "v", i + 1, x + i * 8, 8), 0);
        cr_assert_eq(dense_insert(db, "d", i + 1, x + i * 8, 8), 0);
    }
    dense_exec(db, "COMMIT"); /* 1500 log rows for 1500 rows: the commit writes a snapshot */
    cr_assert_eq(snapshot_ef_construction(db, "v"), 77, "got %d", snapshot_ef_construction(db, "v"));
    cr_assert_eq(snapshot_ef_construction(db, "d"), SILT_DENSE_EF_CONSTRUCTION_DEFAULT);
    sqlite3_close(db);

    db = test_open(path);
    cr_assert(dense_knn_finds(db, "v", x + 5 * 8, 8, 6));
    dense_exec(db, "INSERT INTO v(v) VALUES ('rebuild')");
    cr_assert_eq(snapshot_ef_construction(db, "v"), 77, "got %d", snapshot_ef_construction(db, "v"));
    dense_exec(db, "INSERT INTO v(v) VALUES ('integrity-check')");
    cr_assert(dense_knn_finds(db, "v", x + 700 * 8, 8, 701));
    free(x);
    sqlite3_close(db);
}
