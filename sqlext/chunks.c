/* chunks.c: silt_chunks, a table-valued function that cuts a text into chunks to embed.
 *
 *   SELECT chunk_no, start, "end", text FROM silt_chunks(:doc);  -- 128 words
 *   SELECT * FROM silt_chunks(:doc, NULL, 64, 16);              -- 64 words, 16 shared
 *   SELECT * FROM silt_chunks(:doc, 'default');                 -- fits the model window
 *   SELECT * FROM silt_chunks(:doc, 'minilm', 200, 50);         -- 200 model tokens
 *   INSERT INTO doc_vec(rowid, content)
 *     SELECT d.id * 1000 + c.chunk_no, c.text FROM docs d, silt_chunks(d.body) c;
 *
 * Arguments: text [, model [, max_tokens [, overlap]]] (hidden columns input, model,
 * max_tokens, overlap). Without a model (NULL), chunks count whitespace-separated words:
 * max_tokens defaults to 128 and overlap to 0. With a model, they count the model's tokens
 * (special tokens excluded), max_tokens defaults to the model's window minus its special
 * tokens and may not exceed it. Columns: chunk_no (0, 1, ...), start and end (byte offsets
 * into the UTF-8 text, end exclusive: substr(text, start + 1, end - start) for ASCII) and
 * text. Chunks start and end on word boundaries (inside an over-long word, on character
 * boundaries); a NULL text gives no rows, and so does text with no words.
 * See core/chunk.h for the exact rules. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/chunk.h"
#include "sqlext/models.h"
#include "sqlext/register.h"

#define CHUNKS_DEFAULT_WORDS 128

enum { COL_CHUNK_NO, COL_START, COL_END, COL_TEXT, COL_INPUT, COL_MODEL, COL_MAX_TOKENS,
       COL_OVERLAP };
#define N_ARGS 4 /* hidden argument columns, from COL_INPUT */

typedef struct {
    sqlite3_vtab base;
    sqlite3 *db; /* for model lookups */
} chunks_vtab;

typedef struct {
    sqlite3_vtab_cursor base;
    char *text;              /* copy of the input (sqlite3_malloc'd) */
    silt_chunk_span *spans;  /* malloc'd */
    int n, i;                /* chunk count, current chunk */
} chunks_cursor;

static int chunks_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                          sqlite3_vtab **out, char **err) {
    (void)aux, (void)argc, (void)argv;
    int rc = sqlite3_declare_vtab(db, "CREATE TABLE x(chunk_no INTEGER, start INTEGER, "
                                      "\"end\" INTEGER, text TEXT, input HIDDEN, model HIDDEN, "
                                      "max_tokens HIDDEN, overlap HIDDEN)");
    if (rc != SQLITE_OK) {
        *err = sqlite3_mprintf("silt_chunks: %s", sqlite3_errmsg(db));
        return rc;
    }
    chunks_vtab *v = sqlite3_malloc(sizeof *v);
    if (!v) return SQLITE_NOMEM;
    memset(v, 0, sizeof *v);
    v->db = db;
    sqlite3_vtab_config(db, SQLITE_VTAB_INNOCUOUS);
    *out = &v->base;
    return SQLITE_OK;
}

static int chunks_disconnect(sqlite3_vtab *vt) {
    sqlite3_free(vt);
    return SQLITE_OK;
}

/* idxNum bit k set: argument column COL_INPUT + k is given, passed as the next argv. */
static int chunks_best_index(sqlite3_vtab *vt, sqlite3_index_info *info) {
    (void)vt;
    int which[N_ARGS] = {-1, -1, -1, -1};
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        if (c->iColumn < COL_INPUT) continue;
        /* An argument that cannot be used in this plan: let the planner find another. */
        if (!c->usable) return SQLITE_CONSTRAINT;
        if (c->op != SQLITE_INDEX_CONSTRAINT_EQ) continue;
        which[c->iColumn - COL_INPUT] = i;
    }
    int argv_index = 0, mask = 0;
    for (int k = 0; k < N_ARGS; k++) {
        if (which[k] < 0) continue;
        info->aConstraintUsage[which[k]].argvIndex = ++argv_index;
        info->aConstraintUsage[which[k]].omit = 1;
        mask |= 1 << k;
    }
    info->idxNum = mask;
    info->estimatedCost = (mask & 1) ? 100 : 1e12;
    info->estimatedRows = 100;
    return SQLITE_OK;
}

static int chunks_open(sqlite3_vtab *vt, sqlite3_vtab_cursor **out) {
    (void)vt;
    chunks_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    *out = &c->base;
    return SQLITE_OK;
}

static void cursor_reset(chunks_cursor *c) {
    sqlite3_free(c->text);
    free(c->spans);
    c->text = NULL, c->spans = NULL;
    c->n = c->i = 0;
}

static int chunks_close(sqlite3_vtab_cursor *cur) {
    cursor_reset((chunks_cursor *)cur);
    sqlite3_free(cur);
    return SQLITE_OK;
}

/* Token count of a span for the model (special tokens excluded); INT_MAX when the
 * tokenizer refuses it (longer than the window). */
typedef struct {
    const silt_encoder *enc;
    int n_special;
} model_counter;

static int count_model_tokens(void *ctx, const char *text, size_t len) {
    const model_counter *m = ctx;
    int32_t *ids = NULL;
    int n = 0;
    char *err = NULL;
    if (m->enc->ops->tokenize(m->enc, text, len, 0, &ids, &n, &err)) {
        free(err);
        return INT_MAX;
    }
    free(ids);
    return n - m->n_special;
}

static int vt_error(sqlite3_vtab_cursor *cur, char *msg) {
    sqlite3_free(cur->pVtab->zErrMsg);
    cur->pVtab->zErrMsg = msg;
    return msg ? SQLITE_ERROR : SQLITE_NOMEM;
}

/* Reads an integer argument; NULL keeps *out. 0, or -1 with *msg set. */
static int int_arg(sqlite3_value *v, const char *what, int *out, char **msg) {
    if (!v || sqlite3_value_type(v) == SQLITE_NULL) return 0;
    if (sqlite3_value_numeric_type(v) != SQLITE_INTEGER) {
        *msg = sqlite3_mprintf("silt_chunks: %s must be an integer, got '%s'", what,
                               (const char *)sqlite3_value_text(v));
        return -1;
    }
    sqlite3_int64 x = sqlite3_value_int64(v);
    if (x < INT_MIN || x > INT_MAX) {
        *msg = sqlite3_mprintf("silt_chunks: %s %lld is out of range", what, (long long)x);
        return -1;
    }
    *out = (int)x;
    return 0;
}

static int chunks_filter(sqlite3_vtab_cursor *cur, int idx, const char *idx_str, int argc,
                         sqlite3_value **argv) {
    (void)idx_str;
    chunks_cursor *c = (chunks_cursor *)cur;
    chunks_vtab *vt = (chunks_vtab *)cur->pVtab;
    cursor_reset(c);
    sqlite3_value *arg[N_ARGS] = {NULL, NULL, NULL, NULL};
    for (int k = 0, j = 0; k < N_ARGS && j < argc; k++)
        if (idx & (1 << k)) arg[k] = argv[j++];
    if (!arg[0])
        return vt_error(cur, sqlite3_mprintf("silt_chunks: the text argument is required, as "
                                             "in silt_chunks(text [, model, max_tokens, "
                                             "overlap])"));
    if (sqlite3_value_type(arg[0]) == SQLITE_NULL) return SQLITE_OK;
    if (sqlite3_value_type(arg[0]) == SQLITE_BLOB)
        return vt_error(cur, sqlite3_mprintf("silt_chunks: text is a BLOB; expected TEXT (use "
                                             "CAST(x AS TEXT))"));
    int max_tokens = -1, overlap = 0;
    char *msg = NULL;
    if (int_arg(arg[2], "max_tokens", &max_tokens, &msg) ||
        int_arg(arg[3], "overlap", &overlap, &msg))
        return vt_error(cur, msg);
    if (arg[2] && sqlite3_value_type(arg[2]) != SQLITE_NULL && max_tokens <= 0)
        return vt_error(cur, sqlite3_mprintf("silt_chunks: max_tokens must be positive, got %d",
                                             max_tokens));

    const char *text = (const char *)sqlite3_value_text(arg[0]);
    int len = sqlite3_value_bytes(arg[0]);
    if (!text) return SQLITE_NOMEM;
    c->text = sqlite3_malloc(len + 1);
    if (!c->text) return SQLITE_NOMEM;
    memcpy(c->text, text, (size_t)len + 1);

    char *err = NULL;
    int rc;
    if (!arg[1] || sqlite3_value_type(arg[1]) == SQLITE_NULL) {
        if (max_tokens < 0) max_tokens = CHUNKS_DEFAULT_WORDS;
        rc = silt_chunk_words(c->text, (size_t)len, max_tokens, overlap, &c->spans, &c->n, &err);
    } else {
        if (sqlite3_value_type(arg[1]) != SQLITE_TEXT)
            return vt_error(cur, sqlite3_mprintf("silt_chunks: model name must be text"));
        const char *model = (const char *)sqlite3_value_text(arg[1]);
        silt_encoder *enc = NULL;
        if (silt_model_acquire(vt->db, model, &enc, &msg) != SQLITE_OK) {
            char *m = sqlite3_mprintf("silt_chunks: %s", msg ? msg : "out of memory");
            sqlite3_free(msg);
            return vt_error(cur, m);
        }
        model_counter mc = {enc, 0};
        int32_t *ids = NULL;
        if (enc->ops->tokenize(enc, "", 0, 1, &ids, &mc.n_special, &err) == 0) {
            free(ids);
            int window = enc->max_tokens - mc.n_special;
            if (max_tokens < 0) max_tokens = window;
            if (max_tokens > window) {
                silt_model_release(enc);
                return vt_error(cur, sqlite3_mprintf("silt_chunks: max_tokens %d exceeds the "
                                                     "window of model '%s' (%d tokens%s)",
                                                     max_tokens, model, window,
                                                     mc.n_special ? " besides special tokens"
                                                                  : ""));
            }
            rc = silt_chunk_tokens(c->text, (size_t)len, max_tokens, overlap, count_model_tokens,
                                   &mc, &c->spans, &c->n, &err);
        } else {
            rc = -1;
        }
        silt_model_release(enc);
    }
    if (rc) {
        char *m = sqlite3_mprintf("silt_chunks: %s", err ? err : "out of memory");
        free(err);
        return vt_error(cur, m);
    }
    return SQLITE_OK;
}

static int chunks_next(sqlite3_vtab_cursor *cur) {
    ((chunks_cursor *)cur)->i++;
    return SQLITE_OK;
}

static int chunks_eof(sqlite3_vtab_cursor *cur) {
    chunks_cursor *c = (chunks_cursor *)cur;
    return c->i >= c->n;
}

static int chunks_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
    chunks_cursor *c = (chunks_cursor *)cur;
    const silt_chunk_span *s = &c->spans[c->i];
    switch (col) {
    case COL_CHUNK_NO: sqlite3_result_int(ctx, c->i); break;
    case COL_START: sqlite3_result_int64(ctx, (sqlite3_int64)s->start); break;
    case COL_END: sqlite3_result_int64(ctx, (sqlite3_int64)s->end); break;
    case COL_TEXT:
        sqlite3_result_text(ctx, c->text + s->start, (int)(s->end - s->start), SQLITE_TRANSIENT);
        break;
    default: break; /* hidden arguments read back as NULL */
    }
    return SQLITE_OK;
}

static int chunks_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
    *rowid = ((chunks_cursor *)cur)->i;
    return SQLITE_OK;
}

static const sqlite3_module chunks_module = {
    .iVersion = 0,
    .xCreate = NULL, /* eponymous only */
    .xConnect = chunks_connect,
    .xBestIndex = chunks_best_index,
    .xDisconnect = chunks_disconnect,
    .xDestroy = chunks_disconnect,
    .xOpen = chunks_open,
    .xClose = chunks_close,
    .xFilter = chunks_filter,
    .xNext = chunks_next,
    .xEof = chunks_eof,
    .xColumn = chunks_column,
    .xRowid = chunks_rowid,
};

int silt_register_chunks(sqlite3 *db, char **err) {
    int rc = sqlite3_create_module(db, "silt_chunks", &chunks_module, NULL);
    if (rc != SQLITE_OK)
        *err = sqlite3_mprintf("silt: cannot register silt_chunks: %s", sqlite3_errmsg(db));
    return rc;
}
