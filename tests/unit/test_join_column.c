/* test_join_column.c: reading a column for silt_join (sqlext/join_column.h), suite
 * "join_column". The one-pass read must give exactly what SQLite's GROUP BY statement gives
 * (the definition): the same distinct values with the same texts, counts and order, the same
 * hashes. Checked on random columns mixing every storage class and the values SQLite compares
 * as equal (3 and 3.0, -0.0 and 0), on the cases the one-pass read leaves to SQLite (another
 * collation, a view, huge integral REALs, non-ASCII text in a UTF-16 database), and under
 * every allocation failure. */
#include "sqlext/join_column.h"

#include "sqlite_faults.h"
#include "testutil.h"

static void exec_ok(sqlite3 *db, const char *sql) {
    char *err = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql, err ? err : "");
}

/* Reads t.col both ways and asserts that they agree; returns whether the fast way was taken. */
static int agree(sqlite3 *db, const char *schema, const char *table, const char *col) {
    silt_join_column a, b;
    char *err = NULL;
    cr_assert_eq(silt_join_column_read(db, schema, table, col, SILT_JOIN_READ_FAST, &a, &err), SQLITE_OK, "%s",
                 err ? err : "");
    cr_assert_eq(silt_join_column_read(db, schema, table, col, SILT_JOIN_READ_SQL, &b, &err), SQLITE_OK, "%s",
                 err ? err : "");
    cr_assert_not(b.fast);
    cr_assert_eq(a.n_values, b.n_values, "%s.%s: %zu values against %zu", table, col, a.n_values, b.n_values);
    cr_assert_eq(a.n_rows, b.n_rows);
    for (size_t i = 0; i < a.n_values; i++) {
        cr_assert_eq(a.lens[i], b.lens[i], "%s.%s value %zu: '%s' against '%s'", table, col, i, a.values[i],
                     b.values[i]);
        cr_assert_eq(memcmp(a.values[i], b.values[i], a.lens[i]), 0, "%s.%s value %zu: '%s' against '%s'", table,
                     col, i, a.values[i], b.values[i]);
        cr_assert_eq(a.values[i][a.lens[i]], 0);
    }
    cr_assert_eq(a.n_hashes, b.n_hashes);
    cr_assert_eq(memcmp(a.hashes, b.hashes, a.n_hashes * sizeof *a.hashes), 0);
    int fast = a.fast;
    silt_join_column_free(&a);
    silt_join_column_free(&b);
    return fast;
}

/* Values of every storage class, equal pairs across classes, and repeats (counts tie). */
static const char *const pool[] = {
    "NULL", "''", "0", "-0.0", "0.0", "1", "1.0", "'1'", "x'31'", "2", "2.5", "-2.5", "'b'", "'B'", "'a'",
    "'ab'", "'a b'", "'b '", "x''", "x'00'", "x'6100'", "'é'", "'e'", "'z'", "9223372036854775807",
    "-9223372036854775808", "9007199254740991.0", "-9007199254740991", "0.1", "0.30000000000000004",
    "1e-300", "-7", "'-7'", "' '", "'10'", "10", "100", "'100'", "3.0", "3",
};

Test(join_column, one_pass_read_equals_sqlite_grouping_on_mixed_columns) {
    sqlite3 *db = test_open(NULL);
    /* no declared type (values kept as given), TEXT, INTEGER, REAL and NUMERIC affinity */
    exec_ok(db, "CREATE TABLE m(a, b TEXT, c INTEGER, d REAL, e NUMERIC, f BLOB)");
    uint64_t x = 12345;
    char sql[256];
    for (int round = 0; round < 40; round++) {
        exec_ok(db, "DELETE FROM m");
        int rows = 1 + round * 7 % 90;
        for (int r = 0; r < rows; r++) {
            const char *v[6];
            for (int k = 0; k < 6; k++) {
                x = x * 6364136223846793005ULL + 1442695040888963407ULL;
                /* a skewed pick, so that some values repeat and counts differ */
                unsigned u = (unsigned)(x >> 33) % 1000;
                v[k] = pool[u * u / 1000 * (sizeof pool / sizeof *pool) / 1000];
            }
            snprintf(sql, sizeof sql, "INSERT INTO m VALUES (%s, %s, %s, %s, %s, %s)", v[0], v[1], v[2], v[3],
                     v[4], v[5]);
            exec_ok(db, sql);
        }
        const char *cols[] = {"a", "b", "c", "e", "f"};
        for (int k = 0; k < 5; k++) cr_assert(agree(db, "main", "m", cols[k]), "column %s fell back", cols[k]);
        /* REAL affinity turns the largest integers into integral REALs of 2^63: left to SQLite */
        agree(db, "main", "m", "d");
    }
    sqlite3_close(db);
}

Test(join_column, what_the_one_pass_read_leaves_to_sqlite_still_agrees) {
    sqlite3 *db = test_open(NULL);
    exec_ok(db, "CREATE TABLE n(v TEXT COLLATE NOCASE, w COLLATE RTRIM, h, i INTEGER PRIMARY KEY)");
    exec_ok(db, "INSERT INTO n VALUES ('a', 'x ', 1e16, 5), ('A', 'x', 10000000000000000, 6), ('b', 'y', 2, 7),"
                "('B', 'y  ', 1e300, 8), ('a', 'x', 3.5, 9)");
    exec_ok(db, "CREATE VIEW nv AS SELECT v || '!' AS s, i FROM n");
    cr_assert_not(agree(db, "main", "n", "v"));  /* NOCASE: 'a' and 'A' are one value */
    cr_assert_not(agree(db, "main", "n", "w"));  /* RTRIM */
    cr_assert_not(agree(db, "main", "n", "h"));  /* 1e16 equals an INTEGER with another text */
    cr_assert(agree(db, "main", "n", "i"));      /* the rowid's alias is an ordinary column */
    cr_assert_not(agree(db, "main", "nv", "s")); /* a view */
    sqlite3_close(db);
}

Test(join_column, texts_of_a_utf16_database) {
    sqlite3 *db = test_open(NULL);
    exec_ok(db, "PRAGMA encoding = 'UTF-16le'");
    exec_ok(db, "CREATE TABLE u(v TEXT, w TEXT)");
    /* U+00E9 sorts after 'z' in UTF-8 and before it in UTF-16LE's bytes (e9 00 < 7a 00) */
    exec_ok(db, "INSERT INTO u VALUES ('z', 'z'), ('é', 'a'), ('e', 'Z'), ('ab', 'ab'), ('z', 'b')");
    cr_assert_not(agree(db, "main", "u", "v")); /* non-ASCII: SQLite orders it */
    cr_assert(agree(db, "main", "u", "w"));     /* ASCII orders alike in every encoding */
    sqlite3_close(db);
}

Test(join_column, missing_table_or_column_is_an_error) {
    sqlite3 *db = test_open(NULL);
    exec_ok(db, "CREATE TABLE t(v)");
    silt_join_column c;
    char *err = NULL;
    cr_assert_eq(silt_join_column_read(db, "main", "t", "nope", SILT_JOIN_READ_FAST, &c, &err), SQLITE_ERROR);
    cr_assert(strstr(err, "no column named nope"), "%s", err);
    sqlite3_free(err);
    err = NULL;
    cr_assert_eq(silt_join_column_read(db, "main", "nope", "v", SILT_JOIN_READ_FAST, &c, &err), SQLITE_ERROR);
    cr_assert(strstr(err, "no such table"), "%s", err);
    sqlite3_free(err);
    cr_assert_eq(c.n_values, 0);
    sqlite3_close(db);
}

Test(join_column, every_allocation_failure_is_an_error_and_leaves_nothing) {
    install_faulty_allocator();
    sqlite3 *db = test_open(NULL);
    exec_ok(db, "CREATE TABLE t(v)");
    /* enough distinct values to grow the value table, the text buffer and the slots */
    exec_ok(db, "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 700) "
                "INSERT INTO t SELECT CASE i % 3 WHEN 0 THEN i WHEN 1 THEN 'w' || i || printf('%.*c', i % 40, 'x') "
                "ELSE i + 0.5 END FROM s");
    silt_join_column want;
    char *err = NULL;
    cr_assert_eq(silt_join_column_read(db, "main", "t", "v", SILT_JOIN_READ_SQL, &want, &err), SQLITE_OK);
    int failures = 0;
    for (int how = 0; how < 2; how++) {
        for (long n = 1;; n++) {
            silt_join_column c;
            err = NULL;
            injected = 0;
            fail_countdown = n;
            int rc = silt_join_column_read(db, "main", "t", "v", how, &c, &err);
            fail_countdown = 0;
            sqlite3_free(err);
            if (!injected) {
                cr_assert_eq(rc, SQLITE_OK);
                cr_assert_eq(c.fast, how == SILT_JOIN_READ_FAST);
                cr_assert_eq(c.n_values, want.n_values);
                cr_assert_eq(memcmp(c.hashes, want.hashes, c.n_hashes * sizeof *c.hashes), 0);
                silt_join_column_free(&c);
                break;
            }
            cr_assert_neq(rc, SQLITE_OK, "allocation %ld failed unnoticed", n);
            cr_assert(c.n_values == 0 && !c.values && !c.buf && !c.hashes);
            failures++;
        }
    }
    cr_assert_gt(failures, 10);
    silt_join_column_free(&want);
    sqlite3_close(db);
}
