/* register.h: each sqlext module registers its functions and modules on a connection.
 * Each returns SQLITE_OK or an error code with *err set by sqlite3_mprintf. Add new modules
 * here and to the table in silt.c. */
#ifndef SILT_REGISTER_H
#define SILT_REGISTER_H
#include "sqlext/sqlite.h"

int silt_register_vec_funcs(sqlite3 *db, char **err);
int silt_register_models(sqlite3 *db, char **err); /* models.c: models, embedding, chunks */
int silt_register_ingest(sqlite3 *db, char **err); /* ingest.c: silt_ingest, silt_ingest_dir */
int silt_register_dense(sqlite3 *db, char **err);  /* dense_vtab.c: silt_dense */
int silt_register_sparse(sqlite3 *db, char **err); /* sparse_vtab.c: silt_sparse */
int silt_register_join(sqlite3 *db, char **err);   /* join_vtab.c: silt_join, silt_column_text */
int silt_register_pathguard(sqlite3 *db, char **err); /* pathguard.c: silt_config */

#endif
