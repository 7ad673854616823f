/* dense_vtab.c: the silt_dense virtual table, a FAISS vector index that is transactional,
 * incremental and coherent across connections.
 *
 *   .load ./build/silt
 *   CREATE VIRTUAL TABLE doc_vec USING silt_dense(dim=384, metric=cosine, index='HNSW32');
 *   INSERT INTO doc_vec(rowid, embedding) VALUES (1, silt_vec('[...]'));
 *   SELECT rowid, distance FROM doc_vec WHERE embedding MATCH :q AND k = 10;
 *   SELECT rowid, distance FROM doc_vec WHERE embedding MATCH :q ORDER BY distance LIMIT 10;
 *   SELECT rowid, distance FROM doc_vec WHERE embedding MATCH :q AND k = 10
 *      AND rowid IN (SELECT id FROM docs WHERE year >= 2020);     -- still 10 rows
 *   SELECT rowid FROM doc_vec WHERE embedding MATCH :q AND k = 10 AND ef_search = 128;
 *   INSERT INTO doc_vec(doc_vec) VALUES ('optimize');   -- or 'rebuild', 'integrity-check'
 *
 *   CREATE VIRTUAL TABLE notes USING silt_dense(dim=512, model=default);
 *   INSERT INTO notes(rowid, content) VALUES (1, 'text embedded at commit');
 *   SELECT rowid FROM notes WHERE content MATCH 'a query text' AND k = 5;
 *
 * Options: dim (required), metric l2 | cosine | ip (default l2), index = any FAISS
 * index_factory description (default Flat), model = a model name (silt_model_register or
 * 'default'; adds the content column), ef_construction = HNSW graph-build breadth (16..4096,
 * default 200; HNSW indexes only). Options live in the CREATE statement SQLite keeps, so
 * every reopen, reload and 'rebuild' uses them.
 * Columns: embedding (float32 BLOB), content (TEXT, with a model), and hidden: distance,
 * k, ef_search (HNSW search breadth for this query, default 64), nprobe (IVF lists probed
 * for this query, default max(8, nlist/16)), and one named like the table for commands.
 *
 * Storage (sqlext/store.h): <t>_data(id INTEGER PRIMARY KEY, embedding, content) is the
 * truth; <t>_info, <t>_log and <t>_snapshot belong to the store. The FAISS index lives in
 * memory (index/dense_index.h) and follows the truth through the store. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/embed.h"
#include "index/dense_index.h"
#include "index/rowid_map.h"
#include "sqlext/models.h"
#include "sqlext/register.h"
#include "sqlext/store.h"
#include "sqlext/vecarg.h"

/* Column numbers that never move; the others depend on whether a model is set. */
#define COL_EMBEDDING 0

/* Largest ef_search / nprobe accepted (they size per-query heaps). */
#define MAX_SEARCH_EFFORT (1 << 20)
/* A query without k or a pushed-down LIMIT streams its neighbours: the first search asks
 * for this many, each further one for STREAM_GROWTH times more (see dense_next). */
#define STREAM_FIRST_BATCH 64
#define STREAM_GROWTH 4
/* Texts embedded per model call when draining the queue. */
#define EMBED_CHUNK 256

/* Statements on <t>_data, prepared on first use. */
enum {
    D_INSERT,
    D_REPLACE,
    D_DELETE,
    D_GET,
    D_EXISTS,
    D_ALL,
    D_SET_EMBEDDING,
    D_UPDATE, /* + 0..3: bit 0 sets embedding, bit 1 sets content */
    N_DATA_QUERIES = D_UPDATE + 4
};

/* DDL options. */
typedef struct {
    int dim;             /* floats per vector (required) */
    silt_metric metric;  /* l2 (default), cosine, ip */
    char *factory;       /* FAISS index_factory string, sqlite3_malloc'd; default "Flat" */
    char *model;         /* model name or NULL, sqlite3_malloc'd */
    int ef_construction; /* HNSW graph-build breadth; SILT_DENSE_EF_CONSTRUCTION_DEFAULT
                            unless given (only HNSW indexes accept the option) */
    int ef_construction_set; /* given in the DDL */
} dense_options;

typedef struct {
    int64_t *v;          /* rowids, sqlite3_malloc'd */
    size_t n, cap;
} rowid_list;

typedef struct dense_vtab {
    sqlite3_vtab base;           /* base class: zErrMsg carries errors back to SQLite */
    sqlite3 *db;                 /* connection this instance belongs to */
    char *schema;                /* database name holding the table */
    char *name;                  /* table name; shadow tables are <name>_<role> */
    dense_options opt;           /* parsed DDL options */
    int n_cols;                  /* declared columns */
    int col_content;             /* column numbers; col_content is -1 without a model */
    int col_distance;
    int col_k;
    int col_ef_search;
    int col_nprobe;
    int col_command;             /* hidden column named like the table (FTS5 commands) */
    silt_dense_index *index;     /* derived index; rebuilt by the store's callbacks */
    silt_store *store;           /* snapshot, log, transactions (sqlext/store.h) */
    sqlite3_stmt *dq[N_DATA_QUERIES]; /* statements on <name>_data */
    silt_encoder *enc;           /* the model, acquired on first use; NULL without one */
    rowid_list embed_queue;      /* rowids whose content awaits embedding */
    float *scratch;              /* dim floats for realigning stored vectors */
} dense_vtab;

/* Plans chosen by xBestIndex (idxNum); idxStr lists each argument's role, in argv order:
 * v vector, t query text, k k, L limit, O offset, = rowid, I rowid IN list (all at once),
 * > < g l rowid bounds (gt, lt, ge, le), e ef_search, p nprobe. */
enum { PLAN_SCAN = 0, PLAN_KNN = 1 };

typedef struct dense_cursor {
    sqlite3_vtab_cursor base;    /* base class */
    int plan;                    /* PLAN_SCAN or PLAN_KNN */
    silt_dense_hits hits;        /* PLAN_KNN: current batch of neighbours, nearest first */
    sqlite3_int64 pos;           /* PLAN_KNN: current hit */
    sqlite3_int64 end;           /* PLAN_KNN: one past the last hit to return */
    float *query;                /* PLAN_KNN: query vector (dim floats, malloc'd) */
    silt_dense_query q;          /* PLAN_KNN: search parameters; q.rowids points to rowids */
    int64_t *rowids;             /* rowid filter list (sqlite3_malloc'd) or NULL */
    int streaming;               /* no k and no LIMIT: fetch more neighbours on demand */
    silt_rowid_map seen;         /* streaming: rowids already returned */
    sqlite3_value *k, *ef_search, *nprobe; /* values for the hidden columns (copies) */
    sqlite3_stmt *scan;          /* PLAN_SCAN: rows of <name>_data by rowid, per cursor */
    int eof;                     /* no current row */
} dense_cursor;

static const char *const data_sql[N_DATA_QUERIES] = {
    [D_INSERT] = "INSERT INTO \"%w\".\"%w_data\"(id, embedding, content) VALUES (?1, ?2, ?3)",
    [D_REPLACE] = "INSERT OR REPLACE INTO \"%w\".\"%w_data\"(id, embedding, content) "
                  "VALUES (?1, ?2, ?3)",
    [D_DELETE] = "DELETE FROM \"%w\".\"%w_data\" WHERE id = ?1",
    [D_GET] = "SELECT embedding, content FROM \"%w\".\"%w_data\" WHERE id = ?1",
    [D_EXISTS] = "SELECT 1 FROM \"%w\".\"%w_data\" WHERE id = ?1",
    [D_ALL] = "SELECT id, embedding, content FROM \"%w\".\"%w_data\" ORDER BY id",
    [D_SET_EMBEDDING] = "UPDATE \"%w\".\"%w_data\" SET embedding = ?2 WHERE id = ?1",
    [D_UPDATE + 0] = "UPDATE \"%w\".\"%w_data\" SET id = ?2 WHERE id = ?1",
    [D_UPDATE + 1] = "UPDATE \"%w\".\"%w_data\" SET id = ?2, embedding = ?3 WHERE id = ?1",
    [D_UPDATE + 2] = "UPDATE \"%w\".\"%w_data\" SET id = ?2, content = ?4 WHERE id = ?1",
    [D_UPDATE + 3] = "UPDATE \"%w\".\"%w_data\" SET id = ?2, embedding = ?3, content = ?4 "
                     "WHERE id = ?1",
};

/* ---- small helpers --------------------------------------------------------------------- */

/* Replaces the table's error message with "silt_dense: <formatted>". Returns SQLITE_ERROR. */
static int vt_error(dense_vtab *vt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int vt_error(dense_vtab *vt, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *m = sqlite3_vmprintf(fmt, ap);
    va_end(ap);
    sqlite3_free(vt->base.zErrMsg);
    vt->base.zErrMsg = m ? sqlite3_mprintf("silt_dense: %s", m) : NULL;
    sqlite3_free(m);
    return SQLITE_ERROR;
}

/* Moves an sqlite3_mprintf'd message into the table's error; returns rc. */
static int vt_take_error(dense_vtab *vt, int rc, char *msg) {
    if (rc == SQLITE_NOMEM && !msg) return rc;
    vt_error(vt, "%s", msg ? msg : "out of memory");
    sqlite3_free(msg);
    return rc;
}

/* An sqlite3_mprintf'd copy of the table's current message without the "silt_dense: "
 * prefix (store callbacks hand messages back through *err, which gets the prefix again). */
static char *vt_message(dense_vtab *vt, const char *dflt) {
    const char *m = vt->base.zErrMsg;
    if (m && !strncmp(m, "silt_dense: ", 12)) m += 12;
    return sqlite3_mprintf("%s", m ? m : dflt);
}

/* Moves a malloc'd core/index message into an sqlite3_mprintf'd one (for store callbacks). */
static int core_error(char **err, char *msg, int rc) {
    *err = sqlite3_mprintf("%s", msg ? msg : "out of memory");
    free(msg);
    return rc;
}

static int list_push(rowid_list *l, int64_t x) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        int64_t *v = sqlite3_realloc64(l->v, cap * sizeof *v);
        if (!v) return SQLITE_NOMEM;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = x;
    return SQLITE_OK;
}

/* Statement i on <name>_data, reset and unbound; NULL on failure (error set). */
static sqlite3_stmt *data_query(dense_vtab *vt, int i) {
    if (!vt->dq[i]) {
        char *sql = sqlite3_mprintf(data_sql[i], vt->schema, vt->name);
        if (!sql) return NULL;
        int rc = sqlite3_prepare_v3(vt->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &vt->dq[i], NULL);
        sqlite3_free(sql);
        if (rc != SQLITE_OK) {
            vt_error(vt, "storage of \"%s\" is unusable: %s", vt->name, sqlite3_errmsg(vt->db));
            return NULL;
        }
    } else {
        sqlite3_reset(vt->dq[i]);
        sqlite3_clear_bindings(vt->dq[i]);
    }
    return vt->dq[i];
}

static void finalize_data_queries(dense_vtab *vt) {
    for (int i = 0; i < N_DATA_QUERIES; i++) {
        sqlite3_finalize(vt->dq[i]);
        vt->dq[i] = NULL;
    }
}

/* The integer that v holds exactly (INTEGER, a REAL without fraction, or text that reads
 * as one of those), as SQLite's rowid columns accept; 0 when it holds none. */
static int exact_int(sqlite3_value *v, sqlite3_int64 *out) {
    switch (sqlite3_value_numeric_type(v)) {
    case SQLITE_INTEGER:
        *out = sqlite3_value_int64(v);
        return 1;
    case SQLITE_FLOAT: {
        double d = sqlite3_value_double(v);
        if (d != floor(d) || !(d >= -9223372036854775808.0 && d < 9223372036854775808.0)) return 0;
        *out = (sqlite3_int64)d;
        return 1;
    }
    default:
        return 0;
    }
}

/* How a value is shown in messages: its text, quoted for text, or its type. */
static char *describe_value(sqlite3_value *v) {
    switch (sqlite3_value_type(v)) {
    case SQLITE_NULL:
        return sqlite3_mprintf("NULL");
    case SQLITE_BLOB:
        return sqlite3_mprintf("a %d-byte BLOB", sqlite3_value_bytes(v));
    case SQLITE_TEXT:
        return sqlite3_mprintf("'%.40s'", sqlite3_value_text(v));
    default:
        return sqlite3_mprintf("%s", sqlite3_value_text(v));
    }
}

/* Reads an integer argument named what, between lo and hi. */
static int int_arg(dense_vtab *vt, sqlite3_value *v, const char *what, sqlite3_int64 lo,
                   sqlite3_int64 hi, sqlite3_int64 *out) {
    if (exact_int(v, out) && *out >= lo && *out <= hi) return SQLITE_OK;
    char *d = describe_value(v);
    if (hi == INT64_MAX)
        vt_error(vt, "%s must be an integer >= %lld, got %s", what, (long long)lo, d ? d : "?");
    else
        vt_error(vt, "%s must be an integer between %lld and %lld, got %s", what, (long long)lo,
                 (long long)hi, d ? d : "?");
    sqlite3_free(d);
    return SQLITE_ERROR;
}

/* Reads a vector value for column/argument `what` and checks its dimension. */
static int read_vector(dense_vtab *vt, sqlite3_value *v, const char *what, silt_vecarg *out) {
    char *err = NULL;
    int rc = silt_vecarg_read(v, what, 0, out, &err);
    if (rc != SQLITE_OK) return vt_take_error(vt, rc, err);
    if (out->dim != vt->opt.dim) {
        vt_error(vt, "%s has dim %d, expected %d", what, out->dim, vt->opt.dim);
        silt_vecarg_free(out);
        return SQLITE_ERROR;
    }
    return SQLITE_OK;
}

/* The stored vector of a <name>_data row (a BLOB column), realigned into vt->scratch;
 * NULL when the BLOB does not hold dim floats. */
static const float *stored_vector(dense_vtab *vt, sqlite3_stmt *s, int col) {
    if (sqlite3_column_type(s, col) != SQLITE_BLOB) return NULL;
    const void *p = sqlite3_column_blob(s, col);
    if (!p || sqlite3_column_bytes(s, col) != vt->opt.dim * (int)sizeof(float)) return NULL;
    memcpy(vt->scratch, p, sizeof(float) * (size_t)vt->opt.dim);
    return vt->scratch;
}

/* ---- the model (auto-embedding) ---------------------------------------------------------- */

/* Acquires the table's model on first use and checks that it fits the table. */
static int need_model(dense_vtab *vt) {
    if (vt->enc) return SQLITE_OK;
    char *err = NULL;
    silt_encoder *enc = NULL;
    int rc = silt_model_acquire(vt->db, vt->opt.model, &enc, &err);
    if (rc != SQLITE_OK) {
        vt_error(vt, "model '%s': %s", vt->opt.model, err ? err : "cannot be loaded");
        sqlite3_free(err);
        return rc;
    }
    if (enc->kind != SILT_KIND_DENSE || enc->dim != vt->opt.dim) {
        vt_error(vt, "model '%s' is a %s model of dim %d, but the table has dim=%d",
                 vt->opt.model, silt_model_kind_name(enc), enc->dim, vt->opt.dim);
        silt_model_release(enc);
        return SQLITE_ERROR;
    }
    vt->enc = enc;
    return SQLITE_OK;
}

/* Embeds the queued contents (rows whose embedding is NULL), writes the vectors to the
 * truth and adds them to the index. All queued texts of a transaction go through the model
 * together, in batches. */
static int embed_queued(dense_vtab *vt) {
    if (!vt->embed_queue.n) return SQLITE_OK;
    int rc = need_model(vt);
    if (rc != SQLITE_OK) return rc;
    size_t dim = (size_t)vt->opt.dim;
    int64_t *ids = vt->embed_queue.v;
    size_t n = vt->embed_queue.n;
    char **texts = sqlite3_malloc64(EMBED_CHUNK * sizeof(char *));
    size_t *lens = sqlite3_malloc64(EMBED_CHUNK * sizeof(size_t));
    sqlite3_int64 *rows = sqlite3_malloc64(EMBED_CHUNK * sizeof(sqlite3_int64));
    float *out = sqlite3_malloc64(EMBED_CHUNK * dim * sizeof(float));
    if (!texts || !lens || !rows || !out) rc = SQLITE_NOMEM;
    /* Duplicates (a row updated twice) are embedded once: sort, skip repeats. */
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && ids[j - 1] > ids[j]; j--) {
            int64_t t = ids[j];
            ids[j] = ids[j - 1];
            ids[j - 1] = t;
        }
    for (size_t i = 0; rc == SQLITE_OK && i < n;) {
        int m = 0;
        for (; i < n && m < EMBED_CHUNK; i++) {
            if (i > 0 && ids[i] == ids[i - 1]) continue;
            sqlite3_stmt *s = data_query(vt, D_GET);
            if (!s) {
                rc = SQLITE_ERROR;
                break;
            }
            sqlite3_bind_int64(s, 1, ids[i]);
            if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_type(s, 0) == SQLITE_NULL &&
                sqlite3_column_type(s, 1) != SQLITE_NULL) {
                const char *t = (const char *)sqlite3_column_text(s, 1);
                size_t len = (size_t)sqlite3_column_bytes(s, 1);
                texts[m] = sqlite3_malloc64(len + 1);
                if (!texts[m]) {
                    rc = SQLITE_NOMEM;
                    sqlite3_reset(s);
                    break;
                }
                memcpy(texts[m], t, len + 1);
                lens[m] = len;
                rows[m++] = ids[i];
            }
            sqlite3_reset(s);
        }
        if (rc == SQLITE_OK && m > 0) {
            char *err = NULL;
            if (silt_embed_texts(vt->enc, (const char *const *)texts, lens, m, 1, out, &err)) {
                vt_error(vt, "model '%s': %s", vt->opt.model, err ? err : "embedding failed");
                free(err);
                rc = SQLITE_ERROR;
            }
        }
        for (int j = 0; j < m; j++) {
            if (rc == SQLITE_OK) {
                sqlite3_stmt *s = data_query(vt, D_SET_EMBEDDING);
                if (!s) {
                    rc = SQLITE_ERROR;
                } else {
                    sqlite3_bind_int64(s, 1, rows[j]);
                    sqlite3_bind_blob64(s, 2, out + (size_t)j * dim, dim * sizeof(float),
                                        SQLITE_STATIC);
                    rc = sqlite3_step(s) == SQLITE_DONE ? SQLITE_OK : SQLITE_ERROR;
                    if (rc) vt_error(vt, "%s", sqlite3_errmsg(vt->db));
                    sqlite3_reset(s);
                }
                char *err = NULL;
                if (rc == SQLITE_OK) rc = silt_store_touch(vt->store, rows[j], &err);
                if (rc == SQLITE_OK &&
                    silt_dense_index_add(vt->index, rows[j], out + (size_t)j * dim, &err)) {
                    rc = vt_error(vt, "embedding of row %lld: %s", (long long)rows[j], err);
                    free(err);
                    err = NULL;
                }
                if (err) rc = vt_take_error(vt, rc, err);
            }
            sqlite3_free(texts[j]);
        }
    }
    sqlite3_free(texts), sqlite3_free(lens), sqlite3_free(rows), sqlite3_free(out);
    if (rc == SQLITE_OK) vt->embed_queue.n = 0;
    return rc;
}

/* ---- store callbacks (sqlext/store.h) ----------------------------------------------------- */

static int op_reset(void *owner, char **err) {
    dense_vtab *vt = owner;
    char *msg = NULL;
    silt_dense_index *ix = silt_dense_index_new(vt->opt.dim, vt->opt.metric, vt->opt.factory, &msg);
    if (!ix) return core_error(err, msg, SQLITE_ERROR);
    silt_dense_index_set_ef_construction(ix, vt->opt.ef_construction);
    silt_dense_index_free(vt->index);
    vt->index = ix;
    return SQLITE_OK;
}

static int op_load_snapshot(void *owner, const void *bytes, size_t n_bytes, char **err) {
    dense_vtab *vt = owner;
    char *msg = NULL;
    silt_dense_index *ix = silt_dense_index_deserialize(bytes, n_bytes, vt->opt.dim, vt->opt.metric,
                                                        vt->opt.factory, &msg);
    if (!ix) return core_error(err, msg, SQLITE_CORRUPT);
    /* The snapshot's graph keeps its nodes; rows added from now on use the table's option. */
    silt_dense_index_set_ef_construction(ix, vt->opt.ef_construction);
    silt_dense_index_free(vt->index);
    vt->index = ix;
    return SQLITE_OK;
}

static int op_save_snapshot(void *owner, void **bytes, size_t *n_bytes, char **err) {
    dense_vtab *vt = owner;
    *bytes = NULL;
    *n_bytes = 0;
    if (!silt_dense_index_wants_snapshot(vt->index)) return SQLITE_OK;
    char *msg = NULL;
    if (silt_dense_index_serialize(vt->index, bytes, n_bytes, &msg))
        return core_error(err, msg, SQLITE_ERROR);
    return SQLITE_OK;
}

/* Makes the index agree with the truth for one row read by s (columns: embedding, content),
 * or removes the row when s has none. */
static int derive_row(dense_vtab *vt, sqlite3_int64 rowid, sqlite3_stmt *s, int has_row,
                      char **err) {
    silt_dense_index_remove(vt->index, rowid);
    if (!has_row) return SQLITE_OK;
    const float *v = stored_vector(vt, s, 0);
    if (v) {
        char *msg = NULL;
        if (silt_dense_index_add(vt->index, rowid, v, &msg)) return core_error(err, msg, SQLITE_ERROR);
    } else if (sqlite3_column_type(s, 0) == SQLITE_NULL && vt->col_content >= 0 &&
               sqlite3_column_type(s, 1) != SQLITE_NULL) {
        if (list_push(&vt->embed_queue, rowid)) return SQLITE_NOMEM;
    }
    /* A stored value that is not a vector of dim floats (edited by hand) stays out of the
     * index; integrity-check names it. */
    return SQLITE_OK;
}

static int op_refresh(void *owner, const sqlite3_int64 *rowids, size_t n, char **err) {
    dense_vtab *vt = owner;
    for (size_t i = 0; i < n; i++) {
        sqlite3_stmt *s = data_query(vt, D_GET);
        if (!s) {
            *err = vt_message(vt, "cannot read the table");
            return SQLITE_ERROR;
        }
        sqlite3_bind_int64(s, 1, rowids[i]);
        int step = sqlite3_step(s);
        int rc = step == SQLITE_ROW || step == SQLITE_DONE
                     ? derive_row(vt, rowids[i], s, step == SQLITE_ROW, err)
                     : SQLITE_ERROR;
        if (rc == SQLITE_ERROR && step != SQLITE_ROW && step != SQLITE_DONE)
            *err = sqlite3_mprintf("%s", sqlite3_errmsg(vt->db));
        sqlite3_reset(s);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

/* Adds every stored row to the (empty) index and hands them to FAISS in batches. */
static int load_all_rows(dense_vtab *vt, char **err) {
    sqlite3_stmt *s = data_query(vt, D_ALL);
    if (!s) {
        *err = vt_message(vt, "cannot read the table");
        return SQLITE_ERROR;
    }
    int rc = SQLITE_OK, step = SQLITE_DONE;
    sqlite3_stmt *row = s;
    while (rc == SQLITE_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
        /* derive_row reads embedding and content as columns 0 and 1: D_ALL has them at 1
         * and 2, so read the vector here directly. */
        sqlite3_int64 id = sqlite3_column_int64(row, 0);
        const float *v = stored_vector(vt, row, 1);
        if (v) {
            char *msg = NULL;
            if (silt_dense_index_add(vt->index, id, v, &msg)) rc = core_error(err, msg, SQLITE_ERROR);
        } else if (sqlite3_column_type(row, 1) == SQLITE_NULL && vt->col_content >= 0 &&
                   sqlite3_column_type(row, 2) != SQLITE_NULL) {
            if (list_push(&vt->embed_queue, id)) rc = SQLITE_NOMEM;
        }
    }
    if (rc == SQLITE_OK && step != SQLITE_DONE) {
        *err = sqlite3_mprintf("%s", sqlite3_errmsg(vt->db));
        rc = SQLITE_ERROR;
    }
    sqlite3_reset(s);
    if (rc == SQLITE_OK) {
        char *msg = NULL;
        if (silt_dense_index_flush(vt->index, &msg)) rc = core_error(err, msg, SQLITE_ERROR);
    }
    return rc;
}

static int op_rebuild(void *owner, char **err) {
    dense_vtab *vt = owner;
    char *msg = NULL;
    if (silt_dense_index_clear(vt->index, 0, &msg)) return core_error(err, msg, SQLITE_ERROR);
    return load_all_rows(vt, err);
}

static int op_before_commit(void *owner, char **err) {
    dense_vtab *vt = owner;
    int rc = embed_queued(vt);
    if (rc != SQLITE_OK) *err = vt_message(vt, "embedding failed");
    return rc;
}

/* Snapshot policy: a graph or trained index is snapshotted once the log would make opening
 * replay more than 1/8 of its rows (at least 1024 log rows, so small commits stay small). A
 * flat index has no snapshot (loading reads the stored vectors): its log is emptied once it
 * reaches half the table (at least 4096 rows), which makes other connections reload; a
 * bulk load into a small table thus writes no log rows at all. */
static int op_snapshot_due(void *owner, sqlite3_int64 n_log) {
    dense_vtab *vt = owner;
    if (n_log < 1024) return 0;
    /* Buffered adds may be what trains an IVF index, which changes the answer: hand them to
     * FAISS first (a failure shows at the next query; no snapshot then). */
    char *msg = NULL;
    if (silt_dense_index_flush(vt->index, &msg)) {
        free(msg);
        return 0;
    }
    sqlite3_int64 n = silt_dense_index_count(vt->index);
    if (silt_dense_index_wants_snapshot(vt->index)) return n_log * 8 >= n;
    return n_log >= 4096 && n_log * 2 >= n;
}

static const silt_store_ops dense_store_ops = {
    .reset = op_reset,
    .load_snapshot = op_load_snapshot,
    .save_snapshot = op_save_snapshot,
    .refresh = op_refresh,
    .rebuild = op_rebuild,
    .before_commit = op_before_commit,
    .snapshot_due = op_snapshot_due,
};

/* Brings the index up to date before it is used: other connections' commits, rolled-back
 * rows, then queued texts of this transaction (so a query sees them). */
static int dense_ready(dense_vtab *vt) {
    char *err = NULL;
    int rc = silt_store_ensure(vt->store, &err);
    if (rc != SQLITE_OK) return vt_take_error(vt, rc, err);
    if (!vt->embed_queue.n) return SQLITE_OK;
    /* Writing the vectors must not show through sqlite3_last_insert_rowid(). */
    sqlite3_int64 last = sqlite3_last_insert_rowid(vt->db);
    rc = embed_queued(vt);
    sqlite3_set_last_insert_rowid(vt->db, last);
    return rc;
}

/* ---- options ------------------------------------------------------------------------------ */

/* A malloc'd copy of s[0..n) without surrounding blanks and one level of quotes. */
static char *dequote(const char *s, size_t n) {
    while (n && (*s == ' ' || *s == '\t' || *s == '\n')) s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n')) n--;
    char *out = sqlite3_malloc64(n + 1);
    if (!out) return NULL;
    char q = n >= 2 ? s[0] : 0;
    if ((q == '\'' || q == '"' || q == '`') && s[n - 1] == q) {
        size_t j = 0;
        for (size_t i = 1; i + 1 < n; i++) {
            out[j++] = s[i];
            if (s[i] == q && s[i + 1] == q) i++;
        }
        out[j] = 0;
    } else {
        memcpy(out, s, n);
        out[n] = 0;
    }
    return out;
}

static void free_options(dense_options *o) {
    sqlite3_free(o->factory);
    sqlite3_free(o->model);
    memset(o, 0, sizeof *o);
}

/* Parses the CREATE VIRTUAL TABLE arguments (argv[3..]) into o. On error returns
 * SQLITE_ERROR with *err (sqlite3_mprintf'd) naming the option and what was expected. */
static int parse_options(int argc, const char *const *argv, dense_options *o, char **err) {
    enum { O_DIM, O_METRIC, O_INDEX, O_MODEL, O_EF_CONSTRUCTION, N_OPT };
    static const char *const names[N_OPT] = {"dim", "metric", "index", "model", "ef_construction"};
    int seen[N_OPT] = {0};
    memset(o, 0, sizeof *o);
    o->metric = SILT_METRIC_L2;
    o->ef_construction = SILT_DENSE_EF_CONSTRUCTION_DEFAULT;
    for (int i = 3; i < argc; i++) {
        const char *a = argv[i], *eq = strchr(a, '=');
        char *key = dequote(a, eq ? (size_t)(eq - a) : strlen(a));
        char *val = eq ? dequote(eq + 1, strlen(eq + 1)) : NULL;
        int rc = SQLITE_OK;
        if (!key || (eq && !val)) {
            rc = SQLITE_NOMEM;
        } else if (!eq || !*key) {
            *err = sqlite3_mprintf("silt_dense: option '%s' must look like name=value", a);
            rc = SQLITE_ERROR;
        } else {
            int which = -1;
            for (int j = 0; j < N_OPT; j++)
                if (!sqlite3_stricmp(key, names[j])) which = j;
            if (which < 0) {
                *err = sqlite3_mprintf("silt_dense: unknown option '%s' (expected dim, metric, "
                                       "index or model), or ef_construction with an HNSW index",
                                       key);
                rc = SQLITE_ERROR;
            } else if (seen[which]++) {
                *err = sqlite3_mprintf("silt_dense: option '%s' is given twice", names[which]);
                rc = SQLITE_ERROR;
            } else if (which == O_DIM) {
                char *end = NULL;
                long long d = strtoll(val, &end, 10);
                if (!*val || *end || d <= 0 || d > 65536) {
                    *err = sqlite3_mprintf("silt_dense: dim must be an integer between 1 and "
                                           "65536, got '%s'", val);
                    rc = SQLITE_ERROR;
                } else {
                    o->dim = (int)d; /* only a checked value is converted */
                }
            } else if (which == O_EF_CONSTRUCTION) {
                char *end = NULL;
                long long e = strtoll(val, &end, 10);
                if (!*val || *end || e < SILT_DENSE_EF_CONSTRUCTION_MIN ||
                    e > SILT_DENSE_EF_CONSTRUCTION_MAX) {
                    *err = sqlite3_mprintf("silt_dense: ef_construction must be an integer "
                                           "between %d and %d, got '%s'",
                                           SILT_DENSE_EF_CONSTRUCTION_MIN,
                                           SILT_DENSE_EF_CONSTRUCTION_MAX, val);
                    rc = SQLITE_ERROR;
                } else {
                    o->ef_construction = (int)e;
                    o->ef_construction_set = 1;
                }
            } else if (which == O_METRIC) {
                if (silt_metric_parse(val, &o->metric)) {
                    *err = sqlite3_mprintf("silt_dense: metric must be l2, cosine or ip, got '%s'", val);
                    rc = SQLITE_ERROR;
                }
            } else if (which == O_INDEX) {
                if (!*val) {
                    *err = sqlite3_mprintf("silt_dense: index must be a FAISS index_factory "
                                           "description such as Flat or HNSW32, got ''");
                    rc = SQLITE_ERROR;
                }
                o->factory = val;
                val = NULL;
            } else {
                if (!*val) {
                    *err = sqlite3_mprintf("silt_dense: model must name a model, got ''");
                    rc = SQLITE_ERROR;
                }
                o->model = val;
                val = NULL;
            }
        }
        sqlite3_free(key);
        sqlite3_free(val);
        if (rc != SQLITE_OK) {
            free_options(o);
            return rc;
        }
    }
    if (!seen[O_DIM]) {
        *err = sqlite3_mprintf("silt_dense: option dim is required, e.g. dim=384");
        free_options(o);
        return SQLITE_ERROR;
    }
    if (!o->factory && !(o->factory = sqlite3_mprintf("Flat"))) return SQLITE_NOMEM;
    return SQLITE_OK;
}

/* ---- xCreate / xConnect ------------------------------------------------------------------- */

static void dense_free(dense_vtab *vt) {
    if (!vt) return;
    finalize_data_queries(vt);
    silt_store_close(vt->store);
    silt_dense_index_free(vt->index);
    if (vt->enc) silt_model_release(vt->enc);
    free_options(&vt->opt);
    sqlite3_free(vt->embed_queue.v);
    sqlite3_free(vt->scratch);
    sqlite3_free(vt->schema);
    sqlite3_free(vt->name);
    sqlite3_free(vt->base.zErrMsg);
    sqlite3_free(vt);
}

static int dense_init(sqlite3 *db, void *aux, int argc, const char *const *argv,
                      sqlite3_vtab **out, char **err, int create) {
    (void)aux;
    dense_vtab *vt = sqlite3_malloc(sizeof *vt);
    if (!vt) return SQLITE_NOMEM;
    memset(vt, 0, sizeof *vt);
    vt->db = db;
    int rc = parse_options(argc, argv, &vt->opt, err);
    if (rc != SQLITE_OK) {
        dense_free(vt);
        return rc;
    }
    vt->schema = sqlite3_mprintf("%s", argv[1]);
    vt->name = sqlite3_mprintf("%s", argv[2]);
    vt->scratch = sqlite3_malloc64(sizeof(float) * (size_t)vt->opt.dim);
    if (!vt->schema || !vt->name || !vt->scratch) {
        dense_free(vt);
        return SQLITE_NOMEM;
    }
    /* Validate the index description by building it (cheap: the index is empty). */
    char *msg = NULL;
    vt->index = silt_dense_index_new(vt->opt.dim, vt->opt.metric, vt->opt.factory, &msg);
    if (!vt->index) {
        *err = sqlite3_mprintf("silt_dense: %s", msg ? msg : "out of memory");
        free(msg);
        dense_free(vt);
        return SQLITE_ERROR;
    }
    if (vt->opt.ef_construction_set && !silt_dense_index_has_hnsw(vt->index)) {
        *err = sqlite3_mprintf("silt_dense: ef_construction applies only to an index with an "
                               "HNSW graph (HNSW<M>... or IVF<nlist>_HNSW<M>,...), not to '%s'",
                               vt->opt.factory);
        dense_free(vt);
        return SQLITE_ERROR;
    }
    silt_dense_index_set_ef_construction(vt->index, vt->opt.ef_construction);
    int n = 0;
    vt->col_content = vt->opt.model ? ++n : -1;
    vt->col_distance = ++n;
    vt->col_k = ++n;
    vt->col_ef_search = ++n;
    vt->col_nprobe = ++n;
    vt->col_command = ++n;
    vt->n_cols = n + 1;
    if (create && vt->opt.model) {
        /* Fail now, not at the first insert, when the model is missing or does not fit. */
        rc = need_model(vt);
        if (rc != SQLITE_OK) {
            *err = sqlite3_mprintf("%s", vt->base.zErrMsg);
            dense_free(vt);
            return rc;
        }
    }
    char *schema = sqlite3_mprintf(
        "CREATE TABLE x(embedding BLOB%s, distance HIDDEN, k HIDDEN, ef_search HIDDEN, "
        "nprobe HIDDEN, \"%w\" HIDDEN)",
        vt->opt.model ? ", content TEXT" : "", argv[2]);
    rc = schema ? sqlite3_declare_vtab(db, schema) : SQLITE_NOMEM;
    sqlite3_free(schema);
    if (rc == SQLITE_OK) sqlite3_vtab_config(db, SQLITE_VTAB_CONSTRAINT_SUPPORT, 1);
    if (rc == SQLITE_OK && create) {
        char *sql = sqlite3_mprintf("CREATE TABLE \"%w\".\"%w_data\"(id INTEGER PRIMARY KEY, "
                                    "embedding BLOB, content TEXT)", argv[1], argv[2]);
        rc = sql ? sqlite3_exec(db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (rc == SQLITE_OK) rc = silt_store_create(db, argv[1], argv[2], err);
        else *err = sqlite3_mprintf("silt_dense: %s", sqlite3_errmsg(db));
    }
    if (rc == SQLITE_OK) rc = silt_store_open(db, argv[1], argv[2], &dense_store_ops, vt, &vt->store, err);
    if (rc != SQLITE_OK) {
        dense_free(vt);
        return rc;
    }
    *out = &vt->base;
    return SQLITE_OK;
}

static int dense_create(sqlite3 *db, void *aux, int argc, const char *const *argv,
                        sqlite3_vtab **out, char **err) {
    return dense_init(db, aux, argc, argv, out, err, 1);
}

static int dense_connect(sqlite3 *db, void *aux, int argc, const char *const *argv,
                         sqlite3_vtab **out, char **err) {
    return dense_init(db, aux, argc, argv, out, err, 0);
}

/* ---- xBestIndex ----------------------------------------------------------------------------- */

static int dense_best_index(sqlite3_vtab *tab, sqlite3_index_info *info) {
    dense_vtab *vt = (dense_vtab *)tab;
    int i_vec = -1, i_text = -1, i_k = -1, i_limit = -1, i_offset = -1, i_eq = -1;
    int i_ef = -1, i_np = -1, i_range[4], n_range = 0;
    for (int i = 0; i < info->nConstraint; i++) {
        const struct sqlite3_index_constraint *c = &info->aConstraint[i];
        int *slot = NULL, needed = 1;
        if (c->op == SQLITE_INDEX_CONSTRAINT_MATCH && c->iColumn == COL_EMBEDDING) slot = &i_vec;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_MATCH && c->iColumn == vt->col_content && c->iColumn >= 0)
            slot = &i_text;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->iColumn == vt->col_k) slot = &i_k;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->iColumn == vt->col_ef_search) slot = &i_ef;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_EQ && c->iColumn == vt->col_nprobe) slot = &i_np;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_LIMIT) slot = &i_limit, needed = 0;
        else if (c->op == SQLITE_INDEX_CONSTRAINT_OFFSET) slot = &i_offset, needed = 0;
        else if (c->iColumn == -1 && c->op == SQLITE_INDEX_CONSTRAINT_EQ) slot = &i_eq, needed = 0;
        else if (c->iColumn == -1 && c->usable && n_range < 4 &&
                 (c->op == SQLITE_INDEX_CONSTRAINT_GT || c->op == SQLITE_INDEX_CONSTRAINT_GE ||
                  c->op == SQLITE_INDEX_CONSTRAINT_LT || c->op == SQLITE_INDEX_CONSTRAINT_LE)) {
            i_range[n_range++] = i;
            continue;
        } else {
            continue;
        }
        /* A MATCH, k, ef_search or nprobe whose value is not available in this plan (it
         * comes from a table joined later): reject the plan, so SQLite orders the join
         * with that table first instead of scanning this one. */
        if (!c->usable) {
            if (needed) return SQLITE_CONSTRAINT;
            continue;
        }
        if (*slot < 0) *slot = i;
    }
    int knn = i_vec >= 0 || i_text >= 0;
    char roles[16];
    int n = 0;
#define USE(i, role)                                                                           \
    do {                                                                                       \
        info->aConstraintUsage[i].argvIndex = ++n;                                             \
        info->aConstraintUsage[i].omit = 1;                                                    \
        roles[n - 1] = (role);                                                                 \
    } while (0)
    if (i_vec >= 0) USE(i_vec, 'v');
    if (i_text >= 0) USE(i_text, 't');
    if (i_k >= 0) USE(i_k, 'k');
    if (i_ef >= 0) USE(i_ef, 'e');
    if (i_np >= 0) USE(i_np, 'p');
    int order_by_distance = info->nOrderBy == 1 && info->aOrderBy[0].iColumn == vt->col_distance &&
                            !info->aOrderBy[0].desc;
    int order_by_rowid = info->nOrderBy == 1 && info->aOrderBy[0].iColumn == -1 &&
                         !info->aOrderBy[0].desc;
    if (knn) {
        if (i_eq >= 0) {
            /* rowid IN (...) arrives as a whole list (the search filter), not value by
             * value; an IN that cannot be handed over whole is left to SQLite. */
            if (!sqlite3_vtab_in(info, i_eq, -1)) USE(i_eq, '=');
            else if (sqlite3_vtab_in(info, i_eq, 1)) USE(i_eq, 'I');
        }
        for (int j = 0; j < n_range; j++) {
            int op = info->aConstraint[i_range[j]].op;
            USE(i_range[j], op == SQLITE_INDEX_CONSTRAINT_GT   ? '>'
                            : op == SQLITE_INDEX_CONSTRAINT_GE ? 'g'
                            : op == SQLITE_INDEX_CONSTRAINT_LT ? '<'
                                                               : 'l');
        }
        /* LIMIT may bound the search only when the rows come out in distance order and no
         * other condition filters them afterwards. SQLite 3.40 pushes LIMIT only if OFFSET
         * is consumed too, so both are taken. */
        int all_used = 1;
        for (int i = 0; i < info->nConstraint; i++) {
            int op = info->aConstraint[i].op;
            if (op != SQLITE_INDEX_CONSTRAINT_LIMIT && op != SQLITE_INDEX_CONSTRAINT_OFFSET &&
                info->aConstraintUsage[i].argvIndex == 0)
                all_used = 0;
        }
        if (i_limit >= 0 && all_used && (order_by_distance || info->nOrderBy == 0)) {
            USE(i_limit, 'L');
            if (i_offset >= 0) {
                /* Consumed but not omitted: SQLite still skips the OFFSET rows, in
                 * versions that honour the omit flag for OFFSET and in those that don't. */
                USE(i_offset, 'O');
                info->aConstraintUsage[i_offset].omit = 0;
            }
        }
        info->idxNum = PLAN_KNN;
        info->orderByConsumed = order_by_distance;
        info->estimatedCost = 10.0;
        info->estimatedRows = 10;
    } else {
        if (i_eq >= 0) {
            USE(i_eq, '=');
            info->idxFlags |= SQLITE_INDEX_SCAN_UNIQUE;
            info->estimatedCost = 1.0;
            info->estimatedRows = 1;
        } else {
            info->estimatedCost = n_range ? 1e5 : 1e7;
            info->estimatedRows = n_range ? 1000 : 100000;
        }
        for (int j = 0; j < n_range; j++) {
            int op = info->aConstraint[i_range[j]].op;
            USE(i_range[j], op == SQLITE_INDEX_CONSTRAINT_GT   ? '>'
                            : op == SQLITE_INDEX_CONSTRAINT_GE ? 'g'
                            : op == SQLITE_INDEX_CONSTRAINT_LT ? '<'
                                                               : 'l');
        }
        info->idxNum = PLAN_SCAN;
        info->orderByConsumed = order_by_rowid;
    }
#undef USE
    info->idxStr = sqlite3_mprintf("%.*s", n, roles);
    if (!info->idxStr) return SQLITE_NOMEM;
    info->needToFreeIdxStr = 1;
    return SQLITE_OK;
}

/* ---- cursors: xOpen, xFilter, xNext, xEof, xColumn, xRowid, xClose ------------------------- */

static int dense_open(sqlite3_vtab *tab, sqlite3_vtab_cursor **out) {
    (void)tab;
    dense_cursor *c = sqlite3_malloc(sizeof *c);
    if (!c) return SQLITE_NOMEM;
    memset(c, 0, sizeof *c);
    c->eof = 1;
    *out = &c->base;
    return SQLITE_OK;
}

static void cursor_reset(dense_cursor *c) {
    silt_dense_hits_free(&c->hits);
    c->pos = c->end = 0;
    free(c->query);
    c->query = NULL;
    sqlite3_free(c->rowids);
    c->rowids = NULL;
    memset(&c->q, 0, sizeof c->q);
    c->streaming = 0;
    silt_rowid_map_free(&c->seen);
    sqlite3_value_free(c->k), sqlite3_value_free(c->ef_search), sqlite3_value_free(c->nprobe);
    c->k = c->ef_search = c->nprobe = NULL;
    if (c->scan) sqlite3_reset(c->scan);
    c->eof = 1;
}

/* Runs the search for c->q.k neighbours into c->hits. When streaming, rows returned by an
 * earlier batch are dropped (an approximate index may order a larger batch differently). */
static int knn_fetch(dense_cursor *c, dense_vtab *vt) {
    silt_dense_hits_free(&c->hits);
    c->pos = c->end = 0;
    char *err = NULL;
    if (silt_dense_index_search(vt->index, c->query, &c->q, &c->hits, &err)) {
        int rc = vt_error(vt, "%s", err ? err : "out of memory");
        free(err);
        return rc;
    }
    if (c->streaming) {
        int64_t j = 0;
        for (int64_t i = 0; i < c->hits.n; i++) {
            if (silt_rowid_map_get(&c->seen, c->hits.rowids[i], NULL)) continue;
            if (silt_rowid_map_put(&c->seen, c->hits.rowids[i], 1)) return SQLITE_NOMEM;
            c->hits.rowids[j] = c->hits.rowids[i];
            c->hits.distances[j++] = c->hits.distances[i];
        }
        /* Keep hits.n: it tells whether the index had more rows (a full batch). */
        c->end = j;
    } else {
        c->end = c->hits.n;
    }
    c->eof = c->end == 0;
    return SQLITE_OK;
}

/* Narrows [*lo, *hi] by one rowid bound `op` (one of > g < l) against value v, with SQLite's
 * comparison rules (numbers sort before text and BLOBs; NULL matches nothing). Returns 0
 * when no rowid can satisfy it. */
static int apply_bound(char op, sqlite3_value *v, sqlite3_int64 *lo, sqlite3_int64 *hi) {
    int t = sqlite3_value_numeric_type(v);
    if (t == SQLITE_NULL) return 0;
    if (t == SQLITE_TEXT || t == SQLITE_BLOB) return op == '<' || op == 'l';
    double d = sqlite3_value_double(v);
    sqlite3_int64 x;
    if (t == SQLITE_INTEGER) {
        x = sqlite3_value_int64(v);
        if (op == '>') {
            if (x == INT64_MAX) return 0;
            x++;
        } else if (op == '<') {
            if (x == INT64_MIN) return 0;
            x--;
        }
    } else {
        if (op == '>' || op == 'g') {
            double b = op == '>' ? floor(d) + 1 : ceil(d);
            if (b >= 9223372036854775808.0) return 0;
            x = b < -9223372036854775808.0 ? INT64_MIN : (sqlite3_int64)b;
        } else {
            double b = op == '<' ? ceil(d) - 1 : floor(d);
            if (b < -9223372036854775808.0) return 0;
            x = b >= 9223372036854775808.0 ? INT64_MAX : (sqlite3_int64)b;
        }
    }
    if (op == '>' || op == 'g') {
        if (x > *lo) *lo = x;
    } else if (x < *hi) {
        *hi = x;
    }
    return *lo <= *hi;
}

static int filter_scan(dense_cursor *c, dense_vtab *vt, const char *roles, sqlite3_value **argv) {
    sqlite3_int64 lo = INT64_MIN, hi = INT64_MAX;
    int possible = 1;
    for (int i = 0; roles[i]; i++) {
        char r = roles[i];
        if (r == '=') {
            sqlite3_int64 x;
            if (exact_int(argv[i], &x)) possible = possible && x >= lo && x <= hi, lo = hi = x;
            else possible = 0;
        } else if (r == '>' || r == '<' || r == 'g' || r == 'l') {
            possible = possible && apply_bound(r, argv[i], &lo, &hi);
        } else {
            return vt_error(vt, "%s applies only to a nearest-neighbour query (embedding MATCH "
                            "...)", r == 'k' ? "k" : r == 'e' ? "ef_search" : "nprobe");
        }
    }
    int rc = dense_ready(vt);
    if (rc != SQLITE_OK) return rc;
    c->plan = PLAN_SCAN;
    if (!possible) return SQLITE_OK;
    if (!c->scan) {
        char *sql = sqlite3_mprintf("SELECT id, embedding, content FROM \"%w\".\"%w_data\" "
                                    "WHERE id BETWEEN ?1 AND ?2 ORDER BY id", vt->schema, vt->name);
        rc = sql ? sqlite3_prepare_v3(vt->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->scan, NULL)
                 : SQLITE_NOMEM;
        sqlite3_free(sql);
        if (rc != SQLITE_OK) return vt_error(vt, "%s", sqlite3_errmsg(vt->db));
    }
    sqlite3_bind_int64(c->scan, 1, lo);
    sqlite3_bind_int64(c->scan, 2, hi);
    rc = sqlite3_step(c->scan);
    if (rc == SQLITE_ROW) c->eof = 0;
    else if (rc != SQLITE_DONE) return vt_error(vt, "%s", sqlite3_errmsg(vt->db));
    return SQLITE_OK;
}

/* The query vector for a text MATCH: the model's embedding of the text. */
static int embed_query(dense_vtab *vt, sqlite3_value *v, float **out) {
    if (sqlite3_value_type(v) != SQLITE_TEXT)
        return vt_error(vt, "content MATCH expects a query text, got %s",
                        sqlite3_value_type(v) == SQLITE_NULL ? "NULL" : "a non-text value");
    int rc = need_model(vt);
    if (rc != SQLITE_OK) return rc;
    const char *t = (const char *)sqlite3_value_text(v);
    size_t len = (size_t)sqlite3_value_bytes(v);
    *out = malloc(sizeof(float) * (size_t)vt->opt.dim);
    if (!*out) return SQLITE_NOMEM;
    char *err = NULL;
    if (silt_embed_texts(vt->enc, &t, &len, 1, 1, *out, &err)) {
        vt_error(vt, "model '%s': %s", vt->opt.model, err ? err : "embedding failed");
        free(err);
        free(*out);
        *out = NULL;
        return SQLITE_ERROR;
    }
    return SQLITE_OK;
}

static int filter_knn(dense_cursor *c, dense_vtab *vt, const char *roles, sqlite3_value **argv) {
    silt_vecarg qv = {0};
    float *qtext = NULL;
    int have_vec = 0, have_text = 0, have_k = 0, have_limit = 0, possible = 1, rc = SQLITE_OK;
    sqlite3_int64 k = 0, limit = -1, offset = 0, lo = INT64_MIN, hi = INT64_MAX, x;
    silt_dense_query q = {0};
    rowid_list in = {0};
    for (int i = 0; rc == SQLITE_OK && roles[i]; i++) {
        sqlite3_value *v = argv[i];
        switch (roles[i]) {
        case 'v':
            rc = read_vector(vt, v, "embedding MATCH: query vector", &qv);
            have_vec = rc == SQLITE_OK;
            break;
        case 't':
            have_text = 1;
            break;
        case 'k':
            rc = int_arg(vt, v, "k", 0, INT64_MAX, &k);
            have_k = 1;
            c->k = sqlite3_value_dup(v);
            break;
        case 'L':
            /* LIMIT -1 (or any negative) means no limit, as in SQLite. */
            limit = sqlite3_value_int64(v);
            have_limit = limit >= 0;
            break;
        case 'O':
            offset = sqlite3_value_int64(v);
            if (offset < 0) offset = 0;
            break;
        case 'e':
            rc = int_arg(vt, v, "ef_search", 1, MAX_SEARCH_EFFORT, &x);
            q.ef_search = (int)x;
            c->ef_search = sqlite3_value_dup(v);
            break;
        case 'p':
            rc = int_arg(vt, v, "nprobe", 1, MAX_SEARCH_EFFORT, &x);
            q.nprobe = (int)x;
            c->nprobe = sqlite3_value_dup(v);
            break;
        case '=':
            if (exact_int(v, &x)) {
                rc = list_push(&in, x);
            } else {
                possible = 0;
            }
            break;
        case 'I': {
            sqlite3_value *e = NULL;
            int r2 = sqlite3_vtab_in_first(v, &e);
            while (r2 == SQLITE_OK && e) {
                if (exact_int(e, &x) && list_push(&in, x)) r2 = SQLITE_NOMEM;
                if (r2 == SQLITE_OK) r2 = sqlite3_vtab_in_next(v, &e);
            }
            if (r2 != SQLITE_OK && r2 != SQLITE_DONE) rc = r2;
            break;
        }
        default: /* > g < l */
            possible = possible && apply_bound(roles[i], v, &lo, &hi);
            break;
        }
    }
    int has_in = strchr(roles, '=') || strchr(roles, 'I');
    if (rc == SQLITE_OK && have_vec && have_text)
        rc = vt_error(vt, "use either embedding MATCH or content MATCH, not both");
    if (rc == SQLITE_OK) rc = dense_ready(vt);
    if (rc == SQLITE_OK && have_text) {
        for (int i = 0; roles[i]; i++)
            if (roles[i] == 't') rc = embed_query(vt, argv[i], &qtext);
    }
    c->plan = PLAN_KNN;
    if (rc == SQLITE_OK && possible) {
        /* Rows wanted: k, or LIMIT + OFFSET when SQLite pushed them down (it skips the
         * OFFSET rows itself, see xBestIndex); with neither, stream. */
        sqlite3_int64 want = have_k ? k : INT64_MAX;
        if (have_limit) {
            sqlite3_int64 lim = limit > INT64_MAX - offset ? INT64_MAX : limit + offset;
            if (lim < want) want = lim;
        }
        c->streaming = !have_k && !have_limit;
        q.k = c->streaming ? STREAM_FIRST_BATCH : want;
        static const int64_t no_rowids[1] = {0};
        q.rowids = has_in ? (in.v ? in.v : no_rowids) : NULL;
        q.n_rowids = in.n;
        q.has_range = lo != INT64_MIN || hi != INT64_MAX;
        q.rowid_min = lo;
        q.rowid_max = hi;
        c->q = q;
        c->rowids = in.v;
        in.v = NULL;
        if (qtext) {
            c->query = qtext;
            qtext = NULL;
        } else if (!(c->query = malloc(sizeof(float) * (size_t)vt->opt.dim))) {
            rc = SQLITE_NOMEM;
        } else {
            memcpy(c->query, qv.v, sizeof(float) * (size_t)vt->opt.dim);
        }
        if (rc == SQLITE_OK) rc = knn_fetch(c, vt);
    }
    silt_vecarg_free(&qv);
    free(qtext);
    sqlite3_free(in.v);
    return rc;
}

static int dense_filter(sqlite3_vtab_cursor *cur, int idx_num, const char *idx_str, int argc,
                        sqlite3_value **argv) {
    (void)argc;
    dense_cursor *c = (dense_cursor *)cur;
    dense_vtab *vt = (dense_vtab *)cur->pVtab;
    cursor_reset(c);
    const char *roles = idx_str ? idx_str : "";
    return idx_num == PLAN_KNN ? filter_knn(c, vt, roles, argv) : filter_scan(c, vt, roles, argv);
}

static int dense_next(sqlite3_vtab_cursor *cur) {
    dense_cursor *c = (dense_cursor *)cur;
    dense_vtab *vt = (dense_vtab *)cur->pVtab;
    if (c->plan == PLAN_KNN) {
        if (++c->pos < c->end) return SQLITE_OK;
        /* Streaming: SQLite wants more rows than this batch held. A batch smaller than
         * asked means the index has no more rows. */
        while (c->streaming && c->hits.n == c->q.k && c->q.k < INT64_MAX) {
            c->q.k = c->q.k > INT64_MAX / STREAM_GROWTH ? INT64_MAX : c->q.k * STREAM_GROWTH;
            int rc = knn_fetch(c, vt);
            if (rc != SQLITE_OK || c->end > 0) return rc;
        }
        c->eof = 1;
        return SQLITE_OK;
    }
    int rc = sqlite3_step(c->scan);
    if (rc == SQLITE_ROW) return SQLITE_OK;
    c->eof = 1;
    if (rc == SQLITE_DONE) return SQLITE_OK;
    return vt_error(vt, "%s", sqlite3_errmsg(vt->db));
}

static int dense_eof(sqlite3_vtab_cursor *cur) { return ((dense_cursor *)cur)->eof; }

static sqlite3_int64 cursor_rowid(dense_cursor *c) {
    return c->plan == PLAN_KNN ? c->hits.rowids[c->pos] : sqlite3_column_int64(c->scan, 0);
}

/* Result for column 0 (embedding) or content of the current row, read from the truth. */
static int stored_column(dense_cursor *c, dense_vtab *vt, sqlite3_context *ctx, int which) {
    if (c->plan == PLAN_SCAN) {
        sqlite3_result_value(ctx, sqlite3_column_value(c->scan, 1 + which));
        return SQLITE_OK;
    }
    sqlite3_stmt *s = data_query(vt, D_GET);
    if (!s) return SQLITE_ERROR;
    sqlite3_bind_int64(s, 1, cursor_rowid(c));
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) sqlite3_result_value(ctx, sqlite3_column_value(s, which));
    rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : vt_error(vt, "%s", sqlite3_errmsg(vt->db));
    sqlite3_reset(s);
    return rc;
}

static int dense_column(sqlite3_vtab_cursor *cur, sqlite3_context *ctx, int col) {
    dense_cursor *c = (dense_cursor *)cur;
    dense_vtab *vt = (dense_vtab *)cur->pVtab;
    /* An UPDATE that leaves the vector (or text) alone need not read it. */
    if (sqlite3_vtab_nochange(ctx) && (col == COL_EMBEDDING || col == vt->col_content))
        return SQLITE_OK;
    if (col == COL_EMBEDDING) return stored_column(c, vt, ctx, 0);
    if (col == vt->col_content) return stored_column(c, vt, ctx, 1);
    if (c->plan != PLAN_KNN) return SQLITE_OK; /* hidden columns are NULL in scans */
    if (col == vt->col_distance) sqlite3_result_double(ctx, c->hits.distances[c->pos]);
    else if (col == vt->col_k && c->k) sqlite3_result_value(ctx, c->k);
    else if (col == vt->col_ef_search && c->ef_search) sqlite3_result_value(ctx, c->ef_search);
    else if (col == vt->col_nprobe && c->nprobe) sqlite3_result_value(ctx, c->nprobe);
    return SQLITE_OK;
}

static int dense_rowid(sqlite3_vtab_cursor *cur, sqlite3_int64 *rowid) {
    *rowid = cursor_rowid((dense_cursor *)cur);
    return SQLITE_OK;
}

static int dense_close(sqlite3_vtab_cursor *cur) {
    dense_cursor *c = (dense_cursor *)cur;
    cursor_reset(c);
    sqlite3_finalize(c->scan);
    sqlite3_free(c);
    return SQLITE_OK;
}

/* ---- commands ---------------------------------------------------------------------------- */

/* integrity-check: every stored row is in the index with the same vector, nothing else is,
 * and the stored snapshot is intact. */
static int integrity_check(dense_vtab *vt) {
    int rc = dense_ready(vt);
    if (rc != SQLITE_OK) return rc;
    char *err = NULL;
    if (silt_dense_index_flush(vt->index, &err)) {
        rc = vt_error(vt, "%s", err);
        free(err);
        return rc;
    }
    sqlite3_stmt *s = data_query(vt, D_ALL);
    if (!s) return SQLITE_ERROR;
    int exact = silt_dense_index_exact_storage(vt->index);
    size_t dim = (size_t)vt->opt.dim;
    float *got = sqlite3_malloc64(dim * sizeof(float)), *want = sqlite3_malloc64(dim * sizeof(float));
    if (!got || !want) rc = SQLITE_NOMEM;
    sqlite3_int64 n_rows = 0;
    char *problem = NULL;
    while (rc == SQLITE_OK && !problem && sqlite3_step(s) == SQLITE_ROW) {
        sqlite3_int64 id = sqlite3_column_int64(s, 0);
        const float *v = stored_vector(vt, s, 1);
        if (!v) {
            problem = sqlite3_mprintf("row %lld: stored embedding is not a vector of dim %d",
                                      (long long)id, vt->opt.dim);
            break;
        }
        n_rows++;
        if (!silt_dense_index_contains(vt->index, id)) {
            problem = sqlite3_mprintf("row %lld is missing from the index", (long long)id);
            break;
        }
        if (!exact) continue;
        memcpy(want, v, dim * sizeof(float));
        if (vt->opt.metric == SILT_METRIC_COSINE) {
            double nn = 0;
            for (size_t i = 0; i < dim; i++) nn += (double)want[i] * want[i];
            for (size_t i = 0; i < dim && nn > 0; i++) want[i] = (float)(want[i] / sqrt(nn));
        }
        if (silt_dense_index_get_vector(vt->index, id, got, &err) != 1) {
            problem = sqlite3_mprintf("row %lld: %s", (long long)id, err ? err : "vector unreadable");
            free(err);
            break;
        }
        for (size_t i = 0; i < dim; i++)
            if (fabsf(got[i] - want[i]) > 1e-5f * (1.0f + fabsf(want[i]))) {
                problem = sqlite3_mprintf("row %lld: the index holds another vector than the "
                                          "table", (long long)id);
                break;
            }
    }
    sqlite3_reset(s);
    sqlite3_free(got), sqlite3_free(want);
    if (rc == SQLITE_OK && !problem && silt_dense_index_count(vt->index) != n_rows)
        problem = sqlite3_mprintf("the index holds %lld rows, the table %lld",
                                  (long long)silt_dense_index_count(vt->index), (long long)n_rows);
    if (rc == SQLITE_OK && !problem) {
        rc = silt_store_check(vt->store, &err);
        if (rc != SQLITE_OK) problem = err;
    }
    if (problem) {
        vt_error(vt, "integrity-check failed: %s", problem);
        sqlite3_free(problem);
        return SQLITE_CORRUPT_VTAB;
    }
    return rc;
}

/* optimize (keep_training = 1): rebuild the index without dead slots, keeping an IVF/PQ
 * quantizer; rebuild (0): retrain from scratch. Both then write a snapshot. */
static int rebuild_command(dense_vtab *vt, int keep_training) {
    int rc = dense_ready(vt);
    if (rc != SQLITE_OK) return rc;
    char *err = NULL;
    if (silt_dense_index_clear(vt->index, keep_training, &err)) {
        rc = vt_error(vt, "%s", err);
        free(err);
        return rc;
    }
    rc = load_all_rows(vt, &err);
    if (rc == SQLITE_OK) rc = embed_queued(vt);
    else return vt_take_error(vt, rc, err);
    if (rc == SQLITE_OK) rc = silt_store_checkpoint(vt->store, &err);
    if (rc != SQLITE_OK && err) vt_take_error(vt, rc, err);
    return rc;
}

static int run_command(dense_vtab *vt, sqlite3_value *cmd) {
    const char *t = (const char *)sqlite3_value_text(cmd);
    if (t && !sqlite3_stricmp(t, "optimize")) return rebuild_command(vt, 1);
    if (t && !sqlite3_stricmp(t, "rebuild")) return rebuild_command(vt, 0);
    if (t && !sqlite3_stricmp(t, "integrity-check")) return integrity_check(vt);
    char *d = describe_value(cmd);
    vt_error(vt, "unknown command %s: expected 'optimize', 'rebuild' or 'integrity-check'",
             d ? d : "?");
    sqlite3_free(d);
    return SQLITE_ERROR;
}

/* ---- xUpdate ---------------------------------------------------------------------------- */

static int step_write(dense_vtab *vt, sqlite3_stmt *s) {
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc == SQLITE_DONE) return SQLITE_OK;
    if ((rc & 0xff) == SQLITE_CONSTRAINT) return rc;
    return vt_error(vt, "%s", sqlite3_errmsg(vt->db));
}

/* Whether rowid exists in the truth: 1, 0, or -1 on error. */
static int row_exists(dense_vtab *vt, sqlite3_int64 rowid) {
    sqlite3_stmt *s = data_query(vt, D_EXISTS);
    if (!s) return -1;
    sqlite3_bind_int64(s, 1, rowid);
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

static int touch(dense_vtab *vt, sqlite3_int64 rowid) {
    char *err = NULL;
    int rc = silt_store_touch(vt->store, rowid, &err);
    return rc == SQLITE_OK ? rc : vt_take_error(vt, rc, err);
}

static int delete_row(dense_vtab *vt, sqlite3_int64 rowid) {
    sqlite3_stmt *s = data_query(vt, D_DELETE);
    if (!s) return SQLITE_ERROR;
    sqlite3_bind_int64(s, 1, rowid);
    int rc = step_write(vt, s);
    if (rc == SQLITE_OK) rc = touch(vt, rowid);
    if (rc == SQLITE_OK) silt_dense_index_remove(vt->index, rowid);
    return rc;
}

static int constraint_error(dense_vtab *vt, sqlite3_int64 rowid) {
    vt_error(vt, "UNIQUE constraint failed: %s.rowid (rowid %lld exists)", vt->name, (long long)rowid);
    return SQLITE_CONSTRAINT;
}

/* The new row's vector: from the embedding value, or NULL (*vec->v == NULL) when the row's
 * content is to be embedded. */
static int new_vector(dense_vtab *vt, sqlite3_value *emb, sqlite3_value *content, silt_vecarg *vec) {
    memset(vec, 0, sizeof *vec);
    if (sqlite3_value_type(emb) != SQLITE_NULL) return read_vector(vt, emb, "embedding", vec);
    if (content && sqlite3_value_type(content) != SQLITE_NULL) {
        if (sqlite3_value_type(content) != SQLITE_TEXT)
            return vt_error(vt, "content must be text to embed, got a %s",
                            sqlite3_value_type(content) == SQLITE_BLOB ? "BLOB" : "number");
        return SQLITE_OK;
    }
    if (vt->col_content >= 0)
        return vt_error(vt, "embedding and content are both NULL: give a vector or a text to embed");
    return vt_error(vt, "embedding is NULL: expected a vector of dim %d (float32 BLOB or JSON "
                    "array text)", vt->opt.dim);
}

static int insert_row(dense_vtab *vt, sqlite3_value *rowid_v, sqlite3_value **cols,
                      sqlite3_int64 *out_rowid) {
    sqlite3_value *content = vt->col_content >= 0 ? cols[vt->col_content] : NULL;
    sqlite3_int64 rowid = 0;
    int auto_rowid = sqlite3_value_type(rowid_v) == SQLITE_NULL;
    if (!auto_rowid && !exact_int(rowid_v, &rowid)) {
        char *d = describe_value(rowid_v);
        vt_error(vt, "rowid must be an integer, got %s", d ? d : "?");
        sqlite3_free(d);
        return SQLITE_MISMATCH;
    }
    silt_vecarg vec;
    int rc = new_vector(vt, cols[COL_EMBEDDING], content, &vec);
    if (rc != SQLITE_OK) return rc;
    int replace = sqlite3_vtab_on_conflict(vt->db) == SQLITE_REPLACE;
    sqlite3_stmt *s = data_query(vt, replace ? D_REPLACE : D_INSERT);
    if (!s) {
        silt_vecarg_free(&vec);
        return SQLITE_ERROR;
    }
    if (!auto_rowid) sqlite3_bind_int64(s, 1, rowid);
    if (vec.v) sqlite3_bind_blob64(s, 2, vec.v, sizeof(float) * (size_t)vec.dim, SQLITE_STATIC);
    if (content) sqlite3_bind_value(s, 3, content);
    rc = step_write(vt, s);
    if ((rc & 0xff) == SQLITE_CONSTRAINT) rc = constraint_error(vt, rowid);
    if (rc == SQLITE_OK) {
        if (auto_rowid) rowid = sqlite3_last_insert_rowid(vt->db);
        *out_rowid = rowid;
        rc = touch(vt, rowid);
    }
    if (rc == SQLITE_OK) {
        if (vec.v) {
            char *err = NULL;
            if (silt_dense_index_add(vt->index, rowid, vec.v, &err)) {
                rc = vt_error(vt, "%s", err ? err : "out of memory");
                free(err);
            }
        } else {
            silt_dense_index_remove(vt->index, rowid);
            rc = list_push(&vt->embed_queue, rowid);
        }
    }
    silt_vecarg_free(&vec);
    return rc;
}

static int update_row(dense_vtab *vt, sqlite3_value *old_v, sqlite3_value *new_v,
                      sqlite3_value **cols) {
    sqlite3_int64 old_id = sqlite3_value_int64(old_v), new_id;
    if (!exact_int(new_v, &new_id)) {
        char *d = describe_value(new_v);
        vt_error(vt, "rowid must be an integer, got %s", d ? d : "?");
        sqlite3_free(d);
        return SQLITE_MISMATCH;
    }
    sqlite3_value *emb = cols[COL_EMBEDDING];
    sqlite3_value *content = vt->col_content >= 0 ? cols[vt->col_content] : NULL;
    int set_emb = !sqlite3_value_nochange(emb);
    int set_content = content && !sqlite3_value_nochange(content);
    silt_vecarg vec = {0};
    int rc = SQLITE_OK;
    if (set_emb) {
        rc = new_vector(vt, emb, set_content ? content : NULL, &vec);
    } else if (set_content) {
        /* New text and no vector given: the old vector no longer describes the row, the
         * new text is embedded instead. */
        set_emb = 1;
        if (sqlite3_value_type(content) != SQLITE_TEXT)
            rc = vt_error(vt, "content must be text to embed, got %s",
                          sqlite3_value_type(content) == SQLITE_NULL ? "NULL" : "a non-text value");
    }
    if (rc != SQLITE_OK) return rc;
    if (new_id != old_id) {
        int ex = row_exists(vt, new_id);
        if (ex < 0) rc = vt_error(vt, "%s", sqlite3_errmsg(vt->db));
        else if (ex && sqlite3_vtab_on_conflict(vt->db) == SQLITE_REPLACE) rc = delete_row(vt, new_id);
        else if (ex) rc = constraint_error(vt, new_id);
    }
    sqlite3_stmt *s = rc == SQLITE_OK ? data_query(vt, D_UPDATE + set_emb + 2 * set_content) : NULL;
    if (rc == SQLITE_OK && !s) rc = SQLITE_ERROR;
    if (rc == SQLITE_OK) {
        sqlite3_bind_int64(s, 1, old_id);
        sqlite3_bind_int64(s, 2, new_id);
        if (set_emb && vec.v)
            sqlite3_bind_blob64(s, 3, vec.v, sizeof(float) * (size_t)vec.dim, SQLITE_STATIC);
        if (set_content) sqlite3_bind_value(s, 4, content);
        rc = step_write(vt, s);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) rc = constraint_error(vt, new_id);
    }
    if (rc == SQLITE_OK) rc = touch(vt, old_id);
    if (rc == SQLITE_OK) rc = touch(vt, new_id);
    if (rc == SQLITE_OK) {
        silt_dense_index_remove(vt->index, old_id);
        if (vec.v) {
            char *err = NULL;
            if (silt_dense_index_add(vt->index, new_id, vec.v, &err)) {
                rc = vt_error(vt, "%s", err ? err : "out of memory");
                free(err);
            }
        } else if (set_emb) {
            rc = list_push(&vt->embed_queue, new_id);
        } else {
            char *err = NULL; /* vector unchanged (rowid changed): read it back */
            rc = op_refresh(vt, &new_id, 1, &err);
            if (rc != SQLITE_OK) vt_take_error(vt, rc, err);
        }
    }
    silt_vecarg_free(&vec);
    return rc;
}

static int dense_update(sqlite3_vtab *tab, int argc, sqlite3_value **argv, sqlite3_int64 *rowid) {
    dense_vtab *vt = (dense_vtab *)tab;
    /* Only catch up here: queued texts wait, so that a transaction's inserts are embedded
     * together (at commit, or before the next query). */
    char *err = NULL;
    int rc = silt_store_ensure(vt->store, &err);
    if (rc != SQLITE_OK) return vt_take_error(vt, rc, err);
    if (argc == 1) return delete_row(vt, sqlite3_value_int64(argv[0]));
    sqlite3_value **cols = argv + 2;
    if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
        if (sqlite3_value_type(cols[vt->col_command]) != SQLITE_NULL) {
            /* SQLite sets last_insert_rowid() to *rowid afterwards: keep it as it was. */
            *rowid = sqlite3_last_insert_rowid(vt->db);
            rc = run_command(vt, cols[vt->col_command]);
            sqlite3_set_last_insert_rowid(vt->db, *rowid);
            return rc;
        }
        return insert_row(vt, argv[1], cols, rowid);
    }
    return update_row(vt, argv[0], argv[1], cols);
}

/* ---- transactions ------------------------------------------------------------------------- */

static int dense_begin(sqlite3_vtab *tab) {
    dense_vtab *vt = (dense_vtab *)tab;
    char *err = NULL;
    int rc = silt_store_begin(vt->store, &err);
    return rc == SQLITE_OK ? rc : vt_take_error(vt, rc, err);
}

static int dense_sync(sqlite3_vtab *tab) {
    dense_vtab *vt = (dense_vtab *)tab;
    char *err = NULL;
    int rc = silt_store_sync(vt->store, &err);
    return rc == SQLITE_OK ? rc : vt_take_error(vt, rc, err);
}

static int dense_commit(sqlite3_vtab *tab) {
    silt_store_commit(((dense_vtab *)tab)->store);
    return SQLITE_OK;
}

static int dense_rollback(sqlite3_vtab *tab) {
    dense_vtab *vt = (dense_vtab *)tab;
    silt_store_rollback(vt->store);
    vt->embed_queue.n = 0; /* queued rows are rolled back; survivors are re-derived */
    return SQLITE_OK;
}

static int dense_savepoint(sqlite3_vtab *tab, int level) {
    silt_store_savepoint(((dense_vtab *)tab)->store, level);
    return SQLITE_OK;
}

static int dense_release(sqlite3_vtab *tab, int level) {
    silt_store_release(((dense_vtab *)tab)->store, level);
    return SQLITE_OK;
}

static int dense_rollback_to(sqlite3_vtab *tab, int level) {
    silt_store_rollback_to(((dense_vtab *)tab)->store, level);
    return SQLITE_OK;
}

/* ---- xDisconnect, xDestroy, xRename, xShadowName ---------------------------------------- */

static int dense_disconnect(sqlite3_vtab *tab) {
    dense_free((dense_vtab *)tab);
    return SQLITE_OK;
}

static int dense_destroy(sqlite3_vtab *tab) {
    dense_vtab *vt = (dense_vtab *)tab;
    finalize_data_queries(vt);
    char *sql = sqlite3_mprintf("DROP TABLE IF EXISTS \"%w\".\"%w_data\"", vt->schema, vt->name);
    int rc = sql ? sqlite3_exec(vt->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    char *err = NULL;
    if (rc == SQLITE_OK) rc = silt_store_destroy(vt->db, vt->schema, vt->name, &err);
    else vt_error(vt, "%s", sqlite3_errmsg(vt->db));
    if (rc != SQLITE_OK) return err ? vt_take_error(vt, rc, err) : rc;
    dense_free(vt);
    return SQLITE_OK;
}

static int dense_rename(sqlite3_vtab *tab, const char *new_name) {
    dense_vtab *vt = (dense_vtab *)tab;
    finalize_data_queries(vt);
    char *nn = sqlite3_mprintf("%s", new_name);
    char *sql = sqlite3_mprintf("ALTER TABLE \"%w\".\"%w_data\" RENAME TO \"%w_data\"", vt->schema,
                                vt->name, new_name);
    int rc = nn && sql ? sqlite3_exec(vt->db, sql, NULL, NULL, NULL) : SQLITE_NOMEM;
    sqlite3_free(sql);
    if (rc != SQLITE_OK) {
        sqlite3_free(nn);
        return rc == SQLITE_NOMEM ? rc : vt_error(vt, "%s", sqlite3_errmsg(vt->db));
    }
    char *err = NULL;
    rc = silt_store_rename(vt->store, new_name, &err);
    if (rc != SQLITE_OK) {
        sqlite3_free(nn);
        return vt_take_error(vt, rc, err);
    }
    sqlite3_free(vt->name);
    vt->name = nn;
    return SQLITE_OK;
}

static int dense_shadow_name(const char *suffix) {
    return !sqlite3_stricmp(suffix, "data") || silt_store_is_shadow_role(suffix);
}

static sqlite3_module dense_module = {
    .iVersion = 3,
    .xCreate = dense_create,
    .xConnect = dense_connect,
    .xBestIndex = dense_best_index,
    .xDisconnect = dense_disconnect,
    .xDestroy = dense_destroy,
    .xOpen = dense_open,
    .xClose = dense_close,
    .xFilter = dense_filter,
    .xNext = dense_next,
    .xEof = dense_eof,
    .xColumn = dense_column,
    .xRowid = dense_rowid,
    .xUpdate = dense_update,
    .xBegin = dense_begin,
    .xSync = dense_sync,
    .xCommit = dense_commit,
    .xRollback = dense_rollback,
    .xRename = dense_rename,
    .xSavepoint = dense_savepoint,
    .xRelease = dense_release,
    .xRollbackTo = dense_rollback_to,
    .xShadowName = dense_shadow_name,
};

int silt_register_dense(sqlite3 *db, char **err) {
    int rc = sqlite3_create_module_v2(db, "silt_dense", &dense_module, NULL, NULL);
    if (rc != SQLITE_OK) *err = sqlite3_mprintf("silt: cannot register silt_dense: %s", sqlite3_errmsg(db));
    return rc;
}
