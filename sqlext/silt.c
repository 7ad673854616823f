/* silt.c: the extension's entry point.
 *
 *   sqlite> .load ./build/silt
 *   sqlite> SELECT silt_version();
 *
 * Applications that link libsilt.a call sqlite3_auto_extension(sqlite3_silt_init) once. */
#include "sqlext/sqlite.h"
SQLITE_EXTENSION_INIT1

#include <stddef.h>

#include "core/ops.h"
#include "include/silt.h"
#include "sqlext/register.h"

typedef int (*register_fn)(sqlite3 *db, char **err);

static const register_fn modules[] = {
    silt_register_vec_funcs,
    silt_register_models,
    silt_register_dense,
    silt_register_sparse,
    silt_register_join,
    silt_register_pathguard,
    silt_register_ingest,
};

__attribute__((visibility("default"))) int sqlite3_silt_init(sqlite3 *db, char **pzErrMsg,
                                                             const sqlite3_api_routines *pApi) {
    SQLITE_EXTENSION_INIT2(pApi);
    if (sqlite3_libversion_number() < 3037000) {
        if (pzErrMsg)
            *pzErrMsg = sqlite3_mprintf("silt needs SQLite 3.37 or newer (this is %s)",
                                        sqlite3_libversion());
        return SQLITE_ERROR;
    }
    silt_ops_blas_quiet();
    for (size_t i = 0; i < sizeof modules / sizeof modules[0]; i++) {
        char *err = NULL;
        int rc = modules[i](db, &err);
        if (rc != SQLITE_OK) {
            if (pzErrMsg) *pzErrMsg = err;
            else sqlite3_free(err);
            return rc;
        }
    }
    return SQLITE_OK;
}
