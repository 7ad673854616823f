/* test_join_summary.c: silt_join's in-memory copy of the list lengths and column sizes
 * (sqlext/join_summary.h), suite "join_summary".
 *
 * A connection keeps the copy between searches, so every way the lake can change under it
 * must show in its next answer: the tests compare each answer with the one a fresh connection
 * gives (which loads the copy anew), for both searches and every query column, after a table
 * is re-added with other values, dropped, written and rolled back, written by another
 * connection, and for a lake in an ATTACHed database. */
#include <unistd.h>

#include "join_testutil.h"

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

/* Every query column's top 5 in both searches, as one string (free() it). */
static char *all_answers(sqlite3 *db, const char *lj, const char *prefix) {
    size_t cap = 1 << 16, n = 0;
    char *out = calloc(1, cap);
    cr_assert(out);
    for (int t = 0; t < 12; t++)
        for (int exact = 0; exact <= 1; exact++) {
            char sql[256];
            snprintf(sql, sizeof sql,
                     "SELECT tbl, col, score, containment FROM %s WHERE query_table = '%st%d' AND query_column = 'v'"
                     " AND k = 5 AND exact = %d",
                     lj, prefix, t, exact);
            char *a = answer(db, sql);
            n += (size_t)snprintf(out + n, cap - n, "t%d/%d: %s\n", t, exact, a);
            cr_assert_lt(n, cap);
            free(a);
        }
    return out;
}

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
    /* t3 takes other values, some of them new to the lake, and is indexed again. */
    exec_ok(db, "DELETE FROM t3; INSERT INTO t3 VALUES ('w0'),('w1'),('w2'),('fresh1'),('fresh2');"
                "INSERT INTO lj(tbl) VALUES ('t3')");
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
    exec_ok(b, "DELETE FROM t7; INSERT INTO t7 VALUES ('w0'),('w1'),('w4'),('w9');"
               "INSERT INTO lj(tbl) VALUES ('t7'); DELETE FROM lj WHERE tbl = 't2'");
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
    exec_ok(db, "DELETE FROM lake.t4; INSERT INTO lake.t4 VALUES ('w0'),('w2'),('new');"
                "INSERT INTO lake.lj(tbl) VALUES ('lake.t4'); DELETE FROM lake.lj WHERE tbl = 'lake.t6'");
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
