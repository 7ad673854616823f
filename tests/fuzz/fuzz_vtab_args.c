/* fuzz_vtab_args.c: libFuzzer target for virtual-table arguments: runs
 *   CREATE VIRTUAL TABLE t USING silt_dense(<input>)     (first byte even)
 *   CREATE VIRTUAL TABLE t USING silt_sparse(<input>)    (first byte odd)
 * in a fresh in-memory database of the static build (libsilt objects, SQLITE_CORE). Every
 * bad option must be an error; when the table is created, a row is inserted and queried
 * and the table's 'integrity-check' command runs, then the table is dropped. Only the first
 * SQL statement of the input runs (the rest of a "...); other SQL" input is ignored).
 * Oracle: a failed CREATE leaves no table (no shadow table) behind.
 *
 *   make fuzz && build-fuzz/fuzz/fuzz_vtab_args tests/fuzz/corpus/vtab_args */
#include "tests/fuzz/fuzz_util.h"

#include <sqlite3.h>

#include "include/silt.h"

static void exec_ignore(sqlite3 *db, const char *sql) {
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK)
        while (sqlite3_step(st) == SQLITE_ROW) {
        }
    sqlite3_finalize(st);
}

static int count_tables(sqlite3 *db) {
    sqlite3_stmt *st = NULL;
    int n = -1;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM sqlite_schema", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0 || size > 4096) return 0;
    int sparse = data[0] & 1;
    sqlite3 *db = NULL;
    FUZZ_CHECK(sqlite3_open(":memory:", &db) == SQLITE_OK);
    char *err = NULL;
    FUZZ_CHECK(sqlite3_silt_init(db, &err, NULL) == SQLITE_OK);
    char *sql = sqlite3_mprintf("CREATE VIRTUAL TABLE t USING %s(%.*s)",
                                sparse ? "silt_sparse" : "silt_dense", (int)(size - 1),
                                (const char *)data + 1);
    FUZZ_CHECK(sql);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK && st) rc = sqlite3_step(st);
    sqlite3_finalize(st);
    sqlite3_free(sql);
    if (rc == SQLITE_DONE) {
        if (sparse) {
            exec_ignore(db, "INSERT INTO t(rowid, terms) VALUES (1, '{\"1\": 0.5, \"7\": 2}')");
            exec_ignore(db, "INSERT INTO t(rowid, content) VALUES (2, 'hello world')");
            exec_ignore(db, "SELECT rowid, score FROM t WHERE terms MATCH '{\"7\": 1}' AND k = 3");
        } else {
            exec_ignore(db, "INSERT INTO t(rowid, embedding) VALUES (1, '[1, 2, 3, 4]')");
            exec_ignore(db, "INSERT INTO t(rowid, content) VALUES (2, 'hello world')");
            exec_ignore(db, "SELECT rowid, distance FROM t WHERE embedding MATCH '[1, 2, 3, 4]' AND k = 3");
        }
        exec_ignore(db, "INSERT INTO t(t) VALUES ('integrity-check')");
        exec_ignore(db, "DROP TABLE t");
    } else {
        FUZZ_CHECK(count_tables(db) == 0);
    }
    FUZZ_CHECK(sqlite3_close(db) == SQLITE_OK);
    return 0;
}
