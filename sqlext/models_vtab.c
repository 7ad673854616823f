/* models_vtab.c: silt_models, the eponymous read-only table listing a database's models:
 * the built-in default model first, then every row of main.silt_model_registry by name.
 *
 *   SELECT name, arch, kind, dim, max_tokens, sha256 FROM silt_models;
 *   -- default|use-lite|dense|512|128|4f1c...
 *   -- minilm|bert|dense|384|512|9a0b...
 *
 * Columns: name, path, arch, kind, dim, max_tokens, sha256, options, imported (0/1),
 * created_at (UTC ISO-8601 text; NULL for default). The default row's path is where the
 * model was found; when it cannot be found or loaded, its other columns are NULL (silt_embed
 * then says why). Listing loads the default model once per process (shared with silt_embed)
 * and hashes its files once per process. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/model_files.h"
#include "sqlext/models.h"
#include "sqlext/register.h"

enum { COL_NAME, COL_PATH, COL_ARCH, COL_KIND, COL_DIM, COL_MAX_TOKENS, COL_SHA256,
       COL_OPTIONS, COL_IMPORTED, COL_CREATED_AT, N_COLS };

typedef struct {
    sqlite3_vtab base;
    sqlite3 *db; /* the connection, to read its registry */
} models_vtab;

typedef struct {
    sqlite3_vtab_cursor base;
    sqlite3_stmt *st;     /* registry rows, or NULL when the table does not exist */
    int on_default;       /* the current row is the default model's */
    int eof;
    char path[PATH_MAX + 256]; /* default row: resolved directory ("" if not found) */
    char sha[65];         /* default row: sha256 ("" if unknown) */
    char arch[32];        /* default row: "" if it could not be loaded */
    const char *kind;
    int dim, max_tokens;
    sqlite3_int64 rowid;
} models_cursor;

/* sha256 of the default model directory, computed once per process per directory. */
static struct {
    pthread_mutex_t mu;
    char dir[PATH_MAX + 256];
    char sha[65];
} default_sha = {PTHREAD_MUTEX_INITIALIZER, "", ""};

static void default_sha256(const char *dir, char out[65]) {
    pthread_mutex_lock(&default_sha.mu);
    if (strcmp(default_sha.dir, dir) != 0 || !*default_sha.sha) {
        silt_model_files f;
        char *err = NULL;
        default_sha.sha[0] = 0;
        if (silt_model_files_list(dir, &f, &err) == 0) {
            if (silt_model_files_sha256(dir, &f, default_sha.sha, &err) != 0)
                default_sha.sha[0] = 0;
            silt_model_files_free(&f);
        }
        free(err);
        snprintf(default_sha.dir, sizeof default_sha.dir, "%s", dir);
    }
    memcpy(out, default_sha.sha, 65);
    pthread_mutex_unlock(&default_sha.mu);
}

static int models_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                          sqlite3_vtab **out, char **err) {
    (void)aux, (void)argc, (void)argv;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(name TEXT, path TEXT, arch TEXT, "
                                      "kind TEXT, dim INTEGER, max_tokens INTEGER, sha256 TEXT, "
                                      "options TEXT, imported INTEGER, created_at TEXT)");
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("silt_models: %s", sqlite3_errmsg(db));
        return rc;
    }
    models_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->db = db;
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    *out = &v->base;
    return SQLITE_OK;
}

static int models_disconnect(sqlite3_vtab *vt) {
    sqlite3_free(vt);
    return SQLITE_OK;
}

static int models_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
    (void)vt;
    info->estimatedCost = 10;
    info->estimatedRows = 10;
    return SQLITE_OK;
}

static int models_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
    (void)vt;
    models_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static int models_close(sqlite3_vtab_cursor *cur) {
    models_cursor *c = (models_cursor *)cur;
    sqlite3_finalize(c->st);
    sqlite3_free(c);
    return SQLITE_OK;
}

static int models_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str, int argc,
                         sqlite3_value **argv) {
    (void)idx, (void)idx_str, (void)argc, (void)argv;
    models_cursor *c = (models_cursor *)cur;
    models_vtab *v = (models_vtab *)cur->pVtab;
    sqlite3_finalize(c->st);
    c->st = NULL;
    c->on_default = 1;
    c->eof = 0;
    c->rowid = 1;
    c->path[0] = c->sha[0] = c->arch[0] = 0;
    c->kind = NULL;
    char dir[PATH_MAX + 256];
    if (silt_model_default_dir(dir, sizeof dir) == 0) {
        char *real = realpath(dir, NULL);
        snprintf(c->path, sizeof c->path, "%s", real ? real : dir);
        free(real);
        silt_encoder *enc = NULL;
        char *err = NULL;
        if (silt_model_acquire(v->db, "default", &enc, &err) == SQLITE_OK) {
            snprintf(c->arch, sizeof c->arch, "%s", enc->arch);
            c->kind = silt_model_kind_name(enc);
            c->dim = enc->dim;
            c->max_tokens = enc->max_tokens;
            silt_model_release(enc);
            default_sha256(c->path, c->sha);
        }
        sqlite3_free(err);
    }
    sqlite3_stmt *chk = NULL;
    int exists = 0;
    if (sqlite3_prepare_v2(v->db, "SELECT 1 FROM main.sqlite_schema WHERE type = 'table' AND "
                                  "name = 'silt_model_registry'", -1, &chk, NULL) == SQLITE_OK)
        exists = sqlite3_step(chk) == SQLITE_ROW;
    sqlite3_finalize(chk);
    if (exists &&
        sqlite3_prepare_v2(v->db, "SELECT name, path, arch, kind, dim, max_tokens, sha256, "
                                  "options, imported, created_at FROM main.silt_model_registry "
                                  "ORDER BY name", -1, &c->st, NULL) != SQLITE_OK) {
        cur->pVtab->zErrMsg = sqlite3_mprintf("silt_models: %s", sqlite3_errmsg(v->db));
        return SQLITE_ERROR;
    }
    return SQLITE_OK;
}

static int models_next(sqlite3_vtab_cursor *cur) {
    models_cursor *c = (models_cursor *)cur;
    c->on_default = 0;
    c->rowid++;
    if (!c->st) {
        c->eof = 1;
        return SQLITE_OK;
    }
    int rc = sqlite3_step(c->st);
    if (rc == SQLITE_ROW) return SQLITE_OK;
    c->eof = 1;
    if (rc == SQLITE_DONE) return SQLITE_OK;
    cur->pVtab->zErrMsg = sqlite3_mprintf("silt_models: %s",
                                          sqlite3_errmsg(((models_vtab *)cur->pVtab)->db));
    return rc;
}

static int models_eof(sqlite3_vtab_cursor *cur) { return ((models_cursor *)cur)->eof; }

static int models_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
    models_cursor *c = (models_cursor *)cur;
    if (!c->on_default) {
        sqlite3_result_value(ctx, sqlite3_column_value(c->st, col));
        return SQLITE_OK;
    }
    int loaded = c->arch[0] != 0;
    switch (col) {
    case COL_NAME: sqlite3_result_text(ctx, "default", -1, SQLITE_STATIC); break;
    case COL_PATH:
        if (c->path[0]) sqlite3_result_text(ctx, c->path, -1, SQLITE_TRANSIENT);
        break;
    case COL_ARCH:
        if (loaded) sqlite3_result_text(ctx, c->arch, -1, SQLITE_TRANSIENT);
        break;
    case COL_KIND:
        if (loaded) sqlite3_result_text(ctx, c->kind, -1, SQLITE_STATIC);
        break;
    case COL_DIM:
        if (loaded) sqlite3_result_int(ctx, c->dim);
        break;
    case COL_MAX_TOKENS:
        if (loaded) sqlite3_result_int(ctx, c->max_tokens);
        break;
    case COL_SHA256:
        if (c->sha[0]) sqlite3_result_text(ctx, c->sha, -1, SQLITE_TRANSIENT);
        break;
    case COL_IMPORTED: sqlite3_result_int(ctx, 0); break;
    default: break; /* options, created_at: NULL */
    }
    return SQLITE_OK;
}

static int models_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
    *rowid = ((models_cursor *)cur)->rowid;
    return SQLITE_OK;
}

static const sqlite3_module models_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only: CREATE VIRTUAL TABLE ... USING silt_models is refused */
    .xConnect = models_connect,
    .xBestIndex = models_best_index,
    .xDisconnect = models_disconnect,
    .xDestroy = models_disconnect,
    .xOpen = models_open,
    .xClose = models_close,
    .xFilter = models_filter,
    .xNext = models_next,
    .xEof = models_eof,
    .xColumn = models_column,
    .xRowid = models_rowid,
};

int silt_register_models_vtab(sqlite3 *db, char **err) {
    int rc = sqlite3_create_module(db, "silt_models", &models_module, NULL);
    if (rc != SQLITE_OK)
        *err = sqlite3_mprintf("silt: cannot register silt_models: %s", sqlite3_errmsg(db));
    return rc;
}
