/* ingest.c: the SQL function silt_ingest, which loads a CSV, TSV or JSON Lines file
 * (optionally gzip-compressed) from an http, https or file URL, or a local path, into a
 * table, inferring column types.
 *
 *   SELECT silt_ingest('https://example.org/population.csv', 'population');   -- rows loaded
 *   SELECT silt_ingest('file:///data/lake/orders.jsonl', 'orders',
 *                      '{"format":"jsonl","if_exists":"append"}');
 *   SELECT silt_ingest(url, name) FROM my_sources;                           -- many files
 *   SELECT * FROM silt_sources;   -- url, tbl, rows, bytes, sha256, etag, last_modified, loaded_at
 *
 * One savepoint per file: a failed or interrupted load leaves no table, no rows and no
 * silt_sources row behind. Loading the same URL into the same table again is skipped when
 * the source has not changed (same ETag or modification time, else same sha256): the result
 * is then the row count recorded by the earlier load, and nothing is written; {"force":true}
 * reloads. Options: see ingest/options.h. The function is SQLITE_DIRECTONLY: it reads files
 * and the network, so triggers and views in a database cannot call it. */
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ingest/options.h"
#include "sqlext/ingest_load.h"
#include "sqlext/register.h"

static void fn_ingest(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    const char *url = (const char *)sqlite3_value_text(argv[0]);
    const char *tbl = (const char *)sqlite3_value_text(argv[1]);
    const char *opts_json = argc > 2 ? (const char *)sqlite3_value_text(argv[2]) : NULL;
    if (sqlite3_value_type(argv[0]) != SQLITE_TEXT || !url) {
        sqlite3_result_error(ctx, "silt_ingest: the first argument must be a URL or path (text)", -1);
        return;
    }
    if (sqlite3_value_type(argv[1]) != SQLITE_TEXT || !tbl) {
        sqlite3_result_error(ctx, "silt_ingest: the second argument must be a table name (text)", -1);
        return;
    }
    silt_ingest_opts o;
    char *err = NULL;
    if (silt_ingest_opts_parse(opts_json, &o, &err)) {
        char *m = sqlite3_mprintf("silt_ingest: %s", err ? err : "bad options");
        sqlite3_result_error(ctx, m ? m : "silt_ingest: bad options", -1);
        sqlite3_free(m);
        free(err);
        silt_ingest_opts_free(&o);
        return;
    }
    silt_ingest_result res;
    char *msg = NULL;
    int rc = silt_ingest_load(sqlite3_context_db_handle(ctx), url, tbl, &o, &res, &msg);
    silt_ingest_opts_free(&o);
    if (rc != SQLITE_OK) {
        char *m = sqlite3_mprintf("silt_ingest('%s'): %s", url, msg ? msg : "failed");
        sqlite3_result_error(ctx, m ? m : "silt_ingest failed", -1);
        if (rc != SQLITE_ERROR) sqlite3_result_error_code(ctx, rc);
        sqlite3_free(m);
        sqlite3_free(msg);
        return;
    }
    sqlite3_result_int64(ctx, res.rows);
}

int silt_register_ingest(sqlite3 *db, char **err) {
    int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
    int rc = sqlite3_create_function(db, "silt_ingest", 2, flags, NULL, fn_ingest, NULL, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_create_function(db, "silt_ingest", 3, flags, NULL, fn_ingest, NULL, NULL);
    if (rc == SQLITE_OK) rc = silt_ingest_dir_register(db);
    if (rc != SQLITE_OK) *err = sqlite3_mprintf("silt: cannot register silt_ingest: %s", sqlite3_errstr(rc));
    return rc;
}
