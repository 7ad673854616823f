/* sqlite.h: the one way sqlext/ files include SQLite. In the loadable extension every call
 * goes through the API table SQLite hands to sqlite3_silt_init; with -DSQLITE_CORE (the
 * static library) the same source calls SQLite directly. */
#ifndef SILT_SQLEXT_SQLITE_H
#define SILT_SQLEXT_SQLITE_H
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#endif
