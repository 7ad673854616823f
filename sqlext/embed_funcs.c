/* embed_funcs.c: SQL functions that run text through a model.
 *
 *   SELECT silt_embed('hello');                          -- default model, float32 BLOB
 *   SELECT silt_embed('minilm', body) FROM docs;         -- a registered model
 *   SELECT silt_embed('minilm', body, '{"truncate":false}') FROM docs;  -- long text = error
 *   SELECT silt_embed_sparse('splade', 'query text');    -- silt_sparse BLOB
 *   SELECT silt_tokenize('default', 'hello world');      -- '[2002,102,311]'
 *   SELECT silt_tokenize('hello world');                 -- the same, default model
 *   SELECT silt_sparse_json(silt_embed_sparse('splade', 'apple'), 'splade');
 *
 * Text arguments follow SQLite's string functions: NULL gives NULL, numbers are read as
 * their text, and a BLOB is an error (CAST it to TEXT to embed its bytes as UTF-8). Invalid
 * UTF-8 is not an error: each bad sequence reads as U+FFFD. The model handle is kept with
 * the statement (sqlite3_set_auxdata) when the model name is a constant, so per-row calls
 * do not look the model up again. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/embed.h"
#include "core/err.h"
#include "core/sparse_vec.h"
#include "sqlext/models.h"
#include "sqlext/register.h"

/* Sets "<fn>: <msg>" as the error of ctx and frees msg (sqlite3_mprintf'd). */
static void fail_sql(sqlite3_context *ctx, char *msg) {
    char *m = sqlite3_mprintf("%s: %s", (const char *)sqlite3_user_data(ctx),
                              msg ? msg : "out of memory");
    if (m) sqlite3_result_error(ctx, m, -1);
    else sqlite3_result_error_nomem(ctx);
    sqlite3_free(m);
    sqlite3_free(msg);
}

/* The same for a malloc'd core message, prefixed by the model's name. */
static void fail_core(sqlite3_context *ctx, const char *model, char *msg) {
    fail_sql(ctx, sqlite3_mprintf("model '%s': %s", model, msg ? msg : "out of memory"));
    free(msg);
}

static void release_aux(void *p) { silt_model_release(p); }

/* "NULL", "an integer", ... for messages about a value of the wrong type. */
static const char *type_name(sqlite3_value *v) {
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL: return "NULL";
    case SQLITE_INTEGER: return "an integer";
    case SQLITE_FLOAT: return "a real";
    case SQLITE_BLOB: return "a BLOB";
    default: return "text";
    }
}

/* The encoder for the model argument v (NULL v: the default model), cached on argument 0
 * of the statement. Sets *name. NULL after setting the error. The caller must call
 * put_model when done. */
static silt_encoder *get_model(sqlite3_context *ctx, sqlite3_value *v, const char **name,
                               int *from_aux) {
    *from_aux = 0;
    *name = "default";
    if (v) {
        if (sqlite3_value_type(v) != SQLITE_TEXT) {
            fail_sql(ctx, sqlite3_mprintf("model name must be text ('default' or a name given "
                                          "to silt_model_register), got %s", type_name(v)));
            return NULL;
        }
        *name = (const char *)sqlite3_value_text(v);
        silt_encoder *enc = sqlite3_get_auxdata(ctx, 0);
        if (enc) {
            *from_aux = 1;
            return enc;
        }
    }
    silt_encoder *enc = NULL;
    char *err = NULL;
    if (silt_model_acquire(sqlite3_context_db_handle(ctx), *name, &enc, &err) != SQLITE_OK) {
        fail_sql(ctx, err);
        return NULL;
    }
    if (v) {
        /* set_auxdata may call release_aux before it returns: the statement's cached copy
         * gets its own reference, and this call keeps the one it acquired. */
        silt_model_retain(enc);
        sqlite3_set_auxdata(ctx, 0, enc, release_aux);
    }
    return enc;
}

static void put_model(silt_encoder *enc, int from_aux) {
    if (!from_aux) silt_model_release(enc);
}

/* Reads a text argument. Returns 1 with *text and *len set, 0 when it is NULL (result left
 * NULL), -1 after setting an error (BLOB). */
static int text_arg(sqlite3_context *ctx, sqlite3_value *v, const char **text, size_t *len) {
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL: return 0;
    case SQLITE_BLOB:
        fail_sql(ctx, sqlite3_mprintf("text argument is a BLOB; expected TEXT (use CAST(x AS "
                                      "TEXT) to read its bytes as UTF-8)"));
        return -1;
    default:
        *text = (const char *)sqlite3_value_text(v);
        if (!*text) {
            sqlite3_result_error_nomem(ctx);
            return -1;
        }
        *len = (size_t)sqlite3_value_bytes(v);
        return 1;
    }
}

/* Reads the options argument ({"truncate": bool}); NULL means defaults. 0 or -1 (error set). */
static int options_arg(sqlite3_context *ctx, sqlite3_value *v, int *truncate) {
    *truncate = 1;
    if (!v || sqlite3_value_type(v) == SQLITE_NULL) return 0;
    const char *t = (const char *)sqlite3_value_text(v);
    cJSON *o = sqlite3_value_type(v) == SQLITE_TEXT && t ? cJSON_Parse(t) : NULL;
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        fail_sql(ctx, sqlite3_mprintf("options must be a JSON object such as "
                                      "'{\"truncate\":false}', got '%.60s'", t ? t : ""));
        return -1;
    }
    for (cJSON *it = o->child; it; it = it->next) {
        if (strcmp(it->string, "truncate") == 0 && cJSON_IsBool(it)) {
            *truncate = cJSON_IsTrue(it);
        } else {
            fail_sql(ctx, strcmp(it->string, "truncate") == 0
                              ? sqlite3_mprintf("option \"truncate\" must be true or false")
                              : sqlite3_mprintf("unknown option \"%s\" (expected \"truncate\")",
                                                it->string));
            cJSON_Delete(o);
            return -1;
        }
    }
    cJSON_Delete(o);
    return 0;
}

/* Common argument layout: (text) | (model, text) | (model, text, options). */
typedef struct {
    silt_encoder *enc;
    int from_aux;
    const char *model;
    const char *text;
    size_t len;
    int truncate;
} call_args;

/* 1 when the call is ready, 0 when the result is NULL, -1 after an error. */
static int read_args(sqlite3_context *ctx, int argc, sqlite3_value **argv, call_args *a) {
    memset(a, 0, sizeof *a);
    sqlite3_value *text = argv[argc == 1 ? 0 : 1];
    int t = text_arg(ctx, text, &a->text, &a->len);
    if (t <= 0) return t;
    if (options_arg(ctx, argc > 2 ? argv[2] : NULL, &a->truncate)) return -1;
    a->enc = get_model(ctx, argc == 1 ? NULL : argv[0], &a->model, &a->from_aux);
    if (!a->enc) return -1;
    /* The text pointer may be invalidated by conversions in get_model; read it again. */
    a->text = (const char *)sqlite3_value_text(text);
    a->len = (size_t)sqlite3_value_bytes(text);
    return a->text ? 1 : -1;
}

/* Tokenizes a->text; on failure sets the error. */
static int tokenize(sqlite3_context *ctx, call_args *a, int32_t **ids, int *n_ids) {
    char *err = NULL;
    if (a->enc->ops->tokenize(a->enc, a->text, a->len, a->truncate, ids, n_ids, &err)) {
        fail_core(ctx, a->model, err);
        return -1;
    }
    return 0;
}

static void fn_embed(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    call_args a;
    if (read_args(ctx, argc, argv, &a) <= 0) return;
    silt_encoder *enc = a.enc;
    if (enc->kind != SILT_KIND_DENSE) {
        fail_sql(ctx, sqlite3_mprintf("model '%s' is %s; use silt_embed_sparse", a.model,
                                      silt_model_kind_name(enc)));
        put_model(enc, a.from_aux);
        return;
    }
    int32_t *ids = NULL;
    int n_ids = 0;
    float *out = sqlite3_malloc64((sqlite3_uint64)enc->dim * sizeof(float));
    if (!out) {
        sqlite3_result_error_nomem(ctx);
    } else if (tokenize(ctx, &a, &ids, &n_ids) == 0) {
        char *err = NULL;
        if (silt_embed_tokens(enc, (const int32_t *const *)&ids, &n_ids, 1, out, &err)) {
            fail_core(ctx, a.model, err);
        } else {
            sqlite3_result_blob64(ctx, out, (sqlite3_uint64)enc->dim * sizeof(float),
                                  sqlite3_free);
            out = NULL;
        }
    }
    free(ids);
    sqlite3_free(out);
    put_model(enc, a.from_aux);
}

static int32_t term_id_cb(void *ctx, const char *tok, size_t len) {
    const silt_encoder *e = ctx;
    return e->ops->token_id ? e->ops->token_id(e, tok, len) : -1;
}

static const char *term_text_cb(void *ctx, int32_t id) {
    const silt_encoder *e = ctx;
    return e->ops->token_text ? e->ops->token_text(e, id) : NULL;
}

static void fn_embed_sparse(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    call_args a;
    if (read_args(ctx, argc, argv, &a) <= 0) return;
    silt_encoder *enc = a.enc;
    if (enc->kind != SILT_KIND_SPARSE) {
        fail_sql(ctx, sqlite3_mprintf("model '%s' is %s; silt_embed_sparse needs a sparse model "
                                      "(registered with '{\"kind\":\"sparse\"}')",
                                      a.model, silt_model_kind_name(enc)));
        put_model(enc, a.from_aux);
        return;
    }
    int32_t *ids = NULL;
    int n_ids = 0;
    float *w = malloc((size_t)enc->dim * sizeof(float));
    if (!w) {
        sqlite3_result_error_nomem(ctx);
    } else if (tokenize(ctx, &a, &ids, &n_ids) == 0) {
        char *err = NULL;
        silt_sparse_vec sv = {0};
        void *blob = NULL;
        size_t n_bytes = 0;
        if (silt_embed_tokens(enc, (const int32_t *const *)&ids, &n_ids, 1, w, &err) ||
            silt_sparse_from_dense(w, enc->dim, &sv, &err) ||
            silt_sparse_encode(&sv, &blob, &n_bytes, &err)) {
            fail_core(ctx, a.model, err);
        } else {
            sqlite3_result_blob64(ctx, blob, (sqlite3_uint64)n_bytes, free);
        }
        silt_sparse_vec_free(&sv);
    }
    free(ids);
    free(w);
    put_model(enc, a.from_aux);
}

static void fn_tokenize(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    call_args a;
    if (read_args(ctx, argc, argv, &a) <= 0) return;
    int32_t *ids = NULL;
    int n_ids = 0;
    if (tokenize(ctx, &a, &ids, &n_ids) == 0) {
        sqlite3_str *s = sqlite3_str_new(sqlite3_context_db_handle(ctx));
        sqlite3_str_appendchar(s, 1, '[');
        for (int i = 0; i < n_ids; i++) sqlite3_str_appendf(s, i ? ",%d" : "%d", ids[i]);
        sqlite3_str_appendchar(s, 1, ']');
        int len = sqlite3_str_length(s);
        char *json = sqlite3_str_finish(s);
        if (json) sqlite3_result_text(ctx, json, len, sqlite3_free);
        else sqlite3_result_error_nomem(ctx);
    }
    free(ids);
    put_model(a.enc, a.from_aux);
}

/* silt_sparse_json(s [, model]): s is a sparse BLOB or a JSON object. */
static void fn_sparse_json(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) return;
    silt_encoder *enc = NULL;
    const char *model = NULL;
    int from_aux = 0;
    if (argc > 1) {
        /* The model is argument 1 here; auxdata is kept on argument 0 by get_model, which
         * would be the vector: look it up without caching instead. */
        if (sqlite3_value_type(argv[1]) != SQLITE_TEXT) {
            fail_sql(ctx, sqlite3_mprintf("model name must be text, got %s", type_name(argv[1])));
            return;
        }
        model = (const char *)sqlite3_value_text(argv[1]);
        char *err = NULL;
        if (silt_model_acquire(sqlite3_context_db_handle(ctx), model, &enc, &err) != SQLITE_OK) {
            fail_sql(ctx, err);
            return;
        }
    }
    silt_sparse_vec sv = {0};
    char *err = NULL;
    int rc;
    if (sqlite3_value_type(argv[0]) == SQLITE_BLOB)
        rc = silt_sparse_decode(sqlite3_value_blob(argv[0]),
                                (size_t)sqlite3_value_bytes(argv[0]), &sv, &err);
    else if (sqlite3_value_type(argv[0]) == SQLITE_TEXT)
        rc = silt_sparse_from_json((const char *)sqlite3_value_text(argv[0]),
                                   (size_t)sqlite3_value_bytes(argv[0]),
                                   enc ? term_id_cb : NULL, enc, &sv, &err);
    else
        rc = silt_err(&err, "expected a sparse BLOB or a JSON object text such as "
                            "'{\"12\": 0.5}', got %s", type_name(argv[0]));
    if (rc) {
        fail_sql(ctx, sqlite3_mprintf("%s", err ? err : "out of memory"));
        free(err);
    } else {
        char *json = silt_sparse_to_json(&sv, enc ? term_text_cb : NULL, enc ? term_id_cb : NULL,
                                         enc);
        if (json) sqlite3_result_text(ctx, json, -1, free);
        else sqlite3_result_error_nomem(ctx);
    }
    silt_sparse_vec_free(&sv);
    put_model(enc, from_aux);
}

int silt_register_embed_funcs(sqlite3 *db, char **err) {
    static const struct {
        const char *name;
        int n_arg;
        int flags;
        void (*fn)(sqlite3_context *, int, sqlite3_value **);
    } fns[] = {
        /* With a model name the result depends on the database's registry, which a hostile
         * schema could point at any file: only the default-model forms are INNOCUOUS. */
        {"silt_embed", 1, SQLITE_INNOCUOUS, fn_embed},
        {"silt_embed", 2, 0, fn_embed},
        {"silt_embed", 3, 0, fn_embed},
        {"silt_embed_sparse", 1, SQLITE_INNOCUOUS, fn_embed_sparse},
        {"silt_embed_sparse", 2, 0, fn_embed_sparse},
        {"silt_embed_sparse", 3, 0, fn_embed_sparse},
        {"silt_tokenize", 1, SQLITE_INNOCUOUS, fn_tokenize},
        {"silt_tokenize", 2, 0, fn_tokenize},
        {"silt_tokenize", 3, 0, fn_tokenize},
        {"silt_sparse_json", 1, SQLITE_INNOCUOUS, fn_sparse_json},
        {"silt_sparse_json", 2, 0, fn_sparse_json},
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        int rc = sqlite3_create_function_v2(db, fns[i].name, fns[i].n_arg,
                                            SQLITE_UTF8 | SQLITE_DETERMINISTIC | fns[i].flags,
                                            (void *)fns[i].name, fns[i].fn, NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            *err = sqlite3_mprintf("silt: cannot register %s: %s", fns[i].name,
                                   sqlite3_errmsg(db));
            return rc;
        }
    }
    return SQLITE_OK;
}
