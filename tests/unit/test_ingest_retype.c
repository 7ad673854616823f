/* test_ingest_retype.c: a value after the type sample that SQLite's numeric affinity would
 * change (suite ingest_retype). Text such as "007" in a column the sample made INTEGER would
 * be stored as 7; the load must instead run again with that column TEXT, exactly as if the
 * value had been in the sample, while text that affinity keeps as text ("abc") and columns
 * the user typed or an appended-to table owns are left alone. infer_rows is small so that
 * the files stay small. (That the source is read a second time only once, however many
 * columns need TEXT, is checked over HTTP in tests/shell/ingest_http.sh.) */
#include <unistd.h>

#include "testutil.h"

/* Writes text to a fresh temporary file with extension ext; returns its malloc'd path. */
static char *write_text(const char *text, const char *ext) {
    char *path = malloc(64);
    cr_assert(path);
    snprintf(path, 64, "/tmp/silt-retype-XXXXXX%s", ext);
    int fd = mkstemps(path, (int)strlen(ext));
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert(f);
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* "id,v\n1,1\n...\nn,n\n" followed by tail (records after the sample). */
static char *integers_then(int n, const char *tail) {
    size_t cap = (size_t)n * 24 + strlen(tail) + 16;
    char *s = malloc(cap);
    cr_assert(s);
    size_t at = (size_t)snprintf(s, cap, "id,v\n");
    for (int i = 1; i <= n; i++) at += (size_t)snprintf(s + at, cap - at, "%d,%d\n", i, i);
    snprintf(s + at, cap - at, "%s", tail);
    return s;
}

static void load_ok(sqlite3 *db, const char *path, const char *opts, const char *rows) {
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT silt_ingest('%s', 't', '%s')", path, opts);
    assert_query(db, sql, rows);
}

Test(ingest_retype, leading_zeros_after_the_sample_make_the_column_text) {
    char *csv = integers_then(30, "31,007\n32,33\n");
    char *path = write_text(csv, ".csv");
    sqlite3 *db = test_open(NULL);
    load_ok(db, path, "{\"infer_rows\":10}", "32");
    assert_query(db, "SELECT sql FROM sqlite_schema WHERE name = 't'", "CREATE TABLE \"t\"(\"id\" INTEGER, \"v\" TEXT)");
    assert_query(db, "SELECT v || '|' || typeof(v) FROM t WHERE id = 31", "007|text");
    assert_query(db, "SELECT v || '|' || typeof(v) FROM t WHERE id = 1", "1|text");
    assert_query(db, "SELECT count(*) || '|' || sum(typeof(v) = 'text') FROM t", "32|32");
    assert_query(db, "SELECT rows FROM silt_sources WHERE tbl = 't'", "32");
    /* The same table as a load whose sample holds the whole file. */
    sqlite3 *ref = test_open(NULL);
    load_ok(ref, path, "{\"infer_rows\":1000}", "32");
    assert_query(ref, "SELECT sql FROM sqlite_schema WHERE name = 't'", "CREATE TABLE \"t\"(\"id\" INTEGER, \"v\" TEXT)");
    assert_query(ref, "SELECT group_concat(v, ',') FROM t", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,007,33");
    assert_query(db, "SELECT group_concat(v, ',') FROM t", "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,007,33");
    sqlite3_close(ref);
    sqlite3_close(db);
    unlink(path);
    free(path);
    free(csv);
}

Test(ingest_retype, every_spelling_affinity_would_rewrite_is_caught) {
    /* Each of these is text to silt's classifier but a number to SQLite's affinity. */
    static const char *const tails[] = {"31,007\n", "31,+5\n", "31, 12\n", "31,12 \n", "31,1.50e1x\n"};
    static const int retyped[] = {1, 1, 1, 1, 0}; /* "1.50e1x" is no number: kept as text */
    for (size_t k = 0; k < sizeof tails / sizeof *tails; k++) {
        char *csv = integers_then(30, tails[k]);
        char *path = write_text(csv, ".csv");
        sqlite3 *db = test_open(NULL);
        load_ok(db, path, "{\"infer_rows\":10}", "31");
        assert_query(db, "SELECT typeof(v) FROM t WHERE id = 1", retyped[k] ? "text" : "integer");
        /* Whatever the column's type, the late value is stored as written. */
        char want[32];
        snprintf(want, sizeof want, "%s", strchr(tails[k], ',') + 1);
        want[strlen(want) - 1] = 0;
        char *got = test_query1(db, "SELECT v FROM t WHERE id = 31");
        cr_assert_str_eq(got ? got : "(null)", want, "tail %zu", k);
        free(got);
        sqlite3_close(db);
        unlink(path);
        free(path);
        free(csv);
    }
}

Test(ingest_retype, text_that_stays_text_keeps_the_inferred_type) {
    char *csv = integers_then(30, "31,abc\n32,1.5\n");
    char *path = write_text(csv, ".csv");
    sqlite3 *db = test_open(NULL);
    load_ok(db, path, "{\"infer_rows\":10}", "32");
    assert_query(db, "SELECT sql FROM sqlite_schema WHERE name = 't'", "CREATE TABLE \"t\"(\"id\" INTEGER, \"v\" INTEGER)");
    assert_query(db, "SELECT group_concat(v || ':' || typeof(v), ',') FROM t WHERE id > 29",
                 "30:integer,abc:text,1.5:real");
    sqlite3_close(db);
    unlink(path);
    free(path);
    free(csv);
}

Test(ingest_retype, user_types_and_appended_tables_are_left_alone) {
    char *csv = integers_then(30, "31,007\n");
    char *path = write_text(csv, ".csv");
    sqlite3 *db = test_open(NULL);
    load_ok(db, path, "{\"infer_rows\":10,\"types\":{\"v\":\"INTEGER\"}}", "31");
    assert_query(db, "SELECT v || '|' || typeof(v) FROM t WHERE id = 31", "7|integer");
    sqlite3_close(db);

    db = test_open(NULL);
    cr_assert_eq(sqlite3_exec(db, "CREATE TABLE t(id INTEGER, v INTEGER)", NULL, NULL, NULL), SQLITE_OK);
    load_ok(db, path, "{\"infer_rows\":10,\"if_exists\":\"append\"}", "31");
    assert_query(db, "SELECT sql FROM sqlite_schema WHERE name = 't'", "CREATE TABLE t(id INTEGER, v INTEGER)");
    assert_query(db, "SELECT v || '|' || typeof(v) FROM t WHERE id = 31", "7|integer");
    sqlite3_close(db);

    /* replace makes the table anew: its columns are the load's own. */
    db = test_open(NULL);
    cr_assert_eq(sqlite3_exec(db, "CREATE TABLE t(x); INSERT INTO t VALUES (1)", NULL, NULL, NULL), SQLITE_OK);
    load_ok(db, path, "{\"infer_rows\":10,\"if_exists\":\"replace\"}", "31");
    assert_query(db, "SELECT v || '|' || typeof(v) FROM t WHERE id = 31", "007|text");
    sqlite3_close(db);
    unlink(path);
    free(path);
    free(csv);
}

Test(ingest_retype, several_columns_and_json_lines) {
    /* a: numbers, then a JSON string that reads as a number; b: numbers, then a string that
     * does not; c: a key after the sample in the sample's last part (no value in the sample:
     * no declared type, nothing to change). */
    size_t cap = 4096;
    char *s = malloc(cap);
    cr_assert(s);
    size_t at = 0;
    for (int i = 1; i <= 30; i++) at += (size_t)snprintf(s + at, cap - at, "{\"a\":%d,\"b\":%d.5}\n", i, i);
    snprintf(s + at, cap - at, "{\"a\":\"12\",\"b\":\"x\",\"c\":1}\n{\"a\":1,\"b\":2.5,\"c\":\"01\"}\n");
    char *path = write_text(s, ".jsonl");
    sqlite3 *db = test_open(NULL);
    load_ok(db, path, "{\"infer_rows\":10}", "32");
    assert_query(db, "SELECT sql FROM sqlite_schema WHERE name = 't'",
                 "CREATE TABLE \"t\"(\"a\" TEXT, \"b\" REAL, \"c\")");
    assert_query(db, "SELECT group_concat(quote(a) || quote(b) || quote(c), ',') FROM t WHERE rowid > 30",
                 "'12''x'1,'1'2.5'01'");
    sqlite3_close(db);
    unlink(path);
    free(path);
    free(s);
}

Test(ingest_retype, a_json_key_first_seen_in_a_later_part) {
    /* 20,000 records fill the sample's parts; key c comes later (a column added by ALTER
     * TABLE, typed from its first value), then "01" in it. */
    size_t cap = 20000 * 16 + 128;
    char *s = malloc(cap);
    cr_assert(s);
    size_t at = 0;
    for (int i = 1; i <= 20000; i++) at += (size_t)snprintf(s + at, cap - at, "{\"a\":%d}\n", i);
    snprintf(s + at, cap - at, "{\"a\":1,\"c\":1}\n{\"a\":2,\"c\":\"01\"}\n");
    char *path = write_text(s, ".jsonl");
    sqlite3 *db = test_open(NULL);
    load_ok(db, path, "{\"infer_rows\":10}", "20002");
    assert_query(db, "SELECT sql FROM sqlite_schema WHERE name = 't'",
                 "CREATE TABLE \"t\"(\"a\" INTEGER, \"c\" TEXT)");
    assert_query(db, "SELECT group_concat(quote(c), ',') FROM t WHERE c IS NOT NULL", "'1','01'");
    sqlite3_close(db);
    unlink(path);
    free(path);
    free(s);
}

Test(ingest_retype, a_later_error_still_leaves_nothing) {
    /* A malformed quote after the value (the parser reports it), and a record too wide
     * after it (met while the rest is only checked; the second run reports it). */
    static const char *const tails[] = {"31,007\n32,\"bad\"x\n", "31,007\n32,1,2\n"};
    static const char *const errors[] = {"line 33", "line 33: 3 fields, expected 2"};
    for (size_t k = 0; k < sizeof tails / sizeof *tails; k++) {
        char *csv = integers_then(30, tails[k]);
        char *path = write_text(csv, ".csv");
        sqlite3 *db = test_open(NULL);
        char sql[512];
        snprintf(sql, sizeof sql, "SELECT silt_ingest('%s', 't', '{\"infer_rows\":10}')", path);
        assert_error(db, sql, errors[k]);
        assert_query(db, "SELECT count(*) FROM sqlite_schema WHERE name IN ('t', 'silt_sources')", "0");
        sqlite3_close(db);
        unlink(path);
        free(path);
        free(csv);
    }
}
