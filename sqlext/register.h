/* register.h: each sqlext module registers its functions and modules on a connection.
 * Each returns SQLITE_OK or an error code with *err set by sqlite3_mprintf. Add new modules
 * here and to the table in silt.c. */
#ifndef SILT_REGISTER_H
#define SILT_REGISTER_H
#include "sqlext/sqlite.h"

int silt_register_vec_funcs(sqlite3 *db, char **err);

#endif
