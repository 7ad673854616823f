/* vecarg.c: dense vector arguments from SQL values (see vecarg.h). */
#include "sqlext/vecarg.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/vecparse.h"

/* "<what> argument <argno>" or "<what>", for messages. */
static char *arg_name(const char *what, int argno) {
    return argno > 0 ? sqlite3_mprintf("%s argument %d", what, argno) : sqlite3_mprintf("%s", what);
}

static int read_vec(sqlite3_value *val, const char *what, int argno, int check, silt_vecarg *out,
                    char **err) {
    memset(out, 0, sizeof *out);
    char *msg = NULL;
    switch (sqlite3_value_type(val)) {
    case SQLITE_BLOB: {
        const void *p = sqlite3_value_blob(val);
        int n = sqlite3_value_bytes(val);
        int dim = n / 4;
        if (check || n == 0 || n % 4) {
            if (silt_vec_check_blob(p, (size_t)n, &dim, &msg)) break;
        }
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
        msg = strdup("vector is NULL");
        break;
    default:
        msg = strdup(sqlite3_value_type(val) == SQLITE_INTEGER
                         ? "expected a float32 BLOB or a JSON array text, got an integer"
                         : "expected a float32 BLOB or a JSON array text, got a real");
        break;
    }
    char *name = arg_name(what, argno);
    *err = sqlite3_mprintf("%s: %s", name ? name : what, msg ? msg : "out of memory");
    sqlite3_free(name);
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

int silt_vecarg_read(sqlite3_value *val, const char *what, int argno, silt_vecarg *out,
                     char **err) {
    return read_vec(val, what, argno, 1, out, err);
}

int silt_vecarg_read_unchecked(sqlite3_value *val, const char *what, int argno, silt_vecarg *out,
                               char **err) {
    return read_vec(val, what, argno, 0, out, err);
}

char *silt_vecarg_explain_nonfinite(const silt_vecarg *args, int n_args, const char *what) {
    for (int i = 0; i < n_args; i++) {
        char *msg = NULL;
        int dim;
        if (silt_vec_check_blob(args[i].v, (size_t)args[i].dim * sizeof(float), &dim, &msg)) {
            char *s = sqlite3_mprintf("%s argument %d: %s", what, i + 1, msg ? msg : "invalid");
            free(msg);
            return s;
        }
    }
    return sqlite3_mprintf("%s: the result overflows float32", what);
}
