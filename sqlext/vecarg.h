/* vecarg.h: reading a dense vector argument (float32 BLOB or JSON array text) from an SQL
 * value, for SQL functions and virtual tables alike. */
#ifndef SILT_VECARG_H
#define SILT_VECARG_H

#include "sqlext/sqlite.h"

typedef struct {
    const float *v; /* dim values, 4-byte aligned; points into the value or into owned */
    int dim;
    float *owned;   /* malloc'd copy when the value needed parsing or realignment */
} silt_vecarg;

/* Reads val as a vector. Returns SQLITE_OK, or SQLITE_ERROR with *err (sqlite3_mprintf'd)
 * naming the argument: "<what> argument <argno>: <problem>" (argno 0 gives "<what>: ...").
 * The message is built only on failure: this runs once per row in hot loops. A NULL value is
 * an error here; callers that pass NULL through check for it first. */
int silt_vecarg_read(sqlite3_value *val, const char *what, int argno, silt_vecarg *out,
                     char **err);

/* The same without checking a BLOB's values for NaN/Inf, for hot paths whose result is
 * non-finite whenever an input is (distances): they call silt_vecarg_explain_nonfinite when
 * the result is not finite. */
int silt_vecarg_read_unchecked(sqlite3_value *val, const char *what, int argno, silt_vecarg *out,
                               char **err);
/* Message for a non-finite result: names the argument and element that is NaN/Inf, or says
 * that the result overflowed float32. Returns an sqlite3_mprintf'd string. */
char *silt_vecarg_explain_nonfinite(const silt_vecarg *args, int n_args, const char *what);
void silt_vecarg_free(silt_vecarg *a);

/* Sets the result of ctx to an error from a malloc'd core message, freeing it. */
void silt_result_core_error(sqlite3_context *ctx, const char *prefix, char *msg);

#endif
