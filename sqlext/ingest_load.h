/* ingest_load.h: loading one file into one table, shared by silt_ingest() and
 * silt_ingest_dir (sqlext/ingest.c, sqlext/ingest_dir.c). */
#ifndef SILT_SQLEXT_INGEST_LOAD_H
#define SILT_SQLEXT_INGEST_LOAD_H

#include <stdint.h>

#include "ingest/options.h"
#include "sqlext/sqlite.h"

typedef struct silt_ingest_result {
    int64_t rows; /* rows loaded; when skipped, the count recorded by the earlier load */
    int skipped;  /* the source had not changed since it was loaded into this table */
} silt_ingest_result;

/* Loads url_or_path into table tbl of the main schema under a savepoint (so inside or
 * outside a user's transaction): on failure nothing is left behind, neither table nor
 * rows nor a silt_sources entry. Returns SQLITE_OK or an error code with *errmsg set
 * (sqlite3_malloc'd). SQLITE_INTERRUPT means the statement was interrupted; SQLite then
 * rolls the transaction back itself. */
int silt_ingest_load(sqlite3 *db, const char *url_or_path, const char *tbl,
                     const silt_ingest_opts *opts, silt_ingest_result *res, char **errmsg);

/* The table name silt_ingest_dir gives a file: its path relative to the directory, without
 * the extensions (.csv, .tsv, .jsonl..., and .gz), every run of characters other than ASCII
 * letters, digits and '_' replaced by one '_' ("pollster-ratings/2021/raw-polls.csv" ->
 * "pollster_ratings_2021_raw_polls"); "t_" is put in front of a name that would start with
 * a digit, be empty or start with "sqlite_". sqlite3_malloc'd, NULL when out of memory. */
char *silt_ingest_table_name(const char *rel_path);

/* Registers the table-valued function silt_ingest_dir (sqlext/ingest_dir.c). */
int silt_ingest_dir_register(sqlite3 *db);

#endif
