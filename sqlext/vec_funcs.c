/* vec_funcs.c: scalar SQL functions on dense float32 vectors.
 *
 *   SELECT silt_vec('[1, 2, 3]');                      -- float32 BLOB
 *   SELECT silt_vec_json(silt_normalize('[3, 4]'));    -- '[0.6,0.8]'
 *   SELECT silt_distance_cosine(a.v, b.v) FROM a, b;
 *
 * Every vector argument may be a float32 BLOB or a JSON array text. As with SQLite's own
 * functions, a NULL argument gives NULL. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/vec.h"
#include "core/vecparse.h"
#include "include/silt.h"
#include "sqlext/register.h"
#include "sqlext/vecarg.h"

/* Reads argument i of ctx; on failure sets the SQL error and returns non-zero. With
 * check == 0 a BLOB's values are not scanned for NaN/Inf (the caller checks its result). */
static int read_arg_checked(sqlite3_context *ctx, sqlite3_value **argv, int i, silt_vecarg *a,
                            int check) {
    char *err = NULL;
    int rc = check ? silt_vecarg_read(argv[i], sqlite3_user_data(ctx), i + 1, a, &err)
                   : silt_vecarg_read_unchecked(argv[i], sqlite3_user_data(ctx), i + 1, a, &err);
    if (rc == SQLITE_OK) return 0;
    if (rc == SQLITE_NOMEM) sqlite3_result_error_nomem(ctx);
    else sqlite3_result_error(ctx, err, -1);
    sqlite3_free(err);
    return 1;
}

static int read_arg(sqlite3_context *ctx, sqlite3_value **argv, int i, silt_vecarg *a) {
    return read_arg_checked(ctx, argv, i, a, 1);
}

static int any_null(int argc, sqlite3_value **argv) {
    for (int i = 0; i < argc; i++)
        if (sqlite3_value_type(argv[i]) == SQLITE_NULL) return 1;
    return 0;
}

static void fn_version(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc, (void)argv;
    sqlite3_result_text(ctx, SILT_VERSION, -1, SQLITE_STATIC);
}

static void result_vec(sqlite3_context *ctx, const float *v, int dim) {
    sqlite3_result_blob64(ctx, v, (sqlite3_uint64)dim * sizeof(float), SQLITE_TRANSIENT);
}

static void fn_vec(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    silt_vecarg a;
    if (any_null(argc, argv)) return;
    if (read_arg(ctx, argv, 0, &a)) return;
    result_vec(ctx, a.v, a.dim);
    silt_vecarg_free(&a);
}

static void fn_vec_json(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    silt_vecarg a;
    if (any_null(argc, argv)) return;
    if (read_arg(ctx, argv, 0, &a)) return;
    char *s = silt_vec_to_json(a.v, a.dim);
    silt_vecarg_free(&a);
    if (!s) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    sqlite3_result_text(ctx, s, -1, free);
}

static void fn_vec_dim(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    silt_vecarg a;
    if (any_null(argc, argv)) return;
    if (read_arg(ctx, argv, 0, &a)) return;
    sqlite3_result_int(ctx, a.dim);
    silt_vecarg_free(&a);
}

static void fn_normalize(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    silt_vecarg a;
    if (any_null(argc, argv)) return;
    if (read_arg(ctx, argv, 0, &a)) return;
    double nn = 0;
    for (int i = 0; i < a.dim; i++) nn += (double)a.v[i] * a.v[i];
    if (nn == 0) {
        silt_vecarg_free(&a);
        sqlite3_result_error(ctx, "silt_normalize: cannot normalise a zero vector", -1);
        return;
    }
    float *out = sqlite3_malloc64(sizeof(float) * (sqlite3_uint64)a.dim);
    if (!out) {
        silt_vecarg_free(&a);
        sqlite3_result_error_nomem(ctx);
        return;
    }
    double inv = 1.0 / sqrt(nn);
    for (int i = 0; i < a.dim; i++) out[i] = (float)(a.v[i] * inv);
    sqlite3_result_blob64(ctx, out, (sqlite3_uint64)a.dim * sizeof(float), sqlite3_free);
    silt_vecarg_free(&a);
}

enum { DIST_L2, DIST_COSINE, DIST_DOT };

/* The three distance functions share argument handling; user data names the function and
 * the metric is told apart by name. */
static void fn_distance(sqlite3_context *ctx, int argc, sqlite3_value **argv, int metric) {
    silt_vecarg a, b;
    if (any_null(argc, argv)) return;
    /* Any NaN/Inf input makes the result non-finite, so inputs are scanned only then. */
    if (read_arg_checked(ctx, argv, 0, &a, 0)) return;
    if (read_arg_checked(ctx, argv, 1, &b, 0)) {
        silt_vecarg_free(&a);
        return;
    }
    const char *fname = sqlite3_user_data(ctx);
    double result = 0;
    if (a.dim != b.dim) {
        char *m = sqlite3_mprintf("%s: dimension mismatch: %d vs %d", fname, a.dim, b.dim);
        sqlite3_result_error(ctx, m ? m : "dimension mismatch", -1);
        sqlite3_free(m);
    } else {
        const silt_vec_kernels *k = silt_vec_best();
        int zero = 0;
        if (metric == DIST_L2) {
            result = sqrt((double)k->l2sq(a.v, b.v, (size_t)a.dim));
        } else if (metric == DIST_DOT) {
            result = (double)k->dot(a.v, b.v, (size_t)a.dim);
        } else {
            float d, x, y;
            k->cos_parts(a.v, b.v, (size_t)a.dim, &d, &x, &y);
            result = (double)d + x + y; /* non-finite iff an input was */
            if (isfinite(result)) {
                if (x == 0 || y == 0) zero = 1;
                else result = 1.0 - (double)d / sqrt((double)x * (double)y);
            }
        }
        if (!isfinite(result)) {
            silt_vecarg ab[2] = {a, b};
            char *m = silt_vecarg_explain_nonfinite(ab, 2, fname);
            sqlite3_result_error(ctx, m ? m : "non-finite result", -1);
            sqlite3_free(m);
        } else if (zero) {
            char *m = sqlite3_mprintf("%s: cosine distance is undefined for a zero vector", fname);
            sqlite3_result_error(ctx, m ? m : "zero vector", -1);
            sqlite3_free(m);
        } else {
            sqlite3_result_double(ctx, result);
        }
    }
    silt_vecarg_free(&a);
    silt_vecarg_free(&b);
}

static void fn_l2(sqlite3_context *c, int n, sqlite3_value **v) { fn_distance(c, n, v, DIST_L2); }
static void fn_cos(sqlite3_context *c, int n, sqlite3_value **v) { fn_distance(c, n, v, DIST_COSINE); }
static void fn_dot(sqlite3_context *c, int n, sqlite3_value **v) { fn_distance(c, n, v, DIST_DOT); }

int silt_register_vec_funcs(sqlite3 *db, char **err) {
    static const struct {
        const char *name;
        int n_arg;
        void (*fn)(sqlite3_context *, int, sqlite3_value **);
    } fns[] = {
        {"silt_version", 0, fn_version},
        {"silt_vec", 1, fn_vec},
        {"silt_vec_json", 1, fn_vec_json},
        {"silt_vec_dim", 1, fn_vec_dim},
        {"silt_normalize", 1, fn_normalize},
        {"silt_distance_l2", 2, fn_l2},
        {"silt_distance_cosine", 2, fn_cos},
        {"silt_dot", 2, fn_dot},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        int rc = sqlite3_create_function_v2(
            db, fns[i].name, fns[i].n_arg, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
            (void *)fns[i].name, fns[i].fn, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            *err = sqlite3_mprintf("silt: cannot register %s: %s", fns[i].name, sqlite3_errmsg(db));
            return rc;
        }
    }
    return SQLITE_OK;
}
