/* test_join_text.c: the order of values in a column's DeepJoin text (suite "join_text").
 * silt_join reads a column's distinct values in SQLite's order of values and puts the most
 * frequent first itself; the text (and so the digest that decides whether a stored embedding
 * is reused) must be exactly that of SQLite's "ORDER BY count DESC, value", also for mixed
 * storage classes, case and ties. */
#include "testutil.h"

static void exec_ok(sqlite3 *db, const char *sql) {
    char *err = NULL;
    cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, &err), SQLITE_OK, "%s: %s", sql, err ? err : "");
}

Test(join_text, values_most_frequent_first_ties_in_sqlite_order) {
    sqlite3 *db = test_open(NULL);
    exec_ok(db, "CREATE TABLE m(v)");
    /* counts: 3 for 'b', 2 (integer), 'a' and 10.25; 2 for 'B', 7, '7' (text), -1 and 'ab';
     * 1 for the rest. NULL and '' are not values. */
    exec_ok(db, "INSERT INTO m VALUES ('b'),(2),('a'),(10.25),('b'),(2),('a'),(10.25),('b'),(2),('a'),(10.25),"
                "('B'),(7),('7'),(-1),('ab'),('B'),(7),('7'),(-1),('ab'),"
                "('zz'),(3.5),('Z'),(100),('a b'),(NULL),(''),(0),('-3')");
    char *got = test_query1(db, "SELECT silt_column_text('m', 'v', 512)");
    char *want = test_query1(db, "SELECT group_concat(v, ', ') FROM (SELECT v, count(*) AS c FROM m "
                                 "WHERE v IS NOT NULL AND v <> '' GROUP BY v ORDER BY c DESC, v)");
    cr_assert_not_null(got);
    cr_assert_not_null(want);
    const char *list = strstr(got, "): ");
    cr_assert_not_null(list, "%s", got);
    cr_assert_str_eq(list + 3, want, "text: %s", got);
    /* the four most frequent, then the ties of count 2 in SQLite's order (numbers first) */
    cr_assert_eq(strncmp(want, "2, 10.25, a, b, -1, 7, 7, B, ab, ", 33), 0, "%s", want);
    free(got);
    free(want);
    sqlite3_close(db);
}
