/* test_join_summary.c: silt_join's in-memory copy of the list lengths and column sizes
 * (sqlext/join_summary.h), suite "join_summary".
 *
 * A connection keeps the copy between searches, so every way the lake can change under it
 * must show in its next answer. Two kinds of tests: every answer (both searches, every query
 * column) compared with a fresh connection's after tables are re-added, dropped, written and
 * rolled back, or written by another connection; and a column that grows under the copy
 * while keeping its id, where a stale size would hide it (these fail when the copy is not
 * dropped after another connection's commit, after this connection's write, or is used
 * inside a transaction that wrote and then rolled back). Both in main and in an ATTACHed
 * database. */
#include <unistd.h>

#include "join_testutil.h"
#include "sqlext/join_summary.h"
#include "sqlite_faults.h"

/* A lake file of 12 one-column tables drawn from 40 values, skewed so that list lengths
 * differ; returns its path (malloc'd). The lake table is schema.lj. */
static char *make_lake(const char *schema_sql) {
    char *path = strdup("/tmp/silt-join-summary-XXXXXX");
    cr_assert(path);
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    close(fd);
    sqlite3 *db = test_open(path);
    uint64_t x = 777;
    char sql[256];
    exec_ok(db, "BEGIN");
    for (int t = 0; t < 12; t++) {
        snprintf(sql, sizeof sql, "CREATE TABLE t%d(v TEXT)", t);
        exec_ok(db, sql);
        x = x * 6364136223846793005ULL + 1442695040888963407ULL;
        int n = 3 + (int)((x >> 33) % 25);
        for (int i = 0; i < n; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            unsigned r = (unsigned)(x >> 40) % 40;
            snprintf(sql, sizeof sql, "INSERT INTO t%d VALUES ('w%u')", t, r * r / 40);
            exec_ok(db, sql);
        }
    }
    /* The tables the tests refill with every value start with one: a stale copy of their
     * size would then bound their overlap by 1. */
    exec_ok(db, "DELETE FROM t3; DELETE FROM t4; DELETE FROM t7;"
                "INSERT INTO t3 VALUES ('w0'); INSERT INTO t4 VALUES ('w0'); INSERT INTO t7 VALUES ('w0');");
    exec_ok(db, "COMMIT");
    if (schema_sql) exec_ok(db, schema_sql);
    sqlite3_close(db);
    return path;
}

static void index_lake(sqlite3 *db, const char *lj) {
    char sql[256];
    snprintf(sql, sizeof sql, "CREATE VIRTUAL TABLE %s USING silt_join(model=counter)", lj);
    exec_ok(db, sql);
    for (int t = 0; t < 12; t++) {
        snprintf(sql, sizeof sql, "INSERT INTO %s(tbl) VALUES ('t%d')", lj, t);
        exec_ok(db, sql);
    }
}

/* Every query column's top 1 and top 5 in both searches, as one string (free() it). */
static char *all_answers(sqlite3 *db, const char *lj, const char *prefix) {
    size_t cap = 1 << 16, n = 0;
    char *out = calloc(1, cap);
    cr_assert(out);
    for (int t = 0; t < 12; t++)
        for (int j = 0; j < 4; j++) {
            int exact = j & 1, k = j & 2 ? 5 : 1;
            char sql[256];
            snprintf(sql, sizeof sql,
                     "SELECT tbl, col, score, containment FROM %s WHERE query_table = '%st%d' AND query_column = 'v'"
                     " AND k = %d AND exact = %d",
                     lj, prefix, t, k, exact);
            char *a = answer(db, sql);
            n += (size_t)snprintf(out + n, cap - n, "t%d/%d/%d: %s\n", t, k, exact, a);
            cr_assert_lt(n, cap);
            free(a);
        }
    return out;
}

/* SQL that fills table T with every value of the lake (w0 ... w39) and the values in EXTRA:
 * re-indexed, T grows from a few values to the largest column, which holds every other
 * column, so that a stale copy of its size (too small a bound) would drop it from answers. */
#define EVERY_VALUE(T, EXTRA)                                                                    \
    "DELETE FROM " T "; WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < 39)" \
    " INSERT INTO " T " SELECT 'w' || i FROM r; INSERT INTO " T " VALUES " EXTRA ";"

/* What a new connection answers on the lake file. */
static char *fresh_answers(const char *path, const char *attach, const char *lj, const char *prefix) {
    sqlite3 *db = test_open(attach ? ":memory:" : path);
    if (attach) exec_ok(db, attach);
    char *a = all_answers(db, lj, prefix);
    sqlite3_close(db);
    return a;
}

static void assert_fresh(sqlite3 *db, const char *path, const char *attach, const char *lj, const char *prefix,
                         const char *when) {
    char *mine = all_answers(db, lj, prefix), *fresh = fresh_answers(path, attach, lj, prefix);
    cr_assert_str_eq(mine, fresh, "%s", when);
    free(mine);
    free(fresh);
}

Test(join_summary, readded_dropped_and_rolled_back_tables_show_in_the_next_answer) {
    provide_counter();
    char *path = make_lake(NULL);
    sqlite3 *db = test_open(path);
    index_lake(db, "lj");
    char *first = all_answers(db, "lj", ""); /* loads the copy */
    assert_fresh(db, path, NULL, "lj", "", "as indexed");
    /* t3 takes every value and two new to the lake, and is indexed again. */
    exec_ok(db, EVERY_VALUE("t3", "('fresh1'),('fresh2')") "INSERT INTO lj(tbl) VALUES ('t3')");
    char *after = all_answers(db, "lj", "");
    cr_assert_str_neq(after, first, "the re-added table changed some answer");
    assert_fresh(db, path, NULL, "lj", "", "t3 re-added");
    exec_ok(db, "DELETE FROM lj WHERE tbl = 't5'");
    assert_fresh(db, path, NULL, "lj", "", "t5 dropped");
    /* Inside a transaction that wrote, and after its rollback. */
    exec_ok(db, "BEGIN; DELETE FROM lj WHERE tbl = 't0'");
    char *inside = all_answers(db, "lj", "");
    cr_assert(!strstr(inside, "t0.v"), "the uncommitted delete shows inside its transaction: %s", inside);
    exec_ok(db, "ROLLBACK");
    assert_fresh(db, path, NULL, "lj", "", "after the rollback");
    exec_ok(db, "BEGIN; DELETE FROM lj WHERE tbl = 't0'; COMMIT");
    assert_fresh(db, path, NULL, "lj", "", "t0 dropped and committed");
    /* A changed query table that is not indexed again: its new values are the query. */
    exec_ok(db, "INSERT INTO t1 VALUES ('w30'),('w31'),('w35')");
    assert_fresh(db, path, NULL, "lj", "", "t1 changed, not re-indexed");
    free(first);
    free(after);
    free(inside);
    sqlite3_close(db);
    unlink(path);
    free(path);
}

Test(join_summary, another_connections_writes_show_in_the_next_answer) {
    provide_counter();
    char *path = make_lake(NULL);
    sqlite3 *a = test_open(path), *b = test_open(path);
    index_lake(a, "lj");
    char *before = all_answers(a, "lj", ""); /* a loads the copy */
    exec_ok(b, EVERY_VALUE("t7", "('fresh3')") "INSERT INTO lj(tbl) VALUES ('t7'); DELETE FROM lj WHERE tbl = 't2'");
    char *theirs = all_answers(b, "lj", "");
    char *mine = all_answers(a, "lj", "");
    cr_assert_str_neq(mine, before);
    cr_assert_str_eq(mine, theirs);
    assert_fresh(a, path, NULL, "lj", "", "written by b");
    free(before);
    free(theirs);
    free(mine);
    sqlite3_close(a);
    sqlite3_close(b);
    unlink(path);
    free(path);
}

Test(join_summary, attached_lake) {
    provide_counter();
    char *path = make_lake(NULL);
    char attach[512];
    snprintf(attach, sizeof attach, "ATTACH '%s' AS lake", path);
    sqlite3 *db = test_open(":memory:");
    exec_ok(db, attach);
    char sql[256];
    exec_ok(db, "CREATE VIRTUAL TABLE lake.lj USING silt_join(model=counter)");
    for (int t = 0; t < 12; t++) {
        snprintf(sql, sizeof sql, "INSERT INTO lake.lj(tbl) VALUES ('lake.t%d')", t);
        exec_ok(db, sql);
    }
    char *first = all_answers(db, "lake.lj", "lake.");
    assert_fresh(db, path, attach, "lake.lj", "lake.", "attached, as indexed");
    exec_ok(db, EVERY_VALUE("lake.t4", "('new')") "INSERT INTO lake.lj(tbl) VALUES ('lake.t4');"
                "DELETE FROM lake.lj WHERE tbl = 'lake.t6'");
    char *after = all_answers(db, "lake.lj", "lake.");
    cr_assert_str_neq(after, first);
    assert_fresh(db, path, attach, "lake.lj", "lake.", "attached, t4 re-added and t6 dropped");
    /* Written through another connection. */
    sqlite3 *other = test_open(":memory:");
    exec_ok(other, attach);
    exec_ok(other, "INSERT INTO lake.lj(tbl) VALUES ('lake.t6')");
    sqlite3_close(other);
    assert_fresh(db, path, attach, "lake.lj", "lake.", "attached, t6 re-added by another connection");
    free(first);
    free(after);
    sqlite3_close(db);
    unlink(path);
    free(path);
}

/* The rows of g0's search as "tbl:containment", sorted by name (free() it); s is "" or the
 * attached schema's name and a dot. */
static char *top_names(sqlite3 *db, const char *s, int k, int exact) {
    char sql[512];
    snprintf(sql, sizeof sql,
             "SELECT group_concat(tbl || ':' || containment, ' ') FROM (SELECT tbl, containment FROM %slj"
             " WHERE query_table = '%sg0' AND query_column = 'v' AND k = %d AND exact = %d ORDER BY tbl)",
             s, s, k, exact);
    return test_query1(db, sql);
}

static void assert_top(sqlite3 *db, const char *s, int k, const char *expected, const char *when) {
    char want[128];
    if (*s) snprintf(want, sizeof want, "%s%s", s, expected); /* one row: "lake.g1:0.375" */
    else snprintf(want, sizeof want, "%s", expected);
    for (int exact = 0; exact <= 1; exact++) {
        char *got = top_names(db, s, k, exact);
        cr_assert_str_eq(got ? got : "(null)", want, "%s (exact = %d): %s", when, exact, got ? got : "(null)");
        free(got);
    }
}

/* Runs sql with every "@" replaced by s (the schema prefix). */
static void exec_in(sqlite3 *db, const char *s, const char *sql) {
    char out[2048];
    size_t n = 0;
    for (const char *p = sql; *p; p++) {
        const char *add = *p == '@' ? s : NULL;
        size_t len = add ? strlen(add) : 1;
        cr_assert_lt(n + len, sizeof out);
        memcpy(out + n, add ? add : p, len);
        n += len;
    }
    out[n] = 0;
    exec_ok(db, out);
}

/* A column that grows from one value to all of the query's: a copy of its old size would
 * bound its overlap by 1 and hide it behind g1 (3 shared values). Re-adding the column with
 * the largest id gives it the same id again (INTEGER PRIMARY KEY takes max + 1), which is
 * the case where a stale copy would answer for it; each way the lake changes must make the
 * next search see the new size. s: "" (the lake is main) or "lake." (ATTACHed). */
static void grown_column_scenario(sqlite3 *a, sqlite3 *b, const char *s) {
    exec_in(a, s, "CREATE TABLE @g0(v); CREATE TABLE @g1(v); CREATE TABLE @g2(v); CREATE TABLE @g3(v);"
                  "WITH RECURSIVE r(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM r WHERE i < 7)"
                  " INSERT INTO @g0 SELECT 'w' || i FROM r;"
                  "INSERT INTO @g1 VALUES ('w0'),('w1'),('w2'); INSERT INTO @g2 VALUES ('w0');"
                  "INSERT INTO @g3 VALUES ('w0'); CREATE VIRTUAL TABLE @lj USING silt_join(model=counter);"
                  "INSERT INTO @lj(tbl) VALUES ('@g0'),('@g1'),('@g2'),('@g3')");
    assert_top(a, s, 1, "g1:0.375", "as indexed");
    /* Another connection grows g3 (the largest id) and indexes it again. */
    exec_in(b, s, "INSERT INTO @g3 VALUES ('w1'),('w2'),('w3'),('w4'),('w5'),('w6'),('w7');"
                  "INSERT INTO @lj(tbl) VALUES ('@g3')");
    assert_top(a, s, 1, "g3:1.0", "g3 grown by another connection");
    /* This connection drops g3, then grows g2 (now the largest id) and indexes it again. */
    exec_in(a, s, "DELETE FROM @lj WHERE tbl = '@g3';"
                  "INSERT INTO @g2 VALUES ('w1'),('w2'),('w3'),('w4'),('w5'),('w6'),('w7');"
                  "INSERT INTO @lj(tbl) VALUES ('@g2')");
    assert_top(a, s, 1, "g2:1.0", "g2 grown by this connection");
    /* Inside a transaction g2 shrinks back to one value; after the rollback it is whole. */
    exec_in(a, s, "BEGIN; DELETE FROM @g2; INSERT INTO @g2 VALUES ('w0'); INSERT INTO @lj(tbl) VALUES ('@g2')");
    assert_top(a, s, 1, "g1:0.375", "g2 shrunk, uncommitted");
    exec_ok(a, "ROLLBACK");
    assert_top(a, s, 1, "g2:1.0", "after the rollback");
}

Test(join_summary, a_grown_column_is_found_after_each_kind_of_change) {
    provide_counter();
    char *path = make_lake(NULL);
    sqlite3 *a = test_open(path), *b = test_open(path);
    grown_column_scenario(a, b, "");
    sqlite3_close(a);
    sqlite3_close(b);
    unlink(path);
    free(path);
}

Test(join_summary, a_grown_column_is_found_in_an_attached_lake) {
    provide_counter();
    char *path = make_lake(NULL), attach[512];
    snprintf(attach, sizeof attach, "ATTACH '%s' AS lake", path);
    sqlite3 *a = test_open(":memory:"), *b = test_open(":memory:");
    exec_ok(a, attach);
    exec_ok(b, attach);
    grown_column_scenario(a, b, "lake.");
    sqlite3_close(a);
    sqlite3_close(b);
    unlink(path);
    free(path);
}

/* ---- a large summary ----------------------------------------------------------------- */

/* A lake with 700,000 distinct values: the copy's value arrays (8 and 4 bytes a value) pass
 * the two-huge-page size at which they are moved into memory advised for huge pages once
 * loaded. The answers must be the exact ones: a.x holds every value of b.y (half of its own),
 * c.z ten of them and 100,000 values of its own; equi finds a.x for b.y. */
Test(join_summary, a_copy_large_enough_to_move_keeps_every_length_and_answers_exactly) {
    provide_counter();
    sqlite3 *db = test_open(":memory:");
    exec_ok(db, "CREATE TABLE a(x INTEGER); CREATE TABLE b(y INTEGER); CREATE TABLE c(z INTEGER);"
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 599999)"
                " INSERT INTO a SELECT i FROM n;"
                "INSERT INTO b SELECT x FROM a WHERE x < 300000;"
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)"
                " INSERT INTO c SELECT 1000000 + i FROM n;"
                "INSERT INTO c SELECT x * 1000 FROM a WHERE x < 10;"
                "CREATE VIRTUAL TABLE lj USING silt_join(model=counter);"
                "INSERT INTO lj(tbl) VALUES ('a'); INSERT INTO lj(tbl) VALUES ('b'); INSERT INTO lj(tbl) VALUES ('c');");
    const char *q[][2] = {
        {"SELECT group_concat(tbl || ':' || containment, ' ') FROM lj WHERE query_table = 'b' AND query_column = 'y'"
         " AND k = 1",
         "a:1.0"},
        {"SELECT group_concat(tbl || ':' || containment, ' ') FROM lj WHERE query_table = 'b' AND query_column = 'y'"
         " AND exact = 1",
         "a:1.0 c:3.33333333333333e-05"}, /* 10 / 300,000 */
        {"SELECT group_concat(tbl || ':' || containment, ' ') FROM lj WHERE query_table = 'a' AND query_column = 'x'"
         " AND exact = 1",
         "b:0.5 c:1.66666666666667e-05"}, /* 10 / 600,000 */
        {"SELECT group_concat(tbl || ':' || containment, ' ') FROM lj WHERE query_table = 'c' AND query_column = 'z'"
         " AND exact = 1",
         "a:9.99900009999e-05 b:9.99900009999e-05"}, /* 10 / 100,010 */
    };
    for (size_t i = 0; i < sizeof q / sizeof *q; i++) {
        char *got = test_query1(db, q[i][0]);
        cr_assert_str_eq(got ? got : "(null)", q[i][1], "query %zu", i);
        free(got);
    }
    /* The moved copy itself: every value's list length and every column's size as the
     * tables hold them (the answers above would survive some damage to it). */
    silt_join_summary sum;
    cr_assert_eq(silt_join_summary_load(db, "main", "lj", &sum), SQLITE_OK);
    cr_assert_eq(sum.n_h, 700000);
    sqlite3_stmt *st;
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT h, n FROM lj_df", -1, &st, NULL), SQLITE_OK);
    size_t rows = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
        int64_t h = sqlite3_column_int64(st, 0);
        cr_assert_eq(silt_join_summary_df(&sum, h), (size_t)sqlite3_column_int64(st, 1), "value %lld", (long long)h);
        rows++;
    }
    sqlite3_finalize(st);
    cr_assert_eq(rows, 700000);
    cr_assert_eq(sqlite3_prepare_v2(db, "SELECT id, n_distinct FROM lj_cols", -1, &st, NULL), SQLITE_OK);
    while (sqlite3_step(st) == SQLITE_ROW)
        cr_assert_eq(silt_join_summary_size(&sum, sqlite3_column_int64(st, 0)), (size_t)sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    silt_join_summary_free(&sum);
    sqlite3_close(db);
}

/* ---- out of memory ------------------------------------------------------------------ */

/* Each allocation of a search (equi and exact) fails in turn, starting right after the lake
 * changed (so the in-memory copy is loaded under the faults too): the search must fail with
 * an error or answer correctly, never crash, and the next search must answer correctly. */
Test(join_summary, every_allocation_failure_of_a_search_is_an_error) {
    install_faulty_allocator();
    provide_counter();
    sqlite3 *db = open_lake();
    const char *queries[] = {
        "SELECT group_concat(tbl || ':' || containment, ' ') FROM lj WHERE query_table = 'a' AND query_column = 'x'",
        "SELECT group_concat(tbl || ':' || containment, ' ') FROM lj WHERE query_table = 'main.a' AND query_column = 'x'"
        " AND k = 1",
        "SELECT group_concat(tbl || ':' || containment, ' ') FROM lj WHERE query_table = 'a' AND query_column = 'x'"
        " AND exact = 1",
    };
    const char *expected[] = {"b:0.8 c:0.2", "b:0.8", "b:0.8 c:0.2"};
    for (int qi = 0; qi < 3; qi++) {
        int failures = 0;
        for (long n = 1;; n++) {
            exec_ok(db, "INSERT INTO lj(tbl) VALUES ('d')"); /* a write: the copy reloads */
            injected = 0;
            fail_countdown = n;
            char *got = test_query1(db, queries[qi]);
            fail_countdown = 0;
            cr_assert(!injected || !got || strncmp(got, "ERROR: ", 7) == 0 || strcmp(got, expected[qi]) == 0,
                      "query %d, allocation %ld failed: %s", qi, n, got ? got : "(null)");
            failures += injected && got && strncmp(got, "ERROR: ", 7) == 0;
            free(got);
            char *again = test_query1(db, queries[qi]);
            cr_assert_str_eq(again ? again : "(null)", expected[qi], "query %d after allocation %ld failed", qi, n);
            free(again);
            if (!injected) break; /* the search made fewer than n allocations */
        }
        cr_assert_gt(failures, 0, "query %d: some failure surfaced as an error", qi);
    }
    sqlite3_close(db);
}
