/* model_registry.c: the SQL functions that manage a database's models.
 *
 *   SELECT silt_model_register('minilm', '/models/all-MiniLM-L6-v2');       -- 'minilm'
 *   SELECT silt_model_register('splade', '/models/splade', '{"kind":"sparse"}');
 *   SELECT silt_model_register('minilm', '/models/other', '{"replace":true}');
 *   SELECT silt_model_import('minilm');       -- bytes copied into the database
 *   SELECT silt_model_unregister('minilm');   -- 1
 *
 * Registration fully loads the model (every header, tensor and the tokenizer are checked by
 * the loader) before anything is written, and hashes its files, so a registered model is
 * known good and later changes to its files are detected by silt_model_import. The options
 * object is passed to the loader, except "replace" (a registration option). These functions
 * write to the database, so they are DIRECTONLY: not usable from views or triggers. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/model_files.h"
#include "sqlext/model_store.h"
#include "sqlext/models.h"
#include "sqlext/pathguard.h"
#include "sqlext/register.h"

/* Sets an error "<fn>: <msg>" on ctx and frees msg (sqlite3_mprintf'd; NULL = no memory). */
static void fail(sqlite3_context *ctx, int rc, char *msg) {
    if (!msg && (rc == SQLITE_NOMEM || rc == SQLITE_OK)) {
        sqlite3_result_error_nomem(ctx);
        return;
    }
    char *m = sqlite3_mprintf("%s: %s", (const char *)sqlite3_user_data(ctx),
                              msg ? msg : sqlite3_errstr(rc));
    sqlite3_result_error(ctx, m ? m : "out of memory", -1);
    sqlite3_free(m);
    sqlite3_free(msg);
}

/* Reads argument i as a model name. Returns the name, or NULL after setting the error.
 * check_chars: a new name (register), whose characters are checked. */
static const char *name_arg(sqlite3_context *ctx, sqlite3_value *v, int check_chars) {
    if (sqlite3_value_type(v) != SQLITE_TEXT) {
        fail(ctx, SQLITE_ERROR,
             sqlite3_mprintf("model name must be text, got %s",
                             sqlite3_value_type(v) == SQLITE_NULL ? "NULL" : "a non-text value"));
        return NULL;
    }
    const char *name = (const char *)sqlite3_value_text(v);
    size_t n = strlen(name);
    if (check_chars) {
        int ok = n > 0 && n <= 64;
        for (size_t i = 0; ok && i < n; i++) {
            char c = name[i];
            ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-' || c == '.';
        }
        if (!ok) {
            fail(ctx, SQLITE_ERROR,
                 sqlite3_mprintf("model name '%s' is not valid: expected 1 to 64 letters, "
                                 "digits, '_', '-' or '.'", name));
            return NULL;
        }
    }
    if (sqlite3_stricmp(name, "default") == 0) {
        fail(ctx, SQLITE_ERROR,
             check_chars ? sqlite3_mprintf("the name '%s' is reserved for the built-in model; "
                                           "choose another name", name)
                         : sqlite3_mprintf("'default' is the built-in model, which is not in "
                                           "the registry; register its directory under another "
                                           "name to do this"));
        return NULL;
    }
    return name;
}

/* Parses the options argument: *replace from "replace", the rest printed into *model_opts
 * (sqlite3_malloc'd, NULL when empty) and *kind ("dense"/"sparse"/NULL, points into a
 * static string). Returns 0, or -1 after setting the error. */
static int parse_options(sqlite3_context *ctx, sqlite3_value *v, int *replace,
                         char **model_opts, const char **kind) {
    *replace = 0, *model_opts = NULL, *kind = NULL;
    if (!v || sqlite3_value_type(v) == SQLITE_NULL) return 0;
    const char *text = (const char *)sqlite3_value_text(v);
    cJSON *o = sqlite3_value_type(v) == SQLITE_TEXT ? cJSON_Parse(text) : NULL;
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        fail(ctx, SQLITE_ERROR,
             sqlite3_mprintf("options must be a JSON object such as '{\"kind\":\"sparse\"}' or "
                             "'{\"replace\":true}', got '%.60s'", text ? text : ""));
        return -1;
    }
    cJSON *r = cJSON_GetObjectItemCaseSensitive(o, "replace");
    if (r) {
        if (!cJSON_IsBool(r)) {
            cJSON_Delete(o);
            fail(ctx, SQLITE_ERROR, sqlite3_mprintf("option \"replace\" must be true or false"));
            return -1;
        }
        *replace = cJSON_IsTrue(r);
        cJSON_DeleteItemFromObjectCaseSensitive(o, "replace");
    }
    cJSON *k = cJSON_GetObjectItemCaseSensitive(o, "kind");
    if (k) {
        if (cJSON_IsString(k) && strcmp(k->valuestring, "dense") == 0) *kind = "dense";
        else if (cJSON_IsString(k) && strcmp(k->valuestring, "sparse") == 0) *kind = "sparse";
        else {
            cJSON_Delete(o);
            fail(ctx, SQLITE_ERROR,
                 sqlite3_mprintf("option \"kind\" must be \"dense\" or \"sparse\""));
            return -1;
        }
    }
    if (o->child) {
        char *s = cJSON_PrintUnformatted(o);
        *model_opts = s ? sqlite3_mprintf("%s", s) : NULL;
        free(s);
        if (!*model_opts) {
            cJSON_Delete(o);
            sqlite3_result_error_nomem(ctx);
            return -1;
        }
    }
    cJSON_Delete(o);
    return 0;
}

static void fn_register(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    sqlite3 *db = sqlite3_context_db_handle(ctx);
    const char *name = name_arg(ctx, argv[0], 1);
    if (!name) return;
    if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
        fail(ctx, SQLITE_ERROR, sqlite3_mprintf("model path must be text (a model directory or "
                                                "a GGUF file)"));
        return;
    }
    const char *path = (const char *)sqlite3_value_text(argv[1]);
    int replace;
    char *opts;
    const char *want_kind;
    if (parse_options(ctx, argc > 2 ? argv[2] : NULL, &replace, &opts, &want_kind)) return;

    char *err = NULL, *core_err = NULL;
    silt_model_row old;
    silt_encoder *enc = NULL;
    silt_model_files files = {0};
    char real[PATH_MAX], sha[65];
    int rc = SQLITE_OK;
    if (!replace && silt_model_store_get(db, name, &old, &err) == SQLITE_OK) {
        rc = SQLITE_ERROR;
        err = silt_model_store_duplicate_msg(name);
        silt_model_row_free(&old);
        goto done;
    }
    sqlite3_free(err);
    err = NULL;
    if (silt_pathguard_check(path, &core_err)) {
        rc = SQLITE_ERROR;
        err = sqlite3_mprintf("%s", core_err ? core_err : "out of memory");
        goto done;
    }
    if (!realpath(path, real)) {
        rc = SQLITE_ERROR;
        err = sqlite3_mprintf("model path '%s' not found (expected a model directory or a "
                              "GGUF file)", path);
        goto done;
    }
    if (silt_model_files_list(real, &files, &core_err) ||
        silt_model_files_sha256(real, &files, sha, &core_err)) {
        rc = SQLITE_ERROR;
        err = sqlite3_mprintf("%s", core_err ? core_err : "out of memory");
        goto done;
    }
    /* The loader reads the path as the user wrote it, so that its messages name it so. */
    rc = silt_model_acquire_path(path, sha, opts, &enc, &err);
    if (rc != SQLITE_OK) goto done;
    if (want_kind && strcmp(want_kind, silt_model_kind_name(enc)) != 0) {
        rc = SQLITE_ERROR;
        err = sqlite3_mprintf("model at %s is %s (%s), not %s", path, silt_model_kind_name(enc),
                              enc->arch, want_kind);
        goto done;
    }
    silt_model_desc d = {.name = name, .path = real, .layout = files.is_dir ? "dir" : "file",
                         .arch = enc->arch, .kind = silt_model_kind_name(enc), .sha256 = sha,
                         .options = opts, .dim = enc->dim, .max_tokens = enc->max_tokens};
    rc = silt_model_store_put(db, &d, replace, &err);
done:
    silt_model_release(enc);
    silt_model_files_free(&files);
    free(core_err);
    sqlite3_free(opts);
    if (rc != SQLITE_OK) fail(ctx, rc, err);
    else sqlite3_result_text(ctx, name, -1, SQLITE_TRANSIENT);
}

static void fn_import(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    const char *name = name_arg(ctx, argv[0], 0);
    if (!name) return;
    char *err = NULL;
    long long n_bytes = 0;
    int rc = silt_model_store_import(sqlite3_context_db_handle(ctx), name, &n_bytes, &err);
    if (rc != SQLITE_OK) fail(ctx, rc, err);
    else sqlite3_result_int64(ctx, n_bytes);
}

static void fn_unregister(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    (void)argc;
    const char *name = name_arg(ctx, argv[0], 0);
    if (!name) return;
    char *err = NULL;
    int rc = silt_model_store_delete(sqlite3_context_db_handle(ctx), name, &err);
    if (rc != SQLITE_OK) fail(ctx, rc, err);
    else sqlite3_result_int(ctx, 1);
}

int silt_register_model_registry(sqlite3 *db, char **err) {
    static const struct {
        const char *name;
        int n_arg;
        void (*fn)(sqlite3_context *, int, sqlite3_value **);
    } fns[] = {
        {"silt_model_register", 2, fn_register},
        {"silt_model_register", 3, fn_register},
        {"silt_model_import", 1, fn_import},
        {"silt_model_unregister", 1, fn_unregister},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        int rc = sqlite3_create_function_v2(db, fns[i].name, fns[i].n_arg,
                                            SQLITE_UTF8 | SQLITE_DIRECTONLY, (void *)fns[i].name,
                                            fns[i].fn, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            *err = sqlite3_mprintf("silt: cannot register %s: %s", fns[i].name,
                                   sqlite3_errmsg(db));
            return rc;
        }
    }
    return SQLITE_OK;
}
