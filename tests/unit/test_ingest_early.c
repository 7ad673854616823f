/* test_ingest_early.c: the early start of silt_ingest (suite ingest_early). The schema is
 * first guessed from the sample's first part and inserting starts on the guess; the table
 * must still be exactly the one the whole sample gives. Every case loads the same file
 * with early_rows 0 (no guess: the sample decides before the first insert) and with guesses
 * from several first-part sizes into fresh databases, and compares schema, rowids, values
 * and storage classes, or the error message. The files are built so that the guess is
 * wrong in each way it can be: a type that changes after the first part, a header vote
 * that flips, a record wider than the first part's columns, a JSON key seen late. */
#include <unistd.h>

#include "testutil.h"

typedef void (*writer_fn)(FILE *f);

static char *write_file(writer_fn w, const char *ext) {
    char *path = malloc(64);
    snprintf(path, 64, "/tmp/silt-early-XXXXXX%s", ext);
    int fd = mkstemps(path, (int)strlen(ext));
    cr_assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    cr_assert(f);
    w(f);
    cr_assert_eq(fclose(f), 0);
    return path;
}

/* Runs setup (may be NULL) and then the load with opts plus early_rows; returns the
 * result or "ERROR: ...". */
static char *load(sqlite3 *db, const char *setup, const char *path, const char *opts, long early) {
    if (setup) cr_assert_eq(sqlite3_exec(db, setup, NULL, NULL, NULL), SQLITE_OK, "%s", setup);
    char sql[512];
    snprintf(sql, sizeof sql, "SELECT silt_ingest('%s', 't', '{%s%s\"early_rows\":%ld}')", path, opts,
             *opts ? "," : "", early);
    return test_query1(db, sql);
}

/* The tables t of both databases are the same: declared schema, rows in rowid order,
 * every value with its storage class. */
static void assert_same_table(sqlite3 *a, sqlite3 *b) {
    char *sa = test_query1(a, "SELECT sql FROM sqlite_schema WHERE name = 't'");
    char *sb = test_query1(b, "SELECT sql FROM sqlite_schema WHERE name = 't'");
    cr_assert_str_eq(sa ? sa : "(none)", sb ? sb : "(none)");
    free(sa);
    free(sb);
    if (!sa) return;
    sqlite3_stmt *qa, *qb;
    cr_assert_eq(sqlite3_prepare_v2(a, "SELECT rowid, * FROM t ORDER BY rowid", -1, &qa, NULL), SQLITE_OK);
    cr_assert_eq(sqlite3_prepare_v2(b, "SELECT rowid, * FROM t ORDER BY rowid", -1, &qb, NULL), SQLITE_OK);
    int n = sqlite3_column_count(qa);
    cr_assert_eq(n, sqlite3_column_count(qb));
    long rows = 0;
    for (;;) {
        int ra = sqlite3_step(qa), rb = sqlite3_step(qb);
        cr_assert_eq(ra, rb, "row %ld: one table ends first", rows);
        if (ra != SQLITE_ROW) break;
        for (int j = 0; j < n; j++) {
            int ta = sqlite3_column_type(qa, j), tb = sqlite3_column_type(qb, j);
            cr_assert_eq(ta, tb, "row %ld column %d: storage class %d vs %d", rows, j, ta, tb);
            const unsigned char *va = sqlite3_column_text(qa, j), *vb = sqlite3_column_text(qb, j);
            int la = sqlite3_column_bytes(qa, j), lb = sqlite3_column_bytes(qb, j);
            cr_assert(la == lb && (la == 0 || memcmp(va, vb, (size_t)la) == 0), "row %ld column %d: '%s' vs '%s'",
                      rows, j, va ? (const char *)va : "NULL", vb ? (const char *)vb : "NULL");
        }
        rows++;
    }
    sqlite3_finalize(qa);
    sqlite3_finalize(qb);
}

/* Loads path without a guess and with guesses of several sizes; all must agree. Returns
 * the result of the load without a guess (malloc'd) for the caller's own checks, and
 * leaves that database in *ref (the caller closes it). */
static char *check_same(const char *path, const char *setup, const char *opts, sqlite3 **ref) {
    static const long early[] = {1, 7, 1000, 2500};
    sqlite3 *db0 = test_open(NULL);
    char *r0 = load(db0, setup, path, opts, 0);
    for (size_t k = 0; k < sizeof early / sizeof early[0]; k++) {
        sqlite3 *db = test_open(NULL);
        char *r = load(db, setup, path, opts, early[k]);
        cr_assert_str_eq(r ? r : "(null)", r0 ? r0 : "(null)", "early_rows %ld on %s", early[k], path);
        assert_same_table(db0, db);
        free(r);
        sqlite3_close(db);
    }
    *ref = db0;
    return r0;
}

/* ---- files ---- */

/* x holds 1.50-style decimals for 4,999 records, then words: TEXT, and "1.50" must stay
 * "1.50" (the guess, REAL, would store 1.5). n is sometimes empty ('' in TEXT, NULL in a
 * number column). */
static void w_type_change(FILE *f) {
    fputs("id,n,x\n", f);
    for (int i = 1; i <= 8000; i++)
        fprintf(f, "%d,%s,%s\n", i, i % 7 ? "12" : "", i < 5000 ? "1.50" : i == 5000 ? "abc" : "2.25");
}

/* Column 0 is words for 6,000 records (more than a first part, which ends at a chunk of
 * input after early_rows records) and numbers after: with only the first part the number
 * "5" over a column of words votes for a header; with the whole sample the column is
 * mixed, the vote a tie, and a first record with a number is data. */
static void w_header_flip(FILE *f) {
    fputs("5,name\n", f);
    for (int i = 1; i <= 9000; i++) fprintf(f, "%s,zz%d\n", i <= 6000 ? "abc" : "17", i);
}

/* No header; record 3000 has a fourth field: the guess has 3 columns and fails on it. */
static void w_wider_later(FILE *f) {
    for (int i = 1; i <= 4000; i++) {
        if (i == 3000) fprintf(f, "%d,a,%d.5,extra\n", i, i);
        else fprintf(f, "%d,a,%d.5\n", i, i);
    }
}

/* A header and a record with a fourth non-empty field: an error either way, on line 3001. */
static void w_too_wide(FILE *f) {
    fputs("a,b,c\n", f);
    for (int i = 1; i <= 4000; i++) fprintf(f, i == 3000 ? "%d,x,1,boom\n" : "%d,x,1\n", i);
}

/* JSON Lines: "k" turns from integers to a string at record 3000, key "late" first appears
 * at record 5000. */
static void w_jsonl(FILE *f) {
    for (int i = 1; i <= 7000; i++) {
        if (i == 3000) fprintf(f, "{\"id\":%d,\"k\":\"three thousand\"}\n", i);
        else if (i == 5000) fprintf(f, "{\"id\":%d,\"k\":%d,\"late\":1.5}\n", i, i);
        else fprintf(f, "{\"id\":%d,\"k\":%d}\n", i, i);
    }
}

/* Records of ~5 KB: the sample ends at 32 MiB (~6,700 records), before infer_rows; "v"
 * turns to text at record 7,000, after the sample, so it stays INTEGER (the word stored
 * as text), while "w" turns to text at record 3,000, inside it. */
static void w_big_records(FILE *f) {
    static char pad[5001];
    memset(pad, 'p', 5000);
    fputs("id,v,w,pad\n", f);
    for (int i = 1; i <= 7500; i++)
        fprintf(f, "%d,%s,%s,%s\n", i, i == 7000 ? "seven" : "3", i == 3000 ? "three" : "4", pad);
}

/* Exactly as many records as a first part, and one more: the sample ends with or just
 * after it. */
static void w_1000(FILE *f) {
    fputs("a,b\n", f);
    for (int i = 1; i <= 1000; i++) fprintf(f, "%d,%d.5\n", i, i);
}
static void w_1001(FILE *f) {
    fputs("a,b\n", f);
    for (int i = 1; i <= 1001; i++) fprintf(f, "%d,%s\n", i, i == 1001 ? "x" : "2.5");
}
static void w_header_only(FILE *f) { fputs("a,b,c\n", f); }
static void w_empty(FILE *f) { (void)f; }

/* ---- tests ---- */

Test(ingest_early, type_change_after_first_part) {
    char *path = write_file(w_type_change, ".csv");
    sqlite3 *db;
    char *r = check_same(path, NULL, "", &db);
    cr_assert_str_eq(r, "8000");
    assert_query(db, "SELECT sql FROM sqlite_schema WHERE name = 't'",
                 "CREATE TABLE \"t\"(\"id\" INTEGER, \"n\" INTEGER, \"x\" TEXT)");
    assert_query(db, "SELECT x || typeof(x) FROM t WHERE id = 1", "1.50text");
    assert_query(db, "SELECT count(*) FROM t WHERE n IS NULL", "1142");
    free(r);
    sqlite3_close(db);
    unlink(path);
    free(path);
}

Test(ingest_early, type_change_with_replace_append_and_types) {
    char *path = write_file(w_type_change, ".csv");
    sqlite3 *db;
    /* replace: an older table of another shape goes */
    char *r = check_same(path, "CREATE TABLE t(a, b); INSERT INTO t VALUES (1, 2);", "\"if_exists\":\"replace\"", &db);
    cr_assert_str_eq(r, "8000");
    assert_query(db, "SELECT count(*) || typeof(x) FROM t WHERE id = 1", "1text");
    free(r);
    sqlite3_close(db);
    /* append: the table's types bind the values */
    r = check_same(path, "CREATE TABLE t(id INTEGER, n INTEGER, x REAL); INSERT INTO t VALUES (0, 0, 0);",
                   "\"if_exists\":\"append\"", &db);
    cr_assert_str_eq(r, "8000");
    assert_query(db, "SELECT count(*) FROM t", "8001");
    assert_query(db, "SELECT typeof(x) FROM t WHERE id = 5000", "text");
    free(r);
    sqlite3_close(db);
    /* the types option overrides the sample, so the guess holds */
    r = check_same(path, NULL, "\"types\":{\"x\":\"REAL\"}", &db);
    cr_assert_str_eq(r, "8000");
    assert_query(db, "SELECT x || typeof(x) FROM t WHERE id = 1", "1.5real");
    free(r);
    sqlite3_close(db);
    unlink(path);
    free(path);
}

Test(ingest_early, header_vote_flips) {
    char *path = write_file(w_header_flip, ".csv");
    sqlite3 *db;
    char *r = check_same(path, NULL, "", &db);
    cr_assert_str_eq(r, "9001"); /* the first record is data */
    assert_query(db, "SELECT col1 || '|' || col2 FROM t WHERE rowid = 1", "5|name");
    free(r);
    sqlite3_close(db);
    /* appending to columns the header guess does not name: the guess fails, the sample
     * maps the file's columns by position */
    r = check_same(path, "CREATE TABLE t(c1, c2);", "\"if_exists\":\"append\"", &db);
    cr_assert_str_eq(r, "9001");
    free(r);
    sqlite3_close(db);
    /* a types option naming a column of the guessed header only: the sample's error */
    r = check_same(path, NULL, "\"types\":{\"name\":\"TEXT\"}", &db);
    cr_assert(strstr(r, "option types: no column \"name\""), "%s", r);
    assert_query(db, "SELECT count(*) FROM sqlite_schema", "0");
    free(r);
    sqlite3_close(db);
    unlink(path);
    free(path);
}

Test(ingest_early, wider_records_and_errors) {
    char *path = write_file(w_wider_later, ".csv");
    sqlite3 *db;
    char *r = check_same(path, NULL, "", &db);
    cr_assert_str_eq(r, "4000");
    assert_query(db, "SELECT count(*) FROM pragma_table_info('t')", "4");
    assert_query(db, "SELECT col4 FROM t WHERE col1 = 3000", "extra");
    free(r);
    sqlite3_close(db);
    unlink(path);
    free(path);

    path = write_file(w_too_wide, ".csv");
    r = check_same(path, NULL, "", &db);
    cr_assert(strstr(r, "line 3001: 4 fields, expected 3"), "%s", r);
    assert_query(db, "SELECT count(*) FROM sqlite_schema", "0"); /* no partial table */
    free(r);
    sqlite3_close(db);
    unlink(path);
    free(path);
}

Test(ingest_early, jsonl_type_change_and_late_key) {
    char *path = write_file(w_jsonl, ".jsonl");
    sqlite3 *db;
    char *r = check_same(path, NULL, "", &db);
    cr_assert_str_eq(r, "7000");
    assert_query(db, "SELECT sql FROM sqlite_schema WHERE name = 't'",
                 "CREATE TABLE \"t\"(\"id\" INTEGER, \"k\" TEXT, \"late\" REAL)");
    free(r);
    sqlite3_close(db);
    r = check_same(path, "CREATE TABLE t(id INTEGER);", "\"if_exists\":\"append\"", &db);
    cr_assert_str_eq(r, "7000");
    assert_query(db, "SELECT group_concat(name || ' ' || type, ', ') FROM pragma_table_info('t')",
                 "id INTEGER, k TEXT, late REAL");
    free(r);
    sqlite3_close(db);
    unlink(path);
    free(path);
}

Test(ingest_early, sample_cut_by_bytes) {
    char *path = write_file(w_big_records, ".csv");
    sqlite3 *db;
    char *r = check_same(path, NULL, "", &db);
    cr_assert_str_eq(r, "7500");
    assert_query(db, "SELECT group_concat(type, ',') FROM pragma_table_info('t')", "INTEGER,INTEGER,TEXT,TEXT");
    assert_query(db, "SELECT typeof(v) FROM t WHERE id = 7000", "text");
    free(r);
    sqlite3_close(db);
    unlink(path);
    free(path);
}

Test(ingest_early, sample_ends_with_or_after_the_first_part) {
    writer_fn ws[] = {w_1000, w_1001, w_header_only, w_empty};
    const char *want[] = {"1000", "1001", "0", NULL};
    for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++) {
        char *path = write_file(ws[k], ".csv");
        sqlite3 *db;
        char *r = check_same(path, NULL, "", &db);
        if (want[k]) cr_assert_str_eq(r, want[k]);
        else cr_assert(strstr(r, "no records"), "%s", r);
        free(r);
        sqlite3_close(db);
        /* a small infer_rows: the sample ends inside or right after the first part */
        r = check_same(path, NULL, "\"infer_rows\":3", &db);
        free(r);
        sqlite3_close(db);
        unlink(path);
        free(path);
    }
}

/* silt_sources is made while the first records are on their way (the pipeline's idle
 * step): a first load makes it, a database that cannot be written refuses the load with
 * SQLite's error and keeps no table, and a load after it finds its row. */
Test(ingest_early, silt_sources_made_during_the_first_load) {
    char *path = write_file(w_1000, ".csv");
    sqlite3 *db = test_open(":memory:");
    cr_assert_eq(sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL), SQLITE_OK);
    char *r = load(db, NULL, path, "", 100);
    cr_assert(r && strstr(r, "ERROR") && strstr(r, "readonly"), "%s", r ? r : "(null)");
    free(r);
    assert_query(db, "SELECT count(*) FROM sqlite_schema", "0");
    cr_assert_eq(sqlite3_exec(db, "PRAGMA query_only = 0", NULL, NULL, NULL), SQLITE_OK);
    r = load(db, NULL, path, "", 100);
    cr_assert_str_eq(r, "1000");
    free(r);
    assert_query(db, "SELECT rows FROM silt_sources WHERE tbl = 't'", "1000");
    r = load(db, NULL, path, "", 100); /* unchanged: skipped, its row read from silt_sources */
    cr_assert_str_eq(r, "1000");
    free(r);
    assert_query(db, "SELECT count(*) FROM silt_sources", "1");
    sqlite3_close(db);
    unlink(path);
    free(path);
}
