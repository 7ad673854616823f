/* vecarg.c: dense vector arguments from SQL values (see vecarg.h). */
#include "sqlext/vecarg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/vecparse.h"

int silt_vecarg_read(sqlite3_value *val, const char *what, silt_vecarg *out, char **err) {
    memset(out, 0, sizeof *out);
    char *msg = NULL;
    switch (sqlite3_value_type(val)) {
    case SQLITE_BLOB: {
        const void *p = sqlite3_value_blob(val);
        int n = sqlite3_value_bytes(val);
        int dim;
        if (silt_vec_check_blob(p, (size_t)n, &dim, &msg)) break;
        if ((uintptr_t)p % sizeof(float)) {
            out->owned = malloc((size_t)n);
            if (!out->owned) {
                *err = sqlite3_mprintf("%s: out of memory", what);
                return SQLITE_NOMEM;
            }
            memcpy(out->owned, p, (size_t)n);
            p = out->owned;
        }
        out->v = p;
        out->dim = dim;
        return SQLITE_OK;
    }
    case SQLITE_TEXT: {
        const char *t = (const char *)sqlite3_value_text(val);
        int n = sqlite3_value_bytes(val);
        if (silt_vec_from_json(t, (size_t)n, &out->owned, &out->dim, &msg)) break;
        out->v = out->owned;
        return SQLITE_OK;
    }
    case SQLITE_NULL:
        *err = sqlite3_mprintf("%s: vector is NULL", what);
        return SQLITE_ERROR;
    default:
        *err = sqlite3_mprintf("%s: expected a float32 BLOB or a JSON array text, got %s", what,
                               sqlite3_value_type(val) == SQLITE_INTEGER ? "an integer" : "a real");
        return SQLITE_ERROR;
    }
    *err = sqlite3_mprintf("%s: %s", what, msg ? msg : "out of memory");
    free(msg);
    return SQLITE_ERROR;
}

void silt_vecarg_free(silt_vecarg *a) {
    free(a->owned);
    memset(a, 0, sizeof *a);
}

void silt_result_core_error(sqlite3_context *ctx, const char *prefix, char *msg) {
    char *s = sqlite3_mprintf("%s: %s", prefix, msg ? msg : "out of memory");
    if (s) sqlite3_result_error(ctx, s, -1);
    else sqlite3_result_error_nomem(ctx);
    sqlite3_free(s);
    free(msg);
}
