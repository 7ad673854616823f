/* commit_guard.c: refuses the commits that would bring a dqlite node down, and gives every
 * connection `silt_node_id()` (the id of the node that runs the statement):
 *
 *   silt-sql -s ... "SELECT silt_node_id()"       -- which node leads and answered
 *
 * dqlite replicates the pages of a transaction only when the transaction commits while it
 * steps a write request (EXEC_SQL: one sqlite3_step, then it ships the pages that step
 * committed). Two kinds of commit escape it, and libdqlite 1.11 then aborts the node at its
 * next write (vfs.c: Assertion `wal->n_tx == 0`, both reproduced):
 *   - a commit inside a query, e.g. `SELECT silt_ingest(...)` in autocommit mode, whose
 *     function commits its own savepoint;
 *   - the commit of `INSERT/UPDATE/DELETE ... RETURNING`, which SQLite makes only once the
 *     last row is read or the statement is reset, after dqlite's single step.
 * The guard refuses both: SQLite rolls that transaction back, the statement fails, the node
 * logs why and lives on. Every other commit is allowed: that of a write statement without
 * RETURNING (its own), and that of COMMIT / RELEASE when only transaction-control statements
 * run, which is how a writing SELECT runs safely: BEGIN; SELECT silt_ingest(...); COMMIT
 * (silt-sql and go-dqlite's shell both send it that way). */
#include "cluster/commit_guard.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Set once by silt-node before any connection opens; read-only afterwards. */
static uint64_t node_id;

void silt_commit_guard_set_node_id(uint64_t id) { node_id = id; }

/* 1 when sql starts with a transaction-control keyword (BEGIN, COMMIT, ...). */
static int is_txn_control(const char *sql) {
    static const char *const kw[] = {"BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE"};
    while (isspace((unsigned char)*sql)) sql++;
    for (size_t i = 0; i < sizeof kw / sizeof kw[0]; i++) {
        size_t n = strlen(kw[i]);
        if (strncasecmp(sql, kw[i], n) == 0 && !isalnum((unsigned char)sql[n]) && sql[n] != '_')
            return 1;
    }
    return 0;
}

/* 1 when sql starts with PRAGMA. */
static int starts_pragma(const char *sql) {
    while (isspace((unsigned char)*sql)) sql++;
    return strncasecmp(sql, "PRAGMA", 6) == 0 && !isalnum((unsigned char)sql[6]) && sql[6] != '_';
}

static int guard_commit(void *arg) {
    sqlite3 *db = arg;
    const char *why = NULL, *culprit = NULL;
    for (sqlite3_stmt *s = sqlite3_next_stmt(db, NULL); s; s = sqlite3_next_stmt(db, s)) {
        if (!sqlite3_stmt_busy(s)) continue;
        const char *sql = sqlite3_sql(s);
        if (!sqlite3_stmt_readonly(s)) {
            /* A write statement owns this commit; so does a PRAGMA (dqlite's own
             * `PRAGMA journal_mode=WAL` on every new connection returns a row). */
            if (sqlite3_column_count(s) == 0 || (sql && starts_pragma(sql))) return 0;
            why = "with RETURNING the commit comes after dqlite has collected the pages";
            culprit = sql;
        } else if (sql && !is_txn_control(sql) && !why) {
            why = "a read statement committed, and dqlite replicates only what write requests "
                  "commit: run it inside BEGIN ... COMMIT";
            culprit = sql;
        }
    }
    if (!why) return 0;
    fprintf(stderr, "silt-node %llu: refused a commit (%.80s): %s\n", (unsigned long long)node_id,
            culprit ? culprit : "?", why);
    return 1;
}

static void node_id_func(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    (void)argv;
    sqlite3_result_int64(ctx, (sqlite3_int64)node_id);
}

int silt_commit_guard_init(sqlite3 *db, char **err, const sqlite3_api_routines *api) {
    (void)api;
    int rc = sqlite3_create_function(db, "silt_node_id", 0, SQLITE_UTF8 | SQLITE_INNOCUOUS, NULL,
                                     node_id_func, NULL, NULL);
    if (rc != SQLITE_OK) {
        if (err) *err = sqlite3_mprintf("silt-node: cannot register silt_node_id: %s", sqlite3_errmsg(db));
        return rc;
    }
    sqlite3_commit_hook(db, guard_commit, db);
    return SQLITE_OK;
}
