/* silt.h: public C header of silt, a SQLite extension for retrieval over a data lake.
 *
 * Loadable extension:  sqlite> .load ./build/silt
 * Static linking:      link build/libsilt.a (pkg-config --static --libs build/silt.pc), then
 *                      once per process, before opening connections:
 *
 *     #include "silt.h"
 *     sqlite3_auto_extension((void (*)(void))sqlite3_silt_init);
 */
#ifndef SILT_H
#define SILT_H

#include <sqlite3.h>

#ifdef __cplusplus
extern "C" {
#endif

#define SILT_VERSION "0.1.0"

/* Registers silt's SQL functions and virtual tables on db. */
int sqlite3_silt_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi);

#ifdef __cplusplus
}
#endif

#endif
