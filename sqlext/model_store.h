/* model_store.h: the tables that keep models in a database (see models.h for the layout):
 * reading a registry row, registering, importing files, unregistering, and writing an
 * imported model's files back to disk so that a loader can read them.
 * Errors are SQLite codes with *err set by sqlite3_mprintf. Writes run inside a savepoint
 * (or, when called from a statement that already writes, inside that statement), so a
 * failure leaves the database unchanged. */
#ifndef SILT_MODEL_STORE_H
#define SILT_MODEL_STORE_H

#include "sqlext/sqlite.h"

/* Chunk size of silt_model_files.data. */
#define SILT_MODEL_CHUNK_BYTES (1 << 20)

typedef struct {
    char *path;     /* absolute path at registration */
    char *layout;   /* "dir" or "file" */
    char *sha256;
    char *options;  /* JSON object text, or NULL */
    int imported;
} silt_model_row;   /* strings sqlite3_malloc'd */

void silt_model_row_free(silt_model_row *row);

/* The registry row of name in main; "no such model" error naming the registered ones. */
int silt_model_store_get(sqlite3 *db, const char *name, silt_model_row *row, char **err);

/* Description of a validated model, for silt_model_store_put. */
typedef struct {
    const char *name, *path, *layout, *arch, *kind, *sha256, *options;
    int dim, max_tokens;
} silt_model_desc;

/* Inserts the registry row (creating the tables on first use). An existing name is an error
 * unless replace is set; replacing drops the old row's imported files. */
int silt_model_store_put(sqlite3 *db, const silt_model_desc *d, int replace, char **err);

/* The message for registering a name that is taken (sqlite3_mprintf'd). */
char *silt_model_store_duplicate_msg(const char *name);

/* Copies the registered files of name into silt_model_files (checking they still have the
 * registered sha256) and marks the row imported. *n_bytes gets the bytes stored. An already
 * imported model is left as it is. */
int silt_model_store_import(sqlite3 *db, const char *name, long long *n_bytes, char **err);

/* Deletes name's row and imported files; error if there is no such model. */
int silt_model_store_delete(sqlite3 *db, const char *name, char **err);

/* Writes the imported files of name to a private directory keyed by sha256 (reused when a
 * complete one exists) and sets *dir (malloc'd). The files are checked against sha256. */
int silt_model_store_materialize(sqlite3 *db, const char *name, const char *sha256,
                                 char **dir, char **err);

#endif
